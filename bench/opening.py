#!/usr/bin/python3
"""
Opening night: a stampede of buyers on one show of a ticketd cluster, then an audit of the end
state through the API and straight from PostgreSQL.

Every user arrives within the same second (`spread`) and asks for seats: some for a few
adjacent seats in the middle of the popular rows, the rest best-available {quantity: 1..4};
a user whose hold is refused tries again (best available, with growing pauses) until the show
is sold out or the deadline passes. A user with a hold then does one of:
  pay       book -> pay (test provider) -> confirm; some of them double-click "book" (two
            POST /bookings at once, on two servers), pay twice (two payments confirmed at
            once on two servers), send the same confirmation twice at once, or cancel after
  late      book, wait until the hold has expired, then pay and confirm (confirmed when nobody
            took the seats meanwhile, else expired_refunded with a refund)
  unpaid    book and never pay          abandon   hold and walk away          release   DELETE
Requests go to nginx for half of the users and straight to one of the servers for the rest.

The audit (audit()) checks, from the database and through the API of every server:
  no seat sold twice (valid tickets and confirmed bookings unique per show and seat); every
  confirmed booking has exactly its seats' tickets and sold claims, every other booking none;
  every payment the driver sent to a confirmation is kept by exactly one confirmed booking or
  refunded exactly once (no paid booking lost, no double refund); every booking the driver saw
  confirmed and did not cancel is still confirmed; no live hold overlaps a sold seat and each
  has exactly its seats; sold + held + available = capacity; the seat map of nginx and of each
  server agrees with the database (again, strictly, once every hold has expired); the API's
  bookings and sales agree with the database; no 5xx, no failed or timed-out request.

Used by bench/opening.sh (full scale) and tests/api/test_opening.py (tiny scale). Only the
standard library: the load generator is asyncio over raw sockets (HTTP/1.1 keep-alive), cheap
enough to run on the same two cores as the cluster; --loop uvloop runs it on Debian's
python3-uvloop, --procs N over N forked processes (stampede_procs).

Measuring the driver itself (issue 13): a driver that shares the cores with the servers can
report latencies that are its own. So every request carries an X-Request-Id ("<step>.<process>.
<n>"), which nginx and ticketd write in their access lines, and the report sets each step's
latency as the driver saw it (to the last byte, and to the answer's head) beside nginx's and
the servers' own figures for the same requests (access_logs, views); and a probe in each event
loop records how late a 10 ms sleep wakes, and how much of that time the process was on a CPU
(lag_probe): a loop busy with its own work, or a process waiting for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import mmap
import multiprocessing
import os
import pickle
import random
import re
import shlex
import subprocess
import struct
import sys
import time
import traceback
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

RETRIES = 3  # a careful client sends a POST again (same Idempotency-Key) after a 5xx or a drop
REQUEST_TIMEOUT = 30.0  # seconds; a request that takes longer is a hang (a violation)
IDLE_REOPEN = 8.0  # reopen a keep-alive connection idle this long (ticketd closes at 15 s)
PASSWORD = "opening-night-1"
# --accept-language: sent with every request, as a browser does (ticketd then answers errors in
# it rather than in the caller's saved locale; neither costs a query); --no-hold-keys: holds go
# without an Idempotency-Key (harmless for a hold: a user's new hold replaces his last one). That
# changes how the servers answer (booking/early.h: a keyed hold refused from the claims view
# still stores its answer with its key, one INSERT), so results are comparable only between runs
# with the same settings. (Before the saved locale came with the session check, a hold without
# Accept-Language was never refused on the network thread and each of its errors read the
# locale, one query: older results in bench/results/ reflect that.)
EXTRA_HEADERS: list[str] = []
HOLD_KEYS = True


# --------------------------------------------------------------------------------------------
# Parameters


@dataclass
class Params:
    users: int = 2000
    rows: str = "ABCDEFGHIJKLMNOPQRST"  # one letter per row, front to back
    seats_per_row: int = 25
    gaps_after: tuple = (5, 20)
    blocked: tuple = ("A1", "A25")  # never sold
    popular_rows: str = "FGH"
    popular_seats: tuple = (10, 16)  # inclusive seat numbers in the popular rows
    categories: dict = field(default_factory=lambda: {"front": "ABCDE", "recliner": "PQRST"})
    prices: dict = field(default_factory=lambda: {"front": 15000, "regular": 25000,
                                                  "recliner": 40000})
    hold_ttl: float = 20.0  # must be the servers' HOLD_TTL
    spread: float = 1.0  # every user arrives within this many seconds
    deadline: float = 120.0  # the stampede stops this long after the start
    p_popular: float = 0.4  # first try: adjacent seats in the popular block
    p_look: float = 0.3  # look at the seat map before the first try
    # what a user does with a hold (the rest pays)
    p_abandon: float = 0.08
    p_release: float = 0.05
    p_unpaid: float = 0.07
    p_late: float = 0.10
    # among payers (independent)
    p_double_book: float = 0.05
    p_double_pay: float = 0.05
    p_double_confirm: float = 0.05
    p_cancel: float = 0.08
    seed: int = 1
    register_concurrency: int = 48

    @staticmethod
    def tiny(**kw) -> "Params":
        """The CI size: 100 users, one 40-seat hall (4 rows of 10), a short hold."""
        p = Params(users=100, rows="ABCD", seats_per_row=10, gaps_after=(), blocked=(),
                   popular_rows="BC", popular_seats=(4, 7), categories={},
                   prices={"regular": 15000}, hold_ttl=6.0, spread=0.5, deadline=30.0,
                   p_abandon=0.10, p_release=0.08, p_unpaid=0.08, p_late=0.12,
                   p_double_book=0.15, p_double_pay=0.15, p_double_confirm=0.15, p_cancel=0.15,
                   register_concurrency=16)
        for k, v in kw.items():
            setattr(p, k, v)
        return p

    def layout(self) -> dict:
        rows = []
        for lbl in self.rows:
            cat = next((c for c, rs in self.categories.items() if lbl in rs), "regular")
            blocked = sorted(int(b[1:]) for b in self.blocked if b[0] == lbl)
            rows.append({"label": lbl, "seats": self.seats_per_row, "category": cat,
                         "gaps_after": list(self.gaps_after), "blocked": blocked})
        return {"rows": rows}

    def capacity(self) -> int:
        return len(self.rows) * self.seats_per_row - len(self.blocked)


# --------------------------------------------------------------------------------------------
# HTTP/1.1 over asyncio streams


class NetError(Exception):
    pass


class Conn:
    """One keep-alive connection to one entry point (nginx or a server)."""

    def __init__(self, name: str, port: int):
        self.name, self.port = name, port
        self.reader = self.writer = None
        self.last = 0.0
        self.t_head = 0.0  # monotonic time the last answer's head was read (its first byte's)
        self.t_connect = 0.0  # seconds the last request spent opening the connection (0: reused)

    async def open(self) -> "Conn":
        self.close()
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22), 10)
        self.last = time.monotonic()
        return self

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body=None, token: str | None = None,
                      key: str | None = None, rid: str | None = None):
        """(status, headers, body bytes); raises NetError or asyncio.TimeoutError. rid: sent as
        X-Request-Id, so nginx's and the server's access-log lines can be matched to it.
        self.t_head is then when the answer's head had been read (the time to its first byte,
        as near as this event loop can tell)."""
        self.t_connect = 0.0
        if self.writer is None or time.monotonic() - self.last > IDLE_REOPEN:
            t = time.monotonic()
            await self.open()
            self.t_connect = time.monotonic() - t
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        if key:
            head.append(f"Idempotency-Key: {key}")
        if rid:
            head.append(f"X-Request-Id: {rid}")
        head += EXTRA_HEADERS
        try:
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
            status, headers, payload = await asyncio.wait_for(self._response(), REQUEST_TIMEOUT)
        except asyncio.TimeoutError:
            self.close()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            self.close()
            raise NetError(f"{self.name}: {e!r}") from e
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.last = time.monotonic()
        return status, headers, payload

    async def _response(self):
        raw = await self.reader.readuntil(b"\r\n\r\n")
        self.t_head = time.monotonic()
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            return status, headers, b"".join(parts)
        n = int(headers.get("content-length", "0"))
        return status, headers, (await self.reader.readexactly(n)) if n else b""


@dataclass
class Sample:
    step: str
    status: int  # HTTP status; 0 = connection error, -1 = time-out
    latency: float
    t: float  # since the start of the stampede (negative: set-up)
    target: str
    code: str = ""  # the error code of a 4xx
    head: float = 0.0  # seconds from sending to the answer's head read (0: no answer)
    rid: str = ""  # its X-Request-Id: "<step>.<process>.<n>"
    connect: float = 0.0  # of latency, seconds spent opening a new connection (0: reused)


class Client:
    """Sends requests and records one Sample per request."""

    def __init__(self, tag: str = "p0"):
        self.samples: list[Sample] = []
        self.t0 = time.monotonic()
        self.problems: list[str] = []  # transport failures and 5xx, with context
        self.retried: Counter = Counter()  # step -> attempts sent again
        self.tag = tag  # the driver process, in request ids
        self.seq = 0
        # The event loop's lateness: (t since the start, seconds a 10 ms sleep woke up late,
        # the process's tag), from lag_probe.
        self.lags: list[tuple] = []

    async def call(self, conn: Conn, step: str, method: str, path: str, body=None,
                   token: str | None = None, retry: bool = False, parse: bool = True):
        """(status, parsed JSON or None). With retry, as a careful client does: a POST carries
        an Idempotency-Key, and a 5xx, a dropped connection or a time-out is sent again (same
        key) up to RETRIES times after a pause; every attempt is recorded. parse=False: a 2xx
        body is not parsed (None): a buyer's look at the seat map, whose ~80 KB the driver
        never reads, would cost ~0.5 ms of the event loop each, hundreds of them in the
        stampede's first second."""
        key = uuid.uuid4().hex if retry and method == "POST" and (HOLD_KEYS or step != "hold") \
            else None
        for attempt in range(RETRIES + 1 if retry else 1):
            status, j = await self._call(conn, step, method, path, body, token, key, parse)
            if 0 < status < 500:
                break
            if attempt < RETRIES and retry:
                self.retried[step] += 1
                await asyncio.sleep(1.0 + attempt)
        return status, j

    async def _call(self, conn, step, method, path, body, token, key, parse=True):
        self.seq += 1
        rid = f"{step}.{self.tag}.{self.seq}"
        start = time.monotonic()
        try:
            status, headers, payload = await conn.request(method, path, body, token, key, rid)
        except asyncio.TimeoutError:
            self.samples.append(Sample(step, -1, time.monotonic() - start, start - self.t0,
                                       conn.name, rid=rid))
            self.problems.append(f"{step} {method} {path} on {conn.name}: no answer in "
                                 f"{REQUEST_TIMEOUT:.0f} s")
            return -1, None
        except NetError as e:
            self.samples.append(Sample(step, 0, time.monotonic() - start, start - self.t0,
                                       conn.name, rid=rid))
            self.problems.append(f"{step} {method} {path}: connection failed: {e}")
            return 0, None
        lat = time.monotonic() - start
        try:
            if payload and (parse or status >= 300) and \
                    headers.get("content-encoding", "").lower() == "gzip":
                payload = gzip.decompress(payload)
            j = json.loads(payload) if payload and (parse or status >= 300) else None
        except ValueError:
            j = None
        code = ""
        if status >= 400 and isinstance(j, dict):
            code = (j.get("error") or {}).get("code", "")
        self.samples.append(Sample(step, status, lat, start - self.t0, conn.name, code,
                                   conn.t_head - start, rid, conn.t_connect))
        if status >= 500:
            self.problems.append(f"{step} {method} {path} on {conn.name}: {status} "
                                 f"{payload[:300]!r}")
        return status, j


