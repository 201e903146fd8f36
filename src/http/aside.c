/* Data kept aside a cached answer (see aside.h). */
#include "http/aside.h"

#include "app.h"
#include "cache/cache.h"
#include "core/util.h"
#include "http/cached.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MIN_KEEP_MS 100         /* as http/cached.c: true for less than this is not worth keeping */
#define ASIDE_ETAG  "\"aside\"" /* never sent: the store wants one */

void tix_aside_put(tix_req *r, const char *show_id, const char *name, const char *text, size_t len,
                   int64_t until_ms)
{
    tix_cache *c = r->app->cache;
    const char *catver = NULL;
    const char *scopever = NULL;
    if (c == NULL || !c->enabled || r->read_until > 0 ||
        !tix_cached_versions(r, &catver, &scopever)) {
        return; /* no versions to keep it under, or data that may be older than them */
    }
    int64_t now = tix_now_ms();
    int64_t until = now + r->app->cfg.cache_ttl_ms;
    if (until_ms > 0 && until_ms < until) {
        until = until_ms;
    }
    if (until - now < MIN_KEEP_MS) {
        return;
    }
    const char *key = tix_cache_key_show(c, r->arena, show_id, name);
    if (!c->in_process) {
        char *head = tix_arena_sprintf(r->arena, "%s %s %" PRId64 "\n", catver, scopever, until);
        size_t hl = strlen(head);
        char *entry = tix_arena_alloc(r->arena, hl + len + 1);
        memcpy(entry, head, hl);
        memcpy(entry + hl, text, len);
        entry[hl + len] = '\0';
        (void)tix_cache_set(c, key, entry, hl + len, until - now, 0);
    }
    tix_answer_init in = {.key = key,
                          .catver = catver,
                          .scopever = scopever,
                          .until_ms = until,
                          .etag = ASIDE_ETAG,
                          .plain = text,
                          .plen = len};
    tix_answer *a = tix_answer_make(&in);
    if (a != NULL) {
        tix_answers_put(a, (size_t)r->app->cfg.cache_max_bytes);
        tix_answer_unref(a);
    }
}

/* The Redis entry of key when it was kept under exactly these versions and is still true: made
 * into an answer of the store (so the next request finds it there), with the caller's
 * reference. */
static tix_answer *from_entry(tix_req *r, tix_cache *c, const char *key, const char *catver,
                              const char *scopever, int64_t now)
{
    char *val = NULL;
    size_t len = 0;
    if (tix_cache_get(c, r->arena, &key, 1, &val, &len) != TIX_OK || val == NULL) {
        return NULL;
    }
    char *nl = memchr(val, '\n', len);
    if (nl == NULL) {
        return NULL;
    }
    *nl = '\0';
    char *save = NULL;
    const char *f0 = strtok_r(val, " ", &save);
    const char *f1 = f0 ? strtok_r(NULL, " ", &save) : NULL;
    const char *f2 = f1 ? strtok_r(NULL, " ", &save) : NULL;
    int64_t until = 0;
    if (f2 == NULL || strcmp(f0, catver) != 0 || strcmp(f1, scopever) != 0 ||
        !tix_parse_int(f2, 0, INT64_MAX, &until) || until <= now) {
        return NULL;
    }
    tix_answer_init in = {.key = key,
                          .catver = catver,
                          .scopever = scopever,
                          .until_ms = until,
                          .etag = ASIDE_ETAG,
                          .plain = nl + 1,
                          .plen = len - (size_t)(nl + 1 - val)};
    tix_answer *a = tix_answer_make(&in);
    if (a != NULL) {
        tix_answers_put(a, (size_t)r->app->cfg.cache_max_bytes);
    }
    return a;
}

tix_answer *tix_aside_current(tix_req *r, const char *show_id, const char *name)
{
    tix_cache *c = r->app->cache;
    if (c == NULL || !c->enabled || show_id == NULL) {
        return NULL;
    }
    const char *keys[2] = {tix_cache_key_catalog(c, r->arena, "ver"),
                           tix_cache_key_show(c, r->arena, show_id, "ver")};
    char *vals[2] = {NULL, NULL};
    size_t lens[2];
    if (tix_cache_get(c, r->arena, keys, 2, vals, lens) != TIX_OK || vals[0] == NULL ||
        vals[1] == NULL) {
        return NULL; /* unreachable, or a version not made yet: nothing is current */
    }
    const char *key = tix_cache_key_show(c, r->arena, show_id, name);
    int64_t now = tix_now_ms();
    tix_answer *a = tix_answers_get(key, vals[0], vals[1], now);
    if (a == NULL && !c->in_process) {
        a = from_entry(r, c, key, vals[0], vals[1], now);
    }
    return a;
}
