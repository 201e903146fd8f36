/*
 * SQL for the payment side: webhook events (recorded before they are applied), refunds as
 * admins and webhooks see them, and the bookings reconciliation looks at. Strings in returned
 * structs live in the caller's arena. Callers own transactions; every function here is one
 * statement, safe outside a transaction, unless its comment says otherwise.
 */
#ifndef TIX_STORE_PAYMENTS_H
#define TIX_STORE_PAYMENTS_H

#include "core/arena.h"
#include "store/booking.h"
#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Records a delivery of event_id (or counts one more delivery of a known id), durably.
 * OUT: *processed whether an earlier delivery was already applied (then do nothing). */
TIX_MUSTCHECK tix_rc tix_webhook_record(tix_db *db, const char *event_id, const char *provider,
                                        const char *type, const char *payload, int64_t now,
                                        bool *processed);
/* Marks an event applied, with what applying it did. */
TIX_MUSTCHECK tix_rc tix_webhook_finish(tix_db *db, const char *event_id, const char *outcome,
                                        int64_t now);

/* A refund with its bookkeeping, for admins. */
typedef struct tix_refund_row {
    tix_refund r;
    char *currency; /* the booking's */
    int attempts;   /* provider calls so far, over all attempts */
    int64_t created_at;
    int64_t updated_at;
    char *idem_key;       /* the current attempt's idempotency key */
    int attempt_n;        /* the current attempt's number (1, 2, ...) */
    char *attempt_status; /* the current attempt's status; "error" when it has no row */
} tix_refund_row;

/* One attempt of a refund: one idempotency key and what the provider did with it. */
typedef struct tix_refund_attempt {
    int n;
    char *idem_key;
    char *status; /* pending | processed | failed (by the provider) | error (no refund back) */
    char *provider_refund_id;
    int calls;
    char *detail;
    int64_t created_at;
    int64_t updated_at;
} tix_refund_attempt;

TIX_MUSTCHECK tix_rc tix_refund_get(tix_db *db, tix_arena *a, const char *id, tix_refund_row *out);
/* The refund a provider event names: by the provider's refund id, else by the idempotency key
 * ticketd put in the refund's notes (refund_id), first among attempts, then among refunds (from
 * before attempts). OUT: *key, the attempt's idempotency key (arena). TIX_ENOTFOUND when
 * nothing matches. */
TIX_MUSTCHECK tix_rc tix_refund_find(tix_db *db, tix_arena *a, const char *provider_refund_id,
                                     const char *our_key, tix_refund_row *out, char **key);
/* Provider news about attempt `key` of refund id (a webhook, or the refund poll job; source
 * says which, for the attempt's detail): the attempt takes status (never leaving processed)
 * and, while it is the refund's current attempt, so does the refund. A processed refund never
 * changes again: TIX_ECONFLICT then. Two statements: run in a transaction. */
TIX_MUSTCHECK tix_rc tix_refund_mark(tix_db *db, const char *id, const char *key,
                                     const char *status, const char *provider_refund_id,
                                     const char *source, int64_t now);

/* What one provider call with idempotency key `key` came back with. */
typedef struct tix_refund_answer {
    const char *key;
    const char *attempt_status;     /* pending | processed | failed | error */
    const char *provider_refund_id; /* or NULL */
    const char *detail;             /* a word for admins, or NULL */
} tix_refund_answer;

/* Records a provider call: its attempt row (created when missing, for refunds from before
 * attempts; a processed one stays processed), the refund's call count and, while key is still
 * the current attempt's, the refund's status (failed for failed and error) and provider id. A
 * processed refund stays processed. TIX_ENOTFOUND when there is no such refund. Run in a
 * transaction. */
TIX_MUSTCHECK tix_rc tix_refund_settle(tix_db *db, const char *id, const tix_refund_answer *ans,
                                       int64_t now);
/* Starts attempt n of refund id under new_key, if from_key is still the current attempt's and
 * the refund is failed: the refund becomes pending with no provider id. TIX_ECONFLICT when it
 * moved on meanwhile (someone else started the attempt, or it was processed). Run in a
 * transaction. */
TIX_MUSTCHECK tix_rc tix_refund_attempt_begin(tix_db *db, const char *id, const char *from_key,
                                              const char *new_key, int n, int64_t now);
/* The attempts of a refund, oldest first (arena). */
TIX_MUSTCHECK tix_rc tix_refund_attempts(tix_db *db, tix_arena *a, const char *id,
                                         tix_refund_attempt **items, int *n);
/* Refunds newest first, with status when not NULL, before cursor id `before` when not NULL;
 * at most limit + 1 rows (the extra one tells there is a next page). */
TIX_MUSTCHECK tix_rc tix_refund_page(tix_db *db, tix_arena *a, const char *status,
                                     const char *before, int limit, tix_refund_row **items, int *n);

/* A refund the provider holds as pending: what asking it about the refund takes. */
typedef struct tix_refund_at_provider {
    char *id;
    char *payment_id;
    char *provider_refund_id;
    char *idem_key; /* the current attempt's */
} tix_refund_at_provider;

/* Refunds of bookings made through provider that are pending with a provider refund id, last
 * changed at or before `before` and never asked about by the poll job, or last asked at or
 * before `before`: least recently asked first, then oldest, at most limit. OUT: *items
 * (arena), *n. */
TIX_MUSTCHECK tix_rc tix_refunds_pending_at_provider(tix_db *db, tix_arena *a, const char *provider,
                                                     int64_t before, int limit,
                                                     tix_refund_at_provider **items, int *n);
/* Records that the poll job asked the provider about refund id at now. */
TIX_MUSTCHECK tix_rc tix_refund_checked(tix_db *db, const char *id, int64_t now);

/* A booking that may have been paid without our hearing of it. */
typedef struct tix_unsettled {
    char *booking_id;
    char *order_id;
    int64_t amount;
} tix_unsettled;

/* Bookings made through provider, created at or after since, with an order and still
 * pending_payment, expired or failed: oldest first, at most limit. */
TIX_MUSTCHECK tix_rc tix_booking_unsettled(tix_db *db, tix_arena *a, const char *provider,
                                           int64_t since, int limit, tix_unsettled **items, int *n);

#endif
