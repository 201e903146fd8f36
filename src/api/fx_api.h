/*
 * Display currencies (API.md "Real time for people": Currencies). A show is priced and charged in
 * its own currency; an admin sets exchange rates (PUT /admin/fx-rates/{currency}
 * {rate_per_inr, as_of}, GET /admin/fx-rates), and GET /shows/{id}/seats?display_currency=USD
 * adds the show's prices converted into USD beside the real ones, with the rates used and their
 * times (GET /bookings/{id}?display_currency= the same for a booking's amounts, and GET
 * /shows?display_currency= for each listed show's price range). The charged amount never
 * changes.
 *
 * A rate is "units of the currency per INR", an exact decimal (core/currency.h), so any pair
 * converts through INR: amount_D = amount_C / rate_C * rate_D, in integers with one half-even
 * rounding into D's ISO 4217 minor units. INR's rate is 1 and has no row. A rate older than
 * FX_MAX_AGE (as_of, not when it was typed in) is refused with 422 fx_rate_stale and one never
 * set with 422 fx_rate_missing: never used, never guessed.
 */
#ifndef TIX_API_FX_API_H
#define TIX_API_FX_API_H

#include "app.h"
#include "core/currency.h"
#include "http/req.h"
#include "store/db.h"

#include <jansson.h>
#include <stdbool.h>

/* A conversion from one currency into another, as found by tix_fx_open. */
typedef struct tix_fx_conv {
    const tix_currency *from;
    const tix_currency *to;
    int64_t from_rate; /* scaled by TIX_RATE_SCALE, per INR */
    int64_t to_rate;
    json_t *rates; /* {"USD": {"rate_per_inr", "as_of"}, ...}: the rows used (new reference) */
} tix_fx_conv;

/* The display currency named by to (a query parameter's text), or NULL after answering 400
 * invalid_parameter naming param: for checking it before anything is read. */
const tix_currency *tix_fx_target(tix_req *r, const char *to, const char *param);

/*
 * Prepares the conversion of amounts in show currency `from` into the display currency named by
 * `to` (a query parameter's text). On a bad code (400 invalid_parameter naming param), a missing
 * or stale rate (422), or a database failure it answers the request and returns false; else it
 * fills *c (c->rates owned by the caller, usually handed to a json object).
 */
bool tix_fx_open(tix_req *r, tix_db *db, const char *from, const char *to, const char *param,
                 tix_fx_conv *c);

/* amount (minor units of c->from) in minor units of c->to; -1 if it cannot be converted. */
int64_t tix_fx_convert(const tix_fx_conv *c, int64_t amount);

#endif
