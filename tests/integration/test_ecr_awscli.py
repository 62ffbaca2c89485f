"""Berth's Amazon ECR API driven by the real `aws` command line: aws-cli v2
(Debian package awscli, /usr/bin/aws) and aws-cli v1 (pip: `aws` on PATH or
`python3 -m awscli`), each found and run separately, plus the docker flow
`aws ecr get-login-password | docker login ... && docker push` against a
private dockerd.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_ecr_awscli.py
(from tests/integration/).  A CLI that is missing is skipped (loudly); so is an
operation or option that the CLI's bundled ECR model does not know (Debian 12's
aws-cli 2.9 predates creation templates, account settings and exclusion filters).

Environment:
  BERTH_AWS_CLI_V1 / BERTH_AWS_CLI_V2   command of each CLI (split on spaces)
  BERTH_DOCKER_CLI, BERTH_DOCKERD       as in test_clients.py
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    one_file_rootfs, BerthServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, basic_auth_value, docker_login_with_aws,
    libfaketime, sha256,
    strip_origin, pick_unsupported, REPOSITORY_NAME_OPS, SIMPLE_UNSUPPORTED_CANDIDATES,
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, oci_image_manifest,
)
from private_dockerd import PrivateDockerd, docker_ping  # noqa: E402

CMD_TIMEOUT = 120
MiB = 1 << 20
ALICE = {"name": "alice", "access_key_id": "AKIDALICECLI00000001",
         "secret_access_key": "aliceCliSecret/0123456789abcdefghijklmnop"}
SERVER = None
WORK = None


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def setUpModule():
    global SERVER, WORK
    WORK = tempfile.mkdtemp(prefix="berth-awscli-")
    SERVER = BerthServer("ecr-awscli", auth="sigv4", users=[ALICE])
    SERVER.start()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


# --------------------------------------------------------------- the CLIs
def _version(cmd):
    try:
        p = subprocess.run(cmd + ["--version"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, AWS_PAGER=""))
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (p.stdout + p.stderr).strip()
    return out if p.returncode == 0 and out.startswith("aws-cli/") else None


_FOUND = {}


def find_cli(major):
    """The command list of aws-cli `major` (1 or 2), or None."""
    if major in _FOUND:
        return _FOUND[major]
    env = os.environ.get("BERTH_AWS_CLI_V%d" % major)
    cands = [env.split()] if env else []
    if major == 2:
        cands += [["/usr/bin/aws"], ["/usr/local/bin/aws"]]
    else:
        cands += [[os.path.expanduser("~/.pyenv/shims/aws")], [sys.executable, "-m", "awscli"],
                  ["python3", "-m", "awscli"]]
    if shutil.which("aws"):
        cands.append([shutil.which("aws")])
    found = None
    for c in cands:
        if not c or (os.path.isabs(c[0]) and not os.path.exists(c[0])):
            continue
        v = _version(c)
        if v and v.startswith("aws-cli/%d." % major):
            found = (c, v)
            break
    _FOUND[major] = found
    return found


class AwsCli:
    def __init__(self, cmd, version):
        self.cmd = cmd
        self.version = version
        self.major = int(version.split("/")[1].split(".")[0])
        d = tempfile.mkdtemp(prefix="cli%d-" % self.major, dir=WORK)
        self.dir = d
        self.config = os.path.join(d, "aws-empty-config")
        self.creds = os.path.join(d, "aws-empty-credentials")
        self.files = os.path.join(d, "files")
        os.makedirs(self.files)
        for p in (self.config, self.creds):
            open(p, "w").close()
        self._ops = None
        self._skeletons = {}

    def env(self, access_key=ROOT_ACCESS_KEY_ID, secret=ROOT_SECRET_ACCESS_KEY, region="us-east-1",
            extra_env=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(extra_env or {})
        env.update(AWS_CONFIG_FILE=self.config, AWS_SHARED_CREDENTIALS_FILE=self.creds,
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
                   AWS_RETRY_MODE="standard", AWS_DEFAULT_REGION=region)
        if access_key is not None:
            env["AWS_ACCESS_KEY_ID"] = access_key
            env["AWS_SECRET_ACCESS_KEY"] = secret
        return env

    def run(self, args, endpoint=True, timeout=CMD_TIMEOUT, stdin_data=None, **creds):
        """endpoint: True -> the module's server, a URL, or False (none)."""
        cmd = list(self.cmd) + ["ecr"] + list(args) + ["--output", "json"]
        if endpoint:
            cmd += ["--endpoint-url", SERVER.base if endpoint is True else endpoint,
                    "--cli-connect-timeout", "10", "--cli-read-timeout", "60"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, input=stdin_data, capture_output=True, text=True, timeout=timeout,
                               env=self.env(**creds))
        except subprocess.TimeoutExpired as e:
            raise AssertionError("timed out after %ss: %s\n%s" % (timeout, " ".join(cmd), e.stderr))
        sys.stderr.write("  $ aws%d ecr %s  [%.1fs, rc=%d]\n" % (
            self.major, " ".join(args)[:150], time.monotonic() - t0, p.returncode))
        return p.returncode, p.stdout, p.stderr

    def json(self, *args, **kw):
        rc, out, err = self.run(args, **kw)
        if rc != 0:
            raise AssertionError("aws%d ecr %s failed (rc=%d):\n%s%s" % (self.major, " ".join(args), rc, out, err))
        return json.loads(out) if out.strip() else {}

    def error(self, exc, *args, **kw):
        """The call must fail with ECR exception `exc` (asserted from stderr)."""
        rc, out, err = self.run(args, **kw)
        if rc == 0:
            raise AssertionError("aws%d ecr %s: expected %s, succeeded:\n%s" % (self.major, " ".join(args), exc, out))
        m = re.search(r"An error occurred \((\w+)\) when calling the (\w+) operation", err)
        if not m or m.group(1) != exc:
            raise AssertionError("aws%d ecr %s: expected %s, got rc=%d:\n%s" % (
                self.major, " ".join(args), exc, rc, err[-2000:]))
        return err

    def operations(self):
        """CLI operation names its model knows (from the 'invalid choice' list)."""
        if self._ops is None:
            rc, out, err = self.run(["berth-no-such-operation"], endpoint=False)
            self._ops = set(re.findall(r"[a-z][a-z0-9-]+", err.split("valid choices are", 1)[-1]))
        return self._ops

    def skeleton(self, op):
        if op not in self._skeletons:
            rc, out, err = self.run([op, "--generate-cli-skeleton", "input"], endpoint=False)
            self._skeletons[op] = json.loads(out) if rc == 0 else {}
        return self._skeletons[op]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def new_config():
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                       "salt": os.urandom(8).hex()}).encode()


