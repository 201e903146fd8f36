/* The door: staff and check-ins; see door.h. */
#include "booking/door.h"

#include "auth/policy.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/booking.h"
#include "store/users.h"

#include <string.h>

static void refusal_clear(tix_door_refusal *why)
{
    memset(why, 0, sizeof(*why));
}

/* Whether the caller may work the door of a theatre owned by owner_id: the owner and admins
 * without a query, staff after one. */
static tix_rc door_allows(tix_door_ctx *c, const char *theatre_id, const char *owner_id)
{
    tix_rc rc = tix_policy_can_work_door(c->who, owner_id, false);
    if (rc != TIX_EFORBIDDEN) {
        return rc;
    }
    bool member = false;
    rc = tix_staff_is_member(c->db, theatre_id, c->who->user_id, &member);
    return rc ? rc : tix_policy_can_work_door(c->who, owner_id, member);
}

/* A refusal of theatre t as 404 when t is not approved (onboarding, catalog.h): who may not
 * work or change it does not see it either. */
static tix_rc hide_unapproved(tix_rc rc, const tix_theatre *t)
{
    bool approved = t->status != NULL && strcmp(t->status, "approved") == 0;
    return rc == TIX_EFORBIDDEN && !approved ? TIX_ENOTFOUND : rc;
}

tix_rc tix_door_theatre(tix_door_ctx *c, const char *id, tix_theatre *out)
{
    tix_rc rc = tix_theatre_get(c->db, c->a, id, out);
    return rc ? rc : hide_unapproved(door_allows(c, out->id, out->owner_id), out);
}

tix_rc tix_door_show(tix_door_ctx *c, const char *id, tix_show *out)
{
    tix_rc rc = tix_show_get(c->db, c->a, id, out);
    return rc ? rc : door_allows(c, out->theatre_id, out->owner_id);
}

/* ---- staff ---- */

/* Loads theatre id if the caller may change it (its owner, an admin). */
static tix_rc own_theatre(tix_door_ctx *c, const char *id, tix_theatre *t)
{
    tix_rc rc = tix_theatre_get(c->db, c->a, id, t);
    return rc ? rc : hide_unapproved(tix_policy_can_modify(c->who, t->owner_id), t);
}

tix_rc tix_door_staff_add(tix_door_ctx *c, const char *theatre_id, const char *email,
                          tix_staff_row *out, tix_door_refusal *why)
{
    refusal_clear(why);
    tix_theatre t;
    tix_rc rc = own_theatre(c, theatre_id, &t);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_user u;
    rc = tix_user_by_email(c->db, email, &u);
    if (rc == TIX_ENOTFOUND || (rc == TIX_OK && (u.deleted_at != 0 || u.disabled_at != 0))) {
        why->why = "unknown_user";
        return TIX_EINVAL;
    }
    int64_t now = tix_now_ms();
    rc = rc ? rc : tix_staff_insert(c->db, t.id, u.id, c->who->user_id, now);
    if (rc == TIX_ECONFLICT) {
        why->why = "already_staff";
        return rc;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    *out = (tix_staff_row){.user_id = tix_arena_strdup(c->a, u.id),
                           .email = tix_arena_strdup(c->a, u.email),
                           .name = tix_arena_strdup(c->a, u.name),
                           .added_by = tix_arena_strdup(c->a, c->who->user_id),
                           .created_at = now};
    return TIX_OK;
}

tix_rc tix_door_staff_list(tix_door_ctx *c, const char *theatre_id, const char *after, int limit,
                           tix_staff_row **items, int *n)
{
    tix_theatre t;
    tix_rc rc = own_theatre(c, theatre_id, &t);
    return rc ? rc : tix_staff_list(c->db, c->a, t.id, after, limit, items, n);
}

tix_rc tix_door_staff_remove(tix_door_ctx *c, const char *theatre_id, const char *user_id)
{
    tix_theatre t;
    tix_rc rc = own_theatre(c, theatre_id, &t);
    return rc ? rc : tix_staff_delete(c->db, t.id, user_id);
}

/* ---- check-in ---- */

tix_rc tix_door_scan_token(const tix_ticket_keyring *kr, const char *token,
                           tix_ticket_claims *claims, tix_door_scan *scan)
{
    if (kr == NULL) {
        return TIX_EUNAVAIL;
    }
    tix_rc rc = tix_ticket_token_verify(kr, token, claims);
    if (rc != TIX_OK) {
        return TIX_EAUTH;
    }
    *scan = (tix_door_scan){.ticket_id = claims->tid, .show_id = claims->sid, .method = "token"};
    return TIX_OK;
}

tix_rc tix_door_check_in(tix_door_ctx *c, const char *theatre_id, const tix_door_scan *scan,
                         int64_t now, tix_admission *out, tix_door_refusal *why)
{
    refusal_clear(why);
    tix_theatre t;
    tix_rc rc = tix_door_theatre(c, theatre_id, &t);
    tix_door_ticket tk;
    rc = rc ? rc : tix_door_ticket_get(c->db, c->a, scan->code, scan->ticket_id, &tk);
    if (rc == TIX_OK && scan->show_id != NULL && strcmp(scan->show_id, tk.show_id) != 0) {
        rc = TIX_ENOTFOUND; /* a token signed for another show than its ticket's: no such ticket */
    }
    if (rc != TIX_OK) {
        return rc;
    }
    why->ticket = tk;
    if (strcmp(tk.theatre_id, t.id) != 0) {
        why->why = "wrong_theatre";
        return TIX_EINVAL;
    }
    if (!tk.valid || strcmp(tk.booking_status, "confirmed") != 0) {
        why->why = "ticket_void";
        return TIX_ECONFLICT;
    }
    int64_t opens = tk.starts_at - c->cfg->checkin_before_s * 1000;
    int64_t closes = tk.ends_at + c->cfg->checkin_after_s * 1000;
    if (strcmp(tk.show_status, "cancelled") == 0 || now < opens || now > closes) {
        why->why = "wrong_show";
        return TIX_EINVAL;
    }
    tix_checkin_req q = {
        .ticket_id = tk.id, .scanned_by = c->who->user_id, .method = scan->method, .now = now};
    bool admitted = false;
    int64_t at = 0;
    /* Under the booking's row lock, the one a cancellation holds while it looks for check-ins
     * (booking/bookings.c): the two are serialised, so a refunded booking never has an
     * admitted ticket. */
    rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, tk.booking_id);
    rc = rc ? rc : tix_checkin_insert(c->db, &q, &admitted, &at);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    tix_metrics_add(TIX_M_CHECKINS,
                    admitted ? "admitted" : (at != 0 ? "already_checked_in" : "ticket_void"), 1);
    if (!admitted) {
        why->why = at != 0 ? "already_checked_in" : "ticket_void";
        why->first_at = at;
        return TIX_ECONFLICT;
    }
    out->ticket = tk;
    out->checked_in_at = at;
    return TIX_OK;
}
