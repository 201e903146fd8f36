"""Bookings: the whole flow (hold, book, pay with the test provider, confirm), signatures and
tampering, ownership, Idempotency-Key, cancellation by the customer and by a show's
cancellation. Every test runs on SQLite and PostgreSQL; no answer may be a 5xx."""

import pytest

from booking_helpers import (
    BOOKING_KEYS, GRID_PRICES, Venue, api, assert_statuses, assert_tickets, book, buy, confirm,
    get_booking, hold, idem, pay, post_booking, post_cancel, post_confirm, post_hold, seat_ids_of,
    seat_map, starts_in,
)
from catalog_helpers import RFC3339_UTC_MS, cast, make_user, ok, walk
from conftest import assert_error, register


@pytest.fixture
def venue(server):
    return Venue(server)


@pytest.fixture
def user(server):
    return make_user(server, "booker")


def pending(server, user, venue, labels):
    """Hold + book: (hold, {booking, payment})."""
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids(*labels))
    return h, book(server, user.token, h["hold_id"])


# --------------------------------------------------------------------------------------------
# The flow


def test_book_pay_confirm(server, venue, user):
    h, body = pending(server, user, venue, ["A1", "A2", "D5"])
    b, p = body["booking"], body["payment"]
    assert b["id"].startswith("bkg_")
    assert b["show_id"] == venue.show_id
    assert b["amount"] == h["amount"] == 2 * GRID_PRICES["premium"] + GRID_PRICES["regular"]
    assert b["currency"] == "INR"
    assert seat_ids_of(b) == seat_ids_of(h)
    assert b["expires_at"] == h["expires_at"]
    assert RFC3339_UTC_MS.match(b["created_at"]), b
    assert p["key_id"] and isinstance(p["key_id"], str)
    # Pending: the seats stay held (not booked) until the payment is confirmed.
    assert_statuses(server, venue.show_id, venue.ids("A1", "A2", "D5"), "held")
    got = get_booking(server, user.token, b["id"])
    assert got["status"] == "pending_payment" and got["refunds"] == []

    payment = pay(server, user.token, p["order_id"])
    done = confirm(server, user.token, b["id"], payment)
    assert set(done) == BOOKING_KEYS | {"refunds"}, done
    assert done["status"] == "confirmed"
    assert done["amount"] == b["amount"] and done["refunds"] == []
    assert_tickets(done)
    assert_statuses(server, venue.show_id, venue.ids("A1", "A2", "D5"), "booked")
    counts = seat_map(server, venue.show_id)["counts"]
    assert counts == {"available": 57, "held": 0, "booked": 3, "blocked": 0}

    # GET and the list agree; tickets are stable.
    again = get_booking(server, user.token, b["id"])
    assert again == done
    items = ok(api("GET", server, "/bookings", token=user.token), 200)["items"]
    assert [i["id"] for i in items] == [b["id"]]
    assert items[0]["status"] == "confirmed" and items[0]["tickets"] == done["tickets"]

    # Confirming again with the same payment is harmless.
    again = confirm(server, user.token, b["id"], payment)
    assert again["status"] == "confirmed" and again["tickets"] == done["tickets"]
    assert again["refunds"] == []

    # The seats are sold: nobody can hold them.
    other = make_user(server, "latecomer")
    r = post_hold(server, other.token, venue.show_id, seat_ids=venue.ids("A2"))
    assert_error(r, 409, "seat_unavailable")
    assert r.json()["error"]["details"]["unavailable"] == venue.ids("A2")


def test_booking_by_quantity(server, venue, user):
    h = hold(server, user.token, venue.show_id, quantity=4)
    body = book(server, user.token, h["hold_id"])
    done = confirm(server, user.token, body["booking"]["id"],
                   pay(server, user.token, body["payment"]["order_id"]))
    assert seat_ids_of(done) == seat_ids_of(h)
    assert done["amount"] == 4 * GRID_PRICES["regular"]
    assert_tickets(done)


