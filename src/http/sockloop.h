/*
 * One socket loop: the thread, the epoll set, the wake descriptor and the timer tick that the
 * SSE hub (http/sse.c) and the WebSocket hub (http/ws.c) each drive their sockets with. The
 * hubs keep their protocol (event-stream framing, libwslay); this keeps the loop they shared
 * the shape of (libuv's uv_loop_t, in spirit and in its verbs: init, start, stop, close).
 *
 * One turn of the loop: epoll_wait (at most 64 events, never longer than 1 s nor past the next
 * tick), then, with the owner's mutex held for the whole batch:
 *   1. the wake descriptor's events are drained (it only ends a wait: tix_sockloop_stop);
 *   2. every other ready socket goes to ops->on_io(owner, sock, events), in epoll's order;
 *   3. when tick_ms has passed since the last tick, ops->tick(owner, now);
 *   4. ops->bury(owner): the owner frees what it dropped during the batch.
 * So a socket the owner drops in on_io or tick (out of the epoll set, descriptor closed) stays
 * allocated until bury, after the batch: a later event of the same batch may still name it, and
 * on_io must ignore a socket it has dropped (the hubs' `dead` flag). Ticks are tick_ms apart,
 * counted from when the last one ran (a late tick does not make the next one early).
 *
 * Sockets. The owner adds each socket with tix_sockloop_add (its descriptor and a non-NULL
 * pointer that on_io gets back: the owner's struct for it), watched for input and the peer's
 * end (EPOLLIN | EPOLLRDHUP, level-triggered: what both hubs want); asks for EPOLLOUT only
 * while it has bytes the socket did not take (tix_sockloop_want_out); and takes the socket out
 * with tix_sockloop_del before it closes the descriptor. These are epoll_ctl calls, safe from
 * any thread, with or without the mutex.
 *
 * Ownership. The owner allocates the tix_sockloop (a member of its hub) and owns its sockets,
 * their descriptors and their structs: the loop keeps only the pointers it is given (the mutex,
 * the owner, each socket's in epoll's set) and owns its thread, its epoll descriptor and its
 * wake descriptor, which close releases.
 *
 * Life: init (descriptors, no thread) → start (the thread) → stop (the thread ends after its
 * turn and is joined; the epoll set stays, so the owner may still drop sockets) → close (the
 * descriptors). stop and close are safe on a loop that was initialised but never started; a
 * failed init leaves the loop closed (a second close does nothing).
 */
#ifndef TIX_HTTP_SOCKLOOP_H
#define TIX_HTTP_SOCKLOOP_H

#include "core/rc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The owner's callbacks, each called on the loop thread with the owner's mutex held. */
typedef struct tix_sockloop_ops {
    /* sock is ready: events are epoll's (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR). */
    void (*on_io)(void *owner, void *sock, uint32_t events);
    /* Every tick_ms (now: tix_mono_ms()); heartbeats, pings, time-outs. */
    void (*tick)(void *owner, int64_t now);
    /* After every batch: free the sockets dropped since the last call. */
    void (*bury)(void *owner);
} tix_sockloop_ops;

/* The fields are the loop's own; the owner only allocates the struct. */
typedef struct tix_sockloop {
    const tix_sockloop_ops *ops;
    void *owner;         /* the callbacks' first argument (the hub) */
    pthread_mutex_t *mu; /* the owner's, held around each batch */
    int64_t tick_ms;
    int ep, wake_fd; /* ours; -1 when not open */
    atomic_bool stop;
    bool started;
    pthread_t thread;
} tix_sockloop;

/* Opens the epoll set and the wake descriptor; no thread yet. mu, ops and owner stay the
 * caller's and must outlive the loop; tick_ms > 0. TIX_ENOMEM when a descriptor cannot be had
 * (the loop is then closed already; close again does nothing). */
TIX_MUSTCHECK tix_rc tix_sockloop_init(tix_sockloop *l, pthread_mutex_t *mu,
                                       const tix_sockloop_ops *ops, void *owner, int64_t tick_ms);
/* Starts the loop thread; TIX_ENOMEM when it cannot be made. */
TIX_MUSTCHECK tix_rc tix_sockloop_start(tix_sockloop *l);
/* Ends the thread and joins it (call without the owner's mutex: the loop takes it). */
void tix_sockloop_stop(tix_sockloop *l);
/* Closes the epoll set and the wake descriptor (after stop). */
void tix_sockloop_close(tix_sockloop *l);

/* Watches the owner's socket fd for EPOLLIN | EPOLLRDHUP; sock (non-NULL) comes back to on_io.
 * 0, or -1 with errno set (as epoll_ctl). */
int tix_sockloop_add(tix_sockloop *l, int fd, void *sock);
/* Asks for EPOLLOUT on fd as well (out) or no more. *want_out is the owner's record of what it
 * asked for (false after add): nothing is done when it already says out, and it changes only
 * when epoll took the change. */
void tix_sockloop_want_out(tix_sockloop *l, int fd, void *sock, bool *want_out, bool out);
/* Stops watching fd (before the owner closes it). 0, or -1 with errno set. */
int tix_sockloop_del(tix_sockloop *l, int fd);

#endif
