/* Unit tests for auth/token (JWT issue and verification) and auth/policy (access rules). */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "auth/policy.h"
#include "auth/token.h"
#include "core/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET       "access-secret-0123456789abcdef0123456789"
#define OTHER_SECRET "refresh-secret-0123456789abcdef012345678"
#define NOW          1764000000 /* 2025-11-24 */
#define TTL          900

static tix_claims sample_claims(tix_role role)
{
    tix_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "usr_01jabcdefghjkmnpqrstvwxyz0");
    snprintf(c.sid, sizeof(c.sid), "ses_01jabcdefghjkmnpqrstvwxyz1");
    snprintf(c.jti, sizeof(c.jti), "tok_01jabcdefghjkmnpqrstvwxyz2");
    c.role = role;
    c.epoch = 7;
    c.iat = NOW;
    c.nbf = NOW;
    c.exp = NOW + TTL;
    return c;
}

static char *issue(const char *secret, tix_token_type type, const tix_claims *c)
{
    /* static: gcc 12's -Wdangling-pointer otherwise assumes the callee may store &tok in tok */
    static char *tok;
    tok = NULL;
    assert_int_equal(tix_token_issue(secret, type, c, &tok), TIX_OK);
    assert_non_null(tok);
    char *out = tok;
    tok = NULL;
    return out;
}

/* Verifies and checks that out is left untouched on failure. */
static tix_rc verify(const char *secret, tix_token_type type, const char *tok, int64_t now)
{
    tix_claims out;
    memset(&out, 0x5a, sizeof(out));
    tix_rc rc = tix_token_verify(secret, type, tok, now, &out);
    if (rc != TIX_OK) {
        tix_claims untouched;
        memset(&untouched, 0x5a, sizeof(untouched));
        assert_memory_equal(&out, &untouched, sizeof(out));
    }
    return rc;
}

/* The hash of an HMAC JWT algorithm name ("HS256", "HS384", "HS512"). */
static const EVP_MD *hmac_md(const char *alg)
{
    if (strcmp(alg, "HS384") == 0) {
        return EVP_sha384();
    }
    if (strcmp(alg, "HS512") == 0) {
        return EVP_sha512();
    }
    return EVP_sha256();
}

static void b64(char *out, size_t cap, const char *s)
{
    assert_true(tix_base64url_encode(out, cap, (const unsigned char *)s, strlen(s)));
}

/* A token built by hand (OpenSSL's HMAC, independent of auth/token.c) from the header and
 * payload JSON given, signed with secret under the hash that alg names. OUT: malloc'd. */
static char *build_raw(const char *alg, const char *secret, const char *header, const char *payload)
{
    char h64[512];
    char p64[8200];
    b64(h64, sizeof(h64), header);
    b64(p64, sizeof(p64), payload);
    size_t cap = strlen(h64) + strlen(p64) + 200;
    char *tok = malloc(cap);
    assert_non_null(tok);
    snprintf(tok, cap, "%s.%s", h64, p64);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    assert_non_null(HMAC(hmac_md(alg), secret, (int)strlen(secret), (const unsigned char *)tok,
                         strlen(tok), mac, &maclen));
    size_t n = strlen(tok);
    tok[n++] = '.';
    assert_true(tix_base64url_encode(tok + n, cap - n, mac, maclen));
    return tok;
}

/* A token with the standard header for alg and the payload JSON given. */
static char *build_token(const char *alg, const char *secret, const char *payload)
{
    char header[64];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return build_raw(alg, secret, header, payload);
}

/* Payload JSON like tix_token_issue's, with each member overridable ("" leaves it out). */
typedef struct payload_spec {
    const char *iss;
    const char *typ;
    const char *sub;
    const char *sid;
    const char *jti;
    const char *role;
    const char *ep;
    const char *iat;
    const char *nbf;
    const char *exp;
    const char *extra; /* raw members appended, or NULL */
} payload_spec;

static payload_spec default_spec(void)
{
    static char iat[32], exp[32];
    snprintf(iat, sizeof(iat), "%d", NOW);
    snprintf(exp, sizeof(exp), "%d", NOW + TTL);
    payload_spec s = {"\"ticketd\"", "\"access\"", "\"usr_1\"", "\"ses_1\"",
                      "\"tok_1\"",   "\"user\"",   "0",         iat,
                      iat,           exp,          NULL};
    return s;
}

static void append_member(char *buf, size_t cap, const char *name, const char *json_value)
{
    if (json_value == NULL || *json_value == '\0') {
        return;
    }
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s\"%s\":%s", n > 1 ? "," : "", name, json_value);
}

static void render_payload(const payload_spec *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "{");
    append_member(buf, cap, "iss", s->iss);
    append_member(buf, cap, "typ", s->typ);
    append_member(buf, cap, "sub", s->sub);
    append_member(buf, cap, "sid", s->sid);
    append_member(buf, cap, "jti", s->jti);
    append_member(buf, cap, "role", s->role);
    append_member(buf, cap, "ep", s->ep);
    append_member(buf, cap, "iat", s->iat);
    append_member(buf, cap, "nbf", s->nbf);
    append_member(buf, cap, "exp", s->exp);
    size_t n = strlen(buf);
    if (s->extra != NULL) {
        snprintf(buf + n, cap - n, "%s%s", n > 1 ? "," : "", s->extra);
        n = strlen(buf);
    }
    snprintf(buf + n, cap - n, "}");
}

