#!/usr/bin/python3
"""
Recommendations against a generated booking history with a known preference (issue 16):
does what the server learns beat its fixed rules? Starts its own ticketd on a fresh SQLite
database (JOBS=off: the `reco` job runs only when this script runs `ticketd jobs run-once reco`),
books the training history through the API (hold by seat ids, book, pay with the test provider,
confirm), runs the job, then measures through the API. Nothing the server learns is computed
here: the seat ranking is what POST /shows/{id}/holds {"quantity": 1} picks, the movie ranking
is what GET /me/recommendations answers.

Seats. One hall of ROWS x COLS seats (y = 0 is the front). Buyers share a hidden taste: the
utility of a seat is -((x - cx) / COLS)^2 * 4 - ((y - PREF_ROW) / ROWS)^2 * 6 plus Gumbel noise
per buyer and seat, with PREF_ROW one row from the back (the geometric focus is two-thirds back),
so people want the back-middle. --pref-row 4.667 is the control: a taste that is the geometric
focus itself, where learning can only match the rule. A show sells groups of 1-4 one after the other until it is
FILL full; each group takes the free adjacent block (one row, no orphan-free requirement: people
are not the server) with the highest mean utility. --train shows are booked; --test more are
only simulated: their first k seats sold are the truth. For each of learned and geometric the
hall is set to that mode and k pickers take 1 seat each, best available, on an empty show: the
server's first k. precision@k = |server's first k n a test show's first k sold| / k, averaged over
the test shows.

Movies. GENRES clusters of PER_GENRE movies, each with one show in the next days in the city.
Every user has a favourite cluster and books 3-6 distinct movies, each from the favourite with
probability 0.8 (else any), within a cluster by a Zipf-like popularity. The last movie each
user booked is held out (not booked); after the job, hit@k = the held-out movie is among the
first k of GET /me/recommendations?limit=k. Popularity alone: the ranking a user with no
booking gets (the server's "popular" items), minus the user's own training movies, first k.

Usage: bench/reco.py [--seed 7] [--train 16] [--test 8] [--users 150] [--pref-row Y]
                     [--skip-movies] [--out FILE]
Only the standard library (bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from benchlib import Api, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TICKETD_BIN", os.path.join(ROOT, "build", "ticketd"))
ROWS, COLS = 8, 12
PREF_ROW = ROWS - 2
FILL = 0.45
GENRES, PER_GENRE = 4, 6
PASSWORD = "reco-bench-password-1"
ADMIN = ("admin@reco.test", "reco-admin-password-1")


def env_for(db: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS"))}
    env.update({"PORT": str(port), "BIND_ADDRESS": "127.0.0.1", "DATABASE_URL": f"sqlite://{db}",
                "JOBS": "off", "RATE_LIMIT": "off", "PASSWORD_HASH_COST": "min",
                "LOG_LEVEL": "warn", "ADMIN_EMAIL": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
                "JWT_ACCESS_SECRET": "reco-bench-access-secret-0123456789abcdef",
                "JWT_REFRESH_SECRET": "reco-bench-refresh-secret-0123456789abcdef",
                "MAX_SEATS_PER_HOLD": "10"})
    return env


class Bench:
    def __init__(self, port: int, env: dict, tmp: str, rnd: random.Random):
        self.a = Api(port, timeout=60)
        self.env, self.tmp, self.rnd = env, tmp, rnd
        self.at = self.a.ok("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})[
            "access_token"]
        owner = self.account("owner")
        self.a.ok("PATCH", f"/admin/users/{owner['user']['id']}", {"role": "owner"},
                  token=self.at)
        self.ot = self.a.ok("POST", "/auth/login", {"email": owner["email"],
                                                    "password": PASSWORD})["access_token"]
        self.slot = 0

    def account(self, label: str) -> dict:
        email = f"{label}-{self.rnd.getrandbits(40):x}@reco.test"
        return self.a.ok("POST", "/auth/register", {"email": email, "password": PASSWORD,
                                                    "name": label}, 201) | {"email": email}

    def hall(self, name: str, rows: int, cols: int) -> dict:
        t = self.a.ok("POST", "/theatres", {"name": name, "city": "Pune",
                                            "address": "1 Taste Road"}, 201, self.ot)
        self.a.ok("POST", f"/admin/theatres/{t['id']}/approve", None, 200, self.at)
        return self.a.ok("POST", f"/theatres/{t['id']}/halls", {
            "name": "Audi", "layout": {"rows": [
                {"label": chr(ord("A") + r), "seats": cols, "category": "regular"}
                for r in range(rows)]}}, 201, self.ot)

    def movie(self, title: str, genre: str) -> dict:
        return self.a.ok("POST", "/movies", {"title": title, "duration_minutes": 60,
                                             "release_date": "2026-01-01", "certificate": "U",
                                             "languages": ["en"], "genres": [genre]}, 201,
                         self.at)

    def show(self, hall_id: str, movie_id: str) -> str:
        """A show in the next 6 days, two hours after the previous one."""
        self.slot += 1
        start = (datetime.now(timezone.utc) + timedelta(hours=2 + 2 * self.slot)).replace(
            minute=0, second=0, microsecond=0)
        return self.a.ok("POST", "/shows", {
            "movie_id": movie_id, "hall_id": hall_id,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "prices": {"regular": 20000},
            "currency": "INR"}, 201, self.ot)["id"]

    def buy(self, token: str, show_id: str, seat_ids: list[str]) -> None:
        h = self.a.ok("POST", f"/shows/{show_id}/holds", {"seat_ids": seat_ids}, 201, token)
        b = self.a.ok("POST", "/bookings", {"hold_id": h["hold_id"]}, 201, token)
        p = self.a.ok("POST", f"/payments/test/{b['payment']['order_id']}/pay", None, 200, token)
        c = self.a.ok("POST", f"/bookings/{b['booking']['id']}/confirm", p, 200, token)
        assert c["status"] == "confirmed", c

    def run_job(self) -> dict:
        proc = subprocess.run([BIN, "jobs", "run-once", "reco"], env=self.env, cwd=self.tmp,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"jobs run-once reco: {proc.stderr}")
        return json.loads(proc.stdout)


# ---- seats --------------------------------------------------------------------------------


def gumbel(rnd: random.Random) -> float:
    return -math.log(-math.log(rnd.random() or 1e-12))


def simulate_show(rnd: random.Random, noise: float,
                  pref_row: float = PREF_ROW) -> list[list[tuple[int, int]]]:
    """The groups of one show in sale order, each a list of (row, col)."""
    cx = (COLS - 1) / 2
    free = {(y, x) for y in range(ROWS) for x in range(COLS)}
    groups = []
    while len(free) > (1 - FILL) * ROWS * COLS:
        k = rnd.choice([1, 2, 2, 2, 3, 4])
        u = {(y, x): -((x - cx) / COLS) ** 2 * 4 - ((y - pref_row) / ROWS) ** 2 * 6
             + noise * gumbel(rnd) for (y, x) in free}
        best, best_u = None, -1e9
        for y in range(ROWS):
            for x in range(COLS - k + 1):
                block = [(y, x + i) for i in range(k)]
                if all(s in free for s in block):
                    m = sum(u[s] for s in block) / k
                    if m > best_u:
                        best, best_u = block, m
        if best is None:
            break
        groups.append(best)
        free -= set(best)
    return groups


def label(y: int, x: int) -> str:
    return f"{chr(ord('A') + y)}{x + 1}"


def first_k(groups, k: int) -> set[str]:
    out: list[str] = []
    for g in groups:
        out.extend(label(y, x) for y, x in g)
    return set(out[:k])


def server_first_k(b: Bench, hall_id: str, movie_id: str, pickers: list[str], k: int) -> list[str]:
    """The seats the server's best available gives k single-seat buyers on an empty show."""
    show = b.show(hall_id, movie_id)
    got = []
    for tok in pickers[:k]:
        h = b.a.ok("POST", f"/shows/{show}/holds", {"quantity": 1}, 201, tok)
        got.append(h["seats"][0]["label"])
    return got


