"""
Live seat updates: GET /api/v1/shows/{id}/events (Server-Sent Events, docs/cache.md).

Every claim change is one `seats` event (JSON with show_id, seats, status) with a per-show id;
heartbeats are `: ping` comments; Last-Event-ID resumes from the backlog or gets a `refetch`
event when the backlog no longer reaches back; events travel between servers through Redis;
idle streams hold no worker thread, and SIGTERM ends them before the server stops.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import threading
import time

import pytest
import requests

from booking_helpers import Venue, buy, hold, release
from catalog_helpers import make_user
from conftest import TICKETD_WRAPPER, TIMEOUT, assert_error, call
from redis_helpers import SseClient, redis_server, wait_for  # noqa: F401  (fixture)


def open_stream(server, show_id, **kw) -> SseClient:
    c = SseClient(server, show_id, **kw)
    assert c.read_headers() == 200
    return c


def ready_id(c: SseClient) -> int:
    ev = c.next_event(timeout=5)
    assert ev is not None and ev["event"] == "ready", ev
    assert ev["data"]["last_event_id"] == int(ev["id"])
    return int(ev["id"])


def expect_seats(c: SseClient, seat_ids, status, timeout=1.5) -> dict:
    t0 = time.monotonic()
    ev = c.next_event(timeout=timeout, name="seats")
    assert ev is not None, f"no seats event within {timeout}s"
    assert time.monotonic() - t0 < timeout
    assert sorted(ev["data"]["seats"]) == sorted(seat_ids), ev
    assert ev["data"]["status"] == status, ev
    return ev


def test_stream_headers_and_ready_event(server):
    v = Venue(server)
    c = open_stream(server, v.show_id)
    try:
        assert c.headers["content-type"].startswith("text/event-stream")
        assert c.headers.get("cache-control") == "no-cache"
        assert c.headers.get("x-accel-buffering") == "no"
        ready_id(c)
    finally:
        c.close()


def test_unknown_show_is_404(server):
    r = call("GET", server, "/shows/shw_nope/events")
    assert_error(r, 404, "not_found")


def check_hold_is_delivered(srv_pub, srv_sub):
    v = Venue(srv_pub)
    user = make_user(srv_pub)
    c = open_stream(srv_sub, v.show_id)
    try:
        first = ready_id(c)
        a1, a2 = v.ids("A1", "A2")
        h = hold(srv_pub, user.token, v.show_id, seat_ids=[a1, a2])
        ev = expect_seats(c, [a1, a2], "held")
        assert int(ev["id"]) == first + 1 and ev["data"]["show_id"] == v.show_id
        assert ev["data"]["expires_at"] == h["expires_at"]
        release(srv_pub, user.token, h["hold_id"])
        ev = expect_seats(c, [a1, a2], "available")
        assert int(ev["id"]) == first + 2
        b = buy(srv_pub, user.token, v.show_id, [a1])
        expect_seats(c, [a1], "held")
        expect_seats(c, [a1], "booked")
        call("POST", srv_pub, f"/bookings/{b['id']}/cancel", token=user.token)
        expect_seats(c, [a1], "available")
    finally:
        c.close()


def test_subscriber_receives_a_hold_in_process(server):
    check_hold_is_delivered(server, server)


def test_subscriber_receives_a_hold_through_redis(make_server, backend, redis_server):
    srv = make_server(backend, REDIS_URL=redis_server.url)
    check_hold_is_delivered(srv, srv)


def test_events_cross_servers_through_redis(make_server, redis_server):
    a = make_server("postgres", REDIS_URL=redis_server.url)
    b = make_server("postgres", database_url=a.database_url, REDIS_URL=redis_server.url)
    check_hold_is_delivered(a, b)


def test_heartbeats(make_server, backend):
    srv = make_server(backend, SSE_HEARTBEAT="300ms")
    v = Venue(srv)
    c = open_stream(srv, v.show_id)
    try:
        assert c.wait_comment("ping", timeout=3), c.comments
        n = c.comments.count("ping")
        time.sleep(1.0)
        c.wait_comment("never", timeout=0.3)
        assert c.comments.count("ping") >= n + 2, c.comments
    finally:
        c.close()


@pytest.mark.parametrize("with_redis", [False, True])
def test_last_event_id_resumes_or_asks_to_refetch(make_server, backend, redis_server, with_redis):
    env = {"EVENT_BACKLOG": "3"}
    if with_redis:
        env["REDIS_URL"] = redis_server.url
    srv = make_server(backend, **env)
    v = Venue(srv)
    user = make_user(srv)
    c = open_stream(srv, v.show_id)
    start = ready_id(c)
    c.close()
    a1, a2 = v.ids("B1", "B2")
    hold(srv, user.token, v.show_id, seat_ids=[a1])  # start + 1 held B1
    hold(srv, user.token, v.show_id, seat_ids=[a2])  # + 2 available B1, + 3 held B2
    # resume: exactly the missed events, in order, then the live ones
    c = open_stream(srv, v.show_id, last_event_id=start)
    try:
        got = [c.next_event(timeout=3, name="seats") for _ in range(3)]
        assert [int(e["id"]) for e in got] == [start + 1, start + 2, start + 3], got
        assert [(e["data"]["seats"], e["data"]["status"]) for e in got] == \
            [([a1], "held"), ([a1], "available"), ([a2], "held")]
        assert c.next_event(timeout=0.5, name="seats") is None
        hold(srv, user.token, v.show_id, seat_ids=[a1])
        live = [c.next_event(timeout=3, name="seats") for _ in range(2)]  # B2 freed, B1 held
        assert [(int(e["id"]), e["data"]["status"]) for e in live] == \
            [(start + 4, "available"), (start + 5, "held")]
    finally:
        c.close()
    # up to date: nothing to replay
    c = open_stream(srv, v.show_id, last_event_id=start + 5)
    try:
        assert c.next_event(timeout=0.5) is None
    finally:
        c.close()
    # older than the backlog (3 events kept): the client must reload the map
    for query in ("", f"?last_event_id={start}"):
        c = open_stream(srv, v.show_id, last_event_id=start if not query else None, query=query)
        try:
            ev = c.next_event(timeout=3)
            assert ev["event"] == "refetch" and int(ev["id"]) == start + 5, ev
            assert ev["data"]["show_id"] == v.show_id
        finally:
            c.close()
    # an id from the future (a counter that was lost): refetch as well
    c = open_stream(srv, v.show_id, last_event_id=start + 1000)
    try:
        assert c.next_event(timeout=3)["event"] == "refetch"
    finally:
        c.close()


def test_idle_streams_do_not_block_requests_and_sigterm_ends_them(make_server, backend):
    srv = make_server(backend, WORKERS="4")
    v = Venue(srv)
    user = make_user(srv)
    streams = []
    try:
        for _ in range(200):
            streams.append(SseClient(srv, v.show_id))
        for c in streams:
            assert c.read_headers() == 200
        # 200 idle streams on 4 workers: normal requests still go through at once
        t0 = time.monotonic()
        for _ in range(20):
            assert call("GET", srv, f"/shows/{v.show_id}/seats").status_code == 200
        assert time.monotonic() - t0 < 5
        metrics = requests.get(srv.url + "/metrics", timeout=TIMEOUT).text
        assert "ticketd_sse_streams 200" in metrics, metrics
        # an event reaches every one of them
        hold(srv, user.token, v.show_id, seat_ids=v.ids("C1"))
        for c in streams:
            assert c.next_event(timeout=5, name="seats") is not None
        # SIGTERM: the streams end (a clean end of the chunked body), the server exits soon
        t0 = time.monotonic()
        rc = srv.stop(timeout=15)
        assert time.monotonic() - t0 < 10
        srv.assert_clean_exit(rc)
        ended = sum(1 for c in streams if (c.next_event(timeout=2) is None and c.ended))
        assert ended == len(streams)
    finally:
        for c in streams:
            c.close()


def test_vanished_clients_are_freed(make_server, backend):
    srv = make_server(backend, SSE_HEARTBEAT="200ms")
    v = Venue(srv)
    streams = [open_stream(srv, v.show_id) for _ in range(20)]
    for c in streams:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()

    def count():
        text = requests.get(srv.url + "/metrics", timeout=TIMEOUT).text
        line = [ln for ln in text.splitlines() if ln.startswith("ticketd_sse_streams ")][0]
        return int(line.split()[1]) == 0

    wait_for(count, timeout=10, what="closed streams to be freed")


def test_stream_limit(make_server, backend):
    srv = make_server(backend, SSE_MAX_STREAMS="2")
    v = Venue(srv)
    a, b = open_stream(srv, v.show_id), open_stream(srv, v.show_id)
    try:
        r = call("GET", srv, f"/shows/{v.show_id}/events")
        err = assert_error(r, 503, "too_many_streams")
        assert r.headers.get("Retry-After") and err
    finally:
        a.close()
        b.close()


def test_many_events_under_concurrency(server):
    """Eight users hold and release in parallel: the stream sees every event, ids contiguous."""
    v = Venue(server)
    users = [make_user(server) for _ in range(8)]
    c = open_stream(server, v.show_id)
    first = ready_id(c)
    labels = [f"{r}{n}" for r in "DE" for n in range(1, 5)]

    def work(i):
        for _ in range(3):
            h = hold(server, users[i].token, v.show_id, seat_ids=v.ids(labels[i]))
            release(server, users[i].token, h["hold_id"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        ids = []
        while len(ids) < 48:
            ev = c.next_event(timeout=5, name="seats")
            assert ev is not None, f"only {len(ids)} events"
            ids.append(int(ev["id"]))
        assert ids == list(range(first + 1, first + 49))
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# Streams out of libmicrohttpd: the server writes the head and the SSE hub owns the socket


def sse_streams_gauge(srv) -> int:
    text = requests.get(srv.url + "/metrics", timeout=TIMEOUT).text
    line = [ln for ln in text.splitlines() if ln.startswith("ticketd_sse_streams ")][0]
    return int(line.split()[1])


def test_streams_are_not_http_connections(make_server, backend):
    """An open stream has left libmicrohttpd: more streams than MAX_CONNECTIONS stay open, every
    one gets its events, and ordinary requests still go through."""
    srv = make_server(backend, MAX_CONNECTIONS="16")
    v = Venue(srv)
    user = make_user(srv)
    streams = []
    try:
        for _ in range(40):
            streams.append(open_stream(srv, v.show_id))
            ready_id(streams[-1])
        assert call("GET", srv, f"/shows/{v.show_id}/seats").status_code == 200
        hold(srv, user.token, v.show_id, seat_ids=v.ids("A3"))
        for c in streams:
            assert c.next_event(timeout=5, name="seats") is not None
        assert sse_streams_gauge(srv) == 40
    finally:
        for c in streams:
            c.close()
    wait_for(lambda: sse_streams_gauge(srv) == 0, timeout=10, what="closed streams to go")


def test_per_ip_cap_counts_streams(make_server, backend):
    """PER_IP_CONNECTIONS caps one address's streams too (they no longer count against MHD's
    per-address cap): the next one is a 503 too_many_streams, other requests still pass."""
    srv = make_server(backend, PER_IP_CONNECTIONS="3")
    v = Venue(srv)
    streams = [open_stream(srv, v.show_id) for _ in range(3)]
    try:
        r = call("GET", srv, f"/shows/{v.show_id}/events")
        assert_error(r, 503, "too_many_streams")
        assert call("GET", srv, f"/shows/{v.show_id}/seats").status_code == 200
        streams.pop().close()
        wait_for(lambda: sse_streams_gauge(srv) == 2, timeout=10, what="a closed stream to go")
        streams.append(open_stream(srv, v.show_id))
        ready_id(streams[-1])
    finally:
        for c in streams:
            c.close()


def test_stream_head_and_http10(server):
    v = Venue(server)
    c = open_stream(server, v.show_id)
    try:
        assert c.headers.get("transfer-encoding") == "chunked"
        assert c.headers.get("connection") == "close"
        assert c.headers.get("date", "").endswith(" GMT")
        assert len(c.headers.get("x-request-id", "")) > 0
        ready_id(c)
    finally:
        c.close()
    # HTTP/1.0 has no chunks: the body is the events themselves, up to the close
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    try:
        sock.sendall(f"GET /api/v1/shows/{v.show_id}/events HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + 5
        while b"event: ready" not in data and time.monotonic() < deadline:
            got = sock.recv(65536)
            if not got:
                break
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 200"), lines[0]
        headers = {k.strip().lower(): val.strip()
                   for k, _, val in (ln.partition(":") for ln in lines[1:])}
        assert "transfer-encoding" not in headers and headers.get("connection") == "close"
        assert headers["content-type"].startswith("text/event-stream")
        assert body.startswith(b"retry: 2000\n\n") and b"event: ready" in body, body
    finally:
        sock.close()


def test_head_of_the_stream_opens_none(server):
    v = Venue(server)
    r = requests.head(f"{server.url}/api/v1/shows/{v.show_id}/events", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.content == b""
    wait_for(lambda: sse_streams_gauge(server) == 0, timeout=5, what="no stream to stay")


def test_a_stream_is_logged_when_it_ends(server):
    """The access-log line of a stream is written when it ends: its status, the bytes it sent
    after the head, and aborted when the client went away."""
    v = Venue(server)
    c = open_stream(server, v.show_id)
    rid = c.headers["x-request-id"]
    ready_id(c)
    time.sleep(0.2)
    assert not [x for x in server_log(server) if x.get("rid") == rid and x.get("msg") == "request"]
    c.close()

    def logged():
        return [x for x in server_log(server) if x.get("rid") == rid and x.get("msg") == "request"]

    wait_for(lambda: logged(), timeout=10, what="the stream's access-log line")
    line = logged()[0]
    assert line["status"] == 200 and line["path"] == f"/api/v1/shows/{v.show_id}/events", line
    assert line["method"] == "GET" and line.get("aborted") is True, line
    assert line["bytes_out"] > len("retry: 2000\n\n"), line
    assert not [x for x in server_log(server) if "internal error" in x.get("msg", "")]


def read_error(c: SseClient, timeout: float = TIMEOUT) -> dict:
    """The JSON body of a non-stream answer read by c (c.read_headers done): Content-Length
    bytes after the head."""
    n = int(c.headers["content-length"])
    deadline = time.monotonic() + timeout
    while len(c.raw) < n:
        assert c._fill(deadline), f"body cut short: {c.raw!r}"
    return json.loads(c.raw[:n])


@pytest.mark.skipif(bool(TICKETD_WRAPPER), reason="a wrapper (valgrind) keeps descriptors of "
                    "its own under the process's limit")
def test_a_stream_that_cannot_take_its_socket_is_a_503(make_server, backend):
    """hand_off_stream (http/server_request.c) dups the connection's descriptor for the SSE hub;
    when that fails (out of descriptors: the server's RLIMIT_NOFILE is lowered here, with
    prlimit, to a few above what it holds) the client gets 503 unavailable "the event stream
    could not be started" with a Retry-After, on the connection MHD still has, and nothing is
    left behind: once descriptors are free again /healthz answers and a new stream works (and
    under ASan the server exits without a leak report: make_server checks)."""
    srv = make_server(backend, SSE_HEARTBEAT="1h")
    v = Venue(srv)
    for _ in range(3):  # warm up: whatever opens descriptors on first use (database connections)
        c = open_stream(srv, v.show_id)
        ready_id(c)
        c.close()
    wait_for(lambda: sse_streams_gauge(srv) == 0, timeout=10, what="the warm-up streams to go")
    pid = srv.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    top = max(int(x) for x in os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (top + 1 + 6, hard))
    streams: list[SseClient] = []
    refused = None
    try:
        for _ in range(40):  # each stream keeps one descriptor; the free ones run out
            c = SseClient(srv, v.show_id)
            if c.read_headers() != 200:
                refused = c
                break
            streams.append(c)
            ready_id(c)
        assert refused is not None, "every stream was started: the limit did not bite"
        assert streams, "no stream started below the limit"
        assert refused.status == 503, refused.raw
        assert refused.headers.get("retry-after") == "5", refused.headers
        assert refused.headers["content-type"].startswith("application/json"), refused.headers
        body = read_error(refused)
        assert body["error"]["code"] == "unavailable", body
        assert "the event stream could not be started" in body["error"]["message"], body
        assert srv.access_line(refused.headers["x-request-id"])["status"] == 503
        refused.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))  # room for /metrics
        assert sse_streams_gauge(srv) == len(streams)  # the refused one left nothing behind
    finally:
        if refused is not None:
            refused.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        for c in streams:
            c.close()
    wait_for(lambda: sse_streams_gauge(srv) == 0, timeout=10, what="the streams to go")
    assert requests.get(srv.url + "/healthz", timeout=TIMEOUT).status_code == 200
    c = open_stream(srv, v.show_id)
    try:
        ready_id(c)
    finally:
        c.close()
    assert not [x for x in server_log(srv) if x.get("level") in ("error", "fatal")], \
        [x for x in server_log(srv) if x.get("level") in ("error", "fatal")]


def server_log(srv) -> list[dict]:
    out = []
    for ln in srv.stderr_text().splitlines():
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def test_a_client_that_does_not_read_gets_a_refetch(make_server, backend):
    """A client that stops reading while events pile up (past the stream's 64 KiB and a small
    kernel buffer) gets one `refetch` "slow_client" in place of the backlog; what it reads stays
    whole events, and live events follow."""
    srv = make_server(backend)
    v = Venue(srv)
    users = [make_user(srv) for _ in range(4)]
    c = open_stream(srv, v.show_id)
    try:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ready_id(c)
        rows = "ABCD"

        def work(i):  # 50 holds and releases of a whole row: 100 events of ~0.5 KiB
            seats = v.ids(*[f"{rows[i]}{n}" for n in range(1, 11)])
            for _ in range(50):
                h = hold(srv, users[i].token, v.show_id, seat_ids=seats)
                release(srv, users[i].token, h["hold_id"])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ev = c.next_event(timeout=10, name="refetch")
        assert ev is not None and ev["data"] == {"show_id": v.show_id, "reason": "slow_client"}
        hold(srv, users[0].token, v.show_id, seat_ids=v.ids("E1"))
        while True:  # events published after the refetch, then the live one
            ev = c.next_event(timeout=5, name="seats")
            assert ev is not None and isinstance(ev["data"], dict), ev
            if ev["data"]["seats"] == v.ids("E1"):
                break
    finally:
        c.close()
