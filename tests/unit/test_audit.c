/*
 * Unit tests for the audit trail's policy (http/audit.h) over the real route table
 * (api/routes.c): every write route is audited or exempt with a reason, action names are
 * distinct and read as designed, who is recorded; and the migrations' dialect blocks
 * (store/db.h: tix_db_dialect_sql), which carry the append-only triggers.
 */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "api/routes.h"
#include "http/audit.h"
#include "store/db.h"
#include "store/migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const tix_route *find(const char *method, const char *pattern)
{
    for (size_t i = 0; i < tix_routes_count; i++) {
        if (strcmp(tix_routes[i].method, method) == 0 &&
            strcmp(tix_routes[i].pattern, pattern) == 0) {
            return &tix_routes[i];
        }
    }
    return NULL;
}

static tix_principal anyone_as(tix_role role)
{
    tix_principal p = {.authenticated = true, .role = role};
    snprintf(p.user_id, sizeof(p.user_id), "usr_test");
    return p;
}

/* The walk: a write route is either audited for owners and admins (it needs a signed-in caller:
 * an anonymous one cannot be recorded) or exempt with a reason of a few words; an exemption on
 * a read means nothing and is refused too. */
static void test_every_write_route_is_audited_or_exempt(void **state)
{
    (void)state;
    tix_principal admin = anyone_as(TIX_ROLE_ADMIN);
    int writes = 0;
    int exempt = 0;
    for (size_t i = 0; i < tix_routes_count; i++) {
        const tix_route *rt = &tix_routes[i];
        bool write = tix_audit_is_write(rt->method);
        if (rt->audit_exempt != NULL) {
            if (!write || strlen(rt->audit_exempt) < 20) {
                fail_msg("%s %s: an exemption needs a write route and a reason", rt->method,
                         rt->pattern);
            }
            exempt++;
            continue;
        }
        if (!write) {
            assert_false(tix_audit_wants(rt, &admin));
            continue;
        }
        writes++;
        if (rt->access == TIX_ACCESS_PUBLIC) {
            fail_msg("%s %s is a public write: it has no actor to record; require a role or "
                     "exempt it with NOAUDIT(why) in api/routes.c",
                     rt->method, rt->pattern);
        }
        if (!tix_audit_wants(rt, &admin)) {
            fail_msg("%s %s: an admin's write is not recorded", rt->method, rt->pattern);
        }
    }
    assert_true(writes > 20);
    assert_true(exempt >= 5);
}

/* Two routes with one name would make ?action= ambiguous. */
static void test_action_names_are_distinct(void **state)
{
    (void)state;
    char(*names)[TIX_AUDIT_ACTION_MAX] = calloc(tix_routes_count, TIX_AUDIT_ACTION_MAX);
    assert_non_null(names);
    for (size_t i = 0; i < tix_routes_count; i++) {
        if (!tix_audit_is_write(tix_routes[i].method) || tix_routes[i].audit_exempt != NULL) {
            continue;
        }
        tix_audit_action(&tix_routes[i], names[i], TIX_AUDIT_ACTION_MAX);
        assert_true(strlen(names[i]) > 0);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                fail_msg("%s %s and %s %s are both \"%s\"", tix_routes[i].method,
                         tix_routes[i].pattern, tix_routes[j].method, tix_routes[j].pattern,
                         names[i]);
            }
        }
    }
    free(names);
}

static void assert_action(const char *method, const char *pattern, const char *want)
{
    tix_route rt = {method, pattern, NULL, TIX_ACCESS_OWNER, 0};
    char got[TIX_AUDIT_ACTION_MAX];
    tix_audit_action(&rt, got, sizeof(got));
    if (strcmp(got, want) != 0) {
        fail_msg("%s %s: got \"%s\", want \"%s\"", method, pattern, got, want);
    }
}

static void test_action_names_read_as_designed(void **state)
{
    (void)state;
    assert_action("POST", "/api/v1/theatres", "theatre.create");
    assert_action("PATCH", "/api/v1/theatres/{id}", "theatre.update");
    assert_action("DELETE", "/api/v1/theatres/{id}", "theatre.delete");
    assert_action("POST", "/api/v1/theatres/{id}/halls", "hall.create");
    assert_action("POST", "/api/v1/shows/{id}/cancel", "show.cancel");
    assert_action("POST", "/api/v1/admin/theatres/{id}/approve", "theatre.approve");
    assert_action("POST", "/api/v1/theatres/{id}/submit", "theatre.submit");
    assert_action("PATCH", "/api/v1/shows/{id}", "show.update");
    assert_action("POST", "/api/v1/promo-codes", "promo-code.create");
    assert_action("PATCH", "/api/v1/promo-codes/{id}", "promo-code.update");
    assert_action("PATCH", "/api/v1/admin/users/{id}", "user.update");
    assert_action("POST", "/api/v1/movies/{id}/toggle-status", "movie.toggle-status");
    assert_action("POST", "/api/v1/theatres/{id}/check-ins", "check-in.create");
    assert_action("DELETE", "/api/v1/theatres/{id}/staff/{user_id}", "theatre.staff.delete");
    assert_action("DELETE", "/api/v1/me", "me.delete");
    assert_action("PUT", "/api/v1/admin/fx-rates/{currency}", "fx-rate.replace");
    assert_action("POST", "/api/v1/admin/payments/reconcile", "payments.reconcile");
    /* a buffer too small truncates, never overflows */
    tix_route rt = {"POST", "/api/v1/admin/theatres/{id}/approve", NULL, TIX_ACCESS_ADMIN, 0};
    char small[8];
    tix_audit_action(&rt, small, sizeof(small));
    assert_string_equal(small, "theatre");
}