static char *build_spec(const char *alg, const char *secret, const payload_spec *s)
{
    char payload[6000];
    render_payload(s, payload, sizeof(payload));
    return build_token(alg, secret, payload);
}

/* ---- round trips ---- */

static void test_access_roundtrip_every_role(void **state)
{
    (void)state;
    const tix_role roles[] = {TIX_ROLE_USER, TIX_ROLE_OWNER, TIX_ROLE_ADMIN};
    for (size_t i = 0; i < 3; i++) {
        tix_claims c = sample_claims(roles[i]);
        char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
        tix_claims out;
        memset(&out, 0, sizeof(out));
        assert_int_equal(tix_token_verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW, &out), TIX_OK);
        assert_string_equal(out.sub, c.sub);
        assert_string_equal(out.sid, c.sid);
        assert_string_equal(out.jti, c.jti);
        assert_int_equal(out.role, roles[i]);
        assert_int_equal(out.epoch, 7);
        assert_int_equal(out.iat, c.iat);
        assert_int_equal(out.nbf, c.nbf);
        assert_int_equal(out.exp, c.exp);
        free(tok);
    }
}

static void test_refresh_roundtrip(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_ADMIN);
    char *tok = issue(OTHER_SECRET, TIX_TOKEN_REFRESH, &c);
    tix_claims out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(tix_token_verify(OTHER_SECRET, TIX_TOKEN_REFRESH, tok, NOW + 10, &out),
                     TIX_OK);
    assert_string_equal(out.sub, c.sub);
    assert_string_equal(out.sid, c.sid);
    assert_string_equal(out.jti, c.jti);
    assert_int_equal(out.exp, c.exp);
    free(tok);
}

static void test_token_shape(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    /* three base64url segments */
    int dots = 0;
    for (const char *p = tok; *p; p++) {
        if (*p == '.') {
            dots++;
        } else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) {
            fail_msg("character '%c' in token", *p);
        }
    }
    assert_int_equal(dots, 2);
    /* the header says HS256 */
    char head[128];
    size_t hl = (size_t)(strchr(tok, '.') - tok);
    assert_true(hl < sizeof(head));
    memcpy(head, tok, hl);
    head[hl] = '\0';
    unsigned char dec[128];
    long n = tix_base64url_decode(dec, sizeof(dec) - 1, head);
    assert_true(n > 0);
    dec[n] = '\0';
    assert_non_null(strstr((char *)dec, "\"HS256\""));
    free(tok);
}

/* ---- failures ---- */

static void test_wrong_secret(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    assert_int_equal(verify(OTHER_SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    assert_int_equal(verify(SECRET "x", TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    assert_int_equal(verify("", TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    assert_int_equal(verify(NULL, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    free(tok);
}

static void test_type_confusion(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_ADMIN);
    char *access = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    char *refresh = issue(SECRET, TIX_TOKEN_REFRESH, &c);
    /* same secret on purpose: only the type claim tells them apart */
    assert_int_equal(verify(SECRET, TIX_TOKEN_REFRESH, access, NOW), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, refresh, NOW), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, access, NOW), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_REFRESH, refresh, NOW), TIX_OK);
    free(access);
    free(refresh);
}

static void test_expiry_and_leeway(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.exp - 1), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.exp), TIX_OK); /* in leeway */
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.exp + TIX_TOKEN_LEEWAY_S - 1), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.exp + TIX_TOKEN_LEEWAY_S), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.exp + 3600), TIX_EAUTH);
    free(tok);

    /* a refresh token expires the same way */
    tok = issue(SECRET, TIX_TOKEN_REFRESH, &c);
    assert_int_equal(verify(SECRET, TIX_TOKEN_REFRESH, tok, c.exp + TIX_TOKEN_LEEWAY_S), TIX_EAUTH);
    free(tok);
}

static void test_not_before(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    c.nbf = NOW + 600;
    c.exp = NOW + 6000;
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.nbf - TIX_TOKEN_LEEWAY_S - 1),
                     TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.nbf - TIX_TOKEN_LEEWAY_S), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, c.nbf), TIX_OK);
    free(tok);
}

