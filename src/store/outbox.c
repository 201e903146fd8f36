/* The mail outbox and password-reset tokens (store/outbox.h). */
#include "store/outbox.h"

#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define OUTBOX_COLS                                                                                \
    "id, kind, to_addr, template, ref_id, data, status, attempts, next_attempt_at, last_error,"    \
    " subject, message_id, created_at, sent_at, updated_at"

static const tix_db_col outbox_cols[] = {TIX_DB_COL(tix_outbox_row, id),
                                         TIX_DB_COL(tix_outbox_row, kind),
                                         TIX_DB_COL(tix_outbox_row, to_addr),
                                         TIX_DB_COL(tix_outbox_row, template_name),
                                         TIX_DB_COL(tix_outbox_row, ref_id),
                                         TIX_DB_COL(tix_outbox_row, data),
                                         TIX_DB_COL(tix_outbox_row, status),
                                         TIX_DB_COL(tix_outbox_row, attempts),
                                         TIX_DB_COL(tix_outbox_row, next_attempt_at),
                                         TIX_DB_COL(tix_outbox_row, last_error),
                                         TIX_DB_COL(tix_outbox_row, subject),
                                         TIX_DB_COL(tix_outbox_row, message_id),
                                         TIX_DB_COL(tix_outbox_row, created_at),
                                         TIX_DB_COL(tix_outbox_row, sent_at),
                                         TIX_DB_COL(tix_outbox_row, updated_at)};
static const tix_db_map outbox_map = TIX_DB_MAP(tix_outbox_row, outbox_cols, NULL);

/* {"<key>":"<value>"} with value's quotes, backslashes and control characters escaped, and
 * "request_id" when the thread works for a request (core/log.h: its id is already escaped). */
static void json_one(char *out, size_t cap, const char *key, const char *value)
{
    const char *rid = tix_log_request_id();
    size_t len = (size_t)snprintf(out, cap, "{\"%s\":\"", key);
    for (const char *s = value; *s != '\0' && len + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[len++] = '\\';
            out[len++] = (char)ch;
        } else if (ch < 0x20) {
            len += (size_t)snprintf(out + len, cap - len, "\\u%04x", ch);
        } else {
            out[len++] = (char)ch;
        }
    }
    snprintf(out + len, cap - len, "\"%s%s%s}", rid ? ",\"request_id\":\"" : "", rid ? rid : "",
             rid ? "\"" : "");
}

tix_rc tix_outbox_booking(tix_db *db, const char *booking_id, const char *kind, int64_t now)
{
    char id[TIX_ID_MAX];
    char mid[TIX_ID_MAX + 16];
    char data[256];
    tix_id_new(id, "mail");
    snprintf(mid, sizeof(mid), "<%s@ticketd>", id);
    json_one(data, sizeof(data), "booking_id", booking_id);
    tix_dbv p[] = {TIX_DB_TEXT(id),   TIX_DB_TEXT(kind), TIX_DB_TEXT(booking_id),
                   TIX_DB_TEXT(data), TIX_DB_TEXT(mid),  TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "INSERT INTO mail_outbox (id, kind, to_addr, template, ref_id, data, status,"
                       " attempts, next_attempt_at, message_id, created_at, updated_at)"
                       " SELECT $1, $2, u.email, $2, b.id, $4, 'pending', 0, $6, $5, $6, $6"
                       " FROM bookings b JOIN users u ON u.id = b.user_id"
                       " WHERE b.id = $3 AND u.deleted_at IS NULL",
                       p, 6, NULL);
}

