"""HTTP-level integration tests of Berth against the OCI distribution spec
(v1.1 and main) and the Docker Registry V2 API.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_v2_api.py
(from tests/integration/).  Each TestCase class gets its own server and data
directory.
"""

import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, BerthTestCase, sha256, sha512, strip_origin,
    OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_EMPTY,
    DOCKER_MANIFEST, DOCKER_LIST, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_FOREIGN,
    DOCKER_SCHEMA1,
)

API_VERSION = "registry/2.0"
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def add_query(loc, **params):
    loc = strip_origin(loc)
    sep = "&" if "?" in loc else "?"
    return loc + sep + urllib.parse.urlencode(params)


def loc_path(loc):
    return urllib.parse.urlsplit(loc).path


def chunks_of(data, size):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def canon(obj):
    # deliberately non-canonical formatting: registries must keep exact bytes
    return (json.dumps(obj, indent=3) + "\n").encode()


class UploadMixin:
    """Helpers shared by classes that push blobs.

    Every class runs Berth as users run it: SigV4/login-token authentication on, every V2
    request with `Authorization: Basic AWS:<token>`, and a ROOT repository creation template
    with CREATE_ON_PUSH so pushes may create repositories (ECR's own push-to-create)."""

    server_kwargs = {"auth": "sigv4", "v2_auth": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.enable_create_on_push()

    def start_upload(self, repo, **params):
        path = "/v2/%s/blobs/uploads/" % repo
        if params:
            path += "?" + urllib.parse.urlencode(params)
        r = self.req("POST", path)
        self.assertStatus(r, 202)
        return r

    def patch_range(self, loc, data, start):
        return self.req("PATCH", strip_origin(loc), body=data, headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(data)),
            "Content-Range": "%d-%d" % (start, start + len(data) - 1)})

    def put_digest(self, loc, digest, body=None):
        headers = {"Content-Type": "application/octet-stream"}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        return self.req("PUT", add_query(loc, digest=digest), body=body, headers=headers)

    def get_blob(self, repo, digest, headers=None):
        return self.req("GET", "/v2/%s/blobs/%s" % (repo, digest), headers=headers)

    def assertBlobIs(self, repo, data, digest=None):
        digest = digest or sha256(data)
        r = self.get_blob(repo, digest)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, data, "blob bytes differ")
        self.assertEqual(r.headers.get("Docker-Content-Digest"), digest)
        self.assertEqual(r.headers.get("Content-Length"), str(len(data)))

    def assertUploadLocation(self, r, repo):
        loc = r.headers.get("Location")
        self.assertIsNotNone(loc, r.describe())
        self.assertTrue(loc.startswith("/v2/"), "Location not path-absolute: %r" % loc)
        u = r.headers.get("Docker-Upload-UUID")
        self.assertTrue(u, "missing Docker-Upload-UUID: " + r.describe())
        self.assertEqual(loc_path(loc), "/v2/%s/blobs/uploads/%s" % (repo, u))
        return loc

    def assertBlobCreated(self, r, repo, digest):
        self.assertStatus(r, 201)
        self.assertEqual(r.headers.get("Location"), "/v2/%s/blobs/%s" % (repo, digest),
                         r.describe())
        self.assertEqual(r.headers.get("Docker-Content-Digest"), digest, r.describe())


# --------------------------------------------------------------------------
class TestBase(UploadMixin, BerthTestCase):

    def test_v2_root(self):
        r = self.req("GET", "/v2/")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), API_VERSION)
        r = self.req("HEAD", "/v2/")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")

    def test_v2_root_without_slash(self):
        r = self.req("GET", "/v2")
        # either served directly or redirected to /v2/ -- never an error
        self.assertStatus(r, 200, 301, 307, 308)
        self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), API_VERSION)

    def test_api_version_header_everywhere(self):
        repo = "base/hdr"
        rs = []
        rs.append(self.req("GET", "/v2/"))
        rs.append(self.req("GET", "/v2/base/never/tags/list"))            # 404
        rs.append(self.req("GET", "/v2/%s/blobs/sha256:xyz" % repo))      # 400
        rs.append(self.req("GET", "/v2/%s/blobs/%s" % (repo, sha256(b"nope"))))  # 404
        rs.append(self.req("HEAD", "/v2/%s/blobs/%s" % (repo, sha256(b"nope"))))  # 404
        rs.append(self.req("GET", "/v2/%s/manifests/nope" % repo))        # 404
        rs.append(self.req("GET", "/v2/%s/blobs/uploads/%s" % (repo, uuid.uuid4())))  # 404
        rs.append(self.req("GET", "/v2/Bad/tags/list"))                   # 400/404
        r = self.req("POST", "/v2/%s/blobs/uploads/" % repo)              # 202
        rs.append(r)
        rs.append(self.put_digest(r.headers["Location"], sha256(b"x"), b"x"))  # 201
        rs.append(self.req("PUT", "/v2/%s/manifests/t" % repo, body=b"{not json",
                           headers={"Content-Type": OCI_MANIFEST}))       # 400
        rs.append(self.req("GET", "/v2/%s/nonsense/endpoint" % repo))     # 404
        for r in rs:
            self.assertNotEqual(r.status, 500, r.describe())
            self.assertEqual(r.headers.get("Docker-Distribution-API-Version"),
                             API_VERSION, r.describe())
        # error responses carry a JSON errors body
        for r in rs:
            if r.status >= 400 and r.method != "HEAD" and r.path not in (
                    "/v2/base/hdr/nonsense/endpoint", "/v2/Bad/tags/list"):
                self.assertTrue(r.error_codes(), "error without errors[] body: " + r.describe())
                self.assertIn("json", r.headers.get("Content-Type", ""), r.describe())


