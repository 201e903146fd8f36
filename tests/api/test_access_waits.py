"""The access line's waits, on SQLite and PostgreSQL: queue_us (for a handler thread) and
db_wait_us (for a database connection).

- db_wait_us is the pool wait that ticketd_db_pool_wait_seconds counts, measured once in the
  pool (store/db.h tix_db_acquire_timed). Over a run of requests the metric's sum grows by
  exactly the sum of their lines' db_wait_us; in the run a request gets a connection that is
  opened inside its acquire, and the time connecting is in neither.
- Every request line carries both fields as integers >= 0; a request that had to wait for the
  only connection (DB_POOL_SIZE=1) shows db_wait_us > 0, one that waited for a handler thread
  (every thread busy) shows queue_us > 0.

How the waits are made without racing the clock: a registration is held inside the database by
an outside session (PostgreSQL: a psql session inserted a user of the same e-mail and has not
committed, seen waiting in pg_stat_activity; SQLite: a second process's write transaction,
which the registration's write meets in its busy handler), keeping its connection and its
thread. The requests behind it are sent while it is held, and it is released HOLD_S after the
first of them. The one assumption: a request sent reaches the pool's wait (or the handler
queue) within HOLD_S / 2; nothing outside the server can see that it has (it waits on a
condition variable, not in the database), so the positive checks lean on it, with a margin of
hundreds of milliseconds for what takes well under one. On SQLite the same holds for the
registration reaching its busy handler.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import requests

from catalog_helpers import make_user
from conftest import DEFAULT_PASSWORD, TIMEOUT, auth_headers, unique_email

HOLD_S = 1.0  # how long the blocked request is held after the ones behind it were sent


def pool_wait(server, rid: str) -> tuple[int, int]:
    """ticketd_db_pool_wait_seconds{pool="primary"}: (sum in microseconds, count)."""
    text = requests.get(server.url + "/metrics", headers={"X-Request-Id": rid},
                        timeout=TIMEOUT).text
    s = re.search(r'^ticketd_db_pool_wait_seconds_sum\{pool="primary"\} (\d+)\.(\d{6})$', text,
                  re.M)
    c = re.search(r'^ticketd_db_pool_wait_seconds_count\{pool="primary"\} (\d+)$', text, re.M)
    assert s and c, text[-2000:]
    return int(s.group(1)) * 1_000_000 + int(s.group(2)), int(c.group(1))


def waits_of(line: dict) -> tuple[int, int]:
    """The line's (queue_us, db_wait_us), checked: present, integers, >= 0."""
    q, w = line.get("queue_us"), line.get("db_wait_us")
    assert type(q) is int and type(w) is int, line
    assert q >= 0 and w >= 0, line
    return q, w


def send(srv, answers: dict, rid: str, method: str, path: str, **kw) -> threading.Thread:
    """Sends a request on a thread of its own; its answer lands in answers[rid]."""
    def run():
        headers = {"X-Request-Id": rid, **kw.pop("headers", {})}
        answers[rid] = requests.request(method, srv.url + path, timeout=60, headers=headers, **kw)
    t = threading.Thread(target=run)
    t.start()
    return t


def get(server, path: str, rid: str, token: str | None = None) -> requests.Response:
    headers = {"X-Request-Id": rid, **(auth_headers(token) if token else {})}
    return requests.get(server.url + path, headers=headers, timeout=TIMEOUT)


def test_db_wait_us_is_the_pool_wait_the_metric_counts(backend, make_server, request):
    """No jobs: every acquire is a request's. The metric is read before the run's acquires and
    after them (/metrics acquires only after writing the metric, so the first scrape's acquire
    falls in the run and the second's does not). In the run a registration is held in the
    database with the pool's open connection, and a list of bookings sent meanwhile gets the
    next one, unopened until then: it is opened inside that acquire, and the time connecting
    is neither a wait in the metric nor in the line."""
    srv = make_server(backend, WORKERS="2", JOBS="off")
    user = make_user(srv, "waiter")
    rids = ["waits-first-scrape", "waits-blocked", "waits-beside"]
    sum0, _ = pool_wait(srv, rids[0])
    blocker = Blocker(srv, request)
    answers: dict = {}
    threads = []
    try:
        opened = blocker.connections()
        threads.append(blocker.register(answers, rids[1]))
        blocker.wait_blocked()
        r = get(srv, "/api/v1/bookings", rids[2], user.token)
        assert r.status_code == 200, r.text
        assert blocker.connections() == opened + 1, "the list did not open a connection"
    finally:
        blocker.release()
        for t in threads:
            t.join(60)
    assert answers[rids[1]].status_code == 201, answers[rids[1]].text
    sum1, _ = pool_wait(srv, "waits-second-scrape")
    lines = [srv.access_line(rid) for rid in rids]
    logged = sum(waits_of(x)[1] for x in lines)
    assert logged == sum1 - sum0, (logged, sum1 - sum0, [(x["rid"], x["db_wait_us"])
                                                         for x in lines])


