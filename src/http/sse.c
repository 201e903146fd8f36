/*
 * The SSE hub and its streams (see sse.h). The wire format of an event:
 *     id: <per-show sequence number>\nevent: seats\ndata: {"show_id":…,"seats":[…],…}\n\n
 * and of a heartbeat ": ping\n\n".
 *
 * A stream's buffers. q holds whole events not sent yet (appended by whoever has one: the
 * bus's sink, the loop's heartbeat, the handler's start); w holds the wire bytes being sent:
 * first the answer's head, then q's text taken over as one chunk ("<hex>\r\n…\r\n"; as it is
 * when close-delimited), then at the end the terminating chunk. A send that stops half-way
 * leaves the rest in w and asks epoll for EPOLLOUT; only w is ever partly sent, so q can be
 * thrown away whole. A client whose unsent bytes (w's rest and q) would pass STREAM_MAX_BYTES
 * has q replaced by one "refetch" event (it reloads the seat map rather than the server keeping
 * an unbounded backlog for it). When everything is out both buffers are freed: an idle stream
 * is its struct alone ("parking"; 5,000 idle streams: bench/results/2026-12-06-sse-memory.txt).
 *
 * A stream's life: tix_sse_open (a handler thread) puts it in its show's channel with no socket
 * (fd -1): whatever is appended waits in q. tix_sse_attach (MHD's thread, the answer decided)
 * gives it its descriptor, adds that to the epoll set (EPOLLIN|EPOLLRDHUP: a client's close or
 * reset is seen at once, whatever it sends is read and dropped) and sends the head and q. An
 * error or end from the client, or a failed send, drops it (aborted); after tix_sse_shutdown
 * it ends once the terminating chunk is out (a FIN, then the close). drop() closes the
 * descriptor and leaves the channel at once; the loop frees the struct (bury) and runs its
 * done callback (the access log line) after its batch of events.
 *
 * The loop is a tix_sockloop (http/sockloop.h: the thread, the epoll set, the wake descriptor
 * and the tick), run with the hub mutex held; this file gives it three callbacks: on_io (read
 * and drop the client's bytes, see its end, send on EPOLLOUT), heartbeat (the tick, every
 * SSE_HEARTBEAT) and bury.
 */
#include "http/sse.h"

#include "core/log.h"
#include "core/util.h"
#include "http/channels.h"
#include "http/sockloop.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAM_MAX_BYTES ((size_t)64 * 1024)
#define RETRY_MS         2000
#define SNDBUF_BYTES     (16 * 1024)

struct tix_sse_stream {
    tix_chan_sub sub; /* first: the registry's callbacks get &s->sub; the show is its key */
    tix_sse_hub *hub;
    tix_sse_stream *grave; /* dropped, to be freed by the loop */
    int fd;                /* ours once attached; -1 before, and once dropped */
    char *q;               /* whole events not sent yet (NULL when none) */
    size_t qlen, qcap;
    char *w; /* wire bytes being sent: w[woff..wlen) still to go (NULL when none) */
    size_t woff, wlen;
    uint64_t bytes_out; /* after the head */
    size_t head_left;   /* bytes of the head still in w (not counted in bytes_out) */
    tix_sse_end_fn done;
    void *done_cls;
    unsigned char peer[16]; /* the peer's address (4 bytes IPv4, 16 IPv6), for the per-IP cap */
    unsigned char peer_len; /* 0: unknown (never counted) */
    bool chunked;
    bool closing;    /* end the stream once everything is out */
    bool end_queued; /* the terminating chunk (or, close-delimited, nothing) is in w or out */
    bool want_out;   /* EPOLLOUT asked for */
    bool dead;       /* dropped: out of the channel and the epoll set, descriptor closed */
    bool aborted;    /* dropped because of the client (or a failed write), not by us */
};

struct tix_sse_hub {
    pthread_mutex_t mu;
    tix_chan_reg chans; /* the streams by show (http/channels.h); chans.nsubs counts them */
    tix_sse_stream *graves;
    long max;
    long per_ip; /* streams at most from one peer address; 0 = no limit */
    bool closing;
    tix_sockloop loop; /* the thread, the epoll set and the heartbeat tick (http/sockloop.h) */
};

static tix_sse_stream *stream_of(tix_chan_sub *sub)
{
    return (tix_sse_stream *)sub; /* sub is the stream's first member */
}