# --------------------------------------------------------------------------------------------
# The cluster and its database


@dataclass
class Target:
    name: str
    port: int


@dataclass
class ClusterInfo:
    nginx: Target
    servers: list
    pg_bin: str
    pg_port: str
    dir: str = ""  # the cluster's directory: the servers' and nginx's logs

    @staticmethod
    def from_state(path: str) -> "ClusterInfo":
        st = {}
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                st[k] = " ".join(shlex.split(v)) if v else ""
        servers = [Target(f"ticketd{i + 1}", int(p))
                   for i, p in enumerate(st["TICKETD_PORTS"].split())]
        return ClusterInfo(Target("nginx", int(st["NGINX_PORT"])), servers, st["PG_BIN"],
                           st["PG_PORT"], st.get("CLUSTER_DIR", ""))

    @property
    def entry_points(self) -> list:
        return [self.nginx, *self.servers]

    def psql(self, sql: str) -> list[list[str]]:
        cmd = [f"{self.pg_bin}/psql", "-h", "127.0.0.1", "-p", self.pg_port, "-U", "postgres",
               "-d", "ticketd", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
               "-c", sql]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"psql failed: {p.stderr.strip()}")
        return [ln.split("\t") for ln in p.stdout.splitlines() if ln]


SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,96}$")


def q(s: str) -> str:
    """An id spliced into audit SQL: only ids ticketd generated ever get here."""
    if not SAFE_ID.match(s):
        raise ValueError(f"unexpected id {s!r}")
    return f"'{s}'"


# --------------------------------------------------------------------------------------------
# Set-up: admin, movie, theatre, hall, show, users


async def must(client: Client, conn: Conn, step: str, method: str, path: str, want: int,
               body=None, token=None):
    st, j = await client.call(conn, step, method, path, body, token)
    if st != want:
        raise RuntimeError(f"set-up {method} {path}: {st} {j}")
    return j


async def setup(info: ClusterInfo, p: Params, client: Client, admin_email: str,
                admin_password: str) -> dict:
    conn = await Conn("nginx", info.nginx.port).open()
    login = await must(client, conn, "setup", "POST", "/api/v1/auth/login", 200,
                       {"email": admin_email, "password": admin_password})
    admin = login["access_token"]
    tag = uuid.uuid4().hex[:8]
    today = datetime.now(timezone.utc).date()
    movie = await must(client, conn, "setup", "POST", "/api/v1/movies", 201, {
        "title": f"Opening Night {tag}", "description": "The stampede.", "duration_minutes": 150,
        "release_date": (today - timedelta(days=1)).isoformat(), "languages": ["Hindi"],
        "genres": ["Action"], "certificate": "UA"}, admin)
    theatre = await must(client, conn, "setup", "POST", "/api/v1/theatres", 201, {
        "name": f"Premiere {tag}", "city": f"Opening-{tag}", "address": "1 MG Road"}, admin)
    await must(client, conn, "setup", "POST",  # a new theatre is pending until approved
               f"/api/v1/admin/theatres/{theatre['id']}/approve", 200, None, admin)
    hall = await must(client, conn, "setup", "POST", f"/api/v1/theatres/{theatre['id']}/halls",
                      201, {"name": "Screen 1", "layout": p.layout()}, admin)
    d = today + timedelta(days=2)
    starts = datetime(d.year, d.month, d.day, 18, 0, tzinfo=timezone.utc)
    show = await must(client, conn, "setup", "POST", "/api/v1/shows", 201, {
        "movie_id": movie["id"], "hall_id": hall["id"],
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"), "prices": p.prices,
        "currency": "INR"}, admin)
    seatmap = await must(client, conn, "setup", "GET", f"/api/v1/shows/{show['id']}/seats", 200)
    conn.close()
    by_label = {s["label"]: s["id"] for s in seatmap["seats"]}

    # Users, registered concurrently (spread over every entry point).
    tokens: list = [None] * p.users
    nxt = iter(range(p.users))

    async def registrar(k: int):
        t = info.entry_points[k % len(info.entry_points)]
        c = await Conn(t.name, t.port).open()
        for i in nxt:
            j = await must(client, c, "register", "POST", "/api/v1/auth/register", 201, {
                "email": f"fan{i}-{tag}@opening.test", "password": PASSWORD,
                "name": f"Fan {i}"})
            tokens[i] = (j["access_token"], j["user"]["id"])
        c.close()

    t = time.monotonic()
    await asyncio.gather(*(registrar(k) for k in range(p.register_concurrency)))
    reg_s = time.monotonic() - t
    return {"admin": admin, "show_id": show["id"], "hall_id": hall["id"], "by_label": by_label,
            "users": tokens, "register_s": reg_s, "seatmap": seatmap}


# --------------------------------------------------------------------------------------------
# The stampede


@dataclass
class Ledger:
    """What the driver did and saw, for the audit."""
    holds: dict = field(default_factory=dict)  # hold id -> {user, seats, fate}
    bookings: dict = field(default_factory=dict)  # booking id -> {user, token, hold, amount, fate}
    payments: dict = field(default_factory=dict)  # payment id -> {booking, answers: [(st, status)]}
    confirmed_seen: dict = field(default_factory=dict)  # booking id -> seats, answered confirmed
    cancelled: set = field(default_factory=set)  # bookings cancelled with 200
    unexpected: list = field(default_factory=list)  # answers the flow did not allow
    sold_events: list = field(default_factory=list)  # (t, +/- seats)
    no_seats_times: list = field(default_factory=list)  # t of 409 no_seats_available
    outcomes: Counter = field(default_factory=Counter)
    timeline: list = field(default_factory=list)  # monitor: (t, available, held, booked)


