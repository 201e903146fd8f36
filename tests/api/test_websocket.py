"""
WebSocket notifications: GET /api/v1/ws (RFC 6455; http/ws.h, API.md "Real time for people").

A real client (Debian's python3-websockets) does the framing; only the malformed-frame and
slow-reader tests write raw bytes after a handshake, since no client library sends bad frames or
refuses to read. Auth is the first message {"type":"auth","access_token":…}; show channels carry
the SSE stream's events with the same ids; the user's channel is joined after auth.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import time
from typing import NamedTuple

import pytest
import requests
import websockets

from datetime import timedelta

from booking_helpers import Venue, api, book, buy, hold, post_cancel, release
from catalog_helpers import iso, make_user, parse_time
from conftest import TICKETD_BIN, TIMEOUT, call, server_env
from redis_helpers import redis_server  # noqa: F401  (fixture)


def ws_url(server) -> str:
    return server.api.replace("http://", "ws://") + "/ws"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def connect(server, **kw):
    kw.setdefault("ping_interval", None)
    return await websockets.connect(ws_url(server), open_timeout=TIMEOUT, **kw)


async def send(ws, obj) -> None:
    await ws.send(json.dumps(obj))


async def recv(ws, timeout=5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, type_, timeout=5.0) -> dict:
    """The next message of that type (events and others before it are skipped)."""
    end = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.05, end - time.monotonic()))
        if m["type"] == type_:
            return m


async def recv_event(ws, name, timeout=5.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.05, end - time.monotonic()))
        if m["type"] == "event" and m["event"] == name:
            return m


async def closed_with(ws, timeout=5.0) -> tuple[int, str]:
    """Reads until the server closes; the close code and reason it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason


async def authed(server, token):
    return await authed_with(server, token)


async def authed_with(server, token, last_event_id=None, **kw):
    """A socket authenticated with token (resuming the user channel after last_event_id when
    given); its "ready" message."""
    ws = await connect(server, **kw)
    msg = {"type": "auth", "access_token": token}
    if last_event_id is not None:
        msg["last_event_id"] = last_event_id
    await send(ws, msg)
    ready = await recv_type(ws, "ready")
    return ws, ready


async def subscribe(ws, show_id, **extra) -> dict:
    await send(ws, {"type": "subscribe", "channel": f"show:{show_id}", **extra})
    return await recv_type(ws, "subscribed")


# ---- the handshake --------------------------------------------------------------------------


def test_plain_get_is_426(server):
    r = call("GET", server, "/ws")
    assert r.status_code == 426, r.text
    assert r.json()["error"]["code"] == "upgrade_required"
    assert r.headers.get("upgrade") == "websocket"


