"""Reusable fixture for Berth integration tests (stdlib only).

Environment:
  BERTH_BIN        path of the berth binary (default /work/main/build/berth)
  BERTH_KEEP_LOGS  if set, server logs / data dirs are not deleted
  BERTH_REFERENCE  if set to "distribution", run /usr/bin/docker-registry
                   (CNCF distribution) instead of berth -- only useful to
                   sanity-check the tests themselves against a reference.

Typical use:

    srv = BerthServer("mytest")
    base = srv.start()                 # -> "http://127.0.0.1:PORT"
    st, hdrs, body = srv.req("GET", "/v2/")
    srv.restart()                      # SIGTERM + start on same data dir/port
    srv.kill9(); srv.start()           # crash + restart
    srv.stop(); srv.cleanup()
"""

import atexit
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

DEFAULT_BIN = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "berth"))
HTTP_TIMEOUT = 60.0          # seconds, every HTTP call
READY_TIMEOUT = 10.0         # seconds to wait for GET /v2/ == 200
STOP_TIMEOUT = 15.0          # seconds to wait after SIGTERM

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def berth_bin():
    return os.environ.get("BERTH_BIN") or DEFAULT_BIN


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


class Headers:
    """Case-insensitive, multi-valued response headers."""

    def __init__(self, pairs):
        self._items = list(pairs)
        self._map = {}
        for k, v in self._items:
            self._map.setdefault(k.lower(), []).append(v)

    def __getitem__(self, key):
        return self._map[key.lower()][0]

    def __contains__(self, key):
        return key.lower() in self._map

    def get(self, key, default=None):
        v = self._map.get(key.lower())
        return v[0] if v else default

    def get_all(self, key):
        return list(self._map.get(key.lower(), []))

    def items(self):
        return list(self._items)

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


class Response:
    """Result of req(); unpacks as (status, headers, body)."""

    def __init__(self, status, headers, body, method, path):
        self.status = status
        self.headers = headers
        self.body = body
        self.method = method
        self.path = path

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_codes(self):
        try:
            doc = self.json()
            return [e.get("code") for e in doc.get("errors", [])]
        except Exception:
            return []

    def describe(self):
        body = self.body[:600]
        return "%s %s -> %d\n  headers=%r\n  body=%r" % (
            self.method, self.path[:200], self.status, self.headers.items(), body)

    def __repr__(self):
        return self.describe()


def http_request(host, port, method, path, body=None, headers=None,
                 timeout=HTTP_TIMEOUT, chunked=False):
    """One request on a fresh connection.  No redirects followed.

    body may be bytes, or an iterable of bytes (then chunked transfer
    encoding is used, unless a Content-Length header is supplied)."""
    headers = dict(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, (bytes, bytearray)):
            # iterable -> chunked transfer encoding
            conn.request(method, path, body=body, headers=headers,
                         encode_chunked=True)
        else:
            if body is None and method in ("POST", "PUT", "PATCH") \
                    and "Content-Length" not in headers:
                headers["Content-Length"] = "0"
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        try:
            data = resp.read()
        except http.client.IncompleteRead as e:
            raise AssertionError(
                "%s %s -> %d: body shorter than announced (got %d bytes, %s more "
                "expected); headers=%r" % (method, path[:200], resp.status,
                                           len(e.partial), e.expected, resp.getheaders()))
        return resp.status, Headers(resp.getheaders()), data
    finally:
        conn.close()


