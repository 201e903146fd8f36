/* Unit tests for booking/reco (the scoring of recommendations, without a database) and for the
 * learned preference in booking/best: cosine similarity on a small history worked out by hand,
 * duplicates, the neighbour cap; the smoothed sell-order seat score; the ranking with reasons,
 * exclusions, the popularity fallback and the limit; the preference blend in best-available,
 * its argument checks, and the strict no-orphan rule holding against it. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/best.h"
#include "booking/reco.h"

#include <math.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const tix_reco_pair *pair_of(const tix_reco_pair *p, int n, const char *x, const char *y)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].movie_id, x) == 0 && strcmp(p[i].other_id, y) == 0) {
            return &p[i];
        }
    }
    return NULL;
}

static void test_similarity(void **state)
{
    (void)state;
    /* u1: A B, u2: A B, u3: A C, u4: B, u5: D, as the database counts it (store/reco.h):
     * |U(A)| = 3, |U(B)| = 3, |U(C)| = 1, |U(D)| = 1; A and B share 2, A and C 1; D shares none,
     * so it has no row. Rows in no particular order. */
    tix_reco_together rows[] = {
        {"C", "A", 1, 1, 3}, {"A", "B", 2, 3, 3}, {"B", "A", 2, 3, 3}, {"A", "C", 1, 3, 1}};
    tix_arena *a = tix_arena_create(0);
    tix_reco_pair *p = NULL;
    int np = 0;
    assert_int_equal(tix_reco_similarity(a, rows, (int)COUNT(rows), 10, &p, &np), TIX_OK);
    /* A-B: 2 / sqrt(9); A-C: 1 / sqrt(3); both directions */
    assert_int_equal(np, 4);
    const tix_reco_pair *ab = pair_of(p, np, "A", "B");
    const tix_reco_pair *ba = pair_of(p, np, "B", "A");
    const tix_reco_pair *ac = pair_of(p, np, "A", "C");
    assert_non_null(ab);
    assert_non_null(ba);
    assert_non_null(ac);
    assert_int_equal(ab->score_e6, 666667);
    assert_int_equal(ba->score_e6, 666667);
    assert_int_equal(ab->together, 2);
    assert_int_equal(ac->score_e6, (int64_t)llround(1e6 / sqrt(3.0)));
    assert_null(pair_of(p, np, "B", "C"));
    /* ordered by movie, then score: A's best (C: 0.577 < B: 0.667) first, then B, then C */
    assert_string_equal(p[0].movie_id, "A");
    assert_string_equal(p[0].other_id, "B");
    assert_string_equal(p[1].other_id, "C");
    assert_string_equal(p[2].movie_id, "B");
    assert_string_equal(p[3].movie_id, "C");
    /* a cap of one neighbour keeps A's best only */
    assert_int_equal(tix_reco_similarity(a, rows, (int)COUNT(rows), 1, &p, &np), TIX_OK);
    assert_int_equal(np, 3); /* A->B, B->A, C->A */
    assert_null(pair_of(p, np, "A", "C"));
    assert_non_null(pair_of(p, np, "C", "A"));
    /* equal scores: the other's id decides */
    tix_reco_together tie[] = {{"X", "Z", 1, 2, 2}, {"X", "Y", 1, 2, 2}};
    assert_int_equal(tix_reco_similarity(a, tie, 2, 10, &p, &np), TIX_OK);
    assert_int_equal(np, 2);
    assert_string_equal(p[0].other_id, "Y");
    /* nothing booked together: nothing */
    assert_int_equal(tix_reco_similarity(a, rows, 0, 10, &p, &np), TIX_OK);
    assert_int_equal(np, 0);
    tix_arena_destroy(a);
}

static void test_seat_scores(void **state)
{
    (void)state;
    /* hall h, seats s1..s4 (C = 4). Show 1: booking x (s1, s2) then y (s3). Show 2: z (s2). */
    tix_reco_seat seats[] = {{"h", "s4"}, {"h", "s1"}, {"h", "s3"}, {"h", "s2"}};
    tix_reco_sale sales[] = {{"h", "show1", "x", "s1"},
                             {"h", "show1", "x", "s2"},
                             {"h", "show1", "y", "s3"},
                             {"h", "show2", "z", "s2"}};
    tix_arena *a = tix_arena_create(0);
    tix_reco_seat_score *out = NULL;
    int n = 0;
    assert_int_equal(tix_reco_seat_scores(a, sales, 4, seats, 4, &out, &n), TIX_OK);
    assert_int_equal(n, 4);
    /* v: show1 x -> 1 - 0.5/4 = 0.875 (s1, s2), y -> 1 - 2/4 = 0.5 (s3); show2 z -> 1 - 0 = 1
     * (s2). Score = (sum v + 2 * 0.5) / (2 shows + 2). */
    double want[] = {(0.875 + 1) / 4, (0.875 + 1 + 1) / 4, (0.5 + 1) / 4, 1.0 / 4};
    for (int i = 0; i < 4; i++) {
        char id[3] = {'s', (char)('1' + i), 0};
        const tix_reco_seat_score *s = NULL;
        for (int k = 0; k < n; k++) {
            s = strcmp(out[k].seat_id, id) == 0 ? &out[k] : s;
        }
        assert_non_null(s);
        assert_int_equal(s->score_e6, (int64_t)llround(want[i] * 1e6));
        assert_int_equal(s->shows, 2);
        assert_string_equal(s->hall_id, "h");
    }
    /* aligned to a map's ids; an unknown seat gets the prior */
    const char *ids[] = {"s2", "zz", "s4"};
    double pref[3];
    tix_reco_seat_prefs_align(out, n, ids, 3, pref); /* out is ordered by seat id */
    assert_true(fabs(pref[0] - want[1]) < 1e-6);
    assert_true(fabs(pref[1] - 0.5) < 1e-12);
    assert_true(fabs(pref[2] - want[3]) < 1e-6);
    tix_arena_destroy(a);
}

