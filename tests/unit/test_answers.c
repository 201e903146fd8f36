/* Unit tests for http/answers: an answer is served only under its own versions and before its
 * instant, a reference held by a response outlives eviction and replacement, and the store
 * keeps to its byte budget, least recently used first. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/answers.h"

#include <string.h>

#define NOW 1000000

static tix_answer *make(const char *key, const char *scopever, int64_t until, const char *body)
{
    tix_answer_init in = {.key = key,
                          .catver = "7",
                          .scopever = scopever,
                          .until_ms = until,
                          .etag = "\"0123456789abcdef0123\"",
                          .plain = body,
                          .plen = strlen(body),
                          .gz = "gz!",
                          .gzlen = 3};
    tix_answer *a = tix_answer_make(&in);
    assert_non_null(a);
    return a;
}

static void test_versions_and_instant(void **state)
{
    (void)state;
    tix_answers_clear();
    tix_answer *a = make("k1", "3", NOW + 100, "plain");
    tix_answers_put(a, 1 << 20);
    tix_answer_unref(a);
    tix_answer *got = tix_answers_get("k1", "7", "3", NOW);
    assert_non_null(got);
    assert_int_equal(got->plen, 5);
    assert_memory_equal(got->plain, "plain", 6);
    assert_memory_equal(got->gz, "gz!", 3);
    tix_answer_unref(got);
    assert_null(tix_answers_get("k1", "7", "4", NOW));           /* another scope version */
    assert_null(tix_answers_get("k1", "8", "3", NOW));           /* another catalogue version */
    assert_null(tix_answers_get("k2", "7", "3", NOW));           /* another key */
    assert_non_null(got = tix_answers_get("k1", "7", "3", NOW)); /* still there */
    tix_answer_unref(got);
    assert_null(tix_answers_get("k1", "7", "3", NOW + 100)); /* its instant has passed */
    assert_null(tix_answers_get("k1", "7", "3", NOW));       /* and it was dropped */
    tix_answers_clear();
}

static void test_reference_outlives_replacement_and_eviction(void **state)
{
    (void)state;
    tix_answers_clear();
    tix_answer *a = make("k", "1", NOW + 100, "first");
    tix_answers_put(a, 1 << 20);
    tix_answer_unref(a);
    tix_answer *held = tix_answers_get("k", "7", "1", NOW); /* as a response holds it */
    tix_answer *b = make("k", "2", NOW + 100, "second");
    tix_answers_put(b, 1 << 20); /* replaces the first */
    tix_answer_unref(b);
    assert_null(tix_answers_get("k", "7", "1", NOW));
    assert_memory_equal(held->plain, "first", 6); /* still readable (ASan checks) */
    tix_answers_clear();
    assert_memory_equal(held->plain, "first", 6);
    tix_answer_free_cb(held); /* MHD's free callback drops the last reference */
}

static void test_budget_evicts_least_recently_used(void **state)
{
    (void)state;
    tix_answers_clear();
    char body[1000];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    size_t budget = 0;
    const char *keys[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        tix_answer *a = make(keys[i], "1", NOW + 100, body);
        budget = a->cost * 2 + a->cost / 2; /* room for two */
        tix_answers_put(a, budget);
        tix_answer_unref(a);
        if (i == 1) { /* "a" used again: "b" is now the least recently used */
            tix_answer_unref(tix_answers_get("a", "7", "1", NOW));
        }
    }
    tix_answer *got = NULL;
    assert_non_null(got = tix_answers_get("a", "7", "1", NOW));
    tix_answer_unref(got);
    assert_null(tix_answers_get("b", "7", "1", NOW));
    assert_non_null(got = tix_answers_get("c", "7", "1", NOW));
    tix_answer_unref(got);
    /* one answer bigger than the whole budget is still kept (never evicts itself) */
    tix_answer *big = make("big", "1", NOW + 100, body);
    tix_answers_put(big, 10);
    tix_answer_unref(big);
    assert_non_null(got = tix_answers_get("big", "7", "1", NOW));
    tix_answer_unref(got);
    tix_answers_clear();
}

static void test_peek_ignores_versions_and_instant(void **state)
{
    (void)state;
    tix_answers_clear();
    assert_null(tix_answers_peek("p"));
    tix_answer *a = make("p", "3", NOW + 100, "old");
    tix_answers_put(a, 1 << 20);
    tix_answer *got = tix_answers_peek("p");
    assert_ptr_equal(got, a);                     /* whatever versions a reader holds */
    assert_int_equal(atomic_load(&got->refs), 3); /* ours, the store's, the peek's */
    tix_answer_unref(got);
    tix_answer_unref(a);
    tix_answer *b = make("p", "4", NOW + 100, "new");
    tix_answers_put(b, 1 << 20);
    tix_answer_unref(b);
    assert_non_null(got = tix_answers_peek("p"));
    assert_memory_equal(got->plain, "new", 4); /* the last one put */
    assert_int_equal(atomic_load(&got->superseded_ms), 0);
    tix_answer_unref(got);
    tix_answers_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_and_instant),
        cmocka_unit_test(test_reference_outlives_replacement_and_eviction),
        cmocka_unit_test(test_budget_evicts_least_recently_used),
        cmocka_unit_test(test_peek_ignores_versions_and_instant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
