/*
 * The session check's per-process table; see revocation.h. A direct-mapped table of
 * REVOCATION_SLOTS entries keyed by session id under one mutex: a colliding session simply
 * replaces the entry (a miss later costs one query). An entry keeps the user's saved locale
 * too, read by the same query, so an error answer in his language costs nothing more (PATCH
 * /me bumps the counter like a session change). Entries hold the user's counter value as read
 * from the cache before the database was asked, so a bump that lands in between makes the
 * entry stale at once rather than after its TTL.
 */
#include "auth/revocation.h"

#include "core/util.h"
#include "store/users.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define REVOCATION_SLOTS 4096
#define VERSION_MAX      24

typedef struct slot {
    char sid[TIX_ID_MAX];
    char uid[TIX_ID_MAX];
    char version[VERSION_MAX];
    int64_t stored_ms; /* monotonic */
    int64_t epoch;
    bool usable;                 /* session live and user enabled */
    char locale[TIX_LOCALE_MAX]; /* the user's saved locale as read; "" = none */
} slot;

static slot table[REVOCATION_SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const char *sid)
{
    return (size_t)(tix_fnv1a_str(sid) % REVOCATION_SLOTS);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The cached answer for c under version, or false when there is none fresh. */
static bool lookup(const tix_claims *c, const char *version, tix_auth_state *out)
{
    bool hit = false;
    int64_t now = mono_ms();
    pthread_mutex_lock(&table_lock);
    const slot *s = &table[slot_of(c->sid)];
    if (strcmp(s->sid, c->sid) == 0 && strcmp(s->uid, c->sub) == 0 &&
        strcmp(s->version, version) == 0 && now - s->stored_ms < TIX_REVOCATION_TTL_MS &&
        now >= s->stored_ms) {
        out->epoch = s->epoch;
        out->disabled = !s->usable;
        out->session_live = s->usable;
        memcpy(out->locale, s->locale, sizeof(out->locale));
        hit = true;
    }
    pthread_mutex_unlock(&table_lock);
    return hit;
}

static void store(const tix_claims *c, const char *version, const tix_auth_state *st)
{
    pthread_mutex_lock(&table_lock);
    slot *s = &table[slot_of(c->sid)];
    snprintf(s->sid, sizeof(s->sid), "%s", c->sid);
    snprintf(s->uid, sizeof(s->uid), "%s", c->sub);
    snprintf(s->version, sizeof(s->version), "%s", version);
    s->stored_ms = mono_ms();
    s->epoch = st->epoch;
    s->usable = st->session_live && !st->disabled;
    memcpy(s->locale, st->locale, sizeof(s->locale));
    pthread_mutex_unlock(&table_lock);
}

void tix_revocation_clear(void)
{
    pthread_mutex_lock(&table_lock);
    memset(table, 0, sizeof(table));
    pthread_mutex_unlock(&table_lock);
}

/* The answer for c, and on TIX_OK the user's locale into locale (when not NULL). */
static tix_rc decide(const tix_claims *c, const tix_auth_state *st, char *locale)
{
    if (!st->session_live || st->disabled || st->epoch != c->epoch) {
        return TIX_EFORBIDDEN;
    }
    if (locale != NULL) {
        snprintf(locale, TIX_LOCALE_MAX, "%s", st->locale);
    }
    return TIX_OK;
}

tix_rc tix_revocation_check(tix_cache *cache, tix_arena *a, const tix_claims *c,
                            tix_revocation_db_fn get_db, void *ctx, char *locale)
{
    /* The version first, the database second: see the file comment. */
    char version[VERSION_MAX] = "";
    bool cacheable = false;
    if (cache != NULL) {
        const char *key = tix_cache_key_user(cache, a, c->sub, "auth");
        char *val = NULL;
        size_t len = 0;
        if (tix_cache_get(cache, a, &key, 1, &val, &len) == TIX_OK &&
            (val == NULL || len < sizeof(version))) {
            snprintf(version, sizeof(version), "%s", val != NULL ? val : "0");
            cacheable = true;
        }
    }
    tix_auth_state st;
    if (cacheable && lookup(c, version, &st)) {
        return decide(c, &st, locale);
    }
    tix_db *db = get_db(ctx);
    if (db == NULL) {
        return TIX_EUNAVAIL;
    }
    tix_rc rc = tix_user_auth_state(db, c->sub, c->sid, &st);
    if (rc != TIX_OK) {
        return rc;
    }
    if (cacheable) {
        store(c, version, &st);
    }
    return decide(c, &st, locale);
}

void tix_revocation_changed(tix_cache *cache, tix_arena *a, const char *user_id)
{
    if (cache != NULL) {
        (void)tix_cache_bump(cache, tix_cache_key_user(cache, a, user_id, "auth"), NULL);
    }
}
