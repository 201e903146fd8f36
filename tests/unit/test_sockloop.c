/* Unit tests for http/sockloop: a ready socket reaches on_io with its pointer and events, with
 * the owner's mutex held, and bury follows in the same batch; a socket dropped in on_io (del,
 * close) is still there for bury; ticks come tick_ms apart at the least; stop and close are
 * safe twice and on a loop never started.
 *
 * The test thread waits on a condition variable that the callbacks signal (they run with the
 * test's mutex held, as the hubs' run with theirs), with a generous deadline that turns a loop
 * that never calls back into a failure instead of a hang; no assertion depends on the machine
 * being quick, only on order and on lower bounds of time. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/util.h"
#include "http/sockloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What the callbacks saw (guarded by mu, the loop's owner mutex). */
typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tix_sockloop loop;
    int fds[2];        /* a socket pair: the loop watches fds[0] */
    void *sock;        /* the pointer on_io got */
    uint32_t events;   /* and its events */
    int ios;           /* on_io calls */
    int buries;        /* bury calls */
    int bury_after_io; /* bury calls that came after an on_io since the last bury */
    bool io_pending;
    bool mu_held;       /* every callback found mu locked (trylock failed) */
    bool drop_in_io;    /* on_io takes the socket out and closes it */
    bool dropped;       /* ... and did */
    bool bury_saw_drop; /* bury ran after the drop */
    int ticks;
    int64_t tick_at[8];
} seen;

static void check_held(seen *s)
{
    if (pthread_mutex_trylock(&s->mu) == 0) {
        pthread_mutex_unlock(&s->mu);
        s->mu_held = false;
    }
}

static void on_io(void *owner, void *sock, uint32_t events)
{
    seen *s = owner;
    check_held(s);
    s->ios++;
    s->sock = sock;
    s->events = events;
    s->io_pending = true;
    char buf[64];
    while (s->fds[0] >= 0 && recv(s->fds[0], buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    if (s->drop_in_io && !s->dropped) {
        assert_int_equal(tix_sockloop_del(&s->loop, s->fds[0]), 0);
        close(s->fds[0]);
        s->fds[0] = -1;
        s->dropped = true;
    }
    pthread_cond_broadcast(&s->cv);
}

static void tick(void *owner, int64_t now)
{
    seen *s = owner;
    check_held(s);
    if (s->ticks < 8) {
        s->tick_at[s->ticks] = now;
    }
    s->ticks++;
    pthread_cond_broadcast(&s->cv);
}

static void bury(void *owner)
{
    seen *s = owner;
    check_held(s);
    s->buries++;
    if (s->io_pending) {
        s->bury_after_io++;
        s->io_pending = false;
    }
    if (s->dropped) {
        s->bury_saw_drop = true;
    }
    pthread_cond_broadcast(&s->cv);
}

static const tix_sockloop_ops ops = {on_io, tick, bury};

static void set_up(seen *s, int64_t tick_ms)
{
    memset(s, 0, sizeof(*s));
    s->mu_held = true;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s->fds), 0);
    assert_int_equal(tix_sockloop_init(&s->loop, &s->mu, &ops, s, tick_ms), TIX_OK);
}

static void tear_down(seen *s)
{
    tix_sockloop_stop(&s->loop);
    tix_sockloop_close(&s->loop);
    if (s->fds[0] >= 0) {
        close(s->fds[0]);
    }
    close(s->fds[1]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Waits (mu held) until *what >= n, 30 s at most; false on the deadline. */
static bool wait_for(seen *s, const int *what, int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    while (*what < n) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            return false;
        }
    }
    return true;
}

