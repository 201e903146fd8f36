/*
 * SQL for the catalogue: movies, theatres, halls and their seats, shows and their prices.
 * Strings in the structs point into the caller's arena. Every lookup answers TIX_ENOTFOUND for
 * missing or soft-deleted rows. Callers own transactions.
 */
#ifndef TIX_STORE_CATALOG_H
#define TIX_STORE_CATALOG_H

#include "core/arena.h"
#include "core/model.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_movie {
    char *id;
    char *title;
    char *description;
    int duration_minutes;
    char *release_date; /* YYYY-MM-DD */
    char *languages;    /* JSON array text */
    char *genres;       /* JSON array text */
    char *certificate;
    char *poster_url;  /* NULL when none */
    char *trailer_url; /* NULL when none */
    char *poster_public_id;
    char *trailer_public_id;
    char *status; /* active | inactive */
    int64_t created_at;
    int64_t updated_at;
} tix_movie;

typedef struct tix_movie_filter {
    const char *release; /* "upcoming" | "released" | NULL (all) */
    const char *today;   /* YYYY-MM-DD, for release */
    const char *q_like;  /* LIKE pattern on the lower-case title (escaped with \), or NULL */
    const char *genre;   /* lower-case, or NULL */
    const char *language;
    bool include_inactive;
    const char *after; /* cursor: last id seen */
    int limit;
} tix_movie_filter;

TIX_MUSTCHECK tix_rc tix_movie_insert(tix_db *db, const tix_movie *m);
/* Writes every field of m (the caller merged a partial update into the current row). */
TIX_MUSTCHECK tix_rc tix_movie_update(tix_db *db, const tix_movie *m);
TIX_MUSTCHECK tix_rc tix_movie_get(tix_db *db, tix_arena *a, const char *id, tix_movie *out);
/* The movies (not deleted) among ids[0..nids), in one statement, in id order: those not found
 * are simply absent. At most TIX_MOVIE_GET_MANY_MAX ids (one statement's parameters; TIX_EINVAL
 * above). GraphQL's batch of the movies of a page of shows (api/graphql_resolve.c). */
#define TIX_MOVIE_GET_MANY_MAX TIX_DB_MAX_PARAMS
TIX_MUSTCHECK tix_rc tix_movie_get_many(tix_db *db, tix_arena *a, const char *const *ids, int nids,
                                        tix_movie **items, int *n);
/* Up to f->limit + 1 rows (so the caller sees whether another page exists). */
TIX_MUSTCHECK tix_rc tix_movie_list(tix_db *db, tix_arena *a, const tix_movie_filter *f,
                                    tix_movie **items, int *n);
TIX_MUSTCHECK tix_rc tix_movie_soft_delete(tix_db *db, const char *id, int64_t now);
/* Points the movie's poster or trailer (kind "poster" | "trailer") at url and public_id if it
 * still points at expected_public_id (NULL: at nothing): a compare-and-swap in one UPDATE, so
 * of two uploads that started from the same media exactly one replaces it. TIX_ECONFLICT when
 * the movie's media is another one by now; TIX_ENOTFOUND when the movie is gone. */
TIX_MUSTCHECK tix_rc tix_movie_swap_media(tix_db *db, const char *id, const char *kind,
                                          const char *url, const char *public_id,
                                          const char *expected_public_id);

typedef struct tix_theatre {
    char *id;
    char *owner_id;
    char *name;
    char *city;
    char *address;
    bool has_geo;
    int64_t latitude_e6;
    int64_t longitude_e6;
    int utc_offset_minutes;
    int64_t created_at;
    int64_t updated_at;
    /* Onboarding (migration 0013): "pending" | "approved" | "rejected"; only an approved
     * theatre is public and gets shows. rejection_reason is set while rejected (else NULL);
     * submitted_at is the last (re)submission, reviewed_at the last decision (0: none yet). */
    char *status;
    char *rejection_reason;
    int64_t submitted_at;
    int64_t reviewed_at;
} tix_theatre;

/* Inserts t with its status (t->status; NULL: "pending") and submitted_at = created_at. */
TIX_MUSTCHECK tix_rc tix_theatre_insert(tix_db *db, const tix_theatre *t);
/* Writes t's descriptive fields (never its status: see tix_theatre_transition). */
TIX_MUSTCHECK tix_rc tix_theatre_update(tix_db *db, const tix_theatre *t);
TIX_MUSTCHECK tix_rc tix_theatre_get(tix_db *db, tix_arena *a, const char *id, tix_theatre *out);
/* Which theatres tix_theatre_list returns; each filter NULL: any. */
typedef struct tix_theatre_filter {
    const char *city_lower;
    const char *owner_id;
    const char *status; /* "pending" | "approved" | "rejected" */
    const char *after;  /* cursor: last id seen */
    int limit;
} tix_theatre_filter;

/* Up to f->limit + 1 theatres in id order (so the caller sees whether another page exists). */
TIX_MUSTCHECK tix_rc tix_theatre_list(tix_db *db, tix_arena *a, const tix_theatre_filter *f,
                                      tix_theatre **items, int *n);
/* Moves theatre id from status `from` to status `to` in one conditional UPDATE (so of two
 * callers racing from the same status exactly one moves it): "approved" / "rejected" record
 * the review (reviewed_at = now, reviewed_by = by, rejection_reason = reason, NULL when
 * approving); "pending" is a resubmission (submitted_at = now, the reason cleared).
 * TIX_ECONFLICT when the theatre is not in `from` (any more); TIX_ENOTFOUND when it is gone. */
TIX_MUSTCHECK tix_rc tix_theatre_transition(tix_db *db, const char *id, const char *from,
                                            const char *to, const char *reason, const char *by,
                                            int64_t now);
