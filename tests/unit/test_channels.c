/* Unit tests for http/channels: the registry (channels made and freed with their subscribers)
 * and the resume logic SSE and WebSockets share (held-back events, ids skipped after a
 * backlog, the overflow refetch, the start kinds). A fake owner records what it was asked to
 * send. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/channels.h"

#include <stdio.h>
#include <string.h>

typedef struct fake {
    tix_chan_sub sub; /* first, as the owners embed it */
    char out[8192];   /* what was sent, each text followed by '|' */
} fake;

static void fake_send(tix_chan_sub *s, const char *text, size_t n)
{
    fake *f = (fake *)s;
    size_t len = strlen(f->out);
    snprintf(f->out + len, sizeof(f->out) - len, "%.*s|", (int)n, text);
}

static void fake_refetch(tix_chan_sub *s, const char *reason)
{
    fake *f = (fake *)s;
    size_t len = strlen(f->out);
    snprintf(f->out + len, sizeof(f->out) - len, "refetch:%s|", reason);
}

static const tix_chan_ops fake_ops = {fake_send, fake_refetch};

static void give(tix_chan_reg *r, const char *key, int64_t id)
{
    char text[32];
    snprintf(text, sizeof(text), "e%lld", (long long)id);
    for (tix_chan_sub *s = tix_chan_first(r, key); s != NULL; s = s->next) {
        tix_chan_give(r, s, id, text, strlen(text));
    }
}

static void test_channels_come_and_go_with_subscribers(void **state)
{
    (void)state;
    static tix_chan_reg r;
    tix_chan_init(&r, &fake_ops);
    fake a = {0}, b = {0}, c = {0};
    assert_int_equal(tix_chan_start(&r, &a.sub, "show1", 0), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &b.sub, "show1", 0), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &c.sub, "user:u1", 0), TIX_OK);
    assert_int_equal(r.nchans, 2);
    assert_int_equal(r.nsubs, 3);
    assert_string_equal(tix_chan_key(&c.sub), "user:u1");
    assert_ptr_equal(tix_chan_first(&r, "show1"), &b.sub); /* newest first */
    assert_ptr_equal(b.sub.next, &a.sub);
    assert_null(tix_chan_first(&r, "show2"));
    tix_chan_stop(&r, &b.sub);
    assert_ptr_equal(tix_chan_first(&r, "show1"), &a.sub);
    assert_null(b.sub.chan);
    tix_chan_stop(&r, &a.sub);
    assert_null(tix_chan_first(&r, "show1"));
    assert_int_equal(r.nchans, 1);
    tix_chan_stop(&r, &c.sub);
    assert_int_equal(r.nchans, 0);
    assert_int_equal(r.nsubs, 0);
    tix_chan_close(&r);
}

static void test_priming_holds_back_then_skips_what_the_backlog_sent(void **state)
{
    (void)state;
    static tix_chan_reg r;
    tix_chan_init(&r, &fake_ops);
    fake f = {0};
    assert_int_equal(tix_chan_start(&r, &f.sub, "s", 5), TIX_OK);
    give(&r, "s", 7); /* published while the backlog is read: held back */
    give(&r, "s", 8);
    assert_string_equal(f.out, "");
    tix_bus_event evs[2] = {{"s", 6, "seats", "{}"}, {"s", 7, "seats", "{}"}};
    tix_bus_backlog b = {.current = 7, .events = evs, .n = 2};
    assert_int_equal(tix_chan_resume(&f.sub, &b), TIX_CHAN_REPLAY);
    tix_chan_primed(&r, &f.sub, &b);
    assert_string_equal(f.out, "e8|"); /* 7 came with the backlog */
    assert_int_equal(f.sub.last_id, 8);
    give(&r, "s", 8); /* a duplicate */
    give(&r, "s", 0); /* unnumbered: always */
    give(&r, "s", 9);
    assert_string_equal(f.out, "e8|e0|e9|");
    tix_chan_stop(&r, &f.sub);
    tix_chan_close(&r);
}

