"""
What the Python benches share: a keep-alive API client, a percentile, a free loopback port, the
venue every bench sets up before it measures anything (an owner, an approved theatre with one
hall, a movie, shows on demand), starting and stopping the servers a bench measures (server_env,
wait_port, stop_all, error_lines, revision, Report), and the whole loop of the idle-stream memory benches
(MemoryBench). Used by bench/checkin.py, promo.py, sse_memory.py, ws_memory.py and ws_fanout.py;
the benches import it from their own directory (`bench/x.py` puts bench/ first on sys.path).

Set-up calls go through Api.ok(), which ends the bench (SystemExit) on any status but the one
expected: a bench whose set-up failed has nothing to measure. Only the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Api:
    """One keep-alive connection to 127.0.0.1:port; call() returns (status, JSON or None).
    A connection the server closed is opened again once per call. Not for sharing between
    threads: each thread makes its own."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        tok = token or self.token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
                if attempt:
                    raise
        try:
            return r.status, json.loads(payload) if payload else None
        except ValueError:
            return r.status, None

    def ok(self, method: str, path: str, body=None, status: int = 200, token=None):
        """call(), and the answer's JSON when its status is `status`; else ends the bench."""
        s, j = self.call(method, path, body, token)
        if s != status:
            raise SystemExit(f"set-up: {method} {path} -> {s} {j}")
        return j

    def close(self) -> None:
        self.conn.close()


def server_args() -> argparse.ArgumentParser:
    """An argument parser with what a bench against a running server needs: --port,
    --admin-email and --admin-password (the server's ADMIN_EMAIL / ADMIN_PASSWORD)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password", required=True)
    return ap


def run_threads(target, n: int) -> float:
    """Runs target(0) .. target(n - 1) in n threads at once; the wall seconds until all end."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.monotonic() - t0


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile of xs (nearest rank), 0 for none."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Venue:
    """Logs in as the admin (self.at), registers an owner (self.ot) and makes, as them, an
    approved theatre (self.theatre) with one hall of `rows` rows of `seats` regular seats
    (self.hall) and a movie (self.movie). Accounts get `password` and addresses @`domain`."""

    def __init__(self, api: Api, admin_email: str, admin_password: str, *, password: str,
                 domain: str, theatre: str, address: str, rows: list[str], seats: int,
                 movie: str, minutes: int = 120):
        self.a, self.password, self.domain = api, password, domain
        a = api
        self.at = a.ok("POST", "/auth/login", {"email": admin_email,
                                               "password": admin_password})["access_token"]
        owner = self.account("owner")
        a.ok("PATCH", f"/admin/users/{owner['user']['id']}", {"role": "owner"}, token=self.at)
        self.ot = a.ok("POST", "/auth/login", {"email": owner["email"], "password": password})[
            "access_token"]
        self.theatre = a.ok("POST", "/theatres", {"name": theatre, "city": "Pune",
                                                  "address": address}, 201, self.ot)
        if self.theatre.get("status") == "pending":  # onboarding: shows need an approved one
            a.ok("POST", f"/admin/theatres/{self.theatre['id']}/approve", None, 200, self.at)
        self.hall = a.ok("POST", f"/theatres/{self.theatre['id']}/halls",
                         {"name": "Audi 1", "layout": {"rows": [
                             {"label": r, "seats": seats, "category": "regular"}
                             for r in rows]}}, 201, self.ot)
        self.movie = a.ok("POST", "/movies", {"title": movie, "duration_minutes": minutes,
                                              "release_date": "2026-01-01", "certificate": "U",
                                              "languages": ["en"], "genres": ["drama"]}, 201,
                          self.at)

    def account(self, label: str) -> dict:
        """Registers a new user; the register answer (user, tokens) plus its email."""
        email = f"{label}-{uuid.uuid4().hex[:10]}@{self.domain}"
        return self.a.ok("POST", "/auth/register", {"email": email, "password": self.password,
                                                    "name": label}, 201) | {"email": email}

    def show(self, starts_at: datetime) -> tuple[str, list[str]]:
        """A show of the movie in the hall at starts_at (UTC, regular seats at 200.00 INR);
        returns its id and its seat ids."""
        show = self.a.ok("POST", "/shows", {"movie_id": self.movie["id"],
                                            "hall_id": self.hall["id"],
                                            "starts_at": starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "prices": {"regular": 20000}, "currency": "INR"},
                         201, self.ot)
        seats = [s["id"] for s in self.a.ok("GET", f"/shows/{show['id']}/seats")["seats"]]
        return show["id"], seats


# ---- the idle-stream memory benches (bench/sse_memory.py, bench/ws_memory.py) ----
#
# Both measure one thing the same way: the server's RSS with N idle live streams of one kind.
# The loop below is theirs: start the release server, set up a venue with one show, open the
# streams in batches (each read up to its first answer), measure, publish one hold and wait for
# every stream to see it, measure again, print a last line for bench/compare.sh. A bench gives
# only what differs: its stream client and the wording and last line of its report.

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@sse.test", "sse-admin-password-1"
PASSWORD = "sse-user-password-1"


