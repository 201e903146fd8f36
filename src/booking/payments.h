/*
 * The payment side's operations on bookings and refunds, shared by the HTTP handlers
 * (api/payments_api.c) and any future job: applying a provider's webhook event, re-sending a
 * refund, and reconciling unpaid bookings with the provider. Every confirmation goes through
 * tix_booking_paid and every state change through the state machine, so a stale, repeated or
 * out-of-order event can never move a booking backwards. Results live in c->a.
 *
 * It is booking work that talks to the provider, so it lives here, above pay/ (the provider
 * interface and its implementations), which knows nothing of bookings.
 */
#ifndef TIX_BOOKING_PAYMENTS_H
#define TIX_BOOKING_PAYMENTS_H

#include "booking/booking.h"
#include "pay/razorpay.h"
#include "store/payments.h"

/* Applies a verified Razorpay event. OUT: *outcome, a static word for the webhook_events row
 * ("confirmed", "already_confirmed", "refunded_seats_gone", "failed", "ignored_state",
 * "unknown_order", "refund_processed", ...). TIX_OK once the event is settled, ignored ones
 * included; another code (database or provider trouble) means "deliver it again". */
TIX_MUSTCHECK tix_rc tix_payments_apply_event(tix_booking_ctx *c, const tix_rzp_event *ev,
                                              const char **outcome);

/* Provider news that a refund was processed (or failed), from a webhook or from asking the
 * provider (source: "webhook" | "poll", for logs and the attempt's detail). Finds the refund by
 * the provider's refund id, else by our idempotency key, and marks that attempt (and the
 * refund, while it is the current attempt); a failed one is then sent again as a new attempt
 * by the refund retries. OUT: *outcome ("refund_processed", "refund_failed", "ignored_state",
 * "stale_attempt", "unknown_refund"). TIX_OK once settled; another code is database trouble. */
TIX_MUSTCHECK tix_rc tix_payments_refund_news(tix_booking_ctx *c, const char *provider_refund_id,
                                              const char *our_key, bool processed,
                                              const char *source, const char **outcome);

/* Sends refund_id to the provider again, with its own id as the idempotency key (so it can
 * never refund twice), and records the answer. OUT: *out, the refund afterwards.
 * TIX_ENOTFOUND, TIX_ECONFLICT (already processed), TIX_EUNAVAIL / TIX_EUPSTREAM (the
 * provider failed again: the refund stays failed, *out says so). */
TIX_MUSTCHECK tix_rc tix_payments_refund_retry(tix_booking_ctx *c, const char *refund_id,
                                               tix_refund_row *out);

#define TIX_RECONCILE_WINDOW_MS (48LL * 3600 * 1000)
#define TIX_RECONCILE_MAX       500 /* bookings looked at per run */

typedef struct tix_reconcile_result {
    int checked;   /* bookings asked about */
    int confirmed; /* found paid and confirmed */
    int refunded;  /* found paid after their seats were gone: refunded */
    int errors;    /* the provider could not answer for these, or the booking refused */
} tix_reconcile_result;

/* For every unpaid booking (pending_payment, expired or failed) of the current provider made in
 * the last 48 h, asks the provider for a captured payment of its order and, when there is
 * one, confirms through tix_booking_paid (which refunds when the seats are gone). OUT: *out.
 * TIX_EUNAVAIL when the provider is unreachable (the run stops; *out counts what was done). */
TIX_MUSTCHECK tix_rc tix_payments_reconcile(tix_booking_ctx *c, int64_t now,
                                            tix_reconcile_result *out);

typedef struct tix_refund_poll_result {
    int checked;   /* refunds asked about */
    int processed; /* found processed: marked so */
    int failed;    /* found failed: marked so (the refunds job sends a new attempt) */
    int pending;   /* still pending at the provider */
    int errors;    /* the provider could not answer, or did not know the refund */
} tix_refund_poll_result;

/* For refunds pending at the provider (with its refund id) that nothing has changed for `age`
 * ms and that were not asked about in the last `age` ms, at most `batch` of them: asks the
 * provider for each one's state and applies it through tix_payments_refund_news, as its webhook
 * would have. Does nothing with a provider that cannot be asked (fetch_refund NULL). OUT: *out.
 * TIX_EUNAVAIL when the provider is unreachable (the run stops; *out counts what was done). */
TIX_MUSTCHECK tix_rc tix_payments_refund_poll(tix_booking_ctx *c, int64_t now, int64_t age,
                                              int batch, tix_refund_poll_result *out);

#endif
