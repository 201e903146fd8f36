/*
 * What a storage driver provides (the two live in db_sqlite.c and db_pg.c). db.c owns the
 * pool, the result type and the migration runner (db_read.c the read-replica pool); drivers
 * only talk to their library.
 */
#ifndef TIX_STORE_DB_DRIVER_H
#define TIX_STORE_DB_DRIVER_H

#include "store/db.h"

#include <stdatomic.h>

struct tix_db_res {
    int rows;
    int cols;
    int64_t changes;
    char **cells; /* rows*cols pointers into `text`, NULL for SQL NULL */
    char *text;   /* one block holding every cell's bytes */
};

typedef struct tix_db_driver {
    const char *name;
    /* Opens the connection's handle into db->impl; TIX_EUNAVAIL when unreachable. */
    tix_rc (*open)(tix_db *db, const tix_config *cfg);
    void (*close)(tix_db *db);
    /* Whether the handle is unusable and must be re-opened (a dead PostgreSQL socket). */
    bool (*broken)(tix_db *db);
    tix_rc (*exec)(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_db_res **out);
    /* Sends `begin` (when not NULL) and stmts at once and reads every result: the contract of
     * tix_db_exec_many, with a sync point after each statement when sync_each (outside a
     * transaction) or one at the end. NULL: db.c runs the statements one by one with exec. */
    tix_rc (*exec_many)(tix_db *db, const char *begin, tix_db_stmt *stmts, int n, bool sync_each);
    tix_rc (*exec_script)(tix_db *db, const char *sql);
    /* Serialises migration runs across processes (advisory lock); may be NULL. */
    tix_rc (*lock_migrations)(tix_db *db);
    void (*unlock_migrations)(tix_db *db);
    const char *begin_sql;
    /* begin_sql waits for the transaction's first statement (sent with it by exec_many). */
    bool lazy_begin;
} tix_db_driver;

/* A connection. db.c asserts the invariants below (debug builds; release builds use NDEBUG). */
struct tix_db {
    const tix_db_driver *drv;
    tix_db_pool *pool;
    const tix_config *cfg;
    void *impl;
    bool open;
    bool in_tx;
    bool begin_pending; /* in_tx, but BEGIN not sent yet (lazy_begin) */
    bool leased;        /* between acquire and release (a pool's connection; under pool->mu) */
    bool write_locked;  /* holds pool->write_mu (SQLite: from BEGIN to COMMIT/ROLLBACK) */
    atomic_bool busy;   /* a driver call is running: one thread at a time uses a connection */
    /* Read pools (db_read.c): when this connection last checked its replay
     * position, and the monotonic instant it then held everything the primary had committed
     * (0: none known). Touched only by the thread that leases the connection. */
    int64_t checked_ms;
    int64_t complete_as_of_ms;
    /* Driver calls (round trips on PostgreSQL: a batch is one) since the connection was last
     * leased; tix_db_calls. Touched only by the thread that leases it. */
    int calls;
    char err[256];
};

extern const tix_db_driver tix_db_sqlite_driver;
extern const tix_db_driver tix_db_pg_driver;

/* Builds a result from cell strings (NULL = SQL NULL); used by both drivers. The strings are
 * copied. Returns NULL only if rows*cols is absurd. Free with tix_db_res_destroy. */
tix_db_res *tix_db_res_build(int rows, int cols, const char *const *cells, const int *lens);

/* Records msg (the first words of the SQL and the library's message) as db->err and logs it. */
void tix_db_set_error(tix_db *db, const char *sql, const char *msg);

#endif
