"""Reusable fixture for Berth integration tests (stdlib only).

Environment:
  BERTH_BIN        path of the berth binary (default /work/main/build/berth)
  BERTH_KEEP_LOGS  if set, server logs / data dirs are not deleted
  BERTH_TEST_METADATA  "postgres": metadata in a PostgreSQL the tests start (postgres_engine.py),
                   one database per data directory; default: SQLite in the data directory
  BERTH_TEST_STORAGE   "s3": blobs and uploads in a Ceph RGW the tests start (rgw_engine.py), one
                   bucket per data directory; default: files in the data directory
  BERTH_TEST_FLEET     N >= 2: every BerthServer is N servers on the same backends behind haproxy
                   (fleet.py); with BERTH_TEST_METADATA=postgres and BERTH_TEST_STORAGE=s3
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

Authentication (ECR-style; see docs/configuration.md):

    srv = BerthServer("x", auth="sigv4")   # root key from the env (ROOT_ACCESS_KEY_ID/...)
    srv = BerthServer("x", auth="none")    # --auth none
    srv = BerthServer("x", auth="sigv4", users=[{"name": "alice", ...}],
                      registry={"account_id": "123456789012"}, v2_auth=True)
    srv.ecr("CreateRepository", {"repositoryName": "a"})   # signed call, asserts 200
    st, hdrs, doc = srv.ecr_call("DescribeRepositories", {}, secret="wrong")
    srv.login_token()          # GetAuthorizationToken -> the password docker uses
    srv.basic_auth_header()    # {"Authorization": "Basic base64(AWS:token)"}
    srv.enable_create_on_push()  # ROOT repository creation template, CREATE_ON_PUSH
    srv.req("GET", "/v2/", auth=True)   # adds the Basic header (v2_auth=True: always)

auth=None (the default) passes nothing auth-related: the server's own default
applies; the helpers then read DIR/root-credentials.json.

TLS: start the server with --tls-cert/--tls-key (extra_args) and give the CA:

    srv = BerthServer("x", tls_ca="/d/ca.crt",
                      extra_args=["--tls-cert", "/d/server.crt", "--tls-key", "/d/server.key"])
    srv.base                   # -> "https://127.0.0.1:PORT"
    srv.req(...), srv.ecr(...) # over TLS, verifying against srv.tls_ca (may be changed later)
"""

import atexit
import base64
import hashlib
import hmac
import http.client
import io
import json
import os
import shutil
import signal
import socket
import tarfile
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import fleet
import postgres_engine
import rgw_engine

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


# ECR (SigV4) defaults used by the tests
ROOT_ACCESS_KEY_ID = "AKIDBERTHTESTROOT0001"
ROOT_SECRET_ACCESS_KEY = "BerthTestRootSecret/abcdefghij0123456789"   # 40 characters
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ECR_CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"


def metadata_env(data_dir, env=None):
    """The environment a berth process on `data_dir` needs for its backends: metadata
    (BERTH_TEST_METADATA) and blob storage (BERTH_TEST_STORAGE)."""
    env = dict(os.environ if env is None else env)
    if postgres_engine.enabled():
        pg = postgres_engine.shared()
        env["BERTH_METADATA_DRIVER"] = "postgres"
        env["BERTH_METADATA_DSN"] = pg.dsn(pg.database_for(os.path.abspath(data_dir)))
    if rgw_engine.enabled():
        rgw_engine.shared().env_for(data_dir, env)
    return env


