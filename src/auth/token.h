/*
 * JWTs for access and refresh tokens (libjwt, HS256 pinned). libjwt 1.10 checks the signature
 * but not the algorithm we expect nor exp/nbf, so tix_token_verify does those itself and never
 * decodes without a key. Pure apart from the clock passed in.
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
    int64_t iat;
    int64_t nbf;
    int64_t exp;
} tix_claims;

/* Signs claims as a token of the given type. OUT: *token (malloc'd; the caller frees). */
TIX_MUSTCHECK tix_rc tix_token_issue(const char *secret, tix_token_type type, const tix_claims *c,
                                     char **token);
/* Verifies signature, algorithm (HS256 only), type, issuer, exp and nbf at now_s.
 * TIX_EAUTH for anything wrong; claims filled only on TIX_OK. */
TIX_MUSTCHECK tix_rc tix_token_verify(const char *secret, tix_token_type type, const char *token,
                                      int64_t now_s, tix_claims *out);

#endif
