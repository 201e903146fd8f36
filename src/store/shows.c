/* SQL for shows, their prices, and catalogue-wide questions about future shows; see catalog.h. */
#include "core/util.h"
#include "store/catalog.h"

#include <string.h>

#define SHOW_COLS                                                                                  \
    "s.id, s.movie_id, s.hall_id, s.theatre_id, t.owner_id, m.title, t.name, t.city,"              \
    " h.name, s.starts_at, s.ends_at, s.currency, s.status, t.utc_offset_minutes,"                 \
    " s.created_at, h.seat_pick"
#define SHOW_FROM                                                                                  \
    " FROM shows s JOIN theatres t ON t.id = s.theatre_id"                                         \
    " JOIN halls h ON h.id = s.hall_id JOIN movies m ON m.id = s.movie_id"
#define SHOW_SELECT "SELECT " SHOW_COLS SHOW_FROM
/* Columns 16 and 17 of a list with tix_show_filter.price_range: the show's cheapest and dearest
 * category, -1 without prices. Subqueries of the one statement (the primary key's show_id
 * leads), so a page of shows reads its prices in the same round trip, never one per show. */
#define SHOW_PRICE_RANGE                                                                           \
    ", COALESCE((SELECT MIN(p.amount) FROM show_prices p WHERE p.show_id = s.id), -1),"            \
    " COALESCE((SELECT MAX(p.amount) FROM show_prices p WHERE p.show_id = s.id), -1)"

#define S(field) TIX_DB_COL(tix_show, field)
static const tix_db_col show_cols[] = {
    S(id),          S(movie_id),     S(hall_id),      S(theatre_id),         S(owner_id),
    S(movie_title), S(theatre_name), S(city),         S(hall_name),          S(starts_at),
    S(ends_at),     S(currency),     TIX_DB_COL_NONE, S(utc_offset_minutes), S(created_at)};
#undef S

/* Column 12, the status text, is the cancelled flag; column 15 the hall's seat_pick. */
static void read_show_status(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    tix_show *s = item;
    const char *st = tix_db_res_text(res, row, 12);
    s->cancelled = st != NULL && strcmp(st, "cancelled") == 0;
    const char *pick = tix_db_res_text(res, row, 15);
    s->learned_seats = pick != NULL && strcmp(pick, "learned") == 0;
}
static const tix_db_map show_map = TIX_DB_MAP(tix_show, show_cols, read_show_status);

#define S(field) TIX_DB_COL(tix_show, field)
static const tix_db_col show_priced_cols[] = {
    S(id),           S(movie_id),     S(hall_id),      S(theatre_id),         S(owner_id),
    S(movie_title),  S(theatre_name), S(city),         S(hall_name),          S(starts_at),
    S(ends_at),      S(currency),     TIX_DB_COL_NONE, S(utc_offset_minutes), S(created_at),
    TIX_DB_COL_NONE, S(price_min),    S(price_max)};
#undef S
static const tix_db_map show_priced_map = TIX_DB_MAP(tix_show, show_priced_cols, read_show_status);

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
    /* The show's summary row (migration 0020), with the report's grouping columns. */
    tix_dbv sp[] = {TIX_DB_TEXT(s->id),      TIX_DB_TEXT(s->theatre_id), TIX_DB_TEXT(s->movie_id),
                    TIX_DB_TEXT(s->hall_id), TIX_DB_TEXT(s->currency),   TIX_DB_INT(s->starts_at)};
    rc = rc ? rc
            : tix_db_exec(db,
                          "INSERT INTO show_sales (show_id, theatre_id, movie_id, hall_id,"
                          " currency, starts_at, live) VALUES ($1, $2, $3, $4, $5, $6, 1)",
                          sp, 6, NULL);
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
    return TIX_DB_GET(db, a, SHOW_SELECT " WHERE s.id = $1", &p, 1, &show_map, out);
}

static const tix_db_col price_cols[] = {TIX_DB_COL(tix_show_price, category),
                                        TIX_DB_COL(tix_show_price, amount)};
static const tix_db_map price_map = TIX_DB_MAP(tix_show_price, price_cols, NULL);

tix_rc tix_show_prices(tix_db *db, tix_arena *a, const char *show_id, tix_show_price **items,
                       int *n)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    return TIX_DB_LIST(db, a,
                       "SELECT category, amount FROM show_prices WHERE show_id = $1"
                       " ORDER BY category",
                       &p, 1, &price_map, items, n);
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
#define SHOW_LIST_WHERE                                                                            \
    " WHERE (CAST($1 AS TEXT) IS NULL OR s.movie_id = $1)"                                         \
    " AND (CAST($2 AS TEXT) IS NULL OR s.theatre_id = $2)"                                         \
    " AND (CAST($3 AS TEXT) IS NULL OR s.hall_id = $3)"                                            \
    " AND (CAST($4 AS TEXT) IS NULL OR t.city_search = $4)"                                        \
    " AND ($5 = 0 OR (s.starts_at + t.utc_offset_minutes * 60000 >= $6"                            \
    "      AND s.starts_at + t.utc_offset_minutes * 60000 < $6 + 86400000))"                       \
    " AND s.ends_at > $7"                                                                          \
    " AND ($8 = 1 OR s.status <> 'cancelled')"                                                     \
    " AND ($9 = 0 OR s.starts_at > $10 OR (s.starts_at = $10 AND s.id > $11))"                     \
    " ORDER BY s.starts_at, s.id LIMIT $12"
    if (f->price_range) {
        return TIX_DB_LIST(db, a, "SELECT " SHOW_COLS SHOW_PRICE_RANGE SHOW_FROM SHOW_LIST_WHERE, p,
                           12, &show_priced_map, items, n);
    }
    return TIX_DB_LIST(db, a, SHOW_SELECT SHOW_LIST_WHERE, p, 12, &show_map, items, n);
#undef SHOW_LIST_WHERE
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
    rc = rc ? rc : tix_db_exec(db, "UPDATE show_sales SET live = 0 WHERE show_id = $1", p, 1, NULL);
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
    /* The summary rows first (migration 0020): FUTURE_SHOWS still finds the shows live. */
    tix_rc rc = tix_db_exec(db,
                            "UPDATE show_sales SET live = 0 WHERE show_id IN (SELECT id FROM shows"
                            " WHERE" FUTURE_SHOWS ")",
                            p, 4, NULL);
    return rc ? rc
              : tix_db_exec(db,
                            "UPDATE shows SET status = 'cancelled', cancelled_at = $4,"
                            " updated_at = $4 WHERE" FUTURE_SHOWS,
                            p, 4, NULL);
}
