/*
 * Theatre onboarding (catalog.h): pending → approved | rejected, rejected → pending.
 *
 * The status lives in the theatre's row and moves only here, by tix_theatre_transition: one
 * UPDATE ... WHERE status = <from>, so the database decides a race (two admins approving and
 * rejecting the same theatre at once, on one server or several): the first UPDATE moves it, the
 * second matches no row and is refused with the status the first left, and nothing of the
 * loser is written. The admin check is the route's (ADMIN) and is made again here, so no other
 * caller of this file can review a theatre without being an admin.
 *
 * A move changes what the public sees (GET /theatres lists approved theatres only), so a
 * committed move bumps the catalogue version (tix_catalog_committed) like every other
 * catalogue write: every server's cached listings are dropped through the bus.
 */
#include "catalog/catalog_int.h"
#include "core/util.h"

#include <string.h>

/* Moves theatre id from `from` to `to`; on a lost race or a wrong starting status
 * TIX_ECONFLICT "invalid_transition" with the status found. OUT: *out after the move. */
static tix_rc move(tix_catalog_ctx *c, const char *id, const char *from, const char *to,
                   const char *reason, tix_theatre *out, tix_catalog_refusal *why)
{
    tix_rc rc = tix_catalog_committed(tix_theatre_transition(
        c->db, id, from, to, reason, c->who->authenticated ? c->who->user_id : NULL, tix_now_ms()));
    if (rc != TIX_OK && rc != TIX_ECONFLICT) {
        return rc;
    }
    tix_rc got = tix_theatre_get(c->db, c->a, id, out);
    if (rc == TIX_ECONFLICT && got == TIX_OK) {
        why->why = "invalid_transition";
        why->status = out->status;
    }
    return rc == TIX_OK ? got : (got == TIX_OK ? rc : got);
}

tix_rc tix_catalog_theatre_review(tix_catalog_ctx *c, const char *id, bool approve,
                                  const char *reason, tix_theatre *out, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    if (!c->who->authenticated) {
        return TIX_EAUTH;
    }
    if (c->who->role != TIX_ROLE_ADMIN) {
        return TIX_EFORBIDDEN;
    }
    return move(c, id, "pending", approve ? "approved" : "rejected", approve ? NULL : reason, out,
                why);
}

tix_rc tix_catalog_theatre_submit(tix_catalog_ctx *c, const char *id, tix_theatre *out,
                                  tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_rc rc = tix_catalog_theatre_for_change(c, id, out);
    return rc ? rc : move(c, id, "rejected", "pending", NULL, out, why);
}
