"""Three ticketd servers behind nginx, against one PostgreSQL and one Redis (scripts/cluster.sh).

- 300 concurrent holds (50 threads, 100 users) on overlapping seats of a 60-seat show, two thirds
  through nginx and one third straight to each server: every answer is 201 or 409, and afterwards
  the seat maps of all servers agree with the database, where no seat has two claims, every
  claim belongs to a live hold, and the live holds are exactly each user's last 201.
- A hold made through server A is in server B's (already cached) seat map at once; a release
  through B is in A's at once.
- A locale saved through server A is the language of the caller's next error on server B (the
  session check keeps it; PATCH /me invalidates that through Redis).
- Rate limits are counted across servers (the counters live in Redis).
- Seat events reach a stream on server C and one through nginx (when the server has
  /shows/{id}/events), and a WebSocket opened through nginx.
- nginx: X-Request-Id passes through, requests spread over every server, an oversized body is
  answered 413 in ticketd's error format, and a server that stops is not noticed by clients.
The cluster is stopped at the end, whatever happened; the servers' logs must hold no sanitizer
report.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest
import requests
import websockets

from booking_helpers import (
    CONTENTION_LAYOUT, CONTENTION_PRICES, GRID_LAYOUT, GRID_PRICES, Venue, hold, make_users,
    release, seat_map, session_for, statuses,
)
from catalog_helpers import cast, describe, ok
from cluster_helpers import Cluster, kill_server, running_cluster
from conftest import TIMEOUT, assert_error, call, register

N_SERVERS = 3
N_USERS = 100
N_THREADS = 50
N_HOLDS = 300
LOGIN_EMAIL_LIMIT = 4


@pytest.fixture(scope="module")
def cluster(ticketd_bin):
    with running_cluster(
        N_SERVERS,
        # Only the per-e-mail login limit, to see it shared; the rest would get in the way of
        # 100 registrations from one address and 300 holds.
        RATE_LIMIT="on", RATE_LIMIT_LOGIN_IP="0", RATE_LIMIT_REGISTER_IP="0",
        RATE_LIMIT_HOLD_USER="0", RATE_LIMIT_LOGIN_EMAIL=f"{LOGIN_EMAIL_LIMIT}/1m",
        HOLD_TTL="10m",
    ) as c:
        yield c


@pytest.fixture(scope="module")
def show(cluster):
    return Venue(cluster.nginx, layout=GRID_LAYOUT, prices=GRID_PRICES)  # 60 seats


def seat_statuses_everywhere(cluster, show_id: str) -> list[dict[str, str]]:
    return [statuses(ep, show_id) for ep in [cluster.nginx, *cluster.servers]]


# --------------------------------------------------------------------------------------------


def test_cluster_is_up(cluster):
    p = cluster.status()
    assert p.returncode == 0, p.stdout + p.stderr
    for ep in [cluster.nginx, *cluster.servers]:
        ok(requests.get(ep.url + "/healthz", timeout=TIMEOUT), 200)


def test_concurrent_holds_across_servers(cluster, show):
    users = make_users(cluster.nginx, N_USERS, "clusterbuyer", threads=16)
    seat_ids = [s["id"] for s in seat_map(cluster.nginx, show.show_id)["seats"]]
    targets = [cluster.nginx, cluster.nginx, *cluster.servers]  # 2/3 nginx, 1/3 direct (mixed)
    per_thread = N_HOLDS // N_THREADS
    results: list[tuple] = []  # (user index, seq, status, hold id, seats, target name)
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(N_THREADS)

    def worker(t: int):
        rnd = random.Random(t)
        mine = [2 * t, 2 * t + 1]  # each user is only ever used by one thread: no self-races
        sessions = {u: session_for(users[u].token) for u in mine}
        barrier.wait(60)
        for k in range(per_thread):
            u = mine[k % 2]
            ep = rnd.choice(targets)
            n = rnd.randint(1, 3)
            start = rnd.randrange(0, len(seat_ids) - n + 1)
            want = seat_ids[start:start + n]  # adjacent seats: heavy overlap between buyers
            try:
                r = sessions[u].post(f"{ep.api}/shows/{show.show_id}/holds",
                                     json={"seat_ids": want}, timeout=30)
            except requests.RequestException as e:
                with lock:
                    errors.append(f"{ep.name}: {e!r}")
                continue
            with lock:
                if r.status_code == 201:
                    body = r.json()
                    results.append((u, k, 201, body["hold_id"],
                                    sorted(s["id"] for s in body["seats"]), ep.name))
                elif r.status_code == 409 and r.json()["error"]["code"] == "seat_unavailable":
                    results.append((u, k, 409, None, None, ep.name))
                else:
                    errors.append(f"{ep.name}: {describe(r)}")

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(N_THREADS)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(90)
    elapsed = time.monotonic() - t0
    assert not any(th.is_alive() for th in threads), "a hold thread hung"
    assert not errors, errors[:5]
    assert len(results) == N_HOLDS
    by_status = Counter(r[2] for r in results)
    by_target = Counter(r[5] for r in results)
    print(f"\n[cluster holds] {N_HOLDS} holds in {elapsed:.2f}s = {N_HOLDS / elapsed:.0f}/s "
          f"(incl. thread start); {dict(by_status)}; by entry point {dict(by_target)}")
    assert by_status[201] > 0 and by_status[409] > 0, by_status  # the seats did overlap

    # What each user holds now: its last 201 (a user's requests are sequential).
    last: dict[int, tuple] = {}
    for r in sorted(results, key=lambda r: r[1]):
        if r[2] == 201:
            last[r[0]] = r
    expected = {r[3]: r[4] for r in last.values()}  # hold id -> seats
    held_expected = sorted(s for seats in expected.values() for s in seats)
    assert len(held_expected) == len(set(held_expected)), "two live holds share a seat"

    # The database: no seat claimed twice; every claim belongs to a live hold of ours.
    dupes = cluster.psql(f"SELECT seat_id, count(*) FROM seat_claims WHERE show_id = "
                         f"'{show.show_id}' GROUP BY seat_id HAVING count(*) > 1")
    assert dupes == [], dupes
    claims = cluster.psql(
        "SELECT c.seat_id, c.hold_id, coalesce(h.status, 'missing'), "
        "(h.expires_at > (extract(epoch FROM now()) * 1000)::bigint)::text "
        f"FROM seat_claims c LEFT JOIN holds h ON h.id = c.hold_id "
        f"WHERE c.show_id = '{show.show_id}'")
    bad = [c for c in claims if c[2] != "active" or c[3] != "true"]
    assert not bad, f"claims without a live hold: {bad[:5]}"
    claimed: dict[str, list[str]] = defaultdict(list)
    for seat_id, hold_id, _, _ in claims:
        claimed[hold_id].append(seat_id)
    assert {h: sorted(s) for h, s in claimed.items()} == expected
    active = cluster.psql(f"SELECT user_id, count(*) FROM holds WHERE show_id = "
                          f"'{show.show_id}' AND status = 'active' GROUP BY user_id "
                          f"HAVING count(*) > 1")
    assert active == [], active

    # Every server (and nginx) shows the same seat map, and it matches the claims.
    maps = seat_statuses_everywhere(cluster, show.show_id)
    assert all(m == maps[0] for m in maps), "the servers disagree about the seat map"
    held = sorted(sid for sid, st in maps[0].items() if st == "held")
    assert held == held_expected


def test_hold_on_a_is_in_b_seat_map_at_once(cluster):
    a, b, c = cluster.servers
    v = Venue(a, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    buyer = register(a)
    seats = v.ids("B4", "B5")
    # Warm every server's cached seat map first, so B must notice the change, not just miss.
    for ep in (a, b, c, cluster.nginx):
        for _ in range(2):
            assert {statuses(ep, v.show_id)[s] for s in seats} == {"available"}
    h = hold(a, buyer["access_token"], v.show_id, seat_ids=seats)
    for ep in (b, c, cluster.nginx):
        st = statuses(ep, v.show_id)
        assert [st[s] for s in seats] == ["held", "held"], f"{ep.name} still shows them free"
    # And back: a release through B is seen by A and C at once.
    ok(release(b, buyer["access_token"], h["hold_id"]), 204)
    for ep in (a, c, cluster.nginx):
        st = statuses(ep, v.show_id)
        assert [st[s] for s in seats] == ["available", "available"], ep.name


def _early_refusals(ep, path: str = "handler") -> float:
    """With Redis every early refusal is the handler's: the network thread makes no round trip
    (http/router.h, tix_route.now)."""
    text = requests.get(ep.url + "/metrics", timeout=TIMEOUT).text
    m = re.search(r'^ticketd_holds_early_total\{path="%s"\} (\S+)$' % path, text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_hold_on_a_is_refused_early_on_b_only_once_b_map_is_current(cluster):
    """booking/early.h: B refuses a hold without its transaction only from a seat map (claims
    view) built at the show's current versions, on B or on any server (through Redis); in the
    handler, never on the network thread (with Redis that would wait for round trips)."""
    a, b, c = cluster.servers
    v = Venue(a, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    holder, other, buyer = register(a), register(a), register(b)
    seat_map(b, v.show_id)  # B's view, of the show before the hold
    hold(a, holder["access_token"], v.show_id, seat_ids=v.ids("B4"))
    en = {"Accept-Language": "en"}

    def refused_on_b() -> bool:
        """The buyer asks B for B4: 409 either way; True when B answered it early."""
        ok(call("GET", b, "/me", token=buyer["access_token"]), 200)  # session in B's table
        before = _early_refusals(b)
        r = call("POST", b, f"/shows/{v.show_id}/holds", token=buyer["access_token"],
                 headers=en, json={"seat_ids": v.ids("B4")})
        err = assert_error(r, 409, "seat_unavailable")
        assert err["details"]["unavailable"] == v.ids("B4"), err
        return _early_refusals(b) == before + 1

    assert not refused_on_b(), "refused early from a map older than the hold"
    seat_map(b, v.show_id)  # now current on B
    assert refused_on_b()
    # Another hold (not of B4) moves the show on: B's view is outdated, whatever it says of B4.
    hold(a, other["access_token"], v.show_id, seat_ids=v.ids("C1"))
    assert not refused_on_b(), "refused early from an outdated map"
    seat_map(c, v.show_id)  # built on C: B finds the view in Redis
    assert refused_on_b()
    assert _early_refusals(b, "network_thread") == 0


def _layout_reads(ep) -> dict[str, float]:
    """ticketd_seat_layout_reads_total by source: where a seat-map load took the hall's seats
    from (store/seatmap.c)."""
    text = requests.get(ep.url + "/metrics", timeout=TIMEOUT).text
    return {src: float(n) for src, n in
            re.findall(r'^ticketd_seat_layout_reads_total\{source="(\w+)"\} (\S+)$', text, re.M)}


def test_a_layout_changed_on_a_is_what_b_holds_from_next(cluster):
    """B keeps a copy of a hall's seats and reads only their version per seat-map load; a new
    layout made through A (a new halls.seats_version) is what B's next best-available hold picks
    from, and what B's next seat map shows."""
    a, b, _ = cluster.servers
    c = cast(a)
    v = Venue(a, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    buyer = register(b)["access_token"]
    rows = [s["label"] for s in hold(b, buyer, v.show_id, quantity=2)["seats"]]
    before = _layout_reads(b)
    first = hold(b, buyer, v.show_id, quantity=2)  # replaces the first: B's copy, version read
    after = _layout_reads(b)
    assert after.get("cache", 0) >= before.get("cache", 0) + 1, (before, after)
    assert after.get("database", 0) == before.get("database", 0), (before, after)
    assert [s["label"] for s in first["seats"]] == rows
    ok(release(b, buyer, first["hold_id"]), 204)

    # Through A: one row of 3 seats, all new but R1 and R2 (ids derive from the labels).
    ok(call("PATCH", a, f"/halls/{v.hall['id']}", token=c.owner.token,
            json={"layout": {"rows": [{"label": "R", "seats": 3, "category": "regular"}]}}), 200)
    before = _layout_reads(b)
    got = hold(b, buyer, v.show_id, quantity=2)
    assert {s["label"] for s in got["seats"]} <= {"R1", "R2", "R3"}, got
    assert _layout_reads(b).get("database", 0) == before.get("database", 0) + 1
    ok(release(b, buyer, got["hold_id"]), 204)

    def b_map_is_new() -> bool:
        return sorted(s["label"] for s in seat_map(b, v.show_id)["seats"]) == ["R1", "R2", "R3"]

    deadline = time.monotonic() + 10  # the answer cache's own staleness bound, then B's map
    while not b_map_is_new() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b_map_is_new()


def test_a_locale_saved_on_a_is_in_force_on_b_at_once(cluster):
    """auth/revocation.h: B keeps the session check's answer, locale included; PATCH /me on A
    bumps the user's counter in Redis, so B's next request reads the new locale."""
    a, b, _ = cluster.servers
    tok = register(a)["access_token"]

    def error_on_b() -> str:
        r = call("GET", b, "/movies/mov_doesnotexist", token=tok)
        return assert_error(r, 404, "not_found")["message"]

    assert error_on_b() == "not found"  # no locale saved; B now keeps the check's answer
    ok(call("PATCH", a, "/me", token=tok, json={"locale": "hi"}), 200)
    assert error_on_b() == "नहीं मिला"
    ok(call("PATCH", a, "/me", token=tok, json={"locale": "en"}), 200)
    assert error_on_b() == "not found"


def test_rate_limits_are_shared_across_servers(cluster):
    email = register(cluster.nginx)["user"]["email"]
    body = {"email": email, "password": "not-the-password"}
    # One attempt per server, in turn: the limit counts them together.
    for i in range(LOGIN_EMAIL_LIMIT):
        ep = cluster.servers[i % N_SERVERS]
        assert_error(call("POST", ep, "/auth/login", json=body), 401, "invalid_credentials")
    for ep in cluster.servers:
        r = call("POST", ep, "/auth/login", json=body)
        err = assert_error(r, 429, "rate_limited")
        assert err["details"]["scope"] == "email"
        assert int(r.headers["Retry-After"]) >= 1


def _read_events(resp: requests.Response, out: queue.Queue) -> None:
    try:
        for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
            out.put(line)
    except (requests.RequestException, AttributeError, ValueError):
        pass
    out.put(None)


def test_seat_events_reach_other_servers(cluster):
    a, _, c = cluster.servers
    v = Venue(a, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    probe = requests.get(f"{c.api}/shows/{v.show_id}/events", stream=True, timeout=(2, 5),
                         headers={"Accept": "text/event-stream"})
    if probe.status_code == 404 and probe.json()["error"]["code"] == "not_found" and \
            "endpoint" in probe.json()["error"]["message"]:
        probe.close()
        pytest.skip("this server has no /shows/{id}/events yet")
    streams = {"ticketd3": probe}
    streams["nginx"] = requests.get(f"{cluster.nginx.api}/shows/{v.show_id}/events",
                                    stream=True, timeout=(2, 10),
                                    headers={"Accept": "text/event-stream"})
    queues = {}
    try:
        for name, r in streams.items():
            assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:300]}"
            assert r.headers["Content-Type"].startswith("text/event-stream"), name
            queues[name] = queue.Queue()
            threading.Thread(target=_read_events, args=(r, queues[name]), daemon=True).start()
        time.sleep(0.3)  # let both subscriptions settle
        seat = v.ids("C7")[0]
        hold(a, register(a)["access_token"], v.show_id, seat_ids=[seat])
        for name, q in queues.items():
            deadline = time.monotonic() + 5
            seen = []
            while time.monotonic() < deadline:
                try:
                    line = q.get(timeout=max(0.05, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if line is None:
                    break
                seen.append(line)
                if line.startswith("data:") and seat in line:
                    break
            else:
                seen.append("(time-out)")
            assert any(ln.startswith("data:") and seat in ln for ln in seen), \
                f"{name}: no event for {seat} within 5 s; got {seen[-10:]}"
    finally:
        for r in streams.values():
            r.close()


def test_websocket_through_nginx(cluster):
    """deploy/nginx.conf passes the WebSocket upgrade on: a socket opened through nginx gets a
    hold made on another server, as a seat event (ws.h's protocol)."""
    a = cluster.servers[0]
    v = Venue(a, layout=CONTENTION_LAYOUT, prices=CONTENTION_PRICES)
    url = cluster.nginx.api.replace("http://", "ws://") + "/ws"

    async def go():
        ws = await websockets.connect(url, open_timeout=TIMEOUT, ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "subscribe", "channel": f"show:{v.show_id}"}))
            got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            assert [m["type"] for m in got] == ["ready", "subscribed"], got
            seat = v.ids("C8")[0]
            await asyncio.to_thread(hold, a, register(a)["access_token"], v.show_id,
                                    seat_ids=[seat])
            end = time.monotonic() + 5
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), max(0.05, end - time.monotonic())))
                if m["type"] == "event" and m["event"] == "seats":
                    assert m["data"]["seats"] == [seat] and m["data"]["status"] == "held", m
                    return
        finally:
            await ws.close()

    asyncio.run(asyncio.wait_for(go(), 30))