def handshake(server, key="dGhlIHNhbXBsZSBub25jZQ==", version="13") -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    s.sendall((f"GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: {version}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def test_handshake_accept_key(server):
    # RFC 6455 section 1.3's example key and answer
    s, head = handshake(server)
    try:
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head
        assert b"upgrade" in head.lower().split(b"connection:")[1].split(b"\r\n")[0], head
    finally:
        s.close()


def test_handshake_bad_key_and_version(server):
    s, head = handshake(server, key="short")
    s.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    s, head = handshake(server, version="8")
    s.close()
    assert head.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in head, head


# ---- auth -----------------------------------------------------------------------------------


def test_auth_first_message(server):
    user = make_user(server)

    async def go():
        ws, ready = await authed(server, user.token)
        # last_event_id: where the user's channel stands, for a resume (see below)
        assert ready == {"type": "ready", "user_id": user.id,
                         "last_event_id": ready["last_event_id"]}
        assert isinstance(ready["last_event_id"], int) and ready["last_event_id"] > 0
        await ws.close()
        assert ws.close_code == 1000

    run(go())


@pytest.mark.parametrize("token", ["nope", "a.b.c", ""])
def test_bad_token_closes_4401(server, token):
    async def go():
        ws = await connect(server)
        await send(ws, {"type": "auth", "access_token": token})
        return await closed_with(ws)

    assert run(go()) == (4401, "invalid_token")


def test_second_auth_closes_1008(server):
    user = make_user(server)

    async def go():
        ws, _ = await authed(server, user.token)
        await send(ws, {"type": "auth", "access_token": user.token})
        return await closed_with(ws)

    assert run(go())[0] == 1008


def test_bad_messages_are_errors_and_keep_the_socket(server):
    async def go():
        ws = await connect(server)
        await ws.send("not json")
        assert (await recv(ws))["code"] == "invalid_message"
        await send(ws, {"type": "dance"})
        assert (await recv(ws))["code"] == "invalid_message"
        await send(ws, {"type": "subscribe", "channel": "movie:1"})
        assert (await recv_type(ws, "error"))["code"] == "invalid_channel"
        await send(ws, {"type": "subscribe", "channel": "show:shw_nope"})
        assert (await recv_type(ws, "error"))["code"] == "not_found"
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        await ws.close()
        assert ws.close_code == 1000

    run(go())


# ---- languages: error messages and close reasons (core/i18n.h, as the REST errors) ----------

HI_BAD_MESSAGE = 'संदेश "type" वाला एक JSON ऑब्जेक्ट होता है'
HI_UNKNOWN_TYPE = "अज्ञात संदेश प्रकार"
HI_AUTH_FIRST = "auth पहला संदेश होना चाहिए"
TA_UNKNOWN_TYPE = "தெரியாத செய்தி வகை"
EN_UNKNOWN_TYPE = "unknown message type"


def test_errors_follow_the_handshakes_accept_language(server):
    user = make_user(server)

    async def go():
        ws = await connect(server, extra_headers={"Accept-Language": "fr;q=0.9, hi;q=0.8, en;q=0.1"})
        await ws.send("not json")
        bad = await recv(ws)
        await send(ws, {"type": "dance"})
        unknown = await recv(ws)
        await ws.close()
        plain = await connect(server)
        await send(plain, {"type": "dance"})
        english = await recv(plain)
        await plain.close()
        # a close reason too: a second auth closes 1008 with the reason in Hindi
        ws, _ = await authed_with(server, user.token, extra_headers={"Accept-Language": "hi"})
        await send(ws, {"type": "auth", "access_token": user.token})
        closed = await closed_with(ws)
        return bad, unknown, english, closed

    bad, unknown, english, closed = run(go())
    assert bad == {"type": "error", "code": "invalid_message", "message": HI_BAD_MESSAGE}
    assert unknown == {"type": "error", "code": "invalid_message", "message": HI_UNKNOWN_TYPE}
    assert english == {"type": "error", "code": "invalid_message", "message": EN_UNKNOWN_TYPE}
    assert closed == (1008, HI_AUTH_FIRST)
    assert len(HI_AUTH_FIRST.encode()) <= 123


def test_saved_locale_applies_after_auth_unless_the_handshake_named_one(server):
    user = make_user(server)
    r = call("PATCH", server, "/me", token=user.token, json={"locale": "ta"})
    assert r.status_code == 200, r.text

    async def unknown_type(**kw):
        ws = await connect(server, **kw)
        await send(ws, {"type": "dance"})  # anonymous: no saved locale to go by yet
        before = (await recv(ws))["message"]
        await ws.close()
        ws, _ = await authed_with(server, user.token, **kw)
        await send(ws, {"type": "dance"})
        after = await recv_type(ws, "error")
        await ws.close()
        return before, after

    async def go():
        return (await unknown_type(),
                await unknown_type(extra_headers={"Accept-Language": "en"}),
                await unknown_type(extra_headers={"Accept-Language": "*"}))

    (b1, a1), (b2, a2), (b3, a3) = run(go())
    assert (b1, a1["message"], a1["code"]) == (EN_UNKNOWN_TYPE, TA_UNKNOWN_TYPE, "invalid_message")
    assert (b2, a2["message"]) == (EN_UNKNOWN_TYPE, EN_UNKNOWN_TYPE)  # the handshake's wins
    assert (b3, a3["message"]) == (EN_UNKNOWN_TYPE, TA_UNKNOWN_TYPE)  # "*" names none


def test_a_locale_changed_while_the_session_check_is_kept_applies_to_the_next_socket(server):
    """The auth's language comes with its session check (auth/revocation.h), which the server
    keeps; PATCH /me invalidates it, so the next socket has the new locale."""
    user = make_user(server)
    assert call("GET", server, "/me", token=user.token).status_code == 200  # kept, no locale

    async def unknown_type():
        ws, _ = await authed_with(server, user.token)
        await send(ws, {"type": "dance"})
        err = await recv_type(ws, "error")
        await ws.close()
        return err["message"]

    assert call("PATCH", server, "/me", token=user.token, json={"locale": "hi"}).status_code == 200
    assert run(unknown_type()) == HI_UNKNOWN_TYPE
    assert call("PATCH", server, "/me", token=user.token, json={"locale": "en"}).status_code == 200
    assert run(unknown_type()) == EN_UNKNOWN_TYPE


# ---- frames ---------------------------------------------------------------------------------


def frame(opcode: int, payload: bytes, fin=True, mask=True, rsv=0) -> bytes:
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    head = bytes([b0])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_close(s: socket.socket, timeout=5.0) -> int | None:
    """Reads frames until a close frame; its code (None if the socket ended without one)."""
    s.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            op, payload, buf = buf[0] & 0x0F, buf[off:off + n], buf[off + n:]
            if op == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        buf += chunk


@pytest.mark.parametrize("bad", ["unmasked", "rsv", "opcode", "bad_continuation"])
def test_malformed_frame_closes_1002(server, bad):
    raw = {
        "unmasked": frame(0x1, b'{"type":"x"}', mask=False),
        "rsv": frame(0x1, b"{}", rsv=0x40),
        "opcode": frame(0x3, b"x"),
        "bad_continuation": frame(0x0, b"x"),
    }[bad]
    s, head = handshake(server)
    try:
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(raw)
        assert read_close(s) == 1002
    finally:
        s.close()


def test_oversized_control_frame_closes(server):
    # A ping of 200 bytes (control frames carry 125 at most) is refused by libwslay's frame
    # layer, which queues its close without a status code: the client sees 1005, not 1002
    # (a limitation of libwslay 1.1.1 that ticketd does not patch over by writing frames).
    s, head = handshake(server)
    try:
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(frame(0x9, b"x" * 200))
        assert read_close(s) == 1005
    finally:
        s.close()


def test_ten_mib_message_closes_1009(server):
    async def go():
        ws = await connect(server, max_size=None)
        try:
            await ws.send("x" * (10 * 1024 * 1024))
        except websockets.ConnectionClosed:
            pass
        return await closed_with(ws)

    assert run(go())[0] == 1009


def test_fragmented_message_is_one_message(server):
    async def go():
        ws = await connect(server)
        await ws.send(iter(['{"type":', '"subscribe","chan', 'nel":"show:shw_nope"}']))
        m = await recv_type(ws, "error")
        await ws.close()
        return m

    assert run(go())["code"] == "not_found"


def test_slow_reader_is_dropped(server):
    # a client that sends pings and never reads the pongs: the server's queue of unsent bytes
    # passes its bound and the server closes the socket rather than buffering on. The client
    # reads nothing until the server has said so: its 2.6 MB of pings sit in its own send
    # buffer, and a slow (sanitizer) server may still be answering them when a reading client
    # would start taking the pongs, so the queue would never grow.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    s.sendall(b"GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
              b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
              b"\r\n\r\n")
    # A first message (any text: "{}" only earns an invalid_message answer), else the socket may
    # be closed for "no first message in time" (WS_FIRST_MS) instead, which is another test's.
    s.sendall(frame(0x1, b"{}"))
    ping = frame(0x9, b"p" * 125)
    s.settimeout(30)
    try:
        for _ in range(20000):  # 2.6 MB of pings, 2.5 MB of pongs owed
            s.sendall(ping)
    except (BrokenPipeError, ConnectionResetError):
        pass  # dropped while we were still sending
    deadline = time.monotonic() + 30
    while "reads too slowly" not in server.stderr_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.stderr_path.read_text()
    assert "reads too slowly" in log, log[-3000:]
    # and the socket is closed: reading drains to EOF or a reset, never waits
    s.settimeout(10)
    try:
        while s.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    s.close()


def test_subscribe_sees_another_users_hold(server):
    v = Venue(server)
    other = make_user(server)

    async def go():
        ws = await connect(server)  # anonymous: public channels only
        await send(ws, {"type": "subscribe", "channel": f"show:{v.show_id}"})
        ready = await recv(ws)
        assert ready == {"type": "ready", "user_id": None}
        sub = await recv_type(ws, "subscribed")
        assert sub["channel"] == f"show:{v.show_id}"
        first = sub["last_event_id"]
        a1, a2 = v.ids("A1", "A2")
        h = await asyncio.to_thread(hold, server, other.token, v.show_id, seat_ids=[a1, a2])
        ev = await recv_event(ws, "seats")
        assert ev["channel"] == f"show:{v.show_id}" and ev["id"] == first + 1
        assert sorted(ev["data"]["seats"]) == sorted([a1, a2])
        assert ev["data"]["status"] == "held" and ev["data"]["expires_at"] == h["expires_at"]
        await send(ws, {"type": "unsubscribe", "channel": f"show:{v.show_id}"})
        assert (await recv_type(ws, "unsubscribed"))["channel"] == f"show:{v.show_id}"
        await asyncio.to_thread(hold, server, other.token, v.show_id, seat_ids=v.ids("A3"))
        with pytest.raises(asyncio.TimeoutError):
            await recv_event(ws, "seats", timeout=1.0)
        await ws.close()

    run(go())


def test_resume_by_last_event_id(server):
    v = Venue(server)
    other, third = make_user(server), make_user(server)

    async def go():
        ws = await connect(server)
        first = (await subscribe(ws, v.show_id))["last_event_id"]
        await ws.close()
        a1, a2 = v.ids("B1", "B2")
        await asyncio.to_thread(hold, server, other.token, v.show_id, seat_ids=[a1])
        await asyncio.to_thread(hold, server, third.token, v.show_id, seat_ids=[a2])
        ws = await connect(server)
        await send(ws, {"type": "subscribe", "channel": f"show:{v.show_id}",
                        "last_event_id": first})
        e1 = await recv_event(ws, "seats")
        e2 = await recv_event(ws, "seats")
        sub = await recv_type(ws, "subscribed")
        assert (e1["id"], e1["data"]["seats"]) == (first + 1, [a1])
        assert (e2["id"], e2["data"]["seats"]) == (first + 2, [a2])
        assert sub["last_event_id"] == first + 2
        await ws.close()
        # an id older than the backlog reaches: one refetch event instead
        ws = await connect(server)
        await send(ws, {"type": "subscribe", "channel": f"show:{v.show_id}", "last_event_id": 1})
        ev = await recv_event(ws, "refetch")
        assert ev["data"]["reason"] == "backlog_expired" and ev["data"]["show_id"] == v.show_id
        await ws.close()

    run(go())


# ---- the user's channel ---------------------------------------------------------------------


def test_booking_confirmed_once_per_socket(server):
    v = Venue(server)
    user = make_user(server)

    async def go():
        ws1, _ = await authed(server, user.token)
        ws2, _ = await authed(server, user.token)
        b = await asyncio.to_thread(buy, server, user.token, v.show_id, v.ids("C1"))
        for ws in (ws1, ws2):
            ev = await recv_event(ws, "booking_confirmed")
            assert ev["channel"] == "user" and ev["data"]["booking_id"] == b["id"]
            with pytest.raises(asyncio.TimeoutError):
                await recv_event(ws, "booking_confirmed", timeout=1.0)
            await ws.close()

    run(go())


async def until_ready(ws, timeout=5.0) -> tuple[list[dict], dict]:
    """The events before "ready", and "ready"."""
    events = []
    while True:
        m = await recv(ws, timeout)
        if m["type"] == "ready":
            return events, m
        events.append(m)


async def resumed(server, token, last_event_id) -> tuple:
    """A new socket whose auth resumes the user channel after last_event_id: the socket, the
    events replayed before "ready", and "ready"."""
    ws = await connect(server)
    await send(ws, {"type": "auth", "access_token": token, "last_event_id": last_event_id})
    missed, ready = await until_ready(ws)
    return ws, missed, ready


def test_user_channel_resumes_by_last_event_id(server):
    # a user's socket closes, a booking is confirmed meanwhile: a new socket whose auth names
    # the last id it saw gets that booking_confirmed once (replayed before "ready"), then the
    # live channel goes on
    v = Venue(server)
    user = make_user(server)

    async def go():
        ws, ready = await authed(server, user.token)
        first = ready["last_event_id"]
        await ws.close()
        b = await asyncio.to_thread(buy, server, user.token, v.show_id, v.ids("C2"))
        ws, missed, ready = await resumed(server, user.token, first)
        assert [(e["event"], e["channel"], e["id"]) for e in missed] == \
            [("booking_confirmed", "user", first + 1)], missed
        assert missed[0]["data"]["booking_id"] == b["id"]
        assert ready == {"type": "ready", "user_id": user.id, "last_event_id": first + 1}
        with pytest.raises(asyncio.TimeoutError):
            await recv_event(ws, "booking_confirmed", timeout=1.0)
        b2 = await asyncio.to_thread(buy, server, user.token, v.show_id, v.ids("C3"))
        live = await recv_event(ws, "booking_confirmed")
        assert (live["id"], live["data"]["booking_id"]) == (first + 2, b2["id"])
        await ws.close()
        # up to date: nothing replayed
        ws, ready = await authed_with(server, user.token, last_event_id=first + 2)
        assert ready["last_event_id"] == first + 2
        assert await events_for(ws, 0.5) == []
        await ws.close()
        # an id older than the backlog reaches: one refetch event instead, then "ready"
        ws = await connect(server)
        await send(ws, {"type": "auth", "access_token": user.token, "last_event_id": 1})
        missed, ready = await until_ready(ws)
        assert missed == [{"type": "event", "channel": "user", "event": "refetch",
                           "data": {"reason": "backlog_expired"}}]
        assert ready["last_event_id"] == first + 2
        await ws.close()

    run(go())


def test_bad_last_event_id_in_auth_is_an_error_and_auth_may_follow(server):
    user = make_user(server)

    async def go():
        ws = await connect(server)
        await send(ws, {"type": "auth", "access_token": user.token, "last_event_id": "x"})
        err = await recv(ws)
        await send(ws, {"type": "auth", "access_token": user.token, "last_event_id": -1})
        err2 = await recv(ws)
        await send(ws, {"type": "auth", "access_token": user.token})
        ready = await recv_type(ws, "ready")
        await ws.close()
        return err, err2, ready

    err, err2, ready = run(go())
    assert err["code"] == err2["code"] == "invalid_message"
    assert ready["user_id"] == user.id


def test_cancel_sends_booking_cancelled_and_refund_processed(server):
    v = Venue(server, starts_at=None)
    user = make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("D1"))

    async def go():
        ws, _ = await authed(server, user.token)
        r = await asyncio.to_thread(post_cancel, server, user.token, b["id"])
        assert r.status_code == 200, r.text
        ev = await recv_event(ws, "booking_cancelled")
        assert ev["data"] == {"booking_id": b["id"], "show_id": v.show_id, "status": "cancelled"}
        ref = await recv_event(ws, "refund_processed")
        assert ref["data"]["booking_id"] == b["id"] and ref["data"]["refund_id"].startswith("ref")
        assert ref["id"] > ev["id"]
        await ws.close()

    run(go())


