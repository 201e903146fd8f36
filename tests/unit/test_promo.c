/* Promo codes, the pure parts (booking/promo.h): normalising a code and the discount with its
 * floor at the payment provider's smallest order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/promo.h"

#include <string.h>

static void test_normalize(void **state)
{
    (void)state;
    char out[TIX_PROMO_CODE_MAX + 1];
    assert_true(tix_promo_normalize("diwali-25_x", out));
    assert_string_equal(out, "DIWALI-25_X");
    assert_true(tix_promo_normalize("abc", out));
    assert_true(tix_promo_normalize("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", out)); /* 32 */
    const char *bad[] = {
        NULL,        "",          "ab",          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
        "has space", "tab\tcode", "caf\xc3\xa9", "semi;colon",
        "per%cent",  "quote'd"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(tix_promo_normalize(bad[i], out));
    }
}

static int64_t discount(const char *kind, int64_t value, int64_t amount, int64_t min_charge)
{
    tix_promo p;
    memset(&p, 0, sizeof(p));
    p.kind = (char *)kind;
    p.value = value;
    return tix_promo_discount(&p, amount, min_charge);
}

static void test_discount(void **state)
{
    (void)state;
    assert_int_equal(discount("percent", 10, 45000, 1), 4500);
    assert_int_equal(discount("percent", 15, 999, 1), 149); /* 149.85: rounded down */
    assert_int_equal(discount("percent", 100, 45000, 1), 44999);
    assert_int_equal(discount("percent", 100, 45000, 100), 44900); /* Razorpay: 100 paise left */
    assert_int_equal(discount("amount", 7000, 20000, 1), 7000);
    assert_int_equal(discount("amount", 20000, 20000, 1), 19999);
    assert_int_equal(discount("amount", 1000000000, 20000, 100), 19900);
    assert_int_equal(discount("amount", 500, 80, 100), 0); /* below the minimum already */
    assert_int_equal(discount("percent", 50, 0, 1), 0);
    /* no overflow on the largest amounts */
    assert_int_equal(discount("percent", 100, INT64_MAX / 2, 1), INT64_MAX / 2 - 1);
    assert_int_equal(discount("percent", 33, 1000000000000000LL, 1), 330000000000000LL);
}

static void test_problem_codes(void **state)
{
    (void)state;
    assert_string_equal(tix_promo_problem_code(TIX_PROMO_USED_UP), "promo_code_used_up");
    assert_string_equal(tix_promo_problem_code(TIX_PROMO_CURRENCY_MISMATCH),
                        "promo_code_currency_mismatch");
    for (int p = TIX_PROMO_UNKNOWN; p <= TIX_PROMO_CURRENCY_MISMATCH; p++) {
        assert_int_equal(strncmp(tix_promo_problem_code((tix_promo_problem)p), "promo_code_", 11),
                         0);
        assert_non_null(tix_promo_problem_message((tix_promo_problem)p));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_discount),
        cmocka_unit_test(test_problem_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
