#!/usr/bin/python3
"""
Burst latency (issue 13, row 5): 100 users each hold 2 seats in the same instant, beside the
same client bursting GET /healthz over the same 100 connections.

The client opens one keep-alive connection per user beforehand, then writes all 100 requests
in one loop (a few milliseconds for the whole burst) and reads the answers as they come. A
request's latency runs from its write to the last byte of its answer, so both bursts pay the
same client overhead (asyncio on the machine's own cores). Each round makes one hold burst on
100 fresh seat pairs of one show (no two users ask for the same seat: every hold should be a
201) and one /healthz burst right after it; the row's figures are the medians of the rounds'
p50s, and its ratio the median of the rounds' ratios (each pair saw nearly the same machine).

Set-up through the API: admin login, a movie, an approved theatre, a hall of ROWS x 100 seats,
one show, USERS registered users (RATE_LIMIT=off on the server, as in every bench).

Where a hold burst's time goes (--profile, needs --pg-url; compare.sh passes it with
BURST_PROFILE=1): around every hold burst, the database's commits and WAL flushes (pg_stat_database,
pg_stat_wal; the flushes' time when PostgreSQL runs with track_wal_io_timing=on), the CPU time of
PostgreSQL (--pg-pid: the postmaster, its children and reaped children) and of the server
(--server-pid), and the server's own account of the holds (GET /metrics: mean time from the first
byte to the answer, of which waiting for a handler thread and for a database connection).

Usage: bench/burst.py --url http://127.0.0.1:PORT --admin-email E --admin-password P
         [--users 100] [--rounds 5] [--rows 20]
         [--profile --pg-url postgres://... [--pg-pid PID] [--server-pid PID]]
Prints every round (p50, p99, status mix of both bursts) and a last line
  burst: holds p50 X ms, healthz p50 Y ms, ratio R (rounds' ratios ...)
Only the standard library. Exits non-zero when a hold burst is not all 201.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter


def api(base: str, method: str, path: str, body=None, token: str | None = None) -> dict:
    req = urllib.request.Request(base + "/api/v1" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
    return json.loads(data) if data else {}


def setup(base: str, email: str, password: str, users: int, rows: int):
    """(show id, [(token, [seat ids of this user's pairs, round by round])...])."""
    tok = api(base, "POST", "/auth/login", {"email": email, "password": password})["access_token"]
    movie = api(base, "POST", "/movies", {"title": "Burst", "duration_minutes": 60,
                                          "release_date": "2026-01-01", "certificate": "U"}, tok)
    th = api(base, "POST", "/theatres", {"name": "Burst", "city": "Burst", "address": "x"}, tok)
    try:
        api(base, "POST", f"/admin/theatres/{th['id']}/approve", None, tok)
    except urllib.error.HTTPError:
        pass  # already approved
    layout = {"rows": [{"label": f"B{r:02d}", "seats": 100, "category": "standard"}
                       for r in range(rows)]}
    hall = api(base, "POST", f"/theatres/{th['id']}/halls", {"name": "Burst", "layout": layout},
               tok)
    t = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    show = api(base, "POST", "/shows", {"movie_id": movie["id"], "hall_id": hall["id"],
                                        "starts_at": t, "currency": "INR",
                                        "prices": {"standard": 20000}}, tok)["id"]
    seats = api(base, "GET", f"/shows/{show}/seats")["seats"]
    ids = [s["id"] for s in sorted(seats, key=lambda s: (s["y"], s["x"]))]
    stamp = int(time.time() * 1000)
    tokens = [api(base, "POST", "/auth/register",
                  {"email": f"burst{stamp}-{i}@bench.local", "password": "burst-password-1",
                   "name": f"b{i}"})["access_token"] for i in range(users)]
    return show, tokens, ids


class Conn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def response(self) -> tuple[int, bytes]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        n = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                n = int(v.strip())
        return status, (await self.reader.readexactly(n)) if n else b""


def request(host: str, method: str, path: str, body=None, token: str | None = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(data)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def burst(conns: list[Conn], reqs: list[bytes]):
    """Writes every request, one per connection, in one loop; (latencies in ms, status mix)."""
    async def one(c: Conn, t0: float):
        st, _ = await c.response()
        return (time.perf_counter() - t0) * 1000, st

    tasks = []
    for c, r in zip(conns, reqs):
        t0 = time.perf_counter()
        c.writer.write(r)
        tasks.append(asyncio.ensure_future(one(c, t0)))
    res = await asyncio.gather(*tasks)
    return [r[0] for r in res], Counter(r[1] for r in res)


def pct(v: list[float], p: float) -> float:
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid: int, children: bool) -> int:
    """utime + stime of pid (+ its reaped children's and its live children's, when asked)."""
    def stat(p: int) -> list[str]:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    try:
        v = stat(pid)
    except OSError:
        return 0
    t = int(v[11]) + int(v[12]) + (int(v[13]) + int(v[14]) if children else 0)
    if children:
        for c in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                text=True).stdout.split():
            try:
                w = stat(int(c))
                t += int(w[11]) + int(w[12])
            except OSError:
                pass
    return t


class Profile:
    """Counters read before and after a hold burst (see the module's doc)."""

    def __init__(self, url: str, pg_url: str, pg_pid: int | None, server_pid: int | None):
        self.url, self.pg_url, self.pg_pid, self.server_pid = url, pg_url, pg_pid, server_pid

    def sample(self) -> dict:
        out = subprocess.run(
            ["psql", "-X", "-At", "-F", " ", "-d", self.pg_url, "-c",
             "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),"
             " wal_sync, wal_sync_time, wal_write, wal_records FROM pg_stat_wal"],
            capture_output=True, text=True, check=True).stdout.split()
        m = {"commits": int(out[0]), "syncs": int(out[1]), "sync_ms": float(out[2]),
             "writes": int(out[3]), "records": int(out[4])}
        m["pg_cpu"] = ticks(self.pg_pid, True) if self.pg_pid else 0
        m["srv_cpu"] = ticks(self.server_pid, False) if self.server_pid else 0
        with urllib.request.urlopen(self.url + "/metrics", timeout=30) as r:
            text = r.read().decode()
        m["req_s"] = m["req_n"] = m["q_s"] = m["q_n"] = m["p_s"] = m["p_n"] = 0.0
        for ln in text.splitlines():
            parts = ln.rsplit(" ", 1)
            if len(parts) != 2:
                continue
            name, v = parts
            if re.match(r"ticketd_http_request_duration_seconds_(sum|count)\{", name) and \
                    'method="POST"' in name and 'route="/api/v1/shows/{id}/holds"' in name:
                m["req_s" if "_sum{" in name else "req_n"] += float(v)
            elif re.match(r"ticketd_handler_queue_wait_seconds_(sum|count)", name):
                m["q_s" if "_sum" in name else "q_n"] += float(v)
            elif re.match(r"ticketd_db_pool_wait_seconds_(sum|count)", name):
                m["p_s" if "_sum" in name else "p_n"] += float(v)
        return m

    @staticmethod
    def report(a: dict, b: dict, holds: int) -> str:
        d = {k: b[k] - a[k] for k in a}
        d["commits"] -= 1  # the sample's own query

        def mean_ms(s: str, n: str) -> float:
            return d[s] / d[n] * 1000 if d[n] else 0.0
        return (f"           db: {d['commits']} commits, {d['syncs']} WAL flushes"
                f" ({d['sync_ms']:.1f} ms in fsync), {d['records']} WAL records;"
                f" CPU: PostgreSQL {d['pg_cpu'] * 1000 / HZ:.0f} ms, server"
                f" {d['srv_cpu'] * 1000 / HZ:.0f} ms for {holds} holds\n"
                f"           server (mean per request, /metrics): hold {mean_ms('req_s', 'req_n'):.1f}"
                f" ms, of which waiting for a handler thread {mean_ms('q_s', 'q_n'):.1f} ms and for"
                f" a database connection {mean_ms('p_s', 'p_n'):.1f} ms")


async def run(url: str, show: str, tokens: list[str], ids: list[str], rounds: int,
              prof: Profile | None = None) -> int:
    u = urllib.parse.urlsplit(url)
    host = u.netloc
    conns = [Conn(u.hostname, u.port) for _ in tokens]
    await asyncio.gather(*(c.open() for c in conns))
    users = len(tokens)
    # Warm-up: every connection and user once (token checks cached, pool connections open).
    await burst(conns, [request(host, "GET", "/healthz") for _ in conns])
    await burst(conns, [request(host, "GET", f"/api/v1/shows/{show}", None, t) for t in tokens])
    ratios, hp50s, zp50s, bad = [], [], [], 0
    for rnd in range(rounds):
        base = rnd * users * 2
        holds = [request(host, "POST", f"/api/v1/shows/{show}/holds",
                         {"seat_ids": ids[base + 2 * i: base + 2 * i + 2]}, t)
                 for i, t in enumerate(tokens)]
        await asyncio.sleep(0.3)  # the previous burst's after-effects (jobs, cache) settle
        before = prof.sample() if prof else None
        hl, hs = await burst(conns, holds)
        after = prof.sample() if prof else None
        await asyncio.sleep(0.3)
        zl, zs = await burst(conns, [request(host, "GET", "/healthz") for _ in conns])
        hp, zp = pct(hl, 50), pct(zl, 50)
        ratios.append(hp / zp if zp > 0 else 0)
        hp50s.append(hp)
        zp50s.append(zp)
        bad += users - hs.get(201, 0)
        print(f"  round {rnd + 1}: holds   p50 {hp:7.1f} ms  p99 {pct(hl, 99):7.1f} ms  status "
              f"{dict(sorted(hs.items()))}\n"
              f"           healthz p50 {zp:7.1f} ms  p99 {pct(zl, 99):7.1f} ms  status "
              f"{dict(sorted(zs.items()))}  ratio {ratios[-1]:.2f}", flush=True)
        if prof:
            print(Profile.report(before, after, users), flush=True)
    for c in conns:
        c.writer.close()
    print(f"burst: holds p50 {statistics.median(hp50s):.1f} ms, healthz p50 "
          f"{statistics.median(zp50s):.1f} ms, ratio {statistics.median(ratios):.2f} "
          f"(rounds' ratios {' '.join(f'{r:.2f}' for r in ratios)}; goal <= 1.5)")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=20, help="hall rows of 100 seats")
    ap.add_argument("--profile", action="store_true", help="counters around every hold burst")
    ap.add_argument("--pg-url", help="the server's PostgreSQL (for --profile)")
    ap.add_argument("--pg-pid", type=int, help="its postmaster's pid (for --profile)")
    ap.add_argument("--server-pid", type=int, help="the server's pid (for --profile)")
    a = ap.parse_args()
    if a.profile and not a.pg_url:
        ap.error("--profile needs --pg-url")
    if a.users * 2 * a.rounds > a.rows * 100:
        ap.error("not enough seats: rounds x users x 2 must fit in rows x 100")
    show, tokens, ids = setup(a.url, a.admin_email, a.admin_password, a.users, a.rows)
    prof = Profile(a.url, a.pg_url, a.pg_pid, a.server_pid) if a.profile else None
    return asyncio.run(run(a.url, show, tokens, ids, a.rounds, prof))


if __name__ == "__main__":
    sys.exit(main())
