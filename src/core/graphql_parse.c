/*
 * The GraphQL parser (graphql_parse.h). One pass: the parser pulls one token at a time from the
 * lexer (core/graphql_lex.c; one token of lookahead is all the grammar of executable documents
 * needs) and builds the tree in the caller's arena.
 *
 * Errors leave through longjmp to tix_gql_parse: the tree is arena-owned, so nothing needs
 * unwinding, and the recursive functions stay short. No local of tix_gql_parse is changed between
 * setjmp and longjmp.
 *
 * Positions: every node carries the line and column of its first token, as the lexer gives them.
 */
#include "core/graphql_lex.h"

#include <string.h>

/* ---- parser helpers ---- */

static const char *describe(const tok *t)
{
    switch (t->kind) {
    case T_EOF:
        return "the end of the document";
    case T_NAME:
        return "a name";
    case T_INT:
    case T_FLOAT:
        return "a number";
    case T_STRING:
        return "a string";
    default:
        return "punctuation";
    }
}

static bool is_punct(const tix_gql_parser *p, char c)
{
    return p->t.kind == T_PUNCT && p->t.punct == c;
}

static bool is_keyword(const tix_gql_parser *p, const char *kw)
{
    return p->t.kind == T_NAME && p->t.len == strlen(kw) && memcmp(p->t.start, kw, p->t.len) == 0;
}

static void expect(tix_gql_parser *p, char c)
{
    if (!is_punct(p, c)) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "expected '%s', found %s",
                        c == '.' ? "..." : (char[]){c, 0}, describe(&p->t));
    }
    tix_gql_next(p);
}

static const char *name(tix_gql_parser *p)
{
    if (p->t.kind != T_NAME) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "expected a name, found %s", describe(&p->t));
    }
    const char *s = tix_arena_strndup(p->a, p->t.start, p->t.len);
    tix_gql_next(p);
    return s;
}

static void enter(tix_gql_parser *p)
{
    if (++p->depth > p->max_depth) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "the document is nested deeper than %d levels",
                        p->max_depth);
    }
    if (p->depth > p->deepest) {
        p->deepest = p->depth;
    }
}

static void leave(tix_gql_parser *p)
{
    p->depth--;
}

static bool run_more(tix_gql_parser *p, char close)
{
    if (is_punct(p, close)) {
        tix_gql_next(p);
        return false;
    }
    return true;
}

/* The grammar's delimited runs: "(" item+ ")" (arguments, variable definitions), "{" item+ "}"
 * (selection sets), "{" item* "}" (object values), "[" item* "]" (list values). A run is read
 * as
 *
 *     for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) { item }
 *
 * run_open reads the opening punctuator; with at_least_one the first item is read whatever
 * follows (so "()" fails where the item expects a name, as the grammar says), without it an
 * empty run is read whole. run_more reads the closing punctuator when it is next. */
static bool run_open(tix_gql_parser *p, char open, char close, bool at_least_one)
{
    expect(p, open);
    return at_least_one || run_more(p, close);
}

/* ---- values ----
 * From here on the functions call each other recursively, as the grammar nests; enter() bounds
 * the depth (limits.max_depth), so the recursion cannot exhaust the stack. */
/* NOLINTBEGIN(misc-no-recursion) */

static tix_gql_value *value(tix_gql_parser *p, bool is_const);

/* "name: value": an argument, or a field of an object value. */
static tix_gql_arg *name_and_value(tix_gql_parser *p, bool is_const)
{
    tix_gql_arg *a = tix_arena_calloc(p->a, sizeof *a);
    a->line = p->t.line;
    a->col = p->t.col;
    a->name = name(p);
    expect(p, ':');
    a->value = value(p, is_const);
    return a;
}

static tix_gql_arg *object_fields(tix_gql_parser *p, bool is_const)
{
    tix_gql_arg *first = NULL;
    tix_gql_arg **tail = &first;
    for (bool more = run_open(p, '{', '}', false); more; more = run_more(p, '}')) {
        *tail = name_and_value(p, is_const);
        tail = &(*tail)->next;
    }
    return first;
}

static void list_items(tix_gql_parser *p, tix_gql_value *v, bool is_const)
{
    tix_gql_value **tail = &v->items;
    for (bool more = run_open(p, '[', ']', false); more; more = run_more(p, ']')) {
        *tail = value(p, is_const);
        tail = &(*tail)->next;
    }
}

static void name_value(tix_gql_parser *p, tix_gql_value *v)
{
    if (is_keyword(p, "true") || is_keyword(p, "false")) {
        v->kind = TIX_GQL_BOOLEAN;
        v->b = is_keyword(p, "true");
        tix_gql_next(p);
    } else if (is_keyword(p, "null")) {
        v->kind = TIX_GQL_NULL;
        tix_gql_next(p);
    } else {
        v->kind = TIX_GQL_ENUM;
        v->s = name(p);
    }
}

