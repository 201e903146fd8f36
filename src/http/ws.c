/*
 * The WebSocket hub (see ws.h): sockets, channels, the epoll loop, the auth and subscribe jobs.
 *
 * A socket's life: tix_ws_on_upgrade (MHD's thread) makes the wslay context and adds the
 * descriptor to the loop's epoll set. The loop reads with wslay_event_recv, which calls
 * on_msg: each complete text message goes to the socket's inbox (at most INBOX_MAX waiting);
 * pump() takes them one at a time, answering cheap ones on the spot and handing auth and
 * subscribe to a job thread (one job per socket at a time, so messages keep their order).
 * Anything that queued output calls flush(), which sends what the socket takes now and asks
 * epoll for EPOLLOUT when wslay still wants to write. drop() unlinks a socket and gives the
 * descriptor back to MHD (MHD_UPGRADE_ACTION_CLOSE); the loop frees it after its batch.
 *
 * Channels are keyed by the bus's show_id: a show's id, or "user:<id>" for a user's channel.
 * A subscription that is being primed (its backlog read) holds back live events, at most
 * HELD_MAX, then sends backlog and held events in order, skipping ids already sent.
 */
#include "http/ws.h"

#include "app.h"
#include "auth/revocation.h"
#include "auth/token.h"
#include "core/log.h"
#include "core/util.h"
#include "http/workpool.h"
#include "store/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define CHAN_BUCKETS  1024
#define HELD_MAX      256
#define INBOX_MAX     8
#define SNDBUF_BYTES  (16 * 1024)
#define CLOSE_WAIT_MS 5000

typedef struct ws_conn ws_conn;
typedef struct channel chan_t;

typedef struct held {
    struct held *next;
    int64_t id;
    char text[];
} held;

typedef struct sub {
    struct sub *prev, *next; /* the channel's subscriptions */
    struct sub *cnext;       /* the socket's subscriptions */
    chan_t *chan;
    ws_conn *conn;
    int64_t last_id;
    bool priming;
    held *held_head, *held_tail;
    int nheld;
} sub;

struct channel {
    chan_t *next;
    sub *subs;
    char key[]; /* the bus's show_id: "<show id>" or "user:<user id>" */
};

typedef struct msg {
    struct msg *next;
    size_t len;
    char text[];
} msg;

struct ws_conn {
    ws_conn *prev, *next; /* the hub's sockets */
    ws_conn *grave;       /* dropped, to be freed by the loop */
    tix_ws_hub *hub;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    wslay_event_context_ptr ctx;
    char *pre; /* bytes MHD read past the request's headers (extra_in), given to wslay first */
    size_t pre_len, pre_off;
    sub *subs;
    int nsubs;
    msg *inbox_head, *inbox_tail;
    int ninbox;
    bool busy; /* a job runs for this socket */
    bool dead; /* dropped; freed once no job runs */
    bool got_first;
    bool closing; /* we queued a close: further messages are not handled */
    bool wr_shut; /* our close is out and wslay reads no more: FIN sent, input discarded */
    bool authed;
    bool want_out; /* EPOLLOUT asked for */
    int64_t opened_ms, last_rx_ms, last_ping_ms, close_sent_ms;
    char user_id[TIX_ID_MAX];
};

struct tix_ws_hub {
    pthread_mutex_t mu;
    struct tix_app *app;
    chan_t *buckets[CHAN_BUCKETS];
    ws_conn *conns;
    ws_conn *graves;
    long count, max;
    bool closing;
    atomic_bool stop;
    int ep, wake_fd;
    pthread_t loop;
    bool loop_started;
    tix_workpool *jobs;
};

static size_t bucket_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h % CHAN_BUCKETS);
}

/* ---- the handshake ---- */

