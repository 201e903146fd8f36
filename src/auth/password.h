/*
 * Password hashing with argon2id (libsodium crypto_pwhash_str). Hashing is memory-hard
 * (64 MiB at the interactive cost), so the number of hashes running at once is capped to the
 * core count: a login storm queues instead of exhausting memory.
 */
#ifndef TIX_AUTH_PASSWORD_H
#define TIX_AUTH_PASSWORD_H

#include "core/config.h"
#include "core/model.h" /* TIX_PASSWORD_HASH_MAX */
#include "core/rc.h"

#include <stdbool.h>

#define TIX_PASSWORD_MIN_CHARS 8
#define TIX_PASSWORD_MAX_CHARS 256

/* Sets the cost and the concurrency cap; call once before serving. */
void tix_password_init(tix_pwhash_cost cost, int max_parallel);
/* OUT: hash (TIX_PASSWORD_HASH_MAX bytes). TIX_ENOMEM if the hash could not be computed. */
TIX_MUSTCHECK tix_rc tix_password_hash(const char *password, char *hash);
/* Whether password matches hash (constant-time inside libsodium). */
bool tix_password_verify(const char *hash, const char *password);
/* Burns the time of one verification; used when the e-mail is unknown so that login takes
 * the same time whether or not the account exists. */
void tix_password_verify_dummy(const char *password);

#endif
