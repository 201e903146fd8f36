/* Admin user management: GET /admin/users and PATCH /admin/users/{id}. */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
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
    const char *next = n > limit ? tix_req_cursor_encode(r, users[limit - 1].id) : NULL;
    tix_reply_json(r, 200, json_pack("{s:o,s:s?}", "items", items, "next_cursor", next));
}

/* Whether changing target to role would leave no admin. */
static tix_rc guard_last_admin(tix_db *db, const tix_user *target, tix_role role)
{
    if (target->role != TIX_ROLE_ADMIN || role == TIX_ROLE_ADMIN) {
        return TIX_OK;
    }
    int64_t admins = 0;
    tix_rc rc = tix_user_count_role(db, TIX_ROLE_ADMIN, &admins);
    if (rc != TIX_OK) {
        return rc;
    }
    return admins <= 1 ? TIX_ECONFLICT : TIX_OK;
}

void tix_api_admin_update_user(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *role_s = NULL;
    tix_role role;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "role", true, 1, 16, &role_s, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (!tix_role_parse(role_s, &role)) {
        tix_v_fail(&e, "role", "must be admin, owner or user");
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_user u;
    memset(&u, 0, sizeof(u));
    tix_rc rc = tix_db_begin(db);
    rc = rc ? rc : tix_user_lock_admins(db);
    if (rc == TIX_OK) {
        rc = tix_user_by_id(db, tix_req_param(r, "id"), &u);
    }
    if (rc == TIX_OK) {
        rc = guard_last_admin(db, &u, role);
    }
    if (rc == TIX_OK && u.role != role) {
        u.role = role;
        u.updated_at = tix_now_ms();
        rc = tix_user_set_role(db, u.id, role, u.updated_at);
    }
    if (rc == TIX_OK) {
        rc = tix_db_commit(db);
    }
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "last_admin", "the only admin cannot give up the admin role", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_user(&u));
}
