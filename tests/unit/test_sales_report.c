/* The sales report's dates (booking/sales_report.h): strict YYYY-MM-DD parsing, and days since
 * 1970 written back, checked against dates worked out by hand and round-tripped over 400 years
 * (every leap rule). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/sales_report.h"

#include <stdio.h>

static void test_known_days(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t day;
    } known[] = {{"1970-01-01", 0},     {"1970-01-02", 1},     {"2000-02-29", 11016},
                 {"2000-03-01", 11017}, {"2026-12-06", 20793}, {"2024-12-31", 20088},
                 {"2100-03-01", 47541}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int64_t day = -1;
        assert_true(tix_sales_day_parse(known[i].s, &day));
        assert_int_equal(day, known[i].day);
        char buf[16];
        tix_sales_day_format(known[i].day, buf);
        assert_string_equal(buf, known[i].s);
    }
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {NULL,          "",           "2026-1-01",  "2026-01-1",
                         "2026/01/01",  "2026-00-10", "2026-13-01", "2026-02-29",
                         "2100-02-29",  "2026-04-31", "1969-12-31", "2026-01-01x",
                         " 2026-01-01", "+026-01-01", "2026-01-0a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t day = 77;
        assert_false(tix_sales_day_parse(bad[i], &day));
        assert_int_equal(day, 77); /* untouched */
    }
    int64_t day = 0;
    assert_true(tix_sales_day_parse("2024-02-29", &day)); /* a leap year */
    assert_true(tix_sales_day_parse("2000-02-29", &day)); /* divisible by 400 */
}

static void test_round_trip(void **state)
{
    (void)state;
    const int64_t last = 146097 + 20000; /* 400 years and more from 1970 */
    for (int64_t d = 0; d <= last; d++) {
        char buf[16];
        tix_sales_day_format(d, buf);
        int64_t back = -1;
        assert_true(tix_sales_day_parse(buf, &back));
        assert_int_equal(back, d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_days),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
