/*
 * POST/GET /api/v1/graphql by the GraphQL over HTTP spec (graphql-http, the stage 2 draft this
 * was written against): the request is read here, the document parsed (core/graphql_parse.c),
 * validated and executed (api/graphql_exec.c) and the response written.
 *
 * Request: POST with a JSON body {"query", "variables"?, "operationName"?, "extensions"?}
 * (Content-Type application/json; anything else is a 415 from the server, as on every JSON
 * route), or GET with the same as query parameters (variables as JSON text). A GET may only
 * run a query: a mutation over GET is a 405 with Allow: POST.
 *
 * Response media type by Accept: application/graphql-response+json when the client lists it,
 * else application/json (also when Accept is absent or * / *); a client accepting neither gets
 * 406. Status codes:
 *   - a request that is not a well-formed GraphQL-over-HTTP request (no query, bad JSON, bad
 *     variables shape): 400 with the API's error body (malformed_json, invalid_type,
 *     invalid_parameter: it is no GraphQL response), whatever the Accept;
 *   - a document that does not parse or validate, variables that do not coerce, an unknown
 *     operation: 400 under application/graphql-response+json, 200 under application/json
 *     (the spec's compatibility rule), with {"errors": [...]} and no data;
 *   - anything that executed: 200 with {"data": ..., "errors"?: [...]}; a field's error
 *     carries extensions.code = the REST error code.
 * Responses are never cached (Cache-Control: no-store): a query may read the caller's data.
 *
 * Idempotency-Key (API.md): a signed-in caller's POST that runs a mutation with the header is
 * run under the key as a REST write is (http/idempotency.c, the key claimed before the work, as
 * for POST /bookings): a retry with the same key and body gets the first answer again
 * (Idempotent-Replayed: true) and holds or books nothing more; the same key with another body
 * is 422 idempotency_key_reused, a duplicate still running 409 idempotency_in_progress (those
 * are the API's error bodies, no GraphQL responses). The key and the request hash are REST's
 * (user, key; method, path and body), so a key used on a REST route and then here is reused.
 * An answer whose errors include a 5xx's code (internal, unavailable, upstream_error: the
 * mutation's sub-request met one) or rate_limited is not stored, as REST never stores a 5xx or
 * a 429: the retry does the work. A query's key is ignored, as a GET's is.
 *
 * Resolvers that meet an unavailable database go through tix_req_db, which answers 503 on the
 * request (Retry-After, the access log's error code); the GraphQL answer replaces that, and run
 * drops the headers and error code the execution left, so a 200 never carries a Retry-After.
 */
#include "api/graphql.h"
#include "api/handlers.h"

#include <string.h>
#include <strings.h>

#define GQL_JSON     "application/json; charset=utf-8"
#define GQL_RESPONSE "application/graphql-response+json; charset=utf-8"

/* Whether the Accept header lists type (a media range that names it exactly). */
static bool accepts(const char *accept, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = accept; p != NULL && *p != 0;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (strncasecmp(p, type, n) == 0 &&
            (p[n] == 0 || p[n] == ';' || p[n] == ',' || p[n] == ' ')) {
            return true;
        }
        p = strchr(p, ',');
    }
    return false;
}

/* The response media type, or NULL after answering 406. */
static const char *negotiate(tix_req *r)
{
    const char *accept = tix_req_header(r, "Accept");
    if (accept == NULL || *accept == 0) {
        return GQL_JSON;
    }
    if (accepts(accept, "application/graphql-response+json")) {
        return GQL_RESPONSE;
    }
    if (accepts(accept, "application/json") || accepts(accept, "*/*") ||
        accepts(accept, "application/*")) {
        return GQL_JSON;
    }
    tix_reply_error(r, 406, "not_acceptable",
                    "accept application/graphql-response+json or application/json", NULL);
    return NULL;
}

static void answer(tix_req *r, unsigned status, json_t *body, const char *type)
{
    tix_reply_json(r, status, body);
    r->content_type = type;
    tix_reply_header(r, "Cache-Control", "no-store");
}

/* A request that is not a well-formed GraphQL-over-HTTP request is not a GraphQL response:
 * it gets the API's own error body (docs/errors.md), as any route does. */
static void bad_request(tix_req *r, const char *code, const char *field, const char *message)
{
    tix_reply_error(
        r, 400, code, message,
        json_pack("{s:s}", strcmp(code, "invalid_parameter") == 0 ? "parameter" : "field", field));
    tix_reply_header(r, "Cache-Control", "no-store");
}

/* Whether the response's errors include one whose REST answer is never stored under a key: a
 * 5xx's, or the 429 of a rate limit (REST checks it before the key; a mutation's sub-request
 * meets it after). The retry must do the work then, not get the failure replayed. */
