/*
 * GraphQL beside REST (API.md, "GraphQL and recommendations"; docs/schema.graphql). The parts:
 *
 *   core/graphql_parse.c   the text of a document -> a syntax tree (pure; its lexer is
 *                          core/graphql_lex.c)
 *   api/graphql_schema.c   the schema as tables (types, fields, arguments) and introspection
 *   api/graphql_ctx.c      what the next two share (api/graphql_ctx.h): errors gathered,
 *                          input values coerced, fields collected (fragments, @skip/@include)
 *   api/graphql_validate.c validation of a document against the tables and the limits
 *   api/graphql_exec.c     execution of a valid document: arguments coerced, resolvers
 *                          called, values completed by their types
 *   api/graphql_resolve.c  the resolvers: the same store and domain calls and the same JSON
 *                          views as the REST handlers (no SQL here), the same access rules
 *   api/graphql_api.c      POST/GET /api/v1/graphql by the GraphQL over HTTP spec
 *
 * Values are jansson values throughout. A resolver returns the REST view of an object (snake_case
 * keys, as GET /shows/{id} answers it); a field without a resolver reads its key (the field's
 * name in snake_case) from its parent. So a GraphQL field and the REST member it mirrors come
 * from one view function and cannot drift apart.
 *
 * N+1: a field may have a batch function, called once with every parent of one list before the
 * items are completed (Show.movie: the movies of a page of shows are read once, not per show).
 *
 * Errors: a resolver that fails calls tix_gql_fail with the REST error code and message; the
 * executor adds the path and location, nulls the field (and its parents up to the nearest
 * nullable one, as the spec's null propagation says) and goes on.
 *
 * Memory: the context and everything hanging off it live in the request's arena, apart from the
 * jansson values, which follow jansson's reference counting (the result is the caller's).
 */
#ifndef TIX_API_GRAPHQL_H
#define TIX_API_GRAPHQL_H

#include "core/graphql_parse.h"
#include "http/req.h"

#include <jansson.h>

typedef struct tix_gql_ctx tix_gql_ctx;

/* A resolver: the field's value for parent (a JSON object; NULL for the root types) with its
 * coerced arguments args (an object, defaults applied). Returns a new reference, json_null()
 * for null, or NULL after tix_gql_fail. */
typedef json_t *(*tix_gql_resolve_fn)(tix_gql_ctx *c, json_t *parent, json_t *args);
/* A batch function: called once with every parent object (a JSON array) of the field before
 * any of them resolves it; it stores what the resolver will read in each parent (under a key
 * starting with "_gql_"), so the resolver does no store call per item. */
typedef void (*tix_gql_batch_fn)(tix_gql_ctx *c, json_t *parents, json_t *args);

typedef struct tix_gql_arg_def {
    const char *name;
    const char *type;          /* type reference in SDL: "ID!", "[ID!]", "Int" */
    const char *default_value; /* a GraphQL literal as text ("20", "\"all\""), or NULL */
    const char *description;
} tix_gql_arg_def;

typedef struct tix_gql_field_def {
    const char *name;
    const char *type; /* "[Movie!]!" */
    const char *description;
    const tix_gql_arg_def *args; /* terminated by a NULL name; NULL: none */
    tix_gql_resolve_fn resolve;  /* NULL: read key (or the snake_case name) from the parent */
    tix_gql_batch_fn batch;
    const char *key;
    int cost; /* a store call: 1 + what the field's list multiplies; 0: a plain member */
} tix_gql_field_def;

typedef enum tix_gql_kind { TIX_GQL_K_SCALAR, TIX_GQL_K_OBJECT, TIX_GQL_K_ENUM } tix_gql_kind;

typedef struct tix_gql_type_def {
    const char *name;
    tix_gql_kind kind;
    const char *description;
    const tix_gql_field_def *fields; /* OBJECT; terminated by a NULL name */
    const char *const *enum_values;  /* ENUM; NULL-terminated */
} tix_gql_type_def;

/* The schema's types (tix_gql_types[i].name == NULL ends it), including the introspection
 * types; the root types are "Query" and "Mutation". */
extern const tix_gql_type_def tix_gql_types[];
const tix_gql_type_def *tix_gql_find_type(const char *name);
const tix_gql_field_def *tix_gql_field(const tix_gql_type_def *t, const char *name);

/* A type reference parsed from its SDL text: "[Movie!]!" -> non_null, list, non_null, Movie.
 * Arena memory. */
tix_gql_type *tix_gql_type_ref(tix_arena *a, const char *text);
/* The named type at the bottom of a reference. */
const char *tix_gql_type_name(const tix_gql_type *t);

/* Introspection's answers (graphql_schema.c): the __schema object and one __Type (a named type,
 * or a wrapper when t is not NAMED); new references. */
json_t *tix_gql_introspect_schema(tix_gql_ctx *c);
json_t *tix_gql_introspect_type_ref(const tix_gql_type *t);
/* The resolvers of __Type, __Field, ... (graphql_schema.c), used by the tables there. */

/* Limits a document is held to before it runs (API.md: depth and cost are limited). */
#define TIX_GQL_MAX_QUERY_DEPTH 12
#define TIX_GQL_MAX_ALIASES     30
#define TIX_GQL_MAX_COST        1000
#define TIX_GQL_MAX_ERRORS      50

struct tix_gql_ctx {
    tix_req *r;
    tix_arena *a;
    tix_db *db; /* NULL until a resolver needs it (tix_gql_db) */
    const tix_gql_document *doc;
    json_t *variables; /* coerced (owned) */
    json_t *errors;    /* array (owned) */
    /* the failure a resolver reported for the field being resolved */
    const char *fail_code;
    const char *fail_message;
    bool propagating; /* a null is travelling up to the nearest nullable position */
};

/* Records a resolver's failure (code: a REST error code such as "not_found"; message static or
 * arena text). Returns NULL for `return tix_gql_fail(...)`. */
json_t *tix_gql_fail(tix_gql_ctx *c, const char *code, const char *message);
/* The same for a result code, with the code and message tix_reply_rc would answer. */
json_t *tix_gql_fail_rc(tix_gql_ctx *c, tix_rc rc);
/* The request's database connection, acquired once; NULL after tix_gql_fail (unavailable). */
tix_db *tix_gql_db(tix_gql_ctx *c);

/* Validates and executes the document's operation (operation_name may be NULL when it has one)
 * with variables (a JSON object or NULL). Returns the response object {"data": ..., "errors":
 * [...]} (a new reference); *request_error is true when the request failed before execution
 * (validation, variables, no such operation: the response has no "data"), which the GraphQL
 * over HTTP spec answers with 400 under application/graphql-response+json. only_query refuses
 * mutations (GET). */
json_t *tix_gql_execute(tix_req *r, const tix_gql_document *doc, const char *operation_name,
                        json_t *variables, bool only_query, bool *request_error, bool *is_mutation);

/* A response with one error and no data (a request that could not be read or parsed):
 * {"errors": [{"message": ..., "locations"?: [...], "extensions": {"code": ...}}]}. line 0: no
 * location. */
json_t *tix_gql_request_error(const char *code, const char *message, int line, int col);

#endif
