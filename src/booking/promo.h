/*
 * Promo codes (issue 12): creating, listing and switching codes, and applying one to a booking.
 * Counting uses is store/promo.h; the booking's transaction is booking/bookings.c.
 *
 * Applying a code to a booking happens in two steps. Before the payment order exists,
 * tix_promo_quote reads the code and checks every rule (active, window, theatre scope,
 * currency, minimum amount, and the limits as they stand, for a clear early answer) and
 * computes the discount: the order is created for the discounted amount. Then, in the
 * booking's transaction, tix_promo_claim (store) takes the use for real with conditional
 * updates: when many book at once, that, not the quote, decides who gets the last use.
 *
 * The discount: percent codes take value % of the seats' amount, rounded down to the minor
 * unit; amount codes take value (minor units of the code's currency, only for shows in that
 * currency). Either is capped so the buyer still pays the payment provider's minimum order
 * amount (tix_pay_provider.min_order_amount: 1 minor unit with the test provider, 100 paise with
 * Razorpay): a booking is never free, so every booking is confirmed by a payment and every
 * refund has a payment to return to.
 */
#ifndef TIX_BOOKING_PROMO_H
#define TIX_BOOKING_PROMO_H

#include "core/arena.h"
#include "core/roles.h"
#include "store/catalog.h"
#include "store/db.h"
#include "store/promo.h"

#include <stdbool.h>
#include <stdint.h>

/* Why a code does not apply (the API's 422 error code in brackets; docs/errors.md). */
typedef enum tix_promo_problem {
    TIX_PROMO_OK = 0,
    TIX_PROMO_UNKNOWN,       /* [promo_code_unknown] */
    TIX_PROMO_INACTIVE,      /* switched off [promo_code_inactive] */
    TIX_PROMO_NOT_YET_VALID, /* before valid_from [promo_code_not_yet_valid] */
    TIX_PROMO_EXPIRED,       /* from valid_until on [promo_code_expired] */
    TIX_PROMO_USED_UP,       /* max_uses reached [promo_code_used_up] */
    TIX_PROMO_USER_LIMIT,    /* max_uses_per_user reached [promo_code_user_limit] */
    TIX_PROMO_OUT_OF_SCOPE,  /* another theatre's code [promo_code_out_of_scope] */
    TIX_PROMO_BELOW_MINIMUM, /* the seats cost less than min_amount [promo_code_below_minimum] */
    TIX_PROMO_CURRENCY_MISMATCH, /* the show is priced in another currency
                                    [promo_code_currency_mismatch] */
} tix_promo_problem;

/* The API's error code of p (static text). */
const char *tix_promo_problem_code(tix_promo_problem p);
const char *tix_promo_problem_message(tix_promo_problem p);

/* Normalises a code into out: 3..32 characters of A-Z, a-z, 0-9, '-' and '_', upper-cased.
 * False for anything else. */
bool tix_promo_normalize(const char *in, char out[TIX_PROMO_CODE_MAX + 1]);
/* The discount p gives on amount (pure): never more than amount - min_charge, never below 0. */
int64_t tix_promo_discount(const tix_promo *p, int64_t amount, int64_t min_charge);

/* What tix_promo_quote found. */
typedef struct tix_promo_quote_result {
    tix_promo promo;
    int64_t discount;
    tix_promo_problem problem;
} tix_promo_quote_result;

/* What a booking asks of a code. */
typedef struct tix_promo_ask {
    const char *code; /* as the client sent it */
    const char *user_id;
    const tix_show *show;
    int64_t amount;     /* the held seats, in minor units of show->currency */
    int64_t min_charge; /* the payment provider's smallest order */
    int64_t now;
} tix_promo_ask;

/* Checks ask->code for that booking and computes the discount. TIX_OK with out->problem
 * TIX_PROMO_OK, or TIX_EINVAL with out->problem saying why; database errors as they come. */
TIX_MUSTCHECK tix_rc tix_promo_quote(tix_db *db, tix_arena *a, const tix_promo_ask *ask,
                                     tix_promo_quote_result *out);
/* The problem a refused claim (store/promo.h) means, read again inside the transaction. */
tix_promo_problem tix_promo_refusal_problem(tix_db *db, tix_arena *a, const char *promo_id,
                                            tix_promo_refusal why, int64_t now);

/* Why creating or changing a code was refused beyond its shape. */
typedef enum tix_promo_write_problem {
    TIX_PROMO_WRITE_OK = 0,
    TIX_PROMO_WRITE_THEATRE_REQUIRED, /* an owner must name one of their theatres (422) */
    TIX_PROMO_WRITE_NO_THEATRE,       /* theatre_id names no theatre (422) */
    TIX_PROMO_WRITE_CODE_TAKEN,       /* the code exists, in any case (409 promo_code_taken) */
} tix_promo_write_problem;

/* Creates p (its id, created_by, times and active are set here) for who: an admin any code,
 * an owner only codes of their own theatres (TIX_EFORBIDDEN otherwise). TIX_EINVAL or
 * TIX_ECONFLICT with *why. */
TIX_MUSTCHECK tix_rc tix_promo_create(tix_db *db, tix_arena *a, const tix_principal *who,
                                      tix_promo *p, tix_promo_write_problem *why);
/* Switches code id on or off for who (admin: any; owner: their theatres' codes; others
 * TIX_ENOTFOUND). OUT: *out the code as it now is. */
TIX_MUSTCHECK tix_rc tix_promo_set(tix_db *db, tix_arena *a, const tix_principal *who,
                                   const char *id, bool active, tix_promo *out);
/* The codes who may see: an admin all (or one theatre's), an owner those of their theatres. */
TIX_MUSTCHECK tix_rc tix_promo_visible(tix_db *db, tix_arena *a, const tix_principal *who,
                                       tix_promo_filter *f, tix_promo **items, int *n);

#endif
