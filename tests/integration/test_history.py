"""Issue 13, points 5, 8 and 9, against the real derelictd and agent:
enrollment on a full disk, the history budget and its retention, and the
re-enrollment of an agent id that already exists."""
import contextlib
import os
import pathlib
import sqlite3
import subprocess
import time
import uuid

import shutil

import pytest

from conftest import FIXTURES, wait_for
from reports import Host, report, sealed


def reconfigure(server, **keys):
    """Restarts the server with more keys in its [server] section."""
    server.stop()
    text = server.conf.read_text().replace(
        "[server]\n", "[server]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()), 1)
    server.conf.write_text(text)
    server.start()


def changes(server, host_id):
    """The host's whole history, newest first."""
    out, cursor = [], None
    while True:
        path = f"/hosts/{host_id}/changes?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = server.api("GET", path)
        assert status == 200, page
        out += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return out, page["total"]


def ports(first, n):
    return [{"proto": "tcp", "address": "0.0.0.0", "port": 1 + (first + i) % 65535,
             "pid": None, "process": None, "exe": None, "user": None}
            for i in range(n)]


# ---- point 5: enrollment on a full disk ---------------------------------

@contextlib.contextmanager
def small_tmpfs(path, size="16m"):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path):
    """Fills the file system holding path; returns the filler's path."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:                      # the last few bytes too
            while True:
                f.write(b"\0")
        except OSError:
            pass
    return filler


@pytest.mark.sqlite_only
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_enroll_on_full_disk_is_503_and_the_agent_recovers(make_server, tmp_path):
    with small_tmpfs(tmp_path / "disk") as disk:
        server = make_server(database=str(disk / "derelict.db"))
        state = tmp_path / "agent-state"
        filler = fill(disk)
        try:
            ids = []
            for _ in range(3):
                status, body, headers = server.api("POST", "/enroll", {
                    "enroll_secret": server.enroll_secret,
                    "agent_id": str(uuid.uuid4()), "hostname": "full-disk"},
                    token=None)
                assert status == 503, (status, body)
                assert body["error"]["code"] in ("disk_full", "unavailable"), body
                assert "token" not in body and int(headers["Retry-After"]) > 0
                ids.append(body.get("host_id"))
            assert ids == [None] * 3

            # The real agent: refused, keeps no token, says why on one line.
            r = server.agent(state=state, root=FIXTURES / "roots" / "exim")
            assert r.returncode == 1, (r.returncode, r.stderr)
            assert "503" in r.stderr and len(r.stderr.strip().splitlines()) == 1
            assert not (state / "token").exists()
        finally:
            filler.unlink()

        # Nothing of it was committed.
        status, page, _ = server.api("GET", "/hosts")
        assert status == 200 and page["total"] == 0, page

        # Space again: the same agent enrolls and reports on its next run.
        r = server.agent(state=state, root=FIXTURES / "roots" / "exim")
        assert r.returncode == 0, r.stderr
        r = server.agent(state=state, root=FIXTURES / "roots" / "exim")
        assert r.returncode == 0, r.stderr
        status, page, _ = server.api("GET", "/hosts")
        assert page["total"] == 1
        assert page["items"][0]["agent_id"] == (state / "agent-id").read_text().strip()
        server.stop()


def test_agent_drops_a_token_the_server_never_kept(server, tmp_path):
    """What an older server's 201 on a full disk left behind: a token that
    no report was ever accepted under.  The agent enrolls again instead of
    exiting 3 forever; a token that did work once still means revoked."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "token").write_text("f" * 64 + "\n")
    (state / "token").chmod(0o600)
    r = server.agent(state=state, root=FIXTURES / "roots" / "exim")
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert (state / "token").read_text().strip() != "f" * 64
    status, page, _ = server.api("GET", "/hosts")
    assert page["total"] == 1
    assert server.agent(state=state, root=FIXTURES / "roots" / "exim").returncode == 0


# ---- point 8: bounded history --------------------------------------------

