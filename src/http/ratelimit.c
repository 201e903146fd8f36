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
 * -1 to give a count back. */
static tix_rc counter_incr(tix_req *r, const char *key, int64_t window_ms, int64_t by,
                           int64_t *count, int64_t *reset_ms)
{
    tix_cache *cache = r->app->cache;
    const char *full = tix_arena_sprintf(r->arena, "%s:%s", cache ? cache->prefix : "ticketd", key);
    return tix_cache_incr(cache, full, window_ms, by, count, reset_ms);
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
 * refused). */
static void give_back(tix_req *r, tix_rl_ticket *t)
{
    for (int i = 0; i < t->n; i++) {
        int64_t count = 0;
        int64_t reset_ms = 0;
        (void)counter_incr(r, t->keys[i], t->window_ms[i], -1, &count, &reset_ms);
    }
    t->n = 0;
}

/* Counts one request against rl:<action>:<scope>:<who> and notes it in t; false once answered
 * with 429 (the counts t holds are then given back: a refused request is not an attempt). */
static bool check(tix_req *r, tix_rl_ticket *t, const char *action, const char *scope,
                  const char *who, const tix_rate_limit *rl)
{
    if (rl->limit == 0 || who == NULL || *who == '\0') {
        return true;
    }
    const char *key = tix_arena_sprintf(r->arena, "rl:%s:%s:%s", action, scope, who);
    int64_t count = 0;
    int64_t reset_ms = 0;
    tix_rc rc = counter_incr(r, key, rl->window_ms, 1, &count, &reset_ms);
    note_store(rc);
    if (rc != TIX_OK) {
        return true; /* fail open */
    }
    if (t->n < TIX_RL_TICKET_KEYS) {
        t->keys[t->n] = key;
        t->window_ms[t->n] = rl->window_ms;
        t->n++;
    }
    if (count <= rl->limit) {
        return true;
    }
    give_back(r, t);
    reply_limited(r, action, scope, rl, reset_ms);
    return false;
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
        return check(r, t, "hold", "user", r->auth.user_id, &cfg->rl_hold_user);
    }
    if (flags & TIX_ROUTE_RL_REGISTER) {
        tix_client_ip(r, ip);
        return check(r, t, "register", "ip", ip, &cfg->rl_register_ip);
    }
    if (flags & TIX_ROUTE_RL_LOGIN) {
        t->failure = "invalid_credentials";
        tix_client_ip(r, ip);
        if (!check(r, t, "login", "ip", ip, &cfg->rl_login_ip)) {
            return false;
        }
        const char *email = login_email(r);
        if (tix_req_answered(r)) {
            give_back(r, t);
            return false;
        }
        /* per e-mail and client address: guesses from one address never refuse the owner's
         * right password from another */
        const char *who = email ? tix_arena_sprintf(r->arena, "%s %s", email, ip) : NULL;
        return check(r, t, "login", "email", who, &cfg->rl_login_mail);
    }
    if (flags & TIX_ROUTE_RL_RESET) { /* every request counts, known address or not */
        tix_client_ip(r, ip);
        if (!check(r, t, "password_reset", "ip", ip, &cfg->rl_reset_ip)) {
            return false;
        }
        const char *email = login_email(r);
        if (tix_req_answered(r)) {
            give_back(r, t);
            return false;
        }
        return check(r, t, "password_reset", "email", email, &cfg->rl_reset_mail);
    }
    if (flags & TIX_ROUTE_RL_PASSWORD) {
        t->failure = "wrong_password";
        tix_client_ip(r, ip);
        return check(r, t, "change_password", "ip", ip, &cfg->rl_login_ip) &&
               check(r, t, "change_password", "user", r->auth.user_id, &cfg->rl_login_mail);
    }
    return true;
}

void tix_ratelimit_done(tix_req *r, tix_rl_ticket *t)
{
    if (t->failure != NULL && !(r->error_code != NULL && strcmp(r->error_code, t->failure) == 0)) {
        give_back(r, t); /* only failures count */
    }
}