def test_lists_are_per_user(server, venue, user):
    other = make_user(server, "neighbour")
    mine = buy(server, user.token, venue.show_id, venue.ids("C1"))
    theirs = buy(server, other.token, venue.show_id, venue.ids("C2"))
    ids = [i["id"] for i in ok(api("GET", server, "/bookings", token=user.token), 200)["items"]]
    assert ids == [mine["id"]]
    ids = [i["id"] for i in ok(api("GET", server, "/bookings", token=other.token), 200)["items"]]
    assert ids == [theirs["id"]]
    assert_error(api("GET", server, "/bookings"), 401, "unauthorized")


def test_booking_list_pages(server, venue, user):
    made = [buy(server, user.token, venue.show_id, venue.ids(f"B{i}"))["id"] for i in (8, 9)]
    _, body = pending(server, user, venue, ["B10"])
    made.append(body["booking"]["id"])
    items, pages = walk(server, "/bookings", 2, token=user.token)
    assert pages == 2
    assert [i["id"] for i in items] == sorted(made, reverse=True)  # newest first
    assert {i["id"]: i["status"] for i in items}[made[2]] == "pending_payment"
    r = api("GET", server, "/bookings", token=user.token, params={"cursor": "!!!"})
    assert_error(r, 400, "invalid_parameter")
    r = api("GET", server, "/bookings", token=user.token, params={"limit": 0})
    assert_error(r, 400, "invalid_parameter")


def test_second_booking_of_a_hold(server, venue, user):
    h, _ = pending(server, user, venue, ["E5"])
    assert_error(post_booking(server, user.token, h["hold_id"]), 409, "hold_already_booked")


# --------------------------------------------------------------------------------------------
# Signatures and tampering


def test_wrong_signature_changes_nothing(server, venue, user):
    _, body = pending(server, user, venue, ["B1", "B2"])
    b = body["booking"]
    payment = pay(server, user.token, body["payment"]["order_id"])
    sig = payment["razorpay_signature"]
    bad_sigs = [
        "0" * len(sig),
        sig[:-1] + ("0" if sig[-1] != "0" else "1"),
        sig.upper() if sig != sig.upper() else sig.lower(),
        sig[:32],
        "x",
    ]
    map_before = seat_map(server, venue.show_id)
    for bad in bad_sigs:
        r = post_confirm(server, user.token, b["id"], {**payment, "razorpay_signature": bad})
        assert_error(r, 400, "invalid_signature")
    # Another payment id with the real signature does not match either.
    r = post_confirm(server, user.token, b["id"],
                     {**payment, "razorpay_payment_id": payment["razorpay_payment_id"] + "x"})
    assert_error(r, 400, "invalid_signature")
    got = get_booking(server, user.token, b["id"])
    assert got["status"] == "pending_payment" and got["tickets"] == [] and got["refunds"] == []
    assert seat_map(server, venue.show_id) == map_before
    # The real signature still works afterwards.
    assert confirm(server, user.token, b["id"], payment)["status"] == "confirmed"


@pytest.mark.parametrize("missing", ["razorpay_order_id", "razorpay_payment_id",
                                     "razorpay_signature"])
def test_confirm_body_validation(server, venue, user, missing):
    _, body = pending(server, user, venue, ["B3"])
    payment = pay(server, user.token, body["payment"]["order_id"])
    partial = {k: v for k, v in payment.items() if k != missing}
    r = post_confirm(server, user.token, body["booking"]["id"], partial)
    assert_error(r, 422, "validation_failed")
    r = post_confirm(server, user.token, body["booking"]["id"], {**payment, missing: 12})
    assert_error(r, 400, "invalid_type")
    assert get_booking(server, user.token, body["booking"]["id"])["status"] == "pending_payment"


