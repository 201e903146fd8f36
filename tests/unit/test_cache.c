/* Unit tests for the in-process cache and bus (cache/local.c, cache/bus.c), REDIS_URL parsing,
 * key names, backlog arithmetic and the seat event's JSON. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/seat_events.h"
#include "cache/backends.h"
#include "cache/bus.h"
#include "cache/cache.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_now = INT64_C(1795600800000);

static int64_t fake_clock(void)
{
    return fake_now;
}

static tix_config config(void)
{
    tix_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.cache_prefix, sizeof(cfg.cache_prefix), "t");
    cfg.cache_enabled = true;
    cfg.cache_max_bytes = 1 << 20;
    cfg.cache_ttl_ms = 60000;
    cfg.cache_timeout_ms = 200;
    cfg.cache_pool_size = 2;
    cfg.event_backlog = 4;
    cfg.event_backlog_ttl_ms = 3600000;
    return cfg;
}

/* ---- REDIS_URL ---- */

static void test_redis_url(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool ok;
        const char *host, *path, *user, *password;
        int port, db;
    } cases[] = {
        {"redis://localhost", true, "localhost", "", "", "", 6379, 0},
        {"redis://127.0.0.1:6380/2", true, "127.0.0.1", "", "", "", 6380, 2},
        {"redis://:s3cret@cache:7000", true, "cache", "", "", "s3cret", 7000, 0},
        {"redis://app:pw@cache/3", true, "cache", "", "app", "pw", 6379, 3},
        {"redis://cache/", true, "cache", "", "", "", 6379, 0},
        {"unix:///run/redis.sock", true, "", "/run/redis.sock", "", "", 6379, 0},
        {"unix:///run/redis.sock?db=5", true, "", "/run/redis.sock", "", "", 6379, 5},
        {"redis://", false, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:0", false, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:70000", false, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:x", false, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h/x", false, NULL, NULL, NULL, NULL, 0, 0},
        {"unix://relative.sock", false, NULL, NULL, NULL, NULL, 0, 0},
        {"unix:///s?x=1", false, NULL, NULL, NULL, NULL, 0, 0},
        {"http://h", false, NULL, NULL, NULL, NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tix_redis_addr a;
        char err[128] = "";
        bool ok = tix_redis_url_parse(cases[i].url, &a, err, sizeof(err));
        if (ok != cases[i].ok) {
            fail_msg("%s: ok=%d (%s)", cases[i].url, ok, err);
        }
        if (!ok) {
            assert_true(strncmp(err, "REDIS_URL", 9) == 0);
            continue;
        }
        assert_string_equal(a.host, cases[i].host);
        assert_string_equal(a.unix_path, cases[i].path);
        assert_string_equal(a.user, cases[i].user);
        assert_string_equal(a.password, cases[i].password);
        assert_int_equal(a.port, cases[i].port);
        assert_int_equal(a.db, cases[i].db);
    }
}

static void test_redis_sentinel_url(void **state)
{
    (void)state;
    tix_redis_addr a;
    char err[128] = "";
    assert_true(tix_redis_url_parse("redis+sentinel://s1,s2:26380,10.0.0.3:5000/mymaster", &a, err,
                                    sizeof(err)));
    assert_string_equal(a.master, "mymaster");
    assert_int_equal(a.nsentinels, 3);
    assert_string_equal(a.sentinels[0].host, "s1");
    assert_int_equal(a.sentinels[0].port, 26379);
    assert_string_equal(a.sentinels[1].host, "s2");
    assert_int_equal(a.sentinels[1].port, 26380);
    assert_string_equal(a.sentinels[2].host, "10.0.0.3");
    assert_int_equal(a.sentinels[2].port, 5000);
    assert_int_equal(a.db, 0);
    assert_string_equal(a.password, "");
    assert_true(
        tix_redis_url_parse("redis+sentinel://app:pw@s1:26379/cache-1/4", &a, err, sizeof(err)));
    assert_string_equal(a.user, "app");
    assert_string_equal(a.password, "pw");
    assert_string_equal(a.master, "cache-1");
    assert_int_equal(a.nsentinels, 1);
    assert_int_equal(a.db, 4);
    const char *bad[] = {
        "redis+sentinel://",       "redis+sentinel://s1",
        "redis+sentinel://s1/",    "redis+sentinel://s1:0/m",
        "redis+sentinel://s1,/m",  "redis+sentinel://,s1/m",
        "redis+sentinel://s1/m/x", "redis+sentinel://s1/m%20x",
        "redis+sentinel://s1:x/m", "redis+sentinel://a,b,c,d,e,f,g,h,i/m",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tix_redis_url_parse(bad[i], &a, err, sizeof(err))) {
            fail_msg("%s: accepted", bad[i]);
        }
        assert_true(strncmp(err, "REDIS_URL", 9) == 0);
    }
}

