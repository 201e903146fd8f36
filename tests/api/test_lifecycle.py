"""Process lifecycle: graceful stop, slow clients, restarts, and a database that goes away."""

import json
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import (
    DEFAULT_PASSWORD, TIMEOUT, RawConn, admin_tokens, assert_error, call, login, raw_request,
    register, unique_email,
)
from booking_helpers import Venue, hold


def healthz_ok(srv, timeout=2.0) -> float:
    """GET /healthz; returns how long it took (asserts 200)."""
    t0 = time.monotonic()
    r = requests.get(srv.url + "/healthz", timeout=timeout)
    assert r.status_code == 200
    return time.monotonic() - t0


def test_sigterm_when_idle_exits_0(make_server, backend):
    srv = make_server(backend)
    register(srv)
    t0 = time.monotonic()
    rc = srv.stop(timeout=10)
    assert time.monotonic() - t0 < 10
    srv.assert_clean_exit(rc)


def in_flight(srv) -> int:
    """The server's ticketd_requests_in_flight, this /metrics request included."""
    text = requests.get(srv.url + "/metrics", timeout=TIMEOUT).text
    return int(next(ln.split()[1] for ln in text.splitlines()
                    if ln.startswith("ticketd_requests_in_flight ")))


def test_sigterm_lets_an_in_flight_request_finish(make_server, backend):
    srv = make_server(backend)
    email = unique_email("inflight")
    body = json.dumps({"email": email, "password": DEFAULT_PASSWORD, "name": "In Flight"}).encode()
    half = len(body) // 2
    with RawConn(srv.port) as conn:
        assert conn.send(raw_request("POST", "/api/v1/auth/register", body)[:-len(body) + half])
        # The drain waits for the requests whose headers the server has taken in (its
        # in-flight count), so the SIGTERM must come after that: waited for on /metrics (which
        # counts itself too), not slept for, or a loaded machine sends it first and the
        # server rightly stops with nothing in flight.
        deadline = time.monotonic() + 10
        while in_flight(srv) < 2:
            assert time.monotonic() < deadline, "the server never took the request's headers in"
            time.sleep(0.02)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.running, "ticketd exited with a request in flight"
        assert conn.send(body[half:]), "connection closed while the request was in flight"
        resp = conn.read_response()
    assert resp.status == 201, resp
    assert resp.json()["user"]["email"] == email
    try:
        srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("ticketd did not exit within 10 s of SIGTERM once the request was done")
    srv.assert_clean_exit(srv.stop())


