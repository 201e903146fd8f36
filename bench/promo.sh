#!/usr/bin/env bash
# Hold -> book throughput with and without a promo code (bench/promo.py: set-up, alternating
# rounds, checks) against one ticketd on PostgreSQL (scripts/cluster.sh start 1: one PostgreSQL,
# one Redis, one server, in a temp dir) and one on SQLite (a temp database file), one after the
# other; both reports go to OUT.
#
# Usage: bench/promo.sh
# Environment: USERS (300), CLIENTS (8), ROUNDS (3), WORKERS (8), DBS ("postgres sqlite"),
#   TICKETD_BIN (build/ticketd), OUT (bench/results/2026-12-06-promo.txt; "-" = none).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TICKETD_BIN:-$PWD/build/ticketd}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
OUT=${OUT:-bench/results/2026-12-06-promo.txt}
export TICKETD_BIN=$BIN
export RATE_LIMIT=off PASSWORD_HASH_COST=min LOG_LEVEL=warn WORKERS=${WORKERS:-8}
export ADMIN_EMAIL=admin@promo.test ADMIN_PASSWORD=promo-admin-password
export JWT_ACCESS_SECRET=promo-bench-access-secret-0123456789abcdef
export JWT_REFRESH_SECRET=promo-bench-refresh-secret-0123456789abcdef
LOG=$(mktemp /tmp/ticketd-promo-report-XXXXXX)
TMP=$(mktemp -d /tmp/ticketd-promo-XXXXXX)
SQLITE_PID=
cleanup() {
  if [ -n "${CLUSTER_DIR:-}" ]; then scripts/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$CLUSTER_DIR"; fi
  [ -n "$SQLITE_PID" ] && kill "$SQLITE_PID" 2>/dev/null || true
  rm -rf "$TMP" "$LOG"
}
trap cleanup EXIT

bench() { # port label
  /usr/bin/python3 -u bench/promo.py --port "$1" --admin-email "$ADMIN_EMAIL" \
    --admin-password "$ADMIN_PASSWORD" --users "${USERS:-300}" --clients "${CLIENTS:-8}" \
    --rounds "${ROUNDS:-3}" 2>&1 | tee -a "$LOG"
  return "${PIPESTATUS[0]}"
}

echo "ticketd promo hold->book bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') cpus=$(nproc)" | tee "$LOG"
rc=0
for db in ${DBS:-postgres sqlite}; do
  echo | tee -a "$LOG"
  echo "load before: $(uptime)" | tee -a "$LOG"
  if [ "$db" = postgres ]; then
    CLUSTER_DIR=$(mktemp -d /tmp/ticketd-promo-cluster-XXXXXX)
    export CLUSTER_DIR
    scripts/cluster.sh start 1 >"$TMP/start.out" 2>&1 || { cat "$TMP/start.out" >&2; exit 1; }
    PORT=$(. "$CLUSTER_DIR/cluster.env"; echo "$TICKETD_PORTS")
    echo "== PostgreSQL: one ticketd (WORKERS=$WORKERS, release build), Redis; clients straight to the server" | tee -a "$LOG"
    bench "$PORT" || rc=$?
    echo "server log lines at level error: $(cat "$CLUSTER_DIR"/ticketd*.log 2>/dev/null | grep -c '"level":"error"' || true)" | tee -a "$LOG"
    scripts/cluster.sh stop >/dev/null 2>&1 || true
    rm -rf "$CLUSTER_DIR"
    unset CLUSTER_DIR
  else
    PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    (cd "$TMP" && PORT=$PORT BIND_ADDRESS=127.0.0.1 DATABASE_URL="sqlite://$TMP/promo.db" \
      exec "$BIN" >"$TMP/sqlite.log" 2>&1) &
    SQLITE_PID=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    echo "== SQLite: one ticketd (WORKERS=$WORKERS, release build), in-process cache; clients straight to the server" | tee -a "$LOG"
    bench "$PORT" || rc=$?
    echo "server log lines at level error: $(grep -c '"level":"error"' "$TMP/sqlite.log" || true)" | tee -a "$LOG"
    kill "$SQLITE_PID"; wait "$SQLITE_PID" 2>/dev/null || true; SQLITE_PID=
  fi
  echo "load after: $(uptime)" | tee -a "$LOG"
done
echo "exit status: $rc" | tee -a "$LOG"
if [ "$OUT" != - ]; then cp "$LOG" "$OUT"; chmod 644 "$OUT"; echo "saved to $OUT"; fi
exit "$rc"
