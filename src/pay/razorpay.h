/*
 * Razorpay's wire format, kept pure (no I/O, no clock) so it is unit-tested with tables:
 * request bodies, response parsing, the two signature rules and webhook events. razorpay.c
 * does the HTTP with these. Ids are copied into the caller's fixed buffers; nothing here keeps
 * state, and the only heap results (request bodies) say who frees them.
 */
#ifndef TIX_PAY_RAZORPAY_H
#define TIX_PAY_RAZORPAY_H

#include "core/rc.h"
#include "pay/pay.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_RZP_RECEIPT_MAX 40 /* Razorpay's limit on an order's receipt */
#define TIX_RZP_EVENT_MAX   64 /* event names ("payment.captured") and event ids */

/* Whether sig is the lower-case hex HMAC-SHA256 of msg[0..len) with secret. Constant time in
 * the content (length may leak); false for NULL or malformed input. */
bool tix_rzp_signature_ok(const char *secret, const void *msg, size_t len, const char *sig);
/* The checkout rule: sig over "<order_id>|<payment_id>" with the key secret. */
bool tix_rzp_checkout_ok(const char *key_secret, const char *order_id, const char *payment_id,
                         const char *sig);

/* Whether s may go into a URL path as a Razorpay id: 1..TIX_PAY_ID_MAX-1 letters, digits, '_'. */
bool tix_rzp_id_ok(const char *s);
/* Whether key is a valid X-Refund-Idempotency value: 10..TIX_PAY_ID_MAX-1 letters, digits, '-'
 * and '_'. */
bool tix_rzp_idem_key_ok(const char *key);

/* The JSON body of POST /orders: amount (paise), currency, receipt (our booking id) and notes
 * {booking_id, show_id, user_id}. NULL when an argument breaks Razorpay's rules (amount < 1,
 * receipt longer than 40, a missing string). The caller frees the result with free(). */
char *tix_rzp_order_body(int64_t amount, const char *currency, const char *receipt,
                         const char *show_id, const char *user_id);
/* The JSON body of POST /payments/{id}/refund: amount, speed "normal", receipt and
 * notes.refund_id = idem_key (how a refund webhook finds our row). Freed with free(). */
char *tix_rzp_refund_body(int64_t amount, const char *idem_key);

/* A created order: TIX_OK with its id, TIX_EUPSTREAM when the body is not an order for
 * `amount` (a provider that answers something else must not get the booking). */
TIX_MUSTCHECK tix_rc tix_rzp_parse_order(const char *body, size_t len, int64_t amount,
                                         char order_id[TIX_PAY_ID_MAX]);

typedef enum tix_rzp_refund_status {
    TIX_RZP_REFUND_PENDING,
    TIX_RZP_REFUND_PROCESSED,
    TIX_RZP_REFUND_FAILED,
} tix_rzp_refund_status;

/* A refund entity: TIX_OK with its id and status, TIX_EUPSTREAM when malformed. */
TIX_MUSTCHECK tix_rc tix_rzp_parse_refund(const char *body, size_t len,
                                          char refund_id[TIX_PAY_ID_MAX],
                                          tix_rzp_refund_status *status);
/* A collection of payments (GET /orders/{id}/payments): TIX_OK with the first captured one of
 * `want` paise, else the first captured one, and its amount in *amount; TIX_ENOTFOUND when none
 * is captured, TIX_EUPSTREAM when malformed (a captured one without an integer amount too). */
TIX_MUSTCHECK tix_rc tix_rzp_parse_captured(const char *body, size_t len, int64_t want,
                                            char payment_id[TIX_PAY_ID_MAX], int64_t *amount);
/* A payment entity (GET /payments/{id}): TIX_OK with its order id (empty when null) and amount,
 * TIX_EUPSTREAM when malformed. */
TIX_MUSTCHECK tix_rc tix_rzp_parse_payment(const char *body, size_t len, tix_pay_payment *out);
/* Razorpay's error description ({"error":{"code","description"}}) as "CODE: description",
 * cut to cap, for logs; "(no description)" when the body has none. */
void tix_rzp_parse_error(const char *body, size_t len, char *out, size_t cap);

typedef enum tix_rzp_event_kind {
    TIX_RZP_EV_OTHER, /* recorded and acknowledged, nothing else */
    TIX_RZP_EV_PAYMENT_CAPTURED,
    TIX_RZP_EV_ORDER_PAID,
    TIX_RZP_EV_PAYMENT_FAILED,
    TIX_RZP_EV_REFUND_PROCESSED,
    TIX_RZP_EV_REFUND_FAILED,
} tix_rzp_event_kind;

/* What a webhook says, as far as ticketd cares. Empty strings for absent fields. */
typedef struct tix_rzp_event {
    tix_rzp_event_kind kind;
    char type[TIX_RZP_EVENT_MAX];       /* the "event" field as sent, cut to fit */
    char order_id[TIX_PAY_ID_MAX];      /* payment.entity.order_id, or order.entity.id */
    char payment_id[TIX_PAY_ID_MAX];    /* payment.entity.id (refund.entity.payment_id) */
    int64_t amount;                     /* the payment's amount; -1 when absent */
    char refund_id[TIX_PAY_ID_MAX];     /* refund.entity.id */
    char our_refund_id[TIX_PAY_ID_MAX]; /* refund.entity.notes.refund_id, else its receipt */
} tix_rzp_event;

/* Parses a webhook body whose signature has been checked. TIX_EINVAL when it is not a JSON
 * object with a string "event". Missing entities leave fields empty (the caller decides). */
TIX_MUSTCHECK tix_rc tix_rzp_parse_event(const char *body, size_t len, tix_rzp_event *out);

#endif
