#!/usr/bin/python3
"""
The door rush: 500 tickets of one show checked in by 4 scanners at once, against a running
ticketd (bench/checkin.sh starts one on PostgreSQL). Set-up (not timed): an owner, a theatre
with a 500-seat hall (20 rows of 25), a show starting in an hour (inside the check-in window),
50 buyers who buy 10 seats each (hold, book, test payment, confirm), a door-staff account.

The rush (timed): 4 threads, each with its own keep-alive connection and staff token, scan
their quarter of the 500 tickets in a shuffled order (scanners 0 and 2 send the ticket's code,
1 and 3 its signed token, which the server verifies with Ed25519), plus duplicates: every `--dup-every`-th
scan (default 8) is followed by a scan of a code already scanned (by this scanner or another),
as at a real door where people show a ticket twice. Reported: requests, throughput, latency
p50/p90/p99/max overall and per answer (200 admitted, 409 already_checked_in); checked: exactly
500 answers 200, every other answer 409 already_checked_in, no error, and GET
/shows/{id}/check-ins says sold 500, admitted 500. Exit 1 on any violation.

Only the standard library (http.client over threads; bench/benchlib.py).
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from benchlib import Api, Venue, pct, run_threads, server_args

PASSWORD = "door-rush-password-1"


def setup(port: int, admin_email: str, admin_password: str, buyers: int, per_buyer: int):
    a = Api(port)
    v = Venue(a, admin_email, admin_password, password=PASSWORD, domain="rush.test",
              theatre="Rush Palace", address="1 Door Road", rows=list("ABCDEFGHIJKLMNOPQRST"),
              seats=25, movie="Rush")
    start = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(second=0, microsecond=0)
    show, seats = v.show(start)
    codes: list[str] = []
    for b in range(buyers):
        bt = v.account(f"buyer{b}")["access_token"]
        h = a.ok("POST", f"/shows/{show}/holds",
                 {"seat_ids": seats[b * per_buyer:(b + 1) * per_buyer]}, 201, bt)
        bk = a.ok("POST", "/bookings", {"hold_id": h["hold_id"]}, 201, bt)
        p = a.ok("POST", f"/payments/test/{bk['payment']['order_id']}/pay", None, 200, bt)
        done = a.ok("POST", f"/bookings/{bk['booking']['id']}/confirm", p, 200, bt)
        codes += [(t["code"], t["token"]) for t in done["tickets"]]
    door = v.account("door")
    a.ok("POST", f"/theatres/{v.theatre['id']}/staff", {"email": door["email"]}, 201, v.ot)
    return v.theatre["id"], show, codes, door["access_token"]


def main() -> int:
    ap = server_args()
    ap.add_argument("--scanners", type=int, default=4)
    ap.add_argument("--buyers", type=int, default=50)
    ap.add_argument("--per-buyer", type=int, default=10)
    ap.add_argument("--dup-every", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t = time.monotonic()
    theatre, show, codes, door = setup(args.port, args.admin_email, args.admin_password,
                                       args.buyers, args.per_buyer)
    print(f"set-up: {len(codes)} tickets of show {show} in {time.monotonic() - t:.1f} s")
    rng = random.Random(args.seed)
    rng.shuffle(codes)
    shares = [codes[i::args.scanners] for i in range(args.scanners)]
    scanned: list[tuple[str, str]] = []  # (code, token) scanned so far, by anyone
    lock = threading.Lock()
    samples: list[tuple[int, str, float, str]] = []  # (status, error code, seconds, method)
    barrier = threading.Barrier(args.scanners)

    def scanner(i: int):
        api = Api(args.port, door)
        r = random.Random(args.seed * 100 + i)
        mine: list[tuple[int, str, float, str]] = []
        api.call("GET", "/healthz")  # open the connection before the start
        barrier.wait()
        for n, code in enumerate(shares[i], 1):
            todo = [code[i % 2]]
            if n % args.dup_every == 0:
                with lock:
                    if scanned:
                        todo.append(r.choice(scanned)[i % 2])
            for c in todo:
                t0 = time.perf_counter()
                s, j = api.call("POST", f"/theatres/{theatre}/check-ins",
                                {"token" if i % 2 else "code": c})
                dt = time.perf_counter() - t0
                err = (j or {}).get("error", {}).get("code", "") if s >= 400 else ""
                mine.append((s, err, dt, "token" if i % 2 else "code"))
            with lock:
                scanned.append(code)
        with lock:
            samples.extend(mine)

    wall = run_threads(scanner, args.scanners)

    lat = [s[2] * 1000 for s in samples]
    by = {}
    by_method = {}
    for s, err, dt, method in samples:
        by.setdefault((s, err), []).append(dt * 1000)
        by_method.setdefault(method, []).append(dt * 1000)
    print(f"rush: {args.scanners} scanners, {len(samples)} scans "
          f"({len(codes)} tickets + {len(samples) - len(codes)} duplicates) in {wall:.2f} s: "
          f"{len(samples) / wall:.0f} scans/s, {len(codes) / wall:.0f} admissions/s")
    print(f"latency ms (all):  p50 {pct(lat, 50):.1f}  p90 {pct(lat, 90):.1f}  "
          f"p99 {pct(lat, 99):.1f}  max {max(lat):.1f}  mean {statistics.mean(lat):.1f}")
    for (s, err), xs in sorted(by.items()):
        print(f"latency ms ({s}{' ' + err if err else ''}, n={len(xs)}):  p50 {pct(xs, 50):.1f}  "
              f"p99 {pct(xs, 99):.1f}  max {max(xs):.1f}")

    for m, xs in sorted(by_method.items()):
        print(f"latency ms (by {m}, n={len(xs)}):  p50 {pct(xs, 50):.1f}  p99 {pct(xs, 99):.1f}  "
              f"max {max(xs):.1f}")

    problems = []
    n200 = len(by.get((200, ""), []))
    n409 = len(by.get((409, "already_checked_in"), []))
    if n200 != len(codes):
        problems.append(f"{n200} admissions (200), expected {len(codes)}")
    if n200 + n409 != len(samples):
        problems.append(f"answers other than 200 / 409 already_checked_in: "
                        f"{sorted((k, len(v)) for k, v in by.items())}")
    got = Api(args.port, door).ok("GET", f"/shows/{show}/check-ins?limit=1")["counts"]
    print(f"GET /shows/{{id}}/check-ins counts: {got}")
    if got != {"sold": len(codes), "admitted": len(codes)}:
        problems.append(f"counts {got}")
    for p in problems:
        print("VIOLATION:", p)
    print("result:", "ok" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
