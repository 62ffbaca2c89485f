"""Berth against real registry clients: skopeo, podman, docker (dockerd).

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_clients.py
(from tests/integration/).

A client whose binary is missing is skipped (loudly).  Everything runs on
loopback, in temporary directories, with a timeout on every subprocess.

Environment:
  BERTH_BIG_LAYER_MB   size of the big random layer (default 100)
  BERTH_DOCKER_CLI     docker client to use (default /usr/bin/docker, else PATH)
  BERTH_DOCKERD        dockerd to use (default PATH lookup)
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, sha256, strip_origin,
    OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP,
    DOCKER_MANIFEST, DOCKER_LIST,
)
from private_dockerd import PrivateDockerd, docker_ping  # noqa: E402

BIG_MB = int(os.environ.get("BERTH_BIG_LAYER_MB", "100"))
CMD_TIMEOUT = 300
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

SERVER = None
WORK = None
LAYOUT = None      # single-arch OCI layout (tag "v1")
MULTI = None       # multi-arch OCI layout (tag "multi")
IMAGE = None       # info about the single-arch image
PUSHED_REPO = "test/img"
PUSHED_TAG = "v1"


def loud_skip(what):
    msg = "\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n"
    sys.stderr.write(msg)
    raise unittest.SkipTest(what)


def need(binary):
    path = shutil.which(binary) if not os.path.isabs(binary) else (
        binary if os.path.exists(binary) else None)
    if not path:
        loud_skip("%s binary not found (CI must install it)" % binary)
    return path


def run(cmd, timeout=CMD_TIMEOUT, env=None, check=True, log=True):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s\nstdout=%s\nstderr=%s" % (
            timeout, " ".join(cmd), (e.stdout or b"")[-2000:], (e.stderr or b"")[-2000:]))
    dt = time.monotonic() - t0
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if log:
        shown = " ".join(cmd)
        if len(shown) > 240:
            shown = cmd[0] + " ... " + shown[-200:]
        sys.stderr.write("  $ %s  [%.1fs, rc=%d]\n" % (shown, dt, p.returncode))
    if check and p.returncode != 0:
        raise AssertionError("command failed (rc=%d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            p.returncode, " ".join(cmd), out[-4000:], err[-4000:]))
    return p.returncode, out, err


# ----------------------------------------------------------------- layouts
class RandomReader:
    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        if n < 0 or n > self.left:
            n = self.left
        n = min(n, 1 << 20)
        self.left -= n
        return os.urandom(n)


class Layout:
    """Writes an OCI image layout by hand."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.refs = []

    def blob_path(self, digest):
        algo, hexd = digest.split(":")
        return os.path.join(self.path, "blobs", algo, hexd)

    def add_bytes(self, data):
        d = sha256(data)
        with open(self.blob_path(d), "wb") as f:
            f.write(data)
        return d

    def add_file(self, src):
        h = hashlib.sha256()
        with open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d = "sha256:" + h.hexdigest()
        os.replace(src, self.blob_path(d))
        return d, os.path.getsize(self.blob_path(d))

    def add_layer(self, files, compress):
        """files: list of (name, bytes-or-size). Returns (descriptor, diff_id)."""
        tmp = os.path.join(self.path, "layer.tmp")
        with open(tmp, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
                dirs = set()
                for name, content in files:
                    parts = name.split("/")[:-1]
                    for i in range(1, len(parts) + 1):
                        dname = "/".join(parts[:i])
                        if dname not in dirs:
                            dirs.add(dname)
                            ti = tarfile.TarInfo(dname)
                            ti.type = tarfile.DIRTYPE
                            ti.mode = 0o755
                            ti.mtime = 1700000000
                            tf.addfile(ti)
                    ti = tarfile.TarInfo(name)
                    ti.mode = 0o644
                    ti.mtime = 1700000000
                    if isinstance(content, int):
                        ti.size = content
                        tf.addfile(ti, RandomReader(content))
                    else:
                        ti.size = len(content)
                        tf.addfile(ti, io.BytesIO(content))
        h = hashlib.sha256()
        with open(tmp, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        diff_id = "sha256:" + h.hexdigest()
        if compress:
            gz = tmp + ".gz"
            with open(tmp, "rb") as fin, open(gz, "wb") as fout:
                with gzip.GzipFile(fileobj=fout, mode="wb", compresslevel=1, mtime=0) as g:
                    shutil.copyfileobj(fin, g, 1 << 20)
            os.unlink(tmp)
            tmp = gz
        d, size = self.add_file(tmp)
        return {"mediaType": OCI_LAYER_GZIP if compress else OCI_LAYER,
                "digest": d, "size": size}, diff_id

    def add_image(self, arch, layers, tag=None):
        """layers: list of (files, compress). Returns dict with descriptors."""
        ldescs, diff_ids = [], []
        for files, compress in layers:
            dsc, did = self.add_layer(files, compress)
            ldescs.append(dsc)
            diff_ids.append(did)
        config = json.dumps({
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/data/run"], "Env": ["PATH=/usr/bin:/bin"],
                       "Labels": {"org.example.salt": os.urandom(8).hex()}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth-test"}
                        for _ in diff_ids],
        }, indent=1).encode()
        cd = self.add_bytes(config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
            "layers": ldescs,
            "annotations": {"org.opencontainers.image.title": "berth-test-" + arch},
        }, indent=2).encode()
        md = self.add_bytes(manifest)
        desc = {"mediaType": OCI_MANIFEST, "digest": md, "size": len(manifest),
                "platform": {"architecture": arch, "os": "linux"}}
        if tag:
            self.refs.append(dict(desc, annotations={"org.opencontainers.image.ref.name": tag}))
        return {"manifest": desc, "manifest_raw": manifest, "config_digest": cd,
                "config_raw": config, "layers": ldescs, "diff_ids": diff_ids}

    def add_index(self, descs, tag):
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                          "manifests": descs}, indent=2).encode()
        d = self.add_bytes(raw)
        desc = {"mediaType": OCI_INDEX, "digest": d, "size": len(raw)}
        self.refs.append(dict(desc, annotations={"org.opencontainers.image.ref.name": tag}))
        return desc, raw

    def finish(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": self.refs}, f)


def read_layout(path):
    blobs = {}
    root = os.path.join(path, "blobs")
    for algo in os.listdir(root):
        for hexd in os.listdir(os.path.join(root, algo)):
            blobs["%s:%s" % (algo, hexd)] = os.path.join(root, algo, hexd)
    with open(os.path.join(path, "index.json")) as f:
        index = json.load(f)
    return index, blobs


def file_sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def upload_layout_http(server, layout_path, repo, tag):
    """Push an OCI layout's first image with plain HTTP: POST, one streamed
    (chunked) PATCH per blob, PUT ?digest=, then the manifest."""
    index, blobs = read_layout(layout_path)
    mdesc = index["manifests"][0]
    with open(blobs[mdesc["digest"]], "rb") as f:
        mraw = f.read()
    m = json.loads(mraw)
    for dsc in [m["config"]] + m["layers"]:
        r = server.req("POST", "/v2/%s/blobs/uploads/" % repo)
        if r.status != 202:
            raise AssertionError(r.describe())
        loc = strip_origin(r.headers["Location"])
        with open(blobs[dsc["digest"]], "rb") as f:
            r = server.req("PATCH", loc, body=iter(lambda: f.read(1 << 20), b""),
                           headers={"Content-Type": "application/octet-stream"})
        if r.status != 202:
            raise AssertionError(r.describe())
        loc = strip_origin(r.headers["Location"])
        r = server.req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + dsc["digest"])
        if r.status != 201:
            raise AssertionError(r.describe())
    server.push_manifest(repo, tag, mraw, m["mediaType"])


