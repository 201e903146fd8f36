/*
 * The WebSocket JSON protocol (see ws.h for the messages, ws_int.h for how the hub's two parts
 * meet): the inbox parser and dispatcher, the auth and subscribe jobs, the channels a socket
 * is in, and the bus's sink that turns events into "event" messages.
 *
 * A message is handled on the loop thread (tix_ws_pump, from ws.c) when it is cheap
 * (unsubscribe, errors); auth and subscribe may block on the database or Redis, so each runs
 * as a job on the hub's work pool (one job per socket at a time: messages keep their order;
 * the loop does not pump a busy socket). A job takes the hub mutex only around its effects.
 *
 * Channels are http/channels.h's, keyed by the bus's show_id: a show's id, or "user:<id>" for
 * the user's own channel, joined by itself after auth. Both follow channels.h's resume logic
 * exactly like an SSE stream: the backlog after last_event_id (the subscribe's, or the auth's
 * for the user channel), or one refetch; live events held back while it primes; ids the bus's
 * per-key sequence (the SSE stream's for a show). The user channel's events are kept in the
 * bus's backlog like a show's (tix_user_event publishes under "user:<id>": EVENT_BACKLOG
 * events, EVENT_BACKLOG_TTL after the last; in Redis when REDIS_URL is set, so a resume works
 * on another server), so no table keeps them. Only the framing differs from SSE:
 * {"type":"event","channel":…,"id":N,…}.
 *
 * Memory: a tix_ws_sub is malloc'd here when a subscription starts and freed here when it
 * ends (unsubscribe, or tix_ws_unsubscribe_all when the socket is dropped); a job and its
 * message and key are freed by job_done (or start_job when the pool refuses it).
 */
#include "app.h"
#include "auth/revocation.h"
#include "auth/token.h"
#include "core/util.h"
#include "http/ws_int.h"
#include "store/catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tix_ws_sub *sub_of(tix_chan_sub *cs)
{
    return (tix_ws_sub *)cs; /* cs is the subscription's first member */
}

/* ---- subscriptions (hub mutex held) ---- */

static tix_ws_sub *find_sub(tix_ws_conn *c, const char *key)
{
    for (tix_ws_sub *s = c->subs; s != NULL; s = s->next) {
        if (strcmp(tix_chan_key(&s->chan), key) == 0) {
            return s;
        }
    }
    return NULL;
}

/* A new subscription of c to key, priming (channels.h); NULL when out of memory. */
static tix_ws_sub *add_sub(tix_ws_conn *c, const char *key, int64_t last_id)
{
    tix_ws_sub *s = calloc(1, sizeof(*s));
    if (s == NULL || tix_chan_start(&c->hub->chans, &s->chan, key, last_id) != TIX_OK) {
        free(s);
        return NULL;
    }
    s->conn = c;
    s->next = c->subs;
    c->subs = s;
    c->nsubs++;
    return s;
}

/* Ends s, already out of its socket's list. */
static void end_sub(tix_ws_sub *s)
{
    s->conn->nsubs--;
    tix_chan_stop(&s->conn->hub->chans, &s->chan);
    free(s);
}

