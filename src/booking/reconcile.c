/*
 * The admin's money tools (see payments.h): re-sending a refund, reconciling bookings whose
 * payment the provider took but never told us about (a lost webhook, a closed browser), and
 * asking the provider about refunds it still holds as pending (a lost refund webhook). All only
 * ever act through the paths everything else uses: the provider's refund call with the
 * refund's own id as idempotency key, tix_booking_paid, and tix_payments_refund_news.
 */
#include "booking/payments.h"
#include "core/log.h"
#include "core/util.h"

#include <string.h>

/* The key the retry sends with: the current attempt's, unless the provider failed that
 * attempt; then attempt n + 1 begins under "<refund id>-<n + 1>" (deterministic, so two
 * retries racing to begin it send the same key, and the provider makes one refund of it).
 * OUT: *key (arena). Re-reads *row when the refund moved on meanwhile. */
static tix_rc retry_key(tix_booking_ctx *c, tix_refund_row *row, const char **key)
{
    *key = row->idem_key;
    if (strcmp(row->attempt_status, "failed") != 0 || strcmp(row->r.status, "failed") != 0) {
        return TIX_OK; /* no answer, or a 5xx: the same key may have made the refund already */
    }
    int n = row->attempt_n + 1;
    char *next = tix_arena_sprintf(c->a, "%s-%d", row->r.id, n);
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_refund_attempt_begin(c->db, row->r.id, row->idem_key, next, n, tix_now_ms());
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc == TIX_OK) {
        tix_log_info("refund %s failed at the provider under %s: attempt %d under %s", row->r.id,
                     row->idem_key, n, next);
        *key = next;
        return TIX_OK;
    }
    tix_db_rollback(c->db);
    if (rc != TIX_ECONFLICT) {
        return rc;
    }
    /* Someone else began it (or it was processed): go on with what is current now. */
    rc = tix_refund_get(c->db, c->a, row->r.id, row);
    if (rc == TIX_OK && strcmp(row->r.status, "processed") == 0) {
        rc = TIX_ECONFLICT;
    }
    *key = row->idem_key;
    return rc;
}

tix_rc tix_payments_refund_retry(tix_booking_ctx *c, const char *refund_id, tix_refund_row *out)
{
    const char *key = NULL;
    tix_rc rc = tix_refund_get(c->db, c->a, refund_id, out);
    if (rc == TIX_OK && strcmp(out->r.status, "processed") == 0) {
        rc = TIX_ECONFLICT;
    }
    rc = rc ? rc : retry_key(c, out, &key);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_rc prc = TIX_OK;
    rc = tix_refund_send(c, out->r.id, key, out->r.payment_id, out->r.amount, &prc);
    rc = rc ? rc : tix_refund_get(c->db, c->a, refund_id, out);
    return rc ? rc : prc;
}

/* One booking: asks for a captured payment and confirms with it. Counts into *out. */
static tix_rc reconcile_one(tix_booking_ctx *c, const tix_unsettled *u, tix_reconcile_result *out)
{
    char payment_id[TIX_PAY_ID_MAX];
    int64_t paid = -1;
    out->checked++;
    tix_rc rc = c->pay->fetch_captured_payment(c->pay, u->order_id, u->amount, payment_id, &paid);
    if (rc == TIX_ENOTFOUND) {
        return TIX_OK;
    }
    if (rc == TIX_OK && paid != u->amount) {
        /* Only a payment of the wrong amount: it goes back, the booking stays unpaid. */
        bool refunded = false;
        rc = tix_booking_wrong_amount(c, u->booking_id, payment_id, paid, "reconcile", &refunded);
        out->refunded += refunded;
        return rc == TIX_ECONFLICT ? TIX_OK : rc;
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

/* One refund pending at the provider: asks, records the asking, applies the answer. Counts
 * into *out. TIX_EUNAVAIL when the provider could not be reached (stop the run). */
static tix_rc poll_one(tix_booking_ctx *c, const tix_refund_at_provider *r, int64_t now,
                       tix_refund_poll_result *out)
{
    tix_pay_refund_state state = TIX_PAY_REFUND_PENDING;
    const char *outcome = "unchanged";
    out->checked++;
    tix_rc prc = c->pay->fetch_refund(c->pay, r->payment_id, r->provider_refund_id, &state);
    if (prc == TIX_EUNAVAIL) {
        out->errors++;
        return prc; /* not marked checked: it comes first again next run */
    }
    tix_rc rc = tix_refund_checked(c->db, r->id, now);
    if (prc != TIX_OK) {
        out->errors++;
        tix_log_warn("refund poll: refund %s (%s at the provider): %s", r->id,
                     r->provider_refund_id, tix_rc_name(prc));
        return rc;
    }
    if (rc == TIX_OK && state != TIX_PAY_REFUND_PENDING) {
        rc = tix_payments_refund_news(c, r->provider_refund_id, r->idem_key,
                                      state == TIX_PAY_REFUND_PROCESSED, "poll", &outcome);
    }
    if (rc != TIX_OK) {
        out->errors++;
        return rc;
    }
    out->pending += state == TIX_PAY_REFUND_PENDING;
    out->processed += strcmp(outcome, "refund_processed") == 0;
    out->failed += strcmp(outcome, "refund_failed") == 0;
    if (state != TIX_PAY_REFUND_PENDING) {
        tix_log_info("refund poll: refund %s (%s) is %s at the provider: %s", r->id,
                     r->provider_refund_id,
                     state == TIX_PAY_REFUND_PROCESSED ? "processed" : "failed", outcome);
    }
    return TIX_OK;
}

tix_rc tix_payments_refund_poll(tix_booking_ctx *c, int64_t now, int64_t age, int batch,
                                tix_refund_poll_result *out)
{
    tix_refund_at_provider *list = NULL;
    int n = 0;
    memset(out, 0, sizeof(*out));
    if (c->pay->fetch_refund == NULL) {
        return TIX_OK;
    }
    tix_rc rc =
        tix_refunds_pending_at_provider(c->db, c->a, c->pay->name, now - age, batch, &list, &n);
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        tix_rc one = poll_one(c, &list[i], now, out);
        if (one == TIX_EUNAVAIL) {
            rc = one; /* the provider (or the database) is down: the others would only wait */
        }
    }
    return rc;
}
