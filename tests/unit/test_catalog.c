/* Unit tests for the catalogue service (catalog/catalog.h) on a temporary SQLite database,
 * without HTTP: its rules answer with a tix_rc and a tix_catalog_refusal the API can map, and a
 * refused write changes nothing. Also what the API cannot reach: a completed show (the API
 * schedules only in the future) is not cancelled. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "catalog/catalog.h"
#include "core/arena.h"
#include "core/util.h"
#include "store/catalog.h"
#include "store/users.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600LL * 1000)

typedef struct fixture {
    tix_test_db t;
    tix_db *db;
    tix_arena *a;
    tix_principal owner;
    tix_principal other;
    tix_principal admin;
} fixture;

static tix_principal seed_user(fixture *f, const char *id, tix_role role)
{
    tix_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.email, sizeof(u.email), "%s@example.com", id);
    snprintf(u.name, sizeof(u.name), "%s", id);
    snprintf(u.password_hash, sizeof(u.password_hash), "!");
    u.role = role;
    u.created_at = 1;
    assert_int_equal(tix_user_insert(f->db, &u), TIX_OK);
    tix_principal p = {.authenticated = true, .role = role};
    snprintf(p.user_id, sizeof(p.user_id), "%s", id);
    return p;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || tix_test_db_open_sqlite(&f->t, "tix-unit-catalog", 1) != 0) {
        free(f);
        return -1;
    }
    int applied = 0;
    if (tix_db_acquire(f->t.pool, &f->db) != TIX_OK || tix_db_migrate(f->db, &applied) != TIX_OK) {
        return -1;
    }
    f->a = tix_arena_create(0);
    f->owner = seed_user(f, "usr_owner", TIX_ROLE_OWNER);
    f->other = seed_user(f, "usr_other", TIX_ROLE_OWNER);
    f->admin = seed_user(f, "usr_admin", TIX_ROLE_ADMIN);
    (void)seed_user(f, "usr_plain", TIX_ROLE_USER);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tix_db_release(f->t.pool, f->db);
    tix_test_db_close(&f->t);
    tix_arena_destroy(f->a);
    free(f);
    return 0;
}

static tix_catalog_ctx as(fixture *f, const tix_principal *who)
{
    return (tix_catalog_ctx){f->db, f->a, &f->t.cfg, NULL, who};
}

static void build_layout(const char *json, tix_layout *l)
{
    json_t *j = tix_test_json(json);
    tix_layout_error err;
    assert_int_equal(tix_layout_build(j, l, &err), TIX_OK);
    json_decref(j);
}

/* The owner's theatre, still pending (onboarding), with one hall of two categories (gold,
 * silver) and an active movie. */
static void pending_venue(fixture *f, tix_theatre *t, tix_hall *h, tix_movie *m)
{
    tix_catalog_ctx c = as(f, &f->owner);
    tix_catalog_refusal why;
    *t = (tix_theatre){.name = "T", .city = "pune", .address = "A", .utc_offset_minutes = 330};
    assert_int_equal(tix_catalog_theatre_create(&c, t, NULL, &why), TIX_OK);
    assert_string_equal(t->owner_id, "usr_owner");
    tix_layout l;
    build_layout("{\"rows\":[{\"label\":\"A\",\"seats\":4,\"category\":\"gold\"},"
                 "{\"label\":\"B\",\"seats\":4,\"category\":\"silver\"}]}",
                 &l);
    assert_int_equal(tix_catalog_hall_create(&c, t, "H", &l, h), TIX_OK);
    tix_layout_cleanup(&l);
    tix_catalog_ctx ac = as(f, &f->admin);
    tix_movie_change mc = {.title = "M",
                           .release_date = "2026-01-01",
                           .certificate = "U",
                           .has_duration = true,
                           .duration_minutes = 100};
    assert_int_equal(tix_catalog_movie_create(&ac, &mc, m), TIX_OK);
}

/* pending_venue, approved by the admin: open for shows. */
static void venue(fixture *f, tix_theatre *t, tix_hall *h, tix_movie *m)
{
    pending_venue(f, t, h, m);
    tix_catalog_ctx ac = as(f, &f->admin);
    tix_catalog_refusal why;
    tix_theatre approved;
    assert_int_equal(tix_catalog_theatre_review(&ac, t->id, true, NULL, &approved, &why), TIX_OK);
    assert_string_equal(approved.status, "approved");
}

