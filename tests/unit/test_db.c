/*
 * Unit tests for store/db: the pool, statements, results, errors, transactions and migrations,
 * against a temporary SQLite file and, when TIX_TEST_PG_URL is set (a postgres:// URL of a
 * database the test may create schemas in), against PostgreSQL too. Each PostgreSQL case runs
 * in its own fresh schema (selected through the URL's search_path option) that is dropped
 * afterwards, so the database itself is left as it was.
 */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/config.h"
#include "core/util.h"
#include "store/db.h"
#include "store/migrations.h"
#include "support.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL_SIZE 3

typedef tix_test_db backend;

/* ---- configuration through tix_config_load ---- */

static void load_config(tix_config *cfg, const char *url)
{
    char err[256] = "";
    if (tix_test_load_db(cfg, url, NULL, err, sizeof(err)) != TIX_OK) {
        fail_msg("config for %s: %s", url, err);
    }
}

static tix_db *acquire(tix_db_pool *pool)
{
    tix_db *db = NULL;
    assert_int_equal(tix_db_acquire(pool, &db), TIX_OK);
    assert_non_null(db);
    return db;
}

/* Runs sql and fails the test with the driver's message if it does not succeed. */
static tix_db_res *run(tix_db *db, const char *sql, const tix_dbv *p, int n)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, p, n, &res);
    if (rc != TIX_OK) {
        fail_msg("%s: rc %d (%s)", sql, (int)rc, tix_db_errmsg(db));
    }
    assert_non_null(res);
    return res;
}

static void run_ok(tix_db *db, const char *sql, const tix_dbv *p, int n)
{
    tix_db_res_destroy(run(db, sql, p, n));
}

static int64_t count_rows(tix_db *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    tix_db_res *res = run(db, sql, NULL, 0);
    assert_int_equal(tix_db_res_rows(res), 1);
    int64_t n = tix_db_res_int(res, 0, 0);
    tix_db_res_destroy(res);
    return n;
}

/* ---- per-case setup ---- */