def test_signature_of_another_order(server, venue, user):
    _, one = pending(server, user, venue, ["C3"])
    other = make_user(server, "other-payer")
    _, two = pending(server, other, venue, ["C4"])
    pay_one = pay(server, user.token, one["payment"]["order_id"])
    pay_two = pay(server, other.token, two["payment"]["order_id"])
    # The other order's valid checkout, as is: its order id is not this booking's.
    r = post_confirm(server, user.token, one["booking"]["id"], pay_two)
    assert_error(r, 400, "invalid_signature")
    # The other order's payment and signature with this booking's order id.
    r = post_confirm(server, user.token, one["booking"]["id"],
                     {**pay_two, "razorpay_order_id": one["payment"]["order_id"]})
    assert_error(r, 400, "invalid_signature")
    # The same with the user's own earlier booking... and no harm done to either booking.
    assert get_booking(server, user.token, one["booking"]["id"])["status"] == "pending_payment"
    assert get_booking(server, other.token, two["booking"]["id"])["status"] == "pending_payment"
    assert_statuses(server, venue.show_id, venue.ids("C3", "C4"), "held")
    assert confirm(server, user.token, one["booking"]["id"], pay_one)["status"] == "confirmed"
    assert confirm(server, other.token, two["booking"]["id"], pay_two)["status"] == "confirmed"


def test_amount_is_computed_by_the_server(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("A9", "A10"), amount=100)
    expected = 2 * GRID_PRICES["premium"]
    assert h["amount"] == expected
    body = ok(post_booking(server, user.token, h["hold_id"], amount=1, currency="USD"), 201)
    assert body["booking"]["amount"] == body["payment"]["amount"] == expected
    assert body["booking"]["currency"] == body["payment"]["currency"] == "INR"
    payment = pay(server, user.token, body["payment"]["order_id"])
    r = post_confirm(server, user.token, body["booking"]["id"], {**payment, "amount": 1})
    done = ok(r, 200)
    assert done["status"] == "confirmed" and done["amount"] == expected
    assert sum(s["price"] for s in done["seats"]) == expected


def test_pay_endpoint_is_the_bookings_user_only(server, venue, user):
    _, body = pending(server, user, venue, ["E9"])
    order = body["payment"]["order_id"]
    c = cast(server)
    for actor in (make_user(server, "stranger"), c.owner):
        assert_error(api("POST", server, f"/payments/test/{order}/pay", token=actor.token), 404,
                     "not_found")
    assert_error(api("POST", server, f"/payments/test/{order}/pay"), 401, "unauthorized")
    assert_error(api("POST", server, "/payments/test/order_nonexistent/pay", token=user.token),
                 404, "not_found")


# --------------------------------------------------------------------------------------------
# Ownership


def test_ownership(server, venue, user):
    _, body = pending(server, user, venue, ["F1", "F2"])
    bid = body["booking"]["id"]
    payment = pay(server, user.token, body["payment"]["order_id"])
    c = cast(server)
    stranger = make_user(server, "stranger")

    for actor in (stranger, c.other_owner):
        assert_error(api("GET", server, f"/bookings/{bid}", token=actor.token), 404, "not_found")
        assert_error(post_confirm(server, actor.token, bid, payment), 404, "not_found")
        assert_error(post_cancel(server, actor.token, bid), 404, "not_found")
    # The theatre's owner may look, but it is not theirs to confirm or cancel.
    assert_error(post_confirm(server, c.owner.token, bid, payment), 404, "not_found")
    assert_error(post_cancel(server, c.owner.token, bid), 404, "not_found")
    assert get_booking(server, user.token, bid)["status"] == "pending_payment"

    confirm(server, user.token, bid, payment)
    mine = get_booking(server, user.token, bid)
    assert get_booking(server, c.owner.token, bid) == mine
    assert get_booking(server, c.admin.token, bid) == mine
    for actor in (stranger, c.other_owner):
        assert_error(api("GET", server, f"/bookings/{bid}", token=actor.token), 404, "not_found")
        assert_error(post_cancel(server, actor.token, bid), 404, "not_found")
    assert_error(api("GET", server, f"/bookings/{bid}"), 401, "unauthorized")
    assert_error(api("GET", server, "/bookings/bkg_nonexistent", token=user.token), 404,
                 "not_found")
    # Nobody else's list shows it.
    items = ok(api("GET", server, "/bookings", token=stranger.token), 200)["items"]
    assert items == []
    assert get_booking(server, user.token, bid)["status"] == "confirmed"


