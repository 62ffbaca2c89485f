"""Crash safety: acknowledged pushes survive SIGKILL, and a full disk fails cleanly.

  TestKill9      16 client threads push images that share layers (a pool of 12 blobs, 16 KiB -
                 2 MiB; each image = config + 2-4 pool layers + a small unique layer) with a mix
                 of upload styles (monolithic POST ?digest=, POST+PUT, chunked PATCH with
                 Content-Range, streamed chunked-encoding PATCH, PATCH + closing PUT with the
                 rest), pull, and delete some of their images, while the test SIGKILLs the
                 server 6-8 times at random moments (0.3-2 s apart) and restarts it on the same
                 data directory and port.  A push counts as acknowledged only when its manifest
                 PUT answered 201.  After every restart:
                   - every acknowledged, not deleted image pulls back byte for byte (manifest by
                     tag and by digest, every blob), every acknowledged blob upload is there;
                   - every tag listed was pushed by some client and not rejected; a tag whose
                     PUT got no answer may be visible, and then points at exactly the bytes
                     sent, with all its blobs present; a tag whose DELETE was acknowledged is
                     gone;
                 at the end `berth fsck` finds 0 problems, once beside the running server and
                 once with it stopped.  Figures are printed (kills survived, pushes acknowledged,
                 requests tried).
  TestFullDisk   the data directory on a 64 MiB tmpfs: push until an upload fails; the failure
                 is a clean HTTP error (5xx, or 4xx with an OCI code), never a hang, a dropped
                 connection or a crash; every acknowledged image still pulls; fsck finds
                 nothing; after deleting images and `berth gc --grace 0`, pushes work again.
                 Needs root (mount); skipped loudly otherwise.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_crash_safety.py   (~2 min)
Environment: BERTH_CRASH_KILLS (default: random 6-8), BERTH_CRASH_THREADS (16), BERTH_CRASH_SEED.
"""

import hashlib
import http.client
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

import fleet  # noqa: E402
import rgw_engine  # noqa: E402
from berth_fixture import (  # noqa: E402
    BerthServer, berth_bin, metadata_env, http_request, sha256, strip_origin,
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
)

THREADS = int(os.environ.get("BERTH_CRASH_THREADS", "16"))
SEED = int(os.environ.get("BERTH_CRASH_SEED", str(int(time.time()))))
REQUEST_TIMEOUT = 30.0       # a request unanswered this long (server alive) is a hang
REPOS = ["crash/r%d" % i for i in range(4)]
CRASH_MARKERS = ("terminate called", "Segmentation fault", "AddressSanitizer", "handler failed",
                 "connection failed")


def berth_cmd(data_dir, *args, timeout=180):
    cmd = [berth_bin()] + list(args) + ["--data-dir", data_dir]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=metadata_env(data_dir))
    return p.returncode, p.stdout + p.stderr


def assert_fsck_clean(test, data_dir, when):
    rc, out = berth_cmd(data_dir, "fsck")
    test.assertEqual(rc, 0, "fsck (%s) -> %d:\n%s" % (when, rc, out[-3000:]))
    test.assertRegex(out, r"\b0 problems\b", "fsck (%s):\n%s" % (when, out[-3000:]))
    m = re.search(r"fsck: (\d+) blobs?, (\d+) references?", out)
    print("  fsck %s: %s" % (when, m.group(0) if m else out.strip().splitlines()[-1]))


class ConnLost(Exception):
    """No answer: the connection failed or was cut (the server was killed)."""


class Hang(Exception):
    """The server is alive but did not answer within REQUEST_TIMEOUT."""


def oci_manifest(cfg, layers):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
         "layers": [{"mediaType": OCI_LAYER, "digest": sha256(l), "size": len(l)} for l in layers]}
    return json.dumps(m, indent=2).encode()


class Image:
    __slots__ = ("repo", "tag", "raw", "digest", "blobs", "state", "owner")

    def __init__(self, repo, tag, raw, blobs, owner):
        self.repo, self.tag, self.raw, self.digest = repo, tag, raw, sha256(raw)
        self.blobs = blobs          # [(digest, size)]
        self.state = "maybe"        # maybe | acked | rejected | deleting | deleted | maybe-deleted
        self.owner = owner


