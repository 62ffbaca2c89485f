"""The Amazon ECR JSON protocol and ECR-style authentication, at the wire level
(stdlib only): SigV4 verification, error shapes, validation, unsupported
operations, login tokens on the V2 side (expiry, forgery, deleted users),
root-key generation, --auth none and the registry settings from the config file.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_ecr_protocol.py
(from tests/integration/).  test_ecr_boto3.py / test_ecr_awscli.py /
test_ecr_js.py drive the same API through the real SDKs and CLIs.
"""

import base64
import json
import os
import re
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import postgres_engine  # noqa: E402
from test_ecr_awscli import find_cli  # noqa: E402
from berth_fixture import (  # noqa: E402
    BerthServer, ECR_TARGET_PREFIX, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY,
    basic_auth_value, ecr_coverage, http_request, libfaketime, sha256, sigv4_sign, OCI_CONFIG, OCI_LAYER,
    OCI_MANIFEST, oci_image_manifest,
)

ALICE = {"name": "alice", "access_key_id": "AKIDALICE00000000001",
         "secret_access_key": "aliceSecretKey/0123456789abcdefghijklmno"}
BOB = {"name": "bob", "access_key_id": "AKIDBOB0000000000001",
       "secret_access_key": "bobSecretKey/0123456789abcdefghijklmnopq"}

SIG_MISMATCH = "The request signature we calculated does not match the signature you provided"
EXPIRED_V2 = "Your authorization token has expired. Reauthenticate and try again."


def not_found_message(name, registry="000000000000"):
    return "The repository with name '%s' does not exist in the registry with id '%s'" % (name, registry)


