/*
 * The driver-independent half of the storage layer: the connection pool, transactions,
 * results and the migration runner. The pool is a fixed array guarded by one mutex; a
 * connection belongs to exactly one thread between acquire and release. The read-replica pool
 * (DATABASE_READ_URL) is db_read.c; the two share the pool's struct through db_int.h.
 *
 * The invariants, asserted where they can break (debug and sanitizer builds; release builds
 * compile with NDEBUG, and keep the run-time checks that return TIX_EINVAL):
 *   - a connection is leased between acquire and release, is released once, and is used only
 *     while leased; the free stack holds only unleased connections, never more than the pool;
 *   - a connection goes back to the pool outside any transaction and without the write lock;
 *   - one driver call at a time runs on a connection (no two threads share one);
 *   - begin_pending implies in_tx; transactions do not nest; commit needs a transaction;
 *   - on SQLite the write lock is held exactly while a transaction is open (BEGIN..COMMIT);
 *   - a statement has 0..TIX_DB_MAX_PARAMS parameters, and params when it has any;
 *   - the pool is destroyed with every connection back in it.
 */
#include "store/db.h"

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/db_driver.h"
#include "store/db_int.h"
#include "store/migrations.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACQUIRE_WAIT_MS 5000

static void end_tx(tix_db *db);

/* The state every call may rely on. */
static void check_state(const tix_db *db)
{
    assert(db != NULL && db->leased);
    assert(!db->begin_pending || db->in_tx);
    assert(!db->write_locked || db->in_tx);
    (void)db;
}

/* Around every driver call: the connection is leased and no other thread is in it. */
static void enter(tix_db *db)
{
    check_state(db);
    bool was_busy = atomic_exchange(&db->busy, true);
    assert(!was_busy && "two threads use one database connection");
    (void)was_busy;
}

static void leave(tix_db *db)
{
    atomic_store(&db->busy, false);
}

static tix_rc drv_exec(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_db_res **out)
{
    assert(n >= 0 && n <= TIX_DB_MAX_PARAMS && (n == 0 || params != NULL));
    enter(db);
    db->calls++;
    tix_rc rc = db->drv->exec(db, sql, params, n, out);
    leave(db);
    return rc;
}

static tix_rc ensure_open(tix_db *db)
{
    if (db->open && !db->drv->broken(db)) {
        return TIX_OK;
    }
    if (db->open) {
        tix_log_warn("database connection lost; reconnecting");
        db->drv->close(db);
        db->open = false;
    }
    end_tx(db);
    db->checked_ms = 0; /* a new connection may reach another replica: check it afresh */
    db->complete_as_of_ms = 0;
    tix_rc rc = db->drv->open(db, db->cfg);
    db->open = rc == TIX_OK;
    return rc;
}

static void pool_free(tix_db_pool *pool);

/* db_int.h. */
tix_rc tix_db_pool_new(const tix_config *cfg, int size, bool eager, tix_db_pool **out, char *err,
                       size_t errlen)
{
    tix_db_pool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TIX_ENOMEM;
    }
    p->cfg = *cfg;
    p->drv = cfg->db_kind == TIX_DB_POSTGRES ? &tix_db_pg_driver : &tix_db_sqlite_driver;
    p->size = size > 0 ? size : 1;
    p->conns = calloc((size_t)p->size, sizeof(*p->conns));
    p->free = calloc((size_t)p->size, sizeof(tix_db *));
    if (p->conns == NULL || p->free == NULL) {
        pool_free(p);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->write_mu, NULL);
    pthread_mutex_init(&p->lsn_mu, NULL);
    for (int i = 0; i < p->size; i++) {
        p->conns[i].pool = p;
        p->conns[i].drv = p->drv;
        p->conns[i].cfg = &p->cfg;
        p->free[i] = &p->conns[p->size - 1 - i];
    }
    p->nfree = p->size;
    if (!eager) {
        *out = p;
        return TIX_OK;
    }
    /* Fail fast: the first connection opens now. */
    tix_rc rc = ensure_open(&p->conns[0]);
    if (rc != TIX_OK) {
        snprintf(err, errlen, "cannot open the %s database: %s", p->drv->name,
                 p->conns[0].err[0] ? p->conns[0].err : tix_rc_name(rc));
        pool_free(p);
        return rc;
    }
    *out = p;
    return TIX_OK;
}

