/* The booking state machine as one table; see state.h. */
#include "booking/state.h"

#define NONE (-1)

/* next[from][event]: the new status, or NONE. */
static const int next[TIX_BK_STATUS_COUNT][TIX_EV_COUNT] = {
    /*                        PAID              GONE                     FAILED         EXPIRED
                              CANCEL            SHOW_CANCELLED */
    [TIX_BK_PENDING_PAYMENT] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, TIX_BK_FAILED,
                                TIX_BK_EXPIRED, NONE, TIX_BK_EXPIRED},
    [TIX_BK_CONFIRMED] = {TIX_BK_CONFIRMED, NONE, NONE, NONE, TIX_BK_CANCELLED_REFUNDED,
                          TIX_BK_CANCELLED_REFUNDED},
    [TIX_BK_EXPIRED] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, NONE, NONE, NONE, NONE},
    [TIX_BK_FAILED] = {TIX_BK_CONFIRMED, TIX_BK_EXPIRED_REFUNDED, NONE, TIX_BK_FAILED, NONE,
                       TIX_BK_FAILED},
    [TIX_BK_CANCELLED_REFUNDED] = {NONE, NONE, NONE, NONE, NONE, NONE},
    [TIX_BK_EXPIRED_REFUNDED] = {NONE, NONE, NONE, NONE, NONE, NONE},
};

static const char *const event_names[] = {"paid",         "paid_seats_gone", "payment_failed",
                                          "hold_expired", "user_cancel",     "show_cancelled"};

bool tix_booking_next(tix_booking_status from, tix_booking_event ev, tix_booking_status *to)
{
    if ((unsigned)from >= TIX_BK_STATUS_COUNT || (unsigned)ev >= TIX_EV_COUNT ||
        next[from][ev] == NONE) {
        return false;
    }
    *to = (tix_booking_status)next[from][ev];
    return true;
}

const char *tix_booking_event_name(tix_booking_event ev)
{
    return (unsigned)ev < TIX_EV_COUNT ? event_names[ev] : "unknown";
}
