#!/bin/bash
# A throwaway one-node Ceph cluster serving S3 through RGW, for the tests (Debian's ceph-mon,
# ceph-osd, radosgw 16.2): one monitor, one memstore OSD (nothing on disk but logs), pool size 1,
# no cephx, everything on 127.0.0.1.
#   ceph-rgw.sh start DIR   prints "PORT ACCESS_KEY SECRET_KEY" once RGW answers S3 (also in DIR/endpoint)
#   ceph-rgw.sh stop DIR    stops every daemon of that cluster
#   ceph-rgw.sh stop-rgw DIR / start-rgw DIR   only the gateway (an outage the tests cause)
# Env: BERTH_TEST_RGW_MEMSTORE_MIB (memstore size, default 4096),
#      BERTH_TEST_RGW_MIN_PART (rgw_multipart_min_part_size, default 5 MiB as on AWS).
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")
conf=$dir/ceph.conf

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() {  # wait_for SECONDS CMD...
  local until=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > until)); then echo "timed out: $*" >&2; return 1; fi
    sleep 0.2
  done
}

start_rgw() {
  local port
  port=$(cat "$dir/rgw.port")
  radosgw -c "$conf" -n client.rgw.a --rgw-frontends="beast endpoint=127.0.0.1:$port" \
    --pid-file="$dir/run/rgw.pid" --log-file="$dir/log/rgw.log"
  wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$port/"
}

stop_pidfile() {
  local f=$1
  [[ -f $f ]] || return 0
  local pid
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

case $cmd in
start)
  for t in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v $t >/dev/null || { echo "Ceph is not installed: no $t (Debian: ceph-mon ceph-osd radosgw ceph-common)" >&2; exit 3; }
  done
  mkdir -p "$dir"/{run,log,mon,osd,rgw}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  free_port >"$dir/rgw.port"
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
ms mon client mode = crc
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = $(( ${BERTH_TEST_RGW_MEMSTORE_MIB:-4096} * 1024 * 1024 ))
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
rgw data = $dir/rgw
rgw multipart min part size = ${BERTH_TEST_RGW_MIN_PART:-5242880}
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 64
CONF
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --pid-file="$dir/run/mon.pid"
  wait_for 60 ceph -c "$conf" --connect-timeout 5 -s
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  ceph -c "$conf" osd new "$osd_uuid" >/dev/null
  mkdir -p "$dir/osd/osd.0"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
  ceph-osd -c "$conf" -i 0 --pid-file="$dir/run/osd.pid"
  wait_for 60 bash -c "ceph -c '$conf' osd stat | grep -q '1 up'"
  start_rgw
  access=BERTHTEST$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
  secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
  radosgw-admin -c "$conf" user create --uid=berth --display-name=berth --access-key="$access" \
    --secret-key="$secret" >/dev/null
  echo "$(cat "$dir/rgw.port") $access $secret" | tee "$dir/endpoint"
  ;;
stop)
  stop_pidfile "$dir/run/rgw.pid"
  stop_pidfile "$dir/run/osd.pid"
  stop_pidfile "$dir/run/mon.pid"
  ;;
stop-rgw) stop_pidfile "$dir/run/rgw.pid" ;;
start-rgw) start_rgw ;;
*) echo "usage: $0 start|stop|stop-rgw|start-rgw DIR" >&2; exit 2 ;;
esac
