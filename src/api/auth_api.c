/*
 * /auth/... and /me handlers: shape checks on the body, then the session functions of
 * auth/session.h, then the views. No SQL and no token logic here.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/password.h"
#include "auth/revocation.h"
#include "auth/session.h"
#include "core/i18n.h"
#include "core/util.h"

#include <string.h>

/* Reads and checks {email, password}; answers and returns false on the first problem.
 * strict_password applies the password rules (registration); email_out receives the
 * normalised address. */
static bool read_credentials(tix_req *r, json_t *body, bool strict_password, char *email_out,
                             size_t cap, const char **password)
{
    const char *email = NULL;
    tix_verr e;
    size_t pw_min = strict_password ? TIX_PASSWORD_MIN_CHARS : 1;
    if (!tix_v_string(body, "email", true, 1, 320, &email, &e) ||
        !tix_v_string(body, "password", true, pw_min, TIX_PASSWORD_MAX_CHARS, password, &e)) {
        tix_reply_verr(r, &e);
        return false;
    }
    if (!tix_email_normalize(email, email_out, cap)) {
        tix_v_fail(&e, "email", "is not a valid e-mail address");
        tix_reply_verr(r, &e);
        return false;
    }
    return true;
}

static void reply_session(tix_req *r, unsigned status, tix_rc rc, const tix_user *u,
                          tix_session_tokens *t)
{
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, status, tix_view_session(u, t));
    tix_session_tokens_cleanup(t);
}

void tix_api_register(tix_req *r)
{
    json_t *body = tix_req_json(r);
    char email[256];
    const char *password = NULL;
    const char *name = NULL;
    tix_verr e;
    if (body == NULL || !read_credentials(r, body, true, email, sizeof(email), &password)) {
        return;
    }
    if (!tix_v_text(body, "name", true, 1, 100, TIX_TEXT_LINE, &name, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_user u;
    tix_session_tokens t;
    tix_rc rc = tix_account_register(db, &r->app->cfg, email, password, name, &u, &t);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "email_taken", "an account with this e-mail already exists",
                        json_pack("{s:s}", "field", "email"));
        return;
    }
    reply_session(r, 201, rc, &u, &t);
}

void tix_api_login(tix_req *r)
{
    json_t *body = tix_req_json(r);
    char email[256];
    const char *password = NULL;
    if (body == NULL || !read_credentials(r, body, false, email, sizeof(email), &password)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_user u;
    tix_session_tokens t;
    tix_rc rc = tix_session_login(db, &r->app->cfg, email, password, &u, &t);
    if (rc == TIX_EAUTH) {
        tix_reply_error(r, 401, "invalid_credentials", "wrong e-mail or password", NULL);
        return;
    }
    if (rc == TIX_EFORBIDDEN) {
        tix_reply_error(r, 403, "account_disabled", "this account has been disabled", NULL);
        return;
    }
    reply_session(r, 200, rc, &u, &t);
}

/* Reads {refresh_token}; answers and returns NULL on a bad body. */
static const char *read_refresh(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *token = NULL;
    tix_verr e;
    if (body == NULL) {
        return NULL;
    }
    if (!tix_v_string(body, "refresh_token", true, 1, 4096, &token, &e)) {
        tix_reply_verr(r, &e);
        return NULL;
    }
    return token;
}

static void reply_bad_refresh(tix_req *r)
{
    tix_reply_error(r, 401, "invalid_token",
                    "the refresh token is invalid, expired, revoked or already used", NULL);
}

void tix_api_refresh(tix_req *r)
{
    const char *token = read_refresh(r);
    tix_db *db = token ? tix_req_db(r) : NULL;
    if (db == NULL) {
        return;
    }
    tix_user u;
    tix_session_tokens t;
    tix_rc rc = tix_session_refresh(db, r->app->cache, r->arena, &r->app->cfg, token, &u, &t);
    if (rc == TIX_EAUTH) {
        reply_bad_refresh(r);
        return;
    }
    reply_session(r, 200, rc, &u, &t);
}

void tix_api_logout(tix_req *r)
{
    const char *token = read_refresh(r);
    tix_db *db = token ? tix_req_db(r) : NULL;
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_session_logout(db, r->app->cache, r->arena, &r->app->cfg, token);
    if (rc == TIX_EAUTH) {
        reply_bad_refresh(r);
        return;
    }
    tix_reply_rc(r, rc); /* TIX_OK → 204 */
}

void tix_api_change_password(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *current = NULL;
    const char *next = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "current_password", true, 1, TIX_PASSWORD_MAX_CHARS, &current, &e) ||
        !tix_v_string(body, "new_password", true, TIX_PASSWORD_MIN_CHARS, TIX_PASSWORD_MAX_CHARS,
                      &next, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (strcmp(current, next) == 0) {
        tix_v_fail(&e, "new_password", "must differ from the current password");
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_account_change_password(db, r->app->cache, r->arena, r->auth.user_id,
                                            r->auth.session_id, current, next);
    if (rc == TIX_EFORBIDDEN) {
        tix_reply_error(r, 403, "wrong_password", "the current password is wrong", NULL);
        return;
    }
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 401, "invalid_token", "the account no longer exists", NULL);
        return;
    }
    tix_reply_rc(r, rc);
}

