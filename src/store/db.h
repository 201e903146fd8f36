/*
 * The storage interface: one SQL dialect, two drivers (SQLite embedded, PostgreSQL via libpq),
 * in the spirit of SQLite's VFS. SQL text is written once with $1..$N parameters, which both
 * drivers bind (SQLite treats "$N" as a named parameter; we bind by name). Values are passed as
 * tix_dbv (NULL, 64-bit integer or text) and always bound, never spliced.
 *
 * A parameter that may be NULL and is tested with IS NULL needs a cast the first time it
 * appears ("CAST($1 AS TEXT) IS NULL OR col = $1"): PostgreSQL cannot infer its type otherwise.
 *
 * Portable schema rules: times are BIGINT milliseconds since the epoch; booleans are INTEGER
 * 0/1; ids are TEXT. Results come back as text cells (tix_db_res_int parses them).
 *
 * Connections live in a pool of fixed size; a thread acquires one per request and releases it
 * when done (release rolls back an unfinished transaction). A broken PostgreSQL connection is
 * re-opened on the next acquire; while the server is down calls return TIX_EUNAVAIL (→ 503).
 *
 * Round trips: on PostgreSQL every statement waits for the server, so a request's cost is
 * mostly how many times it waits. tix_db_exec_many sends several statements at once (libpq's
 * pipeline mode: one round trip), BEGIN is not sent on its own but with the transaction's first
 * statements, and tix_db_commit_after sends the last statements together with the COMMIT. On
 * SQLite (no round trips) the same calls simply run the statements one after the other.
 */
#ifndef TIX_STORE_DB_H
#define TIX_STORE_DB_H

#include "core/arena.h"
#include "core/config.h"
#include "core/rc.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tix_db tix_db;
typedef struct tix_db_pool tix_db_pool;
typedef struct tix_db_res tix_db_res;

typedef enum tix_dbv_type { TIX_DBV_NULL, TIX_DBV_INT, TIX_DBV_TEXT } tix_dbv_type;

typedef struct tix_dbv {
    tix_dbv_type type;
    int64_t i;
    const char *s;
} tix_dbv;

#define TIX_DB_INT(v)     ((tix_dbv){.type = TIX_DBV_INT, .i = (int64_t)(v), .s = NULL})
#define TIX_DB_NULL       ((tix_dbv){.type = TIX_DBV_NULL, .i = 0, .s = NULL})
#define TIX_DB_MAX_PARAMS 64

/* A text parameter; NULL binds SQL NULL. */
static inline tix_dbv tix_db_text(const char *s)
{
    tix_dbv v = {s != NULL ? TIX_DBV_TEXT : TIX_DBV_NULL, 0, s};
    return v;
}
#define TIX_DB_TEXT(v) tix_db_text(v)

/* Opens a pool of `size` connections to cfg's database. Connections open lazily, but one is
 * opened here to fail fast: TIX_EUNAVAIL if unreachable, TIX_EINVAL with err on a bad URL.
 * Free with tix_db_pool_destroy. */
TIX_MUSTCHECK tix_rc tix_db_pool_create(const tix_config *cfg, int size, tix_db_pool **out,
                                        char *err, size_t errlen);
void tix_db_pool_destroy(tix_db_pool *pool);
tix_db_kind tix_db_pool_kind(const tix_db_pool *pool);

/* Waits (at most a few seconds) for a free connection and makes sure it is open.
 * TIX_EUNAVAIL if the database cannot be reached or no connection frees up in time. */
TIX_MUSTCHECK tix_rc tix_db_acquire(tix_db_pool *pool, tix_db **out);
/* tix_db_acquire, and OUT: *wait_us, how long it waited for the pool, also when it failed. The
 * wait is the pool's only: from the call until a connection was free (or the time-out), the
 * very number ticketd_db_pool_wait_seconds observes (measured once, in db.c). Opening the
 * connection (a first use, or a reconnect after the server went away) comes after the wait
 * and is not in it: it is the database's time, as a statement's is. The access log's
 * db_wait_us is the sum of a request's waits (http/reply.c), so it matches the metric. */
