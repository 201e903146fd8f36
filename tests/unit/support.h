/*
 * Helpers shared by the unit tests (support.c, linked into every tests/unit/test_*.c):
 * configuration from a table of variables, a temporary database per test case, and JSON.
 *
 * Database cases run on a temporary SQLite file and, when TIX_TEST_PG_URL is set (a
 * postgres:// URL of a database the test may create schemas in), on PostgreSQL too, each in a
 * fresh schema (selected through the URL's search_path option) that is dropped afterwards, so
 * the database itself is left as it was. A test file that uses TIX_TEST_BOTH defines
 * setup_sqlite, setup_pg and teardown; setup_pg leaves *state NULL without TIX_TEST_PG_URL,
 * and the case skips itself through tix_test_state.
 *
 * Include after cmocka.h.
 */
#ifndef TIX_TESTS_UNIT_SUPPORT_H
#define TIX_TESTS_UNIT_SUPPORT_H

#include "core/config.h"
#include "store/db.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_TEST_PG_ENV "TIX_TEST_PG_URL"

/* JWT secrets good enough for tix_config_load with PostgreSQL. */
#define TIX_TEST_ACCESS_SECRET  "unit-test-access-secret-0123456789abcdef"
#define TIX_TEST_REFRESH_SECRET "unit-test-refresh-secret-0123456789abcdef"

/* A variable table: pairs of name, value, ending with a NULL name. */
typedef struct kv {
    const char *name;
    const char *value;
} kv;

/* A tix_config_getter over a kv table (ctx; NULL is an empty table). */
const char *tix_test_table_get(const char *name, void *ctx);
/* tix_config_load from a kv table. */
tix_rc tix_test_load(const kv *vars, tix_config *cfg, char *err, size_t errlen);
/* tix_config_load from DATABASE_URL=url, the two test secrets and up to 12 more pairs (extra,
 * NULL-name terminated; may be NULL). */
tix_rc tix_test_load_db(tix_config *cfg, const char *url, const kv *extra, char *err,
                        size_t errlen);

void tix_test_sleep_ms(int ms);

/* The JSON value of text (the caller decrefs it); fails the test when text is not JSON. */
json_t *tix_test_json(const char *text);

/* A temporary database for one case. */
typedef struct tix_test_db {
    tix_db_kind kind;
    tix_config cfg;
    char dir[128];   /* SQLite: the temporary directory */
    char schema[64]; /* PostgreSQL: the schema of this case */
    char url[TIX_CFG_STR];
    tix_db_pool *pool;
} tix_test_db;

/* TIX_TEST_PG_URL, or NULL when it is unset or empty. */
const char *tix_test_pg_base(void);
/* Prints a note when TIX_TEST_PG_URL is unset (call once, from main). */
void tix_test_pg_note(void);

/* A pool of pool_size on a new SQLite file in a new /tmp/<prefix>-XXXXXX directory. 0, or -1
 * with the reason printed (nothing left to close). */
int tix_test_db_open_sqlite(tix_test_db *t, const char *prefix, int pool_size);
/* A pool of pool_size on a new schema <prefix>_<random hex> of the database at base. 0, or
 * -1 with the reason printed (nothing left to close). */
int tix_test_db_open_pg(tix_test_db *t, const char *base, const char *prefix, int pool_size);
/* Drops the schema or removes the SQLite files, and destroys the pool. Connections must have
 * been released. */
void tix_test_db_close(tix_test_db *t);
/* Removes dir/t.db and its -wal, -shm and -journal files, then dir (if empty). */
void tix_test_remove_sqlite_files(const char *dir);

/* A database case's state: *state, or the case is skipped (PostgreSQL without
 * TIX_TEST_PG_URL; says so once). */
void *tix_test_state(void **state);

#define TIX_TEST_SQLITE_CASE(f)                                                                    \
    {                                                                                              \
        .name = "sqlite: " #f, .test_func = f, .setup_func = setup_sqlite,                         \
        .teardown_func = teardown, .initial_state = NULL                                           \
    }
#define TIX_TEST_PG_CASE(f)                                                                        \
    {                                                                                              \
        .name = "postgres: " #f, .test_func = f, .setup_func = setup_pg,                           \
        .teardown_func = teardown, .initial_state = NULL                                           \
    }
#define TIX_TEST_BOTH(f) TIX_TEST_SQLITE_CASE(f), TIX_TEST_PG_CASE(f)

#endif
