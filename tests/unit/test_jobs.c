/*
 * Unit tests for the lifecycle jobs (src/jobs, store/jobs_store): the lease (two holders, only
 * one wins; expiry lets the other take over; renewal by the holder; release keeps the
 * schedule), claiming runs, each job against fixture rows with a chosen "now", the scheduler
 * thread with two schedulers sharing one database, and the JOB_* configuration.
 *
 * Every database case runs on a temporary SQLite file and, when TIX_TEST_PG_URL is set (a
 * postgres:// URL of a database the test may create schemas in), on PostgreSQL too, each in a
 * fresh schema dropped afterwards (as tests/unit/test_db.c does).
 */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "app.h"
#include "core/config.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/db.h"
#include "store/jobs_store.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_SIZE 4
#define MIN_MS    (60LL * 1000)
#define HOUR_MS   (3600LL * 1000)
#define DAY_MS    (24 * HOUR_MS)

typedef struct backend {
    tix_test_db t;
    tix_db *db; /* one connection held for the case */
    int64_t now;
} backend;

/* ---- configuration ---- */

/* Loads a configuration from DATABASE_URL, the two secrets and up to 8 more pairs. */
static tix_rc load_config(tix_config *cfg, const char *url, const kv *extra, char *err,
                          size_t errlen)
{
    return tix_test_load_db(cfg, url, extra, err, errlen);
}

/* ---- database helpers ---- */

static void run_ok(tix_db *db, const char *sql)
{
    if (tix_db_exec_script(db, sql) != TIX_OK) {
        fail_msg("%.120s: %s", sql, tix_db_errmsg(db));
    }
}

/* The single integer a query returns (SQL text built by the caller, no parameters). */
static int64_t scalar(tix_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t scalar(tix_db *db, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    tix_db_res *res = NULL;
    if (tix_db_exec(db, sql, NULL, 0, &res) != TIX_OK || tix_db_res_rows(res) != 1) {
        fail_msg("%s: %s", sql, tix_db_errmsg(db));
    }
    int64_t v = tix_db_res_int(res, 0, 0);
    tix_db_res_destroy(res);
    return v;
}

/* The text a query returns, copied into out ("" for none or NULL). */
static void text_of(tix_db *db, char *out, size_t cap, const char *sql)
{
    tix_db_res *res = NULL;
    if (tix_db_exec(db, sql, NULL, 0, &res) != TIX_OK) {
        fail_msg("%s: %s", sql, tix_db_errmsg(db));
    }
    const char *s = tix_db_res_rows(res) > 0 ? tix_db_res_text(res, 0, 0) : NULL;
    snprintf(out, cap, "%s", s ? s : "");
    tix_db_res_destroy(res);
}

/* ---- per-case setup ---- */

/* Holds one connection for the case and applies the migrations. */
static int start_case(backend *b)
{
    int applied = 0;
    if (tix_db_acquire(b->t.pool, &b->db) != TIX_OK) {
        return -1;
    }
    if (tix_db_migrate(b->db, &applied) != TIX_OK) {
        print_error("migrate: %s\n", tix_db_errmsg(b->db));
        return -1;
    }
    b->now = tix_now_ms();
    return 0;
}

static int setup_sqlite(void **state)
{
    backend *b = calloc(1, sizeof(*b));
    if (b == NULL || tix_test_db_open_sqlite(&b->t, "tix-unit-jobs", POOL_SIZE) != 0) {
        free(b);
        return -1;
    }
    *state = b;
    return start_case(b);
}

static int setup_pg(void **state)
{
    const char *base = tix_test_pg_base();
    *state = NULL; /* without a URL the case skips itself */
    if (base == NULL) {
        return 0;
    }
    backend *b = calloc(1, sizeof(*b));
    if (b == NULL || tix_test_db_open_pg(&b->t, base, "tix_jobs", POOL_SIZE) != 0) {
        free(b);
        return -1;
    }
    *state = b;
    return start_case(b);
}

static int teardown(void **state)
{
    backend *b = *state;
    if (b != NULL) {
        tix_db_release(b->t.pool, b->db);
        tix_test_db_close(&b->t);
        free(b);
    }
    return 0;
}

static backend *get_backend(void **state)
{
    return tix_test_state(state);
}

/* ---- leases ---- */

static bool acquire(tix_db *db, const char *holder, int64_t now, int64_t *next)
{
    bool held = false;
    int64_t nx = -1;
    assert_int_equal(tix_jobs_lease_acquire(db, "shows", holder, now, 2000, &held, &nx), TIX_OK);
    if (next != NULL) {
        *next = nx;
    }
    return held;
}

static void test_lease_one_holder_at_a_time(void **state)
{
    backend *b = get_backend(state);
    int64_t t = b->now;
    int64_t next = -1;
    assert_true(acquire(b->db, "A", t, &next)); /* free: A takes it (expires t + 2000) */
    assert_int_equal(next, 0);                  /* never run */
    assert_false(acquire(b->db, "B", t + 1, NULL));
    assert_false(acquire(b->db, "B", t + 1999, NULL));
    assert_true(acquire(b->db, "A", t + 1500, NULL));  /* renewal: now expires t + 3500 */
    assert_false(acquire(b->db, "B", t + 2500, NULL)); /* would have lapsed without it */
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM job_leases"), 1);
    /* A stops renewing: at its expiry B takes it over, and A is out. */
    assert_true(acquire(b->db, "B", t + 3500, NULL));
    assert_false(acquire(b->db, "A", t + 3600, NULL));
    char holder[16];
    text_of(b->db, holder, sizeof(holder), "SELECT holder FROM job_leases WHERE name = 'shows'");
    assert_string_equal(holder, "B");
}

static void test_claim_run_once_per_interval(void **state)
{
    backend *b = get_backend(state);
    int64_t t = b->now;
    bool claimed = false;
    assert_true(acquire(b->db, "A", t, NULL));
    /* Only the holder claims, once per due time. */
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "B", t, t + 1000, &claimed), TIX_OK);
    assert_false(claimed);
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "A", t, t + 1000, &claimed), TIX_OK);
    assert_true(claimed);
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "A", t + 999, t + 1999, &claimed), TIX_OK);
    assert_false(claimed); /* not due yet */
    int64_t next = 0;
    assert_true(acquire(b->db, "A", t + 1000, &next));
    assert_int_equal(next, t + 1000);
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "A", t + 1000, t + 2000, &claimed), TIX_OK);
    assert_true(claimed);
    /* A lapsed lease cannot be used to claim, even by its last holder. */
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "A", t + 3000, t + 4000, &claimed), TIX_OK);
    assert_false(claimed);
    /* Whoever takes it over next sees the schedule: due at t + 2000, not at once. */
    assert_true(acquire(b->db, "B", t + 3000, &next));
    assert_int_equal(next, t + 2000);
}

