"""Theatre onboarding (API.md, "Running a cinema"): a theatre is born pending, is public and gets
shows only once an admin approves it; a rejected one carries the admin's reason to its owner, who
edits it and submits it again. Each move starts from one status only, so two admins deciding at
once get one 200 and one 409 invalid_transition, on one server or across servers.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
import requests

from catalog_helpers import (
    DEFAULT_LAYOUT, cast, create_movie, create_theatre, future, list_ids, make_owner, make_user,
    ok, param_error, post_show, uid, venue, walk,
)
from conftest import TIMEOUT, admin_tokens, assert_error, assert_one_wins, at_once, call
from redis_helpers import redis_server  # noqa: F401  (fixture)


def approve(server, theatre_id, token):
    return call("POST", server, f"/admin/theatres/{theatre_id}/approve", token=token)


def reject(server, theatre_id, token, reason="The address is incomplete."):
    body = {} if reason is ... else {"reason": reason}
    return call("POST", server, f"/admin/theatres/{theatre_id}/reject", token=token, json=body)


def submit(server, theatre_id, token):
    return call("POST", server, f"/theatres/{theatre_id}/submit", token=token)


def queue(server, status="pending", token=None):
    token = token or cast(server).admin.token
    items, _ = walk(server, "/admin/theatres", 100, token=token, status=status)
    return {t["id"]: t for t in items}


def public_view(server, theatre_id):
    return call("GET", server, f"/theatres/{theatre_id}")


# ============================================================================================
# The lifecycle


def test_full_lifecycle_pending_rejected_resubmitted_approved(server):
    c = cast(server)
    city = f"Onboard-{uid()}"
    t, hall = venue(server, approve=False, city=city)
    tid = t["id"]
    assert (t["status"], t["rejection_reason"], t["reviewed_at"]) == ("pending", None, None)
    assert t["submitted_at"] == t["created_at"]
    assert tid in queue(server, "pending")
    assert tid not in queue(server, "approved") and tid not in queue(server, "rejected")

    # rejected with a reason the owner reads on its theatre
    reason = "The address is incomplete:\nadd the floor and the PIN code."
    r = ok(reject(server, tid, c.admin.token, reason))
    assert (r["status"], r["rejection_reason"]) == ("rejected", reason)
    assert r["reviewed_at"] is not None
    mine = ok(call("GET", server, f"/theatres/{tid}", token=c.owner.token))
    assert (mine["status"], mine["rejection_reason"]) == ("rejected", reason)
    assert tid in queue(server, "rejected") and tid not in queue(server, "pending")
    assert_error(public_view(server, tid), 404, "not_found")

    # the owner edits the rejected theatre and submits it again: pending, reason cleared
    ok(call("PATCH", server, f"/theatres/{tid}", token=c.owner.token,
            json={"address": "3rd floor, 1 MG Road, 560001"}))
    again = ok(submit(server, tid, c.owner.token))
    assert (again["status"], again["rejection_reason"]) == ("pending", None)
    assert again["address"] == "3rd floor, 1 MG Road, 560001"
    assert again["submitted_at"] >= r["reviewed_at"]
    assert tid in queue(server, "pending")

    # approved: public, listed, open for shows
    done = ok(approve(server, tid, c.admin.token))
    assert (done["status"], done["rejection_reason"]) == ("approved", None)
    assert done["reviewed_at"] >= again["submitted_at"]
    pub = ok(public_view(server, tid))
    assert pub["status"] == "approved" and [h["id"] for h in pub["halls"]] == [hall["id"]]
    assert list_ids(server, "/theatres", city=city) == [tid]
    ok(call("GET", server, f"/halls/{hall['id']}"))
    movie = create_movie(server)
    show = ok(post_show(server, c.owner.token, movie["id"], hall["id"], future(days=5)), 201)
    assert list_ids(server, "/shows", theatre_id=tid) == [show["id"]]
    assert tid in queue(server, "approved") and tid not in queue(server, "pending")


def test_admin_queue_lists_every_status_without_a_filter_and_pages(server):
    c = cast(server)
    made = [create_theatre(server, approve=False)["id"] for _ in range(3)]
    ok(reject(server, made[1], c.admin.token))
    ok(approve(server, made[2], c.admin.token))
    items, pages = walk(server, "/admin/theatres", 1, token=c.admin.token)
    ids = [t["id"] for t in items]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert set(made) <= set(ids) and pages == len(ids)
    by_id = {t["id"]: t["status"] for t in items}
    assert [by_id[i] for i in made] == ["pending", "rejected", "approved"]


def test_approval_is_final_and_each_move_starts_from_one_status(server):
    c = cast(server)
    t = create_theatre(server, approve=False)
    tid = t["id"]
    err = assert_error(submit(server, tid, c.owner.token), 409, "invalid_transition")
    assert err["details"]["status"] == "pending"
    ok(approve(server, tid, c.admin.token))
    for r in (approve(server, tid, c.admin.token), reject(server, tid, c.admin.token),
              submit(server, tid, c.owner.token)):
        err = assert_error(r, 409, "invalid_transition")
        assert err["details"]["status"] == "approved"
    assert ok(public_view(server, tid))["status"] == "approved"

    other = create_theatre(server, approve=False)["id"]
    ok(reject(server, other, c.admin.token))
    for r in (approve(server, other, c.admin.token), reject(server, other, c.admin.token)):
        assert assert_error(r, 409, "invalid_transition")["details"]["status"] == "rejected"
    got = ok(call("GET", server, f"/theatres/{other}", token=c.admin.token))
    assert got["status"] == "rejected" and got["rejection_reason"] == "The address is incomplete."


def test_existing_fixture_theatres_are_approved_and_admin_may_submit(server):
    """create_theatre approves through the admin endpoint; an admin may also submit a
    rejected theatre of any owner (the ownership rule), an owner only its own."""
    c = cast(server)
    assert create_theatre(server)["status"] == "approved"
    tid = create_theatre(server, approve=False)["id"]
    ok(reject(server, tid, c.admin.token))
    assert_error(submit(server, tid, c.other_owner.token), 404, "not_found")  # cannot see it
    assert ok(submit(server, tid, c.admin.token))["status"] == "pending"


# ============================================================================================
# Who may do what


def door_staff(server, theatre_id):
    """A plain user made door staff of theatre_id by its owner."""
    u = make_user(server, "door")
    me = ok(call("GET", server, "/me", token=u.token))
    ok(call("POST", server, f"/theatres/{theatre_id}/staff", token=cast(server).owner.token,
            json={"email": me["email"]}), 201)
    return u


def test_only_admins_review(server):
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    staff = door_staff(server, tid)
    for who in (c.owner, c.other_owner, c.user, staff):
        assert_error(approve(server, tid, who.token), 403, "forbidden")
        assert_error(reject(server, tid, who.token), 403, "forbidden")
        assert_error(call("GET", server, "/admin/theatres", token=who.token), 403, "forbidden")
    for r in (approve(server, tid, None), reject(server, tid, None),
              call("GET", server, "/admin/theatres"), submit(server, tid, None)):
        assert_error(r, 401, "unauthorized")
    assert_error(submit(server, tid, c.user.token), 403, "forbidden")
    assert_error(submit(server, tid, staff.token), 403, "forbidden")
    got = ok(call("GET", server, f"/theatres/{tid}", token=c.owner.token))
    assert (got["status"], got["reviewed_at"]) == ("pending", None)


def test_an_owner_cannot_approve_its_own_theatre_even_when_it_is_also_the_creator(server):
    c = cast(server)
    owner = make_owner(server, c.admin.token, "self-approver")
    tid = create_theatre(server, owner.token, approve=False)["id"]
    assert_error(approve(server, tid, owner.token), 403, "forbidden")
    assert tid in queue(server, "pending")


def test_unknown_theatre_is_404(server):
    c = cast(server)
    assert_error(approve(server, "thr_nope", c.admin.token), 404, "not_found")
    assert_error(reject(server, "thr_nope", c.admin.token), 404, "not_found")
    assert_error(reject(server, "thr_nope", c.admin.token, reason=...), 404, "not_found")
    assert_error(submit(server, "thr_nope", c.owner.token), 404, "not_found")


def test_deleted_theatre_cannot_be_reviewed(server):
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    ok(call("DELETE", server, f"/theatres/{tid}", token=c.owner.token), 204)
    assert_error(approve(server, tid, c.admin.token), 404, "not_found")
    assert tid not in queue(server, "pending")


# ============================================================================================
# Invisible until approved


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_not_approved_theatre_is_invisible_to_the_public(server, status):
    c = cast(server)
    city = f"Hidden-{uid()}"
    t, hall = venue(server, approve=False, city=city)
    if status == "rejected":
        ok(reject(server, t["id"], c.admin.token))
    stranger = make_user(server, "stranger")
    for token in (None, c.user.token, c.other_owner.token, stranger.token):
        assert_error(call("GET", server, f"/theatres/{t['id']}", token=token), 404, "not_found")
        assert_error(call("GET", server, f"/halls/{hall['id']}", token=token), 404, "not_found")
    # nor does another owner find it to change: 404 where an approved theatre would be 403
    o = c.other_owner.token
    for method, path, body in (("PATCH", f"/theatres/{t['id']}", {"name": "x"}),
                               ("DELETE", f"/theatres/{t['id']}", None),
                               ("POST", f"/theatres/{t['id']}/halls",
                                {"name": "x", "layout": DEFAULT_LAYOUT}),
                               ("PATCH", f"/halls/{hall['id']}", {"name": "x"}),
                               ("DELETE", f"/halls/{hall['id']}", None)):
        assert_error(call(method, server, path, token=o, json=body), 404, "not_found")
    # nor its door: staff, bookings, check-ins (a plain user too, where its role may call)
    for token, method, path, body in (
            (o, "GET", f"/theatres/{t['id']}/staff", None),
            (o, "POST", f"/theatres/{t['id']}/staff", {"email": "x@example.com"}),
            (o, "DELETE", f"/theatres/{t['id']}/staff/usr_x", None),
            (o, "GET", f"/theatres/{t['id']}/bookings", None),
            (c.user.token, "GET", f"/theatres/{t['id']}/bookings", None),
            (c.user.token, "POST", f"/theatres/{t['id']}/check-ins", {"code": "nope"})):
        assert_error(call(method, server, path, token=token, json=body), 404, "not_found")
    ok(call("GET", server, f"/theatres/{t['id']}/staff", token=c.owner.token))
    # the owner and admins see it, with its status
    for token in (c.owner.token, c.admin.token):
        got = ok(call("GET", server, f"/theatres/{t['id']}", token=token))
        assert got["status"] == status and [h["id"] for h in got["halls"]] == [hall["id"]]
        ok(call("GET", server, f"/halls/{hall['id']}", token=token))
    # never in the public list, whoever asks (the list is cached per catalogue version)
    for token in (None, c.owner.token, c.admin.token):
        assert list_ids(server, "/theatres", token=token, city=city) == []
        assert t["id"] not in list_ids(server, "/theatres", token=token, owner_id=c.owner.id)
    assert list_ids(server, "/shows", theatre_id=t["id"]) == []


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_not_approved_theatre_gets_no_shows(server, status):
    c = cast(server)
    t, hall = venue(server, approve=False)
    if status == "rejected":
        ok(reject(server, t["id"], c.admin.token))
    movie = create_movie(server)
    for token in (c.owner.token, c.admin.token):
        r = post_show(server, token, movie["id"], hall["id"], future(days=6))
        assert_error(r, 409, "theatre_not_approved")
    assert list_ids(server, "/shows", hall_id=hall["id"]) == []
    # another owner does not see the hall (422 on hall_id, as for an unknown hall); the
    # owner's bad input is 422 before the status
    r = post_show(server, c.other_owner.token, movie["id"], hall["id"], future(days=6))
    assert assert_error(r, 422, "validation_failed")["details"]["field"] == "hall_id"
    r = post_show(server, c.owner.token, movie["id"], hall["id"], future(days=6),
                  prices={"premium": 1})
    assert_error(r, 422, "validation_failed")


def test_an_approval_drops_cached_listings(server):
    c = cast(server)
    city = f"Cached-{uid()}"
    tid = create_theatre(server, approve=False, city=city)["id"]
    q = {"city": city}
    call("GET", server, "/theatres", params=q)
    again = call("GET", server, "/theatres", params=q)
    assert again.json()["items"] == []
    assert again.headers.get("X-Cache") in (None, "hit")
    ok(approve(server, tid, c.admin.token))
    after = call("GET", server, "/theatres", params=q)
    assert [x["id"] for x in after.json()["items"]] == [tid]


# ============================================================================================
# Bad input changes nothing


@pytest.mark.parametrize("body,status,code", [
    (..., 422, "validation_failed"),
    ({"reason": ""}, 422, "validation_failed"),
    ({"reason": "   \n\t "}, 422, "validation_failed"),
    ({"reason": "x" * 1001}, 422, "validation_failed"),
    ({"reason": "bad\u0000byte"}, 422, "validation_failed"),
    ({"reason": 42}, 400, "invalid_type"),
    ({"reason": None}, 400, "invalid_type"),  # as every required string (tix_v_text)
], ids=["missing", "empty", "blank", "too-long", "nul", "number", "null"])
def test_reject_needs_a_usable_reason(server, body, status, code):
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    if body is ...:
        r = reject(server, tid, c.admin.token, reason=...)
    else:
        r = call("POST", server, f"/admin/theatres/{tid}/reject", token=c.admin.token, json=body)
    err = assert_error(r, status, code)
    assert err["details"]["field"] == "reason"
    got = ok(call("GET", server, f"/theatres/{tid}", token=c.admin.token))
    assert (got["status"], got["rejection_reason"], got["reviewed_at"]) == ("pending", None, None)


def test_reject_reason_at_the_limit_is_kept_whole(server):
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    reason = "é" * 1000  # characters, not bytes
    got = ok(reject(server, tid, c.admin.token, reason=reason))
    assert got["rejection_reason"] == reason


def test_reject_body_shape(server):
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    url = f"{server.api}/admin/theatres/{tid}/reject"
    h = {"Authorization": f"Bearer {c.admin.token}"}
    r = requests.post(url, data="[1]", headers={**h, "Content-Type": "application/json"},
                      timeout=TIMEOUT)
    assert_error(r, 400, "invalid_type")
    r = requests.post(url, data="{", headers={**h, "Content-Type": "application/json"},
                      timeout=TIMEOUT)
    assert_error(r, 400, "malformed_json")
    r = requests.post(url, data="reason=x", headers={**h, "Content-Type": "text/plain"},
                      timeout=TIMEOUT)
    assert_error(r, 415, "unsupported_media_type")
    assert ok(call("GET", server, f"/theatres/{tid}", token=c.admin.token))["status"] == "pending"


@pytest.mark.parametrize("value", ["all", "Pending", "", "approved,rejected", "deleted"])
def test_unknown_status_filter_is_400(server, value):
    r = call("GET", server, "/admin/theatres", token=cast(server).admin.token,
             params={"status": value})
    param_error(r, "status")


def test_repeated_status_filter_is_400(server):
    r = call("GET", server, "/admin/theatres?status=pending&status=approved",
             token=cast(server).admin.token)
    param_error(r, "status")


def test_bad_cursor_is_400(server):
    r = call("GET", server, "/admin/theatres", token=cast(server).admin.token,
             params={"cursor": "_w"})
    param_error(r, "cursor")


# ============================================================================================
# Races


def decide_at_once(targets, token: str, theatre_id: str, n: int) -> list[requests.Response]:
    """n admins decide at once, half approving and half rejecting, thread i through
    targets[i % len(targets)]."""

    def prepare(i: int):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        base = f"{targets[i % len(targets)].api}/admin/theatres/{theatre_id}"
        if i % 2 == 0:
            return lambda: s.post(base + "/approve", timeout=TIMEOUT)
        return lambda: s.post(base + "/reject", json={"reason": f"no {i}"}, timeout=TIMEOUT)

    return at_once(n, prepare)


def assert_one_decision(server, theatre_id: str, answers: list[requests.Response]) -> None:
    won, errs = assert_one_wins(answers, "invalid_transition")
    for err in errs:
        assert err["details"]["status"] == won["status"]
    got = ok(call("GET", server, f"/theatres/{theatre_id}", token=cast(server).admin.token))
    assert (got["status"], got["rejection_reason"]) == (won["status"], won["rejection_reason"])


@pytest.mark.parametrize("round_", range(3))
def test_admins_racing_approve_and_reject_one_wins(server, round_):
    tid = create_theatre(server, approve=False)["id"]
    answers = decide_at_once([server], cast(server).admin.token, tid, 8)
    assert_one_decision(server, tid, answers)


def test_admins_racing_across_servers_one_wins_and_both_listings_follow(make_server,
                                                                      redis_server):  # noqa: F811
    """Two servers on one PostgreSQL database and one Redis: admins on both decide at once;
    exactly one decision is kept, and the other server's cached listing follows at once."""
    env = {"REDIS_URL": redis_server.url, "CACHE_TIMEOUT": "200ms"}
    a = make_server("postgres", **env)
    b = make_server("postgres", database_url=a.database_url, **env)
    c = cast(a)
    for _ in range(3):
        city = f"Race-{uid()}"
        tid = create_theatre(a, c.owner.token, approve=False, city=city)["id"]
        q = {"city": city}
        call("GET", b, "/theatres", params=q)
        assert call("GET", b, "/theatres", params=q).headers.get("X-Cache") == "hit"
        answers = decide_at_once([a, b], c.admin.token, tid, 6)
        assert_one_decision(a, tid, answers)
        won = [r for r in answers if r.status_code == 200][0].json()
        listed = [x["id"] for x in call("GET", b, "/theatres", params=q).json()["items"]]
        assert listed == ([tid] if won["status"] == "approved" else [])