class Shared:
    """What the driver's processes share (--procs N, fork): the start instant, the seats sold
    so far by all of them, and when they first reached the capacity (which stops every one).
    An anonymous shared mapping made before the fork, and a lock around the sold count."""

    T0, SOLD_OUT_AT, SOLD, READY = 0, 1, 2, 3  # doubles

    def __init__(self):
        self.mem = mmap.mmap(-1, 64)
        self.lock = multiprocessing.get_context("fork").Lock()
        self._set(self.SOLD_OUT_AT, -1.0)

    def _get(self, k: int) -> float:
        return struct.unpack_from("d", self.mem, 8 * k)[0]

    def _set(self, k: int, v: float) -> None:
        struct.pack_into("d", self.mem, 8 * k, v)

    @property
    def t0(self) -> float:
        return self._get(self.T0)

    @t0.setter
    def t0(self, v: float) -> None:
        self._set(self.T0, v)

    @property
    def ready(self) -> int:
        return int(self._get(self.READY))

    def set_ready(self) -> None:
        with self.lock:
            self._set(self.READY, self._get(self.READY) + 1)

    @property
    def sold_out_at(self) -> float | None:
        v = self._get(self.SOLD_OUT_AT)
        return None if v < 0 else v

    def add_sold(self, n: int, now: float, capacity: int) -> None:
        with self.lock:
            sold = self._get(self.SOLD) + n
            self._set(self.SOLD, sold)
            if sold >= capacity and self._get(self.SOLD_OUT_AT) < 0:
                self._set(self.SOLD_OUT_AT, now)


async def lag_probe(client: Client, done: asyncio.Event) -> None:
    """How late this event loop wakes a task: sleeps 10 ms at a time and records by how much
    more than 10 ms each sleep took (the time every other task of the loop kept it busy, or
    the kernel left the process waiting for a CPU; a request's latency measured here includes
    it too), and the CPU time the process used meanwhile (near the whole interval: the loop
    itself was busy; far less: the process waited for a CPU, the cores busy elsewhere)."""
    while not done.is_set():
        t, c = time.monotonic(), time.process_time()
        await asyncio.sleep(0.010)
        client.lags.append((t - client.t0, time.monotonic() - t - 0.010, client.tag,
                            time.process_time() - c))


