/* Unit tests for auth/revocation (the per-request session check and its per-process table) on
 * a temporary SQLite database and the in-process cache. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "auth/revocation.h"
#include "cache/backends.h"
#include "cache/cache.h"
#include "core/arena.h"
#include "store/users.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    tix_test_db t;
    tix_db *db;
    tix_cache *cache;
    tix_arena *a;
    int db_asks; /* how often the check asked for the database */
    bool db_down;
} fixture;

static tix_db *get_db(void *ctx)
{
    fixture *f = ctx;
    f->db_asks++;
    return f->db_down ? NULL : f->db;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || tix_test_db_open_sqlite(&f->t, "tix-unit-revocation", 2) != 0) {
        free(f);
        return -1;
    }
    tix_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.cache_prefix, sizeof(cfg.cache_prefix), "t");
    cfg.cache_enabled = true;
    cfg.cache_max_bytes = 1 << 20;
    cfg.cache_ttl_ms = 60000;
    int applied = 0;
    if (tix_db_acquire(f->t.pool, &f->db) != TIX_OK || tix_db_migrate(f->db, &applied) != TIX_OK ||
        tix_cache_local_create(&cfg, &f->cache) != TIX_OK) {
        return -1;
    }
    f->a = tix_arena_create(0);
    tix_revocation_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tix_db_release(f->t.pool, f->db);
    tix_test_db_close(&f->t);
    tix_cache_destroy(f->cache);
    tix_arena_destroy(f->a);
    free(f);
    return 0;
}

/* A user usr_1 with one live session ses_1 (and a revoked one, ses_old). */
static void seed(fixture *f)
{
    tix_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "usr_1");
    snprintf(u.email, sizeof(u.email), "a@example.com");
    snprintf(u.name, sizeof(u.name), "A");
    snprintf(u.password_hash, sizeof(u.password_hash), "!");
    u.created_at = 1;
    assert_int_equal(tix_user_insert(f->db, &u), TIX_OK);
    assert_int_equal(tix_refresh_insert(f->db, "rt_1", "usr_1", "ses_1", "h1", 1, INT64_MAX),
                     TIX_OK);
    assert_int_equal(tix_refresh_insert(f->db, "rt_2", "usr_1", "ses_old", "h2", 1, INT64_MAX),
                     TIX_OK);
    assert_int_equal(tix_refresh_revoke_family(f->db, "ses_old", 2), TIX_OK);
}

static tix_claims claims(const char *sub, const char *sid, int64_t epoch)
{
    tix_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.sid, sizeof(c.sid), "%s", sid);
    c.epoch = epoch;
    return c;
}

static tix_rc check(fixture *f, const tix_claims *c)
{
    return tix_revocation_check(f->cache, f->a, c, get_db, f, NULL);
}

/* The same, with the user's locale into locale (TIX_LOCALE_MAX bytes). */
static tix_rc check_locale(fixture *f, const tix_claims *c, char *locale)
{
    return tix_revocation_check(f->cache, f->a, c, get_db, f, locale);
}

static void test_live_revoked_unknown(void **state)
{
    fixture *f = *state;
    seed(f);
    tix_claims ok = claims("usr_1", "ses_1", 0);
    tix_claims old_session = claims("usr_1", "ses_old", 0);
    tix_claims other_users_session = claims("usr_2", "ses_1", 0);
    tix_claims old_epoch = claims("usr_1", "ses_1", 1);
    assert_int_equal(check(f, &ok), TIX_OK);
    assert_int_equal(check(f, &old_session), TIX_EFORBIDDEN);
    assert_int_equal(check(f, &old_epoch), TIX_EFORBIDDEN);
    assert_int_equal(check(f, &other_users_session), TIX_ENOTFOUND);
    tix_claims unknown_session = claims("usr_1", "ses_none", 0);
    assert_int_equal(check(f, &unknown_session), TIX_EFORBIDDEN);
}

static void test_cached_until_changed(void **state)
{
    fixture *f = *state;
    seed(f);
    tix_claims c = claims("usr_1", "ses_1", 0);
    assert_int_equal(check(f, &c), TIX_OK);
    int asks = f->db_asks;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(check(f, &c), TIX_OK);
    }
    assert_int_equal(f->db_asks, asks); /* answered from the table */
    /* logout: the family revoked, then the change announced */
    assert_int_equal(tix_refresh_revoke_family(f->db, "ses_1", 3), TIX_OK);
    tix_revocation_changed(f->cache, f->a, "usr_1");
    assert_int_equal(check(f, &c), TIX_EFORBIDDEN);
    assert_int_equal(f->db_asks, asks + 1);
}

