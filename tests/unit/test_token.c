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

#include <jwt.h>
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

/* A token signed by libjwt directly with alg and the payload JSON given. */
static char *build_token(jwt_alg_t alg, const char *secret, const char *payload)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)secret, (int)strlen(secret)), 0);
    assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
    char *s = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(s);
    return s;
}

/* Payload JSON like tix_token_issue's, with each member overridable ("" leaves it out). */
typedef struct payload_spec {
    const char *iss;
    const char *typ;
    const char *sub;
    const char *sid;
    const char *jti;
    const char *role;
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
    payload_spec s = {"\"ticketd\"", "\"access\"", "\"usr_1\"", "\"ses_1\"", "\"tok_1\"",
                      "\"user\"",    iat,          iat,         exp,         NULL};
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

static char *build_spec(jwt_alg_t alg, const char *secret, const payload_spec *s)
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

static void b64(char *out, size_t cap, const char *s)
{
    assert_true(tix_base64url_encode(out, cap, (const unsigned char *)s, strlen(s)));
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
    /* also through libjwt's own encoder for "none" */
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
    char *none = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(none);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, none, NOW), TIX_EAUTH);
    free(none);
}

static void test_other_algorithms_rejected(void **state)
{
    (void)state;
    payload_spec spec = default_spec();
    /* control: the hand-built HS256 token with the same claims is accepted */
    char *hs256 = build_spec(JWT_ALG_HS256, SECRET, &spec);
    assert_int_equal(verify(SECRET, TIX_TOKEN_ACCESS, hs256, NOW), TIX_OK);
    free(hs256);
    const jwt_alg_t algs[] = {JWT_ALG_HS384, JWT_ALG_HS512};
    for (size_t i = 0; i < 2; i++) {
        char *tok = build_spec(algs[i], SECRET, &spec);
        if (verify(SECRET, TIX_TOKEN_ACCESS, tok, NOW) != TIX_EAUTH) {
            fail_msg("accepted a token signed with alg %d", (int)algs[i]);
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
    CASE("refresh control", TIX_TOKEN_REFRESH, TIX_OK, extra, NULL);
    CASE("refresh no sub", TIX_TOKEN_REFRESH, TIX_EAUTH, sub, "");
    CASE("refresh no sid", TIX_TOKEN_REFRESH, TIX_EAUTH, sid, "");
    CASE("refresh no exp", TIX_TOKEN_REFRESH, TIX_EAUTH, exp, "");
    CASE("refresh iss other", TIX_TOKEN_REFRESH, TIX_EAUTH, iss, "\"evil\"");
#undef CASE
    for (size_t i = 0; i < n; i++) {
        char *tok = build_spec(JWT_ALG_HS256, SECRET, &cases[i].spec);
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
        cmocka_unit_test(test_route_allows_truth_table),
        cmocka_unit_test(test_can_view_and_modify),
        cmocka_unit_test(test_role_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
