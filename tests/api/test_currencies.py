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
    DEFAULT_PRICES, cast, create_movie, create_show, future, iso, ok, venue, walk,
)
from conftest import assert_error, call

EXP = {"INR": 2, "USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "BHD": 3, "OMR": 3, "GBP": 2,
       "AED": 2}


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


# --------------------------------------------------------------------------------------------
# Show lists: GET /shows?display_currency= (each show's price range, converted)


def show_list(server, display=None, **params):
    if display is not None:
        params["display_currency"] = display
    return call("GET", server, "/shows", params=params)


def hall_with_shows(server, priced):
    """One new hall with one show per (currency, prices) of priced, a day apart: (theatre,
    hall, movie, shows in start order)."""
    theatre, hall = venue(server)
    movie = create_movie(server)
    shows = [create_show(server, movie["id"], hall["id"], future(days=3 + i, hour=11),
                         prices=prices, currency=cur)
             for i, (cur, prices) in enumerate(priced)]
    return theatre, hall, movie, shows


LIST_PRICED = [("INR", {"premium": 35000, "regular": 20050}),
               ("JPY", {"premium": 1800, "regular": 1201}),
               ("KWD", {"premium": 3655, "regular": 2250})]
LIST_RATES = {"INR": "1", "USD": "0.012034", "JPY": "1.78", "KWD": "0.003651"}


def test_display_currency_on_show_lists_zero_two_three_decimals(server):
    for cur in ("USD", "JPY", "KWD"):
        ok(put_rate(server, cur, LIST_RATES[cur]))
    theatre, hall, movie, shows = hall_with_shows(server, LIST_PRICED)
    plain = ok(show_list(server, hall_id=hall["id"]))["items"]
    assert [s["id"] for s in plain] == [s["id"] for s in shows]
    assert all("price_range" not in s and "display" not in s for s in plain)
    for to in ("USD", "JPY", "KWD", "INR"):
        items = ok(show_list(server, to, hall_id=hall["id"]))["items"]
        assert len(items) == 3
        for item, before, (frm, prices) in zip(items, plain, LIST_PRICED):
            lo, hi = min(prices.values()), max(prices.values())
            # The real range, in the show's own currency and minor units.
            assert item.pop("price_range") == {"min": lo, "max": hi}
            d = item.pop("display")
            assert item == before  # everything else as without the parameter
            assert d["currency"] == to
            assert d["price_range"] == {
                "min": expect(lo, frm, LIST_RATES[frm], to, LIST_RATES[to]),
                "max": expect(hi, frm, LIST_RATES[frm], to, LIST_RATES[to])}, (frm, to, d)
            used = {c for c in (frm, to) if c != "INR"} if frm != to else set()
            assert set(d["rates"]) == used, (frm, to, d)
            for c in used:
                assert d["rates"][c]["rate_per_inr"] == LIST_RATES[c] and "as_of" in d["rates"][c]
    # Hand-checked, one per rounding: Rs 200.50 at 1.78 = 356.89 yen -> 357 (0 decimals);
    # 1201 yen / 1.78 * 0.012034 = 8.1195... USD -> 812 cents (2); Rs 350 at 0.003651 =
    # 1.27785 KWD -> 1278 fils (3).
    items = {to: ok(show_list(server, to, hall_id=hall["id"]))["items"] for to in ("JPY", "USD",
                                                                                     "KWD")}
    assert items["JPY"][0]["display"]["price_range"]["min"] == 357
    assert items["USD"][1]["display"]["price_range"]["min"] == 812
    assert items["KWD"][0]["display"]["price_range"]["max"] == 1278
    # The other show lists (a movie's, a theatre's) are the same route and say the same.
    for params in ({"movie_id": movie["id"]}, {"theatre_id": theatre["id"]}):
        got = ok(show_list(server, "JPY", **params))["items"]
        assert [(s["id"], s["display"]) for s in got] == \
            [(s["id"], s["display"]) for s in items["JPY"]]


