"""The Debian Security Tracker feed, end to end: a loopback HTTP server
serves an export in the tracker's exact shape, a real derelictd fetches it
on schedule (or on `derelictd advisories update`), and hosts that reported
earlier are matched again without reporting."""
import copy
import email.utils
import hashlib
import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import DERELICTD, ROOT, wait_for
from reports import Host, package

URL_PATH = "/tracker/data/json"
# The shipped file of derelict 0.2.1, hand-typed and stopping in 2024: what
# the tracker adds to and contradicts here must not depend on what today's
# generated snapshot (data/advisories.json) already knows.
SHIPPED = ROOT / "tests" / "fixtures" / "advisories" / "shipped-0.2.1.json"


def release(status, fixed=None, urgency="not yet assigned", repo=None):
    r = {"status": status, "repositories": repo or {}, "urgency": urgency}
    if fixed is not None:
        r["fixed_version"] = fixed
    return r


# Real records' structure (the tracker's own export): CVE-2022-37452 was
# fixed in buster by DLA-3082-1 (4.92-8+deb10u7), which the shipped file
# lacks; CVE-2023-42115's bookworm entry is set to "0" here so the tracker
# contradicts the shipped file (fixed in 4.96-15+deb12u2).
EXPORT = {
    "exim4": {
        "CVE-2022-37452": {
            "description": "Exim before 4.95 has a heap-based buffer "
                           "overflow for the alias list in host_name_lookup "
                           "in host.c when sender_host_name is set.",
            "scope": "remote",
            "debianbug": 1017473,
            "releases": {
                "buster": release("resolved", "4.92-8+deb10u7", "high",
                                  {"buster": "4.92-8+deb10u6"}),
                "bullseye": release("resolved", "4.94-1",
                                    repo={"bullseye": "4.94.2-7+deb11u2"}),
                "bookworm": release("resolved", "4.94-1",
                                    repo={"bookworm": "4.96-15+deb12u5"}),
                "sid": release("resolved", "4.94-1", repo={"sid": "4.98-3"}),
            },
        },
        "CVE-2023-42115": {
            "description": "Exim AUTH Out-Of-Bounds Write Remote Code "
                           "Execution Vulnerability.",
            "scope": "remote",
            "releases": {
                "bookworm": release("resolved", "0",
                                    repo={"bookworm": "4.96-15+deb12u5"}),
            },
        },
    },
    "openssl": {
        "CVE-2024-4741": {
            "description": "Use After Free with SSL_free_buffers",
            "scope": "remote",
            "releases": {
                "bookworm": release("resolved", "3.0.14-1~deb12u1",
                                    repo={"bookworm": "3.0.13-1~deb12u1"}),
                "trixie": {"status": "open", "repositories":
                           {"trixie": "3.2.1-3"}, "urgency": "low",
                           "nodsa": "Minor issue",
                           "nodsa_reason": "postponed"},
            },
        },
    },
}


