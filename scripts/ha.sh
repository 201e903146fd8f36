#!/usr/bin/env bash
# A local highly available set on loopback ports: a 3-member etcd and a 3-node PostgreSQL
# cluster managed by Patroni (streaming replication, synchronous_mode on), and Redis with one
# primary, two replicas and three sentinels (scripts/ha_redis.sh, in HA_DIR/redis), for trying
# failover and for tests. The production layout of the same set is in deploy/ (README there).
# Never touches the machine's own PostgreSQL or etcd, nor their default ports.
#
# Usage: scripts/ha.sh start          start etcd and Patroni, or report the running set
#        scripts/ha.sh stop           stop what start started (by pid), keep the data
#        scripts/ha.sh status         show pids, ports, roles; exit 0 when all are up
#        scripts/ha.sh destroy        stop, then remove the state directory
#        scripts/ha.sh failover-pg [node|postgres]
#                                     SIGKILL the PostgreSQL primary, wait for a primary that
#                                     accepts writes, print "failover-pg: <seconds>" and bring
#                                     the lost node back as a replica. node (the default): its
#                                     Patroni and its postgres die together, as when the machine
#                                     is lost, so another node is promoted; postgres: only the
#                                     postmaster dies and the node's Patroni recovers it (or
#                                     fails over, whichever is first).
#        scripts/ha.sh leader         print the name of the Patroni leader (pg1..pg3)
#        scripts/ha.sh failover-redis SIGKILL the Redis primary, wait for the sentinels to
#                                     promote a replica, print the time it took
#
# Everything lives in HA_DIR (default /tmp/ticketd-ha): etcd<i>/ and pg<i>/ (a node's data,
# patroni.yml and log), and ha.env, the state file (shell KEY=VALUE lines: pids, ports and
# DATABASE_URL, the libpq multi-host URL with target_session_attrs=read-write that ticketd
# uses). Only pids recorded there are ever signalled, and only after checking that the process
# is still the one started (its command line). The set is made of one function per component
# (etcd_*, pg_*), so that a Redis Sentinel part can sit beside them.
#
# Environment (optional): HA_DIR, HA_TTL (Patroni's leader key TTL, 20 s; a lost primary is
# replaced after about that long), HA_FSYNC (off: the loopback set trades crash safety of the
# OS for speed; a postgres SIGKILL loses nothing with fsync off, a machine crash could),
# HA_REJOIN (yes: failover-pg restarts the lost node's Patroni; no: leaves it down),
# HA_PARTS ("pg redis": which parts start and stop starts; "pg" leaves Redis out).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${HA_DIR:-/tmp/ticketd-ha}
STATE=$DIR/ha.env
PY=/usr/bin/python3
TTL=${HA_TTL:-20}
# Patroni wants loop_wait + 2 * retry_timeout <= ttl.
RETRY=$(((TTL - 2) / 2))
[ "$RETRY" -lt 3 ] && RETRY=3
FSYNC=${HA_FSYNC:-off}
NODES=3
PARTS=${HA_PARTS:-pg redis}
REDIS_HA=("$REPO/scripts/ha_redis.sh")
redis_part() { HA_DIR="$DIR/redis" "${REDIS_HA[@]}" "$@"; }
wants_redis() { case " $PARTS " in *" redis "*) return 0 ;; esac; return 1; }

PROC_TAG=ha
# shellcheck source-path=SCRIPTDIR source=lib/proc.sh
. "$REPO/scripts/lib/proc.sh"

# Runs a command as the postgres user when we are root (PostgreSQL refuses to run as root).
# Every step execs the next, so a backgrounded `(as_postgres cmd ...) &` has the command's
# own pid in $!.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --reuid postgres --regid postgres --init-groups --reset-env -- \
      env PATH=/usr/bin:/bin HOME="$DIR" "$@"
  fi
  exec "$@"
}

# Ports free_port never hands out: the services' default ports.
USED_PORTS=" 80 2379 2380 5432 6379 8008 "

# The pid's position i (1-based) in a space-separated list.
nth() { echo "$1" | cut -d' ' -f"$2"; }

write_state() {
  local tmp=$STATE.tmp
  {
    echo "# written by scripts/ha.sh; read by its stop, status and failover-pg"
    printf 'HA_DIR=%q\nPG_BIN=%q\n' "$DIR" "${PG_BIN:-}"
    printf 'ETCD_PIDS=%q\nETCD_CLIENT_PORTS=%q\nETCD_PEER_PORTS=%q\nETCD_HOSTS=%q\n' \
      "${ETCD_PIDS:-}" "${ETCD_CLIENT_PORTS:-}" "${ETCD_PEER_PORTS:-}" "${ETCD_HOSTS:-}"
    printf 'PATRONI_PIDS=%q\nPG_PORTS=%q\nREST_PORTS=%q\nDATABASE_URL=%q\n' \
      "${PATRONI_PIDS:-}" "${PG_PORTS:-}" "${REST_PORTS:-}" "${DATABASE_URL:-}"
  } >"$tmp"
  mv "$tmp" "$STATE"
}

