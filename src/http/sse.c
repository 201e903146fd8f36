/*
 * The SSE hub and streams (see sse.h). The wire format of an event:
 *     id: <per-show sequence number>\nevent: seats\ndata: {"show_id":…,"seats":[…],…}\n\n
 * and of a heartbeat ": ping\n\n". A stream whose client reads too slowly to keep its buffer
 * under STREAM_MAX_BYTES has the buffer replaced by one "refetch" event (the client reloads
 * the seat map rather than the server keeping an unbounded backlog for it).
 */
#include "http/sse.h"

#include "core/log.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHOW_BUCKETS     1024
#define STREAM_MAX_BYTES ((size_t)64 * 1024)
#define HELD_MAX         256
#define RETRY_MS         2000

typedef struct held {
    struct held *next;
    int64_t id;
    char text[]; /* the formatted event */
} held;

typedef struct show_subs {
    struct show_subs *next;
    tix_sse_stream *streams;
    char show_id[];
} show_subs;

struct tix_sse_stream {
    tix_sse_stream *prev, *next; /* the show's streams */
    show_subs *show;
    tix_sse_hub *hub;
    struct MHD_Connection *conn;
    char *buf;
    size_t off, len, cap;
    int64_t last_id;
    bool suspended; /* by tix_sse_read; resumed by whoever appends */
    bool closing;
    bool priming;
    held *held_head, *held_tail;
    int nheld;
};

struct tix_sse_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the heartbeat thread to stop */
    show_subs *buckets[SHOW_BUCKETS];
    long count;
    long max;
    bool closing;
    bool stop;
    int64_t heartbeat_ms;
    pthread_t hb;
    bool hb_started;
};

static size_t bucket_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h % SHOW_BUCKETS);
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
                     s->show->show_id, reason);
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

static void hold_back(tix_sse_stream *s, int64_t id, const char *text, size_t n)
{
    held *h = s->nheld < HELD_MAX ? malloc(sizeof(*h) + n + 1) : NULL;
    if (h == NULL) {
        return; /* tix_sse_prime sees nheld at the limit and sends a refetch */
    }
    h->next = NULL;
    h->id = id;
    memcpy(h->text, text, n + 1);
    if (s->held_tail) {
        s->held_tail->next = h;
    } else {
        s->held_head = h;
    }
    s->held_tail = h;
    s->nheld++;
}

static void give(tix_sse_stream *s, int64_t id, const char *text, size_t n)
{
    if (s->priming) {
        hold_back(s, id, text, n);
        return;
    }
    if (id > 0 && id <= s->last_id) {
        return; /* already sent (from the backlog) */
    }
    append_event(s, text, n);
    if (id > 0) {
        s->last_id = id;
    }
    wake(s);
}

/* ---- delivery ---- */

static show_subs *find_show(tix_sse_hub *h, const char *show_id)
{
    show_subs *sub = h->buckets[bucket_of(show_id)];
    while (sub != NULL && strcmp(sub->show_id, show_id) != 0) {
        sub = sub->next;
    }
    return sub;
}

static void refetch_all(tix_sse_hub *h)
{
    for (int b = 0; b < SHOW_BUCKETS; b++) {
        for (show_subs *sub = h->buckets[b]; sub != NULL; sub = sub->next) {
            for (tix_sse_stream *s = sub->streams; s != NULL; s = s->next) {
                append_refetch(s, "events_lost");
                wake(s);
            }
        }
    }
}

