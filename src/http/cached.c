/* Cached GET answers and ETags (see cached.h). */
#include "http/cached.h"

#include "app.h"
#include "cache/cache.h"
#include "core/gzip.h"
#include "core/util.h"
#include "http/answers.h"
#include "http/encoding.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_FLAGS     (TIX_ROUTE_CACHE_SHOW | TIX_ROUTE_CACHE_CATALOG | TIX_ROUTE_CACHE_USER)
#define MIN_STORE_MS    100 /* an answer true for less than this is not worth storing */
#define ETAG_HEX        20
#define MAX_PLAIN_BYTES (64u << 20) /* a stored answer inflates to at most this */

/* What the lookup read, for storing the answer after the handler. */
struct tix_cached {
    const char *key;
    const char *catver;
    const char *scopever;
    bool storable;
    struct tix_flight *flight; /* the build this request leads, until it ends */
    unsigned long gen;         /* that build's number in its flight */
};

/* ---- one build per entry at a time, and one for everyone who waited ----
 *
 * In a stampede every hold bumps the show's version, so nearly every seat-map read misses, each
 * with a version of its own: one build per version would still be one build per read. A miss
 * therefore joins the "flight" of its entry (whatever the versions): with no build running it
 * leads one; with a build running under the versions it read, it waits for that build (built
 * after those versions were read, and a write bumps them after it commits: as exact as any
 * hit); with a build running under other versions it waits for the NEXT build, the first to
 * start after it arrived, and is answered with that build's stored answer: it was read from
 * the database after the request arrived, so it includes every write the client had seen
 * completed. At most one build per entry runs per server, and every read that
 * arrives meanwhile is served by the one after it: builds per second are bounded by the build's
 * time, not by the reads. When a build ends, one of the waiters for the next one leads it. A
 * waiter that waits more than COALESCE_WAIT_MS, or whose build stored nothing (it failed, or
 * its answer was not storable), builds its own answer. With SEATMAP_STALE, a show-scope
 * miss that finds a build running (or, on MHD's thread, a read of its entry queued to lead one:
 * `queued`) is answered with the entry's last answer instead of waiting, while that is recent
 * enough (see "stale while revalidating" below). */
#define COALESCE_WAIT_MS 3000

struct tix_flight {
    struct tix_flight *next;
    char *key;
    int waiters;
    bool building;         /* a build of this entry is running */
    unsigned long started; /* builds begun */
    unsigned long ended;   /* builds ended (they run one at a time: the last is `ended`) */
    tix_answer *answer;    /* the last ended build's stored answer (a reference), or NULL */
    char vers[128];        /* "<catalogue version> <scope version>" the running build read */
    int queued;            /* reads handed to the pool from MHD's thread, not yet looked up */
    pthread_cond_t cv;
};

static struct {
    pthread_mutex_t mu;
    struct tix_flight *head;
} flights = {PTHREAD_MUTEX_INITIALIZER, NULL};

static atomic_ullong coalesced; /* misses answered by another request's build */
static atomic_ullong stale;     /* misses answered with a stale answer */

/* Nobody waits on f, builds it or is queued for it: it may go. flights.mu held. */
static bool flight_idle(const struct tix_flight *f)
{
    return f->waiters == 0 && !f->building && f->queued == 0;
}

