"""Shows: creation rules (prices per category, times, overlap incl. the cleaning buffer),
listing filters (movie, city, theatre, the theatre's local date), cancel, and concurrent
creation of overlapping shows."""

import threading
from datetime import timedelta

import pytest

from catalog_helpers import (
    DEFAULT_PRICES, RFC3339_UTC_MS, SHOW_BUFFER, cast, create_hall, create_movie, create_show,
    field_error, future, iso, list_ids, ok, param_error, parse_time, post_show, show_body, uid,
    utcnow, venue, walk,
)
from conftest import assert_error, call

SHOW_KEYS = {"id", "movie_id", "movie_title", "hall_id", "hall_name", "theatre_id",
             "theatre_name", "city", "starts_at", "ends_at", "currency", "status", "created_at"}


@pytest.fixture
def setting(server):
    """A fresh theatre + hall of the cast's owner and an active 120-minute movie."""
    theatre, hall = venue(server)
    movie = create_movie(server, duration_minutes=120)
    return theatre, hall, movie


def test_create_show(server, setting):
    theatre, hall, movie = setting
    start = future(days=3, hour=13, minute=30)
    r = post_show(server, cast(server).owner.token, movie["id"], hall["id"], start,
                  prices={"premium": 45000, "regular": 0}, currency="INR")
    s = ok(r, 201)
    assert set(s) == SHOW_KEYS | {"prices"}
    assert s["id"].startswith("shw_")
    assert (s["movie_id"], s["movie_title"]) == (movie["id"], movie["title"])
    assert (s["hall_id"], s["hall_name"]) == (hall["id"], hall["name"])
    assert (s["theatre_id"], s["theatre_name"], s["city"]) == (theatre["id"], theatre["name"],
                                                                theatre["city"])
    assert RFC3339_UTC_MS.match(s["starts_at"]) and RFC3339_UTC_MS.match(s["ends_at"])
    assert parse_time(s["starts_at"]) == start
    assert parse_time(s["ends_at"]) == start + timedelta(minutes=120) + SHOW_BUFFER
    assert s["prices"] == {"premium": 45000, "regular": 0}
    assert s["currency"] == "INR"
    assert s["status"] == "scheduled"
    got = ok(call("GET", server, f"/shows/{s['id']}"), 200)
    assert got == s


