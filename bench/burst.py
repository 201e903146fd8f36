#!/usr/bin/python3
"""
Burst latency (issue 13, row 5): 100 users each hold 2 seats in the same instant, beside the
same burst of the bare hold SQL run by pgbench on the server's PostgreSQL (the row's limit), and
the same client bursting GET /healthz over the same 100 connections (the issue's first reference).

The client opens one keep-alive connection per user beforehand, then writes all 100 requests
in one loop (a few milliseconds for the whole burst) and reads the answers as they come. A
request's latency runs from its write to the last byte of its answer, so both HTTP bursts pay the
same client overhead (asyncio on the machine's own cores). Each round makes one hold burst on
100 fresh seat pairs of one show (no two users ask for the same seat: every hold should be a
201) and one /healthz burst after it.

The same burst as bare SQL (--pg-url; compare.sh always passes it): after each round's hold
burst, pgbench runs bench/burst_pgbench.sql, the transaction of bench/holds_pgbench.sql (the hold
row and ticketd's own claims upsert statement text with the price subquery), one per user of the
burst, on the burst's show and on fresh seat pairs (not those the server just took: new ones per
round and way; the hall gets the rows it needs), from a lookup table (bench_burst) filled per
round with psql. Four ways, each reported:
  (a) 100 connections, one transaction each, all at once (pgbench -c100 -j2);
  (b) --workers connections (the server's WORKERS, 16) running the 100 between them, the burst
      through a pool the size of the server's;
  (c100), (c16) the same two, each transaction pipelined (bench/burst_pgbench_pipelined.sql:
      BEGIN, the two INSERTs and COMMIT between \\startpipeline and \\endpipeline, one round trip;
      (a) and (b) make 5, ticketd about 2). No look-up first (\\gset is not allowed in a
      pipeline): the show, the time and the hold id's prefix are pgbench variables, the user and
      the seats scalar subqueries on the lookup table inside the INSERTs.
Every connection first runs the same statements once, rolled back (a new backend loads its
catalog caches and prepares: the server's pool connections are warm), then waits for one start
instant. A transaction's time runs from the burst's start (its earliest transaction start) to
its COMMIT's answer (pgbench --log: end - latency), what a user of the burst waits. After each
run every transaction must have committed its hold with its 2 claims (rows counted), else exit 1.
The limit is the way with the lowest median p50; a round's ratio is the server's holds p50 over
that way's p50 of the same round, and the row's ratio the median of the rounds' ratios (each
round's figures saw nearly the same machine).

Set-up through the API: admin login, a movie, an approved theatre, a hall of ROWS x 100 seats,
one show, USERS registered users (RATE_LIMIT=off on the server, as in every bench).

Where a burst's time goes (--profile, needs --pg-url; compare.sh passes it with BURST_PROFILE=1):
around every hold burst and every SQL burst, the database's commits and WAL flushes
(pg_stat_database, pg_stat_wal; the flushes' time when PostgreSQL runs with
track_wal_io_timing=on) and the CPU time of PostgreSQL (--pg-pid: the postmaster, its children and
reaped children); around the hold bursts also the server's (--server-pid) and the server's own
account of the holds (GET /metrics: mean time from the first byte to the answer, of which waiting
for a handler thread and for a database connection).

Usage: bench/burst.py --url http://127.0.0.1:PORT --admin-email E --admin-password P
         [--users 100] [--rounds 5] [--rows N]
         [--pg-url postgres://... [--workers 16] [--pg-bin DIR]]
         [--profile [--pg-pid PID] [--server-pid PID]]
Prints every round (p50, p99, status mix of the HTTP bursts, what each SQL burst committed) and
a last line
  burst: holds p50 X ms, SQL limit p50 Y ms, ratio R (SQL (w), N connections[, pipelined]; ...);
         beside it healthz p50 Z ms, holds/healthz Q (...)
(without --pg-url: burst: holds p50 X ms, healthz p50 Z ms, holds/healthz Q (...)).
Only the standard library (and pgbench, psql). Exits non-zero when a hold burst is not all 201 or
a SQL burst did not commit all its holds and claims.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    """(show id, the users' tokens, their emails, the show's seat ids row by row)."""
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
    emails = [f"burst{stamp}-{i}@bench.local" for i in range(users)]
    tokens = [api(base, "POST", "/auth/register",
                  {"email": e, "password": "burst-password-1", "name": f"b{i}"})["access_token"]
              for i, e in enumerate(emails)]
    return show, tokens, emails, ids


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
    def report(a: dict, b: dict, holds: int, server: bool = True) -> str:
        d = {k: b[k] - a[k] for k in a}
        d["commits"] -= 1  # the sample's own query

        def mean_ms(s: str, n: str) -> float:
            return d[s] / d[n] * 1000 if d[n] else 0.0
        db = (f"           db: {d['commits']} commits, {d['syncs']} WAL flushes"
              f" ({d['sync_ms']:.1f} ms in fsync), {d['records']} WAL records;"
              f" CPU: PostgreSQL {d['pg_cpu'] * 1000 / HZ:.0f} ms")
        if not server:  # a SQL burst: the server idles (its CPU would be noise)
            return (f"{db} for {holds} transactions (the whole pgbench run: its connections"
                    " opened and warmed up, the burst, their exit)")
        return (f"{db}, server {d['srv_cpu'] * 1000 / HZ:.0f} ms for {holds} holds\n"
                "           server (mean per request, /metrics): hold"
                f" {mean_ms('req_s', 'req_n'):.1f}"
                f" ms, of which waiting for a handler thread {mean_ms('q_s', 'q_n'):.1f} ms and for"
                f" a database connection {mean_ms('p_s', 'p_n'):.1f} ms")


def pg_tool(name: str, pg_bin: str | None) -> str:
    """pgbench or psql: from --pg-bin, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    if pg_bin:
        return os.path.join(pg_bin, name)
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda c: int(re.sub(r"\D", "", c.split("/")[4]) or 0))
    if not cands:
        sys.exit(f"burst.py: {name} not found (--pg-bin)")
    return cands[-1]