# --------------------------------------------------------------------------------------------
# Idempotency-Key


def test_idempotent_hold(server, venue, user):
    body = {"seat_ids": venue.ids("D1", "D2")}
    r1 = post_hold(server, user.token, venue.show_id, headers=idem("hold-key-1"), **body)
    first = ok(r1, 201)
    assert r1.headers.get("Idempotent-Replayed") is None
    r2 = post_hold(server, user.token, venue.show_id, headers=idem("hold-key-1"), **body)
    assert ok(r2, 201) == first
    assert r2.headers.get("Idempotent-Replayed") == "true"
    # Only one hold exists: two seats held, and releasing the one hold frees them all.
    assert seat_map(server, venue.show_id)["counts"]["held"] == 2
    assert api("DELETE", server, f"/holds/{first['hold_id']}", token=user.token).status_code \
        == 204
    assert seat_map(server, venue.show_id)["counts"]["held"] == 0

    # Same key, different body (or another show: the path is part of the request).
    r = post_hold(server, user.token, venue.show_id, headers=idem("hold-key-1"),
                  seat_ids=venue.ids("D3"))
    assert_error(r, 422, "idempotency_key_reused")
    other_venue = Venue(server)
    r = post_hold(server, user.token, other_venue.show_id, headers=idem("hold-key-1"),
                  seat_ids=venue.ids("D1", "D2"))
    assert_error(r, 422, "idempotency_key_reused")
    assert seat_map(server, venue.show_id)["counts"]["held"] == 0


def test_idempotency_keys_are_per_user(server, venue, user):
    other = make_user(server, "same-key")
    r1 = post_hold(server, user.token, venue.show_id, headers=idem("shared-key"), quantity=2)
    r2 = post_hold(server, other.token, venue.show_id, headers=idem("shared-key"), quantity=2)
    h1, h2 = ok(r1, 201), ok(r2, 201)
    assert r2.headers.get("Idempotent-Replayed") is None
    assert h1["hold_id"] != h2["hold_id"]
    assert not set(seat_ids_of(h1)) & set(seat_ids_of(h2))
    assert seat_map(server, venue.show_id)["counts"]["held"] == 4
    # Same key and body by another user runs for real: the seats are taken -> its own 409.
    third = make_user(server, "third")
    r3 = post_hold(server, third.token, venue.show_id, headers=idem("shared-key"),
                   seat_ids=seat_ids_of(h1))
    assert_error(r3, 409, "seat_unavailable")
    assert r3.headers.get("Idempotent-Replayed") is None


def test_idempotent_errors_are_replayed(server, venue, user):
    other = make_user(server, "first")
    hold(server, other.token, venue.show_id, seat_ids=venue.ids("E1"))
    r1 = post_hold(server, user.token, venue.show_id, headers=idem("err-key"),
                   seat_ids=venue.ids("E1"))
    assert_error(r1, 409, "seat_unavailable")
    r2 = post_hold(server, user.token, venue.show_id, headers=idem("err-key"),
                   seat_ids=venue.ids("E1"))
    assert (r2.status_code, r2.json()) == (409, r1.json())
    assert r2.headers.get("Idempotent-Replayed") == "true"


def test_an_expired_hold_key_is_taken_over(pg_cluster, make_server):
    """A key older than 24 h is forgotten: its next use, even for another request, runs (the
    hold's transaction meets the old row, which is then deleted, and the hold is made again
    with the key) instead of replaying or refusing it as reused."""
    url = pg_cluster.create_database()
    srv = make_server("postgres", database_url=url, CACHE="off")
    v = Venue(srv)
    token = register(srv)["access_token"]
    r1 = post_hold(srv, token, v.show_id, headers=idem("old-key"), seat_ids=v.ids("A1"))
    first = ok(r1, 201)
    dbname = url.rsplit("/", 1)[1]
    pg_cluster.psql(dbname, "UPDATE idempotency_keys SET created_at = created_at - 90000000")
    r2 = post_hold(srv, token, v.show_id, headers=idem("old-key"), seat_ids=v.ids("A2"))
    second = ok(r2, 201)
    assert r2.headers.get("Idempotent-Replayed") is None
    assert second["hold_id"] != first["hold_id"]
    assert [s["id"] for s in second["seats"]] == v.ids("A2")
    r3 = post_hold(srv, token, v.show_id, headers=idem("old-key"), seat_ids=v.ids("A2"))
    assert ok(r3, 201) == second and r3.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize("key", ["", "a" * 256, "bad key", "clé"])
