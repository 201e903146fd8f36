#!/usr/bin/python3
"""
What an idle WebSocket costs the server in memory (issue 15: 5,000 idle sockets within the SSE
budget of issue 13, 50 MiB RSS). The model is bench/sse_memory.py; the phases are the same.

Starts the release server itself (SQLite in a temp dir by default; --database-url for an
existing PostgreSQL database), sets up one show over the API (owner, approved theatre, 10-seat
hall, movie, show), then:
  1. idle:   RSS of the server after the set-up requests, with no stream open;
  2. open:   N WebSockets to GET /ws, each subscribed to the show ({"type":"subscribe"}) and read
             up to its "subscribed" answer, then left idle (MHD's connection
             record and memory pool are freed at the upgrade: http/ws.c);
  3. event:  one hold on the show; every one of the N sockets must get its "seats" event (proof
             that the sockets are live, and the memory a delivery to all of them touches);
  4. RSS again after another heartbeat.
RSS is VmRSS from /proc/<pid>/status (kernel socket buffers are not in it). The client is one
asyncio loop on raw sockets (a few KiB per socket in this process, not in the server).

Prints the phases, and last one line for bench/compare.sh:
    ws_sockets=N rss_mib=X per_socket_kib=Y sockets_per_mib=Z
(rss_mib: the server's RSS with N idle sockets after the event; per_socket_kib: that minus the
idle RSS, over N; sockets_per_mib its inverse). Exit status 1 when a socket failed to open or
missed the event.

Usage: bench/ws_memory.py [--streams 5000] [--bin build/ticketd] [--out FILE]
       [--env NAME=VALUE ...]  (extra server settings, e.g. to compare a setting)
Only the standard library; the loop is bench/benchlib.py's MemoryBench (shared with
bench/sse_memory.py), this file only the WebSocket client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

from benchlib import MarkerStream, MemoryBench


def text_frame(payload: bytes) -> bytes:
    """A masked client text frame (payload under 126 bytes)."""
    key = os.urandom(4)
    return (bytes([0x81, 0x80 | len(payload)]) + key +
            bytes(c ^ key[i % 4] for i, c in enumerate(payload)))


class Stream(MarkerStream):
    """One raw-socket WebSocket client, subscribed to the show."""

    READY, SEATS, KEEP = b'"type":"subscribed"', b'"event":"seats"', 512

    async def handshake(self, port: int, show_id: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(f"GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))
        self.writer.write(text_frame(json.dumps({"type": "subscribe",
                                                 "channel": f"show:{show_id}"}).encode()))
        await self.writer.drain()


BENCH = MemoryBench(
    title="WebSocket", unit="socket", tmp_prefix="ticketd-ws-mem-", theatre="Socket Palace",
    stream_cls=Stream,
    result=lambda n, rss, per: (f"ws_sockets={n} rss_mib={rss:.1f} per_socket_kib={per:.2f} "
                                f"sockets_per_mib={1024 / per if per > 0 else float('inf'):.0f}"))

if __name__ == "__main__":
    sys.exit(BENCH.main(__doc__.split("\n\n")[0]))
