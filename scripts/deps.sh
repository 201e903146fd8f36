#!/usr/bin/env bash
# Installs the Debian packages ticketd needs to build, run and test, if any are missing.
# Usage: scripts/deps.sh [build|test|bench]   (test adds the servers and tools the tests start;
# bench adds those and the profiler bench/compare.sh uses with PERF=1)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libpq-dev libsqlite3-dev libsodium-dev
  libssl-dev libcurl4-openssl-dev libhiredis-dev libcmocka-dev zlib1g-dev
  libqrencode-dev libpng-dev libhpdf-dev libwslay-dev gettext)
test_pkgs=(postgresql patroni etcd-server redis-server redis-sentinel nginx-light python3 python3-pytest python3-requests python3-yaml python3-jsonschema python3-aiosmtpd
  clang-format clang-tidy cppcheck wrk curl valgrind
  zbar-tools poppler-utils python3-nacl openssl python3-websockets
  nodejs  # tests/graphql: graphql-js (npm ci) checks our introspection
  chromium chromium-driver python3-selenium  # tests/browser: the web app in headless chromium
  prometheus)  # promtool: tests/api/test_metrics.py checks /metrics and deploy/alerts.yml
bench_pkgs=(linux-perf
  python3-uvloop)  # bench/opening.sh LOOP=uvloop (the driver falls back to asyncio without it)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = "test" ] || [ "${1:-build}" = "bench" ]; then
  want+=("${test_pkgs[@]}")
fi
if [ "${1:-build}" = "bench" ]; then
  want+=("${bench_pkgs[@]}")
fi

# graphql-js (tests/graphql/check.mjs: the reference implementation checks the server's GraphQL
# schema and the test queries), from the vendored package-lock.json into tests/graphql/node_modules.
graphql_js() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/graphql"
  if [ "${mode}" != "build" ] && [ ! -f "$dir/node_modules/graphql/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      # Debian's nodejs comes without npm (a NodeSource nodejs brings its own, and conflicts
      # with Debian's npm: hence only when the command is missing)
      "${SUDO[@]}" apt-get install -y -q npm >>/tmp/ticketd-apt.log 2>&1
    fi
    echo "deps: npm ci in tests/graphql (graphql-js)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
mode="${1:-build}"
SUDO=()
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=(sudo)

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  graphql_js
  exit 0
fi

echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "deps: these packages are missing and this user cannot install them:" >&2
  echo "      apt-get install -y ${missing[*]}" >&2
  echo "      (run that as root, then run make again)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y -q "${missing[@]}" >/tmp/ticketd-apt.log 2>&1; then
  "${SUDO[@]}" apt-get update -q >/tmp/ticketd-apt.log 2>&1 || true
  if ! "${SUDO[@]}" apt-get install -y -q "${missing[@]}" >>/tmp/ticketd-apt.log 2>&1; then
    echo "deps: apt-get could not install: ${missing[*]}" >&2
    tail -20 /tmp/ticketd-apt.log >&2
    echo "deps: check the network / apt sources, then run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
graphql_js
echo "deps: done"
