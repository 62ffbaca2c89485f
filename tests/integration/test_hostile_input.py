"""Hostile input: a table of bad requests against a server with authentication ON, each with
the exact status and error code it must get, then: the server still answers GET /v2/, was never
restarted, and its log shows no crash.

  TestHostileTable      the table (names, tags, digests, uploads, Content-Length / chunked
                        abuse, header floods, huge and deeply nested manifests, ranges, PATCH
                        order, foreign upload ids, authentication, the ECR JSON API).  A case
                        that kills the server is reported as such; the server is restarted so
                        the rest of the table still runs, and the test fails at the end with
                        every mismatch listed.
  TestSlowBodies        a body shorter than its Content-Length and a chunked body without its
                        final chunk: the server waits at most http.body_idle_timeout_seconds
                        (4 s here), closes, and serves other clients meanwhile.

Every request sends the Basic login token (the handler is reached), except the cases where
authentication is the point.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_hostile_input.py   (~30 s)
"""

import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, sha256, strip_origin, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, ECR_TARGET_PREFIX,
)
import rawhttp  # noqa: E402
from rawhttp import CLOSED, exchange, request_bytes, wait_closed  # noqa: E402

BODY_IDLE_TIMEOUT = 4          # http.body_idle_timeout_seconds of the server under test
MIB = 1024 * 1024
CRASH_MARKERS = ("terminate called", "Segmentation fault", "AddressSanitizer", "stack-overflow",
                 "core dumped", "handler failed", "connection failed", "Aborted")

REPO = "hostile/a"
OTHER = "hostile/b"


class Outcome:
    """What one request got: status (or CLOSED / TIMEOUT) and error code (V2 errors[0].code,
    or the ECR __type; None for a body without one)."""

    def __init__(self, status, code=None, headers=None, body=b"", seconds=0.0):
        self.status = status
        self.code = code
        self.headers = headers or []
        self.body = body
        self.seconds = seconds

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @classmethod
    def of(cls, r, seconds=0.0):
        if isinstance(r, rawhttp.RawResponse):
            return cls(r.status, r.error_code(), r.headers, r.body, seconds)
        return cls(r, None, [], b"", seconds)          # CLOSED / TIMEOUT

    def __repr__(self):
        return "%s %s (%.1fs) body=%r" % (self.status, self.code, self.seconds, self.body[:200])


def oci_manifest_bytes(cfg_desc, layer_descs, **extra):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg_desc, "layers": layer_descs}
    m.update(extra)
    return json.dumps(m).encode()


