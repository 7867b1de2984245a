"""A collector that fails on the agent never reads as "all gone" (SPEC
section 2, issue 13 point 3): the server keeps the section as last read,
records the error and when it began, raises collector-failing, and clears
both once the section is read again.  The real agent on a real captured
root (the Exim one, its /proc/net tables removed) against a real derelictd,
and the wire contract with hand-made reports."""
import shutil
import sqlite3
import subprocess
import time

import pytest

import scenario
from conftest import AGENT
from reports import Host


def host_id(server, state):
    agent_id = (state / "agent-id").read_text().strip()
    st, body, _ = server.api("GET", f"/hosts?q={agent_id}")
    assert st == 200 and body["total"] == 1, body
    return body["items"][0]["id"]


def ports(server, hid):
    st, body, _ = server.api("GET", f"/hosts/{hid}/ports")
    assert st == 200, body
    return sorted((p["proto"], p["address"], p["port"]) for p in body["items"])


def changes(server, hid, section=None):
    st, body, _ = server.api("GET", f"/hosts/{hid}/changes?limit=1000")
    assert st == 200, body
    return [c for c in body["items"] if section is None or c["section"] == section]


def host(server, hid):
    st, body, _ = server.api("GET", f"/hosts/{hid}")
    assert st == 200, body
    return body


def collector_findings(server, hid, status="open"):
    st, body, _ = server.api(
        "GET", f"/findings?host={hid}&rule=collector-failing&status={status}")
    assert st == 200, body
    return body["items"]


def broken_copy(root, tables):
    """The root with the named proc/net tables gone, as on a host where
    /proc/net cannot be read (the tests run as root, so a mode would not
    stop the agent)."""
    broken = root.parent / (root.name + "-broken")
    if broken.exists():
        shutil.rmtree(broken)
    shutil.copytree(root, broken, symlinks=True)
    for t in tables:
        (broken / "proc" / "net" / t).unlink()
    return broken


EXIM_PORTS = [("tcp", "0.0.0.0", 25), ("tcp", "0.0.0.0", 2024),
              ("tcp", "127.0.0.1", 8471)]


@pytest.mark.parametrize("tables", [("tcp", "tcp6"),
                                    ("tcp", "tcp6", "udp", "udp6")],
                         ids=["tcp-tables", "all-tables"])
def test_failed_ports_keep_the_stored_ports(server, tmp_path, tables):
    root = scenario.compose(tmp_path, "mail-01", mta="exim")
    broken = broken_copy(root, tables)
    state = tmp_path / "state"
    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr
    hid = host_id(server, state)
    assert ports(server, hid) == EXIM_PORTS
    assert host(server, hid)["mail"]["exposed"] is True
    assert host(server, hid).get("collector_errors", []) == []
    before = changes(server, hid)

    r = server.agent(root=broken, state=state)
    assert r.returncode == 0, r.stderr
    assert ports(server, hid) == EXIM_PORTS
    assert not [c for c in changes(server, hid) if c["action"] == "removed"]
    assert changes(server, hid) == before
    h = host(server, hid)
    assert h["mail"]["exposed"] is True and h["mail"]["running"] is True
    st, lst, _ = server.api("GET", "/hosts?mail=true")
    assert hid in [x["id"] for x in lst["items"]]
    errs = h["collector_errors"]
    assert [e["section"] for e in errs] == ["ports"], errs
    assert errs[0]["error"] and errs[0]["since"]
    since = errs[0]["since"]
    (f,) = collector_findings(server, hid)
    assert f["severity"] == "low" and f["details"]["section"] == "ports", f
    assert "ports" in f["summary"] and errs[0]["error"] in f["summary"]
    assert f["id"] in [x["id"] for x in h["findings"]]

    # Still failing a second later: the failure began when it began.
    time.sleep(1.1)
    r = server.agent(root=broken, state=state)
    assert r.returncode == 0, r.stderr
    assert host(server, hid)["collector_errors"][0]["since"] == since
    assert [x["id"] for x in collector_findings(server, hid)] == [f["id"]]
    assert ports(server, hid) == EXIM_PORTS

    # Read again: the error and the finding go, and nothing was ever
    # removed or added.
    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr
    h = host(server, hid)
    assert h["collector_errors"] == []
    assert collector_findings(server, hid) == []
    (done,) = collector_findings(server, hid, "resolved")
    assert done["id"] == f["id"]
    assert ports(server, hid) == EXIM_PORTS
    assert changes(server, hid) == before
    assert h["mail"]["exposed"] is True


