/* SQL for promo codes and their use counters; see promo.h. */
#include "store/promo.h"

#include <string.h>

#define PROMO_SELECT                                                                               \
    "SELECT p.id, p.code, p.kind, p.value, p.currency, p.max_uses, p.max_uses_per_user, p.uses,"   \
    " p.valid_from, p.valid_until, p.theatre_id, p.min_amount, p.active, p.created_by,"            \
    " p.created_at, p.updated_at, t.owner_id FROM promo_codes p"                                   \
    " LEFT JOIN theatres t ON t.id = p.theatre_id"

#define P(field) TIX_DB_COL(tix_promo, field)
static const tix_db_col promo_cols[] = {P(id),
                                        P(code),
                                        P(kind),
                                        P(value),
                                        P(currency),
                                        P(max_uses),
                                        P(max_uses_per_user),
                                        P(uses),
                                        P(valid_from),
                                        P(valid_until),
                                        P(theatre_id),
                                        P(min_amount),
                                        P(active),
                                        P(created_by),
                                        P(created_at),
                                        P(updated_at),
                                        P(theatre_owner_id)};
#undef P
static const tix_db_map promo_map = TIX_DB_MAP(tix_promo, promo_cols, NULL);

/* An optional integer: NULL for 0. */
static tix_dbv opt_int(int64_t v)
{
    return v != 0 ? TIX_DB_INT(v) : TIX_DB_NULL;
}

tix_rc tix_promo_insert(tix_db *db, const tix_promo *p)
{
    tix_dbv v[] = {TIX_DB_TEXT(p->id),
                   TIX_DB_TEXT(p->code),
                   TIX_DB_TEXT(p->kind),
                   TIX_DB_INT(p->value),
                   TIX_DB_TEXT(p->currency),
                   opt_int(p->max_uses),
                   opt_int(p->max_uses_per_user),
                   opt_int(p->valid_from),
                   opt_int(p->valid_until),
                   TIX_DB_TEXT(p->theatre_id),
                   TIX_DB_INT(p->min_amount),
                   TIX_DB_INT(p->active ? 1 : 0),
                   TIX_DB_TEXT(p->created_by),
                   TIX_DB_INT(p->created_at)};
    return tix_db_exec(db,
                       "INSERT INTO promo_codes (id, code, kind, value, currency, max_uses,"
                       " max_uses_per_user, uses, valid_from, valid_until, theatre_id, min_amount,"
                       " active, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5,"
                       " $6, $7, 0, $8, $9, $10, $11, $12, $13, $14, $14)",
                       v, 14, NULL);
}

tix_rc tix_promo_get(tix_db *db, tix_arena *a, const char *id, tix_promo *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(db, a, PROMO_SELECT " WHERE p.id = $1", &p, 1, &promo_map, out);
}

tix_rc tix_promo_by_code(tix_db *db, tix_arena *a, const char *code, tix_promo *out)
{
    tix_dbv p = TIX_DB_TEXT(code);
    return TIX_DB_GET(db, a, PROMO_SELECT " WHERE p.code = $1", &p, 1, &promo_map, out);
}

tix_rc tix_promo_list(tix_db *db, tix_arena *a, const tix_promo_filter *f, tix_promo **items,
                      int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(f->owner_id), TIX_DB_TEXT(f->theatre_id), TIX_DB_TEXT(f->before),
                   TIX_DB_INT(f->limit + 1)};
    return TIX_DB_LIST(db, a,
                       PROMO_SELECT " WHERE (CAST($1 AS TEXT) IS NULL OR t.owner_id = $1)"
                                    " AND (CAST($2 AS TEXT) IS NULL OR p.theatre_id = $2)"
                                    " AND (CAST($3 AS TEXT) IS NULL OR p.id < $3)"
                                    " ORDER BY p.id DESC LIMIT $4",
                       p, 4, &promo_map, items, n);
}

