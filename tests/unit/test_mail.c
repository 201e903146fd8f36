/* Unit tests for mail: templates and message building (jobs/mail.h), the outbox's transaction
 * semantics, claims and purge (store/outbox.h) on a temporary SQLite database and, with
 * TIX_TEST_PG_URL, on PostgreSQL (support.h). */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/arena.h"
#include "jobs/mail.h"
#include "store/outbox.h"
#include "store/users.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- templates ---- */

static void test_every_kind_has_an_english_template(void **state)
{
    (void)state;
    const char *kinds[] = {TIX_MAIL_BOOKING_CONFIRMED, TIX_MAIL_BOOKING_CANCELLED,
                           TIX_MAIL_BOOKING_REFUNDED, TIX_MAIL_SHOW_CANCELLED,
                           TIX_MAIL_PASSWORD_RESET};
    tix_arena *a = tix_arena_create(0);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *t = tix_mail_template_find("en", kinds[i]);
        assert_non_null(t);
        assert_ptr_equal(tix_mail_template_find("xx", kinds[i]), t); /* falls back to en */
        char *subject = NULL;
        char *body = NULL;
        assert_int_equal(tix_mail_render(a, t, NULL, NULL, 0, &subject, &body), TIX_OK);
        assert_true(strlen(subject) > 0 && strlen(body) > 0);
    }
    assert_null(tix_mail_template_find("en", "no_such_template"));
    tix_arena_destroy(a);
}

static void test_render_substitutes_once_and_guards_the_subject(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    const char *keys[] = {"name", "movie"};
    const char *vals[] = {"{{movie}} Asha", "Big\r\nBcc: evil@example.com"};
    char *subject = NULL;
    char *body = NULL;
    assert_int_equal(tix_mail_render(a, "Subject: See {{movie}}\n\nHi {{name}}, {{missing}}{{movie",
                                     keys, vals, 2, &subject, &body),
                     TIX_OK);
    assert_string_equal(subject, "See Big  Bcc: evil@example.com"); /* no second header */
    assert_string_equal(body, "Hi {{movie}} Asha, {{movie");        /* values not re-scanned */
    assert_int_equal(tix_mail_render(a, "no subject\n\nbody", keys, vals, 2, &subject, &body),
                     TIX_EINVAL);
    assert_int_equal(tix_mail_render(a, "Subject: x\nbody", keys, vals, 2, &subject, &body),
                     TIX_EINVAL);
    tix_arena_destroy(a);
}

static void test_build_is_mime_with_crlf_and_encoded_headers(void **state)
{
    (void)state;
    tix_arena *a = tix_arena_create(0);
    tix_mail_attachment att = {"a.bin", "application/octet-stream", "\x00\x01\x02xyz", 6};
    tix_mail_msg m = {"ticketd <noreply@x.org>",
                      "b@example.com",
                      "Tickets \xe2\x82\xb9 500",
                      "line one\nline two\n",
                      "<mail_1@ticketd>",
                      0,
                      &att,
                      1};
    char *out = NULL;
    size_t len = 0;
    tix_mail_build(a, &m, &out, &len);
    assert_int_equal(len, strlen(out));
    assert_non_null(strstr(out, "From: ticketd <noreply@x.org>\r\nTo: b@example.com\r\n"));
    assert_non_null(strstr(out, "Subject: =?UTF-8?B?VGlja2V0cyDigrkgNTAw?=\r\n"));
    assert_non_null(strstr(out, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    assert_non_null(strstr(out, "Message-ID: <mail_1@ticketd>\r\n"));
    assert_non_null(strstr(out, "multipart/mixed; boundary=\"=_ticketd_mail_1\""));
    assert_non_null(strstr(out, "filename=\"a.bin\""));
    assert_non_null(strstr(out, "AAECeHl6\r\n")); /* base64 of the attachment */
    assert_non_null(strstr(out, "\r\n--=_ticketd_mail_1--\r\n"));
    for (size_t i = 0; i < len; i++) { /* every line ends with CRLF */
        if (out[i] == '\n') {
            assert_true(i > 0 && out[i - 1] == '\r');
        }
    }
    assert_string_equal(tix_mail_address(a, "ticketd <noreply@x.org>"), "noreply@x.org");
    assert_string_equal(tix_mail_address(a, "noreply@x.org"), "noreply@x.org");
    tix_arena_destroy(a);
}

/* ---- the outbox on a database ---- */

typedef struct fixture {
    tix_test_db t;
    tix_db *db;
    tix_arena *a;
} fixture;

/* Migrates f's database and adds the one user, usr_1 <a@example.com>. */
static int start_case(fixture *f)
{
    int applied = 0;
    if (tix_db_acquire(f->t.pool, &f->db) != TIX_OK || tix_db_migrate(f->db, &applied) != TIX_OK) {
        return -1;
    }
    f->a = tix_arena_create(0);
    tix_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "usr_1");
    snprintf(u.email, sizeof(u.email), "a@example.com");
    snprintf(u.name, sizeof(u.name), "A");
    snprintf(u.password_hash, sizeof(u.password_hash), "!");
    u.created_at = 1;
    return tix_user_insert(f->db, &u) == TIX_OK ? 0 : -1;
}

static int setup_sqlite(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || tix_test_db_open_sqlite(&f->t, "tix-unit-mail", 2) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return start_case(f);
}

/* Without TIX_TEST_PG_URL the case skips itself (tix_test_state). */
static int setup_pg(void **state)
{
    const char *base = tix_test_pg_base();
    *state = NULL;
    if (base == NULL) {
        return 0;
    }
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || tix_test_db_open_pg(&f->t, base, "tix_mail", 2) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return start_case(f);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL) {
        return 0;
    }
    if (f->db != NULL) {
        tix_db_release(f->t.pool, f->db);
    }
    tix_test_db_close(&f->t);
    tix_arena_destroy(f->a);
    free(f);
    return 0;
}

