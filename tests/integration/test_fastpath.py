"""The fast path (issue 18): a report that changes nothing of a host the
server knows is answered 200 before its last_seen is written, which follows
within 5 s (FASTPATH_DIRTY_MAX).  What a kill -9 costs then, and that
whatever changes a host's standing (a deleted host, a new enrollment, a
revoked token, a retirement) is seen by its very next report."""
import json
import signal
import sqlite3
import time

from conftest import ENGINE
from reports import Host, deltas

DIRTY_MAX = 5  # server/fastpath.h
SECTIONS = ("ports", "services", "processes", "packages", "logins")


def db_row(server, sql, *args):
    con = server.db_connect(readonly=True, timeout=10)
    try:
        return con.execute(sql, args).fetchone()
    finally:
        con.close()


def fast_count(server):
    status, text, _ = server.api("GET", "/metrics")
    assert status == 200
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.splitlines():
        if line.startswith("derelict_reports_fast_total "):
            return int(line.split()[1])
    raise AssertionError("no derelict_reports_fast_total in /metrics")


def known_host(server):
    """A host whose full report and one unchanged report went the whole
    way, so the fast path knows it; returns it and its unchanged report."""
    h = Host(server)
    rep = h.report()
    rep["host"]["machine_id"] = h.agent_id.replace("-", "")
    status, body, _ = h.send(rep)
    assert status == 200, body
    same = deltas(rep, SECTIONS)
    status, body, _ = h.send(same)
    assert status == 200, body
    return h, same


def send_fast(server, h, same):
    """Sends the unchanged report and checks it took the fast path."""
    before = fast_count(server)
    status, body, _ = h.send(same)
    assert status == 200, body
    assert body["host_id"] == h.id
    # Off on PostgreSQL: another node's writes would not empty it (main.c).
    assert fast_count(server) == before + (ENGINE == "sqlite")


def hashes(server, h):
    out = {}
    for name in SECTIONS:
        status, body, _ = server.section(h.id, name)
        assert status == 200, body
        out[name] = body["hash"]
    return out


def test_kill_9_after_unchanged_reports(server):
    h, same = known_host(server)
    held = hashes(server, h)
    t0 = int(time.time())
    send_fast(server, h, same)
    # Written soon after the 200, without waiting for anything else.
    deadline = time.time() + DIRTY_MAX
    while db_row(server, "SELECT last_seen FROM hosts WHERE id = ?", h.id)[0] < t0:
        assert time.time() < deadline, "last_seen not written within the bound"
        time.sleep(0.05)
    rows0 = db_row(server, "SELECT count(*) FROM reports WHERE host_id = ?", h.id)[0]

    # One more answered more than the bound before the crash, and a burst
    # answered just before it.
    time.sleep(1.1)
    t1 = int(time.time())
    send_fast(server, h, same)
    time.sleep(DIRTY_MAX + 1)
    for _ in range(20):
        status, _, _ = h.send(same)
        assert status == 200
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    server.start()

    if ENGINE == "sqlite":
        con = server.db_connect()
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
    # Every section survives as it was: an unchanged report is taken, no
    # 409 asks for anything again.
    assert hashes(server, h) == held
    status, body, _ = h.send(same)
    assert status == 200, body
    # last_seen is at least the one answered more than the bound before
    # the crash; at most the burst is forgotten.
    seen, rows = db_row(server, "SELECT h.last_seen, (SELECT count(*) FROM "
                        "reports WHERE host_id = h.id) FROM hosts h "
                        "WHERE id = ?", h.id)
    assert seen >= t1, (seen, t1)
    assert rows >= rows0 + 1


def test_sigterm_writes_last_seen(server):
    h, same = known_host(server)
    time.sleep(1.1)
    t = int(time.time())
    send_fast(server, h, same)
    assert server.stop() == 0
    assert db_row(server, "SELECT last_seen FROM hosts WHERE id = ?", h.id)[0] >= t


def test_a_deleted_host_is_refused_at_once(server):
    h, same = known_host(server)
    send_fast(server, h, same)
    assert server.api("DELETE", f"/hosts/{h.id}")[0] in (200, 204)
    status, body, _ = h.send(same)
    assert status == 401, body


def test_reenrollment_retires_the_old_token_at_once(server):
    h, same = known_host(server)
    send_fast(server, h, same)
    old = h.token
    status, body, _ = server.api("POST", "/enroll", {
        "enroll_secret": server.enroll_secret, "agent_id": h.agent_id,
        "hostname": h.hostname}, token=None)
    assert status == 201, body
    # The old token works until the new one reports (store_enroll()), and
    # that report is not taken on the fast path: it takes the host over.
    h.token = body["token"]
    before = fast_count(server)
    status, body, _ = h.send(same)
    assert status == 200, body
    assert fast_count(server) == before
    h.token = old
    status, body, _ = h.send(same)
    assert status == 401, body


def test_a_revoked_token_is_refused_at_once(server):
    h, same = known_host(server)
    send_fast(server, h, same)
    assert server.api("GET", "/hosts", token=server.viewer_token)[0] == 200
    server.cli("token", "revoke", "viewer-test")
    assert server.api("GET", "/hosts", token=server.viewer_token)[0] == 401
    # And the host's reports still go the fast way.
    send_fast(server, h, same)


