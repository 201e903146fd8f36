/*
 * Execution of a GraphQL document (api/graphql.h; the October 2021 spec, section 6
 * "Execution").
 *
 * tix_gql_execute: the document is validated (api/graphql_validate.c: errors and no data when it
 * fails), the operation picked, its variables coerced (spec 6.1.2); then the operation's root
 * fields run in order (serially, which is what a mutation needs and a query does not mind);
 * each field's arguments are coerced (literals and variables, defaults applied), its resolver
 * (or its parent's member) gives a JSON value, and the value is completed by the field's type:
 * lists item by item, objects by their selection set, a null where the type forbids one becomes
 * an error that nulls the nearest nullable parent (spec 6.4.4). Before the items of a list of
 * objects are completed, the batch functions of their selected fields run once over all of them
 * (N+1). Errors, coercion and field collection are api/graphql_ctx.c's.
 */
#include "api/graphql_ctx.h"

#include <string.h>

/* Execution walks the document and the values recursively, as the grammar nests: the parser
 * bounds the nesting (TIX_GQL_MAX_DEPTH), validation bounds the fields
 * (TIX_GQL_MAX_QUERY_DEPTH) and the fragment expansion (TIX_GQL_MAX_VISITED, no cycles), so the
 * recursion is bounded before execution starts. */
/* NOLINTBEGIN(misc-no-recursion) */

/* The merged sub-selections of a group's nodes, collected. */
static tix_gql_group *sub_groups(tix_gql_ctx *c, const tix_gql_group *g)
{
    tix_gql_group *first = NULL;
    for (int i = 0; i < g->n; i++) {
        tix_gql_collect(c, g->nodes[i]->selections, &first, NULL);
    }
    return first;
}

static json_t *execute_set(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *parent,
                           tix_gql_group *groups, json_t *path);

static void field_error(tix_gql_ctx *c, const tix_gql_group *g, json_t *path)
{
    tix_gql_add_error(c, c->fail_code != NULL ? c->fail_code : "internal",
                      c->fail_message != NULL ? c->fail_message : "internal error",
                      g->nodes[0]->line, g->nodes[0]->col, path);
    c->fail_code = NULL;
    c->fail_message = NULL;
}

/* Runs the batch functions of the fields selected on a list of objects, once for all items. */
static void run_batches(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *items,
                        tix_gql_group *subs)
{
    for (tix_gql_group *g = subs; g != NULL; g = g->next) {
        const tix_gql_field_def *f = tix_gql_field(t, g->nodes[0]->name);
        if (f != NULL && f->batch != NULL) {
            const char *why = NULL;
            json_t *args = tix_gql_field_args(c, f, g->nodes[0], &why);
            f->batch(c, items, args);
            json_decref(args);
        }
    }
}

static json_t *complete(tix_gql_ctx *c, const tix_gql_type *t, const tix_gql_group *g,
                        json_t *value, json_t *path);

/* A list value completed item by item (spec 6.4.3 step 3), after the batch functions of its
 * objects' fields ran once over all of them. */
static json_t *complete_list(tix_gql_ctx *c, const tix_gql_type *t, const tix_gql_group *g,
                             json_t *value, json_t *path)
{
    if (!json_is_array(value)) {
        return json_null();
    }
    const tix_gql_type_def *it = tix_gql_find_type(tix_gql_type_name(t));
    if (it != NULL && it->kind == TIX_GQL_K_OBJECT) {
        run_batches(c, it, value, sub_groups(c, g));
    }
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item)
    {
        json_array_append_new(path, json_integer((json_int_t)i));
        json_t *v = complete(c, t->of, g, item, path);
        json_array_remove(path, json_array_size(path) - 1);
        if (v == NULL) {
            json_decref(out);
            return json_null(); /* nulls the list: its own nullability decides next */
        }
        if (t->of->kind != TIX_GQL_NON_NULL) {
            c->propagating = false; /* a nullable item took the null */
        }
        json_array_append_new(out, v);
    }
    return out;
}

/* CompleteValue (spec 6.4.3). Returns a new reference, or NULL when a non-null position got a
 * null (the error is recorded): the caller nulls itself or passes the NULL up. value is
 * borrowed. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by the validated depth */
static json_t *complete(tix_gql_ctx *c, const tix_gql_type *t, const tix_gql_group *g,
                        json_t *value, json_t *path)
{
    if (t->kind == TIX_GQL_NON_NULL) {
        json_t *v = complete(c, t->of, g, value, path);
        if (v != NULL && json_is_null(v)) {
            json_decref(v);
            if (!c->propagating) { /* one error per null, however far it travels up */
                tix_gql_fail(c, "internal", "a non-null field resolved to null");
                field_error(c, g, path);
            }
            c->propagating = true;
            return NULL;
        }
        return v;
    }
    if (value == NULL || json_is_null(value)) {
        return json_null();
    }
    if (t->kind == TIX_GQL_LIST_TYPE) {
        return complete_list(c, t, g, value, path);
    }
    const tix_gql_type_def *d = tix_gql_find_type(t->name);
    if (d->kind != TIX_GQL_K_OBJECT) {
        return json_incref(value);
    }
    return execute_set(c, d, value, sub_groups(c, g), path);
}

