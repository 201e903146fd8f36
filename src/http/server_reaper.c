/*
 * Connection tracking and the slow-client reaper. MHD closes connections idle for
 * CONNECTION_TIMEOUT; the reaper thread also cuts connections that trickle request headers or
 * bodies for longer than the time-outs allow (MHD has no header deadline of its own). It shuts
 * the socket down under the same mutex that the close notification takes, so it never touches
 * a descriptor MHD already reused.
 */
#include "core/util.h"
#include "http/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* What the reaper writes to a client whose body did not arrive in time. */
#define TIMEOUT_BODY                                                                               \
    "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request body arrived too "         \
    "slowly\"}}"

void tix_server_set_phase(track *t, int phase)
{
    if (t != NULL) {
        atomic_store(&t->phase, phase);
        atomic_store(&t->since_ms, tix_mono_ms());
    }
}

void tix_server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    tix_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        track *t = calloc(1, sizeof(*t));
        if (t == NULL) {
            return;
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        tix_server_set_phase(t, PHASE_IDLE);
        pthread_mutex_lock(&s->mu);
        t->next = s->tracks;
        if (s->tracks) {
            s->tracks->prev = t;
        }
        s->tracks = t;
        pthread_mutex_unlock(&s->mu);
        *socket_context = t;
        return;
    }
    track *t = *socket_context;
    if (t == NULL) {
        return;
    }
    /* The FIN that MHD_USE_TURBO (server.c) no longer sends when MHD marks a connection closed,
     * sent here, just before MHD's close() (the close notification precedes it), for every
     * connection whose socket is still MHD's alone. It matters to a client still sending a body
     * we refused at once (413 on a Content-Length over the limit): its kernel takes the FIN, then
     * the reset that close() sends over the unread body, and reports the broken send as EPIPE,
     * after which clients read the answer; a reset without the FIN is ECONNRESET, and they
     * report an error instead of the 413. A socket handed to the SSE or WebSocket hub lives on
     * through their duplicate and gets no FIN from us. */
    if (t->fd >= 0 && atomic_load(&t->phase) != PHASE_UPGRADED) {
        shutdown(t->fd, SHUT_WR);
    }
    pthread_mutex_lock(&s->mu);
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        s->tracks = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    pthread_mutex_unlock(&s->mu);
    free(t);
    *socket_context = NULL;
}

/* A body that is too slow gets a 408 written straight to the socket (MHD can only answer
 * once a body is complete) and a half-close; the phase CAS decides between the reaper and a
 * body that completes at the same instant, so exactly one of them answers. */
static void reap(tix_server *s, track *t, int64_t now, int64_t idle_limit, int64_t body_limit)
{
    int phase = atomic_load(&t->phase);
    int64_t age = now - atomic_load(&t->since_ms);
    int expected = PHASE_BODY;
    if (phase == PHASE_BODY && age > body_limit &&
        atomic_compare_exchange_strong(&t->phase, &expected, PHASE_TIMED_OUT)) {
        char resp[512];
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 408 Request Timeout\r\n"
                           "Content-Type: application/json; charset=utf-8\r\n"
                           "X-Request-Id: %s\r\nCache-Control: no-store\r\n"
                           "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                           t->rid, sizeof(TIMEOUT_BODY) - 1, TIMEOUT_BODY);
        ssize_t w = send(t->fd, resp, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        shutdown(t->fd, SHUT_WR);
        atomic_fetch_add(&s->app->slow_clients_cut, 1);
        return;
    }
    if ((phase == PHASE_IDLE && age > idle_limit) ||
        (phase == PHASE_TIMED_OUT && age > body_limit + 2000)) {
        shutdown(t->fd, SHUT_RDWR);
        t->fd = -1;
        if (phase == PHASE_IDLE) {
            atomic_fetch_add(&s->app->slow_clients_cut, 1);
        }
    }
}

void *tix_server_reaper_main(void *arg)
{
    tix_server *s = arg;
    int64_t idle_limit = (s->app->cfg.connection_timeout_s + s->app->cfg.request_timeout_s) * 1000;
    int64_t body_limit = s->app->cfg.request_timeout_s * 1000;
    while (!atomic_load(&s->reaper_stop)) {
        struct timespec nap = {0, 200L * 1000 * 1000};
        nanosleep(&nap, NULL);
        int64_t now = tix_mono_ms();
        pthread_mutex_lock(&s->mu);
        for (track *t = s->tracks; t != NULL; t = t->next) {
            if (t->fd >= 0) {
                reap(s, t, now, idle_limit, body_limit);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}
