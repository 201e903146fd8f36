"""
Fixtures and helpers for the black-box API tests of ticketd.

The tests start the real binary (TICKETD_BIN, default <repo>/build/ticketd) against a throwaway
database: an SQLite file in a temp dir, or a database in a throwaway PostgreSQL cluster that is
initdb'd in a temp dir and listens on a free loopback port (never the machine's own cluster).

The `server` fixture is session-scoped and parametrized over ["sqlite", "postgres"], so every test
that uses it runs once per database. Tests that need a server of their own (short time-outs,
restarts, signals) use the `make_server(backend, **env)` factory, which cleans up after itself.

Only the standard library, requests and pytest are used; run with `/usr/bin/python3 -m pytest`.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
TICKETD_BIN = Path(os.environ.get("TICKETD_BIN") or REPO / "build" / "ticketd").absolute()

# A command that prefixes every server started here (make valgrind: "valgrind --error-exitcode=97
# --log-file={log} ..."); "{log}" becomes a file beside the server's stderr log, and
# Server.assert_clean_exit reads that file too. Under a slow wrapper, TICKETD_TIME_FACTOR
# multiplies every time-out (start, stop and each HTTP call).
TICKETD_WRAPPER = shlex.split(os.environ.get("TICKETD_WRAPPER", ""))
TIME_FACTOR = float(os.environ.get("TICKETD_TIME_FACTOR") or 1)

TIMEOUT = 10 * TIME_FACTOR  # seconds; every HTTP call in the suite uses a time-out
BACKENDS = ["sqlite", "postgres"]

# Known secrets so tests can forge tokens; both longer than 40 characters and different.
JWT_ACCESS_SECRET = "test-access-secret-6f1c2a9e0b7d4c38a5e2f9d1c0b8a7e6"
JWT_REFRESH_SECRET = "test-refresh-secret-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
DEFAULT_PASSWORD = "correct-horse-1"

# Variables the server reads (or may read), removed from the inherited environment so a
# developer's shell cannot leak into a test run. libpq's PG* variables are removed as well.
_SERVER_ENV_NAMES = {
    "PORT", "BIND_ADDRESS", "DATABASE_URL", "REDIS_URL", "JWT_ACCESS_SECRET",
    "JWT_REFRESH_SECRET", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "ADMIN_EMAIL",
    "ADMIN_PASSWORD", "WORKERS", "LOG_LEVEL", "MAX_BODY_BYTES", "CONNECTION_TIMEOUT",
    "REQUEST_TIMEOUT", "MAX_CONNECTIONS", "PER_IP_CONNECTIONS", "PASSWORD_HASH_COST",
    "DB_POOL_SIZE",
}
_SERVER_ENV_PREFIXES = (
    "JWT_", "ADMIN_", "DATABASE_", "REDIS_", "RAZORPAY_", "CLOUDINARY_", "MEDIA_", "HOLD_",
    "BOOKING_", "CANCEL", "REFUND", "CACHE_", "CORS_", "TICKETD_", "TIX_", "PG", "RATE_LIMIT",
    "TRUST", "JOB", "SSE_", "EVENT_", "SMTP_", "MAIL_", "WEB_",
)

_SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                      "runtime error:",
                      # valgrind memcheck (TICKETD_WRAPPER), as it words its errors
                      "Invalid read of size", "Invalid write of size", "Invalid free",
                      "Mismatched free", "Conditional jump or move depends",
                      "Use of uninitialised value", "Syscall param", "are definitely lost",
                      "Source and destination overlap")
_VALGRIND_ERRORS = re.compile(r"==\d+== ERROR SUMMARY: [1-9]")

# The high-availability tests (real Patroni, etcd and Sentinel sets killed mid-sale) prove
# properties of the deployment, not of the code's memory safety, and take a minute or more
# each: `make test` runs them on the release build only. The ASan run is known by its
# binary (build-asan) or by ASAN_OPTIONS, which the Makefile's ASAN_ENV sets; valgrind runs
# (TICKETD_WRAPPER) skip them as well.
SANITIZED = (TICKETD_BIN.parent.name == "build-asan" or "ASAN_OPTIONS" in os.environ
             or bool(os.environ.get("TICKETD_WRAPPER")))
release_only = pytest.mark.skipif(
    SANITIZED, reason="HA test: release build only (a sanitizer build or wrapper is in use; "
    "the HA sets prove the deployment, and make test must stay short)")

# The largest load tests (the opening-night stampede, 200 users' random holds, 50 users racing
# for a promo code across 3 servers, the report against a random ledger) check invariants of
# the data under load; every code path they take is also run by smaller tests that the ASan
# run keeps. Under a sanitizer they cost minutes, so they too run on the release build only.
scale_release_only = pytest.mark.skipif(
    SANITIZED, reason="load test: release build only (a sanitizer build or wrapper is in use; "
    "its code paths run in smaller tests there, and make test must stay short)")


# Under a sanitizer every test runs on SQLite, and on PostgreSQL only in the modules below. The
# store's C is the same for both databases (SQL text aside); what differs is the driver,
# store/db.c's PostgreSQL half: binding, reading results, errors, lost connections and
# reconnects, read replicas, leases. These modules drive all of it (outages, failovers,
# replicas, every column type, the booking and payment paths, the jobs). The release run keeps
# every test on both databases. TICKETD_ASAN_ALL_BACKENDS=1 runs the whole suite on both.
SANITIZED_POSTGRES_MODULES = {
    "test_bookings", "test_cli", "test_contention", "test_failover", "test_holds", "test_jobs",
    "test_lifecycle", "test_razorpay", "test_replica", "test_reports", "test_schema_fuzz",
    "test_sessions", "test_show_changes", "test_websocket",
}


def pytest_collection_modifyitems(config, items):
    if not SANITIZED or os.environ.get("TICKETD_ASAN_ALL_BACKENDS"):
        return
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_pg = "postgres" in params.values()
        (drop if on_pg and item.module.__name__ not in SANITIZED_POSTGRES_MODULES else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    if SANITIZED and not os.environ.get("TICKETD_ASAN_ALL_BACKENDS"):
        return ("sanitizer run: PostgreSQL variants only in " + ", ".join(sorted(SANITIZED_POSTGRES_MODULES))
                + " (TICKETD_ASAN_ALL_BACKENDS=1 for all)")
    return None


# --------------------------------------------------------------------------------------------
# Small utilities


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (never 5432)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 5432:
            return port


def clean_environ() -> dict:
    """os.environ without anything the server (or libpq) would read."""
    return {
        k: v for k, v in os.environ.items()
        if k not in _SERVER_ENV_NAMES and not k.startswith(_SERVER_ENV_PREFIXES)
    }


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}@example.com"


def sanitizer_report(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if any(m in line for m in _SANITIZER_MARKERS) or _VALGRIND_ERRORS.search(line)]


# --------------------------------------------------------------------------------------------
# Throwaway PostgreSQL


def find_pg_bindir() -> Path | None:
    def version(p: Path):
        try:
            return tuple(int(x) for x in p.parent.name.split("."))
        except ValueError:
            return (0,)

    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    return max(candidates, key=version) if candidates else None


class PgCluster:
    """A private PostgreSQL cluster in a temp dir, on a free loopback port."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="ticketd-pg-"))
        self.data = self.base / "data"
        self.logfile = self.base / "log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.running = False
        self._counter = itertools.count(1)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")

    def _run(self, tool: str, *args: str, as_owner: bool = False) -> str:
        cmd = [str(self.bindir / tool), *args]
        if as_owner and self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, cwd=self.base, env=clean_environ(), capture_output=True,
                              text=True, timeout=60)
        if proc.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n"
                               f"{proc.stderr}\n--- postgres log ---\n{log}")
        return proc.stdout

    def init(self) -> "PgCluster":
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", as_owner=True)
        return self

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.logfile), "-w",
                  "-t", "30", "start", as_owner=True)
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stops the cluster. "fast" ends every session in order: a backend that exits releases
        its locks, and may wake a waiter before that waiter's own SIGTERM arrives (on a loaded
        machine the postmaster can be preempted between its kill() calls), which then finishes
        its query. "immediate" is a crash: every backend quits at once, nothing is released, and
        a statement waiting on a lock can only fail (the next start recovers from the WAL)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop",
                      as_owner=True)
            self.running = False

    def create_database(self) -> str:
        """Creates a fresh database and returns its postgres:// URL."""
        name = f"ticketd_{next(self._counter)}_{uuid.uuid4().hex[:8]}"
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql_cmd(self, dbname: str, *args: str) -> list[str]:
        """psql over the cluster's unix socket (allowed even when pg_hba refuses TCP)."""
        return [str(self.bindir / "psql"), "-h", str(self.base), "-p", str(self.port),
                "-U", "postgres", "-d", dbname, "-v", "ON_ERROR_STOP=1", *args]

    def psql(self, dbname: str, sql: str) -> str:
        """Runs sql; returns its output, unaligned and without headers."""
        return subprocess.run(self.psql_cmd(dbname, "-qAtc", sql), capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()

    def session(self, dbname: str) -> subprocess.Popen:
        """An interactive psql session fed through stdin (close stdin to end it)."""
        return subprocess.Popen(self.psql_cmd(dbname, "-q"), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)

    def lock_table(self, locker: subprocess.Popen, dbname: str, table: str) -> None:
        """Makes the session locker take an ACCESS EXCLUSIVE lock on table (in an open
        transaction) and returns once PostgreSQL has granted it; the lock goes when the session
        ends (close its stdin)."""
        locker.stdin.write(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        deadline = time.monotonic() + 10
        while self.psql(dbname, f"SELECT count(*) FROM pg_locks WHERE granted AND relation = "
                                f"'{table}'::regclass AND mode = 'AccessExclusiveLock'") != "1":
            assert time.monotonic() < deadline, f"the lock on {table} was not granted"
            time.sleep(0.05)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def new_pg_cluster() -> PgCluster:
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin; the API tests "
                    "must run against both SQLite and PostgreSQL (apt-get install postgresql)",
                    pytrace=False)
    cluster = PgCluster(bindir).init()
    atexit.register(cluster.destroy)  # in case the session is torn down abnormally
    cluster.start()
    return cluster


# --------------------------------------------------------------------------------------------
# The server under test


def server_env(database_url: str, **overrides) -> dict:
    env = clean_environ()
    env.update(
        BIND_ADDRESS="127.0.0.1",
        DATABASE_URL=database_url,
        JWT_ACCESS_SECRET=JWT_ACCESS_SECRET,
        JWT_REFRESH_SECRET=JWT_REFRESH_SECRET,
        PASSWORD_HASH_COST="min",
        ADMIN_EMAIL=ADMIN_EMAIL,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        WORKERS="4",
        LOG_LEVEL="info",
        RATE_LIMIT="off",  # test_ratelimit.py and test_cluster.py turn it on for their servers
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Server:
    """One ticketd process on a free loopback port; stderr (JSON log lines) goes to a file."""

    _ids = itertools.count(1)

    def __init__(self, backend: str, database_url: str, workdir: Path, **env_overrides):
        self.backend = backend
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env_overrides = env_overrides
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.stderr_path: Path | None = None
        self.wrapper_log: Path | None = None  # the wrapper's own report (TICKETD_WRAPPER)
        self._stderr_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 20.0) -> "Server":
        assert not self.running, "already running"
        timeout *= TIME_FACTOR
        self.port = free_port()
        env = server_env(self.database_url, PORT=self.port, **self.env_overrides)
        n = next(self._ids)
        self.stderr_path = self.workdir / f"ticketd-{n}.stderr.log"
        self._stderr_file = open(self.stderr_path, "wb")
        self.wrapper_log = self.workdir / f"ticketd-{n}.wrapper.log" if TICKETD_WRAPPER else None
        wrapper = [a.replace("{log}", str(self.wrapper_log)) for a in TICKETD_WRAPPER]
        self.proc = subprocess.Popen(
            [*wrapper, str(TICKETD_BIN)], env=env, cwd=self.workdir, stdin=subprocess.DEVNULL,
            stdout=self._stderr_file, stderr=self._stderr_file)
        atexit.register(self.kill)  # never leave a server behind, even on an aborted run
        deadline = time.monotonic() + timeout
        last_err = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(f"ticketd exited with {rc} before becoming healthy; "
                                   f"stderr:\n{self.stderr_text()[-4000:]}")
            try:
                r = requests.get(self.url + "/healthz", timeout=1)
                if r.status_code == 200:
                    return self
                last_err = f"GET /healthz -> {r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last_err = repr(e)
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"ticketd not healthy within {timeout}s ({last_err}); "
                           f"stderr:\n{self.stderr_text()[-4000:]}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait, return the exit code (kills and raises if it does not exit)."""
        assert self.proc is not None
        timeout *= TIME_FACTOR
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"ticketd did not exit within {timeout}s of SIGTERM; "
                                     f"stderr:\n{self.stderr_text()[-4000:]}")
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def stderr_text(self) -> str:
        if self._stderr_file is not None:
            self._stderr_file.flush()
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")

    def access_line(self, rid: str) -> dict:
        """The access-log line of request rid, parsed. It is written once the answer has gone out
        (MHD's completion callback), so it may come a moment after the client has the answer:
        waited for, up to 10 s."""
        deadline = time.monotonic() + 10
        while True:
            lines = [json.loads(x) for x in self.stderr_text().splitlines()
                     if f'"rid":"{rid}"' in x and '"msg":"request"' in x]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(lines) == 1, lines
        return lines[0]

    def wrapper_text(self) -> str:
        if self.wrapper_log is None or not self.wrapper_log.exists():
            return ""
        return self.wrapper_log.read_text(errors="replace")

    def assert_clean_exit(self, rc: int) -> None:
        text = self.stderr_text()
        report = sanitizer_report(text)
        assert not report, "sanitizer report in ticketd's stderr:\n" + text[-6000:]
        wrapped = self.wrapper_text()
        assert not sanitizer_report(wrapped), (
            f"report in {self.wrapper_log} (TICKETD_WRAPPER):\n" + wrapped[-8000:])
        assert rc == 0, f"ticketd exited with {rc}; stderr:\n{text[-4000:]}"


