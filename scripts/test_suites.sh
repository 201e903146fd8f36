#!/usr/bin/env bash
# The long part of `make test`: the API suite on the release build (then the browser tests), and
# beside it, at the same time, the API suite on the ASan+UBSan build (then the fuzz smoke).
#
# Why side by side: the API suite waits far more than it computes. Its tests start servers,
# PostgreSQL clusters, Redis, SMTP sinks and nginx, and then wait for time-outs, leases, hold
# expiry and fail-overs; one run of tests/api/test_holds.py + test_websocket.py +
# test_show_changes.py took 107 s of wall time for 14 s of CPU in pytest and the servers it
# waited for. Run one after the other, the two suites took 25 of make test's 28-30 minutes on 2
# cores; side by side they take about as long as the longer one. Each suite is still one pytest
# process running its tests in order (no test runs beside another of its own suite), every
# server, database and port is a test's own (free loopback ports, pytest's own numbered temp
# folders), so the two cannot see each other; timing-sensitive tests already wait by polling,
# never by a fixed sleep.
#
# The ASan side's output goes to build-asan/api-tests.log and is printed whole when both sides
# are done, after the release side's (so the two never interleave). Exits non-zero when either
# side failed; an interrupted run (Ctrl-C, CI's time limit) stops the background side too.
#
# Usage: scripts/test_suites.sh FUZZ_SMOKE_SECONDS   (the environment carries ASAN_OPTIONS etc.
#        for the sanitizer side: see ASAN_ENV in the Makefile)
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz_secs=${1:?usage: scripts/test_suites.sh FUZZ_SMOKE_SECONDS}
PY=/usr/bin/python3
log=build-asan/api-tests.log

# Its own session (setsid), so that an interrupt can stop all of it by its process group.
TICKETD_BIN="$PWD/build-asan/ticketd" FUZZ_SECS="$fuzz_secs" setsid bash -c \
  '"$0" -m pytest tests/api -q && scripts/fuzz.sh "$FUZZ_SECS"' "$PY" >"$log" 2>&1 </dev/null &
asan_pid=$!
trap 'kill -- -"$asan_pid" 2>/dev/null; exit 130' INT TERM

# The release side must not inherit the sanitizer settings (harmless, but not what it tests).
env -u ASAN_OPTIONS -u UBSAN_OPTIONS TICKETD_BIN="$PWD/build/ticketd" \
  "$PY" -m pytest tests/api -q
release_rc=$?
env -u ASAN_OPTIONS -u UBSAN_OPTIONS TICKETD_BIN="$PWD/build/ticketd" \
  "$PY" -m pytest tests/browser -q
browser_rc=$?

echo "== waiting for the ASan+UBSan API suite and the fuzz smoke (running since the start)"
wait "$asan_pid"
asan_rc=$?
trap - INT TERM
echo "== ASan+UBSan API suite, then fuzz smoke ($log):"
cat "$log"
echo "== release API suite: exit $release_rc; browser tests: exit $browser_rc;" \
  "ASan API suite + fuzz smoke: exit $asan_rc"
[ "$release_rc" -eq 0 ] && [ "$browser_rc" -eq 0 ] && [ "$asan_rc" -eq 0 ]