_BASE_PUSHED = False


def ensure_base_image():
    """The image podman and docker pull: pushed by skopeo, or, if skopeo is
    missing or fails, with plain HTTP so that those clients are still tested."""
    global _BASE_PUSHED
    if _BASE_PUSHED:
        return
    dest = "docker://%s/%s:%s" % (SERVER.hostport, PUSHED_REPO, PUSHED_TAG)
    done = False
    if shutil.which("skopeo"):
        # --preserve-digests: keep the uncompressed layers as they are, so the
        # registry holds exactly the manifest/blobs described by IMAGE
        try:
            skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                   "oci:%s:v1" % LAYOUT, dest)
            done = True
        except AssertionError as e:
            loud_note("skopeo could not push the base image (reported by TestSkopeo); "
                      "falling back to plain HTTP:\n%s" % str(e)[-1500:])
    else:
        loud_note("skopeo missing: pushing the base image with plain HTTP")
    if not done:
        upload_layout_http(SERVER, LAYOUT, PUSHED_REPO, PUSHED_TAG)
    _BASE_PUSHED = True


# ------------------------------------------------------------ module setup
def build_single_layout(path, tag):
    """Single-arch image: small gzip layers first, the big uncompressed random
    layer last (cheapest order for vfs storage drivers)."""
    lay = Layout(path)
    img = lay.add_image("amd64", [
        ([("etc/berth-test.txt", b"hello from berth\n"),
          ("data/run", b"#!/bin/sh\necho hi\n")], True),
        ([("data/small.bin", os.urandom(1 << 20)),
          ("data/other.bin", os.urandom(300000))], True),
        ([("data/medium.bin", 3 << 20)], False),
        ([("data/big.bin", BIG_MB << 20)], False),
    ], tag=tag)
    lay.finish()
    return lay.path, img