def test_submit_racing_an_edit_and_itself(server):
    """Two submits of one rejected theatre at once: one 200, one 409."""
    c = cast(server)
    tid = create_theatre(server, approve=False)["id"]
    ok(reject(server, tid, c.admin.token))
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def worker(i):
        barrier.wait(30)
        out[i] = submit(server, tid, c.owner.token)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in out) == [200, 409], [r.text for r in out]
    assert ok(call("GET", server, f"/theatres/{tid}", token=c.owner.token))["status"] == "pending"



# ============================================================================================
# Migration 0013


UNDO_0013 = [
    "DROP INDEX theatres_status",
    "ALTER TABLE theatres DROP COLUMN reviewed_by",
    "ALTER TABLE theatres DROP COLUMN reviewed_at",
    "ALTER TABLE theatres DROP COLUMN submitted_at",
    "ALTER TABLE theatres DROP COLUMN rejection_reason",
    "ALTER TABLE theatres DROP COLUMN status",
    "DELETE FROM schema_migrations WHERE version = 13",
]


def run_sql(request, server, statements: list[str]) -> None:
    if server.backend == "sqlite":
        db = sqlite3.connect(server.database_url.removeprefix("sqlite://"))
        with db:
            for st in statements:
                db.execute(st)
        db.close()
    else:
        pg = request.getfixturevalue("pg_cluster")
        pg.psql(server.database_url.rsplit("/", 1)[1], "; ".join(statements))


