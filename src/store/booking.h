/*
 * SQL for seat claims, holds, bookings, tickets, refunds, the audit trail and idempotency keys
 * (booking.c; the seat map and a hold's read of its seats in seatmap.c). Strings in returned
 * structs live in the caller's arena. Callers own transactions.
 *
 * Claims are the truth about seats: a row (show, seat) with expires_at in the future is a hold,
 * with expires_at NULL a sale; a row whose expiry has passed counts as free everywhere (no job
 * needs to have run) and is overwritten by the next claim.
 */
#ifndef TIX_STORE_BOOKING_H
#define TIX_STORE_BOOKING_H

#include "core/arena.h"
#include "core/model.h"
#include "store/catalog.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_map_seat {
    char *id;
    char *label;
    char *row;
    int number;
    int x;
    int y;
    char *category;
    bool blocked;
    int64_t price; /* -1 when the show has no price for the category */
    tix_claim_kind claim;
    char *hold_id; /* the claim's hold (NULL when free) */
    char *claim_user;
    int64_t claim_expires; /* a live hold's expiry (ms), 0 otherwise */
    int64_t claim_price;   /* the price a live hold was given for the seat, -1 otherwise */
} tix_map_seat;

/* Every active seat of the show's hall with its price and live claim, ordered by (y, x). The
 * hall's seats come from this process's copy when its seats_version is current (seatmap.c). */
TIX_MUSTCHECK tix_rc tix_seatmap_load(tix_db *db, tix_arena *a, const char *show_id,
                                      const char *hall_id, int64_t now, tix_map_seat **seats,
                                      int *n);

typedef struct tix_claim_req {
    const char *show_id;
    const char *user_id;
    const char *hold_id;
    const char *const *seat_ids; /* sorted, distinct */
    int n;
    int64_t expires_at;
    int64_t now;
} tix_claim_req;

/* The statement of a batch that claims q->seat_ids for a hold, each at the show's current price
 * for its category (text and parameters in a; n at most 59): rows already claimed by a live
 * claim are left alone, expired ones taken over; the caller rolls back unless every seat was
 * claimed. tix_claims_taken reads its result. OUT: claimed[i] whether seat_ids[i] was claimed,
 * prices[i] at which price (the claim's: what the hold and its booking charge); *nclaimed. */
void tix_claims_take_stmt(tix_arena *a, const tix_claim_req *q, tix_db_stmt *st);
void tix_claims_taken(const tix_db_res *res, const tix_claim_req *q, bool *claimed, int64_t *prices,
                      int *nclaimed);
/* Drops the claims of a hold (those still its own). */
TIX_MUSTCHECK tix_rc tix_claims_release_hold(tix_db *db, const char *show_id, const char *hold_id);
/* tix_claims_release_hold and tix_claims_release_booking that also list the seats released
 * (OUT: *ids in a, *n), for the seat events published after the commit. */
TIX_MUSTCHECK tix_rc tix_claims_release_hold_ids(tix_db *db, tix_arena *a, const char *show_id,
                                                 const char *hold_id, const char ***ids, int *n);
TIX_MUSTCHECK tix_rc tix_claims_release_booking_ids(tix_db *db, tix_arena *a, const char *show_id,
                                                    const char *booking_id, const char ***ids,
                                                    int *n);
/* Makes the hold's claims permanent for booking_id. OUT: *n how many are still the hold's. */
TIX_MUSTCHECK tix_rc tix_claims_sell(tix_db *db, const char *show_id, const char *hold_id,
                                     const char *booking_id, int *n);
/* Releases a booking's sold seats. */
TIX_MUSTCHECK tix_rc tix_claims_release_booking(tix_db *db, const char *show_id,
                                                const char *booking_id);
/* Pushes the hold's claims' expiry (a booking pays within this time). */
TIX_MUSTCHECK tix_rc tix_claims_extend(tix_db *db, const char *show_id, const char *hold_id,
                                       int64_t expires_at);

