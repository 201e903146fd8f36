/*
 * SQL for the payment side: webhook events (recorded before they are applied), refunds as
 * admins and webhooks see them, and the bookings reconciliation looks at. Strings in returned
 * structs live in the caller's arena. Callers own transactions; every function here is one
 * statement, safe outside a transaction.
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
    int attempts;   /* provider calls so far */
    int64_t created_at;
    int64_t updated_at;
} tix_refund_row;

TIX_MUSTCHECK tix_rc tix_refund_get(tix_db *db, tix_arena *a, const char *id, tix_refund_row *out);
/* The refund a provider event names: by the provider's refund id, else by our own id (sent in
 * the refund's notes). TIX_ENOTFOUND when neither matches. */
TIX_MUSTCHECK tix_rc tix_refund_find(tix_db *db, tix_arena *a, const char *provider_refund_id,
                                     const char *our_id, tix_refund_row *out);
/* Sets a refund's status from a provider event (no provider call counted). A processed refund
 * never changes again: TIX_ECONFLICT then. */
TIX_MUSTCHECK tix_rc tix_refund_mark(tix_db *db, const char *id, const char *status,
                                     const char *provider_refund_id, int64_t now);
/* Refunds newest first, with status when not NULL, before cursor id `before` when not NULL;
 * at most limit + 1 rows (the extra one tells there is a next page). */
TIX_MUSTCHECK tix_rc tix_refund_page(tix_db *db, tix_arena *a, const char *status,
                                     const char *before, int limit, tix_refund_row **items, int *n);

/* A booking that may have been paid without our hearing of it. */
typedef struct tix_unsettled {
    char *booking_id;
    char *order_id;
} tix_unsettled;

/* Bookings made through provider, created at or after since, with an order and still
 * pending_payment, expired or failed: oldest first, at most limit. */
TIX_MUSTCHECK tix_rc tix_booking_unsettled(tix_db *db, tix_arena *a, const char *provider,
                                           int64_t since, int limit, tix_unsettled **items, int *n);

#endif
