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
    json_t *resp =
        tix_gql_execute(r, doc, operation_name, variables, is_get, &request_error, &is_mutation);
    if (is_get && is_mutation) {
        json_decref(resp);
        tix_reply_header(r, "Allow", "POST");
        tix_reply_error(r, 405, "method_not_allowed", "mutations are sent with POST",
                        json_pack("{s:s}", "allow", "POST"));
        return;
    }
    answer(r, request_error && strict ? 400 : 200, resp, type);
}

void tix_api_graphql_post(tix_req *r)
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
    } else {
        run(r, type, json_string_value(query), json_is_object(vars) ? vars : NULL,
            json_string_value(op), false);
    }
    json_decref(body);
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
