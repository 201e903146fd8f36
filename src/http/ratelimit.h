/*
 * Rate limits on the endpoints worth guessing at or hoarding with: logins (per client IP and
 * per e-mail), registrations (per client IP) and holds (per user). Over a limit the answer is
 * 429 rate_limited with Retry-After (whole seconds until the window resets) and details
 * {action, scope, limit, window_seconds, retry_after_seconds}.
 *
 * Fixed windows: one counter per key (rl:login:ip:<ip>, rl:login:email:<email>,
 * rl:register:ip:<ip>, rl:hold:user:<user id>) that starts at the key's first request and
 * lives one window; every request counts, answered or refused. Counters live in the cache
 * (tix_cache_incr): in Redis when REDIS_URL is set, so every server behind nginx counts
 * against one window; while Redis is down, in each process (limits then hold per server); in
 * the process without Redis. When no store can count (the in-process table is full) the limits
 * fail open: requests go through, and the outage and the recovery are logged once each. The client
 * IP comes from http/clientip.h, so behind nginx TRUST_PROXY must be on.
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

/* Whether r may go on to its handler. false: r has been answered (429; or 400 when a login
 * body is not JSON, the same answer its handler would give). */
bool tix_ratelimit_admit(tix_req *r);

#endif
