/* Names of the shared enums; see model.h. */
#include "core/model.h"

#include <string.h>

static const char *const hold_names[] = {"active", "released", "replaced", "booked"};

static const char *const booking_names[] = {
    "pending_payment", "confirmed", "expired", "failed", "cancelled_refunded", "expired_refunded"};

_Static_assert(sizeof(hold_names) / sizeof(hold_names[0]) == TIX_HOLD_STATUS_COUNT,
               "a name for every hold status");
_Static_assert(sizeof(booking_names) / sizeof(booking_names[0]) == TIX_BK_STATUS_COUNT,
               "a name for every booking status");

/* The index of s in names[0..n), or -1. */
static int find(const char *const *names, int n, const char *s)
{
    for (int i = 0; s != NULL && i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *tix_hold_status_name(tix_hold_status s)
{
    return (unsigned)s < TIX_HOLD_STATUS_COUNT ? hold_names[s] : "unknown";
}

bool tix_hold_status_parse(const char *s, tix_hold_status *out)
{
    int i = find(hold_names, TIX_HOLD_STATUS_COUNT, s);
    if (i < 0) {
        return false;
    }
    *out = (tix_hold_status)i;
    return true;
}

const char *tix_booking_status_name(tix_booking_status s)
{
    return (unsigned)s < TIX_BK_STATUS_COUNT ? booking_names[s] : "unknown";
}

bool tix_booking_status_parse(const char *s, tix_booking_status *out)
{
    int i = find(booking_names, TIX_BK_STATUS_COUNT, s);
    if (i < 0) {
        return false;
    }
    *out = (tix_booking_status)i;
    return true;
}
