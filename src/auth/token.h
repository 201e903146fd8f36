/*
 * JWTs for access and refresh tokens: HS256 only, written and checked here with libsodium's
 * HMAC-SHA-256 and jansson (no JWT library). The compact form is parsed strictly before any
 * JSON is: exactly three segments of unpadded, canonical base64url, header and payload
 * non-empty and within bounds, a 43-character signature compared in constant time; then a
 * header of exactly {"alg":"HS256","typ":"JWT"} and a payload that is one JSON object. libjwt
 * 1.10.2, used before, wrote past a zero-size buffer on an empty segment before checking the
 * signature, did not check exp and accepted alg "none" (issue 10). Times are compared without
 * adding to a claim, so any int64 in exp/nbf/iat is safe (issue 9). Pure apart from the clock
 * passed in.
 */
#ifndef TIX_AUTH_TOKEN_H
#define TIX_AUTH_TOKEN_H

#include "auth/policy.h"
#include "core/rc.h"
#include "core/util.h"

#include <stdint.h>

#define TIX_TOKEN_MAX      2048 /* longer bearer tokens are refused before decoding */
#define TIX_TOKEN_LEEWAY_S 30   /* clock skew allowed on exp and nbf */

typedef enum tix_token_type { TIX_TOKEN_ACCESS, TIX_TOKEN_REFRESH } tix_token_type;

typedef struct tix_claims {
    char sub[TIX_ID_MAX];
    char sid[TIX_ID_MAX];
    char jti[TIX_ID_MAX];
    tix_role role; /* access tokens only */
    int64_t epoch; /* access tokens only ("ep"): the user's token epoch when issued */
    int64_t iat;
    int64_t nbf;
    int64_t exp;
} tix_claims;

/* Signs claims as a token of the given type. OUT: *token (malloc'd; the caller frees). */
TIX_MUSTCHECK tix_rc tix_token_issue(const char *secret, tix_token_type type, const tix_claims *c,
                                     char **token);
/* Verifies the compact form, signature, header (HS256 only), type, issuer, and at now_s: not
 * expired (now < exp + leeway), valid already (nbf <= now + leeway, nbf defaults to iat), not
 * issued in the future (0 <= iat <= now + leeway). A clock within the leeway of either end of
 * int64 refuses everything. TIX_EAUTH for anything wrong; claims filled only on TIX_OK. */
TIX_MUSTCHECK tix_rc tix_token_verify(const char *secret, tix_token_type type, const char *token,
                                      int64_t now_s, tix_claims *out);

#endif
