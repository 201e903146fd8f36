/* Accounts and refresh-token sessions; see session.h. */
#include "auth/session.h"

#include "auth/password.h"
#include "auth/revocation.h"
#include "auth/token.h"
#include "core/log.h"
#include "core/util.h"
#include "store/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tix_session_tokens_cleanup(tix_session_tokens *t)
{
    free(t->access);
    free(t->refresh);
    t->access = NULL;
    t->refresh = NULL;
}

/* Fills a new user's fields and hashes the password (slow: never inside a transaction). */
static tix_rc prepare_user(tix_user *u, const char *email, const char *password, const char *name,
                           tix_role role)
{
    memset(u, 0, sizeof(*u));
    tix_id_new(u->id, "usr");
    snprintf(u->email, sizeof(u->email), "%s", email);
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->role = role;
    u->created_at = u->updated_at = tix_now_ms();
    return tix_password_hash(password, u->password_hash);
}

tix_rc tix_account_create(tix_db *db, const char *email, const char *password, const char *name,
                          tix_role role, tix_user *user)
{
    tix_rc rc = prepare_user(user, email, password, name, role);
    return rc == TIX_OK ? tix_user_insert(db, user) : rc;
}

/* Issues an access/refresh pair for user in family and records the refresh token's hash. */
static tix_rc issue(tix_db *db, const tix_config *cfg, const tix_user *user, const char *family,
                    tix_session_tokens *out)
{
    int64_t now_ms = tix_now_ms();
    int64_t now = now_ms / 1000;
    tix_claims c;
    memset(&c, 0, sizeof(c));
    memcpy(c.sub, user->id, sizeof(c.sub));
    snprintf(c.sid, sizeof(c.sid), "%s", family);
    c.role = user->role;
    c.epoch = user->token_epoch;
    c.iat = c.nbf = now;
    c.exp = now + cfg->access_ttl_s;
    tix_id_new(c.jti, "at");
    memset(out, 0, sizeof(*out));
    tix_rc rc = tix_token_issue(cfg->jwt_access_secret, TIX_TOKEN_ACCESS, &c, &out->access);
    if (rc != TIX_OK) {
        return rc;
    }
    c.exp = now + cfg->refresh_ttl_s;
    tix_id_new(c.jti, "rt");
    rc = tix_token_issue(cfg->jwt_refresh_secret, TIX_TOKEN_REFRESH, &c, &out->refresh);
    if (rc == TIX_OK) {
        char hash[TIX_SHA256_HEX];
        tix_sha256_hex(hash, out->refresh, strlen(out->refresh));
        rc = tix_refresh_insert(db, c.jti, user->id, family, hash, now_ms, c.exp * 1000);
    }
    if (rc != TIX_OK) {
        tix_session_tokens_cleanup(out);
        return rc;
    }
    out->expires_in = cfg->access_ttl_s;
    return TIX_OK;
}

tix_rc tix_session_start(tix_db *db, const tix_config *cfg, const tix_user *user,
                         tix_session_tokens *out)
{
    char family[TIX_ID_MAX];
    tix_id_new(family, "ses");
    return issue(db, cfg, user, family, out);
}

tix_rc tix_account_register(tix_db *db, const tix_config *cfg, const char *email,
                            const char *password, const char *name, tix_user *user,
                            tix_session_tokens *out)
{
    tix_user u;
    tix_rc rc = prepare_user(&u, email, password, name, TIX_ROLE_USER);
    if (rc != TIX_OK || (rc = tix_db_begin(db)) != TIX_OK) {
        return rc;
    }
    rc = tix_user_insert(db, &u);
    if (rc == TIX_OK) {
        rc = tix_session_start(db, cfg, &u, out);
    }
    if (rc == TIX_OK && (rc = tix_db_commit(db)) != TIX_OK) {
        tix_session_tokens_cleanup(out);
    }
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    *user = u;
    return TIX_OK;
}

