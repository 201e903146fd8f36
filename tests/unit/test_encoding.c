/* Unit tests for core/gzip (round trips, corrupt and oversized input) and the Accept-Encoding
 * negotiation of http/encoding. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/arena.h"
#include "core/gzip.h"
#include "http/encoding.h"

#include <stdio.h>
#include <string.h>

static void test_round_trip(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    static const size_t sizes[] = {0, 1, 100, 4096, 100000, 1000003};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *in = tix_arena_alloc(a, n + 1);
        for (size_t k = 0; k < n; k++) { /* seat-map-like: repetitive with variation */
            in[k] = (char)("{\"id\":\"hal_A1\",\"status\":\"available\"}"[k % 36] + (k % 7 == 0));
        }
        for (int level = 1; level <= 9; level += 4) {
            char *gz = NULL;
            size_t gzlen = 0;
            assert_true(tix_gzip(a, in, n, level, &gz, &gzlen));
            assert_true(gzlen >= 18); /* header + trailer at least */
            assert_int_equal((unsigned char)gz[0], 0x1f);
            assert_int_equal((unsigned char)gz[1], 0x8b);
            char *out = NULL;
            size_t outlen = 0;
            assert_true(tix_gunzip(a, gz, gzlen, n + 1, &out, &outlen));
            assert_int_equal(outlen, n);
            assert_memory_equal(out, in, n);
            assert_int_equal(out[n], '\0');
            if (n > 0) { /* one byte over the limit is refused */
                assert_false(tix_gunzip(a, gz, gzlen, n - 1, &out, &outlen));
            }
        }
    }
    tix_arena_destroy(a);
}

static void test_corrupt_input_is_refused(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    const char text[] = "{\"seats\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}";
    char *gz = NULL;
    size_t gzlen = 0;
    assert_true(tix_gzip(a, text, sizeof(text) - 1, 6, &gz, &gzlen));
    char *out = NULL;
    size_t outlen = 0;
    assert_false(tix_gunzip(a, gz, gzlen - 1, 1 << 20, &out, &outlen)); /* truncated */
    assert_false(tix_gunzip(a, gz, 5, 1 << 20, &out, &outlen));
    assert_false(tix_gunzip(a, "", 0, 1 << 20, &out, &outlen));
    assert_false(tix_gunzip(a, text, sizeof(text) - 1, 1 << 20, &out, &outlen)); /* not gzip */
    char *flipped = tix_arena_alloc(a, gzlen);
    memcpy(flipped, gz, gzlen);
    flipped[gzlen - 6] ^= 0x55; /* the CRC no longer matches */
    assert_false(tix_gunzip(a, flipped, gzlen, 1 << 20, &out, &outlen));
    char *twice = tix_arena_alloc(a, gzlen * 2); /* trailing bytes after the member */
    memcpy(twice, gz, gzlen);
    memcpy(twice + gzlen, gz, gzlen);
    assert_false(tix_gunzip(a, twice, gzlen * 2, 1 << 20, &out, &outlen));
    tix_arena_destroy(a);
}

static void test_lying_size_hint(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(4096);
    char in[5000];
    memset(in, 'x', sizeof(in));
    char *gz = NULL;
    size_t gzlen = 0;
    assert_true(tix_gzip(a, in, sizeof(in), 6, &gz, &gzlen));
    char *out = NULL;
    size_t outlen = 0;
    for (unsigned hint = 0; hint < 3; hint++) { /* ISIZE says 0, 1 or 2: the buffer grows */
        char *lie = tix_arena_alloc(a, gzlen);
        memcpy(lie, gz, gzlen);
        memset(lie + gzlen - 4, 0, 4);
        lie[gzlen - 4] = (char)hint;
        /* the CRC covers the data, ISIZE is checked by zlib too: refused, never overrun */
        assert_false(tix_gunzip(a, lie, gzlen, 1 << 20, &out, &outlen));
    }
    tix_arena_destroy(a);
}

static void test_accept_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        {"deflate, gzip;q=0.001", true},
        {"gzip;q=0", false},
        {"gzip; q=0.0", false},
        {"gzip;q=0.000", false},
        {"identity", false},
        {"deflate, br", false},
        {"*", true},
        {"*;q=0", false},
        {"*, gzip;q=0", false},
        {"gzip;q=0, *", false},
        {"gzip;q=2", false},   /* out of range: ignored as broken */
        {"gzip;q=abc", false}, /* malformed: never enables */
        {"gzipx", false},
        {"xgzip", false},
        {" , ,gzip ,", true},
        {"gzip;level=9", true},
        {"gzip;q=0, x-gzip;q=0.5", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (tix_accepts_gzip(cases[i].header) != cases[i].gzip) {
            fail_msg("Accept-Encoding \"%s\": want %d",
                     cases[i].header ? cases[i].header : "(none)", cases[i].gzip);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt_input_is_refused),
        cmocka_unit_test(test_lying_size_hint),
        cmocka_unit_test(test_accept_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
