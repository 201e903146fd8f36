#!/usr/bin/python3
"""
What an idle Server-Sent Events stream costs the server in memory (issue 13: 5,000 idle streams
within 50 MiB RSS; the same budget will hold for WebSockets).

Starts the release server itself (SQLite in a temp dir by default; --database-url for an
existing PostgreSQL database), sets up one show over the API (owner, approved theatre, 10-seat
hall, movie, show), then:
  1. idle:   RSS of the server after the set-up requests, with no stream open;
  2. open:   N streams to GET /shows/{id}/events, each read up to its "ready" event, then left
             idle past one heartbeat (SSE_HEARTBEAT, default 2 s here so a run is short: every
             stream has been written to and suspended again at least once);
  3. event:  one hold on the show; every one of the N streams must get its "seats" event (proof
             that the streams are live, and the memory a delivery to all of them touches);
  4. RSS again after another heartbeat.
RSS is VmRSS from /proc/<pid>/status (kernel socket buffers are not in it); the idle and open
lines also split it into RssAnon and RssFile. The client is one asyncio loop on raw sockets (a
few KiB per stream in this process, not in the server).

Prints the phases, and last one line for bench/compare.sh:
    sse_streams=N rss_mib=X per_stream_kib=Y
(rss_mib: the server's RSS with N idle streams after the event; per_stream_kib: that minus the
idle RSS, over N). Exit status 1 when a stream failed to open or missed the event.

Usage: bench/sse_memory.py [--streams 5000] [--bin build/ticketd] [--out FILE]
       [--env NAME=VALUE ...]  (extra server settings, e.g. to compare a setting)
Only the standard library; the loop is bench/benchlib.py's MemoryBench (shared with
bench/ws_memory.py), this file only the SSE client.
"""

from __future__ import annotations

import asyncio
import sys

from benchlib import MarkerStream, MemoryBench


class Stream(MarkerStream):
    """One raw-socket SSE client."""

    READY, SEATS = b"event: ready", b"event: seats"

    async def handshake(self, port: int, show_id: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(f"GET /api/v1/shows/{show_id}/events HTTP/1.1\r\nHost: x\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))


BENCH = MemoryBench(
    title="SSE", unit="stream", tmp_prefix="ticketd-sse-mem-", theatre="Stream Palace",
    stream_cls=Stream,
    result=lambda n, rss, per: f"sse_streams={n} rss_mib={rss:.1f} per_stream_kib={per:.2f}")

if __name__ == "__main__":
    sys.exit(BENCH.main(__doc__.split("\n\n")[0]))