bool tix_ws_accept_key(const char *key, char out[29])
{
    unsigned char raw[32];
    if (key == NULL || strlen(key) != 24 ||
        EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 || key[22] != '=' ||
        key[23] != '=') {
        return false; /* 16 bytes in base64 are 22 characters and "==" */
    }
    char buf[24 + 36 + 1];
    snprintf(buf, sizeof(buf), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, strlen(buf), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
    return true;
}

/* ---- wslay's callbacks (hub mutex held: they run inside wslay_event_recv/send) ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    ws_conn *c = user;
    if (c->pre_off < c->pre_len) {
        size_t n = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;
        memcpy(buf, c->pre + c->pre_off, n);
        c->pre_off += n;
        if (c->pre_off == c->pre_len) {
            free(c->pre);
            c->pre = NULL;
            c->pre_off = c->pre_len = 0;
        }
        return (ssize_t)n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    c->last_rx_ms = tix_mono_ms();
    return n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    ws_conn *c = user;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    ws_conn *c = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
                                (const uint8_t *)"text messages only", 18);
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME) {
        return; /* ping, pong and close are wslay's */
    }
    if (c->ninbox >= INBOX_MAX) {
        wslay_event_queue_close(ctx, WSLAY_CODE_POLICY_VIOLATION,
                                (const uint8_t *)"too many messages at once", 25);
        return;
    }
    msg *m = malloc(sizeof(*m) + arg->msg_length + 1);
    if (m == NULL) {
        wslay_event_queue_close(ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL, 0);
        return;
    }
    m->next = NULL;
    m->len = arg->msg_length;
    memcpy(m->text, arg->msg, arg->msg_length);
    m->text[arg->msg_length] = '\0';
    if (c->inbox_tail) {
        c->inbox_tail->next = m;
    } else {
        c->inbox_head = m;
    }
    c->inbox_tail = m;
    c->ninbox++;
}

/* ---- sending (hub mutex held) ---- */

static void drop(ws_conn *c);

static void queue_text(ws_conn *c, const char *text, size_t n)
{
    if (c->dead || !wslay_event_get_write_enabled(c->ctx)) {
        return;
    }
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, n};
    int rc = wslay_event_queue_msg(c->ctx, &m);
    if (rc != 0 && rc != WSLAY_ERR_NO_MORE_MSG) { /* NO_MORE_MSG: a close is queued */
        drop(c);
    }
}

static void queue_json(ws_conn *c, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text != NULL) {
        queue_text(c, text, strlen(text));
    }
    free(text);
    json_decref(j);
}

static void send_error(ws_conn *c, const char *code, const char *message)
{
    queue_json(c, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message));
}

static void close_with(ws_conn *c, uint16_t code, const char *reason)
{
    if (c->dead || wslay_event_get_close_sent(c->ctx)) {
        return;
    }
    /* wslay goes on reading, to see the client's answering close; messages meanwhile are
     * ignored (pump) */
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    c->closing = true;
}

static void set_out(ws_conn *c, bool out)
{
    if (c->want_out == out) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u), .data.ptr = c};
    if (epoll_ctl(c->hub->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->want_out = out;
    }
}

/* Sends what the socket takes now; drops a client that fails, that is done (both closes
 * exchanged) or whose unsent bytes passed WS_MAX_QUEUE. */
static void flush(ws_conn *c)
{
    if (c->dead) {
        return;
    }
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
        drop(c);
        return;
    }
    if (wslay_event_get_close_sent(c->ctx) && c->close_sent_ms == 0) {
        c->close_sent_ms = tix_mono_ms();
    }
    if (wslay_event_get_queued_msg_length(c->ctx) > WS_MAX_QUEUE) {
        tix_log_info("ws: dropping a client that reads too slowly (%zu bytes unsent)",
                     wslay_event_get_queued_msg_length(c->ctx));
        drop(c);
        return;
    }
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx)) {
        if (wslay_event_get_close_received(c->ctx) || !wslay_event_get_close_sent(c->ctx)) {
            drop(c); /* the close handshake is complete (or the socket failed) */
            return;
        }
        /* wslay closed on a bad frame and reads no more: our close frame is out, so end our
         * side (FIN) and discard the client's input until it closes too (discard_input) or
         * CLOSE_WAIT_MS passes; closing at once with unread input would send a reset that
         * can destroy the close frame before the client reads it */
        if (!c->wr_shut) {
            c->wr_shut = true;
            shutdown(c->fd, SHUT_WR);
        }
    }
    set_out(c, wslay_event_want_write(c->ctx) != 0);
}

