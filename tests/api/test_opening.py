"""Opening night, small: bench/opening.py's stampede and audit on a 3-server cluster.

100 users rush one 40-seat show at once (the same middle seats, best available), through nginx
and straight to each server; those with a hold pay (some double-click "book", pay twice, send
the confirmation twice at once, cancel afterwards, or pay after the hold expired), abandon,
release or never pay. The audit then checks the end state from PostgreSQL and through every
server's API: no seat sold twice, every confirmed booking has exactly its tickets, every payment
kept by one confirmed booking or refunded once, no live hold on a sold seat, every server's seat
map equal to the database, sold + held + available = capacity, and not one 5xx or hang.

The last tests break the database on purpose, one invariant at a time, and check the audit
notices, so a silent audit cannot pass for a clean run. No timing is asserted anywhere.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from booking_helpers import Venue, make_users, session_for
from cluster_helpers import running_cluster
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REPO, scale_release_only

sys.path.insert(0, str(REPO / "bench"))
import opening  # noqa: E402  (bench/opening.py: the driver and the audit)

P = opening.Params.tiny()


pytestmark = scale_release_only


@pytest.fixture(scope="module")
def cluster(ticketd_bin):
    with running_cluster(3, RATE_LIMIT="off", HOLD_TTL=f"{int(P.hold_ttl)}s",
                         JOB_INTERVAL_EXPIRE="2s") as c:
        yield c


@pytest.fixture(scope="module")
def night(cluster):
    info = opening.ClusterInfo.from_state(str(cluster.dir / "cluster.env"))
    text, violations, audit, stampede = asyncio.run(
        opening.opening(info, P, ADMIN_EMAIL, ADMIN_PASSWORD))
    print("\n" + text)
    return info, violations, audit, stampede


def reaudit(night) -> list[str]:
    """The audit again, on the database as it is now (no wait for hold expiry)."""
    _, _, audit, _ = night
    again = opening.Audit(audit.info, audit.p, opening.Client(), audit.ctx, audit.ledger)
    return asyncio.run(again.run(wait_for_expiry=False))


def confirmed_booking(night) -> tuple[str, list[str]]:
    info, _, audit, _ = night
    rows = info.psql(f"SELECT id FROM bookings WHERE show_id = '{audit.show}' AND"
                     " status = 'confirmed' ORDER BY id LIMIT 1")
    assert rows, "no confirmed booking"
    bid = rows[0][0]
    seats = [r[0] for r in info.psql(f"SELECT seat_id FROM booking_seats WHERE booking_id = "
                                     f"'{bid}' ORDER BY seat_id")]
    return bid, seats


# --------------------------------------------------------------------------------------------


def test_the_stampede_keeps_every_invariant(night):
    _, violations, _, _ = night
    assert violations == [], f"{len(violations)} violations:\n" + "\n".join(violations[:40])


def test_the_stampede_went_down_every_path(night):
    """The invariants were tested on real contention, sales and refunds, not on an idle show."""
    _, _, audit, stampede = night
    samples = audit.client.samples
    holds = [s for s in stampede.client.samples if s.step == "hold"]
    assert any(s.status == 201 for s in holds) and any(s.status == 409 for s in holds)
    statuses = audit.facts["db_bookings"]
    assert statuses["confirmed"] > 0, statuses
    assert audit.facts["refunds"] > 0, audit.facts
    assert audit.facts["payments_sent"] > 0
    assert samples is not None
    assert audit.facts["strict"]["held"] == 0, audit.facts
    assert audit.facts["sales"]["seats"] == audit.facts["strict"]["sold"], audit.facts


def test_a_stampede_over_two_driver_processes_merges_into_one_audit(cluster):
    """--procs 2: the users split over two forked processes (each its own event loop), the
    start instant and the sold-out stop shared, samples and ledgers merged back for the same
    strict audit (a new show on the same cluster). The lag probe ran in both loops, and the
    report matched the requests to nginx's access-log lines by their X-Request-Id."""
    info = opening.ClusterInfo.from_state(str(cluster.dir / "cluster.env"))
    text, violations, audit, stampede = opening.night(info, P, ADMIN_EMAIL, ADMIN_PASSWORD,
                                                      procs=2, wait_for_expiry=False)
    print("\n" + text)
    assert violations == [], f"{len(violations)} violations:\n" + "\n".join(violations[:40])
    samples = [s for s in audit.client.samples if s.step == "hold"]
    assert {s.rid.split(".")[1] for s in samples} == {"p0", "p1"}
    assert {x[2] for x in audit.client.lags} == {"p0", "p1"}
    users = {h["user"] for h in stampede.ledger.holds.values()}
    ids = [u[1] for u in audit.ctx["users"]]
    assert {ids.index(u) % 2 for u in users} == {0, 1}, "holds from one process only"
    assert audit.facts["db_bookings"]["confirmed"] > 0, audit.facts
    assert stampede.sold == sum(n for _, n in stampede.ledger.sold_events)
    if stampede.sold >= stampede.capacity:  # sold out before the deadline: all stopped then
        assert stampede.sold_out_at is not None, "the shared sold-out stop never came"
    _, nginx = opening.access_logs(info)
    via_nginx = [s for s in samples if s.target == "nginx" and s.status > 0]
    assert via_nginx and all(s.rid in nginx for s in via_nginx)


