/* SQL for webhook events, refunds as admins see them, and reconciliation; see payments.h. */
#include "store/payments.h"

#include "store/reports.h"

#include <string.h>

/* ---- webhook events ---- */

tix_rc tix_webhook_record(tix_db *db, const char *event_id, const char *provider, const char *type,
                          const char *payload, int64_t now, bool *processed)
{
    tix_dbv p[] = {TIX_DB_TEXT(event_id), TIX_DB_TEXT(provider), TIX_DB_TEXT(type),
                   TIX_DB_TEXT(payload), TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    /* One statement: a first delivery inserts, a repeat counts itself; either way the row's
     * processed_at comes back. */
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO webhook_events (event_id, provider, event_type, payload,"
                            " received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id)"
                            " DO UPDATE SET deliveries = webhook_events.deliveries + 1"
                            " RETURNING processed_at",
                            p, 5, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) != 1) {
        rc = TIX_EDB;
    }
    *processed = rc == TIX_OK && !tix_db_res_isnull(res, 0, 0);
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_webhook_finish(tix_db *db, const char *event_id, const char *outcome, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(event_id), TIX_DB_TEXT(outcome), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE webhook_events SET processed_at = $3, outcome = $2"
                       " WHERE event_id = $1",
                       p, 3, NULL);
}

/* ---- refunds ---- */

#define REFUND_SELECT                                                                              \
    "SELECT r.id, r.booking_id, r.payment_id, r.amount, r.reason, r.status,"                       \
    " r.provider_refund_id, b.currency, r.attempts, r.created_at, r.updated_at,"                   \
    " COALESCE(r.idem_key, r.id), COALESCE(ra.n, 1), COALESCE(ra.status, 'error')"                 \
    " FROM refunds r JOIN bookings b ON b.id = r.booking_id"                                       \
    " LEFT JOIN refund_attempts ra ON ra.idem_key = COALESCE(r.idem_key, r.id)"

#define R(field) TIX_DB_COL(tix_refund_row, field)
static const tix_db_col refund_cols[] = {
    R(r.id),      R(r.booking_id),  R(r.payment_id),         R(r.amount),
    R(r.reason),  R(r.status),      R(r.provider_refund_id), R(currency),
    R(attempts),  R(created_at),    R(updated_at),           R(idem_key),
    R(attempt_n), R(attempt_status)};
#undef R
static const tix_db_map refund_map = TIX_DB_MAP(tix_refund_row, refund_cols, NULL);

static tix_rc one_refund(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *p, int np,
                         tix_refund_row *out)
{
    return TIX_DB_GET(db, a, sql, p, np, &refund_map, out);
}

tix_rc tix_refund_get(tix_db *db, tix_arena *a, const char *id, tix_refund_row *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return one_refund(db, a, REFUND_SELECT " WHERE r.id = $1", &p, 1, out);
}

/* The attempt (refund id, key) whose column col equals v. TIX_ENOTFOUND when none. */
static tix_rc attempt_by(tix_db *db, tix_arena *a, const char *sql, const char *v, char **refund_id,
                         char **key)
{
    tix_dbv p = TIX_DB_TEXT(v);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        *refund_id = tix_db_res_dup(a, res, 0, 0);
        *key = tix_db_res_dup(a, res, 0, 1);
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_refund_find(tix_db *db, tix_arena *a, const char *provider_refund_id,
                       const char *our_key, tix_refund_row *out, char **key)
{
    char *id = NULL;
    tix_rc rc = TIX_ENOTFOUND;
    bool by_provider = provider_refund_id != NULL && *provider_refund_id != '\0';
    bool by_ours = our_key != NULL && *our_key != '\0';
    if (by_provider) {
        rc = attempt_by(db, a,
                        "SELECT refund_id, idem_key FROM refund_attempts WHERE"
                        " provider_refund_id = $1 ORDER BY n DESC LIMIT 1",
                        provider_refund_id, &id, key);
    }
    if (rc == TIX_ENOTFOUND && by_ours) {
        rc =
            attempt_by(db, a, "SELECT refund_id, idem_key FROM refund_attempts WHERE idem_key = $1",
                       our_key, &id, key);
    }
    if (rc == TIX_OK) {
        return tix_refund_get(db, a, id, out);
    }
    /* A refund from before attempts were recorded: its key is its id. */
    if (rc == TIX_ENOTFOUND && by_provider) {
        tix_dbv p = TIX_DB_TEXT(provider_refund_id);
        rc = one_refund(db, a, REFUND_SELECT " WHERE r.provider_refund_id = $1", &p, 1, out);
    }
    if (rc == TIX_ENOTFOUND && by_ours) {
        rc = tix_refund_get(db, a, our_key, out);
    }
    if (rc == TIX_OK) {
        *key = out->idem_key;
    }
    return rc;
}

/* Creates attempt 1 of a refund from before attempts (its key is its id), if missing. */
static tix_rc attempt_ensure(tix_db *db, const char *id, const char *key, int64_t now)
{
    if (strcmp(id, key) != 0) {
        return TIX_OK; /* a later attempt: always recorded when it began */
    }
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "INSERT INTO refund_attempts (idem_key, refund_id, n, status, created_at,"
                       " updated_at) VALUES ($1, $1, 1, 'pending', $2, $2)"
                       " ON CONFLICT (idem_key) DO NOTHING",
                       p, 2, NULL);
}