class StoredBlobs:
    """The committed blobs of a data directory's blob store, as the tests look at them from outside
    Berth: files under DATA/blobs/ (filesystem) or objects under blobs/ in its bucket (s3)."""

    def __init__(self, data_dir):
        self.data_dir = os.path.abspath(data_dir)
        self.s3 = rgw_engine.s3_client() if rgw_engine.enabled() else None
        self.bucket = rgw_engine.shared().bucket_for(self.data_dir) if self.s3 else None

    def _keys(self, prefix):
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def digests(self):
        if self.s3:
            return {"sha256:" + k.rsplit("/", 1)[1] for k in self._keys("blobs/sha256/")}
        root = os.path.join(self.data_dir, "blobs", "sha256")
        return {"sha256:" + f for _, _, files in os.walk(root) for f in files}

    def where(self, digest):
        hexd = digest.split(":", 1)[1]
        if self.s3:
            return "blobs/sha256/%s/%s" % (hexd[:2], hexd)
        return os.path.join(self.data_dir, "blobs", "sha256", hexd[:2], hexd)

    def exists(self, digest):
        return digest in self.digests()

    def read(self, digest):
        return self.read_at(self.where(digest))

    def read_at(self, where):
        """Bytes at a path or key (as `where` or fsck's "quarantined:" line names them)."""
        if self.s3:
            key = where.split("/", 3)[3] if where.startswith("s3://") else where
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        path = where if os.path.isabs(where) else os.path.join(self.data_dir, where)
        with open(path, "rb") as f:
            return f.read()

    def overwrite(self, digest, data):
        """Replaces a blob's bytes behind Berth's back (corruption)."""
        if self.s3:
            self.s3.put_object(Bucket=self.bucket, Key=self.where(digest), Body=data)
            return
        with open(self.where(digest), "r+b") as f:
            f.write(data)
            f.truncate(len(data))

    def quarantine_root(self):
        return "s3://%s/quarantine/" % self.bucket if self.s3 else os.path.join(self.data_dir, "quarantine")

    def trash(self):
        if self.s3:
            return self._keys("trash/")
        return os.listdir(os.path.join(self.data_dir, "trash"))


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


def tls_client_context(cafile):
    """An ssl.SSLContext that verifies the server against `cafile` (and its name)."""
    return ssl.create_default_context(cafile=cafile)


def http_request(host, port, method, path, body=None, headers=None,
                 timeout=HTTP_TIMEOUT, chunked=False, ssl_context=None):
    """One request on a fresh connection.  No redirects followed.

    body may be bytes, or an iterable of bytes (then chunked transfer
    encoding is used, unless a Content-Length header is supplied).
    ssl_context: speak HTTPS with it (None: plain HTTP)."""
    headers = dict(headers or {})
    if ssl_context is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl_context)
    else:
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


def raw_request(host, port, method, path, body, headers=None, timeout=HTTP_TIMEOUT,
                ssl_context=None):
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
    if ssl_context is not None:
        sock = ssl_context.wrap_socket(sock, server_hostname=host)
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