/* ---- channels (hub mutex held) ---- */

static chan_t *find_chan(tix_ws_hub *h, const char *key)
{
    chan_t *ch = h->buckets[bucket_of(key)];
    while (ch != NULL && strcmp(ch->key, key) != 0) {
        ch = ch->next;
    }
    return ch;
}

static sub *find_sub(ws_conn *c, const char *key)
{
    for (sub *s = c->subs; s != NULL; s = s->cnext) {
        if (strcmp(s->chan->key, key) == 0) {
            return s;
        }
    }
    return NULL;
}

static sub *add_sub(ws_conn *c, const char *key, int64_t last_id)
{
    tix_ws_hub *h = c->hub;
    chan_t *ch = find_chan(h, key);
    if (ch == NULL) {
        size_t len = strlen(key);
        ch = calloc(1, sizeof(*ch) + len + 1);
        if (ch == NULL) {
            return NULL;
        }
        memcpy(ch->key, key, len + 1);
        ch->next = h->buckets[bucket_of(key)];
        h->buckets[bucket_of(key)] = ch;
    }
    sub *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL; /* an empty channel stays until a later remove: harmless */
    }
    *s = (sub){.chan = ch, .conn = c, .last_id = last_id, .priming = true};
    s->next = ch->subs;
    if (ch->subs) {
        ch->subs->prev = s;
    }
    ch->subs = s;
    s->cnext = c->subs;
    c->subs = s;
    c->nsubs++;
    return s;
}

