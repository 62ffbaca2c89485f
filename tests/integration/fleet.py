"""N Berth servers behind one address, for the integration tests (stdlib + Debian's haproxy).

With BERTH_TEST_FLEET=N (N >= 2), berth_fixture.BerthServer runs N `berth serve` processes on one
configuration, one PostgreSQL database and one RGW bucket (so set BERTH_TEST_METADATA=postgres and
BERTH_TEST_STORAGE=s3 too), and puts haproxy in front: round robin per request (no stickiness, so
consecutive requests of one upload land on different servers), health-checked every 200 ms so a
killed member leaves the rotation. The fixture's port is the balancer's.
"""

import os
import socket
import subprocess
import time

HAPROXY = os.environ.get("BERTH_TEST_HAPROXY") or "/usr/sbin/haproxy"


def size():
    try:
        n = int(os.environ.get("BERTH_TEST_FLEET", "0"))
    except ValueError:
        n = 0
    return n if n >= 2 else 0


class Processes:
    """The members' processes seen as one (what a test that signals "the server" signals)."""

    def __init__(self, members):
        self.members = members

    @property
    def pid(self):
        return self.members[0].proc.pid

    def _procs(self):
        return [m.proc for m in self.members if m.proc is not None]

    def send_signal(self, sig):
        for p in self._procs():
            if p.poll() is None:
                p.send_signal(sig)

    def poll(self):
        codes = [p.poll() for p in self._procs()]
        return None if any(c is None for c in codes) else max(codes, default=0)

    def wait(self, timeout=None):
        return max((p.wait(timeout=timeout) for p in self._procs()), default=0)

    @property
    def returncode(self):
        return self.poll()


class Balancer:
    def __init__(self, workdir, port, member_ports, tls=False):
        if not os.path.exists(HAPROXY):
            raise RuntimeError("haproxy not installed (Debian: haproxy)")
        self.port = port
        self.cfg = os.path.join(workdir, "haproxy.cfg")
        self.log = os.path.join(workdir, "haproxy.log")
        # TLS members: pass the bytes through (mode tcp), per connection.
        mode = "tcp" if tls else "http"
        check = "" if tls else ("  option httpchk GET /v2/\n"
                                "  http-check expect rstatus (200|401)\n")
        servers = "".join("  server s%d 127.0.0.1:%d check inter 200 fall 1 rise 1\n" % (i, p)
                          for i, p in enumerate(member_ports))
        with open(self.cfg, "w") as f:
            f.write("global\n  maxconn 4096\n  nbthread 2\n"
                    "defaults\n  mode %s\n  timeout connect 5s\n  timeout client 600s\n  timeout server 600s\n"
                    "  timeout http-request 60s\n  retries 3\n  option redispatch\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n  default_backend members\n"
                    "backend members\n  balance roundrobin\n%s%s" % (mode, port, check, servers))
        self.proc = None

    def start(self):
        self.log_fh = open(self.log, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.log_fh, stderr=self.log_fh)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log, "rb") as f:
                    raise RuntimeError("haproxy exited: %s" % f.read().decode(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not listen on %d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log_fh", None):
            self.log_fh.close()
            self.log_fh = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None
