"""ECR replication between Berth processes: a source Berth A replicates pushes to peer Berths (B, and C
for the three-process test) listed in its configuration's `replication.peers`, as the registry's
replication configuration (PutReplicationConfiguration) says; DescribeImageReplicationStatus reports
each destination. Driven by boto3, the aws CLI, skopeo, docker (a private dockerd) and raw V2 HTTP.

  A  account 000000000000 / us-east-1 (the fixture's defaults), peers B, C and 24 dummy peers
     (unreachable; they exist for the 25-destination limit)
  B  account 210987654321 / eu-west-1          C  account 310987654321 / ap-south-1
  all three --auth sigv4 (root key from the fixture), V2 with login tokens.

  Test01  the configuration API: Put/DescribeRegistry round trip through boto3 and the aws CLI
          (v1, else v2), `rules: []` accepted; refused: more than 10 rules (the model limit), more
          than 25 unique destinations, A itself as a destination, a destination that is not a
          configured peer; a refused call leaves the configuration as it was.
  Test02  skopeo pushes to A: prod/app (IMMUTABLE, scanOnPush, KMS) arrives on B byte for byte with
          its tag and A's repository settings, status COMPLETE (also by tag, and through the CLI);
          deleting it on A leaves it on B; dev/x (no rule matches) is not replicated and has
          replicationStatuses []; unknown image / repository errors; a multi-arch index with its
          two children; a second repository sharing a layer; an ECR PutImage push.
  Test03  docker push to A (a private dockerd; skipped loudly without one) -> on B, docker pull from B.
  Test04  B stopped (SIGTERM) while 5 images are pushed: IN_PROGRESS, and it stays so; B started
          again on the same port and data directory -> all 5 arrive, COMPLETE.
  Test05  A SIGKILLed mid-replication: a BERTH_REPL_BIG_MB (default 100) MB random layer, generated
          to a file and streamed, goes to B through a throttling TCP proxy (~10 s for the layer);
          A is killed once the proxy has forwarded 2 MiB of it; restarted on the same data
          directory and configuration, A completes the replication; the layer's digest and size
          on B are checked by streaming it. (Should the replication already be COMPLETE when the
          kill comes -- it cannot through the proxy unless the machine stalls for ~10 s -- the
          test says so loudly and still asserts the end state.)
  Test06  three processes: one rule with destinations B and C -> both COMPLETE; C stopped, a second
          push -> B COMPLETE, C IN_PROGRESS; C started -> COMPLETE; a rule without
          repositoryFilters replicates every repository.
  Test07  peer authorization on B: an IAM user allowed exactly ecr:GetAuthorizationToken,
          ecr:CreateRepository and ecr:ReplicateImage is enough (COMPLETE), though it may not
          PutImage or start a V2 upload itself; a user without ecr:ReplicateImage -> FAILED with
          failureCode ACCESS_DENIED, not retried; a tag immutable on B that names another image
          there -> FAILED with failureCode TAG_IMMUTABLE.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_replication   (from tests/integration/;
~3 min on 2 cores, of which the big layer ~30 s and dockerd ~15 s). A missing client (boto3, skopeo,
the aws CLI, dockerd) is skipped loudly. Everything is on loopback, every subprocess has a timeout
and every wait a deadline.

Environment:
  BERTH_REPL_BIG_MB      size of the big layer of Test05 (default 100)
  BERTH_AWS_CLI_V1 / BERTH_AWS_CLI_V2   as in test_ecr_awscli.py
  BERTH_DOCKER_CLI, BERTH_DOCKERD       as in test_clients.py
  BERTH_KEEP_LOGS        keep the servers' directories
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, basic_auth_value, sha256,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST,
)
from private_dockerd import PrivateDockerd  # noqa: E402
from test_clients import Layout, upload_layout_http  # noqa: E402
from test_ecr_awscli import find_cli  # noqa: E402

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:       # handled in setUpModule
    boto3 = None

CMD_TIMEOUT = 180
BIG_MB = int(os.environ.get("BERTH_REPL_BIG_MB", "100"))
ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])
ROOT = (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
B_ACCOUNT, B_REGION = "210987654321", "eu-west-1"
C_ACCOUNT, C_REGION = "310987654321", "ap-south-1"
DEST_B = {"region": B_REGION, "registryId": B_ACCOUNT}
DEST_C = {"region": C_REGION, "registryId": C_ACCOUNT}
# 24 peers that are never reached (no rule that a push matches names them): with B and C, 26
# configured peers, so that the 25-unique-destinations limit is the only thing wrong with 26.
DUMMY_DESTS = [{"region": "us-west-2", "registryId": "4000000000%02d" % i} for i in range(1, 25)]
TUNING = {"retry_base_seconds": 1, "retry_max_seconds": 2, "max_attempts": 1000}
# Model-limit violations (list lengths, patterns): Berth's shape validator (src/ecr/shape_validator.cpp)
# answers them for every operation with InvalidParameterException, "Invalid parameter at '<path>'
# failed to satisfy constraint: '...'" (see test_ecr_protocol.TestProtocol.test_validation).
MODEL_LIMIT_ERROR = "InvalidParameterException"
STATUS_TIMEOUT = 90       # seconds for a replication to reach its end state

WORK = None
A = None             # the source (peers B, C, dummies)
B = None
C = None
_CLIENTS = {}


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


def loud_note(what):
    sys.stderr.write("\n!!! %s\n" % what)


def run(cmd, timeout=CMD_TIMEOUT, check=True, env=None, log=True, input_data=None):
    t0 = time.monotonic()
    try:
        if input_data is None:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
        else:
            p = subprocess.run(cmd, input=input_data, capture_output=True, timeout=timeout, env=env)
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


def need_skopeo():
    if not shutil.which("skopeo"):
        loud_skip("skopeo binary not found (CI must install it)")


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


def skopeo_push(srv, layout, tag, ref, all_images=False):
    """skopeo copy (--preserve-digests) of the layout's `tag` to srv/ref, as root's login token."""
    args = ["copy", "--preserve-digests", "--dest-tls-verify=false",
            "--dest-creds", "AWS:%s" % srv.login_token()]
    if all_images:
        args.append("--all")
    skopeo(*(args + ["oci:%s:%s" % (layout, tag), "docker://%s/%s" % (srv.hostport, ref)]))


def client(service, srv, creds=ROOT, validate=True):
    # keyed by endpoint, not id(srv): a stopped server's object may be freed and its id reused by
    # the next test's server, which would then be reached through the old one's (dead) port
    key = (srv.base, srv.region, service, creds, validate)
    if key not in _CLIENTS:
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                     parameter_validation=validate)
        _CLIENTS[key] = boto3.session.Session(
            aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
            region_name=srv.region).client(service, endpoint_url=srv.base, config=cfg)
    return _CLIENTS[key]


def error_of(fn, **kw):
    """(code, message) of a boto3 call that must fail."""
    try:
        out = fn(**kw)
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["Error"].get("Message")
    raise AssertionError("%s(%r) succeeded: %r" % (getattr(fn, "__name__", fn), kw, out))


def peer(srv, creds=ROOT, endpoint=None):
    """One entry of replication.peers for the Berth `srv`."""
    return {"region": srv.region, "registry_id": srv.account_id, "endpoint": endpoint or srv.base,
            "access_key_id": creds[0], "secret_access_key": creds[1]}


def replication_config(peers):
    return {"replication": dict({"peers": list(peers)}, **TUNING)}


def rule(destinations, *prefixes):
    r = {"destinations": list(destinations)}
    if prefixes:
        r["repositoryFilters"] = [{"filter": p, "filterType": "PREFIX_MATCH"} for p in prefixes]
    return r


def normalized(cfg):
    """A replication configuration with a missing repositoryFilters read as [] (a rule without
    filters may be echoed either way)."""
    return {"rules": [dict(r, repositoryFilters=r.get("repositoryFilters", [])) for r in cfg["rules"]]}


def set_rules(srv, *rules):
    cfg = {"rules": list(rules)}
    out = client("ecr", srv).put_replication_configuration(replicationConfiguration=cfg)
    assert normalized(out["replicationConfiguration"]) == normalized(cfg), out
    return cfg


def manifest(srv, repo, ref, method="GET"):
    return srv.req(method, "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": ACCEPT})


def images_of(srv, repo):
    """{digest: sorted tags} of DescribeImages, or None when the repository does not exist."""
    try:
        pages = client("ecr", srv).get_paginator("describe_images").paginate(repositoryName=repo)
        return {d["imageDigest"]: sorted(d.get("imageTags", [])) for p in pages for d in p["imageDetails"]}
    except ClientError as e:
        if e.response["Error"]["Code"] == "RepositoryNotFoundException":
            return None
        raise


def repository(srv, repo):
    return client("ecr", srv).describe_repositories(repositoryNames=[repo])["repositories"][0]


def replication_statuses(srv, repo, image_id):
    """The raw DescribeImageReplicationStatus answer (boto3, ResponseMetadata dropped)."""
    out = client("ecr", srv).describe_image_replication_status(repositoryName=repo, imageId=image_id)
    out.pop("ResponseMetadata", None)
    return out


def statuses(srv, repo, digest):
    """{registryId: (region, status, failureCode or None)} of an image (by digest)."""
    out = replication_statuses(srv, repo, {"imageDigest": digest})
    got = {}
    for s in out["replicationStatuses"]:
        assert s["registryId"] not in got, out
        got[s["registryId"]] = (s["region"], s["status"], s.get("failureCode"))
    return got


REGIONS = {B_ACCOUNT: B_REGION, C_ACCOUNT: C_REGION}


def expected(want):
    """want: {registryId: "STATUS" or ("STATUS", failureCode)} -> statuses()' shape."""
    out = {}
    for rid, w in want.items():
        st, code = (w, None) if isinstance(w, str) else w
        out[rid] = (REGIONS[rid], st, code)
    return out