tix_rc tix_outbox_password_reset(tix_db *db, const char *email, const char *token,
                                 const char *token_hash, int64_t expires_at, int64_t now)
{
    char id[TIX_ID_MAX];
    char mid[TIX_ID_MAX + 16];
    char data[256];
    tix_id_new(id, "mail");
    snprintf(mid, sizeof(mid), "<%s@ticketd>", id);
    json_one(data, sizeof(data), "token", token);
    tix_dbv rp[] = {TIX_DB_TEXT(token_hash), TIX_DB_TEXT(email), TIX_DB_INT(expires_at),
                    TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO password_resets (token_hash, user_id, expires_at,"
                            " created_at) VALUES ($1, (SELECT u.id FROM users u"
                            " WHERE u.email = $2 AND u.disabled_at IS NULL"
                            " AND u.deleted_at IS NULL), $3, $4)",
                            rp, 4, NULL);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(email), TIX_DB_TEXT(data), TIX_DB_TEXT(mid),
                   TIX_DB_INT(now)};
    /* Always one row: the account's mail, or (no such account) a decoy of the same size with
     * ref_id NULL and a placeholder address, deleted again by the next statement. */
    rc = tix_db_exec(db,
                     "INSERT INTO mail_outbox (id, kind, to_addr, template, ref_id, data, status,"
                     " attempts, next_attempt_at, message_id, created_at, updated_at)"
                     " SELECT $1, 'password_reset', COALESCE(u.email, 'nobody@invalid'),"
                     " 'password_reset', u.id, $3, 'pending', 0, $5, $4, $5, $5"
                     " FROM (SELECT 1 AS one) x LEFT JOIN users u ON u.email = $2"
                     " AND u.disabled_at IS NULL AND u.deleted_at IS NULL",
                     p, 5, NULL);
    if (rc != TIX_OK) {
        return rc;
    }
    return tix_db_exec(db, "DELETE FROM mail_outbox WHERE id = $1 AND ref_id IS NULL", p, 1, NULL);
}

tix_rc tix_reset_consume(tix_db *db, tix_arena *a, const char *token_hash, int64_t now,
                         char **user_id)
{
    tix_dbv p[] = {TIX_DB_TEXT(token_hash), TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1"
                            " AND used_at IS NULL AND expires_at > $2 AND user_id IS NOT NULL"
                            " RETURNING user_id",
                            p, 2, &res);
    if (rc != TIX_OK) {
        return rc;
    }
    if (tix_db_res_rows(res) == 0) {
        tix_db_res_destroy(res);
        return TIX_ENOTFOUND;
    }
    *user_id = tix_db_res_dup(a, res, 0, 0);
    tix_db_res_destroy(res);
    tix_dbv q[] = {TIX_DB_TEXT(*user_id), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE password_resets SET used_at = $2 WHERE user_id = $1"
                       " AND used_at IS NULL",
                       q, 2, NULL);
}

#define DUE                                                                                        \
    "((status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND"                   \
    " lease_until <= $1))"

tix_rc tix_outbox_claim(tix_db *db, tix_arena *a, int64_t now, int64_t lease_ms, int limit,
                        tix_outbox_row **rows, int *n)
{
    tix_dbv p[] = {TIX_DB_INT(now), TIX_DB_INT(now + lease_ms), TIX_DB_INT(limit)};
    return TIX_DB_LIST(db, a,
                       "UPDATE mail_outbox SET status = 'sending', lease_until = $2,"
                       " attempts = attempts + 1, updated_at = $1"
                       " WHERE id IN (SELECT id FROM mail_outbox WHERE " DUE
                       " ORDER BY next_attempt_at, id LIMIT $3) AND " DUE " RETURNING " OUTBOX_COLS,
                       p, 3, &outbox_map, rows, n);
}

tix_rc tix_outbox_sent(tix_db *db, const char *id, const char *subject, bool scrub, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(subject), TIX_DB_INT(scrub), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE mail_outbox SET status = 'sent', subject = $2, sent_at = $4,"
                           " updated_at = $4, lease_until = NULL, last_error = NULL,"
                           " data = CASE WHEN $3 = 1 THEN '{}' ELSE data END"
                           " WHERE id = $1 AND status = 'sending'",
                           p, 4, TIX_ECONFLICT);
}

tix_rc tix_outbox_later(tix_db *db, const char *id, int64_t next_at, const char *error, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(next_at), TIX_DB_TEXT(error), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE mail_outbox SET status = 'pending', next_attempt_at = $2,"
                           " last_error = $3, lease_until = NULL, updated_at = $4"
                           " WHERE id = $1 AND status = 'sending'",
                           p, 4, TIX_ECONFLICT);
}

tix_rc tix_outbox_failed(tix_db *db, const char *id, const char *error, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(error), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE mail_outbox SET status = 'failed', last_error = $2,"
                           " lease_until = NULL, updated_at = $3"
                           " WHERE id = $1 AND status = 'sending'",
                           p, 3, TIX_ECONFLICT);
}

