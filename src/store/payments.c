/* SQL for webhook events, refunds as admins see them, and reconciliation; see payments.h. */
#include "store/payments.h"

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
    " r.provider_refund_id, b.currency, r.attempts, r.created_at, r.updated_at"                    \
    " FROM refunds r JOIN bookings b ON b.id = r.booking_id"

static void read_refund(tix_arena *a, const tix_db_res *res, int i, tix_refund_row *o)
{
    o->r.id = tix_db_res_dup(a, res, i, 0);
    o->r.booking_id = tix_db_res_dup(a, res, i, 1);
    o->r.payment_id = tix_db_res_dup(a, res, i, 2);
    o->r.amount = tix_db_res_int(res, i, 3);
    o->r.reason = tix_db_res_dup(a, res, i, 4);
    o->r.status = tix_db_res_dup(a, res, i, 5);
    o->r.provider_refund_id = tix_db_res_dup(a, res, i, 6);
    o->currency = tix_db_res_dup(a, res, i, 7);
    o->attempts = (int)tix_db_res_int(res, i, 8);
    o->created_at = tix_db_res_int(res, i, 9);
    o->updated_at = tix_db_res_int(res, i, 10);
}

/* Runs a refund query; OUT: the rows (arena). */
static tix_rc refund_rows(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *p, int np,
                          tix_refund_row **items, int *n)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, p, np, &res);
    if (rc != TIX_OK) {
        return rc;
    }
    int rows = tix_db_res_rows(res);
    tix_refund_row *list = tix_arena_calloc(a, sizeof(*list) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        read_refund(a, res, i, &list[i]);
    }
    *items = list;
    *n = rows;
    tix_db_res_destroy(res);
    return TIX_OK;
}

static tix_rc one_refund(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *p, int np,
                         tix_refund_row *out)
{
    tix_refund_row *list = NULL;
    int n = 0;
    tix_rc rc = refund_rows(db, a, sql, p, np, &list, &n);
    if (rc == TIX_OK && n == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        *out = list[0];
    }
    return rc;
}

tix_rc tix_refund_get(tix_db *db, tix_arena *a, const char *id, tix_refund_row *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return one_refund(db, a, REFUND_SELECT " WHERE r.id = $1", &p, 1, out);
}

tix_rc tix_refund_find(tix_db *db, tix_arena *a, const char *provider_refund_id, const char *our_id,
                       tix_refund_row *out)
{
    tix_rc rc = TIX_ENOTFOUND;
    if (provider_refund_id != NULL && *provider_refund_id != '\0') {
        tix_dbv p = TIX_DB_TEXT(provider_refund_id);
        rc = one_refund(db, a, REFUND_SELECT " WHERE r.provider_refund_id = $1", &p, 1, out);
    }
    if (rc == TIX_ENOTFOUND && our_id != NULL && *our_id != '\0') {
        rc = tix_refund_get(db, a, our_id, out);
    }
    return rc;
}

tix_rc tix_refund_mark(tix_db *db, const char *id, const char *status,
                       const char *provider_refund_id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(status), TIX_DB_TEXT(provider_refund_id),
                   TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "UPDATE refunds SET status = $2, provider_refund_id ="
                            " COALESCE(provider_refund_id, $3), updated_at = $4"
                            " WHERE id = $1 AND status <> 'processed'",
                            p, 4, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = TIX_ECONFLICT;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_refund_page(tix_db *db, tix_arena *a, const char *status, const char *before, int limit,
                       tix_refund_row **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(status), TIX_DB_TEXT(before), TIX_DB_INT(limit + 1)};
    return refund_rows(db, a,
                       REFUND_SELECT " WHERE (CAST($1 AS TEXT) IS NULL OR r.status = $1)"
                                     " AND (CAST($2 AS TEXT) IS NULL OR r.id < $2)"
                                     " ORDER BY r.id DESC LIMIT $3",
                       p, 3, items, n);
}

/* ---- reconciliation ---- */

tix_rc tix_booking_unsettled(tix_db *db, tix_arena *a, const char *provider, int64_t since,
                             int limit, tix_unsettled **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(provider), TIX_DB_INT(since), TIX_DB_INT(limit)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT id, order_id FROM bookings WHERE provider = $1"
                            " AND order_id IS NOT NULL AND created_at >= $2"
                            " AND status IN ('pending_payment', 'expired', 'failed')"
                            " ORDER BY created_at, id LIMIT $3",
                            p, 3, &res);
    if (rc != TIX_OK) {
        return rc;
    }
    int rows = tix_db_res_rows(res);
    tix_unsettled *list = tix_arena_calloc(a, sizeof(*list) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        list[i].booking_id = tix_db_res_dup(a, res, i, 0);
        list[i].order_id = tix_db_res_dup(a, res, i, 1);
    }
    *items = list;
    *n = rows;
    tix_db_res_destroy(res);
    return TIX_OK;
}
