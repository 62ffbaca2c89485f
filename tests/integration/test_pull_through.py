"""The pull-through cache against real upstreams: the reference registry (CNCF distribution,
/usr/bin/docker-registry) open, behind htpasswd (Basic) and behind token auth (Bearer, with a
test-only token server signing ES256 JWTs), a second Berth (sigv4, long-lived Basic pull
credentials), a counting proxy, and a lying upstream written here; pulled through Berth with
skopeo, podman, docker (a private dockerd) and raw V2 HTTP.

  Test01  rules through boto3; skopeo by tag and by digest, byte for byte; an import shows in
          DescribeImages / ListImages with its tag; the import worker fetches what the client did
          not; upstreamRepositoryPrefix; a PULL_THROUGH_CACHE creation template; upstream 404;
          fsck; podman and docker pulls of uncached images.
  Test02  the upstream stopped: cached images still pull (skopeo, docker, a due tag check),
          uncached ones are 503 UNAVAILABLE; after its restart they pull again.
  Test03  Basic upstream: a Secrets Manager secret, ValidatePullThroughCacheRule, a wrong password.
  Test04  a second Berth (its Basic pull credentials) and a Bearer token upstream.
  Test05  a tag moved upstream: re-checked after tag_check_seconds, not before (default 86400).
  Test06  two concurrent first pulls of a big layer fetch it from the upstream once; streaming.
  Test07  a lying upstream: wrong blob bytes, wrong manifest bytes; nothing stored.
  Test08  authorization: ecr:BatchImportUpstreamImage and ecr:CreateRepository.
  Test09  DeletePullThroughCacheRule.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_pull_through   (from tests/integration/;
~3 min on 2 cores, of which the big layer ~30 s and dockerd ~15 s). A missing client (skopeo,
docker-registry, htpasswd, podman, dockerd, python3 cryptography) is skipped loudly. Everything is
on loopback, every subprocess has a timeout.

Environment:
  BERTH_PTC_BIG_MB       size of the big layer of Test06 (default 200)
  BERTH_DOCKER_CLI, BERTH_DOCKERD   as in test_clients.py
  BERTH_KEEP_LOGS        keep the servers' directories
"""

import base64
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, StoredBlobs, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, basic_auth_value, berth_bin,
    free_port, metadata_env, sha256, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, DOCKER_LIST,
    DOCKER_MANIFEST,
)
from private_dockerd import PrivateDockerd  # noqa: E402
from test_clients import Layout, read_layout, file_sha256  # noqa: E402

try:
    import boto3
    import botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:       # handled in setUpModule
    boto3 = None

