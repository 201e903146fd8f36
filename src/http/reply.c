/*
 * Request accessors and replies (see req.h). The mapping from tix_rc to HTTP status and error
 * code lives here, once.
 */
#include "app.h"
#include "core/i18n.h"
#include "core/log.h"
#include "core/util.h"
#include "http/req.h"
#include "http/validate.h"

#include <assert.h>
#include <microhttpd.h>
#include <string.h>

const char *tix_req_param(tix_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->match.nparams; i++) {
        if (r->match.names[i].n == n && memcmp(r->match.names[i].p, name, n) == 0) {
            return tix_arena_strndup(r->arena, r->match.values[i].p, r->match.values[i].n);
        }
    }
    return NULL;
}

const char *tix_req_query(tix_req *r, const char *name)
{
    /* A cached route's answer is stored under the parameters its route declares: reading
     * another one would let two different answers share an entry (http/cached.c). */
    if (r->route != NULL &&
        (r->route->flags &
         (TIX_ROUTE_CACHE_SHOW | TIX_ROUTE_CACHE_CATALOG | TIX_ROUTE_CACHE_USER)) != 0 &&
        !tix_route_reads(r->route, name)) {
        tix_log_error("route %s %s reads query parameter %s, which it does not declare",
                      r->route->method, r->route->pattern, name);
        assert(!"undeclared query parameter on a cached route");
        return NULL;
    }
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *tix_req_header(tix_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The index of the '"' that ends the JSON string whose text starts at i (n if none). */
static size_t string_end(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] != '"') {
        i += s[i] == '\\' ? 2 : 1;
    }
    return i < n ? i : n;
}

/* Whether the next character after i that is not white space is ':'. */
static bool colon_follows(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        i++;
    }
    return i < n && s[i] == ':';
}

/* Turns every \u0000 escape of s[start, end) into \u001f; whether there was one. */
static bool rename_nul_escapes(char *s, size_t start, size_t end)
{
    bool any = false;
    for (size_t p = start; p + 1 < end; p++) {
        if (s[p] != '\\') {
            continue;
        }
        if (s[p + 1] == 'u' && p + 6 <= end && memcmp(s + p + 2, "0000", 4) == 0) {
            memcpy(s + p + 2, "001f", 4);
            any = true;
        }
        p++; /* the escaped character never starts an escape */
    }
    return any;
}

/* In the JSON text s (n bytes), every \u0000 escape inside an object key becomes \u001f, in
 * place (same length). Keys are the strings followed by ':'. Such a key can never name a field
 * (no field name holds a control character), so it stays an unknown key and is ignored.
 * Returns whether anything was renamed. */
static bool nul_keys_renamed(char *s, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"') {
            continue;
        }
        size_t end = string_end(s, n, i + 1);
        if (colon_follows(s, n, end + 1) && rename_nul_escapes(s, i + 1, end)) {
            any = true;
        }
        i = end;
    }
    return any;
}

json_t *tix_req_json(tix_req *r)
{
    if (r->json != NULL) {
        return r->json;
    }
    if (r->body == NULL || r->body_len == 0) {
        tix_reply_error(r, 400, "malformed_json", "a JSON object body is required", NULL);
        return NULL;
    }
    json_error_t jerr;
    /* U+0000 is valid JSON: string values may hold it (the validators refuse it per field,
     * 422); a key holding it, which jansson cannot load, is renamed (see nul_keys_renamed) so
     * that it is ignored like any other unknown key. */
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *j = json_loadb(r->body, r->body_len, flags, &jerr);
    if (j == NULL && json_error_code(&jerr) == json_error_null_byte_in_key) {
        /* every byte: a raw NUL may follow (strndup would stop there, and the renaming,
         * which goes by body_len, would run past the copy) */
        char *copy = tix_arena_alloc(r->arena, r->body_len + 1);
        memcpy(copy, r->body, r->body_len);
        copy[r->body_len] = '\0';
        if (nul_keys_renamed(copy, r->body_len)) {
            j = json_loadb(copy, r->body_len, flags, &jerr);
        }
    }
    if (j == NULL) {
        json_t *d = json_pack("{s:i,s:i}", "line", jerr.line, "column", jerr.column);
        tix_reply_error(r, 400, "malformed_json", "the body is not valid JSON", d);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        tix_reply_error(r, 400, "invalid_type", "the body must be a JSON object", NULL);
        return NULL;
    }
    r->json = j;
    return j;
}

