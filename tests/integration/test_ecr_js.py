"""Berth's Amazon ECR API through the AWS SDK for JavaScript v3: starts a Berth
server and runs js/ecr.test.mjs with `node --test`.

Run:  BERTH_BIN=/path/to/berth python3 -m unittest -v test_ecr_js.py
(from tests/integration/).  Needs node >= 18 and npm (Debian packages nodejs,
npm); skipped loudly without them.  When js/node_modules is missing it runs
`npm ci` first (network access to the npm registry).

Environment:
  BERTH_NODE, BERTH_NPM   node / npm to use (default: PATH lookup)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_fixture import (  # noqa: E402
    BerthServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, pick_unsupported, REPOSITORY_NAME_OPS,
)

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NPM_TIMEOUT = 600
NODE_TIMEOUT = 300


def loud_skip(what):
    sys.stderr.write("\n" + "!" * 72 + "\n!!! SKIPPING: %s\n" % what + "!" * 72 + "\n")
    raise unittest.SkipTest(what)


class TestJsSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = os.environ.get("BERTH_NODE") or shutil.which("node") or shutil.which("nodejs")
        cls.npm = os.environ.get("BERTH_NPM") or shutil.which("npm")
        if not cls.node:
            loud_skip("node not found (Debian package nodejs)")
        out = subprocess.run([cls.node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        m = re.match(r"v(\d+)\.", out)
        if not m or int(m.group(1)) < 18:
            loud_skip("node %r is older than 18" % out)
        cls.node_version = out
        if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-ecr")):
            if not cls.npm:
                loud_skip("npm not found (Debian package npm) and js/node_modules is missing")
            sys.stderr.write("\n  npm ci in %s\n" % JS_DIR)
            try:
                p = subprocess.run([cls.npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True,
                                   text=True, timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as e:
                raise AssertionError("npm ci timed out after %ss:\n%s" % (NPM_TIMEOUT, e.stderr))
            if p.returncode != 0:
                raise AssertionError("npm ci failed (rc=%d; it needs the npm registry):\n%s\n%s" % (
                    p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
        cls.server = BerthServer("ecr-js", auth="sigv4")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        srv = getattr(cls, "server", None)
        if srv is not None:
            srv.stop()
            srv.cleanup()

    def test_node_sdk(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        prefix = "js%d" % os.getpid()
        # operations documented as not yet implemented, with their input
        unsupported = [[op, {"repositoryName": prefix + "/unsupported"} if op in REPOSITORY_NAME_OPS else {}]
                       for op in pick_unsupported()]
        env.update(BERTH_ECR_ENDPOINT=self.server.base, BERTH_ECR_UNSUPPORTED=json.dumps(unsupported), BERTH_ECR_REGION="us-east-1",
                   BERTH_ECR_ACCESS_KEY_ID=ROOT_ACCESS_KEY_ID, BERTH_ECR_SECRET_ACCESS_KEY=ROOT_SECRET_ACCESS_KEY,
                   BERTH_ECR_PREFIX=prefix,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
        cmd = [self.node, "--test", "--test-reporter=tap", "ecr.test.mjs"]
        try:
            p = subprocess.run(cmd, cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.server.dump_log(tail=40)
            self.fail("node --test timed out after %ss:\n%s\n%s" % (NODE_TIMEOUT, e.stdout, e.stderr))
        summary = [l for l in p.stdout.splitlines() if re.match(r"^# (tests|pass|fail|skipped|duration)", l)]
        sys.stderr.write("\n  node %s: %s\n" % (self.node_version, ", ".join(s[2:] for s in summary)))
        if p.returncode != 0:
            self.server.dump_log(tail=40)
            self.fail("node --test failed (rc=%d):\n%s\n%s" % (p.returncode, p.stdout[-12000:], p.stderr[-3000:]))
        self.assertTrue(any(re.match(r"^# pass [1-9]", l) for l in summary), p.stdout[-3000:])
        self.assertTrue(any(l == "# fail 0" for l in summary), p.stdout[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