# --------------------------------------------------------------------------
class TestUploads(UploadMixin, BerthTestCase):

    def test_post_starts_session(self):
        repo = "up/start"
        r = self.req("POST", "/v2/%s/blobs/uploads/" % repo)
        self.assertEqual(r.status, 202, r.describe())
        self.assertUploadLocation(r, repo)
        self.assertEqual(r.headers.get("Range"), "0-0", r.describe())
        self.assertEqual(r.headers.get("Content-Length", "0"), "0")

    def test_streamed_patch_chunked_encoding(self):
        repo = "up/stream"
        data = os.urandom(300 * 1024 + 17)
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        r = self.req("PATCH", strip_origin(loc), body=chunks_of(data[:200000], 65536),
                     headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 202)
        self.assertEqual(r.headers.get("Range"), "0-%d" % (200000 - 1), r.describe())
        loc = self.assertUploadLocation(r, repo)
        # second streamed PATCH appends
        r = self.req("PATCH", strip_origin(loc), body=chunks_of(data[200000:], 10000),
                     headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 202)
        self.assertEqual(r.headers.get("Range"), "0-%d" % (len(data) - 1), r.describe())
        loc = self.assertUploadLocation(r, repo)
        r = self.put_digest(loc, sha256(data))
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_chunked_content_range_in_order(self):
        repo = "up/chunks"
        data = os.urandom(3000)
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        for start in (0, 1000, 2000):
            r = self.patch_range(loc, data[start:start + 1000], start)
            self.assertStatus(r, 202)
            self.assertEqual(r.headers.get("Range"), "0-%d" % (start + 999), r.describe())
            loc = self.assertUploadLocation(r, repo)
        r = self.req("GET", strip_origin(loc))
        self.assertStatus(r, 204)
        self.assertEqual(r.headers.get("Range"), "0-2999")
        self.assertUploadLocation(r, repo)
        r = self.put_digest(loc, sha256(data))
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)
        # session is closed after completion
        r = self.req("GET", strip_origin(loc))
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.patch_range(loc, b"more", 3000)
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")

    def test_out_of_order_chunk_416_and_session_survives(self):
        repo = "up/ooo"
        data = os.urandom(3000)
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        r = self.patch_range(loc, data[:1000], 0)
        self.assertStatus(r, 202)
        loc = r.headers["Location"]
        # skip a chunk
        r = self.patch_range(loc, data[2000:], 2000)
        self.assertStatus(r, 416)
        r = self.req("GET", strip_origin(loc))
        self.assertStatus(r, 204)
        self.assertEqual(r.headers.get("Range"), "0-999", r.describe())
        self.assertEqual(r.body, b"")
        # re-send the first chunk
        r = self.patch_range(loc, data[:1000], 0)
        self.assertStatus(r, 416)
        # overlapping chunk
        r = self.patch_range(loc, data[500:1500], 500)
        self.assertStatus(r, 416)
        r = self.req("GET", strip_origin(loc))
        self.assertStatus(r, 204)
        self.assertEqual(r.headers.get("Range"), "0-999", r.describe())
        # continue properly
        r = self.patch_range(loc, data[1000:2000], 1000)
        self.assertStatus(r, 202)
        self.assertEqual(r.headers.get("Range"), "0-1999")
        loc = r.headers["Location"]
        r = self.put_digest(loc, sha256(data), body=data[2000:])
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_put_with_final_body(self):
        repo = "up/finalbody"
        data = os.urandom(5000)
        r = self.start_upload(repo)
        r = self.patch_range(r.headers["Location"], data[:4096], 0)
        self.assertStatus(r, 202)
        r = self.put_digest(r.headers["Location"], sha256(data), body=data[4096:])
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_post_then_put_whole_body(self):
        repo = "up/postput"
        data = os.urandom(7777)
        r = self.start_upload(repo)
        r = self.put_digest(r.headers["Location"], sha256(data), body=data)
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_wrong_digest_rejected(self):
        repo = "up/wrongdigest"
        data = os.urandom(4000)
        wrong = sha256(b"something else entirely")
        r = self.start_upload(repo)
        r = self.patch_range(r.headers["Location"], data, 0)
        self.assertStatus(r, 202)
        r = self.put_digest(r.headers["Location"], wrong)
        self.assertError(r, 400, "DIGEST_INVALID")
        for d in (wrong, sha256(data)):
            r = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            self.assertStatus(r, 404)
            r = self.get_blob(repo, d)
            self.assertError(r, 404, "BLOB_UNKNOWN")

    def test_wrong_digest_with_body_rejected(self):
        repo = "up/wrongdigest2"
        data = os.urandom(100)
        wrong = sha256(data + b"!")
        r = self.start_upload(repo)
        r = self.put_digest(r.headers["Location"], wrong, body=data)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertStatus(self.req("HEAD", "/v2/%s/blobs/%s" % (repo, wrong)), 404)
        self.assertStatus(self.req("HEAD", "/v2/%s/blobs/%s" % (repo, sha256(data))), 404)

    def test_monolithic_post(self):
        repo = "up/mono"
        data = os.urandom(12345)
        d = sha256(data)
        r = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
        self.assertBlobCreated(r, repo, d)
        self.assertBlobIs(repo, data)

    def test_monolithic_post_wrong_digest(self):
        repo = "up/monowrong"
        data = os.urandom(123)
        wrong = sha256(b"x" + data)
        r = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, wrong), body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertStatus(self.req("HEAD", "/v2/%s/blobs/%s" % (repo, wrong)), 404)

    def test_delete_upload(self):
        repo = "up/cancel"
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        r = self.patch_range(loc, b"hello", 0)
        self.assertStatus(r, 202)
        loc = r.headers["Location"]
        r = self.req("DELETE", strip_origin(loc))
        self.assertStatus(r, 204)
        r = self.req("GET", strip_origin(loc))
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.put_digest(loc, sha256(b"hello"))
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.req("DELETE", strip_origin(loc))
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")

    def test_unknown_upload_uuid(self):
        repo = "up/unknown"
        path = "/v2/%s/blobs/uploads/%s" % (repo, uuid.uuid4())
        self.assertError(self.req("GET", path), 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.req("PATCH", path, body=b"abc", headers={
            "Content-Type": "application/octet-stream", "Content-Range": "0-2"})
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.req("PUT", path + "?digest=" + sha256(b"abc"), body=b"abc")
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.req("DELETE", path), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_malformed_upload_uuid(self):
        repo = "up/malformed"
        for ref in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 300, "a%00b"):
            path = "/v2/%s/blobs/uploads/%s" % (repo, ref)
            for method in ("GET", "PATCH", "DELETE"):
                r = self.req(method, path)
                self.assertStatus(r, 400, 404)
        self.assertTrue(self.server.running())

    def test_upload_of_other_repository(self):
        data = os.urandom(2000)
        r = self.start_upload("up/owner")
        loc = r.headers["Location"]
        u = r.headers["Docker-Upload-UUID"]
        other = "/v2/up/thief/blobs/uploads/%s" % u
        self.assertError(self.req("GET", other), 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.req("PATCH", other, body=data[:1000], headers={
            "Content-Type": "application/octet-stream", "Content-Range": "0-999",
            "Content-Length": "1000"})
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.req("PUT", other + "?digest=" + sha256(data), body=data)
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.req("DELETE", other), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertStatus(self.req("HEAD", "/v2/up/thief/blobs/%s" % sha256(data)), 404)
        # the owner's session is untouched
        r = self.put_digest(loc, sha256(data), body=data)
        self.assertBlobCreated(r, "up/owner", sha256(data))

    def test_zero_byte_blob(self):
        repo = "up/empty"
        d = sha256(b"")
        r = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=b"",
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": "0"})
        self.assertBlobCreated(r, repo, d)
        r = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Length"), "0")
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d)
        r = self.get_blob(repo, d)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        # and through a session with an empty PUT
        repo2 = "up/empty2"
        r = self.start_upload(repo2)
        r = self.put_digest(r.headers["Location"], d)
        self.assertBlobCreated(r, repo2, d)
        self.assertBlobIs(repo2, b"")

    def test_sha512_monolithic(self):
        repo = "up/sha512mono"
        data = os.urandom(5000)
        d = sha512(data)
        r = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
        self.assertBlobCreated(r, repo, d)
        r = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d)
        self.assertEqual(r.headers.get("Content-Length"), str(len(data)))
        self.assertBlobIs(repo, data, d)

    def test_sha512_chunked(self):
        repo = "up/sha512chunk"
        data = os.urandom(9000)
        d = sha512(data)
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        r = self.patch_range(loc, data[:4500], 0)
        self.assertStatus(r, 202)
        r = self.patch_range(r.headers["Location"], data[4500:], 4500)
        self.assertStatus(r, 202)
        r = self.put_digest(r.headers["Location"], d)
        self.assertBlobCreated(r, repo, d)
        self.assertBlobIs(repo, data, d)

    def test_sha512_wrong(self):
        repo = "up/sha512wrong"
        data = os.urandom(100)
        wrong = sha512(data + b"?")
        r = self.start_upload(repo)
        r = self.put_digest(r.headers["Location"], wrong, body=data)
        self.assertError(r, 400, "DIGEST_INVALID")

    def test_put_with_invalid_digest_param(self):
        repo = "up/badparam"
        r = self.start_upload(repo)
        loc = r.headers["Location"]
        r = self.put_digest(loc, "sha256:xyz", body=b"abc")
        self.assertError(r, 400, "DIGEST_INVALID")
        # missing digest param entirely
        r = self.start_upload(repo)
        r = self.req("PUT", strip_origin(r.headers["Location"]), body=b"abc")
        self.assertError(r, 400, "DIGEST_INVALID")

    def test_same_blob_twice(self):
        repo = "up/twice"
        data = os.urandom(1000)
        for _ in range(2):
            r = self.start_upload(repo)
            r = self.put_digest(r.headers["Location"], sha256(data), body=data)
            self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_concurrent_uploads(self):
        repo = "up/concurrent"
        blobs = [os.urandom(50000 + i) for i in range(4)]
        same = os.urandom(40000)
        results = []

        def work(data):
            try:
                r = self.req("POST", "/v2/%s/blobs/uploads/" % repo)
                loc = r.headers["Location"]
                r = self.patch_range(loc, data[:20000], 0)
                r = self.put_digest(r.headers["Location"], sha256(data), body=data[20000:])
                results.append((r.status, data))
            except Exception as e:  # pragma: no cover
                results.append((repr(e), data))

        ts = [threading.Thread(target=work, args=(d,)) for d in blobs + [same] * 4]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(len(results), 8)
        for st, data in results:
            self.assertEqual(st, 201)
        for data in blobs + [same]:
            self.assertBlobIs(repo, data)


