#!/usr/bin/env bash
# Opening night: 2,000 buyers stampede one 500-seat show of a 3-server cluster (nginx, one
# PostgreSQL, one Redis: scripts/cluster.sh in a temp dir), then bench/opening.py audits the end
# state through every server's API and straight from PostgreSQL. Exits non-zero on any
# violation (a seat sold twice, a paid booking lost, a 5xx, a hang, a seat map that disagrees).
#
# Usage: bench/opening.sh [--tiny]     (--tiny: 100 users, a 40-seat hall, as the CI test)
# Environment: ACCEPT_LANGUAGE (none; e.g. "en": sent with every request), HOLD_KEYS (1; 0: holds
#   without an Idempotency-Key), GZIP (1: Accept-Encoding: gzip with every request, as browsers
#   send it, so a seat map comes in its cached gzip form, 9x fewer bytes; 0: none, the seat map's
#   74 KB as they are, as this bench ran before 2026-12-07), USERS (2000), HOLD_TTL (20 s), DEADLINE (120 s), SEED (1), WORKERS (8 per
#   server), SEATMAP_STALE (1000ms here: an opening night's setting; the server's default is 0),
#   TICKETD_BIN (build/ticketd), OUT (bench/results/2026-11-26-opening.txt; "-" = none),
#   KEEP=1 keeps the cluster's directory (logs) after the run. PROCS (1): the driver's processes
#   (the users split over them, each its own event loop; bench/opening.py --procs), LOOP (uvloop:
#   Debian's python3-uvloop, asyncio's own loop when it is missing; or asyncio), LOG_LEVEL (info:
#   the servers' access lines, from which the report gives the servers' own view of each step),
#   CLUSTER_NICE (10): the cluster's niceness above the driver's, so that a driver that shares the
#   cores with it is not kept waiting for one (its latencies would then include that wait). With
#   the kernel's autogroups (/proc/sys/kernel/sched_autogroup_enabled) each setsid'd server is a
#   group of its own and shares the cores with the driver's group by group, whatever its threads'
#   nice: so the niceness is also set on each cluster process's autogroup (/proc/PID/autogroup)
#   that is not the driver's. 0: the cluster and the driver share the cores as equals.
#   The defaults are measured (bench/results/2026-12-06-opening-driver.txt): on 2 shared cores
#   the driver's loops stalled for 2-4 s in the stampede's first seconds with asyncio, with 1, 2
#   or 4 processes alike, and 0.5-1.4 s with uvloop (1, 2 or 4 alike); uvloop and the cluster's
#   autogroups at nice 10: 0.1 s. The stalls are waits for a core (the loops ran 4-25 % of them),
#   so more processes do not shorten them; uvloop needs less CPU per request to catch up, and
#   the cluster's lower priority lets the driver's loop run when it has work. PROFILE=1 loads pg_stat_statements
#   and prints, after the run, PostgreSQL's statements by total time and the CPU time each
#   process kind (PostgreSQL, ticketd, nginx, Redis, the driver) used during the run, and the
#   same for the stampede's first 5 s alone (sampled in a 1 s pause the driver makes before its
#   start, and 5 s after it). NGINX_NICE (0): nginx (master, workers, autogroup) at this niceness
#   instead of CLUSTER_NICE, as deploy/nginx.conf asks of a host shared with the database (nginx's
#   CPU weight 10x the other services'); NGINX_NICE=$CLUSTER_NICE puts nginx with the rest of the
#   cluster, as this bench ran before 2026-12-07 (its seat maps through nginx then took 86-293 ms
#   p50 in five runs, against 20-99 in eight at 0: bench/results/2026-12-07-opening-handler-nice*,
#   -final-*). The report splits the seat maps by the way they came (through nginx, or straight
#   to a server), and a run that does not sell out names each unsold seat's holds and the fates
#   the script gave their buyers.
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
export RATE_LIMIT=off PASSWORD_HASH_COST=min HOLD_TTL="${TTL}s" LOG_LEVEL=${LOG_LEVEL:-info}
export WORKERS=${WORKERS:-8} JOB_INTERVAL_EXPIRE=2s SEATMAP_STALE=${SEATMAP_STALE:-1000ms}
export ADMIN_EMAIL=admin@opening.test ADMIN_PASSWORD=opening-admin-password
LOG=$(mktemp /tmp/ticketd-opening-report-XXXXXX)
cleanup() {
  scripts/cluster.sh stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "cluster directory kept: $CLUSTER_DIR" >&2
  else rm -rf "$CLUSTER_DIR"; fi
  rm -f "$LOG"
}
trap cleanup EXIT