def _new_database(backend: str, tmp: Path, pg: PgCluster | None) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp / 't.db'}"
    assert backend == "postgres" and pg is not None
    return pg.create_database()


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def ticketd_bin() -> Path:
    if not TICKETD_BIN.exists():
        pytest.fail(f"ticketd binary not found at {TICKETD_BIN} (set TICKETD_BIN)", pytrace=False)
    return TICKETD_BIN


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = new_pg_cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory, ticketd_bin):
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    pg = request.getfixturevalue("pg_cluster") if backend == "postgres" else None
    srv = Server(backend, _new_database(backend, tmp, pg), tmp)
    srv.start()
    yield srv
    srv.assert_clean_exit(srv.stop())


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """For tests that start their own servers: runs them once per database."""
    return request.param


@pytest.fixture
def new_database_url(request, tmp_path_factory):
    """Factory: a fresh, empty database URL for a backend."""

    def make(backend: str, pg: PgCluster | None = None) -> str:
        tmp = tmp_path_factory.mktemp(f"db-{backend}")
        if backend == "postgres" and pg is None:
            pg = request.getfixturevalue("pg_cluster")
        return _new_database(backend, tmp, pg)

    return make


@pytest.fixture
def make_server(tmp_path_factory, new_database_url, ticketd_bin):
    """Factory: make_server(backend, pg=None, start=True, database_url=None, **env) -> Server.

    Every server it made is stopped at the end of the test; one that is still running then must
    exit cleanly (code 0, no sanitizer report)."""
    made: list[Server] = []

    def make(backend: str, *, pg: PgCluster | None = None, start: bool = True,
             database_url: str | None = None, **env) -> Server:
        url = database_url or new_database_url(backend, pg)
        srv = Server(backend, url, tmp_path_factory.mktemp(f"own-{backend}"), **env)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in made:
        if srv.running:
            try:
                srv.assert_clean_exit(srv.stop())
            except AssertionError as e:
                errors.append(str(e))
        srv.kill()
    assert not errors, "\n\n".join(errors)