TIX_MUSTCHECK tix_rc tix_db_acquire_timed(tix_db_pool *pool, tix_db **out, int64_t *wait_us);
/* Returns the connection (to the read pool if it came from there); an open transaction is
 * rolled back. NULL does nothing. */
void tix_db_release(tix_db_pool *pool, tix_db *db);

/* Read replicas (PostgreSQL, DATABASE_READ_URL; the design is in db_read.c).
 * A connection for reads that may be up to READ_MAX_LAG old: a replica's when one is
 * reachable, has a free connection and is complete as of at most READ_MAX_LAG ago, else the
 * primary's (as tix_db_acquire; always so without DATABASE_READ_URL). OUT: *stale_ms, how old
 * its data may be (0 on the primary); *wait_us, its wait for the primary's pool as
 * tix_db_acquire_timed's (a replica's connection is taken only when one is free: 0). Never
 * decide a write on it: a replica's connection refuses writes, and what it reads may already
 * be out of date. Release with tix_db_release(pool, db). */
TIX_MUSTCHECK tix_rc tix_db_acquire_read(tix_db_pool *pool, tix_db **out, int64_t *stale_ms,
                                         int64_t *wait_us);
/* Whether db is a replica's connection (from tix_db_acquire_read). */
bool tix_db_is_replica(const tix_db *db);
/* A read on a replica's connection failed as TIX_EUNAVAIL: reads go to the primary for a
 * moment without trying the replicas (the caller then retries on tix_db_acquire). */
void tix_db_replica_failed(tix_db_pool *pool);
/* How many tix_db_acquire_read calls a replica and the primary served (with a read pool). */
void tix_db_read_counts(const tix_db_pool *pool, unsigned long long *replica,
                        unsigned long long *primary);

/* Runs one statement. out (may be NULL) receives the rows; free with tix_db_res_destroy.
 * Errors: TIX_ECONFLICT unique/primary-key violation, TIX_EINVAL other constraint,
 * TIX_EBUSY lock time-out/serialization failure/deadlock, TIX_EUNAVAIL connection lost,
 * TIX_EDB anything else (logged with the SQL's first words, never the parameters). */
TIX_MUSTCHECK tix_rc tix_db_exec(tix_db *db, const char *sql, const tix_dbv *params, int n,
                                 tix_db_res **out);
/* One statement of a batch (tix_db_exec_many). */
typedef struct tix_db_stmt {
    const char *sql;
    const tix_dbv *params;
    int n;
    tix_rc rc;       /* OUT: TIX_OK or its failure (as tix_db_exec); if it did not run, the
                      * failure that stopped the batch */
    bool ran;        /* OUT: false when an earlier failure in the transaction stopped the batch */
    tix_db_res *res; /* OUT: its rows when rc == TIX_OK; free with tix_db_stmts_cleanup */
} tix_db_stmt;

#define TIX_DB_MAX_BATCH 8

/* Runs stmts in order, in one round trip on PostgreSQL. Inside a transaction the batch stops at
 * the first failure (the transaction is then failed: roll it back); outside one each statement
 * runs and commits on its own, as n calls of tix_db_exec would. Returns TIX_OK or the first
 * failure; every stmt's rc, ran and res are filled (n at most TIX_DB_MAX_BATCH). */
TIX_MUSTCHECK tix_rc tix_db_exec_many(tix_db *db, tix_db_stmt *stmts, int n);
/* Begins a transaction with a batch whose first nreads statements only read: on PostgreSQL all
 * go in the transaction (one round trip), on SQLite the reads run before BEGIN IMMEDIATE takes
 * the write lock. Each read sees committed data as of its own start either way (READ
 * COMMITTED); a failed read may or may not stop the rest. The transaction is open afterwards
 * (tix_db_in_tx) even when a statement failed: commit or roll it back. Returns TIX_OK or the
 * first failure; every stmt is filled as by tix_db_exec_many. 0 <= nreads < n. */
TIX_MUSTCHECK tix_rc tix_db_begin_reading(tix_db *db, tix_db_stmt *stmts, int n, int nreads);
/* Frees the results of a batch; the statements may be run again. */
void tix_db_stmts_cleanup(tix_db_stmt *stmts, int n);

