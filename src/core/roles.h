/*
 * Who is calling, in words every layer shares (pure). Roles are ordered: admin ⊇ owner ⊇ user.
 * A tix_principal is what the server learnt from a verified access token (http/ fills it in,
 * auth/policy.h judges it, store/users.h stores a role); a tix_access is what a route of the
 * route table requires (http/router.h). They live here, at the bottom, so the store, the domain
 * and the server can all name them without including one another.
 */
#ifndef TIX_CORE_ROLES_H
#define TIX_CORE_ROLES_H

#include "core/i18n.h"
#include "core/util.h"

#include <stdbool.h>

typedef enum tix_role { TIX_ROLE_USER = 0, TIX_ROLE_OWNER = 1, TIX_ROLE_ADMIN = 2 } tix_role;

/* Who may call a route. */
typedef enum tix_access {
    TIX_ACCESS_PUBLIC, /* no token needed */
    TIX_ACCESS_USER,   /* any signed-in role */
    TIX_ACCESS_OWNER,  /* owner or admin */
    TIX_ACCESS_ADMIN,  /* admin only */
} tix_access;

typedef struct tix_principal {
    bool authenticated;
    tix_role role;
    char user_id[TIX_ID_MAX];
    char session_id[TIX_ID_MAX]; /* the refresh-token family of this login */
    char locale[TIX_LOCALE_MAX]; /* the user's saved locale, read with the session check
                                  * (auth/revocation.h); "" = none saved */
} tix_principal;

/* "user" | "owner" | "admin" (static text; "user" for a value out of range). */
const char *tix_role_name(tix_role role);
/* Parses "admin" | "owner" | "user"; false otherwise (*out untouched). */
bool tix_role_parse(const char *s, tix_role *out);

#endif