/* Locks the booking of refund id for this transaction: every change of a refund's status that
 * the sales summary counts runs under it, like the booking's own transitions (reports.h). */
static tix_rc lock_refund_booking(tix_db *db, const char *id)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return tix_db_exec(db,
                       "UPDATE bookings SET updated_at = updated_at"
                       " WHERE id = (SELECT booking_id FROM refunds WHERE id = $1)",
                       &p, 1, NULL);
}

tix_rc tix_refund_mark(tix_db *db, const char *id, const char *key, const char *status,
                       const char *provider_refund_id, const char *source, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(status), TIX_DB_TEXT(provider_refund_id),
                   TIX_DB_INT(now), TIX_DB_TEXT(key),    TIX_DB_TEXT(source)};
    tix_rc rc = lock_refund_booking(db, id);
    rc = rc ? rc : attempt_ensure(db, id, key, now);
    rc = rc ? rc
            : tix_db_exec(db,
                          "UPDATE refund_attempts SET status = CASE WHEN status = 'processed'"
                          " THEN status ELSE $2 END, provider_refund_id ="
                          " COALESCE(provider_refund_id, $3), detail = CAST($2 AS TEXT) || ' ('"
                          " || CAST($6 AS TEXT) || ')', updated_at = $4"
                          " WHERE idem_key = $5 AND refund_id = $1",
                          p, 6, NULL);
    tix_db_res *res = NULL;
    rc = rc ? rc
            : tix_db_exec(db,
                          "UPDATE refunds SET status = $2, provider_refund_id ="
                          " COALESCE(provider_refund_id, $3), updated_at = $4"
                          " WHERE id = $1 AND status <> 'processed'"
                          " AND COALESCE(idem_key, id) = $5",
                          p, 5, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = TIX_ECONFLICT;
    } else if (rc == TIX_OK && strcmp(status, "processed") == 0) {
        rc = tix_show_sales_refund(db, id, NULL); /* it was not processed: now it is */
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_refund_settle(tix_db *db, const char *id, const tix_refund_answer *ans, int64_t now)
{
    const char *st = ans->attempt_status;
    const char *refund_status = strcmp(st, "error") == 0 ? "failed" : st;
    tix_dbv p[] = {TIX_DB_TEXT(id),           TIX_DB_TEXT(ans->key),
                   TIX_DB_TEXT(st),           TIX_DB_TEXT(ans->provider_refund_id),
                   TIX_DB_TEXT(ans->detail),  TIX_DB_INT(now),
                   TIX_DB_TEXT(refund_status)};
    tix_rc rc = lock_refund_booking(db, id);
    /* counted before the update, by the update's own rule (reports.h) */
    if (rc == TIX_OK && strcmp(refund_status, "processed") == 0) {
        rc = tix_show_sales_refund(db, id, ans->key);
    }
    rc = rc ? rc : attempt_ensure(db, id, ans->key, now);
    rc = rc ? rc
            : tix_db_exec(db,
                          "UPDATE refund_attempts SET status = CASE WHEN status = 'processed'"
                          " THEN status ELSE $3 END, provider_refund_id ="
                          " COALESCE($4, provider_refund_id), calls = calls + 1, detail = $5,"
                          " updated_at = $6 WHERE idem_key = $2 AND refund_id = $1",
                          p, 6, NULL);
    /* A processed refund stays processed (a webhook may have said so before the provider's
     * answer to our call was recorded); an answer about an older attempt only counts. */
    return rc ? rc
              : tix_db_exec_one(db,
                                "UPDATE refunds SET attempts = attempts + 1, updated_at = $6,"
                                " status = CASE WHEN status = 'processed' OR"
                                " COALESCE(idem_key, id) <> $2 THEN status ELSE $7 END,"
                                " provider_refund_id = CASE WHEN COALESCE(idem_key, id) = $2"
                                " THEN COALESCE($4, provider_refund_id) ELSE provider_refund_id"
                                " END WHERE id = $1",
                                p, 7, TIX_ENOTFOUND);
}

tix_rc tix_refund_attempt_begin(tix_db *db, const char *id, const char *from_key,
                                const char *new_key, int n, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(from_key), TIX_DB_TEXT(new_key), TIX_DB_INT(n),
                   TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec_one(db,
                                "UPDATE refunds SET idem_key = $3, status = 'pending',"
                                " provider_refund_id = NULL, updated_at = $5 WHERE id = $1"
                                " AND COALESCE(idem_key, id) = $2 AND status = 'failed'",
                                p, 5, TIX_ECONFLICT);
    tix_dbv ap[] = {p[2], p[0], p[3], p[4]};
    return rc ? rc
              : tix_db_exec(db,
                            "INSERT INTO refund_attempts (idem_key, refund_id, n, status,"
                            " created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4)",
                            ap, 4, NULL);
}

#define A(field) TIX_DB_COL(tix_refund_attempt, field)
static const tix_db_col attempt_cols[] = {
    A(n),     A(idem_key), A(status),     A(provider_refund_id),
    A(calls), A(detail),   A(created_at), A(updated_at)};
#undef A
static const tix_db_map attempt_map = TIX_DB_MAP(tix_refund_attempt, attempt_cols, NULL);

tix_rc tix_refund_attempts(tix_db *db, tix_arena *a, const char *id, tix_refund_attempt **items,
                           int *n)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_LIST(db, a,
                       "SELECT n, idem_key, status, provider_refund_id, calls, detail,"
                       " created_at, updated_at FROM refund_attempts WHERE refund_id = $1"
                       " ORDER BY n",
                       &p, 1, &attempt_map, items, n);
}

