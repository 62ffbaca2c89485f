"""Three Berth servers on one PostgreSQL and one Ceph RGW bucket, behind haproxy: one registry.

  TestOneRegistry   an upload whose POST, PATCHes (crossing multipart part boundaries) and PUT
                    each go to a different server; blobs and manifests read back byte for byte
                    through every server; a tag moved on one server is seen by the next GET on
                    another; a login token issued by one works on all; the data directories hold
                    no secret.
  TestFailures      kill -9 of one server while clients push through the balancer; PostgreSQL
                    restarted and RGW stopped and started under traffic: requests fail with 503
                    (or are retried by the client) meanwhile, nothing acknowledged is lost, the
                    servers recover without a restart, and fsck (on PostgreSQL + S3) is clean.

Starts its own PostgreSQL, RGW, three servers and haproxy (BERTH_TEST_FLEET defaults to 3 here).
"""

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

os.environ.setdefault("BERTH_TEST_METADATA", "postgres")
os.environ.setdefault("BERTH_TEST_STORAGE", "s3")
os.environ.setdefault("BERTH_TEST_FLEET", "3")

import postgres_engine  # noqa: E402
import rgw_engine  # noqa: E402
from berth_fixture import (  # noqa: E402
    BerthServer, berth_bin, metadata_env, http_request, sha256, strip_origin,
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
)

MiB = 1 << 20
SERVER = None


def setUpModule():
    global SERVER
    SERVER = BerthServer("fleet", auth="sigv4", v2_auth=True)
    SERVER.start()
    SERVER.enable_create_on_push()


def tearDownModule():
    SERVER.stop()
    SERVER.cleanup()


def member_req(m, method, path, body=None, headers=None, timeout=120):
    """A request straight to one member (not through the balancer), with the fleet's token."""
    h = dict(SERVER.basic_auth_header())
    h.update(headers or {})
    return http_request("127.0.0.1", m.port, method, path, body, h, timeout)


def fsck():
    out = subprocess.run([berth_bin(), "fsck", "--data-dir", SERVER.data_dir], capture_output=True, text=True,
                         timeout=600, env=metadata_env(SERVER.data_dir))
    return out.returncode, out.stdout + out.stderr


class TestOneRegistry(unittest.TestCase):
    def test_an_upload_spread_over_every_server(self):
        members = SERVER.members
        self.assertEqual(len(members), 3)
        layer = os.urandom(40 * MiB + 12345)       # parts of 16 MiB: the PATCHes cross part boundaries
        st, h, body = member_req(members[0], "POST", "/v2/fleet/app/blobs/uploads/")
        self.assertEqual(st, 202, body)
        loc = strip_origin(h["Location"])
        chunk = 7 * MiB + 3
        for i, start in enumerate(range(0, len(layer), chunk)):
            piece = layer[start:start + chunk]
            m = members[(i + 1) % 3]
            st, h, body = member_req(m, "PATCH", loc, piece,
                                     {"Content-Type": "application/octet-stream",
                                      "Content-Range": "%d-%d" % (start, start + len(piece) - 1)})
            self.assertEqual(st, 202, "PATCH %d on member %d: %r" % (i, (i + 1) % 3, body))
            loc = strip_origin(h["Location"])
            self.assertEqual(h["Range"], "0-%d" % (start + len(piece) - 1))
        # a GET of the session on another server reports what the last PATCH left
        st, h, _ = member_req(members[2], "GET", loc)
        self.assertEqual((st, h["Range"]), (204, "0-%d" % (len(layer) - 1)))
        d = sha256(layer)
        st, h, body = member_req(members[1], "PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d)
        self.assertEqual(st, 201, body)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        st, _, body = member_req(members[2], "POST", "/v2/fleet/app/blobs/uploads/?digest=" + sha256(config),
                                 config, {"Content-Type": "application/octet-stream"})
        self.assertEqual(st, 201, body)
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": len(layer)}]}).encode()
        st, _, body = member_req(members[0], "PUT", "/v2/fleet/app/manifests/v1", raw,
                                 {"Content-Type": OCI_MANIFEST})
        self.assertEqual(st, 201, body)
        for m in members:
            st, _, got = member_req(m, "GET", "/v2/fleet/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
            self.assertEqual((st, got), (200, raw))
            st, _, got = member_req(m, "GET", "/v2/fleet/app/blobs/" + d)
            self.assertEqual(st, 200)
            self.assertEqual(hashlib.sha256(got).hexdigest(), d.split(":")[1])
            st, h, got = member_req(m, "GET", "/v2/fleet/app/blobs/" + d, headers={"Range": "bytes=16777210-16777229"})
            self.assertEqual((st, got), (206, layer[16777210:16777230]))
        # moved through one server, seen by the next GET on another
        raw2 = raw.replace(b'"schemaVersion": 2', b'"schemaVersion":  2')
        st, _, _ = member_req(members[1], "PUT", "/v2/fleet/app/manifests/v1", raw2, {"Content-Type": OCI_MANIFEST})
        self.assertEqual(st, 201)
        st, _, got = member_req(members[2], "GET", "/v2/fleet/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(got, raw2)

    def test_a_token_from_one_server_works_on_every_server(self):
        token = SERVER.login_token()
        for m in SERVER.members:
            st, _, _ = http_request("127.0.0.1", m.port, "GET", "/v2/", None, SERVER.basic_auth_header(token))
            self.assertEqual(st, 200)
            for f in ("root-credentials.json", "token-signing.key", "berth.db"):
                self.assertFalse(os.path.exists(os.path.join(m.data_dir, f)), f)
            self.assertFalse(os.path.isdir(os.path.join(m.data_dir, "blobs")))


class Pusher(threading.Thread):
    """Pushes small images through the balancer until stopped; records what was acknowledged."""

    def __init__(self, n, stop):
        super().__init__(daemon=True)
        self.n, self.stop, self.acked, self.failures = n, stop, {}, 0
        self.rng = random.Random(n)

    def push_one(self, i):
        repo = "fleet/load%d" % self.n
        layer = os.urandom(self.rng.choice([2000, 300000, 6 * MiB]))
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": [self.n, i],
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        for blob in (layer, config):
            r = SERVER.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(blob)), body=blob,
                           headers={"Content-Type": "application/octet-stream"}, timeout=60)
            if r.status != 201:
                return False
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}]}).encode()
        r = SERVER.req("PUT", "/v2/%s/manifests/t%d" % (repo, i), body=raw, headers={"Content-Type": OCI_MANIFEST},
                       timeout=60)
        if r.status != 201:
            return False
        self.acked[(repo, "t%d" % i)] = (raw, sha256(layer), len(layer))
        return True

    def run(self):
        i = 0
        while not self.stop.is_set() and i < 10000:
            try:
                ok = self.push_one(i)
            except OSError:
                ok = False
            if not ok:
                self.failures += 1
                time.sleep(0.2)
            i += 1