/* Unlinks and frees f (under flights.mu), once nobody waits on it and nothing builds. */
static void flight_drop(struct tix_flight *f)
{
    for (struct tix_flight **pp = &flights.head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    pthread_cond_destroy(&f->cv);
    tix_answer_unref(f->answer);
    free(f->key);
    free(f);
}

/* The flight of key, added to the list if there is none; NULL when out of memory. flights.mu
 * held. */
static struct tix_flight *flight_find_or_add(const char *key)
{
    struct tix_flight *f = flights.head;
    while (f != NULL && strcmp(f->key, key) != 0) {
        f = f->next;
    }
    if (f != NULL) {
        return f;
    }
    f = calloc(1, sizeof(*f));
    char *k = f ? strdup(key) : NULL;
    if (k == NULL) {
        free(f);
        return NULL;
    }
    f->key = k;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    f->next = flights.head;
    flights.head = f;
    return f;
}

static tix_answer *stale_copy(tix_req *r, const char *key, int64_t now, int64_t *age_ms);

/* The caller leads f's next build, under versions vers (*gen: its number). flights.mu held. */
static struct tix_flight *flight_lead(struct tix_flight *f, const char *vers, unsigned long *gen)
{
    f->building = true;
    *gen = ++f->started;
    snprintf(f->vers, sizeof(f->vers), "%s", vers);
    return f;
}

/* COALESCE_WAIT_MS from now on CLOCK_MONOTONIC (the flights' condition variables' clock). */
static struct timespec wait_deadline(void)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += COALESCE_WAIT_MS / 1000;
    until.tv_nsec += (long)(COALESCE_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

/* Joins the flight of key. Returns the flight when this request leads its next build
 * (*gen: that build's number); else NULL with *answer set (a new reference) when a build that
 * began after this request arrived stored one (*stale_age -1), or when a build is running and
 * the entry's last answer may be served stale (*stale_age: its staleness in ms), or NULL with
 * *answer NULL: build without the flight. r stops counting as queued on the flight. */
static struct tix_flight *flight_join(tix_req *r, const char *key, const char *vers,
                                      unsigned long *gen, tix_answer **answer, int64_t *stale_age)
{
    *answer = NULL;
    *stale_age = -1;
    pthread_mutex_lock(&flights.mu);
    struct tix_flight *f = flight_find_or_add(key);
    if (f == NULL) {
        pthread_mutex_unlock(&flights.mu);
        return NULL; /* out of memory: build without coalescing */
    }
    if (r->queued_on == f) { /* counted in MHD's thread: it has arrived */
        f->queued--;
        r->queued_on = NULL;
    }
    if (!f->building) {
        flight_lead(f, vers, gen);
        pthread_mutex_unlock(&flights.mu);
        return f;
    }
    /* A build is running: the last answer, if it went out of date recently enough. */
    *answer = stale_copy(r, key, tix_now_ms(), stale_age);
    if (*answer != NULL) {
        pthread_mutex_unlock(&flights.mu);
        return NULL;
    }
    /* The running build when it read the same versions, else the next one. */
    unsigned long want = strcmp(f->vers, vers) == 0 ? f->started : f->started + 1;
    struct timespec until = wait_deadline();
    f->waiters++;
    struct tix_flight *lead = NULL;
    for (;;) {
        if (f->ended >= want) {
            if (f->answer != NULL) { /* ours, or a later one if we woke late */
                atomic_fetch_add(&f->answer->refs, 1);
                *answer = f->answer;
            }
            break;
        }
        if (!f->building) { /* the build before ours ended: lead ours */
            lead = flight_lead(f, vers, gen);
            break;
        }
        if (pthread_cond_timedwait(&f->cv, &flights.mu, &until) != 0) {
            break; /* waited long enough: build without the flight */
        }
    }
    f->waiters--;
    if (lead == NULL && flight_idle(f)) {
        flight_drop(f);
    }
    pthread_mutex_unlock(&flights.mu);
    return lead;
}

/* Ends the build r leads, with its stored answer (a, or NULL), waking the waiters. */
static void flight_end(tix_req *r, tix_answer *a)
{
    struct tix_flight *f = r->cached ? r->cached->flight : NULL;
    if (f == NULL) {
        return;
    }
    r->cached->flight = NULL;
    pthread_mutex_lock(&flights.mu);
    f->building = false;
    f->ended = r->cached->gen;
    tix_answer_unref(f->answer);
    f->answer = a;
    if (a != NULL) {
        atomic_fetch_add(&a->refs, 1);
    }
    pthread_cond_broadcast(&f->cv);
    if (flight_idle(f)) {
        flight_drop(f);
    }
    pthread_mutex_unlock(&flights.mu);
}

/* The text naming the request within its route (cached.h): the query parameters the route declares
 * (tix_route.query), in the order declared, each as "<len>:<name>" then "=<len>:<value>" when
 * it has a value, and whether the caller is an admin (listings show more to admins). Length
 * prefixes make the text unambiguous whatever the values hold (an encoded '&' or '=' stays
 * inside its value); parameters the handler never reads do not split the entry. A repeated
 * parameter never gets here (400 in server_admit.c), so the first value is the only one. */
const char *tix_cached_query_text(tix_req *r)
{
    const char *names = r->route->query ? r->route->query : "";
    const char *text = "";
    while (*names != '\0') {
        size_t len = strcspn(names, " ");
        const char *name = tix_arena_strndup(r->arena, names, len);
        names += len;
        names += strspn(names, " ");
        if (len == 0) {
            continue;
        }
        const char *v = tix_req_query(r, name);
        text = v == NULL
                   ? tix_arena_sprintf(r->arena, "%s%zu:%s;", text, len, name)
                   : tix_arena_sprintf(r->arena, "%s%zu:%s=%zu:%s;", text, len, name, strlen(v), v);
    }
    bool admin = r->auth.authenticated && r->auth.role == TIX_ROLE_ADMIN;
    return tix_arena_sprintf(r->arena, "%s|%s", text, admin ? "admin" : "");
}

/* 16 hex digits of that text's SHA-256: the <q> of the entry's key. */
static const char *query_hash(tix_req *r)
{
    const char *text = tix_cached_query_text(r);
    char hex[TIX_SHA256_HEX];
    tix_sha256_hex(hex, text, strlen(text));
    return tix_arena_strndup(r->arena, hex, 16);
}

/* The route's name in keys: its last literal path segment ("seats", "movies"). */
static const char *route_name(tix_req *r)
{
    const char *p = r->route->pattern;
    const char *end = p + strlen(p);
    const char *seg = end;
    while (seg > p) {
        const char *start = seg;
        while (start > p && start[-1] != '/') {
            start--;
        }
        if (*start != '{') {
            return tix_arena_strndup(r->arena, start, (size_t)(seg - start));
        }
        seg = start > p ? start - 1 : p;
    }
    return "root";
}

/* Keys of the scope: its version counter (NULL for the catalogue) and the entry. */
static void scope_keys(tix_req *r, const char **ver, const char **entry)
{
    tix_cache *c = r->app->cache;
    unsigned f = r->route->flags;
    const char *suffix = tix_arena_sprintf(r->arena, "%s:%s", route_name(r), query_hash(r));
    if (f & TIX_ROUTE_CACHE_SHOW) {
        const char *id = tix_req_param(r, "id");
        *ver = tix_cache_key_show(c, r->arena, id, "ver");
        *entry = tix_cache_key_show(c, r->arena, id, suffix);
    } else if (f & TIX_ROUTE_CACHE_USER) {
        *ver = tix_cache_key_user(c, r->arena, r->auth.user_id, "ver");
        *entry = tix_cache_key_user(c, r->arena, r->auth.user_id, suffix);
    } else {
        *ver = NULL;
        *entry = tix_cache_key_catalog(c, r->arena, suffix);
    }
}

static const char *cache_control(const tix_req *r)
{
    return (r->route->flags & TIX_ROUTE_CACHE_USER) ? "private, no-cache" : "public, no-cache";
}

/* Whether If-None-Match names this answer, in either encoding ("<hex>" or "<hex>-gzip"): the
 * client's copy is the same content whichever encoding it came in. */
static bool etag_matches(tix_req *r, const char *etag)
{
    const char *inm = tix_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm == NULL) {
        return false;
    }
    char hex[ETAG_HEX + 1];
    memcpy(hex, etag + 1, ETAG_HEX); /* etag is "\"<hex>\"" */
    hex[ETAG_HEX] = '\0';
    return strstr(inm, hex) != NULL || strcmp(inm, "*") == 0;
}

static atomic_ullong inflates; /* stored gzip entries inflated (once per version per server) */

/* Answers 200 (or 304) with the cache headers: the gzip bytes to a client that takes them,
 * else the plain ones. With ref (an answer of the store, answers.h) the bytes are its own and
 * the response takes over the reference (r->resp_ref), so MHD sends them without a copy; the
 * reference is dropped at once for a 304. */
static void serve(tix_req *r, const char *etag, const char *plain, size_t plen, const char *gz,
                  size_t gzlen, const char *how, tix_answer *ref)
{
    bool send_gz = gz != NULL && tix_req_accepts_gzip(r);
    tix_reply_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    tix_reply_header(r, MHD_HTTP_HEADER_ETAG,
                     send_gz ? tix_arena_sprintf(r->arena, "\"%.*s-gzip\"", ETAG_HEX, etag + 1)
                             : (ref ? tix_arena_strdup(r->arena, etag) : etag));
    tix_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control(r));
    tix_reply_header(r, "X-Cache", how);
    r->content_type = "application/json; charset=utf-8";
    r->status = 200;
    r->resp = (char *)(send_gz ? gz : plain); /* not written to: resp_encoding is set */
    r->resp_len = send_gz ? gzlen : plen;
    r->resp_encoding = send_gz ? "gzip" : "identity";
    tix_answer_unref(r->resp_ref); /* a previous answer of this request, if any */
    r->resp_ref = ref;
    if (etag_matches(r, etag)) {
        r->status = 304;
        r->resp = NULL;
        r->resp_len = 0;
        tix_answer_unref(r->resp_ref);
        r->resp_ref = NULL;
    } else if (send_gz) {
        tix_reply_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
}

/* Answers from an answer of the store (taking over the caller's reference). */
static void serve_answer(tix_req *r, tix_answer *a, const char *how)
{
    serve(r, a->etag, a->plain, a->plen, a->gz, a->gzlen, how, a);
}

/* ---- stale while revalidating (SEATMAP_STALE) ----
 *
 * A show-scope read that misses while a build of its entry is running, or while another read
 * of it waits in the pool to lead one, is answered at once with the entry's last stored answer
 * (X-Cache: stale, Age: whole seconds, rounded up, since it went out of date; its own ETag) when
 * that answer went out of date less than SEATMAP_STALE ago. "Went out of date" is the first
 * time a lookup of this process read newer versions than the answer's (superseded_ms), or its
 * instant by the clock if that came first. So that a first sighting long after the fact cannot
 * pass for a recent change, an answer this process had not seen current (stored, or a hit) for
 * more than the bound when the newer versions were first read counts as out of date since it
 * was last seen current: it is past the bound at once.
 * A read with no build running and none queued leads a build and waits for it exactly as
 * before (so a client that reads after its own write completed sees it, unless its read meets
 * a build begun by someone else: then it may get an answer up to the bound old). A conditional
 * read is answered stale only when If-None-Match names the stale answer (304): a client that
 * holds another copy, possibly a newer one from another server, waits for the build instead.
 * Only show-scope routes (the seat map) serve stale; catalogue and user answers never do. */

/* Whether the versions read are newer than the ones answer a was built under. Versions are
 * counters that only grow (cache.h: a lost one restarts from the clock); anything unreadable
 * counts as newer. */
static bool newer_versions(const tix_answer *a, const char *catver, const char *scopever)
{
    int64_t rc = 0, rs = 0, ac = 0, as = 0;
    bool scoped = strcmp(scopever, "-") != 0;
    if (!tix_parse_int(catver, 0, INT64_MAX, &rc) || !tix_parse_int(a->catver, 0, INT64_MAX, &ac) ||
        (scoped && (!tix_parse_int(scopever, 0, INT64_MAX, &rs) ||
                    !tix_parse_int(a->scopever, 0, INT64_MAX, &as)))) {
        return strcmp(catver, a->catver) != 0 || strcmp(scopever, a->scopever) != 0;
    }
    return rc > ac || rs > as;
}

/* A lookup at now read versions (catver, scopever) for key and found no answer built under
 * them: the stored answer, if older, is marked out of date from now (the first sighting). */
static void note_superseded(tix_req *r, const char *key, const char *catver, const char *scopever,
                            int64_t now)
{
    int64_t bound = r->app->cfg.seatmap_stale_ms;
    if (bound <= 0 || !(r->route->flags & TIX_ROUTE_CACHE_SHOW)) {
        return;
    }
    tix_answer *a = tix_answers_peek(key);
    if (a != NULL && atomic_load(&a->superseded_ms) == 0 && newer_versions(a, catver, scopever)) {
        long long seen = atomic_load(&a->seen_ms);
        long long since = now - seen <= bound ? now : seen;
        long long none = 0;
        atomic_compare_exchange_strong(&a->superseded_ms, &none, since);
    }
    tix_answer_unref(a);
}

/* The entry's last stored answer (a new reference) when r may be answered with it stale at
 * now (*age_ms: how long it has been out of date); NULL otherwise. */
static tix_answer *stale_copy(tix_req *r, const char *key, int64_t now, int64_t *age_ms)
{
    int64_t bound = r->app->cfg.seatmap_stale_ms;
    if (bound <= 0 || !(r->route->flags & TIX_ROUTE_CACHE_SHOW)) {
        return NULL;
    }
    tix_answer *a = tix_answers_peek(key);
    if (a == NULL) {
        return NULL;
    }
    int64_t since = atomic_load(&a->superseded_ms);
    if (a->until_ms <= now && (since == 0 || a->until_ms < since)) {
        since = a->until_ms;
    }
    bool conditional = tix_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH) != NULL;
    if (since == 0 || now - since >= bound || (conditional && !etag_matches(r, a->etag))) {
        tix_answer_unref(a);
        return NULL;
    }
    *age_ms = now - since;
    return a;
}