def test_a_retired_host_reporting_is_news_at_once(server):
    h, same = known_host(server)
    send_fast(server, h, same)
    assert server.api("PATCH", f"/hosts/{h.id}", {"retired": True})[0] == 200
    time.sleep(1.1)
    before = fast_count(server)
    status, body, _ = h.send(same)
    assert status == 200, body
    assert fast_count(server) == before
    status, body, _ = server.api("GET", f"/findings?host_id={h.id}&status=open")
    assert status == 200, body
    rules = {f["rule"] for f in body["items"]}
    assert "retired-host-reporting" in rules, rules


def test_changed_report_is_committed_before_its_200(server):
    """A report that changes a section still waits for its commit, and
    the fast path then answers only for the new state."""
    h, same = known_host(server)
    send_fast(server, h, same)
    rep = h.report(packages=[{"name": "newpkg", "version": "1.0-1", "arch": "amd64",
                              "source": "newpkg", "source_version": "1.0-1"}])
    rep["host"]["machine_id"] = h.agent_id.replace("-", "")
    before = fast_count(server)
    status, body, _ = h.send(rep)
    assert status == 200, body
    assert fast_count(server) == before
    stored = db_row(server, "SELECT hash FROM sections WHERE host_id = ? AND "
                    "name = 'packages'", h.id)[0]
    assert stored == rep["sections"]["packages"]["hash"]
    # The old hashes are no longer what the server holds: 409.
    status, body, _ = h.send(same)
    assert status == 409, body
    assert body["error"]["sections"] == ["packages"]


JSON = {"Content-Type": "application/json"}


def unparsed_count(server):
    status, text, _ = server.api("GET", "/metrics")
    assert status == 200
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.splitlines():
        if line.startswith("derelict_reports_fast_unparsed_total "):
            return int(line.split()[1])
    raise AssertionError("no derelict_reports_fast_unparsed_total in /metrics")


def collected_at(server, h):
    return db_row(server, "SELECT collected_at FROM hosts WHERE id = ?", h.id)[0]


def wait_collected(server, h, want):
    deadline = time.time() + DIRTY_MAX + 5
    while collected_at(server, h) != want:
        assert time.time() < deadline, (collected_at(server, h), want)
        time.sleep(0.05)


def test_an_unchanged_report_with_a_new_stamp_is_not_parsed_again(server):
    """An agent's unchanged reports differ only in collected_at: the body
    of the learned one with another stamp is taken without parsing it,
    and whatever else is sent the same way still gets the answer the
    parser gives, and changes nothing it would not."""
    h, same = known_host(server)
    fast = ENGINE == "sqlite"    # off on PostgreSQL (main.c)
    raw = json.dumps(same).encode()
    stamp = same["collected_at"].encode()
    assert raw.count(stamp) == 1

    def sent(new):
        return raw.replace(stamp, new.encode())

    before, fast_before = unparsed_count(server), fast_count(server)
    status, body, _ = h.send(None, raw=sent("2026-11-26T11:00:00Z"), headers=JSON)
    assert status == 200, body
    assert body == {"host_id": h.id, "next_report_s": 3600}
    assert unparsed_count(server) == before + fast
    assert fast_count(server) == fast_before + fast
    wait_collected(server, h, 1795690800)       # 2026-11-26T11:00:00Z
    held = hashes(server, h)

    # Stamps report_check() refuses: the same 422, nothing stored.
    for bad in ("2026-13-26T11:00:00Z", "2026-11-26T25:00:00Z"):
        status, body, _ = h.send(None, raw=sent(bad), headers=JSON)
        assert status == 422, body
        assert body["error"]["code"] == "invalid_field"
        assert "collected_at" in body["error"]["message"]
    # A partial body: the parser's 400.
    status, body, _ = h.send(None, raw=sent("2026-11-26T12:00:00Z")[:-1],
                             headers=JSON)
    assert status == 400, body
    assert body["error"]["code"] == "malformed"
    # Another content type: 415 as ever.
    status, body, _ = h.send(None, raw=sent("2026-11-26T12:00:00Z"),
                             headers={"Content-Type": "text/plain"})
    assert status == 415, body
    assert collected_at(server, h) == 1795690800
    assert hashes(server, h) == held
    assert unparsed_count(server) == before + fast

    # More than a day ahead: stored as the time it arrived, as parsed.
    t0 = int(time.time())
    status, body, _ = h.send(None, raw=sent("2099-01-01T00:00:00Z"), headers=JSON)
    assert status == 200, body
    deadline = time.time() + DIRTY_MAX + 5
    while not t0 <= collected_at(server, h) <= int(time.time()):
        assert time.time() < deadline, collected_at(server, h)
        time.sleep(0.05)
    # That one is no template (its stamp was replaced); the next, taken
    # parsed, is; then one byte more elsewhere is a new identity,
    # committed before its 200.
    status, body, _ = h.send(None, raw=sent("2026-11-26T12:00:00Z"), headers=JSON)
    assert status == 200, body
    before = unparsed_count(server)
    status, body, _ = h.send(None, raw=sent("2026-11-26T13:00:00Z"), headers=JSON)
    assert status == 200, body
    assert unparsed_count(server) == before + fast
    wait_collected(server, h, 1795698000)       # 2026-11-26T13:00:00Z
    renamed = raw.replace(h.hostname.encode(), h.hostname.encode() + b"x")
    before = unparsed_count(server)
    status, body, _ = h.send(None, raw=renamed, headers=JSON)
    assert status == 200, body
    assert unparsed_count(server) == before
    status, host, _ = server.api("GET", f"/hosts/{h.id}")
    assert status == 200
    assert host["hostname"] == h.hostname + "x"
