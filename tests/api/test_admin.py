"""The bootstrap admin, user listing with cursor pagination, and role changes."""

import pytest

from conftest import (
    ADMIN_EMAIL, RawConn, admin_tokens, assert_error, call, jwt_payload, login, raw_request,
    refresh, register,
)


@pytest.fixture
def admin(server):
    return admin_tokens(server)


def list_users(server, token, **params):
    return call("GET", server, "/admin/users", token=token, params=params)


def walk(server, token, limit, **params):
    """Follows next_cursor to the end; returns (ids in order, number of pages)."""
    ids, pages, cursor = [], 0, None
    while True:
        query = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        r = list_users(server, token, **query)
        assert r.status_code == 200, f"GET {r.request.url} -> {r.status_code} {r.text}"
        body = r.json()
        assert len(body["items"]) <= limit
        ids += [u["id"] for u in body["items"]]
        pages += 1
        assert pages < 1000, "pagination does not end"
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert isinstance(cursor, str) and cursor


def set_role(server, token, user_id, role):
    return call("PATCH", server, f"/admin/users/{user_id}", token=token, json={"role": role})


def test_bootstrap_admin_can_log_in(server, admin):
    assert admin["user"]["email"] == ADMIN_EMAIL
    assert admin["user"]["role"] == "admin"
    assert jwt_payload(admin["access_token"])["role"] == "admin"


def test_list_users_as_admin(server, admin):
    reg = register(server)
    r = list_users(server, admin["access_token"])
    assert r.status_code == 200, f"GET {r.request.url} -> {r.status_code} {r.text}"
    body = r.json()
    assert set(body) >= {"items", "next_cursor"}
    assert isinstance(body["items"], list) and 1 <= len(body["items"]) <= 20
    assert body["next_cursor"] is None or isinstance(body["next_cursor"], str)
    for item in body["items"]:
        assert set(item) >= {"id", "email", "name", "role", "created_at"}
        assert not {k for k in item if "password" in k or "hash" in k}, item
    all_ids, _ = walk(server, admin["access_token"], 100)
    assert reg["user"]["id"] in all_ids


def test_list_users_as_user_is_403(server):
    reg = register(server)
    assert_error(list_users(server, reg["access_token"]), 403, "forbidden")


def test_list_users_anonymous_is_401(server):
    assert_error(list_users(server, None), 401, "unauthorized")


def test_pagination_walks_every_user_exactly_once(server, admin):
    # Registered back to back, so several share a created_at second (or millisecond).
    mine = [register(server, name=f"Page {i}")["user"]["id"] for i in range(7)]
    token = admin["access_token"]
    small, pages = walk(server, token, 2)
    large, _ = walk(server, token, 100)
    assert len(small) == len(set(small)), "a user appeared on two pages"
    assert len(large) == len(set(large))
    assert set(small) == set(large), "the limit=2 walk missed or invented users"
    assert small == large, "the order depends on the page size"
    assert set(mine) <= set(small)
    assert pages >= (len(small) + 1) // 2


@pytest.mark.parametrize("params,parameter", [
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"limit": "99999999999999999999999"}, "limit"),
    ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "!!!!"}, "cursor"),
])
def test_bad_list_parameters_are_400(server, admin, params, parameter):
    err = assert_error(list_users(server, admin["access_token"], **params), 400,
                       "invalid_parameter")
    assert err["details"]["parameter"] == parameter


def test_literal_bad_cursor_in_url_is_400(server, admin):
    r = call("GET", server, "/admin/users?cursor=%%%", token=admin["access_token"])
    assert_error(r, 400, "invalid_parameter")


def test_filter_by_role(server, admin):
    reg = register(server)
    ids, _ = walk(server, admin["access_token"], 100, role="admin")
    assert admin["user"]["id"] in ids
    assert reg["user"]["id"] not in ids
    r = list_users(server, admin["access_token"], role="admin", limit=100)
    assert all(u["role"] == "admin" for u in r.json()["items"])
    users, _ = walk(server, admin["access_token"], 100, role="user")
    assert reg["user"]["id"] in users and admin["user"]["id"] not in users


def test_filter_by_unknown_role_is_400(server, admin):
    err = assert_error(list_users(server, admin["access_token"], role="superuser"), 400,
                       "invalid_parameter")
    assert err["details"]["parameter"] == "role"


