"""
The highly available deployment under a sale (issue 14): 3 ticketd servers on scripts/ha.sh's
set (3 etcd members, 3 PostgreSQL nodes under Patroni with synchronous_mode, Redis with one
primary, two replicas and three sentinels). The sale goes on while, in turn, the PostgreSQL
primary's machine (its Patroni and postgres) is SIGKILLed, then the Redis primary, then the etcd
leader. Afterwards no seat is sold twice, every booking a client was told is confirmed is still
confirmed, every payment whose confirm was answered is kept or refunded exactly once; each kill
is followed by a successful hold, and the time from the kill to the first one is printed.

And a partition of the primary: its machine is frozen with SIGSTOP while a replica is promoted;
when it thaws (postgres first, its Patroni a moment later: the worst order) it must not
acknowledge a write, and it comes back as a replica that refuses writes. No two primaries ever
accept writes.

Both run on the release build only (conftest.release_only) and need patroni, etcd and
redis-sentinel (scripts/deps.sh test). Bigger runs: bench/failover.sh sets TIX_HA_ROUNDS (PG and
Redis failovers, the lost PG node rejoining between rounds) and TIX_HA_TIMES (a file the test
appends one JSON line of times to).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from booking_helpers import Venue, hold
from conftest import call, register, release_only
from ha_helpers import HA_MISSING, Buyer, HaSet, audit_sale, first_hold_after, holds_after

pytestmark = [
    release_only,
    pytest.mark.skipif(bool(HA_MISSING), reason=f"{', '.join(HA_MISSING)} not installed "
                       "(scripts/deps.sh test installs patroni, etcd-server and redis-sentinel)"),
]

ROUNDS = int(os.environ.get("TIX_HA_ROUNDS") or 1)
HOLDS_AFTER_KILL = 5  # successful holds sent after a kill before the next kill


@pytest.fixture(scope="module")
def ha_set():
    ha = HaSet(ttl=10)
    try:
        yield ha.start()
    finally:
        ha.destroy()


class Failover(threading.Thread):
    """Runs one ha.sh failover command and notes, on the monotonic clock, the moment it says
    it has sent SIGKILL (a line starting with `marker`; with epoch=True the line ends with the
    wall-clock time the kill was sent)."""

    def __init__(self, ha: HaSet, args: list[str], marker: str, epoch: bool, rejoin: bool):
        super().__init__(daemon=True)
        ha.env["HA_REJOIN"] = "yes" if rejoin else "no"
        self.proc = ha.popen(*args)
        self.marker, self.epoch = marker, epoch
        self.killed_at: float | None = None
        self.out: list[str] = []
        self.start()

    def run(self) -> None:
        for ln in self.proc.stdout:
            self.out.append(ln)
            if ln.startswith(self.marker) and self.killed_at is None:
                now = time.monotonic()
                self.killed_at = (now - (time.time() - float(ln.split()[-1])) if self.epoch
                                  else now)

    def wait_kill(self, timeout: float = 90) -> float:
        deadline = time.monotonic() + timeout
        while self.killed_at is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        self.join(1)
        assert self.killed_at is not None, "no kill: " + "".join(self.out)
        return self.killed_at

    def finish(self, timeout: float) -> None:
        assert self.proc.wait(timeout) == 0, "".join(self.out)
        self.join(10)


def sale_goes_on(buyers: list[Buyer], t_kill: float, what: str, limit: float = 90) -> float:
    """Waits until HOLDS_AFTER_KILL holds sent after the kill succeeded; the seconds from the
    kill to the first."""
    deadline = t_kill + limit
    while time.monotonic() < deadline and holds_after(buyers, t_kill) < HOLDS_AFTER_KILL:
        errors = [e for b in buyers for e in b.errors]
        assert not errors, errors[:10]
        time.sleep(0.2)
    first = first_hold_after(buyers, t_kill)
    assert first is not None, f"no hold succeeded within {limit} s of the {what} kill"
    return first


def test_a_frozen_primary_never_accepts_a_write_beside_the_new_one(ha_set):
    """SIGSTOP of the primary's machine (Patroni, postmaster, backends): a partition as seen by
    the others. A replica is promoted once the leader key expires; writes go there. Then the
    old primary thaws, postgres first and its Patroni 2 s later, while a client writes to it
    directly again and again: synchronous_mode keeps every COMMIT there waiting for a standby
    that follows someone else, so none is acknowledged, and Patroni demotes it to a replica of
    the new primary that refuses writes (read-only, 25006)."""
    ha = ha_set
    # A leader and a streaming synchronous standby. (Runs before the sale test, which leaves
    # one PostgreSQL node and one etcd member down.)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        old = ha.leader()
        if old and ha.psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
                           port=ha.pg_port(old), db="postgres").stdout.strip() == "1":
            break
        time.sleep(0.5)
    else:
        raise AssertionError("no leader with a synchronous standby:\n" + ha.run("status"))
    p = ha.psql("CREATE TABLE IF NOT EXISTS partition_probe (who text NOT NULL, n int NOT NULL)")
    assert p.returncode == 0, p.stderr
    old_port = ha.pg_port(old)
    pids = ha.node_pids(old)
    patroni, pg_pids = pids[0], pids[1:]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    acked: list[str] = []
    try:
        t_stop = time.monotonic()
        new = None
        while new is None and time.monotonic() < t_stop + ha.ttl * 3 + 30:
            for node in (1, 2, 3):
                if node != old and ha.node_is_primary(node):
                    new = node
            time.sleep(0.2)
        assert new is not None, "no replica was promoted while the primary was frozen"
        promoted_after = time.monotonic() - t_stop
        p = ha.psql("INSERT INTO partition_probe VALUES ('new', 1)", port=ha.pg_port(new))
        assert p.returncode == 0, p.stderr

        # Thaw postgres alone: for 2 s it runs as a primary whose Patroni sleeps.
        for pid in pg_pids:
            os.kill(pid, signal.SIGCONT)
        stop = threading.Event()
        attempts = {"n": 0, "refused": 0, "no_answer": 0}
        refusals: set[str] = set()  # the distinct first lines of psql's errors

        def writer():
            n = 0
            while not stop.is_set():
                n += 1
                attempts["n"] += 1
                try:
                    w = ha.psql(f"INSERT INTO partition_probe VALUES ('old', {n})",
                                port=old_port, timeout=4)
                except Exception:  # noqa: BLE001 - timed out: the COMMIT waits, unanswered
                    attempts["no_answer"] += 1
                    continue
                if w.returncode == 0:
                    acked.append(f"write {n} acknowledged by the old primary: {w.stdout!r}")
                else:
                    attempts["refused"] += 1
                    refusals.add((w.stderr.strip().splitlines() or [""])[0][:120])
                    time.sleep(0.2)

        threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        os.kill(patroni, signal.SIGCONT)
        patroni = 0
        # Patroni finds the leader key taken and demotes its postgres (stops it, rewinds it,
        # starts it as a replica of the new primary). The writers go on until it is seen to be
        # no primary: the window in which two primaries could have accepted writes is over.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ha.node_is_primary(old) is True:
            time.sleep(0.2)
        demoted = ha.node_is_primary(old) is not True
        stop.set()
        for t in threads:
            t.join(10)
        assert demoted, (f"the thawed old primary pg{old} was not demoted (pg{new} was promoted):\n"
                         + ha.run("status") + ha.patroni_log_tails())
    finally:
        for pid in pids:  # never leave a stopped process behind
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert not acked, acked[:5]
    # The set settles with one primary, the others replicas refusing writes (on a loaded
    # machine Patroni may later elect the old node again, after it rejoined: that is legal).
    deadline = time.monotonic() + 150
    settled = 0
    while time.monotonic() < deadline and settled < 3:
        roles = {n: ha.node_is_primary(n) for n in (1, 2, 3)}
        ok = sorted(roles.values(), key=str) == [False, False, True]
        settled = settled + 1 if ok else 0
        time.sleep(1)
    assert settled >= 3, f"no single primary with two replicas: {roles}\n" + ha.run("status")
    for n, primary in roles.items():
        if not primary:
            w = ha.psql("INSERT INTO partition_probe VALUES ('replica', -1)", port=ha.pg_port(n))
            assert w.returncode != 0 and "read-only" in w.stderr, (n, w.returncode, w.stderr)
    # The primary has the write made on the promoted node and none of the old one's.
    rows = ha.rows("SELECT who, count(*) FROM partition_probe GROUP BY who ORDER BY who")
    assert rows == [["new", "1"]], rows
    print(f"\npartition: promoted after {promoted_after:.2f} s; writes tried on the thawed old "
          f"primary {attempts['n']}: acknowledged 0, refused {attempts['refused']}, "
          f"unanswered {attempts['no_answer']}; errors: {sorted(refusals)}")


def test_sale_on_three_servers_survives_pg_redis_and_etcd_kills(ha_set, make_server):
    ha = ha_set
    env = {"REDIS_URL": ha.redis_url, "CACHE_TIMEOUT": "200ms", "WORKERS": "2"}
    servers = [make_server("postgres", database_url=ha.database_url, **env) for _ in range(3)]
    layout = {"rows": [{"label": chr(65 + r // 26) + chr(65 + r % 26), "seats": 25, "category": "regular"}
                       for r in range(16 * ROUNDS)]}
    v = Venue(servers[0], layout=layout, prices={"regular": 15000})
    seat_ids = [s["id"] for s in v.by_label.values()]
    tokens = [register(servers[i % 3])["access_token"] for i in range(6)]
    stop = threading.Event()
    buyers = [Buyer(servers[i % 3:] + servers[:i % 3], t, v.show_id, seat_ids, stop, i)
              for i, t in enumerate(tokens)]
    for b in buyers:
        b.start()
    times: dict[str, list[float]] = {"pg": [], "redis": [], "etcd": []}
    try:
        deadline = time.monotonic() + 30
        while holds_after(buyers, 0) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert holds_after(buyers, 0) >= 10, "the sale did not start"
        for rnd in range(ROUNDS):
            # PostgreSQL: the primary's machine is lost (Patroni and postgres, SIGKILL). The
            # lost node rejoins only when another round needs three nodes again.
            fo = Failover(ha, ["failover-pg", "node"], "ha: killed ", epoch=True,
                          rejoin=rnd + 1 < ROUNDS)
            t_kill = fo.wait_kill()
            times["pg"].append(sale_goes_on(buyers, t_kill, "PostgreSQL"))
            fo.finish(240)
            # Redis: the primary is SIGKILLed; the sentinels promote a replica (the lost node
            # rejoins as a replica when another round follows).
            fo = Failover(ha, ["failover-redis"], "ha: killed the primary", epoch=False,
                          rejoin=rnd + 1 < ROUNDS)
            t_kill = fo.wait_kill()
            times["redis"].append(sale_goes_on(buyers, t_kill, "Redis"))
            fo.finish(240)
        # etcd: the raft leader is SIGKILLed; two members keep the quorum, Patroni its leader.
        member = ha.etcd_leader()
        ha.kill_etcd(member)
        t_kill = time.monotonic()
        times["etcd"].append(sale_goes_on(buyers, t_kill, "etcd"))
        time.sleep(2 * 2 + 1)  # two Patroni loops (loop_wait 2 s) on the remaining members
        assert ha.leader() is not None, "Patroni lost its leader with one etcd member down"
    finally:
        stop.set()
        for b in buyers:
            b.join(60)

    errors = [e for b in buyers for e in b.errors]
    assert not errors, errors[:10]
    facts = audit_sale(ha, v.show_id, buyers)
    assert facts["told_confirmed"] > 0, facts
    # The servers still sell: a free seat is held through each of them.
    r = call("GET", servers[0], f"/shows/{v.show_id}/seats")
    assert r.status_code == 200, r.text
    free = [s["id"] for s in r.json()["seats"] if s["status"] == "available"]
    for srv, seat in zip(servers, free):
        hold(srv, register(srv)["access_token"], v.show_id, seat_ids=[seat])
    facts.update(unavailable=sum(b.unavailable for b in buyers),
                 keys_stuck=sum(len(b.stuck) for b in buyers))
    print("\nkill -> first successful hold (s): " +
          "; ".join(f"{k} {', '.join(f'{t:.2f}' for t in ts)}" for k, ts in times.items()) +
          f"\n{facts}")
    if os.environ.get("TIX_HA_TIMES"):
        with open(os.environ["TIX_HA_TIMES"], "a") as f:
            f.write(json.dumps({"times": times, "facts": facts, "ttl": ha.ttl}) + "\n")