def test_show_list_display_pages_like_the_plain_list(server):
    ok(put_rate(server, "USD", LIST_RATES["USD"]))
    ok(put_rate(server, "JPY", LIST_RATES["JPY"]))
    _, hall, _, shows = hall_with_shows(server, LIST_PRICED)
    got, cursor = [], None
    while True:
        params = {"hall_id": hall["id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = ok(show_list(server, "USD", **params))
        got += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [s["id"] for s in got] == [s["id"] for s in shows]
    assert all(s["display"]["currency"] == "USD" for s in got)
    # The same cursor walk without display_currency is unchanged.
    assert [s["id"] for s in walk(server, "/shows", 2, hall_id=hall["id"])[0]] == \
        [s["id"] for s in shows]


def test_show_list_missing_and_stale_rates_are_refused_never_used(server):
    # QAR and AED are set by no other test: QAR never, AED only here.
    _, hall, _, _ = hall_with_shows(server, [("INR", None), ("AED", {"premium": 5000,
                                                                      "regular": 3000})])
    err = assert_error(show_list(server, "QAR", hall_id=hall["id"]), 422, "fx_rate_missing")
    assert err["details"]["currency"] == "QAR"
    ok(put_rate(server, "USD", LIST_RATES["USD"]))
    # The AED show's own rate is missing: the whole list is refused, none of it guessed.
    err = assert_error(show_list(server, "USD", hall_id=hall["id"]), 422, "fx_rate_missing")
    assert err["details"]["currency"] == "AED"
    ok(put_rate(server, "AED", "0.0441", now_utc() - timedelta(hours=25)))
    err = assert_error(show_list(server, "USD", hall_id=hall["id"]), 422, "fx_rate_stale")
    assert err["details"]["currency"] == "AED" and err["details"]["max_age_seconds"] == 86400
    # ... and stale as the target too.
    err = assert_error(show_list(server, "AED", hall_id=hall["id"]), 422, "fx_rate_stale")
    assert err["details"]["currency"] == "AED"
    # The plain list never needs a rate.
    assert len(ok(show_list(server, hall_id=hall["id"]))["items"]) == 2
    ok(put_rate(server, "AED", "0.0441", now_utc() - timedelta(hours=23)))
    items = ok(show_list(server, "USD", hall_id=hall["id"]))["items"]
    assert items[1]["display"]["price_range"]["max"] == expect(5000, "AED", "0.0441", "USD",
                                                               LIST_RATES["USD"])


@pytest.mark.parametrize("code", ["usd", "XYZ", "", "US", "USDX"])
def test_show_list_bad_display_currency_is_400(server, code):
    _, hall, _, _ = hall_with_shows(server, [("INR", None)])
    for params in ({"hall_id": hall["id"]}, {"movie_id": "mov_nope"}):  # with or without shows
        err = assert_error(show_list(server, code, **params), 400, "invalid_parameter")
        assert err["details"]["parameter"] == "display_currency"


def test_show_list_cache_keeps_currencies_apart_and_follows_rates(server):
    ok(put_rate(server, "USD", "0.012034"))
    ok(put_rate(server, "JPY", "1.78"))
    _, hall, _, _ = hall_with_shows(server, [("INR", {"premium": 35000, "regular": 20000})])
    first = show_list(server, hall_id=hall["id"])
    assert first.status_code == 200
    for _ in range(2):  # alternating currencies never answer one with the other's figures
        for to, want in (("USD", 421), ("JPY", 623)):
            r = show_list(server, to, hall_id=hall["id"])
            assert r.status_code == 200 and r.headers.get("X-Cache") != "hit", r.headers
            assert r.json()["items"][0]["display"]["price_range"]["max"] == want
    again = show_list(server, hall_id=hall["id"])
    assert again.content == first.content
    assert again.headers.get("ETag") == first.headers.get("ETag")
    # A new rate shows at once: converted lists are never served from the cache.
    ok(put_rate(server, "USD", "0.02"))
    assert ok(show_list(server, "USD", hall_id=hall["id"]))["items"][0]["display"][
        "price_range"] == {"min": 400, "max": 700}