# ---- etcd: three members on loopback ----

etcd_start() {
  local i cp pp cluster="" token
  ETCD_PIDS=""; ETCD_CLIENT_PORTS=""; ETCD_PEER_PORTS=""; ETCD_HOSTS=""
  for i in $(seq "$NODES"); do
    free_port cp; free_port pp
    ETCD_CLIENT_PORTS+="${ETCD_CLIENT_PORTS:+ }$cp"
    ETCD_PEER_PORTS+="${ETCD_PEER_PORTS:+ }$pp"
    ETCD_HOSTS+="${ETCD_HOSTS:+,}127.0.0.1:$cp"
    cluster+="${cluster:+,}etcd$i=http://127.0.0.1:$pp"
  done
  # A token of its own, so that members of another set can never join this one.
  token=ticketd-ha-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  for i in $(seq "$NODES"); do
    cp=$(nth "$ETCD_CLIENT_PORTS" "$i"); pp=$(nth "$ETCD_PEER_PORTS" "$i")
    mkdir -p "$DIR/etcd$i"
    setsid etcd --name "etcd$i" --data-dir "$DIR/etcd$i/data" \
      --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
      --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token "$token" --heartbeat-interval 100 --election-timeout 1000 \
      --enable-v2=true \
      </dev/null >>"$DIR/etcd$i/etcd.log" 2>&1 &
    ETCD_PIDS+="${ETCD_PIDS:+ }$!"
    write_state
  done
  for _ in $(seq 150); do
    etcd_healthy && break
    sleep 0.2
  done
  etcd_healthy || { tail -20 "$DIR/etcd1/etcd.log" >&2; die "etcd did not become healthy"; }
  say "etcd on $ETCD_HOSTS (pids $ETCD_PIDS)"
}

# The member i answers /health with health true.
etcd_member_ok() {
  curl -sf -m 2 "http://127.0.0.1:$(nth "$ETCD_CLIENT_PORTS" "$1")/health" 2>/dev/null |
    grep -q '"health":"true"'
}

etcd_healthy() {
  local i
  for i in $(seq "$NODES"); do etcd_member_ok "$i" || return 1; done
}

