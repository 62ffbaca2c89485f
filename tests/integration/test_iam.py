"""IAM users, access keys and policies, and what they allow: Berth's IAM/STS Query API (on the
registry's port) driven by the real `aws` CLIs and boto3, then every way of reaching the registry
as those users -- the ECR API (aws ecr, boto3, raw SigV4), skopeo, docker (a private dockerd) and
plain V2 HTTP -- with the exact answer asserted for each allowed and each refused request.

The acceptance scenario (TestAcceptance, in order): root creates `deploy` (pull only, on app*),
`ci` (push only, on app*; CreateRepository only on app/ci-*) and `third` (only
ecr:GetAuthorizationToken; pull on the repository `shared` through that repository's policy), each
with an access key; get-caller-identity for each; each user tries describe/get/put/delete/create
through aws ecr, skopeo and boto3; _catalog filtering; a mount without pull rights on `from`;
create-on-push; an immutable tag; denials that do not reveal whether a repository exists; nothing
without valid credentials; deactivated / deleted keys and users; PutImage's media type check and
GetLifecyclePolicy's lastEvaluatedAt. TestDocker: docker login/push/pull as ci and deploy.
TestIamApi: the IAM operations and their errors (EntityAlreadyExists, NoSuchEntity, DeleteConflict
order, LimitExceeded, MalformedPolicyDocument, pagination, AccessDenied, delegated iam:*).
TestPolicies: groups, explicit denies, repository and registry policies, condition keys and policy
variables, pull-time update exclusions.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_iam.py
(from tests/integration/; ~1-2 min, of which docker ~30 s).

aws-cli v1 (pip, 1.45: `aws` on PATH) reaches Berth through AWS_ENDPOINT_URL alone, which is part
of what is tested; aws-cli v2 (Debian's 2.9.19 at /usr/bin/aws) does not honour AWS_ENDPOINT_URL
and gets --endpoint-url. A missing CLI, skopeo or dockerd is skipped loudly (the work of a missing
CLI is then done by the other one, or by boto3). Everything is on loopback, every subprocess has a
timeout.

Environment:
  BERTH_AWS_CLI_V1 / BERTH_AWS_CLI_V2   command of each CLI (split on spaces), as in test_ecr_awscli.py
  BERTH_DOCKER_CLI, BERTH_DOCKERD       as in test_clients.py
  BERTH_KEEP_LOGS                       keep the server's and dockerd's directories
"""

import base64
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    one_file_rootfs, BerthServer, StoredBlobs, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, basic_auth_value, sha256,
    strip_origin, http_request, sigv4_sign, oci_image_manifest, berth_bin, metadata_env,
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
)
from private_dockerd import PrivateDockerd  # noqa: E402
from test_clients import Layout  # noqa: E402
from test_ecr_awscli import find_cli  # noqa: E402

try:
    import boto3
    import botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:       # handled in setUpModule
    boto3 = None

CMD_TIMEOUT = 120
ACCOUNT = "000000000000"
REGION = "us-east-1"
REPO_ARN = "arn:aws:ecr:%s:%s:repository/" % (REGION, ACCOUNT)
ROOT = (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
# a user of the configuration file (auth.users[]): may do everything, like root
OPS = {"name": "ops", "access_key_id": "AKIDBERTHIAMOPS00001",
       "secret_access_key": "opsIamSecret/0123456789abcdefghijklmnopqr"}
OPS_KEY = (OPS["access_key_id"], OPS["secret_access_key"])

SERVER = None
WORK = None
LAYOUT = None        # a small OCI layout (tag v1) skopeo pushes
WORLD = None         # see world()
_WORLD_ERROR = None


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def loud_note(what):
    sys.stderr.write("\n!!! %s\n" % what)


def setUpModule():
    global SERVER, WORK, LAYOUT
    if boto3 is None:
        loud_skip("boto3 not importable (pip install boto3, or Debian package python3-boto3)")
    for k in list(os.environ):          # no stray configuration, credentials or endpoints
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                      AWS_EC2_METADATA_DISABLED="true")
    warnings.filterwarnings("ignore", category=ResourceWarning, message="unclosed <socket")
    sys.stderr.write("\n  boto3 %s / botocore %s\n" % (boto3.__version__, botocore.__version__))
    WORK = tempfile.mkdtemp(prefix="berth-iam-")
    lay = Layout(os.path.join(WORK, "layout"))
    lay.add_image("amd64", [([("etc/berth-iam.txt", b"hello from the iam test\n")], True)], tag="v1")
    lay.finish()
    LAYOUT = lay.path
    # lifecycle never runs by itself: lastEvaluatedAt stays 0 until `berth lifecycle run`
    SERVER = BerthServer("iam", auth="sigv4", users=[OPS], v2_auth=True,
                         config={"lifecycle": {"interval_seconds": 0}})
    SERVER.start()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()
        SERVER.cleanup()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


# ------------------------------------------------------------------ helpers
def client(service, creds=ROOT, region=REGION):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.session.Session(aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
                                 region_name=region).client(service, endpoint_url=SERVER.base, config=cfg)


def call_error(fn, **kw):
    """(code, message, http status) of a boto3 call that must fail."""
    try:
        out = fn(**kw)
    except ClientError as e:
        return (e.response["Error"].get("Code"), e.response["Error"].get("Message"),
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError("%s(%r) succeeded: %r" % (getattr(fn, "__name__", fn), kw, out))


def user_arn(name):
    return "arn:aws:iam::%s:user/%s" % (ACCOUNT, name)


def not_allowed(user, action, resource):
    """The message of a request no policy allows (resource: a repository name, or an ARN / '*')."""
    if not (resource == "*" or resource.startswith("arn:")):
        resource = REPO_ARN + resource
    return ("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy "
            "allows the %s action" % (user_arn(user), action, resource, action))


def explicitly_denied(user, action, resource, where="an identity-based policy"):
    if not (resource == "*" or resource.startswith("arn:")):
        resource = REPO_ARN + resource
    return ("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in %s"
            % (user_arn(user), action, resource, where))


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resource, **extra):
    return dict({"Effect": "Allow", "Action": actions, "Resource": resource}, **extra)


LOGIN = allow("ecr:GetAuthorizationToken", "*")
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
        "ecr:BatchCheckLayerAvailability", "ecr:PutImage"]

DEPLOY_POLICY = policy(dict(LOGIN, Sid="Login"),
                       allow(PULL + ["ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages"],
                             REPO_ARN + "app*", Sid="PullApp"))
CI_POLICY = policy(dict(LOGIN, Sid="Login"),
                   allow(PUSH, REPO_ARN + "app*", Sid="PushApp"),
                   allow("ecr:CreateRepository", REPO_ARN + "app/ci-*", Sid="CreateOwn"))
THIRD_POLICY = policy(dict(LOGIN, Sid="Login"))
SHARED_REPO_POLICY = policy({"Sid": "ThirdPulls", "Effect": "Allow",
                             "Principal": {"AWS": user_arn("third")}, "Action": PULL})


def ecr_as(creds, op, payload=None):
    """Raw signed ECR call as `creds` -> (status, doc)."""
    st, _, doc = SERVER.ecr_call(op, payload or {}, access_key=creds[0], secret=creds[1])
    return st, doc


def token_of(creds):
    """A fresh login token (GetAuthorizationToken) of the key `creds`."""
    data = SERVER.authorization_data(creds[0], creds[1])
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password, data
    return password


def v2(method, path, token=None, body=None, headers=None, raw_auth=None):
    """A V2 request with the Basic login-token header of `token` (None: no credentials at all)."""
    h = dict(headers or {})
    if raw_auth is not None:
        h["Authorization"] = raw_auth
    elif token is not None:
        h["Authorization"] = basic_auth_value(token)
    return SERVER.req(method, path, body=body, headers=h, auth=False)


def upload_blob(token, repo, data):
    """POST + PUT ?digest=. Returns the first response that is not 202 / the final one."""
    r = v2("POST", "/v2/%s/blobs/uploads/" % repo, token)
    if r.status != 202:
        return r
    loc = strip_origin(r.headers["Location"])
    return v2("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(data), token, body=data,
              headers={"Content-Type": "application/octet-stream"})


def new_config():
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                       "salt": os.urandom(8).hex()}).encode()


def desc(data, media_type=OCI_LAYER):
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def image_parts(layer=None):
    cfg, layer = new_config(), layer if layer is not None else os.urandom(1500)
    raw = oci_image_manifest(desc(cfg, OCI_CONFIG), [desc(layer)])
    return cfg, layer, raw


def push_as(test, token, repo, tag):
    """Pushes a new small image as `token`, asserting every step. Returns (digest, raw, layer)."""
    cfg, layer, raw = image_parts()
    for b in (cfg, layer):
        r = upload_blob(token, repo, b)
        test.assertEqual(r.status, 201, r.describe())
    r = v2("PUT", "/v2/%s/manifests/%s" % (repo, tag), token, body=raw, headers={"Content-Type": OCI_MANIFEST})
    test.assertEqual(r.status, 201, r.describe())
    return sha256(raw), raw, layer


def v2_error(r):
    """(code, message) of a V2 error body."""
    errs = json.loads(r.body)["errors"]
    assert len(errs) == 1, r.describe()
    return errs[0]["code"], errs[0]["message"]


# --------------------------------------------------------------- the CLIs
class Cli:
    """One aws CLI; v1 finds Berth through AWS_ENDPOINT_URL, v2 through --endpoint-url."""

    def __init__(self, cmd, version):
        self.cmd, self.version = cmd, version
        self.major = int(version.split("/")[1].split(".")[0])
        self.dir = tempfile.mkdtemp(prefix="cli%d-" % self.major, dir=WORK)
        self.config = os.path.join(self.dir, "config")
        self.creds = os.path.join(self.dir, "credentials")
        for p in (self.config, self.creds):
            open(p, "w").close()

    def env(self, creds=ROOT):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=self.config, AWS_SHARED_CREDENTIALS_FILE=self.creds,
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
                   AWS_RETRY_MODE="standard", AWS_DEFAULT_REGION=REGION,
                   AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1])
        if self.major == 1:
            env["AWS_ENDPOINT_URL"] = SERVER.base
        return env

    def argv(self, service, args):
        cmd = list(self.cmd)
        if self.major != 1:
            cmd += ["--endpoint-url", SERVER.base]
        return cmd + [service] + list(args) + ["--output", "json", "--cli-connect-timeout", "10",
                                               "--cli-read-timeout", "60"]

    def file(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
        return p

    def run(self, service, *args, creds=ROOT, timeout=CMD_TIMEOUT):
        cmd = self.argv(service, args)
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                               env=self.env(creds))
        except subprocess.TimeoutExpired as e:
            raise AssertionError("timed out after %ss: %s\n%s" % (timeout, " ".join(cmd), e.stderr))
        who = "root" if creds == ROOT else creds[0]
        sys.stderr.write("  $ aws%d %s %s  [%s, %.1fs, rc=%d]\n" % (
            self.major, service, " ".join(args)[:120], who, time.monotonic() - t0, p.returncode))
        return p.returncode, p.stdout, p.stderr

    def ok(self, service, *args, **kw):
        rc, out, err = self.run(service, *args, **kw)
        if rc != 0:
            raise AssertionError("aws%d %s %s failed (rc=%d):\n%s%s" % (self.major, service, " ".join(args), rc,
                                                                        out, err))
        return json.loads(out) if out.strip() else {}

    def error(self, code, service, *args, **kw):
        """The call must fail with error `code`; returns the message."""
        rc, out, err = self.run(service, *args, **kw)
        m = re.search(r"An error occurred \((\w+)\) when calling the (\w+) operation"
                      r"(?: \(reached max retries: \d+\))?: (.*)", err)
        if rc == 0 or not m or m.group(1) != code:
            raise AssertionError("aws%d %s %s: expected %s, got rc=%d:\n%s%s" % (
                self.major, service, " ".join(args), code, rc, out[-1000:], err[-2000:]))
        return m.group(3).strip()


_CLIS = {}


def cli(major):
    """The Cli of aws-cli `major`, or None (noted loudly once)."""
    if major not in _CLIS:
        found = find_cli(major)
        _CLIS[major] = Cli(*found) if found else None
        if found:
            sys.stderr.write("\n  aws-cli v%d: %s (%s)\n" % (major, " ".join(found[0]), found[1]))
        else:
            loud_note("aws-cli v%d not found (%s): its part is done by the other CLI or boto3" % (
                major, "pip install awscli" if major == 1 else "Debian package awscli"))
    return _CLIS[major]


def any_cli():
    return cli(1) or cli(2)


# ----------------------------------------------------------------- the world
class World:
    """What root sets up once (the acceptance test's step 1), shared by the test classes:
    users (create-user output), keys {name: (id, secret)}, creators {name: "aws-cli v2"...},
    images {repo: (digest, raw, layer)} pushed by root as tag v1."""


def world():
    global WORLD
    if WORLD is not None:
        return WORLD
    global _WORLD_ERROR
    if _WORLD_ERROR is not None:        # do not retry a half-built world (EntityAlreadyExists galore)
        raise AssertionError("the shared setup failed earlier:\n" + _WORLD_ERROR)
    try:
        WORLD = _build_world()
    except BaseException:
        import traceback
        _WORLD_ERROR = traceback.format_exc()
        raise
    return WORLD


def _build_world():
    w = World()
    w.users, w.keys, w.key_docs, w.creators, w.images = {}, {}, {}, {}, {}
    plan = [("deploy", DEPLOY_POLICY, cli(2) or cli(1)), ("ci", CI_POLICY, cli(1) or cli(2)),
            ("third", THIRD_POLICY, None)]
    iam = client("iam")
    for name, doc, c in plan:
        if c is not None:
            w.users[name] = c.ok("iam", "create-user", "--user-name", name)["User"]
            path = c.file("%s-policy.json" % name, json.dumps(doc))
            out = c.ok("iam", "put-user-policy", "--user-name", name, "--policy-name", "registry",
                       "--policy-document", "file://" + path)
            assert out == {}, out
            key = c.ok("iam", "create-access-key", "--user-name", name)["AccessKey"]
            w.creators[name] = "aws-cli v%d" % c.major
        else:
            w.users[name] = iam.create_user(UserName=name)["User"]
            iam.put_user_policy(UserName=name, PolicyName="registry", PolicyDocument=json.dumps(doc))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            w.creators[name] = "boto3"
        w.keys[name] = (key["AccessKeyId"], key["SecretAccessKey"])
        w.key_docs[name] = key
    for repo, mutability in (("app", "MUTABLE"), ("app/immutable", "IMMUTABLE"), ("shared", "MUTABLE"),
                             ("secret", "MUTABLE")):
        SERVER.create_repository(repo, imageTagMutability=mutability)
    client("ecr").set_repository_policy(repositoryName="shared", policyText=json.dumps(SHARED_REPO_POLICY))
    for repo in ("app", "shared", "secret"):
        digest, raw, _ = SERVER.push_image(repo, "v1")
        w.images[repo] = (digest, raw, json.loads(raw)["layers"][0]["digest"])
    SERVER.enable_create_on_push()          # ROOT template: pushes may create repositories
    return w