static void test_tampered_payload(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    char *d1 = strchr(tok, '.');
    char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    /* flip one character in the middle of the payload to another base64url character */
    char *mid = d1 + 1 + (d2 - d1 - 1) / 2;
    *mid = *mid == 'A' ? 'B' : 'A';
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    free(tok);

    /* a well-formed payload promoting the user to admin, with the user's signature */
    tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    d1 = strchr(tok, '.');
    d2 = strchr(d1 + 1, '.');
    char payload[1024];
    size_t pl = (size_t)(d2 - d1 - 1);
    memcpy(payload, d1 + 1, pl);
    payload[pl] = '\0';
    unsigned char json[1024];
    long n = tix_base64url_decode(json, sizeof(json) - 1, payload);
    assert_true(n > 0);
    json[n] = '\0';
    char *role = strstr((char *)json, "\"user\"");
    assert_non_null(role);
    char forged[1024];
    snprintf(forged, sizeof(forged), "%.*s\"admin\"%s", (int)(role - (char *)json), (char *)json,
             role + 6);
    char forged_b64[1400];
    assert_true(tix_base64url_encode(forged_b64, sizeof(forged_b64), (const unsigned char *)forged,
                                     strlen(forged)));
    char token[3000];
    snprintf(token, sizeof(token), "%.*s.%s%s", (int)(d1 - tok), tok, forged_b64, d2);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, token, NOW), TIX_EAUTH);
    free(tok);
}

static void test_tampered_signature(void **state)
{
    (void)state;
    tix_claims c = sample_claims(TIX_ROLE_USER);
    char *tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    char *sig = strrchr(tok, '.') + 1;
    size_t sl = strlen(sig);
    assert_true(sl > 10);
    char saved = sig[sl / 2];
    sig[sl / 2] = saved == 'A' ? 'B' : 'A';
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    sig[sl / 2] = saved;
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_OK);
    /* signature removed or truncated */
    char copy[1024];
    snprintf(copy, sizeof(copy), "%.*s", (int)(sig - tok), tok);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, copy, NOW), TIX_EAUTH);
    snprintf(copy, sizeof(copy), "%.*s", (int)(sig - tok - 1), tok);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, copy, NOW), TIX_EAUTH);
    snprintf(copy, sizeof(copy), "%.*s", (int)strlen(tok) - 4, tok);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, copy, NOW), TIX_EAUTH);
    /* extra data after the signature */
    snprintf(copy, sizeof(copy), "%s.AAAA", tok);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, copy, NOW), TIX_EAUTH);
    free(tok);
}

static void test_alg_none_rejected(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    char payload[1024];
    render_payload(&spec, payload, sizeof(payload));
    char h64[256];
    char p64[1400];
    b64(p64, sizeof(p64), payload);
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\",\"typ\":\"JWT\"}",
        "{\"alg\":\"NONE\"}",
        "{\"typ\":\"JWT\"}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        b64(h64, sizeof(h64), headers[i]);
        char token[2000];
        snprintf(token, sizeof(token), "%s.%s.", h64, p64);
        if (verify(SECRET, TIX_TOKEN_ACCESS, token, NOW) != TIX_EAUTH) {
            fail_msg("accepted header %s with an empty signature", headers[i]);
        }
        snprintf(token, sizeof(token), "%s.%s", h64, p64);
        assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, token, NOW), TIX_EAUTH);
    }
}

static void test_other_algorithms_rejected(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    /* control: the hand-built HS256 token with the same claims is accepted */
    char *hs256 = build_spec("HS256", SECRET, &spec);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, hs256, NOW), TIX_OK);
    free(hs256);
    static const char *const algs[] = {"HS384", "HS512"};
    for (size_t i = 0; i < 2; i++) {
        char *tok = build_spec(algs[i], SECRET, &spec);
        if (verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW) != TIX_EAUTH) {
            fail_msg("accepted a token signed with alg %s", algs[i]);
        }
        free(tok);
    }
}

typedef struct claim_case {
    const char *what;
    tix_token_type type;
    payload_spec spec;
    tix_rc want;
} claim_case;

