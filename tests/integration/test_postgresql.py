"""What is PostgreSQL's own (the rest of the suite runs on it with
DERELICT_TEST_ENGINE=postgresql): --check-config's engine line, the
collation refusal, the password file, a newer schema refused, backup
refused, a 200 only after the commit, a lost connection made again.  Each
test uses the session's cluster (or, for passwords, one of its own) on
either engine's run."""
import os
import re
import signal
import subprocess
import time

import pytest

import pg
from conftest import DERELICTD, ENGINE, fresh_database, free_port, pg_cluster
from reports import Host, package


def run(*args, timeout=60):
    return subprocess.run([DERELICTD, "--config", "/dev/null", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_check_config_names_the_engine_and_its_version(tmp_path):
    uri = fresh_database()
    r = run("--database", uri, "--check-config")
    assert r.returncode == 0, r.stderr
    port = pg_cluster().port
    assert re.fullmatch(r"database: PostgreSQL 15\.\d+ at "
                        rf"127\.0\.0\.1:{port}/t\w+\n", r.stdout), r.stdout
    # postgres:// names the same engine; the path SQLite.
    r = run("--database", uri.replace("postgresql://", "postgres://"),
            "--check-config")
    assert r.returncode == 0 and "PostgreSQL 15." in r.stdout, r.stderr
    db = tmp_path / "d.db"
    r = run("--database", str(db), "--check-config")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"database: SQLite 3\.\d+\.\d+ at {db}\n", r.stdout)
    assert not db.exists()  # --check-config creates nothing


def test_check_config_fails_when_the_server_is_not_there():
    r = run("--database", f"postgresql://derelict@127.0.0.1:{free_port()}/x",
            "--check-config")
    assert r.returncode == 1
    assert "cannot connect to PostgreSQL" in r.stderr


def test_refuses_a_database_that_does_not_collate_bytewise():
    c = pg_cluster()
    name = f"u{os.getpid()}_{free_port()}"
    uri = c.create_database(name, collate="C.UTF-8")
    for args in (("--check-config",), ("token", "list")):
        r = run("--database", uri, *args)
        assert r.returncode == 1, r.stdout
        assert "LC_COLLATE 'C'" in r.stderr and "TEMPLATE template0" in r.stderr
    # Nothing was migrated into it.
    assert c.sql("SELECT count(*) FROM pg_tables WHERE tablename = "
                 "'schema_migrations'", db=name).strip() == "0"


def test_password_file(tmp_path):
    password = "pw-" + os.urandom(8).hex()
    c = pg.Cluster(auth="scram-sha-256", password=password)
    try:
        c.create_database("d")
        uri = c.uri("d")
        pwfile = tmp_path / "db-password"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        env_clean = {k: v for k, v in os.environ.items()
                     if not k.startswith("PG")}

        def dd(*args):
            r = subprocess.run([DERELICTD, "--config", "/dev/null",
                                "--database", uri, *args],
                               capture_output=True, text=True, timeout=60,
                               env=env_clean)
            assert password not in r.stdout + r.stderr
            return r

        # Without it the server refuses us.
        r = dd("--check-config")
        assert r.returncode == 1 and "password" in r.stderr
        # With it: connected, migrated, writing.
        r = dd("--database-password-file", str(pwfile), "--check-config")
        assert r.returncode == 0 and "PostgreSQL 15." in r.stdout, r.stderr
        r = dd("--database-password-file", str(pwfile), "token", "add", "t1",
               "--role", "viewer")
        assert r.returncode == 0, r.stderr
        assert c.sql("SELECT count(*) FROM schema_migrations", db="d").strip() != ""
        # A file others may read is refused, as the enroll secret is.
        os.chmod(pwfile, 0o644)
        r = dd("--database-password-file", str(pwfile), "--check-config")
        assert r.returncode == 1 and "readable by others" in r.stderr
        os.chmod(pwfile, 0o600)
        # A wrong one fails to connect.
        bad = tmp_path / "bad"
        bad.write_text("not-it\n")
        os.chmod(bad, 0o600)
        r = dd("--database-password-file", str(bad), "--check-config")
        assert r.returncode == 1 and "password authentication failed" in r.stderr
        # A password in the URI works, with a warning.
        r = subprocess.run([DERELICTD, "--config", "/dev/null", "--database",
                            uri.replace("derelict@", f"derelict:{password}@"),
                            "--check-config"],
                           capture_output=True, text=True, timeout=60,
                           env=env_clean)
        assert r.returncode == 0, r.stderr
        assert "database_password_file" in r.stderr
    finally:
        c.remove()


def test_refuses_a_newer_schema():
    uri = fresh_database()
    name = uri.rsplit("/", 1)[1]
    assert run("--database", uri, "token", "list").returncode == 0
    c = pg_cluster()
    before = c.sql("SELECT max(version) FROM schema_migrations", db=name)
    c.sql("INSERT INTO schema_migrations VALUES (999999, 0)", db=name)
    r = run("--database", uri, "token", "list")
    assert r.returncode == 1 and "newer than this derelictd" in r.stderr
    assert c.sql("SELECT count(*) FROM schema_migrations WHERE version > "
                 f"{int(before or 0)}", db=name).strip() == "1"


def test_migrations_are_applied_once():
    uri = fresh_database()
    name = uri.rsplit("/", 1)[1]
    assert run("--database", uri, "token", "list").returncode == 0
    first = pg_cluster().sql("SELECT version, applied_at FROM "
                             "schema_migrations ORDER BY 1", db=name)
    assert run("--database", uri, "token", "list").returncode == 0
    assert pg_cluster().sql("SELECT version, applied_at FROM "
                            "schema_migrations ORDER BY 1", db=name) == first


def test_backup_is_refused_with_a_pointer_to_pg_dump(tmp_path):
    uri = fresh_database()
    dest = tmp_path / "copy.db"
    r = run("--database", uri, "backup", str(dest))
    assert r.returncode == 1 and "pg_dump" in r.stderr
    assert not dest.exists()


def test_healthz_names_the_engine(make_server):
    s = make_server(database=fresh_database())
    status, body, _ = s.api("GET", "/healthz", token=None)
    assert status == 200 and body == {"status": "ok", "engine": "PostgreSQL",
                                    "leader": True}


def test_a_200_is_sent_only_after_the_commit(make_server):
    s = make_server(database=fresh_database())
    h = Host(s)
    rep = h.report(packages=[package("marker", "7-1")])
    status, _, _ = h.send(rep)
    assert status == 200
    # No grace: the report is in PostgreSQL the moment the 200 is out.
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.proc = None
    s.start()
    status, pk, _ = s.section(h.id, "packages")
    assert status == 200
    assert [p["version"] for p in pk["items"] if p["name"] == "marker"] == ["7-1"]


def test_a_lost_connection_is_made_again(make_server):
    uri = fresh_database()
    s = make_server(database=uri)
    name = uri.rsplit("/", 1)[1]
    assert s.api("GET", "/whoami")[0] == 200
    killed = pg_cluster().sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND application_name = 'derelictd'")
    assert int(killed) >= 1
    # An idle connection finds it lost at its next BEGIN and is made
    # again there; one cut inside a transaction fails that (-EIO, never a
    # crash) and is made again at its next.
    seen = []
    deadline = time.time() + 30
    while time.time() < deadline:
        status = s.api("GET", "/whoami")[0]
        seen.append(status)
        if seen[-10:] == [200] * 10:
            break
    assert seen[-10:] == [200] * 10, seen
    assert all(x in (200, 500, 503) for x in seen), seen
    assert s.proc.poll() is None
    # And writes go through again.
    h = Host(s)
    status, _, _ = h.send(h.report(packages=[package("after", "1-1")]))
    assert status == 200


def test_an_evaluation_locks_the_hosts_row_before_its_findings(make_server):
    """Every write that evaluates a host takes the host's row before its
    findings: the evaluation pass, waiting for a row another transaction
    holds, holds none of the host's findings, so that transaction (a
    PATCH of the host: the row, then its findings) can write them.  The
    pass used to write the findings first, and the two deadlocked."""
    import psycopg2
    uri = fresh_database()
    s = make_server(database=uri)
    assert s.api("POST", "/projects", {"name": "p", "ends_on": "2020-01-01"})[0] == 201
    h = Host(s)
    assert h.send(h.report(project="p"))[0] == 200
    deadline = time.time() + 20
    while time.time() < deadline and not s.api("GET", f"/findings?host={h.id}")[1]["items"]:
        time.sleep(0.1)
    assert s.api("GET", f"/findings?host={h.id}")[1]["items"], "no finding opened"
    name = uri.rsplit("/", 1)[1]
    auto = psycopg2.connect(uri)
    auto.autocommit = True
    t1 = psycopg2.connect(uri)
    try:
        waiting = 0
        for _ in range(10):
            # Due now; then the row held before the pass (every second)
            # evaluates it, or tried again.
            auto.cursor().execute("UPDATE hosts SET next_eval_at = 0 WHERE id = %s", (h.id,))
            cur = t1.cursor()
            cur.execute("SELECT next_eval_at FROM hosts WHERE id = %s FOR UPDATE", (h.id,))
            if cur.fetchone()[0] != 0:
                t1.rollback()
                continue
            deadline = time.time() + 5
            while time.time() < deadline and not waiting:
                c = auto.cursor()
                c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                          "application_name = 'derelictd' AND wait_event_type = 'Lock'", (name,))
                waiting = c.fetchone()[0]
                time.sleep(0.05)
            break
        assert waiting, "the evaluation pass never waited for the host's row"
        # Past the pass's one deadlock check (deadlock_timeout, 1 s): a
        # cycle made now would be found by neither before the timeout.
        time.sleep(1.3)
        cur = t1.cursor()
        cur.execute("SET LOCAL lock_timeout = '300ms'")
        cur.execute("UPDATE findings SET last_seen = last_seen WHERE host_id = %s", (h.id,))
        assert cur.rowcount >= 1
        t1.commit()
        # The pass goes on and evaluates the host.
        deadline = time.time() + 10
        due = 0
        while time.time() < deadline:
            c = auto.cursor()
            c.execute("SELECT next_eval_at FROM hosts WHERE id = %s", (h.id,))
            due = c.fetchone()[0]
            if due:
                break
            time.sleep(0.1)
        assert due > 0
        assert s.api("PATCH", f"/hosts/{h.id}", {"note": "after"})[0] == 200
    finally:
        t1.close()
        auto.close()
