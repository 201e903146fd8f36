/*
 * Signed tickets: a compact token that a scanner can verify offline with the server's Ed25519
 * public key (libsodium), carrying the ticket id, show id, seat label and show start.
 *
 *     t1.<kid>.<payload>.<sig>
 *
 *   kid      11 characters: base64url (unpadded) of the first 8 bytes of SHA-256(public key);
 *            names the key so keys can rotate (a keyring holds the signing key and older
 *            public keys that still verify);
 *   payload  unpadded base64url of compact JSON {"tid","sid","seat","start"[,"bid"]}: ticket id,
 *            show id, seat label, show start (unix seconds), booking id;
 *   sig      86 characters: unpadded base64url of the 64-byte Ed25519 signature of the ASCII
 *            text "t1.<kid>.<payload>" (everything before the last dot), so the kid is signed too.
 *
 * Ed25519 is deterministic: the same ticket signed with the same key gives the same token, so
 * tokens are made when shown and never stored. docs/tickets.md is the scanner's description.
 * Pure apart from key generation (randomness) and tix_ticket_keyring_load_file (a file).
 */
#ifndef TIX_BOOKING_TICKET_TOKEN_H
#define TIX_BOOKING_TICKET_TOKEN_H

#include "core/rc.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIX_TICKET_KID_LEN   11   /* base64url of 8 bytes */
#define TIX_TICKET_KEY_B64   88   /* room for base64url of a 64-byte key + NUL */
#define TIX_TICKET_TOKEN_MAX 1024 /* longer tokens are refused before decoding */
#define TIX_TICKET_SEAT_MAX  64
#define TIX_TICKET_KEYS_MAX  8 /* signing key + up to 7 old public keys */

typedef struct tix_ticket_pubkey {
    char kid[TIX_TICKET_KID_LEN + 1];
    unsigned char pk[32];
} tix_ticket_pubkey;

/* The signing key and the public keys that verify. keys[0] is the signing key's public key
 * when has_secret; a keyring without a secret only verifies. Plain data: copy freely. */
typedef struct tix_ticket_keyring {
    bool has_secret;
    unsigned char sk[64]; /* libsodium's secret key (seed + public key) */
    tix_ticket_pubkey keys[TIX_TICKET_KEYS_MAX];
    int n;
} tix_ticket_keyring;

typedef struct tix_ticket_claims {
    char tid[TIX_ID_MAX];             /* ticket id */
    char sid[TIX_ID_MAX];             /* show id */
    char seat[TIX_TICKET_SEAT_MAX];   /* seat label */
    int64_t start;                    /* show start, unix seconds */
    char bid[TIX_ID_MAX];             /* booking id, "" when absent */
    char kid[TIX_TICKET_KID_LEN + 1]; /* verify: the key that signed it; sign: ignored */
} tix_ticket_claims;

/* The kid of a public key (see above). */
void tix_ticket_kid(const unsigned char pk[32], char out[TIX_TICKET_KID_LEN + 1]);

/* Sets the signing key from base64url (padding allowed) of a 32-byte seed or a 64-byte libsodium
 * secret key; the keyring is reset to that one key. TIX_EINVAL for anything else, or a 64-byte
 * key whose public half does not match its seed. */
TIX_MUSTCHECK tix_rc tix_ticket_keyring_set_secret(tix_ticket_keyring *kr, const char *b64);
/* Adds a public key (base64url of 32 bytes) that verifies but does not sign. A key already in the
 * ring is not added twice. TIX_EINVAL for a bad key, TIX_ETOOBIG when the ring is full. */
TIX_MUSTCHECK tix_rc tix_ticket_keyring_add_public(tix_ticket_keyring *kr, const char *b64);
/* Adds every key of a comma- or space-separated list of public keys (TICKET_VERIFY_KEYS). */
TIX_MUSTCHECK tix_rc tix_ticket_keyring_add_list(tix_ticket_keyring *kr, const char *list);
/* A new random seed as base64url (43 characters + NUL) into out. */
void tix_ticket_seed_new(char out[TIX_TICKET_KEY_B64]);
/* Reads the seed stored at path, or when the file does not exist makes a new one and writes it
 * there (mode 0600, created exclusively: of two starting processes one writes, both read it),
 * then sets it as the signing key. TIX_EUNAVAIL when the file cannot be read or written,
 * TIX_EINVAL when it holds no valid key. */
TIX_MUSTCHECK tix_rc tix_ticket_keyring_load_file(tix_ticket_keyring *kr, const char *path);

/* The signing key's kid and public key (base64url, 43 characters). TIX_ENOTFOUND without one. */
TIX_MUSTCHECK tix_rc tix_ticket_public(const tix_ticket_keyring *kr,
                                       char kid[TIX_TICKET_KID_LEN + 1],
                                       char pk_b64[TIX_TICKET_KEY_B64]);

/* Signs c (kid ignored) with the ring's signing key. OUT: token, NUL-terminated, in out (cap
 * bytes; TIX_TICKET_TOKEN_MAX is always enough). TIX_EINVAL for empty ids or a seat label too
 * long, TIX_ENOTFOUND when the ring has no secret. */
TIX_MUSTCHECK tix_rc tix_ticket_token_sign(const tix_ticket_keyring *kr, const tix_ticket_claims *c,
                                           char *out, size_t cap);
/* Verifies a token with the ring's public keys (the one its kid names): strict form (prefix,
 * canonical unpadded base64url, lengths), the signature, then the payload (one JSON object,
 * tid/sid/seat non-empty strings that fit, start an integer, bid optional string). TIX_EAUTH for
 * anything wrong (unknown kid included); out filled only on TIX_OK. */
TIX_MUSTCHECK tix_rc tix_ticket_token_verify(const tix_ticket_keyring *kr, const char *token,
                                             tix_ticket_claims *out);

#endif
