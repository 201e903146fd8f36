/*
 * Accounts and sessions: creating users, signing in, rotating refresh tokens, signing out and
 * changing passwords. A session is a refresh-token family; every rotation adds a token to the
 * family and spends the old one, and presenting a spent token revokes the whole family (the
 * token was stolen, or the client is confused: either way the login ends).
 * Callers validate input shapes first; these functions enforce the rules that need the
 * database. Token strings are malloc'd and freed by tix_session_tokens_cleanup.
 */
#ifndef TIX_AUTH_SESSION_H
#define TIX_AUTH_SESSION_H

#include "cache/cache.h"
#include "core/config.h"
#include "store/db.h"
#include "store/users.h"

typedef struct tix_session_tokens {
    char *access;
    char *refresh;
    int64_t expires_in; /* seconds until the access token expires */
} tix_session_tokens;

void tix_session_tokens_cleanup(tix_session_tokens *t);

/* Creates a user (email already normalised, password already checked for length).
 * TIX_ECONFLICT if the e-mail is taken. OUT: *user. */
TIX_MUSTCHECK tix_rc tix_account_create(tix_db *db, const char *email, const char *password,
                                        const char *name, tix_role role, tix_user *user);
/* Starts a new session for user (a new family). */
TIX_MUSTCHECK tix_rc tix_session_start(tix_db *db, const tix_config *cfg, const tix_user *user,
                                       tix_session_tokens *out);
/* Register = create + start, in one transaction. */
TIX_MUSTCHECK tix_rc tix_account_register(tix_db *db, const tix_config *cfg, const char *email,
                                          const char *password, const char *name, tix_user *user,
                                          tix_session_tokens *out);
/* TIX_EAUTH for a wrong e-mail or password alike (and the same time spent on both);
 * TIX_EFORBIDDEN for the right password of a disabled user. */
TIX_MUSTCHECK tix_rc tix_session_login(tix_db *db, const tix_config *cfg, const char *email,
                                       const char *password, tix_user *user,
                                       tix_session_tokens *out);
/* Rotates a refresh token. TIX_EAUTH if it is invalid, expired, revoked or spent, or its user
 * is disabled (a spent one also revokes its family, durably, before answering, and ends the
 * family's access tokens through cache: auth/revocation.h). a: for cache key names. */
TIX_MUSTCHECK tix_rc tix_session_refresh(tix_db *db, tix_cache *cache, tix_arena *a,
                                         const tix_config *cfg, const char *refresh_token,
                                         tix_user *user, tix_session_tokens *out);
/* Revokes the family of refresh_token: its access tokens are refused from the next request
 * on (auth/revocation.h). TIX_EAUTH if the token is not one of ours. */
TIX_MUSTCHECK tix_rc tix_session_logout(tix_db *db, tix_cache *cache, tix_arena *a,
                                        const tix_config *cfg, const char *refresh_token);
/* Checks current, stores new, revokes every other session of the user (keeps keep_session):
 * their refresh tokens and, from the next request on, their access tokens; the caller's own
 * session goes on. TIX_EFORBIDDEN for a wrong current password; TIX_ENOTFOUND if the user is
 * gone. */
TIX_MUSTCHECK tix_rc tix_account_change_password(tix_db *db, tix_cache *cache, tix_arena *a,
                                                 const char *user_id, const char *keep_session,
                                                 const char *current, const char *next);
/* What PATCH /admin/users/{id} changes: the role, and/or disabled (true: every session ends). */
typedef struct tix_account_patch {
    bool has_role;
    tix_role role;
    bool has_disabled;
    bool disabled;
} tix_account_patch;
/* Applies patch to user_id in one transaction: the role (bumping the token epoch), disabling
 * (epoch bumped, every refresh token revoked) or enabling; after the commit the user's access
 * tokens are refused from the next request on, on every server (auth/revocation.h).
 * TIX_ENOTFOUND for no such user; TIX_ECONFLICT when it would leave no enabled admin (nothing
 * changes). OUT: *out, the user as it is now. a: for cache key names. */
TIX_MUSTCHECK tix_rc tix_account_update(tix_db *db, tix_cache *cache, tix_arena *a,
                                        const char *user_id, const tix_account_patch *patch,
                                        tix_user *out);
/* DELETE /me: checks password, then in one transaction anonymises the user (e-mail replaced
 * by the unique "deleted:<id>", name erased, password unusable, disabled, epoch bumped) and
 * revokes every session. Bookings and payments keep pointing at the anonymous row.
 * TIX_EFORBIDDEN for a wrong password; TIX_ECONFLICT for the last enabled admin. */
TIX_MUSTCHECK tix_rc tix_account_delete(tix_db *db, tix_cache *cache, tix_arena *a,
                                        const char *user_id, const char *password);

#endif
