/*
 * The booking state machine, written once (pure). Every change of a booking's status goes
 * through tix_booking_next; what it refuses never happens, so out-of-order payment events can
 * never move a booking backwards.
 *
 *   pending_payment --paid--------------> confirmed --cancel/show cancelled--> cancelled_refunded
 *        |   \--paid, seats gone-------> expired_refunded
 *        |----payment failed-----------> failed  --paid--> confirmed | expired_refunded
 *        |----hold expired/show cancelled-> expired --paid--> confirmed | expired_refunded
 */
#ifndef TIX_BOOKING_STATE_H
#define TIX_BOOKING_STATE_H

#include "core/model.h" /* tix_booking_status and its names */

#include <stdbool.h>

typedef enum tix_booking_event {
    TIX_EV_PAID,            /* a captured payment, and the seats are still ours */
    TIX_EV_PAID_SEATS_GONE, /* a captured payment, but the seats went to someone else */
    TIX_EV_PAYMENT_FAILED,
    TIX_EV_HOLD_EXPIRED,
    TIX_EV_USER_CANCEL,
    TIX_EV_SHOW_CANCELLED,
    TIX_EV_COUNT,
} tix_booking_event;

/* The status after ev, or false when ev is not allowed in from (the caller answers 409, or
 * ignores a stale provider event). A repeated PAID on a confirmed booking is allowed and keeps
 * it confirmed (idempotent confirmation). */
bool tix_booking_next(tix_booking_status from, tix_booking_event ev, tix_booking_status *to);
const char *tix_booking_event_name(tix_booking_event ev);

#endif