typedef struct tix_hold {
    char *id;
    char *show_id;
    char *user_id;
    tix_hold_status status;
    int seat_count;
    int64_t amount;
    char *currency;
    int64_t expires_at;
    int64_t created_at;
} tix_hold;

TIX_MUSTCHECK tix_rc tix_hold_insert(tix_db *db, const tix_hold *h);
void tix_hold_insert_stmt(tix_arena *a, const tix_hold *h, tix_db_stmt *st);

/* What placing a hold by seat ids reads, as one statement of a batch: the show and those of
 * ids (at most 60) that are active seats of its hall, with their prices. */
void tix_hold_read_stmt(tix_arena *a, const char *show_id, const char *const *ids, int n,
                        tix_db_stmt *st);
/* Reads that statement's rows. OUT: *show (id, hall_id, currency, starts_at, ends_at and
 * cancelled; the rest NULL or 0) and the seats found, in no order (claim fields 0).
 * TIX_ENOTFOUND when there is no such show. */
TIX_MUSTCHECK tix_rc tix_hold_read_result(tix_arena *a, const tix_db_res *res, const char *show_id,
                                          tix_show *show, tix_map_seat **seats, int *n);
/* Two statements of a batch, in a transaction: the user's active hold on the show (expired or
 * not: the unique index allows one) becomes 'replaced' at `now`, then its claims are deleted
 * (RETURNING the seats freed). The hold row is locked first, so a twin request of the same user
 * waits for this one and then finds no active hold to replace (its hold insert then meets the
 * unique index: run it again). */
void tix_hold_retire_stmts(tix_arena *a, const char *show_id, const char *user_id, int64_t now,
                           tix_db_stmt st[2]);
/* Whether one of q->seat_ids is held by an active hold of q->user_id other than q->hold_id (a
 * twin request of the same user got there first). */
TIX_MUSTCHECK tix_rc tix_claims_held_by_user(tix_db *db, tix_arena *a, const tix_claim_req *q,
                                             bool *held);
TIX_MUSTCHECK tix_rc tix_hold_get(tix_db *db, tix_arena *a, const char *id, tix_hold *out);
/* The user's active hold on a show that expires after `now` (0: expired ones too), if any
 * (TIX_ENOTFOUND otherwise). */
TIX_MUSTCHECK tix_rc tix_hold_active_for(tix_db *db, tix_arena *a, const char *user_id,
                                         const char *show_id, int64_t now, tix_hold *out);
/* Moves a hold from `from` to `to`; TIX_ECONFLICT when it was not in `from`. */
TIX_MUSTCHECK tix_rc tix_hold_set_status(tix_db *db, const char *id, tix_hold_status from,
                                         tix_hold_status to, int64_t now);

typedef struct tix_booking_seat {
    char *seat_id;
    char *label;
    char *category;
    int64_t price;
    char *ticket_code; /* NULL until confirmed */
    char *ticket_id;   /* NULL until confirmed */
} tix_booking_seat;

typedef struct tix_booking {
    char *id;
    char *user_id;
    char *show_id;
    char *hold_id;
    tix_booking_status status;
    int64_t amount;
    char *currency;
    char *provider;
    char *order_id;
    char *payment_id;
    int64_t expires_at;
    int64_t created_at;
    int64_t confirmed_at;
    int64_t cancelled_at;
    char *theatre_owner_id;
    int64_t show_starts_at;
    /* Promo codes (store/promo.h): amount = amount_before_discount - discount is what the buyer
     * pays (and the most a refund returns). */
    int64_t amount_before_discount;
    int64_t discount;
    char *promo_code_id; /* NULL: no code */
    char *promo_code;    /* read only: the code's text */
    bool promo_held;     /* the booking holds a use of the code now */
} tix_booking;

TIX_MUSTCHECK tix_rc tix_booking_insert(tix_db *db, const tix_booking *b,
                                        const tix_booking_seat *seats, int n);