static void test_release_hands_over_and_keeps_schedule(void **state)
{
    backend *b = get_backend(state);
    int64_t t = b->now;
    bool claimed = false;
    int64_t next = 0;
    assert_true(acquire(b->db, "A", t, NULL));
    assert_int_equal(tix_jobs_claim_run(b->db, "shows", "A", t, t + 60000, &claimed), TIX_OK);
    assert_true(claimed);
    assert_int_equal(tix_jobs_lease_release(b->db, "shows", "B"), TIX_OK); /* not B's */
    assert_false(acquire(b->db, "B", t + 1, NULL));
    assert_int_equal(tix_jobs_lease_release(b->db, "expire", "A"), TIX_OK); /* another job's */
    assert_false(acquire(b->db, "B", t + 1, NULL));
    assert_int_equal(tix_jobs_lease_release(b->db, "shows", "A"), TIX_OK);
    assert_true(acquire(b->db, "B", t + 2, &next)); /* at once, not after the lease */
    assert_int_equal(next, t + 60000);
}

static void test_give_up_releases_every_lease_of_the_holder_only(void **state)
{
    backend *b = get_backend(state);
    bool held[8] = {false};
    int64_t next[8] = {0};
    assert_true(tix_jobs_table_count <= 8);
    assert_int_equal(tix_jobs_leases_renew(b->db, &b->t.cfg, "A", b->now, held, next), TIX_OK);
    run_ok(b->db, "UPDATE job_leases SET holder = 'C' WHERE name = 'mail'");
    assert_int_equal(tix_jobs_leases_give_up(b->db, "A"), TIX_OK);
    assert_false(tix_db_in_tx(b->db));
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM job_leases WHERE expires_at = 0"),
                     tix_jobs_table_count - 1);
    assert_int_equal(scalar(b->db, "SELECT expires_at FROM job_leases WHERE name = 'mail'"),
                     b->now + b->t.cfg.job_lease_ms); /* C's: kept */
    /* B takes every lease A gave up at once, not after the lease. */
    assert_int_equal(tix_jobs_leases_renew(b->db, &b->t.cfg, "B", b->now + 1, held, next), TIX_OK);
    for (int i = 0; i < tix_jobs_table_count; i++) {
        assert_true(held[i] == (strcmp(tix_jobs_table[i].name, "mail") != 0));
    }
}

static void test_renew_all_two_holders(void **state)
{
    backend *b = get_backend(state);
    bool held_a[8] = {false};
    bool held_b[8] = {false};
    int64_t next[8] = {0};
    assert_true(tix_jobs_table_count <= 8);
    assert_int_equal(tix_jobs_leases_renew(b->db, &b->t.cfg, "A", b->now, held_a, next), TIX_OK);
    assert_int_equal(tix_jobs_leases_renew(b->db, &b->t.cfg, "B", b->now + 10, held_b, next),
                     TIX_OK);
    for (int i = 0; i < tix_jobs_table_count; i++) {
        assert_true(held_a[i]);
        assert_false(held_b[i]);
    }
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM job_leases WHERE holder = 'A'"),
                     tix_jobs_table_count);
    /* After the lease (30 s by default) B gets them all. */
    assert_int_equal(tix_jobs_leases_renew(b->db, &b->t.cfg, "B", b->now + 30000, held_b, next),
                     TIX_OK);
    for (int i = 0; i < tix_jobs_table_count; i++) {
        assert_true(held_b[i]);
    }
}

/* ---- fixtures: one user, movie, theatre, hall with seats A1..A4, and shows around now ---- */

