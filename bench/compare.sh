#!/usr/bin/env bash
# ticketd against the limits it stands on (issue 13), measured side by side in one run:
# one PostgreSQL (fsync on), nginx and the release ticketd (one server, in-process cache) on
# loopback, wrk -t2 -c64 for every row. Each row prints ticketd's figure, the limit's figure,
# their ratio and the status mix of every wrk run. Absolute numbers move with whatever else runs
# on the machine; the ratio of two runs made a few seconds apart moves much less.
#
# Rows:
#   1. cached seat map of a 2,000-seat show, client without gzip   vs nginx serving the same bytes
#   2. the same, client sends Accept-Encoding: gzip                vs nginx gzip_static of the same gzip bytes
#   3. 2-seat holds on a 10,000-seat show, 64 connections         vs pgbench running the bare hold SQL
#      (bench/holds.sh PGBENCH=1: its own PostgreSQL, fsync on, pgbench right after on the same cluster)
#   4. 5,000 idle SSE streams and 5,000 idle WebSockets: RSS        vs the budget, 50 MiB each
#      (bench/sse_memory.py, bench/ws_memory.py; STREAMS=n changes the count)
#   5. 100 users each holding 2 seats in the same instant          vs the same burst of the bare hold SQL
#      (bench/burst.py --pg-url: after every round's hold burst, pgbench runs the same 100 transactions,
#      bench/burst_pgbench.sql, on the same cluster, the burst's show and users and fresh seat pairs, four
#      ways: (a) 100 connections, one transaction each, all at once; (b) WORKERS connections sharing the
#      100, the burst through a pool the size of ticketd's; (c100), (c16) the same two with each
#      transaction pipelined, one round trip (bench/burst_pgbench_pipelined.sql; (a), (b) make 5).
#      A transaction's time runs from the burst's start to its COMMIT's answer. The limit is the way
#      with the lowest median p50; ratio = median of the rounds' ticketd p50 / that way's p50.
#      GET /healthz bursts are still printed beside it.)
#      /healthz (the issue's first reference) is not the floor (bench/results/2026-12-06-holds-y7.txt,
#      BURST_PROFILE=1): it is answered on libmicrohttpd's thread with no database (2-3 ms p50 on a quiet
#      machine); the 100 holds are 100 durable transactions needing 80-250 ms of PostgreSQL CPU on 2 cores
#      and a WAL flush per commit group (13-52 per burst, 4-10 ms each, one at a time), so even the bare
#      SQL cannot approach /healthz: bench/results/2026-12-06-burst-sql.txt measures how far it gets.
#      synchronous_commit=off (PG_EXTRA_OPTS, an experiment, not a supported setting) gave ticketd
#      45-54 ms; WORKERS=100 (no handler queue) was 3x slower: 100 concurrent transactions cost
#      PostgreSQL 2-4x the CPU.
#
#   6. P6, flat with scale: hold p50 at 100 -> 100,000 shows and 100- -> 10,000-seat halls, largest/smallest
#      within 1.5 (bench/holds_sweep.sh, a fresh PostgreSQL per size; SWEEP_SECONDS per size, default 5)
#
# Usage: bench/compare.sh [seconds per run]   (make bench); output to stdout and to
# bench/results/<date>-compare.txt (OUT=path elsewhere). Each row runs ROUNDS (5) rounds of
# ticketd then the limit, back to back; a row's ratio is the median of the rounds' ratios (each
# round's pair saw nearly the same machine), printed beside the median req/s of each side. PERF=1 records ticketd with perf during the
# first round of row 1 and prints the top of the profile.
# ROWS="1 2" selects rows. BURST_PROFILE=1: row 5 prints, around every hold burst and every SQL burst,
# the commits, WAL flushes and their fsync time (PostgreSQL then runs with track_wal_io_timing=on),
# PostgreSQL's CPU time, and for the hold bursts ticketd's CPU time and its own account of the holds'
# time (bench/burst.py --profile).
# PG_EXTRA_OPTS="-c name=value ..." adds PostgreSQL settings (experiments such as
# synchronous_commit=off; not a configuration ticketd supports: it loses committed holds on a crash).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; CONNS=${CONNS:-64}; PERF=${PERF:-0}; ROWS=${ROWS:-"1 2 3 4 5 6"}; ROUNDS=${ROUNDS:-5}
BIN=$(realpath "${BIN:-./build/ticketd}")
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
for t in wrk nginx curl; do command -v $t >/dev/null || { echo "$t missing (scripts/deps.sh bench)" >&2; exit 1; }; done
OUT=${OUT:-bench/results/$(date -u +%F)-compare.txt}
if [ -z "${COMPARE_TEED:-}" ]; then  # the whole report also goes to $OUT
  COMPARE_TEED=1 "$0" "$@" | tee "$OUT"; exit "${PIPESTATUS[0]}"
