"""Garbage collection, fsck and usage against a live server.

  TestConcurrentGc   8 client threads push images sharing layers (monolithic, chunked, HEAD-then-
                     skip and cross-repository mount uploads), retag, delete images (V2 DELETE and
                     BatchDeleteImage), delete blob links and whole repositories, while `berth gc
                     --grace 1` runs in a loop and the server collects every second. Every image
                     whose manifest PUT answered 201 and that was not deleted must pull back byte
                     for byte; fsck finds nothing; after `gc --grace 0` the blob files on disk are
                     exactly the blobs the surviving manifests reference.
  TestGcCommands     --dry-run, the grace period (also for recently linked blobs), --delete-untagged,
                     fsck detecting corrupt blobs and --repair quarantining them, `berth usage`.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_gc.py   (from tests/integration/; ~80 s)
Environment: BERTH_GC_STRESS_SECONDS (default 35), BERTH_GC_STRESS_THREADS (default 8).
"""

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, StoredBlobs, berth_bin, metadata_env, http_request, sha256, strip_origin,
    OCI_CONFIG, OCI_EMPTY, OCI_LAYER, OCI_MANIFEST,
)

CMD_TIMEOUT = 120
STRESS_SECONDS = float(os.environ.get("BERTH_GC_STRESS_SECONDS", "35"))
STRESS_THREADS = int(os.environ.get("BERTH_GC_STRESS_THREADS", "8"))
REPOS = ["stress/r%d" % i for i in range(4)]


def berth_cmd(data_dir, *args, check=True, timeout=CMD_TIMEOUT):
    cmd = [berth_bin()] + list(args) + ["--data-dir", data_dir]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=metadata_env(data_dir))
    if check and p.returncode != 0:
        raise AssertionError("%s -> %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def removed_blobs(out):
    return set(re.findall(r"^removed blob (sha256:[0-9a-f]{64})$", out, re.M))


def blob_files(data_dir):
    """The digest of every committed blob in the data directory's store (files or objects)."""
    return StoredBlobs(data_dir).digests()


def new_config(tag="x"):
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                       "tag": tag, "salt": os.urandom(12).hex()}).encode()


def manifest(cfg, layers, subject=None, cfg_type=OCI_CONFIG, artifact_type=None):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": cfg_type, "digest": sha256(cfg), "size": len(cfg)},
         "layers": [{"mediaType": OCI_LAYER, "digest": sha256(l), "size": len(l)} for l in layers]}
    if artifact_type:
        m["artifactType"] = artifact_type
    if subject:
        m["subject"] = subject
    return json.dumps(m, indent=2).encode()


def run_dumping_log(test, run, result):
    """TestCase.run that prints the server log tail when the test failed."""
    if result is None:
        return run(result)
    before = len(result.failures) + len(result.errors)
    out = run(result)
    srv = getattr(test, "srv", None)
    if len(result.failures) + len(result.errors) > before and srv is not None:
        srv.dump_log(tail=60)
    return out


