/* SQL for job leases, job runs and what the lifecycle jobs look for; see jobs_store.h. */
#include "store/jobs_store.h"

#include <string.h>

/* Runs a statement and reports how many rows it changed (into *changed when not NULL). */
static tix_rc exec_count(tix_db *db, const char *sql, const tix_dbv *p, int n, int64_t *changed)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, p, n, &res);
    if (rc == TIX_OK && changed != NULL) {
        *changed = tix_db_res_changes(res);
    }
    tix_db_res_destroy(res);
    return rc;
}

/* ---- leases and runs ---- */

tix_rc tix_jobs_lease_acquire(tix_db *db, const char *name, const char *holder, int64_t now,
                              int64_t lease_ms, bool *held, int64_t *next_run_at)
{
    tix_dbv p[] = {TIX_DB_TEXT(name), TIX_DB_TEXT(holder), TIX_DB_INT(now + lease_ms),
                   TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO job_leases (name, holder, expires_at, next_run_at)"
                            " VALUES ($1, $2, $3, 0) ON CONFLICT (name) DO UPDATE"
                            " SET holder = excluded.holder, expires_at = excluded.expires_at"
                            " WHERE job_leases.expires_at <= $4 OR job_leases.holder = $2"
                            " RETURNING holder, next_run_at",
                            p, 4, &res);
    if (rc == TIX_OK) {
        *held = tix_db_res_rows(res) == 1;
        *next_run_at = *held ? tix_db_res_int(res, 0, 1) : 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_jobs_claim_run(tix_db *db, const char *name, const char *holder, int64_t now,
                          int64_t next, bool *claimed)
{
    tix_dbv p[] = {TIX_DB_TEXT(name), TIX_DB_TEXT(holder), TIX_DB_INT(now), TIX_DB_INT(next)};
    int64_t n = 0;
    tix_rc rc = exec_count(db,
                           "UPDATE job_leases SET next_run_at = $4 WHERE name = $1"
                           " AND holder = $2 AND expires_at > $3 AND next_run_at <= $3",
                           p, 4, &n);
    *claimed = rc == TIX_OK && n == 1;
    return rc;
}

tix_rc tix_jobs_lease_release(tix_db *db, const char *name, const char *holder)
{
    tix_dbv p[] = {TIX_DB_TEXT(name), TIX_DB_TEXT(holder)};
    return exec_count(db, "UPDATE job_leases SET expires_at = 0 WHERE name = $1 AND holder = $2", p,
                      2, NULL);
}

tix_rc tix_jobs_run_begin(tix_db *db, const char *id, const char *name, const char *holder,
                          int64_t started_at)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(name), TIX_DB_TEXT(holder), TIX_DB_INT(started_at)};
    return exec_count(db,
                      "INSERT INTO job_runs (id, name, holder, started_at) VALUES ($1, $2, $3, $4)",
                      p, 4, NULL);
}

tix_rc tix_jobs_run_finish(tix_db *db, const char *id, int64_t finished_at, const char *counts,
                           const char *error)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(finished_at), TIX_DB_TEXT(counts),
                   TIX_DB_TEXT(error)};
    return exec_count(db,
                      "UPDATE job_runs SET finished_at = $2, counts = $3, error = $4 WHERE id = $1",
                      p, 4, NULL);
}

/* ---- what the jobs look for ---- */

tix_rc tix_jobs_shows_advance(tix_db *db, int64_t now, int64_t *running, int64_t *completed)
{
    tix_dbv p = TIX_DB_INT(now);
    *running = 0;
    *completed = 0;
    tix_rc rc = exec_count(db,
                           "UPDATE shows SET status = 'running', updated_at = $1"
                           " WHERE status = 'scheduled' AND starts_at <= $1 AND ends_at > $1",
                           &p, 1, running);
    if (rc == TIX_OK) {
        rc = exec_count(db,
                        "UPDATE shows SET status = 'completed', updated_at = $1"
                        " WHERE status IN ('scheduled', 'running') AND ends_at <= $1",
                        &p, 1, completed);
    }
    return rc;
}

tix_rc tix_jobs_bookings_due(tix_db *db, tix_arena *a, int64_t now, int limit, char ***ids, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(now), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "SELECT id FROM bookings WHERE status = 'pending_payment'"
                       " AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2",
                       p, 2, &tix_db_text_rows, ids, n);
}

static const tix_db_col hold_cols[] = {TIX_DB_COL(tix_jobs_hold, id),
                                       TIX_DB_COL(tix_jobs_hold, show_id)};
static const tix_db_map hold_map = TIX_DB_MAP(tix_jobs_hold, hold_cols, NULL);

tix_rc tix_jobs_holds_due(tix_db *db, tix_arena *a, int64_t before, int limit,
                          tix_jobs_hold **items, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(before), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "SELECT id, show_id FROM holds WHERE status = 'active'"
                       " AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2",
                       p, 2, &hold_map, items, n);
}

