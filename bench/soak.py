#!/usr/bin/env python3
"""A soak run: one Berth under a steady mixed load for a bounded time, sampled every few seconds.

32 clients (by default) loop over: push an image (a config, one of 16 shared 1 MiB layers, one new
64 KiB layer), pull one (manifest and blobs), list tags, ECR DescribeImages, and delete an image
(BatchDeleteImage). Garbage collection and lifecycle policies run every minute on the server.
Every SAMPLE seconds: errors, resident memory, open file descriptors, berth.db and its WAL, and
p50/p99 per operation over that window. Writes CSV, a gnuplot PNG and a markdown summary.
Not a test (no assertions); the target is flat lines and zero errors.

  bench/soak.py --berth-bin build-release/berth --minutes 20 --clients 32 --out bench/results
"""

import argparse
import base64
import csv
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import boto3
from botocore.config import Config

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OPS = ("push", "pull", "tags", "describe", "delete")
WEIGHTS = (3, 6, 2, 2, 1)
KEY_ID, SECRET = "AKIASOAKSOAKSOAKSOAK", "soak-secret-soak-secret-soak-secret-0000"
REPOS = ["soak/r%02d" % i for i in range(8)]


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {op: [] for op in OPS}
        self.count = {op: 0 for op in OPS}
        self.errors = 0
        self.error_samples = []

    def record(self, op, seconds, ok, what=""):
        with self.lock:
            self.count[op] += 1
            self.lat[op].append(seconds)
            if not ok:
                self.errors += 1
                if len(self.error_samples) < 20:
                    self.error_samples.append("%s: %s" % (op, what[:300]))

    def take(self):
        with self.lock:
            lat, self.lat = self.lat, {op: [] for op in OPS}
            return lat, dict(self.count), self.errors


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


