"""
Helpers for the booking tests (holds, bookings, payments, cancellation, contention).

Every helper that talks to the server goes through `api()`, which asserts that the answer is
never a 5xx: ticketd must not answer 500 (or 503 on a healthy database) for anything a client
sends, in any order, at any concurrency. The catalogue objects come from catalog_helpers
(the cast's owner makes a fresh theatre, hall and show per test, so tests stay independent).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import requests

from catalog_helpers import cast, create_hall, create_movie, create_show, create_theatre, \
    describe, future, make_user, ok, utcnow
from conftest import assert_error, auth_headers, call

# 6 rows x 10 seats, no aisles: rows A-B premium, C-F regular. The default focus of best
# available is the middle column (x = 4.5) two-thirds back (y = 5 * 2 / 3 = 3.33: row D).
GRID_LAYOUT = {
    "rows": [{"label": lbl, "seats": 10, "category": "premium" if lbl in "AB" else "regular"}
             for lbl in "ABCDEF"]
}
GRID_PRICES = {"premium": 40000, "regular": 25000}

# 40 sellable seats (4 rows x 10) for the contention tests.
CONTENTION_LAYOUT = {
    "rows": [{"label": lbl, "seats": 10, "category": "regular"} for lbl in "ABCD"]
}
CONTENTION_PRICES = {"regular": 15000}

HOLD_KEYS = {"hold_id", "show_id", "seats", "amount", "currency", "expires_at"}
HOLD_SEAT_KEYS = {"id", "label", "category", "price"}
BOOKING_KEYS = {"id", "show_id", "status", "amount", "currency", "seats", "tickets", "provider",
                "order_id", "expires_at", "created_at", "amount_before_discount", "discount",
                "promo_code"}
PAYMENT_KEYS = {"provider", "order_id", "key_id", "amount", "currency"}
MAP_SEAT_KEYS = {"id", "label", "row", "number", "x", "y", "category", "price", "status"}


# --------------------------------------------------------------------------------------------
# HTTP: never a 5xx


def no_5xx(resp: requests.Response) -> requests.Response:
    assert resp.status_code < 500, "server error: " + describe(resp)
    return resp


def api(method: str, server, path: str, **kwargs) -> requests.Response:
    """conftest.call plus the never-a-5xx check."""
    return no_5xx(call(method, server, path, **kwargs))


def idem(key: str) -> dict:
    return {"Idempotency-Key": key}


# --------------------------------------------------------------------------------------------
# Catalogue set-up


class Venue:
    """A fresh theatre (of the cast's owner), one hall with `layout`, one show on it."""

    def __init__(self, server, layout=None, prices=None, starts_at=None, owner_token=None):
        self.server = server
        c = cast(server)
        self.owner_token = owner_token or c.owner.token
        self.theatre = create_theatre(server, self.owner_token)
        self.hall = create_hall(server, self.theatre["id"], self.owner_token,
                                layout or GRID_LAYOUT)
        self.movie = create_movie(server, c.admin.token, duration_minutes=100)
        self.show = create_show(server, self.movie["id"], self.hall["id"],
                                starts_at or future(days=2, hour=18),
                                token=self.owner_token,
                                prices=GRID_PRICES if prices is None else prices)
        self.show_id = self.show["id"]
        seats = seat_map(server, self.show_id)["seats"]
        self.by_label = {s["label"]: s for s in seats}

    def ids(self, *labels: str) -> list[str]:
        return [self.by_label[lbl]["id"] for lbl in labels]

    def price(self, label: str) -> int:
        return self.by_label[label]["price"]

    def cancel_show(self) -> dict:
        return ok(api("POST", self.server, f"/shows/{self.show_id}/cancel",
                      token=self.owner_token), 200)


def starts_in(hours: float):
    """A whole-minute UTC time about `hours` from now."""
    t = utcnow() + timedelta(hours=hours)
    return t.replace(second=0, microsecond=0) + timedelta(minutes=1)


# --------------------------------------------------------------------------------------------
# Seat map


def seat_map(server, show_id: str) -> dict:
    body = ok(api("GET", server, f"/shows/{show_id}/seats"), 200)
    assert set(body) == {"show_id", "status", "currency", "counts", "seats"}, body
    counts = {k: 0 for k in ("available", "held", "booked", "blocked")}
    for s in body["seats"]:
        assert set(s) == MAP_SEAT_KEYS, s
        counts[s["status"]] += 1
    assert body["counts"] == counts, (body["counts"], counts)
    return body


def statuses(server, show_id: str) -> dict[str, str]:
    """seat id -> status."""
    return {s["id"]: s["status"] for s in seat_map(server, show_id)["seats"]}


def assert_statuses(server, show_id: str, seat_ids, status: str) -> None:
    st = statuses(server, show_id)
    got = {sid: st.get(sid) for sid in seat_ids}
    assert got == {sid: status for sid in seat_ids}, got


# --------------------------------------------------------------------------------------------
# Holds, bookings, payments


def post_hold(server, token, show_id: str, headers=None, **body) -> requests.Response:
    return api("POST", server, f"/shows/{show_id}/holds", token=token, json=body,
               headers=headers)


def hold(server, token, show_id: str, **body) -> dict:
    """Places a hold (201 asserted, shape checked); returns the body."""
    h = ok(post_hold(server, token, show_id, **body), 201)
    assert set(h) == HOLD_KEYS, h
    assert h["show_id"] == show_id
    assert h["hold_id"].startswith("hld_"), h
    for s in h["seats"]:
        assert set(s) == HOLD_SEAT_KEYS, s
    assert h["amount"] == sum(s["price"] for s in h["seats"]), h
    return h


def release(server, token, hold_id: str) -> requests.Response:
    return api("DELETE", server, f"/holds/{hold_id}", token=token)


def post_booking(server, token, hold_id: str, headers=None, **extra) -> requests.Response:
    return api("POST", server, "/bookings", token=token, json={"hold_id": hold_id, **extra},
               headers=headers)


def book(server, token, hold_id: str) -> dict:
    """Creates a pending booking (201 asserted, shape checked); returns {booking, payment}."""
    body = ok(post_booking(server, token, hold_id), 201)
    assert set(body) == {"booking", "payment"}, body
    b, p = body["booking"], body["payment"]
    assert set(b) == BOOKING_KEYS, b
    assert set(p) == PAYMENT_KEYS, p
    assert b["status"] == "pending_payment"
    assert b["tickets"] == []
    assert (p["provider"], p["order_id"], p["amount"], p["currency"]) == \
        ("test", b["order_id"], b["amount"], b["currency"])
    return body


def pay(server, token, order_id: str) -> dict:
    """The test provider's checkout: {razorpay_order_id, razorpay_payment_id, razorpay_signature}."""
    p = ok(api("POST", server, f"/payments/test/{order_id}/pay", token=token), 200)
    assert set(p) == {"razorpay_order_id", "razorpay_payment_id", "razorpay_signature"}, p
    assert p["razorpay_order_id"] == order_id
    return p


def post_confirm(server, token, booking_id: str, payment: dict, headers=None):
    return api("POST", server, f"/bookings/{booking_id}/confirm", token=token, json=payment,
               headers=headers)


def confirm(server, token, booking_id: str, payment: dict) -> dict:
    return ok(post_confirm(server, token, booking_id, payment), 200)


def get_booking(server, token, booking_id: str) -> dict:
    return ok(api("GET", server, f"/bookings/{booking_id}", token=token), 200)


def post_cancel(server, token, booking_id: str, headers=None) -> requests.Response:
    return api("POST", server, f"/bookings/{booking_id}/cancel", token=token, headers=headers)


def buy(server, token, show_id: str, seat_ids) -> dict:
    """Hold, book, pay, confirm: returns the confirmed booking."""
    h = hold(server, token, show_id, seat_ids=list(seat_ids))
    body = book(server, token, h["hold_id"])
    p = pay(server, token, body["payment"]["order_id"])
    b = confirm(server, token, body["booking"]["id"], p)
    assert b["status"] == "confirmed", b
    assert_tickets(b)
    return b


def assert_tickets(b: dict) -> None:
    """A confirmed booking: exactly one ticket per seat, codes unique and non-trivial."""
    seat_ids = sorted(s["id"] for s in b["seats"])
    ticket_seats = sorted(t["seat_id"] for t in b["tickets"])
    assert ticket_seats == seat_ids, b
    codes = [t["code"] for t in b["tickets"]]
    assert len(set(codes)) == len(codes), b
    assert all(isinstance(c, str) and len(c) >= 16 for c in codes), b


def seat_ids_of(obj: dict) -> list[str]:
    return sorted(s["id"] for s in obj["seats"])


def unavailable_error(resp: requests.Response) -> list[str]:
    """Asserts 409 seat_unavailable; returns details.unavailable."""
    err = assert_error(resp, 409, "seat_unavailable")
    ids = err.get("details", {}).get("unavailable")
    assert isinstance(ids, list) and ids, describe(resp)
    return ids


# --------------------------------------------------------------------------------------------
# Many users


def make_users(server, n: int, label: str = "buyer", threads: int = 16) -> list:
    """n fresh users (Actor objects), registered concurrently."""
    out: list = [None] * n
    lock = threading.Lock()
    next_i = [0]
    errors: list = []

    def worker():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= n:
                return
            try:
                out[i] = make_user(server, f"{label}{i}")
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    ts = [threading.Thread(target=worker) for _ in range(min(threads, n))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    return out


def session_for(token: str) -> requests.Session:
    s = requests.Session()
    s.headers.update(auth_headers(token))
    return s

