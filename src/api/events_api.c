/*
 * GET /shows/{id}/events: a show's seat changes as Server-Sent Events (http/sse.h). The
 * handler checks the show, registers the stream, writes its start from the bus's backlog and
 * answers with a streamed response; from then on no thread is spent on the stream while it
 * is idle. A client resumes with the Last-Event-ID header (EventSource sends it by itself
 * when it reconnects) or ?last_event_id= (for a first connection that already has a map).
 *
 * The server then writes the answer's head itself and hands the socket to the hub, out of
 * libmicrohttpd (http/server_request.c, http/sse.h): the request, its arena and MHD's
 * connection are gone once the stream starts, and an idle stream keeps only its
 * tix_sse_stream and its access-log line (bench/sse_memory.py). The show and the backlog are
 * read into a scratch arena freed before the answer all the same (it is the handler's only
 * big allocation).
 */
#include "api/handlers.h"
#include "app.h"
#include "cache/bus.h"
#include "core/arena.h"
#include "core/util.h"
#include "http/sse.h"
#include "http/ws.h"
#include "store/catalog.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

/* The id the client last saw: 0 when none (or not one of ours). */
static int64_t last_seen(tix_req *r)
{
    const char *h = tix_req_header(r, "Last-Event-ID");
    const char *q = tix_req_query(r, "last_event_id");
    int64_t v = 0;
    if (h != NULL && *h && tix_parse_int(h, 1, INT64_MAX, &v)) {
        return v;
    }
    if (q != NULL && *q && tix_parse_int(q, 1, INT64_MAX, &v)) {
        return v;
    }
    return 0;
}

void tix_api_show_events(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    tix_show show;
    if (db == NULL) {
        return;
    }
    tix_arena *scratch = tix_arena_create(0); /* the show and the backlog; freed below */
    tix_rc rc = tix_show_get(db, scratch, tix_req_param(r, "id"), &show);
    if (rc != TIX_OK) {
        tix_arena_destroy(scratch);
        tix_reply_rc(r, rc);
        return;
    }
    int64_t last = last_seen(r);
    tix_sse_stream *s = NULL;
    if (tix_sse_open(r->app->sse, r->conn, show.id, last, &s) != TIX_OK) {
        tix_arena_destroy(scratch);
        tix_reply_header(r, "Retry-After", "5");
        tix_reply_error(r, 503, "too_many_streams",
                        "this server takes no more event streams now; try again shortly", NULL);
        return;
    }
    tix_bus_backlog b;
    bool known = tix_bus_since(r->app->bus, scratch, show.id, last, &b) == TIX_OK;
    tix_sse_prime(r->app->sse, s, known ? &b : NULL); /* copies what it needs */
    tix_arena_destroy(scratch);
    r->status = 200;
    r->content_type = "text/event-stream; charset=utf-8";
    tix_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    tix_reply_header(r, "X-Accel-Buffering", "no");
    r->stream = s;
}

/* Whether the comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p != NULL && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
            end--;
        }
        if (end == n && strncasecmp(p, token, n) == 0) {
            return true;
        }
        p += len;
    }
    return false;
}

/*
 * GET /ws: the WebSocket handshake (RFC 6455 section 4.2). A request that is not one gets a
 * 400 (or 426 with the version this server speaks); a good one is answered 101 and the server
 * hands the socket to the hub (http/ws.h), which does the rest. Nothing here blocks, so the
 * answer is queued like any other.
 */
void tix_api_ws(tix_req *r)
{
    const char *upgrade = tix_req_header(r, "Upgrade");
    const char *connection = tix_req_header(r, "Connection");
    const char *version = tix_req_header(r, "Sec-WebSocket-Version");
    const char *key = tix_req_header(r, "Sec-WebSocket-Key");
    if (upgrade == NULL || !has_token(upgrade, "websocket") || connection == NULL ||
        !has_token(connection, "upgrade")) {
        tix_reply_header(r, "Upgrade", "websocket");
        tix_reply_error(r, 426, "upgrade_required",
                        "this endpoint speaks WebSocket only (Upgrade: websocket)", NULL);
        return;
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        tix_reply_header(r, "Sec-WebSocket-Version", "13");
        tix_reply_error(r, 426, "upgrade_required", "Sec-WebSocket-Version must be 13", NULL);
        return;
    }
    char *accept = tix_arena_alloc(r->arena, 29);
    if (!tix_ws_accept_key(key, accept)) {
        tix_reply_error(r, 400, "invalid_parameter",
                        "Sec-WebSocket-Key must be the base64 of 16 bytes", NULL);
        return;
    }
    if (r->app->ws == NULL) {
        tix_reply_error(r, 503, "unavailable", "WebSockets are not served here", NULL);
        return;
    }
    r->status = 101;
    r->upgrade = true;
    tix_reply_header(r, "Upgrade", "websocket");
    tix_reply_header(r, "Sec-WebSocket-Accept", accept);
}