CMD_TIMEOUT = 180
REGISTRY_BIN = "/usr/bin/docker-registry"
BIG_MB = int(os.environ.get("BERTH_PTC_BIG_MB", "200"))
ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
ROOT = (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
ACCOUNT = "000000000000"
REGION = "us-east-1"
REPO_ARN = "arn:aws:ecr:%s:%s:repository/" % (REGION, ACCOUNT)
FSCK_CLEAN = re.compile(r"(?m)^fsck: \d+ blobs?, \d+ references? checked, 0 problems$")

WORK = None
LAY = None           # the OCI layout of the small images (one per tag)
IMAGES = {}          # tag -> what Layout.add_image returned
PORTS = {}           # upstream name -> its port (fixed before Berth starts: insecure_upstreams)
REF = None           # the open reference registry
CACHE = None         # Berth, --auth none, default tag_check_seconds (86400)
QUICK = None         # Berth, --auth none, tag_check_seconds 2
_DOCKER = None       # (cli, PrivateDockerd) once started


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def loud_note(what):
    sys.stderr.write("\n!!! %s\n" % what)


def run(cmd, timeout=CMD_TIMEOUT, check=True, env=None, log=True):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s\nstdout=%s\nstderr=%s" % (
            timeout, " ".join(cmd), (e.stdout or b"")[-2000:], (e.stderr or b"")[-2000:]))
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if log:
        shown = " ".join(cmd)
        sys.stderr.write("  $ %s  [%.1fs, rc=%d]\n" % (shown if len(shown) < 240 else shown[:100] + " ... " +
                                                       shown[-120:], time.monotonic() - t0, p.returncode))
    if check and p.returncode != 0:
        raise AssertionError("command failed (rc=%d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            p.returncode, " ".join(cmd), out[-3000:], err[-3000:]))
    return p.returncode, out, err


def skopeo(*args, **kw):
    policy = os.path.join(WORK, "policy.json")
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    auth = os.path.join(WORK, "skopeo-auth.json")        # never the machine's credentials
    if not os.path.exists(auth):
        with open(auth, "w") as f:
            f.write("{}")
    return run(["skopeo", "--policy", policy] + list(args), env=dict(os.environ, REGISTRY_AUTH_FILE=auth), **kw)


def push(hostport, tag, repo, creds=None, layout=None):
    """Copies the layout's image `tag` to hostport/repo (as is: --preserve-digests)."""
    args = ["copy", "--preserve-digests", "--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", "%s:%s" % creds]
    skopeo(*(args + ["oci:%s:%s" % (layout or LAY.path, tag), "docker://%s/%s" % (hostport, repo)]))


def pull(srv, ref, out_name, ref_name="pulled", creds=None, check=True):
    """skopeo copy docker://srv/ref oci:WORK/out_name:ref_name -> (rc, out, err, layout path)."""
    dest = os.path.join(WORK, "out", out_name)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    args = ["copy", "--preserve-digests", "--src-tls-verify=false"]
    if creds:
        args += ["--src-creds", "%s:%s" % creds]
    rc, out, err = skopeo(*(args + ["docker://%s/%s" % (srv.hostport, ref), "oci:%s:%s" % (dest, ref_name)]),
                          check=check)
    return rc, out, err, dest


def client(service, srv, creds=ROOT):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.session.Session(aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
                                 region_name=REGION).client(service, endpoint_url=srv.base, config=cfg)


def error_of(fn, **kw):
    try:
        out = fn(**kw)
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["Error"].get("Message")
    raise AssertionError("%s(%r) succeeded: %r" % (getattr(fn, "__name__", fn), kw, out))


def manifest(srv, repo, ref, method="GET", auth_header=None):
    h = {"Accept": ACCEPT}
    if auth_header:
        h["Authorization"] = auth_header
    return srv.req(method, "/v2/%s/manifests/%s" % (repo, ref), headers=h, auth=False)


def v2_error(r):
    """(status, code, message) of a V2 answer (code/message None when it is not an error body)."""
    try:
        e = json.loads(r.body)["errors"][0]
        return r.status, e["code"], e["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return r.status, None, None


def add_rule(srv, prefix, upstream_port, **kw):
    out = client("ecr", srv).create_pull_through_cache_rule(
        ecrRepositoryPrefix=prefix, upstreamRegistryUrl="127.0.0.1:%d" % upstream_port, **kw)
    assert out["ecrRepositoryPrefix"] == prefix and out["upstreamRegistryUrl"] == "127.0.0.1:%d" % upstream_port, out
    return out


def images_of(srv, repo):
    """{digest: sorted tags} of DescribeImages, or None when the repository does not exist."""
    try:
        pages = client("ecr", srv).get_paginator("describe_images").paginate(repositoryName=repo)
        return {d["imageDigest"]: sorted(d.get("imageTags", [])) for p in pages for d in p["imageDetails"]}
    except ClientError as e:
        if e.response["Error"]["Code"] == "RepositoryNotFoundException":
            return None
        raise


def wait_for_image(test, srv, repo, digest, tag=None, timeout=30):
    """Polls DescribeImages until `digest` is there (with `tag`, if given); returns the images."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = images_of(srv, repo)
        if got and digest in got and (tag is None or tag in got[digest]):
            return got
        time.sleep(0.5)
    srv.dump_log(tail=40)
    test.fail("%s@%s%s not imported within %ds; DescribeImages: %r" % (
        repo, digest, " (%s)" % tag if tag else "", timeout, got))


def ref_put(port, repo, data=None, manifest_ref=None, media_type=None):
    """A raw push to an open reference registry: a blob (returns its digest), or with manifest_ref a
    manifest of media_type (returns its digest)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if manifest_ref is None:
            c.request("POST", "/v2/%s/blobs/uploads/" % repo, body=b"")
            r = c.getresponse()
            r.read()
            assert r.status == 202, (r.status, r.getheader("Location"))
            loc = urllib.parse.urlsplit(r.getheader("Location"))
            target = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + sha256(data)
            c.request("PUT", target, body=data, headers={"Content-Type": "application/octet-stream"})
        else:
            c.request("PUT", "/v2/%s/manifests/%s" % (repo, manifest_ref), body=data,
                      headers={"Content-Type": media_type})
        r = c.getresponse()
        body = r.read()
        assert r.status == 201, (r.status, body[:300])
        return sha256(data)
    finally:
        c.close()


def fsck(test, srv):
    p = subprocess.run([berth_bin(), "fsck", "--data-dir", srv.data_dir], capture_output=True, text=True,
                       timeout=CMD_TIMEOUT, env=metadata_env(srv.data_dir), stdin=subprocess.DEVNULL)
    test.assertEqual(p.returncode, 0, p.stdout + p.stderr)
    test.assertRegex(p.stdout, FSCK_CLEAN)
    return p.stdout


def image_blobs(img):
    return [img["config_digest"]] + [l["digest"] for l in img["layers"]]


def berth_cli(srv, *args, stdin=None):
    p = subprocess.run([berth_bin()] + list(args) + ["--data-dir", srv.data_dir], input=stdin, capture_output=True,
                       text=True, timeout=60, env=metadata_env(srv.data_dir))
    if p.returncode != 0:
        raise AssertionError("berth %s -> %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout, p.stderr


# ------------------------------------------------------------ upstreams
class RefRegistry:
    """/usr/bin/docker-registry on 127.0.0.1:port, storage in its own directory; optionally behind
    htpasswd (Basic) or token auth (Bearer)."""

    def __init__(self, name, port, htpasswd=None, token=None):
        self.name, self.port = name, port
        self.dir = os.path.join(WORK, "registry-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.htpasswd, self.token = htpasswd, token
        self.proc = None
        self.log_path = os.path.join(self.dir, "registry.log")

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _config(self):
        c = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: true",
             "storage:", "  filesystem:", "    rootdirectory: %s" % os.path.join(self.dir, "storage"),
             "  delete:", "    enabled: true",
             "http:", "  addr: 127.0.0.1:%d" % self.port, "  secret: berth-ptc-test-secret"]
        if self.htpasswd:
            path = os.path.join(self.dir, "htpasswd")
            _, out, _ = run(["htpasswd", "-Bbn", self.htpasswd[0], self.htpasswd[1]], log=False)
            with open(path, "w") as f:
                f.write(out.strip() + "\n")
            c += ["auth:", "  htpasswd:", "    realm: berth-ptc", "    path: %s" % path]
        if self.token:
            c += ["auth:", "  token:", "    realm: %s" % self.token["realm"], "    service: %s" % self.token["service"],
                  "    issuer: %s" % self.token["issuer"], "    rootcertbundle: %s" % self.token["bundle"]]
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(c) + "\n")
        return path

    def start(self):
        cfg = self._config()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v2/")
                st = c.getresponse().status
                c.close()
                if st in (200, 401):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        with open(self.log_path, "rb") as f:
            tail = f.read().decode("utf-8", "replace")[-3000:]
        raise AssertionError("docker-registry %s did not start:\n%s" % (self.name, tail))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade", "host", "content-length", "date", "server"}


class ThreadedServer:
    def __init__(self, port, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class CountingProxy(ThreadedServer):
    """Forwards GET/HEAD to the upstream at target_port, streaming, and records every request:
    {"method", "path", "status", "bytes", "start", "end"}. rates: {path suffix: bytes per second}."""

    def __init__(self, port, target_port):
        self.target_port = target_port
        self.requests = []
        self.rates = {}
        self.lock = threading.Lock()
        proxy = self

        class H(_Handler):
            def do_GET(self):
                proxy.forward(self)

            do_HEAD = do_GET

        super().__init__(port, H)

    def forward(self, h):
        rec = {"method": h.command, "path": h.path, "start": time.monotonic(), "bytes": 0}
        with self.lock:
            self.requests.append(rec)
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=60)
        try:
            conn.request(h.command, h.path, headers={k: v for k, v in h.headers.items() if k.lower() not in HOP})
            resp = conn.getresponse()
            rec["status"] = resp.status
            length = resp.getheader("Content-Length")
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    h.send_header(k, v)
            if h.command == "HEAD" or length is not None:
                if length is not None:
                    h.send_header("Content-Length", length)
                h.end_headers()
                if h.command == "HEAD":
                    return
                n, sent, t0 = int(length), 0, time.monotonic()
                rate = next((r for suffix, r in self.rates.items() if h.path.endswith(suffix)), None)
                while sent < n:
                    chunk = resp.read(min(1 << 16, n - sent))
                    if not chunk:
                        break
                    h.wfile.write(chunk)
                    sent += len(chunk)
                    rec["bytes"] = sent
                    if rate:
                        ahead = t0 + sent / rate - time.monotonic()
                        if ahead > 0:
                            time.sleep(ahead)
            else:
                data = resp.read()
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data)
                rec["bytes"] = len(data)
        except OSError as e:
            rec["error"] = repr(e)
            h.close_connection = True
        finally:
            rec["end"] = time.monotonic()
            conn.close()

    def matching(self, method, path_suffix):
        with self.lock:
            return [r for r in self.requests if r["method"] == method and r["path"].endswith(path_suffix)]


class LyingUpstream(ThreadedServer):
    """A minimal V2 registry whose answers are set per path: {path: (status, headers, body)}."""

    def __init__(self, port):
        self.routes = {}
        self.hits = []
        upstream = self

        class H(_Handler):
            def do_GET(self):
                upstream.hits.append((self.command, self.path))
                st, headers, body = upstream.routes.get(self.path, (404, {"Content-Type": "application/json"},
                                                                    b'{"errors":[{"code":"NAME_UNKNOWN"}]}'))
                self.send_response(st)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

        super().__init__(port, H)
        self.routes["/v2/"] = (200, {"Content-Type": "application/json"}, b"{}")


class TokenServer(ThreadedServer):
    """The distribution token flow for docker-registry's `auth: token`: GET /token?service&scope with
    Basic user:password -> {"token", "access_token", "expires_in"}, an ES256 JWT whose x5c is a
    self-signed certificate (the registry's rootcertbundle). Records every request."""

    SERVICE = "berth-ptc-registry"
    ISSUER = "berth-ptc-token-issuer"

    def __init__(self, port, creds, workdir):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        from cryptography.x509.oid import NameOID
        import datetime
        self.creds = creds
        self.requests = []
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-ptc-token")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.bundle = os.path.join(workdir, "token-ca.pem")
        with open(self.bundle, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

        def b64url(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=")

        def sign(claims):
            head = b64url(json.dumps({"typ": "JWT", "alg": "ES256", "x5c": [x5c]}).encode())
            body = b64url(json.dumps(claims).encode())
            r, s = decode_dss_signature(self.key.sign(head + b"." + body, ec.ECDSA(hashes.SHA256())))
            return (head + b"." + body + b"." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))).decode()

        srv = self

        class H(_Handler):
            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                user = None
                authz = self.headers.get("Authorization", "")
                if authz.startswith("Basic "):
                    user, _, pw = base64.b64decode(authz[6:]).decode().partition(":")
                    if (user, pw) != tuple(srv.creds):
                        user = "!" + user
                srv.requests.append({"path": u.path, "service": q.get("service"), "scope": q.get("scope", []),
                                     "user": user})
                if user is None or user.startswith("!") or u.path != "/token":
                    body, st = b'{"details":"incorrect username or password"}', 401
                else:
                    access = []
                    for sc in q.get("scope", []):
                        typ, _, rest = sc.partition(":")
                        repo, _, actions = rest.rpartition(":")
                        access.append({"type": typ, "name": repo, "actions": actions.split(",")})
                    t = int(time.time())
                    token = sign({"iss": TokenServer.ISSUER, "sub": user, "aud": TokenServer.SERVICE,
                                  "exp": t + 300, "nbf": t - 30, "iat": t, "jti": os.urandom(8).hex(),
                                  "access": access})
                    body, st = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode(), 200
                self.send_response(st)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(port, H)

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.port


# ------------------------------------------------------------ clients
def docker():
    """(cli, env) of a private dockerd trusting CACHE over plain HTTP (started once), or a loud skip."""
    global _DOCKER
    if _DOCKER is None:
        dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not dockerd or not os.path.exists(dockerd):
            loud_skip("dockerd not found (CI must install Debian package docker.io)")
        cli = os.environ.get("BERTH_DOCKER_CLI") or \
            ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker"))
        if not cli:
            loud_skip("docker client not found")
        d = tempfile.mkdtemp(prefix="berth-ptc-dockerd-", dir="/tmp")   # short: containerd's socket
        daemon = PrivateDockerd(dockerd, d, insecure_registry=CACHE.hostport)
        try:
            daemon.start()
        except AssertionError:
            subprocess.run(["rm", "-rf", d], timeout=120)
            raise
        _DOCKER = (cli, daemon)
    cli, daemon = _DOCKER
    return lambda *args, check=True: run([cli] + list(args), env=daemon.env, check=check)


def podman():
    if not shutil.which("podman"):
        loud_skip("podman binary not found (CI must install it)")
    root = os.path.join(WORK, "podman")
    base = ["podman", "--root", os.path.join(root, "root"), "--runroot", os.path.join(root, "run"),
            "--tmpdir", os.path.join(root, "tmp"), "--storage-driver", "vfs", "--events-backend", "file",
            "--cgroup-manager", "cgroupfs"]
    return lambda *args, check=True: run(base + list(args), check=check)


# ------------------------------------------------------------ module
def setUpModule():
    try:
        _setup()
    except BaseException:
        tearDownModule()
        raise


def _setup():
    global WORK, LAY, REF, CACHE, QUICK
    if boto3 is None:
        loud_skip("boto3 not importable (pip install boto3, or Debian package python3-boto3)")
    if not shutil.which("skopeo"):
        loud_skip("skopeo binary not found (CI must install it)")
    if not os.path.exists(REGISTRY_BIN):
        loud_skip("%s not found (Debian package docker-registry)" % REGISTRY_BIN)
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                      AWS_EC2_METADATA_DISABLED="true")
    warnings.filterwarnings("ignore", category=ResourceWarning)
    WORK = tempfile.mkdtemp(prefix="berth-ptc-")
    LAY = Layout(os.path.join(WORK, "layout"))
    for tag in ("small", "second", "never", "podimg", "dockimg", "move1", "move2", "authz1", "authz2",
                "authz3", "basic1", "basic2", "tok1", "tok2", "gone1", "gone2"):
        IMAGES[tag] = LAY.add_image("amd64", [
            ([("etc/ptc.txt", ("pull-through image %s\n" % tag).encode()), ("data/run", b"#!/bin/sh\n")], True),
            ([("data/random.bin", os.urandom(96 * 1024))], False)], tag=tag)
    LAY.finish()
    used = set()
    for name in ("ref", "basic", "token_reg", "token_srv", "proxy", "liar", "up_berth", "stream"):
        p = free_port()
        while p in used:
            p = free_port()
        used.add(p)
        PORTS[name] = p
    REF = RefRegistry("ref", PORTS["ref"]).start()
    for tag, repo in (("small", "library/small"), ("second", "library/second"), ("never", "library/never"),
                      ("podimg", "library/podimg"), ("dockimg", "library/dockimg"),
                      ("gone1", "library/gone1"), ("gone2", "library/gone2")):
        push(REF.hostport, tag, repo + ":v1")
    insecure = ["127.0.0.1:%d" % p for n, p in PORTS.items() if n != "token_srv"]
    CACHE = BerthServer("ptc", auth="none", config={"pull_through_cache": {"insecure_upstreams": insecure}})
    CACHE.start()
    QUICK = BerthServer("ptc-quick", auth="none", config={"pull_through_cache": {
        "insecure_upstreams": [REF.hostport], "tag_check_seconds": 2}})
    QUICK.start()
    add_rule(CACHE, "hub", PORTS["ref"])
    add_rule(QUICK, "hub", PORTS["ref"])


