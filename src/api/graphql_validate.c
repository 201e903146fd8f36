/*
 * Validation of a GraphQL document against the schema's tables (api/graphql.h; the October 2021
 * spec, section 5 "Validation"), before anything runs, over every operation and fragment of the
 * document: fields exist on their type; leaves have no selection and objects have one;
 * arguments exist, the required ones are given, literals have their type; fragments are known,
 * spread on their own type, not cyclic and all used; variables are declared with input types,
 * declared once, used and defined where used, and used where their type is allowed; directives
 * are @include/@skip with a Boolean `if`; the fields of one response key can be merged (spec
 * 5.3.2, object types only). Then the limits: depth of fields (TIX_GQL_MAX_QUERY_DEPTH),
 * aliases, a cost (each field's table cost times the lists above it) and the number of
 * selections visited with fragments expanded (which bounds a document that spreads the same
 * fragment many times over). A document that fails gets errors and no data (api/graphql_exec.c
 * runs only a valid one).
 *
 * One walk per operation (check_selections, fragments expanded as they are spread) carries the
 * state of vstate: the fragments being expanded (cycles), the variables used, the counts for the
 * limits. The merge check walks again, on a budget of its own, with the executor's CollectFields
 * (tix_gql_collect, api/graphql_ctx.h), so it groups fields exactly as execution will.
 *
 * Memory: the state and the messages live in the request's arena (c->a).
 */
#include "api/graphql_ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Validation walks the document recursively, as the grammar nests: the parser bounds the
 * nesting (TIX_GQL_MAX_DEPTH), and the walk bounds the fields (TIX_GQL_MAX_QUERY_DEPTH) and the
 * fragment expansion (TIX_GQL_MAX_VISITED, no cycles). */
/* NOLINTBEGIN(misc-no-recursion) */

#define LIST_GUESS    20 /* the cost of a list whose size is not known from `first` */
#define MAX_OPERATION 64

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
    /* va_start is the line above: clang 14's valist checker reports it uninitialized when it
     * analyses this file beside others (a false report) */
    vsnprintf(msg, sizeof msg, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    tix_gql_add_error(v->c, "graphql_validation_failed", tix_arena_strdup(v->c->a, msg), line, col,
                      NULL);
    v->failed = true;
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
            json_t *j = tix_gql_coerce_literal(v->c, d->args->value, &nn, &why);
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
        json_t *j = tix_gql_coerce_literal(v->c, a->value, loc, &why);
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
    const tix_gql_definition *f = tix_gql_find_fragment(v->c->doc, s->name, &index);
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

/* NOLINTNEXTLINE(misc-no-recursion): bounded by the parser's depth and TIX_GQL_MAX_VISITED */
static void check_selections(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *s,
                             int depth, long mult)
{
    for (; s != NULL; s = s->next) {
        if (++v->visited > TIX_GQL_MAX_VISITED) {
            if (v->visited == TIX_GQL_MAX_VISITED + 1) {
                verr(v, s->line, s->col,
                     "The document is too complex (more than %d selections with its fragments "
                     "expanded).",
                     TIX_GQL_MAX_VISITED);
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
            json_t *j = tix_gql_coerce_literal(v->c, d->default_value, d->type, &why);
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

static void check_merge(vstate *v, const tix_gql_type_def *t, const tix_gql_selection *const *heads,
                        int nheads)
{
    tix_gql_group *groups = NULL;
    for (int i = 0; i < nheads; i++) {
        tix_gql_collect(v->c, heads[i], &groups, &v->visited);
    }
    for (tix_gql_group *g = groups; g != NULL; g = g->next) {
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
            const tix_gql_selection *subs[TIX_GQL_MAX_GROUP];
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
        tix_gql_add_error(v->c, "graphql_query_too_costly", tix_arena_strdup(v->c->a, msg),
                          op->line, op->col, NULL);
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

bool tix_gql_validate(tix_gql_ctx *c)
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

/* NOLINTEND(misc-no-recursion) */
