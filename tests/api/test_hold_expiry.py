"""Holds expire by the clock (no job needs to run), and late payments: a booking paid after its
hold expired is confirmed when its seats are still free, and refunded (expired_refunded) when
someone else has them. Each test runs a server of its own with HOLD_TTL=2, on SQLite and on
PostgreSQL; no answer may be a 5xx."""

import time

import pytest

from booking_helpers import (
    Venue, assert_statuses, assert_tickets, book, buy, confirm, get_booking, hold, pay,
    post_booking, post_confirm, release, seat_ids_of, seat_map, statuses,
)
from booking_helpers import post_hold as post_hold_raw
from catalog_helpers import make_user, parse_time, utcnow
from conftest import assert_error

TTL = 2


@pytest.fixture
def srv(backend, make_server):
    return make_server(backend, HOLD_TTL=TTL)


def post_hold(srv, actor, v, *labels):
    return post_hold_raw(srv, actor.token, v.show_id, seat_ids=v.ids(*labels))


def wait_past(expires_at: str, margin: float = 0.4) -> None:
    """Sleeps until `margin` seconds after an RFC 3339 expiry."""
    delay = (parse_time(expires_at) - utcnow()).total_seconds() + margin
    assert delay < TTL + 1, delay
    if delay > 0:
        time.sleep(delay)


def test_hold_expires_by_the_clock(srv):
    v = Venue(srv)
    a, b = make_user(srv, "slow"), make_user(srv, "quick")
    h = hold(srv, a.token, v.show_id, seat_ids=v.ids("C4", "C5"))
    ttl = (parse_time(h["expires_at"]) - utcnow()).total_seconds()
    assert 1 < ttl <= TTL + 0.2, h
    assert_statuses(srv, v.show_id, v.ids("C4", "C5"), "held")
    r = post_hold(srv, b, v, "C5")
    assert_error(r, 409, "seat_unavailable")

    wait_past(h["expires_at"])
    assert_statuses(srv, v.show_id, v.ids("C4", "C5"), "available")
    assert seat_map(srv, v.show_id)["counts"]["held"] == 0
    # The expired hold cannot become a booking.
    assert_error(post_booking(srv, a.token, h["hold_id"]), 409, "hold_expired")
    # Someone else may hold the seats now; the first user's old hold is no obstacle.
    h2 = hold(srv, b.token, v.show_id, seat_ids=v.ids("C4", "C5"))
    assert seat_ids_of(h2) == seat_ids_of(h)
    assert_statuses(srv, v.show_id, v.ids("C4", "C5"), "held")
    assert_error(post_booking(srv, a.token, h["hold_id"]), 409, "hold_expired")
    # ...and the first user can hold other seats (their expired hold is not "active").
    h3 = hold(srv, a.token, v.show_id, seat_ids=v.ids("C6"))
    assert book(srv, a.token, h3["hold_id"])["booking"]["amount"] == h3["amount"]
    assert book(srv, b.token, h2["hold_id"])["booking"]["amount"] == h2["amount"]


def test_expired_hold_can_be_released(srv):
    v = Venue(srv)
    a = make_user(srv, "releaser")
    h = hold(srv, a.token, v.show_id, seat_ids=v.ids("A1"))
    wait_past(h["expires_at"])
    r = post_hold(srv, make_user(srv, "taker"), v, "A1")
    assert r.status_code == 201, r.text
    # Releasing the expired hold must not free the seat its new holder has.
    assert release(srv, a.token, h["hold_id"]).status_code in (204, 409)
    assert_statuses(srv, v.show_id, v.ids("A1"), "held")


def test_pending_booking_shows_expired(srv):
    v = Venue(srv)
    a = make_user(srv, "undecided")
    h = hold(srv, a.token, v.show_id, seat_ids=v.ids("B2"))
    body = book(srv, a.token, h["hold_id"])
    assert_statuses(srv, v.show_id, v.ids("B2"), "held")
    wait_past(body["booking"]["expires_at"])
    got = get_booking(srv, a.token, body["booking"]["id"])
    assert got["status"] == "expired", got
    assert_statuses(srv, v.show_id, v.ids("B2"), "available")