def test_bad_idempotency_key(server, venue, user, key):
    r = post_hold(server, user.token, venue.show_id, headers={"Idempotency-Key": key.encode()},
                  quantity=1)
    assert_error(r, 400, "invalid_idempotency_key")
    assert seat_map(server, venue.show_id)["counts"]["held"] == 0


def test_idempotent_booking_and_confirm(server, venue, user):
    h = hold(server, user.token, venue.show_id, seat_ids=venue.ids("F5", "F6"))
    r1 = post_booking(server, user.token, h["hold_id"], headers=idem("book-1"))
    r2 = post_booking(server, user.token, h["hold_id"], headers=idem("book-1"))
    first = ok(r1, 201)
    assert ok(r2, 201) == first
    assert r2.headers.get("Idempotent-Replayed") == "true"
    assert len(ok(api("GET", server, "/bookings", token=user.token), 200)["items"]) == 1
    # Without the key the second request is a real one, and the hold is already booked.
    assert_error(post_booking(server, user.token, h["hold_id"]), 409, "hold_already_booked")
    r = post_booking(server, user.token, h["hold_id"] + "x", headers=idem("book-1"))
    assert_error(r, 422, "idempotency_key_reused")

    bid = first["booking"]["id"]
    payment = pay(server, user.token, first["payment"]["order_id"])
    c1 = post_confirm(server, user.token, bid, payment, headers=idem("confirm-1"))
    c2 = post_confirm(server, user.token, bid, payment, headers=idem("confirm-1"))
    done = ok(c1, 200)
    assert done["status"] == "confirmed"
    assert ok(c2, 200) == done
    assert c2.headers.get("Idempotent-Replayed") == "true"
    r = post_confirm(server, user.token, bid, {**payment, "razorpay_signature": "0" * 64},
                     headers=idem("confirm-1"))
    assert_error(r, 422, "idempotency_key_reused")
    # A second payment would have been a double charge; none was taken, so no refund.
    assert get_booking(server, user.token, bid)["refunds"] == []


def test_idempotent_cancel(server, venue, user):
    b = buy(server, user.token, venue.show_id, venue.ids("C9", "C10"))
    r1 = post_cancel(server, user.token, b["id"], headers=idem("cancel-1"))
    r2 = post_cancel(server, user.token, b["id"], headers=idem("cancel-1"))
    done = ok(r1, 200)
    assert done["status"] == "cancelled_refunded"
    assert ok(r2, 200) == done
    assert r2.headers.get("Idempotent-Replayed") == "true"
    assert len(get_booking(server, user.token, b["id"])["refunds"]) == 1
    assert_error(post_cancel(server, user.token, b["id"]), 409, "booking_not_confirmed")


# --------------------------------------------------------------------------------------------
# Cancellation by the customer


def check_cancelled(server, token, venue, b, done):
    assert done["status"] == "cancelled_refunded", done
    assert done["tickets"] == [], done
    assert seat_ids_of(done) == seat_ids_of(b)  # what was sold is still on record
    assert len(done["refunds"]) == 1, done
    ref = done["refunds"][0]
    assert ref["status"] == "processed" and ref["amount"] == b["amount"], ref
    assert ref["id"].startswith("ref_") and isinstance(ref["reason"], str)
    assert get_booking(server, token, b["id"]) == done
    assert_statuses(server, venue.show_id, seat_ids_of(b), "available")