static void fixture_catalog(backend *b)
{
    char sql[4096];
    int64_t t = b->now;
    snprintf(sql, sizeof(sql),
             "INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)"
             " VALUES ('usr_1', 'u1@example.com', 'U', 'x', 'user', 0, 0),"
             " ('usr_2', 'u2@example.com', 'V', 'x', 'user', 0, 0);"
             "INSERT INTO movies (id, title, title_search, description, duration_minutes,"
             " release_date, languages, genres, certificate, status, created_at, updated_at)"
             " VALUES ('mov_1', 'M', 'm', 'd', 100, '2020-01-01', '[]', '[]', 'U', 'active', 0,"
             " 0);"
             "INSERT INTO theatres (id, owner_id, name, city, city_search, address,"
             " utc_offset_minutes, created_at, updated_at)"
             " VALUES ('thr_1', 'usr_1', 'T', 'C', 'c', 'A', 330, 0, 0);"
             "INSERT INTO halls (id, theatre_id, name, layout, seat_count, created_at,"
             " updated_at) VALUES ('hal_1', 'thr_1', 'H', '{}', 4, 0, 0);"
             "INSERT INTO seats (id, hall_id, label, row_label, number, x, y, category) VALUES"
             " ('hal_1_A1', 'hal_1', 'A1', 'A', 1, 0, 0, 'regular'),"
             " ('hal_1_A2', 'hal_1', 'A2', 'A', 2, 1, 0, 'regular'),"
             " ('hal_1_A3', 'hal_1', 'A3', 'A', 3, 2, 0, 'regular'),"
             " ('hal_1_A4', 'hal_1', 'A4', 'A', 4, 3, 0, 'regular');"
             "INSERT INTO shows (id, movie_id, hall_id, theatre_id, starts_at, ends_at, currency,"
             " status, created_at, updated_at) VALUES"
             " ('shw_future', 'mov_1', 'hal_1', 'thr_1', %lld, %lld, 'INR', 'scheduled', 0, 0),"
             " ('shw_started', 'mov_1', 'hal_1', 'thr_1', %lld, %lld, 'INR', 'scheduled', 0, 0),"
             " ('shw_over', 'mov_1', 'hal_1', 'thr_1', %lld, %lld, 'INR', 'scheduled', 0, 0),"
             " ('shw_ended', 'mov_1', 'hal_1', 'thr_1', %lld, %lld, 'INR', 'running', 0, 0),"
             " ('shw_off', 'mov_1', 'hal_1', 'thr_1', %lld, %lld, 'INR', 'cancelled', 0, 0);",
             (long long)(t + HOUR_MS), (long long)(t + 3 * HOUR_MS), (long long)(t - MIN_MS),
             (long long)(t + HOUR_MS), (long long)(t - 3 * HOUR_MS), (long long)(t - HOUR_MS),
             (long long)(t - 2 * HOUR_MS), (long long)t, (long long)(t - MIN_MS),
             (long long)(t + HOUR_MS));
    run_ok(b->db, sql);
}

static tix_job_ctx job_ctx(backend *b, tix_arena *a, tix_pay_provider *pay)
{
    tix_job_ctx c = {b->db, a, &b->t.cfg, pay, b->now, NULL, NULL};
    return c;
}

static void test_job_shows(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, NULL);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_shows(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "running"), 1);
    assert_int_equal(tix_job_count_get(&n, "completed"), 2);
    char s[32];
    static const char *const expect[][2] = {{"shw_future", "scheduled"},
                                            {"shw_started", "running"},
                                            {"shw_over", "completed"},
                                            {"shw_ended", "completed"},
                                            {"shw_off", "cancelled"}};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT status FROM shows WHERE id = '%s'", expect[i][0]);
        text_of(b->db, s, sizeof(s), sql);
        assert_string_equal(s, expect[i][1]);
    }
    /* Idempotent: a second run finds nothing. */
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_shows(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "running") + tix_job_count_get(&n, "completed"), 0);
    tix_arena_destroy(a);
}

/* Holds, bookings and claims on shw_future for the expire job. */
static void fixture_bookings(backend *b)
{
    char sql[4096];
    long long t = (long long)b->now;
    long long past = t - 1000;
    long long stale = t - 2 * MIN_MS; /* past the job's 60 s grace for holds */
    long long live = t + 5 * MIN_MS;
    snprintf(sql, sizeof(sql),
             "INSERT INTO holds (id, show_id, user_id, status, seat_count, amount, currency,"
             " expires_at, created_at, updated_at) VALUES"
             " ('hld_due', 'shw_future', 'usr_1', 'booked', 1, 100, 'INR', %lld, 0, 0),"
             " ('hld_live', 'shw_future', 'usr_1', 'booked', 1, 100, 'INR', %lld, 0, 0),"
             " ('hld_paid', 'shw_future', 'usr_1', 'booked', 1, 100, 'INR', %lld, 0, 0),"
             " ('hld_stale', 'shw_future', 'usr_2', 'active', 1, 100, 'INR', %lld, 0, 0),"
             " ('hld_fresh', 'shw_started', 'usr_2', 'active', 1, 100, 'INR', %lld, 0, 0);"
             "INSERT INTO bookings (id, user_id, show_id, hold_id, status, amount, currency,"
             " provider, order_id, expires_at, created_at, updated_at) VALUES"
             " ('bkg_due', 'usr_1', 'shw_future', 'hld_due', 'pending_payment', 100, 'INR',"
             " 'test', 'ord_1', %lld, 0, 0),"
             " ('bkg_live', 'usr_1', 'shw_future', 'hld_live', 'pending_payment', 100, 'INR',"
             " 'test', 'ord_2', %lld, 0, 0),"
             " ('bkg_paid', 'usr_1', 'shw_future', 'hld_paid', 'confirmed', 100, 'INR',"
             " 'test', 'ord_3', %lld, 0, 0);"
             "INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id,"
             " expires_at, created_at) VALUES"
             " ('shw_future', 'hal_1_A1', 'usr_1', 'hld_due', NULL, %lld, 0),"
             " ('shw_future', 'hal_1_A2', 'usr_2', 'hld_stale', NULL, %lld, 0),"
             " ('shw_future', 'hal_1_A3', 'usr_1', 'hld_paid', 'bkg_paid', NULL, 0),"
             " ('shw_started', 'hal_1_A1', 'usr_2', 'hld_fresh', NULL, %lld, 0);",
             past, live, past, stale, past, past, live, past, past, stale, past);
    run_ok(b->db, sql);
}

