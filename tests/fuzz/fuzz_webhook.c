/*
 * Razorpay bodies (pay/razorpay_wire.c): webhook events, and the provider's answers to orders,
 * refunds, payment lists, payments and errors, all parsed from the same bytes; then the
 * webhook signature check with the bytes' first line as the signature. The webhook body comes
 * from anyone who can reach the server (its signature is checked first, but the parser must
 * still hold when the secret leaks), the answers from the network.
 */
#include "fuzz.h"
#include "pay/razorpay.h"

#include <stdlib.h>
#include <string.h>

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    tix_rzp_event ev;
    memset(&ev, 0x5a, sizeof(ev));
    if (tix_rzp_parse_event(body, size, &ev) == TIX_OK) {
        check_str(ev.type, sizeof(ev.type));
        check_str(ev.order_id, sizeof(ev.order_id));
        check_str(ev.payment_id, sizeof(ev.payment_id));
        check_str(ev.refund_id, sizeof(ev.refund_id));
        check_str(ev.our_refund_id, sizeof(ev.our_refund_id));
        (void)tix_rzp_id_ok(ev.order_id);
        (void)tix_rzp_id_ok(ev.payment_id);
    }
    char id[TIX_PAY_ID_MAX];
    if (tix_rzp_parse_order(body, size, 12345, id) == TIX_OK) {
        check_str(id, sizeof(id));
    }
    tix_rzp_refund_status st;
    if (tix_rzp_parse_refund(body, size, id, &st) == TIX_OK) {
        check_str(id, sizeof(id));
    }
    int64_t amount = 0;
    if (tix_rzp_parse_captured(body, size, 12345, id, &amount) == TIX_OK) {
        check_str(id, sizeof(id));
    }
    tix_pay_payment pay;
    if (tix_rzp_parse_payment(body, size, &pay) == TIX_OK) {
        check_str(pay.order_id, sizeof(pay.order_id));
    }
    char msg[128];
    tix_rzp_parse_error(body, size, msg, sizeof(msg));
    check_str(msg, sizeof(msg));
    tix_rzp_parse_error(body, size, msg, 5);
    size_t sig_len = 0, rest_len = 0;
    const uint8_t *rest = tix_fuzz_split(data, size, '\n', &sig_len, &rest_len);
    char *sig = tix_fuzz_strndup(data, sig_len);
    (void)tix_rzp_signature_ok("webhook-secret", rest ? rest : data, rest ? rest_len : size, sig);
    (void)tix_rzp_checkout_ok("key-secret", sig, sig, sig);
    (void)tix_rzp_idem_key_ok(sig);
    free(sig);
    return 0;
}