class Feed(BaseHTTPRequestHandler):
    """Serves server.body at URL_PATH as the tracker does (ETag,
    Last-Modified, 304 on a matching If-None-Match), or misbehaves as
    server.mode says: "404", "truncate" (the connection closes half way),
    "huge" (announces 2 GiB), "malformed" (half a document, complete as
    HTTP)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append(dict(self.headers))
            body, mode = srv.body, srv.mode
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if self.path != URL_PATH or mode == "404":
            self.send_error(404)
            return
        if mode == "ok" and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified",
                         email.utils.formatdate(srv.modified, usegmt=True))
        if mode == "huge":
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            self.wfile.write(body[:1000])
            return
        if mode == "malformed":
            body = body[:len(body) // 2]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def feed():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    srv.lock = threading.Lock()
    srv.requests, srv.mode = [], "ok"
    srv.body = json.dumps(EXPORT).encode()
    srv.modified = time.time() - 3600
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}{URL_PATH}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


EXIM_PORT = {"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 200,
             "process": "exim4", "exe": "/usr/sbin/exim4",
             "user": "Debian-exim"}
EXIM_PROC = {"name": "exim4", "exe": "/usr/sbin/exim4", "user": "Debian-exim",
             "count": 1}


def exim_host(server, codename, version_id, version):
    h = Host(server)
    rep = h.report(codename=codename,
                   packages=[package("exim4-daemon-light", version,
                                     source="exim4"),
                             package("exim4-base", version, source="exim4")],
                   ports=[EXIM_PORT], processes=[EXIM_PROC])
    rep["host"]["os"]["version_id"] = version_id
    status, body, _ = h.send(rep)
    assert status == 200, body
    return h


def vuln(server, host):
    s, body, _ = server.api("GET", f"/findings?host={host.id}&status=open"
                                   "&rule=vulnerable-mta")
    assert s == 200
    return body["items"][0] if body["items"] else None


def cves(server, host):
    f = vuln(server, host)
    return set(f["details"]["cves"]) if f else set()


def metric(server, name, labels=""):
    s, text, _ = server.api("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else text
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)),
                  text, re.M)
    return float(m.group(1)) if m else None


def tracker_source(server):
    s, body, _ = server.api("GET", "/advisories")
    assert s == 200, body
    return next((x for x in body["sources"] if x["origin"] == "tracker"),
                None)


def test_fetch_rematches_hosts_that_reported_earlier(make_server, feed):
    feed.mode = "404"
    server = make_server(advisories_file=str(SHIPPED), advisories_url=feed.url,
                         advisories_refresh="2s")
    # The first fetch fails: counted, logged, nothing lost.
    assert wait_for(lambda: metric(server, "derelict_advisory_fetches_total",
                                   '{result="error"}'), timeout=20)
    buster = exim_host(server, "buster", "10", "4.92-8+deb10u6")
    bookworm = exim_host(server, "bookworm", "12", "4.96-15+deb12u1")
    assert "CVE-2022-37452" not in cves(server, buster)
    assert "CVE-2023-42115" in cves(server, bookworm)
    assert tracker_source(server) is None

    feed.mode = "ok"
    # No report: the fetch alone changes both hosts' findings.
    assert wait_for(lambda: "CVE-2022-37452" in cves(server, buster), timeout=20)
    assert wait_for(lambda: "CVE-2023-42115" not in cves(server, bookworm), timeout=20)
    f = vuln(server, buster)
    adv = {a["cve"]: a for a in f["details"]["advisories"]}
    got = adv["CVE-2022-37452"]
    assert got["fixed_version"] == "4.92-8+deb10u7"
    assert got["source"] == "tracker" and got["confirmed"] is True
    assert got["urgency"] == "high" and got["data_date"]
    assert "upgrade exim4-" in f["summary"]
    assert "to 4.92-8+deb10u7 or later" in f["summary"]
    assert f["summary"].endswith("buster is past its end of life: upgrade "
                                 "the release or shut the host down.")
    # The shipped file's CVEs that name no buster version stay, labelled.
    assert adv["CVE-2024-39929"]["confirmed"] is False

    src = tracker_source(server)
    assert src["url"] == feed.url and src["entries"] == 3
    assert src["fetched_at"] and src["data_date"]
    s, body, _ = server.api("GET", "/advisories")
    assert body["matched_at"]
    assert {x["origin"] for x in body["sources"]} >= {"shipped", "tracker"}
    assert metric(server, "derelict_advisory_fetches_total",
                  '{result="ok"}') >= 1
    # The data is fresh: no warning.
    s, summary, _ = server.api("GET", "/summary")
    assert summary["advisories"]["stale"] is False
    assert metric(server, "derelict_advisories_age_seconds") < 7 * 86400


def test_304_and_bad_bodies_keep_the_data(make_server, feed):
    server = make_server(advisories_file=str(SHIPPED), advisories_url=feed.url,
                         advisories_refresh="1s")
    host = exim_host(server, "buster", "10", "4.92-8+deb10u6")
    assert wait_for(lambda: "CVE-2022-37452" in cves(server, host), timeout=20)
    first = tracker_source(server)

    # Unchanged: the server asks with the ETag and keeps its copy.
    assert wait_for(lambda: any(r.get("If-None-Match")
                                for r in list(feed.requests)), timeout=20)
    time.sleep(1.5)
    assert tracker_source(server) == first

    for mode in ("truncate", "huge", "malformed"):
        errors = metric(server, "derelict_advisory_fetches_total",
                        '{result="error"}') or 0
        with feed.lock:
            feed.mode = mode
            feed.body = json.dumps({"exim4": {}}).encode() + b" " * 5000 \
                if mode == "malformed" else json.dumps(EXPORT).encode() + b" "
        assert wait_for(lambda: (metric(server,
                                        "derelict_advisory_fetches_total",
                                        '{result="error"}') or 0) > errors, timeout=20), mode
        assert tracker_source(server) == first, mode
        assert "CVE-2022-37452" in cves(server, host), mode
    log = (server.tmp / "derelictd.log").read_text()
    assert "fetch failed, the previous data is kept" in log
    assert server.proc.poll() is None


def test_cli_update_reaches_a_running_server(make_server, feed, tmp_path):
    server = make_server(advisories_file=str(SHIPPED))  # advisories_url empty: no schedule
    host = exim_host(server, "buster", "10", "4.92-8+deb10u6")
    assert "CVE-2022-37452" not in cves(server, host)
    out = server.cli("advisories", "update", feed.url)
    assert "3 entries kept" in out
    # No restart, no signal.
    assert wait_for(lambda: "CVE-2022-37452" in cves(server, host), 10)
    # A broken file is refused and changes nothing.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(EXPORT)[:-10])
    p = subprocess.run([DERELICTD, "--config", str(server.conf), "advisories",
                        "update", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "unchanged" in p.stderr
    time.sleep(1.5)
    assert "CVE-2022-37452" in cves(server, host)
    # A newer export from a file supersedes: the fix is now "0".
    newer = copy.deepcopy(EXPORT)
    newer["exim4"]["CVE-2022-37452"]["releases"]["buster"] = release(
        "resolved", "0")
    good = tmp_path / "newer.json"
    good.write_text(json.dumps(newer))
    server.cli("advisories", "update", str(good))
    assert wait_for(lambda: "CVE-2022-37452" not in cves(server, host), 10)


def test_restart_with_newer_data_rematches_without_a_report(make_server):
    shipped = json.loads(SHIPPED.read_text())
    server = make_server(advisories_file=str(SHIPPED))
    path = server.tmp / "advisories.json"
    path.write_text(json.dumps(shipped))
    server.stop()
    conf = server.conf.read_text().replace(
        str(SHIPPED), str(path))
    server.conf.write_text(conf)
    server.start()
    host = exim_host(server, "bookworm", "12", "4.96-15+deb12u5")
    assert cves(server, host) == set()
    matched = server.api("GET", "/advisories")[1]["matched_at"]

    # A package upgrade ships newer data and restarts the service.
    server.stop()
    newer = copy.deepcopy(shipped)
    newer["advisories"].append({
        "cve": "CVE-2025-30232", "source": "exim4", "severity": "high",
        "scope": "local", "summary": "Exim 4.96 to 4.98.1: use-after-free.",
        "fixed_upstream": "4.98.2",
        "fixed": {"bookworm": {"version": "4.96-15+deb12u7",
                               "advisory": "DSA-5990-1"}}})
    path.write_text(json.dumps(newer))
    server.start()
    assert wait_for(lambda: "CVE-2025-30232" in cves(server, host), 10)
    f = vuln(server, host)
    assert f["summary"].endswith("upgrade exim4-daemon-light to "
                                 "4.96-15+deb12u7 or later (DSA-5990-1).")
    assert server.api("GET", "/advisories")[1]["matched_at"] >= matched
    # The same data again: a restart does not match every host again.
    log = server.tmp / "derelictd.log"
    before = log.read_text().count("every host is matched again")
    server.restart()
    time.sleep(1)
    assert log.read_text().count("every host is matched again") == before
