"""Berth's Amazon ECR API through boto3: repositories, pagination, tags,
creation templates and push-to-create, images (list/describe/get/delete/put),
tag immutability (PutImage and V2), the layer upload API and its sharing of
the blob store with the V2 API, download URLs, account settings, auth errors.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_ecr_boto3.py
(from tests/integration/).  Needs boto3 (pip, or Debian package python3-boto3);
operations or members missing from the installed botocore's ECR model are
skipped loudly (Debian 12's botocore 1.29 predates creation templates,
account settings and exclusion filters).
"""

import base64
import datetime
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, basic_auth_value, sha256,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST, DOCKER_MANIFEST,
    oci_image_manifest, pick_unsupported, REPOSITORY_NAME_OPS,
)

try:
    import boto3
    import botocore
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:       # handled in setUpModule
    boto3 = None

ALICE = {"name": "alice", "access_key_id": "AKIDALICEB0T03000001",
         "secret_access_key": "aliceBoto3Secret/0123456789abcdefghijklm"}
MiB = 1 << 20
SERVER = None
TAG_IMMUTABLE_MSG = ("The image tag '%s' already exists in the '%s' repository and cannot be "
                     "overwritten because the tag is immutable.")


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def setUpModule():
    global SERVER
    if boto3 is None:
        loud_skip("boto3 not importable (pip install boto3, or Debian package python3-boto3)")
    # no stray configuration or credentials from the machine
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    sys.stderr.write("\n  boto3 %s / botocore %s\n" % (boto3.__version__, botocore.__version__))
    # older urllib3 (Debian 12) warns about the pooled keep-alive sockets of clients
    warnings.filterwarnings("ignore", category=ResourceWarning, message="unclosed <socket")
    SERVER = BerthServer("ecr-boto3", auth="sigv4", users=[ALICE], v2_auth=True)
    SERVER.start()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()


def make_client(access_key=ROOT_ACCESS_KEY_ID, secret=ROOT_SECRET_ACCESS_KEY, region="us-east-1",
                **config):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                 read_timeout=120, **config)
    return boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret,
                                 region_name=region).client("ecr", endpoint_url=SERVER.base, config=cfg)


def blob(data, media_type=OCI_LAYER):
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def new_config():
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                       "salt": os.urandom(8).hex()}).encode()


def push_image(repo, ref=None, layers=None, config=None, layer_type=OCI_LAYER):
    """V2 push (Basic login token). ref: tag, or None -> push by digest.
    Returns dict(digest, raw, layers, config)."""
    layers = [os.urandom(2000)] if layers is None else layers
    config = new_config() if config is None else config
    SERVER.push_blob(repo, config)
    for l in layers:
        SERVER.push_blob(repo, l)
    raw = oci_image_manifest(blob(config, OCI_CONFIG), [blob(l, layer_type) for l in layers])
    SERVER.push_manifest(repo, ref or sha256(raw), raw, OCI_MANIFEST)
    return {"digest": sha256(raw), "raw": raw, "layers": layers, "config": config}