fi
TMP=$(mktemp -d); chmod 755 "$TMP"; PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
            [ -n "${PGBIN:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast stop >/dev/null 2>&1 || true
            rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export JWT_ACCESS_SECRET=bench-access-secret-0123456789abcdefghij JWT_REFRESH_SECRET=bench-refresh-secret-0123456789abcdefghij
export PASSWORD_HASH_COST=min LOG_LEVEL=warn BIND_ADDRESS=127.0.0.1 WORKERS=${WORKERS:-16}
export RATE_LIMIT=off CACHE_TTL=1h ADMIN_EMAIL=admin@bench.local ADMIN_PASSWORD=admin-password
unset REDIS_URL

# ---- PostgreSQL, fsync on (the default) ----
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); PGPORT=$(free_port)
mkdir "$TMP/pg"; chown postgres "$TMP/pg" "$TMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" \
  -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on${BURST_PROFILE:+ -c track_wal_io_timing=on} ${PG_EXTRA_OPTS:-}" \
  -l "$TMP/pg.log" -w start >/dev/null
URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"

# ---- ticketd ----
PORT=$(free_port); DATABASE_URL=$URL PORT=$PORT $BIN 2>"$TMP/server.log" & PIDS+=($!); TPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$TMP/server.log"; exit 1; }
T=http://127.0.0.1:$PORT

# A 2,000-seat hall (20 rows of 100) and one show on it.
SHOW=$(/usr/bin/python3 - "$PORT" <<'PY'
import datetime, sys, requests
B = f"http://127.0.0.1:{sys.argv[1]}/api/v1"
s = requests.Session()
tok = s.post(B + "/auth/login", json={"email": "admin@bench.local", "password": "admin-password"}).json()
A = {"Authorization": "Bearer " + tok["access_token"]}
movie = s.post(B + "/movies", headers=A, json={"title": "Bench", "duration_minutes": 60,
               "release_date": "2026-01-01", "certificate": "U"}).json()
th = s.post(B + "/theatres", headers=A, json={"name": "Bench", "city": "Bench", "address": "x"}).json()
s.post(B + f"/admin/theatres/{th['id']}/approve", headers=A).raise_for_status()  # shows need it
rows = [{"label": f"R{r:02d}", "seats": 100, "category": "standard"} for r in range(20)]
hall = s.post(B + f"/theatres/{th['id']}/halls", headers=A, json={"name": "Big", "layout": {"rows": rows}}).json()
t = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
show = s.post(B + "/shows", headers=A, json={"movie_id": movie["id"], "hall_id": hall["id"], "starts_at": t,
              "currency": "INR", "prices": {"standard": 20000}})
show.raise_for_status()
print(show.json()["id"])
PY
)
SEATS=/api/v1/shows/$SHOW/seats

# ---- nginx serving ticketd's own bytes as static files ----
mkdir -p "$TMP/nginx/logs" "$TMP/www/api/v1/shows/$SHOW"
curl -sf -H 'Accept-Encoding: identity' "$T$SEATS" -o "$TMP/www$SEATS.json"
curl -sf -H 'Accept-Encoding: gzip' "$T$SEATS" -o "$TMP/www$SEATS.json.gz"
chmod -R a+rX "$TMP/www"
NPORT=$(free_port)
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/json json; }
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=64 inactive=1h;  # no open/stat per request: nginx at its best
  open_file_cache_valid 1h;
  server {
    listen 127.0.0.1:$NPORT;
    root $TMP/www;
    location / { try_files \$uri.json =404; gzip_static on; gzip_vary on; }
  }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" & PIDS+=($!)
N=http://127.0.0.1:$NPORT
for _ in $(seq 50); do curl -sf "$N$SEATS" >/dev/null && break; sleep 0.1; done
curl -sf "$N$SEATS" >/dev/null || { echo "nginx did not start" >&2; cat "$TMP/nginx/logs/error.log" >&2; exit 1; }

# The bodies both sides send must be byte-identical, with and without gzip.
curl -sf -H 'Accept-Encoding: identity' "$T$SEATS" -o "$TMP/t.id"; curl -sf -H 'Accept-Encoding: identity' "$N$SEATS" -o "$TMP/n.id"
curl -sf -H 'Accept-Encoding: gzip' "$T$SEATS" -o "$TMP/t.gz";     curl -sf -H 'Accept-Encoding: gzip' "$N$SEATS" -o "$TMP/n.gz"
cmp -s "$TMP/t.id" "$TMP/n.id" || { echo "plain bodies differ" >&2; exit 1; }
cmp -s "$TMP/t.gz" "$TMP/n.gz" || { echo "gzip bodies differ" >&2; exit 1; }
cmp -s "$TMP/t.id" <(gzip -dc "$TMP/t.gz") || { echo "gzip body does not inflate to the plain one" >&2; exit 1; }
XC=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: identity' "$T$SEATS" | tr -d '\r' | sed -n 's/^X-Cache: //Ip')

