/* SQL for sales reports; see reports.h. */
#include "store/reports.h"

#include <stddef.h>

/* The offsets a theatre may have (api/venues_api.c: -720..840 minutes), as the margin of the
 * coarse bound on shows.starts_at. */
#define OFFSET_MIN_MS (-720LL * 60000)
#define OFFSET_MAX_MS (840LL * 60000)

/* The shows of the range ($1/$2 local range, $3/$4 coarse UTC range, $5 theatre id or NULL,
 * $6 owner id or NULL), with every column a group may be named by. */
#define SALES_SHOWS                                                                                \
    "WITH sh AS (SELECT s.id, s.theatre_id, s.movie_id, s.hall_id, s.currency, s.status,"          \
    " s.starts_at, t.name AS theatre_name,"                                                        \
    " (s.starts_at + t.utc_offset_minutes * 60000) / 86400000 AS day"                              \
    " FROM shows s JOIN theatres t ON t.id = s.theatre_id"                                         \
    " WHERE s.starts_at >= $3 AND s.starts_at < $4"                                                \
    " AND s.starts_at + t.utc_offset_minutes * 60000 >= $1"                                        \
    " AND s.starts_at + t.utc_offset_minutes * 60000 < $2"                                         \
    " AND (CAST($5 AS TEXT) IS NULL OR s.theatre_id = $5)"                                         \
    " AND (CAST($6 AS TEXT) IS NULL OR t.owner_id = $6)),"

/*
 * The sums come from show_sales (migration 0019): one row per show, kept by the writes that move
 * money or tickets (tix_show_sales_booking, tix_show_sales_refund), so the report reads one
 * summary row per show of the range and never a booking, seat or refund. The shows of the range
 * are grouped by the report's key and their hall in g1 (a show with no summary row counts as
 * zeros), and each group's hall gives the sellable seats: its active seats (seat_count) less its
 * blocked ones (seats_hall_blocked, migration 0016), times its shows not cancelled.
 * "sh LEFT JOIN show_sales" probes the summary's primary key once per show (or hashes it): linear
 * whatever plan the database picks, also PostgreSQL's generic plan for a prepared statement that
 * guesses one show in sh (the reason the earlier version was a UNION ALL of branches).
 *
 * K is the group's key as six columns (k_day, k_id, k_starts, k_tid, k_tname, k_mid; unused
 * ones constant) and G the same key for GROUP BY.
 */
#define SALES_BRANCHES(K, G)                                                                       \
    " x AS (SELECT g1.k_day, g1.k_id, g1.k_starts, g1.k_tid, g1.k_tname, g1.k_mid, g1.currency,"   \
    " g1.n AS shows, g1.live * (h.seat_count - (SELECT COUNT(*) FROM seats se"                     \
    " WHERE se.hall_id = g1.hall_id AND se.blocked = 1 AND se.active = 1)) AS sellable,"           \
    " g1.gross, g1.discounts, g1.refunds, g1.tickets"                                              \
    " FROM (SELECT " K ", sh.currency, sh.hall_id, COUNT(*) AS n,"                                 \
    " SUM(CASE WHEN sh.status = 'cancelled' THEN 0 ELSE 1 END) AS live,"                           \
    " SUM(COALESCE(ss.gross, 0)) AS gross, SUM(COALESCE(ss.discounts, 0)) AS discounts,"           \
    " SUM(COALESCE(ss.refunds, 0)) AS refunds, SUM(COALESCE(ss.tickets, 0)) AS tickets"            \
    " FROM sh LEFT JOIN show_sales ss ON ss.show_id = sh.id"                                       \
    " GROUP BY " G ", sh.currency, sh.hall_id) g1 CROSS JOIN halls h WHERE h.id = g1.hall_id)"

/* The groups, named and ordered: the movie's title is joined after the sums (one probe per
 * row of the answer, not per booking). */
#define SALES_SELECT(NAME, ORDER)                                                                  \
    " SELECT g.k_day, g.k_id, " NAME ", g.k_starts, g.k_tid, g.k_tname, g.k_mid, g.currency,"      \
    " g.shows, g.gross, g.discounts, g.refunds, g.tickets, g.sellable FROM"                        \
    " (SELECT k_day, k_id, k_starts, k_tid, k_tname, k_mid, currency, SUM(shows) AS shows,"        \
    " SUM(sellable) AS sellable, SUM(gross) AS gross, SUM(discounts) AS discounts,"                \
    " SUM(refunds) AS refunds, SUM(tickets) AS tickets FROM x"                                     \
    " GROUP BY k_day, k_id, k_starts, k_tid, k_tname, k_mid, currency) g"                          \
    " LEFT JOIN movies m ON m.id = g.k_mid ORDER BY " ORDER ", g.currency LIMIT $7"

#define SALES_SQL(K, G, NAME, ORDER) SALES_SHOWS SALES_BRANCHES(K, G) SALES_SELECT(NAME, ORDER)

/* One whole statement per group: fixed text (nothing from the request is spliced), so
 * PostgreSQL prepares each once per connection. */
