/* JWT issue and verification on libjwt; see token.h for what is checked and why. */
#include "auth/token.h"

#include <errno.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#define ISSUER "ticketd"

static const char *type_name(tix_token_type t)
{
    return t == TIX_TOKEN_ACCESS ? "access" : "refresh";
}

tix_rc tix_token_issue(const char *secret, tix_token_type type, const tix_claims *c, char **token)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0) {
        return TIX_ENOMEM;
    }
    int err = jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
    err = err ? err : jwt_add_grant(jwt, "iss", ISSUER);
    err = err ? err : jwt_add_grant(jwt, "typ", type_name(type));
    err = err ? err : jwt_add_grant(jwt, "sub", c->sub);
    err = err ? err : jwt_add_grant(jwt, "sid", c->sid);
    err = err ? err : jwt_add_grant(jwt, "jti", c->jti);
    if (!err && type == TIX_TOKEN_ACCESS) {
        err = jwt_add_grant(jwt, "role", tix_role_name(c->role));
    }
    err = err ? err : jwt_add_grant_int(jwt, "iat", (long)c->iat);
    err = err ? err : jwt_add_grant_int(jwt, "nbf", (long)c->nbf);
    err = err ? err : jwt_add_grant_int(jwt, "exp", (long)c->exp);
    char *s = err ? NULL : jwt_encode_str(jwt);
    jwt_free(jwt);
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    *token = s;
    return TIX_OK;
}

static bool copy_grant(jwt_t *jwt, const char *name, char *dst, size_t cap)
{
    const char *v = jwt_get_grant(jwt, name);
    if (v == NULL || *v == '\0' || strlen(v) >= cap) {
        return false;
    }
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

static bool int_grant(jwt_t *jwt, const char *name, int64_t *out)
{
    errno = 0;
    long v = jwt_get_grant_int(jwt, name);
    if (errno != 0) {
        return false;
    }
    *out = v;
    return true;
}

static bool str_grant_is(jwt_t *jwt, const char *name, const char *want)
{
    const char *v = jwt_get_grant(jwt, name);
    return v != NULL && strcmp(v, want) == 0;
}

static bool check_claims(jwt_t *jwt, tix_token_type type, int64_t now_s, tix_claims *c)
{
    if (jwt_get_alg(jwt) != JWT_ALG_HS256 || !str_grant_is(jwt, "iss", ISSUER) ||
        !str_grant_is(jwt, "typ", type_name(type))) {
        return false;
    }
    if (!copy_grant(jwt, "sub", c->sub, sizeof(c->sub)) ||
        !copy_grant(jwt, "sid", c->sid, sizeof(c->sid)) ||
        !copy_grant(jwt, "jti", c->jti, sizeof(c->jti))) {
        return false;
    }
    if (!int_grant(jwt, "exp", &c->exp) || !int_grant(jwt, "iat", &c->iat)) {
        return false;
    }
    if (!int_grant(jwt, "nbf", &c->nbf)) {
        c->nbf = c->iat;
    }
    if (now_s >= c->exp + TIX_TOKEN_LEEWAY_S || now_s + TIX_TOKEN_LEEWAY_S < c->nbf) {
        return false;
    }
    if (type == TIX_TOKEN_ACCESS && !tix_role_parse(jwt_get_grant(jwt, "role"), &c->role)) {
        return false;
    }
    return true;
}

tix_rc tix_token_verify(const char *secret, tix_token_type type, const char *token, int64_t now_s,
                        tix_claims *out)
{
    if (token == NULL || strlen(token) > TIX_TOKEN_MAX || secret == NULL || *secret == '\0') {
        return TIX_EAUTH;
    }
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 ||
        jwt == NULL) {
        return TIX_EAUTH;
    }
    tix_claims c;
    memset(&c, 0, sizeof(c));
    bool ok = check_claims(jwt, type, now_s, &c);
    jwt_free(jwt);
    if (!ok) {
        return TIX_EAUTH;
    }
    *out = c;
    return TIX_OK;
}