# --------------------------------------------------------------------------
class TestLargeBodies(UploadMixin, BerthTestCase):
    """Bodies well past common HTTP-library defaults (e.g. a 1 MiB body
    limit), sent with Content-Length and with chunked encoding."""

    SIZE = 8 * 1024 * 1024 + 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = os.urandom(cls.SIZE)
        cls.digest = sha256(cls.data)

    def send(self, method, path, body, extra=None):
        h = {"Content-Type": "application/octet-stream"}
        h.update(extra or {})
        try:
            return self.server.req_raw(method, path, body, headers=dict(h, **self.server.basic_auth_header()))
        except (ConnectionError, http.client.HTTPException) as e:
            self.fail("%s %s with a %d-byte Content-Length body: no HTTP response (%r)"
                      % (method, path, len(body), e))

    def test_patch_content_length(self):
        repo = "big/patchcl"
        r = self.start_upload(repo)
        r = self.send("PATCH", strip_origin(r.headers["Location"]), self.data,
                      {"Content-Range": "0-%d" % (self.SIZE - 1)})
        self.assertStatus(r, 202)
        self.assertEqual(r.headers.get("Range"), "0-%d" % (self.SIZE - 1))
        r = self.put_digest(r.headers["Location"], self.digest)
        self.assertBlobCreated(r, repo, self.digest)
        self.assertBlobIs(repo, self.data)

    def test_patch_content_length_no_range(self):
        repo = "big/patchcl2"
        r = self.start_upload(repo)
        r = self.send("PATCH", strip_origin(r.headers["Location"]), self.data)
        self.assertStatus(r, 202)
        r = self.put_digest(r.headers["Location"], self.digest)
        self.assertBlobCreated(r, repo, self.digest)

    def test_patch_chunked(self):
        repo = "big/patchchunked"
        r = self.start_upload(repo)
        r = self.req("PATCH", strip_origin(r.headers["Location"]),
                     body=chunks_of(self.data, 1 << 20),
                     headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 202)
        r = self.put_digest(r.headers["Location"], self.digest)
        self.assertBlobCreated(r, repo, self.digest)
        self.assertBlobIs(repo, self.data)

    def test_put_whole_body(self):
        repo = "big/put"
        r = self.start_upload(repo)
        r = self.send("PUT", add_query(r.headers["Location"], digest=self.digest), self.data)
        self.assertBlobCreated(r, repo, self.digest)
        self.assertBlobIs(repo, self.data)

    def test_monolithic_post(self):
        repo = "big/post"
        r = self.send("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, self.digest), self.data)
        self.assertBlobCreated(r, repo, self.digest)
        self.assertBlobIs(repo, self.data)

    def test_range_read_of_large_blob(self):
        repo = "big/range"
        r = self.req("PATCH", strip_origin(self.start_upload(repo).headers["Location"]),
                     body=chunks_of(self.data, 1 << 20))
        self.assertStatus(r, 202)
        self.assertStatus(self.put_digest(r.headers["Location"], self.digest), 201)
        start = 5 * 1024 * 1024 + 7
        r = self.get_blob(repo, self.digest, headers={"Range": "bytes=%d-" % start})
        self.assertStatus(r, 206)
        self.assertEqual(r.body, self.data[start:])
        self.assertEqual(r.headers.get("Content-Range"),
                         "bytes %d-%d/%d" % (start, self.SIZE - 1, self.SIZE))


# --------------------------------------------------------------------------
class TestMount(UploadMixin, BerthTestCase):

    def test_mount_from_repo_with_blob(self):
        data = os.urandom(3000)
        d = self.server.push_blob("mnt/src", data)
        r = self.req("POST", "/v2/mnt/dst/blobs/uploads/?mount=%s&from=mnt/src" % d)
        self.assertBlobCreated(r, "mnt/dst", d)
        r = self.req("HEAD", "/v2/mnt/dst/blobs/%s" % d)
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Length"), str(len(data)))
        self.assertBlobIs("mnt/dst", data)

    def test_mount_from_repo_without_blob(self):
        data = os.urandom(3000)
        d = self.server.push_blob("mnt/has", data)
        self.server.push_blob("mnt/other", os.urandom(10))
        for src in ("mnt/other", "mnt/doesnotexist"):
            dst = "mnt/dst-" + src.split("/")[1]
            r = self.req("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
            self.assertStatus(r, 202)
            loc = self.assertUploadLocation(r, dst)
            # the blob was NOT made visible in dst ...
            self.assertStatus(self.req("HEAD", "/v2/%s/blobs/%s" % (dst, d)), 404)
            # ... and the returned session is usable
            r = self.put_digest(loc, d, body=data)
            self.assertBlobCreated(r, dst, d)

    def test_mount_without_from(self):
        data = os.urandom(3000)
        d = self.server.push_blob("mnt/src2", data)
        r = self.req("POST", "/v2/mnt/dst3/blobs/uploads/?mount=%s" % d)
        self.assertStatus(r, 201, 202)
        if r.status == 201:
            self.assertBlobCreated(r, "mnt/dst3", d)
            self.assertBlobIs("mnt/dst3", data)
        else:
            loc = self.assertUploadLocation(r, "mnt/dst3")
            r = self.put_digest(loc, d, body=data)
            self.assertBlobCreated(r, "mnt/dst3", d)

    def test_mount_unknown_digest(self):
        d = sha256(os.urandom(32))
        self.server.push_blob("mnt/src4", b"abc")
        r = self.req("POST", "/v2/mnt/dst4/blobs/uploads/?mount=%s&from=mnt/src4" % d)
        self.assertStatus(r, 202)
        self.assertUploadLocation(r, "mnt/dst4")

    def test_mount_sha512(self):
        data = os.urandom(3000)
        d = sha512(data)
        r = self.req("POST", "/v2/mnt/s512/blobs/uploads/?digest=%s" % d, body=data,
                     headers={"Content-Type": "application/octet-stream"})
        self.assertBlobCreated(r, "mnt/s512", d)
        r = self.req("POST", "/v2/mnt/d512/blobs/uploads/?mount=%s&from=mnt/s512" % d)
        self.assertBlobCreated(r, "mnt/d512", d)
        self.assertBlobIs("mnt/d512", data, d)


# --------------------------------------------------------------------------
class TestBlobs(UploadMixin, BerthTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.repo = "blobs/app"
        cls.data = os.urandom(2048)
        cls.digest = cls.server.push_blob(cls.repo, cls.data)

    def rng(self, spec, method="GET"):
        return self.req(method, "/v2/%s/blobs/%s" % (self.repo, self.digest),
                        headers={"Range": spec})

    def test_head(self):
        r = self.req("HEAD", "/v2/%s/blobs/%s" % (self.repo, self.digest))
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Length"), "2048")
        self.assertEqual(r.headers.get("Docker-Content-Digest"), self.digest)
        self.assertEqual(r.body, b"")

    def test_get_full(self):
        self.assertBlobIs(self.repo, self.data)

    def test_range_middle(self):
        r = self.rng("bytes=500-1499")
        self.assertStatus(r, 206)
        self.assertEqual(r.headers.get("Content-Range"), "bytes 500-1499/2048")
        self.assertEqual(r.headers.get("Content-Length"), "1000")
        self.assertEqual(r.body, self.data[500:1500])

    def test_range_open_end(self):
        r = self.rng("bytes=500-")
        self.assertStatus(r, 206)
        self.assertEqual(r.headers.get("Content-Range"), "bytes 500-2047/2048")
        self.assertEqual(r.body, self.data[500:])

    def test_range_suffix(self):
        r = self.rng("bytes=-500")
        self.assertStatus(r, 206)
        self.assertEqual(r.headers.get("Content-Range"), "bytes 1548-2047/2048")
        self.assertEqual(r.body, self.data[-500:])

    def test_range_single_byte(self):
        r = self.rng("bytes=0-0")
        self.assertStatus(r, 206)
        self.assertEqual(r.headers.get("Content-Range"), "bytes 0-0/2048")
        self.assertEqual(r.body, self.data[:1])

    def test_range_clipped(self):
        r = self.rng("bytes=2000-5000")
        self.assertStatus(r, 206)
        self.assertEqual(r.headers.get("Content-Range"), "bytes 2000-2047/2048")
        self.assertEqual(r.body, self.data[2000:])

    def test_range_inverted(self):
        r = self.rng("bytes=500-0")
        self.assertStatus(r, 416)

    def test_range_unsatisfiable(self):
        r = self.rng("bytes=5000-10000")
        self.assertStatus(r, 416)
        self.assertNotEqual(r.body, self.data)

    def test_range_unsatisfiable_content_range(self):
        # RFC 9110 15.5.17: a 416 SHOULD carry Content-Range: bytes */<size>
        r = self.rng("bytes=5000-10000")
        self.assertStatus(r, 416)
        self.assertEqual(r.headers.get("Content-Range"), "bytes */2048")

    def test_head_with_range(self):
        r = self.rng("bytes=0-99", method="HEAD")
        self.assertStatus(r, 200, 206)
        self.assertEqual(r.body, b"")

    def test_unknown_blob(self):
        d = sha256(b"no such blob " + os.urandom(8))
        self.assertError(self.get_blob(self.repo, d), 404, "BLOB_UNKNOWN")
        r = self.req("HEAD", "/v2/%s/blobs/%s" % (self.repo, d))
        self.assertStatus(r, 404)
        self.assertEqual(r.body, b"")
        self.assertError(self.req("DELETE", "/v2/%s/blobs/%s" % (self.repo, d)),
                         404, "BLOB_UNKNOWN")

    def test_blob_not_visible_in_other_repo(self):
        r = self.get_blob("blobs/elsewhere", self.digest)
        self.assertStatus(r, 404)
        self.assertStatus(self.req("HEAD", "/v2/blobs/elsewhere/blobs/%s" % self.digest), 404)

    def test_delete_blob(self):
        repo = "blobs/del"
        data = os.urandom(999)
        d = self.server.push_blob(repo, data)
        self.assertBlobIs(repo, data)
        r = self.req("DELETE", "/v2/%s/blobs/%s" % (repo, d))
        self.assertStatus(r, 202)
        self.assertError(self.get_blob(repo, d), 404, "BLOB_UNKNOWN")
        self.assertStatus(self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d)), 404)
        # re-upload works
        self.server.push_blob(repo, data)
        self.assertBlobIs(repo, data)

    def test_delete_blob_other_repo_unaffected(self):
        data = os.urandom(777)
        d = self.server.push_blob("blobs/keep1", data)
        self.server.push_blob("blobs/keep2", data)
        self.assertStatus(self.req("DELETE", "/v2/blobs/keep1/blobs/%s" % d), 202)
        self.assertStatus(self.req("HEAD", "/v2/blobs/keep1/blobs/%s" % d), 404)
        self.assertBlobIs("blobs/keep2", data)

    def test_invalid_digests(self):
        for bad in ("sha256:xyz",
                    "md5:d41d8cd98f00b204e9800998ecf8427e",
                    "sha256:" + "a" * 63,
                    "sha256:" + "A" * 64,
                    "sha256:" + "a" * 65,
                    "sha512:" + "a" * 64,
                    "sha256" + "a" * 64):
            for method in ("GET", "DELETE"):
                r = self.req(method, "/v2/%s/blobs/%s" % (self.repo, bad))
                self.assertError(r, 400, "DIGEST_INVALID")
            r = self.req("HEAD", "/v2/%s/blobs/%s" % (self.repo, bad))
            self.assertStatus(r, 400)


# --------------------------------------------------------------------------
class TestNames(UploadMixin, BerthTestCase):

    INVALID = [
        "Upper", "UPPER/case", "a/../b", "..", "a/%2e%2e/b", "%2e%2e/x", "a//b",
        "a/", "-abc", "abc-", "a___b", "a..b", "a%2Fb", "x" * 256,
        "a/" * 127 + "bb",  # 256 chars
    ]

    def test_invalid_names(self):
        for name in self.INVALID:
            probes = [
                ("GET", "/v2/%s/tags/list" % name, None, {}),
                ("POST", "/v2/%s/blobs/uploads/" % name, None, {}),
                ("HEAD", "/v2/%s/blobs/%s" % (name, sha256(b"a")), None, {}),
                ("GET", "/v2/%s/manifests/latest" % name, None, {}),
                ("PUT", "/v2/%s/manifests/latest" % name, b"{}",
                 {"Content-Type": OCI_MANIFEST}),
                ("GET", "/v2/%s/referrers/%s" % (name, sha256(b"a")), None, {}),
            ]
            for method, path, body, h in probes:
                with self.subTest(name=name[:40], method=method, path=path[:60]):
                    r = self.req(method, path, body=body, headers=h)
                    self.assertStatus(r, 400, 404)
                    if r.status == 400 and method != "HEAD":
                        self.assertIn("NAME_INVALID", r.error_codes(), r.describe())
        self.assertTrue(self.server.running())

    def test_valid_names(self):
        for name in ("mycompany/myproj/image-one", "a", "a.b_c__d---e/f0", "0/1/2/3/4/5",
                     "x" * 200):
            with self.subTest(name=name[:40]):
                dg, raw, _ = self.server.push_image(name, "v1")
                r = self.req("GET", "/v2/%s/manifests/v1" % name)
                self.assertStatus(r, 200)
                self.assertEqual(r.body, raw)
                r = self.req("GET", "/v2/%s/tags/list" % name)
                self.assertStatus(r, 200)
                self.assertEqual(r.json(), {"name": name, "tags": ["v1"]})

    def test_never_pushed(self):
        r = self.req("GET", "/v2/never/pushed/tags/list")
        self.assertError(r, 404, "NAME_UNKNOWN")

    def test_prefix_repo_is_distinct(self):
        self.server.push_image("pre/fix/child", "v1")
        r = self.req("GET", "/v2/pre/fix/tags/list")
        self.assertError(r, 404, "NAME_UNKNOWN")


# --------------------------------------------------------------------------
class TestManifests(UploadMixin, BerthTestCase):

    def image_parts(self, repo, nlayers=2, layer_type=OCI_LAYER, config_type=OCI_CONFIG):
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []},
                             "salt": os.urandom(8).hex()}).encode()
        cdesc = {"mediaType": config_type, "digest": self.server.push_blob(repo, config),
                 "size": len(config)}
        layers = []
        for i in range(nlayers):
            data = os.urandom(1000 + i)
            layers.append({"mediaType": layer_type,
                           "digest": self.server.push_blob(repo, data),
                           "size": len(data)})
        return cdesc, layers

    def oci_manifest(self, repo, **extra):
        cdesc, layers = self.image_parts(repo)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
             "layers": layers}
        m.update(extra)
        return canon(m)

    def put_manifest(self, repo, ref, raw, ct=OCI_MANIFEST, query=""):
        return self.req("PUT", "/v2/%s/manifests/%s%s" % (repo, ref, query), body=raw,
                        headers={"Content-Type": ct})

    def assertManifestCreated(self, r, repo, ref, raw):
        self.assertStatus(r, 201)
        d = sha256(raw)
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d, r.describe())
        loc = r.headers.get("Location")
        self.assertIn(loc, ("/v2/%s/manifests/%s" % (repo, d),
                            "/v2/%s/manifests/%s" % (repo, ref)), r.describe())

    def assertManifestIs(self, repo, ref, raw, ct, accept=None):
        h = {"Accept": accept} if accept else {}
        d = sha256(raw)
        r = self.req("GET", "/v2/%s/manifests/%s" % (repo, ref), headers=h)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, raw, "manifest bytes differ")
        self.assertEqual(r.headers.get("Content-Type"), ct)
        self.assertEqual(r.headers.get("Content-Length"), str(len(raw)))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), d)
        return r

    def tags(self, repo):
        r = self.req("GET", "/v2/%s/tags/list" % repo)
        if r.status == 404:
            self.assertIn("NAME_UNKNOWN", r.error_codes(), r.describe())
            return []
        self.assertStatus(r, 200)
        return r.json().get("tags") or []

    # -- basic push/pull
    def test_put_get_head_oci(self):
        repo = "mf/basic"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        r = self.put_manifest(repo, "v1", raw)
        self.assertManifestCreated(r, repo, "v1", raw)
        for ref in ("v1", d):
            r = self.assertManifestIs(repo, ref, raw, OCI_MANIFEST)
            etag = r.headers.get("ETag")
            self.assertTrue(etag, "missing ETag: " + r.describe())
            self.assertIn(d, etag)
            h = self.req("HEAD", "/v2/%s/manifests/%s" % (repo, ref))
            self.assertStatus(h, 200)
            self.assertEqual(h.body, b"")
            self.assertEqual(h.headers.get("Content-Type"), OCI_MANIFEST)
            self.assertEqual(h.headers.get("Content-Length"), str(len(raw)))
            self.assertEqual(h.headers.get("Docker-Content-Digest"), d)
            self.assertEqual(h.headers.get("ETag"), etag)

    def test_if_none_match(self):
        repo = "mf/inm"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        self.assertStatus(self.put_manifest(repo, "v1", raw), 201)
        for ref in ("v1", d):
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, ref),
                         headers={"If-None-Match": '"%s"' % d})
            self.assertStatus(r, 304)
            self.assertEqual(r.body, b"")
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, ref),
                         headers={"If-None-Match": '"%s"' % sha256(b"other")})
            self.assertStatus(r, 200)
            self.assertEqual(r.body, raw)

    def test_manifest_without_mediatype_field(self):
        repo = "mf/nomt"
        cdesc, layers = self.image_parts(repo)
        raw = canon({"schemaVersion": 2, "config": cdesc, "layers": layers})
        r = self.put_manifest(repo, "v1", raw, OCI_MANIFEST)
        self.assertManifestCreated(r, repo, "v1", raw)
        self.assertManifestIs(repo, "v1", raw, OCI_MANIFEST)

    def test_tag_overwrite(self):
        repo = "mf/overwrite"
        raw1 = self.oci_manifest(repo)
        raw2 = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "latest", raw1), 201)
        self.assertStatus(self.put_manifest(repo, "latest", raw2), 201)
        self.assertManifestIs(repo, "latest", raw2, OCI_MANIFEST)
        self.assertManifestIs(repo, sha256(raw1), raw1, OCI_MANIFEST)
        self.assertEqual(self.tags(repo), ["latest"])

    def test_put_by_digest(self):
        repo = "mf/bydigest"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        r = self.put_manifest(repo, d, raw)
        self.assertManifestCreated(r, repo, d, raw)
        self.assertManifestIs(repo, d, raw, OCI_MANIFEST)
        self.assertEqual(self.tags(repo), [])

    def test_put_by_digest_mismatch(self):
        repo = "mf/mismatch"
        raw = self.oci_manifest(repo)
        wrong = sha256(raw + b" ")
        r = self.put_manifest(repo, wrong, raw)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertStatus(self.req("GET", "/v2/%s/manifests/%s" % (repo, wrong)), 404)
        self.assertStatus(self.req("GET", "/v2/%s/manifests/%s" % (repo, sha256(raw))), 404)

    # -- other formats
    def test_docker_schema2(self):
        repo = "mf/docker"
        cdesc, layers = self.image_parts(repo, layer_type=DOCKER_LAYER,
                                         config_type=DOCKER_CONFIG)
        raw = canon({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                     "config": cdesc, "layers": layers})
        r = self.put_manifest(repo, "v1", raw, DOCKER_MANIFEST)
        self.assertManifestCreated(r, repo, "v1", raw)
        self.assertManifestIs(repo, "v1", raw, DOCKER_MANIFEST)
        self.assertManifestIs(repo, "v1", raw, DOCKER_MANIFEST,
                              accept="%s, %s" % (DOCKER_MANIFEST, DOCKER_LIST))
        return raw

    def push_platform_manifests(self, repo, media=OCI_MANIFEST, layer=OCI_LAYER,
                                cfg=OCI_CONFIG):
        descs = []
        for arch in ("amd64", "arm64"):
            cdesc, layers = self.image_parts(repo, 1, layer_type=layer, config_type=cfg)
            raw = canon({"schemaVersion": 2, "mediaType": media, "config": cdesc,
                         "layers": layers})
            self.assertStatus(self.put_manifest(repo, sha256(raw), raw, media), 201)
            descs.append({"mediaType": media, "digest": sha256(raw), "size": len(raw),
                          "platform": {"architecture": arch, "os": "linux"}})
        return descs

    def test_docker_manifest_list(self):
        repo = "mf/dockerlist"
        descs = self.push_platform_manifests(repo, DOCKER_MANIFEST, DOCKER_LAYER,
                                             DOCKER_CONFIG)
        raw = canon({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": descs})
        r = self.put_manifest(repo, "multi", raw, DOCKER_LIST)
        self.assertManifestCreated(r, repo, "multi", raw)
        self.assertManifestIs(repo, "multi", raw, DOCKER_LIST)
        self.assertManifestIs(repo, "multi", raw, DOCKER_LIST,
                              accept="%s, %s" % (DOCKER_MANIFEST, DOCKER_LIST))
        for dsc in descs:
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, dsc["digest"]))
            self.assertStatus(r, 200)

    def test_oci_index(self):
        repo = "mf/index"
        descs = self.push_platform_manifests(repo)
        raw = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs,
                     "annotations": {"org.example": "x"}})
        r = self.put_manifest(repo, "multi", raw, OCI_INDEX)
        self.assertManifestCreated(r, repo, "multi", raw)
        self.assertManifestIs(repo, "multi", raw, OCI_INDEX)
        # nested index
        nested = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_INDEX, "digest": sha256(raw), "size": len(raw)},
            descs[0]]})
        r = self.put_manifest(repo, "nested", nested, OCI_INDEX)
        self.assertManifestCreated(r, repo, "nested", nested)
        self.assertManifestIs(repo, "nested", nested, OCI_INDEX)

    def test_empty_index(self):
        repo = "mf/emptyindex"
        raw = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        r = self.put_manifest(repo, "empty", raw, OCI_INDEX)
        self.assertManifestCreated(r, repo, "empty", raw)
        self.assertManifestIs(repo, "empty", raw, OCI_INDEX)

    def push_empty_config(self, repo):
        self.assertEqual(self.server.push_blob(repo, EMPTY_JSON), EMPTY_JSON_DIGEST)
        return {"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST, "size": 2}

    def test_artifact_with_subject(self):
        repo = "mf/artifact"
        subj_raw = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "v1", subj_raw), 201)
        subject = {"mediaType": OCI_MANIFEST, "digest": sha256(subj_raw),
                   "size": len(subj_raw)}
        blob = b'{"sbom": true}'
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "artifactType": "application/vnd.example.sbom.v1+json",
                     "config": self.push_empty_config(repo),
                     "layers": [{"mediaType": "application/vnd.example.sbom.v1+json",
                                 "digest": self.server.push_blob(repo, blob),
                                 "size": len(blob)}],
                     "subject": subject,
                     "annotations": {"org.opencontainers.image.created":
                                     "2024-01-01T00:00:00Z"}})
        r = self.put_manifest(repo, sha256(raw), raw)
        self.assertManifestCreated(r, repo, sha256(raw), raw)
        self.assertEqual(r.headers.get("OCI-Subject"), sha256(subj_raw), r.describe())
        self.assertManifestIs(repo, sha256(raw), raw, OCI_MANIFEST)

    def test_subject_missing_accepted(self):
        repo = "mf/dangling"
        missing = sha256(b"manifest that was never pushed")
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "artifactType": "application/vnd.example.sig",
                     "config": self.push_empty_config(repo),
                     "layers": [{"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST,
                                 "size": 2}],
                     "subject": {"mediaType": OCI_MANIFEST, "digest": missing,
                                 "size": 1234}})
        r = self.put_manifest(repo, sha256(raw), raw)
        self.assertManifestCreated(r, repo, sha256(raw), raw)
        self.assertEqual(r.headers.get("OCI-Subject"), missing, r.describe())

    def test_index_with_subject_and_artifact_type(self):
        repo = "mf/idxsubject"
        subj_raw = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "v1", subj_raw), 201)
        raw = canon({"schemaVersion": 2, "mediaType": OCI_INDEX,
                     "artifactType": "application/vnd.example.bundle",
                     "manifests": [],
                     "subject": {"mediaType": OCI_MANIFEST, "digest": sha256(subj_raw),
                                 "size": len(subj_raw)}})
        r = self.put_manifest(repo, sha256(raw), raw, OCI_INDEX)
        self.assertManifestCreated(r, repo, sha256(raw), raw)
        self.assertEqual(r.headers.get("OCI-Subject"), sha256(subj_raw))

    # -- rejections
    def test_missing_layer(self):
        repo = "mf/missinglayer"
        cdesc, layers = self.image_parts(repo)
        layers.append({"mediaType": OCI_LAYER, "digest": sha256(b"not pushed"),
                       "size": 10})
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        r = self.put_manifest(repo, "v1", raw)
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertError(self.req("GET", "/v2/%s/manifests/v1" % repo), 404,
                         "MANIFEST_UNKNOWN")

    def test_missing_config(self):
        repo = "mf/missingconfig"
        cdesc, layers = self.image_parts(repo)
        cdesc = dict(cdesc, digest=sha256(b"no config"))
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        self.assertError(self.put_manifest(repo, "v1", raw), 400, "MANIFEST_BLOB_UNKNOWN")

    def test_layer_in_other_repo_only(self):
        cdesc, layers = self.image_parts("mf/layersource")
        repo = "mf/layertarget"
        config = b'{"architecture":"amd64","os":"linux"}'
        cdesc = {"mediaType": OCI_CONFIG, "digest": self.server.push_blob(repo, config),
                 "size": len(config)}
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        self.assertError(self.put_manifest(repo, "v1", raw), 400, "MANIFEST_BLOB_UNKNOWN")

    def test_index_child_other_repo(self):
        # an index whose children live in another repository only
        descs = self.push_platform_manifests("mf/childsource")
        raw = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs})
        r = self.put_manifest("mf/childtarget", "v1", raw, OCI_INDEX)
        self.assertStatus(r, 201, 400)
        if r.status == 400:
            self.assertIn("MANIFEST_BLOB_UNKNOWN", r.error_codes(), r.describe())

    def test_invalid_json(self):
        repo = "mf/invalid"
        for raw in (b"{not json", b"", b"[]", b'"str"',
                    b'{"schemaVersion": 2, "mediaType": "%s", "config": 5}' % OCI_MANIFEST.encode()):
            with self.subTest(raw=raw[:30]):
                r = self.put_manifest(repo, "v1", raw)
                self.assertError(r, 400, "MANIFEST_INVALID")

    def test_schema_version_wrong(self):
        repo = "mf/schemaversion"
        cdesc, layers = self.image_parts(repo)
        raw = canon({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        self.assertError(self.put_manifest(repo, "v1", raw), 400, "MANIFEST_INVALID")

    def test_schema1_rejected(self):
        repo = "mf/schema1"
        raw = canon({"schemaVersion": 1, "name": repo, "tag": "v1", "architecture": "amd64",
                     "fsLayers": [{"blobSum": sha256(b"x")}],
                     "history": [{"v1Compatibility": "{}"}],
                     "signatures": [{"header": {"alg": "ES256"}, "signature": "abc",
                                     "protected": "abc"}]})
        r = self.put_manifest(repo, "v1", raw, DOCKER_SCHEMA1)
        self.assertError(r, 400, "MANIFEST_INVALID")
        r = self.put_manifest(repo, "v1", raw,
                              "application/vnd.docker.distribution.manifest.v1+json")
        self.assertError(r, 400, "MANIFEST_INVALID")

    def test_large_manifest_accepted(self):
        repo = "mf/large"
        cdesc, layers = self.image_parts(repo, 1)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
             "layers": layers, "annotations": {}}
        base = len(canon(m))
        target = int(3.9 * 1024 * 1024)
        per = 1000
        n = (target - base) // (per + 40)
        for i in range(n):
            m["annotations"]["org.example.k%06d" % i] = "v" * per
        raw = canon(m)
        self.assertLess(len(raw), 4 * 1024 * 1024)
        self.assertGreater(len(raw), int(3.8 * 1024 * 1024))
        r = self.put_manifest(repo, "big", raw)
        self.assertManifestCreated(r, repo, "big", raw)
        self.assertManifestIs(repo, "big", raw, OCI_MANIFEST)

    def test_too_large_manifest_rejected(self):
        repo = "mf/toolarge"
        cdesc, layers = self.image_parts(repo, 1)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
             "layers": layers, "annotations": {"org.example.pad": "p" * (4 * 1024 * 1024 + 1024)}}
        raw = canon(m)
        try:
            r = self.server.req_raw("PUT", "/v2/%s/manifests/huge" % repo, raw,
                                    headers=dict({"Content-Type": OCI_MANIFEST}, **self.server.basic_auth_header()))
        except (ConnectionError, http.client.HTTPException) as e:
            self.fail("no HTTP response to an oversized manifest: %r" % e)
        self.assertStatus(r, 413, 400)
        codes = r.error_codes()
        self.assertTrue(codes and all(isinstance(c, str) and c for c in codes), r.describe())
        self.assertStatus(self.req("GET", "/v2/%s/manifests/huge" % repo), 404)

    def test_nondistributable_layer(self):
        repo = "mf/foreign"
        cdesc, layers = self.image_parts(repo, 1)
        layers.insert(0, {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                          "digest": sha256(b"foreign layer never pushed"), "size": 123456,
                          "urls": ["https://example.invalid/layer.tar.gz"]})
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        r = self.put_manifest(repo, "v1", raw)
        self.assertManifestCreated(r, repo, "v1", raw)
        # docker foreign layer
        cdesc, dlayers = self.image_parts(repo, 1, DOCKER_LAYER, DOCKER_CONFIG)
        dlayers.insert(0, {"mediaType": DOCKER_FOREIGN,
                           "digest": sha256(b"windows base layer"), "size": 99999,
                           "urls": ["https://example.invalid/base.tar.gz"]})
        raw = canon({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": cdesc,
                     "layers": dlayers})
        r = self.put_manifest(repo, "v2", raw, DOCKER_MANIFEST)
        self.assertManifestCreated(r, repo, "v2", raw)

    def test_invalid_tag(self):
        repo = "mf/badtag"
        raw = self.oci_manifest(repo)
        for tag in ("-lead", ".lead", "t" * 129, "a%2Fb", "tag:colon"):
            with self.subTest(tag=tag[:20]):
                r = self.put_manifest(repo, tag, raw)
                self.assertStatus(r, 400, 404)
        # 128 chars is the maximum and is valid
        r = self.put_manifest(repo, "T" * 128, raw)
        self.assertStatus(r, 201)

    def test_sha512_layer(self):
        repo = "mf/sha512"
        data = os.urandom(700)
        d = sha512(data)
        r = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data,
                     headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 201)
        cdesc, layers = self.image_parts(repo, 1)
        layers.append({"mediaType": OCI_LAYER, "digest": d, "size": len(data)})
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                     "layers": layers})
        r = self.put_manifest(repo, "v1", raw)
        self.assertManifestCreated(r, repo, "v1", raw)

    # -- lookups
    def test_unknown_tag_and_digest(self):
        repo = "mf/unknown"
        self.server.push_image(repo, "exists")
        self.assertError(self.req("GET", "/v2/%s/manifests/nope" % repo), 404,
                         "MANIFEST_UNKNOWN")
        r = self.req("HEAD", "/v2/%s/manifests/nope" % repo)
        self.assertStatus(r, 404)
        self.assertEqual(r.body, b"")
        self.assertError(self.req("GET", "/v2/%s/manifests/%s" % (repo, sha256(b"q"))),
                         404, "MANIFEST_UNKNOWN")
        # a manifest lives only in its repository
        dg, _, _ = self.server.push_image("mf/unknown-other", "v1")
        self.assertError(self.req("GET", "/v2/%s/manifests/%s" % (repo, dg)),
                         404, "MANIFEST_UNKNOWN")

    def test_accept_without_oci_type(self):
        repo = "mf/accept"
        raw = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "v1", raw), 201)
        r = self.req("GET", "/v2/%s/manifests/v1" % repo,
                     headers={"Accept": DOCKER_MANIFEST})
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        r = self.req("GET", "/v2/%s/manifests/v1" % repo,
                     headers={"Accept": "%s, %s" % (DOCKER_MANIFEST, OCI_MANIFEST)})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, raw)
        r = self.req("GET", "/v2/%s/manifests/v1" % repo, headers={"Accept": "*/*"})
        self.assertStatus(r, 200)

    def test_bad_digest_reference(self):
        repo = "mf/baddigest"
        self.server.push_image(repo, "v1")
        for ref in ("sha256:totallywrong", "sha256:" + "0" * 10, "md5:" + "0" * 32):
            for method in ("GET", "HEAD", "DELETE"):
                r = self.req(method, "/v2/%s/manifests/%s" % (repo, ref))
                self.assertStatus(r, 400, 404)

    # -- deletion
    def test_delete_by_digest(self):
        repo = "mf/delete"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        self.assertStatus(self.put_manifest(repo, "t1", raw), 201)
        self.assertStatus(self.put_manifest(repo, "t2", raw), 201)
        keep = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "keep", keep), 201)
        self.assertEqual(self.tags(repo), ["keep", "t1", "t2"])
        r = self.req("DELETE", "/v2/%s/manifests/%s" % (repo, d))
        self.assertStatus(r, 202)
        self.assertError(self.req("GET", "/v2/%s/manifests/%s" % (repo, d)), 404,
                         "MANIFEST_UNKNOWN")
        for t in ("t1", "t2"):
            self.assertError(self.req("GET", "/v2/%s/manifests/%s" % (repo, t)), 404,
                             "MANIFEST_UNKNOWN")
        self.assertEqual(self.tags(repo), ["keep"])
        self.assertManifestIs(repo, "keep", keep, OCI_MANIFEST)
        self.assertError(self.req("DELETE", "/v2/%s/manifests/%s" % (repo, d)), 404,
                         "MANIFEST_UNKNOWN")

    def test_delete_by_tag(self):
        repo = "mf/deltag"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        self.assertStatus(self.put_manifest(repo, "a", raw), 201)
        self.assertStatus(self.put_manifest(repo, "b", raw), 201)
        r = self.req("DELETE", "/v2/%s/manifests/a" % repo)
        self.assertStatus(r, 202)
        self.assertError(self.req("GET", "/v2/%s/manifests/a" % repo), 404, "MANIFEST_UNKNOWN")
        self.assertManifestIs(repo, "b", raw, OCI_MANIFEST)
        self.assertManifestIs(repo, d, raw, OCI_MANIFEST)
        self.assertEqual(self.tags(repo), ["b"])
        self.assertError(self.req("DELETE", "/v2/%s/manifests/a" % repo), 404,
                         "MANIFEST_UNKNOWN")

    def test_repush_after_delete(self):
        repo = "mf/repush"
        raw = self.oci_manifest(repo)
        self.assertStatus(self.put_manifest(repo, "v1", raw), 201)
        self.assertStatus(self.req("DELETE", "/v2/%s/manifests/%s" % (repo, sha256(raw))), 202)
        self.assertStatus(self.put_manifest(repo, "v1", raw), 201)
        self.assertManifestIs(repo, "v1", raw, OCI_MANIFEST)

    def test_push_by_digest_with_tags(self):
        repo = "mf/ocitag"
        raw = self.oci_manifest(repo)
        d = sha256(raw)
        r = self.put_manifest(repo, d, raw, query="?tag=a&tag=b")
        self.assertManifestCreated(r, repo, d, raw)
        got = r.headers.get_all("OCI-Tag")
        if got:
            vals = sorted(v.strip() for h in got for v in h.split(","))
            self.assertEqual(vals, ["a", "b"], r.describe())
        else:
            sys.stderr.write("\nNOTE: PUT ?tag= returned no OCI-Tag header\n")
        self.assertEqual(self.tags(repo), ["a", "b"])
        self.assertManifestIs(repo, "a", raw, OCI_MANIFEST)

    def test_concurrent_manifest_pushes(self):
        repo = "mf/concurrent"
        raws = [self.oci_manifest(repo) for _ in range(6)]
        results = []

        def work(i, raw):
            try:
                results.append(self.put_manifest(repo, "t%d" % i, raw).status)
            except Exception as e:  # pragma: no cover
                results.append(repr(e))

        ts = [threading.Thread(target=work, args=(i, raw)) for i, raw in enumerate(raws)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(results, [201] * 6)
        self.assertEqual(self.tags(repo), ["t%d" % i for i in range(6)])
        for i, raw in enumerate(raws):
            self.assertManifestIs(repo, "t%d" % i, raw, OCI_MANIFEST)


# --------------------------------------------------------------------------
LINK_RE = re.compile(r'^<([^>]+)>;\s*rel="next"$')


class TestTagsList(UploadMixin, BerthTestCase):

    TAGS = ["v2", "latest", "0.1", "v1.0", "a", "v10", "b-1", "v1-rc", "v1"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.repo = "tags/app"
        dg, raw, _ = cls.server.push_image(cls.repo, cls.TAGS[0])
        for t in cls.TAGS[1:]:
            cls.server.push_manifest(cls.repo, t, raw, OCI_MANIFEST)

    def get(self, query=""):
        return self.req("GET", "/v2/%s/tags/list%s" % (self.repo, query))

    def test_full_list_sorted(self):
        r = self.get()
        self.assertStatus(r, 200)
        self.assertIn("json", r.headers.get("Content-Type", ""))
        self.assertEqual(r.json(), {"name": self.repo, "tags": sorted(self.TAGS)})
        self.assertIsNone(r.headers.get("Link"))

    def test_pagination(self):
        want = sorted(self.TAGS)
        r = self.get("?n=4")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], want[:4])
        link = r.headers.get("Link")
        self.assertIsNotNone(link, r.describe())
        m = LINK_RE.match(link)
        self.assertTrue(m, "bad Link header %r" % link)
        u = urllib.parse.urlsplit(m.group(1))
        self.assertEqual(u.path, "/v2/%s/tags/list" % self.repo)
        q = urllib.parse.parse_qs(u.query)
        self.assertEqual(q, {"n": ["4"], "last": [want[3]]})
        # walk all pages
        got = []
        path = "/v2/%s/tags/list?n=4" % self.repo
        for _ in range(10):
            r = self.req("GET", path)
            self.assertStatus(r, 200)
            page = r.json().get("tags") or []
            self.assertLessEqual(len(page), 4)
            got.extend(page)
            link = r.headers.get("Link")
            if not link or not page:
                break
            path = LINK_RE.match(link).group(1)
        self.assertEqual(got, want)

    def test_last_only(self):
        want = sorted(self.TAGS)
        r = self.get("?last=latest")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], [t for t in want if t > "latest"])
        r = self.get("?n=2&last=latest")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], [t for t in want if t > "latest"][:2])
        # last not itself a tag
        r = self.get("?last=c")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], [t for t in want if t > "c"])
        r = self.get("?last=zzz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], [])

    def test_n_larger_than_count(self):
        r = self.get("?n=1000")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], sorted(self.TAGS))
        self.assertIsNone(r.headers.get("Link"))

    def test_n_exact_count(self):
        r = self.get("?n=%d" % len(self.TAGS))
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], sorted(self.TAGS))
        link = r.headers.get("Link")
        if link:  # allowed, but the next page must be empty
            r2 = self.req("GET", LINK_RE.match(link).group(1))
            self.assertStatus(r2, 200)
            self.assertEqual(r2.json().get("tags") or [], [])

    def test_n_zero(self):
        r = self.get("?n=0")
        self.assertStatus(r, 200)
        self.assertEqual(r.json().get("tags"), [])
        self.assertIsNone(r.headers.get("Link"))

    def test_bad_n(self):
        for q in ("?n=-1", "?n=abc", "?n=", "?n=1.5"):
            with self.subTest(q=q):
                self.assertError(self.get(q), 400, "PAGINATION_NUMBER_INVALID")

    def test_deleted_tag_disappears(self):
        dg, raw, _ = self.server.push_image("tags/del", "one")
        self.server.push_manifest("tags/del", "two", raw, OCI_MANIFEST)
        self.assertStatus(self.req("DELETE", "/v2/tags/del/manifests/one"), 202)
        r = self.req("GET", "/v2/tags/del/tags/list")
        self.assertEqual(r.json()["tags"], ["two"])