static const char *const sales_sql[] = {
    [TIX_SALES_BY_DAY] = SALES_SQL("sh.day AS k_day, NULL AS k_id, 0 AS k_starts, NULL AS k_tid,"
                                   " NULL AS k_tname, NULL AS k_mid",
                                   "sh.day", "NULL", "g.k_day"),
    [TIX_SALES_BY_SHOW] = SALES_SQL("0 AS k_day, sh.id AS k_id, sh.starts_at AS k_starts,"
                                    " sh.theatre_id AS k_tid, sh.theatre_name AS k_tname,"
                                    " sh.movie_id AS k_mid",
                                    "sh.id, sh.starts_at, sh.theatre_id, sh.theatre_name,"
                                    " sh.movie_id",
                                    "m.title", "g.k_starts, g.k_id"),
    [TIX_SALES_BY_MOVIE] = SALES_SQL("0 AS k_day, sh.movie_id AS k_id, 0 AS k_starts, NULL AS"
                                     " k_tid, NULL AS k_tname, sh.movie_id AS k_mid",
                                     "sh.movie_id", "m.title", "m.title, g.k_id"),
    [TIX_SALES_BY_THEATRE] =
        SALES_SQL("0 AS k_day, sh.theatre_id AS k_id, 0 AS k_starts,"
                  " sh.theatre_id AS k_tid, sh.theatre_name AS k_tname,"
                  " NULL AS k_mid",
                  "sh.theatre_id, sh.theatre_name", "g.k_tname", "g.k_tname, g.k_id"),
};

#define R(f) TIX_DB_COL(tix_sales_row, f)
static const tix_db_col sales_cols[] = {
    R(day),      R(id),    R(name),  R(starts_at), R(theatre_id), R(theatre_name), R(movie_id),
    R(currency), R(shows), R(gross), R(discounts), R(refunds),    R(tickets),      R(sellable)};
#undef R
static const tix_db_map sales_map = TIX_DB_MAP(tix_sales_row, sales_cols, NULL);

tix_rc tix_sales_report(tix_db *db, tix_arena *a, const tix_sales_query *q, tix_sales_row **rows,
                        int *n)
{
    if ((unsigned)q->group > TIX_SALES_BY_THEATRE || q->limit < 1) {
        return TIX_EINVAL;
    }
    tix_dbv p[] = {TIX_DB_INT(q->from_local_ms),
                   TIX_DB_INT(q->to_local_ms),
                   TIX_DB_INT(q->from_local_ms - OFFSET_MAX_MS),
                   TIX_DB_INT(q->to_local_ms - OFFSET_MIN_MS),
                   TIX_DB_TEXT(q->theatre_id),
                   TIX_DB_TEXT(q->owner_id),
                   TIX_DB_INT((int64_t)q->limit + 1)};
    return TIX_DB_LIST(db, a, sales_sql[q->group], p, 7, &sales_map, rows, n);
}

/* ---- the summary ---- */

#define PAID_STATUSES "('confirmed', 'cancelled_refunded', 'expired_refunded')"
#define SHOW_SALES_UPSERT                                                                          \
    " ON CONFLICT (show_id) DO UPDATE SET"                                                         \
    " paid_bookings = show_sales.paid_bookings + excluded.paid_bookings,"                          \
    " gross = show_sales.gross + excluded.gross,"                                                  \
    " discounts = show_sales.discounts + excluded.discounts,"                                      \
    " refunds = show_sales.refunds + excluded.refunds,"                                            \
    " tickets = show_sales.tickets + excluded.tickets"

tix_rc tix_show_sales_booking(tix_db *db, const char *booking_id, int paid, int confirmed)
{
    if (paid == 0 && confirmed == 0) {
        return TIX_OK;
    }
    tix_dbv p[] = {TIX_DB_TEXT(booking_id), TIX_DB_INT(paid), TIX_DB_INT(confirmed)};
    return tix_db_exec(
        db,
        "INSERT INTO show_sales (show_id, paid_bookings, gross, discounts, refunds, tickets)"
        " SELECT b.show_id, CAST($2 AS BIGINT), CAST($2 AS BIGINT) * CASE WHEN"
        " b.amount_before_discount > 0 THEN b.amount_before_discount ELSE b.amount + b.discount"
        " END, CAST($2 AS BIGINT) * b.discount, CAST($2 AS BIGINT) * (SELECT"
        " CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) FROM refunds r WHERE r.booking_id = b.id"
        " AND r.status = 'processed' AND r.payment_id = b.payment_id),"
        " CAST($3 AS BIGINT) * (SELECT COUNT(*) FROM booking_seats bs WHERE bs.booking_id = b.id)"
        " FROM bookings b WHERE b.id = $1" SHOW_SALES_UPSERT,
        p, 3, NULL);
}

tix_rc tix_show_sales_refund(tix_db *db, const char *refund_id, const char *key)
{
    tix_dbv p[] = {TIX_DB_TEXT(refund_id), TIX_DB_TEXT(key)};
    return tix_db_exec(db,
                       "INSERT INTO show_sales (show_id, paid_bookings, gross, discounts, refunds,"
                       " tickets) SELECT b.show_id, 0, 0, 0, r.amount, 0 FROM refunds r"
                       " JOIN bookings b ON b.id = r.booking_id WHERE r.id = $1"
                       " AND r.payment_id = b.payment_id AND b.status IN " PAID_STATUSES
                       " AND (CAST($2 AS TEXT) IS NULL OR (r.status <> 'processed'"
                       " AND COALESCE(r.idem_key, r.id) = $2))" SHOW_SALES_UPSERT,
                       p, 2, NULL);
}