TIX_MUSTCHECK tix_rc tix_booking_get(tix_db *db, tix_arena *a, const char *id, tix_booking *out);
TIX_MUSTCHECK tix_rc tix_booking_by_order(tix_db *db, tix_arena *a, const char *order_id,
                                          tix_booking *out);
TIX_MUSTCHECK tix_rc tix_booking_seats(tix_db *db, tix_arena *a, const char *booking_id,
                                       tix_booking_seat **items, int *n);
TIX_MUSTCHECK tix_rc tix_booking_set_order(tix_db *db, const char *id, const char *order_id);
/* Locks the booking row for this transaction (the same trick as tix_hall_lock). */
TIX_MUSTCHECK tix_rc tix_booking_lock(tix_db *db, const char *id);
/* Records a change of status (and the audit event) if the booking is still in `from`, and the
 * mail the user must get of it (confirmed, cancelled, refunded, show cancelled: store/outbox.h)
 * in the same transaction: every path that moves a booking goes through here. A move to a
 * status without a sale (expired, failed, cancelled_refunded, expired_refunded) gives the
 * booking's promo code use back in the same transaction (store/promo.h). */
TIX_MUSTCHECK tix_rc tix_booking_transition(tix_db *db, const char *id, tix_booking_status from,
                                            tix_booking_status to, const char *reason,
                                            const char *payment_id, int64_t now);
/* Adds an audit event that leaves the status as it is (something happened to the booking that
 * moved nothing, such as a refunded payment of the wrong amount). */
TIX_MUSTCHECK tix_rc tix_booking_note(tix_db *db, const char *id, tix_booking_status status,
                                      const char *reason, int64_t now);
typedef struct tix_booking_filter {
    const char *user_id;    /* or NULL */
    const char *show_id;    /* or NULL */
    const char *theatre_id; /* or NULL */
    const char *before;     /* cursor: ids below this one, or NULL */
    int limit;
} tix_booking_filter;

/* Bookings matching f, newest first, paged by id (limit + 1 rows). */
TIX_MUSTCHECK tix_rc tix_booking_list(tix_db *db, tix_arena *a, const tix_booking_filter *f,
                                      tix_booking **items, int *n);
/* Confirmed bookings of a show (for show cancellation). */
TIX_MUSTCHECK tix_rc tix_booking_confirmed_of_show(tix_db *db, tix_arena *a, const char *show_id,
                                                   tix_booking **items, int *n);
TIX_MUSTCHECK tix_rc tix_ticket_insert(tix_db *db, const char *booking_id, const char *seat_id,
                                       const char *code, int64_t now);
TIX_MUSTCHECK tix_rc tix_ticket_void(tix_db *db, const char *booking_id);

/* A ticket with what its token and its access rules need. */
typedef struct tix_ticket_row {
    char *id;
    char *booking_id;
    char *code;
    char *status; /* valid | void */
    char *seat_label;
    char *user_id; /* the booking's holder */
    char *show_id;
    int64_t starts_at;
    char *theatre_id;
    char *theatre_owner_id;
} tix_ticket_row;
TIX_MUSTCHECK tix_rc tix_ticket_get(tix_db *db, tix_arena *a, const char *id, tix_ticket_row *out);

/* What a printed ticket says about its show. */
typedef struct tix_show_print {
    char *film;
    char *theatre;
    char *city;
    char *hall;
    int utc_offset_minutes;
    int64_t starts_at;
} tix_show_print;
TIX_MUSTCHECK tix_rc tix_show_print_get(tix_db *db, tix_arena *a, const char *show_id,
                                        tix_show_print *out);

typedef struct tix_refund {
    char *id;
    char *booking_id;
    char *payment_id;
    int64_t amount;
    char *reason;
    char *status;
    char *provider_refund_id;
} tix_refund;

/* Inserts a pending refund with its first attempt (idempotency key = the refund's id); two
 * statements, inside the caller's transaction. */
