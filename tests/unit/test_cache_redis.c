/* Unit tests for the Redis cache and bus (cache/redis*.c, cache/bus_redis.c) against a
 * throwaway redis-server on a free loopback port (started and stopped here by pid; the tests
 * are skipped when redis-server is not installed): get/set/bump, the event script and the
 * subscriber, and an outage (SIGSTOP) whose bump is replayed once Redis answers again. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "cache/bus.h"
#include "cache/cache.h"
#include "cache/factory.h"
#include "core/log.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t redis_pid;
static int redis_port;

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static bool redis_answers(void)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
    bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static int start_redis(void **state)
{
    (void)state;
    if (access("/usr/bin/redis-server", X_OK) != 0) {
        return 0; /* the tests skip */
    }
    redis_port = free_port();
    char port[16];
    snprintf(port, sizeof(port), "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl("/usr/bin/redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !redis_answers(); i++) {
        nap_ms(50);
    }
    return redis_answers() ? 0 : -1;
}

static int stop_redis(void **state)
{
    (void)state;
    if (redis_pid > 0) {
        kill(redis_pid, SIGCONT);
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    return 0;
}

static tix_config config(void)
{
    tix_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.redis_url, sizeof(cfg.redis_url), "redis://127.0.0.1:%d/0", redis_port);
    snprintf(cfg.cache_prefix, sizeof(cfg.cache_prefix), "u%d", (int)getpid());
    cfg.cache_enabled = true;
    cfg.cache_timeout_ms = 200;
    cfg.cache_pool_size = 2;
    cfg.event_backlog = 8;
    cfg.event_backlog_ttl_ms = 60000;
    return cfg;
}

static void test_get_set_bump(void **state)
{
    (void)state;
    if (redis_pid <= 0) {
        skip();
    }
    tix_config cfg = config();
    tix_cache *c = NULL;
    char err[128];
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_create(&cfg, &c, err, sizeof(err)), TIX_OK);
    assert_int_equal(tix_cache_set(c, "k", "v\0w", 3, 5000, 0), TIX_OK);
    assert_int_equal(tix_cache_set(c, "k", "zz", 2, 5000, TIX_CACHE_NX), TIX_OK);
    const char *keys[] = {"k", "nope"};
    char *vals[2];
    size_t lens[2];
    assert_int_equal(tix_cache_get(c, a, keys, 2, vals, lens), TIX_OK);
    assert_int_equal(lens[0], 3);
    assert_memory_equal(vals[0], "v\0w", 3);
    assert_null(vals[1]);
    int64_t v1 = 0;
    int64_t v2 = 0;
    assert_int_equal(tix_cache_bump(c, "counter", &v1), TIX_OK);
    assert_int_equal(tix_cache_bump(c, "counter", &v2), TIX_OK);
    assert_true(v1 > 1000000000000LL && v2 == v1 + 1); /* seeded from the clock */
    tix_cache_status st;
    tix_cache_status_get(c, &st);
    assert_true(st.up);
    assert_string_equal(st.backend, "redis");
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

typedef struct seen {
    pthread_mutex_t mu;
    int n;
    int refetch_all;
    int64_t last_id;
} seen;

static void sink(void *ctx, const tix_bus_event *ev)
{
    seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (ev->show_id == NULL) {
        s->refetch_all++;
    } else {
        s->n++;
        s->last_id = ev->id;
    }
    pthread_mutex_unlock(&s->mu);
}

static int seen_count(seen *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void test_bus_publish_and_backlog(void **state)
{
    (void)state;
    if (redis_pid <= 0) {
        skip();
    }
    tix_config cfg = config();
    tix_cache *c = NULL;
    tix_bus *b = NULL;
    seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    char err[128];
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_create(&cfg, &c, err, sizeof(err)), TIX_OK);
    assert_int_equal(tix_bus_create(c, &cfg, sink, &s, &b), TIX_OK);
    nap_ms(300); /* the subscriber connects */
    tix_bus_backlog bl;
    assert_int_equal(tix_bus_since(b, a, "shw_r", 0, &bl), TIX_OK);
    int64_t start = bl.current;
    int64_t id = 0;
    for (int i = 0; i < 3; i++) {
        tix_bus_event ev = {"shw_r", 0, "seats", "{\"x\":1}"};
        assert_int_equal(tix_bus_publish(b, a, &ev, &id), TIX_OK);
    }
    assert_true(id == start + 3);
    for (int i = 0; i < 100 && seen_count(&s) < 3; i++) {
        nap_ms(20);
    }
    assert_int_equal(seen_count(&s), 3);
    assert_true(s.last_id == start + 3);
    assert_int_equal(tix_bus_since(b, a, "shw_r", start + 1, &bl), TIX_OK);
    assert_false(bl.gap);
    assert_int_equal(bl.n, 2);
    assert_string_equal(bl.events[1].data, "{\"x\":1}");
    tix_bus_destroy(b);
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

static void test_outage_replays_bumps(void **state)
{
    (void)state;
    if (redis_pid <= 0) {
        skip();
    }
    tix_config cfg = config();
    tix_cache *c = NULL;
    char err[128];
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_create(&cfg, &c, err, sizeof(err)), TIX_OK);
    int64_t before = 0;
    assert_int_equal(tix_cache_bump(c, "outage", &before), TIX_OK);
    kill(redis_pid, SIGSTOP);
    int64_t v = 0;
    assert_int_equal(tix_cache_bump(c, "outage", &v), TIX_EUNAVAIL); /* times out: down */
    const char *key = "outage";
    char *val = NULL;
    size_t len = 0;
    assert_int_equal(tix_cache_get(c, a, &key, 1, &val, &len), TIX_EUNAVAIL); /* at once */
    tix_cache_status st;
    tix_cache_status_get(c, &st);
    assert_false(st.up);
    assert_true(st.pending >= 1);
    kill(redis_pid, SIGCONT);
    for (int i = 0; i < 40 && !st.up; i++) {
        nap_ms(100);
        tix_cache_status_get(c, &st); /* also tries to reconnect, once a second */
    }
    assert_true(st.up);
    assert_int_equal(st.pending, 0);
    assert_int_equal(tix_cache_get(c, a, &key, 1, &val, &len), TIX_OK);
    /* the bump made while down was replayed (the timed-out one may have run as well once
     * Redis woke up: a counter only has to move) */
    assert_true(strtoll(val, NULL, 10) > before);
    assert_true(strtoll(val, NULL, 10) <= before + 2);
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

int main(void)
{
    tix_log_set_level(TIX_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_set_bump),
        cmocka_unit_test(test_bus_publish_and_backlog),
        cmocka_unit_test(test_outage_replays_bumps),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
