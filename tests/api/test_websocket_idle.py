"""
WebSockets across idle periods (http/ws.c, "parking"): the hub frees a socket's libwslay context
while the socket is idle (nothing to send, no partial frame or fragmented message read, no close
under way) and makes a new one on the next read or message to send. What the client sees must not
change: a frame cut anywhere and finished after a pause, a fragmented message with a pause (and a
ping) between its fragments, a ping or a close after a long silence, the server's own pings and its
time-out for a first message all behave as on a socket that was never idle.

These tests write raw frames after a handshake (test_websocket.py's helpers): no client library
pauses inside a frame.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

import pytest

from test_websocket import frame, handshake

SUBSCRIBE_NOPE = b'{"type":"subscribe","channel":"show:shw_nope"}'
PAUSE = 1.5  # longer than the hub's tick (1 s): the server has read, flushed and parked


class Reader:
    """The server's frames (unmasked) from a raw socket."""

    def __init__(self, s: socket.socket):
        self.s = s
        self.buf = b""

    def frame(self, timeout=5.0) -> tuple[int, bytes] | None:
        """The next frame's opcode and payload; None if the socket ended or stayed silent."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n, off = self.buf[1] & 0x7F, 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
                if n < 126 or off > 2:
                    if len(self.buf) >= off + n:
                        op, payload = self.buf[0] & 0x0F, self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        return op, payload
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def text(self, timeout=5.0) -> bytes:
        """The next text message's payload (pings, pongs and the first message's "ready" before
        it are skipped)."""
        end = time.monotonic() + timeout
        while True:
            f = self.frame(max(0.05, end - time.monotonic()))
            assert f is not None, "no text message"
            if f[0] == 0x1 and not f[1].startswith(b'{"type":"ready"'):
                return f[1]
            assert f[0] in (0x1, 0x9, 0xA), f


@contextlib.contextmanager
def opened(server):
    """An upgraded socket and its frame reader, closed on the way out."""
    s, head = handshake(server)
    try:
        assert head.startswith(b"HTTP/1.1 101"), head
        yield s, Reader(s)
    finally:
        s.close()


def assert_not_found(payload: bytes) -> None:
    assert b'"type":"error"' in payload and b'"code":"not_found"' in payload, payload


@pytest.mark.parametrize("cut", [1, 2, 4, 6, 9])
def test_frame_cut_and_finished_after_a_pause_arrives(server, cut):
    # cut after 1 byte (half the header), 2 (the header, no mask key), 4 (half the key), 6 (the
    # key) or 9 (in the payload): the bytes before the pause are held by libwslay's frame
    # context, which must not be freed with them
    with opened(server) as (s, r):
        raw = frame(0x1, SUBSCRIBE_NOPE)
        s.sendall(raw[:cut])
        time.sleep(PAUSE)
        assert r.frame(0.2) is None  # nothing answered half a frame
        s.sendall(raw[cut:])
        assert_not_found(r.text())
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))  # and the socket goes on
        assert_not_found(r.text())


def test_two_frames_in_one_segment_after_a_pause(server):
    # a whole frame and the start of the next in one write: the second's bytes stay with wslay
    with opened(server) as (s, r):
        a, b = frame(0x1, SUBSCRIBE_NOPE), frame(0x1, SUBSCRIBE_NOPE)
        s.sendall(a + b[:3])
        assert_not_found(r.text())
        time.sleep(PAUSE)
        s.sendall(b[3:])
        assert_not_found(r.text())


def test_fragmented_message_with_pauses_and_a_ping_between_fragments(server):
    # the message begun lives in libwslay's event context (imsg); a ping between two fragments
    # is answered and does not end it
    with opened(server) as (s, r):
        s.sendall(frame(0x1, SUBSCRIBE_NOPE[:10], fin=False))
        time.sleep(PAUSE)
        s.sendall(frame(0x0, SUBSCRIBE_NOPE[10:20], fin=False))
        time.sleep(PAUSE)
        s.sendall(frame(0x9, b"between"))
        assert r.frame() == (0xA, b"between")
        time.sleep(PAUSE)
        s.sendall(frame(0x0, SUBSCRIBE_NOPE[20:], fin=True))
        assert_not_found(r.text())


def test_ping_and_close_after_a_long_idle(server):
    with opened(server) as (s, r):
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))
        assert_not_found(r.text())
        time.sleep(PAUSE)
        s.sendall(frame(0x9, b"still there?"))
        assert r.frame() == (0xA, b"still there?")
        time.sleep(PAUSE)
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))
        assert_not_found(r.text())
        time.sleep(PAUSE)
        s.sendall(frame(0x8, struct.pack("!H", 1000) + b"bye"))
        f = r.frame()
        assert f is not None and f[0] == 0x8 and f[1][:2] == struct.pack("!H", 1000), f
        assert r.frame(2.0) is None  # and the server ends the socket


def test_bad_frame_after_a_long_idle_closes_1002(server):
    with opened(server) as (s, r):
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))
        assert_not_found(r.text())
        time.sleep(PAUSE)
        s.sendall(frame(0x3, b"x"))  # a reserved opcode
        f = r.frame()
        assert f is not None and f[0] == 0x8 and f[1][:2] == struct.pack("!H", 1002), f


def test_silent_socket_is_closed_1008_after_the_first_message_time(server):
    # a socket that never sends has never had a context: the time-out's close makes one
    with opened(server) as (s, r):
        f = r.frame(15.0)
        while f is not None and f[0] == 0x9:
            f = r.frame(15.0)
        assert f is not None and f[0] == 0x8 and f[1][:2] == struct.pack("!H", 1008), f


def test_server_pings_an_idle_socket_and_it_stays_after_the_pong(server):
    # the hub's tick pings a socket after WS_PING_MS (25 s) of our silence; the ping is queued
    # on a parked socket, the pong answered on another context, and the socket still works
    with opened(server) as (s, r):
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))
        assert_not_found(r.text())
        f = r.frame(30.0)
        assert f is not None and f[0] == 0x9, f
        s.sendall(frame(0xA, f[1]))
        time.sleep(PAUSE)
        s.sendall(frame(0x1, SUBSCRIBE_NOPE))
        assert_not_found(r.text())