class EcrCase(unittest.TestCase):
    """Shared assertions; subclasses set cls.srv."""

    srv = None

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and self.srv is not None:
            self.srv.dump_log(tail=40)
        return out

    def assertEcrOk(self, resp):
        st, h, doc = resp
        self.assertEqual(st, 200, "expected 200, got %d %r" % (st, doc))
        self.assertTrue(h.get("x-amzn-RequestId"), "no x-amzn-RequestId: %r" % h.items())
        self.assertTrue((h.get("Content-Type") or "").startswith("application/x-amz-json-1.1"), h.items())
        return doc

    def assertEcrError(self, resp, exc, status=400, message=None, message_prefix=None):
        st, h, doc = resp
        self.assertEqual((st, doc.get("__type")), (status, exc), "expected %d %s, got %d %r" % (
            status, exc, st, doc))
        self.assertEqual(h.get("X-Amzn-ErrorType", "").split(":")[0], exc, h.items())
        self.assertTrue(h.get("x-amzn-RequestId"), "no x-amzn-RequestId: %r" % h.items())
        msg = doc.get("message")
        self.assertIsInstance(msg, str, doc)
        self.assertTrue(msg, doc)
        if message is not None:
            self.assertEqual(msg, message)
        if message_prefix is not None:
            self.assertTrue(msg.startswith(message_prefix), "message %r does not start with %r" % (
                msg, message_prefix))
        return doc

    def v2(self, method, path, token=None, auth_value=None, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        if auth_value is not None:
            headers["Authorization"] = auth_value
        elif token is not None:
            headers["Authorization"] = basic_auth_value(token)
        return self.srv.req(method, path, headers=headers, auth=False, **kw)

    def assertV2Error(self, r, status, code, message=None):
        self.assertEqual(r.status, status, r.describe())
        self.assertIn("Docker-Distribution-API-Version", r.headers, r.describe())
        try:
            errors = r.json().get("errors", [])
        except ValueError:
            self.fail("error body is not JSON: " + r.describe())
        self.assertTrue(errors, r.describe())
        self.assertEqual(errors[0].get("code"), code, r.describe())
        if message is not None:
            self.assertEqual(errors[0].get("message"), message, r.describe())


# ------------------------------------------------------------------- SigV4
class TestSigV4(EcrCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer("ecr-sigv4", auth="sigv4", users=[ALICE])
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def call(self, op="DescribeRepositories", payload=None, **kw):
        return self.srv.ecr_call(op, payload or {}, **kw)

    def test_signed_request_ok(self):
        doc = self.assertEcrOk(self.call())
        self.assertIsInstance(doc.get("repositories"), list, doc)

    def test_request_ids_unique(self):
        ids = {self.call()[1].get("x-amzn-RequestId") for _ in range(3)}
        self.assertEqual(len(ids), 3, ids)

    def test_missing_authentication(self):
        self.assertEcrError(self.call(sign=False), "MissingAuthenticationTokenException")
        # the V2-style Basic header is not ECR authentication either
        st, h, doc = self.call(sign=False, headers={"Authorization": basic_auth_value("x")})
        self.assertEqual(st, 400, doc)
        self.assertIn(doc.get("__type"), ("MissingAuthenticationTokenException",
                                          "IncompleteSignatureException"), doc)

    def test_unknown_access_key(self):
        self.assertEcrError(self.call(access_key="AKIDNOSUCHKEY0000001"), "UnrecognizedClientException",
                            message="The security token included in the request is invalid.")

    def test_wrong_secret(self):
        self.assertEcrError(self.call(secret=ROOT_SECRET_ACCESS_KEY[:-1] + "X"),
                            "InvalidSignatureException", message_prefix=SIG_MISMATCH)
        # alice's key with root's secret
        self.assertEcrError(self.call(access_key=ALICE["access_key_id"], secret=ROOT_SECRET_ACCESS_KEY),
                            "InvalidSignatureException", message_prefix=SIG_MISMATCH)

    def test_body_changed_after_signing(self):
        body = json.dumps({"repositoryNames": ["aa"]}).encode()
        h = {"Host": self.srv.hostport, "Content-Type": "application/x-amz-json-1.1",
             "X-Amz-Target": ECR_TARGET_PREFIX + "DescribeRepositories"}
        sigv4_sign("POST", "/", h, body, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, "us-east-1")
        st, hdrs, data = http_request("127.0.0.1", self.srv.port, "POST", "/",
                                      body=json.dumps({"repositoryNames": ["bb"]}).encode(), headers=h)
        self.assertEcrError((st, hdrs, json.loads(data)), "InvalidSignatureException",
                            message_prefix=SIG_MISMATCH)

    def test_target_changed_after_signing(self):
        body = b"{}"
        h = {"Host": self.srv.hostport, "Content-Type": "application/x-amz-json-1.1",
             "X-Amz-Target": ECR_TARGET_PREFIX + "DescribeRepositories"}
        sigv4_sign("POST", "/", h, body, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, "us-east-1")
        h["X-Amz-Target"] = ECR_TARGET_PREFIX + "DescribeRegistry"
        st, hdrs, data = http_request("127.0.0.1", self.srv.port, "POST", "/", body=body, headers=h)
        self.assertEcrError((st, hdrs, json.loads(data)), "InvalidSignatureException")

    def test_clock_skew(self):
        doc = self.assertEcrError(self.call(now=time.time() - 20 * 60), "InvalidSignatureException")
        self.assertRegex(doc["message"], r"^Signature expired: \d{8}T\d{6}Z is now earlier than "
                                         r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)")
        self.assertEcrError(self.call(now=time.time() + 20 * 60), "InvalidSignatureException")
        # inside the 15-minute window: fine, both ways
        self.assertEcrOk(self.call(now=time.time() - 10 * 60))
        self.assertEcrOk(self.call(now=time.time() + 10 * 60))

    def test_wrong_region_and_service(self):
        self.assertEcrError(self.call(region="eu-west-1"), "InvalidSignatureException")
        st, h, doc = self.call(service="s3")
        self.assertEqual(st, 400, doc)
        self.assertIn(doc.get("__type"), ("InvalidSignatureException", "IncompleteSignatureException"), doc)

    def test_malformed_authorization_header(self):
        st, h, doc = self.call(sign=False, headers={"Authorization": "AWS4-HMAC-SHA256 garbage"})
        self.assertEqual(st, 400, doc)
        self.assertIn(doc.get("__type"), ("IncompleteSignatureException", "InvalidSignatureException",
                                          "MissingAuthenticationTokenException"), doc)

    def test_js_sdk_signed_header_set(self):
        # @aws-sdk/client-ecr signs far more headers than botocore; the
        # verifier must rebuild the canonical request from SignedHeaders
        body = json.dumps({"maxResults": 5}).encode()
        extra = {"amz-sdk-invocation-id": "6c2c1a0e-1111-4a4a-8b8b-123456789abc",
                 "amz-sdk-request": "attempt=1; max=3",
                 "Content-Length": str(len(body)),
                 "x-amz-content-sha256": sha256(body).split(":", 1)[1],
                 "x-amz-user-agent": "aws-sdk-js/3.0.0  spaces   collapse"}
        self.assertEcrOk(self.call(body=body, headers=extra))

    def test_unsigned_headers_ignored(self):
        self.assertEcrOk(self.call(headers={"User-Agent": "whatever/1.0", "X-Unsigned": "1"},
                                   signed_headers={"content-type", "host", "x-amz-date", "x-amz-target"}))

    def test_config_user(self):
        self.assertEcrOk(self.call(access_key=ALICE["access_key_id"], secret=ALICE["secret_access_key"]))
        doc = self.assertEcrOk(self.call("CreateRepository", {"repositoryName": "alice/repo"},
                                         access_key=ALICE["access_key_id"],
                                         secret=ALICE["secret_access_key"]))
        self.assertEqual(doc["repository"]["repositoryName"], "alice/repo")
        # visible to root: one registry
        doc = self.assertEcrOk(self.call("DescribeRepositories", {"repositoryNames": ["alice/repo"]}))
        self.assertEqual(len(doc["repositories"]), 1)


# ------------------------------------------------------- protocol details
class TestProtocol(EcrCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer("ecr-protocol", auth="sigv4")
        cls.srv.start()
        cls.srv.create_repository("proto/base")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def test_unknown_operation(self):
        self.assertEcrError(self.srv.ecr_call("FrobnicateWidgets", {}), "UnknownOperationException")
        self.assertEcrError(self.srv.ecr_call(None, {}, target="DynamoDB_20120810.ListTables"),
                            "UnknownOperationException")
        self.assertEcrError(self.srv.ecr_call(None, {}, target=ECR_TARGET_PREFIX.rstrip(".")),
                            "UnknownOperationException")

    def test_malformed_json(self):
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", None, body=b'{"repositoryNames": ['),
                            "SerializationException")
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", None, body=b'["not", "an object"]'),
                            "SerializationException")

    def test_validation(self):
        prefix = "Invalid parameter at 'repositoryName' failed to satisfy constraint: '"
        self.assertEcrError(self.srv.ecr_call("CreateRepository", {"repositoryName": "Bad_Name"}),
                            "InvalidParameterException", message_prefix=prefix)
        self.assertEcrError(self.srv.ecr_call("CreateRepository", {"repositoryName": "a"}),
                            "InvalidParameterException", message_prefix=prefix)
        self.assertEcrError(self.srv.ecr_call("CreateRepository", {"repositoryName": "a" * 257}),
                            "InvalidParameterException", message_prefix=prefix)
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"maxResults": 5000}),
                            "InvalidParameterException",
                            message_prefix="Invalid parameter at 'maxResults' failed to satisfy constraint: '")
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"maxResults": 0}),
                            "InvalidParameterException")
        self.assertEcrError(self.srv.ecr_call("CreateRepository", {"repositoryName": "proto/enum",
                                                                   "imageTagMutability": "SOMETIMES"}),
                            "InvalidParameterException",
                            message_prefix="Invalid parameter at 'imageTagMutability' failed to satisfy constraint: '")
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"registryId": "123"}),
                            "InvalidParameterException")
        self.assertEcrError(self.srv.ecr_call("ListImages", {"repositoryName": "proto/base",
                                                             "filter": {"tagStatus": "SOME"}}),
                            "InvalidParameterException")
        self.assertEcrError(self.srv.ecr_call("PutImage", {"repositoryName": "proto/base",
                                                           "imageManifest": "{}", "imageTag": "t" * 301}),
                            "InvalidParameterException")
        # nothing was created by the rejected calls
        st, h, doc = self.srv.ecr_call("DescribeRepositories", {"repositoryNames": ["proto/enum"]})
        self.assertEcrError((st, h, doc), "RepositoryNotFoundException")

    def test_invalid_next_token(self):
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"maxResults": 1,
                                                                       "nextToken": "!!garbage!!"}),
                            "InvalidParameterException")

    def test_repository_not_found_message(self):
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"repositoryNames": ["proto/nope"]}),
                            "RepositoryNotFoundException", message=not_found_message("proto/nope"))

    def test_timestamps_are_numbers(self):
        st, h, doc = self.srv.ecr_call("CreateRepository", {"repositoryName": "proto/ts"})
        repo = self.assertEcrOk((st, h, doc))["repository"]
        self.assertIsInstance(repo["createdAt"], (int, float))
        self.assertNotIsInstance(repo["createdAt"], bool)
        self.assertLess(abs(repo["createdAt"] - time.time()), 120)
        auth = self.srv.authorization_data()
        self.assertIsInstance(auth["expiresAt"], (int, float))

    def test_authorization_token(self):
        before = time.time()
        data = self.srv.authorization_data()
        raw = base64.b64decode(data["authorizationToken"], validate=True).decode()
        user, sep, password = raw.partition(":")
        self.assertEqual((user, sep), ("AWS", ":"))
        self.assertTrue(password)
        self.assertNotIn(":", password, "aws ecr get-login-password splits on ':'")
        self.assertLess(abs(data["expiresAt"] - (before + 12 * 3600)), 120, data)
        self.assertEqual(data["proxyEndpoint"], "http://" + self.srv.hostport)
        # registryIds (deprecated) is accepted
        doc = self.srv.ecr("GetAuthorizationToken", {"registryIds": ["000000000000"]})
        self.assertEqual(len(doc["authorizationData"]), 1)

    def test_describe_registry(self):
        doc = self.srv.ecr("DescribeRegistry", {})
        self.assertEqual(doc["registryId"], "000000000000")
        self.assertEqual(doc.get("replicationConfiguration", {}).get("rules", []), [])

    def unsupported_payloads(self):
        """A valid input for every operation Berth may leave unimplemented."""
        r = "proto/base"
        img = {"imageTag": "latest"}
        lifecycle = json.dumps({"rules": [{"rulePriority": 1, "description": "expire untagged images",
                                           "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                                         "countNumber": 1},
                                           "action": {"type": "expire"}}]})
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "x", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}]})
        principal = "arn:aws:iam::000000000000:user/somebody"
        return {
            "SetRepositoryPolicy": {"repositoryName": r, "policyText": policy},
            "GetRepositoryPolicy": {"repositoryName": r},
            "DeleteRepositoryPolicy": {"repositoryName": r},
            "PutRegistryPolicy": {"policyText": policy},
            "GetRegistryPolicy": {},
            "DeleteRegistryPolicy": {},
            "PutLifecyclePolicy": {"repositoryName": r, "lifecyclePolicyText": lifecycle},
            "GetLifecyclePolicy": {"repositoryName": r},
            "DeleteLifecyclePolicy": {"repositoryName": r},
            "StartLifecyclePolicyPreview": {"repositoryName": r, "lifecyclePolicyText": lifecycle},
            "GetLifecyclePolicyPreview": {"repositoryName": r},
            "UpdateImageStorageClass": {"repositoryName": r, "imageId": img, "targetStorageClass": "ARCHIVE"},
            "StartImageScan": {"repositoryName": r, "imageId": img},
            "DescribeImageScanFindings": {"repositoryName": r, "imageId": img},
            "PutRegistryScanningConfiguration": {"scanType": "BASIC"},
            "GetRegistryScanningConfiguration": {},
            "BatchGetRepositoryScanningConfiguration": {"repositoryNames": [r]},
            "PutReplicationConfiguration": {"replicationConfiguration": {"rules": [
                {"destinations": [{"region": "eu-west-1", "registryId": "000000000000"}]}]}},
            "DescribeImageReplicationStatus": {"repositoryName": r, "imageId": img},
            "CreatePullThroughCacheRule": {"ecrRepositoryPrefix": "hub",
                                           "upstreamRegistryUrl": "registry-1.docker.io"},
            "DescribePullThroughCacheRules": {},
            "DeletePullThroughCacheRule": {"ecrRepositoryPrefix": "hub"},
            "UpdatePullThroughCacheRule": {"ecrRepositoryPrefix": "hub"},
            "ValidatePullThroughCacheRule": {"ecrRepositoryPrefix": "hub"},
            "PutSigningConfiguration": {"signingConfiguration": {"rules": [
                {"signingProfileArn": "arn:aws:signer:us-east-1:000000000000:/signing-profiles/berth_p"}]}},
            "GetSigningConfiguration": {},
            "DeleteSigningConfiguration": {},
            "DescribeImageSigningStatus": {"repositoryName": r, "imageId": img},
            "ListImageReferrers": {"repositoryName": r, "subjectId": {"imageDigest": "sha256:" + "a" * 64}},
            "RegisterPullTimeUpdateExclusion": {"principalArn": principal},
            "DeregisterPullTimeUpdateExclusion": {"principalArn": principal},
            "ListPullTimeUpdateExclusions": {},
        }

    def test_unsupported_operations(self):
        """Every operation docs/api-coverage.md lists as "not yet" answers
        UnsupportedOperationException naming it, never a fake success; every
        other one documented there is really implemented."""
        coverage = ecr_coverage()
        self.assertGreaterEqual(len(coverage), 50, "ECR table of docs/api-coverage.md not found")
        payloads = self.unsupported_payloads()
        failures = []
        for op, status in sorted(coverage.items()):
            if op not in payloads:
                if status.startswith("not yet"):
                    failures.append("%s: documented as not yet, but this test has no payload for it" % op)
                continue
            st, h, doc = self.srv.ecr_call(op, payloads[op])
            unsupported = doc.get("__type") == "UnsupportedOperationException"
            if status.startswith("not yet"):
                if st != 400 or not unsupported or op not in doc.get("message", "") \
                        or h.get("X-Amzn-ErrorType") != "UnsupportedOperationException":
                    failures.append("%s (docs: not yet) -> %d %r" % (op, st, doc))
            elif unsupported:
                failures.append("%s (docs: %s) -> %d %r" % (op, status, st, doc))
        if failures:
            self.fail("docs/api-coverage.md and the server disagree:\n" + "\n".join(failures))