@pytest.fixture
def own_pg_cluster():
    """A dedicated PostgreSQL cluster for tests that stop and restart it."""
    cluster = new_pg_cluster()
    yield cluster
    cluster.destroy()


# --------------------------------------------------------------------------------------------
# HTTP helpers


def auth_headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def call(method: str, server: Server, path: str, *, token: str | None = None,
         timeout: float = TIMEOUT, **kwargs) -> requests.Response:
    """requests.request against server.api + path, with a time-out and an optional token."""
    url = server.api + path
    headers = dict(kwargs.pop("headers", None) or {})
    if token is not None:
        headers.update(auth_headers(token))
    return requests.request(method, url, headers=headers, timeout=timeout, **kwargs)


def assert_error(resp: requests.Response, status: int, code: str) -> dict:
    """Asserts an error response (status, JSON content type, body shape, code); returns the
    `error` object."""
    desc = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:500]!r}"
    assert resp.status_code == status, desc
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        f"Content-Type {resp.headers.get('Content-Type')!r}: {desc}"
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), desc
    err = body["error"]
    assert err.get("code") == code, desc
    assert isinstance(err.get("message"), str) and err["message"], desc
    if "details" in err:
        assert isinstance(err["details"], dict), desc
    return err


def at_once(n: int, prepare, timeout: float = 30) -> list:
    """Races n threads: thread i calls prepare(i), which returns what the thread does at the
    start (a function of no arguments); all start together (a barrier) and their results come
    back in order. An exception in a thread is re-raised here."""
    barrier = threading.Barrier(n)
    out: list = [None] * n
    errors: list = []

    def worker(i: int):
        try:
            go = prepare(i)
            barrier.wait(timeout)
            out[i] = go()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)  # first, so that errors[0] is not a waiter's BrokenBarrierError
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def assert_one_wins(answers: list[requests.Response], code: str) -> tuple[dict, list[dict]]:
    """Asserts that exactly one of answers is a 200 and every other a 409 with error code;
    returns the winner's body and the losers' `error` objects."""
    counts = {}
    for r in answers:
        counts[r.status_code] = counts.get(r.status_code, 0) + 1
    assert counts == {200: 1, 409: len(answers) - 1}, counts
    won = [r for r in answers if r.status_code == 200][0].json()
    return won, [assert_error(r, 409, code) for r in answers if r.status_code == 409]