static void flush(tix_sse_stream *s);

/* ---- buffers (hub mutex held) ---- */

static void append_raw(tix_sse_stream *s, const char *text, size_t n)
{
    if (s->dead || s->end_queued) {
        return; /* nothing goes after the end of the body */
    }
    if (s->qlen + n > s->qcap) {
        size_t cap = s->qcap ? s->qcap : 256;
        while (cap < s->qlen + n) {
            cap *= 2;
        }
        char *nb = realloc(s->q, cap);
        if (nb == NULL) {
            return; /* the event is lost for this client; the next heartbeat still goes */
        }
        s->q = nb;
        s->qcap = cap;
    }
    memcpy(s->q + s->qlen, text, n);
    s->qlen += n;
}

static void append_refetch(tix_sse_stream *s, const char *reason)
{
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "event: refetch\ndata: {\"show_id\":\"%s\",\"reason\":\"%s\"}\n\n",
                     tix_chan_key(&s->sub), reason);
    append_raw(s, text, (size_t)n);
}

/* Appends an event's text; a client too far behind gets a refetch instead of the backlog. q
 * holds whole events only (w has the one partly sent), so it can go whole. */
static void append_event(tix_sse_stream *s, const char *text, size_t n)
{
    if ((s->wlen - s->woff) + s->qlen + n > STREAM_MAX_BYTES) {
        s->qlen = 0;
        append_refetch(s, "slow_client");
        return;
    }
    append_raw(s, text, n);
}

/* "id: …\nevent: …\ndata: …\n\n" (no id line for id 0), malloc'd. */
static char *format_event(const tix_bus_event *ev, size_t *n)
{
    size_t cap = strlen(ev->name) + strlen(ev->data) + 64;
    char *t = malloc(cap);
    if (t == NULL) {
        return NULL;
    }
    int len = ev->id > 0 ? snprintf(t, cap, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", ev->id,
                                    ev->name, ev->data)
                         : snprintf(t, cap, "event: %s\ndata: %s\n\n", ev->name, ev->data);
    *n = (size_t)len;
    return t;
}

/* The registry's callbacks (http/channels.h). */
static void chan_send(tix_chan_sub *sub, const char *text, size_t n)
{
    tix_sse_stream *s = stream_of(sub);
    append_event(s, text, n);
    flush(s);
}

static void chan_refetch(tix_chan_sub *sub, const char *reason)
{
    append_refetch(stream_of(sub), reason);
}

static const tix_chan_ops sse_chan_ops = {chan_send, chan_refetch};

/* ---- sending (hub mutex held) ---- */

static void set_out(tix_sse_stream *s, bool out)
{
    tix_sockloop_want_out(&s->hub->loop, s->fd, s, &s->want_out, out);
}

/* Out of the epoll set now, the descriptor closed, the buffers freed; the channel is left and
 * the struct freed by the loop after its batch (bury): drop runs inside the registry's
 * callbacks and walks, which must not stop a subscriber (http/channels.h). A dead stream takes
 * nothing more (append_raw, flush). */
static void drop(tix_sse_stream *s, bool aborted)
{
    if (s->dead) {
        return;
    }
    tix_sse_hub *h = s->hub;
    s->dead = true;
    s->aborted = aborted;
    if (s->fd >= 0) {
        tix_sockloop_del(&h->loop, s->fd);
        if (!aborted) {
            shutdown(s->fd, SHUT_WR); /* the end of a close-delimited body */
        }
        close(s->fd);
        s->fd = -1;
    }
    free(s->q);
    free(s->w);
    s->q = s->w = NULL;
    s->qlen = s->qcap = s->woff = s->wlen = 0;
    s->grave = h->graves;
    h->graves = s;
}

/* Moves q into w (framed as one chunk when chunked), or the terminating chunk once closing;
 * false when there is nothing to move (or no memory: q stays for the next try). */
