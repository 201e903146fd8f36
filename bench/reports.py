#!/usr/bin/env python3
"""
The sales report on a year of data (issue 12): GET /reports/sales timed for every group_by over a
month and over the year, on PostgreSQL and on SQLite, without and with the indexes of migration
0016 (src/store/migrations/0016_report_indexes.sql), with the plans.

It makes everything itself in a temp dir: a private PostgreSQL cluster (initdb, loopback port,
auto_explain loaded so the server logs the report query's EXPLAIN ANALYZE plan when asked), an
SQLite file, the schema (`ticketd migrate`), and the data, generated here once (deterministic
seed) and loaded into both: THEATRES theatres (10 of them owned by one owner account, the rest by
others) in four time zones, HALLS halls each with SEATS seats (2 blocked), SHOWS_PER_DAY shows a
day in every hall for DAYS days of 2026, 10 % of the theatres selling in USD, 1 % of the shows
cancelled; per show 0..2*BOOKINGS bookings (BOOKINGS on average) of 1..4 seats, with holds and
booking_seats, 85 % confirmed, 5 % cancelled and refunded, 5 % expired, 3 % failed, 1 % paid late
and refunded, 1 % pending; 10 % of the paid ones with a promo discount; refunds for the refunded
ones (95 % processed). Foreign keys are not checked while loading (the data is made consistent).

Then one ticketd per database (JOBS=off: nothing moves under the bench), and for each phase
(without 0016's indexes, then with them) and each case (admin or owner; a month or the year;
each group_by) the report is asked REPEAT times: the median wall time of the HTTP request is
what the results file shows, with the answer's status and row count (a year grouped by show is
more than 10000 rows for the admin: 422 report_too_large, after the query ran). On PostgreSQL
one more request per case runs with auto_explain on; its plan goes into the file for the
cases named in PLAN_CASES.

Since migration 0019 the report reads the per-show summary show_sales; the data is loaded after
`ticketd migrate`, so the bench fills show_sales with 0019's backfill statement after the load.
By default only the phase "with 0016" runs (--phases 'without 0016,with 0016' for both).

Usage: bench/reports.py [--out FILE] [--days N] [--theatres N] [--bookings N] [--backends ...]
       [--phases ...] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIGRATION = ROOT / "src/store/migrations/0016_report_indexes.sql"
SUMMARY = ROOT / "src/store/migrations/0019_show_sales.sql"
ADMIN = ("admin@bench.test", "bench-admin-password")
OWNER_PASSWORD = "bench-owner-password"
DAY_MS = 86400000
OFFSETS = [330, 0, -300, 60]  # minutes: India, London, New York, Lagos
TABLES = ["users", "movies", "theatres", "halls", "seats", "shows", "show_prices", "holds",
          "bookings", "booking_seats", "refunds"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The data


def generate(dirpath: Path, a, owner_id: str, admin_id: str) -> dict:
    """Writes one CSV per table into dirpath; returns the row counts."""
    rng = random.Random(20261206)
    files = {t: open(dirpath / f"{t}.csv", "w", newline="") for t in TABLES}
    w = {t: csv.writer(f) for t, f in files.items()}
    n = {t: 0 for t in TABLES}

    def put(t, row):
        w[t].writerow(row)
        n[t] += 1

    now = int(time.time() * 1000)
    buyers = [f"usr_bench{i:04d}" for i in range(1000)]
    for i, uid in enumerate(buyers):
        put("users", [uid, f"buyer{i}@bench.test", f"Buyer {i}", "x", "user", now, now, 0])
    movies = [f"mov_bench{i:03d}" for i in range(50)]
    for i, mid in enumerate(movies):
        put("movies", [mid, f"Film {i}, part \"{i % 3}\"", f"film {i}", "d", 120, "2025-12-01",
                       '["hindi"]', '["drama"]', "UA", "active", now, now])
    first_day = (date(2026, 1, 1) - date(1970, 1, 1)).days
    local_times = [10 * 60, 13 * 60 + 30, 17 * 60, 20 * 60 + 30][:a.shows_per_day]
    bk = 0
    for ti in range(a.theatres):
        tid = f"thr_bench{ti:03d}"
        off = OFFSETS[ti % len(OFFSETS)]
        cur, price = ("USD", 1500) if ti >= a.theatres * 9 // 10 else ("INR", 25000)
        put("theatres", [tid, owner_id if ti < 10 else admin_id, f"Theatre {ti}, \"{ti}\"",
                         f"City {ti % 20}", f"city {ti % 20}", "1 Road", off, now, now])
        for hi in range(a.halls):
            hid = f"hll_bench{ti:03d}_{hi}"
            put("halls", [hid, tid, f"Hall {hi}", "{}", a.seats, now, now])
            seat_ids = [f"{hid}_S{k}" for k in range(1, a.seats + 1)]
            for k, sid in enumerate(seat_ids, 1):
                put("seats", [sid, hid, f"S{k}", "S", k, k, 0, "regular", 1 if k <= 2 else 0, 1])
            sellable = seat_ids[2:]
            for d in range(a.days):
                for si, lt in enumerate(local_times):
                    starts = (first_day + d) * DAY_MS + (lt - off) * 60000
                    show = f"shw_b{ti:03d}{hi}{d:03d}{si}"
                    cancelled = rng.random() < 0.01
                    put("shows", [show, rng.choice(movies), hid, tid, starts,
                                  starts + 135 * 60000, cur,
                                  "cancelled" if cancelled else "completed",
                                  starts - DAY_MS if cancelled else None, now, now])
                    put("show_prices", [show, "regular", price])
                    pos = 0
                    for _ in range(rng.randint(0, 2 * a.bookings)):
                        k = rng.randint(1, 4)
                        if pos + k > len(sellable):
                            break
                        seats = sellable[pos:pos + k]
                        pos += k
                        bk += 1
                        bid, hold = f"bk_{bk:09d}", f"hld_{bk:09d}"
                        r = rng.random()
                        status = ("cancelled_refunded" if cancelled else
                                  "confirmed" if r < 0.85 else
                                  "cancelled_refunded" if r < 0.90 else
                                  "expired" if r < 0.95 else
                                  "failed" if r < 0.98 else
                                  "expired_refunded" if r < 0.99 else "pending_payment")
                        amount = price * k
                        paid = status in ("confirmed", "cancelled_refunded", "expired_refunded")
                        disc = price // 5 if paid and rng.random() < 0.10 else 0
                        created = starts - rng.randint(1, 20) * DAY_MS // 4
                        user = rng.choice(buyers)
                        put("holds", [hold, show, user, "booked", k, amount, cur,
                                      created + 480000, created, created])
                        put("bookings", [bid, user, show, hold, status, amount - disc, cur, "test",
                                         f"ord_{bk:09d}", f"pay_{bk:09d}" if paid else None,
                                         created + 480000, created, created,
                                         created if paid else None, None, amount, disc])
                        for sid in seats:
                            put("booking_seats", [bid, sid, sid.rsplit("_", 1)[1], "regular",
                                                  price])
                        if status in ("cancelled_refunded", "expired_refunded"):
                            st = "processed" if rng.random() < 0.95 else "pending"
                            put("refunds", [f"rfd_{bk:09d}", bid, f"pay_{bk:09d}",
                                            amount - disc, "bench", st, f"rf_{bk}", 1, created,
                                            created, f"rfd_{bk:09d}"])
    for f in files.values():
        f.close()
    return n


COLUMNS = {
    "users": "id, email, name, password_hash, role, created_at, updated_at, token_epoch",
    "movies": "id, title, title_search, description, duration_minutes, release_date, languages,"
              " genres, certificate, status, created_at, updated_at",
    "theatres": "id, owner_id, name, city, city_search, address, utc_offset_minutes, created_at,"
                " updated_at",
    "halls": "id, theatre_id, name, layout, seat_count, created_at, updated_at",
    "seats": "id, hall_id, label, row_label, number, x, y, category, blocked, active",
    "shows": "id, movie_id, hall_id, theatre_id, starts_at, ends_at, currency, status,"
             " cancelled_at, created_at, updated_at",
    "show_prices": "show_id, category, amount",
    "holds": "id, show_id, user_id, status, seat_count, amount, currency, expires_at,"
             " created_at, updated_at",
    "bookings": "id, user_id, show_id, hold_id, status, amount, currency, provider, order_id,"
                " payment_id, expires_at, created_at, updated_at, confirmed_at, cancelled_at,"
                " amount_before_discount, discount",
    "booking_seats": "booking_id, seat_id, label, category, price",
    "refunds": "id, booking_id, payment_id, amount, reason, status, provider_refund_id,"
               " attempts, created_at, updated_at, idem_key",
}


# --------------------------------------------------------------------------------------------
# PostgreSQL


class Pg:
    def __init__(self, base: Path, port: int | None = None):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        assert bins, "PostgreSQL not installed"
        self.bin = bins[-1]
        self.base = base / "pg"
        if port is None:
            self.base.mkdir()
        self.port = port or free_port()
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.base, "postgres", "postgres")

    def run(self, tool, *args, owner=False, **kw):
        cmd = [str(self.bin / tool), *args]
        if owner and self.root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout

    def start(self):
        self.run("initdb", "-D", str(self.base / "data"), "--auth=trust", "-U", "postgres",
                 "--no-sync", "-E", "UTF8", owner=True)
        with open(self.base / "data/postgresql.conf", "a") as f:
            f.write("session_preload_libraries = 'auto_explain'\n"
                    "auto_explain.log_min_duration = -1\n"
                    "auto_explain.log_analyze = on\nauto_explain.log_buffers = on\n"
                    "shared_buffers = 256MB\nwork_mem = 32MB\nmaintenance_work_mem = 256MB\n"
                    "max_wal_size = 4GB\nfsync = off\nsynchronous_commit = off\n")
        self.run("pg_ctl", "-D", str(self.base / "data"), "-o",
                 f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1",
                 "-l", str(self.base / "log"), "-w", "-t", "60", "start", owner=True)
        self.psql("postgres", "CREATE DATABASE bench")

    def stop(self):
        try:
            self.run("pg_ctl", "-D", str(self.base / "data"), "-m", "fast", "-w", "stop",
                     owner=True)
        except subprocess.CalledProcessError:
            pass

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/bench"

    def psql(self, db, sql, *extra):
        return self.run("psql", "-h", str(self.base), "-p", str(self.port), "-U", "postgres",
                        "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt", *extra, "-c", sql)

    def load(self, csvdir: Path):
        for t in TABLES:
            t0 = time.monotonic()
            self.run("psql", "-h", str(self.base), "-p", str(self.port), "-U", "postgres",
                     "-d", "bench", "-v", "ON_ERROR_STOP=1", "-q",
                     "-c", "SET session_replication_role = replica",
                     "-c", f"\\copy {t} ({COLUMNS[t]}) FROM '{csvdir / (t + '.csv')}' CSV")
            log(f"  pg {t}: {time.monotonic() - t0:.1f}s")
        self.psql("bench", "VACUUM ANALYZE")

    def explain(self, on: bool):
        self.psql("postgres", "ALTER SYSTEM SET auto_explain.log_min_duration = "
                  + ("0" if on else "-1"))
        self.psql("postgres", "SELECT pg_reload_conf()")
        time.sleep(0.5)

    def log_text(self) -> str:
        return (self.base / "log").read_text(errors="replace")


def load_sqlite(path: Path, csvdir: Path):
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous = OFF")
    for t in TABLES:
        t0 = time.monotonic()
        cols = COLUMNS[t]
        marks = ", ".join("?" * len(cols.split(",")))
        with open(csvdir / f"{t}.csv", newline="") as f:
            rows = ([None if v == "" else v for v in row] for row in csv.reader(f))
            con.executemany(f"INSERT INTO {t} ({cols}) VALUES ({marks})", rows)
        con.commit()
        log(f"  sqlite {t}: {time.monotonic() - t0:.1f}s")
    con.execute("ANALYZE")
    con.commit()
    con.close()


# --------------------------------------------------------------------------------------------
# The server and the requests


class Ticketd:
    def __init__(self, binary: str, url: str, workdir: Path):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE"))}
        env.update(DATABASE_URL=url, PORT=str(self.port), BIND_ADDRESS="127.0.0.1",
                   JWT_ACCESS_SECRET="bench-access-secret-0123456789abcdef0123456789",
                   JWT_REFRESH_SECRET="bench-refresh-secret-0123456789abcdef012345678",
                   ADMIN_EMAIL=ADMIN[0], ADMIN_PASSWORD=ADMIN[1], PASSWORD_HASH_COST="min",
                   JOBS="off", RATE_LIMIT="off", LOG_LEVEL="warn", WORKERS="4", CACHE="off",
                   REQUEST_TIMEOUT="10m")
        self.log = open(workdir / f"ticketd-{self.port}.log", "wb")
        self.proc = subprocess.Popen([binary], env=env, cwd=workdir, stdout=self.log,
                                     stderr=self.log)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("ticketd did not start")

    def call(self, method, path, body=None, token=None, timeout=600):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def migrate(binary: str, url: str, workdir: Path):
    env = dict(os.environ, DATABASE_URL=url,
               JWT_ACCESS_SECRET="bench-access-secret-0123456789abcdef0123456789",
               JWT_REFRESH_SECRET="bench-refresh-secret-0123456789abcdef012345678")
    subprocess.run([binary, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)


def owner_account(t: Ticketd, admin_token: str) -> tuple[str, str]:
    """Registers the bench owner (10 theatres are its) and makes it an owner: (id, token)."""
    st, body = t.call("POST", "/auth/register", {"email": "owner@bench.test",
                                                 "password": OWNER_PASSWORD, "name": "Owner"})
    if st == 409:
        st, body = t.call("POST", "/auth/login", {"email": "owner@bench.test",
                                                  "password": OWNER_PASSWORD})
    uid = body["user"]["id"]
    t.call("PATCH", f"/admin/users/{uid}", {"role": "owner"}, token=admin_token)
    st, body = t.call("POST", "/auth/login", {"email": "owner@bench.test",
                                              "password": OWNER_PASSWORD})
    return uid, body["access_token"]


def cases(days: int):
    month = ("2026-03-01", "2026-03-31")
    last = (date(2026, 1, 1) + timedelta(days=days - 1)).isoformat()
    year = ("2026-01-01", last)
    for who in ("admin", "owner"):
        for rng_name, (f, t) in (("month", month), ("year", year)):
            for g in ("day", "show", "movie", "theatre"):
                yield (who, rng_name, g, f, t)
    yield ("owner+theatre", "month", "show", month[0], month[1])
    yield ("owner+theatre", "year", "day", year[0], year[1])


PLAN_CASES = {("admin", "year", "day"), ("admin", "month", "show"),
              ("owner", "year", "movie")}


def time_cases(t: Ticketd, tokens: dict, days: int, repeat: int) -> list[dict]:
    out = []
    for who, rng_name, g, f, to in cases(days):
        q = f"/reports/sales?from={f}&to={to}&group_by={g}"
        if who == "owner+theatre":
            q += "&theatre_id=thr_bench003"
        times = []
        for _ in range(repeat):
            t0 = time.monotonic()
            st, body = t.call("GET", q, token=tokens["admin" if who == "admin" else "owner"])
            times.append(time.monotonic() - t0)
        rows = len(body["items"]) if st == 200 else body["error"]["code"]
        out.append({"case": (who, rng_name, g), "status": st, "rows": rows,
                    "median_ms": statistics.median(times) * 1000,
                    "min_ms": min(times) * 1000})
        log(f"    {who:13} {rng_name:5} {g:7} {st} rows={rows} "
            f"median={out[-1]['median_ms']:.0f}ms")
    return out


def index_statements() -> tuple[list[str], list[str]]:
    """(CREATE statements of migration 0016, DROP statements undoing them)."""
    text = "\n".join(line for line in MIGRATION.read_text().splitlines()
                     if not line.strip().startswith("--"))
    creates = [s.strip().replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
               for s in text.split(";") if s.strip()]
    names = [re.search(r"INDEX\s+(\w+)", s).group(1) for s in creates]
    drops = [f"DROP INDEX IF EXISTS {n}" for n in names]
    return creates, drops


def summary_backfill() -> str:
    """The backfill statement of migration 0019 (show_sales from the ledger): the data is loaded
    after `ticketd migrate`, so the bench runs it again once the tables are full."""
    text = SUMMARY.read_text()
    return text[text.index("INSERT INTO show_sales"):].split(";")[0]


def plans_from_log(text: str) -> list[str]:
    """The auto_explain entries of the report query, in order."""
    out = []
    for m in re.finditer(r"LOG:  duration: [\d.]+ ms  plan:\n(.*?)(?=\n\S|\Z)", text, re.S):
        if "WITH sh AS" in m.group(1):
            out.append(m.group(1))
    return out


def load(a, tmp: Path, servers: dict, pg, say, reuse: bool = False) -> None:
    """Makes the schema and the data in every database (or counts what an earlier run left)."""
    if reuse:
        con = sqlite3.connect(tmp / "bench.db") if "sqlite" in servers else None
        counts = {}
        for t in TABLES:
            counts[t] = (con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] if con
                         else pg.psql("bench", f"SELECT COUNT(*) FROM {t}").strip())
        say("data loaded by an earlier run of this bench (--reuse)")
        say("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        say("")
        return
    ids = {}
    for name, url in servers.items():
        migrate(a.bin, url, tmp)
        t = Ticketd(a.bin, url, tmp)
        st, body = t.call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
        admin_id = body["user"]["id"]
        owner_id, _tok = owner_account(t, body["access_token"])
        t.stop()
        ids[name] = (owner_id, admin_id)
    csvdir = tmp / "csv"
    csvdir.mkdir()
    counts = None
    # the owner and admin ids differ per database: the files are made per database
    for name, url in servers.items():
        owner_id, admin_id = ids[name]
        d = csvdir / name
        d.mkdir()
        t0 = time.monotonic()
        counts = generate(d, a, owner_id, admin_id)
        log(f"generated for {name} in {time.monotonic() - t0:.0f}s: {counts}")
        t0 = time.monotonic()
        if name == "postgres":
            pg.load(d)
        else:
            load_sqlite(tmp / "bench.db", d)
        say(f"{name}: loaded in {time.monotonic() - t0:.0f}s")
        t0 = time.monotonic()
        if name == "postgres":
            pg.psql("bench", summary_backfill())
            pg.psql("bench", "VACUUM ANALYZE show_sales")
        else:
            con = sqlite3.connect(tmp / "bench.db")
            con.execute(summary_backfill())
            con.execute("ANALYZE")
            con.commit()
            con.close()
        say(f"{name}: show_sales (migration 0019's backfill) in {time.monotonic() - t0:.0f}s")
        shutil.rmtree(d)
    say("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    say("")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="bench/results/2026-12-06-reports.txt")
    p.add_argument("--theatres", type=int, default=100)
    p.add_argument("--halls", type=int, default=4)
    p.add_argument("--shows-per-day", type=int, default=4)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seats", type=int, default=100)
    p.add_argument("--bookings", type=int, default=3, help="average bookings per show")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backends", default="postgres,sqlite")
    p.add_argument("--bin", default=os.environ.get("TICKETD_BIN", str(ROOT / "build/ticketd")))
    p.add_argument("--reuse", help="the temp dir of an earlier run whose data is loaded (its"
                   " PostgreSQL still running on --pg-port): time only")
    p.add_argument("--pg-port", type=int)
    p.add_argument("--phases", default="with 0016",
                   help="comma-separated: 'without 0016', 'with 0016' (both: the indexes of"
                   " migration 0016 dropped, then built again)")
    p.add_argument("--keep", action="store_true", help="leave the temp dir and PostgreSQL"
                   " running (for a later --reuse)")
    a = p.parse_args()
    backends = a.backends.split(",")
    tmp = Path(a.reuse) if a.reuse else Path(tempfile.mkdtemp(prefix="ticketd-reports-bench-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        os.chmod(tmp, 0o755)
    report = []
    say = report.append
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    say(f"ticketd sales-report bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {commit}"
        f" cpus={os.cpu_count()}")
    say(f"load before: {os.getloadavg()}")
    say(f"data: {a.theatres} theatres x {a.halls} halls x {a.shows_per_day} shows/day x "
        f"{a.days} days, {a.seats} seats/hall, ~{a.bookings} bookings/show (bench/reports.py)")
    pg = None
    try:
        creates, drops = index_statements()
        servers = {}
        if "postgres" in backends:
            pg = Pg(tmp, a.pg_port if a.reuse else None)
            if not a.reuse:
                pg.start()
            servers["postgres"] = pg.url
        if "sqlite" in backends:
            servers["sqlite"] = f"sqlite://{tmp / 'bench.db'}"
        if a.reuse:
            load(a, tmp, servers, pg, say, reuse=True)
        else:
            load(a, tmp, servers, pg, say)
        results = {}
        for name, url in servers.items():
            for phase in a.phases.split(","):
                stmts = drops if phase == "without 0016" else creates
                t0 = time.monotonic()
                if name == "postgres":
                    for s in stmts:
                        pg.psql("bench", s)
                    pg.psql("bench", "ANALYZE")
                else:
                    con = sqlite3.connect(tmp / "bench.db")
                    for s in stmts:
                        con.execute(s)
                    con.execute("ANALYZE")
                    con.commit()
                    con.close()
                say(f"{name}, {phase}: indexes {'dropped' if 'out' in phase else 'built'} "
                    f"in {time.monotonic() - t0:.1f}s")
                t = Ticketd(a.bin, url, tmp)
                _, body = t.call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
                tokens = {"admin": body["access_token"]}
                _, body = t.call("POST", "/auth/login", {"email": "owner@bench.test",
                                                         "password": OWNER_PASSWORD})
                tokens["owner"] = body["access_token"]
                log(f"{name} {phase}:")
                res = time_cases(t, tokens, a.days, a.repeat)
                plans = {}
                if name == "postgres":
                    before = len(plans_from_log(pg.log_text()))
                    pg.explain(True)
                    for who, rng_name, g, f, to in cases(a.days):
                        if (who, rng_name, g) in PLAN_CASES:
                            q = f"/reports/sales?from={f}&to={to}&group_by={g}"
                            t.call("GET", q, token=tokens["admin" if who == "admin" else "owner"])
                            time.sleep(0.3)
                            got = plans_from_log(pg.log_text())
                            plans[(who, rng_name, g)] = got[-1] if len(got) > before else "?"
                            before = len(got)
                    pg.explain(False)
                else:
                    plans = sqlite_plans(tmp / "bench.db",
                                         results.get(("postgres", phase), ([], {}))[1])
                t.stop()
                results[(name, phase)] = (res, plans)
        # the table
        say("median of %d requests (ms), HTTP wall time, ticketd release build, CACHE=off" %
            a.repeat)
        say(f"{'case':34} " + " ".join(f"{k[0][:2]}:{k[1]:>12}" for k in results))
        first = next(iter(results.values()))[0]
        for i, r in enumerate(first):
            cells = []
            for key, (res, _) in results.items():
                cells.append(f"{res[i]['median_ms']:15.0f}")
            c = r["case"]
            say(f"{c[0] + ' ' + c[1] + ' ' + c[2]:22} {str(r['rows']):>11} " + " ".join(cells))
        say("")
        say("rows: the answer's row count (or its error code); pg/sq = PostgreSQL/SQLite")
        for key, (res, plans) in results.items():
            for case, plan in plans.items():
                say("")
                say(f"--- plan: {key[0]}, {key[1]}, {' '.join(case)} ---")
                say(plan.rstrip())
    finally:
        if pg and not a.reuse and not a.keep:
            pg.stop()
        if not a.reuse and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif a.keep:
            log(f"kept: {tmp} (PostgreSQL on port {pg.port if pg else '-'})")
    say("")
    say(f"load after: {os.getloadavg()}")
    text = "\n".join(report) + "\n"
    print(text)
    if a.out != "-":
        Path(a.out).write_text(text)


def sqlite_plans(path: Path, pg_plans: dict) -> dict:
    """EXPLAIN QUERY PLAN of the cases PostgreSQL logged (the same SQL text)."""
    out = {}
    con = sqlite3.connect(path)
    for case, plan in pg_plans.items():
        m = re.search(r"Query Text: (WITH sh AS .*?LIMIT \$7)", plan)
        if m:
            rows = con.execute("EXPLAIN QUERY PLAN " + m.group(1),
                               {str(i): None for i in range(1, 8)}).fetchall()
            out[case] = "\n".join(f"{r[0]:>4} {r[1]:>4} {r[3]}" for r in rows)
    con.close()
    return out


if __name__ == "__main__":
    main()
