"""Changing a show (API.md "Running a cinema"): PATCH /shows/{id} {starts_at?, prices?}.

A new time is checked like a new show (overlap under the hall's lock: of two moves into one slot
exactly one wins; not in the past; not for a cancelled or ended show), keeps the show's length,
mails every confirmed booking through the outbox and, after a move of more than
RESCHEDULE_FREE_CANCEL_MINUTES, lets those bookings be cancelled with a full refund until the new
start. New prices apply to seats not held or sold: a live hold and a booking keep the price they
were given. Cached seat maps and listings follow at once on every server. Every test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from booking_helpers import (Venue, api, book, buy, confirm, get_booking, hold, pay, post_cancel,
                             seat_map, starts_in)
from catalog_helpers import create_movie, create_show, iso, parse_time, utcnow
from conftest import assert_error, call
from test_jobs import query
from redis_helpers import redis_server  # noqa: F401  (fixture)
from test_mail import db_exec, sink  # noqa: F401  (fixture)


def patch_show(server, token, show_id: str, body) -> "requests.Response":
    return api("PATCH", server, f"/shows/{show_id}", token=token, json=body)


# --------------------------------------------------------------------------------------------
# Prices: a hold keeps the price it was given


def test_a_booking_charges_the_price_its_hold_was_given(server):
    """The price changes between the hold and the booking (here straight in the database):
    the booking charges what the hold said, seat by seat."""
    v = Venue(server)
    tok = v.owner_token
    h = hold(server, tok, v.show_id, seat_ids=v.ids("A1", "C1"))
    assert h["amount"] == 40000 + 25000
    db_exec(server.database_url,
            f"UPDATE show_prices SET amount = amount + 1000 WHERE show_id = '{v.show_id}'")
    body = book(server, tok, h["hold_id"])
    b = body["booking"]
    assert b["amount"] == h["amount"] == body["payment"]["amount"], body
    assert sorted(s["price"] for s in b["seats"]) == [25000, 40000], b["seats"]
    # a new hold gets the new price
    h2 = hold(server, tok, v.show_id, seat_ids=v.ids("A2"))
    assert h2["amount"] == 41000


def show_of(server, show_id: str) -> dict:
    r = api("GET", server, f"/shows/{show_id}")
    assert r.status_code == 200, r.text
    return r.json()


def second_show(server, v: Venue, starts_at) -> dict:
    return create_show(server, v.movie["id"], v.hall["id"], starts_at, token=v.owner_token,
                       prices={"premium": 40000, "regular": 25000})


# --------------------------------------------------------------------------------------------
# Moving a show


def test_a_move_keeps_the_length_and_shows_everywhere(server):
    v = Venue(server)
    before = show_of(server, v.show_id)
    start, end = parse_time(before["starts_at"]), parse_time(before["ends_at"])
    new = start + timedelta(hours=5, minutes=30)
    r = patch_show(server, v.owner_token, v.show_id, {"starts_at": iso(new)})
    assert r.status_code == 200, r.text
    got = r.json()
    assert parse_time(got["starts_at"]) == new
    assert parse_time(got["ends_at"]) == new + (end - start)
    assert got["id"] == v.show_id and got["status"] == "scheduled"
    again = show_of(server, v.show_id)
    assert (again["starts_at"], again["ends_at"]) == (got["starts_at"], got["ends_at"])
    listed = api("GET", server, "/shows", params={"hall_id": v.hall["id"]}).json()["items"]
    assert [(s["id"], s["starts_at"]) for s in listed] == [(v.show_id, got["starts_at"])]
    # the admin may move it too; moving onto its own old slot overlaps only itself
    admin = api("PATCH", server, f"/shows/{v.show_id}", token=cast_admin(server),
                json={"starts_at": iso(start)})
    assert admin.status_code == 200, admin.text
    assert parse_time(admin.json()["starts_at"]) == start


def cast_admin(server) -> str:
    from catalog_helpers import cast
    return cast(server).admin.token


def test_a_move_onto_another_show_is_refused_and_changes_nothing(server):
    v = Venue(server)
    s0 = parse_time(v.show["starts_at"])
    other = second_show(server, v, s0 + timedelta(hours=4))
    # the show lasts 100 min + 15 min cleaning: 2 h later still ends after the other's start
    for delta in (timedelta(hours=2, minutes=30), timedelta(hours=4), timedelta(hours=5)):
        r = patch_show(server, v.owner_token, v.show_id, {"starts_at": iso(s0 + delta)})
        assert_error(r, 409, "show_overlap")
    assert show_of(server, v.show_id)["starts_at"] == v.show["starts_at"]
    # and the other way round: the other show onto this one
    r = patch_show(server, v.owner_token, other["id"], {"starts_at": iso(s0 + timedelta(hours=1))})
    assert_error(r, 409, "show_overlap")
    # just after the first one's end (cleaning included) fits
    end = parse_time(v.show["ends_at"])
    r = patch_show(server, v.owner_token, other["id"], {"starts_at": iso(end)})
    assert r.status_code == 200, r.text
    # a cancelled show does not block a slot
    ok_cancel = api("POST", server, f"/shows/{other['id']}/cancel", token=v.owner_token)
    assert ok_cancel.status_code == 200, ok_cancel.text
    r = patch_show(server, v.owner_token, v.show_id, {"starts_at": iso(end)})
    assert r.status_code == 200, r.text


def test_past_too_far_cancelled_and_ended_shows_are_refused(server):
    v = Venue(server)
    tok = v.owner_token
    now = utcnow()
    for when, reason in ((now - timedelta(minutes=1), "must be in the future"),
                         (now + timedelta(days=401), "is too far in the future")):
        r = patch_show(server, tok, v.show_id, {"starts_at": iso(when)})
        err = assert_error(r, 422, "validation_failed")
        assert err["details"]["field"] == "starts_at" and err["details"]["reason"] == reason
    r = patch_show(server, tok, v.show_id, {"starts_at": "tomorrow"})
    assert_error(r, 422, "validation_failed")
    assert show_of(server, v.show_id)["starts_at"] == v.show["starts_at"]
    # cancelled
    c = Venue(server)
    c.cancel_show()
    later = iso(parse_time(c.show["starts_at"]) + timedelta(hours=3))
    assert_error(patch_show(server, tok, c.show_id, {"starts_at": later}), 409, "show_cancelled")
    assert_error(patch_show(server, tok, c.show_id, {"prices": {"premium": 1}}), 409,
                 "show_cancelled")
    # ended (moved into the past behind the server's back) and running
    e = Venue(server)
    r0 = utcnow()
    db_exec(server.database_url,
            f"UPDATE shows SET starts_at = {int((r0 - timedelta(hours=3)).timestamp() * 1000)},"
            f" ends_at = {int((r0 - timedelta(hours=1)).timestamp() * 1000)}"
            f" WHERE id = '{e.show_id}'")
    assert_error(patch_show(server, tok, e.show_id, {"starts_at": later}), 409, "show_completed")
    db_exec(server.database_url,
            f"UPDATE shows SET ends_at = {int((r0 + timedelta(hours=1)).timestamp() * 1000)}"
            f" WHERE id = '{e.show_id}'")
    assert_error(patch_show(server, tok, e.show_id, {"prices": {"premium": 1}}), 409,
                 "show_started")


def test_only_the_owner_of_the_hall_or_an_admin(server):
    from catalog_helpers import cast
    c = cast(server)
    v = Venue(server)
    body = {"starts_at": iso(parse_time(v.show["starts_at"]) + timedelta(hours=1))}
    assert_error(patch_show(server, c.other_owner.token, v.show_id, body), 403, "forbidden")
    assert_error(patch_show(server, c.user.token, v.show_id, body), 403, "forbidden")
    assert_error(patch_show(server, None, v.show_id, body), 401, "unauthorized")
    assert_error(patch_show(server, c.owner.token, "shw_nonexistent", body), 404, "not_found")
    assert show_of(server, v.show_id)["starts_at"] == v.show["starts_at"]


@pytest.mark.parametrize("body,status,code", [
    ({}, 400, "empty_change"),
    ({"starts_at": None}, 400, "empty_change"),
    ({"title": "x"}, 400, "unknown_field"),
    ({"starts_at": "@", "hall_id": "hal_x"}, 400, "unknown_field"),
    ({"prices": {"premium": 1}, "currency": "USD"}, 400, "unknown_field"),
    ({"starts_at": 1767225600}, 400, "invalid_type"),
    ({"starts_at": ["2026-12-01T18:30:00Z"]}, 400, "invalid_type"),
    ({"prices": [1, 2]}, 400, "invalid_type"),
    ({"prices": "cheap"}, 400, "invalid_type"),
    ({"prices": {"premium": "100"}}, 400, "invalid_type"),
    ({"prices": {"premium": 1.5}}, 400, "invalid_type"),
    ({"prices": {}}, 422, "validation_failed"),
    ({"prices": {"balcony": 100}}, 422, "validation_failed"),
    ({"prices": {"premium": -1}}, 422, "validation_failed"),
    ({"prices": {"premium": 100000001}}, 422, "validation_failed"),
    ([], 400, "invalid_type"),
])
def test_bad_bodies_change_nothing(server, body, status, code):
    v = Venue(server)
    before = show_of(server, v.show_id)
    assert_error(patch_show(server, v.owner_token, v.show_id, body), status, code)
    assert show_of(server, v.show_id) == before


def test_no_body_and_a_broken_body(server):
    v = Venue(server)
    r = call("PATCH", server, f"/shows/{v.show_id}", token=v.owner_token, data=b"",
             headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    r = call("PATCH", server, f"/shows/{v.show_id}", token=v.owner_token, data=b"{\"starts_at\":",
             headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert show_of(server, v.show_id)["starts_at"] == v.show["starts_at"]


# --------------------------------------------------------------------------------------------
# Prices


def test_new_prices_apply_to_free_seats_only(server):
    v = Venue(server)
    tok = v.owner_token
    from catalog_helpers import make_user
    held_by, booker = make_user(server, "held"), make_user(server, "booker")
    sold = buy(server, booker.token, v.show_id, v.ids("A1"))
    h = hold(server, held_by.token, v.show_id, seat_ids=v.ids("A2", "C2"))
    r = patch_show(server, tok, v.show_id, {"prices": {"premium": 50000}})
    assert r.status_code == 200, r.text
    assert r.json()["prices"] == {"premium": 50000, "regular": 25000}
    m = {s["label"]: s for s in seat_map(server, v.show_id)["seats"]}
    assert m["A3"]["price"] == 50000 and m["C3"]["price"] == 25000
    # the live hold is booked at its own price; the sold booking keeps its price
    body = book(server, held_by.token, h["hold_id"])
    assert body["booking"]["amount"] == h["amount"] == 40000 + 25000
    assert get_booking(server, booker.token, sold["id"])["amount"] == 40000
    # a new hold pays the new price, by seat ids and best available alike, and so does its booking
    assert hold(server, booker.token, v.show_id, seat_ids=v.ids("A5"))["amount"] == 50000
    best = hold(server, held_by.token, v.show_id, quantity=2, category="premium")
    assert [s["price"] for s in best["seats"]] == [50000, 50000] and best["amount"] == 100000
    assert book(server, held_by.token, best["hold_id"])["booking"]["amount"] == 100000
    # a price-only change keeps the time
    assert show_of(server, v.show_id)["starts_at"] == v.show["starts_at"]
    # the change is in the audit trail (issue 12's audit: every owner/admin write)
    from test_audit import rows
    got = rows(server, target_id=v.show_id, action="show.update")
    assert [(r["actor_id"], r["status"]) for r in got] == [(cast_owner_id(server), 200)], got


def cast_owner_id(server) -> str:
    from catalog_helpers import cast
    return cast(server).owner.id


# --------------------------------------------------------------------------------------------
# Two moves into one slot: exactly one wins


def test_concurrent_moves_into_one_slot_exactly_one_wins(server):
    """Four shows of one hall are moved into the same free slot at the same instant, five
    rounds: each round exactly one 200, the others 409 show_overlap, and no two shows of the
    hall overlap afterwards."""
    v = Venue(server)
    s0 = parse_time(v.show["starts_at"])
    shows = [v.show] + [second_show(server, v, s0 + timedelta(hours=3 * k)) for k in (1, 2, 3)]
    for rnd in range(5):
        target = iso(s0 + timedelta(days=1 + rnd, hours=1))
        barrier = threading.Barrier(len(shows))
        results: list = [None] * len(shows)

        def move(i):
            barrier.wait()
            results[i] = patch_show(server, v.owner_token, shows[i]["id"], {"starts_at": target})

        threads = [threading.Thread(target=move, args=(i,)) for i in range(len(shows))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409, 409, 409], [r.text for r in results]
        for r in results:
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "show_overlap", r.text
        listed = api("GET", server, "/shows",
                     params={"hall_id": v.hall["id"], "limit": 100}).json()["items"]
        spans = sorted((parse_time(s["starts_at"]), parse_time(s["ends_at"])) for s in listed)
        assert len(spans) == len(shows)
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 <= b0, spans
        assert sum(1 for s in listed if parse_time(s["starts_at"]) == parse_time(target)) == 1


# --------------------------------------------------------------------------------------------
# Free cancellation after a real move


def test_a_real_move_opens_a_free_cancel_until_the_new_start(server):
    """CANCEL_FULL_REFUND_HOURS is 4 (no cancel within 4 h of the start); the show is an hour
    away. A move of 20 minutes is not enough (RESCHEDULE_FREE_CANCEL_MINUTES 30); another 20
    minutes makes 40 from the time it was bought for: a full refund. A booking made after the
    moves was bought for the new time and gets nothing more."""
    from catalog_helpers import make_user
    v = Venue(server, starts_at=starts_in(1))
    tok = v.owner_token
    early, late = make_user(server, "early"), make_user(server, "late")
    b = buy(server, early.token, v.show_id, v.ids("A1", "C1"))
    assert_error(post_cancel(server, early.token, b["id"]), 409, "cancel_window_closed")
    s0 = parse_time(v.show["starts_at"])
    assert patch_show(server, tok, v.show_id,
                      {"starts_at": iso(s0 + timedelta(minutes=20))}).status_code == 200
    assert_error(post_cancel(server, early.token, b["id"]), 409, "cancel_window_closed")
    # a price change is no move
    assert patch_show(server, tok, v.show_id, {"prices": {"regular": 1}}).status_code == 200
    assert_error(post_cancel(server, early.token, b["id"]), 409, "cancel_window_closed")
    assert patch_show(server, tok, v.show_id,
                      {"starts_at": iso(s0 + timedelta(minutes=40))}).status_code == 200
    b2 = buy(server, late.token, v.show_id, v.ids("A5"))
    r = post_cancel(server, early.token, b["id"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "cancelled_refunded"
    assert [x["amount"] for x in done["refunds"]] == [b["amount"]] == [65000]
    assert_error(post_cancel(server, late.token, b2["id"]), 409, "cancel_window_closed")


def test_the_free_cancel_survives_a_restart(backend, make_server):
    srv = make_server(backend, RESCHEDULE_FREE_CANCEL_MINUTES="90")
    from catalog_helpers import make_user
    v = Venue(srv, starts_at=starts_in(2))
    u = make_user(srv, "moved")
    b = buy(srv, u.token, v.show_id, v.ids("B2"))
    s0 = parse_time(v.show["starts_at"])
    # back and forth: 60 minutes later is not more than 90 from the time bought for
    assert patch_show(srv, v.owner_token, v.show_id,
                      {"starts_at": iso(s0 - timedelta(minutes=60))}).status_code == 200
    assert_error(post_cancel(srv, u.token, b["id"]), 409, "cancel_window_closed")
    assert patch_show(srv, v.owner_token, v.show_id,
                      {"starts_at": iso(s0 + timedelta(minutes=100))}).status_code == 200
    srv.assert_clean_exit(srv.stop())
    srv.start()
    r = post_cancel(srv, u.token, b["id"])
    assert r.status_code == 200, r.text
    assert r.json()["refunds"][0]["amount"] == b["amount"]
    rows = query(srv.database_url, "SELECT previous_starts_at, new_starts_at, prices_changed"
                                   f" FROM show_changes WHERE show_id = '{v.show_id}'"
                                   " ORDER BY changed_at")
    ms = int(s0.timestamp() * 1000)
    assert [(int(a), int(b_), int(p)) for a, b_, p in rows] == \
        [(ms, ms - 3600000, 0), (ms - 3600000, ms + 6000000, 0)]


# --------------------------------------------------------------------------------------------
# Mail: every confirmed booking hears of a move, through the outbox


def local(ms_or_dt, offset_min: int) -> str:
    """A time as the mails write it: "2026-12-05 18:30 (UTC+05:30)"."""
    t = ms_or_dt + timedelta(minutes=offset_min)
    sign = "-" if offset_min < 0 else "+"
    o = abs(offset_min)
    return f"{t:%Y-%m-%d %H:%M} (UTC{sign}{o // 60:02d}:{o % 60:02d})"


def outbox_kinds(database_url: str, show_id: str) -> list[tuple]:
    return query(database_url,
                 "SELECT o.kind, o.ref_id FROM mail_outbox o JOIN bookings b ON b.id = o.ref_id"
                 f" WHERE b.show_id = '{show_id}' AND o.kind = 'show_rescheduled'"
                 " ORDER BY o.ref_id")


def test_a_move_mails_every_confirmed_booking(backend, make_server, sink):
    from test_mail import buyer, mail_server
    server = mail_server(make_server, backend, SMTP_URL=sink.url)
    v = Venue(server)
    offset = v.theatre.get("utc_offset_minutes", 0)
    buyers = [buyer(server) for _ in range(3)]
    confirmed = [buy(server, tok, v.show_id, v.ids(f"A{i + 1}"))
                 for i, (_, tok) in enumerate(buyers[:2])]
    h = hold(server, buyers[2][1], v.show_id, seat_ids=v.ids("A9"))
    book(server, buyers[2][1], h["hold_id"])  # pending: no mail of the move
    sink.wait_for(2)
    # a price-only change mails nobody
    assert patch_show(server, v.owner_token, v.show_id,
                      {"prices": {"premium": 41000}}).status_code == 200
    assert outbox_kinds(server.database_url, v.show_id) == []
    s0 = parse_time(v.show["starts_at"])
    new = s0 + timedelta(hours=2)
    r = patch_show(server, v.owner_token, v.show_id, {"starts_at": iso(new)})
    assert r.status_code == 200, r.text
    # in the outbox as soon as the move answered (same transaction)
    rows = outbox_kinds(server.database_url, v.show_id)
    assert sorted(ref for _, ref in rows) == sorted(b["id"] for b in confirmed)
    moved = sink.wait_for(2, predicate=lambda m: "moved to" in m.msg["Subject"])
    assert sorted(m.rcpt_tos[0] for m in moved) == sorted(e for e, _ in buyers[:2])
    for m in moved:
        body = m.msg.get_body(("plain",)).get_content()
        assert v.movie["title"] in m.msg["Subject"] and local(new, offset) in m.msg["Subject"]
        assert f"it was on {local(s0, offset)} and is now on {local(new, offset)}" in body, body
        assert "more than 30 minutes" in body, body
        bid = [b["id"] for b in confirmed if b["id"] in body]
        assert len(bid) == 1, body
    # nothing more: the price change and the pending booking sent nothing
    import time
    time.sleep(0.5)
    assert len([m for m in sink.messages if "moved to" in m.msg["Subject"]]) == 2


# --------------------------------------------------------------------------------------------
# Caches and streams on every server


def test_a_change_on_one_server_shows_at_once_on_another(make_server, redis_server):
    """Two servers on one database and one Redis: b's cached seat map and show listing follow a
    change made through a at once, and b's SSE stream of the show hears a "show" event."""
    from redis_helpers import SseClient
    from test_cache import redis_env
    a = make_server("postgres", **redis_env(redis_server))
    b = make_server("postgres", database_url=a.database_url, **redis_env(redis_server))
    v = Venue(a)
    q = {"hall_id": v.hall["id"]}
    for _ in range(2):
        m = call("GET", b, f"/shows/{v.show_id}/seats")
        lst = call("GET", b, "/shows", params=q)
    assert m.headers.get("X-Cache") == "hit" and lst.headers.get("X-Cache") == "hit"
    stream = SseClient(b, v.show_id)
    try:
        assert stream.next_event(name="ready") is not None
        r = patch_show(a, v.owner_token, v.show_id, {"prices": {"premium": 45000}})
        assert r.status_code == 200, r.text
        m = call("GET", b, f"/shows/{v.show_id}/seats")
        assert m.headers.get("X-Cache") == "miss"
        assert {s["label"]: s["price"] for s in m.json()["seats"]}["A1"] == 45000
        ev = stream.next_event(name="show")
        assert ev is not None and ev["data"]["prices_changed"] is True
        new = parse_time(v.show["starts_at"]) + timedelta(hours=1)
        r = patch_show(a, v.owner_token, v.show_id, {"starts_at": iso(new)})
        assert r.status_code == 200, r.text
        lst = call("GET", b, "/shows", params=q)
        assert lst.headers.get("X-Cache") == "miss"
        assert [parse_time(s["starts_at"]) for s in lst.json()["items"]] == [new]
        ev = stream.next_event(name="show")
        assert ev is not None and parse_time(ev["data"]["starts_at"]) == new
        assert ev["data"]["show_id"] == v.show_id and ev["data"]["prices_changed"] is False
    finally:
        stream.close()
