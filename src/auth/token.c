/*
 * HS256 JWTs on libsodium's HMAC-SHA-256 and jansson; see token.h for what is checked and why.
 *
 * Verification runs in this order, each step on bytes the previous one bounded:
 *   1. shape: at most TIX_TOKEN_MAX bytes, exactly two dots, header 1..HEADER_B64_MAX and
 *      payload 1..PAYLOAD_B64_MAX characters, a signature of exactly SIG_B64_LEN;
 *   2. the signature: strict base64url (no padding, zero trailing bits) to 32 bytes, compared in
 *      constant time with HMAC-SHA-256(secret, "header.payload") — before any JSON is parsed;
 *   3. the header: strict base64url, one JSON object with exactly "alg":"HS256" and "typ":"JWT";
 *   4. the payload: strict base64url, one JSON object without duplicate members, then the claims.
 * Nothing is allocated before step 3; the decoded segments live on the stack.
 */
#include "auth/token.h"

#include "core/util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ISSUER          "ticketd"
#define SIG_B64_LEN     43  /* 32 bytes of HMAC-SHA-256 in unpadded base64url */
#define HEADER_B64_MAX  128 /* {"alg":"HS256","typ":"JWT"} is 36 */
#define PAYLOAD_B64_MAX TIX_TOKEN_MAX
/* base64url of {"alg":"HS256","typ":"JWT"}, the only header this module writes */
#define HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

static const char *type_name(tix_token_type t)
{
    return t == TIX_TOKEN_ACCESS ? "access" : "refresh";
}

static void hs256(unsigned char mac[crypto_auth_hmacsha256_BYTES], const char *secret,
                  const char *msg, size_t len)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
}

/* The payload JSON of c as a token of type. OUT: malloc'd string (the caller frees), or NULL. */
static char *payload_json(tix_token_type type, const tix_claims *c)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "iss", ISSUER, "typ", type_name(type), "sub",
                          c->sub, "sid", c->sid, "jti", c->jti);
    if (o == NULL) {
        return NULL;
    }
    int err = 0;
    if (type == TIX_TOKEN_ACCESS) {
        err |= json_object_set_new(o, "role", json_string(tix_role_name(c->role)));
        err |= json_object_set_new(o, "ep", json_integer((json_int_t)c->epoch));
    }
    err |= json_object_set_new(o, "iat", json_integer((json_int_t)c->iat));
    err |= json_object_set_new(o, "nbf", json_integer((json_int_t)c->nbf));
    err |= json_object_set_new(o, "exp", json_integer((json_int_t)c->exp));
    char *s = err ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

