"""A private dockerd for the tests: vfs storage, no iptables or bridge, its own data-root,
exec-root and socket under a work directory; bounded start, clean stop (with the containerd it
started). Shared by test_clients.py, test_ecr_awscli.py and test_tls.py."""

import os
import signal
import subprocess
import time


def docker_ping(sock, timeout=2.0):
    """True when the daemon behind the unix socket answers GET /_ping."""
    import socket
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        data = s.recv(256)
        s.close()
        return b" 200 " in data
    except OSError:
        return False


class PrivateDockerd:
    def __init__(self, dockerd, workdir, insecure_registry=None):
        self.dockerd = dockerd
        self.dir = workdir
        self.insecure_registry = insecure_registry
        self.sock = os.path.join(workdir, "docker.sock")
        self.log_path = os.path.join(workdir, "dockerd.log")
        self.proc = None
        self.log = None
        self.env = None

    def start(self, timeout=60):
        """Starts and waits until it answers; AssertionError with the log tail otherwise."""
        self.log = open(self.log_path, "wb")
        cmd = [self.dockerd, "--data-root", os.path.join(self.dir, "root"),
               "--exec-root", os.path.join(self.dir, "exec"), "--pidfile", os.path.join(self.dir, "pid"),
               "-H", "unix://" + self.sock, "--storage-driver", "vfs", "--iptables=false",
               "--ip6tables=false", "--bridge=none"]
        if self.insecure_registry:
            cmd += ["--insecure-registry", self.insecure_registry]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None and not docker_ping(self.sock):
            time.sleep(0.25)
        if self.proc.poll() is not None or not docker_ping(self.sock):
            code = self.proc.returncode
            self.stop()
            raise AssertionError("dockerd did not become ready within %ds (exit code %s). Last log lines:\n%s"
                                 % (timeout, code, "\n".join(self.read_log().splitlines()[-30:])))
        self.env = dict(os.environ, DOCKER_HOST="unix://" + self.sock,
                        DOCKER_CONFIG=os.path.join(self.dir, "config"))
        os.makedirs(self.env["DOCKER_CONFIG"], exist_ok=True)
        return self

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.proc = None
        # the containerd that dockerd started, if it outlived dockerd
        cpid = os.path.join(self.dir, "exec", "containerd", "containerd.pid")
        try:
            with open(cpid) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"containerd" in f.read():
                    os.kill(pid, signal.SIGTERM)
                    for _ in range(50):
                        if not os.path.exists("/proc/%d" % pid):
                            break
                        time.sleep(0.1)
        except (OSError, ValueError):
            pass
        # A container run with --network host leaves dockerd's namespace handle mounted here, which
        # would make the work directory impossible to remove.
        netns = os.path.join(self.dir, "exec", "netns")
        if os.path.isdir(netns):
            for name in os.listdir(netns):
                subprocess.run(["umount", os.path.join(netns, name)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30)
        if self.log:
            self.log.close()
            self.log = None