# --------------------------------------------------------------------------
class TestCatalog(UploadMixin, BerthTestCase):

    REPOS = ["gamma", "alpha/one", "beta/two/three", "alpha", "delta", "beta"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for r in cls.REPOS:
            cls.server.push_image(r, "v1")

    def test_full(self):
        r = self.req("GET", "/v2/_catalog")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"repositories": sorted(self.REPOS)})
        self.assertIsNone(r.headers.get("Link"))

    def test_pagination(self):
        want = sorted(self.REPOS)
        r = self.req("GET", "/v2/_catalog?n=2")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["repositories"], want[:2])
        link = r.headers.get("Link")
        self.assertIsNotNone(link, r.describe())
        m = LINK_RE.match(link)
        self.assertTrue(m, "bad Link header %r" % link)
        u = urllib.parse.urlsplit(m.group(1))
        self.assertEqual(u.path, "/v2/_catalog")
        self.assertEqual(urllib.parse.parse_qs(u.query), {"n": ["2"], "last": [want[1]]})
        got, path = [], "/v2/_catalog?n=2"
        for _ in range(10):
            r = self.req("GET", path)
            self.assertStatus(r, 200)
            page = r.json().get("repositories") or []
            got.extend(page)
            link = r.headers.get("Link")
            if not link or not page:
                break
            path = LINK_RE.match(link).group(1)
        self.assertEqual(got, want)

    def test_last(self):
        want = sorted(self.REPOS)
        r = self.req("GET", "/v2/_catalog?last=alpha/one")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["repositories"], [x for x in want if x > "alpha/one"])

    def test_n_zero(self):
        r = self.req("GET", "/v2/_catalog?n=0")
        self.assertStatus(r, 200)
        self.assertEqual(r.json().get("repositories"), [])
        self.assertIsNone(r.headers.get("Link"))

    def test_bad_n(self):
        for q in ("?n=-1", "?n=abc"):
            with self.subTest(q=q):
                self.assertError(self.req("GET", "/v2/_catalog" + q), 400,
                                 "PAGINATION_NUMBER_INVALID")


