#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (built by `cmake --preset fuzz`, ./build-fuzz) one
# after another, each for SECONDS, starting from its seed corpus tests/fuzz/corpus/<target>.
# New inputs go to $FUZZ_WORK/corpus/<target> (never into the tree), crash inputs to
# $FUZZ_WORK/artifacts. Prints one line per target; exits 1 if any target found a crash,
# leak, sanitizer report or time-out (its log's last lines are printed).
#
# Usage: scripts/fuzz.sh SECONDS [target ...]     (targets without the fuzz_ prefix; default all)
# Environment: FUZZ_RUNS  stop a target after this many executions (default: time only)
#              FUZZ_WORK  working folder (default build-fuzz/fuzz-work)
#              FUZZ_BIN   folder of the fuzz_* executables (default build-fuzz/tests/fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS [target ...]}
shift
bin=${FUZZ_BIN:-build-fuzz/tests/fuzz}
work=${FUZZ_WORK:-build-fuzz/fuzz-work}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz_}")
  done
fi
mkdir -p "$work/artifacts"
failed=0
for t in "${targets[@]}"; do
  exe="$bin/fuzz_$t"
  if [ ! -x "$exe" ]; then
    echo "fuzz: $exe is missing (run: make fuzz-build)" >&2
    failed=1
    continue
  fi
  dict=()
  case $t in
    validate | layout | webhook) dict=(-dict=tests/fuzz/json.dict) ;;
    token) dict=(-dict=tests/fuzz/jwt.dict) ;;
    graphql) dict=(-dict=tests/fuzz/graphql.dict) ;;
  esac
  mkdir -p "$work/corpus/$t" "tests/fuzz/corpus/$t"
  log="$work/$t.log"
  runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
  start=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$exe" -max_total_time="$secs" "${runs[@]}" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/$t-" "${dict[@]}" \
    "$work/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
  crashes=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log")
  printf '%-10s rc=%d executions=%s exec/s=%s seconds=%d corpus=%s cov=%s ft=%s crashes=%d\n' \
    "$t" "$rc" "${execs:-?}" "${speed:-?}" "$took" "${corp:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "---- $log (last lines) ----"
    tail -40 "$log"
    echo "----"
  fi
done
exit $failed
