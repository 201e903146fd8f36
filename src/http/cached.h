/*
 * Cached GET answers, for the routes flagged TIX_ROUTE_CACHE_SHOW (the seat map),
 * TIX_ROUTE_CACHE_CATALOG (movie, show and theatre listings) and TIX_ROUTE_CACHE_USER (a
 * user's bookings). A change bumps the version of its scope where it commits: the booking core
 * for a show's seats and a user's bookings, the catalogue service (catalog/catalog.h) for the
 * catalogue (booking/seat_events.h). The server calls tix_cached_answer before the handler and
 * tix_cached_finish on every answer before sending it; handlers only say how long their
 * answer stays true by the clock (r->cache_until: a hold's expiry, a show's start).
 *
 * An entry "<catalogue version> <scope version> <valid until ms> <etag>\n<body>" lives under
 * "<prefix>:{show:ID}:<route>:<q>", "<prefix>:{catalog}:<route>:<q>" or
 * "<prefix>:{user:ID}:<route>:<q>", where <q> hashes the query parameters the route declares
 * (tix_route.query: the ones its handler reads, each length-prefixed, so no value can pass for
 * another parameter; others do not enter it) and whether the caller is an admin. It is served only
 * while both versions it was stored under are still the current ones and its instant has not
 * passed, so a change is visible to the very next read once its bump is done. Versions are read
 * before the database, so an answer built from data older than a bump is stored under the older
 * version and never served.
 *
 * Answers are kept in this process in both forms, plain and gzip, in a reference-counted store
 * (http/answers.h) whose bytes go to libmicrohttpd without a copy: a hit costs reading the
 * versions and a lookup, whichever cache backs it; an entry found only in the cache (Redis:
 * another server built it) is fetched and inflated once per version per server. The entries
 * above exist only in Redis: with the in-process cache the store is the only copy of an answer
 * (the cache then holds just the version counters), so answers take CACHE_MAX_BYTES at most.
 *
 * Misses are coalesced: while one request builds the answer for an entry and versions, the
 * others that miss on it wait for that answer (see "flights" in cached.c). For show-scope
 * routes (the seat map) with SEATMAP_STALE > 0, a miss that arrives while a build of its
 * entry runs or is queued is instead answered at once, from libmicrohttpd's thread, with the
 * entry's last stored answer when that went out of date less than SEATMAP_STALE ago
 * ("stale while revalidating" in cached.c): the one exception to the exactness above, bounded,
 * and only while someone else's build is under way (a read with none leads one and waits).
 *
 * Every answer of a cached route carries a strong ETag (a hash of the body, the same whether
 * it came from the cache or the database) and "Cache-Control: no-cache" (private for a user's
 * answers); If-None-Match with a matching tag gets 304 without a body. X-Cache says hit, miss,
 * bypass (the cache is off or unreachable) or stale (with Age: seconds, rounded up, since the
 * answer went out of date; a stale answer keeps its own ETag, and a conditional read gets it
 * only when If-None-Match names it).
 */
#ifndef TIX_HTTP_CACHED_H
#define TIX_HTTP_CACHED_H

#include "http/req.h"

#include <stdbool.h>

/* true when the request was answered from the cache (or with 304). */
bool tix_cached_answer(tix_req *r);
/* Whether the server may answer r on a libmicrohttpd thread, before the handler queue, from
 * what the cache holds: only while the cache's operations never wait for I/O
 * (tix_cache.nonblocking: the in-process cache). With Redis the session check and the version
 * reads would be round trips on the thread every connection waits for, so the queue answers,
 * cache hits (tix_cached_answer_now) and routes' early answers (http/server_admit.c,
 * tix_server_answer_now) alike. The one statement of that rule: both ask here. */
bool tix_cached_nonblocking(const tix_req *r);
/* The same, on a libmicrohttpd thread before the handler queue, so hits never wait behind
 * handlers blocked on the database: answers only from the in-process store of answers
 * (http/answers.h) when the cache cannot block (tix_cache.nonblocking), the route is a show's
 * or the catalogue's (not a user's) and every version already exists; otherwise it changes
 * nothing and returns false (the handler pool then looks up and builds as usual). */
bool tix_cached_answer_now(tix_req *r);
/* The versions r's lookup read before its handler read the database (arena strings), when
 * the answer it builds may be stored under them; false when the cache is off, could not be
 * read, or r is not building a cached answer. What a handler keeps beside its answer
 * (http/aside.h) is kept under these, so it is exactly as current as the answer. */
bool tix_cached_versions(const tix_req *r, const char **catver, const char **scopever);
/* Also on a libmicrohttpd thread, after tix_cached_answer_now found no hit, for a show-scope
 * route (the seat map): true when the request was answered with the entry's last stored answer,
 * out of date by less than SEATMAP_STALE, because a build of the entry is running or queued
 * (X-Cache: stale, Age; see "stale while revalidating" in cached.c). Otherwise it changes
 * nothing but count the request as queued for its entry (r->queued_on, until its lookup in the
 * pool or its end) and set r->build_first when it will lead the entry's next build. */
bool tix_cached_answer_stale(tix_req *r);
/* After the handler: ETag, 304, storing the answer. */
void tix_cached_finish(tix_req *r);
/* When the request ends (whether or not it was answered): lets go of anything the lookup
 * holds, so requests waiting for this one's answer never wait in vain. */
void tix_cached_release(tix_req *r);
/* The text <q> hashes for r (arena-owned): its route's declared query parameters in order,
 * each "<len>:<name>;" or "<len>:<name>=<len>:<value>;", then "|admin" or "|". Two requests
 * on one route share it exactly when they read the same values (tests/fuzz/fuzz_cachekey). */
const char *tix_cached_query_text(tix_req *r);
/* Misses answered by another request's build of the same entry (for /metrics). */
unsigned long long tix_cached_coalesced(void);
/* Reads answered stale (for /metrics). */
unsigned long long tix_cached_stale(void);
/* Stored gzip entries inflated (for /metrics): once per entry and version per server, never
 * per request (both forms of an answer are kept, http/answers.h). */
unsigned long long tix_cached_inflates(void);

#endif
