#!/usr/bin/env bash
# Configures and builds Berth with CMake + Ninja. Usage: scripts/build.sh [release|debug|ci|asan]
# Build trees: build-release/ (release: the server only), build/ (ci: everything, warnings as errors),
# build-asan/ (sanitizers), build-fuzz/ (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-release}"
case "$kind" in
  release) dir=build-release; args=(-DCMAKE_BUILD_TYPE=Release -DBERTH_BUILD_TESTS=OFF) ;;
  debug) dir=build-debug; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  ci) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_WERROR=ON) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON -DBERTH_WERROR=ON) ;;
  *) echo "usage: $0 [release|debug|ci|asan]" >&2; exit 2 ;;
esac

cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
# Beast translation units need ~1 GB each; two cores, two jobs.
ninja -C "$dir" -j "${BERTH_BUILD_JOBS:-$(nproc)}" ${BERTH_BUILD_TARGETS:-}
