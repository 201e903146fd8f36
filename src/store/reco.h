/*
 * SQL of the recommendations (migrations 0022 and 0023; the logic is booking/reco.h): what the
 * `reco` job reads (each booked movie's bookers and, a page of movies at a time, the
 * co-occurrence counts, both aggregated by the database; every confirmed booking's seats in
 * sale order, the active seats of the halls that sold), what it writes (reco_pairs, reco_movies,
 * seat_prefs: each replaced whole), and what a request reads (a user's booked movies and city,
 * the movies showing soon, the learned seat scores of a hall).
 *
 * "Confirmed" is bookings.status = 'confirmed'; cancelled, expired and unpaid bookings teach
 * nothing. Strings in returned rows live in the caller's arena; times are ms since the epoch.
 */
#ifndef TIX_STORE_RECO_H
#define TIX_STORE_RECO_H

#include "core/arena.h"
#include "core/rc.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Most movies one tix_reco_together_of reads for. */
#define TIX_RECO_PAGE 64

/* Two different movies booked by the same users: `together` users have a confirmed booking of
 * both; bookers and other_bookers are each movie's own number of users with one. */
typedef struct tix_reco_together {
    char *movie_id;
    char *other_id;
    int together;
    int bookers;
    int other_bookers;
} tix_reco_together;

/* One seat of a confirmed booking, in the order seats sold (see tix_reco_sales_all). */
typedef struct tix_reco_sale {
    char *hall_id;
    char *show_id;
    char *booking_id;
    char *seat_id;
} tix_reco_sale;

/* One active seat of a hall. */
typedef struct tix_reco_seat {
    char *hall_id;
    char *seat_id;
} tix_reco_seat;

/* A row of reco_pairs. */
typedef struct tix_reco_pair {
    char *movie_id;
    char *other_id;
    int64_t score_e6;
    int together;
} tix_reco_pair;

/* A row of reco_movies (computed_at is the run's time). */
typedef struct tix_reco_pop {
    char *movie_id;
    int bookers;
} tix_reco_pop;

/* A row of seat_prefs. */
typedef struct tix_reco_seat_score {
    char *seat_id;
    char *hall_id;
    int64_t score_e6;
    int shows;
} tix_reco_seat_score;

/* A movie that may be recommended, with its popularity (0 when the job has not counted it). */
typedef struct tix_reco_candidate {
    char *movie_id;
    int bookers;
} tix_reco_candidate;

/* A movie the user booked (confirmed), with its title for the reason. */
typedef struct tix_reco_mine {
    char *movie_id;
    char *title;
} tix_reco_mine;

/* ---- the job ---- */

/* Every movie with a confirmed booking and its number of distinct bookers (computed_at is not
 * read), ordered by movie id in the database's collation. One row per movie: the bookings stay
 * in the database (COUNT ... GROUP BY). */
TIX_MUSTCHECK tix_rc tix_reco_movie_bookers(tix_db *db, tix_arena *a, tix_reco_pop **rows, int *n);
/* The co-occurrence of the movies ids[0..nids) (1 to TIX_RECO_PAGE of them, else TIX_EINVAL):
 * for each, every other movie one of its bookers booked too, with the three counts, all counted
 * by the database (GROUP BY) in one statement, so they agree with each other even while
 * bookings are confirmed. At most nids x movies rows, any order. */
TIX_MUSTCHECK tix_rc tix_reco_together_of(tix_db *db, tix_arena *a, const char *const *ids,
                                          int nids, tix_reco_together **rows, int *n);
/* Every seat of a confirmed booking, ordered by hall, show, then the booking's creation (its
 * hold became a booking: the order the seats went) and id, then seat id. */
TIX_MUSTCHECK tix_rc tix_reco_sales_all(tix_db *db, tix_arena *a, tix_reco_sale **rows, int *n);
/* The active seats of every hall with a confirmed booking, ordered by hall then seat id. */
TIX_MUSTCHECK tix_rc tix_reco_sold_hall_seats(tix_db *db, tix_arena *a, tix_reco_seat **rows,
                                              int *n);
/* Replaces reco_pairs and reco_movies with the given rows, in the caller's transaction. */
TIX_MUSTCHECK tix_rc tix_reco_save_movies(tix_db *db, const tix_reco_pair *pairs, int npairs,
                                          const tix_reco_pop *pop, int npop, int64_t now);
/* Replaces seat_prefs with the given rows, in the caller's transaction. */
TIX_MUSTCHECK tix_rc tix_reco_save_seats(tix_db *db, const tix_reco_seat_score *rows, int n);

/* ---- requests ---- */

/* The movies user_id has a confirmed booking of, ordered by movie id. */
TIX_MUSTCHECK tix_rc tix_reco_mine_list(tix_db *db, tix_arena *a, const char *user_id,
                                        tix_reco_mine **rows, int *n);
/* The city of the theatre of user_id's latest confirmed booking: TIX_ENOTFOUND when none. */
TIX_MUSTCHECK tix_rc tix_reco_user_city(tix_db *db, tix_arena *a, const char *user_id, char **city);
/* The reco_pairs rows whose movie_id is one user_id booked (confirmed). */
TIX_MUSTCHECK tix_rc tix_reco_neighbours(tix_db *db, tix_arena *a, const char *user_id,
                                         tix_reco_pair **rows, int *n);
/* The active movies with a non-cancelled show starting in (from, until] at an approved theatre
 * of city_lower (any city when NULL), with their reco_movies.bookers, ordered by movie id. */
TIX_MUSTCHECK tix_rc tix_reco_candidates(tix_db *db, tix_arena *a, const char *city_lower,
                                         int64_t from, int64_t until, tix_reco_candidate **rows,
                                         int *n);
/* The hall's seat_pick ("learned" sets *learned) and, only when learned, its seat_prefs rows
 * (seat_id and score_e6 set) ordered by seat id. TIX_ENOTFOUND when the hall does not exist. */
TIX_MUSTCHECK tix_rc tix_reco_hall_prefs(tix_db *db, tix_arena *a, const char *hall_id,
                                         bool *learned, tix_reco_seat_score **rows, int *n);
/* Sets the hall's seat_pick ("geometric" or "learned") and updated_at. TIX_ENOTFOUND when no
 * live hall has that id. */
TIX_MUSTCHECK tix_rc tix_reco_hall_set_pick(tix_db *db, const char *hall_id, const char *mode,
                                            int64_t now);

#endif
