"""The lifecycle jobs (src/jobs): each job runs on one server at a time through a lease in the
database, once per interval whatever the number of servers; killing the lease holder lets another
server take over within one lease period; a clean stop hands the leases over at once; the expire
job stores `expired` for unpaid bookings (a late payment still confirms); the shows job stores
`running`; JOBS=off; `ticketd jobs run-once NAME`; configuration errors.

Runs are read straight from the database (job_runs, job_leases): with the sqlite3 module for
SQLite and psql for PostgreSQL. Every multi-server case runs on both databases: three processes
share one SQLite file as well as one PostgreSQL database."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import requests

from booking_helpers import Venue, book, confirm, get_booking, hold, pay
from catalog_helpers import cast, create_show, iso, make_user, ok, utcnow
from conftest import TICKETD_BIN, call, find_pg_bindir, sanitizer_report, server_env
from redis_helpers import redis_server  # noqa: F401  (fixture)

JOB_NAMES = ["shows", "expire", "refunds", "reconcile", "purge", "refund_poll", "mail", "reco"]

TICK_MS = 100
LEASE_MS = 2000
# Short intervals, all different, so a job run by three servers would show at once.
INTERVALS_MS = {"shows": 500, "expire": 300, "refunds": 700, "reconcile": 900, "purge": 1100,
                "refund_poll": 1300, "mail": 1500, "reco": 1700}


def jobs_env(**extra) -> dict:
    env = {"JOB_TICK": f"{TICK_MS}ms", "JOB_LEASE": f"{LEASE_MS}ms"}
    env.update({f"JOB_INTERVAL_{name.upper()}": f"{ms}ms" for name, ms in INTERVALS_MS.items()})
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Reading the database directly


def query(database_url: str, sql: str) -> list[tuple]:
    """Rows of sql (no parameters) as tuples of strings (None for NULL)."""
    if database_url.startswith("sqlite://"):
        con = sqlite3.connect(database_url[len("sqlite://"):], timeout=10)
        try:
            return [tuple(None if v is None else str(v) for v in row)
                    for row in con.execute(sql).fetchall()]
        finally:
            con.close()
    u = urlparse(database_url)
    psql = find_pg_bindir() / "psql"
    out = subprocess.run(
        [str(psql), "-h", u.hostname, "-p", str(u.port), "-U", u.username or "postgres",
         "-d", u.path.lstrip("/"), "-X", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=30, check=True).stdout
    return [tuple(None if v == "\x1e" else v for v in line.split("\x1f"))
            for line in out.split("\n") if line]  # not splitlines(): it splits at \x1e too


def runs_of(database_url: str, name: str) -> list[dict]:
    rows = query(database_url, "SELECT started_at, finished_at, holder, counts, error FROM job_runs"
                               f" WHERE name = '{name}' ORDER BY started_at")
    return [{"started": int(r[0]), "finished": None if r[1] is None else int(r[1]),
             "holder": r[2], "counts": r[3], "error": r[4]} for r in rows]


def leases(database_url: str) -> dict[str, tuple[str, int]]:
    rows = query(database_url, "SELECT name, holder, expires_at FROM job_leases")
    return {r[0]: (r[1], int(r[2])) for r in rows}


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_once_per_interval(runs: list[dict], interval_ms: int, name: str,
                             killed: tuple[int, int] | None = None) -> None:
    """No two runs overlap, and each starts at least one interval after the one before.

    killed = (pid, ms): that server was killed (SIGKILL) at ms, so a run of it may never have
    finished; it ended at the kill, and the next run must start after that."""
    for prev, cur in zip(runs, runs[1:]):
        end = prev["finished"]
        if end is None and killed is not None and holder_pid(prev["holder"]) == killed[0]:
            end = killed[1]
        assert end is not None, (name, prev)
        assert cur["started"] >= end, (name, prev, cur)
        assert cur["started"] - prev["started"] >= interval_ms, (name, prev, cur)


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[-2])  # hostname:pid:random


def three_servers(backend, make_server, **env):
    first = make_server(backend, **jobs_env(**env))
    others = [make_server(backend, database_url=first.database_url, **jobs_env(**env))
              for _ in range(2)]
    return [first, *others]


def job_log_lines(server) -> list[dict]:
    lines = []
    for line in server.stderr_text().splitlines():
        if '"msg":"job run"' in line:
            lines.append(json.loads(line))
    return lines


# --------------------------------------------------------------------------------------------
# One run per interval, whatever the number of servers


def test_three_servers_run_each_job_once_per_interval(backend, make_server):
    servers = three_servers(backend, make_server, LOG_LEVEL="debug")
    t0 = now_ms()
    time.sleep(4)
    url = servers[0].database_url
    for s in servers:
        s.stop()
    elapsed = now_ms() - t0
    report = {}
    total = 0
    for name in JOB_NAMES:
        runs = [r for r in runs_of(url, name) if r["started"] >= t0]
        interval = INTERVALS_MS[name]
        assert_once_per_interval(runs, interval, name)
        # Once per interval, not once per server: three servers would triple this.
        assert len(runs) <= elapsed // interval + 1, (name, len(runs), elapsed)
        assert len(runs) >= (elapsed // interval) // 2, (name, len(runs), elapsed)
        assert all(r["error"] is None and r["finished"] is not None for r in runs), runs
        report[name] = (len(runs), len({r["holder"] for r in runs}))
        total += len(runs)
    print(f"\n[{backend}] {elapsed} ms, 3 servers: runs (count, holders) per job: {report}")
    # Every run of every server is one JSON log line with its counts (at debug when empty).
    lines = [ln for s in servers for ln in job_log_lines(s)]
    all_runs = sum(len(runs_of(url, n)) for n in JOB_NAMES)
    assert len(lines) == all_runs, (len(lines), all_runs)
    assert {ln["job"] for ln in lines} == set(JOB_NAMES)
    for ln in lines:
        assert isinstance(ln["counts"], dict) and ln["run_id"].startswith("job_"), ln
        assert holder_pid(ln["holder"]) in {s.proc.pid for s in servers}, ln
    # A clean stop lets the leases lapse at once (the schedule stays).
    assert all(exp == 0 for _, exp in leases(url).values()), leases(url)


def wait_for(pred, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def takeover_ms(url: str, dead_pid: int, since: int) -> dict[str, int]:
    """Per job: ms from `since` to the first run started by another server."""
    out = {}
    for name in JOB_NAMES:
        later = [r for r in runs_of(url, name)
                 if r["started"] >= since and holder_pid(r["holder"]) != dead_pid]
        if later:
            out[name] = later[0]["started"] - since
    return out


def test_killing_the_holder_hands_every_job_over_within_a_lease(backend, make_server):
    servers = three_servers(backend, make_server)
    url = servers[0].database_url
    time.sleep(1.5)
    held = leases(url)
    assert set(held) == set(JOB_NAMES), held
    pids = {holder_pid(h) for h, _ in held.values()}
    assert len(pids) == 1, held  # the first server took every lease and keeps them
    victim = next(s for s in servers if s.proc.pid in pids)
    killed_at = now_ms()
    victim.kill()  # SIGKILL: no chance to give anything up
    # Longest interval + lease + tick, and some slack for a loaded machine.
    got = wait_for(lambda: len(takeover_ms(url, victim.proc.pid, killed_at)) == len(JOB_NAMES),
                   timeout=(LEASE_MS + 1100 + TICK_MS) / 1000 + 3)
    taken = takeover_ms(url, victim.proc.pid, killed_at)
    print(f"\n[{backend}] kill -9 of the lease holder: first run elsewhere after (ms) {taken}")
    assert got, taken
    for name, ms in taken.items():
        # The lease lapses at most LEASE_MS after the last renewal (< one tick before the kill);
        # the job then runs at the next tick of a survivor if it is due (it is: intervals are
        # shorter than the lease). Slack for scheduling on a loaded 2-core machine (CI runs
        # the whole suite on it); a takeover that waited for a second lease would be >= 4 s.
        assert ms <= LEASE_MS + TICK_MS + 1500, (name, ms)
    for name in JOB_NAMES:  # the handover never ran a job twice in an interval
        assert_once_per_interval(runs_of(url, name), INTERVALS_MS[name], name,
                                 killed=(victim.proc.pid, killed_at))
    survivors = {s.proc.pid for s in servers if s is not victim}
    assert {holder_pid(h) for h, _ in leases(url).values()} <= survivors


def test_sigterm_hands_the_leases_over_at_once(backend, make_server):
    servers = three_servers(backend, make_server)
    url = servers[0].database_url
    time.sleep(1.0)
    [pid] = {holder_pid(h) for h, _ in leases(url).values()}
    leaving = next(s for s in servers if s.proc.pid == pid)
    stopped_at = now_ms()
    leaving.assert_clean_exit(leaving.stop())
    # Handed over, not left to lapse: once it has exited, no lease of it is still live (each
    # was given up on the way out, or already taken by a survivor).
    exited_at = now_ms()
    for name, (holder, expires) in leases(url).items():
        assert holder_pid(holder) != pid or expires <= exited_at, (
            f"{name} still held by the leaving server ({holder}) until {expires}, "
            f"{expires - exited_at} ms after it exited; its log:\n{leaving.stderr_text()[-4000:]}")
    assert wait_for(lambda: len(takeover_ms(url, pid, stopped_at)) == len(JOB_NAMES),
                    timeout=10)
    taken = takeover_ms(url, pid, stopped_at)
    print(f"\n[{backend}] SIGTERM of the lease holder: first run elsewhere after (ms) {taken}")
    for name in JOB_NAMES:
        assert_once_per_interval(runs_of(url, name), INTERVALS_MS[name], name)


def test_giving_the_leases_up_waits_for_a_renewal_instead_of_deadlocking(pg_cluster,
                                                                         make_server):
    """The give-up at SIGTERM locks the lease rows in the order every renewal does (the job
    table's), so it waits behind another server's renewal instead of deadlocking with it.

    A single UPDATE ... WHERE holder = me locked them in the heap's order: it took `expire` and
    the rest, then waited for `shows`, which a survivor's renewal (shows first, then expire)
    held while it waited for `expire`. PostgreSQL broke the cycle by failing the give-up, and
    the leaving server's leases stayed live until they lapsed (the flaky failure of the test
    above on a loaded machine). Here a psql session is that survivor: it locks `shows`, the
    server is told to stop, and once the give-up waits on a lock the session locks `expire`.
    PostgreSQL only; SQLite has one writer at a time and no row locks."""
    pg = pg_cluster
    # One tick (it takes the leases and runs every job once), then the scheduler stays idle:
    # nothing but the give-up and the session below touches job_leases.
    srv = make_server("postgres", pg=pg, **jobs_env(JOB_TICK="60s", JOB_LEASE="10m"))
    url = srv.database_url
    dbname = url.rsplit("/", 1)[1]
    first_tick_done = wait_for(lambda: len(leases(url)) == len(JOB_NAMES) and all(
        len(runs_of(url, n)) == 1 and runs_of(url, n)[0]["finished"] is not None
        for n in JOB_NAMES), timeout=20)
    assert first_tick_done, (leases(url), srv.stderr_text()[-4000:])
    # A committed update puts the live row of `shows` last in the heap (a sequential scan's
    # order), as another server's renewal may have left it.
    pg.psql(dbname, "UPDATE job_leases SET holder = holder WHERE name = 'shows'")
    order = [r[0] for r in query(url, "SELECT name FROM job_leases ORDER BY ctid")]
    assert order[-1] == "shows", order
    locker = pg.session(dbname)
    try:
        # Only the give-up may find the cycle: the session waits a minute before it looks.
        locker.stdin.write("SET application_name = 'renewal'; SET deadlock_timeout = '60s';"
                           " BEGIN; SELECT name FROM job_leases WHERE name = 'shows' FOR UPDATE;\n")
        locker.stdin.flush()
        assert wait_for(lambda: pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE"
                                                " application_name = 'renewal' AND state ="
                                                " 'idle in transaction'") == "1", timeout=10)
        srv.proc.send_signal(signal.SIGTERM)
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                   " AND application_name <> 'renewal' AND query LIKE '%job_leases%'")
        assert wait_for(lambda: pg.psql(dbname, waiting) == "1", timeout=10), \
            srv.stderr_text()[-4000:]
        locker.stdin.write("SELECT name FROM job_leases WHERE name = 'expire' FOR UPDATE;"
                           " COMMIT;\n")
        locker.stdin.flush()
        rc = srv.stop(timeout=30)
    finally:
        locker.stdin.close()  # ends the session: its locks go with it
        locker.wait(10)
    srv.assert_clean_exit(rc)
    log = srv.stderr_text()
    assert "could not give the leases up" not in log, log[-4000:]
    assert leases(url) == {name: (leases(url)[name][0], 0) for name in JOB_NAMES}, log[-4000:]
    assert {holder_pid(h) for h, _ in leases(url).values()} == {srv.proc.pid}


# --------------------------------------------------------------------------------------------
# What the jobs do


def test_expire_job_stores_expired_and_a_late_payment_still_confirms(backend, make_server):
    srv = make_server(backend, HOLD_TTL=1, **jobs_env())
    v = Venue(srv)
    u = make_user(srv, "jobs-expire")
    h = hold(srv, u.token, v.show_id, seat_ids=v.ids("C3"))
    body = book(srv, u.token, h["hold_id"])
    bid = body["booking"]["id"]
    rows = query(srv.database_url, f"SELECT status FROM bookings WHERE id = '{bid}'")
    assert rows == [("pending_payment",)]
    stored = wait_for(lambda: query(srv.database_url,
                                    f"SELECT status FROM bookings WHERE id = '{bid}'")
                      == [("expired",)], timeout=4)
    assert stored, query(srv.database_url, f"SELECT status FROM bookings WHERE id = '{bid}'")
    events = query(srv.database_url, "SELECT from_status, to_status, reason FROM booking_events"
                                     f" WHERE booking_id = '{bid}' ORDER BY created_at")
    assert events[-1] == ("pending_payment", "expired", "hold expired (job)"), events
    assert get_booking(srv, u.token, bid)["status"] == "expired"
    runs = [r for r in runs_of(srv.database_url, "expire")
            if r["counts"] and json.loads(r["counts"])["bookings_expired"] == 1]
    assert len(runs) == 1, runs_of(srv.database_url, "expire")
    logged = [ln for ln in job_log_lines(srv)
              if ln["job"] == "expire" and ln["counts"]["bookings_expired"] == 1]
    assert len(logged) == 1 and logged[0]["level"] == "info", logged
    # Nobody took C3: the payment that arrives now still gets it (API.md: late payment).
    done = confirm(srv, u.token, bid, pay(srv, u.token, body["payment"]["order_id"]))
    assert done["status"] == "confirmed" and done["refunds"] == [], done
    # /metrics counts each move once: the job's expiry, then the late confirmation and its money
    text = requests.get(srv.url + "/metrics", timeout=10).text
    for line in ('ticketd_bookings_total{status="pending_payment"} 1',
                 'ticketd_bookings_total{status="expired"} 1',
                 'ticketd_bookings_total{status="confirmed"} 1',
                 f'ticketd_revenue_minor_total{{currency="INR"}} {done["amount"]}'):
        assert line in text.splitlines(), (line, text)


def test_shows_job_stores_running(backend, make_server):
    srv = make_server(backend, **jobs_env())
    c = cast(srv)
    v = Venue(srv)
    starts = (utcnow() + timedelta(seconds=3)).replace(microsecond=0)
    show = create_show(srv, v.movie["id"], v.hall["id"], iso(starts), token=c.owner.token,
                       prices={"premium": 100, "regular": 50})
    sid = show["id"]
    assert query(srv.database_url, f"SELECT status FROM shows WHERE id = '{sid}'") == \
        [("scheduled",)]
    running = wait_for(lambda: query(srv.database_url,
                                     f"SELECT status FROM shows WHERE id = '{sid}'")
                       == [("running",)], timeout=8)
    assert running, query(srv.database_url, f"SELECT status, starts_at FROM shows"
                                            f" WHERE id = '{sid}'")
    assert now_ms() >= int(starts.timestamp() * 1000)
    assert ok(call("GET", srv, f"/shows/{sid}"))["status"] == "running"
    # The other show of the venue is days away: still scheduled.
    assert query(srv.database_url, f"SELECT status FROM shows WHERE id = '{v.show_id}'") == \
        [("scheduled",)]


def test_jobs_off_runs_nothing(backend, make_server):
    srv = make_server(backend, JOBS="off", **jobs_env())
    time.sleep(0.8)
    assert query(srv.database_url, "SELECT COUNT(*) FROM job_runs") == [("0",)]
    assert query(srv.database_url, "SELECT COUNT(*) FROM job_leases") == [("0",)]
    assert call("GET", srv, "/healthz").status_code == 200


# --------------------------------------------------------------------------------------------
# Command line and configuration


def run_ticketd(env: dict, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(TICKETD_BIN), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=30)


def test_run_once_command(backend, new_database_url, ticketd_bin, tmp_path):
    url = new_database_url(backend)
    env = server_env(url)
    proc = run_ticketd(env, "jobs", "run-once", "shows", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"running": 0, "completed": 0}
    runs = runs_of(url, "shows")
    assert len(runs) == 1 and runs[0]["holder"].startswith("cli:"), runs
    for args, code in ((("jobs", "run-once", "movies"), 2), (("jobs", "run-once"), 2),
                       (("jobs",), 2)):
        proc = run_ticketd(env, *args, cwd=tmp_path)
        assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        assert not sanitizer_report(proc.stderr), proc.stderr
        assert "jobs" in proc.stderr or "job" in proc.stderr, proc.stderr


def test_run_once_invalidates_the_servers_caches(backend, make_server, redis_server, tmp_path):
    """`jobs run-once` opens the cache and the bus like a server: the show it moves to `running`
    bumps the shared catalogue version in Redis, so servers stop serving the cached `scheduled`
    answer at once instead of after CACHE_TTL."""
    srv = make_server(backend, JOBS="off", REDIS_URL=redis_server.url, CACHE_TTL="1h")
    c = cast(srv)
    v = Venue(srv)
    starts = (utcnow() + timedelta(seconds=2)).replace(microsecond=0)
    sid = create_show(srv, v.movie["id"], v.hall["id"], iso(starts), token=c.owner.token,
                      prices={"premium": 100, "regular": 50})["id"]
    assert ok(call("GET", srv, f"/shows/{sid}"))["status"] == "scheduled"
    key = "ticketd:{catalog}:ver"
    before = redis_server.command("GET", key)
    time.sleep(max(0.0, starts.timestamp() - time.time()) + 0.2)
    env = server_env(srv.database_url, REDIS_URL=redis_server.url)
    proc = run_ticketd(env, "jobs", "run-once", "shows", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not sanitizer_report(proc.stderr), proc.stderr
    assert json.loads(proc.stdout)["running"] >= 1, proc.stdout
    assert redis_server.command("GET", key) != before
    assert ok(call("GET", srv, f"/shows/{sid}"))["status"] == "running"


@pytest.mark.parametrize("env, says", [
    ({"JOBS": "sometimes"}, "JOBS must be on or off"),
    ({"JOB_TICK": "1ms"}, "JOB_TICK"),
    ({"JOB_TICK": "600ms", "JOB_LEASE": "1s"}, "JOB_LEASE"),
    ({"JOB_INTERVAL_EXPIRE": "soon"}, "JOB_INTERVAL_EXPIRE"),
])
def test_bad_job_settings_exit_2(tmp_path, ticketd_bin, env, says):
    proc = run_ticketd(server_env(f"sqlite://{tmp_path / 't.db'}", **env), "migrate",
                       cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert says in proc.stderr, proc.stderr
