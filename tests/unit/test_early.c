/* Hold refusals from the claims view (booking/early.h): the view's text round trip, and when a
 * hold is (and is not) sure to be refused. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/early.h"

#include <stdio.h>
#include <string.h>

#define NOW     1000000
#define STARTS  (NOW + 3600000)
#define ME      "usr_me"
#define RIVAL   "usr_rival"
#define N_SEATS 5

/* s1 free (front), s2 held by the rival, s3 sold to the rival, s4 held by me, s5 blocked. */
static char *make_view(tix_arena *a, bool cancelled, int64_t starts_at)
{
    static tix_map_seat seats[N_SEATS];
    static char ids[N_SEATS][4] = {"s1", "s2", "s3", "s4", "s5"};
    static char front[] = "front", back[] = "back", me[] = ME, rival[] = RIVAL;
    memset(seats, 0, sizeof(seats));
    for (int i = 0; i < N_SEATS; i++) {
        seats[i].id = ids[i];
        seats[i].category = i == 0 ? front : back;
        seats[i].price = 100;
    }
    seats[1].claim = TIX_CLAIM_HELD;
    seats[1].claim_user = rival;
    seats[2].claim = TIX_CLAIM_SOLD;
    seats[2].claim_user = rival;
    seats[3].claim = TIX_CLAIM_HELD;
    seats[3].claim_user = me;
    seats[4].blocked = true;
    tix_show show = {.starts_at = starts_at, .cancelled = cancelled};
    size_t len = 0;
    char *text = tix_early_view(a, &show, seats, N_SEATS, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static bool by_ids(tix_arena *a, const char *view, const char *user, tix_hold_result *out, int n,
                   ...)
{
    const char *ids[8];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        ids[i] = va_arg(ap, const char *);
    }
    va_end(ap);
    tix_hold_request req = {.seat_ids = ids, .nseat_ids = n};
    return tix_early_refusal(a, view, &req, user, NOW, out);
}

static void test_claimed_seats_are_refused_sorted_once(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    char *v = make_view(a, false, STARTS);
    tix_hold_result out;
    assert_true(by_ids(a, v, "usr_other", &out, 3, "s3", "s2", "s3"));
    assert_int_equal(out.problem, TIX_HOLD_SEAT_UNAVAILABLE);
    assert_int_equal(out.nproblems, 2);
    assert_string_equal(out.problem_ids[0], "s2");
    assert_string_equal(out.problem_ids[1], "s3");
    tix_arena_destroy(a);
}

/* The map comes in (y, x) order; the view is written in id order, and a view that is not (one
 * written by another build) is sorted by its reader. */
static void test_the_view_is_in_id_order_and_read_in_any(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    static char c1[] = "c1", a2[] = "a2", b3[] = "b3", back[] = "back", rival[] = RIVAL;
    tix_map_seat seats[3] = {{.id = c1, .category = back, .price = 100},
                             {.id = a2, .category = back, .price = 100},
                             {.id = b3, .category = back, .price = 100}};
    seats[0].claim = TIX_CLAIM_HELD;
    seats[0].claim_user = rival;
    seats[1].claim = TIX_CLAIM_SOLD;
    seats[1].claim_user = rival;
    tix_show show = {.starts_at = STARTS};
    size_t len = 0;
    char *v = tix_early_view(a, &show, seats, 3, &len);
    assert_non_null(v);
    const char *lines = strchr(v, '\n') + 1;
    assert_string_equal(lines, "a2\tc\tback\t" RIVAL "\nb3\tf\tback\t\nc1\tc\tback\t" RIVAL "\n");
    tix_hold_result out;
    assert_true(by_ids(a, v, "usr_other", &out, 2, "c1", "a2"));
    assert_int_equal(out.nproblems, 2);
    char unsorted[128];
    snprintf(unsorted, sizeof(unsorted),
             "v1 0 %lld\nc1\tc\tback\t%s\nb3\tf\tback\t\na2\tc\tback\t%s\n", (long long)STARTS,
             RIVAL, RIVAL);
    assert_true(by_ids(a, unsorted, "usr_other", &out, 2, "a2", "c1"));
    assert_int_equal(out.nproblems, 2);
    assert_string_equal(out.problem_ids[0], "a2");
    assert_string_equal(out.problem_ids[1], "c1");
    assert_false(by_ids(a, unsorted, "usr_other", &out, 2, "a2", "b3")); /* b3 is free */
    tix_arena_destroy(a);
}

static void test_anything_else_takes_the_ordinary_path(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    char *v = make_view(a, false, STARTS);
    tix_hold_result out;
    assert_false(by_ids(a, v, "usr_other", &out, 2, "s2", "s1")); /* a free seat among them */
    assert_false(by_ids(a, v, "usr_other", &out, 2, "s2", "s9")); /* unknown: 422 */
    assert_false(by_ids(a, v, "usr_other", &out, 2, "s2", "s5")); /* blocked: 422 */
    assert_false(by_ids(a, v, ME, &out, 2, "s2", "s4"));          /* his own hold's seat */
    assert_int_equal(out.nproblems, 0);
    assert_true(by_ids(a, v, ME, &out, 1, "s2"));
    /* Not on sale at the instant: show_not_bookable is the ordinary path's to say. */
    assert_false(by_ids(a, make_view(a, true, STARTS), "usr_other", &out, 1, "s2"));
    assert_false(by_ids(a, make_view(a, false, NOW), "usr_other", &out, 1, "s2"));
    /* A view that is not one. */
    assert_false(by_ids(a, "v2 0 9\n", "usr_other", &out, 1, "s2"));
    assert_false(by_ids(a, "v1 0 99999999\ns2\tc\tback\n", "usr_other", &out, 1, "s2"));
    assert_false(by_ids(a, NULL, "usr_other", &out, 1, "s2"));
    tix_arena_destroy(a);
}

static void test_best_available_only_when_fewer_are_free(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    char *v = make_view(a, false, STARTS);
    tix_hold_result out;
    tix_hold_request one = {.quantity = 1}, two = {.quantity = 2};
    tix_hold_request back = {.quantity = 1, .category = "back"};
    tix_hold_request front2 = {.quantity = 2, .category = "front"};
    assert_false(tix_early_refusal(a, v, &one, "usr_other", NOW, &out)); /* s1 is free */
    assert_true(tix_early_refusal(a, v, &two, "usr_other", NOW, &out));
    assert_int_equal(out.problem, TIX_HOLD_NO_SEATS_AVAILABLE);
    assert_int_equal(out.nproblems, 0);
    assert_true(tix_early_refusal(a, v, &back, "usr_other", NOW, &out));
    assert_true(tix_early_refusal(a, v, &front2, "usr_other", NOW, &out));
    /* He holds s4: replacing his hold may free it for him. */
    assert_false(tix_early_refusal(a, v, &two, ME, NOW, &out));
    tix_arena_destroy(a);
}

static void test_a_field_with_a_tab_makes_no_view(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    char id[] = "s\t1", cat[] = "front";
    tix_map_seat s = {.id = id, .category = cat, .price = 1};
    tix_show show = {.starts_at = STARTS};
    size_t len = 0;
    assert_null(tix_early_view(a, &show, &s, 1, &len));
    tix_arena_destroy(a);
}

/* A view is worth keeping only when it could refuse: on sale, and some sellable seat claimed. */
static void test_a_view_is_useful_only_with_claims_on_sale(void **state)
{
    (void)state;
    char i1[] = "s1", i2[] = "s2", i3[] = "s3", cat[] = "back", rival[] = RIVAL;
    tix_map_seat seats[3] = {{.id = i1, .category = cat, .price = 100},
                             {.id = i2, .category = cat, .price = 100},
                             {.id = i3, .category = cat, .price = 100}};
    tix_show show = {.starts_at = STARTS};
    assert_false(tix_early_useful(&show, seats, 3, NOW)); /* every seat free */
    seats[2].blocked = true;
    seats[1].price = -1;
    assert_false(tix_early_useful(&show, seats, 3, NOW)); /* blocked, unpriced: never sold */
    assert_false(tix_early_useful(&show, seats, 0, NOW));
    seats[0].claim = TIX_CLAIM_SOLD;
    seats[0].claim_user = rival;
    assert_true(tix_early_useful(&show, seats, 3, NOW));
    seats[0].claim = TIX_CLAIM_HELD;
    assert_true(tix_early_useful(&show, seats, 3, NOW));
    assert_false(tix_early_useful(&show, seats, 3, STARTS)); /* started: not on sale */
    show.cancelled = true;
    assert_false(tix_early_useful(&show, seats, 3, NOW));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claimed_seats_are_refused_sorted_once),
        cmocka_unit_test(test_the_view_is_in_id_order_and_read_in_any),
        cmocka_unit_test(test_anything_else_takes_the_ordinary_path),
        cmocka_unit_test(test_best_available_only_when_fewer_are_free),
        cmocka_unit_test(test_a_field_with_a_tab_makes_no_view),
        cmocka_unit_test(test_a_view_is_useful_only_with_claims_on_sale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
