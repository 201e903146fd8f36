/*
 * The cache: a small key-value interface (a struct of function pointers, like SQLite's VFS)
 * with two implementations: Redis through hiredis (redis.c, when REDIS_URL is set) and an
 * in-process store (local.c). Domain code never knows which one it talks to, and neither does
 * this interface: cache/factory.h chooses the implementation (cache/backends.h).
 *
 * The cache is never the authority (DESIGN.md): every value in it can be rebuilt from the
 * database, and every caller treats a failure (TIX_EUNAVAIL: Redis down, or a call past
 * CACHE_TIMEOUT) as a miss. Cached answers are validated by version counters (bump): a
 * change bumps the counter of its scope after its commit, and an entry stored under an older
 * counter is never served again. A bump that fails while Redis is down is remembered and done
 * when Redis is back, before the cache is used again (redis_conn.c), so no invalidation is lost
 * while this process lives; TTLs bound what a crash could leave behind.
 *
 * Key names (docs/cache.md lists every one): "<CACHE_PREFIX>:{show:ID}:…" for a show,
 * "…:{user:ID}:…" for a user, "…:{catalog}:…" for the catalogue. The braces are Redis Cluster
 * hash tags: every key of one show lives in one slot, so the multi-key script of the event log
 * and the pipelined reads are cluster-ready.
 *
 * Thread-safe: one tix_cache serves every thread. Created in main.c before the server starts,
 * destroyed after it stops.
 */
#ifndef TIX_CACHE_CACHE_H
#define TIX_CACHE_CACHE_H

#include "core/arena.h"
#include "core/config.h"
#include "core/rc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tix_cache tix_cache;

/* What /readyz and /metrics report. */
typedef struct tix_cache_status {
    const char *backend;   /* "redis" or "in-process" (static) */
    bool up;               /* false while Redis cannot be reached */
    int64_t down_since_ms; /* 0 when up */
    long pending;          /* bumps waiting for Redis to come back */
    char error[128];       /* why it is down (never a password) */
    size_t bytes;          /* what the in-process store holds (0 for Redis) */
} tix_cache_status;

enum {
    TIX_CACHE_NX = 1u << 0,  /* set only when the key does not exist */
    TIX_CACHE_PIN = 1u << 1, /* a version counter: never evicted before it expires */
};

typedef struct tix_cache_ops {
    /* n values (NUL-terminated copies in a; NULL for a missing key). TIX_EUNAVAIL when the
     * store cannot answer now; nothing is filled then. */
    tix_rc (*get)(tix_cache *c, tix_arena *a, const char *const *keys, int n, char **vals,
                  size_t *lens);
    /* Stores val for ttl_ms (> 0). flags: TIX_CACHE_NX, TIX_CACHE_PIN. */
    tix_rc (*set)(tix_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms,
                  unsigned flags);
    /* Increments a version counter (a missing one starts at seed, so a counter that was lost
     * never repeats an old value) and gives it ttl_ms. OUT: *out the new value. A failure is
     * remembered and the bump done again once the store is back. */
    tix_rc (*bump)(tix_cache *c, const char *key, int64_t seed, int64_t ttl_ms, int64_t *out);
    /* Fixed-window counters (rate limits): adds by (1, or -1 to give a count back) to each of
     * the n keys (window_ms[i] for keys[i]) and gives each one's new count and the milliseconds
     * until it resets; a missing or expired counter starts at by with its window when by > 0,
     * and is left missing (count 0) when by <= 0. The n counts travel in one round trip (one
     * pipeline; one script per key, so keys in different Redis Cluster slots are fine). Never
     * remembered for a replay. While Redis cannot be reached the Redis store counts in the
     * in-process counter store instead, so limits hold per process rather than not at all.
     * TIX_EUNAVAIL when no store can count (the in-process one is full). n <= TIX_CACHE_INCR_MAX.
     */
    tix_rc (*incr)(tix_cache *c, int n, const char *const *keys, const int64_t *window_ms,
                   int64_t by, int64_t *counts, int64_t *reset_ms);
    void (*status)(tix_cache *c, tix_cache_status *out);
    void (*destroy)(tix_cache *c);
} tix_cache_ops;

/* The part every implementation starts with. */
struct tix_cache {
    const tix_cache_ops *ops;
    char prefix[64]; /* CACHE_PREFIX */
    bool enabled;    /* CACHE=on: answers may be cached (the event log works either way) */
    /* Its operations never wait for I/O (the in-process cache): a cached answer may then be
     * looked up on a libmicrohttpd thread, before the handler queue (http/cached.h). */
    bool nonblocking;
    /* The store lives in this process (local.c): cached answers are then kept only in the
     * answers store (http/answers.h), never copied into the cache as well; the cache holds the
     * version counters. With Redis, entries go to Redis (for the other servers) and the
     * answers store is this server's only in-process copy. */
    bool in_process;
    atomic_ullong hits, misses, errors;
};