def test_change_role_takes_effect_on_refresh(server, admin):
    reg = register(server)
    r = set_role(server, admin["access_token"], reg["user"]["id"], "owner")
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["id"] == reg["user"]["id"]
    assert updated["role"] == "owner"

    r = refresh(server, reg["refresh_token"])
    assert r.status_code == 200, r.text
    pair = r.json()
    assert jwt_payload(pair["access_token"])["role"] == "owner"
    if "user" in pair:
        assert pair["user"]["role"] == "owner"
    assert login(server, reg["user"]["email"])["user"]["role"] == "owner"

    ids, _ = walk(server, admin["access_token"], 100, role="owner")
    assert reg["user"]["id"] in ids


@pytest.mark.parametrize("role", ["superuser", "", "ADMIN"])
def test_change_to_unknown_role_is_422(server, admin, role):
    reg = register(server)
    err = assert_error(set_role(server, admin["access_token"], reg["user"]["id"], role), 422,
                       "validation_failed")
    assert err["details"]["field"] == "role"


def test_change_role_with_wrong_type_is_400(server, admin):
    reg = register(server)
    err = assert_error(set_role(server, admin["access_token"], reg["user"]["id"], 5), 400,
                       "invalid_type")
    assert err["details"]["field"] == "role"


def test_change_role_of_unknown_user_is_404(server, admin):
    uid = admin["user"]["id"]
    unknown = uid[:-1] + ("1" if uid[-1] == "0" else "0")
    assert_error(set_role(server, admin["access_token"], unknown, "owner"), 404, "not_found")
    assert_error(set_role(server, admin["access_token"], "no-such-user", "owner"), 404,
                 "not_found")


def test_change_role_as_user_is_403(server):
    reg = register(server)
    assert_error(set_role(server, reg["access_token"], reg["user"]["id"], "admin"), 403,
                 "forbidden")
    me = call("GET", server, "/me", token=reg["access_token"]).json()
    assert me["role"] == "user"


def test_last_admin_cannot_be_demoted(make_server, backend):
    srv = make_server(backend)
    admin = admin_tokens(srv)
    admin_id = admin["user"]["id"]
    assert_error(set_role(srv, admin["access_token"], admin_id, "user"), 409, "last_admin")

    # With a second admin, the first may go; then the second is the last one.
    other = register(srv)
    assert set_role(srv, admin["access_token"], other["user"]["id"], "admin").status_code == 200
    r = set_role(srv, admin["access_token"], admin_id, "owner")
    assert r.status_code == 200, r.text
    other_admin = login(srv, other["user"]["email"])
    assert other_admin["user"]["role"] == "admin"
    assert_error(set_role(srv, other_admin["access_token"], other["user"]["id"], "user"), 409,
                 "last_admin")


def simultaneous_demotions(srv, pairs):
    """PATCHes {"role": "user"} for each (token, user id) so that the requests reach the server
    together: everything but the last byte is sent first. Returns the RawResponses."""
    conns, finals = [], []
    try:
        for token, uid in pairs:
            data = raw_request("PATCH", f"/api/v1/admin/users/{uid}", b'{"role":"user"}',
                               {"Authorization": f"Bearer {token}"})
            conn = RawConn(srv.port)
            conns.append(conn)
            assert conn.send(data[:-1])
            finals.append(data[-1:])
        for conn, last in zip(conns, finals):
            conn.send(last)
        return [conn.read_response() for conn in conns]
    finally:
        for conn in conns:
            conn.close()


def test_two_admins_demoting_each_other_leaves_one(make_server, backend):
    srv = make_server(backend)
    admin_token = admin_tokens(srv)["access_token"]
    for _ in range(15):  # a race: give it several chances
        a, b = register(srv), register(srv)
        for u in (a, b):
            assert set_role(srv, admin_token, u["user"]["id"], "admin").status_code == 200
        a_tok = login(srv, a["user"]["email"])["access_token"]
        b_tok = login(srv, b["user"]["email"])["access_token"]
        # Make a and b the only two admins.
        others = set(walk(srv, a_tok, 100, role="admin")[0]) - {a["user"]["id"], b["user"]["id"]}
        for uid in others:
            assert set_role(srv, a_tok, uid, "user").status_code == 200

        ra, rb = simultaneous_demotions(srv, [(a_tok, b["user"]["id"]), (b_tok, a["user"]["id"])])
        # the loser is refused by the last-admin rule (409), or, when the winner's demotion
        # committed before the loser's request was admitted, as a demoted token (401)
        assert sorted([ra.status, rb.status]) in ([200, 409], [200, 401]), (ra, rb)
        survivor_token = a_tok if ra.status == 200 else b_tok  # the one not demoted
        admins, _ = walk(srv, survivor_token, 100, role="admin")
        assert len(admins) == 1, admins
        admin_token = survivor_token