def register(server: Server, email: str | None = None, password: str = DEFAULT_PASSWORD,
             name: str = "Test User", **extra) -> dict:
    """Registers a new user (unique e-mail unless given); returns the 201 JSON body."""
    body = {"email": email or unique_email(), "password": password, "name": name, **extra}
    r = call("POST", server, "/auth/register", json=body)
    assert r.status_code == 201, f"register -> {r.status_code} {r.text[:500]}"
    return r.json()


def login(server: Server, email: str, password: str = DEFAULT_PASSWORD) -> dict:
    """Logs in; returns the 200 JSON body."""
    r = call("POST", server, "/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, f"login {email} -> {r.status_code} {r.text[:500]}"
    return r.json()


def refresh(server: Server, refresh_token: str) -> requests.Response:
    return call("POST", server, "/auth/refresh", json={"refresh_token": refresh_token})


def admin_tokens(server: Server) -> dict:
    """Logs the bootstrap admin in; returns the login JSON (user, access_token, ...)."""
    return login(server, ADMIN_EMAIL, ADMIN_PASSWORD)


# --------------------------------------------------------------------------------------------
# JWT helpers (no PyJWT)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


_HMAC_ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def forge_jwt(secret, claims: dict, alg: str = "HS256",
              header_overrides: dict | None = None) -> str:
    """Builds a JWT by hand. alg "none" (any case) gives an empty signature."""
    header = {"alg": alg, "typ": "JWT", **(header_overrides or {})}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    if alg.lower() == "none":
        return signing_input + "."
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing_input.encode(), _HMAC_ALGS[alg]).digest()
    return signing_input + "." + b64url(sig)


