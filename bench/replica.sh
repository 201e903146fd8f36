#!/usr/bin/env bash
# Read replicas (issue 14): the seat-map load (wrk) on one ticketd with CACHE=off, first on the
# primary alone, then with DATABASE_READ_URL on a streaming replica; what the replica takes off
# the primary in transactions and PostgreSQL CPU (bench/replica.py does the work).
#
# Usage: bench/replica.sh
# Environment: DURATION (20 s), CONNECTIONS (32), WORKERS (8), TICKETD_BIN (build/ticketd),
#   OUT (bench/results/2026-12-06-replica.txt; "-" = none).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TICKETD_BIN:-$PWD/build/ticketd}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
OUT=${OUT:-bench/results/2026-12-06-replica.txt}
WORK=$(mktemp -d /tmp/ticketd-replica-XXXXXX)
LOG=$WORK/report
trap 'rm -rf "$WORK"' EXIT
export TICKETD_BIN=$BIN
{
  echo "ticketd read-replica bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') cpus=$(nproc)"
  echo "load before: $(uptime)"
} | tee "$LOG"
/usr/bin/python3 -u bench/replica.py --workdir "$WORK" --duration "${DURATION:-20}" \
  --connections "${CONNECTIONS:-32}" --workers "${WORKERS:-8}" 2>&1 | tee -a "$LOG"
echo "load after: $(uptime)" | tee -a "$LOG"
[ "$OUT" = "-" ] || cp "$LOG" "$OUT"
