/*
 * SQLite driver: one sqlite3 handle per pooled connection on the same file, in WAL mode
 * (readers never block the writer), synchronous=FULL (a confirmed booking survives power loss),
 * a busy time-out so writers queue instead of failing, and foreign keys on. Prepared
 * statements are cached per connection, keyed by their SQL text.
 */
#include "core/log.h"
#include "store/db_driver.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STMT_CACHE      64
#define BUSY_TIMEOUT_MS 5000

typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
} cached_stmt;

typedef struct sq_conn {
    sqlite3 *h;
    cached_stmt cache[STMT_CACHE];
    int next_victim;
} sq_conn;

static tix_rc map_error(int code)
{
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
        if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return TIX_ECONFLICT;
        }
        return TIX_EINVAL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return TIX_EBUSY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
        return TIX_EUNAVAIL;
    default:
        return TIX_EDB;
    }
}

/* mkdir -p of the directory part of path. */
static void make_parent_dirs(const char *path)
{
    char dir[TIX_CFG_STR];
    size_t n = strlen(path);
    if (n >= sizeof(dir)) {
        return;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return;
    }
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    mkdir(dir, 0755);
}

static tix_rc sq_open(tix_db *db, const tix_config *cfg)
{
    sq_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TIX_ENOMEM;
    }
    make_parent_dirs(cfg->sqlite_path);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(cfg->sqlite_path, &c->h, flags, NULL);
    if (rc != SQLITE_OK) {
        tix_db_set_error(db, "open", c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        sqlite3_close(c->h);
        free(c);
        return TIX_EUNAVAIL;
    }
    sqlite3_extended_result_codes(c->h, 1);
    sqlite3_busy_timeout(c->h, BUSY_TIMEOUT_MS);
    char *msg = NULL;
    rc = sqlite3_exec(c->h,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                      "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        tix_db_set_error(db, "PRAGMA", msg);
        sqlite3_free(msg);
        sqlite3_close(c->h);
        free(c);
        return TIX_EUNAVAIL;
    }
    db->impl = c;
    return TIX_OK;
}

static void sq_close(tix_db *db)
{
    sq_conn *c = db->impl;
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    sqlite3_close(c->h);
    free(c);
    db->impl = NULL;
}

static bool sq_broken(tix_db *db)
{
    return db->impl == NULL;
}

/* A prepared statement for sql from the cache, or newly prepared and cached. */
static int prepare(sq_conn *c, const char *sql, sqlite3_stmt **out)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->cache[i].sql != NULL && strcmp(c->cache[i].sql, sql) == 0) {
            *out = c->cache[i].stmt;
            return SQLITE_OK;
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    int slot = -1;
    for (int i = 0; i < STMT_CACHE && slot < 0; i++) {
        if (c->cache[i].sql == NULL) {
            slot = i;
        }
    }
    if (slot < 0) {
        slot = c->next_victim;
        c->next_victim = (c->next_victim + 1) % STMT_CACHE;
        sqlite3_finalize(c->cache[slot].stmt);
        free(c->cache[slot].sql);
    }
    c->cache[slot].sql = strdup(sql);
    c->cache[slot].stmt = st;
    if (c->cache[slot].sql == NULL) {
        c->cache[slot].stmt = NULL;
        sqlite3_finalize(st);
        return SQLITE_NOMEM;
    }
    *out = st;
    return SQLITE_OK;
}

static int bind_all(sqlite3_stmt *st, const tix_dbv *params, int n)
{
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0) {
            continue; /* not used by this statement */
        }
        int rc = SQLITE_OK;
        switch (params[i].type) {
        case TIX_DBV_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case TIX_DBV_INT:
            rc = sqlite3_bind_int64(st, idx, params[i].i);
            break;
        case TIX_DBV_TEXT:
            rc = sqlite3_bind_text(st, idx, params[i].s, -1, SQLITE_STATIC);
            break;
        }
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    return SQLITE_OK;
}

typedef struct cellbuf {
    char **cells;
    int *lens;
    size_t n;
    size_t cap;
} cellbuf;

static bool cellbuf_push(cellbuf *b, const unsigned char *s, int len)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char **cells = realloc(b->cells, cap * sizeof(*cells));
        if (cells == NULL) {
            return false;
        }
        b->cells = cells;
        int *lens = realloc(b->lens, cap * sizeof(*lens));
        if (lens == NULL) {
            return false;
        }
        b->lens = lens;
        b->cap = cap;
    }
    char *copy = NULL;
    if (s != NULL) {
        copy = malloc((size_t)len + 1);
        if (copy == NULL) {
            return false;
        }
        memcpy(copy, s, (size_t)len);
        copy[len] = '\0';
    }
    b->cells[b->n] = copy;
    b->lens[b->n] = len;
    b->n++;
    return true;
}

static void cellbuf_free(cellbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->cells[i]);
    }
    free(b->cells);
    free(b->lens);
}

static int step_all(sqlite3_stmt *st, cellbuf *b, int *rows)
{
    int cols = sqlite3_column_count(st);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < cols; c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            int len = sqlite3_column_bytes(st, c);
            if (!cellbuf_push(b, sqlite3_column_type(st, c) == SQLITE_NULL ? NULL : t, len)) {
                return SQLITE_NOMEM;
            }
        }
        (*rows)++;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static tix_rc sq_exec(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_db_res **out)
{
    sq_conn *c = db->impl;
    if (c == NULL) {
        return TIX_EUNAVAIL;
    }
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, &st);
    if (rc != SQLITE_OK) {
        tix_db_set_error(db, sql, sqlite3_errmsg(c->h));
        tix_log_error("sqlite: %s", db->err);
        return map_error(rc);
    }
    cellbuf b = {0};
    int rows = 0;
    rc = bind_all(st, params, n);
    if (rc == SQLITE_OK) {
        rc = step_all(st, &b, &rows);
    }
    int cols = sqlite3_column_count(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    tix_rc result = TIX_OK;
    if (rc != SQLITE_OK) {
        rc = sqlite3_extended_errcode(c->h);
        tix_db_set_error(db, sql, sqlite3_errmsg(c->h));
        result = map_error(rc);
        if (result == TIX_EDB) {
            tix_log_error("sqlite: %s", db->err);
        }
    } else if (out != NULL) {
        *out = tix_db_res_build(rows, cols, (const char *const *)b.cells, b.lens);
        if (*out == NULL) {
            result = TIX_ENOMEM;
        } else {
            (*out)->changes = sqlite3_changes64(c->h);
        }
    }
    cellbuf_free(&b);
    return result;
}

static tix_rc sq_exec_script(tix_db *db, const char *sql)
{
    sq_conn *c = db->impl;
    if (c == NULL) {
        return TIX_EUNAVAIL;
    }
    char *msg = NULL;
    int rc = sqlite3_exec(c->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        tix_db_set_error(db, sql, msg);
        sqlite3_free(msg);
        return map_error(sqlite3_extended_errcode(c->h));
    }
    return TIX_OK;
}

const tix_db_driver tix_db_sqlite_driver = {
    .name = "SQLite",
    .open = sq_open,
    .close = sq_close,
    .broken = sq_broken,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .lock_migrations = NULL,
    .unlock_migrations = NULL,
    .begin_sql = "BEGIN IMMEDIATE",
};
