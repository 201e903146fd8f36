#!/usr/bin/env bash
# A local ticketd cluster on loopback ports: one PostgreSQL, one Redis, N ticketd servers and
# nginx in front of them (built from deploy/nginx.conf), for trying the multi-server setup and
# for tests. Never touches the machine's own PostgreSQL, Redis or nginx, nor port 80.
#
# Usage: scripts/cluster.sh start [N]   start N servers (3), or report the running cluster
#        scripts/cluster.sh stop        stop what start started (by pid), keep the data
#        scripts/cluster.sh status      show pids, ports and health; exit 0 when all are up
#        scripts/cluster.sh destroy     stop, then remove the state directory
#
# Everything lives in CLUSTER_DIR (default /tmp/ticketd-cluster): the PostgreSQL data, logs,
# the generated nginx configuration, the JWT secrets of the cluster and cluster.env, the state
# file (shell KEY=VALUE lines: pids, ports, URL). Only pids recorded there are ever signalled,
# and only after checking that the process is still the one started (its command line or its
# TICKETD_CLUSTER variable). A second `start` of a running cluster changes nothing.
#
# Environment (optional): TICKETD_BIN (build/ticketd), CLUSTER_DIR, CLUSTER_PORT (nginx's port;
# a free one by default), WORKERS (8 per server), PG_EXTRA_OPTS (more postgres -c options, e.g.
# bench/opening.sh PROFILE=1 loads pg_stat_statements). Any other ticketd variable set here (e.g.
# RATE_LIMIT_*, HOLD_TTL, LOG_LEVEL, JWT_*_SECRET, ADMIN_EMAIL/ADMIN_PASSWORD) reaches the
# servers unchanged; PORT, DATABASE_URL and REDIS_URL are the cluster's own.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CLUSTER_DIR:-/tmp/ticketd-cluster}
STATE=$DIR/cluster.env
BIN=${TICKETD_BIN:-$REPO/build/ticketd}
TEMPLATE=$REPO/deploy/nginx.conf
PY=/usr/bin/python3

PROC_TAG=cluster
# shellcheck source-path=SCRIPTDIR source=lib/proc.sh
. "$REPO/scripts/lib/proc.sh"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Ports free_port never hands out.
USED_PORTS=" 80 5432 6379 "

health() { curl -sf -m 2 -o /dev/null "http://127.0.0.1:$1${2:-/healthz}"; }

# Prints one line per part; returns 0 when every part is up.
report() {
  local ok=0 i port pid
  load_state || { say "not running (no $STATE)"; return 3; }
  if as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    say "postgres  port $PG_PORT  up"
  else say "postgres  port $PG_PORT  DOWN"; ok=3; fi
  if pid_is "$REDIS_PID" "redis-server" && pid_is "$REDIS_PID" ":$REDIS_PORT"; then
    say "redis     port $REDIS_PORT  pid $REDIS_PID  up"
  else say "redis     port $REDIS_PORT  DOWN"; ok=3; fi
  i=0
  for port in $TICKETD_PORTS; do
    i=$((i + 1)); pid=$(echo "$TICKETD_PIDS" | cut -d' ' -f$i)
    if pid_is "$pid" "env:TICKETD_CLUSTER=$DIR" && health "$port"; then
      say "ticketd$i  port $port  pid $pid  up"
    else say "ticketd$i  port $port  DOWN"; ok=3; fi
  done
  if pid_is "$NGINX_PID" "$DIR/nginx.conf" && health "$NGINX_PORT"; then
    say "nginx     port $NGINX_PORT  pid $NGINX_PID  up"
  else say "nginx     port $NGINX_PORT  DOWN"; ok=3; fi
  say "$URL"
  return $ok
}

write_state() {
  local tmp=$STATE.tmp
  {
    echo "# written by scripts/cluster.sh; read by its stop and status"
    printf 'CLUSTER_DIR=%q\nSERVERS=%q\nURL=%q\n' "$DIR" "$N" "http://127.0.0.1:${NGINX_PORT:-0}"
    printf 'PG_BIN=%q\nPG_DATA=%q\nPG_PORT=%q\nDATABASE_URL=%q\n' "$PG_BIN" "$PG_DATA" \
      "$PG_PORT" "${DATABASE_URL:-}"
    printf 'REDIS_PID=%q\nREDIS_PORT=%q\nREDIS_URL=%q\n' "${REDIS_PID:-}" "${REDIS_PORT:-}" \
      "${REDIS_URL:-}"
    printf 'TICKETD_PIDS=%q\nTICKETD_PORTS=%q\n' "${TICKETD_PIDS:-}" "${TICKETD_PORTS:-}"
    printf 'NGINX_PID=%q\nNGINX_PORT=%q\n' "${NGINX_PID:-}" "${NGINX_PORT:-}"
  } >"$tmp"
  mv "$tmp" "$STATE"
}