static void test_rank(void **state)
{
    (void)state;
    const char *mine[] = {"A", "B"};
    tix_reco_pair near[] = {{"A", "C", 500000, 2},
                            {"B", "C", 100000, 1},
                            {"A", "D", 700000, 3},
                            {"A", "B", 900000, 5},
                            {"B", "E", 0, 0}};
    tix_reco_candidate cands[] = {{"A", 9}, {"B", 9}, {"C", 1}, {"D", 2},
                                  {"E", 5}, {"F", 5}, {"G", 7}};
    tix_arena *a = tix_arena_create(0);
    tix_reco_item *items = NULL;
    int n = 0;
    tix_reco_inputs in = {mine, 2, near, (int)COUNT(near), cands, (int)COUNT(cands)};
    tix_reco_rank(a, &in, 10, &items, &n);
    /* co-occurrence: D 0.7, C 0.6 (0.5 + 0.1); popular: G 7, E 5, F 5 (id); never A, B */
    const char *want[] = {"D", "C", "G", "E", "F"};
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        assert_string_equal(items[i].movie_id, want[i]);
    }
    assert_false(items[0].popular);
    assert_true(fabs(items[1].score - 0.6) < 1e-9);
    assert_int_equal(items[1].nsince, 2);
    assert_string_equal(items[1].since[0], "A"); /* the stronger reason first */
    assert_string_equal(items[1].since[1], "B");
    assert_true(items[2].popular);
    assert_true(fabs(items[2].score - 7) < 1e-9);
    assert_int_equal(items[2].nsince, 0);
    tix_reco_rank(a, &in, 2, &items, &n);
    assert_int_equal(n, 2);
    /* a new user: popularity alone */
    tix_reco_inputs fresh = {NULL, 0, NULL, 0, cands, (int)COUNT(cands)};
    tix_reco_rank(a, &fresh, 3, &items, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].movie_id, "A");
    assert_string_equal(items[1].movie_id, "B");
    assert_string_equal(items[2].movie_id, "G");
    tix_arena_destroy(a);
}

/* One row of 10 seats, all free: the geometric pick of 2 is the middle (4, 5). */
static void row_of_ten(tix_best_seat *s)
{
    for (int i = 0; i < 10; i++) {
        s[i] = (tix_best_seat){.x = i, .y = 0, .category = "regular", .available = true};
    }
}

static void test_best_with_preference(void **state)
{
    (void)state;
    tix_best_seat s[10];
    row_of_ten(s);
    double pref[10];
    for (int i = 0; i < 10; i++) {
        pref[i] = 0.2;
    }
    tix_best_request req = {.quantity = 2, .focus_x = 4.5, .focus_y = 0};
    int picks[2];
    tix_best_rule rule;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 4);
    /* equal preferences change nothing */
    req.pref = pref;
    req.pref_weight = 0.7;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 4);
    /* the learned corner wins */
    pref[0] = pref[1] = 0.95;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 0);
    assert_int_equal(picks[1], 1);
    assert_int_equal(rule, TIX_BEST_STRICT);
    /* weight 0: geometric again */
    req.pref_weight = 0;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_OK);
    assert_int_equal(picks[0], 4);
    /* preferred seats 1-2 would leave seat 0 alone: the strict rule refuses that block */
    pref[0] = 0.2;
    pref[1] = pref[2] = 1.0;
    req.pref_weight = 1.0;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_OK);
    assert_int_equal(rule, TIX_BEST_STRICT);
    assert_false(picks[0] == 1 && picks[1] == 2);
    assert_true(picks[0] == 0 || picks[0] == 2); /* 0-1 or 2-3: half preferred, no orphan */
}

static void test_best_preference_checked(void **state)
{
    (void)state;
    tix_best_seat s[10];
    row_of_ten(s);
    double pref[10] = {0};
    tix_best_request req = {.quantity = 2, .focus_x = 4.5, .pref = pref, .pref_weight = 0.5};
    int picks[2] = {-1, -1};
    tix_best_rule rule;
    pref[3] = NAN;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_EINVAL);
    pref[3] = 1.5;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_EINVAL);
    pref[3] = -0.1;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_EINVAL);
    pref[3] = 0;
    req.pref_weight = 1.01;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_EINVAL);
    req.pref_weight = NAN;
    assert_int_equal(tix_best_pick(s, 10, &req, picks, &rule), TIX_EINVAL);
    assert_int_equal(picks[0], -1); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_seat_scores),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_best_with_preference),
        cmocka_unit_test(test_best_preference_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