def test_cancel_well_before_the_show(server, venue, user):
    # The default policy: full refund until 4 hours before; this show is 2 days away.
    b = buy(server, user.token, venue.show_id, venue.ids("D9", "D10"))
    done = ok(post_cancel(server, user.token, b["id"]), 200)
    check_cancelled(server, user.token, venue, b, done)
    # The seats can be sold again.
    other = make_user(server, "resale")
    again = buy(server, other.token, venue.show_id, venue.ids("D9", "D10"))
    assert_statuses(server, venue.show_id, venue.ids("D9", "D10"), "booked")
    assert {t["code"] for t in again["tickets"]}.isdisjoint(
        {t["code"] for t in b["tickets"]})
    # Twice: nothing more happens.
    assert_error(post_cancel(server, user.token, b["id"]), 409, "booking_not_confirmed")
    assert len(get_booking(server, user.token, b["id"])["refunds"]) == 1


def test_cancel_any_time_before_the_show_when_window_is_zero(backend, make_server):
    srv = make_server(backend, CANCEL_FULL_REFUND_HOURS=0)
    v = Venue(srv, starts_at=starts_in(0.5))
    u = make_user(srv, "flexible")
    b = buy(srv, u.token, v.show_id, v.ids("A1", "C1"))
    done = ok(post_cancel(srv, u.token, b["id"]), 200)
    check_cancelled(srv, u.token, v, b, done)


def test_cancel_window_closed(server, user):
    v = Venue(server, starts_at=starts_in(1))
    b = buy(server, user.token, v.show_id, v.ids("B1"))
    err = assert_error(post_cancel(server, user.token, b["id"]), 409, "cancel_window_closed")
    assert err["details"] == {"full_refund_hours": 4}
    got = get_booking(server, user.token, b["id"])
    assert got["status"] == "confirmed" and got["refunds"] == []
    assert_tickets(got)
    assert_statuses(server, v.show_id, v.ids("B1"), "booked")


def test_cancel_pending_booking(server, venue, user):
    _, body = pending(server, user, venue, ["E7"])
    bid = body["booking"]["id"]
    assert_error(post_cancel(server, user.token, bid), 409, "booking_not_confirmed")
    got = get_booking(server, user.token, bid)
    assert got["status"] == "pending_payment" and got["refunds"] == []
    assert_statuses(server, venue.show_id, venue.ids("E7"), "held")
    assert_error(post_cancel(server, user.token, "bkg_nonexistent"), 404, "not_found")


# --------------------------------------------------------------------------------------------
# Cancellation of the show


def test_show_cancellation_refunds_confirmed_bookings(server, venue, user):
    other = make_user(server, "second")
    b1 = buy(server, user.token, venue.show_id, venue.ids("A3", "A4"))
    b2 = buy(server, other.token, venue.show_id, venue.ids("C3"))
    # A pending booking too: paid after the cancellation, it is refunded, never confirmed.
    third = make_user(server, "pending")
    _, body = pending(server, third, venue, ["F3"])

    show = venue.cancel_show()
    assert show["status"] == "cancelled"
    for tok, b in ((user.token, b1), (other.token, b2)):
        got = get_booking(server, tok, b["id"])
        assert got["status"] == "cancelled_refunded", got
        assert got["tickets"] == []
        assert [(r["status"], r["amount"]) for r in got["refunds"]] == \
            [("processed", b["amount"])], got

    late = confirm(server, third.token, body["booking"]["id"],
                   pay(server, third.token, body["payment"]["order_id"]))
    assert late["status"] == "expired_refunded", late
    assert late["tickets"] == []
    assert [(r["status"], r["amount"]) for r in late["refunds"]] == \
        [("processed", body["booking"]["amount"])], late
    # Nothing is sold for a cancelled show.
    assert seat_map(server, venue.show_id)["counts"]["booked"] == 0
    # Cancelling again: 409, and nobody is refunded twice.
    r = api("POST", server, f"/shows/{venue.show_id}/cancel", token=venue.owner_token)
    assert_error(r, 409, "show_cancelled")
    assert len(get_booking(server, user.token, b1["id"])["refunds"]) == 1
    assert_error(post_cancel(server, user.token, b1["id"]), 409, "booking_not_confirmed")