/* Runs several ;-separated statements without parameters (migrations). */
TIX_MUSTCHECK tix_rc tix_db_exec_script(tix_db *db, const char *sql);

/* Transactions. begin takes the write lock at once on SQLite (BEGIN IMMEDIATE) so two writers
 * never deadlock on lock upgrade. On PostgreSQL begin sends nothing: BEGIN goes out with the
 * transaction's first statement (a transaction that runs none costs no round trip). */
TIX_MUSTCHECK tix_rc tix_db_begin(tix_db *db);
TIX_MUSTCHECK tix_rc tix_db_commit(tix_db *db);
/* Runs stmts (as tix_db_exec_many in a transaction) and then COMMIT, in one round trip on
 * PostgreSQL. On any failure, of a statement or of the commit, the transaction is rolled back
 * and the first failure returned. Free the results with tix_db_stmts_cleanup. */
TIX_MUSTCHECK tix_rc tix_db_commit_after(tix_db *db, tix_db_stmt *stmts, int n);
/* Rolls back the open transaction; nothing without one. */
void tix_db_rollback(tix_db *db);
bool tix_db_in_tx(const tix_db *db);
/* How many calls db made to its driver since it was acquired: statements, and on PostgreSQL
 * round trips (a batch, BEGIN with it, is one). The access log's db_calls, which shows that a
 * request's store work does not grow with the size of its answer (GraphQL's batching). 0 for
 * NULL. */
int tix_db_calls(const tix_db *db);
tix_db_kind tix_db_kind_of(const tix_db *db);

/* A cheap round trip: TIX_OK or TIX_EUNAVAIL. */
TIX_MUSTCHECK tix_rc tix_db_ping(tix_db *db);
/* The last error message of this connection, for logs (never contains parameters). */
const char *tix_db_errmsg(const tix_db *db);

/* Applies every migration not yet recorded in schema_migrations, each in its own transaction,
 * safely when several servers start at once. OUT: applied = how many ran now. */
TIX_MUSTCHECK tix_rc tix_db_migrate(tix_db *db, int *applied);
/* The migration text sql as database kind runs it: its "-- dialect: sqlite|postgres|all" blocks
 * (see db.c) kept or dropped. malloc'd (the caller frees); NULL when out of memory. */
char *tix_db_dialect_sql(const char *sql, tix_db_kind kind);

int tix_db_res_rows(const tix_db_res *res);
int tix_db_res_cols(const tix_db_res *res);
/* Rows changed by an INSERT/UPDATE/DELETE (without RETURNING, or with it). */
int64_t tix_db_res_changes(const tix_db_res *res);
/* Cell text, owned by res; NULL for SQL NULL or out of range. */
const char *tix_db_res_text(const tix_db_res *res, int row, int col);
/* Cell as integer; 0 for NULL or non-numeric text. */
int64_t tix_db_res_int(const tix_db_res *res, int row, int col);
bool tix_db_res_isnull(const tix_db_res *res, int row, int col);
void tix_db_res_destroy(tix_db_res *res);

/* ---- Reading rows into structs ----
 *
 * A reader is a query and a row map: which field of the row struct each column lands in. The
 * map is a table of column descriptors (column i goes to cols[i], by offset into the struct)
 * and, for what a table cannot say (a status text parsed into an enum or a bool, fixed-size
 * char arrays, rows to skip), a function run after the table on the same row. TIX_DB_COL
 * takes the kind from the field's type, so a descriptor cannot disagree with its field:
 *
 *     static const tix_db_col seat_cols[] = {TIX_DB_COL(tix_seat_row, id),
 *                                            TIX_DB_COL(tix_seat_row, number), ...};
 *     static const tix_db_map seat_map = TIX_DB_MAP(tix_seat_row, seat_cols, NULL);
 *     return TIX_DB_LIST(db, a, "SELECT id, number, ... FROM seats ...", p, 1, &seat_map,
 *                        items, n);
 *
 * Text cells are copied into the arena (NULL for SQL NULL); integer cells read as by
 * tix_db_res_int (0 for NULL). Everything a reader returns lives in the arena. */