tix_rc tix_jobs_hold_retire(tix_db *db, const char *id, int64_t before, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(before), TIX_DB_INT(now)};
    int64_t n = 0;
    tix_rc rc = exec_count(db,
                           "UPDATE holds SET status = 'released', updated_at = $3 WHERE id = $1"
                           " AND status = 'active' AND expires_at <= $2",
                           p, 3, &n);
    return rc == TIX_OK && n == 0 ? TIX_ECONFLICT : rc;
}

static const tix_db_col notice_cols[] = {
    TIX_DB_COL(tix_jobs_hold_notice, id), TIX_DB_COL(tix_jobs_hold_notice, show_id),
    TIX_DB_COL(tix_jobs_hold_notice, user_id), TIX_DB_COL(tix_jobs_hold_notice, expires_at)};
static const tix_db_map notice_map = TIX_DB_MAP(tix_jobs_hold_notice, notice_cols, NULL);

/* Both claims select ids in a subquery (an UPDATE takes no LIMIT) and test the claim column
 * again in the outer WHERE: PostgreSQL re-evaluates it on the row it locked, so a run that
 * overlaps another skips what that one claimed; SQLite has one writer at a time anyway. */
tix_rc tix_jobs_holds_expiring_claim(tix_db *db, tix_arena *a, int64_t now, int64_t until,
                                     int limit, tix_jobs_hold_notice **items, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(now), TIX_DB_INT(until), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "UPDATE holds SET expiring_sent_at = $1 WHERE id IN (SELECT id FROM"
                       " (SELECT id FROM holds WHERE status = 'active' AND expires_at > $1"
                       " AND expires_at <= $2 AND expiring_sent_at IS NULL"
                       " UNION ALL SELECT hold_id AS id FROM bookings"
                       " WHERE status = 'pending_payment' AND expires_at > $1"
                       " AND expires_at <= $2) AS due LIMIT $3)"
                       " AND expiring_sent_at IS NULL"
                       " RETURNING id, show_id, user_id, expires_at",
                       p, 3, &notice_map, items, n);
}

tix_rc tix_jobs_holds_expired_claim(tix_db *db, tix_arena *a, int64_t now, int limit,
                                    tix_jobs_hold_notice **items, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(now), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "UPDATE holds SET expired_sent_at = $1 WHERE id IN (SELECT id FROM holds"
                       " WHERE status = 'active' AND expires_at <= $1 AND expired_sent_at IS NULL"
                       " ORDER BY expires_at LIMIT $2)"
                       " AND status = 'active' AND expired_sent_at IS NULL"
                       " RETURNING id, show_id, user_id, expires_at",
                       p, 2, &notice_map, items, n);
}

static const tix_db_col refund_cols[] = {TIX_DB_COL(tix_jobs_refund, id),
                                         TIX_DB_COL(tix_jobs_refund, attempts),
                                         TIX_DB_COL(tix_jobs_refund, updated_at)};
static const tix_db_map refund_map = TIX_DB_MAP(tix_jobs_refund, refund_cols, NULL);

tix_rc tix_jobs_refunds_due(tix_db *db, tix_arena *a, int64_t failed_before, int64_t pending_before,
                            int max_attempts, int limit, tix_jobs_refund **items, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(failed_before), TIX_DB_INT(pending_before), TIX_DB_INT(max_attempts),
                   TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "SELECT id, attempts, updated_at FROM refunds WHERE attempts < $3"
                       " AND ((status = 'failed' AND updated_at <= $1) OR"
                       " (status = 'pending' AND provider_refund_id IS NULL"
                       " AND updated_at <= $2)) ORDER BY updated_at, id LIMIT $4",
                       p, 4, &refund_map, items, n);
}

tix_rc tix_jobs_purge(tix_db *db, int64_t keys_before, int64_t tokens_before, int64_t runs_before,
                      int64_t *keys, int64_t *tokens, int64_t *runs)
{
    tix_dbv k = TIX_DB_INT(keys_before);
    tix_dbv t = TIX_DB_INT(tokens_before);
    tix_dbv r = TIX_DB_INT(runs_before);
    tix_rc rc = exec_count(db, "DELETE FROM idempotency_keys WHERE created_at < $1", &k, 1, keys);
    /* A used token is kept until it expires: presenting it again is how a stolen token is
     * caught (the whole family is revoked), and an expired one is refused before that. */
    rc = rc ? rc
            : exec_count(db,
                         "DELETE FROM refresh_tokens WHERE expires_at < $1"
                         " OR (revoked_at IS NOT NULL AND revoked_at < $1)",
                         &t, 1, tokens);
    rc = rc ? rc : exec_count(db, "DELETE FROM job_runs WHERE started_at < $1", &r, 1, runs);
    return rc;
}