static int64_t count(fixture *f, const char *sql)
{
    tix_db_res *res = NULL;
    assert_int_equal(tix_db_exec(f->db, sql, NULL, 0, &res), TIX_OK);
    int64_t n = tix_db_res_int(res, 0, 0);
    tix_db_res_destroy(res);
    return n;
}

static void test_a_rollback_takes_the_mail_with_it(void **state)
{
    fixture *f = tix_test_state(state);
    assert_int_equal(tix_db_begin(f->db), TIX_OK);
    assert_int_equal(tix_outbox_password_reset(f->db, "a@example.com", "tok1", "hash1", 100, 1),
                     TIX_OK);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox"), 1); /* seen inside */
    tix_db_rollback(f->db);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM password_resets"), 0);

    assert_int_equal(tix_db_begin(f->db), TIX_OK);
    assert_int_equal(tix_outbox_password_reset(f->db, "a@example.com", "tok2", "hash2", 100, 1),
                     TIX_OK);
    assert_int_equal(
        tix_outbox_password_reset(f->db, "nobody@example.com", "tok3", "hash3", 100, 1), TIX_OK);
    assert_int_equal(tix_db_commit(f->db), TIX_OK);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox"), 1); /* none for nobody */
    /* both requests wrote a reset row (the same work); nobody's can never be used */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM password_resets"), 2);
    char *uid = NULL;
    assert_int_equal(tix_reset_consume(f->db, f->a, "hash3", 2, &uid), TIX_ENOTFOUND);
    assert_int_equal(tix_reset_consume(f->db, f->a, "hash2", 200, &uid), TIX_ENOTFOUND); /* late */
    assert_int_equal(tix_reset_consume(f->db, f->a, "hash2", 2, &uid), TIX_OK);
    assert_string_equal(uid, "usr_1");
    assert_int_equal(tix_reset_consume(f->db, f->a, "hash2", 3, &uid), TIX_ENOTFOUND); /* once */
}

