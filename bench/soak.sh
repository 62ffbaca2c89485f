#!/usr/bin/env bash
# A soak run beside the benchmark (not in CI): bench/soak.sh [--no-build] [--minutes N] [--clients N]
# Builds the release binary (unless --no-build), installs gnuplot-nox if missing, and runs
# bench/soak.py: a steady mixed load for N minutes (default 20) with GC and lifecycle every minute,
# sampled every 10 s. Prints a table; writes bench/results/soak-<time>.{csv,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
command -v gnuplot >/dev/null || { sudo -n true 2>/dev/null && S=sudo || S=; $S apt-get install -y -q gnuplot-nox >/dev/null; }
[ "$build" = 1 ] && scripts/build.sh release
exec python3 bench/soak.py --berth-bin "${BERTH_BIN:-build-release/berth}" "${args[@]}"