def test_the_audit_notices_a_seat_sold_twice(night):
    info, _, audit, _ = night
    bid, seats = confirmed_booking(night)
    other = info.psql(f"SELECT id FROM bookings WHERE show_id = '{audit.show}' AND id <> '{bid}'"
                      " ORDER BY id LIMIT 1")[0][0]
    info.psql("INSERT INTO tickets (id, booking_id, seat_id, code, status, created_at) VALUES"
              f" ('tkt_audit_probe', '{other}', '{seats[0]}', 'audit-probe-code-0123456789',"
              " 'valid', 0)")
    try:
        found = reaudit(night)
    finally:
        info.psql("DELETE FROM tickets WHERE id = 'tkt_audit_probe'")
    assert any("sold twice" in v for v in found), found
    assert reaudit(night) == []


def test_the_audit_notices_a_lost_paid_booking(night):
    info, _, _, _ = night
    bid, _ = confirmed_booking(night)
    info.psql(f"UPDATE bookings SET status = 'expired' WHERE id = '{bid}'")
    try:
        found = reaudit(night)
    finally:
        info.psql(f"UPDATE bookings SET status = 'confirmed' WHERE id = '{bid}'")
    assert any("paid booking lost" in v for v in found), found
    assert any(bid in v and "database says expired" in v for v in found), found
    assert reaudit(night) == []


def test_the_audit_notices_a_stale_seat_map_and_a_missing_sale(night):
    """A sold claim removed behind the servers' back: the cached seat maps still say booked,
    and the confirmed booking has lost a seat."""
    info, _, audit, _ = night
    bid, seats = confirmed_booking(night)
    row = info.psql(f"SELECT user_id, hold_id, created_at FROM seat_claims WHERE show_id ="
                    f" '{audit.show}' AND seat_id = '{seats[0]}'")[0]
    info.psql(f"DELETE FROM seat_claims WHERE show_id = '{audit.show}' AND seat_id ="
              f" '{seats[0]}'")
    try:
        found = reaudit(night)
    finally:
        info.psql("INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id,"
                  f" expires_at, created_at) VALUES ('{audit.show}', '{seats[0]}', '{row[0]}',"
                  f" '{row[1]}', '{bid}', NULL, {row[2]})")
    assert any(f"seat {seats[0]} is booked, the database says available" in v
               for v in found), found
    assert any(f"confirmed booking {bid}: sold claims" in v for v in found), found
    assert reaudit(night) == []


def test_the_audit_notices_a_live_hold_on_a_sold_seat(night):
    info, _, audit, _ = night
    bid, seats = confirmed_booking(night)
    hold = info.psql(f"SELECT hold_id FROM seat_claims WHERE show_id = '{audit.show}' AND"
                     f" seat_id = '{seats[0]}'")[0][0]
    info.psql("UPDATE holds SET status = 'active', expires_at = expires_at + 3600000 WHERE id ="
              f" '{hold}'")
    try:
        found = reaudit(night)
    finally:
        info.psql("UPDATE holds SET status = 'booked', expires_at = expires_at - 3600000 WHERE"
                  f" id = '{hold}'")
    assert any(f"live hold {hold} overlaps sold seats" in v for v in found), found
    assert reaudit(night) == []


# --------------------------------------------------------------------------------------------
# Best available under a herd


HERD = 60
HERD_LAYOUT = {"rows": [{"label": lbl, "seats": 20, "category": "regular"}
                        for lbl in "ABCDEFGHIJ"]}  # 200 seats, for 60 x 2


def test_a_herd_of_best_available_holds_all_get_seats(cluster):
    """60 buyers ask for 2 best-available seats at the same instant on a 200-seat show: every
    one of them must get a hold (there are seats for all), none "no_seats_available". They all
    pick the same best block from the same seat map, so all but one lose each race; a server
    that gives up after a few lost races refuses buyers while most of the hall is free."""
    v = Venue(cluster.nginx, layout=HERD_LAYOUT, prices={"regular": 15000})
    users = make_users(cluster.nginx, HERD, "herd", threads=16)
    targets = [cluster.nginx, *cluster.servers]
    barrier = threading.Barrier(HERD)
    answers: list = [None] * HERD

    def buyer(i: int):
        s = session_for(users[i].token)
        ep = targets[i % len(targets)]
        barrier.wait(60)
        r = s.post(f"{ep.api}/shows/{v.show_id}/holds", json={"quantity": 2}, timeout=60)
        answers[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(HERD)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(a is not None for a in answers), "a buyer got no answer"
    refused = [a for a in answers if a[0] != 201]
    assert refused == [], f"{len(refused)} of {HERD} refused, e.g. {refused[:3]}"
    seats = [s["id"] for _, h in answers for s in h["seats"]]
    assert len(seats) == len(set(seats)) == 2 * HERD
    claimed = cluster.psql(f"SELECT count(*) FROM seat_claims WHERE show_id = '{v.show_id}'")
    assert claimed == [[str(2 * HERD)]]
