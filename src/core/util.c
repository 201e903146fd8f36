/* Implementation of core/util.h on libsodium (randomness, base64, SHA-256) and OpenSSL (HMAC). */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t (*clock_fn)(void) = real_now_ms;

int64_t tix_now_ms(void)
{
    return clock_fn();
}

void tix_clock_set(int64_t (*now_ms)(void))
{
    clock_fn = now_ms ? now_ms : real_now_ms;
}

int64_t tix_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tix_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool tix_thread_nice(int inc)
{
    if (inc <= 0) {
        return true;
    }
    /* PRIO_PROCESS with who 0 is the calling thread on Linux (setpriority(2), BUGS). */
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    if (now == -1 && errno != 0) {
        return false;
    }
    int want = now + inc > 19 ? 19 : now + inc;
    return setpriority(PRIO_PROCESS, 0, want) == 0;
}

void tix_random_bytes(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

uint64_t tix_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return h;
}

uint64_t tix_fnv1a_str(const char *s)
{
    return tix_fnv1a(s, strlen(s));
}

void tix_id_new(char out[TIX_ID_MAX], const char *prefix)
{
    static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
    unsigned char raw[16];
    uint64_t t = (uint64_t)tix_now_ms();
    for (int i = 5; i >= 0; i--) {
        raw[i] = (unsigned char)(t & 0xff);
        t >>= 8;
    }
    tix_random_bytes(raw + 6, 10);
    size_t p = (size_t)snprintf(out, TIX_ID_MAX, "%s_", prefix);
    /* 128 bits -> 26 base32 digits, most significant first (first digit carries 3 bits). */
    int bit = -2;
    for (int d = 0; d < 26 && p < TIX_ID_MAX - 1; d++, bit += 5) {
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int pos = bit + b;
            unsigned on = 0;
            if (pos >= 0) {
                on = (raw[pos / 8] >> (7 - pos % 8)) & 1u;
            }
            v = (v << 1) | on;
        }
        out[p++] = b32[v];
    }
    out[p] = '\0';
}

void tix_hex_encode(char *out, const unsigned char *in, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int tix_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool tix_base64url_encode(char *out, size_t cap, const unsigned char *in, size_t n)
{
    int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    if (sodium_base64_encoded_len(n, variant) > cap) {
        return false;
    }
    sodium_bin2base64(out, cap, in, n, variant);
    return true;
}

long tix_base64url_decode_n(unsigned char *out, size_t cap, const char *in, size_t len)
{
    /* Only the alphabet's own bytes: libsodium 1.0.18 decodes some bytes above 0x7f (a sign
     * extension) as alphabet letters, so "pt\xc9L" decoded as "pt_L" and a ticket token with a
     * changed byte still verified (found by fuzz_ticket_token). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return -1;
        }
    }
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, cap, in, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != in + len) {
        return -1;
    }
    return (long)n;
}

long tix_base64url_decode(unsigned char *out, size_t cap, const char *in)
{
    return tix_base64url_decode_n(out, cap, in, strlen(in));
}

void tix_sha256_hex(char out[TIX_SHA256_HEX], const void *in, size_t n)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, in, n);
    tix_hex_encode(out, d, sizeof(d));
}

void tix_hmac_sha256_hex(char out[TIX_SHA256_HEX], const void *key, size_t keylen, const void *msg,
                         size_t msglen)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, d, &dlen);
    tix_hex_encode(out, d, dlen);
}

bool tix_secure_streq(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la != lb) {
        return false;
    }
    return CRYPTO_memcmp(a, b, la) == 0;
}

void tix_rfc3339(char out[TIX_RFC3339_MAX], int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        sec -= 1;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    /* Not strftime: its %Y drops leading zeros ("221-01-30"), and RFC 3339 wants four digits.
     * Years outside 0..9999 (only from a corrupt value) are cut to fit, never overflowed. */
    int w = snprintf(out, TIX_RFC3339_MAX - 5, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    size_t n = w < 0 ? 0 : (size_t)w < TIX_RFC3339_MAX - 6 ? (size_t)w : TIX_RFC3339_MAX - 6;
    out[n++] = '.';
    out[n++] = (char)('0' + frac / 100);
    out[n++] = (char)('0' + frac / 10 % 10);
    out[n++] = (char)('0' + frac % 10);
    out[n++] = 'Z';
    out[n] = '\0';
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return false;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse_offset(const char *p, int64_t *off_ms)
{
    if (*p == 'Z' || *p == 'z') {
        *off_ms = 0;
        return p[1] == '\0';
    }
    int sign = *p == '+' ? 1 : (*p == '-' ? -1 : 0);
    int oh = 0;
    int om = 0;
    p++;
    if (sign == 0 || !digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || *p != '\0' ||
        oh > 23 || om > 59) {
        return false;
    }
    *off_ms = sign * ((int64_t)oh * 3600 + (int64_t)om * 60) * 1000;
    return true;
}

bool tix_parse_rfc3339(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ')) {
        return false;
    }
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &se)) {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59) {
        return false;
    }
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        for (; isdigit((unsigned char)*p); p++, nd++) {
            if (nd < 3) {
                frac_ms = frac_ms * 10 + (*p - '0');
            }
        }
        if (nd == 0 || nd > 9) {
            return false;
        }
        for (; nd < 3; nd++) {
            frac_ms *= 10;
        }
    }
    int64_t off = 0;
    if (!parse_offset(p, &off)) {
        return false;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se;
    *out_ms = secs * 1000 + frac_ms - off;
    return true;
}

bool tix_word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;
    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, " ");
        if (len == n && n > 0 && memcmp(p, word, n) == 0) {
            return true;
        }
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

bool tix_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* How many bytes a UTF-8 sequence with lead byte c has (0: c leads none). */
static size_t utf8_lead_len(unsigned c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        return 3;
    }
    return c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

/* Whether b may follow lead byte c (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_second_ok(unsigned c, unsigned b)
{
    switch (c) {
    case 0xe0:
        return b >= 0xa0;
    case 0xed:
        return b <= 0x9f;
    case 0xf0:
        return b >= 0x90;
    case 0xf4:
        return b <= 0x8f;
    default:
        return true;
    }
}

size_t tix_utf8_seq(const unsigned char *s)
{
    size_t n = utf8_lead_len(s[0]);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n > 1 && !utf8_second_ok(s[0], s[1]) ? 0 : n;
}
