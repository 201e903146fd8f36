/*
 * Ed25519 ticket tokens (ticket_token.h has the format). Verification parses the compact form
 * before anything else: the "t1." prefix, an 11-character kid, a payload of canonical unpadded
 * base64url within bounds, an 86-character signature; the signature is checked over the bytes
 * before the last dot with the key the kid names, and only then is the payload decoded as JSON.
 */
#include "booking/ticket_token.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX      "t1."
#define PREFIX_LEN  3
#define SIG_B64_LEN 86 /* 64 bytes in unpadded base64url */
#define PAYLOAD_MAX 600
#define B64URL      sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* Lenient decoding for keys given by people: base64url or base64, padding allowed, spaces
 * trimmed. Returns bytes or -1. */
static long key_decode(unsigned char *out, size_t cap, const char *in)
{
    char buf[TIX_TICKET_KEY_B64 + 8];
    size_t n = 0;
    while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r') {
        in++;
    }
    for (; *in != '\0' && *in != '=' && *in != ' ' && *in != '\n' && *in != '\r'; in++) {
        if (n + 1 >= sizeof(buf)) {
            return -1;
        }
        buf[n++] = (char)(*in == '+' ? '-' : *in == '/' ? '_' : *in);
    }
    buf[n] = '\0';
    size_t got = 0;
    const char *end = NULL;
    if (n == 0 || sodium_base642bin(out, cap, buf, n, NULL, &got, &end, B64URL) != 0 ||
        end != buf + n) {
        return -1;
    }
    return (long)got;
}

void tix_ticket_kid(const unsigned char pk[32], char out[TIX_TICKET_KID_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, 32);
    sodium_bin2base64(out, TIX_TICKET_KID_LEN + 1, h, 8, B64URL);
}

tix_rc tix_ticket_keyring_set_secret(tix_ticket_keyring *kr, const char *b64)
{
    unsigned char raw[64];
    unsigned char pk[32];
    unsigned char sk[64];
    long n = b64 != NULL ? key_decode(raw, sizeof(raw), b64) : -1;
    if (n == crypto_sign_SEEDBYTES) {
        crypto_sign_seed_keypair(pk, sk, raw);
    } else if (n == crypto_sign_SECRETKEYBYTES) {
        crypto_sign_seed_keypair(pk, sk, raw); /* the first 32 bytes are the seed */
        if (sodium_memcmp(sk + 32, raw + 32, 32) != 0) {
            sodium_memzero(raw, sizeof(raw));
            sodium_memzero(sk, sizeof(sk));
            return TIX_EINVAL;
        }
    } else {
        sodium_memzero(raw, sizeof(raw));
        return TIX_EINVAL;
    }
    memset(kr, 0, sizeof(*kr));
    memcpy(kr->sk, sk, sizeof(sk));
    kr->has_secret = true;
    memcpy(kr->keys[0].pk, pk, 32);
    tix_ticket_kid(pk, kr->keys[0].kid);
    kr->n = 1;
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(sk, sizeof(sk));
    return TIX_OK;
}

tix_rc tix_ticket_keyring_add_public(tix_ticket_keyring *kr, const char *b64)
{
    unsigned char pk[64];
    if (key_decode(pk, sizeof(pk), b64) != 32) {
        return TIX_EINVAL;
    }
    for (int i = 0; i < kr->n; i++) {
        if (memcmp(kr->keys[i].pk, pk, 32) == 0) {
            return TIX_OK;
        }
    }
    if (kr->n >= TIX_TICKET_KEYS_MAX) {
        return TIX_ETOOBIG;
    }
    memcpy(kr->keys[kr->n].pk, pk, 32);
    tix_ticket_kid(pk, kr->keys[kr->n].kid);
    kr->n++;
    return TIX_OK;
}