static int setup_sqlite(void **state)
{
    backend *b = calloc(1, sizeof(*b));
    if (b == NULL || tix_test_db_open_sqlite(b, "tix-unit-db", POOL_SIZE) != 0) {
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

static int setup_pg(void **state)
{
    const char *base = tix_test_pg_base();
    *state = NULL; /* without a URL the case skips itself */
    if (base == NULL) {
        return 0;
    }
    backend *b = calloc(1, sizeof(*b));
    if (b == NULL || tix_test_db_open_pg(b, base, "tix_unit", POOL_SIZE) != 0) {
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    backend *b = *state;
    if (b != NULL) {
        tix_test_db_close(b);
        free(b);
    }
    return 0;
}

static backend *get_backend(void **state)
{
    return tix_test_state(state);
}

static void create_items(tix_db *db)
{
    run_ok(db,
           "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT UNIQUE, note TEXT, "
           "qty BIGINT NOT NULL DEFAULT 0)",
           NULL, 0);
}

/* ---- cases ---- */

static void test_pool_basics(void **state)
{
    backend *b = get_backend(state);
    assert_int_equal(tix_db_pool_kind(b->pool), b->kind);
    tix_db *db = acquire(b->pool);
    assert_int_equal(tix_db_kind_of(db), b->kind);
    assert_false(tix_db_in_tx(db));
    assert_int_equal(tix_db_ping(db), TIX_OK);
    tix_db_res *res = run(db, "SELECT 1 + 1", NULL, 0);
    assert_int_equal(tix_db_res_rows(res), 1);
    assert_int_equal(tix_db_res_cols(res), 1);
    assert_string_equal(tix_db_res_text(res, 0, 0), "2");
    tix_db_res_destroy(res);
    tix_db_release(b->pool, db);
    tix_db_release(b->pool, NULL); /* no-op */

    /* every connection of the pool opens and works */
    tix_db *all[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        all[i] = acquire(b->pool);
        for (int j = 0; j < i; j++) {
            assert_ptr_not_equal(all[i], all[j]);
        }
        assert_int_equal(tix_db_ping(all[i]), TIX_OK);
    }
    for (int i = 0; i < POOL_SIZE; i++) {
        tix_db_release(b->pool, all[i]);
    }
    /* NULL results are harmless */
    assert_int_equal(tix_db_res_rows(NULL), 0);
    assert_int_equal(tix_db_res_cols(NULL), 0);
    assert_int_equal(tix_db_res_changes(NULL), 0);
    assert_null(tix_db_res_text(NULL, 0, 0));
    tix_db_res_destroy(NULL);
}

static void test_migrate(void **state)
{
    backend *b = get_backend(state);
    assert_true(tix_migrations_count > 0);
    tix_db *db = acquire(b->pool);
    int applied = -1;
    tix_rc rc = tix_db_migrate(db, &applied);
    if (rc != TIX_OK) {
        fail_msg("migrate: rc %d (%s)", (int)rc, tix_db_errmsg(db));
    }
    assert_int_equal(applied, tix_migrations_count);
    assert_false(tix_db_in_tx(db));
    applied = -1;
    assert_int_equal(tix_db_migrate(db, &applied), TIX_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(count_rows(db, "schema_migrations"), tix_migrations_count);
    assert_int_equal(count_rows(db, "users"), 0);
    assert_int_equal(count_rows(db, "refresh_tokens"), 0);
    tix_db_release(b->pool, db);

    /* a fresh pool on the same database finds everything applied */
    tix_db_pool *again = NULL;
    char err[256] = "";
    assert_int_equal(tix_db_pool_create(&b->cfg, 1, &again, err, sizeof(err)), TIX_OK);
    db = acquire(again);
    applied = -1;
    assert_int_equal(tix_db_migrate(db, &applied), TIX_OK);
    assert_int_equal(applied, 0);
    tix_db_release(again, db);
    tix_db_pool_destroy(again);
}

static void insert_user(tix_db *db, const char *id, const char *email, const char *role,
                        tix_rc want)
{
    tix_dbv p[] = {TIX_DB_TEXT(id),
                   TIX_DB_TEXT(email),
                   TIX_DB_TEXT("Name"),
                   TIX_DB_TEXT(role),
                   TIX_DB_TEXT("$argon2id$fake"),
                   TIX_DB_INT(1764000000000)};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO users (id, email, name, role, password_hash, "
                            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                            p, 6, NULL);
    if (rc != want) {
        fail_msg("insert user %s/%s/%s: rc %d, want %d (%s)", id, email, role, (int)rc, (int)want,
                 tix_db_errmsg(db));
    }
}

/* The real schema's constraints map to the documented codes on both drivers. */
static void test_schema_constraints(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    int applied = 0;
    assert_int_equal(tix_db_migrate(db, &applied), TIX_OK);
    insert_user(db, "usr_1", "a@example.com", "user", TIX_OK);
    insert_user(db, "usr_2", "a@example.com", "user", TIX_ECONFLICT); /* UNIQUE email */
    insert_user(db, "usr_1", "b@example.com", "user", TIX_ECONFLICT); /* PRIMARY KEY */
    insert_user(db, "usr_3", "c@example.com", "root", TIX_EINVAL);    /* CHECK role */
    insert_user(db, "usr_4", NULL, "user", TIX_EINVAL);               /* NOT NULL */
    insert_user(db, "usr_5", "e@example.com", "admin", TIX_OK);
    assert_int_equal(count_rows(db, "users"), 2);

    /* foreign keys are enforced (SQLite needs PRAGMA foreign_keys=ON for that) */
    tix_dbv t[] = {TIX_DB_TEXT("rt_1"),  TIX_DB_TEXT("usr_missing"),
                   TIX_DB_TEXT("fam_1"), TIX_DB_TEXT("hash_1"),
                   TIX_DB_INT(1),        TIX_DB_INT(2)};
    const char *ins = "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, "
                      "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
    assert_int_equal(tix_db_exec(db, ins, t, 6, NULL), TIX_EINVAL);
    t[1] = TIX_DB_TEXT("usr_1");
    assert_int_equal(tix_db_exec(db, ins, t, 6, NULL), TIX_OK);
    /* ON DELETE CASCADE */
    tix_dbv id = TIX_DB_TEXT("usr_1");
    tix_db_res *res = run(db, "DELETE FROM users WHERE id = $1", &id, 1);
    assert_int_equal(tix_db_res_changes(res), 1);
    tix_db_res_destroy(res);
    assert_int_equal(count_rows(db, "refresh_tokens"), 0);
    tix_db_release(b->pool, db);
}

static void test_params_and_results(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    const char *tricky = "O'Brien\"; DROP TABLE items; -- \xe2\x98\x95 $1 ?";
    tix_dbv rows[][4] = {
        {TIX_DB_INT(1), TIX_DB_TEXT("alpha"), TIX_DB_NULL, TIX_DB_INT(5)},
        {TIX_DB_INT(2), TIX_DB_TEXT("beta"), TIX_DB_TEXT("second"), TIX_DB_INT(INT64_MAX)},
        {TIX_DB_INT(3), TIX_DB_TEXT(tricky), TIX_DB_TEXT(""), TIX_DB_INT(INT64_MIN)},
        {TIX_DB_INT(4), TIX_DB_TEXT(NULL), TIX_DB_TEXT(NULL), TIX_DB_INT(-7)},
    };
    for (size_t i = 0; i < 4; i++) {
        tix_db_res *res =
            run(db, "INSERT INTO items (id, name, note, qty) VALUES ($1, $2, $3, $4)", rows[i], 4);
        assert_int_equal(tix_db_res_changes(res), 1);
        assert_int_equal(tix_db_res_rows(res), 0);
        tix_db_res_destroy(res);
    }

    /* $2 used before $1 */
    tix_dbv q[] = {TIX_DB_INT(1), TIX_DB_TEXT("alpha")};
    tix_db_res *res =
        run(db, "SELECT id, name, note, qty FROM items WHERE name = $2 AND id = $1", q, 2);
    assert_int_equal(tix_db_res_rows(res), 1);
    assert_int_equal(tix_db_res_cols(res), 4);
    assert_string_equal(tix_db_res_text(res, 0, 0), "1");
    assert_int_equal(tix_db_res_int(res, 0, 0), 1);
    assert_string_equal(tix_db_res_text(res, 0, 1), "alpha");
    assert_true(tix_db_res_isnull(res, 0, 2));
    assert_null(tix_db_res_text(res, 0, 2));
    assert_int_equal(tix_db_res_int(res, 0, 2), 0);
    assert_false(tix_db_res_isnull(res, 0, 3));
    assert_int_equal(tix_db_res_int(res, 0, 3), 5);
    /* out of range cells */
    assert_null(tix_db_res_text(res, 1, 0));
    assert_null(tix_db_res_text(res, 0, 4));
    assert_null(tix_db_res_text(res, -1, 0));
    assert_null(tix_db_res_text(res, 0, -1));
    assert_int_equal(tix_db_res_int(res, 5, 5), 0);
    tix_db_res_destroy(res);

    /* the same statement again (cached on SQLite) with other values */
    tix_dbv q2[] = {TIX_DB_INT(2), TIX_DB_TEXT("beta")};
    res = run(db, "SELECT id, name, note, qty FROM items WHERE name = $2 AND id = $1", q2, 2);
    assert_int_equal(tix_db_res_rows(res), 1);
    assert_string_equal(tix_db_res_text(res, 0, 2), "second");
    assert_true(tix_db_res_int(res, 0, 3) == INT64_MAX);
    tix_db_res_destroy(res);

    /* text is bound, never spliced; the empty string is not NULL */
    tix_dbv t = TIX_DB_TEXT(tricky);
    res = run(db, "SELECT id, note, qty FROM items WHERE name = $1", &t, 1);
    assert_int_equal(tix_db_res_rows(res), 1);
    assert_int_equal(tix_db_res_int(res, 0, 0), 3);
    assert_false(tix_db_res_isnull(res, 0, 1));
    assert_string_equal(tix_db_res_text(res, 0, 1), "");
    assert_true(tix_db_res_int(res, 0, 2) == INT64_MIN);
    tix_db_res_destroy(res);
    res = run(db, "SELECT name FROM items WHERE id = 3", NULL, 0);
    assert_string_equal(tix_db_res_text(res, 0, 0), tricky);
    tix_db_res_destroy(res);

    /* TIX_DB_TEXT(NULL) binds SQL NULL */
    res = run(db, "SELECT name, note FROM items WHERE id = 4", NULL, 0);
    assert_true(tix_db_res_isnull(res, 0, 0));
    assert_true(tix_db_res_isnull(res, 0, 1));
    tix_db_res_destroy(res);

    /* a parameter used twice; a NULL parameter compared with IS NULL (cast first, see db.h) */
    tix_dbv twice = TIX_DB_INT(2);
    res = run(db, "SELECT COUNT(*) FROM items WHERE id = $1 OR qty = $1", &twice, 1);
    assert_int_equal(tix_db_res_int(res, 0, 0), 1);
    tix_db_res_destroy(res);
    tix_dbv maybe[] = {TIX_DB_NULL};
    res =
        run(db, "SELECT COUNT(*) FROM items WHERE CAST($1 AS TEXT) IS NULL OR name = $1", maybe, 1);
    assert_int_equal(tix_db_res_int(res, 0, 0), 4);
    tix_db_res_destroy(res);
    maybe[0] = TIX_DB_TEXT("beta");
    res =
        run(db, "SELECT COUNT(*) FROM items WHERE CAST($1 AS TEXT) IS NULL OR name = $1", maybe, 1);
    assert_int_equal(tix_db_res_int(res, 0, 0), 1);
    tix_db_res_destroy(res);

    /* many rows, ordered */
    res = run(db, "SELECT id, name FROM items ORDER BY id", NULL, 0);
    assert_int_equal(tix_db_res_rows(res), 4);
    assert_int_equal(tix_db_res_cols(res), 2);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tix_db_res_int(res, i, 0), i + 1);
    }
    assert_string_equal(tix_db_res_text(res, 1, 1), "beta");
    tix_db_res_destroy(res);

    /* no rows: columns still known */
    tix_dbv none = TIX_DB_INT(99);
    res = run(db, "SELECT id, name, note FROM items WHERE id = $1", &none, 1);
    assert_int_equal(tix_db_res_rows(res), 0);
    assert_int_equal(tix_db_res_cols(res), 3);
    assert_null(tix_db_res_text(res, 0, 0));
    tix_db_res_destroy(res);

    /* out may be NULL */
    assert_int_equal(tix_db_exec(db, "SELECT 1", NULL, 0, NULL), TIX_OK);
    tix_db_release(b->pool, db);
}

static void test_many_params(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    tix_dbv p[TIX_DB_MAX_PARAMS + 1];
    char sql[2048] = "SELECT ";
    for (int i = 0; i < TIX_DB_MAX_PARAMS; i++) {
        p[i] = TIX_DB_INT(i * 10);
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof(sql) - n, "%s$%d", i ? " + " : "", i + 1);
    }
    p[TIX_DB_MAX_PARAMS] = TIX_DB_INT(0);
    tix_db_res *res = run(db, sql, p, TIX_DB_MAX_PARAMS);
    assert_int_equal(tix_db_res_int(res, 0, 0),
                     10 * (TIX_DB_MAX_PARAMS - 1) * TIX_DB_MAX_PARAMS / 2);
    tix_db_res_destroy(res);
    res = (tix_db_res *)1;
    assert_int_equal(tix_db_exec(db, "SELECT 1", p, TIX_DB_MAX_PARAMS + 1, &res), TIX_EINVAL);
    assert_null(res);
    tix_db_release(b->pool, db);
}

static void test_changes(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    tix_db_res *res = run(db,
                          "INSERT INTO items (id, name, qty) VALUES (1, 'a', 10), (2, 'b', 20), "
                          "(3, 'c', 30)",
                          NULL, 0);
    assert_int_equal(tix_db_res_changes(res), 3);
    tix_db_res_destroy(res);

    tix_dbv min = TIX_DB_INT(15);
    res = run(db, "UPDATE items SET note = 'big' WHERE qty > $1", &min, 1);
    assert_int_equal(tix_db_res_changes(res), 2);
    tix_db_res_destroy(res);

    min = TIX_DB_INT(1000);
    res = run(db, "UPDATE items SET note = 'huge' WHERE qty > $1", &min, 1);
    assert_int_equal(tix_db_res_changes(res), 0);
    tix_db_res_destroy(res);

    res = run(db, "UPDATE items SET qty = qty + 1 WHERE qty >= 20 RETURNING id, qty", NULL, 0);
    assert_int_equal(tix_db_res_rows(res), 2);
    assert_int_equal(tix_db_res_cols(res), 2);
    assert_int_equal(tix_db_res_changes(res), 2);
    tix_db_res_destroy(res);

    tix_dbv id = TIX_DB_INT(1);
    res = run(db, "DELETE FROM items WHERE id = $1", &id, 1);
    assert_int_equal(tix_db_res_changes(res), 1);
    tix_db_res_destroy(res);
    res = run(db, "DELETE FROM items WHERE id = $1", &id, 1);
    assert_int_equal(tix_db_res_changes(res), 0);
    tix_db_res_destroy(res);
    assert_int_equal(count_rows(db, "items"), 2);
    tix_db_release(b->pool, db);
}

static void test_errors(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    tix_dbv p[] = {TIX_DB_INT(1), TIX_DB_TEXT("unique-name")};
    run_ok(db, "INSERT INTO items (id, name) VALUES ($1, $2)", p, 2);

    /* primary key and unique violations */
    tix_dbv dup_id[] = {TIX_DB_INT(1), TIX_DB_TEXT("other-name")};
    assert_int_equal(
        tix_db_exec(db, "INSERT INTO items (id, name) VALUES ($1, $2)", dup_id, 2, NULL),
        TIX_ECONFLICT);
    tix_dbv dup_name[] = {TIX_DB_INT(2), TIX_DB_TEXT("unique-name")};
    tix_db_res *res = (tix_db_res *)1;
    assert_int_equal(
        tix_db_exec(db, "INSERT INTO items (id, name) VALUES ($1, $2)", dup_name, 2, &res),
        TIX_ECONFLICT);
    assert_null(res);
    assert_true(strlen(tix_db_errmsg(db)) > 0);

    /* NOT NULL violation: another constraint → TIX_EINVAL */
    tix_dbv nn[] = {TIX_DB_INT(3), TIX_DB_NULL};
    assert_int_equal(tix_db_exec(db, "INSERT INTO items (id, qty) VALUES ($1, $2)", nn, 2, NULL),
                     TIX_EINVAL);

    /* broken SQL and unknown tables are our bugs → TIX_EDB */
    assert_int_equal(tix_db_exec(db, "SELEC 1", NULL, 0, NULL), TIX_EDB);
    assert_true(strlen(tix_db_errmsg(db)) > 0);
    assert_int_equal(tix_db_exec(db, "SELECT * FROM no_such_table", NULL, 0, NULL), TIX_EDB);

    /* the connection is still fine afterwards */
    assert_int_equal(tix_db_ping(db), TIX_OK);
    assert_int_equal(count_rows(db, "items"), 1);
    tix_db_release(b->pool, db);
}

/* msg on one line (newlines shown as \n), for failure messages. */
static const char *one_line(const char *msg)
{
    static char buf[600];
    size_t n = 0;
    for (; *msg != '\0' && n + 3 < sizeof(buf); msg++) {
        if (*msg == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = *msg;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* db.h: the error message is for logs and never contains parameters. */
static void test_errmsg_has_no_parameters(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    const char *secret = "s3cret-param-value";
    tix_dbv p[] = {TIX_DB_INT(1), TIX_DB_TEXT(secret), TIX_DB_TEXT("private-note-text")};
    run_ok(db, "INSERT INTO items (id, name, note) VALUES ($1, $2, $3)", p, 3);

    /* unique violation on the parameter's column */
    tix_dbv dup[] = {TIX_DB_INT(2), TIX_DB_TEXT(secret), TIX_DB_TEXT("private-note-text")};
    assert_int_equal(
        tix_db_exec(db, "INSERT INTO items (id, name, note) VALUES ($1, $2, $3)", dup, 3, NULL),
        TIX_ECONFLICT);
    int leaks = 0;
    const char *msg = tix_db_errmsg(db);
    if (strstr(msg, secret) != NULL || strstr(msg, "private-note-text") != NULL) {
        print_error("unique violation: error message leaks a parameter: %s\n", one_line(msg));
        leaks++;
    }

    /* not-null violation on a row carrying other parameters */
    tix_dbv nn[] = {TIX_DB_INT(3), TIX_DB_TEXT("another-secret-name"),
                    TIX_DB_TEXT("private-note-text"), TIX_DB_NULL};
    assert_int_equal(tix_db_exec(db,
                                 "INSERT INTO items (id, name, note, qty) VALUES ($1, $2, $3, $4)",
                                 nn, 4, NULL),
                     TIX_EINVAL);
    msg = tix_db_errmsg(db);
    if (strstr(msg, "another-secret-name") != NULL || strstr(msg, "private-note-text") != NULL) {
        print_error("not-null violation: error message leaks a parameter: %s\n", one_line(msg));
        leaks++;
    }
    tix_db_release(b->pool, db);
    assert_int_equal(leaks, 0);
}

static void test_exec_script(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    assert_int_equal(tix_db_exec_script(db, "CREATE TABLE s1 (a BIGINT);\n"
                                            "INSERT INTO s1 (a) VALUES (1);\n"
                                            "INSERT INTO s1 (a) VALUES (2);\n"
                                            "-- a comment\n"
                                            "CREATE TABLE s2 (b TEXT);"),
                     TIX_OK);
    assert_int_equal(count_rows(db, "s1"), 2);
    assert_int_equal(count_rows(db, "s2"), 0);
    assert_int_not_equal(tix_db_exec_script(db, "INSERT INTO s2 (b) VALUES ('x'); BOGUS;"), TIX_OK);
    assert_true(strlen(tix_db_errmsg(db)) > 0);
    tix_db_release(b->pool, db);
}

static void test_tx_rollback(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    run_ok(db, "INSERT INTO items (id, name) VALUES (1, 'kept')", NULL, 0);
    assert_int_equal(tix_db_begin(db), TIX_OK);
    assert_true(tix_db_in_tx(db));
    run_ok(db, "INSERT INTO items (id, name) VALUES (2, 'discarded')", NULL, 0);
    run_ok(db, "UPDATE items SET note = 'changed' WHERE id = 1", NULL, 0);
    assert_int_equal(count_rows(db, "items"), 2); /* visible inside */
    tix_db_rollback(db);
    assert_false(tix_db_in_tx(db));
    assert_int_equal(count_rows(db, "items"), 1);
    tix_db_res *res = run(db, "SELECT note FROM items WHERE id = 1", NULL, 0);
    assert_true(tix_db_res_isnull(res, 0, 0));
    tix_db_res_destroy(res);
    /* a new transaction starts cleanly afterwards */
    assert_int_equal(tix_db_begin(db), TIX_OK);
    assert_int_equal(tix_db_commit(db), TIX_OK);
    tix_db_release(b->pool, db);
}

static void test_tx_commit_and_isolation(void **state)
{
    backend *b = get_backend(state);
    tix_db *a = acquire(b->pool);
    tix_db *other = acquire(b->pool);
    create_items(a);
    assert_int_equal(tix_db_begin(a), TIX_OK);
    run_ok(a, "INSERT INTO items (id, name) VALUES (1, 'one')", NULL, 0);
    run_ok(a, "INSERT INTO items (id, name) VALUES (2, 'two')", NULL, 0);
    /* not visible to another connection before commit */
    assert_int_equal(count_rows(other, "items"), 0);
    assert_int_equal(tix_db_commit(a), TIX_OK);
    assert_false(tix_db_in_tx(a));
    assert_int_equal(count_rows(other, "items"), 2);
    assert_int_equal(count_rows(a, "items"), 2);
    tix_db_release(b->pool, a);
    tix_db_release(b->pool, other);

    /* and it survives closing every connection */
    tix_db_pool *again = NULL;
    char err[256] = "";
    assert_int_equal(tix_db_pool_create(&b->cfg, 1, &again, err, sizeof(err)), TIX_OK);
    tix_db *db = acquire(again);
    assert_int_equal(count_rows(db, "items"), 2);
    tix_db_release(again, db);
    tix_db_pool_destroy(again);
}

static void test_release_rolls_back(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    tix_db_release(b->pool, db);

    db = acquire(b->pool);
    assert_int_equal(tix_db_begin(db), TIX_OK);
    run_ok(db, "INSERT INTO items (id, name) VALUES (1, 'abandoned')", NULL, 0);
    tix_db *released = db;
    tix_db_release(b->pool, db); /* forgot to commit */

    /* every connection, including the released one, sees nothing and is not in a tx */
    tix_db *all[POOL_SIZE];
    bool saw_released = false;
    for (int i = 0; i < POOL_SIZE; i++) {
        all[i] = acquire(b->pool);
        saw_released = saw_released || all[i] == released;
        assert_false(tix_db_in_tx(all[i]));
        assert_int_equal(count_rows(all[i], "items"), 0);
    }
    assert_true(saw_released);
    /* the released connection can write and start a new transaction */
    assert_int_equal(tix_db_begin(released), TIX_OK);
    run_ok(released, "INSERT INTO items (id, name) VALUES (1, 'committed')", NULL, 0);
    assert_int_equal(tix_db_commit(released), TIX_OK);
    for (int i = 0; i < POOL_SIZE; i++) {
        assert_int_equal(count_rows(all[i], "items"), 1);
        tix_db_release(b->pool, all[i]);
    }
}

/* ---- batches (one round trip on PostgreSQL) ---- */

#define INSERT_ITEM "INSERT INTO items (id, name) VALUES ($1, $2)"

static void test_batch_outside_tx(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    tix_dbv one[] = {TIX_DB_INT(1), TIX_DB_TEXT("one")};
    tix_dbv dup[] = {TIX_DB_INT(2), TIX_DB_TEXT("one")};
    tix_dbv three[] = {TIX_DB_INT(3), TIX_DB_TEXT("three")};
    tix_db_stmt st[] = {
        {.sql = INSERT_ITEM, .params = one, .n = 2},
        {.sql = INSERT_ITEM, .params = dup, .n = 2},
        {.sql = INSERT_ITEM, .params = three, .n = 2},
        {.sql = "SELECT name FROM items ORDER BY id"},
    };
    /* Outside a transaction each statement stands alone: the failed one stops nothing. */
    assert_int_equal(tix_db_exec_many(db, st, 4), TIX_ECONFLICT);
    assert_int_equal(st[0].rc, TIX_OK);
    assert_int_equal(st[1].rc, TIX_ECONFLICT);
    assert_true(st[2].ran);
    assert_int_equal(st[2].rc, TIX_OK);
    assert_int_equal(tix_db_res_rows(st[3].res), 2);
    assert_string_equal(tix_db_res_text(st[3].res, 1, 0), "three");
    assert_null(st[1].res);
    tix_db_stmts_cleanup(st, 4);
    assert_false(tix_db_in_tx(db));
    /* The same statements again (prepared by now on PostgreSQL) on a fresh table. */
    run_ok(db, "DELETE FROM items", NULL, 0);
    assert_int_equal(tix_db_exec_many(db, st, 4), TIX_ECONFLICT);
    assert_int_equal(tix_db_res_rows(st[3].res), 2);
    tix_db_stmts_cleanup(st, 4);
    tix_db_release(b->pool, db);
}

static void test_batch_in_tx_stops_and_rolls_back(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    tix_db *other = acquire(b->pool);
    create_items(db);
    tix_dbv one[] = {TIX_DB_INT(1), TIX_DB_TEXT("one")};
    tix_dbv dup[] = {TIX_DB_INT(2), TIX_DB_TEXT("one")};
    tix_dbv three[] = {TIX_DB_INT(3), TIX_DB_TEXT("three")};
    tix_db_stmt st[] = {
        {.sql = INSERT_ITEM, .params = one, .n = 2},
        {.sql = INSERT_ITEM, .params = dup, .n = 2},
        {.sql = INSERT_ITEM, .params = three, .n = 2},
    };
    assert_int_equal(tix_db_begin(db), TIX_OK);
    assert_int_equal(tix_db_exec_many(db, st, 3), TIX_ECONFLICT);
    assert_true(st[0].ran);
    assert_true(st[1].ran);
    assert_false(st[2].ran); /* stopped at the failure */
    assert_int_equal(st[2].rc, TIX_ECONFLICT);
    tix_db_stmts_cleanup(st, 3);
    tix_db_rollback(db);
    assert_false(tix_db_in_tx(db));
    assert_int_equal(count_rows(db, "items"), 0);
    assert_int_equal(count_rows(other, "items"), 0);
    tix_db_release(b->pool, other);
    tix_db_release(b->pool, db);
}

static void test_commit_after(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    tix_db *other = acquire(b->pool);
    create_items(db);
    tix_dbv one[] = {TIX_DB_INT(1), TIX_DB_TEXT("one")};
    tix_dbv two[] = {TIX_DB_INT(2), TIX_DB_TEXT("two")};
    tix_db_stmt first[] = {
        {.sql = INSERT_ITEM, .params = one, .n = 2},
        {.sql = "SELECT COUNT(*) FROM items"},
    };
    tix_db_stmt last[] = {
        {.sql = INSERT_ITEM " RETURNING name", .params = two, .n = 2},
    };
    assert_int_equal(tix_db_begin(db), TIX_OK);
    assert_int_equal(tix_db_exec_many(db, first, 2), TIX_OK);
    assert_int_equal(tix_db_res_int(first[1].res, 0, 0), 1); /* the batch sees its own insert */
    assert_int_equal(count_rows(other, "items"), 0);         /* nobody else does yet */
    assert_int_equal(tix_db_commit_after(db, last, 1), TIX_OK);
    assert_false(tix_db_in_tx(db));
    assert_string_equal(tix_db_res_text(last[0].res, 0, 0), "two");
    assert_int_equal(count_rows(other, "items"), 2);
    tix_db_stmts_cleanup(first, 2);
    tix_db_stmts_cleanup(last, 1);

    /* A failure in the last statements undoes the whole transaction. */
    tix_dbv three[] = {TIX_DB_INT(3), TIX_DB_TEXT("three")};
    tix_dbv dup[] = {TIX_DB_INT(4), TIX_DB_TEXT("three")};
    tix_db_stmt bad[] = {{.sql = INSERT_ITEM, .params = dup, .n = 2}};
    assert_int_equal(tix_db_begin(db), TIX_OK);
    run_ok(db, INSERT_ITEM, three, 2);
    assert_int_equal(tix_db_commit_after(db, bad, 1), TIX_ECONFLICT);
    assert_false(tix_db_in_tx(db));
    assert_int_equal(count_rows(other, "items"), 2);
    assert_int_equal(count_rows(db, "items"), 2);
    tix_db_stmts_cleanup(bad, 1);

    /* An empty transaction commits without a word to the server, and the next one works. */
    assert_int_equal(tix_db_begin(db), TIX_OK);
    assert_int_equal(tix_db_commit(db), TIX_OK);
    assert_int_equal(tix_db_begin(db), TIX_OK);
    run_ok(db, INSERT_ITEM, three, 2);
    assert_int_equal(tix_db_commit(db), TIX_OK);
    assert_int_equal(count_rows(other, "items"), 3);
    tix_db_release(b->pool, other);
    tix_db_release(b->pool, db);
}

static void test_begin_reading(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    tix_db *other = acquire(b->pool);
    create_items(db);
    run_ok(db, INSERT_ITEM, (tix_dbv[]){TIX_DB_INT(1), TIX_DB_TEXT("one")}, 2);
    tix_dbv two[] = {TIX_DB_INT(2), TIX_DB_TEXT("two")};
    tix_dbv dup[] = {TIX_DB_INT(3), TIX_DB_TEXT("two")};
    tix_dbv four[] = {TIX_DB_INT(4), TIX_DB_TEXT("four")};
    tix_db_stmt st[] = {
        {.sql = "SELECT name FROM items"},
        {.sql = INSERT_ITEM, .params = two, .n = 2},
        {.sql = INSERT_ITEM, .params = dup, .n = 2},
        {.sql = INSERT_ITEM, .params = four, .n = 2},
    };
    assert_int_equal(tix_db_begin_reading(db, st, 4, 1), TIX_ECONFLICT);
    assert_true(tix_db_in_tx(db));
    assert_string_equal(tix_db_res_text(st[0].res, 0, 0), "one");
    assert_int_equal(st[1].rc, TIX_OK);
    assert_int_equal(st[2].rc, TIX_ECONFLICT);
    assert_false(st[3].ran); /* the transaction stopped at its failure */
    tix_db_stmts_cleanup(st, 4);
    tix_db_rollback(db);
    assert_false(tix_db_in_tx(db));
    assert_int_equal(count_rows(db, "items"), 1);

    tix_db_stmt ok[] = {
        {.sql = "SELECT COUNT(*) FROM items"},
        {.sql = INSERT_ITEM, .params = two, .n = 2},
    };
    assert_int_equal(tix_db_begin_reading(db, ok, 2, 1), TIX_OK);
    assert_int_equal(tix_db_res_int(ok[0].res, 0, 0), 1);
    assert_int_equal(count_rows(other, "items"), 1); /* not committed yet */
    assert_int_equal(tix_db_commit(db), TIX_OK);
    assert_int_equal(count_rows(other, "items"), 2);
    tix_db_stmts_cleanup(ok, 2);
    tix_db_release(b->pool, other);
    tix_db_release(b->pool, db);
}

typedef struct waiter {
    tix_db_pool *pool;
    tix_db *got;
    tix_rc rc;
    atomic_int done;
    int64_t waited_ms;
    int64_t pool_wait_us; /* what the acquire said it waited */
} waiter;

static void *acquire_in_thread(void *arg)
{
    waiter *w = arg;
    int64_t t0 = tix_mono_ms();
    w->rc = tix_db_acquire_timed(w->pool, &w->got, &w->pool_wait_us);
    w->waited_ms = tix_mono_ms() - t0;
    atomic_store(&w->done, 1);
    return NULL;
}

/* ---- the row mapper ---- */

typedef struct item_row {
    int64_t id;
    char *name;
    const char *note;
    int qty_int;
    bool positive; /* set by the map's function from column 3 */
    bool odd;      /* column 4 */
} item_row;

static void item_positive(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    item_row *r = item;
    r->positive = tix_db_res_int(res, row, 3) > 0;
}

static const tix_db_col item_cols[] = {TIX_DB_COL(item_row, id), TIX_DB_COL(item_row, name),
                                       TIX_DB_COL(item_row, note), TIX_DB_COL(item_row, qty_int),
                                       TIX_DB_COL(item_row, odd)};
static const tix_db_map item_map = TIX_DB_MAP(item_row, item_cols, item_positive);

static void test_row_mapper(void **state)
{
    backend *b = get_backend(state);
    tix_db *db = acquire(b->pool);
    create_items(db);
    run_ok(db,
           "INSERT INTO items (id, name, note, qty) VALUES (1, 'alpha', NULL, 5),"
           " (2, 'beta', 'second', -3), (3, NULL, '', 0)",
           NULL, 0);
    tix_arena *a = tix_arena_create(256);
    const char *sql = "SELECT id, name, note, qty, id % 2 FROM items WHERE id >= $1 ORDER BY id";

    item_row *rows = NULL;
    int n = -1;
    tix_dbv from = TIX_DB_INT(1);
    assert_int_equal(TIX_DB_LIST(db, a, sql, &from, 1, &item_map, &rows, &n), TIX_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].id, 1);
    assert_string_equal(rows[0].name, "alpha");
    assert_null(rows[0].note); /* SQL NULL */
    assert_int_equal(rows[0].qty_int, 5);
    assert_true(rows[0].positive);
    assert_true(rows[0].odd);
    assert_string_equal(rows[1].note, "second");
    assert_int_equal(rows[1].qty_int, -3);
    assert_false(rows[1].positive);
    assert_false(rows[1].odd);
    assert_null(rows[2].name);
    assert_string_equal(rows[2].note, ""); /* empty text is not NULL */

    /* no rows: an empty list, not NULL */
    from = TIX_DB_INT(10);
    assert_int_equal(TIX_DB_LIST(db, a, sql, &from, 1, &item_map, &rows, &n), TIX_OK);
    assert_int_equal(n, 0);
    assert_non_null(rows);

    /* a failure leaves the outputs alone */
    rows = NULL;
    n = -1;
    assert_int_equal(TIX_DB_LIST(db, a, "SELECT nope FROM nowhere", NULL, 0, &item_map, &rows, &n),
                     TIX_EDB);
    assert_null(rows);
    assert_int_equal(n, -1);

    /* one row */
    item_row one;
    from = TIX_DB_INT(2);
    assert_int_equal(TIX_DB_GET(db, a, sql, &from, 1, &item_map, &one), TIX_OK);
    assert_string_equal(one.name, "beta");
    from = TIX_DB_INT(4);
    assert_int_equal(TIX_DB_GET(db, a, sql, &from, 1, &item_map, &one), TIX_ENOTFOUND);

    /* a list of strings */
    char **names = NULL;
    assert_int_equal(TIX_DB_LIST(db, a, "SELECT name FROM items ORDER BY id", NULL, 0,
                                 &tix_db_text_rows, &names, &n),
                     TIX_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "beta");
    assert_null(names[2]);

    tix_arena_destroy(a);
    tix_db_release(b->pool, db);
}

/* ---- the invariants db.c asserts (debug and sanitizer builds only) ---- */

typedef enum misuse { RELEASE_TWICE, USE_AFTER_RELEASE, NESTED_BEGIN, COMMIT_WITHOUT_TX } misuse;

/* Whether doing `m` in a child process stops it with SIGABRT (a failed assert). The child
 * reaches the assert before any statement goes to the database. */
static bool aborts(backend *b, misuse m)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tix_db *db = NULL;
        if (tix_db_acquire(b->pool, &db) != TIX_OK) {
            _exit(3);
        }
        tix_rc rc = TIX_OK;
        switch (m) {
        case RELEASE_TWICE:
            tix_db_release(b->pool, db);
            tix_db_release(b->pool, db);
            break;
        case USE_AFTER_RELEASE:
            tix_db_release(b->pool, db);
            rc = tix_db_exec(db, "SELECT 1", NULL, 0, NULL);
            break;
        case NESTED_BEGIN:
            rc = tix_db_begin(db);
            rc = rc ? rc : tix_db_begin(db);
            break;
        case COMMIT_WITHOUT_TX:
            rc = tix_db_commit(db);
            break;
        }
        _exit(rc == TIX_OK ? 0 : 4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_invariants_asserted(void **state)
{
    backend *b = get_backend(state);
#ifdef NDEBUG
    (void)b;
    (void)aborts;
    skip(); /* release build: asserts are compiled out */
#else
    assert_true(aborts(b, RELEASE_TWICE));
    assert_true(aborts(b, USE_AFTER_RELEASE));
    assert_true(aborts(b, NESTED_BEGIN));
    assert_true(aborts(b, COMMIT_WITHOUT_TX));
#endif
}

static void test_pool_exhaustion_waits(void **state)
{
    backend *b = get_backend(state);
    tix_db *all[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        all[i] = acquire(b->pool);
    }
    waiter w = {.pool = b->pool, .got = NULL, .rc = TIX_EDB, .waited_ms = 0};
    atomic_init(&w.done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acquire_in_thread, &w), 0);
    tix_test_sleep_ms(300);
    assert_int_equal(atomic_load(&w.done), 0); /* still waiting: nothing is free */
    tix_db *freed = all[1];
    tix_db_release(b->pool, freed);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, TIX_OK);
    assert_ptr_equal(w.got, freed);
    assert_true(w.waited_ms >= 250);
    assert_true(w.waited_ms < 4000); /* woken by the release, not by the time-out */
    /* the wait it reports is the wait, and no longer than the call */
    assert_true(w.pool_wait_us >= 250000);
    assert_true(w.pool_wait_us <= (w.waited_ms + 1) * 1000);
    assert_int_equal(tix_db_ping(w.got), TIX_OK);
    tix_db_release(b->pool, w.got);
    tix_db_release(b->pool, all[0]);
    tix_db_release(b->pool, all[2]);
}

/* Nothing frees up: the acquire gives up after a few seconds with TIX_EUNAVAIL. */
static void test_pool_exhaustion_times_out(void **state)
{
    backend *b = get_backend(state);
    tix_db *all[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        all[i] = acquire(b->pool);
    }
    tix_db *extra = NULL;
    int64_t t0 = tix_mono_ms();
    int64_t reported_us = -1;
    assert_int_equal(tix_db_acquire_timed(b->pool, &extra, &reported_us), TIX_EUNAVAIL);
    int64_t waited = tix_mono_ms() - t0;
    assert_null(extra);
    assert_true(reported_us >= 1000000); /* a failed acquire reports its wait too */
    assert_true(reported_us <= (waited + 1) * 1000);
    assert_true(waited >= 1000);
    assert_true(waited < 15000);
    for (int i = 0; i < POOL_SIZE; i++) {
        tix_db_release(b->pool, all[i]);
    }
    /* the pool is usable again */
    extra = acquire(b->pool);
    tix_db_release(b->pool, extra);
}

typedef struct writer {
    tix_db *db;
    tix_rc begin_rc;
    tix_rc commit_rc;
    atomic_int began;
} writer;

static void *second_writer(void *arg)
{
    writer *w = arg;
    w->begin_rc = tix_db_begin(w->db);
    atomic_store(&w->began, 1);
    if (w->begin_rc == TIX_OK) {
        tix_rc rc =
            tix_db_exec(w->db, "INSERT INTO items (id, name) VALUES (2, 'second')", NULL, 0, NULL);
        w->commit_rc = rc == TIX_OK ? tix_db_commit(w->db) : rc;
    }
    return NULL;
}

/* SQLite: BEGIN IMMEDIATE takes the write lock; a second writer queues (busy time-out) and
 * proceeds once the first commits, instead of failing. */
static void test_sqlite_writers_queue(void **state)
{
    backend *b = get_backend(state);
    tix_db *a = acquire(b->pool);
    tix_db *c = acquire(b->pool);
    create_items(a);
    assert_int_equal(tix_db_begin(a), TIX_OK);
    run_ok(a, "INSERT INTO items (id, name) VALUES (1, 'first')", NULL, 0);
    writer w = {.db = c, .begin_rc = TIX_EDB, .commit_rc = TIX_EDB};
    atomic_init(&w.began, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, second_writer, &w), 0);
    tix_test_sleep_ms(300);
    assert_int_equal(atomic_load(&w.began), 0); /* blocked on the write lock */
    assert_int_equal(tix_db_commit(a), TIX_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.begin_rc, TIX_OK);
    assert_int_equal(w.commit_rc, TIX_OK);
    assert_int_equal(count_rows(a, "items"), 2);
    tix_db_release(b->pool, a);
    tix_db_release(b->pool, c);
}

static void test_sqlite_creates_parent_dirs(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/tix-unit-db-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof(url), "sqlite://%s/a/b/t.db", dir);
    tix_config cfg;
    load_config(&cfg, url);
    tix_db_pool *pool = NULL;
    char err[256] = "";
    tix_rc rc = tix_db_pool_create(&cfg, 1, &pool, err, sizeof(err));
    if (rc != TIX_OK) {
        fail_msg("pool_create(%s): %s", url, err);
    }
    tix_db *db = acquire(pool);
    run_ok(db, "CREATE TABLE x (a BIGINT)", NULL, 0);
    tix_db_release(pool, db);
    tix_db_pool_destroy(pool);
    char path[128];
    snprintf(path, sizeof(path), "%s/a/b/t.db", dir);
    assert_int_equal(access(path, F_OK), 0);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    tix_test_remove_sqlite_files(sub);
    snprintf(sub, sizeof(sub), "%s/a", dir);
    rmdir(sub);
    rmdir(dir);
}