def test_show_cancelled_reaches_its_buyers(server):
    v = Venue(server)
    user, other = make_user(server), make_user(server)
    b = buy(server, user.token, v.show_id, v.ids("E1"))

    async def go():
        ws, _ = await authed(server, user.token)
        ws_other, _ = await authed(server, other.token)
        await asyncio.to_thread(v.cancel_show)
        ev = await recv_event(ws, "show_cancelled")
        assert ev["data"]["booking_id"] == b["id"] and ev["data"]["show_id"] == v.show_id
        with pytest.raises(asyncio.TimeoutError):
            await recv_event(ws_other, "show_cancelled", timeout=1.0)
        await ws.close()
        await ws_other.close()

    run(go())


def test_two_tabs_on_two_servers_each_get_the_event_once(make_server, redis_server):
    # one user, one socket on each of two servers sharing the database and Redis: a booking
    # confirmed through a third server reaches each socket exactly once, through the bus
    a = make_server("postgres", REDIS_URL=redis_server.url)
    b = make_server("postgres", database_url=a.database_url, REDIS_URL=redis_server.url)
    c = make_server("postgres", database_url=a.database_url, REDIS_URL=redis_server.url)
    v = Venue(c)
    user = make_user(c)

    async def go():
        ws_a, _ = await authed(a, user.token)
        ws_b, _ = await authed(b, user.token)
        bk = await asyncio.to_thread(buy, c, user.token, v.show_id, v.ids("F1"))
        ids = []
        for ws in (ws_a, ws_b):
            ev = await recv_event(ws, "booking_confirmed")
            assert ev["data"]["booking_id"] == bk["id"]
            ids.append(ev["id"])
            with pytest.raises(asyncio.TimeoutError):
                await recv_event(ws, "booking_confirmed", timeout=1.0)
            await ws.close()
        assert ids[0] == ids[1]  # the same event (one id per user channel), once per tab

    run(go())


