/* The Razorpay variables of core/config: all three keys together or none, their shapes, the API
 * base (https, or http only to this machine), and messages that never repeat a secret. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/config.h"
#include "support.h"

#include <string.h>

#define KEY_ID  "rzp_test_1DP5mmOlF5G5ag"
#define SECRET  "thisisasecretkey00000000"
#define WEBHOOK "webhook-secret-0123"

static tix_rc load(const kv *vars, tix_config *cfg, char *err)
{
    return tix_test_load(vars, cfg, err, 512);
}

static void test_unset_means_the_test_provider(void **state)
{
    (void)state;
    static const kv none[] = {{NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(load(none, &cfg, err), TIX_OK);
    assert_string_equal(cfg.razorpay_key_id, "");
    assert_string_equal(cfg.razorpay_api_base, "https://api.razorpay.com/v1");
    assert_string_equal(cfg.razorpay_checkout_url, "https://checkout.razorpay.com/v1/checkout.js");
}

static void test_all_three_and_a_base(void **state)
{
    (void)state;
    static const kv vars[] = {{"RAZORPAY_KEY_ID", KEY_ID},
                              {"RAZORPAY_KEY_SECRET", SECRET},
                              {"RAZORPAY_WEBHOOK_SECRET", WEBHOOK},
                              {"RAZORPAY_API_BASE", "http://127.0.0.1:9000/v1//"},
                              {NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(load(vars, &cfg, err), TIX_OK);
    assert_string_equal(cfg.razorpay_key_id, KEY_ID);
    assert_string_equal(cfg.razorpay_key_secret, SECRET);
    assert_string_equal(cfg.razorpay_webhook_secret, WEBHOOK);
    assert_string_equal(cfg.razorpay_api_base, "http://127.0.0.1:9000/v1");
}

typedef struct bad_case {
    const char *id;
    const char *secret;
    const char *webhook;
    const char *base;
    const char *names; /* the variable the message must name */
} bad_case;

static void test_bad_settings_name_the_variable(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {KEY_ID, NULL, NULL, NULL, "RAZORPAY_KEY_SECRET"},
        {KEY_ID, SECRET, NULL, NULL, "RAZORPAY_WEBHOOK_SECRET"},
        {NULL, SECRET, WEBHOOK, NULL, "RAZORPAY_KEY_ID"},
        {NULL, NULL, WEBHOOK, NULL, "RAZORPAY_KEY_ID"},
        {NULL, NULL, NULL, "https://api.razorpay.com/v1", "RAZORPAY_API_BASE"},
        {"rzp_prod_123456", SECRET, WEBHOOK, NULL, "RAZORPAY_KEY_ID"},
        {"rzp_test_", SECRET, WEBHOOK, NULL, "RAZORPAY_KEY_ID"},
        {KEY_ID, "short", WEBHOOK, NULL, "RAZORPAY_KEY_SECRET"},
        {KEY_ID, "with a space 123", WEBHOOK, NULL, "RAZORPAY_KEY_SECRET"},
        {KEY_ID, SECRET, "tab\tin-secret", NULL, "RAZORPAY_WEBHOOK_SECRET"},
        {KEY_ID, SECRET, WEBHOOK, "http://api.razorpay.com/v1", "RAZORPAY_API_BASE"},
        {KEY_ID, SECRET, WEBHOOK, "http://127.0.0.1.evil.example/v1", "RAZORPAY_API_BASE"},
        {KEY_ID, SECRET, WEBHOOK, "http://localhost@evil.example/v1", "RAZORPAY_API_BASE"},
        {KEY_ID, SECRET, WEBHOOK, "ftp://api.razorpay.com", "RAZORPAY_API_BASE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const kv vars[] = {{"RAZORPAY_KEY_ID", cases[i].id},
                           {"RAZORPAY_KEY_SECRET", cases[i].secret},
                           {"RAZORPAY_WEBHOOK_SECRET", cases[i].webhook},
                           {"RAZORPAY_API_BASE", cases[i].base},
                           {NULL, NULL}};
        tix_config cfg;
        char err[512];
        if (load(vars, &cfg, err) != TIX_EINVAL) {
            fail_msg("case %zu was accepted", i);
        }
        if (strstr(err, cases[i].names) == NULL) {
            fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].names);
        }
        assert_null(strstr(err, SECRET));
        assert_null(strstr(err, WEBHOOK));
    }
}

static void test_loopback_forms(void **state)
{
    (void)state;
    static const char *const ok[] = {"http://localhost:8080", "http://[::1]:1/v1",
                                     "http://127.0.0.1", "https://rzp.example.com/v1"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const kv vars[] = {{"RAZORPAY_KEY_ID", KEY_ID},
                           {"RAZORPAY_KEY_SECRET", SECRET},
                           {"RAZORPAY_WEBHOOK_SECRET", WEBHOOK},
                           {"RAZORPAY_API_BASE", ok[i]},
                           {NULL, NULL}};
        tix_config cfg;
        char err[512];
        if (load(vars, &cfg, err) != TIX_OK) {
            fail_msg("%s refused: %s", ok[i], err);
        }
    }
}

/* RAZORPAY_CHECKOUT_URL goes into a page's Content-Security-Policy (api/web_api.c): https://,
 * or http:// to this machine; never without the keys, never with a character that could end
 * a CSP source or directive. */
static void test_checkout_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool ok;
    } cases[] = {
        {"http://127.0.0.1:9999/v1/checkout.js", true},
        {"https://cdn.example.com/checkout.js", true},
        {"http://checkout.razorpay.com/v1/checkout.js", false},
        {"https://x.example/c.js; script-src *", false},
        {"https://x.example/c.js 'unsafe-inline'", false},
        {"https://x.example/c.js,evil", false},
        {"javascript:alert(1)", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const kv vars[] = {{"RAZORPAY_KEY_ID", KEY_ID},
                           {"RAZORPAY_KEY_SECRET", SECRET},
                           {"RAZORPAY_WEBHOOK_SECRET", WEBHOOK},
                           {"RAZORPAY_CHECKOUT_URL", cases[i].url},
                           {NULL, NULL}};
        tix_config cfg;
        char err[512] = "";
        tix_rc rc = load(vars, &cfg, err);
        if (cases[i].ok && rc != TIX_OK) {
            fail_msg("%s refused: %s", cases[i].url, err);
        }
        if (!cases[i].ok && (rc == TIX_OK || strstr(err, "RAZORPAY_CHECKOUT_URL") == NULL)) {
            fail_msg("%s accepted (or the message does not name it): %s", cases[i].url, err);
        }
        if (cases[i].ok) {
            assert_string_equal(cfg.razorpay_checkout_url, cases[i].url);
        }
    }
    static const kv alone[] = {{"RAZORPAY_CHECKOUT_URL", "https://checkout.razorpay.com/x.js"},
                               {NULL, NULL}};
    tix_config cfg;
    char err[512] = "";
    assert_int_not_equal(load(alone, &cfg, err), TIX_OK);
    assert_non_null(strstr(err, "RAZORPAY_CHECKOUT_URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_means_the_test_provider),
        cmocka_unit_test(test_all_three_and_a_base),
        cmocka_unit_test(test_bad_settings_name_the_variable),
        cmocka_unit_test(test_loopback_forms),
        cmocka_unit_test(test_checkout_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
