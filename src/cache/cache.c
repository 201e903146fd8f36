/*
 * The cache's public face (see cache.h): the wrappers every caller uses (a NULL cache is a cache
 * that is always down), key names, and REDIS_URL parsing.
 */
#include "cache/cache.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tix_cache_destroy(tix_cache *c)
{
    if (c != NULL) {
        c->ops->destroy(c);
    }
}

tix_rc tix_cache_get(tix_cache *c, tix_arena *a, const char *const *keys, int n, char **vals,
                     size_t *lens)
{
    if (c == NULL) {
        return TIX_EUNAVAIL;
    }
    tix_rc rc = c->ops->get(c, a, keys, n, vals, lens);
    if (rc != TIX_OK) {
        atomic_fetch_add(&c->errors, 1);
    }
    return rc;
}

tix_rc tix_cache_set(tix_cache *c, const char *key, const char *val, size_t len, int64_t ttl_ms,
                     unsigned flags)
{
    if (c == NULL || ttl_ms <= 0) {
        return TIX_OK;
    }
    return c->ops->set(c, key, val, len, ttl_ms, flags);
}

tix_rc tix_cache_bump(tix_cache *c, const char *key, int64_t *out)
{
    int64_t v = 0;
    if (c == NULL) {
        return TIX_OK;
    }
    tix_rc rc = c->ops->bump(c, key, tix_now_ms(), TIX_CACHE_VERSION_TTL_MS, &v);
    if (out != NULL) {
        *out = v;
    }
    return rc;
}

/* Each key in the in-process counter store; the first failure is returned, after trying all. */
static tix_rc incr_local(int n, const char *const *keys, const int64_t *window_ms, int64_t by,
                         int64_t *counts, int64_t *reset_ms)
{
    tix_rc rc = TIX_OK;
    for (int i = 0; i < n; i++) {
        tix_rc one = tix_counter_incr_now(keys[i], window_ms[i], by, &counts[i], &reset_ms[i]);
        rc = rc ? rc : one;
    }
    return rc;
}

tix_rc tix_cache_incr(tix_cache *c, int n, const char *const *keys, const int64_t *window_ms,
                      int64_t by, int64_t *counts, int64_t *reset_ms)
{
    if (n < 0 || n > TIX_CACHE_INCR_MAX) {
        return TIX_EINVAL;
    }
    if (n == 0) {
        return TIX_OK;
    }
    if (c == NULL) {
        return incr_local(n, keys, window_ms, by, counts, reset_ms);
    }
    return c->ops->incr(c, n, keys, window_ms, by, counts, reset_ms);
}

tix_rc tix_cache_incr_local(int n, const char *const *keys, const int64_t *window_ms, int64_t by,
                            int64_t *counts, int64_t *reset_ms)
{
    return incr_local(n, keys, window_ms, by, counts, reset_ms);
}

void tix_cache_status_get(tix_cache *c, tix_cache_status *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL) {
        out->backend = "none";
        return;
    }
    c->ops->status(c, out);
}

/* ---- key names ---- */

char *tix_cache_key_show(const tix_cache *c, tix_arena *a, const char *show_id, const char *suffix)
{
    return tix_arena_sprintf(a, "%s:{show:%s}:%s", c ? c->prefix : "ticketd", show_id, suffix);
}

char *tix_cache_key_user(const tix_cache *c, tix_arena *a, const char *user_id, const char *suffix)
{
    return tix_arena_sprintf(a, "%s:{user:%s}:%s", c ? c->prefix : "ticketd", user_id, suffix);
}

char *tix_cache_key_catalog(const tix_cache *c, tix_arena *a, const char *suffix)
{
    return tix_arena_sprintf(a, "%s:{catalog}:%s", c ? c->prefix : "ticketd", suffix);
}

/* ---- REDIS_URL ---- */

static bool fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "REDIS_URL: %s", msg);
    return false;
}