static void test_start_kinds_and_last_id(void **state)
{
    (void)state;
    static tix_chan_reg r;
    tix_chan_init(&r, &fake_ops);
    fake fresh = {0}, unknown = {0}, expired = {0}, ahead = {0};
    assert_int_equal(tix_chan_start(&r, &fresh.sub, "s", 0), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &unknown.sub, "s", 3), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &expired.sub, "s", 3), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &ahead.sub, "s", 50), TIX_OK);
    tix_bus_backlog cur = {.current = 20};
    tix_bus_backlog gap = {.current = 20, .gap = true};
    assert_int_equal(tix_chan_resume(&fresh.sub, &cur), TIX_CHAN_FRESH);
    assert_int_equal(tix_chan_resume(&fresh.sub, NULL), TIX_CHAN_FRESH);
    assert_int_equal(tix_chan_resume(&unknown.sub, NULL), TIX_CHAN_UNAVAILABLE);
    assert_int_equal(tix_chan_resume(&expired.sub, &gap), TIX_CHAN_EXPIRED);
    assert_int_equal(tix_chan_resume(&ahead.sub, &cur), TIX_CHAN_REPLAY);
    tix_chan_primed(&r, &fresh.sub, &cur);
    tix_chan_primed(&r, &unknown.sub, NULL);
    tix_chan_primed(&r, &expired.sub, &gap);
    tix_chan_primed(&r, &ahead.sub, &cur);
    assert_int_equal(fresh.sub.last_id, 20);
    assert_int_equal(unknown.sub.last_id, 3); /* the bus could not say: kept */
    assert_int_equal(expired.sub.last_id, 20);
    assert_int_equal(ahead.sub.last_id, 50); /* ahead of the bus: its own */
    tix_chan_stop(&r, &fresh.sub);
    tix_chan_stop(&r, &unknown.sub);
    tix_chan_stop(&r, &expired.sub);
    tix_chan_stop(&r, &ahead.sub);
    tix_chan_close(&r);
}

static void test_too_many_held_back_is_one_refetch(void **state)
{
    (void)state;
    static tix_chan_reg r;
    tix_chan_init(&r, &fake_ops);
    fake f = {0}, g = {0};
    assert_int_equal(tix_chan_start(&r, &f.sub, "s", 0), TIX_OK);
    assert_int_equal(tix_chan_start(&r, &g.sub, "s", 0), TIX_OK);
    for (int64_t id = 11; id <= 10 + TIX_CHAN_HELD_MAX + 5; id++) {
        give(&r, "s", id);
    }
    assert_int_equal(f.sub.nheld, TIX_CHAN_HELD_MAX);
    tix_bus_backlog b = {.current = 10};
    tix_chan_primed(&r, &f.sub, &b);
    assert_string_equal(f.out, "refetch:events_lost|");
    assert_int_equal(f.sub.nheld, 0);
    tix_chan_stop(&r, &f.sub);
    tix_chan_stop(&r, &g.sub); /* still priming: its held events are freed (ASan: no leak) */
    tix_chan_close(&r);
}

static void count_one(tix_chan_sub *s, void *ctx)
{
    (void)s;
    (*(int *)ctx)++;
}

static void test_each_visits_every_subscriber(void **state)
{
    (void)state;
    static tix_chan_reg r;
    tix_chan_init(&r, &fake_ops);
    static fake fs[300];
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "show%d", i % 40);
        assert_int_equal(tix_chan_start(&r, &fs[i].sub, key, 0), TIX_OK);
    }
    int n = 0;
    tix_chan_each(&r, count_one, &n);
    assert_int_equal(n, 300);
    assert_int_equal(r.nchans, 40);
    for (int i = 0; i < 300; i++) {
        tix_chan_stop(&r, &fs[i].sub);
    }
    tix_chan_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channels_come_and_go_with_subscribers),
        cmocka_unit_test(test_priming_holds_back_then_skips_what_the_backlog_sent),
        cmocka_unit_test(test_start_kinds_and_last_id),
        cmocka_unit_test(test_too_many_held_back_is_one_refetch),
        cmocka_unit_test(test_each_visits_every_subscriber),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
