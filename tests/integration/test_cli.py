"""The berth command line: help, version, configuration precedence, start-up refusals, logs,
signals and upload expiry, driven through the real binary."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from berth_fixture import BerthServer, berth_bin, free_port, http_request, sha256


def run(args, env=None, timeout=20):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([berth_bin()] + args, capture_output=True, text=True, timeout=timeout, env=e,
                          stdin=subprocess.DEVNULL)


class TestHelpAndVersion(unittest.TestCase):
    def test_version(self):
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^berth \d+\.\d+\.\d+\n$")

    def test_help(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("serve", r.stdout)
        r = run(["serve", "--help"])
        self.assertEqual(r.returncode, 0)
        for flag in ("--listen", "--data-dir", "--config", "--log-format", "BERTH_LISTEN", "BERTH_DATA_DIR"):
            self.assertIn(flag, r.stdout)

    def test_unknown_command_and_option(self):
        r = run(["frobnicate"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown command", r.stderr)
        r = run(["serve", "--no-such-flag", "x"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown option", r.stderr)


class TestStartupRefusals(unittest.TestCase):
    """Each refusal is one clear line on stderr and a non-zero exit, never a hang."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="berth-cli-")
        self.addCleanup(self.tmp.cleanup)

    def assertRefused(self, args, needle, env=None):
        r = run(["serve"] + args, env=env)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("berth: "), lines[0])
        self.assertIn(needle, lines[0])

    def test_bad_config_file(self):
        bad = os.path.join(self.tmp.name, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        self.assertRefused(["--config", bad, "--data-dir", self.tmp.name], "not valid JSON")
        with open(bad, "w") as f:
            f.write('{"lisen": "127.0.0.1:1"}')
        self.assertRefused(["--config", bad, "--data-dir", self.tmp.name], "unknown configuration key")
        self.assertRefused(["--config", os.path.join(self.tmp.name, "missing.json")], "cannot read")
        self.assertRefused(["--listen", "nonsense", "--data-dir", self.tmp.name], "HOST:PORT")

    def test_config_mistakes_say_where_and_what_was_meant(self):
        bad = os.path.join(self.tmp.name, "bad.json")
        with open(bad, "w") as f:
            f.write('{\n  "listen": "127.0.0.1:1",\n  "gc": {"grace_seconds": 5,}\n}\n')
        self.assertRefused(["--config", bad, "--data-dir", self.tmp.name], "not valid JSON: line 3, column ")
        with open(bad, "w") as f:
            f.write('{"gc": {"grace": 5}}')
        self.assertRefused(["--config", bad, "--data-dir", self.tmp.name],
                           "unknown configuration key gc.grace (did you mean gc.grace_seconds?)")

    def test_a_failed_start_leaves_no_data_directory_behind(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        fresh = os.path.join(self.tmp.name, "fresh")
        self.assertRefused(["--listen", "127.0.0.1:%d" % s.getsockname()[1], "--data-dir", fresh], "cannot listen")
        self.assertFalse(os.path.exists(fresh))

    def test_busy_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        self.assertRefused(["--listen", "127.0.0.1:%d" % port, "--data-dir", self.tmp.name], "cannot listen")

    def test_unwritable_data_dir(self):
        blocker = os.path.join(self.tmp.name, "a-file")
        with open(blocker, "w") as f:
            f.write("x")
        # A path below a regular file cannot be created, even by root.
        self.assertRefused(["--listen", "127.0.0.1:0", "--data-dir", os.path.join(blocker, "data")],
                           "data directory")

    def test_data_dir_in_use(self):
        srv = BerthServer("in-use")
        srv.start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        self.assertRefused(["--listen", "127.0.0.1:0", "--data-dir", srv.data_dir], "in use")


class TestMaintenanceNeedsADataDirectory(unittest.TestCase):
    """Only serve makes a data directory: a maintenance command on a mistyped path fails, naming it,
    instead of reporting on an empty registry it made there (a cron job would go green on nothing)."""

    def test_each_command_refuses_a_path_that_is_not_a_data_directory(self):
        tmp = tempfile.TemporaryDirectory(prefix="berth-cli-")
        self.addCleanup(tmp.cleanup)
        missing = os.path.join(tmp.name, "berth-dta")
        empty = os.path.join(tmp.name, "empty")
        os.mkdir(empty)
        for where in (missing, empty):
            for args in (["fsck"], ["gc"], ["usage"], ["lifecycle", "run"], ["user", "list"], ["key", "list",
                                                                                             "--user", "x"]):
                r = run(args + ["--data-dir", where], env={"BERTH_METADATA_DRIVER": "sqlite"})
                self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
                self.assertEqual(r.stderr, "berth: '%s' is not a Berth data directory (no berth.db): give "
                                           "--data-dir, or start `berth serve` there first\n" % where, args)
                self.assertEqual(r.stdout, "", args)
            self.assertEqual(os.path.exists(where), where == empty)
            if where == empty:
                self.assertEqual(os.listdir(empty), [])
        # A real one works.
        srv = BerthServer("maint-dir", auth="none")
        srv.start()
        self.addCleanup(srv.cleanup)
        srv.stop()
        r = run(["fsck", "--data-dir", srv.data_dir], env={"BERTH_METADATA_DRIVER": "sqlite"})
        self.assertEqual(r.returncode, 0, r.stderr)


class TestListenForms(unittest.TestCase):
    def test_host_names_and_an_empty_host(self):
        for form in ("localhost:%d", ":%d"):
            tmp = tempfile.TemporaryDirectory(prefix="berth-cli-")
            self.addCleanup(tmp.cleanup)
            port = free_port()
            p = subprocess.Popen([berth_bin(), "serve", "--listen", form % port, "--data-dir",
                                  os.path.join(tmp.name, "d"), "--auth", "none"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 10
                st = None
                while time.monotonic() < deadline and st is None:
                    try:
                        st, _, _ = http_request("127.0.0.1", port, "GET", "/healthz", timeout=1)
                    except OSError:
                        time.sleep(0.05)
                self.assertEqual(st, 200, form)
            finally:
                p.terminate()
                _, err = p.communicate(timeout=15)
            self.assertEqual(p.returncode, 0, err)
            want = "127.0.0.1:%d" if form.startswith("localhost") else "0.0.0.0:%d"
            self.assertIn("listening on http://" + want % port, err)


class TestConfigurationPrecedence(unittest.TestCase):
    def test_flag_beats_env_beats_file(self):
        tmp = tempfile.TemporaryDirectory(prefix="berth-cli-")
        self.addCleanup(tmp.cleanup)
        file_port, env_port, flag_port = free_port(), free_port(), free_port()
        cfg = os.path.join(tmp.name, "berth.json")
        with open(cfg, "w") as f:
            json.dump({"listen": "127.0.0.1:%d" % file_port, "data_dir": os.path.join(tmp.name, "d")}, f)
        cases = [
            ({"BERTH_CONFIG": cfg}, [], file_port),
            ({"BERTH_CONFIG": cfg, "BERTH_LISTEN": "127.0.0.1:%d" % env_port}, [], env_port),
            ({"BERTH_CONFIG": cfg, "BERTH_LISTEN": "127.0.0.1:%d" % env_port},
             ["--listen", "127.0.0.1:%d" % flag_port], flag_port),
        ]
        for env, flags, want in cases:
            e = dict(os.environ)
            e.update(env)
            p = subprocess.Popen([berth_bin(), "serve"] + flags, env=e, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                ok = False
                while time.monotonic() < deadline and not ok:
                    try:
                        st, _, _ = http_request("127.0.0.1", want, "GET", "/v2/", timeout=1)
                        ok = st in (200, 401)
                    except OSError:
                        time.sleep(0.05)
                self.assertTrue(ok, "server not on port %d for %r %r" % (want, env, flags))
                self.assertTrue(os.path.isdir(os.path.join(tmp.name, "d", "blobs")))
            finally:
                p.terminate()
                self.assertEqual(p.wait(timeout=15), 0)


class TestLogsAndSignals(unittest.TestCase):
    def test_json_logs_and_clean_sigterm(self):
        srv = BerthServer("json-logs", extra_args=["--log-format", "json", "--log-level", "debug"])
        srv.start()
        self.addCleanup(srv.cleanup)
        srv.req("GET", "/v2/")
        rc = srv.stop()
        self.assertEqual(rc, 0)
        records = []
        for line in srv.log_text().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))  # every log line is valid JSON
        self.assertTrue(any("listening on" in r["msg"] for r in records))
        self.assertTrue(any("GET /v2/" in r["msg"] for r in records))
        self.assertTrue(all({"time", "level", "msg"} <= set(r) for r in records))

    def test_sigint_exits_zero(self):
        srv = BerthServer("sigint")
        srv.start()
        self.addCleanup(srv.cleanup)
        srv.proc.send_signal(2)
        self.assertEqual(srv.proc.wait(timeout=15), 0)


class TestHealthCommand(unittest.TestCase):
    """berth health: the container image's HEALTHCHECK. It finds the server from the same settings
    serve reads (BERTH_LISTEN here), and fails with the reason when nothing or something else answers."""

    def test_healthy_ready_and_down(self):
        srv = BerthServer("health")
        srv.start()
        self.addCleanup(srv.cleanup)
        env = {"BERTH_LISTEN": "0.0.0.0:%d" % srv.port}
        r = run(["health"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "http://127.0.0.1:%d/healthz: ok\n" % srv.port)
        r = run(["health", "--ready", "--listen", "127.0.0.1:%d" % srv.port])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/readyz: ok", r.stdout)
        r = run(["health", "--url", "http://127.0.0.1:%d/" % srv.port])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(srv.stop(), 0)
        r = run(["health"], env=env)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("berth: http://127.0.0.1:%d/healthz: " % srv.port), r.stderr)

    def test_something_else_answering_fails_with_its_status(self):
        # A plain HTTP server that is not Berth: /healthz is a 404 there.
        import http.server
        import threading
        server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        r = run(["health", "--url", "http://127.0.0.1:%d" % server.server_port, "--timeout", "3"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("/healthz: HTTP 501", r.stderr)
        r = run(["health", "--timeout", "0"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("--timeout must be 1 to 300 seconds", r.stderr)


class TestUploadExpiry(unittest.TestCase):
    def test_abandoned_upload_expires(self):
        srv = BerthServer("expiry", auth="none")
        srv.start()
        srv.enable_create_on_push()
        self.addCleanup(srv.cleanup)
        r = srv.req("POST", "/v2/exp/blobs/uploads/")
        self.assertEqual(r.status, 202)
        location = r.headers["Location"]
        r = srv.req("PATCH", location, body=b"abandoned bytes")
        self.assertEqual(r.status, 202)
        srv.stop()
        uploads = os.path.join(srv.data_dir, "uploads")
        self.assertEqual(len([f for f in os.listdir(uploads) if not f.startswith(".")]), 1)
        time.sleep(2.1)
        srv.extra_args = ["--upload-expiry", "1"]
        srv.start()  # the expiry sweep runs at start
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if srv.req("GET", location).status == 404:
                break
            time.sleep(0.1)
        self.assertEqual(srv.req("GET", location).status, 404)
        self.assertEqual([f for f in os.listdir(uploads) if not f.startswith(".")], [])
        # A fresh session is unaffected by the sweep.
        r = srv.req("POST", "/v2/exp/blobs/uploads/?digest=" + sha256(b"x"), body=b"x")
        self.assertEqual(r.status, 201)
        srv.stop()


if __name__ == "__main__":
    unittest.main()