tix_rc tix_db_pool_create(const tix_config *cfg, int size, tix_db_pool **out, char *err,
                          size_t errlen)
{
    tix_db_pool *p = NULL;
    tix_rc rc = tix_db_pool_new(cfg, size, true, &p, err, errlen);
    if (rc == TIX_OK && cfg->db_kind == TIX_DB_POSTGRES && cfg->database_read_url[0] != '\0') {
        rc = tix_db_read_pool_create(p);
        if (rc != TIX_OK) {
            snprintf(err, errlen, "cannot make the read pool: %s", tix_rc_name(rc));
            tix_db_pool_destroy(p);
            return rc;
        }
    }
    if (rc == TIX_OK) {
        *out = p; /* untouched on failure */
    }
    return rc;
}

/* Frees one pool (not its read pool). NULL does nothing. */
static void pool_free(tix_db_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    for (int i = 0; pool->conns != NULL && i < pool->size; i++) {
        if (pool->conns[i].open) {
            pool->drv->close(&pool->conns[i]);
        }
    }
    if (pool->conns != NULL && pool->free != NULL) {
        assert(pool->nfree == pool->size && "a database connection was never released");
        pthread_mutex_destroy(&pool->mu);
        pthread_cond_destroy(&pool->cv);
        pthread_mutex_destroy(&pool->write_mu);
        pthread_mutex_destroy(&pool->lsn_mu);
    }
    free(pool->conns);
    free(pool->free);
    free(pool);
}

void tix_db_pool_destroy(tix_db_pool *pool)
{
    if (pool != NULL) {
        pool_free(pool->replica);
        pool_free(pool);
    }
}

tix_db_kind tix_db_pool_kind(const tix_db_pool *pool)
{
    return pool->cfg.db_kind;
}

/* The wait since t0 to the metric of pool `name` and to *wait_us (may be NULL). */
static void report_wait(const char *name, int64_t t0, int64_t *wait_us)
{
    int64_t waited = tix_mono_us() - t0;
    tix_metrics_db_wait(name, waited);
    if (wait_us != NULL) {
        *wait_us = waited;
    }
}

/* db_int.h. The one place a pool wait is measured: the metric and *wait_us get the same
 * number, from the call until a connection is taken off the free stack (or the time-out);
 * ensure_open's connecting comes after it and is no wait for the pool. */
tix_rc tix_db_lease(tix_db_pool *pool, bool wait, tix_db **out, int64_t *wait_us)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ACQUIRE_WAIT_MS / 1000;
    int64_t t0 = tix_mono_us();
    const char *name = pool->primary ? "replica" : "primary";
    if (wait_us != NULL) {
        *wait_us = 0;
    }
    pthread_mutex_lock(&pool->mu);
    while (pool->nfree == 0) {
        if (!wait) {
            pthread_mutex_unlock(&pool->mu);
            return TIX_EBUSY;
        }
        if (pthread_cond_timedwait(&pool->cv, &pool->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->mu);
            report_wait(name, t0, wait_us);
            tix_log_warn("no database connection became free within %d ms", ACQUIRE_WAIT_MS);
            return TIX_EUNAVAIL;
        }
    }
    tix_db *db = pool->free[--pool->nfree];
    assert(db->pool == pool && !db->leased && !db->in_tx && !db->write_locked);
    db->leased = true;
    db->calls = 0;
    pthread_mutex_unlock(&pool->mu);
    if (wait) { /* the waits of callers that would wait (a try that found none is no wait) */
        report_wait(name, t0, wait_us);
    }
    tix_rc rc = ensure_open(db);
    assert(rc != TIX_OK || db->open);
    if (rc != TIX_OK) {
        tix_db_release(pool, db);
        return TIX_EUNAVAIL;
    }
    *out = db;
    return TIX_OK;
}

tix_rc tix_db_acquire(tix_db_pool *pool, tix_db **out)
{
    return tix_db_lease(pool, true, out, NULL);
}

tix_rc tix_db_acquire_timed(tix_db_pool *pool, tix_db **out, int64_t *wait_us)
{
    return tix_db_lease(pool, true, out, wait_us);
}