# ====================================================================== stress
class LayerPool:
    """Layers the clients share (64 KiB - 1 MiB).  A slot is replaced every ROTATE seconds, so
    older layers stop being used, their images get deleted and the layers become garbage while
    some client may still be pushing an image that uses one."""

    ROTATE = 1.5

    def __init__(self, slots=10, seed=7):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.layers = [self._new() for _ in range(slots)]
        self.rotated_at = time.monotonic()
        self.rotations = 0

    def _new(self):
        size = self.rng.choice((65536, 98304, 131072, 196608, 262144, 393216, 524288, 655360, 786432, 1048576))
        return os.urandom(64) * (size // 64) + os.urandom(64)

    def pick(self, rng):
        with self.lock:
            if time.monotonic() - self.rotated_at > self.ROTATE:
                self.layers[self.rng.randrange(len(self.layers))] = self._new()
                self.rotated_at = time.monotonic()
                self.rotations += 1
            return rng.sample(self.layers, rng.choice((2, 3)))


class Client(threading.Thread):
    """One pushing/deleting client.  Everything it learns goes into its own fields; the test
    merges them after join()."""

    def __init__(self, test, tid, pool, deadline):
        super().__init__(name="client-%d" % tid, daemon=True)
        self.t, self.srv, self.tid, self.pool, self.deadline = test, test.srv, tid, pool, deadline
        self.rng = random.Random(1000 + tid)
        self.live = {}          # (repo, digest) -> {"raw", "tags": set, "blobs": {digest: bytes}}
        self.deleted = set()    # (repo, digest)
        self.ambiguous = set()  # (repo, digest): the manifest PUT/DELETE outcome is unknown
        self.junk = set()       # blob digests uploaded, never referenced, link deleted
        self.errors = []
        self.stats = {"pushed": 0, "retries": 0, "manifest_blob_unknown": 0, "deleted": 0, "retagged": 0,
                      "skipped_by_head": 0, "mounted": 0, "chunked": 0, "scratch_repos": 0, "junk": 0, "read_back": 0}
        self.n = 0

    # --------------------------------------------------------------- http
    def req(self, method, path, body=None, headers=None):
        st, h, data = http_request("127.0.0.1", self.srv.port, method, path, body, headers, timeout=60)
        return st, h, data

    def fail(self, what, st, data):
        self.errors.append("%s -> %s %r" % (what, st, data[:300]))

    def upload(self, repo, data, mode):
        d = sha256(data)
        if mode == "head":
            st, _, _ = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            if st == 200:
                self.stats["skipped_by_head"] += 1
                return True
            mode = "mono"
        path = "/v2/%s/blobs/uploads/" % repo
        if mode == "mount":
            src = self.rng.choice([r for r in REPOS if r != repo])
            path += "?mount=%s&from=%s" % (d, src)
        st, h, body = self.req("POST", path)
        if mode == "mount" and st == 201:
            self.stats["mounted"] += 1
            return True
        if st != 202:
            self.fail("POST %s" % path, st, body)
            return False
        loc = strip_origin(h["Location"])
        sep = "&" if "?" in loc else "?"
        if mode == "chunked":
            self.stats["chunked"] += 1
            half = len(data) // 2
            for part, start in ((data[:half], 0), (data[half:], half)):
                st, h, body = self.req("PATCH", loc, part, {"Content-Type": "application/octet-stream",
                                                             "Content-Range": "%d-%d" % (start, start + len(part) - 1),
                                                             "Content-Length": str(len(part))})
                if st != 202:
                    self.fail("PATCH upload", st, body)
                    return False
                loc = strip_origin(h["Location"])
                sep = "&" if "?" in loc else "?"
            st, h, body = self.req("PUT", "%s%sdigest=%s" % (loc, sep, d), b"", {"Content-Length": "0"})
        else:
            st, h, body = self.req("PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                                   {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        if st != 201:
            self.fail("PUT blob %s" % d, st, body)
            return False
        return True

    def push(self, repo, tag):
        """One image: a unique config and 2-3 pool layers.  Retries the whole push when the
        manifest PUT says MANIFEST_BLOB_UNKNOWN (GC collected a blob in between)."""
        cfg = new_config("%s:%s" % (repo, tag))
        layers = self.pool.pick(self.rng)
        raw = manifest(cfg, layers)
        digest = sha256(raw)
        blobs = {sha256(cfg): cfg}
        blobs.update({sha256(l): l for l in layers})
        slow = self.rng.random() < 0.12
        for attempt in range(8):
            for data in [cfg] + layers:
                mode = self.rng.choice(("head", "head", "mono", "chunked", "mount"))
                if not self.upload(repo, data, mode):
                    return None
            if slow:
                time.sleep(self.rng.uniform(1.0, 2.0))   # let a blob age past the 1 s grace
            ref = tag or digest
            try:
                st, h, body = self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), raw,
                                       {"Content-Type": OCI_MANIFEST})
            except OSError as e:
                self.ambiguous.add((repo, digest))
                self.errors.append("manifest PUT %s:%s: %r" % (repo, ref, e))
                return None
            if st == 201:
                if h.get("Docker-Content-Digest") != digest:
                    self.fail("manifest PUT digest header %r" % h.get("Docker-Content-Digest"), st, body)
                self.stats["pushed"] += 1
                if tag:
                    for (r, d), rec in self.live.items():   # the tag moved off an older image
                        if r == repo and d != digest:
                            rec["tags"].discard(tag)
                rec = self.live.setdefault((repo, digest), {"raw": raw, "tags": set(), "blobs": blobs})
                if tag:
                    rec["tags"].add(tag)
                self.deleted.discard((repo, digest))
                return digest
            codes = []
            try:
                codes = [e.get("code") for e in json.loads(body).get("errors", [])]
            except ValueError:
                pass
            if st == 400 and "MANIFEST_BLOB_UNKNOWN" in codes:
                self.stats["manifest_blob_unknown"] += 1
                self.stats["retries"] += 1
                slow = False
                continue
            self.fail("manifest PUT %s:%s" % (repo, ref), st, body)
            return None
        self.errors.append("push %s:%s: MANIFEST_BLOB_UNKNOWN 8 times in a row" % (repo, tag))
        return None

    def delete_one(self, oldest=False):
        mine = list(self.live)          # insertion order: oldest first
        if not mine:
            return
        repo, digest = mine[0] if oldest else self.rng.choice(mine)
        try:
            if self.rng.random() < 0.5:
                st, h, body = self.req("DELETE", "/v2/%s/manifests/%s" % (repo, digest))
                ok = st == 202
            else:
                st, h, doc = self.srv.ecr_call("BatchDeleteImage", {"repositoryName": repo,
                                                                    "imageIds": [{"imageDigest": digest}]})
                ok = st == 200 and not doc.get("failures") and len(doc.get("imageIds", [])) >= 1
                body = json.dumps(doc).encode()
        except OSError as e:
            self.ambiguous.add((repo, digest))
            self.live.pop((repo, digest), None)
            self.errors.append("delete %s@%s: %r" % (repo, digest, e))
            return
        if not ok:
            self.fail("delete %s@%s" % (repo, digest), st, body)
            return
        self.live.pop((repo, digest))
        self.deleted.add((repo, digest))
        self.stats["deleted"] += 1

    def read_back(self):
        """Pull one of this client's live images while GC runs: manifest and every blob."""
        if not self.live:
            return
        (repo, digest), rec = self.rng.choice(sorted(self.live.items(), key=lambda kv: kv[0]))
        st, h, body = self.req("GET", "/v2/%s/manifests/%s" % (repo, digest), headers={"Accept": OCI_MANIFEST})
        if st != 200 or body != rec["raw"]:
            self.fail("GET manifest %s@%s (live)" % (repo, digest), st, body)
            return
        for d, data in rec["blobs"].items():
            st, h, body = self.req("GET", "/v2/%s/blobs/%s" % (repo, d))
            if st != 200 or body != data:
                self.fail("GET blob %s of live %s@%s" % (d, repo, digest), st, body[:100])
        self.stats["read_back"] += 1

    def junk_blob(self):
        repo = self.rng.choice(REPOS)
        data = b"junk " + os.urandom(self.rng.randint(1000, 40000))
        if self.upload(repo, data, "mono"):
            st, h, body = self.req("DELETE", "/v2/%s/blobs/%s" % (repo, sha256(data)))
            if st != 202:
                self.fail("DELETE blob", st, body)
            self.junk.add(sha256(data))
            self.stats["junk"] += 1

    def scratch_repository(self):
        repo = "stress/scratch-%d-%d" % (self.tid, self.n)
        pushed = [self.push(repo, "s%d" % i) for i in range(2)]
        for d in pushed:
            if d:
                self.live.pop((repo, d), None)
        st, h, doc = self.srv.ecr_call("DeleteRepository", {"repositoryName": repo, "force": True})
        if st != 200:
            self.fail("DeleteRepository %s" % repo, st, json.dumps(doc).encode())
            for d in pushed:
                if d:
                    self.ambiguous.add((repo, d))
        self.stats["scratch_repos"] += 1

    def run(self):
        try:
            while time.monotonic() < self.deadline and len(self.errors) < 20:
                self.n += 1
                x = self.rng.random()
                repo = self.rng.choice(REPOS)
                if len(self.live) > 5:
                    self.delete_one(oldest=True)
                elif x < 0.55:
                    tag = None if self.rng.random() < 0.2 else "t%d-%d" % (self.tid, self.n)
                    self.push(repo, tag)
                elif x < 0.65:
                    if self.push(repo, "latest-%d" % self.tid):
                        self.stats["retagged"] += 1
                elif x < 0.78:
                    self.delete_one()
                elif x < 0.85:
                    self.read_back()
                elif x < 0.93:
                    self.junk_blob()
                else:
                    self.scratch_repository()
        except Exception as e:   # noqa: BLE001 -- any client crash is a test failure
            import traceback
            self.errors.append("client %d crashed: %s" % (self.tid, traceback.format_exc()))
            del e


