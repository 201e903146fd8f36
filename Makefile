# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
.PHONY: all deps test-deps bench build debug asan run test unit api lint layers format clean \
        fuzz-build fuzz fuzz-smoke valgrind

PY := /usr/bin/python3
# The layer check (scripts/check_layers.py) after its own tests (tests/layers): a second or so.
LAYERS := $(PY) -m pytest -q -p no:cacheprovider tests/layers && $(PY) scripts/check_layers.py
# make fuzz: each libFuzzer target for FUZZ_SECONDS; make fuzz-smoke (part of make test): a few.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 3
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j$$(nproc)

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j$$(nproc)

asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j$$(nproc)

fuzz-build: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j$$(nproc)

# Every target in tests/fuzz for FUZZ_SECONDS each, from its seed corpus (tests/fuzz/README.md).
fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

# A few seconds per target: they keep compiling and the seed corpora (regressions included) pass.
fuzz-smoke: fuzz-build
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# memcheck over every unit test and over the release server under the auth API tests
# (scripts/valgrind.sh; SQLite only, minutes): 0 errors, 0 definite leaks.
valgrind: test-deps build
	scripts/valgrind.sh

# Starts the server on the embedded SQLite file ./data/ticketd.db with a demo admin.
run: build
	@echo "ticketd: http://localhost:$${PORT:-8080}  (admin: $${ADMIN_EMAIL:-admin@ticketd.local} / $${ADMIN_PASSWORD:-admin-password})"
	ADMIN_EMAIL=$${ADMIN_EMAIL:-admin@ticketd.local} ADMIN_PASSWORD=$${ADMIN_PASSWORD:-admin-password} \
	  DEMO_DATA=$${DEMO_DATA:-1} ./build/ticketd serve

# The layer check, the unit tests on both builds, then (scripts/test_suites.sh) side by side: the
# API tests on the release build followed by the web app in headless chromium (tests/browser,
# release build only: the pages are what it tests, and every request they make is in the API
# suite), and all the API tests again under ASan+UBSan followed by a few seconds of each fuzz
# target. The API suites mostly wait (servers, fail-overs, time-outs), so together they take
# about as long as the longer one.
test: test-deps build asan fuzz-build
	$(LAYERS)
	ctest --preset release
	$(ASAN_ENV) ctest --preset asan
	$(ASAN_ENV) scripts/test_suites.sh $(FUZZ_SMOKE_SECONDS)

# ticketd beside the limits it stands on (nginx, PostgreSQL), one run; never part of make test.
# Prints every row and saves the run in bench/results/<date>-compare.txt (bench/compare.sh).
bench: build
	@scripts/deps.sh bench
	bench/compare.sh $${BENCH_SECONDS:-10}

unit: build
	ctest --preset release

api: build
	TICKETD_BIN=$(CURDIR)/build/ticketd $(PY) -m pytest tests/api -q

# Every include points down the layers (docs/architecture.md); also run by test and lint.
layers:
	$(LAYERS)

lint: test-deps build
	$(LAYERS)
	clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')
	clang-tidy -p build --quiet $$(git ls-files 'src/*.c')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --std=c11 -I src $$(git ls-files 'src/*.c')

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')

clean:
	rm -rf build build-debug build-asan build-fuzz