class World:
    """Everything the clients were told, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.images = {}            # (repo, tag) -> Image   (every tag any client tried to push)
        self.acked_blobs = {}       # (repo, digest) -> size  (upload answered 201, or HEAD 200)
        self.anomalies = []
        self.requests = 0
        self.lost = 0
        self.pushes_tried = 0
        self.pushes_acked = 0
        self.deletes_acked = 0
        self.pulls_ok = 0

    def anomaly(self, text):
        with self.lock:
            self.anomalies.append(text)
        sys.stderr.write("ANOMALY: %s\n" % text)


class Client(threading.Thread):
    def __init__(self, tid, world, port, pool, stop, seed):
        super().__init__(name="client-%d" % tid, daemon=True)
        self.tid, self.world, self.port, self.pool, self.stop = tid, world, port, pool, stop
        self.rng = random.Random(seed)
        self.n = 0
        self.mine = []              # my acknowledged images

    # --------------------------------------------------------------- plumbing
    def call(self, method, path, body=None, headers=None):
        with self.world.lock:
            self.world.requests += 1
        try:
            st, h, data = http_request("127.0.0.1", self.port, method, path, body, headers,
                                       timeout=REQUEST_TIMEOUT)
        except (TimeoutError, OSError) as e:
            if "timed out" in str(e):
                raise Hang("%s %s: %r" % (method, path, e))
            raise ConnLost(repr(e))
        except (http.client.HTTPException, AssertionError) as e:
            raise ConnLost(repr(e))
        if fleet.size() and st in (502, 503, 504) and not h.get("Docker-Distribution-API-Version"):
            # haproxy answering for a server it lost (the fleet run): the connection to Berth was lost
            raise ConnLost("balancer answered %d" % st)
        return st, h, data

    def expect(self, what, got, *statuses):
        st = got[0]
        if st not in statuses:
            self.world.anomaly("%s: status %d (expected %s): %r" % (what, st, statuses, got[2][:300]))
            return False
        return True

    # --------------------------------------------------------------- uploads
    def upload(self, repo, data):
        """True when the blob is in the repository (201, or HEAD 200)."""
        d = sha256(data)
        if self.rng.random() < 0.5:
            st, h, _ = self.call("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            if st == 200:
                self.note_blob(repo, d, len(data))
                return True
            if st != 404:
                self.world.anomaly("HEAD blob %s: %d" % (d, st))
                return False
        style = self.rng.choice(("monolithic", "post-put", "patch-range", "patch-stream", "patch-put"))
        if style == "monolithic":
            got = self.call("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data,
                            {"Content-Type": "application/octet-stream"})
            return self.committed(style, repo, d, data, got)
        got = self.call("POST", "/v2/%s/blobs/uploads/" % repo)
        if not self.expect("POST upload", got, 202):
            return False
        loc = strip_origin(got[1]["Location"])
        rest = data
        if style in ("patch-range", "patch-put"):
            end = len(data) if style == "patch-range" else len(data) // 2
            off = 0
            while off < end:
                n = min(end - off, self.rng.choice((65536, 131072, 262144, 524288)))
                got = self.call("PATCH", loc, data[off:off + n],
                                {"Content-Range": "%d-%d" % (off, off + n - 1),
                                 "Content-Type": "application/octet-stream"})
                if not self.expect("PATCH %s" % style, got, 202):
                    return False
                if got[1].get("Range") != "0-%d" % (off + n - 1):
                    self.world.anomaly("PATCH Range %r after %d bytes" % (got[1].get("Range"), off + n))
                    return False
                loc = strip_origin(got[1]["Location"])
                off += n
            rest = data[end:]
        elif style == "patch-stream":
            pieces = [data[i:i + 100000] for i in range(0, len(data), 100000)]
            got = self.call("PATCH", loc, iter(pieces), {"Content-Type": "application/octet-stream"})
            if not self.expect("streamed PATCH", got, 202):
                return False
            loc = strip_origin(got[1]["Location"])
            rest = b""
        sep = "&" if "?" in loc else "?"
        got = self.call("PUT", "%s%sdigest=%s" % (loc, sep, d), rest,
                        {"Content-Type": "application/octet-stream"})
        return self.committed(style, repo, d, data, got)

    def committed(self, style, repo, d, data, got):
        if not self.expect("blob commit (%s)" % style, got, 201):
            return False
        if got[1].get("Docker-Content-Digest") != d:
            self.world.anomaly("blob commit answered digest %r for %s" % (got[1].get("Docker-Content-Digest"), d))
            return False
        self.note_blob(repo, d, len(data))
        return True

    def note_blob(self, repo, d, size):
        with self.world.lock:
            self.world.acked_blobs[(repo, d)] = size

    # --------------------------------------------------------------- actions
    def push(self):
        self.n += 1
        repo = self.rng.choice(REPOS)
        tag = "c%02d-%04d" % (self.tid, self.n)
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "client": self.tid, "n": self.n,
                          "salt": os.urandom(8).hex()}).encode()
        layers = self.rng.sample(self.pool, self.rng.randint(2, 4)) + [os.urandom(self.rng.randint(200, 4000))]
        with self.world.lock:
            self.world.pushes_tried += 1
        for blob in [cfg] + layers:
            if not self.upload(repo, blob):
                return
        raw = oci_manifest(cfg, layers)
        img = Image(repo, tag, raw, [(sha256(b), len(b)) for b in [cfg] + layers], self.tid)
        with self.world.lock:
            self.world.images[(repo, tag)] = img        # tried: may become visible from now on
        got = self.call("PUT", "/v2/%s/manifests/%s" % (repo, tag), raw, {"Content-Type": OCI_MANIFEST})
        if got[0] == 201 and got[1].get("Docker-Content-Digest") == img.digest:
            with self.world.lock:
                img.state = "acked"
                self.world.pushes_acked += 1
            self.mine.append(img)
        else:
            with self.world.lock:
                img.state = "rejected"
            self.world.anomaly("manifest PUT %s:%s -> %d %r" % (repo, tag, got[0], got[2][:300]))

    def delete(self):
        live = [i for i in self.mine if i.state == "acked"]
        if not live:
            return
        img = self.rng.choice(live)
        with self.world.lock:
            img.state = "deleting"
        try:
            got = self.call("DELETE", "/v2/%s/manifests/%s" % (img.repo, img.digest))
        except ConnLost:
            with self.world.lock:
                img.state = "maybe-deleted"
            raise
        if got[0] == 202:
            with self.world.lock:
                img.state = "deleted"
                self.world.deletes_acked += 1
        else:
            self.world.anomaly("DELETE %s@%s -> %d %r" % (img.repo, img.digest, got[0], got[2][:200]))
            with self.world.lock:
                img.state = "maybe-deleted"

    def pull(self):
        with self.world.lock:
            live = [i for i in self.world.images.values() if i.state == "acked"]
        if not live:
            return
        img = self.rng.choice(live)
        st, h, data = self.call("GET", "/v2/%s/manifests/%s" % (img.repo, img.tag), None,
                                {"Accept": OCI_MANIFEST})
        if st == 404 and img.state != "acked":
            return              # deleted meanwhile by its owner
        if st != 200 or data != img.raw:
            self.world.anomaly("pull %s:%s -> %d, %s" % (img.repo, img.tag, st,
                                                         "same bytes" if data == img.raw else "different bytes"))
            return
        d, size = self.rng.choice(img.blobs)
        st, h, data = self.call("GET", "/v2/%s/blobs/%s" % (img.repo, d))
        if st != 200 or len(data) != size or sha256(data) != d:
            self.world.anomaly("pull blob %s in %s -> %d (%d bytes)" % (d, img.repo, st, len(data)))
            return
        with self.world.lock:
            self.world.pulls_ok += 1

    def run(self):
        while not self.stop.is_set():
            r = self.rng.random()
            try:
                if r < 0.25:
                    self.pull()
                elif r < 0.30:
                    self.delete()
                else:
                    self.push()
            except ConnLost:
                with self.world.lock:
                    self.world.lost += 1
                time.sleep(self.rng.uniform(0.05, 0.2))
            except Hang as e:
                self.world.anomaly("HANG: %s" % e)
            except Exception as e:            # noqa: BLE001 - a bug in the test or the server
                self.world.anomaly("client %d crashed: %r" % (self.tid, e))
                time.sleep(0.2)


class Verifier:
    """The post-restart checks, over a few keep-alive connections."""

    def __init__(self, world, port):
        self.world, self.port = world, port
        self.problems = []
        self.requests = 0
        self.lock = threading.Lock()

    def get(self, conn_box, path, headers=None):
        with self.lock:
            self.requests += 1
        for attempt in (1, 2):
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            try:
                conn_box[0].request("GET", path, headers=headers or {})
                r = conn_box[0].getresponse()
                return r.status, r.read(), r
            except (OSError, http.client.HTTPException):
                conn_box[0].close()
                conn_box[0] = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def run_parallel(self, items, fn, workers=4):
        items = list(items)
        def work(chunk):
            box = [None]
            try:
                for it in chunk:
                    fn(box, it)
            except Exception as e:            # noqa: BLE001
                self.problem("verifier failed: %r" % (e,))
            finally:
                if box[0] is not None:
                    box[0].close()
        threads = [threading.Thread(target=work, args=(items[i::workers],)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)

    def check_image(self, box, img):
        for ref in (img.tag, img.digest):
            st, data, _ = self.get(box, "/v2/%s/manifests/%s" % (img.repo, ref), {"Accept": OCI_MANIFEST})
            if st == 404 and img.state != "acked":
                return      # its owner is deleting it right now
            if st != 200 or data != img.raw:
                self.problem("acknowledged image %s:%s by %s -> %d (%s)" % (
                    img.repo, img.tag, "tag" if ref == img.tag else "digest", st,
                    "bytes differ" if st == 200 else data[:200]))
                return

    def check_blob(self, box, item):
        (repo, d), size = item
        st, data, _ = self.get(box, "/v2/%s/blobs/%s" % (repo, d))
        if st != 200 or len(data) != size or hashlib.sha256(data).hexdigest() != d.split(":", 1)[1]:
            self.problem("acknowledged blob %s in %s -> %d (%d of %d bytes)" % (d, repo, st, len(data), size))

    def list_tags(self, box, repo):
        tags, path = [], "/v2/%s/tags/list?n=1000" % repo
        for _ in range(1000):
            st, data, r = self.get(box, path)
            if st == 404:
                return tags       # repository not created yet
            if st != 200:
                self.problem("tags/list %s -> %d %r" % (repo, st, data[:200]))
                return tags
            tags += json.loads(data).get("tags") or []
            link = r.getheader("Link")
            if not link:
                return tags
            path = strip_origin(link.split(";")[0].strip().strip("<>"))
        self.problem("tags/list %s: more than 1000 pages" % repo)
        return tags

    def round(self):
        w = self.world
        with w.lock:
            before = {k: img.state for k, img in w.images.items()}
            acked = [img for img in w.images.values() if img.state == "acked"]
            blobs = dict(w.acked_blobs)
            for img in acked:
                for d, size in img.blobs:
                    blobs[(img.repo, d)] = size
        self.run_parallel(acked, self.check_image)
        self.run_parallel(blobs.items(), self.check_blob)
        # tags: none that no client pushed, none rejected or (acknowledged) deleted; all acked present
        maybe_visible = []
        box = [None]
        try:
            for repo in REPOS:
                listed = set(self.list_tags(box, repo))
                for tag in listed:
                    state = before.get((repo, tag))
                    if state is None:
                        with w.lock:
                            later = w.images.get((repo, tag))
                        if later is None:
                            self.problem("tag %s:%s appeared but no client ever pushed it" % (repo, tag))
                    elif state in ("rejected", "deleted"):
                        self.problem("tag %s:%s is listed but its push was %s" % (repo, tag, state))
                    elif state in ("maybe", "maybe-deleted"):
                        maybe_visible.append(w.images[(repo, tag)])
                for img in acked:
                    if img.repo == repo and img.tag not in listed and img.state == "acked":
                        self.problem("acknowledged tag %s:%s missing from tags/list" % (repo, img.tag))
        finally:
            if box[0] is not None:
                box[0].close()
        # a tag whose PUT got no answer but is visible: exactly the bytes sent, all blobs present
        def check_maybe(box, img):
            st, data, _ = self.get(box, "/v2/%s/manifests/%s" % (img.repo, img.tag), {"Accept": OCI_MANIFEST})
            if st == 200 and data != img.raw:
                self.problem("unacknowledged tag %s:%s points at bytes no client sent" % (img.repo, img.tag))
            if st == 200:
                for d, size in img.blobs:
                    self.check_blob(box, ((img.repo, d), size))
        self.run_parallel(maybe_visible, check_maybe)
        return len(acked), len(blobs), len(maybe_visible)


class TestKill9(unittest.TestCase):
    def setUp(self):
        self.srv = BerthServer("crash", auth="none")
        self.srv.start()
        self.srv.enable_create_on_push()

    def tearDown(self):
        if self.srv.running():
            self.srv.stop()
        self.srv.cleanup()

    def test_kill9_during_concurrent_pushes(self):
        rng = random.Random(SEED)
        kills_planned = int(os.environ.get("BERTH_CRASH_KILLS", "0")) or rng.randint(6, 8)
        sizes = sorted(rng.randint(16 * 1024, 2 * 1024 * 1024) for _ in range(12))
        pool = [os.urandom(s) for s in sizes]
        world = World()
        stop = threading.Event()
        clients = [Client(i, world, self.srv.port, pool, stop, SEED * 100 + i) for i in range(THREADS)]
        verifier = Verifier(world, self.srv.port)
        print("\n  seed %d, %d clients, %d kills planned, pool %s KiB" % (
            SEED, THREADS, kills_planned, [s // 1024 for s in sizes]))
        t_start = time.monotonic()
        for c in clients:
            c.start()
        kills = 0
        try:
            time.sleep(1.0)
            for k in range(kills_planned):
                time.sleep(rng.uniform(0.3, 2.0))
                with world.lock:
                    acked_at_kill = world.pushes_acked
                self.srv.kill9()
                kills += 1
                t0 = time.monotonic()
                self.srv.start()
                restart = time.monotonic() - t0
                t1 = time.monotonic()
                n_img, n_blob, n_maybe = verifier.round()
                print("  kill %d: %d pushes acknowledged before it; restart %.2fs; verified %d images, "
                      "%d blobs, %d unanswered-but-visible tags in %.1fs" % (
                          kills, acked_at_kill, restart, n_img, n_blob, n_maybe, time.monotonic() - t1))
                if verifier.problems:
                    break
            time.sleep(1.0)
        finally:
            stop.set()
            for c in clients:
                c.join(REQUEST_TIMEOUT + 10)
        hung = [c.name for c in clients if c.is_alive()]
        self.assertFalse(hung, "clients still blocked: %s" % hung)
        self.assertFalse(verifier.problems, "\n".join(verifier.problems[:40]))
        n_img, n_blob, n_maybe = verifier.round()
        self.assertFalse(verifier.problems, "\n".join(verifier.problems[:40]))
        self.assertFalse(world.anomalies, "\n".join(world.anomalies[:40]))
        # fsck beside the running server, then with it stopped
        assert_fsck_clean(self, self.srv.data_dir, "server running")
        self.assertEqual(self.srv.stop(), 0, "berth did not exit 0 on SIGTERM")
        assert_fsck_clean(self, self.srv.data_dir, "server stopped")
        log = self.srv.log_text()
        self.assertFalse([m for m in CRASH_MARKERS if m in log], "server log shows a crash")
        total = world.requests + verifier.requests
        print("  FIGURES: kills survived %d/%d; pushes acknowledged %d of %d tried; deletes acknowledged %d; "
              "in-run pulls verified %d; requests tried %d (%d by clients, %d by the verifier), %d without "
              "answer; %d images / %d blobs verified in the final round; %.0fs" % (
                  kills, kills_planned, world.pushes_acked, world.pushes_tried, world.deletes_acked,
                  world.pulls_ok, total, world.requests, verifier.requests, world.lost, n_img, n_blob,
                  time.monotonic() - t_start))
        self.assertEqual(kills, kills_planned)
        self.assertGreater(world.pushes_acked, 20, "too few pushes acknowledged to mean anything")


# ====================================================================== full disk
class TestFullDisk(unittest.TestCase):
    SIZE_MB = 64

    def setUp(self):
        if rgw_engine.enabled():
            msg = "!!! SKIPPING the full-disk test: blobs are in the object store, not on the data directory's disk"
            sys.stderr.write("\n" + msg + "\n")
            raise unittest.SkipTest(msg)
        self.srv = BerthServer("fulldisk", auth="none")
        self.mnt = os.path.join(self.srv.workdir, "tmpfs")
        os.makedirs(self.mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % self.SIZE_MB, "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if p.returncode != 0:
            msg = "!!! SKIPPING the full-disk test: cannot mount a tmpfs (%s)" % (p.stderr.strip() or p.returncode)
            sys.stderr.write("\n" + msg + "\n")
            self.srv.cleanup()
            self.mounted = False
            raise unittest.SkipTest(msg)
        self.mounted = True
        self.data = os.path.join(self.mnt, "data")
        os.makedirs(self.data)
        self.srv.start(data_dir=self.data)
        self.srv.enable_create_on_push()

    def tearDown(self):
        if self.srv.running():
            self.srv.stop()
        if getattr(self, "mounted", False):
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        self.srv.cleanup()

    def df(self):
        st = os.statvfs(self.mnt)
        return "%d of %d KiB free" % (st.f_bavail * st.f_frsize // 1024, st.f_blocks * st.f_frsize // 1024)

    def upload(self, repo, data, style):
        """(status, headers-dict, body) of the committing request; raises on a dropped
        connection (no answer)."""
        d = sha256(data)
        if style == "monolithic":
            r = self.srv.req_raw("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data, timeout=30)
            return r
        r = self.srv.req("POST", "/v2/%s/blobs/uploads/" % repo, timeout=30)
        if r.status != 202:
            return r
        loc = strip_origin(r.headers["Location"])
        if style == "chunked":
            half = len(data) // 2
            for a, b in ((0, half), (half, len(data))):
                r = self.srv.req_raw("PATCH", loc, data[a:b], {"Content-Range": "%d-%d" % (a, b - 1)}, timeout=30)
                if r.status != 202:
                    return r
                loc = strip_origin(r.headers["Location"])
            return self.srv.req_raw("PUT", "%s?digest=%s" % (loc, d), b"", timeout=30)
        return self.srv.req_raw("PUT", "%s?digest=%s" % (loc, d), data, timeout=30)

    def clean_failure(self, r, what):
        codes = r.error_codes()
        if r.status >= 500 or (400 <= r.status < 500 and codes):
            return "%s -> %d %s" % (what, r.status, codes)
        self.fail("%s failed uncleanly: %s" % (what, r.describe()))

    def pull_all(self, acked):
        for repo, tag, raw, blobs in acked:
            r = self.srv.req("GET", "/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI_MANIFEST})
            self.assertEqual((r.status, r.body == raw), (200, True), "%s:%s %s" % (repo, tag, r.describe()))
            for d, size in blobs:
                r = self.srv.req("GET", "/v2/%s/blobs/%s" % (repo, d))
                self.assertEqual(r.status, 200, r.describe())
                self.assertEqual(sha256(r.body), d)

    def test_full_disk(self):
        repo = "full/disk"
        acked = []
        failure = None
        styles = ["monolithic", "post-put", "chunked"]
        for i in range(200):                      # bounded: 64 MiB / ~1.5 MiB per image
            cfg = json.dumps({"os": "linux", "n": i}).encode()
            layer = os.urandom(random.randint(1024 * 1024, 2 * 1024 * 1024))
            blobs = []
            for j, data in enumerate((cfg, layer)):
                try:
                    r = self.upload(repo, data, styles[(i + j) % 3])
                except (OSError, http.client.HTTPException) as e:
                    self.fail("upload #%d (%s) got no answer (connection dropped or hung): %r" % (
                        i, styles[(i + j) % 3], e))
                if r.status != 201:
                    failure = self.clean_failure(r, "blob upload #%d (%s, %d bytes)" % (
                        i, styles[(i + j) % 3], len(data)))
                    break
                blobs.append((sha256(data), len(data)))
            if failure:
                break
            raw = oci_manifest(cfg, [layer])
            try:
                r = self.srv.req("PUT", "/v2/%s/manifests/t%d" % (repo, i), body=raw,
                                 headers={"Content-Type": OCI_MANIFEST}, timeout=30)
            except (OSError, http.client.HTTPException) as e:
                self.fail("manifest PUT #%d got no answer: %r" % (i, e))
            if r.status != 201:
                failure = self.clean_failure(r, "manifest PUT #%d" % i)
                break
            acked.append((repo, "t%d" % i, raw, blobs))
        self.assertIsNotNone(failure, "a %d MiB disk never filled up" % self.SIZE_MB)
        print("\n  disk full after %d images: %s" % (len(acked), failure))
        self.assertTrue(self.srv.running(), "the server died when the disk filled up")
        # everything acknowledged still pulls; the server still answers
        self.assertEqual(self.srv.req("GET", "/v2/").status, 200)
        self.pull_all(acked)
        # a second attempt on the full disk fails cleanly too
        try:
            r = self.upload(repo, os.urandom(1024 * 1024), "monolithic")
        except (OSError, http.client.HTTPException) as e:
            self.fail("upload on a full disk got no answer: %r" % (e,))
        if r.status != 201:
            self.clean_failure(r, "second upload on the full disk")
        assert_fsck_clean(self, self.data, "full disk, server running")
        leftovers = os.listdir(os.path.join(self.data, "uploads"))
        print("  upload files left by the failed uploads: %d (%d KiB)" % (len(leftovers), sum(
            os.path.getsize(os.path.join(self.data, "uploads", f)) for f in leftovers) // 1024))
        # free space: delete the images (on the full disk), collect, push again
        problems = []
        for n, (repo_, tag, raw, blobs) in enumerate(acked):
            r = self.srv.req("DELETE", "/v2/%s/manifests/%s" % (repo_, sha256(raw)))
            if r.status != 202:
                problems.append("DELETE of an image on the full disk (%d already deleted) -> %d %s: the space "
                                "cannot be freed through the API" % (n, r.status, r.body[:200]))
                break
        if problems:
            # the operator's fallback: a restart (SQLite drops its WAL file on a clean close), then delete
            self.assertEqual(self.srv.stop(), 0)
            self.srv.start()
            for repo_, tag, raw, blobs in acked:
                r = self.srv.req("DELETE", "/v2/%s/manifests/%s" % (repo_, sha256(raw)))
                if r.status not in (202, 404):
                    self.fail("\n".join(problems + [
                        "and still after a restart: DELETE -> %d %s; disk %s" % (
                            r.status, r.body[:200], self.df())]))
        rc, out = berth_cmd(self.data, "gc", "--grace", "0")
        self.assertEqual(rc, 0, out)
        print("  %s" % out.strip().splitlines()[-1])
        for i in range(3):
            img = self.srv.push_image(repo, "again%d" % i, layers=[os.urandom(2 * 1024 * 1024)])
            self.assertTrue(img[0].startswith("sha256:"))
        self.assertTrue(self.srv.running())
        assert_fsck_clean(self, self.data, "after gc")
        self.assertEqual(self.srv.stop(), 0)
        log = self.srv.log_text()
        self.assertFalse([m for m in CRASH_MARKERS if m in log], "server log shows a crash")
        self.assertFalse(problems, "\n".join(problems))


if __name__ == "__main__":
    unittest.main()