tix_rc tix_token_issue(const char *secret, tix_token_type type, const tix_claims *c, char **token)
{
    char *json = payload_json(type, c);
    if (json == NULL) {
        return TIX_ENOMEM;
    }
    size_t jlen = strlen(json);
    size_t p64 = sodium_base64_encoded_len(jlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t cap = sizeof(HEADER_B64) + p64 + 1 + SIG_B64_LEN + 1;
    char *s = malloc(cap);
    if (s == NULL) {
        free(json);
        return TIX_ENOMEM;
    }
    memcpy(s, HEADER_B64 ".", sizeof(HEADER_B64));
    size_t n = sizeof(HEADER_B64); /* the header and its dot */
    sodium_bin2base64(s + n, cap - n, (const unsigned char *)json, jlen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(json);
    n += strlen(s + n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hs256(mac, secret, s, n);
    s[n++] = '.';
    sodium_bin2base64(s + n, cap - n, mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    *token = s;
    return TIX_OK;
}

/* A JSON object from a base64url segment, duplicates refused. OUT: a new reference or NULL. */
static json_t *segment_object(const char *in, size_t len)
{
    unsigned char buf[PAYLOAD_B64_MAX * 3 / 4 + 4];
    long n = tix_base64url_decode_n(buf, sizeof(buf), in, len);
    if (n <= 0) {
        return NULL;
    }
    json_t *o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool str_member_is(const json_t *o, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v != NULL && strcmp(v, want) == 0;
}

/* Exactly {"alg":"HS256","typ":"JWT"}, in any order and spacing. */
static bool header_ok(const char *in, size_t len)
{
    json_t *h = segment_object(in, len);
    bool ok = h != NULL && json_object_size(h) == 2 && str_member_is(h, "alg", "HS256") &&
              str_member_is(h, "typ", "JWT");
    json_decref(h);
    return ok;
}

static bool copy_claim(const json_t *o, const char *name, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, name));
    if (v == NULL || *v == '\0' || strlen(v) >= cap) {
        return false;
    }
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

/* An integer member (not a real, not a string); absent or anything else is false. */
static bool int_claim(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) {
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* exp, nbf and iat at now_s with TIX_TOKEN_LEEWAY_S of skew. Only now_s, bounded first, is
 * offset by the leeway; a claim is never added to, so any int64 claim compares safely. */
static bool times_ok(const tix_claims *c, int64_t now_s)
{
    if (now_s < TIX_TOKEN_LEEWAY_S || now_s > INT64_MAX - TIX_TOKEN_LEEWAY_S) {
        return false;
    }
    if (c->exp <= now_s - TIX_TOKEN_LEEWAY_S) { /* now >= exp + leeway: expired */
        return false;
    }
    if (c->nbf > now_s + TIX_TOKEN_LEEWAY_S) { /* now + leeway < nbf: not yet valid */
        return false;
    }
    return c->iat >= 0 && c->iat <= now_s + TIX_TOKEN_LEEWAY_S; /* not issued in the future */
}

static bool claims_ok(const json_t *p, tix_token_type type, int64_t now_s, tix_claims *c)
{
    if (!str_member_is(p, "iss", ISSUER) || !str_member_is(p, "typ", type_name(type))) {
        return false;
    }
    if (!copy_claim(p, "sub", c->sub, sizeof(c->sub)) ||
        !copy_claim(p, "sid", c->sid, sizeof(c->sid)) ||
        !copy_claim(p, "jti", c->jti, sizeof(c->jti))) {
        return false;
    }
    if (!int_claim(p, "exp", &c->exp) || !int_claim(p, "iat", &c->iat)) {
        return false;
    }
    if (json_object_get(p, "nbf") == NULL) {
        c->nbf = c->iat;
    } else if (!int_claim(p, "nbf", &c->nbf)) {
        return false;
    }
    if (!times_ok(c, now_s)) {
        return false;
    }
    if (type == TIX_TOKEN_ACCESS &&
        (!tix_role_parse(json_string_value(json_object_get(p, "role")), &c->role) ||
         !int_claim(p, "ep", &c->epoch) || c->epoch < 0)) {
        return false;
    }
    return true;
}

/* Step 1: the compact form's shape. OUT: the two dots' positions. */
static bool shape_ok(const char *token, const char **dot1, const char **dot2)
{
    size_t len = strnlen(token, TIX_TOKEN_MAX + 1);
    if (len > TIX_TOKEN_MAX) {
        return false;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL) {
        return false;
    }
    size_t hl = (size_t)(d1 - token);
    size_t pl = (size_t)(d2 - d1 - 1);
    size_t sl = len - (size_t)(d2 + 1 - token);
    if (hl == 0 || hl > HEADER_B64_MAX || pl == 0 || pl > PAYLOAD_B64_MAX || sl != SIG_B64_LEN) {
        return false;
    }
    *dot1 = d1;
    *dot2 = d2;
    return true;
}

/* Step 2: the signature over token[0..dot2), in constant time. */
static bool signature_ok(const char *secret, const char *token, const char *dot2)
{
    unsigned char sig[crypto_auth_hmacsha256_BYTES + 1];
    if (tix_base64url_decode_n(sig, sizeof(sig), dot2 + 1, SIG_B64_LEN) !=
        crypto_auth_hmacsha256_BYTES) {
        return false;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hs256(mac, secret, token, (size_t)(dot2 - token));
    return crypto_verify_32(mac, sig) == 0;
}

tix_rc tix_token_verify(const char *secret, tix_token_type type, const char *token, int64_t now_s,
                        tix_claims *out)
{
    const char *d1 = NULL;
    const char *d2 = NULL;
    if (token == NULL || secret == NULL || *secret == '\0' || !shape_ok(token, &d1, &d2) ||
        !signature_ok(secret, token, d2) || !header_ok(token, (size_t)(d1 - token))) {
        return TIX_EAUTH;
    }
    json_t *p = segment_object(d1 + 1, (size_t)(d2 - d1 - 1));
    if (p == NULL) {
        return TIX_EAUTH;
    }
    tix_claims c;
    memset(&c, 0, sizeof(c));
    bool ok = claims_ok(p, type, now_s, &c);
    json_decref(p);
    if (!ok) {
        return TIX_EAUTH;
    }
    *out = c;
    return TIX_OK;
}
