/* Unit tests for core/util (times, integers, ids, encodings, digests) and tix_json_escape. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_2026 INT64_C(1795600800000) /* 2026-11-25T10:00:00Z */

/* ---- word lists ---- */

static void test_word_in(void **state)
{
    (void)state;
    assert_true(tix_word_in("limit cursor status", "limit"));
    assert_true(tix_word_in("limit cursor status", "status"));
    assert_true(tix_word_in("  limit   cursor ", "cursor"));
    assert_false(tix_word_in("limit cursor", "lim")); /* whole words only */
    assert_false(tix_word_in("limit cursor", "limitx"));
    assert_false(tix_word_in("limit cursor", "limit cursor"));
    assert_false(tix_word_in("limit", ""));
    assert_false(tix_word_in("", "limit"));
    assert_false(tix_word_in(NULL, "limit"));
}

/* ---- RFC 3339 ---- */

static void test_rfc3339_format(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {999, "1970-01-01T00:00:00.999Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
        {-1500, "1969-12-31T23:59:58.500Z"},
        {T_2026, "2026-11-25T10:00:00.000Z"},
        {T_2026 + 123, "2026-11-25T10:00:00.123Z"},
        {INT64_C(1835438400000), "2028-02-29T12:00:00.000Z"},
        {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
        /* years before 1000 keep four digits (found by tests/fuzz/fuzz_show_time: strftime's
         * %Y wrote "221-01-30T…", which tix_parse_rfc3339 and clients refuse) */
        {INT64_C(-55190592000000), "0221-01-30T00:00:00.000Z"},
        {INT64_C(-62167219200000), "0000-01-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[TIX_RFC3339_MAX];
        memset(out, 'x', sizeof(out));
        tix_rfc3339(out, cases[i].ms);
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("%lld -> \"%s\", want \"%s\"", (long long)cases[i].ms, out, cases[i].want);
        }
    }
}

typedef struct parse_case {
    const char *in;
    bool ok;
    int64_t want;
} parse_case;

static void test_rfc3339_parse_table(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"2026-11-25T10:00:00Z", true, T_2026},
        {"2026-11-25T10:00:00z", true, T_2026},
        {"2026-11-25t10:00:00Z", true, T_2026},
        {"2026-11-25T10:00:00+00:00", true, T_2026},
        {"2026-11-25T10:00:00-00:00", true, T_2026},
        {"2026-11-25T15:30:00+05:30", true, T_2026},
        {"2026-11-25T05:00:00-05:00", true, T_2026},
        {"2026-11-24T23:00:00-11:00", true, T_2026},
        {"2026-01-01T00:30:00+01:00", true, INT64_C(1767223800000)},
        {"2026-11-25T10:00:00.1Z", true, T_2026 + 100},
        {"2026-11-25T10:00:00.12Z", true, T_2026 + 120},
        {"2026-11-25T10:00:00.123Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.1234Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.12345Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.123456Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.1234567Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.12345678Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.123456789Z", true, T_2026 + 123},
        {"2026-11-25T10:00:00.9999Z", true, T_2026 + 999},
        {"2026-11-25T15:30:00.5+05:30", true, T_2026 + 500},
        {"1970-01-01T00:00:00Z", true, 0},
        {"1969-12-31T23:59:59.999Z", true, -1},
        {"2028-02-29T12:00:00Z", true, INT64_C(1835438400000)},
        {"2000-02-29T00:00:00Z", true, INT64_C(951782400000)},
        {"9999-12-31T23:59:59Z", true, INT64_C(253402300799000)},
        {"2026-11-25T23:59:59Z", true, T_2026 + (13 * 3600 + 59 * 60 + 59) * INT64_C(1000)},
        /* invalid dates and times */
        {"2027-02-29T00:00:00Z", false, 0},
        {"1900-02-29T00:00:00Z", false, 0},
        {"2026-04-31T00:00:00Z", false, 0},
        {"2026-13-01T00:00:00Z", false, 0},
        {"2026-00-10T00:00:00Z", false, 0},
        {"2026-11-00T00:00:00Z", false, 0},
        {"2026-11-32T00:00:00Z", false, 0},
        {"2026-11-25T24:00:00Z", false, 0},
        {"2026-11-25T10:60:00Z", false, 0},
        /* syntax */
        {"", false, 0},
        {"2026", false, 0},
        {"2026-11-25", false, 0},
        {"2026-11-25T", false, 0},
        {"2026-11-2510:00:00Z", false, 0},
        {"2026-11-25X10:00:00Z", false, 0},
        {"2026-11-25T10:00Z", false, 0},
        {"2026-11-25T10:00:00", false, 0},
        {"2026-11-25T10:00:00Zjunk", false, 0},
        {"2026-11-25T10:00:00Z ", false, 0},
        {" 2026-11-25T10:00:00Z", false, 0},
        {"2026-11-25T10:00:00+05:30x", false, 0},
        {"2026-11-25T10:00:00+0530", false, 0},
        {"2026-11-25T10:00:00+05", false, 0},
        {"2026-11-25T10:00:00+24:00", false, 0},
        {"2026-11-25T10:00:00+05:60", false, 0},
        {"2026-11-25T10:00:00.Z", false, 0},
        {"2026-11-25T10:00:00.1234567890Z", false, 0},
        {"2026-11-25T10:00:00,5Z", false, 0},
        {"26-11-25T10:00:00Z", false, 0},
        {"2026-1-25T10:00:00Z", false, 0},
        {"2026/11/25T10:00:00Z", false, 0},
        {"2026-11-25T1:00:00Z", false, 0},
        {"+2026-11-25T10:00:00Z", false, 0},
        {"2026-11-25T10:00:00UTC", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = 424242;
        bool ok = tix_parse_rfc3339(cases[i].in, &got);
        if (ok != cases[i].ok) {
            fail_msg("\"%s\": ok=%d, want %d", cases[i].in, ok, cases[i].ok);
        }
        if (ok && got != cases[i].want) {
            fail_msg("\"%s\": %lld, want %lld", cases[i].in, (long long)got,
                     (long long)cases[i].want);
        }
        if (!ok && got != 424242) {
            fail_msg("\"%s\": output written on failure", cases[i].in);
        }
    }
}

