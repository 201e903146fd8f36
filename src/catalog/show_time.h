/*
 * Show timing rules (pure): the status a show has at a given instant, interval overlap, the
 * end of a show, and local calendar days. A show's stored status only says whether it was
 * cancelled; scheduled → running → completed is always derived from the clock, so it is right
 * even before any job has run.
 */
#ifndef TIX_CATALOG_SHOW_TIME_H
#define TIX_CATALOG_SHOW_TIME_H

#include <stdbool.h>
#include <stdint.h>

typedef enum tix_show_status {
    TIX_SHOW_SCHEDULED,
    TIX_SHOW_RUNNING,
    TIX_SHOW_COMPLETED,
    TIX_SHOW_CANCELLED,
} tix_show_status;

tix_show_status tix_show_status_at(bool cancelled, int64_t starts_at, int64_t ends_at, int64_t now);
const char *tix_show_status_name(tix_show_status s);
/* Whether half-open intervals [a0, a1) and [b0, b1) share any instant. */
bool tix_interval_overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1);
/* starts_at + the movie's running time + the cleaning buffer, all in ms. */
int64_t tix_show_end(int64_t starts_at, int duration_minutes, int64_t buffer_ms);
/* Parses YYYY-MM-DD (a real calendar date) into the UTC ms of its midnight; false if invalid. */
bool tix_parse_date(const char *s, int64_t *midnight_utc_ms);
/* Today's date (YYYY-MM-DD) at UTC for now_ms. */
void tix_format_date(char out[11], int64_t now_ms);
/* Whether code is a currency ticketd sells in (core/currency.h: ISO 4217, minor unit 0, 2 or 3). */
bool tix_currency_supported(const char *code);

#endif