static bool refill(tix_sse_stream *s)
{
    if (s->qlen > 0 && !s->chunked) {
        free(s->w);
        s->w = s->q;
        s->woff = 0;
        s->wlen = s->qlen;
        s->q = NULL;
        s->qlen = s->qcap = 0;
        return true;
    }
    if (s->qlen > 0) {
        char *w = malloc(s->qlen + 24);
        if (w == NULL) {
            return false;
        }
        int hn = snprintf(w, 24, "%zx\r\n", s->qlen);
        memcpy(w + hn, s->q, s->qlen);
        w[(size_t)hn + s->qlen] = '\r';
        w[(size_t)hn + s->qlen + 1] = '\n';
        free(s->w);
        s->w = w;
        s->woff = 0;
        s->wlen = (size_t)hn + s->qlen + 2;
        free(s->q);
        s->q = NULL;
        s->qlen = s->qcap = 0;
        return true;
    }
    if (s->closing && !s->end_queued) {
        s->end_queued = true;
        if (!s->chunked) {
            return false;
        }
        char *w = strdup("0\r\n\r\n");
        if (w == NULL) {
            return false;
        }
        free(s->w);
        s->w = w;
        s->woff = 0;
        s->wlen = 5;
        return true;
    }
    return false;
}

/* Sends what the socket takes now; drops a stream whose send failed, ends one that is closing
 * and has everything out, and parks one left idle (no buffer). Nothing before the socket is
 * attached. */
static void flush(tix_sse_stream *s)
{
    if (s->dead || s->fd < 0) {
        return;
    }
    for (;;) {
        if (s->woff == s->wlen && !refill(s)) {
            break;
        }
        ssize_t n = send(s->fd, s->w + s->woff, s->wlen - s->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            set_out(s, true);
            return;
        }
        if (n <= 0) {
            drop(s, true);
            return;
        }
        size_t head = (size_t)n < s->head_left ? (size_t)n : s->head_left;
        s->head_left -= head;
        s->bytes_out += (uint64_t)n - head;
        s->woff += (size_t)n;
    }
    if (s->closing && s->end_queued) {
        drop(s, false);
        return;
    }
    set_out(s, false);
    free(s->w); /* parked: nothing to send, no buffer kept */
    free(s->q);
    s->w = s->q = NULL;
    s->woff = s->wlen = s->qlen = s->qcap = 0;
}

/* ---- delivery ---- */

static void refetch_one(tix_chan_sub *sub, void *ctx)
{
    (void)ctx;
    append_refetch(stream_of(sub), "events_lost");
    flush(stream_of(sub));
}

void tix_sse_deliver(void *ctx, const tix_bus_event *ev)
{
    tix_sse_hub *h = ctx;
    size_t n = 0;
    char *text = ev->show_id != NULL ? format_event(ev, &n) : NULL;
    pthread_mutex_lock(&h->mu);
    if (ev->show_id == NULL) {
        tix_chan_each(&h->chans, refetch_one, NULL);
    } else if (text != NULL) {
        for (tix_chan_sub *s = tix_chan_first(&h->chans, ev->show_id); s != NULL; s = s->next) {
            tix_chan_give(&h->chans, s, ev->id, text, n);
        }
    }
    pthread_mutex_unlock(&h->mu);
    free(text);
}

/* ---- streams ---- */

