"""Sessions that end now (API.md, second part; issue 10 item 5).

A stolen access token is refused with 401 token_revoked on the very next request after logout,
change-password (for every other session), a demotion, disabling the user or DELETE /me: on one
server (both databases), and on the other servers of a 3-server cluster whose caches had just
said the token was fine. With Redis killed the servers ask the database and still refuse.
PATCH /admin/users/{id} {role?, disabled?} and DELETE /me {password} are checked here too.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from catalog_helpers import make_owner
from cluster_helpers import running_cluster
from conftest import (
    DEFAULT_PASSWORD, admin_tokens, assert_error, call, jwt_payload, login, refresh, register,
    unique_email,
)


def me(server, token):
    return call("GET", server, "/me", token=token)


def assert_live(server, token):
    r = me(server, token)
    assert r.status_code == 200, f"{server}: {r.status_code} {r.text}"


def assert_revoked(server, token):
    assert_error(me(server, token), 401, "token_revoked")


def logout(server, refresh_token):
    return call("POST", server, "/auth/logout", json={"refresh_token": refresh_token})


def change_password(server, token, current=DEFAULT_PASSWORD, new="another-password-2"):
    return call("POST", server, "/auth/change-password", token=token,
                json={"current_password": current, "new_password": new})


def patch_user(server, admin_token, user_id, **body):
    return call("PATCH", server, f"/admin/users/{user_id}", token=admin_token, json=body)


def delete_me(server, token, password=DEFAULT_PASSWORD):
    return call("DELETE", server, "/me", token=token, json={"password": password})


# --------------------------------------------------------------------------------------------
# One server


def test_access_tokens_carry_an_epoch(server):
    reg = register(server)
    claims = jwt_payload(reg["access_token"])
    assert claims["ep"] == 0 and claims["sid"].startswith("ses_")
    assert "ep" not in jwt_payload(reg["refresh_token"])


def test_logout_ends_the_access_token_now(server):
    reg = register(server)
    other = login(server, reg["user"]["email"])  # a second session of the same user
    assert_live(server, reg["access_token"])
    r = logout(server, reg["refresh_token"])
    assert r.status_code == 204, r.text
    assert_revoked(server, reg["access_token"])
    # the refresh token of that session is gone too, and the other session goes on
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")
    assert_live(server, other["access_token"])


def test_a_refreshed_token_of_a_logged_out_session_is_refused(server):
    reg = register(server)
    pair = refresh(server, reg["refresh_token"]).json()
    assert_live(server, reg["access_token"])  # same session: both live until it ends
    assert logout(server, pair["refresh_token"]).status_code == 204
    assert_revoked(server, reg["access_token"])
    assert_revoked(server, pair["access_token"])


def test_change_password_ends_other_sessions_now_and_keeps_the_callers(server):
    reg = register(server)
    stolen = login(server, reg["user"]["email"])
    assert_live(server, stolen["access_token"])
    r = change_password(server, reg["access_token"])
    assert r.status_code == 204, r.text
    assert_revoked(server, stolen["access_token"])
    assert_error(refresh(server, stolen["refresh_token"]), 401, "invalid_token")
    # the caller's own access and refresh tokens keep working (documented in errors.md)
    assert_live(server, reg["access_token"])
    assert refresh(server, reg["refresh_token"]).status_code == 200


def test_demotion_ends_the_access_token_now(server):
    admin = admin_tokens(server)["access_token"]
    owner = make_owner(server, admin, "demoted")
    assert_live(server, owner.token)
    r = patch_user(server, admin, owner.id, role="user")
    assert r.status_code == 200 and r.json()["role"] == "user", r.text
    assert_revoked(server, owner.token)
    assert_error(call("GET", server, "/admin/users", token=owner.token), 401, "token_revoked")
    # on a public route a revoked token is simply anonymous
    assert call("GET", server, "/movies", token=owner.token).status_code == 200


def test_patching_the_same_role_changes_nothing(server):
    admin = admin_tokens(server)["access_token"]
    reg = register(server)
    r = patch_user(server, admin, reg["user"]["id"], role="user")
    assert r.status_code == 200, r.text
    assert_live(server, reg["access_token"])


def test_disable_ends_everything_and_enable_allows_a_new_login(server):
    admin = admin_tokens(server)["access_token"]
    reg = register(server)
    uid, email = reg["user"]["id"], reg["user"]["email"]
    r = patch_user(server, admin, uid, disabled=True)
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True and r.json()["role"] == "user"
    assert_revoked(server, reg["access_token"])
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")
    r = call("POST", server, "/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert_error(r, 403, "account_disabled")
    # a wrong password still says only invalid_credentials (nothing leaks to a guesser)
    r = call("POST", server, "/auth/login", json={"email": email, "password": "wrong-pass-1"})
    assert_error(r, 401, "invalid_credentials")
    users = call("GET", server, "/admin/users", token=admin, params={"limit": 100}).json()
    r = patch_user(server, admin, uid, disabled=False)
    assert r.status_code == 200 and r.json()["disabled"] is False, r.text
    assert_revoked(server, reg["access_token"])  # enabling does not bring old tokens back
    fresh = login(server, email)
    assert_live(server, fresh["access_token"])
    assert isinstance(users["items"][0]["disabled"], bool)


@pytest.mark.parametrize("body, field", [
    ({}, "role"), ({"disabled": "yes"}, "disabled"), ({"disabled": 1}, "disabled"),
    ({"role": "root"}, "role"), ({"role": None, "disabled": None}, "role"),
])
def test_patch_user_bad_bodies(server, body, field):
    admin = admin_tokens(server)["access_token"]
    reg = register(server)
    r = patch_user(server, admin, reg["user"]["id"], **body)
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["details"]["field"] == field
    assert_live(server, reg["access_token"])


def test_patch_user_needs_admin_and_an_existing_user(server):
    admin = admin_tokens(server)["access_token"]
    reg = register(server)
    assert_error(patch_user(server, reg["access_token"], reg["user"]["id"], disabled=True),
                 403, "forbidden")
    assert_error(patch_user(server, admin, "usr_nosuchuser", disabled=True), 404, "not_found")


def test_the_last_admin_cannot_be_disabled(make_server, backend):
    srv = make_server(backend)
    admin = admin_tokens(srv)
    r = patch_user(srv, admin["access_token"], admin["user"]["id"], disabled=True)
    assert_error(r, 409, "last_admin")
    assert_live(srv, admin["access_token"])
    assert_error(delete_me(srv, admin["access_token"], "admin-password-1"), 409, "last_admin")
    assert_live(srv, admin["access_token"])


def test_delete_me_anonymises_and_ends_every_session(server):
    email = unique_email("leaving")
    reg = register(server, email=email, name="Leaving Person")
    other = login(server, email)
    uid = reg["user"]["id"]
    assert_error(delete_me(server, reg["access_token"], "wrong-password-9"), 403,
                 "wrong_password")
    assert_live(server, reg["access_token"])
    r = delete_me(server, reg["access_token"])
    assert r.status_code == 204, r.text
    for tok in (reg["access_token"], other["access_token"]):
        assert_revoked(server, tok)
    assert_error(refresh(server, other["refresh_token"]), 401, "invalid_token")
    r = call("POST", server, "/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert_error(r, 401, "invalid_credentials")
    # the row stays (bookings and payments point at it), without the person's e-mail or name
    admin = admin_tokens(server)["access_token"]
    cursor, row = None, None
    while row is None:
        page = call("GET", server, "/admin/users", token=admin,
                    params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        row = next((u for u in page["items"] if u["id"] == uid), None)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert row is not None
    assert email not in str(row) and "Leaving" not in str(row), row
    assert row["disabled"] is True and row["name"] == ""
    # the e-mail is free again
    again = register(server, email=email)
    assert again["user"]["id"] != uid


def test_delete_me_bad_bodies(server):
    reg = register(server)
    r = call("DELETE", server, "/me", token=reg["access_token"], json={})
    assert_error(r, 422, "validation_failed")
    r = call("DELETE", server, "/me", token=reg["access_token"], json={"password": 5})
    assert_error(r, 400, "invalid_type")
    assert_error(call("DELETE", server, "/me", json={"password": "x"}), 401, "unauthorized")
    assert_live(server, reg["access_token"])


def test_refresh_reuse_ends_the_access_tokens_of_the_family(server):
    reg = register(server)
    assert refresh(server, reg["refresh_token"]).status_code == 200
    assert_error(refresh(server, reg["refresh_token"]), 401, "invalid_token")  # reuse
    assert_revoked(server, reg["access_token"])


# --------------------------------------------------------------------------------------------
# Three servers, one PostgreSQL, one Redis: the next request on another server


@pytest.fixture(scope="module")
def cluster(ticketd_bin):
    with running_cluster(3, RATE_LIMIT="off") as c:
        yield c


def warm(cluster, token):
    """Every server has just answered 200 for token (its cache holds "live")."""
    for srv in cluster.servers:
        assert_live(srv, token)


def assert_revoked_everywhere(cluster, token):
    for srv in cluster.servers:
        assert_revoked(srv, token)


def test_cluster_logout_on_one_server_ends_the_token_on_the_others(cluster):
    a = cluster.servers[0]
    reg = register(a)
    warm(cluster, reg["access_token"])
    assert logout(a, reg["refresh_token"]).status_code == 204
    assert_revoked_everywhere(cluster, reg["access_token"])


def test_cluster_change_password_ends_other_sessions_everywhere(cluster):
    a, b = cluster.servers[0], cluster.servers[1]
    reg = register(a)
    stolen = login(b, reg["user"]["email"])
    warm(cluster, stolen["access_token"])
    warm(cluster, reg["access_token"])
    assert change_password(a, reg["access_token"]).status_code == 204
    assert_revoked_everywhere(cluster, stolen["access_token"])
    warm(cluster, reg["access_token"])


def test_cluster_demotion_and_disable_reach_every_server(cluster):
    a = cluster.servers[0]
    admin = admin_tokens(a)["access_token"]
    owner = make_owner(a, admin, "cluster-demoted")
    warm(cluster, owner.token)
    assert patch_user(cluster.servers[2], admin, owner.id, role="user").status_code == 200
    assert_revoked_everywhere(cluster, owner.token)

    reg = register(a)
    warm(cluster, reg["access_token"])
    assert patch_user(cluster.servers[1], admin, reg["user"]["id"], disabled=True).status_code \
        == 200
    assert_revoked_everywhere(cluster, reg["access_token"])


def test_cluster_with_redis_killed_still_refuses(cluster):
    """Runs last (it kills the cluster's Redis): the check asks the database, never fails open."""
    a = cluster.servers[0]
    admin = admin_tokens(a)["access_token"]
    users = [register(a) for _ in range(3)]
    for u in users:
        warm(cluster, u["access_token"])
    os.kill(int(cluster.state["REDIS_PID"]), signal.SIGKILL)
    time.sleep(0.2)
    # still served while Redis is down (from the database) ...
    warm(cluster, users[0]["access_token"])
    # ... and refused on every server right after logout, demotion or disabling
    assert logout(a, users[0]["refresh_token"]).status_code == 204
    assert_revoked_everywhere(cluster, users[0]["access_token"])
    assert patch_user(cluster.servers[1], admin, users[1]["user"]["id"],
                      role="owner").status_code == 200
    assert_revoked_everywhere(cluster, users[1]["access_token"])
    assert patch_user(cluster.servers[2], admin, users[2]["user"]["id"],
                      disabled=True).status_code == 200
    assert_revoked_everywhere(cluster, users[2]["access_token"])