static void test_claims_table(void **state)
{
    (void)state;
    static char pad[2200];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    static char long_pad_member[2300];
    snprintf(long_pad_member, sizeof(long_pad_member), "\"pad\":\"%s\"", pad);
    static char short_pad_member[1200];
    snprintf(short_pad_member, sizeof(short_pad_member), "\"pad\":\"%.1000s\"", pad);
    char long_id[64];
    memset(long_id, 'x', sizeof(long_id));
    long_id[0] = '"';
    long_id[TIX_ID_MAX + 2] = '"';
    long_id[TIX_ID_MAX + 3] = '\0';

    payload_spec d = default_spec();
    claim_case cases[40];
    size_t n = 0;
#define CASE(name, typ_, want_, field, value)                                                      \
    do {                                                                                           \
        cases[n].what = name;                                                                      \
        cases[n].type = typ_;                                                                      \
        cases[n].spec = d;                                                                         \
        cases[n].spec.field = value;                                                               \
        cases[n].want = want_;                                                                     \
        n++;                                                                                       \
    } while (0)
    CASE("control", TIX_TOKEN_ACCESS, TIX_OK, extra, NULL);
    CASE("no sub", TIX_TOKEN_ACCESS, TIX_EAUTH, sub, "");
    CASE("no sid", TIX_TOKEN_ACCESS, TIX_EAUTH, sid, "");
    CASE("no jti", TIX_TOKEN_ACCESS, TIX_EAUTH, jti, "");
    CASE("no exp", TIX_TOKEN_ACCESS, TIX_EAUTH, exp, "");
    CASE("no iss", TIX_TOKEN_ACCESS, TIX_EAUTH, iss, "");
    CASE("no typ", TIX_TOKEN_ACCESS, TIX_EAUTH, typ, "");
    CASE("no role", TIX_TOKEN_ACCESS, TIX_EAUTH, role, "");
    CASE("no ep", TIX_TOKEN_ACCESS, TIX_EAUTH, ep, "");
    CASE("ep negative", TIX_TOKEN_ACCESS, TIX_EAUTH, ep, "-1");
    CASE("ep a string", TIX_TOKEN_ACCESS, TIX_EAUTH, ep, "\"0\"");
    CASE("ep a fraction", TIX_TOKEN_ACCESS, TIX_EAUTH, ep, "1.5");
    CASE("ep large", TIX_TOKEN_ACCESS, TIX_OK, ep, "9223372036854775807");
    CASE("empty sub", TIX_TOKEN_ACCESS, TIX_EAUTH, sub, "\"\"");
    CASE("numeric sub", TIX_TOKEN_ACCESS, TIX_EAUTH, sub, "42");
    CASE("sub too long", TIX_TOKEN_ACCESS, TIX_EAUTH, sub, long_id);
    CASE("iss other", TIX_TOKEN_ACCESS, TIX_EAUTH, iss, "\"evil\"");
    CASE("iss prefix", TIX_TOKEN_ACCESS, TIX_EAUTH, iss, "\"ticketd2\"");
    CASE("typ other", TIX_TOKEN_ACCESS, TIX_EAUTH, typ, "\"id\"");
    CASE("role unknown", TIX_TOKEN_ACCESS, TIX_EAUTH, role, "\"superuser\"");
    CASE("role upper-case", TIX_TOKEN_ACCESS, TIX_EAUTH, role, "\"ADMIN\"");
    CASE("role not a string", TIX_TOKEN_ACCESS, TIX_EAUTH, role, "2");
    CASE("exp not a number", TIX_TOKEN_ACCESS, TIX_EAUTH, exp, "\"soon\"");
    CASE("no nbf is fine", TIX_TOKEN_ACCESS, TIX_OK, nbf, "");
    CASE("extra claims are fine", TIX_TOKEN_ACCESS, TIX_OK, extra, short_pad_member);
    CASE("longer than TIX_TOKEN_MAX", TIX_TOKEN_ACCESS, TIX_EAUTH, extra, long_pad_member);
    /* a refresh token needs no role */
    d.typ = "\"refresh\"";
    d.role = "";
    d.ep = "";
    CASE("refresh control", TIX_TOKEN_REFRESH, TIX_OK, extra, NULL);
    CASE("refresh no sub", TIX_TOKEN_REFRESH, TIX_EAUTH, sub, "");
    CASE("refresh no sid", TIX_TOKEN_REFRESH, TIX_EAUTH, sid, "");
    CASE("refresh no exp", TIX_TOKEN_REFRESH, TIX_EAUTH, exp, "");
    CASE("refresh iss other", TIX_TOKEN_REFRESH, TIX_EAUTH, iss, "\"evil\"");
#undef CASE
    for (size_t i = 0; i < n; i++) {
        char *tok = build_spec("HS256", SECRET, &cases[i].spec);
        tix_rc rc = verify(SECRET, cases[i].type, tok, NOW);
        if (rc != cases[i].want) {
            fail_msg("%s: rc %d, want %d (token length %zu)", cases[i].what, (int)rc,
                     (int)cases[i].want, strlen(tok));
        }
        free(tok);
    }
}

static void test_garbage_tokens(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "a.b.c",
        "not a token",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9..",
        "\xff\xfe.\x01.\x02",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, bad[i], NOW), TIX_EAUTH);
        assert_int_equal(verify(SECRET, TIX_TOKEN_REFRESH, bad[i], NOW), TIX_EAUTH);
    }
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, NULL, NOW), TIX_EAUTH);
    /* an over-long string of junk is refused before decoding */
    char *huge = malloc(TIX_TOKEN_MAX * 4);
    assert_non_null(huge);
    memset(huge, 'a', TIX_TOKEN_MAX * 4 - 1);
    huge[TIX_TOKEN_MAX * 4 - 1] = '\0';
    huge[100] = '.';
    huge[200] = '.';
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, huge, NOW), TIX_EAUTH);
    free(huge);
}

/* ---- the compact form, parsed strictly (issue 10) ---- */

/* signing_input + "." + its HS256 signature under SECRET (OpenSSL, independent of token.c).
 * OUT: malloc'd. */
static char *sign_text(const char *signing_input)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
                         (const unsigned char *)signing_input, strlen(signing_input), mac,
                         &maclen));
    size_t cap = strlen(signing_input) + 64;
    char *tok = malloc(cap);
    assert_non_null(tok);
    int n = snprintf(tok, cap, "%s.", signing_input);
    assert_true(tix_base64url_encode(tok + n, cap - (size_t)n, mac, maclen));
    return tok;
}

