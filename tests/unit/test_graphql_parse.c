/* Unit tests for core/graphql_parse: the tree of each construct of executable documents, value
 * literals (escapes, block strings, numbers), ignored tokens, errors with line:column, and the
 * limits on size, tokens and depth. Run under ASan for over-reads at the end of the source. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/graphql_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tix_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = tix_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tix_arena_destroy(arena);
    return 0;
}

static tix_gql_document *ok(const char *src)
{
    tix_gql_error err;
    tix_gql_document *d = tix_gql_parse(arena, src, strlen(src), NULL, &err);
    if (d == NULL) {
        fail_msg("%s: %d:%d: %s", src, err.line, err.col, err.message);
    }
    return d;
}

/* Parses src expecting a failure at line:col whose message contains want. */
static void bad(const char *src, int line, int col, const char *want)
{
    tix_gql_error err;
    tix_gql_document *d = tix_gql_parse(arena, src, strlen(src), NULL, &err);
    if (d != NULL) {
        fail_msg("accepted: %s", src);
    }
    if (err.line != line || err.col != col || strstr(err.message, want) == NULL) {
        fail_msg("%s: got %d:%d %s, want %d:%d ...%s...", src, err.line, err.col, err.message, line,
                 col, want);
    }
}

/* The first argument's value of the first field of the first operation. */
static tix_gql_value *arg0(const char *src)
{
    tix_gql_document *d = ok(src);
    return d->definitions->selections->args->value;
}

static void test_shorthand_and_fields(void **state)
{
    (void)state;
    tix_gql_document *d = ok("{ a b: c(x: 1) { d } }");
    tix_gql_definition *op = d->definitions;
    assert_int_equal(op->kind, TIX_GQL_OPERATION_DEF);
    assert_int_equal(op->operation, TIX_GQL_QUERY);
    assert_null(op->name);
    tix_gql_selection *a = op->selections;
    assert_string_equal(a->name, "a");
    assert_null(a->alias);
    assert_null(a->selections);
    tix_gql_selection *b = a->next;
    assert_string_equal(b->alias, "b");
    assert_string_equal(b->name, "c");
    assert_string_equal(b->args->name, "x");
    assert_int_equal(b->args->value->kind, TIX_GQL_INT);
    assert_string_equal(b->args->value->s, "1");
    assert_string_equal(b->selections->name, "d");
    assert_null(b->next);
    assert_int_equal(b->line, 1);
    assert_int_equal(b->col, 5);
    assert_int_equal(d->max_depth, 2);
}

static void test_operations_variables_directives(void **state)
{
    (void)state;
    tix_gql_document *d =
        ok("query Q($id: ID!, $n: [Int!]! = [1, 2], $f: Boolean = true @dir) @op(a: 1) {\n"
           "  show(id: $id) @include(if: $f) { id }\n"
           "}\n"
           "mutation M { hold(showId: \"s\", seats: [\"A1\"]) { id } }\n"
           "subscription S { x }");
    tix_gql_definition *q = d->definitions;
    assert_string_equal(q->name, "Q");
    tix_gql_vardef *id = q->variables;
    assert_string_equal(id->name, "id");
    assert_int_equal(id->type->kind, TIX_GQL_NON_NULL);
    assert_string_equal(id->type->of->name, "ID");
    tix_gql_vardef *n = id->next;
    assert_int_equal(n->type->kind, TIX_GQL_NON_NULL);
    assert_int_equal(n->type->of->kind, TIX_GQL_LIST_TYPE);
    assert_int_equal(n->type->of->of->kind, TIX_GQL_NON_NULL);
    assert_string_equal(n->type->of->of->of->name, "Int");
    assert_int_equal(n->default_value->kind, TIX_GQL_LIST);
    assert_string_equal(n->default_value->items->next->s, "2");
    tix_gql_vardef *f = n->next;
    assert_true(f->default_value->b);
    assert_string_equal(f->directives->name, "dir");
    assert_string_equal(q->directives->name, "op");
    tix_gql_selection *show = q->selections;
    assert_int_equal(show->args->value->kind, TIX_GQL_VARIABLE);
    assert_string_equal(show->args->value->s, "id");
    assert_string_equal(show->directives->name, "include");
    assert_string_equal(show->directives->args->value->s, "f");
    assert_int_equal(show->line, 2);
    assert_int_equal(show->col, 3);
    assert_int_equal(q->next->operation, TIX_GQL_MUTATION);
    assert_string_equal(q->next->name, "M");
    assert_int_equal(q->next->line, 4);
    assert_int_equal(q->next->next->operation, TIX_GQL_SUBSCRIPTION);
}