# -------------------------------------------------------- V2 login tokens
class TestV2Auth(EcrCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = BerthServer("ecr-v2auth", auth="sigv4", users=[ALICE])
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def test_challenge(self):
        for method, path in (("GET", "/v2/"), ("GET", "/v2/x/y/tags/list"),
                             ("POST", "/v2/x/y/blobs/uploads/"), ("GET", "/v2/_catalog"),
                             ("HEAD", "/v2/x/y/manifests/latest")):
            r = self.v2(method, path)
            self.assertEqual(r.status, 401, r.describe())
            www = r.headers.get("WWW-Authenticate", "")
            self.assertRegex(www, r'^Basic realm="[^"]+",\s*service="ecr\.amazonaws\.com"$', r.describe())
            self.assertEqual(r.headers.get("Docker-Distribution-API-Version"), "registry/2.0", r.describe())

    def test_valid_tokens(self):
        r = self.v2("GET", "/v2/", token=self.srv.login_token())
        self.assertEqual(r.status, 200, r.describe())
        alice = self.srv.login_token(ALICE["access_key_id"], ALICE["secret_access_key"])
        r = self.v2("GET", "/v2/", token=alice)
        self.assertEqual(r.status, 200, r.describe())
        # the authorizationToken itself is the Basic credential (registry_auth.md)
        data = self.srv.authorization_data()
        r = self.v2("GET", "/v2/", auth_value="Basic " + data["authorizationToken"])
        self.assertEqual(r.status, 200, r.describe())

    def test_forged_tokens(self):
        good = self.srv.login_token()
        flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
        for value in (basic_auth_value("garbage"), basic_auth_value(flipped),
                      basic_auth_value(good + "x"), basic_auth_value(""),
                      "Basic " + base64.b64encode(("bob:" + good).encode()).decode(),
                      "Basic !!!notbase64", "Bearer garbage", "Digest " + good):
            r = self.v2("GET", "/v2/", auth_value=value)
            self.assertV2Error(r, 401, "UNAUTHORIZED")
            self.assertIn("WWW-Authenticate", r.headers)
        # and not on a repository route either
        self.assertV2Error(self.v2("GET", "/v2/a/b/tags/list", auth_value=basic_auth_value(flipped)),
                           401, "UNAUTHORIZED")

    def test_sigv4_secret_is_not_a_password(self):
        r = self.v2("GET", "/v2/", auth_value="Basic " + base64.b64encode(
            ("AWS:" + ROOT_SECRET_ACCESS_KEY).encode()).decode())
        self.assertV2Error(r, 401, "UNAUTHORIZED")

    def test_push_requires_repository(self):
        tok = self.srv.login_token()
        r = self.v2("POST", "/v2/ghost/app/blobs/uploads/", token=tok)
        self.assertV2Error(r, 404, "NAME_UNKNOWN", not_found_message("ghost/app"))
        r = self.v2("GET", "/v2/ghost/app/manifests/latest", token=tok)
        self.assertV2Error(r, 404, "NAME_UNKNOWN", not_found_message("ghost/app"))
        cfg, layer = b"{}", b"layer"
        raw = oci_image_manifest({"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                                 [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}])
        r = self.v2("PUT", "/v2/ghost/app/manifests/latest", token=tok, body=raw,
                    headers={"Content-Type": OCI_MANIFEST})
        self.assertV2Error(r, 404, "NAME_UNKNOWN")
        st, h, doc = self.srv.ecr_call("DescribeRepositories", {"repositoryNames": ["ghost/app"]})
        self.assertEqual(doc.get("__type"), "RepositoryNotFoundException", doc)

    def test_push_after_create(self):
        self.srv.create_repository("v2auth/app")
        self.srv.v2_auth = True
        try:
            digest, raw, _ = self.srv.push_image("v2auth/app", "v1")
        finally:
            self.srv.v2_auth = False
        doc = self.srv.ecr("ListImages", {"repositoryName": "v2auth/app"})
        self.assertEqual(doc["imageIds"], [{"imageDigest": digest, "imageTag": "v1"}])
        r = self.v2("GET", "/v2/v2auth/app/manifests/v1", token=self.srv.login_token(),
                    headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, raw), r.describe())
        # the same pull without credentials is refused
        self.assertEqual(self.v2("GET", "/v2/v2auth/app/manifests/v1").status, 401)

    def test_create_on_push_root_template(self):
        # no template: refused (another class of this server may not add one)
        tok = self.srv.login_token()
        r = self.v2("POST", "/v2/auto/one/blobs/uploads/", token=tok)
        self.assertV2Error(r, 404, "NAME_UNKNOWN")
        self.srv.enable_create_on_push()
        self.addCleanup(self.srv.ecr_call, "DeleteRepositoryCreationTemplate", {"prefix": "ROOT"})
        self.srv.enable_create_on_push()        # idempotent helper
        self.srv.v2_auth = True
        try:
            digest, raw, _ = self.srv.push_image("auto/one", "v1")
        finally:
            self.srv.v2_auth = False
        repo = self.srv.ecr("DescribeRepositories", {"repositoryNames": ["auto/one"]})["repositories"][0]
        self.assertEqual(repo["imageTagMutability"], "MUTABLE")
        self.assertEqual(repo["repositoryUri"], "%s/auto/one" % self.srv.hostport)


# ------------------------------------------------ tokens across restarts
class TestTokenLifecycle(EcrCase):
    def setUp(self):
        self.srv = None

    def tearDown(self):
        if self.srv is not None:
            self.srv.stop()
            self.srv.cleanup()

    def test_expired_token(self):
        lib = libfaketime()
        if not lib:
            sys.stderr.write("\n!!! SKIPPING: libfaketime not installed (Debian package faketime)\n")
            self.skipTest("libfaketime not installed")
        # issue a token on a server that believes it is 13 hours ago...  (LD_PRELOAD
        # rather than the faketime wrapper: that one forks, and SIGTERM would
        # stop only the wrapper)
        skew = 13 * 3600
        self.srv = BerthServer("ecr-expiry", auth="sigv4",
                               env={"LD_PRELOAD": lib, "FAKETIME": "-13h", "DONT_FAKE_MONOTONIC": "1"})
        self.srv.start()
        data = self.srv.authorization_data(now=time.time() - skew)
        self.assertLess(data["expiresAt"], time.time(), "faketime did not take effect: %r" % data)
        old = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1]
        self.assertEcrError(self.srv.ecr_call("DescribeRegistry", {}), "InvalidSignatureException")
        # ... and present it to the same registry at the real time
        self.srv.stop()
        del self.srv.env["LD_PRELOAD"], self.srv.env["FAKETIME"]
        self.srv.start()
        # really the real-time server now: a request signed now is within the skew window
        self.assertEcrOk(self.srv.ecr_call("DescribeRegistry", {}))
        r = self.v2("GET", "/v2/", token=old)
        self.assertV2Error(r, 403, "DENIED", EXPIRED_V2)
        self.srv.create_repository("exp/app")
        r = self.v2("GET", "/v2/exp/app/tags/list", token=old)
        self.assertV2Error(r, 403, "DENIED", EXPIRED_V2)
        # a fresh token works
        self.assertEqual(self.v2("GET", "/v2/", token=self.srv.login_token()).status, 200)

    def test_token_survives_restart_but_not_user_removal(self):
        self.srv = BerthServer("ecr-users", auth="sigv4", users=[ALICE, BOB])
        self.srv.start()
        alice = self.srv.login_token(ALICE["access_key_id"], ALICE["secret_access_key"])
        bob = self.srv.login_token(BOB["access_key_id"], BOB["secret_access_key"])
        root = self.srv.login_token()
        self.srv.restart()
        for tok in (alice, bob, root):
            self.assertEqual(self.v2("GET", "/v2/", token=tok).status, 200, "token lost on restart")
        self.srv.users = [BOB]
        self.srv.restart()
        self.assertV2Error(self.v2("GET", "/v2/", token=alice), 401, "UNAUTHORIZED")
        self.assertEqual(self.v2("GET", "/v2/", token=bob).status, 200)
        self.assertEqual(self.v2("GET", "/v2/", token=root).status, 200)
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {},
                                              access_key=ALICE["access_key_id"],
                                              secret=ALICE["secret_access_key"]),
                            "UnrecognizedClientException")

    def test_generated_root_key(self):
        self.srv = BerthServer("ecr-genroot", env={"BERTH_ROOT_ACCESS_KEY_ID": None,
                                                  "BERTH_ROOT_SECRET_ACCESS_KEY": None,
                                                  "BERTH_AUTH": None})
        self.srv.start()
        path = os.path.join(self.srv.data_dir, "root-credentials.json")
        if postgres_engine.enabled():
            # a database the servers share keeps it, not the data directory
            self.assertFalse(os.path.exists(path), path)
        else:
            self.assertTrue(os.path.exists(path), "no %s" % path)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        stored = self.srv.stored_root_key()
        self.assertTrue(stored, "no stored root key")
        creds = json.loads(stored)
        ak, sk = creds["access_key_id"], creds["secret_access_key"]
        self.assertTrue(ak and sk and len(sk) >= 20, creds)
        self.assertNotEqual(ak, ROOT_ACCESS_KEY_ID)
        self.assertEqual(self.srv.log_text().count(sk), 1, "secret not printed exactly once")
        self.assertEcrOk(self.srv.ecr_call("DescribeRepositories", {}, access_key=ak, secret=sk))
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {}, sign=False),
                            "MissingAuthenticationTokenException")
        self.srv.restart()
        self.assertEqual(json.loads(self.srv.stored_root_key()), creds, "root key changed on restart")
        self.assertEqual(self.srv.log_text().count(sk), 1, "secret printed again on restart")
        self.assertEcrOk(self.srv.ecr_call("DescribeRepositories", {}, access_key=ak, secret=sk))

    def test_auth_none(self):
        self.srv = BerthServer("ecr-noauth", auth="none")
        self.srv.start()
        self.assertTrue([l for l in self.srv.log_text().splitlines()
                         if re.search(r"\bwarn", l, re.I) and "auth" in l.lower()],
                        "no warning about disabled authentication in the log")
        self.assertEqual(self.srv.req("GET", "/v2/").status, 200)
        st, h, doc = self.srv.ecr_call("CreateRepository", {"repositoryName": "open/app"}, sign=False)
        self.assertEcrOk((st, h, doc))
        digest, raw, _ = self.srv.push_image("open/app", "v1")
        st, h, doc = self.srv.ecr_call("ListImages", {"repositoryName": "open/app"}, sign=False)
        self.assertEqual(self.assertEcrOk((st, h, doc))["imageIds"],
                         [{"imageDigest": digest, "imageTag": "v1"}])
        # repositories are still required unless a template says otherwise
        r = self.srv.req("POST", "/v2/open/ghost/blobs/uploads/")
        self.assertV2Error(r, 404, "NAME_UNKNOWN")

    def test_registry_settings_from_config(self):
        self.srv = BerthServer("ecr-settings", auth="sigv4",
                               registry={"account_id": "123456789012", "region": "eu-west-1",
                                         "public_host": "registry.example.test:5000"})
        self.srv.start()
        repo = self.srv.create_repository("team/app")
        self.assertEqual(repo["repositoryArn"], "arn:aws:ecr:eu-west-1:123456789012:repository/team/app")
        self.assertEqual(repo["registryId"], "123456789012")
        self.assertEqual(repo["repositoryUri"], "registry.example.test:5000/team/app")
        data = self.srv.authorization_data()
        self.assertEqual(data["proxyEndpoint"], "http://registry.example.test:5000")
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {}, region="us-east-1"),
                            "InvalidSignatureException")
        self.assertEcrError(self.srv.ecr_call("DescribeRepositories", {"repositoryNames": ["team/none"]}),
                            "RepositoryNotFoundException",
                            message=not_found_message("team/none", "123456789012"))
        self.assertEqual(self.srv.ecr("DescribeRegistry", {})["registryId"], "123456789012")
        # V2 NAME_UNKNOWN names the configured registry too
        r = self.v2("POST", "/v2/team/none/blobs/uploads/", token=self.srv.login_token())
        self.assertV2Error(r, 404, "NAME_UNKNOWN", not_found_message("team/none", "123456789012"))

    def test_ecr_hostnames_in_repository_uris_and_the_proxy_endpoint(self):
        registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        self.srv = BerthServer("ecr-hostnames", auth="sigv4",
                               registry={"account_id": "123456789012", "region": "eu-west-1"},
                               extra_args=["--ecr-hostnames"])
        self.srv.start()
        repo = self.srv.create_repository("team/app")
        self.assertEqual(repo["repositoryUri"], registry + "/team/app")
        described = self.srv.ecr("DescribeRepositories", {"repositoryNames": ["team/app"]})
        self.assertEqual(described["repositories"][0]["repositoryUri"], registry + "/team/app")
        # What amazon-ecr-credential-helper requires: the proxyEndpoint must match its ECR host pattern.
        data = self.srv.authorization_data()
        self.assertEqual(data["proxyEndpoint"], "https://" + registry)
        self.assertRegex(data["proxyEndpoint"][len("https://"):],
                         r"(^[a-zA-Z0-9][a-zA-Z0-9-_]*)\.dkr\.ecr(-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)"
                         r"\.amazonaws\.com(\.cn)?$")
        # aws-cli v1's get-login prints the docker login for that host.
        v1 = find_cli(1)
        if v1:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_ACCESS_KEY_ID=ROOT_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET_ACCESS_KEY,
                       AWS_DEFAULT_REGION="eu-west-1", AWS_CONFIG_FILE=os.devnull,
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
            p = subprocess.run(v1[0] + ["ecr", "get-login", "--no-include-email", "--endpoint-url", self.srv.base],
                               capture_output=True, text=True, timeout=120, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            argv = p.stdout.split()
            self.assertEqual(argv[:5], ["docker", "login", "-u", "AWS", "-p"], p.stdout)
            self.assertEqual(argv[-1], "https://" + registry)
        self.srv.stop()
        self.srv.registry = {"account_id": "123456789012", "region": "eu-west-1",
                             "public_host": "registry.example.test"}
        with self.assertRaises(Exception):
            self.srv.start()
        self.assertIn("registry.public_host and registry.ecr_hostnames both name the registry's host",
                      self.srv.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