# --------------------------------------------------------------------------
class TestReferrers(UploadMixin, BerthTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.repo = repo = "ref/app"
        cls.subject_digest, raw, cls.subject = s.push_image(repo, "v1")
        s.push_blob(repo, EMPTY_JSON)
        empty = {"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST, "size": 2}
        cls.expected = {}

        def push(m, ct=OCI_MANIFEST, r=repo):
            raw = canon(m)
            s.push_manifest(r, sha256(raw), raw, ct)
            return sha256(raw), raw

        sbom = b'{"sbom":1}'
        d, raw = push({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "artifactType": "application/vnd.example.sbom.v1",
                       "config": empty,
                       "layers": [{"mediaType": "application/json",
                                   "digest": s.push_blob(repo, sbom), "size": len(sbom)}],
                       "subject": cls.subject,
                       "annotations": {"org.example.kind": "sbom",
                                       "org.opencontainers.image.created": "2024-05-01T00:00:00Z"}})
        cls.expected[d] = {"mediaType": OCI_MANIFEST, "digest": d, "size": len(raw),
                           "artifactType": "application/vnd.example.sbom.v1",
                           "annotations": {"org.example.kind": "sbom",
                                           "org.opencontainers.image.created": "2024-05-01T00:00:00Z"}}
        cls.sbom_digest = d
        d, raw = push({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "artifactType": "application/vnd.example.sig.v1",
                       "config": empty, "layers": [empty], "subject": cls.subject})
        cls.expected[d] = {"mediaType": OCI_MANIFEST, "digest": d, "size": len(raw),
                           "artifactType": "application/vnd.example.sig.v1"}
        cls.sig_digest = d
        # no artifactType: falls back to config.mediaType
        cfg = b'{"cfg":true}'
        d, raw = push({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.example.cfgtype.v1+json",
                                  "digest": s.push_blob(repo, cfg), "size": len(cfg)},
                       "layers": [empty], "subject": cls.subject})
        cls.expected[d] = {"mediaType": OCI_MANIFEST, "digest": d, "size": len(raw),
                           "artifactType": "application/vnd.example.cfgtype.v1+json"}
        # an index as referrer
        d, raw = push({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "artifactType": "application/vnd.example.bundle.v1",
                       "manifests": [], "subject": cls.subject}, OCI_INDEX)
        cls.expected[d] = {"mediaType": OCI_INDEX, "digest": d, "size": len(raw),
                           "artifactType": "application/vnd.example.bundle.v1"}
        # same subject digest but in another repository: must not show up
        s.push_blob("ref/other", EMPTY_JSON)
        push({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
              "artifactType": "application/vnd.example.sbom.v1",
              "config": empty, "layers": [empty], "subject": cls.subject}, r="ref/other")
        # a non-referrer manifest in the same repo
        s.push_image(repo, "v2")

    def referrers(self, digest, query="", repo=None):
        return self.req("GET", "/v2/%s/referrers/%s%s" % (repo or self.repo, digest, query))

    def check_index(self, r):
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Type"), OCI_INDEX)
        doc = r.json()
        self.assertEqual(doc.get("schemaVersion"), 2)
        self.assertEqual(doc.get("mediaType"), OCI_INDEX)
        self.assertIsInstance(doc.get("manifests"), list)
        return doc

    def test_list(self):
        doc = self.check_index(self.referrers(self.subject_digest))
        got = {m["digest"]: m for m in doc["manifests"]}
        self.assertEqual(set(got), set(self.expected))
        for d, want in self.expected.items():
            g = dict(got[d])
            if "annotations" not in want:
                g.pop("annotations", None)
            self.assertEqual(g, want)

    def test_filter(self):
        r = self.referrers(self.subject_digest,
                           "?artifactType=" + urllib.parse.quote("application/vnd.example.sbom.v1", safe=""))
        doc = self.check_index(r)
        self.assertEqual([m["digest"] for m in doc["manifests"]], [self.sbom_digest])
        self.assertEqual(r.headers.get("OCI-Filters-Applied"), "artifactType")
        r = self.referrers(self.subject_digest, "?artifactType=application/none")
        doc = self.check_index(r)
        self.assertEqual(doc["manifests"], [])

    def test_unknown_subject(self):
        doc = self.check_index(self.referrers(sha256(b"unknown subject")))
        self.assertEqual(doc["manifests"], [])
        # repository that does not exist at all
        r = self.referrers(sha256(b"x"), repo="ref/nothing-here")
        self.assertStatus(r, 200, 404)
        if r.status == 200:
            self.assertEqual(self.check_index(r)["manifests"], [])

    def test_bad_digest(self):
        for bad in ("sha256:xyz", "latest", "md5:" + "0" * 32):
            with self.subTest(bad=bad):
                r = self.referrers(bad)
                self.assertStatus(r, 400)

    def test_dangling_subject_then_listed(self):
        repo = "ref/dangling"
        missing = sha256(b"pushed later")
        self.server.push_blob(repo, EMPTY_JSON)
        empty = {"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST, "size": 2}
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "artifactType": "application/vnd.example.sig.v1",
                     "config": empty, "layers": [empty],
                     "subject": {"mediaType": OCI_MANIFEST, "digest": missing, "size": 5}})
        r = self.server.push_manifest(repo, sha256(raw), raw, OCI_MANIFEST)
        self.assertEqual(r.headers.get("OCI-Subject"), missing)
        doc = self.check_index(self.referrers(missing, repo=repo))
        self.assertEqual([m["digest"] for m in doc["manifests"]], [sha256(raw)])

    def test_deleted_referrer_disappears(self):
        repo = "ref/deleting"
        sd, _, sdesc = self.server.push_image(repo, "v1")
        self.server.push_blob(repo, EMPTY_JSON)
        empty = {"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST, "size": 2}
        raw = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "artifactType": "application/vnd.example.sig.v1",
                     "config": empty, "layers": [empty], "subject": sdesc})
        self.server.push_manifest(repo, sha256(raw), raw, OCI_MANIFEST)
        doc = self.check_index(self.referrers(sd, repo=repo))
        self.assertEqual(len(doc["manifests"]), 1)
        self.assertStatus(self.req("DELETE", "/v2/%s/manifests/%s" % (repo, sha256(raw))), 202)
        doc = self.check_index(self.referrers(sd, repo=repo))
        self.assertEqual(doc["manifests"], [])


