"""RPM hosts end to end: the real agent reads composed CentOS 7 and
AlmaLinux 8 roots (real sockets of an MTA on 0.0.0.0:25, its process as
Postfix's master, a real RPM database), reports to a real derelictd, and
the findings come back as for the Debian box with Exim."""
import shutil

import pytest

import rpmdb
from conftest import FIXTURES, wait_for

pytestmark = pytest.mark.skipif(
    not rpmdb.have_tools() or not shutil.which("db5.3_load"),
    reason="needs rpm, rpmbuild and db5.3-util")


def findings(server, host_id, status="open"):
    s, body, _ = server.api("GET", f"/findings?host={host_id}&status={status}")
    assert s == 200
    return {f["rule"]: f for f in body["items"]}


def run_agent(server, root, name, project=None):
    r = server.agent("--once", root=root, state=server.tmp / ("state-" + name),
                     project=project)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert hosts["total"] == 1, hosts
    return hosts["items"][0]["id"]


def test_forgotten_centos7_postfix_is_critical(server):
    # CentOS 7's postfix is 2:2.10.1-9.el7; beside it, real CentOS 7
    # headers, all in a Berkeley DB Packages file.
    rpms = rpmdb.build(server.tmp / "b", "postfix", "2.10.1", "9.el7",
                       epoch=2)
    root = rpmdb.compose_host(server.tmp, "c7-mail", "centos7", rpms=rpms,
                              headers=rpmdb.centos7_headers(), bdb=True)
    hid = run_agent(server, root, "c7-mail", project="c7-campaign")
    host = server.api("GET", f"/hosts/{hid}")[1]
    assert host["mail"]["mta"] == "postfix" and host["mail"]["exposed"]
    s, p, _ = server.api("PATCH", "/projects/c7-campaign",
                         {"ends_on": "2024-03-31"})
    assert s == 200, p
    f = wait_for(lambda: findings(server, hid).get("abandoned-mail-service"))
    assert f and f["severity"] == "critical"
    assert "0.0.0.0:25" in f["summary"] and "2024-03-31" in f["summary"]
    assert "2:2.10.1-9.el7" in f["summary"]
    host = server.api("GET", f"/hosts/{hid}")[1]
    signals = {s["signal"]: s for s in host["signals"]}
    assert "eol-os" in signals
    assert "2024-06-30" in signals["eol-os"]["evidence"]
    # No vendor data for a release past its end: the upstream version
    # decides, unconfirmed, and says why.
    vuln = findings(server, hid)["vulnerable-mta"]
    assert vuln["details"]["confirmed"] is False
    assert "CVE-2023-51764" in vuln["details"]["cves"]
    assert ("7 has had no CentOS security support since 2024-06-30"
            in vuln["details"]["unconfirmed_reason"])


def vuln(server, hid):
    s, body, _ = server.api("GET", f"/findings?host={hid}&status=open"
                                   "&rule=vulnerable-mta")
    assert s == 200
    return body["items"][0] if body["items"] else None


def test_alma8_postfix_matched_by_alsa(server):
    fixed_rpms = rpmdb.build(server.tmp / "b", "postfix", "3.5.8",
                             "8.el8_10", epoch=2)
    before_rpms = rpmdb.build(server.tmp / "b", "postfix", "3.5.8",
                              "7.el8_10", epoch=2)
    fixed = run_agent(server, rpmdb.compose_host(
        server.tmp, "a8-fixed", "almalinux8", rpms=fixed_rpms), "a8-fixed")
    before = run_agent(server, rpmdb.compose_host(
        server.tmp, "a8-before", "almalinux8", rpms=before_rpms), "a8-before")
    # Without Alma's data the shipped upstream versions guess,
    # unconfirmed, and even the fixed build looks vulnerable.
    f = vuln(server, fixed)
    assert f and f["details"]["confirmed"] is False
    out = server.cli("advisories", "import", "--format", "osv",
                     str(FIXTURES / "advisories" / "osv-rpm"))
    assert "from 1 OSV records" in out, out
    assert wait_for(lambda: vuln(server, fixed) is None)
    f = wait_for(lambda: (lambda x: x if x and x["details"]["confirmed"]
                          else None)(vuln(server, before)))
    assert f["details"]["cves"] == ["CVE-2026-43964"]
    assert f["summary"].endswith("upgrade postfix to 2:3.5.8-8.el8_10 or "
                                 "later (ALSA-2026:25932).")
    assert f["details"]["release"] == "8.10"
    # The imported signing key is a package without arch or source, as
    # rpm -qa lists it; stored and listed like the others, and a second
    # report (a delta of nothing) is taken.
    s, body, _ = server.api("GET", f"/hosts/{before}/packages")
    assert s == 200
    names = {p["name"]: p for p in body["items"]}
    assert names["gpg-pubkey"]["version"] == "0:8783d481-63ceb953"
    assert names["postfix"]["version"] == "2:3.5.8-7.el8_10"
    r = server.agent("--once", root=server.tmp / "a8-before",
                     state=server.tmp / "state-a8-before")
    assert r.returncode == 0, r.stderr
