"""Durability: what was acknowledged survives kill -9; a server restored
from an older backup asks for what it lost and the agent repairs it."""
import signal
import sqlite3
import threading
import time

import pytest

from conftest import ENGINE
from reports import Host, package
from scenario import compose


def test_kill_9_loses_no_acknowledged_report(server):
    hosts = [Host(server) for _ in range(20)]
    acked = {h.id: 0 for h in hosts}
    stop = threading.Event()

    def reporter(h):
        n = 0
        while not stop.is_set():
            n += 1
            rep = h.report(packages=[package("marker", f"{n}-1"),
                                     package("libc6", "2.36-9")])
            try:
                status, _, _ = h.send(rep)
            except OSError:
                return  # the server died under us
            if status == 200:
                acked[h.id] = n

    threads = [threading.Thread(target=reporter, args=(h,)) for h in hosts]
    for t in threads:
        t.start()
    # Let them report for a while, then pull the plug mid-stream.
    deadline = time.time() + 300
    while sum(acked.values()) < 200 and time.time() < deadline:
        time.sleep(0.001)
    assert sum(acked.values()) >= 200, "the reports did not get through"
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    server.proc = None
    server.start()

    if ENGINE == "sqlite":
        db = sqlite3.connect(server.db)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for h in hosts:
        status, pk, _ = server.section(h.id, "packages")
        marker = [p for p in pk["items"] if p["name"] == "marker"]
        if acked[h.id] == 0:
            continue
        # The stored state is at least as new as the last 200 received.
        assert marker, h.id
        stored = int(marker[0]["version"].split("-")[0])
        assert stored >= acked[h.id], (h.id, stored, acked[h.id])
    assert sum(acked.values()) >= 200


@pytest.mark.sqlite_only
def test_restore_from_backup_resend_repairs(server):
    root = compose(server.tmp, "restored-box", version="4.92-8+deb10u1")
    state = server.tmp / "state-restored"
    r = server.agent("--once", root=root, state=state)
    assert r.returncode == 0, r.stderr
    backup = server.tmp / "backup.db"
    server.cli("backup", str(backup))
    assert sqlite3.connect(backup).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The host changes after the backup was taken...
    compose(server.tmp, "restored-box", version="4.98.2-1", release="bookworm")
    assert server.agent("--once", root=root, state=state).returncode == 0
    # ...then the server is restored from the older copy.
    server.restore(backup)
    # The agent sends hashes the server does not hold: 409, then the full
    # sections at once, and the report lands.
    r = server.agent("--once", root=root, state=state)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", "/hosts?q=restored-box")
    hid = hosts["items"][0]["id"]
    s, pk, _ = server.section(hid, "packages")
    versions = {p["name"]: p["version"] for p in pk["items"]}
    assert versions["exim4-daemon-light"] == "4.98.2-1"
    text = server.api("GET", "/metrics")[1]
    text = text.decode() if isinstance(text, bytes) else text
    assert 'derelict_reports_rejected_total{reason="resend"} 1' in text


def test_sigterm_finishes_in_flight_reports(server):
    hosts = [Host(server) for _ in range(10)]
    results = []

    def send(h):
        try:
            results.append((h.id, h.send(h.report())[0]))
        except OSError:
            results.append((h.id, None))

    threads = [threading.Thread(target=send, args=(h,)) for h in hosts]
    for t in threads:
        t.start()
    rc = server.stop(signal.SIGTERM)
    for t in threads:
        t.join()
    assert rc == 0
    ok = [hid for hid, status in results if status == 200]
    db = server.db_connect()
    stored = {r[0] for r in db.execute("SELECT DISTINCT host_id FROM sections")}
    assert set(ok) <= stored
    if ENGINE == "sqlite":
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
