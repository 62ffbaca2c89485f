#!/usr/bin/env python3
"""Berth vs the reference registry (CNCF distribution 2.8, Debian `docker-registry`), side by side.

Run through bench/run.sh (which installs the tools, builds Berth in release mode, compiles the HEAD
load generator and cleans up). Both servers run on loopback with equivalent settings; every workload
runs against both, alternating which goes first; the output is a table (Berth, reference, ratio), a
JSON file under bench/results/ and a Markdown summary appended to docs/performance.md.

No timing assertions: this measures and reports, nothing more. Every loop is bounded in count and
time; servers are started with PR_SET_PDEATHSIG so they die with this process, and their pids are
written to $WORK/pids for run.sh's trap.
"""

import argparse
import ctypes
import datetime
import gzip
import hashlib
import http.client
import io
import json
import math
import os
import uuid
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import berth_fixture as bf  # noqa: E402  (SigV4 signer, ECR call helper, small utilities)

MB = 1_000_000            # every MB/s figure is 10^6 bytes per second
MiB = 1 << 20
GiB = 1 << 30

ROOT_KEY = ("AKIDBERTHBENCHROOT001", "BerthBenchRootSecret/abcdefghij012345678")
REF_USER, REF_PASSWORD = "bench", "bench-password"
ACCEPT_MANIFESTS = ", ".join([bf.OCI_MANIFEST, bf.OCI_INDEX, bf.DOCKER_MANIFEST, bf.DOCKER_LIST])
HTTP_TIMEOUT = 300.0

# the reference logs every 404 (clients probing for blobs before uploading them) at error level, and
# with --ref-auth htpasswd every 401 challenge (readiness probe, skopeo's first ping) at warn level
EXPECTED_LOG = re.compile(r'err\.code="(blob unknown|manifest unknown|name unknown)"|'
                          r'basic authentication challenge for realm')
SIGPIPE_HINT = (" (a load generator closed connections with responses in flight and the server did not "
                "ignore SIGPIPE; --berth-ignore-sigpipe starts Berth with SIGPIPE ignored to measure anyway)")
REPORT_ORDER = ["manifest", "authz", "blobs", "upload", "skopeo", "cache", "replication", "listing", "memory", "ecr",
                "ops", "limits"]
SECTIONS = ["limits", "manifest", "authz", "ecr", "blobs", "upload", "skopeo", "cache", "replication", "backup",
            "events", "gc", "memory", "listing", "ops"]


# ----------------------------------------------------------------------------- parameters
def params(quick):
    """Workload sizes; --quick scales everything down 10-100x."""
    if quick:
        return dict(mode="quick", wrk_seconds=3, wrk_rounds=1, conns=[1, 32, 256],
                    big_blob=100 * MiB, small_blobs=100, small_blob_size=64 * 1024,
                    blob_get_repeats=2, big_blob_streams=4, blob_conns=16, upload_size=100 * MiB, upload_rounds=1,
                    conc_uploads=20, conc_size=5 * MiB, skopeo_layers=10, skopeo_layer=5 * MiB,
                    tags=5000, repos=500, seed_seconds=60, seed_threads=16, list_rounds=2,
                    mem_uploads=64, mem_small=1 * MiB, mem_big=10 * MiB, ecr_seconds=3,
                    dd_bytes=256 * MiB, openssl_seconds=1, sha_api_mib=128, gc_images=400)
    return dict(mode="full", wrk_seconds=10, wrk_rounds=2, conns=[1, 32, 256],
                big_blob=1 * GiB, small_blobs=1000, small_blob_size=64 * 1024,
                blob_get_repeats=3, big_blob_streams=4, blob_conns=16, upload_size=1 * GiB, upload_rounds=2,
                conc_uploads=20, conc_size=50 * MiB, skopeo_layers=10, skopeo_layer=50 * MiB,
                tags=100_000, repos=10_000, seed_seconds=170, seed_threads=16, list_rounds=3,
                mem_uploads=64, mem_small=10 * MiB, mem_big=100 * MiB, ecr_seconds=10,
                dd_bytes=1 * GiB, openssl_seconds=3, sha_api_mib=1024, gc_images=4000)


def log(msg):
    sys.stdout.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def human_bytes(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return "%d %s" % (n // size, unit)
    return "%d B" % n


# ----------------------------------------------------------------------------- data
class Data:
    """One random buffer; blobs are a prefix of it plus a unique 32-byte suffix, so each upload is a
    new blob while its digest costs one cached hash of the prefix plus 32 bytes."""

    def __init__(self, size):
        t0 = time.monotonic()
        self.buf = os.urandom(size)
        self.mv = memoryview(self.buf)
        self.gen_seconds = time.monotonic() - t0
        self._prefix_hash = {}
        self._lock = threading.Lock()
        self._n = 0
        self.hash_rate = None   # Python hashlib SHA-256 bytes/s, measured on the largest prefix

    def _prefix(self, n):
        with self._lock:
            h = self._prefix_hash.get(n)
        if h is None:
            t0 = time.monotonic()
            h = hashlib.sha256(self.mv[:n])
            dt = time.monotonic() - t0
            if n >= 64 * MiB and dt > 0:
                self.hash_rate = max(self.hash_rate or 0, n / dt)
            with self._lock:
                self._prefix_hash[n] = h
        return h

    def blob(self, size):
        """(segments, size, digest) of a fresh blob of `size` bytes."""
        with self._lock:
            self._n += 1
            k = self._n
        suffix = hashlib.sha256(b"berth-bench-%d-%f" % (k, time.time())).digest()
        if size <= 32:
            data = suffix[:size]
            return [data], size, bf.sha256(data)
        base = self.mv[:size - 32]
        h = self._prefix(size - 32).copy()
        h.update(suffix)
        return [base, suffix], size, "sha256:" + h.hexdigest()


def iter_range(segments, start, end, step=MiB):
    """memoryview slices covering bytes [start, end) of the concatenated segments."""
    pos = 0
    for seg in segments:
        seg = memoryview(seg)
        a, b = pos, pos + len(seg)
        pos = b
        if b <= start or a >= end:
            continue
        lo, hi = max(start, a) - a, min(end, b) - a
        for i in range(lo, hi, step):
            yield seg[i:min(i + step, hi)]


# ----------------------------------------------------------------------------- HTTP client
class Client:
    """One keep-alive connection to a registry; adds the registry's auth header."""

    def __init__(self, reg, timeout=HTTP_TIMEOUT):
        self.reg = reg
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, segments=None, length=None):
        """Returns (status, {lower-name: value}, body bytes). `segments` + `length` stream a body."""
        h = dict(self.reg.auth_headers)
        h.update(headers or {})
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.reg.port, timeout=self.timeout)
        try:
            if segments is not None:
                self.conn.putrequest(method, path, skip_accept_encoding=True)
                h["Content-Length"] = str(length)
                for k, v in h.items():
                    self.conn.putheader(k, v)
                self.conn.endheaders()
                for piece in segments:
                    self.conn.send(piece)
            else:
                if body is None and method in ("POST", "PUT", "PATCH"):
                    h.setdefault("Content-Length", "0")
                self.conn.request(method, path, body=body, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                self.close()
            return resp.status, hdrs, data
        except Exception:
            self.close()
            raise


def with_param(location, param):
    loc = bf.strip_origin(location)
    return loc + ("&" if "?" in loc else "?") + param


def start_upload(cl, repo):
    st, h, data = cl.request("POST", "/v2/%s/blobs/uploads/" % repo)
    if st != 202:
        raise RuntimeError("%s: POST upload -> %d %r" % (cl.reg.name, st, data[:300]))
    return h["location"]


def upload_monolithic(cl, repo, blob):
    segs, size, digest = blob
    loc = start_upload(cl, repo)
    st, h, data = cl.request("PUT", with_param(loc, "digest=" + digest),
                             headers={"Content-Type": "application/octet-stream"},
                             segments=iter_range(segs, 0, size), length=size)
    if st != 201:
        raise RuntimeError("%s: PUT blob -> %d %r" % (cl.reg.name, st, data[:300]))
    return digest


def upload_chunked(cl, repo, blob, chunk):
    segs, size, digest = blob
    loc = start_upload(cl, repo)
    for start in range(0, size, chunk):
        end = min(size, start + chunk)
        st, h, data = cl.request("PATCH", bf.strip_origin(loc),
                                 headers={"Content-Type": "application/octet-stream",
                                          "Content-Range": "%d-%d" % (start, end - 1)},
                                 segments=iter_range(segs, start, end), length=end - start)
        if st != 202:
            raise RuntimeError("%s: PATCH %d-%d -> %d %r" % (cl.reg.name, start, end - 1, st, data[:300]))
        loc = h["location"]
    st, h, data = cl.request("PUT", with_param(loc, "digest=" + digest))
    if st != 201:
        raise RuntimeError("%s: final PUT -> %d %r" % (cl.reg.name, st, data[:300]))
    return digest


def push_small_image(cl, repo, tag, data):
    """config + one 1 KB layer + OCI manifest; returns (manifest bytes, digest, config digest, layer digest)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    cdig = upload_monolithic(cl, repo, ([config], len(config), bf.sha256(config)))
    layer = data.blob(1000)
    ldig = upload_monolithic(cl, repo, layer)
    raw = json.dumps({"schemaVersion": 2, "mediaType": bf.OCI_MANIFEST,
                      "config": {"mediaType": bf.OCI_CONFIG, "digest": cdig, "size": len(config)},
                      "layers": [{"mediaType": bf.OCI_LAYER, "digest": ldig, "size": 1000}]},
                     indent=2).encode()
    put_manifest(cl, repo, tag, raw)
    return raw, bf.sha256(raw), cdig, ldig


def put_manifest(cl, repo, ref, raw):
    st, h, data = cl.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw,
                             headers={"Content-Type": bf.OCI_MANIFEST})
    if st != 201:
        raise RuntimeError("%s: PUT manifest %s:%s -> %d %r" % (cl.reg.name, repo, ref, st, data[:300]))


def mount(cl, repo, digest, source):
    st, h, data = cl.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repo, digest, source))
    if st != 201:
        raise RuntimeError("%s: mount %s into %s -> %d %r" % (cl.reg.name, digest, repo, st, data[:300]))


# ----------------------------------------------------------------------------- servers
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def _die_with_parent_ignoring_sigpipe():
    """--berth-ignore-sigpipe: an ignored disposition survives exec, so the server starts with
    SIGPIPE ignored (a workaround for a server that does not ignore it itself)."""
    _die_with_parent()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).signal(signal.SIGPIPE, ctypes.c_void_p(1))  # SIG_IGN
    except Exception:
        pass


def exit_description(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit code %d" % rc


_ports_given = set()


def unique_port():
    """A free loopback port not handed to another registry of this run: the kernel may return the
    same ephemeral port twice once the probing socket is closed."""
    for _ in range(100):
        port = bf.free_port()
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port")


class Registry:
    def __init__(self, kind, work, opts):
        self.kind = kind                         # "berth" or "reference"
        self.name = "Berth" if kind == "berth" else "reference"
        self.opts = opts
        self.dir = os.path.join(work, kind)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = unique_port()
        self.proc = None
        self.auth_headers = {}
        self.creds = None                        # "user:password" for skopeo
        self.auth_desc = ""
        self.token = None
        self.upstream_port = None                # Berth: the reference, reachable as a plain-HTTP upstream
        self.extra_config = {}                   # Berth: further config file keys (replication peers)
        self.extra_args = []                     # Berth: further flags (--account-id, --region)
        self.extra_yaml = ""                     # reference: further top-level config (notifications)
        self.region = "us-east-1"                # Berth: what its ECR calls are signed for

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        if self.kind == "berth":
            cmd = [self.opts.berth_bin, "serve", "--listen", "127.0.0.1:%d" % self.port,
                   "--data-dir", self.data_dir, "--log-level", "warn"]
            if self.opts.berth_auth == "none":
                cmd += ["--auth", "none"]
            if self.upstream_port or self.extra_config:
                cfg = os.path.join(self.dir, "berth.json")
                doc = dict(self.extra_config)
                if self.upstream_port:
                    doc["pull_through_cache"] = {"insecure_upstreams": ["127.0.0.1:%d" % self.upstream_port]}
                with open(cfg, "w") as f:
                    json.dump(doc, f)
                cmd += ["--config", cfg]
            return cmd + self.extra_args
        cfg = os.path.join(self.dir, "config.yml")
        auth = ""
        if self.opts.ref_auth == "htpasswd":
            pw = os.path.join(self.dir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", REF_USER, REF_PASSWORD], check=True,
                                 capture_output=True, text=True, timeout=60).stdout
            with open(pw, "w") as f:
                f.write(out.strip() + "\n")
            auth = "auth:\n  htpasswd:\n    realm: bench\n    path: %s\n" % pw
        with open(cfg, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                    "storage:\n"
                    "  cache:\n    blobdescriptor: inmemory\n"
                    "  filesystem:\n    rootdirectory: %s\n"
                    "  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    "http:\n  addr: 127.0.0.1:%d\n  secret: berth-bench-not-a-secret\n%s%s"
                    % (self.data_dir, self.port, auth, self.extra_yaml))
        return [self.opts.ref_bin, "serve", cfg]

    def blob_file(self, digest):
        """Where this registry keeps a blob's bytes on disk."""
        algo, _, hexd = digest.partition(":")
        if self.kind == "berth":
            return os.path.join(self.data_dir, "blobs", algo, hexd[:2], hexd)
        return os.path.join(self.data_dir, "docker", "registry", "v2", "blobs", algo, hexd[:2], hexd, "data")

    def start(self):
        env = dict(os.environ)
        if self.kind == "berth":
            env["BERTH_ROOT_ACCESS_KEY_ID"], env["BERTH_ROOT_SECRET_ACCESS_KEY"] = ROOT_KEY
        logf = open(self.log_path, "ab")
        pre = _die_with_parent
        if self.kind == "berth" and self.opts.berth_ignore_sigpipe:
            pre = _die_with_parent_ignoring_sigpipe
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf, env=env, preexec_fn=pre)
        logf.close()
        if self.opts.pidfile:
            with open(self.opts.pidfile, "a") as f:
                f.write("%d\n" % self.proc.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start (code %s):\n%s" % (self.name, self.proc.returncode,
                                                                         self.log_tail()))
            try:
                st, _, _ = bf.http_request("127.0.0.1", self.port, "GET", "/v2/", timeout=2)
                if st in (200, 401):
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("%s not ready after 20 s:\n%s" % (self.name, self.log_tail()))
        self.setup_auth()

    def setup_auth(self):
        if self.kind == "berth":
            # pushes create repositories through a ROOT creation template (as with ECR)
            st, _, doc = self.ecr_call("CreateRepositoryCreationTemplate",
                                       {"prefix": "ROOT", "appliedFor": ["CREATE_ON_PUSH"],
                                        "imageTagMutability": "MUTABLE"})
            if st != 200:
                raise RuntimeError("CreateRepositoryCreationTemplate -> %d %r" % (st, doc))
            if self.opts.berth_auth == "none":
                self.auth_desc = "none (--auth none)"
                return
            st, _, doc = self.ecr_call("GetAuthorizationToken", {})
            if st != 200:
                raise RuntimeError("GetAuthorizationToken -> %d %r" % (st, doc))
            import base64
            user, _, token = base64.b64decode(doc["authorizationData"][0]["authorizationToken"]) \
                .decode().partition(":")
            self.token = token
            self.auth_headers = {"Authorization": bf.basic_auth_value(token)}
            self.creds = "AWS:" + token
            self.auth_desc = "SigV4 login token (Basic AWS:<token>) on every V2 request"
        else:
            if self.opts.ref_auth == "htpasswd":
                import base64
                self.auth_headers = {"Authorization": "Basic " + base64.b64encode(
                    ("%s:%s" % (REF_USER, REF_PASSWORD)).encode()).decode()}
                self.creds = "%s:%s" % (REF_USER, REF_PASSWORD)
                self.auth_desc = "htpasswd basic auth (bcrypt, cost 5: checked on every request)"
            else:
                self.auth_desc = "NO authentication (open registry)"

    def ecr_call(self, op, payload):
        return bf.ecr_call(op, payload, ROOT_KEY[0], ROOT_KEY[1], region=self.region, port=self.port)

    def ecr_call_service(self, service, op, payload):
        """Another JSON API on the same port (secretsmanager)."""
        return bf.ecr_call(op, payload, ROOT_KEY[0], ROOT_KEY[1], port=self.port, service=service,
                           target="%s.%s" % (service, op))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def log_problems(self):
        """Lines of the server log at warn level or above (first 20) and their count."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return 0, []
        bad = [ln for ln in lines if re.search(r"\b(warn|warning|error|fatal|panic|critical)\b", ln, re.I)
               and not EXPECTED_LOG.search(ln)]
        return len(bad), bad[:20]


# ----------------------------------------------------------------------------- RSS sampling
class RssSampler(threading.Thread):
    """Reads VmRSS of every server every 100 ms; phases are [start, end) windows per registry."""

    def __init__(self, regs):
        super().__init__(daemon=True)
        self.regs = regs
        self.samples = {r.kind: [] for r in regs}
        self.stop_ev = threading.Event()

    @staticmethod
    def status(pid):
        out = {}
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        k, v = line.split(":", 1)
                        out[k] = int(v.split()[0]) * 1024
        except OSError:
            pass
        return out

    def run(self):
        while not self.stop_ev.wait(0.1):
            now = time.monotonic()
            for r in self.regs:
                if r.alive():
                    rss = self.status(r.pid).get("VmRSS")
                    if rss:
                        self.samples[r.kind].append((now, rss))

    def peak(self, kind, t0, t1):
        vals = [v for t, v in self.samples[kind] if t0 <= t <= t1]
        return max(vals) if vals else None

    def overall_peak(self, kind):
        vals = [v for _, v in self.samples[kind]]
        return max(vals) if vals else None


# ----------------------------------------------------------------------------- results
class Results:
    def __init__(self):
        self.rows = []

    def add(self, section, metric, unit, better, berth, ref, note="", raw=None, md=False,
            berth_only=False):
        ratio = None
        if not berth_only and isinstance(berth, (int, float)) and isinstance(ref, (int, float)) \
                and ref > 0 and berth >= 0:
            ratio = berth / ref   # (none for differences that can be negative, e.g. RSS growth)
        row = dict(section=section, metric=metric, unit=unit, better=better, berth=berth,
                   reference=None if berth_only else ref, ratio=ratio, note=note, md=md,
                   raw=raw or {})
        self.rows.append(row)
        b = fmt(berth)
        r = "(n/a)" if berth_only else fmt(ref)
        log("  -> %s: Berth %s %s | reference %s%s%s" % (metric, b, unit, r,
                                                        (" | x%.2f" % ratio) if ratio else "",
                                                        (" | " + note) if note else ""))


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return "{:,}".format(v)
    a = abs(v)
    if a >= 10000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def cpu_seconds(pid):
    """user + system CPU seconds of a process so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, math.ceil(p / 100.0 * len(xs)) - 1))
    return xs[k]