static void assert_status(tix_db *db, const char *table, const char *id, const char *want)
{
    char sql[128];
    char got[32];
    snprintf(sql, sizeof(sql), "SELECT status FROM %s WHERE id = '%s'", table, id);
    text_of(db, got, sizeof(got), sql);
    assert_string_equal(got, want);
}

static void test_job_expire(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    fixture_bookings(b);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, NULL);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_expire(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "bookings_expired"), 1);
    assert_int_equal(tix_job_count_get(&n, "holds_released"), 1);
    assert_int_equal(tix_job_count_get(&n, "holds_expired"), 2); /* hld_stale, hld_fresh */
    assert_int_equal(tix_job_count_get(&n, "holds_expiring"), 0);
    assert_int_equal(tix_job_count_get(&n, "errors"), 0);
    assert_status(b->db, "bookings", "bkg_due", "expired");
    assert_status(b->db, "bookings", "bkg_live", "pending_payment");
    assert_status(b->db, "bookings", "bkg_paid", "confirmed");
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM booking_events WHERE booking_id ="
                                   " 'bkg_due' AND to_status = 'expired' AND reason ="
                                   " 'hold expired (job)'"),
                     1);
    /* The expired booking keeps its hold's claim: a late payment may still get the seat. */
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM seat_claims WHERE hold_id = 'hld_due'"),
                     1);
    assert_status(b->db, "holds", "hld_due", "booked");
    /* The stale hold is released with its claim; the fresh one waits for the grace. */
    assert_status(b->db, "holds", "hld_stale", "released");
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM seat_claims WHERE hold_id = 'hld_stale'"),
                     0);
    assert_status(b->db, "holds", "hld_fresh", "active");
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM seat_claims WHERE expires_at IS NULL"), 1);
    /* Idempotent. */
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_expire(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "bookings_expired"), 0);
    assert_int_equal(tix_job_count_get(&n, "holds_released"), 0);
    assert_int_equal(tix_job_count_get(&n, "holds_expired"), 0);
    tix_arena_destroy(a);
}

/* Whether the claimed notices are the two holds a and b (in any order), with their users. */
static void assert_notices(const tix_jobs_hold_notice *items, int n, const char *a, const char *b)
{
    assert_int_equal(n, 2);
    bool first_a = strcmp(items[0].id, a) == 0;
    assert_string_equal(items[0].id, first_a ? a : b);
    assert_string_equal(items[1].id, first_a ? b : a);
    for (int i = 0; i < n; i++) {
        assert_non_null(items[i].user_id);
        assert_true(items[i].expires_at > 0);
    }
}