void tix_sse_deliver(void *ctx, const tix_bus_event *ev)
{
    tix_sse_hub *h = ctx;
    size_t n = 0;
    char *text = ev->show_id != NULL ? format_event(ev, &n) : NULL;
    pthread_mutex_lock(&h->mu);
    if (ev->show_id == NULL) {
        refetch_all(h);
    } else if (text != NULL) {
        show_subs *sub = find_show(h, ev->show_id);
        for (tix_sse_stream *s = sub ? sub->streams : NULL; s != NULL; s = s->next) {
            give(s, ev->id, text, n);
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
    *s = (tix_sse_stream){.hub = h, .conn = conn, .last_id = last_id, .priming = true};
    pthread_mutex_lock(&h->mu);
    show_subs *sub = h->closing || h->count >= h->max ? NULL : find_show(h, show_id);
    if (!h->closing && h->count < h->max && sub == NULL) {
        size_t len = strlen(show_id);
        sub = calloc(1, sizeof(*sub) + len + 1);
        if (sub != NULL) {
            memcpy(sub->show_id, show_id, len + 1);
            sub->next = h->buckets[bucket_of(show_id)];
            h->buckets[bucket_of(show_id)] = sub;
        }
    }
    if (sub != NULL) {
        s->show = sub;
        s->next = sub->streams;
        if (sub->streams) {
            sub->streams->prev = s;
        }
        sub->streams = s;
        h->count++;
    }
    pthread_mutex_unlock(&h->mu);
    if (sub == NULL) {
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
    int n = snprintf(text, sizeof(text), "retry: %d\n\n", RETRY_MS);
    append_raw(s, text, (size_t)n);
    if (b == NULL) { /* the bus is down: no id to offer */
        if (s->last_id > 0) {
            append_refetch(s, "events_unavailable");
        } else {
            n = snprintf(text, sizeof(text),
                         "event: ready\ndata: {\"show_id\":\"%s\",\"last_event_id\":null}\n\n",
                         s->show->show_id);
            append_raw(s, text, (size_t)n);
        }
        return;
    }
    if (s->last_id > 0 && b->gap) {
        n = snprintf(text, sizeof(text), "id: %" PRId64 "\n", b->current);
        append_raw(s, text, (size_t)n);
        append_refetch(s, "backlog_expired");
    } else if (s->last_id <= 0) {
        n = snprintf(text, sizeof(text),
                     "id: %" PRId64 "\nevent: ready\ndata: {\"show_id\":\"%s\",\"last_event_id\":"
                     "%" PRId64 "}\n\n",
                     b->current, s->show->show_id, b->current);
        append_raw(s, text, (size_t)n);
    }
    for (int i = 0; i < b->n; i++) {
        size_t len = 0;
        char *t = format_event(&b->events[i], &len);
        if (t != NULL) {
            append_raw(s, t, len);
            free(t);
        }
    }
    s->last_id = b->current > s->last_id || b->gap || s->last_id <= 0 ? b->current : s->last_id;
}

void tix_sse_prime(tix_sse_hub *h, tix_sse_stream *s, const tix_bus_backlog *b)
{
    pthread_mutex_lock(&h->mu);
    write_start(s, b);
    s->priming = false;
    if (s->nheld >= HELD_MAX) {
        append_refetch(s, "events_lost");
    }
    for (held *e = s->held_head, *next = NULL; e != NULL; e = next) {
        next = e->next;
        if (s->nheld < HELD_MAX) {
            give(s, e->id, e->text, strlen(e->text));
        }
        free(e);
    }
    s->held_head = s->held_tail = NULL;
    s->nheld = 0;
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
    show_subs *sub = s->show;
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        sub->streams = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    if (sub->streams == NULL) {
        show_subs **p = &h->buckets[bucket_of(sub->show_id)];
        while (*p != sub) {
            p = &(*p)->next;
        }
        *p = sub->next;
        free(sub);
    }
    h->count--;
    pthread_mutex_unlock(&h->mu);
    for (held *e = s->held_head, *next = NULL; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    free(s->buf);
    free(s);
}

/* ---- heartbeats, shutdown ---- */

/* Appends text to every stream that is not priming and wakes it; closing: ends them too. */
static void for_all(tix_sse_hub *h, const char *text, bool closing)
{
    for (int b = 0; b < SHOW_BUCKETS; b++) {
        for (show_subs *sub = h->buckets[b]; sub != NULL; sub = sub->next) {
            for (tix_sse_stream *s = sub->streams; s != NULL; s = s->next) {
                s->closing = s->closing || closing;
                if (text != NULL && !s->priming) {
                    append_event(s, text, strlen(text));
                }
                if (!s->priming) {
                    wake(s);
                }
            }
        }
    }
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
    long n = h->count;
    pthread_mutex_unlock(&h->mu);
    return n;
}

tix_rc tix_sse_hub_create(const tix_config *cfg, tix_sse_hub **out)
{
    tix_sse_hub *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return TIX_ENOMEM;
    }
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
    if (h->count > 0) {
        tix_log_warn("sse: %ld streams still open at exit", h->count);
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
