/*
 * Holds and bookings: the operations with their transactions, shared by the HTTP handlers and
 * (next issue) the payment webhooks. Every rule about seats lives in the claims table: a hold
 * claims all its seats in one statement or none (tix_claims_take_stmt), a confirmation turns
 * exactly the hold's surviving claims into sales, and the state machine (state.h) decides every
 * change of a booking's status. Results live in ctx->arena.
 */
#ifndef TIX_BOOKING_BOOKING_H
#define TIX_BOOKING_BOOKING_H

#include "booking/state.h"
#include "core/arena.h"
#include "core/config.h"
#include "pay/pay.h"
#include "store/booking.h"
#include "store/catalog.h"

/* An Idempotency-Key that joins the transaction of the work it guards (a hold: the route says
 * so, http/idempotency.c sets it up). The key's row is claimed among the transaction's first
 * writes and its answer written with the commit, so the key, its answer and the work commit
 * together or not at all: a retry after an unknown commit outcome finds either the answer or
 * nothing (and does the work). */
typedef enum tix_idem_tx_state {
    TIX_IDEM_TX_OPEN = 0, /* the work never committed with the key (refused, failed, or no tx) */
    TIX_IDEM_TX_JOINED,   /* committed: the key holds the answer */
    TIX_IDEM_TX_TAKEN,    /* the key was used already: its stored answer is the answer; the work
                           * was rolled back */
} tix_idem_tx_state;

typedef struct tix_idem_tx {
    tix_idem_key k;
    /* Called once the work will commit, just before the commit, with arg: the answer the commit
     * makes true (*status, *response: arena or static text, kept by the key). */
    void (*answer)(void *arg, int *status, const char **response);
    void *arg;
    tix_idem_tx_state state; /* OUT */
} tix_idem_tx;

typedef struct tix_booking_ctx {
    tix_db *db;
    tix_arena *a;
    const tix_config *cfg;
    tix_pay_provider *pay;
    tix_idem_tx *idem; /* NULL, or the key joining tix_hold_place's transaction (borrowed) */
} tix_booking_ctx;

typedef struct tix_hold_request {
    const char *const *seat_ids; /* by seat, or NULL for best available */
    int nseat_ids;
    int quantity;         /* best available: how many */
    const char *category; /* best available: only this category, or NULL */
} tix_hold_request;

/* Why a hold was refused (the API's error code in brackets; api/booking_api.c says it). */
typedef enum tix_hold_problem {
    TIX_HOLD_PROBLEM_NONE = 0,
    TIX_HOLD_UNKNOWN_SEAT,     /* TIX_EINVAL: problem_ids are no seats of the hall [unknown_seat] */
    TIX_HOLD_BLOCKED_SEAT,     /* TIX_EINVAL: blocked_ids are never sold [blocked_seat] */
    TIX_HOLD_SEAT_UNAVAILABLE, /* TIX_ECONFLICT: problem_ids are claimed [seat_unavailable] */
    TIX_HOLD_NO_SEATS_AVAILABLE, /* TIX_ECONFLICT: nothing fits the request [no_seats_available] */
    TIX_HOLD_SHOW_NOT_BOOKABLE,  /* TIX_ECONFLICT: cancelled or started [show_not_bookable] */
} tix_hold_problem;

typedef struct tix_hold_result {
    tix_hold hold;
    tix_map_seat **seats; /* the held seats */
    int nseats;
    const char **problem_ids; /* unknown (TIX_EINVAL) or unavailable (TIX_ECONFLICT) */
    int nproblems;
    const char **blocked_ids; /* blocked seats (TIX_EINVAL) */
    int nblocked;
    tix_hold_problem problem;
} tix_hold_result;

/* Places a hold for user on show, replacing the user's active hold on that show atomically.
 * With c->idem, the key joins the hold's transaction (see tix_idem_tx); when the key is taken
 * already nothing is done (TIX_ECONFLICT, problem NONE, c->idem->state TAKEN). TIX_EINVAL (unknown
 * or blocked seats), TIX_ECONFLICT (taken seats, nothing fits, or the show is not on sale),
 * TIX_ENOTFOUND (no such show). */
TIX_MUSTCHECK tix_rc tix_hold_place(tix_booking_ctx *c, const char *show_id, const char *user_id,
                                    const tix_hold_request *req, tix_hold_result *out);
/* Releases the user's hold. TIX_ENOTFOUND for someone else's; TIX_ECONFLICT once booked. */
TIX_MUSTCHECK tix_rc tix_hold_release(tix_booking_ctx *c, const char *hold_id, const char *user_id);

/* Creates a pending booking from the user's active hold, with the provider's order for the
 * amount computed here, less promo_code's discount (NULL: no code; booking/promo.h): the code's
 * use is claimed in the booking's transaction. OUT: *out. why (static) names a TIX_ECONFLICT,
 * or the promo_code_* problem of a TIX_EINVAL (the code does not apply; nothing changed). */
TIX_MUSTCHECK tix_rc tix_booking_create(tix_booking_ctx *c, const char *hold_id,
                                        const char *user_id, const char *promo_code,
                                        tix_booking *out, const char **why);
/* The one confirmation path (checkout and webhooks): a captured payment for booking_id.
 * Confirms it (tickets issued) if its seats are still its own, else ends it expired_refunded
 * and refunds. Confirming twice is harmless. The signature must have been checked already. */
TIX_MUSTCHECK tix_rc tix_booking_paid(tix_booking_ctx *c, const char *booking_id,
                                      const char *payment_id, const char *source);
/* A captured payment of booking_id whose amount is not the booking's, so it cannot pay for it
 * (checkout, webhook or reconcile found it out): the booking keeps its status (a payment of the
 * right amount can still confirm it) and the payment is refunded in full, its captured amount.
 * The refund is recorded with an audit event in one transaction, under the booking's lock and
 * only if that payment has no refund yet, then sent; so it is sent once, however often and by
 * however many paths the payment is reported. OUT: *refunded whether this call recorded it.
 * TIX_ECONFLICT (nothing done, logged) when that payment is the one that confirmed the booking. */
TIX_MUSTCHECK tix_rc tix_booking_wrong_amount(tix_booking_ctx *c, const char *booking_id,
                                              const char *payment_id, int64_t amount,
                                              const char *source, bool *refunded);
/* Sends refund id to the provider under idempotency key `key` (its current attempt's) and
 * records the answer on the attempt and the refund (tix_refund_settle, in a transaction).
 * OUT: *provider, the provider's result (TIX_OK, TIX_EUNAVAIL, TIX_EUPSTREAM). Returns a
 * database error when the answer could not be recorded (logged), else TIX_OK. */
TIX_MUSTCHECK tix_rc tix_refund_send(tix_booking_ctx *c, const char *id, const char *key,
                                     const char *payment_id, int64_t amount, tix_rc *provider);
/* Cancels a confirmed booking with a full refund while the show is at least
 * CANCEL_FULL_REFUND_HOURS away, or until its start when the show was moved by more than
 * RESCHEDULE_FREE_CANCEL_MINUTES since the booking was made (store/show_changes.h), and none of
 * its tickets was admitted at the door (TIX_ECONFLICT with why "booking_not_confirmed",
 * "cancel_window_closed" or "already_checked_in" otherwise). */
TIX_MUSTCHECK tix_rc tix_booking_cancel(tix_booking_ctx *c, const char *booking_id,
                                        const char **why);
/* A show was cancelled: every confirmed booking is refunded in full, pending ones expire. */
TIX_MUSTCHECK tix_rc tix_booking_show_cancelled(tix_booking_ctx *c, const char *show_id);

#endif
