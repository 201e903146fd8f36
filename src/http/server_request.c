/*
 * The MHD callbacks of one request (server.c starts and stops the daemon). Its lifecycle:
 *   1. first access callback: make the tix_req (arena, request id, route match); answer
 *      nothing yet (queueing on the first call makes MHD close keep-alive connections);
 *   2. upload callbacks: append body bytes up to MAX_BODY_BYTES and within REQUEST_TIMEOUT;
 *      past either limit the rest is dropped and the answer is 413/408 (a Content-Length over
 *      the limit is answered at once, before any of the body is read);
 *   3. last callback: the connection is suspended and the request handed to the handler pool
 *      (http/workpool.h), which runs the size, route, auth, role and content-type checks and
 *      the handler (then the audit trail's row, http/audit.h), then resumes the connection;
 *      MHD calls once more and the answer is
 *      queued (routes flagged TIX_ROUTE_INLINE, which cannot block, answer on the spot, and so
 *      do hits of the in-process answer cache: http/cached.h, tix_cached_answer_now, and,
 *      with the in-process cache too, a route's early answers, tix_route.now: a hold sure to
 *      be refused, booking/early.h; with Redis both go to the pool, so this thread never
 *      waits for a round trip);
 *      An event stream's answer (r->stream) is not queued: hand_off_stream writes its head
 *      itself, gives a dup() of the socket to the SSE hub (http/sse.h) and answers MHD_NO, on
 *      which MHD closes its descriptor (no FIN: MHD_USE_TURBO, server.c) and forgets the
 *      connection; the request is finished then, its access-log line written at the stream's
 *      end (stream_ended);
 *   4. completion callback: access-log line, database connection back to the pool, free.
 * Metrics (core/metrics.h): the time from the first byte to the answer queued, by route pattern
 * and status class; a pooled request's wait in the queue. The request id is the thread's
 * (core/log.h) while its handler runs, so every line the handler logs carries it.
 * Upload routes (TIX_ROUTE_UPLOAD) differ: auth, role and Content-Type are checked and the
 * handler's begin call made on the FIRST callback, so errors go out before the body is read;
 * the body streams through http/upload.c to a temporary file (never into memory), and the
 * reaper's clock moves on with every chunk up to MEDIA_UPLOAD_TIMEOUT (see server_upload.c).
 * Slow clients are cut by the reaper (server_reaper.c).
 */
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/answers.h"
#include "http/audit.h"
#include "http/cached.h"
#include "http/clientip.h"
#include "http/encoding.h"
#include "http/server_int.h"
#include "http/sse.h"
#include "http/validate.h"
#include "http/ws.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

_Thread_local bool tix_server_handing_off;

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh);

/* The handler's bytes, or its file (r->resp_file, GET /media) sent straight from the
 * descriptor, which the response then owns. */