tix_rc tix_ticket_keyring_add_list(tix_ticket_keyring *kr, const char *list)
{
    char one[TIX_TICKET_KEY_B64 + 8];
    const char *p = list;
    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, ", \t\n");
        if (len >= sizeof(one)) {
            return TIX_EINVAL;
        }
        if (len > 0) {
            memcpy(one, p, len);
            one[len] = '\0';
            tix_rc rc = tix_ticket_keyring_add_public(kr, one);
            if (rc != TIX_OK) {
                return rc;
            }
        }
        p += len;
        p += *p != '\0';
    }
    return TIX_OK;
}

void tix_ticket_seed_new(char out[TIX_TICKET_KEY_B64])
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof(seed));
    sodium_bin2base64(out, TIX_TICKET_KEY_B64, seed, sizeof(seed), B64URL);
    sodium_memzero(seed, sizeof(seed));
}

tix_rc tix_ticket_keyring_load_file(tix_ticket_keyring *kr, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char seed[TIX_TICKET_KEY_B64];
        tix_ticket_seed_new(seed);
        size_t len = strlen(seed);
        seed[len] = '\n';
        bool ok = write(fd, seed, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
        sodium_memzero(seed, sizeof(seed));
        if (close(fd) != 0 || !ok) {
            (void)unlink(path);
            return TIX_EUNAVAIL;
        }
    } else if (errno != EEXIST) {
        return TIX_EUNAVAIL;
    }
    /* Read what is there (ours or another process's). A writer racing us may not have written
     * yet: a short wait (up to 1 s) covers it. */
    char buf[TIX_TICKET_KEY_B64 + 8];
    for (int attempt = 0; attempt < 50; attempt++) {
        FILE *f = fopen(path, "re");
        if (f == NULL) {
            return TIX_EUNAVAIL;
        }
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        (void)fclose(f);
        buf[n] = '\0';
        /* our writer ends the seed with a newline; a file written by hand may not have one,
         * so the last attempt takes what is there */
        if (n > 0 && (buf[n - 1] == '\n' || attempt == 49)) {
            tix_rc rc = tix_ticket_keyring_set_secret(kr, buf);
            sodium_memzero(buf, sizeof(buf));
            return rc;
        }
        (void)usleep(20000);
    }
    return TIX_EINVAL;
}

tix_rc tix_ticket_public(const tix_ticket_keyring *kr, char kid[TIX_TICKET_KID_LEN + 1],
                         char pk_b64[TIX_TICKET_KEY_B64])
{
    if (!kr->has_secret || kr->n < 1) {
        return TIX_ENOTFOUND;
    }
    memcpy(kid, kr->keys[0].kid, TIX_TICKET_KID_LEN + 1);
    sodium_bin2base64(pk_b64, TIX_TICKET_KEY_B64, kr->keys[0].pk, 32, B64URL);
    return TIX_OK;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < TIX_ID_MAX;
}

tix_rc tix_ticket_token_sign(const tix_ticket_keyring *kr, const tix_ticket_claims *c, char *out,
                             size_t cap)
{
    if (!kr->has_secret || kr->n < 1) {
        return TIX_ENOTFOUND;
    }
    size_t seat = strlen(c->seat);
    if (!id_ok(c->tid) || !id_ok(c->sid) || seat == 0 || seat >= TIX_TICKET_SEAT_MAX ||
        (c->bid[0] != '\0' && !id_ok(c->bid))) {
        return TIX_EINVAL;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "tid", c->tid, "sid", c->sid, "seat", c->seat,
                          "start", (json_int_t)c->start);
    if (j == NULL) {
        return TIX_EINVAL; /* a seat label that is not UTF-8 */
    }
    if (c->bid[0] != '\0') {
        json_object_set_new(j, "bid", json_string(c->bid));
    }
    char *js = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (js == NULL) {
        return TIX_ENOMEM;
    }
    size_t jl = strlen(js);
    size_t plen = sodium_base64_encoded_len(jl, B64URL) - 1;
    size_t need = PREFIX_LEN + TIX_TICKET_KID_LEN + 1 + plen + 1 + SIG_B64_LEN + 1;
    if (plen > PAYLOAD_MAX || need > cap) {
        free(js);
        return TIX_EINVAL;
    }
    size_t n = (size_t)snprintf(out, cap, "%s%s.", PREFIX, kr->keys[0].kid);
    sodium_bin2base64(out + n, cap - n, (const unsigned char *)js, jl, B64URL);
    free(js);
    n += plen;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)out, n, kr->sk);
    out[n++] = '.';
    sodium_bin2base64(out + n, cap - n, sig, sizeof(sig), B64URL);
    return TIX_OK;
}

