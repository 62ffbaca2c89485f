#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 30) on a
# copy of its seed corpus in tests/fuzz/corpus. Any crash, leak or UB fails the run.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
BERTH_BUILD_TARGETS=fuzz_targets scripts/build.sh fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
total=0
for dir in tests/fuzz/corpus/*/; do
  t="$(basename "$dir")"
  cp -r "$dir" "$work/$t"
  log="$work/$t.log"
  if ! build-fuzz/tests/fuzz/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 "$work/$t" >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $t FAILED" >&2
    exit 1
  fi
  runs="$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')"
  total=$((total + ${runs:-0}))
  echo "fuzz: $t ok, ${runs:-?} executions in ${seconds}s"
done
echo "fuzz: all targets ok, $total executions"
