"""
Redis Sentinel (REDIS_URL=redis+sentinel://...): the server asks the sentinels for the primary,
refuses a node whose ROLE is not master, and follows a failover after SIGKILL of the primary
under a stream of holds on two servers sharing one PostgreSQL database.

The failover test measures the time from the kill to the first successful hold after it and to
both servers' caches being up on the new primary; with TIX_SENTINEL_TIMES=<file> set it appends
them as one JSON line (bench/results/2026-12-06-sentinel.txt is made from several runs).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

import pytest
import requests

from booking_helpers import Venue, hold, post_hold, release
from catalog_helpers import make_user
from conftest import TIMEOUT, call, release_only
from redis_helpers import SseClient, wait_for
from sentinel_helpers import MASTER, FakeSentinel, Node, SentinelSet


def readyz(server) -> dict:
    r = requests.get(server.url + "/readyz", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def seats(server, show_id) -> requests.Response:
    return call("GET", server, f"/shows/{show_id}/seats")


def status_of(resp: requests.Response, seat_id: str) -> str:
    return {s["id"]: s["status"] for s in resp.json()["seats"]}[seat_id]


def commandstats(node: Node) -> set[str]:
    """The commands a redis-server was sent (INFO commandstats), lower case."""
    info = node.command("INFO", "commandstats")
    return {ln.split(":", 1)[0][len("cmdstat_"):] for ln in info.splitlines()
            if ln.startswith("cmdstat_")}


@pytest.fixture
def sentinel_set():
    s = SentinelSet().start()
    yield s
    s.destroy()


def test_a_sentinel_naming_a_replica_is_not_used_for_writes(make_server):
    """A stale sentinel names a replica: ROLE says slave, so the server writes nothing there,
    keeps answering from the database (cache down), and uses the primary once the sentinel
    names it."""
    primary = Node([]).start()
    replica = Node(["--replicaof", "127.0.0.1", str(primary.port)]).start()
    fake = FakeSentinel(("127.0.0.1", replica.port))
    try:
        wait_for(lambda: replica.command("ROLE")[0] == "slave", what="the replica")
        srv = make_server("sqlite", REDIS_URL=f"redis+sentinel://127.0.0.1:{fake.port}/{MASTER}",
                          CACHE_TIMEOUT="200ms")
        state = readyz(srv)
        assert state["cache_state"] == "down", state
        assert "not a master" in state["cache_error"] and "slave" in state["cache_error"], state
        assert fake.asked >= 1
        v = Venue(srv)
        user = make_user(srv)
        hold(srv, user.token, v.show_id, seat_ids=v.ids("A1"))
        assert status_of(seats(srv, v.show_id), v.ids("A1")[0]) == "held"
        time.sleep(1.5)  # several reconnection attempts (bus and cache)
        sent = commandstats(replica)
        assert "role" in sent
        writes = sent & {"set", "eval", "incr", "incrby", "pexpire", "publish", "rpush", "get",
                         "subscribe", "select"}
        assert not writes, f"the replica was sent {writes}"

        fake.answer = ("127.0.0.1", primary.port)  # the sentinel learns the truth
        wait_for(lambda: readyz(srv)["cache_state"] == "up", what="the cache on the primary")
        seats(srv, v.show_id)
        assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
        assert {"set", "get"} <= commandstats(primary)
    finally:
        fake.close()
        replica.destroy()
        primary.destroy()


def test_bad_sentinel_urls_are_refused(make_server):
    for url in ("redis+sentinel://", "redis+sentinel://s1:26379", "redis+sentinel://s1:0/m"):
        srv = make_server("sqlite", start=False, REDIS_URL=url)
        with pytest.raises(RuntimeError, match="exited with"):  # like a bad redis:// URL
            srv.start(timeout=5)
        assert "REDIS_URL: " in srv.stderr_text()


@release_only  # a real Sentinel set: the release build only
def test_failover_under_holds(make_server, sentinel_set):
    ss = sentinel_set
    env = {"REDIS_URL": ss.url, "CACHE_TIMEOUT": "200ms"}
    a = make_server("postgres", **env)
    b = make_server("postgres", database_url=a.database_url, **env)
    for s in (a, b):
        wait_for(lambda s=s: readyz(s)["cache_state"] == "up", what="caches up")
    v = Venue(a)
    labels = [f"{r}{n}" for r in "ABCDE" for n in range(1, 11)]
    pool = v.ids(*labels)           # the seats the traffic holds and releases
    marker, after = v.ids("F1", "F2")  # held during the gap / after the failover
    users = [make_user(a, f"sent{i}") for i in range(4)]
    checker, checker2 = make_user(a, "sentcheck"), make_user(a, "sentcheck2")

    # before: B caches the map, and the bus carries A's hold to a stream on B
    seats(b, v.show_id)
    assert seats(b, v.show_id).headers.get("X-Cache") == "hit"

    lock = threading.Lock()
    bad: list[str] = []
    ok_holds: list[tuple[str, float, float, float]] = []  # seat, sent, answered, release sent
    stop = threading.Event()

    def worker(i: int):
        rng = random.Random(i)
        user = users[i]
        while not stop.is_set():
            srv = (a, b)[rng.randrange(2)]
            seat = rng.choice(pool)
            t0 = time.monotonic()
            try:
                r = post_hold(srv, user.token, v.show_id, seat_ids=[seat])
            except requests.RequestException as e:
                with lock:
                    bad.append(f"hold: {e}")
                continue
            t1 = time.monotonic()
            if r.status_code >= 500 and not (r.status_code == 503 and
                                              r.headers.get("Retry-After")):
                with lock:
                    bad.append(f"hold {r.status_code}: {r.text[:200]}")
            if r.status_code != 201:
                continue
            t2 = time.monotonic()
            rr = release(srv, user.token, r.json()["hold_id"])
            if rr.status_code >= 500 and not (rr.status_code == 503 and
                                               rr.headers.get("Retry-After")):
                with lock:
                    bad.append(f"release {rr.status_code}: {rr.text[:200]}")
            with lock:
                ok_holds.append((seat, t0, t1, t2))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        old_port = ss.master_port()
        assert old_port == ss.primary.port
        t_kill = time.monotonic()
        ss.primary.kill()
        # during the gap the cache is down: a hold through A must still show on B afterwards
        hold(a, checker.token, v.show_id, seat_ids=[marker])
        wait_for(lambda: ss.master_port() not in (None, old_port), timeout=30, step=0.1,
                 what="the sentinels to promote a replica")
        t_promoted = time.monotonic()
        wait_for(lambda: all(readyz(s)["cache_state"] == "up" for s in (a, b)), timeout=20,
                 step=0.05, what="both caches up on the new primary")
        t_up = time.monotonic()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert not bad, bad[:5]
    after_kill = [h for h in ok_holds if h[1] >= t_kill]
    assert after_kill, "no hold succeeded after the kill"
    first_hold_s = min(h[2] for h in after_kill) - t_kill

    # no seat held twice: a hold answered 201 must not fall inside another hold's known
    # lifetime (between that hold's 201 and its release being sent)
    by_seat: dict[str, list] = {}
    for h in ok_holds:
        by_seat.setdefault(h[0], []).append(h)
    for seat, hs in by_seat.items():
        for x in hs:
            for y in hs:
                if x is not y:
                    assert not (x[2] <= y[1] and y[2] <= x[3]), f"seat {seat} held twice"
    m = seats(a, v.show_id).json()
    held = {s["id"] for s in m["seats"] if s["status"] != "available"}
    assert held == {marker}, f"after every release only the marker is held: {held}"

    # after: no stale map on B (the gap's hold shows), the shared cache and the bus work on
    # the new primary
    new_primary = ss.node_on(ss.master_port())
    assert new_primary.command("ROLE")[0] == "master"
    assert status_of(seats(b, v.show_id), marker) == "held", "a stale map served after failover"
    wait_for(lambda: seats(b, v.show_id).headers.get("X-Cache") == "hit", what="B caching")
    stream = SseClient(b, v.show_id)
    try:
        assert stream.read_headers() == 200
        assert stream.next_event(timeout=5)["event"] == "ready"
        hold(a, checker2.token, v.show_id, seat_ids=[after])
        ev = stream.next_event(timeout=5, name="seats")
        assert ev is not None and ev["data"]["seats"] == [after], ev
    finally:
        stream.close()
    assert status_of(seats(b, v.show_id), after) == "held"
    assert new_primary.command("EXISTS", f"ticketd:{{show:{v.show_id}}}:ver") == 1

    times = {"first_hold_after_kill_s": round(first_hold_s, 3),
             "promoted_after_kill_s": round(t_promoted - t_kill, 3),
             "caches_up_after_kill_s": round(t_up - t_kill, 3),
             "holds": len(ok_holds), "holds_after_kill": len(after_kill)}
    print("sentinel failover:", json.dumps(times))
    out = os.environ.get("TIX_SENTINEL_TIMES")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(times) + "\n")


@release_only  # a real Sentinel set: the release build only
def test_a_bump_lost_in_the_failover_does_not_leave_a_stale_map(make_server, sentinel_set):
    """Replication is asynchronous: a hold's version bump acknowledged by the old primary but
    never copied to the replicas is gone after the failover, while the cached seat map (copied
    earlier) is still there under the old version. The server must notice that the primary
    moved and invalidate every cached answer before it reads the cache again."""
    ss = sentinel_set
    srv = make_server("sqlite", REDIS_URL=ss.url, CACHE_TIMEOUT="200ms")
    wait_for(lambda: readyz(srv)["cache_state"] == "up", what="cache up")
    v = Venue(srv)
    user = make_user(srv)
    seat = v.ids("C3")[0]
    seats(srv, v.show_id)
    assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
    size = ss.primary.command("DBSIZE")
    wait_for(lambda: all(r.command("DBSIZE") == size for r in ss.replicas),
             what="the replicas to have the cached map")
    # cut replication: the replicas cannot log in to the primary again
    for r in ss.replicas:
        r.command("CONFIG", "SET", "masteruser", "nobody")
        r.command("CONFIG", "SET", "masterauth", "wrong")
    ss.primary.command("CLIENT", "KILL", "TYPE", "replica")
    wait_for(lambda: all(r.command("ROLE")[3] != "connected" for r in ss.replicas),
             what="replication to stop")
    hold(srv, user.token, v.show_id, seat_ids=[seat])  # its bump reaches the primary only
    assert status_of(seats(srv, v.show_id), seat) == "held"
    old_port = ss.primary.port
    ss.primary.kill()
    wait_for(lambda: ss.master_port() not in (None, old_port), timeout=30, step=0.1,
             what="the sentinels to promote a replica")
    wait_for(lambda: readyz(srv)["cache_state"] == "up", timeout=20, what="cache up again")
    assert seats(srv, v.show_id).headers.get("X-Cache") in ("miss", "hit")
    for _ in range(3):
        assert status_of(seats(srv, v.show_id), seat) == "held", "a stale map after failover"
    assert "primary of mymaster moved" in srv.stderr_text()


@release_only  # a real Sentinel set: the release build only
def test_manual_failover_is_followed_by_both_servers(make_server, sentinel_set):
    """SENTINEL FAILOVER: the old primary stays alive and becomes a replica (the sentinels drop
    its clients). Both servers reconnect to the new primary and B sees A's hold made after
    the switch, from its cache."""
    ss = sentinel_set
    env = {"REDIS_URL": ss.url, "CACHE_TIMEOUT": "200ms"}
    a = make_server("postgres", **env)
    b = make_server("postgres", database_url=a.database_url, **env)
    v = Venue(a)
    user = make_user(a)
    seat = v.ids("D4")[0]
    for s in (a, b):
        seats(s, v.show_id)
        assert seats(s, v.show_id).headers.get("X-Cache") == "hit"
    old_port = ss.primary.port
    assert ss.sentinels[0].command("SENTINEL", "FAILOVER", MASTER) == "OK"
    wait_for(lambda: ss.master_port() not in (None, old_port), timeout=30, step=0.1,
             what="the sentinels to switch the primary")
    old = ss.primary

    def old_role():
        # The sentinels drop the old primary's clients while they demote it (CLIENT KILL):
        # a reset connection is "not yet", not a failure.
        try:
            return old.command("ROLE")[0]
        except (OSError, RuntimeError):
            return None

    wait_for(lambda: old_role() == "slave", timeout=30, what="the old primary to be demoted")
    hold(a, user.token, v.show_id, seat_ids=[seat])
    for s in (a, b):
        wait_for(lambda s=s: status_of(seats(s, v.show_id), seat) == "held", timeout=5,
                 what="the hold to show")
        wait_for(lambda s=s: seats(s, v.show_id).headers.get("X-Cache") == "hit", timeout=10,
                 what="caching on the new primary")
        assert status_of(seats(s, v.show_id), seat) == "held"


def test_a_primary_demoted_under_open_connections_answers_readonly(make_server):
    """A primary made a replica while the server's pooled connections stay open (nobody
    kills them): its writes answer READONLY. The server must take that as a lost primary, ask
    the sentinel again, and invalidate what it cached before using the new primary."""
    p = Node([]).start()
    q = Node([]).start()
    fake = FakeSentinel(("127.0.0.1", p.port))
    try:
        srv = make_server("sqlite", REDIS_URL=f"redis+sentinel://127.0.0.1:{fake.port}/{MASTER}",
                          CACHE_TIMEOUT="200ms", CACHE_POOL_SIZE="1")
        v = Venue(srv)
        user = make_user(srv)
        seat = v.ids("E5")[0]
        seats(srv, v.show_id)
        assert seats(srv, v.show_id).headers.get("X-Cache") == "hit"
        # q gets p's data (the cached map), then p becomes q's replica: the switch
        q.command("REPLICAOF", "127.0.0.1", str(p.port))
        wait_for(lambda: q.command("DBSIZE") == p.command("DBSIZE") and
                 q.command("ROLE")[3] == "connected", what="q to copy p")
        q.command("REPLICAOF", "NO", "ONE")
        p.command("REPLICAOF", "127.0.0.1", str(q.port))
        fake.answer = ("127.0.0.1", q.port)
        hold(srv, user.token, v.show_id, seat_ids=[seat])  # its bump meets READONLY on p
        wait_for(lambda: seats(srv, v.show_id).headers.get("X-Cache") in ("miss", "hit"),
                 timeout=10, what="the cache on q")
        for _ in range(3):
            assert status_of(seats(srv, v.show_id), seat) == "held", "a stale map after READONLY"
        assert "READONLY" in srv.stderr_text()
        assert "moved from" in srv.stderr_text()
    finally:
        fake.close()
        p.destroy()
        q.destroy()


@release_only  # a real Sentinel set: the release build only
def test_a_partitioned_primary_does_not_hold_the_bus(make_server, sentinel_set):
    """SIGSTOP of the primary (a partition: connections stay open, nothing answers). The
    sentinels promote a replica; the bus subscriber must not wait forever on the hung
    connection: a hold on A reaches a stream on B through the new primary."""
    ss = sentinel_set
    env = {"REDIS_URL": ss.url, "CACHE_TIMEOUT": "200ms"}
    a = make_server("postgres", **env)
    b = make_server("postgres", database_url=a.database_url, **env)
    v = Venue(a)
    user = make_user(a)
    seat = v.ids("B7")[0]
    old_port = ss.primary.port
    ss.primary.pause()
    try:
        wait_for(lambda: ss.master_port() not in (None, old_port), timeout=30, step=0.1,
                 what="the sentinels to promote a replica")
        for s in (a, b):
            wait_for(lambda s=s: readyz(s)["cache_state"] == "up", timeout=20,
                     what="caches up on the new primary")
        stream = SseClient(b, v.show_id)
        try:
            assert stream.read_headers() == 200
            assert stream.next_event(timeout=5)["event"] == "ready"
            deadline = time.monotonic() + 10
            got = None
            # the subscriber may still be finding out its connection hangs: hold, release, retry
            while got is None and time.monotonic() < deadline:
                h = hold(a, user.token, v.show_id, seat_ids=[seat])
                got = stream.next_event(timeout=1.5, name="seats")
                release(a, user.token, h["hold_id"])
            assert got is not None, "no event on B from A's hold after the partition"
        finally:
            stream.close()
    finally:
        ss.primary.resume()