def status_kib(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status in KiB (or a count, for Threads); 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mib(kib: float) -> float:
    return kib / 1024


def rss_split(pid: int) -> str:
    """RSS split into anonymous memory (heap, stacks: what the server allocates) and file-backed
    pages (shared libraries' code and data: counted in RSS, shared with other processes)."""
    return (f"anon {mib(status_kib(pid, 'RssAnon')):.1f} MiB, "
            f"file {mib(status_kib(pid, 'RssFile')):.1f} MiB")


# ---- the servers a bench starts ----

def revision() -> str:
    """The checkout's short commit, with "+dirty" when src/ differs from it (a bench's first line
    says what it measured)."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO).returncode
    return rev + ("+dirty" if dirty else "")


def server_env(port: int, tmp: str, database_url: str, admin: tuple[str, str],
               extra: list[str], **more: str) -> dict:
    """A release server's environment for a bench: this process's, without anything the server
    (or libpq, or its Redis client) would read, then loopback PORT, the database (SQLite in tmp
    by default), fixed JWT secrets, the cheapest password hash, no rate limit, warnings only;
    then more (NAME=value) and last the bench's --env NAME=VALUE list (extra)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TICKETD_", "DATABASE_", "PG", "REDIS", "CACHE_"))}
    env.update(
        BIND_ADDRESS="127.0.0.1", PORT=str(port),
        DATABASE_URL=database_url or f"sqlite://{tmp}/t.db",
        JWT_ACCESS_SECRET="bench-access-secret-6f1c2a9e0b7d4c38a5e2f9d1c0b8a7e6",
        JWT_REFRESH_SECRET="bench-refresh-secret-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d",
        PASSWORD_HASH_COST="min", ADMIN_EMAIL=admin[0], ADMIN_PASSWORD=admin[1],
        RATE_LIMIT="off", LOG_LEVEL="warn", MEDIA_DIR=f"{tmp}/media")
    env.update(more)
    for kv in extra:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def wait_port(port: int, proc: subprocess.Popen, log_path: str, what: str,
              timeout: float = 20) -> None:
    """Returns once 127.0.0.1:port accepts; ends the bench with the log's tail if proc exits or
    timeout passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start:\n" + Path(log_path).read_text()[-3000:])
            time.sleep(0.1)


class Report:
    """A bench's report: log() prints a line and keeps it; finish() adds the servers' error lines
    (if any) and appends the whole report to out (the bench's --out file; "" for none)."""

    def __init__(self, out: str):
        self.out, self.lines = out, []

    def log(self, msg: str) -> None:
        print(msg, flush=True)
        self.lines.append(msg)

    def finish(self, errors: list[str]) -> None:
        if errors:
            self.log(f"server error lines: {len(errors)}; first: {errors[0][:300]}")
        if self.out:
            with open(self.out, "a") as f:
                f.write("\n".join(self.lines) + "\n\n")


def stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each, last started first; SIGKILL to one that has not exited in 30 s."""
    for proc in reversed(procs):
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def error_lines(paths: list[str]) -> list[str]:
    """The servers' "level":"error" log lines (a bench reports them: a clean number from a
    server that logged errors is not clean)."""
    out: list[str] = []
    for path in map(Path, paths):
        if path.exists():
            out += [line for line in path.read_text().splitlines() if '"level":"error"' in line]
    return out


class MarkerStream:
    """One raw-socket live-stream client that keeps nothing but the last `keep` bytes it read,
    to spot two markers: READY (the stream's first answer) and SEATS (the event the bench
    publishes). A bench's subclass sets them and writes handshake(port, show_id), which opens
    self.reader/self.writer and returns once the server accepted the stream."""

    READY = SEATS = b""
    KEEP = 256

    def __init__(self):
        self.reader = self.writer = None
        self.ready = asyncio.Event()
        self.seats = asyncio.Event()
        self.pending = b""

    async def handshake(self, port: int, show_id: str) -> None:
        raise NotImplementedError

    async def open(self, port: int, show_id: str):
        await self.handshake(port, show_id)
        asyncio.get_running_loop().create_task(self.pump())

    async def pump(self):
        while True:
            data = await self.reader.read(4096)
            if not data:
                return
            self.pending = (self.pending + data)[-self.KEEP:]  # markers may straddle reads
            if self.READY in self.pending:
                self.ready.set()
            if self.SEATS in self.pending:
                self.seats.set()


class MemoryBench:
    """What a memory bench says: title ("SSE"), unit ("stream"), tmp_prefix, theatre name;
    stream_cls: a MarkerStream;
    result(n, rss_mib, per_kib): the last line for bench/compare.sh."""

    def __init__(self, *, title: str, unit: str, tmp_prefix: str, theatre: str, stream_cls,
                 result):
        self.title, self.unit, self.tmp_prefix, self.theatre = title, unit, tmp_prefix, theatre
        self.stream_cls, self.result = stream_cls, result

    def setup(self, port: int):
        """An approved theatre with a 10-seat hall and one show; (show_id, seat ids, token)."""
        a = Api(port)
        v = Venue(a, ADMIN_EMAIL, ADMIN_PASSWORD, password=PASSWORD, domain="sse.test",
                  theatre=self.theatre, address="1 Socket Road", rows=["A"], seats=10,
                  movie="Streams")
        start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0,
                                                                         microsecond=0)
        show, seats = v.show(start)
        buyer = v.account("buyer")["access_token"]
        a.close()  # no set-up connection left open while the server's memory is measured
        return show, seats, buyer

    async def open_all(self, port: int, show_id: str, n: int, batch: int) -> list:
        streams: list = []
        for i in range(0, n, batch):
            part = [self.stream_cls() for _ in range(min(batch, n - i))]
            await asyncio.gather(*(s.open(port, show_id) for s in part))
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in part)), 30)
            streams += part
        return streams

    async def run(self, args, pid: int, port: int, log) -> int:
        u = self.unit
        show_id, seats, buyer = self.setup(port)
        time.sleep(0.5)
        idle = status_kib(pid, "VmRSS")
        log(f"idle:   rss {mib(idle):.1f} MiB ({rss_split(pid)}), "
            f"threads {status_kib(pid, 'Threads')} (after the set-up requests)")
        t0 = time.monotonic()
        streams = await self.open_all(port, show_id, args.streams, args.batch)
        log(f"opened: {len(streams)} {u}s in {time.monotonic() - t0:.1f} s")
        await asyncio.sleep(args.settle)
        at_n = status_kib(pid, "VmRSS")
        log(f"open:   rss {mib(at_n):.1f} MiB with {len(streams)} idle {u}s "
            f"({(at_n - idle) / len(streams):.2f} KiB per {u}; {rss_split(pid)}), "
            f"threads {status_kib(pid, 'Threads')}")
        a = Api(port)
        a.ok("POST", f"/shows/{show_id}/holds", {"seat_ids": seats[:2]}, 201, buyer)
        a.close()
        try:
            await asyncio.wait_for(asyncio.gather(*(s.seats.wait() for s in streams)), 60)
        except asyncio.TimeoutError:
            missed = sum(1 for s in streams if not s.seats.is_set())
            log(f"FAIL: {missed} of {len(streams)} {u}s got no seats event within 60 s")
            return 1
        log(f"event:  all {len(streams)} {u}s got the seats event")
        await asyncio.sleep(args.settle)
        final = status_kib(pid, "VmRSS")
        per = (final - idle) / len(streams)
        log(f"after:  rss {mib(final):.1f} MiB (peak {mib(status_kib(pid, 'VmHWM')):.1f} MiB), "
            f"{per:.2f} KiB per {u} over idle")
        for s in streams:
            s.writer.close()
        log(self.result(len(streams), mib(final), per))
        return 0

    def main(self, description: str) -> int:
        p = argparse.ArgumentParser(description=description)
        p.add_argument("--streams", type=int, default=5000)
        p.add_argument("--batch", type=int, default=250, help=f"{self.unit}s opened at once")
        p.add_argument("--settle", type=float, default=3.0,
                       help="seconds idle before a measurement")
        p.add_argument("--bin", default=os.environ.get("TICKETD_BIN", str(REPO / "build/ticketd")))
        p.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
        p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
        p.add_argument("--out", default="", help="also append the report to this file")
        args = p.parse_args()
        raise_open_files(args.streams + 1024)

        report = Report(args.out)
        log = report.log

        tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
        port = free_port()
        env = server_env(port, tmp, args.database_url, (ADMIN_EMAIL, ADMIN_PASSWORD), args.env,
                         MAX_CONNECTIONS=str(args.streams + 200),
                         SSE_MAX_STREAMS=str(args.streams + 100), SSE_HEARTBEAT="2s")
        log(f"ticketd {self.title} memory bench {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
            f"{revision()} streams={args.streams} "
            f"db={'postgres' if args.database_url else 'sqlite'} "
            f"heartbeat={env['SSE_HEARTBEAT']} WORKERS={env.get('WORKERS', 'default')} "
            f"extra={' '.join(args.env) or '-'}")
        log_path = f"{tmp}/ticketd.log"
        errlog = open(log_path, "w")
        proc = subprocess.Popen([args.bin], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                                stdout=errlog, stderr=subprocess.STDOUT)
        try:
            wait_port(port, proc, log_path, "server")
            rc = asyncio.run(self.run(args, proc.pid, port, log))
        finally:
            stop_all([proc])
            errlog.close()
            errors = error_lines([log_path])
            subprocess.run(["rm", "-rf", tmp])
        report.finish(errors)
        return rc


def raise_open_files(need: int) -> None:
    """Raises this process's open-files limit to need (the server it starts inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        except (ValueError, OSError):
            raise SystemExit(f"open files limit {hard} < {need}: run as root or raise it")
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