static void expect_refused(const char *what, const char *tok)
{
    if (verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW) != TIX_EAUTH ||
        verify(SECRET, TIX_TOKEN_REFRESH, tok, NOW) != TIX_EAUTH) {
        fail_msg("accepted %s: %s", what, tok);
    }
}

#define STD_HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" /* {"alg":"HS256","typ":"JWT"} */

/* Empty header or payload segments: libjwt 1.10.2 wrote past a zero-size buffer for these
 * before any signature check (valgrind: Invalid write in base64_decode_block). */
static void test_empty_segments(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "..",
        ".e30.x",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        ".e30.",
        "e30..",
        "..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        STD_HEADER_B64 "..",
        STD_HEADER_B64 ".e30.",
        ".eyJzdWIiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused("an empty segment", bad[i]);
    }
    /* correctly signed, still empty: the signature does not make an empty segment valid */
    static const char *const signed_inputs[] = {".", STD_HEADER_B64 ".", ".e30"};
    for (size_t i = 0; i < sizeof(signed_inputs) / sizeof(signed_inputs[0]); i++) {
        char *tok = sign_text(signed_inputs[i]);
        expect_refused("a signed empty segment", tok);
        free(tok);
    }
}

/* Times at the ends of int64: compared without adding to a claim (issue 9; UBSan in make asan). */
static void test_time_claim_extremes(void **state)
{
    (void)state;
    typedef struct {
        const char *what;
        const char *iat, *nbf, *exp;
        tix_rc want;
    } tcase;
    char now_s[32];
    char exp_s[32];
    snprintf(now_s, sizeof(now_s), "%d", NOW);
    snprintf(exp_s, sizeof(exp_s), "%d", NOW + TTL);
    const tcase cases[] = {
        {"exp INT64_MAX never expires", now_s, now_s, "9223372036854775807", TIX_OK},
        {"exp INT64_MAX-10", now_s, now_s, "9223372036854775797", TIX_OK},
        {"exp INT64_MIN", now_s, now_s, "-9223372036854775808", TIX_EAUTH},
        {"exp INT64_MIN+10", now_s, now_s, "-9223372036854775798", TIX_EAUTH},
        {"exp 0", now_s, now_s, "0", TIX_EAUTH},
        {"exp past int64", now_s, now_s, "9223372036854775808", TIX_EAUTH},
        {"exp a fraction", now_s, now_s, "1764000900.5", TIX_EAUTH},
        {"exp an exponent", now_s, now_s, "1e19", TIX_EAUTH},
        {"nbf INT64_MIN", now_s, "-9223372036854775808", exp_s, TIX_OK},
        {"nbf INT64_MAX", now_s, "9223372036854775807", exp_s, TIX_EAUTH},
        {"nbf INT64_MAX-10", now_s, "9223372036854775797", exp_s, TIX_EAUTH},
        {"iat INT64_MAX", "9223372036854775807", now_s, exp_s, TIX_EAUTH},
        {"iat in the future", "1764003600", now_s, exp_s, TIX_EAUTH},
        {"iat negative", "-1", now_s, exp_s, TIX_EAUTH},
        {"iat INT64_MIN", "-9223372036854775808", now_s, exp_s, TIX_EAUTH},
        {"iat a string", "\"1764000000\"", now_s, exp_s, TIX_EAUTH},
        {"nbf a string", now_s, "\"0\"", exp_s, TIX_EAUTH},
        {"nbf null", now_s, "null", exp_s, TIX_EAUTH},
        {"no iat", "", now_s, exp_s, TIX_EAUTH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        payload_spec spec = default_spec();
        spec.iat = cases[i].iat;
        spec.nbf = cases[i].nbf;
        spec.exp = cases[i].exp;
        char *tok = build_spec("HS256", SECRET, &spec);
        tix_rc rc = verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW);
        if (rc != cases[i].want) {
            fail_msg("%s: rc %d, want %d", cases[i].what, (int)rc, (int)cases[i].want);
        }
        free(tok);
    }
    /* a clock at the ends of int64 refuses, whatever the token says */
    payload_spec spec = default_spec();
    spec.exp = "9223372036854775807";
    spec.nbf = "-9223372036854775808";
    char *tok = build_spec("HS256", SECRET, &spec);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, INT64_MAX), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, INT64_MAX - 1), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, INT64_MIN), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, -1), TIX_EAUTH);
    free(tok);
    /* and issued tokens with extreme times round-trip the same way */
    tix_claims c = sample_claims(TIX_ROLE_USER);
    c.exp = INT64_MAX;
    tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_OK);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, INT64_MAX), TIX_EAUTH);
    free(tok);
    c.exp = INT64_MIN;
    tok = issue(SECRET, TIX_TOKEN_ACCESS, &c);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_EAUTH);
    free(tok);
}

/* The header must say {"alg":"HS256","typ":"JWT"} and nothing else, even when the HS256
 * signature over it is right. */
