"""Resource limits (docs/configuration.md), each pushed past its configured value:

  http.max_connections                beyond it a new connection gets an immediate 429 with
                                      {"errors":[{"code":"TOOMANYREQUESTS",...}]} and Retry-After,
                                      then is closed; closing connections frees their slots
  http.header_timeout_seconds         a slowloris client (one header byte per second) is cut off
                                      by the deadline, while other clients are served
  http.max_header_bytes               request line + headers beyond it: 431, connection closed
  uploads.max_sessions_per_repository POST .../blobs/uploads/ beyond it: 429 TOOMANYREQUESTS;
                                      InitiateLayerUpload: ThrottlingException; per repository;
                                      finishing or cancelling a session frees a slot
  http.max_json_body_bytes            ECR JSON API body beyond it: 413 SerializationException
                                      (Content-Length and chunked); V2 manifests unaffected

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_limits.py   (~25 s)
"""

import http.client
import json
import os
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, http_request, sha256, strip_origin, ECR_TARGET_PREFIX, ECR_CONTENT_TYPE,
)
import rawhttp  # noqa: E402
from rawhttp import exchange, request_bytes  # noqa: E402

MAX_CONNECTIONS = 8
HEADER_TIMEOUT = 3
MAX_HEADER_BYTES = 8192
MAX_SESSIONS = 4
MAX_JSON_BODY = 65536


