/*
 * Server-Sent Events without a thread per client (GET /shows/{id}/events).
 *
 * A stream is an MHD response of unknown size whose content callback (tix_sse_read) copies
 * out whatever text the stream has buffered; with nothing buffered it suspends the connection
 * and returns 0, so an idle stream costs no thread and no polling, only its connection and a
 * small struct. The hub (one per process) keeps the streams per show (a channel registry,
 * http/channels.h, which also holds the resume rule shared with WebSockets); the bus's sink
 * (tix_sse_deliver) appends each event to the streams of its show and resumes the suspended
 * ones. A heartbeat thread appends ": ping" to every stream each SSE_HEARTBEAT, which also
 * finds clients that went away (a suspended connection notices nothing until a write fails).
 *
 * Locking: one hub mutex guards the hub and every stream's buffer and flags; MHD is called
 * (suspend, resume) with it held, never the other way round. A stream is freed by MHD's
 * response-free callback (tix_sse_free), which unlinks it under the mutex first.
 *
 * Stopping: tix_sse_shutdown ends every stream (their requests complete normally) and refuses
 * new ones; the server calls it before draining, so long-lived streams never hold the drain up.
 */
#ifndef TIX_HTTP_SSE_H
#define TIX_HTTP_SSE_H

#include "cache/bus.h"
#include "core/config.h"
#include "core/rc.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct tix_sse_hub tix_sse_hub;
typedef struct tix_sse_stream tix_sse_stream;

/* The hub and its heartbeat thread. Free with destroy after the server has stopped. */
TIX_MUSTCHECK tix_rc tix_sse_hub_create(const tix_config *cfg, tix_sse_hub **out);
void tix_sse_hub_destroy(tix_sse_hub *h);
/* The bus sink (ctx is the hub). */
void tix_sse_deliver(void *ctx, const tix_bus_event *ev);
/* Ends every stream and refuses new ones. NULL does nothing. */
void tix_sse_shutdown(tix_sse_hub *h);
/* Streams open now. */
long tix_sse_count(tix_sse_hub *h);

/* Registers a stream of show_id for the connection conn (struct MHD_Connection *) of a client
 * that last saw event last_id (0: none). Events published from now on are held back until
 * tix_sse_prime. TIX_EUNAVAIL when shutting down or at SSE_MAX_STREAMS. */
TIX_MUSTCHECK tix_rc tix_sse_open(tix_sse_hub *h, void *conn, const char *show_id, int64_t last_id,
                                  tix_sse_stream **out);
/* Writes the stream's start: the backlog after last_id (b NULL: the bus could not say), or a
 * "refetch" when the backlog no longer reaches back that far, or a "ready" event for a new
 * client; then the events held back meanwhile. */
void tix_sse_prime(tix_sse_hub *h, tix_sse_stream *s, const tix_bus_backlog *b);

/* The MHD content-reader and free callbacks of a stream's response (cls is the stream). */
ssize_t tix_sse_read(void *cls, uint64_t pos, char *buf, size_t max);
void tix_sse_free(void *cls);

#endif
