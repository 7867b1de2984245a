"""The re-match after an advisory change (server/store_rematch.c): only the
hosts of the versions whose verdicts changed are looked at again, most of
them by their vulnerabilities alone, and what they end up with is exactly
what a full evaluation of every host gives."""
import base64
import json
import os
import re
import time

from reports import Host, package, sealed

from test_advisory_feed import EXIM_PORT, EXIM_PROC, SHIPPED, release


def tracker(fix_buster, fix_bookworm, exim=True, unimportant=True):
    """A tracker export (its exact shape) for openssl, which no MTA ships,
    and exim4."""
    out = {"openssl": {
        "CVE-2026-1001": {
            "description": "remote", "scope": "remote",
            "releases": {
                "buster": release("resolved", fix_buster, "high"),
                "bookworm": release("resolved", fix_bookworm, "medium"),
            }},
        "CVE-2026-1002": {
            "description": "local", "scope": "local",
            "releases": {
                "buster": release("open", None,
                                  "unimportant" if unimportant else "low"),
                "bookworm": release("open", None, "low"),
            }},
    }}
    if exim:
        out["exim4"] = {"CVE-2026-1003": {
            "description": "exim", "scope": "remote",
            "releases": {"buster": release("resolved", "4.92-8+deb10u99",
                                           "high"),
                         "bookworm": release("resolved", "4.96-15+deb12u99",
                                             "high")}}}
    return out


def openssl(codename):
    if codename == "buster":
        v = "1.1.1n-0+deb10u3"
        return [package("openssl", v), package("libssl1.1", v,
                                                source="openssl"),
                # A leftover of an older build: its own source version,
                # after libssl1.1 in name order.
                package("libssl1.1-dev", "1.1.1d-0+deb10u7",
                        source="openssl")]
    v = "3.0.11-1~deb12u2"
    return [package("libssl3", v, source="openssl"), package("openssl", v)]


def make_fleet(server):
    hosts = []
    for i, (codename, ver) in enumerate([("bookworm", "12"),
                                         ("bookworm", "12"),
                                         ("buster", "10"),
                                         ("bookworm", "12")]):
        h = Host(server)
        pk = openssl(codename) + [package(f"lib{i}-{j}", f"1.{j}-1")
                                  for j in range(30)]
        kw = {}
        if i == 0:
            # Past every fix the shipped data knows.
            pk += [package("exim4-daemon-light", "4.96-15+deb12u5",
                           source="exim4"),
                   package("exim4-base", "4.96-15+deb12u5", source="exim4")]
            kw = {"ports": [EXIM_PORT], "processes": [EXIM_PROC]}
        if i == 3:
            pk = [p for p in pk if p["source"] != "openssl"]
        rep = h.report(codename=codename, packages=pk, **kw)
        rep["host"]["os"]["version_id"] = ver
        if i == 1:
            # The host's own changelog of libssl3 says CVE-2026-1001 is
            # fixed (a rebuild): the mail section carries it, as the agent
            # reads it (SPEC section 2).
            rep["sections"]["mail"] = sealed({"items": [{
                "source": "openssl", "source_version": "3.0.11-1~deb12u2",
                "package": "libssl3",
                "changelog_cves": ["CVE-2026-1001"]}]})
        status, body, _ = h.send(rep)
        assert status == 200, body
        hosts.append(h)
    return hosts


def state(server):
    """What an evaluation decides of every host, as the database holds it
    (the times of the evaluation itself left out)."""
    con = server.db_connect(readonly=True)
    try:
        hosts = con.execute(
            "SELECT id, status, abandoned, mail_running, mail_exposed, "
            "severity FROM hosts ORDER BY id").fetchall()
        hs = con.execute("SELECT host_id, signals, mail, vulns FROM "
                         "host_state ORDER BY host_id").fetchall()
        findings = con.execute(
            "SELECT host_id, rule, key, severity, status, summary, details "
            "FROM findings ORDER BY host_id, key, id").fetchall()
    finally:
        con.close()
    return {"hosts": [tuple(r) for r in hosts],
            "host_state": [(r[0], json.loads(r[1]), json.loads(r[2]),
                            json.loads(r[3])) for r in hs],
            "findings": [tuple(r[:6]) + (json.loads(r[6]),)
                         for r in findings]}


def one(server, sql, params=()):
    con = server.db_connect(readonly=True)
    try:
        return con.execute(sql, params).fetchone()[0]
    finally:
        con.close()


