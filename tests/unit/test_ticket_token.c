/* Unit tests for booking/ticket_token: Ed25519 ticket tokens, keyrings and key rotation. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "booking/ticket_token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* RFC 8032 test 1's seed, base64url */
#define SEED_A "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

static tix_ticket_claims sample(void)
{
    tix_ticket_claims c;
    memset(&c, 0, sizeof(c));
    strcpy(c.tid, "tkt_01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(c.sid, "shw_01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(c.seat, "C12");
    strcpy(c.bid, "bkg_01JABCDEFGHJKMNPQRSTVWXYZ0");
    c.start = 1764000000;
    return c;
}

static void keyring(tix_ticket_keyring *kr, const char *seed)
{
    assert_int_equal(tix_ticket_keyring_set_secret(kr, seed), TIX_OK);
}

static void test_roundtrip(void **state)
{
    (void)state;
    tix_ticket_keyring kr;
    keyring(&kr, SEED_A);
    tix_ticket_claims c = sample();
    char tok[TIX_TICKET_TOKEN_MAX];
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_OK);
    assert_memory_equal(tok, "t1.", 3);
    /* deterministic: the same ticket gives the same token */
    char again[TIX_TICKET_TOKEN_MAX];
    assert_int_equal(tix_ticket_token_sign(&kr, &c, again, sizeof(again)), TIX_OK);
    assert_string_equal(tok, again);
    tix_ticket_claims out;
    assert_int_equal(tix_ticket_token_verify(&kr, tok, &out), TIX_OK);
    assert_string_equal(out.tid, c.tid);
    assert_string_equal(out.sid, c.sid);
    assert_string_equal(out.seat, "C12");
    assert_string_equal(out.bid, c.bid);
    assert_int_equal(out.start, 1764000000);
    assert_string_equal(out.kid, kr.keys[0].kid);
    /* RFC 8032 test 1's public key: d75a98...; its kid is stable */
    char kid[TIX_TICKET_KID_LEN + 1];
    char pk[TIX_TICKET_KEY_B64];
    assert_int_equal(tix_ticket_public(&kr, kid, pk), TIX_OK);
    assert_string_equal(pk, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    assert_int_equal(strlen(kid), TIX_TICKET_KID_LEN);
    /* no booking id: the member is left out and comes back empty */
    c.bid[0] = '\0';
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_OK);
    assert_int_equal(tix_ticket_token_verify(&kr, tok, &out), TIX_OK);
    assert_string_equal(out.bid, "");
}

static void test_wrong_key_and_kid(void **state)
{
    (void)state;
    tix_ticket_keyring a;
    tix_ticket_keyring b;
    char seed_b[TIX_TICKET_KEY_B64];
    keyring(&a, SEED_A);
    tix_ticket_seed_new(seed_b);
    keyring(&b, seed_b);
    tix_ticket_claims c = sample();
    char tok[TIX_TICKET_TOKEN_MAX];
    tix_ticket_claims out;
    assert_int_equal(tix_ticket_token_sign(&a, &c, tok, sizeof(tok)), TIX_OK);
    /* another key: its kid is unknown */
    assert_int_equal(tix_ticket_token_verify(&b, tok, &out), TIX_EAUTH);
    /* the kid rewritten to b's: the signature (over the kid too) does not hold */
    memcpy(tok + 3, b.keys[0].kid, TIX_TICKET_KID_LEN);
    assert_int_equal(tix_ticket_token_verify(&b, tok, &out), TIX_EAUTH);
    /* a ring whose public key under a's kid is b's key: the signature fails */
    tix_ticket_keyring forged = b;
    memcpy(forged.keys[0].kid, a.keys[0].kid, sizeof(forged.keys[0].kid));
    assert_int_equal(tix_ticket_token_sign(&a, &c, tok, sizeof(tok)), TIX_OK);
    assert_int_equal(tix_ticket_token_verify(&forged, tok, &out), TIX_EAUTH);
}