static void test_header_strict(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    char payload[1024];
    render_payload(&spec, payload, sizeof(payload));
    static const char *const good[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
        "{ \"alg\" : \"HS256\" , \"typ\" : \"JWT\" }",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *tok = build_raw("HS256", SECRET, good[i], payload);
        if (verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW) != TIX_OK) {
            fail_msg("refused header %s", good[i]);
        }
        free(tok);
    }
    static const char *const bad[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256 \",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
        "{\"alg\":\"HS256\",\"typ\":\"jwt\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"alg\":\"none\"}",
        "{\"alg\":\"none\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"alg\":[\"HS256\"],\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":null}",
        "{\"alg\":\"HS256\\u0000\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}x",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"",
        "[\"HS256\"]",
        "null",
        "\"HS256\"",
        "{}",
        " ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = build_raw("HS256", SECRET, bad[i], payload);
        expect_refused(bad[i], tok);
        free(tok);
    }
    /* a long header (whitespace) is refused by its length before it is decoded */
    char longh[400];
    snprintf(longh, sizeof(longh), "{\"alg\":\"HS256\",%300s\"typ\":\"JWT\"}", "");
    char *tok = build_raw("HS256", SECRET, longh, payload);
    expect_refused("a header longer than its bound", tok);
    free(tok);
}

/* The payload must be one JSON object without duplicate members. */
static void test_payload_must_be_an_object(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    char good[1024];
    render_payload(&spec, good, sizeof(good));
    char trailing[1100];
    snprintf(trailing, sizeof(trailing), "%sx", good);
    char twice[2100];
    snprintf(twice, sizeof(twice), "%s%s", good, good);
    char dup_sub[1100];
    snprintf(dup_sub, sizeof(dup_sub), "%.*s,\"sub\":\"usr_2\"}", (int)strlen(good) - 1, good);
    char with_nul[1100];
    snprintf(with_nul, sizeof(with_nul), "%.*s,\"x\":\"a\\u0000b\"}", (int)strlen(good) - 1, good);
    const char *const bad[] = {"[]",
                               "[{}]",
                               "1",
                               "\"s\"",
                               "null",
                               "true",
                               "{}",
                               "{",
                               trailing,
                               twice,
                               dup_sub,
                               with_nul,
                               "{\"iss\":\"ticketd\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = build_token("HS256", SECRET, bad[i]);
        expect_refused(bad[i], tok);
        free(tok);
    }
    char *tok = build_token("HS256", SECRET, good);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW), TIX_OK);
    free(tok);
}

/* base64url without padding, canonical, and exactly three segments; a 43-character signature. */
static void test_encoding_strict(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    char payload[1024];
    render_payload(&spec, payload, sizeof(payload));
    char *good = build_token("HS256", SECRET, payload);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, good, NOW), TIX_OK);
    const char *d1 = strchr(good, '.');
    const char *d2 = strchr(d1 + 1, '.');
    const char *sig = d2 + 1;
    assert_int_equal(strlen(sig), 43);
    int hl = (int)(d1 - good);
    int pl = (int)(d2 - d1 - 1);
    char buf[3000];

    /* padding, correctly signed over the padded text */
    snprintf(buf, sizeof(buf), "%.*s=.%.*s", hl, good, pl, d1 + 1);
    char *tok = sign_text(buf);
    expect_refused("a padded header", tok);
    free(tok);
    snprintf(buf, sizeof(buf), "%.*s.%.*s%s", hl, good, pl, d1 + 1,
             pl % 4 == 2 ? "==" : (pl % 4 == 3 ? "=" : "===="));
    tok = sign_text(buf);
    expect_refused("a padded payload", tok);
    free(tok);
    /* the signature padded, shortened, lengthened */
    snprintf(buf, sizeof(buf), "%s=", good);
    expect_refused("a padded signature", buf);
    snprintf(buf, sizeof(buf), "%.*s", (int)strlen(good) - 1, good);
    expect_refused("a 42-character signature", buf);
    snprintf(buf, sizeof(buf), "%sA", good);
    expect_refused("a 44-character signature", buf);
    snprintf(buf, sizeof(buf), "%sAAAA", good);
    expect_refused("a 47-character signature", buf);
    /* the same 32 bytes spelt with non-zero trailing bits (a lax decoder accepts it) */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    snprintf(buf, sizeof(buf), "%s", good);
    char *last = buf + strlen(buf) - 1;
    const char *at = strchr(alphabet, *last);
    assert_non_null(at);
    assert_int_equal((at - alphabet) & 3, 0);
    *last = alphabet[(at - alphabet) | 1];
    expect_refused("a non-canonical signature", buf);
    /* the standard alphabet instead of the URL-safe one, correctly signed */
    payload_spec sp = default_spec();
    sp.extra = "\"pad\":\">>>>>>~~~~~~\"";
    char p2[1024];
    render_payload(&sp, p2, sizeof(p2));
    char std64[2000];
    sodium_bin2base64(std64, sizeof(std64), (const unsigned char *)p2, strlen(p2),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    assert_true(strchr(std64, '/') != NULL || strchr(std64, '+') != NULL);
    snprintf(buf, sizeof(buf), STD_HEADER_B64 ".%s", std64);
    tok = sign_text(buf);
    expect_refused("the standard base64 alphabet", tok);
    free(tok);
    /* whitespace inside a segment, correctly signed */
    snprintf(buf, sizeof(buf), "%.*s.%.*s %.*s", hl, good, pl / 2, d1 + 1, pl - pl / 2,
             d1 + 1 + pl / 2);
    tok = sign_text(buf);
    expect_refused("a space in the payload", tok);
    free(tok);
    /* segments: too few, too many */
    snprintf(buf, sizeof(buf), "%s.", good);
    expect_refused("a fourth, empty segment", buf);
    snprintf(buf, sizeof(buf), "%s.%s", good, sig);
    expect_refused("a fourth segment", buf);
    snprintf(buf, sizeof(buf), ".%s", good);
    expect_refused("a leading dot", buf);
    snprintf(buf, sizeof(buf), "%.*s.%s", hl, good, sig);
    expect_refused("two segments", buf);
    snprintf(buf, sizeof(buf), "%.*s..%s", hl, good, d1 + 1);
    expect_refused("a doubled dot", buf);
    free(good);
}