class LimitsBase(unittest.TestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer(cls.__name__, auth="none", config=cls.config)
        cls.srv.start()
        cls.srv.enable_create_on_push()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self.srv.dump_log(tail=30)
        return out


class TestMaxConnections(LimitsBase):
    config = {"http": {"max_connections": MAX_CONNECTIONS, "header_timeout_seconds": 30}}

    def open_busy(self, n):
        """n keep-alive connections, each with one answered request (so the server counts them)."""
        conns = []
        for _ in range(n):
            c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
            c.request("GET", "/v2/")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            conns.append(c)
        return conns

    def refused_at_once(self, send_request):
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            t0 = time.monotonic()
            if send_request:
                sock.sendall(request_bytes("GET", "/v2/"))
            reader = rawhttp._Reader(sock)
            r = rawhttp.read_response(reader)
            took = time.monotonic() - t0
            self.assertIsInstance(r, rawhttp.RawResponse, "connection closed without an answer")
            self.assertEqual(r.status, 429, r)
            self.assertEqual(r.json()["errors"][0]["code"], "TOOMANYREQUESTS", r)
            self.assertIsNotNone(r.header("Retry-After"), r)
            self.assertLess(took, 1.0, "the 429 was not immediate (%.2fs)" % took)
            # ... then the server closes
            sock.settimeout(3)
            closed = rawhttp.wait_closed(sock, 3)
            self.assertIsNotNone(closed, "the refused connection was left open")
            return took
        finally:
            sock.close()

    def test_connection_limit(self):
        conns = self.open_busy(MAX_CONNECTIONS)
        try:
            took = self.refused_at_once(send_request=False)
            self.refused_at_once(send_request=True)
            print("  connection #%d refused with 429 after %.3fs" % (MAX_CONNECTIONS + 1, took))
            # the busy connections still work
            conns[0].request("GET", "/v2/")
            r = conns[0].getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            # closing some frees their slots
            for c in conns[:3]:
                c.close()
            conns = conns[3:]
            deadline = time.monotonic() + 5
            while True:
                st, _, _ = http_request("127.0.0.1", self.srv.port, "GET", "/v2/", timeout=5)
                if st == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(st, 200, "slots were not freed after closing connections")
        finally:
            for c in conns:
                c.close()

    def test_refusals_do_not_leak_slots(self):
        conns = self.open_busy(MAX_CONNECTIONS)
        try:
            for _ in range(20):
                self.refused_at_once(send_request=True)
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + 5
        ok = 0
        while time.monotonic() < deadline and ok < MAX_CONNECTIONS:
            more = []
            try:
                more = self.open_busy(MAX_CONNECTIONS)
                ok = len(more)
            except (AssertionError, OSError, http.client.HTTPException):
                time.sleep(0.2)
            finally:
                for c in more:
                    c.close()
        self.assertEqual(ok, MAX_CONNECTIONS, "after 20 refusals the server no longer accepts %d connections"
                         % MAX_CONNECTIONS)


class TestRequestLimits(LimitsBase):
    config = {"http": {"header_timeout_seconds": HEADER_TIMEOUT, "max_header_bytes": MAX_HEADER_BYTES,
                       "max_json_body_bytes": MAX_JSON_BODY},
              "uploads": {"max_sessions_per_repository": MAX_SESSIONS}}

    # ------------------------------------------------------------ header timeout
    def test_slowloris_cut_off(self):
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        served = {}

        def other_client():
            t = time.monotonic()
            st, _, _ = http_request("127.0.0.1", self.srv.port, "GET", "/v2/", timeout=5)
            served["status"], served["seconds"] = st, time.monotonic() - t

        try:
            t0 = time.monotonic()
            sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            closed_at = None
            answer = b""
            other = None
            for i in range(HEADER_TIMEOUT + 8):
                if i == 1:
                    other = threading.Thread(target=other_client)
                    other.start()
                r, _, _ = select.select([sock], [], [], 1.0)
                if r:
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        closed_at = time.monotonic() - t0
                        break
                    answer += data
                try:
                    sock.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - t0
                    break
            other.join(10)
            print("  slowloris cut off after %s s (header timeout %d s)" % (
                "%.1f" % closed_at if closed_at else "never", HEADER_TIMEOUT))
            self.assertIsNotNone(closed_at, "a client sending one header byte per second was never cut off")
            self.assertLessEqual(closed_at, HEADER_TIMEOUT + 3)
            self.assertGreaterEqual(closed_at, HEADER_TIMEOUT - 1)
            if answer:
                self.assertRegex(answer, rb"^HTTP/1\.1 (408|400) ")
            self.assertEqual(served.get("status"), 200, "another client was not served meanwhile")
            self.assertLess(served["seconds"], 2.0)
        finally:
            sock.close()

    def test_idle_connection_cut_off(self):
        """Connected and silent: closed by the same deadline."""
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            took = rawhttp.wait_closed(sock, HEADER_TIMEOUT + 4)
            self.assertIsNotNone(took, "a silent connection was never closed")
            self.assertLessEqual(took, HEADER_TIMEOUT + 3)
        finally:
            sock.close()

    def test_slow_but_in_time_is_served(self):
        req = request_bytes("GET", "/v2/", [("Connection", "close")])
        pieces = [req[:10], req[10:20], req[20:]]
        out, _ = exchange(self.srv.port, pieces, 1, timeout=10, pause_after=0.5)
        self.assertIsInstance(out[0], rawhttp.RawResponse, out)
        self.assertEqual(out[0].status, 200)

    # ------------------------------------------------------------ header bytes
    def test_max_header_bytes(self):
        big = request_bytes("GET", "/v2/", [("X-Big", "a" * (MAX_HEADER_BYTES + 100))])
        out, closed = exchange(self.srv.port, big, 1, timeout=5)
        self.assertIsInstance(out[0], rawhttp.RawResponse, out)
        self.assertEqual(out[0].status, 431, out[0])
        self.assertTrue(closed, "connection left open after 431")
        many = request_bytes("GET", "/v2/", [("X-H%d" % i, "b" * 60) for i in range(200)])
        self.assertGreater(len(many), MAX_HEADER_BYTES)
        out, _ = exchange(self.srv.port, many, 1, timeout=5)
        self.assertEqual(out[0].status, 431, out[0])
        ok = request_bytes("GET", "/v2/", [("X-Fine", "c" * (MAX_HEADER_BYTES // 2)), ("Connection", "close")])
        out, _ = exchange(self.srv.port, ok, 1, timeout=5)
        self.assertEqual(out[0].status, 200, out[0])

    # ------------------------------------------------------------ upload sessions
    def post(self, repo, query=""):
        return self.srv.req("POST", "/v2/%s/blobs/uploads/%s" % (repo, query))

    def test_upload_sessions_per_repository(self):
        repo, other = "lim/sessions", "lim/other"
        locs = []
        for i in range(MAX_SESSIONS):
            r = self.post(repo)
            self.assertEqual(r.status, 202, r.describe())
            locs.append(strip_origin(r.headers["Location"]))
        r = self.post(repo)
        self.assertEqual(r.status, 429, r.describe())
        self.assertEqual(r.error_codes(), ["TOOMANYREQUESTS"], r.describe())
        data = os.urandom(100)
        r = self.srv.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(data)), body=data)
        self.assertEqual(r.status, 429, "monolithic POST beyond the limit: " + r.describe())
        self.assertEqual(r.error_codes(), ["TOOMANYREQUESTS"], r.describe())
        self.assertEqual(self.srv.req("HEAD", "/v2/%s/blobs/%s" % (repo, sha256(data))).status, 404)
        st, _, doc = self.srv.ecr_call("InitiateLayerUpload", {"repositoryName": repo})
        self.assertEqual((st, doc.get("__type")), (400, "ThrottlingException"), doc)
        # another repository is not affected
        r = self.post(other)
        self.assertEqual(r.status, 202, r.describe())
        self.srv.req("DELETE", strip_origin(r.headers["Location"]))
        # cancelling one frees a slot
        self.assertEqual(self.srv.req("DELETE", locs.pop()).status, 204)
        r = self.post(repo)
        self.assertEqual(r.status, 202, r.describe())
        locs.append(strip_origin(r.headers["Location"]))
        self.assertEqual(self.post(repo).status, 429)
        # completing one frees a slot too
        loc = locs.pop()
        r = self.srv.req("PUT", "%s?digest=%s" % (loc, sha256(data)), body=data)
        self.assertEqual(r.status, 201, r.describe())
        st, _, doc = self.srv.ecr_call("InitiateLayerUpload", {"repositoryName": repo})
        self.assertEqual(st, 200, doc)
        self.assertEqual(self.post(repo).status, 429)
        for loc in locs:
            self.srv.req("DELETE", loc)

    # ------------------------------------------------------------ JSON body bytes
    def ecr_raw(self, body, chunked=False):
        headers = {"Content-Type": ECR_CONTENT_TYPE,
                   "X-Amz-Target": ECR_TARGET_PREFIX + "DescribeRepositories"}
        if chunked:
            body = iter([body[i:i + 8192] for i in range(0, len(body), 8192)])
        st, h, data = http_request("127.0.0.1", self.srv.port, "POST", "/", body=body, headers=headers, timeout=10)
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {"_raw": data[:200]}
        return st, doc

    @staticmethod
    def padded(n):
        body = b'{"maxResults": 5}'
        return body[:-1] + b" " * (n - len(body)) + b"}"

    def test_max_json_body_bytes(self):
        st, doc = self.ecr_raw(self.padded(MAX_JSON_BODY))
        self.assertEqual(st, 200, doc)
        for chunked in (False, True):
            st, doc = self.ecr_raw(self.padded(MAX_JSON_BODY + 1), chunked=chunked)
            self.assertEqual((st, doc.get("__type")), (413, "SerializationException"),
                             "chunked=%s: %r" % (chunked, doc))
        st, doc = self.ecr_raw(self.padded(MAX_JSON_BODY), chunked=True)
        self.assertEqual(st, 200, doc)
        # V2 manifests have their own cap (4 MiB), not the JSON API's
        cfg = b'{"architecture":"amd64","os":"linux"}'
        d = self.srv.push_blob("lim/json", cfg)
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d, "size": len(cfg)},
             "layers": [], "annotations": {"pad": "x" * (MAX_JSON_BODY * 2)}}
        r = self.srv.req("PUT", "/v2/lim/json/manifests/big", body=json.dumps(m).encode(),
                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        self.assertEqual(r.status, 201, r.describe())

    def test_zz_still_serving(self):
        self.assertTrue(self.srv.running())
        st, _, _ = http_request("127.0.0.1", self.srv.port, "GET", "/v2/", timeout=5)
        self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main()