/* Answers with a stale answer (taking over the reference). */
static void serve_stale(tix_req *r, tix_answer *a, int64_t age_ms)
{
    tix_reply_header(r, "Age", tix_arena_sprintf(r->arena, "%" PRId64, (age_ms + 999) / 1000));
    serve_answer(r, a, "stale");
    r->cache_hit = true;
    atomic_fetch_add(&stale, 1);
}

/* r is no longer counted as queued on its entry's flight (its lookup ran, or it ended). */
static void flight_unqueue(tix_req *r)
{
    struct tix_flight *f = r->queued_on;
    if (f == NULL) {
        return;
    }
    r->queued_on = NULL;
    pthread_mutex_lock(&flights.mu);
    f->queued--;
    if (flight_idle(f)) {
        flight_drop(f);
    }
    pthread_mutex_unlock(&flights.mu);
}

/* The answer for st in the store, built under the versions just read: a hit. */
static bool try_store(tix_req *r, const struct tix_cached *st)
{
    int64_t now = tix_now_ms();
    tix_answer *a = tix_answers_get(st->key, st->catver, st->scopever, now);
    if (a == NULL) {
        note_superseded(r, st->key, st->catver, st->scopever, now);
        return false;
    }
    atomic_store(&a->seen_ms, now);
    serve_answer(r, a, "hit");
    r->cache_hit = true;
    return true;
}

