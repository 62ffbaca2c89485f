"""Lifecycle policies through the real `aws` command line (plus `berth lifecycle run`):
Put/Get/DeleteLifecyclePolicy, Start/GetLifecyclePolicyPreview (exact digests and rule
priorities, pagination), runs on demand and on the server's schedule (and at start),
referrers expiring with their subject, the ARCHIVE storage class (transition rules and
UpdateImageStorageClass), validation failures, dry runs.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_lifecycle.py
(from tests/integration/; ~60 s: push times are whole seconds, so pushes whose order
matters are one second apart).

CLIs: the main one is aws-cli v2 from Debian (/usr/bin/aws) when present, else `aws` on
PATH (BERTH_AWS_CLI overrides).  Operations and response members that the main CLI's
bundled model predates (UpdateImageStorageClass, imageStatus, storageClass) go through a
newer one: `aws` on PATH / `python3 -m awscli` (BERTH_AWS_CLI_NEW overrides), else boto3.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, berth_bin, metadata_env, sha256,
    OCI_CONFIG, OCI_EMPTY, OCI_LAYER, OCI_MANIFEST,
)

CMD_TIMEOUT = 120
PREFIX = ("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
          "'Lifecycle policy validation failure: ")
SERVER = None
WORK = None
IMAGES = {}        # (repo, key) -> Image


# ------------------------------------------------------------------ the CLIs
def _version(cmd):
    try:
        p = subprocess.run(cmd + ["--version"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, AWS_PAGER=""))
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (p.stdout + p.stderr).strip()
    return out if p.returncode == 0 and out.startswith("aws-cli/") else None


def _first_cli(cands, exclude=None):
    for c in cands:
        if not c or (os.path.isabs(c[0]) and not os.path.exists(c[0])):
            continue
        if exclude and os.path.realpath(c[0]) == os.path.realpath(exclude[0]) and c[1:] == exclude[1:]:
            continue
        v = _version(c)
        if v:
            return c, v
    return None


_CLIS = {}


def main_cli():
    if "main" not in _CLIS:
        env = os.environ.get("BERTH_AWS_CLI")
        cands = [env.split()] if env else []
        cands += [["/usr/bin/aws"], [shutil.which("aws")] if shutil.which("aws") else None]
        found = _first_cli(cands)
        _CLIS["main"] = AwsCli(*found) if found else None
    return _CLIS["main"]


def new_cli():
    """A CLI whose model knows UpdateImageStorageClass, or None (then boto3 is used)."""
    if "new" not in _CLIS:
        env = os.environ.get("BERTH_AWS_CLI_NEW")
        cands = [env.split()] if env else []
        cands += [[shutil.which("aws")] if shutil.which("aws") else None,
                  [os.path.expanduser("~/.pyenv/shims/aws")], [sys.executable, "-m", "awscli"]]
        _CLIS["new"] = None
        for c in cands:
            found = _first_cli([c])
            if not found:
                continue
            cli = AwsCli(*found)
            if "update-image-storage-class" in cli.operations():
                _CLIS["new"] = cli
                break
    return _CLIS["new"]


class AwsCli:
    def __init__(self, cmd, version):
        self.cmd = cmd
        self.version = version
        self.name = "aws" + version.split("/")[1].split(".")[0]
        d = tempfile.mkdtemp(prefix="cli-", dir=WORK)
        self.config = os.path.join(d, "config")
        self.creds = os.path.join(d, "credentials")
        for p in (self.config, self.creds):
            open(p, "w").close()
        self._ops = None

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=self.config, AWS_SHARED_CREDENTIALS_FILE=self.creds,
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID=ROOT_ACCESS_KEY_ID,
                   AWS_SECRET_ACCESS_KEY=ROOT_SECRET_ACCESS_KEY)
        return env

    def run(self, args, server=None, endpoint=True):
        cmd = list(self.cmd) + ["ecr"] + list(args) + ["--output", "json"]
        if endpoint:
            cmd += ["--endpoint-url", (server or SERVER).base,
                    "--cli-connect-timeout", "10", "--cli-read-timeout", "60"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=CMD_TIMEOUT, env=self.env())
        except subprocess.TimeoutExpired as e:
            raise AssertionError("timed out after %ss: %s\n%s" % (CMD_TIMEOUT, " ".join(cmd), e.stderr))
        sys.stderr.write("  $ %s ecr %s  [%.1fs, rc=%d]\n" % (
            self.name, " ".join(args)[:140], time.monotonic() - t0, p.returncode))
        return p.returncode, p.stdout, p.stderr

    def json(self, *args, server=None):
        rc, out, err = self.run(args, server=server)
        if rc != 0:
            raise AssertionError("%s ecr %s failed (rc=%d):\n%s%s" % (self.name, " ".join(args), rc, out, err))
        return json.loads(out) if out.strip() else {}

    def error(self, exc, *args, server=None):
        """The call must fail with ECR exception `exc`; returns the message."""
        rc, out, err = self.run(args, server=server)
        if rc == 0:
            raise AssertionError("%s ecr %s: expected %s, succeeded:\n%s" % (self.name, " ".join(args), exc, out))
        m = re.search(r"An error occurred \((\w+)\) when calling the (\w+) operation(?: \([^)]*\))?: (.*)", err, re.S)
        if not m or m.group(1) != exc:
            raise AssertionError("%s ecr %s: expected %s, got rc=%d:\n%s" % (
                self.name, " ".join(args), exc, rc, err[-2000:]))
        return m.group(3).strip()

    def operations(self):
        if self._ops is None:
            rc, out, err = self.run(["berth-no-such-operation"], endpoint=False)
            self._ops = set(re.findall(r"[a-z][a-z0-9-]+", err.split("valid choices are", 1)[-1]))
        return self._ops


def boto3_ecr(server):
    import boto3
    from botocore.config import Config
    return boto3.client("ecr", endpoint_url=server.base, region_name="us-east-1",
                        aws_access_key_id=ROOT_ACCESS_KEY_ID, aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
                        config=Config(retries={"max_attempts": 1}))


def describe_images_full(repo, server=None):
    """DescribeImages with the archive members (imageStatus, lastArchivedAt): through a CLI
    that knows them, else boto3.  -> {digest: detail}"""
    cli = new_cli()
    if cli:
        doc = cli.json("describe-images", "--repository-name", repo, server=server)
    elif boto3_knows("ImageDetail", "imageStatus"):
        doc = boto3_ecr(server or SERVER).describe_images(repositoryName=repo)
    else:
        # An older botocore (Debian's) drops members its model does not know: read the wire.
        doc = (server or SERVER).ecr("DescribeImages", {"repositoryName": repo})
    return {d["imageDigest"]: d for d in doc["imageDetails"]}


def boto3_knows(shape, member):
    try:
        import boto3
        model = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x",
                             aws_secret_access_key="y").meta.service_model
        return member in model.shape_for(shape).members
    except Exception:
        return False


def update_storage_class(repo, digest, target, server=None):
    cli = new_cli()
    if cli:
        return cli.json("update-image-storage-class", "--repository-name", repo,
                        "--image-id", "imageDigest=" + digest, "--target-storage-class", target,
                        server=server)
    if boto3_knows("UpdateImageStorageClassRequest", "targetStorageClass"):
        return boto3_ecr(server or SERVER).update_image_storage_class(
            repositoryName=repo, imageId={"imageDigest": digest}, targetStorageClass=target)
    return (server or SERVER).ecr("UpdateImageStorageClass", {"repositoryName": repo, "imageId": {"imageDigest": digest},
                                                              "targetStorageClass": target})


def epoch(v):
    """A timestamp as the CLIs print it (ISO 8601, or epoch seconds) -> float."""
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    try:
        return float(v)
    except ValueError:
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------ images
class Image:
    def __init__(self, repo, key, tags, raw, blobs):
        self.repo, self.key, self.tags, self.raw, self.blobs = repo, key, list(tags), raw, blobs
        self.digest = sha256(raw)

    def __repr__(self):
        return "<%s %s %s %s>" % (self.repo, self.key, self.tags, self.digest[:19])


def build_and_push(server, repo, key, tags, subject=None, artifact_type=None, digest_below=None):
    """Push config + one small unique layer, then the manifest under each tag (the same
    bytes: the first push time stays) or by digest when `tags` is empty.  digest_below:
    draw new random bytes until the manifest digest sorts below it."""
    for _ in range(1000):
        if subject is None:
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                              "key": key, "salt": os.urandom(8).hex()}).encode()
            cdesc = {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)}
        else:
            cfg = b"{}"
            cdesc = {"mediaType": OCI_EMPTY, "digest": sha256(cfg), "size": 2}
        layer = ("%s/%s " % (repo, key)).encode() + os.urandom(600)
        ldesc = {"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": [ldesc]}
        if artifact_type:
            m["artifactType"] = artifact_type
        if subject is not None:
            m["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.raw)}
        raw = json.dumps(m, indent=2).encode()
        if digest_below is None or sha256(raw) < digest_below:
            break
    img = Image(repo, key, tags, raw, {cdesc["digest"]: cfg, ldesc["digest"]: layer})
    for d, data in img.blobs.items():
        server.push_blob(repo, data)
    for ref in (tags or [img.digest]):
        server.push_manifest(repo, ref, raw, OCI_MANIFEST)
    return img


def push_in_order(server, specs, registry=IMAGES):
    """specs: [(repo, key, tags, subject_key_or_None[, {build_and_push options}])].  Images of
    one repository get push times in strictly increasing whole seconds, in list order
    (repositories interleave); referrers (with a subject key) are pushed at once."""
    last_second = {}
    for spec in specs:
        repo, key, tags, subject_key = spec[:4]
        opts = spec[4] if len(spec) > 4 else {}
        if "digest_below" in opts:
            opts = dict(opts, digest_below=registry[(repo, opts["digest_below"])].digest)
        if subject_key is None:
            while int(time.time()) <= last_second.get(repo, -1):
                time.sleep(0.05)
        subject = registry[(repo, subject_key)] if subject_key else None
        img = build_and_push(server, repo, key, tags, subject=subject,
                             artifact_type="application/vnd.example.signature" if subject else None, **opts)
        registry[(repo, key)] = img
        if subject_key is None:
            last_second[repo] = int(time.time())
    return registry


def rule(priority, tag_status, count, prefixes=None, patterns=None, action="expire", storage=None,
         target=None, description=None):
    sel = {"tagStatus": tag_status}
    if prefixes:
        sel["tagPrefixList"] = prefixes
    if patterns:
        sel["tagPatternList"] = patterns
    if storage:
        sel["storageClass"] = storage
    sel.update(countType="imageCountMoreThan", countNumber=count)
    act = {"type": action}
    if target:
        act["targetStorageClass"] = target
    return {"rulePriority": priority, "description": description or "rule %d of the Berth tests" % priority,
            "selection": sel, "action": act}


def policy(*rules):
    text = json.dumps({"rules": list(rules)})
    assert len(text) >= 100, text
    return text


def berth_cli(*args, data_dir=None, check=True):
    cmd = [berth_bin()] + list(args) + ["--data-dir", data_dir or SERVER.data_dir]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CMD_TIMEOUT,
                       env=metadata_env(data_dir or SERVER.data_dir))
    sys.stderr.write("  $ berth %s  [rc=%d]\n" % (" ".join(args), p.returncode))
    if check and p.returncode != 0:
        raise AssertionError("%s -> %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


RUN_LINE = re.compile(r"^(would|did) (expire|archive) (\S+)@(sha256:[0-9a-f]{64}) \[([^\]]*)\] rule (\d+)$", re.M)


def run_lines(out):
    """{digest: (verb, action, repo, tags, rule)} from `berth lifecycle run` output."""
    return {m.group(4): (m.group(1), m.group(2), m.group(3), sorted(t for t in m.group(5).split(",") if t and m.group(5) != "untagged"),
                         int(m.group(6))) for m in RUN_LINE.finditer(out)}


def list_images(cli, repo, server=None):
    """-> {digest: sorted tags} through `aws ecr list-images` (every page)."""
    doc = cli.json("list-images", "--repository-name", repo, "--page-size", "3", server=server)
    out = {}
    for i in doc["imageIds"]:
        out.setdefault(i["imageDigest"], set())
        if i.get("imageTag"):
            out[i["imageDigest"]].add(i["imageTag"])
    return {d: sorted(t) for d, t in out.items()}


# ------------------------------------------------------------------ module
# lc/app push order, oldest first: key, tags
APP = [("i01", ["rel-0"]), ("i02", []), ("i03", ["prod-1", "beta-1"]), ("i04", ["prod-2"]), ("i05", []),
       ("i06", ["beta-2"]), ("i07", ["prod-3"]), ("i08", []), ("i09", ["prod-4", "beta-3"]),
       ("i10", ["beta-4"]), ("i11", ["prod-5"]), ("i12", ["rel-1"])]
APP_POLICY = policy(
    rule(1, "tagged", 2, prefixes=["prod"], description="keep the two newest prod images"),
    rule(2, "tagged", 1, patterns=["beta-*"], description="keep the newest beta image"),
    rule(3, "untagged", 1, description="keep one untagged image"),
    rule(10, "any", 8, description="at most eight images in all"))
# rule 1: prod candidates i03 i04 i07 i09 i11 -> keeps i11 i09, expires i03 i04 i07
# rule 2: beta candidates i03 i06 i09 i10 -> keeps i10; i03 done, i09 selected by rule 1 (protected) -> i06
# rule 3: untagged i02 i05 i08 -> keeps i08, expires i02 i05
# rule 10: all 12 count; newest 8 kept; of i01..i04 only i01 was selected by no earlier rule -> i01
APP_EXPECTED = {"i01": 10, "i02": 3, "i03": 1, "i04": 1, "i05": 3, "i06": 2, "i07": 1}
APP_SURVIVORS = ["i08", "i09", "i10", "i11", "i12"]


def setUpModule():
    global SERVER, WORK
    WORK = tempfile.mkdtemp(prefix="berth-lifecycle-")
    if main_cli() is None:
        raise unittest.SkipTest("no aws CLI found (/usr/bin/aws or aws on PATH)")
    SERVER = BerthServer("lifecycle", auth="sigv4", v2_auth=True,
                         config={"lifecycle": {"interval_seconds": 0}, "gc": {"interval_seconds": 0}})
    SERVER.start()
    for repo in ("lc/app", "lc/ref", "lc/arch", "lc/dry", "lc/empty"):
        SERVER.create_repository(repo)
    app = [("lc/app", k, t, None) for k, t in APP]
    ref = [("lc/ref", "old-1", ["old-1"], None), ("lc/ref", "sig-1", [], "old-1"),
           ("lc/ref", "old-2", ["old-2"], None), ("lc/ref", "sig-2", [], "old-2"),
           ("lc/ref", "sig-1b", [], "sig-1")]           # a referrer of a referrer
    arch = [("lc/arch", "a-%d" % i, ["a-%d" % i], None) for i in (1, 2, 3)]
    # d-2's digest sorts below d-1's: previews list oldest first, so a page token that is
    # "the last digest" would skip d-2 (the pagination test relies on this order)
    dry = [("lc/dry", "d-1", ["d-1"], None), ("lc/dry", "d-2", ["d-2"], None, {"digest_below": "d-1"}),
           ("lc/dry", "d-3", ["d-3"], None)]
    specs, queues = [], [app, ref, arch, dry]
    while any(queues):
        for q in queues:
            if q:
                specs.append(q.pop(0))
    push_in_order(SERVER, specs)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


class LifecycleBase(unittest.TestCase):
    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before and SERVER is not None:
            SERVER.dump_log(tail=40)
        return out

    @property
    def cli(self):
        return main_cli()

    def img(self, repo, key):
        return IMAGES[(repo, key)]

    def assertPullable(self, img, server=None, by_tag=True):
        srv = server or SERVER
        refs = [img.digest] + (img.tags if by_tag else [])
        for ref in refs:
            r = srv.req("GET", "/v2/%s/manifests/%s" % (img.repo, ref), headers={"Accept": OCI_MANIFEST})
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.body, img.raw)
        for d, data in img.blobs.items():
            r = srv.req("GET", "/v2/%s/blobs/%s" % (img.repo, d))
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.body, data)

    def assertManifestGone(self, img, server=None):
        srv = server or SERVER
        for ref in [img.digest] + img.tags:
            r = srv.req("GET", "/v2/%s/manifests/%s" % (img.repo, ref), headers={"Accept": OCI_MANIFEST})
            self.assertEqual(r.status, 404, r.describe())
            self.assertIn("MANIFEST_UNKNOWN", r.error_codes(), r.describe())


class TestPolicyApi(LifecycleBase):
    def test_not_found_errors(self):
        repo = "lc/empty"
        self.cli.error("LifecyclePolicyNotFoundException", "get-lifecycle-policy", "--repository-name", repo)
        self.cli.error("LifecyclePolicyNotFoundException", "delete-lifecycle-policy", "--repository-name", repo)
        self.cli.error("LifecyclePolicyPreviewNotFoundException", "get-lifecycle-policy-preview",
                       "--repository-name", repo)
        # no text and no stored policy: nothing to preview
        self.cli.error("LifecyclePolicyNotFoundException", "start-lifecycle-policy-preview",
                       "--repository-name", repo)
        for op in ("get-lifecycle-policy", "get-lifecycle-policy-preview"):
            self.cli.error("RepositoryNotFoundException", op, "--repository-name", "lc/no-such-repo")
        self.cli.error("RepositoryNotFoundException", "put-lifecycle-policy", "--repository-name",
                       "lc/no-such-repo", "--lifecycle-policy-text", policy(rule(1, "untagged", 1)))
        rc, out, err = berth_cli("lifecycle", "run", "--repository", "lc/empty", check=False)
        self.assertNotEqual(rc, 0, "lifecycle run on a repository without a policy:\n" + out + err)

    def test_invalid_policies(self):
        repo = "lc/empty"
        bad = {
            "tagged without a prefix or pattern list":
                policy(rule(1, "tagged", 1, description="tagged but selects no tags " * 2)),
            "two rules with the same priority":
                policy(rule(1, "tagged", 1, prefixes=["a"]), rule(1, "untagged", 1)),
            "'any' not the last rule":
                policy(rule(1, "any", 5), rule(2, "tagged", 1, prefixes=["prod"])),
            "prefix list with tagStatus untagged":
                policy(rule(1, "untagged", 1, prefixes=["prod"])),
            "countNumber 0":
                policy(rule(1, "untagged", 0)),
            "transition to standard":
                policy(rule(1, "tagged", 1, prefixes=["a"], action="transition", target="standard")),
        }
        for what, text in bad.items():
            with self.subTest(what):
                msg = self.cli.error("InvalidParameterException", "put-lifecycle-policy", "--repository-name",
                                     repo, "--lifecycle-policy-text", text)
                self.assertTrue(msg.startswith(PREFIX), "%s: %r" % (what, msg))
                msg = self.cli.error("InvalidParameterException", "start-lifecycle-policy-preview",
                                     "--repository-name", repo, "--lifecycle-policy-text", text)
                self.assertTrue(msg.startswith(PREFIX), "%s: %r" % (what, msg))
        # the raw wire error too: __type and message
        st, _, doc = SERVER.ecr_call("PutLifecyclePolicy", {"repositoryName": repo,
                                                            "lifecyclePolicyText": bad["two rules with the same priority"]})
        self.assertEqual(st, 400, doc)
        self.assertEqual(doc.get("__type"), "InvalidParameterException", doc)
        self.assertTrue(doc.get("message", "").startswith(PREFIX), doc)
        # nothing was stored by any of them
        self.cli.error("LifecyclePolicyNotFoundException", "get-lifecycle-policy", "--repository-name", repo)

    def test_put_get_delete(self):
        repo = "lc/empty"
        text = policy(rule(1, "untagged", 3))
        doc = self.cli.json("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
        self.assertEqual(doc["repositoryName"], repo)
        self.assertEqual(json.loads(doc["lifecyclePolicyText"]), json.loads(text))
        doc = self.cli.json("get-lifecycle-policy", "--repository-name", repo)
        self.assertEqual(json.loads(doc["lifecyclePolicyText"]), json.loads(text))
        self.assertEqual(doc["registryId"], SERVER.account_id)
        # ECR's responses always carry it: the epoch until the first evaluation.
        self.assertEqual(epoch(doc["lastEvaluatedAt"]), 0.0, "never evaluated yet")
        doc = self.cli.json("delete-lifecycle-policy", "--repository-name", repo)
        self.assertEqual(json.loads(doc["lifecyclePolicyText"]), json.loads(text))
        self.cli.error("LifecyclePolicyNotFoundException", "get-lifecycle-policy", "--repository-name", repo)


class TestPreviewAndRun(LifecycleBase):
    repo = "lc/app"

    def expected_preview(self):
        return {self.img(self.repo, k).digest: p for k, p in APP_EXPECTED.items()}

    def check_preview(self, doc, expected):
        got = {r["imageDigest"]: r for r in doc["previewResults"]}
        self.assertEqual(len(got), len(doc["previewResults"]), "a digest listed twice: %r" % doc)
        names = {self.img(self.repo, k).digest: k for k, _ in APP}
        self.assertEqual(sorted(names.get(d, d) for d in got), sorted(names[d] for d in expected),
                         json.dumps(doc, indent=1)[:3000])
        details = describe_images_full(self.repo)
        for d, r in got.items():
            img = self.img(self.repo, names[d])
            self.assertEqual(r["appliedRulePriority"], expected[d], (names[d], r))
            self.assertEqual(r["action"]["type"], "EXPIRE", r)
            self.assertEqual(sorted(r.get("imageTags", [])), sorted(img.tags), r)
            self.assertEqual(epoch(r["imagePushedAt"]), epoch(details[d]["imagePushedAt"]), r)
        self.assertEqual(doc["summary"]["expiringImageTotalCount"], len(expected), doc["summary"])

    def test_1_preview_run_and_survivors(self):
        cli, repo = self.cli, self.repo
        before = list_images(cli, repo)
        self.assertEqual(len(before), 12, before)

        # A preview of a text that is not stored (none is yet): allowed, stores nothing.
        doc = cli.json("start-lifecycle-policy-preview", "--repository-name", repo,
                       "--lifecycle-policy-text", policy(rule(1, "untagged", 2)))
        self.assertEqual(doc["status"], "COMPLETE", doc)
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(doc["status"], "COMPLETE")
        self.assertEqual([r["imageDigest"] for r in doc["previewResults"]], [self.img(repo, "i02").digest], doc)
        self.assertEqual(doc["previewResults"][0]["appliedRulePriority"], 1)
        cli.error("LifecyclePolicyNotFoundException", "get-lifecycle-policy", "--repository-name", repo)

        # The stored policy, previewed without a text.
        cli.json("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", APP_POLICY)
        doc = cli.json("start-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(doc["status"], "COMPLETE", doc)
        self.assertEqual(json.loads(doc["lifecyclePolicyText"]), json.loads(APP_POLICY))
        expected = self.expected_preview()
        # one page (pagination: test_2_preview_pages)
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(doc["status"], "COMPLETE")
        self.assertEqual(json.loads(doc["lifecyclePolicyText"]), json.loads(APP_POLICY))
        self.check_preview(doc, expected)
        # filter: untagged only
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo, "--filter", "tagStatus=UNTAGGED")
        self.assertEqual(sorted(r["imageDigest"] for r in doc["previewResults"]),
                         sorted(self.img(repo, k).digest for k in ("i02", "i05")), doc)
        # by image id
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo,
                       "--image-ids", "imageTag=prod-1", "imageDigest=" + self.img(repo, "i06").digest)
        self.assertEqual(sorted(r["imageDigest"] for r in doc["previewResults"]),
                         sorted(self.img(repo, k).digest for k in ("i03", "i06")), doc)

        # dry run: reports the same, changes nothing, records no evaluation
        rc, out, err = berth_cli("lifecycle", "run", "--repository", repo, "--dry-run")
        lines = run_lines(out + err)
        self.assertEqual({d: (v[0], v[1], v[2], v[4]) for d, v in lines.items()},
                         {d: ("would", "expire", repo, p) for d, p in expected.items()}, out + err)
        for d, v in lines.items():
            self.assertEqual(v[3], sorted(next(i.tags for i in IMAGES.values() if i.digest == d)))
        self.assertEqual(list_images(cli, repo), before)
        self.assertEqual(epoch(cli.json("get-lifecycle-policy", "--repository-name", repo)["lastEvaluatedAt"]), 0.0)

        # the run
        t0 = time.time()
        rc, out, err = berth_cli("lifecycle", "run", "--repository", repo)
        lines = run_lines(out + err)
        self.assertEqual({d: (v[0], v[1], v[4]) for d, v in lines.items()},
                         {d: ("did", "expire", p) for d, p in expected.items()}, out + err)
        self.assertIn("7 images acted on", out + err)
        after = list_images(cli, repo)
        self.assertEqual(after, {self.img(repo, k).digest: sorted(self.img(repo, k).tags) for k in APP_SURVIVORS})
        doc = cli.json("get-lifecycle-policy", "--repository-name", repo)
        self.assertIn("lastEvaluatedAt", doc)
        self.assertGreaterEqual(epoch(doc["lastEvaluatedAt"]), int(t0) - 1)
        self.assertLessEqual(epoch(doc["lastEvaluatedAt"]), time.time() + 1)
        for k, _ in APP:
            if k in APP_SURVIVORS:
                self.assertPullable(self.img(repo, k))
            else:
                self.assertManifestGone(self.img(repo, k))
        gone = cli.json("batch-get-image", "--repository-name", repo, "--image-ids",
                        "imageDigest=" + self.img(repo, "i01").digest)
        self.assertEqual(gone["images"], [])
        self.assertEqual(len(gone["failures"]), 1, gone)

        # the same policy again: nothing left to do
        doc = cli.json("start-lifecycle-policy-preview", "--repository-name", repo)
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(doc["previewResults"], [], doc)
        self.assertEqual(doc["summary"]["expiringImageTotalCount"], 0)
        rc, out, err = berth_cli("lifecycle", "run", "--repository", repo)
        self.assertEqual(run_lines(out + err), {})
        self.assertEqual(list_images(cli, repo), after)

    def test_2_preview_pages(self):
        """GetLifecyclePolicyPreview pages (the CLI's --page-size, raw maxResults/nextToken):
        every result exactly once."""
        repo = "lc/dry"
        text = policy(rule(1, "tagged", 1, prefixes=["d-"]))
        SERVER.ecr("StartLifecyclePolicyPreview", {"repositoryName": repo, "lifecyclePolicyText": text})
        want = sorted(self.img(repo, k).digest for k in ("d-1", "d-2"))
        doc = self.cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(sorted(r["imageDigest"] for r in doc["previewResults"]), want, doc)
        doc = self.cli.json("get-lifecycle-policy-preview", "--repository-name", repo, "--page-size", "1")
        self.assertEqual(sorted(r["imageDigest"] for r in doc["previewResults"]), want,
                         "aws --page-size 1: %r" % doc["previewResults"])
        for size in (1, 2, 3):
            seen, token = [], None
            for _ in range(10):
                req = {"repositoryName": repo, "maxResults": size}
                if token:
                    req["nextToken"] = token
                doc = SERVER.ecr("GetLifecyclePolicyPreview", req)
                self.assertLessEqual(len(doc["previewResults"]), size)
                seen += [r["imageDigest"] for r in doc["previewResults"]]
                token = doc.get("nextToken")
                if not token:
                    break
            self.assertEqual(sorted(seen), want, "maxResults=%d" % size)
            self.assertEqual(len(seen), len(want), "maxResults=%d: %r" % (size, seen))
        self.assertEqual(len(list_images(self.cli, repo)), 3, "a preview must not expire anything")


class TestDryRunAll(LifecycleBase):
    def test_dry_run_every_repository(self):
        """--dry-run without --repository: every policy, nothing changes."""
        repo = "lc/dry"
        text = policy(rule(1, "tagged", 1, prefixes=["d-"]))
        self.cli.json("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
        before = list_images(self.cli, repo)
        rc, out, err = berth_cli("lifecycle", "run", "--dry-run")
        lines = run_lines(out + err)
        mine = {d: v for d, v in lines.items() if v[2] == repo}
        self.assertEqual(sorted(mine), sorted(self.img(repo, k).digest for k in ("d-1", "d-2")), out + err)
        self.assertTrue(all(v[0] == "would" for v in lines.values()), out)
        self.assertEqual(list_images(self.cli, repo), before)
        self.assertEqual(epoch(self.cli.json("get-lifecycle-policy", "--repository-name", repo)["lastEvaluatedAt"]),
                         0.0)
        for k in ("d-1", "d-2", "d-3"):
            self.assertPullable(self.img(repo, k))
        self.cli.json("delete-lifecycle-policy", "--repository-name", repo)


class TestReferrers(LifecycleBase):
    def test_referrers_expire_with_subject(self):
        cli, repo = self.cli, "lc/ref"
        img = lambda k: self.img(repo, k)  # noqa: E731
        self.assertEqual(len(list_images(cli, repo)), 5)
        text = policy(rule(1, "tagged", 1, prefixes=["old"]))
        cli.json("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
        cli.json("start-lifecycle-policy-preview", "--repository-name", repo)
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual([(r["imageDigest"], r["appliedRulePriority"]) for r in doc["previewResults"]],
                         [(img("old-1").digest, 1)], doc)
        r = SERVER.req("GET", "/v2/%s/referrers/%s" % (repo, img("old-1").digest))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([m["digest"] for m in r.json()["manifests"]], [img("sig-1").digest])

        berth_cli("lifecycle", "run", "--repository", repo)
        self.assertEqual(list_images(cli, repo), {img("old-2").digest: ["old-2"], img("sig-2").digest: []})
        for k in ("old-1", "sig-1", "sig-1b"):
            self.assertManifestGone(img(k))
            cli.error("ImageNotFoundException", "describe-images", "--repository-name", repo,
                      "--image-ids", "imageDigest=" + img(k).digest)
        for k in ("old-2", "sig-2"):
            self.assertPullable(img(k))
        r = SERVER.req("GET", "/v2/%s/referrers/%s" % (repo, img("old-2").digest))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([m["digest"] for m in r.json()["manifests"]], [img("sig-2").digest])
        r = SERVER.req("GET", "/v2/%s/referrers/%s" % (repo, img("old-1").digest))
        if r.status == 200:
            self.assertEqual(r.json()["manifests"], [], r.describe())
        else:
            self.assertEqual(r.status, 404, r.describe())


class TestArchive(LifecycleBase):
    repo = "lc/arch"

    def test_transition_rule_and_update_storage_class(self):
        cli, repo = self.cli, self.repo
        img = lambda k: self.img(repo, k)  # noqa: E731
        text = policy(rule(1, "tagged", 1, prefixes=["a-"], action="transition", target="archive"))
        cli.json("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
        doc = SERVER.ecr("StartLifecyclePolicyPreview", {"repositoryName": repo})
        self.assertEqual(doc["status"], "COMPLETE")
        doc = SERVER.ecr("GetLifecyclePolicyPreview", {"repositoryName": repo})
        got = {r["imageDigest"]: r for r in doc["previewResults"]}
        self.assertEqual(sorted(got), sorted(img(k).digest for k in ("a-1", "a-2")), doc)
        for r in got.values():
            self.assertEqual(r["action"], {"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}, r)
            self.assertEqual(r["storageClass"], "STANDARD", r)
            self.assertEqual(r["appliedRulePriority"], 1, r)
        self.assertEqual(doc["summary"]["expiringImageTotalCount"], 0, doc)
        self.assertEqual(doc["summary"].get("transitioningImageTotalCounts"),
                         [{"targetStorageClass": "ARCHIVE", "imageTotalCount": 2}], doc)
        # the same through the CLI (it parses what its model knows)
        doc = cli.json("get-lifecycle-policy-preview", "--repository-name", repo)
        self.assertEqual(sorted(r["imageDigest"] for r in doc["previewResults"]), sorted(got))
        self.assertEqual({r["action"]["type"] for r in doc["previewResults"]}, {"TRANSITION"})

        t0 = int(time.time())
        rc, out, err = berth_cli("lifecycle", "run", "--repository", repo)
        lines = run_lines(out + err)
        self.assertEqual({d: (v[1], v[4]) for d, v in lines.items()},
                         {img(k).digest: ("archive", 1) for k in ("a-1", "a-2")}, out + err)
        details = describe_images_full(repo)
        for k in ("a-1", "a-2"):
            d = details[img(k).digest]
            self.assertEqual(d.get("imageStatus"), "ARCHIVED", d)
            self.assertIn("lastArchivedAt", d, d)
            self.assertGreaterEqual(epoch(d["lastArchivedAt"]), t0 - 1)
            self.assertManifestGone(img(k))
        self.assertEqual(details[img("a-3").digest].get("imageStatus", "ACTIVE"), "ACTIVE")
        self.assertPullable(img("a-3"))
        doc = cli.json("batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=a-1")
        self.assertEqual(doc["images"], [], doc)
        self.assertEqual(len(doc["failures"]), 1, doc)
        # archived images are previewed as ARCHIVE and not transitioned twice
        doc = SERVER.ecr("StartLifecyclePolicyPreview", {"repositoryName": repo})
        doc = SERVER.ecr("GetLifecyclePolicyPreview", {"repositoryName": repo})
        self.assertEqual(doc["previewResults"], [], doc)

        # back to STANDARD: pullable again, same bytes
        doc = update_storage_class(repo, img("a-1").digest, "STANDARD")
        self.assertEqual(doc.get("imageStatus"), "ACTIVE", doc)
        self.assertPullable(img("a-1"))
        self.assertEqual(describe_images_full(repo)[img("a-1").digest].get("imageStatus", "ACTIVE"), "ACTIVE")
        self.assertManifestGone(img("a-2"))

        # UpdateImageStorageClass ARCHIVE on the newest, then back
        doc = update_storage_class(repo, img("a-3").digest, "ARCHIVE")
        self.assertEqual(doc.get("imageStatus"), "ARCHIVED", doc)
        self.assertEqual(describe_images_full(repo)[img("a-3").digest].get("imageStatus"), "ARCHIVED")
        self.assertManifestGone(img("a-3"))
        r = SERVER.req("HEAD", "/v2/%s/manifests/a-3" % repo, headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.status, 404, r.describe())
        update_storage_class(repo, img("a-3").digest, "STANDARD")
        self.assertPullable(img("a-3"))
        # an unknown image
        st, _, doc = SERVER.ecr_call("UpdateImageStorageClass", {
            "repositoryName": repo, "imageId": {"imageDigest": "sha256:" + "0" * 64},
            "targetStorageClass": "ARCHIVE"})
        self.assertEqual((st, doc.get("__type")), (400, "ImageNotFoundException"), doc)
        # the archived a-2 restored by digest via the CLI path too
        update_storage_class(repo, img("a-2").digest, "STANDARD")
        self.assertPullable(img("a-2"))


class TestScheduled(LifecycleBase):
    """The server applies policies by itself: at start, and every lifecycle.interval_seconds."""

    def test_at_start_and_on_schedule(self):
        srv = BerthServer("lifecycle-sched", auth="sigv4", v2_auth=True,
                          config={"lifecycle": {"interval_seconds": 3600}, "gc": {"interval_seconds": 0}})
        try:
            srv.start()
            for repo in ("sched/start", "sched/tick"):
                srv.create_repository(repo)
            imgs = push_in_order(srv, [(r, "%s-%d" % (p, i), ["%s-%d" % (p, i)], None)
                                       for i in (1, 2, 3) for r, p in (("sched/start", "x"), ("sched/tick", "y"))],
                                 registry={})
            digests = lambda keys, repo: {imgs[(repo, k)].digest: [k] for k in keys}  # noqa: E731
            cli = self.cli
            cli.json("put-lifecycle-policy", "--repository-name", "sched/start", "--lifecycle-policy-text",
                     policy(rule(1, "tagged", 1, prefixes=["x-"])), server=srv)
            time.sleep(2.5)
            self.assertEqual(list_images(cli, "sched/start", server=srv),
                             digests(("x-1", "x-2", "x-3"), "sched/start"),
                             "the hourly schedule ran again within seconds")
            # at start
            srv.restart()
            want = digests(("x-3",), "sched/start")
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and list_images(cli, "sched/start", server=srv) != want:
                time.sleep(0.5)
            self.assertEqual(list_images(cli, "sched/start", server=srv), want, "not applied at start")
            doc = cli.json("get-lifecycle-policy", "--repository-name", "sched/start", server=srv)
            self.assertIn("lastEvaluatedAt", doc)

            # every 2 s: a policy put after start applies without the command line
            srv.stop()
            srv.config = {"lifecycle": {"interval_seconds": 2}, "gc": {"interval_seconds": 0}}
            srv.start()
            time.sleep(0.5)
            t0 = time.time()
            cli.json("put-lifecycle-policy", "--repository-name", "sched/tick", "--lifecycle-policy-text",
                     policy(rule(1, "tagged", 2, prefixes=["y-"])), server=srv)
            want = digests(("y-2", "y-3"), "sched/tick")
            deadline = time.monotonic() + 10
            got = None
            while time.monotonic() < deadline:
                doc = srv.ecr("ListImages", {"repositoryName": "sched/tick"})
                got = sorted(i["imageDigest"] for i in doc["imageIds"])
                if got == sorted(want):
                    break
                time.sleep(0.25)
            self.assertEqual(got, sorted(want), "the scheduled run did not apply the policy within 10 s")
            self.assertEqual(list_images(cli, "sched/tick", server=srv), want)
            doc = cli.json("get-lifecycle-policy", "--repository-name", "sched/tick", server=srv)
            self.assertGreaterEqual(epoch(doc["lastEvaluatedAt"]), int(t0))
            r = srv.req("GET", "/v2/sched/tick/manifests/y-1")
            self.assertEqual(r.status, 404, r.describe())
        except Exception:
            srv.dump_log(tail=60)
            raise
        finally:
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
