"""Tickets at the door (issue 11): door staff per theatre, check-ins, a show's admissions.

- Staff are a membership of a user in one theatre: its owner (or an admin) adds, lists and
  removes them; a member may scan that theatre's tickets and read its bookings and check-ins,
  and nothing else (not another theatre's, not the theatre itself).
- A check-in answers 200 the first time, 409 `already_checked_in` with the first time after
  that, 410 `ticket_void` for a cancelled or refunded booking, 404 for an unknown code, 422
  `wrong_theatre` / `wrong_show` for another theatre's ticket or a show outside the window.
- Exactly once: 20 scanners racing on one ticket get one 200; so do scanners on three servers
  of a cluster (one PostgreSQL), because the check-in is one conditional insert on a unique key.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from booking_helpers import GRID_LAYOUT, GRID_PRICES, Venue, api, buy, post_cancel, starts_in
from catalog_helpers import cast, create_hall, create_show, create_theatre, make_owner, \
    make_user, ok, parse_time, uid
from conftest import TIMEOUT, assert_error, assert_one_wins, at_once

CHECKIN_KEYS = {"ticket", "seat", "show", "booking_id", "checked_in_at"}


def near_venue(server, owner_token=None) -> Venue:
    """A show that starts in about an hour: inside the default window (2 h before the start)."""
    return Venue(server, starts_at=starts_in(1), owner_token=owner_token)


def add_staff(server, theatre_id: str, token: str, email: str) -> requests.Response:
    return api("POST", server, f"/theatres/{theatre_id}/staff", token=token,
               json={"email": email})


def scan(server, theatre_id: str, auth: str | None, **body) -> requests.Response:
    """POST /theatres/{id}/check-ins with body {code} or {token} as the caller with token auth."""
    return api("POST", server, f"/theatres/{theatre_id}/check-ins", token=auth, json=body)


def staff_member(server, venue: Venue, label: str = "door"):
    """A fresh user made door staff of venue's theatre by its owner; returns (actor, email)."""
    from conftest import register, unique_email
    email = unique_email(label)
    reg = register(server, email=email)
    ok(add_staff(server, venue.theatre["id"], venue.owner_token, email), 201)
    from catalog_helpers import Actor
    return Actor(label, reg["user"]["id"], reg["access_token"], "user")


# --------------------------------------------------------------------------------------------
# Staff


def test_staff_add_list_remove(server):
    c = cast(server)
    v = near_venue(server)
    tid = v.theatre["id"]
    from conftest import register, unique_email
    email = unique_email("door")
    reg = register(server, email=email)
    member = reg["user"]["id"]

    s = ok(add_staff(server, tid, c.owner.token, email.upper()), 201)  # e-mails are normalised
    assert s["user_id"] == member and s["email"] == email and s["added_by"] == c.owner.id, s
    assert_error(add_staff(server, tid, c.owner.token, email), 409, "already_staff")
    err = assert_error(add_staff(server, tid, c.owner.token, unique_email("nobody")), 422,
                       "unknown_user")
    assert err["details"]["field"] == "email"
    assert_error(add_staff(server, tid, c.owner.token, "not-an-email"), 422, "validation_failed")
    assert_error(api("POST", server, f"/theatres/{tid}/staff", token=c.owner.token,
                     json={"email": 7}), 400, "invalid_type")
    assert_error(add_staff(server, "thr_nope", c.owner.token, email), 404, "not_found")

    # another owner, the member itself, a user, anonymous: no
    other = make_user(server, "other")
    assert_error(add_staff(server, tid, c.other_owner.token, email), 403, "forbidden")
    assert_error(add_staff(server, tid, reg["access_token"], unique_email()), 403, "forbidden")
    assert_error(add_staff(server, tid, other.token, email), 403, "forbidden")
    assert_error(add_staff(server, tid, None, email), 401, "unauthorized")
    # an admin may
    admin_added = make_user(server, "byadmin")
    admin_email = ok(api("GET", server, "/me", token=admin_added.token))["email"]
    ok(add_staff(server, tid, c.admin.token, admin_email), 201)

    page = ok(api("GET", server, f"/theatres/{tid}/staff", token=c.owner.token))
    assert sorted(i["user_id"] for i in page["items"]) == sorted([member, admin_added.id])
    assert page["next_cursor"] is None
    first = ok(api("GET", server, f"/theatres/{tid}/staff?limit=1", token=c.owner.token))
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = ok(api("GET", server, f"/theatres/{tid}/staff?limit=1&cursor="
                    + first["next_cursor"], token=c.owner.token))
    assert [i["user_id"] for i in first["items"] + second["items"]] == \
        sorted([member, admin_added.id])
    ok(api("GET", server, f"/theatres/{tid}/staff", token=c.admin.token))
    for token, status, code in [(c.other_owner.token, 403, "forbidden"),
                                (reg["access_token"], 403, "forbidden"),
                                (None, 401, "unauthorized")]:
        assert_error(api("GET", server, f"/theatres/{tid}/staff", token=token), status, code)

    # staff may not remove staff; another owner may not; the owner may, once
    path = f"/theatres/{tid}/staff/{admin_added.id}"
    assert_error(api("DELETE", server, path, token=reg["access_token"]), 403, "forbidden")
    assert_error(api("DELETE", server, path, token=c.other_owner.token), 403, "forbidden")
    ok(api("DELETE", server, path, token=c.owner.token), 204)
    assert_error(api("DELETE", server, path, token=c.owner.token), 404, "not_found")
    page = ok(api("GET", server, f"/theatres/{tid}/staff", token=c.owner.token))
    assert [i["user_id"] for i in page["items"]] == [member]