static void free_held(sub *s)
{
    for (held *e = s->held_head, *next = NULL; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    s->held_head = s->held_tail = NULL;
    s->nheld = 0;
}

static void remove_sub(tix_ws_hub *h, sub *s)
{
    ws_conn *c = s->conn;
    for (sub **p = &c->subs; *p != NULL; p = &(*p)->cnext) {
        if (*p == s) {
            *p = s->cnext;
            break;
        }
    }
    c->nsubs--;
    chan_t *ch = s->chan;
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        ch->subs = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    if (ch->subs == NULL) {
        chan_t **p = &h->buckets[bucket_of(ch->key)];
        while (*p != ch) {
            p = &(*p)->next;
        }
        *p = ch->next;
        free(ch);
    }
    free_held(s);
    free(s);
}

/* The channel's name as clients see it: "show:<id>", or "user" for the user's own. */
static void public_name(const char *key, char *out, size_t n)
{
    if (strncmp(key, "user:", 5) == 0) {
        snprintf(out, n, "user");
    } else {
        snprintf(out, n, "show:%s", key);
    }
}

/* {"type":"event","channel":…,"id":N,"event":name,"data":data}, malloc'd. */
static char *format_event(const char *key, int64_t id, const char *name, const char *data,
                          size_t *n)
{
    char chan[TIX_ID_MAX + 16];
    public_name(key, chan, sizeof(chan));
    size_t cap = strlen(chan) + strlen(name) + strlen(data) + 96;
    char *t = malloc(cap);
    if (t == NULL) {
        return NULL;
    }
    int len = id > 0 ? snprintf(t, cap,
                                "{\"type\":\"event\",\"channel\":\"%s\",\"id\":%" PRId64
                                ",\"event\":\"%s\",\"data\":%s}",
                                chan, id, name, data)
                     : snprintf(t, cap,
                                "{\"type\":\"event\",\"channel\":\"%s\",\"event\":\"%s\","
                                "\"data\":%s}",
                                chan, name, data);
    *n = (size_t)len;
    return t;
}

static void send_refetch(sub *s, const char *reason)
{
    char data[TIX_ID_MAX + 96];
    snprintf(data, sizeof(data), "{\"show_id\":\"%s\",\"reason\":\"%s\"}", s->chan->key, reason);
    size_t n = 0;
    char *t = format_event(s->chan->key, 0, "refetch", data, &n);
    if (t != NULL) {
        queue_text(s->conn, t, n);
    }
    free(t);
}

static void give(sub *s, int64_t id, const char *text, size_t n)
{
    if (s->priming) {
        held *e = s->nheld < HELD_MAX ? malloc(sizeof(*e) + n + 1) : NULL;
        if (e == NULL) {
            s->nheld = HELD_MAX; /* prime sends a refetch */
            return;
        }
        e->next = NULL;
        e->id = id;
        memcpy(e->text, text, n + 1);
        if (s->held_tail) {
            s->held_tail->next = e;
        } else {
            s->held_head = e;
        }
        s->held_tail = e;
        s->nheld++;
        return;
    }
    if (id > 0 && id <= s->last_id) {
        return;
    }
    queue_text(s->conn, text, n);
    if (id > 0) {
        s->last_id = id;
    }
}

void tix_ws_deliver(void *ctx, const tix_bus_event *ev)
{
    tix_ws_hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    if (ev->show_id == NULL) { /* events may be lost: every show subscription refetches */
        for (ws_conn *c = h->conns; c != NULL; c = c->next) {
            for (sub *s = c->subs; s != NULL; s = s->cnext) {
                if (strncmp(s->chan->key, "user:", 5) != 0 && !s->priming) {
                    send_refetch(s, "events_lost");
                }
            }
            flush(c);
        }
    } else {
        chan_t *ch = find_chan(h, ev->show_id);
        size_t n = 0;
        char *text = ch != NULL ? format_event(ev->show_id, ev->id, ev->name, ev->data, &n) : NULL;
        for (sub *s = ch && text ? ch->subs : NULL, *next = NULL; s != NULL; s = next) {
            next = s->next; /* flush may drop the socket, never the channel's list under us */
            give(s, ev->id, text, n);
            if (!s->priming) {
                flush(s->conn);
            }
        }
        free(text);
    }
    pthread_mutex_unlock(&h->mu);
}

/* Sends a primed subscription's start: the backlog after last_id (b NULL: unknown), a
 * refetch when it no longer reaches back, then the held events. */
static void prime(sub *s, const tix_bus_backlog *b, bool resume)
{
    if (b == NULL) {
        if (resume) {
            send_refetch(s, "events_unavailable");
        }
    } else {
        if (resume && b->gap) {
            send_refetch(s, "backlog_expired");
        }
        for (int i = 0; resume && !b->gap && i < b->n; i++) {
            size_t n = 0;
            char *t = format_event(s->chan->key, b->events[i].id, b->events[i].name,
                                   b->events[i].data, &n);
            if (t != NULL) {
                queue_text(s->conn, t, n);
            }
            free(t);
        }
        s->last_id = b->current > s->last_id || b->gap || !resume ? b->current : s->last_id;
    }
    s->priming = false;
    if (s->nheld >= HELD_MAX) {
        send_refetch(s, "events_lost");
    } else {
        for (held *e = s->held_head; e != NULL; e = e->next) {
            give(s, e->id, e->text, strlen(e->text));
        }
    }
    free_held(s);
}

/* ---- sockets (hub mutex held) ---- */

static void unlink_conn(ws_conn *c)
{
    tix_ws_hub *h = c->hub;
    while (c->subs != NULL) {
        remove_sub(h, c->subs);
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        h->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    h->count--;
}

/* Out of the epoll set and the channels now; the descriptor goes back to MHD, which closes it;
 * the struct is freed by the loop (and not before its job, if one runs, has ended). */
static void drop(ws_conn *c)
{
    if (c->dead) {
        return;
    }
    c->dead = true;
    tix_ws_hub *h = c->hub;
    epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    unlink_conn(c);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    c->grave = h->graves;
    h->graves = c;
}

static void free_conn(ws_conn *c)
{
    for (msg *m = c->inbox_head, *next = NULL; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    wslay_event_context_free(c->ctx);
    free(c->pre);
    free(c);
}

/* ---- messages and jobs ---- */

typedef struct job {
    ws_conn *c;
    json_t *m;    /* the message (owned) */
    char *key;    /* subscribe: the channel's bus key */
    int64_t last; /* subscribe: last_event_id (0 none) */
} job;

static void pump(ws_conn *c);

static void job_done(job *j)
{
    ws_conn *c = j->c;
    c->busy = false;
    json_decref(j->m);
    free(j->key);
    free(j);
    if (!c->dead) {
        pump(c);
        flush(c);
    }
}

static tix_db *job_db(void *ctx)
{
    tix_db **db = ctx;
    return *db;
}

static void auth_job(void *arg)
{
    job *j = arg;
    tix_ws_hub *h = j->c->hub;
    tix_app *app = h->app;
    const char *token = json_string_value(json_object_get(j->m, "access_token"));
    tix_claims cl;
    tix_rc rc = TIX_EAUTH;
    if (token != NULL && strlen(token) <= TIX_TOKEN_MAX &&
        tix_token_verify(app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, token, tix_now_ms() / 1000,
                         &cl) == TIX_OK) {
        tix_db *db = NULL;
        if (tix_db_acquire(app->db, &db) != TIX_OK) {
            db = NULL;
        }
        tix_arena *a = tix_arena_create(0);
        rc = db == NULL ? TIX_EUNAVAIL : tix_revocation_check(app->cache, a, &cl, job_db, &db);
        tix_arena_destroy(a);
        tix_db_release(app->db, db);
    }
    pthread_mutex_lock(&h->mu);
    ws_conn *c = j->c;
    if (!c->dead) {
        if (rc == TIX_OK) {
            c->authed = true;
            memcpy(c->user_id, cl.sub, sizeof(c->user_id));
            char key[TIX_ID_MAX + 8];
            snprintf(key, sizeof(key), "user:%s", c->user_id);
            sub *s = add_sub(c, key, 0);
            if (s != NULL) {
                s->priming = false; /* the user's channel has no backlog to resume */
            }
            queue_json(c, json_pack("{s:s,s:s}", "type", "ready", "user_id", c->user_id));
        } else if (rc == TIX_EFORBIDDEN) {
            close_with(c, WS_CODE_AUTH, "token_revoked");
        } else if (rc == TIX_EAUTH || rc == TIX_ENOTFOUND) {
            close_with(c, WS_CODE_AUTH, "invalid_token");
        } else {
            close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR, "the token could not be checked");
        }
    }
    job_done(j);
    pthread_mutex_unlock(&h->mu);
}

static void subscribe_job(void *arg)
{
    job *j = arg;
    tix_ws_hub *h = j->c->hub;
    tix_app *app = h->app;
    tix_arena *a = tix_arena_create(0);
    tix_db *db = NULL;
    tix_show show;
    tix_rc rc = tix_db_acquire(app->db, &db);
    if (rc == TIX_OK) {
        rc = tix_show_get(db, a, j->key, &show);
        tix_db_release(app->db, db);
    }
    sub *s = NULL;
    pthread_mutex_lock(&h->mu);
    ws_conn *c = j->c;
    char chan[TIX_ID_MAX + 16];
    public_name(j->key, chan, sizeof(chan));
    if (!c->dead && rc == TIX_ENOTFOUND) {
        send_error(c, "not_found", "no such show");
    } else if (!c->dead && rc != TIX_OK) {
        send_error(c, "unavailable", "the show could not be checked; try again");
    } else if (!c->dead && find_sub(c, j->key) != NULL) {
        send_error(c, "already_subscribed", "this socket already has that channel");
    } else if (!c->dead) {
        s = add_sub(c, j->key, j->last);
        if (s == NULL) {
            send_error(c, "unavailable", "out of memory");
        }
    }
    pthread_mutex_unlock(&h->mu);
    tix_bus_backlog b;
    bool known =
        s != NULL && tix_bus_since(app->bus, a, j->key, j->last, &b) == TIX_OK; /* may block */
    pthread_mutex_lock(&h->mu);
    if (s != NULL && !c->dead) { /* a dropped socket took its subscriptions with it */
        prime(s, known ? &b : NULL, j->last > 0);
        json_t *ok = json_pack("{s:s,s:s}", "type", "subscribed", "channel", chan);
        json_object_set_new(ok, "last_event_id",
                            s->last_id > 0 ? json_integer(s->last_id) : json_null());
        /* after the replayed and held-back events: it names the id the client has now */
        queue_json(c, ok);
    }
    tix_arena_destroy(a);
    job_done(j);
    pthread_mutex_unlock(&h->mu);
}

static void start_job(ws_conn *c, tix_work_fn fn, job *j)
{
    j->c = c;
    c->busy = true;
    pthread_mutex_unlock(&c->hub->mu); /* submit may wait for the pool's lock only */
    bool ok = tix_workpool_submit(c->hub->jobs, fn, j);
    pthread_mutex_lock(&c->hub->mu);
    if (!ok) {
        c->busy = false;
        if (!c->dead) {
            send_error(c, "overloaded", "the server is busy; try again");
        }
        json_decref(j->m);
        free(j->key);
        free(j);
    }
}

/* A show channel's bus key from "show:<id>" (malloc'd), NULL when malformed. */
static char *show_key(const char *channel)
{
    if (channel == NULL || strncmp(channel, "show:", 5) != 0) {
        return NULL;
    }
    const char *id = channel + 5;
    size_t n = strlen(id);
    if (n == 0 || n >= TIX_ID_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_')) {
            return NULL;
        }
    }
    return strdup(id);
}

static void ready_anonymous(ws_conn *c)
{
    queue_json(c, json_pack("{s:s,s:n}", "type", "ready", "user_id"));
}

/* One message (m owned). */
static void handle(ws_conn *c, json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    bool first = !c->got_first;
    c->got_first = true;
    if (type == NULL) {
        send_error(c, "invalid_message", "a message is a JSON object with a \"type\"");
    } else if (strcmp(type, "auth") == 0) {
        if (!first) {
            close_with(c, WSLAY_CODE_POLICY_VIOLATION, "auth must be the first message");
        } else if (!json_is_string(json_object_get(m, "access_token"))) {
            close_with(c, WS_CODE_AUTH, "invalid_token");
        } else {
            job *j = calloc(1, sizeof(*j));
            if (j != NULL) {
                j->m = m;
                start_job(c, auth_job, j);
                return;
            }
        }
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        if (first) {
            ready_anonymous(c);
        }
        const char *channel = json_string_value(json_object_get(m, "channel"));
        json_t *lj = json_object_get(m, "last_event_id");
        char *key = show_key(channel);
        if (key == NULL) {
            send_error(c, "invalid_channel", "channel must be \"show:<id>\"");
        } else if (lj != NULL && !json_is_null(lj) &&
                   (!json_is_integer(lj) || json_integer_value(lj) < 0)) {
            send_error(c, "invalid_message", "last_event_id must be a non-negative integer");
        } else if (type[0] == 'u') {
            sub *s = find_sub(c, key);
            if (s != NULL) {
                remove_sub(c->hub, s);
            }
            queue_json(c, json_pack("{s:s,s:s}", "type", "unsubscribed", "channel", channel));
        } else if (c->nsubs >= WS_MAX_SUBS + (c->authed ? 1 : 0)) {
            send_error(c, "too_many_channels", "a socket subscribes to 16 channels at most");
        } else {
            job *j = calloc(1, sizeof(*j));
            if (j != NULL) {
                j->m = m;
                j->key = key;
                j->last = lj != NULL && json_is_integer(lj) ? json_integer_value(lj) : 0;
                start_job(c, subscribe_job, j);
                return;
            }
        }
        free(key);
    } else {
        send_error(c, "invalid_message", "unknown message type");
    }
    json_decref(m);
}

/* Handles inbox messages until one needs a job. */
static void pump(ws_conn *c)
{
    while (!c->dead && !c->busy && !c->closing && c->inbox_head != NULL) {
        msg *m = c->inbox_head;
        c->inbox_head = m->next;
        if (c->inbox_head == NULL) {
            c->inbox_tail = NULL;
        }
        c->ninbox--;
        json_error_t err;
        json_t *j = json_loadb(m->text, m->len, JSON_REJECT_DUPLICATES, &err);
        free(m);
        if (!json_is_object(j)) {
            json_decref(j);
            c->got_first = true;
            send_error(c, "invalid_message", "a message is a JSON object with a \"type\"");
            continue;
        }
        handle(c, j);
    }
}

/* ---- the loop ---- */

/* After wslay stopped reading (a close was queued: ours, or the answer to the client's), what
 * the client still sends is read and thrown away, so that a client busy writing (the rest of
 * a 10 MiB message) gets its write done and reads our close frame, rather than a reset. Its
 * end (EOF) or CLOSE_WAIT_MS ends the socket. false when it was dropped. */
static bool discard_input(ws_conn *c)
{
    char junk[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(c->fd, junk, sizeof(junk), 0);
        if (n > 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return true;
        }
        drop(c);
        return false;
    }
    return true;
}

static void on_io(ws_conn *c, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && !wslay_event_want_read(c->ctx)) {
        if (!discard_input(c)) {
            return;
        }
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        int rc = wslay_event_want_read(c->ctx) ? wslay_event_recv(c->ctx) : 0;
        if (rc == WSLAY_ERR_PROTO) {
            close_with(c, WSLAY_CODE_PROTOCOL_ERROR, NULL);
        } else if (rc != 0 && !wslay_event_want_write(c->ctx)) {
            drop(c);
            return;
        } /* else: a bad frame made wslay queue its close (1002, 1007, 1009): send it first */
        if ((events & (EPOLLHUP | EPOLLERR)) && !wslay_event_want_read(c->ctx)) {
            drop(c);
            return;
        }
        pump(c);
    }
    flush(c);
}

