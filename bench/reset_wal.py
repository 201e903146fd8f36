#!/usr/bin/python3
"""WAL frames and time per password-reset commit, known vs unknown address, before and after the
decoy (bench/results/2026-12-06-mail.txt). Usage: bench/reset_wal.py DB (a migrated ticketd SQLite
database with at least one active user; it is written to). N (env) pairs are timed, 600 by default."""
import sqlite3, sys, os, secrets, time
db = sys.argv[1]
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=FULL")
known = con.execute("SELECT email FROM users WHERE deleted_at IS NULL AND disabled_at IS NULL LIMIT 1").fetchone()[0]
def reset(email, decoy=False):
    now = int(time.time()*1000)
    h = secrets.token_hex(32); tok = secrets.token_hex(32); mid = "mail_" + "%020d" % time.time_ns() + secrets.token_hex(3)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO password_resets (token_hash, user_id, expires_at, created_at) VALUES (?, (SELECT u.id FROM users u WHERE u.email = ? AND u.disabled_at IS NULL AND u.deleted_at IS NULL), ?, ?)", (h, email, now+1800000, now))
    if not decoy:
        con.execute("INSERT INTO mail_outbox (id, kind, to_addr, template, ref_id, data, status, attempts, next_attempt_at, message_id, created_at, updated_at) SELECT ?, 'password_reset', u.email, 'password_reset', u.id, ?, 'pending', 0, ?, ?, ?, ? FROM users u WHERE u.email = ? AND u.disabled_at IS NULL AND u.deleted_at IS NULL", (mid, '{"token":"%s"}' % tok, now, "<%s@ticketd>" % mid, now, now, email))
    else:
        con.execute("INSERT INTO mail_outbox (id, kind, to_addr, template, ref_id, data, status, attempts, next_attempt_at, message_id, created_at, updated_at) SELECT ?, 'password_reset', COALESCE(u.email, 'nobody@invalid'), 'password_reset', u.id, ?, 'pending', 0, ?, ?, ?, ? FROM (SELECT 1) one LEFT JOIN users u ON u.email = ? AND u.disabled_at IS NULL AND u.deleted_at IS NULL", (mid, '{"token":"%s"}' % tok, now, "<%s@ticketd>" % mid, now, now, email))
        con.execute("DELETE FROM mail_outbox WHERE id = ? AND ref_id IS NULL", (mid,))
    con.execute("COMMIT")
for decoy in (False, True):
    for kind in ("known", "unknown"):
        frames = []
        for i in range(20):
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            reset(known if kind == "known" else f"nobody{secrets.token_hex(4)}@example.org", decoy)
            frames.append(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        print(("after  " if decoy else "before ") + kind, "WAL frames per commit:", sorted(set(frames)), "mean", sum(frames)/len(frames))
import statistics
con.execute("PRAGMA wal_autocheckpoint=1000")
N = int(os.environ.get("N", "600"))
for decoy in (False, True):
    t = {"known": [], "unknown": []}
    for i in range(N * 2):
        kind = "known" if i % 2 == 0 else "unknown"
        em = known if kind == "known" else f"nobody{secrets.token_hex(4)}@example.org"
        t0 = time.perf_counter(); reset(em, decoy); t[kind].append((time.perf_counter() - t0) * 1e6)
    mk, mu = statistics.mean(t["known"]), statistics.mean(t["unknown"])
    dk, du = statistics.median(t["known"]), statistics.median(t["unknown"])
    print(("after " if decoy else "before"), f"txn known mean {mk:.0f} median {dk:.0f} | unknown mean {mu:.0f} median {du:.0f} | diff mean {mk-mu:+.0f} median {dk-du:+.0f} us")