def my_theatres(server, token, **query) -> list[str]:
    """Every id GET /me/theatres lists for token, page by page."""
    ids, cursor = [], None
    while True:
        q = "&".join(f"{k}={v}" for k, v in {**query, **({"cursor": cursor} if cursor else {})}
                     .items())
        page = ok(api("GET", server, "/me/theatres" + ("?" + q if q else ""), token=token))
        ids += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def test_me_theatres_lists_the_doors_the_caller_works(server):
    """The door page's list: staff see only the theatres they staff, owners theirs, admins all;
    a plain customer none."""
    c = cast(server)
    o1, o2 = make_owner(server, c.admin.token, "door1"), make_owner(server, c.admin.token, "door2")
    v1, v2 = near_venue(server, o1.token), near_venue(server, o2.token)
    t1, t2 = v1.theatre["id"], v2.theatre["id"]
    door = staff_member(server, v1)
    assert my_theatres(server, door.token) == [t1]
    ok(add_staff(server, t2, v2.owner_token, door_email(server, door)), 201)
    assert my_theatres(server, door.token) == sorted([t1, t2])
    # an owner: its own (a pending one too), not another owner's
    pending = create_theatre(server, o1.token, approve=False)
    assert my_theatres(server, o1.token) == sorted([t1, pending["id"]])
    assert my_theatres(server, o2.token) == [t2]
    # admins: every theatre, paged
    every = my_theatres(server, c.admin.token, limit=2)
    assert {t1, t2, pending["id"]} <= set(every) and every == sorted(every)
    assert my_theatres(server, c.user.token) == []
    # removed from the staff: gone at once
    ok(api("DELETE", server, f"/theatres/{t1}/staff/{door.id}", token=v1.owner_token), 204)
    assert my_theatres(server, door.token) == [t2]
    assert_error(api("GET", server, "/me/theatres", token=None), 401, "unauthorized")
    assert_error(api("GET", server, "/me/theatres?limit=0", token=door.token), 400,
                 "invalid_parameter")


def door_email(server, actor) -> str:
    return ok(api("GET", server, "/me", token=actor.token))["email"]