static void test_ready_socket_reaches_on_io_then_bury(void **state)
{
    (void)state;
    seen s;
    set_up(&s, 60000);
    int token = 0;
    assert_int_equal(tix_sockloop_add(&s.loop, s.fds[0], &token), 0);
    assert_int_equal(tix_sockloop_start(&s.loop), TIX_OK);
    assert_int_equal(write(s.fds[1], "x", 1), 1);
    pthread_mutex_lock(&s.mu);
    assert_true(wait_for(&s, &s.bury_after_io, 1));
    assert_ptr_equal(s.sock, &token);
    assert_true(s.events & EPOLLIN);
    assert_false(s.events & EPOLLOUT);
    /* EPOLLOUT only once asked for (a socket pair is writable at once) */
    int ios = s.ios;
    bool want_out = false;
    tix_sockloop_want_out(&s.loop, s.fds[0], &token, &want_out, true);
    assert_true(want_out);
    assert_true(wait_for(&s, &s.ios, ios + 1));
    assert_true(s.events & EPOLLOUT);
    tix_sockloop_want_out(&s.loop, s.fds[0], &token, &want_out, false);
    assert_false(want_out);
    /* a descriptor epoll does not know: the record stays as it was */
    tix_sockloop_want_out(&s.loop, s.fds[1], &token, &want_out, true);
    assert_false(want_out);
    assert_true(s.mu_held);
    assert_int_equal(s.ticks, 0); /* a minute's tick is far off */
    pthread_mutex_unlock(&s.mu);
    tear_down(&s);
}

static void test_socket_dropped_in_on_io_is_buried_after(void **state)
{
    (void)state;
    seen s;
    set_up(&s, 60000);
    int token = 0;
    s.drop_in_io = true;
    assert_int_equal(tix_sockloop_add(&s.loop, s.fds[0], &token), 0);
    assert_int_equal(tix_sockloop_start(&s.loop), TIX_OK);
    assert_int_equal(write(s.fds[1], "x", 1), 1);
    pthread_mutex_lock(&s.mu);
    assert_true(wait_for(&s, &s.bury_after_io, 1));
    assert_true(s.dropped);
    assert_true(s.bury_saw_drop);
    assert_int_equal(s.ios, 1);
    assert_true(s.mu_held);
    pthread_mutex_unlock(&s.mu);
    tear_down(&s);
}

static void test_ticks_come_tick_ms_apart(void **state)
{
    (void)state;
    seen s;
    set_up(&s, 30);
    int64_t started = tix_mono_ms();
    assert_int_equal(tix_sockloop_start(&s.loop), TIX_OK);
    pthread_mutex_lock(&s.mu);
    assert_true(wait_for(&s, &s.ticks, 4));
    assert_true(s.tick_at[0] - started >= 30);
    for (int i = 1; i < 4; i++) {
        assert_true(s.tick_at[i] - s.tick_at[i - 1] >= 30);
    }
    assert_true(s.buries >= 4); /* every turn ends with bury, ticks or not */
    assert_true(s.mu_held);
    pthread_mutex_unlock(&s.mu);
    tear_down(&s);
}

static void test_stop_and_close_twice(void **state)
{
    (void)state;
    seen s;
    set_up(&s, 60000);
    assert_int_equal(tix_sockloop_start(&s.loop), TIX_OK);
    pthread_mutex_lock(&s.mu);
    assert_true(wait_for(&s, &s.buries, 1)); /* a turn ran (the 1 s wait ended, nothing ready) */
    pthread_mutex_unlock(&s.mu);
    tix_sockloop_stop(&s.loop);
    tix_sockloop_stop(&s.loop); /* a second stop does nothing */
    tix_sockloop_close(&s.loop);
    tix_sockloop_close(&s.loop); /* nor a second close */
    assert_int_equal(s.loop.ep, -1);
    assert_int_equal(tix_sockloop_add(&s.loop, s.fds[0], &s), -1);
    tear_down(&s);
}

static void test_never_started(void **state)
{
    (void)state;
    seen s;
    set_up(&s, 1000);
    tix_sockloop_stop(&s.loop);
    tear_down(&s);
    assert_int_equal(s.ticks + s.ios + s.buries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_socket_reaches_on_io_then_bury),
        cmocka_unit_test(test_socket_dropped_in_on_io_is_buried_after),
        cmocka_unit_test(test_ticks_come_tick_ms_apart),
        cmocka_unit_test(test_stop_and_close_twice),
        cmocka_unit_test(test_never_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
