/*
 * Private to the HTTP server (http/server*.c): the server, the per-connection record the
 * slow-client reaper watches, the per-request state, and the calls between the parts.
 *   server.c          start, graceful stop (drain), the MHD daemon's options
 *   server_request.c  the MHD access and completion callbacks: one request from first byte to
 *                     access log, the body, the answer (buffer, file, or an SSE stream's hand-off)
 *   server_admit.c    checks before a handler (encoding, route, auth, role, content type,
 *                     rate limits) and the dispatch to it
 *   server_upload.c   TIX_ROUTE_UPLOAD routes: streaming bodies through http/upload.c
 *   server_reaper.c   connection tracking and the slow-client reaper thread
 *   workpool.c        the handler threads
 * Threads: libmicrohttpd runs one I/O thread per core (reading requests, writing answers; event
 * streams and WebSockets leave it for their hubs' loops once they start); handlers run on WORKERS
 * pool threads with their connection suspended, so a handler that blocks (the database, Redis, a
 * provider) holds up no other connection.
 */
#ifndef TIX_HTTP_SERVER_INT_H
#define TIX_HTTP_SERVER_INT_H

#include "app.h"
#include "http/req.h"
#include "http/router.h"
#include "http/server.h"
#include "http/upload.h"
#include "http/workpool.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Where a connection's current request is; the reaper's time-outs depend on it. */
enum phase { PHASE_IDLE, PHASE_BODY, PHASE_HANDLER, PHASE_TIMED_OUT, PHASE_UPGRADED };
/* PHASE_UPGRADED: the socket belongs to the WebSocket hub (http/ws.h) or, an event stream's, to
 * the SSE hub (http/sse.h), which keep their own time-outs; the reaper leaves it alone (until
 * MHD's close of its own descriptor takes the track away). */

/* One open connection, in the server's list from MHD's start to its close notification. */
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
    tix_workpool *pool; /* runs the handlers (http/workpool.h) */
    /* Runs the public cacheable GETs (routes flagged TIX_ROUTE_CACHE_SHOW or _CATALOG: the seat
     * map, listings) on their own few threads, so a read that the cache answers, or that one
     * build per version answers (http/cached.c), never waits in the queue behind holds and
     * bookings blocked on the database. In an opening-night stampede every worker was busy
     * with holds and seat-map reads queued for seconds behind them (bench/opening.sh). */
    tix_workpool *read_pool;
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
    bool handled; /* the handler ran on the pool; its connection was resumed to send the answer */
    struct MHD_Connection *conn;
    /* handed to a pool: when (tix_mono_us) and which lane ("handlers", "reads"), for the
     * queue-wait histogram (core/metrics.h) */
    int64_t queued_us;
    const char *lane;
    tix_upload_state *up; /* TIX_ROUTE_UPLOAD routes, once the body is being read */
    bool upload_slot;     /* holds one of s->uploads until completion */
    /* A WebSocket: the request was finished (logged, counted, freed but this struct) when its
     * socket went to the hub; MHD's completion callback comes only when the socket closes. */
    bool finished;
    /* An event stream whose socket went to the SSE hub (http/sse.h): finished like a
     * WebSocket, its access-log line deferred to the stream's end. */
    bool handed_off;
    bool http10; /* the request said HTTP/1.0: a stream's body ends at the close, not chunked */
    /* The path as sent (percent-encoded, malloc'd) when it holds a control byte, encoded
     * (%00) or not, or an encoded slash (%2F): MHD hands on the decoded path cut at the first
     * NUL (and with %2F turned into a separator), so this is what the 400 is for and what the
     * access log shows. NULL otherwise. */
    char *raw_path;
} req_state;

static inline bool is_upload(const req_state *st)
{
    return st->r.route != NULL && (st->r.route->flags & TIX_ROUTE_UPLOAD) != 0;
}

/* server_reaper.c */
/* Moves a connection to phase now (t NULL: an untracked connection, nothing to do). */
void tix_server_set_phase(track *t, int phase);
/* MHD_OPTION_NOTIFY_CONNECTION: adds and removes connections from the reaper's list. */
void tix_server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code);
/* The reaper thread (arg is the server); returns once reaper_stop is set. */
void *tix_server_reaper_main(void *arg);

/* server_request.c */
/* Set on MHD's thread when an access callback hands an event stream's socket over and answers
 * MHD_NO (MHD's way to forget a connection): MHD then logs "Application reported internal
 * error", which server.c's logger drops while this is set. Cleared by every access callback. */
extern _Thread_local bool tix_server_handing_off;
/* MHD_OPTION_URI_LOG_CALLBACK: makes the request's state from the request-target as sent,
 * before MHD decodes it (cls is the server). */
void *tix_server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* The MHD access handler and MHD_OPTION_NOTIFY_COMPLETED (cls is the server). */
enum MHD_Result tix_server_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **con_cls);
void tix_server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe);
/* Queues the request's answer (a 500 when the handler gave none); false when MHD refused. */
bool tix_server_queue(req_state *st, struct MHD_Connection *conn);

/* server_admit.c */
/* Paths and query parameters must be UTF-8 without control characters, and no query parameter
 * may repeat; false once an error is answered. */
bool tix_server_check_encoding(req_state *st);
/* Route, auth and role checks; false once an error is answered. */
bool tix_server_admit(req_state *st);
/* All checks, then the route's handler (through the idempotency or answer cache if any). */
void tix_server_dispatch(req_state *st);
/* On the MHD thread, before the handler queue: answers an anonymous GET of a public cached
 * route from the store of answers when nothing on the way can block and every check would pass
 * unchanged (http/cached.h, tix_cached_answer_now); false, changing nothing, otherwise. */
bool tix_server_answer_cached_now(req_state *st);
/* On the MHD thread, before the handler queue: a route's own early answer (tix_route.now) for a
 * request that passes every check the queue would make first, with the session checked from
 * the cache alone, when the cache cannot block (never with Redis); false, changing nothing the
 * queue reads, otherwise. */
bool tix_server_answer_now(req_state *st);

/* server_upload.c (called by server_request.c; it calls nothing there) */
bool tix_server_upload_begin(req_state *st);
bool tix_server_upload_progress(req_state *st, const char *data, size_t size);
void tix_server_upload_end(req_state *st);

#endif
