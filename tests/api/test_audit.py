"""The audit trail (issue 12, API.md "Running a cinema"; http/audit.h).

- Every write by an owner or an admin is recorded after it is answered: actor id and role, an
  action named from the route ("theatre.update"), the target (the new object's id for a create),
  the request id the server answered in X-Request-Id, the client IP as http/clientip.c trusts it,
  the time and the HTTP status (refusals too, with their error code).
- A plain user's own writes (a hold, a booking) are not recorded; anonymous requests never are.
- Every check-in attempt is, whoever scans: 200, 409 already_checked_in, 404 unknown code.
- GET /admin/audit (admin only): newest first, filters actor_id, target_id, action, since,
  until, cursor pages; anything else, or a bad value, is a 400 invalid_parameter.
- The table is append-only: UPDATE and DELETE fail in the database itself (a trigger).
- A failed audit write never turns the committed write into an error: it is logged and counted.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from datetime import timedelta, timezone

import pytest
import requests

from booking_helpers import Venue, api, book, buy, hold, starts_in
from catalog_helpers import cast, create_theatre, iso, make_owner, make_user, ok, param_error, \
    parse_time, uid, utcnow
from conftest import TIMEOUT, admin_tokens, assert_error, call, register, unique_email
from test_jobs import query

ROW_KEYS = {"id", "at", "actor_id", "actor_role", "action", "method", "route", "target_type",
            "target_id", "request_id", "client_ip", "status", "detail"}


def audit(server, token=None, **params) -> dict:
    """GET /admin/audit as the admin (or token) with params; returns the 200 body."""
    token = token or cast(server).admin.token
    body = ok(api("GET", server, "/admin/audit", token=token, params=params), 200)
    assert set(body) == {"items", "next_cursor"}, body
    for row in body["items"]:
        assert set(row) == ROW_KEYS, row
    return body


def rows(server, **params) -> list[dict]:
    """Every row matching params, walking the cursor (newest first)."""
    out, cursor = [], None
    while True:
        p = dict(params, limit=100)
        if cursor:
            p["cursor"] = cursor
        body = audit(server, **p)
        out += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return out


def by_request(server, request_id: str, **params) -> dict:
    found = [r for r in rows(server, **params) if r["request_id"] == request_id]
    assert len(found) == 1, (request_id, found)
    return found[0]


def rid() -> str:
    return f"t5-audit-{uid()}"


def iso_ms(dt) -> str:
    """RFC 3339 with milliseconds (catalog_helpers.iso stops at seconds)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.microsecond // 1000:03d}Z"


def assert_recent(row: dict) -> None:
    at = parse_time(row["at"])
    assert utcnow() - timedelta(minutes=5) < at <= utcnow() + timedelta(seconds=5), row


# --------------------------------------------------------------------------------------------
# What is recorded


def test_owner_catalogue_writes_are_recorded(server):
    c = cast(server)
    v = Venue(server)  # owner: theatre, hall, show; admin: movie
    tid, hid, sid = v.theatre["id"], v.hall["id"], v.show_id
    mine = rows(server, actor_id=c.owner.id)
    made = {(r["action"], r["target_id"]): r for r in mine}
    assert ("theatre.create", tid) in made, mine[:5]
    assert ("hall.create", hid) in made, mine[:5]
    assert ("show.create", sid) in made, mine[:5]
    for key, ttype, route in [(("theatre.create", tid), "theatre", "/api/v1/theatres"),
                              (("hall.create", hid), "hall", "/api/v1/theatres/{id}/halls"),
                              (("show.create", sid), "show", "/api/v1/shows")]:
        row = made[key]
        assert row["actor_role"] == "owner" and row["method"] == "POST", row
        assert row["target_type"] == ttype and row["route"] == route, row
        assert row["status"] == 201 and row["detail"] is None, row
        assert row["client_ip"] == "127.0.0.1" and row["request_id"], row
        assert_recent(row)
    movie = rows(server, target_id=v.movie["id"])
    assert [(r["action"], r["actor_id"], r["actor_role"]) for r in movie] == \
        [("movie.create", c.admin.id, "admin")], movie

    # The request id the client sent is the one recorded (and answered).
    r1 = rid()
    resp = api("PATCH", server, f"/theatres/{tid}", token=c.owner.token,
               headers={"X-Request-Id": r1}, json={"name": f"Renamed {uid()}"})
    ok(resp, 200)
    assert resp.headers["X-Request-Id"] == r1
    row = by_request(server, r1, target_id=tid)
    assert (row["action"], row["target_type"], row["actor_id"], row["status"]) == \
        ("theatre.update", "theatre", c.owner.id, 200), row
    assert row["route"] == "/api/v1/theatres/{id}", row

    # No X-Request-Id sent: the one the server made and answered is recorded.
    resp = api("POST", server, f"/shows/{sid}/cancel", token=c.owner.token)
    ok(resp, 200)
    row = by_request(server, resp.headers["X-Request-Id"], target_id=sid)
    assert (row["action"], row["target_type"], row["status"]) == ("show.cancel", "show", 200)

    # A refused write is recorded too, with its status and error code.
    r2 = rid()
    resp = api("PATCH", server, f"/theatres/{tid}", token=c.other_owner.token,
               headers={"X-Request-Id": r2}, json={"name": "Not yours"})
    assert resp.status_code in (403, 404), resp.text
    row = by_request(server, r2, actor_id=c.other_owner.id)
    assert row["status"] == resp.status_code and row["detail"] == resp.json()["error"]["code"]
    assert row["target_id"] == tid, row

    # The request's body is never stored: nothing of the renamed name appears in any field.
    assert all("Renamed" not in str(v) for r in rows(server, target_id=tid) for v in r.values())


