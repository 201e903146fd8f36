/*
 * The read-replica pool (DATABASE_READ_URL, PostgreSQL only), the "read replicas" that db.h,
 * db_pg.c and docs/architecture.md point to. Split from db.c, whose pool and connections it
 * uses through db_int.h.
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
 * A replica that cannot be reached marks the read pool down for REPLICA_DOWN_MS: reads go to the
 * primary without trying it meanwhile. One that is reached but does not answer (stalled:
 * SIGSTOP, a hung host) is the same: the read pool's connections wait READ_REPLICA_TIMEOUT at
 * most for any answer (db_pg.c, bounded waits), then the call fails with TIX_EUNAVAIL and the
 * read is done on the primary (http/reply.c tix_req_db_read_again). *
 * Who owns what. The read pool belongs to the primary's pool (`replica`; freed with it by
 * tix_db_pool_destroy) and points back (`primary`). A connection tix_db_acquire_read hands out
 * is the caller's until tix_db_release, which returns it to the pool it came from. Its
 * checked_ms and complete_as_of_ms are touched only by the thread that leases it (db.c resets
 * them on a reconnect: a new connection may reach another replica).
 *
 * Locks. The WAL ring lives on the primary's pool under its lsn_mu, held only to read or write
 * the ring, never across a query or while waiting for a connection; connections are leased
 * through tix_db_lease, which takes the pool's mu itself. down_until_ms and the read counters
 * are atomics.
 *
 * Invariants (assert()ed in debug and sanitizer builds):
 *   - only a primary's pool has a read pool, only a read pool has a primary, and a read pool
 *     has no read pool of its own; the two are the same size;
 *   - 0 <= nsamples <= the ring's size, 0 <= next_sample < the ring's size;
 *   - replay checks run only on a read pool's connection, WAL samples only on the primary's;
 *   - a connection handed out as a replica's is its read pool's and was complete as of at most
 *     max_lag_ms ago when checked (*stale_ms says how long ago); any other is the primary's,
 *     with *stale_ms 0;
 *   - reads_replica counts exactly the replica connections handed out, reads_primary the
 *     primary ones given while a read pool exists.
 */
#include "core/log.h"
#include "store/db.h"
#include "store/db_driver.h"
#include "store/db_int.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define REPLICA_DOWN_MS 1000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

tix_rc tix_db_read_pool_create(tix_db_pool *primary)
{
    assert(primary->primary == NULL && primary->replica == NULL);
    tix_config rc_cfg = primary->cfg;
    memcpy(rc_cfg.database_url, rc_cfg.database_read_url, sizeof(rc_cfg.database_url));
    rc_cfg.db_wait_ms = primary->cfg.read_timeout_ms; /* a stalled replica never holds a read */
    tix_db_pool *rp = NULL;
    char err[256]; /* tix_db_pool_new's reason; a lazy pool opens nothing, so it has none */
    tix_rc rc = tix_db_pool_new(&rc_cfg, primary->size, false, &rp, err, sizeof(err));
    if (rc != TIX_OK) {
        return rc;
    }
    rp->primary = primary;
    primary->replica = rp;
    int64_t lag = primary->cfg.read_max_lag_ms;
    primary->max_lag_ms = lag;
    primary->check_ms = lag / 4 < 20 ? 20 : lag / 4 > 250 ? 250 : lag / 4;
    assert(rp->size == primary->size && rp->replica == NULL);
    tix_log_info("seat maps and listings may read from DATABASE_READ_URL while its replay lag is "
                 "under %lld ms",
                 (long long)lag);
    return TIX_OK;
}

/* Records the primary's WAL position, when a sample is due and a primary connection is free. */
static void sample_primary(tix_db_pool *pool, int64_t now)
{
    assert(pool->primary == NULL && pool->replica != NULL);
    pthread_mutex_lock(&pool->lsn_mu);
    bool due = now - pool->last_sample_ms >= pool->check_ms;
    if (due) {
        pool->last_sample_ms = now; /* one thread samples; the others use the ring */
    }
    pthread_mutex_unlock(&pool->lsn_mu);
    tix_db *db = NULL;
    if (!due || tix_db_lease(pool, false, &db, NULL) != TIX_OK) {
        return;
    }
    int64_t at = mono_ms();
    tix_db_res *res = NULL;
    tix_rc rc =
        tix_db_exec(db, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", NULL, 0, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 1 && !tix_db_res_isnull(res, 0, 0)) {
        pthread_mutex_lock(&pool->lsn_mu);
        int n = TIX_DB_WAL_RING;
        pool->samples[pool->next_sample] =
            (struct wal_sample){at, (uint64_t)tix_db_res_int(res, 0, 0)};
        pool->next_sample = (pool->next_sample + 1) % n;
        pool->nsamples += pool->nsamples < n;
        assert(pool->nsamples >= 1 && pool->nsamples <= n);
        assert(pool->next_sample >= 0 && pool->next_sample < n);
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
    assert(pool->nsamples >= 0 && pool->nsamples <= TIX_DB_WAL_RING);
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
    assert(pool->replica != NULL && db->pool == pool->replica && tix_db_is_replica(db));
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

tix_rc tix_db_acquire_read(tix_db_pool *pool, tix_db **out, int64_t *stale_ms, int64_t *wait_us)
{
    *stale_ms = 0;
    *wait_us = 0; /* a replica's connection is only taken when one is free: no wait */
    assert(pool->primary == NULL && "tix_db_acquire_read takes the primary's pool");
    tix_db_pool *rp = pool->replica;
    assert(rp == NULL || (rp->primary == pool && rp->replica == NULL));
    int64_t now = mono_ms();
    if (rp != NULL && now >= atomic_load(&rp->down_until_ms)) {
        tix_db *db = NULL;
        tix_rc rc = tix_db_lease(rp, false, &db, NULL);
        if (rc == TIX_OK) {
            rc = check_replica(pool, db, now);
        }
        if (rc == TIX_OK && db->complete_as_of_ms != 0 &&
            mono_ms() - db->complete_as_of_ms <= pool->max_lag_ms) {
            *stale_ms = mono_ms() - db->complete_as_of_ms;
            assert(db->pool == rp && *stale_ms >= 0);
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
    return tix_db_acquire_timed(pool, out, wait_us);
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
