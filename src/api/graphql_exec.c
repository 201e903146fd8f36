/*
 * Validation and execution of a GraphQL document (api/graphql.h; the October 2021 spec,
 * sections 5 "Validation" and 6 "Execution").
 *
 * Validation, before anything runs, over every operation and fragment of the document: fields
 * exist on their type; leaves have no selection and objects have one; arguments exist, the
 * required ones are given, literals have their type; fragments are known, spread on their own
 * type, not cyclic and all used; variables are declared with input types, declared once, used
 * and defined where used; directives are @include/@skip with a Boolean `if`. Then the limits:
 * depth of fields (TIX_GQL_MAX_QUERY_DEPTH), aliases, a cost (each field's table cost times
 * the lists above it) and the number of selections visited with fragments expanded (which
 * bounds a document that spreads the same fragment many times over). A document that fails
 * gets errors and no data.
 *
 * Execution: the operation's root fields run in order (serially, which is what a mutation
 * needs and a query does not mind); each field's arguments are coerced (literals and
 * variables, defaults applied), its resolver (or its parent's member) gives a JSON value, and
 * the value is completed by the field's type: lists item by item, objects by their selection
 * set, a null where the type forbids one becomes an error that nulls the nearest nullable
 * parent (spec 6.4.4). Before the items of a list of objects are completed, the batch
 * functions of their selected fields run once over all of them (N+1).
 */
#include "api/graphql.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Validation, coercion and execution walk the document and the values recursively, as the
 * grammar nests: the parser bounds the nesting (TIX_GQL_MAX_DEPTH), validation bounds the
 * fields (TIX_GQL_MAX_QUERY_DEPTH) and the fragment expansion (MAX_VISITED, no cycles), so the
 * recursion is bounded before execution starts. */
/* NOLINTBEGIN(misc-no-recursion) */

#define MAX_GROUP     32   /* selections merged under one response key */
#define MAX_VISITED   5000 /* selections visited by validation, fragments expanded */
#define LIST_GUESS    20   /* the cost of a list whose size is not known from `first` */
#define MAX_OPERATION 64

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

