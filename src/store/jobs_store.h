/*
 * SQL for the lifecycle jobs (src/jobs): job leases and the log of runs, and the few
 * statements the jobs need that no other module has (which shows, holds, bookings and refunds
 * are due; what to purge). Every function is one statement unless it says otherwise, safe
 * outside a transaction; callers own transactions. Strings in returned structs live in the
 * caller's arena. Times are ms since the epoch, always passed in (never read from the clock
 * here), so tests can play with them.
 *
 * The lease is one portable statement (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE ...
 * RETURNING, accepted by SQLite 3.40 and PostgreSQL 15): a row comes back iff the caller holds
 * the lease afterwards. The database decides between two servers trying at once.
 */
#ifndef TIX_STORE_JOBS_STORE_H
#define TIX_STORE_JOBS_STORE_H

#include "core/arena.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Takes the lease of job `name` for holder until now + lease_ms if it is free, lapsed
 * (expires_at <= now) or already the holder's (a renewal). OUT: *held; when held,
 * *next_run_at, when the job is next due (0 for a job never run). */
TIX_MUSTCHECK tix_rc tix_jobs_lease_acquire(tix_db *db, const char *name, const char *holder,
                                            int64_t now, int64_t lease_ms, bool *held,
                                            int64_t *next_run_at);

/* Claims the run due at or before now: moves next_run_at to `next` if holder still holds the
 * lease and the job is due. OUT: *claimed. Of two servers only one can claim a run. */
TIX_MUSTCHECK tix_rc tix_jobs_claim_run(tix_db *db, const char *name, const char *holder,
                                        int64_t now, int64_t next, bool *claimed);

/* Lets holder's lease of job `name` lapse now (expires_at = 0), keeping next_run_at, so another
 * server takes it over at its next tick and runs nothing early. Nothing when another holds it.
 * One row per call: a caller giving several up picks the order the rows are locked in (a single
 * UPDATE of all of a holder's rows locks them in the heap's order; see jobs.h). */
TIX_MUSTCHECK tix_rc tix_jobs_lease_release(tix_db *db, const char *name, const char *holder);

/* The job_runs row of a run: inserted when it starts, completed when it ends. counts is a
 * JSON object; error is NULL for a run that went well. */
TIX_MUSTCHECK tix_rc tix_jobs_run_begin(tix_db *db, const char *id, const char *name,
                                        const char *holder, int64_t started_at);
TIX_MUSTCHECK tix_rc tix_jobs_run_finish(tix_db *db, const char *id, int64_t finished_at,
                                         const char *counts, const char *error);

/* Stored show status follows the clock: scheduled shows whose start has passed (and end has
 * not) become running; scheduled or running shows whose end has passed become completed.
 * Cancelled shows are never touched. OUT: how many rows each statement changed. */
TIX_MUSTCHECK tix_rc tix_jobs_shows_advance(tix_db *db, int64_t now, int64_t *running,
                                            int64_t *completed);

/* Ids of pending_payment bookings whose payment window ended at or before now, oldest first,
 * at most limit. OUT: *ids (arena), *n. */
TIX_MUSTCHECK tix_rc tix_jobs_bookings_due(tix_db *db, tix_arena *a, int64_t now, int limit,
                                           char ***ids, int *n);

typedef struct tix_jobs_hold {
    char *id;
    char *show_id;
} tix_jobs_hold;

/* Active holds (never booked) that expired at or before `before`, oldest first, at most
 * limit. OUT: *items (arena), *n. */
TIX_MUSTCHECK tix_rc tix_jobs_holds_due(tix_db *db, tix_arena *a, int64_t before, int limit,
                                        tix_jobs_hold **items, int *n);
/* Marks hold id released if it is still active and expired at or before `before`.
 * TIX_ECONFLICT when it was not (booked, released or renewed meanwhile). */
TIX_MUSTCHECK tix_rc tix_jobs_hold_retire(tix_db *db, const char *id, int64_t before, int64_t now);

/* A hold the expire job tells its user about (jobs/lifecycle.c, the user channel of http/ws.h). */
typedef struct tix_jobs_hold_notice {
    char *id;
    char *show_id;
    char *user_id;
    int64_t expires_at;
} tix_jobs_hold_notice;

/* Claims, at most limit, the holds whose last minute has come: expiring after now and at or
 * before until, never noticed so far (expiring_sent_at, migration 0025), either still active or
 * behind a booking still pending_payment (its payment window is the hold's). Sets their
 * expiring_sent_at to now in the statement that selects them, so two runs never both get one.
 * OUT: *items (arena), *n. */
TIX_MUSTCHECK tix_rc tix_jobs_holds_expiring_claim(tix_db *db, tix_arena *a, int64_t now,
                                                   int64_t until, int limit,
                                                   tix_jobs_hold_notice **items, int *n);
/* The same for holds that ran out unbooked: active, expired at or before now, never noticed
 * (expired_sent_at). A hold behind a booking is the booking's business (its expiry sends
 * hold_expired with the booking's id). OUT: *items (arena), *n. */
TIX_MUSTCHECK tix_rc tix_jobs_holds_expired_claim(tix_db *db, tix_arena *a, int64_t now, int limit,
                                                  tix_jobs_hold_notice **items, int *n);

typedef struct tix_jobs_refund {
    char *id;
    int attempts;
    int64_t updated_at;
} tix_jobs_refund;

/* Refunds worth sending again, least recently tried first, at most limit: failed ones last
 * tried at or before failed_before, and pending ones that never got a provider id (the
 * provider call after the commit never happened) last touched at or before pending_before;
 * both with fewer than max_attempts provider calls. OUT: *items (arena), *n. */
TIX_MUSTCHECK tix_rc tix_jobs_refunds_due(tix_db *db, tix_arena *a, int64_t failed_before,
                                          int64_t pending_before, int max_attempts, int limit,
                                          tix_jobs_refund **items, int *n);

/* Deletes idempotency keys created before keys_before, refresh tokens that expired or were
 * revoked before tokens_before, and job runs started before runs_before. OUT: rows deleted of
 * each (any OUT pointer may be NULL). Three statements; a failure stops at that one. */
TIX_MUSTCHECK tix_rc tix_jobs_purge(tix_db *db, int64_t keys_before, int64_t tokens_before,
                                    int64_t runs_before, int64_t *keys, int64_t *tokens,
                                    int64_t *runs);

#endif
