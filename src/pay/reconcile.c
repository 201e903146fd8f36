/*
 * The admin's money tools (see payments.h): re-sending a refund, and reconciling bookings
 * whose payment the provider took but never told us about (a lost webhook, a closed browser).
 * Both only ever act through the paths everything else uses: the provider's refund call with
 * the refund's own id as idempotency key, and tix_booking_paid.
 */
#include "core/log.h"
#include "core/util.h"
#include "pay/payments.h"

#include <string.h>

tix_rc tix_payments_refund_retry(tix_booking_ctx *c, const char *refund_id, tix_refund_row *out)
{
    tix_rc rc = tix_refund_get(c->db, c->a, refund_id, out);
    if (rc == TIX_OK && strcmp(out->r.status, "processed") == 0) {
        rc = TIX_ECONFLICT;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    char provider_id[TIX_PAY_ID_MAX] = "";
    bool processed = false;
    tix_rc prc = c->pay->refund(c->pay, out->r.payment_id, out->r.amount, out->r.id, provider_id,
                                &processed);
    const char *status = prc != TIX_OK ? "failed" : (processed ? "processed" : "pending");
    tix_log_info("refund %s re-sent: %s", out->r.id, status);
    rc = tix_refund_settle(c->db, out->r.id, status, provider_id[0] ? provider_id : NULL,
                           tix_now_ms());
    rc = rc ? rc : tix_refund_get(c->db, c->a, refund_id, out);
    return rc ? rc : prc;
}

/* One booking: asks for a captured payment and confirms with it. Counts into *out. */
static tix_rc reconcile_one(tix_booking_ctx *c, const tix_unsettled *u, tix_reconcile_result *out)
{
    char payment_id[TIX_PAY_ID_MAX];
    out->checked++;
    tix_rc rc = c->pay->fetch_captured_payment(c->pay, u->order_id, payment_id);
    if (rc == TIX_ENOTFOUND) {
        return TIX_OK;
    }
    if (rc == TIX_OK) {
        rc = tix_booking_paid(c, u->booking_id, payment_id, "reconcile");
    }
    tix_booking b;
    rc = rc ? rc : tix_booking_get(c->db, c->a, u->booking_id, &b);
    if (rc == TIX_OK) {
        out->confirmed += b.status == TIX_BK_CONFIRMED;
        out->refunded += b.status == TIX_BK_EXPIRED_REFUNDED;
        tix_log_info("reconcile: booking %s paid by %s is now %s", b.id, payment_id,
                     tix_booking_status_name(b.status));
        return TIX_OK;
    }
    out->errors++;
    tix_log_warn("reconcile: booking %s (order %s): %s", u->booking_id, u->order_id,
                 tix_rc_name(rc));
    return rc;
}

tix_rc tix_payments_reconcile(tix_booking_ctx *c, int64_t now, tix_reconcile_result *out)
{
    tix_unsettled *list = NULL;
    int n = 0;
    memset(out, 0, sizeof(*out));
    tix_rc rc = tix_booking_unsettled(c->db, c->a, c->pay->name, now - TIX_RECONCILE_WINDOW_MS,
                                      TIX_RECONCILE_MAX, &list, &n);
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        tix_rc one = reconcile_one(c, &list[i], out);
        if (one == TIX_EUNAVAIL) {
            rc = one; /* the provider is down: asking about the others would only wait */
        }
    }
    tix_log_info("reconcile: %d checked, %d confirmed, %d refunded, %d errors", out->checked,
                 out->confirmed, out->refunded, out->errors);
    return rc;
}