SQL_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "burst_pgbench.sql")
SQL_PIPELINED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "burst_pgbench_pipelined.sql")


class SqlBurst:
    """The same burst as bare SQL on the server's PostgreSQL (bench/burst_pgbench.sql, pgbench)."""

    def __init__(self, pg_url: str, pg_bin: str | None, show: str, emails: list[str],
                 workers: int, pg_pid: int | None = None):
        self.pg_url, self.show, self.workers, self.pg_pid = pg_url, show, workers, pg_pid
        self.psql_bin, self.pgbench = pg_tool("psql", pg_bin), pg_tool("pgbench", pg_bin)
        self.stamp = int(time.time())
        ids = dict(ln.split("|") for ln in self.psql(
            "SELECT email, id FROM users WHERE email IN (%s)"
            % ", ".join(f"'{e}'" for e in emails)).split())
        if len(ids) != len(emails):
            sys.exit(f"burst.py: {len(ids)} of {len(emails)} users found in the database")
        self.users = [ids[e] for e in emails]
        self.psql("CREATE TABLE IF NOT EXISTS bench_burst (n int PRIMARY KEY, show_id text,"
                  " user_id text, hold_id text, seat_a text, seat_b text);"
                  " CREATE UNLOGGED TABLE IF NOT EXISTS bench_burst_late (client int)")

    def psql(self, sql: str) -> str:
        return subprocess.run([self.psql_bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                               self.pg_url, "-c", sql],
                              capture_output=True, text=True, check=True).stdout

    def fill(self, rnd: int, pairs: dict[str, list[list[str]]]) -> None:
        """Rows base .. base+users-1 of the lookup table for each way (way 0 at 0, way 1 at
        users, ...): user i of the burst holds pairs[way][i] under a hold id of its own."""
        rows = []
        # Row n's hold id: the prefix and n (the pipelined script builds it so, without a look-up).
        self.hold_prefix = f"hld_sqlb_{self.stamp}_{rnd + 1}_"
        for w, (way, ps) in enumerate(pairs.items()):
            for i, (u, pair) in enumerate(zip(self.users, ps)):
                a, b = sorted(pair)  # ticketd claims seats in sorted order
                n = w * len(self.users) + i
                rows.append(f"({n}, '{self.show}', '{u}', '{self.hold_prefix}{n}', '{a}', '{b}')")
        self.psql("TRUNCATE bench_burst; INSERT INTO bench_burst VALUES " + ", ".join(rows)
                  + "; ANALYZE bench_burst")

    def run(self, base: int, clients: int, pipelined: bool = False) -> tuple[list[float], str]:
        """pgbench runs the users' transactions (rows base.. of the lookup table) through
        `clients` warm connections that all start at one instant, each transaction in one round
        trip when pipelined (bench/burst_pgbench_pipelined.sql); (each transaction's time in
        ms from the burst's start, the earliest transaction start, to its COMMIT's answer; an
        error text, empty when every transaction committed with its 2 claims). Sets self.note:
        how closely the clients started together."""
        total = len(self.users)
        per = -(-total // clients)
        self.note, self.burst_cpu_ms = "", None
        self.psql("TRUNCATE bench_burst_late")
        # The start: time enough to connect every client and run its warm-up on a busy machine.
        t0 = time.time() + 1.0 + 0.03 * clients
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [self.pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                   "-t", str(per + 1), "-D", f"clients={clients}", "-D", f"total={total}",
                   "-D", f"base={base}", "-D", "k=0", "-D", f"t0={t0:.6f}",
                   "--log", f"--log-prefix={tmp}/pgb"]
            if pipelined:
                cmd += ["-D", f"show={self.show}", "-D", f"hold_prefix={self.hold_prefix}",
                        "-D", f"now_ms={int(t0 * 1000)}", "-f", SQL_PIPELINED, self.pg_url]
            else:
                cmd += ["-f", SQL_SCRIPT, self.pg_url]
            with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) as pgb:
                if self.pg_pid:  # PostgreSQL's CPU from just before the start (--profile)
                    time.sleep(max(0.0, t0 - 0.2 - time.time()))
                    cpu0 = ticks(self.pg_pid, True) if pgb.poll() is None else None
                out, errout = pgb.communicate()
                if self.pg_pid and cpu0 is not None:
                    # Its backends exit now: read once the postmaster has reaped them (their CPU
                    # is then in its children's time; read while they go, some would be missed).
                    time.sleep(0.5)
                    self.burst_cpu_ms = (ticks(self.pg_pid, True) - cpu0) * 1000 / HZ
            r = subprocess.CompletedProcess(cmd, pgb.returncode, out, errout)
            lines = []
            for f in glob.glob(f"{tmp}/pgb.*"):
                with open(f) as fh:
                    lines += [ln.split() for ln in fh if ln.strip()]
        err = "" if r.returncode == 0 else \
            f"pgbench exit {r.returncode}: " + " | ".join(
                [ln for ln in (r.stderr + r.stdout).splitlines()
                 if re.search(r"error|abort|invalid|fail", ln, re.I)][:4])
        spans, firsts, failed = [], [], 0
        for v in lines:  # client_id transaction_no (from 1) time script_no time_epoch time_us
            cid, run_no = int(v[0]), int(v[1])
            if not v[2].isdigit():
                failed += 1  # "failed" (pgbench >= 15 logs them) or "skipped"
                continue
            end = int(v[4]) + int(v[5]) / 1e6
            if run_no == 1:
                continue  # the warm-up
            if cid + clients * (run_no - 2) >= total:
                continue  # an empty run past the total
            spans.append((end - int(v[2]) / 1e6, end))
            if run_no == 2:
                firsts.append(spans[-1][0])
        late = int(self.psql("SELECT count(*) FROM bench_burst_late"))
        times = []
        if spans:
            start = min(a for a, _ in spans)
            times = [(e - start) * 1000 for _, e in spans]
            self.note = (f"started {(start - t0) * 1000:+.1f} ms from t0, within"
                         f" {(max(firsts) - min(firsts)) * 1000:.1f} ms"
                         + (f", {late} clients late for t0" if late else ""))
        holds, claims = (int(x) for x in self.psql(
            "SELECT (SELECT count(*) FROM holds h JOIN bench_burst b ON b.hold_id = h.id"
            f" WHERE b.n >= {base} AND b.n < {base + total}),"
            " (SELECT count(*) FROM seat_claims c JOIN bench_burst b ON c.hold_id = b.hold_id"
            " AND c.show_id = b.show_id AND c.seat_id IN (b.seat_a, b.seat_b)"
            f" WHERE b.n >= {base} AND b.n < {base + total})").split("|"))
        if not err and (len(times) != total or failed or holds != total or claims != 2 * total):
            err = (f"{len(times)} transactions logged ({failed} failed), {holds} holds and"
                   f" {claims} claims committed; {total} and {2 * total} expected")
        self.committed = (holds, claims)
        return times, err