static void test_fragments(void **state)
{
    (void)state;
    tix_gql_document *d = ok("query { ...F ... on Show @skip(if: false) { id } ... { a } }\n"
                             "fragment F on Query @x { movies { title } }");
    tix_gql_selection *s = d->definitions->selections;
    assert_int_equal(s->kind, TIX_GQL_FRAGMENT_SPREAD);
    assert_string_equal(s->name, "F");
    s = s->next;
    assert_int_equal(s->kind, TIX_GQL_INLINE_FRAGMENT);
    assert_string_equal(s->type_cond, "Show");
    assert_string_equal(s->directives->name, "skip");
    assert_string_equal(s->selections->name, "id");
    s = s->next;
    assert_int_equal(s->kind, TIX_GQL_INLINE_FRAGMENT);
    assert_null(s->type_cond);
    tix_gql_definition *f = d->definitions->next;
    assert_int_equal(f->kind, TIX_GQL_FRAGMENT_DEF);
    assert_string_equal(f->name, "F");
    assert_string_equal(f->type_cond, "Query");
    assert_string_equal(f->directives->name, "x");
    /* "on" is not a fragment name; a spread named "on..." is fine */
    bad("fragment on on Q { a }", 1, 10, "'on'");
    ok("{ ...onX }");
}

static void test_values(void **state)
{
    (void)state;
    tix_gql_value *v = arg0("{ f(a: -0.5e+3) }");
    assert_int_equal(v->kind, TIX_GQL_FLOAT);
    assert_string_equal(v->s, "-0.5e+3");
    v = arg0("{ f(a: -0) }");
    assert_int_equal(v->kind, TIX_GQL_INT);
    v = arg0("{ f(a: null) }");
    assert_int_equal(v->kind, TIX_GQL_NULL);
    v = arg0("{ f(a: false) }");
    assert_int_equal(v->kind, TIX_GQL_BOOLEAN);
    assert_false(v->b);
    v = arg0("{ f(a: ASC) }");
    assert_int_equal(v->kind, TIX_GQL_ENUM);
    assert_string_equal(v->s, "ASC");
    v = arg0("{ f(a: {x: 1, y: [\"s\", {z: $v}]}) }");
    assert_int_equal(v->kind, TIX_GQL_OBJECT);
    assert_string_equal(v->fields->name, "x");
    tix_gql_value *y = v->fields->next->value;
    assert_int_equal(y->kind, TIX_GQL_LIST);
    assert_string_equal(y->items->s, "s");
    assert_int_equal(y->items->next->fields->value->kind, TIX_GQL_VARIABLE);
    v = arg0("{ f(a: []) }");
    assert_int_equal(v->kind, TIX_GQL_LIST);
    assert_null(v->items);
    bad("{ f(a: 01) }", 1, 9, "0 followed");
    bad("{ f(a: 1.) }", 1, 10, "digit");
    bad("{ f(a: 1e) }", 1, 10, "digit");
    bad("{ f(a: 12abc) }", 1, 10, "after a number");
    bad("{ f(a: 1.5.2) }", 1, 11, "after a number");
    bad("{ f(a: -) }", 1, 9, "digit");
    bad("query ($a: Int = $b) { f }", 1, 18, "constant");
}

static void test_strings(void **state)
{
    (void)state;
    tix_gql_value *v = arg0("{ f(a: \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t é\") }");
    assert_string_equal(v->s, "q\" b\\ s/ \b\f\n\r\t é");
    v = arg0("{ f(a: \"\\u00e9\\u20AC\\ud83c\\udfac\") }");
    assert_string_equal(v->s, "é€\xf0\x9f\x8e\xac");
    assert_false(v->block);
    v = arg0("{ f(a: \"\") }");
    assert_string_equal(v->s, "");
    bad("{ f(a: \"\\ud83c\") }", 1, 9, "surrogate");
    bad("{ f(a: \"\\udfac\") }", 1, 9, "surrogate");
    bad("{ f(a: \"\\u0000\") }", 1, 9, "U+0000");
    bad("{ f(a: \"\\u12G4\") }", 1, 9, "unicode");
    bad("{ f(a: \"\\x\") }", 1, 9, "escape");
    bad("{ f(a: \"abc\n\") }", 1, 12, "unterminated");
    bad("{ f(a: \"abc", 1, 12, "unterminated");
    bad("{ f(a: \"abc\\", 1, 12, "escape");
}

