/*
 * Channels: who is subscribed to which live events, and how a subscriber resumes after the
 * last event it saw. One module for both live transports: the SSE streams (http/sse.c, one
 * subscriber a stream) and the WebSockets (http/ws_proto.c, one subscriber a subscribed
 * channel of a socket). The transports format and send; this module decides what is sent.
 *
 * Names. A channel is keyed by the bus's show_id (cache/bus.h): a show's id, or "user:<id>"
 * for a user's own events (booking/seat_events.h). A registry (tix_chan_reg) maps keys to
 * channels in a bucketed hash; a channel lists its subscribers (tix_chan_sub), newest first.
 *
 * A subscriber's life (every step with the owner's hub mutex held, see Threads):
 *   tix_chan_start(r, s, key, last_id)  links s into key's channel (made on first use) and
 *       starts PRIMING: a live event given to s meanwhile (tix_chan_give) is held back (its
 *       text copied), at most TIX_CHAN_HELD_MAX of them.
 *   The owner reads the backlog after last_id (tix_bus_since, without the mutex: it may
 *       block), takes the mutex again and asks tix_chan_resume what to write first:
 *         TIX_CHAN_FRESH        last_id 0: a new client, nothing to replay ("ready");
 *         TIX_CHAN_REPLAY       resuming: b->events are exactly the ones after last_id;
 *         TIX_CHAN_EXPIRED      resuming, but the backlog no longer reaches back that far:
 *                               one refetch "backlog_expired" instead;
 *         TIX_CHAN_UNAVAILABLE  resuming, and the bus could not say (b NULL): one refetch
 *                               "events_unavailable".
 *       It writes that, then calls
 *   tix_chan_primed(r, s, b)  ends priming: last_id becomes the show's current id (unless the
 *       client is ahead of it, or b is NULL: then it stays), then the held-back events newer
 *       than last_id go out in order (ops->send), or, when TIX_CHAN_HELD_MAX were held back
 *       (some may be lost), one ops->refetch "events_lost" in their place.
 *   tix_chan_give(r, s, id, text, n)  from then on sends each event whose id is above
 *       last_id and moves last_id up to it; an id at or below last_id was already sent (from
 *       the backlog) and is skipped; id 0 (an unnumbered event, e.g. a refetch) always goes.
 *   tix_chan_stop(r, s)  unlinks s and frees what it held back; the channel goes with its
 *       last subscriber.
 * Ids are the bus's per-show sequence numbers: the same on SSE and WebSocket, and the same a
 * resume names (SSE's Last-Event-ID, the WebSocket subscribe's last_event_id).
 *
 * Memory. The registry is embedded in its owner's hub (init/close: no allocation of its own).
 * A subscriber is embedded in the owner's struct (an SSE stream, a WebSocket subscription):
 * the registry never allocates or frees one, and the owner frees it only after tix_chan_stop.
 * The registry owns and allocates the channels (each with a copy of its key) and the
 * held-back events (each with a copy of its text); a channel is freed by the tix_chan_stop of
 * its last subscriber, held events by tix_chan_primed and tix_chan_stop. Texts passed in are
 * borrowed for the call. Out of memory: tix_chan_start fails (TIX_ENOMEM, nothing linked); an
 * event that cannot be held back counts as an overflow (the client gets "events_lost").
 *
 * Threads and locks. The registry has no lock and no thread: every tix_chan_* call on a
 * registry must hold the one mutex of the hub that embeds it (sse.c's and ws.c's hub->mu; the
 * two hubs have separate registries and share no lock). The ops callbacks run inside those
 * calls, on the caller's thread, with that mutex held; they must not call back into the
 * registry, and ops->send must not stop (free) the subscriber it is given: an owner that has
 * to drop a client on a failed send marks it and drops it after the call.
 *
 * Invariants (assert()ed in the debug and ASan builds):
 *   - a channel in the table has at least one subscriber and the only one with its key;
 *   - a started subscriber's chan is its channel, and it is in that channel's list once;
 *     a stopped (or never started) one has chan NULL;
 *   - a subscriber that is not priming holds no events; nheld <= TIX_CHAN_HELD_MAX;
 *   - nchans and nsubs count the channels and started subscribers; close finds both 0.
 */
