/*
 * The route table and its matcher (pure: no I/O). Patterns are literal segments and {name}
 * parameters: "/api/v1/movies/{id}/poster". The router compiles the table once; a match
 * returns the route and the parameter values as slices of the path, or tells apart "no such
 * path" (404) from "path exists, method does not" (405, with the allowed methods).
 */
#ifndef TIX_HTTP_ROUTER_H
#define TIX_HTTP_ROUTER_H

#include "core/rc.h"
#include "core/roles.h" /* tix_access */

#include <stdbool.h>
#include <stddef.h>

#define TIX_ROUTE_MAX_PARAMS   8
#define TIX_ROUTE_MAX_SEGMENTS 16

typedef struct tix_req tix_req;
typedef void (*tix_handler)(tix_req *r);

enum {
    TIX_ROUTE_JSON = 1u << 0, /* the route reads a JSON body */
    TIX_ROUTE_RAW = 1u << 1,  /* the route reads the body itself (webhooks, uploads) */
    /* a multipart/form-data file upload streamed to disk, never held in memory; the handler
     * runs twice (before and after the body): see tix_upload in req.h and server.c */
    TIX_ROUTE_UPLOAD = 1u << 3,
    TIX_ROUTE_IDEMPOTENT = 1u << 2, /* honours Idempotency-Key (money-related creates) */
    /* with TIX_ROUTE_IDEMPOTENT: the handler's work is one transaction that the key joins
     * (tix_req.idem, http/idempotency.c); without it the key is claimed before the handler */
    TIX_ROUTE_IDEM_TX = 1u << 22,
    /* rate limited (http/ratelimit.h): login failures per client IP and per e-mail and client
     * IP, register per client IP, holds per user, change-password failures per user and IP */
    TIX_ROUTE_RL_LOGIN = 1u << 4,
    TIX_ROUTE_RL_REGISTER = 1u << 5,
    TIX_ROUTE_RL_HOLD = 1u << 6,
    TIX_ROUTE_RL_PASSWORD = 1u << 7,
    TIX_ROUTE_RL_RESET = 1u << 11, /* password-reset requests per client IP and per e-mail */
    /* cached GET answers (http/cached.h), validated by the version of their scope: a show
     * (path parameter id), the catalogue, or the signed-in user */
    TIX_ROUTE_CACHE_SHOW = 1u << 8,
    TIX_ROUTE_CACHE_CATALOG = 1u << 9,
    TIX_ROUTE_CACHE_USER = 1u << 10,
    /* runs on the MHD thread itself: it never blocks (no database, no outside service), so the
     * hop to the handler pool (http/workpool.h) would only cost time */
    TIX_ROUTE_INLINE = 1u << 12,
    /* queued in the handler pool's "later" queue (http/workpool.h tix_workpool_submit_later):
     * in an opening-night stampede the hold attempts come in thousands at once, and the
     * bookings and confirmations of those who got seats must not wait in the queue behind them */
    TIX_ROUTE_QUEUE_LATER = 1u << 13,
    /* audit every caller's attempt, whatever the role (check-ins: a door wants its staff's
     * scans, refused ones too); other writes are audited for owners and admins: http/audit.h */
    TIX_ROUTE_AUDIT_ALL = 1u << 20,
};

typedef struct tix_route {
    const char *method;
    const char *pattern;
    tix_handler handler;
    tix_access access;
    unsigned flags;
    /* Cached routes (TIX_ROUTE_CACHE_*): the query parameters the handler reads, separated by
     * spaces ("q status limit cursor"; NULL: none). They, and only they, make the cache key
     * (http/cached.c); tix_req_query refuses to read any other on such a route. */
    const char *query;
    /* Writes (POST, PUT, PATCH, DELETE) are audited (http/audit.h) unless this says why not
     * (NULL: audited). tests/unit/test_audit.c walks the table: every write is one or the other. */
    const char *audit_exempt;
    /* Optional: answers some of the route's requests on the libmicrohttpd thread, before the
     * handler queue (http/server_admit.c: tix_server_answer_now), when it can without the
     * database; false when it cannot, having changed nothing the handler reads (the request then
     * goes to the queue as usual). Called only for a request that passed every check the queue
     * makes before the handler (path and query, bearer token and session checked from the cache
     * alone, role, content type), carrying no Idempotency-Key, and only while the cache cannot
     * block (tix_cache.nonblocking: the in-process cache), so that everything it and the session
     * check read is this process's memory; with Redis the queue answers every request, as it
     * does cache hits (http/cached.h). Rate limits are its to apply. It must not wait for the
     * database. */
    bool (*now)(tix_req *r);
} tix_route;

/* Whether route declares the query parameter name (see tix_route.query). */
bool tix_route_reads(const tix_route *route, const char *name);

typedef struct tix_slice {
    const char *p;
    size_t n;
} tix_slice;

typedef enum tix_match_result {
    TIX_MATCH_OK,
    TIX_MATCH_NOT_FOUND,
    TIX_MATCH_BAD_METHOD,
} tix_match_result;

typedef struct tix_match {
    const tix_route *route;
    int nparams;
    tix_slice names[TIX_ROUTE_MAX_PARAMS];
    tix_slice values[TIX_ROUTE_MAX_PARAMS];
    char allow[96]; /* for TIX_MATCH_BAD_METHOD: "GET, POST" */
} tix_match;

typedef struct tix_router tix_router;

/* Compiles routes (kept by pointer: the table must outlive the router). TIX_EINVAL if a
 * pattern is malformed or two routes share method and pattern. Free with destroy. */
TIX_MUSTCHECK tix_rc tix_router_create(const tix_route *routes, size_t n, tix_router **out);
void tix_router_destroy(tix_router *router);

/* Matches method and path (no query string). HEAD matches GET routes. A trailing slash is
 * ignored. Parameter values point into path. */
tix_match_result tix_router_match(const tix_router *router, const char *method, const char *path,
                                  tix_match *m);

#endif
