/* Razorpay's wire format (pay/razorpay_wire.c): signatures, ids, request bodies, response and
 * webhook parsing. The signature vectors were computed independently (Python's hmac). */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "pay/razorpay.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKOUT_SIG "024bba5abe186167aab48a86b0aefc6057002c74858042135146cabd836b92b7"
#define WEBHOOK_BODY "{\"event\":\"payment.captured\"}"
#define WEBHOOK_SIG  "4673dd707ef4c41b987cb7fefe1583142dc702388c93145b7814b9ad3d3c183e"

static size_t n(const char *s)
{
    return strlen(s);
}

/* ---- signatures ---- */

static void test_webhook_signature(void **state)
{
    (void)state;
    assert_true(tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY), WEBHOOK_SIG));
    /* another secret, another body, one changed byte, upper case, cut, empty, NULL */
    assert_false(tix_rzp_signature_ok("whsec2", WEBHOOK_BODY, n(WEBHOOK_BODY), WEBHOOK_SIG));
    assert_false(tix_rzp_signature_ok("whsec", WEBHOOK_BODY " ", n(WEBHOOK_BODY) + 1, WEBHOOK_SIG));
    assert_false(
        tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY),
                             "5673dd707ef4c41b987cb7fefe1583142dc702388c93145b7814b9ad3d3c183e"));
    assert_false(
        tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY),
                             "4673DD707EF4C41B987CB7FEFE1583142DC702388C93145B7814B9AD3D3C183E"));
    assert_false(tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY), "4673dd70"));
    assert_false(tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY), ""));
    assert_false(tix_rzp_signature_ok("whsec", WEBHOOK_BODY, n(WEBHOOK_BODY), NULL));
    assert_false(tix_rzp_signature_ok(NULL, WEBHOOK_BODY, n(WEBHOOK_BODY), WEBHOOK_SIG));
    /* the raw bytes count, including any past a NUL */
    assert_false(
        tix_rzp_signature_ok("whsec", WEBHOOK_BODY "\0x", n(WEBHOOK_BODY) + 2, WEBHOOK_SIG));
}

static void test_checkout_signature(void **state)
{
    (void)state;
    const char *o = "order_IluGWxBm9U8zJ8";
    const char *p = "pay_IluGYmaqlJrm2X";
    assert_true(tix_rzp_checkout_ok("rzp_secret_abc", o, p, CHECKOUT_SIG));
    assert_false(tix_rzp_checkout_ok("rzp_secret_abd", o, p, CHECKOUT_SIG));
    assert_false(tix_rzp_checkout_ok("rzp_secret_abc", p, o, CHECKOUT_SIG)); /* swapped */
    assert_false(tix_rzp_checkout_ok("rzp_secret_abc", "order_IluGWxBm9U8zJ9", p, CHECKOUT_SIG));
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(tix_rzp_checkout_ok("rzp_secret_abc", long_id, p, CHECKOUT_SIG));
    assert_false(tix_rzp_checkout_ok("rzp_secret_abc", o, NULL, CHECKOUT_SIG));
}

/* ---- ids ---- */

static void test_ids_and_idempotency_keys(void **state)
{
    (void)state;
    assert_true(tix_rzp_id_ok("pay_IluGYmaqlJrm2X"));
    assert_true(tix_rzp_id_ok("order_1"));
    assert_false(tix_rzp_id_ok(""));
    assert_false(tix_rzp_id_ok(NULL));
    assert_false(tix_rzp_id_ok("pay_../../x"));
    assert_false(tix_rzp_id_ok("pay_a?b=c"));
    assert_false(tix_rzp_id_ok("pay-abc")); /* no dash in Razorpay ids */
    assert_true(tix_rzp_idem_key_ok("ref_01J8ZK3Q4W5E6R7T8Y9U0I1O2P"));
    assert_true(tix_rzp_idem_key_ok("abc-def_12"));
    assert_false(tix_rzp_idem_key_ok("abc-def_1")); /* 9 characters */
    assert_false(tix_rzp_idem_key_ok("ref 0123456789"));
    assert_false(tix_rzp_idem_key_ok("ref_0123456789\n"));
    assert_false(tix_rzp_idem_key_ok(NULL));
}

/* ---- request bodies ---- */

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    return j;
}