def slowloris(port: int, result: dict, key: int, limit: float) -> None:
    """Sends a request's headers one byte per second; records when the server cut us off."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        header = b"X-Slow-Header: slowloris\r\n"
        s.settimeout(1.0)
        i = 0
        while time.monotonic() - start < limit:
            try:
                s.send(header[i % len(header):i % len(header) + 1])
                i += 1
            except OSError:
                break
            try:
                s.recv(4096)  # data (a 408) or b"" (closed): either way we were cut off
                break
            except socket.timeout:
                continue
            except OSError:
                break
        else:
            result[key] = None
            return
    result[key] = time.monotonic() - start


def test_slowloris_is_cut_off_and_others_are_served(make_server, backend):
    srv = make_server(backend, CONNECTION_TIMEOUT=2, REQUEST_TIMEOUT=3)
    result: dict = {}
    threads = [threading.Thread(target=slowloris, args=(srv.port, result, k, 12), daemon=True)
               for k in range(6)]  # more than WORKERS
    for t in threads:
        t.start()
    time.sleep(0.5)
    reg = register(srv)
    slowest = 0.0
    while any(t.is_alive() for t in threads):
        slowest = max(slowest, healthz_ok(srv))
        r = call("GET", srv, "/me", token=reg["access_token"], timeout=2)
        assert r.status_code == 200
        time.sleep(0.3)
    for t in threads:
        t.join(1)
    assert slowest < 1.0, f"others waited {slowest:.1f}s for /healthz"
    assert len(result) == 6
    assert all(v is not None for v in result.values()), \
        f"slow clients were never cut off: {result}"
    assert max(result.values()) < 2 + 3 + 2.5, f"slow clients cut off only after {result}"
    healthz_ok(srv)


def test_slow_body_gets_408_or_is_cut_off(make_server, backend):
    srv = make_server(backend, CONNECTION_TIMEOUT=2, REQUEST_TIMEOUT=3)
    body = json.dumps({"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "Slow"})
    t0 = time.monotonic()
    with RawConn(srv.port) as conn:
        conn.send(raw_request("POST", "/api/v1/auth/register", body.encode())[:-len(body) + 5])
        try:
            resp = conn.read_response()
        except OSError:  # closed, reset, or our own 10 s time-out
            resp = None
    elapsed = time.monotonic() - t0
    assert elapsed < 2 + 3 + 2.5, f"a stalled body kept its connection for {elapsed:.1f}s"
    if resp is not None:
        assert resp.status == 408, resp
        assert resp.json()["error"]["code"] == "request_timeout"
    healthz_ok(srv)


def test_trickled_body_gets_408(make_server, backend):
    # One byte every 0.5 s never trips the 2 s idle time-out, but the whole body cannot arrive
    # within REQUEST_TIMEOUT=3: docs/errors.md says 408 request_timeout.
    srv = make_server(backend, CONNECTION_TIMEOUT=2, REQUEST_TIMEOUT=3)
    body = json.dumps({"email": unique_email(), "password": DEFAULT_PASSWORD,
                       "name": "x" * 40}).encode()
    t0 = time.monotonic()
    with RawConn(srv.port) as conn:
        assert conn.send(raw_request("POST", "/api/v1/auth/register", body)[:-len(body)])
        conn.send_until_answered(_paced(body, 0.5))
        elapsed = time.monotonic() - t0
        resp = conn.read_response()
    assert resp.status == 408, resp
    assert resp.json()["error"]["code"] == "request_timeout"
    assert resp.headers.get("x-request-id"), resp
    assert 2.5 < elapsed < 3 + 2.5, f"answered after {elapsed:.1f}s"
    healthz_ok(srv)


def _paced(data: bytes, interval: float):
    for i in range(len(data)):
        yield data[i:i + 1]
        time.sleep(interval)


def test_restart_keeps_data_and_bootstrap_is_idempotent(make_server, backend):
    srv = make_server(backend)
    reg = register(srv)
    admin_id = admin_tokens(srv)["user"]["id"]
    srv.assert_clean_exit(srv.stop())
    srv.start()
    assert login(srv, reg["user"]["email"])["user"]["id"] == reg["user"]["id"]
    assert admin_tokens(srv)["user"]["id"] == admin_id
    # A refresh token issued before the restart still works (state lives in the database).
    r = call("POST", srv, "/auth/refresh", json={"refresh_token": reg["refresh_token"]})
    assert r.status_code == 200, r.text


def test_postgres_outage_is_503_and_recovers(own_pg_cluster, make_server):
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg)
    reg = register(srv)
    token = reg["access_token"]
    assert call("GET", srv, "/me", token=token).status_code == 200
    venue = Venue(srv)

    pg.stop()
    try:
        t0 = time.monotonic()
        r = requests.get(srv.url + "/readyz", timeout=TIMEOUT)
        assert time.monotonic() - t0 < 10
        assert r.status_code == 503, r.text

        for _ in range(2):  # a pooled connection that just died, then a fresh connect attempt
            t0 = time.monotonic()
            r = call("GET", srv, "/me", token=token)
            assert time.monotonic() - t0 < 10
            err = assert_error(r, 503, "unavailable")
            assert r.headers.get("Retry-After"), r.headers
            for leak in ("SQLSTATE", "libpq", "connection refused", "server closed",
                         "socket", "5432", str(pg.port)):
                assert leak.lower() not in err["message"].lower(), err

        r = call("POST", srv, "/auth/login",
                 json={"email": reg["user"]["email"], "password": DEFAULT_PASSWORD})
        assert_error(r, 503, "unavailable")
        assert healthz_ok(srv) < 1.0, "/healthz depends on the database"

        # Requests that run several statements (a transaction, then its rollback; a hold with
        # its idempotency key) find the connection gone after the failed reconnect: each must
        # be a 503, never a crash (d614840: the second statement used a freed handle).
        for i in range(6):
            r = call("POST", srv, f"/shows/{venue.show_id}/holds", token=token,
                     json={"seat_ids": venue.ids("A1", "A2")},
                     headers={"Idempotency-Key": f"outage-{i}"})
            assert_error(r, 503, "unavailable")
            r = call("POST", srv, "/auth/register",
                     json={"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "X"})
            assert_error(r, 503, "unavailable")
            assert srv.proc.poll() is None, "the server died during the outage"
            healthz_ok(srv)
    finally:
        pg.start()

    deadline = time.monotonic() + 10
    while True:
        r = call("GET", srv, "/me", token=token)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, f"not recovered after PostgreSQL came back: {r.text}"
    for i in range(12):  # more than the pool size: every pooled connection must reconnect
        r = call("GET", srv, "/me", token=token)
        assert r.status_code == 200, (i, r.text)
    assert requests.get(srv.url + "/readyz", timeout=TIMEOUT).status_code == 200
    assert login(srv, reg["user"]["email"])["user"]["id"] == reg["user"]["id"]
    register(srv)
    hold(srv, token, venue.show_id, seat_ids=venue.ids("A1", "A2"))


def test_postgres_lost_between_statements_of_one_request(own_pg_cluster, make_server):
    """The connection dies in the middle of a request and cannot be made again: every later
    statement of that request must fail cleanly (503), not use a freed connection (d614840).

    A psql session locks the shows table, so a hold request stops at its first statement (the
    show). Then new connections are refused (pg_hba) and ticketd's backends are terminated: the
    blocked statement fails, its one reconnection fails, and the request goes on to the
    statements after it (the hold's own reads, the Idempotency-Key bookkeeping)."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg)
    token = register(srv)["access_token"]
    venue = Venue(srv)
    dbname = srv.database_url.rsplit("/", 1)[1]
    hba = pg.data / "pg_hba.conf"
    saved_hba = hba.read_text()

    def psql(sql: str) -> str:
        return pg.psql(dbname, sql)

    locker = pg.session(dbname)
    answers: list = []
    try:
        pg.lock_table(locker, dbname, "shows")
        deadline = time.monotonic() + 10

        def attempt():
            answers.append(call("POST", srv, f"/shows/{venue.show_id}/holds", token=token,
                                json={"seat_ids": venue.ids("A1", "A2")},
                                headers={"Idempotency-Key": "lost-between-statements"}))

        t = threading.Thread(target=attempt)
        t.start()
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND client_addr IS NOT NULL")
        while psql(waiting) != "1":
            assert time.monotonic() < deadline, "the hold request never waited for the lock"
            time.sleep(0.05)
        hba.write_text("local all all trust\nhost all all 0.0.0.0/0 reject\n")
        psql("SELECT pg_reload_conf()")
        while subprocess.run([str(pg.bindir / "psql"), "-h", "127.0.0.1", "-p", str(pg.port),
                              "-U", "postgres", "-d", dbname, "-qAtc", "SELECT 1"],
                             capture_output=True, timeout=30).returncode == 0:
            assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
            time.sleep(0.05)  # the postmaster reloads pg_hba.conf on SIGHUP, soon after
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE client_addr IS NOT NULL")
        t.join(30)
        assert not t.is_alive(), "the request hung"
        assert srv.proc.poll() is None, "the server died when its connection was lost"
        assert len(answers) == 1
        assert_error(answers[0], 503, "unavailable")
        healthz_ok(srv)
    finally:
        hba.write_text(saved_hba)
        psql("SELECT pg_reload_conf()")
        locker.stdin.close()  # ends the session: the lock goes with it
        locker.wait(10)

    deadline = time.monotonic() + 10
    while call("GET", srv, "/me", token=token).status_code != 200:
        assert time.monotonic() < deadline, "not recovered after connections were allowed again"
        time.sleep(0.2)
    hold(srv, token, venue.show_id, seat_ids=venue.ids("A1", "A2"))


def test_keepalive_request_behind_a_busy_worker_is_answered(own_pg_cluster, make_server):
    """A request that arrives on a kept-alive connection while a handler is blocked (here in a
    seat-map read waiting for a psql lock) is answered, not timed out: handlers run on the pool
    (http/workpool.h), never on the libmicrohttpd thread that owns the connection. With
    handlers on MHD's threads, MHD closed it unanswered after CONNECTION_TIMEOUT."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=1, CONNECTION_TIMEOUT=2, CACHE="off")
    v = Venue(srv)
    dbname = srv.database_url.rsplit("/", 1)[1]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as b:
        b.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b.recv(4096).startswith(b"HTTP/1.1 200")
        locker = pg.session(dbname)
        try:
            pg.lock_table(locker, dbname, "seat_claims")
            deadline = time.monotonic() + 10
            a = threading.Thread(target=lambda: call("GET", srv, f"/shows/{v.show_id}/seats",
                                                     timeout=30))
            a.start()  # the only worker now waits for the lock (up to lock_timeout, 5 s)
            while pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                          "wait_event_type = 'Lock' AND client_addr IS NOT NULL") == "0":
                assert time.monotonic() < deadline, "the seat-map read never waited"
                time.sleep(0.05)
            b.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")  # sent, not yet read
            answer = b.recv(4096)
            a.join(30)
        finally:
            locker.stdin.close()
            locker.wait(10)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]


def test_websocket_auth_and_subscribe_while_postgres_is_down(own_pg_cluster, make_server):
    """PostgreSQL stopped: a WebSocket auth (its session's revocation is checked in the
    database once the process's cached answer has lapsed) closes with 1011 at once, and a subscribe on a socket authenticated before the
    outage gets an `unavailable` error and keeps the socket; neither hangs nor crashes the
    server. Once PostgreSQL is back both work on new sockets."""
    import asyncio

    import websockets

    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, CACHE="off")
    token = register(srv)["access_token"]
    venue = Venue(srv)
    url = srv.api.replace("http://", "ws://") + "/ws"

    async def recv(ws, timeout=5.0) -> dict:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))

    async def authed():
        ws = await websockets.connect(url, open_timeout=TIMEOUT, ping_interval=None)
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        return ws, await recv(ws)

    async def outage():
        early, ready = await authed()
        assert ready["type"] == "ready", ready
        pg.stop()
        await asyncio.sleep(2.5)  # the session's cached check (TIX_REVOCATION_TTL_MS) lapses
        t0 = time.monotonic()
        ws = await websockets.connect(url, open_timeout=TIMEOUT, ping_interval=None)
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        closed = (ws.close_code, time.monotonic() - t0)
        await early.send(json.dumps({"type": "subscribe", "channel": f"show:{venue.show_id}"}))
        answer = await recv(early, 10)
        await early.send(json.dumps({"type": "nonsense"}))
        alive = await recv(early, 5)  # the socket still answers
        await early.close()
        return closed, answer, alive

    try:
        (code, took), answer, alive = asyncio.run(asyncio.wait_for(outage(), 60))
    finally:
        pg.start()
    assert code == 1011, code
    assert took < 10, took
    assert answer["type"] == "error" and answer["code"] == "unavailable", answer
    assert (alive["type"], alive["code"]) == ("error", "invalid_message"), alive
    assert srv.proc.poll() is None, "the server died during the outage"
    healthz_ok(srv)

    async def after():
        deadline = time.monotonic() + 15
        while True:
            ws, ready = None, {}
            try:
                ws, ready = await authed()
            except websockets.ConnectionClosed:
                pass
            if ready.get("type") == "ready":
                break
            assert time.monotonic() < deadline, "WebSocket auth never recovered"
            await asyncio.sleep(0.3)
        await ws.send(json.dumps({"type": "subscribe", "channel": f"show:{venue.show_id}"}))
        while (m := await recv(ws))["type"] != "subscribed":
            pass
        await ws.close()

    asyncio.run(asyncio.wait_for(after(), 60))
