/*
 * Sessions that end now: the per-request check that an access token's session is still live,
 * that its epoch ("ep") is the user's current token epoch and that the user is not disabled.
 * Logout and change-password end sessions (their refresh-token families are revoked); a role
 * change, disabling and DELETE /me bump the user's epoch. Either way the next request on any
 * server is refused (401 token_revoked).
 *
 * The same query reads the user's saved locale, and the check hands it to the caller: the
 * language of an error answered to a signed-in caller without Accept-Language (http/reply.c,
 * the WebSocket's auth) then needs no query of its own. PATCH /me, which changes it, bumps the
 * user's counter like the changes above, so the next request on any server sees the new one.
 *
 * The answer (live or not, the epoch, the locale) is cached per process, keyed by session id,
 * and validated by one version counter per user in the shared cache, "<prefix>:{user:ID}:auth"
 * (the mechanism that invalidates seat maps and carries the bus's sequence numbers): every
 * change above commits, then bumps that counter (tix_revocation_changed), and every check
 * reads it first. An entry stored under another version is never used, so an invalidation
 * reaches every server before its next request, not whenever a pub/sub message arrives. With
 * Redis, one GET per authenticated request; with the in-process cache, a lookup in memory. An
 * entry also lives at most TIX_REVOCATION_TTL_MS, which bounds what a bump lost with a Redis
 * restart could leave.
 *
 * When the cache cannot answer (Redis down) the database is asked on every request, and when
 * the database cannot answer either the request fails (503): never open.
 */
#ifndef TIX_AUTH_REVOCATION_H
#define TIX_AUTH_REVOCATION_H

#include "auth/token.h"
#include "cache/cache.h"
#include "core/arena.h"
#include "core/i18n.h"
#include "store/db.h"

#define TIX_REVOCATION_TTL_MS 2000

/* Gives the database connection on a cache miss; NULL when it cannot (the callback has then
 * answered the request itself, e.g. 503). */
typedef tix_db *(*tix_revocation_db_fn)(void *ctx);

/* TIX_OK: the token's session is live, its epoch current, its user enabled. TIX_EFORBIDDEN:
 * revoked (answer 401 token_revoked). TIX_ENOTFOUND: no such user (401 invalid_token).
 * TIX_EUNAVAIL when get_db gave NULL (already answered); another code when the database
 * failed. cache may be NULL (then the database is asked every time). a: for key names.
 * locale: NULL, or TIX_LOCALE_MAX bytes the caller owns, filled on TIX_OK with the user's
 * saved locale ("" when none saved), as fresh as the answer itself; untouched otherwise. */
TIX_MUSTCHECK tix_rc tix_revocation_check(tix_cache *cache, tix_arena *a, const tix_claims *c,
                                          tix_revocation_db_fn get_db, void *ctx, char *locale);

/* After a commit that ended sessions of user_id or changed its epoch, disabled flag or saved
 * locale: invalidates the cached answers for that user on every server. A bump that fails
 * while Redis is down is replayed when it is back; meanwhile every server asks the database. */
void tix_revocation_changed(tix_cache *cache, tix_arena *a, const char *user_id);

/* Empties this process's table (tests). */
void tix_revocation_clear(void);

#endif
