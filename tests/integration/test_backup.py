"""Backup and restore: `berth backup DEST` while pushes keep arriving, `berth restore DEST
--data-dir NEW`, `berth fsck` on the result, and a server on NEW that serves every image
acknowledged before the backup began, byte for byte, and knows the IAM users (their sealed secret
keys came with the registry's keys). Backups are incremental; the refusals name what is wrong."""

import json
import os
import shutil
import subprocess
import threading
import time
import unittest

import boto3
from botocore.config import Config

from berth_fixture import (BerthServer, berth_bin, metadata_env, oci_image_manifest, sha256,
                           ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SHARED = os.urandom(300_000)  # one layer every image has


def push_image(srv, repo, tag, size=200_000):
    """Returns (manifest bytes, {digest: bytes}) once the push is acknowledged."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    layer = os.urandom(size)
    blobs = {sha256(b): b for b in (config, SHARED, layer)}
    for b in (config, SHARED, layer):
        srv.push_blob(repo, b)
    manifest = oci_image_manifest(
        {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": len(config)},
        [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(b), "size": len(b)}
         for b in (SHARED, layer)])
    r = srv.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r.describe()
    return manifest, blobs


def berth(*args, env=None, timeout=300):
    return subprocess.run([berth_bin()] + list(args), env=env, capture_output=True, text=True, timeout=timeout)


@unittest.skipIf(os.environ.get("BERTH_TEST_METADATA") == "postgres", "backup takes SQLite metadata (pg_dump otherwise)")
class TestBackup(unittest.TestCase):
    def setUp(self):
        self.srv = BerthServer("backup", auth="sigv4", v2_auth=True,
                               config={"gc": {"interval_seconds": 1, "grace_seconds": 0}})
        self.addCleanup(self.srv.cleanup)
        self.srv.start()
        self.work = self.srv.workdir
        self.dest = os.path.join(self.work, "backup")
        self.env = metadata_env(self.srv.data_dir)

    def backup(self, *extra):
        r = berth("backup", self.dest, "--data-dir", self.srv.data_dir, "--output", "json", *extra, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")  # no progress off a terminal, no log lines
        return json.loads(r.stdout)

    def test_backup_during_pushes_restores_every_acknowledged_image_byte_for_byte(self):
        iam = boto3.client("iam", endpoint_url=self.srv.base, region_name="us-east-1",
                           aws_access_key_id=ROOT_ACCESS_KEY_ID, aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
                           config=Config(retries={"max_attempts": 1}))
        iam.create_user(UserName="ci")
        key = iam.create_access_key(UserName="ci")["AccessKey"]
        for repo in ("bk/app", "bk/live"):
            self.srv.create_repository(repo)
        acked = {}  # (repo, tag) -> (manifest, blobs, acknowledged at)
        for i in range(4):
            m, b = push_image(self.srv, "bk/app", "v%d" % i)
            acked[("bk/app", "v%d" % i)] = (m, b, time.time())
        stop = threading.Event()
        errors = []

        def keep_pushing():
            n = 0
            while not stop.is_set():
                # gc.grace_seconds 0: a collection may take a blob between its upload and the
                # manifest (MANIFEST_BLOB_UNKNOWN), as documented; a client pushes again.
                for attempt in range(5):
                    try:
                        m, b = push_image(self.srv, "bk/live", "t%d" % n, size=500_000)
                        acked[("bk/live", "t%d" % n)] = (m, b, time.time())
                        n += 1
                        break
                    except AssertionError as e:
                        if "BLOB_UNKNOWN" not in str(e) or attempt == 4:
                            errors.append(repr(e))
                            return

        pusher = threading.Thread(target=keep_pushing)
        pusher.start()
        time.sleep(1.0)
        began = time.time()
        try:
            first = self.backup()
        finally:
            stop.set()
            pusher.join(timeout=60)
        self.assertEqual(errors, [])
        before = {k: v for k, v in acked.items() if v[2] < began}
        self.assertGreater(len([k for k in before if k[0] == "bk/live"]), 0, "no push finished before the backup")
        self.assertEqual(first["problems"], [])
        self.assertEqual(first["blobs_copied"], first["blobs"])  # a new backup copies everything
        self.assertTrue(any(k[0] == "bk/live" and v[2] > began for k, v in acked.items()),
                        "no push was acknowledged while the backup ran")
        with open(os.path.join(self.dest, "berth-backup.json")) as f:
            marker = json.load(f)
        self.assertEqual(marker["blobs"], first["blobs"])

        # Incremental: a second backup copies only what arrived since (at least SHARED is not copied again).
        second = self.backup()
        self.assertLess(second["blobs_copied"], second["blobs"])
        self.srv.stop()
        third = self.backup()
        self.assertEqual(third["blobs_copied"], 0)

        new = os.path.join(self.work, "restored")
        r = berth("restore", self.dest, "--data-dir", new, "--output", "json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["blobs"], third["blobs"])
        fsck = berth("fsck", "--data-dir", new)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)
        self.assertIn("0 problems", fsck.stdout)

        restored = BerthServer("restored", auth="sigv4", v2_auth=True)
        self.addCleanup(restored.cleanup)
        restored.start(data_dir=new)
        for (repo, tag), (manifest, blobs, _) in before.items():
            got = restored.req("GET", "/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI_MANIFEST})
            self.assertEqual(got.status, 200, (repo, tag, got.describe()))
            self.assertEqual(got.body, manifest)
            for digest, data in blobs.items():
                b = restored.req("GET", "/v2/%s/blobs/%s" % (repo, digest))
                self.assertEqual(b.status, 200, b.describe())
                self.assertEqual(b.body, data)
        # The IAM user's secret key was sealed with the registry's key, which came along.
        sts = boto3.client("sts", endpoint_url=restored.base, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                           config=Config(retries={"max_attempts": 1}))
        self.assertTrue(sts.get_caller_identity()["Arn"].endswith(":user/ci"))

    def test_refusals(self):
        self.srv.create_repository("bk/x")
        push_image(self.srv, "bk/x", "v1")
        cases = [
            (["backup", self.srv.data_dir, "--data-dir", self.srv.data_dir], "somewhere else"),
            (["backup", self.dest, "--data-dir", os.path.join(self.work, "nope")], "not a Berth data directory"),
            (["restore", os.path.join(self.work, "nope"), "--data-dir", os.path.join(self.work, "n1")],
             "is not a Berth backup"),
            (["restore", self.srv.data_dir, "--data-dir", os.path.join(self.work, "n2")], "is not a Berth backup"),
            (["backup", self.dest, "--data-dir", self.srv.data_dir, "--output", "yaml"], "--output must be"),
        ]
        not_empty = os.path.join(self.work, "not-empty")
        os.makedirs(not_empty)
        open(os.path.join(not_empty, "x"), "w").close()
        cases.append((["backup", not_empty, "--data-dir", self.srv.data_dir], "neither empty nor a Berth backup"))
        for args, words in cases:
            r = berth(*args, env=self.env)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertIn(words, r.stderr, args)
        self.assertFalse(os.path.exists(os.path.join(self.work, "n1")))
        self.backup()
        r = berth("restore", self.dest, "--data-dir", not_empty)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not empty", r.stderr)
        # A blob damaged in the backup: the restore refuses and leaves nothing behind.
        blobs_dir = os.path.join(self.dest, "blobs", "sha256")
        victim = os.path.join(blobs_dir, sorted(os.listdir(blobs_dir))[0])
        victim = os.path.join(victim, os.listdir(victim)[0])
        with open(victim, "r+b") as f:
            f.write(b"X")
        n3 = os.path.join(self.work, "n3")
        r = berth("restore", self.dest, "--data-dir", n3)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("incomplete or damaged", r.stderr)
        self.assertIn("problem: blob sha256:", r.stdout)
        self.assertFalse(os.path.exists(n3))


if __name__ == "__main__":
    unittest.main()
