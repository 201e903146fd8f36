/*
 * Rate limits (see ratelimit.h). The counters live in the cache (tix_cache_incr): Redis when
 * REDIS_URL is set, so every server counts against the same window; the in-process counter
 * store (cache/counter.c) otherwise, and while Redis cannot be reached.
 */
#include "http/ratelimit.h"

#include "app.h"
#include "cache/cache.h"
#include "core/log.h"
#include "http/clientip.h"
#include "http/req.h"
#include "http/validate.h"

#include <stdatomic.h>
#include <string.h>

/* ---- the limiter ---- */

/* The one call to the counter store: Redis when REDIS_URL is set (and the in-process store
 * while Redis cannot be reached, see cache.h), else the in-process store. by is 1 to count,
 * -1 to give a count back; the n keys travel in one round trip. */
static tix_rc counter_incr(tix_req *r, int n, const char *const *keys, const int64_t *window_ms,
                           int64_t by, int64_t *counts, int64_t *reset_ms)
{
    tix_cache *cache = r->app->cache;
    const char *full[TIX_RL_TICKET_KEYS];
    for (int i = 0; i < n; i++) {
        full[i] = tix_arena_sprintf(r->arena, "%s:%s", cache ? cache->prefix : "ticketd", keys[i]);
    }
    return tix_cache_incr(cache, n, full, window_ms, by, counts, reset_ms);
}

static atomic_bool store_down;

static void note_store(tix_rc rc)
{
    if (rc != TIX_OK && !atomic_exchange(&store_down, true)) {
        tix_log_warn("rate limits are not enforced: the counter store failed (%s); requests "
                     "go through until it answers again",
                     tix_rc_name(rc));
    } else if (rc == TIX_OK && atomic_exchange(&store_down, false)) {
        tix_log_info("rate limits are enforced again: the counter store answers");
    }
}

static void reply_limited(tix_req *r, const char *action, const char *scope,
                          const tix_rate_limit *rl, int64_t reset_ms)
{
    int64_t retry = (reset_ms + 999) / 1000;
    retry = retry < 1 ? 1 : retry;
    tix_reply_header(r, "Retry-After", tix_arena_sprintf(r->arena, "%lld", (long long)retry));
    tix_reply_error(r, 429, "rate_limited", "too many requests; try again later",
                    json_pack("{s:s,s:s,s:I,s:I,s:I}", "action", action, "scope", scope, "limit",
                              (json_int_t)rl->limit, "window_seconds",
                              (json_int_t)((rl->window_ms + 999) / 1000), "retry_after_seconds",
                              (json_int_t)retry));
}

/* Gives back every count the ticket holds (the request turned out not to be a failure, or was
 * refused), in one round trip. */
static void give_back(tix_req *r, tix_rl_ticket *t)
{
    int64_t counts[TIX_RL_TICKET_KEYS];
    int64_t reset_ms[TIX_RL_TICKET_KEYS];
    if (t->n > 0) {
        (void)counter_incr(r, t->n, t->keys, t->window_ms, -1, counts, reset_ms);
    }
    t->n = 0;
}

/* One limit of a request: counted against rl:<action>:<scope>:<who>. */
typedef struct limit_req {
    const char *scope;
    const char *who; /* NULL or empty: not counted */
    const tix_rate_limit *rl;
} limit_req;

/* Counts one request against each of its n limits (those that apply), all in one round trip,
 * and notes them in t; false once answered with 429 for the first limit (in the order given)
 * that is exceeded: the counts t holds are then given back (a refused request is not an
 * attempt). */
