/*
 * A request as handlers see it, and the calls to answer it. One tix_req per HTTP request,
 * created by server.c; everything hanging off it (strings, the parsed body, the response) is
 * owned by the request and freed after the reply, so handlers never free what they get here.
 *
 * A handler must answer exactly once (tix_reply_*); a handler that returns without answering
 * is a bug and becomes a 500. Helpers that can fail while fetching input (tix_req_json,
 * tix_req_db, …) answer the error themselves and return NULL/false: the handler just returns.
 */
#ifndef TIX_HTTP_REQ_H
#define TIX_HTTP_REQ_H

#include "auth/policy.h"
#include "core/arena.h"
#include "core/rc.h"
#include "http/router.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct tix_app tix_app;

#define TIX_REQ_MAX_HEADERS 8

struct tix_req {
    tix_arena *arena;
    tix_app *app;
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    const tix_route *route;
    tix_match match;
    const char *body; /* NUL-terminated copy of the body bytes, or NULL */
    size_t body_len;
    json_t *json;       /* parsed body (owned; decref'd after the reply) */
    tix_principal auth; /* who is calling; .authenticated false for anonymous */
    char request_id[72];
    int64_t start_us;
    tix_db *db; /* acquired on first use by tix_req_db, released after the reply */
    /* the answer */
    unsigned status;
    char *resp;
    size_t resp_len;
    const char *content_type;
    const char *error_code; /* for the access log */
    int nheaders;
    const char *hname[TIX_REQ_MAX_HEADERS];
    const char *hvalue[TIX_REQ_MAX_HEADERS];
};

/* A path parameter by name ({id}), arena-owned; NULL if the route has none of that name. */
const char *tix_req_param(tix_req *r, const char *name);
/* A query-string argument (already URL-decoded), or NULL. */
const char *tix_req_query(tix_req *r, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *tix_req_header(tix_req *r, const char *name);

/* The body as a JSON object (owned by the request). On a bad body it answers 400
 * (malformed_json / invalid_type) and returns NULL. */
json_t *tix_req_json(tix_req *r);

/* The request's database connection (acquired once per request). On failure it answers
 * 503 and returns NULL. */
tix_db *tix_req_db(tix_req *r);

/* Parses ?limit= (default 20, 1..100) and ?cursor= (opaque). On a bad value it answers 400
 * invalid_parameter and returns false. *cursor is NULL when absent; decoded otherwise. */
bool tix_req_page(tix_req *r, int *limit, const char **cursor);
/* The opaque cursor text for a last-seen key (arena-owned). */
const char *tix_req_cursor_encode(tix_req *r, const char *key);

/* Answers with a JSON value (reference stolen) and status. */
void tix_reply_json(tix_req *r, unsigned status, json_t *body);
/* Answers with no body (204 and the like). */
void tix_reply_empty(tix_req *r, unsigned status);
/* Answers with the error format of API.md; details (stolen, may be NULL) go under "details". */
void tix_reply_error(tix_req *r, unsigned status, const char *code, const char *message,
                     json_t *details);
/* Answers with the standard status, code and message for a result code (see reply.c). */
void tix_reply_rc(tix_req *r, tix_rc rc);
/* Adds a response header (both strings must outlive the request: literals or arena). */
void tix_reply_header(tix_req *r, const char *name, const char *value);
/* Whether the request has been answered. */
bool tix_req_answered(const tix_req *r);

#endif
