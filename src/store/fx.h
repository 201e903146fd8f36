/*
 * SQL of the display exchange rates (table fx_rates, migration 0021): put one currency's rate
 * (insert or replace), read one, list all. The rate is kept as the exact decimal text of
 * core/currency.h (tix_rate_format); parsing and age checks belong to the caller.
 *
 * Strings in returned rows live in the caller's arena; times are ms since the epoch.
 */
#ifndef TIX_STORE_FX_H
#define TIX_STORE_FX_H

#include "core/arena.h"
#include "core/rc.h"
#include "store/db.h"

#include <stdint.h>

typedef struct tix_fx_row {
    char *currency;     /* ISO 4217 code, e.g. "USD" */
    char *rate_per_inr; /* "0.012034": units of currency per INR */
    int64_t as_of;      /* when the quote was true */
    char *set_by;       /* admin's user id */
    int64_t set_at;
} tix_fx_row;

/* Inserts or replaces the row of row->currency. */
TIX_MUSTCHECK tix_rc tix_fx_put(tix_db *db, const tix_fx_row *row);

/* The row of currency: TIX_ENOTFOUND if none was set. */
TIX_MUSTCHECK tix_rc tix_fx_get(tix_db *db, tix_arena *a, const char *currency, tix_fx_row *out);

/* Every row, by currency. */
TIX_MUSTCHECK tix_rc tix_fx_list(tix_db *db, tix_arena *a, tix_fx_row **rows, int *n);

#endif
