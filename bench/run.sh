#!/usr/bin/env bash
# Berth vs the reference registry (CNCF distribution 2.8, Debian `docker-registry`) on loopback.
#
#   bench/run.sh [--quick] [--no-build] [--only SECTIONS] [--ref-auth none|htpasswd]
#                [--berth-auth sigv4|none] [--berth-ignore-sigpipe] [--no-docs] [--keep]
#                [--set KEY=VALUE]... | [--fleet [--quick] [--no-docs]]
#
# Installs the tools it needs (idempotent), builds Berth in release mode (scripts/build.sh release ->
# build-release/berth), starts Berth and the reference side by side on 127.0.0.1, runs the same workloads
# against both in alternation, and prints Berth's figure, the reference's and the ratio for each.
# Results: a table on stdout, bench/results/<timestamp>.json, and a summary appended to
# docs/performance.md. No timing assertions.
#
#   --quick        sizes scaled down 10-100x; a few minutes (the full run takes ~20-25 minutes)
#   --no-build     use the existing binary (BERTH_BIN, default build-release/berth) instead of building
#   --only LIST    comma-separated subset: limits,manifest,authz,ecr,blobs,upload,skopeo,cache,replication,backup,events,gc,memory,listing,ops
#   --ref-auth     reference registry auth: none (default) or htpasswd (bcrypt basic auth)
#   --berth-auth   Berth auth: sigv4 (default: login token on every V2 request) or none
#   --berth-ignore-sigpipe  start Berth with SIGPIPE ignored (workaround for a Berth that dies when a
#                  client closes a connection mid-response; stated in the output)
#   --no-docs      do not append to docs/performance.md
#   --keep         keep the scratch directory (data dirs, server logs)
#   --set K=V      override one workload parameter (repeatable; names in bench/berth_bench.py params())
#   --baseline BIN compare BIN (Berth before a change) with the built binary (after it): every section
#                  once with each, alternating, each beside the reference (bench/compare.py);
#                  --label TEXT names the comparison in docs/performance.md
#   --fleet        the scale-out rows instead (bench/fleet_bench.py): Berth on SQLite + files, on
#                  PostgreSQL + Ceph RGW, and three servers behind haproxy, beside the reference on the
#                  same RGW and on files; installs the engines with scripts/install-deps.sh test
# Environment: BERTH_BIN (binary), BENCH_TMPDIR (parent of the scratch dir, default /var/tmp: the data
# directories and the dd test live there, so pick the filesystem you want measured).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
keep=0
fleet=0
baseline=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --baseline)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      baseline="$2"; shift ;;
    --keep) keep=1 ;;
    --fleet) fleet=1 ;;
    --only|--ref-auth|--berth-auth|--set|--label|--rounds|--sections)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      args+=("$1" "$2"); shift ;;
    --quick|--no-docs|--berth-ignore-sigpipe) args+=("$1") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

install_tools() {
  # wrk: GET/POST load; apache2-utils: htpasswd (bcrypt) for --ref-auth htpasswd; docker-registry:
  # the reference; skopeo: image push/pull; gcc: the small HEAD load generator; rsync: the reference's
  # incremental backup in the backup section.
  local pkgs=(wrk curl skopeo docker-registry apache2-utils python3 openssl coreutils gcc libc6-dev libssl-dev rsync)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "run.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # the package enables a system service on :5000; the benchmark starts its own instance
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

install_tools
if [ "$fleet" = 1 ]; then
  scripts/install-deps.sh test  # PostgreSQL 15, Ceph RGW, haproxy
elif [ "$build" = 1 ]; then
  scripts/install-deps.sh build
fi
[ "$build" = 1 ] && scripts/build.sh release
berth_bin="${BERTH_BIN:-$PWD/build-release/berth}"
[ -x "$berth_bin" ] || { echo "run.sh: no Berth binary at $berth_bin" >&2; exit 1; }
if [ "$fleet" = 1 ]; then
  exec python3 bench/fleet_bench.py --berth-bin "$berth_bin" ${args[@]+"${args[@]}"}
fi

mkdir -p "${BENCH_TMPDIR:-/var/tmp}"
work="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench.XXXXXX")"
export BENCH_PIDFILE="$work/pids"
: >"$BENCH_PIDFILE"

cleanup() {
  local rc=$?
  # servers die with the Python driver (PR_SET_PDEATHSIG); this is the safety net
  if [ -f "$BENCH_PIDFILE" ]; then
    while read -r pid; do
      [ -n "$pid" ] || continue
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'berth|docker-registry'; then
        kill -TERM "$pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$BENCH_PIDFILE"
  fi
  if [ "$keep" = 1 ]; then
    echo "run.sh: scratch directory kept: $work" >&2
  elif [ "$rc" -ne 0 ]; then
    # keep the server logs and configs for the post-mortem, not the (possibly many GB of) data
    rm -rf "$work"/berth/data "$work"/reference/data "$work"/oci-layout "$work"/pulled-*
    echo "run.sh: failed (exit $rc); server logs kept in $work/{berth,reference}/server.log" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -pthread -o "$work/headload" bench/tools/headload.c
cc -O2 -o "$work/loopback_ceiling" bench/tools/loopback_ceiling.c
cc -O2 -o "$work/sha_api_speed" bench/tools/sha_api_speed.c -lcrypto

if [ -n "$baseline" ]; then
  python3 bench/compare.py --baseline "$baseline" --candidate "$berth_bin" --workdir "$work" \
    --headload "$work/headload" --loopback-ceiling "$work/loopback_ceiling" --sha-api-tool "$work/sha_api_speed" \
    ${args[@]+"${args[@]}"}
else
  python3 bench/berth_bench.py --workdir "$work" --berth-bin "$berth_bin" --headload "$work/headload" \
    --loopback-ceiling "$work/loopback_ceiling" --sha-api-tool "$work/sha_api_speed" \
    ${args[@]+"${args[@]}"}
fi
