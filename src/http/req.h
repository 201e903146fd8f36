/*
 * A request as handlers see it, and the calls to answer it. One tix_req per HTTP request,
 * created by server.c; everything hanging off it (strings, the parsed body, the response) is
 * owned by the request and freed after the reply, so handlers never free what they get here.
 *
 * A handler must answer exactly once (tix_reply_*); a handler that returns without answering
 * is a bug and becomes a 500. Helpers that can fail while fetching input (tix_req_json,
 * tix_req_db, …) answer the error themselves and return NULL/false: the handler just returns.
 */
#ifndef TIX_HTTP_REQ_H
#define TIX_HTTP_REQ_H

#include "core/arena.h"
#include "core/i18n.h"
#include "core/rc.h"
#include "core/roles.h" /* tix_principal */
#include "http/router.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tix_app tix_app;

#define TIX_REQ_MAX_HEADERS 8

/* Content type of an upload from its first bytes (at most TIX_UPLOAD_SNIFF_BYTES; fewer only
 * when the file is that short), or NULL to refuse the file (415). Static result. */
typedef const char *(*tix_upload_sniff)(const unsigned char *head, size_t n);
#define TIX_UPLOAD_SNIFF_BYTES 16

/* A file upload, on routes flagged TIX_ROUTE_UPLOAD (server.c and upload.c do the work).
 * The server calls the handler twice:
 *   1. begin = true, as soon as the headers are in and auth, role and a multipart/form-data
 *      Content-Type are checked: the handler may answer (an error, sent at once, before any of
 *      the body is read) or set max_bytes and sniff and return unanswered. The request's
 *      database connection is released after this call.
 *   2. begin = false, once the whole body has been read: the form part named "file" has been
 *      streamed to the temporary file at path (never whole in memory), its type sniffed and
 *      its size checked; the server answered 400/408/413/415 itself when that failed.
 * The server removes the temporary file after the reply, whatever happened. */
typedef struct tix_upload {
    bool begin;
    /* set by the handler in call 1 */
    int64_t max_bytes; /* the file's size limit (413 above it) */
    tix_upload_sniff sniff;
    const char *accepted; /* for the 415 message: "JPEG, PNG or WebP" */
    void *handler_state;  /* the handler's own note from call 1 to call 2 (arena memory) */
    /* set by the server for call 2 */
    const char *path;         /* NULL when the body had no non-empty "file" part */
    const char *content_type; /* what sniff answered */
    int64_t size;
} tix_upload;

struct tix_req {
    tix_arena *arena;
    tix_app *app;
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    const tix_route *route;
    tix_match match;
    const char *body; /* NUL-terminated copy of the body bytes, or NULL */
    size_t body_len;
    json_t *json;       /* parsed body (owned; decref'd after the reply) */
    tix_principal auth; /* who is calling; .authenticated false for anonymous */
    char request_id[72];
    int64_t start_us;
    tix_db *db;         /* acquired on first use by tix_req_db, released after the reply */
    tix_db *rdb;        /* tix_req_db_read's, when db was not acquired first; released with it */
    int64_t read_until; /* an answer read from a replica is cached no later than this (ms) */
    tix_upload upload;  /* TIX_ROUTE_UPLOAD routes only */
    /* TIX_ROUTE_IDEM_TX routes with an Idempotency-Key: the key, for the handler to hand to the
     * transaction that joins it (booking/booking.h tix_idem_tx; owned by http/idempotency.c,
     * valid during the handler call); NULL otherwise. */
    struct tix_idem_tx *idem;
    /* the answer */
    unsigned status;
    char *resp;
    size_t resp_len;
    const char *content_type;
    /* The Content-Encoding resp is in ("gzip"), "identity" when it must be sent as it is, or
     * NULL: http/encoding.h may still compress it. */
    const char *resp_encoding;
    /* A cached answer resp points into (http/answers.h), one reference held; NULL when resp is
     * arena memory. The response takes the reference over and sends the bytes without a copy;
     * tix_cached_release drops it if the answer never reached MHD. */
    struct tix_answer *resp_ref;
    /* A file answer instead of resp (GET /media): the server sends resp_size bytes of resp_fd
     * without reading them into memory, and closes the descriptor. */
    bool resp_file;
    int resp_fd;
    uint64_t resp_size;
    /* An event stream instead of resp (GET /shows/{id}/events, http/sse.h): the server writes
     * the head itself and gives the socket to the stream's hub (tix_sse_attach), out of MHD; a
     * stream that never gets there (an error first, a HEAD) is discarded (tix_sse_discard). */
    struct tix_sse_stream *stream;
    /* A WebSocket handshake (GET /ws): the handler answered 101 with its headers; the server
     * sends an MHD upgrade response and hands the socket to the hub (http/ws.h). */
    bool upgrade;
    /* Cached routes (http/cached.h): the instant the handler's answer stops being true by the
     * clock (0: only CACHE_TTL bounds it); the cache lookup's state. */
    int64_t cache_until;
    struct tix_cached *cached;
    bool cache_hit;
    /* A show-scope read handed to the handler pool from MHD's thread is counted on its entry's
     * flight until its lookup runs (http/cached.c: reads queued for a build may be answered
     * stale meanwhile); build_first: it will lead the entry's next build, so the pool runs it
     * before other queued reads. */
    struct tix_flight *queued_on;
    bool build_first;
    /* The answer reports a failure a retry may not meet although its status is no 5xx (a
     * GraphQL 200 whose mutation met a 503 or a 429): http/idempotency.c drops the
     * Idempotency-Key's claim, as for a 5xx, instead of storing the answer for replay. */
    bool transient;
    const char *error_code; /* for the access log */
    /* What the request acted on, when the handler names it (http/audit.h: tix_audit_target);
     * NULL: the audit trail derives it from the route. Static text or arena memory. */
    const char *audit_target_type;
    const char *audit_target_id;
    /* The language of error messages (core/i18n.h): chosen by tix_req_lang on first use. */
    tix_lang lang;
    /* Store calls (store/db.h tix_db_calls) of connections the request has given back already;
     * the access log adds those of db and rdb if still held. */
    int db_calls;
    /* Where the time before and around the handler went, for the access line: queue_us, how
     * long the request waited in its lane's queue for a pool thread (0 inline); db_wait_us, how
     * long it waited for pooled connections (tix_req_db, tix_req_db_read and every other
     * acquire made for it): the sum of the waits store/db.h tix_db_acquire_timed reports, the
     * pool wait ticketd_db_pool_wait_seconds observes, without the time opening a connection. */
    int64_t queue_us;
    int64_t db_wait_us;
    int nheaders;
    const char *hname[TIX_REQ_MAX_HEADERS];
    const char *hvalue[TIX_REQ_MAX_HEADERS];
};