def test_starts_at_with_offset_and_fraction_is_normalised(server, setting):
    _, hall, movie = setting
    start = future(days=3, hour=12)
    local = (start + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.250+05:30")
    s = create_show(server, movie["id"], hall["id"], local)
    assert s["starts_at"] == iso(start).replace("Z", ".250Z")


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP"])
def test_other_supported_currencies(server, setting, currency):
    _, hall, movie = setting
    s = create_show(server, movie["id"], hall["id"], future(days=4), currency=currency)
    assert s["currency"] == currency


def test_get_unknown_show_is_404(server):
    assert_error(call("GET", server, "/shows/shw_nope"), 404, "not_found")


# --------------------------------------------------------------------------------------------
# Validation


def test_missing_price_for_a_category(server, setting):
    _, hall, movie = setting
    r = post_show(server, cast(server).owner.token, movie["id"], hall["id"], future(days=3),
                  prices={"premium": 30000})
    err = field_error(r, 422, "validation_failed", "prices.regular")
    assert err["details"]["reason"]


def test_price_for_an_unknown_category(server, setting):
    _, hall, movie = setting
    r = post_show(server, cast(server).owner.token, movie["id"], hall["id"], future(days=3),
                  prices={**DEFAULT_PRICES, "imax": 90000})
    field_error(r, 422, "validation_failed", "prices.imax")


@pytest.mark.parametrize("prices,status,code,field", [
    ({"premium": -1, "regular": 100}, 422, "validation_failed", "prices.premium"),
    ({"premium": 100000001, "regular": 100}, 422, "validation_failed", "prices.premium"),
    ({"premium": "100", "regular": 100}, 400, "invalid_type", "prices.premium"),
    ({"premium": 100.5, "regular": 100}, 400, "invalid_type", "prices.premium"),
    ({"premium": None, "regular": 100}, 400, "invalid_type", "prices.premium"),
    ({}, 422, "validation_failed", "prices.premium"),
])
def test_bad_prices(server, setting, prices, status, code, field):
    _, hall, movie = setting
    r = post_show(server, cast(server).owner.token, movie["id"], hall["id"], future(days=3),
                  prices=prices)
    field_error(r, status, code, field)


def test_largest_price_accepted(server, setting):
    _, hall, movie = setting
    s = create_show(server, movie["id"], hall["id"], future(days=3),
                    prices={"premium": 100000000, "regular": 0})
    assert s["prices"]["premium"] == 100000000


@pytest.mark.parametrize("mutate,status,code,field", [
    (lambda b: b.update(currency="XYZ"), 422, "validation_failed", "currency"),
    (lambda b: b.update(currency="inr"), 422, "validation_failed", "currency"),
    (lambda b: b.update(currency="RUPEE"), 422, "validation_failed", "currency"),
    (lambda b: b.update(currency=356), 400, "invalid_type", "currency"),
    (lambda b: b.pop("currency"), 422, "validation_failed", "currency"),
    (lambda b: b.update(starts_at=iso(utcnow() - timedelta(minutes=5))), 422,
     "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at=iso(utcnow() - timedelta(days=400))), 422,
     "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at=iso(utcnow() + timedelta(days=800))), 422,
     "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at="tomorrow 7pm"), 422, "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at="2026-12-40T10:00:00Z"), 422, "validation_failed",
     "starts_at"),
    (lambda b: b.update(starts_at="2026-12-10T25:00:00Z"), 422, "validation_failed",
     "starts_at"),
    (lambda b: b.update(starts_at="2026-12-10"), 422, "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at=""), 422, "validation_failed", "starts_at"),
    (lambda b: b.update(starts_at=1893456000000), 400, "invalid_type", "starts_at"),
    (lambda b: b.pop("starts_at"), 422, "validation_failed", "starts_at"),
    (lambda b: b.update(hall_id="hal_doesnotexist"), 422, "validation_failed", "hall_id"),
    (lambda b: b.pop("hall_id"), 422, "validation_failed", "hall_id"),
    (lambda b: b.update(hall_id=5), 400, "invalid_type", "hall_id"),
    (lambda b: b.update(movie_id="mov_doesnotexist"), 422, "validation_failed", "movie_id"),
    (lambda b: b.pop("movie_id"), 422, "validation_failed", "movie_id"),
    (lambda b: b.update(prices=[100]), 400, "invalid_type", "prices"),
    (lambda b: b.update(prices="100"), 400, "invalid_type", "prices"),
    (lambda b: b.pop("prices"), 422, "validation_failed", "prices"),
], ids=["XYZ", "lower-inr", "RUPEE", "currency-int", "no-currency", "past-5min", "past-400d",
        "too-far-ahead", "words", "day-40", "hour-25", "date-only", "empty", "starts-int",
        "no-starts", "unknown-hall", "no-hall", "hall-int", "unknown-movie", "no-movie",
        "prices-array", "prices-string", "no-prices"])
def test_show_validation(server, setting, mutate, status, code, field):
    _, hall, movie = setting
    body = show_body(movie["id"], hall["id"], future(days=3))
    mutate(body)
    r = call("POST", server, "/shows", token=cast(server).owner.token, json=body)
    field_error(r, status, code, field)
    assert list_ids(server, "/shows", hall_id=hall["id"]) == []


def test_inactive_movie_is_422(server, setting):
    c = cast(server)
    _, hall, movie = setting
    ok(call("POST", server, f"/movies/{movie['id']}/toggle-status", token=c.admin.token), 200)
    r = post_show(server, c.owner.token, movie["id"], hall["id"], future(days=3))
    field_error(r, 422, "validation_failed", "movie_id")
    ok(call("POST", server, f"/movies/{movie['id']}/toggle-status", token=c.admin.token), 200)
    ok(post_show(server, c.owner.token, movie["id"], hall["id"], future(days=3)), 201)


def test_another_owners_hall_is_403(server, setting):
    c = cast(server)
    _, hall, movie = setting
    r = post_show(server, c.other_owner.token, movie["id"], hall["id"], future(days=3))
    assert_error(r, 403, "forbidden")
    assert list_ids(server, "/shows", hall_id=hall["id"]) == []


def test_admin_creates_show_in_owners_hall(server, setting):
    c = cast(server)
    _, hall, movie = setting
    s = ok(post_show(server, c.admin.token, movie["id"], hall["id"], future(days=3)), 201)
    assert s["hall_id"] == hall["id"]


# --------------------------------------------------------------------------------------------
# Overlap and the cleaning buffer


def test_overlap_rules(server, setting):
    c = cast(server)
    _, hall, movie = setting  # 120 minutes -> occupies [start, start + 135 min)
    t0 = future(days=5, hour=10)
    first = create_show(server, movie["id"], hall["id"], t0)
    assert parse_time(first["ends_at"]) == t0 + timedelta(minutes=135)

    def post(start):
        return post_show(server, c.owner.token, movie["id"], hall["id"], start)

    for start in (t0,                                   # same time
                  t0 + timedelta(minutes=60),           # inside the film
                  t0 + timedelta(minutes=125),          # inside the cleaning buffer
                  t0 + timedelta(minutes=134),          # one minute before the buffer ends
                  t0 - timedelta(minutes=60),           # ends inside the first one
                  t0 - timedelta(minutes=134)):         # its own buffer overlaps by a minute
        r = post(start)
        assert_error(r, 409, "show_overlap")
    # back to back: exactly at the end of the buffer, and ending exactly at t0
    after = ok(post(t0 + timedelta(minutes=135)), 201)
    before = ok(post(t0 - timedelta(minutes=135)), 201)
    assert sorted(list_ids(server, "/shows", hall_id=hall["id"])) == \
        sorted([first["id"], after["id"], before["id"]])


def test_same_time_in_another_hall_is_fine(server, setting):
    theatre, hall, movie = setting
    other = create_hall(server, theatre["id"])
    t0 = future(days=5, hour=18)
    create_show(server, movie["id"], hall["id"], t0)
    create_show(server, movie["id"], other["id"], t0)


def test_cancelled_show_frees_its_slot(server, setting):
    c = cast(server)
    _, hall, movie = setting
    t0 = future(days=6, hour=18)
    first = create_show(server, movie["id"], hall["id"], t0)
    assert_error(post_show(server, c.owner.token, movie["id"], hall["id"],
                           t0 + timedelta(minutes=30)), 409, "show_overlap")
    ok(call("POST", server, f"/shows/{first['id']}/cancel", token=c.owner.token), 200)
    ok(post_show(server, c.owner.token, movie["id"], hall["id"], t0 + timedelta(minutes=30)), 201)


# --------------------------------------------------------------------------------------------
# Lists


def test_list_by_movie_city_theatre(server):
    c = cast(server)
    city = f"Kochi-{uid()}"
    t1, h1 = venue(server, city=city)
    t2, h2 = venue(server, token=c.other_owner.token, city=city.upper())
    m1, m2 = create_movie(server), create_movie(server)
    a = create_show(server, m1["id"], h1["id"], future(days=2, hour=9))
    b = create_show(server, m2["id"], h1["id"], future(days=2, hour=15))
    d = create_show(server, m1["id"], h2["id"], future(days=3, hour=9), token=c.other_owner.token)
    assert list_ids(server, "/shows", movie_id=m1["id"]) == [a["id"], d["id"]]  # by start time
    assert list_ids(server, "/shows", movie_id=m2["id"]) == [b["id"]]
    assert list_ids(server, "/shows", city=city) == [a["id"], b["id"], d["id"]]
    assert list_ids(server, "/shows", city=city.lower()) == [a["id"], b["id"], d["id"]]
    assert list_ids(server, "/shows", theatre_id=t1["id"]) == [a["id"], b["id"]]
    assert list_ids(server, "/shows", theatre_id=t2["id"]) == [d["id"]]
    assert list_ids(server, "/shows", movie_id=m1["id"], theatre_id=t1["id"]) == [a["id"]]
    assert list_ids(server, "/shows", movie_id=m1["id"], city=city) == [a["id"], d["id"]]
    assert list_ids(server, "/shows", movie_id="mov_nope") == []
    body = ok(call("GET", server, "/shows", params={"theatre_id": t1["id"]}), 200)
    assert all(set(i) <= SHOW_KEYS | {"prices"} and SHOW_KEYS <= set(i) for i in body["items"])


def test_date_filter_uses_the_theatres_local_day(server):
    ist, ist_hall = venue(server, utc_offset_minutes=330)
    ist_hall2 = create_hall(server, ist["id"])
    est, est_hall = venue(server, utc_offset_minutes=-300)
    movie = create_movie(server, duration_minutes=30)
    d = future(days=10, hour=0)
    day = d.date()
    next_day = day + timedelta(days=1)
    prev_day = day - timedelta(days=1)
    morning = create_show(server, movie["id"], ist_hall["id"], d.replace(hour=10))  # 15:30 IST
    late = create_show(server, movie["id"], ist_hall["id"], d.replace(hour=20))  # 01:30 next day
    before_mid = create_show(server, movie["id"], ist_hall2["id"],
                             d.replace(hour=18, minute=29))  # 23:59 IST
    at_mid = create_show(server, movie["id"], ist_hall["id"],
                         d.replace(hour=18, minute=30))  # 00:00 IST next day
    est_eve = create_show(server, movie["id"], est_hall["id"],
                          d + timedelta(days=1, hours=2))  # 21:00 on `day` in UTC-5
    est_early = create_show(server, movie["id"], est_hall["id"],
                            d.replace(hour=4, minute=59))  # 23:59 on the day before

    def on(date, theatre):
        return list_ids(server, "/shows", date=date.isoformat(), theatre_id=theatre["id"])

    assert on(day, ist) == [morning["id"], before_mid["id"]]
    assert on(next_day, ist) == [at_mid["id"], late["id"]]
    assert on(prev_day, ist) == []
    assert on(day, est) == [est_eve["id"]]
    assert on(prev_day, est) == [est_early["id"]]
    assert on(next_day, est) == []


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "tomorrow", "2026-1-5",
                                   "20261205", ""])
