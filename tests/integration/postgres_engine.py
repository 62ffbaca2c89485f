"""A throwaway PostgreSQL 15 for the integration tests (stdlib only).

With BERTH_TEST_METADATA=postgres, berth_fixture.BerthServer keeps its metadata in PostgreSQL:
one server per test process (initdb + pg_ctl in a temporary directory, on a free loopback port,
as the `postgres` OS user when the tests run as root), one database per data directory (a
restart on the same data directory finds its metadata again; a fresh data directory starts
empty). BERTH_TEST_PG_BIN overrides /usr/lib/postgresql/15/bin.
"""

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import hashlib

PG_BIN = os.environ.get("BERTH_TEST_PG_BIN") or "/usr/lib/postgresql/15/bin"
_ENGINE = None


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PostgresEngine:
    def __init__(self):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise RuntimeError("PostgreSQL not installed: no %s/initdb (Debian: postgresql-15)" % PG_BIN)
        self.dir = tempfile.mkdtemp(prefix="berth-it-pg-")
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self.data = os.path.join(self.dir, "data")
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "berth", "-A", "trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"], "initdb")
        self.start()
        self.databases = set()

    def _run(self, cmd, what):
        out = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (what, out.stdout, out.stderr))

    def _pg_ctl(self, action, *extra):
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                   "-w", "-t", "60", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=300" % (self.port, self.dir), action] + list(extra), "pg_ctl " + action)

    def start(self):
        self._pg_ctl("start")

    def stop(self, mode="fast"):
        self._pg_ctl("stop", "-m", mode)

    def psql(self, sql, database="postgres"):
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h",
                              "127.0.0.1", "-p", str(self.port), "-U", "berth", "-d", database, "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, out.stderr))
        return out.stdout

    def dsn(self, database):
        return "postgresql://berth@127.0.0.1:%d/%s" % (self.port, database)

    def database_for(self, key):
        """The database of one data directory (created on first use)."""
        name = "d" + hashlib.sha256(key.encode()).hexdigest()[:20]
        if name not in self.databases:
            self.psql("CREATE DATABASE %s" % name)
            self.databases.add(name)
        return name

    def close(self):
        try:
            self.stop("immediate")
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        if not os.environ.get("BERTH_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def enabled():
    return os.environ.get("BERTH_TEST_METADATA") == "postgres"


def shared():
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = PostgresEngine()
        atexit.register(_ENGINE.close)
    return _ENGINE
