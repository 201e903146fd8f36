/*
 * Small text parsers of util.c and http/encoding.c that read request bytes: RFC 3339 times
 * (body fields), whole numbers (query values), base64url (cursors, tokens), UTF-8 checks,
 * JSON escaping for the log, and the Accept-Encoding header. Round trips are checked where
 * the header promises one.
 */
#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"
#include "http/encoding.h"
#include "http/validate.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = tix_fuzz_strndup(data, size);
    int64_t ms = 0;
    if (tix_parse_rfc3339(s, &ms) && ms >= INT64_C(-62167219200000) &&
        ms < INT64_C(253402300800000)) { /* years 0000-9999 in UTC: RFC 3339 has text for them */
        char back[TIX_RFC3339_MAX];
        int64_t ms2 = 0;
        tix_rfc3339(back, ms);
        if (!tix_parse_rfc3339(back, &ms2) || ms2 != ms) {
            abort();
        }
    }
    int64_t v = 0;
    (void)tix_parse_int(s, INT64_MIN, INT64_MAX, &v);
    unsigned char *bin = malloc(size + 1);
    long n = tix_base64url_decode(bin, size + 1, s);
    if (n > (long)size + 1) {
        abort();
    }
    if (n >= 0) {
        size_t cap = (size_t)n * 4 / 3 + 8;
        char *enc = malloc(cap);
        unsigned char *dec = malloc((size_t)n + 1);
        if (!tix_base64url_encode(enc, cap, bin, (size_t)n) ||
            tix_base64url_decode(dec, (size_t)n + 1, enc) != n ||
            (n > 0 && memcmp(dec, bin, (size_t)n) != 0)) {
            abort();
        }
        free(enc);
        free(dec);
    }
    free(bin);
    if (tix_utf8_valid(s) && tix_utf8_len(s) > size) {
        abort();
    }
    char esc[256];
    size_t e = tix_json_escape(esc, sizeof(esc), s);
    if (e >= sizeof(esc) || memchr(esc, '\0', sizeof(esc)) == NULL) {
        abort();
    }
    (void)tix_accepts_gzip(s);
    free(s);
    return 0;
}
