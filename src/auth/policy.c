/* Roles and access rules; see policy.h. */
#include "auth/policy.h"

#include <string.h>

static const char *const role_names[] = {"user", "owner", "admin"};

const char *tix_role_name(tix_role role)
{
    return (unsigned)role < 3 ? role_names[role] : "user";
}

bool tix_role_parse(const char *s, tix_role *out)
{
    for (int i = 0; i < 3; i++) {
        if (s != NULL && strcmp(s, role_names[i]) == 0) {
            *out = (tix_role)i;
            return true;
        }
    }
    return false;
}

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