tix_rc tix_refund_page(tix_db *db, tix_arena *a, const char *status, const char *before, int limit,
                       tix_refund_row **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(status), TIX_DB_TEXT(before), TIX_DB_INT(limit + 1)};
    return TIX_DB_LIST(db, a,
                       REFUND_SELECT " WHERE (CAST($1 AS TEXT) IS NULL OR r.status = $1)"
                                     " AND (CAST($2 AS TEXT) IS NULL OR r.id < $2)"
                                     " ORDER BY r.id DESC LIMIT $3",
                       p, 3, &refund_map, items, n);
}

static const tix_db_col at_provider_cols[] = {
    TIX_DB_COL(tix_refund_at_provider, id), TIX_DB_COL(tix_refund_at_provider, payment_id),
    TIX_DB_COL(tix_refund_at_provider, provider_refund_id),
    TIX_DB_COL(tix_refund_at_provider, idem_key)};
static const tix_db_map at_provider_map =
    TIX_DB_MAP(tix_refund_at_provider, at_provider_cols, NULL);

tix_rc tix_refunds_pending_at_provider(tix_db *db, tix_arena *a, const char *provider,
                                       int64_t before, int limit, tix_refund_at_provider **items,
                                       int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(provider), TIX_DB_INT(before), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "SELECT r.id, r.payment_id, r.provider_refund_id,"
                       " COALESCE(r.idem_key, r.id) FROM refunds r"
                       " JOIN bookings b ON b.id = r.booking_id"
                       " WHERE r.status = 'pending' AND r.provider_refund_id IS NOT NULL"
                       " AND b.provider = $1 AND r.updated_at <= $2"
                       " AND COALESCE(r.checked_at, 0) <= $2"
                       " ORDER BY COALESCE(r.checked_at, 0), r.updated_at, r.id LIMIT $3",
                       p, 3, &at_provider_map, items, n);
}

tix_rc tix_refund_checked(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    return tix_db_exec(db, "UPDATE refunds SET checked_at = $2 WHERE id = $1", p, 2, NULL);
}

/* ---- reconciliation ---- */

static const tix_db_col unsettled_cols[] = {TIX_DB_COL(tix_unsettled, booking_id),
                                            TIX_DB_COL(tix_unsettled, order_id),
                                            TIX_DB_COL(tix_unsettled, amount)};
static const tix_db_map unsettled_map = TIX_DB_MAP(tix_unsettled, unsettled_cols, NULL);

tix_rc tix_booking_unsettled(tix_db *db, tix_arena *a, const char *provider, int64_t since,
                             int limit, tix_unsettled **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(provider), TIX_DB_INT(since), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "SELECT id, order_id, amount FROM bookings WHERE provider = $1"
                       " AND order_id IS NOT NULL AND created_at >= $2"
                       " AND status IN ('pending_payment', 'expired', 'failed')"
                       " ORDER BY created_at, id LIMIT $3",
                       p, 3, &unsettled_map, items, n);
}
