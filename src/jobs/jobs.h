/*
 * Lifecycle jobs and their scheduler.
 *
 * A job is one function that keeps some stored state true as time passes (show status, unpaid
 * bookings and stale holds, with the user channel's hold_expiring and hold_expired notices,
 * failed refunds, unreconciled payments, old rows, refunds whose outcome the provider never
 * reported, recommendations learned from bookings). Each is
 * idempotent, safe to run while requests are served, and reports what it did as named counts.
 *
 * The scheduler is one thread per server (tix_jobs_start). Every JOB_TICK it renews, in one
 * transaction, the lease of every job it holds and takes those that are free or lapsed (a lease
 * is a row in job_leases; see store/jobs_store.h); then, for each job it holds whose
 * next_run_at has come, it claims the run (moving next_run_at one interval on, atomically) and
 * runs it. Each run is a row in job_runs with its counts and one JSON log line. So a job runs
 * on one server at a time; when its holder dies, another server takes the lease over once it
 * lapses (at most JOB_LEASE + one tick later) and runs the job when it is next due, never
 * earlier. Servers' clocks are compared through the leases: keep them in sync (NTP), well
 * within JOB_LEASE.
 *
 * A run longer than JOB_LEASE loses its lease meanwhile (the holder renews between runs); the
 * next run is still not due before next_run_at, so a run only overlaps the next one when it
 * takes longer than both the lease and the job's interval. The jobs are idempotent, so even
 * that costs time, not correctness.
 */
#ifndef TIX_JOBS_JOBS_H
#define TIX_JOBS_JOBS_H

#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "pay/pay.h"
#include "store/db.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_JOB_COUNTS_MAX  8
#define TIX_JOBS_HOLDER_MAX 160

/* What a run did: names (static strings) and values, in the order first set. */
typedef struct tix_job_counts {
    int n;
    const char *name[TIX_JOB_COUNTS_MAX];
    int64_t value[TIX_JOB_COUNTS_MAX];
} tix_job_counts;

/* Adds v to the count `name` (a static string), creating it at 0 first. */
void tix_job_count_add(tix_job_counts *c, const char *name, int64_t v);
/* The count `name`, 0 when absent. */
int64_t tix_job_count_get(const tix_job_counts *c, const char *name);
/* The counts as a JSON object ({"running":1,"completed":0}) into out (cap bytes, always
 * terminated; cut if too small). */
void tix_job_counts_json(const tix_job_counts *c, char *out, size_t cap);

/* What a job gets: a connection it may use for transactions, an arena for results (freed by
 * the caller after the run), the time of the run, and a stop flag that long jobs check
 * between items (NULL: never stopped). */
typedef struct tix_job_ctx {
    tix_db *db;
    tix_arena *a;
    const tix_config *cfg;
    tix_pay_provider *pay;
    int64_t now;
    const atomic_bool *stop;
    /* the ticket keyring (app.h), for the tickets attached to a booking's mail; NULL: none */
    const struct tix_ticket_keyring *ticket_keys;
} tix_job_ctx;

/* A job: fills *out (zeroed by the caller) even when it fails part way. TIX_OK, or the code
 * that stopped it (TIX_EUNAVAIL when the database or the provider is down). */
typedef tix_rc (*tix_job_fn)(tix_job_ctx *c, tix_job_counts *out);

typedef struct tix_job {
    const char *name;
    tix_job_fn run;
    size_t interval_field; /* offsetof(tix_config, job_..._ms) */
} tix_job;

/* The jobs, in the order a tick considers them. */
extern const tix_job tix_jobs_table[];
extern const int tix_jobs_table_count;

/* The job called name, or NULL. */
const tix_job *tix_job_find(const char *name);
int64_t tix_job_interval_ms(const tix_job *job, const tix_config *cfg);

/* The jobs themselves (jobs/lifecycle.c). */
TIX_MUSTCHECK tix_rc tix_job_shows(tix_job_ctx *c, tix_job_counts *out);
TIX_MUSTCHECK tix_rc tix_job_expire(tix_job_ctx *c, tix_job_counts *out);
TIX_MUSTCHECK tix_rc tix_job_refunds(tix_job_ctx *c, tix_job_counts *out);
TIX_MUSTCHECK tix_rc tix_job_reconcile(tix_job_ctx *c, tix_job_counts *out);
TIX_MUSTCHECK tix_rc tix_job_purge(tix_job_ctx *c, tix_job_counts *out);
TIX_MUSTCHECK tix_rc tix_job_refund_poll(tix_job_ctx *c, tix_job_counts *out);
/* Recommendations: movie similarity and seat preference learned again (booking/reco.h). */
TIX_MUSTCHECK tix_rc tix_job_reco(tix_job_ctx *c, tix_job_counts *out);
/* The mail outbox (jobs/mail.c). */
TIX_MUSTCHECK tix_rc tix_job_mail(tix_job_ctx *c, tix_job_counts *out);

/* "<prefix><hostname>:<pid>:<8 random hex digits>": who holds a lease or ran a job. */
void tix_jobs_holder_id(char out[TIX_JOBS_HOLDER_MAX], const char *prefix);

/* Renews or takes, in one transaction, the lease of every job for holder at now. OUT: held[i]
 * and next_run_at[i] for tix_jobs_table[i] (arrays of tix_jobs_table_count). */
TIX_MUSTCHECK tix_rc tix_jobs_leases_renew(tix_db *db, const tix_config *cfg, const char *holder,
                                           int64_t now, bool *held, int64_t *next_run_at);

/* Gives every lease of holder up (each lapses now, its schedule kept), in one transaction and
 * in the order tix_jobs_leases_renew locks the rows (the job table's). That order is what keeps
 * a give-up from deadlocking with another server's renewal on PostgreSQL: one UPDATE of all of
 * holder's rows locked them in the heap's order, so it could hold `expire` and wait for
 * `shows` while a renewal held `shows` and waited for `expire`; PostgreSQL failed the give-up
 * (40P01) and the leases stayed live until they lapsed. In the same order the give-up simply
 * waits for the renewal's commit. */
TIX_MUSTCHECK tix_rc tix_jobs_leases_give_up(tix_db *db, const char *holder);

/* Runs job once now as holder: a job_runs row (started_at = c->now), the job, the row
 * completed with counts and error, one log line. OUT: *out, the counts. Returns the job's
 * code (or the database's, when even the row could not be written). */
TIX_MUSTCHECK tix_rc tix_jobs_run_recorded(tix_job_ctx *c, const tix_job *job, const char *holder,
                                           tix_job_counts *out);

/* The scheduler thread. start: begins ticking at once (the first tick takes the leases).
 * Free with tix_jobs_stop, which wakes the thread, waits for the job it may be running to end,
 * gives this server's leases up (tix_jobs_leases_give_up) and frees everything. stop(NULL)
 * does nothing. */
typedef struct tix_jobs tix_jobs;
TIX_MUSTCHECK tix_rc tix_jobs_start(tix_app *app, tix_jobs **out);
void tix_jobs_stop(tix_jobs *j);

#endif
