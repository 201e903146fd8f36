/*
 * The Redis cache (REDIS_URL set): get is one pipelined round trip of GETs, set a SET with PX,
 * bump a pipelined SET NX / INCR / PEXPIRE, incr (rate limits) one pipeline of an EVAL per key.
 * Every call is bounded by CACHE_TIMEOUT; a network failure marks the cache down (redis_conn.c) and
 * the call fails as a miss.
 */
#include "cache/backends.h"
#include "cache/redis_int.h"
#include "core/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GET_KEYS 8

static tix_rc redis_get(tix_cache *c, tix_arena *a, const char *const *keys, int n, char **vals,
                        size_t *lens)
{
    tix_redis *rd = (tix_redis *)c;
    tix_rconn *conn = NULL;
    if (n > MAX_GET_KEYS || tix_redis_acquire(rd, &conn) != TIX_OK) {
        return TIX_EUNAVAIL;
    }
    const char *argv[MAX_GET_KEYS][2];
    const char *const *argvs[MAX_GET_KEYS];
    int argc[MAX_GET_KEYS];
    const size_t *argvlen[MAX_GET_KEYS];
    redisReply *rep[MAX_GET_KEYS];
    for (int i = 0; i < n; i++) {
        argv[i][0] = "GET";
        argv[i][1] = keys[i];
        argvs[i] = argv[i];
        argc[i] = 2;
        argvlen[i] = NULL;
    }
    bool ok = tix_redis_pipeline(conn->c, n, argc, argvs, argvlen, rep);
    tix_redis_release(rd, conn, !ok);
    if (!ok) {
        return TIX_EUNAVAIL;
    }
    for (int i = 0; i < n; i++) {
        bool str = rep[i]->type == REDIS_REPLY_STRING;
        vals[i] = str ? tix_arena_alloc(a, rep[i]->len + 1) : NULL; /* binary-safe copy */
        if (str) {
            memcpy(vals[i], rep[i]->str, rep[i]->len);
            vals[i][rep[i]->len] = '\0';
        }
        lens[i] = str ? rep[i]->len : 0;
        freeReplyObject(rep[i]);
    }
    return TIX_OK;
}

static tix_rc redis_set(tix_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms,
                        unsigned flags)
{
    tix_redis *rd = (tix_redis *)c;
    tix_rconn *conn = NULL;
    if (tix_redis_acquire(rd, &conn) != TIX_OK) {
        return TIX_EUNAVAIL;
    }
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
    const char *argv[] = {"SET", key, val, "PX", ttl, "NX"};
    size_t argvlen[] = {3, strlen(key), len, 2, strlen(ttl), 2};
    redisReply *r = redisCommandArgv(conn->c, (flags & TIX_CACHE_NX) ? 6 : 5, argv, argvlen);
    if (tix_redis_reply_readonly(r)) {
        tix_redis_flag_readonly(conn->c);
        freeReplyObject(r);
        r = NULL;
    }
    tix_redis_release(rd, conn, r == NULL);
    if (r == NULL) {
        return TIX_EUNAVAIL;
    }
    tix_rc rc = r->type == REDIS_REPLY_ERROR ? TIX_EUNAVAIL : TIX_OK;
    freeReplyObject(r);
    return rc;
}

static tix_rc redis_bump(tix_cache *c, const char *key, int64_t seed, int64_t ttl_ms, int64_t *out)
{
    tix_redis *rd = (tix_redis *)c;
    tix_rconn *conn = NULL;
    bool broken = false;
    tix_rc rc = tix_redis_acquire(rd, &conn);
    if (rc == TIX_OK) {
        rc = tix_redis_bump_on(conn->c, key, seed, ttl_ms, out, &broken);
        tix_redis_release(rd, conn, broken);
    }
    if (rc != TIX_OK) {
        tix_redis_pending_add(rd, key); /* done again once Redis answers */
    }
    return rc;
}

