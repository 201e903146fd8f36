/* Unit tests for core/currency: the ISO 4217 table, Razorpay steps, rate parsing and exact
 * half-even conversion between 0-, 2- and 3-decimal currencies. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/currency.h"

#include <string.h>

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(tix_currency_find("INR")->exponent, 2);
    assert_int_equal(tix_currency_find("JPY")->exponent, 0);
    assert_int_equal(tix_currency_find("KRW")->exponent, 0);
    assert_int_equal(tix_currency_find("KWD")->exponent, 3);
    assert_int_equal(tix_currency_find("TND")->exponent, 3);
    assert_null(tix_currency_find("inr"));
    assert_null(tix_currency_find("XXX"));
    assert_null(tix_currency_find(""));
    assert_null(tix_currency_find(NULL));
}

static void test_razorpay_steps(void **state)
{
    (void)state;
    assert_true(tix_currency_razorpay_ok(tix_currency_find("INR"), 12345));
    assert_true(tix_currency_razorpay_ok(tix_currency_find("JPY"), 295));
    assert_true(tix_currency_razorpay_ok(tix_currency_find("KWD"), 99990));
    assert_false(tix_currency_razorpay_ok(tix_currency_find("KWD"), 99991));
    assert_false(tix_currency_razorpay_ok(tix_currency_find("JOD"), 1000));
    assert_false(tix_currency_razorpay_ok(tix_currency_find("KRW"), 1000));
    assert_false(tix_currency_razorpay_ok(NULL, 100));
}

static void test_rate_parse(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_true(tix_rate_parse("83", &v));
    assert_int_equal(v, 83 * TIX_RATE_SCALE);
    assert_true(tix_rate_parse("0.012034", &v));
    assert_int_equal(v, 12034000);
    assert_true(tix_rate_parse("0.000000001", &v));
    assert_int_equal(v, 1);
    assert_true(tix_rate_parse("999999999.999999999", &v));
    static const char *const bad[] = {"",    "0",   "0.0",        "-1",           "+1",
                                      "1e3", ".5",  "5.",         "1.0000000001", "1,5",
                                      "1 ",  "abc", "1000000000", "NaN",          "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        assert_false(tix_rate_parse(bad[i], &v));
        assert_int_equal(v, 42);
    }
    char out[TIX_RATE_TEXT_MAX];
    tix_rate_format(out, 12034000);
    assert_string_equal(out, "0.012034");
    tix_rate_format(out, 83 * TIX_RATE_SCALE);
    assert_string_equal(out, "83");
    tix_rate_format(out, 1);
    assert_string_equal(out, "0.000000001");
}

static int64_t conv(int64_t amount, const char *from, const char *from_rate, const char *to,
                    const char *to_rate)
{
    int64_t fr = 0;
    int64_t tr = 0;
    int64_t out = -1;
    assert_true(tix_rate_parse(from_rate, &fr));
    assert_true(tix_rate_parse(to_rate, &tr));
    assert_true(
        tix_currency_convert(amount, tix_currency_find(from), fr, tix_currency_find(to), tr, &out));
    return out;
}

static void test_convert(void **state)
{
    (void)state;
    /* Rs 1,000 (100000 paise) at 1.78 JPY per INR: 1780 yen (0 decimals). */
    assert_int_equal(conv(100000, "INR", "1", "JPY", "1.78"), 1780);
    /* ... at 0.003651 KWD per INR: 3.651 KWD = 3651 fils (3 decimals). */
    assert_int_equal(conv(100000, "INR", "1", "KWD", "0.003651"), 3651);
    /* ... at 0.012034 USD per INR: 12.034 USD -> 1203 cents. */
    assert_int_equal(conv(100000, "INR", "1", "USD", "0.012034"), 1203);
    /* Back: 1780 yen -> INR at 1.78: exactly 100000 paise. */
    assert_int_equal(conv(1780, "JPY", "1.78", "INR", "1"), 100000);
    /* Cross: 1203 cents USD -> KWD via INR. 12.03 / 0.012034 * 0.003651 = 3.64978... -> 3650. */
    assert_int_equal(conv(1203, "USD", "0.012034", "KWD", "0.003651"), 3650);
    /* Half to even on the exact half: 0.5 cents -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4. */
    assert_int_equal(conv(1, "INR", "1", "USD", "0.5"), 0);
    assert_int_equal(conv(3, "INR", "1", "USD", "0.5"), 2);
    assert_int_equal(conv(5, "INR", "1", "USD", "0.5"), 2);
    assert_int_equal(conv(7, "INR", "1", "USD", "0.5"), 4);
    /* 0-decimal half: 150 paise at 1 JPY/INR is 1.5 yen -> 2; 250 paise -> 2.5 -> 2. */
    assert_int_equal(conv(150, "INR", "1", "JPY", "1"), 2);
    assert_int_equal(conv(250, "INR", "1", "JPY", "1"), 2);
    /* Just above a half rounds up. */
    assert_int_equal(conv(251, "INR", "1", "JPY", "1"), 3);
    assert_int_equal(conv(0, "INR", "1", "KWD", "0.003651"), 0);
    /* Refusals. */
    int64_t out = 7;
    assert_false(
        tix_currency_convert(1, tix_currency_find("INR"), 0, tix_currency_find("USD"), 1, &out));
    assert_false(
        tix_currency_convert(-1, tix_currency_find("INR"), 1, tix_currency_find("USD"), 1, &out));
    assert_false(tix_currency_convert(1, NULL, 1, tix_currency_find("USD"), 1, &out));
    assert_false(tix_currency_convert(INT64_MAX, tix_currency_find("INR"), 1,
                                      tix_currency_find("USD"), 1, &out));
    assert_int_equal(out, 7);
    /* The largest accepted amount with the largest rate converts without overflow; a result
     * beyond int64 is refused. */
    assert_true(tix_currency_convert(INT64_C(100000000000000000), tix_currency_find("INR"),
                                     999999999 * TIX_RATE_SCALE, tix_currency_find("JPY"),
                                     999999999 * TIX_RATE_SCALE, &out));
    assert_int_equal(out, INT64_C(1000000000000000));
    out = 7;
    assert_false(tix_currency_convert(INT64_C(100000000000000000), tix_currency_find("JPY"), 1,
                                      tix_currency_find("KWD"), 999999999 * TIX_RATE_SCALE, &out));
    assert_int_equal(out, 7);
}

static void test_format(void **state)
{
    (void)state;
    char out[TIX_MONEY_TEXT_MAX];
    tix_currency_format(out, "JPY", 1800);
    assert_string_equal(out, "JPY 1800");
    tix_currency_format(out, "INR", 55050);
    assert_string_equal(out, "INR 550.50");
    tix_currency_format(out, "INR", 5);
    assert_string_equal(out, "INR 0.05");
    tix_currency_format(out, "KWD", 3650);
    assert_string_equal(out, "KWD 3.650");
    tix_currency_format(out, "BHD", 7);
    assert_string_equal(out, "BHD 0.007");
    tix_currency_format(out, "USD", -1999);
    assert_string_equal(out, "USD -19.99");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),      cmocka_unit_test(test_razorpay_steps),
        cmocka_unit_test(test_rate_parse), cmocka_unit_test(test_convert),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