/* ---- the in-process store ---- */

static void test_local_get_set_ttl(void **state)
{
    (void)state;
    tix_config cfg = config();
    tix_cache *c = NULL;
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    assert_int_equal(tix_cache_set(c, "k1", "hello", 5, 1000, 0), TIX_OK);
    assert_int_equal(tix_cache_set(c, "k2", "x\0y", 3, 5000, 0), TIX_OK);
    const char *keys[] = {"k1", "k2", "missing"};
    char *vals[3];
    size_t lens[3];
    assert_int_equal(tix_cache_get(c, a, keys, 3, vals, lens), TIX_OK);
    assert_string_equal(vals[0], "hello");
    assert_int_equal(lens[1], 3);
    assert_memory_equal(vals[1], "x\0y", 3);
    assert_null(vals[2]);
    /* NX leaves an existing value alone */
    assert_int_equal(tix_cache_set(c, "k1", "other", 5, 1000, TIX_CACHE_NX), TIX_OK);
    assert_int_equal(tix_cache_get(c, a, keys, 1, vals, lens), TIX_OK);
    assert_string_equal(vals[0], "hello");
    /* expiry by the clock */
    fake_now += 1001;
    assert_int_equal(tix_cache_get(c, a, keys, 2, vals, lens), TIX_OK);
    assert_null(vals[0]);
    assert_non_null(vals[1]);
    tix_cache_status st;
    tix_cache_status_get(c, &st);
    assert_true(st.up);
    assert_string_equal(st.backend, "in-process");
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

static void test_local_bump_seeds_and_counts(void **state)
{
    (void)state;
    tix_config cfg = config();
    tix_cache *c = NULL;
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    int64_t v = 0;
    assert_int_equal(tix_cache_bump(c, "ver", &v), TIX_OK);
    assert_true(v == fake_now + 1);
    int64_t first = v;
    assert_int_equal(tix_cache_bump(c, "ver", &v), TIX_OK);
    assert_true(v == first + 1);
    const char *key = "ver";
    char *val = NULL;
    size_t len = 0;
    assert_int_equal(tix_cache_get(c, a, &key, 1, &val, &len), TIX_OK);
    char want[24];
    snprintf(want, sizeof(want), "%lld", (long long)(first + 1));
    assert_string_equal(val, want);
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

static void test_local_eviction_keeps_counters(void **state)
{
    (void)state;
    tix_config cfg = config(); /* 1 MiB */
    tix_cache *c = NULL;
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    int64_t v = 0;
    assert_int_equal(tix_cache_bump(c, "counter", &v), TIX_OK);
    char *big = calloc(1, 64 * 1024);
    assert_non_null(big);
    for (int i = 0; i < 100; i++) { /* 6.4 MiB through a 1 MiB store */
        char key[32];
        snprintf(key, sizeof(key), "entry%d", i);
        assert_int_equal(tix_cache_set(c, key, big, 64 * 1024, 60000, 0), TIX_OK);
    }
    const char *keys[] = {"counter", "entry0", "entry99"};
    char *vals[3];
    size_t lens[3];
    assert_int_equal(tix_cache_get(c, a, keys, 3, vals, lens), TIX_OK);
    assert_non_null(vals[0]); /* pinned */
    assert_null(vals[1]);     /* the coldest went */
    assert_non_null(vals[2]);
    free(big);
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

static void test_key_names(void **state)
{
    (void)state;
    tix_config cfg = config();
    tix_cache *c = NULL;
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    assert_string_equal(tix_cache_key_show(c, a, "shw_1", "ver"), "t:{show:shw_1}:ver");
    assert_string_equal(tix_cache_key_user(c, a, "usr_1", "ver"), "t:{user:usr_1}:ver");
    assert_string_equal(tix_cache_key_catalog(c, a, "movies:ab"), "t:{catalog}:movies:ab");
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

/* ---- the backlog ---- */

static void test_backlog_fill(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    tix_bus_event ev[3] = {
        {"s", 11, "seats", "{}"}, {"s", 12, "seats", "{}"}, {"s", 13, "seats", "{}"}};
    static const struct {
        int64_t current, after;
        int n;
        bool gap;
        int want;
        int64_t first;
    } cases[] = {
        {13, 0, 3, false, 0, 0},                           /* a new client: nothing to replay */
        {13, 13, 3, false, 0, 0},                          /* up to date */
        {13, 10, 3, false, 3, 11},                         /* everything after 10 */
        {13, 12, 3, false, 1, 13}, {13, 9, 3, true, 0, 0}, /* 10 is no longer kept */
        {13, 20, 3, true, 0, 0}, /* an id from the future: the counter was lost */
        {14, 12, 3, true, 0, 0}, /* 14 was bumped without an event (an outage) */
        {13, 10, 0, true, 0, 0}, /* the backlog expired */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tix_bus_backlog b;
        tix_bus_backlog_fill(a, cases[i].current, cases[i].after, ev, cases[i].n, &b);
        if (b.gap != cases[i].gap || b.n != cases[i].want) {
            fail_msg("case %zu: gap=%d n=%d", i, b.gap, b.n);
        }
        if (b.n > 0) {
            assert_true(b.events[0].id == cases[i].first);
        }
        assert_true(b.current == cases[i].current);
    }
    tix_arena_destroy(a);
}

static void test_entry_parse(void **state)
{
    (void)state;
    char ok[] = "42 seats {\"a\": 1}";
    tix_bus_event ev;
    assert_true(tix_bus_entry_parse(ok, "shw", &ev));
    assert_true(ev.id == 42);
    assert_string_equal(ev.name, "seats");
    assert_string_equal(ev.data, "{\"a\": 1}");
    char bad1[] = "x seats {}";
    char bad2[] = "42seats";
    char bad3[] = "0 seats {}";
    assert_false(tix_bus_entry_parse(bad1, "s", &ev));
    assert_false(tix_bus_entry_parse(bad2, "s", &ev));
    assert_false(tix_bus_entry_parse(bad3, "s", &ev));
}

/* ---- the in-process bus ---- */

typedef struct seen {
    int n;
    int64_t ids[16];
    char last[256];
} seen;

static void sink(void *ctx, const tix_bus_event *ev)
{
    seen *s = ctx;
    if (s->n < 16) {
        s->ids[s->n] = ev->id;
    }
    s->n++;
    snprintf(s->last, sizeof(s->last), "%s %s %s", ev->show_id ? ev->show_id : "-", ev->name,
             ev->data);
}

static void test_local_bus(void **state)
{
    (void)state;
    tix_config cfg = config(); /* backlog of 4 */
    tix_cache *c = NULL;
    tix_bus *b = NULL;
    seen s = {0};
    tix_arena *a = tix_arena_create(0);
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    assert_int_equal(tix_bus_local_create(c, &cfg, sink, &s, &b), TIX_OK);
    tix_bus_backlog bl;
    assert_int_equal(tix_bus_since(b, a, "shw_1", 0, &bl), TIX_OK);
    int64_t start = bl.current;
    assert_true(start == fake_now); /* created from the clock */
    for (int i = 0; i < 6; i++) {
        int64_t id = 0;
        tix_bus_event ev = {"shw_1", 0, "seats", "{\"n\":1}"};
        assert_int_equal(tix_bus_publish(b, a, &ev, &id), TIX_OK);
        assert_true(id == start + 1 + i);
    }
    assert_int_equal(s.n, 6);
    assert_true(s.ids[5] == start + 6);
    assert_string_equal(s.last, "shw_1 seats {\"n\":1}");
    /* the version counter the seat-map cache reads is the same number */
    const char *key = tix_cache_key_show(c, a, "shw_1", "ver");
    char *val = NULL;
    size_t len = 0;
    assert_int_equal(tix_cache_get(c, a, &key, 1, &val, &len), TIX_OK);
    assert_true(strtoll(val, NULL, 10) == start + 6);
    assert_int_equal(tix_bus_since(b, a, "shw_1", start + 3, &bl), TIX_OK);
    assert_false(bl.gap);
    assert_int_equal(bl.n, 3);
    assert_true(bl.events[0].id == start + 4);
    assert_int_equal(tix_bus_since(b, a, "shw_1", start + 1, &bl), TIX_OK);
    assert_true(bl.gap); /* only 4 kept: start+3 .. start+6 */
    assert_int_equal(tix_bus_since(b, a, "shw_2", 5, &bl), TIX_OK);
    assert_true(bl.gap);
    tix_bus_destroy(b);
    tix_arena_destroy(a);
    tix_cache_destroy(c);
}

static void test_seat_event_json(void **state)
{
    (void)state;
    const char *ids[] = {"st_1", "st_2"};
    char *j = tix_seat_event_json("shw_1", ids, 2, "held", INT64_C(1795600800000));
    assert_string_equal(j, "{\"show_id\":\"shw_1\",\"seats\":[\"st_1\",\"st_2\"],\"status\":"
                           "\"held\",\"expires_at\":\"2026-11-25T10:00:00.000Z\"}");
    free(j);
    j = tix_seat_event_json("shw_1", ids, 1, "available", 0);
    assert_string_equal(j, "{\"show_id\":\"shw_1\",\"seats\":[\"st_1\"],\"status\":\"available\"}");
    free(j);
}

static void test_seat_events_publish(void **state)
{
    (void)state;
    tix_config cfg = config();
    tix_cache *c = NULL;
    tix_bus *b = NULL;
    seen s = {0};
    assert_int_equal(tix_cache_local_create(&cfg, &c), TIX_OK);
    assert_int_equal(tix_bus_local_create(c, &cfg, sink, &s, &b), TIX_OK);
    const char *ids[] = {"st_9"};
    tix_seats_changed("shw_7", ids, 1, "booked", 0); /* nothing attached: nothing happens */
    assert_int_equal(s.n, 0);
    tix_seat_events_attach(c, b);
    tix_seats_changed("shw_7", ids, 1, "booked", 0);
    tix_seats_changed("shw_7", ids, 0, "booked", 0); /* no seats: no event */
    assert_int_equal(s.n, 1);
    assert_string_equal(s.last,
                        "shw_7 seats {\"show_id\":\"shw_7\",\"seats\":[\"st_9\"],\"status\":"
                        "\"booked\"}");
    tix_bookings_changed("usr_1");
    tix_catalog_changed();
    tix_arena *a = tix_arena_create(0);
    const char *keys[] = {"t:{user:usr_1}:ver", "t:{catalog}:ver"};
    char *vals[2];
    size_t lens[2];
    assert_int_equal(tix_cache_get(c, a, keys, 2, vals, lens), TIX_OK);
    assert_non_null(vals[0]);
    assert_non_null(vals[1]);
    tix_seat_events_attach(NULL, NULL);
    tix_arena_destroy(a);
    tix_bus_destroy(b);
    tix_cache_destroy(c);
}

int main(void)
{
    tix_clock_set(fake_clock);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_redis_sentinel_url),
        cmocka_unit_test(test_local_get_set_ttl),
        cmocka_unit_test(test_local_bump_seeds_and_counts),
        cmocka_unit_test(test_local_eviction_keeps_counters),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_backlog_fill),
        cmocka_unit_test(test_entry_parse),
        cmocka_unit_test(test_local_bus),
        cmocka_unit_test(test_seat_event_json),
        cmocka_unit_test(test_seat_events_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