static void tick(tix_ws_hub *h, int64_t now)
{
    for (ws_conn *c = h->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        if (c->close_sent_ms > 0 && now - c->close_sent_ms > CLOSE_WAIT_MS) {
            drop(c);
        } else if (now - c->last_rx_ms > WS_IDLE_MS) {
            drop(c);
        } else if (!c->got_first && c->inbox_head == NULL && now - c->opened_ms > WS_FIRST_MS) {
            close_with(c, WSLAY_CODE_POLICY_VIOLATION, "no first message in time");
            flush(c);
        } else if (now - c->last_ping_ms > WS_PING_MS) {
            c->last_ping_ms = now;
            struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
            if (wslay_event_queue_msg(c->ctx, &m) == 0) {
                flush(c);
            }
        }
    }
}

static void bury(tix_ws_hub *h)
{
    for (ws_conn **p = &h->graves; *p != NULL;) {
        ws_conn *c = *p;
        if (c->busy) {
            p = &c->grave;
            continue;
        }
        *p = c->grave;
        free_conn(c);
    }
}

static void *loop_main(void *arg)
{
    tix_ws_hub *h = arg;
    struct epoll_event evs[64];
    int64_t last_tick = tix_mono_ms();
    while (!atomic_load(&h->stop)) {
        int n = epoll_wait(h->ep, evs, 64, 1000);
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                ssize_t r = read(h->wake_fd, &v, sizeof(v));
                (void)r;
                continue;
            }
            ws_conn *c = evs[i].data.ptr;
            if (!c->dead) {
                on_io(c, evs[i].events);
            }
        }
        int64_t now = tix_mono_ms();
        if (now - last_tick >= 1000) {
            last_tick = now;
            tick(h, now);
        }
        bury(h);
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