static void test_rfc3339_roundtrip(void **state)
{
    (void)state;
    int64_t values[200];
    size_t n = 0;
    values[n++] = 0;
    values[n++] = -1;
    values[n++] = T_2026;
    values[n++] = INT64_C(951782400000) - 1; /* just before a leap day */
    values[n++] = INT64_C(253402300799999);
    uint64_t x = 0x9e3779b97f4a7c15u; /* deterministic pseudo-random times, 1970..9999 */
    while (n < sizeof(values) / sizeof(values[0])) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values[n++] = (int64_t)(x % UINT64_C(253402300800000));
    }
    for (size_t i = 0; i < n; i++) {
        char s[TIX_RFC3339_MAX];
        tix_rfc3339(s, values[i]);
        assert_int_equal(strlen(s), 24);
        int64_t back = 0;
        if (!tix_parse_rfc3339(s, &back) || back != values[i]) {
            fail_msg("%lld -> \"%s\" -> %lld", (long long)values[i], s, (long long)back);
        }
    }
}

/* ---- integers ---- */

typedef struct int_case {
    const char *in;
    int64_t min;
    int64_t max;
    bool ok;
    int64_t want;
} int_case;

static void test_parse_int(void **state)
{
    (void)state;
    static const int_case cases[] = {
        {"0", 0, 10, true, 0},
        {"10", 0, 10, true, 10},
        {"-3", -5, 5, true, -3},
        {"-5", -5, 5, true, -5},
        {"007", 0, 100, true, 7}, /* decimal, not octal */
        {"42", 42, 42, true, 42},
        {"9223372036854775807", INT64_MIN, INT64_MAX, true, INT64_MAX},
        {"-9223372036854775808", INT64_MIN, INT64_MAX, true, INT64_MIN},
        {"9223372036854775808", INT64_MIN, INT64_MAX, false, 0},
        {"-9223372036854775809", INT64_MIN, INT64_MAX, false, 0},
        {"99999999999999999999999", INT64_MIN, INT64_MAX, false, 0},
        {"11", 0, 10, false, 0},
        {"-1", 0, 10, false, 0},
        {"41", 42, 42, false, 0},
        {"", 0, 10, false, 0},
        {" 5", 0, 10, false, 0},
        {"\t5", 0, 10, false, 0},
        {"\n5", 0, 10, false, 0},
        {"5 ", 0, 10, false, 0},
        {"5\n", 0, 10, false, 0},
        {"5a", 0, 10, false, 0},
        {"a5", 0, 10, false, 0},
        {"abc", 0, 10, false, 0},
        {"0x10", 0, 100, false, 0},
        {"1e3", 0, 10000, false, 0},
        {"1.0", 0, 10, false, 0},
        {"-", 0, 10, false, 0},
        {"+", 0, 10, false, 0},
        {"--5", -10, 10, false, 0},
        {"5-", 0, 10, false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = 777;
        bool ok = tix_parse_int(cases[i].in, cases[i].min, cases[i].max, &got);
        if (ok != cases[i].ok) {
            fail_msg("\"%s\" in [%lld, %lld]: ok=%d, want %d", cases[i].in, (long long)cases[i].min,
                     (long long)cases[i].max, ok, cases[i].ok);
        }
        if (ok && got != cases[i].want) {
            fail_msg("\"%s\": %lld, want %lld", cases[i].in, (long long)got,
                     (long long)cases[i].want);
        }
        if (!ok && got != 777) {
            fail_msg("\"%s\": output written on failure", cases[i].in);
        }
    }
    int64_t v = 0;
    assert_false(tix_parse_int(NULL, 0, 10, &v));
}

/* ---- ids ---- */

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void assert_id_shape(const char *id, const char *prefix)
{
    size_t pl = strlen(prefix);
    assert_int_equal(strlen(id), pl + 1 + 26);
    assert_memory_equal(id, prefix, pl);
    assert_int_equal(id[pl], '_');
    for (size_t i = pl + 1; id[i]; i++) {
        if (strchr(crockford, id[i]) == NULL) {
            fail_msg("id \"%s\" has '%c' outside the base32 alphabet", id, id[i]);
        }
    }
}

/* The first 10 characters after the prefix hold the 48-bit millisecond time. */
static int64_t id_time(const char *id)
{
    const char *p = strchr(id, '_') + 1;
    int64_t t = 0;
    for (int i = 0; i < 10; i++) {
        t = t * 32 + (int64_t)(strchr(crockford, p[i]) - crockford);
    }
    return t;
}

static void test_id_shape_and_uniqueness(void **state)
{
    (void)state;
    char a[TIX_ID_MAX];
    char b[TIX_ID_MAX];
    tix_id_new(a, "usr");
    tix_id_new(b, "usr");
    assert_id_shape(a, "usr");
    assert_id_shape(b, "usr");
    assert_string_not_equal(a, b);
    tix_id_new(a, "tok");
    assert_id_shape(a, "tok");
    tix_id_new(a, "booking");
    assert_id_shape(a, "booking");

    /* many ids in the same millisecond never collide */
    tix_clock_set(fake_clock);
    fake_now = T_2026;
    enum { N = 500 };
    static char ids[N][TIX_ID_MAX];
    for (int i = 0; i < N; i++) {
        tix_id_new(ids[i], "x");
        assert_id_shape(ids[i], "x");
        assert_int_equal(id_time(ids[i]), T_2026);
    }
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            if (strcmp(ids[i], ids[j]) == 0) {
                fail_msg("duplicate id %s", ids[i]);
            }
        }
    }
    tix_clock_set(NULL);
}