TIX_MUSTCHECK tix_rc tix_theatre_soft_delete(tix_db *db, const char *id, int64_t now);

typedef struct tix_hall {
    char *id;
    char *theatre_id;
    char *owner_id; /* the theatre's owner */
    char *name;
    char *layout; /* canonical JSON text */
    int seat_count;
    int64_t created_at;
    int64_t updated_at;
    char *theatre_status; /* the theatre's onboarding status (tix_theatre.status) */
    char *seat_pick;      /* best-available's ranking: "geometric" or "learned" (0023) */
} tix_hall;

/* Inserts the hall and one row per seat of l. */
TIX_MUSTCHECK tix_rc tix_hall_insert(tix_db *db, const tix_hall *h, const tix_layout *l);
/* Renames, sets seat_pick (NULL: geometric) and/or replaces the layout (l may be NULL to keep
 * the seats). */
TIX_MUSTCHECK tix_rc tix_hall_update(tix_db *db, const tix_hall *h, const tix_layout *l);
TIX_MUSTCHECK tix_rc tix_hall_get(tix_db *db, tix_arena *a, const char *id, tix_hall *out);
TIX_MUSTCHECK tix_rc tix_hall_list(tix_db *db, tix_arena *a, const char *theatre_id,
                                   tix_hall **items, int *n);
TIX_MUSTCHECK tix_rc tix_hall_soft_delete(tix_db *db, const char *id, int64_t now);
/* Takes the hall's row lock (PostgreSQL) / the write lock (SQLite) for this transaction by
 * bumping its lock_version, so overlap checks that follow cannot race. */
TIX_MUSTCHECK tix_rc tix_hall_lock(tix_db *db, const char *id);

typedef struct tix_seat_row {
    char *id;
    char *label;
    char *row;
    int number;
    int x;
    int y;
    char *category;
    bool blocked;
} tix_seat_row;

TIX_MUSTCHECK tix_rc tix_seat_list(tix_db *db, tix_arena *a, const char *hall_id,
                                   tix_seat_row **items, int *n);

/* Whether claims (holds or sales) exist on future, non-cancelled shows of a hall, a theatre or
 * a movie (exactly one of the ids set). */
TIX_MUSTCHECK tix_rc tix_catalog_future_claims(tix_db *db, const char *hall_id,
                                               const char *theatre_id, const char *movie_id,
                                               int64_t now, bool *any);
/* Whether a hall, theatre or movie (exactly one id set) has future, non-cancelled shows. */
TIX_MUSTCHECK tix_rc tix_catalog_future_shows(tix_db *db, const char *hall_id,
                                              const char *theatre_id, const char *movie_id,
                                              int64_t now, bool *any);
/* Whether some future, non-cancelled show of the hall has no price for category. */
TIX_MUSTCHECK tix_rc tix_hall_category_unpriced(tix_db *db, const char *hall_id,
                                                const char *category, int64_t now, bool *any);
/* Cancels the future, non-cancelled shows of a hall, theatre or movie (exactly one id set). */
TIX_MUSTCHECK tix_rc tix_catalog_cancel_future_shows(tix_db *db, const char *hall_id,
                                                     const char *theatre_id, const char *movie_id,
                                                     int64_t now);

typedef struct tix_show {
    char *id;
    char *movie_id;
    char *hall_id;
    char *theatre_id;
    char *owner_id;
    char *movie_title;
    char *theatre_name;
    char *city;
    char *hall_name;
    int64_t starts_at;
    int64_t ends_at;
    char *currency;
    bool cancelled;
    int utc_offset_minutes;
    int64_t created_at;
    bool learned_seats; /* the hall's seat_pick is "learned" (migration 0023) */
    /* The cheapest and dearest of its categories' prices (minor units of currency), -1 when it
     * has none: read only by tix_show_list with f->price_range (0 from every other read). */
    int64_t price_min;
    int64_t price_max;
} tix_show;

typedef struct tix_show_price {
    char *category;
    int64_t amount;
} tix_show_price;

typedef struct tix_show_filter {
    const char *movie_id;
    const char *theatre_id;
    const char *hall_id;
    const char *city_lower;
    bool has_date;
    int64_t day_start_utc; /* the date's midnight as if it were UTC; offset applied in SQL */
    int64_t ends_after;    /* only shows that end after this instant (0 = any) */
    bool include_cancelled;
    bool has_cursor;
    int64_t after_start;
    const char *after_id;
    int limit;
    bool price_range; /* also read each show's price_min and price_max, in the same statement */
} tix_show_filter;

TIX_MUSTCHECK tix_rc tix_show_insert(tix_db *db, const tix_show *s, const tix_show_price *prices,
                                     int nprices);
/* Whether a non-cancelled show of hall overlaps [starts_at, ends_at). */
TIX_MUSTCHECK tix_rc tix_show_overlap(tix_db *db, const char *hall_id, int64_t starts_at,
                                      int64_t ends_at, bool *overlaps);
TIX_MUSTCHECK tix_rc tix_show_get(tix_db *db, tix_arena *a, const char *id, tix_show *out);
TIX_MUSTCHECK tix_rc tix_show_prices(tix_db *db, tix_arena *a, const char *show_id,
                                     tix_show_price **items, int *n);
TIX_MUSTCHECK tix_rc tix_show_list(tix_db *db, tix_arena *a, const tix_show_filter *f,
                                   tix_show **items, int *n);
/* Marks a show cancelled; TIX_ECONFLICT if it already was. */
TIX_MUSTCHECK tix_rc tix_show_cancel(tix_db *db, const char *id, int64_t now);

#endif