tix_rc tix_req_acquire(tix_req *r, tix_db **out)
{
    int64_t waited = 0;
    tix_rc rc = tix_db_acquire_timed(r->app->db, out, &waited);
    r->db_wait_us += waited;
    return rc;
}

tix_db *tix_req_db(tix_req *r)
{
    if (r->db != NULL) {
        return r->db;
    }
    if (tix_req_acquire(r, &r->db) != TIX_OK) {
        r->db = NULL;
        tix_reply_rc(r, TIX_EUNAVAIL);
        return NULL;
    }
    return r->db;
}

tix_db *tix_req_db_read(tix_req *r)
{
    if (r->db != NULL || r->rdb != NULL) {
        return r->db != NULL ? r->db : r->rdb;
    }
    int64_t stale = 0;
    int64_t waited = 0;
    tix_rc rc = tix_db_acquire_read(r->app->db, &r->rdb, &stale, &waited);
    r->db_wait_us += waited;
    if (rc != TIX_OK) {
        r->rdb = NULL;
        tix_reply_rc(r, TIX_EUNAVAIL);
        return NULL;
    }
    if (tix_db_is_replica(r->rdb)) {
        /* the data is up to `stale` ms old: cached, it may grow to READ_MAX_LAG, not more */
        int64_t left = r->app->cfg.read_max_lag_ms - stale;
        r->read_until = tix_now_ms() + (left > 0 ? left : 0);
    }
    return r->rdb;
}

bool tix_req_db_read_again(tix_req *r, tix_rc rc, tix_db **db)
{
    if ((rc != TIX_EUNAVAIL && rc != TIX_ENOTFOUND) || r->rdb == NULL ||
        !tix_db_is_replica(r->rdb)) {
        return false;
    }
    if (rc == TIX_EUNAVAIL) {
        tix_db_replica_failed(r->app->db);
    }
    r->db_calls += tix_db_calls(r->rdb);
    tix_db_release(r->app->db, r->rdb);
    r->rdb = NULL;
    r->read_until = 0;
    *db = tix_req_db(r);
    return *db != NULL;
}

bool tix_req_page(tix_req *r, int *limit, const char **cursor)
{
    const char *l = tix_req_query(r, "limit");
    const char *c = tix_req_query(r, "cursor");
    int64_t v = 20;
    *cursor = NULL;
    if (l != NULL && !tix_parse_int(l, 1, 100, &v)) {
        tix_reply_error(r, 400, "invalid_parameter", "limit must be a whole number from 1 to 100",
                        json_pack("{s:s}", "parameter", "limit"));
        return false;
    }
    *limit = (int)v;
    if (c != NULL) {
        unsigned char buf[128];
        long n = tix_base64url_decode(buf, sizeof(buf) - 1, c);
        buf[n > 0 ? n : 0] = '\0';
        if (n <= 0 || memchr(buf, '\0', (size_t)n) != NULL || !tix_utf8_valid((char *)buf)) {
            tix_reply_error(r, 400, "invalid_parameter", "cursor is not one this server issued",
                            json_pack("{s:s}", "parameter", "cursor"));
            return false;
        }
        *cursor = tix_arena_strndup(r->arena, (const char *)buf, (size_t)n);
    }
    return true;
}

const char *tix_req_cursor_encode(tix_req *r, const char *key)
{
    size_t cap = strlen(key) * 4 / 3 + 8;
    char *out = tix_arena_alloc(r->arena, cap);
    if (!tix_base64url_encode(out, cap, (const unsigned char *)key, strlen(key))) {
        return NULL;
    }
    return out;
}