PROFILE=${PROFILE:-0}
[ "$PROFILE" = 1 ] && export PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top -c pg_stat_statements.track_planning=on ${PG_EXTRA_OPTS:-}"
CLUSTER_NICE=${CLUSTER_NICE:-10}
nice -n "$CLUSTER_NICE" scripts/cluster.sh start 3 >"$CLUSTER_DIR/start.out" 2>&1 ||
  { cat "$CLUSTER_DIR/start.out" >&2; exit 1; }

rc=0
{
  echo "ticketd opening-night bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') cpus=$(nproc)"
  echo "load before: $(uptime)"
  echo "cluster: 3 ticketd (WORKERS=$WORKERS) behind nginx, PostgreSQL $(basename "$(dirname "$(. "$CLUSTER_DIR/cluster.env"; echo "$PG_BIN")")"), Redis; HOLD_TTL=${TTL}s RATE_LIMIT=off JOB_INTERVAL_EXPIRE=2s, test payment provider; the cluster at nice +$CLUSTER_NICE (and its autogroups) to the driver"
} | tee "$LOG"
# CPU seconds (user + system) a process and its children used so far, children that exited
# included (the kernel adds those to their parent's cutime/cstime once reaped).
cpu_of() {
  # One pgrep and one awk a call, whatever the number of children (PostgreSQL has a backend per
  # connection): the first-5-s profile below samples at the stampede's busiest instant.
  local parents=() p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && parents+=("/proc/$p/stat"); done
  [ ${#parents[@]} -gt 0 ] || { echo 0; return; }
  local list kids=()
  list=$(IFS=,; echo "$*")
  for p in $(pgrep -P "$list"); do kids+=("/proc/$p/stat"); done
  awk -v parents=" ${parents[*]} " '
    { t += $14 + $15; if (index(parents, " " FILENAME " ")) t += $16 + $17 }
    END { printf "%d\n", t }' "${parents[@]}" "${kids[@]}" 2>/dev/null
}
# shellcheck disable=SC1091
. "$CLUSTER_DIR/cluster.env"
PG_PID=$(head -1 "$PG_DATA/postmaster.pid")
if [ "$CLUSTER_NICE" != 0 ] && [ -w /proc/self/autogroup ]; then
  mine=$(cut -d' ' -f1 /proc/$$/autogroup)
  for p in $PG_PID $TICKETD_PIDS $NGINX_PID $REDIS_PID; do
    g=$(cut -d' ' -f1 "/proc/$p/autogroup" 2>/dev/null) || continue
    [ "$g" = "$mine" ] || echo "$CLUSTER_NICE" >"/proc/$p/autogroup" 2>/dev/null || true
  done
fi
# NGINX_NICE (0; the header says why): nginx's master, workers and autogroup at this niceness
# instead of the cluster's. Set it to CLUSTER_NICE to run nginx with the rest of the cluster.
NGINX_NICE=${NGINX_NICE:-0}
if [ -n "${NGINX_NICE:-}" ]; then
  for p in $NGINX_PID $(pgrep -P "$NGINX_PID"); do
    renice -n "$NGINX_NICE" -p "$p" >/dev/null 2>&1 || true
    [ -w /proc/self/autogroup ] && { echo "$NGINX_NICE" >"/proc/$p/autogroup"; } 2>/dev/null || true
  done
  echo "nginx at nice $(ps -o ni= -p "$NGINX_PID" | tr -d ' ') (NGINX_NICE=$NGINX_NICE; lowering it needs root)," \
    "the rest of the cluster at +$CLUSTER_NICE" | tee -a "$LOG"
fi
[ "$PROFILE" = 1 ] && "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ticketd \
  -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
cpu_snapshot() { echo "$(cpu_of "$PG_PID") $(cpu_of $TICKETD_PIDS) $(cpu_of "$NGINX_PID") $(cpu_of "$REDIS_PID")"; }
read -r C_PG C_TD C_NG C_RD <<<"$(cpu_snapshot)"
# PROFILE=1: the stampede's first 5 s on their own (its busiest; the set-up before it registers
# 2,000 users): PostgreSQL's statement counters and the processes' CPU times just before the
# start the driver announces (--start-file) and 5 s after it, as CSV and "pg cpu td ng rd" lines.
pgss_copy() {
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ticketd -c \
    "\\copy (SELECT queryid, calls, total_exec_time, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 150), plans, total_plan_time FROM pg_stat_statements) TO '$1' CSV" \
    >/dev/null 2>&1 || true
}
# PostgreSQL's client backends: "all started-after-$1" ($1: a Unix time).
backends() {
  "$PG_BIN/psql" -X -q -At -F ' ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ticketd -c \
    "SELECT count(*), count(*) FILTER (WHERE backend_start >= to_timestamp($1))
       FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = 'ticketd'" 2>/dev/null || true
}
START_FILE=$CLUSTER_DIR/stampede.start
FIRST5_PID=""
if [ "$PROFILE" = 1 ]; then
  (
    # The driver writes the start's Unix time in the pause before it (--start-file): the first
    # sample is taken in that pause, not in the stampede's first second.
    while [ ! -s "$START_FILE" ]; do sleep 0.02; done
    pgss_copy "$CLUSTER_DIR/pgss0.csv"; cpu_snapshot >"$CLUSTER_DIR/cpu0"
    backends "$(cat "$START_FILE")" >"$CLUSTER_DIR/backends0"
    sleep "$(awk -v s="$(cat "$START_FILE")" -v now="$(date +%s.%N)" 'BEGIN { d = s + 5 - now; printf "%.3f", (d > 0 ? d : 0) }')"
    cpu_snapshot >"$CLUSTER_DIR/cpu5"; pgss_copy "$CLUSTER_DIR/pgss5.csv"
    backends "$(cat "$START_FILE")" >"$CLUSTER_DIR/backends5"
  ) &
  FIRST5_PID=$!
fi
set +e
/usr/bin/time -f "%U %S" -o "$CLUSTER_DIR/driver.time" /usr/bin/python3 -u bench/opening.py --state "$CLUSTER_DIR/cluster.env" $TINY \
  $([ "$PROFILE" = 1 ] && echo --start-file "$START_FILE") \
  --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" --users "$USERS" \
  --hold-ttl "$TTL" --deadline "$DEADLINE" --seed "${SEED:-1}" \
  --procs "${PROCS:-1}" --loop "${LOOP:-uvloop}" \
  ${ACCEPT_LANGUAGE:+--accept-language "$ACCEPT_LANGUAGE"} \
  $([ "${HOLD_KEYS:-1}" = 0 ] && echo --no-hold-keys) $([ "${GZIP:-1}" = 1 ] && echo --gzip) \
  2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
[ -z "$FIRST5_PID" ] || wait "$FIRST5_PID" 2>/dev/null || true
set -e
read -r E_PG E_TD E_NG E_RD <<<"$(cpu_snapshot)"
{
  HZ=$(getconf CLK_TCK)
  awk -v hz="$HZ" -v pg=$((E_PG - C_PG)) -v td=$((E_TD - C_TD)) -v ng=$((E_NG - C_NG)) \
      -v rd=$((E_RD - C_RD)) -v drv="$(cat "$CLUSTER_DIR/driver.time" 2>/dev/null | tail -1)" 'BEGIN {
    split(drv, d, " "); dv = d[1] + d[2]; t = (pg + td + ng + rd) / hz + dv
    printf "cpu seconds during the run (driver incl. set-up and audit): PostgreSQL %.1f, ticketd x3 %.1f," \
      " nginx %.1f, Redis %.1f, driver %.1f (total %.1f)\n", pg / hz, td / hz, ng / hz, rd / hz, dv, t }'
  if [ "$PROFILE" = 1 ]; then
    if [ -s "$CLUSTER_DIR/cpu5" ] && [ -s "$CLUSTER_DIR/pgss5.csv" ]; then
      read -r A_PG A_TD A_NG A_RD <"$CLUSTER_DIR/cpu0"; read -r B_PG B_TD B_NG B_RD <"$CLUSTER_DIR/cpu5"
      awk -v hz="$HZ" -v pg=$((B_PG - A_PG)) -v td=$((B_TD - A_TD)) -v ng=$((B_NG - A_NG)) -v rd=$((B_RD - A_RD)) \
        'BEGIN { printf "-- the first 5 s of the stampede: cpu seconds PostgreSQL %.2f, ticketd x3 %.2f, nginx %.2f, Redis %.2f" \
                 " (the machine has %d cpu-seconds in 5 s; the driver takes the rest)\n", pg / hz, td / hz, ng / hz, rd / hz, 5 * '"$(nproc)"' }'
      read -r K0 _ <"$CLUSTER_DIR/backends0" || true; read -r K5 N5 <"$CLUSTER_DIR/backends5" || true
      echo "   PostgreSQL client backends: ${K0:-?} just before the start, ${K5:-?} at +5 s, of which ${N5:-?} opened after the start (psql's own included)"
      /usr/bin/python3 - "$CLUSTER_DIR/pgss0.csv" "$CLUSTER_DIR/pgss5.csv" <<'PY'
import csv, sys
def load(path):
    try:
        return {r[0]: (int(r[1]), float(r[2]), int(r[3]), r[4], int(r[5]), float(r[6]))
                for r in csv.reader(open(path))}
    except OSError:
        return {}
a, b = load(sys.argv[1]), load(sys.argv[2])
d = []
for k, (calls, ms, rows, q, plans, pms) in b.items():
    c0, m0, r0, _, p0, pm0 = a.get(k, (0, 0.0, 0, q, 0, 0.0))
    if calls > c0:
        d.append((ms - m0, calls - c0, rows - r0, q, plans - p0, pms - pm0))
d.sort(reverse=True)
print(f"   PostgreSQL statements in those 5 s: {sum(x[1] for x in d)} calls, {sum(x[0] for x in d):.0f} ms"
      f" executing, {sum(x[4] for x in d)} plans made in {sum(x[5] for x in d):.0f} ms; by total time:")
print(f"   {'calls':>7} {'total_ms':>9} {'mean_ms':>8} {'rows':>8} {'plans':>6} {'plan_ms':>8}  query")
for ms, calls, rows, q, plans, pms in d[:15]:
    print(f"   {calls:>7} {ms:>9.0f} {ms / calls:>8.2f} {rows:>8} {plans:>6} {pms:>8.0f}  {q[:100]}")
by_plan = sorted(d, key=lambda x: -x[5])[:8]
print("   by planning time (a prepared statement planned again at each call gets a custom plan):")
for ms, calls, rows, q, plans, pms in by_plan:
    print(f"   {calls:>7} calls {plans:>6} plans {pms:>6.0f} ms  {q[:100]}")
PY
    fi
    echo "-- PostgreSQL statements by total time (pg_stat_statements, the whole run)"
    "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ticketd -P pager=off -c \
      "SELECT calls, round(total_exec_time::numeric) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
         rows, plans, round(total_plan_time::numeric) AS plan_ms,
         left(regexp_replace(query, '\s+', ' ', 'g'), 150) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" 2>&1 || true
  fi
  # Holds refused from the claims view (booking/early.h), of all hold conflicts, per server: with
  # Redis (this cluster) all in the handler, the network thread making no round trip, so "before
  # the handler queue" reads 0 here (it was 18 of 35,305 in bench/results/…-opening-fast409.txt).
  early=0 queued=0 conflicts=0
  sum() { awk -v re="$1" '$0 ~ re {s += $2} END {printf "%d", s}'; }
  for port in $TICKETD_PORTS; do
    m=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true)
    early=$((early + $(sum '^ticketd_holds_early_total[{]path="network_thread"' <<<"$m")))
    queued=$((queued + $(sum '^ticketd_holds_early_total[{]path="handler"' <<<"$m")))
    conflicts=$((conflicts + $(sum '^ticketd_holds_total[{]outcome="conflict"' <<<"$m")))
  done
  pct() { awk -v e="$1" -v k="$conflicts" 'BEGIN {printf "%.1f", k ? 100 * e / k : 0}'; }
  echo "hold conflicts (409) refused from the seat map without a hold transaction, all servers:" \
    "before the handler queue $early ($(pct "$early") %), in the handler $queued" \
    "($(pct "$queued") %), of $conflicts"
  echo "load after: $(uptime)"
  # Anything the servers logged at error level, and nginx's own errors, for the reader.
  errs=$(cat "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | grep -c '"level":"error"' || true)
  echo "server log lines at level error: $errs; nginx error log lines: $(wc -l <"$CLUSTER_DIR/nginx-error.log" 2>/dev/null || echo 0)"
  grep -h '"level":"error"' "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | head -5 || true
  echo "exit status: $rc"
} | tee -a "$LOG"
if [ "$OUT" != - ]; then cp "$LOG" "$OUT"; chmod 644 "$OUT"; echo "saved to $OUT"; fi
exit "$rc"
