/*
 * The door of a theatre: its staff and the check-in of tickets (issue 11; API.md "Tickets at the
 * door"). The handlers in api/ check the shape of a request, call one function here and render
 * what it returns; the SQL is store/door.h's, the access rules auth/policy.h's. Nothing here
 * knows HTTP: a refusal is a tix_rc and a tix_door_refusal naming the rule.
 *
 * Who may do what (written once, here and in auth/policy.h):
 *   - staff are a membership of a user in a theatre (table theatre_staff), not a role: any
 *     account can be door staff of any number of theatres. The theatre's owner and admins add,
 *     list and remove them (tix_policy_can_modify: 404 no theatre, 403 not yours).
 *   - the door (scan a ticket, read the theatre's bookings, read a show's check-ins) is the
 *     owner's, an admin's and its staff's (tix_door_theatre: tix_policy_can_work_door). Staff
 *     may do nothing else: every other theatre, hall and show write keeps its owner check.
 *
 * A check-in, in this order (the first rule that fails answers):
 *   1. the ticket exists (by its code, or by the id a verified signed token carries), else
 *      TIX_ENOTFOUND;
 *   2. it is a ticket of this theatre, else TIX_EINVAL "wrong_theatre";
 *   3. the ticket is valid and its booking confirmed, else TIX_ECONFLICT "ticket_void" (a
 *      cancelled or refunded booking);
 *   4. now is within the show's check-in window [starts_at - CHECKIN_WINDOW_BEFORE, ends_at +
 *      CHECKIN_WINDOW_AFTER] and the show is not cancelled, else TIX_EINVAL "wrong_show";
 *   5. it was not admitted before, else TIX_ECONFLICT "already_checked_in" with the first
 *      admission's time. Rules 3 and 5 are decided again by the insert itself (one conditional
 *      statement, store/door.h): two scanners racing on one ticket, on any servers, get exactly
 *      one admission, and a cancellation that commits between the read and the insert is
 *      still refused as void. The insert runs under the booking's row lock, which
 *      tix_booking_cancel also takes before it refuses a booking with an admitted ticket
 *      (409 "already_checked_in"): a scan and a cancellation never both succeed.
 * Every admission records who scanned it (the check-in row's scanned_by) and how.
 *
 * Memory: every string these functions return lives in ctx->a (the request's arena).
 */
#ifndef TIX_BOOKING_DOOR_H
#define TIX_BOOKING_DOOR_H

#include "booking/ticket_token.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/roles.h"
#include "store/catalog.h"
#include "store/door.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tix_door_ctx {
    tix_db *db;
    tix_arena *a;
    const tix_config *cfg;
    const tix_principal *who; /* the caller */
} tix_door_ctx;

/* Why a call refused, beside its tix_rc: why is a static rule name ("already_checked_in",
 * "ticket_void", "wrong_theatre", "wrong_show", "unknown_user", "already_staff") or NULL;
 * first_at is the first admission's time for "already_checked_in"; ticket (when why is set
 * by a check-in) the ticket that was scanned. */
typedef struct tix_door_refusal {
    const char *why;
    int64_t first_at;
    tix_door_ticket ticket;
} tix_door_refusal;

/* ---- access ---- */

/* Loads theatre id if the caller may work its door. OUT: *out. TIX_ENOTFOUND / TIX_EAUTH /
 * TIX_EFORBIDDEN. */
TIX_MUSTCHECK tix_rc tix_door_theatre(tix_door_ctx *c, const char *id, tix_theatre *out);
/* Loads show id if the caller may work its theatre's door. OUT: *out. */
TIX_MUSTCHECK tix_rc tix_door_show(tix_door_ctx *c, const char *id, tix_show *out);

/* ---- staff (owner or admin of the theatre) ---- */

/* Makes the account with e-mail `email` (normalised by the caller) door staff of theatre
 * theatre_id. TIX_EINVAL "unknown_user" when there is no such (live) account;
 * TIX_ECONFLICT "already_staff". OUT: *out, the new member. */
TIX_MUSTCHECK tix_rc tix_door_staff_add(tix_door_ctx *c, const char *theatre_id, const char *email,
                                        tix_staff_row *out, tix_door_refusal *why);
/* The staff of theatre_id, a page of at most limit after `after` (limit + 1 rows). */
TIX_MUSTCHECK tix_rc tix_door_staff_list(tix_door_ctx *c, const char *theatre_id, const char *after,
                                         int limit, tix_staff_row **items, int *n);
/* Ends user_id's membership; TIX_ENOTFOUND when it is not staff of the theatre. */
TIX_MUSTCHECK tix_rc tix_door_staff_remove(tix_door_ctx *c, const char *theatre_id,
                                           const char *user_id);

/* ---- check-in ---- */

/* What a scanner sent: a ticket's code, or the ticket id of a signed token that verified
 * (method "token", made by tix_door_scan_token). */
typedef struct tix_door_scan {
    const char *code;      /* or NULL */
    const char *ticket_id; /* when code is NULL */
    const char *show_id;   /* a token's show: must be the ticket's (else TIX_ENOTFOUND); or NULL */
    const char *method;    /* "code" | "token" */
} tix_door_scan;

/* Reads a signed ticket token (booking/ticket_token.h) into a scan: verified with kr's public
 * keys, offline. OUT: *claims, and *scan pointing into it (ticket id, show id, "token").
 * TIX_EAUTH when it does not verify (forged, malformed, unknown kid); TIX_EUNAVAIL when kr is
 * NULL (this server has no ticket key). */
TIX_MUSTCHECK tix_rc tix_door_scan_token(const tix_ticket_keyring *kr, const char *token,
                                         tix_ticket_claims *claims, tix_door_scan *scan);

typedef struct tix_admission {
    tix_door_ticket ticket;
    int64_t checked_in_at;
} tix_admission;

/* Checks in the scanned ticket at theatre_id's door (see the rules above). OUT: *out. */
TIX_MUSTCHECK tix_rc tix_door_check_in(tix_door_ctx *c, const char *theatre_id,
                                       const tix_door_scan *scan, int64_t now, tix_admission *out,
                                       tix_door_refusal *why);

#endif