def test_late_payment_after_seats_were_sold(srv):
    v = Venue(srv)
    first, second = make_user(srv, "late-payer"), make_user(srv, "prompt")
    labels = ("D4", "D5")
    h = hold(srv, first.token, v.show_id, seat_ids=v.ids(*labels))
    body = book(srv, first.token, h["hold_id"])
    payment = pay(srv, first.token, body["payment"]["order_id"])  # paid, but the browser hangs
    wait_past(h["expires_at"])

    sold = buy(srv, second.token, v.show_id, v.ids(*labels))
    late = confirm(srv, first.token, body["booking"]["id"], payment)
    assert late["status"] == "expired_refunded", late
    assert late["tickets"] == []
    assert [(r["status"], r["amount"]) for r in late["refunds"]] == \
        [("processed", body["booking"]["amount"])], late
    assert get_booking(srv, first.token, late["id"]) == late

    # The seats stay sold to the second buyer.
    assert_statuses(srv, v.show_id, v.ids(*labels), "booked")
    again = get_booking(srv, second.token, sold["id"])
    assert again["status"] == "confirmed" and again["tickets"] == sold["tickets"]
    assert seat_map(srv, v.show_id)["counts"]["booked"] == 2

    # Confirming the refunded booking again changes nothing and refunds nothing more.
    r = post_confirm(srv, first.token, late["id"], payment)
    assert r.status_code in (200, 409), r.text
    got = get_booking(srv, first.token, late["id"])
    assert got["status"] == "expired_refunded" and len(got["refunds"]) == 1, got


def test_late_payment_while_seats_are_only_held_by_another(srv):
    v = Venue(srv)
    first, second = make_user(srv, "late-payer"), make_user(srv, "holder")
    h = hold(srv, first.token, v.show_id, seat_ids=v.ids("E1", "E2"))
    body = book(srv, first.token, h["hold_id"])
    wait_past(h["expires_at"])
    h2 = hold(srv, second.token, v.show_id, seat_ids=v.ids("E2", "E3"))
    late = confirm(srv, first.token, body["booking"]["id"],
                   pay(srv, first.token, body["payment"]["order_id"]))
    assert late["status"] == "expired_refunded", late
    assert [r["status"] for r in late["refunds"]] == ["processed"]
    st = statuses(srv, v.show_id)
    # E1 (ours alone) is free again, not stuck as sold; E2 and E3 are the second user's.
    assert [st[i] for i in v.ids("E1", "E2", "E3")] == ["available", "held", "held"], st
    b2 = book(srv, second.token, h2["hold_id"])
    done = confirm(srv, second.token, b2["booking"]["id"],
                   pay(srv, second.token, b2["payment"]["order_id"]))
    assert done["status"] == "confirmed"
    assert_tickets(done)


def test_late_payment_with_seats_still_free(srv):
    v = Venue(srv)
    a = make_user(srv, "lucky")
    h = hold(srv, a.token, v.show_id, seat_ids=v.ids("F4", "F5"))
    body = book(srv, a.token, h["hold_id"])
    wait_past(h["expires_at"])
    assert_statuses(srv, v.show_id, v.ids("F4", "F5"), "available")
    done = confirm(srv, a.token, body["booking"]["id"],
                   pay(srv, a.token, body["payment"]["order_id"]))
    assert done["status"] == "confirmed", done
    assert done["refunds"] == []
    assert_tickets(done)
    assert_statuses(srv, v.show_id, v.ids("F4", "F5"), "booked")
    # And now nobody else can take them.
    r = post_hold(srv, make_user(srv, "too-late"), v, "F4")
    assert_error(r, 409, "seat_unavailable")
    assert seat_map(srv, v.show_id)["counts"]["booked"] == 2