static void add_error(tix_gql_ctx *c, const char *code, const char *message, int line, int col,
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

/* ---- validation ---- */

typedef struct vstate {
    tix_gql_ctx *c;
    const tix_gql_definition *op; /* the operation being validated (NULL: none) */
    const char *stack[64];        /* fragments being expanded, for cycles */
    int nstack;
    int visited;
    int aliases;
    long cost;
    bool fragment_used[256];
    bool var_used[64];
    bool failed;
} vstate;

__attribute__((format(printf, 4, 5))) static void verr(vstate *v, int line, int col,
                                                       const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_error(v->c, "graphql_validation_failed", tix_arena_strdup(v->c->a, msg), line, col, NULL);
    v->failed = true;
}

static const tix_gql_definition *find_fragment(const tix_gql_document *d, const char *name,
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

static void use_variables(vstate *v, const tix_gql_value *val)
{
    if (val == NULL) {
        return;
    }
    if (val->kind == TIX_GQL_VARIABLE) {
        int i = 0;
        const tix_gql_vardef *d = v->op != NULL ? v->op->variables : NULL;
        for (; d != NULL && strcmp(d->name, val->s) != 0; d = d->next) {
            i++;
        }
        if (d == NULL) {
            verr(v, val->line, val->col, "Variable \"$%s\" is not defined.", val->s);
        } else if (i < 64) {
            v->var_used[i] = true;
        }
        return;
    }
    for (const tix_gql_value *it = val->items; it != NULL; it = it->next) {
        use_variables(v, it); /* NOLINT(misc-no-recursion): bounded by the parser's depth */
    }
    for (const tix_gql_arg *f = val->fields; f != NULL; f = f->next) {
        use_variables(v, f->value); /* NOLINT(misc-no-recursion) */
    }
}

static bool has_variable(const tix_gql_value *val)
{
    if (val->kind == TIX_GQL_VARIABLE) {
        return true;
    }
    for (const tix_gql_value *it = val->items; it != NULL; it = it->next) {
        if (has_variable(it)) { /* NOLINT(misc-no-recursion) */
            return true;
        }
    }
    for (const tix_gql_arg *f = val->fields; f != NULL; f = f->next) {
        if (has_variable(f->value)) { /* NOLINT(misc-no-recursion) */
            return true;
        }
    }
    return false;
}

static json_t *coerce_literal(tix_gql_ctx *c, const tix_gql_value *val, const tix_gql_type *t,
                              const char **why);

static void check_usages(vstate *v, const tix_gql_value *val, const tix_gql_type *loc,
                         bool has_default);

static void check_directives(vstate *v, const tix_gql_directive *d)
{
    for (; d != NULL; d = d->next) {
        if (strcmp(d->name, "include") != 0 && strcmp(d->name, "skip") != 0) {
            verr(v, d->line, d->col, "Unknown directive \"@%s\".", d->name);
            continue;
        }
        if (d->args == NULL || d->args->next != NULL || strcmp(d->args->name, "if") != 0) {
            verr(v, d->line, d->col, "Directive \"@%s\" takes exactly one argument \"if\".",
                 d->name);
            continue;
        }
        use_variables(v, d->args->value);
        const char *why = NULL;
        tix_gql_type nn_of = {TIX_GQL_NAMED, "Boolean", NULL};
        tix_gql_type nn = {TIX_GQL_NON_NULL, NULL, &nn_of};
        check_usages(v, d->args->value, &nn, false);
        if (!has_variable(d->args->value)) {
            json_t *j = coerce_literal(v->c, d->args->value, &nn, &why);
            if (j == NULL) {
                verr(v, d->line, d->col, "Directive \"@%s\": %s", d->name, why);
            }
            json_decref(j);
        }
    }
}

/* AreTypesCompatible (spec 5.8.5): may a variable of type var stand where loc is expected? */
static bool types_compatible(const tix_gql_type *var, const tix_gql_type *loc)
{
    if (loc->kind == TIX_GQL_NON_NULL) {
        return var->kind == TIX_GQL_NON_NULL && types_compatible(var->of, loc->of);
    }
    if (var->kind == TIX_GQL_NON_NULL) {
        return types_compatible(var->of, loc);
    }
    if (loc->kind == TIX_GQL_LIST_TYPE) {
        return var->kind == TIX_GQL_LIST_TYPE && types_compatible(var->of, loc->of);
    }
    return var->kind == TIX_GQL_NAMED && strcmp(var->name, loc->name) == 0;
}

/* One variable val at a position of type loc (has_default: the position has its own). */
static void check_usage(vstate *v, const tix_gql_value *val, const tix_gql_type *loc,
                        bool has_default)
{
    const tix_gql_vardef *d = v->op != NULL ? v->op->variables : NULL;
    while (d != NULL && strcmp(d->name, val->s) != 0) {
        d = d->next;
    }
    if (d == NULL) {
        return; /* undefined: use_variables says so */
    }
    const tix_gql_type *want = loc;
    bool var_default = d->default_value != NULL && d->default_value->kind != TIX_GQL_NULL;
    if (loc->kind == TIX_GQL_NON_NULL && d->type->kind != TIX_GQL_NON_NULL &&
        (var_default || has_default)) {
        want = loc->of;
    }
    if (!types_compatible(d->type, want)) {
        verr(v, val->line, val->col,
             "Variable \"$%s\" is of a type that cannot be used in position expecting %s.", val->s,
             loc->kind == TIX_GQL_NAMED ? loc->name : "another type");
    }
}

/* All Variable Usages Are Allowed (spec 5.8.5): each variable in val (a value at a position
 * of type loc; has_default: the position has a default of its own) has a compatible type. */
static void check_usages(vstate *v, const tix_gql_value *val, const tix_gql_type *loc,
                         bool has_default)
{
    if (val->kind == TIX_GQL_VARIABLE) {
        check_usage(v, val, loc, has_default);
        return;
    }
    const tix_gql_type *t = loc->kind == TIX_GQL_NON_NULL ? loc->of : loc;
    if (val->kind == TIX_GQL_LIST && t->kind == TIX_GQL_LIST_TYPE) {
        for (const tix_gql_value *it = val->items; it != NULL; it = it->next) {
            check_usages(v, it, t->of, false);
        }
    }
}

/* One argument a of field f: known, given once, a literal of its type. */
static void check_arg(vstate *v, const tix_gql_selection *s, const tix_gql_field_def *f,
                      const tix_gql_arg *a)
{
    const tix_gql_arg_def *d = f->args;
    while (d != NULL && d->name != NULL && strcmp(d->name, a->name) != 0) {
        d++;
    }
    for (const tix_gql_arg *b = s->args; b != a; b = b->next) {
        if (strcmp(b->name, a->name) == 0) {
            verr(v, a->line, a->col, "There can be only one argument named \"%s\".", a->name);
        }
    }
    if (d == NULL || d->name == NULL) {
        verr(v, a->line, a->col, "Unknown argument \"%s\" on field \"%s\".", a->name, f->name);
        return;
    }
    use_variables(v, a->value);
    tix_gql_type *loc = tix_gql_type_ref(v->c->a, d->type);
    check_usages(v, a->value, loc, d->default_value != NULL);
    if (!has_variable(a->value)) {
        const char *why = NULL;
        json_t *j = coerce_literal(v->c, a->value, loc, &why);
        if (j == NULL) {
            verr(v, a->line, a->col, "Argument \"%s\": %s", a->name, why);
        }
        json_decref(j);
    }
}

/* Checks a field's arguments against its definition. */
static void check_args(vstate *v, const tix_gql_selection *s, const tix_gql_field_def *f)
{
    for (const tix_gql_arg *a = s->args; a != NULL; a = a->next) {
        check_arg(v, s, f, a);
    }
    for (const tix_gql_arg_def *d = f->args; d != NULL && d->name != NULL; d++) {
        const tix_gql_arg *a = s->args;
        while (a != NULL && strcmp(a->name, d->name) != 0) {
            a = a->next;
        }
        if (a == NULL && d->type[strlen(d->type) - 1] == '!' && d->default_value == NULL) {
            verr(v, s->line, s->col, "Field \"%s\" argument \"%s\" is required.", f->name, d->name);
        }
    }
}

static void check_selections(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *s,
                             int depth, long mult);

/* The list size a field's `first` argument asks for, or LIST_GUESS. */
static long list_size(const tix_gql_selection *s)
{
    for (const tix_gql_arg *a = s->args; a != NULL; a = a->next) {
        if (strcmp(a->name, "first") == 0 && a->value->kind == TIX_GQL_INT) {
            long n = strtol(a->value->s, NULL, 10);
            return n > 0 && n <= 100 ? n : LIST_GUESS;
        }
    }
    return LIST_GUESS;
}

/* Objects need a selection, leaves have none. */
static bool check_leaf(vstate *v, const tix_gql_selection *s, const tix_gql_field_def *f,
                       const tix_gql_type_def *st)
{
    if (st->kind == TIX_GQL_K_OBJECT && s->selections == NULL) {
        verr(v, s->line, s->col, "Field \"%s\" of type \"%s\" must have a selection of subfields.",
             s->name, f->type);
        return false;
    }
    if (st->kind != TIX_GQL_K_OBJECT && s->selections != NULL) {
        verr(v, s->line, s->col,
             "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", s->name,
             f->type);
        return false;
    }
    return true;
}

static void check_field(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *s, int depth,
                        long mult)
{
    if (s->alias != NULL && ++v->aliases > TIX_GQL_MAX_ALIASES) {
        verr(v, s->line, s->col, "The document uses more than %d aliases.", TIX_GQL_MAX_ALIASES);
    }
    if (strcmp(s->name, "__typename") == 0) {
        if (s->selections != NULL || s->args != NULL) {
            verr(v, s->line, s->col, "Field \"__typename\" takes no arguments or selections.");
        }
        return;
    }
    const tix_gql_field_def *f = tix_gql_field(t, s->name);
    if (f == NULL || (strncmp(s->name, "__", 2) == 0 && strcmp(t->name, "Query") != 0)) {
        verr(v, s->line, s->col, "Cannot query field \"%s\" on type \"%s\".", s->name, t->name);
        return;
    }
    check_args(v, s, f);
    const tix_gql_type_def *st =
        tix_gql_find_type(tix_gql_type_name(tix_gql_type_ref(v->c->a, f->type)));
    if (!check_leaf(v, s, f, st)) {
        return;
    }
    /* introspection (graphql-js's own query nests ofType nine deep) does not count: it reads
     * the static tables, never the store */
    bool meta = strncmp(t->name, "__", 2) == 0 || strncmp(s->name, "__", 2) == 0;
    if (!meta && depth + 1 > TIX_GQL_MAX_QUERY_DEPTH) {
        verr(v, s->line, s->col, "The query is nested deeper than %d fields.",
             TIX_GQL_MAX_QUERY_DEPTH);
        return;
    }
    v->cost += (long)f->cost * mult;
    if (strchr(f->type, '[') != NULL) {
        mult = mult * list_size(s);
        mult = mult > 1000000 ? 1000000 : mult;
    }
    if (s->selections != NULL) {
        /* NOLINTNEXTLINE(misc-no-recursion) */
        check_selections(v, st, s->selections, meta ? depth : depth + 1, mult);
    }
}

static void check_spread(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *s,
                         int depth, long mult)
{
    int index = 0;
    const tix_gql_definition *f = find_fragment(v->c->doc, s->name, &index);
    if (f == NULL) {
        verr(v, s->line, s->col, "Unknown fragment \"%s\".", s->name);
        return;
    }
    if (index < 256) {
        v->fragment_used[index] = true;
    }
    for (int i = 0; i < v->nstack; i++) {
        if (strcmp(v->stack[i], s->name) == 0) {
            verr(v, s->line, s->col, "Cannot spread fragment \"%s\" within itself.", s->name);
            return;
        }
    }
    if (strcmp(f->type_cond, t->name) != 0) {
        verr(v, s->line, s->col, "Fragment \"%s\" cannot be spread here: it is on \"%s\".", s->name,
             f->type_cond);
        return;
    }
    if (v->nstack == 64) {
        verr(v, s->line, s->col, "Fragments are nested too deeply.");
        return;
    }
    check_directives(v, f->directives);
    v->stack[v->nstack++] = s->name;
    check_selections(v, t, f->selections, depth, mult); /* NOLINT(misc-no-recursion) */
    v->nstack--;
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by the parser's depth and MAX_VISITED */
static void check_selections(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *s,
                             int depth, long mult)
{
    for (; s != NULL; s = s->next) {
        if (++v->visited > MAX_VISITED) {
            if (v->visited == MAX_VISITED + 1) {
                verr(v, s->line, s->col,
                     "The document is too complex (more than %d selections with its fragments "
                     "expanded).",
                     MAX_VISITED);
            }
            return;
        }
        check_directives(v, s->directives);
        if (s->kind == TIX_GQL_FIELD) {
            check_field(v, t, s, depth, mult);
        } else if (s->kind == TIX_GQL_FRAGMENT_SPREAD) {
            check_spread(v, t, s, depth, mult);
        } else if (s->type_cond != NULL && strcmp(s->type_cond, t->name) != 0) {
            verr(v, s->line, s->col, "Fragment on \"%s\" cannot be spread on type \"%s\".",
                 s->type_cond, t->name);
        } else {
            check_selections(v, t, s->selections, depth, mult);
        }
    }
}

static void check_variable_defs(vstate *v, const tix_gql_definition *op)
{
    for (const tix_gql_vardef *d = op->variables; d != NULL; d = d->next) {
        for (const tix_gql_vardef *e = op->variables; e != d; e = e->next) {
            if (strcmp(e->name, d->name) == 0) {
                verr(v, d->line, d->col, "There can be only one variable named \"$%s\".", d->name);
            }
        }
        const tix_gql_type_def *t = tix_gql_find_type(tix_gql_type_name(d->type));
        if (t == NULL || t->kind == TIX_GQL_K_OBJECT) {
            verr(v, d->line, d->col,
                 "Variable \"$%s\" cannot be of type \"%s\" (not an input "
                 "type).",
                 d->name, tix_gql_type_name(d->type));
        } else if (d->default_value != NULL) {
            const char *why = NULL;
            json_t *j = coerce_literal(v->c, d->default_value, d->type, &why);
            if (j == NULL) {
                verr(v, d->line, d->col, "Variable \"$%s\" default value: %s", d->name, why);
            }
            json_decref(j);
        }
        check_directives(v, d->directives);
    }
}

/* ---- OverlappingFieldsCanBeMerged (spec 5.3.2), simplified to object types only: the fields
 * of one response key in a selection set (fragments expanded, directives ignored) must be the
 * same field with the same arguments, and their sub-selections must merge in turn. ---- */

typedef struct mgroup {
    const char *key;
    const tix_gql_selection *nodes[MAX_GROUP];
    int n;
    struct mgroup *next;
} mgroup;

static bool values_equal(const tix_gql_value *a, const tix_gql_value *b)
{
    bool same_text = a->s == NULL ? b->s == NULL : b->s != NULL && strcmp(a->s, b->s) == 0;
    if (a->kind != b->kind || a->b != b->b || !same_text) {
        return false;
    }
    const tix_gql_value *x = a->items;
    const tix_gql_value *y = b->items;
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        if (!values_equal(x, y)) {
            return false;
        }
    }
    if (x != NULL || y != NULL) {
        return false;
    }
    const tix_gql_arg *p = a->fields;
    const tix_gql_arg *q = b->fields;
    for (; p != NULL && q != NULL; p = p->next, q = q->next) {
        if (strcmp(p->name, q->name) != 0 || !values_equal(p->value, q->value)) {
            return false;
        }
    }
    return p == NULL && q == NULL;
}

static int arg_count(const tix_gql_arg *a)
{
    int n = 0;
    for (; a != NULL; a = a->next) {
        n++;
    }
    return n;
}

static bool args_equal(const tix_gql_arg *a, const tix_gql_arg *b)
{
    if (arg_count(a) != arg_count(b)) {
        return false;
    }
    for (; a != NULL; a = a->next) {
        const tix_gql_arg *o = b;
        while (o != NULL && strcmp(o->name, a->name) != 0) {
            o = o->next;
        }
        if (o == NULL || !values_equal(a->value, o->value)) {
            return false;
        }
    }
    return true;
}

static void merge_add(vstate *v, const tix_gql_selection *s, mgroup **first)
{
    const char *key = s->alias != NULL ? s->alias : s->name;
    mgroup **g = first;
    while (*g != NULL && strcmp((*g)->key, key) != 0) {
        g = &(*g)->next;
    }
    if (*g == NULL) {
        *g = tix_arena_calloc(v->c->a, sizeof **g);
        (*g)->key = key;
    }
    if ((*g)->n < MAX_GROUP) {
        (*g)->nodes[(*g)->n++] = s;
    }
}

static void merge_collect(vstate *v, const tix_gql_selection *s, mgroup **first)
{
    for (; s != NULL && v->visited <= MAX_VISITED; s = s->next) {
        v->visited++;
        if (s->kind == TIX_GQL_FIELD) {
            merge_add(v, s, first);
        } else if (s->kind == TIX_GQL_INLINE_FRAGMENT) {
            merge_collect(v, s->selections, first);
        } else {
            int index = 0;
            const tix_gql_definition *f = find_fragment(v->c->doc, s->name, &index);
            if (f != NULL) {
                merge_collect(v, f->selections, first);
            }
        }
    }
}

static void check_merge(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *const *heads,
                        int nheads)
{
    mgroup *groups = NULL;
    for (int i = 0; i < nheads; i++) {
        merge_collect(v, heads[i], &groups);
    }
    for (mgroup *g = groups; g != NULL; g = g->next) {
        const tix_gql_selection *a = g->nodes[0];
        for (int i = 1; i < g->n; i++) {
            const tix_gql_selection *b = g->nodes[i];
            if (strcmp(a->name, b->name) != 0 || !args_equal(a->args, b->args)) {
                verr(v, b->line, b->col,
                     "Fields \"%s\" conflict because they are different fields or have different "
                     "arguments.",
                     g->key);
                return;
            }
        }
        const tix_gql_field_def *f = tix_gql_field(t, a->name);
        const tix_gql_type_def *st =
            f != NULL ? tix_gql_find_type(tix_gql_type_name(tix_gql_type_ref(v->c->a, f->type)))
                      : NULL;
        if (st != NULL && st->kind == TIX_GQL_K_OBJECT && strncmp(st->name, "__", 2) != 0) {
            const tix_gql_selection *subs[MAX_GROUP];
            for (int i = 0; i < g->n; i++) {
                subs[i] = g->nodes[i]->selections;
            }
            check_merge(v, st, subs, g->n);
        }
    }
}

static void check_operation(vstate *v, const tix_gql_definition *op)
{
    v->op = op;
    memset(v->var_used, 0, sizeof v->var_used);
    v->aliases = 0;
    v->cost = 0;
    check_variable_defs(v, op);
    check_directives(v, op->directives);
    const tix_gql_type_def *root =
        tix_gql_find_type(op->operation == TIX_GQL_MUTATION ? "Mutation" : "Query");
    if (op->operation == TIX_GQL_SUBSCRIPTION) {
        verr(v, op->line, op->col, "Subscriptions are not supported.");
        return;
    }
    check_selections(v, root, op->selections, 0, 1);
    if (!v->failed) { /* on a document that is otherwise valid: fragments known, no cycles */
        const tix_gql_selection *heads[1] = {op->selections};
        v->visited = 0; /* a budget of its own, as large as the first walk's */
        check_merge(v, root, heads, 1);
    }
    int i = 0;
    for (const tix_gql_vardef *d = op->variables; d != NULL && i < 64; d = d->next, i++) {
        if (!v->var_used[i]) {
            verr(v, d->line, d->col, "Variable \"$%s\" is never used%s.", d->name,
                 op->name != NULL ? tix_arena_sprintf(v->c->a, " in operation \"%s\"", op->name)
                                  : "");
        }
    }
    if (v->cost > TIX_GQL_MAX_COST) {
        char msg[120];
        snprintf(msg, sizeof msg, "The query costs %ld, more than the limit of %d.", v->cost,
                 TIX_GQL_MAX_COST);
        add_error(v->c, "graphql_query_too_costly", tix_arena_strdup(v->c->a, msg), op->line,
                  op->col, NULL);
        v->failed = true;
    }
}

static void check_names(vstate *v, const tix_gql_document *d)
{
    int anonymous = 0;
    int ops = 0;
    for (const tix_gql_definition *a = d->definitions; a != NULL; a = a->next) {
        if (a->kind == TIX_GQL_OPERATION_DEF) {
            ops++;
            anonymous += a->name == NULL;
        }
        for (const tix_gql_definition *b = d->definitions; b != a; b = b->next) {
            if (a->name != NULL && b->name != NULL && a->kind == b->kind &&
                strcmp(a->name, b->name) == 0) {
                verr(v, a->line, a->col, "There can be only one %s named \"%s\".",
                     a->kind == TIX_GQL_FRAGMENT_DEF ? "fragment" : "operation", a->name);
            }
        }
    }
    if (anonymous > 0 && ops > 1) {
        verr(v, 1, 1, "An anonymous operation must be the only operation of the document.");
    }
    if (ops == 0 || ops > MAX_OPERATION) {
        verr(v, 1, 1, "The document must have from 1 to 64 operations.");
    }
}

static bool validate(tix_gql_ctx *c)
{
    vstate *v = tix_arena_calloc(c->a, sizeof *v);
    v->c = c;
    check_names(v, c->doc);
    for (const tix_gql_definition *d = c->doc->definitions; d != NULL; d = d->next) {
        if (d->kind == TIX_GQL_OPERATION_DEF) {
            check_operation(v, d);
        }
    }
    v->op = NULL;
    int i = 0;
    for (const tix_gql_definition *d = c->doc->definitions; d != NULL; d = d->next) {
        if (d->kind != TIX_GQL_FRAGMENT_DEF) {
            continue;
        }
        if (tix_gql_find_type(d->type_cond) == NULL ||
            tix_gql_find_type(d->type_cond)->kind != TIX_GQL_K_OBJECT) {
            verr(v, d->line, d->col, "Fragment \"%s\" is on unknown type \"%s\".", d->name,
                 d->type_cond);
        } else if (i < 256 && !v->fragment_used[i]) {
            verr(v, d->line, d->col, "Fragment \"%s\" is never used.", d->name);
        }
        i++;
    }
    return !v->failed;
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
static json_t *coerce_literal(tix_gql_ctx *c, const tix_gql_value *val, const tix_gql_type *t,
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
        return coerce_literal(c, val, t->of, why);
    }
    if (val->kind == TIX_GQL_NULL) {
        return json_null();
    }
    if (t->kind == TIX_GQL_LIST_TYPE) {
        json_t *list = json_array();
        if (val->kind != TIX_GQL_LIST) {
            json_t *one = coerce_literal(c, val, t->of, why);
            return one != NULL && json_array_append_new(list, one) == 0 ? list
                                                                        : (json_decref(list), NULL);
        }
        for (const tix_gql_value *it = val->items; it != NULL; it = it->next) {
            json_t *one = coerce_literal(c, it, t->of, why);
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
static bool coerce_variables(tix_gql_ctx *c, const tix_gql_definition *op, json_t *given)
{
    c->variables = json_object();
    for (const tix_gql_vardef *d = op->variables; d != NULL; d = d->next) {
        json_t *j = json_object_get(given, d->name);
        const char *why = NULL;
        json_t *v = NULL;
        if (j != NULL) {
            v = coerce_json(c, j, d->type, &why);
        } else if (d->default_value != NULL) {
            v = coerce_literal(c, d->default_value, d->type, &why);
        } else if (d->type->kind == TIX_GQL_NON_NULL) {
            why = "a value is required";
        } else {
            continue;
        }
        if (v == NULL) {
            add_error(c, "graphql_variable_invalid",
                      tix_arena_sprintf(c->a, "Variable \"$%s\": %s.", d->name, why), d->line,
                      d->col, NULL);
            return false;
        }
        json_object_set_new(c->variables, d->name, v);
    }
    return true;
}

/* The field's arguments as an object, defaults applied; NULL with *why. */
static json_t *field_args(tix_gql_ctx *c, const tix_gql_field_def *f, const tix_gql_selection *s,
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
            v = coerce_literal(c, a->value, t, why);
        } else if (d->default_value != NULL) {
            /* the table's default is GraphQL text: parsed as the argument of a tiny document */
            const char *text = tix_arena_sprintf(c->a, "{f(a:%s)}", d->default_value);
            tix_gql_document *dv = tix_gql_parse(c->a, text, strlen(text), NULL, NULL);
            v = dv != NULL ? coerce_literal(c, dv->definitions->selections->args->value, t, why)
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

/* ---- execution ---- */

typedef struct group {
    const char *key;
    const tix_gql_selection *nodes[MAX_GROUP];
    int n;
    struct group *next;
} group;

static bool directive_if(tix_gql_ctx *c, const tix_gql_directive *d)
{
    const char *why = NULL;
    tix_gql_type b = {TIX_GQL_NAMED, "Boolean", NULL};
    json_t *j = coerce_literal(c, d->args->value, &b, &why);
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

static void add_to_group(tix_gql_ctx *c, group **first, const tix_gql_selection *s)
{
    const char *key = s->alias != NULL ? s->alias : s->name;
    group **g = first;
    while (*g != NULL && strcmp((*g)->key, key) != 0) {
        g = &(*g)->next;
    }
    if (*g == NULL) {
        *g = tix_arena_calloc(c->a, sizeof **g);
        (*g)->key = key;
    }
    if ((*g)->n < MAX_GROUP) {
        (*g)->nodes[(*g)->n++] = s;
    }
}

/* CollectFields (spec 6.3.2) of one selection set into *first. Validation has checked the
 * fragments exist, are on this type and do not cycle. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by the validated document */
static void collect(tix_gql_ctx *c, const tix_gql_selection *s, group **first)
{
    for (; s != NULL; s = s->next) {
        if (!included(c, s->directives)) {
            continue;
        }
        if (s->kind == TIX_GQL_FIELD) {
            add_to_group(c, first, s);
        } else if (s->kind == TIX_GQL_INLINE_FRAGMENT) {
            collect(c, s->selections, first);
        } else {
            int index = 0;
            const tix_gql_definition *f = find_fragment(c->doc, s->name, &index);
            if (f != NULL && included(c, f->directives)) {
                collect(c, f->selections, first);
            }
        }
    }
}

/* The merged sub-selections of a group's nodes, collected. */
static group *sub_groups(tix_gql_ctx *c, const group *g)
{
    group *first = NULL;
    for (int i = 0; i < g->n; i++) {
        collect(c, g->nodes[i]->selections, &first);
    }
    return first;
}

static json_t *execute_set(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *parent, group *groups,
                           json_t *path);

static void field_error(tix_gql_ctx *c, const group *g, json_t *path)
{
    add_error(c, c->fail_code != NULL ? c->fail_code : "internal",
              c->fail_message != NULL ? c->fail_message : "internal error", g->nodes[0]->line,
              g->nodes[0]->col, path);
    c->fail_code = NULL;
    c->fail_message = NULL;
}

/* Runs the batch functions of the fields selected on a list of objects, once for all items. */
static void run_batches(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *items, group *subs)
{
    for (group *g = subs; g != NULL; g = g->next) {
        const tix_gql_field_def *f = tix_gql_field(t, g->nodes[0]->name);
        if (f != NULL && f->batch != NULL) {
            const char *why = NULL;
            json_t *args = field_args(c, f, g->nodes[0], &why);
            f->batch(c, items, args);
            json_decref(args);
        }
    }
}

static json_t *complete(tix_gql_ctx *c, const tix_gql_type *t, const group *g, json_t *value,
                        json_t *path);

/* A list value completed item by item (spec 6.4.3 step 3), after the batch functions of its
 * objects' fields ran once over all of them. */
static json_t *complete_list(tix_gql_ctx *c, const tix_gql_type *t, const group *g, json_t *value,
                             json_t *path)
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
static json_t *complete(tix_gql_ctx *c, const tix_gql_type *t, const group *g, json_t *value,
                        json_t *path)
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
                             const group *g, json_t *path)
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
    json_t *args = field_args(c, f, s, &why);
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
static json_t *execute_set(tix_gql_ctx *c, const tix_gql_type_def *t, json_t *parent, group *groups,
                           json_t *path)
{
    json_t *out = json_object();
    for (group *g = groups; g != NULL; g = g->next) {
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
        add_error(c, "graphql_operation_unknown",
                  "The document has several operations: name one with operationName.", 0, 0, NULL);
        return NULL;
    }
    if (found == NULL) {
        add_error(c, "graphql_operation_unknown",
                  tix_arena_sprintf(c->a, "Unknown operation named \"%s\".", name ? name : ""), 0,
                  0, NULL);
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
    if (validate(c) && (op = pick_operation(c, operation_name)) != NULL) {
        *is_mutation = op->operation == TIX_GQL_MUTATION;
        if (*is_mutation && only_query) {
            add_error(c, "method_not_allowed", "Mutations are sent with POST.", op->line, op->col,
                      NULL);
        } else if (coerce_variables(c, op, variables)) {
            *request_error = false;
            const tix_gql_type_def *root = tix_gql_find_type(*is_mutation ? "Mutation" : "Query");
            group *groups = NULL;
            collect(c, op->selections, &groups);
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