class Boto3Case(unittest.TestCase):
    ecr = None

    @classmethod
    def setUpClass(cls):
        cls.ecr = make_client()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and SERVER is not None:
            SERVER.dump_log(tail=40)
        return out

    # ------------------------------------------------------------ helpers
    def require_op(self, op):
        if op not in self.ecr.meta.service_model.operation_names:
            loud_skip("botocore %s's ECR model has no %s" % (botocore.__version__, op))

    def require_member(self, op, member):
        self.require_op(op)
        if member not in self.ecr.meta.service_model.operation_model(op).input_shape.members:
            loud_skip("botocore %s's ECR model has no %s.%s" % (botocore.__version__, op, member))

    def assertEcrRaises(self, exc_name, fn, *args, message=None, message_re=None, **kwargs):
        """fn must raise the ECR exception exc_name; checked through the modeled
        class (client.exceptions.X) when the model has one, and the code."""
        modeled = getattr(self.ecr.exceptions, exc_name, None)
        try:
            fn(*args, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code != exc_name:
                self.fail("expected %s, got %s: %s" % (exc_name, code, e))
            if modeled is not None:
                self.assertIsInstance(e, modeled, "not raised as client.exceptions.%s" % exc_name)
            meta = e.response.get("ResponseMetadata", {})
            self.assertEqual(meta.get("HTTPStatusCode"), 500 if exc_name == "ServerException" else 400)
            self.assertTrue(meta.get("RequestId"), "no x-amzn-RequestId")
            msg = e.response["Error"].get("Message", "")
            self.assertTrue(msg, "empty message")
            if message is not None:
                self.assertEqual(msg, message)
            if message_re is not None:
                self.assertRegex(msg, message_re)
            return e
        self.fail("expected %s, nothing raised" % exc_name)

    def create_repo(self, name, **kw):
        return self.ecr.create_repository(repositoryName=name, **kw)["repository"]

    push_image = staticmethod(lambda *a, **kw: push_image(*a, **kw))

    def v2(self, method, path, **kw):
        return SERVER.req(method, path, **kw)


# ------------------------------------------------------------ repositories
class TestRepositories(Boto3Case):
    def test_create_describe_delete(self):
        t0 = time.time()
        repo = self.create_repo("b3/repo-one", tags=[{"Key": "team", "Value": "core"}],
                                imageTagMutability="IMMUTABLE",
                                imageScanningConfiguration={"scanOnPush": True},
                                encryptionConfiguration={"encryptionType": "AES256"})
        self.assertEqual(repo["repositoryName"], "b3/repo-one")
        self.assertEqual(repo["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/b3/repo-one")
        self.assertEqual(repo["registryId"], "000000000000")
        self.assertEqual(repo["repositoryUri"], SERVER.hostport + "/b3/repo-one")
        self.assertIsInstance(repo["createdAt"], datetime.datetime)
        self.assertLess(abs(repo["createdAt"].timestamp() - t0), 60)
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        self.assertEqual(repo["imageScanningConfiguration"], {"scanOnPush": True})
        self.assertEqual(repo["encryptionConfiguration"]["encryptionType"], "AES256")
        got = self.ecr.describe_repositories(repositoryNames=["b3/repo-one"])["repositories"]
        self.assertEqual(got, [repo])
        self.assertEcrRaises("RepositoryAlreadyExistsException", self.create_repo, "b3/repo-one")
        deleted = self.ecr.delete_repository(repositoryName="b3/repo-one")["repository"]
        self.assertEqual(deleted["repositoryArn"], repo["repositoryArn"])
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.describe_repositories,
                             repositoryNames=["b3/repo-one"],
                             message="The repository with name 'b3/repo-one' does not exist in the "
                                     "registry with id '000000000000'")
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.delete_repository,
                             repositoryName="b3/repo-one")
        # defaults
        repo = self.create_repo("b3/repo-defaults")
        self.assertEqual(repo["imageTagMutability"], "MUTABLE")
        self.assertEqual(repo["imageScanningConfiguration"], {"scanOnPush": False})
        self.assertEqual(repo["encryptionConfiguration"]["encryptionType"], "AES256")

    def test_delete_non_empty(self):
        self.create_repo("b3/full")
        self.push_image("b3/full", "v1")
        self.assertEcrRaises("RepositoryNotEmptyException", self.ecr.delete_repository,
                             repositoryName="b3/full")
        self.ecr.delete_repository(repositoryName="b3/full", force=True)
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.list_images, repositoryName="b3/full")
        r = self.v2("GET", "/v2/b3/full/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.status, 404, r.describe())

    def test_validation(self):
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "Bad_Name",
                             message_re=r"^Invalid parameter at 'repositoryName' failed to satisfy constraint: '")
        self.assertEcrRaises("InvalidParameterException", self.ecr.describe_repositories, maxResults=5000)
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "b3/enum",
                             imageTagMutability="SOMETIMES")
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "b3/enc",
                             encryptionConfiguration={"encryptionType": "ROT13"})

    def test_pagination(self):
        names = ["b3page/r%03d" % i for i in range(120)]
        for n in names:
            self.create_repo(n)

        def ours(repos):
            return [r["repositoryName"] for r in repos if r["repositoryName"].startswith("b3page/")]

        # default page: at most 100, with a nextToken since there are > 100
        first = self.ecr.describe_repositories()
        self.assertLessEqual(len(first["repositories"]), 100)
        self.assertIn("nextToken", first)
        pages = list(self.ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"PageSize": 50}))
        self.assertGreaterEqual(len(pages), 3)
        for p in pages[:-1]:
            self.assertEqual(len(p["repositories"]), 50)
            self.assertIn("nextToken", p)
        self.assertNotIn("nextToken", pages[-1])
        seen = [n for p in pages for n in ours(p["repositories"])]
        self.assertEqual(sorted(seen), names)        # all, no duplicates
        # MaxItems / StartingToken resume
        part = self.ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"MaxItems": 70, "PageSize": 30}).build_full_result()
        self.assertEqual(len(part["repositories"]), 70)
        self.assertIn("NextToken", part)
        rest = self.ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"StartingToken": part["NextToken"], "PageSize": 40}).build_full_result()
        both = ours(part["repositories"]) + ours(rest["repositories"])
        self.assertEqual(sorted(both), names)
        # repositoryNames cannot be combined with maxResults in ECR; a plain list works
        got = self.ecr.describe_repositories(repositoryNames=names[:3])["repositories"]
        self.assertEqual(sorted(r["repositoryName"] for r in got), names[:3])

    def test_mutability_and_scanning(self):
        self.create_repo("b3/settings")
        out = self.ecr.put_image_tag_mutability(repositoryName="b3/settings", imageTagMutability="IMMUTABLE")
        self.assertEqual((out["repositoryName"], out["imageTagMutability"], out["registryId"]),
                         ("b3/settings", "IMMUTABLE", "000000000000"))
        out = self.ecr.put_image_scanning_configuration(repositoryName="b3/settings",
                                                        imageScanningConfiguration={"scanOnPush": True})
        self.assertEqual(out["imageScanningConfiguration"], {"scanOnPush": True})
        repo = self.ecr.describe_repositories(repositoryNames=["b3/settings"])["repositories"][0]
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        self.assertEqual(repo["imageScanningConfiguration"], {"scanOnPush": True})
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.put_image_tag_mutability,
                             repositoryName="b3/none", imageTagMutability="MUTABLE")
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.put_image_scanning_configuration,
                             repositoryName="b3/none", imageScanningConfiguration={"scanOnPush": True})
        self.assertEcrRaises("InvalidParameterException", self.ecr.put_image_tag_mutability,
                             repositoryName="b3/settings", imageTagMutability="NEVER")

    def test_exclusion_filters(self):
        self.require_member("CreateRepository", "imageTagMutabilityExclusionFilters")
        filters = [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}]
        repo = self.create_repo("b3/excl", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                imageTagMutabilityExclusionFilters=filters)
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION")
        self.assertEqual(repo["imageTagMutabilityExclusionFilters"], filters)
        got = self.ecr.describe_repositories(repositoryNames=["b3/excl"])["repositories"][0]
        self.assertEqual(got["imageTagMutabilityExclusionFilters"], filters)
        out = self.ecr.put_image_tag_mutability(
            repositoryName="b3/excl", imageTagMutability="MUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}])
        self.assertEqual(out["imageTagMutabilityExclusionFilters"],
                         [{"filterType": "WILDCARD", "filter": "release-*"}])
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "b3/excl-bad",
                             imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                             imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "bad filter!"}])
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "b3/excl-many",
                             imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                             imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "f%d" % i}
                                                                 for i in range(6)])
        self.assertEcrRaises("InvalidParameterException", self.create_repo, "b3/excl-type",
                             imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                             imageTagMutabilityExclusionFilters=[{"filterType": "REGEX", "filter": "x"}])

    def test_tags(self):
        repo = self.create_repo("b3/tagged", tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        arn = repo["repositoryArn"]

        def tags():
            return sorted((t["Key"], t["Value"]) for t in self.ecr.list_tags_for_resource(resourceArn=arn)["tags"])

        self.assertEqual(tags(), [("a", "1"), ("b", "2")])
        self.ecr.tag_resource(resourceArn=arn, tags=[{"Key": "b", "Value": "22"}, {"Key": "c", "Value": ""}])
        self.assertEqual(tags(), [("a", "1"), ("b", "22"), ("c", "")])
        self.ecr.untag_resource(resourceArn=arn, tagKeys=["a", "c", "not-there"])
        self.assertEqual(tags(), [("b", "22")])
        missing = "arn:aws:ecr:us-east-1:000000000000:repository/b3/no-such"
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.list_tags_for_resource, resourceArn=missing)
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.tag_resource, resourceArn=missing,
                             tags=[{"Key": "x", "Value": "y"}])
        self.assertEcrRaises("InvalidParameterException", self.ecr.list_tags_for_resource,
                             resourceArn="not-an-arn")
        self.assertEcrRaises("InvalidTagParameterException", self.ecr.tag_resource, resourceArn=arn,
                             tags=[{"Key": "k" * 129, "Value": "v"}])

    def test_registry_and_token(self):
        reg = self.ecr.describe_registry()
        self.assertEqual(reg["registryId"], "000000000000")
        t0 = time.time()
        data = self.ecr.get_authorization_token()["authorizationData"]
        self.assertEqual(len(data), 1)
        self.assertIsInstance(data[0]["expiresAt"], datetime.datetime)
        self.assertLess(abs(data[0]["expiresAt"].timestamp() - (t0 + 12 * 3600)), 120)
        self.assertEqual(data[0]["proxyEndpoint"], "http://" + SERVER.hostport)
        user, _, pw = base64.b64decode(data[0]["authorizationToken"]).decode().partition(":")
        self.assertEqual(user, "AWS")
        r = SERVER.req("GET", "/v2/", headers={"Authorization": basic_auth_value(pw)})
        self.assertEqual(r.status, 200, r.describe())

    def test_account_settings(self):
        self.require_op("GetAccountSetting")
        out = self.ecr.get_account_setting(name="BLOB_MOUNTING")
        self.assertEqual((out["name"], out["value"]), ("BLOB_MOUNTING", "ENABLED"))
        try:
            out = self.ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
            self.assertEqual((out["name"], out["value"]), ("BLOB_MOUNTING", "DISABLED"))
            self.assertEqual(self.ecr.get_account_setting(name="BLOB_MOUNTING")["value"], "DISABLED")
        finally:
            self.ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
        self.assertEqual(self.ecr.get_account_setting(name="BLOB_MOUNTING")["value"], "ENABLED")
        self.assertEcrRaises("InvalidParameterException", self.ecr.put_account_setting,
                             name="BLOB_MOUNTING", value="SOMETIMES")

    def test_unsupported_operations(self):
        self.create_repo("b3/unsupported")
        ops = pick_unsupported(set(self.ecr.meta.service_model.operation_names))
        if not ops:
            loud_skip("no simple operation is documented as not yet implemented")
        for op in ops:
            kw = {"repositoryName": "b3/unsupported"} if op in REPOSITORY_NAME_OPS else {}
            e = self.assertEcrRaises("UnsupportedOperationException", getattr(self.ecr, xform_name(op)), **kw)
            self.assertIn(op, e.response["Error"]["Message"])