def test_first_report_with_a_failed_section(server, tmp_path):
    root = scenario.compose(tmp_path, "mail-02", mta="exim")
    broken = broken_copy(root, ("tcp", "tcp6", "udp", "udp6"))
    state = tmp_path / "state"
    r = server.agent(root=broken, state=state)
    assert r.returncode == 0, r.stderr
    hid = host_id(server, state)
    st, body, _ = server.api("GET", f"/hosts/{hid}/ports")
    assert st == 200 and body["items"] == [] and "hash" not in body, body
    assert [e["section"] for e in host(server, hid)["collector_errors"]] == ["ports"]
    (f,) = collector_findings(server, hid)
    assert f["severity"] == "low"
    # The agent acknowledged nothing for ports.
    assert "ports" not in (state / "hashes").read_text().split()[0::2]

    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr
    assert ports(server, hid) == EXIM_PORTS
    # The first ports read are the baseline, not three "added" rows.
    assert changes(server, hid, "ports") == []
    assert collector_findings(server, hid) == []
    assert host(server, hid)["collector_errors"] == []
    assert host(server, hid)["mail"]["exposed"] is True


def test_agent_never_acknowledges_a_failed_section(fake, tmp_path):
    """On the wire: the failed section goes in full with its error and no
    hash, and once it is read again it goes as the hash acknowledged
    before the failure, which is what the server kept."""
    root = scenario.compose(tmp_path, "mail-03", mta="exim")
    broken = broken_copy(root, ("tcp", "tcp6"))
    state = tmp_path / "state"

    def run(r):
        return subprocess.run(
            [AGENT, "--config", "/dev/null", "--server",
             f"http://127.0.0.1:{fake.server_address[1]}",
             "--enroll-secret-file", str(secret), "--state-dir", str(state),
             "--root", str(r), "--once"],
            capture_output=True, text=True, timeout=60)

    secret = tmp_path / "secret"
    secret.write_text("s\n")
    secret.chmod(0o600)
    assert run(root).returncode == 0
    full = fake.log[-1][2]
    good = full["sections"]["ports"]["hash"]
    fake.log.clear()
    assert run(broken).returncode == 0
    sec = fake.log[-1][2]["sections"]["ports"]
    assert sec["error"] and sec["items"] == [] and "hash" not in sec, sec
    # The other sections are unchanged, and go as bare hashes.
    assert fake.log[-1][2]["sections"]["packages"] == {
        "hash": full["sections"]["packages"]["hash"]}
    fake.log.clear()
    assert run(broken).returncode == 0
    assert "error" in fake.log[-1][2]["sections"]["ports"]
    fake.log.clear()
    assert run(root).returncode == 0
    assert fake.log[-1][2]["sections"]["ports"] == {"hash": good}