def wait_status(test, srv, repo, digest, want, timeout=STATUS_TIMEOUT):
    """Polls DescribeImageReplicationStatus until it is exactly `want` (see expected()); fails early
    when a destination reaches an end state (COMPLETE / FAILED) other than the one wanted."""
    goal = expected(want)
    deadline = time.monotonic() + timeout
    got = None
    while True:
        got = statuses(srv, repo, digest)
        if got == goal:
            return got
        for rid, (_, st, code) in got.items():
            if st in ("COMPLETE", "FAILED") and rid in goal and goal[rid][1:] != (st, code):
                test.fail("%s@%s: destination %s ended %s/%s, wanted %r (all: %r)" % (
                    repo, digest, rid, st, code, goal[rid], got))
        if time.monotonic() >= deadline:
            test.fail("%s@%s: replication status not %r within %ds; last: %r" % (repo, digest, goal, timeout, got))
        time.sleep(0.5)


def wait_listed(test, srv, repo, digest, timeout=15):
    """Polls until the image has replication statuses at all (pushes record them; allow a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        got = statuses(srv, repo, digest)
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.25)


def assert_stays(test, srv, repo, digest, want, seconds=4.0):
    """The status is `want` now and for `seconds` (several retry periods: retry_max_seconds is 2)."""
    goal = expected(want)
    end = time.monotonic() + seconds
    while True:
        got = statuses(srv, repo, digest)
        test.assertEqual(got, goal, "%s@%s" % (repo, digest))
        if time.monotonic() >= end:
            return
        time.sleep(0.5)


def blob_sha256(srv, repo, digest):
    """(status, digest of the body, length) of a V2 blob GET, the body hashed as it streams."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    try:
        conn.request("GET", "/v2/%s/blobs/%s" % (repo, digest), headers=srv.basic_auth_header())
        resp = conn.getresponse()
        if resp.status != 200:
            resp.read()
            return resp.status, None, 0
        h, n = hashlib.sha256(), 0
        for chunk in iter(lambda: resp.read(1 << 20), b""):
            h.update(chunk)
            n += len(chunk)
        return 200, "sha256:" + h.hexdigest(), n
    finally:
        conn.close()


