#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test: installs what is missing (compilers,
# libraries and the real clients: skopeo, podman, docker), builds with warnings as errors, runs the
# unit tests under ASan+UBSan, then every unit and integration test. ctest's closing line has the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test

echo "== formatting (clang-format, as checked in)"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
BERTH_BUILD_TARGETS=berth_unit_tests scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/tests/berth_unit_tests --gtest_brief=1

echo "== fuzz smoke run (libFuzzer, ASan + UBSan)"
scripts/fuzz.sh "${BERTH_FUZZ_SECONDS:-10}"

echo "== all tests (unit + integration with real clients)"
scripts/build.sh ci
cd build
# Two at a time (BERTH_TEST_JOBS): the unit tests and the lighter integration suites share the two
# cores; the suites that start dockerd, move big layers or kill servers are RUN_SERIAL and run alone.
ctest --output-on-failure --timeout 900 -j "${BERTH_TEST_JOBS:-2}" "$@"
