"""The seat-map load with and without a read replica (issue 14), driven by bench/replica.sh.

One PostgreSQL primary and one streaming replica of it (pg_basebackup -R, as
tests/api/test_replica.py makes them). Two runs, each a fresh database and one ticketd
(CACHE=off, so every request reaches a database: the cache would otherwise answer nearly all of
them and hide what the database does): without DATABASE_READ_URL, then with it. Each run:
wrk on GET /shows/{id}/seats for DURATION seconds. Reported per run: requests/s and latency
from wrk, and for each node the transactions it committed on the database (pg_stat_database,
read after the server stopped so every session has flushed its counters) and the CPU seconds
of its PostgreSQL processes (the postmaster's own and reaped children's times, from /proc).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "api"))

from booking_helpers import Venue  # noqa: E402
from conftest import Server  # noqa: E402
from test_replica import Pair, reads  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
LAYOUT = {"rows": [{"label": f"R{i:02d}", "seats": 20, "category": "regular"} for i in range(12)]}


def cpu_seconds(cluster) -> float:
    """CPU of the cluster's processes so far: the postmaster's own and its reaped children's,
    plus the children still running."""
    pm = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(d.name), int(fields[1])
        if pid == pm:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif ppid == pm:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def commits(cluster, dbname: str) -> int:
    return int(cluster.psql("postgres", "SELECT xact_commit FROM pg_stat_database "
                                        f"WHERE datname = '{dbname}'") or 0)


def run(pair: Pair, with_replica: bool, args, workdir: Path) -> dict:
    url, read_url = pair.database()
    dbname = url.rsplit("/", 1)[1]
    env = dict(CACHE="off", WORKERS=str(args.workers), LOG_LEVEL="warn")
    if with_replica:
        env["DATABASE_READ_URL"] = read_url
    srv = Server("postgres", url, workdir / ("with" if with_replica else "without"), **env)
    srv.workdir.mkdir(parents=True, exist_ok=True)
    srv.start()
    v = Venue(srv, layout=LAYOUT, prices={"regular": 15000})
    time.sleep(1)  # the replica replays the set-up
    before = {n: (commits(c, dbname), cpu_seconds(c))
              for n, c in (("primary", pair.primary), ("replica", pair.replica))}
    out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s",
                          "--latency", f"{srv.api}/shows/{v.show_id}/seats"],
                         capture_output=True, text=True, check=True).stdout
    routed = reads(srv)
    srv.stop()
    time.sleep(1.5)  # the sessions have ended and flushed their counters
    res = {"wrk": out, "routed": routed}
    for n, c in (("primary", pair.primary), ("replica", pair.replica)):
        res[n] = (commits(c, dbname) - before[n][0], cpu_seconds(c) - before[n][1])
    return res


def summary(name: str, r: dict, duration: int) -> str:
    w = r["wrk"]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)
    lat = {p: re.search(rf"\s{p}%\s+(\S+)", w).group(1) for p in ("50", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
    lines = [f"{name}: {rps} req/s, p50 {lat['50']}, p99 {lat['99']}, non-2xx "
             f"{non2xx.group(1) if non2xx else 0}; reads routed {r['routed']}"]
    for n in ("primary", "replica"):
        tx, cpu = r[n]
        lines.append(f"  {n}: {tx} transactions ({tx / duration:.0f}/s), "
                     f"PostgreSQL CPU {cpu:.1f} s ({100 * cpu / duration:.0f}% of a core)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    pair = Pair()
    try:
        print(f"PostgreSQL {pair.primary.bindir.parent.name}, primary + 1 streaming replica on "
              f"one machine; seat map of a 240-seat hall; wrk -t2 -c{args.connections} "
              f"-d{args.duration}s; ticketd WORKERS={args.workers} CACHE=off", flush=True)
        without = run(pair, False, args, args.workdir)
        print(summary("without replica", without, args.duration), flush=True)
        with_r = run(pair, True, args, args.workdir)
        print(summary("with replica   ", with_r, args.duration), flush=True)
        p0, p1 = without["primary"], with_r["primary"]
        print(f"taken off the primary: {p0[0] - p1[0]} of {p0[0]} transactions "
              f"({100 * (p0[0] - p1[0]) / max(p0[0], 1):.0f}%), "
              f"{p0[1] - p1[1]:.1f} of {p0[1]:.1f} CPU seconds")
        print("without replica wrk:\n" + without["wrk"])
        print("with replica wrk:\n" + with_r["wrk"])
    finally:
        pair.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