def test_idle_socket_outlives_the_http_timeouts(make_server, backend):
    # an upgraded socket is the hub's: neither MHD's CONNECTION_TIMEOUT nor the slow-client
    # reaper (CONNECTION_TIMEOUT + REQUEST_TIMEOUT) may cut it while it is idle
    srv = make_server(backend, CONNECTION_TIMEOUT="1", REQUEST_TIMEOUT="1")
    v = Venue(srv)
    other = make_user(srv)

    async def go():
        ws = await connect(srv)
        await subscribe(ws, v.show_id)
        await asyncio.sleep(4)
        await asyncio.to_thread(hold, srv, other.token, v.show_id, seat_ids=v.ids("A1"))
        ev = await recv_event(ws, "seats")
        await ws.close()
        return ev

    assert run(go())["data"]["status"] == "held"


def test_upgraded_sockets_leave_mhds_connection_limit(make_server, backend):
    # the hub owns an upgraded socket alone (ws.c dups it and gives MHD's handle back at once):
    # it holds no MHD connection slot, so more sockets than MAX_CONNECTIONS stay open and live,
    # and plain requests are still answered next to them
    srv = make_server(backend, MAX_CONNECTIONS="16")
    v = Venue(srv)
    other = make_user(srv)

    async def go():
        socks = [await connect(srv) for _ in range(24)]
        for ws in socks:
            await subscribe(ws, v.show_id)
        health = await asyncio.to_thread(requests.get, srv.url + "/healthz", timeout=TIMEOUT)
        await asyncio.to_thread(hold, srv, other.token, v.show_id, seat_ids=v.ids("A1"))
        events = [await recv_event(ws, "seats") for ws in socks]
        for ws in socks:
            await ws.close()
        return health.status_code, events

    status, events = run(go())
    assert status == 200
    assert len(events) == 24 and all(e["data"]["status"] == "held" for e in events)