void tix_api_me(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_user u;
    tix_rc rc = tix_user_by_id(db, r->auth.user_id, &u);
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 401, "invalid_token", "the account no longer exists", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_user(&u));
}

/* PATCH /me {name?, locale?}: at least one. locale is one of the supported languages
 * (core/i18n.h), else 422 unsupported_locale with the list; the answer is the user as GET /me.
 * A new locale is announced like a session change (auth/revocation.h), since the session
 * check's table keeps it: the next error answered to him, on any server, is in it. */
void tix_api_update_me(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *name = NULL;
    const char *locale = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_text(body, "name", false, 1, 100, TIX_TEXT_LINE, &name, &e) ||
        !tix_v_string(body, "locale", false, 1, 64, &locale, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    if (name == NULL && locale == NULL) {
        tix_v_fail(&e, "body", "must have name or locale");
        tix_reply_verr(r, &e);
        return;
    }
    if (locale != NULL && tix_lang_parse(locale) == TIX_LANG_NONE) {
        json_t *supported = json_array();
        for (int l = TIX_LANG_EN; l < TIX_LANG_COUNT; l++) {
            json_array_append_new(supported, json_string(tix_lang_tag((tix_lang)l)));
        }
        tix_reply_error(r, 422, "unsupported_locale",
                        "locale must be one of the supported languages (details.supported)",
                        json_pack("{s:s,s:o}", "field", "locale", "supported", supported));
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    const char *tag = locale != NULL ? tix_lang_tag(tix_lang_parse(locale)) : NULL;
    tix_rc rc = tix_user_set_profile(db, r->auth.user_id, name, tag, tix_now_ms());
    if (rc == TIX_OK && tag != NULL) { /* one statement: committed */
        tix_revocation_changed(r->app->cache, r->arena, r->auth.user_id);
    }
    tix_user u;
    rc = rc ? rc : tix_user_by_id(db, r->auth.user_id, &u);
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 401, "invalid_token", "the account no longer exists", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_user(&u));
}

/* DELETE /me {password}: anonymises the account and ends every session (auth/session.h). */
void tix_api_delete_me(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *password = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "password", true, 1, TIX_PASSWORD_MAX_CHARS, &password, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_account_delete(db, r->app->cache, r->arena, r->auth.user_id, password);
    if (rc == TIX_EFORBIDDEN) {
        tix_reply_error(r, 403, "wrong_password", "the password is wrong", NULL);
        return;
    }
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "last_admin", "the only enabled admin cannot delete the account",
                        NULL);
        return;
    }
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 401, "invalid_token", "the account no longer exists", NULL);
        return;
    }
    tix_reply_rc(r, rc); /* TIX_OK → 204 */
}
