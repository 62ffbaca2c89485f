"""Berth serving HTTPS: `berth cert generate`, `berth serve --tls-cert/--tls-key`,
Python ssl clients (protocol versions, plain HTTP on the TLS port, blobs and
ranges through the chunked TLS send path, the connection limit), SIGHUP
certificate reloads, aws-cli v2/v1 with --ca-bundle, and skopeo + a private
dockerd pushing and pulling over TLS with authentication on.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_tls.py
(from tests/integration/).  About a minute; loopback only.  A client that is
missing is skipped (loudly).

The docker test writes /etc/docker/certs.d/127.0.0.1:PORT/ca.crt (dockerd has
no flag to move certs.d; the tests run as root) and removes it afterwards.
dockerd always treats 127.0.0.0/8 registries as insecure: it then talks TLS
without verifying the certificate (and would fall back to plain HTTP).  The
server under test speaks TLS only, so a successful docker push/pull proves that
TLS was used; certificate verification is proven by skopeo and aws-cli instead.

Environment: BERTH_AWS_CLI_V1 / BERTH_AWS_CLI_V2, BERTH_DOCKER_CLI, BERTH_DOCKERD
(as in test_ecr_awscli.py / test_clients.py).
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, berth_bin, docker_login_with_aws, sha256, strip_origin, tls_client_context,
    OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST,
)
from test_clients import Layout  # noqa: E402
from private_dockerd import PrivateDockerd  # noqa: E402
from test_ecr_awscli import find_cli  # noqa: E402

CMD_TIMEOUT = 120
HOSTNAME = "berth-tls.test"
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
MiB = 1 << 20

WORK = None
CERTS = None        # dir of the first `berth cert generate` (the served set)
SERVER = None       # auth sigv4, v2_auth, TLS with CERTS, debug log


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def run(cmd, timeout=CMD_TIMEOUT, env=None, check=True, input_data=None, stdin=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, input=input_data,
                           stdin=stdin if stdin is not None else (
                               None if input_data is not None else subprocess.DEVNULL),
                           capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s\n%s" % (timeout, " ".join(cmd), e.stderr))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    shown = " ".join(cmd)
    if len(shown) > 200:
        shown = shown[:90] + " ... " + shown[-100:]
    sys.stderr.write("  $ %s  [%.1fs, rc=%d]\n" % (shown, time.monotonic() - t0, p.returncode))
    if check and p.returncode != 0:
        raise AssertionError("command failed (rc=%d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            p.returncode, " ".join(cmd), out[-3000:], err[-3000:]))
    return p.returncode, out, err


def generate(out_dir, hostname=HOSTNAME):
    run([berth_bin(), "cert", "generate", "--hostname", hostname, "--out", out_dir])
    return out_dir


def tls_args(cert_dir):
    return ["--tls-cert", os.path.join(cert_dir, "server.crt"),
            "--tls-key", os.path.join(cert_dir, "server.key")]


def setUpModule():
    global WORK, CERTS, SERVER
    if not os.path.exists(berth_bin()):
        raise unittest.SkipTest("berth binary not found: %s (set BERTH_BIN)" % berth_bin())
    WORK = tempfile.mkdtemp(prefix="berth-tls-")
    try:
        CERTS = generate(os.path.join(WORK, "certs"))
        SERVER = BerthServer("tls", auth="sigv4", v2_auth=True, tls_ca=os.path.join(CERTS, "ca.crt"),
                             extra_args=tls_args(CERTS) + ["--log-level", "debug"])
        SERVER.start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global SERVER
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()
        SERVER = None
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


def ca_of(cert_dir):
    return os.path.join(cert_dir, "ca.crt")


def https_get(port, path, cafile, headers=None, timeout=30):
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                       context=tls_client_context(cafile))
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def openssl(*args):
    return run(["openssl"] + list(args))[1]


class LogOnFailure(unittest.TestCase):
    srv = None     # the server whose log is shown on failure (default SERVER)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        srv = self.srv or SERVER
        if len(result.failures) + len(result.errors) > before and srv is not None:
            srv.dump_log(tail=40)
        return out


# ------------------------------------------------------------ cert generate
class TestCertGenerate(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            loud_skip("openssl not found")

    def test_files_modes_chain_and_names(self):
        d = CERTS
        for name in ("ca.crt", "ca.key", "server.crt", "server.key"):
            self.assertTrue(os.path.isfile(os.path.join(d, name)), name)
        for key in ("ca.key", "server.key"):
            mode = os.stat(os.path.join(d, key)).st_mode & 0o777
            self.assertEqual(mode, 0o600, "%s has mode %o" % (key, mode))
        out = openssl("verify", "-CAfile", ca_of(d), os.path.join(d, "server.crt"))
        self.assertEqual(out.strip(), "%s: OK" % os.path.join(d, "server.crt"))
        san = openssl("x509", "-in", os.path.join(d, "server.crt"), "-noout", "-ext", "subjectAltName")
        self.assertIn("DNS:" + HOSTNAME, san)
        self.assertIn("DNS:localhost", san)
        self.assertIn("IP Address:127.0.0.1", san)
        ext = openssl("x509", "-in", os.path.join(d, "server.crt"), "-noout", "-ext",
                      "basicConstraints,extendedKeyUsage")
        self.assertIn("CA:FALSE", ext)
        self.assertIn("TLS Web Server Authentication", ext)
        self.assertIn("CA:TRUE", openssl("x509", "-in", ca_of(d), "-noout", "-ext", "basicConstraints"))
        # server.crt is the chain: the leaf, then exactly the CA certificate
        with open(os.path.join(d, "server.crt")) as f:
            pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)
        with open(ca_of(d)) as f:
            ca_pem = f.read().strip()
        self.assertEqual(len(pems), 2, "server.crt should hold the leaf and the CA")
        self.assertEqual(pems[1].strip(), ca_pem)
        # the key belongs to the leaf certificate
        leaf_pub = openssl("x509", "-in", os.path.join(d, "server.crt"), "-noout", "-pubkey")
        key_pub = openssl("pkey", "-in", os.path.join(d, "server.key"), "-pubout")
        self.assertEqual(leaf_pub.strip(), key_pub.strip())
        # and the CA key signs the CA certificate
        ca_pub = openssl("x509", "-in", ca_of(d), "-noout", "-pubkey")
        self.assertEqual(ca_pub.strip(), openssl("pkey", "-in", os.path.join(d, "ca.key"), "-pubout").strip())

    def test_hostname_required_and_fresh_ca_each_time(self):
        rc, out, err = run([berth_bin(), "cert", "generate", "--out", os.path.join(WORK, "nohost")],
                           check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("--hostname", err)
        self.assertFalse(os.path.exists(os.path.join(WORK, "nohost", "server.key")))
        other = generate(os.path.join(WORK, "gen-other"), "other.example")
        with open(ca_of(other)) as a, open(ca_of(CERTS)) as b:
            self.assertNotEqual(a.read(), b.read())
        rc, out, err = run(["openssl", "verify", "-CAfile", ca_of(CERTS),
                            os.path.join(other, "server.crt")], check=False)
        self.assertNotEqual(rc, 0, "a certificate of another CA verified: " + out)


    def test_ecr_hostnames_name_every_endpoint_ecr_clients_address(self):
        d = os.path.join(WORK, "gen-ecr")
        rc, out, err = run([berth_bin(), "cert", "generate", "--ecr-hostnames", "--account", "123456789012",
                            "--region", "eu-west-1", "--out", d])
        registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        names = [registry, "api.ecr.eu-west-1.amazonaws.com", "ecr.eu-west-1.amazonaws.com",
                 "sts.eu-west-1.amazonaws.com", "sts.amazonaws.com", "iam.amazonaws.com",
                 "secretsmanager.eu-west-1.amazonaws.com"]
        self.assertIn(", ".join(names), out)
        san = openssl("x509", "-in", os.path.join(d, "server.crt"), "-noout", "-ext", "subjectAltName")
        self.assertEqual(re.findall(r"DNS:([^,\s]+)", san), names + ["localhost"])
        self.assertIn("CN = " + registry, openssl("x509", "-in", os.path.join(d, "server.crt"), "-noout",
                                                  "-subject"))
        # A client that checks the name accepts each of them from a server with this certificate.
        srv = BerthServer("tls-ecr-names", auth="none", tls_ca=ca_of(d), extra_args=tls_args(d))
        srv.start()
        self.addCleanup(srv.cleanup)
        for name in names:
            ctx = ssl.create_default_context(cafile=ca_of(d))
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                                 server_hostname=name) as s:
                self.assertIn(name, [v for k, v in s.getpeercert()["subjectAltName"] if k == "DNS"])
        ctx = ssl.create_default_context(cafile=ca_of(d))
        with self.assertRaises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                            server_hostname="999999999999.dkr.ecr.eu-west-1.amazonaws.com")

    def test_ecr_hostnames_need_an_account_and_a_region(self):
        for args, why in ((["--region", "us-east-1"], "--account ID"), (["--account", "12345", "--region", "x"],
                                                                         "--account ID"),
                          (["--account", "123456789012"], "--region REGION"),
                          (["--account", "123456789012", "--region", "us.east"], "--region REGION")):
            out_dir = os.path.join(WORK, "gen-ecr-bad")
            rc, out, err = run([berth_bin(), "cert", "generate", "--ecr-hostnames", "--out", out_dir] + args,
                               check=False)
            self.assertEqual(rc, 1, (args, err))
            self.assertIn(why, err, args)
            self.assertFalse(os.path.exists(os.path.join(out_dir, "server.key")))
        rc, out, err = run([berth_bin(), "cert", "generate", "--hostname", "h", "--account", "123456789012",
                            "--out", os.path.join(WORK, "gen-ecr-bad")], check=False)
        self.assertEqual(rc, 1)
        self.assertIn("--account and --region go with --ecr-hostnames", err)


# ------------------------------------------------------------ Python clients
class TestTlsClient(LogOnFailure):

    @classmethod
    def setUpClass(cls):
        cls.repo = "tls/blobs"
        SERVER.create_repository(cls.repo)

    def test_v2_base_over_tls_versions(self):
        r = SERVER.req("GET", "/v2/")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), "registry/2.0")
        r = SERVER.req("GET", "/v2/", auth=False)
        self.assertEqual(r.status, 401, r.describe())
        self.assertIn("Basic", r.headers.get("WWW-Authenticate", ""))
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_client_context(ca_of(CERTS))
            ctx.minimum_version = ctx.maximum_version = v
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", SERVER.port), timeout=10),
                                 server_hostname="127.0.0.1") as s:
                self.assertEqual(s.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                               ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v])
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                # unauthenticated: 401 is the answer of a working HTTP layer
                self.assertTrue(data.startswith(b"HTTP/1.1 401"), data[:200])
        # the name in the certificate is checked too (localhost is in the SAN, a stranger is not)
        ctx = tls_client_context(ca_of(CERTS))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", SERVER.port), timeout=10),
                             server_hostname="localhost"):
            pass
        with self.assertRaises(ssl.SSLCertVerificationError):
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", SERVER.port), timeout=10),
                                 server_hostname="not-the-server.example"):
                pass

    def _old_tls_context(self, version):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca_of(CERTS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
        # OpenSSL 3 refuses TLS < 1.2 at the default security level: the client must
        # really offer the old protocol, or the test would prove nothing
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        return ctx

    def test_tls_1_0_and_1_1_refused(self):
        for version in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
            with self.subTest(version=version.name):
                ctx = self._old_tls_context(version)
                sock = socket.create_connection(("127.0.0.1", SERVER.port), timeout=10)
                try:
                    with self.assertRaises((ssl.SSLError, ConnectionError)) as cm:
                        s = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
                        s.close()
                        self.fail("handshake succeeded with %s" % version.name)
                finally:
                    sock.close()
                # the server's refusal (an alert, or a closed connection), not a client
                # that never offered the protocol (NO_PROTOCOLS_AVAILABLE, NO_CIPHERS...)
                if isinstance(cm.exception, ssl.SSLError):
                    self.assertIn(cm.exception.reason, (
                        "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "WRONG_VERSION_NUMBER",
                        "UNEXPECTED_EOF_WHILE_READING", "TLSV1_ALERT_INSUFFICIENT_SECURITY"),
                        str(cm.exception))
        self.assertEqual(SERVER.req("GET", "/v2/").status, 200)

    def test_plain_http_on_tls_port(self):
        # Answered as Go servers answer it: a 400 with a one-line hint, then closed.
        t0 = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", SERVER.port), timeout=15)
        data = b""
        try:
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while len(data) < 65536:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            self.fail("plain HTTP request left hanging for 15s (got %r)" % data[:200])
        finally:
            sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.0 400 Bad Request\r\n"), data[:300])
        self.assertTrue(data.endswith(b"\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"), data[:300])
        self.assertLess(time.monotonic() - t0, 15)
        with self.assertRaises(urllib.error.HTTPError) as raised:
            with urllib.request.urlopen("http://%s/v2/" % SERVER.hostport, timeout=15) as resp:
                self.fail("plain HTTP answered %d" % resp.status)
        self.assertEqual(raised.exception.code, 400)
        self.assertTrue(SERVER.running())
        self.assertEqual(SERVER.req("GET", "/v2/").status, 200)

    def test_blob_push_get_range_exact_bytes(self):
        data = os.urandom(5 * MiB + 12345)
        digest = SERVER.push_blob(self.repo, data)
        self.assertEqual(digest, sha256(data))
        path = "/v2/%s/blobs/%s" % (self.repo, digest)
        r = SERVER.req("GET", path)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), len(data))
        self.assertTrue(r.body == data, "full GET over TLS returned different bytes")
        r = SERVER.req("HEAD", path)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.headers["Content-Length"], str(len(data)))
        for first, last in ((1234567, 4999999), (0, 0), (len(data) - 300000, len(data) - 1)):
            r = SERVER.req("GET", path, headers={"Range": "bytes=%d-%d" % (first, last)})
            self.assertEqual(r.status, 206, r.describe())
            self.assertEqual(r.headers["Content-Range"], "bytes %d-%d/%d" % (first, last, len(data)))
            self.assertTrue(r.body == data[first:last + 1],
                            "range %d-%d: %d bytes, wrong content" % (first, last, len(r.body)))
        # keep-alive: several file responses on one TLS connection stay in sync
        conn = http.client.HTTPSConnection("127.0.0.1", SERVER.port, timeout=60,
                                           context=SERVER.ssl_context())
        try:
            for i in range(3):
                conn.request("GET", path, headers=SERVER.basic_auth_header())
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual(resp.status, 200)
                self.assertTrue(body == data, "keep-alive GET #%d differs" % i)
            conn.request("GET", "/v2/", headers=SERVER.basic_auth_header())
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"{}"))
        finally:
            conn.close()

    def test_streamed_patch_upload_over_tls(self):
        data = os.urandom(3 * MiB + 777)
        r = SERVER.req("POST", "/v2/%s/blobs/uploads/" % self.repo)
        self.assertEqual(r.status, 202, r.describe())
        loc = strip_origin(r.headers["Location"])
        chunks = (data[i:i + 100000] for i in range(0, len(data), 100000))
        r = SERVER.req("PATCH", loc, body=chunks, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 202, r.describe())
        loc = strip_origin(r.headers["Location"])
        r = SERVER.req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(data))
        self.assertEqual(r.status, 201, r.describe())
        r = SERVER.req("GET", "/v2/%s/blobs/%s" % (self.repo, sha256(data)))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body == data)

    def test_ecr_urls_are_https(self):
        data = SERVER.authorization_data()
        self.assertEqual(data["proxyEndpoint"], "https://" + SERVER.hostport)
        layer = os.urandom(2 * MiB + 1)
        digest = SERVER.push_blob(self.repo, layer)
        doc = SERVER.ecr("GetDownloadUrlForLayer", {"repositoryName": self.repo, "layerDigest": digest})
        url = doc["downloadUrl"]
        self.assertTrue(url.startswith("https://%s/" % SERVER.hostport), url)
        with urllib.request.urlopen(url, timeout=60, context=SERVER.ssl_context()) as resp:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.read() == layer, "download URL over TLS returned different bytes")
        repo = SERVER.ecr("DescribeRepositories", {"repositoryNames": [self.repo]})["repositories"][0]
        self.assertEqual(repo["repositoryUri"], "%s/%s" % (SERVER.hostport, self.repo))


class TestTlsConnectionLimit(LogOnFailure):
    """Over http.max_connections the 429 answer is sent through TLS too."""

    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer("tls-limit", auth="none", tls_ca=ca_of(CERTS),
                              config={"http": {"max_connections": 2}}, extra_args=tls_args(CERTS))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def _conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.srv.port, timeout=15,
                                           context=self.srv.ssl_context())

    def _get(self, conn):
        conn.request("GET", "/v2/")
        resp = conn.getresponse()
        return resp.status, resp.read()

    def test_limit_answers_429_over_tls(self):
        held = [self._conn(), self._conn()]
        try:
            for c in held:
                self.assertEqual(self._get(c), (200, b"{}"))
            third = self._conn()
            try:
                st, body = self._get(third)
            finally:
                third.close()
            self.assertEqual(st, 429, body)
            self.assertIn(b"TOOMANYREQUESTS", body)
            # the held connections still work
            self.assertEqual(self._get(held[0])[0], 200)
        finally:
            for c in held:
                c.close()
        deadline = time.monotonic() + 10
        while True:
            c = self._conn()
            try:
                st, _ = self._get(c)
            finally:
                c.close()
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200, "connections closed but still refused")

    def test_stalled_handshakes_count_toward_the_limit(self):
        # Two connections that never send a ClientHello fill the limit: a third TLS client is
        # closed before its handshake instead of being served, until the stalled ones go away.
        stalled = [socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.3)  # let the server accept both
            third = self._conn()
            try:
                with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                    self._get(third)
            finally:
                third.close()
        finally:
            for s in stalled:
                s.close()
        deadline = time.monotonic() + 10
        while True:
            c = self._conn()
            try:
                st, _ = self._get(c)
            except (ssl.SSLError, ConnectionError, OSError):
                st = None
            finally:
                c.close()
            if st == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200, "stalled handshakes closed but new connections still refused")


# ------------------------------------------------------------------- SIGHUP
class TestReload(LogOnFailure):
    """Certificate and key replaced on disk + SIGHUP."""

    @classmethod
    def setUpClass(cls):
        cls.set_a = CERTS
        cls.set_b = generate(os.path.join(WORK, "certs-b"), "reloaded.example")
        cls.served = os.path.join(WORK, "served")
        os.makedirs(cls.served)
        for name in ("server.crt", "server.key"):
            shutil.copy2(os.path.join(cls.set_a, name), os.path.join(cls.served, name))
        cls.srv = BerthServer("tls-reload", auth="none", tls_ca=ca_of(cls.set_a),
                              extra_args=tls_args(cls.served))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def install(self, src_dir=None, crt=None, key=None):
        if src_dir:
            crt = read(os.path.join(src_dir, "server.crt"))
            key = read(os.path.join(src_dir, "server.key"))
        for name, data in (("server.crt", crt), ("server.key", key)):
            p = os.path.join(self.served, name)
            if data is None:
                if os.path.exists(p):
                    os.unlink(p)
                continue
            with open(p, "wb") as f:
                f.write(data)

    def hup(self, expect):
        """SIGHUP; wait for a log line containing `expect` that was not there before."""
        before = self.srv.log_text().count(expect)
        self.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.srv.log_text().count(expect) > before:
                break
            time.sleep(0.05)
        else:
            self.fail("no new log line %r within 10s after SIGHUP" % expect)
        self.assertTrue(self.srv.running(), "server exited on SIGHUP")

    def verifies(self, cert_dir):
        try:
            st, body = https_get(self.srv.port, "/v2/", ca_of(cert_dir))
            return st == 200
        except ssl.SSLCertVerificationError:
            return False

    def setUp(self):
        # every test starts from set A being served
        self.install(self.set_a)
        self.hup("reloaded the TLS certificate")
        self.assertTrue(self.verifies(self.set_a))

    def peer_cn(self, cert_dir):
        ctx = tls_client_context(ca_of(cert_dir))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.srv.port), timeout=10),
                             server_hostname="127.0.0.1") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]

    def test_reload_to_new_ca(self):
        # a connection opened before the reload keeps working afterwards
        old = http.client.HTTPSConnection("127.0.0.1", self.srv.port, timeout=15,
                                          context=tls_client_context(ca_of(self.set_a)))
        try:
            old.request("GET", "/v2/")
            self.assertEqual(old.getresponse().read(), b"{}")
            self.install(self.set_b)
            self.hup("reloaded the TLS certificate")
            self.assertTrue(self.verifies(self.set_b), "new connection does not verify against the new CA")
            self.assertFalse(self.verifies(self.set_a), "new connection still verifies against the old CA")
            self.assertEqual(self.peer_cn(self.set_b), "reloaded.example")
            old.request("GET", "/v2/")
            resp = old.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"{}"))
        finally:
            old.close()
        self.assertTrue(self.srv.running())

    def test_bad_files_keep_previous_certificate(self):
        cases = [
            ("garbage", b"this is not a certificate\n", b"nor a key\n"),
            ("key of another certificate",
             read(os.path.join(self.set_a, "server.crt")),
             read(os.path.join(self.set_b, "server.key"))),
            ("truncated certificate",
             read(os.path.join(self.set_b, "server.crt"))[:200],
             read(os.path.join(self.set_b, "server.key"))),
            ("key file missing", read(os.path.join(self.set_b, "server.crt")), None),
        ]
        for what, crt, key in cases:
            with self.subTest(what):
                self.install(crt=crt, key=key)
                self.hup("keeping the current certificate")
                self.assertIn("error", [ln for ln in self.srv.log_text().splitlines()
                                        if "keeping the current certificate" in ln][-1])
                self.assertTrue(self.verifies(self.set_a), "previous certificate no longer served")
                self.assertEqual(self.peer_cn(self.set_a), HOSTNAME)
        # good files again: reloads fine
        self.install(self.set_b)
        self.hup("reloaded the TLS certificate")
        self.assertTrue(self.verifies(self.set_b))
        self.assertTrue(self.srv.running())


# ------------------------------------------------------------------- aws-cli
def aws_env(access_key, secret, extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                     "SSL_CERT_FILE", "SSL_CERT_DIR")}
    cfg = os.path.join(WORK, "aws-empty")
    if not os.path.exists(cfg):
        open(cfg, "w").close()
    env.update(AWS_CONFIG_FILE=cfg, AWS_SHARED_CREDENTIALS_FILE=cfg, AWS_EC2_METADATA_DISABLED="true",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard",
               AWS_DEFAULT_REGION=SERVER.region, AWS_ACCESS_KEY_ID=access_key,
               AWS_SECRET_ACCESS_KEY=secret)
    env.update(extra or {})
    return env


def aws(cli, args, ca_bundle=True, check=True, extra_env=None):
    cmd = list(cli) + ["ecr"] + list(args) + ["--output", "json", "--endpoint-url", SERVER.base,
                                              "--cli-connect-timeout", "10", "--cli-read-timeout", "60"]
    if ca_bundle:
        cmd += ["--ca-bundle", ca_of(CERTS)]
    ak, sk = SERVER.root_credentials()
    return run(cmd, env=aws_env(ak, sk, extra_env), check=check)


SSL_FAILURE = r"SSL validation failed|CERTIFICATE_VERIFY_FAILED|certificate verify failed"


class TestAwsCli(LogOnFailure):

    def check_cli(self, major):
        found = find_cli(major)
        if not found:
            loud_skip("aws-cli v%d not found" % major)
        cli, version = found
        sys.stderr.write("  using %s (%s)\n" % (" ".join(cli), version))
        repo = "tls/awscli-v%d" % major
        aws(cli, ["create-repository", "--repository-name", repo])
        rc, out, err = aws(cli, ["describe-repositories"])
        names = [r["repositoryName"] for r in json.loads(out)["repositories"]]
        self.assertIn(repo, names)
        doc = json.loads(aws(cli, ["get-authorization-token"])[1])
        self.assertEqual(doc["authorizationData"][0]["proxyEndpoint"], "https://" + SERVER.hostport)
        rc, pw, err = aws(cli, ["get-login-password"])
        self.assertTrue(pw.strip())
        # without the CA: certificate verification fails
        rc, out, err = aws(cli, ["describe-repositories"], ca_bundle=False, check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(err, SSL_FAILURE)
        # AWS_CA_BUNDLE works like --ca-bundle; a wrong CA fails
        rc, out, err = aws(cli, ["describe-repositories"], ca_bundle=False,
                           extra_env={"AWS_CA_BUNDLE": ca_of(CERTS)})
        other = os.path.join(WORK, "gen-wrong-ca")
        if not os.path.exists(ca_of(other)):
            generate(other, "wrong.example")
        rc, out, err = aws(cli, ["describe-repositories"], ca_bundle=False, check=False,
                           extra_env={"AWS_CA_BUNDLE": ca_of(other)})
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(err, SSL_FAILURE)

    def test_awscli_v2(self):
        self.check_cli(2)

    def test_awscli_v1(self):
        self.check_cli(1)


# -------------------------------------------------------- skopeo + dockerd
class TestDockerOverTls(LogOnFailure):
    """skopeo pushes an OCI image (verifying the CA), aws get-login-password |
    docker login, docker pull / tag / push / rmi / pull, all against the
    TLS-only server with authentication on."""

    certs_d_created = []     # paths this class created under /etc/docker

    @classmethod
    def setUpClass(cls):
        cls.dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not cls.dockerd or not os.path.exists(cls.dockerd):
            loud_skip("dockerd not found (Debian package docker.io)")
        cls.docker_cli = os.environ.get("BERTH_DOCKER_CLI") or \
            ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker"))
        if not cls.docker_cli:
            loud_skip("docker client not found")
        if not shutil.which("skopeo"):
            loud_skip("skopeo not found")
        found = find_cli(2) or find_cli(1)
        if not found:
            loud_skip("no aws cli found")
        cls.aws_cli = found[0]
        if os.geteuid() != 0:
            loud_skip("not root: cannot write /etc/docker/certs.d")
        cls.dir = tempfile.mkdtemp(prefix="berth-tls-dockerd-", dir="/tmp")
        cls.proc = None
        cls.log = None
        try:
            cls._install_certs_d()
            cls._start_dockerd()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _install_certs_d(cls):
        certs_d = "/etc/docker/certs.d"
        host_dir = os.path.join(certs_d, SERVER.hostport)
        for d in ("/etc/docker", certs_d, host_dir):
            if not os.path.isdir(d):
                os.makedirs(d)
                cls.certs_d_created.append(d)
        dst = os.path.join(host_dir, "ca.crt")
        shutil.copyfile(ca_of(CERTS), dst)
        cls.certs_d_created.append(dst)
        atexit.register(cls._remove_certs_d)     # also when the run is interrupted

    @classmethod
    def _remove_certs_d(cls):
        for p in reversed(cls.certs_d_created):
            try:
                if os.path.isdir(p):
                    os.rmdir(p)          # only when empty
                else:
                    os.unlink(p)
            except OSError as e:
                sys.stderr.write("could not remove %s: %s\n" % (p, e))
        cls.certs_d_created = []

    @classmethod
    def _start_dockerd(cls):
        # no --insecure-registry: 127.0.0.0/8 is dockerd's built-in insecure range anyway
        cls.daemon = PrivateDockerd(cls.dockerd, cls.dir)
        cls.proc = True
        cls.daemon.start()
        cls.sock = cls.daemon.sock
        cls.log_path = cls.daemon.log_path
        cls.env = cls.daemon.env

    @classmethod
    def stop_dockerd(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.stop()
        cls.proc = None

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop_dockerd()
        finally:
            cls._remove_certs_d()
            if not os.environ.get("BERTH_KEEP_LOGS"):
                subprocess.run(["rm", "-rf", cls.dir], timeout=120)

    def docker(self, *args, check=True, stdin=None, input_data=None):
        return run([self.docker_cli] + list(args), env=self.env, check=check, stdin=stdin,
                   input_data=input_data, timeout=180)

    def image_id(self, ref):
        return self.docker("image", "inspect", "--format", "{{.Id}}", ref)[1].strip()

    def skopeo(self, *args, check=True):
        policy = os.path.join(self.dir, "policy.json")
        if not os.path.exists(policy):
            with open(policy, "w") as f:
                json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
        env = dict(os.environ, REGISTRY_AUTH_FILE=os.path.join(self.dir, "skopeo-auth.json"))
        return run(["skopeo", "--policy", policy] + list(args), env=env, check=check)

    def login_pipe(self):
        ak, sk = SERVER.root_credentials()
        docker_login_with_aws(self, list(self.aws_cli) + ["--endpoint-url", SERVER.base, "--ca-bundle", ca_of(CERTS)],
                              aws_env(ak, sk), self.docker, SERVER.hostport)

    def test_skopeo_docker_push_pull(self):
        hp = SERVER.hostport
        for repo in ("tls/base", "tls/docker-pushed"):
            aws(self.aws_cli, ["create-repository", "--repository-name", repo])
        lay = Layout(os.path.join(self.dir, "layout"))
        img = lay.add_image("amd64", [
            ([("etc/berth-tls.txt", b"hello over tls\n"), ("data/run", b"#!/bin/sh\necho hi\n")], True),
            ([("data/random.bin", os.urandom(3 * MiB))], True),
        ], tag="v1")
        lay.finish()
        want_id = img["config_digest"]
        token = SERVER.login_token()
        src_ref = "docker://%s/tls/base:v1" % hp

        # skopeo verifies the certificate: with a cert dir that lacks the CA it refuses
        # (without --dest-cert-dir it would read /etc/docker/certs.d/HOST:PORT, set up above) ...
        empty = os.path.join(self.dir, "no-certs")
        os.makedirs(empty, exist_ok=True)
        rc, out, err = self.skopeo("copy", "--dest-cert-dir", empty, "--dest-creds", "AWS:" + token,
                                   "oci:%s:v1" % lay.path, src_ref, check=False)
        self.assertNotEqual(rc, 0, "skopeo pushed without knowing the CA:\n" + out)
        self.assertRegex(err, r"x509|certificate", err[-1500:])
        # ... and with it (a directory holding only ca.crt) the push succeeds
        cert_dir = os.path.join(self.dir, "skopeo-certs")
        os.makedirs(cert_dir, exist_ok=True)
        shutil.copyfile(ca_of(CERTS), os.path.join(cert_dir, "ca.crt"))
        self.skopeo("copy", "--dest-cert-dir", cert_dir, "--dest-creds", "AWS:" + token,
                    "oci:%s:v1" % lay.path, src_ref)
        r = SERVER.req("GET", "/v2/tls/base/manifests/v1", headers={"Accept": ACCEPT_ALL})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(json.loads(r.body)["config"]["digest"], want_id)

        # docker: not logged in -> refused; logged in through aws-cli over TLS -> works
        src = "%s/tls/base:v1" % hp
        rc, out, err = self.docker("pull", src, check=False)
        self.assertNotEqual(rc, 0, out)
        self.login_pipe()
        self.docker("pull", src)
        self.assertEqual(self.image_id(src), want_id)

        dst = "%s/tls/docker-pushed:v1" % hp
        self.docker("tag", src, dst)
        rc, out, err = self.docker("push", dst)
        m = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
        self.assertTrue(m, out)
        r = SERVER.req("GET", "/v2/tls/docker-pushed/manifests/v1", headers={"Accept": ACCEPT_ALL})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(sha256(r.body), m.group(1))
        self.assertEqual(json.loads(r.body)["config"]["digest"], want_id)

        self.docker("rmi", "-f", want_id)
        self.assertEqual(self.docker("images", "-q")[1].strip(), "")
        self.docker("pull", dst)
        self.assertEqual(self.image_id(dst), want_id)

        # the server speaks TLS only, so every request it logged came over TLS; docker's
        # manifest PUT is among them (no silent fall-back to plain HTTP was possible)
        log = SERVER.log_text()
        self.assertRegex(log, r"PUT /v2/tls/docker-pushed/manifests/v1 201")
        self.assertTrue(SERVER.running())


if __name__ == "__main__":
    unittest.main(verbosity=2)
