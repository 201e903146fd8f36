"""Recommendations (issue 16; API.md "GraphQL and recommendations"; booking/reco.h).

GET /me/recommendations: item-to-item co-occurrence over confirmed bookings with a
because_you_booked reason, the popularity fallback for a user with no bookings, the city (the
query's, else the latest booking's), the window of shows soon, never a movie the user booked;
the answer comes from the `reco` job's tables, not from the request. Seats: a hall set to
"learned" (PATCH /halls/{id} seat_pick) makes best available prefer the seats that sold first
in its past shows, geometric is the default and the switch back, and the strict rule still
never leaves a single free seat.

The job is run with `ticketd jobs run-once reco` against the server's database (the server's
own scheduler runs it only every JOB_INTERVAL_RECO = 1 h). Every test uses its own cities, halls
and movies, so other tests' bookings on the shared server do not change its answers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from urllib.parse import urlparse

import pytest

from booking_helpers import api, buy, hold, make_users
from catalog_helpers import cast, create_hall, create_movie, create_show, create_theatre, \
    future, make_user, ok, uid
from conftest import TICKETD_BIN, assert_error, find_pg_bindir, server_env

LAYOUT = {"rows": [{"label": lbl, "seats": 10, "category": "regular"} for lbl in "ABCDEF"]}
PRICES = {"regular": 10000}


def run_reco(server, tmp_path) -> dict:
    proc = subprocess.run([str(TICKETD_BIN), "jobs", "run-once", "reco"],
                          env=server_env(server.database_url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def recommendations(server, token, **params) -> dict:
    body = ok(api("GET", server, "/me/recommendations", token=token, params=params), 200)
    assert set(body) == {"items", "city", "window_seconds"}, body
    for it in body["items"]:
        assert set(it) == {"movie", "score", "reason"}, it
        assert it["reason"] == "popular" or set(it["reason"]) == {"because_you_booked"}, it
    return body


def ids(body) -> list[str]:
    return [it["movie"]["id"] for it in body["items"]]


class Town:
    """A city of its own with one hall, and movies each with one show in the next days."""

    def __init__(self, server, n_movies: int, days: int = 1):
        c = cast(server)
        self.server = server
        self.city = f"Recoville-{uid()}"
        self.theatre = create_theatre(server, c.owner.token, city=self.city)
        self.hall = create_hall(server, self.theatre["id"], c.owner.token, LAYOUT)
        self.movies = [create_movie(server, c.admin.token, duration_minutes=90)
                       for _ in range(n_movies)]
        self.shows = [create_show(server, m["id"], self.hall["id"], future(days=days, hour=3 + 3 * i),
                                  token=c.owner.token, prices=PRICES)
                      for i, m in enumerate(self.movies)]
        self.next_seat = [0] * n_movies

    def seat(self, i: int) -> str:
        """A fresh seat id of movie i's show."""
        k = self.next_seat[i]
        self.next_seat[i] += 1
        return f"{self.hall['id']}_{'ABCDEF'[k // 10]}{k % 10 + 1}"

    def book(self, user, *movies: int) -> None:
        for i in movies:
            buy(self.server, user.token, self.shows[i]["id"], [self.seat(i)])


def test_cooccurrence_ranks_what_the_same_people_booked(server, tmp_path):
    town = Town(server, 4)
    a, b, c, d = (m["id"] for m in town.movies)
    fans = make_users(server, 6, "reco-fan")
    for u in fans[:3]:
        town.book(u, 0, 1)     # A and B together, three times
    town.book(fans[3], 0, 2)   # A and C once
    town.book(fans[4], 3)      # D alone, twice: popular but unrelated
    town.book(fans[5], 3)
    me = make_user(server, "reco-me")
    town.book(me, 0)
    before = recommendations(server, me.token)
    assert a not in ids(before)
    counts = run_reco(server, tmp_path)
    assert counts["movies"] >= 4 and counts["pairs"] >= 4, counts
    body = recommendations(server, me.token)
    assert body["city"] == town.city  # from my latest booking
    assert ids(body) == [b, c, d], body
    first, second, third = body["items"]
    assert first["reason"] == {"because_you_booked": [{"id": a, "title": town.movies[0]["title"]}]}
    assert second["reason"]["because_you_booked"][0]["id"] == a
    # cosine: |U(A) n U(B)| / sqrt(|U(A)| |U(B)|) = 3 / sqrt(5 * 3); for C: 1 / sqrt(5 * 1)
    assert first["score"] == pytest.approx(3 / (5 * 3) ** 0.5, abs=1e-5)
    assert second["score"] == pytest.approx(1 / 5 ** 0.5, abs=1e-5)
    assert third["reason"] == "popular" and third["score"] == 2
    assert all(it["movie"]["id"] != a for it in body["items"])  # never what I booked
    assert ids(recommendations(server, me.token, limit=1)) == [b]