def test_admin_role_change_is_recorded_with_its_target(server):
    c = cast(server)
    owner = make_owner(server, c.admin.token, "promoted")
    got = rows(server, target_id=owner.id, action="user.update")
    assert len(got) == 1, got
    assert (got[0]["actor_id"], got[0]["actor_role"], got[0]["target_type"]) == \
        (c.admin.id, "admin", "user"), got


def test_a_users_own_booking_is_not_recorded(server):
    v = Venue(server)
    u = make_user(server, "buyer")
    b = buy(server, u.token, v.show_id, v.ids("A1"))
    assert rows(server, actor_id=u.id) == []
    assert rows(server, target_id=b["id"]) == []
    # Login, register and the like are exempt: nothing for this user at all, even the sign-up.
    assert rows(server, target_id=u.id) == []


def test_an_owners_booking_is_recorded(server):
    """Owners and admins are recorded on every write, their own purchases included."""
    v = Venue(server)
    owner = make_owner(server, label="buying-owner")
    h = hold(server, owner.token, v.show_id, seat_ids=v.ids("A2"))
    body = book(server, owner.token, h["hold_id"])
    got = {r["action"]: r for r in rows(server, actor_id=owner.id)}
    assert got["hold.create"]["target_id"] == h["hold_id"], got
    assert got["booking.create"]["target_id"] == body["booking"]["id"], got


def test_check_ins_are_recorded_200_and_refused(server):
    c = cast(server)
    v = Venue(server, starts_at=starts_in(1))
    tid = v.theatre["id"]
    u = make_user(server, "ticket-holder")
    b = buy(server, u.token, v.show_id, v.ids("B1"))
    ticket = b["tickets"][0]
    email = unique_email("door")
    reg = register(server, email=email)
    door_id, door_token = reg["user"]["id"], reg["access_token"]
    ok(api("POST", server, f"/theatres/{tid}/staff", token=v.owner_token,
           json={"email": email}), 201)

    first, again, unknown = rid(), rid(), rid()
    ok(api("POST", server, f"/theatres/{tid}/check-ins", token=door_token,
           headers={"X-Request-Id": first}, json={"code": ticket["code"]}), 200)
    assert_error(api("POST", server, f"/theatres/{tid}/check-ins", token=c.owner.token,
                     headers={"X-Request-Id": again}, json={"code": ticket["code"]}),
                 409, "already_checked_in")
    assert_error(api("POST", server, f"/theatres/{tid}/check-ins", token=door_token,
                     headers={"X-Request-Id": unknown}, json={"code": "x" * 40}),
                 404, "not_found")
    scans = rows(server, action="check-in.create", since=iso(utcnow() - timedelta(minutes=5)))
    row = next(r for r in scans if r["request_id"] == first)
    assert (row["actor_id"], row["actor_role"], row["status"], row["detail"]) == \
        (door_id, "user", 200, None), row
    assert (row["target_type"], row["target_id"]) == ("ticket", ticket["id"]), row
    row = next(r for r in scans if r["request_id"] == again)
    assert (row["actor_id"], row["actor_role"], row["status"], row["detail"]) == \
        (c.owner.id, "owner", 409, "already_checked_in"), row
    assert row["target_id"] == ticket["id"], row
    row = next(r for r in scans if r["request_id"] == unknown)
    assert (row["status"], row["detail"], row["target_type"], row["target_id"]) == \
        (404, "not_found", "theatre", tid), row
    # The scanned code is never stored.
    assert all(ticket["code"] not in str(val) for r in scans for val in r.values())


