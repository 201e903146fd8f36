/*
 * The bus's public face (see bus.h) and its in-process implementation (REDIS_URL unset): per
 * show, a ring of the last EVENT_BACKLOG events; the version counter lives in the in-process
 * cache (so the seat-map cache sees it). Publishing bumps the counter, appends to the ring and
 * calls the sink, all under one mutex, so the sink sees every show's events in id order.
 * Rings idle longer than the backlog's lifetime are swept once a minute.
 */
#include "cache/bus.h"

#include "cache/backends.h"
#include "core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_BUCKETS 1024
#define SWEEP_MS     60000

void tix_bus_destroy(tix_bus *b)
{
    if (b != NULL) {
        b->ops->destroy(b);
    }
}

tix_rc tix_bus_publish(tix_bus *b, tix_arena *a, const tix_bus_event *ev, int64_t *id)
{
    int64_t v = 0;
    tix_rc rc = b ? b->ops->publish(b, a, ev, &v) : TIX_EUNAVAIL;
    if (id != NULL) {
        *id = v;
    }
    return rc;
}

tix_rc tix_bus_since(tix_bus *b, tix_arena *a, const char *show_id, int64_t after,
                     tix_bus_backlog *out)
{
    memset(out, 0, sizeof(*out));
    return b ? b->ops->since(b, a, show_id, after, out) : TIX_EUNAVAIL;
}