/* The hold notices' claims (migration 0025): each hold comes back from one claim only. */
static void test_hold_notice_claims(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    fixture_bookings(b);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO holds (id, show_id, user_id, status, seat_count, amount, currency,"
             " expires_at, created_at, updated_at) VALUES"
             " ('hld_soon', 'shw_future', 'usr_1', 'active', 1, 100, 'INR', %lld, 0, 0),"
             " ('hld_gone', 'shw_started', 'usr_1', 'released', 1, 100, 'INR', %lld, 0, 0)",
             (long long)(b->now + 30000), (long long)(b->now - 1000));
    run_ok(b->db, sql);
    tix_arena *a = tix_arena_create(0);
    tix_jobs_hold_notice *items = NULL;
    int n = -1;
    /* hld_soon (active) and hld_live (behind a pending_payment booking, 5 min left); not
     * hld_paid (confirmed), nor the expired or released ones */
    assert_int_equal(
        tix_jobs_holds_expiring_claim(b->db, a, b->now, b->now + 6 * MIN_MS, 100, &items, &n),
        TIX_OK);
    assert_int_equal(n, 2);
    assert_notices(items, n, "hld_soon", "hld_live");
    assert_int_equal(tix_jobs_holds_expiring_claim(b->db, a, b->now + 1000, b->now + 6 * MIN_MS,
                                                   100, &items, &n),
                     TIX_OK);
    assert_int_equal(n, 0);
    /* active and expired, never booked: hld_stale, hld_fresh; the booked hld_due is not */
    assert_int_equal(tix_jobs_holds_expired_claim(b->db, a, b->now, 100, &items, &n), TIX_OK);
    assert_int_equal(n, 2);
    assert_notices(items, n, "hld_stale", "hld_fresh");
    assert_int_equal(tix_jobs_holds_expired_claim(b->db, a, b->now + 1000, 100, &items, &n),
                     TIX_OK);
    assert_int_equal(n, 0);
    /* the limit holds, and what it left is claimed by the next call */
    snprintf(sql, sizeof(sql),
             "UPDATE holds SET expired_sent_at = NULL WHERE id IN ('hld_stale', 'hld_fresh')");
    run_ok(b->db, sql);
    assert_int_equal(tix_jobs_holds_expired_claim(b->db, a, b->now, 1, &items, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tix_jobs_holds_expired_claim(b->db, a, b->now, 1, &items, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tix_jobs_holds_expired_claim(b->db, a, b->now, 1, &items, &n), TIX_OK);
    assert_int_equal(n, 0);
    tix_arena_destroy(a);
}

/* ---- refunds, through a provider stand-in that counts its calls ---- */

typedef struct fake_pay {
    tix_pay_provider p;
    int calls;
    tix_rc rc; /* what refund answers */
    char keys[8][TIX_ID_MAX];
    int fetches;                       /* fetch_refund calls */
    tix_pay_refund_state refund_state; /* what fetch_refund answers */
} fake_pay;

static tix_rc fake_fetch_refund(tix_pay_provider *p, const char *payment_id, const char *refund_id,
                                tix_pay_refund_state *state)
{
    fake_pay *f = p->impl;
    (void)payment_id;
    f->fetches++;
    if (strcmp(refund_id, "rfnd_x") != 0) {
        return TIX_ENOTFOUND;
    }
    *state = f->refund_state;
    return TIX_OK;
}

static tix_rc fake_refund(tix_pay_provider *p, const char *payment_id, int64_t amount,
                          const char *idem_key, char refund_id[TIX_PAY_ID_MAX], bool *processed)
{
    fake_pay *f = p->impl;
    (void)payment_id;
    (void)amount;
    if (f->calls < 8) {
        snprintf(f->keys[f->calls], TIX_ID_MAX, "%s", idem_key);
    }
    f->calls++;
    if (f->rc != TIX_OK) {
        return f->rc;
    }
    snprintf(refund_id, TIX_PAY_ID_MAX, "rfnd_%d", f->calls);
    *processed = true;
    return TIX_OK;
}

static tix_rc fake_fetch(tix_pay_provider *p, const char *order_id, int64_t amount,
                         char payment_id[TIX_PAY_ID_MAX], int64_t *paid)
{
    (void)p;
    (void)order_id;
    (void)amount;
    payment_id[0] = '\0';
    *paid = -1;
    return TIX_ENOTFOUND;
}

static void fake_init(fake_pay *f)
{
    memset(f, 0, sizeof(*f));
    f->p.name = "test";
    f->p.refund = fake_refund;
    f->p.fetch_captured_payment = fake_fetch;
    f->p.impl = f;
}

static void fixture_refunds(backend *b)
{
    char sql[4096];
    long long t = (long long)b->now;
    snprintf(sql, sizeof(sql),
             "INSERT INTO refunds (id, booking_id, payment_id, amount, reason, status,"
             " provider_refund_id, attempts, created_at, updated_at) VALUES"
             " ('ref_due', 'bkg_paid', 'pay_1', 100, 'r', 'failed', NULL, 1, 0, %lld),"
             " ('ref_recent', 'bkg_paid', 'pay_1', 100, 'r', 'failed', NULL, 1, 0, %lld),"
             " ('ref_backoff', 'bkg_paid', 'pay_1', 100, 'r', 'failed', NULL, 3, 0, %lld),"
             " ('ref_backoff_ok', 'bkg_paid', 'pay_1', 100, 'r', 'failed', NULL, 3, 0, %lld),"
             " ('ref_stuck', 'bkg_paid', 'pay_1', 100, 'r', 'pending', NULL, 0, 0, %lld),"
             " ('ref_young', 'bkg_paid', 'pay_1', 100, 'r', 'pending', NULL, 0, 0, %lld),"
             " ('ref_waiting', 'bkg_paid', 'pay_1', 100, 'r', 'pending', 'rfnd_x', 1, 0, %lld),"
             " ('ref_done', 'bkg_paid', 'pay_1', 100, 'r', 'processed', 'rfnd_y', 1, 0, %lld),"
             " ('ref_spent', 'bkg_paid', 'pay_1', 100, 'r', 'failed', NULL, 20, 0, %lld);",
             t - 6 * MIN_MS, t - MIN_MS, t - 15 * MIN_MS, t - 21 * MIN_MS, t - 11 * MIN_MS,
             t - 5 * MIN_MS, t - DAY_MS, t - DAY_MS, t - DAY_MS);
    run_ok(b->db, sql);
}

static bool key_sent(const fake_pay *f, const char *id)
{
    for (int i = 0; i < f->calls && i < 8; i++) {
        if (strcmp(f->keys[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void test_job_refunds(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    fixture_bookings(b);
    fixture_refunds(b);
    fake_pay f;
    fake_init(&f);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, &f.p);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_refunds(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "retried"), 3);
    assert_int_equal(tix_job_count_get(&n, "processed"), 3);
    assert_int_equal(tix_job_count_get(&n, "failed"), 0);
    assert_int_equal(f.calls, 3);
    assert_true(key_sent(&f, "ref_due"));
    assert_true(key_sent(&f, "ref_backoff_ok"));
    assert_true(key_sent(&f, "ref_stuck"));
    assert_status(b->db, "refunds", "ref_due", "processed");
    assert_status(b->db, "refunds", "ref_stuck", "processed");
    assert_status(b->db, "refunds", "ref_recent", "failed");
    assert_status(b->db, "refunds", "ref_spent", "failed");
    assert_status(b->db, "refunds", "ref_waiting", "pending");
    tix_arena_destroy(a);
}

/* The poll job asks about ref_waiting (pending at the provider as rfnd_x for a day) only. */
static void test_job_refund_poll(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    fixture_bookings(b);
    fixture_refunds(b);
    fake_pay f;
    fake_init(&f);
    f.p.fetch_refund = fake_fetch_refund;
    f.refund_state = TIX_PAY_REFUND_PENDING;
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, &f.p);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_refund_poll(&c, &n), TIX_OK);
    assert_int_equal(f.fetches, 1);
    assert_int_equal(tix_job_count_get(&n, "checked"), 1);
    assert_int_equal(tix_job_count_get(&n, "pending"), 1);
    assert_status(b->db, "refunds", "ref_waiting", "pending");
    /* Asked a moment ago: not again before REFUND_POLL_AGE has passed. */
    memset(&n, 0, sizeof(n));
    c.now += 1000;
    assert_int_equal(tix_job_refund_poll(&c, &n), TIX_OK);
    assert_int_equal(f.fetches, 1);
    assert_int_equal(tix_job_count_get(&n, "checked"), 0);
    /* An hour on, processed at the provider: marked as its webhook would have. */
    memset(&n, 0, sizeof(n));
    c.now += b->t.cfg.refund_poll_age_ms;
    f.refund_state = TIX_PAY_REFUND_PROCESSED;
    assert_int_equal(tix_job_refund_poll(&c, &n), TIX_OK);
    assert_int_equal(f.fetches, 2);
    assert_int_equal(tix_job_count_get(&n, "processed"), 1);
    assert_status(b->db, "refunds", "ref_waiting", "processed");
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM refund_attempts WHERE"
                                   " idem_key = 'ref_waiting' AND status = 'processed'"),
                     1);
    /* A provider that settles refunds in its answer is never asked. */
    f.p.fetch_refund = NULL;
    run_ok(b->db, "UPDATE refunds SET status = 'pending', checked_at = NULL");
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_refund_poll(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "checked"), 0);
    tix_arena_destroy(a);
}