/* The member of parent a plain field reads: its key, or its name in snake_case. */
static json_t *member(tix_gql_ctx *c, const tix_gql_type_def *t, const tix_gql_field_def *f,
                      json_t *parent)
{
    if (f->key != NULL || strncmp(t->name, "__", 2) == 0) {
        return json_incref(json_object_get(parent, f->key != NULL ? f->key : f->name));
    }
    size_t n = strlen(f->name);
    char *snake = tix_arena_alloc(c->a, n * 2 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = f->name[i];
        if (ch >= 'A' && ch <= 'Z') {
            snake[k++] = '_';
            ch = (char)(ch + ('a' - 'A'));
        }
        snake[k++] = ch;
    }
    snake[k] = 0;
    return json_incref(json_object_get(parent, snake));
}

/* ExecuteField (spec 6.4): NULL when the field is non-null and failed. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by the validated depth */
static json_t *execute_field(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *parent,
                             const tix_gql_group *g, json_t *path)
{
    const tix_gql_selection *s = g->nodes[0];
    if (strcmp(s->name, "__typename") == 0) {
        return json_string(t->name);
    }
    const tix_gql_field_def *f = tix_gql_field(t, s->name);
    if (f == NULL) { /* validation refuses this (fields that cannot merge); never run it */
        tix_gql_fail(c, "graphql_validation_failed", "fields that cannot be merged");
        field_error(c, g, path);
        return json_null();
    }
    tix_gql_type *ft = tix_gql_type_ref(c->a, f->type);
    const char *why = NULL;
    json_t *args = tix_gql_field_args(c, f, s, &why);
    json_t *value = NULL;
    if (args == NULL) {
        tix_gql_fail(c, "graphql_argument_invalid", why != NULL ? why : "invalid argument");
    } else if (f->resolve != NULL) {
        value = f->resolve(c, parent, args);
    } else {
        value = member(c, t, f, parent);
        value = value != NULL ? value : json_null();
    }
    json_decref(args);
    if (value == NULL) {
        field_error(c, g, path);
        c->propagating = ft->kind == TIX_GQL_NON_NULL;
        return c->propagating ? NULL : json_null();
    }
    json_t *out = complete(c, ft, g, value, path);
    json_decref(value);
    if (ft->kind != TIX_GQL_NON_NULL) {
        c->propagating = false; /* a nullable field took the null */
    }
    return out;
}

/* ExecuteSelectionSet (spec 6.3): the object, or NULL when a non-null field failed (the object
 * itself becomes null). */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by the validated depth */
static json_t *execute_set(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *parent,
                           tix_gql_group *groups, json_t *path)
{
    json_t *out = json_object();
    for (tix_gql_group *g = groups; g != NULL; g = g->next) {
        json_array_append_new(path, json_string(g->key));
        json_t *v = execute_field(c, t, parent, g, path);
        json_array_remove(path, json_array_size(path) - 1);
        if (v == NULL) {
            json_decref(out);
            return json_null();
        }
        json_object_set_new(out, g->key, v);
    }
    return out;
}

static const tix_gql_definition *pick_operation(tix_gql_ctx *c, const char *name)
{
    const tix_gql_definition *found = NULL;
    int n = 0;
    for (const tix_gql_definition *d = c->doc->definitions; d != NULL; d = d->next) {
        if (d->kind != TIX_GQL_OPERATION_DEF) {
            continue;
        }
        n++;
        if (name == NULL || (d->name != NULL && strcmp(d->name, name) == 0)) {
            found = found == NULL ? d : found;
        }
    }
    if (name == NULL && n > 1) {
        tix_gql_add_error(c, "graphql_operation_unknown",
                          "The document has several operations: name one with operationName.", 0, 0,
                          NULL);
        return NULL;
    }
    if (found == NULL) {
        tix_gql_add_error(
            c, "graphql_operation_unknown",
            tix_arena_sprintf(c->a, "Unknown operation named \"%s\".", name ? name : ""), 0, 0,
            NULL);
    }
    return found;
}

json_t *tix_gql_execute(tix_req *r, const tix_gql_document *doc, const char *operation_name,
                        json_t *variables, bool only_query, bool *request_error, bool *is_mutation)
{
    tix_gql_ctx *c = tix_arena_calloc(r->arena, sizeof *c);
    c->r = r;
    c->a = r->arena;
    c->doc = doc;
    c->errors = json_array();
    *request_error = true;
    *is_mutation = false;
    json_t *resp = json_object();
    const tix_gql_definition *op = NULL;
    if (tix_gql_validate(c) && (op = pick_operation(c, operation_name)) != NULL) {
        *is_mutation = op->operation == TIX_GQL_MUTATION;
        if (*is_mutation && only_query) {
            tix_gql_add_error(c, "method_not_allowed", "Mutations are sent with POST.", op->line,
                              op->col, NULL);
        } else if (tix_gql_coerce_variables(c, op, variables)) {
            *request_error = false;
            const tix_gql_type_def *root = tix_gql_find_type(*is_mutation ? "Mutation" : "Query");
            tix_gql_group *groups = NULL;
            tix_gql_collect(c, op->selections, &groups, NULL);
            json_t *path = json_array();
            json_object_set_new(resp, "data", execute_set(c, root, NULL, groups, path));
            json_decref(path);
        }
    }
    if (json_array_size(c->errors) > 0) {
        json_object_set(resp, "errors", c->errors);
    }
    json_decref(c->errors);
    json_decref(c->variables);
    return resp;
}

/* NOLINTEND(misc-no-recursion) */