class TestAuthErrors(Boto3Case):
    def test_wrong_secret(self):
        c = make_client(secret=ROOT_SECRET_ACCESS_KEY[::-1])
        self.assertEcrRaises("InvalidSignatureException", c.describe_repositories,
                             message_re=r"^The request signature we calculated does not match")

    def test_unknown_key(self):
        c = make_client(access_key="AKIDUNKNOWN000000001")
        self.assertEcrRaises("UnrecognizedClientException", c.describe_registry,
                             message="The security token included in the request is invalid.")

    def test_wrong_region(self):
        self.assertEcrRaises("InvalidSignatureException", make_client(region="ap-south-1").describe_registry)

    def test_unsigned(self):
        c = make_client(signature_version=botocore.UNSIGNED)
        self.assertEcrRaises("MissingAuthenticationTokenException", c.describe_repositories)

    def test_config_user(self):
        c = make_client(ALICE["access_key_id"], ALICE["secret_access_key"])
        self.assertEqual(c.describe_registry()["registryId"], "000000000000")
        tok = c.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        r = SERVER.req("GET", "/v2/", headers={"Authorization": "Basic " + tok})
        self.assertEqual(r.status, 200, r.describe())


# ------------------------------------------------------------------ images
class TestImages(Boto3Case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t0 = time.time() - 2
        cls.ecr.create_repository(repositoryName="b3/images")
        cls.A = push_image("b3/images", "a1", layers=[os.urandom(3000), os.urandom(5000)])
        SERVER.push_manifest("b3/images", "a2", cls.A["raw"], OCI_MANIFEST)
        cls.B = push_image("b3/images", "b1", layers=[os.urandom(700)])
        cls.C = push_image("b3/images", None)             # untagged

    def test_list_image_referrers(self):
        self.require_op("ListImageReferrers")
        self.ecr.create_repository(repositoryName="b3/referrers")
        S = push_image("b3/referrers", "s1", layers=[os.urandom(500)])
        subject = {"mediaType": OCI_MANIFEST, "digest": S["digest"], "size": len(S["raw"])}
        made = []
        for kind in ("application/vnd.example.signature", "application/vnd.example.sbom",
                     "application/vnd.example.signature"):
            d, raw, _ = SERVER.push_image("b3/referrers", None, annotations={"kind": kind},
                                          extra={"subject": subject, "artifactType": kind})
            made.append((d, kind, len(raw)))
        got = self.ecr.list_image_referrers(repositoryName="b3/referrers",
                                            subjectId={"imageDigest": S["digest"]})
        want = sorted(made)
        self.assertEqual([r["digest"] for r in got["referrers"]], [d for d, _, _ in want])
        for r, (d, kind, size) in zip(got["referrers"], want):
            self.assertEqual(r["mediaType"], OCI_MANIFEST)
            self.assertEqual(r["artifactType"], kind)
            self.assertEqual(r["size"], size)
            self.assertEqual(r["annotations"], {"kind": kind})
            self.assertEqual(r["artifactStatus"], "ACTIVE")
        self.assertNotIn("nextToken", got)
        only = self.ecr.list_image_referrers(repositoryName="b3/referrers", subjectId={"imageDigest": S["digest"]},
                                             filter={"artifactTypes": ["application/vnd.example.sbom"]})
        self.assertEqual([r["digest"] for r in only["referrers"]], [d for d, k, _ in want if k.endswith("sbom")])
        archived = self.ecr.list_image_referrers(repositoryName="b3/referrers",
                                                 subjectId={"imageDigest": S["digest"]},
                                                 filter={"artifactStatus": "ARCHIVED"})
        self.assertEqual(archived["referrers"], [])
        # Paged: one at a time, each exactly once.
        seen, token = [], None
        for _ in range(5):
            kw = {"nextToken": token} if token else {}
            page = self.ecr.list_image_referrers(repositoryName="b3/referrers",
                                                 subjectId={"imageDigest": S["digest"]}, maxResults=1, **kw)
            seen += [r["digest"] for r in page["referrers"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, [d for d, _, _ in want])
        # An unknown subject has no referrers; an unknown repository is RepositoryNotFoundException.
        none = self.ecr.list_image_referrers(repositoryName="b3/referrers", subjectId={"imageDigest": "sha256:" + "0" * 64})
        self.assertEqual(none["referrers"], [])
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.list_image_referrers,
                             repositoryName="b3/nothere", subjectId={"imageDigest": S["digest"]})

    def test_list_images(self):
        A, B, C = self.A["digest"], self.B["digest"], self.C["digest"]
        got = self.ecr.list_images(repositoryName="b3/images")["imageIds"]
        want = [{"imageDigest": A, "imageTag": "a1"}, {"imageDigest": A, "imageTag": "a2"},
                {"imageDigest": B, "imageTag": "b1"}, {"imageDigest": C}]
        key = lambda d: (d["imageDigest"], d.get("imageTag", ""))
        self.assertEqual(sorted(got, key=key), sorted(want, key=key))
        tagged = self.ecr.list_images(repositoryName="b3/images", filter={"tagStatus": "TAGGED"})["imageIds"]
        self.assertEqual(sorted(tagged, key=key), sorted(want[:3], key=key))
        untagged = self.ecr.list_images(repositoryName="b3/images", filter={"tagStatus": "UNTAGGED"})["imageIds"]
        self.assertEqual(untagged, [{"imageDigest": C}])
        anyst = self.ecr.list_images(repositoryName="b3/images", filter={"tagStatus": "ANY"})["imageIds"]
        self.assertEqual(sorted(anyst, key=key), sorted(want, key=key))
        pages = list(self.ecr.get_paginator("list_images").paginate(
            repositoryName="b3/images", PaginationConfig={"PageSize": 1}))
        self.assertGreaterEqual(len(pages), 4)
        self.assertEqual(sorted([i for p in pages for i in p["imageIds"]], key=key), sorted(want, key=key))
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.list_images, repositoryName="b3/nope")

    def test_describe_images(self):
        details = self.ecr.describe_images(repositoryName="b3/images")["imageDetails"]
        by = {d["imageDigest"]: d for d in details}
        self.assertEqual(set(by), {self.A["digest"], self.B["digest"], self.C["digest"]})
        for img, tags in ((self.A, ["a1", "a2"]), (self.B, ["b1"]), (self.C, [])):
            d = by[img["digest"]]
            self.assertEqual(sorted(d.get("imageTags", [])), tags)
            self.assertEqual(d["imageSizeInBytes"], sum(len(l) for l in img["layers"]))
            self.assertEqual(d["imageManifestMediaType"], OCI_MANIFEST)
            self.assertEqual(d["artifactMediaType"], OCI_CONFIG)
            self.assertEqual(d["registryId"], "000000000000")
            self.assertEqual(d["repositoryName"], "b3/images")
            if "imageStatus" in self.ecr.meta.service_model.shape_for("ImageDetail").members:
                self.assertEqual(d.get("imageStatus"), "ACTIVE")     # botocore >= 1.38
            self.assertIsInstance(d["imagePushedAt"], datetime.datetime)
            self.assertGreaterEqual(d["imagePushedAt"].timestamp(), self.t0 - 1)
            self.assertLessEqual(d["imagePushedAt"].timestamp(), time.time() + 2)
        one = self.ecr.describe_images(repositoryName="b3/images", imageIds=[{"imageTag": "a2"}])["imageDetails"]
        self.assertEqual([d["imageDigest"] for d in one], [self.A["digest"]])
        tagged = self.ecr.describe_images(repositoryName="b3/images", filter={"tagStatus": "TAGGED"})
        self.assertNotIn(self.C["digest"], [d["imageDigest"] for d in tagged["imageDetails"]])
        pages = list(self.ecr.get_paginator("describe_images").paginate(
            repositoryName="b3/images", PaginationConfig={"PageSize": 1}))
        self.assertGreaterEqual(len(pages), 3)
        self.assertEqual(sorted(d["imageDigest"] for p in pages for d in p["imageDetails"]), sorted(by))
        self.assertEcrRaises("ImageNotFoundException", self.ecr.describe_images, repositoryName="b3/images",
                             imageIds=[{"imageTag": "missing"}])
        self.assertEcrRaises("ImageNotFoundException", self.ecr.describe_images, repositoryName="b3/images",
                             imageIds=[{"imageDigest": "sha256:" + "0" * 64}])
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.describe_images, repositoryName="b3/nope")

    def test_batch_get_image(self):
        out = self.ecr.batch_get_image(repositoryName="b3/images",
                                       imageIds=[{"imageTag": "a1"}, {"imageTag": "nope"},
                                                 {"imageDigest": self.B["digest"]}],
                                       acceptedMediaTypes=[OCI_MANIFEST])
        imgs = {i["imageId"].get("imageTag") or i["imageId"]["imageDigest"]: i for i in out["images"]}
        self.assertEqual(set(imgs), {"a1", self.B["digest"]})
        self.assertEqual(imgs["a1"]["imageManifest"].encode(), self.A["raw"])
        self.assertEqual(imgs["a1"]["imageId"]["imageDigest"], self.A["digest"])
        self.assertEqual(imgs["a1"]["imageManifestMediaType"], OCI_MANIFEST)
        self.assertEqual(imgs["a1"]["repositoryName"], "b3/images")
        self.assertEqual(imgs[self.B["digest"]]["imageManifest"].encode(), self.B["raw"])
        self.assertEqual(len(out["failures"]), 1, out["failures"])
        self.assertEqual(out["failures"][0]["imageId"], {"imageTag": "nope"})
        self.assertEqual(out["failures"][0]["failureCode"], "ImageNotFound")
        # never a manifest of a type the caller did not accept
        out = self.ecr.batch_get_image(repositoryName="b3/images", imageIds=[{"imageTag": "b1"}],
                                       acceptedMediaTypes=[DOCKER_MANIFEST])
        for i in out["images"]:
            self.assertEqual(i["imageManifestMediaType"], DOCKER_MANIFEST)
            self.assertEqual(json.loads(i["imageManifest"]).get("mediaType"), DOCKER_MANIFEST)
        if not out["images"]:
            self.assertEqual(len(out["failures"]), 1, out)
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.batch_get_image, repositoryName="b3/nope",
                             imageIds=[{"imageTag": "x"}])
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.batch_get_image, repositoryName="b3/nope",
                             imageIds=[{}])
        # a digest and a tag together name an image only when they agree
        out = self.ecr.batch_get_image(repositoryName="b3/images",
                                       imageIds=[{"imageTag": "a1", "imageDigest": self.A["digest"]},
                                                 {"imageTag": "a1", "imageDigest": self.B["digest"]}, {}])
        self.assertEqual([i["imageId"] for i in out["images"]], [{"imageTag": "a1", "imageDigest": self.A["digest"]}])
        self.assertEqual(sorted(f["failureCode"] for f in out["failures"]), ["ImageNotFound", "MissingDigestAndTag"])

    def test_last_recorded_pull_time(self):
        self.create_repo("b3/pulled")
        img = self.push_image("b3/pulled", "pull-me")
        d = self.ecr.describe_images(repositoryName="b3/pulled", imageIds=[{"imageTag": "pull-me"}])
        self.assertNotIn("lastRecordedPullTime", d["imageDetails"][0])
        before = time.time() - 2
        r = SERVER.req("GET", "/v2/b3/pulled/manifests/pull-me", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.status, 200, r.describe())
        deadline = time.monotonic() + 15
        while True:
            d = self.ecr.describe_images(repositoryName="b3/pulled",
                                         imageIds=[{"imageDigest": img["digest"]}])["imageDetails"][0]
            if "lastRecordedPullTime" in d or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertIn("lastRecordedPullTime", d, "no lastRecordedPullTime 15 s after a pull")
        self.assertGreaterEqual(d["lastRecordedPullTime"].timestamp(), before)
        self.assertLessEqual(d["lastRecordedPullTime"].timestamp(), time.time() + 2)

    def test_batch_delete_image(self):
        self.create_repo("b3/delete")
        X = self.push_image("b3/delete", "x1")
        SERVER.push_manifest("b3/delete", "x2", X["raw"], OCI_MANIFEST)
        Y = self.push_image("b3/delete", "y1")
        # by tag: only the tag goes while others remain
        out = self.ecr.batch_delete_image(repositoryName="b3/delete", imageIds=[{"imageTag": "x1"}])
        self.assertEqual(out["imageIds"], [{"imageDigest": X["digest"], "imageTag": "x1"}])
        self.assertEqual(out["failures"], [])
        d = self.ecr.describe_images(repositoryName="b3/delete", imageIds=[{"imageDigest": X["digest"]}])
        self.assertEqual(d["imageDetails"][0]["imageTags"], ["x2"])
        self.assertEqual(self.v2("GET", "/v2/b3/delete/manifests/x1", headers={"Accept": OCI_MANIFEST}).status, 404)
        # the last tag: the image goes too
        self.ecr.batch_delete_image(repositoryName="b3/delete", imageIds=[{"imageTag": "x2"}])
        self.assertEcrRaises("ImageNotFoundException", self.ecr.describe_images, repositoryName="b3/delete",
                             imageIds=[{"imageDigest": X["digest"]}])
        self.assertEqual(self.v2("GET", "/v2/b3/delete/manifests/" + X["digest"],
                                 headers={"Accept": OCI_MANIFEST}).status, 404)
        # by digest: image and tags; plus a missing one in the same call
        missing = "sha256:" + "1" * 64
        out = self.ecr.batch_delete_image(repositoryName="b3/delete",
                                          imageIds=[{"imageDigest": Y["digest"]}, {"imageDigest": missing},
                                                    {"imageTag": "gone"}])
        self.assertEqual([i["imageDigest"] for i in out["imageIds"]], [Y["digest"]])
        fails = sorted(out["failures"], key=lambda f: json.dumps(f["imageId"], sort_keys=True))
        self.assertEqual([f["failureCode"] for f in fails], ["ImageNotFound", "ImageNotFound"], fails)
        self.assertEqual(self.ecr.list_images(repositoryName="b3/delete")["imageIds"], [])
        self.assertEqual(self.v2("GET", "/v2/b3/delete/manifests/y1", headers={"Accept": OCI_MANIFEST}).status, 404)

    def test_referenced_by_manifest_list(self):
        self.create_repo("b3/index")
        kids = [self.push_image("b3/index", None) for _ in range(2)]
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": k["digest"], "size": len(k["raw"]),
             "platform": {"architecture": arch, "os": "linux"}}
            for k, arch in zip(kids, ("amd64", "arm64"))]}, indent=1).encode()
        SERVER.push_manifest("b3/index", "multi", index, OCI_INDEX)
        out = self.ecr.batch_delete_image(repositoryName="b3/index", imageIds=[{"imageDigest": kids[0]["digest"]}])
        self.assertEqual(out["imageIds"], [])
        self.assertEqual([f["failureCode"] for f in out["failures"]], ["ImageReferencedByManifestList"], out)
        d = self.ecr.describe_images(repositoryName="b3/index", imageIds=[{"imageTag": "multi"}])["imageDetails"][0]
        self.assertEqual(d["imageManifestMediaType"], OCI_INDEX)
        self.ecr.batch_delete_image(repositoryName="b3/index", imageIds=[{"imageTag": "multi"}])
        out = self.ecr.batch_delete_image(repositoryName="b3/index", imageIds=[{"imageDigest": kids[0]["digest"]}])
        self.assertEqual(out["failures"], [])


