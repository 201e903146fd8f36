/*
 * Rate limits on the endpoints worth guessing at or hoarding with: logins (per client IP and
 * per e-mail), registrations (per client IP) and holds (per user). Over a limit the answer is
 * 429 rate_limited with Retry-After (whole seconds until the window resets) and details
 * {action, scope, limit, window_seconds, retry_after_seconds}.
 *
 * Fixed windows: one counter per key (rl:login:ip:<ip>, rl:login:email:<email> <ip>,
 * rl:change_password:ip:<ip>, rl:change_password:user:<user id>, rl:register:ip:<ip>,
 * rl:hold:user:<user id>) that starts at the key's first counted request and lives one window.
 * Registrations and holds count every request that is let through. Logins and
 * change-password count failures only (a wrong password: 401 invalid_credentials, 403
 * wrong_password): the request is counted before its handler runs (so a burst of parallel
 * guesses cannot all slip under the limit) and the count is given back after any other answer,
 * and a refused request (429) gives its count back at once. A request's limits (a login's two)
 * are counted in one round trip to the counter store, and given back in one: a successful login
 * costs two round trips (it was four); fewer would mean not counting before the handler. The
 * per-e-mail login budget is per e-mail *and* client address (as GitHub and Auth0 do): a guesser
 * uses up his own budget, never the owner's, whose right password from another address still works.
 * change-password uses the login limits: RATE_LIMIT_LOGIN_EMAIL per user, RATE_LIMIT_LOGIN_IP per
 * client IP.
 *
 * Counters live in the cache (tix_cache_incr): in Redis when REDIS_URL is set, so every server
 * behind nginx counts against one window; while Redis is down, in each process (limits then
 * hold per server); in the process without Redis. When no store can count (the in-process
 * table is full) the limits fail open: requests go through, and the outage and the recovery
 * are logged once each. The client IP comes from http/clientip.h, so behind nginx TRUST_PROXY
 * must be on.
 *
 * Which limit applies is a route flag (TIX_ROUTE_RL_* in the route table). The check runs after
 * authentication and before Idempotency-Key handling, so a 429 is never stored as the key's
 * answer: the same request sent again after Retry-After gets the stored answer, or runs.
 */
#ifndef TIX_HTTP_RATELIMIT_H
#define TIX_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_req tix_req;

#define TIX_RL_TICKET_KEYS 2

/* What tix_ratelimit_admit counted for one request (arena strings), for tix_ratelimit_done. */
typedef struct tix_rl_ticket {
    int n;
    const char *keys[TIX_RL_TICKET_KEYS];
    int64_t window_ms[TIX_RL_TICKET_KEYS];
    const char *failure; /* the error code that counts; NULL: every request counts */
} tix_rl_ticket;

/* Whether r may go on to its handler; fills t. false: r has been answered (429; or 400 when a
 * login body is not JSON, the same answer its handler would give). */
bool tix_ratelimit_admit(tix_req *r, tix_rl_ticket *t);
/* After the handler: gives back the counts of t unless the answer is the failure they count. */
void tix_ratelimit_done(tix_req *r, tix_rl_ticket *t);

#endif
