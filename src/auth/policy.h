/*
 * Roles and the access rules every handler reuses (pure). Route-level checks come from the
 * route table (tix_access); object-level checks are the two calls below, so the "404 for what
 * you may not see, 403 for what you may see but not change" rule is written once. The words
 * (roles, principal, access levels) are core/roles.h.
 */
#ifndef TIX_AUTH_POLICY_H
#define TIX_AUTH_POLICY_H

#include "core/rc.h"
#include "core/roles.h"

#include <stdbool.h>

/* Whether p may call a route that requires `need`. An anonymous caller fails anything but
 * public (→ 401); a signed-in caller with too small a role fails (→ 403). */
bool tix_policy_route_allows(tix_access need, const tix_principal *p);

/* An object owned by owner_id that only its owner (and admins) may see: TIX_OK or
 * TIX_ENOTFOUND (hide it). */
TIX_MUSTCHECK tix_rc tix_policy_can_view(const tix_principal *p, const char *owner_id);
/* A public object owned by owner_id: TIX_OK if p may change it, TIX_EAUTH for an anonymous
 * caller, else TIX_EFORBIDDEN. */
TIX_MUSTCHECK tix_rc tix_policy_can_modify(const tix_principal *p, const char *owner_id);

/* The door of a theatre owned by owner_id: scanning its tickets, reading its bookings and its
 * shows' check-ins. Its owner, an admin, or a member of its door staff (is_staff: the caller is
 * in theatre_staff for it; a membership, not a role). TIX_OK, TIX_EAUTH for an anonymous
 * caller, else TIX_EFORBIDDEN (the theatre is public: it is seen, its door is not the
 * caller's). Staff may do this and nothing else: every other theatre check stays
 * tix_policy_can_modify. */
TIX_MUSTCHECK tix_rc tix_policy_can_work_door(const tix_principal *p, const char *owner_id,
                                              bool is_staff);

#endif
