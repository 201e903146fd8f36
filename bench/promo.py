#!/usr/bin/python3
"""
Hold -> book throughput with and without a promo code, against a running ticketd
(bench/promo.sh starts one on PostgreSQL or SQLite).

Set-up (not timed): an owner, a theatre with a 1000-seat hall (40 rows of 25), one show per
round, `--users` buyers (registered once), and one percent promo code for every round with a
code (max_uses far above what the bench takes, so no booking is refused: what is measured is
the cost of claiming uses, all on the same row).

A round (timed): `--clients` threads, each with its own keep-alive connection, take the buyers
in turn; each buyer holds 2 seats of the round's show by id (disjoint: no seat contention) and
books the hold (POST /bookings), with the code or without. Rounds alternate without / with a code
(`--rounds` of each, after one uncounted warm-up round of each), each on a fresh show, so load
drift hits both alike. Reported per mode:
bookings/s (hold + book pairs per second of wall time), and latency p50/p90/p99 of the book
request and of the pair. Checked: every hold 201, every booking 201, every discounted booking's
discount = 10% of its amount before the discount, and the code's `uses` equals the number of
bookings made with it. Exit 1 on any violation.

Only the standard library (http.client over threads; bench/benchlib.py).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from benchlib import Api, Venue, pct, run_threads, server_args

PASSWORD = "promo-bench-password-1"


class Setup:
    def __init__(self, port: int, admin_email: str, admin_password: str, users: int):
        self.a = a = Api(port, timeout=60)
        rows = [chr(ord("A") + i) + chr(ord("A") + j) for i in range(2) for j in range(20)]
        self.venue = v = Venue(a, admin_email, admin_password, password=PASSWORD,
                               domain="promo.test", theatre="Promo Palace",
                               address="1 Offer Road", rows=rows, seats=25, movie="Offers",
                               minutes=60)
        self.ot = v.ot
        self.theatre_id = v.theatre["id"]
        self.tokens = [v.account(f"buyer{i}")["access_token"] for i in range(users)]
        self.shows = 0
        self.code = "BENCH" + uuid.uuid4().hex[:10].upper()
        self.promo = a.ok("POST", "/promo-codes", {"code": self.code, "kind": "percent",
                                                   "value": 10, "max_uses": 1000000,
                                                   "theatre_id": self.theatre_id}, 201, self.ot)

    def new_show(self) -> tuple[str, list[str]]:
        self.shows += 1
        start = (datetime.now(timezone.utc) + timedelta(days=2, hours=2 * self.shows)).replace(
            minute=0, second=0, microsecond=0)
        return self.venue.show(start)

    def uses(self) -> int:
        items = self.a.ok("GET", "/promo-codes", None, 200, self.ot)["items"]
        return [p for p in items if p["id"] == self.promo["id"]][0]["uses"]


def run_round(port: int, st: Setup, clients: int, code: str | None) -> dict:
    show, seats = st.new_show()
    n = len(st.tokens)
    jobs = list(range(n))
    lock = threading.Lock()
    book_ms: list[float] = []
    pair_ms: list[float] = []
    problems: list[str] = []
    barrier = threading.Barrier(clients)

    def client(ci: int):
        api = Api(port, timeout=60)
        api.call("GET", "/healthz")
        barrier.wait()
        mine_b, mine_p, errs = [], [], []
        while True:
            with lock:
                if not jobs:
                    break
                u = jobs.pop()
            tok = st.tokens[u]
            t0 = time.perf_counter()
            s, h = api.call("POST", f"/shows/{show}/holds",
                            {"seat_ids": seats[2 * u:2 * u + 2]}, tok)
            if s != 201:
                errs.append(f"hold -> {s} {h}")
                continue
            body = {"hold_id": h["hold_id"]} | ({"promo_code": code} if code else {})
            t1 = time.perf_counter()
            s, b = api.call("POST", "/bookings", body, tok)
            t2 = time.perf_counter()
            if s != 201:
                errs.append(f"book -> {s} {b}")
                continue
            bk = b["booking"]
            want = bk["amount_before_discount"] // 10 if code else 0
            if bk["discount"] != want or b["payment"]["amount"] != bk["amount"]:
                errs.append(f"booking {bk['id']}: discount {bk['discount']}, want {want}")
            mine_b.append((t2 - t1) * 1000)
            mine_p.append((t2 - t0) * 1000)
        with lock:
            book_ms.extend(mine_b)
            pair_ms.extend(mine_p)
            problems.extend(errs)

    wall = run_threads(client, clients)
    return {"wall": wall, "n": len(pair_ms), "book": book_ms, "pair": pair_ms,
            "problems": problems}


def main() -> int:
    ap = server_args()
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.users > 500:
        raise SystemExit("--users at most 500 (2 seats each of a 1000-seat hall)")

    t = time.monotonic()
    st = Setup(args.port, args.admin_email, args.admin_password, args.users)
    print(f"set-up: {args.users} buyers, code {st.code} (10%, theatre-scoped) in "
          f"{time.monotonic() - t:.1f} s")
    warm_with_code = 0  # the warm-up's uses of the code
    for code in (None, st.code):  # one warm-up round of each, not counted
        n = run_round(args.port, st, args.clients, code)["n"]
        warm_with_code = n if code else warm_with_code
    print("warm-up: one round of each (not counted)")
    results: dict[str, list[dict]] = {"without code": [], "with code": []}
    for r in range(args.rounds):
        for mode, code in (("without code", None), ("with code", st.code)):
            res = run_round(args.port, st, args.clients, code)
            results[mode].append(res)
            print(f"round {r + 1} {mode}: {res['n']} hold+book in {res['wall']:.2f} s = "
                  f"{res['n'] / res['wall']:.0f}/s")
    problems = []
    rates = {}
    for mode, rs in results.items():
        n = sum(x["n"] for x in rs)
        wall = sum(x["wall"] for x in rs)
        book = [v for x in rs for v in x["book"]]
        pair = [v for x in rs for v in x["pair"]]
        rates[mode] = n / wall
        print(f"{mode}: {n} hold+book pairs, {args.clients} clients: {n / wall:.0f} bookings/s; "
              f"book ms p50 {pct(book, 50):.1f} p90 {pct(book, 90):.1f} p99 {pct(book, 99):.1f} "
              f"mean {statistics.mean(book):.1f}; hold+book ms p50 {pct(pair, 50):.1f} "
              f"p99 {pct(pair, 99):.1f}")
        problems += [p for x in rs for p in x["problems"]]
        if n != args.users * args.rounds:
            problems.append(f"{mode}: {n} bookings, expected {args.users * args.rounds}")
    print(f"with / without: {rates['with code'] / rates['without code']:.2f}")
    used = st.uses()
    print(f"code uses: {used}")
    if used != sum(x["n"] for x in results["with code"]) + warm_with_code:
        problems.append(f"code uses {used}, bookings with it "
                        f"{sum(x['n'] for x in results['with code'])}")
    print("result: " + ("ok" if not problems else "FAILED"))
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
