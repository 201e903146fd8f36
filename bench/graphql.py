"""
GraphQL against REST for the same seat map (issue 16): one client on one keep-alive connection
asks N times for a 200-seat show's seat map, alternating REST (GET /shows/{id}/seats) and
GraphQL (POST /graphql { show(id) { seats { id label row number x y category status price {
amount currency } } } }: the same members), and prints the latency of each (mean, p50, p95,
p99) and the answer sizes.

Two servers on SQLite, one after the other, both started here (build/ticketd, a temp database):
CACHE=on (the default: REST's seat map is served from the answer cache, GraphQL never is) and
CACHE=off (both read the store every time: the executor's own cost). Only the standard library.

Usage: bench/graphql.py [--n 2000] [--bin build/ticketd]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Api, Venue, free_port, pct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("admin@graphql.bench", "graphql-bench-admin")
QUERY = ("query($id: ID!) { show(id: $id) { seats { id label row number x y category status "
         "price { amount currency } } } }")


def start(binary: str, cache: str, tmp: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIX", "DATABASE"))}
    env.update(PORT=str(port), BIND_ADDRESS="127.0.0.1", DATABASE_URL=f"sqlite://{tmp}/{cache}.db",
               JWT_ACCESS_SECRET="graphql-bench-access-secret-0123456789abcdef",
               JWT_REFRESH_SECRET="graphql-bench-refresh-secret-0123456789abcdef",
               ADMIN_EMAIL=ADMIN[0], ADMIN_PASSWORD=ADMIN[1], PASSWORD_HASH_COST="min",
               RATE_LIMIT="off", LOG_LEVEL="warn", CACHE=cache)
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(f"{tmp}/{cache}.log", "w"))
    for _ in range(200):
        try:
            if Api(port).call("GET", "/healthz")[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the server did not start")


def raw(api: Api, method: str, path: str, body=None) -> tuple[float, int]:
    """One call; (seconds, answer bytes)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    t0 = time.perf_counter()
    api.conn.request(method, "/api/v1" + path, body=body, headers=headers)
    r = api.conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise SystemExit(f"{method} {path} -> {r.status} {data[:300]!r}")
    return dt, len(data)


def measure(binary: str, cache: str, n: int, tmp: str) -> list[str]:
    proc, port = start(binary, cache, tmp)
    try:
        api = Api(port)
        v = Venue(api, *ADMIN, password="graphql-bench-pw", domain="graphql.bench",
                  theatre="Bench Cinema", address="1 MG Road", rows=list("ABCDEFGHIJ"),
                  seats=20, movie="Bench Film")
        show_id, _ = v.show(datetime.now(timezone.utc).replace(microsecond=0, second=0)
                            + timedelta(days=3))
        # the same members in both answers
        rest = api.ok("GET", f"/shows/{show_id}/seats")["seats"]
        body = json.dumps({"query": QUERY, "variables": {"id": show_id}})
        st, g = api.call("POST", "/graphql", json.loads(body))
        seats = g["data"]["show"]["seats"]
        assert [s["id"] for s in seats] == [s["id"] for s in rest] and len(seats) == 200
        times = {"rest": [], "graphql": []}
        size = {}
        for i in range(100):  # warm-up
            raw(api, "GET", f"/shows/{show_id}/seats")
            raw(api, "POST", "/graphql", body)
        for i in range(n):
            dt, size["rest"] = raw(api, "GET", f"/shows/{show_id}/seats")
            times["rest"].append(dt)
            dt, size["graphql"] = raw(api, "POST", "/graphql", body)
            times["graphql"].append(dt)
        out = []
        for k in ("rest", "graphql"):
            xs = [x * 1000 for x in times[k]]
            out.append(f"CACHE={cache:<3} {k:<8} n={n} mean={sum(xs) / len(xs):.3f} ms "
                       f"p50={pct(xs, 50):.3f} p95={pct(xs, 95):.3f} p99={pct(xs, 99):.3f} "
                       f"bytes={size[k]}")
        mr = sum(times["rest"]) / n
        mg = sum(times["graphql"]) / n
        out.append(f"CACHE={cache:<3} graphql/rest mean ratio {mg / mr:.2f}")
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--bin", default=str(ROOT / "build" / "ticketd"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ticketd-graphql-bench-") as tmp:
        lines = [f"# bench/graphql.py {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
                 f"{os.cpu_count()} CPUs, SQLite, one client, 200-seat map"]
        for cache in ("on", "off"):
            lines += measure(a.bin, cache, a.n, tmp)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