def matched_after(server, before, timeout=30):
    """Waits for the re-match to write its digest and for no host to be
    due; True when both happened."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (one(server, "SELECT matched_digest FROM advisory_state")
                != before and
                not one(server, "SELECT count(*) FROM hosts WHERE "
                                "next_eval_at = 0")):
            return True
        time.sleep(0.2)
    return False


def full_evaluation(server):
    """Every host evaluated afresh by the evaluation pass, the way that
    does not re-match."""
    con = server.db_connect()
    try:
        with con:
            con.execute("UPDATE hosts SET next_eval_at = 0")
    finally:
        con.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        if not one(server, "SELECT count(*) FROM hosts WHERE "
                           "next_eval_at = 0"):
            return
        time.sleep(0.2)
    raise AssertionError("hosts still due")


def update(server, data):
    path = server.tmp / f"tracker-{time.time()}.json"
    path.write_text(json.dumps(data))
    before = one(server, "SELECT matched_digest FROM advisory_state")
    server.cli("advisories", "update", str(path))
    assert matched_after(server, before)


def vulns(server, host):
    return json.loads(one(server, "SELECT vulns FROM host_state WHERE "
                                  "host_id = ?", (host.id,)))


def test_rematch_gives_what_a_full_evaluation_gives(make_server):
    server = make_server(advisories_file=str(SHIPPED), evaluate_every="1s")
    hosts = make_fleet(server)
    time.sleep(1.5)  # the fleet index's pass: hosts found through it
    steps = [
        # New CVEs for openssl everywhere (one unimportant in buster) and
        # for exim4 (the MTA: its finding changes).
        tracker("1.1.1n-0+deb10u99", "3.0.99-1"),
        # buster's fix reached: libssl1.1-dev, older, still affected.
        tracker("1.1.1n-0+deb10u3", "3.0.99-1"),
        # The unimportant one counts now; exim4's is gone.
        tracker("1.1.1n-0+deb10u3", "3.0.99-1", exim=False,
                unimportant=False),
        # Nothing for openssl any more.
        {"exim4": tracker("0", "0")["exim4"]},
    ]
    seen, logged, fixed = [], [], []
    for data in steps:
        update(server, data)
        after = state(server)
        logged.append(re.findall(r"matched again in .*",
                                 (server.tmp / "derelictd.log").read_text()))
        seen.append({h.id: vulns(server, h).get("openssl") for h in hosts})
        fixed.append(json.loads(one(
            server, "SELECT mail FROM host_state WHERE host_id = ?",
            (hosts[1].id,))).get("fixed_per_changelog"))
        full_evaluation(server)
        assert state(server) == after
    exim, bookworm, buster, none = (h.id for h in hosts)
    # The steps did what they say: the re-match changed what it had to.
    assert seen[0][buster] == ["CVE-2026-1001"]  # 1002 unimportant there
    assert seen[0][bookworm] == ["CVE-2026-1002"]
    assert fixed[0] == {"openssl": ["CVE-2026-1001"]}
    assert fixed[3] is None
    assert seen[1][buster] == ["CVE-2026-1001"]  # from libssl1.1-dev
    assert seen[2][buster] == ["CVE-2026-1002"]  # libssl1.1's, first
    assert seen[3][bookworm] is None and seen[0][none] is None
    # By version: the hosts of the changed sources only (not the one
    # without openssl), and in full only the one with the MTA (exim4's
    # data is dated anew by each import, which its finding shows).
    for lines in logged:
        assert lines and lines[-1].endswith(
            "2 source packages changed, 3 hosts of them (1 evaluated in "
            "full)"), logged
    assert len(logged[3]) == 4, logged
    # The MTA's finding followed exim4's advisory.
    con = server.db_connect(readonly=True)
    try:
        rows = con.execute(
            "SELECT status, details FROM findings WHERE host_id = ? AND "
            "rule = 'vulnerable-mta' ORDER BY id", (exim,)).fetchall()
    finally:
        con.close()
    cves = [set(json.loads(d)["cves"]) for s, d in rows]
    assert any("CVE-2026-1003" in c for c in cves)


def test_rematch_raises_the_notifications(make_server):
    server = make_server(advisories_file=str(SHIPPED), evaluate_every="1h")
    path = server.tmp / "webhook-secret"
    path.write_text("whsec_" + base64.b64encode(os.urandom(32)).decode()
                    + "\n")
    os.chmod(path, 0o600)
    with open(server.conf, "a") as f:
        # A receiver that is not there: the outbox keeps what is queued.
        f.write(f"\n[notify]\nretry_base = 1h\n\n[webhook ops]\n"
                f"url = http://127.0.0.1:9/hook\nsecret_file = {path}\n")
    server.restart()
    hosts = make_fleet(server)
    time.sleep(1.5)

    def queued(kind):
        con = server.db_connect(readonly=True)
        try:
            return [json.loads(p) for (p,) in con.execute(
                "SELECT payload FROM notify_deliveries WHERE kind = ? "
                "ORDER BY id", (kind,)).fetchall()]
        finally:
            con.close()

    def vulnerable_mta(kind):
        return [e for e in queued(kind)
                if e["data"]["finding"]["rule"] == "vulnerable-mta" and
                "CVE-2026-1003" in json.dumps(e["data"]["finding"])]

    update(server, tracker("1.1.1n-0+deb10u99", "3.0.99-1"))
    assert vulnerable_mta("finding.opened") or \
        vulnerable_mta("finding.updated"), queued("finding.opened")
    # The openssl CVEs reached the hosts without an MTA, and raised
    # nothing (no finding is about them).
    assert vulns(server, hosts[1])["openssl"] == ["CVE-2026-1002"]
    # exim4's advisory gone: the finding is resolved, and said so.
    update(server, {"openssl": tracker("1.1.1n-0+deb10u99",
                                       "3.0.99-1")["openssl"]})
    assert vulnerable_mta("finding.resolved") or [
        e for e in queued("finding.resolved")
        if e["data"]["finding"]["rule"] == "vulnerable-mta"], \
        queued("finding.resolved")
    assert vulns(server, hosts[1]).get("openssl")
