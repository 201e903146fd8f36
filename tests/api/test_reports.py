"""
Sales reports: GET /reports/sales (issue 12, API.md "Running a cinema"; the rules are in
src/booking/sales_report.h).

The main test builds a random booking history through the API on a server of its own (three
theatres of two owners in three time zones, shows in INR and USD, bookings confirmed, cancelled
and refunded, expired, failed, paid late and refunded, a cancelled show), adds promo discounts
with SQL (promo codes are another branch's work), and then checks every group_by, for the admin
and for each owner, against sums computed here straight from the bookings, refunds, shows,
theatres and seats tables: to the paisa, with each show's local day worked out in Python. The
CSV answer must carry the same rows as the JSON one, names with commas, quotes and newlines
included.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import subprocess
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from booking_helpers import GRID_LAYOUT, Venue, api, book, buy, confirm, hold, pay, post_booking, \
    post_cancel, seat_map
from catalog_helpers import create_hall, create_movie, create_show, create_theatre, future, iso, \
    make_owner, make_user, ok, param_error, parse_time, today_utc, uid
from conftest import admin_tokens, assert_error, call, find_pg_bindir, register, \
    scale_release_only

MIGRATION_0019 = Path(__file__).resolve().parents[2] / "src/store/migrations/0019_show_sales.sql"
MIGRATION_0020 = MIGRATION_0019.with_name("0020_show_sales_keys.sql")
PAID = ("confirmed", "cancelled_refunded", "expired_refunded")
SUM_FIELDS = ("shows", "tickets", "sellable_seats", "gross", "discounts", "refunds", "net")
KEY_FIELDS = {
    "day": ("day",),
    "show": ("show_id", "starts_at", "theatre_id", "theatre_name", "movie_id", "movie_title"),
    "movie": ("movie_id", "movie_title"),
    "theatre": ("theatre_id", "theatre_name"),
}
ROW_FIELDS = {"currency", "occupancy", *SUM_FIELDS}

# Names that need CSV quoting. The API refuses control characters in names, so the newline is
# put in with SQL (as an import from an older system might have).
AWKWARD = 'Roxy, the "Grand" Screen'
AWKWARD_NL = 'Roxy, the "Grand"\r\nScreen\n2'


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
    out = subprocess.run(
        [str(find_pg_bindir() / "psql"), "-h", u.hostname, "-p", str(u.port), "-U",
         u.username or "postgres", "-d", u.path.lstrip("/"), "-X", "-A", "-t", "-F", "\x1f",
         "-P", "null=\x1e", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=30, check=True).stdout
    return [tuple(None if v == "\x1e" else v for v in line.split("\x1f"))
            for line in out.split("\n") if line]


def execute(database_url: str, sql: str) -> None:
    if database_url.startswith("sqlite://"):
        con = sqlite3.connect(database_url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
        return
    query(database_url, sql)


def ledger_per_show(database_url: str) -> dict:
    """Per show, what the bookings, refunds and booking_seats tables say it sold:
    {show_id: {paid_bookings, gross, discounts, refunds, tickets}} (shows with sales only)."""
    bookings = query(database_url, "SELECT id, show_id, status, amount, amount_before_discount,"
                                   " discount, payment_id FROM bookings")
    # a refund of a stray payment (a second one, or one of the wrong amount) is not the
    # booking's money: only refunds of the booking's own payment count
    refunds = query(database_url, "SELECT booking_id, amount, payment_id FROM refunds"
                                  " WHERE status = 'processed'")
    seats_sold = query(database_url, "SELECT b.show_id, COUNT(*) FROM booking_seats bs"
                                     " JOIN bookings b ON b.id = bs.booking_id"
                                     " WHERE b.status = 'confirmed' GROUP BY b.show_id")
    show_of = {b[0]: b[1] for b in bookings}
    paid_by = {b[0]: b[6] for b in bookings if b[2] in PAID}
    per_show = defaultdict(lambda: defaultdict(int))
    for _bid, sid, status, amount, before, discount, _pay in bookings:
        if status in PAID:
            per_show[sid]["paid_bookings"] += 1
            before, discount, amount = int(before), int(discount), int(amount)
            per_show[sid]["gross"] += before if before > 0 else amount + discount
            per_show[sid]["discounts"] += discount
    for bid, amount, payment in refunds:
        if bid in paid_by and paid_by[bid] == payment:
            per_show[show_of[bid]]["refunds"] += int(amount)
    for sid, n in seats_sold:
        per_show[sid]["tickets"] += int(n)
    return per_show


def summary(database_url: str) -> dict:
    """The show_sales table (migration 0019) in the shape of ledger_per_show, zero rows left out."""
    out = {}
    for sid, *nums in query(database_url, "SELECT show_id, paid_bookings, gross, discounts,"
                                          " refunds, tickets FROM show_sales"):
        row = dict(zip(("paid_bookings", "gross", "discounts", "refunds", "tickets"),
                       map(int, nums)))
        if any(row.values()):
            out[sid] = row
    return out


def assert_summary_is_ledger(database_url: str, show_ids=None) -> None:
    """show_sales equals the ledger's sums, for every show or for the shows of show_ids."""
    want = {sid: {f: v for f, v in row.items()}
            for sid, row in ledger_per_show(database_url).items() if any(row.values())}
    for row in want.values():
        for f in ("paid_bookings", "gross", "discounts", "refunds", "tickets"):
            row.setdefault(f, 0)
    got = summary(database_url)
    if show_ids is not None:
        got = {k: v for k, v in got.items() if k in show_ids}
        want = {k: v for k, v in want.items() if k in show_ids}
        assert want, "nothing sold in the shows checked"
    assert got == want


