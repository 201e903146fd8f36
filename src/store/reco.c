/* The recommendations' SQL; see reco.h. The saves delete and insert row by row inside the
 * caller's transaction: the tables are small (at most RECO_NEIGHBOURS pairs per movie, one row
 * per seat of a hall that sold) and the job runs rarely. */
#include "store/reco.h"

#include <string.h>

#define CONFIRMED "b.status = 'confirmed'"
/* Each booked movie's number of distinct bookers. */
#define BOOKERS                                                                                    \
    "SELECT s.movie_id, COUNT(DISTINCT b.user_id) AS n FROM bookings b"                            \
    " JOIN shows s ON s.id = b.show_id WHERE " CONFIRMED " GROUP BY s.movie_id"

static const tix_db_col pop_cols[] = {TIX_DB_COL(tix_reco_pop, movie_id),
                                      TIX_DB_COL(tix_reco_pop, bookers)};
static const tix_db_map pop_map = TIX_DB_MAP(tix_reco_pop, pop_cols, NULL);

static const tix_db_col together_cols[] = {
    TIX_DB_COL(tix_reco_together, movie_id), TIX_DB_COL(tix_reco_together, other_id),
    TIX_DB_COL(tix_reco_together, together), TIX_DB_COL(tix_reco_together, bookers),
    TIX_DB_COL(tix_reco_together, other_bookers)};
static const tix_db_map together_map = TIX_DB_MAP(tix_reco_together, together_cols, NULL);

static const tix_db_col sale_cols[] = {
    TIX_DB_COL(tix_reco_sale, hall_id), TIX_DB_COL(tix_reco_sale, show_id),
    TIX_DB_COL(tix_reco_sale, booking_id), TIX_DB_COL(tix_reco_sale, seat_id)};
static const tix_db_map sale_map = TIX_DB_MAP(tix_reco_sale, sale_cols, NULL);

static const tix_db_col seat_cols[] = {TIX_DB_COL(tix_reco_seat, hall_id),
                                       TIX_DB_COL(tix_reco_seat, seat_id)};
static const tix_db_map seat_map = TIX_DB_MAP(tix_reco_seat, seat_cols, NULL);

static const tix_db_col pair_cols[] = {
    TIX_DB_COL(tix_reco_pair, movie_id), TIX_DB_COL(tix_reco_pair, other_id),
    TIX_DB_COL(tix_reco_pair, score_e6), TIX_DB_COL(tix_reco_pair, together)};
static const tix_db_map pair_map = TIX_DB_MAP(tix_reco_pair, pair_cols, NULL);

static const tix_db_col cand_cols[] = {TIX_DB_COL(tix_reco_candidate, movie_id),
                                       TIX_DB_COL(tix_reco_candidate, bookers)};
static const tix_db_map cand_map = TIX_DB_MAP(tix_reco_candidate, cand_cols, NULL);

static const tix_db_col mine_cols[] = {TIX_DB_COL(tix_reco_mine, movie_id),
                                       TIX_DB_COL(tix_reco_mine, title)};
static const tix_db_map mine_map = TIX_DB_MAP(tix_reco_mine, mine_cols, NULL);

/* A row of tix_reco_hall_prefs's query: the hall's mode and one learned seat (or NULL). */
typedef struct pref_row {
    char *mode;
    char *seat_id;
    int64_t score_e6;
} pref_row;
static const tix_db_col pref_cols[] = {TIX_DB_COL(pref_row, mode), TIX_DB_COL(pref_row, seat_id),
                                       TIX_DB_COL(pref_row, score_e6)};
static const tix_db_map pref_map = TIX_DB_MAP(pref_row, pref_cols, NULL);

tix_rc tix_reco_movie_bookers(tix_db *db, tix_arena *a, tix_reco_pop **rows, int *n)
{
    return TIX_DB_LIST(db, a, BOOKERS " ORDER BY s.movie_id", NULL, 0, &pop_map, rows, n);
}

/* co: each confirmed booking b1 of a show of one of the page's movies, joined to its user's
 * other confirmed bookings b2 (index bookings_user) and their movies; a user counts once per
 * pair (COUNT DISTINCT) however many bookings they made. Then each pair gets both movies'
 * bookers (pop), joined after the grouping, when co is at most 64 x movies rows. */