# --------------------------------------------------------------------------
class TestConnectionHandling(UploadMixin, BerthTestCase):
    """One keep-alive connection across error responses whose request bodies
    the server may not have read: the next request on the connection must be
    answered correctly (or the server must have said Connection: close)."""

    def test_keepalive_after_errors(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)

        def do(method, path, body=None, headers=None):
            h = dict(headers or {}, **self.server.basic_auth_header())
            if body is not None and not isinstance(body, bytes):
                conn.request(method, path, body=body, headers=h, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, resp.read()

        def ping(step):
            try:
                st, body = do("GET", "/v2/")
            except (ConnectionError, http.client.HTTPException) as e:
                self.fail("after %s: connection broken without Connection: close (%r)" % (step, e))
            self.assertEqual(st, 200, "after %s: GET /v2/ -> %d %r" % (step, st, body[:200]))

        blob = os.urandom(200 * 1024)
        steps = [
            ("PATCH unknown upload", "PATCH", "/v2/ka/app/blobs/uploads/%s" % uuid.uuid4(),
             blob, {"Content-Type": "application/octet-stream"}, (404,)),
            ("PATCH unknown upload (chunked)", "PATCH",
             "/v2/ka/app/blobs/uploads/%s" % uuid.uuid4(), chunks_of(blob, 16384),
             {"Content-Type": "application/octet-stream"}, (404,)),
            ("invalid manifest", "PUT", "/v2/ka/app/manifests/v1", b"{" + b"x" * 50000,
             {"Content-Type": OCI_MANIFEST}, (400,)),
            ("monolithic POST wrong digest", "POST",
             "/v2/ka/app/blobs/uploads/?digest=%s" % sha256(b"nope"), blob,
             {"Content-Type": "application/octet-stream"}, (400,)),
            ("POST invalid name with body", "POST", "/v2/Bad/blobs/uploads/", blob,
             {"Content-Type": "application/octet-stream"}, (400, 404)),
            ("invalid digest with body", "PUT", "/v2/ka/app/manifests/sha256:zz", blob,
             {"Content-Type": OCI_MANIFEST}, (400, 404)),
            ("HEAD unknown blob", "HEAD", "/v2/ka/app/blobs/%s" % sha256(b"q"), None, {}, (404,)),
            ("GET unknown manifest", "GET", "/v2/ka/app/manifests/nope", None, {}, (404,)),
        ]
        ping("connect")
        for name, method, path, body, headers, want in steps:
            try:
                st, rbody = do(method, path, body, headers)
            except (ConnectionError, http.client.HTTPException) as e:
                self.fail("%s: no response on a reused connection (%r)" % (name, e))
            self.assertIn(st, want, "%s: %s %s -> %d %r" % (name, method, path, st, rbody[:200]))
            ping(name)
        # and a normal upload still works on the same connection
        st, _ = do("POST", "/v2/ka/app/blobs/uploads/?digest=%s" % sha256(blob), blob,
                   {"Content-Type": "application/octet-stream"})
        self.assertEqual(st, 201)
        st, body = do("GET", "/v2/ka/app/blobs/%s" % sha256(blob))
        self.assertEqual((st, body == blob), (200, True))

    def test_long_url_and_headers(self):
        r = self.req("GET", "/v2/x/tags/list?last=" + "a" * 20000)
        self.assertNotEqual(r.status, 500, r.describe())
        self.assertLess(r.status, 600)
        r = self.req("GET", "/v2/", headers={"X-Big": "b" * 20000})
        self.assertIn(r.status, (200, 400, 431), r.describe())
        self.assertTrue(self.server.running())
        self.assertStatus(self.req("GET", "/v2/"), 200)

    def test_unsupported_methods(self):
        for method, path in (("PUT", "/v2/x/tags/list"), ("DELETE", "/v2/"),
                             ("GET", "/v2/x/blobs/uploads/"), ("POST", "/v2/x/manifests/v1"),
                             ("PATCH", "/v2/x/blobs/%s" % sha256(b"a"))):
            with self.subTest(method=method, path=path):
                r = self.req(method, path)
                self.assertIn(r.status, (400, 404, 405), r.describe())
                self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), API_VERSION)


