"""Ubuntu's OSV records imported into a real derelictd: an Ubuntu 22.04 host
with the Exim that USN-6411-1 fixed comes out clean, the version before it
is flagged with that USN's CVEs."""

from conftest import FIXTURES, wait_for
from reports import Host, package

EXIM_PORT = {"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 200,
             "process": "exim4", "exe": "/usr/sbin/exim4",
             "user": "Debian-exim"}
EXIM_PROC = {"name": "exim4", "exe": "/usr/sbin/exim4", "user": "Debian-exim",
             "count": 1}


def jammy_host(server, version):
    h = Host(server)
    rep = h.report(codename="jammy",
                   packages=[package("exim4-daemon-light", version,
                                     source="exim4"),
                             package("exim4-base", version, source="exim4")],
                   ports=[EXIM_PORT], processes=[EXIM_PROC])
    rep["host"]["os"] = {"id": "ubuntu", "version_id": "22.04",
                         "codename": "jammy",
                         "pretty_name": "Ubuntu 22.04.5 LTS"}
    assert h.send(rep)[0] == 200
    return h


def vuln(server, host):
    s, body, _ = server.api("GET", f"/findings?host={host.id}&status=open"
                                   "&rule=vulnerable-mta")
    assert s == 200
    return body["items"][0] if body["items"] else None


def test_ubuntu_exim_matched_by_usn(server):
    fixed = jammy_host(server, "4.95-4ubuntu2.3")
    before = jammy_host(server, "4.95-4ubuntu2.2")
    # Without Ubuntu's data the upstream version guesses, unconfirmed,
    # and even the fixed build looks vulnerable.
    f = vuln(server, fixed)
    assert f and f["details"]["confirmed"] is False
    assert "unconfirmed: no security data for ubuntu jammy" in f["summary"]
    assert f["severity"] != "critical"

    out = server.cli("advisories", "import", "--format", "osv",
                     str(FIXTURES / "advisories" / "osv"))
    assert "imported 3 advisories from 2 OSV records" in out
    # The running server picks it up: no signal, no report.
    assert wait_for(lambda: vuln(server, fixed) is None)
    f = wait_for(lambda: (lambda x: x if x and x["details"]["confirmed"]
                          else None)(vuln(server, before)))
    assert set(f["details"]["cves"]) == {"CVE-2023-42114", "CVE-2023-42115",
                                         "CVE-2023-42116"}
    assert f["summary"].endswith("upgrade exim4-daemon-light to "
                                 "4.95-4ubuntu2.3 or later (USN-6411-1).")
    adv = {a["cve"]: a for a in f["details"]["advisories"]}
    assert adv["CVE-2023-42115"]["advisory"] == "USN-6411-1"
    assert adv["CVE-2023-42115"]["source"] == "osv:osv"
    s, body, _ = server.api("GET", "/advisories")
    osv = [x for x in body["sources"] if x["origin"] == "osv"]
    assert osv and osv[0]["entries"] == 3 and osv[0]["data_date"] == "2025-07-16"
