/*
 * The HTTP server's lifecycle on libmicrohttpd: start (the daemon's epoll thread pool, the
 * media store uploads need, the reaper thread) and graceful stop (stop accepting, end event
 * streams, drain in-flight requests, then close). server_int.h says where the rest lives.
 * Event streams and WebSockets leave the daemon once they start (their hubs own the sockets:
 * http/sse.h, http/ws.h), so the pool below is what a request costs, not what a stream keeps;
 * the daemon runs with MHD_USE_TURBO for the streams' way out (start_daemon).
 */
#include "http/server.h"

#include "core/log.h"
#include "core/util.h"
#include "http/server_int.h"
#include "http/sse.h"
#include "http/ws.h"
#include "media/media.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (tix_server_handing_off && strncmp(msg, "Application reported internal error", 35) == 0) {
        tix_server_handing_off = false; /* an event stream left MHD: no error (server_int.h) */
        return;
    }
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') {
        msg[--n] = '\0';
    }
    tix_log(TIX_LOG_WARN, "libmicrohttpd: %s", msg);
}

static bool bind_addr(const char *host, int port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return true;
    }
    return false;
}

/* The media store (uploads need it) lives as long as the server, unless main made one. */
static tix_rc start_media(tix_server *s)
{
    char err[512];
    if (s->app->media != NULL) {
        return TIX_OK;
    }
    if (tix_media_create(&s->app->cfg, &s->app->media, err, sizeof(err)) != TIX_OK) {
        tix_log_error("%s", err);
        return TIX_EINVAL;
    }
    s->own_media = true;
    return TIX_OK;
}

/* What tix_server_start made before a later step failed: the media store it opened, and s. */
static void undo_start(tix_server *s)
{
    if (s->own_media) {
        tix_media_destroy(s->app->media);
        s->app->media = NULL;
    }
    free(s);
}

/* libmicrohttpd's daemon for s on ss, or NULL. */
static struct MHD_Daemon *start_daemon(tix_server *s, const struct sockaddr_storage *ss, bool v6)
{
    const tix_config *cfg = &s->app->cfg;
    /* WORKERS handler threads; MHD's own threads (one per core) only move bytes. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned io_threads = cores < 1 ? 1u : (unsigned)cores;
    io_threads = io_threads > (unsigned)cfg->workers ? (unsigned)cfg->workers : io_threads;
    /* Each connection's memory pool (libmicrohttpd 0.9.75 sizes it per daemon, not per
     * connection): the request line and headers must fit in it, next to MHD's record of each
     * header field (about 64 bytes each) and the answer's header block, hence the 3 KiB over
     * MAX_HEADER_BYTES (room for 32 fields; tests/api/test_http.py sends such requests). About
     * half of it stays resident while a connection lives (MHD zeroes the unused half of the read
     * buffer when the answer starts); event streams, which once kept it for their whole life
     * (14 KiB a stream), now leave MHD and its pool when they start (http/sse.h). Request bodies
     * do not need room here: they are handed over piece by piece (server_request.c, upload.c). */
    size_t pool_bytes = (size_t)cfg->max_header_bytes + 3072;
    /* MHD_USE_TURBO: in 0.9.75 it only (1) drops the shutdown(SHUT_WR) MHD does before closing
     * a connection (connection.c MHD_connection_mark_closed_; the close follows in the same
     * loop), (2) puts a new connection on epoll's ready list at once instead of adding it to
     * the set at accept (it is added when it would block), and (3) makes accepted sockets
     * non-inheritable. (1) is what event streams need: a stream leaves MHD by MHD_NO from the
     * access callback with a dup() of the descriptor in the SSE hub (server_request.c
     * hand_off_stream), and MHD's close must not end the TCP connection the dup still uses
     * (MHD_cleanup_connections takes the descriptor out of its epoll set before the close).
     * Every other connection gets that FIN back from the close notification, which comes just
     * before MHD's close (server_reaper.c): without it a client still sending a body we refused
     * at once saw a reset instead of our 413 (test_http's 413 test, 3 runs of 8 under load). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO | (v6 ? MHD_USE_IPv6 : 0);
    return MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, tix_server_on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_THREAD_POOL_SIZE, io_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->per_ip_connections, MHD_OPTION_NOTIFY_COMPLETED, tix_server_on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, tix_server_on_connection, s, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)ss, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_URI_LOG_CALLBACK, tix_server_on_uri, s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        pool_bytes, MHD_OPTION_END);
}

tix_rc tix_server_start(tix_app *app, tix_server **out)
{
    const tix_config *cfg = &app->cfg;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (!bind_addr(cfg->bind_address, cfg->port, &ss, &v6)) {
        tix_log_error("BIND_ADDRESS %s is not an IP address", cfg->bind_address);
        return TIX_EINVAL;
    }
    tix_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    s->app = app;
    if (start_media(s) != TIX_OK) {
        free(s);
        return TIX_EINVAL;
    }
    /* Every open connection has at most one request waiting, so a queue never needs more room
     * than MAX_CONNECTIONS. The read lane (server_int.h): a quarter of WORKERS, at least 2, in
     * addition. */
    int readers = cfg->workers / 4 > 2 ? cfg->workers / 4 : 2;
    if (tix_workpool_create(cfg->workers, cfg->max_connections, cfg->handler_nice, &s->pool) !=
            TIX_OK ||
        tix_workpool_create(readers, cfg->max_connections, cfg->handler_nice, &s->read_pool) !=
            TIX_OK) {
        tix_workpool_destroy(s->pool);
        tix_workpool_destroy(s->read_pool);
        undo_start(s);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->daemon = start_daemon(s, &ss, v6);
    if (s->daemon == NULL) {
        tix_log_error("cannot listen on %s:%d (in use, or not permitted)", cfg->bind_address,
                      cfg->port);
        pthread_mutex_destroy(&s->mu);
        tix_workpool_destroy(s->pool);
        tix_workpool_destroy(s->read_pool);
        undo_start(s);
        return TIX_EUNAVAIL;
    }
    s->reaper_started = pthread_create(&s->reaper, NULL, tix_server_reaper_main, s) == 0;
    *out = s;
    return TIX_OK;
}

void tix_server_stop(tix_server *s, int drain_s)
{
    if (s == NULL) {
        return;
    }
    MHD_quiesce_daemon(s->daemon);     /* no new connections; nginx fails over to a peer */
    tix_sse_shutdown(s->app->sse);     /* event streams end now: they would hold the drain up */
    tix_ws_shutdown(s->app->ws, 2000); /* WebSockets close with 1001, before the daemon goes */
    int64_t deadline = tix_mono_ms() + (int64_t)drain_s * 1000;
    while (atomic_load(&s->app->inflight) > 0 && tix_mono_ms() < deadline) {
        struct timespec nap = {0, 20L * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    long left = atomic_load(&s->app->inflight);
    if (left > 0) {
        tix_log_warn("stopping with %ld requests still in flight", left);
    }
    atomic_store(&s->reaper_stop, true);
    if (s->reaper_started) {
        pthread_join(s->reaper, NULL);
    }
    /* Handlers still queued or running finish (each resumes its connection) before the
     * daemon goes: none may touch a connection of a stopped daemon. */
    tix_workpool_destroy(s->pool);
    tix_workpool_destroy(s->read_pool);
    MHD_stop_daemon(s->daemon);
    if (s->own_media) {
        tix_media_destroy(s->app->media);
        s->app->media = NULL;
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}