def test_history_budget_per_report_and_per_day(server):
    reconfigure(server, changes_per_report=100, changes_per_day=450)
    h = Host(server)
    sets = [ports(0, 1000), ports(20000, 1000)]
    for i in range(8):
        status, body, _ = h.send(h.report(ports=sets[i % 2]))
        assert status == 200, body
    items, total = changes(server, h.id)
    truncated = [c for c in items if c["action"] == "changes_truncated"]
    itemised = [c for c in items if c["action"] != "changes_truncated"]
    # 7 changed reports of 2,000 changes each: 100 rows for the first four,
    # the last 50 of the day's 450 for the fifth, then none.
    assert len(itemised) == 450, len(itemised)
    assert total == len(items)
    assert all(c["section"] == "ports" for c in truncated)
    # One row per report until the day ran out (four), then one for the
    # rest of the day, which the later reports add to.
    assert len(truncated) == 5, [c["new"] for c in truncated]
    day = truncated[0]["new"]
    assert day["limit"] == "day"
    assert day["not_itemised"] == 2000 - 50 + 2 * 2000, day
    assert day["added"] + day["removed"] + day["changed"] == day["not_itemised"]
    first = truncated[-1]["new"]
    assert first["limit"] == "report" and first["not_itemised"] == 1900
    # The section itself is stored whole: the last set, all of it.
    status, got, _ = server.api(f"GET", f"/hosts/{h.id}/ports?limit=1000")
    assert status == 200
    assert sorted(p["port"] for p in got["items"]) == sorted(p["port"] for p in sets[1])


def test_history_budget_defaults(server):
    h = Host(server)
    a, b = ports(0, 3000), ports(30000, 3000)
    assert h.send(h.report(ports=a))[0] == 200
    assert h.send(h.report(ports=b))[0] == 200
    items, total = changes(server, h.id)
    assert total == 2001, total
    t, = [c for c in items if c["action"] == "changes_truncated"]
    assert t["new"]["not_itemised"] == 4000 and t["new"]["limit"] == "report"
    assert t["key"] == ""


def test_history_keep_prunes_in_the_background(server):
    h = Host(server)
    assert h.send(h.report(ports=ports(0, 10)))[0] == 200
    assert h.send(h.report(ports=ports(100, 10)))[0] == 200
    _, before = changes(server, h.id)
    assert before == 20
    reconfigure(server, history_keep="1h")
    server.stop()
    # 12,000 rows of two years ago, more than one pass takes.
    db = server.db_connect()
    with db:
        db.executemany(
            "INSERT INTO changes (host_id, at, section, key, action, old, new) "
            "VALUES (?, ?, 'ports', ?, 'added', NULL, '{}')",
            [(h.id, int(time.time()) - 730 * 86400, f"old {i}") for i in range(12000)])
    db.close()
    server.start()
    assert wait_for(lambda: changes(server, h.id)[1] == 20, timeout=20), changes(server, h.id)[1]
    items, _ = changes(server, h.id)
    assert not any(c["key"].startswith("old ") for c in items)


# ---- point 9: re-enrollment of an existing agent id ----------------------

def enroll(server, agent_id, hostname="intruder"):
    status, body, _ = server.api("POST", "/enroll", {
        "enroll_secret": server.enroll_secret, "agent_id": agent_id,
        "hostname": hostname}, token=None)
    assert status == 201, body
    return body


def host_of(server, agent_id):
    status, page, _ = server.api("GET", f"/hosts?q={agent_id}")
    assert status == 200 and page["total"] == 1, page
    return page["items"][0]["id"]


