"""Two Berth servers on one PostgreSQL database (each with its own data directory): what they
share is one registry's metadata and secrets. The root key one server generates is the key of
both; a login token one issues is valid on the other; a repository, a tag and a manifest written
through one are read through the other; an immutable tag pushed through both at once has one
winner. (Blobs are still per-server files here; a shared blob store is the S3 backend's job.)

Starts its own PostgreSQL (postgres_engine.py), whatever BERTH_TEST_METADATA says.
"""

import json
import os
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import postgres_engine  # noqa: E402
from berth_fixture import BerthServer, sha256, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST  # noqa: E402


def generated_root_key(srv):
    m = re.search(r"AWS_ACCESS_KEY_ID=(\S+)\s+AWS_SECRET_ACCESS_KEY=(\S+)", srv.log_text())
    return (m.group(1), m.group(2)) if m else None


class TestTwoServersOneDatabase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres_engine.shared()
        dsn = cls.pg.dsn(cls.pg.database_for("test_shared_metadata"))
        env = {"BERTH_METADATA_DRIVER": "postgres", "BERTH_METADATA_DSN": dsn,
               "BERTH_ROOT_ACCESS_KEY_ID": None, "BERTH_ROOT_SECRET_ACCESS_KEY": None}
        cls.a = BerthServer("shared-a", env=env)
        cls.b = BerthServer("shared-b", env=env)
        cls.a.start()
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b):
            s.stop()
            s.cleanup()

    def test_01_one_generated_root_key_for_both(self):
        key = generated_root_key(self.a)
        self.assertIsNotNone(key, "server a printed no generated root key:\n" + self.a.log_text())
        self.assertIsNone(generated_root_key(self.b), "server b generated a second root key")
        self.assertIn("the metadata database", self.a.log_text())
        # the root key works on both servers, and nothing is in either data directory
        for s in (self.a, self.b):
            s.root = key
            s.auth = "sigv4"
            self.assertFalse(os.path.exists(os.path.join(s.data_dir, "root-credentials.json")))
            self.assertFalse(os.path.exists(os.path.join(s.data_dir, "token-signing.key")))
        doc = self.b.ecr("DescribeRepositories", {})
        self.assertEqual(doc["repositories"], [])

    def test_02_a_token_from_one_server_is_valid_on_the_other(self):
        token = self.a.login_token()
        for s in (self.a, self.b):
            r = s.req("GET", "/v2/", headers=s.basic_auth_header(token))
            self.assertEqual(r.status, 200, r.describe())
        r = self.b.req("GET", "/v2/", headers=self.b.basic_auth_header("not" + token))
        self.assertEqual(r.status, 401, r.describe())

    def test_03_what_one_writes_the_other_reads(self):
        self.a.ecr("CreateRepository", {"repositoryName": "shared/app"})
        doc = self.b.ecr("DescribeRepositories", {"repositoryNames": ["shared/app"]})
        self.assertEqual(doc["repositories"][0]["repositoryName"], "shared/app")
        # a manifest pushed through a (its blobs uploaded to both: files are per server here)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                                                           "diff_ids": []}}).encode()
        layer = os.urandom(1000)
        for s in (self.a, self.b):
            for blob in (config, layer):
                r = s.req("POST", "/v2/shared/app/blobs/uploads/?digest=" + sha256(blob), body=blob,
                          headers={"Content-Type": "application/octet-stream"}, auth=True)
                self.assertEqual(r.status, 201, r.describe())
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": 1000}]}).encode()
        r = self.a.req("PUT", "/v2/shared/app/manifests/v1", body=raw, headers={"Content-Type": OCI_MANIFEST},
                       auth=True)
        self.assertEqual(r.status, 201, r.describe())
        r = self.b.req("GET", "/v2/shared/app/manifests/v1", headers={"Accept": OCI_MANIFEST}, auth=True)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, raw)
        # the tag moved through b is seen by the next GET on a
        raw2 = raw.replace(b'"schemaVersion": 2', b'"schemaVersion":  2')
        r = self.b.req("PUT", "/v2/shared/app/manifests/v1", body=raw2, headers={"Content-Type": OCI_MANIFEST},
                       auth=True)
        self.assertEqual(r.status, 201, r.describe())
        r = self.a.req("GET", "/v2/shared/app/manifests/v1", headers={"Accept": OCI_MANIFEST}, auth=True)
        self.assertEqual(r.body, raw2)
        self.raw = raw

    def test_04_an_immutable_tag_pushed_through_both_at_once_has_one_winner(self):
        self.a.ecr("CreateRepository", {"repositoryName": "shared/immutable", "imageTagMutability": "IMMUTABLE"})
        config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        for s in (self.a, self.b):
            r = s.req("POST", "/v2/shared/immutable/blobs/uploads/?digest=" + sha256(config), body=config,
                      headers={"Content-Type": "application/octet-stream"}, auth=True)
            self.assertEqual(r.status, 201, r.describe())
        for i in range(10):
            results = {}
            go = threading.Barrier(2)

            def push(name, s):
                raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                  "config": {"mediaType": OCI_CONFIG, "digest": sha256(config),
                                             "size": len(config)},
                                  "layers": [], "annotations": {"by": name}}).encode()
                go.wait()
                r = s.req("PUT", "/v2/shared/immutable/manifests/t%d" % i, body=raw,
                          headers={"Content-Type": OCI_MANIFEST}, auth=True)
                results[name] = (r.status, r.error_codes() if r.status >= 400 else [])
            ts = [threading.Thread(target=push, args=(n, s)) for n, s in (("a", self.a), ("b", self.b))]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            statuses = sorted(st for st, _ in results.values())
            self.assertEqual(statuses, [201, 400], results)
            loser = [codes for st, codes in results.values() if st == 400][0]
            self.assertEqual(loser, ["TAG_INVALID"], results)


if __name__ == "__main__":
    unittest.main()