def test_new_user_gets_the_most_booked_movies_of_the_city(server, tmp_path):
    town = Town(server, 3)
    fans = make_users(server, 3, "reco-pop")
    town.book(fans[0], 2)
    town.book(fans[1], 2, 1)
    town.book(fans[2], 2)
    run_reco(server, tmp_path)
    newcomer = make_user(server, "reco-new")
    body = recommendations(server, newcomer.token, city=town.city.upper())
    assert body["city"] == town.city.lower()
    m = [x["id"] for x in town.movies]
    assert ids(body) == [m[2], m[1], m[0]], body  # by bookers, then an unbooked one
    assert [it["reason"] for it in body["items"]] == ["popular"] * 3
    assert [it["score"] for it in body["items"]] == [3, 1, 0]


def test_city_and_window_restrict_the_candidates(server, tmp_path):
    here = Town(server, 2)
    there = Town(server, 1)
    later = Town(server, 1, days=12)  # beyond RECO_WINDOW (7 days)
    fan, me = make_users(server, 2, "reco-city")
    here.book(fan, 0, 1)
    there.book(fan, 0)
    later.book(fan, 0)
    here.book(me, 0)
    run_reco(server, tmp_path)
    body = recommendations(server, me.token)
    assert body["city"] == here.city
    assert ids(body) == [here.movies[1]["id"]], body
    elsewhere = recommendations(server, me.token, city=there.city)
    assert ids(elsewhere) == [there.movies[0]["id"]], elsewhere
    # the fan who booked my movie also booked this one: related, though in another city
    assert elsewhere["items"][0]["reason"]["because_you_booked"][0]["id"] == here.movies[0]["id"]
    assert recommendations(server, me.token, city=later.city)["items"] == []
    assert recommendations(server, me.token, city=f"Nowhere-{uid()}")["items"] == []


@pytest.mark.parametrize("params, parameter", [
    ({"limit": "0"}, "limit"), ({"limit": "51"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "5x"}, "limit"), ({"city": "x" * 101}, "city"), ({"cty": "Pune"}, "cty"),
    ({"city": ""}, "city"),
])
def test_bad_parameters_are_refused(server, params, parameter):
    me = cast(server).user
    r = api("GET", server, "/me/recommendations", token=me.token, params=params)
    err = assert_error(r, 400, "invalid_parameter")
    assert err["details"]["parameter"] == parameter, err


def test_recommendations_need_a_signed_in_user(server):
    r = api("GET", server, "/me/recommendations")
    assert_error(r, 401, "unauthorized")


# --------------------------------------------------------------------------------------------
# Seats


def hall_with_history(server, preferred: list[str], shows: int = 3):
    """A hall whose past shows sold `preferred` (labels) first, then a few others; a new show."""
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token, LAYOUT)
    movie = create_movie(server, c.admin.token, duration_minutes=90)
    users = make_users(server, 2, "reco-seat")
    for k in range(shows):
        s = create_show(server, movie["id"], hall["id"], future(days=2, hour=2 + 3 * k),
                        token=c.owner.token, prices=PRICES)
        buy(server, users[0].token, s["id"], [f"{hall['id']}_{lbl}" for lbl in preferred])
        buy(server, users[1].token, s["id"], [f"{hall['id']}_F{k + 1}"])
    fresh = create_show(server, movie["id"], hall["id"], future(days=3, hour=12),
                        token=c.owner.token, prices=PRICES)
    return hall, fresh


def set_pick(server, hall_id: str, mode) -> dict:
    return api("PATCH", server, f"/halls/{hall_id}", token=cast(server).owner.token,
               json={"seat_pick": mode})


def best(server, show_id: str, quantity: int) -> list[str]:
    u = make_user(server, "reco-picker")
    h = hold(server, u.token, show_id, quantity=quantity)
    api("DELETE", server, f"/holds/{h['hold_id']}", token=u.token)
    return sorted(s["label"] for s in h["seats"])


def test_learned_seats_are_preferred_and_switchable(server, tmp_path):
    hall, show = hall_with_history(server, ["A1", "A2"])
    assert ok(api("GET", server, f"/halls/{hall['id']}"))["seat_pick"] == "geometric"
    geometric = best(server, show["id"], 2)
    assert geometric == ["D5", "D6"], geometric  # the middle, two-thirds back
    counts = run_reco(server, tmp_path)
    assert counts["halls"] >= 1 and counts["seats"] >= 60, counts
    assert best(server, show["id"], 2) == geometric  # learned, but the hall is geometric
    body = ok(set_pick(server, hall["id"], "learned"), 200)
    assert body["seat_pick"] == "learned"
    assert best(server, show["id"], 2) == ["A1", "A2"]
    ok(set_pick(server, hall["id"], "geometric"), 200)
    assert best(server, show["id"], 2) == geometric


def test_learned_mode_without_history_is_geometric(server):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token, LAYOUT)
    movie = create_movie(server, c.admin.token, duration_minutes=90)
    show = create_show(server, movie["id"], hall["id"], future(days=4, hour=12),
                       token=c.owner.token, prices=PRICES)
    ok(set_pick(server, hall["id"], "learned"), 200)
    assert best(server, show["id"], 3) == ["D4", "D5", "D6"]


