/*
 * The Redis bus (REDIS_URL set). Publishing is one EVAL: bump "{show:ID}:ver", append
 * "<id> <name> <data>" to the list "{show:ID}:events" (trimmed to EVENT_BACKLOG, expiring
 * after EVENT_BACKLOG_TTL) and PUBLISH "<show_id> <id> <name> <data>" on "<prefix>:seat-events",
 * atomically, so ids, backlog and delivery agree and two publishers never interleave.
 *
 * One subscriber thread per process holds its own connection SUBSCRIBEd to that channel and
 * hands every message to the sink; a silent subscription is PINGed every second and given up
 * after 3 s without an answer. When the subscription breaks it reconnects (every second while
 * Redis is down; with Sentinel, to the primary the sentinels name now); every subscription after
 * the first tells the sink that events may have been lost (show_id NULL), so streams ask their
 * clients to refetch.
 */
#include "cache/backends.h"
#include "cache/bus.h"
#include "cache/redis_int.h"
#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char publish_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "local v = redis.call('INCR', KEYS[1])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "local e = string.format('%d', v) .. ' ' .. ARGV[6]\n"
    "redis.call('RPUSH', KEYS[2], e)\n"
    "redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[4])\n"
    "redis.call('PUBLISH', ARGV[5], ARGV[7] .. ' ' .. e)\n"
    "return v\n";

typedef struct redis_bus {
    tix_bus base;
    tix_redis *rd;
    char channel[96];
    pthread_t thread;
    bool started;
    atomic_bool stop;
} redis_bus;

static tix_rc redis_publish(tix_bus *b, tix_arena *a, const tix_bus_event *ev, int64_t *id)
{
    redis_bus *rb = (redis_bus *)b;
    char *ver = tix_cache_key_show(b->cache, a, ev->show_id, "ver");
    char *list = tix_cache_key_show(b->cache, a, ev->show_id, "events");
    char *seed = tix_arena_sprintf(a, "%" PRId64, tix_now_ms());
    char *vttl = tix_arena_sprintf(a, "%lld", TIX_CACHE_VERSION_TTL_MS);
    char *keep = tix_arena_sprintf(a, "%d", b->backlog);
    char *lttl = tix_arena_sprintf(a, "%" PRId64, b->backlog_ttl_ms);
    char *body = tix_arena_sprintf(a, "%s %s", ev->name, ev->data);
    const char *argv[] = {"EVAL", publish_script, "2",  ver,         list, seed,
                          vttl,   keep,           lttl, rb->channel, body, ev->show_id};
    tix_rconn *conn = NULL;
    bool broken = false;
    tix_rc rc = tix_redis_acquire(rb->rd, &conn);
    if (rc == TIX_OK) {
        /* argv[0..11]: EVAL, script, numkeys, 2 keys, 7 arguments */
        redisReply *r = redisCommandArgv(conn->c, 12, argv, NULL);
        if (tix_redis_reply_readonly(r)) { /* the primary was demoted: reconnect */
            tix_redis_flag_readonly(conn->c);
            freeReplyObject(r);
            r = NULL;
        }
        broken = r == NULL;
        rc = TIX_EUNAVAIL;
        *id = 0;
        if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
            rc = TIX_OK;
            *id = (int64_t)r->integer;
        } else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
            tix_log_error("bus: the publish script failed: %s", r->str);
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        tix_redis_release(rb->rd, conn, broken);
    }
    if (rc != TIX_OK) {
        /* The cached seat maps are invalidated when Redis is back; this process's streams
         * hear of the change now (other servers' streams refetch when they resubscribe). */
        tix_redis_pending_add(rb->rd, ver);
        tix_bus_event local = *ev;
        local.name = "refetch";
        b->sink(b->sink_ctx, &local);
    }
    return rc;
}

/* Parses the LRANGE reply into entries (in a). */
static int read_entries(tix_arena *a, const redisReply *r, const char *show_id, tix_bus_event **out)
{
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    tix_bus_event *ev = tix_arena_calloc(a, sizeof(*ev) * (n ? n : 1));
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING &&
            tix_bus_entry_parse(tix_arena_strndup(a, e->str, e->len), show_id, &ev[k])) {
            k++;
        }
    }
    *out = ev;
    return k;
}

static tix_rc redis_since(tix_bus *b, tix_arena *a, const char *show_id, int64_t after,
                          tix_bus_backlog *out)
{
    redis_bus *rb = (redis_bus *)b;
    const char *ver = tix_cache_key_show(b->cache, a, show_id, "ver");
    const char *list = tix_cache_key_show(b->cache, a, show_id, "events");
    const char *seed = tix_arena_sprintf(a, "%" PRId64, tix_now_ms());
    const char *ttl = tix_arena_sprintf(a, "%lld", TIX_CACHE_VERSION_TTL_MS);
    const char *set[] = {"SET", ver, seed, "PX", ttl, "NX"};
    const char *get[] = {"GET", ver};
    const char *range[] = {"LRANGE", list, "0", "-1"};
    const char *const *argv[] = {set, get, range};
    const int argc[] = {6, 2, 4};
    const size_t *lens[] = {NULL, NULL, NULL};
    redisReply *rep[3];
    tix_rconn *conn = NULL;
    if (tix_redis_acquire(rb->rd, &conn) != TIX_OK) {
        return TIX_EUNAVAIL;
    }
    bool ok = tix_redis_pipeline(conn->c, 3, argc, argv, lens, rep);
    tix_redis_release(rb->rd, conn, !ok);
    if (!ok) {
        return TIX_EUNAVAIL;
    }
    int64_t current = 0;
    bool has =
        rep[1]->type == REDIS_REPLY_STRING && tix_parse_int(rep[1]->str, 0, INT64_MAX, &current);
    tix_bus_event *entries = NULL;
    int n = has ? read_entries(a, rep[2], show_id, &entries) : 0;
    for (int i = 0; i < 3; i++) {
        freeReplyObject(rep[i]);
    }
    if (!has) {
        return TIX_EUNAVAIL;
    }
    tix_bus_backlog_fill(a, current, after, entries, n, out);
    return TIX_OK;
}