def root_with_machine_id(tmp_path):
    """The exim fixture root, with the /etc/machine-id a real host has."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "roots" / "exim", root, symlinks=True)
    (root / "etc" / "machine-id").write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    return root


def test_reenroll_with_another_machine_id_keeps_the_inventory(server, tmp_path):
    state = tmp_path / "victim"
    root = root_with_machine_id(tmp_path)
    assert server.agent(state=state, root=root).returncode == 0
    agent_id = (state / "agent-id").read_text().strip()
    host_id = host_of(server, agent_id)
    _, old_ports, _ = server.api("GET", f"/hosts/{host_id}/ports")
    assert old_ports["items"], "the fixture listens on ports"
    _, history_before = changes(server, host_id)

    stolen = enroll(server, agent_id)
    assert stolen["host_id"] == host_id
    # Until the new identity reports, the old token works on.
    r = server.agent(state=state, root=root)
    assert r.returncode == 0, r.stderr

    # The intruder's first report: another machine, nothing installed.
    rep = report(agent_id, hostname="intruder", ports=[], packages=[])
    status, body, _ = server.api("POST", "/reports", rep, token=stolen["token"])
    assert status == 200, body

    status, found, _ = server.api("GET", f"/findings?host={host_id}&rule=host-identity-changed")
    assert status == 200 and found["total"] == 1, found
    f = found["items"][0]
    assert f["severity"] == "high" and f["status"] == "open"
    assert f["details"]["machine_id"] == rep["host"]["machine_id"]
    assert f["details"]["previous_machine_id"] == "3d1219c7c4c5404aaa1f6d2a48adfda4"

    # The old inventory is history, not removals: one row says where it
    # went, and no item was recorded as removed.
    items, total = changes(server, host_id)
    new_rows = items[:total - history_before]
    assert not [c for c in new_rows if c["action"] == "removed"], new_rows
    ident, = [c for c in new_rows if c["section"] == "host"]
    assert ident["key"] == "machine_id"
    assert ident["old"]["items"]["ports"] == len(old_ports["items"])
    assert ident["new"]["machine_id"] == rep["host"]["machine_id"]
    db = server.db_connect()
    (n,), = db.execute("SELECT count(*) FROM host_snapshots WHERE host_id = ? AND id = ?",
                       (host_id, ident["old"]["snapshot_id"])).fetchall()
    db.close()
    assert n == 1
    _, now_ports, _ = server.api("GET", f"/hosts/{host_id}/ports")
    assert now_ports["items"] == []

    # The new identity holds the host now; the old token is refused.
    r = server.agent(state=state, root=root)
    assert r.returncode == 3, (r.returncode, r.stderr)


def test_reenroll_before_the_new_identity_reports_cuts_nobody_off(server):
    h = Host(server)
    rep = h.report()
    assert h.send(rep)[0] == 200
    stolen = enroll(server, h.agent_id)
    # An empty report under the old token is the host's own business;
    # the waiting token changes nothing until it reports.
    for _ in range(2):
        assert h.send(rep)[0] == 200
    status, found, _ = server.api("GET", f"/findings?host={h.id}&rule=host-identity-changed")
    assert found["total"] == 0
    # A second enrollment replaces the waiting token.
    second = enroll(server, h.agent_id)
    status, body, _ = server.api("POST", "/reports", report(h.agent_id, ports=[]),
                                 token=stolen["token"])
    assert status == 401, (status, body)
    assert h.send(rep)[0] == 200
    assert second["host_id"] == h.id


def test_reenroll_sends_a_bare_hash_again_in_full(server):
    """The first report of another machine must carry its sections in
    full: a bare hash is answered 409 and changes nothing."""
    h = Host(server)
    rep = h.report()
    assert h.send(rep)[0] == 200
    stolen = enroll(server, h.agent_id)
    bare = dict(rep, sections={k: {"hash": v["hash"]} for k, v in rep["sections"].items()})
    bare["host"] = dict(rep["host"], machine_id=uuid.uuid4().hex)
    status, body, _ = server.api("POST", "/reports", bare, token=stolen["token"])
    assert status == 409 and sorted(body["error"]["sections"]) == sorted(rep["sections"])
    assert h.send(rep)[0] == 200      # the old token still holds


def test_reenroll_same_machine_takes_over_cleanly(server, tmp_path):
    state = tmp_path / "state"
    root = root_with_machine_id(tmp_path)
    assert server.agent(state=state, root=root).returncode == 0
    old_token = (state / "token").read_text().strip()
    agent_id = (state / "agent-id").read_text().strip()
    host_id = host_of(server, agent_id)
    _, before = changes(server, host_id)

    (state / "token").unlink()
    r = server.agent(state=state, root=root)
    assert r.returncode == 0, r.stderr
    assert (state / "token").read_text().strip() != old_token
    assert host_of(server, agent_id) == host_id
    _, after = changes(server, host_id)
    assert after == before
    status, found, _ = server.api("GET", f"/findings?host={host_id}&rule=host-identity-changed")
    assert found["total"] == 0
    status, _, _ = server.api("POST", "/reports", report(agent_id, ports=[]), token=old_token)
    assert status == 401
    assert server.agent(state=state, root=root).returncode == 0