# --------------------------------------------------------------------------
class TestSignalsMidUpload(UploadMixin, BerthTestCase):
    """SIGTERM / SIGKILL while a streamed PATCH is in flight: the server stops
    in bounded time, and after a restart the upload session either is gone
    (404) or reports a Range that matches the bytes it really kept -- finishing
    the upload from the reported offset must yield the right digest."""

    def inflight(self, loc, data, first):
        release = threading.Event()
        result = {}

        def gen():
            yield data[:first]
            release.wait(5)
            for c in chunks_of(data[first:], 65536):
                yield c

        def run():
            try:
                result["r"] = self.req("PATCH", strip_origin(loc), body=gen(),
                                       headers={"Content-Type": "application/octet-stream"},
                                       timeout=20)
            except Exception as e:  # connection reset is expected here
                result["e"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, release, result

    def finish_after_restart(self, repo, loc, data):
        r = self.req("GET", strip_origin(loc))
        if r.status == 404:
            self.assertIn("BLOB_UPLOAD_UNKNOWN", r.error_codes(), r.describe())
            r = self.start_upload(repo)
            loc, have = r.headers["Location"], 0
        else:
            self.assertStatus(r, 204)
            m = re.match(r"^0-(\d+)$", r.headers.get("Range", ""))
            self.assertTrue(m, r.describe())
            have = int(m.group(1)) + 1
            self.assertLessEqual(have, len(data))
        if have < len(data):
            # streamed (chunked) so that this does not depend on body-size limits
            r = self.req("PATCH", strip_origin(loc), body=chunks_of(data[have:], 65536),
                         headers={"Content-Type": "application/octet-stream"})
            self.assertStatus(r, 202)
            self.assertEqual(r.headers.get("Range"), "0-%d" % (len(data) - 1), r.describe())
            loc = r.headers["Location"]
        r = self.put_digest(loc, sha256(data))
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_sigterm_during_streamed_patch(self):
        repo = "sig/term"
        data = os.urandom(2 * 1024 * 1024)
        # non-empty session first: an empty one reports the ambiguous "0-0"
        r = self.start_upload(repo)
        r = self.patch_range(r.headers["Location"], data[:100000], 0)
        self.assertStatus(r, 202)
        loc = r.headers["Location"]
        t, release, result = self.inflight(loc, data[100000:], 400 * 1024)
        time.sleep(0.5)
        t0 = time.monotonic()
        self.server.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        finally:
            release.set()
        elapsed = time.monotonic() - t0
        t.join(30)
        self.server.stop()
        self.server.start()
        self.assertEqual(rc, 0, "berth exit code after SIGTERM with a request in flight")
        self.assertLess(elapsed, 15)
        self.finish_after_restart(repo, loc, data)

    def test_sigkill_during_streamed_patch(self):
        repo = "sig/kill"
        data = os.urandom(2 * 1024 * 1024)
        r = self.start_upload(repo)
        r = self.patch_range(r.headers["Location"], data[:100000], 0)
        self.assertStatus(r, 202)
        loc = r.headers["Location"]
        t, release, result = self.inflight(loc, data[100000:], 400 * 1024)
        time.sleep(0.5)
        self.server.kill9()
        release.set()
        t.join(30)
        self.server.start()
        self.finish_after_restart(repo, loc, data)


# --------------------------------------------------------------------------
class TestRestart(UploadMixin, BerthTestCase):

    def resume_upload_across_restart(self, same_port):
        repo = "restart/upload"
        data = os.urandom(3 * 1024 * 1024 + 5)
        cut = 1024 * 1024
        r = self.start_upload(repo)
        r = self.patch_range(r.headers["Location"], data[:cut], 0)
        self.assertStatus(r, 202)
        loc = r.headers["Location"]
        rc = self.server.stop()
        self.server.start() if same_port else self.server.restart(same_port=False)
        self.assertEqual(rc, 0, "berth did not exit 0 on SIGTERM")
        r = self.req("GET", strip_origin(loc))
        self.assertStatus(r, 204)
        self.assertEqual(r.headers.get("Range"), "0-%d" % (cut - 1))
        r = self.patch_range(loc, data[cut:2 * cut], cut)
        self.assertStatus(r, 202)
        r = self.req("PATCH", strip_origin(r.headers["Location"]),
                     body=chunks_of(data[2 * cut:], 65536),
                     headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 202)
        self.assertEqual(r.headers.get("Range"), "0-%d" % (len(data) - 1))
        r = self.put_digest(r.headers["Location"], sha256(data))
        self.assertBlobCreated(r, repo, sha256(data))
        self.assertBlobIs(repo, data)

    def test_resume_upload_after_restart_same_port(self):
        self.resume_upload_across_restart(True)

    def test_resume_upload_after_restart_new_port(self):
        self.resume_upload_across_restart(False)

    def test_data_survives_sigterm_restart(self):
        repo = "restart/clean"
        layer = os.urandom(200000)
        dg, raw, _ = self.server.push_image(repo, "v1", layers=[layer])
        self.server.restart()
        r = self.req("GET", "/v2/%s/manifests/v1" % repo)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, raw)
        self.assertBlobIs(repo, layer)

    def test_durability_after_sigkill(self):
        repo = "restart/crash"
        layers = [os.urandom(1000), os.urandom(1024 * 1024)]
        dg, raw, _ = self.server.push_image(repo, "v1", layers=layers)
        m = json.loads(raw)
        config_digest = m["config"]["digest"]
        cfg = self.get_blob(repo, config_digest).body
        self.server.kill9()
        self.server.start()
        for ref in ("v1", dg):
            r = self.req("GET", "/v2/%s/manifests/%s" % (repo, ref))
            self.assertStatus(r, 200)
            self.assertEqual(r.body, raw)
        for l in layers:
            self.assertBlobIs(repo, l)
        self.assertBlobIs(repo, cfg, config_digest)
        r = self.req("GET", "/v2/%s/tags/list" % repo)
        self.assertEqual(r.json()["tags"], ["v1"])
        # the server still accepts writes after the crash
        self.server.push_image(repo, "v2")
        r = self.req("GET", "/v2/%s/tags/list" % repo)
        self.assertEqual(r.json()["tags"], ["v1", "v2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
