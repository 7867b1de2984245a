"""Findings end to end: the real agent reports composed roots to a real
server, and the findings are read back over the API."""
import time

from scenario import compose

from conftest import wait_for


def findings(server, host_id, status="open"):
    s, body, _ = server.api("GET", f"/findings?host={host_id}&status={status}")
    assert s == 200
    return {f["rule"]: f for f in body["items"]}


def run_agent(server, root, name, project=None):
    state = server.tmp / ("state-" + name)
    r = server.agent("--once", root=root, state=state, project=project)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert hosts["total"] == 1, hosts
    return hosts["items"][0]["id"]


def end_project(server, name, date):
    s, p, _ = server.api("PATCH", f"/projects/{name}", {"ends_on": date})
    assert s == 200, p


def test_ended_project_with_exposed_exim_is_critical(server):
    root = compose(server.tmp, "dev-portal-03", version="4.92-8+deb10u1")
    hid = run_agent(server, root, "dev-portal-03", project="acme-portal")
    # The tag created the project, with no end date yet: not abandoned.
    assert "abandoned-mail-service" not in findings(server, hid)
    end_project(server, "acme-portal", "2025-03-31")
    f = wait_for(lambda: findings(server, hid).get("abandoned-mail-service"))
    assert f and f["severity"] == "critical"
    assert "0.0.0.0:25" in f["summary"] and "2025-03-31" in f["summary"]
    assert "4.92-8+deb10u1" in f["summary"]
    vuln = findings(server, hid)["vulnerable-mta"]
    assert "CVE-2019-15846" in vuln["details"]["cves"]
    # Exposed raises the advisory's severity, capped at critical.
    assert vuln["severity"] == "critical"
    host = server.api("GET", f"/hosts/{hid}")[1]
    assert host["abandoned"] is True and host["status"] == "active"
    assert host["mail"]["exposed"] is True and host["mail"]["mta"] == "exim"
    signals = {s["signal"]: s for s in host["signals"]}
    assert "project-ended" in signals and "2025-03-31" in signals["project-ended"]["evidence"]
    assert server.api("GET", "/hosts?abandoned=true")[1]["total"] == 1
    assert server.api("GET", "/hosts?severity=critical")[1]["total"] == 1
    # Moving the end into the future resolves it, and it stays in history.
    end_project(server, "acme-portal", "2099-12-31")
    assert wait_for(lambda: "abandoned-mail-service" not in findings(server, hid))
    resolved = findings(server, hid, "resolved")
    assert "abandoned-mail-service" in resolved
    assert resolved["abandoned-mail-service"]["resolved_at"]


def test_loopback_only_mail_is_high(server):
    root = compose(server.tmp, "intranet-mx", mta="loopback",
                   version="4.98.2-1", release="bookworm")
    hid = run_agent(server, root, "intranet-mx", project="old-intranet")
    end_project(server, "old-intranet", "2024-01-31")
    f = wait_for(lambda: findings(server, hid).get("abandoned-mail-service"))
    assert f and f["severity"] == "high"
    host = server.api("GET", f"/hosts/{hid}")[1]
    assert host["mail"]["running"] is True and host["mail"]["exposed"] is False


def test_patched_version_clears_vulnerable_mta_not_abandonment(server):
    root = compose(server.tmp, "mx-patch", version="4.92-8+deb10u1")
    hid = run_agent(server, root, "mx-patch", project="p-patch")
    end_project(server, "p-patch", "2025-01-01")
    assert wait_for(lambda: "vulnerable-mta" in findings(server, hid))
    # The same host after an upgrade past every advisory's fix.
    compose(server.tmp, "mx-patch", version="4.98.2-1", release="bookworm")
    run_agent(server, root, "mx-patch", project="p-patch")
    open_now = findings(server, hid)
    assert "vulnerable-mta" not in open_now
    assert open_now["abandoned-mail-service"]["severity"] == "critical"  # exposed
    assert "vulnerable-mta" in findings(server, hid, "resolved")
    s, ch, _ = server.api("GET", f"/hosts/{hid}/changes")
    upgraded = [c for c in ch["items"] if c["key"] == "exim4-daemon-light:amd64"]
    assert upgraded and upgraded[0]["action"] == "changed"
    assert upgraded[0]["old"]["version"] == "4.92-8+deb10u1"
    assert upgraded[0]["new"]["version"] == "4.98.2-1"