def test_sockets_from_one_address_are_capped_at_per_ip_connections(make_server, backend):
    # upgraded sockets leave MHD's count (the test above), PER_IP_CONNECTIONS with it, so the
    # hub keeps that cap itself: a 4th socket from 127.0.0.1 is closed with 1013, the 3 before
    # it stay live, and once one of them has gone a new one is let in
    srv = make_server(backend, PER_IP_CONNECTIONS="3")

    async def alive(ws) -> bool:
        await send(ws, {"type": "subscribe", "channel": "show:shw_nope"})
        try:
            await recv_type(ws, "error")  # unknown show: the socket answers, so it is live
            return True
        except websockets.ConnectionClosed:
            return False

    async def go():
        socks = [await connect(srv) for _ in range(3)]
        assert [await alive(ws) for ws in socks] == [True, True, True]
        extra = await connect(srv)
        refused = await closed_with(extra, timeout=10)
        still = [await alive(ws) for ws in socks]
        await socks[0].close()
        let_in = None
        for _ in range(50):  # the hub drops the closed socket once its close handshake is done
            ws = await connect(srv)
            if await alive(ws):
                let_in = ws
                break
            await asyncio.sleep(0.1)
        for ws in socks[1:] + ([let_in] if let_in else []):
            await ws.close()
        return refused, still, let_in is not None

    refused, still, let_in = run(go())
    assert refused == (1013, "too many sockets from this address")
    assert still == [True, True, True]
    assert let_in