static tix_rc schedule(fixture *f, const tix_principal *who, const char *hall_id,
                       const char *movie_id, int64_t starts_at, const tix_price_input *prices,
                       int n, tix_show *out, tix_catalog_refusal *why)
{
    tix_catalog_ctx c = as(f, who);
    tix_show_input in = {.movie_id = movie_id,
                         .hall_id = hall_id,
                         .currency = "INR",
                         .starts_at = starts_at,
                         .prices = prices,
                         .nprices = n};
    return tix_catalog_show_create(&c, &in, out, why);
}

static const tix_price_input both[] = {{"gold", true, 500}, {"silver", true, 300}};

static void test_show_rules(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_hall h;
    tix_movie m;
    tix_show s;
    tix_show s2;
    tix_catalog_refusal why;
    venue(f, &t, &h, &m);
    int64_t at = tix_now_ms() + 48 * HOUR_MS;
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s, &why), TIX_OK);
    assert_null(why.why);
    assert_non_null(s.id);

    /* the same slot, and one that starts during the first show's cleaning time */
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s2, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "show_overlap");
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, s.ends_at - 1, both, 2, &s2, &why),
                     TIX_ECONFLICT);
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, s.ends_at, both, 2, &s2, &why), TIX_OK);

    /* prices: the first problem in the order given, a wrong type as a type problem */
    int64_t later = at + 24 * HOUR_MS;
    tix_price_input typed[] = {{"gold", false, 0}, {"nosuch", true, 1}};
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, later, typed, 2, &s2, &why), TIX_EINVAL);
    assert_int_equal(why.verr.kind, TIX_VERR_TYPE);
    assert_string_equal(why.verr.field, "prices.gold");
    tix_price_input unknown[] = {{"nosuch", true, 1}, {"gold", false, 0}};
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, later, unknown, 2, &s2, &why), TIX_EINVAL);
    assert_int_equal(why.verr.kind, TIX_VERR_VALUE);
    assert_string_equal(why.verr.field, "prices.nosuch");
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, later, both, 1, &s2, &why), TIX_EINVAL);
    assert_string_equal(why.verr.field, "prices.silver");
    tix_price_input dear[] = {{"gold", true, 100000001}, {"silver", true, 1}};
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, later, dear, 2, &s2, &why), TIX_EINVAL);
    assert_string_equal(why.verr.field, "prices.gold");

    /* references and ownership */
    assert_int_equal(schedule(f, &f->owner, "hal_none", m.id, later, both, 2, &s2, &why),
                     TIX_EINVAL);
    assert_string_equal(why.verr.field, "hall_id");
    assert_int_equal(schedule(f, &f->owner, h.id, "mov_none", later, both, 2, &s2, &why),
                     TIX_EINVAL);
    assert_string_equal(why.verr.field, "movie_id");
    assert_int_equal(schedule(f, &f->other, h.id, m.id, later, both, 2, &s2, &why), TIX_EFORBIDDEN);
    assert_int_equal(schedule(f, &f->admin, h.id, m.id, later, both, 2, &s2, &why), TIX_OK);

    /* an inactive movie is not scheduled */
    tix_catalog_ctx ac = as(f, &f->admin);
    tix_movie toggled;
    assert_int_equal(tix_catalog_movie_toggle(&ac, m.id, &toggled), TIX_OK);
    assert_string_equal(toggled.status, "inactive");
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, later + 24 * HOUR_MS, both, 2, &s2, &why),
                     TIX_EINVAL);
    assert_string_equal(why.verr.field, "movie_id");
    assert_string_equal(why.verr.reason, "is not an active movie");
}

/* Onboarding: pending → rejected → pending → approved; only admins review, only an approved
 * theatre gets shows, each move from its one status. */
