#!/usr/bin/env bash
# Benchmarks of the release build with wrk on loopback: /healthz (the HTTP floor) and /api/v1/me
# (JWT verification + one indexed read), on SQLite and on a throwaway PostgreSQL.
# Usage: bench/run.sh [seconds]   — results go to stdout and bench/results/<date>.txt
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
BIN=./build/ticketd
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
TMP=$(mktemp -d); chmod 755 "$TMP"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
            [ -n "${PGBIN:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m fast stop >/dev/null 2>&1 || true
            rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export JWT_ACCESS_SECRET=bench-access-secret-0123456789abcdefghij JWT_REFRESH_SECRET=bench-refresh-secret-0123456789abcdefghij
export PASSWORD_HASH_COST=min LOG_LEVEL=warn BIND_ADDRESS=127.0.0.1 WORKERS=${WORKERS:-16}

run_server() { # $1 = DATABASE_URL
  PORT=$(free_port); DATABASE_URL=$1 PORT=$PORT $BIN 2>"$TMP/server.log" & PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; cat "$TMP/server.log" >&2; exit 1
}
token() {
  curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench$RANDOM@example.com\",\"password\":\"bench-password\",\"name\":\"Bench\"}" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
bench() { # $1 label, rest: wrk args
  local label=$1; shift
  echo "== $label"; wrk -t2 -c64 -d"${DUR}s" --latency "$@" | grep -E "Requests/sec|Latency  |99%|50%"
}

echo "ticketd bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD) workers=$WORKERS cpus=$(nproc)"
run_server "sqlite://$TMP/bench.db"
bench "sqlite  GET /healthz" "http://127.0.0.1:$PORT/healthz"
TOK=$(token)
bench "sqlite  GET /api/v1/me" -H "Authorization: Bearer $TOK" "http://127.0.0.1:$PORT/api/v1/me"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=$(free_port); mkdir "$TMP/pg"; chown postgres "$TMP/pg" "$TMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=200" -l "$TMP/pg.log" -w start >/dev/null
run_server "postgres://postgres@127.0.0.1:$PGPORT/postgres"
bench "postgres GET /healthz" "http://127.0.0.1:$PORT/healthz"
TOK=$(token)
bench "postgres GET /api/v1/me" -H "Authorization: Bearer $TOK" "http://127.0.0.1:$PORT/api/v1/me"
