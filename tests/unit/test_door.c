/* Unit tests for the door's pure parts: who may work a theatre's door (auth/policy.h) and a
 * signed ticket token read into a scan (booking/door.h, with booking/ticket_token.h). */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "auth/policy.h"
#include "booking/door.h"

#include <sodium.h>
#include <string.h>

#define SEED_A "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

static tix_principal who(bool authenticated, tix_role role, const char *id)
{
    tix_principal p;
    memset(&p, 0, sizeof(p));
    p.authenticated = authenticated;
    p.role = role;
    strcpy(p.user_id, id);
    return p;
}

static void test_door_policy(void **state)
{
    (void)state;
    tix_principal owner = who(true, TIX_ROLE_OWNER, "usr_owner");
    tix_principal other = who(true, TIX_ROLE_OWNER, "usr_other");
    tix_principal admin = who(true, TIX_ROLE_ADMIN, "usr_admin");
    tix_principal user = who(true, TIX_ROLE_USER, "usr_door");
    tix_principal anon = who(false, TIX_ROLE_USER, "");
    assert_int_equal(tix_policy_can_work_door(&owner, "usr_owner", false), TIX_OK);
    assert_int_equal(tix_policy_can_work_door(&admin, "usr_owner", false), TIX_OK);
    assert_int_equal(tix_policy_can_work_door(&other, "usr_owner", false), TIX_EFORBIDDEN);
    assert_int_equal(tix_policy_can_work_door(&user, "usr_owner", false), TIX_EFORBIDDEN);
    /* staff: a membership, whatever the role */
    assert_int_equal(tix_policy_can_work_door(&user, "usr_owner", true), TIX_OK);
    assert_int_equal(tix_policy_can_work_door(&other, "usr_owner", true), TIX_OK);
    assert_int_equal(tix_policy_can_work_door(&anon, "usr_owner", true), TIX_EAUTH);
    /* staff change nothing else: the theatre's own rule is unchanged */
    assert_int_equal(tix_policy_can_modify(&user, "usr_owner"), TIX_EFORBIDDEN);
}

static void test_scan_token(void **state)
{
    (void)state;
    tix_ticket_keyring kr;
    assert_int_equal(tix_ticket_keyring_set_secret(&kr, SEED_A), TIX_OK);
    tix_ticket_claims c;
    memset(&c, 0, sizeof(c));
    strcpy(c.tid, "tkt_01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(c.sid, "shw_01JABCDEFGHJKMNPQRSTVWXYZ0");
    strcpy(c.seat, "C12");
    c.start = 1764000000;
    char tok[TIX_TICKET_TOKEN_MAX];
    assert_int_equal(tix_ticket_token_sign(&kr, &c, tok, sizeof(tok)), TIX_OK);

    tix_ticket_claims got;
    tix_door_scan scan;
    assert_int_equal(tix_door_scan_token(&kr, tok, &got, &scan), TIX_OK);
    assert_null(scan.code);
    assert_string_equal(scan.ticket_id, c.tid);
    assert_string_equal(scan.show_id, c.sid);
    assert_string_equal(scan.method, "token");

    /* a flipped character anywhere: refused, the scan untouched */
    tix_door_scan before = {.code = "x"};
    for (size_t i = 3; i < strlen(tok); i += 7) {
        char bad[TIX_TICKET_TOKEN_MAX];
        strcpy(bad, tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        scan = before;
        assert_int_equal(tix_door_scan_token(&kr, bad, &got, &scan), TIX_EAUTH);
        assert_string_equal(scan.code, "x");
    }
    assert_int_equal(tix_door_scan_token(&kr, "", &got, &scan), TIX_EAUTH);
    /* another server's key (a public key only ring of another seed): refused */
    tix_ticket_keyring other;
    char seed[TIX_TICKET_KEY_B64];
    tix_ticket_seed_new(seed);
    assert_int_equal(tix_ticket_keyring_set_secret(&other, seed), TIX_OK);
    assert_int_equal(tix_door_scan_token(&other, tok, &got, &scan), TIX_EAUTH);
    /* no key on this server */
    assert_int_equal(tix_door_scan_token(NULL, tok, &got, &scan), TIX_EUNAVAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_door_policy),
        cmocka_unit_test(test_scan_token),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