# ------------------------------------------------------------------ SigV4
def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def amz_date(now=None):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def sigv4_sign(method, path, headers, body, access_key, secret, region,
               service="ecr", now=None, signed_headers=None, query=""):
    """Adds X-Amz-Date (unless present) and Authorization to `headers` (a dict,
    modified in place; must already hold Host).  signed_headers: the header
    names to sign (lower case); default every header in `headers`."""
    if not any(k.lower() == "x-amz-date" for k in headers):
        headers["X-Amz-Date"] = amz_date(now)
    date = [v for k, v in headers.items() if k.lower() == "x-amz-date"][0]
    lower = {}
    for k, v in headers.items():
        lower.setdefault(k.lower(), []).append(" ".join(str(v).strip().split()))
    names = sorted(n for n in lower if signed_headers is None or n in signed_headers)
    canonical_headers = "".join("%s:%s\n" % (n, ",".join(lower[n])) for n in names)
    canonical = "\n".join([method, path, query, canonical_headers, ";".join(names),
                           hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (date[:8], region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    k = _hmac(("AWS4" + secret).encode("utf-8"), date[:8])
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    sig = hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(names), sig)
    return headers


def ecr_call(op, payload, access_key, secret, region=DEFAULT_REGION, *, port,
             host="127.0.0.1", now=None, body=None, target=None, headers=None,
             sign=True, signed_headers=None, service="ecr", timeout=HTTP_TIMEOUT,
             content_type=ECR_CONTENT_TYPE, ssl_context=None):
    """One raw ECR JSON call, signed like botocore does (content-type;host;
    x-amz-date;x-amz-target) unless told otherwise.

    op:      operation name (X-Amz-Target = prefix + op), or target= verbatim
    payload: dict serialized as JSON (or body= raw bytes, sent as is)
    now:     epoch seconds to sign with (clock-skew tests)
    headers: extra headers; they are signed too when signed_headers is None
             and they are not in the botocore set... see signed_headers
    signed_headers: iterable of lower-case names to sign; default botocore's
             set plus every name in `headers`
    sign:    False -> no Authorization header at all
    Returns (status, Headers, doc): doc is the parsed JSON body, or
    {"_raw": text} when the body is not JSON."""
    if body is None:
        body = json.dumps({} if payload is None else payload).encode("utf-8")
    h = {"Host": "%s:%d" % (host, port)}
    if content_type is not None:
        h["Content-Type"] = content_type
    h["X-Amz-Target"] = target if target is not None else ECR_TARGET_PREFIX + op
    extra = dict(headers or {})
    h.update(extra)
    if sign:
        if signed_headers is None:
            signed_headers = {"content-type", "host", "x-amz-date", "x-amz-target"} | \
                {k.lower() for k in extra}
        sigv4_sign("POST", "/", h, body, access_key, secret, region, service=service,
                   now=now, signed_headers=set(signed_headers))
    st, hdrs, data = http_request(host, port, "POST", "/", body=body, headers=h, timeout=timeout,
                                  ssl_context=ssl_context)
    try:
        doc = json.loads(data.decode("utf-8")) if data else {}
    except ValueError:
        doc = {"_raw": data.decode("utf-8", "replace")}
    return st, hdrs, doc


REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def ecr_coverage(path=None):
    """{operation: status} from the ECR table of docs/api-coverage.md, whose rows
    read `| Operation | done | notes |` or `| Operation | not yet | ... |`.  The
    tests assert what the documentation promises: "not yet" operations answer
    UnsupportedOperationException naming themselves, the others never do."""
    import re
    path = path or os.path.join(REPO_ROOT, "docs", "api-coverage.md")
    rows, in_ecr = {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_ecr = "ECR" in line
            m = re.match(r"^\|\s*`?([A-Z][A-Za-z]+)`?\s*\|\s*([^|]+?)\s*\|", line)
            if in_ecr and m and m.group(2) not in ("Status", "---"):
                rows[m.group(1)] = m.group(2).lower()
    return rows


def ecr_not_implemented(path=None):
    return sorted(op for op, st in ecr_coverage(path).items() if st.startswith("not yet"))


# Operations whose input is {} or just a repository name: the ones client tests
# pick from to check UnsupportedOperationException (first ones still "not yet").
SIMPLE_UNSUPPORTED_CANDIDATES = [
    "GetRegistryPolicy", "GetRegistryScanningConfiguration", "DescribePullThroughCacheRules",
    "GetRepositoryPolicy", "DeleteRegistryPolicy", "GetSigningConfiguration",
    "ListPullTimeUpdateExclusions", "GetLifecyclePolicy", "DeleteRepositoryPolicy",
    "GetLifecyclePolicyPreview", "DeleteLifecyclePolicy", "StartLifecyclePolicyPreview",
]
REPOSITORY_NAME_OPS = {"GetRepositoryPolicy", "GetLifecyclePolicy", "DeleteRepositoryPolicy",
                       "GetLifecyclePolicyPreview", "DeleteLifecyclePolicy", "StartLifecyclePolicyPreview"}


def pick_unsupported(available=None, n=2):
    """Up to n operation names from SIMPLE_UNSUPPORTED_CANDIDATES that the docs
    list as "not yet" (and `available` contains, when given)."""
    todo = set(ecr_not_implemented())
    return [op for op in SIMPLE_UNSUPPORTED_CANDIDATES
            if op in todo and (available is None or op in available)][:n]


def libfaketime():
    """Path of libfaketime (Debian package faketime) for LD_PRELOAD, or None.
    Use it rather than the faketime wrapper, which forks (stop() would signal
    only the wrapper).  Env: LD_PRELOAD=<path> FAKETIME=-13h DONT_FAKE_MONOTONIC=1"""
    import glob
    for pat in ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1",
                "/usr/lib/*/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketimeMT.so.1"):
        hits = sorted(glob.glob(pat))
        if hits:
            return hits[0]
    return None


def oci_image_manifest(config_desc, layer_descs, **extra):
    """Bytes of an OCI image manifest (indented: exact bytes matter)."""
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
         "layers": list(layer_descs)}
    m.update(extra)
    return json.dumps(m, indent=2).encode()


def basic_auth_value(token):
    return "Basic " + base64.b64encode(("AWS:" + token).encode()).decode()


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
    """auth:     None -> pass nothing auth-related (the server default);
                 "sigv4" -> root key from BERTH_ROOT_ACCESS_KEY_ID/SECRET env
                 (ROOT_ACCESS_KEY_ID / ROOT_SECRET_ACCESS_KEY unless root= given);
                 "none" -> --auth none.
    users:       [{"name", "access_key_id", "secret_access_key"}] -> config file
    registry:    {"account_id", "region", "public_host"} -> config file
    config:      further top-level config keys (merged into the file)
    env:         extra environment for the server (a None value removes a variable)
    wrapper:     command prefix; it must exec the server, not fork it (stop()
                 signals the wrapper): for faketime use env LD_PRELOAD=libfaketime
    v2_auth:     req() adds the Basic login-token header by default
    tls_ca:      CA file: the server speaks TLS (pass --tls-cert/--tls-key in
                 extra_args); probes and helpers use HTTPS verified with it
    (users/registry/wrapper/env may be changed between restarts.)"""

    def __init__(self, name="berth", extra_args=None, auth=None, users=None,
                 registry=None, config=None, env=None, wrapper=None, v2_auth=False,
                 root=None, tls_ca=None):
        self.name = name
        self.extra_args = list(extra_args or [])
        self.auth = auth
        self.users = list(users or [])
        self.registry = dict(registry or {})
        self.config = dict(config or {})
        self.env = dict(env or {})
        self.wrapper = list(wrapper or [])
        self.v2_auth = v2_auth
        self.tls_ca = tls_ca
        self.root = root or (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
        self._tokens = {}
        self.workdir = tempfile.mkdtemp(prefix="berth-it-%s-" % name)
        self.data_dir = None
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.workdir, "server.log")
        self._log_fh = None
        self.starts = 0
        self.members = []      # BERTH_TEST_FLEET: the servers behind the balancer
        self.balancer = None
        self.fleet_env = None  # a member: the fleet's backend environment

    # ---------------------------------------------------------------- control
    @property
    def scheme(self):
        return "https" if self.tls_ca else "http"

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def ssl_context(self):
        """None for plain HTTP, else a context verifying against self.tls_ca."""
        return tls_client_context(self.tls_ca) if self.tls_ca else None

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
        cmd = self.wrapper + [berth_bin(), "serve", "--listen", self.hostport,
                              "--data-dir", self.data_dir]
        if self.auth == "none":
            cmd += ["--auth", "none"]
        if self._config_doc():
            cmd += ["--config", self.config_path]
        return cmd + self.extra_args

    @property
    def config_path(self):
        return os.path.join(self.workdir, "berth-config.json")

    def _config_doc(self):
        doc = dict(self.config)
        if self.users:
            doc.setdefault("auth", {})
            doc["auth"] = dict(doc["auth"], users=self.users)
        if self.registry:
            doc["registry"] = dict(doc.get("registry", {}), **self.registry)
        return doc

    def _server_env(self):
        # A fleet member uses the fleet's backends, not its own data directory's.
        env = dict(os.environ, **self.fleet_env) if self.fleet_env else metadata_env(self.data_dir)
        if self.auth == "sigv4":
            env["BERTH_ROOT_ACCESS_KEY_ID"] = self.root[0]
            env["BERTH_ROOT_SECRET_ACCESS_KEY"] = self.root[1]
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)      # None: remove from the inherited environment
            else:
                env[k] = v
        return env

    @property
    def region(self):
        return self.registry.get("region") or DEFAULT_REGION

    @property
    def account_id(self):
        return self.registry.get("account_id") or DEFAULT_ACCOUNT_ID

    # ------------------------------------------------------------------ fleet
    def _fleet_start(self):
        """BERTH_TEST_FLEET: N members (BerthServer each, own data directory and port, this
        server's configuration and backends) behind a balancer on self.port."""
        if not self.members:
            shared_env = metadata_env(self.data_dir, {})
            for i in range(fleet.size()):
                m = BerthServer("%s-s%d" % (self.name, i), auth=self.auth, root=self.root, tls_ca=self.tls_ca)
                m.fleet_env = shared_env
                m._member_of = self
                self.members.append(m)
        for m in self.members:
            m.extra_args, m.users, m.registry, m.config = self.extra_args, self.users, self.registry, self.config
            m.wrapper, m.v2_auth = self.wrapper, self.v2_auth
            m.env = dict(self.env, **{k: v for k, v in m.fleet_env.items()})
            if m.data_dir is None:
                m.data_dir = os.path.join(self.data_dir, "member-%s" % m.name.rsplit("-", 1)[1])
                os.makedirs(m.data_dir, exist_ok=True)
            if not m.running():
                m.start()
        if self.balancer is not None and self.balancer.port != self.port:
            self.balancer.stop()            # restart(same_port=False): the registry moves
            self.balancer = None
        if self.balancer is None:
            self.balancer = fleet.Balancer(self.workdir, self.port, [m.port for m in self.members],
                                           tls=bool(self.tls_ca))
        if not self.balancer.running():
            self.balancer.start()
        _LIVE.add(self)
        self.starts += 1
        self.proc = fleet.Processes(self.members)
        # Ready when the balancer routes to every member (health checks every 200 ms).
        deadline = time.monotonic() + READY_TIMEOUT
        seen = 0
        while time.monotonic() < deadline and seen < 2 * len(self.members):
            try:
                st, _, _ = http_request("127.0.0.1", self.port, "GET", "/v2/", timeout=2,
                                        ssl_context=self.ssl_context())
                seen = seen + 1 if st in (200, 401) else 0
            except OSError:
                seen = 0
            time.sleep(0.05 if seen else 0.2)
        return self.base

    def start(self, data_dir=None, port=None):
        """Start the server; returns the base URL.  Reuses the previous data
        dir / port when not given."""
        if self.running():
            raise RuntimeError("server already running")
        if self.members and ((data_dir is not None and data_dir != self.data_dir) or
                             (port is not None and port != self.port)):
            for m in self.members:  # another data directory or port: a new fleet
                m.cleanup()
            self.members = []
            if self.balancer:
                self.balancer.stop()
            self.balancer = None
        if data_dir is not None:
            self.data_dir = data_dir
        if self.data_dir is None:
            self.data_dir = os.path.join(self.workdir, "data")
            os.makedirs(self.data_dir, exist_ok=True)
        if port is not None:
            self.port = port
        if self.port is None:
            self.port = free_port()
        if fleet.size() and getattr(self, "_member_of", None) is None and \
                os.environ.get("BERTH_REFERENCE") != "distribution":
            return self._fleet_start()
        binary = self._command()[len(self.wrapper)]
        if not os.path.exists(binary):
            raise unittest.SkipTest("berth binary not found: %s (set BERTH_BIN)" % binary)
        doc = self._config_doc()
        if doc and os.environ.get("BERTH_REFERENCE") != "distribution":
            with open(self.config_path, "w") as f:
                json.dump(doc, f, indent=2)
        self._tokens = {}
        self._log_fh = open(self.log_path, "ab")
        self.starts += 1
        self._log_fh.write(("\n===== start #%d: %s =====\n" % (
            self.starts, " ".join(self._command()))).encode())
        self._log_fh.flush()
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_fh, stderr=self._log_fh,
                                     env=self._server_env())
        _LIVE.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.dump_log()
                raise RuntimeError("berth exited early with code %s" % self.proc.returncode)
            try:
                st, _, _ = http_request("127.0.0.1", self.port, "GET", "/v2/", timeout=2,
                                        ssl_context=self.ssl_context())
                # 401: up, and asking for credentials (auth enabled)
                if st == 200 or (st == 401 and self.auth != "none"):
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
        if self.members:
            codes = [m.stop(timeout) for m in self.members]
            _LIVE.discard(self)
            self.proc = None
            return None if any(c is None for c in codes) else max(codes)
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
        if self.members:
            for m in self.members:
                m.kill9()
            _LIVE.discard(self)
            self.proc = None
            return
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
        if self.members:
            return any(m.running() for m in self.members)
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def cleanup(self):
        if self.running():
            self.stop()
        if self.balancer:
            self.balancer.stop()
        for m in self.members:
            m.cleanup()
        if not os.environ.get("BERTH_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------- logs
    def log_text(self):
        if self.members:
            return "".join(m.log_text() for m in self.members)
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
    def req(self, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT, auth=None):
        """Returns Response (unpacks as (status, headers, body)).
        body: bytes, or an iterable of bytes for chunked transfer encoding.
        auth: True adds the Basic login-token header (unless headers has an
        Authorization); None -> self.v2_auth."""
        if auth is None:
            auth = self.v2_auth
        if auth and not any(k.lower() == "authorization" for k in (headers or {})):
            headers = dict(headers or {}, **self.basic_auth_header())
        st, h, data = http_request("127.0.0.1", self.port, method, path, body,
                                   headers, timeout, ssl_context=self.ssl_context())
        return Response(st, h, data, method, path)

    # -------------------------------------------------------------------- ECR
    def root_credentials(self):
        """(access key id, secret) of the root user: the env-provided pair for
        auth="sigv4", else what Berth generated in DIR/root-credentials.json."""
        if self.auth == "sigv4":
            return self.root
        try:
            doc = json.loads(self.stored_root_key())
            return doc["access_key_id"], doc["secret_access_key"]
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return self.root

    def stored_root_key(self):
        """The generated root key as Berth stored it (JSON text), or None: in DIR/root-credentials.json,
        or with BERTH_TEST_METADATA=postgres in the database's secrets table."""
        if postgres_engine.enabled():
            pg = postgres_engine.shared()
            out = pg.psql("SELECT convert_from(value, 'UTF8') FROM secrets WHERE name = 'root-credentials'",
                          pg.database_for(os.path.abspath(self.data_dir)))
            return out or None
        p = os.path.join(self.data_dir or "", "root-credentials.json")
        if not os.path.exists(p):
            return None
        with open(p) as f:
            return f.read()

    def ecr_call(self, op, payload=None, access_key=None, secret=None, region=None, **kw):
        """Signed raw ECR call (see module-level ecr_call); root credentials by
        default.  Returns (status, Headers, doc)."""
        ak, sk = self.root_credentials()
        kw.setdefault("ssl_context", self.ssl_context())
        return ecr_call(op, payload, access_key or ak, sk if secret is None else secret,
                        region or self.region, port=self.port, **kw)

    def ecr(self, op, payload=None, **kw):
        """ecr_call that must succeed; returns the response document."""
        st, h, doc = self.ecr_call(op, payload, **kw)
        if st != 200:
            raise AssertionError("ECR %s %s -> %d %r (headers %r)" % (
                op, json.dumps(payload)[:300], st, doc, h.items()))
        return doc

    def authorization_data(self, access_key=None, secret=None, now=None):
        doc = self.ecr("GetAuthorizationToken", {}, access_key=access_key, secret=secret, now=now)
        return doc["authorizationData"][0]

    def login_token(self, access_key=None, secret=None, now=None):
        """GetAuthorizationToken -> the password part of base64("AWS:<password>")."""
        key = (access_key, secret)
        cached = self._tokens.get(key)
        if now is None and cached and cached[1] > time.time() + 60:
            return cached[0]
        data = self.authorization_data(access_key, secret, now)
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        if user != "AWS" or not password:
            raise AssertionError("authorizationToken does not decode to AWS:<token>: %r" % data)
        if now is None:
            self._tokens[key] = (password, float(data.get("expiresAt", 0)))
        return password

    def basic_auth_header(self, token=None):
        return {"Authorization": basic_auth_value(token or self.login_token())}

    def enable_create_on_push(self, prefix="ROOT", **settings):
        """A repository creation template applied on push (idempotent)."""
        payload = dict({"prefix": prefix, "appliedFor": ["CREATE_ON_PUSH"],
                        "imageTagMutability": "MUTABLE"}, **settings)
        st, h, doc = self.ecr_call("CreateRepositoryCreationTemplate", payload)
        if st == 200 or doc.get("__type") == "TemplateAlreadyExistsException":
            return doc
        raise AssertionError("CreateRepositoryCreationTemplate -> %d %r" % (st, doc))

    def create_repository(self, name, **settings):
        return self.ecr("CreateRepository", dict({"repositoryName": name}, **settings))["repository"]

    def req_raw(self, method, path, body, headers=None, timeout=HTTP_TIMEOUT):
        st, h, data, sent_all = raw_request("127.0.0.1", self.port, method, path, body,
                                            headers, timeout, ssl_context=self.ssl_context())
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
    server_kwargs = {}     # e.g. {"auth": "sigv4", "v2_auth": True}

    @classmethod
    def setUpClass(cls):
        cls.server = BerthServer(cls.server_name or cls.__name__, **cls.server_kwargs)
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


def docker_login_with_aws(test, aws_argv, env, docker, hostport):
    """`aws ecr get-login-password | docker login --username AWS --password-stdin HOST`, the README's
    login, with both ends checked. `docker(*args, stdin=, check=)` returns (rc, out, err)."""
    aws = subprocess.Popen(list(aws_argv) + ["ecr", "get-login-password"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        rc, out, err = docker("login", "--username", "AWS", "--password-stdin", hostport,
                              stdin=aws.stdout, check=False)
        aws.stdout.close()
        aws_err = aws.stderr.read().decode()
        test.assertEqual(aws.wait(timeout=60), 0, aws_err)
    finally:
        if aws.poll() is None:
            aws.kill()
            aws.wait()
        aws.stderr.close()
    test.assertEqual(rc, 0, out + err)
    test.assertIn("Login Succeeded", out)


def one_file_rootfs(directory, what):
    """A tar of one small file whose content is new each call (so each import is a new image), for
    `docker import`; returns its path."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = ("berth %s test %s\n" % (what, os.urandom(8).hex())).encode()
        ti = tarfile.TarInfo("etc/berth-%s.txt" % what)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
        tf.addfile(ti, io.BytesIO(data))
    path = os.path.join(directory, "rootfs-%s.tar" % os.urandom(4).hex())
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path
