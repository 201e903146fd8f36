/*
 * What a provider may tell us about a booking besides a capture (a capture goes through
 * tix_booking_paid, the one confirmation path): a failed payment attempt. Separate from
 * booking.h so the payment side can grow without touching the booking core.
 */
#ifndef TIX_BOOKING_PAYMENT_EVENTS_H
#define TIX_BOOKING_PAYMENT_EVENTS_H

#include "booking/booking.h"

/* A payment attempt for booking_id failed at the provider: a pending booking becomes failed
 * (its seats stay held until the hold expires, so a later capture of the same order can still
 * confirm it). TIX_ECONFLICT when the state machine refuses (already confirmed, refunded or
 * failed): a stale or repeated event, to be ignored. TIX_ENOTFOUND for no such booking. */
TIX_MUSTCHECK tix_rc tix_booking_payment_failed(tix_booking_ctx *c, const char *booking_id,
                                                const char *payment_id);

#endif
