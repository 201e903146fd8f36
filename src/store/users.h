/*
 * Users and refresh-token rows: the only SQL about accounts and sessions. Every function takes
 * a connection (the caller decides the transaction) and returns TIX_ENOTFOUND when no row
 * matches. Structs are plain values; nothing here allocates what the caller must free except
 * tix_user_list's array, which lives in the caller's arena.
 */
#ifndef TIX_STORE_USERS_H
#define TIX_STORE_USERS_H

#include "core/arena.h"
#include "core/i18n.h"
#include "core/model.h"
#include "core/roles.h"
#include "store/db.h"

#include <stdint.h>

typedef struct tix_user {
    char id[TIX_ID_MAX];
    char email[256];
    char name[512];
    tix_role role;
    char password_hash[TIX_PASSWORD_HASH_MAX];
    int64_t created_at;
    int64_t updated_at;
    int64_t token_epoch; /* the "ep" of its access tokens; bumped to refuse every earlier one */
    int64_t disabled_at; /* 0 = enabled */
    int64_t deleted_at;  /* 0 = not deleted (DELETE /me anonymises and disables) */
    char locale[TIX_LOCALE_MAX]; /* the saved language of mails and messages; "" = none */
} tix_user;

/* The saved locale of the user with this e-mail address (a mail's recipient) into out (""
 * when none). TIX_ENOTFOUND for no such user. A signed-in caller's own comes with the
 * session check instead (tix_user_auth_state). */
TIX_MUSTCHECK tix_rc tix_user_locale_by_email(tix_db *db, const char *email, char *out, size_t cap);
/* PATCH /me: sets the name and/or the locale (NULL: unchanged; the caller validated both). */
TIX_MUSTCHECK tix_rc tix_user_set_profile(tix_db *db, const char *id, const char *name,
                                          const char *locale, int64_t now);

/* TIX_ECONFLICT when the e-mail is taken. */
TIX_MUSTCHECK tix_rc tix_user_insert(tix_db *db, const tix_user *u);
TIX_MUSTCHECK tix_rc tix_user_by_id(tix_db *db, const char *id, tix_user *out);
TIX_MUSTCHECK tix_rc tix_user_by_email(tix_db *db, const char *email, tix_user *out);
TIX_MUSTCHECK tix_rc tix_user_set_password(tix_db *db, const char *id, const char *hash,
                                           int64_t now);
/* Also bumps token_epoch: access tokens with the old role are refused from now on. */
TIX_MUSTCHECK tix_rc tix_user_set_role(tix_db *db, const char *id, tix_role role, int64_t now);
/* Disables (and bumps token_epoch) or enables the user. */
TIX_MUSTCHECK tix_rc tix_user_set_disabled(tix_db *db, const char *id, bool disabled, int64_t now);
/* DELETE /me: e-mail replaced by placeholder_email (unique), name erased, password unusable,
 * disabled and deleted, token_epoch bumped. TIX_ENOTFOUND if absent or already deleted. */
TIX_MUSTCHECK tix_rc tix_user_anonymise(tix_db *db, const char *id, const char *placeholder_email,
                                        int64_t now);

/* What the per-request session check needs (auth/revocation.h): one round trip. The locale
 * rides along so that an error answered to the caller needs no query of its own. */
typedef struct tix_auth_state {
    int64_t epoch;
    bool disabled;
    bool session_live;           /* the family session_id of this user has a token not revoked */
    char locale[TIX_LOCALE_MAX]; /* the user's saved locale; "" = none */
} tix_auth_state;
TIX_MUSTCHECK tix_rc tix_user_auth_state(tix_db *db, const char *user_id, const char *session_id,
                                         tix_auth_state *out);
/* Locks every admin row for this transaction (PostgreSQL row locks; SQLite's write lock), so
 * two concurrent demotions cannot both see "another admin remains". */
TIX_MUSTCHECK tix_rc tix_user_lock_admins(tix_db *db);
/* Users of role that are not disabled. */
TIX_MUSTCHECK tix_rc tix_user_count_role(tix_db *db, tix_role role, int64_t *out);
/* Users with id > after (NULL = from the start), in id (= creation) order, optionally of one
 * role (NULL = all). OUT: *items (arena-owned array), *n. Asks for limit+1 rows so the caller
 * can tell whether another page exists. */
TIX_MUSTCHECK tix_rc tix_user_list(tix_db *db, tix_arena *a, const char *role, const char *after,
                                   int limit, tix_user **items, int *n);

typedef struct tix_refresh_row {
    char id[TIX_ID_MAX];
    char user_id[TIX_ID_MAX];
    char family_id[TIX_ID_MAX];
    int64_t expires_at;
    int64_t used_at;    /* 0 = never used */
    int64_t revoked_at; /* 0 = live */
} tix_refresh_row;

TIX_MUSTCHECK tix_rc tix_refresh_insert(tix_db *db, const char *id, const char *user_id,
                                        const char *family_id, const char *token_hash, int64_t now,
                                        int64_t expires_at);
TIX_MUSTCHECK tix_rc tix_refresh_find(tix_db *db, const char *token_hash, tix_refresh_row *out);
/* Marks a live token used; TIX_ECONFLICT if it was already used or revoked (a race lost). */
TIX_MUSTCHECK tix_rc tix_refresh_mark_used(tix_db *db, const char *id, int64_t now);
TIX_MUSTCHECK tix_rc tix_refresh_revoke_family(tix_db *db, const char *family_id, int64_t now);
/* Revokes every live token of the user except those of keep_family (may be NULL). */
TIX_MUSTCHECK tix_rc tix_refresh_revoke_user(tix_db *db, const char *user_id,
                                             const char *keep_family, int64_t now);

#endif