def test_acknowledged_finding_stays_closed_until_expiry(server):
    root = compose(server.tmp, "mx-ack", version="4.98.2-1", release="bookworm")
    hid = run_agent(server, root, "mx-ack", project="p-ack")
    end_project(server, "p-ack", "2025-01-01")
    f = wait_for(lambda: findings(server, hid).get("abandoned-mail-service"))
    s, body, _ = server.api("POST", f"/findings/{f['id']}/ack",
                            {"reason": "decommission ticket OPS-1", "until": "2099-01-01"})
    assert s == 200
    assert server.api("POST", f"/findings/{f['id']}/ack", {}, token=server.admin_token)[0] == 422
    assert server.api("POST", f"/findings/{f['id']}/ack", {"reason": "x"},
                      token=server.viewer_token)[0] == 403
    run_agent(server, root, "mx-ack", project="p-ack")
    time.sleep(1.5)  # a few evaluation rounds
    assert "abandoned-mail-service" not in findings(server, hid)
    acked = findings(server, hid, "acknowledged")["abandoned-mail-service"]
    assert acked["ack_reason"] == "decommission ticket OPS-1"
    # An acknowledgement whose date has passed opens the finding again.
    other = compose(server.tmp, "mx-ack2", version="4.98.2-1", release="bookworm")
    hid2 = run_agent(server, other, "mx-ack2", project="p-ack")
    f2 = wait_for(lambda: findings(server, hid2).get("abandoned-mail-service"))
    server.api("POST", f"/findings/{f2['id']}/ack", {"reason": "r", "until": "2020-01-01"})
    assert wait_for(lambda: "abandoned-mail-service" in findings(server, hid2))


def test_retired_host_that_reports_again(server):
    root = compose(server.tmp, "ghost", mta=None, version="4.98.2-1",
                   release="bookworm")
    hid = run_agent(server, root, "ghost", project="p-ghost")
    s, h, _ = server.api("PATCH", f"/hosts/{hid}", {"retired": True})
    assert s == 200 and h["status"] == "retired"
    time.sleep(1.1)  # the next report comes strictly after retirement
    run_agent(server, root, "ghost", project="p-ghost")
    f = findings(server, hid).get("retired-host-reporting")
    assert f and f["severity"] == "high"
    host = server.api("GET", f"/hosts/{hid}")[1]
    assert host["abandoned"] is True


def test_silent_host(make_server):
    server = make_server(silent_after="2s")
    mail = compose(server.tmp, "quiet-mx", version="4.98.2-1", release="bookworm")
    plain = compose(server.tmp, "quiet-box", mta=None, version="4.98.2-1",
                    release="bookworm")
    h_mail = run_agent(server, mail, "quiet-mx")
    h_plain = run_agent(server, plain, "quiet-box")
    f = wait_for(lambda: findings(server, h_mail).get("silent-host"), 20)
    assert f and f["severity"] == "high"
    g = wait_for(lambda: findings(server, h_plain).get("silent-host"), 20)
    assert g and g["severity"] == "medium"
    assert server.api("GET", "/hosts?status=silent")[1]["total"] == 2
    # Reporting again clears it.
    run_agent(server, plain, "quiet-box")
    assert "silent-host" not in findings(server, h_plain)


def test_unowned_host(make_server):
    server = make_server(unowned_grace="1s")
    root = compose(server.tmp, "nobodys", mta=None, version="4.98.2-1",
                   release="bookworm", logins=False)
    hid = run_agent(server, root, "nobodys")
    f = wait_for(lambda: findings(server, hid).get("unowned-host"), 20)
    assert f and f["severity"] == "low"
    signals = {s["signal"] for s in server.api("GET", f"/hosts/{hid}")[1]["signals"]}
    assert "unowned" in signals and "idle" in signals
