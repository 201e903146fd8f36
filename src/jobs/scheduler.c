/*
 * The scheduler thread and the bookkeeping of runs (see jobs.h). The thread owns nothing but
 * its struct: per tick it borrows one connection from the pool and returns it, and per run it
 * makes one arena and frees it. tix_jobs_stop is the only other thread that touches the
 * struct, through the mutex-guarded stop flag.
 */
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/jobs_store.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const tix_job tix_jobs_table[] = {
    {"shows", tix_job_shows, offsetof(tix_config, job_shows_ms)},
    {"expire", tix_job_expire, offsetof(tix_config, job_expire_ms)},
    {"refunds", tix_job_refunds, offsetof(tix_config, job_refunds_ms)},
    {"reconcile", tix_job_reconcile, offsetof(tix_config, job_reconcile_ms)},
    {"purge", tix_job_purge, offsetof(tix_config, job_purge_ms)},
    {"refund_poll", tix_job_refund_poll, offsetof(tix_config, job_refund_poll_ms)},
    {"mail", tix_job_mail, offsetof(tix_config, job_mail_ms)},
    {"reco", tix_job_reco, offsetof(tix_config, job_reco_ms)},
};
const int tix_jobs_table_count = (int)(sizeof(tix_jobs_table) / sizeof(tix_jobs_table[0]));

#define JOBS_MAX 8 /* at least tix_jobs_table_count */
_Static_assert(sizeof(tix_jobs_table) / sizeof(tix_jobs_table[0]) <= JOBS_MAX,
               "JOBS_MAX is too small for the job table");

const tix_job *tix_job_find(const char *name)
{
    for (int i = 0; name != NULL && i < tix_jobs_table_count; i++) {
        if (strcmp(tix_jobs_table[i].name, name) == 0) {
            return &tix_jobs_table[i];
        }
    }
    return NULL;
}

int64_t tix_job_interval_ms(const tix_job *job, const tix_config *cfg)
{
    int64_t v = 0;
    memcpy(&v, (const char *)cfg + job->interval_field, sizeof(v));
    return v;
}

void tix_jobs_holder_id(char out[TIX_JOBS_HOLDER_MAX], const char *prefix)
{
    char host[64] = "";
    unsigned char raw[4];
    char hex[9];
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
        snprintf(host, sizeof(host), "unknown");
    }
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(hex, raw, sizeof(raw));
    snprintf(out, TIX_JOBS_HOLDER_MAX, "%s%s:%ld:%s", prefix, host, (long)getpid(), hex);
}

tix_rc tix_jobs_leases_renew(tix_db *db, const tix_config *cfg, const char *holder, int64_t now,
                             bool *held, int64_t *next_run_at)
{
    /* One transaction for all of them: one commit (one fsync with SQLite) per tick, and the
     * rows are always locked in the same order, so two servers never deadlock. */
    tix_rc rc = tix_db_begin(db);
    for (int i = 0; i < tix_jobs_table_count && rc == TIX_OK; i++) {
        rc = tix_jobs_lease_acquire(db, tix_jobs_table[i].name, holder, now, cfg->job_lease_ms,
                                    &held[i], &next_run_at[i]);
    }
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
    }
    return rc;
}

tix_rc tix_jobs_leases_give_up(tix_db *db, const char *holder)
{
    tix_rc rc = tix_db_begin(db);
    for (int i = 0; i < tix_jobs_table_count && rc == TIX_OK; i++) {
        rc = tix_jobs_lease_release(db, tix_jobs_table[i].name, holder);
    }
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
    }
    return rc;
}

/* The log line of a run: info when it did something or failed, debug when it found nothing. */
static void log_run(const tix_job *job, const char *run_id, const char *holder, int64_t ms,
                    const tix_job_counts *counts, tix_rc rc)
{
    bool busy = false;
    for (int i = 0; i < counts->n; i++) {
        busy = busy || counts->value[i] != 0;
    }
    tix_log_level level = rc != TIX_OK ? TIX_LOG_WARN : (busy ? TIX_LOG_INFO : TIX_LOG_DEBUG);
    if (!tix_log_enabled(level)) {
        return;
    }
    char json[512];
    char esc_holder[2 * TIX_JOBS_HOLDER_MAX];
    char fields[1024];
    tix_job_counts_json(counts, json, sizeof(json));
    tix_json_escape(esc_holder, sizeof(esc_holder), holder);
    snprintf(fields, sizeof(fields),
             "\"job\":\"%s\",\"run_id\":\"%s\",\"holder\":\"%s\",\"ms\":%lld,\"counts\":%s%s%s%s",
             job->name, run_id, esc_holder, (long long)ms, json, rc ? ",\"error\":\"" : "",
             rc ? tix_rc_name(rc) : "", rc ? "\"" : "");
    tix_log_fields(level, "job run", fields);
}

