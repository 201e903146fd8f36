/*
 * The checks between a request's last callback and its handler: UTF-8 path and query without
 * control characters or repeated parameters, route,
 * bearer token, role, JSON content type and rate limits, each answering its own error; then the
 * handler, through the idempotency store or the answer cache when the route has one.
 */
#include "auth/policy.h"
#include "auth/revocation.h"
#include "auth/token.h"
#include "core/i18n.h"
#include "core/util.h"
#include "http/cached.h"
#include "http/ratelimit.h"
#include "http/server_int.h"
#include "http/validate.h"

#include <string.h>
#include <strings.h>

/* The bearer token of the Authorization header, or NULL when there is none. */
static const char *bearer(tix_req *r)
{
    const char *h = tix_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    return h != NULL && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
}

/* The outcome of presenting a bearer token. */
typedef enum identity { ID_OK, ID_INVALID, ID_REVOKED, ID_ANSWERED } identity;

static tix_db *request_db(void *ctx)
{
    return tix_req_db(ctx);
}

/* Whether token is a valid access token of a live session (auth/revocation.h); if so the
 * request is now the token's user's, with his saved locale from the same check. ID_ANSWERED
 * when the check could not be made (the database is down: already answered 503, never let
 * through). */
static identity take_identity(tix_req *r, const char *token)
{
    tix_claims c;
    if (tix_token_verify(r->app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, token,
                         tix_now_ms() / 1000, &c) != TIX_OK) {
        return ID_INVALID;
    }
    char locale[TIX_LOCALE_MAX];
    tix_rc rc = tix_revocation_check(r->app->cache, r->arena, &c, request_db, r, locale);
    if (rc == TIX_ENOTFOUND) {
        return ID_INVALID;
    }
    if (rc == TIX_EFORBIDDEN) {
        return ID_REVOKED;
    }
    if (rc != TIX_OK) {
        if (!tix_req_answered(r)) {
            tix_reply_rc(r, rc);
        }
        return ID_ANSWERED;
    }
    r->auth.authenticated = true;
    r->auth.role = c.role;
    memcpy(r->auth.user_id, c.sub, sizeof(c.sub));
    memcpy(r->auth.session_id, c.sid, sizeof(c.sid));
    memcpy(r->auth.locale, locale, sizeof(locale));
    return ID_OK;
}

static bool authenticate(tix_req *r)
{
    const char *token = bearer(r);
    if (token == NULL) {
        tix_reply_header(r, "WWW-Authenticate", "Bearer");
        tix_reply_error(r, 401, "unauthorized", "authentication required", NULL);
        return false;
    }
    switch (take_identity(r, token)) {
    case ID_OK:
        return true;
    case ID_INVALID:
        tix_reply_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        tix_reply_error(r, 401, "invalid_token", "the access token is invalid or expired", NULL);
        return false;
    case ID_REVOKED:
        tix_reply_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        tix_reply_error(r, 401, "token_revoked",
                        "this session has ended (logout, password or role change, or the "
                        "account was disabled); sign in again",
                        NULL);
        return false;
    case ID_ANSWERED:
    default:
        return false;
    }
}

/* On a public route: a valid bearer token of a live session identifies the caller; anything
 * else is anonymous. false when the check could not be made (already answered). */
static bool identify(tix_req *r)
{
    const char *token = bearer(r);
    return token == NULL || take_identity(r, token) != ID_ANSWERED;
}