def setUpModule():
    try:
        _setup_module()
    except BaseException:
        tearDownModule()
        raise


def _setup_module():
    global SERVER, WORK, LAYOUT, MULTI, IMAGE
    WORK = tempfile.mkdtemp(prefix="berth-clients-")
    t0 = time.monotonic()
    LAYOUT, IMAGE = build_single_layout(os.path.join(WORK, "layout"), "v1")
    # multi-arch layout
    ml = Layout(os.path.join(WORK, "multi"))
    descs = []
    for arch in ("amd64", "arm64"):
        img = ml.add_image(arch, [
            ([("etc/arch", arch.encode())], True),
            ([("data/blob.bin", os.urandom(2 << 20))], False),
        ])
        descs.append(img["manifest"])
    ml.add_index(descs, "multi")
    ml.finish()
    MULTI = ml.path
    sys.stderr.write("\n  built OCI layouts in %.1fs\n" % (time.monotonic() - t0))
    # The clients exercise the V2 protocol; authenticated pushes (docker login) are in test_ecr_*.
    SERVER = BerthServer("clients", auth="none")
    SERVER.start()
    SERVER.enable_create_on_push()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


def loud_note(msg):
    sys.stderr.write("\n!!! %s\n" % msg)


def skopeo(*args, timeout=CMD_TIMEOUT, check=True):
    policy = os.path.join(WORK, "policy.json")
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    return run(["skopeo", "--policy", policy] + list(args), timeout=timeout, check=check)


