#!/usr/bin/env bash
# The Redis part of scripts/ha.sh (which calls it with HA_DIR=<its HA_DIR>/redis; it also runs
# alone): one primary, two replicas and three sentinels (Debian's redis-sentinel, quorum 2) on
# free loopback ports, each node in its own directory, with the settings of
# deploy/sentinel.conf but short time-outs.
#
# Usage: scripts/ha.sh start            start the set (or report the running one)
#        scripts/ha.sh stop             stop what start started (by pid), keep the directories
#        scripts/ha.sh status           pids, ports, roles; exit 0 when every node is up
#        scripts/ha.sh failover-redis   SIGKILL the current Redis primary, wait for the
#                                       sentinels to promote a replica, print the time it took;
#                                       the killed node then restarts as a replica (HA_REJOIN=no:
#                                       it stays down)
#        scripts/ha.sh destroy          stop, then remove the state directory
#
# Everything lives in HA_DIR (default /tmp/ticketd-ha); ha.env there holds the pids, ports and
# REDIS_URL (redis+sentinel://...) for ticketd. Only pids recorded there are ever signalled,
# and only while their command line still names their port.
set -euo pipefail

DIR=${HA_DIR:-/tmp/ticketd-ha}
STATE=$DIR/ha.env
MASTER=mymaster
DOWN_AFTER_MS=${DOWN_AFTER_MS:-1000}
FAILOVER_TIMEOUT_MS=${FAILOVER_TIMEOUT_MS:-3000}
PY=/usr/bin/python3

PROC_TAG=ha
# shellcheck source-path=SCRIPTDIR source=lib/proc.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/proc.sh"
# Ports free_port never hands out: the services' default ports.
USED_PORTS=" 80 5432 6379 26379 "

rcli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }

pong() { [ "$(rcli "$1" ping)" = PONG ]; }

wait_ping() {
  wait_for 10 0.1 pong "$1" || die "nothing answers on port $1 (see $DIR/*/log)"
}

master_port() {
  local p
  for p in $SENTINEL_PORTS; do
    rcli "$p" sentinel get-master-addr-by-name "$MASTER" | sed -n 2p | grep . && return 0
  done
  return 1
}

start() {
  if load_state && report >/dev/null 2>&1; then
    report
    return 0
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-sentinel >/dev/null; then
    die "redis-server and redis-sentinel are needed: scripts/deps.sh test"
  fi
  mkdir -p "$DIR"
  local i port pid
  REDIS_PORTS="" REDIS_PIDS="" SENTINEL_PORTS="" SENTINEL_PIDS=""
  local primary=""
  for i in 1 2 3; do
    free_port port
    mkdir -p "$DIR/redis$i"
    local extra=()
    [ -n "$primary" ] && extra=(--replicaof 127.0.0.1 "$primary")
    setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
      --dir "$DIR/redis$i" --logfile "$DIR/redis$i/log" --daemonize no "${extra[@]}" \
      </dev/null >/dev/null 2>&1 &
    pid=$!
    wait_ping "$port"
    [ -z "$primary" ] && primary=$port
    REDIS_PORTS+="$port " REDIS_PIDS+="$pid "
    say "redis$i on 127.0.0.1:$port (pid $pid)${extra:+, replica of $primary}"
  done
  for i in 1 2 3; do
    free_port port
    mkdir -p "$DIR/sentinel$i"
    cat >"$DIR/sentinel$i/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
dir $DIR/sentinel$i
logfile $DIR/sentinel$i/log
sentinel monitor $MASTER 127.0.0.1 $primary 2
sentinel down-after-milliseconds $MASTER $DOWN_AFTER_MS
sentinel failover-timeout $MASTER $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $MASTER 1
EOF
    setsid redis-sentinel "$DIR/sentinel$i/sentinel.conf" </dev/null >/dev/null 2>&1 &
    pid=$!
    wait_ping "$port"
    SENTINEL_PORTS+="$port " SENTINEL_PIDS+="$pid "
    say "sentinel$i on 127.0.0.1:$port (pid $pid)"
  done
  local hosts=""
  for port in $SENTINEL_PORTS; do hosts+="${hosts:+,}127.0.0.1:$port"; done
  REDIS_URL="redis+sentinel://$hosts/$MASTER/0"
  {
    echo "# written by scripts/ha.sh"
    printf 'REDIS_PORTS=%q\nREDIS_PIDS=%q\n' "$REDIS_PORTS" "$REDIS_PIDS"
    printf 'SENTINEL_PORTS=%q\nSENTINEL_PIDS=%q\nREDIS_URL=%q\n' "$SENTINEL_PORTS" \
      "$SENTINEL_PIDS" "$REDIS_URL"
  } >"$STATE.tmp"
  mv "$STATE.tmp" "$STATE"
  say "REDIS_URL=$REDIS_URL"
}