/* A token made by an independent implementation (Python's hmac and base64, as the API tests'
 * forge_jwt does) verifies: the encoding is the standard one, not just our own round trip. */
static void test_reference_token(void **state)
{
    (void)state;
    /* python3: hmac.new(SECRET, h + "." + p, sha256) over compact JSON, urlsafe_b64encode
     * stripped of "=" */
    static const char ref[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJpc3MiOiJ0aWNrZXRkIiwidHlwIjoiYWNjZXNzIiwic3ViIjoidXNyX3JlZiIsInNpZCI6InNlc19yZWYiLCJq"
        "dGkiOiJ0b2tfcmVmIiwicm9sZSI6Im93bmVyIiwiZXAiOjAsImlhdCI6MTc2NDAwMDAwMCwibmJmIjoxNzY0MDAw"
        "MDAwLCJleHAiOjE3NjQwMDA5MDB9._4fdGHZeJ8TOCk_yJieH520UO9kYF_zizhEudRMPDCA";
    tix_claims out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(tix_token_verify(SECRET, TIX_TOKEN_ACCESS, ref, NOW, &out), TIX_OK);
    assert_string_equal(out.sub, "usr_ref");
    assert_string_equal(out.sid, "ses_ref");
    assert_string_equal(out.jti, "tok_ref");
    assert_int_equal(out.role, TIX_ROLE_OWNER);
    assert_int_equal(out.iat, NOW);
    assert_int_equal(out.exp, NOW + TTL);
    assert_int_equal(verify(OTHER_SECRET, TIX_TOKEN_ACCESS, ref, NOW), TIX_EAUTH);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, ref, NOW + TTL + TIX_TOKEN_LEEWAY_S),
                     TIX_EAUTH);
}

/* ---- policy ---- */

static tix_principal principal(bool authenticated, tix_role role, const char *id)
{
    tix_principal p;
    memset(&p, 0, sizeof(p));
    p.authenticated = authenticated;
    p.role = role;
    snprintf(p.user_id, sizeof(p.user_id), "%s", id);
    snprintf(p.session_id, sizeof(p.session_id), "ses_%s", id);
    return p;
}

static void test_route_allows_truth_table(void **state)
{
    (void)state;
    const tix_principal who[] = {
        principal(false, TIX_ROLE_USER, ""),
        principal(true, TIX_ROLE_USER, "usr_u"),
        principal(true, TIX_ROLE_OWNER, "usr_o"),
        principal(true, TIX_ROLE_ADMIN, "usr_a"),
    };
    static const char *const who_name[] = {"anonymous", "user", "owner", "admin"};
    static const tix_access need[] = {TIX_ACCESS_PUBLIC, TIX_ACCESS_USER, TIX_ACCESS_OWNER,
                                      TIX_ACCESS_ADMIN};
    static const char *const need_name[] = {"public", "user", "owner", "admin"};
    /*                                anon   user   owner  admin */
    static const bool want[4][4] = {{true, true, true, true},     /* public */
                                    {false, true, true, true},    /* user */
                                    {false, false, true, true},   /* owner */
                                    {false, false, false, true}}; /* admin */
    for (int a = 0; a < 4; a++) {
        for (int w = 0; w < 4; w++) {
            bool got = tix_policy_route_allows(need[a], &who[w]);
            if (got != want[a][w]) {
                fail_msg("%s route, %s caller: %d, want %d", need_name[a], who_name[w], got,
                         want[a][w]);
            }
        }
    }
    /* an unauthenticated principal never counts, whatever stale role it carries */
    const tix_principal ghost = principal(false, TIX_ROLE_ADMIN, "usr_a");
    assert_true(tix_policy_route_allows(TIX_ACCESS_PUBLIC, &ghost));
    assert_false(tix_policy_route_allows(TIX_ACCESS_USER, &ghost));
    assert_false(tix_policy_route_allows(TIX_ACCESS_OWNER, &ghost));
    assert_false(tix_policy_route_allows(TIX_ACCESS_ADMIN, &ghost));
}

