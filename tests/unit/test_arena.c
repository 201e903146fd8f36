/* Unit tests for core/arena: alignment, big blocks, string helpers, accounting. Run under ASan
 * to catch overlap, overflow and leaks. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_aligned(const void *p)
{
    if (((uintptr_t)p & 15u) != 0) {
        fail_msg("pointer %p is not 16-byte aligned", p);
    }
}

typedef struct span {
    unsigned char *p;
    size_t n;
    unsigned char fill;
} span;

/* Many small allocations of varied sizes: aligned, writable, and none overlaps another (each is
 * filled with its own byte and checked at the end). */
static void test_many_small_allocations(void **state)
{
    (void)state;
    size_t firsts[] = {0, 64, 100, 4096};
    for (size_t f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++) {
        tix_arena *a = tix_arena_create(firsts[f]);
        assert_non_null(a);
        enum { N = 3000 };
        static span spans[N];
        for (int i = 0; i < N; i++) {
            size_t n = (size_t)(i * 7 % 61) + 1; /* 1..61 bytes */
            unsigned char *p = tix_arena_alloc(a, n);
            assert_non_null(p);
            assert_aligned(p);
            spans[i].p = p;
            spans[i].n = n;
            spans[i].fill = (unsigned char)(i * 31 + 7);
            memset(p, spans[i].fill, n);
        }
        for (int i = 0; i < N; i++) {
            for (size_t j = 0; j < spans[i].n; j++) {
                if (spans[i].p[j] != spans[i].fill) {
                    fail_msg("first=%zu: allocation %d was overwritten at byte %zu", firsts[f], i,
                             j);
                }
            }
        }
        tix_arena_destroy(a);
    }
}

static void test_zero_size_allocation(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    void *p = tix_arena_alloc(a, 0);
    void *q = tix_arena_alloc(a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_aligned(p);
    assert_aligned(q);
    assert_ptr_not_equal(p, q);
    tix_arena_destroy(a);
}

static void test_big_allocations(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(1024);
    unsigned char *small1 = tix_arena_alloc(a, 32);
    memset(small1, 0x11, 32);
    /* bigger than the block: gets its own block */
    size_t sizes[] = {1024, 4096, 1 << 20, 5 * (1 << 20) + 3};
    unsigned char *big[4];
    for (size_t i = 0; i < 4; i++) {
        big[i] = tix_arena_alloc(a, sizes[i]);
        assert_non_null(big[i]);
        assert_aligned(big[i]);
        memset(big[i], (int)(0x40 + i), sizes[i]); /* ASan: the whole range is ours */
    }
    /* small allocations continue to work after big ones, in the same arena */
    unsigned char *small2 = tix_arena_alloc(a, 32);
    assert_aligned(small2);
    memset(small2, 0x22, 32);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(big[i][0], 0x40 + i);
        assert_int_equal(big[i][sizes[i] - 1], 0x40 + i);
    }
    for (int i = 0; i < 32; i++) {
        assert_int_equal(small1[i], 0x11);
        assert_int_equal(small2[i], 0x22);
    }
    tix_arena_destroy(a);
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(256);
    /* dirty the arena first so calloc cannot rely on fresh memory */
    for (int i = 0; i < 40; i++) {
        memset(tix_arena_alloc(a, 48), 0xff, 48);
    }
    size_t sizes[] = {1, 13, 48, 200, 5000};
    for (size_t i = 0; i < 5; i++) {
        unsigned char *p = tix_arena_calloc(a, sizes[i]);
        assert_aligned(p);
        for (size_t j = 0; j < sizes[i]; j++) {
            assert_int_equal(p[j], 0);
        }
    }
    tix_arena_destroy(a);
}

