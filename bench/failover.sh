#!/usr/bin/env bash
# PostgreSQL failover time under Patroni: starts scripts/ha.sh's set (3 etcd, 3 PostgreSQL,
# synchronous_mode) in a directory of its own, then N times (5) SIGKILLs the primary's machine
# (its Patroni and postgres: ha.sh failover-pg node) and measures the seconds from the kill to
# the first write accepted through ticketd's multi-host URL (target_session_attrs=read-write);
# the lost node rejoins as a replica before the next round. Prints every round, p50 and max.
# The time from the kill to ticketd's first successful hold under a sale is measured by
# tests/api/test_failover.py (one round; it adds ticketd's reconnect, well under a second).
#
# Usage: bench/failover.sh [N]     (HA_TTL: Patroni's leader TTL, 10 here; production 30)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5}
export HA_TTL=${HA_TTL:-10}
export HA_DIR=${HA_DIR:-$(mktemp -d /tmp/ticketd-ha-bench.XXXXXX)}
chmod 755 "$HA_DIR"
trap '"$REPO/scripts/ha.sh" destroy >/dev/null 2>&1 || true' EXIT
"$REPO/scripts/ha.sh" start >/dev/null
times=()
for i in $(seq "$N"); do
  t=$("$REPO/scripts/ha.sh" failover-pg node | sed -n 's/^failover-pg: //p')
  echo "round $i: ${t} s"
  times+=("$t")
done
printf '%s\n' "${times[@]}" | /usr/bin/python3 -c '
import statistics, sys
t = [float(x) for x in sys.stdin.read().split()]
print(f"failover-pg over {len(t)} rounds (ttl '"$HA_TTL"' s): p50 {statistics.median(t):.2f} s, max {max(t):.2f} s")'