def test_staff_reads_its_theatres_bookings_and_nothing_else(server):
    c = cast(server)
    v = near_venue(server)
    tid = v.theatre["id"]
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    b = buy(server, buyer.token, v.show_id, v.ids("A1"))

    items = ok(api("GET", server, f"/theatres/{tid}/bookings", token=door.token))["items"]
    assert [i["id"] for i in items] == [b["id"]]
    ok(api("GET", server, f"/shows/{v.show_id}/check-ins", token=door.token))

    # another theatre (same owner): its bookings, its door and its check-ins are not theirs
    other_theatre = create_theatre(server, c.owner.token)
    assert_error(api("GET", server, f"/theatres/{other_theatre['id']}/bookings",
                     token=door.token), 403, "forbidden")
    assert_error(scan(server, other_theatre["id"], door.token, code=b["tickets"][0]["code"]),
                 403, "forbidden")
    w = near_venue(server)
    assert_error(api("GET", server, f"/shows/{w.show_id}/check-ins", token=door.token),
                 403, "forbidden")
    # the theatre itself, its halls and shows, its staff: not theirs to change or see
    assert_error(api("PATCH", server, f"/theatres/{tid}", token=door.token,
                     json={"name": "Mine now"}), 403, "forbidden")
    assert_error(api("DELETE", server, f"/theatres/{tid}", token=door.token), 403, "forbidden")
    assert_error(api("POST", server, f"/theatres/{tid}/halls", token=door.token,
                     json={"name": "H", "layout": GRID_LAYOUT}), 403, "forbidden")
    assert_error(api("POST", server, f"/shows/{v.show_id}/cancel", token=door.token),
                 403, "forbidden")
    assert_error(api("GET", server, f"/shows/{v.show_id}/sales", token=door.token),
                 403, "forbidden")
    assert_error(api("GET", server, f"/theatres/{tid}/staff", token=door.token),
                 403, "forbidden")
    assert ok(api("GET", server, f"/theatres/{tid}"))["name"] == v.theatre["name"]

    # a user, another owner: still 403 on the bookings; the owner and an admin: 200
    for token in (buyer.token, c.other_owner.token):
        assert_error(api("GET", server, f"/theatres/{tid}/bookings", token=token),
                     403, "forbidden")
    for token in (c.owner.token, c.admin.token):
        ok(api("GET", server, f"/theatres/{tid}/bookings", token=token))
    assert_error(api("GET", server, f"/theatres/{tid}/bookings"), 401, "unauthorized")

    # removed: the door closes at once
    ok(api("DELETE", server, f"/theatres/{tid}/staff/{door.id}", token=c.owner.token), 204)
    assert_error(api("GET", server, f"/theatres/{tid}/bookings", token=door.token),
                 403, "forbidden")
    assert_error(scan(server, tid, door.token, code=b["tickets"][0]["code"]), 403, "forbidden")


# --------------------------------------------------------------------------------------------
# Check-in outcomes


