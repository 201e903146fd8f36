/* Roles and access rules; see policy.h. */
#include "auth/policy.h"

#include <string.h>

bool tix_policy_route_allows(tix_access need, const tix_principal *p)
{
    switch (need) {
    case TIX_ACCESS_PUBLIC:
        return true;
    case TIX_ACCESS_USER:
        return p->authenticated;
    case TIX_ACCESS_OWNER:
        return p->authenticated && p->role >= TIX_ROLE_OWNER;
    case TIX_ACCESS_ADMIN:
        return p->authenticated && p->role == TIX_ROLE_ADMIN;
    }
    return false;
}

static bool owns(const tix_principal *p, const char *owner_id)
{
    return p->authenticated &&
           (p->role == TIX_ROLE_ADMIN || (owner_id != NULL && strcmp(p->user_id, owner_id) == 0));
}

tix_rc tix_policy_can_view(const tix_principal *p, const char *owner_id)
{
    return owns(p, owner_id) ? TIX_OK : TIX_ENOTFOUND;
}

tix_rc tix_policy_can_modify(const tix_principal *p, const char *owner_id)
{
    if (!p->authenticated) {
        return TIX_EAUTH;
    }
    return owns(p, owner_id) ? TIX_OK : TIX_EFORBIDDEN;
}

tix_rc tix_policy_can_work_door(const tix_principal *p, const char *owner_id, bool is_staff)
{
    if (!p->authenticated) {
        return TIX_EAUTH;
    }
    return owns(p, owner_id) || is_staff ? TIX_OK : TIX_EFORBIDDEN;
}