def test_sigterm_closes_sockets_with_1001(make_server, backend):
    srv = make_server(backend)

    async def go():
        ws = await connect(srv)
        await send(ws, {"type": "subscribe", "channel": "show:shw_nope"})
        await recv_type(ws, "error")
        srv.proc.send_signal(signal.SIGTERM)
        return await closed_with(ws, timeout=10)

    assert run(go())[0] == 1001


# ---- hold notices: hold_expiring (once, in the last minute) and hold_expired (once) -----------

# HOLD_TTL under the 60 s lead: hold_expiring comes from the first expire run after the hold
# (jobs/lifecycle.c), hold_expired from the first run after its expiry; the job every 300 ms.
FAST_EXPIRY = {"HOLD_TTL": "3", "JOB_TICK": "100ms", "JOB_LEASE": "2000ms",
               "JOB_INTERVAL_EXPIRE": "300ms"}


class Expiring(NamedTuple):
    srv: object
    v: Venue
    user: object

    async def watch_hold(self, seat: str):
        """The user's socket (authenticated), then a hold of one seat; both."""
        ws, _ = await authed(self.srv, self.user.token)
        h = await asyncio.to_thread(hold, self.srv, self.user.token, self.v.show_id,
                                    seat_ids=self.v.ids(seat))
        return ws, h


@pytest.fixture
def expiring(make_server, backend) -> Expiring:
    """A FAST_EXPIRY server on the test's database, a venue and a user on it."""
    srv = make_server(backend, **FAST_EXPIRY)
    return Expiring(srv, Venue(srv), make_user(srv))


async def events_for(ws, seconds: float) -> list[dict]:
    """Every event the socket gets in the next `seconds`."""
    out = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            m = await recv(ws, left)
        except asyncio.TimeoutError:
            break
        if m["type"] == "event":
            out.append(m)
    return out


def hold_notices(events: list[dict], hold_id: str) -> list[str]:
    return [e["event"] for e in events
            if e["event"].startswith("hold_") and e["data"].get("hold_id") == hold_id]


def test_lapsed_hold_sends_hold_expiring_then_hold_expired_once(expiring):
    srv, v = expiring.srv, expiring.v
    other = make_user(srv)

    async def go():
        ws_other, _ = await authed(srv, other.token)
        ws, h = await expiring.watch_hold("A7")
        ev = await recv_event(ws, "hold_expiring", timeout=10)
        assert ev["channel"] == "user"
        assert ev["data"] == {"hold_id": h["hold_id"], "show_id": v.show_id,
                              "expires_at": h["expires_at"]}
        late = await recv_event(ws, "hold_expired", timeout=10)
        assert late["data"] == ev["data"] and late["id"] > ev["id"]
        # several more runs of the job, and its retiring of the hold: nothing more
        rest = await events_for(ws, 2.0)
        assert hold_notices(rest, h["hold_id"]) == []
        assert await events_for(ws_other, 0.2) == []  # another user hears nothing
        await ws.close()
        await ws_other.close()

    run(go())


