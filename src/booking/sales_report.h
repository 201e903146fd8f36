/*
 * Sales reports (issue 12; API.md "Running a cinema": GET /reports/sales): what a theatre sold
 * over a range of days, grouped by day, show, movie or theatre. The handler (api/reports_api.c)
 * passes the query's words through unchecked; this file checks them, decides who sees what and
 * what the numbers mean, and store/reports.h runs the one query. Nothing here knows HTTP.
 *
 * The rules, written once here (docs/openapi.yaml says the same to clients):
 *   - from / to are dates (YYYY-MM-DD), both required, inclusive, in each theatre's own time
 *     zone (theatres.utc_offset_minutes); to before from, or a range of more than
 *     TIX_SALES_MAX_DAYS days, is refused. group_by is day (the default), show, movie or theatre.
 *   - "day" is the local date of the show's start, not of the payment: a show's money, refunds,
 *     tickets and seats all land on one day, so occupancy is coherent (a booking paid in
 *     November for a December show counts in December).
 *   - what was sold: every booking that was paid, i.e. confirmed now, or later cancelled and
 *     refunded (cancelled_refunded), or paid after its hold expired and refunded
 *     (expired_refunded). gross is what those seats cost before discounts
 *     (bookings.amount_before_discount; amount + discount for a row where it is 0), discounts
 *     the promo discounts taken (bookings.discount), refunds the processed refunds of those
 *     bookings' payments (refunds.status = processed: pending or failed ones are not money back
 *     yet; a refund of a stray second payment or of one of the wrong amount gives back money
 *     that was never in gross, and counts in neither), net = gross - discounts - refunds.
 *     gross - discounts is therefore what buyers paid.
 *   - tickets: seats of bookings that are confirmed now (a refunded seat may be sold again and
 *     is then counted once, for its new booking); sellable seats: the hall's active, unblocked
 *     seats for every show that is not cancelled; occupancy = tickets / sellable (0 when none).
 *   - rows are per currency as well as per group: a group with shows in INR and in USD has two
 *     rows; amounts of different currencies are never added.
 *   - who: an admin sees every theatre; an owner only theatres it owns (a theatre_id of
 *     another owner's theatre is TIX_EFORBIDDEN, an unknown one TIX_ENOTFOUND, as for a show's
 *     sales). Door staff see no reports.
 *   - at most TIX_SALES_MAX_ROWS rows: a larger report is refused (narrow the range or the
 *     theatre, or group coarser) rather than cut silently.
 *
 * Memory: everything returned lives in the arena passed in.
 */
#ifndef TIX_BOOKING_SALES_REPORT_H
#define TIX_BOOKING_SALES_REPORT_H

#include "core/arena.h"
#include "core/roles.h"
#include "store/reports.h"

#include <stdbool.h>
#include <stdint.h>

#define TIX_SALES_MAX_DAYS 366
#define TIX_SALES_MAX_ROWS 10000

/* The query's words as they came (NULL when absent). */
typedef struct tix_sales_params {
    const char *from;
    const char *to;
    const char *theatre_id;
    const char *group_by;
} tix_sales_params;

/* Why a TIX_EINVAL / TIX_ETOOBIG: param names the query parameter ("from", "to", "group_by"),
 * why a static rule name ("missing", "not_a_date", "reversed", "range_too_long",
 * "unknown_group", "report_too_large"). */
typedef struct tix_sales_refusal {
    const char *param;
    const char *why;
} tix_sales_refusal;

typedef struct tix_sales_result {
    tix_sales_group group;
    tix_sales_row *rows;
    int n;
} tix_sales_result;

/* The report `in` asks for, as `who` may see it. TIX_EINVAL (bad parameter) or TIX_ETOOBIG
 * (more than TIX_SALES_MAX_ROWS rows) with *why filled; TIX_ENOTFOUND / TIX_EFORBIDDEN for the
 * theatre; database failures as store/db.h. */
TIX_MUSTCHECK tix_rc tix_sales_report_run(tix_db *db, tix_arena *a, const tix_principal *who,
                                          const tix_sales_params *in, tix_sales_result *out,
                                          tix_sales_refusal *why);

/* "day" | "show" | "movie" | "theatre". */
const char *tix_sales_group_name(tix_sales_group g);
/* Writes local day `day` (days since 1970-01-01) as YYYY-MM-DD into buf (at least 16 bytes). */
void tix_sales_day_format(int64_t day, char *buf);
/* Parses a strict YYYY-MM-DD calendar date (years 1970..9999) into days since 1970-01-01. */
bool tix_sales_day_parse(const char *s, int64_t *day);

#endif
