#!/usr/bin/env bash
# P6, flat with scale (issue 13): hold p50 as the database grows, one bench/holds.sh run per
# size on a fresh PostgreSQL: 100 -> 100,000 shows (10,000-seat hall), then 100- -> 10,000-seat
# halls (1,000 shows). Goal: the largest size's p50 within 1.5x of the smallest's, per sweep.
# Usage: bench/holds_sweep.sh [seconds per size] [connections]   (BIN= as in holds.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-5}; CONNS=${2:-16}
p50() { sed -nE 's/^ *50% +([0-9.]+)(us|ms|s) *$/\1 \2/p' | awk '{v=$1; if ($2=="us") v/=1000;
          if ($2=="s") v*=1000; printf "%.2f", v}'; }
run() {  # shows rows -> prints one line
  local out; out=$(SHOWS_TOTAL=$1 HALL_ROWS=$2 bash bench/holds.sh "$DUR" "$CONNS" 2>&1)
  local p; p=$(p50 <<<"$out")
  printf "%-8s %-11s p50 %8s ms  %10s req/s  %s\n" "$1" "$(( $2 * 100 ))" "$p" \
    "$(sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p' <<<"$out")" "$(grep '^status' <<<"$out")"
  echo "$p" >>"$RES"
}
RES=$(mktemp); trap 'rm -f "$RES"' EXIT
echo "P6 sweep $(date -u +%FT%TZ) $(git rev-parse --short HEAD) ${DUR}s per size, -c$CONNS, cpus=$(nproc)"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
ratio() { awk 'NR==1{a=$1} {b=$1} END{printf "largest/smallest p50 = %.2f (goal <= 1.5)\n", b/a}' "$RES"; }
echo "shows    hall_seats"
for n in 100 1000 10000 100000; do run "$n" 100; done
ratio; : >"$RES"
for r in 1 10 100; do run 1000 "$r"; done
ratio
echo "load after:  $(uptime | sed 's/.*load average/load average/')"