def test_racing_scanners_each_leave_a_row(server):
    """20 scans of one ticket at once: one 200 and 19 409s, and 20 rows, none lost to the
    contention (SQLite's single writer included)."""
    v = Venue(server, starts_at=starts_in(1))
    tid = v.theatre["id"]
    u = make_user(server, "racer")
    ticket = buy(server, u.token, v.show_id, v.ids("C1"))["tickets"][0]
    ids = [rid() for _ in range(20)]
    statuses = []

    def scan(request_id):
        resp = requests.post(f"{server.api}/theatres/{tid}/check-ins", timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {v.owner_token}",
                                      "X-Request-Id": request_id},
                             json={"code": ticket["code"]})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=scan, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 19, statuses
    got = rows(server, target_id=ticket["id"])
    assert sorted(r["request_id"] for r in got) == sorted(ids), got
    assert sorted(r["status"] for r in got) == [200] + [409] * 19


# --------------------------------------------------------------------------------------------
# Reading the trail


def test_filters_and_cursor_pages(server):
    c = cast(server)
    owner = make_owner(server, c.admin.token, "pager")
    t = create_theatre(server, owner.token)
    time.sleep(0.05)
    before = utcnow()  # the create is before, the updates after (same clock, ms precision)
    time.sleep(0.05)
    for i in range(5):
        ok(api("PATCH", server, f"/theatres/{t['id']}", token=owner.token,
               json={"name": f"Name {i} {uid()}"}), 200)
    time.sleep(0.05)
    after = utcnow()

    every = rows(server, actor_id=owner.id)
    actions = [r["action"] for r in every]
    assert actions[:5] == ["theatre.update"] * 5 and "theatre.create" in actions, every
    ids = [r["id"] for r in every]
    assert ids == sorted(ids, reverse=True), "newest first"
    assert [r["at"] for r in every] == sorted((r["at"] for r in every), reverse=True)

    # Pages of 2: the same rows, in the same order, none twice, and the last page says so.
    paged, cursor, pages = [], None, 0
    while True:
        params = {"actor_id": owner.id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = audit(server, **params)
        assert len(body["items"]) <= 2
        paged += [r["id"] for r in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert paged == ids and pages == (len(ids) + 1) // 2

    upd = rows(server, actor_id=owner.id, action="theatre.update")
    assert len(upd) == 5
    assert rows(server, actor_id=owner.id, action="theatre.delete") == []
    assert len(rows(server, target_id=t["id"], actor_id=owner.id, action="theatre.update")) == 5
    assert rows(server, actor_id=owner.id, since=iso_ms(after)) == []
    assert [r["id"] for r in rows(server, actor_id=owner.id, until=iso_ms(before))] == ids[5:]
    assert [r["id"] for r in rows(server, actor_id=owner.id, since=iso_ms(before),
                                  until=iso_ms(after))] == ids[:5]
    assert rows(server, actor_id="usr_nobody") == []


@pytest.mark.parametrize("params,parameter", [
    ({"actor": "usr_x"}, "actor"),                      # unknown filter
    ({"status": "200"}, "status"),
    ({"action": ""}, "action"),                         # empty value
    ({"action": "Theatre.Update"}, "action"),
    ({"action": "theatre update; drop"}, "action"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01T00:00:00Z"}, "until"),
    ({"since": "2026-12-06T00:00:00Z", "until": "2026-12-05T00:00:00Z"}, "since"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "not-a-cursor!"}, "cursor"),
    ({"cursor": "dXNyX3g"}, "cursor"),                  # base64url of "usr_x": not ours
    ({"actor_id": "u" * 200}, "actor_id"),
])
def test_bad_queries_are_400(server, params, parameter):
    param_error(call("GET", server, "/admin/audit", token=cast(server).admin.token,
                     params=params), parameter)


def test_only_admins_read_the_trail(server):
    c = cast(server)
    assert_error(call("GET", server, "/admin/audit", token=c.owner.token), 403, "forbidden")
    assert_error(call("GET", server, "/admin/audit", token=c.user.token), 403, "forbidden")
    assert_error(call("GET", server, "/admin/audit"), 401, "unauthorized")


# --------------------------------------------------------------------------------------------
# Append-only, and a failed write


def _must_fail(database_url: str, sql: str) -> str:
    """Runs sql straight on the database; returns the error text it must fail with."""
    try:
        query(database_url, sql)
    except sqlite3.DatabaseError as e:
        return str(e)
    except subprocess.CalledProcessError as e:
        return e.stderr
    raise AssertionError(f"{sql!r} succeeded on an append-only table")


def test_the_table_is_append_only(server):
    c = cast(server)
    create_theatre(server, c.owner.token)  # at least one row
    url = server.database_url
    (count, statuses), = query(url, "SELECT COUNT(*), SUM(status) FROM audit_log")
    assert int(count) > 0
    assert "append-only" in _must_fail(url, "UPDATE audit_log SET status = 599")
    assert "append-only" in _must_fail(url, "UPDATE audit_log SET actor_id = 'usr_x' "
                                            "WHERE id = (SELECT MIN(id) FROM audit_log)")
    assert "append-only" in _must_fail(url, "DELETE FROM audit_log")
    if server.backend == "postgres":
        assert "append-only" in _must_fail(url, "TRUNCATE audit_log")
    assert query(url, "SELECT COUNT(*), SUM(status) FROM audit_log") == [(count, statuses)]


def test_client_ip_behind_a_trusted_proxy(backend, make_server):
    """Behind a trusted proxy the trail keeps the address the proxy saw; from anyone else an
    X-Forwarded-For header is not believed."""
    server = make_server(backend, TRUST_PROXY="on", TRUSTED_PROXIES="127.0.0.1/32")
    admin = admin_tokens(server)["access_token"]
    r1 = rid()
    ok(call("POST", server, "/theatres", token=make_owner(server, admin).token,
            headers={"X-Request-Id": r1, "X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
            json={"name": f"T {uid()}", "city": "Pune", "address": "1 Road"}), 201)
    body = ok(call("GET", server, "/admin/audit", token=admin, params={"limit": 100}), 200)
    row = next(r for r in body["items"] if r["request_id"] == r1)
    assert row["client_ip"] == "203.0.113.9", row


def test_untrusted_forwarded_for_is_ignored(server):
    c = cast(server)
    r1 = rid()
    ok(api("POST", server, "/theatres", token=c.owner.token,
           headers={"X-Request-Id": r1, "X-Forwarded-For": "203.0.113.9"},
           json={"name": f"T {uid()}", "city": "Pune", "address": "1 Road"}), 201)
    assert by_request(server, r1, actor_id=c.owner.id)["client_ip"] == "127.0.0.1"


def test_a_failed_audit_write_keeps_the_answer(backend, make_server):
    """The table gone (renamed away): the owner's write still succeeds and is really made, the
    lost row is logged whole, and /metrics counts it; with the table back, rows flow again."""
    server = make_server(backend)
    admin = admin_tokens(server)["access_token"]
    owner = make_owner(server, admin)
    url = server.database_url
    query(url, "ALTER TABLE audit_log RENAME TO audit_log_away")
    try:
        r1 = rid()
        t = ok(call("POST", server, "/theatres", token=owner.token,
                    headers={"X-Request-Id": r1},
                    json={"name": f"T {uid()}", "city": "Pune", "address": "1 Road"}), 201)
        ok(call("GET", server, f"/theatres/{t['id']}", token=owner.token), 200)  # committed (pending: its owner sees it)
        metrics = ok_text(server, "/metrics")
        assert "ticketd_audit_write_failures_total 1" in metrics, metrics
        log = server.stderr_text()
        assert "audit write failed" in log and r1 in log and t["id"] in log, log[-2000:]
    finally:
        query(url, "ALTER TABLE audit_log_away RENAME TO audit_log")
    r2 = rid()
    ok(call("PATCH", server, f"/theatres/{t['id']}", token=owner.token,
            headers={"X-Request-Id": r2}, json={"name": "Back"}), 200)
    body = ok(call("GET", server, "/admin/audit", token=admin,
                   params={"actor_id": owner.id}), 200)
    assert [r["request_id"] for r in body["items"]] == [r2], body


def ok_text(server, path: str) -> str:
    resp = requests.get(server.url + path, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.text
