/*
 * What the stages of a GraphQL request share (api/graphql_ctx.h): the context's error list and
 * the failures resolvers report, the coercion of input values (spec 6.1.2 and 6.4.1: literals,
 * variables, defaults) and CollectFields (spec 6.3.2). Validation (api/graphql_validate.c) and
 * execution (api/graphql_exec.c) both stand on this file and it on neither, so execution can
 * run validation first without the two calling into each other.
 *
 * Memory: the context lives in the request's arena; jansson values follow jansson's reference
 * counting, as graphql.h says.
 */
#include "api/graphql_ctx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Coercion and field collection walk the values and the selections recursively, as the grammar
 * nests: the parser bounds the nesting (TIX_GQL_MAX_DEPTH), validation the fragment expansion
 * (TIX_GQL_MAX_VISITED, no cycles) before execution collects, and jansson the depth of a
 * variable's JSON. */
/* NOLINTBEGIN(misc-no-recursion) */

/* ---- errors ---- */

static json_t *error_object(const char *code, const char *message, int line, int col, json_t *path)
{
    json_t *e = json_pack("{s:s}", "message", message);
    if (line > 0) {
        json_object_set_new(e, "locations", json_pack("[{s:i,s:i}]", "line", line, "column", col));
    }
    if (path != NULL) {
        json_object_set_new(e, "path", json_deep_copy(path));
    }
    json_object_set_new(e, "extensions", json_pack("{s:s}", "code", code));
    return e;
}

json_t *tix_gql_request_error(const char *code, const char *message, int line, int col)
{
    return json_pack("{s:[o]}", "errors", error_object(code, message, line, col, NULL));
}

void tix_gql_add_error(tix_gql_ctx *c, const char *code, const char *message, int line, int col,
                       json_t *path)
{
    if (json_array_size(c->errors) < TIX_GQL_MAX_ERRORS) {
        json_array_append_new(c->errors, error_object(code, message, line, col, path));
    }
}

json_t *tix_gql_fail(tix_gql_ctx *c, const char *code, const char *message)
{
    c->fail_code = code;
    c->fail_message = message;
    return NULL;
}

json_t *tix_gql_fail_rc(tix_gql_ctx *c, tix_rc rc)
{
    switch (rc) {
    case TIX_EINVAL:
        return tix_gql_fail(c, "validation_failed", "the request is not valid");
    case TIX_ENOTFOUND:
        return tix_gql_fail(c, "not_found", "not found");
    case TIX_ECONFLICT:
        return tix_gql_fail(c, "conflict", "the request conflicts with the current state");
    case TIX_EAUTH:
        return tix_gql_fail(c, "unauthorized", "authentication required");
    case TIX_EFORBIDDEN:
        return tix_gql_fail(c, "forbidden", "you may not do this");
    case TIX_EUNAVAIL:
    case TIX_EBUSY:
        return tix_gql_fail(c, "unavailable", "a dependency is unavailable; retry shortly");
    case TIX_EUPSTREAM:
        return tix_gql_fail(c, "upstream_error", "a provider failed; retry shortly");
    default:
        return tix_gql_fail(c, "internal", "internal error");
    }
}

tix_db *tix_gql_db(tix_gql_ctx *c)
{
    if (c->db == NULL) {
        c->db = tix_req_db(c->r);
        if (c->db == NULL) {
            /* tix_req_db answered 503 on the request: take that answer back, the GraphQL
             * response carries the failure as an error */
            c->r->status = 0;
            c->r->resp = NULL;
            c->r->resp_len = 0;
            tix_gql_fail(c, "unavailable", "a dependency is unavailable; retry shortly");
        }
    }
    return c->db;
}

/* ---- coercion of input values ---- */

static json_t *coerce_named(const char *name, const tix_gql_value *val, const char **why)
{
    if (strcmp(name, "Int") == 0 && val->kind == TIX_GQL_INT) {
        errno = 0;
        long long n = strtoll(val->s, NULL, 10);
        if (errno == 0 && n >= INT32_MIN && n <= INT32_MAX) {
            return json_integer(n);
        }
        *why = "Int cannot represent a value outside 32 bits";
        return NULL;
    }
    if ((strcmp(name, "String") == 0 || strcmp(name, "ID") == 0) && val->kind == TIX_GQL_STRING) {
        return json_string(val->s);
    }
    if (strcmp(name, "ID") == 0 && val->kind == TIX_GQL_INT) {
        return json_string(val->s);
    }
    if (strcmp(name, "Boolean") == 0 && val->kind == TIX_GQL_BOOLEAN) {
        return json_boolean(val->b);
    }
    *why = "the value does not have the argument's type";
    return NULL;
}