def test_released_and_booked_holds_send_no_hold_expired(expiring):
    # a hold let go by its user, and one booked and paid: hold_expiring may come (they were in
    # their last minute), hold_expired never
    srv, v, user = expiring

    async def go():
        ws, h = await expiring.watch_hold("B7")
        r = await asyncio.to_thread(release, srv, user.token, h["hold_id"])
        assert r.status_code in (200, 204), r.text
        b = await asyncio.to_thread(buy, srv, user.token, v.show_id, v.ids("B8"))
        events = await events_for(ws, 5.0)
        assert "hold_expired" not in [e["event"] for e in events], events
        assert any(e["event"] == "booking_confirmed" and e["data"]["booking_id"] == b["id"]
                   for e in events)
        await ws.close()

    run(go())


def test_hold_notices_once_with_two_servers(make_server, redis_server):
    # two servers running the jobs on one database and one Redis, a socket of the user on each:
    # each socket hears hold_expiring once and hold_expired once, whichever server sent them
    a = make_server("postgres", REDIS_URL=redis_server.url, **FAST_EXPIRY)
    b = make_server("postgres", database_url=a.database_url, REDIS_URL=redis_server.url,
                    **FAST_EXPIRY)
    v = Venue(a)
    user = make_user(a)

    async def go():
        ws_a, _ = await authed(a, user.token)
        ws_b, _ = await authed(b, user.token)
        h = await asyncio.to_thread(hold, b, user.token, v.show_id, seat_ids=v.ids("C7", "C8"))
        got = await asyncio.gather(events_for(ws_a, 6.0), events_for(ws_b, 6.0))
        for events in got:
            assert hold_notices(events, h["hold_id"]) == ["hold_expiring", "hold_expired"], events
        assert [e["id"] for e in got[0] if e["event"].startswith("hold_")] == \
            [e["id"] for e in got[1] if e["event"].startswith("hold_")]
        await ws_a.close()
        await ws_b.close()

    run(go())


