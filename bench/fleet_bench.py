#!/usr/bin/env python3
"""Berth's scale-out configurations beside the reference registry on the same object store.

Starts PostgreSQL 15 and a one-node Ceph RGW (the test engines in tests/integration/ and
tests/engines/), then five registries on loopback:

  local      1 Berth server, SQLite + files (the default)
  pg+rgw     1 Berth server, PostgreSQL + RGW
  fleet      3 Berth servers, PostgreSQL + RGW, behind haproxy (round robin per request)
  ref-s3     the reference registry (distribution 2.8) with its S3 driver on the same RGW
  ref-fs     the reference on its filesystem driver (context)

and measures on each: manifest GET by tag (wrk, 32 connections), one large blob GET (curl, 1 stream
and 4 at once), monolithic uploads of a large blob, and 8 concurrent uploads. Berth uses SigV4
login tokens on every V2 request; the reference runs without authentication. Prints a table with
the ratios the scale-out issue targets, writes bench/results/<time>-fleet.json and appends the
table to docs/performance.md (unless --no-docs). No assertions on timings. All on one machine: the
fleet shows its overhead against one server, not scaling.

  bench/fleet_bench.py [--quick] [--no-docs] [--berth-bin build-release/berth]
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import berth_bench as bb  # noqa: E402  (Client, Data, uploads, wrk script)
import berth_fixture as bf  # noqa: E402
import fleet  # noqa: E402
import postgres_engine  # noqa: E402
import rgw_engine  # noqa: E402

MB = bb.MB
MiB = bb.MiB
ROOT_KEY = bb.ROOT_KEY


def params(quick):
    if quick:
        return dict(big=32 * MiB, uploads=2, concurrent=4, concurrent_size=8 * MiB, wrk_seconds=3, gets=2)
    return dict(big=256 * MiB, uploads=3, concurrent=8, concurrent_size=32 * MiB, wrk_seconds=10, gets=3)


class Target:
    """One registry under test: its processes, its address, its auth header."""

    def __init__(self, kind, work, opts, pg, rgw):
        self.kind, self.opts, self.pg, self.rgw = kind, opts, pg, rgw
        self.name = kind
        self.dir = os.path.join(work, kind)
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []
        self.balancer = None
        self.auth_headers = {}
        self.port = bb.unique_port()
        self.member_ports = []

    def berth_env(self, data_dir):
        env = dict(os.environ, BERTH_ROOT_ACCESS_KEY_ID=ROOT_KEY[0], BERTH_ROOT_SECRET_ACCESS_KEY=ROOT_KEY[1])
        if self.kind != "local":
            env.update(BERTH_METADATA_DRIVER="postgres", BERTH_METADATA_DSN=self.pg.dsn(self.pg.database_for(self.kind)),
                       BERTH_STORAGE_DRIVER="s3", BERTH_S3_ENDPOINT=self.rgw.endpoint,
                       BERTH_S3_BUCKET="bench-" + self.kind.replace("+", "-"), BERTH_S3_ACCESS_KEY_ID=self.rgw.access_key,
                       BERTH_S3_SECRET_ACCESS_KEY=self.rgw.secret_key)
        return env

    def spawn(self, cmd, env, log):
        logf = open(os.path.join(self.dir, log), "ab")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                             preexec_fn=bb._die_with_parent)
        logf.close()
        self.procs.append(p)
        return p

    def wait_ready(self, port):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                st, _, _ = bf.http_request("127.0.0.1", port, "GET", "/v2/", timeout=2)
                if st in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("%s not ready on %d" % (self.name, port))

    def start(self):
        if self.kind.startswith("ref"):
            return self.start_reference()
        members = 3 if self.kind == "fleet" else 1
        self.member_ports = [self.port] if members == 1 else [bb.unique_port() for _ in range(members)]
        for i, port in enumerate(self.member_ports):
            data = os.path.join(self.dir, "data-%d" % i)
            os.makedirs(data, exist_ok=True)
            self.spawn([self.opts.berth_bin, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", data,
                        "--log-level", "warn"], self.berth_env(data), "server-%d.log" % i)
            self.wait_ready(port)
        if members > 1:
            self.balancer = fleet.Balancer(self.dir, self.port, self.member_ports)
            self.balancer.start()
            self.wait_ready(self.port)
        # pushes create repositories through a ROOT creation template; every V2 request has a token
        st, _, doc = bf.ecr_call("CreateRepositoryCreationTemplate",
                                 {"prefix": "ROOT", "appliedFor": ["CREATE_ON_PUSH"], "imageTagMutability": "MUTABLE"},
                                 ROOT_KEY[0], ROOT_KEY[1], port=self.port)
        if st != 200:
            raise RuntimeError("%s: CreateRepositoryCreationTemplate -> %d %r" % (self.name, st, doc))
        st, _, doc = bf.ecr_call("GetAuthorizationToken", {}, ROOT_KEY[0], ROOT_KEY[1], port=self.port)
        import base64
        token = base64.b64decode(doc["authorizationData"][0]["authorizationToken"]).decode().partition(":")[2]
        self.auth_headers = {"Authorization": bf.basic_auth_value(token)}

    def start_reference(self):
        cfg = os.path.join(self.dir, "config.yml")
        if self.kind == "ref-s3":
            self.rgw_bucket("ref-s3")
            storage = ("  s3:\n    accesskey: %s\n    secretkey: %s\n    region: us-east-1\n"
                       "    regionendpoint: %s\n    bucket: ref-s3\n    secure: false\n    v4auth: true\n"
                       "    chunksize: 16777216\n  redirect:\n    disable: true\n"
                       % (self.rgw.access_key, self.rgw.secret_key, self.rgw.endpoint))
        else:
            storage = "  filesystem:\n    rootdirectory: %s\n" % os.path.join(self.dir, "data")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n"
                    "  cache:\n    blobdescriptor: inmemory\n  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n%s"
                    "http:\n  addr: 127.0.0.1:%d\n  secret: berth-bench-not-a-secret\n" % (storage, self.port))
        env = dict(os.environ)
        # the reference's AWS SDK refuses to start with AWS_CA_BUNDLE set and a custom transport
        env.pop("AWS_CA_BUNDLE", None)
        self.spawn(["/usr/bin/docker-registry", "serve", cfg], env, "server.log")
        self.wait_ready(self.port)

    def rgw_bucket(self, name):
        # the reference does not create its bucket
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=self.rgw.endpoint, region_name="us-east-1",
                          aws_access_key_id=self.rgw.access_key, aws_secret_access_key=self.rgw.secret_key,
                          config=Config(s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket=name)

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        if self.balancer:
            self.balancer.stop()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.procs = []


def wrk_manifest(t, seconds, work):
    hfile = os.path.join(work, "hdr-%s.txt" % t.kind)
    with open(hfile, "w") as f:
        for k, v in dict(t.auth_headers, Accept=bb.ACCEPT_MANIFESTS).items():
            f.write("%s: %s\n" % (k, v))
    env = dict(os.environ, BENCH_METHOD="GET", BENCH_HEADERS_FILE=hfile)
    cmd = ["wrk", "-t", "2", "-c", "32", "-d", "%ds" % seconds, "--timeout", "10s", "-s",
           os.path.join(HERE, "wrk", "request.lua"), "http://127.0.0.1:%d/v2/bench/m/manifests/latest" % t.port]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")]
    if not line:
        raise RuntimeError("wrk: %s %s" % (out.stdout[-300:], out.stderr[-300:]))
    d = json.loads(line[-1][len("BENCHJSON "):])
    errors = sum(d[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    if errors:
        raise RuntimeError("%s: %d errors in manifest GETs" % (t.name, errors))
    return d["requests"] / (d["duration_us"] / 1e6)


def curl_get(t, path, size, streams):
    cmd = ["curl", "-sS", "-o", "/dev/null", "--max-time", "600", "-w", "%{http_code} %{size_download}"]
    for k, v in t.auth_headers.items():
        cmd += ["-H", "%s: %s" % (k, v)]
    cmd.append("http://127.0.0.1:%d%s" % (t.port, path))
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(streams)]
    for p in procs:
        out = p.communicate(timeout=660)[0].split()
        if out != ["200", str(size)]:
            raise RuntimeError("%s: blob GET -> %r" % (t.name, out))
    return streams * size / (time.monotonic() - t0) / MB


def concurrent_uploads(t, data, count, size):
    errors = []

    def one(i):
        cl = bb.Client(t, timeout=600)
        try:
            bb.upload_monolithic(cl, "bench/c%d" % i, data.blob(size))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            cl.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=900)
    if errors:
        raise RuntimeError("%s: concurrent uploads failed: %s" % (t.name, errors[0]))
    return count * size / (time.monotonic() - t0) / MB


def measure(t, p, data, work):
    r = {}
    cl = bb.Client(t, timeout=600)
    try:
        bb.push_small_image(cl, "bench/m", "latest", data)
        # warm-up (not measured): the object store creates its pools for multipart uploads on first use
        bb.upload_monolithic(cl, "bench/warm", data.blob(20 * MiB))
        ups = []
        big = None
        for _ in range(p["uploads"]):
            blob = data.blob(p["big"])
            t0 = time.monotonic()
            big = bb.upload_monolithic(cl, "bench/b", blob)
            ups.append(p["big"] / (time.monotonic() - t0) / MB)
        r["upload"] = statistics.median(ups)
    finally:
        cl.close()
    r["upload_concurrent"] = concurrent_uploads(t, data, p["concurrent"], p["concurrent_size"])
    r["manifest_get"] = wrk_manifest(t, p["wrk_seconds"], work)
    path = "/v2/bench/b/blobs/" + big
    r["blob_get"] = statistics.median(curl_get(t, path, p["big"], 1) for _ in range(p["gets"]))
    r["blob_get_4"] = statistics.median(curl_get(t, path, p["big"], 4) for _ in range(p["gets"]))
    return r


ROWS = [("manifest_get", "manifest GET by tag, 32 conns", "req/s"),
        ("blob_get", "blob GET, one %s blob, 1 stream", "MB/s"),
        ("blob_get_4", "blob GET, same blob, 4 streams at once", "MB/s"),
        ("upload", "monolithic upload of a %s blob", "MB/s"),
        ("upload_concurrent", "%d concurrent uploads of %s each", "MB/s")]
KINDS = ["local", "pg+rgw", "fleet", "ref-s3", "ref-fs"]


def table(results, p):
    def label(key, text):
        if key in ("blob_get", "upload"):
            return text % bb.human_bytes(p["big"])
        if key == "upload_concurrent":
            return text % (p["concurrent"], bb.human_bytes(p["concurrent_size"]))
        return text
    head = ("| workload | unit | " + " | ".join(KINDS) +
            " | pg+rgw / ref-s3 | fleet / ref-s3 | fleet / pg+rgw |")
    lines = [head, "|" + "---|" * (len(KINDS) + 5)]
    for key, text, unit in ROWS:
        v = {k: results[k][key] for k in KINDS}
        lines.append("| %s | %s | %s | %.2f | %.2f | %.2f |" % (
            label(key, text), unit, " | ".join("%.0f" % v[k] for k in KINDS),
            v["pg+rgw"] / v["ref-s3"], v["fleet"] / v["ref-s3"], v["fleet"] / v["pg+rgw"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--berth-bin", default=os.path.join(ROOT, "build-release", "berth"))
    opts = ap.parse_args()
    missing = [t for t in ("wrk", "curl", "docker-registry", "haproxy") if not shutil.which(t)]
    if missing:
        sys.exit("fleet_bench: missing %s (bench/run.sh installs them; haproxy comes with "
                 "scripts/install-deps.sh test)" % " ".join(missing))
    p = params(opts.quick)
    work = tempfile.mkdtemp(prefix="berth-fleet-bench-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp"))
    os.environ.setdefault("BERTH_TEST_RGW_MEMSTORE_MIB", "3072" if opts.quick else "12288")
    bb.log("starting PostgreSQL and Ceph RGW")
    pg = postgres_engine.PostgresEngine()
    rgw = rgw_engine.RgwEngine()
    targets = [Target(k, work, opts, pg, rgw) for k in KINDS]
    data = bb.Data(p["big"] + MiB)
    results = {}
    try:
        for t in targets:
            bb.log("%s: starting" % t.name)
            t.start()
            bb.log("%s: measuring" % t.name)
            results[t.kind] = measure(t, p, data, work)
            bb.log("%s: %s" % (t.name, {k: round(v) for k, v in results[t.kind].items()}))
            t.stop()
    finally:
        for t in targets:
            t.stop()
        rgw.close()
        pg.close()
        shutil.rmtree(work, ignore_errors=True)
    out = table(results, p)
    print(out)
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%S")
    name = "%s-fleet%s.json" % (stamp, "-quick" if opts.quick else "")
    with open(os.path.join(HERE, "results", name), "w") as f:
        json.dump({"params": p, "results": results, "machine": {"cpus": os.cpu_count()}}, f, indent=2)
    if not opts.no_docs:
        with open(os.path.join(ROOT, "docs", "performance.md"), "a") as f:
            f.write("\n### Scale-out run %s%s (bench/fleet_bench.py, results/%s)\n\n%s\n"
                    % (stamp, " (quick)" if opts.quick else "", name, out))


if __name__ == "__main__":
    main()
