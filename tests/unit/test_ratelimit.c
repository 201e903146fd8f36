/* Unit tests for the rate-limit pieces that need no server: the RATE_LIMIT_* and proxy
 * configuration, CIDR blocks, the client address behind proxies (X-Forwarded-For) and the
 * in-process counter store's windows. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "cache/cache.h"
#include "core/config.h"
#include "http/clientip.h"
#include "http/ratelimit.h"
#include "support.h"

#include <stdio.h>
#include <string.h>

static void test_rate_limit_defaults(void **state)
{
    (void)state;
    static const kv none[] = {{NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(tix_test_load(none, &cfg, err, sizeof(err)), TIX_OK);
    assert_true(cfg.rate_limit_enabled);
    assert_int_equal(cfg.rl_login_ip.limit, 10);
    assert_int_equal(cfg.rl_login_mail.limit, 5);
    assert_int_equal(cfg.rl_register_ip.limit, 5);
    assert_int_equal(cfg.rl_hold_user.limit, 30);
    assert_int_equal(cfg.rl_hold_user.window_ms, 60000);
    assert_false(cfg.trust_proxy);
    assert_int_equal(cfg.ntrusted_proxies, 2); /* 127.0.0.1/32 and ::1 */
}

static void test_rate_limit_values(void **state)
{
    (void)state;
    static const kv vars[] = {{"RATE_LIMIT_LOGIN_IP", "3/2s"},
                              {"RATE_LIMIT_LOGIN_EMAIL", "0"},
                              {"RATE_LIMIT_REGISTER_IP", "7/500ms"},
                              {"RATE_LIMIT_HOLD_USER", "100"},
                              {"RATE_LIMIT", "off"},
                              {NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(tix_test_load(vars, &cfg, err, sizeof(err)), TIX_OK);
    assert_false(cfg.rate_limit_enabled);
    assert_int_equal(cfg.rl_login_ip.limit, 3);
    assert_int_equal(cfg.rl_login_ip.window_ms, 2000);
    assert_int_equal(cfg.rl_login_mail.limit, 0);
    assert_int_equal(cfg.rl_register_ip.window_ms, 500);
    assert_int_equal(cfg.rl_hold_user.limit, 100);
    assert_int_equal(cfg.rl_hold_user.window_ms, 60000);
}

static void test_rate_limit_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"ten",   "10/",     "10/x",    "-1/1m", "10/50ms",
                                      "10/2d", "2000000", "10/1m/2", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const kv vars[] = {{"RATE_LIMIT_HOLD_USER", bad[i]}, {NULL, NULL}};
        tix_config cfg;
        char err[512];
        if (tix_test_load(vars, &cfg, err, sizeof(err)) != TIX_EINVAL) {
            fail_msg("RATE_LIMIT_HOLD_USER=\"%s\" was accepted", bad[i]);
        }
        assert_non_null(strstr(err, "RATE_LIMIT_HOLD_USER"));
    }
    const kv onoff[] = {{"RATE_LIMIT", "maybe"}, {NULL, NULL}};
    const kv proxy[] = {{"TRUST_PROXY", "yes please"}, {NULL, NULL}};
    const kv list[] = {{"TRUSTED_PROXIES", "10.0.0.0/33"}, {NULL, NULL}};
    tix_config cfg;
    char err[512];
    assert_int_equal(tix_test_load(onoff, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_int_equal(tix_test_load(proxy, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_int_equal(tix_test_load(list, &cfg, err, sizeof(err)), TIX_EINVAL);
    assert_non_null(strstr(err, "TRUSTED_PROXIES"));
}

static void test_cidr(void **state)
{
    (void)state;
    tix_cidr c[3];
    assert_true(tix_config_parse_cidr("10.1.2.3/8", &c[0])); /* host bits are dropped */
    assert_int_equal(c[0].bits, 8);
    assert_true(tix_config_parse_cidr("2001:db8::/32", &c[1]));
    assert_true(tix_config_parse_cidr("192.168.1.7", &c[2]));
    assert_int_equal(c[2].bits, 32);
    assert_true(tix_cidr_list_contains(c, 3, "10.200.0.1"));
    assert_false(tix_cidr_list_contains(c, 3, "11.0.0.1"));
    assert_true(tix_cidr_list_contains(c, 3, "2001:db8:ffff::1"));
    assert_false(tix_cidr_list_contains(c, 3, "2001:db9::1"));
    assert_true(tix_cidr_list_contains(c, 3, "192.168.1.7"));
    assert_false(tix_cidr_list_contains(c, 3, "192.168.1.8"));
    assert_true(tix_cidr_list_contains(c, 3, "::ffff:10.0.0.1")); /* IPv4-mapped */
    tix_cidr odd;
    assert_true(tix_config_parse_cidr("172.16.0.0/12", &odd));
    assert_true(tix_cidr_list_contains(&odd, 1, "172.31.255.255"));
    assert_false(tix_cidr_list_contains(&odd, 1, "172.32.0.0"));
    static const char *const bad[] = {"",         "/8",      "10.0.0.0/",   "10.0.0.0/x",
                                      "10.0.0/8", "::1/129", "host.example"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tix_config_parse_cidr(bad[i], &odd)) {
            fail_msg("\"%s\" parsed as a CIDR block", bad[i]);
        }
    }
}

static void proxy_config(tix_config *cfg, bool on, const char *list)
{
    const kv vars[] = {{"TRUST_PROXY", on ? "on" : "off"}, {"TRUSTED_PROXIES", list}, {NULL, NULL}};
    char err[512];
    assert_int_equal(tix_test_load(vars, cfg, err, sizeof(err)), TIX_OK);
}

typedef struct ip_case {
    bool on;
    const char *peer;
    const char *xff;
    const char *want;
} ip_case;

static void test_client_ip(void **state)
{
    (void)state;
    static const ip_case cases[] = {
        /* off: the header is never read */
        {false, "127.0.0.1", "203.0.113.9", "127.0.0.1"},
        /* on, peer trusted: the right-most untrusted hop */
        {true, "127.0.0.1", "203.0.113.9", "203.0.113.9"},
        {true, "127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
        {true, "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"},
        {true, "127.0.0.1", " 10.0.0.7 ,10.0.0.5", "10.0.0.7"}, /* all trusted: the first */
        {true, "127.0.0.1", "garbage, 203.0.113.9:5555", "203.0.113.9"},
        {true, "127.0.0.1", "203.0.113.9, garbage", "127.0.0.1"}, /* stop at a bad hop */
        {true, "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"},
        {true, "127.0.0.1", "2001:DB8:0::1", "2001:db8::1"}, /* canonical text */
        {true, "127.0.0.1", "", "127.0.0.1"},
        {true, "127.0.0.1", NULL, "127.0.0.1"},
        /* on, peer not a trusted proxy: the header is a client's word */
        {true, "198.51.100.4", "203.0.113.9", "198.51.100.4"},
        {true, "::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9"},
        {true, "nonsense", "203.0.113.9", ""},
    };
    tix_config on;
    tix_config off;
    proxy_config(&on, true, "127.0.0.1/32, 10.0.0.0/8");
    proxy_config(&off, false, "127.0.0.1/32, 10.0.0.0/8");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[TIX_IP_TEXT];
        tix_client_ip_resolve(cases[i].on ? &on : &off, cases[i].peer, cases[i].xff, out);
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("case %zu: peer %s, X-Forwarded-For \"%s\": got \"%s\", want \"%s\"", i,
                     cases[i].peer, cases[i].xff ? cases[i].xff : "(none)", out, cases[i].want);
        }
    }
}

static void test_counter_windows(void **state)
{
    (void)state;
    tix_counter_local_clear();
    int64_t n = 0;
    int64_t reset = 0;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tix_counter_incr_local("rl:a", 1000, 1, 5000 + i, &n, &reset), TIX_OK);
        assert_int_equal(n, i);
        assert_int_equal(reset, 1000 - (i - 1)); /* the window began at the first request */
    }
    assert_int_equal(tix_counter_incr_local("rl:b", 1000, 1, 5003, &n, &reset), TIX_OK);
    assert_int_equal(n, 1); /* keys are independent */
    assert_int_equal(tix_counter_incr_local("rl:a", 1000, 1, 6000, &n, &reset), TIX_OK);
    assert_int_equal(n, 4); /* 6000 < 5001 + 1000 */
    assert_int_equal(tix_counter_incr_local("rl:a", 1000, 1, 6001, &n, &reset), TIX_OK);
    assert_int_equal(n, 1); /* a new window */
    assert_int_equal(reset, 1000);
    tix_counter_local_clear();
}