def test_bad_date_is_400(server, value):
    param_error(call("GET", server, "/shows", params={"date": value}), "date")


@pytest.mark.parametrize("params,parameter", [
    ({"limit": "0"}, "limit"), ({"limit": "1000"}, "limit"), ({"cursor": "nope!"}, "cursor"),
    ({"cursor": "YWJj"}, "cursor"),  # base64url of "abc": not a show cursor
])
def test_show_list_bad_parameters(server, params, parameter):
    param_error(call("GET", server, "/shows", params=params), parameter)


def test_show_pagination_walks_every_show_once(server):
    theatre, hall = venue(server)
    hall2 = create_hall(server, theatre["id"])
    movie = create_movie(server, duration_minutes=60)
    made = []
    for i in range(4):  # two halls, same start times: ties broken by id
        t = future(days=7, hour=8 + 2 * i)
        made.append(create_show(server, movie["id"], hall["id"], t)["id"])
        made.append(create_show(server, movie["id"], hall2["id"], t)["id"])
    items, pages = walk(server, "/shows", 3, theatre_id=theatre["id"])
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 8 and set(ids) == set(made)
    assert pages == 3
    starts = [i["starts_at"] for i in items]
    assert starts == sorted(starts)


# --------------------------------------------------------------------------------------------
# Cancel