/* An entry read from the cache that is still valid: made into an answer of the store (both
 * forms: a gzip entry is inflated here, once per version per server), then served. */
static bool try_entry(tix_req *r, const struct tix_cached *st, char *entry, size_t len)
{
    char *nl = entry ? memchr(entry, '\n', len) : NULL;
    char *f[5] = {NULL}; /* catalogue version, scope version, until, etag, encoding */
    int64_t until = 0;
    if (nl == NULL) {
        return false;
    }
    *nl = '\0';
    char *save = NULL;
    for (int i = 0; i < 5; i++) {
        f[i] = strtok_r(i == 0 ? entry : NULL, " ", &save);
    }
    if (f[4] == NULL || strcmp(f[0], st->catver) != 0 || strcmp(f[1], st->scopever) != 0 ||
        !tix_parse_int(f[2], 0, INT64_MAX, &until) || until <= tix_now_ms() ||
        strlen(f[3]) != ETAG_HEX + 2) {
        return false;
    }
    char *body = nl + 1;
    size_t blen = len - (size_t)(nl + 1 - entry);
    bool gz = strcmp(f[4], "gz") == 0;
    char *plain = body;
    size_t plen = blen;
    if (gz) {
        if (!tix_gunzip(r->arena, body, blen, MAX_PLAIN_BYTES, &plain, &plen)) {
            return false; /* a corrupt entry: built again */
        }
        atomic_fetch_add(&inflates, 1);
    }
    tix_answer_init in = {.key = st->key,
                          .catver = st->catver,
                          .scopever = st->scopever,
                          .until_ms = until,
                          .etag = f[3],
                          .plain = plain,
                          .plen = plen,
                          .gz = gz ? body : NULL,
                          .gzlen = gz ? blen : 0};
    tix_answer *a = tix_answer_make(&in);
    if (a == NULL) {
        serve(r, f[3], plain, plen, gz ? body : NULL, gz ? blen : 0, "hit", NULL);
    } else {
        atomic_store(&a->seen_ms, tix_now_ms());
        tix_answers_put(a, (size_t)r->app->cfg.cache_max_bytes);
        serve_answer(r, a, "hit");
    }
    r->cache_hit = true;
    return true;
}

