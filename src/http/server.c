/*
 * libmicrohttpd glue. The lifecycle of one request:
 *   1. first access callback: make the tix_req (arena, request id, route match); answer
 *      nothing yet (queueing on the first call makes MHD close keep-alive connections);
 *   2. upload callbacks: append body bytes up to MAX_BODY_BYTES and within REQUEST_TIMEOUT;
 *      past either limit the rest is dropped and the answer is 413/408 (a Content-Length over
 *      the limit is answered at once, before any of the body is read);
 *   3. last callback: size, route, auth, role and content-type checks, then the handler;
 *   4. completion callback: access-log line, database connection back to the pool, free.
 * Upload routes (TIX_ROUTE_UPLOAD) differ: auth, role and Content-Type are checked and the
 * handler's begin call made on the FIRST callback, so errors go out before the body is read;
 * the body streams through http/upload.c to a temporary file (never into memory), and the
 * reaper's clock moves on with every chunk up to MEDIA_UPLOAD_TIMEOUT (see upload_progress).
 * Storing an upload in a remote store (Cloudinary) blocks the worker thread for the whole
 * transfer, and with it every other connection that thread serves; so at most
 * MEDIA_UPLOAD_CONCURRENCY such uploads run at once (a slot is taken on the first callback and
 * given back on completion, whatever happened), and one more is answered 503 too_many_uploads
 * before its body is read, leaving the other workers to bookings (see take_upload_slot).
 * Slow clients: MHD closes connections idle for CONNECTION_TIMEOUT; a reaper thread also cuts
 * connections that trickle request headers or bodies for longer than the time-outs allow
 * (MHD has no header deadline of its own). It shuts the socket down under the same mutex that
 * the close notification takes, so it never touches a descriptor MHD already reused.
 */
#include "http/server.h"

#include "api/cached.h"
#include "auth/token.h"
#include "core/log.h"
#include "core/util.h"
#include "http/clientip.h"
#include "http/encoding.h"
#include "http/ratelimit.h"
#include "http/req.h"
#include "http/sse.h"
#include "http/upload.h"
#include "http/validate.h"
#include "media/media.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum phase { PHASE_IDLE, PHASE_BODY, PHASE_HANDLER, PHASE_TIMED_OUT };

/* What the reaper writes to a client whose body did not arrive in time. */
#define TIMEOUT_BODY                                                                               \
    "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request body arrived too "         \
    "slowly\"}}"

typedef struct track {
    struct track *prev, *next;
    int fd;
    atomic_int phase;
    atomic_llong since_ms;
    char rid[72]; /* the current request's id, written before phase turns PHASE_BODY */
} track;

struct tix_server {
    tix_app *app;
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu; /* guards the track list */
    track *tracks;
    pthread_t reaper;
    atomic_bool reaper_stop;
    bool reaper_started;
    bool own_media;     /* the media store was created here (not by main) */
    atomic_int uploads; /* upload slots taken (remote media store only) */
};

/* Per-request state that handlers do not see. */
typedef struct req_state {
    tix_req r;
    tix_server *s;
    track *t;
    tix_match_result match;
    char *buf;
    size_t cap;
    unsigned reject; /* 413 or 408 decided while reading, 0 otherwise */
    bool queued;
    tix_upload_state *up; /* TIX_ROUTE_UPLOAD routes, once the body is being read */
    bool upload_slot;     /* holds one of s->uploads until completion */
} req_state;

static void set_phase(track *t, int phase)
{
    if (t != NULL) {
        atomic_store(&t->phase, phase);
        atomic_store(&t->since_ms, tix_mono_ms());
    }
}

/* ---- connection tracking and the slow-client reaper ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    tix_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        track *t = calloc(1, sizeof(*t));
        if (t == NULL) {
            return;
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        set_phase(t, PHASE_IDLE);
        pthread_mutex_lock(&s->mu);
        t->next = s->tracks;
        if (s->tracks) {
            s->tracks->prev = t;
        }
        s->tracks = t;
        pthread_mutex_unlock(&s->mu);
        *socket_context = t;
        return;
    }
    track *t = *socket_context;
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        s->tracks = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    pthread_mutex_unlock(&s->mu);
    free(t);
    *socket_context = NULL;
}

/* A body that is too slow gets a 408 written straight to the socket (MHD can only answer
 * once a body is complete) and a half-close; the phase CAS decides between the reaper and a
 * body that completes at the same instant, so exactly one of them answers. */
