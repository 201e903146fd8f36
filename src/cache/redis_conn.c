/*
 * The Redis connection pool and its up/down state (see redis_int.h). Connections are made
 * lazily, up to CACHE_POOL_SIZE; each has CACHE_TIMEOUT as its connect, send and receive
 * time-out, so no call waits longer. When Redis fails, the generation moves on and every
 * connection of the older generation is dropped instead of reused.
 */
#include "cache/redis_int.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct timeval tv_of(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

/* Runs one command on a fresh connection; false with err filled when it fails. */
static bool setup_command(redisContext *c, int argc, const char **argv, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok) {
        snprintf(err, errlen, "%s failed: %s", argv[0],
                 r != NULL ? "refused by the server" : c->errstr);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return ok;
}

redisContext *tix_redis_connect(const tix_redis *rd, char *err, size_t errlen)
{
    const tix_redis_addr *a = &rd->addr;
    struct timeval tv = tv_of(rd->timeout_ms);
    redisContext *c = a->unix_path[0] ? redisConnectUnixWithTimeout(a->unix_path, tv)
                                      : redisConnectWithTimeout(a->host, a->port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    bool ok = redisSetTimeout(c, tv) == REDIS_OK;
    char db[16];
    snprintf(db, sizeof(db), "%d", a->db);
    if (ok && a->password[0] && a->user[0]) {
        const char *argv[] = {"AUTH", a->user, a->password};
        ok = setup_command(c, 3, argv, err, errlen);
    } else if (ok && a->password[0]) {
        const char *argv[] = {"AUTH", a->password};
        ok = setup_command(c, 2, argv, err, errlen);
    }
    if (ok && a->db != 0) {
        const char *argv[] = {"SELECT", db};
        ok = setup_command(c, 2, argv, err, errlen);
    }
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

void tix_redis_mark_down(tix_redis *rd, const char *why)
{
    tix_rconn **drop = NULL;
    int ndrop = 0;
    pthread_mutex_lock(&rd->mu);
    if (rd->up) {
        rd->up = false;
        rd->down_since_ms = tix_now_ms();
        rd->retry_at_ms = tix_mono_ms() + TIX_REDIS_RETRY_MS;
        rd->gen++;
        snprintf(rd->error, sizeof(rd->error), "%s", why);
        tix_log_warn("cache: Redis is unreachable (%s); requests bypass the cache until it "
                     "answers again",
                     why);
        drop = rd->idle;
        ndrop = rd->nidle;
        rd->idle = calloc((size_t)rd->size, sizeof(void *)); /* tix_rconn pointers */
        rd->nidle = 0;
        if (rd->idle == NULL) { /* keep the old array: its connections are dropped below */
            rd->idle = drop;
            drop = NULL;
        }
    }
    pthread_mutex_unlock(&rd->mu);
    for (int i = 0; i < ndrop && drop != NULL; i++) {
        redisFree(drop[i]->c);
        free(drop[i]);
    }
    free(drop);
}

void tix_redis_pending_add(tix_redis *rd, const char *key)
{
    pthread_mutex_lock(&rd->mu);
    bool dup = false;
    for (int i = rd->npending - 1; i >= 0 && i >= rd->npending - 16 && !dup; i--) {
        dup = strcmp(rd->pending[i], key) == 0; /* a burst on one show stays one entry */
    }
    if (!dup && !rd->pending_overflow && rd->npending < TIX_REDIS_PENDING_MAX) {
        char *k = strdup(key);
        if (k != NULL) {
            rd->pending[rd->npending++] = k;
        } else {
            rd->pending_overflow = true;
        }
    } else if (!dup) {
        rd->pending_overflow = true;
    }
    pthread_mutex_unlock(&rd->mu);
}

/* Replays one snapshot of pending bumps on c. false when Redis failed again. */
static bool replay(tix_redis *rd, redisContext *c, char **keys, int n, bool overflow)
{
    bool broken = false;
    int64_t v = 0;
    int64_t seed = tix_now_ms();
    for (int i = 0; i < n && !broken; i++) {
        (void)tix_redis_bump_on(c, keys[i], seed, TIX_CACHE_VERSION_TTL_MS, &v, &broken);
    }
    if (overflow && !broken) {
        /* Too many to remember: every cached answer carries the catalogue version. */
        char key[96];
        snprintf(key, sizeof(key), "%s:{catalog}:ver", rd->base.prefix);
        (void)tix_redis_bump_on(c, key, seed, TIX_CACHE_VERSION_TTL_MS, &v, &broken);
    }
    return !broken;
}

/* After a successful reconnection: replays the pending bumps (including those added while
 * replaying), then declares the cache up. false when Redis failed meanwhile. */
static bool recover(tix_redis *rd, redisContext *c)
{
    int replayed = 0;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        if (rd->npending == 0 && !rd->pending_overflow) {
            rd->up = true;
            rd->down_since_ms = 0;
            rd->error[0] = '\0';
            pthread_mutex_unlock(&rd->mu);
            tix_log_info("cache: Redis answers again (%d pending invalidations replayed)",
                         replayed);
            return true;
        }
        char **keys = rd->pending;
        int n = rd->npending;
        bool overflow = rd->pending_overflow;
        rd->pending = calloc(TIX_REDIS_PENDING_MAX, sizeof(char *));
        rd->npending = 0;
        rd->pending_overflow = rd->pending == NULL;
        pthread_mutex_unlock(&rd->mu);
        bool ok = replay(rd, c, keys, n, overflow);
        for (int i = 0; i < n; i++) {
            if (!ok) {
                tix_redis_pending_add(rd, keys[i]);
            }
            free(keys[i]);
        }
        free(keys);
        if (!ok) {
            return false;
        }
        replayed += n;
    }
}

/* While down: one caller per TIX_REDIS_RETRY_MS tries to reconnect. Called with mu held;
 * returns with it released. */
static tix_rc probe(tix_redis *rd, tix_rconn **out)
{
    if (rd->probing || tix_mono_ms() < rd->retry_at_ms) {
        pthread_mutex_unlock(&rd->mu);
        return TIX_EUNAVAIL;
    }
    rd->probing = true;
    rd->retry_at_ms = tix_mono_ms() + TIX_REDIS_RETRY_MS;
    rd->busy++;
    unsigned gen = rd->gen;
    pthread_mutex_unlock(&rd->mu);
    char err[128] = "";
    redisContext *c = tix_redis_connect(rd, err, sizeof(err));
    bool ok = c != NULL && recover(rd, c);
    tix_rconn *conn = ok ? malloc(sizeof(*conn)) : NULL;
    pthread_mutex_lock(&rd->mu);
    rd->probing = false;
    if (conn == NULL) {
        rd->busy--;
        snprintf(rd->error, sizeof(rd->error), "%s", err[0] ? err : "Redis failed again");
        pthread_mutex_unlock(&rd->mu);
        redisFree(c);
        return TIX_EUNAVAIL;
    }
    *conn = (tix_rconn){c, gen};
    pthread_mutex_unlock(&rd->mu);
    *out = conn;
    return TIX_OK;
}

/* A new connection for the pool (busy already counted). Called without mu. */
static tix_rc open_new(tix_redis *rd, unsigned gen, tix_rconn **out)
{
    char err[128];
    redisContext *c = tix_redis_connect(rd, err, sizeof(err));
    tix_rconn *conn = c ? malloc(sizeof(*conn)) : NULL;
    if (conn == NULL) {
        redisFree(c);
        pthread_mutex_lock(&rd->mu);
        rd->busy--;
        pthread_mutex_unlock(&rd->mu);
        tix_redis_mark_down(rd, c ? "out of memory" : err);
        return TIX_EUNAVAIL;
    }
    *conn = (tix_rconn){c, gen};
    *out = conn;
    return TIX_OK;
}

tix_rc tix_redis_acquire(tix_redis *rd, tix_rconn **out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)(rd->timeout_ms % 1000) * 1000000L;
    deadline.tv_sec += rd->timeout_ms / 1000 + deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&rd->mu);
    for (;;) {
        if (!rd->up) {
            return probe(rd, out); /* releases mu */
        }
        if (rd->nidle > 0) {
            *out = rd->idle[--rd->nidle];
            rd->busy++;
            pthread_mutex_unlock(&rd->mu);
            return TIX_OK;
        }
        if (rd->busy < rd->size) {
            rd->busy++;
            unsigned gen = rd->gen;
            pthread_mutex_unlock(&rd->mu);
            return open_new(rd, gen, out);
        }
        if (pthread_cond_timedwait(&rd->cv, &rd->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&rd->mu);
            return TIX_EUNAVAIL; /* every connection busy: a miss, not an outage */
        }
    }
}

