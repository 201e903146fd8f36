/*
 * What the booking core says after a commit, so caches and live streams follow the database:
 *   tix_seats_changed     seats of a show changed status (a hold, a release, a sale, a refund):
 *                         one "seats" event on the bus, which also bumps the show's version
 *                         and so invalidates its cached seat map;
 *   tix_show_changed      a show's time or prices changed: one "show" event on the bus, which
 *                         also bumps the show's version (its cached seat map);
 *   tix_bookings_changed  a user's bookings changed: bumps the user's version (their cached
 *                         GET /bookings);
 *   tix_catalog_changed   the catalogue changed (movies, theatres, halls, shows): bumps the
 *                         catalogue version, which every cached answer carries.
 * Call them after the commit and before answering the client, so the client's next read sees
 * the change. They never fail the caller: when Redis is down the bump is replayed once it is
 * back (cache.h), and the database stays the only authority.
 *
 * The cache and bus are attached once by main.c before serving (and by the CLI's job runner),
 * detached after; with nothing attached these calls do nothing (unit tests, migrations).
 */
#ifndef TIX_BOOKING_SEAT_EVENTS_H
#define TIX_BOOKING_SEAT_EVENTS_H

#include "cache/bus.h"
#include "cache/cache.h"

#include <stdbool.h>
#include <stdint.h>

/* Seat ids (in some arena), as the claims' store functions list them. */
typedef struct tix_seat_ids {
    const char **ids;
    int n;
} tix_seat_ids;

/* Attaches the process's cache and bus (either may be NULL). Not thread-safe: call before
 * serving, and detach (NULL, NULL) after the server and jobs stopped. */
void tix_seat_events_attach(tix_cache *cache, tix_bus *bus);

/* n seats of show_id are now status ("available", "held" or "booked"); expires_at (ms, 0 for
 * none) is when held seats become available again by themselves. */
void tix_seats_changed(const char *show_id, const char *const *seat_ids, int n, const char *status,
                       int64_t expires_at);
/* Show show_id's time or prices changed (PATCH /shows/{id}): one "show" event on the bus
 * (data: show_id, starts_at, ends_at, prices_changed), which also bumps the show's version and
 * so invalidates its cached seat map on every server, and reaches its SSE streams. */
void tix_show_changed(const char *show_id, int64_t starts_at, int64_t ends_at, bool prices_changed);
void tix_bookings_changed(const char *user_id);
/* A user's own event (booking_confirmed, booking_cancelled, refund_processed, show_cancelled;
 * hold_expiring and hold_expired from the expire job, jobs/lifecycle.c; show_rescheduled from
 * a move, catalog/show_change.c)
 * with data (JSON text of one object): published on the bus under the key "user:<user_id>",
 * so it reaches that user's WebSockets on every server (http/ws.h) with a per-user id; the
 * bus bumps that key's counter, which no cached answer reads. */
void tix_user_event(const char *user_id, const char *name, const char *data);
/* tix_user_event with data {"booking_id","show_id","status"} (and "refund_id" when given). */
void tix_booking_event_notify(const char *user_id, const char *name, const char *booking_id,
                              const char *show_id, const char *status, const char *refund_id);
void tix_catalog_changed(void);

/* The JSON data of a "seats" event, malloc'd (the caller frees); NULL when out of memory. */
char *tix_seat_event_json(const char *show_id, const char *const *seat_ids, int n,
                          const char *status, int64_t expires_at);

#endif
