/* Unit tests for http/router: matching, parameters, 404 vs 405, precedence, compile errors. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Rows leave tix_route.query out (NULL), as the real table does for uncached routes. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static void h_any(tix_req *r)
{
    (void)r;
}

static void assert_slice(tix_slice s, const char *want)
{
    assert_non_null(s.p);
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.p, want, s.n);
}

/* The shared table: literal, parameter and multi-method paths. */
static const tix_route routes[] = {
    {"GET", "/healthz", h_any, TIX_ACCESS_PUBLIC, 0},
    {"GET", "/api/v1/movies", h_any, TIX_ACCESS_PUBLIC, 0},
    {"POST", "/api/v1/movies", h_any, TIX_ACCESS_OWNER, TIX_ROUTE_JSON},
    {"GET", "/api/v1/movies/{id}", h_any, TIX_ACCESS_PUBLIC, 0},
    {"PATCH", "/api/v1/movies/{id}", h_any, TIX_ACCESS_OWNER, TIX_ROUTE_JSON},
    {"DELETE", "/api/v1/movies/{id}", h_any, TIX_ACCESS_OWNER, 0},
    {"GET", "/api/v1/theatres/{tid}/shows/{sid}", h_any, TIX_ACCESS_PUBLIC, 0},
    {"PUT", "/api/v1/movies/{id}/poster", h_any, TIX_ACCESS_OWNER, TIX_ROUTE_RAW},
    {"POST", "/api/v1/auth/login", h_any, TIX_ACCESS_PUBLIC, TIX_ROUTE_JSON},
    {"GET", "/", h_any, TIX_ACCESS_PUBLIC, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static int setup_router(void **state)
{
    tix_router *r = NULL;
    if (tix_router_create(routes, NROUTES, &r) != TIX_OK) {
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown_router(void **state)
{
    tix_router_destroy(*state);
    return 0;
}

typedef struct match_case {
    const char *method;
    const char *path;
    tix_match_result want;
    int route_index;   /* for TIX_MATCH_OK: index into routes[] */
    const char *allow; /* for TIX_MATCH_BAD_METHOD */
} match_case;

static void test_match_table(void **state)
{
    const tix_router *r = *state;
    static const match_case cases[] = {
        {"GET", "/healthz", TIX_MATCH_OK, 0, NULL},
        {"GET", "/healthz/", TIX_MATCH_OK, 0, NULL},
        {"HEAD", "/healthz", TIX_MATCH_OK, 0, NULL},
        {"GET", "/api/v1/movies", TIX_MATCH_OK, 1, NULL},
        {"GET", "/api/v1/movies/", TIX_MATCH_OK, 1, NULL},
        {"POST", "/api/v1/movies", TIX_MATCH_OK, 2, NULL},
        {"POST", "/api/v1/movies/", TIX_MATCH_OK, 2, NULL},
        {"GET", "/api/v1/movies/mov_1", TIX_MATCH_OK, 3, NULL},
        {"HEAD", "/api/v1/movies/mov_1", TIX_MATCH_OK, 3, NULL},
        {"PATCH", "/api/v1/movies/mov_1/", TIX_MATCH_OK, 4, NULL},
        {"DELETE", "/api/v1/movies/mov_1", TIX_MATCH_OK, 5, NULL},
        {"PUT", "/api/v1/movies/mov_1/poster", TIX_MATCH_OK, 7, NULL},
        {"GET", "/", TIX_MATCH_OK, 9, NULL},
        /* 404: unknown paths, wrong depth, near misses, case matters */
        {"GET", "/nope", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/healthzz", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/health", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/HEALTHZ", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/api/v1", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/api/v1/movies/mov_1/poster/x", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/api/v1/theatres/t1/shows", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"GET", "/api/v2/movies", TIX_MATCH_NOT_FOUND, -1, NULL},
        {"DELETE", "/nope", TIX_MATCH_NOT_FOUND, -1, NULL},
        /* 405 with the allowed methods, in table order, HEAD right after GET */
        {"DELETE", "/api/v1/movies", TIX_MATCH_BAD_METHOD, -1, "GET, HEAD, POST"},
        {"PUT", "/api/v1/movies/", TIX_MATCH_BAD_METHOD, -1, "GET, HEAD, POST"},
        {"POST", "/api/v1/movies/mov_1", TIX_MATCH_BAD_METHOD, -1, "GET, HEAD, PATCH, DELETE"},
        {"POST", "/healthz", TIX_MATCH_BAD_METHOD, -1, "GET, HEAD"},
        {"GET", "/api/v1/auth/login", TIX_MATCH_BAD_METHOD, -1, "POST"},
        {"HEAD", "/api/v1/auth/login", TIX_MATCH_BAD_METHOD, -1, "POST"},
        {"GET", "/api/v1/movies/mov_1/poster", TIX_MATCH_BAD_METHOD, -1, "PUT"},
        {"get", "/healthz", TIX_MATCH_BAD_METHOD, -1, "GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const match_case *c = &cases[i];
        tix_match m;
        memset(&m, 0xAB, sizeof(m)); /* match must reset what it does not fill */
        tix_match_result got = tix_router_match(r, c->method, c->path, &m);
        if (got != c->want) {
            fail_msg("case %zu: %s %s: got %d, want %d", i, c->method, c->path, (int)got,
                     (int)c->want);
        }
        if (c->want == TIX_MATCH_OK) {
            if (m.route != &routes[c->route_index]) {
                fail_msg("case %zu: %s %s matched the wrong route", i, c->method, c->path);
            }
        } else {
            assert_null(m.route);
        }
        if (c->want == TIX_MATCH_BAD_METHOD) {
            if (strcmp(m.allow, c->allow) != 0) {
                fail_msg("case %zu: %s %s: allow \"%s\", want \"%s\"", i, c->method, c->path,
                         m.allow, c->allow);
            }
        }
    }
}

static void test_params_extracted(void **state)
{
    const tix_router *r = *state;
    tix_match m;
    const char *path = "/api/v1/theatres/thr_01ABC/shows/shw-42/";
    assert_int_equal(tix_router_match(r, "GET", path, &m), TIX_MATCH_OK);
    assert_ptr_equal(m.route, &routes[6]);
    assert_int_equal(m.nparams, 2);
    assert_slice(m.names[0], "tid");
    assert_slice(m.values[0], "thr_01ABC");
    assert_slice(m.names[1], "sid");
    assert_slice(m.values[1], "shw-42");
    /* values are slices into the path itself, not copies */
    assert_true(m.values[0].p >= path && m.values[0].p < path + strlen(path));
    assert_true(m.values[1].p >= path && m.values[1].p < path + strlen(path));

    assert_int_equal(tix_router_match(r, "GET", "/api/v1/movies/mov_9", &m), TIX_MATCH_OK);
    assert_int_equal(m.nparams, 1);
    assert_slice(m.names[0], "id");
    assert_slice(m.values[0], "mov_9");

    assert_int_equal(tix_router_match(r, "GET", "/healthz", &m), TIX_MATCH_OK);
    assert_int_equal(m.nparams, 0);
}

static void test_param_value_with_odd_chars(void **state)
{
    const tix_router *r = *state;
    tix_match m;
    /* Percent-encoded or dotted values are passed through untouched (no decoding here). */
    assert_int_equal(tix_router_match(r, "GET", "/api/v1/movies/a%20b.c", &m), TIX_MATCH_OK);
    assert_slice(m.values[0], "a%20b.c");
    assert_int_equal(tix_router_match(r, "GET", "/api/v1/movies/{id}", &m), TIX_MATCH_OK);
    assert_slice(m.values[0], "{id}");
}

static void test_empty_segment_never_matches_param(void **state)
{
    const tix_router *r = *state;
    tix_match m;
    /* "/movies//poster" must not match "/movies/{id}/poster" with an empty id. */
    tix_match_result got = tix_router_match(r, "PUT", "/api/v1/movies//poster", &m);
    assert_int_not_equal(got, TIX_MATCH_OK);
    got = tix_router_match(r, "PATCH", "/api/v1/movies//", &m);
    if (got == TIX_MATCH_OK) {
        /* the only PATCH route takes an {id}: a match would mean an empty id */
        fail_msg("PATCH /api/v1/movies// matched with id \"%.*s\"", (int)m.values[0].n,
                 m.values[0].p);
    }
    got = tix_router_match(r, "GET", "/api/v1/theatres//shows/s1", &m);
    assert_int_not_equal(got, TIX_MATCH_OK);
    got = tix_router_match(r, "GET", "/api/v1/theatres/t1/shows//", &m);
    assert_int_not_equal(got, TIX_MATCH_OK);
}

static void test_literal_beats_param_any_order(void **state)
{
    (void)state;
    static const tix_route param_first[] = {
        {"GET", "/theatres/{id}", h_any, TIX_ACCESS_PUBLIC, 0},
        {"GET", "/theatres/mine", h_any, TIX_ACCESS_OWNER, 0},
    };
    static const tix_route literal_first[] = {
        {"GET", "/theatres/mine", h_any, TIX_ACCESS_OWNER, 0},
        {"GET", "/theatres/{id}", h_any, TIX_ACCESS_PUBLIC, 0},
    };
    const tix_route *tables[] = {param_first, literal_first};
    const int mine_index[] = {1, 0};
    for (int t = 0; t < 2; t++) {
        tix_router *r = NULL;
        assert_int_equal(tix_router_create(tables[t], 2, &r), TIX_OK);
        tix_match m;
        assert_int_equal(tix_router_match(r, "GET", "/theatres/mine", &m), TIX_MATCH_OK);
        assert_ptr_equal(m.route, &tables[t][mine_index[t]]);
        assert_int_equal(m.nparams, 0);
        assert_int_equal(tix_router_match(r, "GET", "/theatres/mine/", &m), TIX_MATCH_OK);
        assert_ptr_equal(m.route, &tables[t][mine_index[t]]);
        assert_int_equal(tix_router_match(r, "HEAD", "/theatres/mine", &m), TIX_MATCH_OK);
        assert_ptr_equal(m.route, &tables[t][mine_index[t]]);
        assert_int_equal(tix_router_match(r, "GET", "/theatres/thr_1", &m), TIX_MATCH_OK);
        assert_ptr_equal(m.route, &tables[t][1 - mine_index[t]]);
        assert_int_equal(m.nparams, 1);
        assert_slice(m.values[0], "thr_1");
        assert_int_equal(tix_router_match(r, "GET", "/theatres/minex", &m), TIX_MATCH_OK);
        assert_ptr_equal(m.route, &tables[t][1 - mine_index[t]]);
        tix_router_destroy(r);
    }
}

static void test_literal_beats_param_deeper(void **state)
{
    (void)state;
    static const tix_route table[] = {
        {"GET", "/a/{x}/{y}", h_any, TIX_ACCESS_PUBLIC, 0},
        {"GET", "/a/{x}/c", h_any, TIX_ACCESS_PUBLIC, 0},
        {"GET", "/a/b/c", h_any, TIX_ACCESS_PUBLIC, 0},
    };
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(table, 3, &r), TIX_OK);
    tix_match m;
    assert_int_equal(tix_router_match(r, "GET", "/a/b/c", &m), TIX_MATCH_OK);
    assert_ptr_equal(m.route, &table[2]);
    assert_int_equal(tix_router_match(r, "GET", "/a/z/c", &m), TIX_MATCH_OK);
    assert_ptr_equal(m.route, &table[1]);
    assert_int_equal(m.nparams, 1);
    assert_slice(m.names[0], "x");
    assert_slice(m.values[0], "z");
    assert_int_equal(tix_router_match(r, "GET", "/a/z/q", &m), TIX_MATCH_OK);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(m.nparams, 2);
    assert_slice(m.values[1], "q");
    tix_router_destroy(r);
}

static void test_allow_lists_each_method_once(void **state)
{
    (void)state;
    /* GET on two shapes of the same path, and POST registered before GET. */
    static const tix_route table[] = {
        {"POST", "/t/mine", h_any, TIX_ACCESS_OWNER, 0},
        {"GET", "/t/{id}", h_any, TIX_ACCESS_PUBLIC, 0},
        {"GET", "/t/mine", h_any, TIX_ACCESS_OWNER, 0},
    };
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(table, 3, &r), TIX_OK);
    tix_match m;
    assert_int_equal(tix_router_match(r, "DELETE", "/t/mine", &m), TIX_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "POST, GET, HEAD");
    assert_int_equal(tix_router_match(r, "DELETE", "/t/other", &m), TIX_MATCH_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD");
    tix_router_destroy(r);
}

static void test_segment_limits(void **state)
{
    (void)state;
    char pattern[256] = "";
    char path[256] = "";
    char longer[256] = "";
    /* exactly TIX_ROUTE_MAX_SEGMENTS segments compile and match */
    for (int i = 0; i < TIX_ROUTE_MAX_SEGMENTS; i++) {
        char seg[16];
        snprintf(seg, sizeof(seg), "/s%d", i);
        strcat(pattern, seg);
        strcat(path, seg);
    }
    strcpy(longer, path);
    strcat(longer, "/extra");
    tix_route table[] = {{"GET", pattern, h_any, TIX_ACCESS_PUBLIC, 0}};
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(table, 1, &r), TIX_OK);
    tix_match m;
    assert_int_equal(tix_router_match(r, "GET", path, &m), TIX_MATCH_OK);
    /* one more segment in the path: not found (and no overflow) */
    assert_int_equal(tix_router_match(r, "GET", longer, &m), TIX_MATCH_NOT_FOUND);
    /* a very deep path */
    char deep[1024] = "";
    for (int i = 0; i < 100; i++) {
        strcat(deep, "/x");
    }
    assert_int_equal(tix_router_match(r, "GET", deep, &m), TIX_MATCH_NOT_FOUND);
    tix_router_destroy(r);

    /* a pattern with one segment too many is rejected */
    tix_route too_long[] = {{"GET", longer, h_any, TIX_ACCESS_PUBLIC, 0}};
    r = NULL;
    assert_int_equal(tix_router_create(too_long, 1, &r), TIX_EINVAL);
    assert_null(r);
}

static void test_max_params(void **state)
{
    (void)state;
    char pattern[256] = "";
    char path[256] = "";
    for (int i = 0; i < TIX_ROUTE_MAX_PARAMS; i++) {
        char seg[16];
        snprintf(seg, sizeof(seg), "/{p%d}", i);
        strcat(pattern, seg);
        snprintf(seg, sizeof(seg), "/v%d", i);
        strcat(path, seg);
    }
    tix_route ok[] = {{"GET", pattern, h_any, TIX_ACCESS_PUBLIC, 0}};
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(ok, 1, &r), TIX_OK);
    tix_match m;
    assert_int_equal(tix_router_match(r, "GET", path, &m), TIX_MATCH_OK);
    assert_int_equal(m.nparams, TIX_ROUTE_MAX_PARAMS);
    assert_slice(m.names[TIX_ROUTE_MAX_PARAMS - 1], "p7");
    assert_slice(m.values[TIX_ROUTE_MAX_PARAMS - 1], "v7");
    tix_router_destroy(r);

    strcat(pattern, "/{one_more}");
    tix_route bad[] = {{"GET", pattern, h_any, TIX_ACCESS_PUBLIC, 0}};
    r = NULL;
    assert_int_equal(tix_router_create(bad, 1, &r), TIX_EINVAL);
    assert_null(r);
}

static void test_malformed_patterns_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       /* empty */
        "movies", /* no leading slash */
        "movies/{id}",
        "/movies/{id",   /* unclosed */
        "/movies/id}",   /* stray close */
        "/movies/{}",    /* empty name */
        "/movies/x{id}", /* brace inside a literal */
        "/movies/{id}x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tix_route table[] = {
            {"GET", "/ok", h_any, TIX_ACCESS_PUBLIC, 0},
            {"GET", bad[i], h_any, TIX_ACCESS_PUBLIC, 0},
        };
        tix_router *r = NULL;
        tix_rc rc = tix_router_create(table, 2, &r);
        if (rc != TIX_EINVAL) {
            fail_msg("pattern \"%s\" accepted (rc %d)", bad[i], (int)rc);
        }
        assert_null(r);
    }
    /* a route without a handler or method is malformed too */
    tix_route no_handler[] = {{"GET", "/x", NULL, TIX_ACCESS_PUBLIC, 0}};
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(no_handler, 1, &r), TIX_EINVAL);
    tix_route no_method[] = {{NULL, "/x", h_any, TIX_ACCESS_PUBLIC, 0}};
    assert_int_equal(tix_router_create(no_method, 1, &r), TIX_EINVAL);
    assert_null(r);
}

