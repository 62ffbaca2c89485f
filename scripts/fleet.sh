#!/usr/bin/env bash
# A local three-server Berth fleet: PostgreSQL 15 (metadata), a one-node Ceph RGW (blobs), three
# `berth serve` processes on one configuration and haproxy in front, round robin per request.
#   scripts/fleet.sh start [DIR]   installs what is missing, builds, starts; prints the address
#   scripts/fleet.sh stop [DIR]    stops everything started from DIR (default /var/tmp/berth-fleet)
# Ports: the balancer on 127.0.0.1:${BERTH_FLEET_PORT:-5000}, the servers on the three above it.
# Everything listens on loopback only and keeps its data under DIR. Root key: BERTH_ROOT_ACCESS_KEY_ID
# / BERTH_ROOT_SECRET_ACCESS_KEY if set, else Berth generates one and prints it (server-1.log).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cmd=${1:-start}
dir=$(realpath -m "${2:-/var/tmp/berth-fleet}")
port=${BERTH_FLEET_PORT:-5000}
pg_bin=/usr/lib/postgresql/15/bin
as_pg=()
[[ $(id -u) -eq 0 ]] && as_pg=(runuser -u postgres --)

stop_all() {
  for f in "$dir"/run/*.pid; do
    [[ -f $f ]] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  [[ -d $dir/pg ]] && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
  [[ -d $dir/rgw ]] && bash "$repo/tests/engines/ceph-rgw.sh" stop "$dir/rgw" || true
}

case $cmd in
stop)
  stop_all
  echo "fleet in $dir stopped"
  ;;
start)
  scripts/install-deps.sh build
  # The engines (the same packages the tests use) and the balancer.
  missing=()
  for p in postgresql-15 ceph-mon ceph-osd radosgw ceph-common haproxy curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  scripts/build.sh release
  mkdir -p "$dir/run" "$dir/log"

  # PostgreSQL: a cluster of its own under DIR/pg, database "berth".
  if [[ ! -d $dir/pg/data ]]; then
    mkdir -p "$dir/pg"
    [[ ${#as_pg[@]} -gt 0 ]] && chown postgres: "$dir/pg"
    "${as_pg[@]}" "$pg_bin/initdb" -D "$dir/pg/data" -U berth -A trust -E UTF8 --locale=C >/dev/null
  fi
  pg_port=$((port + 10))
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -o \
    "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U berth -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname='berth'" | grep -q 1 ||
    "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U berth -d postgres -qc "CREATE DATABASE berth"

  # Ceph RGW: one monitor and one in-memory OSD (blobs do not survive `stop`: a demo, not storage).
  rm -rf "$dir/rgw"
  read -r rgw_port access secret < <(bash tests/engines/ceph-rgw.sh start "$dir/rgw" 2>>"$dir/log/rgw-start.log")

  cat >"$dir/berth.json" <<JSON
{
  "metadata": { "driver": "postgres", "dsn": "postgresql://berth@127.0.0.1:$pg_port/berth" },
  "storage": { "driver": "s3", "s3": { "endpoint": "http://127.0.0.1:$rgw_port", "region": "us-east-1",
               "bucket": "berth", "access_key_id": "$access", "secret_access_key": "$secret",
               "path_style": true, "redirect": false } }
}
JSON
  for i in 1 2 3; do
    p=$((port + i))
    mkdir -p "$dir/server-$i"
    build-release/berth serve --config "$dir/berth.json" --listen "127.0.0.1:$p" --data-dir "$dir/server-$i" \
      >>"$dir/log/server-$i.log" 2>&1 &
    echo $! >"$dir/run/server-$i.pid"
    for _ in $(seq 100); do
      curl -sf -o /dev/null "http://127.0.0.1:$p/healthz" && break
      sleep 0.1
    done
  done
  cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  retries 3
  option redispatch
frontend registry
  bind 127.0.0.1:$port
  default_backend berth
backend berth
  balance roundrobin
  option httpchk GET /v2/
  http-check expect rstatus (200|401)
  server s1 127.0.0.1:$((port + 1)) check inter 500
  server s2 127.0.0.1:$((port + 2)) check inter 500
  server s3 127.0.0.1:$((port + 3)) check inter 500
CFG
  haproxy -D -f "$dir/haproxy.cfg" -p "$dir/run/haproxy.pid"
  cat <<MSG
fleet up: haproxy on http://127.0.0.1:$port -> berth on 127.0.0.1:$((port + 1)), $((port + 2)), $((port + 3))
  metadata  postgresql://berth@127.0.0.1:$pg_port/berth
  blobs     http://127.0.0.1:$rgw_port (bucket berth)
  logs      $dir/log/   (the root key, if Berth generated it, is printed in server-1.log)
  stop      scripts/fleet.sh stop $dir
MSG
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
