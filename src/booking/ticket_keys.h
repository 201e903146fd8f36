/*
 * The server's ticket keyring, made once at start from the configuration (docs/tickets.md):
 *   - TICKET_SIGNING_KEY set: that key;
 *   - unset with SQLite: the seed in ticket_signing.key beside the database file, made on the
 *     first start (mode 0600);
 *   - unset with PostgreSQL: the seed in the database (table ticket_signing_keys), made by the
 *     first server to start and read by every other, so a cluster signs with one key;
 * then every public key of TICKET_VERIFY_KEYS (old keys whose tickets still verify).
 */
#ifndef TIX_BOOKING_TICKET_KEYS_H
#define TIX_BOOKING_TICKET_KEYS_H

#include "booking/ticket_token.h"
#include "core/config.h"
#include "store/db.h"

/* Fills kr. On failure a message for the operator (never the key) in err. */
TIX_MUSTCHECK tix_rc tix_ticket_keys_open(const tix_config *cfg, tix_db *db, tix_ticket_keyring *kr,
                                          char *err, size_t errlen);

#endif
