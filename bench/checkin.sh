#!/usr/bin/env bash
# The door rush: 500 tickets of one show checked in by 4 concurrent scanners (plus duplicate
# scans) against one ticketd on PostgreSQL (scripts/cluster.sh start 1, in a temp dir: one
# PostgreSQL, one Redis, one server); bench/checkin.py sets up, runs and checks (exactly 500
# admissions, every other answer 409 already_checked_in) and prints p50/p99 and throughput.
#
# Usage: bench/checkin.sh
# Environment: SCANNERS (4), WORKERS (8), TICKETD_BIN (build/ticketd),
#   OUT (bench/results/2026-12-05-checkin.txt; "-" = none).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TICKETD_BIN:-$PWD/build/ticketd}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
OUT=${OUT:-bench/results/2026-12-05-checkin.txt}
CLUSTER_DIR=$(mktemp -d /tmp/ticketd-checkin-XXXXXX)
export CLUSTER_DIR TICKETD_BIN=$BIN
export RATE_LIMIT=off PASSWORD_HASH_COST=min LOG_LEVEL=warn WORKERS=${WORKERS:-8}
export ADMIN_EMAIL=admin@rush.test ADMIN_PASSWORD=rush-admin-password
LOG=$(mktemp /tmp/ticketd-checkin-report-XXXXXX)
cleanup() { scripts/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$CLUSTER_DIR" "$LOG"; }
trap cleanup EXIT

scripts/cluster.sh start 1 >"$CLUSTER_DIR/start.out" 2>&1 ||
  { cat "$CLUSTER_DIR/start.out" >&2; exit 1; }
PORT=$(. "$CLUSTER_DIR/cluster.env"; echo "$TICKETD_PORTS")
{
  echo "ticketd door-rush bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') cpus=$(nproc)"
  echo "load before: $(uptime)"
  echo "one ticketd (WORKERS=$WORKERS, release build) on PostgreSQL $(basename "$(dirname "$(. "$CLUSTER_DIR/cluster.env"; echo "$PG_BIN")")"), Redis; scanners straight to the server (no nginx)"
} | tee "$LOG"
set +e
/usr/bin/python3 -u bench/checkin.py --port "$PORT" --admin-email "$ADMIN_EMAIL" \
  --admin-password "$ADMIN_PASSWORD" --scanners "${SCANNERS:-4}" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
set -e
{
  echo "load after: $(uptime)"
  echo "server log lines at level error: $(cat "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | grep -c '"level":"error"' || true)"
  echo "exit status: $rc"
} | tee -a "$LOG"
if [ "$OUT" != - ]; then cp "$LOG" "$OUT"; chmod 644 "$OUT"; echo "saved to $OUT"; fi
exit "$rc"