void tix_db_release(tix_db_pool *pool, tix_db *db)
{
    if (db == NULL) {
        return;
    }
    assert(db->pool == pool || db->pool->primary == pool);
    pool = db->pool; /* a replica's connection goes back to the read pool */
    check_state(db);
    if (db->in_tx) {
        tix_db_rollback(db);
    }
    /* Never back in the pool inside a transaction or holding the write lock. */
    assert(!db->in_tx && !db->begin_pending && !db->write_locked);
    pthread_mutex_lock(&pool->mu);
    assert(db->leased && pool->nfree < pool->size); /* released once */
    db->leased = false;
    pool->free[pool->nfree++] = db;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

/* Runs a batch through the driver, sending a pending BEGIN with it. */
static tix_rc run_many(tix_db *db, tix_db_stmt *st, int n)
{
    const char *begin = db->begin_pending ? db->drv->begin_sql : NULL;
    assert(n >= 1 && n <= TIX_DB_MAX_BATCH + 1);
    db->begin_pending = false;
    if (db->drv->exec_many != NULL) {
        enter(db);
        db->calls++;
        tix_rc rc = db->drv->exec_many(db, begin, st, n, !db->in_tx);
        leave(db);
        return rc;
    }
    tix_rc first = begin != NULL ? drv_exec(db, begin, NULL, 0, NULL) : TIX_OK;
    for (int i = 0; i < n; i++) {
        if (first != TIX_OK && db->in_tx) {
            st[i].rc = first;
            continue;
        }
        st[i].ran = true;
        st[i].rc = drv_exec(db, st[i].sql, st[i].params, st[i].n, &st[i].res);
        first = first != TIX_OK ? first : st[i].rc;
    }
    return first;
}

static tix_rc check_batch(tix_db_stmt *st, int n)
{
    if (n < 1 || n > TIX_DB_MAX_BATCH + 1) {
        return TIX_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        if (st[i].n < 0 || st[i].n > TIX_DB_MAX_PARAMS) {
            return TIX_EINVAL;
        }
        st[i].rc = TIX_OK;
        st[i].ran = false;
        st[i].res = NULL;
    }
    return TIX_OK;
}

/* A batch that may run again on a fresh connection when the server went away: nothing of it
 * can have taken effect (it failed whole) and no earlier statement of its transaction ran. */
static tix_rc run_retrying(tix_db *db, tix_db_stmt *st, int n)
{
    bool was_tx = db->in_tx;
    bool fresh = !db->in_tx || db->begin_pending;
    tix_rc rc = run_many(db, st, n);
    bool none_ok = true;
    for (int i = 0; i < n; i++) {
        none_ok = none_ok && st[i].rc != TIX_OK;
    }
    /* ensure_open ends the transaction we had not begun. When it cannot connect, the
     * statements keep their failure (reset, they would read as succeeded with no rows). */
    if (rc == TIX_EUNAVAIL && fresh && none_ok && db->drv->broken(db) &&
        ensure_open(db) == TIX_OK) {
        tix_db_stmts_cleanup(st, n);
        (void)check_batch(st, n);
        db->in_tx = was_tx;
        db->begin_pending = was_tx;
        rc = run_many(db, st, n);
    }
    return rc;
}

tix_rc tix_db_exec_many(tix_db *db, tix_db_stmt *stmts, int n)
{
    if (n > TIX_DB_MAX_BATCH || check_batch(stmts, n) != TIX_OK) {
        return TIX_EINVAL;
    }
    return run_retrying(db, stmts, n);
}

tix_rc tix_db_begin_reading(tix_db *db, tix_db_stmt *stmts, int n, int nreads)
{
    assert(!db->in_tx && "tix_db_begin_reading inside a transaction (no nesting)");
    assert(nreads >= 0 && nreads < n && n <= TIX_DB_MAX_BATCH);
    if (db->in_tx || nreads < 0 || nreads >= n || n > TIX_DB_MAX_BATCH ||
        check_batch(stmts, n) != TIX_OK) {
        return TIX_EINVAL;
    }
    if (db->drv->lazy_begin) { /* all in the transaction: one round trip, one sync point */
        db->in_tx = true;
        db->begin_pending = true;
        return run_retrying(db, stmts, n);
    }
    /* The reads go first, outside the write lock that BEGIN takes. */
    tix_rc first = nreads > 0 ? run_retrying(db, stmts, nreads) : TIX_OK;
    tix_rc rc = tix_db_begin(db);
    if (rc == TIX_OK) {
        rc = run_retrying(db, stmts + nreads, n - nreads);
    } else {
        for (int i = nreads; i < n; i++) {
            stmts[i].rc = rc;
        }
    }
    return first != TIX_OK ? first : rc;
}

void tix_db_stmts_cleanup(tix_db_stmt *stmts, int n)
{
    for (int i = 0; i < n; i++) {
        tix_db_res_destroy(stmts[i].res);
        stmts[i].res = NULL;
    }
}

tix_rc tix_db_exec(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_db_res **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    check_state(db);
    assert(n >= 0 && (n == 0 || params != NULL));
    if (n > TIX_DB_MAX_PARAMS) { /* a run-time check too: callers build n from input */
        return TIX_EINVAL;
    }
    if (db->begin_pending) { /* the transaction's first statement takes BEGIN along */
        tix_db_stmt st = {.sql = sql, .params = params, .n = n};
        tix_rc rc = tix_db_exec_many(db, &st, 1);
        if (out != NULL) {
            *out = st.res;
        } else {
            tix_db_res_destroy(st.res);
        }
        return rc;
    }
    tix_rc rc = drv_exec(db, sql, params, n, out);
    if (rc == TIX_EUNAVAIL && !db->in_tx && db->drv->broken(db)) {
        /* The server went away between statements: one fresh connection, one retry. Inside a
         * transaction that would silently lose earlier statements, so we report instead. */
        if (ensure_open(db) == TIX_OK) {
            rc = drv_exec(db, sql, params, n, out);
        }
    }
    return rc;
}

tix_rc tix_db_exec_script(tix_db *db, const char *sql)
{
    if (db->begin_pending) {
        db->begin_pending = false;
        tix_rc rc = drv_exec(db, db->drv->begin_sql, NULL, 0, NULL);
        if (rc != TIX_OK) {
            return rc;
        }
    }
    enter(db);
    db->calls++;
    tix_rc rc = db->drv->exec_script(db, sql);
    leave(db);
    return rc;
}

static bool serial_writes(const tix_db *db)
{
    return db->cfg->db_kind == TIX_DB_SQLITE && db->pool != NULL;
}

tix_rc tix_db_begin(tix_db *db)
{
    check_state(db);
    assert(!db->in_tx && "tix_db_begin inside a transaction (no nesting)");
    if (db->in_tx) {
        return TIX_EINVAL; /* no nesting */
    }
    if (db->drv->lazy_begin) {
        db->in_tx = true;
        db->begin_pending = true;
        return TIX_OK;
    }
    bool serial = serial_writes(db);
    if (serial) {
        pthread_mutex_lock(&db->pool->write_mu);
    }
    tix_rc rc = tix_db_exec(db, db->drv->begin_sql, NULL, 0, NULL);
    if (rc == TIX_OK) {
        db->in_tx = true;
        db->write_locked = serial;
    } else if (serial) {
        pthread_mutex_unlock(&db->pool->write_mu);
    }
    return rc;
}

static void end_tx(tix_db *db)
{
    /* SQLite's write lock is held exactly while a transaction is open. */
    assert(db->write_locked == (db->in_tx && serial_writes(db)));
    if (db->write_locked) {
        db->write_locked = false;
        pthread_mutex_unlock(&db->pool->write_mu);
    }
    db->in_tx = false;
    db->begin_pending = false;
}

tix_rc tix_db_commit(tix_db *db)
{
    check_state(db);
    assert(db->in_tx && "tix_db_commit without a transaction");
    if (db->begin_pending) { /* nothing ran: nothing to commit */
        end_tx(db);
        return TIX_OK;
    }
    tix_rc rc = drv_exec(db, "COMMIT", NULL, 0, NULL);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    end_tx(db);
    return TIX_OK;
}

tix_rc tix_db_commit_after(tix_db *db, tix_db_stmt *stmts, int n)
{
    check_state(db);
    assert(db->in_tx && n >= 0 && n <= TIX_DB_MAX_BATCH);
    if (!db->in_tx || n < 0 || n > TIX_DB_MAX_BATCH) {
        return TIX_EINVAL;
    }
    if (n == 0) {
        return tix_db_commit(db);
    }
    tix_db_stmt all[TIX_DB_MAX_BATCH + 1];
    memcpy(all, stmts, sizeof(*stmts) * (size_t)n);
    all[n] = (tix_db_stmt){.sql = "COMMIT"};
    tix_rc rc = check_batch(all, n + 1);
    /* Never run again after a lost connection: the COMMIT may have been carried out. */
    rc = rc ? rc : run_many(db, all, n + 1);
    memcpy(stmts, all, sizeof(*stmts) * (size_t)n);
    tix_db_res_destroy(all[n].res);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    end_tx(db);
    return TIX_OK;
}

void tix_db_rollback(tix_db *db)
{
    if (!db->in_tx || db->begin_pending) { /* no transaction, or nothing of it was sent */
        end_tx(db);
        return;
    }
    if (db->open && !db->drv->broken(db)) {
        tix_rc rc = drv_exec(db, "ROLLBACK", NULL, 0, NULL);
        (void)rc; /* nothing to do if even the rollback fails: the connection will be reset */
    }
    end_tx(db);
}

int tix_db_calls(const tix_db *db)
{
    return db != NULL ? db->calls : 0;
}

bool tix_db_in_tx(const tix_db *db)
{
    return db->in_tx;
}

tix_db_kind tix_db_kind_of(const tix_db *db)
{
    return db->cfg->db_kind;
}

tix_rc tix_db_ping(tix_db *db)
{
    tix_rc rc = tix_db_exec(db, "SELECT 1", NULL, 0, NULL);
    return rc == TIX_OK ? TIX_OK : TIX_EUNAVAIL;
}

const char *tix_db_errmsg(const tix_db *db)
{
    return db->err;
}

void tix_db_set_error(tix_db *db, const char *sql, const char *msg)
{
    char head[48];
    size_t i = 0;
    for (; sql != NULL && sql[i] != '\0' && i < sizeof(head) - 1; i++) {
        char c = sql[i];
        if (c == '\n' || c == '\t') {
            c = ' ';
        }
        head[i] = c;
    }
    head[i] = '\0';
    snprintf(db->err, sizeof(db->err), "%s (in: %s...)", msg ? msg : "error", head);
    size_t n = strlen(db->err);
    while (n > 0 && (db->err[n - 1] == '\n' || db->err[n - 1] == ' ')) {
        db->err[--n] = '\0';
    }
}

/* ---- results ---- */

tix_db_res *tix_db_res_build(int rows, int cols, const char *const *cells, const int *lens)
{
    if (rows < 0 || cols < 0 || (cols > 0 && rows > (1 << 24) / cols)) {
        return NULL;
    }
    size_t ncells = (size_t)rows * (size_t)cols;
    size_t total = 0;
    for (size_t i = 0; i < ncells; i++) {
        total += cells[i] != NULL ? (size_t)lens[i] + 1 : 0;
    }
    tix_db_res *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->rows = rows;
    r->cols = cols;
    r->cells = calloc(ncells ? ncells : 1, sizeof(char *));
    r->text = malloc(total ? total : 1);
    if (r->cells == NULL || r->text == NULL) {
        tix_db_res_destroy(r);
        return NULL;
    }
    char *p = r->text;
    for (size_t i = 0; i < ncells; i++) {
        if (cells[i] != NULL) {
            memcpy(p, cells[i], (size_t)lens[i]);
            p[lens[i]] = '\0';
            r->cells[i] = p;
            p += lens[i] + 1;
        }
    }
    return r;
}

int tix_db_res_rows(const tix_db_res *res)
{
    return res ? res->rows : 0;
}

int tix_db_res_cols(const tix_db_res *res)
{
    return res ? res->cols : 0;
}

int64_t tix_db_res_changes(const tix_db_res *res)
{
    return res ? res->changes : 0;
}

const char *tix_db_res_text(const tix_db_res *res, int row, int col)
{
    if (res == NULL || row < 0 || col < 0 || row >= res->rows || col >= res->cols) {
        return NULL;
    }
    return res->cells[(size_t)row * (size_t)res->cols + (size_t)col];
}

int64_t tix_db_res_int(const tix_db_res *res, int row, int col)
{
    const char *s = tix_db_res_text(res, row, col);
    return s != NULL ? strtoll(s, NULL, 10) : 0;
}

bool tix_db_res_isnull(const tix_db_res *res, int row, int col)
{
    return tix_db_res_text(res, row, col) == NULL;
}

void tix_db_res_destroy(tix_db_res *res)
{
    if (res == NULL) {
        return;
    }
    free(res->cells);
    free(res->text);
    free(res);
}

char *tix_db_res_dup(tix_arena *a, const tix_db_res *res, int row, int col)
{
    const char *s = tix_db_res_text(res, row, col);
    return s != NULL ? tix_arena_strdup(a, s) : NULL;
}

tix_rc tix_db_exec_one(tix_db *db, const char *sql, const tix_dbv *params, int n, tix_rc none)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, params, n, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = none;
    }
    tix_db_res_destroy(res);
    return rc;
}