static void remove_sub(tix_ws_sub *s)
{
    for (tix_ws_sub **p = &s->conn->subs; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    end_sub(s);
}

void tix_ws_unsubscribe_all(tix_ws_conn *c)
{
    while (c->subs != NULL) {
        tix_ws_sub *s = c->subs;
        c->subs = s->next;
        end_sub(s);
    }
}

/* ---- events (hub mutex held) ---- */

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

/* One refetch event: data {"show_id","reason"} on a show channel, {"reason"} on the user's (its
 * client reloads what it shows of its bookings and holds). */
static void send_refetch(tix_ws_sub *s, const char *reason)
{
    const char *key = tix_chan_key(&s->chan);
    char data[TIX_ID_MAX + 96];
    if (strncmp(key, "user:", 5) == 0) {
        snprintf(data, sizeof(data), "{\"reason\":\"%s\"}", reason);
    } else {
        snprintf(data, sizeof(data), "{\"show_id\":\"%s\",\"reason\":\"%s\"}", key, reason);
    }
    size_t n = 0;
    char *t = format_event(key, 0, "refetch", data, &n);
    if (t != NULL) {
        tix_ws_queue_text(s->conn, t, n);
    }
    free(t);
}

/* The registry's callbacks (http/channels.h): queue only; the caller flushes. */
static void chan_send(tix_chan_sub *cs, const char *text, size_t n)
{
    tix_ws_queue_text(sub_of(cs)->conn, text, n);
}

static void chan_refetch(tix_chan_sub *cs, const char *reason)
{
    send_refetch(sub_of(cs), reason);
}

const tix_chan_ops tix_ws_chan_ops = {chan_send, chan_refetch};

/* Events may have been lost (the bus's subscription was down): every primed subscription,
 * show or user channel, refetches (a priming one reads the backlog after this anyway). */
static void refetch_all(tix_ws_hub *h)
{
    for (tix_ws_conn *c = h->conns, *cnext = NULL; c != NULL; c = cnext) {
        cnext = c->next; /* flush may drop c */
        for (tix_ws_sub *s = c->subs; s != NULL; s = s->next) {
            if (!s->chan.priming) {
                send_refetch(s, "events_lost");
            }
        }
        tix_ws_flush(c);
    }
}

void tix_ws_deliver(void *ctx, const tix_bus_event *ev)
{
    tix_ws_hub *h = ctx;
    pthread_mutex_lock(&h->mu);
    if (ev->show_id == NULL) {
        refetch_all(h);
        pthread_mutex_unlock(&h->mu);
        return;
    }
    tix_chan_sub *first = tix_chan_first(&h->chans, ev->show_id);
    size_t n = 0;
    char *text = first != NULL ? format_event(ev->show_id, ev->id, ev->name, ev->data, &n) : NULL;
    for (tix_chan_sub *cs = text ? first : NULL, *next = NULL; cs != NULL; cs = next) {
        /* flush may drop the socket (and cs with it), never another socket's subscription */
        next = cs->next;
        tix_ws_conn *c = sub_of(cs)->conn;
        bool live = !cs->priming;
        tix_chan_give(&h->chans, cs, ev->id, text, n);
        if (live) {
            tix_ws_flush(c);
        }
    }
    pthread_mutex_unlock(&h->mu);
    free(text);
}

/* Sends a primed subscription's start (channels.h): the backlog after last_id, or a refetch
 * when it is unknown or no longer reaches back; then the held-back events. */
static void prime(tix_ws_sub *s, const tix_bus_backlog *b)
{
    const char *key = tix_chan_key(&s->chan);
    switch (tix_chan_resume(&s->chan, b)) {
    case TIX_CHAN_UNAVAILABLE:
        send_refetch(s, "events_unavailable");
        break;
    case TIX_CHAN_EXPIRED:
        send_refetch(s, "backlog_expired");
        break;
    case TIX_CHAN_REPLAY: /* b is not NULL */
        for (int i = 0; b != NULL && i < b->n; i++) {
            size_t n = 0;
            char *t = format_event(key, b->events[i].id, b->events[i].name, b->events[i].data, &n);
            if (t != NULL) {
                tix_ws_queue_text(s->conn, t, n);
            }
            free(t);
        }
        break;
    case TIX_CHAN_FRESH: /* "subscribed" names the id it starts from */
        break;
    }
    tix_chan_primed(&s->conn->hub->chans, &s->chan, b);
}

/* ---- messages and jobs ---- */

typedef struct job {
    tix_ws_conn *c;
    json_t *m;    /* the message (owned) */
    char *key;    /* the channel's bus key (auth: made by the job) */
    int64_t last; /* last_event_id (0 none) */
} job;

static void job_done(job *j)
{
    tix_ws_conn *c = j->c;
    c->busy = false;
    json_decref(j->m);
    free(j->key);
    free(j);
    if (!c->dead) {
        tix_ws_pump(c);
        tix_ws_flush(c);
    }
}

static tix_db *job_db(void *ctx)
{
    tix_db **db = ctx;
    return *db;
}

/* The auth job's blocking part (no mutex): the token's signature and revocation, and the
 * user's saved locale into *lang, which the session check gives with its answer (NONE when
 * none is saved; auth_outcome uses it when the handshake named no language). TIX_OK,
 * TIX_EFORBIDDEN (revoked), TIX_EAUTH or TIX_ENOTFOUND (invalid), else the check failed
 * (database down). */
static tix_rc check_token(tix_app *app, const job *j, tix_claims *cl, tix_lang *lang)
{
    const char *token = json_string_value(json_object_get(j->m, "access_token"));
    *lang = TIX_LANG_NONE;
    if (token == NULL || strlen(token) > TIX_TOKEN_MAX ||
        tix_token_verify(app->cfg.jwt_access_secret, TIX_TOKEN_ACCESS, token, tix_now_ms() / 1000,
                         cl) != TIX_OK) {
        return TIX_EAUTH;
    }
    tix_db *db = NULL;
    if (tix_db_acquire(app->db, &db) != TIX_OK) {
        return TIX_EUNAVAIL;
    }
    tix_arena *a = tix_arena_create(0);
    char locale[TIX_LOCALE_MAX];
    tix_rc rc = tix_revocation_check(app->cache, a, cl, job_db, &db, locale);
    if (rc == TIX_OK) {
        *lang = tix_lang_parse(locale);
    }
    tix_arena_destroy(a);
    tix_db_release(app->db, db);
    return rc;
}

/* The auth's outcome on a live socket (hub mutex held): authenticated, with the user channel
 * started (priming) from j->last, returned (NULL when out of memory); or closed. */
static tix_ws_sub *auth_outcome(tix_ws_conn *c, job *j, tix_rc rc, const tix_claims *cl,
                                tix_lang lang)
{
    if (rc == TIX_EFORBIDDEN) {
        tix_ws_close_with(c, WS_CODE_AUTH, "token_revoked");
        return NULL;
    }
    if (rc == TIX_EAUTH || rc == TIX_ENOTFOUND) {
        tix_ws_close_with(c, WS_CODE_AUTH, "invalid_token");
        return NULL;
    }
    if (rc != TIX_OK) {
        tix_ws_close_with(c, WSLAY_CODE_INTERNAL_SERVER_ERROR,
                          N_("the token could not be checked"));
        return NULL;
    }
    c->authed = true;
    memcpy(c->user_id, cl->sub, sizeof(c->user_id));
    if (c->lang == TIX_LANG_NONE) {
        c->lang = lang;
    }
    j->key = malloc(TIX_ID_MAX + 8);
    if (j->key == NULL) {
        return NULL;
    }
    snprintf(j->key, TIX_ID_MAX + 8, "user:%s", c->user_id);
    return add_sub(c, j->key, j->last);
}

/* {"type":"auth"}: checks the token (the saved locale comes with it, for a handshake that
 * named no language), then joins the user's channel like a show subscription: the backlog after the
 * message's last_event_id, or a refetch (prime), then "ready" naming the id the client has. */
static void auth_job(void *arg)
{
    job *j = arg;
    tix_ws_hub *h = j->c->hub;
    tix_claims cl;
    tix_lang lang = TIX_LANG_NONE;
    tix_rc rc = check_token(h->app, j, &cl, &lang);
    tix_arena *a = tix_arena_create(0);
    tix_ws_sub *s = NULL;
    pthread_mutex_lock(&h->mu);
    tix_ws_conn *c = j->c;
    if (!c->dead) {
        s = auth_outcome(c, j, rc, &cl, lang);
    }
    pthread_mutex_unlock(&h->mu);
    tix_bus_backlog b;
    bool known =
        s != NULL && tix_bus_since(h->app->bus, a, j->key, j->last, &b) == TIX_OK; /* may block */
    pthread_mutex_lock(&h->mu);
    if (rc == TIX_OK && !c->dead) { /* a dropped socket took its subscription with it */
        if (s != NULL) {
            prime(s, known ? &b : NULL);
        }
        json_t *ready = json_pack("{s:s,s:s}", "type", "ready", "user_id", c->user_id);
        json_object_set_new(ready, "last_event_id",
                            s != NULL && s->chan.last_id > 0 ? json_integer(s->chan.last_id)
                                                             : json_null());
        /* after the replayed and held-back events, as "subscribed" is */
        tix_ws_queue_json(c, ready);
    }
    tix_arena_destroy(a);
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
    tix_ws_sub *s = NULL;
    pthread_mutex_lock(&h->mu);
    tix_ws_conn *c = j->c;
    char chan[TIX_ID_MAX + 16];
    public_name(j->key, chan, sizeof(chan));
    if (!c->dead && rc == TIX_ENOTFOUND) {
        tix_ws_send_error(c, "not_found", "no such show");
    } else if (!c->dead && rc != TIX_OK) {
        tix_ws_send_error(c, "unavailable", "the show could not be checked; try again");
    } else if (!c->dead && find_sub(c, j->key) != NULL) {
        tix_ws_send_error(c, "already_subscribed", "this socket already has that channel");
    } else if (!c->dead) {
        s = add_sub(c, j->key, j->last);
        if (s == NULL) {
            tix_ws_send_error(c, "unavailable", "out of memory");
        }
    }
    pthread_mutex_unlock(&h->mu);
    tix_bus_backlog b;
    bool known =
        s != NULL && tix_bus_since(app->bus, a, j->key, j->last, &b) == TIX_OK; /* may block */
    pthread_mutex_lock(&h->mu);
    if (s != NULL && !c->dead) { /* a dropped socket took its subscriptions with it */
        prime(s, known ? &b : NULL);
        json_t *ok = json_pack("{s:s,s:s}", "type", "subscribed", "channel", chan);
        json_object_set_new(ok, "last_event_id",
                            s->chan.last_id > 0 ? json_integer(s->chan.last_id) : json_null());
        /* after the replayed and held-back events: it names the id the client has now */
        tix_ws_queue_json(c, ok);
    }
    tix_arena_destroy(a);
    job_done(j);
    pthread_mutex_unlock(&h->mu);
}

static void start_job(tix_ws_conn *c, tix_work_fn fn, job *j)
{
    j->c = c;
    c->busy = true;
    pthread_mutex_unlock(&c->hub->mu); /* submit may wait for the pool's lock only */
    bool ok = tix_workpool_submit(c->hub->jobs, fn, j);
    pthread_mutex_lock(&c->hub->mu);
    if (!ok) {
        c->busy = false;
        if (!c->dead) {
            tix_ws_send_error(c, "overloaded", "the server is busy; try again");
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

/* A message's last_event_id: absent or null is 0; false when it is not a non-negative
 * integer. */
static bool last_event_id(json_t *m, int64_t *out)
{
    json_t *lj = json_object_get(m, "last_event_id");
    *out = 0;
    if (lj == NULL || json_is_null(lj)) {
        return true;
    }
    if (!json_is_integer(lj) || json_integer_value(lj) < 0) {
        return false;
    }
    *out = json_integer_value(lj);
    return true;
}

static void ready_anonymous(tix_ws_conn *c)
{
    tix_ws_queue_json(c, json_pack("{s:s,s:n}", "type", "ready", "user_id"));
}

/* {"type":"auth"} (last_event_id: the user channel's, to resume): true when a job took m. A
 * bad last_event_id is an error that does not count as the first message (auth may follow). */
static bool handle_auth(tix_ws_conn *c, json_t *m, bool first)
{
    int64_t last = 0;
    if (!first) {
        tix_ws_close_with(c, WSLAY_CODE_POLICY_VIOLATION, N_("auth must be the first message"));
    } else if (!json_is_string(json_object_get(m, "access_token"))) {
        tix_ws_close_with(c, WS_CODE_AUTH, "invalid_token");
    } else if (!last_event_id(m, &last)) {
        c->got_first = false;
        tix_ws_send_error(c, "invalid_message", "last_event_id must be a non-negative integer");
    } else {
        job *j = calloc(1, sizeof(*j));
        if (j != NULL) {
            j->m = m;
            j->last = last;
            start_job(c, auth_job, j);
            return true;
        }
    }
    return false;
}

/* {"type":"subscribe"|"unsubscribe"}: true when a job took m. */
static bool handle_channel(tix_ws_conn *c, json_t *m, bool subscribe, bool first)
{
    if (first) {
        ready_anonymous(c);
    }
    const char *channel = json_string_value(json_object_get(m, "channel"));
    int64_t last = 0;
    char *key = show_key(channel);
    if (key == NULL) {
        tix_ws_send_error(c, "invalid_channel", "channel must be \"show:<id>\"");
    } else if (!last_event_id(m, &last)) {
        tix_ws_send_error(c, "invalid_message", "last_event_id must be a non-negative integer");
    } else if (!subscribe) {
        tix_ws_sub *s = find_sub(c, key);
        if (s != NULL) {
            remove_sub(s);
        }
        tix_ws_queue_json(c, json_pack("{s:s,s:s}", "type", "unsubscribed", "channel", channel));
    } else if (c->nsubs >= WS_MAX_SUBS + (c->authed ? 1 : 0)) {
        tix_ws_send_error(c, "too_many_channels", "a socket subscribes to 16 channels at most");
    } else {
        job *j = calloc(1, sizeof(*j));
        if (j != NULL) {
            j->m = m;
            j->key = key;
            j->last = last;
            start_job(c, subscribe_job, j);
            return true;
        }
    }
    free(key);
    return false;
}

/* One message (m owned). */
static void handle(tix_ws_conn *c, json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    bool first = !c->got_first;
    c->got_first = true;
    bool taken = false;
    if (type == NULL) {
        tix_ws_send_error(c, "invalid_message", "a message is a JSON object with a \"type\"");
    } else if (strcmp(type, "auth") == 0) {
        taken = handle_auth(c, m, first);
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        taken = handle_channel(c, m, type[0] == 's', first);
    } else {
        tix_ws_send_error(c, "invalid_message", "unknown message type");
    }
    if (!taken) {
        json_decref(m);
    }
}

/* Handles inbox messages until one needs a job. */
void tix_ws_pump(tix_ws_conn *c)
{
    while (!c->dead && !c->busy && !c->closing && c->inbox_head != NULL) {
        tix_ws_msg *m = c->inbox_head;
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
            tix_ws_send_error(c, "invalid_message", "a message is a JSON object with a \"type\"");
            continue;
        }
        handle(c, j);
    }
}