static void test_can_view_and_modify(void **state)
{
    (void)state;
    const tix_principal user = principal(true, TIX_ROLE_USER, "usr_1");
    const tix_principal owner = principal(true, TIX_ROLE_OWNER, "usr_2");
    const tix_principal other_owner = principal(true, TIX_ROLE_OWNER, "usr_3");
    const tix_principal admin = principal(true, TIX_ROLE_ADMIN, "usr_9");
    const tix_principal anon = principal(false, TIX_ROLE_USER, "");
    const tix_principal ghost = principal(false, TIX_ROLE_ADMIN, "usr_2");

    /* the owner of the object */
    assert_int_equal(tix_policy_can_view(&owner, "usr_2"), TIX_OK);
    assert_int_equal(tix_policy_can_modify(&owner, "usr_2"), TIX_OK);
    assert_int_equal(tix_policy_can_view(&user, "usr_1"), TIX_OK);
    assert_int_equal(tix_policy_can_modify(&user, "usr_1"), TIX_OK);
    /* somebody else: hidden from view, forbidden to change */
    assert_int_equal(tix_policy_can_view(&other_owner, "usr_2"), TIX_ENOTFOUND);
    assert_int_equal(tix_policy_can_modify(&other_owner, "usr_2"), TIX_EFORBIDDEN);
    assert_int_equal(tix_policy_can_view(&user, "usr_2"), TIX_ENOTFOUND);
    assert_int_equal(tix_policy_can_modify(&user, "usr_2"), TIX_EFORBIDDEN);
    /* prefix of the owner's id is not the owner */
    assert_int_equal(tix_policy_can_view(&owner, "usr_22"), TIX_ENOTFOUND);
    assert_int_equal(tix_policy_can_modify(&owner, "usr_"), TIX_EFORBIDDEN);
    /* admin sees and changes everything */
    assert_int_equal(tix_policy_can_view(&admin, "usr_2"), TIX_OK);
    assert_int_equal(tix_policy_can_modify(&admin, "usr_2"), TIX_OK);
    assert_int_equal(tix_policy_can_view(&admin, NULL), TIX_OK);
    /* an object without owner: nobody but admins */
    assert_int_equal(tix_policy_can_view(&owner, NULL), TIX_ENOTFOUND);
    assert_int_equal(tix_policy_can_modify(&owner, NULL), TIX_EFORBIDDEN);
    /* anonymous: hidden; never allowed to change (401 or 403, never OK) */
    assert_int_equal(tix_policy_can_view(&anon, "usr_2"), TIX_ENOTFOUND);
    assert_int_equal(tix_policy_can_view(&anon, ""), TIX_ENOTFOUND);
    tix_rc rc = tix_policy_can_modify(&anon, "usr_2");
    assert_true(rc == TIX_EAUTH || rc == TIX_EFORBIDDEN);
    rc = tix_policy_can_modify(&anon, "");
    assert_true(rc == TIX_EAUTH || rc == TIX_EFORBIDDEN);
    /* not authenticated, even with a matching id or a stale admin role */
    assert_int_equal(tix_policy_can_view(&ghost, "usr_2"), TIX_ENOTFOUND);
    assert_int_not_equal(tix_policy_can_modify(&ghost, "usr_2"), TIX_OK);
}

static void test_role_names(void **state)
{
    (void)state;
    assert_string_equal(tix_role_name(TIX_ROLE_USER), "user");
    assert_string_equal(tix_role_name(TIX_ROLE_OWNER), "owner");
    assert_string_equal(tix_role_name(TIX_ROLE_ADMIN), "admin");
    static const char *const names[] = {"user", "owner", "admin"};
    for (int i = 0; i < 3; i++) {
        tix_role r = TIX_ROLE_USER;
        assert_true(tix_role_parse(names[i], &r));
        assert_int_equal(r, i);
    }
    tix_role r = TIX_ROLE_OWNER;
    assert_false(tix_role_parse("Admin", &r));
    assert_false(tix_role_parse("", &r));
    assert_false(tix_role_parse("root", &r));
    assert_false(tix_role_parse("admin ", &r));
    assert_false(tix_role_parse(NULL, &r));
    assert_int_equal(r, TIX_ROLE_OWNER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_roundtrip_every_role),
        cmocka_unit_test(test_refresh_roundtrip),
        cmocka_unit_test(test_token_shape),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_type_confusion),
        cmocka_unit_test(test_expiry_and_leeway),
        cmocka_unit_test(test_not_before),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_alg_none_rejected),
        cmocka_unit_test(test_other_algorithms_rejected),
        cmocka_unit_test(test_claims_table),
        cmocka_unit_test(test_garbage_tokens),
        cmocka_unit_test(test_empty_segments),
        cmocka_unit_test(test_time_claim_extremes),
        cmocka_unit_test(test_header_strict),
        cmocka_unit_test(test_payload_must_be_an_object),
        cmocka_unit_test(test_encoding_strict),
        cmocka_unit_test(test_reference_token),
        cmocka_unit_test(test_route_allows_truth_table),
        cmocka_unit_test(test_can_view_and_modify),
        cmocka_unit_test(test_role_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
