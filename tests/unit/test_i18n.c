/* Unit tests for core/i18n: the Accept-Language parser (weights, prefixes, wildcards, headers
 * that do not parse), the supported tags, and lookups in the build tree's compiled catalogues
 * from several threads at once. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/i18n.h"

#include <pthread.h>
#include <string.h>

static void test_accept_language(void **state)
{
    (void)state;
    assert_int_equal(tix_lang_accept(NULL), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept(""), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi"), TIX_LANG_HI);
    assert_int_equal(tix_lang_accept("ta-IN,hi;q=0.8,en;q=0.5"), TIX_LANG_TA);
    assert_int_equal(tix_lang_accept("en;q=0.5, hi;q=0.9, ta;q=0.7"), TIX_LANG_HI);
    assert_int_equal(tix_lang_accept("hi;q=0.8,ta;q=0.8"), TIX_LANG_HI);
    assert_int_equal(tix_lang_accept("fr, ta;q=0.001"), TIX_LANG_TA);
    assert_int_equal(tix_lang_accept("hi;q=0"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi;q=0.000"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("*"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("*;q=0.9, en;q=0.1"), TIX_LANG_EN);
    assert_int_equal(tix_lang_accept("hin"), TIX_LANG_NONE); /* not a prefix match: hi-n only */
    assert_int_equal(tix_lang_accept("en-GB-oxendict"), TIX_LANG_EN);
    assert_int_equal(tix_lang_accept(" \t,hi\t;\tq=1.0 ,"), TIX_LANG_HI);
    /* headers that do not parse are ignored as a whole */
    assert_int_equal(tix_lang_accept("hi;q=1.5"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi;q=.5"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi;q=0.5555"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi;q="), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi;x=1"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi ta"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("hi-"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("abcdefghi"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_accept("ta, h1"), TIX_LANG_NONE);
    char big[2048];
    memset(big, ' ', sizeof(big) - 3);
    memcpy(big + sizeof(big) - 3, "hi", 3);
    assert_int_equal(tix_lang_accept(big), TIX_LANG_NONE); /* longer than 1 KiB */
}

static void test_tags(void **state)
{
    (void)state;
    assert_int_equal(tix_lang_parse("hi"), TIX_LANG_HI);
    assert_int_equal(tix_lang_parse("TA"), TIX_LANG_TA);
    assert_int_equal(tix_lang_parse("en"), TIX_LANG_EN);
    assert_int_equal(tix_lang_parse("hi-IN"), TIX_LANG_NONE);
    assert_int_equal(tix_lang_parse(""), TIX_LANG_NONE);
    assert_int_equal(tix_lang_parse(NULL), TIX_LANG_NONE);
    assert_string_equal(tix_lang_tag(TIX_LANG_TA), "ta");
    assert_string_equal(tix_lang_tag(TIX_LANG_NONE), "en");
    assert_string_equal(tix_lang_tag((tix_lang)99), "en");
}

static void test_lookups(void **state)
{
    (void)state;
    assert_string_equal(tix_tr(TIX_LANG_HI, "not found"), "नहीं मिला");
    assert_string_equal(tix_tr(TIX_LANG_TA, "not found"), "கிடைக்கவில்லை");
    assert_string_equal(tix_tr(TIX_LANG_EN, "not found"), "not found");
    assert_string_equal(tix_tr(TIX_LANG_NONE, "not found"), "not found");
    assert_string_equal(tix_tr(TIX_LANG_HI, "no such message"), "no such message");
    assert_null(tix_tr(TIX_LANG_HI, NULL));
    assert_string_equal(tix_trc(TIX_LANG_HI, "month", "December"), "दिसंबर");
    assert_string_equal(tix_trc(TIX_LANG_HI, "nope", "December"), "December");
}

/* Threads asking in different languages at once each get their own language. */
static void *ask(void *arg)
{
    tix_lang lang = *(tix_lang *)arg;
    const char *want = lang == TIX_LANG_HI ? "नहीं मिला" : "கிடைக்கவில்லை";
    for (int i = 0; i < 20000; i++) {
        if (strcmp(tix_tr(lang, "not found"), want) != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    tix_lang langs[4] = {TIX_LANG_HI, TIX_LANG_TA, TIX_LANG_HI, TIX_LANG_TA};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, ask, &langs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
}

int main(void)
{
    assert_true(tix_i18n_init(NULL)); /* the build tree's catalogues */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_language),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
