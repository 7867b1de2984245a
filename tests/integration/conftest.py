"""Integration harness: starts a real derelictd on a free loopback port with
a temporary SQLite database, and runs the real agent against it.

DERELICT_TEST_ENGINE=postgresql (make check-pg) gives every Server a fresh
database of one PostgreSQL 15 cluster per session (pg.py) instead; tests
about SQLite itself (its file, the WAL, backups, a full disk, a corrupt
file) are marked @pytest.mark.sqlite_only and skipped there.

Fixtures
  server      a running derelictd (function scope), stopped afterwards
  make_server factory: make_server(**conf_overrides) for custom configs;
              a key "section.key" goes to that section ("notify.x")
  fake        a recording fake server for the agent alone: .log holds
              (path, headers, body) of each request, .replies the
              (status, body) to answer reports with, in order (a
              bytes body is sent as it is)

A Server has: url, port, tmp (pathlib.Path), db (path), database (what
its config says: db, or a PostgreSQL URI), conf (path),
admin_token, viewer_token, enroll_secret, proc, and methods
  api(method, path, body=None, token=ADMIN, headers=None, raw=None)
      -> (status, parsed JSON or None, response headers)
  section(host_id, name) -> like api() for GET /hosts/{id}/{name}, with
      the items of every page
  agent(*args, root=None, state=None, timeout=60)
      -> subprocess.CompletedProcess of derelict-agent --once against it
  stop(sig=SIGTERM) / restart()
  db_connect(readonly=False, timeout=5) -> a connection to its database
      with sqlite3's execute() and "?" on either engine
"""
import base64
import gzip
import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DERELICTD = os.environ.get("DERELICTD", str(ROOT / "build" / "derelictd"))
AGENT = os.environ.get("DERELICT_AGENT", str(ROOT / "build" / "derelict-agent"))
FIXTURES = ROOT / "tests" / "fixtures"

ADMIN = object()  # sentinel: use the server's admin token

ENGINE = os.environ.get("DERELICT_TEST_ENGINE", "sqlite")
if ENGINE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"DERELICT_TEST_ENGINE={ENGINE}: sqlite or postgresql")
ENGINE_NAME = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[ENGINE]

_cluster = None
_databases = 0


def pg_cluster():
    """The session's PostgreSQL cluster, started at its first use."""
    global _cluster
    if _cluster is None:
        import pg
        _cluster = pg.Cluster()
    return _cluster


def fresh_database():
    """A URI of a new, empty database of the session's cluster."""
    global _databases
    _databases += 1
    return pg_cluster().create_database(f"t{os.getpid()}_{_databases}")


class PgConnection:
    """A connection to a Server's PostgreSQL database that takes sqlite3's
    "?" placeholders and has its execute(), so a test reads what either
    engine stored alike (psycopg2, autocommit)."""

    def __init__(self, uri):
        import psycopg2
        self.uri = uri
        import psycopg2.extensions
        self.con = psycopg2.connect(uri)
        self.con.autocommit = True

        # bytea as bytes, as sqlite3 gives a blob (psycopg2's memoryview
        # has no value equality and its repr() is an address).
        def as_bytes(value, cur):
            m = psycopg2.BINARY(value, cur)
            return None if m is None else bytes(m)
        psycopg2.extensions.register_type(psycopg2.extensions.new_type(
            psycopg2.BINARY.values, "BYTEA_AS_BYTES", as_bytes), self.con)

    def execute(self, sql, params=()):
        cur = self.con.cursor()
        if params:
            cur.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        else:
            cur.execute(sql)
        return cur

    def executemany(self, sql, seq):
        cur = self.con.cursor()
        cur.executemany(sql.replace("%", "%%").replace("?", "%s"), seq)
        return cur

    def commit(self):
        pass

    # "with con:" as sqlite3's: a transaction around the block, committed
    # at its end or rolled back by an exception.
    def __enter__(self):
        self.con.autocommit = False
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.con.commit()
        else:
            self.con.rollback()
        self.con.autocommit = True
        return False

    def iterdump(self):
        """The database as SQL text, as sqlite3's iterdump() gives it."""
        import pg
        r = subprocess.run([str(pg.PG_BIN / "pg_dump"), "--inserts",
                            self.uri], capture_output=True, text=True,
                           timeout=60, check=True)
        return iter(r.stdout.splitlines())

    def close(self):
        self.con.close()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only: about SQLite itself (its file, the WAL, "
        "backups, a full disk, a corrupt file); skipped on PostgreSQL")