echo "ticketd compare $(date -u +%FT%TZ) $(git rev-parse --short HEAD)${PG_EXTRA_OPTS:+ postgres: $PG_EXTRA_OPTS} workers=$WORKERS cpus=$(nproc) conns=$CONNS dur=${DUR}s"
echo "$(nginx -v 2>&1), $("$PGBIN/postgres" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo "seat map: 2,000 seats, $(stat -c %s "$TMP/t.id") bytes plain, $(stat -c %s "$TMP/t.gz") bytes gzip (identical bytes from nginx; ticketd X-Cache: $XC)"

# wrk_run <label> <url> [header]: requests/s, p50, p99 and the status mix. wrk's own counter
# gives the mix (a Lua response() hook would copy every 300 KB body into Lua and make wrk the
# bottleneck); every answer of these rows should be 2xx.
RPS=0; P50=""
wrk_run() {
  local label=$1 url=$2; shift 2
  wrk -t2 -c"$CONNS" -d1s "$@" "$url" >/dev/null 2>&1 || true  # warm-up
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$@" "$url" >"$TMP/wrk.txt" 2>&1
  RPS=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$TMP/wrk.txt")
  P50=$(sed -nE 's/^ *50% *([0-9.]+[a-z]+).*/\1/p' "$TMP/wrk.txt")
  local p99 total bad sockerr
  p99=$(sed -nE 's/^ *99% *([0-9.]+[a-z]+).*/\1/p' "$TMP/wrk.txt")
  total=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' "$TMP/wrk.txt")
  bad=$(sed -nE 's/^ *Non-2xx or 3xx responses: *([0-9]+).*/\1/p' "$TMP/wrk.txt"); bad=${bad:-0}
  sockerr=$(sed -nE 's/^ *Socket errors: *(.*)/\1/p' "$TMP/wrk.txt")
  printf '  %-8s %8.0f req/s  p50 %-8s p99 %-8s status: 2xx/3xx=%d other=%d%s\n' "$label" "$RPS" "$P50" "$p99" \
    $((total - bad)) "$bad" "${sockerr:+ socket errors: $sockerr}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}'; }
SUMMARY=()

# row_pair <row label> <goal> <ticketd url> <limit url> [wrk args]: ROUNDS rounds of ticketd then
# the limit, back to back, so both see the same machine; every run printed; the row's figures
# are the medians of the rounds' req/s, and its ratio the median of the rounds' ratios.
median() { sort -g | awk '{v[NR]=$1} END{print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}'; }
row_pair() {
  local label=$1 goal=$2 turl=$3 lurl=$4; shift 4
  local ts=() ls=()
  for i in $(seq "$ROUNDS"); do
    if [ "$i" = 1 ] && [ "$PERF" = 1 ] && command -v perf >/dev/null; then
      perf record -F 499 -g -p "$TPID" -o "$TMP/perf.data" -- sleep "$((DUR + 1))" >/dev/null 2>&1 & PERFPID=$!
    fi
    wrk_run "ticketd" "$turl" "$@"; ts+=("$RPS")
    if [ -n "${PERFPID:-}" ]; then wait "$PERFPID" || true; fi
    wrk_run "$LIMIT" "$lurl" "$@"; ls+=("$RPS")
  done
  local a b rs=() r
  for i in "${!ts[@]}"; do rs+=("$(ratio "${ts[$i]}" "${ls[$i]}")"); done
  a=$(printf '%s\n' "${ts[@]}" | median); b=$(printf '%s\n' "${ls[@]}" | median)
  r=$(printf '%s\n' "${rs[@]}" | median)
  echo "  rounds' ratios: ${rs[*]}; median ticketd $(printf %.0f "$a") req/s, $LIMIT $(printf %.0f "$b") req/s;" \
    "median ratio $r (goal >= $goal)"
  SUMMARY+=("$(printf '%-38s %9.0f req/s  %9.0f req/s  %5.2f  >= %s' "$label" "$a" "$b" "$r" "$goal")")
  if [ -n "${PERFPID:-}" ]; then
    echo "  -- perf of ticketd (first round), top symbols by self time"
    { perf report -i "$TMP/perf.data" --no-children --stdio --sort dso,symbol 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -20 | sed -e 's/^/  /' -e 's/[ -]*$//'; } || true
    PERFPID=""
  fi
}

if [[ " $ROWS " == *" 1 "* ]]; then
  echo "== 1. cached seat map, client without gzip; limit: nginx serving the same bytes as a static file"
  LIMIT=nginx row_pair "seat map 2,000 seats, no gzip" 0.7 "$T$SEATS" "$N$SEATS" -H 'Accept-Encoding: identity'
fi

if [[ " $ROWS " == *" 2 "* ]]; then
  echo "== 2. cached seat map, client sends Accept-Encoding: gzip; limit: nginx gzip_static of the same bytes"
  LIMIT=nginx row_pair "seat map 2,000 seats, gzip" 0.7 "$T$SEATS" "$N$SEATS" -H 'Accept-Encoding: gzip'
  PERF=0
fi

if [[ " $ROWS " == *" 5 "* ]]; then
  echo "== 5. 100 users each hold 2 seats in the same instant; limit: the same burst of the bare hold SQL" \
    "(pgbench on the same cluster: (a) 100 connections, (b) $WORKERS; pipelined: (c100), (c$WORKERS))"
  /usr/bin/python3 bench/burst.py --url "$T" --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" \
    --rounds "$ROUNDS" --pg-url "$URL" --pg-bin "$PGBIN" --workers "$WORKERS" \
    ${BURST_PROFILE:+--profile --server-pid "$TPID" --pg-pid "$(head -1 "$TMP/pg/postmaster.pid")"} \
    2>&1 | tee "$TMP/burst.txt" | sed 's/^/  /'  # exits here when a burst fails (pipefail)
  B=$(sed -nE 's/^burst: holds p50 ([0-9.]+) ms, SQL limit p50 ([0-9.]+) ms, ratio ([0-9.]+) .*/\1 \2 \3/p' "$TMP/burst.txt")
  read -r BH BL BR <<<"${B:-0 0 0}"
  SUMMARY+=("$(printf '%-38s %9.1f ms p50 %9.1f ms p50 %5.2f  <= 1.5' "100 simultaneous 2-seat holds" "$BH" "$BL" "$BR")")
fi

if [[ " $ROWS " == *" 3 "* ]]; then
  echo "== 3. 2-seat holds on a 10,000-seat show; limit: pgbench running the bare hold SQL on the same cluster"
  PGBENCH=1 BIN=$BIN bench/holds.sh "$DUR" "$CONNS" >"$TMP/holds.txt" 2>&1 || { sed 's/^/  /' "$TMP/holds.txt"; exit 1; }
  sed 's/^/  /' "$TMP/holds.txt"
  H=$(sed -nE 's/^ratio holds: ticketd ([0-9.]+) req\/s \/ pgbench ([0-9.]+) tps = ([0-9.]+).*/\1 \2 \3/p' "$TMP/holds.txt")
  read -r HT HP HR <<<"${H:-0 0 0}"
  SUMMARY+=("$(printf '%-38s %9.0f req/s  %9.0f tps    %5.2f  >= 0.9' "2-seat holds, 10,000-seat show" "$HT" "$HP" "$HR")")
fi

if [[ " $ROWS " == *" 4 "* ]]; then
  N_STREAMS=${STREAMS:-5000}
  for kind in sse ws; do
    echo "== 4. $N_STREAMS idle $kind streams: the server's RSS; limit: the budget, 50 MiB"
    /usr/bin/python3 "bench/${kind}_memory.py" --streams "$N_STREAMS" --bin "$BIN" >"$TMP/$kind.txt" 2>&1 ||
      { sed 's/^/  /' "$TMP/$kind.txt"; exit 1; }
    sed 's/^/  /' "$TMP/$kind.txt"
    M=$(sed -nE 's/.*rss_mib=([0-9.]+).*/\1/p' "$TMP/$kind.txt" | tail -1)
    SUMMARY+=("$(printf '%-38s %9.1f MiB      %9.1f MiB      %5.2f  <= 1' "$N_STREAMS idle $kind streams, RSS" "${M:-0}" 50 \
      "$(ratio "${M:-0}" 50)")")
  done
fi

if [[ " $ROWS " == *" 6 "* ]]; then
  echo "== 6. P6, flat with scale: hold p50 from 100 to 100,000 shows and from 100- to 10,000-seat halls"
  BIN=$BIN bench/holds_sweep.sh "${SWEEP_SECONDS:-5}" 16 >"$TMP/sweep.txt" 2>&1 || { sed 's/^/  /' "$TMP/sweep.txt"; exit 1; }
  sed 's/^/  /' "$TMP/sweep.txt"
  for what in shows halls; do
    S=$(sed -nE 's/^largest\/smallest p50 = ([0-9.]+).*/\1/p' "$TMP/sweep.txt" | sed -n "$([ $what = shows ] && echo 1 || echo 2)p")
    SUMMARY+=("$(printf '%-38s %9s            %9s            %5.2f  <= 1.5' "P6: hold p50, largest/smallest $what" - - "${S:-0}")")
  done
fi

echo "load after:  $(uptime | sed 's/.*load average/load average/')"
echo "== summary (medians)                    ticketd          limit            ratio  goal"
for l in "${SUMMARY[@]}"; do echo "$l"; done
