/*
 * The driver-independent half of the storage layer: the connection pool, transactions,
 * results and the migration runner. The pool is a fixed array guarded by one mutex; a
 * connection belongs to exactly one thread between acquire and release.
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
#include "store/migrations.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACQUIRE_WAIT_MS 5000

struct tix_db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* SQLite allows one writer at a time. Its busy handler makes waiting writers sleep and
     * poll, which is slow and unfair under load; so this process queues its writers on a
     * mutex instead (held from BEGIN to COMMIT/ROLLBACK). Other processes on the same file
     * still meet the busy time-out. PostgreSQL needs no such thing. */
    pthread_mutex_t write_mu;
    const tix_db_driver *drv;
    tix_config cfg; /* a copy: connections point at it */
    int size;
    int nfree;
    tix_db *conns;
    tix_db **free; /* stack of free connections */
    /* Read replicas (see "read replicas" below). On the primary's pool: replica is the read
     * pool or NULL, and the ring of the primary's WAL positions (under lsn_mu). On a read
     * pool: primary points back, down_until_ms is when to try the replicas again. */
    tix_db_pool *replica;
    tix_db_pool *primary;
    int64_t max_lag_ms;
    int64_t check_ms;
    _Atomic int64_t down_until_ms;
    pthread_mutex_t lsn_mu;
    int64_t last_sample_ms; /* when a sample was last due (taken or tried) */
    int nsamples;
    int next_sample;
    struct wal_sample {
        int64_t at_ms; /* monotonic, just before the query */
        uint64_t lsn;  /* pg_current_wal_lsn() as a byte position */
    } samples[64];
    atomic_ullong reads_replica;
    atomic_ullong reads_primary;
};

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

static tix_rc create_replica_pool(tix_db_pool *primary);
static void pool_free(tix_db_pool *pool);

/* A pool; `eager`: open one connection now and fail if it cannot (a read pool opens lazily:
 * replicas being down must not stop the server). */