def test_cancel_and_cancel_again(server, setting):
    c = cast(server)
    theatre, hall, movie = setting
    s = create_show(server, movie["id"], hall["id"], future(days=2))
    keep = create_show(server, movie["id"], hall["id"], future(days=2, hour=14))  # 19:30 IST
    r = ok(call("POST", server, f"/shows/{s['id']}/cancel", token=c.owner.token), 200)
    assert r["status"] == "cancelled" and r["id"] == s["id"]
    assert r["prices"] == s["prices"]
    assert ok(call("GET", server, f"/shows/{s['id']}"), 200)["status"] == "cancelled"
    assert_error(call("POST", server, f"/shows/{s['id']}/cancel", token=c.owner.token), 409,
                 "show_cancelled")
    assert_error(call("POST", server, f"/shows/{s['id']}/cancel", token=c.admin.token), 409,
                 "show_cancelled")
    for params in ({"movie_id": movie["id"]}, {"theatre_id": theatre["id"]},
                   {"city": theatre["city"]}, {"hall_id": hall["id"]},
                   {"theatre_id": theatre["id"], "date": future(days=2).date().isoformat()}):
        assert list_ids(server, "/shows", **params) == [keep["id"]], params


def test_cancel_unknown_show_is_404(server):
    c = cast(server)
    for token in (c.owner.token, c.admin.token):
        assert_error(call("POST", server, "/shows/shw_nope/cancel", token=token), 404,
                     "not_found")


# --------------------------------------------------------------------------------------------
# Concurrency

ROUNDS = 20


@pytest.mark.parametrize("contenders", [2, 4])
def test_concurrent_overlapping_creates_one_wins(server, contenders):
    """The admin and the owner (taking turns) create overlapping shows in one hall at the same
    instant, 20 times: each round exactly one 201 and the rest 409 show_overlap, never a 500."""
    c = cast(server)
    tokens = [c.admin.token, c.owner.token] * (contenders // 2)
    _, hall = venue(server)
    movie = create_movie(server, duration_minutes=90)  # occupies 105 minutes
    base = future(days=30, hour=0)
    winners = []
    for rnd in range(ROUNDS):
        t0 = base + timedelta(hours=4 * rnd)
        # all within 105 minutes of each other, so any two overlap
        jobs = [(tok, t0 + timedelta(minutes=(i * 20 + rnd * 7) % 100))
                for i, tok in enumerate(tokens)]
        barrier = threading.Barrier(len(jobs))
        results = [None] * len(jobs)

        def run(i, token, start):
            body = show_body(movie["id"], hall["id"], start)
            barrier.wait(5)
            try:
                results[i] = call("POST", server, "/shows", token=token, json=body)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=run, args=(i, tok, st))
                   for i, (tok, st) in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(r.status_code if hasattr(r, "status_code") else repr(r)
                          for r in results)
        assert statuses == [201] + [409] * (contenders - 1), \
            f"round {rnd}: {[getattr(r, 'text', r) for r in results]}"
        for r in results:
            if r.status_code == 409:
                assert_error(r, 409, "show_overlap")
            else:
                winners.append(ok(r, 201))
    listed, _ = walk(server, "/shows", 100, hall_id=hall["id"])
    assert sorted(s["id"] for s in listed) == sorted(w["id"] for w in winners)
    spans = sorted((parse_time(s["starts_at"]), parse_time(s["ends_at"])) for s in listed)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start, spans
