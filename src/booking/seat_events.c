/* Change notices after commits (see seat_events.h). */
#include "booking/seat_events.h"

#include "core/log.h"
#include "core/util.h"

#include <jansson.h>
#include <stdlib.h>

static tix_cache *the_cache;
static tix_bus *the_bus;

void tix_seat_events_attach(tix_cache *cache, tix_bus *bus)
{
    the_cache = cache;
    the_bus = bus;
}

char *tix_seat_event_json(const char *show_id, const char *const *seat_ids, int n,
                          const char *status, int64_t expires_at)
{
    json_t *ids = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(ids, json_string(seat_ids[i]));
    }
    json_t *j = json_pack("{s:s,s:o,s:s}", "show_id", show_id, "seats", ids, "status", status);
    if (j != NULL && expires_at > 0) {
        char t[TIX_RFC3339_MAX];
        tix_rfc3339(t, expires_at);
        json_object_set_new(j, "expires_at", json_string(t));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

void tix_seats_changed(const char *show_id, const char *const *seat_ids, int n, const char *status,
                       int64_t expires_at)
{
    if (the_bus == NULL || n <= 0) {
        return;
    }
    char *data = tix_seat_event_json(show_id, seat_ids, n, status, expires_at);
    if (data == NULL) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    tix_bus_event ev = {.show_id = show_id, .name = "seats", .data = data};
    int64_t id = 0;
    if (tix_bus_publish(the_bus, a, &ev, &id) != TIX_OK) {
        tix_log_debug("seat event of show %s not published (the bus is down)", show_id);
    }
    tix_arena_destroy(a);
    free(data);
}

void tix_show_changed(const char *show_id, int64_t starts_at, int64_t ends_at, bool prices_changed)
{
    if (the_bus == NULL) {
        return;
    }
    char s[TIX_RFC3339_MAX];
    char e[TIX_RFC3339_MAX];
    tix_rfc3339(s, starts_at);
    tix_rfc3339(e, ends_at);
    json_t *j = json_pack("{s:s,s:s,s:s,s:b}", "show_id", show_id, "starts_at", s, "ends_at", e,
                          "prices_changed", prices_changed);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (data == NULL) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    tix_bus_event ev = {.show_id = show_id, .name = "show", .data = data};
    int64_t id = 0;
    if (tix_bus_publish(the_bus, a, &ev, &id) != TIX_OK) {
        tix_log_debug("show event of show %s not published (the bus is down)", show_id);
    }
    tix_arena_destroy(a);
    free(data);
}

void tix_user_event(const char *user_id, const char *name, const char *data)
{
    if (the_bus == NULL || user_id == NULL || data == NULL) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    const char *key = tix_arena_sprintf(a, "user:%s", user_id);
    tix_bus_event ev = {.show_id = key, .name = name, .data = data};
    int64_t id = 0;
    if (tix_bus_publish(the_bus, a, &ev, &id) != TIX_OK) {
        tix_log_debug("user event %s of %s not published (the bus is down)", name, user_id);
    }
    tix_arena_destroy(a);
}

void tix_booking_event_notify(const char *user_id, const char *name, const char *booking_id,
                              const char *show_id, const char *status, const char *refund_id)
{
    if (the_bus == NULL) {
        return;
    }
    json_t *j =
        json_pack("{s:s,s:s,s:s}", "booking_id", booking_id, "show_id", show_id, "status", status);
    if (j != NULL && refund_id != NULL) {
        json_object_set_new(j, "refund_id", json_string(refund_id));
    }
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    tix_user_event(user_id, name, data);
    free(data);
}

static void bump(const char *key)
{
    if (tix_cache_bump(the_cache, key, NULL) != TIX_OK) {
        tix_log_debug("cache: bump of %s deferred until the cache answers", key);
    }
}

void tix_bookings_changed(const char *user_id)
{
    if (the_cache == NULL || user_id == NULL) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    bump(tix_cache_key_user(the_cache, a, user_id, "ver"));
    tix_arena_destroy(a);
}

void tix_catalog_changed(void)
{
    if (the_cache == NULL) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    bump(tix_cache_key_catalog(the_cache, a, "ver"));
    tix_arena_destroy(a);
}