/* A parameter name is the text between one "{" and one "}": braces inside it mean the pattern
 * is malformed ("{a}{b}" is two parameters glued together, not one named "a}{b"). */
static void test_braces_inside_param_name_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"/movies/{i{d}", "/movies/{i}d}", "/{a}{b}",
                                      "/movies/{{id}}"};
    int accepted = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tix_route table[] = {{"GET", bad[i], h_any, TIX_ACCESS_PUBLIC, 0}};
        tix_router *r = NULL;
        tix_rc rc = tix_router_create(table, 1, &r);
        tix_router_destroy(r);
        if (rc != TIX_EINVAL) {
            print_error("pattern \"%s\" accepted (rc %d)\n", bad[i], (int)rc);
            accepted++;
        }
    }
    assert_int_equal(accepted, 0);
}

static void test_duplicates_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *a;
        const char *b;
        const char *ma;
        const char *mb;
        tix_rc want;
    } cases[] = {
        {"/movies", "/movies", "GET", "GET", TIX_EINVAL},
        {"/movies", "/movies/", "GET", "GET", TIX_EINVAL},         /* trailing slash */
        {"/movies/{id}", "/movies/{x}", "GET", "GET", TIX_EINVAL}, /* param names differ */
        {"/movies", "/movies", "GET", "POST", TIX_OK},
        {"/movies/{id}", "/movies/mine", "GET", "GET", TIX_OK},
        {"/movies/{id}", "/movies/{id}/x", "GET", "GET", TIX_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tix_route table[] = {
            {cases[i].ma, cases[i].a, h_any, TIX_ACCESS_PUBLIC, 0},
            {"GET", "/unrelated", h_any, TIX_ACCESS_PUBLIC, 0},
            {cases[i].mb, cases[i].b, h_any, TIX_ACCESS_PUBLIC, 0},
        };
        tix_router *r = NULL;
        tix_rc rc = tix_router_create(table, 3, &r);
        if (rc != cases[i].want) {
            fail_msg("case %zu: %s %s + %s %s: rc %d, want %d", i, cases[i].ma, cases[i].a,
                     cases[i].mb, cases[i].b, (int)rc, (int)cases[i].want);
        }
        if (rc == TIX_OK) {
            assert_non_null(r);
        } else {
            assert_null(r);
        }
        tix_router_destroy(r);
    }
}

