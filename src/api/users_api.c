/* Admin user management: GET /admin/users and PATCH /admin/users/{id}. */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/session.h"
#include "core/util.h"

#include <string.h>

void tix_api_admin_list_users(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    const char *role = tix_req_query(r, "role");
    tix_role parsed;
    if (!tix_req_page(r, &limit, &cursor)) {
        return;
    }
    if (role != NULL && !tix_role_parse(role, &parsed)) {
        tix_reply_error(r, 400, "invalid_parameter", "role must be admin, owner or user",
                        json_pack("{s:s}", "parameter", "role"));
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_user *users = NULL;
    int n = 0;
    tix_rc rc = tix_user_list(db, r->arena, role, cursor, limit, &users, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(items, tix_view_user(&users[i]));
    }
    tix_reply_page(r, items, n > limit ? users[limit - 1].id : NULL);
}

/* Reads {role?, disabled?} (at least one); answers and returns false on a bad body. */
static bool read_user_patch(tix_req *r, json_t *body, bool *has_role, tix_role *role,
                            bool *has_disabled, bool *disabled)
{
    const char *role_s = NULL;
    tix_verr e;
    if (!tix_v_string(body, "role", false, 1, 16, &role_s, &e) ||
        !tix_v_bool(body, "disabled", false, disabled, has_disabled, &e)) {
        tix_reply_verr(r, &e);
        return false;
    }
    *has_role = role_s != NULL;
    if (role_s != NULL && !tix_role_parse(role_s, role)) {
        tix_v_fail(&e, "role", "must be admin, owner or user");
        tix_reply_verr(r, &e);
        return false;
    }
    if (!*has_role && !*has_disabled) {
        tix_v_fail(&e, "role", "is required unless disabled is given");
        tix_reply_verr(r, &e);
        return false;
    }
    return true;
}

/* PATCH /admin/users/{id} {role?, disabled?}: a role change and disabling end the user's
 * access tokens on the next request of every server (auth/revocation.h). */
void tix_api_admin_update_user(tix_req *r)
{
    json_t *body = tix_req_json(r);
    bool has_role = false;
    bool has_disabled = false;
    bool disabled = false;
    tix_role role = TIX_ROLE_USER;
    if (body == NULL || !read_user_patch(r, body, &has_role, &role, &has_disabled, &disabled)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_account_patch patch = {has_role, role, has_disabled, disabled};
    tix_user u;
    tix_rc rc = tix_account_update(db, r->app->cache, r->arena, tix_req_param(r, "id"), &patch, &u);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "last_admin", "the only enabled admin cannot stop being one", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_user(&u));
}