# ---- the parts ----

start_postgres() {
  PG_BIN=$(pg_bindir)
  # $DIR/pg belongs to the postgres user (initdb and pg_ctl refuse to run as root): the data
  # directory, the socket and the log.
  PG_DATA=$DIR/pg/data
  free_port PG_PORT
  mkdir -p "$DIR/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR/pg"; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-sync \
      >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  write_state
  # Enough connections for every server's pool (WORKERS + 2) and the jobs, with room to spare.
  local maxconn=$((N * (WORKERS + 4) + 20))
  [ "$maxconn" -lt 100 ] && maxconn=100
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$DIR/pg/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=$maxconn -c fsync=off ${PG_EXTRA_OPTS:-}" \
    start >/dev/null || { tail -20 "$DIR/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
  as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'ticketd'" | grep -q 1 ||
    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ticketd
  DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/ticketd"
  say "postgres on 127.0.0.1:$PG_PORT ($PG_DATA)"
}

start_redis() {
  free_port REDIS_PORT
  mkdir -p "$DIR/redis"
  setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$DIR/redis" --logfile "$DIR/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
  REDIS_PID=$!
  write_state
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG ||
    { tail -20 "$DIR/redis.log" >&2; die "redis-server did not start"; }
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  say "redis on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"
}

# The cluster's JWT secrets: from the environment, else made once and kept in the state dir so
# that tokens stay valid across restarts.
secrets() {
  local f=$DIR/secrets.env access=${JWT_ACCESS_SECRET:-} refresh=${JWT_REFRESH_SECRET:-}
  if [ ! -f "$f" ]; then
    (umask 077
     printf 'JWT_ACCESS_SECRET=%s\nJWT_REFRESH_SECRET=%s\n' \
       "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
       "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$f")
  fi
  # shellcheck disable=SC1090
  . "$f"
  export JWT_ACCESS_SECRET=${access:-$JWT_ACCESS_SECRET}
  export JWT_REFRESH_SECRET=${refresh:-$JWT_REFRESH_SECRET}
}

start_servers() {
  local i port pid
  export DATABASE_URL REDIS_URL WORKERS TICKETD_CLUSTER=$DIR
  export BIND_ADDRESS=127.0.0.1 MEDIA_DIR=${MEDIA_DIR:-$DIR/media}
  export TRUST_PROXY=${TRUST_PROXY:-on} TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1/32}
  export ADMIN_EMAIL=${ADMIN_EMAIL:-admin@ticketd.local} ADMIN_PASSWORD=${ADMIN_PASSWORD:-admin-password}
  mkdir -p "$MEDIA_DIR"
  (cd "$DIR" && "$BIN" migrate >"$DIR/migrate.log" 2>&1) ||
    { cat "$DIR/migrate.log" >&2; die "ticketd migrate failed"; }
  TICKETD_PIDS=""; TICKETD_PORTS=""
  for i in $(seq "$N"); do
    free_port port
    (cd "$DIR" && PORT=$port exec setsid "$BIN" serve </dev/null >>"$DIR/ticketd$i.log" 2>&1) &
    pid=$!
    TICKETD_PIDS="${TICKETD_PIDS:+$TICKETD_PIDS }$pid"
    TICKETD_PORTS="${TICKETD_PORTS:+$TICKETD_PORTS }$port"
    write_state
    # One at a time: the first creates the admin account, the next ones find it.
    for _ in $(seq 200); do
      health "$port" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    health "$port" || { tail -20 "$DIR/ticketd$i.log" >&2; die "ticketd$i did not start"; }
    say "ticketd$i on 127.0.0.1:$port (pid $pid)"
  done
}

