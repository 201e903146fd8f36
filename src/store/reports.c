/* SQL for sales reports; see reports.h. */
#include "store/reports.h"

#include <stddef.h>
#include <stdio.h>

/* The offsets a theatre may have (api/venues_api.c: -720..840 minutes), as the margin of the
 * coarse bound on shows.starts_at. */
#define OFFSET_MIN_MS (-720LL * 60000)
#define OFFSET_MAX_MS (840LL * 60000)

/* The shows of the range and the sums per show, then the groups. $1/$2 local range, $3/$4
 * coarse UTC range, $5 theatre id or NULL, $6 owner id or NULL, $7 the row limit. */
#define SALES_WITH                                                                                 \
    "WITH sh AS (SELECT s.id, s.theatre_id, s.movie_id, s.hall_id, s.currency, s.status,"          \
    " s.starts_at, t.name AS theatre_name,"                                                        \
    " (s.starts_at + t.utc_offset_minutes * 60000) / 86400000 AS day"                              \
    " FROM shows s JOIN theatres t ON t.id = s.theatre_id"                                         \
    " WHERE s.starts_at >= $3 AND s.starts_at < $4"                                                \
    " AND s.starts_at + t.utc_offset_minutes * 60000 >= $1"                                        \
    " AND s.starts_at + t.utc_offset_minutes * 60000 < $2"                                         \
    " AND (CAST($5 AS TEXT) IS NULL OR s.theatre_id = $5)"                                         \
    " AND (CAST($6 AS TEXT) IS NULL OR t.owner_id = $6)),"                                         \
    " pb AS (SELECT b.show_id, SUM(CASE WHEN b.amount_before_discount > 0"                         \
    " THEN b.amount_before_discount ELSE b.amount + b.discount END) AS gross,"                     \
    " SUM(b.discount) AS discounts FROM sh JOIN bookings b ON b.show_id = sh.id"                   \
    " WHERE b.status IN ('confirmed', 'cancelled_refunded', 'expired_refunded')"                   \
    " GROUP BY b.show_id),"                                                                        \
    " rf AS (SELECT b.show_id, SUM(r.amount) AS refunds FROM sh"                                   \
    " JOIN bookings b ON b.show_id = sh.id JOIN refunds r ON r.booking_id = b.id"                  \
    " WHERE r.status = 'processed' GROUP BY b.show_id),"                                           \
    " tk AS (SELECT b.show_id, COUNT(*) AS tickets FROM sh"                                        \
    " JOIN bookings b ON b.show_id = sh.id JOIN booking_seats bs ON bs.booking_id = b.id"          \
    " WHERE b.status = 'confirmed' GROUP BY b.show_id),"                                           \
    " hs AS (SELECT se.hall_id, COUNT(*) AS seats FROM seats se WHERE se.active = 1"               \
    " AND se.blocked = 0 AND se.hall_id IN (SELECT hall_id FROM sh) GROUP BY se.hall_id)"

#define SALES_SUMS                                                                                 \
    " sh.currency, COUNT(*), SUM(COALESCE(pb.gross, 0)), SUM(COALESCE(pb.discounts, 0)),"          \
    " SUM(COALESCE(rf.refunds, 0)), SUM(COALESCE(tk.tickets, 0)),"                                 \
    " SUM(CASE WHEN sh.status = 'cancelled' THEN 0 ELSE COALESCE(hs.seats, 0) END)"                \
    " FROM sh LEFT JOIN pb ON pb.show_id = sh.id LEFT JOIN rf ON rf.show_id = sh.id"               \
    " LEFT JOIN tk ON tk.show_id = sh.id LEFT JOIN hs ON hs.hall_id = sh.hall_id"

/* Per group: the naming columns (day, id, name, starts_at, theatre_id, theatre_name,
 * movie_id), an extra join, GROUP BY and ORDER BY. Only these fixed texts are spliced. */
static const struct {
    const char *keys;
    const char *join;
    const char *group;
    const char *order;
} groups[] = {
    [TIX_SALES_BY_DAY] = {"sh.day, NULL, NULL, 0, NULL, NULL, NULL,", "", "sh.day", "sh.day"},
    [TIX_SALES_BY_SHOW] = {"0, sh.id, m.title, sh.starts_at, sh.theatre_id, sh.theatre_name,"
                           " sh.movie_id,",
                           " JOIN movies m ON m.id = sh.movie_id",
                           "sh.id, m.title, sh.starts_at, sh.theatre_id, sh.theatre_name,"
                           " sh.movie_id",
                           "sh.starts_at, sh.id"},
    [TIX_SALES_BY_MOVIE] = {"0, sh.movie_id, m.title, 0, NULL, NULL, NULL,",
                            " JOIN movies m ON m.id = sh.movie_id", "sh.movie_id, m.title",
                            "m.title, sh.movie_id"},
    [TIX_SALES_BY_THEATRE] = {"0, sh.theatre_id, sh.theatre_name, 0, NULL, NULL, NULL,", "",
                              "sh.theatre_id, sh.theatre_name", "sh.theatre_name, sh.theatre_id"},
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
    char sql[4096];
    int len = snprintf(sql, sizeof sql,
                       SALES_WITH " SELECT %s" SALES_SUMS "%s GROUP BY %s, sh.currency"
                                  " ORDER BY %s, sh.currency LIMIT $7",
                       groups[q->group].keys, groups[q->group].join, groups[q->group].group,
                       groups[q->group].order);
    if (len < 0 || (size_t)len >= sizeof sql) {
        return TIX_EDB;
    }
    tix_dbv p[] = {TIX_DB_INT(q->from_local_ms),
                   TIX_DB_INT(q->to_local_ms),
                   TIX_DB_INT(q->from_local_ms - OFFSET_MAX_MS),
                   TIX_DB_INT(q->to_local_ms - OFFSET_MIN_MS),
                   TIX_DB_TEXT(q->theatre_id),
                   TIX_DB_TEXT(q->owner_id),
                   TIX_DB_INT((int64_t)q->limit + 1)};
    return TIX_DB_LIST(db, a, sql, p, 7, &sales_map, rows, n);
}