static void test_id_sorts_by_time(void **state)
{
    (void)state;
    static const int64_t times[] = {
        0,
        1,
        2,
        31,
        32,
        1000,
        T_2026 - 1,
        T_2026,
        T_2026 + 1,
        T_2026 + 86400000,
        INT64_C(4102444800000),   /* 2100 */
        INT64_C(281474976710655), /* the largest 48-bit time */
    };
    tix_clock_set(fake_clock);
    char prev[TIX_ID_MAX] = "";
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        fake_now = times[i];
        char id[TIX_ID_MAX];
        tix_id_new(id, "shw");
        assert_id_shape(id, "shw");
        if (id_time(id) != times[i]) {
            fail_msg("id %s encodes time %lld, want %lld", id, (long long)id_time(id),
                     (long long)times[i]);
        }
        if (i > 0 && strcmp(prev, id) >= 0) {
            fail_msg("id %s (t=%lld) does not sort after %s", id, (long long)times[i], prev);
        }
        memcpy(prev, id, sizeof(prev));
    }
    tix_clock_set(NULL);
    /* the real clock is back */
    int64_t now = tix_now_ms();
    assert_true(now > T_2026 - INT64_C(365) * 86400000 * 2);
    assert_true(now != fake_now);
}

/* ---- hex, base64url ---- */