void tix_redis_release(tix_redis *rd, tix_rconn *conn, bool broken)
{
    if (conn == NULL) {
        return;
    }
    if (broken) {
        tix_redis_mark_down(rd, conn->c->errstr[0] ? conn->c->errstr : "a call failed");
    }
    pthread_mutex_lock(&rd->mu);
    rd->busy--;
    bool keep = !broken && conn->gen == rd->gen && rd->up && rd->nidle < rd->size;
    if (keep) {
        rd->idle[rd->nidle++] = conn;
    }
    pthread_cond_signal(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    if (!keep) {
        redisFree(conn->c);
        free(conn);
    }
}

bool tix_redis_pipeline(redisContext *c, int n, const int *argc, const char *const *const *argv,
                        const size_t *const *argvlen, redisReply **replies)
{
    for (int i = 0; i < n; i++) {
        replies[i] = NULL;
        if (redisAppendCommandArgv(c, argc[i], (const char **)argv[i], argvlen[i]) != REDIS_OK) {
            return false;
        }
    }
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            for (int k = 0; k < i; k++) {
                freeReplyObject(replies[k]);
                replies[k] = NULL;
            }
            return false;
        }
        replies[i] = r;
    }
    return true;
}

tix_rc tix_redis_bump_on(redisContext *c, const char *key, int64_t seed, int64_t ttl_ms,
                         int64_t *out, bool *broken)
{
    char s[24];
    char t[24];
    snprintf(s, sizeof(s), "%" PRId64, seed);
    snprintf(t, sizeof(t), "%" PRId64, ttl_ms);
    const char *set[] = {"SET", key, s, "PX", t, "NX"};
    const char *incr[] = {"INCR", key};
    const char *exp[] = {"PEXPIRE", key, t};
    const char *const *argv[] = {set, incr, exp};
    const int argc[] = {6, 2, 3};
    const size_t *lens[] = {NULL, NULL, NULL};
    redisReply *rep[3];
    if (!tix_redis_pipeline(c, 3, argc, argv, lens, rep)) {
        *broken = true;
        return TIX_EUNAVAIL;
    }
    tix_rc rc = rep[1]->type == REDIS_REPLY_INTEGER ? TIX_OK : TIX_EUNAVAIL;
    *out = rc == TIX_OK ? (int64_t)rep[1]->integer : 0;
    for (int i = 0; i < 3; i++) {
        freeReplyObject(rep[i]);
    }
    return rc;
}