def tearDownModule():
    global _DOCKER
    if _DOCKER is not None:
        _DOCKER[1].stop()
        if not os.environ.get("BERTH_KEEP_LOGS"):
            subprocess.run(["rm", "-rf", _DOCKER[1].dir], timeout=120)
        _DOCKER = None
    for srv in (CACHE, QUICK):
        if srv is not None:
            srv.stop()
            srv.cleanup()
    if REF is not None:
        REF.stop()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


class PtcCase(unittest.TestCase):
    servers = ()      # further Berth servers whose log tail helps when a test fails

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for srv in (CACHE,) + tuple(self.servers):
                if srv is not None:
                    srv.dump_log(tail=30)
        return out

    def assertPulled(self, dest, img, ref_name="pulled"):
        """The skopeo-made layout at dest holds exactly img (manifest, config, layers), byte for byte."""
        index, blobs = read_layout(dest)
        refs = [m["digest"] for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name]
        self.assertEqual(refs, [img["manifest"]["digest"]], index)
        want = [img["manifest"]["digest"]] + image_blobs(img)
        self.assertEqual(sorted(blobs), sorted(want))
        for d in want:
            with open(blobs[d], "rb") as got, open(LAY.blob_path(d), "rb") as orig:
                self.assertEqual(got.read(), orig.read(), d)

    def assertV2(self, r, status, code, message=None):
        st, c, m = v2_error(r)
        self.assertEqual((st, c), (status, code), r.describe())
        if message is not None:
            self.assertIn(message, m, r.describe())

    def assertStored(self, srv, img, repo, tag="v1"):
        stored = StoredBlobs(srv.data_dir)
        for d in image_blobs(img):
            self.assertTrue(stored.exists(d), "%s not stored" % d)
        r = manifest(srv, repo, tag)
        self.assertEqual((r.status, r.body), (200, img["manifest_raw"]), r.describe())


