/*
 * The in-process counter store behind tix_cache_incr when there is no Redis (and the fallback
 * of the rate limiter while Redis is down): a chained hash table under one mutex; expired
 * counters are swept every SWEEP_EVERY increments and whenever the table is full, so it holds
 * at most the keys of one window. Windows run on a monotonic clock.
 */
#include "cache/cache.h"
#include "core/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS     4096
#define SWEEP_EVERY 4096

/* ---- the in-process counter store ---- */

typedef struct counter {
    struct counter *next;
    int64_t count;
    int64_t reset_at_ms;
    char key[]; /* NUL-terminated */
} counter;

static struct {
    pthread_mutex_t mu;
    counter *bucket[BUCKETS];
    size_t n;
    unsigned since_sweep;
} local = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* Frees every counter whose window has passed (all of them when now_ms is INT64_MAX). Called
 * with the mutex held. */
static void sweep(int64_t now_ms)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        counter **pp = &local.bucket[b];
        while (*pp != NULL) {
            counter *c = *pp;
            if (c->reset_at_ms <= now_ms) {
                *pp = c->next;
                free(c);
                local.n--;
            } else {
                pp = &c->next;
            }
        }
    }
    local.since_sweep = 0;
}

/* The counter at key; when there is none, a new one if add (NULL otherwise, or when full). */
static counter *find_or_add(const char *key, int64_t now_ms, bool add)
{
    counter **head = &local.bucket[hash_key(key) % BUCKETS];
    for (counter *c = *head; c != NULL; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            return c;
        }
    }
    if (!add) {
        return NULL;
    }
    if (++local.since_sweep >= SWEEP_EVERY || local.n >= TIX_COUNTER_LOCAL_MAX) {
        sweep(now_ms);
    }
    size_t len = strlen(key);
    counter *c = local.n < TIX_COUNTER_LOCAL_MAX ? malloc(sizeof(*c) + len + 1) : NULL;
    if (c == NULL) {
        return NULL;
    }
    memcpy(c->key, key, len + 1);
    c->count = 0;
    c->reset_at_ms = now_ms; /* expired: the caller starts a window */
    c->next = *head;
    *head = c;
    local.n++;
    return c;
}

tix_rc tix_counter_incr_local(const char *key, int64_t window_ms, int64_t by, int64_t now_ms,
                              int64_t *count, int64_t *reset_ms)
{
    pthread_mutex_lock(&local.mu);
    counter *c = find_or_add(key, now_ms, by > 0);
    bool live = c != NULL && c->reset_at_ms > now_ms;
    if (c != NULL && (live || by > 0)) {
        if (!live) {
            c->count = 0;
            c->reset_at_ms = now_ms + window_ms;
        }
        c->count += by;
        *count = c->count;
        *reset_ms = c->reset_at_ms - now_ms;
    } else if (by <= 0) { /* nothing to give back to: the window is over (or never began) */
        *count = 0;
        *reset_ms = 0;
    }
    pthread_mutex_unlock(&local.mu);
    return c != NULL || by <= 0 ? TIX_OK : TIX_EUNAVAIL;
}

void tix_counter_local_clear(void)
{
    pthread_mutex_lock(&local.mu);
    sweep(INT64_MAX);
    pthread_mutex_unlock(&local.mu);
}

tix_rc tix_counter_incr_now(const char *key, int64_t window_ms, int64_t by, int64_t *count,
                            int64_t *reset_ms)
{
    return tix_counter_incr_local(key, window_ms, by, tix_mono_ms(), count, reset_ms);
}