def jwt_header(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[0]))


def jwt_payload(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


def access_claims(sub: str, sid: str, role: str = "user", **overrides) -> dict:
    """Claims of a valid access token as docs/errors.md describes them."""
    now = int(time.time())
    claims = {"iss": "ticketd", "typ": "access", "sub": sub, "role": role, "sid": sid, "ep": 0,
              "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return claims


RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


# --------------------------------------------------------------------------------------------
# Raw HTTP over a socket, for what requests cannot do (half-sent bodies, slow clients)


class RawResponse:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"RawResponse({self.status}, {self.headers}, {self.body[:300]!r})"


class RawConn:
    """A plain TCP connection to a server, speaking just enough HTTP/1.1."""

    def __init__(self, port: int, timeout: float = TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> bool:
        """Sends all of data; False if the peer has closed or reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_until_answered(self, pieces) -> int:
        """Sends pieces one by one like a careful client: stops early when the server has
        already answered (or closed). Returns the number of bytes sent."""
        sent = 0
        for piece in pieces:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable or not self.send(piece):
                break
            sent += len(piece)
        return sent

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as e:
            raise ConnectionError(f"the server reset the connection; got {self.buf[:300]!r}") \
                from e
        self.buf += chunk
        return bool(chunk)

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError("the server closed the connection without a (complete) "
                                      f"response; got {self.buf[:300]!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed mid-body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self) -> RawResponse:
        """Reads one response; raises ConnectionError if the connection ends first."""
        status_line = self._read_line()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionError(f"bad status line {status_line!r}")
        headers = {}
        while True:
            line = self._read_line()
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while self._read_line():
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return RawResponse(int(parts[1]), headers, body)


def raw_request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    """Serialises an HTTP/1.1 request with a Content-Length body."""
    h = {"Host": "127.0.0.1", "Content-Type": "application/json", **(headers or {})}
    if body or method in ("POST", "PUT", "PATCH"):
        h["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return head.encode() + b"\r\n" + body