tix_rc tix_session_login(tix_db *db, const tix_config *cfg, const char *email, const char *password,
                         tix_user *user, tix_session_tokens *out)
{
    tix_rc rc = tix_user_by_email(db, email, user);
    if (rc == TIX_ENOTFOUND) {
        tix_password_verify_dummy(password);
        return TIX_EAUTH;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    if (!tix_password_verify(user->password_hash, password)) {
        return TIX_EAUTH;
    }
    if (user->disabled_at != 0) {
        return TIX_EFORBIDDEN; /* only after the right password: nothing leaks to a guesser */
    }
    return tix_session_start(db, cfg, user, out);
}

/* The refresh row for a token we signed, or TIX_EAUTH. */
static tix_rc find_token(tix_db *db, const tix_config *cfg, const char *token, tix_refresh_row *row)
{
    tix_claims c;
    if (tix_token_verify(cfg->jwt_refresh_secret, TIX_TOKEN_REFRESH, token, tix_now_ms() / 1000,
                         &c) != TIX_OK) {
        return TIX_EAUTH;
    }
    char hash[TIX_SHA256_HEX];
    tix_sha256_hex(hash, token, strlen(token));
    tix_rc rc = tix_refresh_find(db, hash, row);
    return rc == TIX_ENOTFOUND ? TIX_EAUTH : rc;
}

/* Inside the transaction: checks the row, spends it and issues the next pair. */
static tix_rc rotate(tix_db *db, const tix_config *cfg, const tix_refresh_row *row, tix_user *user,
                     tix_session_tokens *out, bool *reused)
{
    int64_t now = tix_now_ms();
    *reused = false;
    if (row->revoked_at != 0 || row->expires_at <= now) {
        return TIX_EAUTH;
    }
    tix_rc rc = row->used_at != 0 ? TIX_ECONFLICT : tix_refresh_mark_used(db, row->id, now);
    if (rc == TIX_ECONFLICT) {
        *reused = true;
        tix_log_warn("refresh token reuse: session %s revoked", row->family_id);
        rc = tix_refresh_revoke_family(db, row->family_id, now);
        return rc == TIX_OK ? TIX_EAUTH : rc;
    }
    if (rc == TIX_OK) {
        rc = tix_user_by_id(db, row->user_id, user);
        rc = rc == TIX_ENOTFOUND || (rc == TIX_OK && user->disabled_at != 0) ? TIX_EAUTH : rc;
    }
    return rc == TIX_OK ? issue(db, cfg, user, row->family_id, out) : rc;
}

tix_rc tix_session_refresh(tix_db *db, tix_cache *cache, tix_arena *a, const tix_config *cfg,
                           const char *refresh_token, tix_user *user, tix_session_tokens *out)
{
    tix_refresh_row row;
    tix_rc rc = tix_db_begin(db);
    if (rc != TIX_OK) {
        return rc;
    }
    rc = find_token(db, cfg, refresh_token, &row);
    bool reused = false;
    if (rc == TIX_OK) {
        rc = rotate(db, cfg, &row, user, out, &reused);
    }
    if (rc == TIX_OK || reused) {
        /* A detected reuse must stay revoked: commit it even though we answer 401. */
        tix_rc crc = tix_db_commit(db);
        if (crc != TIX_OK) {
            if (rc == TIX_OK) {
                tix_session_tokens_cleanup(out);
            }
            return crc;
        }
        if (reused) {
            tix_revocation_changed(cache, a, row.user_id); /* the family's access tokens too */
        }
        return rc;
    }
    tix_db_rollback(db);
    return rc;
}

tix_rc tix_session_logout(tix_db *db, tix_cache *cache, tix_arena *a, const tix_config *cfg,
                          const char *refresh_token)
{
    tix_refresh_row row;
    tix_rc rc = find_token(db, cfg, refresh_token, &row);
    if (rc == TIX_OK) {
        rc = tix_refresh_revoke_family(db, row.family_id, tix_now_ms());
    }
    if (rc == TIX_OK) {
        tix_revocation_changed(cache, a, row.user_id);
    }
    return rc;
}

tix_rc tix_account_change_password(tix_db *db, tix_cache *cache, tix_arena *a, const char *user_id,
                                   const char *keep_session, const char *current, const char *next)
{
    tix_user u;
    tix_rc rc = tix_user_by_id(db, user_id, &u);
    if (rc != TIX_OK) {
        return rc;
    }
    if (!tix_password_verify(u.password_hash, current)) {
        return TIX_EFORBIDDEN;
    }
    char hash[TIX_PASSWORD_HASH_MAX];
    if ((rc = tix_password_hash(next, hash)) != TIX_OK || (rc = tix_db_begin(db)) != TIX_OK) {
        return rc;
    }
    int64_t now = tix_now_ms();
    rc = tix_user_set_password(db, user_id, hash, now);
    if (rc == TIX_OK) {
        rc = tix_refresh_revoke_user(db, user_id, keep_session, now);
    }
    if (rc == TIX_OK && (rc = tix_db_commit(db)) == TIX_OK) {
        tix_revocation_changed(cache, a, user_id);
        return TIX_OK;
    }
    tix_db_rollback(db);
    return rc;
}

/* Disables or enables target; disabling also ends every session. Inside the caller's
 * transaction; the caller calls tix_revocation_changed after its commit. */
static tix_rc set_disabled(tix_db *db, const char *user_id, bool disabled)
{
    int64_t now = tix_now_ms();
    tix_rc rc = tix_user_set_disabled(db, user_id, disabled, now);
    if (rc == TIX_OK && disabled) {
        rc = tix_refresh_revoke_user(db, user_id, NULL, now);
    }
    return rc;
}

/* Inside the caller's transaction: TIX_ECONFLICT when giving target `role` (or disabling it)
 * would leave no enabled admin. Locks the admin rows first. */
static tix_rc guard_last_admin(tix_db *db, const tix_user *target, tix_role role, bool disabling)
{
    bool stays_admin = role == TIX_ROLE_ADMIN && !disabling;
    if (target->role != TIX_ROLE_ADMIN || target->disabled_at != 0 || stays_admin) {
        return TIX_OK;
    }
    tix_rc rc = tix_user_lock_admins(db);
    int64_t admins = 0;
    if (rc == TIX_OK) {
        rc = tix_user_count_role(db, TIX_ROLE_ADMIN, &admins);
    }
    if (rc != TIX_OK) {
        return rc;
    }
    return admins <= 1 ? TIX_ECONFLICT : TIX_OK;
}

tix_rc tix_account_delete(tix_db *db, tix_cache *cache, tix_arena *a, const char *user_id,
                          const char *password)
{
    tix_user u;
    tix_rc rc = tix_user_by_id(db, user_id, &u);
    if (rc != TIX_OK) {
        return rc;
    }
    if (u.deleted_at != 0) {
        return TIX_ENOTFOUND;
    }
    if (!tix_password_verify(u.password_hash, password)) {
        return TIX_EFORBIDDEN;
    }
    /* unique, and never an address anyone can register or log in with (no "@") */
    char placeholder[sizeof(u.email)];
    snprintf(placeholder, sizeof(placeholder), "deleted:%s", user_id);
    int64_t now = tix_now_ms();
    if ((rc = tix_db_begin(db)) != TIX_OK) {
        return rc;
    }
    rc = u.role == TIX_ROLE_ADMIN ? guard_last_admin(db, &u, TIX_ROLE_USER, true) : TIX_OK;
    if (rc == TIX_OK) {
        rc = tix_user_anonymise(db, user_id, placeholder, now);
    }
    if (rc == TIX_OK) { /* no mail to the erased address any more, nor its address kept */
        rc = tix_outbox_forget(db, u.email, placeholder, now);
    }
    if (rc == TIX_OK) {
        rc = tix_refresh_revoke_user(db, user_id, NULL, now);
    }
    if (rc == TIX_OK && (rc = tix_db_commit(db)) == TIX_OK) {
        tix_revocation_changed(cache, a, user_id);
        return TIX_OK;
    }
    tix_db_rollback(db);
    return rc;
}

tix_rc tix_account_update(tix_db *db, tix_cache *cache, tix_arena *a, const char *user_id,
                          const tix_account_patch *patch, tix_user *out)
{
    tix_user u;
    memset(&u, 0, sizeof(u));
    tix_rc rc = tix_db_begin(db);
    rc = rc ? rc : tix_user_by_id(db, user_id, &u);
    tix_role role = patch->has_role ? patch->role : u.role;
    rc = rc ? rc : guard_last_admin(db, &u, role, patch->has_disabled && patch->disabled);
    if (rc == TIX_OK && patch->has_role && u.role != patch->role) {
        u.role = patch->role;
        u.updated_at = tix_now_ms();
        rc = tix_user_set_role(db, u.id, patch->role, u.updated_at);
    }
    if (rc == TIX_OK && patch->has_disabled && patch->disabled != (u.disabled_at != 0)) {
        rc = set_disabled(db, u.id, patch->disabled);
        u.updated_at = tix_now_ms();
        u.disabled_at = patch->disabled ? u.updated_at : 0;
    }
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    tix_revocation_changed(cache, a, u.id);
    *out = u;
    return TIX_OK;
}