report() {
  local ok=0 i=0 port pid role
  load_state || { say "not running (no $STATE)"; return 3; }
  for port in $REDIS_PORTS; do
    i=$((i + 1)); pid=$(echo "$REDIS_PIDS" | cut -d' ' -f$i)
    if pid_is "$pid" ":$port"; then
      role=$(rcli "$port" role | head -1)
      say "redis$i     port $port  pid $pid  up  ${role:-?}"
    else say "redis$i     port $port  DOWN"; ok=3; fi
  done
  i=0
  for port in $SENTINEL_PORTS; do
    i=$((i + 1)); pid=$(echo "$SENTINEL_PIDS" | cut -d' ' -f$i)
    if pid_is "$pid" ":$port" && [ "$(rcli "$port" ping)" = PONG ]; then
      say "sentinel$i  port $port  pid $pid  up"
    else say "sentinel$i  port $port  DOWN"; ok=3; fi
  done
  say "primary: 127.0.0.1:$(master_port || echo '?')"
  say "REDIS_URL=$REDIS_URL"
  return $ok
}

stop() {
  load_state || { say "not running"; return 0; }
  local i=0 port pid
  for port in $SENTINEL_PORTS; do
    i=$((i + 1)); stop_pid "sentinel$i" "$(echo "$SENTINEL_PIDS" | cut -d' ' -f$i)" \
      ":$port" TERM 10
  done
  i=0
  for port in $REDIS_PORTS; do
    i=$((i + 1)); stop_pid "redis$i" "$(echo "$REDIS_PIDS" | cut -d' ' -f$i)" \
      ":$port" TERM 10
  done
}

# Restarts the killed node on its port and directory as a replica of the new primary (as
# ha.sh failover-pg brings a lost PostgreSQL node back), so that the next failover has two
# replicas again; its pid replaces the dead one in the state file.
rejoin_redis() {
  local port=$1 primary=$2 i=0 p k=0 pid
  for p in $REDIS_PORTS; do i=$((i + 1)); [ "$p" = "$port" ] && k=$i; done
  [ "$k" -gt 0 ] || return 0
  setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$DIR/redis$k" --logfile "$DIR/redis$k/log" --daemonize no \
    --replicaof 127.0.0.1 "$primary" </dev/null >/dev/null 2>&1 &
  pid=$!
  wait_ping "$port"
  REDIS_PIDS=$(echo "$REDIS_PIDS" | awk -v i="$k" -v p="$pid" '{ $i = p; print }')
  {
    echo "# written by scripts/ha.sh"
    printf 'REDIS_PORTS=%q\nREDIS_PIDS=%q\n' "$REDIS_PORTS" "$REDIS_PIDS"
    printf 'SENTINEL_PORTS=%q\nSENTINEL_PIDS=%q\nREDIS_URL=%q\n' "$SENTINEL_PORTS" \
      "$SENTINEL_PIDS" "$REDIS_URL"
  } >"$STATE.tmp"
  mv "$STATE.tmp" "$STATE"
  say "redis$k rejoined on 127.0.0.1:$port (pid $pid) as a replica of $primary"
}

# Whether the sentinels name a primary other than $1 that says it is one; sets new to it.
promoted() {
  new=$(master_port || true)
  [ -n "$new" ] && [ "$new" != "$1" ] && [ "$(rcli "$new" role | head -1)" = master ]
}

failover_redis() {
  load_state || die "not running"
  local old i=0 port pid t0 new
  old=$(master_port) || die "no sentinel answers"
  for port in $REDIS_PORTS; do
    i=$((i + 1))
    [ "$port" = "$old" ] || continue
    pid=$(echo "$REDIS_PIDS" | cut -d' ' -f$i)
    pid_is "$pid" ":$port" || die "the primary on $port is not ours or not running"
    t0=$(date +%s.%N)
    kill -KILL "$pid"
    say "killed the primary redis$i (port $port, pid $pid)"
  done
  [ -n "${t0:-}" ] || die "the primary $old is not one of ours"
  wait_for 30 0.05 promoted "$old" || die "no failover within 30 s"
  say "new primary 127.0.0.1:$new after $(echo "$(date +%s.%N) - $t0" | bc) s"
  if [ "${HA_REJOIN:-yes}" = yes ]; then rejoin_redis "$old" "$new"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) report ;;
  failover-redis) failover_redis ;;
  destroy) stop; rm -rf "$DIR"; say "removed $DIR" ;;
  *) sed -n '7,14p' "$0" >&2; exit 2 ;;
esac
