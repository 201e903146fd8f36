"""Contention: many buyers at once, on SQLite and PostgreSQL.

- 50 users hold the same 2 seats at the same instant: exactly one wins, 49 get 409
  seat_unavailable naming exactly those seats.
- 200 users for ~5 s hold, re-hold and release random overlapping sets of 1-4 seats of a
  40-seat hall (and now and then buy): afterwards the seat map agrees with what the responses
  said: every held seat belongs to exactly one live hold, held sets are pairwise disjoint, every
  booked seat to exactly one confirmed booking.
- Concurrent confirms, bookings and cancels of one booking or hold: one outcome, no doubles.
- One user racing holds against itself: at most one live hold per user and show.
- A request stuck on a lock another session keeps (an uncommitted Idempotency-Key row or seat
  claim; on SQLite the write lock): 503 with Retry-After after one lock wait, not after many.
Every response is checked: never a 5xx. Each thread has its own requests.Session; tokens are
made before the barrier so that the threads start together.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests

from booking_helpers import (
    CONTENTION_LAYOUT, CONTENTION_PRICES, Venue, assert_tickets, book, buy, get_booking, hold,
    make_users, pay, seat_ids_of, seat_map, session_for, statuses,
)
from catalog_helpers import make_user
from conftest import TIMEOUT, scale_release_only

STATS: dict = {}  # printed by the report fixture: the numbers for the lead


@pytest.fixture(autouse=True)
def report(request):
    STATS.clear()
    yield
    if STATS:
        print(f"\n[{request.node.name}] " + ", ".join(f"{k}={v}" for k, v in STATS.items()))


def run_together(fns, timeout: float = 60):
    """Runs each fn in its own thread, all released at once by a barrier; returns their results
    (an exception is returned in place of a result)."""
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)

    def runner(i, fn):
        try:
            barrier.wait(timeout)
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001 - returned to the caller
            results[i] = e

    threads = [threading.Thread(target=runner, args=(i, fn), daemon=True)
               for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def statuses_of(results) -> Counter:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    return Counter(r.status_code for r in results)


def five_xx(results) -> list:
    return [f"{r.status_code} {r.text[:200]}" for r in results
            if isinstance(r, requests.Response) and r.status_code >= 500]


# --------------------------------------------------------------------------------------------
# 50 users, the same 2 seats


def test_fifty_users_one_pair_of_seats(backend, make_server):
    server = make_server(backend)
    v = Venue(server, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    users = make_users(server, 50, "racer")
    seats = sorted(v.ids("B5", "B6"))
    url = server.api + f"/shows/{v.show_id}/holds"
    sessions = [session_for(u.token) for u in users]

    def attempt(s):
        return lambda: s.post(url, json={"seat_ids": seats}, timeout=TIMEOUT)

    t0 = time.monotonic()
    results = run_together([attempt(s) for s in sessions])
    elapsed = time.monotonic() - t0
    for s in sessions:
        s.close()
    codes = statuses_of(results)
    STATS.update(backend=server.backend, ok=codes[201], conflict=codes[409],
                 errors_5xx=len(five_xx(results)), elapsed=f"{elapsed:.2f}s")
    assert not five_xx(results), five_xx(results)[:5]
    assert codes == {201: 1, 409: 49}, codes

    winner_i = next(i for i, r in enumerate(results) if r.status_code == 201)
    winner = results[winner_i].json()
    assert seat_ids_of(winner) == seats
    for r in results:
        if r.status_code == 409:
            err = r.json()["error"]
            assert err["code"] == "seat_unavailable", r.text
            assert sorted(err["details"]["unavailable"]) == seats, r.text
    st = statuses(server, v.show_id)
    assert [st[s] for s in seats] == ["held", "held"]
    assert seat_map(server, v.show_id)["counts"]["held"] == 2
    # The winner's hold is real: it books and confirms.
    wu = users[winner_i]
    body = book(server, wu.token, winner["hold_id"])
    b = get_booking(server, wu.token, body["booking"]["id"])
    assert b["status"] == "pending_payment"


# --------------------------------------------------------------------------------------------
# 200 users, random overlapping holds for ~5 s


THREADS = 200
DURATION = 4.5
MAX_BOOKED = 12  # stop buying once this many seats are sold, so contention stays on holds


class Buyer:
    """One user's view of its own state, built only from the server's responses."""

    def __init__(self, actor):
        self.actor = actor
        self.live: dict | None = None  # {"hold_id", "seats"} of the user's live hold
        self.bought: list[dict] = []  # confirmed bookings
        self.calls = Counter()
        self.bad: list[str] = []


@scale_release_only
def test_two_hundred_users_random_holds(backend, make_server):
    server = make_server(backend)
    v = Venue(server, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    all_ids = sorted(s["id"] for s in seat_map(server, v.show_id)["seats"])
    assert len(all_ids) == 40
    buyers = [Buyer(a) for a in make_users(server, THREADS, "crowd", threads=32)]
    booked_total = [0]
    book_lock = threading.Lock()
    api = server.api
    holds_url = f"{api}/shows/{v.show_id}/holds"

    def record(b: Buyer, what: str, r: requests.Response) -> None:
        b.calls[(what, r.status_code)] += 1
        if r.status_code >= 500:
            b.bad.append(f"{what} -> {r.status_code} {r.text[:200]}")

    def try_buy(b: Buyer, s: requests.Session, rng: random.Random) -> None:
        with book_lock:
            if booked_total[0] + len(b.live["seats"]) > MAX_BOOKED:
                return
            booked_total[0] += len(b.live["seats"])
        r = s.post(f"{api}/bookings", json={"hold_id": b.live["hold_id"]}, timeout=TIMEOUT)
        record(b, "book", r)
        if r.status_code != 201:
            b.bad.append(f"book of a live hold -> {r.status_code} {r.text[:200]}")
            return
        body = r.json()
        b.live = None  # booked: the hold is no longer a free-standing hold
        r = s.post(f"{api}/payments/test/{body['payment']['order_id']}/pay", timeout=TIMEOUT)
        record(b, "pay", r)
        r = s.post(f"{api}/bookings/{body['booking']['id']}/confirm", json=r.json(),
                   timeout=TIMEOUT)
        record(b, "confirm", r)
        if r.status_code == 200 and r.json()["status"] == "confirmed":
            b.bought.append(r.json())
        else:
            b.bad.append(f"confirm -> {r.status_code} {r.text[:200]}")

    def work(b: Buyer, seed: int):
        rng = random.Random(seed)
        s = session_for(b.actor.token)
        deadline = time.monotonic() + DURATION
        try:
            while time.monotonic() < deadline and not b.bad:
                action = rng.random()
                if b.live is not None and action < 0.25:
                    r = s.delete(f"{api}/holds/{b.live['hold_id']}", timeout=TIMEOUT)
                    record(b, "release", r)
                    if r.status_code == 204:
                        b.live = None
                    else:
                        b.bad.append(f"release own live hold -> {r.status_code} {r.text[:200]}")
                elif b.live is not None and action < 0.27:
                    try_buy(b, s, rng)
                else:
                    want = sorted(rng.sample(all_ids, rng.randint(1, 4)))
                    r = s.post(holds_url, json={"seat_ids": want}, timeout=TIMEOUT)
                    record(b, "hold", r)
                    if r.status_code == 201:
                        h = r.json()
                        if seat_ids_of(h) != want:
                            b.bad.append(f"hold gave {seat_ids_of(h)} for {want}")
                        b.live = {"hold_id": h["hold_id"], "seats": want}  # replaces the old
                    elif r.status_code == 409:
                        err = r.json()["error"]
                        un = err.get("details", {}).get("unavailable", [])
                        if err["code"] != "seat_unavailable" or not un or \
                                not set(un) <= set(want):
                            b.bad.append(f"409 {r.text[:200]} for {want}")
                        # A refused hold leaves the previous one as it was.
                    else:
                        b.bad.append(f"hold -> {r.status_code} {r.text[:200]}")
                time.sleep(rng.random() * 0.01)
        except requests.RequestException as e:
            b.bad.append(f"no answer within {TIMEOUT} s (server stalled?): {e!r}"[:300])
        finally:
            s.close()

    t0 = time.monotonic()
    results = run_together([lambda b=b, i=i: work(b, i) for i, b in enumerate(buyers)],
                           timeout=DURATION + 60)
    elapsed = time.monotonic() - t0
    errors = [r for r in results if isinstance(r, BaseException)]

    calls = Counter()
    for b in buyers:
        calls.update(b.calls)
    n5xx = sum(n for (_, code), n in calls.items() if code >= 500)
    STATS.update(backend=server.backend, elapsed=f"{elapsed:.2f}s",
                 requests=sum(calls.values()), holds_201=calls[("hold", 201)],
                 holds_409=calls[("hold", 409)], releases_204=calls[("release", 204)],
                 bookings=calls[("book", 201)], confirms=calls[("confirm", 200)],
                 errors_5xx=n5xx)
    assert not errors, errors[:3]
    bad = [x for b in buyers for x in b.bad]
    STATS.update(problems=len(bad))
    assert n5xx == 0 and not bad, (n5xx, bad[:10])
    assert calls[("hold", 201)] > 50 and calls[("hold", 409)] > 50, calls

    # What the responses say is live now.
    held_by: dict[str, list[str]] = {}
    for b in buyers:
        if b.live is not None:
            for sid in b.live["seats"]:
                held_by.setdefault(sid, []).append(b.actor.name)
    sold_to: dict[str, list[str]] = {}
    for b in buyers:
        for bk in b.bought:
            for sid in seat_ids_of(bk):
                sold_to.setdefault(sid, []).append(b.actor.name)
    twice = {k: v for k, v in held_by.items() if len(v) > 1}
    assert not twice, f"seats held by two live holds at once: {twice}"
    twice = {k: v for k, v in sold_to.items() if len(v) > 1}
    assert not twice, f"seats sold twice: {twice}"
    assert not set(held_by) & set(sold_to), set(held_by) & set(sold_to)

    # ...and what the seat map says, the same.
    m = seat_map(server, v.show_id)
    st = {s["id"]: s["status"] for s in m["seats"]}
    map_held = {sid for sid, x in st.items() if x == "held"}
    map_booked = {sid for sid, x in st.items() if x == "booked"}
    live_holds = sum(1 for b in buyers if b.live is not None)
    STATS.update(live_holds=live_holds, map_held=len(map_held), map_booked=len(map_booked))
    assert sum(len(b.live["seats"]) for b in buyers if b.live) == m["counts"]["held"]
    assert map_held == set(held_by), (sorted(map_held ^ set(held_by)))
    assert map_booked == set(sold_to), (sorted(map_booked ^ set(sold_to)))
    assert m["counts"]["held"] + m["counts"]["booked"] + m["counts"]["available"] == 40

    # Every live hold is really its user's: releasing each frees exactly its seats.
    for b in buyers:
        if b.live is not None:
            r = requests.delete(f"{api}/holds/{b.live['hold_id']}",
                                headers={"Authorization": f"Bearer {b.actor.token}"},
                                timeout=TIMEOUT)
            assert r.status_code == 204, r.text
    m = seat_map(server, v.show_id)
    assert m["counts"]["held"] == 0, m["counts"]
    assert m["counts"]["booked"] == len(sold_to)
    for b in buyers:
        for bk in b.bought:
            assert_tickets(bk)


# --------------------------------------------------------------------------------------------
# One booking, many hands


def test_concurrent_confirms_of_one_booking(server):
    v = Venue(server)
    u = make_user(server, "double-clicker")
    rounds, per_round = 5, 6
    outcomes = Counter()
    for i in range(rounds):
        labels = [f"C{i * 2 + 1}", f"C{i * 2 + 2}"]
        h = hold(server, u.token, v.show_id, seat_ids=v.ids(*labels))
        body = book(server, u.token, h["hold_id"])
        bid = body["booking"]["id"]
        payment = pay(server, u.token, body["payment"]["order_id"])
        sessions = [session_for(u.token) for _ in range(per_round)]
        url = f"{server.api}/bookings/{bid}/confirm"
        results = run_together([lambda s=s: s.post(url, json=payment, timeout=TIMEOUT)
                                for s in sessions])
        for s in sessions:
            s.close()
        codes = statuses_of(results)
        outcomes.update(codes)
        assert not five_xx(results), five_xx(results)
        assert codes[200] >= 1 and set(codes) <= {200, 409}, codes
        oks = [r.json() for r in results if r.status_code == 200]
        for b in oks:
            assert b["status"] == "confirmed"
            assert_tickets(b)
        final = get_booking(server, u.token, bid)
        assert final["status"] == "confirmed" and final["refunds"] == []
        assert_tickets(final)
        assert len(final["tickets"]) == 2
        # Every 200 saw the same tickets: they were issued once.
        for b in oks:
            assert sorted(t["code"] for t in b["tickets"]) == \
                sorted(t["code"] for t in final["tickets"])
        st = statuses(server, v.show_id)
        assert [st[x] for x in v.ids(*labels)] == ["booked", "booked"]
    STATS.update(backend=server.backend, confirms=dict(outcomes))
    assert seat_map(server, v.show_id)["counts"]["booked"] == rounds * 2


def test_concurrent_confirms_with_two_payments(server):
    """Two different captured payments for one order (two tabs paid): one confirms, the other
    is refunded as a duplicate; never two sets of tickets."""
    v = Venue(server)
    u = make_user(server, "two-tabs")
    h = hold(server, u.token, v.show_id, seat_ids=v.ids("E4", "E5"))
    body = book(server, u.token, h["hold_id"])
    bid = body["booking"]["id"]
    p1 = pay(server, u.token, body["payment"]["order_id"])
    p2 = pay(server, u.token, body["payment"]["order_id"])
    assert p1["razorpay_payment_id"] != p2["razorpay_payment_id"]
    url = f"{server.api}/bookings/{bid}/confirm"
    s1, s2 = session_for(u.token), session_for(u.token)
    results = run_together([lambda: s1.post(url, json=p1, timeout=TIMEOUT),
                            lambda: s2.post(url, json=p2, timeout=TIMEOUT)])
    codes = statuses_of(results)
    assert not five_xx(results)
    assert codes == {200: 2}, codes
    final = get_booking(server, u.token, bid)
    assert final["status"] == "confirmed"
    assert_tickets(final)
    assert len(final["tickets"]) == 2
    assert [(r["status"], r["amount"]) for r in final["refunds"]] == \
        [("processed", body["booking"]["amount"])], final


def test_concurrent_bookings_of_one_hold(server):
    v = Venue(server)
    u = make_user(server, "impatient")
    rounds, per_round = 5, 8
    for i in range(rounds):
        h = hold(server, u.token, v.show_id, seat_ids=v.ids(f"D{i + 1}"))
        sessions = [session_for(u.token) for _ in range(per_round)]
        results = run_together([
            lambda s=s: s.post(f"{server.api}/bookings", json={"hold_id": h["hold_id"]},
                               timeout=TIMEOUT) for s in sessions])
        codes = statuses_of(results)
        assert not five_xx(results), five_xx(results)
        assert codes == {201: 1, 409: per_round - 1}, codes
        for r in results:
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "hold_already_booked", r.text
    items = requests.get(f"{server.api}/bookings", params={"limit": 100},
                         headers={"Authorization": f"Bearer {u.token}"}, timeout=TIMEOUT).json()
    assert len(items["items"]) == rounds


def test_concurrent_cancels_of_one_booking(server):
    v = Venue(server)
    u = make_user(server, "canceller")
    b = buy(server, u.token, v.show_id, v.ids("F7", "F8"))
    sessions = [session_for(u.token) for _ in range(8)]
    url = f"{server.api}/bookings/{b['id']}/cancel"
    results = run_together([lambda s=s: s.post(url, timeout=TIMEOUT) for s in sessions])
    codes = statuses_of(results)
    assert not five_xx(results), five_xx(results)
    assert codes == {200: 1, 409: 7}, codes
    final = get_booking(server, u.token, b["id"])
    assert final["status"] == "cancelled_refunded"
    assert len(final["refunds"]) == 1, final
    st = statuses(server, v.show_id)
    assert [st[x] for x in v.ids("F7", "F8")] == ["available", "available"]


def test_one_user_racing_holds_against_itself(server):
    """A user may have at most one live hold per show, however fast it clicks."""
    v = Venue(server)
    u = make_user(server, "fast-clicker")
    rounds, per_round = 6, 10
    stats = Counter()
    for rnd in range(rounds):
        row = "ABCDEF"[rnd]
        sessions = [session_for(u.token) for _ in range(per_round)]
        # Each request wants its own seat (disjoint), so none is refused for a taken seat.
        results = run_together([
            lambda s=s, k=k: s.post(f"{server.api}/shows/{v.show_id}/holds",
                                    json={"seat_ids": v.ids(f"{row}{k + 1}")}, timeout=TIMEOUT)
            for k, s in enumerate(sessions)])
        codes = statuses_of(results)
        stats.update(codes)
        assert not five_xx(results), five_xx(results)
        assert codes[201] >= 1 and set(codes) <= {201, 409}, codes
        # No seat was ever anybody else's: a refusal must at least say which seat it means.
        for r in results:
            if r.status_code == 409:
                err = r.json()["error"]
                assert err["details"].get("unavailable"), \
                    f"round {rnd}: 409 for a free seat, naming none: {r.text}"
        m = seat_map(server, v.show_id)
        STATS.update(backend=server.backend, codes=dict(stats), held_after=m["counts"]["held"])
        assert m["counts"]["held"] == 1, \
            f"round {rnd}: {m['counts']['held']} seats held by one user's holds ({dict(codes)})"


def test_fifty_users_best_available_at_once(backend, make_server):
    """50 users ask for 2 best-available seats of a 40-seat hall at the same instant: the seats
    given out are pairwise disjoint, at most 20 holds succeed, and the map agrees."""
    server = make_server(backend)
    v = Venue(server, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    users = make_users(server, 50, "best")
    sessions = [session_for(u.token) for u in users]
    url = server.api + f"/shows/{v.show_id}/holds"
    t0 = time.monotonic()
    results = run_together([lambda s=s: s.post(url, json={"quantity": 2}, timeout=TIMEOUT)
                            for s in sessions])
    elapsed = time.monotonic() - t0
    for s in sessions:
        s.close()
    codes = statuses_of(results)
    m = seat_map(server, v.show_id)
    STATS.update(backend=backend, ok=codes[201], conflict=codes[409],
                 errors_5xx=len(five_xx(results)), elapsed=f"{elapsed:.2f}s",
                 left_available=m["counts"]["available"])
    assert not five_xx(results), five_xx(results)[:5]
    assert set(codes) <= {201, 409}, codes
    given = [sid for r in results if r.status_code == 201 for sid in seat_ids_of(r.json())]
    assert len(given) == len(set(given)) == 2 * codes[201], "a seat was given out twice"
    for r in results:
        if r.status_code == 201:
            labels = sorted(s["label"] for s in r.json()["seats"])
            assert len(labels) == 2 and labels[0][0] == labels[1][0], r.text  # one row
        else:
            assert r.json()["error"]["code"] in ("no_seats_available", "seat_unavailable"), \
                r.text
    assert codes[201] <= 20
    held = {s["id"] for s in m["seats"] if s["status"] == "held"}
    assert held == set(given)


def test_same_idempotency_key_at_once(server):
    """Eight copies of one request with one Idempotency-Key at the same instant: one hold is
    made, and every copy is answered with it (201; all but one replayed). The key's row is
    claimed in the hold's transaction, so a copy waits for the first to commit (the unique key)
    and gets its answer, instead of 409 idempotency_in_progress."""
    v = Venue(server)
    u = make_user(server, "retrier")
    body = {"seat_ids": v.ids("D3", "D4")}
    sessions = [session_for(u.token) for _ in range(8)]
    url = f"{server.api}/shows/{v.show_id}/holds"
    results = run_together([
        lambda s=s: s.post(url, json=body, headers={"Idempotency-Key": "same-instant"},
                           timeout=TIMEOUT) for s in sessions])
    codes = statuses_of(results)
    assert not five_xx(results), five_xx(results)
    assert set(codes) == {201}, [(r.status_code, r.text[:120]) for r in results]
    hold_ids = {r.json()["hold_id"] for r in results}
    assert len(hold_ids) == 1, hold_ids
    assert [r.headers.get("Idempotent-Replayed") for r in results].count("true") == 7
    assert len({r.text for r in results}) == 1  # the replays are the first answer, byte for byte
    assert seat_map(server, v.show_id)["counts"]["held"] == 2
    # Afterwards the key replays the one answer.
    r = requests.post(url, json=body, headers={"Idempotency-Key": "same-instant",
                                               "Authorization": f"Bearer {u.token}"},
                      timeout=TIMEOUT)
    assert r.status_code == 201 and r.json()["hold_id"] in hold_ids, r.text
    assert r.headers.get("Idempotent-Replayed") == "true"


def test_release_racing_booking_of_one_hold(server):
    """DELETE /holds/{id} and POST /bookings {hold_id} at the same instant: exactly one wins,
    and the state agrees with the winner (never a pending booking whose seats are free)."""
    v = Venue(server)
    u = make_user(server, "undecided")
    outcomes = Counter()
    for i in range(8):
        label = f"E{i + 1}"
        h = hold(server, u.token, v.show_id, seat_ids=v.ids(label))
        s1, s2 = session_for(u.token), session_for(u.token)
        rel, bk = run_together([
            lambda: s1.delete(f"{server.api}/holds/{h['hold_id']}", timeout=TIMEOUT),
            lambda: s2.post(f"{server.api}/bookings", json={"hold_id": h["hold_id"]},
                            timeout=TIMEOUT)])
        s1.close()
        s2.close()
        assert not five_xx([rel, bk]), five_xx([rel, bk])
        outcomes[(rel.status_code, bk.status_code)] += 1
        st = statuses(server, v.show_id)[v.ids(label)[0]]
        if bk.status_code == 201:
            assert rel.status_code == 409, rel.text
            assert st == "held"
            body = bk.json()
            done = get_booking(server, u.token, body["booking"]["id"])
            assert done["status"] == "pending_payment"
            p = pay(server, u.token, body["payment"]["order_id"])
            r = requests.post(f"{server.api}/bookings/{body['booking']['id']}/confirm", json=p,
                              headers={"Authorization": f"Bearer {u.token}"}, timeout=TIMEOUT)
            assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
            assert_tickets(r.json())
        else:
            assert (rel.status_code, bk.status_code) == (204, 409), (rel.text, bk.text)
            assert st == "available"
    STATS.update(backend=server.backend, outcomes={f"{a}/{b}": n for (a, b), n in outcomes.items()})


def test_checkout_goes_before_queued_holds(make_server, pg_cluster):
    """Holds wait in the handler pool's later queue (http/workpool.h), so a booking queued after
    them runs first. WORKERS=1: one handler thread. Two keyed holds are made to wait on their
    Idempotency-Keys' rows, which two psql sessions have inserted and not committed: the first
    hold takes the thread, the second queues, then a buyer who holds seats books them. When the
    first session ends, the thread runs the booking, while the second hold still waits its turn;
    in one queue (before) it would have run the second hold first, and waited on its key."""
    srv = make_server("postgres", WORKERS="1")
    v = Venue(srv)
    buyer, jam1, jam2 = make_user(srv, "buyer"), make_user(srv, "jam1"), make_user(srv, "jam2")
    got = hold(srv, buyer.token, v.show_id, seat_ids=v.ids("C1"))
    dbname = srv.database_url.rsplit("/", 1)[1]
    lockers = {}
    answers: dict = {}
    threads: dict = {}

    def wait_for(sql: str, want: str, what: str) -> None:
        deadline = time.monotonic() + 10
        while pg_cluster.psql(dbname, sql) != want:
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    def send(name, method, path, body, headers):
        def run():
            answers[name] = requests.request(method, f"{srv.url}/api/v1{path}", json=body,
                                             headers=headers, timeout=60)
        threads[name] = threading.Thread(target=run)
        threads[name].start()

    try:
        for who in (jam1, jam2):
            lockers[who.name] = pg_cluster.session(dbname)
            lockers[who.name].stdin.write(
                "BEGIN; INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status,"
                f" created_at) VALUES ('{who.id}', 'jam', 'x', 0, 0);\n")
            lockers[who.name].stdin.flush()
        wait_for("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                 " AND query LIKE '%idempotency_keys%'", "2", "the lockers never inserted the keys")
        for n, (who, seat) in enumerate(((jam1, "D1"), (jam2, "D2"))):
            send(who.name, "POST", f"/shows/{v.show_id}/holds", {"seat_ids": v.ids(seat)},
                 {"Authorization": f"Bearer {who.token}", "Idempotency-Key": "jam"})
            if n == 0:  # the first hold has the thread, waiting on its key
                wait_for("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                         " AND client_addr IS NOT NULL", "1", "the first hold never waited")
        # Time for the second hold to be read and queued (nothing that could tell it is not
        # queued: /metrics needs the handler thread too). Were it queued after the booking, the
        # booking would run first in either design, and this test could not fail.
        time.sleep(0.5)
        send("book", "POST", "/bookings", {"hold_id": got["hold_id"]},
             {"Authorization": f"Bearer {buyer.token}"})
        time.sleep(0.5)
        lockers["jam1"].stdin.close()  # the first hold goes on; then the thread is free
        lockers["jam1"].wait(10)
        threads["book"].join(20)
        assert not threads["book"].is_alive(), "the booking waited behind the queued hold"
        assert answers["book"].status_code == 201, answers["book"].text
        assert threads["jam2"].is_alive(), "the queued hold ran before the booking"
    finally:
        for locker in lockers.values():
            if locker.stdin and not locker.stdin.closed:
                locker.stdin.close()
            locker.wait(10)
        for t in threads.values():
            t.join(60)
    for name in ("jam1", "jam2"):  # the keys' rows gone, the holds went ahead
        assert answers[name].status_code == 201, answers[name].text


# --------------------------------------------------------------------------------------------
# A request stuck on a lock another session keeps

LOCK_WAIT = 5  # seconds: the server's lock wait (PostgreSQL lock_timeout, SQLite busy timeout)


class Locker:
    """Another database session that writes and does not commit: on PostgreSQL a psql session
    whose INSERT keeps the new row's lock; on SQLite the sqlite3 shell, whose open write
    transaction keeps the database's write lock. end() rolls it back (the session ends)."""

    def __init__(self, srv, pg, sql: str):
        if srv.backend == "postgres":
            dbname = srv.database_url.rsplit("/", 1)[1]
            self.proc = pg.session(dbname)
            self.proc.stdin.write(f"BEGIN; {sql}\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + 10
            while pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in"
                                  " transaction' AND client_addr IS NULL") != "1":
                assert time.monotonic() < deadline, "the locker never wrote"
                time.sleep(0.05)
        else:
            path = srv.database_url[len("sqlite://"):]
            self.proc = subprocess.Popen(["sqlite3", path], stdin=subprocess.PIPE, text=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.proc.stdin.write(f"BEGIN IMMEDIATE; {sql}\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + 10
            while True:  # the write lock is the shell's once ours cannot take it
                probe = sqlite3.connect(path, timeout=0)
                try:
                    probe.execute("BEGIN IMMEDIATE")
                    probe.rollback()
                except sqlite3.OperationalError:
                    break
                finally:
                    probe.close()
                assert time.monotonic() < deadline, "the locker never wrote"
                time.sleep(0.05)

    def end(self) -> None:
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(10)


@pytest.mark.parametrize("what", ["hold_key", "hold_seat", "hold_best_key", "booking_key"])
def test_request_stuck_on_a_lock_is_answered_after_one_lock_wait(request, backend, make_server,
                                                                  what):
    """A request whose transaction waits on a lock another session keeps (its Idempotency-Key's
    row, or the claim of its seat, inserted and not committed; on SQLite the write lock) is
    answered 503 `unavailable` with Retry-After once one lock wait has run out: its handler
    thread is free again after about LOCK_WAIT, not after the hold's 12 busy retries had each
    waited it out again (65 s, before). Nothing changed meanwhile, and once the other session
    is gone the same request goes through."""
    pg = request.getfixturevalue("pg_cluster") if backend == "postgres" else None
    srv = make_server(backend)
    v = Venue(srv)
    u = make_user(srv, "stuck")
    headers = {"Authorization": f"Bearer {u.token}"}
    seat = v.ids("C3")[0]
    url, body = f"{srv.api}/shows/{v.show_id}/holds", {"seat_ids": [seat]}
    if what == "hold_best_key":
        body = {"quantity": 2}
    elif what == "booking_key":
        url, body = f"{srv.api}/bookings", {"hold_id": hold(srv, u.token, v.show_id,
                                                             seat_ids=[seat])["hold_id"]}
    if what.endswith("_key"):
        headers["Idempotency-Key"] = "stuck"
        sql = ("INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status,"
               f" created_at) VALUES ('{u.id}', 'stuck', 'x', 0, 0);")
    else:
        sql = ("INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id,"
               f" expires_at, created_at, price) VALUES ('{v.show_id}', '{seat}', 'x', NULL,"
               " NULL, NULL, 0, 0);")
    before = statuses(srv, v.show_id)
    locker = Locker(srv, pg, sql)
    try:
        t0 = time.monotonic()
        try:
            r = requests.post(url, json=body, headers=headers, timeout=3 * LOCK_WAIT)
        except requests.Timeout:
            pytest.fail(f"no answer within {3 * LOCK_WAIT} s: the handler waits on and on")
        elapsed = time.monotonic() - t0
        STATS.update(backend=backend, what=what, status=r.status_code, elapsed=f"{elapsed:.2f}s")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable", r.text
        assert r.headers.get("Retry-After") == "1"
        assert elapsed < 2 * LOCK_WAIT, f"answered after {elapsed:.1f} s"
    finally:
        locker.end()
    assert statuses(srv, v.show_id) == before  # the refusal changed nothing
    r = requests.post(url, json=body, headers=headers, timeout=TIMEOUT)  # the retry goes ahead
    assert r.status_code == 201, r.text
    assert r.headers.get("Idempotent-Replayed") is None
