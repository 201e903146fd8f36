#!/usr/bin/python3
"""
What an idle WebSocket costs the server in memory (issue 15: 5,000 idle sockets within the SSE
budget of issue 13, 50 MiB RSS). The model is bench/sse_memory.py; the phases are the same.

Starts the release server itself (SQLite in a temp dir by default; --database-url for an
existing PostgreSQL database), sets up one show over the API (owner, approved theatre, 10-seat
hall, movie, show), then:
  1. idle:   RSS of the server after the set-up requests, with no stream open;
  2. open:   N WebSockets to GET /ws, each subscribed to the show ({"type":"subscribe"}) and read
             up to its "subscribed" answer, then left idle (MHD keeps its connection record and
             memory pool for every upgraded socket: that is in the number);
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
Only the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@sse.test", "sse-admin-password-1"
PASSWORD = "sse-user-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def threads(pid: int) -> int:
    return status_kib(pid, "Threads")


class Api:
    def __init__(self, port: int):
        self.port = port

    def ok(self, method: str, path: str, body=None, status: int = 200, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        c.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                  headers=headers)
        r = c.getresponse()
        payload = r.read()
        c.close()
        if r.status != status:
            raise SystemExit(f"set-up: {method} {path} -> {r.status} {payload[:300]!r}")
        return json.loads(payload) if payload else None


def setup(port: int):
    """An approved theatre with a 10-seat hall and one show; returns (show_id, seat ids, token)."""
    a = Api(port)
    at = a.ok("POST", "/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})[
        "access_token"]

    def account(label: str) -> dict:
        email = f"{label}-{uuid.uuid4().hex[:10]}@sse.test"
        return a.ok("POST", "/auth/register", {"email": email, "password": PASSWORD,
                                               "name": label}, 201) | {"email": email}

    owner = account("owner")
    a.ok("PATCH", f"/admin/users/{owner['user']['id']}", {"role": "owner"}, token=at)
    ot = a.ok("POST", "/auth/login", {"email": owner["email"], "password": PASSWORD})[
        "access_token"]
    theatre = a.ok("POST", "/theatres", {"name": "Socket Palace", "city": "Pune",
                                         "address": "1 Socket Road"}, 201, ot)
    a.ok("POST", f"/admin/theatres/{theatre['id']}/approve", None, 200, at)
    hall = a.ok("POST", f"/theatres/{theatre['id']}/halls",
                {"name": "Audi 1", "layout": {"rows": [
                    {"label": "A", "seats": 10, "category": "regular"}]}}, 201, ot)
    movie = a.ok("POST", "/movies", {"title": "Streams", "duration_minutes": 120,
                                     "release_date": "2026-01-01", "certificate": "U",
                                     "languages": ["en"], "genres": ["drama"]}, 201, at)
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0, microsecond=0)
    show = a.ok("POST", "/shows", {"movie_id": movie["id"], "hall_id": hall["id"],
                                   "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "prices": {"regular": 20000}, "currency": "INR"}, 201, ot)
    seats = [s["id"] for s in a.ok("GET", f"/shows/{show['id']}/seats")["seats"]]
    buyer = account("buyer")["access_token"]
    return show["id"], seats, buyer


def text_frame(payload: bytes) -> bytes:
    """A masked client text frame (payload under 126 bytes)."""
    key = os.urandom(4)
    return (bytes([0x81, 0x80 | len(payload)]) + key +
            bytes(c ^ key[i % 4] for i, c in enumerate(payload)))


class Stream:
    """One raw-socket WebSocket client: reads and looks for markers, keeps nothing else."""

    def __init__(self):
        self.reader = self.writer = None
        self.ready = asyncio.Event()
        self.seats = asyncio.Event()
        self.pending = b""

    async def open(self, port: int, show_id: str):
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
        asyncio.get_running_loop().create_task(self.pump())

    async def pump(self):
        while True:
            data = await self.reader.read(4096)
            if not data:
                return
            self.pending = (self.pending + data)[-512:]  # markers may straddle reads
            if b'"type":"subscribed"' in self.pending:
                self.ready.set()
            if b'"event":"seats"' in self.pending:
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
    log(f"opened: {len(streams)} sockets in {time.monotonic() - t0:.1f} s")
    await asyncio.sleep(args.settle)
    at_n = status_kib(pid, "VmRSS")
    log(f"open:   rss {mib(at_n):.1f} MiB with {len(streams)} idle sockets "
        f"({(at_n - idle) / len(streams):.2f} KiB per socket), threads {threads(pid)}")
    Api(port).ok("POST", f"/shows/{show_id}/holds", {"seat_ids": seats[:2]}, 201, buyer)
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
        f"{per:.2f} KiB per socket over idle")
    for s in streams:
        s.writer.close()
    log(f"ws_sockets={len(streams)} rss_mib={mib(final):.1f} per_socket_kib={per:.2f} "
        f"sockets_per_mib={1024 / per if per > 0 else float('inf'):.0f}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=5000)
    p.add_argument("--batch", type=int, default=250, help="sockets opened at once")
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

    tmp = tempfile.mkdtemp(prefix="ticketd-ws-mem-")
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
    log(f"ticketd WebSocket memory bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
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
