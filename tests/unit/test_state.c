/* The booking state machine, exhaustively: every (status, event) pair against the table the
 * product promises (API.md, PROVIDERS.md: a capture may follow a failure; nothing moves back). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/state.h"

#define NO (-1)

/* expected[from][event], written independently of state.c's table. */
static const int expected[TIX_BK_STATUS_COUNT][TIX_EV_COUNT] = {
    /* paid, paid_seats_gone, payment_failed, hold_expired, user_cancel, show_cancelled */
    [TIX_BK_PENDING_PAYMENT] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, TIX_BK_FAILED,
                                TIX_BK_EXPIRED, NO, TIX_BK_EXPIRED},
    [TIX_BK_CONFIRMED] = {TIX_BK_CONFIRMED, NO, NO, NO, TIX_BK_CANCELLED_REFUNDED,
                          TIX_BK_CANCELLED_REFUNDED},
    [TIX_BK_EXPIRED] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, NO, NO, NO, NO},
    [TIX_BK_FAILED] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, NO, TIX_BK_FAILED, NO,
                       TIX_BK_FAILED},
    [TIX_BK_CANCELLED_REFUNDED] = {NO, NO, NO, NO, NO, NO},
    [TIX_BK_EXPIRED_REFUNDED] = {NO, NO, NO, NO, NO, NO},
};

static void test_every_pair(void **state)
{
    (void)state;
    for (int s = 0; s < TIX_BK_STATUS_COUNT; s++) {
        for (int e = 0; e < TIX_EV_COUNT; e++) {
            tix_booking_status to = TIX_BK_STATUS_COUNT;
            bool ok = tix_booking_next((tix_booking_status)s, (tix_booking_event)e, &to);
            if (expected[s][e] == NO) {
                assert_false(ok);
                assert_int_equal(to, TIX_BK_STATUS_COUNT); /* untouched */
            } else {
                assert_true(ok);
                assert_int_equal(to, expected[s][e]);
            }
        }
    }
}

static void test_terminal_states_stay(void **state)
{
    (void)state;
    const tix_booking_status terminal[] = {TIX_BK_CANCELLED_REFUNDED, TIX_BK_EXPIRED_REFUNDED};
    for (size_t i = 0; i < 2; i++) {
        for (int e = 0; e < TIX_EV_COUNT; e++) {
            tix_booking_status to;
            assert_false(tix_booking_next(terminal[i], (tix_booking_event)e, &to));
        }
    }
}

/* Whatever order payment events arrive in, a paid booking never ends unpaid. */
static void test_capture_wins_over_failure_in_any_order(void **state)
{
    (void)state;
    tix_booking_status s = TIX_BK_PENDING_PAYMENT;
    assert_true(tix_booking_next(s, TIX_EV_PAYMENT_FAILED, &s));
    assert_true(tix_booking_next(s, TIX_EV_PAID, &s));
    assert_int_equal(s, TIX_BK_CONFIRMED);
    assert_false(tix_booking_next(s, TIX_EV_PAYMENT_FAILED, &s)); /* a stale failure */
    assert_int_equal(s, TIX_BK_CONFIRMED);
}

static void test_out_of_range(void **state)
{
    (void)state;
    tix_booking_status to;
    assert_false(tix_booking_next(TIX_BK_STATUS_COUNT, TIX_EV_PAID, &to));
    assert_false(tix_booking_next(TIX_BK_PENDING_PAYMENT, TIX_EV_COUNT, &to));
    assert_false(tix_booking_next((tix_booking_status)-1, TIX_EV_PAID, &to));
}

static void test_names_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < TIX_BK_STATUS_COUNT; s++) {
        tix_booking_status back;
        assert_true(
            tix_booking_status_parse(tix_booking_status_name((tix_booking_status)s), &back));
        assert_int_equal(back, s);
    }
    tix_booking_status x;
    assert_false(tix_booking_status_parse("paid", &x));
    assert_false(tix_booking_status_parse(NULL, &x));
    assert_string_equal(tix_booking_status_name(TIX_BK_STATUS_COUNT), "unknown");
    assert_string_equal(tix_booking_event_name(TIX_EV_USER_CANCEL), "user_cancel");
}

/* core/model.h: the hold statuses are the holds.status column's words, in its CHECK's order. */
static void test_hold_status_names(void **state)
{
    (void)state;
    static const char *const words[] = {"active", "released", "replaced", "booked"};
    for (int s = 0; s < TIX_HOLD_STATUS_COUNT; s++) {
        tix_hold_status back = TIX_HOLD_STATUS_COUNT;
        assert_string_equal(tix_hold_status_name((tix_hold_status)s), words[s]);
        assert_true(tix_hold_status_parse(words[s], &back));
        assert_int_equal(back, s);
    }
    tix_hold_status x = TIX_HOLD_BOOKED;
    assert_false(tix_hold_status_parse("expired", &x));
    assert_false(tix_hold_status_parse("Active", &x));
    assert_false(tix_hold_status_parse(NULL, &x));
    assert_int_equal(x, TIX_HOLD_BOOKED); /* untouched on failure */
    assert_string_equal(tix_hold_status_name(TIX_HOLD_STATUS_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_terminal_states_stay),
        cmocka_unit_test(test_capture_wins_over_failure_in_any_order),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_hold_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