/* One round trip: INCRBY, and the window's expiry when the counter is new (or lost its TTL, so
 * a key can never count forever); the answer is {count, PTTL}. A count given back (by <= 0)
 * to a counter that is gone (its window ended) makes none: {0, 0}. */
static const char incr_script[] = "local by = tonumber(ARGV[2]) "
                                  "local existed = redis.call('EXISTS', KEYS[1]) == 1 "
                                  "if not existed and by <= 0 then return {0, 0} end "
                                  "local n = redis.call('INCRBY', KEYS[1], by) "
                                  "if not existed or redis.call('PTTL', KEYS[1]) < 0 then "
                                  "redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
                                  "return {n, redis.call('PTTL', KEYS[1])}";

/* One key's answer to incr_script into *count / *reset_ms; false (logged) when it is not
 * {count, pttl}. */
static bool incr_reply(const redisReply *r, const char *key, int64_t window_ms, int64_t by,
                       int64_t *count, int64_t *reset_ms)
{
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_INTEGER &&
              r->element[1]->type == REDIS_REPLY_INTEGER;
    if (ok) {
        *count = (int64_t)r->element[0]->integer;
        *reset_ms = r->element[1]->integer > 0 ? (int64_t)r->element[1]->integer
                    : by > 0                   ? window_ms
                                               : 0;
    } else if (r != NULL) {
        tix_log_warn("cache: rate-limit counter %s: unexpected Redis answer (%s)", key,
                     r->type == REDIS_REPLY_ERROR ? r->str : "not {count, pttl}");
    }
    return ok;
}

/* The n scripts in one pipeline (one round trip). A key whose answer is missing or wrong is
 * counted in the in-process store instead. */
static tix_rc redis_incr(tix_cache *c, int n, const char *const *keys, const int64_t *window_ms,
                         int64_t by, int64_t *counts, int64_t *reset_ms)
{
    tix_redis *rd = (tix_redis *)c;
    tix_rconn *conn = NULL;
    if (tix_redis_acquire(rd, &conn) != TIX_OK) {
        return tix_cache_incr_local(n, keys, window_ms, by, counts, reset_ms);
    }
    char win[TIX_CACHE_INCR_MAX][24];
    char byt[24];
    const char *argv[TIX_CACHE_INCR_MAX][6];
    const char *const *argvs[TIX_CACHE_INCR_MAX];
    int argc[TIX_CACHE_INCR_MAX];
    const size_t *argvlen[TIX_CACHE_INCR_MAX];
    redisReply *rep[TIX_CACHE_INCR_MAX];
    snprintf(byt, sizeof(byt), "%" PRId64, by);
    for (int i = 0; i < n; i++) {
        snprintf(win[i], sizeof(win[i]), "%" PRId64, window_ms[i]);
        const char *one[] = {"EVAL", incr_script, "1", keys[i], win[i], byt};
        memcpy(argv[i], one, sizeof(one));
        argvs[i] = argv[i];
        argc[i] = 6;
        argvlen[i] = NULL;
    }
    bool sent = tix_redis_pipeline(conn->c, n, argc, argvs, argvlen, rep);
    /* (a READONLY answer of a demoted primary is a failed pipeline: tix_redis_pipeline) */
    tix_redis_release(rd, conn, !sent);
    tix_rc rc = TIX_OK;
    for (int i = 0; i < n; i++) {
        bool ok = sent && incr_reply(rep[i], keys[i], window_ms[i], by, &counts[i], &reset_ms[i]);
        if (sent) {
            freeReplyObject(rep[i]);
        }
        tix_rc one =
            ok ? TIX_OK : tix_counter_incr_now(keys[i], window_ms[i], by, &counts[i], &reset_ms[i]);
        rc = rc ? rc : one;
    }
    return rc;
}

