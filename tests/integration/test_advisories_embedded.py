"""A derelictd with no advisories file uses the snapshot compiled into it
(data/advisories.json at build time): the real agent reports a bookworm
Exim, and the vulnerable-mta finding names what Debian fixed after it."""
import time

from scenario import compose

from conftest import wait_for

# Named by exim4's bookworm changelog in the uploads after 4.96-15+deb12u5.
AFTER_U5 = {"CVE-2025-30232", "CVE-2026-40684", "CVE-2026-40685",
            "CVE-2026-40686", "CVE-2026-40687", "CVE-2026-66140",
            "CVE-2026-66141", "CVE-2026-94054", "CVE-2026-94056",
            "CVE-2026-94057"}


def vulnerable_mta(server, host_id):
    s, body, _ = server.api("GET", f"/findings?host={host_id}&status=open")
    assert s == 200
    return {f["rule"]: f for f in body["items"]}.get("vulnerable-mta")


def report(server, name, version):
    root = compose(server.tmp, name, version=version, release="bookworm")
    r = server.agent("--once", root=root, state=server.tmp / ("st-" + name))
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert hosts["total"] == 1, hosts
    return hosts["items"][0]["id"]


def test_no_advisories_file_uses_the_built_in_snapshot(make_server):
    server = make_server(advisories_file="", eol_file="")
    log = (server.tmp / "derelictd.log").read_text()
    assert "advisories.json: using the copy built into derelictd" in log
    assert "eol.json: using the copy built into derelictd" in log
    hid = report(server, "mx-u5", "4.96-15+deb12u5")
    f = wait_for(lambda: vulnerable_mta(server, hid))
    assert f, "no vulnerable-mta for exim4 4.96-15+deb12u5"
    cves = set(f["details"]["cves"])
    assert AFTER_U5 <= cves, sorted(AFTER_U5 - cves)
    # Fixed at or before u5: not reported.
    assert not cves & {"CVE-2024-39929", "CVE-2023-51766", "CVE-2023-42115"}
    # The newest bookworm upload is clean.
    hid = report(server, "mx-u11", "4.96-15+deb12u11")
    time.sleep(1.5)
    assert vulnerable_mta(server, hid) is None


def test_missing_named_file_falls_back_with_a_warning(make_server):
    server = make_server(advisories_file="/nonexistent/advisories.json")
    log = (server.tmp / "derelictd.log").read_text()
    assert "cannot read /nonexistent/advisories.json" in log
    assert "advisories.json: using the copy built into derelictd" in log
    hid = report(server, "mx-missing", "4.96-15+deb12u10")
    f = wait_for(lambda: vulnerable_mta(server, hid))
    assert f and "CVE-2026-94057" in f["details"]["cves"]