def seats_part(b: Bench, args, out) -> None:
    rnd = random.Random(args.seed)
    hall = b.hall("Seat Lab", ROWS, COLS)
    movie = b.movie("Seat Lab Feature", "drama")
    buyers = [b.account(f"seat{i}")["access_token"] for i in range(12)]
    t0 = time.monotonic()
    nbook = 0
    for _ in range(args.train):
        show = b.show(hall["id"], movie["id"])
        for i, g in enumerate(simulate_show(rnd, args.noise, args.pref_row)):
            b.buy(buyers[i % len(buyers)], show,
                  [f"{hall['id']}_{label(y, x)}" for y, x in g])
            nbook += 1
    tests = [simulate_show(rnd, args.noise, args.pref_row) for _ in range(args.test)]
    out(f"seats: hall {ROWS}x{COLS}, {args.train} training shows ({nbook} bookings through the "
        f"API, {time.monotonic() - t0:.0f}s), {args.test} held-out simulated shows, fill {FILL:.0%},"
        f" noise {args.noise}, preferred row y = {args.pref_row:g}")
    counts = b.run_job()
    out(f"  reco job: {counts}")
    kmax = max(args.k)
    pickers = [b.account(f"picker{i}")["access_token"] for i in range(kmax)]
    picks = {}
    for mode in ("geometric", "learned"):
        b.a.ok("PATCH", f"/halls/{hall['id']}", {"seat_pick": mode}, 200, b.ot)
        picks[mode] = server_first_k(b, hall["id"], movie["id"], pickers, kmax)
        out(f"  {mode:9s} first {kmax}: {' '.join(picks[mode])}")
    for k in args.k:
        row = []
        for mode in ("geometric", "learned"):
            mine = set(picks[mode][:k])
            p = sum(len(mine & first_k(t, k)) / k for t in tests) / len(tests)
            row.append(f"{mode} {p:.3f}")
        out(f"  precision@{k}: " + ", ".join(row))