static tix_rc pool_create(const tix_config *cfg, int size, bool eager, tix_db_pool **out, char *err,
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
    tix_rc rc = pool_create(cfg, size, true, &p, err, errlen);
    if (rc == TIX_OK && cfg->db_kind == TIX_DB_POSTGRES && cfg->database_read_url[0] != '\0') {
        rc = create_replica_pool(p);
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

/* A connection of pool, waiting for one to free up (wait) or not: TIX_EBUSY when none is
 * free (and !wait), TIX_EUNAVAIL when it cannot be opened or none freed up in time. */
static tix_rc acquire(tix_db_pool *pool, bool wait, tix_db **out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ACQUIRE_WAIT_MS / 1000;
    int64_t t0 = tix_mono_us();
    pthread_mutex_lock(&pool->mu);
    while (pool->nfree == 0) {
        if (!wait) {
            pthread_mutex_unlock(&pool->mu);
            return TIX_EBUSY;
        }
        if (pthread_cond_timedwait(&pool->cv, &pool->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->mu);
            tix_metrics_db_wait(pool->primary ? "replica" : "primary", tix_mono_us() - t0);
            tix_log_warn("no database connection became free within %d ms", ACQUIRE_WAIT_MS);
            return TIX_EUNAVAIL;
        }
    }
    tix_db *db = pool->free[--pool->nfree];
    assert(db->pool == pool && !db->leased && !db->in_tx && !db->write_locked);
    db->leased = true;
    pthread_mutex_unlock(&pool->mu);
    if (wait) { /* the waits of callers that would wait (a try that found none is no wait) */
        tix_metrics_db_wait(pool->primary ? "replica" : "primary", tix_mono_us() - t0);
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
    return acquire(pool, true, out);
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

/* ---- read replicas ----
 *
 * The read pool is a second pool of the same size on DATABASE_READ_URL (a copy of the
 * configuration with that URL as its database), opened lazily. tix_db_acquire_read hands out
 * one of its connections only when that connection's server is known to be complete as of at
 * most READ_MAX_LAG ago; otherwise, or when the replicas are down or all their connections
 * busy, a connection of the primary's pool, so a read never waits or fails because of a
 * replica.
 *
 * How far behind a replica is. `now() - pg_last_xact_replay_timestamp()` on the replica
 * measures the time since the last replayed commit, which on an idle primary grows without the
 * replica being behind at all. Instead this pool samples the primary's WAL position
 * (pg_current_wal_lsn(), at most once per check period, on a primary connection that is free at
 * that moment) into a ring of (instant, position); a replica connection compares its replay
 * position (pg_last_wal_replay_lsn()) with the ring: if it has replayed past the position
 * sampled at instant t, it holds every commit acknowledged before t, so its data is at most
 * now - t old. That is a bound, not an estimate, and it is 0 on an idle primary. (A heartbeat
 * row written by the primary would do too, but costs a write, WAL and a synchronous-standby
 * wait every period, and a job that must keep running.) The verdict is kept per connection for
 * one check period (READ_MAX_LAG / 4, 20..250 ms) and ages with the clock meanwhile: a
 * connection complete as of t stays usable while now - t <= READ_MAX_LAG. A server not in
 * recovery (a promoted replica, or prefer-standby that found only the primary) is current.
 *
 * A replica that cannot be reached marks the read pool down for DOWN_MS: reads go to the
 * primary without trying it meanwhile. One that is reached but does not answer (stalled:
 * SIGSTOP, a hung host) is the same: the read pool's connections wait READ_REPLICA_TIMEOUT at
 * most for any answer (db_pg.c, bounded waits), then the call fails with TIX_EUNAVAIL and the
 * read is done on the primary (http/reply.c tix_req_db_read_again). */
#define REPLICA_DOWN_MS 1000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tix_rc create_replica_pool(tix_db_pool *primary)
{
    tix_config rc_cfg = primary->cfg;
    memcpy(rc_cfg.database_url, rc_cfg.database_read_url, sizeof(rc_cfg.database_url));
    rc_cfg.db_wait_ms = primary->cfg.read_timeout_ms; /* a stalled replica never holds a read */
    tix_db_pool *rp = NULL;
    char err[256];
    tix_rc rc = pool_create(&rc_cfg, primary->size, false, &rp, err, sizeof(err));
    if (rc != TIX_OK) {
        return rc;
    }
    rp->primary = primary;
    primary->replica = rp;
    int64_t lag = primary->cfg.read_max_lag_ms;
    primary->max_lag_ms = lag;
    primary->check_ms = lag / 4 < 20 ? 20 : lag / 4 > 250 ? 250 : lag / 4;
    tix_log_info("seat maps and listings may read from DATABASE_READ_URL while its replay lag is "
                 "under %lld ms",
                 (long long)lag);
    return TIX_OK;
}

/* Records the primary's WAL position, when a sample is due and a primary connection is free. */
static void sample_primary(tix_db_pool *pool, int64_t now)
{
    pthread_mutex_lock(&pool->lsn_mu);
    bool due = now - pool->last_sample_ms >= pool->check_ms;
    if (due) {
        pool->last_sample_ms = now; /* one thread samples; the others use the ring */
    }
    pthread_mutex_unlock(&pool->lsn_mu);
    tix_db *db = NULL;
    if (!due || acquire(pool, false, &db) != TIX_OK) {
        return;
    }
    int64_t at = mono_ms();
    tix_db_res *res = NULL;
    tix_rc rc =
        tix_db_exec(db, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", NULL, 0, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 1 && !tix_db_res_isnull(res, 0, 0)) {
        pthread_mutex_lock(&pool->lsn_mu);
        int n = (int)(sizeof(pool->samples) / sizeof(pool->samples[0]));
        pool->samples[pool->next_sample] =
            (struct wal_sample){at, (uint64_t)tix_db_res_int(res, 0, 0)};
        pool->next_sample = (pool->next_sample + 1) % n;
        pool->nsamples += pool->nsamples < n;
        pthread_mutex_unlock(&pool->lsn_mu);
    }
    tix_db_res_destroy(res);
    tix_db_release(pool, db);
}

/* The newest sampled instant whose position replay has reached; 0 when none. */
static int64_t complete_as_of(tix_db_pool *pool, uint64_t replay)
{
    int64_t best = 0;
    pthread_mutex_lock(&pool->lsn_mu);
    for (int i = 0; i < pool->nsamples; i++) {
        if (pool->samples[i].lsn <= replay && pool->samples[i].at_ms > best) {
            best = pool->samples[i].at_ms;
        }
    }
    pthread_mutex_unlock(&pool->lsn_mu);
    return best;
}

/* Re-checks replica connection db when its verdict is older than a period. TIX_EUNAVAIL when
 * the replica did not answer. */
static tix_rc check_replica(tix_db_pool *pool, tix_db *db, int64_t now)
{
    if (db->checked_ms != 0 && now - db->checked_ms < pool->check_ms) {
        return TIX_OK;
    }
    sample_primary(pool, now);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT pg_is_in_recovery()::int, "
                            "(pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint",
                            NULL, 0, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 1) {
        bool standby = tix_db_res_int(res, 0, 0) != 0;
        int64_t checked = mono_ms();
        db->checked_ms = checked;
        db->complete_as_of_ms = !standby ? checked
                                : tix_db_res_isnull(res, 0, 1)
                                    ? 0
                                    : complete_as_of(pool, (uint64_t)tix_db_res_int(res, 0, 1));
    }
    tix_db_res_destroy(res);
    return rc == TIX_OK ? TIX_OK : TIX_EUNAVAIL;
}

void tix_db_replica_failed(tix_db_pool *pool)
{
    if (pool->replica != NULL) {
        atomic_store(&pool->replica->down_until_ms, mono_ms() + REPLICA_DOWN_MS);
    }
}

tix_rc tix_db_acquire_read(tix_db_pool *pool, tix_db **out, int64_t *stale_ms)
{
    *stale_ms = 0;
    tix_db_pool *rp = pool->replica;
    int64_t now = mono_ms();
    if (rp != NULL && now >= atomic_load(&rp->down_until_ms)) {
        tix_db *db = NULL;
        tix_rc rc = acquire(rp, false, &db);
        if (rc == TIX_OK) {
            rc = check_replica(pool, db, now);
        }
        if (rc == TIX_OK && db->complete_as_of_ms != 0 &&
            mono_ms() - db->complete_as_of_ms <= pool->max_lag_ms) {
            *stale_ms = mono_ms() - db->complete_as_of_ms;
            atomic_fetch_add(&pool->reads_replica, 1);
            *out = db;
            return TIX_OK;
        }
        if (rc == TIX_EUNAVAIL) {
            tix_log_warn("the read replica is unreachable; reading from the primary for %d ms",
                         REPLICA_DOWN_MS);
            tix_db_replica_failed(pool);
        }
        tix_db_release(pool, db); /* NULL does nothing */
    }
    if (rp != NULL) {
        atomic_fetch_add(&pool->reads_primary, 1);
    }
    return tix_db_acquire(pool, out);
}

bool tix_db_is_replica(const tix_db *db)
{
    return db != NULL && db->pool != NULL && db->pool->primary != NULL;
}

void tix_db_read_counts(const tix_db_pool *pool, unsigned long long *replica,
                        unsigned long long *primary)
{
    *replica = atomic_load(&((tix_db_pool *)pool)->reads_replica);
    *primary = atomic_load(&((tix_db_pool *)pool)->reads_primary);
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
