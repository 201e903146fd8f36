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
RSS is VmRSS from /proc/<pid>/status (kernel socket buffers are not in it). The client is one
asyncio loop on raw sockets (a few KiB per stream in this process, not in the server).

Prints the phases, and last one line for bench/compare.sh:
    sse_streams=N rss_mib=X per_stream_kib=Y
(rss_mib: the server's RSS with N idle streams after the event; per_stream_kib: that minus the
idle RSS, over N). Exit status 1 when a stream failed to open or missed the event.

Usage: bench/sse_memory.py [--streams 5000] [--bin build/ticketd] [--out FILE]
       [--env NAME=VALUE ...]  (extra server settings, e.g. to compare a setting)
Only the standard library (and bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchlib import Api, Venue, free_port

REPO = Path(__file__).resolve().parents[1]
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@sse.test", "sse-admin-password-1"
PASSWORD = "sse-user-password-1"


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def threads(pid: int) -> int:
    return status_kib(pid, "Threads")


def setup(port: int):
    """An approved theatre with a 10-seat hall and one show; returns (show_id, seat ids, token)."""
    a = Api(port)
    v = Venue(a, ADMIN_EMAIL, ADMIN_PASSWORD, password=PASSWORD, domain="sse.test",
              theatre="Stream Palace", address="1 Socket Road", rows=["A"], seats=10,
              movie="Streams")
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0, microsecond=0)
    show, seats = v.show(start)
    buyer = v.account("buyer")["access_token"]
    a.close()  # no set-up connection left open while the server's memory is measured
    return show, seats, buyer


class Stream:
    """One raw-socket SSE client: reads and counts events, keeps nothing else."""

    def __init__(self):
        self.reader = self.writer = None
        self.ready = asyncio.Event()
        self.seats = asyncio.Event()
        self.pending = b""

    async def open(self, port: int, show_id: str):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(f"GET /api/v1/shows/{show_id}/events HTTP/1.1\r\nHost: x\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))
        asyncio.get_running_loop().create_task(self.pump())

    async def pump(self):
        while True:
            data = await self.reader.read(4096)
            if not data:
                return
            self.pending = (self.pending + data)[-256:]  # event names may straddle reads
            if b"event: ready" in self.pending:
                self.ready.set()
            if b"event: seats" in self.pending:
                self.seats.set()


async def open_all(port: int, show_id: str, n: int, batch: int) -> list[Stream]:
    streams: list[Stream] = []
    for i in range(0, n, batch):
        part = [Stream() for _ in range(min(batch, n - i))]
        await asyncio.gather(*(s.open(port, show_id) for s in part))
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in part)), 30)
        streams += part
    return streams


def mib(kib: int) -> float:
    return kib / 1024


async def run(args, pid: int, port: int, log) -> int:
    show_id, seats, buyer = setup(port)
    time.sleep(0.5)
    idle = status_kib(pid, "VmRSS")
    log(f"idle:   rss {mib(idle):.1f} MiB, threads {threads(pid)} (after the set-up requests)")
    t0 = time.monotonic()
    streams = await open_all(port, show_id, args.streams, args.batch)
    log(f"opened: {len(streams)} streams in {time.monotonic() - t0:.1f} s")
    await asyncio.sleep(args.settle)
    at_n = status_kib(pid, "VmRSS")
    log(f"open:   rss {mib(at_n):.1f} MiB with {len(streams)} idle streams "
        f"({(at_n - idle) / len(streams):.2f} KiB per stream), threads {threads(pid)}")
    a = Api(port)
    a.ok("POST", f"/shows/{show_id}/holds", {"seat_ids": seats[:2]}, 201, buyer)
    a.close()
    try:
        await asyncio.wait_for(asyncio.gather(*(s.seats.wait() for s in streams)), 60)
    except asyncio.TimeoutError:
        missed = sum(1 for s in streams if not s.seats.is_set())
        log(f"FAIL: {missed} of {len(streams)} streams got no seats event within 60 s")
        return 1
    log(f"event:  all {len(streams)} streams got the seats event")
    await asyncio.sleep(args.settle)
    final = status_kib(pid, "VmRSS")
    per = (final - idle) / len(streams)
    log(f"after:  rss {mib(final):.1f} MiB (peak {mib(status_kib(pid, 'VmHWM')):.1f} MiB), "
        f"{per:.2f} KiB per stream over idle")
    for s in streams:
        s.writer.close()
    log(f"sse_streams={len(streams)} rss_mib={mib(final):.1f} per_stream_kib={per:.2f}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=5000)
    p.add_argument("--batch", type=int, default=250, help="streams opened at once")
    p.add_argument("--settle", type=float, default=3.0, help="seconds idle before a measurement")
    p.add_argument("--bin", default=os.environ.get("TICKETD_BIN", str(REPO / "build/ticketd")))
    p.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    p.add_argument("--out", default="", help="also append the report to this file")
    args = p.parse_args()

    need = args.streams + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            except (ValueError, OSError):
                raise SystemExit(f"open files limit {hard} < {need}: run as root or raise it")
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))  # the server inherits it

    lines: list[str] = []

    def log(msg: str):
        print(msg, flush=True)
        lines.append(msg)

    tmp = tempfile.mkdtemp(prefix="ticketd-sse-mem-")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TICKETD_", "DATABASE_", "PG", "REDIS", "CACHE_"))}
    env.update(
        BIND_ADDRESS="127.0.0.1", PORT=str(port),
        DATABASE_URL=args.database_url or f"sqlite://{tmp}/t.db",
        JWT_ACCESS_SECRET="bench-access-secret-6f1c2a9e0b7d4c38a5e2f9d1c0b8a7e6",
        JWT_REFRESH_SECRET="bench-refresh-secret-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d",
        PASSWORD_HASH_COST="min", ADMIN_EMAIL=ADMIN_EMAIL, ADMIN_PASSWORD=ADMIN_PASSWORD,
        RATE_LIMIT="off", LOG_LEVEL="warn", MEDIA_DIR=f"{tmp}/media",
        MAX_CONNECTIONS=str(args.streams + 200), SSE_MAX_STREAMS=str(args.streams + 100),
        SSE_HEARTBEAT="2s")
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO).returncode
    log(f"ticketd SSE memory bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
        f"{rev}{'+dirty' if dirty else ''} streams={args.streams} "
        f"db={'postgres' if args.database_url else 'sqlite'} "
        f"heartbeat={env['SSE_HEARTBEAT']} WORKERS={env.get('WORKERS', 'default')} "
        f"extra={' '.join(args.env) or '-'}")
    errlog = open(f"{tmp}/ticketd.log", "w")
    proc = subprocess.Popen([args.bin], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                            stdout=errlog, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    errlog.flush()
                    raise SystemExit("server did not start:\n" +
                                     Path(f"{tmp}/ticketd.log").read_text()[-3000:])
                time.sleep(0.1)
        rc = asyncio.run(run(args, proc.pid, port, log))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        errlog.close()
        errors = [l for l in Path(f"{tmp}/ticketd.log").read_text().splitlines()
                  if '"level":"error"' in l]
        subprocess.run(["rm", "-rf", tmp])
    if errors:
        log(f"server error lines: {len(errors)}; first: {errors[0][:300]}")
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