def test_concurrent_expire_runs_send_each_notice_once(make_server, backend, redis_server,
                                                      tmp_path):
    # `ticketd jobs run-once expire` takes no lease (main.c): four of them at once, next to a
    # server with the jobs off, race for the same hold in its last minute. The claim in the
    # UPDATE (migration 0025) lets one of them have it: one hold_expiring on the socket, and
    # the runs' counts add up to one.
    srv = make_server(backend, JOBS="off", HOLD_TTL="30", REDIS_URL=redis_server.url)
    v = Venue(srv)
    user = make_user(srv)
    env = server_env(srv.database_url, REDIS_URL=redis_server.url, HOLD_TTL="30",
                     LOG_LEVEL="warn")

    async def go():
        ws, _ = await authed(srv, user.token)
        h = await asyncio.to_thread(hold, srv, user.token, v.show_id, seat_ids=v.ids("C9"))
        procs = [subprocess.Popen([str(TICKETD_BIN), "jobs", "run-once", "expire"], env=env,
                                  cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        outs = [await asyncio.to_thread(p.communicate, None, 30) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        counts = [json.loads(out)["holds_expiring"] for out, _ in outs]
        assert sum(counts) == 1, counts
        events = await events_for(ws, 1.5)
        assert hold_notices(events, h["hold_id"]) == ["hold_expiring"], events
        await ws.close()

    run(go())


def test_unpaid_booking_gets_hold_expiring_then_hold_expired(expiring):
    # the hold behind a booking left unpaid: hold_expiring (by the hold's id) in the last minute,
    # then the booking's own hold_expired (by the booking's id), each once
    srv, v, user = expiring

    async def go():
        ws, h = await expiring.watch_hold("D7")
        body = await asyncio.to_thread(book, srv, user.token, h["hold_id"])
        events = await events_for(ws, 6.0)
        names = [e["event"] for e in events if e["event"].startswith("hold_")]
        assert names == ["hold_expiring", "hold_expired"], events
        soon = [e for e in events if e["event"] == "hold_expiring"][0]
        assert soon["data"] == {"hold_id": h["hold_id"], "show_id": v.show_id,
                                "expires_at": h["expires_at"]}
        exp = [e for e in events if e["event"] == "hold_expired"][0]
        assert exp["data"] == {"booking_id": body["booking"]["id"], "show_id": v.show_id,
                               "status": "expired"}
        await ws.close()

    run(go())


# ---- show_rescheduled -----------------------------------------------------------------------


def test_show_rescheduled_reaches_buyers_and_holders(server):
    v = Venue(server)
    buyer, holder, other = make_user(server), make_user(server), make_user(server)
    buy(server, buyer.token, v.show_id, v.ids("E3"))
    buy(server, buyer.token, v.show_id, v.ids("E4"))  # two bookings, one event
    hold(server, holder.token, v.show_id, seat_ids=v.ids("E5"))
    old = v.show["starts_at"]
    new = iso(parse_time(old) + timedelta(hours=5))

    async def go():
        sockets = [(await authed(server, u.token))[0] for u in (buyer, holder, other)]
        r = await asyncio.to_thread(api, "PATCH", server, f"/shows/{v.show_id}",
                                    token=v.owner_token, json={"prices": {"premium": 41000}})
        assert r.status_code == 200, r.text
        r = await asyncio.to_thread(api, "PATCH", server, f"/shows/{v.show_id}",
                                    token=v.owner_token, json={"starts_at": new})
        assert r.status_code == 200, r.text
        got = [await events_for(ws, 1.5) for ws in sockets]
        for events in got[:2]:
            moves = [e for e in events if e["event"] == "show_rescheduled"]
            assert len(moves) == 1, events  # once per user, not per booking nor per change
            assert moves[0]["data"] == {"show_id": v.show_id, "previous_starts_at": old,
                                        "starts_at": r.json()["starts_at"],
                                        "ends_at": r.json()["ends_at"]}
            assert parse_time(moves[0]["data"]["starts_at"]) == parse_time(new)
        assert [e for e in got[2] if e["event"] == "show_rescheduled"] == []
        for ws in sockets:
            await ws.close()

    run(go())


# ---- a server dies: its sockets go elsewhere and resume -------------------------------------


def test_killed_servers_socket_resumes_on_another(make_server, backend, redis_server):
    # a socket on server A follows a show; A is killed (SIGKILL: no close frame); seats change
    # through B meanwhile; the client reconnects to B with the last id it saw and gets every
    # missed change in order (the backlog is Redis's, not A's), then the live stream goes on
    a = make_server(backend, REDIS_URL=redis_server.url)
    b = make_server(backend, database_url=a.database_url, REDIS_URL=redis_server.url)
    v = Venue(b)
    u1, u2, u3 = make_user(b), make_user(b), make_user(b)

    async def go():
        ws = await connect(a)
        last = (await subscribe(ws, v.show_id))["last_event_id"]
        await asyncio.to_thread(hold, b, u1.token, v.show_id, seat_ids=v.ids("F1"))
        ev = await recv_event(ws, "seats")
        last = ev["id"]
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        await asyncio.to_thread(hold, b, u2.token, v.show_id, seat_ids=v.ids("F2"))
        await asyncio.to_thread(hold, b, u3.token, v.show_id, seat_ids=v.ids("F3"))
        ws = await connect(b)
        await send(ws, {"type": "subscribe", "channel": f"show:{v.show_id}",
                        "last_event_id": last})
        e1 = await recv_event(ws, "seats")
        e2 = await recv_event(ws, "seats")
        assert (e1["id"], e1["data"]["seats"]) == (last + 1, v.ids("F2"))
        assert (e2["id"], e2["data"]["seats"]) == (last + 2, v.ids("F3"))
        assert (await recv_type(ws, "subscribed"))["last_event_id"] == last + 2
        await asyncio.to_thread(hold, b, u1.token, v.show_id, seat_ids=v.ids("F4"))
        e3 = await recv_event(ws, "seats")
        assert e3["id"] == last + 3
        await ws.close()

    run(go())


def test_user_channel_resumes_on_another_server(make_server, backend, redis_server):
    # the user channel's backlog is the bus's (Redis), not one server's: a socket on A, closed;
    # two bookings confirmed through B meanwhile; a socket on B resuming with A's last id gets
    # both, in order, once each, then "ready" naming the newer id
    a = make_server(backend, REDIS_URL=redis_server.url)
    b = make_server(backend, database_url=a.database_url, REDIS_URL=redis_server.url)
    v = Venue(b)
    user = make_user(b)

    async def go():
        ws, ready = await authed(a, user.token)
        last = ready["last_event_id"]
        await ws.close()
        b1 = await asyncio.to_thread(buy, b, user.token, v.show_id, v.ids("F5"))
        b2 = await asyncio.to_thread(buy, b, user.token, v.show_id, v.ids("F6"))
        ws, missed, ready = await resumed(b, user.token, last)
        assert [(e["event"], e["id"], e["data"]["booking_id"]) for e in missed] == \
            [("booking_confirmed", last + 1, b1["id"]), ("booking_confirmed", last + 2, b2["id"])]
        assert ready["last_event_id"] == last + 2
        assert await events_for(ws, 1.0) == []
        await ws.close()

    run(go())