def rebuild_summary(database_url: str) -> None:
    """show_sales recomputed by the backfills of migrations 0019 (the sums) and 0020 (a row for
    every show with its grouping columns): for a history edited by hand."""
    execute(database_url, "DELETE FROM show_sales")
    for migration in (MIGRATION_0019, MIGRATION_0020):
        text = migration.read_text()
        execute(database_url, text[text.index("INSERT INTO show_sales"):].split(";")[0])


def ledger(database_url: str, group_by: str, first: date, last: date,
           owner_id: str | None = None, theatre_id: str | None = None) -> dict:
    """The report as the tables say it should be: {(group key, currency): sums}."""
    # names may hold newlines: they come as JSON arrays, one line each
    arr = "json_array" if database_url.startswith("sqlite://") else "json_build_array"
    shows = [json.loads(r[0]) for r in query(
        database_url,
        f"SELECT {arr}(s.id, s.theatre_id, t.owner_id, t.name, s.movie_id, m.title, s.hall_id,"
        " s.currency, s.status, s.starts_at, t.utc_offset_minutes) FROM shows s"
        " JOIN theatres t ON t.id = s.theatre_id JOIN movies m ON m.id = s.movie_id")]
    sellable = dict(query(database_url, "SELECT hall_id, COUNT(*) FROM seats WHERE active = 1"
                                        " AND blocked = 0 GROUP BY hall_id"))
    per_show = ledger_per_show(database_url)
    out: dict = {}
    for (sid, tid, oid, tname, mid, mtitle, hall, cur, status, starts, offset) in shows:
        local = datetime.fromtimestamp(int(starts) / 1000 + int(offset) * 60, tz=timezone.utc)
        if not first <= local.date() <= last:
            continue
        if (owner_id and oid != owner_id) or (theatre_id and tid != theatre_id):
            continue
        key = {
            "day": (local.date().isoformat(),),
            "show": (sid, int(starts), tid, tname, mid, mtitle),
            "movie": (mid, mtitle),
            "theatre": (tid, tname),
        }[group_by]
        row = out.setdefault((key, cur), defaultdict(int))
        s = per_show[sid]
        row["shows"] += 1
        for f in ("gross", "discounts", "refunds", "tickets"):
            row[f] += s[f]
        row["sellable_seats"] += 0 if status == "cancelled" else int(sellable.get(hall, 0))
    for row in out.values():
        row["net"] = row["gross"] - row["discounts"] - row["refunds"]
    return {k: dict(v) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# The report


def epoch_ms(rfc3339: str) -> int:
    assert rfc3339.endswith("Z"), rfc3339
    t = datetime.fromisoformat(rfc3339[:-1] + "+00:00")
    return round(t.timestamp() * 1000)


def report(server, token, group_by, first, last, theatre_id=None, csv_too=True) -> dict:
    """GET /reports/sales as JSON (and as CSV, checked equal): {(key, currency): sums}."""
    params = {"from": first.isoformat(), "to": last.isoformat(), "group_by": group_by}
    if theatre_id:
        params["theatre_id"] = theatre_id
    body = ok(api("GET", server, "/reports/sales", token=token, params=params), 200)
    assert (body["group_by"], body["from"], body["to"]) == \
        (group_by, params["from"], params["to"]), body
    items = body["items"]
    out = {}
    for it in items:
        assert set(it) == ROW_FIELDS | set(KEY_FIELDS[group_by]), it
        key = tuple(epoch_ms(it[k]) if k == "starts_at" else it[k]
                    for k in KEY_FIELDS[group_by])
        assert (key, it["currency"]) not in out, f"two rows for {key} {it['currency']}"
        assert all(isinstance(it[f], int) for f in SUM_FIELDS), it
        expect_occ = round(it["tickets"] / it["sellable_seats"], 4) if it["sellable_seats"] \
            else 0
        assert abs(it["occupancy"] - expect_occ) < 1e-9, it
        out[(key, it["currency"])] = {f: it[f] for f in SUM_FIELDS}
    if csv_too:
        r = api("GET", server, "/reports/sales", token=token, params=params,
                headers={"Accept": "text/csv"})
        assert r.status_code == 200, r.text[:300]
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        text = r.content.decode("utf-8")
        assert text.endswith("\r\n")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = list(KEY_FIELDS[group_by]) + ["currency", "shows", "tickets", "sellable_seats",
                                               "occupancy", "gross", "discounts", "refunds", "net"]
        assert rows[0] == header, rows[0]
        assert len(rows) == len(items) + 1
        for it, line in zip(items, rows[1:]):
            got = dict(zip(header, line))
            for f in header:
                if f == "occupancy":
                    assert float(got[f]) == pytest.approx(it[f], abs=1e-9), (got, it)
                elif f in SUM_FIELDS:
                    assert int(got[f]) == it[f], (f, got, it)
                else:
                    assert got[f] == it[f], (f, got, it)
    return out


# --------------------------------------------------------------------------------------------
# The history


class History:
    def __init__(self, server):
        self.server = server
        self.admin = admin_tokens(server)["access_token"]
        self.owner_a = make_owner(server, self.admin, "owner_a")
        self.owner_b = make_owner(server, self.admin, "owner_b")
        self.buyers = [make_user(server, f"buyer{i}") for i in range(4)]
        self.rng = random.Random(20261206)
        self.movies = [create_movie(server, self.admin, title=AWKWARD, duration_minutes=90),
                       create_movie(server, self.admin, title=f"Plain {uid()}",
                                    duration_minutes=90)]
        # India (+5:30), New York (-5:00), London (0): a show at 20:00 UTC is on the next
        # local day in India.
        self.theatres = [
            (self.owner_a, create_theatre(server, self.owner_a.token, name=AWKWARD,
                                          utc_offset_minutes=330)),
            (self.owner_a, create_theatre(server, self.owner_a.token, name=f"East {uid()}",
                                          utc_offset_minutes=-300)),
            (self.owner_b, create_theatre(server, self.owner_b.token, name=f"West {uid()}",
                                          utc_offset_minutes=0)),
        ]
        for table, col, row_id in (("theatres", "name", self.theatres[0][1]["id"]),
                                   ("movies", "title", self.movies[0]["id"])):
            execute(server.database_url, f"UPDATE {table} SET {col} = '{AWKWARD_NL}'"
                                         f" WHERE id = '{row_id}'")
        self.shows = []  # (owner, show)
        self.cancelled = set()  # ids of the shows cancelled
        blocked = {"rows": [dict(r, blocked=[1, 2]) if r["label"] == "A" else r
                            for r in GRID_LAYOUT["rows"]]}
        for i, (owner, t) in enumerate(self.theatres):
            hall = create_hall(server, t["id"], owner.token, blocked if i == 0 else GRID_LAYOUT)
            for day, hour, cur in ((2, 9, "INR"), (2, 20, "USD" if i == 1 else "INR"),
                                   (3, 14, "USD"), (4, 19, "INR")):
                s = create_show(server, self.movies[(day + i) % 2]["id"], hall["id"],
                                future(days=day, hour=hour), token=owner.token,
                                prices={"premium": 40000 + 1000 * i + 7, "regular": 25003},
                                currency=cur)
                self.shows.append((owner, s))

    def free_seats(self, show_id):
        return [s["id"] for s in seat_map(self.server, show_id)["seats"]
                if s["status"] == "available"]

    def build(self):
        pending = self.api_history()
        self.hand_edits(pending)

    def buy_with_code(self, buyer, show_id, seats, code):
        """Hold, book with a promo code, pay, confirm: the confirmed booking (discounted)."""
        srv = self.server
        h = hold(srv, buyer.token, show_id, seat_ids=seats)
        body = ok(post_booking(srv, buyer.token, h["hold_id"], promo_code=code), 201)
        assert body["booking"]["discount"] > 0, body
        p = pay(srv, buyer.token, body["payment"]["order_id"])
        return confirm(srv, buyer.token, body["booking"]["id"], p)

    def api_history(self):
        """Everything done through the API (the summary must follow it): returns the bookings
        left pending."""
        srv, rng = self.server, self.rng
        code = f"REP{uid()}".upper()[:32].replace(".", "_")
        ok(api("POST", srv, "/promo-codes", token=self.admin,
               json={"code": code, "kind": "percent", "value": 15}), 201)
        pending = []
        for _owner, s in self.shows:
            if s["id"] in self.cancelled:
                continue
            for _ in range(rng.randint(2, 5)):
                buyer = rng.choice(self.buyers)
                seats = rng.sample(self.free_seats(s["id"]), rng.randint(1, 3))
                kind = rng.choice(["confirmed", "confirmed", "cancel", "pending", "promo",
                                   "promo_cancel"])
                if kind == "pending":
                    h = hold(srv, buyer.token, s["id"], seat_ids=seats)
                    pending.append((buyer, book(srv, buyer.token, h["hold_id"])))
                    continue
                if kind.startswith("promo"):
                    b = self.buy_with_code(buyer, s["id"], seats, code)
                else:
                    b = buy(srv, buyer.token, s["id"], seats)
                if kind.endswith("cancel"):
                    ok(post_cancel(srv, buyer.token, b["id"]), 200)
        # a show cancelled after its sales: every booking refunded in full
        owner, s = next(x for x in self.shows[5:] if x[1]["id"] not in self.cancelled)
        buy(srv, self.buyers[0].token, s["id"], self.free_seats(s["id"])[:2])
        ok(api("POST", srv, f"/shows/{s['id']}/cancel", token=owner.token), 200)
        self.cancelled.add(s["id"])
        # paid after the hold expired and the seats went to someone else: expired_refunded
        _owner, s = self.shows[0]
        late_seats = self.free_seats(s["id"])[:2]
        h = hold(srv, self.buyers[1].token, s["id"], seat_ids=late_seats)
        late = book(srv, self.buyers[1].token, h["hold_id"])
        late_pay = pay(srv, self.buyers[1].token, late["payment"]["order_id"])
        deadline = time.monotonic() + 30
        while self.status(late["booking"]["id"]) != "expired":
            assert time.monotonic() < deadline, "the unpaid booking did not expire"
            time.sleep(0.3)
        buy(srv, self.buyers[2].token, s["id"], late_seats)
        r = api("POST", srv, f"/bookings/{late['booking']['id']}/confirm",
                token=self.buyers[1].token, json=late_pay)
        assert r.status_code < 500, r.text
        assert self.status(late["booking"]["id"]) == "expired_refunded"
        return pending

    def hand_edits(self, pending):
        """What the API cannot make (an old-style discount row, a stray payment's refund, a
        refund still pending at the provider), written with SQL; the summary is rebuilt from the
        ledger after (the edits bypass the code that keeps it)."""
        srv, rng = self.server, self.rng
        # failed payments: a pending booking the provider failed (no test-provider call for it)
        if pending:
            buyer, body = pending[0]
            execute(srv.database_url, "UPDATE bookings SET status = 'failed' WHERE id = '"
                    + body["booking"]["id"] + "'")
        # promo discounts (set by the promo helper on its branch): some with the before-discount
        # amount filled in, one old-style row where only amount and discount are set
        confirmed = [r[0] for r in query(srv.database_url,
                                         "SELECT id FROM bookings WHERE status IN"
                                         " ('confirmed', 'cancelled_refunded') ORDER BY id")]
        for i, bid in enumerate(rng.sample(confirmed, min(6, len(confirmed)))):
            d = 1000 * (i + 1) + 37
            if i == 0:
                execute(srv.database_url, f"UPDATE bookings SET discount = {d},"
                                          f" amount_before_discount = 0 WHERE id = '{bid}'")
            else:
                execute(srv.database_url, f"UPDATE bookings SET discount = {d},"
                                          f" amount_before_discount = amount + {d}"
                                          f" WHERE id = '{bid}'")
        # a second payment of a confirmed booking, refunded: never in gross, not in refunds
        bid, created = query(srv.database_url, "SELECT id, created_at FROM bookings"
                                               " WHERE status = 'confirmed' ORDER BY id")[0]
        execute(srv.database_url,
                "INSERT INTO refunds (id, booking_id, payment_id, amount, reason, status,"
                f" created_at, updated_at) VALUES ('ref_stray', '{bid}', 'pay_stray', 12345,"
                f" 'second payment for a settled booking', 'processed', {created}, {created})")
        # a refund still pending at the provider is not money back yet
        ref = query(srv.database_url, "SELECT id FROM refunds WHERE status = 'processed'"
                                      " ORDER BY id")
        assert ref, "no processed refunds in the history"
        execute(srv.database_url, f"UPDATE refunds SET status = 'pending' WHERE id = '{ref[0][0]}'")
        self.expired_any = any(self.status(b["booking"]["id"]) == "expired" for _, b in pending)
        rebuild_summary(srv.database_url)

    def status(self, booking_id):
        return query(self.server.database_url,
                     f"SELECT status FROM bookings WHERE id = '{booking_id}'")[0][0]


@scale_release_only
def test_sales_report_matches_ledger(backend, make_server):
    srv = make_server(backend, HOLD_TTL="4s", JOB_INTERVAL_EXPIRE="300ms")
    h = History(srv)
    h.build()
    statuses = {r[0] for r in query(srv.database_url, "SELECT DISTINCT status FROM bookings")}
    assert {"confirmed", "cancelled_refunded", "expired_refunded", "failed"} <= statuses, statuses
    first, last = today_utc() - timedelta(days=1), today_utc() + timedelta(days=6)
    url = srv.database_url
    a_ids = [t["id"] for o, t in h.theatres if o is h.owner_a]
    for group_by in ("day", "show", "movie", "theatre"):
        # the admin: everything
        got = report(srv, h.admin, group_by, first, last)
        assert got == ledger(url, group_by, first, last), group_by
        assert got, group_by
        # each owner: its own theatres only
        for owner in (h.owner_a, h.owner_b):
            got = report(srv, owner.token, group_by, first, last)
            assert got == ledger(url, group_by, first, last, owner_id=owner.id), group_by
        got = report(srv, h.owner_a.token, group_by, first, last, theatre_id=a_ids[1])
        assert got == ledger(url, group_by, first, last, theatre_id=a_ids[1])
        if group_by == "theatre":
            assert {k[0][0] for k in got} == {a_ids[1]}
    # one local day: the India theatre's 20:00 UTC show of day 2 falls on day 3 there
    day3 = today_utc() + timedelta(days=3)
    got = report(srv, h.admin, "show", day3, day3)
    assert got == ledger(url, "show", day3, day3)
    india_20 = [s for o, s in h.shows if epoch_ms(s["starts_at"]) % 86400000 == 20 * 3600000
                and s["theatre_id"] == h.theatres[0][1]["id"]]
    assert india_20 and india_20[0]["id"] in {k[0][0] for k in got}
    # the totals are the ledger's: what was paid, and what went back
    paid = sum(int(r[0]) for r in query(url, "SELECT amount FROM bookings WHERE status IN"
                                             " ('confirmed', 'cancelled_refunded',"
                                             " 'expired_refunded')"))
    back = sum(int(r[0]) for r in query(url, "SELECT r.amount FROM refunds r JOIN bookings b"
                                             " ON b.id = r.booking_id WHERE r.status ="
                                             " 'processed' AND r.payment_id = b.payment_id"))
    stray = query(url, "SELECT amount FROM refunds WHERE id = 'ref_stray'")
    assert stray == [("12345",)]
    totals = defaultdict(int)
    for sums in report(srv, h.admin, "theatre", first, last, csv_too=False).values():
        for f in ("gross", "discounts", "refunds", "net"):
            totals[f] += sums[f]
    assert totals["gross"] - totals["discounts"] == paid
    assert totals["refunds"] == back
    assert totals["net"] == paid - back
    # two currencies are two rows, never one sum
    by_theatre = report(srv, h.admin, "theatre", first, last, csv_too=False)
    assert {k[1] for k in by_theatre} == {"INR", "USD"}
    # the other owner's theatre: 403, as for a show's sales
    assert_error(api("GET", srv, "/reports/sales", token=h.owner_b.token,
                     params={"from": first.isoformat(), "to": last.isoformat(),
                             "theatre_id": a_ids[0]}), 403, "forbidden")


def test_summary_follows_the_ledger(backend, make_server):
    """show_sales (migration 0019) is kept by the writes themselves: after a random history made
    through the API only (confirms with and without a promo code, cancels and their refunds,
    unpaid holds expiring, a payment after expiry refunded, a show cancelled with its bookings
    refunded) every show's row equals a recomputation from bookings, refunds and
    booking_seats, and the report (which reads only the summary) equals the ledger."""
    srv = make_server(backend, HOLD_TTL="4s", JOB_INTERVAL_EXPIRE="300ms")
    h = History(srv)
    pending = h.api_history()
    url = srv.database_url
    assert_summary_is_ledger(url)
    statuses = {r[0] for r in query(url, "SELECT DISTINCT status FROM bookings")}
    assert {"confirmed", "cancelled_refunded", "expired_refunded"} <= statuses, statuses
    assert query(url, "SELECT COUNT(*) FROM bookings WHERE discount > 0")[0][0] != "0"
    assert query(url, "SELECT COUNT(*) FROM refunds WHERE status = 'processed'")[0][0] != "0"
    # the pending ones expire (nothing paid: nothing moves), then more of everything
    deadline = time.monotonic() + 30
    while any(h.status(b["booking"]["id"]) == "pending_payment" for _, b in pending):
        assert time.monotonic() < deadline, "the unpaid bookings did not expire"
        time.sleep(0.3)
    h.rng = random.Random(20261207)
    h.api_history()
    assert_summary_is_ledger(url)
    owner, s = h.shows[2]
    ok(api("POST", srv, f"/shows/{s['id']}/cancel", token=owner.token), 200)
    assert_summary_is_ledger(url)
    # a show with sales moved three days on (PATCH /shows): the report groups it on its new day
    owner, moved = h.shows[1]
    new_start = parse_time(moved["starts_at"]) + timedelta(days=3)
    ok(api("PATCH", srv, f"/shows/{moved['id']}", token=owner.token,
           json={"starts_at": iso(new_start)}), 200)
    assert_summary_is_ledger(url)
    assert_summary_keys_are_shows(url)
    first, last = today_utc() - timedelta(days=1), today_utc() + timedelta(days=6)
    for group_by in ("day", "show", "movie", "theatre"):
        assert report(srv, h.admin, group_by, first, last, csv_too=False) == \
            ledger(url, group_by, first, last), group_by
    by_show = {key[0]: (key, sums) for (key, _cur), sums in
               report(srv, h.admin, "show", first, last, csv_too=False).items()}
    key, sums = by_show[moved["id"]]
    assert key[1] == epoch_ms(iso(new_start)) and sums["gross"] > 0, (key, sums)
    assert by_show[s["id"]][1]["sellable_seats"] == 0  # the cancelled show sells nothing more


def assert_summary_keys_are_shows(database_url: str) -> None:
    """Every show has its show_sales row (migration 0020) with the show's own grouping columns:
    created with the show, moved with it, marked not live when it is cancelled."""
    want = {r[0]: r[1:] for r in query(
        database_url, "SELECT id, theatre_id, movie_id, hall_id, currency, starts_at,"
                      " CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END FROM shows")}
    got = {r[0]: r[1:] for r in query(
        database_url, "SELECT show_id, theatre_id, movie_id, hall_id, currency, starts_at, live"
                      " FROM show_sales")}
    assert got == want


# The summary rows (migration 0020) of shows written here with SQL, as tix_show_insert makes them.
SUMMARY_ROWS = ("INSERT INTO show_sales (show_id, theatre_id, movie_id, hall_id, currency, starts_at,"
                " live) SELECT id, theatre_id, movie_id, hall_id, currency, starts_at, 1 FROM shows"
                " WHERE id LIKE 'shw_big%' ON CONFLICT (show_id) DO NOTHING")


def test_report_too_large(server):
    """More rows than TIX_SALES_MAX_ROWS (10000): 422 report_too_large, with max_rows; exactly
    10000 is still answered. The shows are written with SQL (10001 shows through the API would
    take minutes)."""
    admin = admin_tokens(server)["access_token"]
    owner = make_owner(server, admin, "big_owner")
    movie = create_movie(server, admin, title=f"Big {uid()}", duration_minutes=90)
    t = create_theatre(server, owner.token, name=f"Big {uid()}", utc_offset_minutes=0)
    hall = create_hall(server, t["id"], owner.token, GRID_LAYOUT)
    base = epoch_ms(create_show(server, movie["id"], hall["id"], future(days=2, hour=0),
                                token=owner.token, prices={"premium": 100, "regular": 50})
                    ["starts_at"])
    execute(server.database_url,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)"
            " INSERT INTO shows (id, movie_id, hall_id, theatre_id, starts_at, ends_at, currency,"
            " status, created_at, updated_at) SELECT 'shw_big' || CAST(i AS TEXT),"
            f" '{movie['id']}', '{hall['id']}', '{t['id']}', {base} + i * 60000,"
            f" {base} + i * 60000 + 1, 'INR', 'scheduled', {base}, {base} FROM n")
    execute(server.database_url, SUMMARY_ROWS)
    first = (today_utc() + timedelta(days=2)).isoformat()
    last = (today_utc() + timedelta(days=9)).isoformat()
    params = {"from": first, "to": last, "group_by": "show", "theatre_id": t["id"]}
    body = ok(api("GET", server, "/reports/sales", token=owner.token, params=params), 200)
    assert len(body["items"]) == 10000
    execute(server.database_url,
            "INSERT INTO shows (id, movie_id, hall_id, theatre_id, starts_at, ends_at, currency,"
            f" status, created_at, updated_at) VALUES ('shw_big10000', '{movie['id']}',"
            f" '{hall['id']}', '{t['id']}', {base} + 10000 * 60000, {base} + 10000 * 60000 + 1,"
            f" 'INR', 'scheduled', {base}, {base})")
    execute(server.database_url, SUMMARY_ROWS)
    for token in (owner.token, admin):
        for headers in (None, {"Accept": "text/csv"}):
            err = assert_error(api("GET", server, "/reports/sales", token=token, params=params,
                                   headers=headers), 422, "report_too_large")
            assert err["details"] == {"max_rows": 10000}, err
    # coarser groups of the same shows are fine
    body = ok(api("GET", server, "/reports/sales", token=owner.token,
                  params={**params, "group_by": "day"}), 200)
    assert sum(it["shows"] for it in body["items"]) == 10001