#ifndef TIX_HTTP_CHANNELS_H
#define TIX_HTTP_CHANNELS_H

#include "cache/bus.h"
#include "core/rc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_CHAN_BUCKETS  1024
#define TIX_CHAN_HELD_MAX 256 /* events held back while priming; this many: "events_lost" */

typedef struct tix_chan tix_chan;
typedef struct tix_chan_held tix_chan_held;
typedef struct tix_chan_sub tix_chan_sub;

/* What the owner does for the registry (ctx-free: the owner finds its struct from s, which it
 * embeds). Both are called with the hub mutex held. */
typedef struct tix_chan_ops {
    /* Send one formatted event (text, n bytes, NUL-terminated; borrowed) to s's client now. */
    void (*send)(tix_chan_sub *s, const char *text, size_t n);
    /* Send s's client one refetch event, reason one of the words above. */
    void (*refetch)(tix_chan_sub *s, const char *reason);
} tix_chan_ops;

/* One client's membership of one channel; embed it in the owner's struct. The fields are the
 * registry's: the owner reads them (last_id, priming, next to walk a channel) but changes none. */
struct tix_chan_sub {
    tix_chan_sub *prev, *next; /* the channel's subscribers */
    tix_chan *chan;            /* NULL when not started */
    int64_t last_id;           /* the last id the client has (sent, or named by it) */
    bool priming;              /* between tix_chan_start and tix_chan_primed */
    int nheld;
    tix_chan_held *held_head, *held_tail; /* held back while priming, oldest first */
};

typedef struct tix_chan_reg {
    const tix_chan_ops *ops;
    tix_chan *buckets[TIX_CHAN_BUCKETS];
    long nchans, nsubs;
} tix_chan_reg;

typedef enum tix_chan_start_kind {
    TIX_CHAN_FRESH,
    TIX_CHAN_REPLAY,
    TIX_CHAN_EXPIRED,
    TIX_CHAN_UNAVAILABLE,
} tix_chan_start_kind;

/* An empty registry whose subscribers are served by ops (static, outlives the registry). */
void tix_chan_init(tix_chan_reg *r, const tix_chan_ops *ops);
/* Ends an empty registry (every subscriber stopped). */
void tix_chan_close(tix_chan_reg *r);

/* Links s (not started; the owner zeroed it) into key's channel, priming, having seen last_id
 * (0: none). TIX_ENOMEM when the channel could not be made: s stays unlinked. */
TIX_MUSTCHECK tix_rc tix_chan_start(tix_chan_reg *r, tix_chan_sub *s, const char *key,
                                    int64_t last_id);
/* Unlinks a started s and frees its held-back events; s itself stays the owner's. */
void tix_chan_stop(tix_chan_reg *r, tix_chan_sub *s);

/* What a priming s writes first, given the backlog after its last_id (NULL: unknown). */
tix_chan_start_kind tix_chan_resume(const tix_chan_sub *s, const tix_bus_backlog *b);
/* Ends s's priming (see above): last_id from b, then the held-back events or "events_lost". */
void tix_chan_primed(tix_chan_reg *r, tix_chan_sub *s, const tix_bus_backlog *b);

/* One event for s: held back while priming, skipped when id <= last_id (id > 0), else sent. */
void tix_chan_give(tix_chan_reg *r, tix_chan_sub *s, int64_t id, const char *text, size_t n);

/* The newest subscriber of key's channel (walk on with ->next), NULL when it has none. */
tix_chan_sub *tix_chan_first(tix_chan_reg *r, const char *key);
/* Calls fn for every started subscriber (bucket by bucket, newest first); fn must not start or
 * stop subscribers. */
void tix_chan_each(tix_chan_reg *r, void (*fn)(tix_chan_sub *s, void *ctx), void *ctx);
/* The key of a started s's channel. */
const char *tix_chan_key(const tix_chan_sub *s);

#endif