# ---------------------------------------------------- PutImage/immutability
class TestPutImage(Boto3Case):
    def manifests(self, repo, n=2):
        """n manifests whose blobs are in repo (V2 push), not yet referenced."""
        out = []
        for _ in range(n):
            cfg, layer = new_config(), os.urandom(1500)
            SERVER.push_blob(repo, cfg)
            SERVER.push_blob(repo, layer)
            out.append(oci_image_manifest(blob(cfg, OCI_CONFIG), [blob(layer)]).decode())
        return out

    def test_put_image(self):
        self.create_repo("b3/put")
        m1, m2 = self.manifests("b3/put")
        img = self.ecr.put_image(repositoryName="b3/put", imageManifest=m1, imageTag="v1",
                                 imageManifestMediaType=OCI_MANIFEST)["image"]
        self.assertEqual(img["imageId"], {"imageDigest": sha256(m1.encode()), "imageTag": "v1"})
        self.assertEqual(img["imageManifest"], m1)
        self.assertEqual(img["repositoryName"], "b3/put")
        self.assertEqual(img["registryId"], "000000000000")
        r = self.v2("GET", "/v2/b3/put/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, m1.encode()), r.describe())
        self.assertEqual(r.headers.get("Docker-Content-Digest"), sha256(m1.encode()))
        # same manifest, same tag
        self.assertEcrRaises("ImageAlreadyExistsException", self.ecr.put_image, repositoryName="b3/put",
                             imageManifest=m1, imageTag="v1")
        # same manifest, new tag: a retag
        self.ecr.put_image(repositoryName="b3/put", imageManifest=m1, imageTag="v1-alias")
        ids = self.ecr.list_images(repositoryName="b3/put")["imageIds"]
        self.assertEqual(sorted(i["imageTag"] for i in ids if i["imageDigest"] == sha256(m1.encode())),
                         ["v1", "v1-alias"])
        # mutable repository: the tag moves
        self.ecr.put_image(repositoryName="b3/put", imageManifest=m2, imageTag="v1")
        r = self.v2("GET", "/v2/b3/put/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.body, m2.encode())
        # digest checks
        self.assertEcrRaises("ImageDigestDoesNotMatchException", self.ecr.put_image, repositoryName="b3/put",
                             imageManifest=m2, imageTag="v9", imageDigest="sha256:" + "ab" * 32)
        img = self.ecr.put_image(repositoryName="b3/put", imageManifest=m2, imageTag="v2",
                                 imageDigest=sha256(m2.encode()))["image"]
        self.assertEqual(img["imageId"]["imageDigest"], sha256(m2.encode()))
        # untagged put
        m3, = self.manifests("b3/put", 1)
        img = self.ecr.put_image(repositoryName="b3/put", imageManifest=m3)["image"]
        self.assertEqual(img["imageId"]["imageDigest"], sha256(m3.encode()))
        # missing layers / repository
        bad = oci_image_manifest(blob(b"{}", OCI_CONFIG), [blob(os.urandom(64))]).decode()
        self.assertEcrRaises("LayersNotFoundException", self.ecr.put_image, repositoryName="b3/put",
                             imageManifest=bad, imageTag="bad")
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.put_image, repositoryName="b3/nope",
                             imageManifest=m1, imageTag="v1")

    def test_put_image_immutable(self):
        self.create_repo("b3/put-immutable", imageTagMutability="IMMUTABLE")
        m1, m2 = self.manifests("b3/put-immutable")
        self.ecr.put_image(repositoryName="b3/put-immutable", imageManifest=m1, imageTag="v1")
        self.assertEcrRaises("ImageTagAlreadyExistsException", self.ecr.put_image,
                             repositoryName="b3/put-immutable", imageManifest=m2, imageTag="v1")
        self.assertEcrRaises("ImageAlreadyExistsException", self.ecr.put_image,
                             repositoryName="b3/put-immutable", imageManifest=m1, imageTag="v1")
        self.ecr.put_image(repositoryName="b3/put-immutable", imageManifest=m2)      # untagged: fine
        self.ecr.put_image(repositoryName="b3/put-immutable", imageManifest=m2, imageTag="v2")
        r = self.v2("GET", "/v2/b3/put-immutable/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.body, m1.encode())

    def test_put_image_exclusions(self):
        self.require_member("CreateRepository", "imageTagMutabilityExclusionFilters")
        self.create_repo("b3/put-excl", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                         imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"},
                                                             {"filterType": "WILDCARD", "filter": "dev-*"}])
        m1, m2 = self.manifests("b3/put-excl")
        for tag in ("latest", "dev-1", "rel-1"):
            self.ecr.put_image(repositoryName="b3/put-excl", imageManifest=m1, imageTag=tag)
        self.ecr.put_image(repositoryName="b3/put-excl", imageManifest=m2, imageTag="latest")
        self.ecr.put_image(repositoryName="b3/put-excl", imageManifest=m2, imageTag="dev-1")
        self.assertEcrRaises("ImageTagAlreadyExistsException", self.ecr.put_image,
                             repositoryName="b3/put-excl", imageManifest=m2, imageTag="rel-1")
        self.ecr.put_image_tag_mutability(repositoryName="b3/put-excl", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                          imageTagMutabilityExclusionFilters=[
                                              {"filterType": "WILDCARD", "filter": "rel-*"}])
        self.assertEcrRaises("ImageTagAlreadyExistsException", self.ecr.put_image,
                             repositoryName="b3/put-excl", imageManifest=m2, imageTag="rel-1")
        self.ecr.put_image(repositoryName="b3/put-excl", imageManifest=m1, imageTag="latest")


class TestV2Immutability(Boto3Case):
    def put(self, repo, ref, raw):
        return SERVER.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw,
                          headers={"Content-Type": OCI_MANIFEST})

    def assertTagInvalid(self, r, tag, repo):
        self.assertEqual(r.status, 400, r.describe())
        err = r.json()["errors"][0]
        self.assertEqual(err["code"], "TAG_INVALID", r.describe())
        self.assertEqual(err["message"], TAG_IMMUTABLE_MSG % (tag, repo))

    def test_immutable_tag_over_v2(self):
        self.create_repo("b3/v2-immutable", imageTagMutability="IMMUTABLE")
        a = self.push_image("b3/v2-immutable", "v1")
        b = self.push_image("b3/v2-immutable", None)
        self.assertTagInvalid(self.put("b3/v2-immutable", "v1", b["raw"]), "v1", "b3/v2-immutable")
        # by digest: fine (multi-arch children); the tag still names a
        r = self.put("b3/v2-immutable", b["digest"], b["raw"])
        self.assertEqual(r.status, 201, r.describe())
        r = SERVER.req("GET", "/v2/b3/v2-immutable/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.body, a["raw"])
        # made mutable: now it moves
        self.ecr.put_image_tag_mutability(repositoryName="b3/v2-immutable", imageTagMutability="MUTABLE")
        self.assertEqual(self.put("b3/v2-immutable", "v1", b["raw"]).status, 201)

    def test_exclusions_over_v2(self):
        self.require_member("CreateRepository", "imageTagMutabilityExclusionFilters")
        repo = "b3/v2-excl"
        self.create_repo(repo, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                         imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}])
        a = self.push_image(repo, "latest")
        SERVER.push_manifest(repo, "v1", a["raw"], OCI_MANIFEST)
        b = self.push_image(repo, "latest")            # excluded: moves
        self.assertTagInvalid(self.put(repo, "v1", b["raw"]), "v1", repo)
        self.ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                          imageTagMutabilityExclusionFilters=[
                                              {"filterType": "WILDCARD", "filter": "v*"}])
        self.assertTagInvalid(self.put(repo, "v1", b["raw"]), "v1", repo)
        self.assertEqual(self.put(repo, "latest", a["raw"]).status, 201)