etcd_stop() {
  local i=0 pid jobs=()
  for pid in ${ETCD_PIDS:-}; do
    i=$((i + 1))
    stop_pid "etcd$i" "$pid" "--name etcd$i" &
    jobs+=($!)
  done
  # Only these: a bare `wait` would also wait for the servers this shell started.
  [ ${#jobs[@]} -eq 0 ] || wait "${jobs[@]}"
}

etcd_report() {
  local i ok=0
  for i in $(seq "$NODES"); do
    if pid_is "$(nth "$ETCD_PIDS" "$i")" "--name etcd$i" && etcd_member_ok "$i"; then
      say "etcd$i     port $(nth "$ETCD_CLIENT_PORTS" "$i")  pid $(nth "$ETCD_PIDS" "$i")  up"
    else say "etcd$i     port $(nth "$ETCD_CLIENT_PORTS" "$i")  DOWN"; ok=3; fi
  done
  return $ok
}

# ---- PostgreSQL under Patroni: three nodes ----

# Writes pg<i>/patroni.yml. bootstrap.dcs is read once, when the cluster is first made.
pg_config() {
  local i=$1 port rest d=$DIR/pg$1
  port=$(nth "$PG_PORTS" "$i"); rest=$(nth "$REST_PORTS" "$i")
  cat >"$d/patroni.yml" <<EOF
# Generated by scripts/ha.sh (the production templates are deploy/patroni/*.yml).
scope: ticketd-ha
namespace: /ticketd/
name: pg$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
# etcd's v2 API, not etcd3: Patroni 3.0.2 (Debian 12) renews its leader key through etcd3
# with an unconditional put, so a primary frozen past the key's TTL (SIGSTOP, a VM pause)
# takes the key back from the replica promoted meanwhile on waking, and that replica's
# acknowledged writes are rewound away (upstream fix: patroni PR 2689, in 3.0.3). The v2
# backend renews with compare-and-swap on the key's value (prevValue = its own name).
# tests/api/test_ha_sale.py's partition test catches it.
etcd:
  hosts: $ETCD_HOSTS
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: 2
    retry_timeout: $RETRY
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 200
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        fsync: "$FSYNC"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $d/data
  bin_dir: $PG_BIN
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
      password: ticketd-ha
    replication:
      username: replicator
      password: ticketd-ha
  parameters:
    unix_socket_directories: $d
EOF
}

pg_start_node() {
  local i=$1 d=$DIR/pg$1 pid
  (as_postgres setsid patroni "$d/patroni.yml" </dev/null >>"$d/patroni.log" 2>&1) &
  pid=$!
  if [ -z "${PATRONI_PIDS:-}" ] || [ "$(echo "$PATRONI_PIDS" | wc -w)" -lt "$i" ]; then
    PATRONI_PIDS+="${PATRONI_PIDS:+ }$pid"
  else
    PATRONI_PIDS=$(echo "$PATRONI_PIDS" | awk -v i="$i" -v p="$pid" '{ $i = p; print }')
  fi
  write_state
}

pg_start() {
  local i port hosts=""
  PG_BIN=$(pg_bindir)
  PG_PORTS=""; REST_PORTS=""; PATRONI_PIDS=""
  for i in $(seq "$NODES"); do
    free_port port; PG_PORTS+="${PG_PORTS:+ }$port"
    free_port port; REST_PORTS+="${REST_PORTS:+ }$port"
    hosts+="${hosts:+,}127.0.0.1:$(nth "$PG_PORTS" "$i")"
  done
  DATABASE_URL="postgres://postgres@$hosts/ticketd?target_session_attrs=read-write&connect_timeout=2"
  for i in $(seq "$NODES"); do
    mkdir -p "$DIR/pg$i"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR/pg$i"; fi
    pg_config "$i"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR/pg$i/patroni.yml"
  done
  # The first node alone, so that it bootstraps the cluster; the others then clone it.
  pg_start_node 1
  wait_primary 90 || { tail -30 "$DIR/pg1/patroni.log" >&2; die "no PostgreSQL primary"; }
  for i in $(seq 2 "$NODES"); do pg_start_node "$i"; done
  wait_streaming 120 || { tail -30 "$DIR/pg2/patroni.log" >&2; die "the replicas did not start"; }
  "$PG_BIN/psql" "$DATABASE_URL" -qAtc "SELECT 1" >/dev/null 2>&1 ||
    "$PG_BIN/psql" "${DATABASE_URL/\/ticketd\?//postgres?}" -qc "CREATE DATABASE ticketd" ||
    die "could not create the ticketd database"
  say "postgres on $hosts (patroni pids $PATRONI_PIDS; leader $(pg_leader))"
}

# Patroni's view of the cluster as JSON (from any node that answers), or nothing.
pg_cluster_json() {
  local port
  for port in $REST_PORTS; do
    curl -sf -m 2 "http://127.0.0.1:$port/cluster" 2>/dev/null && return 0
  done
  return 1
}

# The leader's name (pg<i>) when it runs, else nothing.
pg_leader() {
  pg_cluster_json | $PY -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    if m.get("role") == "leader" and m.get("state") == "running":
        print(m["name"])' 2>/dev/null || true
}

# Waits (up to $1 s) until a node accepts writes through the multi-host URL.
wait_primary() {
  local end=$((SECONDS + $1)) url="${DATABASE_URL/\/ticketd\?//postgres?}"
  while [ $SECONDS -lt $end ]; do
    "$PG_BIN/psql" "$url" -qAtc "SELECT NOT pg_is_in_recovery()" 2>/dev/null | grep -q t &&
      return 0
    sleep 0.2
  done
  return 1
}

# Waits (up to $1 s) until every replica streams and one is the synchronous standby.
wait_streaming() {
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do
    if pg_cluster_json | $PY -c '
import json, sys
ms = json.load(sys.stdin).get("members", [])
ok = len(ms) == '"$NODES"' and all(m.get("state") in ("running", "streaming") for m in ms)
sys.exit(0 if ok and any(m.get("role") == "sync_standby" for m in ms) else 1)' 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# The postmaster's pid of node i, from its postmaster.pid, if it runs.
pg_postmaster() {
  local f=$DIR/pg$1/data/postmaster.pid pid
  [ -f "$f" ] || return 1
  pid=$(head -1 "$f" 2>/dev/null) || return 1
  pid_is "$pid" "postgres" || return 1
  echo "$pid"
}

pg_stop() {
  local i=0 pid jobs=()
  for pid in ${PATRONI_PIDS:-}; do
    i=$((i + 1))
    # Patroni stops its postgres on TERM.
    stop_pid "patroni pg$i" "$pid" "$DIR/pg$i/patroni.yml" &
    jobs+=($!)
  done
  [ ${#jobs[@]} -eq 0 ] || wait "${jobs[@]}"
  # A postgres whose Patroni was killed (failover-pg) outlives it: stop it directly.
  for i in $(seq "$NODES"); do
    if pg_postmaster "$i" >/dev/null; then
      (as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg$i/data" -m fast -w -t 60 stop) >/dev/null 2>&1 &&
        say "stopped postgres pg$i"
    fi
  done
}

pg_report() {
  local i ok=0 roles
  roles=$(pg_cluster_json | $PY -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m["name"], m.get("role", "?"), m.get("state", "?"), m.get("lag", ""))' 2>/dev/null || true)
  for i in $(seq "$NODES"); do
    local line
    line=$(grep "^pg$i " <<<"$roles" || true)
    if pid_is "$(nth "$PATRONI_PIDS" "$i")" "$DIR/pg$i/patroni.yml" && [ -n "$line" ]; then
      say "pg$i       port $(nth "$PG_PORTS" "$i")  patroni pid $(nth "$PATRONI_PIDS" "$i")  ${line#pg$i }"
    else say "pg$i       port $(nth "$PG_PORTS" "$i")  DOWN"; ok=3; fi
  done
  [ -n "$(pg_leader)" ] || { say "no leader"; ok=3; }
  say "DATABASE_URL=$DATABASE_URL"
  return $ok
}

pg_failover() {
  local how=${1:-node} leader i pid pm t0 t1
  leader=$(pg_leader)
  [ -n "$leader" ] || die "no leader to kill"
  i=${leader#pg}
  pid=$(nth "$PATRONI_PIDS" "$i")
  pm=$(pg_postmaster "$i") || die "the leader $leader has no postmaster"
  local kids
  kids=$(pgrep -P "$pm" | tr '\n' ' ' || true)
  if [ "$how" = node ]; then
    # The machine is gone: its Patroni, its postmaster and the postmaster's children at once.
    pid_is "$pid" "$DIR/pg$i/patroni.yml" && kill -KILL "$pid"
    # shellcheck disable=SC2086
    kill -KILL "$pm" $kids 2>/dev/null || true
  else
    kill -KILL "$pm"
  fi
  # Taken once the signals are sent: a request answered after it was not answered by the
  # killed primary.
  t0=$(date +%s.%N)
  say "killed $leader ($how) at $t0"
  wait_primary $((TTL * 3 + 30)) || die "no new primary after $((TTL * 3 + 30)) s"
  t1=$(date +%s.%N)
  say "primary now $(pg_leader)"
  echo "failover-pg: $($PY -c "print(f'{$t1 - $t0:.2f}')")"
  if [ "$how" = node ] && [ "${HA_REJOIN:-yes}" = yes ]; then
    pg_start_node "$i"
    wait_streaming 120 || say "warning: $leader has not rejoined as a replica yet"
  fi
}

# ---- commands ----

report() {
  local ok=0
  load_state || { say "not running (no $STATE)"; return 3; }
  etcd_report || ok=3
  pg_report || ok=3
  if [ -f "$DIR/redis/ha.env" ]; then
    redis_part status || ok=3
  fi
  return $ok
}

do_stop() {
  if [ -f "$DIR/redis/ha.env" ]; then
    redis_part stop || true
  fi
  load_state || { say "nothing to stop (no $STATE)"; return 0; }
  pg_stop
  etcd_stop
  rm -f "$STATE"
}

do_start() {
  command -v etcd >/dev/null && command -v patroni >/dev/null ||
    die "etcd and patroni are needed: scripts/deps.sh test (apt-get install etcd-server patroni)"
  if load_state; then
    if report >/dev/null 2>&1; then
      say "already running"
      report
      return 0
    fi
    say "a previous set is partly down; stopping what is left of it"
    do_stop
  fi
  # Data of an earlier set would point at other ports: a fresh start begins from nothing.
  [ -d "$DIR" ] && [ -f "$DIR/.ticketd-ha" ] && rm -rf "$DIR"
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  if [ "$(id -u)" -eq 0 ] && ! (as_postgres test -x "$DIR"); then
    die "the postgres user cannot reach $DIR (a parent directory is private): choose another HA_DIR"
  fi
  touch "$DIR/.ticketd-ha"
  trap 'echo "ha: start failed; stopping what was started" >&2; do_stop >&2' EXIT
  etcd_start
  pg_start
  if wants_redis; then
    redis_part start
  fi
  trap - EXIT
  say "up (state and logs in $DIR)"
  echo "$DATABASE_URL"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) report ;;
  leader) load_state || die "not running"; pg_leader ;;
  failover-pg)
    load_state || die "not running"
    case "${2:-node}" in node | postgres) ;; *) die "failover-pg node|postgres" ;; esac
    pg_failover "${2:-node}"
    ;;
  failover-redis) redis_part failover-redis ;;
  destroy)
    do_stop
    if [ -f "$DIR/.ticketd-ha" ] && [ ! -f "$STATE" ]; then
      rm -rf "$DIR"
      say "removed $DIR"
    fi
    ;;
  *)
    sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