# ====================================================================== 1
class Test01Basics(PtcCase):

    def test_1_rule_described_and_validated(self):
        ecr = client("ecr", CACHE)
        rules = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["hub"])["pullThroughCacheRules"]
        self.assertEqual(len(rules), 1, rules)
        r = rules[0]
        self.assertEqual((r["ecrRepositoryPrefix"], r["upstreamRegistryUrl"], r["upstreamRepositoryPrefix"],
                          r["registryId"]), ("hub", REF.hostport, "ROOT", ACCOUNT))
        self.assertNotIn("credentialArn", r)
        v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="hub")
        self.assertEqual((v["isValid"], v.get("failure")), (True, None), v)
        code, _ = error_of(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="hub",
                           upstreamRegistryUrl=REF.hostport)
        self.assertEqual(code, "PullThroughCacheRuleAlreadyExistsException")

    def test_2_skopeo_by_tag_and_by_digest_then_imported(self):
        img = IMAGES["small"]
        self.assertIsNone(images_of(CACHE, "hub/library/small"), "cached before the first pull")
        _, _, _, dest = pull(CACHE, "hub/library/small:v1", "small-tag")
        self.assertPulled(dest, img)
        _, _, _, dest = pull(CACHE, "hub/library/small@" + img["manifest"]["digest"], "small-digest")
        self.assertPulled(dest, img)
        got = wait_for_image(self, CACHE, "hub/library/small", img["manifest"]["digest"], "v1")
        self.assertEqual(got, {img["manifest"]["digest"]: ["v1"]})
        ids = client("ecr", CACHE).list_images(repositoryName="hub/library/small")["imageIds"]
        self.assertEqual(ids, [{"imageDigest": img["manifest"]["digest"], "imageTag": "v1"}])
        repo = client("ecr", CACHE).describe_repositories(repositoryNames=["hub/library/small"])["repositories"][0]
        self.assertEqual(repo["imageTagMutability"], "MUTABLE")     # ECR's defaults, no template
        self.assertStored(CACHE, img, "hub/library/small")
        fsck(self, CACHE)

    def test_3_import_fetches_the_blobs_the_client_did_not(self):
        img = IMAGES["second"]
        r = manifest(CACHE, "hub/library/second", "v1")
        self.assertEqual((r.status, r.body), (200, img["manifest_raw"]), r.describe())
        self.assertEqual(r.headers.get("Docker-Content-Digest"), img["manifest"]["digest"])
        self.assertEqual(r.headers.get("Content-Type"), OCI_MANIFEST)
        h = manifest(CACHE, "hub/library/second", "v1", method="HEAD")
        self.assertEqual((h.status, h.headers.get("Docker-Content-Digest")), (200, img["manifest"]["digest"]))
        # not a blob asked for: the import worker fetches them all
        wait_for_image(self, CACHE, "hub/library/second", img["manifest"]["digest"], "v1")
        self.assertStored(CACHE, img, "hub/library/second")
        for d in image_blobs(img):
            b = CACHE.req("GET", "/v2/hub/library/second/blobs/" + d)
            self.assertEqual((b.status, sha256(b.body)), (200, d))

    def test_4_upstream_repository_prefix_and_creation_template(self):
        img = IMAGES["small"]
        ecr = client("ecr", CACHE)
        out = add_rule(CACHE, "lib", PORTS["ref"], upstreamRepositoryPrefix="library")
        self.assertEqual(out["upstreamRepositoryPrefix"], "library")
        ecr.create_repository_creation_template(prefix="tmpl", appliedFor=["PULL_THROUGH_CACHE"],
                                                imageTagMutability="IMMUTABLE",
                                                resourceTags=[{"Key": "team", "Value": "ptc"}])
        add_rule(CACHE, "tmpl", PORTS["ref"])
        for repo in ("lib/small", "tmpl/library/small"):
            r = manifest(CACHE, repo, "v1")
            self.assertEqual((r.status, r.body), (200, img["manifest_raw"]), r.describe())
        wait_for_image(self, CACHE, "lib/small", img["manifest"]["digest"], "v1")
        wait_for_image(self, CACHE, "tmpl/library/small", img["manifest"]["digest"], "v1")
        repos = {r["repositoryName"]: r for r in ecr.describe_repositories(
            repositoryNames=["lib/small", "tmpl/library/small"])["repositories"]}
        self.assertEqual(repos["lib/small"]["imageTagMutability"], "MUTABLE")
        self.assertEqual(repos["tmpl/library/small"]["imageTagMutability"], "IMMUTABLE")
        tags = ecr.list_tags_for_resource(resourceArn=repos["tmpl/library/small"]["repositoryArn"])["tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "ptc"}])

    def test_4b_referrers_of_an_upstream_without_the_referrers_api(self):
        # distribution 2.8 has no referrers API: its clients push the referrers tag schema's
        # sha256-<hex> index instead, which the cache reads.
        c = http.client.HTTPConnection("127.0.0.1", REF.port, timeout=30)
        c.request("GET", "/v2/library/second/manifests/v1", headers={"Accept": OCI_MANIFEST})
        r = c.getresponse()
        subject_raw = r.read()
        c.close()
        self.assertEqual(r.status, 200)
        subject = {"mediaType": OCI_MANIFEST, "digest": sha256(subject_raw), "size": len(subject_raw)}
        kind = "application/vnd.example.sbom"
        config = b"{}"
        layer = b"an sbom for library/second"
        art = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                          "config": {"mediaType": OCI_CONFIG, "digest": ref_put(REF.port, "library/second", config),
                                     "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": ref_put(REF.port, "library/second", layer),
                                      "size": len(layer)}],
                          "subject": subject}).encode()
        art_digest = ref_put(REF.port, "library/second", art, art_digest_ref := sha256(art), OCI_MANIFEST)
        self.assertEqual(art_digest, art_digest_ref)
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": art_digest, "size": len(art), "artifactType": kind}]}).encode()
        ref_put(REF.port, "library/second", index, "sha256-" + subject["digest"].split(":")[1], OCI_INDEX)
        r = CACHE.req("GET", "/v2/hub/library/second/referrers/" + subject["digest"])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([(m["digest"], m["artifactType"], m["size"]) for m in json.loads(r.body)["manifests"]],
                         [(art_digest, kind, len(art))])
        # a subject with no referrers upstream: none (the tag is not there)
        r = CACHE.req("GET", "/v2/hub/library/second/referrers/" + sha256(b"no such subject"))
        self.assertEqual((r.status, json.loads(r.body)["manifests"]), (200, []), r.describe())
        wait_for_image(self, CACHE, "hub/library/second", art_digest)

    def test_5_upstream_404_is_manifest_unknown_and_creates_nothing(self):
        r = manifest(CACHE, "hub/library/nothing-here", "v1")
        self.assertV2(r, 404, "MANIFEST_UNKNOWN", "Requested image not found")
        r = manifest(CACHE, "hub/library/small", "no-such-tag")
        self.assertV2(r, 404, "MANIFEST_UNKNOWN", "Requested image not found")
        r = CACHE.req("GET", "/v2/hub/library/small/blobs/" + sha256(b"not a blob anywhere"))
        self.assertV2(r, 404, "BLOB_UNKNOWN")
        self.assertIsNone(images_of(CACHE, "hub/library/nothing-here"))
        # outside every rule: a plain registry
        self.assertV2(manifest(CACHE, "elsewhere/small", "v1"), 404, "NAME_UNKNOWN")

    def test_6_blob_first_in_a_repository_not_pulled_yet(self):
        # A blob GET/HEAD in a covered repository that is not here yet (no manifest pulled there):
        # from the upstream, like a manifest.
        img = IMAGES["gone2"]          # Test09 pulls nothing else of library/gone2 under hub/
        layer = img["layers"][1]
        r = CACHE.req("HEAD", "/v2/hub/library/gone2/blobs/" + layer["digest"])
        self.assertEqual((r.status, r.headers.get("Content-Length")), (200, str(layer["size"])), r.describe())
        r = CACHE.req("GET", "/v2/hub/library/gone2/blobs/" + layer["digest"])
        self.assertEqual((r.status, sha256(r.body)), (200, layer["digest"]), r.describe())
        # Stored right after its last bytes went out (the commit follows the response).
        deadline = time.monotonic() + 10
        while not StoredBlobs(CACHE.data_dir).exists(layer["digest"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(StoredBlobs(CACHE.data_dir).exists(layer["digest"]))

    def test_7_podman_pull_uncached(self):
        pm = podman()
        img = IMAGES["podimg"]
        ref = "%s/hub/library/podimg:v1" % CACHE.hostport
        pm("pull", "--tls-verify=false", "docker://" + ref)
        _, out, _ = pm("image", "inspect", "--format", "{{.Id}}", ref)
        self.assertEqual(out.strip(), img["config_digest"].split(":", 1)[1])
        wait_for_image(self, CACHE, "hub/library/podimg", img["manifest"]["digest"], "v1")
        self.assertStored(CACHE, img, "hub/library/podimg")

    def test_8_docker_pull_uncached_and_cached(self):
        dk = docker()
        for tag, repo in (("dockimg", "hub/library/dockimg"), ("small", "hub/library/small")):
            img = IMAGES[tag]
            ref = "%s/%s:v1" % (CACHE.hostport, repo)
            dk("pull", ref)
            _, out, _ = dk("image", "inspect", "--format", "{{.Id}}", ref)
            self.assertEqual(out.strip(), img["config_digest"])
            dk("rmi", "-f", img["config_digest"])          # Test02 pulls it again, offline
        wait_for_image(self, CACHE, "hub/library/dockimg", IMAGES["dockimg"]["manifest"]["digest"], "v1")
        self.assertStored(CACHE, IMAGES["dockimg"], "hub/library/dockimg")
        fsck(self, CACHE)


# ====================================================================== 2
class Test02UpstreamDown(PtcCase):

    def test_cached_pulls_while_the_upstream_is_down(self):
        self.servers = (QUICK,)
        small, second = IMAGES["small"], IMAGES["second"]
        # QUICK (tag checks every 2 s) caches small first
        r = manifest(QUICK, "hub/library/small", "v1")
        self.assertEqual((r.status, r.body), (200, small["manifest_raw"]), r.describe())
        wait_for_image(self, QUICK, "hub/library/small", small["manifest"]["digest"], "v1")
        # CACHE: small (Test01 pulled it with skopeo), second (Test01 asked only for its manifest)
        for tag in ("small", "second"):
            r = manifest(CACHE, "hub/library/" + tag, "v1")
            self.assertEqual(r.status, 200, r.describe())
        for tag in ("small", "second"):
            wait_for_image(self, CACHE, "hub/library/" + tag, IMAGES[tag]["manifest"]["digest"], "v1")
        REF.stop()
        try:
            _, _, _, dest = pull(CACHE, "hub/library/small:v1", "offline-small")
            self.assertPulled(dest, small)
            _, _, _, dest = pull(CACHE, "hub/library/second:v1", "offline-second")   # the worker's blobs
            self.assertPulled(dest, second)
            # not cached: 503, and skopeo fails
            r = manifest(CACHE, "hub/library/never", "v1")
            self.assertV2(r, 503, "UNAVAILABLE", "cannot be reached")
            # a blob not cached, in a cached repository
            r = CACHE.req("GET", "/v2/hub/library/small/blobs/" + IMAGES["never"]["layers"][0]["digest"])
            self.assertV2(r, 503, "UNAVAILABLE", "cannot be reached")
            rc, out, err, _ = pull(CACHE, "hub/library/never:v1", "offline-never", check=False)
            self.assertNotEqual(rc, 0, out + err)
            self.assertIn("503", out + err)
            self.assertIsNone(images_of(CACHE, "hub/library/never"))
            # a due tag check with the upstream down: the cached image
            time.sleep(2.5)
            r = manifest(QUICK, "hub/library/small", "v1")
            self.assertEqual((r.status, r.body), (200, small["manifest_raw"]), r.describe())
            self.assertIn("cannot check hub/library/small:v1 with its upstream", QUICK.log_text())
            # docker, from the cache alone
            try:
                dk = docker()
            except unittest.SkipTest:
                dk = None
            if dk:
                ref = "%s/hub/library/small:v1" % CACHE.hostport
                dk("pull", ref)
                _, out, _ = dk("image", "inspect", "--format", "{{.Id}}", ref)
                self.assertEqual(out.strip(), small["config_digest"])
                dk("rmi", "-f", small["config_digest"])
        finally:
            REF.start()
        # back up: the uncached image pulls (the 503 was the outage)
        _, _, _, dest = pull(CACHE, "hub/library/never:v1", "online-never")
        self.assertPulled(dest, IMAGES["never"])


# ====================================================================== 3
class Test03BasicUpstream(PtcCase):
    CREDS = ("puller", "s3cret-Pass-1")

    @classmethod
    def setUpClass(cls):
        if not shutil.which("htpasswd"):
            loud_skip("htpasswd not found (Debian package apache2-utils)")
        cls.reg = RefRegistry("basic", PORTS["basic"], htpasswd=cls.CREDS).start()
        push(cls.reg.hostport, "basic1", "team/app:v1", creds=cls.CREDS)
        push(cls.reg.hostport, "basic2", "team/other:v1", creds=cls.CREDS)

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()

    def secret(self, name, password):
        sm = client("secretsmanager", CACHE)
        value = json.dumps({"username": self.CREDS[0], "accessToken": password})
        return sm.create_secret(Name=name, SecretString=value)["ARN"]

    def test_basic_credentials_from_secrets_manager(self):
        c = http.client.HTTPConnection("127.0.0.1", self.reg.port, timeout=10)
        c.request("GET", "/v2/")
        resp = c.getresponse()
        self.assertEqual((resp.status, resp.getheader("WWW-Authenticate", "").split(" ")[0]), (401, "Basic"))
        c.close()
        ecr, sm = client("ecr", CACHE), client("secretsmanager", CACHE)
        arn = self.secret("ecr-pullthroughcache/basic", self.CREDS[1])
        out = add_rule(CACHE, "basic", PORTS["basic"], credentialArn=arn)
        self.assertEqual(out["credentialArn"], arn)
        v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="basic")
        self.assertEqual((v["isValid"], v.get("failure"), v["credentialArn"]), (True, None, arn), v)
        img = IMAGES["basic1"]
        _, _, _, dest = pull(CACHE, "basic/team/app:v1", "basic-app")
        self.assertPulled(dest, img)
        wait_for_image(self, CACHE, "basic/team/app", img["manifest"]["digest"], "v1")
        # without credentials at all: the upstream refuses
        add_rule(CACHE, "basic-anon", PORTS["basic"])
        v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="basic-anon")
        self.assertFalse(v["isValid"], v)
        self.assertIn("authentication", v["failure"])
        self.assertV2(manifest(CACHE, "basic-anon/team/app", "v1"), 403, "DENIED", "authentication to the upstream")
        # a wrong password
        sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": self.CREDS[0],
                                                                   "accessToken": "wrong"}))
        v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="basic")
        self.assertFalse(v["isValid"], v)
        self.assertIn("authentication", v["failure"])
        r = manifest(CACHE, "basic/team/other", "v1")
        self.assertV2(r, 403, "DENIED", "authentication to the upstream")
        rc, out, err, _ = pull(CACHE, "basic/team/other:v1", "basic-other-bad", check=False)
        self.assertNotEqual(rc, 0, out + err)
        self.assertIsNone(images_of(CACHE, "basic/team/other"))
        # what is cached does not need the upstream
        _, _, _, dest = pull(CACHE, "basic/team/app:v1", "basic-app-again")
        self.assertPulled(dest, img)
        # the right password again: at once
        sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": self.CREDS[0],
                                                                   "accessToken": self.CREDS[1]}))
        self.assertTrue(ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="basic")["isValid"])
        _, _, _, dest = pull(CACHE, "basic/team/other:v1", "basic-other")
        self.assertPulled(dest, IMAGES["basic2"])


