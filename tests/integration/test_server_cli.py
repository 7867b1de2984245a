"""derelictd's command line: configuration checks, tokens, backups, schema
versions and signals."""
import os
import signal
import sqlite3
import subprocess

import pytest

from conftest import DERELICTD, free_port
from reports import Host


def run(*args, **kw):
    return subprocess.run([DERELICTD, *args], capture_output=True, text=True,
                          timeout=30, **kw)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("derelictd ")
    r = run("--help")
    assert r.returncode == 0
    for flag in ("--listen", "--database", "--enroll-secret-file", "--tls-cert",
                 "--max-body-bytes", "--smtp-ports", "--silent-after",
                 "--evaluate-every", "token add", "backup", "advisories import"):
        assert flag in r.stdout, flag


def test_check_config_names_file_line_and_key(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("[server]\nlisten = 127.0.0.1:9999\n\n[rules]\nsilent_after = 3d\n")
    assert run("--config", str(good), "--check-config").returncode == 0
    cases = [
        ("[server]\nlisten = x\nbogus_key = 1\n", "3", "bogus_key"),
        ("[rules]\n\nidle_after = 30 parsecs\n", "3", "idle_after"),
        ("[rules]\nsmtp_ports = 25, 99999\n", "2", "smtp_ports"),
        ("[server]\nmax_body_bytes = -5\n", "2", "max_body_bytes"),
    ]
    for text, line, key in cases:
        bad = tmp_path / "bad.conf"
        bad.write_text(text)
        r = run("--config", str(bad), "--check-config")
        assert r.returncode == 1, text
        assert f"{bad}:{line}: {key}" in r.stderr, r.stderr
    r = run("--config", str(tmp_path / "missing.conf"), "--check-config")
    assert r.returncode == 1 and "missing.conf" in r.stderr
    # A flag overrides the file, and is checked the same way.
    r = run("--config", str(good), "--silent-after", "soon", "--check-config")
    assert r.returncode == 1 and "--silent-after" in r.stderr
    assert run("--config", str(good), "--no-such-flag", "1").returncode == 2


def test_tls_needs_both_halves(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[server]\ntls_cert = /etc/ssl/certs/x.pem\n")
    r = run("--config", str(conf), "--check-config")
    assert r.returncode == 1 and "tls_key" in r.stderr


def test_token_commands(server):
    assert run("--config", str(server.conf), "token", "add", "admin-test",
               "--role", "admin").returncode == 1  # exists
    assert run("--config", str(server.conf), "token", "add", "x",
               "--role", "root").returncode == 2
    r = run("--config", str(server.conf), "token", "add", "ci", "--role", "viewer")
    token = r.stdout.strip()
    assert r.returncode == 0 and len(token) == 64 and r.stdout.count("\n") == 1
    assert server.api("GET", "/hosts", token=token)[0] == 200
    assert run("--config", str(server.conf), "token", "revoke", "nope").returncode == 1
    assert run("--config", str(server.conf), "frobnicate").returncode == 2


@pytest.mark.sqlite_only
def test_backup_while_serving(server):
    h = Host(server)
    assert h.send(h.report())[0] == 200
    dest = server.tmp / "copy.db"
    server.cli("backup", str(dest))
    db = sqlite3.connect(dest)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM hosts").fetchone()[0] == 1
    assert db.execute("SELECT sum(n) FROM host_packages").fetchone()[0] == 20


def test_refuses_a_newer_database(tmp_path):
    db = tmp_path / "future.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 999")
    con.close()
    r = run("--database", str(db), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode == 1 and "newer" in r.stderr
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 999


def test_migrations_are_applied_once(tmp_path):
    db = tmp_path / "new.db"
    assert run("--database", str(db), "token", "list").returncode == 0
    v = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    assert v >= 1
    assert run("--database", str(db), "token", "list").returncode == 0
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == v


def test_refuses_a_secret_others_can_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    os.chmod(secret, 0o644)
    r = run("--database", str(tmp_path / "d.db"), "--enroll-secret-file", str(secret),
            "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode == 1 and str(secret) in r.stderr


def test_advisories_import(server):
    sample = os.path.join(os.path.dirname(__file__), "..", "fixtures",
                          "advisories", "tracker-sample.json")
    r = run("--config", str(server.conf), "advisories", "import", sample)
    assert r.returncode == 0 and "imported" in r.stdout
    bad = server.tmp / "bad.json"
    bad.write_text('{"not": "advisories"')
    assert run("--config", str(server.conf), "advisories", "import", str(bad)).returncode == 1


def test_sigterm_exits_zero_and_listen_failure_is_reported(server):
    # The port is taken by the running server.
    r = run("--config", str(server.conf))
    assert r.returncode == 1 and "cannot listen" in r.stderr
    assert server.stop(signal.SIGTERM) == 0
    log = (server.tmp / "derelictd.log").read_text()
    assert "<5>stopped" in log


def test_sighup_reloads_imported_advisories(server):
    import time
    from reports import package
    h = Host(server)
    rep = h.report(packages=[package("exim4-base", "4.96-15+deb12u11", source="exim4"),
                             package("postfix", "3.7.11-0+deb12u1")])
    assert h.send(rep)[0] == 200
    s, pk, _ = server.section(h.id, "packages")
    before = {p["name"]: p.get("vulnerabilities", []) for p in pk["items"]}
    # The shipped data flags postfix 3.7.11 only for what bookworm has no
    # fix for (CVE-2026-43964, fixed in trixie's 3.10.10).
    assert before == {"exim4-base": [], "postfix": ["CVE-2026-43964"]}
    sample = os.path.join(os.path.dirname(__file__), "..", "fixtures",
                          "advisories", "tracker-sample.json")
    server.cli("advisories", "import", sample)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        s, pk, _ = server.section(h.id, "packages")
        vulns = {p["name"]: p.get("vulnerabilities", []) for p in pk["items"]}
        if "CVE-2023-51764" in vulns["postfix"]:
            break
        time.sleep(0.2)
    # The tracker's "open" in bookworm is fresher than the shipped entry
    # (fixed in 3.7.9-0+deb12u1) for the same CVE, and matches every
    # version; the shipped CVE-2026-43964 stays.
    assert sorted(vulns["postfix"]) == ["CVE-2023-51764", "CVE-2026-43964"]
    # Open in bookworm too, but of urgency "unimportant": kept, not raised.
    assert vulns["exim4-base"] == []
    assert server.proc.poll() is None
