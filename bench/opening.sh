#!/usr/bin/env bash
# Opening night: 2,000 buyers stampede one 500-seat show of a 3-server cluster (nginx, one
# PostgreSQL, one Redis: scripts/cluster.sh in a temp dir), then bench/opening.py audits the end
# state through every server's API and straight from PostgreSQL. Exits non-zero on any
# violation (a seat sold twice, a paid booking lost, a 5xx, a hang, a seat map that disagrees).
#
# Usage: bench/opening.sh [--tiny]     (--tiny: 100 users, a 40-seat hall, as the CI test)
# Environment: USERS (2000), HOLD_TTL (20 s), DEADLINE (120 s), SEED (1), WORKERS (8 per
#   server), TICKETD_BIN (build/ticketd), OUT (bench/results/2026-11-26-opening.txt; "-" = none),
#   KEEP=1 keeps the cluster's directory (logs) after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
TINY=""
[ "${1:-}" = "--tiny" ] && TINY=--tiny
BIN=${TICKETD_BIN:-$PWD/build/ticketd}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
if [ -n "$TINY" ]; then TTL=${HOLD_TTL:-6}; USERS=${USERS:-100}; DEADLINE=${DEADLINE:-30}
else TTL=${HOLD_TTL:-20}; USERS=${USERS:-2000}; DEADLINE=${DEADLINE:-120}; fi
TTL=${TTL%s}
OUT=${OUT:-bench/results/2026-11-26-opening.txt}
[ -n "$TINY" ] && [ "$OUT" = bench/results/2026-11-26-opening.txt ] && OUT=-

CLUSTER_DIR=$(mktemp -d /tmp/ticketd-opening-XXXXXX)
export CLUSTER_DIR TICKETD_BIN=$BIN
export RATE_LIMIT=off PASSWORD_HASH_COST=min HOLD_TTL="${TTL}s" LOG_LEVEL=warn
export WORKERS=${WORKERS:-8} JOB_INTERVAL_EXPIRE=2s
export ADMIN_EMAIL=admin@opening.test ADMIN_PASSWORD=opening-admin-password
LOG=$(mktemp /tmp/ticketd-opening-report-XXXXXX)
cleanup() {
  scripts/cluster.sh stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "cluster directory kept: $CLUSTER_DIR" >&2
  else rm -rf "$CLUSTER_DIR"; fi
  rm -f "$LOG"
}
trap cleanup EXIT

scripts/cluster.sh start 3 >"$CLUSTER_DIR/start.out" 2>&1 ||
  { cat "$CLUSTER_DIR/start.out" >&2; exit 1; }

rc=0
{
  echo "ticketd opening-night bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') cpus=$(nproc)"
  echo "load before: $(uptime)"
  echo "cluster: 3 ticketd (WORKERS=$WORKERS) behind nginx, PostgreSQL $(basename "$(dirname "$(. "$CLUSTER_DIR/cluster.env"; echo "$PG_BIN")")"), Redis; HOLD_TTL=${TTL}s RATE_LIMIT=off JOB_INTERVAL_EXPIRE=2s, test payment provider"
} | tee "$LOG"
set +e
/usr/bin/python3 -u bench/opening.py --state "$CLUSTER_DIR/cluster.env" $TINY \
  --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" --users "$USERS" \
  --hold-ttl "$TTL" --deadline "$DEADLINE" --seed "${SEED:-1}" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
set -e
{
  echo "load after: $(uptime)"
  # Anything the servers logged at error level, and nginx's own errors, for the reader.
  errs=$(cat "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | grep -c '"level":"error"' || true)
  echo "server log lines at level error: $errs; nginx error log lines: $(wc -l <"$CLUSTER_DIR/nginx-error.log" 2>/dev/null || echo 0)"
  grep -h '"level":"error"' "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | head -5 || true
  echo "exit status: $rc"
} | tee -a "$LOG"
if [ "$OUT" != - ]; then cp "$LOG" "$OUT"; chmod 644 "$OUT"; echo "saved to $OUT"; fi
exit "$rc"