class IamCase(unittest.TestCase):
    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and SERVER is not None:
            SERVER.dump_log(tail=40)
        return out

    def assertEcrDenied(self, st_doc, message):
        st, doc = st_doc
        self.assertEqual((st, doc.get("__type"), doc.get("message")), (400, "AccessDeniedException", message), doc)

    def assertV2Denied(self, r, message):
        self.assertEqual(r.status, 403, r.describe())
        self.assertEqual(json.loads(r.body), {"errors": [{"code": "DENIED", "message": message}]}, r.describe())

    def assertUnauthorized(self, r, auth=None):
        self.assertEqual(r.status, 401, "Authorization: %r\n%s" % (auth, r.describe()))
        if r.method != "HEAD":
            self.assertEqual(v2_error(r)[0], "UNAUTHORIZED", r.describe())


# ============================================================== acceptance
class TestAcceptance(IamCase):
    """The issue's acceptance scenario, in order (test_NN_)."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    # ---------------------------------------------------------------- 1
    def test_01_root_created_users_policies_and_keys_with_the_clis(self):
        w, iam = self.w, client("iam")
        listed = {u["UserName"]: u for u in iam.list_users()["Users"]}
        for name in ("deploy", "ci", "third"):
            u = w.users[name]
            self.assertEqual((u["UserName"], u["Arn"], u["Path"]), (name, user_arn(name), "/"), w.creators[name])
            self.assertRegex(u["UserId"], r"^AIDA[A-Z0-9]{17}$")
            self.assertEqual(listed[name]["UserId"], u["UserId"])
            self.assertEqual(iam.get_user(UserName=name)["User"]["Arn"], user_arn(name))
            ak, sk = w.keys[name]
            self.assertRegex(ak, r"^AKIA[A-Z0-9]{16}$")
            self.assertEqual(len(sk), 40)
            self.assertEqual(w.key_docs[name]["Status"], "Active")
            keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            self.assertEqual([(k["AccessKeyId"], k["Status"], k["UserName"]) for k in keys], [(ak, "Active", name)])
            self.assertNotIn("SecretAccessKey", keys[0], "the secret is shown once, at creation")
            self.assertEqual(iam.list_user_policies(UserName=name)["PolicyNames"], ["registry"])
        docs = {"deploy": DEPLOY_POLICY, "ci": CI_POLICY, "third": THIRD_POLICY}
        for c in filter(None, (cli(1), cli(2))):
            for name, doc in docs.items():
                got = c.ok("iam", "get-user-policy", "--user-name", name, "--policy-name", "registry")
                self.assertEqual((got["UserName"], got["PolicyName"], got["PolicyDocument"]), (name, "registry", doc))
            msg = c.error("EntityAlreadyExists", "iam", "create-user", "--user-name", "deploy")
            self.assertEqual(msg, "User with name deploy already exists.")
            msg = c.error("EntityAlreadyExists", "iam", "create-user", "--user-name", "CI")
            self.assertEqual(msg, "User with name CI already exists.")
        got = client("ecr").get_repository_policy(repositoryName="shared")
        self.assertEqual(json.loads(got["policyText"]), SHARED_REPO_POLICY)

    # ---------------------------------------------------------------- 2
    def test_02_get_caller_identity_for_each(self):
        w = self.w
        clis = [c for c in (cli(1), cli(2)) if c]
        if not clis:
            loud_skip("no aws cli: get-caller-identity through boto3 only")
        for c in clis:
            got = c.ok("sts", "get-caller-identity")
            self.assertEqual(got, {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": "arn:aws:iam::%s:root" % ACCOUNT})
            for name in ("deploy", "ci", "third"):
                got = c.ok("sts", "get-caller-identity", creds=w.keys[name])
                self.assertEqual(got, {"UserId": w.users[name]["UserId"], "Account": ACCOUNT, "Arn": user_arn(name)},
                                 "aws-cli v%d" % c.major)
            got = c.ok("sts", "get-caller-identity", creds=OPS_KEY)
            self.assertEqual((got["Arn"], got["Account"]), (user_arn("ops"), ACCOUNT))
        got = client("sts", w.keys["third"]).get_caller_identity()
        self.assertEqual((got["Arn"], got["UserId"], got["Account"]), (user_arn("third"), w.users["third"]["UserId"],
                                                                       ACCOUNT))

    # ---------------------------------------------------------------- 3
    def test_03_aws_ecr_each_user_tries_everything(self):
        w = self.w
        c1, c2 = cli(1), cli(2)
        if not (c1 or c2):
            loud_skip("no aws cli found")
        raw_file = (c1 or c2).file("manifest.json", w.images["app"][1])
        digest = w.images["app"][0]
        ecr = client("ecr")

        def app_images():
            return sorted((i.get("imageTag"), i["imageDigest"]) for i in ecr.list_images(repositoryName="app")["imageIds"])

        before = app_images()
        for name, c in (("deploy", c2 or c1), ("ci", c1 or c2), ("third", c1 or c2)):
            k = w.keys[name]

            def denied(action, repo, *args):
                msg = c.error("AccessDeniedException", "ecr", *args, creds=k)
                self.assertEqual(msg, not_allowed(name, action, repo), "%s: %s" % (name, args))

            # every user may log in
            rc, out, err = c.run("ecr", "get-login-password", creds=k)
            self.assertEqual(rc, 0, err)
            self.assertEqual(v2("GET", "/v2/", out.strip()).status, 200)
            # DescribeRepositories without names is asked on repository/*: nobody's policy names that
            denied("ecr:DescribeRepositories", REPO_ARN + "*", "describe-repositories")
            if name == "deploy":
                got = c.ok("ecr", "describe-repositories", "--repository-names", "app", creds=k)["repositories"]
                self.assertEqual([r["repositoryArn"] for r in got], [REPO_ARN + "app"])
                got = c.ok("ecr", "batch-get-image", "--repository-name", "app", "--image-ids", "imageTag=v1",
                           creds=k)
                self.assertEqual([(i["imageId"]["imageDigest"], i["imageManifest"]) for i in got["images"]],
                                 [(digest, w.images["app"][1].decode())])
                got = c.ok("ecr", "list-images", "--repository-name", "app", creds=k)["imageIds"]
                self.assertIn({"imageDigest": digest, "imageTag": "v1"}, got)
                denied("ecr:BatchGetImage", "secret", "batch-get-image", "--repository-name", "secret",
                       "--image-ids", "imageTag=v1")
            else:
                denied("ecr:DescribeRepositories", "app", "describe-repositories", "--repository-names", "app")
                denied("ecr:BatchGetImage", "app", "batch-get-image", "--repository-name", "app",
                       "--image-ids", "imageTag=v1")
            if name == "ci":
                got = c.ok("ecr", "put-image", "--repository-name", "app", "--image-tag", "ci-cli",
                           "--image-manifest", "file://" + raw_file, "--image-manifest-media-type", OCI_MANIFEST,
                           creds=k)["image"]
                self.assertEqual(got["imageId"], {"imageDigest": digest, "imageTag": "ci-cli"})
                got = c.ok("ecr", "create-repository", "--repository-name", "app/ci-cli", creds=k)["repository"]
                self.assertEqual(got["repositoryArn"], REPO_ARN + "app/ci-cli")
                denied("ecr:CreateRepository", "app-cli", "create-repository", "--repository-name", "app-cli")
                denied("ecr:PutImage", "secret", "put-image", "--repository-name", "secret", "--image-tag", "x",
                       "--image-manifest", "file://" + raw_file, "--image-manifest-media-type", OCI_MANIFEST)
            else:
                denied("ecr:PutImage", "app", "put-image", "--repository-name", "app", "--image-tag", "x",
                       "--image-manifest", "file://" + raw_file, "--image-manifest-media-type", OCI_MANIFEST)
                denied("ecr:CreateRepository", "app/ci-%s" % name, "create-repository", "--repository-name",
                       "app/ci-%s" % name)
            if name == "third":
                got = c.ok("ecr", "batch-get-image", "--repository-name", "shared", "--image-ids", "imageTag=v1",
                           creds=k)
                self.assertEqual([i["imageId"]["imageDigest"] for i in got["images"]], [w.images["shared"][0]])
                denied("ecr:ListImages", "shared", "list-images", "--repository-name", "shared")
            denied("ecr:BatchDeleteImage", "app", "batch-delete-image", "--repository-name", "app",
                   "--image-ids", "imageTag=v1")
        # nothing denied changed anything; ci's put-image added its tag
        self.assertEqual(app_images(), sorted(before + [("ci-cli", digest)]))
        names = {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
        self.assertIn("app/ci-cli", names)
        self.assertFalse({"app-cli", "app/ci-deploy", "app/ci-third"} & names, names)

    # ---------------------------------------------------------------- 3b
    def test_04_skopeo_push_and_pull_per_user(self):
        if not shutil.which("skopeo"):
            loud_skip("skopeo binary not found (Debian package skopeo)")
        w, hp = self.w, SERVER.hostport
        policy_file = os.path.join(WORK, "skopeo-policy.json")
        with open(policy_file, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)

        def skopeo(*args):
            cmd = ["skopeo", "--policy", policy_file] + list(args)
            t0 = time.monotonic()
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CMD_TIMEOUT)
            sys.stderr.write("  $ skopeo %s  [%.1fs, rc=%d]\n" % (args[0], time.monotonic() - t0, p.returncode))
            return p.returncode, p.stdout, p.stderr

        creds = {n: "AWS:" + token_of(w.keys[n]) for n in ("deploy", "ci", "third")}
        with open(os.path.join(LAYOUT, "index.json")) as f:
            want = json.load(f)["manifests"][0]["digest"]
        dest = "docker://%s/app:skopeo" % hp
        src = "oci:%s:v1" % LAYOUT
        # deploy may not push
        rc, out, err = skopeo("copy", "--preserve-digests", "--dest-creds", creds["deploy"],
                              "--dest-tls-verify=false", src, dest)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied: " + not_allowed("deploy", "ecr:InitiateLayerUpload", "app"), err)
        # ci may
        rc, out, err = skopeo("copy", "--preserve-digests", "--dest-creds", creds["ci"],
                              "--dest-tls-verify=false", src, dest)
        self.assertEqual(rc, 0, err)
        # ci may not pull
        back = os.path.join(WORK, "skopeo-back")
        rc, out, err = skopeo("copy", "--src-creds", creds["ci"], "--src-tls-verify=false", dest, "oci:%s:v1" % back)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied: " + not_allowed("ci", "ecr:BatchGetImage", "app"), err)
        # deploy may; the image is what ci pushed
        rc, out, err = skopeo("copy", "--src-creds", creds["deploy"], "--src-tls-verify=false", dest,
                              "oci:%s:v1" % back)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(back, "index.json")) as f:
            self.assertEqual(json.load(f)["manifests"][0]["digest"], want)
        rc, out, err = skopeo("inspect", "--creds", creds["deploy"], "--tls-verify=false", dest)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["Digest"], want)
        rc, out, err = skopeo("list-tags", "--creds", creds["deploy"], "--tls-verify=false",
                              "docker://%s/app" % hp)
        self.assertEqual(rc, 0, err)
        self.assertIn("skopeo", json.loads(out)["Tags"])
        # third: pull from shared (repository policy), nothing from app
        rc, out, err = skopeo("copy", "--src-creds", creds["third"], "--src-tls-verify=false",
                              "docker://%s/shared:v1" % hp, "oci:%s:shared" % back)
        self.assertEqual(rc, 0, err)
        rc, out, err = skopeo("inspect", "--creds", creds["third"], "--tls-verify=false", dest)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(not_allowed("third", "ecr:BatchGetImage", "app"), err)
        rc, out, err = skopeo("copy", "--preserve-digests", "--dest-creds", creds["third"],
                              "--dest-tls-verify=false", src, "docker://%s/shared:third" % hp)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied: " + not_allowed("third", "ecr:InitiateLayerUpload", "shared"), err)
        self.assertNotIn("third", [i.get("imageTag") for i in client("ecr").list_images(repositoryName="shared")
                                   ["imageIds"]])

    # ---------------------------------------------------------------- 3c
    def test_05_boto3_per_user(self):
        w = self.w
        deploy, ci, third = (client("ecr", w.keys[n]) for n in ("deploy", "ci", "third"))
        app_digest, app_raw, app_layer = w.images["app"]
        got = deploy.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}],
                                     acceptedMediaTypes=[OCI_MANIFEST])
        self.assertEqual([i["imageManifest"] for i in got["images"]], [app_raw.decode()])
        self.assertEqual(got["failures"], [])
        url = deploy.get_download_url_for_layer(repositoryName="app", layerDigest=app_layer)["downloadUrl"]
        self.assertTrue(url.startswith(SERVER.base), url)
        det = deploy.describe_images(repositoryName="app", imageIds=[{"imageTag": "v1"}])["imageDetails"]
        self.assertEqual([d["imageDigest"] for d in det], [app_digest])
        got = deploy.batch_check_layer_availability(repositoryName="app", layerDigests=[app_layer])["layers"]
        self.assertEqual([l["layerAvailability"] for l in got], ["AVAILABLE"])
        # a repository deploy may describe but which does not exist: the real answer
        code, msg, _ = call_error(deploy.describe_repositories, repositoryNames=["app-missing"])
        self.assertEqual(code, "RepositoryNotFoundException", msg)
        clients = {"deploy": deploy, "ci": ci, "third": third}
        manifest = dict(imageManifest=app_raw.decode(), imageManifestMediaType=OCI_MANIFEST)
        for who, op, kw, action, repo in (
                ("deploy", "put_image", dict(manifest, repositoryName="app", imageTag="x"), "ecr:PutImage", "app"),
                ("deploy", "initiate_layer_upload", dict(repositoryName="app"), "ecr:InitiateLayerUpload", "app"),
                ("deploy", "batch_delete_image", dict(repositoryName="app", imageIds=[{"imageTag": "v1"}]),
                 "ecr:BatchDeleteImage", "app"),
                ("deploy", "delete_repository", dict(repositoryName="app", force=True), "ecr:DeleteRepository", "app"),
                ("deploy", "get_repository_policy", dict(repositoryName="app"), "ecr:GetRepositoryPolicy", "app"),
                ("deploy", "set_repository_policy",
                 dict(repositoryName="app", policyText=json.dumps(SHARED_REPO_POLICY)),
                 "ecr:SetRepositoryPolicy", "app"),
                ("ci", "batch_get_image", dict(repositoryName="app", imageIds=[{"imageTag": "v1"}]),
                 "ecr:BatchGetImage", "app"),
                ("ci", "get_download_url_for_layer", dict(repositoryName="app", layerDigest=app_layer),
                 "ecr:GetDownloadUrlForLayer", "app"),
                ("ci", "describe_images", dict(repositoryName="app"), "ecr:DescribeImages", "app"),
                ("ci", "list_images", dict(repositoryName="app"), "ecr:ListImages", "app"),
                ("ci", "initiate_layer_upload", dict(repositoryName="secret"), "ecr:InitiateLayerUpload", "secret"),
                ("third", "batch_get_image", dict(repositoryName="app", imageIds=[{"imageTag": "v1"}]),
                 "ecr:BatchGetImage", "app"),
                ("third", "put_image", dict(manifest, repositoryName="shared", imageTag="x"), "ecr:PutImage", "shared"),
                ("third", "describe_images", dict(repositoryName="shared"), "ecr:DescribeImages", "shared"),
                ("third", "describe_registry", {}, "ecr:DescribeRegistry", "*")):
            got = call_error(getattr(clients[who], op), **kw)
            self.assertEqual(got, ("AccessDeniedException", not_allowed(who, action, repo), 400), "%s %s" % (who, op))
        # ci's layer upload API works
        up = ci.initiate_layer_upload(repositoryName="app")
        data = os.urandom(3000)
        ci.upload_layer_part(repositoryName="app", uploadId=up["uploadId"], partFirstByte=0,
                             partLastByte=len(data) - 1, layerPartBlob=data)
        done = ci.complete_layer_upload(repositoryName="app", uploadId=up["uploadId"], layerDigests=[sha256(data)])
        self.assertEqual(done["layerDigest"], sha256(data))
        got = third.batch_get_image(repositoryName="shared", imageIds=[{"imageTag": "v1"}])
        self.assertEqual([i["imageId"]["imageDigest"] for i in got["images"]], [w.images["shared"][0]])
        self.assertEqual(third.get_authorization_token()["authorizationData"][0]["proxyEndpoint"], SERVER.base)

    def test_05b_boto3_finds_berth_through_aws_endpoint_url(self):
        major, minor = (int(x) for x in botocore.__version__.split(".")[:2])
        if (major, minor) < (1, 31):
            loud_skip("botocore %s predates AWS_ENDPOINT_URL (1.31)" % botocore.__version__)
        w = self.w
        os.environ["AWS_ENDPOINT_URL"] = SERVER.base
        try:
            sess = boto3.session.Session(aws_access_key_id=w.keys["deploy"][0],
                                         aws_secret_access_key=w.keys["deploy"][1], region_name=REGION)
            cfg = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
            self.assertEqual(sess.client("sts", config=cfg).get_caller_identity()["Arn"], user_arn("deploy"))
            code, msg, _ = call_error(sess.client("iam", config=cfg).list_users)
            self.assertEqual((code, msg), ("AccessDenied", not_allowed("deploy", "iam:ListUsers",
                                                                       "arn:aws:iam::%s:user/*" % ACCOUNT)))
            got = sess.client("ecr", config=cfg).describe_repositories(repositoryNames=["app"])["repositories"]
            self.assertEqual([r["repositoryName"] for r in got], ["app"])
        finally:
            del os.environ["AWS_ENDPOINT_URL"]

    # ---------------------------------------------------------------- 4
    def test_06_catalog_lists_only_what_the_caller_may_describe(self):
        w = self.w
        SERVER.create_repository("zzz-not-app")
        everything = json.loads(SERVER.req("GET", "/v2/_catalog?n=1000").body)["repositories"]
        self.assertTrue({"app", "app/immutable", "shared", "secret", "zzz-not-app"} <= set(everything), everything)
        deploy = token_of(w.keys["deploy"])
        r = v2("GET", "/v2/_catalog", deploy)
        self.assertEqual(r.status, 200, r.describe())
        got = json.loads(r.body)["repositories"]
        self.assertEqual(got, [n for n in everything if n.startswith("app")])
        self.assertIn("app", got)
        # pages of the filtered list: n=1 walks the same names, one per page
        seen, path = [], "/v2/_catalog?n=1"
        for _ in range(len(everything) + 2):
            r = v2("GET", path, deploy)
            self.assertEqual(r.status, 200, r.describe())
            page = json.loads(r.body)["repositories"]
            self.assertLessEqual(len(page), 1)
            seen += page
            link = r.headers.get("Link")
            if not link:
                break
            path = re.match(r"<([^>]+)>", link).group(1)
        self.assertEqual(seen, got)
        # ci and third may describe nothing
        for name in ("ci", "third"):
            r = v2("GET", "/v2/_catalog", token_of(w.keys[name]))
            self.assertEqual((r.status, json.loads(r.body)), (200, {"repositories": []}), name)

    # ---------------------------------------------------------------- 5
    def test_07_mount_without_pull_on_from_is_a_plain_upload(self):
        w = self.w
        secret_layer = w.images["secret"][2]
        SERVER.create_repository("app/mount")
        ci = token_of(w.keys["ci"])
        for frm in ("secret", "app"):            # ci may pull from neither
            r = v2("POST", "/v2/app/mount/blobs/uploads/?mount=%s&from=%s" % (secret_layer if frm == "secret"
                                                                              else w.images["app"][2], frm), ci)
            self.assertEqual(r.status, 202, r.describe())
            self.assertRegex(r.headers["Location"], r"^/v2/app/mount/blobs/uploads/[0-9a-f-]{36}$")
            self.assertEqual(v2("DELETE", strip_origin(r.headers["Location"]), ci).status, 204)
        r = v2("HEAD", "/v2/app/mount/blobs/%s" % secret_layer, ci)      # BatchCheckLayerAvailability
        self.assertEqual(r.status, 404, "the blob was mounted after all: " + r.describe())
        # deploy may not even upload; third neither
        self.assertV2Denied(v2("POST", "/v2/app/mount/blobs/uploads/?mount=%s&from=app" % w.images["app"][2],
                               token_of(w.keys["deploy"])),
                            not_allowed("deploy", "ecr:InitiateLayerUpload", "app/mount"))
        # a user with pull on `from` and push on the target mounts (201), as root does
        iam = client("iam")
        iam.create_user(UserName="mover")
        iam.put_user_policy(UserName="mover", PolicyName="p", PolicyDocument=json.dumps(policy(
            LOGIN, allow(PULL, REPO_ARN + "secret"), allow(PUSH, REPO_ARN + "app/mount"))))
        k = iam.create_access_key(UserName="mover")["AccessKey"]
        mover = token_of((k["AccessKeyId"], k["SecretAccessKey"]))
        r = v2("POST", "/v2/app/mount/blobs/uploads/?mount=%s&from=secret" % secret_layer, mover)
        self.assertEqual(r.status, 201, r.describe())
        self.assertEqual(r.headers.get("Docker-Content-Digest"), secret_layer)
        self.assertEqual(v2("HEAD", "/v2/app/mount/blobs/%s" % secret_layer, ci).status, 200)

    # ---------------------------------------------------------------- (create on push)
    def test_08_create_on_push_needs_create_repository(self):
        w = self.w
        ci = token_of(w.keys["ci"])
        # push rights on app* but CreateRepository only on app/ci-*
        r = v2("POST", "/v2/app-new/blobs/uploads/", ci)
        self.assertV2Denied(r, not_allowed("ci", "ecr:CreateRepository", "app-new"))
        doc = SERVER.ecr_call("DescribeRepositories", {"repositoryNames": ["app-new"]})[2]
        self.assertEqual(doc.get("__type"), "RepositoryNotFoundException", doc)
        digest, raw, _ = push_as(self, ci, "app/ci-auto", "v1")
        repo = SERVER.ecr("DescribeRepositories", {"repositoryNames": ["app/ci-auto"]})["repositories"][0]
        self.assertEqual(repo["repositoryArn"], REPO_ARN + "app/ci-auto")
        r = SERVER.req("GET", "/v2/app/ci-auto/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, raw), r.describe())
        # deploy, who may not push at all: refused for the push, not for the creation
        r = v2("POST", "/v2/app/ci-deploy/blobs/uploads/", token_of(w.keys["deploy"]))
        self.assertV2Denied(r, not_allowed("deploy", "ecr:InitiateLayerUpload", "app/ci-deploy"))

    # ---------------------------------------------------------------- 6
    def test_09_immutable_tag_is_not_masked_by_authorization(self):
        w = self.w
        ci = token_of(w.keys["ci"])
        d1, raw1, _ = push_as(self, ci, "app/immutable", "v1")
        cfg, layer, raw2 = image_parts()
        for b in (cfg, layer):
            self.assertEqual(upload_blob(ci, "app/immutable", b).status, 201)
        r = v2("PUT", "/v2/app/immutable/manifests/v1", ci, body=raw2, headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(r.status, 400, r.describe())
        self.assertEqual(v2_error(r), ("TAG_INVALID", "The image tag 'v1' already exists in the 'app/immutable' "
                                       "repository and cannot be overwritten because the tag is immutable."))
        st, doc = ecr_as(w.keys["ci"], "PutImage", {"repositoryName": "app/immutable", "imageTag": "v1",
                                                     "imageManifest": raw2.decode(),
                                                     "imageManifestMediaType": OCI_MANIFEST})
        self.assertEqual((st, doc.get("__type")), (400, "ImageTagAlreadyExistsException"), doc)
        # the same manifest again under the same tag is fine
        r = v2("PUT", "/v2/app/immutable/manifests/v1", ci, body=raw1, headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(r.status, 201, r.describe())
        # deploy, who may not push: denied first (authorization comes before the tag check)
        r = v2("PUT", "/v2/app/immutable/manifests/v1", token_of(w.keys["deploy"]), body=raw2,
               headers={"Content-Type": OCI_MANIFEST})
        self.assertV2Denied(r, not_allowed("deploy", "ecr:PutImage", "app/immutable"))
        r = SERVER.req("GET", "/v2/app/immutable/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, sha256(r.body)), (200, d1))

    # ---------------------------------------------------------------- 9
    def test_10_denials_do_not_reveal_whether_a_repository_exists(self):
        w = self.w
        deploy = token_of(w.keys["deploy"])
        layer = w.images["secret"][2]

        def same(a, b, what):
            self.assertEqual(a.status, 403, a.describe())
            self.assertEqual((a.status, a.body.replace(b"secret", b"NAME"), a.headers.get("Content-Type")),
                             (b.status, b.body.replace(b"nosuchrepo", b"NAME"), b.headers.get("Content-Type")), what)

        for method, tail in (("GET", "tags/list"), ("GET", "manifests/v1"), ("HEAD", "manifests/v1"),
                             ("GET", "blobs/" + layer), ("HEAD", "blobs/" + layer), ("POST", "blobs/uploads/"),
                             ("PUT", "manifests/v2"), ("DELETE", "manifests/v1"), ("GET", "referrers/" + layer)):
            a = v2(method, "/v2/secret/" + tail, deploy)
            b = v2(method, "/v2/nosuchrepo/" + tail, deploy)
            same(a, b, "%s %s" % (method, tail))
        self.assertV2Denied(v2("GET", "/v2/secret/tags/list", deploy),
                            not_allowed("deploy", "ecr:ListImages", "secret"))
        for op, payload in (("DescribeImages", {}), ("ListImages", {}), ("DescribeRepositories", None),
                            ("BatchGetImage", {"imageIds": [{"imageTag": "v1"}]}), ("GetRepositoryPolicy", {}),
                            ("GetLifecyclePolicy", {}), ("InitiateLayerUpload", {})):
            docs = []
            for repo in ("secret", "nosuchrepo"):
                p = {"repositoryNames": [repo]} if payload is None else dict(payload, repositoryName=repo)
                st, doc = ecr_as(w.keys["deploy"], op, p)
                docs.append((st, doc.get("__type"), doc.get("message", "").replace(repo, "NAME")))
            self.assertEqual(docs[0], docs[1], op)
            self.assertEqual(docs[0][:2], (400, "AccessDeniedException"), op)
        # for a repository the caller may read, a missing one is reported as missing
        r = v2("GET", "/v2/app-missing/tags/list", deploy)
        self.assertEqual((r.status, v2_error(r)[0]), (404, "NAME_UNKNOWN"), r.describe())

    # ---------------------------------------------------------------- 8
    def snapshot(self):
        cat = json.loads(SERVER.req("GET", "/v2/_catalog?n=1000").body)["repositories"]
        tags = {r: SERVER.req("GET", "/v2/%s/tags/list" % r).body for r in cat}
        users = sorted(u["UserName"] for u in client("iam").list_users()["Users"])
        keys = {u: sorted(k["AccessKeyId"] + k["Status"] for k in client("iam").list_access_keys(UserName=u)
                          ["AccessKeyMetadata"]) for u in users}
        man = SERVER.req("GET", "/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).body
        return {"catalog": cat, "tags": tags, "users": users, "keys": keys, "manifest": man,
                "blobs": sorted(StoredBlobs(SERVER.data_dir).digests()),
                "policy": client("ecr").get_repository_policy(repositoryName="shared")["policyText"]}

    def test_11_nothing_without_valid_credentials(self):
        w = self.w
        before = self.snapshot()
        digest, raw, layer = w.images["app"]
        cfg, evil_layer, evil_raw = image_parts(b"evil bytes")
        good = token_of(w.keys["deploy"])
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        auths = [None, "Basic " + base64.b64encode(b"AWS:garbage").decode(), basic_auth_value(forged),
                 "Basic " + base64.b64encode(("%s:%s" % w.keys["ci"]).encode()).decode(),     # key:secret (off)
                 "Basic " + base64.b64encode(("AWS:" + ROOT_SECRET_ACCESS_KEY).encode()).decode(),
                 "Bearer " + forged, "Bearer", "Basic", "Basic !!!not-base64!!!", "Digest x=1"]
        up = SERVER.req("POST", "/v2/app/blobs/uploads/")            # root's session the others poke at
        self.assertEqual(up.status, 202)
        loc = strip_origin(up.headers["Location"])
        requests = [("GET", "/v2/", None), ("GET", "/v2/_catalog", None), ("GET", "/v2/app/tags/list", None),
                    ("GET", "/v2/app/manifests/v1", None), ("HEAD", "/v2/app/manifests/v1", None),
                    ("GET", "/v2/app/manifests/" + digest, None), ("GET", "/v2/app/blobs/" + layer, None),
                    ("HEAD", "/v2/app/blobs/" + layer, None), ("GET", "/v2/app/referrers/" + digest, None),
                    ("PUT", "/v2/app/manifests/evil", evil_raw), ("PUT", "/v2/app/manifests/v1", evil_raw),
                    ("DELETE", "/v2/app/manifests/" + digest, None), ("DELETE", "/v2/app/blobs/" + layer, None),
                    ("POST", "/v2/app/blobs/uploads/", None),
                    ("POST", "/v2/app/blobs/uploads/?digest=" + sha256(evil_layer), evil_layer),
                    ("POST", "/v2/app/blobs/uploads/?mount=%s&from=secret" % w.images["secret"][2], None),
                    ("POST", "/v2/brand-new/blobs/uploads/", None),
                    ("PATCH", loc, b"evil bytes"), ("GET", loc, None),
                    ("PUT", loc + "?digest=" + sha256(b"evil bytes"), b"evil bytes"), ("DELETE", loc, None)]
        for auth in auths:
            for method, path, body in requests:
                h = {"Content-Type": OCI_MANIFEST if "manifests" in path else "application/octet-stream"}
                r = v2(method, path, body=body, headers=h, raw_auth=auth) if auth is not None else \
                    v2(method, path, body=body, headers=h)
                self.assertUnauthorized(r, auth)
                if auth is None and method == "GET" and path == "/v2/":
                    self.assertEqual(r.headers.get("WWW-Authenticate"),
                                     'Basic realm="%s/",service="ecr.amazonaws.com"' % SERVER.base)
        # the ECR JSON API: unsigned, Basic instead of SigV4, a wrong secret, an unknown key
        payloads = [("DescribeRepositories", {}), ("CreateRepository", {"repositoryName": "evil"}),
                    ("BatchGetImage", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}),
                    ("PutImage", {"repositoryName": "app", "imageTag": "evil", "imageManifest": evil_raw.decode()}),
                    ("BatchDeleteImage", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}),
                    ("DeleteRepository", {"repositoryName": "secret", "force": True}),
                    ("SetRepositoryPolicy", {"repositoryName": "shared", "policyText": "{}"}),
                    ("GetAuthorizationToken", {})]
        for op, p in payloads:
            st, _, doc = SERVER.ecr_call(op, p, sign=False)
            self.assertEqual((st, doc.get("__type")), (400, "MissingAuthenticationTokenException"), op)
            st, _, doc = SERVER.ecr_call(op, p, sign=False, headers={"Authorization": basic_auth_value(good)})
            self.assertEqual(st, 400, doc)
            self.assertIn(doc.get("__type"), ("MissingAuthenticationTokenException", "IncompleteSignatureException"))
            st, _, doc = SERVER.ecr_call(op, p, secret=ROOT_SECRET_ACCESS_KEY[:-1] + "x")
            self.assertEqual((st, doc.get("__type")), (400, "InvalidSignatureException"), op)
            st, _, doc = SERVER.ecr_call(op, p, access_key="AKIANOSUCHKEY0000000", secret="x" * 40)
            self.assertEqual((st, doc.get("__type")), (400, "UnrecognizedClientException"), op)
        # the IAM / STS Query API
        forms = ["Action=CreateUser&UserName=evil&Version=2010-05-08",
                 "Action=CreateAccessKey&UserName=deploy&Version=2010-05-08",
                 "Action=PutUserPolicy&UserName=deploy&PolicyName=evil&PolicyDocument=%7B%7D&Version=2010-05-08",
                 "Action=DeleteUser&UserName=third&Version=2010-05-08",
                 "Action=ListUsers&Version=2010-05-08", "Action=GetCallerIdentity&Version=2011-06-15"]
        for form in forms:
            body = form.encode()
            service = "sts" if "GetCallerIdentity" in form else "iam"
            base_h = {"Host": SERVER.hostport, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
            st, _, data = http_request("127.0.0.1", SERVER.port, "POST", "/", body, dict(base_h))
            self.assertEqual(st, 403, data)
            self.assertIn(b"<Code>MissingAuthenticationToken</Code>", data)
            h = dict(base_h, Authorization=basic_auth_value(good))
            st, _, data = http_request("127.0.0.1", SERVER.port, "POST", "/", body, h)
            self.assertIn(st, (400, 403), data)
            self.assertRegex(data.decode(), r"<Code>(MissingAuthenticationToken|IncompleteSignature|"
                                            r"InvalidClientTokenId)</Code>")
            for ak, sk, code in ((ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY[:-1] + "x", "SignatureDoesNotMatch"),
                                 ("AKIANOSUCHKEY0000000", "x" * 40, "InvalidClientTokenId")):
                h = sigv4_sign("POST", "/", dict(base_h), body, ak, sk, REGION, service=service)
                st, _, data = http_request("127.0.0.1", SERVER.port, "POST", "/", body, h)
                self.assertEqual(st, 403, data)
                self.assertIn(("<Code>%s</Code>" % code).encode(), data)
        # ... and nothing changed
        self.assertEqual(self.snapshot(), before)
        self.assertFalse(StoredBlobs(SERVER.data_dir).exists(sha256(evil_layer)))
        # root's upload session took none of the anonymous bytes
        r = SERVER.req("PUT", loc + "?digest=" + sha256(b"good bytes"), body=b"good bytes",
                       headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.describe())

    # ---------------------------------------------------------------- 7
    def test_12_deactivated_and_deleted_keys_and_users(self):
        iam = client("iam")
        iam.create_user(UserName="leaver")
        iam.put_user_policy(UserName="leaver", PolicyName="pull", PolicyDocument=json.dumps(DEPLOY_POLICY))
        k = iam.create_access_key(UserName="leaver")["AccessKey"]
        key = (k["AccessKeyId"], k["SecretAccessKey"])
        tok = token_of(key)
        path = "/v2/app/manifests/v1"
        self.assertEqual(v2("GET", path, tok, headers={"Accept": OCI_MANIFEST}).status, 200)

        def refused_everywhere(t, key):
            for method, p in (("GET", path), ("HEAD", path), ("GET", "/v2/"), ("GET", "/v2/_catalog"),
                              ("GET", "/v2/app/tags/list")):
                r = v2(method, p, t)
                self.assertUnauthorized(r)
            st, doc = ecr_as(key, "DescribeRepositories", {"repositoryNames": ["app"]})
            self.assertEqual((st, doc.get("__type"), doc.get("message")),
                             (400, "UnrecognizedClientException", "The security token included in the request is "
                                                                  "invalid."))
            for svc, fn in (("sts", lambda c: c.get_caller_identity()), ("iam", lambda c: c.get_user())):
                code, msg, status = call_error(lambda: fn(client(svc, key)))
                self.assertEqual((code, msg, status), ("InvalidClientTokenId", "The security token included in "
                                                                               "the request is invalid.", 403), svc)

        iam.update_access_key(UserName="leaver", AccessKeyId=key[0], Status="Inactive")
        refused_everywhere(tok, key)       # the very next request
        self.assertEqual([x["Status"] for x in iam.list_access_keys(UserName="leaver")["AccessKeyMetadata"]],
                         ["Inactive"])
        c = any_cli()
        if c:
            msg = c.error("InvalidClientTokenId", "sts", "get-caller-identity", creds=key)
            self.assertEqual(msg, "The security token included in the request is invalid.")
            c.error("UnrecognizedClientException", "ecr", "get-login-password", creds=key)
        iam.update_access_key(UserName="leaver", AccessKeyId=key[0], Status="Active")
        self.assertEqual(v2("GET", path, tok, headers={"Accept": OCI_MANIFEST}).status, 200)
        self.assertEqual(client("sts", key).get_caller_identity()["Arn"], user_arn("leaver"))
        # deleting the key
        iam.delete_access_key(UserName="leaver", AccessKeyId=key[0])
        refused_everywhere(tok, key)
        # a second key, then the user goes: keys, policies, then the user
        k2 = iam.create_access_key(UserName="leaver")["AccessKey"]
        key2 = (k2["AccessKeyId"], k2["SecretAccessKey"])
        tok2 = token_of(key2)
        self.assertEqual(v2("GET", path, tok2, headers={"Accept": OCI_MANIFEST}).status, 200)
        self.assertEqual(call_error(iam.delete_user, UserName="leaver")[0], "DeleteConflict")
        self.assertEqual(v2("GET", path, tok2, headers={"Accept": OCI_MANIFEST}).status, 200)
        iam.delete_access_key(UserName="leaver", AccessKeyId=key2[0])
        iam.delete_user_policy(UserName="leaver", PolicyName="pull")
        iam.delete_user(UserName="leaver")
        refused_everywhere(tok2, key2)
        if c:
            c.error("UnrecognizedClientException", "ecr", "describe-repositories", creds=key2)
        # a new user of the same name does not revive the old tokens
        iam.create_user(UserName="leaver")
        iam.put_user_policy(UserName="leaver", PolicyName="pull", PolicyDocument=json.dumps(DEPLOY_POLICY))
        self.assertUnauthorized(v2("GET", path, tok2))
        self.assertUnauthorized(v2("GET", path, tok))

    # ---------------------------------------------------------------- 11
    def test_13_put_image_media_type_and_lifecycle_last_evaluated_at(self):
        w = self.w
        bare = json.dumps({"schemaVersion": 2,       # no top-level mediaType; blobs that do not exist
                           "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "0" * 64, "size": 10},
                           "layers": [{"mediaType": OCI_LAYER, "digest": "sha256:" + "1" * 64, "size": 20}]})
        want = ("Invalid parameter at 'imageManifest' failed to satisfy constraint: 'image manifest mediatype not "
                "provided in manifest or parameter'")
        for key in (ROOT, w.keys["ci"]):
            st, doc = ecr_as(key, "PutImage", {"repositoryName": "app", "imageTag": "bare", "imageManifest": bare})
            self.assertEqual((st, doc.get("__type"), doc.get("message")), (400, "InvalidParameterException", want))
            st, doc = ecr_as(key, "PutImage", {"repositoryName": "app", "imageTag": "bare", "imageManifest": bare,
                                               "imageManifestMediaType": OCI_MANIFEST})
            self.assertEqual((st, doc.get("__type")), (400, "LayersNotFoundException"), doc)
        # deploy may not PutImage at all: that is what it hears, not the media type
        self.assertEcrDenied(ecr_as(w.keys["deploy"], "PutImage", {"repositoryName": "app", "imageTag": "bare",
                                                                    "imageManifest": bare}),
                             not_allowed("deploy", "ecr:PutImage", "app"))
        c = any_cli()
        if c:
            f = c.file("bare.json", bare)
            msg = c.error("InvalidParameterException", "ecr", "put-image", "--repository-name", "app",
                          "--image-tag", "bare", "--image-manifest", "file://" + f)
            self.assertEqual(msg, want)
        rules = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                             "countUnit": "days", "countNumber": 30},
                            "action": {"type": "expire"}}]}
        SERVER.ecr("PutLifecyclePolicy", {"repositoryName": "app", "lifecyclePolicyText": json.dumps(rules)})
        doc = SERVER.ecr("GetLifecyclePolicy", {"repositoryName": "app"})
        self.assertIn("lastEvaluatedAt", doc)
        self.assertEqual(doc["lastEvaluatedAt"], 0)
        got = client("ecr").get_lifecycle_policy(repositoryName="app")
        self.assertEqual(got["lastEvaluatedAt"], datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc))
        if c:
            out = c.ok("ecr", "get-lifecycle-policy", "--repository-name", "app")
            self.assertIn(out["lastEvaluatedAt"], (0, 0.0, "1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z"))
        self.assertEcrDenied(ecr_as(w.keys["deploy"], "GetLifecyclePolicy", {"repositoryName": "app"}),
                             not_allowed("deploy", "ecr:GetLifecyclePolicy", "app"))


# ================================================================== docker
class TestDocker(IamCase):
    """docker login -u AWS --password-stdin (aws ecr get-login-password with each user's key),
    docker push as ci, docker pull as deploy, the refusals docker shows, revoked keys."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()
        cls.dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not cls.dockerd or not os.path.exists(cls.dockerd):
            loud_skip("dockerd not found (Debian package docker.io)")
        cls.docker_cli = os.environ.get("BERTH_DOCKER_CLI") or \
            ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker"))
        if not cls.docker_cli:
            loud_skip("docker client not found")
        cls.dir = tempfile.mkdtemp(prefix="berth-iam-dockerd-", dir="/tmp")
        cls.daemon = PrivateDockerd(cls.dockerd, cls.dir, insecure_registry=SERVER.hostport)
        try:
            cls.daemon.start()
        except AssertionError:
            subprocess.run(["rm", "-rf", cls.dir], timeout=120)
            raise
        cls.env = cls.daemon.env

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.stop()
        if getattr(cls, "dir", None) and not os.environ.get("BERTH_KEEP_LOGS"):
            subprocess.run(["rm", "-rf", cls.dir], timeout=120)

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

    def login(self, name, c):
        """aws ecr get-login-password (with `name`'s key) | docker login -u AWS --password-stdin."""
        aws = subprocess.Popen(c.argv("ecr", ["get-login-password"]), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=c.env(self.w.keys[name]))
        try:
            rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", SERVER.hostport,
                                       stdin=aws.stdout, check=False)
            aws.stdout.close()
            aws_err = aws.stderr.read().decode()
            self.assertEqual(aws.wait(timeout=60), 0, aws_err)
        finally:
            if aws.poll() is None:
                aws.kill()
                aws.wait()
            aws.stderr.close()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Login Succeeded", out)

    def import_image(self, ref):
        self.docker("import", one_file_rootfs(self.dir, "iam"), ref)

    def image_id(self, ref):
        return self.docker("image", "inspect", "--format", "{{.Id}}", ref)[1].strip()

    def test_push_as_ci_pull_as_deploy(self):
        c_ci, c_deploy = cli(1) or cli(2), cli(2) or cli(1)
        if not c_ci:
            loud_skip("no aws cli: get-login-password | docker login not tested")
        hp = SERVER.hostport
        ref = "%s/app:docker" % hp
        self.import_image(ref)
        want_id = self.image_id(ref)
        self.login("ci", c_ci)
        rc, out, err = self.docker("push", ref)
        m = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
        self.assertTrue(m, out)
        got = SERVER.ecr("DescribeImages", {"repositoryName": "app", "imageIds": [{"imageTag": "docker"}]})
        self.assertEqual(got["imageDetails"][0]["imageDigest"], m.group(1))
        # ci may not pull, not even what it pushed
        self.docker("rmi", ref)
        rc, out, err = self.docker("pull", ref, check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied", out + err)
        self.assertIn(not_allowed("ci", "ecr:BatchGetImage", "app"), out + err)
        # create-on-push through docker: ci may create app/ci-*, not app-docker
        ref_new = "%s/app/ci-docker:v1" % hp
        self.import_image(ref_new)
        self.docker("push", ref_new)
        self.assertEqual(SERVER.ecr("DescribeRepositories", {"repositoryNames": ["app/ci-docker"]})
                         ["repositories"][0]["repositoryName"], "app/ci-docker")
        ref_bad = "%s/app-docker:v1" % hp
        self.docker("tag", ref_new, ref_bad)
        rc, out, err = self.docker("push", ref_bad, check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied", out + err)
        self.assertIn(not_allowed("ci", "ecr:CreateRepository", "app-docker"), out + err)
        # deploy: pushing is refused, pulling works
        self.login("deploy", c_deploy)
        self.docker("tag", ref_new, "%s/app:docker-by-deploy" % hp)
        rc, out, err = self.docker("push", "%s/app:docker-by-deploy" % hp, check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied: User: %s is not authorized to perform: ecr:" % user_arn("deploy"), out + err)
        self.assertNotIn("docker-by-deploy", [i.get("imageTag") for i in SERVER.ecr(
            "ListImages", {"repositoryName": "app"})["imageIds"]])
        self.docker("pull", ref)
        self.assertEqual(self.image_id(ref), want_id)
        rc, out, err = self.docker("pull", "%s/secret:v1" % hp, check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("denied", out + err)
        self.assertIn(not_allowed("deploy", "ecr:BatchGetImage", "secret"), out + err)

    def test_revoked_key_stops_docker(self):
        iam = client("iam")
        iam.create_user(UserName="docker-leaver")
        iam.put_user_policy(UserName="docker-leaver", PolicyName="pull", PolicyDocument=json.dumps(DEPLOY_POLICY))
        k = iam.create_access_key(UserName="docker-leaver")["AccessKey"]
        tok = token_of((k["AccessKeyId"], k["SecretAccessKey"]))

        def login(expect_ok):
            rc, out, err = self.docker("login", "--username", "AWS", "--password-stdin", SERVER.hostport,
                                       input_data=tok + "\n", check=False)
            if expect_ok:
                self.assertEqual(rc, 0, out + err)
                self.assertIn("Login Succeeded", out)
            else:
                self.assertNotEqual(rc, 0, out)
                self.assertRegex((out + err).lower(), r"401|unauthorized")

        login(True)
        iam.update_access_key(UserName="docker-leaver", AccessKeyId=k["AccessKeyId"], Status="Inactive")
        login(False)
        iam.update_access_key(UserName="docker-leaver", AccessKeyId=k["AccessKeyId"], Status="Active")
        login(True)
        iam.delete_access_key(UserName="docker-leaver", AccessKeyId=k["AccessKeyId"])
        iam.delete_user_policy(UserName="docker-leaver", PolicyName="pull")
        iam.delete_user(UserName="docker-leaver")
        login(False)


# ================================================================= IAM API
class TestIamApi(IamCase):
    """The IAM operations, their errors and who may call them."""

    @classmethod
    def setUpClass(cls):
        cls.iam = client("iam")

    def new_user(self, name, doc=None):
        self.iam.create_user(UserName=name)
        if doc is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(doc))
        k = self.iam.create_access_key(UserName=name)["AccessKey"]
        return k["AccessKeyId"], k["SecretAccessKey"]

    def test_entity_errors(self):
        iam = self.iam
        iam.create_user(UserName="err-Dup")
        for name in ("err-Dup", "err-dup", "ERR-DUP"):
            self.assertEqual(call_error(iam.create_user, UserName=name),
                             ("EntityAlreadyExists", "User with name %s already exists." % name, 409))
        self.assertEqual(iam.get_user(UserName="err-Dup")["User"]["UserName"], "err-Dup")
        # root and the configured users' names are taken: an IAM user may not share their ARN
        for name in ("root", "ops", "OPS"):
            self.assertEqual(call_error(iam.create_user, UserName=name),
                             ("EntityAlreadyExists", "User with name %s already exists." % name, 409))
        for fn, kw, msg in (
                (iam.get_user, dict(UserName="err-none"), "The user with name err-none cannot be found."),
                (iam.delete_user, dict(UserName="err-none"), "The user with name err-none cannot be found."),
                (iam.create_access_key, dict(UserName="err-none"), "The user with name err-none cannot be found."),
                (iam.get_user_policy, dict(UserName="err-Dup", PolicyName="nope"),
                 "The user policy with name nope cannot be found."),
                (iam.delete_access_key, dict(UserName="err-Dup", AccessKeyId="AKIA0000000000000000"),
                 "The Access Key with id AKIA0000000000000000 cannot be found."),
                (iam.get_group, dict(GroupName="err-none"), "The group with name err-none cannot be found."),
                (iam.add_user_to_group, dict(GroupName="err-none", UserName="err-Dup"),
                 "The group with name err-none cannot be found.")):
            self.assertEqual(call_error(fn, **kw), ("NoSuchEntity", msg, 404), fn.__name__)
        iam.create_group(GroupName="err-grp")
        self.assertEqual(call_error(iam.create_group, GroupName="ERR-GRP")[0], "EntityAlreadyExists")
        code, msg, st = call_error(iam.create_user, UserName="bad name!")
        self.assertEqual((code, st), ("ValidationError", 400), msg)

    def test_delete_conflict_order_and_key_quota(self):
        iam = self.iam
        iam.create_user(UserName="err-busy")
        k1 = iam.create_access_key(UserName="err-busy")["AccessKey"]["AccessKeyId"]
        k2 = iam.create_access_key(UserName="err-busy")["AccessKey"]["AccessKeyId"]
        self.assertEqual(call_error(iam.create_access_key, UserName="err-busy"),
                         ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409))
        self.assertEqual(len(iam.list_access_keys(UserName="err-busy")["AccessKeyMetadata"]), 2)
        iam.update_access_key(UserName="err-busy", AccessKeyId=k1, Status="Inactive")
        self.assertEqual(call_error(iam.create_access_key, UserName="err-busy")[0], "LimitExceeded",
                         "an inactive key still counts")
        got = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="err-busy")["AccessKeyMetadata"]}
        self.assertEqual(got, {k1: "Inactive", k2: "Active"})
        iam.put_user_policy(UserName="err-busy", PolicyName="p", PolicyDocument=json.dumps(policy(LOGIN)))
        iam.create_group(GroupName="err-busy-group")
        iam.add_user_to_group(GroupName="err-busy-group", UserName="err-busy")
        conflict = "Cannot delete entity, must %s first."
        self.assertEqual(call_error(iam.delete_user, UserName="err-busy"),
                         ("DeleteConflict", conflict % "delete access keys", 409))
        iam.delete_access_key(UserName="err-busy", AccessKeyId=k1)
        self.assertEqual(call_error(iam.delete_user, UserName="err-busy")[1], conflict % "delete access keys")
        k3 = iam.create_access_key(UserName="err-busy")["AccessKey"]["AccessKeyId"]   # room again
        for k in (k2, k3):
            iam.delete_access_key(UserName="err-busy", AccessKeyId=k)
        self.assertEqual(call_error(iam.delete_user, UserName="err-busy"),
                         ("DeleteConflict", conflict % "delete policies", 409))
        iam.delete_user_policy(UserName="err-busy", PolicyName="p")
        self.assertEqual(call_error(iam.delete_user, UserName="err-busy"),
                         ("DeleteConflict", conflict % "remove users from group", 409))
        iam.remove_user_from_group(GroupName="err-busy-group", UserName="err-busy")
        iam.delete_user(UserName="err-busy")
        self.assertEqual(call_error(iam.get_user, UserName="err-busy")[0], "NoSuchEntity")
        iam.delete_group(GroupName="err-busy-group")
        self.assertEqual(call_error(iam.get_group, GroupName="err-busy-group")[0], "NoSuchEntity")

    def test_malformed_policy_documents(self):
        iam = self.iam
        iam.create_user(UserName="err-policy")
        iam.create_group(GroupName="err-policy-group")
        for doc in ("not json", "{", "[]", json.dumps({"Statement": []}),
                    json.dumps(policy({"Effect": "Maybe", "Action": "ecr:*", "Resource": "*"})),
                    json.dumps(policy({"Effect": "Allow", "Resource": "*"})),
                    json.dumps({"Version": "2012-10-17", "Statement": "nope"})):
            self.assertEqual(call_error(iam.put_user_policy, UserName="err-policy", PolicyName="bad",
                                        PolicyDocument=doc)[0], "MalformedPolicyDocument", doc)
            self.assertEqual(call_error(iam.put_group_policy, GroupName="err-policy-group", PolicyName="bad",
                                        PolicyDocument=doc)[0], "MalformedPolicyDocument", doc)
        self.assertEqual(call_error(iam.put_user_policy, UserName="err-policy", PolicyName="bad",
                                    PolicyDocument="not json"),
                         ("MalformedPolicyDocument", "Syntax errors in policy.", 400))
        self.assertEqual(iam.list_user_policies(UserName="err-policy")["PolicyNames"], [])
        self.assertEqual(iam.list_group_policies(GroupName="err-policy-group")["PolicyNames"], [])

    def test_list_users_pagination(self):
        iam = self.iam
        for i in range(4):
            iam.create_user(UserName="page-%d" % i)
        everyone = [u["UserName"] for u in iam.list_users()["Users"]]
        self.assertTrue({"page-0", "page-3"} <= set(everyone))
        seen, marker = [], None
        for _ in range(len(everyone) + 1):
            kw = {"MaxItems": 1}
            if marker:
                kw["Marker"] = marker
            page = iam.list_users(**kw)
            self.assertEqual(len(page["Users"]), 1, page)
            seen += [u["UserName"] for u in page["Users"]]
            self.assertEqual("Marker" in page, page["IsTruncated"], page)
            if not page["IsTruncated"]:
                break
            marker = page["Marker"]
        self.assertEqual(seen, everyone)
        pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
        self.assertEqual([u["UserName"] for p in pages for u in p["Users"]], everyone)
        self.assertEqual(len(pages), (len(everyone) + 1) // 2)
        if any_cli():
            got = any_cli().ok("iam", "list-users", "--page-size", "2")
            self.assertEqual([u["UserName"] for u in got["Users"]], everyone)

    def test_users_without_iam_rights_are_refused(self):
        iam = self.iam
        key = self.new_user("err-nobody", policy(LOGIN, allow("ecr:*", "*")))
        me = client("iam", key)
        users_arn = "arn:aws:iam::%s:user/" % ACCOUNT
        for fn, kw, action, res in ((me.list_users, {}, "iam:ListUsers", users_arn + "*"),
                                    (me.create_user, dict(UserName="err-evil"), "iam:CreateUser",
                                     users_arn + "err-evil"),
                                    (me.get_user, {}, "iam:GetUser", users_arn + "err-nobody"),
                                    (me.list_access_keys, {}, "iam:ListAccessKeys", users_arn + "err-nobody"),
                                    (me.create_access_key, dict(UserName="deploy"), "iam:CreateAccessKey",
                                     users_arn + "deploy"),
                                    (me.put_user_policy, dict(UserName="err-nobody", PolicyName="x",
                                                              PolicyDocument=json.dumps(policy(allow("iam:*", "*")))),
                                     "iam:PutUserPolicy", users_arn + "err-nobody"),
                                    (me.delete_user, dict(UserName="ci"), "iam:DeleteUser", users_arn + "ci")):
            self.assertEqual(call_error(fn, **kw), ("AccessDenied", not_allowed("err-nobody", action, res), 403),
                             fn.__name__)
        self.assertEqual(call_error(iam.get_user, UserName="err-evil")[0], "NoSuchEntity")
        self.assertEqual(iam.list_user_policies(UserName="err-nobody")["PolicyNames"], ["p"])
        # ecr:* is not iam:*; STS needs no permission
        self.assertEqual(client("sts", key).get_caller_identity()["Arn"], user_arn("err-nobody"))
        c = any_cli()
        if c:
            msg = c.error("AccessDenied", "iam", "list-users", creds=key)
            self.assertEqual(msg, not_allowed("err-nobody", "iam:ListUsers", users_arn + "*"))

    def test_delegated_iam_rights(self):
        admin = client("iam", self.new_user("err-admin", policy(allow("iam:*", "*"))))
        admin.create_user(UserName="err-made-by-admin")
        admin.put_user_policy(UserName="err-made-by-admin", PolicyName="login",
                              PolicyDocument=json.dumps(policy(LOGIN)))
        k = admin.create_access_key(UserName="err-made-by-admin")["AccessKey"]
        made = (k["AccessKeyId"], k["SecretAccessKey"])
        self.assertEqual(client("sts", made).get_caller_identity()["Arn"], user_arn("err-made-by-admin"))
        self.assertEqual(v2("GET", "/v2/", token_of(made)).status, 200)
        self.assertIn("err-made-by-admin", [u["UserName"] for u in admin.list_users()["Users"]])
        self.assertEqual(admin.get_user()["User"]["Arn"], user_arn("err-admin"))
        # self service only: ${aws:username}
        selfserv_key = self.new_user("err-self", policy(allow(["iam:CreateAccessKey", "iam:ListAccessKeys",
                                                               "iam:DeleteAccessKey", "iam:GetUser"],
                                                              "arn:aws:iam::%s:user/${aws:username}" % ACCOUNT)))
        me = client("iam", selfserv_key)
        self.assertEqual(me.get_user()["User"]["UserName"], "err-self")
        mine = me.list_access_keys()["AccessKeyMetadata"]
        self.assertEqual([x["AccessKeyId"] for x in mine], [selfserv_key[0]])
        new = me.create_access_key()["AccessKey"]
        self.assertEqual(new["UserName"], "err-self")
        self.assertEqual(client("sts", (new["AccessKeyId"], new["SecretAccessKey"])).get_caller_identity()["Arn"],
                         user_arn("err-self"))
        me.delete_access_key(AccessKeyId=new["AccessKeyId"])
        self.assertEqual(call_error(me.list_access_keys, UserName="err-admin"),
                         ("AccessDenied", not_allowed("err-self", "iam:ListAccessKeys",
                                                      "arn:aws:iam::%s:user/err-admin" % ACCOUNT), 403))
        # a configuration user (auth.users[]) may do everything, like root
        ops = client("iam", OPS_KEY)
        ops.create_user(UserName="err-made-by-ops")
        self.assertIn("err-made-by-ops", [u["UserName"] for u in ops.list_users()["Users"]])
        ops.delete_user(UserName="err-made-by-ops")
        self.assertEqual(client("sts", OPS_KEY).get_caller_identity()["Arn"], user_arn("ops"))
        SERVER.ecr("DescribeRepositories", {}, access_key=OPS_KEY[0], secret=OPS_KEY[1])
        # root and configuration users keep their keys in the configuration: they must name a user
        for who in (client("iam"), ops):
            for fn in (who.list_access_keys, who.create_access_key):
                self.assertEqual(call_error(fn), ("ValidationError", "Berth keeps the root and configured users' "
                                                  "keys in its configuration: name a user (UserName)", 400))

    def test_groups_and_group_policies(self):
        iam = self.iam
        iam.create_user(UserName="err-member")
        g = iam.create_group(GroupName="err-team")["Group"]
        self.assertEqual((g["GroupName"], g["Arn"], g["Path"]), ("err-team", "arn:aws:iam::%s:group/err-team" % ACCOUNT,
                                                                 "/"))
        self.assertRegex(g["GroupId"], r"^AGPA[A-Z0-9]{17}$")
        iam.add_user_to_group(GroupName="err-team", UserName="err-member")
        got = iam.get_group(GroupName="err-team")
        self.assertEqual([u["UserName"] for u in got["Users"]], ["err-member"])
        self.assertEqual([x["GroupName"] for x in iam.list_groups_for_user(UserName="err-member")["Groups"]],
                         ["err-team"])
        doc = policy(allow("ecr:DescribeRepositories", "*"))
        iam.put_group_policy(GroupName="err-team", PolicyName="read", PolicyDocument=json.dumps(doc))
        self.assertEqual(iam.list_group_policies(GroupName="err-team")["PolicyNames"], ["read"])
        got = iam.get_group_policy(GroupName="err-team", PolicyName="read")
        self.assertEqual((got["GroupName"], got["PolicyName"], got["PolicyDocument"]), ("err-team", "read", doc))
        self.assertEqual(call_error(iam.get_group_policy, GroupName="err-team", PolicyName="nope")[0], "NoSuchEntity")
        iam.delete_group_policy(GroupName="err-team", PolicyName="read")
        self.assertEqual(iam.list_group_policies(GroupName="err-team")["PolicyNames"], [])
        self.assertEqual(call_error(iam.delete_group_policy, GroupName="err-team", PolicyName="read")[0],
                         "NoSuchEntity")
        iam.remove_user_from_group(GroupName="err-team", UserName="err-member")
        self.assertEqual(iam.list_groups_for_user(UserName="err-member")["Groups"], [])
        self.assertEqual(iam.get_group(GroupName="err-team")["Users"], [])
        iam.delete_group(GroupName="err-team")
        iam.delete_user(UserName="err-member")


    def test_group_listings_honour_max_items(self):
        # GetGroup and ListGroupsForUser page with MaxItems/Marker like the other IAM listings.
        iam = self.iam
        for g in ("err-pg1", "err-pg2", "err-pg3"):
            iam.create_group(GroupName=g)
        for u in ("err-pu1", "err-pu2", "err-pu3"):
            iam.create_user(UserName=u)
            for g in ("err-pg1", "err-pg2", "err-pg3"):
                iam.add_user_to_group(GroupName=g, UserName=u)
        for i in range(3):
            iam.put_group_policy(GroupName="err-pg1", PolicyName="p%d" % i, PolicyDocument=json.dumps(policy(LOGIN)))

        def walk(fn, key, **kw):
            page, sizes = fn(MaxItems=1, **kw), []
            sizes.append(len(page[key]))
            while page["IsTruncated"] and len(sizes) < 10:
                page = fn(MaxItems=1, Marker=page["Marker"], **kw)
                sizes.append(len(page[key]))
            return sizes

        self.assertEqual(walk(iam.list_group_policies, "PolicyNames", GroupName="err-pg1"), [1, 1, 1])
        for what, sizes in (("GetGroup", walk(iam.get_group, "Users", GroupName="err-pg1")),
                            ("ListGroupsForUser", walk(iam.list_groups_for_user, "Groups", UserName="err-pu1"))):
            with self.subTest(operation=what):
                self.assertEqual(sizes, [1, 1, 1], "%s MaxItems=1: page sizes" % what)

    def test_zz_identities_survive_a_restart_and_secrets_stay_sealed(self):
        """Last in this class: restarts the module's server (same port and data directory)."""
        iam = self.iam
        key = self.new_user("err-restart", policy(LOGIN, allow(PULL, REPO_ARN + "app")))
        world()
        tok = token_of(key)
        # the secret is nowhere in the data directory nor in the log
        for root, _, files in os.walk(SERVER.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    self.assertNotIn(key[1].encode(), fh.read(), "secret in clear in " + os.path.join(root, f))
        self.assertNotIn(key[1], SERVER.log_text())
        sealing = os.path.join(SERVER.data_dir, "access-key-encryption.key")
        self.assertTrue(os.path.exists(sealing), os.listdir(SERVER.data_dir))
        self.assertEqual(os.stat(sealing).st_mode & 0o777, 0o600)
        SERVER.restart()
        self.assertEqual(v2("GET", "/v2/app/manifests/v1", tok, headers={"Accept": OCI_MANIFEST}).status, 200)
        self.assertV2Denied(v2("GET", "/v2/secret/manifests/v1", tok),
                            not_allowed("err-restart", "ecr:BatchGetImage", "secret"))
        self.assertEqual(client("sts", key).get_caller_identity()["Arn"], user_arn("err-restart"))
        iam = client("iam")
        self.assertEqual(iam.list_user_policies(UserName="err-restart")["PolicyNames"], ["p"])
        self.assertEqual([k["AccessKeyId"] for k in iam.list_access_keys(UserName="err-restart")["AccessKeyMetadata"]],
                         [key[0]])
        self.assertEqual(call_error(iam.create_user, UserName="ERR-RESTART")[0], "EntityAlreadyExists")


# =============================================================== policies
class TestPolicies(IamCase):
    """How identity, group, repository and registry policies combine; conditions; exclusions."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()
        cls.iam = client("iam")
        cls.ecr = client("ecr")

    def new_user(self, name, doc=None):
        self.iam.create_user(UserName=name)
        if doc is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(doc))
        k = self.iam.create_access_key(UserName=name)["AccessKey"]
        return k["AccessKeyId"], k["SecretAccessKey"]

    def test_group_policies_grant_and_membership_revokes_at_once(self):
        key = self.new_user("pol-member", policy(LOGIN))
        self.iam.create_group(GroupName="pol-pullers")
        self.iam.put_group_policy(GroupName="pol-pullers", PolicyName="pull",
                                  PolicyDocument=json.dumps(policy(allow(PULL + ["ecr:ListImages"], REPO_ARN + "app"))))
        tok = token_of(key)
        path = "/v2/app/manifests/v1"
        self.assertV2Denied(v2("GET", path, tok), not_allowed("pol-member", "ecr:BatchGetImage", "app"))
        self.iam.add_user_to_group(GroupName="pol-pullers", UserName="pol-member")
        self.assertEqual(v2("GET", path, tok, headers={"Accept": OCI_MANIFEST}).status, 200)
        st, doc = ecr_as(key, "ListImages", {"repositoryName": "app"})
        self.assertEqual(st, 200, doc)
        self.iam.remove_user_from_group(GroupName="pol-pullers", UserName="pol-member")
        self.assertV2Denied(v2("GET", path, tok), not_allowed("pol-member", "ecr:BatchGetImage", "app"))
        self.iam.add_user_to_group(GroupName="pol-pullers", UserName="pol-member")
        self.assertEqual(v2("GET", path, tok, headers={"Accept": OCI_MANIFEST}).status, 200)
        self.iam.delete_group_policy(GroupName="pol-pullers", PolicyName="pull")
        self.assertEcrDenied(ecr_as(key, "ListImages", {"repositoryName": "app"}),
                             not_allowed("pol-member", "ecr:ListImages", "app"))

    def test_explicit_denies(self):
        key = self.new_user("pol-denied", policy(LOGIN, allow(["ecr:Describe*", "ecr:ListImages"] + PULL, "*"),
                                                 {"Effect": "Deny", "Action": "ecr:DescribeImages",
                                                  "Resource": REPO_ARN + "app"}))
        self.assertEcrDenied(ecr_as(key, "DescribeImages", {"repositoryName": "app"}),
                             explicitly_denied("pol-denied", "ecr:DescribeImages", "app"))
        self.assertEqual(ecr_as(key, "DescribeImages", {"repositoryName": "shared"})[0], 200)
        # a deny in a group policy
        self.iam.create_group(GroupName="pol-deny-group")
        self.iam.put_group_policy(GroupName="pol-deny-group", PolicyName="d", PolicyDocument=json.dumps(policy(
            {"Effect": "Deny", "Action": "ecr:BatchGetImage", "Resource": REPO_ARN + "shared"})))
        self.iam.add_user_to_group(GroupName="pol-deny-group", UserName="pol-denied")
        self.assertV2Denied(v2("GET", "/v2/shared/manifests/v1", token_of(key)),
                            explicitly_denied("pol-denied", "ecr:BatchGetImage", "shared"))
        # a deny in a repository policy
        SERVER.create_repository("pol/deny")
        self.ecr.set_repository_policy(repositoryName="pol/deny", policyText=json.dumps(policy(
            {"Sid": "NoList", "Effect": "Deny", "Principal": {"AWS": user_arn("pol-denied")},
             "Action": "ecr:ListImages"})))
        self.assertEcrDenied(ecr_as(key, "ListImages", {"repositoryName": "pol/deny"}),
                             explicitly_denied("pol-denied", "ecr:ListImages", "pol/deny", "a resource-based policy"))
        self.assertV2Denied(v2("GET", "/v2/pol/deny/tags/list", token_of(key)),
                            explicitly_denied("pol-denied", "ecr:ListImages", "pol/deny", "a resource-based policy"))
        self.assertEqual(ecr_as(key, "DescribeImages", {"repositoryName": "pol/deny"})[0], 200)
        # an identity-based deny beats a repository policy's allow
        both = self.new_user("pol-both", policy(LOGIN, {"Effect": "Deny", "Action": "ecr:BatchGetImage",
                                                        "Resource": "*"}))
        self.ecr.set_repository_policy(repositoryName="pol/deny", policyText=json.dumps(policy(
            {"Sid": "NoList", "Effect": "Deny", "Principal": {"AWS": user_arn("pol-denied")},
             "Action": "ecr:ListImages"},
            {"Sid": "BothPull", "Effect": "Allow", "Principal": {"AWS": user_arn("pol-both")},
             "Action": ["ecr:BatchGetImage", "ecr:ListImages"]})))
        self.assertEqual(ecr_as(both, "ListImages", {"repositoryName": "pol/deny"})[0], 200)
        self.assertEcrDenied(ecr_as(both, "BatchGetImage", {"repositoryName": "pol/deny",
                                                             "imageIds": [{"imageTag": "v1"}]}),
                             explicitly_denied("pol-both", "ecr:BatchGetImage", "pol/deny"))

    def test_repository_policy_validation_and_crud(self):
        SERVER.create_repository("pol/validate")
        ecr = self.ecr
        invalid = "Invalid parameter at 'PolicyText' failed to satisfy constraint: '%s'"
        for doc, why in (
                (policy({"Effect": "Allow", "Action": "ecr:BatchGetImage"}), "Invalid repository policy provided"),
                (policy({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"}),
                 "Invalid repository policy provided"),
                (policy({"Effect": "Allow", "Principal": {"AWS": user_arn("nobody-here")},
                         "Action": "ecr:BatchGetImage"}), "Principal not found")):
            self.assertEqual(call_error(ecr.set_repository_policy, repositoryName="pol/validate",
                                        policyText=json.dumps(doc)),
                             ("InvalidParameterException", invalid % why, 400), doc)
        self.assertEqual(call_error(ecr.get_repository_policy, repositoryName="pol/validate"),
                         ("RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository "
                          "with name 'pol/validate' in the registry with id '%s'" % ACCOUNT, 400))
        doc = policy({"Sid": "all", "Effect": "Allow", "Principal": {"AWS": user_arn("third")},
                      "Action": "ecr:ListImages"})
        got = ecr.set_repository_policy(repositoryName="pol/validate", policyText=json.dumps(doc))
        self.assertEqual((got["repositoryName"], json.loads(got["policyText"])), ("pol/validate", doc))
        st, d = ecr_as(self.w.keys["third"], "ListImages", {"repositoryName": "pol/validate"})
        self.assertEqual((st, d.get("imageIds")), (200, []), d)
        got = ecr.delete_repository_policy(repositoryName="pol/validate")
        self.assertEqual(json.loads(got["policyText"]), doc)
        self.assertEqual(call_error(ecr.delete_repository_policy, repositoryName="pol/validate")[0],
                         "RepositoryPolicyNotFoundException")
        self.assertEcrDenied(ecr_as(self.w.keys["third"], "ListImages", {"repositoryName": "pol/validate"}),
                             not_allowed("third", "ecr:ListImages", "pol/validate"))
        # the lock-out check: a policy that would stop the caller setting the next one needs force
        setter = self.new_user("pol-setter", policy(allow(["ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy"],
                                                          REPO_ARN + "pol/validate")))
        lock = policy({"Effect": "Deny", "Principal": {"AWS": user_arn("pol-setter")},
                       "Action": "ecr:SetRepositoryPolicy"})
        st, doc = ecr_as(setter, "SetRepositoryPolicy", {"repositoryName": "pol/validate",
                                                         "policyText": json.dumps(lock)})
        self.assertEqual((st, doc.get("__type"), doc.get("message")),
                         (400, "InvalidParameterException", invalid % "The repository policy would prevent you from "
                          "setting another policy in the future; set force to apply it"))
        self.assertEqual(call_error(ecr.get_repository_policy, repositoryName="pol/validate")[0],
                         "RepositoryPolicyNotFoundException")
        st, doc = ecr_as(setter, "SetRepositoryPolicy", {"repositoryName": "pol/validate", "force": True,
                                                         "policyText": json.dumps(lock)})
        self.assertEqual(st, 200, doc)
        self.assertEcrDenied(ecr_as(setter, "SetRepositoryPolicy", {"repositoryName": "pol/validate", "force": True,
                                                                    "policyText": json.dumps(doc)}),
                             explicitly_denied("pol-setter", "ecr:SetRepositoryPolicy", "pol/validate",
                                               "a resource-based policy"))
        ecr.delete_repository_policy(repositoryName="pol/validate")

    def test_registry_policy(self):
        ecr = self.ecr
        self.assertEqual(call_error(ecr.get_registry_policy),
                         ("RegistryPolicyNotFoundException",
                          "Registry policy does not exist in the registry with id '%s'" % ACCOUNT, 400))
        doc = policy({"Sid": "ThirdCreates", "Effect": "Allow", "Principal": {"AWS": user_arn("third")},
                      "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                      "Resource": REPO_ARN + "third-*"})
        got = ecr.put_registry_policy(policyText=json.dumps(doc))
        self.addCleanup(lambda: SERVER.ecr_call("DeleteRegistryPolicy", {}))
        self.assertEqual((got["registryId"], json.loads(got["policyText"])), (ACCOUNT, doc))
        self.assertEqual(json.loads(ecr.get_registry_policy()["policyText"]), doc)
        # no Principal: not a registry policy
        self.assertEqual(call_error(ecr.put_registry_policy, policyText=json.dumps(policy(allow("ecr:*", "*")))),
                         ("InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy "
                          "constraint: 'Invalid registry policy provided'", 400))
        third = self.w.keys["third"]
        st, d = ecr_as(third, "CreateRepository", {"repositoryName": "third-made"})
        self.assertEqual((st, d.get("repository", {}).get("repositoryArn")), (200, REPO_ARN + "third-made"), d)
        self.assertEcrDenied(ecr_as(third, "CreateRepository", {"repositoryName": "not-third"}),
                             not_allowed("third", "ecr:CreateRepository", "not-third"))
        # ecr:GetAuthorizationToken comes from identity policies only; an explicit deny in the registry
        # policy is a resource-based one
        nologin = self.new_user("pol-nologin", None)
        ecr.put_registry_policy(policyText=json.dumps(policy(
            {"Effect": "Allow", "Principal": {"AWS": user_arn("pol-nologin")},
             "Action": ["ecr:GetAuthorizationToken", "ecr:ListImages"], "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": user_arn("third")}, "Action": "ecr:BatchGetImage",
             "Resource": REPO_ARN + "shared"})))
        self.assertEcrDenied(ecr_as(nologin, "GetAuthorizationToken"),
                             not_allowed("pol-nologin", "ecr:GetAuthorizationToken", "*"))
        self.assertEqual(ecr_as(nologin, "ListImages", {"repositoryName": "shared"})[0], 200)
        self.assertEcrDenied(ecr_as(third, "BatchGetImage", {"repositoryName": "shared",
                                                              "imageIds": [{"imageTag": "v1"}]}),
                             explicitly_denied("third", "ecr:BatchGetImage", "shared", "a resource-based policy"))
        ecr.put_registry_policy(policyText=json.dumps(doc))
        self.assertEqual(json.loads(ecr.delete_registry_policy()["policyText"]), doc)
        self.assertEqual(call_error(ecr.delete_registry_policy)[0], "RegistryPolicyNotFoundException")
        self.assertEcrDenied(ecr_as(third, "CreateRepository", {"repositoryName": "third-later"}),
                             not_allowed("third", "ecr:CreateRepository", "third-later"))

    def test_condition_keys_and_policy_variables(self):
        me = "pol-cond"
        SERVER.create_repository("pol/tagged", tags=[{"Key": "team", "Value": "core"}])
        SERVER.create_repository("pol/untagged")
        key = self.new_user(me, policy(
            LOGIN,
            allow("ecr:CreateRepository", REPO_ARN + "home/${aws:username}/*",
                  Condition={"StringEquals": {"aws:RequestTag/owner": "${aws:username}"},
                             "ForAllValues:StringEquals": {"aws:TagKeys": ["owner", "team"]}}),
            allow("ecr:TagResource", REPO_ARN + "home/${aws:username}/*",
                  Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}),
            allow("ecr:ListImages", "*", Condition={"StringEquals": {"ecr:ResourceTag/team": "core"}}),
            allow("ecr:DescribeImages", "*", Condition={"StringEquals": {"aws:ResourceTag/team": "core"}}),
            allow("ecr:DescribeRepositories", "*", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
            allow("ecr:GetLifecyclePolicy", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            allow("ecr:BatchCheckLayerAvailability", "*", Condition={"StringEquals": {"aws:username": me}}),
            allow("ecr:GetDownloadUrlForLayer", "*", Condition={"StringEquals": {"aws:PrincipalArn": user_arn(me)}}),
            {"Effect": "Deny", "Action": "ecr:BatchGetImage", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            allow("ecr:BatchGetImage", "*")))
        # ${aws:username} in Resource, aws:RequestTag, aws:TagKeys
        ok = ecr_as(key, "CreateRepository", {"repositoryName": "home/%s/a" % me,
                                              "tags": [{"Key": "owner", "Value": me}]})
        self.assertEqual(ok[0], 200, ok[1])
        self.assertEcrDenied(ecr_as(key, "CreateRepository", {"repositoryName": "home/%s/b" % me}),
                             not_allowed(me, "ecr:CreateRepository", "home/%s/b" % me))
        self.assertEcrDenied(ecr_as(key, "CreateRepository", {"repositoryName": "home/%s/c" % me,
                                                              "tags": [{"Key": "owner", "Value": "someone"}]}),
                             not_allowed(me, "ecr:CreateRepository", "home/%s/c" % me))
        self.assertEcrDenied(ecr_as(key, "CreateRepository", {"repositoryName": "home/%s/d" % me,
                                                              "tags": [{"Key": "owner", "Value": me},
                                                                       {"Key": "cost", "Value": "1"}]}),
                             not_allowed(me, "ecr:CreateRepository", "home/%s/d" % me))
        self.assertEcrDenied(ecr_as(key, "CreateRepository", {"repositoryName": "home/other/a",
                                                              "tags": [{"Key": "owner", "Value": me}]}),
                             not_allowed(me, "ecr:CreateRepository", "home/other/a"))
        arn = REPO_ARN + "home/%s/a" % me
        self.assertEqual(ecr_as(key, "TagResource", {"resourceArn": arn, "tags": [{"Key": "team", "Value": "x"}]})[0],
                         200)
        self.assertEcrDenied(ecr_as(key, "TagResource", {"resourceArn": arn, "tags": [{"Key": "cost", "Value": "1"}]}),
                             not_allowed(me, "ecr:TagResource", arn))
        tags = SERVER.ecr("ListTagsForResource", {"resourceArn": arn})["tags"]
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in tags), [("owner", me), ("team", "x")])
        # ecr:ResourceTag / aws:ResourceTag
        self.assertEqual(ecr_as(key, "ListImages", {"repositoryName": "pol/tagged"})[0], 200)
        self.assertEqual(ecr_as(key, "DescribeImages", {"repositoryName": "pol/tagged"})[0], 200)
        for op in ("ListImages", "DescribeImages"):
            self.assertEcrDenied(ecr_as(key, op, {"repositoryName": "pol/untagged"}),
                                 not_allowed(me, "ecr:" + op, "pol/untagged"))
        # aws:SourceIp (loopback), aws:username, aws:PrincipalArn
        self.assertEqual(ecr_as(key, "DescribeRepositories", {})[0], 200)
        self.assertEcrDenied(ecr_as(key, "GetLifecyclePolicy", {"repositoryName": "app"}),
                             not_allowed(me, "ecr:GetLifecyclePolicy", "app"))
        layer = self.w.images["app"][2]
        st, d = ecr_as(key, "BatchCheckLayerAvailability", {"repositoryName": "app", "layerDigests": [layer]})
        self.assertEqual((st, [l.get("layerAvailability") for l in d.get("layers", [])]), (200, ["AVAILABLE"]), d)
        tok = token_of(key)
        r = v2("GET", "/v2/app/blobs/" + layer, tok)
        self.assertEqual(r.status, 200, r.describe())
        # aws:SecureTransport is "false" over plain HTTP: the deny applies, on both APIs
        self.assertEcrDenied(ecr_as(key, "BatchGetImage", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}),
                             explicitly_denied(me, "ecr:BatchGetImage", "app"))
        self.assertV2Denied(v2("GET", "/v2/app/manifests/v1", tok), explicitly_denied(me, "ecr:BatchGetImage", "app"))

    def test_v2_requests_map_to_ecr_actions(self):
        """Users holding exactly one (or a few) ecr: actions on repository/map: which V2 requests each
        may make, and the action each refusal names."""
        SERVER.create_repository("map")
        digest, raw, _ = SERVER.push_image("map", "v1")
        layer = json.loads(raw)["layers"][0]["digest"]
        root_upload = strip_origin(SERVER.req("POST", "/v2/map/blobs/uploads/").headers["Location"])
        grants = {"bgi": ["ecr:BatchGetImage"], "dl": ["ecr:GetDownloadUrlForLayer"],
                  "bcla": ["ecr:BatchCheckLayerAvailability"], "list": ["ecr:ListImages"],
                  "init": ["ecr:InitiateLayerUpload"], "part": ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
                  "upload": ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
                  "put": ["ecr:PutImage"], "del": ["ecr:BatchDeleteImage"], "desc": ["ecr:DescribeRepositories"]}
        # request -> the user allowed to make it (status) / the action a refusal names
        table = [  # (label, method, path-or-callable, allowed users: status, refused action)
            ("manifest GET", "GET", "/v2/map/manifests/v1", {"bgi": 200}, "ecr:BatchGetImage"),
            ("manifest HEAD", "HEAD", "/v2/map/manifests/v1", {"bgi": 200}, None),
            ("referrers", "GET", "/v2/map/referrers/" + digest, {"bgi": 200}, "ecr:BatchGetImage"),
            ("tags/list", "GET", "/v2/map/tags/list", {"list": 200}, "ecr:ListImages"),
            ("blob GET", "GET", "/v2/map/blobs/" + layer, {"dl": 200}, "ecr:GetDownloadUrlForLayer"),
            ("blob HEAD", "HEAD", "/v2/map/blobs/" + layer, {"dl": 200, "bcla": 200}, None),
            ("upload POST", "POST", "/v2/map/blobs/uploads/", {"init": 202, "part": 202, "upload": 202},
             "ecr:InitiateLayerUpload"),
            ("manifest PUT", "PUT", "/v2/map/manifests/t", {"put": 201}, "ecr:PutImage"),
        ]
        for who, actions in grants.items():
            key = self.new_user("map-" + who, policy(LOGIN, allow(actions, REPO_ARN + "map*")))
            tok = token_of(key)
            for label, method, path, ok, refused in table:
                body = raw if method == "PUT" else None
                h = {"Accept": OCI_MANIFEST, "Content-Type": OCI_MANIFEST}
                r = v2(method, path, tok, body=body, headers=h)
                if who in ok:
                    self.assertEqual(r.status, ok[who], "%s by map-%s: %s" % (label, who, r.describe()))
                elif refused:
                    self.assertV2Denied(r, not_allowed("map-" + who, refused, "map"))
                else:
                    self.assertEqual(r.status, 403, "%s by map-%s: %s" % (label, who, r.describe()))
            # the upload session steps
            data = os.urandom(100)
            mono = os.urandom(50)
            r = v2("POST", "/v2/map/blobs/uploads/", tok)
            loc = strip_origin(r.headers["Location"]) if r.status == 202 else root_upload
            steps = [("PATCH", loc, data, "ecr:UploadLayerPart", {"part": 202, "upload": 202}),
                     ("GET", loc, None, "ecr:UploadLayerPart", {"part": 204, "upload": 204}),
                     ("PUT", loc + "?digest=" + sha256(data), None, "ecr:UploadLayerPart" if who not in ("part",)
                      else "ecr:CompleteLayerUpload", {"upload": 201}),
                     ("POST", "/v2/map/blobs/uploads/?digest=" + sha256(mono), mono,
                      {"init": "ecr:UploadLayerPart", "part": "ecr:CompleteLayerUpload"}.get(
                          who, "ecr:InitiateLayerUpload"),
                      {"upload": 201})]
            for method, path, body, refused, ok in steps:
                r = v2(method, path, tok, body=body, headers={"Content-Type": "application/octet-stream"})
                if who in ok:
                    self.assertEqual(r.status, ok[who], "%s by map-%s: %s" % (method, who, r.describe()))
                else:
                    self.assertV2Denied(r, not_allowed("map-" + who, refused, "map"))
            r = v2("GET", "/v2/_catalog", tok)
            self.assertEqual(json.loads(r.body)["repositories"], ["map"] if who == "desc" else [], who)
            if who == "del":
                d2, raw2, _ = SERVER.push_image("map", "v2")
                self.assertEqual(v2("DELETE", "/v2/map/manifests/" + d2, tok).status, 202)
                self.assertEqual(SERVER.req("GET", "/v2/map/manifests/" + d2).status, 404)
            else:
                self.assertV2Denied(v2("DELETE", "/v2/map/manifests/" + digest, tok),
                                    not_allowed("map-" + who, "ecr:BatchDeleteImage", "map"))
        # root's upload session, poked at by everyone, is intact
        r = SERVER.req("PUT", root_upload + "?digest=" + sha256(b"root"), body=b"root",
                       headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.describe())

    def test_repository_policy_principal_must_name_an_existing_arn(self):
        # A principal ARN of this account must name an existing user with its path: user/pol-pathy and
        # user/elsewhere/pol-pathy are not user/team/pol-pathy ('Principal not found', as ECR answers).
        self.iam.create_user(UserName="pol-pathy", Path="/team/")
        k = self.iam.create_access_key(UserName="pol-pathy")["AccessKey"]
        key = (k["AccessKeyId"], k["SecretAccessKey"])
        self.assertEqual(client("sts", key).get_caller_identity()["Arn"],
                         "arn:aws:iam::%s:user/team/pol-pathy" % ACCOUNT)
        SERVER.create_repository("pol/pathy")
        good = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/team/pol-pathy" % ACCOUNT},
                       "Action": "ecr:ListImages"})
        self.ecr.set_repository_policy(repositoryName="pol/pathy", policyText=json.dumps(good))
        self.assertEqual(ecr_as(key, "ListImages", {"repositoryName": "pol/pathy"})[0], 200)
        invalid = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'"
        for arn in ("arn:aws:iam::%s:user/pol-pathy" % ACCOUNT, "arn:aws:iam::%s:user/elsewhere/pol-pathy" % ACCOUNT):
            with self.subTest(principal=arn):
                doc = policy({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "ecr:DescribeImages"})
                st, _, got = SERVER.ecr_call("SetRepositoryPolicy", {"repositoryName": "pol/pathy",
                                                                     "policyText": json.dumps(doc)})
                if st == 200:   # accepted: at least it must not grant the user whose ARN differs
                    self.assertEcrDenied(ecr_as(key, "DescribeImages", {"repositoryName": "pol/pathy"}),
                                         not_allowed("pol-pathy", "ecr:DescribeImages", "pol/pathy").replace(
                                             "user/pol-pathy", "user/team/pol-pathy"))
                self.assertEqual((st, got.get("__type"), got.get("message")),
                                 (400, "InvalidParameterException", invalid),
                                 "SetRepositoryPolicy with principal %s" % arn)

    def test_recreated_user_does_not_inherit_repository_policy_grants(self):
        # A repository policy naming user/pol-gone names the user who existed when it was stored: as in AWS
        # (which stores the user's unique id), a user deleted and created again under that name is not granted.
        key = self.new_user("pol-gone", policy(LOGIN))
        SERVER.create_repository("pol/gone")
        self.ecr.set_repository_policy(repositoryName="pol/gone", policyText=json.dumps(policy(
            {"Effect": "Allow", "Principal": {"AWS": user_arn("pol-gone")}, "Action": ["ecr:ListImages"]})))
        self.assertEqual(ecr_as(key, "ListImages", {"repositoryName": "pol/gone"})[0], 200)
        self.iam.delete_access_key(UserName="pol-gone", AccessKeyId=key[0])
        self.iam.delete_user_policy(UserName="pol-gone", PolicyName="p")
        self.iam.delete_user(UserName="pol-gone")
        newcomer = self.new_user("pol-gone", None)
        self.assertEcrDenied(ecr_as(newcomer, "ListImages", {"repositoryName": "pol/gone"}),
                             not_allowed("pol-gone", "ecr:ListImages", "pol/gone"))

    def test_repository_policy_conditions_and_wildcard_principal(self):
        SERVER.create_repository("pol/principal")
        digest, raw, _ = SERVER.push_image("pol/principal", "v1")
        self.ecr.set_repository_policy(repositoryName="pol/principal", policyText=json.dumps(policy(
            {"Sid": "OnlyDeploy", "Effect": "Allow", "Principal": "*", "Action": PULL,
             "Condition": {"StringEquals": {"aws:PrincipalArn": user_arn("deploy")}}})))
        self.assertEqual(v2("GET", "/v2/pol/principal/manifests/v1", token_of(self.w.keys["deploy"]),
                            headers={"Accept": OCI_MANIFEST}).body, raw)
        self.assertV2Denied(v2("GET", "/v2/pol/principal/manifests/v1", token_of(self.w.keys["third"])),
                            not_allowed("third", "ecr:BatchGetImage", "pol/principal"))
        # and nobody anonymous (anonymous pulls are off)
        self.assertUnauthorized(v2("GET", "/v2/pol/principal/manifests/v1"))

    def test_pull_time_update_exclusions(self):
        """Raw calls: Debian's botocore 1.29 has no exclusion operations."""
        excluded = "arn:aws:iam::%s:user/pol-excluded" % ACCOUNT
        key_x = self.new_user("pol-excluded", policy(LOGIN, allow(PULL, REPO_ARN + "pol/pulls")))
        key_y = self.new_user("pol-counted", policy(LOGIN, allow(PULL, REPO_ARN + "pol/pulls")))
        SERVER.create_repository("pol/pulls")
        a, raw_a, _ = SERVER.push_image("pol/pulls", "a")
        b, raw_b, _ = SERVER.push_image("pol/pulls", "b")
        got = SERVER.ecr("RegisterPullTimeUpdateExclusion", {"principalArn": excluded})
        self.addCleanup(lambda: SERVER.ecr_call("DeregisterPullTimeUpdateExclusion", {"principalArn": excluded}))
        self.assertEqual(got["principalArn"], excluded)
        self.assertIn("createdAt", got)
        st, _, doc = SERVER.ecr_call("RegisterPullTimeUpdateExclusion", {"principalArn": excluded})
        self.assertEqual((st, doc.get("__type"), doc.get("message")),
                         (400, "ExclusionAlreadyExistsException",
                          "The principal '%s' is already excluded from pull time updates" % excluded))
        self.assertIn(excluded, SERVER.ecr("ListPullTimeUpdateExclusions", {})["pullTimeUpdateExclusions"])
        nobody = "arn:aws:iam::%s:user/pol-nobody" % ACCOUNT
        st, _, doc = SERVER.ecr_call("DeregisterPullTimeUpdateExclusion", {"principalArn": nobody})
        self.assertEqual((st, doc.get("__type"), doc.get("message")),
                         (400, "ExclusionNotFoundException",
                          "The principal '%s' is not excluded from pull time updates" % nobody))
        # registry-level: an IAM user needs ecr:RegisterPullTimeUpdateExclusion (on "*")
        self.assertEcrDenied(ecr_as(key_x, "RegisterPullTimeUpdateExclusion",
                                    {"principalArn": user_arn("pol-counted")}),
                             not_allowed("pol-excluded", "ecr:RegisterPullTimeUpdateExclusion", "*"))
        tx, ty = token_of(key_x), token_of(key_y)

        def pull_times():
            det = SERVER.ecr("DescribeImages", {"repositoryName": "pol/pulls"})["imageDetails"]
            return {d["imageDigest"]: d.get("lastRecordedPullTime") for d in det}

        self.assertEqual(pull_times(), {a: None, b: None})
        r = v2("GET", "/v2/pol/pulls/manifests/a", tx, headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, raw_a))
        st, doc = ecr_as(key_x, "BatchGetImage", {"repositoryName": "pol/pulls", "imageIds": [{"imageTag": "a"}]})
        self.assertEqual((st, len(doc.get("images", []))), (200, 1), doc)
        r = v2("GET", "/v2/pol/pulls/manifests/b", ty, headers={"Accept": OCI_MANIFEST})
        self.assertEqual((r.status, r.body), (200, raw_b))
        time.sleep(3)                         # pull times are flushed every 2 s
        got = pull_times()
        self.assertIsNone(got[a], "an excluded principal's pulls were recorded")
        self.assertIsNotNone(got[b], "a pull was not recorded")
        SERVER.ecr("DeregisterPullTimeUpdateExclusion", {"principalArn": excluded})
        self.assertNotIn(excluded, SERVER.ecr("ListPullTimeUpdateExclusions", {})["pullTimeUpdateExclusions"])
        st, doc = ecr_as(key_x, "BatchGetImage", {"repositoryName": "pol/pulls", "imageIds": [{"imageTag": "a"}]})
        self.assertEqual(st, 200, doc)
        time.sleep(3)
        self.assertIsNotNone(pull_times()[a], "pulls after the exclusion was removed are not recorded")


if __name__ == "__main__":
    unittest.main(verbosity=2)


# ======================================================= operator surface
class TestOperatorSurface(IamCase):
    """`berth user|key|policy` on the running server's data, long-lived pull credentials (Basic
    key id : secret), the audit log, and anonymous pulls (a server of its own, opted in)."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    def berth(self, *args, stdin=None):
        p = subprocess.run([berth_bin()] + list(args) + ["--data-dir", SERVER.data_dir], input=stdin,
                           capture_output=True, text=True, timeout=60, env=metadata_env(SERVER.data_dir))
        return p.returncode, p.stdout, p.stderr

    def test_cli_identities_and_basic_pull_credentials(self):
        rc, out, err = self.berth("user", "create", "--name", "k8s-puller", "--basic-pull")
        self.assertEqual(rc, 0, err)
        self.assertIn(user_arn("k8s-puller"), out)
        rc, out, err = self.berth("key", "create", "--user", "k8s-puller")
        self.assertEqual(rc, 0, err)
        key_id = re.search(r"^AWS_ACCESS_KEY_ID=(\S+)$", out, re.M).group(1)
        secret = re.search(r"^AWS_SECRET_ACCESS_KEY=(\S+)$", out, re.M).group(1)
        self.assertIn("shown only now", err)
        doc = json.dumps(policy(allow(PULL, REPO_ARN + "app")))
        rc, out, err = self.berth("policy", "put", "--user", "k8s-puller", "--name", "pull", "--file", "-", stdin=doc)
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.berth("policy", "get", "--user", "k8s-puller", "--name", "pull")
        self.assertEqual(json.loads(out), json.loads(doc))
        rc, out, _ = self.berth("user", "list")
        self.assertIn("k8s-puller\t%s" % user_arn("k8s-puller"), out)
        self.assertIn("basic-pull", [ln for ln in out.splitlines() if ln.startswith("k8s-puller\t")][0])
        rc, out, _ = self.berth("key", "list", "--user", "k8s-puller")
        self.assertEqual(out.strip(), "%s\tActive" % key_id)
        # What the CLI did, the running server sees on its next request: the key works for SigV4...
        self.assertEqual(client("sts", (key_id, secret)).get_caller_identity()["Arn"], user_arn("k8s-puller"))
        # ...and as a long-lived pull credential (reads only, still under the user's policies).
        basic = "Basic " + base64.b64encode(("%s:%s" % (key_id, secret)).encode()).decode()
        r = v2("GET", "/v2/app/manifests/v1", raw_auth=basic, headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, self.w.images["app"][1])
        self.assertV2Denied(v2("GET", "/v2/secret/manifests/v1", raw_auth=basic),
                            not_allowed("k8s-puller", "ecr:BatchGetImage", "secret"))
        self.assertUnauthorized(v2("POST", "/v2/app/blobs/uploads/", raw_auth=basic), basic)
        # The last character changed (a random secret can end in any letter, "x" among them).
        wrong_secret = secret[:-1] + ("y" if secret.endswith("x") else "x")
        wrong = "Basic " + base64.b64encode(("%s:%s" % (key_id, wrong_secret)).encode()).decode()
        self.assertUnauthorized(v2("GET", "/v2/app/manifests/v1", raw_auth=wrong), wrong)
        # Opting out stops it at once; the login-token way keeps working.
        rc, _, err = self.berth("user", "set", "--name", "k8s-puller", "--no-basic-pull")
        self.assertEqual(rc, 0, err)
        self.assertUnauthorized(v2("GET", "/v2/app/manifests/v1", raw_auth=basic), basic)
        # A user without basic-pull never had it.
        deploy = self.w.keys["deploy"]
        deploy_basic = "Basic " + base64.b64encode(("%s:%s" % deploy).encode()).decode()
        self.assertUnauthorized(v2("GET", "/v2/app/manifests/v1", raw_auth=deploy_basic), deploy_basic)
        # Deleting needs --force while keys and policies remain, as IAM's DeleteConflict.
        rc, _, err = self.berth("user", "delete", "--name", "k8s-puller")
        self.assertEqual((rc, err.strip()), (1, "berth: Cannot delete entity, must delete access keys first."))
        rc, _, err = self.berth("user", "delete", "--name", "k8s-puller", "--force")
        self.assertEqual(rc, 0, err)
        self.assertEqual(call_error(client("sts", (key_id, secret)).get_caller_identity)[0], "InvalidClientTokenId")

    def test_audit_lines_name_who_did_what_and_never_a_secret(self):
        deploy = self.w.keys["deploy"]
        tok = token_of(deploy)
        marker = "audit-%d" % int(time.time() * 1000)
        r = v2("PUT", "/v2/app/manifests/" + marker, tok, body=self.w.images["app"][1],
               headers={"Content-Type": OCI_MANIFEST})
        self.assertEqual(r.status, 403)
        client("iam").create_user(UserName=marker)
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline:
            lines = [json.loads(ln.split(" audit ", 1)[1]) for ln in SERVER.log_text().splitlines()
                     if " audit {" in ln]
            if any(d["resource"].endswith("user/" + marker) for d in lines):
                break
            time.sleep(0.2)
        denied = [d for d in lines if d["result"] == "denied" and d["operation"] == "manifest.put"
                  and d["principal"] == user_arn("deploy")]
        self.assertTrue(denied, lines[-5:])
        self.assertEqual(denied[-1]["access_key_id"], deploy[0])
        self.assertEqual(denied[-1]["action"], "ecr:PutImage")
        self.assertEqual(denied[-1]["resource"], REPO_ARN + "app")
        self.assertEqual(denied[-1]["status"], 403)
        self.assertTrue(denied[-1]["source"].startswith("127.0.0.1:"), denied[-1])
        created = [d for d in lines if d["resource"] == "arn:aws:iam::%s:user/%s" % (ACCOUNT, marker)]
        self.assertEqual([(d["action"], d["result"], d["principal"]) for d in created],
                         [("iam:CreateUser", "ok", "arn:aws:iam::%s:root" % ACCOUNT)])
        log = SERVER.log_text()
        for name, (key_id, secret) in self.w.keys.items():
            self.assertNotIn(secret, log, name)
        self.assertNotIn(tok, log)

    def test_anonymous_pull_only_where_a_policy_allows_principal_star(self):
        anon = BerthServer("iam-anon", auth="sigv4", v2_auth=True, config={"auth": {"anonymous_pull": True}})
        try:
            anon.start()
            self.assertIn("anonymous pull is ON", anon.log_text())
            for repo in ("public", "private"):
                anon.create_repository(repo)
                anon.push_image(repo, "v1")
            st, _, doc = anon.ecr_call("SetRepositoryPolicy", {"repositoryName": "public", "policyText": json.dumps(
                policy({"Effect": "Allow", "Principal": "*",
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}))})
            self.assertEqual(st, 200, doc)
            r = anon.req("GET", "/v2/public/manifests/v1", headers={"Accept": OCI_MANIFEST}, auth=False)
            self.assertEqual(r.status, 200, r.body)
            layer = json.loads(r.body)["layers"][0]["digest"]
            self.assertEqual(anon.req("GET", "/v2/public/blobs/" + layer, auth=False).status, 200)
            # Nothing else without credentials: other repositories, listings, writes, the ECR API.
            for method, path in (("GET", "/v2/private/manifests/v1"), ("GET", "/v2/public/tags/list"),
                                 ("GET", "/v2/_catalog"), ("POST", "/v2/public/blobs/uploads/"),
                                 ("DELETE", "/v2/public/manifests/v1"), ("GET", "/v2/nothing/manifests/v1")):
                self.assertEqual(anon.req(method, path, auth=False).status, 401, (method, path))
            st, _, doc = anon.ecr_call("DescribeRepositories", {}, sign=False)
            self.assertEqual(doc.get("__type"), "MissingAuthenticationTokenException", doc)
        finally:
            anon.stop()
            anon.cleanup()
        # Off by default: the module's server serves nothing without credentials even where a policy
        # says Principal "*".
        client("ecr").set_repository_policy(repositoryName="shared", force=True, policyText=json.dumps(policy(
            SHARED_REPO_POLICY["Statement"][0],
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]})))
        try:
            self.assertUnauthorized(v2("GET", "/v2/shared/manifests/v1"))
        finally:
            client("ecr").set_repository_policy(repositoryName="shared", policyText=json.dumps(SHARED_REPO_POLICY))