static bool transient_errors(json_t *resp)
{
    static const char *const codes[] = {"internal", "unavailable", "upstream_error",
                                        "rate_limited"};
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp, "errors"), i, e)
    {
        const char *code =
            json_string_value(json_object_get(json_object_get(e, "extensions"), "code"));
        for (size_t k = 0; code != NULL && k < sizeof codes / sizeof codes[0]; k++) {
            if (strcmp(code, codes[k]) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Whether query (operation op, or its only one) is a mutation; false when it does not parse or
 * names no operation (run answers that). */
static bool runs_mutation(tix_req *r, const char *query, const char *op)
{
    tix_gql_error err;
    tix_gql_document *doc = tix_gql_parse(r->arena, query, strlen(query), NULL, &err);
    const tix_gql_definition *found = NULL;
    int nops = 0;
    for (const tix_gql_definition *d = doc ? doc->definitions : NULL; d != NULL; d = d->next) {
        if (d->kind != TIX_GQL_OPERATION_DEF) {
            continue;
        }
        nops++;
        if (op == NULL || (d->name != NULL && strcmp(d->name, op) == 0)) {
            found = d;
        }
    }
    return found != NULL && (op != NULL || nops == 1) && found->operation == TIX_GQL_MUTATION;
}

/* Parses, validates and runs; answers. variables: an object or NULL (borrowed). */
static void run(tix_req *r, const char *type, const char *query, json_t *variables,
                const char *operation_name, bool is_get)
{
    tix_gql_error err;
    tix_gql_document *doc = tix_gql_parse(r->arena, query, strlen(query), NULL, &err);
    bool strict = strcmp(type, GQL_RESPONSE) == 0;
    if (doc == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg, "Syntax Error: %s", err.message);
        answer(r, strict ? 400 : 200,
               tix_gql_request_error("graphql_parse_failed", msg, err.line, err.col), type);
        return;
    }
    bool request_error = false;
    bool is_mutation = false;
    int nheaders = r->nheaders;
    json_t *resp =
        tix_gql_execute(r, doc, operation_name, variables, is_get, &request_error, &is_mutation);
    /* a resolver's 503 (tix_req_db) is in the response's errors, not in its headers */
    r->nheaders = nheaders;
    r->error_code = NULL;
    r->transient = transient_errors(resp);
    if (is_get && is_mutation) {
        json_decref(resp);
        tix_reply_header(r, "Allow", "POST");
        tix_reply_error(r, 405, "method_not_allowed", "mutations are sent with POST",
                        json_pack("{s:s}", "allow", "POST"));
        return;
    }
    answer(r, request_error && strict ? 400 : 200, resp, type);
}

static void post_keyed(tix_req *r);

static bool has_header(const tix_req *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->hname[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* After a keyed POST: an answer the key gave instead of post_keyed (a replay, 409 or 422) is
 * not cached either, and a replayed GraphQL response has this request's media type. */
static void keyed_answer(tix_req *r, const char *type)
{
    if (has_header(r, "Cache-Control")) {
        return; /* post_keyed answered */
    }
    if (has_header(r, "Idempotent-Replayed") && r->resp_len > 0 && r->error_code == NULL) {
        r->content_type = type;
    }
    tix_reply_header(r, "Cache-Control", "no-store");
}

/* POST; keyed: running under the request's Idempotency-Key already. */
static void post(tix_req *r, bool keyed)
{
    const char *type = negotiate(r);
    if (type == NULL) {
        return;
    }
    json_error_t jerr;
    json_t *body = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &jerr) : NULL;
    json_t *query = json_object_get(body, "query");
    json_t *vars = json_object_get(body, "variables");
    json_t *op = json_object_get(body, "operationName");
    json_t *ext = json_object_get(body, "extensions");
    if (body == NULL) {
        bad_request(r, "malformed_json", "body", "the body is not valid JSON");
    } else if (!json_is_object(body)) {
        bad_request(r, "invalid_type", "body", "the body must be a JSON object with a query");
    } else if (!json_is_string(query)) {
        bad_request(r, "invalid_type", "query", "query must be a string");
    } else if (vars != NULL && !json_is_object(vars) && !json_is_null(vars)) {
        bad_request(r, "invalid_type", "variables", "variables must be an object");
    } else if (op != NULL && !json_is_string(op) && !json_is_null(op)) {
        bad_request(r, "invalid_type", "operationName", "operationName must be a string");
    } else if (ext != NULL && !json_is_object(ext) && !json_is_null(ext)) {
        bad_request(r, "invalid_type", "extensions", "extensions must be an object");
    } else if (!keyed && tix_req_header(r, "Idempotency-Key") != NULL &&
               runs_mutation(r, json_string_value(query), json_string_value(op))) {
        tix_idempotent_call(r, post_keyed); /* which reads the body again */
        keyed_answer(r, type);
    } else {
        run(r, type, json_string_value(query), json_is_object(vars) ? vars : NULL,
            json_string_value(op), false);
    }
    json_decref(body);
}

static void post_keyed(tix_req *r)
{
    post(r, true);
}

void tix_api_graphql_post(tix_req *r)
{
    post(r, false);
}

void tix_api_graphql_get(tix_req *r)
{
    const char *type = negotiate(r);
    if (type == NULL) {
        return;
    }
    const char *query = tix_req_query(r, "query");
    const char *vars_text = tix_req_query(r, "variables");
    json_t *vars = NULL;
    if (query == NULL) {
        bad_request(r, "invalid_parameter", "query", "the query parameter is required");
        return;
    }
    if (vars_text != NULL && *vars_text != 0) {
        json_error_t jerr;
        vars = json_loads(vars_text, 0, &jerr);
        if (!json_is_object(vars) && !json_is_null(vars)) {
            json_decref(vars);
            bad_request(r, "invalid_parameter", "variables", "variables must be a JSON object");
            return;
        }
    }
    const char *op = tix_req_query(r, "operationName");
    run(r, type, query, json_is_object(vars) ? vars : NULL, op != NULL && *op ? op : NULL, true);
    json_decref(vars);
}