static tix_gql_value *value(tix_gql_parser *p, bool is_const)
{
    tix_gql_value *v = tix_arena_calloc(p->a, sizeof *v);
    v->line = p->t.line;
    v->col = p->t.col;
    if (is_punct(p, '$')) {
        if (is_const) {
            tix_gql_fail_at(p, v->line, v->col, "a variable is not allowed in a constant value");
        }
        tix_gql_next(p);
        v->kind = TIX_GQL_VARIABLE;
        v->s = name(p);
    } else if (p->t.kind == T_INT || p->t.kind == T_FLOAT) {
        v->kind = p->t.kind == T_INT ? TIX_GQL_INT : TIX_GQL_FLOAT;
        v->s = tix_arena_strndup(p->a, p->t.start, p->t.len);
        tix_gql_next(p);
    } else if (p->t.kind == T_STRING) {
        v->kind = TIX_GQL_STRING;
        v->s = p->t.sval;
        v->block = p->t.block;
        tix_gql_next(p);
    } else if (p->t.kind == T_NAME) {
        name_value(p, v);
    } else if (is_punct(p, '[')) {
        v->kind = TIX_GQL_LIST;
        enter(p);
        list_items(p, v, is_const);
        leave(p);
    } else if (is_punct(p, '{')) {
        v->kind = TIX_GQL_OBJECT;
        enter(p);
        v->fields = object_fields(p, is_const);
        leave(p);
    } else {
        tix_gql_fail_at(p, v->line, v->col, "expected a value, found %s", describe(&p->t));
    }
    return v;
}

static tix_gql_arg *arguments(tix_gql_parser *p, bool is_const)
{
    if (!is_punct(p, '(')) {
        return NULL;
    }
    tix_gql_arg *first = NULL;
    tix_gql_arg **tail = &first;
    for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) {
        *tail = name_and_value(p, is_const);
        tail = &(*tail)->next;
    }
    return first;
}

static tix_gql_directive *directives(tix_gql_parser *p, bool is_const)
{
    tix_gql_directive *first = NULL;
    tix_gql_directive **tail = &first;
    while (is_punct(p, '@')) {
        tix_gql_directive *d = tix_arena_calloc(p->a, sizeof *d);
        d->line = p->t.line;
        d->col = p->t.col;
        tix_gql_next(p);
        d->name = name(p);
        d->args = arguments(p, is_const);
        *tail = d;
        tail = &d->next;
    }
    return first;
}

/* ---- types and variables ---- */

static tix_gql_type *type_ref(tix_gql_parser *p)
{
    tix_gql_type *t = tix_arena_calloc(p->a, sizeof *t);
    if (is_punct(p, '[')) {
        enter(p);
        tix_gql_next(p);
        t->kind = TIX_GQL_LIST_TYPE;
        t->of = type_ref(p);
        expect(p, ']');
        leave(p);
    } else {
        t->kind = TIX_GQL_NAMED;
        t->name = name(p);
    }
    if (is_punct(p, '!')) {
        tix_gql_next(p);
        tix_gql_type *nn = tix_arena_calloc(p->a, sizeof *nn);
        nn->kind = TIX_GQL_NON_NULL;
        nn->of = t;
        return nn;
    }
    return t;
}

/* "$name: Type = default @directives" */
static tix_gql_vardef *variable_definition(tix_gql_parser *p)
{
    tix_gql_vardef *v = tix_arena_calloc(p->a, sizeof *v);
    v->line = p->t.line;
    v->col = p->t.col;
    expect(p, '$');
    v->name = name(p);
    expect(p, ':');
    v->type = type_ref(p);
    if (is_punct(p, '=')) {
        tix_gql_next(p);
        v->default_value = value(p, true);
    }
    v->directives = directives(p, true);
    return v;
}

static tix_gql_vardef *variable_definitions(tix_gql_parser *p)
{
    if (!is_punct(p, '(')) {
        return NULL;
    }
    tix_gql_vardef *first = NULL;
    tix_gql_vardef **tail = &first;
    for (bool more = run_open(p, '(', ')', true); more; more = run_more(p, ')')) {
        *tail = variable_definition(p);
        tail = &(*tail)->next;
    }
    return first;
}

/* ---- selections ---- */

static tix_gql_selection *selection_set(tix_gql_parser *p);

static void fragment_selection(tix_gql_parser *p, tix_gql_selection *s)
{
    tix_gql_next(p); /* "..." */
    if (p->t.kind == T_NAME && !is_keyword(p, "on")) {
        s->kind = TIX_GQL_FRAGMENT_SPREAD;
        s->name = name(p);
        s->directives = directives(p, false);
        return;
    }
    s->kind = TIX_GQL_INLINE_FRAGMENT;
    if (is_keyword(p, "on")) {
        tix_gql_next(p);
        s->type_cond = name(p);
    }
    s->directives = directives(p, false);
    s->selections = selection_set(p);
}