static void test_job_refunds_provider_down(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    fixture_bookings(b);
    fixture_refunds(b);
    fake_pay f;
    fake_init(&f);
    f.rc = TIX_EUNAVAIL;
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, &f.p);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    /* The first call finds the provider down: the run stops there (asking about the others
     * would only wait), the refund stays failed with one more attempt. */
    assert_int_equal(tix_job_refunds(&c, &n), TIX_EUNAVAIL);
    assert_int_equal(f.calls, 1);
    assert_int_equal(tix_job_count_get(&n, "retried"), 1);
    assert_int_equal(tix_job_count_get(&n, "failed"), 1);
    assert_true(key_sent(&f, "ref_backoff_ok")); /* the least recently tried one that is due */
    assert_int_equal(scalar(b->db, "SELECT attempts FROM refunds WHERE id = 'ref_backoff_ok'"
                                   " AND status = 'failed'"),
                     4);
    assert_int_equal(scalar(b->db, "SELECT attempts FROM refunds WHERE id = 'ref_due'"), 1);
    tix_arena_destroy(a);
}

/* ---- purge ---- */

static void test_job_purge(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    char sql[4096];
    long long t = (long long)b->now;
    snprintf(sql, sizeof(sql),
             "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status, response,"
             " created_at) VALUES ('usr_1', 'k_old', 'h', 201, '{}', %lld),"
             " ('usr_1', 'k_new', 'h', 201, '{}', %lld);"
             "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at,"
             " expires_at, used_at, revoked_at) VALUES"
             " ('rt_expired_old', 'usr_1', 'f1', 'h1', 0, %lld, NULL, NULL),"
             " ('rt_expired_recent', 'usr_1', 'f1', 'h2', 0, %lld, NULL, NULL),"
             " ('rt_revoked_old', 'usr_1', 'f2', 'h3', 0, %lld, NULL, %lld),"
             " ('rt_used_old', 'usr_1', 'f3', 'h4', 0, %lld, %lld, NULL),"
             " ('rt_live', 'usr_1', 'f3', 'h5', 0, %lld, NULL, NULL);"
             "INSERT INTO job_runs (id, name, holder, started_at) VALUES"
             " ('run_old', 'shows', 'A', %lld), ('run_new', 'shows', 'A', %lld);",
             t - 25 * HOUR_MS, t - HOUR_MS, t - 8 * DAY_MS, t - DAY_MS, t + 20 * DAY_MS,
             t - 8 * DAY_MS, t + 20 * DAY_MS, t - 8 * DAY_MS, t + 20 * DAY_MS, t - 31 * DAY_MS,
             t - DAY_MS);
    run_ok(b->db, sql);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, NULL);
    tix_job_counts n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(tix_job_purge(&c, &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "idempotency_keys"), 1);
    assert_int_equal(tix_job_count_get(&n, "refresh_tokens"), 2);
    assert_int_equal(tix_job_count_get(&n, "job_runs"), 1);
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key ="
                                   " 'k_new'"),
                     1);
    /* A used token stays until it expires: presenting it again is how theft is caught. */
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM refresh_tokens WHERE id IN"
                                   " ('rt_expired_recent', 'rt_used_old', 'rt_live')"),
                     3);
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM refresh_tokens"), 3);
    tix_arena_destroy(a);
}

