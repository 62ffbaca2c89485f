#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running registry: installs what is missing,
# builds Berth in release mode and starts `berth serve` on embedded defaults (SQLite + files under
# ./berth-data, listening on 0.0.0.0:5000). Extra arguments go to `berth serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh release
exec build-release/berth serve "$@"