def test_nginx_front(cluster, show):
    rid = "cluster-" + uuid.uuid4().hex[:12]
    r = requests.get(f"{cluster.nginx.api}/shows/{show.show_id}/seats",
                     headers={"X-Request-Id": rid}, timeout=TIMEOUT)
    ok(r, 200)
    assert r.headers.get("X-Request-Id") == rid
    # Every server takes a share.
    for _ in range(30):
        ok(requests.get(f"{cluster.nginx.url}/healthz", timeout=TIMEOUT), 200)
    log = (cluster.dir / "nginx-access.log").read_text()
    upstreams = {line.split(" up=")[1].split()[0] for line in log.splitlines() if " up=" in line}
    assert {f"127.0.0.1:{s.port}" for s in cluster.servers} <= upstreams, upstreams
    # A body over client_max_body_size: nginx answers, in ticketd's error format.
    big = b'{"email": "' + b"x" * (2 << 20) + b'"}'
    r = requests.post(f"{cluster.nginx.api}/auth/login", data=big,
                      headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert_error(r, 413, "payload_too_large")


def test_a_stopping_server_is_not_noticed(cluster, show):
    """Last in the module: it stops server 3 (SIGTERM drains, nginx moves on)."""
    victim = cluster.servers[2]
    kill_server(victim, signal.SIGTERM)
    failures = []
    for _ in range(60):
        r = requests.get(f"{cluster.nginx.api}/shows/{show.show_id}/seats", timeout=TIMEOUT)
        if r.status_code != 200:
            failures.append(describe(r))
    assert not failures, failures[:3]


def test_a_failed_start_stops_what_it_started_and_returns():
    """A server that refuses its configuration fails the start after PostgreSQL and Redis are up:
    cluster.sh stops those two and returns. Its clean-up once waited (a bare `wait`) for the
    children of its own shell, Redis among them, so the start hung and left both running."""
    c = Cluster(SEATMAP_STALE="not-a-duration")
    try:
        t0 = time.monotonic()
        p = c._run("start", "3", timeout=60)
        assert p.returncode != 0, p.stdout
        assert "SEATMAP_STALE" in p.stderr and "start failed" in p.stderr, p.stderr
        assert time.monotonic() - t0 < 45, "the failed start took too long to give up"
        left = subprocess.run(["pgrep", "-f", str(c.dir)], capture_output=True, text=True)
        assert left.stdout.strip() == "", f"left running: {left.stdout}"
    finally:
        c.destroy()
