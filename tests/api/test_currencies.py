"""
Currencies (API.md "Real time for people"): shows priced in 0-, 2- and 3-decimal currencies,
admin-set exchange rates (PUT/GET /admin/fx-rates), and GET /shows/{id}/seats?display_currency=
adding converted prices (ISO 4217 minor units, half-even) with the rates and their times; a
missing or stale rate is refused (422), never used; bad input changes nothing; the charged prices
and the plain cached seat map never change. Runs on SQLite and PostgreSQL (the `server` fixture).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from catalog_helpers import (
    DEFAULT_PRICES, cast, create_movie, create_show, future, iso, ok, venue,
)
from conftest import assert_error, call

EXP = {"INR": 2, "USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "BHD": 3, "OMR": 3, "GBP": 2}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def put_rate(server, currency, rate, as_of=None, token=None):
    token = token or cast(server).admin.token
    body = {"rate_per_inr": rate, "as_of": iso(as_of or now_utc())}
    return call("PUT", server, f"/admin/fx-rates/{currency}", token=token, json=body)


def rates(server) -> dict:
    items = ok(call("GET", server, "/admin/fx-rates", token=cast(server).admin.token))["items"]
    return {x["currency"]: x for x in items}


def expect(amount: int, frm: str, frm_rate: str, to: str, to_rate: str) -> int:
    """The oracle: exact decimal arithmetic, half-even into `to`'s minor units."""
    major = Decimal(amount) / (Decimal(10) ** EXP[frm])
    conv = major / Decimal(frm_rate) * Decimal(to_rate)
    minor = conv * (Decimal(10) ** EXP[to])
    return int(minor.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def new_show(server, currency="INR", prices=None, days=3):
    _, hall = venue(server)
    movie = create_movie(server)
    return create_show(server, movie["id"], hall["id"], future(days=days, hour=11),
                       prices=prices or DEFAULT_PRICES, currency=currency)


def seats(server, show_id, display=None):
    q = f"?display_currency={display}" if display is not None else ""
    return call("GET", server, f"/shows/{show_id}/seats{q}")


@pytest.mark.parametrize("currency,prices", [
    ("JPY", {"premium": 1800, "regular": 1200}),
    ("KWD", {"premium": 3655, "regular": 2250}),
    ("BHD", {"premium": 1, "regular": 999}),
])
def test_shows_in_zero_and_three_decimal_currencies(server, currency, prices):
    s = new_show(server, currency, prices)
    assert s["currency"] == currency
    body = ok(seats(server, s["id"]))
    assert body["currency"] == currency
    assert {x["category"]: x["price"] for x in body["seats"]} == prices


def test_put_and_list_rates(server):
    t = now_utc().replace(microsecond=0) - timedelta(minutes=5)
    r = ok(put_rate(server, "EUR", "0.0110000", t))
    assert r["currency"] == "EUR" and r["rate_per_inr"] == "0.011"  # canonical form
    assert r["as_of"].startswith(iso(t)[:19]) and r["stale"] is False
    assert r["set_by"] == cast(server).admin.id
    listed = rates(server)
    assert listed["EUR"]["rate_per_inr"] == "0.011"
    ok(put_rate(server, "EUR", "0.0109", t))  # replaces
    assert rates(server)["EUR"]["rate_per_inr"] == "0.0109"


@pytest.mark.parametrize("path,body,field", [
    ("XYZ", {"rate_per_inr": "1", "as_of": None}, "currency"),
    ("usd", {"rate_per_inr": "1", "as_of": None}, "currency"),
    ("INR", {"rate_per_inr": "1", "as_of": None}, "currency"),
    ("GBP", {"rate_per_inr": 0.0095, "as_of": None}, "rate_per_inr"),  # a float: never (400)
    ("GBP", {"rate_per_inr": "0", "as_of": None}, "rate_per_inr"),
    ("GBP", {"rate_per_inr": "-0.01", "as_of": None}, "rate_per_inr"),
    ("GBP", {"rate_per_inr": "1e-2", "as_of": None}, "rate_per_inr"),
    ("GBP", {"rate_per_inr": "0.0000000001", "as_of": None}, "rate_per_inr"),
    ("GBP", {"rate_per_inr": "", "as_of": None}, "rate_per_inr"),
    ("GBP", {"as_of": None}, "rate_per_inr"),
    ("GBP", {"rate_per_inr": "0.0095"}, "as_of"),
    ("GBP", {"rate_per_inr": "0.0095", "as_of": "yesterday"}, "as_of"),
    ("GBP", {"rate_per_inr": "0.0095", "as_of": "FUTURE"}, "as_of"),
])
def test_bad_rates_are_refused_and_change_nothing(server, path, body, field):
    body = dict(body)
    if "as_of" in body:
        body["as_of"] = {None: iso(now_utc()), "FUTURE": iso(now_utc() + timedelta(hours=2))} \
            .get(body["as_of"], body["as_of"])
    before = rates(server)
    r = call("PUT", server, f"/admin/fx-rates/{path}", token=cast(server).admin.token, json=body)
    if isinstance(body.get("rate_per_inr"), float):
        err = assert_error(r, 400, "invalid_type")
    else:
        err = assert_error(r, 422, "validation_failed")
    assert err["details"]["field"] == field, err
    assert rates(server) == before
    assert "GBP" not in before or before["GBP"]["rate_per_inr"] != "0.0095"


def test_rates_are_for_admins_only(server):
    c = cast(server)
    for actor in (c.owner, c.user):
        assert_error(put_rate(server, "USD", "0.5", token=actor.token), 403, "forbidden")
        assert_error(call("GET", server, "/admin/fx-rates", token=actor.token), 403, "forbidden")
    assert_error(call("PUT", server, "/admin/fx-rates/USD",
                      json={"rate_per_inr": "0.5", "as_of": iso(now_utc())}), 401,
                 "unauthorized")
    assert "USD" not in rates(server) or rates(server)["USD"]["rate_per_inr"] != "0.5"


def test_display_currency_on_the_seat_map_zero_two_three_decimals(server):
    ok(put_rate(server, "USD", "0.012034"))
    ok(put_rate(server, "JPY", "1.78"))
    ok(put_rate(server, "KWD", "0.003651"))
    s = new_show(server, "INR", {"premium": 35000, "regular": 20050})
    plain = ok(seats(server, s["id"]))
    for cur, rate in (("USD", "0.012034"), ("JPY", "1.78"), ("KWD", "0.003651")):
        body = ok(seats(server, s["id"], cur))
        d = body["display"]
        assert d["currency"] == cur
        assert d["prices"] == {k: expect(v, "INR", "1", cur, rate)
                               for k, v in {"premium": 35000, "regular": 20050}.items()}
        assert d["rates"][cur]["rate_per_inr"] == rate and "as_of" in d["rates"][cur]
        # The real (charged) prices are untouched.
        assert {k: v for k, v in body.items() if k != "display"} == plain
    # Hand-checked: Rs 350 at 1.78 = 623 yen; Rs 200.50 at 0.003651 = 0.73202... KWD = 732 fils;
    # Rs 350 at 0.012034 = 4.2119 USD = 421 cents.
    assert ok(seats(server, s["id"], "JPY"))["display"]["prices"]["premium"] == 623
    assert ok(seats(server, s["id"], "KWD"))["display"]["prices"]["regular"] == 732
    assert ok(seats(server, s["id"], "USD"))["display"]["prices"]["premium"] == 421


def test_display_between_two_foreign_currencies(server):
    ok(put_rate(server, "KWD", "0.003651"))
    ok(put_rate(server, "JPY", "1.78"))
    prices = {"premium": 3650, "regular": 2250}
    s = new_show(server, "KWD", prices)
    d = ok(seats(server, s["id"], "JPY"))["display"]
    assert d["prices"] == {k: expect(v, "KWD", "0.003651", "JPY", "1.78") for k, v in prices.items()}
    assert set(d["rates"]) == {"KWD", "JPY"}
    d = ok(seats(server, s["id"], "INR"))["display"]
    # 3.650 KWD / 0.003651 = 999.7261... INR = 99973 paise.
    assert d["prices"]["premium"] == 99973 == expect(3650, "KWD", "0.003651", "INR", "1")
    assert set(d["rates"]) == {"KWD"}
    # The show's own currency needs no rate.
    assert ok(seats(server, s["id"], "KWD"))["display"]["prices"] == prices


def test_missing_and_stale_rates_are_refused_never_used(server):
    s = new_show(server)
    err = assert_error(seats(server, s["id"], "OMR"), 422, "fx_rate_missing")
    assert err["details"]["currency"] == "OMR"
    ok(put_rate(server, "OMR", "0.0046", now_utc() - timedelta(hours=25)))
    err = assert_error(seats(server, s["id"], "OMR"), 422, "fx_rate_stale")
    assert err["details"]["currency"] == "OMR" and err["details"]["max_age_seconds"] == 86400
    assert rates(server)["OMR"]["stale"] is True
    ok(put_rate(server, "OMR", "0.0046", now_utc() - timedelta(hours=23)))
    assert ok(seats(server, s["id"], "OMR"))["display"]["prices"]["premium"] == \
        expect(35000, "INR", "1", "OMR", "0.0046")


@pytest.mark.parametrize("code", ["usd", "XYZ", "", "US", "USDX"])
def test_bad_display_currency_is_400(server, code):
    s = new_show(server)
    err = assert_error(seats(server, s["id"], code), 400, "invalid_parameter")
    assert err["details"]["parameter"] == "display_currency"


def test_plain_seat_map_bytes_and_cache_unchanged_by_display_requests(server):
    ok(put_rate(server, "USD", "0.012034"))
    s = new_show(server)
    first = seats(server, s["id"])
    assert first.status_code == 200
    for _ in range(2):
        r = seats(server, s["id"], "USD")
        assert r.status_code == 200 and r.headers.get("X-Cache") != "hit", r.headers
    again = seats(server, s["id"])
    assert again.content == first.content
    assert again.headers.get("ETag") == first.headers.get("ETag")
    # A new rate shows at once: display answers are never served from the cache.
    ok(put_rate(server, "USD", "0.02"))
    assert ok(seats(server, s["id"], "USD"))["display"]["prices"]["premium"] == 700


def test_display_currency_on_a_booking(server):
    ok(put_rate(server, "JPY", "1.78"))
    s = new_show(server, "INR", {"premium": 35050, "regular": 20000})
    sm = {x["label"]: x["id"] for x in ok(seats(server, s["id"]))["seats"]}
    user = cast(server).user
    h = ok(call("POST", server, f"/shows/{s['id']}/holds", token=user.token,
                json={"seat_ids": [sm["A1"], sm["B3"]]}), 201)
    b = ok(call("POST", server, "/bookings", token=user.token, json={"hold_id": h["hold_id"]}),
           201)["booking"]
    plain = ok(call("GET", server, f"/bookings/{b['id']}", token=user.token))
    got = ok(call("GET", server, f"/bookings/{b['id']}?display_currency=JPY", token=user.token))
    d = got.pop("display")
    assert got == plain and plain["amount"] == 55050 and plain["currency"] == "INR"
    # Rs 550.50 at 1.78 = 979.89 yen -> 980.
    assert d["currency"] == "JPY" and d["amount"] == 980 == expect(55050, "INR", "1", "JPY", "1.78")
    assert d["discount"] == 0 and d["amount_before_discount"] == 980
    assert d["rates"]["JPY"]["rate_per_inr"] == "1.78"
    assert_error(call("GET", server, f"/bookings/{b['id']}?display_currency=ZZZ",
                      token=user.token), 400, "invalid_parameter")
    assert_error(call("GET", server, f"/bookings/{b['id']}?display_currency=BHD",
                      token=user.token), 422, "fx_rate_missing")


def test_setting_a_rate_is_audited(server):
    ok(put_rate(server, "SGD", "0.0161"))
    rows = ok(call("GET", server, "/admin/audit?action=fx-rate.replace&target_id=SGD",
                   token=cast(server).admin.token))["items"]
    assert rows and rows[0]["target_id"] == "SGD" and rows[0]["status"] == 200, rows
    assert rows[0]["actor_id"] == cast(server).admin.id