static void test_strings(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    char src[] = "hello, arena";
    char *d = tix_arena_strdup(a, src);
    assert_ptr_not_equal(d, src);
    assert_string_equal(d, "hello, arena");
    src[0] = 'j';
    assert_string_equal(d, "hello, arena"); /* a copy */

    assert_string_equal(tix_arena_strdup(a, ""), "");
    assert_string_equal(tix_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(tix_arena_strndup(a, "abc", 10), "abc");
    assert_string_equal(tix_arena_strndup(a, "abc", 0), "");
    /* strndup must not read past n bytes: the source here is not terminated */
    char unterminated[4] = {'w', 'x', 'y', 'z'};
    assert_string_equal(tix_arena_strndup(a, unterminated, 4), "wxyz");

    char *s = tix_arena_sprintf(a, "%s=%d;%05.1f|%c", "seats", 42, 3.14159, 'x');
    assert_string_equal(s, "seats=42;003.1|x");
    assert_string_equal(tix_arena_sprintf(a, "%s", ""), "");

    /* long formatted output, bigger than the block */
    char *big = tix_arena_sprintf(a, "%9000d|%s", 7, "end");
    assert_int_equal(strlen(big), 9004);
    assert_string_equal(big + 9000, "|end");
    assert_int_equal(big[8999], '7');
    assert_int_equal(big[0], ' ');

    /* a long strdup */
    char *longsrc = malloc(20000);
    assert_non_null(longsrc);
    memset(longsrc, 'q', 19999);
    longsrc[19999] = '\0';
    char *copy = tix_arena_strdup(a, longsrc);
    free(longsrc);
    assert_int_equal(strlen(copy), 19999);
    assert_int_equal(copy[19998], 'q');
    tix_arena_destroy(a);
}

static char *vsprintf_helper(tix_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *vsprintf_helper(tix_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = tix_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

static void test_vsprintf(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(64);
    char *s = vsprintf_helper(a, "%s-%lld-%zu", "id", (long long)-5, (size_t)99);
    assert_string_equal(s, "id--5-99");
    assert_aligned(s);
    s = vsprintf_helper(a, "%200s", "x");
    assert_int_equal(strlen(s), 200);
    tix_arena_destroy(a);
}

static void test_used_grows(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_arena_used(a), 0);
    size_t prev = 0;
    size_t requested = 0;
    for (int i = 1; i <= 200; i++) {
        size_t n = (size_t)i * 3;
        (void)tix_arena_alloc(a, n);
        requested += n;
        size_t used = tix_arena_used(a);
        if (used <= prev) {
            fail_msg("used did not grow after alloc #%d (%zu -> %zu)", i, prev, used);
        }
        assert_true(used >= requested);
        /* rounding to 16 costs less than 16 bytes per allocation */
        assert_true(used < requested + (size_t)i * 16);
        prev = used;
    }
    (void)tix_arena_alloc(a, 100000);
    assert_true(tix_arena_used(a) >= prev + 100000);
    prev = tix_arena_used(a);
    (void)tix_arena_strdup(a, "abc");
    assert_true(tix_arena_used(a) >= prev + 4);
    tix_arena_destroy(a);
}

static void test_destroy_null(void **state)
{
    (void)state;
    tix_arena_destroy(NULL);
    /* and an arena with nothing allocated */
    tix_arena_destroy(tix_arena_create(0));
    tix_arena_destroy(tix_arena_create(1));
}

static void test_tiny_first_block(void **state)
{
    (void)state;
    /* a first block smaller than any allocation still serves every size */
    tix_arena *a = tix_arena_create(1);
    for (size_t n = 1; n < 300; n += 17) {
        unsigned char *p = tix_arena_alloc(a, n);
        assert_aligned(p);
        memset(p, 0xaa, n);
    }
    tix_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_small_allocations),
        cmocka_unit_test(test_zero_size_allocation),
        cmocka_unit_test(test_big_allocations),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_vsprintf),
        cmocka_unit_test(test_used_grows),
        cmocka_unit_test(test_destroy_null),
        cmocka_unit_test(test_tiny_first_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
