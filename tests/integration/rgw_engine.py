"""A throwaway Ceph RGW for the integration tests (tests/engines/ceph-rgw.sh; stdlib only).

With BERTH_TEST_STORAGE=s3, berth_fixture.BerthServer keeps its blobs and uploads in RGW: one
one-node cluster per test process (a monitor and a memstore OSD on loopback), one bucket per data
directory (the server creates it), so a restart on the same data directory finds its blobs again.
BERTH_TEST_S3_REDIRECT=1 also turns on storage.s3.redirect (blob GETs answered with a 307 to RGW).
"""

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engines", "ceph-rgw.sh")
_ENGINE = None


class RgwEngine:
    def __init__(self, min_part=None):
        self.dir = tempfile.mkdtemp(prefix="berth-it-rgw-")
        env = dict(os.environ)
        if min_part:
            env["BERTH_TEST_RGW_MIN_PART"] = str(min_part)
        out = subprocess.run(["bash", SCRIPT, "start", self.dir], capture_output=True, text=True, timeout=180,
                             env=env)
        if out.returncode != 0:
            raise RuntimeError("Ceph RGW did not start (Debian: ceph-mon ceph-osd radosgw ceph-common): %s%s"
                               % (out.stdout, out.stderr[-2000:]))
        port, self.access_key, self.secret_key = out.stdout.split()
        self.port = int(port)
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def _run(self, action):
        subprocess.run(["bash", SCRIPT, action, self.dir], check=True, capture_output=True, timeout=120)

    def stop_gateway(self):
        self._run("stop-rgw")

    def start_gateway(self):
        self._run("start-rgw")

    def bucket_for(self, key):
        return "b" + hashlib.sha256(key.encode()).hexdigest()[:24]

    def env_for(self, data_dir, env):
        env["BERTH_STORAGE_DRIVER"] = "s3"
        env["BERTH_S3_ENDPOINT"] = self.endpoint
        env["BERTH_S3_BUCKET"] = self.bucket_for(os.path.abspath(data_dir))
        env["BERTH_S3_ACCESS_KEY_ID"] = self.access_key
        env["BERTH_S3_SECRET_ACCESS_KEY"] = self.secret_key
        if os.environ.get("BERTH_TEST_S3_REDIRECT"):
            env["BERTH_S3_REDIRECT"] = "true"   # blob GETs: 307 to presigned RGW URLs
        return env

    def close(self):
        try:
            self._run("stop")
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        if not os.environ.get("BERTH_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def enabled():
    return os.environ.get("BERTH_TEST_STORAGE") == "s3"


def shared():
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = RgwEngine()
        atexit.register(_ENGINE.close)
    return _ENGINE


def s3_client():
    """A boto3 S3 client on the shared gateway (checksums only when required: RGW 16.2)."""
    import boto3  # Debian python3-boto3; only the S3 runs need it
    from botocore.config import Config
    e = shared()
    opts = dict(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    try:  # botocore >= 1.36 sends CRC checksums by default, which RGW 16.2 refuses
        config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required",
                        **opts)
    except TypeError:  # older botocore (Debian 12's) has neither the option nor the default
        config = Config(**opts)
    return boto3.client("s3", endpoint_url=e.endpoint, region_name="us-east-1", aws_access_key_id=e.access_key,
                        aws_secret_access_key=e.secret_key, config=config)
