#!/usr/bin/env bash
# Hold throughput: wrk POSTs two-seat holds on distinct seats (a 10,000-seat hall, 20 shows,
# 256 users) against the release build on a throwaway PostgreSQL (or SQLite with DB=sqlite).
# Usage: bench/holds.sh [seconds] [connections]
# PROFILE=1 (PostgreSQL only) loads pg_stat_statements and prints, after the run, the statements
# by total execution time with calls per request, and transactions and WAL flushes per request.
# IDEM=1: every hold carries an Idempotency-Key of its own (the key's row joins the hold's
# transaction: http/idempotency.c).
# PGBENCH=1 (PostgreSQL only) then runs bench/holds_pgbench.sql, the bare hold SQL, with pgbench at
# the same concurrency on the same cluster (claims emptied first) and prints the ratio.
# PERF=1 records the server and PostgreSQL's backends (perf record -g) during the wrk run and
# prints, after it, each side's share of the CPU samples and the top symbols of each.
# PG_URL=<url> runs against that PostgreSQL (an empty database; e.g. the Patroni set's multi-host
# URL) instead of a throwaway one.
# P6 sweep knobs (PostgreSQL only; bench/holds_sweep.sh sets them): SHOWS_TOTAL=N fills the
# database with N shows in all (copies of the first, written by SQL, each with its prices) and
# holds spread over up to 2,000 of them; HALL_ROWS=R makes the hall R rows of 100 seats.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; CONNS=${2:-64}; DB=${DB:-postgres}; PROFILE=${PROFILE:-0}; PGBENCH=${PGBENCH:-0}; IDEM=${IDEM:-0}
SHOWS_TOTAL=${SHOWS_TOTAL:-0}; HALL_ROWS=${HALL_ROWS:-100}
BIN=${BIN:-./build/ticketd}  # BIN=path/to/ticketd measures another build
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
TMP=$(mktemp -d); chmod 755 "$TMP"; PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
            [ -n "${PGBIN:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast stop >/dev/null 2>&1 || true
            rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export JWT_ACCESS_SECRET=bench-access-secret-0123456789abcdefghij JWT_REFRESH_SECRET=bench-refresh-secret-0123456789abcdefghij
export PASSWORD_HASH_COST=min LOG_LEVEL=warn BIND_ADDRESS=127.0.0.1 WORKERS=${WORKERS:-16}
export RATE_LIMIT=off  # the bench registers 256 users from one address and holds as fast as it can
export ADMIN_EMAIL=admin@bench.local ADMIN_PASSWORD=admin-password
if [ -n "${PG_URL:-}" ]; then
  URL=$PG_URL  # a running PostgreSQL (bench/ha_holds.sh: the Patroni set), empty database
elif [ "$DB" = postgres ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); PGPORT=$(free_port)
  mkdir "$TMP/pg"; chown postgres "$TMP/pg" "$TMP"
  runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust >/dev/null
  PGOPTS="-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=200"
  [ "$PROFILE" = 1 ] && PGOPTS="$PGOPTS -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -o "$PGOPTS" -l "$TMP/pg.log" -w start >/dev/null
  URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
else
  URL="sqlite://$TMP/bench.db"
fi
PORT=$(free_port); DATABASE_URL=$URL PORT=$PORT $BIN 2>"$TMP/server.log" & PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "$PORT" "$TMP/setup.lua" "$HALL_ROWS" <<'PY'
import json, sys, datetime, requests
port, out, nrows = sys.argv[1], sys.argv[2], int(sys.argv[3])
B = f"http://127.0.0.1:{port}/api/v1"
s = requests.Session()
admin = s.post(B + "/auth/login", json={"email": "admin@bench.local", "password": "admin-password"}).json()
A = {"Authorization": "Bearer " + admin["access_token"]}
movie = s.post(B + "/movies", headers=A, json={"title": "Bench", "duration_minutes": 60,
               "release_date": "2026-01-01", "certificate": "U"}).json()
th = s.post(B + "/theatres", headers=A, json={"name": "Bench", "city": "Bench", "address": "x"}).json()
s.post(B + f"/admin/theatres/{th['id']}/approve", headers=A).raise_for_status()  # born pending
rows = [{"label": f"R{r:02d}", "seats": 100, "category": "standard"} for r in range(nrows)]
hall = s.post(B + f"/theatres/{th['id']}/halls", headers=A, json={"name": "Big", "layout": {"rows": rows}}).json()
start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
shows = []
for i in range(20):
    t = (start + datetime.timedelta(hours=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shows.append(s.post(B + "/shows", headers=A, json={"movie_id": movie["id"], "hall_id": hall["id"],
                 "starts_at": t, "currency": "INR", "prices": {"standard": 20000}}).json()["id"])
tokens = []
for i in range(256):
    r = s.post(B + "/auth/register", json={"email": f"u{i}@bench.local", "password": "bench-password", "name": "u"}).json()
    tokens.append(r["access_token"])
with open(out, "w") as f:
    f.write("TOKENS = " + "{" + ",".join(json.dumps(t) for t in tokens) + "}\n")
    f.write("SHOWS = " + "{" + ",".join(json.dumps(x) for x in shows) + "}\n")
    f.write(f'HALL = "{hall["id"]}"\n')
    f.write(f"ROWS = {nrows}\n")
PY
PGCONN=${PG_URL:-postgres://postgres@127.0.0.1:${PGPORT:-0}/postgres}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$PGCONN")
if [ "$SHOWS_TOTAL" -gt 20 ] && [ "$DB" = postgres ]; then
  # Copies of the first show, 3 hours apart after the bench's own 20, straight into the tables
  # (every column copied, so columns later migrations add come along), then the hold targets:
  # up to 2,000 shows, enough fresh pairs for a short run even in a 100-seat hall.
  "${PSQL[@]}" -c "CREATE TEMP TABLE tpl AS SELECT * FROM shows ORDER BY starts_at LIMIT 1;
    INSERT INTO shows SELECT (jsonb_populate_record(NULL::shows, to_jsonb(t) || jsonb_build_object(
      'id', 'shw_' || lpad(g::text, 26, '0'), 'starts_at', t.starts_at + (40 + 3 * g) * 3600000::bigint,
      'ends_at', t.ends_at + (40 + 3 * g) * 3600000::bigint))).*
      FROM tpl t, generate_series(1, $SHOWS_TOTAL - 20) g;
    INSERT INTO show_prices (show_id, category, amount) SELECT 'shw_' || lpad(g::text, 26, '0'),
      p.category, p.amount FROM show_prices p JOIN tpl t ON p.show_id = t.id,
      generate_series(1, $SHOWS_TOTAL - 20) g;
    ANALYZE"
  "${PSQL[@]}" -At -c "SELECT 'SHOWS = {' || string_agg('\"' || id || '\"', ',' ORDER BY starts_at) || '}'
    FROM (SELECT id, starts_at FROM shows ORDER BY starts_at LIMIT 2000) s" >>"$TMP/setup.lua"
fi
echo "IDEM = $( [ "$IDEM" = 1 ] && echo true || echo false )" >>"$TMP/setup.lua"
cat "$TMP/setup.lua" bench/holds.lua > "$TMP/run.lua"
if [ "$PROFILE" = 1 ] && [ "$DB" = postgres ]; then
  "${PSQL[@]}" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
               -c "SELECT pg_stat_statements_reset(), pg_stat_reset(), pg_stat_reset_shared('wal')" >/dev/null
fi
echo "ticketd holds bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD) db=$DB${PG_URL:+ (PG_URL)} bin=$BIN workers=$WORKERS conns=$CONNS idem=$IDEM cpus=$(nproc)" \
  "shows=$( [ "$SHOWS_TOTAL" -gt 20 ] && echo "$SHOWS_TOTAL" || echo 20) hall_seats=$((HALL_ROWS * 100))"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
SERVER_PID=${PIDS[0]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }  # utime + stime of the server
# PostgreSQL's CPU (throwaway cluster only): the postmaster's own and reaped children's time plus
# its live children's (the backends, the WAL writer, the checkpointer...).
pg_ticks() {
  if [ -z "${PGBIN:-}" ]; then echo 0; return; fi
  local pm; pm=$(head -1 "$TMP/pg/postmaster.pid")
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done; } |
    awk '{t += $1} END {print t}'
}
per_req() { awk -v t="$1" -v h="$(getconf CLK_TCK)" -v n="$2" 'BEGIN{printf "%.3f", t*1000/h/n}'; }
CPU0=$(cpu_ticks)
if [ "${PERF:-0}" = 1 ] && [ -n "${PGBIN:-}" ]; then  # the whole machine; filtered by process after
  perf record -F 499 -g -a -o "$TMP/perf.data" -- sleep "$DUR" >/dev/null 2>&1 & PERFPID=$!
fi
PG0=$(pg_ticks)
/usr/bin/time -f "%U %S" -o "$TMP/wrk.time" wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$TMP/run.lua" "http://127.0.0.1:$PORT" | tee "$TMP/wrk.txt" |
  grep -E "Requests/sec|Latency  |50%|99%|Non-2xx|requests in|^status"
CPU1=$(cpu_ticks); PG1=$(pg_ticks)
# The server's own CPU time per request: less sensitive than throughput to what else runs on the
# machine (it does not count time spent waiting for a core or for the database).
REQS_DONE=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' "$TMP/wrk.txt")
echo "server cpu: $(( (CPU1 - CPU0) * 1000 / $(getconf CLK_TCK) )) ms for $REQS_DONE requests =" \
  "$(awk -v t=$(( CPU1 - CPU0 )) -v h=$(getconf CLK_TCK) -v n="$REQS_DONE" 'BEGIN{printf "%.3f", t*1000/h/n}') ms/request"
# Where a hold's time goes inside the server (GET /metrics' histograms): the whole request, its
# wait for a handler thread, and its wait for a database connection; means over the run's holds.
curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^ticketd_http_request_duration_seconds_(sum|count)\{.*route="\/api\/v1\/shows\/\{id\}\/holds".*method="POST"/ ||
  /^ticketd_http_request_duration_seconds_(sum|count)\{.*method="POST".*route="\/api\/v1\/shows\/\{id\}\/holds"/ {
    if ($1 ~ /_sum/) rs += $2; else rc += $2 }
  /^ticketd_handler_queue_wait_seconds_sum/ { qs += $2 } /^ticketd_handler_queue_wait_seconds_count/ { qc += $2 }
  /^ticketd_db_pool_wait_seconds_sum/ { ps += $2 } /^ticketd_db_pool_wait_seconds_count/ { pc += $2 }
  END { if (rc && qc && pc) printf "server time per hold (mean, /metrics): request %.2f ms, of which handler-queue wait %.2f ms, db-pool wait %.2f ms\n", rs / rc * 1000, qs / qc * 1000, ps / pc * 1000 }'
echo "wrk cpu: $(awk -v n="$REQS_DONE" '{printf "%.3f", ($1 + $2) * 1000 / n}' "$TMP/wrk.time") ms/request"
[ -n "${PGBIN:-}" ] && echo "postgres cpu: $(( (PG1 - PG0) * 1000 / $(getconf CLK_TCK) )) ms = $(per_req $(( PG1 - PG0 )) "$REQS_DONE") ms/request"
echo "load after:  $(uptime | sed 's/.*load average/load average/')"
if [ -n "${PERFPID:-}" ]; then
  wait "$PERFPID" || true
  PM=$(head -1 "$TMP/pg/postmaster.pid")
  PIDLIST="$SERVER_PID,$PM,$(pgrep -d, -P "$PM")"
  echo "-- perf -a during the wrk run: the server's and PostgreSQL's samples by command (% of all the machine's)"
  { perf report -i "$TMP/perf.data" --pid "$PIDLIST" --no-children --stdio --sort comm -g none 2>/dev/null |
      grep -E '^ +[0-9]' | head -8; } || true
  echo "-- perf: top symbols of the server (% of all the machine's samples)"
  { perf report -i "$TMP/perf.data" --pid "$SERVER_PID" --no-children --stdio --sort dso,symbol -g none 2>/dev/null |
      grep -E '^ +[0-9]' | head -25; } || true
  echo "-- perf: top symbols of PostgreSQL"
  { perf report -i "$TMP/perf.data" --pid "$PM,$(pgrep -d, -P "$PM")" --no-children --stdio --sort symbol -g none 2>/dev/null |
      grep -E '^ +[0-9]' | head -25; } || true
  cp "$TMP/perf.data" "${PERF_OUT:-/tmp/holds-perf.data}" 2>/dev/null || true
fi
if [ "$PROFILE" = 1 ] && [ "$DB" = postgres ]; then
  REQS=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' "$TMP/wrk.txt")
  echo "-- PostgreSQL per request ($REQS requests; includes the few other statements of the run)"
  "${PSQL[@]}" -P pager=off -c "SELECT round(sum(calls)::numeric / $REQS, 2) AS statements_per_req,
      round(sum(total_exec_time)::numeric / $REQS, 3) AS exec_ms_per_req FROM pg_stat_statements" \
    -c "SELECT round(xact_commit::numeric / $REQS, 2) AS commits_per_req,
      round(xact_rollback::numeric / $REQS, 2) AS rollbacks_per_req FROM pg_stat_database WHERE datname = 'postgres'" \
    -c "SELECT round(wal_sync::numeric / $REQS, 2) AS wal_syncs_per_req, wal_records / $REQS AS wal_records_per_req
      FROM pg_stat_wal" \
    -c "SELECT round(calls::numeric / $REQS, 2) AS per_req, calls, round(total_exec_time::numeric, 1) AS total_ms,
      round(mean_exec_time::numeric, 3) AS mean_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
fi
if [ "$PGBENCH" = 1 ] && [ "$DB" = postgres ]; then
  "${PSQL[@]}" -c "DELETE FROM seat_claims WHERE booking_id IS NULL" \
    -c "CREATE TABLE bench_shows AS SELECT row_number() OVER (ORDER BY starts_at) AS n, id FROM shows" \
    -c "CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY email) AS n, id FROM users
        WHERE email LIKE 'u%@bench.local'" \
    -c "CREATE TABLE bench_hall AS SELECT id AS hall FROM halls WHERE name = 'Big'" \
    -c "ALTER TABLE bench_shows ADD PRIMARY KEY (n)" -c "ALTER TABLE bench_users ADD PRIMARY KEY (n)" \
    -c "ANALYZE"
  echo "-- pgbench, bench/holds_pgbench.sql, -c $CONNS -j2 -T $DUR"
  PG0=$(pg_ticks)
  /usr/bin/time -f "%U %S" -o "$TMP/pgbench.time" pgbench -n -c "$CONNS" -j2 -T "$DUR" -M prepared \
    -f bench/holds_pgbench.sql "$PGCONN" >"$TMP/pgbench.txt" 2>&1 || { grep -m5 -iE "error|abort" "$TMP/pgbench.txt"; exit 1; }
  PG1=$(pg_ticks)
  grep -E "^tps|latency average|failed|processed|rror|bort" "$TMP/pgbench.txt"
  if [ -n "${PGBIN:-}" ]; then
    NTX=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pgbench.txt")
    echo "postgres cpu: $(( (PG1 - PG0) * 1000 / $(getconf CLK_TCK) )) ms = $(per_req $(( PG1 - PG0 )) "$NTX") ms/transaction;" \
      "pgbench cpu: $(awk -v n="$NTX" '{printf "%.3f", ($1 + $2) * 1000 / n}' "$TMP/pgbench.time") ms/transaction"
  fi
  TKT=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$TMP/wrk.txt")
  PGB=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pgbench.txt")
  echo "ratio holds: ticketd $TKT req/s / pgbench $PGB tps = $(awk -v a="$TKT" -v b="$PGB" 'BEGIN{printf "%.2f", a/b}')"
fi