class ClientTestCase(unittest.TestCase):
    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and SERVER is not None:
            SERVER.dump_log(tail=60)
        return out

    def assertLayoutsEqual(self, src, dst, tag):
        si, sb = read_layout(src)
        di, db = read_layout(dst)
        sref = [m for m in si["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
        dref = [m for m in di["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
        self.assertEqual(len(dref), 1, di)
        self.assertEqual(dref[0]["digest"], sref[0]["digest"], "top-level digest changed")
        # every blob reachable in the source must be in the destination, byte for byte
        for d, p in sb.items():
            self.assertIn(d, db, "blob %s missing after round trip" % d)
            self.assertEqual(file_sha256(db[d]), d, "blob %s corrupted" % d)
            self.assertEqual(os.path.getsize(db[d]), os.path.getsize(p))
        self.assertEqual(set(db), set(sb))


# ------------------------------------------------------------------ skopeo
class TestSkopeo(ClientTestCase):

    @classmethod
    def setUpClass(cls):
        need("skopeo")

    def test_copy_roundtrip(self):
        # a layout of its own: no blob can be reused/mounted from another
        # repository, so every blob (incl. the big one) is really uploaded
        layout, image = build_single_layout(os.path.join(WORK, "layout-rt"), "v1")
        ref = "docker://%s/test/skopeo:v1" % SERVER.hostport
        skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
               "oci:%s:v1" % layout, ref)
        back = os.path.join(WORK, "back-single")
        skopeo("copy", "--preserve-digests", "--src-tls-verify=false", ref, "oci:%s:v1" % back)
        self.assertLayoutsEqual(layout, back, "v1")
        # registry side: manifest exact bytes
        r = SERVER.req("GET", "/v2/test/skopeo/manifests/v1", headers={"Accept": ACCEPT_ALL})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, image["manifest_raw"])
        # second copy of the same image: idempotent
        skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:%s:v1" % layout, ref)
        r = SERVER.req("GET", "/v2/test/skopeo/manifests/v1", headers={"Accept": ACCEPT_ALL})
        self.assertEqual(r.body, image["manifest_raw"])

    def test_copy_convert_v2s2(self):
        # conversion to Docker schema 2 on the way in; back out through dir:
        ref = "docker://%s/test/skopeo-v2:v1" % SERVER.hostport
        skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", "oci:%s:v1" % LAYOUT, ref)
        _, out, _ = skopeo("inspect", "--raw", "--tls-verify=false", ref)
        raw = out.encode()
        m = json.loads(raw)
        self.assertEqual(m["mediaType"], DOCKER_MANIFEST)
        r = SERVER.req("GET", "/v2/test/skopeo-v2/manifests/v1",
                       headers={"Accept": DOCKER_MANIFEST})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, raw)
        self.assertEqual(r.headers.get("Content-Type"), DOCKER_MANIFEST)
        self.assertEqual(r.headers.get("Docker-Content-Digest"), sha256(raw))
        self.assertEqual(len(m["layers"]), len(IMAGE["layers"]))
        # uncompressed layers keep their digests
        self.assertEqual(m["layers"][-1]["digest"], IMAGE["diff_ids"][-1])
        back = os.path.join(WORK, "back-dir")
        skopeo("copy", "--src-tls-verify=false", ref, "dir:%s" % back)
        for dsc in [m["config"]] + m["layers"]:
            p = os.path.join(back, dsc["digest"].split(":", 1)[1])
            self.assertEqual(os.path.getsize(p), dsc["size"])
            self.assertEqual(file_sha256(p), dsc["digest"])

    def test_inspect(self):
        ensure_base_image()
        ref = "docker://%s/%s:%s" % (SERVER.hostport, PUSHED_REPO, PUSHED_TAG)
        _, out, _ = skopeo("inspect", "--tls-verify=false", ref)
        info = json.loads(out)
        self.assertEqual(info["Digest"], IMAGE["manifest"]["digest"])
        self.assertEqual(info["Layers"], [l["digest"] for l in IMAGE["layers"]])
        self.assertEqual(info["Architecture"], "amd64")
        self.assertEqual(info["Os"], "linux")
        self.assertIn(PUSHED_TAG, info.get("RepoTags") or [])
        _, out, _ = skopeo("inspect", "--raw", "--tls-verify=false", ref)
        self.assertEqual(out.encode(), IMAGE["manifest_raw"])
        _, out, _ = skopeo("inspect", "--config", "--raw", "--tls-verify=false", ref)
        self.assertEqual(out.encode(), IMAGE["config_raw"])
        _, out, _ = skopeo("list-tags", "--tls-verify=false",
                           "docker://%s/%s" % (SERVER.hostport, PUSHED_REPO))
        self.assertEqual(json.loads(out)["Tags"], [PUSHED_TAG])

    def test_multiarch_roundtrip(self):
        ref = "docker://%s/test/multi:multi" % SERVER.hostport
        skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
               "oci:%s:multi" % MULTI, ref)
        back = os.path.join(WORK, "back-multi")
        skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false", ref,
               "oci:%s:multi" % back)
        self.assertLayoutsEqual(MULTI, back, "multi")
        index, blobs = read_layout(MULTI)
        with open(blobs[index["manifests"][0]["digest"]], "rb") as f:
            idx_raw = f.read()
        _, out, _ = skopeo("inspect", "--raw", "--tls-verify=false", ref)
        self.assertEqual(out.encode(), idx_raw)
        children = json.loads(idx_raw)["manifests"]
        for child in children:
            arch = child["platform"]["architecture"]
            with open(blobs[child["digest"]], "rb") as f:
                child_m = json.loads(f.read())
            _, out, _ = skopeo("--override-arch", arch, "--override-os", "linux",
                               "inspect", "--tls-verify=false", ref)
            info = json.loads(out)
            # skopeo reports the digest of the top-level index
            self.assertEqual(info["Digest"], sha256(idx_raw))
            self.assertEqual(info["Architecture"], arch)
            self.assertEqual(info["Layers"], [l["digest"] for l in child_m["layers"]])
            # and the child itself by digest
            r = SERVER.req("GET", "/v2/test/multi/manifests/%s" % child["digest"],
                           headers={"Accept": ACCEPT_ALL})
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(sha256(r.body), child["digest"])

    def test_delete(self):
        ref = "docker://%s/test/todelete:v1" % SERVER.hostport
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:multi" % MULTI, ref)
        skopeo("delete", "--tls-verify=false", ref)
        rc, out, err = skopeo("inspect", "--tls-verify=false", ref, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("manifest unknown", (out + err).lower())


# ------------------------------------------------------------------ podman
class TestPodman(ClientTestCase):

    @classmethod
    def setUpClass(cls):
        need("podman")
        cls.root = tempfile.mkdtemp(prefix="podman-", dir=WORK)

    def podman(self, *args, check=True, timeout=CMD_TIMEOUT):
        base = ["podman", "--root", os.path.join(self.root, "root"),
                "--runroot", os.path.join(self.root, "run"),
                "--tmpdir", os.path.join(self.root, "tmp"),
                "--storage-driver", "vfs", "--events-backend", "file",
                "--cgroup-manager", "cgroupfs"]
        return run(base + list(args), timeout=timeout, check=check)

    def image_id(self, ref):
        _, out, _ = self.podman("image", "inspect", "--format", "{{.Id}}", ref)
        return out.strip()

    def test_pull_tag_push_pull(self):
        ensure_base_image()
        hp = SERVER.hostport
        src = "%s/%s:%s" % (hp, PUSHED_REPO, PUSHED_TAG)
        want_id = IMAGE["config_digest"].split(":", 1)[1]
        self.podman("pull", "--tls-verify=false", "docker://" + src)
        self.assertEqual(self.image_id(src), want_id)
        dst = "%s/test/podman-pushed:v2" % hp
        self.podman("tag", src, dst)
        self.podman("push", "--tls-verify=false", dst)
        # registry side
        r = SERVER.req("GET", "/v2/test/podman-pushed/manifests/v2",
                       headers={"Accept": ACCEPT_ALL})
        self.assertEqual(r.status, 200, r.describe())
        m = json.loads(r.body)
        self.assertEqual(m["config"]["digest"], IMAGE["config_digest"])
        self.assertEqual(len(m["layers"]), len(IMAGE["layers"]))
        for l in m["layers"]:
            h = SERVER.req("HEAD", "/v2/test/podman-pushed/blobs/%s" % l["digest"])
            self.assertEqual(h.status, 200, h.describe())
        # remove local copies and pull back
        self.podman("rmi", "-f", want_id)
        rc, out, _ = self.podman("images", "-q")
        self.assertEqual(out.strip(), "")
        self.podman("pull", "--tls-verify=false", "docker://" + dst)
        self.assertEqual(self.image_id(dst), want_id)
        # file content check through an image mount
        rc, out, err = self.podman("image", "mount", dst, check=False)
        if rc == 0 and out.strip():
            mnt = out.strip()
            with open(os.path.join(mnt, "etc", "berth-test.txt"), "rb") as f:
                self.assertEqual(f.read(), b"hello from berth\n")
            self.assertEqual(os.path.getsize(os.path.join(mnt, "data", "big.bin")), BIG_MB << 20)
            self.podman("image", "unmount", dst, check=False)
        else:
            loud_note("podman image mount unavailable (%s); skipped content check" % err.strip()[:200])


# ------------------------------------------------------------------ docker
class TestDocker(ClientTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not cls.dockerd or not os.path.exists(cls.dockerd):
            loud_skip("dockerd not found (CI must install Debian package docker.io)")
        cli = os.environ.get("BERTH_DOCKER_CLI")
        if not cli:
            cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
        if not cli:
            loud_skip("docker client not found")
        cls.cli = cli
        # short path: containerd's unix socket lives under exec-root
        cls.dir = tempfile.mkdtemp(prefix="berth-dockerd-", dir="/tmp")
        cls.daemon = PrivateDockerd(cls.dockerd, cls.dir, insecure_registry=SERVER.hostport)
        try:
            cls.daemon.start()
        except AssertionError:
            if not os.environ.get("BERTH_KEEP_LOGS"):
                subprocess.run(["rm", "-rf", cls.dir], timeout=120)
            raise
        cls.env = cls.daemon.env

    @classmethod
    def read_log(cls):
        return cls.daemon.read_log()

    @classmethod
    def stop_dockerd(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.stop()

    @classmethod
    def tearDownClass(cls):
        cls.stop_dockerd()
        if not os.environ.get("BERTH_KEEP_LOGS"):
            subprocess.run(["rm", "-rf", cls.dir], timeout=120)

    def docker(self, *args, check=True, timeout=CMD_TIMEOUT):
        return run([self.cli] + list(args), env=self.env, check=check, timeout=timeout)

    def image_id(self, ref):
        _, out, _ = self.docker("image", "inspect", "--format", "{{.Id}}", ref)
        return out.strip()

    def test_pull_push_mount_pull(self):
        ensure_base_image()
        hp = SERVER.hostport
        want_id = IMAGE["config_digest"]
        src = "%s/%s:%s" % (hp, PUSHED_REPO, PUSHED_TAG)
        self.docker("pull", src)
        self.assertEqual(self.image_id(src), want_id)

        dst1 = "%s/test/docker-one:v1" % hp
        self.docker("tag", src, dst1)
        rc, out1, err1 = self.docker("push", dst1)
        sys.stderr.write(out1[-1500:])
        self.assertIn("digest: sha256:", out1)

        # second repository sharing every layer: docker must mount, not re-upload
        dst2 = "%s/test/docker-two:v1" % hp
        self.docker("tag", src, dst2)
        rc, out2, err2 = self.docker("push", dst2)
        sys.stderr.write(out2[-1500:])
        self.assertIn("Mounted from", out2, "expected cross-repository mounts:\n" + out2)
        self.assertNotIn("Pushed", out2, "layers were re-uploaded:\n" + out2)

        for repo in ("test/docker-one", "test/docker-two"):
            r = SERVER.req("GET", "/v2/%s/manifests/v1" % repo, headers={"Accept": ACCEPT_ALL})
            self.assertEqual(r.status, 200, r.describe())
            m = json.loads(r.body)
            self.assertEqual(m["config"]["digest"], want_id)
            self.assertEqual(len(m["layers"]), len(IMAGE["layers"]))
            for l in m["layers"]:
                h = SERVER.req("HEAD", "/v2/%s/blobs/%s" % (repo, l["digest"]))
                self.assertEqual(h.status, 200, h.describe())
            pushed_digest = [ln for ln in (out1 if repo.endswith("one") else out2).splitlines()
                             if "digest: sha256:" in ln]
            self.assertTrue(pushed_digest)
            self.assertIn(sha256(r.body), pushed_digest[0])

        self.docker("rmi", "-f", want_id)
        _, out, _ = self.docker("images", "-q")
        self.assertEqual(out.strip(), "")
        self.docker("pull", dst2)
        self.assertEqual(self.image_id(dst2), want_id)
        self.docker("pull", src)
        self.assertEqual(self.image_id(src), want_id)


if __name__ == "__main__":
    unittest.main(verbosity=2)
