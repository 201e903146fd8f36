/*
 * The in-process cache (REDIS_URL unset): a hash table of byte strings with an expiry each,
 * bounded by CACHE_MAX_BYTES with least-recently-used eviction. Version counters (bump) are
 * never evicted before they expire: losing one early could let a counter start again at a
 * value an old entry was stored under. One mutex guards everything; every operation is a few
 * hundred nanoseconds of work under it.
 *
 * Ownership: the table owns its entries (one malloc each: the struct, then key and value);
 * get copies values into the caller's arena.
 */
#include "cache/backends.h"
#include "cache/cache.h"
#include "core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_BUCKETS 1024

typedef struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    int64_t expires_ms;
    bool pinned; /* a version counter: evicted only once expired */
    size_t klen, vlen;
    char *key; /* points into the same allocation */
    char *val; /* NUL-terminated, in the same allocation */
} entry;

typedef struct local_cache {
    tix_cache base;
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets;
    size_t count;
    size_t bytes;
    size_t max_bytes;
    entry lru; /* sentinel */
} local_cache;

static size_t entry_cost(const entry *e)
{
    return sizeof(*e) + e->klen + e->vlen + 2;
}

static void lru_unlink(entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push_front(local_cache *lc, entry *e)
{
    e->next = lc->lru.next;
    e->prev = &lc->lru;
    lc->lru.next->prev = e;
    lc->lru.next = e;
}

static entry **slot_of(local_cache *lc, const char *key, size_t klen, uint64_t h)
{
    entry **p = &lc->buckets[h & (lc->nbuckets - 1)];
    while (*p != NULL &&
           !((*p)->hash == h && (*p)->klen == klen && memcmp((*p)->key, key, klen) == 0)) {
        p = &(*p)->hnext;
    }
    return p;
}

static void remove_entry(local_cache *lc, entry **slot)
{
    entry *e = *slot;
    *slot = e->hnext;
    lru_unlink(e);
    lc->count--;
    lc->bytes -= entry_cost(e);
    free(e);
}

static void remove_key(local_cache *lc, entry *e)
{
    entry **slot = slot_of(lc, e->key, e->klen, e->hash);
    if (*slot == e) {
        remove_entry(lc, slot);
    }
}

/* Doubles the table when it holds more entries than buckets (allocation failure: stays). */
static void maybe_grow(local_cache *lc)
{
    if (lc->count < lc->nbuckets) {
        return;
    }
    size_t n = lc->nbuckets * 2;
    entry **nb = calloc(n, sizeof(void *)); /* bucket heads */
    if (nb == NULL) {
        return;
    }
    for (size_t i = 0; i < lc->nbuckets; i++) {
        for (entry *e = lc->buckets[i], *next = NULL; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(lc->buckets);
    lc->buckets = nb;
    lc->nbuckets = n;
}

/* Evicts from the cold end until the store fits: expired entries and unpinned ones. */
static void evict(local_cache *lc, int64_t now)
{
    entry *e = lc->lru.prev;
    while (lc->bytes > lc->max_bytes && e != &lc->lru) {
        entry *prev = e->prev;
        if (!e->pinned || e->expires_ms <= now) {
            remove_key(lc, e);
        }
        e = prev;
    }
}

/* The live entry for key (expired ones are removed on the way), or NULL. */
static entry *find(local_cache *lc, const char *key, int64_t now)
{
    size_t klen = strlen(key);
    entry **slot = slot_of(lc, key, klen, tix_fnv1a(key, klen));
    if (*slot != NULL && (*slot)->expires_ms <= now) {
        remove_entry(lc, slot);
        return NULL;
    }
    return *slot;
}

/* Replaces (or adds) key's value. false when out of memory. */
static bool put(local_cache *lc, const char *key, const char *val, size_t vlen, int64_t expires,
                bool pinned)
{
    size_t klen = strlen(key);
    uint64_t h = tix_fnv1a(key, klen);
    entry **slot = slot_of(lc, key, klen, h);
    if (*slot != NULL) {
        remove_entry(lc, slot);
    }
    entry *e = malloc(sizeof(*e) + klen + vlen + 2);
    if (e == NULL) {
        return false;
    }
    *e = (entry){.hash = h, .expires_ms = expires, .pinned = pinned, .klen = klen, .vlen = vlen};
    e->key = (char *)(e + 1);
    e->val = e->key + klen + 1;
    memcpy(e->key, key, klen + 1);
    memcpy(e->val, val, vlen);
    e->val[vlen] = '\0';
    maybe_grow(lc);
    slot = slot_of(lc, key, klen, h);
    e->hnext = *slot;
    *slot = e;
    lru_push_front(lc, e);
    lc->count++;
    lc->bytes += entry_cost(e);
    return true;
}

static tix_rc local_get(tix_cache *c, tix_arena *a, const char *const *keys, int n, char **vals,
                        size_t *lens)
{
    local_cache *lc = (local_cache *)c;
    int64_t now = tix_now_ms();
    pthread_mutex_lock(&lc->mu);
    for (int i = 0; i < n; i++) {
        entry *e = find(lc, keys[i], now);
        vals[i] = NULL;
        lens[i] = 0;
        if (e != NULL) {
            lru_unlink(e);
            lru_push_front(lc, e);
            vals[i] = tix_arena_alloc(a, e->vlen + 1); /* binary-safe copy */
            memcpy(vals[i], e->val, e->vlen + 1);
            lens[i] = e->vlen;
        }
    }
    pthread_mutex_unlock(&lc->mu);
    return TIX_OK;
}

static tix_rc local_set(tix_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms,
                        unsigned flags)
{
    local_cache *lc = (local_cache *)c;
    int64_t now = tix_now_ms();
    bool ok = true;
    pthread_mutex_lock(&lc->mu);
    if (!(flags & TIX_CACHE_NX) || find(lc, key, now) == NULL) {
        ok = put(lc, key, val, len, now + ttl_ms, (flags & TIX_CACHE_PIN) != 0);
        evict(lc, now);
    }
    pthread_mutex_unlock(&lc->mu);
    return ok ? TIX_OK : TIX_ENOMEM;
}

static tix_rc local_bump(tix_cache *c, const char *key, int64_t seed, int64_t ttl_ms, int64_t *out)
{
    local_cache *lc = (local_cache *)c;
    int64_t now = tix_now_ms();
    int64_t v = seed;
    char num[24];
    pthread_mutex_lock(&lc->mu);
    entry *e = find(lc, key, now);
    if (e != NULL) {
        v = strtoll(e->val, NULL, 10);
    }
    v++;
    int len = snprintf(num, sizeof(num), "%" PRId64, v);
    bool ok = put(lc, key, num, (size_t)len, now + ttl_ms, true);
    pthread_mutex_unlock(&lc->mu);
    *out = v;
    return ok ? TIX_OK : TIX_ENOMEM;
}

static tix_rc local_incr(tix_cache *c, int n, const char *const *keys, const int64_t *window_ms,
                         int64_t by, int64_t *counts, int64_t *reset_ms)
{
    (void)c; /* counters live apart from cached answers: LRU eviction must not reset them */
    return tix_cache_incr_local(n, keys, window_ms, by, counts, reset_ms);
}

static void local_status(tix_cache *c, tix_cache_status *out)
{
    local_cache *lc = (local_cache *)c;
    out->backend = "in-process";
    out->up = true;
    pthread_mutex_lock(&lc->mu);
    out->bytes = lc->bytes;
    pthread_mutex_unlock(&lc->mu);
}

static void local_destroy(tix_cache *c)
{
    local_cache *lc = (local_cache *)c;
    for (size_t i = 0; i < lc->nbuckets; i++) {
        for (entry *e = lc->buckets[i], *next = NULL; e != NULL; e = next) {
            next = e->hnext;
            free(e);
        }
    }
    free(lc->buckets);
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}

static const tix_cache_ops local_ops = {local_get,  local_set,    local_bump,
                                        local_incr, local_status, local_destroy};

tix_rc tix_cache_local_create(const tix_config *cfg, tix_cache **out)
{
    local_cache *lc = calloc(1, sizeof(*lc));
    if (lc == NULL) {
        return TIX_ENOMEM;
    }
    lc->buckets = calloc(FIRST_BUCKETS, sizeof(void *)); /* bucket heads */
    if (lc->buckets == NULL) {
        free(lc);
        return TIX_ENOMEM;
    }
    lc->base.ops = &local_ops;
    snprintf(lc->base.prefix, sizeof(lc->base.prefix), "%s", cfg->cache_prefix);
    lc->base.enabled = cfg->cache_enabled;
    lc->base.nonblocking = true;
    lc->base.in_process = true;
    lc->nbuckets = FIRST_BUCKETS;
    lc->max_bytes = (size_t)cfg->cache_max_bytes;
    lc->lru.next = lc->lru.prev = &lc->lru;
    pthread_mutex_init(&lc->mu, NULL);
    *out = &lc->base;
    return TIX_OK;
}
