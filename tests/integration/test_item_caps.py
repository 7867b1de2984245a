"""Issue 13, point 4 and part of 10: a bad item costs that item, never the
report (the cut rule, common/report.h).  The agent cuts what a hostile
process shows it; the server drops an item it cannot keep, stores the rest,
says so in the section's "rejected", and refuses a report only for its
envelope."""
import sqlite3
import time

from conftest import FIXTURES
from reports import Host, deltas, sealed, section_hash
from test_bad_input import snapshot

SECTIONS = ("ports", "services", "processes", "packages", "logins")


def section(server, host_id, name):
    status, body, _ = server.api("GET", f"/hosts/{host_id}/{name}")
    assert status == 200, body
    return body


def db_row(server, sql, *args):
    db = server.db_connect()
    try:
        return db.execute(sql, args).fetchone()
    finally:
        db.close()


def hostile_report(h):
    rep = h.report(
        ports=[{"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 812,
                "process": "exim4", "exe": "/usr/sbin/exim4",
                "user": "Debian-exim"},
               # wrong-typed optional field
               {"proto": "tcp", "address": "0.0.0.0", "port": 26, "pid": "x",
                "process": "p", "exe": "/p", "user": "u"},
               # over-long string, as a 0.2.1 agent sends a 0xFF path
               {"proto": "tcp", "address": "0.0.0.0", "port": 27, "pid": 9,
                "process": "evil", "exe": "/tmp/" + "\ufffd" * 3856,
                "user": "nobody"}],
        processes=[{"name": "exim4", "exe": "/usr/sbin/exim4",
                    "user": "Debian-exim", "count": 1},
                   # negative count
                   {"name": "evil", "exe": "/tmp/e", "user": "nobody",
                    "count": -5}])
    # a package missing a required field
    del rep["sections"]["packages"]["items"][3]["version"]
    # what the agent itself left out, and a count below zero in a header
    rep["sections"]["processes"]["dropped"] = 2
    rep["sections"]["logins"]["open_sessions"] = -1
    for name in ("ports", "processes", "packages", "logins"):
        rep["sections"][name] = sealed(
            {k: v for k, v in rep["sections"][name].items() if k != "hash"})
    return rep


def test_bad_items_are_dropped_and_counted_the_rest_stored(server):
    h = Host(server)
    rep = hostile_report(h)
    status, body, _ = h.send(rep)
    assert status == 200, body

    ports = section(server, h.id, "ports")
    assert [p["port"] for p in ports["items"]] == [25]
    assert ports["rejected"]["items"] == 2
    assert ports["rejected"]["first"].startswith("sections.ports.items[1]: pid")
    procs = section(server, h.id, "processes")
    assert [p["name"] for p in procs["items"]] == ["exim4"]
    assert procs["rejected"] == {"items": 1, "fields": 0, "first":
                                 "sections.processes.items[1]: count: expected"
                                 " an integer from 0 to 9007199254740992"}
    assert procs["dropped"] == 2
    logins = section(server, h.id, "logins")
    assert "open_sessions" not in logins
    assert logins["rejected"] == {"items": 0, "fields": 1, "first":
                                  "sections.logins.open_sessions: expected an"
                                  " integer from 0 to 9007199254740992"}
    pk = section(server, h.id, "packages")
    assert len(pk["items"]) == 19 and "lib3" not in [p["name"] for p in pk["items"]]
    assert pk["rejected"]["items"] == 1
    assert "version: missing" in pk["rejected"]["first"]
    # The mail service the good item shows is seen.
    host = server.api("GET", f"/hosts/{h.id}")[1]
    assert host["mail"]["running"] and host["mail"]["exposed"]
    # Sections without a bad item carry no "rejected".
    assert "rejected" not in section(server, h.id, "services")

    # The same report again, each section as a bare hash (what an agent
    # sends when nothing changed): ports and processes were stored under
    # the hash of what was sent, so they match at once; packages keep the
    # hash of the rows they hold, so they get one 409 and go in full.
    before = snapshot(server, h)
    status, body, _ = h.send(deltas(rep, SECTIONS))
    assert status == 409 and body["error"]["sections"] == ["packages"], body
    assert snapshot(server, h) == before
    status, body, _ = h.send(deltas(rep, [s for s in SECTIONS if s != "packages"]))
    assert status == 200, body
    status, body, _ = h.send(deltas(rep, ("ports", "processes", "services", "logins")))
    assert status == 200, body
    assert section(server, h.id, "ports")["hash"] == rep["sections"]["ports"]["hash"]
    assert section(server, h.id, "ports")["rejected"]["items"] == 2
    # Nothing was recorded as changed by sending the same thing again.
    n = db_row(server, "SELECT count(*) FROM changes WHERE host_id = ?", h.id)[0]
    assert h.send(deltas(rep, ("ports", "processes", "services", "logins")))[0] == 200
    assert db_row(server, "SELECT count(*) FROM changes WHERE host_id = ?", h.id)[0] == n


