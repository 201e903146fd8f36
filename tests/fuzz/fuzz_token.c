/*
 * JWTs (auth/token.c): any bytes as a bearer token, verified as an access and as a refresh
 * token, as tix_token_verify is reached from an Authorization header before anything else is
 * checked. Tokens of the right shape come from the corpus and the dictionary (jwt.dict); a
 * token the fuzzer forges must never verify. Two more input shapes sign claims: after a 0x01
 * byte plausible ones, which must verify back unchanged; after 0x02 any iat, nbf and exp, which
 * must verify only while valid at the fuzzed instant.
 */
#include "auth/token.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-access-secret-0123456789abcdef-0123456789"

static int64_t take_i64(const uint8_t *d, size_t n, size_t at)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && at + i < n; i++) {
        v |= (uint64_t)d[at + i] << (8 * i);
    }
    return (int64_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0x01) {
        tix_claims c;
        memset(&c, 0, sizeof(c));
        size_t idn = size > 9 ? (size - 9) % 20 : 0;
        memcpy(c.sub, "usr_", 4);
        for (size_t i = 0; i < idn && 9 + i < size; i++) {
            c.sub[4 + i] = (char)('a' + data[9 + i] % 26);
        }
        memcpy(c.sid, "ses_abc", 7);
        memcpy(c.jti, "jti_abc", 7);
        c.role = TIX_ROLE_USER;
        int64_t now = 1700000000 + (take_i64(data, size, 1) & 0xffffff);
        c.iat = now;
        c.nbf = now;
        c.exp = now + 900;
        char *tok = NULL;
        if (tix_token_issue(SECRET, TIX_TOKEN_ACCESS, &c, &tok) != TIX_OK) {
            abort();
        }
        tix_claims out;
        if (tix_token_verify(SECRET, TIX_TOKEN_ACCESS, tok, now, &out) != TIX_OK ||
            strcmp(out.sub, c.sub) != 0 || out.exp != c.exp ||
            tix_token_verify(SECRET, TIX_TOKEN_REFRESH, tok, now, &out) == TIX_OK ||
            tix_token_verify("another-secret-0123456789abcdef-0123456789", TIX_TOKEN_ACCESS, tok,
                             now, &out) == TIX_OK) {
            abort();
        }
        free(tok);
        return 0;
    }
    if (size > 0 && data[0] == 0x02) {
        /* any iat, nbf and exp (only a holder of the secret can sign them, but the checks on
         * them must hold whatever they are: issue 10 item 9 was a signed overflow here) */
        tix_claims c;
        memset(&c, 0, sizeof(c));
        memcpy(c.sub, "usr_abc", 7);
        memcpy(c.sid, "ses_abc", 7);
        memcpy(c.jti, "jti_abc", 7);
        c.role = TIX_ROLE_ADMIN;
        c.iat = take_i64(data, size, 1);
        c.nbf = take_i64(data, size, 9);
        c.exp = take_i64(data, size, 17);
        int64_t now = take_i64(data, size, 25) & ((INT64_C(1) << 40) - 1);
        char *tok = NULL;
        if (tix_token_issue(SECRET, TIX_TOKEN_ACCESS, &c, &tok) == TIX_OK) {
            tix_claims out;
            if (tix_token_verify(SECRET, TIX_TOKEN_ACCESS, tok, now, &out) == TIX_OK &&
                (now - TIX_TOKEN_LEEWAY_S >= c.exp || now + TIX_TOKEN_LEEWAY_S < c.nbf)) {
                abort(); /* expired or not yet valid, and accepted */
            }
            free(tok);
        }
        return 0;
    }
    char *tok = tix_fuzz_strndup(data, size);
    tix_claims out;
    if (tix_token_verify(SECRET, TIX_TOKEN_ACCESS, tok, 1700000000, &out) == TIX_OK ||
        tix_token_verify(SECRET, TIX_TOKEN_REFRESH, tok, 1700000000, &out) == TIX_OK) {
        abort(); /* a forged token verified */
    }
    free(tok);
    return 0;
}
