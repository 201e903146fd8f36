/* SQL for users and refresh tokens; see users.h. */
#include "store/users.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define USER_COLS                                                                                  \
    "id, email, name, role, password_hash, created_at, updated_at, token_epoch, disabled_at,"      \
    " deleted_at, locale"

static void copy_cell(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static void read_user(const tix_db_res *res, int row, tix_user *u)
{
    assert(u != NULL);
    copy_cell(u->id, sizeof(u->id), tix_db_res_text(res, row, 0));
    copy_cell(u->email, sizeof(u->email), tix_db_res_text(res, row, 1));
    copy_cell(u->name, sizeof(u->name), tix_db_res_text(res, row, 2));
    if (!tix_role_parse(tix_db_res_text(res, row, 3), &u->role)) {
        u->role = TIX_ROLE_USER;
    }
    copy_cell(u->password_hash, sizeof(u->password_hash), tix_db_res_text(res, row, 4));
    u->created_at = tix_db_res_int(res, row, 5);
    u->updated_at = tix_db_res_int(res, row, 6);
    u->token_epoch = tix_db_res_int(res, row, 7);
    u->disabled_at = tix_db_res_int(res, row, 8);
    u->deleted_at = tix_db_res_int(res, row, 9);
    copy_cell(u->locale, sizeof(u->locale), tix_db_res_text(res, row, 10));
}

/* For lists: every column is read by read_user (fixed-size fields, the role parsed). */
static void map_user(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    read_user(res, row, item);
}
static const tix_db_map user_map = {sizeof(tix_user), NULL, 0, map_user};

tix_rc tix_user_insert(tix_db *db, const tix_user *u)
{
    tix_dbv p[] = {TIX_DB_TEXT(u->id),
                   TIX_DB_TEXT(u->email),
                   TIX_DB_TEXT(u->name),
                   TIX_DB_TEXT(tix_role_name(u->role)),
                   TIX_DB_TEXT(u->password_hash),
                   TIX_DB_INT(u->created_at)};
    return tix_db_exec(db,
                       "INSERT INTO users (id, email, name, role, password_hash, created_at,"
                       " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                       p, 6, NULL);
}

static tix_rc one_user(tix_db *db, const char *sql, const char *arg, tix_user *out)
{
    tix_db_res *res = NULL;
    tix_dbv p = TIX_DB_TEXT(arg);
    tix_rc rc = tix_db_exec(db, sql, &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        read_user(res, 0, out);
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_user_by_id(tix_db *db, const char *id, tix_user *out)
{
    return one_user(db, "SELECT " USER_COLS " FROM users WHERE id = $1", id, out);
}

tix_rc tix_user_by_email(tix_db *db, const char *email, tix_user *out)
{
    return one_user(db, "SELECT " USER_COLS " FROM users WHERE email = $1", email, out);
}

static tix_rc one_locale(tix_db *db, const char *sql, const char *arg, char *out, size_t cap)
{
    tix_db_res *res = NULL;
    tix_dbv p = TIX_DB_TEXT(arg);
    tix_rc rc = tix_db_exec(db, sql, &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        copy_cell(out, cap, tix_db_res_text(res, 0, 0));
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_user_locale_by_email(tix_db *db, const char *email, char *out, size_t cap)
{
    return one_locale(db, "SELECT locale FROM users WHERE email = $1", email, out, cap);
}

tix_rc tix_user_set_profile(tix_db *db, const char *id, const char *name, const char *locale,
                            int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now), name ? TIX_DB_TEXT(name) : TIX_DB_NULL,
                   locale ? TIX_DB_TEXT(locale) : TIX_DB_NULL};
    return tix_db_exec_one(db,
                           "UPDATE users SET updated_at = $2, name = COALESCE($3, name),"
                           " locale = COALESCE($4, locale) WHERE id = $1 AND deleted_at IS NULL",
                           p, 4, TIX_ENOTFOUND);
}

tix_rc tix_user_set_password(tix_db *db, const char *id, const char *hash, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(hash), TIX_DB_INT(now)};
    return tix_db_exec_one(db, "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_user_set_role(tix_db *db, const char *id, tix_role role, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(tix_role_name(role)), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE users SET role = $2, updated_at = $3,"
                           " token_epoch = token_epoch + 1 WHERE id = $1",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_user_set_disabled(tix_db *db, const char *id, bool disabled, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now), TIX_DB_INT(disabled ? 1 : 0)};
    return tix_db_exec_one(db,
                           "UPDATE users SET updated_at = $2,"
                           " disabled_at = CASE WHEN $3 = 1 THEN $2 ELSE NULL END,"
                           " token_epoch = token_epoch + $3 WHERE id = $1",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_user_anonymise(tix_db *db, const char *id, const char *placeholder_email, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(placeholder_email), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE users SET email = $2, name = '', password_hash = '!',"
                           " updated_at = $3, disabled_at = $3, deleted_at = $3,"
                           " token_epoch = token_epoch + 1 WHERE id = $1 AND deleted_at IS NULL",
                           p, 3, TIX_ENOTFOUND);
}

tix_rc tix_user_auth_state(tix_db *db, const char *user_id, const char *session_id,
                           tix_auth_state *out)
{
    tix_dbv p[] = {TIX_DB_TEXT(user_id), TIX_DB_TEXT(session_id)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT u.token_epoch, u.disabled_at,"
                            " (SELECT COUNT(*) FROM (SELECT 1 FROM refresh_tokens t"
                            "   WHERE t.family_id = $2 AND t.user_id = $1"
                            "   AND t.revoked_at IS NULL LIMIT 1) AS live),"
                            " u.locale"
                            " FROM users u WHERE u.id = $1",
                            p, 2, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        out->epoch = tix_db_res_int(res, 0, 0);
        out->disabled = tix_db_res_int(res, 0, 1) != 0;
        out->session_live = tix_db_res_int(res, 0, 2) > 0;
        copy_cell(out->locale, sizeof(out->locale), tix_db_res_text(res, 0, 3));
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_user_lock_admins(tix_db *db)
{
    return tix_db_exec(db, "UPDATE users SET updated_at = updated_at WHERE role = 'admin'", NULL, 0,
                       NULL);
}

tix_rc tix_user_count_role(tix_db *db, tix_role role, int64_t *out)
{
    tix_db_res *res = NULL;
    tix_dbv p = TIX_DB_TEXT(tix_role_name(role));
    tix_rc rc = tix_db_exec(
        db, "SELECT COUNT(*) FROM users WHERE role = $1 AND disabled_at IS NULL", &p, 1, &res);
    if (rc == TIX_OK) {
        *out = tix_db_res_int(res, 0, 0);
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_user_list(tix_db *db, tix_arena *a, const char *role, const char *after, int limit,
                     tix_user **items, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(role), TIX_DB_TEXT(after), TIX_DB_INT(limit + 1)};
    return TIX_DB_LIST(db, a,
                       "SELECT " USER_COLS " FROM users"
                       " WHERE (CAST($1 AS TEXT) IS NULL OR role = $1)"
                       " AND (CAST($2 AS TEXT) IS NULL OR id > $2)"
                       " ORDER BY id LIMIT $3",
                       p, 3, &user_map, items, n);
}

tix_rc tix_refresh_insert(tix_db *db, const char *id, const char *user_id, const char *family_id,
                          const char *token_hash, int64_t now, int64_t expires_at)
{
    tix_dbv p[] = {TIX_DB_TEXT(id),         TIX_DB_TEXT(user_id), TIX_DB_TEXT(family_id),
                   TIX_DB_TEXT(token_hash), TIX_DB_INT(now),      TIX_DB_INT(expires_at)};
    return tix_db_exec(db,
                       "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash,"
                       " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                       p, 6, NULL);
}

tix_rc tix_refresh_find(tix_db *db, const char *token_hash, tix_refresh_row *out)
{
    tix_db_res *res = NULL;
    tix_dbv p = TIX_DB_TEXT(token_hash);
    tix_rc rc = tix_db_exec(db,
                            "SELECT id, user_id, family_id, expires_at, used_at, revoked_at"
                            " FROM refresh_tokens WHERE token_hash = $1",
                            &p, 1, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK) {
        copy_cell(out->id, sizeof(out->id), tix_db_res_text(res, 0, 0));
        copy_cell(out->user_id, sizeof(out->user_id), tix_db_res_text(res, 0, 1));
        copy_cell(out->family_id, sizeof(out->family_id), tix_db_res_text(res, 0, 2));
        out->expires_at = tix_db_res_int(res, 0, 3);
        out->used_at = tix_db_res_int(res, 0, 4);
        out->revoked_at = tix_db_res_int(res, 0, 5);
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_refresh_mark_used(tix_db *db, const char *id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_INT(now)};
    tix_rc rc = tix_db_exec_one(db,
                                "UPDATE refresh_tokens SET used_at = $2"
                                " WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
                                p, 2, TIX_ENOTFOUND);
    return rc == TIX_ENOTFOUND ? TIX_ECONFLICT : rc;
}

tix_rc tix_refresh_revoke_family(tix_db *db, const char *family_id, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(family_id), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE refresh_tokens SET revoked_at = $2"
                       " WHERE family_id = $1 AND revoked_at IS NULL",
                       p, 2, NULL);
}

tix_rc tix_refresh_revoke_user(tix_db *db, const char *user_id, const char *keep_family,
                               int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(user_id), TIX_DB_TEXT(keep_family), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "UPDATE refresh_tokens SET revoked_at = $3"
                       " WHERE user_id = $1 AND revoked_at IS NULL"
                       " AND (CAST($2 AS TEXT) IS NULL OR family_id <> $2)",
                       p, 3, NULL);
}
