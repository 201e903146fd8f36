"""Holds: by seat ids and best available, validation, all-or-nothing, replacement of a user's
hold, release, ownership, unsellable shows. Every test runs on SQLite and PostgreSQL; no answer
may be a 5xx."""

from datetime import timedelta

import pytest

from booking_helpers import (
    GRID_LAYOUT, GRID_PRICES, Venue, api, assert_statuses, book, hold, post_booking, post_hold,
    release, seat_ids_of, seat_map, statuses, unavailable_error,
)
from catalog_helpers import RFC3339_UTC_MS, cast, describe, make_user, parse_time, utcnow
from conftest import assert_error

# GRID_LAYOUT with seat F10 blocked (a broken chair), for the blocked-seat tests.
BLOCKED_LAYOUT = {"rows": [dict(r) for r in GRID_LAYOUT["rows"]]}
BLOCKED_LAYOUT["rows"][5]["blocked"] = [10]


@pytest.fixture
def venue(server):
    return Venue(server)


@pytest.fixture
def user(server):
    return make_user(server, "holder")


# --------------------------------------------------------------------------------------------
# By seat ids


def test_hold_by_seat_ids(server, venue, user):
    labels = ["A3", "A4", "C7"]
    before = utcnow()
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids(*labels))
    assert sorted(s["label"] for s in h["seats"]) == labels
    assert seat_ids_of(h) == sorted(venue.ids(*labels))
    assert h["amount"] == 2 * GRID_PRICES["premium"] + GRID_PRICES["regular"]
    assert h["currency"] == "INR"
    for s in h["seats"]:
        assert s["category"] == venue.by_label[s["label"]]["category"]
        assert s["price"] == GRID_PRICES[s["category"]]
    assert RFC3339_UTC_MS.match(h["expires_at"]), h
    ttl = parse_time(h["expires_at"]) - before
    assert timedelta(minutes=7, seconds=50) < ttl < timedelta(minutes=8, seconds=10), ttl  # 480 s

    # Held at once in the public seat map; nothing else changed.
    m = seat_map(server, venue.show_id)
    assert m["counts"] == {"available": 57, "held": 3, "booked": 0, "blocked": 0}
    assert_statuses(server, venue.show_id, venue.ids(*labels), "held")


def test_duplicate_seat_ids_count_once(server, venue, user):
    a1 = venue.ids("A1")[0]
    h = hold(server, user.token, venue.show_id, seat_ids=[a1, a1])
    assert seat_ids_of(h) == [a1]
    assert h["amount"] == GRID_PRICES["premium"]


def test_amount_in_the_body_is_ignored(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("B1", "B2"), amount=1,
             currency="USD")
    assert h["amount"] == 2 * GRID_PRICES["premium"]
    assert h["currency"] == "INR"


def test_all_or_nothing(server, venue, user):
    other = make_user(server, "rival")
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("C5"))
    r = post_hold(server, user.token, venue.show_id, seat_ids=venue.ids("C4", "C5", "C6"))
    assert unavailable_error(r) == venue.ids("C5")
    # The free seats of the refused request were not taken.
    assert_statuses(server, venue.show_id, venue.ids("C4", "C6"), "available")
    assert seat_map(server, venue.show_id)["counts"]["held"] == 1


# --------------------------------------------------------------------------------------------
# Best available


def test_hold_by_quantity_middle_two_thirds_back(server, venue, user):
    for q in (1, 2, 3, 4):
        h = hold(server, user.token, venue.show_id, quantity=q)  # replaces the previous one
        labels = [s["label"] for s in h["seats"]]
        rows = {lbl[0] for lbl in labels}
        numbers = sorted(int(lbl[1:]) for lbl in labels)
        assert len(labels) == q, h
        # Row D is two-thirds back of rows A..F; a block of adjacent seats around the middle.
        assert rows == {"D"}, h
        assert numbers == list(range(numbers[0], numbers[0] + q)), h
        assert abs(sum(numbers) / q - 5.5) <= 0.5, h
        assert h["amount"] == q * GRID_PRICES["regular"]
        m = seat_map(server, venue.show_id)
        assert m["counts"]["held"] == q, m["counts"]
        assert_statuses(server, venue.show_id, seat_ids_of(h), "held")


