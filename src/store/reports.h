/*
 * SQL for sales reports (issue 12, API.md "Running a cinema": GET /reports/sales). One query
 * sums the shows whose local start falls in a range, grouped by the show's local day, the show,
 * the movie or the theatre, and always by currency (amounts in two currencies are never added).
 * What the numbers mean, and who may see which theatres, is booking/sales_report.h's business;
 * this file only runs the query it describes:
 *
 *   - a show is in the range when starts_at + its theatre's utc_offset_minutes falls in
 *     [from_local_ms, to_local_ms) (both "local midnight" instants counted as if they were UTC);
 *     a coarse bound on shows.starts_at alone (the range widened by the largest offsets, -12 h
 *     and +14 h) lets the shows_theatre_time index find each theatre's shows;
 *   - paid bookings (confirmed, cancelled_refunded, expired_refunded: every one was paid) give
 *     gross (amount_before_discount, or amount + discount on a row where it is 0) and discounts;
 *   - processed refunds of the booking's own payment (refunds.payment_id = bookings.payment_id)
 *     give refunds: a stray second payment, or one of the wrong amount, is refunded under its
 *     own payment id and was never in gross, so neither counts;
 *   - tickets are the seats of bookings that are confirmed now (booking_seats);
 *   - sellable seats are the hall's active seats (halls.seat_count) less its active blocked
 *     ones (today's layout; a hall's layout cannot change under future shows with bookings),
 *     for every show not cancelled.
 *
 * The sums are not computed from bookings, booking_seats and refunds on every request: they are
 * read from show_sales (migration 0019), one row per show holding exactly those sums, kept by the
 * writes that change them (tix_show_sales_booking, tix_show_sales_refund below) in their own
 * transactions. The query reads the range's shows and one summary row per show.
 *
 * Every group of a range with shows has a row, also with no sales (occupancy 0).
 * Strings in the returned rows live in the caller's arena.
 */
#ifndef TIX_STORE_REPORTS_H
#define TIX_STORE_REPORTS_H

#include "core/arena.h"
#include "store/db.h"

#include <stdint.h>

typedef enum tix_sales_group {
    TIX_SALES_BY_DAY,
    TIX_SALES_BY_SHOW,
    TIX_SALES_BY_MOVIE,
    TIX_SALES_BY_THEATRE,
} tix_sales_group;

typedef struct tix_sales_query {
    tix_sales_group group;
    int64_t from_local_ms;  /* local midnight of the first day, as epoch ms "in UTC" */
    int64_t to_local_ms;    /* local midnight after the last day (exclusive) */
    const char *theatre_id; /* NULL: every theatre the caller may see */
    const char *owner_id;   /* NULL: every owner (admin) */
    int limit;              /* rows at most; the query returns up to limit + 1 */
} tix_sales_query;

/* One row of a report. Which naming fields are set depends on the group: day for
 * TIX_SALES_BY_DAY (days since 1970-01-01, local), id for the others (show, movie or theatre
 * id), name (movie title or theatre name; for a show, the movie title), and for a show also
 * starts_at, theatre_id, theatre_name and movie_id. */
typedef struct tix_sales_row {
    int64_t day;
    char *id;
    char *name;
    int64_t starts_at;
    char *theatre_id;
    char *theatre_name;
    char *movie_id;
    char *currency;
    int64_t shows;
    int64_t gross;
    int64_t discounts;
    int64_t refunds;
    int64_t tickets;
    int64_t sellable;
} tix_sales_row;

/* Runs the report q describes. OUT: *rows (arena, ordered by the group's key then currency),
 * *n (at most q->limit + 1: one more than the limit says it was exceeded). */
TIX_MUSTCHECK tix_rc tix_sales_report(tix_db *db, tix_arena *a, const tix_sales_query *q,
                                      tix_sales_row **rows, int *n);

/*
 * Keeping the per-show summary (show_sales, migration 0019) that tix_sales_report reads. Each
 * adds a difference to the show's row by an upsert with increments, inside the caller's
 * transaction, and must run with the booking's row locked by that transaction (its status
 * update, or tix_booking_lock), so that two changes of one booking never both count.
 *
 * tix_show_sales_booking: booking_id changed status; paid is +1 when it entered the paid
 * statuses (confirmed, cancelled_refunded, expired_refunded), -1 when it left them, 0 when
 * neither; confirmed likewise for status confirmed. Run after the status (and payment id)
 * update: the amounts, refunds and seats are read as they are then. Nothing is written when both
 * are 0.
 *
 * tix_show_sales_refund: refund_id becomes processed in this transaction. Counted when its
 * booking is paid and it refunds the booking's own payment. With key NULL, run after the update
 * that made it processed; with key, run before the update about attempt `key`, and only what
 * that update will change counts (the refund not processed yet and key its current attempt).
 */
TIX_MUSTCHECK tix_rc tix_show_sales_booking(tix_db *db, const char *booking_id, int paid,
                                            int confirmed);
TIX_MUSTCHECK tix_rc tix_show_sales_refund(tix_db *db, const char *refund_id, const char *key);

#endif
