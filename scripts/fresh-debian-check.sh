#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian 12: debootstraps a minbase system into DIR
# (once), clones this repository into it, and runs `scripts/run.sh` (checking that the registry
# answers) or `scripts/test.sh` under chroot in a private mount and PID namespace. Needs root.
# `engines` is the short proof for the test engines: the test profile of install-deps, then a
# PostgreSQL 15 and a Ceph RGW started the way the tests start them, and haproxy's version.
# Usage: scripts/fresh-debian-check.sh DIR run|test|engines
set -euo pipefail
root="$(realpath -m "${1:?usage: $0 DIR run|test}")"
what="${2:?usage: $0 DIR run|test}"
repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"

if [ ! -x "$root/bin/bash" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
rm -rf "$root/berth"
git clone -q "$repo" "$root/berth"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network's TLS trust, not the project's: where HTTPS goes through an intercepting proxy (as in
# this workplace), the host's CA bundle is what lets npm reach its registry. Offered as extra CAs only.
host_ca=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$root/etc/host-extra-ca.crt"
  host_ca="NODE_EXTRA_CA_CERTS=/etc/host-extra-ca.crt"
fi

case "$what" in
  run) inner='cd /berth && (timeout 1500 ./scripts/run.sh --listen 127.0.0.1:5999 > /tmp/run.log 2>&1 &) &&
        for i in $(seq 1 1400); do
          if (exec 3<>/dev/tcp/127.0.0.1/5999 && printf "GET /v2/ HTTP/1.0\r\n\r\n" >&3 && grep -qE "^HTTP/1.[01] (200|401)" <&3) 2>/dev/null; then
            echo "fresh-debian-check: the registry answered GET /v2/"; exit 0; fi
          sleep 1; done; tail -20 /tmp/run.log; exit 1' ;;
  test) inner='cd /berth && ./scripts/test.sh' ;;
  engines) inner='cd /berth && ./scripts/install-deps.sh test &&
        port=$(bash tests/engines/ceph-rgw.sh start /tmp/rgw | cut -d" " -f1) &&
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && echo "fresh-debian-check: Ceph RGW answered S3 on $port" &&
        bash tests/engines/ceph-rgw.sh stop /tmp/rgw &&
        mkdir -p /tmp/pg && chown postgres: /tmp/pg &&
        runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /tmp/pg/data -U berth -A trust >/dev/null &&
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg/data -w -o "-p 55432 -k /tmp/pg -c listen_addresses=127.0.0.1" start >/dev/null &&
        /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p 55432 -U berth -d postgres -Atc "select version()" &&
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg/data -m fast stop >/dev/null &&
        haproxy -v | head -1 && echo "fresh-debian-check: engines OK"' ;;
  *) echo "usage: $0 DIR run|test|engines" >&2; exit 2 ;;
esac

exec unshare --mount --pid --fork bash -c "
  set -e
  mount --make-rprivate /
  # The new root must be a mount point: container runtimes remount / inside it (podman, dockerd).
  mount --bind '$root' '$root'
  mount -t proc proc '$root/proc'
  mount --rbind /sys '$root/sys'
  mount --rbind /dev '$root/dev'
  mount -t tmpfs tmpfs '$root/tmp'
  mount -t tmpfs tmpfs '$root/run'
  chroot '$root' /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root $host_ca bash -c '$inner'
"
