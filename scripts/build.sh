#!/usr/bin/env bash
# Configures and builds Berth with CMake + Ninja. Usage: scripts/build.sh [release|debug|ci|asan|fuzz]
# Build trees: build-release/ (release: the server only), build-debug/ (debug), build/ (ci: everything,
# warnings as errors), build-asan/ (ASan + UBSan), build-fuzz/ (clang, the libFuzzer targets of
# scripts/fuzz.sh). ci, asan and fuzz are the trees CI builds from scratch, so they are unity builds
# (CMAKE_UNITY_BUILD, 8 files per unit, about half the cold time); release and debug build file by
# file, so a missing #include still shows there.
set -euo pipefail
cd "$(dirname "$0")/.."

unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8)
kind="${1:-release}"
case "$kind" in
  release) dir=build-release; args=(-DCMAKE_BUILD_TYPE=Release -DBERTH_BUILD_TESTS=OFF) ;;
  debug) dir=build-debug; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  ci) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_WERROR=ON "${unity[@]}") ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON -DBERTH_WERROR=ON "${unity[@]}") ;;
  fuzz)
    # Debian names the compilers clang-14/clang++-14 unless the `clang` metapackage is installed.
    # The unit tests stay out: clang 14 with ASan cannot assemble Beast's coroutines at -O2
    # ("Cannot represent a difference across sections"), so they run under g++'s sanitizers.
    dir=build-fuzz
    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_FUZZ=ON "${unity[@]}"
          -DCMAKE_C_COMPILER="$(command -v clang-14 || command -v clang)"
          -DCMAKE_CXX_COMPILER="$(command -v clang++-14 || command -v clang++)") ;;
  *) echo "usage: $0 [release|debug|ci|asan|fuzz]" >&2; exit 2 ;;
esac

cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
# Beast translation units need ~1 GB each; two cores, two jobs.
ninja -C "$dir" -j "${BERTH_BUILD_JOBS:-$(nproc)}" ${BERTH_BUILD_TARGETS:-}