static void test_order_body(void **state)
{
    (void)state;
    char *s = tix_rzp_order_body(90000, "INR", "bkg_01J8ZK3Q4W5E6R7T8Y9U0I1O2P", "shw_1", "usr_2");
    assert_non_null(s);
    json_t *j = parse(s);
    assert_int_equal(json_object_size(j), 4);
    assert_true(json_is_integer(json_object_get(j, "amount")));
    assert_int_equal(json_integer_value(json_object_get(j, "amount")), 90000);
    assert_string_equal(json_string_value(json_object_get(j, "currency")), "INR");
    assert_string_equal(json_string_value(json_object_get(j, "receipt")),
                        "bkg_01J8ZK3Q4W5E6R7T8Y9U0I1O2P");
    json_t *notes = json_object_get(j, "notes");
    assert_int_equal(json_object_size(notes), 3);
    assert_string_equal(json_string_value(json_object_get(notes, "booking_id")),
                        "bkg_01J8ZK3Q4W5E6R7T8Y9U0I1O2P");
    assert_string_equal(json_string_value(json_object_get(notes, "show_id")), "shw_1");
    assert_string_equal(json_string_value(json_object_get(notes, "user_id")), "usr_2");
    json_decref(j);
    free(s);
    /* quotes and backslashes are escaped, not spliced */
    s = tix_rzp_order_body(100, "INR", "r\"1\\", "s", "u");
    j = parse(s);
    assert_string_equal(json_string_value(json_object_get(j, "receipt")), "r\"1\\");
    json_decref(j);
    free(s);
}

static void test_order_body_refuses_what_razorpay_would(void **state)
{
    (void)state;
    assert_null(tix_rzp_order_body(0, "INR", "bkg_1", "s", "u"));
    assert_null(tix_rzp_order_body(-5, "INR", "bkg_1", "s", "u"));
    assert_null(tix_rzp_order_body(100, "INR", "", "s", "u"));
    assert_null(tix_rzp_order_body(100, "INR", "12345678901234567890123456789012345678901", "s",
                                   "u")); /* 41 */
    char *ok = tix_rzp_order_body(100, "INR", "1234567890123456789012345678901234567890", "s",
                                  "u"); /* 40 */
    assert_non_null(ok);
    free(ok);
    assert_null(tix_rzp_order_body(100, NULL, "bkg_1", "s", "u"));
    assert_null(tix_rzp_order_body(100, "INR", "bkg_1", NULL, "u"));
}

static void test_refund_body(void **state)
{
    (void)state;
    char *s = tix_rzp_refund_body(45000, "ref_01J8ZK3Q4W5E6R7T8Y9U0I1O2P");
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "amount")), 45000);
    assert_string_equal(json_string_value(json_object_get(j, "speed")), "normal");
    assert_string_equal(json_string_value(json_object_get(j, "receipt")),
                        "ref_01J8ZK3Q4W5E6R7T8Y9U0I1O2P");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "notes"), "refund_id")),
        "ref_01J8ZK3Q4W5E6R7T8Y9U0I1O2P");
    json_decref(j);
    free(s);
    assert_null(tix_rzp_refund_body(0, "ref_0123456789"));
    assert_null(tix_rzp_refund_body(100, "short"));
    assert_null(tix_rzp_refund_body(100, "ref 0123456789"));
}

/* ---- responses ---- */

#define ORDER_JSON(id, amount)                                                                     \
    "{\"id\":\"" id "\",\"entity\":\"order\",\"amount\":" amount ",\"amount_paid\":0,"             \
    "\"amount_due\":" amount ",\"currency\":\"INR\",\"receipt\":\"bkg_1\",\"offer_id\":null,"      \
    "\"status\":\"created\",\"attempts\":0,\"notes\":[],\"created_at\":1700000000}"

static void test_parse_order(void **state)
{
    (void)state;
    char id[TIX_PAY_ID_MAX];
    const char *good = ORDER_JSON("order_EKwxwAgItmmXdp", "90000");
    assert_int_equal(tix_rzp_parse_order(good, n(good), 90000, id), TIX_OK);
    assert_string_equal(id, "order_EKwxwAgItmmXdp");
    /* another amount than asked, another entity, an id that is not an order's, junk */
    assert_int_equal(tix_rzp_parse_order(good, n(good), 90001, id), TIX_EUPSTREAM);
    assert_string_equal(id, "");
    const char *payment = "{\"id\":\"order_EKwxwAgItmmXdp\",\"entity\":\"payment\",\"amount\":1}";
    assert_int_equal(tix_rzp_parse_order(payment, n(payment), 1, id), TIX_EUPSTREAM);
    const char *bad_id = ORDER_JSON("pay_EKwxwAgItmmXdp", "100");
    assert_int_equal(tix_rzp_parse_order(bad_id, n(bad_id), 100, id), TIX_EUPSTREAM);
    const char *slash = ORDER_JSON("order_a/b", "100");
    assert_int_equal(tix_rzp_parse_order(slash, n(slash), 100, id), TIX_EUPSTREAM);
    const char *str_amount = ORDER_JSON("order_EKwxwAgItmmXdp", "\"100\"");
    assert_int_equal(tix_rzp_parse_order(str_amount, n(str_amount), 100, id), TIX_EUPSTREAM);
    assert_int_equal(tix_rzp_parse_order("<html>", 6, 100, id), TIX_EUPSTREAM);
    assert_int_equal(tix_rzp_parse_order("[]", 2, 100, id), TIX_EUPSTREAM);
    assert_int_equal(tix_rzp_parse_order(NULL, 0, 100, id), TIX_EUPSTREAM);
    /* a truncated body (len shorter than the text) is malformed */
    assert_int_equal(tix_rzp_parse_order(good, n(good) - 1, 90000, id), TIX_EUPSTREAM);
}

