/*
 * The channel registry and the resume logic (see channels.h for the design: who owns what,
 * the locking, the invariants). A bucket is a singly linked list of channels (FNV-1a of the
 * key); a channel's subscribers are a doubly linked list threaded through the owners' structs,
 * so stopping one is O(1) and a subscriber costs the owner no allocation.
 */
#include "http/channels.h"

#include "core/util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tix_chan {
    tix_chan *next; /* the bucket's channels */
    tix_chan_sub *subs;
    char key[]; /* the bus's show_id: "<show id>" or "user:<user id>" */
};

struct tix_chan_held {
    tix_chan_held *next;
    int64_t id;
    char text[]; /* the formatted event, NUL-terminated */
};

static size_t bucket_of(const char *s)
{
    return (size_t)(tix_fnv1a_str(s) % TIX_CHAN_BUCKETS);
}

static tix_chan *find(tix_chan_reg *r, const char *key)
{
    tix_chan *ch = r->buckets[bucket_of(key)];
    while (ch != NULL && strcmp(ch->key, key) != 0) {
        ch = ch->next;
    }
    assert(ch == NULL || ch->subs != NULL);
    return ch;
}

void tix_chan_init(tix_chan_reg *r, const tix_chan_ops *ops)
{
    assert(ops != NULL && ops->send != NULL && ops->refetch != NULL);
    memset(r, 0, sizeof(*r));
    r->ops = ops;
}

void tix_chan_close(tix_chan_reg *r)
{
    assert(r->nsubs == 0 && r->nchans == 0);
    for (size_t b = 0; b < TIX_CHAN_BUCKETS; b++) {
        assert(r->buckets[b] == NULL);
        (void)b;
    }
    r->ops = NULL;
}

tix_rc tix_chan_start(tix_chan_reg *r, tix_chan_sub *s, const char *key, int64_t last_id)
{
    assert(s->chan == NULL && s->nheld == 0 && s->held_head == NULL);
    tix_chan *ch = find(r, key);
    if (ch == NULL) {
        size_t len = strlen(key);
        ch = calloc(1, sizeof(*ch) + len + 1);
        if (ch == NULL) {
            return TIX_ENOMEM;
        }
        memcpy(ch->key, key, len + 1);
        size_t b = bucket_of(key);
        ch->next = r->buckets[b];
        r->buckets[b] = ch;
        r->nchans++;
    }
    *s = (tix_chan_sub){.chan = ch, .last_id = last_id, .priming = true, .next = ch->subs};
    if (ch->subs != NULL) {
        ch->subs->prev = s;
    }
    ch->subs = s;
    r->nsubs++;
    return TIX_OK;
}

static void free_held(tix_chan_sub *s)
{
    for (tix_chan_held *e = s->held_head, *next = NULL; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    s->held_head = s->held_tail = NULL;
    s->nheld = 0;
}

void tix_chan_stop(tix_chan_reg *r, tix_chan_sub *s)
{
    tix_chan *ch = s->chan;
    assert(ch != NULL && r->nsubs > 0);
    assert(s->prev != NULL ? s->prev->next == s : ch->subs == s);
    assert(s->next == NULL || s->next->prev == s);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        ch->subs = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    r->nsubs--;
    if (ch->subs == NULL) {
        tix_chan **p = &r->buckets[bucket_of(ch->key)];
        while (*p != ch) {
            assert(*p != NULL);
            p = &(*p)->next;
        }
        *p = ch->next;
        free(ch);
        r->nchans--;
    }
    free_held(s);
    s->prev = s->next = NULL;
    s->chan = NULL;
    s->priming = false;
}

static void hold_back(tix_chan_sub *s, int64_t id, const char *text, size_t n)
{
    tix_chan_held *e = s->nheld < TIX_CHAN_HELD_MAX ? malloc(sizeof(*e) + n + 1) : NULL;
    if (e == NULL) {
        s->nheld = TIX_CHAN_HELD_MAX; /* tix_chan_primed sends "events_lost" */
        return;
    }
    e->next = NULL;
    e->id = id;
    memcpy(e->text, text, n);
    e->text[n] = '\0';
    if (s->held_tail != NULL) {
        s->held_tail->next = e;
    } else {
        s->held_head = e;
    }
    s->held_tail = e;
    s->nheld++;
}

void tix_chan_give(tix_chan_reg *r, tix_chan_sub *s, int64_t id, const char *text, size_t n)
{
    assert(s->chan != NULL);
    if (s->priming) {
        hold_back(s, id, text, n);
        return;
    }
    assert(s->nheld == 0 && s->held_head == NULL);
    if (id > 0 && id <= s->last_id) {
        return; /* already sent (from the backlog) */
    }
    if (id > 0) {
        s->last_id = id; /* before send: s must not be touched after it */
    }
    r->ops->send(s, text, n);
}

tix_chan_start_kind tix_chan_resume(const tix_chan_sub *s, const tix_bus_backlog *b)
{
    assert(s->chan != NULL && s->priming);
    if (s->last_id <= 0) {
        return TIX_CHAN_FRESH;
    }
    if (b == NULL) {
        return TIX_CHAN_UNAVAILABLE;
    }
    return b->gap ? TIX_CHAN_EXPIRED : TIX_CHAN_REPLAY;
}

void tix_chan_primed(tix_chan_reg *r, tix_chan_sub *s, const tix_bus_backlog *b)
{
    assert(s->chan != NULL && s->priming && s->nheld <= TIX_CHAN_HELD_MAX);
    if (b != NULL) {
        /* a client ahead of the bus (ids from an older counter) keeps its own id */
        s->last_id = b->current > s->last_id || b->gap || s->last_id <= 0 ? b->current : s->last_id;
    }
    s->priming = false;
    tix_chan_held *list = s->held_head;
    bool lost = s->nheld >= TIX_CHAN_HELD_MAX;
    s->held_head = s->held_tail = NULL;
    s->nheld = 0;
    if (lost) {
        r->ops->refetch(s, "events_lost");
    }
    for (tix_chan_held *e = list, *next = NULL; e != NULL; e = next) {
        next = e->next;
        if (!lost) {
            tix_chan_give(r, s, e->id, e->text, strlen(e->text));
        }
        free(e);
    }
}

tix_chan_sub *tix_chan_first(tix_chan_reg *r, const char *key)
{
    tix_chan *ch = find(r, key);
    return ch != NULL ? ch->subs : NULL;
}

void tix_chan_each(tix_chan_reg *r, void (*fn)(tix_chan_sub *s, void *ctx), void *ctx)
{
    for (size_t b = 0; b < TIX_CHAN_BUCKETS; b++) {
        for (tix_chan *ch = r->buckets[b]; ch != NULL; ch = ch->next) {
            assert(ch->subs != NULL);
            for (tix_chan_sub *s = ch->subs; s != NULL; s = s->next) {
                assert(s->chan == ch);
                fn(s, ctx);
            }
        }
    }
}

const char *tix_chan_key(const tix_chan_sub *s)
{
    assert(s->chan != NULL);
    return s->chan->key;
}