static void test_hex_encode(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x01, 0xab, 0xff, 0x10};
    char out[11];
    tix_hex_encode(out, in, sizeof(in));
    assert_string_equal(out, "0001abff10");
    tix_hex_encode(out, in, 0);
    assert_string_equal(out, "");
}

static void test_base64url_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *plain;
        size_t n;
        const char *enc;
    } cases[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"fooba", 5, "Zm9vYmE"},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xff", 2, "-_8"},
        {"\xfb\xef\xbe", 3, "----"},
        {"\xff\xff\xff", 3, "____"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char enc[64];
        assert_true(tix_base64url_encode(enc, sizeof(enc), (const unsigned char *)cases[i].plain,
                                         cases[i].n));
        assert_string_equal(enc, cases[i].enc);
        unsigned char dec[64];
        long n = tix_base64url_decode(dec, sizeof(dec), cases[i].enc);
        assert_int_equal(n, (long)cases[i].n);
        assert_memory_equal(dec, cases[i].plain, cases[i].n);
    }
}

static void test_base64url_roundtrip(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 70; n++) {
        unsigned char in[70];
        tix_random_bytes(in, sizeof(in));
        char enc[128];
        assert_true(tix_base64url_encode(enc, sizeof(enc), in, n));
        assert_int_equal(strlen(enc), (n * 4 + 2) / 3);
        assert_null(strchr(enc, '='));
        assert_null(strchr(enc, '+'));
        assert_null(strchr(enc, '/'));
        unsigned char out[70];
        long got = tix_base64url_decode(out, sizeof(out), enc);
        assert_int_equal(got, (long)n);
        assert_memory_equal(out, in, n);
    }
}

static void test_base64url_capacity(void **state)
{
    (void)state;
    const unsigned char in[] = "foo";
    char enc[8];
    memset(enc, '#', sizeof(enc));
    assert_false(tix_base64url_encode(enc, 4, in, 3)); /* "Zm9v" + NUL needs 5 */
    assert_int_equal(enc[4], '#');
    assert_true(tix_base64url_encode(enc, 5, in, 3));
    assert_string_equal(enc, "Zm9v");

    unsigned char dec[8];
    assert_int_equal(tix_base64url_decode(dec, 2, "Zm9v"), -1); /* 3 bytes do not fit in 2 */
    assert_int_equal(tix_base64url_decode(dec, 3, "Zm9v"), 3);
}