static void redis_status(tix_cache *c, tix_cache_status *out)
{
    tix_redis *rd = (tix_redis *)c;
    tix_rconn *conn = NULL;
    if (tix_redis_acquire(rd, &conn) == TIX_OK) { /* while down: a reconnection attempt */
        /* a PING, so a pooled connection to a Redis that died since is not reported up */
        redisReply *r = redisCommand(conn->c, "PING");
        bool broken = r == NULL || tix_redis_reply_readonly(r);
        if (r != NULL && broken) {
            tix_redis_flag_readonly(conn->c);
        }
        freeReplyObject(r);
        tix_redis_release(rd, conn, broken);
    }
    out->backend = "redis";
    pthread_mutex_lock(&rd->mu);
    out->up = rd->up;
    out->down_since_ms = rd->down_since_ms;
    out->pending = rd->npending + (rd->pending_overflow ? 1 : 0);
    snprintf(out->error, sizeof(out->error), "%s", rd->error);
    pthread_mutex_unlock(&rd->mu);
}

static void redis_destroy(tix_cache *c)
{
    tix_redis *rd = (tix_redis *)c;
    for (int i = 0; i < rd->nidle; i++) {
        redisFree(rd->idle[i]->c);
        free(rd->idle[i]);
    }
    for (int i = 0; i < rd->npending; i++) {
        free(rd->pending[i]);
    }
    free(rd->pending);
    free(rd->idle);
    pthread_cond_destroy(&rd->cv);
    pthread_mutex_destroy(&rd->mu);
    free(rd);
}

static const tix_cache_ops redis_ops = {redis_get,  redis_set,    redis_bump,
                                        redis_incr, redis_status, redis_destroy};

/* Where Redis is, for log lines (never the password). */
static void describe(const tix_redis_addr *a, char *out, size_t cap)
{
    if (a->master[0]) {
        snprintf(out, cap, "the primary of %s (%d sentinels, first %s:%d) db %d", a->master,
                 a->nsentinels, a->sentinels[0].host, a->sentinels[0].port, a->db);
    } else if (a->unix_path[0]) {
        snprintf(out, cap, "unix:%s db %d", a->unix_path, a->db);
    } else {
        snprintf(out, cap, "%s:%d db %d", a->host, a->port, a->db);
    }
}

tix_rc tix_cache_redis_create(const tix_config *cfg, tix_cache **out, char *err, size_t errlen)
{
    tix_redis *rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        return TIX_ENOMEM;
    }
    if (!tix_redis_url_parse(cfg->redis_url, &rd->addr, err, errlen)) {
        free(rd);
        return TIX_EINVAL;
    }
    rd->base.ops = &redis_ops;
    snprintf(rd->base.prefix, sizeof(rd->base.prefix), "%s", cfg->cache_prefix);
    rd->base.enabled = cfg->cache_enabled;
    rd->timeout_ms = (int)cfg->cache_timeout_ms;
    rd->size = cfg->cache_pool_size;
    rd->backoff_ms = TIX_REDIS_RETRY_MIN_MS;
    rd->idle = calloc((size_t)rd->size, sizeof(void *)); /* tix_rconn pointers */
    rd->pending = calloc(TIX_REDIS_PENDING_MAX, sizeof(char *));
    if (rd->idle == NULL || rd->pending == NULL) {
        free(rd->idle);
        free(rd->pending);
        free(rd);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cv, NULL);
    snprintf(rd->error, sizeof(rd->error), "not connected yet");
    char where[640];
    describe(&rd->addr, where, sizeof(where));
    tix_rconn *conn = NULL;
    if (tix_redis_acquire(rd, &conn) == TIX_OK) { /* the first connection, to log the state */
        tix_redis_release(rd, conn, false);
        tix_log_info("cache: Redis at %s", where);
    } else {
        tix_log_warn("cache: Redis at %s does not answer yet (%s); the cache is bypassed until "
                     "it does",
                     where, rd->error);
    }
    *out = &rd->base;
    return TIX_OK;
}
