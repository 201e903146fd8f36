/*
 * Where the ticket signing key comes from (ticket_keys.h).
 */
#include "booking/ticket_keys.h"

#include "core/arena.h"
#include "store/ticket_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEY_FILE "ticket_signing.key"

static tix_rc from_database(tix_db *db, tix_ticket_keyring *kr)
{
    char candidate[TIX_TICKET_KEY_B64];
    tix_ticket_seed_new(candidate);
    tix_arena *a = tix_arena_create(0);
    char *seed = NULL;
    tix_rc rc = tix_ticket_key_get_or_put(db, a, candidate, tix_now_ms(), &seed);
    sodium_memzero(candidate, sizeof(candidate));
    if (rc == TIX_OK) {
        rc = tix_ticket_keyring_set_secret(kr, seed);
        sodium_memzero(seed, strlen(seed));
    }
    tix_arena_destroy(a);
    return rc;
}

tix_rc tix_ticket_keys_open(const tix_config *cfg, tix_db *db, tix_ticket_keyring *kr, char *err,
                            size_t errlen)
{
    tix_rc rc = TIX_OK;
    memset(kr, 0, sizeof(*kr));
    if (cfg->ticket_signing_key[0] != '\0') {
        rc = tix_ticket_keyring_set_secret(kr, cfg->ticket_signing_key);
        if (rc != TIX_OK) {
            snprintf(err, errlen,
                     "TICKET_SIGNING_KEY must be base64url of a 32-byte Ed25519 seed or a 64-byte "
                     "secret key");
            return rc;
        }
    } else if (cfg->db_kind == TIX_DB_POSTGRES) {
        rc = from_database(db, kr);
        if (rc != TIX_OK) {
            snprintf(err, errlen, "the ticket signing key could not be read from the database: %s",
                     tix_rc_name(rc));
            return rc;
        }
    } else {
        char path[TIX_CFG_STR + 32];
        const char *slash = strrchr(cfg->sqlite_path, '/');
        if (slash == NULL) {
            snprintf(path, sizeof(path), "%s", KEY_FILE);
        } else {
            snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cfg->sqlite_path),
                     cfg->sqlite_path, KEY_FILE);
        }
        rc = tix_ticket_keyring_load_file(kr, path);
        if (rc != TIX_OK) {
            snprintf(err, errlen, "the ticket signing key file %s could not be %s", path,
                     rc == TIX_EINVAL ? "read (it holds no valid key)" : "read or created");
            return rc;
        }
    }
    rc = tix_ticket_keyring_add_list(kr, cfg->ticket_verify_keys);
    if (rc != TIX_OK) {
        snprintf(err, errlen,
                 "TICKET_VERIFY_KEYS must be at most %d base64url Ed25519 public keys (32 bytes), "
                 "separated by commas",
                 TIX_TICKET_KEYS_MAX - 1);
    }
    return rc;
}
