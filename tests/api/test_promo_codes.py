"""
Promo codes (issue 12), on SQLite and PostgreSQL:

- POST /promo-codes: strict shape (400 for wrong JSON types, 422 for values), codes unique
  case-insensitively (409), owners only for their own theatres; GET /promo-codes (admin all,
  owner theirs, cursors); PATCH /promo-codes/{id} {active}.
- POST /bookings {hold_id, promo_code}: the discount in the booking (amount_before_discount,
  discount, amount), in the payment order (the test provider's and Razorpay's, through the
  stand-in), in every booking view, and in refunds (never more than was paid); each reason a
  code does not apply is its own 422 and changes nothing.
- Exact limits: 50 users book at once with a code of max_uses 10 -> exactly 10 discounted
  bookings; one user racing 8 bookings with max_uses_per_user 2 -> exactly 2; the same across 3
  servers sharing PostgreSQL (scripts/cluster.sh).
- A cancelled, expired or failed (Razorpay payment.failed) booking gives its use back, exactly once (a second cancel returns
  nothing); a late payment of an expired booking takes the use again, or is refunded when the
  code is used up meanwhile.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests

from booking_helpers import (
    GRID_LAYOUT, GRID_PRICES, Venue, api, confirm, get_booking, hold, make_users, pay,
    post_booking, post_cancel, session_for,
)
from catalog_helpers import (
    cast, create_hall, create_movie, create_show, create_theatre, describe, field_error, future,
    iso, ok, uid, utcnow,
)
from conftest import BACKENDS, Server, _new_database, assert_error, call, scale_release_only

DISCOUNT_KEYS = {"amount_before_discount", "discount", "promo_code"}
PROMO_KEYS = {"id", "code", "kind", "value", "currency", "max_uses", "max_uses_per_user", "uses",
              "valid_from", "valid_until", "theatre_id", "min_amount", "active", "created_at",
              "updated_at"}


def new_code(prefix: str = "P") -> str:
    return f"{prefix}{uid()}".upper()[:32].replace(".", "_")


def post_promo(server, token, **body) -> requests.Response:
    return api("POST", server, "/promo-codes", token=token, json=body)


def promo(server, token=None, **body) -> dict:
    token = token or cast(server).admin.token
    body.setdefault("code", new_code())
    body.setdefault("kind", "percent")
    body.setdefault("value", 10)
    p = ok(post_promo(server, token, **body), 201)
    assert set(p) == PROMO_KEYS, p
    return p


def promo_state(server, promo_id: str, token=None) -> dict:
    token = token or cast(server).admin.token
    items = ok(api("GET", server, "/promo-codes", token=token, params={"limit": 100}))["items"]
    found = [p for p in items if p["id"] == promo_id]
    assert len(found) == 1, items
    return found[0]


def book_with(server, token, hold_id: str, code: str | None) -> requests.Response:
    extra = {"promo_code": code} if code is not None else {}
    return post_booking(server, token, hold_id, **extra)


# --------------------------------------------------------------------------------------------
# Creating, listing and switching codes


def test_create_refuses_bad_bodies(server):
    c = cast(server)
    adm = c.admin.token
    good = {"code": new_code(), "kind": "percent", "value": 10}
    for bad, status in [
        ({**good, "code": 123}, 400),
        ({**good, "value": "10"}, 400),
        ({**good, "value": 1.5}, 400),
        ({**good, "max_uses": "5"}, 400),
        ({**good, "active": 1, "valid_from": 5}, 400),
        ({**good, "theatre_id": []}, 400),
        ({k: v for k, v in good.items() if k != "code"}, 422),
        ({k: v for k, v in good.items() if k != "kind"}, 422),
        ({k: v for k, v in good.items() if k != "value"}, 422),
        ({**good, "code": "ab"}, 422),
        ({**good, "code": "x" * 33}, 422),
        ({**good, "code": "bad code"}, 422),
        ({**good, "code": "CAFÉ10"}, 422),
        ({**good, "kind": "free"}, 422),
        ({**good, "value": 0}, 422),
        ({**good, "value": 101}, 422),
        ({**good, "value": -5}, 422),
        ({**good, "kind": "amount", "value": 5000}, 422),  # amount without currency
        ({**good, "kind": "amount", "value": 5000, "currency": "XYZ"}, 422),
        ({**good, "min_amount": 1000}, 422),  # a minimum needs a currency
        ({**good, "min_amount": -1, "currency": "INR"}, 422),
        ({**good, "max_uses": 0}, 422),
        ({**good, "max_uses_per_user": 0}, 422),
        ({**good, "valid_from": "tomorrow"}, 422),
        ({**good, "valid_from": iso(future(days=3)), "valid_until": iso(future(days=2))}, 422),
        ({**good, "theatre_id": "thr_nope"}, 422),
    ]:
        r = post_promo(server, adm, **bad)
        assert r.status_code == status, (bad, describe(r))
        assert r.json()["error"]["code"] == ("invalid_type" if status == 400
                                             else "validation_failed"), describe(r)
    assert_error(api("POST", server, "/promo-codes", token=adm, data="{",
                     headers={"Content-Type": "application/json"}), 400, "malformed_json")
    # nothing of that was created
    items = ok(api("GET", server, "/promo-codes", token=adm, params={"limit": 100}))["items"]
    assert good["code"] not in {p["code"] for p in items}


def test_codes_are_unique_case_insensitively_and_normalised(server):
    adm = cast(server).admin.token
    code = new_code("Summer-")
    p = promo(server, code=code.lower(), kind="amount", value=5000, currency="INR", max_uses=3,
              max_uses_per_user=1, min_amount=20000,
              valid_from=iso(utcnow() - timedelta(days=1)), valid_until=iso(future(days=30)))
    assert p["code"] == code.upper()
    assert (p["kind"], p["value"], p["currency"], p["max_uses"], p["max_uses_per_user"],
            p["uses"], p["min_amount"], p["active"], p["theatre_id"]) == \
        ("amount", 5000, "INR", 3, 1, 0, 20000, True, None)
    for again in (code.upper(), code.lower(), code.swapcase()):
        err = assert_error(post_promo(server, adm, code=again, kind="percent", value=5), 409,
                           "promo_code_taken")
        assert err["details"]["code"] == code.upper()


def test_owners_make_codes_for_their_own_theatres_only(server):
    c = cast(server)
    mine = create_theatre(server, c.owner.token)
    theirs = create_theatre(server, c.other_owner.token)
    field_error(post_promo(server, c.owner.token, code=new_code(), kind="percent", value=5), 422,
                "validation_failed", "theatre_id")
    assert_error(post_promo(server, c.owner.token, code=new_code(), kind="percent", value=5,
                            theatre_id=theirs["id"]), 403, "forbidden")
    assert_error(post_promo(server, c.user.token, code=new_code(), kind="percent", value=5), 403,
                 "forbidden")
    assert_error(post_promo(server, None, code=new_code(), kind="percent", value=5), 401,
                 "unauthorized")
    own = promo(server, c.owner.token, theatre_id=mine["id"])
    other = promo(server, c.other_owner.token, theatre_id=theirs["id"])
    everywhere = promo(server, c.admin.token)

    def ids(token, **params):
        out, cursor = [], None
        while True:
            q = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
            body = ok(api("GET", server, "/promo-codes", token=token, params=q))
            assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= 2, body
            out += [p["id"] for p in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return out

    admin_sees = ids(c.admin.token)
    assert {own["id"], other["id"], everywhere["id"]} <= set(admin_sees)
    assert admin_sees == sorted(admin_sees, reverse=True)  # newest first, no repeats
    assert len(admin_sees) == len(set(admin_sees))
    owner_sees = ids(c.owner.token)
    assert own["id"] in owner_sees and other["id"] not in owner_sees
    assert everywhere["id"] not in owner_sees
    assert ids(c.admin.token, theatre_id=theirs["id"]) == [other["id"]]
    assert_error(api("GET", server, "/promo-codes", token=c.user.token), 403, "forbidden")

    # PATCH: own code yes, someone else's or a global one is not found, bad bodies refused
    patch = lambda tok, pid, body: api("PATCH", server, f"/promo-codes/{pid}", token=tok,  # noqa
                                       json=body)
    assert ok(patch(c.owner.token, own["id"], {"active": False}))["active"] is False
    assert_error(patch(c.owner.token, other["id"], {"active": False}), 404, "not_found")
    assert_error(patch(c.owner.token, everywhere["id"], {"active": False}), 404, "not_found")
    assert_error(patch(c.owner.token, own["id"], {"active": "no"}), 400, "invalid_type")
    assert_error(patch(c.owner.token, own["id"], {}), 422, "validation_failed")
    assert_error(patch(c.admin.token, "prm_nope", {"active": True}), 404, "not_found")
    back = ok(patch(c.admin.token, own["id"], {"active": True}))
    assert back["active"] is True and set(back) == PROMO_KEYS
    assert promo_state(server, other["id"])["active"] is True


# --------------------------------------------------------------------------------------------
# Applying a code


def test_discount_is_in_booking_order_views_and_refund(server):
    c = cast(server)
    v = Venue(server)
    p = promo(server, code=new_code(), kind="percent", value=15, theatre_id=v.theatre["id"])
    user = c.user
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("A1", "C1", "C2"))
    before = GRID_PRICES["premium"] + 2 * GRID_PRICES["regular"]
    body = ok(book_with(server, user.token, h["hold_id"], p["code"].lower()), 201)
    b, pm = body["booking"], body["payment"]
    discount = before * 15 // 100
    assert (b["amount_before_discount"], b["discount"], b["amount"], b["promo_code"]) == \
        (before, discount, before - discount, p["code"]), b
    assert pm["amount"] == before - discount, pm
    assert promo_state(server, p["id"])["uses"] == 1

    # every view of the booking says the same
    got = get_booking(server, user.token, b["id"])
    assert DISCOUNT_KEYS <= set(got) and got["discount"] == discount and got["amount"] == b["amount"]
    mine = ok(api("GET", server, "/bookings", token=user.token, params={"limit": 100}))["items"]
    listed = [x for x in mine if x["id"] == b["id"]][0]
    assert (listed["amount_before_discount"], listed["discount"], listed["promo_code"]) == \
        (before, discount, p["code"])
    theirs = ok(api("GET", server, f"/theatres/{v.theatre['id']}/bookings",
                    token=c.owner.token))["items"]
    row = [x for x in theirs if x["id"] == b["id"]][0]
    assert (row["amount_before_discount"], row["discount"], row["amount"]) == \
        (before, discount, before - discount)

    # pay, confirm, cancel: the refund is what was paid, and the use comes back
    done = confirm(server, user.token, b["id"], pay(server, user.token, pm["order_id"]))
    assert done["status"] == "confirmed" and done["amount"] == before - discount
    cancelled = ok(post_cancel(server, user.token, b["id"]), 200)
    assert cancelled["status"] == "cancelled_refunded"
    assert [r["amount"] for r in cancelled["refunds"]] == [before - discount], cancelled
    assert promo_state(server, p["id"])["uses"] == 0

    # a booking without a code has no discount
    h2 = hold(server, user.token, v.show_id, seat_ids=v.ids("D1"))
    plain = ok(book_with(server, user.token, h2["hold_id"], None), 201)["booking"]
    assert (plain["amount_before_discount"], plain["discount"], plain["promo_code"],
            plain["amount"]) == (GRID_PRICES["regular"], 0, None, GRID_PRICES["regular"])


def test_fixed_amount_and_the_floor_of_one_minor_unit(server):
    user = cast(server).user
    v = Venue(server)
    fixed = promo(server, kind="amount", value=7000, currency="INR")
    huge = promo(server, kind="amount", value=10 ** 9, currency="INR")
    full = promo(server, kind="percent", value=100)
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("C3"))
    b = ok(book_with(server, user.token, h["hold_id"], fixed["code"]), 201)["booking"]
    assert (b["discount"], b["amount"]) == (7000, GRID_PRICES["regular"] - 7000)
    for code in (huge["code"], full["code"]):
        h = hold(server, user.token, v.show_id, seat_ids=v.ids("C4"))
        body = ok(book_with(server, user.token, h["hold_id"], code), 201)
        b = body["booking"]
        # never free: the test provider's minimum order is 1 minor unit
        assert (b["amount_before_discount"], b["discount"], b["amount"]) == \
            (GRID_PRICES["regular"], GRID_PRICES["regular"] - 1, 1), b
        assert body["payment"]["amount"] == 1
        done = confirm(server, user.token, b["id"], pay(server, user.token,
                                                         body["payment"]["order_id"]))
        assert done["status"] == "confirmed"
        assert ok(post_cancel(server, user.token, b["id"]))["refunds"][0]["amount"] == 1


def test_each_reason_a_code_does_not_apply(server):
    c = cast(server)
    v = Venue(server)
    other_theatre = create_theatre(server, c.other_owner.token)
    now = utcnow()
    codes = {
        "promo_code_inactive": promo(server),
        "promo_code_not_yet_valid": promo(server, valid_from=iso(now + timedelta(days=1))),
        "promo_code_expired": promo(server, valid_from=iso(now - timedelta(days=2)),
                                    valid_until=iso(now - timedelta(days=1))),
        "promo_code_out_of_scope": promo(server, theatre_id=other_theatre["id"]),
        "promo_code_below_minimum": promo(server, currency="INR", min_amount=10 ** 7),
        "promo_code_currency_mismatch": promo(server, kind="amount", value=100, currency="USD"),
    }
    ok(api("PATCH", server, f"/promo-codes/{codes['promo_code_inactive']['id']}",
           token=c.admin.token, json={"active": False}))
    used = promo(server, max_uses=1)
    per_user = promo(server, max_uses_per_user=1)
    user, other = make_users(server, 2, "promo-why")
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("E1"))
    for code_name, p in codes.items():
        err = assert_error(book_with(server, user.token, h["hold_id"], p["code"]), 422, code_name)
        assert err["details"]["promo_code"] == p["code"]
    assert_error(book_with(server, user.token, h["hold_id"], "NOSUCHCODE"), 422,
                 "promo_code_unknown")
    assert_error(book_with(server, user.token, h["hold_id"], "no such code"), 422,
                 "promo_code_unknown")
    r = post_booking(server, user.token, h["hold_id"], promo_code=7)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_type", describe(r)

    # used up / per-user: the first booking takes it, the next is refused
    ok(book_with(server, other.token, hold(server, other.token, v.show_id,
                                           seat_ids=v.ids("E2"))["hold_id"], used["code"]), 201)
    assert_error(book_with(server, user.token, h["hold_id"], used["code"]), 422,
                 "promo_code_used_up")
    ok(book_with(server, other.token, hold(server, other.token, v.show_id,
                                           seat_ids=v.ids("E3"))["hold_id"], per_user["code"]),
       201)
    h_other = hold(server, other.token, v.show_id, seat_ids=v.ids("E4"))
    assert_error(book_with(server, other.token, h_other["hold_id"], per_user["code"]), 422,
                 "promo_code_user_limit")
    # nothing changed: the holds still book, without a code or with one that applies
    assert ok(book_with(server, user.token, h["hold_id"], per_user["code"]), 201)
    assert ok(book_with(server, other.token, h_other["hold_id"], None), 201)
    for p in codes.values():
        assert promo_state(server, p["id"])["uses"] == 0


# --------------------------------------------------------------------------------------------
# Exact limits under concurrency


def race_bookings(targets, users, holds, code) -> list[requests.Response | str]:
    """Every user books its hold with code at the same moment; answers in user order."""
    out: list = [None] * len(users)
    barrier = threading.Barrier(len(users))

    def worker(i):
        s = session_for(users[i].token)
        ep = targets[i % len(targets)]
        barrier.wait(60)
        try:
            out[i] = s.post(f"{ep.api}/bookings",
                            json={"hold_id": holds[i], "promo_code": code}, timeout=60)
        except requests.RequestException as e:
            out[i] = repr(e)

    ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(users))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a booking thread hung"
    return out


def assert_exact(answers, n_ok: int, refusal: str) -> list[dict]:
    bad = [a if isinstance(a, str) else describe(a) for a in answers
           if isinstance(a, str) or a.status_code not in (201, 422)]
    assert not bad, bad[:5]
    won = [a.json()["booking"] for a in answers if a.status_code == 201]
    lost = [a.json()["error"]["code"] for a in answers if a.status_code == 422]
    assert len(won) == n_ok, (len(won), lost[:5])
    assert set(lost) == {refusal}, lost
    assert all(b["discount"] > 0 and b["promo_code"] for b in won), won
    return won


def fifty_holds(server_or_nginx, users, show: Venue) -> list[str]:
    seats = list(show.by_label)
    return [hold(server_or_nginx, u.token, show.show_id, seat_ids=[show.by_label[seats[i]]["id"]])
            ["hold_id"] for i, u in enumerate(users)]


def test_fifty_users_at_once_get_exactly_ten_uses(server):
    v = Venue(server, layout=GRID_LAYOUT, prices=GRID_PRICES)  # 60 seats
    users = make_users(server, 50, "promo-race")
    holds = fifty_holds(server, users, v)
    p = promo(server, max_uses=10)
    answers = race_bookings([server], users, holds, p["code"])
    assert_exact(answers, 10, "promo_code_used_up")
    assert promo_state(server, p["id"])["uses"] == 10


def test_one_user_racing_gets_exactly_the_per_user_limit(server):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token)
    movie = create_movie(server, c.admin.token, duration_minutes=60)
    shows = [create_show(server, movie["id"], hall["id"], future(days=2 + d, hour=18),
                         token=c.owner.token)["id"] for d in range(8)]
    (user,) = make_users(server, 1, "promo-self-race")
    seat = lambda sid: ok(api("GET", server, f"/shows/{sid}/seats"))["seats"][0]["id"]  # noqa
    holds = [hold(server, user.token, sid, seat_ids=[seat(sid)])["hold_id"] for sid in shows]
    p = promo(server, max_uses_per_user=2, max_uses=100)
    answers = race_bookings([server], [user] * len(holds), holds, p["code"])
    assert_exact(answers, 2, "promo_code_user_limit")
    assert promo_state(server, p["id"])["uses"] == 2


# --------------------------------------------------------------------------------------------
# Uses given back


@pytest.fixture(params=BACKENDS)
def quick_expiry(request, make_server):
    """A server whose unpaid bookings expire after 2 s (the expire job runs every 200 ms)."""
    return make_server(request.param, HOLD_TTL="2s", JOB_TICK="100ms",
                       JOB_INTERVAL_EXPIRE="200ms")


def wait_status(server, token, booking_id: str, status: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        b = get_booking(server, token, booking_id)
        if b["status"] == status or time.monotonic() > deadline:
            assert b["status"] == status, b
            return b
        time.sleep(0.1)


def uses_in_db(server, promo_id: str) -> int:
    return promo_state(server, promo_id)["uses"]


def test_cancel_and_expiry_give_the_use_back_once(quick_expiry):
    srv = quick_expiry
    v = Venue(srv, starts_at=future(days=3, hour=18))
    a, b_user, c_user = make_users(srv, 3, "promo-back")
    p = promo(srv, max_uses=2)

    # two uses held; a cancelled twice returns one use, not two
    first = ok(book_with(srv, a.token, hold(srv, a.token, v.show_id,
                                            seat_ids=v.ids("A1"))["hold_id"], p["code"]), 201)
    second = ok(book_with(srv, b_user.token, hold(srv, b_user.token, v.show_id,
                                                  seat_ids=v.ids("A2"))["hold_id"], p["code"]),
                201)
    assert uses_in_db(srv, p["id"]) == 2
    done = confirm(srv, a.token, first["booking"]["id"],
                   pay(srv, a.token, first["payment"]["order_id"]))
    assert done["status"] == "confirmed"
    assert uses_in_db(srv, p["id"]) == 2
    assert ok(post_cancel(srv, a.token, done["id"]))["status"] == "cancelled_refunded"
    assert uses_in_db(srv, p["id"]) == 1
    assert_error(post_cancel(srv, a.token, done["id"]), 409, "booking_not_confirmed")
    assert uses_in_db(srv, p["id"]) == 1

    # b's unpaid booking expires: its use comes back, once
    wait_status(srv, b_user.token, second["booking"]["id"], "expired")
    deadline = time.monotonic() + 10
    while uses_in_db(srv, p["id"]) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert uses_in_db(srv, p["id"]) == 0
    time.sleep(0.6)  # more runs of the expire job change nothing
    assert uses_in_db(srv, p["id"]) == 0

    # the uses are usable again, up to the limit
    for u, label in ((c_user, "B1"), (a, "B2")):
        ok(book_with(srv, u.token, hold(srv, u.token, v.show_id, seat_ids=v.ids(label))["hold_id"],
                     p["code"]), 201)
    assert uses_in_db(srv, p["id"]) == 2
    h = hold(srv, b_user.token, v.show_id, seat_ids=v.ids("B3"))
    assert_error(book_with(srv, b_user.token, h["hold_id"], p["code"]), 422, "promo_code_used_up")

    # b pays its expired booking late, while the code is used up: refunded, not confirmed,
    # and the code is still used exactly twice
    late = confirm(srv, b_user.token, second["booking"]["id"],
                   pay(srv, b_user.token, second["payment"]["order_id"]))
    assert late["status"] == "expired_refunded", late
    assert [r["amount"] for r in late["refunds"]] == [second["booking"]["amount"]]
    assert uses_in_db(srv, p["id"]) == 2


def test_late_payment_takes_the_use_again_when_there_is_one(quick_expiry):
    srv = quick_expiry
    v = Venue(srv, starts_at=future(days=3, hour=18))
    (u,) = make_users(srv, 1, "promo-late")
    p = promo(srv, max_uses=1)
    body = ok(book_with(srv, u.token, hold(srv, u.token, v.show_id,
                                           seat_ids=v.ids("C5"))["hold_id"], p["code"]), 201)
    wait_status(srv, u.token, body["booking"]["id"], "expired")
    deadline = time.monotonic() + 10
    while uses_in_db(srv, p["id"]) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert uses_in_db(srv, p["id"]) == 0
    done = confirm(srv, u.token, body["booking"]["id"],
                   pay(srv, u.token, body["payment"]["order_id"]))
    assert done["status"] == "confirmed" and done["discount"] > 0, done
    assert uses_in_db(srv, p["id"]) == 1


def test_late_payment_refunded_when_the_user_used_the_code_again(quick_expiry):
    srv = quick_expiry
    v = Venue(srv, starts_at=future(days=3, hour=18))
    (u,) = make_users(srv, 1, "promo-late-user")
    p = promo(srv, max_uses=5, max_uses_per_user=1)
    first = ok(book_with(srv, u.token, hold(srv, u.token, v.show_id,
                                            seat_ids=v.ids("D5"))["hold_id"], p["code"]), 201)
    wait_status(srv, u.token, first["booking"]["id"], "expired")
    deadline = time.monotonic() + 10
    while uses_in_db(srv, p["id"]) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    # the use came back, so the same user may use the code again ...
    ok(book_with(srv, u.token, hold(srv, u.token, v.show_id, seat_ids=v.ids("D6"))["hold_id"],
                 p["code"]), 201)
    assert uses_in_db(srv, p["id"]) == 1
    # ... and the first booking's late payment finds the user at their limit: refunded
    late = confirm(srv, u.token, first["booking"]["id"],
                   pay(srv, u.token, first["payment"]["order_id"]))
    assert late["status"] == "expired_refunded", late
    assert [r["amount"] for r in late["refunds"]] == [first["booking"]["amount"]]
    assert uses_in_db(srv, p["id"]) == 1  # the code's counter was not left incremented


# --------------------------------------------------------------------------------------------
# Razorpay: the order is for the discounted amount, never below 100 paise


def test_razorpay_order_has_the_discounted_amount(tmp_path_factory, ticketd_bin):
    from razorpay_standin import RazorpayStandin
    from test_razorpay import KEY_ID, KEY_SECRET, WEBHOOK_SECRET, checkout, rzp_env

    rzp = RazorpayStandin(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).start()
    srv = None
    try:
        tmp = tmp_path_factory.mktemp("promo-rzp")
        srv = Server("sqlite", _new_database("sqlite", tmp, None), tmp, **rzp_env(rzp))
        srv.start()
        user = cast(srv).user
        v = Venue(srv)
        p = promo(srv, kind="percent", value=20)
        full = promo(srv, kind="percent", value=100)
        body = ok(book_with(srv, user.token, hold(srv, user.token, v.show_id,
                                                  seat_ids=v.ids("A3"))["hold_id"], p["code"]),
                  201)
        b = body["booking"]
        want = GRID_PRICES["premium"] - GRID_PRICES["premium"] * 20 // 100
        assert b["amount"] == want and body["payment"]["amount"] == want
        order = rzp.order_by_receipt(b["id"])
        assert order["amount"] == want, order
        paid = rzp.pay(order["id"])
        done = ok(call("POST", srv, f"/bookings/{b['id']}/confirm", token=user.token,
                       json=checkout(rzp, order["id"], paid["id"])))
        assert done["status"] == "confirmed"
        refunded = ok(post_cancel(srv, user.token, b["id"]))
        assert [r["amount"] for r in refunded["refunds"]] == [want]
        assert sum(r["amount"] for r in rzp.refunds_of(paid["id"])) == want

        body = ok(book_with(srv, user.token, hold(srv, user.token, v.show_id,
                                                  seat_ids=v.ids("A4"))["hold_id"], full["code"]),
                  201)
        assert body["booking"]["amount"] == 100  # Razorpay's smallest order
        assert rzp.order_by_receipt(body["booking"]["id"])["amount"] == 100

        # a failed payment gives the use back; the capture that follows takes it again
        once = promo(srv, max_uses=1)
        body = ok(book_with(srv, user.token, hold(srv, user.token, v.show_id,
                                                  seat_ids=v.ids("A5"))["hold_id"], once["code"]),
                  201)
        b = body["booking"]
        hook = srv.api + "/payments/razorpay/webhook"
        failed = rzp.pay(b["order_id"], status="failed")
        r = rzp.send_webhook(hook, rzp.event("payment.failed", payment=failed))
        assert r.status_code == 200 and r.json()["outcome"] == "failed", r.text
        assert get_booking(srv, user.token, b["id"])["status"] == "failed"
        assert promo_state(srv, once["id"])["uses"] == 0
        r = rzp.send_webhook(hook, rzp.event("payment.failed", payment=failed))  # again: nothing
        assert promo_state(srv, once["id"])["uses"] == 0
        paid = rzp.pay(b["order_id"])
        assert paid["amount"] == b["amount"]
        r = rzp.send_webhook(hook, rzp.event("payment.captured", payment=paid))
        assert r.status_code == 200 and r.json()["outcome"] == "confirmed", r.text
        assert get_booking(srv, user.token, b["id"])["status"] == "confirmed"
        assert promo_state(srv, once["id"])["uses"] == 1
    finally:
        if srv is not None:
            srv.assert_clean_exit(srv.stop())
        rzp.stop()


# --------------------------------------------------------------------------------------------
# Three servers, one PostgreSQL


@scale_release_only
def test_fifty_users_across_three_servers_get_exactly_ten_uses(ticketd_bin):
    from cluster_helpers import running_cluster

    with running_cluster(3, RATE_LIMIT="off", HOLD_TTL="10m") as cl:
        v = Venue(cl.nginx, layout=GRID_LAYOUT, prices=GRID_PRICES)
        users = make_users(cl.nginx, 50, "promo-cluster")
        holds = fifty_holds(cl.nginx, users, v)
        p = promo(cl.nginx, max_uses=10)
        per_user = promo(cl.nginx, max_uses_per_user=1)
        # each server answers a third of the bookings directly
        answers = race_bookings(cl.servers, users, holds, p["code"])
        won = assert_exact(answers, 10, "promo_code_used_up")
        assert cl.psql(f"SELECT uses FROM promo_codes WHERE id = '{p['id']}'") == [["10"]]
        rows = cl.psql(f"SELECT count(*), sum(discount) FROM bookings WHERE promo_code_id = "
                       f"'{p['id']}' AND promo_held = 1")
        assert rows == [["10", str(sum(b["discount"] for b in won))]], rows

        # the refused bookings changed nothing: their holds still book, without a code
        lost = [i for i, a in enumerate(answers) if a.status_code == 422][:5]
        for i in lost:
            b = ok(book_with(cl.servers[i % 3], users[i].token, holds[i], None), 201)["booking"]
            assert b["discount"] == 0 and b["promo_code"] is None

        # one user racing on three servers with a per-user limit of 1: exactly one
        shows = [Venue(cl.nginx, layout=GRID_LAYOUT, prices=GRID_PRICES) for _ in range(3)]
        (one,) = make_users(cl.nginx, 1, "promo-cluster-self")
        self_holds = [hold(cl.nginx, one.token, s.show_id, seat_ids=s.ids("A1"))["hold_id"]
                      for s in shows]
        answers = race_bookings(cl.servers, [one] * 3, self_holds, per_user["code"])
        assert_exact(answers, 1, "promo_code_user_limit")
        assert cl.psql(f"SELECT uses FROM promo_code_users WHERE promo_code_id = "
                       f"'{per_user['id']}'") == [["1"]]