static void reap(tix_server *s, track *t, int64_t now, int64_t idle_limit, int64_t body_limit)
{
    int phase = atomic_load(&t->phase);
    int64_t age = now - atomic_load(&t->since_ms);
    int expected = PHASE_BODY;
    if (phase == PHASE_BODY && age > body_limit &&
        atomic_compare_exchange_strong(&t->phase, &expected, PHASE_TIMED_OUT)) {
        char resp[512];
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 408 Request Timeout\r\n"
                           "Content-Type: application/json; charset=utf-8\r\n"
                           "X-Request-Id: %s\r\nCache-Control: no-store\r\n"
                           "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                           t->rid, sizeof(TIMEOUT_BODY) - 1, TIMEOUT_BODY);
        ssize_t w = send(t->fd, resp, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        shutdown(t->fd, SHUT_WR);
        atomic_fetch_add(&s->app->slow_clients_cut, 1);
        return;
    }
    if ((phase == PHASE_IDLE && age > idle_limit) ||
        (phase == PHASE_TIMED_OUT && age > body_limit + 2000)) {
        shutdown(t->fd, SHUT_RDWR);
        t->fd = -1;
        if (phase == PHASE_IDLE) {
            atomic_fetch_add(&s->app->slow_clients_cut, 1);
        }
    }
}

static void *reaper_main(void *arg)
{
    tix_server *s = arg;
    int64_t idle_limit = (s->app->cfg.connection_timeout_s + s->app->cfg.request_timeout_s) * 1000;
    int64_t body_limit = s->app->cfg.request_timeout_s * 1000;
    while (!atomic_load(&s->reaper_stop)) {
        struct timespec nap = {0, 200L * 1000 * 1000};
        nanosleep(&nap, NULL);
        int64_t now = tix_mono_ms();
        pthread_mutex_lock(&s->mu);
        for (track *t = s->tracks; t != NULL; t = t->next) {
            if (t->fd >= 0) {
                reap(s, t, now, idle_limit, body_limit);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- building and sending the answer ---- */

/* The handler's bytes, or its file (r->resp_file, GET /media) sent straight from the
 * descriptor, which the response then owns. */
static struct MHD_Response *make_response(tix_req *r)
{
    if (r->stream_read != NULL) { /* SSE: the response owns the stream from here on */
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 4096, r->stream_read, r->stream_cls, r->stream_free);
        if (resp != NULL) {
            r->stream_cls = NULL;
        }
        return resp;
    }
    if (r->resp_file) {
        struct MHD_Response *resp = MHD_create_response_from_fd64(r->resp_size, r->resp_fd);
        if (resp != NULL) {
            r->resp_fd = -1; /* closed by MHD with the response; else by on_completed */
        }
        return resp;
    }
    return MHD_create_response_from_buffer(r->resp_len, r->resp ? r->resp : (char *)"",
                                           MHD_RESPMEM_MUST_COPY);
}

static bool has_header(const tix_req *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->hname[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool queue(req_state *st, struct MHD_Connection *conn)
{
    tix_req *r = &st->r;
    if (r->status == 0) {
        tix_log_error("handler left %s %s unanswered", r->method, r->path);
        tix_reply_rc(r, TIX_EDB);
    }
    tix_cached_finish(r); /* ETag, 304, storing a cached route's answer; catalogue bumps */
    tix_reply_compress(r);
    struct MHD_Response *resp = make_response(r);
    if (resp == NULL) {
        return false;
    }
    if (r->content_type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    }
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (!has_header(r, MHD_HTTP_HEADER_CACHE_CONTROL)) { /* media files are cacheable */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    for (int i = 0; i < r->nheaders; i++) {
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    }
    enum MHD_Result ok = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    st->queued = ok == MHD_YES;
    return st->queued;
}

/* ---- checks before the handler ---- */

static bool authenticate(tix_req *r)
{
    const char *h = tix_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        tix_reply_header(r, "WWW-Authenticate", "Bearer");
        tix_reply_error(r, 401, "unauthorized", "authentication required", NULL);
        return false;
    }
    tix_claims c;
    if (tix_token_verify(r->app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, h + 7,
                         tix_now_ms() / 1000, &c) != TIX_OK) {
        tix_reply_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        tix_reply_error(r, 401, "invalid_token", "the access token is invalid or expired", NULL);
        return false;
    }
    r->auth.authenticated = true;
    r->auth.role = c.role;
    memcpy(r->auth.user_id, c.sub, sizeof(c.sub));
    memcpy(r->auth.session_id, c.sid, sizeof(c.sid));
    return true;
}

/* On a public route: a valid bearer token identifies the caller; anything else is anonymous. */
static void identify(tix_req *r)
{
    const char *h = tix_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    tix_claims c;
    if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
        tix_token_verify(r->app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, h + 7,
                         tix_now_ms() / 1000, &c) == TIX_OK) {
        r->auth.authenticated = true;
        r->auth.role = c.role;
        memcpy(r->auth.user_id, c.sub, sizeof(c.sub));
        memcpy(r->auth.session_id, c.sid, sizeof(c.sid));
    }
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
static bool admit(req_state *st)
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
    if (route->access == TIX_ACCESS_PUBLIC) {
        identify(r); /* public reads may still show more to a signed-in admin */
    }
    if (!tix_policy_route_allows(route->access, &r->auth)) {
        tix_reply_error(r, 403, "forbidden", "your role may not do this", NULL);
        return false;
    }
    return true;
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    const char **bad = cls;
    if (!tix_utf8_valid(key) || (value != NULL && !tix_utf8_valid(value))) {
        *bad = key;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Paths and query parameters must be UTF-8 (ids and filters reach SQL as text). */
static bool check_encoding(tix_req *r)
{
    const char *bad = NULL;
    if (!tix_utf8_valid(r->path)) {
        tix_reply_error(r, 404, "not_found", "no such endpoint or object", NULL);
        return false;
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &bad);
    if (bad != NULL) {
        tix_reply_error(r, 400, "invalid_parameter", "query parameters must be UTF-8 text",
                        json_pack("{s:s}", "parameter", tix_utf8_valid(bad) ? bad : "?"));
        return false;
    }
    return true;
}

static void dispatch(req_state *st)
{
    tix_req *r = &st->r;
    if (!check_encoding(r)) {
        return;
    }
    if (!admit(st)) {
        return;
    }
    const tix_route *route = r->route;
    if ((route->flags & TIX_ROUTE_JSON) && r->body_len > 0 &&
        !is_json_type(tix_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        tix_reply_error(r, 415, "unsupported_media_type", "send the body as application/json",
                        NULL);
        return;
    }
    if (!tix_ratelimit_admit(r)) {
        return;
    }
    if (route->flags & TIX_ROUTE_IDEMPOTENT) {
        tix_idempotent_call(r, route->handler);
    } else if (!tix_cached_answer(r)) {
        route->handler(r);
    }
}

/* ---- the MHD callbacks ---- */

static bool sane_request_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

static bool is_upload(const req_state *st)
{
    return st->r.route != NULL && (st->r.route->flags & TIX_ROUTE_UPLOAD) != 0;
}

static req_state *begin_request(tix_server *s, struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    req_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    tix_req *r = &st->r;
    st->s = s;
    r->arena = tix_arena_create(0);
    r->app = s->app;
    r->conn = conn;
    r->start_us = tix_mono_us();
    r->method = tix_arena_strdup(r->arena, method);
    r->path = tix_arena_strdup(r->arena, url);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (sane_request_id(rid)) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
    } else {
        unsigned char raw[12];
        tix_random_bytes(raw, sizeof(raw));
        tix_hex_encode(r->request_id, raw, sizeof(raw));
    }
    st->match = tix_router_match(s->app->router, method, url, &r->match);
    r->route = r->match.route;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    st->t = ci ? ci->socket_context : NULL;
    if (st->t != NULL) {
        memcpy(st->t->rid, r->request_id, sizeof(st->t->rid));
    }
    set_phase(st->t, PHASE_BODY);
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t len = 0;
    if (cl != NULL && tix_parse_int(cl, 0, INT64_MAX, &len) && len > s->app->cfg.max_body_bytes &&
        !is_upload(st)) { /* an upload's limit is its route's (tix_upload_start) */
        st->reject = 413;
    }
    atomic_fetch_add(&s->app->inflight, 1);
    return st;
}

static void take_body(req_state *st, const char *data, size_t size)
{
    tix_req *r = &st->r;
    const tix_config *cfg = &st->s->app->cfg;
    if (st->reject != 0) {
        return;
    }
    if (tix_mono_us() - r->start_us > cfg->request_timeout_s * 1000000) {
        st->reject = 408;
        return;
    }
    if (r->body_len + size > (size_t)cfg->max_body_bytes) {
        st->reject = 413;
        return;
    }
    if (r->body_len + size + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < r->body_len + size + 1) {
            cap *= 2;
        }
        char *nb = realloc(st->buf, cap);
        if (nb == NULL) {
            st->reject = 413;
            return;
        }
        st->buf = nb;
        st->cap = cap;
    }
    memcpy(st->buf + r->body_len, data, size);
    r->body_len += size;
    st->buf[r->body_len] = '\0';
    r->body = st->buf;
}

static void reject(req_state *st)
{
    if (st->reject == 408) {
        tix_reply_error(&st->r, 408, "request_timeout", "the request body arrived too slowly",
                        NULL);
    } else {
        tix_reply_error(
            &st->r, 413, "payload_too_large", "the request body is too large",
            json_pack("{s:I}", "limit_bytes", (json_int_t)st->s->app->cfg.max_body_bytes));
    }
    tix_reply_header(&st->r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* ---- uploads (TIX_ROUTE_UPLOAD) ---- */

/* An upload slot, when the media store is remote: false (with 503 too_many_uploads answered)
 * when MEDIA_UPLOAD_CONCURRENCY uploads already hold one. A Cloudinary upload blocks its worker
 * thread until the file is sent (a 200 MiB trailer, with retries, may take minutes), and every
 * connection that thread serves waits with it; bounding the uploads keeps the other workers
 * free. The slot is held from here to on_completed. */
static bool take_upload_slot(req_state *st)
{
    tix_server *s = st->s;
    tix_req *r = &st->r;
    int limit = (int)s->app->cfg.upload_concurrency;
    if (s->app->media == NULL || !s->app->media->remote) {
        return true;
    }
    int n = atomic_load(&s->uploads);
    while (n < limit && !atomic_compare_exchange_weak(&s->uploads, &n, n + 1)) {
    }
    if (n >= limit) {
        tix_reply_header(r, "Retry-After", "30");
        tix_reply_error(r, 503, "too_many_uploads", "too many uploads are in progress; retry later",
                        json_pack("{s:i}", "limit", limit));
        return false;
    }
    st->upload_slot = true;
    return true;
}

/* First callback of an upload: checks, the handler's begin call, then streaming starts. An
 * error is queued at once (allowed on the first call; MHD then closes the connection without
 * reading the body, and a client that sent "Expect: 100-continue" never sends it). */
static enum MHD_Result upload_begin(req_state *st, struct MHD_Connection *conn)
{
    tix_req *r = &st->r;
    if (check_encoding(r) && admit(st) && tix_upload_accepts(r)) {
        r->upload.begin = true;
        r->route->handler(r);
        r->upload.begin = false;
        /* No database connection is held while the body arrives (it may take minutes). */
        tix_db_release(st->s->app->db, r->db);
        r->db = NULL;
        if (!tix_req_answered(r) && take_upload_slot(st)) {
            (void)tix_upload_start(r, &st->up); /* answers its own errors */
        }
    }
    if (!tix_req_answered(r)) {
        return MHD_YES;
    }
    tix_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return queue(st, conn) ? MHD_YES : MHD_NO;
}

/* Body bytes of an upload. An upload may take longer than REQUEST_TIMEOUT: each chunk moves
 * the reaper's clock on, so REQUEST_TIMEOUT bounds the silence between chunks, but never past
 * start + MEDIA_UPLOAD_TIMEOUT - REQUEST_TIMEOUT, which bounds the whole upload. false: close
 * the connection (a refused body that keeps coming). */
static bool upload_progress(req_state *st, const char *data, size_t size)
{
    const tix_config *cfg = &st->s->app->cfg;
    if (st->up == NULL) {
        return true; /* already answered on the first call: drop */
    }
    if (st->t != NULL) {
        int64_t cap =
            st->r.start_us / 1000 + (cfg->upload_timeout_s - cfg->request_timeout_s) * 1000;
        int64_t now = tix_mono_ms();
        atomic_store(&st->t->since_ms, now < cap ? now : cap);
    }
    return tix_upload_feed(st->up, data, size);
}

/* Last callback of an upload: the handler's second call, unless the body was refused. */
static void upload_end(req_state *st)
{
    tix_req *r = &st->r;
    if (st->up != NULL && tix_upload_finish(st->up)) {
        r->route->handler(r);
    }
}

/* The first callback: headers only. */
static enum MHD_Result first_call(tix_server *s, struct MHD_Connection *conn, const char *url,
                                  const char *method, void **con_cls)
{
    req_state *st = begin_request(s, conn, url, method);
    *con_cls = st;
    if (st == NULL) {
        return MHD_NO;
    }
    if (st->reject != 0) {
        /* Content-Length over the limit: answer before reading any of it. MHD accepts a
         * response only now or once the body is complete, and closes after this one. */
        reject(st);
        return queue(st, conn) ? MHD_YES : MHD_NO;
    }
    return is_upload(st) ? upload_begin(st, conn) : MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    req_state *st = *con_cls;
    if (st == NULL) {
        return first_call(cls, conn, url, method, con_cls);
    }
    if (*upload_size > 0 && is_upload(st)) {
        bool go_on = upload_progress(st, upload_data, *upload_size);
        *upload_size = 0;
        return go_on ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        /* Past a limit the rest is read and dropped (bounded by REQUEST_TIMEOUT and the
         * reaper), because MHD cannot answer in the middle of a body. */
        take_body(st, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->queued) {
        return MHD_YES;
    }
    int expected = PHASE_BODY;
    if (st->t != NULL && !atomic_compare_exchange_strong(&st->t->phase, &expected, PHASE_HANDLER)) {
        st->r.status = 408; /* the reaper already answered on the socket */
        return MHD_NO;
    }
    set_phase(st->t, PHASE_HANDLER);
    if (st->reject != 0) {
        reject(st);
    } else if (is_upload(st)) {
        upload_end(st);
    } else {
        dispatch(st);
    }
    /* The handler is done with the database: give the connection back now, not when the
     * response has been sent. A connection kept until completion would deadlock the pool:
     * completion runs on this same MHD thread, which may next block in tix_db_acquire while
     * every connection waits for a completion that cannot run. */
    tix_db_release(st->s->app->db, st->r.db);
    st->r.db = NULL;
    return queue(st, conn) ? MHD_YES : MHD_NO;
}

static void access_log(req_state *st, enum MHD_RequestTerminationCode toe)
{
    tix_req *r = &st->r;
    if (!tix_log_enabled(TIX_LOG_INFO)) {
        return;
    }
    char ip[TIX_IP_TEXT];
    char path[512];
    char fields[1024];
    tix_client_ip(r, ip); /* behind a trusted proxy, the address it saw */
    tix_json_escape(path, sizeof(path), r->path);
    snprintf(fields, sizeof(fields),
             "\"rid\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%u,"
             "\"dur_us\":%lld,\"bytes_in\":%zu,\"bytes_out\":%zu,\"ip\":\"%s\","
             "\"user\":\"%s\",\"error\":\"%s\"%s",
             r->request_id, r->route || st->match != TIX_MATCH_NOT_FOUND ? r->method : "OTHER",
             path, r->status, (long long)(tix_mono_us() - r->start_us), r->body_len,
             r->resp_file ? (size_t)r->resp_size : r->resp_len, ip, r->auth.user_id,
             r->error_code ? r->error_code : "",
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
    tix_log_fields(TIX_LOG_INFO, "request", fields);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    tix_server *s = cls;
    req_state *st = *con_cls;
    if (st == NULL) {
        return;
    }
    access_log(st, toe);
    tix_cached_release(&st->r);
    atomic_fetch_add(&s->app->requests_total, 1);
    if (st->r.status >= 500) {
        atomic_fetch_add(&s->app->responses_5xx, 1);
    }
    tix_db_release(s->app->db, st->r.db);
    json_decref(st->r.json);
    if (st->upload_slot) {
        atomic_fetch_sub(&s->uploads, 1); /* before the file goes: no file left = no slot */
    }
    tix_upload_cleanup(st->up); /* the temporary file goes, whatever happened */
    if (st->r.stream_cls != NULL && st->r.stream_free != NULL) {
        st->r.stream_free(st->r.stream_cls); /* a stream that never reached MHD */
    }
    if (st->r.resp_file && st->r.resp_fd >= 0) {
        close(st->r.resp_fd); /* a file answer that never reached MHD */
    }
    set_phase(st->t, PHASE_IDLE);
    tix_arena_destroy(st->r.arena);
    free(st->buf);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->app->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') {
        msg[--n] = '\0';
    }
    tix_log(TIX_LOG_WARN, "libmicrohttpd: %s", msg);
}

/* ---- start and stop ---- */

static bool bind_addr(const char *host, int port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return true;
    }
    return false;
}

/* The media store (uploads need it) lives as long as the server, unless main made one. */
static tix_rc start_media(tix_server *s)
{
    char err[512];
    if (s->app->media != NULL) {
        return TIX_OK;
    }
    if (tix_media_create(&s->app->cfg, &s->app->media, err, sizeof(err)) != TIX_OK) {
        tix_log_error("%s", err);
        return TIX_EINVAL;
    }
    s->own_media = true;
    return TIX_OK;
}

tix_rc tix_server_start(tix_app *app, tix_server **out)
{
    const tix_config *cfg = &app->cfg;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (!bind_addr(cfg->bind_address, cfg->port, &ss, &v6)) {
        tix_log_error("BIND_ADDRESS %s is not an IP address", cfg->bind_address);
        return TIX_EINVAL;
    }
    tix_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    s->app = app;
    if (start_media(s) != TIX_OK) {
        free(s);
        return TIX_EINVAL;
    }
    pthread_mutex_init(&s->mu, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->workers, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->per_ip_connections, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (s->daemon == NULL) {
        tix_log_error("cannot listen on %s:%d (in use, or not permitted)", cfg->bind_address,
                      cfg->port);
        pthread_mutex_destroy(&s->mu);
        if (s->own_media) {
            tix_media_destroy(app->media);
            app->media = NULL;
        }
        free(s);
        return TIX_EUNAVAIL;
    }
    s->reaper_started = pthread_create(&s->reaper, NULL, reaper_main, s) == 0;
    *out = s;
    return TIX_OK;
}

void tix_server_stop(tix_server *s, int drain_s)
{
    if (s == NULL) {
        return;
    }
    MHD_quiesce_daemon(s->daemon); /* no new connections; nginx fails over to a peer */
    tix_sse_shutdown(s->app->sse); /* event streams end now: they would hold the drain up */
    int64_t deadline = tix_mono_ms() + (int64_t)drain_s * 1000;
    while (atomic_load(&s->app->inflight) > 0 && tix_mono_ms() < deadline) {
        struct timespec nap = {0, 20L * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    long left = atomic_load(&s->app->inflight);
    if (left > 0) {
        tix_log_warn("stopping with %ld requests still in flight", left);
    }
    atomic_store(&s->reaper_stop, true);
    if (s->reaper_started) {
        pthread_join(s->reaper, NULL);
    }
    MHD_stop_daemon(s->daemon);
    if (s->own_media) {
        tix_media_destroy(s->app->media);
        s->app->media = NULL;
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}
