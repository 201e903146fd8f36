/*
 * SQL for promo codes (issue 12): the codes, their use counters and the link from a booking to
 * the code it used. Strings in returned structs live in the caller's arena. Callers own
 * transactions.
 *
 * Counting uses. promo_codes.uses is the number of bookings holding a use of the code now;
 * promo_code_users.uses the same per user. A use is claimed by conditional updates that only
 * succeed below the limit (tix_promo_claim), inside the booking's transaction, so the row lock
 * the update takes serialises concurrent claims of one code on every server (PostgreSQL
 * re-checks the WHERE against the row a concurrent transaction committed; SQLite writes one
 * transaction at a time), and a CHECK in the table refuses uses > max_uses whatever happens.
 * Nothing reads a counter and then writes it.
 *
 * Giving a use back. bookings.promo_held is 1 while the booking holds its use. Every change of
 * a booking's status goes through tix_booking_transition (store/booking.h), which calls
 * tix_promo_release_booking for the statuses that end a booking without a sale (expired,
 * failed, cancelled_refunded, expired_refunded): that clears the flag by a conditional update
 * and decrements the counters only when it did, in the transaction of the status change. A
 * second cancel, or an expiry racing a confirmation, finds the flag cleared (or the status
 * moved) and returns nothing. A late payment that confirms an expired or failed booking claims
 * the use again (tix_promo_reclaim), within the limits.
 */
#ifndef TIX_STORE_PROMO_H
#define TIX_STORE_PROMO_H

#include "core/arena.h"
#include "core/model.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

#define TIX_PROMO_CODE_MAX 32 /* characters of a code: A-Z, 0-9, '-' and '_' */

typedef struct tix_promo {
    char *id;
    char *code; /* normalised: upper case */
    char *kind; /* "percent" | "amount" */
    int64_t value;
    char *currency;            /* NULL: any (percent codes only) */
    int64_t max_uses;          /* 0: no limit */
    int64_t max_uses_per_user; /* 0: no limit */
    int64_t uses;
    int64_t valid_from;  /* ms; 0: open */
    int64_t valid_until; /* ms; 0: open */
    char *theatre_id;    /* NULL: every theatre */
    int64_t min_amount;
    bool active;
    char *created_by;
    int64_t created_at;
    int64_t updated_at;
    char *theatre_owner_id; /* read only: the scope theatre's owner (NULL without one) */
} tix_promo;

/* Inserts p (uses 0). TIX_ECONFLICT when the code exists. */
TIX_MUSTCHECK tix_rc tix_promo_insert(tix_db *db, const tix_promo *p);
TIX_MUSTCHECK tix_rc tix_promo_get(tix_db *db, tix_arena *a, const char *id, tix_promo *out);
/* By normalised code; TIX_ENOTFOUND when there is none. */
TIX_MUSTCHECK tix_rc tix_promo_by_code(tix_db *db, tix_arena *a, const char *code, tix_promo *out);
typedef struct tix_promo_filter {
    const char *owner_id;   /* only codes of this owner's theatres, or NULL for all */
    const char *theatre_id; /* or NULL */
    const char *before;     /* cursor: ids below this one, or NULL */
    int limit;
} tix_promo_filter;
/* Codes matching f, newest first (limit + 1 rows). */
TIX_MUSTCHECK tix_rc tix_promo_list(tix_db *db, tix_arena *a, const tix_promo_filter *f,
                                    tix_promo **items, int *n);
/* Switches a code on or off. TIX_ENOTFOUND when there is no such code. */
TIX_MUSTCHECK tix_rc tix_promo_set_active(tix_db *db, const char *id, bool active, int64_t now);
/* How many uses user_id holds of the code now. */
TIX_MUSTCHECK tix_rc tix_promo_user_uses(tix_db *db, const char *promo_id, const char *user_id,
                                         int64_t *uses);

/* What refused a claim. */
typedef enum tix_promo_refusal {
    TIX_PROMO_REFUSED_NONE = 0,
    TIX_PROMO_REFUSED_CODE, /* used up, or (check_window) inactive or outside its window */
    TIX_PROMO_REFUSED_USER, /* the user's limit */
} tix_promo_refusal;

/* Inside the caller's transaction: claims one use of promo_id for user_id (max_per_user 0 =
 * no per-user limit), with check_window also requiring the code active and valid at now.
 * TIX_ECONFLICT with *why when refused; the caller must then roll back (a refused per-user
 * claim leaves the code's counter incremented in the transaction). */
TIX_MUSTCHECK tix_rc tix_promo_claim(tix_db *db, const char *promo_id, const char *user_id,
                                     int64_t max_per_user, bool check_window, int64_t now,
                                     tix_promo_refusal *why);
/* Inside the caller's transaction: gives back booking_id's use if it holds one (exactly once:
 * see above). OUT: *released whether it did (may be NULL). */
TIX_MUSTCHECK tix_rc tix_promo_release_booking(tix_db *db, const char *booking_id, int64_t now,
                                               bool *released);
/* Inside the caller's transaction: a late payment confirms booking_id, whose use was given
 * back: claims it again within max_uses and the per-user limit (the window and the active
 * switch no longer matter: the price was agreed at booking). TIX_ECONFLICT, with nothing
 * changed, when a limit refuses it; TIX_OK without a change when the booking holds its use or
 * used no code. */
TIX_MUSTCHECK tix_rc tix_promo_reclaim(tix_db *db, const char *booking_id, int64_t now);

#endif
