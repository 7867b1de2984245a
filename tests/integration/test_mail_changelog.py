"""The mail section end to end: the real agent reads an installed exim4's
own changelog.Debian.gz (a real one, tests/fixtures/roots/mail) and the
server keeps the CVE ids it names; an item over the caps costs that item
alone (the cut rule of common/report.h), never the report."""
from conftest import FIXTURES
from reports import Host, package, sealed


def test_agent_reports_the_changelog_cves(server):
    state = server.tmp / "st-mail"
    r = server.agent("--once", root=FIXTURES / "roots" / "mail", state=state)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", "/hosts")
    hid = hosts["items"][0]["id"]
    s, mail, _ = server.api("GET", f"/hosts/{hid}/mail")
    assert s == 200, mail
    (item,) = mail["items"]
    assert item["source"] == "exim4" and item["package"] == "exim4-base"
    assert item["source_version"] == "4.96-15+deb12u11"
    assert {"CVE-2026-94057", "CVE-2023-42115"} <= set(item["changelog_cves"])
    # Reported again unchanged: the section travels as its hash alone and
    # the server still holds it.
    assert server.agent("--once", root=FIXTURES / "roots" / "mail",
                        state=state).returncode == 0
    assert server.api("GET", f"/hosts/{hid}/mail")[1]["items"] == [item]


def test_mail_items_over_their_caps_are_dropped(server):
    h = Host(server)
    rep = h.report()
    ok = {"source": "exim4", "source_version": "4.96-15+deb12u11",
          "package": "exim4-base", "changelog_cves": ["CVE-2023-42115"]}
    rep["sections"]["mail"] = sealed({"items": [ok]})
    assert h.send(rep)[0] == 200
    for bad in (dict(ok, changelog_cves=[f"CVE-2020-{i:05d}"
                                         for i in range(2049)]),
                dict(ok, changelog_cves=["not a cve"]),
                dict(ok, changelog_cves="CVE-2023-42115")):
        rep["sections"]["mail"] = sealed({"items": [bad, dict(ok, source="postfix")]})
        s, body, _ = h.send(rep)
        assert s == 200, body
        mail = server.api("GET", f"/hosts/{h.id}/mail")[1]
        assert mail["items"] == [dict(ok, source="postfix")]
        assert mail["rejected"]["items"] == 1
        assert "changelog_cves" in mail["rejected"]["first"], mail["rejected"]
    many = [dict(ok, source=f"mta{i:02d}") for i in range(33)]
    rep["sections"]["mail"] = sealed({"items": many})
    assert h.send(rep)[0] == 200
    mail = server.api("GET", f"/hosts/{h.id}/mail")[1]
    assert len(mail["items"]) == 32 and mail["rejected"]["items"] == 1
    assert "beyond 32 items" in mail["rejected"]["first"]


def test_a_cve_the_hosts_changelog_fixes_is_not_reported(server):
    """A rebuilt Exim (Freexian ELTS, a backport, a local patch) on a
    version the shipped data calls vulnerable: what its own changelog says
    is fixed is left out of the verdict and shown as the evidence."""
    import time
    h = Host(server)
    version = "4.96-15+deb12u5"
    rep = h.report(packages=[package("exim4-daemon-light", version,
                                     source="exim4"),
                             package("exim4-base", version, source="exim4")])

    def vulns():
        pk = server.section(h.id, "packages")[1]
        return {p["name"]: set(p.get("vulnerabilities", []))
                for p in pk["items"]}["exim4-base"]

    assert h.send(rep)[0] == 200
    before = vulns()
    assert len(before) >= 2, before
    fixed, kept = sorted(before)[0], sorted(before)[1:]
    rep["sections"]["mail"] = sealed({"items": [{
        "source": "exim4", "source_version": version,
        "package": "exim4-base",
        # A CVE of another package's history changes nothing.
        "changelog_cves": [fixed, "CVE-1999-0001"]}]})
    assert h.send(rep)[0] == 200
    deadline = time.time() + 10
    while time.time() < deadline and fixed in vulns():
        time.sleep(0.2)
    assert vulns() == set(kept)
    host = server.api("GET", f"/hosts/{h.id}")[1]
    assert host["mail"]["fixed_per_changelog"] == {"exim4": [fixed]}
    # Only the installed version's changelog counts.
    rep["sections"]["mail"]["items"][0]["source_version"] = "4.96-15+deb12u4"
    rep["sections"]["mail"] = sealed({"items": rep["sections"]["mail"]["items"]})
    assert h.send(rep)[0] == 200
    deadline = time.time() + 10
    while time.time() < deadline and fixed not in vulns():
        time.sleep(0.2)
    assert vulns() == before