tix_rc tix_promo_set_active(tix_db *db, const char *id, bool active, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(active ? 1 : 0), TIX_DB_INT(now)};
    return tix_db_exec_one(db, "UPDATE promo_codes SET active = $2, updated_at = $3 WHERE id = $1",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_promo_user_uses(tix_db *db, const char *promo_id, const char *user_id, int64_t *uses)
{
    tix_dbv p[] = {TIX_DB_TEXT(promo_id), TIX_DB_TEXT(user_id)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT uses FROM promo_code_users WHERE promo_code_id = $1"
                            " AND user_id = $2",
                            p, 2, &res);
    if (rc == TIX_OK) {
        *uses = tix_db_res_rows(res) > 0 ? tix_db_res_int(res, 0, 0) : 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

#define CLAIM_CODE_SQL                                                                             \
    "UPDATE promo_codes SET uses = uses + 1, updated_at = $2"                                      \
    " WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)"                                     \
    " AND ($3 = 0 OR (active = 1 AND (valid_from IS NULL OR valid_from <= $2)"                     \
    " AND (valid_until IS NULL OR valid_until > $2)))"

/* The per-user counter: an upsert that increments only below the limit (no row changed when
 * the user is at it). Codes without a per-user limit keep no per-user counter (limits never
 * change after creation, so giving back finds no row for them either). */
#define CLAIM_USER_SQL                                                                             \
    "INSERT INTO promo_code_users (promo_code_id, user_id, uses) VALUES ($1, $4, 1)"               \
    " ON CONFLICT (promo_code_id, user_id) DO UPDATE SET uses = promo_code_users.uses + 1"         \
    " WHERE promo_code_users.uses < $5"

tix_rc tix_promo_claim(tix_db *db, const char *promo_id, const char *user_id, int64_t max_per_user,
                       bool check_window, int64_t now, tix_promo_refusal *why)
{
    tix_dbv p[] = {TIX_DB_TEXT(promo_id), TIX_DB_INT(now), TIX_DB_INT(check_window ? 1 : 0),
                   TIX_DB_TEXT(user_id), TIX_DB_INT(max_per_user)};
    /* Both counters in one round trip: a refusal is a statement that changed no row, not a
     * failure, so both run and the caller rolls the whole transaction back on a refusal. */
    tix_db_stmt st[2] = {{.sql = CLAIM_CODE_SQL, .params = p, .n = 3},
                         {.sql = CLAIM_USER_SQL, .params = p, .n = 5}};
    int n = max_per_user > 0 ? 2 : 1;
    *why = TIX_PROMO_REFUSED_NONE;
    tix_rc rc = tix_db_exec_many(db, st, n);
    if (rc == TIX_OK && tix_db_res_changes(st[0].res) == 0) {
        *why = TIX_PROMO_REFUSED_CODE;
        rc = TIX_ECONFLICT;
    } else if (rc == TIX_OK && n == 2 && tix_db_res_changes(st[1].res) == 0) {
        *why = TIX_PROMO_REFUSED_USER;
        rc = TIX_ECONFLICT;
    }
    tix_db_stmts_cleanup(st, n);
    return rc;
}

/* Decrements the two counters of one use (never below 0: the CHECKs would refuse it). */
static tix_rc give_back(tix_db *db, const char *promo_id, const char *user_id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(promo_id), TIX_DB_TEXT(user_id), TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec(db,
                            "UPDATE promo_codes SET uses = uses - 1, updated_at = $3"
                            " WHERE id = $1 AND uses > 0",
                            p, 3, NULL);
    return rc ? rc
              : tix_db_exec(db,
                            "UPDATE promo_code_users SET uses = uses - 1 WHERE promo_code_id = $1"
                            " AND user_id = $2 AND uses > 0",
                            p, 2, NULL);
}

tix_rc tix_promo_release_booking(tix_db *db, const char *booking_id, int64_t now, bool *released)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    tix_db_res *res = NULL;
    if (released != NULL) {
        *released = false;
    }
    tix_rc rc = tix_db_exec(db,
                            "UPDATE bookings SET promo_held = 0 WHERE id = $1 AND promo_held = 1"
                            " AND promo_code_id IS NOT NULL RETURNING promo_code_id, user_id",
                            &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 1) {
        rc = give_back(db, tix_db_res_text(res, 0, 0), tix_db_res_text(res, 0, 1), now);
        if (rc == TIX_OK && released != NULL) {
            *released = true;
        }
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_promo_reclaim(tix_db *db, const char *booking_id, int64_t now)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT b.promo_code_id, b.user_id, COALESCE(c.max_uses_per_user, 0)"
                            " FROM bookings b JOIN promo_codes c ON c.id = b.promo_code_id"
                            " WHERE b.id = $1 AND b.promo_held = 0",
                            &p, 1, &res);
    if (rc != TIX_OK || tix_db_res_rows(res) == 0) {
        tix_db_res_destroy(res);
        return rc;
    }
    const char *promo_id = tix_db_res_text(res, 0, 0);
    const char *user_id = tix_db_res_text(res, 0, 1);
    int64_t max_per_user = tix_db_res_int(res, 0, 2);
    tix_dbv cp[] = {TIX_DB_TEXT(promo_id), TIX_DB_INT(now), TIX_DB_INT(0), TIX_DB_TEXT(user_id),
                    TIX_DB_INT(max_per_user)};
    /* One statement at a time, undoing the first when the second refuses: the caller's
     * transaction goes on (the payment is settled either way). */
    rc = tix_db_exec_one(db, CLAIM_CODE_SQL, cp, 3, TIX_ECONFLICT);
    if (rc == TIX_OK && max_per_user > 0) {
        rc = tix_db_exec_one(db, CLAIM_USER_SQL, cp, 5, TIX_ECONFLICT);
        if (rc == TIX_ECONFLICT) {
            tix_dbv bp[] = {TIX_DB_TEXT(promo_id), TIX_DB_INT(now)};
            tix_rc urc = tix_db_exec(db,
                                     "UPDATE promo_codes SET uses = uses - 1, updated_at = $2"
                                     " WHERE id = $1 AND uses > 0",
                                     bp, 2, NULL);
            rc = urc ? urc : TIX_ECONFLICT;
        }
    }
    rc = rc ? rc
            : tix_db_exec_one(db, "UPDATE bookings SET promo_held = 1 WHERE id = $1", &p, 1,
                              TIX_ENOTFOUND);
    tix_db_res_destroy(res);
    return rc;
}