# ---- movies -------------------------------------------------------------------------------


def movies_part(b: Bench, args, out) -> None:
    rnd = random.Random(args.seed + 1)
    hall = b.hall("Film Club", 10, 12)
    movies = []
    for g in range(GENRES):
        for i in range(PER_GENRE):
            m = b.movie(f"Genre{g} Film{i}", f"genre{g}")
            movies.append((g, i, m["id"], b.show(hall["id"], m["id"])))
    by_genre = {g: [m for m in movies if m[0] == g] for g in range(GENRES)}
    weights = [1 / (i + 1) ** 0.8 for i in range(PER_GENRE)]
    users = []
    for u in range(args.users):
        fav = rnd.randrange(GENRES)
        n = rnd.randint(3, 6)
        seq: list = []
        while len(seq) < n:
            pool = by_genre[fav] if rnd.random() < 0.8 else movies
            w = [weights[m[1]] for m in pool]
            m = rnd.choices(pool, weights=w)[0]
            if m not in seq:
                seq.append(m)
        users.append({"token": b.account(f"fan{u}")["access_token"], "train": seq[:-1],
                      "held": seq[-1]})
    seat_no = {m[3]: 0 for m in movies}
    t0 = time.monotonic()
    nbook = 0
    for u in users:
        for m in u["train"]:
            k = seat_no[m[3]]
            seat_no[m[3]] += 1
            b.buy(u["token"], m[3], [f"{hall['id']}_{chr(ord('A') + k // 12)}{k % 12 + 1}"])
            nbook += 1
    out(f"movies: {GENRES} genres x {PER_GENRE} films, {args.users} users, {nbook} training "
        f"bookings through the API ({time.monotonic() - t0:.0f}s); held out: each user's last")
    out(f"  reco job: {b.run_job()}")
    newcomer = b.account("newcomer")["access_token"]
    popular = [it["movie"]["id"] for it in
               b.a.ok("GET", "/me/recommendations?limit=50", None, 200, newcomer)["items"]]
    assert all(it["reason"] == "popular" for it in
               b.a.ok("GET", "/me/recommendations?limit=50", None, 200, newcomer)["items"])
    for k in args.mk:
        hits_reco = hits_pop = 0
        for u in users:
            got = b.a.ok("GET", f"/me/recommendations?limit={k}", None, 200, u["token"])["items"]
            hits_reco += u["held"][2] in [it["movie"]["id"] for it in got]
            mine = {m[2] for m in u["train"]}
            hits_pop += u["held"][2] in [m for m in popular if m not in mine][:k]
        n = len(users)
        out(f"  hit@{k}: co-occurrence {hits_reco / n:.3f} ({hits_reco}/{n}), popularity alone "
            f"{hits_pop / n:.3f} ({hits_pop}/{n})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--train", type=int, default=16)
    ap.add_argument("--test", type=int, default=8)
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--users", type=int, default=150)
    ap.add_argument("--pref-row", type=float, default=PREF_ROW,
                    help="the row people prefer (control: 4.667, the geometric focus)")
    ap.add_argument("--skip-movies", action="store_true")
    ap.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--mk", type=int, nargs="+", default=[1, 3, 5])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    lines: list[str] = []

    def out(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    tmp = tempfile.mkdtemp(prefix="ticketd-reco-")
    port = free_port()
    env = env_for(os.path.join(tmp, "reco.db"), port)
    log = open(os.path.join(tmp, "ticketd.log"), "w")
    srv = subprocess.Popen([BIN], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip()
        out(f"ticketd reco bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {rev} "
            f"seed={args.seed} SQLite, JOBS=off, the reco job run once by `ticketd jobs run-once`")
        b = Bench(port, env, tmp, random.Random(args.seed))
        seats_part(b, args, out)
        if not args.skip_movies:
            movies_part(b, args, out)
    finally:
        srv.terminate()
        srv.wait(timeout=30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
