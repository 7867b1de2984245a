"""Faults around a real derelictd and the real agent: a full disk under the
database, a server that accepts connections and never answers, and a host
whose token was revoked."""
import os
import pathlib
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import AGENT
from reports import Host, package


def integrity(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def small_disk():
    """A 2 MiB tmpfs, unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="derelict-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    try:
        yield pathlib.Path(d)
    finally:
        subprocess.run(["umount", "-l", d], check=False)
        os.rmdir(d)


def fill(path):
    """Writes path until the file system is full; returns the bytes written."""
    n = 0
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                n += f.write(chunk)
        except OSError:
            pass
    return n


def big_report(host, seq, n=600):
    # Distinct names and versions every time: each report needs new pages.
    pkgs = [package(f"pkg-{seq}-{i}-{uuid.uuid4().hex[:12]}",
                    f"{seq}.{i}-1") for i in range(n)]
    return host.report(packages=pkgs)


@pytest.mark.sqlite_only
def test_full_disk_gives_503_and_ingest_recovers(make_server, small_disk):
    db = small_disk / "derelict.db"
    server = make_server(database=str(db))
    host = Host(server)
    assert host.send(big_report(host, 0))[0] == 200
    accepted = 1

    filler = small_disk / "filler"
    assert fill(filler) > 0
    statuses = []
    for seq in range(1, 16):
        status, body, headers = host.send(big_report(host, seq))
        statuses.append(status)
        assert status in (200, 503), (status, body)
        if status == 200:
            accepted += 1
            continue
        assert body["error"]["code"] == "disk_full", body
        assert int(headers["Retry-After"]) > 0
        break
    assert 503 in statuses, statuses
    # Reading goes on while the disk is full, and the server is alive;
    # /healthz answers, and says the store cannot commit (issue 13).
    status, health, _ = server.api("GET", "/healthz", token=None)
    assert status == 503 and health["reason"] == "disk_full", health
    assert server.api("GET", f"/hosts/{host.id}")[0] == 200
    assert server.proc.poll() is None

    # Space comes back: the next report is stored, without a restart.
    filler.unlink()
    status, body, _ = host.send(big_report(host, 100))
    assert status == 200, body
    accepted += 1
    # Ok again once the checkpointer, too, has written (it tries each second).
    deadline = time.time() + 10
    while server.api("GET", "/healthz", token=None)[0] != 200:
        assert time.time() < deadline, "/healthz still failing"
        time.sleep(0.1)
    assert server.proc.poll() is None
    assert server.stop() == 0
    assert integrity(db) == "ok"
    con = sqlite3.connect(db)
    try:
        stored = con.execute("SELECT count(*) FROM reports WHERE host_id = ?",
                             (host.id,)).fetchone()[0]
    finally:
        con.close()
    # Every 200 is on disk, and no refused report left anything behind.
    assert stored == accepted


class Silent:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)  # held open, never read nor answered

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


def test_agent_does_not_hang_on_a_silent_server(tmp_path):
    silent = Silent()
    secret = tmp_path / "secret"
    secret.write_text("x" * 32 + "\n")
    secret.chmod(0o600)
    try:
        t0 = time.monotonic()
        r = subprocess.run(
            [AGENT, "--config", "/dev/null", "--once",
             "--server", f"http://127.0.0.1:{silent.port}",
             "--enroll-secret-file", str(secret),
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        silent.close()
    assert silent.conns, "the agent never connected"
    assert r.returncode not in (0, 3), r
    # The agent's total timeout is 60 s per request.
    assert elapsed < 75, elapsed
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "timeout" in lines[0].lower() or "timed out" in lines[0].lower(), lines
    assert not (tmp_path / "state" / "token").exists()


def test_revoked_host_token_exits_3_with_one_line(server):
    state = server.tmp / "revoked-state"
    r = server.agent(state=state)
    assert r.returncode == 0, r.stderr
    agent_id = (state / "agent-id").read_text().strip()
    status, page, _ = server.api("GET", f"/hosts?q={agent_id}")
    assert status == 200 and page["total"] == 1
    host_id = page["items"][0]["id"]
    assert server.api("DELETE", f"/hosts/{host_id}")[0] == 204

    r = server.agent(state=state)
    assert r.returncode == 3, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "401" in lines[0] and "token" in lines[0], lines
    # The agent keeps its token: enrolling again is the operator's call.
    assert (state / "token").exists()