/* The peer's address bytes (sin_addr / sin6_addr) of an MHD connection into s->peer. */
static void peer_of(tix_sse_stream *s, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn != NULL ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(s->peer, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        s->peer_len = 4;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        memcpy(s->peer, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        s->peer_len = 16;
    }
}

typedef struct same_peer_arg {
    const tix_sse_stream *s;
    long n;
} same_peer_arg;

static void count_same_peer(tix_chan_sub *sub, void *ctx)
{
    same_peer_arg *a = ctx;
    const tix_sse_stream *o = stream_of(sub);
    if (o != a->s && !o->dead && o->peer_len == a->s->peer_len && a->s->peer_len > 0 &&
        memcmp(o->peer, a->s->peer, a->s->peer_len) == 0) {
        a->n++;
    }
}

/* Whether s's peer already has per_ip streams (hub mutex held; a walk over every stream, at
 * most max of them, and only when the cap is set). */
static bool peer_full(tix_sse_hub *h, const tix_sse_stream *s)
{
    if (h->per_ip <= 0 || s->peer_len == 0) {
        return false;
    }
    same_peer_arg a = {s, 0};
    tix_chan_each(&h->chans, count_same_peer, &a);
    return a.n >= h->per_ip;
}

tix_rc tix_sse_open(tix_sse_hub *h, void *conn, const char *show_id, int64_t last_id,
                    tix_sse_stream **out)
{
    tix_sse_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    s->hub = h;
    s->fd = -1;
    peer_of(s, conn);
    pthread_mutex_lock(&h->mu);
    bool ok = !h->closing && h->chans.nsubs < h->max && !peer_full(h, s) &&
              tix_chan_start(&h->chans, &s->sub, show_id, last_id) == TIX_OK;
    pthread_mutex_unlock(&h->mu);
    if (!ok) {
        free(s);
        return TIX_EUNAVAIL;
    }
    *out = s;
    return TIX_OK;
}

/* The first events of a stream, from the backlog. */
static void write_start(tix_sse_stream *s, const tix_bus_backlog *b)
{
    char text[256];
    const char *show_id = tix_chan_key(&s->sub);
    int n = snprintf(text, sizeof(text), "retry: %d\n\n", RETRY_MS);
    append_raw(s, text, (size_t)n);
    switch (tix_chan_resume(&s->sub, b)) {
    case TIX_CHAN_UNAVAILABLE: /* the bus is down: no id to offer */
        append_refetch(s, "events_unavailable");
        break;
    case TIX_CHAN_EXPIRED:
        n = snprintf(text, sizeof(text), "id: %" PRId64 "\n", b->current);
        append_raw(s, text, (size_t)n);
        append_refetch(s, "backlog_expired");
        break;
    case TIX_CHAN_FRESH:
        if (b == NULL) {
            n = snprintf(text, sizeof(text),
                         "event: ready\ndata: {\"show_id\":\"%s\",\"last_event_id\":null}\n\n",
                         show_id);
        } else {
            n = snprintf(text, sizeof(text),
                         "id: %" PRId64 "\nevent: ready\ndata: {\"show_id\":\"%s\","
                         "\"last_event_id\":%" PRId64 "}\n\n",
                         b->current, show_id, b->current);
        }
        append_raw(s, text, (size_t)n);
        break;
    case TIX_CHAN_REPLAY:
        for (int i = 0; i < b->n; i++) {
            size_t len = 0;
            char *t = format_event(&b->events[i], &len);
            if (t != NULL) {
                append_raw(s, t, len);
                free(t);
            }
        }
        break;
    }
}

void tix_sse_prime(tix_sse_hub *h, tix_sse_stream *s, const tix_bus_backlog *b)
{
    pthread_mutex_lock(&h->mu);
    write_start(s, b);
    tix_chan_primed(&h->chans, &s->sub, b);
    pthread_mutex_unlock(&h->mu);
}

/* The socket as a stream wants it: non-blocking, each event out at once (no Nagle delay, no
 * cork left by MHD), and a small kernel send buffer (SNDBUF_BYTES, as the WebSocket hub's): a
 * client that does not read fills it soon, so the STREAM_MAX_BYTES rule (a refetch instead of
 * a backlog) bounds what it costs rather than the kernel's autotuning (up to MiBs a socket). */
static void set_up_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int sndbuf = SNDBUF_BYTES;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    int one = 1;
    int zero = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
}

tix_rc tix_sse_attach(tix_sse_stream *s, int fd, const char *head, size_t n, bool chunked,
                      tix_sse_end_fn done, void *done_cls)
{
    tix_sse_hub *h = s->hub;
    char *w = malloc(n > 0 ? n : 1);
    set_up_fd(fd);
    pthread_mutex_lock(&h->mu);
    s->done = done;
    s->done_cls = done_cls;
    s->chunked = chunked;
    s->fd = fd;
    s->closing = s->closing || h->closing;
    if (w == NULL || tix_sockloop_add(&h->loop, fd, s) != 0) {
        tix_chan_stop(&h->chans, &s->sub);
        pthread_mutex_unlock(&h->mu);
        close(fd);
        done(done_cls, 0, true);
        tix_rc rc = w == NULL ? TIX_ENOMEM : TIX_EUNAVAIL;
        free(w);
        free(s->q);
        free(s);
        return rc;
    }
    memcpy(w, head, n);
    s->w = w;
    s->woff = 0;
    s->wlen = n;
    s->head_left = n;
    flush(s);
    pthread_mutex_unlock(&h->mu);
    return TIX_OK;
}

void tix_sse_discard(void *cls)
{
    tix_sse_stream *s = cls;
    tix_sse_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    tix_chan_stop(&h->chans, &s->sub);
    pthread_mutex_unlock(&h->mu);
    free(s->q);
    free(s->w);
    free(s);
}

/* ---- the loop's callbacks (http/sockloop.h; hub mutex held, loop thread) ---- */