/* A counter that does not exist (yet, or any more: Redis lost it) is created from the clock,
 * never read as "0": an entry (or stored answer) tagged with an older "0" must never match. */
static bool create_version(tix_req *r, tix_cache *c, const char *key, char **val)
{
    int64_t v = 0;
    if (tix_cache_bump(c, key, &v) != TIX_OK) {
        return false;
    }
    *val = tix_arena_sprintf(r->arena, "%" PRId64, v);
    return true;
}

/* Reads the versions, then answers from the store when it holds the answer built under them,
 * else from the cache's entry when that is valid (a second read: most requests never move the
 * entry's bytes). false with r->cached set when the answer must be built (and stored), or left
 * NULL when it cannot be stored (the cache is unreachable). */
static bool lookup(tix_req *r, tix_cache *c)
{
    const char *ver = NULL;
    const char *entry = NULL;
    scope_keys(r, &ver, &entry);
    const char *keys[2] = {tix_cache_key_catalog(c, r->arena, "ver"), ver};
    int n = ver ? 2 : 1;
    char *vals[2];
    size_t lens[2];
    r->cached = NULL;
    if (tix_cache_get(c, r->arena, keys, n, vals, lens) != TIX_OK) {
        return false; /* unreachable: the database answers, nothing is stored */
    }
    for (int i = 0; i < n; i++) {
        if (vals[i] == NULL && !create_version(r, c, keys[i], &vals[i])) {
            return false; /* not stored; the next answer is */
        }
    }
    struct tix_cached *st = tix_arena_calloc(r->arena, sizeof(*st));
    *st = (struct tix_cached){entry, vals[0], ver ? vals[1] : "-", true, NULL, 0};
    r->cached = st;
    if (try_store(r, st)) {
        return true;
    }
    if (c->in_process) {
        return false; /* the store is the only copy: nothing more to look at */
    }
    char *val = NULL;
    size_t len = 0;
    return tix_cache_get(c, r->arena, &entry, 1, &val, &len) == TIX_OK && val != NULL &&
           try_entry(r, st, val, len);
}