/* ---- the run log ---- */

static void test_run_recorded(void **state)
{
    backend *b = get_backend(state);
    fixture_catalog(b);
    tix_arena *a = tix_arena_create(0);
    tix_job_ctx c = job_ctx(b, a, NULL);
    tix_job_counts n;
    assert_int_equal(tix_jobs_run_recorded(&c, tix_job_find("shows"), "host:1:ab", &n), TIX_OK);
    assert_int_equal(tix_job_count_get(&n, "running"), 1);
    char counts[128];
    text_of(b->db, counts, sizeof(counts), "SELECT counts FROM job_runs WHERE name = 'shows'");
    assert_string_equal(counts, "{\"running\":1,\"completed\":2}");
    assert_int_equal(scalar(b->db,
                            "SELECT COUNT(*) FROM job_runs WHERE holder = 'host:1:ab'"
                            " AND started_at = %lld AND finished_at >= started_at"
                            " AND error IS NULL",
                            (long long)b->now),
                     1);
    tix_arena_destroy(a);
}

/* ---- the scheduler: two in one process share the database like two servers ---- */

/* For each job: runs never overlap and start at least one interval apart. Returns the number
 * of runs of job, and sets *holders to how many distinct holders ran it. */
static int check_runs(tix_db *db, const char *job, int64_t interval, int *holders)
{
    char sql[256];
    tix_db_res *res = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT started_at, finished_at, holder FROM job_runs WHERE name = '%s'"
             " ORDER BY started_at",
             job);
    assert_int_equal(tix_db_exec(db, sql, NULL, 0, &res), TIX_OK);
    int n = tix_db_res_rows(res);
    *holders = n > 0 ? 1 : 0;
    for (int i = 1; i < n; i++) {
        int64_t prev_start = tix_db_res_int(res, i - 1, 0);
        int64_t prev_end = tix_db_res_int(res, i - 1, 1);
        int64_t start = tix_db_res_int(res, i, 0);
        assert_false(tix_db_res_isnull(res, i - 1, 1));
        assert_true(start >= prev_start + interval);
        assert_true(start >= prev_end);
        *holders += strcmp(tix_db_res_text(res, i, 2), tix_db_res_text(res, i - 1, 2)) != 0;
    }
    tix_db_res_destroy(res);
    return n;
}

static void test_two_schedulers(void **state)
{
    backend *b = get_backend(state);
    static tix_app app;
    fake_pay f;
    fake_init(&f);
    const kv vars[] = {{"JOB_TICK", "20ms"},
                       {"JOB_LEASE", "300ms"},
                       {"JOB_INTERVAL_SHOWS", "150ms"},
                       {"JOB_INTERVAL_EXPIRE", "100ms"},
                       {"JOB_INTERVAL_REFUNDS", "200ms"},
                       {"JOB_INTERVAL_RECONCILE", "250ms"},
                       {"JOB_INTERVAL_PURGE", "300ms"},
                       {"JOB_INTERVAL_REFUND_POLL", "350ms"},
                       {"JOB_INTERVAL_MAIL", "400ms"},
                       {"JOB_INTERVAL_RECO", "450ms"},
                       {NULL, NULL}};
    char err[256];
    memset(&app, 0, sizeof(app));
    assert_int_equal(load_config(&app.cfg, b->t.url, vars, err, sizeof(err)), TIX_OK);
    app.db = b->t.pool;
    app.pay = &f.p;
    tix_jobs *one = NULL;
    tix_jobs *two = NULL;
    assert_int_equal(tix_jobs_start(&app, &one), TIX_OK);
    tix_test_sleep_ms(100); /* one takes every lease first */
    assert_int_equal(tix_jobs_start(&app, &two), TIX_OK);
    tix_test_sleep_ms(1100);
    tix_jobs_stop(one); /* its leases pass to the other at its next tick */
    tix_test_sleep_ms(700);
    tix_jobs_stop(two);
    assert_int_equal(scalar(b->db, "SELECT COUNT(*) FROM job_leases WHERE expires_at <> 0"), 0);
    int total_holders = 0;
    for (int i = 0; i < tix_jobs_table_count; i++) {
        const tix_job *job = &tix_jobs_table[i];
        int64_t every = tix_job_interval_ms(job, &app.cfg);
        int holders = 0;
        int runs = check_runs(b->db, job->name, every, &holders);
        print_message("  %-9s every %4lld ms: %2d runs, %d holder change(s)\n", job->name,
                      (long long)every, runs, holders - 1);
        assert_true(runs >= 2);
        assert_true(runs <= 1900 / every + 1); /* once per interval, not once per scheduler */
        total_holders += holders;
    }
    assert_true(total_holders > tix_jobs_table_count); /* the stop handed jobs over */
}

