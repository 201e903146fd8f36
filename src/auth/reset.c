/* Password reset (auth/reset.h). */
#include "auth/reset.h"

#include "auth/password.h"
#include "auth/revocation.h"
#include "core/util.h"
#include "store/outbox.h"
#include "store/users.h"

#include <sodium.h>
#include <string.h>

tix_rc tix_reset_request(tix_db *db, const char *email)
{
    unsigned char raw[32];
    char token[TIX_RESET_TOKEN_CHARS + 1];
    char hash[TIX_SHA256_HEX];
    tix_random_bytes(raw, sizeof(raw));
    sodium_bin2hex(token, sizeof(token), raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    tix_sha256_hex(hash, token, strlen(token));
    int64_t now = tix_now_ms();
    tix_rc rc = tix_db_begin(db);
    rc = rc ? rc : tix_outbox_password_reset(db, email, token, hash, now + TIX_RESET_TTL_MS, now);
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
    }
    sodium_memzero(token, sizeof(token));
    return rc;
}

tix_rc tix_reset_confirm(tix_db *db, tix_cache *cache, tix_arena *a, const char *token,
                         const char *next)
{
    if (strlen(token) != TIX_RESET_TOKEN_CHARS) {
        return TIX_ENOTFOUND;
    }
    char hash[TIX_SHA256_HEX];
    char pw[TIX_PASSWORD_HASH_MAX];
    tix_sha256_hex(hash, token, strlen(token));
    tix_rc rc = tix_password_hash(next, pw);
    if (rc != TIX_OK) {
        return rc;
    }
    int64_t now = tix_now_ms();
    char *user_id = NULL;
    rc = tix_db_begin(db);
    rc = rc ? rc : tix_reset_consume(db, a, hash, now, &user_id);
    rc = rc ? rc : tix_user_set_password(db, user_id, pw, now);
    rc = rc ? rc : tix_refresh_revoke_user(db, user_id, NULL, now);
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    tix_revocation_changed(cache, a, user_id);
    return TIX_OK;
}
