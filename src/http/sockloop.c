/*
 * The socket loop (see sockloop.h for the whole). The wake descriptor is an eventfd in the
 * epoll set with a NULL data pointer, which no socket has (tix_sockloop_add wants a non-NULL
 * one): so the loop tells it apart without a lookup. A wait is at most 1 s so that a stop that
 * somehow missed its wake-up is still seen, and never past the next tick.
 */
#include "http/sockloop.h"

#include "core/util.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BATCH   64
#define WAIT_MS 1000

static void *loop_main(void *arg)
{
    tix_sockloop *l = arg;
    struct epoll_event evs[BATCH];
    int64_t next_tick = tix_mono_ms() + l->tick_ms;
    while (!atomic_load(&l->stop)) {
        int64_t wait = next_tick - tix_mono_ms();
        int n = epoll_wait(l->ep, evs, BATCH, wait < 0 ? 0 : wait > WAIT_MS ? WAIT_MS : (int)wait);
        pthread_mutex_lock(l->mu);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                ssize_t r = read(l->wake_fd, &v, sizeof(v));
                (void)r;
                continue;
            }
            l->ops->on_io(l->owner, evs[i].data.ptr, evs[i].events);
        }
        int64_t now = tix_mono_ms();
        if (now >= next_tick) {
            next_tick = now + l->tick_ms;
            l->ops->tick(l->owner, now);
        }
        l->ops->bury(l->owner);
        pthread_mutex_unlock(l->mu);
    }
    return NULL;
}

tix_rc tix_sockloop_init(tix_sockloop *l, pthread_mutex_t *mu, const tix_sockloop_ops *ops,
                         void *owner, int64_t tick_ms)
{
    *l = (tix_sockloop){.ops = ops, .owner = owner, .mu = mu, .tick_ms = tick_ms};
    atomic_init(&l->stop, false);
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (l->ep < 0 || l->wake_fd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &ev) != 0) {
        tix_sockloop_close(l);
        return TIX_ENOMEM;
    }
    return TIX_OK;
}

tix_rc tix_sockloop_start(tix_sockloop *l)
{
    l->started = pthread_create(&l->thread, NULL, loop_main, l) == 0;
    return l->started ? TIX_OK : TIX_ENOMEM;
}

void tix_sockloop_stop(tix_sockloop *l)
{
    if (!l->started) {
        return;
    }
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t w = write(l->wake_fd, &one, sizeof(one));
    (void)w;
    pthread_join(l->thread, NULL);
    l->started = false;
}

void tix_sockloop_close(tix_sockloop *l)
{
    if (l->ep >= 0) {
        close(l->ep);
    }
    if (l->wake_fd >= 0) {
        close(l->wake_fd);
    }
    l->ep = l->wake_fd = -1;
}

int tix_sockloop_add(tix_sockloop *l, int fd, void *sock)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = sock};
    return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
}

void tix_sockloop_want_out(tix_sockloop *l, int fd, void *sock, bool *want_out, bool out)
{
    if (*want_out == out) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u),
                             .data.ptr = sock};
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) == 0) {
        *want_out = out;
    }
}

int tix_sockloop_del(tix_sockloop *l, int fd)
{
    return epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
}
