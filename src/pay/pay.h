/*
 * The payment provider interface (a struct of function pointers, as in SQLite's VFS): create an
 * order for an amount the server computed, verify a checkout signature, refund, verify a
 * webhook, look up a captured payment. Two implementations: the embedded test provider
 * (default; signs exactly as Razorpay does, with its own secret) and Razorpay (razorpay.c,
 * chosen when RAZORPAY_KEY_ID is set). The booking code never knows which.
 */
#ifndef TIX_PAY_PAY_H
#define TIX_PAY_PAY_H

#include "core/config.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_PAY_ID_MAX 64

typedef struct tix_pay_provider tix_pay_provider;

/* A payment as the provider has it. */
typedef struct tix_pay_payment {
    char order_id[TIX_PAY_ID_MAX]; /* empty when it belongs to no order */
    int64_t amount;
} tix_pay_payment;

/* Where a refund stands at the provider. */
typedef enum tix_pay_refund_state {
    TIX_PAY_REFUND_PENDING,
    TIX_PAY_REFUND_PROCESSED,
    TIX_PAY_REFUND_FAILED,
} tix_pay_refund_state;

struct tix_pay_provider {
    const char *name;   /* "test" | "razorpay": stored on each booking */
    const char *key_id; /* the public key a checkout page needs */
    /* The smallest order amount it takes, in minor units (Razorpay: 100); a promo code's
     * discount never brings a booking below it (booking/promo.h). */
    int64_t min_order_amount;
    /* Creates an order. receipt = our booking id (unique); show_id and user_id go into the
     * order's notes. OUT: order_id. TIX_EUPSTREAM when the provider refused, TIX_EUNAVAIL when
     * it could not be reached. */
    tix_rc (*create_order)(tix_pay_provider *p, int64_t amount, const char *currency,
                           const char *receipt, const char *show_id, const char *user_id,
                           char order_id[TIX_PAY_ID_MAX]);
    /* Whether signature is HMAC-SHA256(secret, order_id "|" payment_id), compared in constant
     * time. order_id must be the one stored on the server, never the client's. */
    bool (*verify_checkout)(tix_pay_provider *p, const char *order_id, const char *payment_id,
                            const char *signature);
    /* Refunds amount of payment_id; idem_key makes a retry never refund twice. OUT: refund_id,
     * *processed (true when already settled, false when pending at the provider). On
     * TIX_EUPSTREAM refund_id may still be set (the provider made the refund, and it failed). */
    tix_rc (*refund)(tix_pay_provider *p, const char *payment_id, int64_t amount,
                     const char *idem_key, char refund_id[TIX_PAY_ID_MAX], bool *processed);
    /* Whether signature is the provider's signature of a webhook's raw body (constant time).
     * NULL when the provider sends no webhooks (the test provider). */
    bool (*verify_webhook)(tix_pay_provider *p, const char *body, size_t len,
                           const char *signature);
    /* A captured payment of order_id, for reconciliation: one of `amount` when there is one,
     * else any. OUT: payment_id, *paid its amount. TIX_ENOTFOUND when there is none;
     * TIX_EUNAVAIL / TIX_EUPSTREAM when the provider could not answer. */
    tix_rc (*fetch_captured_payment)(tix_pay_provider *p, const char *order_id, int64_t amount,
                                     char payment_id[TIX_PAY_ID_MAX], int64_t *paid);
    /* Looks up payment_id, so a checkout's amount is checked before it confirms anything.
     * TIX_ENOTFOUND when there is no such payment; TIX_EUNAVAIL / TIX_EUPSTREAM when the
     * provider could not answer. NULL when the provider needs no such check (the test provider
     * signs checkouts of its own orders' amounts only). */
    tix_rc (*fetch_payment)(tix_pay_provider *p, const char *payment_id, tix_pay_payment *out);
    /* Looks up refund_id (the provider's) of payment_id, for a refund whose outcome was never
     * reported (a lost webhook). OUT: *state. TIX_ENOTFOUND when the provider has no such
     * refund of that payment; TIX_EUNAVAIL / TIX_EUPSTREAM when it could not answer. NULL when
     * the provider settles every refund in its answer (the test provider). */
    tix_rc (*fetch_refund)(tix_pay_provider *p, const char *payment_id, const char *refund_id,
                           tix_pay_refund_state *state);
    void (*destroy)(tix_pay_provider *p);
    void *impl;
};

/* The provider the configuration selects (pay.c): Razorpay when its keys are configured, the
 * test provider otherwise. Free with p->destroy(p). */
TIX_MUSTCHECK tix_rc tix_pay_create(const tix_config *cfg, tix_pay_provider **out);
/* The two implementations. */
TIX_MUSTCHECK tix_rc tix_pay_test_create(const tix_config *cfg, tix_pay_provider **out);
TIX_MUSTCHECK tix_rc tix_pay_razorpay_create(const tix_config *cfg, tix_pay_provider **out);

/* Test provider only: signs a checkout result as Razorpay would. False for other providers. */
bool tix_pay_test_sign(tix_pay_provider *p, const char *order_id, const char *payment_id,
                       char signature[65]);

#endif
