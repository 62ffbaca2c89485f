"""Events: every push and deletion (V2, BatchDeleteImage, a lifecycle run from the command line)
reaches the configured webhooks as ECR's "ECR Image Action" EventBridge event, signed with the
webhook's secret, in order per repository, at least once: through a receiver that fails its first
attempts, and through kill -9 of the server while the receiver is down."""

import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

import boto3
from botocore.config import Config

from berth_fixture import (BerthServer, berth_bin, free_port, metadata_env, oci_image_manifest, sha256,
                           ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SECRET = "webhook-secret"
WAIT = 60  # seconds any expected delivery may take (back-off is 1-2 s here)


class Receiver:
    """A webhook receiver on loopback: records each POST (headers and body); answers 500 to the
    first `fail_first` of them. stop() closes the port (the receiver is down)."""

    def __init__(self, port=None, fail_first=0):
        self.port = port or free_port()
        self.fail_first = fail_first
        self.attempts = 0
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.attempts += 1
                    failing = outer.attempts <= outer.fail_first
                    if not failing:
                        outer.posts.append((self.path, dict(self.headers.items()), body))
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self):
        with self.lock:
            return [(path, headers, json.loads(body), body) for path, headers, body in self.posts]

    def wait_for(self, n, timeout=WAIT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.unique()) >= n:
                return self.unique()
            time.sleep(0.1)
        raise AssertionError("%d of %d events arrived in %d s: %s" % (len(self.unique()), n, timeout,
                                                                       [e["detail"] for e in self.unique()]))

    def unique(self):
        """The events in arrival order, each once (delivery is at least once)."""
        seen, out = set(), []
        for _, _, e, _ in self.events():
            if e["id"] not in seen:
                seen.add(e["id"])
                out.append(e)
        return out


def push_image(srv, repo, tag):
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    layer = os.urandom(2000)
    for blob in (config, layer):
        srv.push_blob(repo, blob)
    manifest = oci_image_manifest(
        {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": len(config)},
        [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": len(layer)}])
    r = srv.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r.describe()
    return sha256(manifest)


def actions(events, repo):
    return [(e["detail"]["action-type"], e["detail"].get("image-tag"), e["detail"]["image-digest"])
            for e in events if e["detail"]["repository-name"] == repo]


class TestEvents(unittest.TestCase):
    def server(self, name, hook_port, **config):
        srv = BerthServer(name, auth="sigv4", v2_auth=True, config=dict({
            "events": {"webhooks": [{"url": "http://127.0.0.1:%d/hooks/ecr?src=berth" % hook_port, "secret": SECRET}],
                       "retry_base_seconds": 1, "retry_max_seconds": 2, "timeout_seconds": 5},
            "lifecycle": {"interval_seconds": 0}, "gc": {"interval_seconds": 0}}, **config),
            registry={"account_id": "123456789012", "region": "eu-west-1"})
        self.addCleanup(srv.cleanup)
        srv.start()
        return srv

    def ecr(self, srv):
        return boto3.client("ecr", endpoint_url=srv.base, region_name="eu-west-1",
                            aws_access_key_id=ROOT_ACCESS_KEY_ID, aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
                            config=Config(retries={"max_attempts": 1}))

    def test_pushes_and_deletes_arrive_signed_in_order_through_a_failing_receiver(self):
        hook = Receiver(fail_first=3)
        self.addCleanup(hook.stop)
        srv = self.server("events", hook.port)
        srv.create_repository("ev/app")
        srv.create_repository("ev/other")
        d1 = push_image(srv, "ev/app", "v1")
        d2 = push_image(srv, "ev/app", "v2")
        d3 = push_image(srv, "ev/other", "x")
        self.assertEqual(srv.req("DELETE", "/v2/ev/app/manifests/v1").status, 202)  # the tag (V2)
        gone = self.ecr(srv).batch_delete_image(repositoryName="ev/app", imageIds=[{"imageDigest": d2}])
        self.assertEqual(len(gone["imageIds"]), 1, gone)
        events = hook.wait_for(5)
        self.assertGreaterEqual(hook.attempts, 8)  # the 3 refused were tried again
        self.assertEqual(actions(events, "ev/app"), [("PUSH", "v1", d1), ("PUSH", "v2", d2), ("DELETE", "v1", d1),
                                                    ("DELETE", "v2", d2)])
        self.assertEqual(actions(events, "ev/other"), [("PUSH", "x", d3)])
        for path, headers, e, body in hook.events():
            self.assertEqual(path, "/hooks/ecr?src=berth")
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(headers["X-Berth-Event-Id"], e["id"])
            want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertTrue(hmac.compare_digest(headers["X-Berth-Signature-256"], want))
            self.assertEqual({k: e[k] for k in ("version", "detail-type", "source", "account", "region", "resources")},
                             {"version": "0", "detail-type": "ECR Image Action", "source": "aws.ecr",
                              "account": "123456789012", "region": "eu-west-1", "resources": []})
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertRegex(e["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            self.assertEqual(e["detail"]["result"], "SUCCESS")
            if e["detail"]["action-type"] == "PUSH":
                self.assertEqual(e["detail"]["manifest-media-type"], OCI_MANIFEST)
        metrics = srv.req("GET", "/metrics").body.decode()
        self.assertIn('berth_queue_depth{queue="events"} 0', metrics)
        counter = lambda name: float(re.search(r"^%s (\S+)$" % name, metrics, re.M).group(1))  # noqa: E731
        self.assertGreaterEqual(counter("berth_events_delivered_total"), 5)
        self.assertGreaterEqual(counter("berth_event_attempts_failed_total"), 3)

    def test_no_event_is_lost_to_kill_9_while_the_receiver_is_down(self):
        port = free_port()
        srv = self.server("events-kill", port)
        srv.create_repository("ev/durable")
        digests = [push_image(srv, "ev/durable", "t%d" % i) for i in range(6)]
        # Every push was acknowledged; nobody could hear of it. The server dies without warning.
        srv.kill9()
        # A lifecycle run from the command line expires the two oldest while no server runs; its
        # deletions are announced too (the next server delivers them).
        srv.start()
        self.ecr(srv).put_lifecycle_policy(repositoryName="ev/durable", lifecyclePolicyText=json.dumps({"rules": [{
            "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 4},
            "action": {"type": "expire"}}]}))
        srv.kill9()
        run = subprocess.run([berth_bin(), "lifecycle", "run", "--data-dir", srv.data_dir, "--config",
                              srv.config_path], env=metadata_env(srv.data_dir), capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        hook = Receiver(port=port)
        self.addCleanup(hook.stop)
        srv.start()
        events = hook.wait_for(8)
        got = actions(events, "ev/durable")
        self.assertEqual(got[:6], [("PUSH", "t%d" % i, d) for i, d in enumerate(digests)])
        # Pushed within one second, the images expire in digest order: which two, describe tells.
        left = {i["imageDigest"] for i in self.ecr(srv).describe_images(repositoryName="ev/durable")["imageDetails"]}
        self.assertEqual(len(left), 4)
        expired = sorted(("DELETE", "t%d" % i, d) for i, d in enumerate(digests) if d not in left)
        self.assertEqual(sorted(got[6:]), expired)


if __name__ == "__main__":
    unittest.main()
