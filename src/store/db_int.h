/*
 * Private to the pool: db.c (connections, transactions, results, migrations) and db_read.c
 * (the read-replica pool) are one unit split by topic; nothing else includes this header.
 *
 * Who owns what. A tix_db_pool and its connections belong to whoever called
 * tix_db_pool_create (app.c), freed by tix_db_pool_destroy; the primary's pool owns its read
 * pool (`replica`, made and filled by db_read.c, freed with the primary). db.c owns the fields
 * from `mu` to `free` and how connections are leased; db_read.c owns the read-replica fields
 * below them and only reads the rest.
 *
 * Locks: `mu` guards nfree, free[] and every connection's `leased`; `write_mu` is SQLite's
 * writer queue (db.c); `lsn_mu` guards the WAL ring (last_sample_ms, nsamples, next_sample,
 * samples[]) of a primary's pool. No thread holds two of them at once. down_until_ms and the
 * read counters are atomics, taken without a lock.
 */
#ifndef TIX_STORE_DB_INT_H
#define TIX_STORE_DB_INT_H

#include "store/db_driver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many of the primary's WAL positions db_read.c keeps (one per check period). */
#define TIX_DB_WAL_RING 64

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
    /* Read replicas (db_read.c). On the primary's pool: replica is the read pool or NULL, and
     * the ring of the primary's WAL positions (under lsn_mu). On a read pool: primary points
     * back, down_until_ms is when to try the replicas again. */
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
    } samples[TIX_DB_WAL_RING];
    atomic_ullong reads_replica;
    atomic_ullong reads_primary;
};

/* db.c. A pool of size connections on cfg's database (copied); `eager`: open one connection
 * now and fail if it cannot (a read pool opens lazily: replicas being down must not stop the
 * server). On failure *out is untouched and err says why. */
tix_rc tix_db_pool_new(const tix_config *cfg, int size, bool eager, tix_db_pool **out, char *err,
                       size_t errlen);

/* db.c. A connection of pool, waiting for one to free up (wait) or not: TIX_EBUSY when none is
 * free (and !wait), TIX_EUNAVAIL when it cannot be opened or none freed up in time. Release
 * with tix_db_release. OUT (may be NULL): *wait_us, the pool wait as db.h's
 * tix_db_acquire_timed defines it, also on failure; 0 for a lease that would not wait (which
 * the metric does not count either). */
tix_rc tix_db_lease(tix_db_pool *pool, bool wait, tix_db **out, int64_t *wait_us);

/* db_read.c. Gives primary (a PostgreSQL pool with DATABASE_READ_URL set, no read pool yet)
 * its read pool, opened lazily; freed by tix_db_pool_destroy with the primary. */
tix_rc tix_db_read_pool_create(tix_db_pool *primary);

#endif