static json_t *coerce_json(tix_gql_ctx *c, json_t *j, const tix_gql_type *t, const char **why);
static json_t *coerce_json_scalar(tix_gql_ctx *c, json_t *j, const char *n, const char **why);

/* A literal as a value of type t (variables read from c->variables, already coerced); NULL
 * with *why when it cannot be. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by the parser's depth */
json_t *tix_gql_coerce_literal(tix_gql_ctx *c, const tix_gql_value *val, const tix_gql_type *t,
                               const char **why)
{
    if (val->kind == TIX_GQL_VARIABLE) {
        json_t *j = json_object_get(c->variables, val->s);
        return coerce_json(c, j != NULL ? j : json_null(), t, why);
    }
    if (t->kind == TIX_GQL_NON_NULL) {
        if (val->kind == TIX_GQL_NULL) {
            *why = "a non-null value is required";
            return NULL;
        }
        return tix_gql_coerce_literal(c, val, t->of, why);
    }
    if (val->kind == TIX_GQL_NULL) {
        return json_null();
    }
    if (t->kind == TIX_GQL_LIST_TYPE) {
        json_t *list = json_array();
        if (val->kind != TIX_GQL_LIST) {
            json_t *one = tix_gql_coerce_literal(c, val, t->of, why);
            return one != NULL && json_array_append_new(list, one) == 0 ? list
                                                                        : (json_decref(list), NULL);
        }
        for (const tix_gql_value *it = val->items; it != NULL; it = it->next) {
            json_t *one = tix_gql_coerce_literal(c, it, t->of, why);
            if (one == NULL) {
                json_decref(list);
                return NULL;
            }
            json_array_append_new(list, one);
        }
        return list;
    }
    return coerce_named(t->name, val, why);
}

/* A variable's JSON list as the list type t (one value becomes a list of one). */
static json_t *coerce_json_list(tix_gql_ctx *c, json_t *j, const tix_gql_type *t, const char **why)
{
    if (!json_is_array(j)) {
        json_t *one = coerce_json(c, j, t->of, why);
        return one != NULL ? json_pack("[o]", one) : NULL;
    }
    json_t *list = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(j, i, it)
    {
        json_t *one = coerce_json(c, it, t->of, why);
        if (one == NULL) {
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, one);
    }
    return list;
}

/* A variable's JSON value as type t. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by jansson's parse depth */
static json_t *coerce_json(tix_gql_ctx *c, json_t *j, const tix_gql_type *t, const char **why)
{
    if (t->kind == TIX_GQL_NON_NULL) {
        if (json_is_null(j)) {
            *why = "a non-null value is required";
            return NULL;
        }
        return coerce_json(c, j, t->of, why);
    }
    if (json_is_null(j)) {
        return json_null();
    }
    if (t->kind == TIX_GQL_LIST_TYPE) {
        return coerce_json_list(c, j, t, why);
    }
    return coerce_json_scalar(c, j, t->name, why);
}

/* A variable's JSON scalar as the named type n. */
static json_t *coerce_json_scalar(tix_gql_ctx *c, json_t *j, const char *n, const char **why)
{
    if (strcmp(n, "Int") == 0 && json_is_integer(j) && json_integer_value(j) >= INT32_MIN &&
        json_integer_value(j) <= INT32_MAX) {
        return json_incref(j);
    }
    if ((strcmp(n, "String") == 0 || strcmp(n, "ID") == 0) && json_is_string(j)) {
        return json_incref(j);
    }
    if (strcmp(n, "ID") == 0 && json_is_integer(j)) {
        return json_string(tix_arena_sprintf(c->a, "%lld", (long long)json_integer_value(j)));
    }
    if (strcmp(n, "Boolean") == 0 && json_is_boolean(j)) {
        return json_incref(j);
    }
    *why = "the value does not have the variable's type";
    return NULL;
}

/* Coerces the operation's variables (spec 6.1.2) into c->variables; false with an error. */
bool tix_gql_coerce_variables(tix_gql_ctx *c, const tix_gql_definition *op, json_t *given)
{
    c->variables = json_object();
    for (const tix_gql_vardef *d = op->variables; d != NULL; d = d->next) {
        json_t *j = json_object_get(given, d->name);
        const char *why = NULL;
        json_t *v = NULL;
        if (j != NULL) {
            v = coerce_json(c, j, d->type, &why);
        } else if (d->default_value != NULL) {
            v = tix_gql_coerce_literal(c, d->default_value, d->type, &why);
        } else if (d->type->kind == TIX_GQL_NON_NULL) {
            why = "a value is required";
        } else {
            continue;
        }
        if (v == NULL) {
            tix_gql_add_error(c, "graphql_variable_invalid",
                              tix_arena_sprintf(c->a, "Variable \"$%s\": %s.", d->name, why),
                              d->line, d->col, NULL);
            return false;
        }
        json_object_set_new(c->variables, d->name, v);
    }
    return true;
}

