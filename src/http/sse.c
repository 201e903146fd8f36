/*
 * The SSE hub and streams (see sse.h). The wire format of an event:
 *     id: <per-show sequence number>\nevent: seats\ndata: {"show_id":…,"seats":[…],…}\n\n
 * and of a heartbeat ": ping\n\n". A stream whose client reads too slowly to keep its buffer
 * under STREAM_MAX_BYTES has the buffer replaced by one "refetch" event (the client reloads
 * the seat map rather than the server keeping an unbounded backlog for it).
 */
#include "http/sse.h"

#include "core/log.h"
#include "http/channels.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_MAX_BYTES ((size_t)64 * 1024)
#define RETRY_MS         2000

struct tix_sse_stream {
    tix_chan_sub sub; /* first: the registry's callbacks get &s->sub; the show is its key */
    tix_sse_hub *hub;
    struct MHD_Connection *conn;
    char *buf;
    size_t off, len, cap;
    bool suspended; /* by tix_sse_read; resumed by whoever appends */
    bool closing;
};

struct tix_sse_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* wakes the heartbeat thread to stop */
    tix_chan_reg chans; /* the streams by show (http/channels.h); chans.nsubs counts them */
    long max;
    bool closing;
    bool stop;
    int64_t heartbeat_ms;
    pthread_t hb;
    bool hb_started;
};

static tix_sse_stream *stream_of(tix_chan_sub *sub)
{
    return (tix_sse_stream *)sub; /* sub is the stream's first member */
}

/* ---- buffers (hub mutex held) ---- */

static void wake(tix_sse_stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static void append_raw(tix_sse_stream *s, const char *text, size_t n)
{
    if (s->off > 0 && s->off == s->len) {
        s->off = s->len = 0;
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n) {
            cap *= 2;
        }
        char *nb = realloc(s->buf, cap);
        if (nb == NULL) {
            return; /* the event is lost for this client; the next heartbeat still goes */
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
}

static void append_refetch(tix_sse_stream *s, const char *reason)
{
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "event: refetch\ndata: {\"show_id\":\"%s\",\"reason\":\"%s\"}\n\n",
                     tix_chan_key(&s->sub), reason);
    append_raw(s, text, (size_t)n);
}

/* Appends an event's text; a client too far behind gets a refetch instead of the backlog. */
static void append_event(tix_sse_stream *s, const char *text, size_t n)
{
    if (s->len - s->off + n > STREAM_MAX_BYTES) {
        s->off = s->len = 0;
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
    wake(s);
}

static void chan_refetch(tix_chan_sub *sub, const char *reason)
{
    append_refetch(stream_of(sub), reason);
}

static const tix_chan_ops sse_chan_ops = {chan_send, chan_refetch};

/* ---- delivery ---- */

static void refetch_one(tix_chan_sub *sub, void *ctx)
{
    (void)ctx;
    append_refetch(stream_of(sub), "events_lost");
    wake(stream_of(sub));
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

tix_rc tix_sse_open(tix_sse_hub *h, void *conn, const char *show_id, int64_t last_id,
                    tix_sse_stream **out)
{
    tix_sse_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    s->hub = h;
    s->conn = conn;
    pthread_mutex_lock(&h->mu);
    bool ok = !h->closing && h->chans.nsubs < h->max &&
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
    if (s->closing) {
        wake(s);
    }
    pthread_mutex_unlock(&h->mu);
}

ssize_t tix_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    tix_sse_stream *s = cls;
    tix_sse_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    if (s->len > s->off) {
        size_t n = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        pthread_mutex_unlock(&h->mu);
        return (ssize_t)n;
    }
    if (s->closing) {
        pthread_mutex_unlock(&h->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* Drained: an idle stream keeps no buffer (the next event or heartbeat makes one). */
    free(s->buf);
    s->buf = NULL;
    s->off = s->len = s->cap = 0;
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

void tix_sse_free(void *cls)
{
    tix_sse_stream *s = cls;
    tix_sse_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    tix_chan_stop(&h->chans, &s->sub);
    pthread_mutex_unlock(&h->mu);
    free(s->buf);
    free(s);
}

/* ---- heartbeats, shutdown ---- */

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
        wake(s);
    }
}

/* Appends text to every stream that is not priming and wakes it; closing: ends them too. */
static void for_all(tix_sse_hub *h, const char *text, bool closing)
{
    for_all_arg a = {text, closing};
    tix_chan_each(&h->chans, for_one, &a);
}

static void *heartbeat_main(void *arg)
{
    tix_sse_hub *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += h->heartbeat_ms / 1000;
        at.tv_nsec += (long)(h->heartbeat_ms % 1000) * 1000000L;
        at.tv_sec += at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
        int rc = 0;
        while (!h->stop && rc == 0) {
            rc = pthread_cond_timedwait(&h->cv, &h->mu, &at);
        }
        if (!h->stop && !h->closing) {
            for_all(h, ": ping\n\n", false);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

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
    h->heartbeat_ms = cfg->sse_heartbeat_ms;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->hb_started = pthread_create(&h->hb, NULL, heartbeat_main, h) == 0;
    if (!h->hb_started) {
        tix_log_warn("sse: no heartbeat thread; idle streams of vanished clients stay open");
    }
    *out = h;
    return TIX_OK;
}

void tix_sse_hub_destroy(tix_sse_hub *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->hb_started) {
        pthread_join(h->hb, NULL);
    }
    if (h->chans.nsubs > 0) {
        tix_log_warn("sse: %ld streams still open at exit", h->chans.nsubs);
    } else {
        tix_chan_close(&h->chans);
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
