# shellcheck shell=bash
# Process and state helpers shared by the scripts that start local sets of servers
# (scripts/cluster.sh, scripts/ha.sh, scripts/ha_redis.sh). Sourced, never run: it defines
# functions and starts nothing.
#
# The caller sets, before sourcing or at least before the first call:
#   PROC_TAG    the word before every message ("cluster", "ha"); say/die print "<tag>: ..."
#   STATE       the state file (shell KEY=VALUE lines) that load_state reads
#   USED_PORTS  (optional) " p1 p2 ... ": ports free_port never hands out, the services'
#               default ports; free_port adds each port it hands out.
#   PY          (optional) the python3 free_port asks for a port (/usr/bin/python3)
#
# The rule all of them keep: only a pid that is still the process we started is ever
# signalled, checked by its command line (or one variable of its environment) each time.

say() { echo "${PROC_TAG:-proc}: $*"; }
die() {
  echo "${PROC_TAG:-proc}: $*" >&2
  exit 1
}

# The newest installed PostgreSQL's bin directory (Debian's /usr/lib/postgresql/<v>/bin).
pg_bindir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    die "PostgreSQL not found (apt-get install postgresql)"
  fi
  echo "$d"
}

# free_port VAR: sets VAR to a free loopback port that is not in USED_PORTS, and adds it there.
# It sets a variable instead of printing, because `$(free_port)` would run in a subshell whose
# USED_PORTS is lost: the kernel offers a probed port again as soon as the probe closes it, so
# two ports of one script could be the same.
free_port() {
  # Names of their own: a nameref to a caller's variable of the same name as a local would
  # bind to the local.
  local -n free_port_var_=$1
  local free_port_p_
  : "${USED_PORTS:= }"
  while :; do
    free_port_p_=$(${PY:-/usr/bin/python3} -c \
      'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    case "$USED_PORTS" in *" $free_port_p_ "*) continue ;; esac
    USED_PORTS+="$free_port_p_ "
    # shellcheck disable=SC2034 # a nameref: this sets the caller's variable
    free_port_var_=$free_port_p_
    return
  done
}

# Whether pid is alive and its command line (or, with "env:VAR=value", its environment: that
# exact line) holds the text.
pid_is() {
  local pid=$1 want=$2 file=cmdline text
  [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null || return 1
  if [ "${want#env:}" != "$want" ]; then
    file=environ
    want=${want#env:}
  fi
  text=$({ tr '\0' '\n' <"/proc/$pid/$file"; } 2>/dev/null) || return 1
  if [ "$file" = environ ]; then
    grep -qxF -- "$want" <<<"$text"
  else
    grep -qF -- "$want" <<<"${text//$'\n'/ }"
  fi
}

# stop_pid NAME PID WANT [SIGNAL [SECONDS]]: sends SIGNAL (TERM) to pid if pid_is PID WANT,
# waits up to SECONDS (40) for it to go, then sends KILL. Says what it did.
stop_pid() {
  local name=$1 pid=$2 want=$3 sig=${4:-TERM} secs=${5:-40}
  if ! pid_is "$pid" "$want"; then return 0; fi
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq $((secs * 10))); do
    pid_is "$pid" "$want" || {
      say "stopped $name (pid $pid)"
      return 0
    }
    sleep 0.1
  done
  say "$name (pid $pid) did not stop in $secs s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# wait_for SECONDS STEP COMMAND [ARGS...]: runs COMMAND every STEP seconds until it succeeds
# (returns 0) or SECONDS (whole) have passed by the clock (returns 1, after a last try). The
# command runs in this shell, so what it sets stays set. By the clock, not by a count of tries:
# a command that itself takes a while (a client waiting on a busy server) must not stretch the
# wait.
wait_for() {
  local secs=$1 step=$2 end
  shift 2
  end=$(($(date +%s%N) + secs * 1000000000))
  while :; do
    "$@" && return 0
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep "$step"
  done
}

# Reads the state file into this shell; fails when there is none.
load_state() {
  [ -f "$STATE" ] || return 1
  # shellcheck disable=SC1090
  . "$STATE"
}