bool tix_cached_answer(tix_req *r)
{
    tix_cache *c = r->app->cache;
    if (c == NULL || !c->enabled || !(r->route->flags & CACHE_FLAGS)) {
        return false;
    }
    bool hit = lookup(r, c);
    bool stale_hit = false;
    if (!hit && r->cached != NULL) {
        const struct tix_cached *st = r->cached;
        unsigned long gen = 0;
        tix_answer *a = NULL;
        int64_t age = -1;
        struct tix_flight *f =
            flight_join(r, st->key, tix_arena_sprintf(r->arena, "%s %s", st->catver, st->scopever),
                        &gen, &a, &age);
        if (f != NULL) {
            r->cached->flight = f; /* this request builds; tix_cached_finish ends the flight */
            r->cached->gen = gen;
        } else if (a != NULL && age >= 0) {
            serve_stale(r, a, age); /* a build runs: the last answer, out of date < the bound */
            stale_hit = true;
        } else if (a != NULL) {
            serve_answer(r, a, "hit"); /* built after this request arrived */
            r->cache_hit = true;
            atomic_fetch_add(&coalesced, 1);
            hit = true;
        }
    }
    flight_unqueue(r); /* when its lookup did not join the flight it was counted on */
    if (!stale_hit) {
        atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
    }
    return hit || stale_hit;
}

