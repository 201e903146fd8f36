/* Unit tests for http/static: which names may be served from WEB_DIR and their types. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/static.h"

#include <string.h>

static void test_names_served(void **state)
{
    (void)state;
    static const char *ok[] = {
        "app.js",       "app.css",     "index.html", "redoc.standalone.js", "redoc.LICENSE.txt",
        "openapi.yaml", "a-b_c.d.png", "0.ico"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_true(tix_static_name_ok(ok[i]));
    }
}

static void test_names_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",        ".",         "..",         ".hidden.js", "../app.js", "..%2fapp.js", "a/b.js",
        "a\\b.js", "-x.js",     "_x.js",      "app",        "app.c",     "app.JS",      "app.js.",
        "app.js~", "app js.js", "app\x01.js", "Makefile",   "app.js/..", "%2e%2e.js"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(tix_static_name_ok(bad[i]));
    }
    assert_false(tix_static_name_ok(NULL));
    char longname[200];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname + 125, ".js", 4); /* 128 characters: the longest allowed */
    assert_true(tix_static_name_ok(longname));
    memset(longname, 'a', sizeof(longname));
    memcpy(longname + 126, ".js", 4); /* 129 */
    assert_false(tix_static_name_ok(longname));
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(tix_static_type("a.html"), "text/html; charset=utf-8");
    assert_string_equal(tix_static_type("a.js"), "text/javascript; charset=utf-8");
    assert_string_equal(tix_static_type("a.css"), "text/css; charset=utf-8");
    assert_string_equal(tix_static_type("openapi.yaml"), "application/yaml; charset=utf-8");
    assert_string_equal(tix_static_type("x.png"), "image/png");
    assert_null(tix_static_type("x.exe"));
    assert_null(tix_static_type("html"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_served),
        cmocka_unit_test(test_names_refused),
        cmocka_unit_test(test_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
