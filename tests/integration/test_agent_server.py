"""The agent --once against a real derelictd (conftest's server fixture),
and against a recording fake server for the exact wire behaviour: deltas,
gzip, the 409 resend and a rejected token."""
import json
import stat
import subprocess

import pytest

import scenario
from conftest import AGENT, FIXTURES


def needs_server(test):
    """Marks the tests that talk to a real derelictd (built by make)."""
    return test

SECTIONS = ("ports", "services", "processes", "packages", "logins", "mail")


def host_of(server, agent_id):
    st, body, _ = server.api("GET", f"/hosts?q={agent_id}")
    assert st == 200, body
    hosts = [h for h in body["items"] if h["agent_id"] == agent_id]
    assert len(hosts) == 1, body
    return hosts[0]


@needs_server
def test_enroll_then_report(server, tmp_path):
    state = tmp_path / "state"
    r = server.agent(state=state, project="acme-portal")
    assert r.returncode == 0, r.stderr
    token = state / "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert token.read_text().strip()
    agent_id = (state / "agent-id").read_text().strip()
    host = host_of(server, agent_id)
    st, pk, _ = server.section(host['id'], "packages")
    assert st == 200
    names = {p["name"] for p in pk["items"]}
    assert "libc6" in names
    # Hashes are stored only once the server said 200.
    lines = (state / "hashes").read_text().split()
    assert set(lines[0::2]) == set(SECTIONS)


@needs_server
def test_unchanged_second_report(server, tmp_path):
    state = tmp_path / "state"
    assert server.agent(state=state).returncode == 0
    first = (state / "hashes").read_text().split()
    r = server.agent(state=state)
    assert r.returncode == 0, r.stderr
    # Processes come and go on a busy machine; the packages do not.
    again = (state / "hashes").read_text().split()
    assert again[again.index("packages") + 1] == first[first.index("packages") + 1]
    agent_id = (state / "agent-id").read_text().strip()
    host = host_of(server, agent_id)
    # Bare hashes never read as "all gone".
    st, pk, _ = server.section(host['id'], "packages")
    assert st == 200 and len(pk["items"]) > 10


@pytest.mark.sqlite_only
@needs_server
def test_resend_after_server_restored_from_backup(server, tmp_path):
    state = tmp_path / "state"
    assert server.agent(state=state).returncode == 0          # real root
    backup = tmp_path / "backup.db"
    server.cli("backup", str(backup))
    exim = FIXTURES / "roots" / "exim"
    assert server.agent(state=state, root=exim).returncode == 0  # changed
    server.restore(backup)
    # The agent sends bare hashes the server does not hold: 409, resend.
    r = server.agent(state=state, root=exim)
    assert r.returncode == 0, r.stderr
    agent_id = (state / "agent-id").read_text().strip()
    host = host_of(server, agent_id)
    st, ports, _ = server.section(host['id'], "ports")
    assert st == 200
    assert any(p["port"] == 25 and p.get("exe") == "/usr/sbin/exim4"
               for p in ports["items"]), ports


def run(fake, tmp_path, *extra, root=FIXTURES / "roots" / "wtmp"):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    return subprocess.run(
        [AGENT, "--config", "/dev/null", "--once",
         "--server", f"http://127.0.0.1:{fake.server_address[1]}",
         "--enroll-secret-file", str(secret),
         "--state-dir", str(tmp_path / "state"),
         "--root", str(root), *extra],
        capture_output=True, text=True, timeout=60)


def test_wire_deltas_and_resend(fake, tmp_path):
    # A root where every collector reads its section: a failed one is
    # never acknowledged and always goes in full (test_collector_errors).
    root = scenario.compose(tmp_path, "wire-01", mta="exim")
    r = run(fake, tmp_path, root=root)
    assert r.returncode == 0, r.stderr
    (p1, h1, enroll), (p2, h2, full) = fake.log
    assert not [s for s in SECTIONS if "error" in full["sections"][s]], full
    assert p1 == "/api/v1/enroll"
    assert enroll == {"enroll_secret": "s3cret",
                      "agent_id": (tmp_path / "state/agent-id").read_text().strip(),
                      "hostname": full["host"]["hostname"]}
    assert p2 == "/api/v1/reports"
    assert h2["Authorization"] == "Bearer tok-123"
    assert h2["Content-Encoding"] == "gzip"
    assert all("items" in full["sections"][s] for s in SECTIONS)

    # Unchanged: every section a bare hash, the whole report small.
    fake.log.clear()
    assert run(fake, tmp_path, root=root).returncode == 0
    (_, _, delta), = fake.log
    for s in SECTIONS:
        assert delta["sections"][s] == {"hash": full["sections"][s]["hash"]}
    assert len(json.dumps(delta)) < 2000

    # 409: the named sections again, in full, at once.
    fake.log.clear()
    fake.replies = [(409, {"error": {"code": "resend", "message": "x",
                                     "sections": ["packages", "logins"]}})]
    assert run(fake, tmp_path, root=root).returncode == 0
    (_, _, a), (_, _, b) = fake.log
    assert a["sections"]["packages"] == {"hash": full["sections"]["packages"]["hash"]}
    assert "items" in b["sections"]["logins"] and "items" in b["sections"]["packages"]
    assert b["sections"]["ports"] == {"hash": full["sections"]["ports"]["hash"]}


def test_no_hashes_stored_without_200(fake, tmp_path):
    fake.replies = [(500, {"error": {"code": "internal", "message": "db down"}})]
    r = run(fake, tmp_path)
    assert r.returncode == 1
    assert "500" in r.stderr and "db down" in r.stderr
    assert not (tmp_path / "state/hashes").exists()
    fake.log.clear()
    assert run(fake, tmp_path).returncode == 0
    (_, _, full), = fake.log                  # sent in full again
    assert all("items" in full["sections"][s] for s in SECTIONS)


def test_token_rejected(fake, tmp_path):
    assert run(fake, tmp_path).returncode == 0
    fake.replies = [(401, {"error": {"code": "unauthorized", "message": "no"}})]
    r = run(fake, tmp_path)
    assert r.returncode == 3
    assert r.stderr.startswith("derelict-agent: token rejected (revoked?)")
    assert len(r.stderr.strip().splitlines()) == 1


def test_daemon_stops_on_sigterm(fake, tmp_path):
    import signal, time
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    p = subprocess.Popen(
        [AGENT, "--config", "/dev/null", "--daemon", "--interval", "5",
         "--server", f"http://127.0.0.1:{fake.server_address[1]}",
         "--enroll-secret-file", str(secret),
         "--state-dir", str(tmp_path / "state"),
         "--root", str(FIXTURES / "roots" / "wtmp")],
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and len(fake.log) < 2:
            time.sleep(0.1)
        assert len(fake.log) >= 2     # enrolled and reported
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