class HostileBase(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer(cls.__name__, auth="sigv4", v2_auth=True,
                              config={"http": {"body_idle_timeout_seconds": BODY_IDLE_TIMEOUT}})
        cls.srv.start()
        cls.srv.enable_create_on_push()
        cls.cfg = json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cls.layer = os.urandom(100)
        cls.cfg_desc = {"mediaType": OCI_CONFIG, "digest": cls.srv.push_blob(REPO, cls.cfg),
                        "size": len(cls.cfg)}
        cls.layer_desc = {"mediaType": OCI_LAYER, "digest": cls.srv.push_blob(REPO, cls.layer),
                          "size": len(cls.layer)}
        cls.good_manifest = oci_manifest_bytes(cls.cfg_desc, [cls.layer_desc])
        cls.srv.push_manifest(REPO, "ok", cls.good_manifest, OCI_MANIFEST)
        cls.srv.push_image(OTHER, "ok")

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.stop()
            cls.srv.cleanup()

    # ----------------------------------------------------------------- requests
    def auth_value(self):
        return self.srv.basic_auth_header()["Authorization"]

    def v2(self, method, path, body=b"", headers=None, auth=True, timeout=15, close=True):
        h = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if close:
            h.append(("Connection", "close"))
        if auth:
            h.append(("Authorization", self.auth_value()))
        t0 = time.monotonic()
        out, _ = exchange(self.srv.port, request_bytes(method, path, h, body), 1, timeout,
                          methods=[method])
        return Outcome.of(out[0], time.monotonic() - t0)

    def raw(self, data, responses=1, timeout=15, **kw):
        t0 = time.monotonic()
        out, _ = exchange(self.srv.port, data, responses, timeout, **kw)
        outs = [Outcome.of(r, time.monotonic() - t0) for r in out]
        return outs[0] if responses == 1 else outs

    def ecr(self, op=None, payload=None, body=None, target=None, timeout=60):
        t0 = time.monotonic()
        st, h, doc = self.srv.ecr_call(op, payload, body=body, target=target, timeout=timeout)
        return Outcome(st, doc.get("__type") if isinstance(doc, dict) else None, h.items(),
                       json.dumps(doc).encode(), time.monotonic() - t0)

    def new_session(self, repo=REPO):
        r = self.srv.req("POST", "/v2/%s/blobs/uploads/" % repo)
        self.assertEqual(r.status, 202, r.describe())
        return strip_origin(r.headers["Location"])

    def blob_status(self, repo, digest):
        return self.srv.req("HEAD", "/v2/%s/blobs/%s" % (repo, digest)).status


# ========================================================================= the table
class TestHostileTable(HostileBase):
    cases_run = 0

    def build_cases(self):
        """[(name, run, expected, extra_check)]: run() -> Outcome or [Outcome]; expected is
        (status, code) or a list of them; code None = no JSON error code, a tuple = any of."""
        C = []
        add = lambda name, run, status, code=None, check=None, max_seconds=10: \
            C.append((name, run, (status, code), check, max_seconds))
        v2 = self.v2
        good = self.good_manifest
        mt = {"Content-Type": OCI_MANIFEST}
        hex64 = "ab" * 32
        blob100 = self.layer_desc["digest"]

        # ---- repository names: traversal, encodings, length
        add("name ../ traversal", lambda: v2("GET", "/v2/../../etc/passwd/manifests/latest"), 400, "NAME_INVALID")
        add("name ../ in the middle", lambda: v2("GET", "/v2/hostile/../../x/manifests/latest"), 400, "NAME_INVALID")
        add("name %2e%2e", lambda: v2("GET", "/v2/%2e%2e/%2e%2e/etc/manifests/latest"), 400, "NAME_INVALID")
        add("name %2E%2E upper", lambda: v2("GET", "/v2/hostile/%2E%2E/tags/list"), 400, "NAME_INVALID")
        add("name encoded slash %2f", lambda: v2("GET", "/v2/hostile%2fa/manifests/ok"), 400, "NAME_INVALID")
        add("name ..%2f..%2f upload", lambda: v2("POST", "/v2/..%2f..%2ftmp/blobs/uploads/"), 400, "NAME_INVALID")
        add("name NUL %00", lambda: v2("GET", "/v2/hostile%00a/manifests/ok"), 400, "NAME_INVALID")
        add("name backslashes", lambda: v2("GET", "/v2/hostile\\..\\a/manifests/ok"), 400, "NAME_INVALID")
        add("name traversal on manifest PUT",
            lambda: v2("PUT", "/v2/hostile/../../evil/manifests/t", good, mt), 400, "NAME_INVALID")
        add("name uppercase", lambda: v2("GET", "/v2/Hostile/A/tags/list"), 400, "NAME_INVALID")
        add("name 256 chars", lambda: v2("GET", "/v2/%s/tags/list" % ("a" * 256)), 400, "NAME_INVALID")
        add("name 300 chars on upload", lambda: v2("POST", "/v2/%s/blobs/uploads/" % ("a" * 300)), 400, "NAME_INVALID")
        add("name 2000 chars on PUT",
            lambda: v2("PUT", "/v2/%s/manifests/t" % "/".join(["ab"] * 700), good, mt), 400, "NAME_INVALID")
        add("raw NUL byte in request target",
            lambda: self.raw(b"GET /v2/host\x00ile/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            400, None)
        add("digest path traversal", lambda: v2("GET", "/v2/%s/blobs/..%%2f..%%2fberth.db" % REPO), 400, "DIGEST_INVALID")
        add("upload id traversal",
            lambda: v2("PATCH", "/v2/%s/blobs/uploads/..%%2f..%%2fberth.db" % REPO, b"x"), 404, "BLOB_UPLOAD_UNKNOWN")
        add("upload id not a uuid", lambda: v2("GET", "/v2/%s/blobs/uploads/zzzz" % REPO), 404, "BLOB_UPLOAD_UNKNOWN")

        # ---- tags
        add("tag 129 chars PUT", lambda: v2("PUT", "/v2/%s/manifests/%s" % (REPO, "t" * 129), good, mt), 400, "TAG_INVALID")
        add("tag 129 chars GET", lambda: v2("GET", "/v2/%s/manifests/%s" % (REPO, "t" * 129)), 404, "MANIFEST_UNKNOWN")
        add("tag starting with '.'", lambda: v2("PUT", "/v2/%s/manifests/.hidden" % REPO, good, mt), 400, "TAG_INVALID")
        add("tag %00 in ?tag=",
            lambda: v2("PUT", "/v2/%s/manifests/%s?tag=a%%00b" % (REPO, sha256(good)), good, mt), 400, "TAG_INVALID")

        # ---- digests and algorithms
        add("digest md5", lambda: v2("GET", "/v2/%s/blobs/md5:d41d8cd98f00b204e9800998ecf8427e" % REPO), 400, "DIGEST_INVALID")
        add("digest sha256:short", lambda: v2("GET", "/v2/%s/blobs/sha256:abc123" % REPO), 400, "DIGEST_INVALID")
        add("digest uppercase hex", lambda: v2("GET", "/v2/%s/blobs/sha256:%s" % (REPO, hex64.upper())), 400, "DIGEST_INVALID")
        add("digest 65 hex", lambda: v2("GET", "/v2/%s/blobs/sha256:%sa" % (REPO, hex64)), 400, "DIGEST_INVALID")
        add("digest no algorithm", lambda: v2("GET", "/v2/%s/blobs/:%s" % (REPO, hex64)), 400, "DIGEST_INVALID")
        add("manifest by md5 digest", lambda: v2("GET", "/v2/%s/manifests/md5:d41d8cd98f00b204e9800998ecf8427e" % REPO),
            400, "DIGEST_INVALID")
        add("manifest by uppercase digest", lambda: v2("GET", "/v2/%s/manifests/sha256:%s" % (REPO, hex64.upper())),
            400, "DIGEST_INVALID")
        add("monolithic POST ?digest=md5", lambda: v2("POST", "/v2/%s/blobs/uploads/?digest=md5:d41d8cd98f00b204e9800998ecf8427e" % REPO, b"x"),
            400, "DIGEST_INVALID")
        add("mount=sha256:short", lambda: v2("POST", "/v2/%s/blobs/uploads/?mount=sha256:abc&from=%s" % (REPO, OTHER)),
            400, "DIGEST_INVALID")
        add("PUT upload ?digest=sha256:UPPER",
            lambda: v2("PUT", "%s?digest=sha256:%s" % (self.new_session(), hex64.upper()), b"x"), 400, "DIGEST_INVALID")
        add("PUT upload without ?digest", lambda: v2("PUT", self.new_session(), b"x"), 400, "DIGEST_INVALID")

        wrong1, wrong2 = os.urandom(64), os.urandom(64)
        add("wrong digest, monolithic POST",
            lambda: v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(b"something else")), wrong1),
            400, "DIGEST_INVALID",
            check=lambda o: self.expect_absent(REPO, [sha256(b"something else"), sha256(wrong1)]))
        sess = {}

        def post_put_wrong():
            sess["loc"] = self.new_session()
            return v2("PUT", "%s?digest=%s" % (sess["loc"], sha256(b"other bytes")), wrong2)

        def post_put_wrong_check(o):
            self.expect_absent(REPO, [sha256(b"other bytes"), sha256(wrong2)])
            r = self.srv.req("GET", sess["loc"])
            if r.status != 404 or "BLOB_UPLOAD_UNKNOWN" not in r.error_codes():
                return ["the upload session survived a DIGEST_INVALID commit: " + r.describe()]
            return []
        add("wrong digest, POST+PUT", post_put_wrong, 400, "DIGEST_INVALID", check=post_put_wrong_check)
        add("manifest PUT by a digest that does not match",
            lambda: v2("PUT", "/v2/%s/manifests/sha256:%s" % (REPO, hex64), good, mt), 400, "DIGEST_INVALID",
            check=lambda o: self.expect_status("GET", "/v2/%s/manifests/sha256:%s" % (REPO, hex64), 404))

        # ---- Content-Length lies and smuggling
        hello = b"hello"

        def longer_than_cl():
            req = request_bytes("POST", "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(hello)),
                                [("Authorization", self.auth_value()), ("Content-Length", "5")],
                                hello + b"EXTRA GARBAGE\r\n\r\n")
            return self.raw(req, responses=2, methods=["POST", "GET"])
        C.append(("body longer than Content-Length (extra bytes = next request)", longer_than_cl,
                  [(201, None), (400, None)], None, 10))
        add("Content-Length: -1",
            lambda: self.raw(request_bytes("PUT", "/v2/%s/manifests/t" % REPO,
                                           [("Authorization", self.auth_value()), ("Content-Length", "-1"),
                                            ("Connection", "close")], good)), 400, None)
        add("Content-Length overflowing 64 bits",
            lambda: self.raw(request_bytes("PUT", "/v2/%s/manifests/t" % REPO,
                                           [("Authorization", self.auth_value()),
                                            ("Content-Length", "99999999999999999999999"), ("Connection", "close")],
                                           good)), 400, None)
        add("two different Content-Length headers",
            lambda: self.raw(request_bytes("PUT", "/v2/%s/manifests/t" % REPO,
                                           [("Authorization", self.auth_value()), ("Content-Length", "5"),
                                            ("Content-Length", "6"), ("Connection", "close")], b"123456")), 400, None)
        add("Content-Length and Transfer-Encoding together (smuggling)",
            lambda: self.raw(request_bytes("POST", "/v2/%s/blobs/uploads/?digest=%s" % (REPO, sha256(hello)),
                                           [("Authorization", self.auth_value()), ("Content-Length", "5"),
                                            ("Transfer-Encoding", "chunked"), ("Connection", "close")],
                                           b"5\r\nhello\r\n0\r\n\r\n")), 400, None)
        # RFC 9112 6.1 suggests 501 for an unknown coding; rejecting the (undecoded) bytes as a manifest is safe too
        C.append(("Transfer-Encoding: gzip, chunked",
                  lambda: self.raw(request_bytes("PUT", "/v2/%s/manifests/t" % REPO,
                                                 [("Authorization", self.auth_value()),
                                                  ("Transfer-Encoding", "gzip, chunked"), ("Connection", "close")],
                                                 b"5\r\nhello\r\n0\r\n\r\n")),
                  frozenset({(501, None), (400, "MANIFEST_INVALID")}), None, 10))

        # ---- chunked transfer encoding abuse
        def chunked_patch(body):
            def run():
                loc = self.new_session()
                return self.raw(request_bytes("PATCH", loc, [("Authorization", self.auth_value()),
                                                             ("Transfer-Encoding", "chunked"), ("Connection", "close")],
                                              body), timeout=BODY_IDLE_TIMEOUT + 6)
            return run
        add("chunked PATCH: invalid chunk size 'zz'", chunked_patch(b"zz\r\nhello\r\n0\r\n\r\n"), 400, "BLOB_UPLOAD_INVALID")
        add("chunked PATCH: chunk size of 24 hex digits", chunked_patch(b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
            400, "BLOB_UPLOAD_INVALID")
        add("chunked PATCH: chunk longer than its size", chunked_patch(b"3\r\nhello\r\n0\r\n\r\n"), 400, "BLOB_UPLOAD_INVALID")
        add("chunked PATCH: negative chunk size", chunked_patch(b"-5\r\nhello\r\n0\r\n\r\n"), 400, "BLOB_UPLOAD_INVALID")
        add("chunked manifest PUT: invalid chunk size",
            lambda: self.raw(request_bytes("PUT", "/v2/%s/manifests/t" % REPO,
                                           [("Authorization", self.auth_value()), ("Content-Type", OCI_MANIFEST),
                                            ("Transfer-Encoding", "chunked"), ("Connection", "close")],
                                           b"zz\r\n{}\r\n0\r\n\r\n")), 400, "MANIFEST_INVALID")
        add("chunked ECR call: invalid chunk size",
            lambda: self.raw(request_bytes("POST", "/", [("X-Amz-Target", ECR_TARGET_PREFIX + "DescribeRepositories"),
                                                         ("Content-Type", "application/x-amz-json-1.1"),
                                                         ("Transfer-Encoding", "chunked"), ("Connection", "close")],
                                           b"zz\r\n{}\r\n0\r\n\r\n")), 400, "SerializationException")

        # ---- header floods
        add("200 small headers (accepted)",
            lambda: v2("GET", "/v2/", headers=[("X-Flood-%d" % i, "v") for i in range(200)]), 200, None)
        add("200 headers of 400 bytes (80 KB)",
            lambda: v2("GET", "/v2/", headers=[("X-Flood-%d" % i, "a" * 400) for i in range(200)]), 431, None)
        add("one 100 KB header", lambda: v2("GET", "/v2/", headers=[("X-Big", "b" * 100000)]), 431, None)
        add("100 KB request target", lambda: v2("GET", "/v2/%s/tags/list?x=%s" % (REPO, "c" * 100000)), 431, None)
        add("header line without a colon",
            lambda: self.raw(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nno colon here\r\nConnection: close\r\n\r\n"), 400, None)
        add("not HTTP at all", lambda: self.raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)
                                                + b"\r\n\r\n"), 400, None)

        # ---- manifests: size, references, nesting, encoding
        pad = lambda n: good[:-1] + b" " * (n - len(good)) + b"}"
        add("manifest 4 MiB + 1 (Content-Length)",
            lambda: self.outcome_of(self.srv.req_raw("PUT", "/v2/%s/manifests/big" % REPO, pad(4 * MIB + 1),
                                                     dict(mt, **self.srv.basic_auth_header()))),
            413, "SIZE_INVALID")
        add("manifest 4 MiB + 1 (chunked)",
            lambda: self.outcome_of(self.srv.req("PUT", "/v2/%s/manifests/bigc" % REPO,
                                                 iter([pad(4 * MIB + 1)[i:i + MIB] for i in range(0, 4 * MIB + 1, MIB)]),
                                                 headers=mt)),
            413, "SIZE_INVALID")
        add("manifest of exactly 4 MiB (accepted)",
            lambda: self.outcome_of(self.srv.req("PUT", "/v2/%s/manifests/exact4m" % REPO, pad(4 * MIB), headers=mt)),
            201, None)

        def many_blobs(n):
            layers = ",".join('{"mediaType":"x","digest":"sha256:%s","size":1}' % os.urandom(32).hex()
                              for _ in range(n))
            return ('{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}'
                    % (OCI_MANIFEST, json.dumps(self.cfg_desc), layers)).encode()
        m35k = many_blobs(35000)
        assert len(m35k) <= 4 * MIB, len(m35k)
        add("manifest referencing 35,000 unknown blobs (~4 MiB)",
            lambda: v2("PUT", "/v2/%s/manifests/many" % REPO, m35k, mt, timeout=30), 400, "MANIFEST_BLOB_UNKNOWN",
            max_seconds=5)
        m100k = many_blobs(100000)
        add("manifest referencing 100,000 blobs (%.1f MiB: over the cap)" % (len(m100k) / MIB),
            lambda: v2("PUT", "/v2/%s/manifests/many" % REPO, m100k, mt, timeout=30), 413, "SIZE_INVALID",
            max_seconds=5)
        add("100k '[' (unterminated)", lambda: v2("PUT", "/v2/%s/manifests/deep" % REPO, b"[" * 100000, mt),
            400, "MANIFEST_INVALID")
        add("100k nested arrays (valid JSON)",
            lambda: v2("PUT", "/v2/%s/manifests/deep" % REPO, b"[" * 100000 + b"]" * 100000, mt),
            400, "MANIFEST_INVALID")
        deep = "[" * 100000 + "]" * 100000
        add("annotations holding 100k nested arrays",
            lambda: v2("PUT", "/v2/%s/manifests/deepann" % REPO,
                       good[:-1] + (', "annotations": {"a": %s}}' % deep).encode(), mt),
            400, "MANIFEST_INVALID")
        add("layer descriptor annotations holding 100k nested arrays",
            lambda: v2("PUT", "/v2/%s/manifests/deepann2" % REPO,
                       oci_manifest_bytes(self.cfg_desc, [dict(self.layer_desc, annotations={"a": "PLACEHOLDER"})])
                       .replace(b'"PLACEHOLDER"', deep.encode()), mt),
            400, "MANIFEST_INVALID")
        add("invalid UTF-8 in a manifest",
            lambda: v2("PUT", "/v2/%s/manifests/utf8" % REPO,
                       good[:-1] + b', "annotations": {"a": "\xff\xfe\xc3("}}', mt), 400, "MANIFEST_INVALID")
        add("lone UTF-16 surrogate escape in a manifest",
            lambda: v2("PUT", "/v2/%s/manifests/utf16" % REPO,
                       good[:-1] + b', "annotations": {"a": "\\ud800"}}', mt), 400, "MANIFEST_INVALID")
        add("manifest that is not JSON", lambda: v2("PUT", "/v2/%s/manifests/t" % REPO, b"\x00\x01binary", mt),
            400, "MANIFEST_INVALID")
        add("descriptor size -1",
            lambda: v2("PUT", "/v2/%s/manifests/t" % REPO,
                       oci_manifest_bytes(self.cfg_desc, [dict(self.layer_desc, size=-1)]), mt), 400, "MANIFEST_INVALID")
        add("descriptor size 2^63",
            lambda: v2("PUT", "/v2/%s/manifests/t" % REPO,
                       oci_manifest_bytes(self.cfg_desc, [dict(self.layer_desc, size=2 ** 63)]), mt), 400, "MANIFEST_INVALID")
        add("descriptor size 1e400",
            lambda: v2("PUT", "/v2/%s/manifests/t" % REPO,
                       oci_manifest_bytes(self.cfg_desc, [self.layer_desc]).replace(
                           b'"size": %d}' % len(self.layer), b'"size": 1e400}'), mt), 400, "MANIFEST_INVALID")

        # ---- ranges
        rng = lambda spec: v2("GET", "/v2/%s/blobs/%s" % (REPO, blob100), headers=[("Range", spec)])
        add("Range past the end", lambda: rng("bytes=200-300"), 416, "RANGE_INVALID",
            check=lambda o: [] if o.header("Content-Range") == "bytes */100"
            else ["Content-Range %r, expected 'bytes */100'" % o.header("Content-Range")])
        add("Range starting at the size", lambda: rng("bytes=100-"), 416, "RANGE_INVALID")
        add("Range at 10^19-1", lambda: rng("bytes=9999999999999999999-9999999999999999999"), 416, "RANGE_INVALID")
        # 20+ digits: Berth does not parse the value and ignores the header (RFC 9110 allows it)
        add("Range at 2^64-1 (20 digits: ignored)", lambda: rng("bytes=18446744073709551615-18446744073709551615"),
            200, None)
        add("Range inverted", lambda: rng("bytes=50-10"), 416, "RANGE_INVALID")
        add("Range with 25 digits (unparsable: ignored)", lambda: rng("bytes=9999999999999999999999999-"), 200, None)

        # ---- PATCH order
        def patch_out_of_order():
            loc = self.new_session()
            r = self.srv.req("PATCH", loc, body=b"0123456789",
                             headers={"Content-Range": "0-9", "Content-Type": "application/octet-stream"})
            if r.status != 202:
                return Outcome(r.status, None, r.headers.items(), r.body)
            o = v2("PATCH", strip_origin(r.headers["Location"]), b"abcdefghij", [("Content-Range", "20-29")])
            sess["ooo"] = (o, strip_origin(r.headers["Location"]))
            return o

        def patch_ooo_check(o):
            loc = sess["ooo"][1]
            problems = []
            if o.header("Range") != "0-9":
                problems.append("416 without Range: 0-9 (got %r)" % o.header("Range"))
            r = self.srv.req("GET", loc)
            if r.status != 204 or r.headers.get("Range") != "0-9":
                problems.append("session damaged by the rejected PATCH: " + r.describe())
            return problems
        add("PATCH out of order", patch_out_of_order, 416, "BLOB_UPLOAD_INVALID", check=patch_ooo_check)

        def patch_with(range_value, body=b"abc"):
            def run():
                loc = self.new_session()
                return v2("PATCH", loc, body, [("Content-Range", range_value)])
            return run
        add("PATCH overlapping (starts before the end)", self.patch_overlap, 416, "BLOB_UPLOAD_INVALID")
        add("PATCH Content-Range inverted", patch_with("9-0"), 416, "BLOB_UPLOAD_INVALID")
        add("PATCH Content-Range not matching Content-Length", patch_with("0-99"), 416, "BLOB_UPLOAD_INVALID")

        # ---- another repository's upload
        def foreign(method):
            def run():
                loc = self.new_session(REPO)
                sess["foreign"] = loc
                uuid = loc.rstrip("/").rsplit("/", 1)[1]
                path = "/v2/%s/blobs/uploads/%s" % (OTHER, uuid)
                if method == "PUT":
                    path += "?digest=" + sha256(b"x")
                return v2(method, path, b"x" if method in ("PATCH", "PUT") else b"")
            return run

        def foreign_check(o):
            r = self.srv.req("GET", sess["foreign"])
            return [] if r.status == 204 else ["the owner's session was damaged: " + r.describe()]
        for m in ("GET", "PATCH", "PUT", "DELETE"):
            add("%s on another repository's upload" % m, foreign(m), 404, "BLOB_UPLOAD_UNKNOWN", check=foreign_check)
        add("PATCH on an unknown (well-formed) upload id",
            lambda: v2("PATCH", "/v2/%s/blobs/uploads/00000000-0000-4000-8000-000000000000" % REPO, b"x"),
            404, "BLOB_UPLOAD_UNKNOWN")

        # ---- authentication is the point
        add("no credentials, traversal name", lambda: v2("GET", "/v2/../../etc/passwd/manifests/x", auth=False),
            401, "UNAUTHORIZED")
        add("Basic with invalid base64", lambda: v2("GET", "/v2/", headers=[("Authorization", "Basic %%%%")], auth=False),
            401, "UNAUTHORIZED")
        add("Basic with a forged token",
            lambda: v2("GET", "/v2/", headers=[("Authorization", "Basic QVdTOmZvcmdlZC50b2tlbg==")], auth=False),
            401, "UNAUTHORIZED")
        add("Bearer with 60 KB of garbage",
            lambda: v2("GET", "/v2/", headers=[("Authorization", "Bearer " + "x" * 60000)], auth=False),
            401, "UNAUTHORIZED")

        # ---- the ECR JSON API
        add("ECR body not JSON", lambda: self.ecr("DescribeRepositories", body=b"this is not json"),
            400, "SerializationException")
        add("ECR body a JSON array", lambda: self.ecr("DescribeRepositories", body=b"[1,2,3]"),
            400, "SerializationException")
        add("ECR body with invalid UTF-8", lambda: self.ecr("DescribeRepositories", body=b'{"registryId":"\xff\xfe"}'),
            400, "SerializationException")
        add("ECR body 100k nested arrays", lambda: self.ecr("DescribeRepositories", body=b"[" * 100000 + b"]" * 100000),
            400, "SerializationException")
        add("ECR member holding 100k nested arrays",
            lambda: self.ecr("DescribeRepositories", body=b'{"maxResults":' + b"[" * 100000 + b"]" * 100000 + b"}"),
            400, "SerializationException")
        add("ECR body of 33 MiB", lambda: self.ecr("DescribeRepositories", body=b'{"a":"' + b"x" * (33 * MIB) + b'"}'),
            413, "SerializationException", max_seconds=30)
        add("ECR unknown X-Amz-Target", lambda: self.ecr(target=ECR_TARGET_PREFIX + "FormatHardDisk", payload={}),
            400, "UnknownOperationException")
        add("ECR X-Amz-Target of another service", lambda: self.ecr(target="DynamoDB_20120810.ListTables", payload={}),
            400, "UnknownOperationException")
        add("ECR repositoryName with ../", lambda: self.ecr("CreateRepository", {"repositoryName": "../../etc"}),
            400, "InvalidParameterException")
        add("ECR layerDigest of 100,000 characters",
            lambda: self.ecr("GetDownloadUrlForLayer", {"repositoryName": REPO, "layerDigest": "sha256:" + "a" * 100000}),
            400, ("InvalidParameterException", "LayersNotFoundException"))
        add("ECR CompleteLayerUpload layerDigests of 100,000 characters",
            lambda: self.ecr("CompleteLayerUpload", {"repositoryName": REPO,
                                                     "uploadId": "00000000-0000-4000-8000-000000000000",
                                                     "layerDigests": ["sha256:" + "a" * 100000]}),
            400, ("InvalidParameterException", "UploadNotFoundException"))
        add("ECR PutImage with 100k nested annotations",
            lambda: self.ecr("PutImage", {"repositoryName": REPO, "imageTag": "deepecr",
                                          "imageManifest": (good[:-1] + (', "annotations": {"a": %s}}' % deep).encode()).decode()}),
            400, "InvalidParameterException")
        return C

    def patch_overlap(self):
        loc = self.new_session()
        r = self.srv.req("PATCH", loc, body=b"0123456789",
                         headers={"Content-Range": "0-9", "Content-Type": "application/octet-stream"})
        if r.status != 202:
            return Outcome(r.status, None, r.headers.items(), r.body)
        return self.v2("PATCH", strip_origin(r.headers["Location"]), b"abcde", [("Content-Range", "5-9")])

    def outcome_of(self, resp):
        codes = resp.error_codes()
        return Outcome(resp.status, codes[0] if codes else None, resp.headers.items(), resp.body)

    def expect_absent(self, repo, digests):
        return ["%s is present after a rejected upload" % d for d in digests
                if self.blob_status(repo, d) != 404]

    def expect_status(self, method, path, status):
        r = self.srv.req(method, path)
        return [] if r.status == status else ["%s %s -> %d, expected %d" % (method, path, r.status, status)]

    @classmethod
    def matches(cls, outcome, expected):
        if isinstance(expected, frozenset):          # any of several (status, code)
            return any(cls.matches(outcome, e) for e in expected)
        status, code = expected
        if outcome.status != status:
            return False
        if isinstance(code, tuple):
            return outcome.code in code
        return outcome.code == code

    def test_table(self):
        cases = self.build_cases()
        failures = []
        crashes = []
        for name, run, expected, check, max_seconds in cases:
            t0 = time.monotonic()
            try:
                got = run()
            except Exception as e:            # noqa: BLE001 - report and go on
                got = Outcome("exception %r" % (e,))
            took = time.monotonic() - t0
            exp_list = expected if isinstance(expected, list) else [expected]
            got_list = got if isinstance(got, list) else [got]
            ok = len(got_list) >= len(exp_list) and all(self.matches(g, e) for g, e in zip(got_list, exp_list))
            problems = []
            if not ok:
                problems.append("expected %s, got %s" % (
                    " then ".join(("%s %s" % e) if isinstance(e, tuple) else " or ".join("%s %s" % x for x in sorted(e, key=str))
                             for e in exp_list), " then ".join(map(repr, got_list))))
            if took > max_seconds:
                problems.append("took %.1fs (limit %ds)" % (took, max_seconds))
            if got_list and not isinstance(got_list[0].status, int):
                time.sleep(0.3)          # let a dying server be reaped before asking
            if not self.srv.running():
                rc = self.srv.proc.poll() if self.srv.proc else None
                crashes.append("%s (exit status %s)" % (name, rc))
                problems.append("THE SERVER DIED (exit status %s); restarted for the rest of the table" % rc)
                self.srv.dump_log(tail=15)
                self.srv.kill9()
                self.srv.start()
            elif check is not None and ok:
                try:
                    problems += check(got_list[0]) or []
                except Exception as e:        # noqa: BLE001
                    problems.append("check failed: %r" % (e,))
            print("  %-4s %-62s %s" % ("ok" if not problems else "FAIL", name[:62],
                                       "%s %s" % (got_list[0].status, got_list[0].code) if got_list else ""))
            if problems:
                failures.append("%s: %s" % (name, "; ".join(problems)))
        type(self).cases_run = len(cases)
        # the server is still up, answers, and logged no crash
        r = self.srv.req("GET", "/v2/")
        self.assertEqual(r.status, 200, r.describe())
        log = self.srv.log_text()
        markers = [m for m in CRASH_MARKERS if m in log]
        print("\nhostile-input table: %d cases, %d failed, %d server crash(es)" % (
            len(cases), len(failures), len(crashes)))
        msg = []
        if crashes:
            msg.append("server crashed on: " + "; ".join(crashes))
        if markers:
            msg.append("server log shows %s" % markers)
        msg += failures
        if msg:
            self.fail("\n".join(msg))


# ========================================================================= slow bodies
class TestSlowBodies(HostileBase):
    """The body never completes: the request must not tie the server up beyond the body idle
    timeout, and other clients are served meanwhile."""

    def assert_cut_off(self, head, partial):
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            t0 = time.monotonic()
            sock.sendall(head + partial)
            # the client gives up waiting after 1.5 s: no answer is due yet ...
            sock.settimeout(1.5)
            try:
                early = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                early = None
            # ... and the server keeps serving others meanwhile
            t1 = time.monotonic()
            r = self.srv.req("GET", "/v2/", timeout=5)
            self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - t1, 2.0, "GET /v2/ slow while a body stalls")
            if early is not None and early != b"":
                # an early answer is acceptable only as an error, then the close
                self.assertRegex(early, rb"^HTTP/1\.1 (4|5)\d\d ")
            closed = wait_closed(sock, BODY_IDLE_TIMEOUT + 6) if early is None else 0.0
            self.assertIsNotNone(closed, "the server kept a stalled body open > %ds" % (BODY_IDLE_TIMEOUT + 6))
            total = time.monotonic() - t0
            self.assertLess(total, BODY_IDLE_TIMEOUT + 8)
            return total
        finally:
            sock.close()

    def test_body_shorter_than_content_length_manifest(self):
        body = self.good_manifest
        head = request_bytes("PUT", "/v2/%s/manifests/short" % REPO,
                             [("Authorization", self.auth_value()), ("Content-Type", OCI_MANIFEST),
                              ("Content-Length", str(len(body) + 1000))], b"")
        took = self.assert_cut_off(head, body)
        print("  stalled manifest body cut off after %.1fs" % took)
        self.assertEqual(self.srv.req("GET", "/v2/%s/manifests/short" % REPO).status, 404)

    def test_body_shorter_than_content_length_upload(self):
        loc = self.new_session()
        head = request_bytes("PATCH", loc, [("Authorization", self.auth_value()),
                                            ("Content-Length", "100000")], b"")
        took = self.assert_cut_off(head, os.urandom(5000))
        print("  stalled PATCH body cut off after %.1fs" % took)
        # the session is still usable afterwards (or cleanly gone), never wedged
        r = self.srv.req("GET", loc)
        self.assertIn(r.status, (204, 404), r.describe())
        if r.status == 204:
            size = int(r.headers["Range"].split("-")[1]) + 1 if r.headers["Range"] != "0-0" else 0
            data = os.urandom(10)
            r2 = self.srv.req("PATCH", loc, body=data, headers={"Content-Range": "%d-%d" % (size, size + 9)})
            self.assertEqual(r2.status, 202, r2.describe())

    def test_missing_final_chunk(self):
        loc = self.new_session()
        head = request_bytes("PATCH", loc, [("Authorization", self.auth_value()),
                                            ("Transfer-Encoding", "chunked")], b"")
        took = self.assert_cut_off(head, b"5\r\nhello\r\n")
        print("  chunked body without final chunk cut off after %.1fs" % took)

    def test_missing_final_chunk_then_half_close(self):
        """The client stops sending (FIN) in the middle of a chunked body: closed, no hang."""
        loc = self.new_session()
        req = request_bytes("PATCH", loc, [("Authorization", self.auth_value()),
                                           ("Transfer-Encoding", "chunked")], b"5\r\nhello\r\n")
        t0 = time.monotonic()
        out, _ = exchange(self.srv.port, req, 1, timeout=BODY_IDLE_TIMEOUT + 6, shut_wr=True)
        self.assertTrue(out[0] == CLOSED or (isinstance(out[0], rawhttp.RawResponse) and out[0].status >= 400),
                        "got %r" % (out[0],))
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertEqual(self.srv.req("GET", "/v2/").status, 200)

    def test_zz_server_healthy(self):
        self.assertTrue(self.srv.running())
        self.assertEqual(self.srv.req("GET", "/v2/").status, 200)
        log = self.srv.log_text()
        self.assertFalse([m for m in CRASH_MARKERS if m in log], log[-3000:])


if __name__ == "__main__":
    unittest.main()