static bool is_json_type(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ') {
        ct++;
    }
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Route, auth and role checks; false once an error is answered. */
bool tix_server_admit(req_state *st)
{
    tix_req *r = &st->r;
    if (st->match == TIX_MATCH_NOT_FOUND) {
        tix_reply_error(r, 404, "not_found", "no such endpoint", NULL);
        return false;
    }
    if (st->match == TIX_MATCH_BAD_METHOD) {
        tix_reply_header(r, "Allow", tix_arena_strdup(r->arena, r->match.allow));
        tix_reply_error(r, 405, "method_not_allowed", "this endpoint does not take that method",
                        json_pack("{s:s}", "allow", r->match.allow));
        return false;
    }
    const tix_route *route = r->route;
    if (route->access != TIX_ACCESS_PUBLIC && !authenticate(r)) {
        return false;
    }
    if (route->access == TIX_ACCESS_PUBLIC && !identify(r)) {
        return false; /* public reads may still show more to a signed-in admin */
    }
    if (!tix_policy_route_allows(route->access, &r->auth)) {
        tix_reply_error(r, 403, "forbidden", "your role may not do this", NULL);
        return false;
    }
    return true;
}

/* What check_arg found wrong with the query, the first time. */
typedef struct arg_check {
    tix_arena *a;
    const char *bad;    /* the parameter's name (its text before any control byte) */
    const char *reason; /* static text */
    const char **seen;  /* names so far, to find a repeated one */
    size_t n, cap;
} arg_check;

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

static bool seen_before(arg_check *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->seen[i], key) == 0) {
            return true;
        }
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        const char **seen = tix_arena_alloc(q->a, sizeof(char *) * cap);
        if (q->n > 0) {
            memcpy(seen, q->seen, sizeof(char *) * q->n);
        }
        q->seen = seen;
        q->cap = cap;
    }
    q->seen[q->n++] = key;
    return false;
}

/* key_size and value_size are the decoded lengths, so a %00 that cut the C string shows. */
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    arg_check *q = cls;
    if (has_control(key, key_size) || (value != NULL && has_control(value, value_size))) {
        q->reason = N_("query parameters must not contain control characters");
    } else if (!tix_utf8_valid(key) || (value != NULL && !tix_utf8_valid(value))) {
        q->reason = N_("query parameters must be UTF-8 text");
    } else if (seen_before(q, key)) {
        q->reason = N_("a query parameter may be given only once");
    } else {
        return MHD_YES;
    }
    q->bad = key;
    return MHD_NO;
}

/* Paths and query parameters must be UTF-8 text without control characters (ids and filters
 * reach SQL as text, and a NUL would cut what is routed, cached and logged short of what was
 * sent), and no query parameter may be repeated (a handler reads one value; the cache key and
 * a proxy's rules must not see another). */
bool tix_server_check_encoding(req_state *st)
{
    tix_req *r = &st->r;
    if (st->raw_path != NULL) { /* server_request.c saw a control byte or %2F in the path */
        tix_reply_error(r, 400, "invalid_path",
                        "the path must not contain control characters or encoded slashes", NULL);
        return false;
    }
    if (!tix_utf8_valid(r->path)) {
        tix_reply_error(r, 404, "not_found", "no such endpoint or object", NULL);
        return false;
    }
    arg_check q = {.a = r->arena};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    if (q.bad != NULL) {
        tix_reply_error(r, 400, "invalid_parameter", q.reason,
                        json_pack("{s:s}", "parameter", tix_utf8_valid(q.bad) ? q.bad : "?"));
        return false;
    }
    return true;
}

/* Whether tix_server_check_encoding would pass st, answering nothing (the early answers on the
 * libmicrohttpd thread leave every refusal to the queue). */
static bool encoding_would_pass(req_state *st)
{
    tix_req *r = &st->r;
    if (st->raw_path != NULL || !tix_utf8_valid(r->path)) {
        return false;
    }
    arg_check q = {.a = r->arena};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    return q.bad == NULL;
}

