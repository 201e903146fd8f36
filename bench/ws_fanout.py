#!/usr/bin/python3
"""
Event fan-out latency across servers (issue 15): a hold placed on server A, the "seats" event read
by a WebSocket on server C, three servers sharing one database and one Redis (the event bus).

Starts redis-server (or uses --redis-url) and three release servers A, B, C on one database
(a shared SQLite file in a temp dir by default; --database-url for PostgreSQL), sets up one show
over A's API (owner, approved theatre, a hall of 10 x 10 seats, movie, show) and a few buyers,
opens one WebSocket on C and one on A, both subscribed to the show's channel, then, one at a
time, --events times: a hold of one seat through A, then its release through A (so each pair is
two events: "held", "available"). For every event it records, from just before the request is
written on A:
  - to_c: until the event is read on C's socket (the hop through Redis to another server);
  - to_a: until it is read on A's own socket (the same path, minus the other server);
  - http: until A's answer is read (the event is published after the commit, before the answer);
  - hop: to_c minus to_a for the same event, what the second server adds (may be negative: the
    two sockets are read by one client loop, in whichever order their bytes come).
Requests are sequential: this measures latency, not throughput. Each event is matched by its
seat id and status, so a lost or duplicated event fails the run.

Prints the percentiles and last one line for bench/compare.sh:
    ws_fanout_events=N db=... p50_ms=X p99_ms=Y (to C) local_p50_ms=... http_p50_ms=...
    hop_p50_ms=... hop_p99_ms=...
Exit status 1 when an event went missing (5 s) or arrived twice.

Usage: bench/ws_fanout.py [--events 1000] [--bin build/ticketd] [--database-url URL]
       [--redis-url redis://...] [--out FILE]
Needs python3-websockets (a test dependency, scripts/deps.sh) and redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    Api, Report, Venue, error_lines, free_port, pct, revision, server_env, stop_all, wait_port,
)

REPO = Path(__file__).resolve().parents[1]
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@fanout.test", "fanout-admin-password-1"
PASSWORD = "fanout-user-password-1"
BUYERS = 10


class Socket:
    """A websockets client on one server's /ws, subscribed to a show: each seats event's
    arrival time by (seat id, status), and a count of duplicates."""

    def __init__(self):
        self.ws = None
        self.arrived: dict[tuple[str, str], float] = {}
        self.waiters: dict[tuple[str, str], asyncio.Event] = {}
        self.dups = 0

    async def open(self, port: int, show_id: str) -> None:
        self.ws = await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws", ping_interval=None,
                                           max_queue=None)
        await self.ws.send(json.dumps({"type": "subscribe", "channel": f"show:{show_id}"}))
        while True:
            m = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if m["type"] == "subscribed":
                break
        asyncio.get_running_loop().create_task(self.pump())

    async def pump(self) -> None:
        try:
            async for raw in self.ws:
                t = time.perf_counter()
                m = json.loads(raw)
                if m.get("type") != "event" or m.get("event") != "seats":
                    continue
                for seat in m["data"]["seats"]:
                    k = (seat, m["data"]["status"])
                    if k in self.arrived:
                        self.dups += 1
                    self.arrived[k] = t
                    self.waiters.setdefault(k, asyncio.Event()).set()
        except websockets.ConnectionClosed:
            return

    async def wait(self, k: tuple[str, str], timeout: float = 5.0) -> float:
        ev = self.waiters.setdefault(k, asyncio.Event())
        await asyncio.wait_for(ev.wait(), timeout)
        del self.waiters[k]
        return self.arrived.pop(k)


async def measure(args, ports: list[int], log) -> int:
    a_port, _, c_port = ports
    api = Api(a_port)
    venue = Venue(api, ADMIN_EMAIL, ADMIN_PASSWORD, password=PASSWORD, domain="fanout.test",
                  theatre="Fan-out Palace", address="1 Bus Road", rows=list("ABCDEFGHIJ"),
                  seats=10, movie="Fan-out")
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0, microsecond=0)
    show_id, seats = venue.show(start)
    buyers = [Api(a_port, venue.account(f"buyer{i}")["access_token"]) for i in range(BUYERS)]
    on_c, on_a = Socket(), Socket()
    await on_c.open(c_port, show_id)
    await on_a.open(a_port, show_id)
    to_c: list[float] = []
    to_a: list[float] = []
    http: list[float] = []
    pairs = (args.events + 1) // 2
    for i in range(pairs):
        buyer = buyers[i % BUYERS]
        seat = seats[i % len(seats)]
        for step in ("held", "available"):
            t0 = time.perf_counter()
            if step == "held":
                status, body = await asyncio.to_thread(buyer.call, "POST",
                                                       f"/shows/{show_id}/holds",
                                                       {"seat_ids": [seat]})
                ok = status == 201
                hold_id = body["hold_id"] if ok else None
            else:
                status, body = await asyncio.to_thread(buyer.call, "DELETE", f"/holds/{hold_id}")
                ok = status in (200, 204)
            t_http = time.perf_counter()
            if not ok:
                log(f"FAIL: {step} of {seat} -> {status} {body}")
                return 1
            try:
                tc = await on_c.wait((seat, step))
                ta = await on_a.wait((seat, step))
            except asyncio.TimeoutError:
                log(f"FAIL: event {len(to_c) + 1} ({seat} {step}) missing after 5 s")
                return 1
            to_c.append((tc - t0) * 1000)
            to_a.append((ta - t0) * 1000)
            http.append((t_http - t0) * 1000)
    await asyncio.sleep(0.5)
    if on_c.dups or on_a.dups:
        log(f"FAIL: duplicated events: {on_c.dups} on C, {on_a.dups} on A")
        return 1
    hop = [c - a for c, a in zip(to_c, to_a)]
    for name, xs in (("hold/release on A -> event on C", to_c),
                     ("hold/release on A -> event on A", to_a),
                     ("hold/release on A -> A's answer", http),
                     ("event on C minus event on A", hop)):
        log(f"{name:34s} n={len(xs)} p50 {pct(xs, 50):.2f} ms  p90 {pct(xs, 90):.2f} ms  "
            f"p99 {pct(xs, 99):.2f} ms  max {max(xs):.2f} ms")
    log(f"ws_fanout_events={len(to_c)} db={args.db_kind} p50_ms={pct(to_c, 50):.2f} "
        f"p99_ms={pct(to_c, 99):.2f} local_p50_ms={pct(to_a, 50):.2f} "
        f"local_p99_ms={pct(to_a, 99):.2f} http_p50_ms={pct(http, 50):.2f} "
        f"hop_p50_ms={pct(hop, 50):.2f} hop_p99_ms={pct(hop, 99):.2f}")
    await on_c.ws.close()
    await on_a.ws.close()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1000)
    p.add_argument("--bin", default=os.environ.get("TICKETD_BIN", str(REPO / "build/ticketd")))
    p.add_argument("--database-url", default="", help="default: a shared SQLite file")
    p.add_argument("--redis-url", default="", help="default: a redis-server started here")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the servers")
    p.add_argument("--out", default="", help="also append the report to this file")
    args = p.parse_args()
    args.db_kind = "postgres" if args.database_url else "sqlite"

    report = Report(args.out)
    log = report.log

    tmp = tempfile.mkdtemp(prefix="ticketd-ws-fanout-")
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        redis_url = args.redis_url
        if not redis_url:
            rport = free_port()
            rbin = shutil.which("redis-server") or "/usr/bin/redis-server"
            rlog = open(f"{tmp}/redis.log", "w")
            logs.append(rlog)
            procs.append(subprocess.Popen(
                [rbin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=rlog, stderr=subprocess.STDOUT))
            wait_port(rport, procs[-1], f"{tmp}/redis.log", "redis-server")
            redis_url = f"redis://127.0.0.1:{rport}"
        log(f"ticketd WebSocket fan-out bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
            f"{revision()} events={args.events} servers=3 "
            f"db={args.db_kind} bus=redis nproc={os.cpu_count()} "
            f"load={os.getloadavg()[0]:.1f} extra={' '.join(args.env) or '-'}")
        ports = []
        for name in "ABC":
            port = free_port()
            env = server_env(port, tmp, args.database_url, (ADMIN_EMAIL, ADMIN_PASSWORD),
                             args.env, REDIS_URL=redis_url)
            log_path = f"{tmp}/ticketd-{name}.log"
            lf = open(log_path, "w")
            logs.append(lf)
            procs.append(subprocess.Popen([args.bin], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                                          stdout=lf, stderr=subprocess.STDOUT))
            wait_port(port, procs[-1], log_path, f"server {name}")
            ports.append(port)
        rc = asyncio.run(measure(args, ports, log))
    finally:
        stop_all(procs)
        for f in logs:
            f.close()
        errors = error_lines([f"{tmp}/ticketd-{name}.log" for name in "ABC"])
        subprocess.run(["rm", "-rf", tmp])
    report.finish(errors)
    return rc


if __name__ == "__main__":
    sys.exit(main())