# nginx.conf (main) + site.conf (deploy/nginx.conf with the cluster's servers, port and log).
nginx_conf() {
  local servers="" port user=""
  for port in $TICKETD_PORTS; do
    servers+="    server 127.0.0.1:$port max_fails=3 fail_timeout=10s;"$'\n'
  done
  mkdir -p "$DIR/nginx"
  SERVERS_TEXT=$servers awk -v listen="    listen 127.0.0.1:$NGINX_PORT;" \
    -v alog="    access_log $DIR/nginx-access.log ticketd;" '
    /# @servers-begin/ { printf "%s", ENVIRON["SERVERS_TEXT"]; skip = 1; next }
    /# @servers-end/   { skip = 0; next }
    skip               { next }
    /# @listen/        { print listen; next }
    /# @access_log/    { print alog; next }
    { print }' "$TEMPLATE" >"$DIR/site.conf"
  grep -q "listen 127.0.0.1:$NGINX_PORT;" "$DIR/site.conf" || die "$TEMPLATE lost its @listen marker"
  if [ "$(id -u)" -eq 0 ]; then
    user="user nobody nogroup;"
    chown nobody:nogroup "$DIR/nginx"
  fi
  cat >"$DIR/nginx.conf" <<EOF
# Generated by scripts/cluster.sh from deploy/nginx.conf; rewritten at every start.
$user
worker_processes 2;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $DIR/nginx/client_body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    default_type application/octet-stream;
    include $DIR/site.conf;
}
EOF
}

start_nginx() {
  if [ -n "${CLUSTER_PORT:-}" ]; then NGINX_PORT=$CLUSTER_PORT; else free_port NGINX_PORT; fi
  nginx_conf
  nginx -q -t -p "$DIR" -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" ||
    die "the generated nginx configuration does not pass nginx -t"
  setsid nginx -p "$DIR" -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" </dev/null \
    >>"$DIR/nginx.out" 2>&1 &
  NGINX_PID=$!
  write_state
  for _ in $(seq 100); do
    health "$NGINX_PORT" && break
    sleep 0.05
  done
  health "$NGINX_PORT" || { tail -20 "$DIR/nginx-error.log" >&2; die "nginx did not start"; }
  say "nginx on 127.0.0.1:$NGINX_PORT (pid $NGINX_PID)"
}

# ---- commands ----

do_stop() {
  local i pid stoppers=()
  load_state || { say "nothing to stop (no $STATE)"; return 0; }
  stop_pid nginx "${NGINX_PID:-}" "$DIR/nginx.conf" QUIT
  i=0
  for pid in ${TICKETD_PIDS:-}; do
    i=$((i + 1))
    stop_pid "ticketd$i" "$pid" "env:TICKETD_CLUSTER=$DIR" &
    stoppers+=($!)
  done
  # Only the stoppers: after a failed start this runs in start's own shell, whose children
  # include the servers it started (redis, ticketd), and a bare `wait` waited for them forever.
  [ ${#stoppers[@]} -eq 0 ] || wait "${stoppers[@]}"
  stop_pid redis "${REDIS_PID:-}" "redis-server"
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    if as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
      say "stopped postgres"
    fi
  fi
  rm -f "$STATE"
}

do_start() {
  [ -x "$BIN" ] || die "$BIN not found: build first (make build) or set TICKETD_BIN"
  if ! command -v nginx >/dev/null || ! command -v redis-server >/dev/null; then
    die "nginx and redis-server are needed: scripts/deps.sh test"
  fi
  if load_state; then
    if report >/dev/null 2>&1; then
      [ "${SERVERS:-}" = "$N" ] || die "already running with $SERVERS servers; stop it first"
      say "already running"
      report
      return 0
    fi
    say "a previous cluster is partly down; stopping what is left of it"
    do_stop
  fi
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  trap 'echo "cluster: start failed; stopping what was started" >&2; do_stop >&2' EXIT
  secrets
  start_postgres
  start_redis
  start_servers
  start_nginx
  trap - EXIT
  load_state
  say "up: $SERVERS servers behind $URL (admin: $ADMIN_EMAIL; logs and state in $DIR)"
  echo "$URL"
}

WORKERS=${WORKERS:-8}
case "${1:-}" in
  start)
    N=${2:-3}
    [[ "$N" =~ ^[1-9][0-9]?$ ]] || die "N must be 1 to 99"
    do_start
    ;;
  stop) do_stop ;;
  status) report ;;
  destroy)
    do_stop
    # Only a directory that start made (it holds secrets.env) and that stop emptied of processes.
    if [ -f "$DIR/secrets.env" ] && [ ! -f "$STATE" ]; then
      rm -rf "$DIR"
      say "removed $DIR"
    fi
    ;;
  *)
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
