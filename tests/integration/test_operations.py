"""Running Berth in production: /healthz, /readyz and /metrics (on the main listener behind a login
token, on a separate metrics listener without one), the access log, and the audit line of a refused
credential. promtool (Debian's prometheus package) checks every exposition."""

import base64
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import unittest

import boto3

from berth_fixture import (BerthServer, free_port, http_request, oci_image_manifest, sha256,
                           ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PROMTOOL = shutil.which("promtool")


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, "not an exposition line: %r" % line
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def total(metrics, name, **labels):
    """The sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def basic(token):
    return "Basic " + base64.b64encode(("AWS:" + token).encode()).decode()


class OpsCase(unittest.TestCase):
    def assertPromtoolAccepts(self, text):
        self.assertIsNotNone(PROMTOOL, "promtool is missing: scripts/install-deps.sh test installs prometheus")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def push_image(self, srv, repo, tag):
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
        layer = os.urandom(3000)
        for blob in (config, layer):
            srv.push_blob(repo, blob)
        manifest = oci_image_manifest(
            {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": len(config)},
            [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": len(layer)}])
        r = srv.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest, headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(r.status, 201, r.describe())
        return len(config) + len(layer)


class TestMainListener(OpsCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer("ops", auth="sigv4", v2_auth=True, extra_args=["--access-log"],
                              config={"gc": {"interval_seconds": 1, "grace_seconds": 0}})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def get(self, path, method="GET", headers=None):
        return http_request("127.0.0.1", self.srv.port, method, path, headers=headers)

    def iam(self):
        return boto3.client("iam", endpoint_url=self.srv.base, region_name="us-east-1",
                            aws_access_key_id=ROOT_ACCESS_KEY_ID, aws_secret_access_key=ROOT_SECRET_ACCESS_KEY)

    def test_health_and_readiness_need_no_credentials(self):
        st, h, body = self.get("/healthz")
        self.assertEqual((st, body), (200, b"ok\n"))
        self.assertEqual(h["Cache-Control"], "no-store")
        st, _, body = self.get("/readyz")
        self.assertEqual((st, body), (200, b"ready\n"))
        st, _, body = self.get("/healthz", method="HEAD")
        self.assertEqual((st, body), (200, b""))
        st, h, _ = self.get("/readyz", method="POST")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "GET, HEAD")
        # The V2 base still asks for credentials: probes use /healthz.
        self.assertEqual(self.get("/v2/")[0], 401)

    def test_metrics_need_a_login_token_allowed_describe_registry(self):
        st, h, body = self.get("/metrics")
        self.assertEqual(st, 401, body)
        self.assertIn("Basic", h["WWW-Authenticate"])
        self.assertEqual(self.get("/metrics", headers={"Authorization": basic("forged")})[0], 401)
        self.assertEqual(self.get("/metrics", headers={"Authorization": "Bearer forged"})[0], 401)
        token = self.srv.login_token()
        st, h, body = self.get("/metrics", headers={"Authorization": basic(token)})
        self.assertEqual(st, 200, body)
        self.assertEqual(h["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(self.get("/metrics", headers={"Authorization": "Bearer " + token})[0], 200)
        self.assertPromtoolAccepts(body.decode())

        # A user who may log in but not read registry-wide state is refused, until a policy allows it.
        iam = self.iam()
        iam.create_user(UserName="scraper")
        key = iam.create_access_key(UserName="scraper")["AccessKey"]
        creds = (key["AccessKeyId"], key["SecretAccessKey"])

        def put_policy(actions):
            iam.put_user_policy(UserName="scraper", PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))

        put_policy(["ecr:GetAuthorizationToken"])
        user_token = self.srv.login_token(*creds)
        st, _, body = self.get("/metrics", headers={"Authorization": basic(user_token)})
        self.assertEqual(st, 403, body)
        self.assertIn(b"ecr:DescribeRegistry", body)
        put_policy(["ecr:GetAuthorizationToken", "ecr:DescribeRegistry"])
        self.assertEqual(self.get("/metrics", headers={"Authorization": basic(user_token)})[0], 200)

    def scrape(self):
        st, _, body = self.get("/metrics", headers={"Authorization": basic(self.srv.login_token())})
        self.assertEqual(st, 200, body)
        text = body.decode()
        self.assertPromtoolAccepts(text)
        return parse_metrics(text)

    def test_metrics_count_requests_contents_and_refusals(self):
        before = self.scrape()
        self.srv.create_repository("metrics/app")
        pushed = self.push_image(self.srv, "metrics/app", "v1")
        self.assertEqual(self.srv.req("GET", "/v2/metrics/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status,
                         200)
        # A refused credential on each API: a forged V2 token, a wrong ECR signature.
        self.assertEqual(self.srv.req("GET", "/v2/metrics/app/tags/list", auth=False,
                                      headers={"Authorization": basic("forged")}).status, 401)
        st, _, doc = self.srv.ecr_call("DescribeRepositories", {}, secret=ROOT_SECRET_ACCESS_KEY[:-1] + "x")
        self.assertEqual((st, doc["__type"]), (400, "InvalidSignatureException"))
        after = self.scrape()

        self.assertEqual([v for (n, _), v in after.items() if n == "berth_build_info"], [1])
        self.assertEqual(value(after, "berth_ready"), 1)
        self.assertGreaterEqual(value(after, "berth_http_requests_total", api="v2", route="manifest.put",
                                      method="PUT", status="201"), 1)
        self.assertGreaterEqual(value(after, "berth_http_requests_total", api="ecr", route="CreateRepository",
                                      method="POST", status="200"), 1)
        self.assertGreaterEqual(total(after, "berth_http_request_duration_seconds_count", api="v2",
                                      route="manifest.get"), 1)
        self.assertGreaterEqual(total(after, "berth_http_request_bytes_total", api="v2")
                                - total(before, "berth_http_request_bytes_total", api="v2"), pushed)
        self.assertGreaterEqual(value(after, "berth_authentication_failures_total", api="v2")
                                - (value(before, "berth_authentication_failures_total", api="v2") or 0), 1)
        self.assertGreaterEqual(value(after, "berth_authentication_failures_total", api="ecr")
                                - (value(before, "berth_authentication_failures_total", api="ecr") or 0), 1)
        # Contents: cached for up to 10 s, so wait for the push to show.
        deadline = time.monotonic() + 20
        while value(after, "berth_images") < 1 and time.monotonic() < deadline:
            time.sleep(1)
            after = self.scrape()
        self.assertGreaterEqual(value(after, "berth_repositories"), 1)
        self.assertGreaterEqual(value(after, "berth_images"), 1)
        self.assertGreaterEqual(value(after, "berth_tags"), 1)
        self.assertGreaterEqual(value(after, "berth_blobs"), 2)
        self.assertGreaterEqual(value(after, "berth_blob_bytes"), pushed)
        for q in ("replication", "pull-through-import", "events"):
            self.assertEqual(value(after, "berth_queue_depth", queue=q), 0)
            self.assertEqual(value(after, "berth_queue_overdue_seconds", queue=q), 0)
        # The process families the standard dashboards read.
        self.assertGreater(value(after, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(after, "process_open_fds"), 3)
        self.assertGreater(value(after, "process_start_time_seconds"), time.time() - 3600)

    def test_gc_runs_are_counted(self):
        deadline = time.monotonic() + 20
        metrics = self.scrape()
        while value(metrics, "berth_maintenance_runs_total", job="gc") < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            metrics = self.scrape()
        self.assertGreaterEqual(value(metrics, "berth_maintenance_runs_total", job="gc"), 1)
        self.assertGreater(value(metrics, "berth_maintenance_last_run_timestamp_seconds", job="gc"), time.time() - 60)
        for job in ("lifecycle", "upload-expiry"):
            self.assertIsNotNone(value(metrics, "berth_maintenance_runs_total", job=job))

    def test_access_log_and_audit_lines(self):
        self.srv.ecr("DescribeRepositories", {})
        self.srv.req("GET", "/v2/metrics/nothing/tags/list", auth=False, headers={"Authorization": basic("forged")})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = self.srv.log_text()
            if "access POST / 200" in log and '"result":"unauthenticated"' in log:
                break
            time.sleep(0.2)
        access = [ln for ln in log.splitlines() if " access POST / 200 " in ln and "route=ecr.DescribeRepositories" in ln]
        self.assertTrue(access, log[-2000:])
        self.assertRegex(access[-1], r" access POST / 200 [0-9.]+ms in=\d+ out=\d+ peer=127\.0\.0\.1:\d+ "
                                     r"identity=arn:aws:iam::\d{12}:root route=ecr\.DescribeRepositories "
                                     r"request_id=\S+$")
        audits = [json.loads(ln.split(" audit ", 1)[1]) for ln in log.splitlines() if " audit {" in ln]
        refused = [a for a in audits if a["result"] == "unauthenticated" and a["api"] == "v2"]
        self.assertTrue(refused, audits[-5:])
        self.assertEqual(refused[-1]["status"], 401)
        self.assertIn("root access key %s: from the environment (BERTH_ROOT_ACCESS_KEY_ID)" % ROOT_ACCESS_KEY_ID, log)
        self.assertNotIn(ROOT_SECRET_ACCESS_KEY, log)


class TestMetricsListener(OpsCase):
    def test_separate_listener_serves_metrics_without_credentials(self):
        mport = free_port()
        srv = BerthServer("ops-listener", auth="sigv4", v2_auth=True,
                          extra_args=["--log-format", "json", "--access-log"],
                          config={"metrics": {"listen": "127.0.0.1:%d" % mport}})
        srv.start()
        self.addCleanup(srv.cleanup)
        srv.create_repository("app")
        self.push_image(srv, "app", "v1")
        st, _, body = http_request("127.0.0.1", mport, "GET", "/metrics")
        self.assertEqual(st, 200, body)
        self.assertPromtoolAccepts(body.decode())
        metrics = parse_metrics(body.decode())
        self.assertGreaterEqual(value(metrics, "berth_http_requests_total", api="v2", route="manifest.put",
                                      method="PUT", status="201"), 1)
        self.assertEqual(http_request("127.0.0.1", mport, "GET", "/healthz")[0], 200)
        self.assertEqual(http_request("127.0.0.1", mport, "GET", "/readyz")[0], 200)
        # Only the operator's endpoints: the registry is not reachable through it.
        self.assertEqual(http_request("127.0.0.1", mport, "GET", "/v2/")[0], 404)
        self.assertEqual(http_request("127.0.0.1", mport, "POST", "/", body=b"{}",
                                      headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.ListImages"})[0],
                         404)
        # The main listener still wants a token.
        self.assertEqual(srv.req("GET", "/metrics", auth=False).status, 401)
        # JSON access lines carry their fields.
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline:
            lines = [json.loads(ln) for ln in srv.log_text().splitlines() if ln.startswith("{")]
            if any(d.get("msg") == "access" and d.get("route") == "manifest.put" for d in lines):
                break
            time.sleep(0.2)
        put = [d for d in lines if d.get("msg") == "access" and d.get("route") == "manifest.put"]
        self.assertTrue(put, lines[-5:])
        for field in ("time", "level", "method", "path", "api", "status", "bytes_in", "bytes_out", "duration_ms",
                      "peer", "identity", "request_id"):
            self.assertIn(field, put[-1])
        self.assertEqual((put[-1]["method"], put[-1]["path"], put[-1]["status"]), ("PUT", "/v2/app/manifests/v1", 201))
        self.assertTrue(put[-1]["identity"].endswith(":root"), put[-1])
        self.assertTrue(any("metrics, health and readiness on http://127.0.0.1:%d" % mport in d.get("msg", "")
                            for d in lines))
        self.assertEqual(srv.stop(), 0)

    def test_metrics_public_opens_the_main_listener(self):
        srv = BerthServer("ops-public", auth="sigv4", config={"metrics": {"public": True}})
        srv.start()
        self.addCleanup(srv.cleanup)
        r = srv.req("GET", "/metrics", auth=False)
        self.assertEqual(r.status, 200, r.describe())
        self.assertPromtoolAccepts(r.body.decode())

    def test_metrics_listener_on_a_busy_port_stops_the_start(self):
        srv = BerthServer("ops-busy", auth="sigv4")
        srv.start()
        self.addCleanup(srv.cleanup)
        other = BerthServer("ops-busy-2", auth="sigv4", config={"metrics": {"listen": srv.hostport}})
        self.addCleanup(other.cleanup)
        with self.assertRaises(Exception):
            other.start()
        self.assertIn("metrics listener: cannot listen on 127.0.0.1:%d" % srv.port, other.log_text())


class TestReadiness(OpsCase):
    def test_readyz_names_a_blob_store_that_stopped_answering(self):
        srv = BerthServer("ops-ready", auth="none")
        srv.start()
        self.addCleanup(srv.cleanup)
        self.assertEqual(srv.req("GET", "/readyz").status, 200)
        # The blob directory replaced by a file: every path under it fails with ENOTDIR, as an
        # unmounted or broken volume would fail.
        blobs = os.path.join(srv.data_dir, "blobs")
        shutil.move(blobs, blobs + ".away")
        with open(blobs, "w") as f:
            f.write("not a directory")
        try:
            r = srv.req("GET", "/readyz")
            self.assertEqual(r.status, 503, r.describe())
            self.assertTrue(r.body.startswith(b"not ready: blob store: "), r.body)
            self.assertEqual(srv.req("GET", "/healthz").status, 200)  # serving, not ready
            r = srv.req("GET", "/metrics")
            self.assertEqual(value(parse_metrics(r.body.decode()), "berth_ready"), 0)
        finally:
            os.remove(blobs)
            shutil.move(blobs + ".away", blobs)
        self.assertEqual(srv.req("GET", "/readyz").status, 200)

    def test_an_older_server_after_a_newer_one_migrated_is_not_ready(self):
        # A rolling upgrade: a newer Berth migrated the shared schema while this one still runs. It
        # keeps serving (healthz) but says it is not ready, so a load balancer drains it; once
        # stopped, it refuses to start on that schema rather than writing into it.
        srv = BerthServer("ops-upgrade", auth="none")
        srv.start()
        self.addCleanup(srv.cleanup)
        self.assertEqual(srv.req("GET", "/readyz").status, 200)
        db = sqlite3.connect(os.path.join(srv.data_dir, "berth.db"), timeout=10)
        (current,) = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        db.execute("INSERT INTO schema_migrations(version, applied_at) VALUES(?, 0)", (current + 1,))
        db.commit()
        db.close()
        r = srv.req("GET", "/readyz")
        self.assertEqual(r.status, 503, r.describe())
        self.assertEqual(r.body.decode().strip(), "not ready: metadata store: schema version %d, this build needs %d"
                         % (current + 1, current))
        self.assertEqual(srv.req("GET", "/healthz").status, 200)
        self.assertEqual(srv.stop(), 0)
        with self.assertRaises(Exception):
            srv.start()
        self.assertIn("metadata schema version %d is newer than this berth understands (%d)" % (current + 1, current),
                      srv.log_text())


if __name__ == "__main__":
    unittest.main()