class GcLoop(threading.Thread):
    def __init__(self, data_dir, stop):
        super().__init__(name="gc-loop", daemon=True)
        self.data_dir, self.stop = data_dir, stop
        self.runs, self.removed, self.errors = 0, set(), []

    def run(self):
        while not self.stop.is_set() and len(self.errors) < 5:
            try:
                rc, out, err = berth_cmd(self.data_dir, "gc", "--grace", "1", check=False, timeout=60)
            except subprocess.TimeoutExpired:
                self.errors.append("berth gc --grace 1 took over 60 s")
                continue
            except OSError as e:
                self.errors.append("cannot run berth gc: %r" % e)
                self.stop.wait(1)
                continue
            self.runs += 1
            if rc != 0 or not re.search(r"^gc removed \d+ images?, \d+ blobs?", out, re.M):
                self.errors.append("berth gc --grace 1 -> %d\n%s%s" % (rc, out, err[-2000:]))
            if re.search(r"\b(error|failed)\b", out + err, re.I):
                self.errors.append("berth gc --grace 1 reported an error:\n%s%s" % (out[-2000:], err[-2000:]))
            self.removed |= removed_blobs(out)
            self.stop.wait(0.3)


class TestConcurrentGc(unittest.TestCase):
    def setUp(self):
        self.srv = BerthServer("gc-stress", auth="none",
                               config={"gc": {"interval_seconds": 1, "grace_seconds": 1},
                                       "lifecycle": {"interval_seconds": 0}})
        self.srv.start()
        self.srv.enable_create_on_push()

    def tearDown(self):
        self.srv.stop()
        self.srv.cleanup()

    def run(self, result=None):
        return run_dumping_log(self, super().run, result)

    def test_push_delete_gc_concurrently(self):
        srv = self.srv
        pool = LayerPool()
        stop = threading.Event()
        gc_loop = GcLoop(srv.data_dir, stop)
        deadline = time.monotonic() + STRESS_SECONDS
        clients = [Client(self, i, pool, deadline) for i in range(STRESS_THREADS)]
        t0 = time.monotonic()
        gc_loop.start()
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=STRESS_SECONDS + 180)
            self.assertFalse(c.is_alive(), "client %s still running" % c.name)
        stop.set()
        gc_loop.join(timeout=120)
        self.assertFalse(gc_loop.is_alive(), "gc loop still running")
        stats = {}
        for c in clients:
            for k, v in c.stats.items():
                stats[k] = stats.get(k, 0) + v
        sys.stderr.write("\n  stress %.0fs: %s; %d layer rotations; gc loop: %d runs, %d blobs removed\n" % (
            time.monotonic() - t0, stats, pool.rotations, gc_loop.runs, len(gc_loop.removed)))

        errors = [e for c in clients for e in c.errors] + gc_loop.errors
        self.assertEqual(errors, [], "\n".join(errors[:20]))
        self.assertGreater(stats["pushed"], 40, stats)
        self.assertGreater(stats["deleted"], 5, stats)
        self.assertGreater(gc_loop.runs, 5)
        self.assertTrue(gc_loop.removed, "berth gc --grace 1 never removed a blob")

        live, deleted, ambiguous, junk = {}, set(), set(), set()
        for c in clients:
            live.update(c.live)
            deleted |= c.deleted
            ambiguous |= c.ambiguous
            junk |= c.junk

        # 1. the server lists exactly the images we believe exist
        repos = sorted({r for r, _ in live} | {r for r, _ in deleted} | set(REPOS))
        for repo in repos:
            st, _, doc = srv.ecr_call("ListImages", {"repositoryName": repo, "maxResults": 1000})
            if st != 200:
                self.assertEqual(doc.get("__type"), "RepositoryNotFoundException", doc)
                self.assertFalse([k for k in live if k[0] == repo], "%s vanished: %r" % (repo, doc))
                continue
            server_digests = {i["imageDigest"] for i in doc["imageIds"]}
            mine = {d for r, d in live if r == repo}
            unsure = {d for r, d in ambiguous if r == repo}
            self.assertEqual(mine - server_digests, set(), "%s: pushed (201) and never deleted, but not listed" % repo)
            self.assertEqual(server_digests - mine - unsure, set(),
                             "%s: listed but deleted or never acknowledged" % repo)
            for (r, d), rec in live.items():
                if r != repo:
                    continue
                tags = {i["imageTag"] for i in doc["imageIds"] if i["imageDigest"] == d and i.get("imageTag")}
                self.assertEqual(tags, rec["tags"], "%s@%s tags" % (repo, d))

        # 2. fsck while the server runs
        rc, out, err = berth_cmd(srv.data_dir, "fsck", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(" 0 problems", out)

        # 3. a final collection with no grace at all
        time.sleep(1.5)
        rc, out, err = berth_cmd(srv.data_dir, "gc", "--grace", "0")
        final_removed = removed_blobs(out)

        # 4. every surviving image pulls back byte for byte: each manifest by digest and by
        #    each tag, each (repository, blob) once
        checked = set()
        for (repo, digest), rec in sorted(live.items()):
            for ref in [digest] + sorted(rec["tags"]):
                r = srv.req("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": OCI_MANIFEST})
                self.assertEqual(r.status, 200, "%s:%s\n%s" % (repo, ref, r.describe()))
                self.assertEqual(r.body, rec["raw"], "%s:%s" % (repo, ref))
                self.assertEqual(r.headers.get("Docker-Content-Digest"), digest)
            for d, data in rec["blobs"].items():
                if (repo, d) in checked:
                    continue
                checked.add((repo, d))
                r = srv.req("GET", "/v2/%s/blobs/%s" % (repo, d))
                self.assertEqual(r.status, 200, "%s blob %s of %s\n%s" % (repo, d, digest, r.describe()))
                self.assertEqual(r.body, data, "%s blob %s" % (repo, d))

        # 5. on disk: exactly the referenced blobs
        referenced = set()
        for rec in live.values():
            referenced |= set(rec["blobs"])
        unsure_refs = set()
        for repo, d in ambiguous:
            r = srv.req("GET", "/v2/%s/manifests/%s" % (repo, d), headers={"Accept": OCI_MANIFEST})
            if r.status == 200:
                doc = r.json()
                unsure_refs |= {b["digest"] for b in [doc["config"]] + doc["layers"]}
        on_disk = set(blob_files(srv.data_dir))
        self.assertEqual(referenced - on_disk, set(), "referenced blobs missing from disk")
        self.assertEqual(on_disk - referenced - unsure_refs, set(),
                         "blob files nothing references survived `gc --grace 0` (it removed %d)" % len(final_removed))
        self.assertEqual(junk & on_disk, set(), "deleted, never referenced blobs still on disk")
        self.assertEqual(final_removed & referenced, set(), "gc --grace 0 reported removing referenced blobs")
        self.assertEqual(StoredBlobs(srv.data_dir).trash(), [], "trash not empty")

        rc, out, err = berth_cmd(srv.data_dir, "fsck", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(" 0 problems", out)
        self.assertTrue(srv.running(), "server died")
        bad = [l for l in srv.log_text().splitlines() if re.match(r"^\S+ (error|critical) ", l)]
        self.assertEqual(bad, [], "server logged errors:\n" + "\n".join(bad[:20]))


# ====================================================================== commands
class TestGcCommands(unittest.TestCase):
    """One fresh server per test: --auth none, no scheduled GC or lifecycle runs."""

    def setUp(self):
        self.srv = BerthServer("gc-cmd", auth="none",
                               config={"gc": {"interval_seconds": 0}, "lifecycle": {"interval_seconds": 0}})
        self.srv.start()
        self.srv.enable_create_on_push()
        self.dir = self.srv.data_dir

    def tearDown(self):
        self.srv.stop()
        self.srv.cleanup()

    def run(self, result=None):
        return run_dumping_log(self, super().run, result)

    def push(self, repo, tag, layers, cfg=None, subject=None, artifact_type=None):
        cfg = cfg if cfg is not None else new_config(tag or "untagged")
        cfg_type = OCI_EMPTY if cfg == b"{}" else OCI_CONFIG
        for b in [cfg] + list(layers):
            self.srv.push_blob(repo, b)
        raw = manifest(cfg, layers, subject=subject, cfg_type=cfg_type, artifact_type=artifact_type)
        self.srv.push_manifest(repo, tag or sha256(raw), raw, OCI_MANIFEST)
        return sha256(raw), raw, {sha256(b): b for b in [cfg] + list(layers)}

    def delete(self, repo, digest):
        doc = self.srv.ecr("BatchDeleteImage", {"repositoryName": repo, "imageIds": [{"imageDigest": digest}]})
        self.assertEqual(doc.get("failures"), [], doc)

    def assertBlob(self, repo, d, data):
        r = self.srv.req("GET", "/v2/%s/blobs/%s" % (repo, d))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, data)

    def test_dry_run_reports_without_removing(self):
        shared = os.urandom(70000)
        keep, _, keep_blobs = self.push("g/dry", "keep", [shared])
        gone, _, gone_blobs = self.push("g/dry", "gone", [shared, os.urandom(5000)])
        self.delete("g/dry", gone)
        expected = set(gone_blobs) - set(keep_blobs)
        self.assertEqual(len(expected), 2)
        time.sleep(1.2)
        before = blob_files(self.dir)
        rc, out, err = berth_cmd(self.dir, "gc", "--dry-run", "--grace", "0")
        self.assertEqual(set(re.findall(r"^would remove blob (sha256:[0-9a-f]{64})$", out, re.M)), expected, out)
        self.assertRegex(out, r"(?m)^gc would remove 0 images, 2 blobs ")
        self.assertEqual(removed_blobs(out), set())
        self.assertEqual(blob_files(self.dir), before, "--dry-run removed files")
        rc, out, err = berth_cmd(self.dir, "fsck")
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "0")
        self.assertEqual(removed_blobs(out), expected, out)
        self.assertRegex(out, r"(?m)^gc removed 0 images, 2 blobs ")
        after = blob_files(self.dir)
        self.assertEqual(set(before) - set(after), expected)
        for d, data in keep_blobs.items():
            self.assertBlob("g/dry", d, data)
        r = self.srv.req("GET", "/v2/g/dry/manifests/keep")
        self.assertEqual(r.status, 200)
        # nothing left to do
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "0")
        self.assertEqual(removed_blobs(out), set(), out)

    def test_grace_period(self):
        data = os.urandom(30000)
        d = self.srv.push_blob("g/grace", data)          # uploaded, never referenced
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "30")
        self.assertEqual(removed_blobs(out), set(), out)
        self.assertIn(d, blob_files(self.dir))
        self.assertBlob("g/grace", d, data)
        # without --grace and without a configured gc.grace_seconds: a day
        time.sleep(2.2)
        rc, out, err = berth_cmd(self.dir, "gc")
        self.assertEqual(removed_blobs(out), set(), "default grace is a day:\n" + out)
        # a fresh link (cross-repository mount) counts as recent use
        r = self.srv.req("POST", "/v2/g/grace2/blobs/uploads/?mount=%s&from=g/grace" % d)
        self.assertEqual(r.status, 201, r.describe())
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "2")
        self.assertEqual(removed_blobs(out), set(), "a blob mounted just now was collected:\n" + out)
        self.assertIn(d, blob_files(self.dir))
        time.sleep(3.2)
        # gc.grace_seconds from --config
        cfg = os.path.join(self.srv.workdir, "gc-grace.json")
        with open(cfg, "w") as f:
            json.dump({"gc": {"grace_seconds": 2}}, f)
        rc, out, err = berth_cmd(self.dir, "gc", "--config", cfg)
        self.assertEqual(removed_blobs(out), {d}, out)
        self.assertNotIn(d, blob_files(self.dir))
        for repo in ("g/grace", "g/grace2"):
            r = self.srv.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            self.assertEqual(r.status, 404, r.describe())
        # and it can be pushed again
        self.srv.push_blob("g/grace", data)
        self.assertBlob("g/grace", d, data)

    def test_delete_untagged(self):
        shared = os.urandom(20000)
        tagged, traw, tagged_blobs = self.push("g/untag", "v1", [shared])
        loose, _, loose_blobs = self.push("g/untag", None, [shared, os.urandom(3000)])
        # an untagged referrer of the tagged image stays: its subject is there
        sig, _, _ = self.push("g/untag", None, [b"signature " + os.urandom(100)], cfg=b"{}",
                              subject={"mediaType": OCI_MANIFEST, "digest": tagged, "size": len(traw)},
                              artifact_type="application/vnd.example.sig")
        time.sleep(1.2)
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "0")          # keep: nothing happens
        self.assertNotIn("removed image", out)
        rc, out, err = berth_cmd(self.dir, "gc", "--grace", "0", "--delete-untagged")
        self.assertEqual(re.findall(r"^removed image (\S+)$", out, re.M), ["g/untag@" + loose], out)
        self.assertEqual(removed_blobs(out), set(loose_blobs) - set(tagged_blobs), out)
        self.assertEqual(self.srv.req("GET", "/v2/g/untag/manifests/%s" % loose).status, 404)
        self.assertEqual(self.srv.req("GET", "/v2/g/untag/manifests/%s" % sig).status, 200)
        self.assertEqual(self.srv.req("GET", "/v2/g/untag/manifests/v1").status, 200)
        rc, out, err = berth_cmd(self.dir, "fsck")
        self.assertIn(" 0 problems", out)

    def test_fsck_detects_and_quarantines_corruption(self):
        layer = os.urandom(50000)
        digest, raw, blobs = self.push("g/fsck", "v1", [layer, os.urandom(1000)])
        rc, out, err = berth_cmd(self.dir, "fsck", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"(?m)^fsck: 3 blobs, \d+ references checked, 0 problems$")
        d = sha256(layer)
        stored = StoredBlobs(self.dir)
        self.assertTrue(stored.exists(d), stored.where(d))
        corrupt = bytearray(layer)
        corrupt[1000:1008] = b"CORRUPT!"
        stored.overwrite(d, bytes(corrupt))              # same size, other bytes
        rc, out, err = berth_cmd(self.dir, "fsck", check=False)
        self.assertEqual(rc, 1, out + err)
        self.assertNotIn(" 0 problems", out)
        problems = re.findall(r"^problem: (.*)$", out, re.M)
        self.assertTrue(any(d in p and "corrupt" in p for p in problems), out)
        self.assertTrue(all(d in p for p in problems), "only the corrupt blob is a problem:\n" + out)
        self.assertTrue(stored.exists(d), "fsck without --repair moved the blob")

        rc, out, err = berth_cmd(self.dir, "fsck", "--repair", check=False)
        self.assertEqual(rc, 1, out + err)
        quarantined = re.findall(r"^quarantined: (.*)$", out, re.M)
        self.assertEqual(len(quarantined), 1, out)
        qpath = quarantined[0]
        if stored.s3:
            self.assertTrue(qpath.startswith(stored.quarantine_root()), qpath)
        else:
            qpath = qpath if os.path.isabs(qpath) else os.path.join(self.dir, qpath)
            self.assertTrue(os.path.realpath(qpath).startswith(os.path.realpath(stored.quarantine_root())), qpath)
        self.assertEqual(stored.read_at(qpath), bytes(corrupt))
        self.assertFalse(stored.exists(d), "the corrupt blob is still in place")
        r = self.srv.req("GET", "/v2/g/fsck/blobs/%s" % d)
        self.assertNotEqual((r.status, r.body), (200, bytes(corrupt)), "serves the corrupt bytes")
        if r.status == 200:
            self.assertEqual(r.body, layer)
        # the other blobs are untouched
        for od, data in blobs.items():
            if od != d:
                self.assertBlob("g/fsck", od, data)
        # gc must not "fix" it by forgetting the referenced blob, nor fail
        berth_cmd(self.dir, "gc", "--grace", "0")
        # uploading the right bytes again heals it
        self.srv.push_blob("g/fsck", layer)
        self.assertBlob("g/fsck", d, layer)
        rc, out, err = berth_cmd(self.dir, "fsck", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(" 0 problems", out)

        # a truncated blob is corrupt too
        cfg_d = [x for x in blobs if x != d and blobs[x] != layer][0]
        stored.overwrite(cfg_d, stored.read(cfg_d)[:10])
        rc, out, err = berth_cmd(self.dir, "fsck", check=False)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(cfg_d, out)

    def test_usage(self):
        shared = os.urandom(40000)
        a1, _, a1_blobs = self.push("u/alpha", "v1", [shared, os.urandom(1234)])
        a2, _, a2_blobs = self.push("u/alpha", None, [shared])
        b1, _, b1_blobs = self.push("u/beta", "v1", [shared])
        self.srv.push_manifest("u/beta", "v1-again", self.srv.req("GET", "/v2/u/beta/manifests/v1").body,
                               OCI_MANIFEST)
        self.srv.create_repository("u/empty")
        self.srv.push_blob("u/alpha", os.urandom(999))      # unreferenced: not counted
        # For people: a table with human sizes and a total line; for scripts: exact bytes in JSON.
        rc, out, err = berth_cmd(self.dir, "usage")
        lines = out.strip().splitlines()
        self.assertEqual(lines[0].split(), ["REPOSITORY", "IMAGES", "TAGS", "SIZE"], out)
        self.assertRegex(lines[-1], r"^\d+ repositor(y|ies), \d+ images?, [0-9.]+ (B|KiB|MiB) referenced$")
        alpha_line = [l for l in lines if l.split()[:1] == ["u/alpha"]]
        self.assertRegex(alpha_line[0], r"^u/alpha +2 +1 +[0-9.]+ KiB$")
        rc, out, err = berth_cmd(self.dir, "usage", "--output", "json")
        rows = {r["repository"]: (r["images"], r["tags"], r["referenced_bytes"]) for r in json.loads(out)}
        size = lambda blobs: sum(len(b) for b in blobs.values())  # noqa: E731
        alpha = dict(a1_blobs, **a2_blobs)
        self.assertEqual(rows.get("u/alpha"), (2, 1, size(alpha)), out)
        self.assertEqual(rows.get("u/beta"), (1, 2, size(b1_blobs)), out)
        self.assertEqual(rows.get("u/empty", (0, 0, 0)), (0, 0, 0), out)
        # after a delete, the bytes only that image referenced no longer count
        self.delete("u/alpha", a1)
        rc, out, err = berth_cmd(self.dir, "usage", "--output", "json")
        row = [r for r in json.loads(out) if r["repository"] == "u/alpha"]
        self.assertEqual(row, [{"repository": "u/alpha", "images": 1, "tags": 0,
                                "referenced_bytes": size(a2_blobs)}], out)
        # The inventory commands list what is there.
        rc, out, err = berth_cmd(self.dir, "repo", "list", "--output", "json")
        self.assertLessEqual({"u/alpha", "u/beta", "u/empty"}, {r["repository"] for r in json.loads(out)}, out)
        rc, out, err = berth_cmd(self.dir, "repo", "list")
        self.assertRegex(out.strip().splitlines()[-1], r"^\d+ repositor(y|ies)$")
        rc, out, err = berth_cmd(self.dir, "image", "list", "u/beta", "--output", "json")
        images = json.loads(out)
        self.assertEqual([sorted(i["tags"]) for i in images], [["v1", "v1-again"]], out)
        self.assertEqual(images[0]["digest"], b1)
        rc, out, err = berth_cmd(self.dir, "image", "list", "u/alpha")
        self.assertIn(" untagged ", out)
        self.assertEqual(out.strip().splitlines()[-1], "1 image in u/alpha")
        rc, out, err = berth_cmd(self.dir, "image", "list", "u/nope", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("u/nope", err)
        # The long commands' summaries, as JSON for scripts (and no progress off a terminal).
        rc, out, err = berth_cmd(self.dir, "fsck", "--output", "json")
        report = json.loads(out)
        self.assertEqual(report["problems"], [], out)
        self.assertGreater(report["blobs_checked"], 0)
        rc, out, err = berth_cmd(self.dir, "gc", "--dry-run", "--grace", "0", "--output", "json")
        report = json.loads(out)
        self.assertTrue(report["dry_run"])
        self.assertGreaterEqual(len(report["blobs"]), 1, out)  # the unreferenced upload, and a1's own layer
        rc, out, err = berth_cmd(self.dir, "lifecycle", "run", "--dry-run", "--output", "json")
        self.assertIsInstance(json.loads(out), list)
        rc, out, err = berth_cmd(self.dir, "fsck", "--output", "xml", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("--output must be text or json", err)

if __name__ == "__main__":
    unittest.main()