bool tix_cached_nonblocking(const tix_req *r)
{
    const tix_cache *c = r->app->cache;
    return c != NULL && c->nonblocking;
}

bool tix_cached_answer_now(tix_req *r)
{
    tix_cache *c = r->app->cache;
    if (!tix_cached_nonblocking(r) || !c->enabled ||
        !(r->route->flags & (TIX_ROUTE_CACHE_SHOW | TIX_ROUTE_CACHE_CATALOG)) ||
        (r->route->flags & TIX_ROUTE_CACHE_USER)) {
        return false;
    }
    const char *ver = NULL;
    const char *entry = NULL;
    scope_keys(r, &ver, &entry);
    const char *keys[2] = {tix_cache_key_catalog(c, r->arena, "ver"), ver};
    int n = ver ? 2 : 1;
    char *vals[2] = {NULL, NULL};
    size_t lens[2];
    if (tix_cache_get(c, r->arena, keys, n, vals, lens) != TIX_OK || vals[0] == NULL ||
        (ver != NULL && vals[1] == NULL)) {
        return false; /* a version to create: the pool's lookup does it */
    }
    int64_t now = tix_now_ms();
    tix_answer *a = tix_answers_get(entry, vals[0], ver ? vals[1] : "-", now);
    if (a == NULL) {
        note_superseded(r, entry, vals[0], ver ? vals[1] : "-", now);
        return false;
    }
    atomic_store(&a->seen_ms, now);
    serve_answer(r, a, "hit");
    r->cache_hit = true;
    atomic_fetch_add(&c->hits, 1);
    return true;
}

bool tix_cached_versions(const tix_req *r, const char **catver, const char **scopever)
{
    if (r->cached == NULL || !r->cached->storable) {
        return false;
    }
    *catver = r->cached->catver;
    *scopever = r->cached->scopever;
    return true;
}

bool tix_cached_answer_stale(tix_req *r)
{
    tix_cache *c = r->app->cache;
    if (c == NULL || !c->enabled || !(r->route->flags & TIX_ROUTE_CACHE_SHOW) ||
        r->queued_on != NULL) {
        return false;
    }
    const char *ver = NULL;
    const char *entry = NULL;
    scope_keys(r, &ver, &entry);
    int64_t age = 0;
    tix_answer *a = NULL;
    pthread_mutex_lock(&flights.mu);
    struct tix_flight *f = flight_find_or_add(entry);
    if (f != NULL && (f->building || f->queued > 0)) {
        a = stale_copy(r, entry, tix_now_ms(), &age);
    }
    if (a == NULL && f != NULL) { /* to the pool: counted until its lookup runs */
        r->build_first = !f->building && f->queued == 0;
        f->queued++;
        r->queued_on = f;
    }
    pthread_mutex_unlock(&flights.mu);
    if (a == NULL) {
        return false;
    }
    serve_stale(r, a, age);
    return true;
}

unsigned long long tix_cached_coalesced(void)
{
    return atomic_load(&coalesced);
}

unsigned long long tix_cached_stale(void)
{
    return atomic_load(&stale);
}

