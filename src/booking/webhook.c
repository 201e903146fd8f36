/*
 * Applying a verified provider event to bookings and refunds (see payments.h). Captures go
 * through tix_booking_paid, failures through tix_booking_payment_failed, refund news through
 * tix_payments_refund_news (also what the refund poll job applies what it fetched with) and
 * tix_refund_mark; each decides by the current state, so applying an event twice, or after a
 * newer one, changes nothing. Whatever cannot be matched is acknowledged with an outcome that
 * says why (a provider retries a non-2xx answer for a day; an unknown order never becomes
 * known by waiting).
 */
#include "booking/payment_events.h"
#include "booking/payments.h"
#include "core/log.h"
#include "core/util.h"

#include <string.h>

/* The booking an event's order belongs to. TIX_ENOTFOUND sets *outcome. */
static tix_rc event_booking(tix_booking_ctx *c, const tix_rzp_event *ev, tix_booking *b,
                            const char **outcome)
{
    if (ev->order_id[0] == '\0' || ev->payment_id[0] == '\0') {
        *outcome = "malformed_event";
        return TIX_ENOTFOUND;
    }
    tix_rc rc = tix_booking_by_order(c->db, c->a, ev->order_id, b);
    if (rc == TIX_ENOTFOUND) {
        tix_log_warn("razorpay event %s for unknown order %s", ev->type, ev->order_id);
        *outcome = "unknown_order";
    }
    return rc;
}

/* What a capture of a booking's order did, from the booking's state before it (closed: refunded
 * after a cancellation or expiry; confirmed), whether it is the payment the booking already
 * has, and whether the booking is confirmed now. */
static const char *capture_outcome(bool was_closed, bool was_confirmed, bool same,
                                   bool confirmed_now)
{
    if (was_closed) {
        /* tix_booking_paid refunded a second payment of a settled booking (once). */
        return same ? "ignored_state" : "duplicate_payment_refunded";
    }
    if (was_confirmed) {
        return same ? "already_confirmed" : "duplicate_payment_refunded";
    }
    return confirmed_now ? "confirmed" : "refunded_seats_gone";
}

static tix_rc on_capture(tix_booking_ctx *c, const tix_rzp_event *ev, const char **outcome)
{
    tix_booking b;
    tix_rc rc = event_booking(c, ev, &b, outcome);
    if (rc != TIX_OK) {
        return rc == TIX_ENOTFOUND ? TIX_OK : rc;
    }
    if (ev->amount >= 0 && ev->amount != b.amount) {
        /* Razorpay charges an order's amount; anything else is not this booking's payment, and
         * the money goes back (once, however often the capture is reported). */
        bool refunded = false;
        rc = tix_booking_wrong_amount(c, b.id, ev->payment_id, ev->amount, "webhook", &refunded);
        *outcome = "amount_mismatch";
        return rc == TIX_ECONFLICT ? TIX_OK : rc;
    }
    bool was_confirmed = b.status == TIX_BK_CONFIRMED;
    bool was_closed = b.status == TIX_BK_CANCELLED_REFUNDED || b.status == TIX_BK_EXPIRED_REFUNDED;
    bool same = b.payment_id != NULL && strcmp(b.payment_id, ev->payment_id) == 0;
    rc = tix_booking_paid(c, b.id, ev->payment_id, "webhook");
    if (rc == TIX_ECONFLICT) {
        *outcome = "ignored_state"; /* cancelled or refunded already: the state machine says no */
        return TIX_OK;
    }
    rc = rc ? rc : tix_booking_get(c->db, c->a, b.id, &b);
    if (rc != TIX_OK) {
        return rc;
    }
    *outcome = capture_outcome(was_closed, was_confirmed, same, b.status == TIX_BK_CONFIRMED);
    return TIX_OK;
}

static tix_rc on_failure(tix_booking_ctx *c, const tix_rzp_event *ev, const char **outcome)
{
    tix_booking b;
    tix_rc rc = event_booking(c, ev, &b, outcome);
    if (rc != TIX_OK) {
        return rc == TIX_ENOTFOUND ? TIX_OK : rc;
    }
    rc = tix_booking_payment_failed(c, b.id, ev->payment_id);
    *outcome = rc == TIX_OK ? "failed" : "ignored_state";
    return rc == TIX_ECONFLICT ? TIX_OK : rc;
}

tix_rc tix_payments_refund_news(tix_booking_ctx *c, const char *provider_refund_id,
                                const char *our_key, bool processed, const char *source,
                                const char **outcome)
{
    tix_refund_row row;
    char *key = NULL;
    tix_rc rc = tix_refund_find(c->db, c->a, provider_refund_id, our_key, &row, &key);
    if (rc == TIX_ENOTFOUND) {
        tix_log_warn("razorpay %s: refund %s %s is not ours", source, provider_refund_id,
                     processed ? "processed" : "failed");
        *outcome = "unknown_refund";
        return TIX_OK;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    bool current = strcmp(key, row.idem_key) == 0;
    const char *status = processed ? "processed" : "failed";
    rc = tix_db_begin(c->db);
    rc = rc ? rc
            : tix_refund_mark(c->db, row.r.id, key, status,
                              provider_refund_id[0] ? provider_refund_id : NULL, source,
                              tix_now_ms());
    tix_rc done = rc == TIX_OK || rc == TIX_ECONFLICT ? tix_db_commit(c->db) : rc;
    if (done != TIX_OK) {
        tix_db_rollback(c->db);
        return done;
    }
    if (!current) {
        /* About an attempt that a newer one replaced: recorded on that attempt only. */
        if (processed) {
            tix_log_error("refund %s: replaced attempt %s reported processed; check for a"
                          " double refund",
                          row.r.id, key);
        }
        *outcome = "stale_attempt";
        return TIX_OK;
    }
    if (rc == TIX_ECONFLICT) {
        *outcome = "ignored_state"; /* processed already: nothing moves it back */
        return TIX_OK;
    }
    if (!processed) {
        tix_log_warn("refund %s (key %s) failed at the provider (%s); a retry sends a new"
                     " attempt",
                     row.r.id, key, source);
    }
    *outcome = processed ? "refund_processed" : "refund_failed";
    return TIX_OK;
}

tix_rc tix_payments_apply_event(tix_booking_ctx *c, const tix_rzp_event *ev, const char **outcome)
{
    *outcome = "ignored";
    switch (ev->kind) {
    case TIX_RZP_EV_PAYMENT_CAPTURED:
    case TIX_RZP_EV_ORDER_PAID:
        return on_capture(c, ev, outcome);
    case TIX_RZP_EV_PAYMENT_FAILED:
        return on_failure(c, ev, outcome);
    case TIX_RZP_EV_REFUND_PROCESSED:
    case TIX_RZP_EV_REFUND_FAILED:
        return tix_payments_refund_news(c, ev->refund_id, ev->our_refund_id,
                                        ev->kind == TIX_RZP_EV_REFUND_PROCESSED, "webhook",
                                        outcome);
    case TIX_RZP_EV_OTHER:
        break;
    }
    return TIX_OK;
}
