/*
 * SQL for the shared ticket signing key (migration 0010): one row, written once by whichever
 * server starts first. Used only with PostgreSQL when TICKET_SIGNING_KEY is unset.
 */
#ifndef TIX_STORE_TICKET_KEYS_H
#define TIX_STORE_TICKET_KEYS_H

#include "core/arena.h"
#include "core/rc.h"
#include "store/db.h"

/* Stores candidate (a base64url seed) unless a key is stored already, then reads the stored one.
 * OUT: *seed (in the arena): the key every server uses. */
TIX_MUSTCHECK tix_rc tix_ticket_key_get_or_put(tix_db *db, tix_arena *a, const char *candidate,
                                               int64_t now, char **seed);

#endif
