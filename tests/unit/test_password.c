/* Unit tests for auth/password (argon2id via libsodium) at the minimum cost. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int setup_min_cost(void **state)
{
    (void)state;
    if (sodium_init() < 0) { /* as main.c does before anything else */
        return -1;
    }
    tix_password_init(TIX_PWHASH_MIN, 2);
    return 0;
}

static void hash_ok(const char *pw, char *hash)
{
    memset(hash, 0, TIX_PASSWORD_HASH_MAX);
    assert_int_equal(tix_password_hash(pw, hash), TIX_OK);
    assert_true(strlen(hash) < TIX_PASSWORD_HASH_MAX);
}

static void test_hash_format(void **state)
{
    (void)state;
    char h[TIX_PASSWORD_HASH_MAX];
    hash_ok("correct horse battery staple", h);
    assert_memory_equal(h, "$argon2id$", 10);
    assert_non_null(strstr(h, "$v=19$"));
    /* the minimum cost really is in use: 8 KiB, one pass */
    assert_non_null(strstr(h, "$m=8,t=1,"));
    /* the password is not in the hash */
    assert_null(strstr(h, "horse"));
}

static void test_verify(void **state)
{
    (void)state;
    char h[TIX_PASSWORD_HASH_MAX];
    hash_ok("correct horse battery staple", h);
    assert_true(tix_password_verify(h, "correct horse battery staple"));
    assert_false(tix_password_verify(h, "correct horse battery stapl"));
    assert_false(tix_password_verify(h, "correct horse battery staple "));
    assert_false(tix_password_verify(h, "Correct horse battery staple"));
    assert_false(tix_password_verify(h, ""));
    assert_false(tix_password_verify(h, "wrong password"));
}

static void test_salted(void **state)
{
    (void)state;
    char a[TIX_PASSWORD_HASH_MAX];
    char b[TIX_PASSWORD_HASH_MAX];
    hash_ok("same password", a);
    hash_ok("same password", b);
    assert_string_not_equal(a, b);
    /* both still verify */
    assert_true(tix_password_verify(a, "same password"));
    assert_true(tix_password_verify(b, "same password"));
}

static void test_unusual_passwords(void **state)
{
    (void)state;
    char h[TIX_PASSWORD_HASH_MAX];
    const char *utf8 = "p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x8e\xac";
    hash_ok(utf8, h);
    assert_true(tix_password_verify(h, utf8));
    assert_false(tix_password_verify(h, "passwrd"));

    char longpw[TIX_PASSWORD_MAX_CHARS * 4 + 1];
    memset(longpw, 'k', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    hash_ok(longpw, h);
    assert_true(tix_password_verify(h, longpw));
    longpw[sizeof(longpw) - 2] = 'j'; /* only the last character differs */
    assert_false(tix_password_verify(h, longpw));
}

static void test_verify_bad_hash(void **state)
{
    (void)state;
    assert_false(tix_password_verify("", "anything"));
    assert_false(tix_password_verify("not a hash", "not a hash"));
    assert_false(tix_password_verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA", "x"));
    char h[TIX_PASSWORD_HASH_MAX];
    hash_ok("hunter2hunter2", h);
    h[strlen(h) - 3] = h[strlen(h) - 3] == 'A' ? 'B' : 'A'; /* damage the digest */
    assert_false(tix_password_verify(h, "hunter2hunter2"));
}

static void test_verify_dummy(void **state)
{
    (void)state;
    /* no result to check; it must simply run (twice: the dummy hash is made once) */
    tix_password_verify_dummy("whatever");
    tix_password_verify_dummy("");
}

typedef struct worker {
    char pw[32];
    char hash[TIX_PASSWORD_HASH_MAX];
    tix_rc rc;
    bool verified;
} worker;

static void *hash_worker(void *arg)
{
    worker *w = arg;
    w->rc = tix_password_hash(w->pw, w->hash);
    w->verified = w->rc == TIX_OK && tix_password_verify(w->hash, w->pw);
    return NULL;
}

/* More threads than slots: they queue on the cap and all finish. */
static void test_concurrent_hashing(void **state)
{
    (void)state;
    enum { N = 6 };
    worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        snprintf(w[i].pw, sizeof(w[i].pw), "password-%d", i);
        w[i].rc = TIX_EDB;
        assert_int_equal(pthread_create(&t[i], NULL, hash_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(w[i].rc, TIX_OK);
        assert_true(w[i].verified);
        assert_false(tix_password_verify(w[i].hash, w[(i + 1) % N].pw));
    }
}

/* The cost can change after init; hashes made at another cost still verify. */
static void test_cost_switch(void **state)
{
    (void)state;
    char min_hash[TIX_PASSWORD_HASH_MAX];
    hash_ok("switch-me", min_hash);
    tix_password_init(TIX_PWHASH_INTERACTIVE, 2);
    char h[TIX_PASSWORD_HASH_MAX];
    hash_ok("switch-me", h);
    tix_password_init(TIX_PWHASH_MIN, 2);
    assert_non_null(strstr(h, "$m=65536,t=2,"));
    assert_true(tix_password_verify(h, "switch-me"));
    assert_true(tix_password_verify(min_hash, "switch-me"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_format),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_salted),
        cmocka_unit_test(test_unusual_passwords),
        cmocka_unit_test(test_verify_bad_hash),
        cmocka_unit_test(test_verify_dummy),
        cmocka_unit_test(test_concurrent_hashing),
        cmocka_unit_test(test_cost_switch),
    };
    return cmocka_run_group_tests(tests, setup_min_cost, NULL);
}