static void test_onboarding_rules(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_theatre got;
    tix_hall h;
    tix_movie m;
    tix_show s;
    tix_catalog_refusal why;
    pending_venue(f, &t, &h, &m);
    assert_string_equal(t.status, "pending");
    int64_t at = tix_now_ms() + 48 * HOUR_MS;
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "theatre_not_approved");
    assert_int_equal(schedule(f, &f->admin, h.id, m.id, at, both, 2, &s, &why), TIX_ECONFLICT);
    bool any = true;
    assert_int_equal(tix_catalog_future_shows(f->db, h.id, NULL, NULL, 0, &any), TIX_OK);
    assert_false(any);

    /* only an admin reviews: not the owner, not another owner, not anonymous */
    tix_catalog_ctx oc = as(f, &f->owner);
    tix_catalog_ctx xc = as(f, &f->other);
    tix_catalog_ctx ac = as(f, &f->admin);
    tix_principal nobody = {0};
    tix_catalog_ctx nc = as(f, &nobody);
    assert_int_equal(tix_catalog_theatre_review(&oc, t.id, true, NULL, &got, &why), TIX_EFORBIDDEN);
    assert_int_equal(tix_catalog_theatre_review(&xc, t.id, false, "x", &got, &why), TIX_EFORBIDDEN);
    assert_int_equal(tix_catalog_theatre_review(&nc, t.id, true, NULL, &got, &why), TIX_EAUTH);
    assert_int_equal(tix_catalog_theatre_review(&ac, "thr_none", true, NULL, &got, &why),
                     TIX_ENOTFOUND);

    /* submit starts from rejected only */
    assert_int_equal(tix_catalog_theatre_submit(&oc, t.id, &got, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "invalid_transition");
    assert_string_equal(why.status, "pending");
    assert_int_equal(tix_catalog_theatre_review(&ac, t.id, false, "No licence", &got, &why),
                     TIX_OK);
    assert_string_equal(got.status, "rejected");
    assert_string_equal(got.rejection_reason, "No licence");
    assert_true(got.reviewed_at > 0);
    assert_int_equal(tix_catalog_theatre_review(&ac, t.id, true, NULL, &got, &why), TIX_ECONFLICT);
    assert_string_equal(why.status, "rejected");
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "theatre_not_approved");
    /* another owner does not see a theatre that is not approved, nor its hall (404, not 403) */
    assert_int_equal(tix_catalog_theatre_submit(&xc, t.id, &got, &why), TIX_ENOTFOUND);
    assert_int_equal(tix_catalog_theatre_for_change(&xc, t.id, &got), TIX_ENOTFOUND);
    tix_hall hl;
    assert_int_equal(tix_catalog_hall_for_change(&xc, h.id, &hl), TIX_ENOTFOUND);
    assert_int_equal(schedule(f, &f->other, h.id, m.id, at, both, 2, &s, &why), TIX_EINVAL);
    assert_string_equal(why.verr.field, "hall_id");
    assert_int_equal(tix_catalog_theatre_submit(&oc, t.id, &got, &why), TIX_OK);
    assert_string_equal(got.status, "pending");
    assert_null(got.rejection_reason);

    /* approved: final, and open for shows */
    assert_int_equal(tix_catalog_theatre_review(&ac, t.id, true, NULL, &got, &why), TIX_OK);
    assert_string_equal(got.status, "approved");
    assert_int_equal(tix_catalog_theatre_review(&ac, t.id, false, "late", &got, &why),
                     TIX_ECONFLICT);
    assert_string_equal(why.status, "approved");
    assert_int_equal(tix_catalog_theatre_submit(&oc, t.id, &got, &why), TIX_ECONFLICT);
    assert_int_equal(tix_theatre_get(f->db, f->a, t.id, &got), TIX_OK);
    assert_string_equal(got.status, "approved");
    assert_null(got.rejection_reason);
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s, &why), TIX_OK);
    assert_int_equal(tix_catalog_theatre_for_change(&xc, t.id, &got), TIX_EFORBIDDEN);

    /* who sees what */
    assert_true(tix_catalog_theatre_visible(&nobody, "approved", "usr_owner"));
    assert_false(tix_catalog_theatre_visible(&nobody, "pending", "usr_owner"));
    assert_false(tix_catalog_theatre_visible(&f->other, "rejected", "usr_owner"));
    assert_true(tix_catalog_theatre_visible(&f->owner, "rejected", "usr_owner"));
    assert_true(tix_catalog_theatre_visible(&f->admin, "pending", "usr_owner"));
}

static void test_completed_show_is_not_cancelled(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_hall h;
    tix_movie m;
    tix_show s;
    tix_catalog_refusal why;
    venue(f, &t, &h, &m);
    /* the service takes any start; only the API insists on the future */
    int64_t at = tix_now_ms() - 48 * HOUR_MS;
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, both, 2, &s, &why), TIX_OK);
    tix_catalog_ctx c = as(f, &f->owner);
    assert_int_equal(tix_catalog_show_cancel(&c, s.id, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "show_completed");
    tix_show got;
    assert_int_equal(tix_show_get(f->db, f->a, s.id, &got), TIX_OK);
    assert_false(got.cancelled);
    tix_catalog_ctx oc = as(f, &f->other);
    assert_int_equal(tix_catalog_show_cancel(&oc, s.id, &why), TIX_EFORBIDDEN);
    assert_int_equal(tix_catalog_show_cancel(&c, "shw_none", &why), TIX_ENOTFOUND);
}

