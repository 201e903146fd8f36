/* Role names; see roles.h. */
#include "core/roles.h"

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