def test_the_claim_is_checked_against_what_was_sent(server):
    h = Host(server)
    assert h.send(h.report())[0] == 200
    before = snapshot(server, h)
    rep = hostile_report(h)
    # A hash over the section without its bad items is not the agent's
    # hash of what it sent: refused, nothing stored.
    good = [p for p in rep["sections"]["ports"]["items"] if p["port"] == 25]
    rep["sections"]["ports"]["hash"] = section_hash({"items": good})
    status, body, _ = h.send(rep)
    assert status == 422 and body["error"]["code"] == "hash_mismatch", body
    assert snapshot(server, h) == before


def test_a_bad_envelope_is_refused_and_changes_nothing(server):
    h = Host(server)
    assert h.send(h.report())[0] == 200
    before = snapshot(server, h)

    def case(fn):
        rep = hostile_report(h)
        fn(rep)
        return rep

    def deep(rep):
        rep["host"]["x"] = [[[[[[[[[1]]]]]]]]]

    cases = [
        (lambda r: r.pop("schema"), 422),
        (lambda r: r.update(schema=2), 422),
        (lambda r: r["agent"].pop("id"), 422),
        (lambda r: r["agent"].update(id="someone-else"), 403),
        (lambda r: r.pop("host"), 422),
        (lambda r: r["host"].pop("hostname"), 422),
        (lambda r: r["host"].update(hostname="h" * 5000), 413),
        (lambda r: r.update(sections=[1, 2]), 422),
        (lambda r: r.update(collected_at="last tuesday"), 422),
        (lambda r: r["sections"]["ports"].update(items={"a": 1}), 422),
        (deep, 413),
    ]
    for fn, expected in cases:
        status, body, _ = h.send(case(fn))
        assert status == expected, (status, body)
        assert body["error"]["code"] and body["error"]["message"]
    assert snapshot(server, h) == before


def test_collected_at_far_ahead_is_stored_as_received(server):
    h = Host(server)
    t0 = int(time.time())
    rep = h.report(collected_at="2999-01-01T00:00:00Z")
    assert h.send(rep)[0] == 200
    at = db_row(server, "SELECT collected_at FROM hosts WHERE id = ?", h.id)[0]
    assert t0 - 5 <= at <= int(time.time()) + 5
    # Of another type, it is dropped; an hour ahead is a clock a little off
    # and kept as sent.
    rep = h.report(collected_at=None)
    rep["collected_at"] = 12345
    assert h.send(rep)[0] == 200
    ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert h.send(h.report(collected_at=ahead))[0] == 200
    at = db_row(server, "SELECT collected_at FROM hosts WHERE id = ?", h.id)[0]
    assert abs(at - (int(time.time()) + 3600)) < 60


def test_agent_on_a_host_with_a_hostile_exe(server, tmp_path):
    """The real agent on a root captured from a real machine where nobody
    ran a program from a 3,884-byte path of 0xFF bytes: before the cut
    rule its exe became 11,596 bytes and every report got a 413."""
    root = FIXTURES / "roots" / "hostile-exe"
    state = tmp_path / "state"
    r = server.agent("--once", root=root, state=state)
    assert r.returncode == 0, r.stderr
    host_id = server.api("GET", "/hosts")[1]["items"][0]["id"]
    ports = section(server, host_id, "ports")
    evil = [p for p in ports["items"] if p["port"] == 18025]
    assert len(evil) == 1 and evil[0]["truncated"] is True
    assert len(evil[0]["exe"].encode()) <= 4096
    assert evil[0]["exe"].endswith("\ufffd") and evil[0]["user"] == "nobody"
    assert "rejected" not in ports
    procs = section(server, host_id, "processes")
    assert any(p.get("truncated") for p in procs["items"])
    # Run again: nothing changed, so every section goes as a bare hash and
    # is taken at once (no 409, nothing sent in full).
    r = server.agent("--once", root=root, state=state)
    assert r.returncode == 0, r.stderr
    rows = db_row(server, "SELECT count(*), min(full_sections), "
                  "max(full_sections) FROM reports WHERE host_id = ? AND "
                  "id = (SELECT max(id) FROM reports WHERE host_id = ?)",
                  host_id, host_id)
    assert rows == (1, 0, 0), rows
