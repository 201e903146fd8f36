"""PostgreSQL failover: what ticketd does when its primary stops being one, and a sale across a
real Patroni failover (scripts/ha.sh: 3 etcd members, 3 PostgreSQL nodes, synchronous_mode).

The Patroni test needs patroni and etcd (scripts/deps.sh test installs them); without them it is
skipped with the reason. It prints the time from the SIGKILL of the primary to the first
successful hold after it.
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import assert_error, call, register, release_only
from booking_helpers import Venue, book, hold

REPO = Path(__file__).resolve().parents[2]
HA = REPO / "scripts" / "ha.sh"


def test_a_primary_turned_read_only_answers_503_and_is_left(own_pg_cluster, make_server):
    """A session whose server no longer takes writes (SQLSTATE 25006, as on a demoted primary or
    a standby) is a failover seen from inside: 503 with Retry-After, never a 500, and the
    connection is replaced so that libpq's target_session_attrs=read-write finds the primary."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=1, CACHE="off")
    v = Venue(srv)
    token = register(srv)["access_token"]
    hold(srv, token, v.show_id, seat_ids=v.ids("A1"))  # the worker's connection is open
    dbname = srv.database_url.rsplit("/", 1)[1]
    pg.psql(dbname, "ALTER SYSTEM SET default_transaction_read_only = on")
    pg.psql(dbname, "SELECT pg_reload_conf()")
    try:
        time.sleep(0.5)  # the reload reaches the sessions
        r = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                 json={"seat_ids": v.ids("A2")})
        assert_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After"), r.headers
    finally:
        pg.psql(dbname, "ALTER SYSTEM RESET default_transaction_read_only")
        pg.psql(dbname, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    hold(srv, token, v.show_id, seat_ids=v.ids("A2"))


# --------------------------------------------------------------------------------------------
# A sale across a Patroni failover

HA_MISSING = [t for t in ("patroni", "etcd") if shutil.which(t) is None]
SALE_LAYOUT = {"rows": [{"label": lbl, "seats": 20, "category": "regular"} for lbl in "ABCDEFGHIJKL"]}
SALE_PRICES = {"regular": 15000}


def ha(ha_dir: Path, *args: str, timeout: float = 240) -> str:
    env = dict(os.environ, HA_DIR=str(ha_dir), HA_TTL="10")
    p = subprocess.run([str(HA), *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"ha.sh {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture
def ha_set():
    """scripts/ha.sh's set in a directory of its own (which the postgres user can reach: not
    under pytest's private tmp_path); stopped (by its pids) and removed at the end."""
    ha_dir = Path(tempfile.mkdtemp(prefix="ticketd-ha-test-"))
    ha_dir.chmod(0o755)
    try:
        url = ha(ha_dir, "start").strip().splitlines()[-1]
        assert url.startswith("postgres://") and "target_session_attrs=read-write" in url, url
        yield ha_dir, url
    finally:
        subprocess.run([str(HA), "destroy"], env=dict(os.environ, HA_DIR=str(ha_dir)),
                       capture_output=True, timeout=120)


class Buyer(threading.Thread):
    """Buys 1-2 random seats again and again on its servers (in turn) until told to stop:
    hold, booking, test payment, confirm. Every POST carries an Idempotency-Key and is retried
    with the same key and body while the answer is 503 (or the key is still in progress, or the
    connection failed): the client of a failover. Records what it was told."""

    def __init__(self, servers, token, show_id, seat_ids, stop, rnd_seed):
        super().__init__(daemon=True)
        import random
        self.rnd = random.Random(rnd_seed)
        self.servers, self.token, self.show_id = servers, token, show_id
        self.seat_ids, self.stop = seat_ids, stop
        self.n = 0
        self.confirmed: dict[str, list[str]] = {}  # booking id -> seat ids, told "confirmed"
        self.hold_times: list[tuple[float, float]] = []  # (sent, answered 201), monotonic
        self.errors: list[str] = []
        self.stuck: list[str] = []  # requests whose key stayed "in progress"
        self.unavailable = 0

    def post(self, path, body, *, key=None, method="POST"):
        import requests
        key = key or uuid.uuid4().hex
        sent = time.monotonic()
        while not self.stop.is_set() or time.monotonic() - sent < 30:
            srv = self.servers[self.n % len(self.servers)]
            self.n += 1
            try:
                r = requests.request(method, srv.api + path, json=body, timeout=15,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Idempotency-Key": key})
            except requests.RequestException:
                time.sleep(0.2)
                continue
            if r.status_code >= 500 and r.status_code != 503:
                self.errors.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
                return r, sent
            if r.status_code == 503:
                assert r.headers.get("Retry-After"), r.headers
                self.unavailable += 1
                if time.monotonic() - sent > 60:
                    self.errors.append(f"{method} {path}: still 503 after 60 s")
                    return r, sent
                time.sleep(0.2)
                continue
            if r.status_code == 409 and "idempotency_in_progress" in r.text:
                # The known gap (test_a_retry_after_an_unknown_commit_outcome_and_no_primary_is_
                # answered): a key whose request died with the primary stays claimed. The
                # client gives up on it; what it did (or not) is checked below all the same.
                if time.monotonic() - sent > 15:
                    self.stuck.append(f"{method} {path}")
                    return r, sent
                time.sleep(0.2)
                continue
            return r, sent
        return None, sent

    def buy_once(self):
        seats = self.rnd.sample(self.seat_ids, self.rnd.choice((1, 2)))
        r, sent = self.post(f"/shows/{self.show_id}/holds", {"seat_ids": seats})
        if r is None or r.status_code != 201:
            return
        self.hold_times.append((sent, time.monotonic()))
        r, _ = self.post("/bookings", {"hold_id": r.json()["hold_id"]})
        if r is None or r.status_code != 201:
            return
        b = r.json()["booking"]
        r, _ = self.post(f"/payments/test/{b['order_id']}/pay", None)
        if r is None or r.status_code != 200:
            return
        r, _ = self.post(f"/bookings/{b['id']}/confirm", r.json())
        if r is not None and r.status_code == 200 and r.json()["status"] == "confirmed":
            self.confirmed[b["id"]] = sorted(s["id"] for s in r.json()["seats"])

    def run(self):
        while not self.stop.is_set():
            try:
                self.buy_once()
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return


def all_bookings(srv, token) -> list[dict]:
    out, cursor = [], None
    while True:
        r = call("GET", srv, "/bookings?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                 token=token)
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return out


@release_only
@pytest.mark.skipif(bool(HA_MISSING), reason=f"{' and '.join(HA_MISSING)} not installed "
                    "(scripts/deps.sh test installs patroni and etcd-server)")
def test_sale_survives_a_patroni_failover(ha_set, make_server):
    """A sale on two ticketd servers; the Patroni primary is SIGKILLed (with its Patroni, as
    when its machine is lost) mid-sale. No seat sold twice, every booking a client was told is
    confirmed is still confirmed after the failover, holds succeed again on the new primary."""
    ha_dir, url = ha_set
    s1 = make_server("postgres", database_url=url, WORKERS=4, CACHE="off")
    s2 = make_server("postgres", database_url=url, WORKERS=4, CACHE="off")
    v = Venue(s1, layout=SALE_LAYOUT, prices=SALE_PRICES)
    seat_ids = [s["id"] for s in v.by_label.values()]
    tokens = [register(s1)["access_token"] for _ in range(6)]
    stop = threading.Event()
    buyers = [Buyer([s1, s2] if i % 2 else [s2, s1], t, v.show_id, seat_ids, stop, i)
              for i, t in enumerate(tokens)]
    for b in buyers:
        b.start()
    time.sleep(3)  # the sale is under way
    killed: dict = {}
    # ha.sh failover-pg prints "killed pg<i> (node) at <epoch>" the moment it has sent SIGKILL.
    env = dict(os.environ, HA_DIR=str(ha_dir), HA_TTL="10", HA_REJOIN="no")
    fo = subprocess.Popen([str(HA), "failover-pg", "node"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)

    def follow():
        lines = []
        for ln in fo.stdout:
            lines.append(ln)
            if ln.startswith("ha: killed "):
                killed["at"] = time.monotonic() - (time.time() - float(ln.split()[-1]))
        killed["out"] = "".join(lines)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    deadline = time.monotonic() + 90
    while "at" not in killed and time.monotonic() < deadline and fo.poll() is None:
        time.sleep(0.05)
    assert "at" in killed, "ha.sh failover-pg did not kill the primary"
    t_kill = killed["at"]
    # The sale goes on until 10 holds sent after the kill have succeeded (or 60 s).
    while time.monotonic() < t_kill + 60:
        if len([a for b in buyers for (s, a) in b.hold_times if s > t_kill]) >= 10:
            break
        time.sleep(0.2)
    stop.set()
    for b in buyers:
        b.join(60)
    assert fo.wait(150) == 0, killed.get("out")
    reader.join(10)

    errors = [e for b in buyers for e in b.errors]
    assert not errors, errors[:10]
    after = sorted(a for b in buyers for (s, a) in b.hold_times if s > t_kill)
    assert after, "no hold succeeded after the failover"
    before = [a for b in buyers for (s, a) in b.hold_times if a < t_kill]
    assert before, "the sale had not started before the kill"
    failover_s = [ln for ln in killed["out"].splitlines() if ln.startswith("failover-pg:")]
    print(f"\nfailover: kill -> first successful hold {after[0] - t_kill:.2f} s "
          f"(ha.sh: {failover_s}); 503s answered: {sum(b.unavailable for b in buyers)}; "
          f"confirmed bookings: {sum(len(b.confirmed) for b in buyers)}; "
          f"keys left in progress: {sum(len(b.stuck) for b in buyers)}")

    # Every confirmed booking the clients were told of is still confirmed, with its seats.
    told = {bid: (b, seats) for b in buyers for bid, seats in b.confirmed.items()}
    assert told, "no booking was confirmed"
    for bid, (b, seats) in told.items():
        r = call("GET", s2, f"/bookings/{bid}", token=b.token)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "confirmed", r.json()
        assert sorted(s["id"] for s in r.json()["seats"]) == seats
    # No seat in two confirmed bookings, counting those whose answer the client never got.
    sold: dict[str, str] = {}
    for b in buyers:
        for bk in all_bookings(s1, b.token):
            if bk["status"] == "confirmed":
                for s in bk["seats"]:
                    assert s["id"] not in sold, f"seat {s['id']} sold twice: {sold[s['id']]}, {bk['id']}"
                    sold[s["id"]] = bk["id"]
    assert set(sold) >= {s for _, seats in told.values() for s in seats}
    # The seat map agrees: every seat of a confirmed booking is booked.
    r = call("GET", s1, f"/shows/{v.show_id}/seats")
    assert r.status_code == 200, r.text
    booked = {s["id"] for s in r.json()["seats"] if s["status"] == "booked"}
    assert booked >= set(sold)
    # And holds work again (when the sale left a seat).
    free = [s["id"] for s in r.json()["seats"] if s["status"] == "available"]
    if free:
        hold(s1, tokens[0], v.show_id, seat_ids=free[:1])


# --------------------------------------------------------------------------------------------
# A COMMIT whose outcome the server never learns


class CommitCutter(threading.Thread):
    """A TCP proxy to PostgreSQL that, once armed, forwards the first COMMIT sent after a hold's
    INSERT on the same connection, lets the server carry it out, then cuts that connection before the answer reaches
    ticketd: the commit happened, ticketd cannot know (as when the primary dies right after a
    commit that its synchronous standby already has)."""

    def __init__(self, target_port: int):
        super().__init__(daemon=True)
        import socket
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.armed = threading.Event()
        self.cut = threading.Event()
        self.down_for = 0.0  # after the cut, new connections are refused for this long
        self.down_until = 0.0

    def run(self):
        import socket
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                c.close()  # no primary yet
                continue
            s = socket.create_connection(("127.0.0.1", self.target))
            muted = threading.Event()  # set: nothing more reaches ticketd on this connection
            threading.Thread(target=self.pump, args=(c, s, True, muted), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, False, muted), daemon=True).start()

    def pump(self, src, dst, from_client, muted):
        hold_sent = False  # this connection sent the hold's INSERT (its text, or its Parse)
        try:
            while True:
                data = src.recv(65536)
                if not data or (not from_client and muted.is_set()):
                    break
                hold_sent = hold_sent or (self.armed.is_set() and b"INSERT INTO holds" in data)
                cut = from_client and hold_sent and not self.cut.is_set() and b"COMMIT" in data
                if cut:
                    muted.set()
                    self.down_until = time.monotonic() + self.down_for
                    self.cut.set()
                dst.sendall(data)
                if cut:
                    time.sleep(0.5)  # the server commits; its answer is never relayed
                    break
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.close()
            except OSError:
                pass


def test_a_hold_retried_after_an_unknown_commit_outcome_is_safe(pg_cluster, make_server):
    """The hold's COMMIT happens but its answer is lost: ticketd answers 503 (never a 2xx it
    cannot vouch for, never a 500), and the client's retry with the same Idempotency-Key gets
    the seats: exactly one live hold of them exists, the one the retry answered."""
    pg = pg_cluster
    url = pg.create_database()
    proxy = CommitCutter(pg.port)
    proxy.start()
    srv = make_server("postgres", database_url=url.replace(f":{pg.port}/", f":{proxy.port}/"),
                      WORKERS=1, CACHE="off")
    v = Venue(srv)
    token = register(srv)["access_token"]
    other = register(srv)["access_token"]
    seats = v.ids("C1", "C2")
    headers = {"Idempotency-Key": "retry-after-failover-1"}
    proxy.armed.set()
    first = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                 json={"seat_ids": seats}, headers=headers)
    assert proxy.cut.is_set(), "the COMMIT was not cut"
    assert_error(first, 503, "unavailable")
    assert first.headers.get("Retry-After")
    dbname = url.rsplit("/", 1)[1]
    assert pg.psql(dbname, "SELECT count(*) FROM holds") == "1", "the COMMIT did not happen"
    retry = None
    for _ in range(20):
        retry = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                     json={"seat_ids": seats}, headers=headers)
        assert retry.status_code < 500 or retry.status_code == 503, retry.text
        if retry.status_code not in (503, 409) or "in_progress" not in retry.text:
            break
        time.sleep(0.5)
    print(f"\nretry after the unknown outcome: {retry.status_code} {retry.text[:200]}")
    # The retry answers the hold (the same user's new hold replaces the one whose answer was
    # lost: holds_one_active), with the same seats; never a second live hold of them.
    assert retry.status_code == 201, retry.text
    assert sorted(s["id"] for s in retry.json()["seats"]) == sorted(seats)
    assert pg.psql(dbname, "SELECT count(*) FROM holds WHERE status = 'active'") == "1"
    assert pg.psql(dbname, "SELECT id FROM holds WHERE status = 'active'") == \
        retry.json()["hold_id"]
    # It can be booked, and nobody else can take the seats.
    body = book(srv, token, retry.json()["hold_id"])
    assert body["booking"]["status"] == "pending_payment"
    assert call("POST", srv, f"/shows/{v.show_id}/holds", token=other,
                json={"seat_ids": seats}).status_code == 409


@pytest.mark.xfail(strict=True, reason="known gap: when the database is still unreachable as the "
                   "503 is answered, the Idempotency-Key's claim cannot be released and stays "
                   "'in progress' (409) until it is 24 h old (http/idempotency.c)")
def test_a_retry_after_an_unknown_commit_outcome_and_no_primary_is_answered(pg_cluster,
                                                                             make_server):
    """As above, but no primary answers for a while after the cut (a failover in progress):
    the key's claim cannot be released then. The retry must still get an answer once the
    database is back, not 409 idempotency_in_progress for the key's lifetime."""
    pg = pg_cluster
    url = pg.create_database()
    proxy = CommitCutter(pg.port)
    proxy.down_for = 3.0
    proxy.start()
    srv = make_server("postgres", database_url=url.replace(f":{pg.port}/", f":{proxy.port}/"),
                      WORKERS=1, CACHE="off")
    v = Venue(srv)
    token = register(srv)["access_token"]
    seats = v.ids("C1", "C2")
    headers = {"Idempotency-Key": "retry-after-failover-2"}
    proxy.armed.set()
    first = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                 json={"seat_ids": seats}, headers=headers)
    assert_error(first, 503, "unavailable")
    deadline = time.monotonic() + 20
    retry = None
    while time.monotonic() < deadline:
        retry = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                     json={"seat_ids": seats}, headers=headers)
        assert retry.status_code < 500 or retry.status_code == 503, retry.text
        if retry.status_code == 201:
            break
        time.sleep(0.5)
    assert retry.status_code == 201, retry.text