def new_config_blob():
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                       "salt": os.urandom(8).hex()}).encode()


# ------------------------------------------------------------ a throttling TCP proxy
class ThrottledProxy:
    """Forwards TCP connections from 127.0.0.1:self.port to 127.0.0.1:target_port; the bytes towards
    the target go at most `rate` bytes per second (None: as fast as they come) and are counted in
    `sent`. A peer's endpoint pointing here makes a replication slow enough to interrupt."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.rate = None
        self.sent = 0
        self._lock = threading.Lock()
        self._socks = []
        self._closed = False
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.bind(("127.0.0.1", 0))
        self._listen.listen(64)
        self.port = self._listen.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while True:
            try:
                c, _ = self._listen.accept()
            except OSError:
                return
            try:
                t = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
                t.settimeout(None)
            except OSError:
                c.close()
                continue
            with self._lock:
                if self._closed:
                    c.close()
                    t.close()
                    return
                self._socks += [c, t]
            threading.Thread(target=self._pump, args=(c, t, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(t, c, False), daemon=True).start()

    def _pump(self, src, dst, towards_target):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                rate = self.rate if towards_target else None
                if rate:
                    time.sleep(len(data) / float(rate))
                dst.sendall(data)
                if towards_target:
                    with self._lock:
                        self.sent += len(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
        for s in [self._listen] + socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# ------------------------------------------------------------ module
def setUpModule():
    try:
        _setup()
    except BaseException:
        tearDownModule()
        raise


def _setup():
    global WORK, A, B, C
    if boto3 is None:
        loud_skip("boto3 not importable (pip install boto3, or Debian package python3-boto3)")
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                      AWS_EC2_METADATA_DISABLED="true")
    warnings.filterwarnings("ignore", category=ResourceWarning)
    WORK = tempfile.mkdtemp(prefix="berth-repl-")
    # the peers first: A's configuration names their ports
    B = BerthServer("repl-b", auth="sigv4", v2_auth=True, registry={"account_id": B_ACCOUNT, "region": B_REGION})
    B.start()
    C = BerthServer("repl-c", auth="sigv4", v2_auth=True, registry={"account_id": C_ACCOUNT, "region": C_REGION})
    C.start()
    dummies = [{"region": d["region"], "registry_id": d["registryId"], "endpoint": "http://127.0.0.1:9",
                "access_key_id": ROOT[0], "secret_access_key": ROOT[1]} for d in DUMMY_DESTS]
    A = BerthServer("repl-a", auth="sigv4", v2_auth=True, config=replication_config([peer(B), peer(C)] + dummies))
    A.start()


def tearDownModule():
    for srv in (A, B, C):
        if srv is not None:
            srv.stop()
            srv.cleanup()
    if WORK and not os.environ.get("BERTH_KEEP_LOGS"):
        shutil.rmtree(WORK, ignore_errors=True)


class ReplCase(unittest.TestCase):
    servers = ()      # further Berth servers whose log tail helps when a test fails

    def setUp(self):
        # a server an earlier test left stopped (it failed half-way) must not fail every later one
        for srv in (A, B, C):
            if srv is not None and not srv.running():
                loud_note("%s was not running before %s; starting it" % (srv.name, self.id()))
                srv.start()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for srv in (A, B, C) + tuple(self.servers):
                if srv is not None:
                    srv.dump_log(tail=30)
        return out

    def assertImageOn(self, srv, repo, ref, raw, blobs=True):
        """srv serves `raw` as repo:ref, byte for byte, and (blobs) every blob it references, or, for
        an index, every child manifest by digest with its blobs."""
        r = manifest(srv, repo, ref)
        self.assertEqual((r.status, r.body), (200, raw), "%s: %s" % (srv.name, r.describe()))
        self.assertEqual(r.headers.get("Docker-Content-Digest"), sha256(raw))
        if not blobs:
            return
        doc = json.loads(raw)
        if "manifests" in doc:
            for child in doc["manifests"]:
                c = manifest(srv, repo, child["digest"])
                self.assertEqual((c.status, sha256(c.body)), (200, child["digest"]),
                                 "%s: %s" % (srv.name, c.describe()))
                self.assertImageOn(srv, repo, child["digest"], c.body)
            return
        for d in [doc["config"]] + doc["layers"]:
            h = srv.req("HEAD", "/v2/%s/blobs/%s" % (repo, d["digest"]))
            self.assertEqual((h.status, h.headers.get("Content-Length")), (200, str(d["size"])),
                             "%s: %s" % (srv.name, h.describe()))

    def assertNotOn(self, srv, repo, ref):
        r = manifest(srv, repo, ref)
        self.assertEqual(r.status, 404, "%s: %s" % (srv.name, r.describe()))


# ====================================================================== 1
class Test01ConfigApi(ReplCase):

    @classmethod
    def tearDownClass(cls):
        if A is not None and A.running():
            set_rules(A)

    def assertRegistry(self, cfg):
        reg = client("ecr", A).describe_registry()
        self.assertEqual(reg["registryId"], A.account_id)
        self.assertEqual(normalized(reg["replicationConfiguration"]), normalized(cfg), reg)

    def test_1_boto3_round_trip(self):
        ecr = client("ecr", A)
        cfg = {"rules": [{"destinations": [DEST_B], "repositoryFilters": [{"filter": "prod",
                                                                           "filterType": "PREFIX_MATCH"}]}]}
        out = ecr.put_replication_configuration(replicationConfiguration=cfg)
        self.assertEqual(out["replicationConfiguration"], cfg)
        reg = ecr.describe_registry()
        reg.pop("ResponseMetadata", None)
        self.assertEqual(reg, {"registryId": A.account_id, "replicationConfiguration": cfg})
        # two rules, one without filters, two destinations
        two = {"rules": [rule([DEST_B, DEST_C], "prod", "team/app"), rule([DEST_C])]}
        out = ecr.put_replication_configuration(replicationConfiguration=two)
        self.assertEqual(normalized(out["replicationConfiguration"]), normalized(two))
        self.assertRegistry(two)
        # rules: [] turns replication off
        out = ecr.put_replication_configuration(replicationConfiguration={"rules": []})
        self.assertEqual(out["replicationConfiguration"], {"rules": []})
        self.assertRegistry({"rules": []})

    def test_2_aws_cli_round_trip(self):
        found = find_cli(1)
        if not found:
            loud_note("aws-cli v1 not found (pip install awscli): trying v2")
            found = find_cli(2)
        if not found:
            loud_skip("no aws CLI found (pip install awscli, or Debian package awscli)")
        cmd, version = found
        sys.stderr.write("\n  %s (%s)\n" % (" ".join(cmd), version))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
                   AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard", AWS_DEFAULT_REGION=A.region,
                   AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1])

        def aws(*args):
            _, out, _ = run(list(cmd) + ["ecr"] + list(args) + [
                "--endpoint-url", A.base, "--output", "json", "--cli-connect-timeout", "10",
                "--cli-read-timeout", "60"], env=env, timeout=120)
            return json.loads(out) if out.strip() else {}

        cfg = {"rules": [rule([DEST_B], "prod"), rule([DEST_C], "team/", "ops")]}
        path = os.path.join(WORK, "replication.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        out = aws("put-replication-configuration", "--replication-configuration", "file://" + path)
        self.assertEqual(normalized(out["replicationConfiguration"]), normalized(cfg))
        reg = aws("describe-registry")
        self.assertEqual(reg["registryId"], A.account_id)
        self.assertEqual(normalized(reg["replicationConfiguration"]), normalized(cfg))
        self.assertRegistry(cfg)
        with open(path, "w") as f:
            json.dump({"rules": []}, f)
        out = aws("put-replication-configuration", "--replication-configuration", "file://" + path)
        self.assertEqual(out["replicationConfiguration"], {"rules": []})
        self.assertEqual(aws("describe-registry")["replicationConfiguration"], {"rules": []})

    def test_3_validation(self):
        kept = set_rules(A, rule([DEST_B], "kept"))

        def refused(cfg, code, contains=None):
            st, _, doc = A.ecr_call("PutReplicationConfiguration", {"replicationConfiguration": cfg})
            self.assertEqual((st, doc.get("__type")), (400, code), doc)
            if contains is not None:
                self.assertIn(contains, doc.get("message", ""), doc)
            self.assertRegistry(kept)          # unchanged
            return doc.get("message", "")

        # more than 10 rules: the model's limit
        msg = refused({"rules": [rule([DEST_B], "r%d" % i) for i in range(11)]}, MODEL_LIMIT_ERROR)
        if MODEL_LIMIT_ERROR == "InvalidParameterException":
            self.assertIn("failed to satisfy constraint", msg)
        # the same through boto3 without its client-side validation
        code, _ = error_of(client("ecr", A, validate=False).put_replication_configuration,
                           replicationConfiguration={"rules": [rule([DEST_B]) for _ in range(11)]})
        self.assertEqual(code, MODEL_LIMIT_ERROR)
        self.assertRegistry(kept)
        # 10 rules are fine
        ten = {"rules": [rule([DEST_B], "ten%d" % i) for i in range(10)]}
        out = client("ecr", A).put_replication_configuration(replicationConfiguration=ten)
        self.assertEqual(normalized(out["replicationConfiguration"]), normalized(ten))
        kept = set_rules(A, rule([DEST_B], "kept"))
        # 26 unique destinations across the rules (every one a configured peer)
        dests = [DEST_B, DEST_C] + DUMMY_DESTS
        self.assertEqual(len(dests), 26)
        refused({"rules": [rule(dests[:13], "never-a"), rule(dests[13:], "never-b")]}, "InvalidParameterException")
        refused({"rules": [rule(dests, "never-a")]}, "InvalidParameterException")
        # 25 unique ones are fine, a destination repeated in another rule counts once
        # (no repository matches the filters: nothing is ever sent to the dummies)
        ok = {"rules": [rule(dests[:25], "zz-never-a"), rule([DEST_B], "zz-never-b")]}
        out = client("ecr", A).put_replication_configuration(replicationConfiguration=ok)
        self.assertEqual(normalized(out["replicationConfiguration"]), normalized(ok))
        kept = set_rules(A, rule([DEST_B], "kept"))
        # the source registry itself
        refused({"rules": [rule([{"region": A.region, "registryId": A.account_id}], "prod")]},
                "InvalidParameterException", "cannot be the same as the source registry")
        refused({"rules": [rule([DEST_B, {"region": A.region, "registryId": A.account_id}])]},
                "InvalidParameterException", "cannot be the same as the source registry")
        # not in replication.peers: an unknown registry, a peer's account in another region
        refused({"rules": [rule([{"region": "sa-east-1", "registryId": "999999999999"}], "prod")]},
                "InvalidParameterException", "not a configured peer")
        refused({"rules": [rule([{"region": "us-west-1", "registryId": B_ACCOUNT}])]},
                "InvalidParameterException", "not a configured peer")
        refused({"rules": [rule([DEST_B], "prod"), rule([{"region": C_REGION, "registryId": B_ACCOUNT}])]},
                "InvalidParameterException", "not a configured peer")
        set_rules(A)
        self.assertRegistry({"rules": []})


# ====================================================================== 2
class Test02SkopeoPushes(ReplCase):
    """prod* -> B. Each test pushes its own repositories."""

    @classmethod
    def setUpClass(cls):
        need_skopeo()
        set_rules(A, rule([DEST_B], "prod"))
        lay = Layout(os.path.join(WORK, "layout-02"))
        shared = os.urandom(200 * 1024)
        cls.app = lay.add_image("amd64", [
            ([("etc/app.txt", b"the replicated app\n"), ("data/run", b"#!/bin/sh\n")], True),
            ([("data/shared.bin", shared)], False),
            ([("data/app.bin", os.urandom(64 * 1024))], True)], tag="app")
        cls.shared = lay.add_image("amd64", [
            ([("data/shared.bin", shared)], False),
            ([("data/second.bin", os.urandom(32 * 1024))], False)], tag="shared")
        cls.devx = lay.add_image("amd64", [([("etc/dev.txt", b"not replicated\n")], True)], tag="devx")
        children = [lay.add_image(arch, [([("etc/arch", arch.encode())], True),
                                         ([("data/%s.bin" % arch, os.urandom(48 * 1024))], False)])
                    for arch in ("amd64", "arm64")]
        cls.children = children
        cls.index_desc, cls.index_raw = lay.add_index([c["manifest"] for c in children], "multi")
        lay.finish()
        cls.layout = lay.path

    def test_1_image_tag_and_repository_settings(self):
        settings = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True},
                    "encryptionConfiguration": {"encryptionType": "KMS"}}
        A.create_repository("prod/app", **settings)
        self.assertIsNone(images_of(B, "prod/app"))
        img = self.app
        d = img["manifest"]["digest"]
        skopeo_push(A, self.layout, "app", "prod/app:v1")
        self.assertImageOn(A, "prod/app", "v1", img["manifest_raw"])
        got = wait_status(self, A, "prod/app", d, {B_ACCOUNT: "COMPLETE"})
        # the whole answer, by digest and by tag
        out = replication_statuses(A, "prod/app", {"imageDigest": d})
        self.assertEqual(out["repositoryName"], "prod/app")
        self.assertTrue(out["imageId"], out)
        self.assertEqual((out["imageId"].get("imageDigest", d), out["imageId"].get("imageTag", "v1")), (d, "v1"), out)
        self.assertEqual(out["replicationStatuses"], [{"region": B_REGION, "registryId": B_ACCOUNT,
                                                       "status": "COMPLETE"}])
        by_tag = replication_statuses(A, "prod/app", {"imageTag": "v1"})
        self.assertEqual(by_tag["repositoryName"], "prod/app")
        self.assertTrue(by_tag["imageId"], by_tag)
        self.assertEqual((by_tag["imageId"].get("imageDigest", d), by_tag["imageId"].get("imageTag", "v1")),
                         (d, "v1"), by_tag)
        self.assertEqual(by_tag["replicationStatuses"], out["replicationStatuses"])
        # on B: the same bytes, the same digest, tag v1
        self.assertImageOn(B, "prod/app", "v1", img["manifest_raw"])
        self.assertImageOn(B, "prod/app", d, img["manifest_raw"])
        self.assertEqual(images_of(B, "prod/app"), {d: ["v1"]})
        self.assertEqual(client("ecr", B).list_images(repositoryName="prod/app")["imageIds"],
                         [{"imageDigest": d, "imageTag": "v1"}])
        for desc in [{"digest": img["config_digest"]}] + img["layers"]:
            self.assertEqual(blob_sha256(B, "prod/app", desc["digest"])[:2], (200, desc["digest"]))
        # B's repository was created with A's settings
        src, dst = repository(A, "prod/app"), repository(B, "prod/app")
        for k in ("imageTagMutability", "imageScanningConfiguration", "encryptionConfiguration"):
            self.assertEqual(dst.get(k), src.get(k), "%s: A %r, B %r" % (k, src, dst))
        self.assertEqual((dst["imageTagMutability"], dst["imageScanningConfiguration"]["scanOnPush"],
                          dst["encryptionConfiguration"]["encryptionType"]), ("IMMUTABLE", True, "KMS"), dst)
        self.assertEqual(dst["registryId"], B_ACCOUNT)
        # the aws CLI says the same (if there is one)
        found = find_cli(1) or find_cli(2)
        if found:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="",
                       AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1", AWS_DEFAULT_REGION=A.region,
                       AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1])
            _, cli_out, _ = run(list(found[0]) + ["ecr", "describe-image-replication-status", "--repository-name",
                                                  "prod/app", "--image-id", "imageDigest=" + d, "--endpoint-url",
                                                  A.base, "--output", "json"], env=env, timeout=120)
            self.assertEqual(json.loads(cli_out)["replicationStatuses"], out["replicationStatuses"])
        else:
            loud_note("no aws CLI: describe-image-replication-status through the CLI not checked")
        # a delete on A is not replicated
        res = client("ecr", A).batch_delete_image(repositoryName="prod/app", imageIds=[{"imageDigest": d}])
        self.assertEqual(res["failures"], [], res)
        self.assertEqual(images_of(A, "prod/app"), {})
        time.sleep(4)                          # two retry_max_seconds periods
        self.assertImageOn(B, "prod/app", "v1", img["manifest_raw"])
        self.assertEqual(images_of(B, "prod/app"), {d: ["v1"]})
        self.assertEqual(got, expected({B_ACCOUNT: "COMPLETE"}))

    def test_2_repository_no_rule_matches(self):
        A.create_repository("dev/x")
        d = self.devx["manifest"]["digest"]
        skopeo_push(A, self.layout, "devx", "dev/x:v1")
        self.assertImageOn(A, "dev/x", "v1", self.devx["manifest_raw"])
        end = time.monotonic() + 4
        while True:
            out = replication_statuses(A, "dev/x", {"imageDigest": d})
            self.assertEqual(out["replicationStatuses"], [], out)
            if time.monotonic() >= end:
                break
            time.sleep(0.5)
        self.assertEqual(replication_statuses(A, "dev/x", {"imageTag": "v1"})["replicationStatuses"], [])
        self.assertIsNone(images_of(B, "dev/x"))
        self.assertNotOn(B, "dev/x", "v1")

    def test_3_unknown_image_and_repository(self):
        A.create_repository("prod/empty")
        ecr = client("ecr", A)
        code, _ = error_of(ecr.describe_image_replication_status, repositoryName="prod/empty",
                           imageId={"imageDigest": sha256(b"no such image")})
        self.assertEqual(code, "ImageNotFoundException")
        code, _ = error_of(ecr.describe_image_replication_status, repositoryName="prod/empty",
                           imageId={"imageTag": "nope"})
        self.assertEqual(code, "ImageNotFoundException")
        code, _ = error_of(ecr.describe_image_replication_status, repositoryName="prod/no-such-repo",
                           imageId={"imageTag": "v1"})
        self.assertEqual(code, "RepositoryNotFoundException")

    def test_4_multi_arch_index_with_its_children(self):
        A.create_repository("prod/multi")
        d = self.index_desc["digest"]
        skopeo_push(A, self.layout, "multi", "prod/multi:v1", all_images=True)
        self.assertImageOn(A, "prod/multi", "v1", self.index_raw)
        wait_status(self, A, "prod/multi", d, {B_ACCOUNT: "COMPLETE"})
        self.assertImageOn(B, "prod/multi", "v1", self.index_raw)      # and each child, by digest, with blobs
        for child in self.children:
            self.assertImageOn(B, "prod/multi", child["manifest"]["digest"], child["manifest_raw"])
        self.assertEqual(images_of(B, "prod/multi").get(d), ["v1"])

    def test_5_second_repository_sharing_a_layer(self):
        self.assertEqual(self.app["layers"][1]["digest"], self.shared["layers"][0]["digest"])
        for repo in ("prod/first", "prod/second"):
            A.create_repository(repo)
        skopeo_push(A, self.layout, "app", "prod/first:v1")
        skopeo_push(A, self.layout, "shared", "prod/second:v1")
        wait_status(self, A, "prod/first", self.app["manifest"]["digest"], {B_ACCOUNT: "COMPLETE"})
        wait_status(self, A, "prod/second", self.shared["manifest"]["digest"], {B_ACCOUNT: "COMPLETE"})
        self.assertImageOn(B, "prod/first", "v1", self.app["manifest_raw"])
        self.assertImageOn(B, "prod/second", "v1", self.shared["manifest_raw"])
        common = self.shared["layers"][0]
        for repo in ("prod/first", "prod/second"):
            self.assertEqual(blob_sha256(B, repo, common["digest"]), (200, common["digest"], common["size"]))

    def test_6_ecr_put_image(self):
        A.create_repository("prod/putimage")
        cfg, layer = new_config_blob(), os.urandom(30000)
        A.push_blob("prod/putimage", cfg)
        A.push_blob("prod/putimage", layer)
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}]},
                         indent=2).encode()
        out = client("ecr", A).put_image(repositoryName="prod/putimage", imageManifest=raw.decode(),
                                         imageManifestMediaType=OCI_MANIFEST, imageTag="v1")
        self.assertEqual(out["image"]["imageId"]["imageDigest"], sha256(raw))
        wait_status(self, A, "prod/putimage", sha256(raw), {B_ACCOUNT: "COMPLETE"})
        self.assertImageOn(B, "prod/putimage", "v1", raw)
        self.assertEqual(images_of(B, "prod/putimage"), {sha256(raw): ["v1"]})
        got = client("ecr", B).batch_get_image(repositoryName="prod/putimage", imageIds=[{"imageTag": "v1"}],
                                               acceptedMediaTypes=[OCI_MANIFEST])
        self.assertEqual(got["failures"], [], got)
        self.assertEqual(got["images"][0]["imageManifest"].encode(), raw)


# ====================================================================== 3
class Test03DockerPush(ReplCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = None
        dockerd = os.environ.get("BERTH_DOCKERD") or shutil.which("dockerd") or \
            (os.path.exists("/usr/sbin/dockerd") and "/usr/sbin/dockerd")
        if not dockerd or not os.path.exists(dockerd):
            loud_skip("dockerd not found (CI must install Debian package docker.io)")
        cls.cli = os.environ.get("BERTH_DOCKER_CLI") or \
            ("/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker"))
        if not cls.cli:
            loud_skip("docker client not found")
        set_rules(A, rule([DEST_B], "prod"))
        lay = Layout(os.path.join(WORK, "layout-03"))
        cls.img = lay.add_image("amd64", [
            ([("etc/docker.txt", b"pushed by docker\n"), ("data/run", b"#!/bin/sh\n")], True),
            ([("data/docker.bin", os.urandom(256 * 1024))], True)], tag="v1")
        lay.finish()
        cls.layout = lay.path
        # loopback registries are insecure (plain HTTP) for dockerd by default; A is named anyway
        cls.dir = tempfile.mkdtemp(prefix="berth-repl-dockerd-", dir="/tmp")   # short: containerd's socket
        daemon = PrivateDockerd(dockerd, cls.dir, insecure_registry=A.hostport)
        try:
            daemon.start()
        except AssertionError:
            subprocess.run(["rm", "-rf", cls.dir], timeout=120)
            raise
        cls.daemon = daemon

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            cls.daemon.stop()
            if not os.environ.get("BERTH_KEEP_LOGS"):
                subprocess.run(["rm", "-rf", cls.dir], timeout=120)

    def docker(self, *args, check=True, input_data=None):
        return run([self.cli] + list(args), env=self.daemon.env, check=check, input_data=input_data)

    def login(self, srv):
        _, out, _ = self.docker("login", "--username", "AWS", "--password-stdin", srv.hostport,
                                input_data=srv.login_token().encode())
        self.assertIn("Login Succeeded", out)

    def test_docker_push_replicated_and_pulled_from_the_peer(self):
        # the image docker pushes: pulled from a repository no rule matches
        A.create_repository("stage/base")
        A.create_repository("prod/docker")
        upload_layout_http(A, self.layout, "stage/base", "v1")
        self.login(A)
        src, dst = "%s/stage/base:v1" % A.hostport, "%s/prod/docker:v1" % A.hostport
        self.docker("pull", src)
        self.docker("tag", src, dst)
        _, out, _ = self.docker("push", dst)
        m = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
        self.assertTrue(m, out)
        d = m.group(1)
        r = manifest(A, "prod/docker", "v1")
        self.assertEqual((r.status, sha256(r.body)), (200, d), r.describe())
        raw = r.body
        wait_status(self, A, "prod/docker", d, {B_ACCOUNT: "COMPLETE"})
        self.assertImageOn(B, "prod/docker", "v1", raw)
        self.assertEqual(images_of(B, "prod/docker"), images_of(A, "prod/docker"))
        self.assertEqual(images_of(B, "prod/docker"), {d: ["v1"]})
        self.assertIsNone(images_of(B, "stage/base"))
        # docker pulls it from B
        self.docker("rmi", "-f", self.img["config_digest"])
        self.login(B)
        ref = "%s/prod/docker:v1" % B.hostport
        self.docker("pull", ref)
        _, out, _ = self.docker("image", "inspect", "--format", "{{.Id}}", ref)
        self.assertEqual(out.strip(), self.img["config_digest"])
        self.docker("rmi", "-f", self.img["config_digest"])


# ====================================================================== 4
class Test04PeerDown(ReplCase):

    def test_peer_stopped_then_back(self):
        set_rules(A, rule([DEST_B], "prod"))
        A.create_repository("prod/outage")
        port, data_dir = B.port, B.data_dir
        pushed = {}
        self.assertIsNotNone(B.stop(), "B did not stop on SIGTERM")
        try:
            for i in range(1, 6):
                d, raw, _ = A.push_image("prod/outage", "t%d" % i, layers=[os.urandom(20000 + i), os.urandom(3000)])
                pushed["t%d" % i] = (d, raw)
            for tag, (d, _) in pushed.items():
                got = wait_listed(self, A, "prod/outage", d)
                self.assertEqual(got, expected({B_ACCOUNT: "IN_PROGRESS"}), tag)
            # retried with backoff, not given up on
            for tag, (d, _) in pushed.items():
                assert_stays(self, A, "prod/outage", d, {B_ACCOUNT: "IN_PROGRESS"}, seconds=1.0)
            assert_stays(self, A, "prod/outage", pushed["t5"][0], {B_ACCOUNT: "IN_PROGRESS"}, seconds=4.0)
        finally:
            B.start()                    # the fixture keeps the port and the data directory
        self.assertEqual((B.port, B.data_dir), (port, data_dir))
        for tag, (d, _) in pushed.items():
            wait_status(self, A, "prod/outage", d, {B_ACCOUNT: "COMPLETE"}, timeout=120)
        for tag, (d, raw) in pushed.items():
            self.assertImageOn(B, "prod/outage", tag, raw)
        self.assertEqual(images_of(B, "prod/outage"), {d: [tag] for tag, (d, _) in pushed.items()})


# ====================================================================== 5
class Test05SourceKilled(ReplCase):

    def test_source_sigkilled_mid_replication(self):
        proxy = ThrottledProxy(B.port)
        a5 = BerthServer("repl-a5", auth="sigv4", v2_auth=True,
                         config=replication_config([peer(B, endpoint=proxy.base)]))
        self.servers = (a5,)
        try:
            a5.start()
            set_rules(a5, rule([DEST_B], "prod"))
            a5.create_repository("prod/big")
            t0 = time.monotonic()
            lay = Layout(os.path.join(WORK, "layout-05"))
            img = lay.add_image("amd64", [([("etc/big.txt", b"big\n")], True),
                                          ([("data/big.bin", BIG_MB << 20)], False)], tag="v1")
            lay.finish()
            big = img["layers"][1]
            sys.stderr.write("\n  built a %d MiB layer in %.1fs\n" % (BIG_MB, time.monotonic() - t0))
            d = img["manifest"]["digest"]
            proxy.rate = max(1 << 20, big["size"] / 10.0)      # ~10 s for the big layer towards B
            upload_layout_http(a5, lay.path, "prod/big", "v1")  # streamed from the file
            self.assertImageOn(a5, "prod/big", "v1", img["manifest_raw"])
            # kill once the big layer is on its way (or, failing that, whatever the state is)
            deadline = time.monotonic() + 60
            state = None
            while time.monotonic() < deadline:
                state = statuses(a5, "prod/big", d)
                if proxy.sent >= (2 << 20) or state.get(B_ACCOUNT, (None, None))[1] in ("COMPLETE", "FAILED"):
                    break
                time.sleep(0.1)
            sent = proxy.sent
            a5.kill9()
            sys.stderr.write("  killed A with %d bytes forwarded to B; status then: %r\n" % (sent, state))
            if state and state.get(B_ACCOUNT, (None, None))[1] == "COMPLETE":
                loud_note("the replication was already COMPLETE when A was killed: only the end state is checked")
            else:
                self.assertEqual(state, expected({B_ACCOUNT: "IN_PROGRESS"}))
                self.assertGreaterEqual(sent, 2 << 20, "the big layer never started towards B within 60 s")
            proxy.rate = None
            a5.start()                                          # same data directory, port and configuration
            wait_status(self, a5, "prod/big", d, {B_ACCOUNT: "COMPLETE"}, timeout=300)
            self.assertImageOn(B, "prod/big", "v1", img["manifest_raw"])
            self.assertEqual(images_of(B, "prod/big"), {d: ["v1"]})
            for desc in img["layers"] + [{"digest": img["config_digest"], "size": len(img["config_raw"])}]:
                self.assertEqual(blob_sha256(B, "prod/big", desc["digest"]), (200, desc["digest"], desc["size"]))
            shutil.rmtree(lay.path, ignore_errors=True)
        finally:
            a5.stop()
            proxy.stop()
            a5.cleanup()


# ====================================================================== 6
class Test06ThreeProcesses(ReplCase):

    def test_two_destinations_one_down(self):
        set_rules(A, rule([DEST_B, DEST_C], "fan"))
        both = {B_ACCOUNT: "COMPLETE", C_ACCOUNT: "COMPLETE"}
        A.create_repository("fan/one")
        d1, raw1, _ = A.push_image("fan/one", "v1", layers=[os.urandom(40000), os.urandom(5000)])
        got = wait_status(self, A, "fan/one", d1, both)
        self.assertEqual(got, expected(both))
        for srv in (B, C):
            self.assertImageOn(srv, "fan/one", "v1", raw1)
            self.assertEqual(images_of(srv, "fan/one"), {d1: ["v1"]})
        # C down: B completes, C waits
        self.assertIsNotNone(C.stop(), "C did not stop on SIGTERM")
        try:
            A.create_repository("fan/two")
            d2, raw2, _ = A.push_image("fan/two", "v1", layers=[os.urandom(40000)])
            deadline = time.monotonic() + STATUS_TIMEOUT
            while True:
                got = statuses(A, "fan/two", d2)
                if got.get(B_ACCOUNT, (None, None))[1] == "COMPLETE" or time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(got, expected({B_ACCOUNT: "COMPLETE", C_ACCOUNT: "IN_PROGRESS"}))
            self.assertImageOn(B, "fan/two", "v1", raw2)
            assert_stays(self, A, "fan/two", d2, {B_ACCOUNT: "COMPLETE", C_ACCOUNT: "IN_PROGRESS"}, seconds=3.0)
        finally:
            C.start()
        wait_status(self, A, "fan/two", d2, both, timeout=120)
        self.assertImageOn(C, "fan/two", "v1", raw2)
        self.assertEqual(images_of(C, "fan/two"), {d2: ["v1"]})
        self.assertEqual(statuses(A, "fan/one", d1), expected(both))

    def test_rule_without_filters_matches_every_repository(self):
        set_rules(A, rule([DEST_C]))
        try:
            A.create_repository("misc/anything")
            d, raw, _ = A.push_image("misc/anything", "v1")
            wait_status(self, A, "misc/anything", d, {C_ACCOUNT: "COMPLETE"})
            self.assertImageOn(C, "misc/anything", "v1", raw)
            self.assertIsNone(images_of(B, "misc/anything"))
        finally:
            set_rules(A)


# ====================================================================== 7
class Test07PeerAuthorization(ReplCase):

    @classmethod
    def setUpClass(cls):
        iam = client("iam", B)

        def user(name, actions):
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="replication", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
            k = iam.create_access_key(UserName=name)["AccessKey"]
            return k["AccessKeyId"], k["SecretAccessKey"]

        cls.ok_key = user("replicator", ["ecr:GetAuthorizationToken", "ecr:CreateRepository", "ecr:ReplicateImage"])
        cls.no_key = user("no-replicate", ["ecr:GetAuthorizationToken", "ecr:CreateRepository"])

    def source(self, name, key):
        srv = BerthServer(name, auth="sigv4", v2_auth=True, config=replication_config([peer(B, creds=key)]))
        self.servers = tuple(self.servers) + (srv,)
        srv.start()
        set_rules(srv, rule([DEST_B], "prod"))
        return srv

    def test_1_replicate_image_is_enough(self):
        src = self.source("repl-a7-ok", self.ok_key)
        try:
            src.create_repository("prod/authz-ok", imageTagMutability="IMMUTABLE")
            d, raw, _ = src.push_image("prod/authz-ok", "v1", layers=[os.urandom(30000), os.urandom(2000)])
            wait_status(self, src, "prod/authz-ok", d, {B_ACCOUNT: "COMPLETE"})
            self.assertImageOn(B, "prod/authz-ok", "v1", raw)
            self.assertEqual(repository(B, "prod/authz-ok")["imageTagMutability"], "IMMUTABLE")
            # the same key may not push by itself: its replication pushes were ecr:ReplicateImage
            st, _, doc = B.ecr_call("PutImage", {"repositoryName": "prod/authz-ok", "imageManifest": raw.decode(),
                                                 "imageManifestMediaType": OCI_MANIFEST, "imageTag": "direct"},
                                    access_key=self.ok_key[0], secret=self.ok_key[1])
            self.assertEqual((st, doc.get("__type")), (400, "AccessDeniedException"), doc)
            self.assertIn("ecr:PutImage", doc.get("message", ""), doc)
            token = B.login_token(*self.ok_key)
            r = B.req("POST", "/v2/prod/authz-ok/blobs/uploads/", headers={"Authorization": basic_auth_value(token)})
            self.assertEqual(r.status, 403, r.describe())
            self.assertIn(b"ecr:InitiateLayerUpload", r.body, r.describe())
            self.assertNotOn(B, "prod/authz-ok", "direct")
        finally:
            src.stop()
            src.cleanup()

    def test_2_without_replicate_image_access_denied(self):
        src = self.source("repl-a7-denied", self.no_key)
        try:
            src.create_repository("prod/authz-denied")
            d, raw, _ = src.push_image("prod/authz-denied", "v1", layers=[os.urandom(30000)])
            wait_status(self, src, "prod/authz-denied", d, {B_ACCOUNT: ("FAILED", "ACCESS_DENIED")})
            # a permanent refusal: not retried into another state
            assert_stays(self, src, "prod/authz-denied", d, {B_ACCOUNT: ("FAILED", "ACCESS_DENIED")}, seconds=4.0)
            self.assertNotOn(B, "prod/authz-denied", "v1")
            self.assertNotOn(B, "prod/authz-denied", d)
            self.assertIn(images_of(B, "prod/authz-denied"), (None, {}))
        finally:
            src.stop()
            src.cleanup()

    def test_3_tag_immutable_on_the_peer(self):
        set_rules(A, rule([DEST_B], "prod"))
        B.create_repository("prod/immut", imageTagMutability="IMMUTABLE")
        theirs, theirs_raw, _ = B.push_image("prod/immut", "t")
        A.create_repository("prod/immut")
        ours, _, _ = A.push_image("prod/immut", "t")
        self.assertNotEqual(ours, theirs)
        wait_status(self, A, "prod/immut", ours, {B_ACCOUNT: ("FAILED", "TAG_IMMUTABLE")})
        assert_stays(self, A, "prod/immut", ours, {B_ACCOUNT: ("FAILED", "TAG_IMMUTABLE")}, seconds=3.0)
        self.assertImageOn(B, "prod/immut", "t", theirs_raw)
        self.assertEqual(images_of(B, "prod/immut").get(theirs), ["t"])
        self.assertNotIn("t", images_of(B, "prod/immut").get(ours, []))


if __name__ == "__main__":
    unittest.main(verbosity=2)