def test_hold_by_quantity_honours_category(server, venue, user):
    h = hold(server, user.token, venue.show_id, quantity=2, category="premium")
    labels = sorted(s["label"] for s in h["seats"])
    assert all(s["category"] == "premium" for s in h["seats"]), h
    # The premium row nearest the focus (row D) is B; the block sits in the middle.
    assert {lbl[0] for lbl in labels} == {"B"}, h
    assert sorted(int(lbl[1:]) for lbl in labels) == [5, 6], h
    assert h["amount"] == 2 * GRID_PRICES["premium"]


def test_hold_by_quantity_skips_taken_seats(server, venue, user):
    other = make_user(server, "early")
    first = hold(server, other.token, venue.show_id, quantity=4)
    second = hold(server, user.token, venue.show_id, quantity=4)
    assert not set(seat_ids_of(first)) & set(seat_ids_of(second))
    assert seat_map(server, venue.show_id)["counts"]["held"] == 8


def test_quantity_when_nothing_fits(server, user):
    v = Venue(server, layout={"rows": [{"label": "A", "seats": 3, "category": "regular"}]},
              prices={"regular": 10000})
    other = make_user(server, "taker")
    hold(server, other.token, v.show_id, seat_ids=v.ids("A2"))
    r = post_hold(server, user.token, v.show_id, quantity=3)
    assert_error(r, 409, "no_seats_available")


# --------------------------------------------------------------------------------------------
# Validation


def test_unknown_seat(server, venue, user):
    bogus = venue.by_label["A1"]["id"] + "x"
    r = post_hold(server, user.token, venue.show_id, seat_ids=[venue.ids("A2")[0], bogus])
    err = assert_error(r, 422, "unknown_seat")
    assert err["details"] == {"unknown": [bogus]}, describe(r)
    assert seat_map(server, venue.show_id)["counts"]["held"] == 0


def test_seat_of_another_hall_is_unknown(server, venue, user):
    other = Venue(server)
    foreign = other.ids("A1")[0]
    r = post_hold(server, user.token, venue.show_id, seat_ids=[foreign])
    err = assert_error(r, 422, "unknown_seat")
    assert err["details"] == {"unknown": [foreign]}


def test_blocked_seat(server, user):
    v = Venue(server, layout=BLOCKED_LAYOUT)
    f10 = v.ids("F10")[0]
    assert v.by_label["F10"]["status"] == "blocked"
    r = post_hold(server, user.token, v.show_id, seat_ids=v.ids("F9") + [f10])
    err = assert_error(r, 422, "blocked_seat")
    assert err["details"] == {"blocked": [f10]}, describe(r)
    assert seat_map(server, v.show_id)["counts"] == {"available": 59, "held": 0, "booked": 0,
                                                    "blocked": 1}


def test_unknown_and_blocked_listed_apart(server, user):
    v = Venue(server, layout=BLOCKED_LAYOUT)
    f10 = v.ids("F10")[0]
    bogus = "zzz-no-such-seat"  # sorts after the real ids
    r = post_hold(server, user.token, v.show_id, seat_ids=[f10, bogus])
    assert r.status_code == 422, describe(r)
    details = r.json()["error"]["details"]
    assert bogus not in details.get("blocked", []), describe(r)
    assert f10 not in details.get("unknown", []), describe(r)


@pytest.mark.parametrize("body", [
    {},
    {"seat_ids": None},
    {"category": "premium"},
    {"seat_ids": ["x"], "quantity": 1},
])
def test_seat_ids_xor_quantity(server, venue, user, body):
    r = post_hold(server, user.token, venue.show_id, **body)
    assert_error(r, 422, "validation_failed")


@pytest.mark.parametrize("quantity", [0, -1, 11, 1000])
def test_quantity_out_of_range(server, venue, user, quantity):
    r = post_hold(server, user.token, venue.show_id, quantity=quantity)
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "quantity"


def test_too_many_seat_ids(server, venue, user):
    ids = [s["id"] for s in seat_map(server, venue.show_id)["seats"]][:11]
    r = post_hold(server, user.token, venue.show_id, seat_ids=ids)
    err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == "seat_ids"
    r = post_hold(server, user.token, venue.show_id, seat_ids=[])
    assert_error(r, 422, "validation_failed")
    # Ten is fine.
    h = hold(server, user.token, venue.show_id, seat_ids=ids[:10])
    assert len(h["seats"]) == 10