/* Copies [s, s+n) into dst (cap bytes); false when it does not fit. */
static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) {
        return false;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* "[[user]:password@]" of a redis:// URL; *rest moves past it. */
static bool parse_userinfo(const char **rest, tix_redis_addr *out, char *err, size_t errlen)
{
    const char *s = *rest;
    const char *at = strrchr(s, '@');
    const char *slash = strchr(s, '/');
    if (at == NULL || (slash != NULL && slash < at)) {
        return true;
    }
    const char *colon = memchr(s, ':', (size_t)(at - s));
    const char *user_end = colon ? colon : at;
    if (!copy_part(out->user, sizeof(out->user), s, (size_t)(user_end - s)) ||
        (colon &&
         !copy_part(out->password, sizeof(out->password), colon + 1, (size_t)(at - colon - 1)))) {
        return fail(err, errlen, "the user name or password is too long");
    }
    *rest = at + 1;
    return true;
}

static bool parse_tcp(const char *s, tix_redis_addr *out, char *err, size_t errlen)
{
    if (!parse_userinfo(&s, out, err, errlen)) {
        return false;
    }
    size_t hostlen = strcspn(s, ":/");
    if (hostlen == 0 || !copy_part(out->host, sizeof(out->host), s, hostlen)) {
        return fail(err, errlen, "a host name is required (redis://host:port/db)");
    }
    s += hostlen;
    int64_t v = 0;
    char num[16];
    if (*s == ':') {
        size_t n = strcspn(s + 1, "/");
        if (!copy_part(num, sizeof(num), s + 1, n) || !tix_parse_int(num, 1, 65535, &v)) {
            return fail(err, errlen, "the port must be a number from 1 to 65535");
        }
        out->port = (int)v;
        s += 1 + n;
    }
    if (*s == '/' && s[1] != '\0') {
        if (!tix_parse_int(s + 1, 0, 1000, &v)) {
            return fail(err, errlen, "the database after / must be a number");
        }
        out->db = (int)v;
    }
    return true;
}

static bool parse_unix(const char *s, tix_redis_addr *out, char *err, size_t errlen)
{
    size_t n = strcspn(s, "?");
    int64_t v = 0;
    if (n == 0 || s[0] != '/' || !copy_part(out->unix_path, sizeof(out->unix_path), s, n)) {
        return fail(err, errlen, "unix:// needs an absolute socket path (unix:///run/redis.sock)");
    }
    if (s[n] == '?') {
        if (strncmp(s + n, "?db=", 4) != 0 || !tix_parse_int(s + n + 4, 0, 1000, &v)) {
            return fail(err, errlen, "the only option of a unix:// URL is ?db=N");
        }
        out->db = (int)v;
    }
    return true;
}

/* One sentinel "host[:port]" ending at ',' or '/'; *s moves past it. */
static bool parse_sentinel_host(const char **s, tix_redis_addr *out, char *err, size_t errlen)
{
    int i = out->nsentinels;
    size_t hostlen = strcspn(*s, ":,/");
    if (hostlen == 0 ||
        !copy_part(out->sentinels[i].host, sizeof(out->sentinels[i].host), *s, hostlen)) {
        return fail(err, errlen,
                    "a sentinel host is required (redis+sentinel://host:26379,.../master)");
    }
    out->sentinels[i].port = 26379;
    *s += hostlen;
    if (**s == ':') {
        size_t n = strcspn(*s + 1, ",/");
        char num[16];
        int64_t v = 0;
        if (!copy_part(num, sizeof(num), *s + 1, n) || !tix_parse_int(num, 1, 65535, &v)) {
            return fail(err, errlen, "a sentinel port must be a number from 1 to 65535");
        }
        out->sentinels[i].port = (int)v;
        *s += 1 + n;
    }
    out->nsentinels++;
    return true;
}

/* "host[:port][,host[:port]...]/master_name[/db]" after redis+sentinel://[userinfo@]. */
static bool parse_sentinel(const char *s, tix_redis_addr *out, char *err, size_t errlen)
{
    if (!parse_userinfo(&s, out, err, errlen)) {
        return false;
    }
    do {
        if (out->nsentinels == TIX_REDIS_SENTINELS_MAX) {
            return fail(err, errlen, "at most 8 sentinels");
        }
        if (!parse_sentinel_host(&s, out, err, errlen)) {
            return false;
        }
    } while (*s == ',' && *++s != '\0');
    size_t n = *s == '/' ? strcspn(s + 1, "/") : 0;
    if (n == 0 || !copy_part(out->master, sizeof(out->master), s + 1, n) ||
        strspn(out->master, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            n) {
        return fail(err, errlen, "the master name is required after the sentinels (/mymaster)");
    }
    s += 1 + n;
    int64_t v = 0;
    if (*s == '/' && s[1] != '\0') {
        if (!tix_parse_int(s + 1, 0, 1000, &v)) {
            return fail(err, errlen, "the database after the master name must be a number");
        }
        out->db = (int)v;
    }
    return true;
}

bool tix_redis_url_parse(const char *url, tix_redis_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8) == 0) {
        return parse_tcp(url + 8, out, err, errlen);
    }
    if (strncmp(url, "unix://", 7) == 0) {
        return parse_unix(url + 7, out, err, errlen);
    }
    if (strncmp(url, "redis+sentinel://", 17) == 0) {
        return parse_sentinel(url + 17, out, err, errlen);
    }
    return fail(err, errlen, "must start with redis://, unix:// or redis+sentinel://");
}