class Stampede:
    def __init__(self, info: ClusterInfo, p: Params, client: Client, ctx: dict,
                 shared: Shared | None = None):
        self.info, self.p, self.client, self.ctx = info, p, client, ctx
        self.shared = shared
        self.show = ctx["show_id"]
        self.ledger = Ledger()
        self.stop = asyncio.Event()
        self.start = asyncio.Event()
        self.sold = 0
        self.capacity = p.capacity()
        self.sold_out_at: float | None = None
        self.call = functools.partial(client.call, retry=True)
        lbl = ctx["by_label"]
        lo, hi = p.popular_seats
        self.popular = [[lbl[f"{r}{n}"] for n in range(lo, hi + 1) if f"{r}{n}" in lbl]
                        for r in p.popular_rows]

    def now(self) -> float:
        return time.monotonic() - self.client.t0

    def target_for(self, i: int) -> Target:
        if i % 2 == 0:
            return self.info.nginx
        return self.info.servers[(i // 2) % len(self.info.servers)]

    def other_target(self, t: Target, rng: random.Random) -> Target:
        return rng.choice([x for x in self.info.entry_points if x.name != t.name])

    def bad(self, what: str, st: int, j) -> None:
        self.ledger.unexpected.append(f"{what}: {st} {json.dumps(j)[:300] if j else ''}")

    def sold_change(self, n: int) -> None:
        self.sold += n
        self.ledger.sold_events.append((self.now(), n))
        if self.shared is not None:  # the total is all processes' (watch_shared stops us)
            self.shared.add_sold(n, self.now(), self.capacity)
            if self.shared.sold_out_at is not None:
                self.stop.set()
            return
        if self.sold >= self.capacity and self.sold_out_at is None:
            self.sold_out_at = self.now()
            self.stop.set()

    # ---- one user ----

    async def user(self, i: int, conn: Conn) -> None:
        p = self.p
        rng = random.Random(p.seed * 100003 + i)
        token, uid = self.ctx["users"][i]
        base = f"/api/v1/shows/{self.show}"
        await self.start.wait()
        await asyncio.sleep(rng.random() * p.spread)
        if rng.random() < p.p_look:
            st, j = await self.call(conn, "seatmap", "GET", base + "/seats", parse=False)
            if st != 200:
                self.bad("seat map", st, j)
        hold = None
        attempt = 0
        popular = rng.random() < p.p_popular
        while not self.stop.is_set() and self.now() < p.deadline:
            if attempt == 0 and popular:
                row = rng.choice(self.popular)
                n = min(len(row), rng.randint(2, 4))
                k = rng.randint(0, len(row) - n)
                body = {"seat_ids": row[k:k + n]}
            else:
                qty = 1 if attempt >= 2 and rng.random() < 0.5 else \
                    rng.choices([1, 2, 3, 4], [1, 4, 3, 2])[0]
                body = {"quantity": qty}
            st, j = await self.call(conn, "hold", "POST", base + "/holds", body, token)
            if st == 201:
                hold = j
                break
            code = ((j or {}).get("error") or {}).get("code") if isinstance(j, dict) else None
            if st == 409 and code in ("seat_unavailable", "no_seats_available"):
                if code == "no_seats_available":
                    self.ledger.no_seats_times.append(self.now())
                attempt += 1
                pause = min(4.0, 0.5 * 2 ** attempt) * (0.5 + rng.random())
                try:
                    await asyncio.wait_for(self.stop.wait(), pause)
                except asyncio.TimeoutError:
                    pass
                continue
            self.bad("hold", st, j)
            return
        if hold is None:
            self.ledger.outcomes["no hold"] += 1
            return
        seats = sorted(s["id"] for s in hold["seats"])
        r = rng.random()
        fate = ("abandon" if r < p.p_abandon else
                "release" if r < p.p_abandon + p.p_release else
                "unpaid" if r < p.p_abandon + p.p_release + p.p_unpaid else
                "late" if r < p.p_abandon + p.p_release + p.p_unpaid + p.p_late else "pay")
        self.ledger.holds[hold["hold_id"]] = {"user": uid, "seats": seats, "fate": fate,
                                              "t": self.now()}
        self.ledger.outcomes[fate] += 1
        if fate == "abandon":
            return
        if fate == "release":
            st, j = await self.call(conn, "release", "DELETE",
                                           f"/api/v1/holds/{hold['hold_id']}", None, token)
            if st != 204:
                self.bad("release", st, j)
            return
        await self.book_and_pay(i, conn, token, uid, hold, seats, fate, rng)

    async def book_and_pay(self, i, conn, token, uid, hold, seats, fate, rng) -> None:
        p = self.p
        double_book = fate == "pay" and rng.random() < p.p_double_book
        double_pay = fate == "pay" and rng.random() < p.p_double_pay
        double_confirm = fate == "pay" and not double_pay and rng.random() < p.p_double_confirm
        cancel = fate == "pay" and rng.random() < p.p_cancel
        body = {"hold_id": hold["hold_id"]}
        if double_book:
            other = await Conn(*self._pair(self.other_target(self.target_for(i), rng))).open()
            both = await asyncio.gather(
                self.call(conn, "book", "POST", "/api/v1/bookings", body, token),
                self.call(other, "book", "POST", "/api/v1/bookings", body, token))
            other.close()
            wins = [j for st, j in both if st == 201]
            if sorted(st for st, _ in both) != [201, 409] and \
                    not all(self.expired_in_time(hold, st, j) for st, j in both):
                self.bad("double book (want one 201 and one 409)", 0, [st for st, _ in both])
            if not wins:
                return
            bk = wins[0]
            self.ledger.outcomes["double book"] += 1
        else:
            st, bk = await self.call(conn, "book", "POST", "/api/v1/bookings", body, token)
            if st != 201:
                if not self.expired_in_time(hold, st, bk):
                    self.bad("book", st, bk)
                return
        b = bk["booking"]
        if sorted(s["id"] for s in b["seats"]) != seats or b["amount"] != hold["amount"]:
            self.bad("booking differs from its hold", 201, bk)
        self.ledger.bookings[b["id"]] = {"user": uid, "token": token, "hold": hold["hold_id"],
                                         "amount": b["amount"], "seats": seats, "fate": fate}
        if fate == "unpaid":
            return
        if fate == "late":
            await asyncio.sleep(max(0.0, hold_left(hold)) + 1.5)
        order = bk["payment"]["order_id"]
        pays = []
        for _ in range(2 if double_pay else 1):
            st, pay = await self.call(conn, "pay", "POST",
                                             f"/api/v1/payments/test/{order}/pay", None, token)
            if st != 200:
                self.bad("pay", st, pay)
                return
            pays.append(pay)
            self.ledger.payments[pay["razorpay_payment_id"]] = {"booking": b["id"],
                                                                "answers": []}
        path = f"/api/v1/bookings/{b['id']}/confirm"
        if double_pay or double_confirm:
            other = await Conn(*self._pair(self.other_target(self.target_for(i), rng))).open()
            second = pays[1] if double_pay else pays[0]
            answers = await asyncio.gather(
                self.call(conn, "confirm", "POST", path, pays[0], token),
                self.call(other, "confirm", "POST", path, second, token))
            other.close()
            sent = [pays[0], second]
            self.ledger.outcomes["double pay" if double_pay else "double confirm"] += 1
        else:
            answers = [await self.call(conn, "confirm", "POST", path, pays[0], token)]
            sent = [pays[0]]
        status = None
        for pay, (st, j) in zip(sent, answers):
            s = j.get("status") if st == 200 and isinstance(j, dict) else None
            self.ledger.payments[pay["razorpay_payment_id"]]["answers"].append((st, s))
            if st != 200 or s not in ("confirmed", "expired_refunded"):
                self.bad("confirm", st, j)
                continue
            if status is not None and s != status:
                self.bad("two confirmations disagree", st, [status, s])
            status = s
        if status == "confirmed" and b["id"] not in self.ledger.confirmed_seen:
            self.ledger.confirmed_seen[b["id"]] = seats
            self.sold_change(len(seats))
        self.ledger.outcomes[f"{fate} -> {status}"] += 1
        if status == "confirmed" and cancel:
            st, j = await self.call(conn, "cancel", "POST",
                                           f"/api/v1/bookings/{b['id']}/cancel", None, token)
            if st == 200 and j.get("status") == "cancelled_refunded":
                self.ledger.cancelled.add(b["id"])
                self.sold_change(-len(seats))
            else:
                self.bad("cancel", st, j)

    def expired_in_time(self, hold: dict, st: int, j) -> bool:
        """A 409 hold_expired is right once the hold's time is up (a slow answer, a slow
        client); before that it would be a refusal of a live hold."""
        code = ((j or {}).get("error") or {}).get("code") if isinstance(j, dict) else None
        if st == 409 and code == "hold_expired" and hold_left(hold) < 0.5:
            self.ledger.outcomes["book after the hold expired"] += 1
            return True
        return False

    @staticmethod
    def _pair(t: Target):
        return t.name, t.port

    # ---- the seat map over time ----

    async def monitor(self) -> None:
        conns = [Conn(t.name, t.port) for t in self.info.servers]
        await self.start.wait()
        k = 0
        while not self.stop.is_set() and self.now() < self.p.deadline:
            c = conns[k % len(conns)]
            k += 1
            st, j = await self.client.call(c, "monitor", "GET",
                                           f"/api/v1/shows/{self.show}/seats")
            if st == 200:
                n = j["counts"]
                self.ledger.timeline.append((self.now(), n["available"], n["held"],
                                             n["booked"]))
            try:
                await asyncio.wait_for(self.stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        for c in conns:
            c.close()

    async def watch_shared(self, done: asyncio.Event) -> None:
        """With other driver processes: stop when any of them saw the show sold out."""
        while not done.is_set() and not self.stop.is_set():
            if self.shared.sold_out_at is not None:
                self.stop.set()
                return
            await asyncio.sleep(0.02)

    async def run(self, users: list | None = None, monitor: bool = True) -> float:
        """Runs the users (all by default; with --procs, this process's share) to the end;
        returns the wall time of the stampede. The start instant is this process's own, or
        with a Shared one the parent's (it waits until every process is connected and
        ready). monitor: this process also reads the seat map every 0.5 s."""
        users = list(range(self.p.users)) if users is None else users
        conns = {}
        for i in users:
            t = self.target_for(i)
            conns[i] = Conn(t.name, t.port)
        # Connect everyone first, so the stampede is requests, not TCP handshakes.
        sem = asyncio.Semaphore(200)

        async def connect(c):
            async with sem:
                await c.open()
        await asyncio.gather(*(connect(c) for c in conns.values()))
        tasks = [asyncio.create_task(self.user(i, conns[i])) for i in users]
        mon = asyncio.create_task(self.monitor()) if monitor else None
        done = asyncio.Event()
        if self.shared is None:
            pause = START_PAUSE if START_FILE else 0.2
            mark_start(pause)
            await asyncio.sleep(pause)
            self.client.t0 = time.monotonic()
        else:
            self.shared.set_ready()
            while self.shared.t0 == 0:
                await asyncio.sleep(0.002)
            self.client.t0 = self.shared.t0
            await asyncio.sleep(max(0.0, self.client.t0 - time.monotonic()))
        probe = asyncio.create_task(lag_probe(self.client, done))
        watch = asyncio.create_task(self.watch_shared(done)) if self.shared else None
        self.start.set()
        await asyncio.gather(*tasks)
        wall = self.now()
        done.set()
        if users:  # the users are done; a monitor-only process stops when told (wall)
            self.stop.set()
        if mon is not None:
            await mon
        await probe
        if watch is not None:
            await watch
        for c in conns.values():
            c.close()
        return wall


# ---- the stampede over N processes (--procs) ----


def merge_ledger(into: Ledger, o: Ledger) -> None:
    """A child process's ledger into the parent's (users are disjoint: nothing collides)."""
    into.holds.update(o.holds)
    into.bookings.update(o.bookings)
    into.payments.update(o.payments)
    into.confirmed_seen.update(o.confirmed_seen)
    into.cancelled |= o.cancelled
    into.unexpected += o.unexpected
    into.sold_events = sorted(into.sold_events + o.sold_events)
    into.no_seats_times = sorted(into.no_seats_times + o.no_seats_times)
    into.outcomes.update(o.outcomes)
    into.timeline = sorted(into.timeline + o.timeline)


def stampede_procs(info: ClusterInfo, p: Params, client: Client, ctx: dict,
                   procs: int) -> tuple[Stampede, float]:
    """The stampede over procs forked processes, each with its own event loop, connections
    and share of the users (user i in process i % procs); this process (the parent) reads
    the seat map every 0.5 s (the monitor) and sets the start instant once every child has
    connected its users. Each child sends back through a pipe, pickled, its samples, problems,
    retries, loop lags and ledger; they are merged here into client and the returned
    Stampede's ledger, so the audit sees exactly what one process would have. Called outside
    any running event loop (a child runs its own with asyncio.run)."""
    shared = Shared()
    st = Stampede(info, p, client, ctx, shared)
    sys.stdout.flush()
    sys.stderr.flush()
    kids = []
    for k in range(procs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(r)
                mine = Client(f"p{k}")
                cst = Stampede(info, p, mine, ctx, shared)
                wall = asyncio.run(cst.run([i for i in range(p.users) if i % procs == k],
                                           monitor=False))
                out = pickle.dumps({"samples": mine.samples, "problems": mine.problems,
                                    "retried": mine.retried, "lags": mine.lags,
                                    "ledger": cst.ledger, "sold": cst.sold, "wall": wall})
                with os.fdopen(w, "wb") as fh:
                    fh.write(out)
            except BaseException:  # noqa: BLE001 - reported, and the parent sees no result
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        kids.append((pid, r))

    async def parent() -> list:
        loop = asyncio.get_running_loop()
        futs = []
        for _, r in kids:
            fut, chunks = loop.create_future(), []

            def readable(r=r, fut=fut, chunks=chunks):
                data = os.read(r, 1 << 20)
                if data:
                    chunks.append(data)
                    return
                loop.remove_reader(r)
                os.close(r)
                fut.set_result(b"".join(chunks))
            loop.add_reader(r, readable)
            futs.append(fut)
        limit = time.monotonic() + 300
        while shared.ready < procs and not any(f.done() for f in futs):
            if time.monotonic() > limit:
                raise RuntimeError("the driver's processes did not get ready in 300 s")
            await asyncio.sleep(0.005)
        pause = START_PAUSE if START_FILE else 0.2
        mark_start(pause)
        shared.t0 = client.t0 = time.monotonic() + pause
        await asyncio.sleep(pause)
        done = asyncio.Event()
        st.start.set()
        mon = asyncio.create_task(st.monitor())
        watch = asyncio.create_task(st.watch_shared(done))
        datas = await asyncio.gather(*futs)
        st.stop.set()
        done.set()
        await mon
        await watch
        return datas

    datas = asyncio.run(parent())
    walls = []
    for (pid, _), data in zip(kids, datas):
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            client.problems.append(f"driver process {pid} failed (wait status {status})")
            continue
        d = pickle.loads(data)
        client.samples += d["samples"]
        client.problems += d["problems"]
        client.retried.update(d["retried"])
        client.lags += d["lags"]
        merge_ledger(st.ledger, d["ledger"])
        st.sold += d["sold"]
        walls.append(d["wall"])
    st.sold_out_at = shared.sold_out_at
    return st, max(walls, default=time.monotonic() - client.t0)


def hold_left(hold: dict) -> float:
    """Seconds until the hold's expires_at (RFC 3339)."""
    exp = datetime.strptime(hold["expires_at"][:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc)
    frac = re.match(r"\.(\d+)", hold["expires_at"][19:])
    if frac:
        exp += timedelta(seconds=float("0." + frac.group(1)))
    return (exp - datetime.now(timezone.utc)).total_seconds()


# --------------------------------------------------------------------------------------------
# The audit


class Audit:
    def __init__(self, info: ClusterInfo, p: Params, client: Client, ctx: dict, ledger: Ledger):
        self.info, self.p, self.client, self.ctx, self.ledger = info, p, client, ctx, ledger
        self.show = ctx["show_id"]
        self.violations: list[str] = []
        self.notes: list[str] = []
        self.facts: dict = {}

    def fail(self, msg: str) -> None:
        self.violations.append(msg)

    def db_now_ms(self) -> int:
        return int(self.info.psql("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
                   [0][0])

    # ---- the database ----

    def sellable(self) -> set:
        rows = self.info.psql(
            "SELECT s.id FROM seats s JOIN shows sh ON sh.hall_id = s.hall_id"
            " JOIN show_prices p ON p.show_id = sh.id AND p.category = s.category"
            f" WHERE sh.id = {q(self.show)} AND s.active = 1 AND s.blocked = 0")
        return {r[0] for r in rows}

    def claims(self) -> dict:
        """seat -> (hold id, booking id, expires_at or None)."""
        rows = self.info.psql(
            "SELECT seat_id, coalesce(hold_id, ''), coalesce(booking_id, ''),"
            f" coalesce(expires_at::text, '') FROM seat_claims WHERE show_id = {q(self.show)}")
        return {r[0]: (r[1], r[2], int(r[3]) if r[3] else None) for r in rows}

    @staticmethod
    def db_statuses(now_ms: int, sellable: set, claims: dict) -> dict:
        """seat -> status at now_ms, from the claims (the only truth about occupancy)."""
        out = {}
        for seat in sellable:
            c = claims.get(seat)
            exp = c[2] if c else 0
            out[seat] = ("available" if c is None else "booked" if exp is None else
                         "held" if exp > now_ms else "available")
        return out

    def check_database(self) -> None:
        show = q(self.show)
        dup = self.info.psql(
            "SELECT t.seat_id, count(*) FROM tickets t JOIN bookings b ON b.id = t.booking_id"
            f" WHERE b.show_id = {show} AND t.status = 'valid' GROUP BY t.seat_id"
            " HAVING count(*) > 1")
        for seat, n in dup:
            self.fail(f"seat {seat} has {n} valid tickets (sold twice)")
        dup = self.info.psql(
            "SELECT bs.seat_id, count(*) FROM booking_seats bs JOIN bookings b"
            f" ON b.id = bs.booking_id WHERE b.show_id = {show} AND b.status = 'confirmed'"
            " GROUP BY bs.seat_id HAVING count(*) > 1")
        for seat, n in dup:
            self.fail(f"seat {seat} is in {n} confirmed bookings (sold twice)")

        bookings = {r[0]: {"user": r[1], "hold": r[2], "status": r[3], "amount": int(r[4]),
                           "payment": r[5] or None, "seats": set(), "tickets": [],
                           "claims": set()}
                    for r in self.info.psql(
                        "SELECT id, user_id, hold_id, status, amount, coalesce(payment_id, '')"
                        f" FROM bookings WHERE show_id = {show}")}
        for bid, seat, price in self.info.psql(
                "SELECT bs.booking_id, bs.seat_id, bs.price FROM booking_seats bs JOIN bookings b"
                f" ON b.id = bs.booking_id WHERE b.show_id = {show}"):
            bookings[bid]["seats"].add(seat)
        for bid, seat in self.info.psql(
                "SELECT t.booking_id, t.seat_id FROM tickets t JOIN bookings b"
                f" ON b.id = t.booking_id WHERE b.show_id = {show} AND t.status = 'valid'"):
            bookings[bid]["tickets"].append(seat)
        claims = self.claims()
        sellable = self.sellable()
        for seat, (hold, bid, exp) in claims.items():
            if seat not in sellable:
                self.fail(f"seat {seat} is claimed but not sellable (blocked or unpriced)")
            if bid:
                if bid not in bookings:
                    self.fail(f"seat {seat} is claimed by unknown booking {bid}")
                else:
                    bookings[bid]["claims"].add(seat)
                if exp is not None:
                    self.fail(f"seat {seat}: a claim with booking {bid} still expires")
            elif exp is None:
                self.fail(f"seat {seat} is sold (claim without expiry) with no booking")
        for bid, b in bookings.items():
            if b["status"] == "confirmed":
                if sorted(b["tickets"]) != sorted(b["seats"]):
                    self.fail(f"confirmed booking {bid}: tickets {sorted(b['tickets'])} are not"
                              f" its seats {sorted(b['seats'])}")
                if b["claims"] != b["seats"]:
                    self.fail(f"confirmed booking {bid}: sold claims {sorted(b['claims'])} are"
                              f" not its seats {sorted(b['seats'])}")
                if not b["payment"]:
                    self.fail(f"confirmed booking {bid} has no payment")
            else:
                if b["tickets"]:
                    self.fail(f"{b['status']} booking {bid} has valid tickets {b['tickets']}")
                if b["claims"]:
                    self.fail(f"{b['status']} booking {bid} holds sold claims {b['claims']}")
        self.facts["db_bookings"] = Counter(b["status"] for b in bookings.values())
        self.check_money(bookings)
        self.check_holds(claims, bookings)
        self.bookings_db = bookings

    def check_money(self, bookings: dict) -> None:
        refunds = defaultdict(list)
        for rid, bid, pay, amount, status in self.info.psql(
                "SELECT r.id, r.booking_id, coalesce(r.payment_id, ''), r.amount, r.status"
                f" FROM refunds r JOIN bookings b ON b.id = r.booking_id"
                f" WHERE b.show_id = {q(self.show)}"):
            refunds[pay].append((rid, bid, int(amount), status))
        kept = defaultdict(list)
        for bid, b in bookings.items():
            if b["payment"]:
                kept[b["payment"]].append(bid)
        sent = {pid: v for pid, v in self.ledger.payments.items() if v["answers"]}
        for pid, v in sent.items():
            confirmed = [bid for bid in kept.get(pid, []) if bookings[bid]["status"] == "confirmed"]
            back = refunds.get(pid, [])
            if len(confirmed) + len(back) != 1:
                self.fail(f"payment {pid} (booking {v['booking']}, answers {v['answers']}): "
                          f"{len(confirmed)} confirmed bookings and {len(back)} refunds; "
                          "want exactly one of them (paid booking lost or money kept twice)")
            for rid, bid, amount, status in back:
                if bid != v["booking"]:
                    self.fail(f"refund {rid} of payment {pid} is on booking {bid}, not "
                              f"{v['booking']}")
                if amount != bookings[bid]["amount"]:
                    self.fail(f"refund {rid} of payment {pid}: {amount}, booking amount "
                              f"{bookings[bid]['amount']}")
                if status != "processed":
                    self.notes.append(f"refund {rid} of payment {pid} is {status}")
        for pid in set(refunds) | set(kept):
            if pid not in sent:
                self.fail(f"payment {pid} is in the database but the driver never sent it")
        for bid, b in bookings.items():
            if b["status"] in ("cancelled_refunded", "expired_refunded") and \
                    not refunds.get(b["payment"] or ""):
                self.fail(f"{b['status']} booking {bid}: no refund of its payment {b['payment']}")
        # Every booking the driver saw confirmed, and did not cancel, is still confirmed.
        for bid in self.ledger.confirmed_seen:
            want = "cancelled_refunded" if bid in self.ledger.cancelled else "confirmed"
            got = bookings.get(bid, {}).get("status")
            if got != want:
                self.fail(f"booking {bid}: the driver saw it confirmed"
                          f"{' and cancelled' if want != 'confirmed' else ''}; database says {got}")
        for bid in self.ledger.bookings:
            if bid not in bookings:
                self.fail(f"booking {bid} answered 201 is not in the database")
        self.facts["refunds"] = sum(len(v) for v in refunds.values())
        self.facts["payments_sent"] = len(sent)

    def check_holds(self, claims: dict, bookings: dict) -> None:
        now = self.db_now_ms()
        rows = self.info.psql(
            "SELECT id, user_id, seat_count, expires_at FROM holds"
            f" WHERE show_id = {q(self.show)} AND status = 'active' AND expires_at > {now}")
        per_user = Counter(r[1] for r in rows)
        for u, n in per_user.items():
            if n > 1:
                self.fail(f"user {u} has {n} live holds on the show")
        by_hold = defaultdict(list)
        for seat, (hold, bid, exp) in claims.items():
            by_hold[hold].append((seat, bid, exp))
        for hid, _, count, exp in rows:
            mine = by_hold.get(hid, [])
            sold = [s for s, bid, e in mine if e is None]
            if sold:
                self.fail(f"live hold {hid} overlaps sold seats {sold}")
            if len(mine) != int(count):
                self.fail(f"live hold {hid}: {len(mine)} claims for {count} seats")
            known = self.ledger.holds.get(hid)
            if known and sorted(s for s, _, _ in mine) != known["seats"]:
                self.fail(f"live hold {hid}: claims {sorted(s for s, _, _ in mine)}, "
                          f"answered {known['seats']}")
        self.facts["live_holds"] = len(rows)

    # ---- the API ----

    async def seat_maps(self, strict: bool) -> None:
        """Every entry point's seat map (twice: the second is likely from the cache) against
        the database. Not strict: seats whose hold expires around the reads are skipped."""
        sellable = self.sellable()
        cap = len(sellable)
        t_before = self.db_now_ms()
        maps = []
        for t in self.info.entry_points:
            c = await Conn(t.name, t.port).open()
            for k in range(2):
                st, j = await self.client.call(c, "audit", "GET",
                                               f"/api/v1/shows/{self.show}/seats")
                if st != 200:
                    self.fail(f"seat map from {t.name}: {st}")
                    continue
                maps.append((f"{t.name}#{k + 1}", j))
            c.close()
        t_after = self.db_now_ms()
        claims = self.claims()
        db = self.db_statuses(t_after, sellable, claims)
        fuzzy = {s for s, (_, _, exp) in claims.items()
                 if exp is not None and t_before - 1000 <= exp <= t_after + 1000}
        for name, j in maps:
            counts = j["counts"]
            if counts["available"] + counts["held"] + counts["booked"] != cap:
                self.fail(f"{name}: available {counts['available']} + held {counts['held']} + "
                          f"booked {counts['booked']} != capacity {cap}")
            api = {s["id"]: s["status"] for s in j["seats"]}
            for s, st in api.items():
                if st == "blocked":
                    if s in sellable:
                        self.fail(f"{name}: sellable seat {s} shown blocked")
                    continue
                if s in fuzzy and not strict:
                    continue
                if db.get(s) != st:
                    self.fail(f"{name}: seat {s} is {st}, the database says {db.get(s)}")
            if strict and counts["held"]:
                self.fail(f"{name}: {counts['held']} seats held after every hold expired")
        sold = sum(1 for c in claims.values() if c[2] is None)
        held = sum(1 for c in claims.values() if c[2] is not None and c[2] > t_after)
        self.facts["strict" if strict else "live"] = {
            "capacity": cap, "sold": sold, "held": held, "available": cap - sold - held,
            "fuzzy_skipped": len(fuzzy)}

    async def api_bookings(self) -> None:
        """GET /bookings/{id} as its owner for every booking the driver made, and the sales."""
        items = list(self.ledger.bookings.items())
        nxt = iter(items)
        db = self.bookings_db
        now_ms = self.db_now_ms()
        exp_of = dict((r[0], int(r[1])) for r in self.info.psql(
            f"SELECT id, expires_at FROM bookings WHERE show_id = {q(self.show)}"))

        async def worker(k):
            t = self.info.entry_points[k % len(self.info.entry_points)]
            c = await Conn(t.name, t.port).open()
            for bid, b in nxt:
                st, j = await self.client.call(c, "audit", "GET", f"/api/v1/bookings/{bid}",
                                               None, b["token"])
                if st != 200:
                    self.fail(f"GET /bookings/{bid} on {t.name}: {st}")
                    continue
                want = db[bid]["status"]
                if want == "pending_payment" and exp_of[bid] <= now_ms:
                    want = "expired"
                if j["status"] != want:
                    self.fail(f"GET /bookings/{bid} on {t.name}: {j['status']}, database {want}")
                tickets = sorted(x["seat_id"] for x in j["tickets"])
                seats = sorted(x["id"] for x in j["seats"])
                if seats != b["seats"]:
                    self.fail(f"GET /bookings/{bid}: seats {seats}, booked {b['seats']}")
                if (j["status"] == "confirmed") != (tickets == seats) or \
                        (j["status"] != "confirmed" and tickets):
                    self.fail(f"GET /bookings/{bid}: {j['status']} with tickets {tickets}")
            c.close()

        await asyncio.gather(*(worker(k) for k in range(16)))
        c = await Conn("nginx", self.info.nginx.port).open()
        st, j = await self.client.call(c, "audit", "GET", f"/api/v1/shows/{self.show}/sales",
                                       None, self.ctx["admin"])
        c.close()
        if st != 200:
            self.fail(f"GET /shows/{{id}}/sales: {st} {j}")
            return
        confirmed = [b for b in db.values() if b["status"] == "confirmed"]
        want_seats = sum(len(b["seats"]) for b in confirmed)
        want_rev = sum(b["amount"] for b in confirmed)
        text = json.dumps(j)
        got_seats, got_rev = j.get("seats_sold"), j.get("revenue")
        by_cat = sum(x["seats_sold"] for x in j.get("by_category", []))
        if by_cat != got_seats:
            self.fail(f"sales: by_category adds up to {by_cat} seats, seats_sold {got_seats}")
        if (got_seats, got_rev) != (want_seats, want_rev):
            self.fail(f"sales say {got_seats} seats / {got_rev}, the database {want_seats} / "
                      f"{want_rev}: {text[:300]}")
        self.facts["sales"] = {"seats": got_seats, "revenue": got_rev}

    async def run(self, wait_for_expiry: bool = True) -> list[str]:
        self.check_database()
        await self.seat_maps(strict=False)
        await self.api_bookings()
        if wait_for_expiry:
            last = self.info.psql(
                "SELECT coalesce(max(expires_at), 0) FROM seat_claims"
                f" WHERE show_id = {q(self.show)} AND expires_at IS NOT NULL")[0][0]
            wait = (int(last) - self.db_now_ms()) / 1000 + 1.0
            if wait > 0:
                await asyncio.sleep(wait)
            self.check_database()
            await self.seat_maps(strict=True)
        self.violations += self.ledger.unexpected
        self.violations += self.client.problems
        return self.violations


# --------------------------------------------------------------------------------------------
# The report


def pct(xs: list, p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def iso_epoch(ts: str | None) -> float | None:
    """A server log line's "ts" (2026-12-07T00:10:02.123Z) as Unix seconds; None if absent."""
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def access_logs(info: ClusterInfo | None) -> tuple[dict, dict]:
    """The servers' and nginx's own times of the driver's requests, by request id:
    ({rid: (seconds from the request's first byte in to its answer sent: the ticketd access
    line's dur_us, of which waiting for a handler thread: queue_us, and for a database
    connection: db_wait_us)}, {rid: (nginx $request_time, $upstream_response_time)}). Empty when the
    logs are not there (the servers log requests at LOG_LEVEL=info only)."""
    servers, nginx = {}, {}
    if info is None or not info.dir or not os.path.isdir(info.dir):
        return servers, nginx
    for name in sorted(os.listdir(info.dir)):
        if not re.fullmatch(r"ticketd\d+\.log", name):
            continue
        with open(os.path.join(info.dir, name), encoding="utf-8", errors="replace") as fh:
            for ln in fh:
                if '"msg":"request"' not in ln or '"dur_us"' not in ln:
                    continue
                try:
                    j = json.loads(ln)
                except ValueError:
                    continue
                servers[j.get("rid", "")] = (j["dur_us"] / 1e6, j.get("queue_us", 0) / 1e6,
                                             j.get("db_wait_us", 0) / 1e6, iso_epoch(j.get("ts")))
    line = re.compile(r" rt=([\d.]+) urt=(\S+) .*rid=(\S+)")
    try:
        with open(os.path.join(info.dir, "nginx-access.log"), encoding="utf-8",
                  errors="replace") as fh:
            for ln in fh:
                m = line.search(ln)
                if m:
                    # urt: one time per upstream tried ("0.004, 0.002"); "-" when none answered
                    urt = sum(float(x) for x in re.findall(r"[\d.]+", m.group(2))) \
                        if m.group(2) != "-" else None
                    # uct: the time to connect to the upstream (0.000 on a kept-alive one)
                    u = re.search(r" uct=(\S+)", ln)
                    uct = sum(float(x) for x in re.findall(r"[\d.]+", u.group(1))) \
                        if u and u.group(1) != "-" else None
                    # ts: $msec, when nginx wrote the answer's last byte (Unix s, ms)
                    t = re.search(r" ts=([\d.]+)", ln)
                    nginx[m.group(3)] = (float(m.group(1)), urt, uct,
                                         float(t.group(1)) if t else None)
    except OSError:
        pass
    return servers, nginx


def views(samples: list, info: ClusterInfo | None) -> list[str]:
    """Each step's latency three ways, matched per request by its X-Request-Id: the driver's
    (send to last byte, and to the head), nginx's (for the requests sent through it) and the
    server's; and, per request, the driver's time minus the server's (time spent outside the
    server: the network, nginx, and this driver's event loop)."""
    servers, nginx = access_logs(info)
    out = ["three views of each step's latency, ms (p50/p99; n): the driver (send to last byte"
           " | to the answer's head), nginx (request_time | upstream_response_time; requests"
           " through nginx), the servers (access log dur_us; of it, the wait for a handler"
           " thread, queue_us, and for a database connection, db_wait_us), and driver minus"
           " server per request; then, of the driver's time, opening a new connection (connect:"
           " p50/p99 of the requests that opened one, and how many did), and nginx's time to"
           " connect to the server (up conn: p50/p99, and how many connections were new)"]
    out.append(f"{'step':<14}{'n':>6}{'driver':>16}{'head':>16}{'nginx n':>9}{'nginx rt':>16}"
               f"{'upstream':>16}{'srv n':>7}{'server':>16}{'queue':>14}{'db wait':>14}"
               f"{'drv-srv':>16}{'connect':>16}{'new':>6}{'up conn':>14}{'new':>6}")

    def pp(xs: list) -> str:
        return f"{pct(xs, 50):.1f}/{pct(xs, 99):.1f}" if xs else "-"
    rows = [(st, lambda s, st=st: s.step == st) for st in
            ("seatmap", "hold", "release", "book", "pay", "confirm", "cancel", "monitor")]
    rows.append(("seatmap<5s", lambda s: s.step == "seatmap" and s.t < 5.0))
    # The same seat maps split by the way they came: through nginx, or straight to a server.
    rows.append(("seatmap/nginx", lambda s: s.step == "seatmap" and s.rid in nginx))
    rows.append(("seatmap/direct", lambda s: s.step == "seatmap" and s.rid not in nginx))
    rows.append(("hold<5s", lambda s: s.step == "hold" and s.t < 5.0))
    for name, keep in rows:
        ss = [s for s in samples if keep(s) and s.status > 0]
        if not ss:
            continue
        ng = [nginx[s.rid] for s in ss if s.rid in nginx]
        sv = [(s, servers[s.rid][0]) for s in ss if s.rid in servers]
        qw = [servers[s.rid][1:] for s in ss if s.rid in servers]
        out.append(
            f"{name:<14}{len(ss):>6}{pp([s.latency * 1000 for s in ss]):>16}"
            f"{pp([s.head * 1000 for s in ss]):>16}{len(ng):>9}"
            f"{pp([x[0] * 1000 for x in ng]):>16}"
            f"{pp([x[1] * 1000 for x in ng if x[1] is not None]):>16}{len(sv):>7}"
            f"{pp([d * 1000 for _, d in sv]):>16}"
            f"{pp([x[0] * 1000 for x in qw]):>14}{pp([x[1] * 1000 for x in qw]):>14}"
            f"{pp([(s.latency - d) * 1000 for s, d in sv]):>16}"
            f"{pp([s.connect * 1000 for s in ss if s.connect > 0]):>16}"
            f"{sum(1 for s in ss if s.connect > 0):>6}"
            f"{pp([x[2] * 1000 for x in ng if x[2] is not None]):>14}"
            f"{sum(1 for x in ng if x[2]):>6}")
    # Where a request through nginx spends nginx's time, from the two logs' clocks (the same
    # host's; both to the millisecond): nginx's start (its end $msec less $request_time) to the
    # server's start (its line's ts less dur_us, libmicrohttpd's first callback: the headers
    # read), and the server's end to nginx's end. The first is nginx reading the request,
    # connecting or taking a kept connection, writing it, and the server's network thread
    # waking to read it; the second the server's bytes reaching nginx and nginx's writing them.
    for name in ("seatmap", "hold"):
        pre, post = [], []
        for s in samples:
            if s.step != name or s.t >= 5.0 or s.rid not in nginx or s.rid not in servers:
                continue
            n_rt, _, _, n_end = nginx[s.rid]
            dur, _, _, s_end = servers[s.rid]
            if n_end is None or s_end is None:
                continue
            pre.append(((s_end - dur) - (n_end - n_rt)) * 1000)
            post.append((n_end - s_end) * 1000)
        if pre:
            out.append(f"{name} through nginx, first 5 s ({len(pre)}): nginx's start to the "
                       f"server's first callback {pp(pre)} ms, the server's last byte to nginx's "
                       f"{pp(post)} ms (p50/p99; two logs' clocks, 1 ms apart at worst)")
    if not servers:
        out.append("  (no server access lines: the servers log requests at LOG_LEVEL=info)")
    if not nginx:
        out.append("  (no nginx access lines with rt= and rid=)")
    return out


def lag_lines(lags: list) -> list[str]:
    """The event-loop lag probe's figures: per second of the first 10, and overall."""
    if not lags:
        return []
    procs = len({x[2] for x in lags})

    def fig(xs: list) -> str:
        """p50/p99/max of the lags, and the share of those intervals the process was on a CPU
        (its own work) rather than waiting for one."""
        if not xs:
            return "no wake-up"
        ms = [x[1] * 1000 for x in xs]
        busy = sum(x[3] for x in xs) / max(1e-9, sum(x[1] + 0.010 for x in xs))
        return f"{pct(ms, 50):.0f}/{pct(ms, 99):.0f}/{max(ms):.0f} cpu {100 * busy:.0f}%"
    per_s = []
    for sec in range(10):
        per_s.append(f"{sec}s: {fig([x for x in lags if sec <= x[0] < sec + 1])}")
    first = [x for x in lags if 0 <= x[0] < 10]
    every = [x for x in lags if x[0] >= 0]
    return [f"event-loop lag (how late a 10 ms sleep woke, ms p50/p99/max, and cpu: the share "
            f"of those intervals the process ran rather than waited for a core; {procs} driver "
            f"loop{'s' if procs > 1 else ''}, by the second the sleep began):",
            "  " + "  ".join(per_s[:5]), "  " + "  ".join(per_s[5:]),
            f"  first 10 s: {fig(first)}; the whole stampede: {fig(every)} "
            f"({len(every)} wake-ups)"]


START_FILE = None  # --start-file: where the stampede's start (Unix time) is written
START_PAUSE = 1.0  # with --start-file: the pause before the start, for the profiler's first sample


def mark_start(delay: float) -> None:
    """The stampede starts in delay seconds: that instant's Unix time into --start-file, for a
    profiler outside the driver (opening.sh PROFILE=1 samples PostgreSQL and the CPU times in
    the pause before the start, and 5 s after it), so its first sample does not land in the
    stampede's first second."""
    if START_FILE:
        with open(START_FILE + ".tmp", "w") as f:
            f.write(f"{time.time() + delay:.3f}\n")
        os.replace(START_FILE + ".tmp", START_FILE)


def unsold_lines(p: Params, st: Stampede) -> list[str]:
    """Why a run did not sell out: each sellable seat no confirmed, uncancelled booking of the
    driver's holds, with the last hold the driver got on it: when, and the fate the script gave
    that buyer (abandon, unpaid and late keep a seat for the hold's TTL without buying it; a
    seat they take less than a TTL before the deadline cannot be sold again in time)."""
    sold = set()
    for b, seats in st.ledger.confirmed_seen.items():
        if b not in st.ledger.cancelled:
            sold.update(seats)
    blocked = {st.ctx["by_label"][x] for x in p.blocked if x in st.ctx["by_label"]}
    unsold = sorted(set(st.ctx["by_label"].values()) - blocked - sold)
    label = {v: k for k, v in st.ctx["by_label"].items()}
    out = [f"not sold by the deadline: {len(unsold)} seat(s)"]
    for seat in unsold[:20]:
        last = max((h for h in st.ledger.holds.values() if seat in h["seats"]),
                   key=lambda h: h.get("t", 0.0), default=None)
        if last is None:
            out.append(f"  {label.get(seat, seat)}: never held by the driver's buyers")
            continue
        t = last.get("t", 0.0)
        out.append(f"  {label.get(seat, seat)}: last held at {t:.1f} s by a buyer scripted "
                   f"'{last['fate']}' (hold until {t + p.hold_ttl:.1f} s; "
                   f"deadline {p.deadline:.0f} s)")
        chain = sorted((h.get("t", 0.0), h["fate"]) for h in st.ledger.holds.values()
                       if seat in h["seats"])
        out.append("    its holds: " + ", ".join(f"{ht:.1f} s {f}" for ht, f in chain))
    return out


# Fates that keep a hold until it expires (nothing releases or books it before its TTL).
EXPIRING_FATES = ("abandon", "unpaid", "late")


def rehold_line(p: Params, st: Stampede) -> str:
    """How soon a seat freed by an expired hold was held again: for each hold of a fate that
    lets it expire, the time from its expiry (the driver's answer time + the TTL: the server's
    expires_at is a little earlier) to the next hold the driver got on any of its seats. This
    is the part of the sell-out time the servers can shorten; the TTLs are the script's."""
    by_seat: dict = {}
    for h in st.ledger.holds.values():
        for seat in h["seats"]:
            by_seat.setdefault(seat, []).append((h.get("t", 0.0), h["fate"]))
    gaps = []
    for chain in by_seat.values():
        chain.sort()
        for (t0, fate), (t1, _) in zip(chain, chain[1:]):
            if fate in EXPIRING_FATES:
                gaps.append(t1 - (t0 + p.hold_ttl))
    if not gaps:
        return "seats held again after an expired hold: none"
    gaps.sort()

    def q(f: float) -> float:
        return gaps[min(len(gaps) - 1, int(f * len(gaps)))]
    return (f"seats held again after an expired hold: {len(gaps)}; from the expiry to the next "
            f"hold, s: p50 {q(0.5):.2f}, p90 {q(0.9):.2f}, max {gaps[-1]:.2f}")


def report(p: Params, client: Client, st: Stampede, wall: float, audit: Audit,
           ctx: dict, info: ClusterInfo | None = None) -> str:
    out = []
    w = out.append
    steps = ["seatmap", "hold", "release", "book", "pay", "confirm", "cancel", "monitor"]
    samples = [s for s in client.samples if s.t >= 0 and s.step in steps]
    w(f"stampede: {p.users} users, {st.capacity} sellable seats, wall {wall:.2f} s, "
      f"{len(samples)} requests = {len(samples) / wall:.0f} req/s overall "
      f"(registration of {p.users} users took {ctx['register_s']:.1f} s)")
    w("")
    w(f"{'step':<9}{'n':>7}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
      f"{'2xx':>7}{'409':>7}{'other':>7}{'5xx':>5}{'net':>5}")
    for step in steps:
        ss = [s for s in samples if s.step == step]
        if not ss:
            continue
        lat = [s.latency * 1000 for s in ss]
        span = max(s.t + s.latency for s in ss) - min(s.t for s in ss)
        c2 = sum(1 for s in ss if 200 <= s.status < 300)
        c409 = sum(1 for s in ss if s.status == 409)
        c5 = sum(1 for s in ss if s.status >= 500)
        net = sum(1 for s in ss if s.status <= 0)
        w(f"{step:<9}{len(ss):>7}{len(ss) / max(span, 1e-3):>8.0f}{pct(lat, 50):>9.1f}"
          f"{pct(lat, 90):>9.1f}{pct(lat, 99):>9.1f}{max(lat):>9.1f}{c2:>7}{c409:>7}"
          f"{len(ss) - c2 - c409 - c5 - net:>7}{c5:>5}{net:>5}")
    w("  (req/s: requests of the step over the span from its first request to its last answer)")
    for ln in lag_lines(client.lags):
        w(ln)
    w("")
    for ln in views(samples, info):
        w(ln)
    w("")
    codes = Counter((s.step, s.status, s.code) for s in samples if s.status >= 300)
    w("answers other than 2xx: " + ", ".join(f"{k[0]} {k[1]} {k[2]}: {v}"
                                            for k, v in sorted(codes.items())))
    w("attempts sent again after a 5xx, a dropped connection or a time-out: " +
      (", ".join(f"{k}: {v}" for k, v in sorted(client.retried.items())) or "none"))
    first_sec = [s for s in samples if s.step == "hold" and s.t < 1.0]
    w(f"holds sent in the first second: {len(first_sec)}; hold answers 201: "
      f"{sum(1 for s in samples if s.step == 'hold' and s.status == 201)}")
    w("")
    all_claimed = next((t for t, a, h, b in st.ledger.timeline if a == 0), None)
    mon_sold = next((t for t, a, h, b in st.ledger.timeline if b == st.capacity), None)
    w(f"sold out (driver: confirmed seats = capacity) at: "
      f"{f'{st.sold_out_at:.2f} s' if st.sold_out_at is not None else 'never (deadline)'}"
      f"{' (after the deadline)' if (st.sold_out_at or 0) > p.deadline else ''}; "
      f"seat map first all-booked at: {f'{mon_sold:.2f} s' if mon_sold else '-'}; "
      f"first no seat available (all held or sold) at: "
      f"{f'{all_claimed:.2f} s' if all_claimed is not None else '-'}")
    if st.sold_out_at is None:
        for line in unsold_lines(p, st):
            w(line)
    w(rehold_line(p, st))
    early = [t for t in st.ledger.no_seats_times if all_claimed is None or t < all_claimed - 0.5]
    w(f"409 no_seats_available answers: {len(st.ledger.no_seats_times)}, of which {len(early)} "
      "came more than 0.5 s before the seat map first showed no seat available")
    tl = st.ledger.timeline
    if tl:
        marks = [tl[0]] + [x for k, x in enumerate(tl) if k and k % max(1, len(tl) // 12) == 0]
        w("seat map over time (t s: available/held/booked): " +
          "  ".join(f"{t:.1f}: {a}/{h}/{b}" for t, a, h, b in marks + [tl[-1]]))
    w("user outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(st.ledger.outcomes.items())))
    w("")
    w("audit facts: " + json.dumps({k: (dict(v) if isinstance(v, Counter) else v)
                                    for k, v in audit.facts.items()}, sort_keys=True))
    for n in audit.notes[:20]:
        w(f"note: {n}")
    if audit.violations:
        w(f"AUDIT: {len(audit.violations)} VIOLATIONS")
        for v in audit.violations[:50]:
            w(f"  VIOLATION: {v}")
    else:
        w("AUDIT: ok (no seat sold twice, every confirmed booking has exactly its tickets, "
          "every payment kept once or refunded once, no live hold on a sold seat, seat maps of "
          "every server = database, sold + held + available = capacity, 0 5xx)")
    return "\n".join(out)


def night(info: ClusterInfo, p: Params, admin_email: str, admin_password: str,
          procs: int = 1, wait_for_expiry: bool = True):
    """As opening() (set-up, stampede, audit), with the stampede's users split over procs
    processes when procs > 1 (stampede_procs). Not a coroutine: it forks between event
    loops."""
    client = Client()
    ctx = asyncio.run(setup(info, p, client, admin_email, admin_password))
    if procs > 1:
        st, wall = stampede_procs(info, p, client, ctx, procs)
    else:
        st = Stampede(info, p, client, ctx)
        wall = asyncio.run(st.run())
    audit = Audit(info, p, client, ctx, st.ledger)
    violations = asyncio.run(audit.run(wait_for_expiry))
    return report(p, client, st, wall, audit, ctx, info), violations, audit, st


async def opening(info: ClusterInfo, p: Params, admin_email: str, admin_password: str,
                  wait_for_expiry: bool = True):
    """Set-up, stampede, audit: (report text, violations, Audit, Stampede)."""
    client = Client()
    ctx = await setup(info, p, client, admin_email, admin_password)
    st = Stampede(info, p, client, ctx)
    wall = await st.run()
    audit = Audit(info, p, client, ctx, st.ledger)
    violations = await audit.run(wait_for_expiry)
    return report(p, client, st, wall, audit, ctx, info), violations, audit, st


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", required=True, help="the cluster's cluster.env")
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--tiny", action="store_true", help="the CI size")
    ap.add_argument("--users", type=int)
    ap.add_argument("--hold-ttl", type=float)
    ap.add_argument("--deadline", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--accept-language", help="an Accept-Language header for every request")
    ap.add_argument("--procs", type=int, default=1,
                    help="split the users over this many processes (each its own event loop)")
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="the event loop (uvloop: Debian's python3-uvloop; asyncio if missing)")
    ap.add_argument("--gzip", action="store_true",
                    help="send Accept-Encoding: gzip with every request, as browsers do (a seat "
                         "map then comes compressed, its cached gzip form)")
    ap.add_argument("--no-hold-keys", action="store_true",
                    help="holds without an Idempotency-Key (other POSTs keep theirs)")
    ap.add_argument("--start-file",
                    help="write the stampede's start (Unix time) to this file when it starts")
    a = ap.parse_args()
    global HOLD_KEYS, START_FILE
    START_FILE = a.start_file
    HOLD_KEYS = not a.no_hold_keys
    if a.accept_language:
        EXTRA_HEADERS.append(f"Accept-Language: {a.accept_language}")
    if a.gzip:
        EXTRA_HEADERS.append("Accept-Encoding: gzip")
    p = Params.tiny() if a.tiny else Params()
    for k in ("users", "hold_ttl", "deadline", "seed"):
        if getattr(a, k) is not None:
            setattr(p, k, getattr(a, k))
    info = ClusterInfo.from_state(a.state)
    loop = "asyncio"
    if a.loop == "uvloop":
        try:
            import uvloop  # noqa: PLC0415 - optional
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            loop = "uvloop"
        except ImportError:
            print("uvloop is not installed (python3-uvloop): asyncio's own loop", flush=True)
    print(f"parameters: users={p.users} hall={len(p.rows)}x{p.seats_per_row} "
          f"(capacity {p.capacity()}, blocked {list(p.blocked)}) popular={p.popular_rows}"
          f"{p.popular_seats[0]}-{p.popular_seats[1]} hold_ttl={p.hold_ttl}s spread={p.spread}s "
          f"deadline={p.deadline}s p_popular={p.p_popular} fates: abandon={p.p_abandon} "
          f"release={p.p_release} unpaid={p.p_unpaid} late={p.p_late} (rest pay; of payers "
          f"double_book={p.p_double_book} double_pay={p.p_double_pay} "
          f"double_confirm={p.p_double_confirm} cancel={p.p_cancel}) seed={p.seed} "
          f"entry points={[f'{t.name}:{t.port}' for t in info.entry_points]} "
          f"accept_language={a.accept_language or '-'} gzip={'on' if a.gzip else 'off'} "
          f"hold_keys={'on' if HOLD_KEYS else 'off'} "
          f"driver: {a.procs} process{'es' if a.procs > 1 else ''}, {loop} loop",
          flush=True)
    text, violations, _, _ = night(info, p, a.admin_email, a.admin_password, a.procs)
    print(text, flush=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