def test_theatres_from_before_the_migration_are_approved(request, make_server, backend):
    """A database at migration 0012 with a live theatre: after the upgrade (0013 runs at the
    start) the theatre is approved, still listed, and still takes shows."""
    srv = make_server(backend)
    owner_id = admin_tokens(srv)["user"]["id"]
    srv.assert_clean_exit(srv.stop())
    city = f"Before-{uid()}"
    t0 = 1764000000000
    run_sql(request, srv, UNDO_0013 + [
        "INSERT INTO theatres (id, owner_id, name, city, city_search, address,"
        f" utc_offset_minutes, created_at, updated_at) VALUES ('thr_old', '{owner_id}', 'Old',"
        f" '{city}', '{city.lower()}', '1 Road', 330, {t0}, {t0})"])
    srv.start()
    listed, _ = walk(srv, "/theatres", 100, city=city)
    assert [t["id"] for t in listed] == ["thr_old"]
    old = listed[0]
    assert (old["status"], old["rejection_reason"]) == ("approved", None)
    assert old["submitted_at"] == old["reviewed_at"] == old["created_at"]
    c = cast(srv)
    hall = ok(call("POST", srv, "/theatres/thr_old/halls", token=c.admin.token,
                   json={"name": "Old hall", "layout": {"rows": [
                       {"label": "A", "seats": 4, "category": "regular"}]}}), 201)
    movie = create_movie(srv)
    ok(post_show(srv, c.admin.token, movie["id"], hall["id"], future(days=3),
                 prices={"regular": 100}), 201)
    # and a theatre made now is still born pending
    assert create_theatre(srv, approve=False)["status"] == "pending"