static bool check(tix_req *r, tix_rl_ticket *t, const char *action, const limit_req *lims, int n)
{
    const tix_rate_limit *rls[TIX_RL_TICKET_KEYS];
    const char *scopes[TIX_RL_TICKET_KEYS];
    int k = 0;
    for (int i = 0; i < n && k < TIX_RL_TICKET_KEYS; i++) {
        if (lims[i].rl->limit == 0 || lims[i].who == NULL || *lims[i].who == '\0') {
            continue;
        }
        t->keys[k] = tix_arena_sprintf(r->arena, "rl:%s:%s:%s", action, lims[i].scope, lims[i].who);
        t->window_ms[k] = lims[i].rl->window_ms;
        rls[k] = lims[i].rl;
        scopes[k] = lims[i].scope;
        k++;
    }
    if (k == 0) {
        return true;
    }
    int64_t counts[TIX_RL_TICKET_KEYS];
    int64_t reset_ms[TIX_RL_TICKET_KEYS];
    tix_rc rc = counter_incr(r, k, t->keys, t->window_ms, 1, counts, reset_ms);
    note_store(rc);
    if (rc != TIX_OK) {
        return true; /* fail open */
    }
    t->n = k;
    for (int i = 0; i < k; i++) {
        if (counts[i] > rls[i]->limit) {
            give_back(r, t);
            reply_limited(r, action, scopes[i], rls[i], reset_ms[i]);
            return false;
        }
    }
    return true;
}

/* The normalised e-mail of a login body, NULL when there is none to count (the handler then
 * answers 422), or NULL with r answered (400) when the body is not a JSON object. */
static const char *login_email(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *email = body ? json_string_value(json_object_get(body, "email")) : NULL;
    char norm[256];
    if (email == NULL || !tix_email_normalize(email, norm, sizeof(norm))) {
        return NULL;
    }
    return tix_arena_strdup(r->arena, norm);
}

bool tix_ratelimit_admit(tix_req *r, tix_rl_ticket *t)
{
    const tix_config *cfg = &r->app->cfg;
    unsigned flags = r->route ? r->route->flags : 0;
    char ip[TIX_IP_TEXT];
    *t = (tix_rl_ticket){0};
    if (!cfg->rate_limit_enabled) {
        return true;
    }
    if (flags & TIX_ROUTE_RL_HOLD) {
        limit_req l[] = {{"user", r->auth.user_id, &cfg->rl_hold_user}};
        return check(r, t, "hold", l, 1);
    }
    if (flags & TIX_ROUTE_RL_REGISTER) {
        tix_client_ip(r, ip);
        limit_req l[] = {{"ip", ip, &cfg->rl_register_ip}};
        return check(r, t, "register", l, 1);
    }
    if (flags & TIX_ROUTE_RL_LOGIN) {
        t->failure = "invalid_credentials";
        const char *email = login_email(r);
        if (tix_req_answered(r)) {
            return false;
        }
        tix_client_ip(r, ip);
        /* per e-mail and client address: guesses from one address never refuse the owner's
         * right password from another */
        const char *who = email ? tix_arena_sprintf(r->arena, "%s %s", email, ip) : NULL;
        limit_req l[] = {{"ip", ip, &cfg->rl_login_ip}, {"email", who, &cfg->rl_login_mail}};
        return check(r, t, "login", l, 2);
    }
    if (flags & TIX_ROUTE_RL_RESET) { /* every request counts, known address or not */
        const char *email = login_email(r);
        if (tix_req_answered(r)) {
            return false;
        }
        tix_client_ip(r, ip);
        limit_req l[] = {{"ip", ip, &cfg->rl_reset_ip}, {"email", email, &cfg->rl_reset_mail}};
        return check(r, t, "password_reset", l, 2);
    }
    if (flags & TIX_ROUTE_RL_PASSWORD) {
        t->failure = "wrong_password";
        tix_client_ip(r, ip);
        limit_req l[] = {{"ip", ip, &cfg->rl_login_ip},
                         {"user", r->auth.user_id, &cfg->rl_login_mail}};
        return check(r, t, "change_password", l, 2);
    }
    return true;
}

void tix_ratelimit_done(tix_req *r, tix_rl_ticket *t)
{
    if (t->failure != NULL && !(r->error_code != NULL && strcmp(r->error_code, t->failure) == 0)) {
        give_back(r, t); /* only failures count */
    }
}
