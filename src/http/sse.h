/*
 * Server-Sent Events without a thread per client (GET /shows/{id}/events).
 *
 * A stream leaves libmicrohttpd once its answer is decided: the server (http/server_request.c)
 * writes nothing through MHD, dup()s the connection's descriptor, lets MHD forget the
 * connection (the daemon runs with MHD_USE_TURBO, so MHD's close sends no FIN: server.c), and
 * hands the descriptor to the hub with the answer's HTTP head (tix_sse_attach). From there the
 * hub's one loop thread owns the socket: an epoll set of every stream's descriptor, which also
 * carries the heartbeats (a tix_sockloop, http/sockloop.h, as the WebSocket hub's). So an idle
 * stream costs no MHD connection and no memory pool, only its small struct (below), its channel
 * entry and the deferred access-log record: its buffers are freed whenever everything is sent
 * ("parking", as the WebSocket hub does; sse.c).
 *
 * The hub (one per process) keeps the streams per show (a channel registry, http/channels.h,
 * which also holds the resume rule shared with WebSockets); the bus's sink (tix_sse_deliver)
 * appends each event to the streams of its show and sends it at once (what the socket does not
 * take waits for EPOLLOUT). Every SSE_HEARTBEAT the loop appends ": ping" to every stream, which
 * also finds clients that went away without a FIN or a reset (a write to them fails in the end).
 *
 * Caps: SSE_MAX_STREAMS streams at most, and PER_IP_CONNECTIONS (when set) from one peer
 * address (the socket's, as MHD counts it: behind nginx every stream has nginx's address):
 * streams no longer count against MHD's own connection caps once out of it.
 *
 * Locking: one hub mutex guards the hub and every stream (buffers, flags, descriptor). A stream
 * that fails is dropped at once (out of the epoll set and its channel, descriptor closed) but
 * freed only by the loop thread, after its batch of epoll events (the "graves" list).
 *
 * Stopping: tix_sse_shutdown ends every stream (the terminating chunk, then the socket closes
 * once it is all out) and refuses new ones; the server calls it before draining, so long-lived
 * streams never hold the drain up. tix_sse_hub_destroy closes what is left.
 */
#ifndef TIX_HTTP_SSE_H
#define TIX_HTTP_SSE_H

#include "cache/bus.h"
#include "core/config.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tix_sse_hub tix_sse_hub;
typedef struct tix_sse_stream tix_sse_stream;

/* Called once when an attached stream ends (on the hub's loop thread, or the caller of
 * tix_sse_attach when attaching fails): bytes_out sent after the head, aborted when the
 * client went away or a write failed (not when the server ended it). cls is the caller's. */
typedef void (*tix_sse_end_fn)(void *cls, uint64_t bytes_out, bool aborted);

/* The hub and its loop thread. Free with destroy after the server has stopped. */
TIX_MUSTCHECK tix_rc tix_sse_hub_create(const tix_config *cfg, tix_sse_hub **out);
void tix_sse_hub_destroy(tix_sse_hub *h);
/* The bus sink (ctx is the hub). */
void tix_sse_deliver(void *ctx, const tix_bus_event *ev);
/* Ends every stream and refuses new ones. NULL does nothing. */
void tix_sse_shutdown(tix_sse_hub *h);
/* Streams open now. */
long tix_sse_count(tix_sse_hub *h);

/* Registers a stream of show_id for the connection conn (struct MHD_Connection *: its peer
 * address counts against the per-IP cap) of a client that last saw event last_id (0: none).
 * Events published from now on are held back until tix_sse_prime. TIX_EUNAVAIL when shutting
 * down, at SSE_MAX_STREAMS or at PER_IP_CONNECTIONS streams from that address. */
TIX_MUSTCHECK tix_rc tix_sse_open(tix_sse_hub *h, void *conn, const char *show_id, int64_t last_id,
                                  tix_sse_stream **out);
/* Writes the stream's start: the backlog after last_id (b NULL: the bus could not say), or a
 * "refetch" when the backlog no longer reaches back that far, or a "ready" event for a new
 * client; then the events held back meanwhile. */
void tix_sse_prime(tix_sse_hub *h, tix_sse_stream *s, const tix_bus_backlog *b);

/* Gives the stream its socket: fd (a descriptor of ours; the hub owns it from here on, also on
 * failure), head (the answer's status line and headers, n bytes, copied) goes out first, then
 * the events, chunked (HTTP/1.1) or close-delimited (chunked false: HTTP/1.0). done(done_cls,…)
 * runs once when the stream ends. TIX_ENOMEM/TIX_EUNAVAIL when the socket could not be taken
 * (then done has already run, and the stream is gone). */
TIX_MUSTCHECK tix_rc tix_sse_attach(tix_sse_stream *s, int fd, const char *head, size_t n,
                                    bool chunked, tix_sse_end_fn done, void *done_cls);
/* Ends a stream that never got its socket (the request failed before the answer). */
void tix_sse_discard(void *s);

#endif
