/* SQL for shows, their prices, and catalogue-wide questions about future shows; see catalog.h. */
#include "core/util.h"
#include "store/catalog.h"

#include <string.h>

#define SHOW_SELECT                                                                                \
    "SELECT s.id, s.movie_id, s.hall_id, s.theatre_id, t.owner_id, m.title, t.name, t.city,"       \
    " h.name, s.starts_at, s.ends_at, s.currency, s.status, t.utc_offset_minutes,"                 \
    " s.created_at FROM shows s JOIN theatres t ON t.id = s.theatre_id"                            \
    " JOIN halls h ON h.id = s.hall_id JOIN movies m ON m.id = s.movie_id"

static void read_show(tix_arena *a, const tix_db_res *res, int row, tix_show *s)
{
    s->id = tix_db_res_dup(a, res, row, 0);
    s->movie_id = tix_db_res_dup(a, res, row, 1);
    s->hall_id = tix_db_res_dup(a, res, row, 2);
    s->theatre_id = tix_db_res_dup(a, res, row, 3);
    s->owner_id = tix_db_res_dup(a, res, row, 4);
    s->movie_title = tix_db_res_dup(a, res, row, 5);
    s->theatre_name = tix_db_res_dup(a, res, row, 6);
    s->city = tix_db_res_dup(a, res, row, 7);
    s->hall_name = tix_db_res_dup(a, res, row, 8);
    s->starts_at = tix_db_res_int(res, row, 9);
    s->ends_at = tix_db_res_int(res, row, 10);
    s->currency = tix_db_res_dup(a, res, row, 11);
    const char *st = tix_db_res_text(res, row, 12);
    s->cancelled = st != NULL && strcmp(st, "cancelled") == 0;
    s->utc_offset_minutes = (int)tix_db_res_int(res, row, 13);
    s->created_at = tix_db_res_int(res, row, 14);
}

tix_rc tix_show_insert(tix_db *db, const tix_show *s, const tix_show_price *prices, int nprices)
{
    tix_dbv p[] = {TIX_DB_TEXT(s->id),         TIX_DB_TEXT(s->movie_id), TIX_DB_TEXT(s->hall_id),
                   TIX_DB_TEXT(s->theatre_id), TIX_DB_INT(s->starts_at), TIX_DB_INT(s->ends_at),
                   TIX_DB_TEXT(s->currency),   TIX_DB_INT(s->created_at)};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO shows (id, movie_id, hall_id, theatre_id, starts_at,"
                            " ends_at, currency, status, created_at, updated_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled', $8, $8)",
                            p, 8, NULL);
    for (int i = 0; i < nprices && rc == TIX_OK; i++) {
        tix_dbv pp[] = {TIX_DB_TEXT(s->id), TIX_DB_TEXT(prices[i].category),
                        TIX_DB_INT(prices[i].amount)};
        rc = tix_db_exec(db,
                         "INSERT INTO show_prices (show_id, category, amount) VALUES ($1, $2, $3)",
                         pp, 3, NULL);
    }
    return rc;
}