static void test_layout_and_running_time_rules(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_hall h;
    tix_movie m;
    tix_show s;
    tix_catalog_refusal why;
    venue(f, &t, &h, &m);
    assert_int_equal(
        schedule(f, &f->owner, h.id, m.id, tix_now_ms() + 48 * HOUR_MS, both, 2, &s, &why), TIX_OK);

    tix_catalog_ctx c = as(f, &f->owner);
    tix_hall loaded;
    assert_int_equal(tix_catalog_hall_for_change(&c, h.id, &loaded), TIX_OK);
    tix_layout vip;
    build_layout("{\"rows\":[{\"label\":\"A\",\"seats\":2,\"category\":\"vip\"}]}", &vip);
    assert_int_equal(tix_catalog_hall_update(&c, &loaded, "New name", &vip, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "hall_category_unpriced");
    assert_string_equal(why.category, "vip");
    tix_layout_cleanup(&vip);
    tix_hall now;
    assert_int_equal(tix_hall_get(f->db, f->a, h.id, &now), TIX_OK);
    assert_string_equal(now.name, "H");
    assert_int_equal(now.seat_count, 8);

    tix_catalog_ctx oc = as(f, &f->other);
    assert_int_equal(tix_catalog_hall_for_change(&oc, h.id, &loaded), TIX_EFORBIDDEN);

    tix_catalog_ctx ac = as(f, &f->admin);
    tix_movie out;
    tix_movie_change longer = {.has_duration = true, .duration_minutes = 150};
    assert_int_equal(tix_catalog_movie_update(&ac, m.id, &longer, &out, &why), TIX_ECONFLICT);
    assert_string_equal(why.why, "movie_has_shows");
    tix_movie_change same = {.title = "M2", .has_duration = true, .duration_minutes = 100};
    assert_int_equal(tix_catalog_movie_update(&ac, m.id, &same, &out, &why), TIX_OK);
    assert_string_equal(out.title, "M2");
}

static void test_theatre_rules(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_hall h;
    tix_movie m;
    tix_show s;
    tix_catalog_refusal why;
    venue(f, &t, &h, &m);
    assert_int_equal(
        schedule(f, &f->owner, h.id, m.id, tix_now_ms() + 48 * HOUR_MS, both, 2, &s, &why), TIX_OK);

    tix_catalog_ctx c = as(f, &f->owner);
    tix_theatre nt = {.name = "N", .city = "pune", .address = "A"};
    assert_int_equal(tix_catalog_theatre_create(&c, &nt, "usr_other", &why), TIX_EFORBIDDEN);
    assert_string_equal(why.why, "theatre_for_other_owner");
    tix_catalog_ctx ac = as(f, &f->admin);
    assert_int_equal(tix_catalog_theatre_create(&ac, &nt, "usr_plain", &why), TIX_EINVAL);
    assert_string_equal(why.verr.field, "owner_id");
    assert_int_equal(tix_catalog_theatre_create(&ac, &nt, "usr_none", &why), TIX_EINVAL);
    assert_int_equal(tix_catalog_theatre_create(&ac, &nt, "usr_other", &why), TIX_OK);
    assert_string_equal(nt.owner_id, "usr_other");

    /* deleting the theatre cancels its future show with it */
    tix_catalog_ctx oc = as(f, &f->other);
    assert_int_equal(tix_catalog_theatre_delete(&oc, t.id, &why), TIX_EFORBIDDEN);
    assert_int_equal(tix_catalog_theatre_delete(&c, t.id, &why), TIX_OK);
    tix_show got;
    assert_int_equal(tix_show_get(f->db, f->a, s.id, &got), TIX_OK);
    assert_true(got.cancelled);
    assert_int_equal(tix_catalog_theatre_for_change(&c, t.id, &nt), TIX_ENOTFOUND);
    assert_false(tix_db_in_tx(f->db));
}

/* store: tix_movie_get_many reads several movies in one statement (GraphQL's batch): the ones
 * found, in id order, unknown and deleted ids left out, duplicates once; none asked, none
 * read; more than the limit refused. */
static void test_movie_get_many(void **state)
{
    fixture *f = *state;
    tix_catalog_ctx ac = as(f, &f->admin);
    tix_movie m[3];
    const char *titles[] = {"One", "Two", "Three"};
    for (int i = 0; i < 3; i++) {
        tix_movie_change mc = {.title = titles[i],
                               .release_date = "2026-01-01",
                               .certificate = "U",
                               .has_duration = true,
                               .duration_minutes = 90};
        assert_int_equal(tix_catalog_movie_create(&ac, &mc, &m[i]), TIX_OK);
    }
    assert_int_equal(tix_movie_soft_delete(f->db, m[1].id, 5), TIX_OK);
    const char *ids[] = {m[2].id, "mov_nope", m[1].id, m[0].id, m[2].id};
    tix_movie *got = NULL;
    int n = -1;
    assert_int_equal(tix_movie_get_many(f->db, f->a, ids, 5, &got, &n), TIX_OK);
    assert_int_equal(n, 2);
    int first = strcmp(m[0].id, m[2].id) < 0 ? 0 : 2; /* id order */
    assert_string_equal(got[0].id, m[first].id);
    assert_string_equal(got[1].id, m[2 - first].id);
    assert_string_equal(got[0].title, titles[first]);
    assert_int_equal(tix_movie_get_many(f->db, f->a, ids, 0, &got, &n), TIX_OK);
    assert_int_equal(n, 0);
    const char *many[TIX_MOVIE_GET_MANY_MAX + 1];
    for (int i = 0; i <= TIX_MOVIE_GET_MANY_MAX; i++) {
        many[i] = m[0].id;
    }
    assert_int_equal(tix_movie_get_many(f->db, f->a, many, TIX_MOVIE_GET_MANY_MAX, &got, &n),
                     TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tix_movie_get_many(f->db, f->a, many, TIX_MOVIE_GET_MANY_MAX + 1, &got, &n),
                     TIX_EINVAL);
}

/* store: tix_show_list with price_range reads each listed show's cheapest and dearest price in
 * the list's own statement (GET /shows?display_currency=); -1 for a show without prices; the
 * plain list leaves both 0. */
static void test_show_list_price_range(void **state)
{
    fixture *f = *state;
    tix_theatre t;
    tix_hall h;
    tix_movie m;
    tix_show s[2];
    tix_catalog_refusal why;
    venue(f, &t, &h, &m);
    int64_t at = tix_now_ms() + 48 * HOUR_MS;
    tix_price_input cheap[] = {{"gold", true, 900}, {"silver", true, 250}};
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at, cheap, 2, &s[0], &why), TIX_OK);
    assert_int_equal(schedule(f, &f->owner, h.id, m.id, at + 24 * HOUR_MS, both, 2, &s[1], &why),
                     TIX_OK);
    char bare_id[] = "shw_bare";
    tix_show bare = s[1];
    bare.id = bare_id;
    bare.starts_at = at + 48 * HOUR_MS;
    bare.ends_at = bare.starts_at + HOUR_MS;
    assert_int_equal(tix_show_insert(f->db, &bare, NULL, 0), TIX_OK);

    tix_show_filter sf = {.hall_id = h.id, .limit = 10, .price_range = true};
    tix_show *items = NULL;
    int n = 0;
    assert_int_equal(tix_show_list(f->db, f->a, &sf, &items, &n), TIX_OK);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].id, s[0].id);
    assert_int_equal(items[0].price_min, 250);
    assert_int_equal(items[0].price_max, 900);
    assert_string_equal(items[0].currency, "INR");
    assert_int_equal(items[1].price_min, 300);
    assert_int_equal(items[1].price_max, 500);
    assert_string_equal(items[2].id, "shw_bare");
    assert_int_equal(items[2].price_min, -1);
    assert_int_equal(items[2].price_max, -1);
    assert_string_equal(items[2].hall_name, items[1].hall_name); /* the other columns as ever */

    sf.price_range = false;
    assert_int_equal(tix_show_list(f->db, f->a, &sf, &items, &n), TIX_OK);
    assert_int_equal(n, 3);
    assert_int_equal(items[0].price_min, 0);
    assert_int_equal(items[0].price_max, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_show_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_onboarding_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completed_show_is_not_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_and_running_time_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_theatre_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_movie_get_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_list_price_range, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
