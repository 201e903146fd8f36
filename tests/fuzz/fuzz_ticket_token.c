/*
 * Ticket tokens (booking/ticket_token.c): any bytes as a scanned token, verified with a keyring
 * of the fixed key below and an old public key, as a check-in by token or a scanner would.
 * A token the fuzzer makes must never verify unless it is exactly what the key signs: when
 * verification succeeds, signing the claims it returned gives the input back byte for byte (one
 * encoding per ticket). After a 0x01 byte the input is a ticket instead: plausible claims are
 * signed and must verify back unchanged, and never with another key. The corpus holds a token of
 * this key (corpus/ticket_token/).
 */
#include "booking/ticket_token.h"
#include "fuzz.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* RFC 8032 test 1's seed; the corpus token is signed with it */
#define SEED  "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define OTHER "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"

static tix_ticket_keyring ring;
static tix_ticket_keyring other;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0 || tix_ticket_keyring_set_secret(&ring, SEED) != TIX_OK ||
        tix_ticket_keyring_set_secret(&other, OTHER) != TIX_OK ||
        tix_ticket_keyring_add_public(&ring, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") !=
            TIX_OK) {
        abort();
    }
    return 0;
}

static void text(char *dst, size_t cap, const uint8_t *d, size_t n, size_t *at, size_t len)
{
    size_t k = 0;
    for (; k < len && k + 1 < cap && *at < n; k++, (*at)++) {
        dst[k] = (char)(0x21 + d[*at] % 0x5e); /* visible ASCII, quotes and backslashes too */
    }
    dst[k] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char tok[TIX_TICKET_TOKEN_MAX];
    tix_ticket_claims c;
    tix_ticket_claims out;
    if (size > 1 && data[0] == 0x01) {
        memset(&c, 0, sizeof(c));
        size_t at = 1;
        text(c.tid, sizeof(c.tid), data, size, &at, 1 + data[1] % 30);
        text(c.sid, sizeof(c.sid), data, size, &at, 30);
        text(c.seat, sizeof(c.seat), data, size, &at, 8);
        text(c.bid, sizeof(c.bid), data, size, &at, 30);
        c.start = size > 9 ? (int64_t)data[size - 1] << 40 | data[size - 2] : 0;
        if (tix_ticket_token_sign(&ring, &c, tok, sizeof(tok)) != TIX_OK) {
            return 0; /* an empty id or seat: refused, fine */
        }
        if (tix_ticket_token_verify(&ring, tok, &out) != TIX_OK || strcmp(out.tid, c.tid) != 0 ||
            strcmp(out.sid, c.sid) != 0 || strcmp(out.seat, c.seat) != 0 ||
            strcmp(out.bid, c.bid) != 0 || out.start != c.start ||
            tix_ticket_token_verify(&other, tok, &out) == TIX_OK) {
            abort();
        }
        return 0;
    }
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (tix_ticket_token_verify(&ring, s, &out) == TIX_OK) {
        /* only the key's own encoding of these claims verifies */
        if (strcmp(out.kid, ring.keys[0].kid) != 0 ||
            tix_ticket_token_sign(&ring, &out, tok, sizeof(tok)) != TIX_OK || strcmp(tok, s) != 0) {
            abort();
        }
    }
    (void)tix_ticket_token_verify(&other, s, &out);
    free(s);
    return 0;
}