/* Whatever the client sends is read and dropped; its end (or an error) ends the stream. A
 * stream dropped earlier in the batch is still allocated (bury) and takes nothing. */
static void on_io(void *hub, void *sock, uint32_t events)
{
    (void)hub;
    tix_sse_stream *s = sock;
    if (s->dead) {
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        drop(s, true);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP)) {
        char junk[1024];
        for (int i = 0; i < 16; i++) {
            ssize_t n = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
            if (n > 0) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                break;
            }
            drop(s, true); /* the client closed (or reset) its side */
            return;
        }
    }
    if (events & EPOLLOUT) {
        flush(s);
    }
}

/* Frees the dropped streams and runs their done callbacks (hub mutex held, loop thread or
 * destroy). */
static void bury(void *hub)
{
    tix_sse_hub *h = hub;
    while (h->graves != NULL) {
        tix_sse_stream *s = h->graves;
        h->graves = s->grave;
        tix_chan_stop(&h->chans, &s->sub);
        if (s->done != NULL) {
            s->done(s->done_cls, s->bytes_out, s->aborted);
        }
        free(s);
    }
}

typedef struct for_all_arg {
    const char *text;
    bool closing;
} for_all_arg;

static void for_one(tix_chan_sub *sub, void *ctx)
{
    const for_all_arg *a = ctx;
    tix_sse_stream *s = stream_of(sub);
    s->closing = s->closing || a->closing;
    if (a->text != NULL && !sub->priming) {
        append_event(s, a->text, strlen(a->text));
    }
    if (!sub->priming) {
        flush(s); /* may drop s: only marked, it leaves the channel in bury */
    }
}

/* Appends text to every stream that is not priming and sends it; closing: ends them too. */
static void for_all(tix_sse_hub *h, const char *text, bool closing)
{
    for_all_arg a = {text, closing};
    tix_chan_each(&h->chans, for_one, &a);
}

/* Every SSE_HEARTBEAT: ": ping" to every stream (none once the hub is closing). */
static void heartbeat(void *hub, int64_t now)
{
    (void)now;
    tix_sse_hub *h = hub;
    if (!h->closing) {
        for_all(h, ": ping\n\n", false);
    }
}

static const tix_sockloop_ops sse_loop_ops = {on_io, heartbeat, bury};

/* ---- the hub ---- */

void tix_sse_shutdown(tix_sse_hub *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    for_all(h, NULL, true);
    pthread_mutex_unlock(&h->mu);
}

long tix_sse_count(tix_sse_hub *h)
{
    if (h == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    long n = h->chans.nsubs;
    pthread_mutex_unlock(&h->mu);
    return n;
}

tix_rc tix_sse_hub_create(const tix_config *cfg, tix_sse_hub **out)
{
    tix_sse_hub *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return TIX_ENOMEM;
    }
    tix_chan_init(&h->chans, &sse_chan_ops);
    h->max = cfg->sse_max_streams;
    h->per_ip = cfg->per_ip_connections;
    int64_t heartbeat_ms = cfg->sse_heartbeat_ms > 0 ? cfg->sse_heartbeat_ms : 1000;
    if (tix_sockloop_init(&h->loop, &h->mu, &sse_loop_ops, h, heartbeat_ms) != TIX_OK) {
        free(h);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    if (tix_sockloop_start(&h->loop) != TIX_OK) {
        tix_sockloop_close(&h->loop);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return TIX_ENOMEM;
    }
    *out = h;
    return TIX_OK;
}

static void drop_one(tix_chan_sub *sub, void *ctx)
{
    (void)ctx;
    tix_sse_stream *s = stream_of(sub);
    if (s->fd >= 0) {
        drop(s, true); /* its end never went out */
    }
}

void tix_sse_hub_destroy(tix_sse_hub *h)
{
    if (h == NULL) {
        return;
    }
    tix_sockloop_stop(&h->loop); /* no batch runs from here: the streams are ours */
    pthread_mutex_lock(&h->mu);
    tix_chan_each(&h->chans, drop_one, NULL); /* clients that did not read their end */
    bury(h);
    long left = h->chans.nsubs; /* streams of requests that never ended: none after a stop */
    pthread_mutex_unlock(&h->mu);
    if (left > 0) {
        tix_log_warn("sse: %ld streams still open at exit", left);
    } else {
        tix_chan_close(&h->chans);
    }
    tix_sockloop_close(&h->loop);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