def test_check_in_outcomes(server):
    c = cast(server)
    v = near_venue(server)
    tid = v.theatre["id"]
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    b = buy(server, buyer.token, v.show_id, v.ids("C3", "C4", "C5"))
    by_seat = {t["seat_id"]: t["code"] for t in b["tickets"]}
    code = by_seat[v.ids("C3")[0]]

    first = ok(scan(server, tid, door.token, code=code))
    assert set(first) == CHECKIN_KEYS, first
    assert first["booking_id"] == b["id"]
    assert first["seat"] == {"id": v.ids("C3")[0], "label": "C3"}
    assert first["show"]["id"] == v.show_id and first["show"]["theatre_id"] == tid
    assert first["ticket"]["id"].startswith("tkt_"), first
    parse_time(first["checked_in_at"])

    for token in (door.token, c.owner.token, c.admin.token):  # whoever scans again: 409
        err = assert_error(scan(server, tid, token, code=code), 409, "already_checked_in")
        assert err["details"]["checked_in_at"] == first["checked_in_at"], err
        assert err["details"]["ticket_id"] == first["ticket"]["id"]

    # the owner and an admin may scan too; the buyer, another owner, anonymous may not
    ok(scan(server, tid, c.owner.token, code=by_seat[v.ids("C4")[0]]))
    assert_error(scan(server, tid, buyer.token, code=by_seat[v.ids("C5")[0]]), 403, "forbidden")
    assert_error(scan(server, tid, c.other_owner.token, code=by_seat[v.ids("C5")[0]]),
                 403, "forbidden")
    assert_error(scan(server, tid, None, code=by_seat[v.ids("C5")[0]]), 401, "unauthorized")
    assert_error(scan(server, "thr_nope", door.token, code=code), 404, "not_found")

    # unknown code; malformed bodies change nothing
    assert_error(scan(server, tid, door.token, code="0" * 32), 404, "not_found")
    assert_error(scan(server, tid, door.token), 422, "validation_failed")
    assert_error(scan(server, tid, door.token, code=code, token="t1.x.y.z"), 422,
                 "validation_failed")
    assert_error(scan(server, tid, door.token, code=12), 400, "invalid_type")
    assert_error(scan(server, tid, door.token, code=""), 422, "validation_failed")

    # a show's admissions: counts and the list, paged
    ok(scan(server, tid, c.admin.token, code=by_seat[v.ids("C5")[0]]))
    body = ok(api("GET", server, f"/shows/{v.show_id}/check-ins", token=door.token))
    assert body["show_id"] == v.show_id
    assert body["counts"] == {"sold": 3, "admitted": 3}, body
    assert sorted(i["seat_label"] for i in body["items"]) == ["C3", "C4", "C5"]
    assert {i["scanned_by"] for i in body["items"]} == {door.id, c.owner.id, c.admin.id}
    assert all(i["method"] == "code" and i["booking_id"] == b["id"] for i in body["items"])
    seen, cursor = [], None
    while True:
        q = f"/shows/{v.show_id}/check-ins?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = ok(api("GET", server, q, token=c.owner.token))
        seen += [i["ticket_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["ticket_id"] for i in body["items"]]
    assert_error(api("GET", server, f"/shows/{v.show_id}/check-ins?cursor=bm9wZQ",
                     token=door.token), 400, "invalid_parameter")
    for token, status, code_ in [(buyer.token, 403, "forbidden"), (None, 401, "unauthorized")]:
        assert_error(api("GET", server, f"/shows/{v.show_id}/check-ins", token=token),
                     status, code_)
    assert_error(api("GET", server, "/shows/shw_nope/check-ins", token=door.token),
                 404, "not_found")


def test_check_in_by_token(server):
    """A token that does not verify is refused (422) and admits nothing; the ticket's signed
    token (in the booking, next to its code) admits it once, and its code is then 409 like a
    second scan: one ticket, one admission, whatever the scanner sent."""
    v = near_venue(server)
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    b = buy(server, buyer.token, v.show_id, v.ids("F1"))
    for bad in ("t1.AAAAAAAAAAA.e30." + "A" * 86, "not a token", b["tickets"][0]["code"]):
        err = assert_error(scan(server, v.theatre["id"], door.token, token=bad), 422,
                           "validation_failed")
        assert err["details"]["field"] == "token", err
    counts = ok(api("GET", server, f"/shows/{v.show_id}/check-ins", token=door.token))["counts"]
    assert counts == {"sold": 1, "admitted": 0}
    token = b["tickets"][0]["token"]
    first = ok(scan(server, v.theatre["id"], door.token, token=token))
    assert first["seat"]["label"] == "F1"
    err = assert_error(scan(server, v.theatre["id"], door.token, code=b["tickets"][0]["code"]),
                       409, "already_checked_in")
    assert err["details"]["checked_in_at"] == first["checked_in_at"]
    items = ok(api("GET", server, f"/shows/{v.show_id}/check-ins", token=door.token))["items"]
    assert [i["method"] for i in items] == ["token"]


def test_wrong_theatre_and_wrong_show(server):
    c = cast(server)
    v = near_venue(server)
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    # another theatre's ticket (same owner, shown at the right time)
    w = near_venue(server)
    other = buy(server, buyer.token, w.show_id, w.ids("A1"))
    err = assert_error(scan(server, v.theatre["id"], door.token,
                            code=other["tickets"][0]["code"]), 422, "wrong_theatre")
    assert err["details"]["show_id"] == w.show_id
    err = assert_error(scan(server, v.theatre["id"], door.token,
                            token=other["tickets"][0]["token"]), 422, "wrong_theatre")
    # this theatre's show two days away: outside the window
    hall = create_hall(server, v.theatre["id"], c.owner.token, GRID_LAYOUT)
    far = create_show(server, v.movie["id"], hall["id"], starts_in(48), token=c.owner.token,
                      prices=GRID_PRICES)
    seat = [s for s in ok(api("GET", server, f"/shows/{far['id']}/seats"))["seats"]
            if s["label"] == "B2"][0]
    b = buy(server, buyer.token, far["id"], [seat["id"]])
    err = assert_error(scan(server, v.theatre["id"], door.token, code=b["tickets"][0]["code"]),
                       422, "wrong_show")
    assert parse_time(err["details"]["opens_at"]) < parse_time(err["details"]["starts_at"])
    # nothing was admitted by the refusals
    for show_id in (far["id"], w.show_id):
        counts = ok(api("GET", server, f"/shows/{show_id}/check-ins",
                        token=c.owner.token))["counts"]
        assert counts == {"sold": 1, "admitted": 0}, counts

    # refunded: the booking is cancelled (two days out: allowed), its ticket is void
    ok(post_cancel(server, buyer.token, b["id"]))
    assert_error(scan(server, v.theatre["id"], door.token, code=b["tickets"][0]["code"]),
                 410, "ticket_void")
    # its token still verifies offline (it is signed), and is refused online all the same
    assert_error(scan(server, v.theatre["id"], door.token, token=b["tickets"][0]["token"]),
                 410, "ticket_void")


def test_cancelled_show_voids_its_tickets(server):
    v = near_venue(server)
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    b = buy(server, buyer.token, v.show_id, v.ids("D4", "D5"))
    ok(scan(server, v.theatre["id"], door.token, code=b["tickets"][0]["code"]))
    v.cancel_show()
    err = assert_error(scan(server, v.theatre["id"], door.token, code=b["tickets"][1]["code"]),
                       410, "ticket_void")
    assert err["details"]["booking_id"] == b["id"]


# --------------------------------------------------------------------------------------------
# Exactly once


def race(targets, token: str, theatre_id: str, code: str, n: int) -> list[requests.Response]:
    """n threads scan code at once, thread i through targets[i % len(targets)]."""

    def prepare(i: int):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        url = f"{targets[i % len(targets)].api}/theatres/{theatre_id}/check-ins"
        return lambda: s.post(url, json={"code": code}, timeout=TIMEOUT)

    return at_once(n, prepare)


def assert_exactly_once(answers: list[requests.Response]) -> None:
    won, errs = assert_one_wins(answers, "already_checked_in")
    for err in errs:
        assert err["details"]["checked_in_at"] == won["checked_in_at"]


def test_twenty_scanners_race_on_one_ticket(server):
    v = near_venue(server)
    door = staff_member(server, v)
    buyer = make_user(server, "buyer")
    b = buy(server, buyer.token, v.show_id, v.ids("E1", "E2"))
    for t in b["tickets"]:
        assert_exactly_once(race([server], door.token, v.theatre["id"], t["code"], 20))
    counts = ok(api("GET", server, f"/shows/{v.show_id}/check-ins", token=door.token))["counts"]
    assert counts == {"sold": 2, "admitted": 2}


@pytest.fixture(scope="module")
def cluster(ticketd_bin):
    from cluster_helpers import running_cluster
    with running_cluster(3, HOLD_TTL="10m") as c:
        yield c


def test_scanners_on_three_servers_admit_once(cluster):
    v = near_venue(cluster.nginx)
    door = staff_member(cluster.nginx, v)
    buyer = make_user(cluster.nginx, "buyer")
    b = buy(cluster.nginx, buyer.token, v.show_id, v.ids("B1", "B2", "B3"))
    for t in b["tickets"]:
        answers = race(cluster.servers, door.token, v.theatre["id"], t["code"], 12)
        assert_exactly_once(answers)
    for ep in cluster.servers:
        counts = ok(api("GET", ep, f"/shows/{v.show_id}/check-ins", token=door.token))["counts"]
        assert counts == {"sold": 3, "admitted": 3}, (ep, counts)
    rows = cluster.psql(f"SELECT COUNT(*), COUNT(DISTINCT ticket_id) FROM check_ins"
                        f" WHERE show_id = '{v.show_id}'")
    assert rows == [["3", "3"]], rows


# --------------------------------------------------------------------------------------------
# A ticket that was used is not refunded


def test_checked_in_booking_cannot_be_cancelled(backend, make_server):
    """Once any ticket of a booking was admitted at the door, the booking cannot be cancelled
    (409 `already_checked_in`, with the first admission), nothing is refunded and its other
    tickets still admit. A booking with no admission still cancels."""
    srv = make_server(backend, CANCEL_FULL_REFUND_HOURS=0)
    v = near_venue(srv)
    tid = v.theatre["id"]
    buyer = make_user(srv, "buyer")
    b = buy(srv, buyer.token, v.show_id, v.ids("A1", "A2"))
    first = ok(scan(srv, tid, v.owner_token, code=b["tickets"][0]["code"]))

    err = assert_error(post_cancel(srv, buyer.token, b["id"]), 409, "already_checked_in")
    assert err["details"]["checked_in_at"] == first["checked_in_at"], err
    assert err["details"]["ticket_id"] == first["ticket"]["id"], err
    got = ok(api("GET", srv, f"/bookings/{b['id']}", token=buyer.token))
    assert got["status"] == "confirmed" and got["refunds"] == [], got
    ok(scan(srv, tid, v.owner_token, code=b["tickets"][1]["code"]))  # still valid
    # an admin cannot cancel it either
    assert_error(post_cancel(srv, cast(srv).admin.token, b["id"]), 409, "already_checked_in")

    other = buy(srv, buyer.token, v.show_id, v.ids("B1"))
    assert ok(post_cancel(srv, buyer.token, other["id"]))["status"] == "cancelled_refunded"


def test_cancel_and_check_in_racing_never_both_win(backend, make_server):
    """A cancellation and a scan of the same booking at once: either the scan admits and the
    cancellation is refused (409 `already_checked_in`), or the booking is cancelled and the
    scan refused (410 `ticket_void`); never an admitted ticket that was refunded."""
    srv = make_server(backend, CANCEL_FULL_REFUND_HOURS=0)
    v = near_venue(srv)
    tid = v.theatre["id"]
    buyer = make_user(srv, "buyer")
    bookings = [buy(srv, buyer.token, v.show_id, v.ids(f"{r}{n}")) for r in "ABC" for n in (1, 2, 3, 4)]
    outcomes = Counter()
    for b in bookings:
        barrier = threading.Barrier(2)
        out = {}

        def cancel():
            barrier.wait(30)
            out["cancel"] = post_cancel(srv, buyer.token, b["id"])

        def check_in():
            barrier.wait(30)
            out["scan"] = scan(srv, tid, v.owner_token, code=b["tickets"][0]["code"])

        threads = [threading.Thread(target=cancel), threading.Thread(target=check_in)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pair = (out["cancel"].status_code, out["scan"].status_code)
        assert pair in {(200, 410), (409, 200)}, (pair, out["cancel"].text, out["scan"].text)
        got = ok(api("GET", srv, f"/bookings/{b['id']}", token=buyer.token))
        if pair == (200, 410):
            assert_error(out["scan"], 410, "ticket_void")
            assert got["status"] == "cancelled_refunded" and len(got["refunds"]) == 1, got
        else:
            assert_error(out["cancel"], 409, "already_checked_in")
            assert got["status"] == "confirmed" and got["refunds"] == [], got
        outcomes[pair] += 1
    body = ok(api("GET", srv, f"/shows/{v.show_id}/check-ins", token=v.owner_token))
    assert body["counts"]["admitted"] == outcomes[(409, 200)], (body["counts"], outcomes)