void tix_ws_on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)conn;
    (void)con_cls;
    tix_ws_hub *h = cls;
    ws_conn *c = calloc(1, sizeof(*c));
    struct wslay_event_callbacks cb = {
        .recv_callback = on_recv, .send_callback = on_send, .on_msg_recv_callback = on_msg};
    if (c == NULL || wslay_event_context_server_init(&c->ctx, &cb, c) != 0) {
        free(c);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    c->hub = h;
    c->fd = sock;
    c->urh = urh;
    c->opened_ms = c->last_rx_ms = c->last_ping_ms = tix_mono_ms();
    wslay_event_config_set_max_recv_msg_length(c->ctx, WS_MAX_MESSAGE);
    if (extra_in_size > 0) {
        c->pre = malloc(extra_in_size);
        if (c->pre != NULL) {
            memcpy(c->pre, extra_in, extra_in_size);
            c->pre_len = extra_in_size;
        }
    }
    int fl = fcntl(sock, F_GETFL, 0);
    fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    int sndbuf = SNDBUF_BYTES;
    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    pthread_mutex_lock(&h->mu);
    bool full = h->closing || h->count >= h->max;
    c->next = h->conns;
    if (h->conns) {
        h->conns->prev = c;
    }
    h->conns = c;
    h->count++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(h->ep, EPOLL_CTL_ADD, sock, &ev) != 0) {
        c->dead = true;
        unlink_conn(c);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        c->grave = h->graves;
        h->graves = c;
    } else if (full) {
        close_with(c, h->closing ? WSLAY_CODE_GOING_AWAY : 1013,
                   "the server takes no more sockets");
        flush(c);
    } else if (c->pre != NULL) {
        on_io(c, EPOLLIN); /* what the client sent with the handshake */
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- the hub ---- */

void tix_ws_shutdown(tix_ws_hub *h, int wait_ms)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    for (ws_conn *c = h->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        close_with(c, WSLAY_CODE_GOING_AWAY, "server shutting down");
        flush(c);
    }
    pthread_mutex_unlock(&h->mu);
    int64_t deadline = tix_mono_ms() + wait_ms;
    while (tix_ws_count(h) > 0 && tix_mono_ms() < deadline) {
        usleep(20 * 1000);
    }
    pthread_mutex_lock(&h->mu);
    while (h->conns != NULL) {
        drop(h->conns);
    }
    /* jobs of dropped sockets still end here, before the bus and the database go */
    for (bool busy = true; busy;) {
        busy = false;
        for (ws_conn *c = h->graves; c != NULL; c = c->grave) {
            busy = busy || c->busy;
        }
        if (busy) {
            pthread_mutex_unlock(&h->mu);
            usleep(10 * 1000);
            pthread_mutex_lock(&h->mu);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

long tix_ws_count(tix_ws_hub *h)
{
    if (h == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    long n = h->count;
    pthread_mutex_unlock(&h->mu);
    return n;
}

tix_rc tix_ws_hub_create(struct tix_app *app, long max, tix_ws_hub **out)
{
    tix_ws_hub *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return TIX_ENOMEM;
    }
    h->app = app;
    h->max = max;
    h->ep = epoll_create1(EPOLL_CLOEXEC);
    h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (h->ep < 0 || h->wake_fd < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, h->wake_fd, &ev) != 0 ||
        tix_workpool_create(2, 4096, &h->jobs) != TIX_OK) {
        if (h->ep >= 0) {
            close(h->ep);
        }
        if (h->wake_fd >= 0) {
            close(h->wake_fd);
        }
        free(h);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->loop_started = pthread_create(&h->loop, NULL, loop_main, h) == 0;
    if (!h->loop_started) {
        tix_workpool_destroy(h->jobs);
        pthread_mutex_destroy(&h->mu);
        close(h->ep);
        close(h->wake_fd);
        free(h);
        return TIX_ENOMEM;
    }
    *out = h;
    return TIX_OK;
}

void tix_ws_hub_destroy(tix_ws_hub *h)
{
    if (h == NULL) {
        return;
    }
    tix_ws_shutdown(h, 0);
    tix_workpool_destroy(h->jobs); /* jobs end (their sockets are dead) before the loop goes */
    atomic_store(&h->stop, true);
    uint64_t one = 1;
    ssize_t w = write(h->wake_fd, &one, sizeof(one));
    (void)w;
    pthread_join(h->loop, NULL);
    bury(h);
    close(h->ep);
    close(h->wake_fd);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
