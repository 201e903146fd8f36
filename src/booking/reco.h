/*
 * Recommendations learned from confirmed bookings (issue 16; API.md "GraphQL and
 * recommendations"). Two models, both computed by the `reco` lifecycle job (jobs.h) into tables
 * (store/reco.h), never per request:
 *
 * Movies, item to item. For movies X and Y with booker sets U(X) and U(Y) (users with a
 * confirmed booking of a show of the movie), sim(X, Y) = |U(X) n U(Y)| / sqrt(|U(X)| |U(Y)|),
 * the cosine of the two 0/1 user vectors: 1 when the same people booked both, near 0 when the
 * overlap is small next to either audience, so a blockbuster everyone booked does not become
 * everyone's neighbour. Each movie keeps its `neighbours` best (ties: the other's id). A user's
 * recommendation score for a candidate Y is the sum of sim(X, Y) over the movies X they booked;
 * the reason lists those X, best first (at most TIX_RECO_REASONS). Candidates are the movies
 * with a show starting within the window (RECO_WINDOW) in the user's city, minus the movies the
 * user booked. Slots the co-occurrence cannot fill (a new user, or nothing related showing)
 * go to the most booked candidates (popularity: |U(Y)|), with the reason "popular".
 *
 * Seats, per hall. In a show of a hall with C active seats, a booking of k seats made after
 * `before` seats of the show had sold gives each of its seats v = 1 - (before + (k - 1) / 2) / C
 * (first sold near 1, last near 0); a seat the show never sold gives v = 0. Over the hall's S
 * shows with sales, score = (sum v + M * 0.5) / (S + M), M = TIX_RECO_SEAT_PRIOR shows of prior
 * at 0.5: a seat of a hall with no history scores 0.5, every seat alike, so the learned pick
 * starts out as the geometric one, and one odd show moves a score only a little. Best
 * available (best.h) in a hall set to "learned" ranks candidates by a blend of this score and
 * the geometric distance, inside the same rules (so never an orphan where the strict rule finds
 * a block).
 *
 * Pure functions first (unit-tested without a database), then the two entry points that read
 * and write through store/reco.h. Everything returned lives in the caller's arena.
 */
#ifndef TIX_BOOKING_RECO_H
#define TIX_BOOKING_RECO_H

#include "core/arena.h"
#include "core/rc.h"
#include "store/db.h"
#include "store/reco.h"

#include <stdbool.h>
#include <stdint.h>

#define TIX_RECO_REASONS    3   /* movies named in one because_you_booked */
#define TIX_RECO_SEAT_PRIOR 2.0 /* M above: shows' worth of prior at 0.5 */
#define TIX_RECO_LIMIT_MAX  50  /* most items one request may ask for */

/* Movie similarity from co-occurrence rows (as tix_reco_together_of gives them: any order, each
 * movie_id with all of its rows): sim = together / sqrt(bookers * other_bookers). OUT: pairs,
 * at most `neighbours` per movie_id, ordered by movie_id then score descending (ties: the
 * other's id), as a new array in the arena. TIX_ENOMEM on a failed malloc of the scratch space
 * (freed before returning). */
TIX_MUSTCHECK tix_rc tix_reco_similarity(tix_arena *a, const tix_reco_together *rows, int n,
                                         int neighbours, tix_reco_pair **pairs, int *npairs);

/* Seat scores from sales (ordered by hall, show, sale order, as tix_reco_sales_all gives them)
 * and seats (the halls' active seats, any order). OUT: one row per seat of a hall that has
 * sales. A sale of a seat not in seats (removed from the layout since) is counted in the
 * show's order but scores nothing. */
TIX_MUSTCHECK tix_rc tix_reco_seat_scores(tix_arena *a, const tix_reco_sale *sales, int nsales,
                                          const tix_reco_seat *seats, int nseats,
                                          tix_reco_seat_score **out, int *nout);

/* One recommendation. */
typedef struct tix_reco_item {
    const char *movie_id;
    double score;       /* summed similarity, or bookers for a popular item */
    bool popular;       /* the reason is "popular" */
    const char **since; /* the booked movies' ids behind it, best first (none when popular) */
    int nsince;
} tix_reco_item;

/* What a ranking is made of (all borrowed). */
typedef struct tix_reco_inputs {
    const char *const *mine; /* the ids of the movies the user booked */
    int nmine;
    const tix_reco_pair *near; /* the similarity rows whose movie_id is one of mine */
    int nnear;
    const tix_reco_candidate *cands; /* the movies showing soon in the city */
    int ncands;
} tix_reco_inputs;

/* Ranks in->cands: co-occurrence items first (score descending, then bookers descending, then
 * id), then popular ones (bookers descending, then id), never a movie of mine, at most limit.
 * OUT: items, n. */
void tix_reco_rank(tix_arena *a, const tix_reco_inputs *in, int limit, tix_reco_item **items,
                   int *n);

/* What the `reco` job did. */
typedef struct tix_reco_refresh_counts {
    int64_t movies; /* movies with bookings */
    int64_t pairs;  /* similarity rows stored */
    int64_t halls;  /* halls with sales */
    int64_t seats;  /* seat scores stored */
} tix_reco_refresh_counts;

/* Recomputes both models from every confirmed booking and replaces the tables in one
 * transaction (readers see the old answer or the new one). The movie model reads counts the
 * database aggregated, TIX_RECO_PAGE movies at a time (store/reco.h), not the bookings. */
TIX_MUSTCHECK tix_rc tix_reco_refresh(tix_db *db, tix_arena *a, int neighbours, int64_t now,
                                      tix_reco_refresh_counts *out);

/* A user's recommendations: city_lower (lower-case) or, when NULL, the city of their latest
 * confirmed booking, or any city when they have none; shows starting in (now, now + window_ms].
 * OUT: items, n; *city the city used (NULL: any). *titles: mine's titles for the reasons, by id
 * (tix_reco_title). */
typedef struct tix_reco_answer {
    tix_reco_item *items;
    int n;
    const char *city;    /* the city used, as stored (NULL: any city) */
    tix_reco_mine *mine; /* the user's booked movies with titles, by id */
    int nmine;
} tix_reco_answer;
TIX_MUSTCHECK tix_rc tix_reco_for_user(tix_db *db, tix_arena *a, const char *user_id,
                                       const char *city_lower, int64_t now, int64_t window_ms,
                                       int limit, tix_reco_answer *out);
/* The title of movie id among ans->mine, or NULL. */
const char *tix_reco_title(const tix_reco_answer *ans, const char *id);

/* For a hall in learned mode: pref[i] in [0, 1] for each of the n seat ids (the seat's score, or
 * 0.5 when it has none) from rows ordered by seat id, as tix_reco_hall_prefs gives them. */
void tix_reco_seat_prefs_align(const tix_reco_seat_score *rows, int nrows, const char *const *ids,
                               int n, double *pref);

#endif