@pytest.mark.parametrize("seat_ids", ["A1", 5, {"id": "A1"}, [1, 2], [None], [""], [["A1"]]])
def test_seat_ids_wrong_type(server, venue, user, seat_ids):
    r = post_hold(server, user.token, venue.show_id, seat_ids=seat_ids)
    err = assert_error(r, 400, "invalid_type")
    assert err["details"]["field"] == "seat_ids"


@pytest.mark.parametrize("body", [{"quantity": "2"}, {"quantity": 2.5}, {"quantity": True},
                                  {"quantity": 2, "category": 7}])
def test_quantity_wrong_type(server, venue, user, body):
    r = post_hold(server, user.token, venue.show_id, **body)
    assert_error(r, 400, "invalid_type")


def test_body_not_json(server, venue, user):
    r = api("POST", server, f"/shows/{venue.show_id}/holds", token=user.token, data=b"{seat",
            headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    r = api("POST", server, f"/shows/{venue.show_id}/holds", token=user.token, json=[1])
    assert_error(r, 400, "invalid_type")


def test_max_seats_per_hold_setting(backend, make_server):
    srv = make_server(backend, MAX_SEATS_PER_HOLD=4)
    v = Venue(srv)
    u = make_user(srv, "capped")
    r = post_hold(srv, u.token, v.show_id, seat_ids=v.ids("A1", "A2", "A3", "A4", "A5"))
    assert_error(r, 422, "validation_failed")
    r = post_hold(srv, u.token, v.show_id, quantity=5)
    assert_error(r, 422, "validation_failed")
    assert seat_map(srv, v.show_id)["counts"]["held"] == 0
    assert len(hold(srv, u.token, v.show_id, quantity=4)["seats"]) == 4
    assert len(hold(srv, u.token, v.show_id, seat_ids=v.ids("A1", "A2", "A3", "A4"))["seats"]) == 4


# --------------------------------------------------------------------------------------------
# One hold per user and show


def test_second_hold_replaces_the_first(server, venue, user):
    first = hold(server, user.token, venue.show_id, seat_ids=venue.ids("A1", "A2"))
    second = hold(server, user.token, venue.show_id, seat_ids=venue.ids("E1", "E2", "E3"))
    assert second["hold_id"] != first["hold_id"]
    st = statuses(server, venue.show_id)
    assert [st[i] for i in venue.ids("A1", "A2")] == ["available", "available"]
    assert [st[i] for i in venue.ids("E1", "E2", "E3")] == ["held"] * 3
    assert seat_map(server, venue.show_id)["counts"]["held"] == 3
    # Someone else can have the released seats at once.
    other = make_user(server, "next")
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("A1", "A2"))
    # The replaced hold cannot be booked or released into anything; the new one can be booked.
    r = post_booking(server, user.token, first["hold_id"])
    assert r.status_code == 409, describe(r)
    book(server, user.token, second["hold_id"])


def test_replacing_hold_may_keep_some_of_its_seats(server, venue, user):
    hold(server, user.token, venue.show_id, seat_ids=venue.ids("C1", "C2"))
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("C2", "C3"))
    assert seat_ids_of(h) == sorted(venue.ids("C2", "C3"))
    st = statuses(server, venue.show_id)
    assert [st[i] for i in venue.ids("C1", "C2", "C3")] == ["available", "held", "held"]


def test_refused_hold_keeps_the_previous_one(server, venue, user):
    first = hold(server, user.token, venue.show_id, seat_ids=venue.ids("D1", "D2"))
    other = make_user(server, "blocker")
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("D5"))
    r = post_hold(server, user.token, venue.show_id, seat_ids=venue.ids("D4", "D5"))
    assert unavailable_error(r) == venue.ids("D5")
    assert_statuses(server, venue.show_id, venue.ids("D1", "D2"), "held")
    assert statuses(server, venue.show_id)[venue.ids("D4")[0]] == "available"
    book(server, user.token, first["hold_id"])