# ====================================================================== 4
class Test04AuthenticatedUpstreams(PtcCase):

    def test_a_second_berth_with_basic_pull_credentials(self):
        up = BerthServer("ptc-upstream", auth="sigv4", v2_auth=True)
        try:
            up.port = PORTS["up_berth"]
            up.start()
            self.servers = (up,)
            up.create_repository("team/app")
            digest, raw, _ = up.push_image("team/app", "v1", layers=[os.urandom(50000), os.urandom(7000)])
            # Berth's V2 challenge (what the brief calls a Bearer upstream is Basic: see the report)
            r = up.req("GET", "/v2/", auth=False)
            self.assertEqual(r.status, 401)
            self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Basic "), r.describe())
            out, _ = berth_cli(up, "user", "create", "--name", "mirror", "--basic-pull")
            out, _ = berth_cli(up, "key", "create", "--user", "mirror")
            key_id = re.search(r"^AWS_ACCESS_KEY_ID=(\S+)$", out, re.M).group(1)
            secret = re.search(r"^AWS_SECRET_ACCESS_KEY=(\S+)$", out, re.M).group(1)
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": REPO_ARN + "team/*",
                   "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
            berth_cli(up, "policy", "put", "--user", "mirror", "--name", "pull", "--file", "-", stdin=json.dumps(doc))
            arn = client("secretsmanager", CACHE).create_secret(
                Name="ecr-pullthroughcache/berth-up",
                SecretString=json.dumps({"username": key_id, "accessToken": secret}))["ARN"]
            add_rule(CACHE, "berth-up", up.port, credentialArn=arn)
            v = client("ecr", CACHE).validate_pull_through_cache_rule(ecrRepositoryPrefix="berth-up")
            self.assertEqual((v["isValid"], v.get("failure")), (True, None), v)
            _, _, _, dest = pull(CACHE, "berth-up/team/app:v1", "berth-up")
            index, blobs = read_layout(dest)
            self.assertEqual([m["digest"] for m in index["manifests"]], [digest])
            for l in [json.loads(raw)["config"]] + json.loads(raw)["layers"]:
                b = up.req("GET", "/v2/team/app/blobs/" + l["digest"])
                with open(blobs[l["digest"]], "rb") as f:
                    self.assertEqual(f.read(), b.body)
            wait_for_image(self, CACHE, "berth-up/team/app", digest, "v1")
            # Referrers of a cached image: listed from the upstream (each fetched and verified), then
            # imported, then listed by ListImageReferrers too.
            subject = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw)}
            kind = "application/vnd.example.signature"
            sig, sig_raw, _ = up.push_image("team/app", None, layers=[b"a signature"], annotations={"k": "v"},
                                            extra={"subject": subject, "artifactType": kind})
            r = CACHE.req("GET", "/v2/berth-up/team/app/referrers/" + digest)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.headers.get("Content-Type"), OCI_INDEX)
            listed = json.loads(r.body)["manifests"]
            self.assertEqual([(m["digest"], m["artifactType"], m["size"], m["annotations"]) for m in listed],
                             [(sig, kind, len(sig_raw), {"k": "v"})], listed)
            wait_for_image(self, CACHE, "berth-up/team/app", sig)
            got = client("ecr", CACHE).list_image_referrers(repositoryName="berth-up/team/app",
                                                            subjectId={"imageDigest": digest})
            self.assertEqual([(x["digest"], x["artifactType"]) for x in got["referrers"]], [(sig, kind)])
            # the upstream gone: the referrers here are still listed
            up.stop()
            r = CACHE.req("GET", "/v2/berth-up/team/app/referrers/" + digest)
            self.assertEqual((r.status, [m["digest"] for m in json.loads(r.body)["manifests"]]), (200, [sig]),
                             r.describe())
            up.start()
            # the policy denies what is outside team/*: the upstream's 403 is not "not found"
            up.create_repository("private/app")
            up.push_image("private/app", "v1")
            add_rule(CACHE, "berth-priv", up.port, credentialArn=arn)
            r = manifest(CACHE, "berth-priv/private/app", "v1")
            self.assertV2(r, 403, "DENIED")
        finally:
            up.stop()
            up.cleanup()

    def test_b_bearer_token_upstream(self):
        try:
            import cryptography  # noqa: F401
        except ImportError:
            loud_skip("python3 cryptography not importable: no token server for the Bearer upstream")
        creds = ("tok-user", "tok-Pass-9")
        ts = TokenServer(PORTS["token_srv"], creds, WORK)
        reg = RefRegistry("token", PORTS["token_reg"], token={
            "realm": ts.realm, "service": TokenServer.SERVICE, "issuer": TokenServer.ISSUER, "bundle": ts.bundle})
        try:
            reg.start()
            c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)
            c.request("GET", "/v2/")
            resp = c.getresponse()
            self.assertEqual(resp.status, 401)
            self.assertTrue(resp.getheader("WWW-Authenticate", "").startswith("Bearer realm="))
            c.close()
            push(reg.hostport, "tok1", "team/app:v1", creds=creds)
            push(reg.hostport, "tok2", "team/other:v1", creds=creds)
            ecr, sm = client("ecr", CACHE), client("secretsmanager", CACHE)
            arn = sm.create_secret(Name="ecr-pullthroughcache/token", SecretString=json.dumps(
                {"username": creds[0], "accessToken": creds[1]}))["ARN"]
            add_rule(CACHE, "tok", reg.port, credentialArn=arn)
            del ts.requests[:]
            v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="tok")
            self.assertEqual((v["isValid"], v.get("failure")), (True, None), v)
            self.assertEqual([(r["service"], r["user"]) for r in ts.requests], [([TokenServer.SERVICE], creds[0])])
            del ts.requests[:]
            img = IMAGES["tok1"]
            _, _, _, dest = pull(CACHE, "tok/team/app:v1", "tok-app")
            self.assertPulled(dest, img)
            wait_for_image(self, CACHE, "tok/team/app", img["manifest"]["digest"], "v1")
            # one token for the manifest, the blobs and the import (expires_in 300: kept)
            self.assertEqual([(r["scope"], r["service"], r["user"]) for r in ts.requests],
                             [(["repository:team/app:pull"], [TokenServer.SERVICE], creds[0])])
            # a wrong password: Validate says so, a new repository (a new scope) cannot be pulled
            sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": creds[0], "accessToken": "bad"}))
            r = manifest(CACHE, "tok/team/other", "v1")
            self.assertV2(r, 403, "DENIED", "authentication to the upstream")
            self.assertEqual(ts.requests[-1]["user"], "!" + creds[0])
            v = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="tok")
            self.assertFalse(v["isValid"], "Validate with a wrong password reports a valid rule: %r" % v)
            self.assertIn("authentication", v["failure"])
        finally:
            reg.stop()
            ts.stop()


# ====================================================================== 5
class Test05TagMoved(PtcCase):

    def test_tag_rechecked_after_tag_check_seconds(self):
        self.servers = (QUICK,)
        one, two = IMAGES["move1"], IMAGES["move2"]
        repo = "hub/library/moving"
        push(REF.hostport, "move1", "library/moving:v1")
        for srv in (CACHE, QUICK):
            r = manifest(srv, repo, "v1")
            self.assertEqual((r.status, r.body), (200, one["manifest_raw"]), r.describe())
        for srv in (CACHE, QUICK):
            wait_for_image(self, srv, repo, one["manifest"]["digest"], "v1")
        push(REF.hostport, "move2", "library/moving:v1")
        time.sleep(3)
        r = manifest(QUICK, repo, "v1")
        self.assertEqual((r.status, r.headers.get("Docker-Content-Digest")), (200, two["manifest"]["digest"]),
                         r.describe())
        self.assertEqual(r.body, two["manifest_raw"])
        # asked again before the import finished: still the new image (asserted last)
        again = manifest(QUICK, repo, "v1")
        got = wait_for_image(self, QUICK, repo, two["manifest"]["digest"], "v1")
        self.assertEqual(got, {one["manifest"]["digest"]: [], two["manifest"]["digest"]: ["v1"]})
        _, _, _, dest = pull(QUICK, repo + ":v1", "moved")
        self.assertPulled(dest, two)
        # the default (a day): CACHE keeps serving what it cached
        for _ in range(2):
            r = manifest(CACHE, repo, "v1")
            self.assertEqual((r.status, r.body), (200, one["manifest_raw"]), r.describe())
        _, _, _, dest = pull(CACHE, repo + ":v1", "not-moved")
        self.assertPulled(dest, one)
        self.assertEqual(images_of(CACHE, repo), {one["manifest"]["digest"]: ["v1"]})
        self.assertEqual((again.status, again.headers.get("Docker-Content-Digest")), (200, two["manifest"]["digest"]),
                         "a second pull right after the move went back to the old digest (before the import)")


# ====================================================================== 6
class Test06OneFetch(PtcCase):

    @classmethod
    def setUpClass(cls):
        cls.proxy = CountingProxy(PORTS["proxy"], REF.port)
        add_rule(CACHE, "counted", PORTS["proxy"])

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_a_concurrent_first_pulls_fetch_the_big_layer_once(self):
        t0 = time.monotonic()
        big = Layout(os.path.join(WORK, "big-layout"))
        img = big.add_image("amd64", [([("etc/big.txt", b"big\n")], True), ([("data/big.bin", BIG_MB << 20)], False)],
                            tag="big")
        big.finish()
        sys.stderr.write("\n  built a %d MiB layer in %.1fs\n" % (BIG_MB, time.monotonic() - t0))
        push(REF.hostport, "big", "library/big:v1", layout=big.path)
        layer = img["layers"][1]
        # ~2.5 s from the upstream: both clients ask while the one fetch runs
        self.proxy.rates[layer["digest"]] = max(1 << 20, layer["size"] / 2.5)
        results = {}

        def copy(i):
            results[i] = pull(CACHE, "counted/library/big:v1", "big-%d" % i, check=False)

        threads = [threading.Thread(target=copy, args=(i,)) for i in range(2)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=CMD_TIMEOUT + 30)
        for i in range(2):
            rc, out, err, dest = results[i]
            self.assertEqual(rc, 0, out + err)
            index, blobs = read_layout(dest)
            self.assertEqual([m["digest"] for m in index["manifests"]], [img["manifest"]["digest"]])
            self.assertEqual(os.path.getsize(blobs[layer["digest"]]), layer["size"])
            self.assertEqual(file_sha256(blobs[layer["digest"]]), layer["digest"])
            for d in image_blobs(img)[:2]:
                self.assertEqual(file_sha256(blobs[d]), d)
            shutil.rmtree(dest, ignore_errors=True)
        wait_for_image(self, CACHE, "counted/library/big", img["manifest"]["digest"], "v1")
        time.sleep(1)
        fetches = self.proxy.matching("GET", "/v2/library/big/blobs/" + layer["digest"])
        self.assertEqual(len(fetches), 1, fetches)
        self.assertEqual(fetches[0]["bytes"], layer["size"])
        # the clients started together, before the one fetch, which took a while
        self.assertLess(started, fetches[0]["start"])
        self.assertGreater(fetches[0]["end"] - fetches[0]["start"], 1.5, fetches[0])
        self.assertTrue(StoredBlobs(CACHE.data_dir).exists(layer["digest"]))
        shutil.rmtree(big.path, ignore_errors=True)

    def test_b_a_blob_streams_while_it_arrives(self):
        lay = Layout(os.path.join(WORK, "stream-layout"))
        img = lay.add_image("amd64", [([("data/s.bin", os.urandom(12 << 20))], False)], tag="s")
        lay.finish()
        push(REF.hostport, "s", "library/stream:v1", layout=lay.path)
        layer = img["layers"][0]
        self.proxy.rates[layer["digest"]] = 6 << 20          # ~2 s upstream
        r = manifest(CACHE, "counted/library/stream", "v1")
        self.assertEqual(r.status, 200, r.describe())
        c = http.client.HTTPConnection("127.0.0.1", CACHE.port, timeout=60)
        c.request("GET", "/v2/counted/library/stream/blobs/" + layer["digest"])
        resp = c.getresponse()
        self.assertEqual((resp.status, int(resp.getheader("Content-Length"))), (200, layer["size"]))
        first = resp.read(1 << 20)
        first_at = time.monotonic()
        rest = resp.read()
        c.close()
        self.assertEqual(sha256(first + rest), layer["digest"])
        fetch = self.proxy.matching("GET", "/v2/library/stream/blobs/" + layer["digest"])
        self.assertEqual(len(fetch), 1, fetch)
        self.assertLess(first_at, fetch[0]["end"] - 0.8, "the first MiB came only after the upstream was done")


# ====================================================================== 7
class Test07LyingUpstream(PtcCase):

    def test_wrong_blob_and_manifest_bytes_are_refused(self):
        liar = LyingUpstream(PORTS["liar"])
        try:
            add_rule(CACHE, "liar", PORTS["liar"])
            cfg = json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": []}}).encode()
            real = os.urandom(300000)
            fake = bytes(b ^ 0x5A for b in real[:1000]) + real[1000:]
            layer = sha256(real)
            m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                            "layers": [{"mediaType": OCI_LAYER, "digest": layer, "size": len(real)}]},
                           indent=2).encode()
            mh = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(m)}
            liar.routes.update({
                "/v2/app/manifests/v1": (200, mh, m), "/v2/app/manifests/" + sha256(m): (200, mh, m),
                "/v2/app/blobs/" + sha256(cfg): (200, {"Content-Type": "application/octet-stream"}, cfg),
                "/v2/app/blobs/" + layer: (200, {"Content-Type": "application/octet-stream"}, fake)})
            rc, out, err, _ = pull(CACHE, "liar/app:v1", "liar", check=False)
            self.assertNotEqual(rc, 0, out + err)
            failed_at = time.monotonic()
            # raw: the response stops before its last bytes
            c = http.client.HTTPConnection("127.0.0.1", CACHE.port, timeout=60)
            c.request("GET", "/v2/liar/app/blobs/" + layer)
            resp = c.getresponse()
            got = b""
            try:
                if resp.status == 200:
                    got = resp.read()
                    self.fail("the whole lying blob was served (%d bytes)" % len(got))
            except (http.client.IncompleteRead, ConnectionError) as e:
                got = getattr(e, "partial", b"")
            finally:
                c.close()
            sys.stderr.write("\n  lying blob: HTTP %d, %d of %d bytes before the cut\n" % (resp.status, len(got), len(real)))
            self.assertEqual(resp.status, 200)          # streamed: the cut comes before the last bytes
            self.assertLess(len(got), len(real))
            self.assertIn("from the upstream of liar/app is not what it claims", CACHE.log_text())
            # a manifest that is not what its digest says: asked by digest, and announced falsely
            other = m.replace(b'"schemaVersion": 2', b'"schemaVersion": 2 ')
            wanted = sha256(m.replace(b"  ", b" "))
            liar.routes["/v2/forged/manifests/" + wanted] = (200, {"Content-Type": OCI_MANIFEST}, other)
            liar.routes["/v2/forged/manifests/v1"] = (200, {"Content-Type": OCI_MANIFEST,
                                                            "Docker-Content-Digest": wanted}, other)
            self.assertV2(manifest(CACHE, "liar/forged", wanted), 503, "UNAVAILABLE", "does not match")
            self.assertV2(manifest(CACHE, "liar/forged", "v1"), 503, "UNAVAILABLE", "does not match")
            rc, out, err, _ = pull(CACHE, "liar/forged@" + wanted, "forged", check=False)
            self.assertNotEqual(rc, 0, out + err)
            # the import worker tries too; nothing lands
            time.sleep(max(0, 10 - (time.monotonic() - failed_at)))
            self.assertFalse(StoredBlobs(CACHE.data_dir).exists(layer), "the lying layer was stored")
            self.assertNotIn(layer, fsck(self, CACHE))
            self.assertIn(images_of(CACHE, "liar/app"), (None, {}))
            self.assertIn(images_of(CACHE, "liar/forged"), (None, {}))
            self.assertGreaterEqual(len([h for h in liar.hits if h == ("GET", "/v2/app/blobs/" + layer)]), 2)
        finally:
            liar.stop()


# ====================================================================== 8
class Test08Authorization(PtcCase):

    def test_import_needs_batch_import_and_create_repository(self):
        srv = BerthServer("ptc-authz", auth="sigv4",
                          config={"pull_through_cache": {"insecure_upstreams": [REF.hostport]}})
        try:
            srv.start()
            self.servers = (srv,)
            push(REF.hostport, "authz1", "library/authz:v1")
            push(REF.hostport, "authz2", "library/authz:v2")
            push(REF.hostport, "authz3", "library/authz-new:v1")
            add_rule(srv, "hub", PORTS["ref"])
            iam = client("iam", srv)
            iam.create_user(UserName="puller")
            key = iam.create_access_key(UserName="puller")["AccessKey"]
            creds = (key["AccessKeyId"], key["SecretAccessKey"])

            def grant(*extra):
                stmts = [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                         {"Effect": "Allow", "Resource": REPO_ARN + "hub/*",
                          "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] + list(extra)}]
                iam.put_user_policy(UserName="puller", PolicyName="pull", PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": stmts}))

            grant()
            token = srv.login_token(*creds)
            basic = basic_auth_value(token)
            one, two = IMAGES["authz1"], IMAGES["authz2"]
            # pull rights only: as if there were no cache
            self.assertV2(manifest(srv, "hub/library/authz", "v1", auth_header=basic), 404, "NAME_UNKNOWN")
            self.assertV2(srv.req("GET", "/v2/hub/library/authz/blobs/" + one["layers"][0]["digest"],
                                  headers={"Authorization": basic}, auth=False), 404, "NAME_UNKNOWN")
            # importing, but not creating the repository
            grant("ecr:BatchImportUpstreamImage")
            self.assertV2(manifest(srv, "hub/library/authz", "v1", auth_header=basic), 404, "NAME_UNKNOWN")
            self.assertIsNone(images_of(srv, "hub/library/authz"))
            # both: skopeo pulls it through
            grant("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")
            _, _, _, dest = pull(srv, "hub/library/authz:v1", "authz", creds=("AWS", token))
            self.assertPulled(dest, one)
            wait_for_image(self, srv, "hub/library/authz", one["manifest"]["digest"], "v1")
            # pull rights only again: the cached image pulls, an uncached tag is unknown
            grant()
            _, _, _, dest = pull(srv, "hub/library/authz:v1", "authz-cached", creds=("AWS", token))
            self.assertPulled(dest, one)
            self.assertV2(manifest(srv, "hub/library/authz", "v2", auth_header=basic), 404, "MANIFEST_UNKNOWN")
            # importing without CreateRepository: enough where the repository exists
            grant("ecr:BatchImportUpstreamImage")
            r = manifest(srv, "hub/library/authz", "v2", auth_header=basic)
            self.assertEqual((r.status, r.body), (200, two["manifest_raw"]), r.describe())
            self.assertV2(manifest(srv, "hub/library/authz-new", "v1", auth_header=basic), 404, "NAME_UNKNOWN")
            self.assertIsNone(images_of(srv, "hub/library/authz-new"))
            wait_for_image(self, srv, "hub/library/authz", two["manifest"]["digest"], "v2")
        finally:
            srv.stop()
            srv.cleanup()


# ====================================================================== 9
class Test09DeleteRule(PtcCase):

    def test_deleted_rule_keeps_the_cache_and_imports_nothing_new(self):
        ecr = client("ecr", CACHE)
        add_rule(CACHE, "gone", PORTS["ref"])
        one = IMAGES["gone1"]
        _, _, _, dest = pull(CACHE, "gone/library/gone1:v1", "gone1")
        self.assertPulled(dest, one)
        wait_for_image(self, CACHE, "gone/library/gone1", one["manifest"]["digest"], "v1")
        out = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="gone")
        self.assertEqual((out["ecrRepositoryPrefix"], out["upstreamRegistryUrl"]), ("gone", REF.hostport))
        code, _ = error_of(ecr.describe_pull_through_cache_rules, ecrRepositoryPrefixes=["gone"])
        self.assertEqual(code, "PullThroughCacheRuleNotFoundException")
        code, _ = error_of(ecr.validate_pull_through_cache_rule, ecrRepositoryPrefix="gone")
        self.assertEqual(code, "PullThroughCacheRuleNotFoundException")
        self.assertV2(manifest(CACHE, "gone/library/gone2", "v1"), 404, "NAME_UNKNOWN")
        rc, out, err, _ = pull(CACHE, "gone/library/gone2:v1", "gone2", check=False)
        self.assertNotEqual(rc, 0, out + err)
        self.assertIsNone(images_of(CACHE, "gone/library/gone2"))
        _, _, _, dest = pull(CACHE, "gone/library/gone1:v1", "gone1-again")
        self.assertPulled(dest, one)
        self.assertV2(manifest(CACHE, "gone/library/gone1", "v2"), 404, "MANIFEST_UNKNOWN")
        fsck(self, CACHE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