tix_rc tix_reco_together_of(tix_db *db, tix_arena *a, const char *const *ids, int nids,
                            tix_reco_together **rows, int *n)
{
    if (nids <= 0 || nids > TIX_RECO_PAGE) {
        return TIX_EINVAL;
    }
    tix_dbv *p = NULL;
    const char *in = tix_db_in_list(a, ids, nids, &p);
    const char *sql = tix_arena_sprintf(
        a,
        "WITH pop AS (" BOOKERS "), co AS ("
        "SELECT s1.movie_id AS m, s2.movie_id AS o, COUNT(DISTINCT b1.user_id) AS n"
        " FROM bookings b1 JOIN shows s1 ON s1.id = b1.show_id"
        " JOIN bookings b2 ON b2.user_id = b1.user_id JOIN shows s2 ON s2.id = b2.show_id"
        " WHERE s1.movie_id IN (%s) AND b1.status = 'confirmed' AND b2.status = 'confirmed'"
        " AND s2.movie_id <> s1.movie_id GROUP BY s1.movie_id, s2.movie_id)"
        " SELECT co.m, co.o, co.n, px.n, py.n FROM co"
        " JOIN pop px ON px.movie_id = co.m JOIN pop py ON py.movie_id = co.o",
        in);
    return TIX_DB_LIST(db, a, sql, p, nids, &together_map, rows, n);
}

tix_rc tix_reco_sales_all(tix_db *db, tix_arena *a, tix_reco_sale **rows, int *n)
{
    return TIX_DB_LIST(db, a,
                       "SELECT s.hall_id, s.id, b.id, bs.seat_id FROM bookings b"
                       " JOIN shows s ON s.id = b.show_id"
                       " JOIN booking_seats bs ON bs.booking_id = b.id WHERE " CONFIRMED
                       " ORDER BY s.hall_id, s.id, b.created_at, b.id, bs.seat_id",
                       NULL, 0, &sale_map, rows, n);
}

tix_rc tix_reco_sold_hall_seats(tix_db *db, tix_arena *a, tix_reco_seat **rows, int *n)
{
    return TIX_DB_LIST(
        db, a,
        "SELECT st.hall_id, st.id FROM seats st WHERE st.active = 1 AND st.hall_id IN"
        " (SELECT s.hall_id FROM bookings b JOIN shows s ON s.id = b.show_id"
        "  WHERE " CONFIRMED ") ORDER BY st.hall_id, st.id",
        NULL, 0, &seat_map, rows, n);
}

tix_rc tix_reco_save_movies(tix_db *db, const tix_reco_pair *pairs, int npairs,
                            const tix_reco_pop *pop, int npop, int64_t now)
{
    tix_rc rc = tix_db_exec(db, "DELETE FROM reco_pairs", NULL, 0, NULL);
    rc = rc ? rc : tix_db_exec(db, "DELETE FROM reco_movies", NULL, 0, NULL);
    for (int i = 0; i < npairs && rc == TIX_OK; i++) {
        tix_dbv p[] = {TIX_DB_TEXT(pairs[i].movie_id), TIX_DB_TEXT(pairs[i].other_id),
                       TIX_DB_INT(pairs[i].score_e6), TIX_DB_INT(pairs[i].together)};
        rc = tix_db_exec(db,
                         "INSERT INTO reco_pairs (movie_id, other_id, score_e6, together)"
                         " VALUES ($1, $2, $3, $4)",
                         p, 4, NULL);
    }
    for (int i = 0; i < npop && rc == TIX_OK; i++) {
        tix_dbv p[] = {TIX_DB_TEXT(pop[i].movie_id), TIX_DB_INT(pop[i].bookers), TIX_DB_INT(now)};
        rc = tix_db_exec(db,
                         "INSERT INTO reco_movies (movie_id, bookers, computed_at)"
                         " VALUES ($1, $2, $3)",
                         p, 3, NULL);
    }
    return rc;
}

tix_rc tix_reco_save_seats(tix_db *db, const tix_reco_seat_score *rows, int n)
{
    tix_rc rc = tix_db_exec(db, "DELETE FROM seat_prefs", NULL, 0, NULL);
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        tix_dbv p[] = {TIX_DB_TEXT(rows[i].seat_id), TIX_DB_TEXT(rows[i].hall_id),
                       TIX_DB_INT(rows[i].score_e6), TIX_DB_INT(rows[i].shows)};
        rc = tix_db_exec(db,
                         "INSERT INTO seat_prefs (seat_id, hall_id, score_e6, shows)"
                         " VALUES ($1, $2, $3, $4)",
                         p, 4, NULL);
    }
    return rc;
}