static struct MHD_Response *make_response(tix_req *r)
{
    if (r->upgrade && r->status == 101) { /* the hub takes the socket after the 101 */
        return MHD_create_response_for_upgrade(on_upgraded, r->app->ws);
    }
    if (r->stream != NULL) { /* a HEAD of an event stream: the head alone, no stream */
        tix_sse_discard(r->stream);
        r->stream = NULL;
    }
    if (r->resp_file) {
        struct MHD_Response *resp = MHD_create_response_from_fd64(r->resp_size, r->resp_fd);
        if (resp != NULL) {
            r->resp_fd = -1; /* closed by MHD with the response; else by on_completed */
        }
        return resp;
    }
    const tix_answer *a = r->resp_ref;
    if (a != NULL && r->resp != NULL &&
        ((r->resp == a->plain && r->resp_len == a->plen) ||
         (r->resp == a->gz && r->resp_len == a->gzlen))) {
        /* A cached answer's own bytes: MHD sends them as they are and drops the reference in
         * the free callback, once the last byte is out. */
        struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
            r->resp_len, r->resp, tix_answer_free_cb, r->resp_ref);
        if (resp != NULL) {
            r->resp_ref = NULL;
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

/* ---- event streams: out of MHD (http/sse.h) ---- */

static void finish(tix_server *s, req_state *st, enum MHD_RequestTerminationCode toe);
static bool log_parts(req_state *st, char *head, size_t hcap, char *tail, size_t tcap);

/* The access-log line of an event stream, written when the stream ends (stream_ended, on the
 * SSE hub's thread): the request's fields as they were at the hand-off, text holding the ones
 * before dur_us, a NUL, then the ones after bytes_out. */
typedef struct stream_log {
    int64_t start_us;
    size_t bytes_in;
    char text[];
} stream_log;

static stream_log *make_stream_log(req_state *st)
{
    char head[1024];
    char tail[1024];
    if (!tix_log_enabled(TIX_LOG_INFO) || !log_parts(st, head, sizeof(head), tail, sizeof(tail))) {
        return NULL;
    }
    size_t hn = strlen(head);
    size_t tn = strlen(tail);
    stream_log *lg = malloc(sizeof(*lg) + hn + tn + 2);
    if (lg != NULL) {
        lg->start_us = st->r.start_us;
        lg->bytes_in = st->r.body_len;
        memcpy(lg->text, head, hn + 1);
        memcpy(lg->text + hn + 1, tail, tn + 1);
    }
    return lg;
}

/* tix_sse_end_fn: the stream's access-log line (as access_log writes any other), then lg goes. */
static void stream_ended(void *cls, uint64_t bytes_out, bool aborted)
{
    stream_log *lg = cls;
    if (lg == NULL) {
        return;
    }
    const char *tail = lg->text + strlen(lg->text) + 1;
    char fields[2304];
    snprintf(fields, sizeof(fields), "%s,\"dur_us\":%lld,\"bytes_in\":%zu,\"bytes_out\":%llu,%s%s",
             lg->text, (long long)(tix_mono_us() - lg->start_us), lg->bytes_in,
             (unsigned long long)bytes_out, tail, aborted ? ",\"aborted\":true" : "");
    tix_log_fields(TIX_LOG_INFO, "request", fields);
    free(lg);
}

/* A header line for the head, unless its value could break the head (CR, LF). */
static void head_line(FILE *f, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n") == NULL && strpbrk(value, "\r\n") == NULL) {
        fprintf(f, "%s: %s\r\n", name, value);
    }
}

/* The answer's head as MHD would have sent it (status line, Date, then the headers
 * tix_server_queue gives a response), with the body chunked (HTTP/1.1) or ending at the close
 * (HTTP/1.0), and Connection: close, as the socket ends with the stream. malloc'd; NULL: no
 * memory. */
static char *stream_head(const tix_req *r, bool chunked, size_t *n)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    if (f == NULL) {
        return NULL;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    const char *reason = MHD_get_reason_phrase_for(r->status);
    fprintf(f, "HTTP/1.1 %u %s\r\n", r->status, reason != NULL && *reason ? reason : "OK");
    fprintf(f, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday % 7], tm.tm_mday,
            months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (r->content_type != NULL) {
        head_line(f, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    }
    head_line(f, "X-Request-Id", r->request_id);
    if (!has_header(r, MHD_HTTP_HEADER_CACHE_CONTROL)) {
        head_line(f, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    for (int i = 0; i < r->nheaders; i++) {
        head_line(f, r->hname[i], r->hvalue[i]);
    }
    if (chunked) {
        head_line(f, MHD_HTTP_HEADER_TRANSFER_ENCODING, "chunked");
    }
    fputs("Connection: close\r\n\r\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* An event stream leaves MHD here: a descriptor of our own (a dup of the connection's), the head
 * and the stream's first events written by the SSE hub, and MHD told to forget the connection
 * (the caller answers MHD_NO; MHD_USE_TURBO keeps MHD's close from sending a FIN, server.c).
 * The request is over for the server now (metrics, counters, its memory); only the access-log
 * line waits for the stream's end. false, with r->stream discarded and a 503 answered in r,
 * when the socket could not be taken. */
static bool hand_off_stream(req_state *st, struct MHD_Connection *conn)
{
    tix_req *r = &st->r;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci != NULL ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
    size_t n = 0;
    char *head = fd >= 0 ? stream_head(r, !st->http10, &n) : NULL;
    if (head == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        tix_sse_discard(r->stream);
        r->stream = NULL;
        /* The handler's 200 and its stream headers are void (nothing adds headers before a
         * stream's handler runs): the 503 replaces them, or tix_reply_error would refuse to
         * answer twice and MHD would send the 200 with an empty body. */
        r->status = 0;
        r->resp = NULL;
        r->resp_len = 0;
        r->content_type = NULL;
        r->nheaders = 0;
        tix_reply_header(r, "Retry-After", "5");
        tix_reply_error(r, 503, "unavailable", "the event stream could not be started; try again",
                        NULL);
        return false;
    }
    stream_log *lg = make_stream_log(st);
    const tix_route *rt = r->route;
    tix_metrics_request(rt, rt ? rt->method : NULL, rt ? rt->pattern : NULL, r->status,
                        tix_mono_us() - r->start_us);
    tix_sse_stream *s = r->stream;
    r->stream = NULL;
    st->handed_off = true;
    finish(st->s, st, MHD_REQUEST_TERMINATED_COMPLETED_OK); /* logs nothing: lg does, later */
    tix_server_handing_off = true; /* MHD's "internal error" line for the MHD_NO is not one */
    if (tix_sse_attach(s, fd, head, n, !st->http10, stream_ended, lg) != TIX_OK) {
        tix_log_warn("sse: a stream's socket could not be taken (out of memory or descriptors)");
    } /* the stream is gone then, its line logged (aborted) */
    free(head);
    return true;
}

/* ---- answers ---- */

bool tix_server_queue(req_state *st, struct MHD_Connection *conn)
{
    tix_req *r = &st->r;
    if (r->status == 0) {
        tix_log_error("handler left %s %s unanswered", r->method, r->path);
        tix_reply_rc(r, TIX_EDB);
    }
    if (r->stream != NULL && strcmp(r->method, "HEAD") != 0 && hand_off_stream(st, conn)) {
        return false; /* MHD_NO: MHD forgets the connection, the stream has the socket */
    }
    tix_cached_finish(r); /* ETag, 304, storing a cached route's answer */
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
    if (st->queued) { /* latency to the answer: a stream's or a download's life is not in it */
        const tix_route *rt = r->route;
        tix_metrics_request(rt, rt ? rt->method : NULL, rt ? rt->pattern : NULL, r->status,
                            tix_mono_us() - r->start_us);
    }
    if (st->queued && r->upgrade && r->status == 101) {
        tix_server_set_phase(st->t, PHASE_UPGRADED);
    }
    return st->queued;
}

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

/* Whether the path part of a request-target holds a control byte (0x00-0x1F, 0x7F), sent as
 * it is or percent-encoded, or a percent-encoded slash: MHD decodes the path before routing,
 * so "/movies/%2F" would be routed as "/movies/" (the list) and "/shows/x%2Fseats" as
 * "/shows/x/seats", another path than the one a proxy's rules or the log see. */
static bool path_refused(const char *uri, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
        if (c == '%' && i + 2 < n && tix_hex_digit(uri[i + 1]) >= 0 &&
            tix_hex_digit(uri[i + 2]) >= 0) {
            int v = tix_hex_digit(uri[i + 1]) * 16 + tix_hex_digit(uri[i + 2]);
            if (v < 0x20 || v == 0x7f || v == '/') {
                return true;
            }
        }
    }
    return false;
}

void *tix_server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    req_state *st = calloc(1, sizeof(*st)); /* freed by tix_server_on_completed */
    size_t n = uri != NULL ? strcspn(uri, "?") : 0;
    if (st != NULL && path_refused(uri, n)) {
        st->raw_path = strndup(uri, n < 2048 ? n : 2048); /* NULL: the 400 is lost, not the check */
        if (st->raw_path == NULL) {
            st->raw_path = strdup("?");
        }
    }
    return st;
}

/* st comes from tix_server_on_uri (NULL if it could not allocate: then it is made here). */
static req_state *begin_request(tix_server *s, req_state *st, struct MHD_Connection *conn,
                                const char *url, const char *method)
{
    st = st != NULL ? st : calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    tix_req *r = &st->r;
    st->s = s;
    /* 1 KiB first: a request that becomes an event stream keeps its arena (the strings the
     * access log needs) for the stream's whole life; busier requests go on in 8 KiB blocks. */
    r->arena = tix_arena_create(1024);
    r->app = s->app;
    r->conn = conn;
    r->start_us = tix_mono_us();
    r->method = tix_arena_strdup(r->arena, method);
    /* the path as sent when MHD's decoded one was cut at a NUL (the 400 names what was sent) */
    r->path = tix_arena_strdup(r->arena, st->raw_path != NULL ? st->raw_path : url);
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
    tix_server_set_phase(st->t, PHASE_BODY);
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

/* The handler, on whichever thread runs it. */
static void run_handler(req_state *st)
{
    tix_log_set_request_id(st->r.request_id); /* every line the handler logs names it */
    if (is_upload(st)) {
        tix_server_upload_end(st);
    } else {
        tix_server_dispatch(st);
    }
    tix_audit_record(&st->r); /* after the answer, never changing it (http/audit.h) */
    /* The handler is done with the database: give the connection back now, not when the
     * response has been sent (completion runs on an MHD thread, which must never wait for a
     * database connection). Its store calls are kept for the access log. */
    st->r.db_calls += tix_db_calls(st->r.db) + tix_db_calls(st->r.rdb);
    tix_db_release(st->s->app->db, st->r.db);
    st->r.db = NULL;
    tix_db_release(st->s->app->db, st->r.rdb);
    st->r.rdb = NULL;
    tix_log_set_request_id(NULL);
}

/* Unknown routes and routes flagged TIX_ROUTE_INLINE answer on the MHD thread: they cannot
 * block, and the hop to the pool would only cost time. */
static bool runs_inline(const req_state *st)
{
    return st->s->pool == NULL || st->r.route == NULL ||
           (st->r.route->flags & TIX_ROUTE_INLINE) != 0;
}

/* On a pool thread: the handler, then the connection goes back to MHD, which calls
 * tix_server_on_access once more to send the answer (st->handled). MHD_resume_connection
 * takes the daemon's lock, so everything the handler wrote is visible to that call. */
static void pool_job(void *arg)
{
    req_state *st = arg;
    st->r.queue_us = tix_mono_us() - st->queued_us;
    tix_metrics_queue_wait(st->lane, st->r.queue_us);
    run_handler(st);
    st->handled = true;
    MHD_resume_connection(st->conn);
}

/* The read lane for public cacheable GETs (server_int.h), the handler pool for the rest;
 * *lane: its name for the queue-wait metric ("holds" for the handler pool's later queue). */
static tix_workpool *pool_for(const req_state *st, const char **lane)
{
    unsigned f = st->r.route ? st->r.route->flags : 0;
    bool read = st->s->read_pool != NULL && strcmp(st->r.method, "GET") == 0 &&
                (f & (TIX_ROUTE_CACHE_SHOW | TIX_ROUTE_CACHE_CATALOG)) != 0 &&
                (f & TIX_ROUTE_CACHE_USER) == 0;
    if (read) {
        *lane = "reads";
        return st->s->read_pool;
    }
    *lane = (f & TIX_ROUTE_QUEUE_LATER) != 0 ? "holds" : "handlers";
    return st->s->pool;
}

/* Suspends the connection and queues its handler. A full queue is answered at once: 503 with
 * Retry-After, the handler not run (the client may send it again). */
static enum MHD_Result hand_to_pool(req_state *st, struct MHD_Connection *conn)
{
    st->conn = conn;
    MHD_suspend_connection(conn); /* before the job can possibly resume it */
    tix_workpool *pool = pool_for(st, &st->lane);
    st->queued_us = tix_mono_us();
    /* A read that will lead its seat map's build goes first: others are answered stale
     * meanwhile, and the build bounds how long (http/cached.c). A hold goes to the later queue:
     * the checkout of those who got seats (book, pay, confirm: the queue) is not held up by a
     * stampede of hold attempts (router.h TIX_ROUTE_QUEUE_LATER). */
    bool later = strcmp(st->lane, "holds") == 0; /* pool_for's name for the later queue */
    if (st->r.build_first ? tix_workpool_submit_first(pool, pool_job, st)
        : later           ? tix_workpool_submit_later(pool, pool_job, st)
                          : tix_workpool_submit(pool, pool_job, st)) {
        return MHD_YES;
    }
    atomic_fetch_add(&st->s->app->overloaded, 1);
    tix_reply_header(&st->r, "Retry-After", "1");
    tix_reply_error(&st->r, 503, "overloaded",
                    "the server has more requests waiting than it takes; retry shortly", NULL);
    st->handled = true;
    MHD_resume_connection(conn);
    return MHD_YES;
}

/* The first callback: headers only. */
static enum MHD_Result first_call(tix_server *s, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, void **con_cls)
{
    req_state *st = begin_request(s, *con_cls, conn, url, method);
    *con_cls = st;
    if (st == NULL) {
        return MHD_NO;
    }
    st->http10 = version != NULL && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
    if (st->reject != 0) {
        /* Content-Length over the limit: answer before reading any of it. MHD accepts a
         * response only now or once the body is complete, and closes after this one. */
        reject(st);
        return tix_server_queue(st, conn) ? MHD_YES : MHD_NO;
    }
    if (is_upload(st) && tix_server_upload_begin(st)) {
        return tix_server_queue(st, conn) ? MHD_YES : MHD_NO;
    }
    return MHD_YES;
}

enum MHD_Result tix_server_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **con_cls)
{
    req_state *st = *con_cls;
    tix_server_handing_off = false;
    if (st == NULL || st->s == NULL) { /* made by tix_server_on_uri, not begun yet */
        return first_call(cls, conn, url, method, version, con_cls);
    }
    if (*upload_size > 0 && is_upload(st)) {
        bool go_on = tix_server_upload_progress(st, upload_data, *upload_size);
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
    if (st->handled) { /* back from the handler pool: send what the handler answered */
        return tix_server_queue(st, conn) ? MHD_YES : MHD_NO;
    }
    int expected = PHASE_BODY;
    if (st->t != NULL && !atomic_compare_exchange_strong(&st->t->phase, &expected, PHASE_HANDLER)) {
        st->r.status = 408; /* the reaper already answered on the socket */
        return MHD_NO;
    }
    tix_server_set_phase(st->t, PHASE_HANDLER);
    if (st->reject != 0) {
        reject(st);
    } else if (runs_inline(st)) {
        run_handler(st);
    } else if (!tix_server_answer_cached_now(st) && /* cache hits never queue (issue 13) */
               !tix_server_answer_now(st)) {        /* nor sure refusals of holds */
        return hand_to_pool(st, conn);
    }
    return tix_server_queue(st, conn) ? MHD_YES : MHD_NO;
}

/* The method as logged: a standard one as it is, anything else "OTHER" (a client's made-up
 * method never reaches the log: it could be long or forge fields). */
static const char *logged_method(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(m, known[i]) == 0) {
            return known[i];
        }
    }
    return "OTHER";
}

/* One JSON line per request; db_calls: the store calls it made (tix_req.db_calls); queue_us and
 * db_wait_us: its waits for a pool thread and a database connection. Every text that
 * comes from the client is escaped and bounded (path 511 bytes, user 127), so the line always fits
 * its buffer and always parses. */
/* The line's fields before dur_us (rid, method, path, status) into head and after bytes_out
 * (ip, user, error, db_calls, queue_us, db_wait_us) into tail; false when they did not fit (cannot
 * happen with the bounds above and 1 KiB each). An event stream's line is written at its end from
 * these (stream_ended). */
static bool log_parts(req_state *st, char *head, size_t hcap, char *tail, size_t tcap)
{
    tix_req *r = &st->r;
    char ip[TIX_IP_TEXT];
    char path[512];
    char user[128];
    char rid[160];
    tix_client_ip(r, ip); /* behind a trusted proxy, the address it saw */
    tix_json_escape(path, sizeof(path), r->path);
    tix_json_escape(user, sizeof(user), r->auth.user_id);
    tix_json_escape(rid, sizeof(rid), r->request_id);
    int hn = snprintf(head, hcap, "\"rid\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%u",
                      rid, logged_method(r->method), path, r->status);
    int tn = snprintf(tail, tcap,
                      "\"ip\":\"%s\",\"user\":\"%s\",\"error\":\"%s\",\"db_calls\":%d,"
                      "\"queue_us\":%lld,\"db_wait_us\":%lld",
                      ip, user, r->error_code ? r->error_code : "",
                      r->db_calls + tix_db_calls(r->db) + tix_db_calls(r->rdb),
                      (long long)r->queue_us, (long long)r->db_wait_us);
    if (hn < 0 || (size_t)hn >= hcap || tn < 0 || (size_t)tn >= tcap) {
        snprintf(head, hcap, "\"rid\":\"%s\",\"status\":%u,\"truncated\":true", rid, r->status);
        return false;
    }
    return true;
}

static void access_log(req_state *st, enum MHD_RequestTerminationCode toe)
{
    tix_req *r = &st->r;
    if (!tix_log_enabled(TIX_LOG_INFO)) {
        return;
    }
    char head[1024];
    char tail[1024];
    char fields[2304];
    if (!log_parts(st, head, sizeof(head), tail, sizeof(tail))) {
        tix_log_fields(TIX_LOG_INFO, "request", head);
        return;
    }
    snprintf(fields, sizeof(fields), "%s,\"dur_us\":%lld,\"bytes_in\":%zu,\"bytes_out\":%zu,%s%s",
             head, (long long)(tix_mono_us() - r->start_us), r->body_len,
             r->resp_file ? (size_t)r->resp_size : r->resp_len, tail,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
    tix_log_fields(TIX_LOG_INFO, "request", fields);
}

/* The end of a request that reached its first access callback: log, counters, everything it
 * holds but st itself. */
static void finish(tix_server *s, req_state *st, enum MHD_RequestTerminationCode toe)
{
    if (!st->handed_off) { /* a stream's line comes at its end (stream_ended) */
        access_log(st, toe);
    }
    tix_cached_release(&st->r);
    atomic_fetch_add(&s->app->requests_total, 1);
    if (st->r.status >= 500) {
        atomic_fetch_add(&s->app->responses_5xx, 1);
    }
    tix_db_release(s->app->db, st->r.db);
    tix_db_release(s->app->db, st->r.rdb);
    json_decref(st->r.json);
    if (st->upload_slot) {
        atomic_fetch_sub(&s->uploads, 1); /* before the file goes: no file left = no slot */
    }
    tix_upload_cleanup(st->up); /* the temporary file goes, whatever happened */
    if (st->r.stream != NULL) {
        tix_sse_discard(st->r.stream); /* a stream that never got its socket */
        st->r.stream = NULL;
    }
    if (st->r.resp_file && st->r.resp_fd >= 0) {
        close(st->r.resp_fd); /* a file answer that never reached MHD */
    }
    if (st->handed_off) {
        tix_server_set_phase(st->t, PHASE_UPGRADED); /* the socket is the SSE hub's now */
    } else if (!(st->r.upgrade && st->r.status == 101)) {
        tix_server_set_phase(st->t, PHASE_IDLE);
    }
    tix_arena_destroy(st->r.arena);
    st->r.arena = NULL;
    free(st->buf);
    st->buf = NULL;
    free(st->raw_path);
    st->raw_path = NULL;
    st->finished = true;
    atomic_fetch_sub(&s->app->inflight, 1);
}

void tix_server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    tix_server *s = cls;
    req_state *st = *con_cls;
    if (st == NULL) {
        return;
    }
    if (st->s != NULL && !st->finished) {
        finish(s, st, toe);
    }
    free(st->raw_path); /* set when the request ended before its first access callback */
    free(st);
    *con_cls = NULL;
}

/* MHD's upgrade handler (cls: the WebSocket hub; con_cls: the request's state): the request
 * is over for the server once the 101 is out, so it is logged and its memory (the arena, the
 * database connection) freed now, not when the socket closes (MHD calls the completion
 * callback only then); the socket goes to the hub (http/ws.h). */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    req_state *st = con_cls;
    if (st != NULL && st->s != NULL && !st->finished) {
        finish(st->s, st, MHD_REQUEST_TERMINATED_COMPLETED_OK);
    }
    tix_ws_on_upgrade(cls, conn, NULL, extra_in, extra_in_size, sock, urh);
}