def test_holds_of_different_shows_are_independent(server, user):
    v1, v2 = Venue(server), Venue(server)
    h1 = hold(server, user.token, v1.show_id, seat_ids=v1.ids("A1"))
    h2 = hold(server, user.token, v2.show_id, seat_ids=v2.ids("A1"))
    assert h1["hold_id"] != h2["hold_id"]
    assert statuses(server, v1.show_id)[v1.ids("A1")[0]] == "held"
    assert statuses(server, v2.show_id)[v2.ids("A1")[0]] == "held"


# --------------------------------------------------------------------------------------------
# Release and ownership


def test_release_own_hold(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("B3", "B4"))
    r = release(server, user.token, h["hold_id"])
    assert r.status_code == 204 and r.content == b"", describe(r)
    assert_statuses(server, venue.show_id, venue.ids("B3", "B4"), "available")
    other = make_user(server, "after")
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("B3", "B4"))
    # A released hold cannot be booked.
    r = post_booking(server, user.token, h["hold_id"])
    assert r.status_code == 409, describe(r)


def test_release_someone_elses_hold(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("B5"))
    c = cast(server)
    for actor in (make_user(server, "thief"), c.owner, c.other_owner):
        assert_error(release(server, actor.token, h["hold_id"]), 404, "not_found")
    assert statuses(server, venue.show_id)[venue.ids("B5")[0]] == "held"
    assert_error(release(server, user.token, "hld_nonexistent"), 404, "not_found")


def test_booked_hold_cannot_be_released(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("B6"))
    book(server, user.token, h["hold_id"])
    assert_error(release(server, user.token, h["hold_id"]), 409, "hold_already_booked")
    assert statuses(server, venue.show_id)[venue.ids("B6")[0]] == "held"


def test_someone_elses_hold_cannot_be_booked(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("B7"))
    thief = make_user(server, "thief")
    assert_error(post_booking(server, thief.token, h["hold_id"]), 404, "not_found")
    assert_error(post_booking(server, user.token, "hld_nonexistent"), 404, "not_found")
    book(server, user.token, h["hold_id"])
    assert_error(post_booking(server, user.token, h["hold_id"]), 409, "hold_already_booked")


def test_booking_body_validation(server, user):
    r = api("POST", server, "/bookings", token=user.token, json={})
    assert_error(r, 422, "validation_failed")
    r = api("POST", server, "/bookings", token=user.token, json={"hold_id": 5})
    assert_error(r, 400, "invalid_type")


# --------------------------------------------------------------------------------------------
# Who may hold, and what


def test_anonymous_cannot_hold(server, venue):
    r = post_hold(server, None, venue.show_id, seat_ids=venue.ids("A1"))
    assert_error(r, 401, "unauthorized")
    r = api("POST", server, "/bookings", json={"hold_id": "hld_x"})
    assert_error(r, 401, "unauthorized")
    r = api("DELETE", server, "/holds/hld_x")
    assert_error(r, 401, "unauthorized")
    assert seat_map(server, venue.show_id)["counts"]["held"] == 0


def test_owner_and_admin_may_hold(server, venue):
    c = cast(server)
    hold(server, c.owner.token, venue.show_id, seat_ids=venue.ids("F1"))
    hold(server, c.admin.token, venue.show_id, seat_ids=venue.ids("F2"))
    assert seat_map(server, venue.show_id)["counts"]["held"] == 2


def test_hold_on_cancelled_show(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("A5"))
    venue.cancel_show()
    other = make_user(server, "late")
    r = post_hold(server, other.token, venue.show_id, seat_ids=venue.ids("A6"))
    assert_error(r, 409, "show_not_bookable")
    r = post_hold(server, other.token, venue.show_id, quantity=2)
    assert_error(r, 409, "show_not_bookable")
    # The hold taken before the cancellation cannot become a booking either.
    assert_error(post_booking(server, user.token, h["hold_id"]), 409, "show_not_bookable")
    assert seat_map(server, venue.show_id)["status"] == "cancelled"


def test_hold_on_unknown_show(server, user):
    r = post_hold(server, user.token, "shw_nonexistent", quantity=1)
    assert_error(r, 404, "not_found")
    assert_error(api("GET", server, "/shows/shw_nonexistent/seats"), 404, "not_found")