typedef enum tix_db_col_kind {
    TIX_DB_COL_SKIP, /* not stored (the map's function may read it) */
    TIX_DB_COL_TEXT, /* char * or const char *: arena copy */
    TIX_DB_COL_I64,  /* int64_t */
    TIX_DB_COL_INT,  /* int */
    TIX_DB_COL_BOOL, /* bool: a non-zero integer */
} tix_db_col_kind;

typedef struct tix_db_col {
    tix_db_col_kind kind;
    size_t off; /* offsetof the field in the row struct */
} tix_db_col;

/* The descriptor of field `field` of struct `type`; a field of another type does not compile.
 * (clang-format is off here: it cannot lay out _Generic inside a macro.) */
/* clang-format off */
#define TIX_DB_COL(type, field)                                                                    \
    {_Generic(((type *)0)->field,                                                                  \
              char *: TIX_DB_COL_TEXT,                                                             \
              const char *: TIX_DB_COL_TEXT,                                                       \
              int64_t: TIX_DB_COL_I64,                                                             \
              int: TIX_DB_COL_INT,                                                                 \
              bool: TIX_DB_COL_BOOL),                                                              \
     offsetof(type, field)}
/* A column the table leaves alone. */
#define TIX_DB_COL_NONE {TIX_DB_COL_SKIP, 0}
/* clang-format on */

/* Completes row `row` of res into item (a row struct), after the table ran. */
typedef void tix_db_row_fn(tix_arena *a, const tix_db_res *res, int row, void *item);

typedef struct tix_db_map {
    size_t size;            /* sizeof the row struct */
    const tix_db_col *cols; /* column i -> cols[i]; columns past ncols are not read */
    int ncols;
    tix_db_row_fn *fn; /* NULL, or run on each row after cols */
} tix_db_map;

#define TIX_DB_MAP(type, cols, fn)                                                                 \
    {                                                                                              \
        sizeof(type), (cols), (int)(sizeof(cols) / sizeof((cols)[0])), (fn)                        \
    }

/* The map of a list of strings (char * or const char * rows): column 0 of each row. */
extern const tix_db_map tix_db_text_rows;

/* Fills item (zeroed first) from row `row` of res as map says. */
void tix_db_map_row(tix_arena *a, const tix_db_res *res, int row, const tix_db_map *map,
                    void *item);
/* Runs one statement and maps every row it returns into a new array in the arena (never NULL,
 * even for no rows). items is the address of the caller's `T *` (T of map->size bytes); it and
 * *count are set on success only. Errors as tix_db_exec. Use it through TIX_DB_LIST, which
 * asserts that T is the size of the map's row type. */
TIX_MUSTCHECK tix_rc tix_db_list(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *params,
                                 int n, const tix_db_map *map, void *items, int *count);
#define TIX_DB_LIST(db, a, sql, params, n, map, items, count)                                      \
    (assert(sizeof(**(items)) == (map)->size),                                                     \
     tix_db_list((db), (a), (sql), (params), (n), (map), (items), (count)))
/* Runs one statement and maps its first row into *out (a T, as for TIX_DB_LIST): TIX_ENOTFOUND
 * when it returns none. Use it through TIX_DB_GET. */
TIX_MUSTCHECK tix_rc tix_db_get(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *params,
                                int n, const tix_db_map *map, void *out);
#define TIX_DB_GET(db, a, sql, params, n, map, out)                                                \
    (assert(sizeof(*(out)) == (map)->size),                                                        \
     tix_db_get((db), (a), (sql), (params), (n), (map), (out)))

/* An IN list of the n texts ids (n >= 1): returns "$1,$2,...,$n" and sets *params to their
 * values, both in the arena, for "... IN (%s)" and the statement's parameters. */
const char *tix_db_in_list(tix_arena *a, const char *const *ids, int n, tix_dbv **params);

/* A copy of a cell in the arena; NULL for SQL NULL. */
char *tix_db_res_dup(tix_arena *a, const tix_db_res *res, int row, int col);
/* Runs an UPDATE/DELETE that must change at least one row; `none` when it changed none. */
TIX_MUSTCHECK tix_rc tix_db_exec_one(tix_db *db, const char *sql, const tix_dbv *params, int n,
                                     tix_rc none);

#endif