static void test_block_strings(void **state)
{
    (void)state;
    tix_gql_value *v =
        arg0("{ f(a: \"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\") }");
    assert_true(v->block);
    assert_string_equal(v->s, "Hello,\n  World!\n\nYours,\n  GraphQL.");
    v = arg0("{ f(a: \"\"\"first\n  second \\\"\"\" \\n\r\n  third\"\"\") }");
    assert_string_equal(v->s, "first\nsecond \"\"\" \\n\nthird");
    v = arg0("{ f(a: \"\"\"\"\"\") }");
    assert_string_equal(v->s, "");
    v = arg0("{ f(a: \"\"\"  \n\t\n\"\"\") }");
    assert_string_equal(v->s, "");
    bad("{ f(a: \"\"\"abc\"\") }", 1, 8, "unterminated block");
}

static void test_ignored_tokens(void **state)
{
    (void)state;
    tix_gql_document *d = ok("\xef\xbb\xbf# comment\r\n{,,a # more\r b\n,}");
    assert_string_equal(d->definitions->selections->next->name, "b");
    assert_int_equal(d->definitions->selections->next->line, 3);
    assert_int_equal(d->definitions->selections->next->col, 2);
    assert_int_equal(d->tokens, 4);
}

static void test_errors(void **state)
{
    (void)state;
    bad("", 1, 1, "no operation");
    bad("  # only a comment\n", 2, 1, "no operation");
    bad("{ a ", 1, 5, "end of the document");
    bad("{ }", 1, 3, "name");
    bad("query { a } }", 1, 13, "operation");
    bad("type Query { a: Int }", 1, 1, "operation");
    bad("{ a(b: ) }", 1, 8, "value");
    bad("{ a(b 1) }", 1, 7, "':'");
    bad("{ a() }", 1, 5, "name");
    bad("{\n  a\n  ..b\n}", 3, 3, "'...'");
    bad("{ a ? }", 1, 5, "'?'");
    bad("{ a } \xc3\xa9", 1, 7, "non-ASCII");
    bad("{ a }\n\x01", 2, 1, "control");
    bad("{ a \xff }", 1, 5, "UTF-8");
    bad("query ($a Int) { a }", 1, 11, "':'");
    bad("query ($a: ) { a }", 1, 12, "name");
    bad("query ($a: [Int) { a }", 1, 16, "']'");
    bad("fragment F { a }", 1, 12, "'on'");
    bad("{ ... on { a } }", 1, 10, "name");
    bad("{ a @ }", 1, 7, "name");
    /* a NUL byte inside the given length */
    tix_gql_error err;
    assert_null(tix_gql_parse(arena, "{ a \0 }", 7, NULL, &err));
    assert_string_equal(err.message, "invalid character (not UTF-8, or a control character)");
    /* positions count code points */
    bad("{ f(a: \"éé\") ? }", 1, 14, "'?'");
}

static void test_limits(void **state)
{
    (void)state;
    tix_gql_limits lim = {.max_bytes = 10};
    tix_gql_error err;
    assert_null(tix_gql_parse(arena, "{ aaaaaaaa }", 12, &lim, &err));
    assert_non_null(strstr(err.message, "larger than 10 bytes"));
    assert_non_null(tix_gql_parse(arena, "{ aaaaaa }", 10, &lim, &err));

    tix_gql_limits tl = {.max_tokens = 5};
    assert_non_null(tix_gql_parse(arena, "{ a b c }", 9, &tl, &err));
    assert_null(tix_gql_parse(arena, "{ a b c d }", 11, &tl, &err));
    assert_non_null(strstr(err.message, "more than 5 tokens"));
    assert_int_equal(err.col, 11);

    /* nesting: selection sets, values and list types all count */
    tix_gql_limits dl = {.max_depth = 3};
    assert_non_null(tix_gql_parse(arena, "{a{b{c}}}", 9, &dl, &err));
    assert_null(tix_gql_parse(arena, "{a{b{c{d}}}}", 12, &dl, &err));
    assert_non_null(strstr(err.message, "deeper than 3"));
    assert_non_null(tix_gql_parse(arena, "{a(x:[[1]])}", 12, &dl, &err));
    assert_null(tix_gql_parse(arena, "{a(x:[[[1]]])}", 14, &dl, &err));
    assert_null(tix_gql_parse(arena, "query($a:[[[[Int]]]]){a}", 24, &dl, &err));

    /* the default depth bounds recursion on a hostile document */
    enum { N = 100000 };
    char *deep = malloc(N + 1);
    memset(deep, '[', N);
    memcpy(deep, "{a(x:", 5);
    deep[N] = 0;
    tix_gql_limits big = {.max_bytes = N, .max_tokens = N};
    assert_null(tix_gql_parse(arena, deep, N, &big, &err));
    assert_non_null(strstr(err.message, "deeper than 48"));
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shorthand_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operations_variables_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