tix_rc tix_jobs_run_recorded(tix_job_ctx *c, const tix_job *job, const char *holder,
                             tix_job_counts *out)
{
    char id[TIX_ID_MAX];
    char json[512];
    tix_id_new(id, "job");
    memset(out, 0, sizeof(*out));
    tix_rc rc = tix_jobs_run_begin(c->db, id, job->name, holder, c->now);
    if (rc != TIX_OK) {
        tix_log_warn("job %s not run: its run could not be recorded (%s)", job->name,
                     tix_rc_name(rc));
        return rc;
    }
    char outer[TIX_LOG_RID_MAX]; /* the caller's id, back after the run */
    snprintf(outer, sizeof(outer), "%s", tix_log_request_id() ? tix_log_request_id() : "");
    tix_log_set_request_id(id); /* every line the run logs names it */
    rc = job->run(c, out);
    if (tix_db_in_tx(c->db)) {
        tix_db_rollback(c->db); /* a job must end its transactions; never leave one open */
    }
    int64_t finished = tix_now_ms();
    tix_job_counts_json(out, json, sizeof(json));
    if (tix_jobs_run_finish(c->db, id, finished, json, rc ? tix_rc_name(rc) : NULL) != TIX_OK) {
        tix_log_warn("job %s: run %s could not be completed in job_runs", job->name, id);
    }
    log_run(job, id, holder, finished - c->now, out, rc);
    tix_log_set_request_id(outer);
    tix_metrics_add(TIX_M_JOB_RUNS, job->name, 1);
    if (rc == TIX_OK) {
        tix_metrics_job_success(job->name, finished);
    } else {
        tix_metrics_add(TIX_M_JOB_FAILS, job->name, 1);
    }
    return rc;
}

/* ---- the thread ---- */

struct tix_jobs {
    tix_app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    atomic_bool stop;
    bool failing; /* the last tick could not reach the database (log the change once) */
    char holder[TIX_JOBS_HOLDER_MAX];
};

/* Claims the run of job i if it is due, and runs it. */
static void run_if_due(tix_jobs *j, tix_db *db, int i, int64_t next_run_at)
{
    const tix_job *job = &tix_jobs_table[i];
    int64_t now = tix_now_ms();
    bool claimed = false;
    if (next_run_at > now ||
        tix_jobs_claim_run(db, job->name, j->holder, now,
                           now + tix_job_interval_ms(job, &j->app->cfg), &claimed) != TIX_OK ||
        !claimed) {
        return;
    }
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = {db, a, &j->app->cfg, j->app->pay, now, &j->stop, j->app->ticket_keys};
    tix_job_counts counts;
    tix_rc rc = tix_jobs_run_recorded(&c, job, j->holder, &counts);
    (void)rc; /* the run's outcome is in job_runs and in the log line */
    tix_arena_destroy(a);
}

static void tick(tix_jobs *j)
{
    bool held[JOBS_MAX] = {false};
    int64_t next[JOBS_MAX] = {0};
    tix_db *db = NULL;
    tix_rc rc = tix_db_acquire(j->app->db, &db);
    rc = rc ? rc : tix_jobs_leases_renew(db, &j->app->cfg, j->holder, tix_now_ms(), held, next);
    if (rc != TIX_OK) {
        if (!j->failing) {
            tix_log_warn("jobs: cannot renew leases (%s); retrying every tick", tix_rc_name(rc));
        }
        j->failing = true;
        tix_db_release(j->app->db, db);
        return;
    }
    if (j->failing) {
        tix_log_info("jobs: leases renewed again");
    }
    j->failing = false;
    for (int i = 0; i < tix_jobs_table_count && !atomic_load(&j->stop); i++) {
        if (held[i]) {
            run_if_due(j, db, i, next[i]);
        }
    }
    tix_db_release(j->app->db, db);
}

static void add_ms(struct timespec *t, int64_t ms)
{
    t->tv_sec += (time_t)(ms / 1000);
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void *loop(void *arg)
{
    tix_jobs *j = arg;
    (void)tix_thread_nice(j->app->cfg.handler_nice); /* background work: after the network */
    struct timespec due;
    clock_gettime(CLOCK_MONOTONIC, &due);
    while (!atomic_load(&j->stop)) {
        tick(j);
        /* The next tick one JOB_TICK after the previous one was due; after a long run, one
         * JOB_TICK from now (no burst of ticks to catch up). */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        add_ms(&due, j->app->cfg.job_tick_ms);
        if (due.tv_sec < now.tv_sec || (due.tv_sec == now.tv_sec && due.tv_nsec < now.tv_nsec)) {
            due = now;
            add_ms(&due, j->app->cfg.job_tick_ms);
        }
        pthread_mutex_lock(&j->mu);
        while (!atomic_load(&j->stop) &&
               pthread_cond_timedwait(&j->cv, &j->mu, &due) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

tix_rc tix_jobs_start(tix_app *app, tix_jobs **out)
{
    tix_jobs *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return TIX_ENOMEM;
    }
    j->app = app;
    atomic_init(&j->stop, false);
    tix_jobs_holder_id(j->holder, "");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    if (pthread_create(&j->thread, NULL, loop, j) != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return TIX_ENOMEM;
    }
    char holder[2 * TIX_JOBS_HOLDER_MAX];
    char fields[512];
    tix_json_escape(holder, sizeof(holder), j->holder);
    snprintf(fields, sizeof(fields), "\"holder\":\"%s\",\"tick_ms\":%lld,\"lease_ms\":%lld", holder,
             (long long)app->cfg.job_tick_ms, (long long)app->cfg.job_lease_ms);
    tix_log_fields(TIX_LOG_INFO, "jobs scheduler started", fields);
    *out = j;
    return TIX_OK;
}

void tix_jobs_stop(tix_jobs *j)
{
    if (j == NULL) {
        return;
    }
    pthread_mutex_lock(&j->mu);
    atomic_store(&j->stop, true);
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    tix_db *db = NULL;
    tix_rc rc = tix_db_acquire(j->app->db, &db);
    rc = rc ? rc : tix_jobs_leases_give_up(db, j->holder);
    if (rc != TIX_OK) {
        tix_log_warn("jobs: could not give the leases up (%s: %s); they lapse in %lld ms",
                     tix_rc_name(rc), db != NULL ? tix_db_errmsg(db) : "no connection",
                     (long long)j->app->cfg.job_lease_ms);
    }
    tix_db_release(j->app->db, db);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    tix_log_info("jobs scheduler stopped");
    free(j);
}
