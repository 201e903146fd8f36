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

Usage: bench/burst.py --url http://127.0.0.1:PORT --admin-email E --admin-password P
         [--users 100] [--rounds 5] [--rows 20]
Prints every round (p50, p99, status mix of both bursts) and a last line
  burst: holds p50 X ms, healthz p50 Y ms, ratio R (rounds' ratios ...)
Only the standard library. Exits non-zero when a hold burst is not all 201.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
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


async def run(url: str, show: str, tokens: list[str], ids: list[str], rounds: int) -> int:
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
        hl, hs = await burst(conns, holds)
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
    a = ap.parse_args()
    if a.users * 2 * a.rounds > a.rows * 100:
        ap.error("not enough seats: rounds x users x 2 must fit in rows x 100")
    show, tokens, ids = setup(a.url, a.admin_email, a.admin_password, a.users, a.rows)
    return asyncio.run(run(a.url, show, tokens, ids, a.rounds))


if __name__ == "__main__":
    sys.exit(main())