static void test_epoch_and_disabled(void **state)
{
    fixture *f = *state;
    seed(f);
    tix_claims c = claims("usr_1", "ses_1", 0);
    assert_int_equal(check(f, &c), TIX_OK);
    assert_int_equal(tix_user_set_role(f->db, "usr_1", TIX_ROLE_OWNER, 5), TIX_OK);
    tix_revocation_changed(f->cache, f->a, "usr_1");
    assert_int_equal(check(f, &c), TIX_EFORBIDDEN);
    tix_claims next = claims("usr_1", "ses_1", 1);
    assert_int_equal(check(f, &next), TIX_OK);
    assert_int_equal(tix_user_set_disabled(f->db, "usr_1", true, 6), TIX_OK);
    tix_revocation_changed(f->cache, f->a, "usr_1");
    tix_claims after = claims("usr_1", "ses_1", 2);
    assert_int_equal(check(f, &next), TIX_EFORBIDDEN);
    assert_int_equal(check(f, &after), TIX_EFORBIDDEN); /* disabled, whatever the epoch */
    assert_int_equal(tix_user_set_disabled(f->db, "usr_1", false, 7), TIX_OK);
    tix_revocation_changed(f->cache, f->a, "usr_1");
    assert_int_equal(check(f, &after), TIX_OK);
}

/* The saved locale comes with the answer: from the database on a miss, from the table on a
 * hit, and read again once a change is announced. */
static void test_locale(void **state)
{
    fixture *f = *state;
    seed(f);
    tix_claims c = claims("usr_1", "ses_1", 0);
    char locale[TIX_LOCALE_MAX] = "xx";
    int asks = f->db_asks;
    assert_int_equal(check_locale(f, &c, locale), TIX_OK);
    assert_string_equal(locale, ""); /* none saved */
    assert_int_equal(f->db_asks, asks + 1);

    assert_int_equal(tix_user_set_profile(f->db, "usr_1", NULL, "hi", 4), TIX_OK);
    tix_revocation_changed(f->cache, f->a, "usr_1");
    assert_int_equal(check_locale(f, &c, locale), TIX_OK);
    assert_string_equal(locale, "hi"); /* a miss: read with the session */
    assert_int_equal(f->db_asks, asks + 2);

    /* changed behind the check's back (no announcement): the table answers, as it was */
    assert_int_equal(tix_user_set_profile(f->db, "usr_1", NULL, "ta", 5), TIX_OK);
    memset(locale, 0, sizeof(locale));
    assert_int_equal(check_locale(f, &c, locale), TIX_OK);
    assert_string_equal(locale, "hi");
    assert_int_equal(f->db_asks, asks + 2); /* a hit */

    /* announced, as PATCH /me does after its commit: read again */
    tix_revocation_changed(f->cache, f->a, "usr_1");
    assert_int_equal(check_locale(f, &c, locale), TIX_OK);
    assert_string_equal(locale, "ta");
    assert_int_equal(f->db_asks, asks + 3);

    /* without a cache, straight from the database */
    assert_int_equal(tix_user_set_profile(f->db, "usr_1", NULL, "en", 6), TIX_OK);
    assert_int_equal(tix_revocation_check(NULL, f->a, &c, get_db, f, locale), TIX_OK);
    assert_string_equal(locale, "en");

    /* a refused session gives no locale: the buffer is left as it was */
    tix_claims old_session = claims("usr_1", "ses_old", 0);
    snprintf(locale, sizeof(locale), "zz");
    assert_int_equal(check_locale(f, &old_session, locale), TIX_EFORBIDDEN);
    assert_string_equal(locale, "zz");
}

/* Without a cache every check asks the database; without a database none succeeds. */
static void test_never_open(void **state)
{
    fixture *f = *state;
    seed(f);
    tix_claims c = claims("usr_1", "ses_1", 0);
    assert_int_equal(check(f, &c), TIX_OK);
    f->db_down = true;
    /* cached: still answered while the counter can be read */
    assert_int_equal(check(f, &c), TIX_OK);
    /* no cache (Redis down): the database, which is down too: refused */
    int asks = f->db_asks;
    assert_int_equal(tix_revocation_check(NULL, f->a, &c, get_db, f, NULL), TIX_EUNAVAIL);
    assert_int_equal(f->db_asks, asks + 1);
    f->db_down = false;
    assert_int_equal(tix_refresh_revoke_family(f->db, "ses_1", 3), TIX_OK);
    /* not announced through the cache (a lost bump), but the database is asked */
    assert_int_equal(tix_revocation_check(NULL, f->a, &c, get_db, f, NULL), TIX_EFORBIDDEN);
    /* and a lost bump lives at most TIX_REVOCATION_TTL_MS in the table */
    tix_test_sleep_ms(TIX_REVOCATION_TTL_MS + 50);
    assert_int_equal(check(f, &c), TIX_EFORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_revoked_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_until_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_and_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locale, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