TIX_MUSTCHECK tix_rc tix_refund_insert(tix_db *db, const tix_refund *r, int64_t now);
/* Whether a refund of payment_id was already recorded (of any status). */
TIX_MUSTCHECK tix_rc tix_refund_exists_for_payment(tix_db *db, const char *payment_id,
                                                   bool *exists);
TIX_MUSTCHECK tix_rc tix_refund_list(tix_db *db, tix_arena *a, const char *booking_id,
                                     tix_refund **items, int *n);

typedef struct tix_sales_line {
    char *category;
    int64_t seats;
    int64_t revenue;
} tix_sales_line;

/* Seats sold and revenue per category over the show's confirmed bookings. */
TIX_MUSTCHECK tix_rc tix_show_sales(tix_db *db, tix_arena *a, const char *show_id,
                                    tix_sales_line **items, int *n);

typedef struct tix_idem_key {
    const char *user_id;
    const char *key;
    const char *hash; /* of the request */
    int64_t now;      /* the request's start; a claim made by it is created at this instant */
    int64_t lease_ms; /* a claim (status 0) older than this was abandoned; 0 = never */
} tix_idem_key;

typedef struct tix_idem_seen {
    int status;        /* 0 = the first request is still running */
    char *response;    /* arena */
    char *stored_hash; /* arena */
} tix_idem_seen;

/* Idempotency keys (http/idempotency.c says how they are used). A key younger than 24 h is
 * kept; an older one is taken over by its next use, and so is a claim still without an answer
 * (status 0) older than k->lease_ms: the request that made it died, or could not drop it after
 * its 5xx because the database was gone.
 *
 * Claim first, answer after (routes whose work is not one transaction): begin: TIX_OK = first
 * use (a row with status 0 now exists, committed on its own, created at k->now); TIX_ECONFLICT
 * = seen before, *seen says what was stored. finish stores the answer, forget drops the claim:
 * both touch only the claim made with this k (still unanswered and created at k->now), never
 * one that another request took over after the lease. */
TIX_MUSTCHECK tix_rc tix_idem_begin(tix_db *db, tix_arena *a, const tix_idem_key *k,
                                    tix_idem_seen *seen);
TIX_MUSTCHECK tix_rc tix_idem_finish(tix_db *db, const tix_idem_key *k, int status,
                                     const char *response);
TIX_MUSTCHECK tix_rc tix_idem_forget(tix_db *db, const tix_idem_key *k);

/* In the work's own transaction (booking/booking.h tix_idem_tx): the claim statement inserts
 * the key with status 0 and fails with TIX_ECONFLICT when the key exists (on PostgreSQL it
 * first waits for a transaction that inserted the same key to end, so concurrent duplicates
 * are decided by the unique key); the answer statement writes the answer into the claimed row,
 * with the commit. The row commits only with its answer: never seen "in progress". Params in
 * a; k must outlive the statements. */
void tix_idem_claim_stmt(tix_arena *a, const tix_idem_key *k, tix_db_stmt *st);
void tix_idem_answer_stmt(tix_arena *a, const tix_idem_key *k, int status, const char *response,
                          tix_db_stmt *st);
/* What the key holds: TIX_OK and *seen, TIX_ENOTFOUND when it has none (an expired key or an
 * abandoned claim is deleted here and is none). */
TIX_MUSTCHECK tix_rc tix_idem_lookup(tix_db *db, tix_arena *a, const tix_idem_key *k,
                                     tix_idem_seen *seen);
/* Stores an answer given without the work's transaction (a refusal: nothing was written), on
 * its own: TIX_OK; TIX_ECONFLICT when the key holds something already (*seen says what). */
TIX_MUSTCHECK tix_rc tix_idem_store(tix_db *db, tix_arena *a, const tix_idem_key *k, int status,
                                    const char *response, tix_idem_seen *seen);

#endif
