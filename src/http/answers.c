/* Cached answers ready to send, reference-counted (see answers.h). */
#include "http/answers.h"

#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 16384 /* a power of two */

static struct {
    pthread_mutex_t mu;
    tix_answer *buckets[BUCKETS];
    tix_answer lru; /* sentinel: lru.next is the most recently used */
    size_t bytes;
} store = {.mu = PTHREAD_MUTEX_INITIALIZER, .lru = {.prev = &store.lru, .next = &store.lru}};

/* Copies n bytes to *at and NUL-terminates them; returns the copy and moves *at past it. */
static char *place(char **at, const char *src, size_t n)
{
    char *dst = *at;
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
    *at += n + 1;
    return dst;
}

tix_answer *tix_answer_make(const tix_answer_init *in)
{
    size_t kl = strlen(in->key), cl = strlen(in->catver), sl = strlen(in->scopever);
    size_t el = strlen(in->etag), gzlen = in->gz ? in->gzlen : 0;
    size_t total = sizeof(tix_answer) + kl + cl + sl + el + in->plen + gzlen + 6;
    tix_answer *a = malloc(total); /* one allocation: the struct, then every string */
    if (a == NULL) {
        return NULL;
    }
    memset(a, 0, sizeof(*a));
    atomic_init(&a->refs, 1);
    char *at = (char *)(a + 1);
    a->key = place(&at, in->key, kl);
    a->catver = place(&at, in->catver, cl);
    a->scopever = place(&at, in->scopever, sl);
    a->etag = place(&at, in->etag, el);
    a->plain = place(&at, in->plain, in->plen);
    a->plen = in->plen;
    a->gz = in->gz ? place(&at, in->gz, gzlen) : NULL;
    a->gzlen = gzlen;
    a->until_ms = in->until_ms;
    a->hash = tix_fnv1a_str(in->key);
    a->cost = total;
    return a;
}

void tix_answer_unref(tix_answer *a)
{
    if (a != NULL && atomic_fetch_sub(&a->refs, 1) == 1) {
        free(a);
    }
}

void tix_answer_free_cb(void *cls)
{
    tix_answer_unref(cls);
}

/* Under store.mu: the slot holding key's answer (or the empty slot at its chain's end). */
static tix_answer **slot_of(const char *key, uint64_t h)
{
    tix_answer **p = &store.buckets[h & (BUCKETS - 1)];
    while (*p != NULL && !((*p)->hash == h && strcmp((*p)->key, key) == 0)) {
        p = &(*p)->hnext;
    }
    return p;
}

/* Under store.mu: unlinks the answer in *slot; returns it (the store's reference, to drop
 * once the mutex is let go; NULL for an empty slot). */
static tix_answer *unlink_slot(tix_answer **slot)
{
    tix_answer *a = *slot;
    if (a == NULL) {
        return NULL;
    }
    *slot = a->hnext;
    a->prev->next = a->next;
    a->next->prev = a->prev;
    store.bytes -= a->cost;
    return a;
}

static void lru_front(tix_answer *a)
{
    a->next = store.lru.next;
    a->prev = &store.lru;
    store.lru.next->prev = a;
    store.lru.next = a;
}

tix_answer *tix_answers_get(const char *key, const char *catver, const char *scopever,
                            int64_t now_ms)
{
    uint64_t h = tix_fnv1a_str(key);
    tix_answer *stale = NULL;
    tix_answer *found = NULL;
    pthread_mutex_lock(&store.mu);
    tix_answer **slot = slot_of(key, h);
    tix_answer *a = *slot;
    if (a != NULL && a->until_ms <= now_ms) {
        stale = unlink_slot(slot); /* past its instant: true for no reader any more */
    } else if (a != NULL && strcmp(a->catver, catver) == 0 && strcmp(a->scopever, scopever) == 0) {
        atomic_fetch_add(&a->refs, 1);
        a->prev->next = a->next; /* most recently used now */
        a->next->prev = a->prev;
        lru_front(a);
        found = a;
    }
    /* Other versions: left for the next put to replace (a reader that read versions just
     * before a bump must not throw away the answer built after it). */
    pthread_mutex_unlock(&store.mu);
    tix_answer_unref(stale);
    return found;
}

tix_answer *tix_answers_peek(const char *key)
{
    pthread_mutex_lock(&store.mu);
    tix_answer *a = *slot_of(key, tix_fnv1a_str(key));
    if (a != NULL) {
        atomic_fetch_add(&a->refs, 1);
    }
    pthread_mutex_unlock(&store.mu);
    return a;
}

void tix_answers_put(tix_answer *a, size_t budget)
{
    tix_answer *drop[64];
    int ndrop = 0;
    atomic_fetch_add(&a->refs, 1); /* the store's */
    pthread_mutex_lock(&store.mu);
    tix_answer **slot = slot_of(a->key, a->hash);
    if (*slot != NULL) {
        drop[ndrop++] = unlink_slot(slot);
        slot = slot_of(a->key, a->hash);
    }
    a->hnext = NULL;
    *slot = a;
    lru_front(a);
    store.bytes += a->cost;
    /* Evicts from the cold end (never a itself); at most a batch per put, so the mutex is
     * never held for long: the next put goes on where this one stopped. */
    while (store.bytes > budget && store.lru.prev != a && ndrop < 64) {
        tix_answer *old = store.lru.prev;
        drop[ndrop++] = unlink_slot(slot_of(old->key, old->hash));
    }
    pthread_mutex_unlock(&store.mu);
    for (int i = 0; i < ndrop; i++) {
        tix_answer_unref(drop[i]);
    }
}

size_t tix_answers_bytes(void)
{
    pthread_mutex_lock(&store.mu);
    size_t n = store.bytes;
    pthread_mutex_unlock(&store.mu);
    return n;
}

void tix_answers_clear(void)
{
    for (;;) {
        pthread_mutex_lock(&store.mu);
        tix_answer *a = store.lru.next != &store.lru ? store.lru.next : NULL;
        if (a != NULL) {
            (void)unlink_slot(slot_of(a->key, a->hash));
        }
        pthread_mutex_unlock(&store.mu);
        if (a == NULL) {
            return;
        }
        tix_answer_unref(a);
    }
}