static void test_claims_are_exclusive_until_the_lease_lapses(void **state)
{
    fixture *f = tix_test_state(state);
    assert_int_equal(tix_outbox_password_reset(f->db, "a@example.com", "tok", "hash", 100000, 1000),
                     TIX_OK);
    tix_outbox_row *rows = NULL;
    int n = 0;
    assert_int_equal(tix_outbox_claim(f->db, f->a, 999, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 0); /* not due yet */
    assert_int_equal(tix_outbox_claim(f->db, f->a, 1000, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].status, "sending");
    assert_int_equal(rows[0].attempts, 1);
    const char *id = rows[0].id;
    char mid[64];
    snprintf(mid, sizeof(mid), "<%s@ticketd>", id);
    assert_string_equal(rows[0].message_id, mid);
    assert_int_equal(tix_outbox_claim(f->db, f->a, 1499, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 0); /* claimed: nobody else gets it */
    assert_int_equal(tix_outbox_claim(f->db, f->a, 1500, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 1); /* the sender died: claimed again once the lease lapsed */
    assert_int_equal(rows[0].attempts, 2);
    assert_int_equal(tix_outbox_later(f->db, id, 5000, "smtp 451", 1600), TIX_OK);
    assert_int_equal(tix_outbox_claim(f->db, f->a, 4999, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 0); /* backing off */
    assert_int_equal(tix_outbox_claim(f->db, f->a, 5000, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tix_outbox_failed(f->db, id, "smtp 550", 5001), TIX_OK);
    assert_int_equal(tix_outbox_failed(f->db, id, "again", 5002), TIX_ECONFLICT); /* not sending */
    assert_int_equal(tix_outbox_claim(f->db, f->a, 99999, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 0); /* failed rows wait for an admin */
    tix_outbox_row back;
    assert_int_equal(tix_outbox_requeue(f->db, f->a, "mail_none", 6000, &back), TIX_ENOTFOUND);
    assert_int_equal(tix_outbox_requeue(f->db, f->a, id, 6000, &back), TIX_OK);
    assert_string_equal(back.id, id); /* the row as the retry left it */
    assert_string_equal(back.status, "pending");
    assert_int_equal(back.attempts, 0);
    assert_int_equal(tix_outbox_requeue(f->db, f->a, id, 6000, &back), TIX_ECONFLICT);
    assert_int_equal(tix_outbox_claim(f->db, f->a, 6000, 500, 10, &rows, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].attempts, 1); /* a fresh count */
    assert_int_equal(tix_outbox_sent(f->db, id, "Subject", true, 6001), TIX_OK);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox WHERE data = '{}'"), 1);
}

static void test_purge_keeps_what_is_live(void **state)
{
    fixture *f = tix_test_state(state);
    /* three requests, one for an unknown address: outbox rows for a@ only */
    assert_int_equal(tix_outbox_password_reset(f->db, "a@example.com", "t1", "h1", 100000, 1000),
                     TIX_OK);
    assert_int_equal(tix_outbox_password_reset(f->db, "x@example.com", "t2", "h2", 2000, 1000),
                     TIX_OK);
    assert_int_equal(tix_outbox_password_reset(f->db, "a@example.com", "t3", "h3", 100000, 1000),
                     TIX_OK);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox"), 2);
    tix_outbox_row *rows = NULL;
    int n = 0;
    assert_int_equal(tix_outbox_claim(f->db, f->a, 1000, 500, 1, &rows, &n), TIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tix_outbox_sent(f->db, rows[0].id, "Subject", true, 1100), TIX_OK);
    char *uid = NULL;
    assert_int_equal(tix_reset_consume(f->db, f->a, "h1", 1200, &uid), TIX_OK); /* h3 spent too */
    int64_t mails = -1;
    int64_t resets = -1;
    /* at 1500 with mail kept until 1100: the sent row (changed at 1100) stays; h2 is live */
    assert_int_equal(tix_outbox_purge(f->db, 1100, 1500, &mails, &resets), TIX_OK);
    assert_int_equal(mails, 0);
    assert_int_equal(resets, 2); /* h1 used, h3 spent with it */
    assert_int_equal(tix_outbox_purge(f->db, 1101, 2001, &mails, &resets), TIX_OK);
    assert_int_equal(mails, 1);  /* the sent row; the pending one stays */
    assert_int_equal(resets, 1); /* h2 expired at 2000 */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'"), 1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM mail_outbox"), 1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM password_resets"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_has_an_english_template),
        cmocka_unit_test(test_render_substitutes_once_and_guards_the_subject),
        cmocka_unit_test(test_build_is_mime_with_crlf_and_encoded_headers),
        TIX_TEST_BOTH(test_a_rollback_takes_the_mail_with_it),
        TIX_TEST_BOTH(test_claims_are_exclusive_until_the_lease_lapses),
        TIX_TEST_BOTH(test_purge_keeps_what_is_live),
    };
    tix_test_pg_note();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
