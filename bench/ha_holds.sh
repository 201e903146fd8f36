#!/usr/bin/env bash
# What synchronous replication costs a hold: bench/holds.sh (ticketd under wrk, then the bare hold
# SQL under pgbench, PGBENCH=1) against the Patroni set of scripts/ha.sh (3 nodes,
# synchronous_mode: every COMMIT waits for the synchronous standby's flush) and against a single
# PostgreSQL node, one after the other in the same run. Both with fsync on (HA_FSYNC=on), so the
# only difference is the standby's round trip and flush.
#
# Usage: bench/ha_holds.sh [seconds] [connections]     (defaults 10 and 32)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}; CONNS=${2:-32}
export HA_DIR=${HA_DIR:-$(mktemp -d /tmp/ticketd-ha-holds.XXXXXX)} HA_PARTS=pg HA_FSYNC=on
chmod 755 "$HA_DIR"
trap '"$REPO/scripts/ha.sh" destroy >/dev/null 2>&1 || true' EXIT
URL=$("$REPO/scripts/ha.sh" start | tail -1)
echo "== Patroni, 3 nodes, synchronous_mode, fsync on ($URL)"
PG_URL=$URL PGBENCH=1 "$REPO/bench/holds.sh" "$DUR" "$CONNS"
"$REPO/scripts/ha.sh" destroy >/dev/null 2>&1 || true
echo "== single PostgreSQL node, fsync on"
PGBENCH=1 "$REPO/bench/holds.sh" "$DUR" "$CONNS"