static void test_parse_refund(void **state)
{
    (void)state;
    static const struct {
        const char *status;
        tix_rc rc;
        tix_rzp_refund_status want;
    } cases[] = {
        {"processed", TIX_OK, TIX_RZP_REFUND_PROCESSED},
        {"pending", TIX_OK, TIX_RZP_REFUND_PENDING},
        {"failed", TIX_OK, TIX_RZP_REFUND_FAILED},
        {"created", TIX_EUPSTREAM, TIX_RZP_REFUND_FAILED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"id\":\"rfnd_FP8QHiV938haTz\",\"entity\":\"refund\",\"amount\":500100,"
                 "\"payment_id\":\"pay_29QQoUBi66xm2f\",\"status\":\"%s\","
                 "\"speed_requested\":\"normal\",\"speed_processed\":\"normal\"}",
                 cases[i].status);
        char id[TIX_PAY_ID_MAX];
        tix_rzp_refund_status st = TIX_RZP_REFUND_FAILED;
        assert_int_equal(tix_rzp_parse_refund(body, n(body), id, &st), cases[i].rc);
        if (cases[i].rc == TIX_OK) {
            assert_string_equal(id, "rfnd_FP8QHiV938haTz");
            assert_int_equal(st, cases[i].want);
        }
    }
    char id[TIX_PAY_ID_MAX];
    tix_rzp_refund_status st;
    const char *order = ORDER_JSON("order_EKwxwAgItmmXdp", "100");
    assert_int_equal(tix_rzp_parse_refund(order, n(order), id, &st), TIX_EUPSTREAM);
}

static void test_parse_captured(void **state)
{
    (void)state;
    char id[TIX_PAY_ID_MAX];
    int64_t amt = 0;
    const char *two =
        "{\"entity\":\"collection\",\"count\":2,\"items\":["
        "{\"id\":\"pay_Failed00000001\",\"entity\":\"payment\",\"status\":\"failed\"},"
        "{\"id\":\"pay_Captured000001\",\"entity\":\"payment\",\"status\":\"captured\","
        "\"amount\":5000}]}";
    assert_int_equal(tix_rzp_parse_captured(two, n(two), 5000, id, &amt), TIX_OK);
    assert_string_equal(id, "pay_Captured000001");
    assert_int_equal(amt, 5000);
    /* Of two captured payments, the one of the wanted amount, wherever it is; else the first. */
    const char *wrong_first =
        "{\"items\":[{\"id\":\"pay_Wrong000000001\",\"status\":\"captured\",\"amount\":4999},"
        "{\"id\":\"pay_Right000000001\",\"status\":\"captured\",\"amount\":5000}]}";
    assert_int_equal(tix_rzp_parse_captured(wrong_first, n(wrong_first), 5000, id, &amt), TIX_OK);
    assert_string_equal(id, "pay_Right000000001");
    assert_int_equal(amt, 5000);
    assert_int_equal(tix_rzp_parse_captured(wrong_first, n(wrong_first), 7000, id, &amt), TIX_OK);
    assert_string_equal(id, "pay_Wrong000000001");
    assert_int_equal(amt, 4999);
    const char *none = "{\"entity\":\"collection\",\"count\":1,\"items\":["
                       "{\"id\":\"pay_Auth0000000001\",\"status\":\"authorized\"}]}";
    assert_int_equal(tix_rzp_parse_captured(none, n(none), 100, id, &amt), TIX_ENOTFOUND);
    assert_string_equal(id, "");
    assert_int_equal(amt, -1);
    const char *empty = "{\"entity\":\"collection\",\"count\":0,\"items\":[]}";
    assert_int_equal(tix_rzp_parse_captured(empty, n(empty), 100, id, &amt), TIX_ENOTFOUND);
    const char *no_items = "{\"entity\":\"collection\"}";
    assert_int_equal(tix_rzp_parse_captured(no_items, n(no_items), 100, id, &amt), TIX_EUPSTREAM);
    const char *bad_id = "{\"items\":[{\"id\":\"pay_x/../y\",\"status\":\"captured\","
                         "\"amount\":100}]}";
    assert_int_equal(tix_rzp_parse_captured(bad_id, n(bad_id), 100, id, &amt), TIX_EUPSTREAM);
    const char *no_amount = "{\"items\":[{\"id\":\"pay_NoAmount000001\",\"status\":\"captured\"}]}";
    assert_int_equal(tix_rzp_parse_captured(no_amount, n(no_amount), 100, id, &amt), TIX_EUPSTREAM);
}