/* A path parameter by name ({id}), arena-owned; NULL if the route has none of that name. */
const char *tix_req_param(tix_req *r, const char *name);
/* A query-string argument (already URL-decoded), or NULL. */
const char *tix_req_query(tix_req *r, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *tix_req_header(tix_req *r, const char *name);
/* The language the caller reads (core/i18n.h): the best supported one of Accept-Language, else
 * the signed-in user's saved locale, else English. Chosen once per request; tix_reply_error
 * translates every message into it (a message already translated passes unchanged). */
tix_lang tix_req_lang(tix_req *r);

/* The body as a JSON object (owned by the request). On a bad body it answers 400
 * (malformed_json / invalid_type) and returns NULL. */
json_t *tix_req_json(tix_req *r);

/* The request's database connection (acquired once per request). On failure it answers
 * 503 and returns NULL. */
tix_db *tix_req_db(tix_req *r);
/* A connection from the primary pool with its wait added to r->db_wait_us (the access line's,
 * as for every acquire made for the request); answers nothing. The caller releases it, or
 * hands it to r->db to be released after the reply. */
TIX_MUSTCHECK tix_rc tix_req_acquire(tix_req *r, tix_db **out);
/* A connection for a read that may be up to READ_MAX_LAG old (store/db.h:
 * tix_db_acquire_read): a replica's when one is current enough, else the primary's; the
 * request's primary connection when it already has one. Only for answers that decide nothing
 * (seat maps and listings): never for a write or a check before one. An answer read from a
 * replica is cached (http/cached.h) only as long as its data stays within the bound. On
 * failure it answers 503 and returns NULL. */
tix_db *tix_req_db_read(tix_req *r);
/* After a read on tix_req_db_read's connection failed with rc: when it was a replica's and
 * rc is TIX_EUNAVAIL (the replica went away: it is left alone for a moment) or TIX_ENOTFOUND
 * (what was just created may not have reached it yet), *db becomes the primary's connection
 * and it returns true (read again); otherwise false. A lost replica thus never becomes a 503,
 * nor a lagging one a 404. When the primary cannot be had either it answers 503, sets *db to
 * NULL and returns false. */
bool tix_req_db_read_again(tix_req *r, tix_rc rc, tix_db **db);

/* Parses ?limit= (default 20, 1..100) and ?cursor= (opaque). On a bad value it answers 400
 * invalid_parameter and returns false. *cursor is NULL when absent; decoded otherwise. */
bool tix_req_page(tix_req *r, int *limit, const char **cursor);
/* The opaque cursor text for a last-seen key (arena-owned). */
const char *tix_req_cursor_encode(tix_req *r, const char *key);

/* How tix_reply_json serialises a body (jansson's json_dumps flags). */
#define TIX_REPLY_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

/* Answers with a JSON value (reference stolen) and status. */
void tix_reply_json(tix_req *r, unsigned status, json_t *body);
/* Answers with no body (204 and the like). */
void tix_reply_empty(tix_req *r, unsigned status);
/* Answers with the error format of API.md; details (stolen, may be NULL) go under "details". */
void tix_reply_error(tix_req *r, unsigned status, const char *code, const char *message,
                     json_t *details);
/* Answers with the standard status, code and message for a result code (see reply.c). */
void tix_reply_rc(tix_req *r, tix_rc rc);
/* Adds a response header (both strings must outlive the request: literals or arena). */
void tix_reply_header(tix_req *r, const char *name, const char *value);
/* Runs handler under the request's Idempotency-Key, if it has one (http/idempotency.c): the
 * first response to (user, key) is stored for 24 h and replayed for the same request; the same
 * key with a different request is a 422. On TIX_ROUTE_IDEM_TX routes the handler passes r->idem
 * to its transaction (and sets its answer callback). */
void tix_idempotent_call(tix_req *r, tix_handler handler);
/* Whether the request has been answered. */
bool tix_req_answered(const tix_req *r);

#endif
