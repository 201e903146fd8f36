/*
 * Internal to the GraphQL stages (api/graphql_ctx.c, api/graphql_validate.c,
 * api/graphql_exec.c); the resolvers and the HTTP handler use api/graphql.h only.
 *
 * Validation and execution walk the same document and need the same few things, which live in
 * graphql_ctx.c, below both: the error list of the context; the coercion of input values
 * (validation checks that each literal argument coerces, execution coerces it); the lookup of a
 * fragment by name; and CollectFields, the fields of a selection set grouped by response key,
 * fragments expanded. Execution collects to run the groups (honouring @skip/@include);
 * validation collects to check that the fields of one key can be merged (spec 5.3.2, directives
 * ignored, under a budget of visits). One function serves both, so the two cannot disagree about
 * which fields share a key. The arrows: exec -> validate -> ctx, exec -> ctx.
 *
 * Memory: everything lives in the context's arena (c->a) apart from jansson values, which are
 * reference counted as graphql.h says.
 */
#ifndef TIX_API_GRAPHQL_CTX_H
#define TIX_API_GRAPHQL_CTX_H

#include "api/graphql.h"

#include <stdbool.h>

#define TIX_GQL_MAX_GROUP   32   /* selections merged under one response key */
#define TIX_GQL_MAX_VISITED 5000 /* selections visited by validation, fragments expanded */

/* ---- errors ---- */

/* Appends an error {"message", "locations"?, "path"?, "extensions": {"code"}} to c->errors (at
 * most TIX_GQL_MAX_ERRORS). message is copied; path (borrowed) may be NULL; line 0: no
 * location. */
void tix_gql_add_error(tix_gql_ctx *c, const char *code, const char *message, int line, int col,
                       json_t *path);

/* ---- coercion of input values ---- */

/* A literal as a value of type t (variables read from c->variables, already coerced): a new
 * reference, or NULL with *why (static or arena text) when it cannot be. */
json_t *tix_gql_coerce_literal(tix_gql_ctx *c, const tix_gql_value *val, const tix_gql_type *t,
                               const char **why);
/* Coerces the operation's variables given (a JSON object or NULL) into c->variables (spec
 * 6.1.2); false with an error added. */
bool tix_gql_coerce_variables(tix_gql_ctx *c, const tix_gql_definition *op, json_t *given);
/* Field f's arguments in selection s as an object (a new reference), defaults applied; NULL
 * with *why. */
json_t *tix_gql_field_args(tix_gql_ctx *c, const tix_gql_field_def *f, const tix_gql_selection *s,
                           const char **why);

/* ---- field collection ---- */

/* The selections of one response key (alias, or the field's name) in a selection set, in
 * document order; past TIX_GQL_MAX_GROUP they are dropped. A list in the arena, in the order the
 * keys first appear. */
typedef struct tix_gql_group {
    const char *key;
    const tix_gql_selection *nodes[TIX_GQL_MAX_GROUP];
    int n;
    struct tix_gql_group *next;
} tix_gql_group;

/* The fragment definition called name, and its index among the document's fragments; NULL when
 * there is none. */
const tix_gql_definition *tix_gql_find_fragment(const tix_gql_document *d, const char *name,
                                                int *index);

/* CollectFields (spec 6.3.2) of the selection set s into *first, inline fragments and spreads
 * expanded (an unknown spread is passed over). visited NULL: execution, which leaves out what
 * @skip/@include exclude and relies on validation for the fragments (known, on the type, no
 * cycles). visited non-NULL: validation's merge check, which ignores directives, counts each
 * selection in *visited and stops past TIX_GQL_MAX_VISITED. */
void tix_gql_collect(tix_gql_ctx *c, const tix_gql_selection *s, tix_gql_group **first,
                     int *visited);

/* ---- validation (graphql_validate.c) ---- */

/* Validates c->doc (spec section 5, and the limits of graphql.h); false when it failed, with the
 * errors in c->errors. */
bool tix_gql_validate(tix_gql_ctx *c);

#endif