void tix_reply_header(tix_req *r, const char *name, const char *value)
{
    if (r->nheaders < TIX_REQ_MAX_HEADERS) {
        r->hname[r->nheaders] = name;
        r->hvalue[r->nheaders] = value;
        r->nheaders++;
    }
}

bool tix_req_answered(const tix_req *r)
{
    return r->status != 0;
}

void tix_reply_json(tix_req *r, unsigned status, json_t *body)
{
    if (r->status != 0) {
        tix_log_error("handler answered twice (%s %s)", r->method, r->path);
        json_decref(body);
        return;
    }
    char *text = json_dumps(body, TIX_REPLY_JSON_FLAGS);
    json_decref(body);
    r->status = status;
    r->content_type = "application/json; charset=utf-8";
    if (text == NULL) {
        r->status = 500;
        r->resp = tix_arena_strdup(r->arena, "{\"error\":{\"code\":\"internal\","
                                             "\"message\":\"internal error\"}}");
    } else {
        r->resp = tix_arena_strdup(r->arena, text);
        free(text);
    }
    r->resp_len = strlen(r->resp);
}

void tix_reply_empty(tix_req *r, unsigned status)
{
    if (r->status != 0) {
        return;
    }
    r->status = status;
    r->resp = NULL;
    r->resp_len = 0;
}

/* The saved locale of the caller: the session check read it with his session (http/
 * server_admit.c, auth/revocation.h), so no query here, on any thread, whatever the status. */
static tix_lang saved_lang(const tix_req *r)
{
    return r->auth.authenticated ? tix_lang_parse(r->auth.locale) : TIX_LANG_NONE;
}

static tix_lang choose_lang(tix_req *r)
{
    if (r->lang == TIX_LANG_NONE) {
        r->lang = tix_lang_accept(tix_req_header(r, "Accept-Language"));
    }
    if (r->lang == TIX_LANG_NONE) {
        r->lang = saved_lang(r);
    }
    if (r->lang == TIX_LANG_NONE) {
        r->lang = TIX_LANG_EN;
    }
    return r->lang;
}

tix_lang tix_req_lang(tix_req *r)
{
    return choose_lang(r);
}

void tix_reply_error(tix_req *r, unsigned status, const char *code, const char *message,
                     json_t *details)
{
    tix_lang lang = choose_lang(r);
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", tix_tr(lang, message));
    if (details != NULL) {
        json_object_set_new(err, "details", details);
    }
    r->error_code = code;
    tix_reply_json(r, status, json_pack("{s:o}", "error", err));
}

void tix_reply_rc(tix_req *r, tix_rc rc)
{
    switch (rc) {
    case TIX_OK:
        tix_reply_empty(r, 204);
        return;
    case TIX_EINVAL:
        tix_reply_error(r, 422, "validation_failed", "the request is not valid", NULL);
        return;
    case TIX_ENOTFOUND:
        tix_reply_error(r, 404, "not_found", "not found", NULL);
        return;
    case TIX_ECONFLICT:
        tix_reply_error(r, 409, "conflict", "the request conflicts with the current state", NULL);
        return;
    case TIX_EAUTH:
        tix_reply_header(r, "WWW-Authenticate", "Bearer");
        tix_reply_error(r, 401, "unauthorized", "authentication required", NULL);
        return;
    case TIX_EFORBIDDEN:
        tix_reply_error(r, 403, "forbidden", "you may not do this", NULL);
        return;
    case TIX_ETOOBIG:
        tix_reply_error(r, 413, "payload_too_large", "the request is too large", NULL);
        return;
    case TIX_EUNAVAIL:
    case TIX_EBUSY:
        tix_reply_header(r, "Retry-After", "1");
        tix_reply_error(r, 503, "unavailable", "a dependency is unavailable; retry shortly", NULL);
        return;
    case TIX_EUPSTREAM:
        tix_reply_header(r, "Retry-After", "5");
        tix_reply_error(r, 503, "upstream_error", "a provider failed; retry shortly", NULL);
        return;
    case TIX_EDB:
    case TIX_ENOMEM:
        break;
    }
    tix_reply_error(r, 500, "internal", "internal error", NULL);
}