static void test_rotation(void **state)
{
    (void)state;
    tix_ticket_keyring old;
    tix_ticket_keyring now;
    char seed[TIX_TICKET_KEY_B64];
    char kid[TIX_TICKET_KID_LEN + 1];
    char pk_old[TIX_TICKET_KEY_B64];
    keyring(&old, SEED_A);
    tix_ticket_seed_new(seed);
    keyring(&now, seed);
    assert_int_equal(tix_ticket_public(&old, kid, pk_old), TIX_OK);
    tix_ticket_claims c = sample();
    char tok[TIX_TICKET_TOKEN_MAX];
    tix_ticket_claims out;
    assert_int_equal(tix_ticket_token_sign(&old, &c, tok, sizeof(tok)), TIX_OK);
    assert_int_equal(tix_ticket_token_verify(&now, tok, &out), TIX_EAUTH);
    char list[200];
    snprintf(list, sizeof(list), " %s, ", pk_old);
    assert_int_equal(tix_ticket_keyring_add_list(&now, list), TIX_OK);
    assert_int_equal(now.n, 2);
    assert_int_equal(tix_ticket_keyring_add_public(&now, pk_old), TIX_OK); /* no duplicate */
    assert_int_equal(now.n, 2);
    assert_int_equal(tix_ticket_token_verify(&now, tok, &out), TIX_OK);
    assert_string_equal(out.kid, kid);
    /* new tokens are signed with the current key */
    assert_int_equal(tix_ticket_token_sign(&now, &c, tok, sizeof(tok)), TIX_OK);
    assert_memory_equal(tok + 3, now.keys[0].kid, TIX_TICKET_KID_LEN);
    /* a verify-only ring cannot sign */
    tix_ticket_keyring verify_only;
    memset(&verify_only, 0, sizeof(verify_only));
    assert_int_equal(tix_ticket_keyring_add_public(&verify_only, pk_old), TIX_OK);
    assert_int_equal(tix_ticket_token_sign(&verify_only, &c, tok, sizeof(tok)), TIX_ENOTFOUND);
    assert_int_equal(tix_ticket_keyring_add_list(&verify_only, "not-a-key"), TIX_EINVAL);
}

static void test_truncated_and_tampered(void **state)
{
    (void)state;
    tix_ticket_keyring kr;
    keyring(&kr, SEED_A);
    tix_ticket_claims c = sample();
    char tok[TIX_TICKET_TOKEN_MAX];
    char bad[TIX_TICKET_TOKEN_MAX];
    tix_ticket_claims out;
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_OK);
    size_t n = strlen(tok);
    /* every truncation fails */
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, tok, i);
        bad[i] = '\0';
        assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    }
    /* every single-character change fails */
    for (size_t i = 0; i < n; i++) {
        strcpy(bad, tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    }
    /* a payload re-encoded with another seat and the old signature */
    tix_ticket_claims other = c;
    strcpy(other.seat, "C13");
    char tok2[TIX_TICKET_TOKEN_MAX];
    assert_int_equal(tix_ticket_token_sign(&kr, &other, tok2, sizeof(tok2)), TIX_OK);
    const char *sig1 = strrchr(tok, '.');
    const char *sig2 = strrchr(tok2, '.');
    snprintf(bad, sizeof(bad), "%.*s%s", (int)(sig2 - tok2), tok2, sig1);
    assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    /* non-canonical base64url: the signature's 4 unused trailing bits set (the same 64 bytes
     * decoded), or the payload's when its length leaves some; both refused */
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    strcpy(bad, tok);
    char *last = bad + n - 1;
    size_t v = (size_t)(strchr(b64u, *last) - b64u);
    assert_int_equal(v & 15, 0);
    *last = b64u[v | 1];
    assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    const char *pay = strchr(strchr(tok, '.') + 1, '.') + 1;
    size_t plen = (size_t)(strrchr(tok, '.') - pay);
    if (plen % 4 != 0) {
        strcpy(bad, tok);
        char *pl = bad + (pay - tok) + plen - 1;
        size_t pv = (size_t)(strchr(b64u, *pl) - b64u);
        *pl = b64u[pv | 1];
        assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    }
    /* extra segments, garbage, empty, NULL */
    snprintf(bad, sizeof(bad), "%s.x", tok);
    assert_int_equal(tix_ticket_token_verify(&kr, bad, &out), TIX_EAUTH);
    assert_int_equal(tix_ticket_token_verify(&kr, "", &out), TIX_EAUTH);
    assert_int_equal(tix_ticket_token_verify(&kr, NULL, &out), TIX_EAUTH);
    assert_int_equal(tix_ticket_token_verify(&kr, "t2.AAAAAAAAAAA.e30.", &out), TIX_EAUTH);
    /* too long */
    char *huge = malloc(4096);
    memset(huge, 'A', 4095);
    huge[4095] = '\0';
    memcpy(huge, tok, n);
    assert_int_equal(tix_ticket_token_verify(&kr, huge, &out), TIX_EAUTH);
    free(huge);
}

