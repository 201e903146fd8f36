/* SQL for door staff and check-ins; see door.h. */
#include "store/door.h"

#include <string.h>

/* ---- staff ---- */

tix_rc tix_staff_insert(tix_db *db, const char *theatre_id, const char *user_id,
                        const char *added_by, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(user_id), TIX_DB_TEXT(added_by),
                   TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "INSERT INTO theatre_staff (theatre_id, user_id, added_by, created_at)"
                       " VALUES ($1, $2, $3, $4)",
                       p, 4, NULL);
}

tix_rc tix_staff_delete(tix_db *db, const char *theatre_id, const char *user_id)
{
    tix_dbv p[] = {TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(user_id)};
    return tix_db_exec_one(db, "DELETE FROM theatre_staff WHERE theatre_id = $1 AND user_id = $2",
                           p, 2, TIX_ENOTFOUND);
}

tix_rc tix_staff_is_member(tix_db *db, const char *theatre_id, const char *user_id, bool *member)
{
    tix_dbv p[] = {TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(user_id)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(
        db, "SELECT 1 FROM theatre_staff WHERE theatre_id = $1 AND user_id = $2", p, 2, &res);
    if (rc == TIX_OK) {
        *member = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

#define S(field) TIX_DB_COL(tix_staff_row, field)
static const tix_db_col staff_cols[] = {S(user_id), S(email), S(name), S(added_by), S(created_at)};
#undef S
static const tix_db_map staff_map = TIX_DB_MAP(tix_staff_row, staff_cols, NULL);

tix_rc tix_staff_list(tix_db *db, tix_arena *a, const char *theatre_id, const char *after,
                      int limit, tix_staff_row **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(after), TIX_DB_INT(limit + 1)};
    return TIX_DB_LIST(db, a,
                       "SELECT s.user_id, u.email, u.name, s.added_by, s.created_at"
                       " FROM theatre_staff s JOIN users u ON u.id = s.user_id"
                       " WHERE s.theatre_id = $1 AND (CAST($2 AS TEXT) IS NULL OR s.user_id > $2)"
                       " ORDER BY s.user_id LIMIT $3",
                       p, 3, &staff_map, items, n);
}

/* ---- tickets at the door ---- */

#define D(field) TIX_DB_COL(tix_door_ticket, field)
static const tix_db_col door_ticket_cols[] = {
    D(id),         D(code),    TIX_DB_COL_NONE, D(booking_id),  D(booking_status), D(seat_id),
    D(seat_label), D(show_id), D(theatre_id),   D(show_status), D(starts_at),      D(ends_at)};
#undef D

/* Column 2 is tickets.status. */
static void read_door_ticket(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    tix_door_ticket *t = item;
    const char *status = tix_db_res_text(res, row, 2);
    t->valid = status != NULL && strcmp(status, "valid") == 0;
}
static const tix_db_map door_ticket_map =
    TIX_DB_MAP(tix_door_ticket, door_ticket_cols, read_door_ticket);

tix_rc tix_door_ticket_get(tix_db *db, tix_arena *a, const char *code, const char *ticket_id,
                           tix_door_ticket *out)
{
    tix_dbv p = TIX_DB_TEXT(code != NULL ? code : ticket_id);
    const char *sql =
        code != NULL
            ? "SELECT t.id, t.code, t.status, t.booking_id, b.status, t.seat_id, bs.label,"
              " b.show_id, s.theatre_id, s.status, s.starts_at, s.ends_at"
              " FROM tickets t JOIN bookings b ON b.id = t.booking_id"
              " JOIN shows s ON s.id = b.show_id"
              " JOIN booking_seats bs ON bs.booking_id = t.booking_id AND bs.seat_id = t.seat_id"
              " WHERE t.code = $1"
            : "SELECT t.id, t.code, t.status, t.booking_id, b.status, t.seat_id, bs.label,"
              " b.show_id, s.theatre_id, s.status, s.starts_at, s.ends_at"
              " FROM tickets t JOIN bookings b ON b.id = t.booking_id"
              " JOIN shows s ON s.id = b.show_id"
              " JOIN booking_seats bs ON bs.booking_id = t.booking_id AND bs.seat_id = t.seat_id"
              " WHERE t.id = $1";
    return TIX_DB_GET(db, a, sql, &p, 1, &door_ticket_map, out);
}

/* ---- check-ins ---- */

tix_rc tix_checkin_insert(tix_db *db, const tix_checkin_req *q, bool *admitted, int64_t *at)
{
    tix_dbv p[] = {TIX_DB_TEXT(q->ticket_id), TIX_DB_TEXT(q->scanned_by), TIX_DB_TEXT(q->method),
                   TIX_DB_INT(q->now)};
    tix_db_res *res = NULL;
    /* The WHERE clause also keeps SQLite from reading "ON CONFLICT" as a join constraint. */
    tix_rc rc = tix_db_exec(
        db,
        "INSERT INTO check_ins (ticket_id, booking_id, show_id, theatre_id, scanned_by, method,"
        " checked_in_at)"
        " SELECT t.id, t.booking_id, b.show_id, s.theatre_id, CAST($2 AS TEXT),"
        " CAST($3 AS TEXT), CAST($4 AS BIGINT)"
        " FROM tickets t JOIN bookings b ON b.id = t.booking_id JOIN shows s ON s.id = b.show_id"
        " WHERE t.id = $1 AND t.status = 'valid' AND b.status = 'confirmed'"
        " ON CONFLICT (ticket_id) DO NOTHING RETURNING checked_in_at",
        p, 4, &res);
    if (rc != TIX_OK) {
        tix_db_res_destroy(res);
        return rc;
    }
    bool won = tix_db_res_rows(res) > 0;
    tix_db_res_destroy(res);
    if (won) {
        *admitted = true;
        *at = q->now;
        return TIX_OK;
    }
    res = NULL;
    rc = tix_db_exec(db, "SELECT checked_in_at FROM check_ins WHERE ticket_id = $1", p, 1, &res);
    if (rc == TIX_OK) {
        *admitted = false;
        *at = tix_db_res_rows(res) > 0 ? tix_db_res_int(res, 0, 0) : 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_checkin_first_of_booking(tix_db *db, tix_arena *a, const char *booking_id,
                                    const char **ticket_id, int64_t *at)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT c.ticket_id, c.checked_in_at FROM tickets t"
                            " JOIN check_ins c ON c.ticket_id = t.id WHERE t.booking_id = $1"
                            " ORDER BY c.checked_in_at, c.ticket_id LIMIT 1",
                            &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    } else if (rc == TIX_OK) {
        *ticket_id = tix_arena_strdup(a, tix_db_res_text(res, 0, 0));
        *at = tix_db_res_int(res, 0, 1);
    }
    tix_db_res_destroy(res);
    return rc;
}

#define C(field) TIX_DB_COL(tix_checkin_row, field)
static const tix_db_col checkin_cols[] = {C(ticket_id),  C(booking_id), C(seat_label),
                                          C(scanned_by), C(method),     C(checked_in_at)};
#undef C
static const tix_db_map checkin_map = TIX_DB_MAP(tix_checkin_row, checkin_cols, NULL);

tix_rc tix_checkin_list(tix_db *db, tix_arena *a, const char *show_id, int64_t after_at,
                        const char *after_ticket, int limit, tix_checkin_row **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_TEXT(after_ticket), TIX_DB_INT(after_at),
                   TIX_DB_INT(limit + 1)};
    return TIX_DB_LIST(db, a,
                       "SELECT c.ticket_id, c.booking_id, bs.label, c.scanned_by, c.method,"
                       " c.checked_in_at FROM check_ins c JOIN tickets t ON t.id = c.ticket_id"
                       " JOIN booking_seats bs ON bs.booking_id = t.booking_id"
                       " AND bs.seat_id = t.seat_id"
                       " WHERE c.show_id = $1 AND (CAST($2 AS TEXT) IS NULL"
                       " OR c.checked_in_at > $3 OR (c.checked_in_at = $3 AND c.ticket_id > $2))"
                       " ORDER BY c.checked_in_at, c.ticket_id LIMIT $4",
                       p, 4, &checkin_map, items, n);
}

tix_rc tix_checkin_counts(tix_db *db, const char *show_id, int64_t *sold, int64_t *admitted)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT (SELECT COUNT(*) FROM tickets t JOIN bookings b"
                            " ON b.id = t.booking_id WHERE b.show_id = $1"
                            " AND b.status = 'confirmed' AND t.status = 'valid'),"
                            " (SELECT COUNT(*) FROM check_ins WHERE show_id = $1)",
                            &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 1) {
        *sold = tix_db_res_int(res, 0, 0);
        *admitted = tix_db_res_int(res, 0, 1);
    } else if (rc == TIX_OK) {
        rc = TIX_EDB;
    }
    tix_db_res_destroy(res);
    return rc;
}