/* ---- counts and configuration ---- */

static void test_counts_json(void **state)
{
    (void)state;
    tix_job_counts c;
    char out[64];
    memset(&c, 0, sizeof(c));
    tix_job_counts_json(&c, out, sizeof(out));
    assert_string_equal(out, "{}");
    tix_job_count_add(&c, "a", 1);
    tix_job_count_add(&c, "b", 0);
    tix_job_count_add(&c, "a", 2);
    tix_job_counts_json(&c, out, sizeof(out));
    assert_string_equal(out, "{\"a\":3,\"b\":0}");
    assert_int_equal(tix_job_count_get(&c, "a"), 3);
    assert_int_equal(tix_job_count_get(&c, "zz"), 0);
    tix_job_counts_json(&c, out, 6); /* cut, never overflowed */
    assert_int_equal(strlen(out), 5);
    assert_non_null(tix_job_find("expire"));
    assert_null(tix_job_find("movies"));
    assert_null(tix_job_find(NULL));
}

static void test_parse_duration_ms(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
        int64_t ms;
    } cases[] = {
        {"250ms", true, 250}, {"0ms", true, 0},      {"2", true, 2000}, {"2s", true, 2000},
        {"1m", true, 60000},  {"1h", true, 3600000}, {"ms", false, 0},  {"-1ms", false, 0},
        {"1.5s", false, 0},   {"", false, 0},        {"10x", false, 0}, {"5 ms", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -1;
        bool ok = tix_config_parse_duration_ms(cases[i].in, &ms);
        if (ok != cases[i].ok || (ok && ms != cases[i].ms)) {
            fail_msg("\"%s\": ok %d ms %lld", cases[i].in, ok, (long long)ms);
        }
    }
    assert_false(tix_config_parse_duration_ms(NULL, NULL));
}

static void test_config(void **state)
{
    (void)state;
    tix_config cfg;
    char err[512];
    assert_int_equal(load_config(&cfg, "sqlite:///tmp/x.db", NULL, err, sizeof(err)), TIX_OK);
    assert_true(cfg.jobs_enabled);
    assert_int_equal(cfg.job_tick_ms, 1000);
    assert_int_equal(cfg.job_lease_ms, 30000);
    assert_int_equal(cfg.job_shows_ms, 30000);
    assert_int_equal(cfg.job_expire_ms, 15000);
    assert_int_equal(cfg.job_refunds_ms, 60000);
    assert_int_equal(cfg.job_reconcile_ms, 300000);
    assert_int_equal(cfg.job_purge_ms, 3600000);
    assert_int_equal(cfg.job_refund_poll_ms, 600000);
    assert_int_equal(cfg.refund_poll_age_ms, 3600000);
    assert_int_equal(cfg.refund_poll_batch, 50);
    const kv set[] = {{"JOBS", "off"},
                      {"JOB_TICK", "200ms"},
                      {"JOB_LEASE", "2s"},
                      {"JOB_INTERVAL_EXPIRE", "1"},
                      {NULL, NULL}};
    assert_int_equal(load_config(&cfg, "sqlite:///tmp/x.db", set, err, sizeof(err)), TIX_OK);
    assert_false(cfg.jobs_enabled);
    assert_int_equal(cfg.job_tick_ms, 200);
    assert_int_equal(cfg.job_lease_ms, 2000);
    assert_int_equal(cfg.job_expire_ms, 1000);
    static const struct {
        kv var[3];
        const char *says;
    } bad[] = {
        {{{"JOBS", "maybe"}}, "JOBS must be on or off"},
        {{{"JOB_TICK", "5ms"}}, "JOB_TICK must be a duration"},
        {{{"JOB_TICK", "soon"}}, "JOB_TICK must be a duration"},
        {{{"JOB_INTERVAL_PURGE", "8d"}}, "JOB_INTERVAL_PURGE must be a duration"},
        {{{"JOB_TICK", "600ms"}, {"JOB_LEASE", "1s"}}, "JOB_LEASE (1000ms) must be at least twice"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load_config(&cfg, "sqlite:///tmp/x.db", bad[i].var, err, sizeof(err)),
                         TIX_EINVAL);
        if (strstr(err, bad[i].says) == NULL) {
            fail_msg("expected \"%s\" in \"%s\"", bad[i].says, err);
        }
    }
}

#define BOTH(f) TIX_TEST_BOTH(f)

int main(void)
{
    tix_test_pg_note();
    const struct CMUnitTest tests[] = {
        BOTH(test_lease_one_holder_at_a_time),
        BOTH(test_claim_run_once_per_interval),
        BOTH(test_release_hands_over_and_keeps_schedule),
        BOTH(test_give_up_releases_every_lease_of_the_holder_only),
        BOTH(test_renew_all_two_holders),
        BOTH(test_job_shows),
        BOTH(test_job_expire),
        BOTH(test_hold_notice_claims),
        BOTH(test_job_refunds),
        BOTH(test_job_refunds_provider_down),
        BOTH(test_job_refund_poll),
        BOTH(test_job_purge),
        BOTH(test_run_recorded),
        BOTH(test_two_schedulers),
        cmocka_unit_test(test_counts_json),
        cmocka_unit_test(test_parse_duration_ms),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