def test_learned_seats_never_leave_an_orphan(server, tmp_path):
    """A2-A3 sold first everywhere, but taking them would leave A1 alone: the strict rule
    still holds, so the pick is a block that leaves no single free seat."""
    hall, show = hall_with_history(server, ["A2", "A3"], shows=4)
    run_reco(server, tmp_path)
    ok(set_pick(server, hall["id"], "learned"), 200)
    picked = best(server, show["id"], 2)
    assert picked != ["A2", "A3"], picked
    row = picked[0][0]
    nums = sorted(int(lbl[1:]) for lbl in picked)
    assert all(lbl[0] == row for lbl in picked) and nums[1] == nums[0] + 1, picked
    # the show is empty: a block starting at 2 leaves seat 1 alone, one ending at 9 seat 10
    assert nums[0] != 2 and nums[1] != 9, picked
    assert row == "A", picked  # still the learned corner, not the geometric middle


@pytest.mark.parametrize("mode, status, code", [
    ("best", 422, "validation_failed"), ("LEARNED", 422, "validation_failed"),
    ("", 422, "validation_failed"), (3, 400, "invalid_type"), (["learned"], 400, "invalid_type"),
])
def test_bad_seat_pick_is_refused_and_changes_nothing(server, mode, status, code):
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token, LAYOUT)
    r = set_pick(server, hall["id"], mode)
    assert_error(r, status, code)
    assert ok(api("GET", server, f"/halls/{hall['id']}"))["seat_pick"] == "geometric"


# --------------------------------------------------------------------------------------------
# The job under the lease


def test_the_job_runs_on_one_server_at_a_time_and_fills_the_tables(backend, make_server):
    """Two servers on one database, the reco job every 300 ms: runs never overlap and are an
    interval apart whoever holds the lease, and a recommendation appears without run-once."""
    from test_jobs import assert_once_per_interval, runs_of, wait_for

    env = {"JOB_TICK": "100ms", "JOB_LEASE": "2s", "JOB_INTERVAL_RECO": "300ms"}
    first = make_server(backend, **env)
    second = make_server(backend, database_url=first.database_url, **env)
    town = Town(first, 2)
    fan, me = make_users(first, 2, "reco-lease")
    town.book(fan, 0, 1)
    town.book(me, 0)
    want = town.movies[1]["id"]

    def learned():  # "popular" until a run saw both bookings
        items = recommendations(second, me.token)["items"]
        return [it["movie"]["id"] for it in items] == [want] and items[0]["reason"] != "popular"

    assert wait_for(learned, timeout=15), recommendations(second, me.token)
    item = recommendations(first, me.token)["items"][0]
    assert item["reason"]["because_you_booked"][0]["id"] == town.movies[0]["id"]
    # At least three runs to compare (300 ms apart): waited for, not slept for, since a loaded
    # machine may tick late.
    assert wait_for(lambda: len(runs_of(first.database_url, "reco")) >= 3, timeout=10), \
        runs_of(first.database_url, "reco")
    runs = runs_of(first.database_url, "reco")
    assert_once_per_interval(runs, 300, "reco")
    assert all(r["error"] is None for r in runs if r["finished"] is not None), runs


def execute(database_url: str, sql: str) -> None:
    """Runs one statement (no parameters) on the server's database and commits it."""
    if database_url.startswith("sqlite://"):
        con = sqlite3.connect(database_url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
        return
    u = urlparse(database_url)
    subprocess.run([str(find_pg_bindir() / "psql"), "-h", u.hostname, "-p", str(u.port), "-U",
                    u.username or "postgres", "-d", u.path.lstrip("/"), "-X", "-v",
                    "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30,
                   check=True)


def test_a_hall_with_learned_scores_can_still_change_its_layout(server, tmp_path):
    """seat_prefs has a row for every seat of a hall that sold, sold or not; a new layout
    deletes the seats no claim ever named, so the scores must not hold them (a score of a seat
    that is gone is never read, and the next run drops it). The scores are written here as the
    job writes them (a layout change needs a hall without claims on future shows)."""
    c = cast(server)
    theatre = create_theatre(server, c.owner.token)
    hall = create_hall(server, theatre["id"], c.owner.token, LAYOUT)
    execute(server.database_url,
            "INSERT INTO seat_prefs (seat_id, hall_id, score_e6, shows) SELECT id, hall_id,"
            f" 500000, 1 FROM seats WHERE hall_id = '{hall['id']}'")
    smaller = {"rows": [{"label": lbl, "seats": 8, "category": "regular"} for lbl in "ABCDEF"]}
    body = ok(api("PATCH", server, f"/halls/{hall['id']}", token=c.owner.token,
                  json={"layout": smaller, "seat_pick": "learned"}), 200)
    assert body["seat_count"] == 48 and body["seat_pick"] == "learned"
    movie = create_movie(server, c.admin.token, duration_minutes=90)
    show = create_show(server, movie["id"], hall["id"], future(days=5, hour=12),
                       token=c.owner.token, prices=PRICES)
    assert best(server, show["id"], 2) == ["D4", "D5"]  # all scores equal: geometric
    run_reco(server, tmp_path)  # and the job runs over it