/* ---- migrations ---- */

static bool is_applied(tix_db *db, int version)
{
    tix_db_res *res = NULL;
    tix_dbv v = TIX_DB_INT(version);
    tix_rc rc = tix_db_exec(db, "SELECT 1 FROM schema_migrations WHERE version = $1", &v, 1, &res);
    bool yes = rc == TIX_OK && tix_db_res_rows(res) > 0;
    tix_db_res_destroy(res);
    return yes;
}

/* Whether the marker's rest of line d is exactly word (then the end of the line). */
static bool dialect_is(const char *d, const char *word)
{
    size_t n = strlen(word);
    return strncmp(d, word, n) == 0 && (d[n] == '\0' || d[n] == '\n' || d[n] == '\r');
}

/* Dialect blocks. A migration is portable SQL, but for the few things the two databases spell
 * differently (triggers): a line "-- dialect: sqlite" or "-- dialect: postgres" starts a block
 * that only that database runs, "-- dialect: all" ends it. Other lines are kept for both. A
 * marker naming anything else drops its block everywhere (tests/unit/test_audit.c checks that
 * every migration's markers are the three words). */
char *tix_db_dialect_sql(const char *sql, tix_db_kind kind)
{
    size_t n = strlen(sql);
    char *out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    bool keep = true;
    const char *line = sql;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) + 1 : strlen(line);
        static const char marker[] = "-- dialect: ";
        if (strncmp(line, marker, sizeof(marker) - 1) == 0) {
            const char *d = line + sizeof(marker) - 1;
            keep = dialect_is(d, "all") || (kind == TIX_DB_SQLITE && dialect_is(d, "sqlite")) ||
                   (kind == TIX_DB_POSTGRES && dialect_is(d, "postgres"));
        } else if (keep) {
            memcpy(out + o, line, len);
            o += len;
        }
        line += len;
    }
    out[o] = '\0';
    return out;
}