static tix_gql_selection *selection(tix_gql_parser *p)
{
    tix_gql_selection *s = tix_arena_calloc(p->a, sizeof *s);
    s->line = p->t.line;
    s->col = p->t.col;
    if (is_punct(p, '.')) {
        fragment_selection(p, s);
        return s;
    }
    s->kind = TIX_GQL_FIELD;
    s->name = name(p);
    if (is_punct(p, ':')) {
        tix_gql_next(p);
        s->alias = s->name;
        s->name = name(p);
    }
    s->args = arguments(p, false);
    s->directives = directives(p, false);
    if (is_punct(p, '{')) {
        s->selections = selection_set(p);
    }
    return s;
}

static tix_gql_selection *selection_set(tix_gql_parser *p)
{
    enter(p);
    tix_gql_selection *first = NULL;
    tix_gql_selection **tail = &first;
    for (bool more = run_open(p, '{', '}', true); more; more = run_more(p, '}')) {
        *tail = selection(p);
        tail = &(*tail)->next;
    }
    leave(p);
    return first;
}

/* NOLINTEND(misc-no-recursion) */

/* ---- definitions ---- */

static void operation_definition(tix_gql_parser *p, tix_gql_definition *d)
{
    d->kind = TIX_GQL_OPERATION_DEF;
    if (is_punct(p, '{')) {
        d->operation = TIX_GQL_QUERY;
        d->selections = selection_set(p);
        return;
    }
    if (is_keyword(p, "query")) {
        d->operation = TIX_GQL_QUERY;
    } else if (is_keyword(p, "mutation")) {
        d->operation = TIX_GQL_MUTATION;
    } else if (is_keyword(p, "subscription")) {
        d->operation = TIX_GQL_SUBSCRIPTION;
    } else {
        tix_gql_fail_at(p, p->t.line, p->t.col,
                        "expected an operation (query, mutation, subscription, '{') or a fragment");
    }
    tix_gql_next(p);
    if (p->t.kind == T_NAME) {
        d->name = name(p);
    }
    d->variables = variable_definitions(p);
    d->directives = directives(p, false);
    d->selections = selection_set(p);
}

static void fragment_definition(tix_gql_parser *p, tix_gql_definition *d)
{
    d->kind = TIX_GQL_FRAGMENT_DEF;
    tix_gql_next(p); /* "fragment" */
    if (is_keyword(p, "on")) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "a fragment may not be named 'on'");
    }
    d->name = name(p);
    if (!is_keyword(p, "on")) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "expected 'on' and a type after the fragment name");
    }
    tix_gql_next(p);
    d->type_cond = name(p);
    d->directives = directives(p, false);
    d->selections = selection_set(p);
}

static tix_gql_definition *definitions(tix_gql_parser *p)
{
    tix_gql_definition *first = NULL;
    tix_gql_definition **tail = &first;
    do {
        tix_gql_definition *d = tix_arena_calloc(p->a, sizeof *d);
        d->line = p->t.line;
        d->col = p->t.col;
        if (is_keyword(p, "fragment")) {
            fragment_definition(p, d);
        } else {
            operation_definition(p, d);
        }
        *tail = d;
        tail = &d->next;
    } while (p->t.kind != T_EOF);
    return first;
}

tix_gql_document *tix_gql_parse(tix_arena *a, const char *src, size_t len,
                                const tix_gql_limits *limits, tix_gql_error *err)
{
    tix_gql_error scratch = {0, 0, {0}};
    tix_gql_parser *p = tix_arena_calloc(a, sizeof *p);
    p->a = a;
    p->err = err != NULL ? err : &scratch;
    memset(p->err, 0, sizeof *p->err);
    size_t max_bytes =
        limits != NULL && limits->max_bytes > 0 ? limits->max_bytes : TIX_GQL_MAX_BYTES;
    p->max_tokens =
        limits != NULL && limits->max_tokens > 0 ? limits->max_tokens : TIX_GQL_MAX_TOKENS;
    p->max_depth = limits != NULL && limits->max_depth > 0 ? limits->max_depth : TIX_GQL_MAX_DEPTH;
    p->line = 1;
    p->col = 1;
    if (setjmp(p->fail) != 0) {
        return NULL;
    }
    if (len > max_bytes) {
        tix_gql_fail_at(p, 1, 1, "the document is larger than %zu bytes", max_bytes);
    }
    char *copy = tix_arena_alloc(a, len + 1);
    if (len > 0) {
        memcpy(copy, src, len);
    }
    copy[len] = 0;
    p->s = copy;
    p->n = len;
    tix_gql_check_source(p);
    tix_gql_next(p);
    if (p->t.kind == T_EOF) {
        tix_gql_fail_at(p, p->t.line, p->t.col, "the document has no operation");
    }
    tix_gql_document *doc = tix_arena_calloc(a, sizeof *doc);
    doc->definitions = definitions(p);
    doc->tokens = p->tokens;
    doc->max_depth = p->deepest;
    return doc;
}