def blob(data, media_type=OCI_LAYER):
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def v2_push(repo, ref=None):
    cfg, layer = new_config(), os.urandom(2000)
    tok = {"Authorization": basic_auth_value(SERVER.login_token())}
    for b in (cfg, layer):
        r = SERVER.req("POST", "/v2/%s/blobs/uploads/" % repo, headers=tok)
        assert r.status == 202, r.describe()
        loc = strip_origin(r.headers["Location"])
        r = SERVER.req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(b), body=b,
                       headers=dict(tok, **{"Content-Type": "application/octet-stream"}))
        assert r.status == 201, r.describe()
    raw = oci_image_manifest(blob(cfg, OCI_CONFIG), [blob(layer)])
    r = SERVER.req("PUT", "/v2/%s/manifests/%s" % (repo, ref or sha256(raw)), body=raw,
                   headers=dict(tok, **{"Content-Type": OCI_MANIFEST}))
    assert r.status == 201, r.describe()
    return sha256(raw), raw


# ------------------------------------------------------------------ tests
class CliTests:
    """Mixed into one TestCase per CLI; self.cli is an AwsCli, self.p a name prefix."""

    major = None
    cli = None
    p = None

    @classmethod
    def setUpClass(cls):
        found = find_cli(cls.major)
        if not found:
            loud_skip("aws-cli v%d not found (%s)" % (
                cls.major, "Debian package awscli" if cls.major == 2 else "pip install awscli"))
        cls.cli = AwsCli(*found)
        cls.p = "cli%d" % cls.major
        sys.stderr.write("\n  using %s: %s\n" % (" ".join(found[0]), found[1]))

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and SERVER is not None:
            SERVER.dump_log(tail=40)
        return out

    def require_op(self, op):
        if op not in self.cli.operations():
            loud_skip("%s has no 'ecr %s'" % (self.cli.version.split()[0], op))

    def require_option(self, op, member):
        self.require_op(op)
        if member not in self.cli.skeleton(op):
            loud_skip("%s's ecr %s has no %s" % (self.cli.version.split()[0], op, member))

    def tmp(self, name, data):
        return write(os.path.join(self.cli.files, name), data)

    # -------------------------------------------------------- repositories
    def test_repository_lifecycle(self):
        cli, name = self.cli, self.p + "/repo"
        repo = cli.json("create-repository", "--repository-name", name, "--tags", "Key=team,Value=core",
                        "--image-tag-mutability", "IMMUTABLE", "--image-scanning-configuration",
                        "scanOnPush=true", "--encryption-configuration", "encryptionType=AES256")["repository"]
        self.assertEqual(repo["repositoryName"], name)
        self.assertEqual(repo["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/" + name)
        self.assertEqual(repo["repositoryUri"], "%s/%s" % (SERVER.hostport, name))
        self.assertEqual(repo["registryId"], "000000000000")
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        self.assertEqual(repo["imageScanningConfiguration"], {"scanOnPush": True})
        self.assertEqual(repo["encryptionConfiguration"]["encryptionType"], "AES256")
        self.assertIn("createdAt", repo)
        cli.error("RepositoryAlreadyExistsException", "create-repository", "--repository-name", name)
        got = cli.json("describe-repositories", "--repository-names", name)["repositories"]
        self.assertEqual([r["repositoryArn"] for r in got], [repo["repositoryArn"]])
        out = cli.json("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability", "MUTABLE")
        self.assertEqual(out["imageTagMutability"], "MUTABLE")
        out = cli.json("put-image-scanning-configuration", "--repository-name", name,
                       "--image-scanning-configuration", "scanOnPush=false")
        self.assertEqual(out["imageScanningConfiguration"], {"scanOnPush": False})
        arn = repo["repositoryArn"]
        cli.json("tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=test", "Key=team,Value=infra")
        cli.json("untag-resource", "--resource-arn", arn, "--tag-keys", "env")
        tags = cli.json("list-tags-for-resource", "--resource-arn", arn)["tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "infra"}])
        cli.error("RepositoryNotFoundException", "list-tags-for-resource", "--resource-arn", arn + "-nope")
        got = cli.json("describe-repositories", "--repository-names", name)["repositories"][0]
        self.assertEqual((got["imageTagMutability"], got["imageScanningConfiguration"]),
                         ("MUTABLE", {"scanOnPush": False}))
        cli.json("delete-repository", "--repository-name", name)
        err = cli.error("RepositoryNotFoundException", "describe-repositories", "--repository-names", name)
        self.assertIn("The repository with name '%s' does not exist in the registry with id '000000000000'"
                      % name, err)
        cli.error("RepositoryNotFoundException", "delete-repository", "--repository-name", name)
        cli.error("RepositoryNotFoundException", "put-image-tag-mutability", "--repository-name", name,
                  "--image-tag-mutability", "MUTABLE")

    def test_validation_and_unsupported(self):
        cli = self.cli
        err = self.cli.error("InvalidParameterException", "create-repository", "--repository-name", "Bad_Name")
        self.assertIn("Invalid parameter at 'repositoryName' failed to satisfy constraint:", err)
        cli.error("InvalidParameterException", "describe-repositories", "--max-results", "5000")
        cli.error("InvalidParameterException", "create-repository", "--repository-name", self.p + "/x",
                  "--image-tag-mutability", "SOMETIMES")
        cli.json("create-repository", "--repository-name", self.p + "/unsupported")
        kebab = lambda op: re.sub(r"(?<!^)(?=[A-Z])", "-", op).lower()
        ops = pick_unsupported({op for op in SIMPLE_UNSUPPORTED_CANDIDATES if kebab(op) in cli.operations()})
        if not ops:
            loud_skip("no simple operation is documented as not yet implemented")
        for op in ops:
            args = ["--repository-name", self.p + "/unsupported"] if op in REPOSITORY_NAME_OPS else []
            err = cli.error("UnsupportedOperationException", kebab(op), *args)
            self.assertIn(op, err)

    def test_pagination(self):
        cli = self.cli
        names = ["%spage/r%03d" % (self.p, i) for i in range(120)]
        for n in names:                      # fast: the raw signer, not 120 CLI processes
            SERVER.ecr("CreateRepository", {"repositoryName": n})

        def ours(doc):
            return [r["repositoryName"] for r in doc["repositories"] if r["repositoryName"].startswith(self.p + "page/")]

        self.assertEqual(sorted(ours(cli.json("describe-repositories"))), names)      # > 1 page of 100
        self.assertEqual(sorted(ours(cli.json("describe-repositories", "--page-size", "25"))), names)
        first = cli.json("describe-repositories", "--max-items", "50", "--page-size", "20")
        self.assertEqual(len(first["repositories"]), 50)
        self.assertIn("NextToken", first)
        rest = cli.json("describe-repositories", "--starting-token", first["NextToken"], "--page-size", "30")
        self.assertNotIn("NextToken", rest)
        self.assertEqual(sorted(ours(first) + ours(rest)), names)
        total = len(first["repositories"]) + len(rest["repositories"])
        # the raw parameters switch auto-pagination off
        raw1 = cli.json("describe-repositories", "--max-results", "60")
        self.assertEqual(len(raw1["repositories"]), 60)
        self.assertIn("nextToken", raw1)
        raw2 = cli.json("describe-repositories", "--max-results", "60", "--next-token", raw1["nextToken"])
        self.assertEqual(len(raw2["repositories"]), min(60, total - 60))
        self.assertFalse({r["repositoryName"] for r in raw1["repositories"]} &
                         {r["repositoryName"] for r in raw2["repositories"]}, "pages overlap")

    # --------------------------------------------------------------- images
    def test_images(self):
        cli, name = self.cli, self.p + "/images"
        cli.json("create-repository", "--repository-name", name)
        a, a_raw = v2_push(name, "a1")
        v2_retag(name, "a2", a_raw)
        b, b_raw = v2_push(name, None)
        ids = cli.json("list-images", "--repository-name", name)["imageIds"]
        key = lambda d: (d["imageDigest"], d.get("imageTag", ""))
        self.assertEqual(sorted(ids, key=key), sorted([{"imageDigest": a, "imageTag": "a1"},
                                                       {"imageDigest": a, "imageTag": "a2"},
                                                       {"imageDigest": b}], key=key))
        ids = cli.json("list-images", "--repository-name", name, "--filter", "tagStatus=UNTAGGED")["imageIds"]
        self.assertEqual(ids, [{"imageDigest": b}])
        ids = cli.json("list-images", "--repository-name", name, "--page-size", "1")["imageIds"]
        self.assertEqual(len(ids), 3)
        det = cli.json("describe-images", "--repository-name", name, "--image-ids", "imageTag=a1")["imageDetails"]
        self.assertEqual(len(det), 1)
        self.assertEqual(det[0]["imageDigest"], a)
        self.assertEqual(sorted(det[0]["imageTags"]), ["a1", "a2"])
        self.assertEqual(det[0]["imageSizeInBytes"], 2000)
        self.assertEqual(det[0]["imageManifestMediaType"], OCI_MANIFEST)
        self.assertEqual(det[0]["artifactMediaType"], OCI_CONFIG)
        self.assertIn("imagePushedAt", det[0])
        cli.error("ImageNotFoundException", "describe-images", "--repository-name", name,
                  "--image-ids", "imageTag=missing")
        got = cli.json("batch-get-image", "--repository-name", name, "--image-ids", "imageTag=a1",
                       "imageTag=nope", "--accepted-media-types", OCI_MANIFEST)
        self.assertEqual([i["imageManifest"] for i in got["images"]], [a_raw.decode()])
        self.assertEqual([(f["imageId"], f["failureCode"]) for f in got["failures"]],
                         [({"imageTag": "nope"}, "ImageNotFound")])
        out = cli.json("batch-delete-image", "--repository-name", name, "--image-ids", "imageTag=a1")
        self.assertEqual(out["imageIds"], [{"imageDigest": a, "imageTag": "a1"}])
        out = cli.json("batch-delete-image", "--repository-name", name, "--image-ids", "imageDigest=" + b,
                       "imageTag=nope")
        self.assertEqual([i["imageDigest"] for i in out["imageIds"]], [b])
        self.assertEqual([f["failureCode"] for f in out["failures"]], ["ImageNotFound"])
        ids = cli.json("list-images", "--repository-name", name)["imageIds"]
        self.assertEqual(ids, [{"imageDigest": a, "imageTag": "a2"}])
        cli.error("RepositoryNotEmptyException", "delete-repository", "--repository-name", name)
        cli.json("delete-repository", "--repository-name", name, "--force")
        cli.error("RepositoryNotFoundException", "list-images", "--repository-name", name)

    def test_layer_upload_and_put_image(self):
        cli, name = self.cli, self.p + "/layers"
        cli.json("create-repository", "--repository-name", name)
        layer = os.urandom(5 * MiB + 4321)          # two parts: 5 MiB + rest
        config = new_config()
        for data in (layer, config):
            up = cli.json("initiate-layer-upload", "--repository-name", name)
            uid = up["uploadId"]
            self.assertIn("partSize", up)
            for first in range(0, len(data), 5 * MiB):
                chunk = data[first:first + 5 * MiB]
                f = self.tmp("part", chunk)
                out = cli.json("upload-layer-part", "--repository-name", name, "--upload-id", uid,
                               "--part-first-byte", str(first), "--part-last-byte", str(first + len(chunk) - 1),
                               "--layer-part-blob", "fileb://" + f)
                self.assertEqual(out["lastByteReceived"], first + len(chunk) - 1)
            out = cli.json("complete-layer-upload", "--repository-name", name, "--upload-id", uid,
                           "--layer-digests", sha256(data))
            self.assertEqual(out["layerDigest"], sha256(data))
        out = cli.json("batch-check-layer-availability", "--repository-name", name,
                       "--layer-digests", sha256(layer), sha256(config))
        self.assertEqual(sorted((l["layerDigest"], l["layerAvailability"], l["layerSize"]) for l in out["layers"]),
                         sorted([(sha256(layer), "AVAILABLE", len(layer)), (sha256(config), "AVAILABLE", len(config))]))
        url = cli.json("get-download-url-for-layer", "--repository-name", name, "--layer-digest",
                       sha256(layer))["downloadUrl"]
        with urllib.request.urlopen(url, timeout=60) as resp:
            self.assertTrue(resp.read() == layer, "download URL served different bytes")
        cli.error("LayersNotFoundException", "get-download-url-for-layer", "--repository-name", name,
                  "--layer-digest", "sha256:" + "7" * 64)

        raw = oci_image_manifest(blob(config, OCI_CONFIG), [blob(layer)])
        mf = self.tmp("manifest.json", raw)
        img = cli.json("put-image", "--repository-name", name, "--image-tag", "v1", "--image-manifest",
                       "file://" + mf, "--image-manifest-media-type", OCI_MANIFEST)["image"]
        self.assertEqual(img["imageId"], {"imageDigest": sha256(raw), "imageTag": "v1"})
        r = SERVER.req("GET", "/v2/%s/manifests/v1" % name, headers={"Accept": OCI_MANIFEST}, auth=True)
        self.assertEqual((r.status, r.body), (200, raw), r.describe())
        r = SERVER.req("GET", "/v2/%s/blobs/%s" % (name, sha256(layer)), auth=True)
        self.assertTrue(r.status == 200 and r.body == layer, "V2 does not serve the API-uploaded layer")
        cli.error("ImageAlreadyExistsException", "put-image", "--repository-name", name, "--image-tag", "v1",
                  "--image-manifest", "file://" + mf)
        cli.error("ImageDigestDoesNotMatchException", "put-image", "--repository-name", name, "--image-tag",
                  "v2", "--image-manifest", "file://" + mf, "--image-digest", "sha256:" + "ab" * 32)
        bad = self.tmp("bad.json", oci_image_manifest(blob(config, OCI_CONFIG), [blob(os.urandom(10))]))
        cli.error("LayersNotFoundException", "put-image", "--repository-name", name, "--image-tag", "bad",
                  "--image-manifest", "file://" + bad)

        # upload errors
        uid = cli.json("initiate-layer-upload", "--repository-name", name)["uploadId"]
        small = self.tmp("small", os.urandom(1000))
        cli.json("upload-layer-part", "--repository-name", name, "--upload-id", uid, "--part-first-byte", "0",
                 "--part-last-byte", "999", "--layer-part-blob", "fileb://" + small)
        err = cli.error("InvalidLayerPartException", "upload-layer-part", "--repository-name", name,
                        "--upload-id", uid, "--part-first-byte", "5000", "--part-last-byte", "5999",
                        "--layer-part-blob", "fileb://" + small)
        cli.error("InvalidLayerException", "complete-layer-upload", "--repository-name", name, "--upload-id",
                  uid, "--layer-digests", "sha256:" + "8" * 64)
        uid = cli.json("initiate-layer-upload", "--repository-name", name)["uploadId"]
        cli.error("EmptyUploadException", "complete-layer-upload", "--repository-name", name, "--upload-id",
                  uid, "--layer-digests", "sha256:" + "8" * 64)
        uid = cli.json("initiate-layer-upload", "--repository-name", name)["uploadId"]
        two = os.urandom(2000)
        p1, p2 = self.tmp("p1", two[:1000]), self.tmp("p2", two[1000:])
        cli.json("upload-layer-part", "--repository-name", name, "--upload-id", uid, "--part-first-byte", "0",
                 "--part-last-byte", "999", "--layer-part-blob", "fileb://" + p1)
        cli.json("upload-layer-part", "--repository-name", name, "--upload-id", uid, "--part-first-byte", "1000",
                 "--part-last-byte", "1999", "--layer-part-blob", "fileb://" + p2)
        cli.error("LayerPartTooSmallException", "complete-layer-upload", "--repository-name", name,
                  "--upload-id", uid, "--layer-digests", sha256(two))
        uid = cli.json("initiate-layer-upload", "--repository-name", name)["uploadId"]
        cf = self.tmp("config.json", config)
        cli.json("upload-layer-part", "--repository-name", name, "--upload-id", uid, "--part-first-byte", "0",
                 "--part-last-byte", str(len(config) - 1), "--layer-part-blob", "fileb://" + cf)
        cli.error("LayerAlreadyExistsException", "complete-layer-upload", "--repository-name", name,
                  "--upload-id", uid, "--layer-digests", sha256(config))
        cli.error("UploadNotFoundException", "complete-layer-upload", "--repository-name", name, "--upload-id",
                  "00000000-0000-4000-8000-000000000000", "--layer-digests", sha256(config))

    def test_tag_immutability(self):
        cli, name = self.cli, self.p + "/immutable"
        cli.json("create-repository", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE")
        d1, m1 = v2_push(name, "v1")
        d2, m2 = v2_push(name, None)
        f2 = self.tmp("m2.json", m2)
        cli.error("ImageTagAlreadyExistsException", "put-image", "--repository-name", name, "--image-tag", "v1",
                  "--image-manifest", "file://" + f2)
        cli.json("put-image", "--repository-name", name, "--image-tag", "v2", "--image-manifest", "file://" + f2)

    def test_exclusion_filters(self):
        self.require_option("create-repository", "imageTagMutabilityExclusionFilters")
        cli, name = self.cli, self.p + "/excl"
        repo = cli.json("create-repository", "--repository-name", name, "--image-tag-mutability",
                        "IMMUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters",
                        "filterType=WILDCARD,filter=latest", "filterType=WILDCARD,filter=dev-*")["repository"]
        self.assertEqual(repo["imageTagMutabilityExclusionFilters"],
                         [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}])
        v2_push(name, "latest")
        v2_push(name, "v1")
        d, m = v2_push(name, "latest")                   # excluded: moves
        f = self.tmp("excl.json", m)
        cli.error("ImageTagAlreadyExistsException", "put-image", "--repository-name", name, "--image-tag", "v1",
                  "--image-manifest", "file://" + f)
        out = cli.json("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability",
                       "MUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters",
                       "filterType=WILDCARD,filter=release-*")
        self.assertEqual(out["imageTagMutability"], "MUTABLE_WITH_EXCLUSION")
        cli.json("put-image", "--repository-name", name, "--image-tag", "v1", "--image-manifest", "file://" + f)

    # ------------------------------------------------- templates, settings
    def test_creation_templates(self):
        self.require_op("create-repository-creation-template")
        cli, prefix = self.cli, self.p + "tmpl"
        t = cli.json("create-repository-creation-template", "--prefix", prefix, "--applied-for", "CREATE_ON_PUSH",
                     "--image-tag-mutability", "IMMUTABLE", "--description", "from the cli")
        self.assertEqual(t["repositoryCreationTemplate"]["prefix"], prefix)
        cli.error("TemplateAlreadyExistsException", "create-repository-creation-template", "--prefix", prefix,
                  "--applied-for", "CREATE_ON_PUSH")
        got = cli.json("describe-repository-creation-templates", "--prefixes", prefix)["repositoryCreationTemplates"]
        self.assertEqual([(g["prefix"], g["imageTagMutability"], g["appliedFor"]) for g in got],
                         [(prefix, "IMMUTABLE", ["CREATE_ON_PUSH"])])
        upd = cli.json("update-repository-creation-template", "--prefix", prefix, "--description", "updated")
        self.assertEqual(upd["repositoryCreationTemplate"]["description"], "updated")
        cli.error("TemplateNotFoundException", "update-repository-creation-template", "--prefix",
                  prefix + "-none", "--description", "x")
        v2_push(prefix + "/app", "v1")                       # push-to-create
        repo = cli.json("describe-repositories", "--repository-names", prefix + "/app")["repositories"][0]
        self.assertEqual(repo["imageTagMutability"], "IMMUTABLE")
        cli.json("delete-repository-creation-template", "--prefix", prefix)
        cli.error("TemplateNotFoundException", "delete-repository-creation-template", "--prefix", prefix)
        r = SERVER.req("POST", "/v2/%s/other/blobs/uploads/" % prefix, auth=True)
        self.assertEqual(r.status, 404, r.describe())

    def test_account_setting(self):
        self.require_op("get-account-setting")
        cli = self.cli
        self.assertEqual(cli.json("get-account-setting", "--name", "BLOB_MOUNTING")["value"], "ENABLED")
        try:
            out = cli.json("put-account-setting", "--name", "BLOB_MOUNTING", "--value", "DISABLED")
            self.assertEqual(out, {"name": "BLOB_MOUNTING", "value": "DISABLED"})
            self.assertEqual(cli.json("get-account-setting", "--name", "BLOB_MOUNTING")["value"], "DISABLED")
        finally:
            SERVER.ecr("PutAccountSetting", {"name": "BLOB_MOUNTING", "value": "ENABLED"})

    # ------------------------------------------------------- registry, auth
    def test_registry_and_login(self):
        cli = self.cli
        self.assertEqual(cli.json("describe-registry")["registryId"], "000000000000")
        data = cli.json("get-authorization-token")["authorizationData"][0]
        self.assertEqual(data["proxyEndpoint"], "http://" + SERVER.hostport)
        r = SERVER.req("GET", "/v2/", headers={"Authorization": "Basic " + data["authorizationToken"]})
        self.assertEqual(r.status, 200, r.describe())
        rc, out, err = cli.run(["get-login-password"])
        self.assertEqual(rc, 0, err)
        pw = out.strip()
        self.assertNotIn(":", pw)
        r = SERVER.req("GET", "/v2/", headers={"Authorization": basic_auth_value(pw)})
        self.assertEqual(r.status, 200, r.describe())
        if self.major == 1:
            rc, out, err = cli.run(["get-login", "--no-include-email"])
            self.assertEqual(rc, 0, err)
            m = re.match(r"^docker login -u AWS -p (\S+) (\S+)$", out.strip())
            self.assertTrue(m, out)
            self.assertEqual(m.group(2), "http://" + SERVER.hostport)
            r = SERVER.req("GET", "/v2/", headers={"Authorization": basic_auth_value(m.group(1))})
            self.assertEqual(r.status, 200, r.describe())

    def test_auth_errors(self):
        cli = self.cli
        cli.error("InvalidSignatureException", "describe-repositories", secret=ROOT_SECRET_ACCESS_KEY[:-1] + "x")
        err = cli.error("UnrecognizedClientException", "describe-repositories", access_key="AKIDNOTKNOWN00000001",
                        secret="x" * 40)
        self.assertIn("The security token included in the request is invalid", err)
        cli.error("InvalidSignatureException", "describe-registry", region="eu-central-1")
        cli.error("MissingAuthenticationTokenException", "describe-repositories", "--no-sign-request")
        rc, out, err = cli.run(["describe-repositories"], access_key=None)
        self.assertNotEqual(rc, 0)
        self.assertIn("Unable to locate credentials", err)
        rc, out, err = cli.run(["get-login-password"], access_key=None)
        self.assertNotEqual(rc, 0)
        lib = libfaketime()
        if lib:     # the CLI's clock 20 minutes slow: outside the 15-minute window
            err = cli.error("InvalidSignatureException", "describe-registry",
                            extra_env={"LD_PRELOAD": lib, "FAKETIME": "-20m"})
            self.assertRegex(err, r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
                                  r"\(\d{8}T\d{6}Z - 15 min\.\)")
        else:
            sys.stderr.write("\n!!! libfaketime missing (Debian package faketime): clock skew not tested\n")
        out = cli.json("describe-registry", access_key=ALICE["access_key_id"], secret=ALICE["secret_access_key"])
        self.assertEqual(out["registryId"], "000000000000")


def v2_retag(repo, tag, raw):
    r = SERVER.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=raw,
                   headers={"Content-Type": OCI_MANIFEST}, auth=True)
    assert r.status == 201, r.describe()


class TestAwsCliV1(CliTests, unittest.TestCase):
    major = 1


class TestAwsCliV2(CliTests, unittest.TestCase):
    major = 2


# ----------------------------------------------------------------- docker
class TestDockerLogin(unittest.TestCase):
    """aws ecr get-login-password | docker login; docker push/pull; delete."""

    @classmethod
    def setUpClass(cls):
        cls.docker_ping = staticmethod(docker_ping)
        found = find_cli(2) or find_cli(1)
        if not found:
            loud_skip("no aws cli found")
        cls.cli = AwsCli(*found)
        cls.dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not cls.dockerd or not os.path.exists(cls.dockerd):
            loud_skip("dockerd not found (Debian package docker.io)")
        cls.docker_cli = os.environ.get("BERTH_DOCKER_CLI") or \
            ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker"))
        if not cls.docker_cli:
            loud_skip("docker client not found")
        cls.dir = tempfile.mkdtemp(prefix="berth-ecr-dockerd-", dir="/tmp")
        cls.daemon = PrivateDockerd(cls.dockerd, cls.dir, insecure_registry=SERVER.hostport)
        cls.daemon.start()
        cls.sock = cls.daemon.sock
        cls.env = cls.daemon.env

    @classmethod
    def stop_dockerd(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.stop()

    @classmethod
    def tearDownClass(cls):
        cls.stop_dockerd()
        if not os.environ.get("BERTH_KEEP_LOGS"):
            subprocess.run(["rm", "-rf", cls.dir], timeout=120)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            SERVER.dump_log(tail=40)
        return out

    def docker(self, *args, check=True, stdin=None, input_data=None, timeout=180):
        cmd = [self.docker_cli] + list(args)
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdin=stdin if stdin is not None else (
            None if input_data is not None else subprocess.DEVNULL), input=input_data,
            capture_output=True, text=True, timeout=timeout, env=self.env)
        sys.stderr.write("  $ docker %s  [%.1fs, rc=%d]\n" % (" ".join(args)[:150], time.monotonic() - t0,
                                                              p.returncode))
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (rc=%d):\n%s\n%s" % (" ".join(args), p.returncode,
                                                                       p.stdout[-3000:], p.stderr[-3000:]))
        return p.returncode, p.stdout, p.stderr

    def login_pipe(self):
        docker_login_with_aws(self, list(self.cli.cmd) + ["--endpoint-url", SERVER.base], self.cli.env(),
                              self.docker, SERVER.hostport)

    def import_image(self, ref):
        self.docker("import", one_file_rootfs(self.dir, "ecr"), ref)

    def test_login_push_describe_delete(self):
        cli, hp = self.cli, SERVER.hostport
        name = "ecr-docker/app"
        ref = "%s/%s:v1" % (hp, name)
        self.import_image(ref)
        # not logged in: refused
        self.docker("logout", hp)
        rc, out, err = self.docker("push", ref, check=False)
        self.assertNotEqual(rc, 0)
        self.assertRegex((out + err).lower(), r"no basic auth credentials|unauthorized|authentication required")
        self.login_pipe()
        # logged in, no repository yet: refused with ECR's reason
        rc, out, err = self.docker("push", ref, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("does not exist", out + err)
        cli.json("create-repository", "--repository-name", name)
        rc, out, err = self.docker("push", ref)
        m = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
        self.assertTrue(m, out)
        digest = m.group(1)
        det = cli.json("describe-images", "--repository-name", name)["imageDetails"]
        self.assertEqual([(d["imageDigest"], d["imageTags"]) for d in det], [(digest, ["v1"])])
        self.assertGreater(det[0]["imageSizeInBytes"], 0)
        self.assertEqual(det[0]["imageManifestMediaType"], "application/vnd.docker.distribution.manifest.v2+json")
        # pull back; the pull is recorded
        self.docker("rmi", ref)
        self.docker("pull", ref)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            d = SERVER.ecr("DescribeImages", {"repositoryName": name})["imageDetails"][0]
            if "lastRecordedPullTime" in d:
                break
            time.sleep(0.5)
        det = cli.json("describe-images", "--repository-name", name)["imageDetails"]
        self.assertIn("lastRecordedPullTime", det[0])
        # delete the tag: docker can no longer pull it
        out = cli.json("batch-delete-image", "--repository-name", name, "--image-ids", "imageTag=v1")
        self.assertEqual(out["imageIds"], [{"imageDigest": digest, "imageTag": "v1"}])
        self.docker("rmi", ref)
        rc, out, err = self.docker("pull", ref, check=False)
        self.assertNotEqual(rc, 0)
        self.assertRegex((out + err).lower(), r"not found|manifest unknown")
        cli.json("delete-repository", "--repository-name", name, "--force")
        cli.error("RepositoryNotFoundException", "describe-images", "--repository-name", name)

    def test_create_on_push(self):
        hp = SERVER.hostport
        SERVER.enable_create_on_push()
        self.addCleanup(SERVER.ecr_call, "DeleteRepositoryCreationTemplate", {"prefix": "ROOT"})
        ref = "%s/ecr-docker/auto:v1" % hp
        self.import_image(ref)
        self.login_pipe()
        self.docker("push", ref)
        repo = self.cli.json("describe-repositories", "--repository-names", "ecr-docker/auto")["repositories"][0]
        self.assertEqual(repo["repositoryUri"], "%s/ecr-docker/auto" % hp)

    def test_expired_and_revoked_tokens(self):
        """A token issued 13 hours ago (server and CLI under libfaketime) and the
        token of a user removed from the configuration: docker login refuses both."""
        lib = libfaketime()
        if not lib:
            loud_skip("libfaketime not installed (Debian package faketime)")
        bob = {"name": "bob", "access_key_id": "AKIDBOBCLI0000000001",
               "secret_access_key": "bobCliSecret/0123456789abcdefghijklmnopqr"}
        past = {"LD_PRELOAD": lib, "FAKETIME": "-13h", "DONT_FAKE_MONOTONIC": "1"}
        srv = BerthServer("ecr-docker-tokens", auth="sigv4", users=[bob], env=past)
        self.addCleanup(srv.cleanup)
        srv.start()
        rc, old, err = self.cli.run(["get-login-password"], endpoint=srv.base, extra_env=past)
        self.assertEqual(rc, 0, err)
        srv.env = {}
        srv.restart()
        rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", srv.hostport,
                                   input_data=old, check=False)
        self.assertNotEqual(rc, 0, "docker login accepted a token that expired an hour ago")
        self.assertRegex((out + err).lower(), r"403|forbidden|expired")
        rc, bobs, err = self.cli.run(["get-login-password"], endpoint=srv.base,
                                     access_key=bob["access_key_id"], secret=bob["secret_access_key"])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", srv.hostport,
                                   input_data=bobs)
        self.assertIn("Login Succeeded", out)
        srv.users = []
        srv.restart()
        rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", srv.hostport,
                                   input_data=bobs, check=False)
        self.assertNotEqual(rc, 0, "docker login accepted the token of a removed user")
        self.assertRegex((out + err).lower(), r"401|unauthorized")
        self.cli.error("UnrecognizedClientException", "describe-registry", endpoint=srv.base,
                       access_key=bob["access_key_id"], secret=bob["secret_access_key"])

    def test_get_login_v1_and_bad_password(self):
        rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", SERVER.hostport,
                                   input_data="not-a-token\n", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex((out + err).lower(), r"unauthorized|401")
        v1 = find_cli(1)
        if not v1:
            loud_skip("aws-cli v1 not found: 'aws ecr get-login' not tested")
        cli = AwsCli(*v1)
        rc, out, err = cli.run(["get-login", "--no-include-email"])
        self.assertEqual(rc, 0, err)
        argv = out.split()
        self.assertEqual(argv[:5], ["docker", "login", "-u", "AWS", "-p"], out)
        self.assertEqual(argv[-1], "http://" + SERVER.hostport)
        rc, out, err = self.docker(*argv[1:])
        self.assertIn("Login Succeeded", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