# ----------------------------------------------------------------------------- the benchmark
class Bench:
    def __init__(self, opts):
        self.o = opts
        self.p = params(opts.quick)
        for kv in opts.set:
            k, _, v = kv.partition("=")
            if k not in self.p or k == "mode":
                raise SystemExit("--set: unknown parameter %r (known: %s)" % (k, ", ".join(sorted(self.p))))
            self.p[k] = json.loads(v)
        self.work = opts.workdir
        self.res = Results()
        self.turn = 0
        self.info = {}
        self.regs = []
        self.sampler = None
        self.runid = time.strftime("%Y%m%d%H%M%S")

    # alternate which registry goes first, workload by workload
    def order(self):
        self.turn += 1
        return self.regs if self.turn % 2 else list(reversed(self.regs))

    def reg(self, kind):
        return [r for r in self.regs if r.kind == kind][0]

    def want(self, section):
        return not self.o.only or section in self.o.only

    # ------------------------------------------------------------------ load tools
    def load(self, reg, path, method="GET", conns=1, seconds=5, headers=None, paths=None,
             body=None, tag="x"):
        """wrk (GET/POST) or headload (HEAD); returns the parsed BENCHJSON dict plus rps."""
        threads = max(1, min(os.cpu_count() or 1, conns))
        hfile = os.path.join(self.work, "hdr-%s-%s.txt" % (reg.kind, tag))
        hdrs = dict(reg.auth_headers)
        hdrs.update(headers or {})
        with open(hfile, "w") as f:
            for k, v in hdrs.items():
                f.write("%s: %s\n" % (k, v))
        pfile = None
        if paths:
            pfile = os.path.join(self.work, "paths-%s-%s.txt" % (reg.kind, tag))
            with open(pfile, "w") as f:
                f.write("\n".join(paths) + "\n")
        if method == "HEAD":
            cmd = [self.o.headload, "-c", str(conns), "-t", str(threads), "-d", str(seconds)]
            for k, v in hdrs.items():
                cmd += ["-H", "%s: %s" % (k, v)]
            if pfile:
                cmd += ["-p", pfile]
            cmd += ["127.0.0.1", str(reg.port), path]
            env = None
        else:
            env = dict(os.environ, BENCH_METHOD=method, BENCH_HEADERS_FILE=hfile)
            if pfile:
                env["BENCH_PATHS_FILE"] = pfile
            if body is not None:
                bfile = os.path.join(self.work, "body-%s-%s.bin" % (reg.kind, tag))
                with open(bfile, "wb") as f:
                    f.write(body)
                env["BENCH_BODY_FILE"] = bfile
            cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
                   "--timeout", "10s", "-s", os.path.join(HERE, "wrk", "request.lua"),
                   "http://127.0.0.1:%d%s" % (reg.port, path)]
        c0 = cpu_seconds(reg.pid)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
        c1 = cpu_seconds(reg.pid)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")]
        if not line:
            raise RuntimeError("%s produced no result (rc %d): %s %s" % (cmd[0], out.returncode,
                                                                       out.stdout[-500:], out.stderr[-500:]))
        d = json.loads(line[-1][len("BENCHJSON "):])
        d["rps"] = d["requests"] / (d["duration_us"] / 1e6) if d["duration_us"] else 0
        d["errors"] = sum(d[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
        d["server_cpu_s"] = (c1 - c0) if c0 is not None and c1 is not None else None
        d["server_cpu_us_per_req"] = d["server_cpu_s"] * 1e6 / d["requests"] if d["requests"] and d["server_cpu_s"] else None
        if not reg.alive():
            raise RuntimeError("%s died during (or just after) %s %s with %d connections: %s%s\n%s"
                               % (reg.name, method, path, conns, exit_description(reg.proc.returncode),
                                  SIGPIPE_HINT if reg.proc.returncode == -signal.SIGPIPE else "",
                                  reg.log_tail()))
        return d

    def check(self, reg, method, path, headers=None, expect=200):
        cl = Client(reg, timeout=30)
        try:
            st, h, data = cl.request(method, path, headers=headers)
        finally:
            cl.close()
        if st != expect:
            raise RuntimeError("%s: %s %s -> %d (expected %d): %r" % (reg.name, method, path, st, expect,
                                                                     data[:300]))
        return h, data

    def parallel(self, reg, count, threads, fn, seconds):
        """fn(client, i) for i in range(count) over `threads` keep-alive connections, bounded by
        `seconds`. Returns (done, elapsed, errors, first_error)."""
        lock = threading.Lock()
        state = {"next": 0, "done": 0, "errors": 0, "first": None}
        deadline = time.monotonic() + seconds

        def worker():
            cl = Client(reg, timeout=60)
            try:
                while time.monotonic() < deadline:
                    with lock:
                        i = state["next"]
                        if i >= count or state["errors"] > 100:
                            return
                        state["next"] += 1
                    try:
                        fn(cl, i)
                        with lock:
                            state["done"] += 1
                    except Exception as e:  # noqa: BLE001 - counted and reported
                        with lock:
                            state["errors"] += 1
                            state["first"] = state["first"] or repr(e)
            finally:
                cl.close()

        t0 = time.monotonic()
        ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(seconds + 120)
        return state["done"], time.monotonic() - t0, state["errors"], state["first"]

    # ------------------------------------------------------------------ machine limits
    def machine_limits(self):
        log("machine limits: openssl speed, dd with fdatasync")
        sha = None
        try:
            out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", "65536", "-seconds",
                                  str(self.p["openssl_seconds"])], capture_output=True, text=True,
                                 timeout=120).stdout
            m = re.search(r"^sha256\s+([\d.]+)k\s*$", out, re.M)
            if m:
                sha = float(m.group(1)) * 1000 / MB
        except (OSError, subprocess.SubprocessError) as e:
            log("openssl speed failed: %r" % e)
        if self.o.sha_api_tool:
            # The hash API upload checkpoints rely on (SHA256_Update, exportable) beside EVP's.
            try:
                out = subprocess.run([self.o.sha_api_tool, str(self.p["sha_api_mib"])], capture_output=True,
                                     text=True, timeout=600).stdout
                self.info["sha_api"] = json.loads(out)
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                log("sha_api_speed failed: %r" % e)
        self.info["dd_bytes"] = self.p["dd_bytes"]
        disk = self.measure_disk()
        self.info["sha256_openssl_MBps"] = sha
        self.info["disk_MBps_at_start"] = disk

    def measure_disk(self):
        """{"buffered": MB/s, "direct": MB/s} of `dd_bytes` of random data written where the
        registries keep their data, each ending with fdatasync: through the page cache (bs=1M), and
        with O_DIRECT (bs=1M), which is how Berth writes large uploads. Random data: some virtual
        disks write zeros much faster than real content."""
        src = None
        out = {}
        try:
            src_dir = "/dev/shm" if shutil.disk_usage("/dev/shm").free > 2 * self.p["dd_bytes"] else self.work
            fd, src = tempfile.mkstemp(dir=src_dir, prefix="berth-bench-dd-")
            with os.fdopen(fd, "wb") as f:
                left = self.p["dd_bytes"]
                while left > 0:
                    f.write(os.urandom(min(left, 64 * MiB)))
                    left -= 64 * MiB
            for kind, extra in (("buffered", []), ("direct", ["oflag=direct"])):
                target = os.path.join(self.work, "dd.tmp")
                try:
                    res = subprocess.run(["dd", "if=" + src, "of=" + target, "bs=1M", "conv=fdatasync"] + extra,
                                         capture_output=True, text=True, timeout=600).stderr
                    m = re.search(r"^(\d+) bytes .* copied, ([\d.]+) s", res, re.M)
                    if m:
                        out[kind] = int(m.group(1)) / float(m.group(2)) / MB
                    else:
                        log("dd %s: %s" % (kind, res.strip()[-200:]))
                finally:
                    if os.path.exists(target):
                        os.unlink(target)
        except (OSError, subprocess.SubprocessError) as e:
            log("disk measurement failed: %r" % e)
        finally:
            if src and os.path.exists(src):
                os.unlink(src)
        return out

    # ------------------------------------------------------------------ 1. manifests
    def bench_manifests(self):
        log("1. manifest GET by tag / HEAD by digest")
        digests = {}
        for r in self.regs:
            cl = Client(r)
            raw, dig, _, _ = push_small_image(cl, "bench/manifest", "latest", self.data)
            cl.close()
            digests[r.kind] = dig
            self.check(r, "GET", "/v2/bench/manifest/manifests/latest", {"Accept": ACCEPT_MANIFESTS})
            self.check(r, "HEAD", "/v2/bench/manifest/manifests/" + dig, {"Accept": ACCEPT_MANIFESTS})
        hdr = {"Accept": ACCEPT_MANIFESTS}
        for label, method, ref_of in (("manifest GET by tag", "GET", lambda k: "latest"),
                                      ("manifest HEAD by digest", "HEAD", lambda k: digests[k])):
            for conns in self.p["conns"]:
                runs = {r.kind: [] for r in self.regs}
                for _ in range(self.p["wrk_rounds"]):
                    for r in self.order():
                        d = self.load(r, "/v2/bench/manifest/manifests/" + ref_of(r.kind), method, conns,
                                      self.p["wrk_seconds"], hdr, tag="m")
                        runs[r.kind].append(d)
                self._load_rows("manifest", "%s, %d conn" % (label, conns), runs, md=True,
                                md_lat={1: ("p50",), 256: ("p99",)}.get(conns, ()))
                if conns == 32:
                    self.res.add("manifest", "%s, %d conn: server CPU per request" % (label, conns), "µs", "lower",
                                 median([d["server_cpu_us_per_req"] for d in runs["berth"]]),
                                 median([d["server_cpu_us_per_req"] for d in runs["reference"]]),
                                 note="user+system CPU of the server process / requests served")

    def _load_rows(self, section, label, runs, md=False, lat=True, note="", md_lat=()):
        def agg(kind, key):
            return median([d[key] for d in runs.get(kind, [])])
        errs = {k: sum(d["errors"] for d in v) for k, v in runs.items()}
        enote = ", ".join("%s %d errors" % (k, e) for k, e in errs.items() if e)
        note = "; ".join(x for x in (note, enote) if x)
        raw = {k: v for k, v in runs.items()}
        berth_only = "reference" not in runs
        self.res.add(section, label + ": requests/s", "req/s", "higher", agg("berth", "rps"),
                     agg("reference", "rps"), note, raw, md=md, berth_only=berth_only)
        if lat:
            for key, name in (("lat_p50_us", "p50"), ("lat_p99_us", "p99")):
                b, r = agg("berth", key), agg("reference", key)
                self.res.add(section, "%s: %s latency" % (label, name), "ms", "lower",
                             b / 1000 if b is not None else None, r / 1000 if r is not None else None,
                             berth_only=berth_only, md=name in md_lat)

    # ------------------------------------------------------------------ 1b. authorization
    def iam_call(self, r, action, key, **params):
        """One IAM Query call signed with `key` (access key id, secret); returns the XML text."""
        import urllib.parse
        body = urllib.parse.urlencode(dict(Action=action, Version="2010-05-08", **params)).encode()
        h = {"Host": "127.0.0.1:%d" % r.port, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        bf.sigv4_sign("POST", "/", h, body, key[0], key[1], bf.DEFAULT_REGION, service="iam")
        st, _, data = bf.http_request("127.0.0.1", r.port, "POST", "/", body=body, headers=h)
        if st != 200:
            raise RuntimeError("IAM %s -> %d %r" % (action, st, data[:300]))
        return data.decode()

    def bench_authz(self):
        """The hot reads as root (no policy read) and as an IAM user whose identity policy, the
        repository's policy and the registry's are evaluated on every request; the reference beside."""
        r = self.reg("berth")
        if r.opts.berth_auth == "none":
            log("1b. authorization skipped (--berth-auth none)")
            return
        log("1b. authorization: manifest GET and blob HEAD as root and as a policy-evaluated IAM user")
        digests = {}
        for reg in self.regs:
            cl = Client(reg)
            _, dig, _, layer = push_small_image(cl, "bench/authz", "latest", self.data)
            cl.close()
            digests[reg.kind] = layer
        import re
        self.iam_call(r, "CreateUser", ROOT_KEY, UserName="bench-puller")
        xml = self.iam_call(r, "CreateAccessKey", ROOT_KEY, UserName="bench-puller")
        key = (re.search("<AccessKeyId>([^<]+)<", xml).group(1), re.search("<SecretAccessKey>([^<]+)<", xml).group(1))
        arn = "arn:aws:ecr:%s:%s:repository/" % (bf.DEFAULT_REGION, bf.DEFAULT_ACCOUNT_ID)
        self.iam_call(r, "PutUserPolicy", ROOT_KEY, UserName="bench-puller", PolicyName="pull",
                      PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                          {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                          {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                                         "ecr:BatchCheckLayerAvailability"],
                           "Resource": arn + "bench/*",
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                          {"Effect": "Deny", "Action": "ecr:*", "Resource": arn + "bench/secret*"}]}))
        for op, payload in (("SetRepositoryPolicy", {"repositoryName": "bench/authz", "policyText": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"},
                 "Action": "ecr:BatchDeleteImage", "Condition": {"StringNotEquals": {"aws:username": "ops"}}}]})}),
                            ("PutRegistryPolicy", {"policyText": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"},
                 "Action": "ecr:*", "Resource": arn + "quarantine/*"}]})})):
            st, _, doc = r.ecr_call(op, payload)
            if st != 200:
                raise RuntimeError("%s -> %d %r" % (op, st, doc))
        st, _, doc = bf.ecr_call("GetAuthorizationToken", {}, key[0], key[1], port=r.port)
        if st != 200:
            raise RuntimeError("GetAuthorizationToken as bench-puller -> %d %r" % (st, doc))
        import base64
        token = base64.b64decode(doc["authorizationData"][0]["authorizationToken"]).decode().partition(":")[2]
        as_user = {"Authorization": bf.basic_auth_value(token)}
        hdr = {"Accept": ACCEPT_MANIFESTS}
        for label, method, path_of in (
                ("manifest GET by tag", "GET", lambda k: "/v2/bench/authz/manifests/latest"),
                ("blob HEAD", "HEAD", lambda k: "/v2/bench/authz/blobs/" + digests[k])):
            self.check(r, method, path_of("berth"), dict(hdr, **as_user))
            conns = 32
            runs = {"root": [], "user": [], "reference": []}
            for _ in range(self.p["wrk_rounds"]):
                for who in ("root", "user", "reference"):
                    reg = self.reg("reference" if who == "reference" else "berth")
                    extra = dict(hdr, **as_user) if who == "user" else hdr
                    runs[who].append(self.load(reg, path_of(reg.kind), method, conns, self.p["wrk_seconds"], extra,
                                               tag="authz-" + who))
            self._load_rows("authz", "%s, %d conn, IAM user (policies evaluated)" % (label, conns),
                            {"berth": runs["user"], "reference": runs["reference"]}, md=True)
            self._load_rows("authz", "%s, %d conn, root (no policy read)" % (label, conns),
                            {"berth": runs["root"], "reference": runs["reference"]}, lat=False)
            user = median([d["rps"] for d in runs["user"]])
            root = median([d["rps"] for d in runs["root"]])
            self.res.add("authz", "%s, %d conn: IAM user / root requests/s" % (label, conns), "fraction", "higher",
                         user / root if root else None, None, md=True, berth_only=True,
                         note="the issue's bound: within 10%% of root (>= 0.90); user %.0f, root %.0f req/s"
                              % (user, root))

    # ------------------------------------------------------------------ 7. ECR
    def bench_ecr(self):
        r = self.reg("berth")
        if r.opts.berth_auth == "none":
            log("7. ECR API skipped (--berth-auth none)")
            return
        log("7. ECR JSON API (Berth only): DescribeImages, BatchGetImage")
        for op, payload in (("DescribeImages", {"repositoryName": "bench/manifest"}),
                            ("BatchGetImage", {"repositoryName": "bench/manifest",
                                               "imageIds": [{"imageTag": "latest"}]})):
            body = json.dumps(payload).encode()
            for conns in (1, 32):
                # sign once, replay the identical request for the whole run (inside the skew window)
                h = {"Host": "127.0.0.1:%d" % r.port, "Content-Type": bf.ECR_CONTENT_TYPE,
                     "X-Amz-Target": bf.ECR_TARGET_PREFIX + op}
                bf.sigv4_sign("POST", "/", h, body, ROOT_KEY[0], ROOT_KEY[1], bf.DEFAULT_REGION,
                              signed_headers={"content-type", "host", "x-amz-date", "x-amz-target"})
                st, _, data = bf.http_request("127.0.0.1", r.port, "POST", "/", body=body, headers=h)
                if st != 200:
                    raise RuntimeError("ECR %s -> %d %r" % (op, st, data[:300]))
                h.pop("Host")
                d = self.load(r, "/", "POST", conns, self.p["ecr_seconds"], h, body=body, tag="ecr")
                self._load_rows("ecr", "ECR %s, %d conn" % (op, conns), {"berth": [d]}, md=True)

    # ------------------------------------------------------------------ 2. blobs
    def bench_blobs(self):
        p = self.p
        log("2. blob GET: 1 x %s, %d x %s; blob HEAD" % (human_bytes(p["big_blob"]), p["small_blobs"],
                                                         human_bytes(p["small_blob_size"])))
        big = {}
        small = {}
        for r in self.regs:
            cl = Client(r)
            big[r.kind] = upload_monolithic(cl, "bench/blobs", self.data.blob(p["big_blob"]))
            cl.close()
            small_size = p["small_blob_size"]
            digs = []
            lock = threading.Lock()

            def up(cl, i):
                d = upload_monolithic(cl, "bench/blobs", self.data.blob(small_size))
                with lock:
                    digs.append(d)
            done, _, errs, first = self.parallel(r, p["small_blobs"], 8, up, 300)
            if errs:
                raise RuntimeError("%s: small blob uploads failed: %s" % (r.name, first))
            small[r.kind] = ["/v2/bench/blobs/blobs/" + d for d in digs]
        # one big blob, curl to /dev/null: one stream, then parallel streams (docker pulls 3 layers at once)
        def curl_get(r, path):
            cmd = ["curl", "-sS", "-o", "/dev/null", "--max-time", "600", "-w",
                   "%{http_code} %{size_download} %{time_total}"]
            for k, v in r.auth_headers.items():
                cmd += ["-H", "%s: %s" % (k, v)]
            cmd.append("http://127.0.0.1:%d%s" % (r.port, path))
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

        def check(r, proc):
            out = proc.communicate(timeout=660)[0].split()
            if len(out) != 3 or out[0] != "200" or int(out[1]) != p["big_blob"]:
                raise RuntimeError("%s: big blob GET failed: %r" % (r.name, out))
            return float(out[2])

        streams = p["big_blob_streams"]
        runs = {r.kind: [] for r in self.regs}
        par = {r.kind: [] for r in self.regs}
        cpu = {r.kind: [] for r in self.regs}
        par_cpu = {r.kind: [] for r in self.regs}
        for _ in range(p["blob_get_repeats"]):
            for r in self.order():
                path = "/v2/bench/blobs/blobs/" + big[r.kind]
                c0 = cpu_seconds(r.pid)
                secs = check(r, curl_get(r, path))
                c1 = cpu_seconds(r.pid)
                runs[r.kind].append(p["big_blob"] / secs / MB)
                if c0 is not None and c1 is not None:
                    cpu[r.kind].append((c1 - c0) / (p["big_blob"] / 1e9))
                c0 = cpu_seconds(r.pid)
                t0 = time.monotonic()
                procs = [curl_get(r, path) for _ in range(streams)]
                for proc in procs:
                    check(r, proc)
                par[r.kind].append(streams * p["big_blob"] / (time.monotonic() - t0) / MB)
                c1 = cpu_seconds(r.pid)
                if c0 is not None and c1 is not None:
                    par_cpu[r.kind].append((c1 - c0) / (streams * p["big_blob"] / 1e9))
        big_label = "blob GET, 1 x %s" % human_bytes(p["big_blob"])
        self.res.add("blobs", big_label + " (curl, 1 conn)", "MB/s", "higher",
                     median(runs["berth"]), median(runs["reference"]), raw=runs, md=True)
        self.res.add("blobs", big_label + ": server CPU per GB sent (1 conn)", "s/GB", "lower",
                     median(cpu["berth"]), median(cpu["reference"]), raw=cpu, md=True,
                     note="user+system CPU of the server process per 10^9 bytes sent")
        self.res.add("blobs", big_label + ", %d streams at once (curl): aggregate" % streams, "MB/s", "higher",
                     median(par["berth"]), median(par["reference"]), raw=par, md=True)
        self.res.add("blobs", big_label + ": server CPU per GB sent (%d streams)" % streams, "s/GB", "lower",
                     median(par_cpu["berth"]), median(par_cpu["reference"]), raw=par_cpu, md=True,
                     note="user+system CPU of the server process per 10^9 bytes sent")
        self.loopback_ceiling(self.regs[0].blob_file(big["berth"]))
        # many small blobs, wrk cycling through the paths
        for method, conns in (("GET", p["blob_conns"]), ("HEAD", 32)):
            runs = {r.kind: [] for r in self.regs}
            for _ in range(p["wrk_rounds"]):
                for r in self.order():
                    runs[r.kind].append(self.load(r, small[r.kind][0], method, conns, p["wrk_seconds"],
                                                  paths=small[r.kind], tag="b"))
            label = "blob %s, %d x %s, %d conn" % (method, p["small_blobs"], human_bytes(p["small_blob_size"]),
                                                  conns)
            if method == "GET":
                mbps = {k: [d["requests"] * p["small_blob_size"] / (d["duration_us"] / 1e6) / MB for d in v]
                        for k, v in runs.items()}
                errs = {k: sum(d["errors"] for d in v) for k, v in runs.items()}
                self.res.add("blobs", label + ": payload", "MB/s", "higher", median(mbps["berth"]),
                             median(mbps["reference"]), raw=runs, md=True,
                             note=", ".join("%s %d errors" % (k, e) for k, e in errs.items() if e))
            else:
                self._load_rows("blobs", label, runs, md=True, md_lat=("p99",))

    def loopback_ceiling(self, path):
        """One loopback TCP stream of the same file without HTTP: sendfile vs copy loops."""
        if not self.o.loopback_ceiling or not path or not os.path.exists(path):
            return
        for mode, how in (("sendfile", "sendfile(2)"), ("write", "pread + write 256 KiB"),
                          ("write32k", "pread + write 32 KiB")):
            try:
                out = subprocess.run([self.o.loopback_ceiling, path, mode, "3"], capture_output=True, text=True,
                                     timeout=600).stdout.strip()
                v = float(out)
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                log("loopback_ceiling %s failed: %r" % (mode, e))
                continue
            self.res.add("blobs", "machine: one loopback TCP stream of the same file, no HTTP, %s" % how, "MB/s",
                         "higher", v, None, berth_only=True, md=True,
                         note="bench/tools/loopback_ceiling.c: what one stream can carry here at all")

    # ------------------------------------------------------------------ 3. uploads
    def bench_uploads(self):
        p = self.p
        size = p["upload_size"]
        log("3. blob upload of %s: monolithic, chunked 5 MiB / 64 MiB; %d concurrent x %s"
            % (human_bytes(size), p["conc_uploads"], human_bytes(p["conc_size"])))
        self.data.blob(size)   # warm the prefix hash outside the timed part
        # The disk's speed drifts on virtual machines: measured right before and after the uploads.
        disk_runs = [self.measure_disk()]
        kinds = (("monolithic PUT", None), ("chunked PATCH 5 MiB", 5 * MiB), ("chunked PATCH 64 MiB", 64 * MiB))
        for label, chunk in kinds:
            runs = {r.kind: [] for r in self.regs}
            cpu = {}
            for _ in range(p["upload_rounds"]):
                for r in self.order():
                    blob = self.data.blob(size)
                    cl = Client(r)
                    c0 = cpu_seconds(r.pid)
                    t0 = time.monotonic()
                    if chunk:
                        upload_chunked(cl, "bench/upload", blob, chunk)
                    else:
                        upload_monolithic(cl, "bench/upload", blob)
                    dt = time.monotonic() - t0
                    c1 = cpu_seconds(r.pid)
                    cl.close()
                    runs[r.kind].append(size / dt / MB)
                    cpu.setdefault(r.kind, []).append((c1 - c0) / (size / 1e9) if c0 is not None and c1 else None)
            self.res.add("upload", "upload %s, %s" % (human_bytes(size), label), "MB/s", "higher",
                         median(runs["berth"]), median(runs["reference"]), raw=runs, md=True)
            self.res.add("upload", "upload %s, %s: server CPU per GB" % (human_bytes(size), label), "s/GB",
                         "lower", median(cpu.get("berth", [])), median(cpu.get("reference", [])),
                         md=(chunk is None), note="user+system CPU of the server process per 10^9 bytes received")
            self.info.setdefault("upload_MBps", {})[label] = {k: median(v) for k, v in runs.items()}
        disk_runs.append(self.measure_disk())
        self.info["disk_MBps_around_uploads"] = {
            k: statistics.mean(d[k] for d in disk_runs if d.get(k)) for k in ("buffered", "direct")
            if any(d.get(k) for d in disk_runs)}
        self.info["disk_MBps_around_uploads_raw"] = disk_runs
        n, csize = p["conc_uploads"], p["conc_size"]
        self.data.blob(csize)
        runs = {r.kind: [] for r in self.regs}
        per = {}
        for r in self.order():
            wall, times, errs, first = self.concurrent_uploads(r, "bench/concurrent", n, csize)
            if errs:
                raise RuntimeError("%s: concurrent uploads failed: %s" % (r.name, first))
            runs[r.kind].append(n * csize / wall / MB)
            per[r.kind] = times
        label = "%d concurrent uploads x %s" % (n, human_bytes(csize))
        self.res.add("upload", label + ": aggregate", "MB/s", "higher", median(runs["berth"]),
                     median(runs["reference"]), raw={"MBps": runs, "seconds_each": per}, md=True)
        self.res.add("upload", label + ": slowest upload", "s", "lower", max(per["berth"]),
                     max(per["reference"]))

    def concurrent_uploads(self, reg, repo, n, size):
        """n simultaneous monolithic uploads on n connections. Returns (wall, [seconds], errors, first)."""
        blobs = [self.data.blob(size) for _ in range(n)]
        barrier = threading.Barrier(n + 1)
        times = [None] * n
        errors = []

        def one(i):
            cl = Client(reg, timeout=600)
            try:
                barrier.wait(60)
                t0 = time.monotonic()
                upload_monolithic(cl, repo, blobs[i])
                times[i] = time.monotonic() - t0
            except Exception as e:  # noqa: BLE001 - reported
                errors.append(repr(e))
            finally:
                cl.close()

        ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in ts:
            t.start()
        barrier.wait(60)
        t0 = time.monotonic()
        for t in ts:
            t.join(900)
        wall = time.monotonic() - t0
        return wall, [t for t in times if t is not None], len(errors), errors[0] if errors else None

    # ------------------------------------------------------------------ 4. skopeo
    def make_oci_layout(self):
        p = self.p
        layout = os.path.join(self.work, "oci-layout")
        blobs = os.path.join(layout, "blobs", "sha256")
        os.makedirs(blobs, exist_ok=True)
        layers, diff_ids = [], []
        size = p["skopeo_layer"]
        for i in range(p["skopeo_layers"]):
            tbuf = io.BytesIO()
            with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.PAX_FORMAT) as tf:
                ti = tarfile.TarInfo("data/layer-%02d.bin" % i)
                ti.size = size
                ti.mtime = 0
                chunk = self.data.mv[(i * size) % max(1, len(self.data.buf) - size):][:size]
                tf.addfile(ti, io.BytesIO(chunk))
            tar = tbuf.getvalue()
            diff_ids.append(bf.sha256(tar))
            # already gzip (stored blocks): skopeo pushes it as is instead of compressing it itself
            gz = gzip.compress(tar, compresslevel=0, mtime=0)
            dig = bf.sha256(gz)
            with open(os.path.join(blobs, dig.split(":")[1]), "wb") as f:
                f.write(gz)
            layers.append({"mediaType": bf.OCI_LAYER_GZIP, "digest": dig, "size": len(gz)})
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        with open(os.path.join(blobs, bf.sha256(config).split(":")[1]), "wb") as f:
            f.write(config)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": bf.OCI_MANIFEST,
                               "config": {"mediaType": bf.OCI_CONFIG, "digest": bf.sha256(config),
                                          "size": len(config)}, "layers": layers}).encode()
        with open(os.path.join(blobs, bf.sha256(manifest).split(":")[1]), "wb") as f:
            f.write(manifest)
        with open(os.path.join(layout, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        with open(os.path.join(layout, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [
                {"mediaType": bf.OCI_MANIFEST, "digest": bf.sha256(manifest), "size": len(manifest),
                 "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
        return layout, sum(l["size"] for l in layers)

    def bench_skopeo(self):
        p = self.p
        layout, total = self.make_oci_layout()
        log("4. skopeo push and pull: %d layers, %.0f MB" % (p["skopeo_layers"], total / MB))
        push, pull = {}, {}
        for r in self.order():
            repo = "bench/skopeo-%s" % self.runid
            ref = "docker://127.0.0.1:%d/%s:v1" % (r.port, repo)
            cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
            if r.creds:
                cmd += ["--dest-creds", r.creds]
            t0 = time.monotonic()
            out = subprocess.run(cmd + ["oci:%s:bench" % layout, ref], capture_output=True, text=True,
                                 timeout=900)
            push[r.kind] = time.monotonic() - t0
            if out.returncode != 0:
                raise RuntimeError("%s: skopeo push failed: %s" % (r.name, out.stderr[-800:]))
        for r in self.order():
            repo = "bench/skopeo-%s" % self.runid
            dest = os.path.join(self.work, "pulled-%s" % r.kind)
            shutil.rmtree(dest, ignore_errors=True)
            cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false"]
            if r.creds:
                cmd += ["--src-creds", r.creds]
            t0 = time.monotonic()
            out = subprocess.run(cmd + ["docker://127.0.0.1:%d/%s:v1" % (r.port, repo), "oci:%s:bench" % dest],
                                 capture_output=True, text=True, timeout=900)
            pull[r.kind] = time.monotonic() - t0
            if out.returncode != 0:
                raise RuntimeError("%s: skopeo pull failed: %s" % (r.name, out.stderr[-800:]))
            shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(layout, ignore_errors=True)
        label = "skopeo %s (%d layers, %.0f MB)" % ("%s", p["skopeo_layers"], total / MB)
        self.res.add("skopeo", label % "push", "s", "lower", push["berth"], push["reference"], md=True)
        self.res.add("skopeo", label % "pull", "s", "lower", pull["berth"], pull["reference"], md=True)

    # ------------------------------------------------------------------ 4b. pull-through cache
    def bench_cache(self):
        """An image in the reference registry, pulled directly, then through a Berth pull-through cache
        rule: cold (fetched from the reference while streamed and stored), then warm (from Berth)."""
        p = self.p
        ref, berth = self.reg("reference"), self.reg("berth")
        layout, total = self.make_oci_layout()
        repo = "bench/cache-%s" % self.runid
        log("4b. pull-through cache: %d layers, %.0f MB in the reference, pulled directly and through Berth"
            % (p["skopeo_layers"], total / MB))
        push = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if ref.creds:
            push += ["--dest-creds", ref.creds]
        out = subprocess.run(push + ["oci:%s:bench" % layout, "docker://127.0.0.1:%d/%s:v1" % (ref.port, repo)],
                             capture_output=True, text=True, timeout=900)
        shutil.rmtree(layout, ignore_errors=True)
        if out.returncode != 0:
            raise RuntimeError("skopeo push to the reference failed: %s" % out.stderr[-800:])
        rule = {"ecrRepositoryPrefix": "upstream", "upstreamRegistryUrl": "127.0.0.1:%d" % ref.port}
        if ref.creds:
            user, _, password = ref.creds.partition(":")
            st, _, doc = berth.ecr_call_service("secretsmanager", "CreateSecret", {
                "Name": "ecr-pullthroughcache/bench-%s" % self.runid, "ClientRequestToken": str(uuid.uuid4()),
                "SecretString": json.dumps({"username": user, "accessToken": password})})
            if st != 200:
                raise RuntimeError("CreateSecret -> %d %r" % (st, doc))
            rule["credentialArn"] = doc["ARN"]
        st, _, doc = berth.ecr_call("CreatePullThroughCacheRule", rule)
        if st != 200 and doc.get("__type") != "PullThroughCacheRuleAlreadyExistsException":
            raise RuntimeError("CreatePullThroughCacheRule -> %d %r" % (st, doc))

        def drop_page_cache():
            """Both servers then read their blobs from the disk: the reference's were just pushed through
            the page cache, Berth's cached blobs were written with O_DIRECT (not in the page cache)."""
            try:
                os.sync()
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("1\n")
                return True
            except OSError:
                return False

        def pull(r, name, creds, drop=False):
            dest = os.path.join(self.work, "cache-pulled")
            shutil.rmtree(dest, ignore_errors=True)
            if drop and not drop_page_cache():
                return None
            cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false"]
            if creds:
                cmd += ["--src-creds", creds]
            t0 = time.monotonic()
            o = subprocess.run(cmd + ["docker://127.0.0.1:%d/%s:v1" % (r.port, name), "oci:%s:bench" % dest],
                               capture_output=True, text=True, timeout=900)
            took = time.monotonic() - t0
            shutil.rmtree(dest, ignore_errors=True)
            if o.returncode != 0:
                raise RuntimeError("%s: skopeo pull of %s failed: %s" % (r.name, name, o.stderr[-800:]))
            return took

        direct = pull(ref, repo, ref.creds)
        cold = pull(berth, "upstream/" + repo, berth.creds)
        # The import stores the manifest once its blobs are here (a few seconds after the pull).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st, _, doc = berth.ecr_call("DescribeImages", {"repositoryName": "upstream/" + repo})
            if st == 200 and doc.get("imageDetails"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("the cached image was not stored within 120 s")
        warm = pull(berth, "upstream/" + repo, berth.creds)
        direct_again = pull(ref, repo, ref.creds)
        warm_disk = pull(berth, "upstream/" + repo, berth.creds, drop=True)
        direct_disk = pull(ref, repo, ref.creds, drop=True)
        label = "pull-through cache, %d layers, %.0f MB: %s (Berth) vs a direct pull from the reference"
        self.res.add("cache", label % (p["skopeo_layers"], total / MB, "cold pull through the cache"), "s", "lower",
                     cold, direct, md=True, note="target: at most 1.2x the direct pull")
        self.res.add("cache", label % (p["skopeo_layers"], total / MB, "warm pull from the cache"), "s", "lower",
                     warm, direct_again, md=True, note="target: at most the direct pull; the reference's blobs are "
                     "in the page cache (just pushed), Berth's are not (written with O_DIRECT)")
        if warm_disk is not None and direct_disk is not None:
            self.res.add("cache", label % (p["skopeo_layers"], total / MB,
                                           "warm pull from the cache, page cache dropped before each"), "s",
                         "lower", warm_disk, direct_disk, md=True,
                         note="both read from the disk (echo 1 > /proc/sys/vm/drop_caches before each pull)")

    # ------------------------------------------------------------------ 4c. replication
    def bench_replication(self):
        """A second Berth replicating to a third: how long after its push is acknowledged an image is
        COMPLETE on the peer (DescribeImageReplicationStatus polled every 50 ms), beside what a user
        without replication does: skopeo copy of the same image from the reference to a second
        reference registry."""
        p = self.p
        ref = self.reg("reference")
        layout, total = self.make_oci_layout()
        log("4c. replication: %d layers, %.0f MB, Berth to Berth vs skopeo copy between two references"
            % (p["skopeo_layers"], total / MB))
        peer = Registry("berth", os.path.join(self.work, "repl-peer"), self.o)
        peer.extra_args = ["--account-id", "210987654321", "--region", "eu-west-1"]
        peer.region = "eu-west-1"
        source = Registry("berth", os.path.join(self.work, "repl-source"), self.o)
        source.extra_config = {"replication": {"peers": [{
            "region": "eu-west-1", "registry_id": "210987654321", "endpoint": "http://127.0.0.1:%d" % peer.port,
            "access_key_id": ROOT_KEY[0], "secret_access_key": ROOT_KEY[1]}], "retry_base_seconds": 1}}
        ref2 = Registry("reference", os.path.join(self.work, "repl-ref2"), self.o)
        started = []
        try:
            for r in (peer, source, ref2):
                r.start()
                started.append(r)
            st, _, doc = source.ecr_call("PutReplicationConfiguration", {"replicationConfiguration": {
                "rules": [{"destinations": [{"region": "eu-west-1", "registryId": "210987654321"}]}]}})
            if st != 200:
                raise RuntimeError("PutReplicationConfiguration -> %d %r" % (st, doc))
            repo = "bench/repl-%s" % self.runid

            def skopeo(src, dest, src_creds=None, dest_creds=None):
                cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"]
                if src_creds:
                    cmd += ["--src-creds", src_creds]
                if dest_creds:
                    cmd += ["--dest-creds", dest_creds]
                t0 = time.monotonic()
                o = subprocess.run(cmd + [src, dest], capture_output=True, text=True, timeout=900)
                if o.returncode != 0:
                    raise RuntimeError("skopeo copy %s -> %s failed: %s" % (src, dest, o.stderr[-800:]))
                return time.monotonic() - t0

            push = skopeo("oci:%s:bench" % layout, "docker://127.0.0.1:%d/%s:v1" % (source.port, repo),
                          dest_creds=source.creds)
            t0 = time.monotonic()
            deadline = t0 + 600
            while True:
                st, _, doc = source.ecr_call("DescribeImageReplicationStatus",
                                             {"repositoryName": repo, "imageId": {"imageTag": "v1"}})
                statuses = doc.get("replicationStatuses", []) if st == 200 else []
                if statuses and statuses[0]["status"] == "COMPLETE":
                    break
                if statuses and statuses[0]["status"] == "FAILED":
                    raise RuntimeError("replication FAILED: %r\n%s" % (statuses, source.log_tail()))
                if time.monotonic() > deadline:
                    raise RuntimeError("replication not COMPLETE within 600 s: %r\n%s" % (doc, source.log_tail()))
                time.sleep(0.05)
            lag = time.monotonic() - t0
            skopeo("oci:%s:bench" % layout, "docker://127.0.0.1:%d/%s:v1" % (ref.port, repo), dest_creds=ref.creds)
            copy = skopeo("docker://127.0.0.1:%d/%s:v1" % (ref.port, repo),
                          "docker://127.0.0.1:%d/%s:v1" % (ref2.port, repo), src_creds=ref.creds,
                          dest_creds=ref.creds)
        finally:
            for r in started:
                r.stop()
            shutil.rmtree(layout, ignore_errors=True)
        label = "replication, %d layers, %.0f MB: %s (Berth) vs skopeo copy between two references"
        self.res.add("replication", label % (p["skopeo_layers"], total / MB,
                                             "push acknowledged until COMPLETE on the peer"), "s", "lower",
                     lag, copy, md=True, note="the source's push itself took %.2f s" % push)

    # ------------------------------------------------------------------ 4d. backup
    def bench_backup(self):
        """Backing up what the run has stored so far: `berth backup` (online: an SQLite snapshot plus
        the blobs it references) beside what the reference's operators do, copying its storage
        directory (cp -a, then rsync -a for the next, incremental copy); and back again (berth
        restore vs cp -a). As throughput of the data directory's size, since the two hold different
        amounts by now."""
        log("4d. backup and restore vs cp -a / rsync -a of the reference's storage")
        if not shutil.which("rsync"):
            log("   (skipped: rsync not installed)")
            return
        out = os.path.join(self.work, "backups")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)

        def timed(cmd):
            t0 = time.monotonic()
            o = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if o.returncode != 0:
                raise RuntimeError("%s failed: %s" % (" ".join(cmd), (o.stderr or o.stdout)[-800:]))
            return time.monotonic() - t0

        def size(path):
            return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()[0])

        b, r = self.reg("berth"), self.reg("reference")
        # The same image in both, whatever else earlier sections stored (and so also with --only).
        layout, _ = self.make_oci_layout()
        for reg in (b, r):
            cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
            if reg.creds:
                cmd += ["--dest-creds", reg.creds]
            timed(cmd + ["oci:%s:bench" % layout, "docker://127.0.0.1:%d/bench/backup-%s:v1" % (reg.port, self.runid)])
        shutil.rmtree(layout, ignore_errors=True)
        bdest, rdest = os.path.join(out, "berth"), os.path.join(out, "reference")
        subprocess.run(["sync"])
        t_b = timed([self.o.berth_bin, "backup", bdest, "--data-dir", b.data_dir])
        t_r = timed(["cp", "-a", r.data_dir, rdest])
        bsize, rsize = size(bdest), size(rdest)
        t_b2 = timed([self.o.berth_bin, "backup", bdest, "--data-dir", b.data_dir])
        t_r2 = timed(["rsync", "-a", r.data_dir + "/", rdest + "/"])
        subprocess.run(["sync"])
        t_b3 = timed([self.o.berth_bin, "restore", bdest, "--data-dir", os.path.join(out, "berth-restored")])
        t_r3 = timed(["cp", "-a", rdest, os.path.join(out, "reference-restored")])
        note = "Berth %s in %.1f s, reference %s in %.1f s" % (human_bytes(bsize), t_b, human_bytes(rsize), t_r)
        self.res.add("backup", "backup of the run's data (Berth: berth backup, online; reference: cp -a)", "MB/s",
                     "higher", bsize / MB / t_b, rsize / MB / t_r, md=True, note=note)
        self.res.add("backup", "the same backup again, nothing new (berth backup, incremental; rsync -a)", "s",
                     "lower", t_b2, t_r2, md=True)
        self.res.add("backup", "restore into a new directory (berth restore; cp -a)", "MB/s", "higher",
                     bsize / MB / t_b3, rsize / MB / t_r3, md=True,
                     note="Berth %.1f s, reference %.1f s" % (t_b3, t_r3))
        shutil.rmtree(out, ignore_errors=True)

    # ------------------------------------------------------------------ 4f. garbage collection
    def bench_gc(self):
        """Garbage collection of a registry that holds `gc_images` small images (one shared config,
        one 1 KB layer each), half of them deleted by digest: `berth gc --grace 0` beside the running
        server, and the reference's `registry garbage-collect` (meant for a registry in read-only
        mode; run here while it is idle). Both must remove exactly the deleted images' layers; the
        time is the whole command's."""
        log("4f. garbage collection: berth gc vs registry garbage-collect")
        n = self.p["gc_images"]
        repo = "bench/gc-%s" % self.runid

        def blob_files(reg):
            root = os.path.join(reg.data_dir, "blobs") if reg.kind == "berth" else \
                os.path.join(reg.data_dir, "docker", "registry", "v2", "blobs")
            return sum(len(files) for _, _, files in os.walk(root))

        seconds, removed = {}, {}
        for reg in (self.reg("berth"), self.reg("reference")):
            digests = [None] * n

            def push(cl, i, digests=digests):
                digests[i] = push_small_image(cl, repo, "t%d" % i, self.data)[1]

            def delete(cl, i, digests=digests):
                st, _, body = cl.request("DELETE", "/v2/%s/manifests/%s" % (repo, digests[2 * i]))
                if st != 202:
                    raise RuntimeError("%s: DELETE manifest -> %d %r" % (reg.name, st, body[:200]))

            for fn, count in ((push, n), (delete, n // 2)):
                done, _, errors, first = self.parallel(reg, count, 8, fn, 900)
                if errors or done != count:
                    raise RuntimeError("%s: %d of %d done, %d errors (%s)" % (reg.name, done, count, errors, first))
            before = blob_files(reg)
            if reg.kind == "berth":
                cmd = [self.o.berth_bin, "gc", "--data-dir", reg.data_dir, "--grace", "0"]
            else:
                cmd = [self.o.ref_bin, "garbage-collect", os.path.join(reg.dir, "config.yml")]
            t0 = time.monotonic()
            o = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            seconds[reg.kind] = time.monotonic() - t0
            if o.returncode != 0:
                raise RuntimeError("%s failed: %s" % (" ".join(cmd), (o.stderr or o.stdout)[-800:]))
            removed[reg.kind] = before - blob_files(reg)
        # Earlier sections may have left their own garbage; this one's is n/2 layers in each.
        for kind, count in removed.items():
            if count < n // 2:
                raise RuntimeError("%s gc removed %d blob files, expected at least %d" % (kind, count, n // 2))
        self.res.add("gc", "garbage collection, %d images of which %d deleted (berth gc, online; "
                     "registry garbage-collect)" % (n, n // 2), "s", "lower", seconds["berth"], seconds["reference"],
                     md=True, note="blob files removed: Berth %d, reference %d" % (removed["berth"],
                                                                                   removed["reference"]))

    # ------------------------------------------------------------------ 4e. events
    def bench_events(self):
        """Push notifications: a Berth with a webhook ("ECR Image Action" events from its durable
        outbox) and a reference with a notifications endpoint (its in-memory queue), each posting to
        a receiver here. Rows: from a manifest PUT's answer to the event's arrival, and the push
        itself with and without the webhook on the same Berth."""
        import http.server
        n = 30 if self.p["mode"] == "quick" else 200
        log("4e. events: %d pushes each, time from the manifest PUT's answer to the event's arrival" % n)
        arrived = {}
        lock = threading.Lock()

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {}
                tags = []
                if "detail" in doc:  # Berth: one EventBridge envelope per event
                    if doc["detail"].get("action-type") == "PUSH":
                        tags.append(doc["detail"].get("image-tag"))
                for e in doc.get("events", []):  # reference: a batch of events
                    t = e.get("target", {})
                    if e.get("action") == "push" and t.get("tag"):
                        tags.append(t["tag"])
                with lock:
                    for t in tags:
                        arrived.setdefault(t, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/events" % srv.server_port
        berth = Registry("berth", os.path.join(self.work, "events-berth"), self.o)
        berth.extra_config = {"events": {"webhooks": [{"url": url}]}}
        plain = Registry("berth", os.path.join(self.work, "events-plain"), self.o)
        ref = Registry("reference", os.path.join(self.work, "events-ref"), self.o)
        ref.extra_yaml = ("notifications:\n  endpoints:\n    - name: bench\n      url: %s\n"
                          "      timeout: 5s\n      threshold: 5\n      backoff: 1s\n" % url)
        started = []
        lat, push = {}, {}
        try:
            for r in (berth, plain, ref):
                r.start()
                started.append(r)
            for r in (berth, ref, plain):
                key = "plain" if r is plain else r.kind
                cl = Client(r)
                acks, times = {}, []
                repo = "bench/events-%s" % self.runid
                for i in range(n):
                    tag = "%s-%d-%s" % (key, i, self.runid)
                    t0 = time.monotonic()
                    raw, _, _, _ = push_small_image(cl, repo, "%s-prep" % tag, self.data)
                    times.append(time.monotonic() - t0)
                    # The measured push: the same manifest under the measured tag. The reference posts
                    # its event before the PUT's answer, so the clock starts when the PUT is sent.
                    acks[tag] = time.monotonic()
                    put_manifest(cl, repo, tag, raw)
                cl.close()
                push[key] = times
                if r is plain:
                    continue
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    with lock:
                        if all(t in arrived for t in acks):
                            break
                    time.sleep(0.05)
                with lock:
                    missing = [t for t in acks if t not in arrived]
                    lat[key] = [arrived[t] - acks[t] for t in acks if t in arrived]
                if missing:
                    raise RuntimeError("%s: %d of %d events did not arrive within 120 s" % (r.name, len(missing), n))
        finally:
            for r in started:
                r.stop()
            srv.shutdown()
            srv.server_close()
        self.res.add("events", "event delivery: manifest PUT sent until the webhook has the event, p50", "ms",
                     "lower", pct(lat["berth"], 50) * 1000, pct(lat["reference"], 50) * 1000, md=True,
                     note="%d pushes, one at a time; Berth's outbox is durable, the reference's queue is "
                          "in memory" % n)
        self.res.add("events", "event delivery, p99", "ms", "lower", pct(lat["berth"], 99) * 1000,
                     pct(lat["reference"], 99) * 1000, md=True)
        self.res.add("events", "push of a small image (2 blobs + manifest) with the webhook on, p50", "ms", "lower",
                     pct(push["berth"], 50) * 1000, pct(push["reference"], 50) * 1000, md=True,
                     note="Berth without a webhook: %.1f ms" % (pct(push["plain"], 50) * 1000))

    # ------------------------------------------------------------------ 6. memory
    def bench_memory(self):
        p = self.p
        n = p["mem_uploads"]
        log("6. resident memory during %d concurrent uploads of %s and of %s"
            % (n, human_bytes(p["mem_small"]), human_bytes(p["mem_big"])))
        peaks = {}
        for size in (p["mem_small"], p["mem_big"]):
            self.data.blob(size)
            for r in self.order():
                time.sleep(1.0)
                before = RssSampler.status(r.pid).get("VmRSS")
                t0 = time.monotonic()
                wall, times, errs, first = self.concurrent_uploads(r, "bench/memory", n, size)
                t1 = time.monotonic()
                time.sleep(0.3)
                if errs:
                    raise RuntimeError("%s: %d concurrent uploads failed: %s" % (r.name, n, first))
                peaks[(r.kind, size)] = (before, self.sampler.peak(r.kind, t0, t1), n * size / wall / MB)
        for size in (p["mem_small"], p["mem_big"]):
            b, rf = peaks[("berth", size)], peaks[("reference", size)]
            self.res.add("memory", "RSS peak during %d concurrent uploads x %s" % (n, human_bytes(size)), "MB",
                         "lower", b[1] / MB if b[1] else None, rf[1] / MB if rf[1] else None,
                         note="before: Berth %.0f MB, reference %.0f MB; upload rate Berth %.0f MB/s, reference %.0f MB/s"
                         % (b[0] / MB, rf[0] / MB, b[2], rf[2]), md=(size == p["mem_big"]))
        grow = {}
        for k in ("berth", "reference"):
            s, b = peaks[(k, p["mem_small"])][1], peaks[(k, p["mem_big"])][1]
            grow[k] = (b - s) / MB if s and b else None
        self.res.add("memory", "RSS growth from %s to %s blobs (%d concurrent)"
                     % (human_bytes(p["mem_small"]), human_bytes(p["mem_big"]), n), "MB", "lower",
                     grow["berth"], grow["reference"], md=True,
                     note="should stay near 0: memory must not grow with blob size")

    # ------------------------------------------------------------------ ops: probes and scrapes
    def bench_ops(self):
        """The probe each registry offers on its main port (Berth /healthz, the reference /v2/) under
        load, and what a Prometheus scrape of Berth's /metrics costs (the reference exports metrics
        only on a debug listener with instrumentation that would slow its other rows)."""
        log("ops. liveness probe under load; /metrics scrape latency")
        st, _, _ = bf.http_request("127.0.0.1", self.reg("berth").port, "GET", "/healthz")
        if st == 404:
            log("   (skipped: this Berth has no /healthz or /metrics)")
            return
        runs = {r.kind: [] for r in self.regs}
        for _ in range(self.p["wrk_rounds"]):
            for r in self.order():
                runs[r.kind].append(self.load(r, "/healthz" if r.kind == "berth" else "/v2/", "GET", 32,
                                              self.p["wrk_seconds"], {}, tag="h"))
        self._load_rows("ops", "liveness probe (Berth /healthz, reference /v2/), 32 conn", runs, md=True)
        r = self.reg("berth")
        times, size = [], 0
        for i in range(100):
            t0 = time.perf_counter()
            st, _, body = bf.http_request("127.0.0.1", r.port, "GET", "/metrics", headers=dict(r.auth_headers))
            times.append(time.perf_counter() - t0)
            if st != 200:
                raise RuntimeError("GET /metrics -> %d %r" % (st, body[:200]))
            size = len(body)
        series = sum(1 for ln in body.decode().splitlines() if ln and not ln.startswith("#"))
        self.res.add("ops", "/metrics scrape, first (contents counted): latency", "ms", "lower", times[0] * 1000, None,
                     berth_only=True, md=True, note="%d bytes, %d series" % (size, series))
        self.res.add("ops", "/metrics scrape, next 99 (contents cached 10 s): p50 latency", "ms", "lower",
                     pct(times[1:], 50) * 1000, None, berth_only=True, md=True)

    # ------------------------------------------------------------------ 5. listing
    def bench_listing(self):
        p = self.p
        log("5. tags/list with %d tags, catalog with %d repositories (seeding first)" % (p["tags"], p["repos"]))
        seed = {}
        for r in self.order():
            cl = Client(r)
            raw, dig, cdig, ldig = push_small_image(cl, "bench/tags", "base", self.data)
            cl.close()

            def put_tag(cl, i, raw=raw):
                put_manifest(cl, "bench/tags", "t%06d" % i, raw)
            done, dt, errs, first = self.parallel(r, p["tags"], p["seed_threads"], put_tag, p["seed_seconds"])
            if errs:
                raise RuntimeError("%s: tag seeding: %d errors, first %s" % (r.name, errs, first))
            seed.setdefault("tags", {})[r.kind] = (done, dt)
            log("   %s: %d tags in %.1f s (%.0f/s)" % (r.name, done, dt, done / dt))
            if done < p["tags"] and r.kind == "reference":
                # out of time: the rest go straight into distribution's storage layout (two link files
                # per tag), so both registries list the same number of tags
                filled = self.fill_reference_tags(r, "bench/tags", done, p["tags"], dig)
                seed.setdefault("filled", {})[r.kind] = filled
                log("   %s: %d more tags written directly into its storage" % (r.name, filled))

            def make_repo(cl, i, raw=raw, cdig=cdig, ldig=ldig):
                repo = "bench/repos/r%05d" % i
                mount(cl, repo, cdig, "bench/tags")
                mount(cl, repo, ldig, "bench/tags")
                put_manifest(cl, repo, "v1", raw)
            done, dt, errs, first = self.parallel(r, p["repos"], p["seed_threads"], make_repo, p["seed_seconds"])
            if errs:
                raise RuntimeError("%s: repository seeding: %d errors, first %s" % (r.name, errs, first))
            seed.setdefault("repos", {})[r.kind] = (done, dt)
            log("   %s: %d repositories in %.1f s (%.0f/s)" % (r.name, done, dt, done / dt))
        t, rp = seed["tags"], seed["repos"]
        self.res.add("listing", "seeding: manifest PUT under a new tag, %d conn" % p["seed_threads"], "req/s",
                     "higher", t["berth"][0] / t["berth"][1], t["reference"][0] / t["reference"][1],
                     note="tags seeded through the API: Berth %d, reference %d (of %d; bounded at %d s)%s"
                     % (t["berth"][0], t["reference"][0], p["tags"], p["seed_seconds"],
                        "; reference: %d more written directly to its storage" % seed["filled"]["reference"]
                        if seed.get("filled") else ""), md=True)
        self.res.add("listing", "seeding: new repository (2 mounts + manifest PUT), %d conn" % p["seed_threads"],
                     "repos/s", "higher", rp["berth"][0] / rp["berth"][1],
                     rp["reference"][0] / rp["reference"][1],
                     note="repositories seeded: Berth %d, reference %d (of %d)" % (rp["berth"][0], rp["reference"][0],
                                                                                  p["repos"]), md=True)
        ntags = {k: v[0] + 1 + seed.get("filled", {}).get(k, 0) for k, v in t.items()}
        nrepos = {k: v[0] for k, v in rp.items()}

        for what, first, expect, key in (("tags/list", "/v2/bench/tags/tags/list?n=1000", ntags, "tags"),
                                         ("catalog", "/v2/_catalog?n=1000", nrepos, "repositories")):
            walks = {r.kind: [] for r in self.regs}
            for _ in range(p["list_rounds"]):
                for r in self.order():
                    walks[r.kind].append(self.walk(r, first, key, expect[r.kind]))
            lat = {k: [x for w in v for x in w["lat"]] for k, v in walks.items()}
            pages = {k: v[-1]["pages"] for k, v in walks.items()}
            items = {k: v[-1]["items"] for k, v in walks.items()}
            notes = []
            for k in ("berth", "reference"):
                if pages[k] == 1 and items[k] > 1000:
                    notes.append("%s ignores n: one response holds all %d" % ("Berth" if k == "berth" else "reference",
                                                                              items[k]))
            note = "; ".join(notes + ["pages: Berth %d, reference %d; items: Berth %d, reference %d"
                                      % (pages["berth"], pages["reference"], items["berth"], items["reference"])])
            for name, pv in (("p50", 50), ("p99", 99), ("max", 100)):
                self.res.add("listing", "%s n=1000, per-page latency %s" % (what, name), "ms", "lower",
                             pct(lat["berth"], pv) * 1000, pct(lat["reference"], pv) * 1000,
                             note=note if name == "p50" else "", md=(name != "max"),
                             raw={k: [w["lat"] for w in v] for k, v in walks.items()} if name == "p50" else None)
            self.res.add("listing", "%s: walk all pages (%s)" % (what, "%d tags" % ntags["berth"] if key == "tags"
                                                                 else "%d repositories" % nrepos["berth"]),
                         "ms", "lower", median([w["total"] for w in walks["berth"]]) * 1000,
                         median([w["total"] for w in walks["reference"]]) * 1000, md=True)
        # the whole tag list in one request
        runs = {r.kind: [] for r in self.regs}
        for _ in range(p["list_rounds"]):
            for r in self.order():
                cl = Client(r)
                t0 = time.monotonic()
                st, _, data = cl.request("GET", "/v2/bench/tags/tags/list")
                runs[r.kind].append(time.monotonic() - t0)
                cl.close()
                if st != 200:
                    raise RuntimeError("%s: tags/list -> %d" % (r.name, st))
        self.res.add("listing", "tags/list without n (%d tags)" % ntags["berth"], "ms", "lower",
                     median(runs["berth"]) * 1000, median(runs["reference"]) * 1000, raw=runs)

    def fill_reference_tags(self, reg, repo, start, end, digest, seconds=120):
        base = os.path.join(reg.data_dir, "docker", "registry", "v2", "repositories", repo, "_manifests", "tags")
        if not os.path.isdir(base):
            return 0
        algo, hexd = digest.split(":")
        deadline = time.monotonic() + seconds
        n = 0
        for i in range(start, end):
            if time.monotonic() > deadline:
                break
            tag = os.path.join(base, "t%06d" % i)
            for sub in (os.path.join(tag, "current"), os.path.join(tag, "index", algo, hexd)):
                os.makedirs(sub, exist_ok=True)
                with open(os.path.join(sub, "link"), "w") as f:
                    f.write(digest)
            n += 1
        return n

    def walk(self, reg, first, key, expect):
        cl = Client(reg)
        lat, items, pages, path = [], 0, 0, first
        t_start = time.monotonic()
        deadline = t_start + 300
        max_pages = expect // 1000 + 20
        try:
            while path and pages < max_pages and time.monotonic() < deadline:
                t0 = time.monotonic()
                st, h, data = cl.request("GET", path)
                lat.append(time.monotonic() - t0)
                if st != 200:
                    raise RuntimeError("%s: GET %s -> %d %r" % (reg.name, path, st, data[:200]))
                items += len(json.loads(data).get(key) or [])
                pages += 1
                link = h.get("link")
                m = re.match(r"\s*<([^>]+)>", link or "")
                path = bf.strip_origin(m.group(1)) if m else None
        finally:
            cl.close()
        return {"lat": lat, "items": items, "pages": pages, "total": time.monotonic() - t_start}

    # ------------------------------------------------------------------ run
    def run(self):
        p = self.p
        os.makedirs(self.work, exist_ok=True)
        per_registry = (p["big_blob"] + p["small_blobs"] * p["small_blob_size"]
                        + 3 * p["upload_rounds"] * p["upload_size"] + p["conc_uploads"] * p["conc_size"]
                        + p["skopeo_layers"] * p["skopeo_layer"] + p["mem_uploads"] * (p["mem_small"] + p["mem_big"]))
        need_disk = int(2.2 * per_registry + 2 * p["skopeo_layers"] * p["skopeo_layer"] + p["dd_bytes"])
        free = shutil.disk_usage(self.work).free
        log("scratch %s: %.1f GB free, this run needs about %.1f GB" % (self.work, free / 1e9, need_disk / 1e9))
        if free < need_disk:
            raise SystemExit("not enough free space under %s (set BENCH_TMPDIR)" % self.work)
        started = time.time()
        self.collect_info()
        if self.want("limits"):
            self.machine_limits()
        need = max(p["big_blob"], p["upload_size"], p["conc_size"], p["mem_big"],
                   p["skopeo_layers"] * p["skopeo_layer"]) + MiB
        log("generating %s of random data" % human_bytes(need))
        self.data = Data(need)
        self.regs = [Registry("berth", self.work, self.o), Registry("reference", self.work, self.o)]
        self.regs[0].upstream_port = self.regs[1].port
        try:
            for r in self.regs:
                r.start()
                log("%s: pid %d, 127.0.0.1:%d, auth: %s" % (r.name, r.pid, r.port, r.auth_desc))
            self.info["berth_auth"] = self.reg("berth").auth_desc
            self.info["berth_sigpipe_ignored_by_bench"] = bool(self.o.berth_ignore_sigpipe)
            self.info["reference_auth"] = self.reg("reference").auth_desc
            self.sampler = RssSampler(self.regs)
            self.sampler.start()
            time.sleep(2)
            idle0 = {r.kind: RssSampler.status(r.pid).get("VmRSS") for r in self.regs}
            self.res.add("memory", "RSS idle after start", "MB", "lower", idle0["berth"] / MB,
                         idle0["reference"] / MB, md=True)
            steps = [("manifest", self.bench_manifests), ("authz", self.bench_authz), ("ecr", self.bench_ecr),
                     ("blobs", self.bench_blobs),
                     ("upload", self.bench_uploads), ("skopeo", self.bench_skopeo), ("cache", self.bench_cache),
                     ("replication", self.bench_replication),
                     ("backup", self.bench_backup), ("events", self.bench_events), ("gc", self.bench_gc),
                     ("memory", self.bench_memory),
                     ("listing", self.bench_listing), ("ops", self.bench_ops)]
            if self.want("ecr") and not self.want("manifest"):
                steps.insert(0, ("ecr-setup", self.setup_ecr_repo))
            for name, fn in steps:
                if name == "ecr-setup" or self.want(name):
                    t0 = time.monotonic()
                    fn()
                    log("   (%s took %.0f s)" % (name, time.monotonic() - t0))
            time.sleep(3)
            idle1 = {r.kind: RssSampler.status(r.pid).get("VmRSS") for r in self.regs}
            hwm = {r.kind: RssSampler.status(r.pid).get("VmHWM") for r in self.regs}
            self.res.add("memory", "RSS idle at the end (after all workloads)", "MB", "lower",
                         idle1["berth"] / MB, idle1["reference"] / MB, md=True)
            self.res.add("memory", "RSS peak over the whole run (VmHWM)", "MB", "lower", hwm["berth"] / MB,
                         hwm["reference"] / MB, md=True,
                         note="sampled every 100 ms: Berth %.0f MB, reference %.0f MB" % (
                             self.sampler.overall_peak("berth") / MB, self.sampler.overall_peak("reference") / MB))
            self.limits_rows()
            for r in self.regs:
                cnt, lines = r.log_problems()
                self.info["%s_log_problem_lines" % r.kind] = cnt
                self.info["%s_log_problems_sample" % r.kind] = lines
                du = subprocess.run(["du", "-sb", r.data_dir], capture_output=True, text=True).stdout.split()
                self.info["%s_data_bytes" % r.kind] = int(du[0]) if du else None
        finally:
            if self.sampler:
                self.sampler.stop_ev.set()
            for r in self.regs:
                r.stop()
        self.info["elapsed_seconds"] = round(time.time() - started, 1)
        self.report()

    def setup_ecr_repo(self):
        r = self.reg("berth")
        cl = Client(r)
        push_small_image(cl, "bench/manifest", "latest", self.data)
        cl.close()

    def limits_rows(self):
        sha = self.info.get("sha256_openssl_MBps")
        # The disk figures taken around the uploads when there are any, else those from the start.
        disk = self.info.get("disk_MBps_around_uploads") or self.info.get("disk_MBps_at_start") or {}
        where = "around the uploads" if self.info.get("disk_MBps_around_uploads") else "at the start"
        py = self.data.hash_rate / MB if self.data.hash_rate else None
        self.info["sha256_python_MBps"] = py
        if sha is None and not disk:
            return
        self.res.add("limits", "machine: SHA-256 (openssl speed -evp sha256, 64 KiB blocks)", "MB/s", "higher",
                     sha, None, berth_only=True, md=True)
        if py:
            self.res.add("limits", "machine: SHA-256 (Python hashlib, one buffer)", "MB/s", "higher", py, None,
                         berth_only=True)
        api = self.info.get("sha_api") or {}
        for alg in ("sha256", "sha512"):
            evp, low = api.get("%s_evp_MBps" % alg), api.get("%s_low_level_MBps" % alg)
            if evp and low:
                self.res.add("limits", "machine: %s through EVP_DigestUpdate (512 KiB blocks)" % alg.upper().replace(
                    "SHA", "SHA-"), "MB/s", "higher", evp, None, berth_only=True, md=True)
                self.res.add("limits", "machine: %s through %s_Update, the exportable state Berth uses" % (
                    alg.upper().replace("SHA", "SHA-"), alg.upper()), "MB/s", "higher", low, None, berth_only=True,
                             md=True, note="%.3f of EVP" % (low / evp))
        size = human_bytes(self.info.get("dd_bytes", self.p["dd_bytes"]))
        for kind, how in (("buffered", "through the page cache"), ("direct", "O_DIRECT")):
            if disk.get(kind):
                self.res.add("limits", "machine: disk write, dd %s %s + fdatasync (%s)" % (size, how, where),
                             "MB/s", "higher", disk[kind], None, berth_only=True, md=True)
        # What the device accepts is the faster of the two ways of writing to it.
        best_disk = max(disk.values()) if disk else None
        bound = min(x for x in (sha, best_disk) if x)
        self.info["upload_bound_MBps"] = bound
        for label, v in (self.info.get("upload_MBps") or {}).items():
            self.res.add("limits", "upload %s as a fraction of min(SHA-256, disk)" % label, "fraction",
                         "higher", v["berth"] / bound if v.get("berth") else None,
                         v["reference"] / bound if v.get("reference") else None, md=True,
                         note="min(SHA-256, fastest disk write) = %.0f MB/s (reference column: the same "
                              "fraction for it)" % bound)

    # ------------------------------------------------------------------ info and output
    def collect_info(self):
        def sh(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return ""
        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
                cpu = m.group(1).strip() if m else ""
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                m = re.search(r"^MemTotal:\s+(\d+) kB", f.read(), re.M)
                mem = "%.1f GiB" % (int(m.group(1)) / 1024 / 1024) if m else ""
        except OSError:
            pass
        build_type = ""
        cache = os.path.join(os.path.dirname(os.path.abspath(self.o.berth_bin)), "CMakeCache.txt")
        try:
            with open(cache) as f:
                m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
                build_type = m.group(1) if m else ""
        except OSError:
            pass
        commit = sh(["git", "rev-parse", "--short=12", "HEAD"])
        dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"])
        self.info.update({
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": self.p["mode"], "nproc": os.cpu_count(), "cpu_model": cpu, "memory": mem,
            "kernel": platform.release(), "os": sh(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
            "commit": commit + ("-dirty" if dirty else ""),
            "berth_version": sh([self.o.berth_bin, "--version"]), "berth_build_type": build_type,
            "reference_version": sh([self.o.ref_bin, "--version"]),
            "wrk": sh(["sh", "-c", "wrk --version 2>&1 | head -1"]),
            "skopeo": sh(["skopeo", "--version"]), "python": platform.python_version(),
            "workdir": self.work, "params": self.p, "only": self.o.only, "overrides": self.o.set,
        })

    def report(self):
        order = {s: n for n, s in enumerate(REPORT_ORDER)}
        self.res.rows.sort(key=lambda r: order.get(r["section"], 99))   # stable: keeps run order within
        rows = self.res.rows
        i = self.info
        lines = []
        lines.append("")
        lines.append("Berth vs reference registry — %s mode, %s" % (i["mode"], i["date_utc"]))
        lines.append("machine: %s × %s, %s RAM, kernel %s, %s" % (i["nproc"], i["cpu_model"], i["memory"],
                                                                 i["kernel"], i["os"]))
        lines.append("Berth: %s (%s build, commit %s); auth: %s" % (i["berth_version"], i["berth_build_type"] or "?",
                                                                 i["commit"], i.get("berth_auth", "")))
        if i.get("berth_sigpipe_ignored_by_bench"):
            lines.append("NOTE: Berth was started with SIGPIPE ignored (--berth-ignore-sigpipe)")
        lines.append("reference: %s; auth: %s" % (i["reference_version"], i.get("reference_auth", "")))
        lines.append("ratio = Berth / reference; 'better' says which direction is good. Client tools share the "
                     "same %s cores." % i["nproc"])
        w = max(len(r["metric"]) + len(r["unit"]) + 3 for r in rows) if rows else 40
        header = "%-*s %12s %12s %9s  %s" % (w, "metric", "Berth", "reference", "ratio", "better")
        section = None
        lines.append("")
        lines.append(header)
        lines.append("-" * len(header))
        for r in rows:
            if r["section"] != section:
                section = r["section"]
                lines.append("[%s]" % section)
            ratio = ("x%.2f" % r["ratio"]) if r["ratio"] else "—"
            lines.append("%-*s %12s %12s %9s  %s" % (w, "%s (%s)" % (r["metric"], r["unit"]), fmt(r["berth"]),
                                                     "n/a" if r["reference"] is None and r["section"] in ("ecr", "limits")
                                                     else fmt(r["reference"]), ratio, r["better"] or ""))
            if r["note"]:
                lines.append("%-*s   ↳ %s" % (w, "", r["note"]))
        for k in ("berth", "reference"):
            n = i.get("%s_log_problem_lines" % k)
            if n:
                lines.append("")
                lines.append("%s log: %d lines at warn level or above, e.g.:" % (k, n))
                lines.extend("    " + ln[:200] for ln in i.get("%s_log_problems_sample" % k, [])[:5])
        lines.append("")
        lines.append("elapsed: %.0f s" % i["elapsed_seconds"])
        text = "\n".join(lines)
        print(text)

        # JSON
        os.makedirs(self.o.results_dir, exist_ok=True)
        partial = bool(self.o.only or self.o.set)
        stamp = time.strftime("%Y%m%dT%H%M%S") + ("-quick" if self.o.quick else "") + ("-partial" if partial else "")
        path = os.path.join(self.o.results_dir, "%s.json" % stamp)
        with open(path, "w") as f:
            json.dump({"info": i, "rows": rows}, f, indent=1, default=str)
        if self.o.json_out:
            with open(self.o.json_out, "w") as f:
                json.dump({"info": i, "rows": rows}, f, indent=1, default=str)
        print("JSON: %s" % os.path.relpath(path, ROOT))
        if partial:
            print("partial run (--only/--set): docs/performance.md left alone")
        elif not self.o.no_docs:
            self.append_markdown(path)

    def append_markdown(self, json_path):
        doc = os.path.join(ROOT, "docs", "performance.md")
        i = self.info
        out = []
        if not os.path.exists(doc):
            out.append(MD_HEADER)
        out.append("")
        out.append("### %s — commit %s%s" % (i["date_utc"], i["commit"], " (quick mode: scaled down)"
                                             if i["mode"] == "quick" else ""))
        out.append("")
        out.append("Machine: %s × %s, %s RAM, kernel %s. Berth %s build, auth: %s. Reference: %s, auth: %s. "
                   "Full results: `%s`." % (i["nproc"], i["cpu_model"], i["memory"], i["kernel"],
                                            i["berth_build_type"] or "?", i.get("berth_auth", ""),
                                            i["reference_version"], i.get("reference_auth", ""),
                                            os.path.relpath(json_path, ROOT))
                   + (" Berth was started with SIGPIPE ignored (`--berth-ignore-sigpipe`)."
                      if i.get("berth_sigpipe_ignored_by_bench") else ""))
        out.append("")
        out.append("| metric | Berth | reference | Berth/ref |")
        out.append("|---|---:|---:|---:|")
        for r in self.res.rows:
            if not r["md"]:
                continue
            ref = "n/a" if r["reference"] is None and r["section"] in ("ecr", "limits") else fmt(r["reference"])
            out.append("| %s (%s%s) | %s | %s | %s |" % (r["metric"], r["unit"],
                                                         {"higher": ", ↑", "lower": ", ↓"}.get(r["better"], ""),
                                                         fmt(r["berth"]), ref,
                                                         ("%.2f" % r["ratio"]) if r["ratio"] else "—"))
        with open(doc, "a") as f:
            f.write("\n".join(out) + "\n")
        print("appended to %s" % os.path.relpath(doc, ROOT))


MD_HEADER = """# Performance

`bench/run.sh` measures Berth side by side with the reference registry (CNCF distribution 2.8,
Debian's `docker-registry`) on one machine over loopback, and appends a summary here after each run
(the full figures, including every round, go to `bench/results/<timestamp>.json`). There are no
timing assertions: these are measurements to track over time.

Method, briefly:

- Both servers run at once on 127.0.0.1 with their data in the same filesystem; Berth with
  `--log-level warn` and its default SigV4 auth (each V2 request carries `Basic base64(AWS:<login
  token>)`), the reference with filesystem storage, the in-memory blob descriptor cache, deletes
  enabled, access log off, and no authentication unless `--ref-auth htpasswd` (bcrypt) is given.
  Each run says which.
- Every workload runs against both, alternating which goes first. Request rates and latencies come
  from `wrk` (GET/POST, `bench/wrk/request.lua`) or `bench/tools/headload.c` for HEAD (wrk 4.1 cannot
  read HEAD responses); uploads, concurrency, listing walks and RSS sampling (VmRSS every 100 ms)
  are Python standard library clients; image push/pull is `skopeo copy` to/from an OCI layout.
  "server CPU" rows are the server process's user+system CPU time (from /proc) over the workload.
- The same run measures the machine's own limits (`openssl speed -evp sha256`, `dd … conv=fdatasync`
  into the data directory's filesystem) and reports upload rates as a fraction of the lower one.
- MB = 10^6 bytes. ↑: higher is better, ↓: lower is better. The load generators run on the same
  cores as the servers, so absolute rates are lower bounds; the ratios are the point. Quick-mode
  runs (`--quick`) use sizes scaled down 10-100× and are not comparable with full runs.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="scale everything down 10-100x (a few minutes)")
    ap.add_argument("--only", default="", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--workdir", required=True, help="scratch directory (data dirs, layouts)")
    ap.add_argument("--berth-bin", default=os.path.join(ROOT, "build", "berth"))
    ap.add_argument("--ref-bin", default="/usr/bin/docker-registry")
    ap.add_argument("--headload", required=True, help="compiled bench/tools/headload.c")
    ap.add_argument("--loopback-ceiling", help="compiled bench/tools/loopback_ceiling.c")
    ap.add_argument("--sha-api-tool", help="compiled bench/tools/sha_api_speed.c")
    ap.add_argument("--ref-auth", choices=["none", "htpasswd"], default="none")
    ap.add_argument("--berth-auth", choices=["sigv4", "none"], default="sigv4")
    ap.add_argument("--berth-ignore-sigpipe", action="store_true",
                    help="start Berth with SIGPIPE ignored (workaround; stated in the output)")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--no-docs", action="store_true", help="do not append to docs/performance.md")
    ap.add_argument("--json-out", help="also write the results JSON here (bench/compare.py reads it)")
    ap.add_argument("--pidfile", default=os.environ.get("BENCH_PIDFILE"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one workload parameter (see params()), e.g. --set wrk_seconds=5")
    o = ap.parse_args()
    o.only = [s for s in o.only.split(",") if s]
    bad = [s for s in o.only if s not in SECTIONS]
    if bad:
        ap.error("unknown sections: %s" % ",".join(bad))

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    Bench(o).run()


if __name__ == "__main__":
    main()