void tix_cached_release(tix_req *r)
{
    flight_unqueue(r);
    flight_end(r, NULL);
    tix_answer_unref(r->resp_ref); /* an answer that never reached MHD */
    r->resp_ref = NULL;
}

/* Stores the answer in this process's store in both forms and, for Redis (the other servers
 * read it there), in the cache, gzip-compressed when it is big enough to gain (gz, or NULL).
 * The in-process cache gets no copy: the store is this process's only one, so cached answers
 * take at most CACHE_MAX_BYTES, not that twice. Returns the store's answer with a reference for
 * the caller (NULL: not stored, or out of memory). */
static tix_answer *store(tix_req *r, const char *etag, const char *gz, size_t gzlen)
{
    tix_cache *c = r->app->cache;
    int64_t now = tix_now_ms();
    int64_t until = now + r->app->cfg.cache_ttl_ms;
    if (r->cache_until > 0 && r->cache_until < until) {
        until = r->cache_until;
    }
    if (r->read_until > 0 && r->read_until < until) {
        until = r->read_until; /* read from a replica: within READ_MAX_LAG (tix_req_db_read) */
    }
    if (c == NULL || until - now < MIN_STORE_MS) {
        return NULL;
    }
    const struct tix_cached *st = r->cached;
    if (!c->in_process) {
        const char *body = gz ? gz : r->resp;
        size_t blen = gz ? gzlen : r->resp_len;
        char *head = tix_arena_sprintf(r->arena, "%s %s %" PRId64 " %s %s\n", st->catver,
                                       st->scopever, until, etag, gz ? "gz" : "id");
        size_t hl = strlen(head);
        char *entry = tix_arena_alloc(r->arena, hl + blen + 1);
        memcpy(entry, head, hl + 1);
        memcpy(entry + hl, body, blen);
        entry[hl + blen] = '\0';
        (void)tix_cache_set(c, st->key, entry, hl + blen, until - now, 0);
    }
    tix_answer_init in = {.key = st->key,
                          .catver = st->catver,
                          .scopever = st->scopever,
                          .until_ms = until,
                          .etag = etag,
                          .plain = r->resp,
                          .plen = r->resp_len,
                          .gz = gz,
                          .gzlen = gzlen};
    tix_answer *a = tix_answer_make(&in);
    if (a != NULL) {
        atomic_store(&a->seen_ms, now);
        tix_answers_put(a, (size_t)r->app->cfg.cache_max_bytes);
    }
    return a;
}

void tix_cached_finish(tix_req *r)
{
    if (r->route == NULL) {
        return;
    }
    unsigned f = r->route->flags;
    if (!(f & CACHE_FLAGS) || r->status != 200 || r->resp == NULL || r->resp_file ||
        r->stream != NULL || r->cache_hit) {
        flight_end(r, NULL); /* nothing to store: the waiters build their own */
        return;
    }
    char hex[TIX_SHA256_HEX];
    tix_sha256_hex(hex, r->resp, r->resp_len);
    char *etag = tix_arena_sprintf(r->arena, "\"%.*s\"", ETAG_HEX, hex);
    bool storable = r->cached != NULL && r->cached->storable;
    /* Compressed once, at the stored level, for the store and for this client alike. */
    char *gz = NULL;
    size_t gzlen = 0;
    if (r->resp_len < TIX_COMPRESS_MIN || (!storable && !tix_req_accepts_gzip(r)) ||
        !tix_gzip(r->arena, r->resp, r->resp_len, TIX_GZIP_LEVEL_KEEP, &gz, &gzlen) ||
        gzlen >= r->resp_len) {
        gz = NULL;
    }
    tix_answer *a = storable ? store(r, etag, gz, gzlen) : NULL;
    flight_end(r, a);
    if (a != NULL) {
        serve_answer(r, a, "miss"); /* the stored bytes, without a copy */
    } else {
        serve(r, etag, r->resp, r->resp_len, gz, gzlen, storable ? "miss" : "bypass", NULL);
    }
}

unsigned long long tix_cached_inflates(void)
{
    return atomic_load(&inflates);
}