bool tix_server_answer_cached_now(req_state *st)
{
    tix_req *r = &st->r;
    const tix_route *route = r->route;
    if (st->match != TIX_MATCH_OK || route == NULL || route->access != TIX_ACCESS_PUBLIC ||
        strcmp(r->method, "GET") != 0 || bearer(r) != NULL || r->body_len > 0 ||
        (route->flags & TIX_ROUTE_IDEMPOTENT) ||
        (route->flags & (TIX_ROUTE_RL_HOLD | TIX_ROUTE_RL_REGISTER | TIX_ROUTE_RL_LOGIN |
                         TIX_ROUTE_RL_RESET | TIX_ROUTE_RL_PASSWORD))) {
        return false;
    }
    /* Only a request that would pass every check unchanged: a bad path or query goes to the
     * pool, which answers it as before. */
    if (!encoding_would_pass(st) || !tix_policy_route_allows(route->access, &r->auth)) {
        return false;
    }
    return tix_cached_answer_now(r) || tix_cached_answer_stale(r);
}

/* A session check that never asks the database: NULL makes tix_revocation_check give up
 * (TIX_EUNAVAIL) where it would, and nothing is answered. */
static tix_db *no_db(void *ctx)
{
    (void)ctx;
    return NULL;
}

/* The checks tix_server_dispatch makes before a handler, none of them answering: true only
 * when each would pass, with r->auth the token's user (the session checked from the cache). */
static bool would_admit(req_state *st)
{
    tix_req *r = &st->r;
    const tix_route *route = r->route;
    if (!encoding_would_pass(st)) {
        return false;
    }
    const char *token = bearer(r);
    tix_claims c;
    /* An error answered to a signed-in caller is in his language: Accept-Language's, else his
     * saved locale. The latter comes with the session check (from the table here, never the
     * database), so a caller without Accept-Language is answered here too, with no query. */
    char locale[TIX_LOCALE_MAX];
    if (token == NULL ||
        tix_token_verify(r->app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, token,
                         tix_now_ms() / 1000, &c) != TIX_OK ||
        tix_revocation_check(r->app->cache, r->arena, &c, no_db, NULL, locale) != TIX_OK) {
        return false; /* a 400 or 401 to answer, or the database to ask: the queue does it */
    }
    r->auth.authenticated = true;
    r->auth.role = c.role;
    memcpy(r->auth.user_id, c.sub, sizeof(c.sub));
    memcpy(r->auth.session_id, c.sid, sizeof(c.sid));
    memcpy(r->auth.locale, locale, sizeof(locale));
    return tix_policy_route_allows(route->access, &r->auth) &&
           (!(route->flags & TIX_ROUTE_JSON) || r->body_len == 0 ||
            is_json_type(tix_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)));
}

bool tix_server_answer_now(req_state *st)
{
    tix_req *r = &st->r;
    const tix_route *route = r->route;
    if (st->match != TIX_MATCH_OK || route == NULL || route->now == NULL ||
        route->access == TIX_ACCESS_PUBLIC ||
        ((route->flags & TIX_ROUTE_IDEMPOTENT) && tix_req_header(r, "Idempotency-Key") != NULL)) {
        return false; /* a keyed request behaves as it always did: the queue, the key's store */
    }
    if (!tix_cached_nonblocking(r)) {
        return false; /* with Redis the queue answers (http/cached.h) */
    }
    if (would_admit(st) && route->now(r)) {
        return true;
    }
    memset(&r->auth, 0, sizeof(r->auth)); /* the queue authenticates again, from scratch */
    return false;
}

void tix_server_dispatch(req_state *st)
{
    tix_req *r = &st->r;
    if (!tix_server_check_encoding(st)) {
        return;
    }
    if (!tix_server_admit(st)) {
        return;
    }
    const tix_route *route = r->route;
    if ((route->flags & TIX_ROUTE_JSON) && r->body_len > 0 &&
        !is_json_type(tix_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        tix_reply_error(r, 415, "unsupported_media_type", "send the body as application/json",
                        NULL);
        return;
    }
    tix_rl_ticket rl;
    if (!tix_ratelimit_admit(r, &rl)) {
        return;
    }
    if (route->flags & TIX_ROUTE_IDEMPOTENT) {
        tix_idempotent_call(r, route->handler);
    } else if (!tix_cached_answer(r)) {
        route->handler(r);
    }
    tix_ratelimit_done(r, &rl); /* login and change-password count failures only */
}