static bool copy_str(json_t *o, const char *key, char *dst, size_t cap, bool required)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        dst[0] = '\0';
        return !required;
    }
    if (!json_is_string(v)) {
        return false;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n >= cap || memchr(s, '\0', n) != NULL) {
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

tix_rc tix_ticket_token_verify(const tix_ticket_keyring *kr, const char *token,
                               tix_ticket_claims *out)
{
    if (token == NULL) {
        return TIX_EAUTH;
    }
    size_t len = strnlen(token, TIX_TICKET_TOKEN_MAX + 1);
    if (len > TIX_TICKET_TOKEN_MAX || len < PREFIX_LEN + TIX_TICKET_KID_LEN + 3 + SIG_B64_LEN ||
        memcmp(token, PREFIX, PREFIX_LEN) != 0 || token[PREFIX_LEN + TIX_TICKET_KID_LEN] != '.') {
        return TIX_EAUTH;
    }
    const char *kid = token + PREFIX_LEN;
    const char *payload = kid + TIX_TICKET_KID_LEN + 1;
    const char *dot = strchr(payload, '.');
    if (dot == NULL || (size_t)(token + len - (dot + 1)) != SIG_B64_LEN ||
        strchr(dot + 1, '.') != NULL) {
        return TIX_EAUTH;
    }
    size_t plen = (size_t)(dot - payload);
    if (plen == 0 || plen > PAYLOAD_MAX) {
        return TIX_EAUTH;
    }
    const tix_ticket_pubkey *key = NULL;
    for (int i = 0; i < kr->n; i++) {
        if (memcmp(kr->keys[i].kid, kid, TIX_TICKET_KID_LEN) == 0) {
            key = &kr->keys[i];
            break;
        }
    }
    unsigned char sig[crypto_sign_BYTES + 2];
    if (key == NULL ||
        tix_base64url_decode_n(sig, sizeof(sig), dot + 1, SIG_B64_LEN) != crypto_sign_BYTES ||
        crypto_sign_verify_detached(sig, (const unsigned char *)token,
                                    (unsigned long long)(dot - token), key->pk) != 0) {
        return TIX_EAUTH;
    }
    unsigned char js[PAYLOAD_MAX];
    /* strict: every character decoded, no stray trailing bits (core/util.h) */
    long jl = tix_base64url_decode_n(js, sizeof(js), payload, plen);
    if (jl <= 0) {
        return TIX_EAUTH;
    }
    json_error_t err;
    json_t *o = json_loadb((const char *)js, (size_t)jl, JSON_REJECT_DUPLICATES, &err);
    tix_ticket_claims c;
    memset(&c, 0, sizeof(c));
    json_t *start = json_object_get(o, "start");
    bool ok = json_is_object(o) && copy_str(o, "tid", c.tid, sizeof(c.tid), true) &&
              copy_str(o, "sid", c.sid, sizeof(c.sid), true) &&
              copy_str(o, "seat", c.seat, sizeof(c.seat), true) &&
              copy_str(o, "bid", c.bid, sizeof(c.bid), false) && json_is_integer(start);
    if (ok) {
        c.start = (int64_t)json_integer_value(start);
        memcpy(c.kid, key->kid, sizeof(c.kid));
        *out = c;
    }
    json_decref(o);
    return ok ? TIX_OK : TIX_EAUTH;
}
