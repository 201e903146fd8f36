"""PostgreSQL failover: what ticketd does when its primary stops being one (turned read-only, a
COMMIT whose outcome is lost with the connection). The sale across real Patroni, Redis Sentinel
and etcd failovers on 3 servers is tests/api/test_ha_sale.py.
"""

import threading
import time
from dataclasses import dataclass

import pytest

from conftest import PgCluster, Server, assert_error, call, register
from booking_helpers import Venue, book, hold


def read_only_reloaded(pg: PgCluster, dbname: str, value: str) -> None:
    """Waits until the postmaster has reloaded default_transaction_read_only = value: a new
    session shows it. The postmaster signals its sessions (SIGHUP) right after it reloads and
    before it starts any new one, and a session applies a pending reload after it reads its next
    command, before running it: from here on every statement of ticketd's sessions sees value.
    A fixed pause instead could end before the postmaster, preempted on a loaded machine, got
    to the reload."""
    deadline = time.monotonic() + 10
    while pg.psql(dbname, "SHOW default_transaction_read_only") != value:
        assert time.monotonic() < deadline, f"the reload to {value} never happened"
        time.sleep(0.05)


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
        read_only_reloaded(pg, dbname, "on")
        r = call("POST", srv, f"/shows/{v.show_id}/holds", token=token,
                 json={"seat_ids": v.ids("A2")})
        assert_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After"), r.headers
    finally:
        pg.psql(dbname, "ALTER SYSTEM RESET default_transaction_read_only")
        pg.psql(dbname, "SELECT pg_reload_conf()")
    read_only_reloaded(pg, dbname, "off")
    hold(srv, token, v.show_id, seat_ids=v.ids("A2"))


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


@dataclass
class CutSale:
    """A ticketd (one worker, no cache) whose PostgreSQL connections pass through a
    CommitCutter, a venue with a show, and a user's token."""
    pg: PgCluster
    proxy: CommitCutter
    srv: Server
    venue: Venue
    token: str
    dbname: str

    def hold(self, seats: list[str], key: str, token: str | None = None):
        return call("POST", self.srv, f"/shows/{self.venue.show_id}/holds",
                    token=token or self.token, json={"seat_ids": seats},
                    headers={"Idempotency-Key": key})

    def sql(self, query: str) -> str:
        return self.pg.psql(self.dbname, query)


@pytest.fixture
def cut_sale(pg_cluster, make_server):
    """Factory: a CutSale on a fresh database; down_for: how long after the cut the proxy
    refuses new connections (no primary yet)."""
    proxies = []

    def make(down_for: float = 0.0) -> CutSale:
        url = pg_cluster.create_database()
        proxy = CommitCutter(pg_cluster.port)
        proxy.down_for = down_for
        proxy.start()
        proxies.append(proxy)
        srv = make_server("postgres",
                          database_url=url.replace(f":{pg_cluster.port}/", f":{proxy.port}/"),
                          WORKERS=1, CACHE="off")
        return CutSale(pg_cluster, proxy, srv, Venue(srv), register(srv)["access_token"],
                       url.rsplit("/", 1)[1])

    yield make
    for proxy in proxies:
        proxy.lsock.close()  # its accept loop ends; the pumps end with their connections


def test_a_hold_retried_after_an_unknown_commit_outcome_is_safe(cut_sale):
    """The hold's COMMIT happens but its answer is lost: ticketd answers 503 (never a 2xx it
    cannot vouch for, never a 500), and the client's retry with the same Idempotency-Key gets
    the seats: exactly one live hold of them exists, the one the retry answered."""
    c = cut_sale()
    srv, v = c.srv, c.venue
    other = register(srv)["access_token"]
    seats = v.ids("C1", "C2")
    c.proxy.armed.set()
    first = c.hold(seats, "retry-after-failover-1")
    assert c.proxy.cut.is_set(), "the COMMIT was not cut"
    assert_error(first, 503, "unavailable")
    assert first.headers.get("Retry-After")
    assert c.sql("SELECT count(*) FROM holds") == "1", "the COMMIT did not happen"
    retry = None
    for _ in range(20):
        retry = c.hold(seats, "retry-after-failover-1")
        assert retry.status_code < 500 or retry.status_code == 503, retry.text
        if retry.status_code not in (503, 409) or "in_progress" not in retry.text:
            break
        time.sleep(0.5)
    print(f"\nretry after the unknown outcome: {retry.status_code} {retry.text[:200]}")
    # The retry answers the hold (the same user's new hold replaces the one whose answer was
    # lost: holds_one_active), with the same seats; never a second live hold of them.
    assert retry.status_code == 201, retry.text
    assert sorted(s["id"] for s in retry.json()["seats"]) == sorted(seats)
    assert c.sql("SELECT count(*) FROM holds WHERE status = 'active'") == "1"
    assert c.sql("SELECT id FROM holds WHERE status = 'active'") == retry.json()["hold_id"]
    # It can be booked, and nobody else can take the seats.
    body = book(srv, c.token, retry.json()["hold_id"])
    assert body["booking"]["status"] == "pending_payment"
    assert call("POST", srv, f"/shows/{v.show_id}/holds", token=other,
                json={"seat_ids": seats}).status_code == 409


