/* Helpers shared by the unit tests; see support.h. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "support.h"

#include "core/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tix_test_table_get(const char *name, void *ctx)
{
    for (const kv *p = ctx; p != NULL && p->name != NULL; p++) {
        if (strcmp(p->name, name) == 0) {
            return p->value;
        }
    }
    return NULL;
}

tix_rc tix_test_load(const kv *vars, tix_config *cfg, char *err, size_t errlen)
{
    return tix_config_load(cfg, tix_test_table_get, (void *)vars, err, errlen);
}

tix_rc tix_test_load_db(tix_config *cfg, const char *url, const kv *extra, char *err, size_t errlen)
{
    kv vars[16] = {
        {"DATABASE_URL", url},
        {"JWT_ACCESS_SECRET", TIX_TEST_ACCESS_SECRET},
        {"JWT_REFRESH_SECRET", TIX_TEST_REFRESH_SECRET},
    };
    int n = 3;
    for (; extra != NULL && extra->name != NULL && n < 15; extra++) {
        vars[n++] = *extra;
    }
    vars[n] = (kv){NULL, NULL};
    return tix_test_load(vars, cfg, err, errlen);
}

void tix_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

json_t *tix_test_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL) {
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    }
    return j;
}

const char *tix_test_pg_base(void)
{
    const char *base = getenv(TIX_TEST_PG_ENV);
    return base != NULL && *base != '\0' ? base : NULL;
}

void tix_test_pg_note(void)
{
    if (tix_test_pg_base() == NULL) {
        print_message("note: " TIX_TEST_PG_ENV " is not set; the PostgreSQL cases are skipped\n");
    }
}

static int open_pool(tix_test_db *t, int pool_size)
{
    char err[512] = "";
    if (tix_test_load_db(&t->cfg, t->url, NULL, err, sizeof(err)) != TIX_OK ||
        tix_db_pool_create(&t->cfg, pool_size, &t->pool, err, sizeof(err)) != TIX_OK) {
        print_error("pool_create(%s): %s\n", t->kind == TIX_DB_SQLITE ? t->url : "postgres", err);
        t->pool = NULL;
        return -1;
    }
    return 0;
}

int tix_test_db_open_sqlite(tix_test_db *t, const char *prefix, int pool_size)
{
    memset(t, 0, sizeof(*t));
    t->kind = TIX_DB_SQLITE;
    snprintf(t->dir, sizeof(t->dir), "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(t->dir) == NULL) {
        print_error("mkdtemp(%s) failed\n", t->dir);
        return -1;
    }
    snprintf(t->url, sizeof(t->url), "sqlite://%s/t.db", t->dir);
    if (open_pool(t, pool_size) != 0) {
        tix_test_remove_sqlite_files(t->dir);
        return -1;
    }
    return 0;
}

/* Runs one statement on a connection of its own; false with the reason printed. */
static bool exec_one(tix_test_db *t, const char *sql)
{
    tix_db *db = NULL;
    bool ok =
        tix_db_acquire(t->pool, &db) == TIX_OK && tix_db_exec(db, sql, NULL, 0, NULL) == TIX_OK;
    if (!ok) {
        print_error("%s failed: %s\n", sql, db ? tix_db_errmsg(db) : "no connection");
    }
    tix_db_release(t->pool, db);
    return ok;
}

int tix_test_db_open_pg(tix_test_db *t, const char *base, const char *prefix, int pool_size)
{
    memset(t, 0, sizeof(*t));
    t->kind = TIX_DB_POSTGRES;
    unsigned char rnd[6];
    char hex[13];
    tix_random_bytes(rnd, sizeof(rnd));
    tix_hex_encode(hex, rnd, sizeof(rnd));
    snprintf(t->schema, sizeof(t->schema), "%s_%s", prefix, hex);
    snprintf(t->url, sizeof(t->url), "%s%soptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? "&" : "?", t->schema);
    if (open_pool(t, pool_size) != 0) {
        return -1;
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", t->schema);
    if (!exec_one(t, sql)) {
        tix_db_pool_destroy(t->pool);
        t->pool = NULL;
        return -1;
    }
    return 0;
}

void tix_test_db_close(tix_test_db *t)
{
    if (t->kind == TIX_DB_POSTGRES && t->pool != NULL) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", t->schema);
        (void)exec_one(t, sql);
    }
    tix_db_pool_destroy(t->pool);
    t->pool = NULL;
    if (t->kind == TIX_DB_SQLITE) {
        tix_test_remove_sqlite_files(t->dir);
    }
}

void tix_test_remove_sqlite_files(const char *dir)
{
    static const char *const names[] = {"t.db", "t.db-wal", "t.db-shm", "t.db-journal"};
    char path[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

void *tix_test_state(void **state)
{
    if (*state == NULL) {
        static bool told;
        if (!told) {
            print_message("[ SKIPPING ] PostgreSQL cases: set " TIX_TEST_PG_ENV
                          "=postgres://user@host:port/db to run them\n");
            told = true;
        }
        skip();
    }
    return *state;
}
