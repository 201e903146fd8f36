/*
 * Sending a refund to the provider and recording what came back (see booking.h). The refund row
 * and its attempt exist before the call (written with the state change that caused the refund,
 * or when an attempt began), so a crash between the call and the record leaves a pending or
 * failed refund that the retry job sends again under the same idempotency key, and the
 * provider answers that repeat with the refund it already made.
 */
#include "booking/booking.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/payments.h"

#include <string.h>

/* The attempt status a provider answer means: a refund the provider failed ("failed": a new
 * attempt may follow) is not the same as no refund at all ("error": re-send the same key). */
static const char *attempt_status(tix_rc prc, const char *provider_id, bool processed)
{
    if (prc == TIX_OK) {
        return processed ? "processed" : "pending";
    }
    return prc == TIX_EUPSTREAM && provider_id[0] != '\0' ? "failed" : "error";
}

tix_rc tix_refund_send(tix_booking_ctx *c, const char *id, const char *key, const char *payment_id,
                       int64_t amount, tix_rc *provider)
{
    char provider_id[TIX_PAY_ID_MAX] = "";
    bool processed = false;
    *provider = c->pay->refund(c->pay, payment_id, amount, key, provider_id, &processed);
    const char *st = attempt_status(*provider, provider_id, processed);
    const char *detail = *provider == TIX_OK         ? st
                         : strcmp(st, "failed") == 0 ? "failed at the provider"
                                                     : tix_rc_name(*provider);
    tix_refund_answer ans = {key, st, provider_id[0] ? provider_id : NULL, detail};
    tix_log_info("refund %s (key %s) sent: %s", id, key, st);
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_refund_settle(c->db, id, &ans, tix_now_ms());
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        tix_log_error("refund %s: could not record the provider's answer (%s)", id,
                      tix_rc_name(rc));
    }
    tix_metrics_add(TIX_M_REFUNDS, st, 1); /* the provider's answer, recorded or not */
    return rc;
}