tix_rc tix_reco_mine_list(tix_db *db, tix_arena *a, const char *user_id, tix_reco_mine **rows,
                          int *n)
{
    tix_dbv p = TIX_DB_TEXT(user_id);
    return TIX_DB_LIST(db, a,
                       "SELECT m.id, m.title FROM movies m WHERE m.id IN"
                       " (SELECT s.movie_id FROM bookings b JOIN shows s ON s.id = b.show_id"
                       "  WHERE b.user_id = $1 AND " CONFIRMED ") ORDER BY m.id",
                       &p, 1, &mine_map, rows, n);
}

tix_rc tix_reco_user_city(tix_db *db, tix_arena *a, const char *user_id, char **city)
{
    tix_dbv p = TIX_DB_TEXT(user_id);
    char **rows = NULL;
    int n = 0;
    tix_rc rc = TIX_DB_LIST(db, a,
                            "SELECT t.city FROM bookings b JOIN shows s ON s.id = b.show_id"
                            " JOIN theatres t ON t.id = s.theatre_id"
                            " WHERE b.user_id = $1 AND " CONFIRMED
                            " ORDER BY b.created_at DESC, b.id DESC LIMIT 1",
                            &p, 1, &tix_db_text_rows, &rows, &n);
    if (rc == TIX_OK && n == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        *city = rows[0];
    }
    return rc;
}

tix_rc tix_reco_neighbours(tix_db *db, tix_arena *a, const char *user_id, tix_reco_pair **rows,
                           int *n)
{
    tix_dbv p = TIX_DB_TEXT(user_id);
    return TIX_DB_LIST(db, a,
                       "SELECT p.movie_id, p.other_id, p.score_e6, p.together FROM reco_pairs p"
                       " WHERE p.movie_id IN (SELECT s.movie_id FROM bookings b"
                       "  JOIN shows s ON s.id = b.show_id WHERE b.user_id = $1 AND " CONFIRMED ")"
                       " ORDER BY p.movie_id, p.other_id",
                       &p, 1, &pair_map, rows, n);
}

tix_rc tix_reco_candidates(tix_db *db, tix_arena *a, const char *city_lower, int64_t from,
                           int64_t until, tix_reco_candidate **rows, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(city_lower), TIX_DB_INT(from), TIX_DB_INT(until)};
    return TIX_DB_LIST(db, a,
                       "SELECT m.id, COALESCE(r.bookers, 0) FROM movies m"
                       " LEFT JOIN reco_movies r ON r.movie_id = m.id"
                       " WHERE m.deleted_at IS NULL AND m.status = 'active' AND EXISTS"
                       " (SELECT 1 FROM shows s JOIN theatres t ON t.id = s.theatre_id"
                       "  WHERE s.movie_id = m.id AND s.status <> 'cancelled'"
                       "  AND s.starts_at > $2 AND s.starts_at <= $3"
                       "  AND t.deleted_at IS NULL AND t.status = 'approved'"
                       "  AND (CAST($1 AS TEXT) IS NULL OR t.city_search = $1))"
                       " ORDER BY m.id",
                       p, 3, &cand_map, rows, n);
}

tix_rc tix_reco_hall_prefs(tix_db *db, tix_arena *a, const char *hall_id, bool *learned,
                           tix_reco_seat_score **rows, int *n)
{
    tix_dbv p = TIX_DB_TEXT(hall_id);
    pref_row *list = NULL;
    int count = 0;
    /* one round trip: the hall's mode on every row, and a single row (NULL seat) when the hall
     * is geometric or has learned nothing yet */
    tix_rc rc =
        TIX_DB_LIST(db, a,
                    "SELECT h.seat_pick, p.seat_id, p.score_e6 FROM halls h"
                    " LEFT JOIN seat_prefs p ON p.hall_id = h.id AND h.seat_pick = 'learned'"
                    " WHERE h.id = $1 ORDER BY p.seat_id",
                    &p, 1, &pref_map, &list, &count);
    if (rc == TIX_OK && count == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    *learned = list[0].mode != NULL && strcmp(list[0].mode, "learned") == 0;
    tix_reco_seat_score *out = tix_arena_calloc(a, sizeof(*out) * (size_t)count);
    int kept = 0;
    for (int i = 0; i < count; i++) {
        if (list[i].seat_id != NULL) {
            out[kept].seat_id = list[i].seat_id;
            out[kept].hall_id = (char *)hall_id;
            out[kept++].score_e6 = list[i].score_e6;
        }
    }
    *rows = out;
    *n = kept;
    return TIX_OK;
}

tix_rc tix_reco_hall_set_pick(tix_db *db, const char *hall_id, const char *mode, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(hall_id), TIX_DB_TEXT(mode), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE halls SET seat_pick = $2, updated_at = $3"
                           " WHERE id = $1 AND deleted_at IS NULL",
                           p, 3, TIX_ENOTFOUND);
}
