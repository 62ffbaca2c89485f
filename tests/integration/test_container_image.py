"""docker/Dockerfile really builds and runs here: no base image can be pulled from the internet, so
the test makes two Debian 12 bases with debootstrap (the build stage's with
`install-deps.sh build`, the run stage's with `install-deps.sh runtime`), imports them into a
private dockerd and builds the image with `--network none` from them. Then it runs the image,
waits for its HEALTHCHECK to turn healthy, logs in with an ECR token, pushes with docker, pulls
back by digest, and checks a stop and start keep the data in the volume.

The bases are cached as tarballs between runs (BERTH_TEST_CACHE, default /var/cache/berth-tests),
keyed by their package lists; making them fetches Debian packages once (about 5 minutes).
Needs root (debootstrap, chroot, dockerd). Labelled "full": not in CI's selection."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from berth_fixture import (REPO_ROOT, one_file_rootfs, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, ecr_call, free_port,
                           http_request)
from private_dockerd import PrivateDockerd

CACHE = os.environ.get("BERTH_TEST_CACHE", "/var/cache/berth-tests")
MIRROR = os.environ.get("BERTH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IMAGE = "berth-test/berth:latest"


def log(msg):
    sys.stderr.write("  %s\n" % msg)


def sh(cmd, timeout, env=None, input_data=None, check=True):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, input=input_data,
                       stdin=None if input_data is not None else subprocess.DEVNULL)
    log("$ %s  [%.1fs, rc=%d]" % (" ".join(cmd)[:160], time.monotonic() - t0, p.returncode))
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(cmd)[:300], p.returncode, p.stdout[-4000:],
                                                           p.stderr[-4000:]))
    return p


def base_tarball(profile):
    """A Debian 12 minbase with `install-deps.sh PROFILE` applied, as a tarball in the cache."""
    script = os.path.join(REPO_ROOT, "scripts", "install-deps.sh")
    pkgs = sh(["bash", script, profile, "--list"], 30).stdout.split()
    key = hashlib.sha256(("bookworm minbase 2\n" + " ".join(sorted(pkgs))).encode()).hexdigest()[:16]
    tar = os.path.join(CACHE, "bookworm-%s-%s.tar" % (profile, key))
    if os.path.exists(tar):
        return tar, key
    os.makedirs(CACHE, exist_ok=True)
    root = tempfile.mkdtemp(prefix="rootfs-%s-" % profile, dir=CACHE)
    os.chmod(root, 0o755)  # the image's "/": mkdtemp's 0700 would lock every user but root out
    try:
        sh(["debootstrap", "--variant=minbase", "bookworm", root, MIRROR], 1800)
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
        shutil.copy(script, os.path.join(root, "tmp", "install-deps.sh"))
        # apt in the new root, in a private mount namespace so nothing stays mounted on failure.
        inner = ("mount --make-rprivate / && mount -t proc proc '%s/proc' && "
                 "chroot '%s' /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                 "DEBIAN_FRONTEND=noninteractive bash -c "
                 "'bash /tmp/install-deps.sh %s && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh'"
                 % (root, root, profile))
        sh(["unshare", "--mount", "--pid", "--fork", "bash", "-c", inner], 1800)
        os.remove(os.path.join(root, "etc", "resolv.conf"))
        sh(["tar", "-C", root, "--numeric-owner", "-cf", tar + ".part", "."], 600)
        os.rename(tar + ".part", tar)
    finally:
        subprocess.run(["rm", "-rf", root], timeout=600)
    return tar, key


class TestContainerImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("debootstrap", "unshare", "dockerd", "docker-compose"):
            if not shutil.which(tool):
                raise AssertionError("%s not found: scripts/install-deps.sh test installs it" % tool)
        if os.geteuid() != 0:
            raise AssertionError("needs root (debootstrap, chroot, dockerd)")
        cls.cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
        cls.dir = tempfile.mkdtemp(prefix="berth-image-", dir="/tmp")
        cls.daemon = PrivateDockerd(shutil.which("dockerd"), cls.dir)
        cls.daemon.start()
        cls.env = cls.daemon.env
        cls.container = None
        try:
            bases = {}
            for profile in ("build", "runtime"):
                tar, key = base_tarball(profile)
                ref = "berth-test/bookworm-%s:%s" % (profile, key)
                cls.docker("import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           tar, ref, timeout=900)
                bases[profile] = ref
            t0 = time.monotonic()
            cls.docker("build", "--network", "none", "-f", os.path.join(REPO_ROOT, "docker", "Dockerfile"),
                       "--build-arg", "BUILD_BASE=" + bases["build"], "--build-arg",
                       "RUNTIME_BASE=" + bases["runtime"], "-t", IMAGE, REPO_ROOT, timeout=2400)
            log("image built in %.0f s" % (time.monotonic() - t0))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "daemon", None):
            if cls.container:
                cls.docker("rm", "-f", cls.container, check=False)
            cls.daemon.stop()
            cls.daemon = None
        if not os.environ.get("BERTH_KEEP_LOGS"):
            subprocess.run(["rm", "-rf", cls.dir], timeout=600)

    @classmethod
    def docker(cls, *args, check=True, timeout=300, input_data=None):
        return sh([cls.cli] + list(args), timeout, env=cls.env, input_data=input_data, check=check)

    def inspect(self, what, fmt):
        return json.loads(self.docker("inspect", "--format", "{{json %s}}" % fmt, what).stdout)

    def wait_healthy(self, name, timeout=120):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.inspect(name, ".State.Health.Status")
            if status == "healthy":
                return
            if not self.inspect(name, ".State.Running"):
                break
            time.sleep(1)
        logs = self.docker("logs", name, check=False)
        self.fail("container not healthy (%s); log:\n%s%s" % (status, logs.stdout[-3000:], logs.stderr[-3000:]))

    def test_1_image_shape(self):
        cfg = self.inspect(IMAGE, ".Config")
        self.assertEqual(cfg["User"], "berth")
        self.assertEqual(cfg["Entrypoint"], ["berth", "serve"])
        self.assertIn("5000/tcp", cfg["ExposedPorts"])
        self.assertIn("/var/lib/berth", cfg["Volumes"])
        self.assertEqual(cfg["StopSignal"], "SIGTERM")
        self.assertEqual(cfg["Healthcheck"]["Test"], ["CMD", "berth", "health"])
        self.assertIn("BERTH_DATA_DIR=/var/lib/berth", cfg["Env"])
        # The run stage has the runtime libraries only: no compiler, no headers.
        p = self.docker("run", "--rm", "--network", "none", "--entrypoint", "bash", IMAGE, "-c",
                        "command -v g++ cc cmake; ls /usr/include/boost 2>/dev/null | head -1; "
                        "ldd /usr/local/bin/berth | grep -c 'not found'; id -u", check=False)
        self.assertEqual(p.stdout.split(), ["0", "10001"], p.stdout + p.stderr)
        size = self.inspect(IMAGE, ".Size")
        log("image size %.1f MB" % (size / 1e6))

    def test_2_runs_healthy_serves_docker_and_keeps_its_volume(self):
        port = free_port()
        name = "berth-image-test"
        type(self).container = name
        self.docker("volume", "create", "berth-image-data")
        self.docker("run", "-d", "--name", name, "--network", "host", "--health-interval", "2s",
                    "-e", "BERTH_LISTEN=127.0.0.1:%d" % port, "-e", "BERTH_ROOT_ACCESS_KEY_ID=" + ROOT_ACCESS_KEY_ID,
                    "-e", "BERTH_ROOT_SECRET_ACCESS_KEY=" + ROOT_SECRET_ACCESS_KEY,
                    "-v", "berth-image-data:/var/lib/berth", IMAGE)
        self.wait_healthy(name)
        self.assertEqual(self.docker("exec", name, "id", "-un").stdout.strip(), "berth")
        st, _, _ = http_request("127.0.0.1", port, "GET", "/readyz")
        self.assertEqual(st, 200)

        def ecr(op, payload):
            st, _, doc = ecr_call(op, payload, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, port=port)
            self.assertEqual(st, 200, doc)
            return doc

        ecr("CreateRepository", {"repositoryName": "team/app"})
        token = ecr("GetAuthorizationToken", {})["authorizationData"][0]["authorizationToken"]
        import base64
        password = base64.b64decode(token).decode().split(":", 1)[1]
        hostport = "127.0.0.1:%d" % port
        self.docker("login", "--username", "AWS", "--password-stdin", hostport, input_data=password)

        # A one-file image, pushed and pulled back by digest.
        rootfs = one_file_rootfs(self.dir, "image")
        ref = "%s/team/app:v1" % hostport
        self.docker("import", rootfs, ref)
        self.docker("push", ref)
        digest = self.inspect(ref, ".RepoDigests")[0].split("@", 1)[1]
        images = ecr("DescribeImages", {"repositoryName": "team/app"})["imageDetails"]
        self.assertEqual([(i["imageDigest"], i.get("imageTags")) for i in images], [(digest, ["v1"])])

        # A clean stop (SIGTERM, exit 0), a start on the same volume, and the image is still there.
        self.docker("stop", name, timeout=60)
        self.assertEqual(self.inspect(name, ".State.ExitCode"), 0)
        self.docker("rmi", ref)
        self.docker("start", name)
        self.wait_healthy(name)
        self.docker("pull", "%s/team/app@%s" % (hostport, digest))
        self.docker("rm", "-f", name)
        type(self).container = None
        self.docker("volume", "rm", "berth-image-data")

    def test_3_compose_files_are_valid(self):
        for f in ("compose.yaml", "compose.fleet.yaml"):
            path = os.path.join(REPO_ROOT, "docker", f)
            p = sh(["docker-compose", "-f", path, "config"], 60)
            doc = p.stdout
            self.assertIn("dockerfile: docker/Dockerfile", doc)
        fleet = sh(["docker-compose", "-f", os.path.join(REPO_ROOT, "docker", "compose.fleet.yaml"), "config",
                    "--services"], 60).stdout.split()
        self.assertEqual(sorted(fleet), ["balancer", "berth-1", "berth-2", "berth-3", "postgres"])


if __name__ == "__main__":
    unittest.main()