class Blocker:
    """Holds a registration of self.email inside the database. PostgreSQL: a psql session has
    inserted a user of that e-mail and not committed, so the registration's INSERT waits on the
    unique index (nothing else waits: reads do not see the row); SQLite: a write transaction of
    another process (this one) on the file, which the registration's write meets in its busy
    handler (reads go on, in WAL mode). Either way the registration keeps its connection and
    its thread until release(), and then succeeds."""

    def __init__(self, srv, request):
        self.srv = srv
        self.email = unique_email("blocked").lower()
        self.pg = None
        if srv.backend == "postgres":
            self.pg = request.getfixturevalue("pg_cluster")
            self.dbname = srv.database_url.rsplit("/", 1)[1]
            self.locker = self.pg.session(self.dbname)
            self.locker.stdin.write(
                "BEGIN; INSERT INTO users (id, email, name, role, password_hash, created_at,"
                f" updated_at) VALUES ('usr_blocker', '{self.email}', 'x', 'user', '!', 0, 0);\n")
            self.locker.stdin.flush()
            self.wait_activity("state = 'idle in transaction' AND query LIKE"
                               " '%INSERT INTO users%'", "the locker never inserted its user")
        else:
            self.con = sqlite3.connect(srv.database_url.removeprefix("sqlite://"),
                                       isolation_level=None, timeout=10)
            self.con.execute("BEGIN IMMEDIATE")

    def register(self, answers: dict, rid: str) -> threading.Thread:
        """Sends the registration to be held."""
        return send(self.srv, answers, rid, "POST", "/api/v1/auth/register",
                    json={"email": self.email, "password": DEFAULT_PASSWORD, "name": "Blocked"})

    def wait_blocked(self) -> None:
        """Returns once the blocked request waits in the database (PostgreSQL: seen in
        pg_stat_activity; SQLite: nothing shows it, so a moment's grace)."""
        if self.pg is None:
            time.sleep(HOLD_S / 2)
            return
        self.wait_activity("wait_event_type = 'Lock' AND application_name = 'ticketd'",
                           "the registration never waited for the lock")

    def wait_activity(self, where: str, what: str) -> None:
        """Returns once exactly one PostgreSQL session matches where (in pg_stat_activity)."""
        deadline = time.monotonic() + 10
        while self.pg.psql(self.dbname,
                           f"SELECT count(*) FROM pg_stat_activity WHERE {where}") != "1":
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    def connections(self) -> int:
        """How many database connections the server has open: PostgreSQL backends named
        ticketd, or the server's open descriptors of the SQLite file."""
        if self.pg is not None:
            return int(self.pg.psql(self.dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                                 "application_name = 'ticketd'"))
        path = os.path.realpath(self.srv.database_url.removeprefix("sqlite://"))
        fds = Path(f"/proc/{self.srv.proc.pid}/fd")
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == path)

    def release(self) -> None:
        if self.pg is None:
            if self.con.in_transaction:
                self.con.rollback()
            self.con.close()
        elif not self.locker.stdin.closed:
            self.locker.stdin.close()
            self.locker.wait(10)


def test_lines_report_waits_for_a_thread_and_a_connection(backend, make_server, request):
    """WORKERS=2, DB_POOL_SIZE=1. A registration is held in the database with the only
    connection (thread 1); a list of bookings sent then takes thread 2 and waits for the
    connection; a third request, with both threads busy, waits in the handler queue."""
    srv = make_server(backend, WORKERS="2", DB_POOL_SIZE="1", JOBS="off")
    user = make_user(srv, "lister")
    answers: dict = {}
    blocker = Blocker(srv, request)
    threads = []
    try:
        threads.append(blocker.register(answers, "waits-blocked"))
        blocker.wait_blocked()
        threads.append(send(srv, answers, "waits-for-db", "GET", "/api/v1/bookings",
                            headers=auth_headers(user.token)))
        time.sleep(HOLD_S / 2)  # on thread 2, waiting for the connection
        threads.append(send(srv, answers, "waits-for-thread", "GET", "/api/v1/bookings",
                            headers=auth_headers(user.token)))
        time.sleep(HOLD_S / 2)  # queued: both threads are busy
    finally:
        blocker.release()
        for t in threads:
            t.join(60)
    assert answers["waits-blocked"].status_code == 201, answers["waits-blocked"].text
    for rid in ("waits-for-db", "waits-for-thread"):
        assert answers[rid].status_code == 200, answers[rid].text
    waits_of(srv.access_line("waits-blocked"))
    _, db_wait = waits_of(srv.access_line("waits-for-db"))
    queue, _ = waits_of(srv.access_line("waits-for-thread"))
    assert db_wait > 0, srv.access_line("waits-for-db")
    assert queue > 0, srv.access_line("waits-for-thread")
    # and every line of the run carries both, as integers >= 0
    lines = [json.loads(x) for x in srv.stderr_text().splitlines() if '"msg":"request"' in x]
    assert len(lines) >= 5
    for line in lines:
        waits_of(line)