static void test_parse_payment(void **state)
{
    (void)state;
    tix_pay_payment p;
    const char *ok = "{\"id\":\"pay_Captured000001\",\"entity\":\"payment\",\"amount\":5000,"
                     "\"order_id\":\"order_EKwxwAgItmmXdp\",\"status\":\"captured\"}";
    assert_int_equal(tix_rzp_parse_payment(ok, n(ok), &p), TIX_OK);
    assert_string_equal(p.order_id, "order_EKwxwAgItmmXdp");
    assert_int_equal(p.amount, 5000);
    const char *no_order = "{\"id\":\"pay_Captured000001\",\"entity\":\"payment\",\"amount\":5,"
                           "\"order_id\":null}";
    assert_int_equal(tix_rzp_parse_payment(no_order, n(no_order), &p), TIX_OK);
    assert_string_equal(p.order_id, "");
    const char *str_amount = "{\"id\":\"pay_Captured000001\",\"entity\":\"payment\","
                             "\"amount\":\"5000\"}";
    assert_int_equal(tix_rzp_parse_payment(str_amount, n(str_amount), &p), TIX_EUPSTREAM);
    assert_int_equal(p.amount, -1);
    const char *refund = "{\"id\":\"rfnd_x\",\"entity\":\"refund\",\"amount\":5000}";
    assert_int_equal(tix_rzp_parse_payment(refund, n(refund), &p), TIX_EUPSTREAM);
}

static void test_parse_error(void **state)
{
    (void)state;
    char out[64];
    const char *err = "{\"error\":{\"code\":\"BAD_REQUEST_ERROR\",\"description\":\"The amount "
                      "must be atleast INR 1.00\",\"field\":\"amount\"}}";
    tix_rzp_parse_error(err, n(err), out, sizeof(out));
    assert_string_equal(out, "BAD_REQUEST_ERROR: The amount must be atleast INR 1.00");
    tix_rzp_parse_error("oops", 4, out, sizeof(out));
    assert_string_equal(out, "ERROR: (no description)");
    char tiny[8];
    tix_rzp_parse_error(err, n(err), tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), 7); /* cut, terminated */
}

/* ---- webhook events ---- */

static void test_event_payment_captured(void **state)
{
    (void)state;
    const char *body =
        "{\"entity\":\"event\",\"account_id\":\"acc_BFQ7uQEaa7j2z7\",\"event\":\"payment."
        "captured\","
        "\"contains\":[\"payment\"],\"payload\":{\"payment\":{\"entity\":{\"id\":"
        "\"pay_DESlfW9H8K9uqM\",\"entity\":\"payment\",\"amount\":100,\"currency\":\"INR\","
        "\"status\":\"captured\",\"order_id\":\"order_DESlLckIVRkHWj\"}}},\"created_at\":"
        "1567674606}";
    tix_rzp_event ev;
    assert_int_equal(tix_rzp_parse_event(body, n(body), &ev), TIX_OK);
    assert_int_equal(ev.kind, TIX_RZP_EV_PAYMENT_CAPTURED);
    assert_string_equal(ev.type, "payment.captured");
    assert_string_equal(ev.order_id, "order_DESlLckIVRkHWj");
    assert_string_equal(ev.payment_id, "pay_DESlfW9H8K9uqM");
    assert_int_equal(ev.amount, 100);
    assert_string_equal(ev.refund_id, "");
}

static void test_event_order_paid_takes_the_orders_id(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"order.paid\",\"payload\":{"
                       "\"payment\":{\"entity\":{\"id\":\"pay_A\",\"amount\":500,"
                       "\"order_id\":\"order_FromPayment\"}},"
                       "\"order\":{\"entity\":{\"id\":\"order_FromOrder\",\"amount\":500}}}}";
    tix_rzp_event ev;
    assert_int_equal(tix_rzp_parse_event(body, n(body), &ev), TIX_OK);
    assert_int_equal(ev.kind, TIX_RZP_EV_ORDER_PAID);
    assert_string_equal(ev.order_id, "order_FromOrder");
    assert_string_equal(ev.payment_id, "pay_A");
    assert_int_equal(ev.amount, 500);
}

