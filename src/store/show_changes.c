/* SQL for changing a show; see show_changes.h. */
#include "store/show_changes.h"

#include "core/util.h"
#include "store/outbox.h"

#include <inttypes.h>
#include <stdio.h>

tix_rc tix_show_overlap_other(tix_db *db, const char *hall_id, const char *show_id,
                              int64_t starts_at, int64_t ends_at, bool *overlaps)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_INT(starts_at), TIX_DB_INT(ends_at),
                   TIX_DB_TEXT(show_id)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT id FROM shows WHERE hall_id = $1 AND status <> 'cancelled'"
                            " AND starts_at < $3 AND ends_at > $2 AND id <> $4 LIMIT 1",
                            p, 4, &res);
    if (rc == TIX_OK) {
        *overlaps = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_show_move(tix_db *db, const char *id, int64_t starts_at, int64_t ends_at, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(starts_at), TIX_DB_INT(ends_at), TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec_one(db,
                                "UPDATE shows SET starts_at = $2, ends_at = $3, updated_at = $4"
                                " WHERE id = $1 AND status <> 'cancelled'",
                                p, 4, TIX_ECONFLICT);
    /* The summary row moves with the show (migration 0020). */
    return rc ? rc
              : tix_db_exec(db, "UPDATE show_sales SET starts_at = $2 WHERE show_id = $1", p, 2,
                            NULL);
}

tix_rc tix_show_price_set(tix_db *db, const char *show_id, const char *category, int64_t amount)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_TEXT(category), TIX_DB_INT(amount)};
    return tix_db_exec_one(db,
                           "UPDATE show_prices SET amount = $3 WHERE show_id = $1"
                           " AND category = $2",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_show_change_insert(tix_db *db, const tix_show_change *ch)
{
    tix_dbv p[] = {TIX_DB_TEXT(ch->id),           TIX_DB_TEXT(ch->show_id),
                   TIX_DB_TEXT(ch->changed_by),   TIX_DB_INT(ch->previous_starts_at),
                   TIX_DB_INT(ch->new_starts_at), TIX_DB_INT(ch->previous_ends_at),
                   TIX_DB_INT(ch->new_ends_at),   TIX_DB_INT(ch->prices_changed),
                   TIX_DB_INT(ch->changed_at)};
    return tix_db_exec(db,
                       "INSERT INTO show_changes (id, show_id, changed_by, previous_starts_at,"
                       " new_starts_at, previous_ends_at, new_ends_at, prices_changed, changed_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       p, 9, NULL);
}

tix_rc tix_outbox_show_rescheduled(tix_db *db, const char *show_id, const char *change_id,
                                   int64_t previous_starts_at, int64_t free_cancel_minutes,
                                   int64_t now)
{
    char prev[24];
    char minutes[24];
    snprintf(prev, sizeof(prev), "%" PRId64, previous_starts_at);
    snprintf(minutes, sizeof(minutes), "%" PRId64, free_cancel_minutes);
    /* One row per booking: id "<change's mail id>_<booking id>" (booking ids are [a-z0-9_],
     * so data needs no escaping), Message-ID <id@ticketd> like every other row. */
    tix_dbv p[] = {TIX_DB_TEXT(change_id), TIX_DB_TEXT(TIX_MAIL_SHOW_RESCHEDULED),
                   TIX_DB_TEXT(show_id),   TIX_DB_TEXT(prev),
                   TIX_DB_INT(now),        TIX_DB_TEXT(minutes)};
    return tix_db_exec(db,
                       "INSERT INTO mail_outbox (id, kind, to_addr, template, ref_id, data, status,"
                       " attempts, next_attempt_at, message_id, created_at, updated_at)"
                       " SELECT $1 || '_' || b.id, $2, u.email, $2, b.id,"
                       " '{\"booking_id\":\"' || b.id || '\",\"previous_starts_at\":\"' || $4"
                       " || '\",\"free_cancel_minutes\":\"' || $6 || '\"}', 'pending', 0, $5,"
                       " '<' || $1 || '_' || b.id || '@ticketd>',"
                       " $5, $5 FROM bookings b JOIN users u ON u.id = b.user_id"
                       " WHERE b.show_id = $3 AND b.status = 'confirmed' AND u.deleted_at IS NULL",
                       p, 6, NULL);
}

tix_rc tix_show_move_audience(tix_db *db, tix_arena *a, const char *show_id, int64_t now,
                              char ***user_ids, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_INT(now)};
    return TIX_DB_LIST(db, a,
                       "SELECT user_id FROM bookings WHERE show_id = $1"
                       " AND status IN ('confirmed', 'pending_payment')"
                       " UNION SELECT user_id FROM holds WHERE show_id = $1"
                       " AND status = 'active' AND expires_at > $2 ORDER BY 1",
                       p, 2, &tix_db_text_rows, user_ids, n);
}

tix_rc tix_show_start_bought(tix_db *db, const char *show_id, int64_t created_at,
                             int64_t *starts_at, bool *moved)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_INT(created_at)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT previous_starts_at FROM show_changes WHERE show_id = $1"
                            " AND changed_at >= $2 AND previous_starts_at <> new_starts_at"
                            " ORDER BY changed_at, id LIMIT 1",
                            p, 2, &res);
    *moved = rc == TIX_OK && tix_db_res_rows(res) > 0;
    if (*moved) {
        *starts_at = tix_db_res_int(res, 0, 0);
    }
    tix_db_res_destroy(res);
    return rc;
}
