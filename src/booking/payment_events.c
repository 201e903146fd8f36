/* A failed payment attempt, through the state machine; see payment_events.h. */
#include "booking/payment_events.h"

#include "booking/seat_events.h"
#include "core/util.h"

tix_rc tix_booking_payment_failed(tix_booking_ctx *c, const char *booking_id,
                                  const char *payment_id)
{
    tix_booking b;
    tix_booking_status to = TIX_BK_FAILED;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, booking_id);
    rc = rc ? rc : tix_booking_get(c->db, c->a, booking_id, &b);
    if (rc == TIX_OK && !tix_booking_next(b.status, TIX_EV_PAYMENT_FAILED, &to)) {
        rc = TIX_ECONFLICT;
    }
    /* The failed payment's id goes into the audit trail only: bookings.payment_id names the
     * payment that paid. */
    const char *reason = tix_arena_sprintf(c->a, "%s via webhook (payment %s)",
                                           tix_booking_event_name(TIX_EV_PAYMENT_FAILED),
                                           payment_id && *payment_id ? payment_id : "unknown");
    rc = rc ? rc : tix_booking_transition(c->db, b.id, b.status, to, reason, NULL, tix_now_ms());
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    tix_bookings_changed(b.user_id);
    return TIX_OK;
}