/* ---- the subscriber thread ---- */

/* A message of the channel: "<show_id> <id> <name> <data>". */
static void on_message(redis_bus *rb, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING) {
        return;
    }
    char *msg = strndup(r->element[2]->str, r->element[2]->len);
    char *sp = msg ? strchr(msg, ' ') : NULL;
    tix_bus_event ev;
    if (sp != NULL) {
        *sp = '\0';
        if (tix_bus_entry_parse(sp + 1, msg, &ev)) {
            rb->base.sink(rb->base.sink_ctx, &ev);
        }
    }
    free(msg);
}

/* Reads messages until the connection fails or the bus stops. A subscription silent for
 * BUS_PING_MS is sent a PING (its "pong" is ignored by on_message); one silent for BUS_DEAD_MS
 * is given up: a Redis that hangs (a partition, SIGSTOP) while the sentinels promote another
 * must not keep this server deaf to the other servers' events. */
#define BUS_PING_MS 1000
#define BUS_DEAD_MS 3000
static void listen(redis_bus *rb, redisContext *c)
{
    int64_t last_rx = tix_mono_ms();
    int64_t last_ping = last_rx;
    while (!atomic_load(&rb->stop)) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            return;
        }
        if (reply != NULL) {
            on_message(rb, reply);
            freeReplyObject(reply);
            continue;
        }
        int64_t now = tix_mono_ms();
        if (now - last_rx >= BUS_DEAD_MS) {
            tix_log_warn("bus: Redis has not answered for %d ms; subscribing again", BUS_DEAD_MS);
            return;
        }
        if (now - last_rx >= BUS_PING_MS && now - last_ping >= BUS_PING_MS) {
            int done = 0;
            if (redisAppendCommand(c, "PING") != REDIS_OK ||
                redisBufferWrite(c, &done) != REDIS_OK) {
                return;
            }
            last_ping = now;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pfd, 1, 250);
        if (n > 0) {
            if (redisBufferRead(c) != REDIS_OK) {
                return;
            }
            last_rx = tix_mono_ms();
        }
    }
}

static void nap_unless_stopped(redis_bus *rb, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&rb->stop); waited += 50) {
        struct timespec ts = {0, 50L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *subscriber_main(void *arg)
{
    redis_bus *rb = arg;
    int subscriptions = 0;
    while (!atomic_load(&rb->stop)) {
        char err[128];
        redisContext *c = tix_redis_connect(rb->rd, err, sizeof(err));
        redisReply *r = c ? redisCommand(c, "SUBSCRIBE %s", rb->channel) : NULL;
        if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
            if (subscriptions++ > 0) {
                tix_log_info("bus: subscribed to %s again", rb->channel);
                rb->base.sink(rb->base.sink_ctx, &(tix_bus_event){NULL, 0, "refetch", "{}"});
            }
            freeReplyObject(r);
            listen(rb, c);
        } else if (r != NULL) {
            freeReplyObject(r);
        }
        redisFree(c);
        nap_unless_stopped(rb, TIX_REDIS_RETRY_MS);
    }
    return NULL;
}

static void redis_bus_destroy(tix_bus *b)
{
    redis_bus *rb = (redis_bus *)b;
    atomic_store(&rb->stop, true);
    if (rb->started) {
        pthread_join(rb->thread, NULL);
    }
    free(rb);
}

static const tix_bus_ops redis_bus_ops = {redis_publish, redis_since, redis_bus_destroy};

tix_rc tix_bus_redis_create(tix_cache *cache, const tix_config *cfg, tix_bus_sink sink,
                            void *sink_ctx, tix_bus **out)
{
    redis_bus *rb = calloc(1, sizeof(*rb));
    if (rb == NULL) {
        return TIX_ENOMEM;
    }
    rb->base = (tix_bus){&redis_bus_ops,           cache, sink, sink_ctx, cfg->event_backlog,
                         cfg->event_backlog_ttl_ms};
    rb->rd = (tix_redis *)cache;
    snprintf(rb->channel, sizeof(rb->channel), "%s:seat-events", cache->prefix);
    rb->started = pthread_create(&rb->thread, NULL, subscriber_main, rb) == 0;
    if (!rb->started) {
        free(rb);
        return TIX_ENOMEM;
    }
    *out = &rb->base;
    return TIX_OK;
}
