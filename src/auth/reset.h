/*
 * Password reset (API.md "Mail"): a forgotten password is replaced through a token mailed to
 * the account's address.
 *
 * Request: a token of 256 random bits (64 hex digits) is made and hashed (SHA-256) for every
 * request, and the same statements run whether the e-mail belongs to an account or not
 * (store/outbox.h: tix_outbox_password_reset), in one transaction: the token's hash into
 * password_resets (always a row: with user_id NULL, never usable, for an unknown address) and
 * the mail carrying the token into the outbox (for an unknown address a same-sized decoy,
 * deleted before the commit, so both commits write the same pages). The answer (202)
 * and the work are the same either way, so neither tells whether an address has an account
 * (bench/mail.py measures it). Only the hash is stored with the account; the mail's copy of the
 * token is erased once the mail is sent.
 *
 * Confirm: the token is hashed and spent with one conditional UPDATE (unused and not expired:
 * of two confirms racing, one wins), along with every other unused token of that user; the new
 * password is set and every refresh family of the user revoked in the same transaction, so
 * every session ends (auth/revocation.h: the next request with any earlier access token is
 * 401 token_revoked, on every server). The new password is hashed before the transaction
 * (argon2 takes time; no lock is held meanwhile).
 */
#ifndef TIX_AUTH_RESET_H
#define TIX_AUTH_RESET_H

#include "cache/cache.h"
#include "core/arena.h"
#include "store/db.h"

#define TIX_RESET_TTL_MS      (30LL * 60 * 1000)
#define TIX_RESET_TOKEN_CHARS 64

/* Starts a reset for the normalised email (known or not). TIX_OK, or the database's code. */
TIX_MUSTCHECK tix_rc tix_reset_request(tix_db *db, const char *email);

/* Spends token and sets next as the password, ending every session of its user. TIX_ENOTFOUND
 * when the token is malformed, unknown, used or expired. */
TIX_MUSTCHECK tix_rc tix_reset_confirm(tix_db *db, tix_cache *cache, tix_arena *a,
                                       const char *token, const char *next);

#endif