static void test_base64url_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zm9v=",   /* padding */
        "Zg==",    /* padding */
        "Zm+v",    /* standard alphabet */
        "Zm/v",    /* standard alphabet */
        "Z",       /* impossible length */
        "Zm9vY",   /* impossible length */
        "Zm9v!",   /* junk */
        "Zm 9v",   /* space */
        "Zm9v\n",  /* newline */
        "Zh",      /* non-zero trailing bits ("f" is "Zg") */
        "Zm9\xc9", /* a byte above 0x7f: libsodium 1.0.18 alone read 0xc9 as '_' */
        "\xc9m9v", /* ... anywhere */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char out[16];
        long n = tix_base64url_decode(out, sizeof(out), bad[i]);
        if (n != -1) {
            fail_msg("\"%s\" decoded to %ld bytes", bad[i], n);
        }
    }
}

/* ---- digests ---- */

static void test_sha256(void **state)
{
    (void)state;
    char out[TIX_SHA256_HEX];
    tix_sha256_hex(out, "abc", 3);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tix_sha256_hex(out, "", 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tix_sha256_hex(out, two, strlen(two));
    assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* binary input with NUL bytes is hashed by length, not as a string */
    char a[TIX_SHA256_HEX];
    tix_sha256_hex(a, "ab\0cd", 5);
    tix_sha256_hex(out, "ab", 2);
    assert_string_not_equal(a, out);
}

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    char out[TIX_SHA256_HEX];
    /* test case 2 */
    const char *msg = "what do ya want for nothing?";
    tix_hmac_sha256_hex(out, "Jefe", 4, msg, strlen(msg));
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 1 */
    unsigned char key1[20];
    memset(key1, 0x0b, sizeof(key1));
    tix_hmac_sha256_hex(out, key1, sizeof(key1), "Hi There", 8);
    assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* test case 6: a key longer than the block size */
    unsigned char key6[131];
    memset(key6, 0xaa, sizeof(key6));
    const char *msg6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    tix_hmac_sha256_hex(out, key6, sizeof(key6), msg6, strlen(msg6));
    assert_string_equal(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_secure_streq(void **state)
{
    (void)state;
    assert_true(tix_secure_streq("", ""));
    assert_true(tix_secure_streq("secret-token", "secret-token"));
    assert_false(tix_secure_streq("secret-token", "secret-tokeN"));
    assert_false(tix_secure_streq("Secret-token", "secret-token"));
    assert_false(tix_secure_streq("secret", "secret-token"));
    assert_false(tix_secure_streq("secret-token", "secret"));
    assert_false(tix_secure_streq("", "x"));
    assert_false(tix_secure_streq("x", ""));
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[32];
    unsigned char b[32];
    unsigned char zero[32];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(zero, 0, sizeof(zero));
    tix_random_bytes(a, sizeof(a));
    tix_random_bytes(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
}

/* ---- JSON escaping ---- */

/* tix_utf8_seq, shared by the log's escaper and the request validators: the length of each
 * well-formed character, 0 for every kind of malformed one. */
static void test_utf8_seq(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t want;
    } cases[] = {
        {"", 1}, /* the terminating NUL */
        {"a", 1},
        {"\xc3\xa9", 2},         /* e acute */
        {"\xe2\x82\xac", 3},     /* euro sign */
        {"\xf0\x9f\x8e\xac", 4}, /* clapper board */
        {"\x80", 0},             /* a stray continuation byte */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x80\xaf", 0},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0},     /* a surrogate (U+D800) */
        {"\xf0\x80\x80\xaf", 0}, /* overlong, 4 bytes */
        {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 0}, /* no such lead byte */
        {"\xe2\x82", 0},         /* cut short by the NUL */
        {"\xc3(", 0},            /* a bad continuation byte */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tix_utf8_seq((const unsigned char *)cases[i].s), cases[i].want);
    }
}

static void test_json_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"", ""},
        {"plain text", "plain text"},
        {"say \"hi\"", "say \\\"hi\\\""},
        {"back\\slash", "back\\\\slash"},
        {"line1\nline2", "line1\\nline2"},
        {"tab\there", "tab\\u0009here"},
        {"cr\r", "cr\\u000d"},
        {"\x01\x1f", "\\u0001\\u001f"},
        {"del\x7f", "del\\u007f"},
        {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"}, /* UTF-8 passes through */
        {"</script>", "</script>"},
        {"\xf0\x9f\x8e\xac", "\xf0\x9f\x8e\xac"}, /* four bytes */
        {"a\xff"
         "b",
         "a\\ufffdb"},                             /* not UTF-8: U+FFFD */
        {"\xc3", "\\ufffd"},                       /* cut short */
        {"\xc0\xaf", "\\ufffd\\ufffd"},            /* overlong */
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* surrogate */
        /* line breaks to some readers (NEL, LS, PS; Python's splitlines, log shippers) and
         * the other C1 controls are escaped too; NBSP is not a control */
        {"nel\xc2\x85x", "nel\\u0085x"},
        {"\xc2\x80\xc2\x9b\xc2\x9f\xc2\xa0", "\\u0080\\u009b\\u009f\xc2\xa0"},
        {"ls\xe2\x80\xa8ps\xe2\x80\xa9", "ls\\u2028ps\\u2029"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        size_t n = tix_json_escape(out, sizeof(out), cases[i].in);
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("case %zu: \"%s\", want \"%s\"", i, out, cases[i].want);
        }
        assert_int_equal(n, strlen(out));
    }
    char out[8];
    assert_int_equal(tix_json_escape(out, sizeof(out), NULL), 0);
    assert_string_equal(out, "");
}