class Worker(threading.Thread):
    def __init__(self, n, port, token, stats, stop, shared, pushed):
        super().__init__(daemon=True)
        self.n, self.port, self.stats, self.stop, self.shared, self.pushed = n, port, stats, stop, shared, pushed
        self.auth = {"Authorization": "Basic " + base64.b64encode(("AWS:" + token).encode()).decode()}
        self.conn = None
        self.rng = random.Random(n)
        self.ecr = boto3.client("ecr", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                                aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                                config=Config(retries={"max_attempts": 1}, max_pool_connections=2))
        self.seq = 0

    def req(self, method, path, body=None, headers=None):
        h = dict(self.auth, **(headers or {}))
        if body is None and method in ("POST", "PUT"):
            h["Content-Length"] = "0"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, r, data
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def upload(self, repo, blob):
        st, r, _ = self.req("POST", "/v2/%s/blobs/uploads/" % repo)
        if st != 202:
            raise RuntimeError("POST upload %d" % st)
        loc = r.getheader("Location")
        loc = loc[loc.index("/v2/"):] if "://" in loc else loc
        st, _, data = self.req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha(blob), body=blob,
                               headers={"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError("PUT blob %d %r" % (st, data[:200]))

    def push(self):
        repo = self.rng.choice(REPOS)
        self.seq += 1
        tag = "w%d-%d" % (self.n, self.seq)
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
        shared = self.shared[self.rng.randrange(len(self.shared))]
        own = os.urandom(64 * 1024)
        for b in (config, shared, own):
            st, _, _ = self.req("HEAD", "/v2/%s/blobs/%s" % (repo, sha(b)))
            if st != 200:
                self.upload(repo, b)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": sha(config), "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": sha(b), "size": len(b)} for b in (shared, own)]}).encode()
        st, _, data = self.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest,
                               headers={"Content-Type": OCI_MANIFEST})
        if st != 201:
            raise RuntimeError("PUT manifest %d %r" % (st, data[:200]))
        with self.pushed[1]:
            self.pushed[0].append((repo, tag))

    def some_image(self):
        with self.pushed[1]:
            return self.rng.choice(self.pushed[0]) if self.pushed[0] else None

    def pull(self):
        target = self.some_image()
        if not target:
            return
        repo, tag = target
        st, _, data = self.req("GET", "/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI_MANIFEST})
        if st == 404:
            return  # deleted or expired meanwhile: not an error
        if st != 200:
            raise RuntimeError("GET manifest %d" % st)
        m = json.loads(data)
        for d in [m["config"]["digest"]] + [layer["digest"] for layer in m["layers"]]:
            st, _, body = self.req("GET", "/v2/%s/blobs/%s" % (repo, d))
            if st == 404:
                return
            if st != 200 or sha(body) != d:
                raise RuntimeError("GET blob %d" % st)

    def tags(self):
        st, _, _ = self.req("GET", "/v2/%s/tags/list?n=100" % self.rng.choice(REPOS))
        if st not in (200, 404):
            raise RuntimeError("tags %d" % st)

    def describe(self):
        self.ecr.describe_images(repositoryName=self.rng.choice(REPOS), maxResults=50)

    def delete(self):
        target = self.some_image()
        if not target:
            return
        repo, tag = target
        out = self.ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": tag}])
        for f in out.get("failures", []):
            if f.get("failureCode") != "ImageNotFound":
                raise RuntimeError("delete %r" % f)
        with self.pushed[1]:
            if target in self.pushed[0]:
                self.pushed[0].remove(target)

    def run(self):
        while not self.stop.is_set():
            op = self.rng.choices(OPS, WEIGHTS)[0]
            t = time.perf_counter()
            try:
                getattr(self, op)()
                self.stats.record(op, time.perf_counter() - t, True)
            except Exception as e:  # noqa: BLE001 - every failure is counted and sampled
                self.stats.record(op, time.perf_counter() - t, False, repr(e))


def proc_status(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--berth-bin", default="build-release/berth")
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--sample", type=float, default=10)
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-soak-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp"))
    data = os.path.join(work, "data")
    port = free_port()
    cfg = os.path.join(work, "berth.json")
    with open(cfg, "w") as f:
        json.dump({"gc": {"interval_seconds": 60, "grace_seconds": 30, "untagged": "delete"},
                   "lifecycle": {"interval_seconds": 60}}, f)
    env = dict(os.environ, BERTH_ROOT_ACCESS_KEY_ID=KEY_ID, BERTH_ROOT_SECRET_ACCESS_KEY=SECRET)
    log = open(os.path.join(work, "server.log"), "w")
    proc = subprocess.Popen([a.berth_bin, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", data,
                             "--config", cfg, "--log-level", "warn"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("berth did not start; see %s" % os.path.join(work, "server.log"))
            time.sleep(0.1)
        ecr = boto3.client("ecr", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                           aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
        for r in REPOS:
            ecr.create_repository(repositoryName=r)
            # Lifecycle bounds the registry's size: the newest 200 images of each repository stay.
            ecr.put_lifecycle_policy(repositoryName=r, lifecyclePolicyText=json.dumps({"rules": [{
                "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                 "countNumber": 200}, "action": {"type": "expire"}}]}))
        token = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
                                 ).decode().split(":", 1)[1]
        shared = [os.urandom(1 << 20) for _ in range(16)]
        stats, stop, pushed = Stats(), threading.Event(), ([], threading.Lock())
        workers = [Worker(i, port, token, stats, stop, shared, pushed) for i in range(a.clients)]
        for w in workers:
            w.start()
        start = time.time()
        rows = []
        header = ["seconds", "errors", "rss_mib", "fds", "db_mib", "wal_mib"] + \
            ["%s_%s" % (op, k) for op in OPS for k in ("per_s", "p50_ms", "p99_ms")]
        print(" ".join(header), flush=True)
        while time.time() - start < a.minutes * 60:
            time.sleep(a.sample)
            lat, count, errors = stats.take()
            rss, fds = proc_status(proc.pid)
            size = lambda p: os.path.getsize(p) / 2**20 if os.path.exists(p) else 0.0  # noqa: E731
            row = [round(time.time() - start), errors, round(rss / 2**20, 1), fds,
                   round(size(os.path.join(data, "berth.db")), 2), round(size(os.path.join(data, "berth.db-wal")), 2)]
            for op in OPS:
                row += [round(len(lat[op]) / a.sample, 1), round(pct(lat[op], 50) * 1000, 2),
                        round(pct(lat[op], 99) * 1000, 2)]
            rows.append(row)
            print(" ".join(str(x) for x in row), flush=True)
        stop.set()
        for w in workers:
            w.join(timeout=60)
        if proc.poll() is not None:
            print("berth exited during the soak: %s" % proc.returncode)
    finally:
        stopped = time.time()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                print("berth did not stop within 60 s of SIGTERM; killed")
        print("shutdown took %.1f s" % (time.time() - stopped))
    os.makedirs(a.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    csv_path = os.path.join(a.out, "soak-%s.csv" % stamp)
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    png = os.path.join(a.out, "soak-%s.png" % stamp)
    col = {h: i + 1 for i, h in enumerate(header)}
    plot = """set terminal pngcairo size 1200,900
set output '{png}'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 3,1 title 'Berth soak: {clients} clients, {minutes} min'
set xlabel 'seconds'
set ylabel 'MiB / count'
plot '{csv}' using 1:{rss} with lines title 'RSS MiB', '' using 1:{fds} with lines title 'open fds', \
     '' using 1:{db} with lines title 'berth.db MiB', '' using 1:{wal} with lines title 'WAL MiB', \
     '' using 1:{err} with lines title 'errors'
set ylabel 'p99 ms'
plot for [op in 'push pull tags describe delete'] '{csv}' using 1:(column(op.'_p99_ms')) with lines title op.' p99'
set ylabel 'operations/s'
plot for [op in 'push pull tags describe delete'] '{csv}' using 1:(column(op.'_per_s')) with lines title op.'/s'
unset multiplot
""".format(png=png, csv=csv_path, clients=a.clients, minutes=a.minutes, rss=col["rss_mib"], fds=col["fds"],
           db=col["db_mib"], wal=col["wal_mib"], err=col["errors"])
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot"], input=plot, text=True, check=False, timeout=60)
    _, counts, errors = stats.take()
    first, last = rows[0], rows[-1]
    print("\n| | first sample | last sample | max |")
    print("|---|---|---|---|")
    for name in ("rss_mib", "fds", "db_mib", "wal_mib"):
        i = col[name] - 1
        print("| %s | %s | %s | %s |" % (name, first[i], last[i], max(r[i] for r in rows)))
    for op in OPS:
        p50 = sorted(r[col[op + "_p50_ms"] - 1] for r in rows)[len(rows) // 2]
        p99 = max(r[col[op + "_p99_ms"] - 1] for r in rows)
        print("| %s: %d done, median window p50 %.1f ms, worst window p99 %.1f ms | | | |" % (op, counts[op], p50, p99))
    print("\nerrors: %d%s" % (errors, "" if not stats.error_samples else " e.g. " + "; ".join(stats.error_samples[:5])))
    print("csv: %s\npng: %s\nserver log: %s" % (csv_path, png, os.path.join(work, "server.log")))


if __name__ == "__main__":
    main()