static void test_unreachable_database(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "sqlite:///proc/tix-unit-no-such-dir/t.db",
        "postgres://nobody@127.0.0.1:1/nothing",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        tix_config cfg;
        load_config(&cfg, urls[i]);
        tix_db_pool *pool = (tix_db_pool *)1;
        char err[512] = "";
        tix_rc rc = tix_db_pool_create(&cfg, 2, &pool, err, sizeof(err));
        if (rc != TIX_EUNAVAIL) {
            fail_msg("%s: rc %d, want TIX_EUNAVAIL", urls[i], (int)rc);
        }
        if (strlen(err) == 0) {
            fail_msg("%s: no error message", urls[i]);
        }
        assert_ptr_equal(pool, (tix_db_pool *)1); /* OUT untouched on failure */
    }
}

#define SQLITE_CASE(f) TIX_TEST_SQLITE_CASE(f)
#define BOTH(f)        TIX_TEST_BOTH(f)

int main(void)
{
    tix_test_pg_note();
    const struct CMUnitTest tests[] = {
        BOTH(test_pool_basics),
        BOTH(test_migrate),
        BOTH(test_schema_constraints),
        BOTH(test_params_and_results),
        BOTH(test_many_params),
        BOTH(test_changes),
        BOTH(test_errors),
        BOTH(test_errmsg_has_no_parameters),
        BOTH(test_exec_script),
        BOTH(test_tx_rollback),
        BOTH(test_tx_commit_and_isolation),
        BOTH(test_release_rolls_back),
        BOTH(test_batch_outside_tx),
        BOTH(test_batch_in_tx_stops_and_rolls_back),
        BOTH(test_commit_after),
        BOTH(test_begin_reading),
        BOTH(test_row_mapper),
        SQLITE_CASE(test_invariants_asserted),
        BOTH(test_pool_exhaustion_waits),
        SQLITE_CASE(test_pool_exhaustion_times_out),
        SQLITE_CASE(test_sqlite_writers_queue),
        cmocka_unit_test(test_sqlite_creates_parent_dirs),
        cmocka_unit_test(test_unreachable_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