tix_rc tix_show_overlap(tix_db *db, const char *hall_id, int64_t starts_at, int64_t ends_at,
                        bool *overlaps)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_INT(starts_at), TIX_DB_INT(ends_at)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT id FROM shows WHERE hall_id = $1 AND status <> 'cancelled'"
                            " AND starts_at < $3 AND ends_at > $2 LIMIT 1",
                            p, 3, &res);
    if (rc == TIX_OK) {
        *overlaps = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_show_get(tix_db *db, tix_arena *a, const char *id, tix_show *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, SHOW_SELECT " WHERE s.id = $1", &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        read_show(a, res, 0, out);
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_show_prices(tix_db *db, tix_arena *a, const char *show_id, tix_show_price **items,
                       int *n)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(
        db, "SELECT category, amount FROM show_prices WHERE show_id = $1 ORDER BY category", &p, 1,
        &res);
    if (rc != TIX_OK) {
        return rc;
    }
    int rows = tix_db_res_rows(res);
    tix_show_price *list = tix_arena_calloc(a, sizeof(tix_show_price) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        list[i].category = tix_db_res_dup(a, res, i, 0);
        list[i].amount = tix_db_res_int(res, i, 1);
    }
    *items = list;
    *n = rows;
    tix_db_res_destroy(res);
    return TIX_OK;
}

tix_rc tix_show_list(tix_db *db, tix_arena *a, const tix_show_filter *f, tix_show **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(f->movie_id),
                   TIX_DB_TEXT(f->theatre_id),
                   TIX_DB_TEXT(f->hall_id),
                   TIX_DB_TEXT(f->city_lower),
                   TIX_DB_INT(f->has_date),
                   TIX_DB_INT(f->day_start_utc),
                   TIX_DB_INT(f->ends_after),
                   TIX_DB_INT(f->include_cancelled),
                   TIX_DB_INT(f->has_cursor),
                   TIX_DB_INT(f->after_start),
                   TIX_DB_TEXT(f->after_id ? f->after_id : ""),
                   TIX_DB_INT(f->limit + 1)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(
        db,
        SHOW_SELECT " WHERE (CAST($1 AS TEXT) IS NULL OR s.movie_id = $1)"
                    " AND (CAST($2 AS TEXT) IS NULL OR s.theatre_id = $2)"
                    " AND (CAST($3 AS TEXT) IS NULL OR s.hall_id = $3)"
                    " AND (CAST($4 AS TEXT) IS NULL OR t.city_search = $4)"
                    " AND ($5 = 0 OR (s.starts_at + t.utc_offset_minutes * 60000 >= $6"
                    "      AND s.starts_at + t.utc_offset_minutes * 60000 < $6 + 86400000))"
                    " AND s.ends_at > $7"
                    " AND ($8 = 1 OR s.status <> 'cancelled')"
                    " AND ($9 = 0 OR s.starts_at > $10 OR (s.starts_at = $10 AND s.id > $11))"
                    " ORDER BY s.starts_at, s.id LIMIT $12",
        p, 12, &res);
    if (rc != TIX_OK) {
        return rc;
    }
    int rows = tix_db_res_rows(res);
    tix_show *list = tix_arena_calloc(a, sizeof(tix_show) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        read_show(a, res, i, &list[i]);
    }
    *items = list;
    *n = rows;
    tix_db_res_destroy(res);
    return TIX_OK;
}

tix_rc tix_show_cancel(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "UPDATE shows SET status = 'cancelled', cancelled_at = $2,"
                            " updated_at = $2 WHERE id = $1 AND status <> 'cancelled'",
                            p, 2, &res);
    if (rc == TIX_OK && tix_db_res_changes(res) == 0) {
        rc = TIX_ECONFLICT;
    }
    tix_db_res_destroy(res);
    return rc;
}

/* The WHERE clause selecting future, live shows of exactly one of hall/theatre/movie ($1..$3),
 * at $4 = now. */
#define FUTURE_SHOWS                                                                               \
    " status <> 'cancelled' AND ends_at > $4"                                                      \
    " AND ((CAST($1 AS TEXT) IS NOT NULL AND hall_id = $1)"                                        \
    "   OR (CAST($2 AS TEXT) IS NOT NULL AND theatre_id = $2)"                                     \
    "   OR (CAST($3 AS TEXT) IS NOT NULL AND movie_id = $3))"

tix_rc tix_catalog_future_claims(tix_db *db, const char *hall_id, const char *theatre_id,
                                 const char *movie_id, int64_t now, bool *any)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(movie_id),
                   TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT 1 FROM seat_claims c WHERE c.show_id IN"
                            " (SELECT id FROM shows WHERE" FUTURE_SHOWS ")"
                            " AND (c.expires_at IS NULL OR c.expires_at > $4) LIMIT 1",
                            p, 4, &res);
    if (rc == TIX_OK) {
        *any = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_catalog_future_shows(tix_db *db, const char *hall_id, const char *theatre_id,
                                const char *movie_id, int64_t now, bool *any)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(movie_id),
                   TIX_DB_INT(now)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, "SELECT 1 FROM shows WHERE" FUTURE_SHOWS " LIMIT 1", p, 4, &res);
    if (rc == TIX_OK) {
        *any = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_hall_category_unpriced(tix_db *db, const char *hall_id, const char *category,
                                  int64_t now, bool *any)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_INT(now), TIX_DB_TEXT(category)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT 1 FROM shows s WHERE s.hall_id = $1 AND s.status <> 'cancelled'"
                            " AND s.ends_at > $2 AND NOT EXISTS (SELECT 1 FROM show_prices p"
                            " WHERE p.show_id = s.id AND p.category = $3) LIMIT 1",
                            p, 3, &res);
    if (rc == TIX_OK) {
        *any = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_catalog_cancel_future_shows(tix_db *db, const char *hall_id, const char *theatre_id,
                                       const char *movie_id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_TEXT(theatre_id), TIX_DB_TEXT(movie_id),
                   TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE shows SET status = 'cancelled', cancelled_at = $4, updated_at = $4"
                       " WHERE" FUTURE_SHOWS,
                       p, 4, NULL);
}