/* A count given back (by -1) lowers a live counter; to a counter whose window is over (or that
 * never was) it makes nothing, so it cannot start a window or go below zero there. */
static void test_counter_give_back(void **state)
{
    (void)state;
    tix_counter_local_clear();
    int64_t n = 0;
    int64_t reset = 0;
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, -1, 100, &n, &reset), TIX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(reset, 0);
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, 1, 100, &n, &reset), TIX_OK);
    assert_int_equal(n, 1); /* no window was started by the give-back */
    assert_int_equal(reset, 1000);
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, 1, 200, &n, &reset), TIX_OK);
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, -1, 300, &n, &reset), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(reset, 800); /* the window is not moved */
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, -1, 1100, &n, &reset), TIX_OK);
    assert_int_equal(n, 0); /* the window ended: nothing to give back to */
    assert_int_equal(tix_counter_incr_local("rl:g", 1000, 1, 1100, &n, &reset), TIX_OK);
    assert_int_equal(n, 1);
    tix_counter_local_clear();
}

static void test_counter_many_keys(void **state)
{
    (void)state;
    tix_counter_local_clear();
    char key[64];
    int64_t n = 0;
    int64_t reset = 0;
    /* More keys than one sweep period; expired ones are swept, live ones keep counting. */
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "rl:k:%d", i % 5000);
        assert_int_equal(tix_counter_incr_local(key, 10, 1, i / 100, &n, &reset), TIX_OK);
    }
    assert_int_equal(tix_counter_incr_local("rl:k:1", 100000, 1, 1000, &n, &reset), TIX_OK);
    assert_int_equal(n, 1);
    tix_counter_local_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit_defaults), cmocka_unit_test(test_rate_limit_values),
        cmocka_unit_test(test_rate_limit_errors),   cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_client_ip),           cmocka_unit_test(test_counter_windows),
        cmocka_unit_test(test_counter_give_back),   cmocka_unit_test(test_counter_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