/* Who is recorded: owners and admins on writes; everyone signed in on check-ins; nobody
 * anonymous; nobody on reads or exempt routes. */
static void test_who_is_recorded(void **state)
{
    (void)state;
    tix_principal user = anyone_as(TIX_ROLE_USER);
    tix_principal owner = anyone_as(TIX_ROLE_OWNER);
    tix_principal admin = anyone_as(TIX_ROLE_ADMIN);
    tix_principal anon = {0};
    const tix_route *booking = find("POST", "/api/v1/bookings");
    const tix_route *theatre = find("POST", "/api/v1/theatres");
    const tix_route *checkin = find("POST", "/api/v1/theatres/{id}/check-ins");
    const tix_route *login = find("POST", "/api/v1/auth/login");
    const tix_route *list = find("GET", "/api/v1/theatres");
    assert_non_null(booking);
    assert_non_null(theatre);
    assert_non_null(checkin);
    assert_non_null(login);
    assert_non_null(list);
    assert_false(tix_audit_wants(booking, &user)); /* a user's own booking */
    assert_true(tix_audit_wants(booking, &owner));
    assert_true(tix_audit_wants(theatre, &owner));
    assert_true(tix_audit_wants(theatre, &admin));
    assert_false(tix_audit_wants(theatre, &anon));
    assert_true(tix_audit_wants(checkin, &user)); /* door staff are plain users */
    assert_false(tix_audit_wants(checkin, &anon));
    assert_false(tix_audit_wants(login, &admin));
    assert_false(tix_audit_wants(list, &admin));
    assert_non_null(login->audit_exempt);
}

static void test_dialect_blocks(void **state)
{
    (void)state;
    const char *sql = "CREATE TABLE t (a INT);\n"
                      "-- dialect: sqlite\n"
                      "SQLITE ONLY;\n"
                      "-- dialect: postgres\n"
                      "PG ONLY;\n"
                      "PG TOO;\n"
                      "-- dialect: all\n"
                      "BOTH;";
    char *lite = tix_db_dialect_sql(sql, TIX_DB_SQLITE);
    char *pg = tix_db_dialect_sql(sql, TIX_DB_POSTGRES);
    assert_string_equal(lite, "CREATE TABLE t (a INT);\nSQLITE ONLY;\nBOTH;");
    assert_string_equal(pg, "CREATE TABLE t (a INT);\nPG ONLY;\nPG TOO;\nBOTH;");
    free(lite);
    free(pg);
    char *plain = tix_db_dialect_sql("SELECT 1;\n-- a comment\n", TIX_DB_POSTGRES);
    assert_string_equal(plain, "SELECT 1;\n-- a comment\n");
    free(plain);
    /* "allx" is not "all": an unknown marker keeps its block from both databases */
    char *odd =
        tix_db_dialect_sql("A;\n-- dialect: allx\nB;\n-- dialect: all\nC;\n", TIX_DB_SQLITE);
    assert_string_equal(odd, "A;\nC;\n");
    free(odd);
}

/* Every dialect marker of the compiled-in migrations is one of the three words (a typo would
 * drop its block on both databases), and every migration that opens a block closes it. */
static void test_migration_markers_are_known(void **state)
{
    (void)state;
    int blocks = 0;
    for (int i = 0; i < tix_migrations_count; i++) {
        const char *sql = tix_migrations[i].sql;
        bool open = false;
        for (const char *m = strstr(sql, "-- dialect: "); m != NULL;
             m = strstr(m + 1, "-- dialect: ")) {
            const char *d = m + strlen("-- dialect: ");
            size_t n = strcspn(d, "\r\n");
            bool all = n == 3 && strncmp(d, "all", 3) == 0;
            if (!all && !(n == 6 && strncmp(d, "sqlite", 6) == 0) &&
                !(n == 8 && strncmp(d, "postgres", 8) == 0)) {
                fail_msg("%s: unknown dialect marker \"%.*s\"", tix_migrations[i].name, (int)n, d);
            }
            assert_true(m == sql || m[-1] == '\n');
            open = !all;
            blocks++;
        }
        if (open) {
            fail_msg("%s: a dialect block is not closed by \"-- dialect: all\"",
                     tix_migrations[i].name);
        }
    }
    assert_true(blocks >= 3); /* 0017's sqlite, postgres and all */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_write_route_is_audited_or_exempt),
        cmocka_unit_test(test_action_names_are_distinct),
        cmocka_unit_test(test_action_names_read_as_designed),
        cmocka_unit_test(test_who_is_recorded),
        cmocka_unit_test(test_dialect_blocks),
        cmocka_unit_test(test_migration_markers_are_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