class TestFailures(unittest.TestCase):
    def run_load(self, disturb):
        stop = threading.Event()
        pushers = [Pusher(n, stop) for n in range(4)]
        for p in pushers:
            p.start()
        try:
            time.sleep(3)
            disturb()
            time.sleep(5)
        finally:
            stop.set()
            for p in pushers:
                p.join(120)
        acked = {}
        for p in pushers:
            acked.update(p.acked)
        self.assertGreater(len(acked), 10, "too few pushes acknowledged")
        # every acknowledged push reads back, byte for byte, through every server
        for (repo, tag), (raw, layer_digest, size) in acked.items():
            for m in SERVER.members:
                st, _, got = member_req(m, "GET", "/v2/%s/manifests/%s" % (repo, tag),
                                        headers={"Accept": OCI_MANIFEST})
                self.assertEqual((st, got), (200, raw), "%s:%s on %s" % (repo, tag, m.name))
            st, h, _ = member_req(SERVER.members[0], "HEAD", "/v2/%s/blobs/%s" % (repo, layer_digest))
            self.assertEqual((st, int(h["Content-Length"])), (200, size))
        rc, out = fsck()
        self.assertEqual(rc, 0, out)
        self.assertIn(" 0 problems", out)
        return sum(p.failures for p in pushers), len(acked)

    def test_kill9_of_one_server_mid_push(self):
        victim = SERVER.members[1]

        def disturb():
            victim.kill9()
            time.sleep(3)
            victim.start()

        failures, acked = self.run_load(disturb)
        sys.stderr.write("\n  kill -9 of one server: %d pushes acknowledged, %d failed and retried\n"
                         % (acked, failures))

    def test_postgres_restart_and_rgw_outage_under_traffic(self):
        pg = postgres_engine.shared()
        rgw = rgw_engine.shared()

        def disturb():
            pg.stop("fast")
            time.sleep(2)
            # while the database is down, a request gets 503 UNAVAILABLE, not a hang or a crash
            r = SERVER.req("GET", "/v2/fleet/load0/manifests/t0", headers={"Accept": OCI_MANIFEST}, timeout=60)
            self.assertEqual(r.status, 503, r.describe())
            self.assertEqual(r.error_codes(), ["UNAVAILABLE"])
            pg.start()
            time.sleep(3)
            rgw.stop_gateway()
            time.sleep(2)
            blob = os.urandom(1000)
            r = SERVER.req("POST", "/v2/fleet/outage/blobs/uploads/?digest=" + sha256(blob), body=blob,
                           headers={"Content-Type": "application/octet-stream"}, timeout=120)
            self.assertEqual(r.status, 503, r.describe())
            rgw.start_gateway()

        failures, acked = self.run_load(disturb)
        for m in SERVER.members:
            self.assertTrue(m.running(), "%s died during the outages:\n%s" % (m.name, m.log_text()[-3000:]))
        sys.stderr.write("\n  PostgreSQL restart + RGW outage: %d pushes acknowledged, %d failed and retried\n"
                         % (acked, failures))


if __name__ == "__main__":
    unittest.main()
