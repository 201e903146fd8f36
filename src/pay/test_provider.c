/*
 * The embedded test provider: makes order, payment and refund ids itself and signs checkout
 * results exactly as Razorpay does (hex HMAC-SHA256 of "order_id|payment_id"), with a secret
 * derived from JWT_ACCESS_SECRET so that every server of a cluster shares it. It exists so a
 * person (or a test) can finish a booking with curl: POST /payments/test/{order_id}/pay.
 */
#include "core/util.h"
#include "pay/pay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_impl {
    char secret[TIX_SHA256_HEX];
} test_impl;

static void new_id(char out[TIX_PAY_ID_MAX], const char *prefix)
{
    unsigned char raw[9];
    char b64[16];
    tix_random_bytes(raw, sizeof(raw));
    tix_base64url_encode(b64, sizeof(b64), raw, sizeof(raw));
    snprintf(out, TIX_PAY_ID_MAX, "%s_%s", prefix, b64); /* Razorpay-shaped: 14 characters */
}

static tix_rc create_order(tix_pay_provider *p, int64_t amount, const char *currency,
                           const char *receipt, const char *show_id, const char *user_id,
                           char order_id[TIX_PAY_ID_MAX])
{
    (void)p;
    (void)currency;
    (void)receipt;
    (void)show_id;
    (void)user_id;
    if (amount < 0) {
        return TIX_EUPSTREAM;
    }
    new_id(order_id, "order");
    return TIX_OK;
}

static void sign(const test_impl *t, const char *order_id, const char *payment_id, char out[65])
{
    char msg[2 * TIX_PAY_ID_MAX + 2];
    int n = snprintf(msg, sizeof(msg), "%s|%s", order_id, payment_id);
    tix_hmac_sha256_hex(out, t->secret, strlen(t->secret), msg, (size_t)(n > 0 ? n : 0));
}

static bool verify_checkout(tix_pay_provider *p, const char *order_id, const char *payment_id,
                            const char *signature)
{
    char want[TIX_SHA256_HEX];
    if (strlen(order_id) >= TIX_PAY_ID_MAX || strlen(payment_id) >= TIX_PAY_ID_MAX) {
        return false;
    }
    sign(p->impl, order_id, payment_id, want);
    return tix_secure_streq(want, signature);
}

static tix_rc refund(tix_pay_provider *p, const char *payment_id, int64_t amount,
                     const char *idem_key, char refund_id[TIX_PAY_ID_MAX], bool *processed)
{
    (void)p;
    (void)payment_id;
    (void)amount;
    (void)idem_key;
    new_id(refund_id, "rfnd");
    *processed = true;
    return TIX_OK;
}

/* The test provider keeps no payments: a checkout it signed is confirmed at once, so there is
 * nothing to reconcile. */
static tix_rc fetch_captured_payment(tix_pay_provider *p, const char *order_id, int64_t amount,
                                     char payment_id[TIX_PAY_ID_MAX], int64_t *paid)
{
    (void)p;
    (void)order_id;
    (void)amount;
    payment_id[0] = '\0';
    *paid = -1;
    return TIX_ENOTFOUND;
}

static void destroy(tix_pay_provider *p)
{
    if (p != NULL) {
        free(p->impl);
        free(p);
    }
}

bool tix_pay_test_sign(tix_pay_provider *p, const char *order_id, const char *payment_id,
                       char signature[65])
{
    if (p == NULL || strcmp(p->name, "test") != 0 || strlen(order_id) >= TIX_PAY_ID_MAX ||
        strlen(payment_id) >= TIX_PAY_ID_MAX) {
        return false;
    }
    sign(p->impl, order_id, payment_id, signature);
    return true;
}

tix_rc tix_pay_test_create(const tix_config *cfg, tix_pay_provider **out)
{
    tix_pay_provider *p = calloc(1, sizeof(*p));
    test_impl *t = calloc(1, sizeof(*t));
    if (p == NULL || t == NULL) {
        free(p);
        free(t);
        return TIX_ENOMEM;
    }
    static const char label[] = "ticketd test payment provider";
    tix_hmac_sha256_hex(t->secret, cfg->jwt_access_secret, strlen(cfg->jwt_access_secret), label,
                        sizeof(label) - 1);
    p->name = "test";
    p->key_id = "rzp_test_ticketd";
    p->min_order_amount = 1;
    p->create_order = create_order;
    p->verify_checkout = verify_checkout;
    p->refund = refund;
    p->verify_webhook = NULL; /* no webhooks: the checkout is the only confirmation */
    p->fetch_captured_payment = fetch_captured_payment;
    p->fetch_payment = NULL;
    p->fetch_refund = NULL; /* its refunds are processed in the answer */
    p->destroy = destroy;
    p->impl = t;
    *out = p;
    return TIX_OK;
}
