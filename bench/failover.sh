#!/usr/bin/env bash
# Failover times under a sale: tests/api/test_ha_sale.py with N rounds (5). On scripts/ha.sh's
# set (3 etcd, 3 PostgreSQL under Patroni with synchronous_mode, Redis with 3 sentinels; HA_TTL
# 10) 3 ticketd servers sell while, each round, the PostgreSQL primary's machine (Patroni and
# postgres) is SIGKILLed (the lost node rejoins before the next round), then the Redis
# primary; at the end the etcd leader. Each kill is timed to the first successful hold sent
# after it (through ticketd, clients retrying 503 with their Idempotency-Key); the sale is
# audited (no seat sold twice, told-confirmed still confirmed, payments kept or refunded
# once). The file's partition test (SIGSTOP of the primary) runs first. Prints the test's
# output, then p50 and max per kind.
#
# Usage: bench/failover.sh [N]      (the release build: make build)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5}
TIMES=$(mktemp /tmp/ticketd-failover-times.XXXXXX)
trap 'rm -f "$TIMES"' EXIT
TICKETD_BIN=${TICKETD_BIN:-$REPO/build/ticketd} TIX_HA_ROUNDS=$N TIX_HA_TIMES=$TIMES \
  /usr/bin/python3 -m pytest "$REPO/tests/api/test_ha_sale.py" -q -s -p no:cacheprovider
/usr/bin/python3 - "$TIMES" <<'PY'
import json, statistics, sys
for line in open(sys.argv[1]):
    run = json.loads(line)
    for kind, ts in run["times"].items():
        if ts:
            print(f"{kind}: kill -> first successful hold over {len(ts)} kills: "
                  f"p50 {statistics.median(ts):.2f} s, max {max(ts):.2f} s  "
                  f"({', '.join(f'{t:.2f}' for t in ts)}; Patroni ttl {run['ttl']} s)")
    print("sale:", run["facts"])
PY