static void test_event_refunds(void **state)
{
    (void)state;
    const char *with_notes =
        "{\"event\":\"refund.processed\",\"payload\":{\"refund\":{\"entity\":{\"id\":"
        "\"rfnd_X\",\"payment_id\":\"pay_Y\",\"amount\":300,\"receipt\":\"ref_receipt0001\","
        "\"notes\":{\"refund_id\":\"ref_notes000001\"},\"status\":\"processed\"}}}}";
    tix_rzp_event ev;
    assert_int_equal(tix_rzp_parse_event(with_notes, n(with_notes), &ev), TIX_OK);
    assert_int_equal(ev.kind, TIX_RZP_EV_REFUND_PROCESSED);
    assert_string_equal(ev.refund_id, "rfnd_X");
    assert_string_equal(ev.payment_id, "pay_Y");
    assert_string_equal(ev.our_refund_id, "ref_notes000001");
    assert_int_equal(ev.amount, -1); /* a refund event carries no payment amount */
    /* Razorpay sends empty notes as [] : fall back to the receipt */
    const char *no_notes = "{\"event\":\"refund.failed\",\"payload\":{\"refund\":{\"entity\":{"
                           "\"id\":\"rfnd_X\",\"receipt\":\"ref_receipt0001\",\"notes\":[]}}}}";
    assert_int_equal(tix_rzp_parse_event(no_notes, n(no_notes), &ev), TIX_OK);
    assert_int_equal(ev.kind, TIX_RZP_EV_REFUND_FAILED);
    assert_string_equal(ev.our_refund_id, "ref_receipt0001");
}

static void test_event_other_and_malformed(void **state)
{
    (void)state;
    tix_rzp_event ev;
    const char *other = "{\"event\":\"payment.authorized\",\"payload\":{}}";
    assert_int_equal(tix_rzp_parse_event(other, n(other), &ev), TIX_OK);
    assert_int_equal(ev.kind, TIX_RZP_EV_OTHER);
    assert_string_equal(ev.type, "payment.authorized");
    const char *no_payload = "{\"event\":\"payment.captured\"}";
    assert_int_equal(tix_rzp_parse_event(no_payload, n(no_payload), &ev), TIX_OK);
    assert_string_equal(ev.order_id, "");
    assert_string_equal(ev.payment_id, "");
    /* wrong types are ignored, not trusted */
    const char *odd = "{\"event\":\"payment.captured\",\"payload\":{\"payment\":{\"entity\":{"
                      "\"id\":7,\"order_id\":[\"order_x\"],\"amount\":\"100\"}}}}";
    assert_int_equal(tix_rzp_parse_event(odd, n(odd), &ev), TIX_OK);
    assert_string_equal(ev.order_id, "");
    assert_string_equal(ev.payment_id, "");
    assert_int_equal(ev.amount, -1);
    const char *bad[] = {"",
                         "[]",
                         "{}",
                         "{\"event\":1}",
                         "{\"event\":\"\"}",
                         "not json",
                         "{\"event\":\"payment.captured\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tix_rzp_parse_event(bad[i], n(bad[i]), &ev), TIX_EINVAL);
    }
    /* an over-long id is dropped rather than cut */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"event\":\"payment.failed\",\"payload\":{\"payment\":{\"entity\":{\"id\":\"pay_"
             "%0100d\",\"order_id\":\"order_1\"}}}}",
             0);
    assert_int_equal(tix_rzp_parse_event(body, n(body), &ev), TIX_OK);
    assert_string_equal(ev.payment_id, "");
    assert_string_equal(ev.order_id, "order_1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_signature),
        cmocka_unit_test(test_checkout_signature),
        cmocka_unit_test(test_ids_and_idempotency_keys),
        cmocka_unit_test(test_order_body),
        cmocka_unit_test(test_order_body_refuses_what_razorpay_would),
        cmocka_unit_test(test_refund_body),
        cmocka_unit_test(test_parse_order),
        cmocka_unit_test(test_parse_refund),
        cmocka_unit_test(test_parse_captured),
        cmocka_unit_test(test_parse_payment),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_event_payment_captured),
        cmocka_unit_test(test_event_order_paid_takes_the_orders_id),
        cmocka_unit_test(test_event_refunds),
        cmocka_unit_test(test_event_other_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