def raw_request(host, port, method, path, body, headers=None, timeout=HTTP_TIMEOUT):
    """Send a request on a raw socket, tolerating the server answering (and
    closing) before the whole body was sent -- e.g. an early 413.  Returns
    (status, Headers, body, sent_all)."""
    headers = dict(headers or {})
    headers.setdefault("Host", "%s:%d" % (host, port))
    headers["Content-Length"] = str(len(body))
    headers.setdefault("Connection", "close")
    head = "%s %s HTTP/1.1\r\n%s\r\n" % (
        method, path, "".join("%s: %s\r\n" % kv for kv in headers.items()))
    sock = socket.create_connection((host, port), timeout=timeout)
    sent_all = True
    try:
        try:
            sock.sendall(head.encode("latin-1"))
            view = memoryview(body)
            for i in range(0, len(body), 65536):
                sock.sendall(view[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        return resp.status, Headers(resp.getheaders()), data, sent_all
    finally:
        sock.close()


_LIVE = set()


@atexit.register
def _kill_leftovers():
    # safety net: never leave a server behind (e.g. when setUpModule failed)
    for srv in list(_LIVE):
        try:
            srv.kill9()
        except Exception:
            pass


class BerthServer:
    def __init__(self, name="berth", extra_args=None):
        self.name = name
        self.extra_args = list(extra_args or [])
        self.workdir = tempfile.mkdtemp(prefix="berth-it-%s-" % name)
        self.data_dir = None
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.workdir, "server.log")
        self._log_fh = None
        self.starts = 0

    # ---------------------------------------------------------------- control
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _command(self):
        if os.environ.get("BERTH_REFERENCE") == "distribution":
            cfg = os.path.join(self.workdir, "registry.yml")
            with open(cfg, "w") as f:
                f.write(
                    "version: 0.1\n"
                    "log:\n  level: info\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s\n"
                    "  delete:\n    enabled: true\n"
                    "http:\n  addr: 127.0.0.1:%d\n"
                    % (self.data_dir, self.port))
            return ["/usr/bin/docker-registry", "serve", cfg]
        return [berth_bin(), "serve", "--listen", self.hostport,
                "--data-dir", self.data_dir] + self.extra_args

    def start(self, data_dir=None, port=None):
        """Start the server; returns the base URL.  Reuses the previous data
        dir / port when not given."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        if data_dir is not None:
            self.data_dir = data_dir
        if self.data_dir is None:
            self.data_dir = os.path.join(self.workdir, "data")
            os.makedirs(self.data_dir, exist_ok=True)
        if port is not None:
            self.port = port
        if self.port is None:
            self.port = free_port()
        binary = self._command()[0]
        if not os.path.exists(binary):
            raise unittest.SkipTest("berth binary not found: %s (set BERTH_BIN)" % binary)
        self._log_fh = open(self.log_path, "ab")
        self.starts += 1
        self._log_fh.write(("\n===== start #%d: %s =====\n" % (
            self.starts, " ".join(self._command()))).encode())
        self._log_fh.flush()
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_fh, stderr=self._log_fh)
        _LIVE.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.dump_log()
                raise RuntimeError("berth exited early with code %s" % self.proc.returncode)
            try:
                st, _, _ = http_request("127.0.0.1", self.port, "GET", "/v2/", timeout=2)
                if st == 200:
                    return self.base
                last = "status %d" % st
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.dump_log()
        self.kill9()
        raise RuntimeError("berth not ready after %.0fs (last: %s)" % (READY_TIMEOUT, last))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. Returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write("berth did not stop within %ss after SIGTERM; killing\n" % timeout)
                self.proc.kill()
                self.proc.wait(timeout=10)
                rc = None
        else:
            rc = self.proc.returncode
        self.proc = None
        _LIVE.discard(self)
        self._close_log()
        return rc

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        _LIVE.discard(self)
        self._close_log()

    def restart(self, same_port=True):
        self.stop()
        if not same_port:
            self.port = None
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def cleanup(self):
        if self.running():
            self.stop()
        if not os.environ.get("BERTH_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------- logs
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump_log(self, tail=80):
        lines = self.log_text().splitlines()
        sys.stderr.write("\n----- berth log (%s, last %d of %d lines) -----\n" % (
            self.name, min(tail, len(lines)), len(lines)))
        for ln in lines[-tail:]:
            sys.stderr.write(ln + "\n")
        sys.stderr.write("----- end berth log -----\n")

    # ------------------------------------------------------------------- http
    def req(self, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
        """Returns Response (unpacks as (status, headers, body)).
        body: bytes, or an iterable of bytes for chunked transfer encoding."""
        st, h, data = http_request("127.0.0.1", self.port, method, path, body,
                                   headers, timeout)
        return Response(st, h, data, method, path)

    def req_raw(self, method, path, body, headers=None, timeout=HTTP_TIMEOUT):
        st, h, data, sent_all = raw_request("127.0.0.1", self.port, method, path, body,
                                            headers, timeout)
        r = Response(st, h, data, method, path)
        r.sent_all = sent_all
        return r

    # ------------------------------------------------------- registry helpers
    def push_blob(self, repo, data, digest=None):
        """Monolithic POST+PUT upload. Returns digest; asserts success."""
        digest = digest or sha256(data)
        r = self.req("POST", "/v2/%s/blobs/uploads/" % repo)
        if r.status != 202:
            raise AssertionError("upload start failed: " + r.describe())
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        loc = strip_origin(loc)
        r = self.req("PUT", "%s%sdigest=%s" % (loc, sep, digest), body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
        if r.status != 201:
            raise AssertionError("blob PUT failed: " + r.describe())
        return digest

    def push_manifest(self, repo, ref, raw, media_type):
        r = self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw,
                     headers={"Content-Type": media_type})
        if r.status != 201:
            raise AssertionError("manifest PUT failed: " + r.describe())
        return r

    def push_image(self, repo, tag, layers=None, config=None, annotations=None,
                   extra=None):
        """Push config+layers and an OCI manifest. Returns (digest, raw, desc)."""
        if layers is None:
            layers = [os.urandom(1000)]
        if config is None:
            config = json.dumps({"architecture": "amd64", "os": "linux",
                                 "rootfs": {"type": "layers", "diff_ids": []},
                                 "n": os.urandom(8).hex()}).encode()
        cdesc = {"mediaType": OCI_CONFIG, "digest": self.push_blob(repo, config),
                 "size": len(config)}
        ldescs = [{"mediaType": OCI_LAYER, "digest": self.push_blob(repo, l),
                   "size": len(l)} for l in layers]
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
             "layers": ldescs}
        if annotations:
            m["annotations"] = annotations
        if extra:
            m.update(extra)
        raw = json.dumps(m, indent=2).encode()
        self.push_manifest(repo, tag, raw, OCI_MANIFEST)
        return sha256(raw), raw, {"mediaType": OCI_MANIFEST, "digest": sha256(raw),
                                  "size": len(raw)}


def strip_origin(location):
    """Turn an absolute URL into a path (only the reference registry emits
    absolute Locations; Berth must emit path-absolute ones)."""
    if location.startswith("http://") or location.startswith("https://"):
        rest = location.split("://", 1)[1]
        i = rest.find("/")
        return rest[i:] if i >= 0 else "/"
    return location


class BerthTestCase(unittest.TestCase):
    """Base class: one server per TestCase class; prints the server log tail
    when a test fails or errors."""

    server_name = None
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = BerthServer(cls.server_name or cls.__name__)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            rc = cls.server.stop()
            cls.server.cleanup()
            cls.server = None

    def setUp(self):
        # a server that died in an earlier test must not fail every later one
        if self.server is not None and not self.server.running():
            sys.stderr.write("\n!!! berth (%s) was not running before %s; restarting\n"
                             % (self.server.name, self.id()))
            self.server.dump_log(tail=40)
            self.server.start()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        after = len(result.failures) + len(result.errors)
        if after > before and self.server is not None:
            self.server.dump_log(tail=40)
        return out

    # convenience
    def req(self, *a, **kw):
        return self.server.req(*a, **kw)

    def assertStatus(self, r, *statuses):
        if r.status not in statuses:
            self.fail("expected status %s, got:\n%s" % (
                "/".join(map(str, statuses)), r.describe()))

    def assertError(self, r, statuses, codes):
        """Assert status in statuses and the JSON body carries one of codes."""
        if isinstance(statuses, int):
            statuses = (statuses,)
        if isinstance(codes, str):
            codes = (codes,)
        self.assertStatus(r, *statuses)
        got = r.error_codes()
        if not any(c in codes for c in got):
            self.fail("expected error code in %s, got %s:\n%s" % (
                list(codes), got, r.describe()))