/* The field's arguments as an object, defaults applied; NULL with *why. */
json_t *tix_gql_field_args(tix_gql_ctx *c, const tix_gql_field_def *f, const tix_gql_selection *s,
                           const char **why)
{
    json_t *out = json_object();
    for (const tix_gql_arg_def *d = f->args; d != NULL && d->name != NULL; d++) {
        const tix_gql_arg *a = s->args;
        while (a != NULL && strcmp(a->name, d->name) != 0) {
            a = a->next;
        }
        tix_gql_type *t = tix_gql_type_ref(c->a, d->type);
        json_t *v = NULL;
        if (a != NULL && !(a->value->kind == TIX_GQL_VARIABLE &&
                           json_object_get(c->variables, a->value->s) == NULL)) {
            v = tix_gql_coerce_literal(c, a->value, t, why);
        } else if (d->default_value != NULL) {
            /* the table's default is GraphQL text: parsed as the argument of a tiny document */
            const char *text = tix_arena_sprintf(c->a, "{f(a:%s)}", d->default_value);
            tix_gql_document *dv = tix_gql_parse(c->a, text, strlen(text), NULL, NULL);
            v = dv != NULL
                    ? tix_gql_coerce_literal(c, dv->definitions->selections->args->value, t, why)
                    : NULL;
        } else if (t->kind == TIX_GQL_NON_NULL) {
            *why = tix_arena_sprintf(c->a, "argument \"%s\" is required", d->name);
        } else {
            continue;
        }
        if (v == NULL) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, d->name, v);
    }
    return out;
}

/* ---- field collection ---- */

static bool directive_if(tix_gql_ctx *c, const tix_gql_directive *d)
{
    const char *why = NULL;
    tix_gql_type b = {TIX_GQL_NAMED, "Boolean", NULL};
    json_t *j = tix_gql_coerce_literal(c, d->args->value, &b, &why);
    bool v = json_is_true(j);
    json_decref(j);
    return v;
}

static bool included(tix_gql_ctx *c, const tix_gql_directive *d)
{
    for (; d != NULL; d = d->next) {
        if (strcmp(d->name, "skip") == 0 && directive_if(c, d)) {
            return false;
        }
        if (strcmp(d->name, "include") == 0 && !directive_if(c, d)) {
            return false;
        }
    }
    return true;
}

static void add_to_group(tix_gql_ctx *c, tix_gql_group **first, const tix_gql_selection *s)
{
    const char *key = s->alias != NULL ? s->alias : s->name;
    tix_gql_group **g = first;
    while (*g != NULL && strcmp((*g)->key, key) != 0) {
        g = &(*g)->next;
    }
    if (*g == NULL) {
        *g = tix_arena_calloc(c->a, sizeof **g);
        (*g)->key = key;
    }
    if ((*g)->n < TIX_GQL_MAX_GROUP) {
        (*g)->nodes[(*g)->n++] = s;
    }
}

const tix_gql_definition *tix_gql_find_fragment(const tix_gql_document *d, const char *name,
                                                int *index)
{
    int i = 0;
    for (const tix_gql_definition *f = d->definitions; f != NULL; f = f->next) {
        if (f->kind == TIX_GQL_FRAGMENT_DEF) {
            if (strcmp(f->name, name) == 0) {
                *index = i;
                return f;
            }
            i++;
        }
    }
    return NULL;
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by the validated document, or by *visited */
void tix_gql_collect(tix_gql_ctx *c, const tix_gql_selection *s, tix_gql_group **first,
                     int *visited)
{
    for (; s != NULL && (visited == NULL || *visited <= TIX_GQL_MAX_VISITED); s = s->next) {
        if (visited != NULL) {
            (*visited)++; /* validation: every selection counts, directives are not applied */
        } else if (!included(c, s->directives)) {
            continue;
        }
        if (s->kind == TIX_GQL_FIELD) {
            add_to_group(c, first, s);
        } else if (s->kind == TIX_GQL_INLINE_FRAGMENT) {
            tix_gql_collect(c, s->selections, first, visited);
        } else {
            int index = 0;
            const tix_gql_definition *f = tix_gql_find_fragment(c->doc, s->name, &index);
            if (f != NULL && (visited != NULL || included(c, f->directives))) {
                tix_gql_collect(c, f->selections, first, visited);
            }
        }
    }
}

/* NOLINTEND(misc-no-recursion) */