def test_sales_report_refusals(server):
    admin = admin_tokens(server)["access_token"]
    owner = make_owner(server, admin, "rep_owner")
    user = make_user(server, "rep_user")
    d = today_utc().isoformat()
    good = {"from": d, "to": d}

    def get(token, params, headers=None):
        return api("GET", server, "/reports/sales", token=token, params=params, headers=headers)

    assert_error(get(None, good), 401, "unauthorized")
    assert_error(get(user.token, good), 403, "forbidden")
    body = ok(get(owner.token, good), 200)
    assert body["items"] == [] and body["group_by"] == "day"
    for bad, param in (({"to": d}, "from"), ({"from": d}, "to"),
                       ({"from": "2026-02-30", "to": d}, "from"),
                       ({"from": d, "to": "06-12-2026"}, "to"),
                       ({"from": "2026-1-01", "to": d}, "from"),
                       ({"from": d, "to": (today_utc() - timedelta(days=1)).isoformat()}, "to"),
                       ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
                       ({**good, "group_by": "week"}, "group_by"),
                       ({**good, "group_by": ""}, "group_by")):
        param_error(get(owner.token, bad), param)
        param_error(get(admin, bad), param)
    # 366 days is the longest range
    ok(get(owner.token, {"from": "2024-01-01", "to": "2024-12-31"}), 200)
    assert_error(get(owner.token, {**good, "theatre_id": "thr_nope"}), 404, "not_found")
    # a repeated parameter is refused like anywhere else
    r = call("GET", server, f"/reports/sales?from={d}&to={d}&to={d}", token=owner.token)
    assert r.status_code == 400, r.text
    # CSV of nothing: the header alone
    r = get(owner.token, {**good, "group_by": "theatre"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.text == ("theatre_id,theatre_name,currency,shows,tickets,sellable_seats,occupancy,"
                      "gross,discounts,refunds,net\r\n")


def test_database_lost_in_the_middle_of_a_report_is_503(own_pg_cluster, make_server):
    """PostgreSQL goes away while a sales report is being read (its query waits on a lock on
    show_sales, then the server shuts down): the answer is 503 unavailable with Retry-After, a
    JSON error and nothing of the report, for JSON and for CSV alike; never a 500 or a partial
    body. Once the database is back the report is answered again."""
    pg = own_pg_cluster
    srv = make_server("postgres", pg=pg, CACHE="off")
    v = Venue(srv)
    buy(srv, register(srv)["access_token"], v.show_id, v.ids("A1", "A2"))
    dbname = srv.database_url.rsplit("/", 1)[1]
    params = {"from": today_utc().isoformat(),
              "to": (today_utc() + timedelta(days=30)).isoformat(),
              "group_by": "show", "theatre_id": v.theatre["id"]}

    def report_again() -> requests.Response:
        deadline = time.monotonic() + 20
        while True:
            r = call("GET", srv, "/reports/sales", token=v.owner_token, params=params)
            if r.status_code == 200 or time.monotonic() > deadline:
                return r
            time.sleep(0.2)

    body = ok(report_again(), 200)
    assert [it["tickets"] for it in body["items"]] == [2], body
    for headers in ({}, {"Accept": "text/csv"}):
        answers: list = []
        locker = pg.session(dbname)
        try:
            pg.lock_table(locker, dbname, "show_sales")
            t = threading.Thread(target=lambda: answers.append(call(
                "GET", srv, "/reports/sales", token=v.owner_token, params=params,
                headers=headers)))
            t.start()
            deadline = time.monotonic() + 10
            while pg.psql(dbname, "SELECT count(*) FROM pg_stat_activity WHERE "
                                  "wait_event_type = 'Lock' AND client_addr IS NOT NULL "
                                  "AND query LIKE '%FROM show_sales ss%'") != "1":
                assert time.monotonic() < deadline, "the report never waited for the lock"
                time.sleep(0.05)
            assert t.is_alive(), "the report was answered while show_sales was locked"
            pg.stop("immediate")  # a crash: the lock is never handed to the report (stop())
            t.join(30)
            assert not t.is_alive(), "the report hung"
        finally:
            pg.start()
            locker.stdin.close()
            locker.wait(10)
        assert srv.proc.poll() is None, "the server died"
        r = answers[0]
        err = assert_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After"), r.headers
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        assert "items" not in r.text and "currency" not in r.text, r.text
        assert set(err) >= {"code", "message"}, err
        r = report_again()
        assert r.status_code == 200, r.text
    r = call("GET", srv, "/reports/sales", token=v.owner_token, params=params,
             headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.text.count("\r\n") == 2, r.text