def test_error_sections_on_the_wire(server):
    h = Host(server)
    rep = h.report(ports=[{"proto": "tcp", "address": "0.0.0.0", "port": 25,
                           "pid": 812, "process": "exim4",
                           "exe": "/usr/sbin/exim4", "user": "Debian-exim"}])
    st, body, _ = h.send(rep)
    assert st == 200, body
    kept = ports(server, h.id)
    assert host(server, h.id)["mail"]["exposed"] is True

    def state():
        return (ports(server, h.id), changes(server, h.id),
                host(server, h.id)["collector_errors"],
                [(f["rule"], f["severity"]) for f in host(server, h.id)["findings"]])

    before = state()
    # Malformed: refused as a whole, nothing changes.
    for bad in ({"error": 42, "items": []}, {"error": ["x"]},
                {"error": {"message": "x"}, "items": []}):
        r2 = dict(rep, sections=dict(rep["sections"], ports=bad))
        st, body, _ = h.send(r2)
        assert st == 422 and "sections.ports.error" in body["error"]["message"], body
        assert state() == before

    # An over-long error is cut, on a character boundary, and marked.
    r2 = dict(rep, sections=dict(rep["sections"],
                                 ports={"error": "é" * 1000, "items": []}))
    st, body, _ = h.send(r2)
    assert st == 200, body
    (e,) = host(server, h.id)["collector_errors"]
    assert len(e["error"].encode()) <= 256 and e["error"].endswith("…"), e
    assert e["error"].startswith("éé")
    assert ports(server, h.id) == kept
    assert host(server, h.id)["mail"]["exposed"] is True
    since = e["since"]

    # Longer than any string may be: refused clearly or cut, never stored
    # in full and never taken for an empty section.
    r2 = dict(rep, sections=dict(rep["sections"],
                                 ports={"error": "x" * 5000, "items": []}))
    st, body, _ = h.send(r2)
    assert st in (200, 413), (st, body)
    (e,) = host(server, h.id)["collector_errors"]
    assert len(e["error"].encode()) <= 256 and e["since"] == since
    assert ports(server, h.id) == kept

    # Whatever else a failed section carries is not read: no items, bogus
    # items, a hash that matches nothing.
    for odd in ({"error": "eacces"},
                {"error": "eacces", "items": "not a list", "hash": "0" * 64},
                {"error": "eacces", "items": [{"proto": 1}]},
                {"error": "", "items": []}):
        r2 = dict(rep, sections=dict(rep["sections"], ports=odd))
        st, body, _ = h.send(r2)
        assert st == 200, (odd, body)
        assert ports(server, h.id) == kept
        assert not [c for c in changes(server, h.id) if c["action"] == "removed"]
        (e,) = host(server, h.id)["collector_errors"]
        assert e["since"] == since and e["error"] == (odd["error"] or "unknown error")

    # A section sent as a bare hash that matches is read again: cleared.
    bare = dict(rep, sections=dict(rep["sections"],
                                   ports={"hash": rep["sections"]["ports"]["hash"]}))
    st, body, _ = h.send(bare)
    assert st == 200, body
    assert host(server, h.id)["collector_errors"] == []
    assert collector_findings(server, h.id) == []
    assert ports(server, h.id) == kept


def test_failing_for_a_week_is_medium(server):
    h = Host(server)
    rep = h.report()
    assert h.send(rep)[0] == 200
    r2 = dict(rep, sections=dict(rep["sections"],
                                 packages={"error": "Permission denied"},
                                 logins={"error": "Input/output error"}))
    assert h.send(r2)[0] == 200
    found = {f["details"]["section"]: f for f in collector_findings(server, h.id)}
    assert set(found) == {"packages", "logins"}
    assert {f["severity"] for f in found.values()} == {"low"}
    # Packages began to fail eight days ago; the server's periodic
    # evaluation (every second in tests) raises it to medium on its own.
    db = server.db_connect(timeout=30)
    with db:
        db.execute("UPDATE collector_errors SET since = since - 8 * 86400 "
                   "WHERE host_id = ? AND section = 'packages'", (h.id,))
        db.execute("UPDATE hosts SET next_eval_at = 0 WHERE id = ?", (h.id,))
    db.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        found = {f["details"]["section"]: f
                 for f in collector_findings(server, h.id)}
        if found["packages"]["severity"] == "medium":
            break
        time.sleep(0.2)
    assert found["packages"]["severity"] == "medium", found
    assert found["logins"]["severity"] == "low"
    assert host(server, h.id)["severity"] == "medium"
    # The packages were kept throughout.
    st, pk, _ = server.api("GET", f"/hosts/{h.id}/packages")
    assert len(pk["items"]) == len(rep["sections"]["packages"]["items"])
    # Both read again (in full): both resolve.
    assert h.send(rep)[0] == 200
    assert collector_findings(server, h.id) == []