bool tix_bus_entry_parse(char *s, const char *show_id, tix_bus_event *ev)
{
    char *sp1 = strchr(s, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp2 == NULL) {
        return false;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    int64_t id = 0;
    if (!tix_parse_int(s, 1, INT64_MAX, &id)) {
        return false;
    }
    *ev = (tix_bus_event){.show_id = show_id, .id = id, .name = sp1 + 1, .data = sp2 + 1};
    return true;
}

void tix_bus_backlog_fill(tix_arena *a, int64_t current, int64_t after, tix_bus_event *entries,
                          int n, tix_bus_backlog *out)
{
    *out = (tix_bus_backlog){.current = current};
    if (after <= 0 || after == current) {
        return;
    }
    int first = 0;
    while (first < n && entries[first].id <= after) {
        first++;
    }
    /* Every id from after + 1 to current must be there, in order. */
    bool whole = after < current && first < n && entries[first].id == after + 1 &&
                 entries[n - 1].id == current &&
                 entries[n - 1].id - entries[first].id == n - 1 - first;
    if (!whole) {
        out->gap = true;
        return;
    }
    out->n = n - first;
    out->events = tix_arena_alloc(a, sizeof(tix_bus_event) * (size_t)out->n);
    memcpy(out->events, entries + first, sizeof(tix_bus_event) * (size_t)out->n);
}

/* ---- in-process ---- */

typedef struct ring {
    struct ring *next;
    char *show_id;
    char **items; /* backlog slots, malloc'd "<id> <name> <data>" strings */
    int head;     /* the oldest */
    int count;
    int64_t last_ms;
} ring;

typedef struct local_bus {
    tix_bus base;
    pthread_mutex_t mu;
    ring *buckets[RING_BUCKETS];
    int64_t sweep_at;
} local_bus;

static size_t bucket_of(const char *s)
{
    return (size_t)(tix_fnv1a_str(s) % RING_BUCKETS);
}

static void ring_free(ring *r, int cap)
{
    for (int i = 0; i < cap; i++) {
        free(r->items[i]);
    }
    free(r->items);
    free(r->show_id);
    free(r);
}

static ring *ring_get(local_bus *lb, const char *show_id, bool create)
{
    ring **p = &lb->buckets[bucket_of(show_id)];
    while (*p != NULL && strcmp((*p)->show_id, show_id) != 0) {
        p = &(*p)->next;
    }
    if (*p != NULL || !create) {
        return *p;
    }
    ring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->items = calloc((size_t)lb->base.backlog, sizeof(char *));
    r->show_id = strdup(show_id);
    if (r->items == NULL || r->show_id == NULL) {
        free(r->items);
        free(r->show_id);
        free(r);
        return NULL;
    }
    *p = r;
    return r;
}

static void ring_push(ring *r, int cap, char *item, int64_t now)
{
    if (r->count == cap) {
        free(r->items[r->head]);
        r->items[r->head] = item;
        r->head = (r->head + 1) % cap;
    } else {
        r->items[(r->head + r->count) % cap] = item;
        r->count++;
    }
    r->last_ms = now;
}

static void sweep(local_bus *lb, int64_t now)
{
    if (now < lb->sweep_at) {
        return;
    }
    lb->sweep_at = now + SWEEP_MS;
    for (int b = 0; b < RING_BUCKETS; b++) {
        for (ring **p = &lb->buckets[b]; *p != NULL;) {
            ring *r = *p;
            if (now - r->last_ms > lb->base.backlog_ttl_ms) {
                *p = r->next;
                ring_free(r, lb->base.backlog);
            } else {
                p = &r->next;
            }
        }
    }
}

static tix_rc local_publish(tix_bus *b, tix_arena *a, const tix_bus_event *ev, int64_t *id)
{
    local_bus *lb = (local_bus *)b;
    const char *key = tix_cache_key_show(b->cache, a, ev->show_id, "ver");
    int64_t v = 0;
    int64_t now = tix_now_ms();
    pthread_mutex_lock(&lb->mu);
    tix_rc rc = b->cache->ops->bump(b->cache, key, now, TIX_CACHE_VERSION_TTL_MS, &v);
    ring *r = rc == TIX_OK ? ring_get(lb, ev->show_id, true) : NULL;
    char *item = NULL;
    if (r != NULL) {
        size_t len = strlen(ev->name) + strlen(ev->data) + 24;
        item = malloc(len);
        if (item != NULL) {
            snprintf(item, len, "%" PRId64 " %s %s", v, ev->name, ev->data);
            ring_push(r, b->backlog, item, now);
        }
    }
    if (rc == TIX_OK) {
        tix_bus_event out = *ev;
        out.id = v;
        b->sink(b->sink_ctx, &out);
    }
    sweep(lb, now);
    pthread_mutex_unlock(&lb->mu);
    *id = v;
    return rc;
}

/* The show's counter, created from the clock when it has none. Called with mu held. */
static int64_t current_of(tix_bus *b, tix_arena *a, const char *key)
{
    char *val = NULL;
    size_t len = 0;
    int64_t v = 0;
    if (b->cache->ops->get(b->cache, a, &key, 1, &val, &len) == TIX_OK && val != NULL &&
        tix_parse_int(val, 0, INT64_MAX, &v)) {
        return v;
    }
    v = tix_now_ms();
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    (void)b->cache->ops->set(b->cache, key, num, (size_t)n, TIX_CACHE_VERSION_TTL_MS,
                             TIX_CACHE_NX | TIX_CACHE_PIN);
    return v;
}

static tix_rc local_since(tix_bus *b, tix_arena *a, const char *show_id, int64_t after,
                          tix_bus_backlog *out)
{
    local_bus *lb = (local_bus *)b;
    const char *key = tix_cache_key_show(b->cache, a, show_id, "ver");
    pthread_mutex_lock(&lb->mu);
    int64_t current = current_of(b, a, key);
    ring *r = ring_get(lb, show_id, false);
    int n = r ? r->count : 0;
    tix_bus_event *entries = tix_arena_calloc(a, sizeof(*entries) * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; i < n; i++) {
        char *copy = tix_arena_strdup(a, r->items[(r->head + i) % b->backlog]);
        if (tix_bus_entry_parse(copy, show_id, &entries[k])) {
            k++;
        }
    }
    pthread_mutex_unlock(&lb->mu);
    tix_bus_backlog_fill(a, current, after, entries, k, out);
    return TIX_OK;
}

static void local_destroy(tix_bus *b)
{
    local_bus *lb = (local_bus *)b;
    for (int i = 0; i < RING_BUCKETS; i++) {
        for (ring *r = lb->buckets[i], *next = NULL; r != NULL; r = next) {
            next = r->next;
            ring_free(r, b->backlog);
        }
    }
    pthread_mutex_destroy(&lb->mu);
    free(lb);
}

static const tix_bus_ops local_ops = {local_publish, local_since, local_destroy};

tix_rc tix_bus_local_create(tix_cache *cache, const tix_config *cfg, tix_bus_sink sink,
                            void *sink_ctx, tix_bus **out)
{
    local_bus *lb = calloc(1, sizeof(*lb));
    if (lb == NULL) {
        return TIX_ENOMEM;
    }
    lb->base =
        (tix_bus){&local_ops, cache, sink, sink_ctx, cfg->event_backlog, cfg->event_backlog_ttl_ms};
    pthread_mutex_init(&lb->mu, NULL);
    *out = &lb->base;
    return TIX_OK;
}