/* A payload that is signed but not the right shape is refused after the signature. */
static void test_payload_shape(void **state)
{
    (void)state;
    tix_ticket_keyring kr;
    keyring(&kr, SEED_A);
    const char *bodies[] = {
        "[]",
        "{}",
        "{\"tid\":\"t\",\"sid\":\"s\",\"seat\":\"A1\"}",
        "{\"tid\":\"t\",\"sid\":\"s\",\"seat\":\"A1\",\"start\":\"1\"}",
        "{\"tid\":\"\",\"sid\":\"s\",\"seat\":\"A1\",\"start\":1}",
        "{\"tid\":1,\"sid\":\"s\",\"seat\":\"A1\",\"start\":1}",
        "{\"tid\":\"t\",\"tid\":\"u\",\"sid\":\"s\",\"seat\":\"A1\",\"start\":1}",
        "{\"tid\":\"t\\u0000x\",\"sid\":\"s\",\"seat\":\"A1\",\"start\":1}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char tok[TIX_TICKET_TOKEN_MAX];
        size_t n = (size_t)snprintf(tok, sizeof(tok), "t1.%s.", kr.keys[0].kid);
        sodium_bin2base64(tok + n, sizeof(tok) - n, (const unsigned char *)bodies[i],
                          strlen(bodies[i]), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        n = strlen(tok);
        unsigned char sig[64];
        crypto_sign_detached(sig, NULL, (const unsigned char *)tok, n, kr.sk);
        tok[n++] = '.';
        sodium_bin2base64(tok + n, sizeof(tok) - n, sig, 64,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        tix_ticket_claims out;
        assert_int_equal(tix_ticket_token_verify(&kr, tok, &out), TIX_EAUTH);
    }
}

static void test_keys(void **state)
{
    (void)state;
    tix_ticket_keyring kr;
    tix_ticket_keyring kr64;
    keyring(&kr, SEED_A);
    /* the 64-byte form (seed + public key), standard base64 with padding, is the same key */
    char sk64[TIX_TICKET_KEY_B64 + 4];
    sodium_bin2base64(sk64, sizeof(sk64), kr.sk, 64, sodium_base64_VARIANT_ORIGINAL);
    keyring(&kr64, sk64);
    assert_memory_equal(kr.keys[0].pk, kr64.keys[0].pk, 32);
    /* a 64-byte key whose halves disagree */
    unsigned char wrong[64];
    memcpy(wrong, kr.sk, 64);
    wrong[40] ^= 1;
    sodium_bin2base64(sk64, sizeof(sk64), wrong, 64, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(tix_ticket_keyring_set_secret(&kr64, sk64), TIX_EINVAL);
    assert_int_equal(tix_ticket_keyring_set_secret(&kr64, "short"), TIX_EINVAL);
    assert_int_equal(tix_ticket_keyring_set_secret(&kr64, ""), TIX_EINVAL);
    assert_int_equal(tix_ticket_keyring_set_secret(&kr64, "!!!"), TIX_EINVAL);
    /* the longest seat label fits and comes back whole; an empty one is not signed */
    tix_ticket_claims c = sample();
    tix_ticket_claims out;
    memset(c.seat, 'x', sizeof(c.seat) - 1);
    c.seat[sizeof(c.seat) - 1] = '\0';
    char tok[TIX_TICKET_TOKEN_MAX];
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_OK);
    assert_int_equal(tix_ticket_token_verify(&kr, tok, &out), TIX_OK);
    assert_string_equal(out.seat, c.seat);
    c.seat[0] = '\0';
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_EINVAL);
    /* a buffer too small is refused, not overrun */
    c = sample();
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, 40), TIX_EINVAL);
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/tix_ticket_keyXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/ticket_signing.key", dir);
    tix_ticket_keyring a;
    tix_ticket_keyring b;
    assert_int_equal(tix_ticket_keyring_load_file(&a, path), TIX_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tix_ticket_keyring_load_file(&b, path), TIX_OK); /* the same key again */
    assert_memory_equal(a.keys[0].pk, b.keys[0].pk, 32);
    assert_int_equal(unlink(path), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(tix_ticket_keyring_load_file(&b, path), TIX_EINVAL);
    unlink(path);
    /* a seed written by hand without a newline is taken (after the wait for a racing writer) */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(SEED_A, f);
    fclose(f);
    assert_int_equal(tix_ticket_keyring_load_file(&b, path), TIX_OK);
    tix_ticket_keyring ref;
    keyring(&ref, SEED_A);
    assert_memory_equal(b.keys[0].pk, ref.keys[0].pk, 32);
    unlink(path);
    snprintf(path, sizeof(path), "%s/missing/dir/key", dir);
    assert_int_equal(tix_ticket_keyring_load_file(&b, path), TIX_EUNAVAIL);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_wrong_key_and_kid),
        cmocka_unit_test(test_rotation),      cmocka_unit_test(test_truncated_and_tampered),
        cmocka_unit_test(test_payload_shape), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_file),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