async def run(url: str, show: str, tokens: list[str], ids: list[str], rounds: int,
              prof: Profile | None = None, sql: SqlBurst | None = None) -> int:
    u = urllib.parse.urlsplit(url)
    host = u.netloc
    conns = [Conn(u.hostname, u.port) for _ in tokens]
    await asyncio.gather(*(c.open() for c in conns))
    users = len(tokens)
    # (a) one connection per user, all at once; (b) the server's WORKERS connections; (c) the
    # same two, each transaction pipelined: way -> (connections, pipelined).
    ways = {"a": (users, False), "b": (sql.workers, False), f"c{users}": (users, True),
            f"c{sql.workers}": (sql.workers, True)} if sql else {}
    # Warm-up: every connection and user once (token checks cached), then one unreported hold
    # burst on the hall's last pairs, so the server's pool has opened the connections a burst
    # takes (they open lazily, store/db.h; pgbench's are warmed the same way) and every round,
    # the first too, retires the user's previous hold as the later ones do.
    await burst(conns, [request(host, "GET", "/healthz") for _ in conns])
    await burst(conns, [request(host, "GET", f"/api/v1/shows/{show}", None, t) for t in tokens])
    warm = ids[len(ids) - 2 * users:]
    await burst(conns, [request(host, "POST", f"/api/v1/shows/{show}/holds",
                                {"seat_ids": warm[2 * i: 2 * i + 2]}, t)
                        for i, t in enumerate(tokens)])
    hp50s, zp50s, bad = [], [], 0
    wp50s: dict[str, list[float]] = {w: [] for w in ways}
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
        hp50s.append(hp)
        zp50s.append(zp)
        bad += users - hs.get(201, 0)
        print(f"  round {rnd + 1}: holds   p50 {hp:7.1f} ms  p99 {pct(hl, 99):7.1f} ms  status "
              f"{dict(sorted(hs.items()))}", flush=True)
        if prof:
            print(Profile.report(before, after, users), flush=True)
        if sql:
            # Fresh pairs for each way, past every pair the server's rounds take.
            pairs = {}
            for w, way in enumerate(ways):
                off = rounds * users * 2 + (rnd * len(ways) + w) * users * 2
                pairs[way] = [ids[off + 2 * i: off + 2 * i + 2] for i in range(users)]
            sql.fill(rnd, pairs)
            for w, (way, (clients, piped)) in enumerate(ways.items()):
                await asyncio.sleep(0.3)
                before = prof.sample() if prof else None
                times, err = sql.run(w * users, clients, piped)
                after = prof.sample() if prof else None
                if err:
                    print(f"burst.py: SQL burst ({way}), round {rnd + 1}: {err}", file=sys.stderr)
                    return 1
                wp50s[way].append(pct(times, 50))
                print(f"           {'SQL (' + way + ')':<10} p50 {pct(times, 50):7.1f} ms  p99"
                      f" {pct(times, 99):7.1f} ms  committed {sql.committed[0]} holds,"
                      f" {sql.committed[1]} claims, {clients} connections, {sql.note}",
                      flush=True)
                if prof:
                    print(Profile.report(before, after, users, server=False), flush=True)
                    if sql.burst_cpu_ms is not None:
                        print(f"           CPU: PostgreSQL {sql.burst_cpu_ms:.0f} ms from 0.2 s"
                              " before the burst's start to pgbench's exit", flush=True)
                # Keeps the connections inside the server's idle time-out (CONNECTION_TIMEOUT,
                # 15 s; four ways of pgbench take about as long): an unreported /healthz burst.
                await burst(conns, [request(host, "GET", "/healthz") for _ in conns])
        print(f"           healthz p50 {zp:7.1f} ms  p99 {pct(zl, 99):7.1f} ms  status "
              f"{dict(sorted(zs.items()))}", flush=True)
    for c in conns:
        c.writer.close()
    zr = [h / z if z > 0 else 0 for h, z in zip(hp50s, zp50s)]
    zpart = (f"healthz p50 {statistics.median(zp50s):.1f} ms, holds/healthz"
             f" {statistics.median(zr):.2f} (rounds' {' '.join(f'{r:.2f}' for r in zr)})")
    if not sql:
        print(f"burst: holds p50 {statistics.median(hp50s):.1f} ms, {zpart}")
        return 1 if bad else 0
    # The limit: the way with the lower median p50 (the best way to run the same SQL burst);
    # a round's ratio is its holds p50 over that way's p50 of the same round.
    best = min(ways, key=lambda w: statistics.median(wp50s[w]))
    rs = [h / b if b > 0 else 0 for h, b in zip(hp50s, wp50s[best])]
    print("rounds' ratios to SQL (" + best + "): " + " ".join(f"{r:.2f}" for r in rs)
          + "; " + ", ".join(f"SQL ({w}) median p50 {statistics.median(v):.1f} ms"
                             for w, v in wp50s.items()))
    print(f"burst: holds p50 {statistics.median(hp50s):.1f} ms, SQL limit p50"
          f" {statistics.median(wp50s[best]):.1f} ms, ratio {statistics.median(rs):.2f}"
          f" (SQL ({best}), {ways[best][0]} connections"
          f"{', pipelined' if ways[best][1] else ''}; goal <= 1.5); beside it {zpart}")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, help="hall rows of 100 seats (default: as many as the"
                    " rounds need, at least 20)")
    ap.add_argument("--pg-url", help="the server's PostgreSQL: the same burst as bare SQL there"
                    " after every round (and --profile's counters)")
    ap.add_argument("--workers", type=int, default=16,
                    help="the server's WORKERS: the SQL burst's pooled way uses as many"
                    " connections")
    ap.add_argument("--pg-bin", help="where pgbench and psql are (default: PATH, then the newest"
                    " /usr/lib/postgresql/*/bin)")
    ap.add_argument("--profile", action="store_true", help="counters around every burst")
    ap.add_argument("--pg-pid", type=int, help="its postmaster's pid (for --profile)")
    ap.add_argument("--server-pid", type=int, help="the server's pid (for --profile)")
    a = ap.parse_args()
    if a.profile and not a.pg_url:
        ap.error("--profile needs --pg-url")
    if a.users < 1 or a.rounds < 1 or a.workers < 1:
        ap.error("--users, --rounds and --workers must be at least 1")
    # The server's pairs, then fresh ones for each SQL way of each round, and the warm-up's last.
    need = a.users * 2 * a.rounds * (5 if a.pg_url else 1) + a.users * 2  # + the warm-up's
    rows = a.rows if a.rows else max(20, -(-need // 100))
    if need > rows * 100 or rows > 100:
        ap.error(f"not enough seats: {need} needed, a hall has at most 100 rows of 100")
    show, tokens, emails, ids = setup(a.url, a.admin_email, a.admin_password, a.users, rows)
    sql = SqlBurst(a.pg_url, a.pg_bin, show, emails, a.workers,
                   a.pg_pid if a.profile else None) if a.pg_url else None
    prof = Profile(a.url, a.pg_url, a.pg_pid, a.server_pid) if a.profile else None
    return asyncio.run(run(a.url, show, tokens, ids, a.rounds, prof, sql))


if __name__ == "__main__":
    sys.exit(main())