# ------------------------------------------------------------ layer API
class TestLayerApi(Boto3Case):
    def upload(self, repo, data, part=5 * MiB, digest=None):
        up = self.ecr.initiate_layer_upload(repositoryName=repo)
        uid = up["uploadId"]
        self.assertRegex(uid, r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        self.assertIsInstance(up["partSize"], int)
        for first in range(0, len(data), part):
            chunk = data[first:first + part]
            out = self.ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=first,
                                             partLastByte=first + len(chunk) - 1, layerPartBlob=chunk)
            self.assertEqual(out["lastByteReceived"], first + len(chunk) - 1)
            self.assertEqual(out["uploadId"], uid)
            self.assertEqual(out["repositoryName"], repo)
        out = self.ecr.complete_layer_upload(repositoryName=repo, uploadId=uid,
                                             layerDigests=[digest or sha256(data)])
        self.assertEqual(out["layerDigest"], sha256(data))
        self.assertEqual(out["uploadId"], uid)
        return uid

    def test_layer_api_then_v2_pull(self):
        repo = "b3/layers"
        self.create_repo(repo)
        layer = os.urandom(11 * MiB + 12345)          # 3 parts: 5 MiB, 5 MiB, rest
        config = new_config()
        uid = self.upload(repo, layer)
        self.upload(repo, config)
        raw = oci_image_manifest(blob(config, OCI_CONFIG), [blob(layer, OCI_LAYER_GZIP)]).decode()
        self.ecr.put_image(repositoryName=repo, imageManifest=raw, imageTag="from-api")
        r = SERVER.req("GET", "/v2/%s/manifests/from-api" % repo, headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, raw.encode()), r.describe())
        r = SERVER.req("GET", "/v2/%s/blobs/%s" % (repo, sha256(layer)))
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(r.body == layer, "layer bytes differ over V2")
        r = SERVER.req("GET", "/v2/%s/blobs/%s" % (repo, sha256(layer)), auth=False)
        self.assertEqual(r.status, 401, r.describe())
        d = self.ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "from-api"}])["imageDetails"][0]
        self.assertEqual(d["imageSizeInBytes"], len(layer))
        # the upload is finished: its id is gone
        self.assertEcrRaises("UploadNotFoundException", self.ecr.upload_layer_part, repositoryName=repo,
                             uploadId=uid, partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        # the same layer again
        up = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        self.ecr.upload_layer_part(repositoryName=repo, uploadId=up, partFirstByte=0, partLastByte=len(config) - 1,
                                   layerPartBlob=config)
        self.assertEcrRaises("LayerAlreadyExistsException", self.ecr.complete_layer_upload, repositoryName=repo,
                             uploadId=up, layerDigests=[sha256(config)])

    def test_v2_push_then_layer_api(self):
        repo = "b3/layers-v2"
        self.create_repo(repo)
        data = os.urandom(300000)
        SERVER.push_blob(repo, data)
        missing = "sha256:" + "2" * 64
        out = self.ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[sha256(data), missing])
        avail = [l for l in out["layers"] if l["layerDigest"] == sha256(data)]
        self.assertEqual(len(avail), 1, out)
        self.assertEqual(avail[0]["layerAvailability"], "AVAILABLE")
        self.assertEqual(avail[0]["layerSize"], len(data))
        gone = [f for f in out["failures"] if f["layerDigest"] == missing]
        if gone:
            self.assertEqual(gone[0]["failureCode"], "MissingLayerDigest")
        else:
            self.assertEqual([l["layerAvailability"] for l in out["layers"] if l["layerDigest"] == missing],
                             ["UNAVAILABLE"], out)
        url = self.ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha256(data))
        self.assertEqual(url["layerDigest"], sha256(data))
        u = urllib.parse.urlsplit(url["downloadUrl"])
        self.assertEqual((u.scheme, u.hostname), ("http", "127.0.0.1"), url)
        with urllib.request.urlopen(url["downloadUrl"], timeout=60) as resp:   # no credentials at all
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.read() == data, "download URL served different bytes")
        # tampered: refused
        q = urllib.parse.parse_qsl(u.query)
        self.assertTrue(q, "download URL carries no signature: %s" % url["downloadUrl"])
        tampered = [(k, (v[:-2] + ("AA" if not v.endswith("AA") else "BB")) if i == len(q) - 1 else v)
                    for i, (k, v) in enumerate(q)]
        bad = urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(tampered)))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(bad, timeout=60)
        self.assertIn(cm.exception.code, (401, 403))
        # the URL of one blob does not open another
        other = os.urandom(100)
        SERVER.push_blob(repo, other)
        swapped = url["downloadUrl"].replace(sha256(data), sha256(other))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(swapped, timeout=60)
        self.assertIn(cm.exception.code, (401, 403))
        self.assertEcrRaises("LayersNotFoundException", self.ecr.get_download_url_for_layer,
                             repositoryName=repo, layerDigest=missing)
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.get_download_url_for_layer,
                             repositoryName="b3/none", layerDigest=sha256(data))

    def test_upload_errors(self):
        repo = "b3/layer-errors"
        self.create_repo(repo)
        # part out of order
        uid = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        self.ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=999,
                                   layerPartBlob=os.urandom(1000))
        for first in (5000, 500, 0):
            e = self.assertEcrRaises("InvalidLayerPartException", self.ecr.upload_layer_part, repositoryName=repo,
                                     uploadId=uid, partFirstByte=first, partLastByte=first + 99,
                                     layerPartBlob=os.urandom(100))
            self.assertEqual(e.response.get("lastValidByteReceived"), 999, e.response)
        # partLastByte disagreeing with the blob
        st, h, doc = SERVER.ecr_call("UploadLayerPart", {
            "repositoryName": repo, "uploadId": uid, "partFirstByte": 1000, "partLastByte": 1999,
            "layerPartBlob": base64.b64encode(b"short").decode()})
        self.assertEqual(st, 400, doc)
        self.assertIn(doc.get("__type"), ("InvalidLayerPartException", "InvalidParameterException"), doc)
        # wrong digest
        self.assertEcrRaises("InvalidLayerException", self.ecr.complete_layer_upload, repositoryName=repo,
                             uploadId=uid, layerDigests=["sha256:" + "3" * 64])
        # nothing uploaded
        uid = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        self.assertEcrRaises("EmptyUploadException", self.ecr.complete_layer_upload, repositoryName=repo,
                             uploadId=uid, layerDigests=["sha256:" + "4" * 64])
        # a non-last part under 5 MiB
        uid = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        data = os.urandom(2 * MiB)
        self.ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=MiB - 1,
                                   layerPartBlob=data[:MiB])
        self.ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=MiB,
                                   partLastByte=2 * MiB - 1, layerPartBlob=data[MiB:])
        self.assertEcrRaises("LayerPartTooSmallException", self.ecr.complete_layer_upload, repositoryName=repo,
                             uploadId=uid, layerDigests=[sha256(data)])
        # unknown upload ids
        ghost = str(uuid.uuid4())
        self.assertEcrRaises("UploadNotFoundException", self.ecr.upload_layer_part, repositoryName=repo,
                             uploadId=ghost, partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        self.assertEcrRaises("UploadNotFoundException", self.ecr.complete_layer_upload, repositoryName=repo,
                             uploadId=ghost, layerDigests=["sha256:" + "5" * 64])
        # an upload of another repository is not found here
        self.create_repo("b3/layer-errors-2")
        other = self.ecr.initiate_layer_upload(repositoryName="b3/layer-errors-2")["uploadId"]
        self.assertEcrRaises("UploadNotFoundException", self.ecr.upload_layer_part, repositoryName=repo,
                             uploadId=other, partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        self.assertEcrRaises("RepositoryNotFoundException", self.ecr.initiate_layer_upload,
                             repositoryName="b3/none")

    def test_part_over_20_mib(self):
        repo = "b3/layer-big"
        self.create_repo(repo)
        uid = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        n = 20 * MiB + 1
        self.assertEcrRaises("InvalidParameterException", self.ecr.upload_layer_part, repositoryName=repo,
                             uploadId=uid, partFirstByte=0, partLastByte=n - 1, layerPartBlob=b"\0" * n)


# ----------------------------------------------------- creation templates
class TestCreationTemplates(Boto3Case):
    def setUp(self):
        self.require_op("CreateRepositoryCreationTemplate")

    def push(self, repo):
        """V2 push attempt: returns the status of the upload POST (202 or 404)."""
        r = SERVER.req("POST", "/v2/%s/blobs/uploads/" % repo)
        if r.status == 404:
            self.assertEqual(r.json()["errors"][0]["code"], "NAME_UNKNOWN", r.describe())
        return r.status

    def test_templates_and_push_to_create(self):
        t = self.ecr.create_repository_creation_template(
            prefix="b3tmpl", description="team templates", appliedFor=["CREATE_ON_PUSH"],
            imageTagMutability="IMMUTABLE", resourceTags=[{"Key": "owner", "Value": "b3"}])
        self.addCleanup(self.ecr.delete_repository_creation_template, prefix="b3tmpl")
        tmpl = t["repositoryCreationTemplate"]
        self.assertEqual(t["registryId"], "000000000000")
        self.assertEqual((tmpl["prefix"], tmpl["description"], tmpl["imageTagMutability"], tmpl["appliedFor"]),
                         ("b3tmpl", "team templates", "IMMUTABLE", ["CREATE_ON_PUSH"]))
        self.assertIsInstance(tmpl["createdAt"], datetime.datetime)
        self.assertEcrRaises("TemplateAlreadyExistsException", self.ecr.create_repository_creation_template,
                             prefix="b3tmpl", appliedFor=["CREATE_ON_PUSH"])
        got = self.ecr.describe_repository_creation_templates(prefixes=["b3tmpl"])["repositoryCreationTemplates"]
        self.assertEqual([g["prefix"] for g in got], ["b3tmpl"])
        self.assertEqual(got[0]["imageTagMutability"], "IMMUTABLE")
        upd = self.ecr.update_repository_creation_template(prefix="b3tmpl", description="changed")
        self.assertEqual(upd["repositoryCreationTemplate"]["description"], "changed")
        self.assertEqual(upd["repositoryCreationTemplate"]["imageTagMutability"], "IMMUTABLE")
        self.assertEcrRaises("TemplateNotFoundException", self.ecr.update_repository_creation_template,
                             prefix="b3nosuch", description="x")
        self.assertEcrRaises("InvalidParameterException", self.ecr.create_repository_creation_template,
                             prefix="Bad_Prefix", appliedFor=["CREATE_ON_PUSH"])
        self.assertEcrRaises("InvalidParameterException", self.ecr.create_repository_creation_template,
                             prefix="b3other", appliedFor=["SOMETIMES"])

        # push-to-create under the prefix, with the template's settings
        img = self.push_image("b3tmpl/app", "v1")
        repo = self.ecr.describe_repositories(repositoryNames=["b3tmpl/app"])["repositories"][0]
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        tags = self.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
        self.assertIn({"Key": "owner", "Value": "b3"}, tags)
        self.assertEqual(self.ecr.list_images(repositoryName="b3tmpl/app")["imageIds"],
                         [{"imageDigest": img["digest"], "imageTag": "v1"}])
        other = self.push_image("b3tmpl/app", None)
        r = SERVER.req("PUT", "/v2/b3tmpl/app/manifests/v1", body=other["raw"],
                       headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual((r.status, r.error_codes()), (400, ["TAG_INVALID"]), r.describe())
        # not under the prefix
        self.assertEqual(self.push("b3tmplx/app"), 404)
        self.assertEqual(self.push("b3other/app"), 404)

    def test_applied_for_and_root(self):
        self.ecr.create_repository_creation_template(prefix="b3repl", appliedFor=["REPLICATION"])
        self.addCleanup(self.ecr.delete_repository_creation_template, prefix="b3repl")
        self.assertEqual(self.push("b3repl/app"), 404)
        self.ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["CREATE_ON_PUSH"],
                                                     imageTagMutability="MUTABLE")
        try:
            self.assertEqual(self.push("b3root/anything/deep"), 202)
            repo = self.ecr.describe_repositories(repositoryNames=["b3root/anything/deep"])["repositories"][0]
            self.assertEqual(repo["imageTagMutability"], "MUTABLE")
            listed = self.ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]
            self.assertTrue({"ROOT", "b3repl"} <= {t["prefix"] for t in listed}, listed)
        finally:
            d = self.ecr.delete_repository_creation_template(prefix="ROOT")
        self.assertEqual(d["repositoryCreationTemplate"]["prefix"], "ROOT")
        self.assertEcrRaises("TemplateNotFoundException", self.ecr.delete_repository_creation_template,
                             prefix="ROOT")
        self.assertEqual(self.push("b3root2/app"), 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
