#!/usr/bin/env bash
# Installs the Debian 12 packages Berth needs: `build` (compile and run), `test` (also the real
# clients the integration tests drive) or `runtime` (only the shared libraries a built berth needs:
# the container image's run stage). Installs only what is missing; needs root (or sudo).
# `--list` prints the profile's packages instead (the container image test builds its bases with them).
set -euo pipefail

profile="${1:-build}"
runtime_pkgs=(ca-certificates libssl3 libsqlite3-0 libpq5 libspdlog1.10 libfmt9)
build_pkgs=(ca-certificates git g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev nlohmann-json3-dev libsqlite3-dev libpq-dev libspdlog-dev libgtest-dev)
test_pkgs=(python3 curl postgresql-15 ceph-mon ceph-osd radosgw ceph-common haproxy docker-registry apache2-utils python3-cryptography skopeo podman umoci docker.io uidmap iproute2 awscli python3-boto3 nodejs npm faketime prometheus clang-14 libclang-rt-14-dev clang-format git debootstrap docker-compose)

case "$profile" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  runtime) pkgs=("${runtime_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|runtime] [--list]" >&2; exit 2 ;;
esac
if [ "${2:-}" = --list ]; then
  echo "${pkgs[@]}"
  exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
  # A Node.js from another source (e.g. NodeSource) ships its own npm and conflicts with Debian's.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