static tix_rc apply_one(tix_db *db, const tix_migration *m, bool *ran)
{
    *ran = false;
    tix_rc rc = tix_db_begin(db);
    if (rc != TIX_OK) {
        return rc;
    }
    if (is_applied(db, m->version)) { /* another server got there first */
        tix_db_rollback(db);
        return TIX_OK;
    }
    char *sql = tix_db_dialect_sql(m->sql, tix_db_kind_of(db));
    rc = sql != NULL ? tix_db_exec_script(db, sql) : TIX_ENOMEM;
    free(sql);
    if (rc == TIX_OK) {
        tix_dbv p[3] = {TIX_DB_INT(m->version), TIX_DB_TEXT(m->name), TIX_DB_INT(tix_now_ms())};
        rc = tix_db_exec(db,
                         "INSERT INTO schema_migrations (version, name, applied_at) "
                         "VALUES ($1, $2, $3)",
                         p, 3, NULL);
    }
    if (rc != TIX_OK) {
        tix_log_error("migration %s failed: %s", m->name, db->err);
        tix_db_rollback(db);
        return rc;
    }
    rc = tix_db_commit(db);
    *ran = rc == TIX_OK;
    return rc;
}

tix_rc tix_db_migrate(tix_db *db, int *applied)
{
    *applied = 0;
    tix_rc rc = TIX_OK;
    if (db->drv->lock_migrations != NULL && (rc = db->drv->lock_migrations(db)) != TIX_OK) {
        return rc;
    }
    rc = tix_db_exec_script(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                " version BIGINT PRIMARY KEY,"
                                " name TEXT NOT NULL,"
                                " applied_at BIGINT NOT NULL)");
    for (int i = 0; i < tix_migrations_count && rc == TIX_OK; i++) {
        bool ran = false;
        if (is_applied(db, tix_migrations[i].version)) {
            continue;
        }
        rc = apply_one(db, &tix_migrations[i], &ran);
        if (ran) {
            tix_log_info("applied migration %s", tix_migrations[i].name);
            (*applied)++;
        }
    }
    if (db->drv->unlock_migrations != NULL) {
        db->drv->unlock_migrations(db);
    }
    return rc;
}
