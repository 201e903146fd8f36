/*
 * WebSocket notifications (GET /ws, RFC 6455) without a thread per socket.
 *
 * The handshake is an ordinary request: the handler (api/events_api.c) checks the Upgrade
 * headers and answers 101 with Sec-WebSocket-Accept (tix_ws_accept_key); the server then makes
 * the answer an MHD upgrade response, and MHD hands the socket over to tix_ws_on_upgrade. From
 * there on the hub owns the socket: one event-loop thread drives every socket with epoll, and
 * libwslay does all the framing (masking, fragmentation, ping/pong, close handshake, UTF-8 of
 * text messages, the size limit): no frame is parsed here.
 *
 * Protocol (JSON text messages; API.md "Real time for people"):
 *   client → {"type":"auth","access_token":"…","last_event_id":N}   optional, and only as the
 *                                                        first message (N optional: the user
 *                                                        channel's last id, to resume)
 *            {"type":"subscribe","channel":"show:<id>","last_event_id":N}   (N optional)
 *            {"type":"unsubscribe","channel":"show:<id>"}
 *   server → {"type":"ready","user_id":"…","last_event_id":N|null}   after auth (after the
 *                                                        user channel's replayed events)
 *            {"type":"ready","user_id":null}           or after the first subscribe
 *            {"type":"subscribed","channel":"show:<id>","last_event_id":N}
 *            {"type":"unsubscribed","channel":"show:<id>"}
 *            {"type":"event","channel":"show:<id>"|"user","id":N,"event":"seats",…,"data":{…}}
 *            {"type":"error","code":"…","message":"…"}   (a bad message; the socket stays)
 * Show channels carry the SSE stream's events with the same ids (the bus's per-show sequence):
 * a subscribe with last_event_id gets the backlog after it, or one "refetch" event when the
 * backlog no longer reaches back that far. The user channel ("user:<id>" on the bus,
 * booking/seat_events.h tix_user_event) is joined by itself after auth and resumes the same
 * way from the auth message's last_event_id (its ids are the bus's per-user sequence, kept in
 * the same backlog as a show's): the missed events, or one refetch event {"reason":…}, then
 * "ready" naming the id the client has now.
 *
 * Close codes: 1000 normal, 1001 server shutting down, 1002 bad frame, 1007 text not UTF-8,
 * 1008 no first message within WS_FIRST_MS or a second auth, 1009 a message over
 * WS_MAX_MESSAGE, 1011 the token could not be checked (database down), 1013 the server takes no
 * more sockets, 4401 invalid or revoked token (reason "invalid_token"/"token_revoked").
 *
 * Languages (core/i18n.h, as REST errors): the socket's language is the best supported one of
 * the handshake's Accept-Language; when that names none, the user's saved locale applies from
 * a successful auth on (before it, and for anonymous sockets: English). Error messages' and
 * close reasons' texts are in it; codes (an error's "code", a close code, and the 4401
 * reasons, which are code words) never change. A close reason fits WS_MAX_REASON bytes of
 * UTF-8 (Hindi and Tamil take 3 bytes a letter): the reasons are kept short, and one whose
 * translation would not fit goes out in English.
 *
 * Bounds: a socket's send queue (wslay's queued bytes) over WS_MAX_QUEUE drops the client at
 * once (a slow reader is never buffered for without bound); the kernel send buffer is set small
 * for the same reason. A socket silent for WS_IDLE_MS (it answers our pings, so only a dead
 * peer is silent) is dropped. Subscriptions per socket are bounded by WS_MAX_SUBS.
 *
 * Memory: an idle socket costs about 1.1 KiB (its record, subscriptions and channel entries;
 * 5,000 idle sockets take 21.4 MiB RSS, bench/ws_memory.py): MHD's connection is given back at
 * the upgrade and libwslay's 8.6 KiB context is freed while the socket is idle ("parking",
 * ws.c), made again for the next frame in or out.
 *
 * Threads and locking: one hub mutex guards everything (sockets, wslay contexts, channels); the
 * loop thread, the bus's sink (tix_ws_deliver) and the two job threads (auth and subscribe, which
 * may block on the database or Redis) take it. Sockets are only freed by the loop thread, after
 * the batch of epoll events that might name them.
 *
 * Files: ws.c is the transport (upgrade, wslay, send queue, epoll loop, the hub's life),
 * ws_proto.c the JSON protocol above it (messages, jobs, channels, the bus sink); ws_int.h is
 * their private header. Channels and the resume rule are http/channels.h's, shared with SSE.
 */
#ifndef TIX_HTTP_WS_H
#define TIX_HTTP_WS_H

#include "cache/bus.h"
#include "core/config.h"
#include "core/rc.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#define WS_MAX_MESSAGE ((size_t)64 * 1024)  /* a client message over this: close 1009 */
#define WS_MAX_QUEUE   ((size_t)256 * 1024) /* unsent bytes over this: the client is dropped */
#define WS_MAX_SUBS    16
#define WS_FIRST_MS    10000
#define WS_PING_MS     25000
#define WS_IDLE_MS     (2 * WS_PING_MS + 10000)
#define WS_CODE_AUTH   4401
#define WS_MAX_REASON  123 /* bytes of a close frame's reason (RFC 6455 5.5: 125 with the code) */

typedef struct tix_ws_hub tix_ws_hub;
struct tix_app;

/* The hub, its loop thread and job threads. max: sockets at most (then 1013); per_ip: sockets
 * at most from one peer address (PER_IP_CONNECTIONS; 0 = no limit; then 1013 too); nice: the
 * job threads' (HANDLER_NICE, http/workpool.h). Free with destroy after the server stopped. */
TIX_MUSTCHECK tix_rc tix_ws_hub_create(struct tix_app *app, long max, long per_ip, int nice,
                                       tix_ws_hub **out);
void tix_ws_hub_destroy(tix_ws_hub *h);
/* The bus sink (ctx is the hub). */
void tix_ws_deliver(void *ctx, const tix_bus_event *ev);
/* Closes every socket with 1001, waits at most wait_ms for the close handshakes, then drops
 * what is left, and refuses new sockets. NULL does nothing. */
void tix_ws_shutdown(tix_ws_hub *h, int wait_ms);
/* Sockets open now. */
long tix_ws_count(tix_ws_hub *h);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455's GUID)) into out
 * (29 bytes with the NUL). false when key is not the base64 of 16 bytes. */
bool tix_ws_accept_key(const char *key, char out[29]);

/* MHD's upgrade handler (cls is the hub; the signature is MHD_UpgradeHandler's). */
void tix_ws_on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh);

#endif
