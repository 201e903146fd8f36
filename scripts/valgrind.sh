#!/usr/bin/env bash
# make valgrind: memcheck over (1) every unit test of the release build and (2) the release
# server while the auth API tests run against it (SQLite only: valgrind is slow). Catches what
# ASan cannot: errors inside uninstrumented libraries (libjwt, libsodium, libmicrohttpd…).
# A unit test fails on any memcheck error or definite leak; a server fails its test session
# through tests/api/conftest.py (TICKETD_WRAPPER: a report in its valgrind log, or exit 97).
# Logs: build/valgrind/. Exits 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/valgrind
rm -rf "$out"
mkdir -p "$out"
vg=(valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --track-fds=no --num-callers=30)
failed=0

echo "valgrind: unit tests"
for src in tests/unit/test_*.c; do
  t=$(basename "$src" .c)
  if [ ! -x "build/$t" ]; then
    echo "valgrind: build/$t is missing (make build)" >&2
    failed=1
    continue
  fi
  start=$(date +%s)
  "${vg[@]}" --log-file="$out/$t.log" "build/$t" >"$out/$t.out" 2>&1
  rc=$?
  summary=$(grep -h 'ERROR SUMMARY' "$out/$t.log" | head -1 | sed 's/^==[0-9]*== //')
  printf '  %-22s rc=%-3d %3ds  %s\n' "$t" "$rc" "$(($(date +%s) - start))" "$summary"
  # 97: memcheck found an error or a definite leak; 128+: killed by a signal. A cmocka exit
  # of 1..96 with a clean memcheck summary is an assertion that failed only because valgrind
  # is ~30x slower (test_jobs' scheduler timings): reported, not counted (ctest runs them).
  if [ "$rc" -gt 0 ] && [ "$rc" -lt 97 ] && echo "$summary" | grep -q '^ERROR SUMMARY: 0 errors'; then
    echo "    (memcheck clean; a test assertion failed under valgrind's slowdown:" \
      "$(grep -h 'FAILED  \] [a-z]' "$out/$t.out" | sed 's/.*\] //' | tr '\n' ' '))"
    continue
  fi
  if [ "$rc" -ne 0 ]; then
    failed=1
    grep -h -A12 -E 'Invalid|uninitialised|definitely lost|Conditional jump|Syscall param' \
      "$out/$t.log" | head -40
    tail -5 "$out/$t.out"
  fi
done

echo "valgrind: the release server under tests/api/test_auth.py and test_tokens.py (SQLite)"
TICKETD_BIN=$PWD/build/ticketd \
  TICKETD_WRAPPER="${vg[*]} --log-file={log}" \
  TICKETD_TIME_FACTOR=${TICKETD_TIME_FACTOR:-20} \
  /usr/bin/python3 -m pytest tests/api/test_auth.py tests/api/test_tokens.py -q -k sqlite \
  -p no:cacheprovider --basetemp="$PWD/$out/api" 2>&1 | tee "$out/api.out" | tail -40
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  failed=1
fi
[ "$failed" -eq 0 ] && echo "valgrind: clean" || echo "valgrind: FAILED (logs in $out)"
exit $failed
