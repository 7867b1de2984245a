"""Several derelictd nodes on one PostgreSQL adding the rows hosts share
(issue 19): the fleet's package names and versions, and the project an
agent's tag names.  Another node's writer is played here by a transaction of
the test's own, held open at the moment that matters, so the race is not
left to chance."""
import hashlib
import threading
import time

import pytest

from conftest import ENGINE
from reports import Host, canon, package

pytestmark = pytest.mark.skipif(ENGINE != "postgresql",
                                reason="several nodes need PostgreSQL")


def other_node(server):
    """A connection of "another node's writer", in a transaction."""
    import psycopg2
    return psycopg2.connect(server.database)


def wait_blocked_on(server, cons, timeout=20):
    """The connection of cons the server's writer waits for."""
    watch = other_node(server)
    watch.autocommit = True
    pids = {c.get_backend_pid(): c for c in cons}
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            cur = watch.cursor()
            cur.execute("SELECT pg_blocking_pids(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND "
                        "wait_event_type = 'Lock'")
            for (blockers,) in cur.fetchall():
                for b in blockers:
                    if b in pids:
                        return pids[b]
            time.sleep(0.05)
    finally:
        watch.close()
    raise AssertionError("the writer never waited for the other transaction")


def test_a_name_and_a_version_another_node_adds_meanwhile(server):
    """The writer reads that a package name (and a version) is not there;
    another node's transaction adds it before the writer does and commits:
    the report is stored, the rows not doubled (a plain INSERT violated
    the unique key and refused the report, even when applied alone)."""
    host = Host(server)
    x = package("raced-name", "1.0-1")
    y = package("raced-version", "2.0-1")
    # y's name exists; its version is what the other node adds.
    c = other_node(server)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("INSERT INTO package_names (name) VALUES ('raced-version') "
                "RETURNING id")
    y_name = cur.fetchone()[0]
    c.close()
    first, second = other_node(server), other_node(server)
    first.cursor().execute("INSERT INTO package_names (name) VALUES "
                           "('raced-name')")
    second.cursor().execute(
        "INSERT INTO package_versions (name_id, arch, version, source, "
        "source_version, dkey, digest) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (y_name, y["arch"], y["version"], y["source"], y["source_version"],
         hashlib.sha256(canon(y)).digest()[:8], hashlib.sha256(canon(y)).digest()))
    got = []
    t = threading.Thread(target=lambda: got.append(
        host.send(host.report(packages=[x, y]))))
    t.start()
    try:
        # Whichever the writer meets first commits first, then the other.
        for _ in range(2):
            wait_blocked_on(server, [first, second]).commit()
    finally:
        first.close()
        second.close()
        t.join(60)
    status, body, _ = got[0]
    assert status == 200, body
    status, body, _ = server.section(host.id, "packages")
    assert sorted(p["name"] for p in body["items"]) == ["raced-name",
                                                        "raced-version"]
    con = server.db_connect()
    assert con.execute("SELECT count(*) FROM package_names WHERE name LIKE "
                       "'raced-%'").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM package_versions v JOIN "
                       "package_names n ON n.id = v.name_id WHERE n.name "
                       "LIKE 'raced-%'").fetchone()[0] == 2


def test_a_project_another_node_holds_does_not_stop_reports(server):
    """A first report tagged with a project that exists does not wait for
    another node's transaction holding that project's row (the upsert
    locked it for the whole batch: every node's first reports of the
    project's hosts queued behind each other, or deadlocked)."""
    status, body, _ = server.api("POST", "/projects", {"name": "held",
                                                       "owner": "ops"})
    assert status == 201, body
    # The other node's writer tagging a host with it, as the old code did
    # it on every node: an upsert, which locks the row.
    hold = other_node(server)
    hold.cursor().execute(
        "INSERT INTO projects (name, owner, created_at) VALUES ('held', "
        "NULL, 0) ON CONFLICT (name) DO UPDATE SET owner = "
        "coalesce(projects.owner, NULL) RETURNING id")
    host = Host(server)
    got = []
    t = threading.Thread(target=lambda: got.append(
        host.send(host.report(project="held"))))
    t.start()
    t.join(15)
    in_time = bool(got)
    hold.rollback()
    hold.close()
    t.join(60)
    assert in_time, "the report waited for the other node's transaction"
    status, body, _ = got[0]
    assert status == 200, body
    assert server.api("GET", f"/hosts/{host.id}")[1]["project"] == "held"


def test_a_deadlock_with_another_node_is_tried_again(server):
    """Two writers adding the same new names in opposite orders deadlock;
    PostgreSQL aborts one of them.  Here the other node's transaction waits
    ten seconds before it looks for a deadlock, so the writer (one second,
    the default) is the one aborted: its report is tried again, alone,
    once the other transaction is done, and answered 200, not 503."""
    host = Host(server)
    a, b = package("zz-deadlock-a", "1.0-1"), package("zz-deadlock-b", "1.0-1")
    other = other_node(server)
    cur = other.cursor()
    cur.execute("SET deadlock_timeout = '10s'")
    cur.execute("INSERT INTO package_names (name) VALUES ('zz-deadlock-b')")
    got = []
    t = threading.Thread(target=lambda: got.append(
        host.send(host.report(packages=[a, b]))))
    t.start()
    try:
        # The writer took zz-deadlock-a and waits for zz-deadlock-b.
        wait_blocked_on(server, [other])
        t0 = time.time()
        # And now this waits for the writer's zz-deadlock-a: a cycle,
        # which the writer's backend finds first and is aborted for.
        cur.execute("INSERT INTO package_names (name) VALUES "
                    "('zz-deadlock-a')")
        waited = time.time() - t0
        other.commit()
    finally:
        other.close()
        t.join(60)
    assert 0.5 < waited < 9, waited  # the writer gave way, not this one
    status, body, _ = got[0]
    assert status == 200, body
    status, body, _ = server.section(host.id, "packages")
    assert sorted(p["name"] for p in body["items"]) == ["zz-deadlock-a",
                                                        "zz-deadlock-b"]
    assert "refused" not in (server.tmp / "derelictd.log").read_text()