static void test_json_escape_truncation(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t cap;
        const char *want;
    } cases[] = {
        {"abcdef", 4, "abc"},      {"abcdef", 7, "abcdef"},
        {"abcdef", 1, ""},         {"ab\"cd", 4, "ab"}, /* never half an escape */
        {"ab\"cd", 5, "ab\\\""},   {"\x01", 6, ""},     /* \u0001 needs 6 + NUL */
        {"\x01", 7, "\\u0001"},    {"a\n", 3, "a"},
        {"a\n", 4, "a\\n"},        {"a\xc3\xa9", 3, "a"}, /* never half a UTF-8 character */
        {"a\xe2\x82\xac", 4, "a"}, {"a\xe2\x82\xac", 5, "a\xe2\x82\xac"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        memset(buf, '#', sizeof(buf));
        size_t n = tix_json_escape(buf, cases[i].cap, cases[i].in);
        if (strcmp(buf, cases[i].want) != 0) {
            fail_msg("case %zu: \"%s\", want \"%s\"", i, buf, cases[i].want);
        }
        assert_int_equal(n, strlen(cases[i].want));
        for (size_t j = cases[i].cap; j < sizeof(buf); j++) {
            if (buf[j] != '#') {
                fail_msg("case %zu: byte %zu written beyond cap %zu", i, j, cases[i].cap);
            }
        }
    }
    /* cap 0 writes nothing at all */
    char buf[4] = {'#', '#', '#', '#'};
    assert_int_equal(tix_json_escape(buf, 0, "abc"), 0);
    assert_int_equal(buf[0], '#');

    /* a long string of escapes into a small heap buffer (ASan catches any overflow) */
    char in[600];
    for (size_t i = 0; i < sizeof(in) - 1; i++) {
        in[i] = (char)(i % 3 == 0 ? '\x02' : (i % 3 == 1 ? '"' : 'x'));
    }
    in[sizeof(in) - 1] = '\0';
    for (size_t cap = 1; cap < 64; cap++) {
        char *heap = malloc(cap);
        assert_non_null(heap);
        size_t n = tix_json_escape(heap, cap, in);
        assert_true(n < cap);
        assert_int_equal(strlen(heap), n);
        free(heap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_parse_table),
        cmocka_unit_test(test_rfc3339_roundtrip),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_utf8_seq),
        cmocka_unit_test(test_id_shape_and_uniqueness),
        cmocka_unit_test(test_id_sorts_by_time),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_base64url_roundtrip),
        cmocka_unit_test(test_base64url_capacity),
        cmocka_unit_test(test_base64url_invalid),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_secure_streq),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_escape_truncation),
        cmocka_unit_test(test_word_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