tix_rc tix_outbox_page(tix_db *db, tix_arena *a, const char *status, const char *cursor, int limit,
                       tix_outbox_row **rows, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(status), TIX_DB_TEXT(cursor), TIX_DB_INT(limit + 1)};
    return TIX_DB_LIST(db, a,
                       "SELECT " OUTBOX_COLS " FROM mail_outbox"
                       " WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)"
                       " AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                       p, 3, &outbox_map, rows, n);
}

tix_rc tix_outbox_get(tix_db *db, tix_arena *a, const char *id, tix_outbox_row *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(db, a, "SELECT " OUTBOX_COLS " FROM mail_outbox WHERE id = $1", &p, 1,
                      &outbox_map, out);
}

tix_rc tix_outbox_requeue(tix_db *db, tix_arena *a, const char *id, int64_t now,
                          tix_outbox_row *out)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    /* RETURNING: the row as this statement left it. A read after it could find the mail job
     * already sending it (the job claims a due row at once), which is not what the retry did. */
    tix_rc rc = TIX_DB_GET(db, a,
                           "UPDATE mail_outbox SET status = 'pending', attempts = 0,"
                           " next_attempt_at = $2, updated_at = $2"
                           " WHERE id = $1 AND status = 'failed' RETURNING " OUTBOX_COLS,
                           p, 2, &outbox_map, out);
    if (rc == TIX_ENOTFOUND) {
        tix_db_res *res = NULL;
        tix_rc rc2 = tix_db_exec(db, "SELECT 1 FROM mail_outbox WHERE id = $1", p, 1, &res);
        if (rc2 == TIX_OK && tix_db_res_rows(res) > 0) {
            rc = TIX_ECONFLICT;
        } else if (rc2 != TIX_OK) {
            rc = rc2;
        }
        tix_db_res_destroy(res);
    }
    return rc;
}

tix_rc tix_outbox_forget(tix_db *db, const char *email, const char *placeholder, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(email), TIX_DB_TEXT(placeholder), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE mail_outbox SET to_addr = $2, updated_at = $3,"
                       " data = CASE WHEN status = 'sent' THEN data ELSE '{}' END,"
                       " last_error = CASE WHEN status = 'sent' THEN last_error"
                       " ELSE 'the account was deleted' END,"
                       " status = CASE WHEN status = 'sent' THEN status ELSE 'failed' END"
                       " WHERE to_addr = $1",
                       p, 3, NULL);
}

static const tix_db_col booking_info_cols[] = {
    TIX_DB_COL(tix_mail_booking, user_name), TIX_DB_COL(tix_mail_booking, movie),
    TIX_DB_COL(tix_mail_booking, theatre),   TIX_DB_COL(tix_mail_booking, hall),
    TIX_DB_COL(tix_mail_booking, status),    TIX_DB_COL(tix_mail_booking, currency),
    TIX_DB_COL(tix_mail_booking, starts_at), TIX_DB_COL(tix_mail_booking, utc_offset_minutes),
    TIX_DB_COL(tix_mail_booking, amount)};
static const tix_db_map booking_info_map = TIX_DB_MAP(tix_mail_booking, booking_info_cols, NULL);

tix_rc tix_outbox_booking_info(tix_db *db, tix_arena *a, const char *booking_id,
                               tix_mail_booking *out)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    return TIX_DB_GET(db, a,
                      "SELECT u.name, m.title, t.name, h.name, b.status, b.currency, s.starts_at,"
                      " t.utc_offset_minutes, b.amount FROM bookings b"
                      " JOIN users u ON u.id = b.user_id JOIN shows s ON s.id = b.show_id"
                      " JOIN movies m ON m.id = s.movie_id JOIN theatres t ON t.id = s.theatre_id"
                      " JOIN halls h ON h.id = s.hall_id WHERE b.id = $1",
                      &p, 1, &booking_info_map, out);
}

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

tix_rc tix_outbox_purge(tix_db *db, int64_t done_before, int64_t now, int64_t *outbox,
                        int64_t *resets)
{
    tix_dbv d = TIX_DB_INT(done_before);
    tix_dbv n = TIX_DB_INT(now);
    tix_rc rc = exec_count(db,
                           "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed')"
                           " AND updated_at < $1",
                           &d, 1, outbox);
    rc = rc ? rc
            : exec_count(db,
                         "DELETE FROM password_resets WHERE used_at IS NOT NULL"
                         " OR expires_at < $1",
                         &n, 1, resets);
    return rc;
}
