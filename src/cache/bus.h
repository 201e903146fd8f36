/*
 * The event bus: every change of a show's seats becomes one event with a per-show sequence
 * number, kept in a short backlog for Last-Event-ID and delivered to every subscribed server.
 * Two implementations behind one interface, like the cache: Redis (bus_redis.c: one Lua script
 * bumps the show's version counter, appends to the backlog and PUBLISHes on one channel; one
 * subscriber thread per process) and in-process (bus.c).
 *
 * The sequence number IS the show's version counter "<prefix>:{show:ID}:ver" that validates
 * cached seat maps, so publishing an event is what invalidates them; ids are contiguous per
 * show, and a counter that was lost starts again from the clock (never repeating old ids).
 *
 * Delivery: the sink given at creation is called for every event of every show, on the bus's
 * thread (Redis) or the publisher's (in-process); show_id NULL means "events may have been
 * lost (the subscription was down): every stream should refetch". The sink must not block.
 */
#ifndef TIX_CACHE_BUS_H
#define TIX_CACHE_BUS_H

#include "cache/cache.h"

typedef struct tix_bus tix_bus;

typedef struct tix_bus_event {
    const char *show_id;
    int64_t id;
    const char *name; /* "seats" or "refetch" */
    const char *data; /* JSON text, one line */
} tix_bus_event;

typedef void (*tix_bus_sink)(void *ctx, const tix_bus_event *ev);

/* What a stream resuming after `after` needs (tix_bus_since). */
typedef struct tix_bus_backlog {
    int64_t current;       /* the show's latest id (created from the clock when it had none) */
    bool gap;              /* events after `after` are no longer all kept: refetch */
    tix_bus_event *events; /* those after `after`, oldest first (in the arena) */
    int n;
} tix_bus_backlog;

typedef struct tix_bus_ops {
    tix_rc (*publish)(tix_bus *b, tix_arena *a, const tix_bus_event *ev, int64_t *id);
    tix_rc (*since)(tix_bus *b, tix_arena *a, const char *show_id, int64_t after,
                    tix_bus_backlog *out);
    void (*destroy)(tix_bus *b);
} tix_bus_ops;

struct tix_bus {
    const tix_bus_ops *ops;
    tix_cache *cache;
    tix_bus_sink sink;
    void *sink_ctx;
    int backlog;            /* EVENT_BACKLOG: events kept per show */
    int64_t backlog_ttl_ms; /* a show's backlog goes this long after its last event */
};

/* The bus is made by cache/factory.h (matching the cache) or cache/backends.h. Free it with
 * destroy (after the server stopped); NULL does nothing. */
void tix_bus_destroy(tix_bus *b);

/* Publishes ev (ev->id is ignored) and bumps the show's version. OUT: *id its sequence
 * number. TIX_EUNAVAIL when Redis is down: the version bump is then replayed when it is back,
 * and the event is delivered to this process's streams only, as a refetch. */
TIX_MUSTCHECK tix_rc tix_bus_publish(tix_bus *b, tix_arena *a, const tix_bus_event *ev,
                                     int64_t *id);
/* The backlog of show_id after `after` (0: none wanted, just the current id). */
TIX_MUSTCHECK tix_rc tix_bus_since(tix_bus *b, tix_arena *a, const char *show_id, int64_t after,
                                   tix_bus_backlog *out);

/* "<id> <name> <data>", the form kept in the backlog: parses it into ev (pointing into s,
 * which is modified). false when malformed. */
bool tix_bus_entry_parse(char *s, const char *show_id, tix_bus_event *ev);
/* Fills out from entries (oldest first) for a stream that saw `after`. */
void tix_bus_backlog_fill(tix_arena *a, int64_t current, int64_t after, tix_bus_event *entries,
                          int n, tix_bus_backlog *out);

#endif
