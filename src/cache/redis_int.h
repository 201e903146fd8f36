/*
 * Inside the Redis cache (redis_conn.c, redis.c) and the Redis bus (bus_redis.c): the pool of
 * hiredis connections and the up/down state. Not for other modules.
 *
 * State: "up" until a call fails on the network (or passes CACHE_TIMEOUT); then "down": every
 * call fails at once (the cache is bypassed), the failure is logged once, and at most one
 * thread per second tries to connect again. A bump that failed meanwhile is kept in the
 * pending list; a successful reconnection first replays the pending bumps and only then
 * declares the cache up again, so no stale entry can be served after Redis comes back.
 * Reconnection attempts back off from TIX_REDIS_RETRY_MIN_MS, doubling up to TIX_REDIS_RETRY_MS.
 *
 * Redis Sentinel (redis+sentinel://): every new connection asks the sentinels, in turn starting
 * with the one that answered last, for the primary (SENTINEL get-master-addr-by-name), connects
 * to it and checks with ROLE that it really is a master: a stale sentinel answer naming a
 * replica is refused and the next sentinel asked. A failover is followed by the ordinary
 * outage path: the old primary's connections fail (or answer READONLY once it was demoted, which
 * counts as a network failure here), the cache goes down, and the next probe connects to
 * whatever primary the sentinels name now. When that primary is not the one we used before,
 * writes acknowledged by the old one may not have reached it (replication is asynchronous), so
 * the move is treated like a pending overflow: the catalogue version, which every cached answer
 * carries, is bumped on the new primary before the cache is declared up again.
 */
#ifndef TIX_CACHE_REDIS_INT_H
#define TIX_CACHE_REDIS_INT_H

#include "cache/cache.h"

#include <hiredis/hiredis.h>
#include <pthread.h>

#define TIX_REDIS_RETRY_MS     1000  /* between reconnection attempts while down, at most */
#define TIX_REDIS_RETRY_MIN_MS 100   /* the first reconnection attempt after a failure */
#define TIX_REDIS_PENDING_MAX  10000 /* more bumps than this while down: bump the catalogue */

typedef struct tix_rconn {
    redisContext *c;
    unsigned gen; /* the pool generation it was made in; older ones are dropped */
} tix_rconn;

typedef struct tix_redis {
    tix_cache base;
    tix_redis_addr addr;
    int timeout_ms;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* a connection came back to the pool */
    tix_rconn **idle;
    int nidle;
    int size; /* connections at most */
    int busy; /* connections checked out or being made */
    unsigned gen;
    bool up;
    bool probing;
    int64_t down_since_ms;
    int64_t retry_at_ms;
    int backoff_ms; /* the wait after the next failed reconnection attempt */
    char error[128];
    char primary[300]; /* sentinel mode: "host:port" of the primary last connected to */
    int sentinel_next; /* sentinel mode: the sentinel to ask first */
    char **pending;    /* keys whose bump failed (malloc'd) */
    int npending;
    bool pending_overflow;
} tix_redis;

/* A new connection with AUTH, SELECT and time-outs done (in sentinel mode: to the primary the
 * sentinels name, checked with ROLE), or NULL with err filled. Called without mu. When the
 * primary moved, the catalogue bump is queued and the cache marked down (see above). */
redisContext *tix_redis_connect(tix_redis *rd, char *err, size_t errlen);
/* true when r is a READONLY error: the node was demoted to a replica. */
bool tix_redis_reply_readonly(const redisReply *r);
/* Marks c failed (READONLY: the node is a replica now), so tix_redis_release reports why. */
void tix_redis_flag_readonly(redisContext *c);
/* A pooled connection. TIX_EUNAVAIL when Redis is down, or when none is free within
 * CACHE_TIMEOUT. Give it back with release; broken = it failed on the network. */
TIX_MUSTCHECK tix_rc tix_redis_acquire(tix_redis *rd, tix_rconn **out);
void tix_redis_release(tix_redis *rd, tix_rconn *conn, bool broken);
/* Records that Redis failed (logged once per outage). */
void tix_redis_mark_down(tix_redis *rd, const char *why);
/* Remembers a bump of key to do once Redis is back. */
void tix_redis_pending_add(tix_redis *rd, const char *key);
/* Sends the commands (argv arrays) pipelined and reads every reply into replies[i] (free
 * each with freeReplyObject). false when the connection broke (replies are then freed). */
bool tix_redis_pipeline(redisContext *c, int n, const int *argc, const char *const *const *argv,
                        const size_t *const *argvlen, redisReply **replies);
/* The pipeline of one bump (SET NX seed, INCR, PEXPIRE) on c. */
tix_rc tix_redis_bump_on(redisContext *c, const char *key, int64_t seed, int64_t ttl_ms,
                         int64_t *out, bool *broken);

#endif