def test_a_retry_after_an_unknown_commit_outcome_and_no_primary_is_answered(cut_sale):
    """As above, but no primary answers for a while after the cut (a failover in progress):
    nothing can be written when the 503 is answered. The retry must still get an answer once
    the database is back, not 409 idempotency_in_progress for the key's lifetime (the key's
    row commits only with its answer, in the hold's transaction: http/idempotency.c)."""
    c = cut_sale(down_for=3.0)
    seats = c.venue.ids("C1", "C2")
    c.proxy.armed.set()
    first = c.hold(seats, "retry-after-failover-2")
    assert_error(first, 503, "unavailable")
    deadline = time.monotonic() + 20
    retry = None
    while time.monotonic() < deadline:
        retry = c.hold(seats, "retry-after-failover-2")
        assert retry.status_code < 500 or retry.status_code == 503, retry.text
        if retry.status_code == 201:
            break
        time.sleep(0.5)
    assert retry.status_code == 201, retry.text


def test_the_key_commits_with_the_hold_so_a_retry_replays_the_hold_that_committed(cut_sale):
    """The Idempotency-Key's row and answer are written in the hold's transaction: when the
    COMMIT happens but its answer is lost, the key holds the 201 of the hold that committed.
    The retry replays exactly that hold (not a new one replacing it), and the same key with
    another body is refused as reused, with nothing changed."""
    c = cut_sale()
    seats = c.venue.ids("C1", "C2")
    key = "committed-with-the-hold"
    c.proxy.armed.set()
    first = c.hold(seats, key)
    assert c.proxy.cut.is_set(), "the COMMIT was not cut"
    assert_error(first, 503, "unavailable")
    committed = c.sql("SELECT id FROM holds WHERE status = 'active'")
    assert committed.startswith("hld"), committed
    assert c.sql(f"SELECT status FROM idempotency_keys WHERE idem_key = '{key}'") == "201"
    retry = c.hold(seats, key)
    assert retry.status_code == 201, retry.text
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["hold_id"] == committed
    assert sorted(s["id"] for s in retry.json()["seats"]) == sorted(seats)
    again = c.hold(seats, key)
    assert (again.status_code, again.json()) == (201, retry.json())
    # The same key for another request: refused, and the committed hold is left as it was.
    assert_error(c.hold(c.venue.ids("C3"), key), 422, "idempotency_key_reused")
    assert c.sql("SELECT id FROM holds WHERE status = 'active'") == committed
    assert c.sql("SELECT count(*) FROM holds") == "1"


# --------------------------------------------------------------------------------------------
# A claimed Idempotency-Key whose 5xx could not be recorded


def test_a_key_claimed_when_the_database_went_away_is_released_after_its_lease(own_pg_cluster,
                                                                               make_server):
    """Routes other than holds claim their Idempotency-Key before the work, in a write of its
    own (http/idempotency.c). When PostgreSQL goes away in the middle of the work, the 503 is
    answered but the claim cannot be dropped: the key's row stays "in progress". Once the
    database is back, the client's retry must get its booking within IDEMPOTENCY_LEASE, not
    409 idempotency_in_progress for the key's 24 hours."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, WORKERS=1, CACHE="off", IDEMPOTENCY_LEASE="2s")
    v = Venue(srv)
    token = register(srv)["access_token"]
    h = hold(srv, token, v.show_id, seat_ids=v.ids("D1", "D2"))
    dbname = srv.database_url.rsplit("/", 1)[1]
    headers = {"Idempotency-Key": "claimed-then-database-lost"}
    answers: list = []

    def attempt():
        answers.append(call("POST", srv, "/bookings", token=token,
                            json={"hold_id": h["hold_id"]}, headers=headers))

    locker = pg.session(dbname)
    try:
        pg.lock_table(locker, dbname, "holds")  # the booking's work waits after the claim
        t = threading.Thread(target=attempt)
        t.start()
        deadline = time.monotonic() + 10
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND client_addr IS NOT NULL")
        while pg.psql(dbname, waiting) != "1":
            assert time.monotonic() < deadline, "the booking never waited for the lock"
            time.sleep(0.05)
        assert pg.psql(dbname, "SELECT status FROM idempotency_keys") == "0", "not claimed"
        pg.stop("immediate")  # the work's connection dies, no reconnect, nothing recorded
        t.join(30)
        assert not t.is_alive(), "the request hung"
        assert len(answers) == 1
        assert_error(answers[0], 503, "unavailable")
    finally:
        pg.start()
        locker.stdin.close()
        locker.wait(10)
    assert pg.psql(dbname, "SELECT status FROM idempotency_keys") == "0", \
        "the claim was dropped after all: the test no longer covers a lost 5xx"

    deadline = time.monotonic() + 20
    retry = None
    while time.monotonic() < deadline:
        retry = call("POST", srv, "/bookings", token=token, json={"hold_id": h["hold_id"]},
                     headers=headers)
        assert retry.status_code in (201, 409, 503), retry.text
        if retry.status_code == 201:
            break
        if retry.status_code == 409:
            assert_error(retry, 409, "idempotency_in_progress")
        time.sleep(0.5)
    assert retry.status_code == 201, f"the key stayed claimed: {retry.text}"
    assert retry.headers.get("Idempotent-Replayed") is None
    again = call("POST", srv, "/bookings", token=token, json={"hold_id": h["hold_id"]},
                 headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == retry.json()
    assert pg.psql(dbname, "SELECT count(*) FROM bookings") == "1"