static void test_empty_table_and_destroy_null(void **state)
{
    (void)state;
    tix_router *r = NULL;
    assert_int_equal(tix_router_create(NULL, 0, &r), TIX_OK);
    tix_match m;
    assert_int_equal(tix_router_match(r, "GET", "/", &m), TIX_MATCH_NOT_FOUND);
    tix_router_destroy(r);
    tix_router_destroy(NULL);
}

/* tix_route.query: whole names only, any spacing, NULL declares none. */
static void test_route_reads_declared_query(void **state)
{
    (void)state;
    const tix_route r = {"GET", "/x", h_any, TIX_ACCESS_PUBLIC, 0, "q  status limit"};
    assert_true(tix_route_reads(&r, "q"));
    assert_true(tix_route_reads(&r, "status"));
    assert_true(tix_route_reads(&r, "limit"));
    assert_false(tix_route_reads(&r, "stat"));
    assert_false(tix_route_reads(&r, "limits"));
    assert_false(tix_route_reads(&r, ""));
    assert_false(tix_route_reads(&r, "cursor"));
    const tix_route none = {"GET", "/y", h_any, TIX_ACCESS_PUBLIC, 0, NULL};
    assert_false(tix_route_reads(&none, "q"));
    assert_false(tix_route_reads(NULL, "q"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_table, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_params_extracted, setup_router, teardown_router),
        cmocka_unit_test_setup_teardown(test_param_value_with_odd_chars, setup_router,
                                        teardown_router),
        cmocka_unit_test_setup_teardown(test_empty_segment_never_matches_param, setup_router,
                                        teardown_router),
        cmocka_unit_test(test_literal_beats_param_any_order),
        cmocka_unit_test(test_literal_beats_param_deeper),
        cmocka_unit_test(test_allow_lists_each_method_once),
        cmocka_unit_test(test_segment_limits),
        cmocka_unit_test(test_max_params),
        cmocka_unit_test(test_malformed_patterns_rejected),
        cmocka_unit_test(test_braces_inside_param_name_rejected),
        cmocka_unit_test(test_duplicates_rejected),
        cmocka_unit_test(test_empty_table_and_destroy_null),
        cmocka_unit_test(test_route_reads_declared_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
