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

bool tix_redis_reply_readonly(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
           strstr(r->str, "READONLY") != NULL;
}

void tix_redis_flag_readonly(redisContext *c)
{
    c->err = REDIS_ERR_OTHER;
    snprintf(c->errstr, sizeof(c->errstr), "READONLY: the node is a replica now");
}

/* Connects to one node (host:port, or path when non-empty) with the time-outs set. */
static redisContext *open_socket(const char *host, int port, const char *path, int timeout_ms,
                                 char *err, size_t errlen)
{
    struct timeval tv = tv_of(timeout_ms);
    redisContext *c =
        path[0] ? redisConnectUnixWithTimeout(path, tv) : redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot connect to %s: %s", path[0] ? path : host,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "cannot set the time-out: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* AUTH, ROLE (when check_role: it must say master) and SELECT on a new connection. */
static bool setup_node(const tix_redis *rd, redisContext *c, bool check_role, char *err,
                       size_t errlen)
{
    const tix_redis_addr *a = &rd->addr;
    bool ok = true;
    if (a->password[0] && a->user[0]) {
        const char *argv[] = {"AUTH", a->user, a->password};
        ok = setup_command(c, 3, argv, err, errlen);
    } else if (a->password[0]) {
        const char *argv[] = {"AUTH", a->password};
        ok = setup_command(c, 2, argv, err, errlen);
    }
    if (ok && check_role) {
        redisReply *r = redisCommand(c, "ROLE");
        ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
        if (!ok) {
            snprintf(err, errlen, "%s:%d is not a master (ROLE says %s)", c->tcp.host, c->tcp.port,
                     r == NULL ? c->errstr
                     : r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                             r->element[0]->type == REDIS_REPLY_STRING
                         ? r->element[0]->str
                         : "something else");
        }
        freeReplyObject(r);
    }
    char db[16];
    snprintf(db, sizeof(db), "%d", a->db);
    if (ok && a->db != 0) {
        const char *argv[] = {"SELECT", db};
        ok = setup_command(c, 2, argv, err, errlen);
    }
    return ok;
}

/* Asks sentinel i for the primary's address. false with err filled. */
static bool ask_sentinel(const tix_redis *rd, int i, char *host, size_t hostcap, int *port,
                         char *err, size_t errlen)
{
    const char *sh = rd->addr.sentinels[i].host;
    int sp = rd->addr.sentinels[i].port;
    char why[160];
    redisContext *c = open_socket(sh, sp, "", rd->timeout_ms, why, sizeof(why));
    redisReply *r =
        c ? redisCommand(c, "SENTINEL get-master-addr-by-name %s", rd->addr.master) : NULL;
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_STRING &&
              r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < hostcap;
    int64_t v = 0;
    ok = ok && tix_parse_int(r->element[1]->str, 1, 65535, &v);
    if (ok) {
        memcpy(host, r->element[0]->str, r->element[0]->len + 1);
        *port = (int)v;
    } else {
        snprintf(err, errlen, "sentinel %s:%d: %s", sh, sp,
                 c == NULL                      ? why
                 : r == NULL                    ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_NIL   ? "does not know that master"
                                                : "an unexpected answer");
    }
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* Sentinel mode: the primary the first sentinel that answers names, checked with ROLE; a
 * replica (a stale answer) sends us to the next sentinel. */
static redisContext *connect_via_sentinels(tix_redis *rd, char *err, size_t errlen)
{
    int n = rd->addr.nsentinels;
    pthread_mutex_lock(&rd->mu);
    int first = rd->sentinel_next;
    pthread_mutex_unlock(&rd->mu);
    for (int k = 0; k < n; k++) {
        int i = (first + k) % n;
        char host[256];
        int port = 0;
        if (!ask_sentinel(rd, i, host, sizeof(host), &port, err, errlen)) {
            continue;
        }
        redisContext *c = open_socket(host, port, "", rd->timeout_ms, err, errlen);
        if (c != NULL && !setup_node(rd, c, true, err, errlen)) {
            redisFree(c);
            c = NULL;
        }
        if (c == NULL) {
            continue;
        }
        char where[300];
        snprintf(where, sizeof(where), "%s:%d", host, port);
        pthread_mutex_lock(&rd->mu);
        rd->sentinel_next = i;
        bool moved = rd->primary[0] != '\0' && strcmp(rd->primary, where) != 0;
        if (moved) {
            tix_log_warn("cache: the Redis primary of %s moved from %s to %s; every cached "
                         "answer is invalidated",
                         rd->addr.master, rd->primary, where);
            rd->pending_overflow = true; /* the catalogue bump, replayed before going up */
        }
        snprintf(rd->primary, sizeof(rd->primary), "%s", where);
        pthread_mutex_unlock(&rd->mu);
        if (moved) {
            /* connections to the old primary go; the next acquire probes (and replays) now */
            tix_redis_mark_down(rd, "the primary moved");
            pthread_mutex_lock(&rd->mu);
            rd->retry_at_ms = tix_mono_ms();
            pthread_mutex_unlock(&rd->mu);
        }
        return c;
    }
    return NULL;
}

redisContext *tix_redis_connect(tix_redis *rd, char *err, size_t errlen)
{
    const tix_redis_addr *a = &rd->addr;
    if (a->master[0]) {
        return connect_via_sentinels(rd, err, errlen);
    }
    redisContext *c = open_socket(a->host, a->port, a->unix_path, rd->timeout_ms, err, errlen);
    if (c != NULL && !setup_node(rd, c, false, err, errlen)) {
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
        rd->retry_at_ms = tix_mono_ms() + TIX_REDIS_RETRY_MIN_MS;
        rd->backoff_ms = 2 * TIX_REDIS_RETRY_MIN_MS;
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

/* While down: one caller at a time tries to reconnect, backing off (see redis_int.h). Called with
 * mu held; returns with it released. */
static tix_rc probe(tix_redis *rd, tix_rconn **out)
{
    if (rd->probing || tix_mono_ms() < rd->retry_at_ms) {
        pthread_mutex_unlock(&rd->mu);
        return TIX_EUNAVAIL;
    }
    rd->probing = true;
    int wait = rd->backoff_ms > 0 ? rd->backoff_ms : TIX_REDIS_RETRY_MS;
    rd->retry_at_ms = tix_mono_ms() + wait;
    rd->backoff_ms = wait * 2 < TIX_REDIS_RETRY_MS ? wait * 2 : TIX_REDIS_RETRY_MS;
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
    pthread_mutex_lock(&rd->mu);
    bool stale = rd->gen != gen; /* the primary moved meanwhile: the probe replays first */
    if (conn == NULL || stale) {
        rd->busy--;
    }
    pthread_mutex_unlock(&rd->mu);
    if (conn == NULL || stale) {
        redisFree(c);
        free(conn);
        if (!stale) {
            tix_redis_mark_down(rd, c ? "out of memory" : err);
        }
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
    for (int i = 0; i < n; i++) {
        if (tix_redis_reply_readonly(replies[i])) { /* demoted: as good as disconnected */
            for (int k = 0; k < n; k++) {
                freeReplyObject(replies[k]);
                replies[k] = NULL;
            }
            tix_redis_flag_readonly(c);
            return false;
        }
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