def pytest_collection_modifyitems(config, items):
    if ENGINE != "postgresql":
        return
    skip = pytest.mark.skip(reason="about SQLite itself (its file, the WAL, "
                            "backups, a full disk or a corrupt file)")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    if _cluster is not None:
        _cluster.remove()


def wait_for(fn, timeout=15, what=None, step=0.2):
    """fn()'s first true value within timeout seconds, tried every step;
    else its last value, or AssertionError naming what when what is given."""
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            break
        time.sleep(step)
    if not value and what is not None:
        raise AssertionError(f"timed out waiting for {what}")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp, token_suffix="", **overrides):
        # token_suffix names a second node's tokens apart from the
        # first's in one shared database (test_nodes.py).
        self.tmp = pathlib.Path(tmp)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = self.tmp / "derelict.db"
        self.secret_file = self.tmp / "enroll-secret"
        self.enroll_secret = "test-secret-" + os.urandom(8).hex()
        self.secret_file.write_text(self.enroll_secret + "\n")
        os.chmod(self.secret_file, 0o600)
        server = {
            "listen": f"127.0.0.1:{self.port}",
            "database": str(self.db),
            "enroll_secret_file": str(self.secret_file),
            "advisories_file": str(ROOT / "data" / "advisories.json"),
            "eol_file": str(ROOT / "data" / "eol.json"),
            # Tests stay on loopback: no fetch of Debian's tracker unless a
            # test points advisories_url at a server of its own.
            "advisories_url": "",
        }
        if ENGINE == "postgresql" and "database" not in overrides:
            server["database"] = fresh_database()
            # answer.key and the feed's copy, kept beside a SQLite file
            server["state_dir"] = str(self.tmp)
        self.database = str(overrides.get("database", server["database"]))
        rules = {"evaluate_every": "1s"}
        # "section.key" puts a key in any other section: notify.x = ...
        others = {}
        for k, v in list(overrides.items()):
            if "." in k:
                section, key = k.split(".", 1)
                others.setdefault(section, {})[key] = v
                del overrides[k]
        # [notify] keys may also come as notify={...}.
        for k, v in overrides.pop("notify", {}).items():
            others.setdefault("notify", {})[k] = v
        for k, v in overrides.items():
            (server if k in ("listen", "database", "enroll_secret_file",
                             "tls_cert", "tls_key", "max_body_bytes",
                             "advisories_file", "eol_file", "advisories_url",
                             "advisories_refresh", "public_url",
                             "state_dir")
             else rules)[k] = v
        if "listen" in overrides:
            self.port = int(str(overrides["listen"]).rsplit(":", 1)[1])
        self.conf = self.tmp / "derelictd.conf"
        lines = ["[server]"] + [f"{k} = {v}" for k, v in server.items()]
        lines += ["", "[rules]"] + [f"{k} = {v}" for k, v in rules.items()]
        for section, keys in others.items():
            lines += ["", f"[{section}]"] + [f"{k} = {v}" for k, v in keys.items()]
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = open(self.tmp / "derelictd.log", "ab")
        self.proc = None
        self.start()
        self.admin_token = self.cli("token", "add", "admin-test" + token_suffix,
                                    "--role", "admin").strip()
        self.viewer_token = self.cli("token", "add", "viewer-test" + token_suffix,
                                     "--role", "viewer").strip()

    def db_connect(self, readonly=False, timeout=5.0):
        """A connection to the server's database, whichever the engine:
        sqlite3's, or a PgConnection with the same execute()."""
        if self.database.startswith(("postgresql://", "postgres://")):
            return PgConnection(self.database)
        if readonly:
            return sqlite3.connect(f"file:{self.database}?mode=ro", uri=True,
                                   timeout=timeout)
        return sqlite3.connect(self.database, timeout=timeout)

    def cli(self, *args, check=True):
        r = subprocess.run([DERELICTD, "--config", str(self.conf), *args],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"derelictd {args} failed: {r.stderr}")
        return r.stdout

    def start(self):
        self.proc = subprocess.Popen([DERELICTD, "--config", str(self.conf)],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("derelictd exited at start: "
                                     + (self.tmp / "derelictd.log").read_text())
            try:
                with urllib.request.urlopen(self.url + "/api/v1/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("derelictd did not answer /healthz")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def restart(self):
        self.stop()
        self.start()

    def restore(self, backup):
        """Stops the server, puts the copy at `backup` (from `derelictd
        backup`) in place of its database, WAL and all, and starts it."""
        self.stop()
        for suffix in ("", "-wal", "-shm"):
            pathlib.Path(str(self.db) + suffix).unlink(missing_ok=True)
        shutil.copy(backup, self.db)
        self.start()

    def api(self, method, path, body=None, token=ADMIN, headers=None, raw=None):
        if token is ADMIN:
            token = self.admin_token
        hdrs = dict(headers or {})
        if token is not None:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        url = self.url + ("" if path.startswith("/api/") or path == "/" or path.startswith("/static") else "/api/v1") + path
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, payload, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, payload, rh = e.code, e.read(), e.headers
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return status, parsed, rh

    def section(self, host_id, name, token=ADMIN):
        """GET /hosts/{host_id}/{name} page by page: (status, the first
        page with the items of every page, headers of the last)."""
        status, first, headers = self.api("GET", f"/hosts/{host_id}/{name}?limit=1000",
                                          token=token)
        page = first
        while status == 200 and page.get("next_cursor"):
            status, page, headers = self.api(
                "GET", f"/hosts/{host_id}/{name}?limit=1000&cursor={page['next_cursor']}",
                token=token)
            if status == 200:
                first["items"] += page["items"]
        if status != 200:
            return status, page, headers
        first["next_cursor"] = None
        return status, first, headers

    def agent(self, *args, root=None, state=None, timeout=60, project=None, owner=None):
        state = pathlib.Path(state or (self.tmp / "agent-state"))
        state.mkdir(parents=True, exist_ok=True)
        cmd = [AGENT, "--config", "/dev/null", "--server", self.url,
               "--enroll-secret-file", str(self.secret_file),
               "--state-dir", str(state)]
        if root is not None:
            cmd += ["--root", str(root)]
        if project is not None:
            cmd += ["--project", project]
        if owner is not None:
            cmd += ["--owner", owner]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def make_server():
    made = []

    def make(**overrides):
        tmp = tempfile.mkdtemp(prefix="derelict-it-")
        s = Server(tmp, **overrides)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def server(make_server):
    return make_server()


def basic_auth(token):
    return "Basic " + base64.b64encode(f"any:{token}".encode()).decode()


class Recorder(BaseHTTPRequestHandler):
    """The agent's fake server (fixture fake): records every request,
    answers enroll with 201 and reports with whatever the test queued."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        srv = self.server
        srv.log.append((self.path, dict(self.headers), json.loads(raw)))
        if self.path == "/api/v1/enroll":
            status, body = 201, {"host_id": 7, "token": "tok-123"}
        else:
            status, body = srv.replies.pop(0) if srv.replies else (
                200, {"host_id": 7, "next_report_s": 3600})
        # bytes go as they are: a body that is not JSON at all.
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.log, srv.replies = [], []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