/* The cache is made by cache/factory.h (from the configuration) or cache/backends.h. */
/* NULL does nothing. */
void tix_cache_destroy(tix_cache *c);

/* Wrappers of the ops (c may be NULL: then a get is TIX_EUNAVAIL and the rest do nothing).
 * A failed set or bump needs no handling by the caller (a bump is replayed by itself), so
 * their results may be ignored. */
TIX_MUSTCHECK tix_rc tix_cache_get(tix_cache *c, tix_arena *a, const char *const *keys, int n,
                                   char **vals, size_t *lens);
tix_rc tix_cache_set(tix_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms,
                     unsigned flags);
tix_rc tix_cache_bump(tix_cache *c, const char *key, int64_t *out);
/* The incr op; with a NULL cache, the in-process counter store. At most TIX_CACHE_INCR_MAX
 * keys (else TIX_EINVAL). */
#define TIX_CACHE_INCR_MAX 4
TIX_MUSTCHECK tix_rc tix_cache_incr(tix_cache *c, int n, const char *const *keys,
                                    const int64_t *window_ms, int64_t by, int64_t *counts,
                                    int64_t *reset_ms);
void tix_cache_status_get(tix_cache *c, tix_cache_status *out);

/* The in-process counter store (cache/counter.c), one per process, thread-safe: the incr of
 * the in-process cache, and Redis's stand-in while Redis is down. Adds by to the counter at key
 * and gives its new count and the milliseconds until it resets; a counter that is absent or
 * whose window has passed restarts at by with a window of window_ms from now_ms (a monotonic
 * clock; _now reads CLOCK_MONOTONIC) when by > 0, and reads 0 without being made when by <= 0.
 * TIX_EUNAVAIL when the table is full (TIX_COUNTER_LOCAL_MAX live keys). */
#define TIX_COUNTER_LOCAL_MAX 200000
TIX_MUSTCHECK tix_rc tix_counter_incr_local(const char *key, int64_t window_ms, int64_t by,
                                            int64_t now_ms, int64_t *count, int64_t *reset_ms);
TIX_MUSTCHECK tix_rc tix_counter_incr_now(const char *key, int64_t window_ms, int64_t by,
                                          int64_t *count, int64_t *reset_ms);
/* tix_cache_incr's n keys in the in-process counter store (the in-process cache's incr, and
 * Redis's stand-in). */
TIX_MUSTCHECK tix_rc tix_cache_incr_local(int n, const char *const *keys, const int64_t *window_ms,
                                          int64_t by, int64_t *counts, int64_t *reset_ms);
/* Empties the in-process counter store (tests). */
void tix_counter_local_clear(void);

/* How long a version counter lives after its last bump. */
#define TIX_CACHE_VERSION_TTL_MS (7LL * 86400 * 1000)

/* Key names, in a: "<prefix>:{show:<id>}:<suffix>", "<prefix>:{user:<id>}:<suffix>",
 * "<prefix>:{catalog}:<suffix>". */
char *tix_cache_key_show(const tix_cache *c, tix_arena *a, const char *show_id, const char *suffix);
char *tix_cache_key_user(const tix_cache *c, tix_arena *a, const char *user_id, const char *suffix);
char *tix_cache_key_catalog(const tix_cache *c, tix_arena *a, const char *suffix);

/* Parses REDIS_URL: redis://[[user]:password@]host[:port][/db], unix:///path[?db=N], or
 * redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master_name[/db] (Redis
 * Sentinel: the hosts are sentinels, 26379 by default, asked without a password; user,
 * password and db are for the primary they name). Pure (tests call it). false with err filled
 * when malformed. */
#define TIX_REDIS_SENTINELS_MAX 8
typedef struct tix_redis_addr {
    char host[256];
    int port;
    char unix_path[256]; /* non-empty for unix:// */
    char user[128];
    char password[256];
    int db;
    char master[128]; /* non-empty for redis+sentinel://: the name the sentinels monitor */
    int nsentinels;
    struct {
        char host[256];
        int port;
    } sentinels[TIX_REDIS_SENTINELS_MAX];
} tix_redis_addr;
bool tix_redis_url_parse(const char *url, tix_redis_addr *out, char *err, size_t errlen);

#endif
