"""Findings reach Alertmanager: Debian's real prometheus-alertmanager on
loopback, the real derelictd pushing to it, the real agent reporting a
composed Exim host; and /metrics read by Prometheus's own promtool."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import free_port, wait_for
from scenario import compose

ALERTMANAGER = shutil.which("prometheus-alertmanager")
PROMTOOL = shutil.which("promtool")


class Alertmanager:
    """prometheus-alertmanager with a null receiver, no cluster, its
    storage in tmp."""

    def __init__(self, tmp, port=None):
        assert ALERTMANAGER, "prometheus-alertmanager is missing: make deps"
        self.tmp = tmp
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "am").mkdir(exist_ok=True)
        self.conf = tmp / "am" / "alertmanager.yml"
        self.conf.write_text("route:\n  receiver: \"null\"\n"
                             "receivers:\n  - name: \"null\"\n")
        self.proc = None

    def start(self):
        self.log = open(self.tmp / "am" / "alertmanager.log", "ab")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={self.conf}",
             f"--storage.path={self.tmp / 'am' / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address="],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, (
                self.tmp / "am" / "alertmanager.log").read_text()
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("alertmanager did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def alerts(self, **filters):
        """GET /api/v2/alerts: the alerts it holds as active (resolved
        ones are left out), those of derelict's rules only."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=10) as r:
            items = json.load(r)
        return [a for a in items
                if a["labels"].get("alertname", "").startswith("derelict_")
                and all(a["labels"].get(k) == v for k, v in filters.items())]


@pytest.fixture
def alertmanager(tmp_path):
    made = []

    def make(port=None, start=True):
        am = Alertmanager(tmp_path, port)
        made.append(am)
        return am.start() if start else am

    yield make
    for am in made:
        am.stop()


def metrics(server):
    req = urllib.request.Request(server.url + "/metrics", headers={
        "Authorization": f"Bearer {server.viewer_token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def sample(text, name, **labels):
    """The value of one series of a Prometheus text exposition, or None."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if got == {k: str(v) for k, v in labels.items()}:
            return float(m.group(3))
    return None


def report_exim(server, name, project):
    root = compose(server.tmp, name, version="4.92-8+deb10u1")
    r = server.agent("--once", root=root, state=server.tmp / ("state-" + name),
                     project=project)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert s == 200 and hosts["total"] == 1, hosts
    return hosts["items"][0]["id"]


def end_project(server, name, date):
    s, p, _ = server.api("PATCH", f"/projects/{name}", {"ends_on": date})
    assert s == 200, p


def test_open_findings_become_alerts_and_resolve(make_server, alertmanager):
    am = alertmanager()
    server = make_server(**{"notify.alertmanager_url": am.url + "/",
                            "public_url": "https://derelict.example.org/"})
    hid = report_exim(server, "dev-portal-03", "acme-portal")
    # No end date yet: nothing abandoned, no such alert.
    time.sleep(2)
    assert not am.alerts(alertname="derelict_abandoned_mail_service")

    end_project(server, "acme-portal", "2025-03-31")
    got = wait_for(lambda: am.alerts(alertname="derelict_abandoned_mail_service"), timeout=30)
    assert len(got) == 1, got
    a = got[0]
    assert a["status"]["state"] == "active"
    assert a["labels"] == {
        "alertname": "derelict_abandoned_mail_service",
        "rule": "abandoned-mail-service", "severity": "critical",
        "host": "dev-portal-03", "host_id": str(hid),
        "project": "acme-portal"}
    link = f"https://derelict.example.org/#/host/{hid}"
    assert a["annotations"]["host_url"] == link
    assert a["generatorURL"] == link
    assert "0.0.0.0:25" in a["annotations"]["summary"]
    assert "2025-03-31" in a["annotations"]["summary"]
    s, f, _ = server.api("GET", f"/findings?host={hid}&rule=abandoned-mail-service")
    assert a["annotations"]["summary"] == f["items"][0]["summary"]
    # endsAt lies ahead, a few pushes' worth: renewed while open.
    ends = time.mktime(time.strptime(a["endsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert ends - time.mktime(time.gmtime()) > 60
    # The CVEs of the old Exim are an alert of their own, told apart by key.
    vuln = am.alerts(alertname="derelict_vulnerable_mta")
    assert vuln and vuln[0]["labels"]["key"].startswith("vulnerable-mta:")
    assert vuln[0]["labels"]["severity"] == "critical"
    m = metrics(server)
    assert sample(m, "derelict_alertmanager_pushes_total", result="ok") >= 1
    assert sample(m, "derelict_findings_open", rule="abandoned-mail-service",
                  severity="critical") == 1
    assert sample(m, "derelict_hosts_abandoned_mail", exposed="true") == 1

    # The project goes on after all: the finding resolves, and so does
    # the alert (Alertmanager lists only unresolved ones).
    end_project(server, "acme-portal", "2099-12-31")
    assert wait_for(lambda: not am.alerts(alertname="derelict_abandoned_mail_service"), timeout=30)
    # The vulnerable Exim is still there and still alerting, until an
    # admin acknowledges it: then its alert ends too.
    assert am.alerts(alertname="derelict_vulnerable_mta")
    s, f, _ = server.api("GET", f"/findings?host={hid}&rule=vulnerable-mta")
    s, _, _ = server.api("POST", f"/findings/{f['items'][0]['id']}/ack",
                         {"reason": "upgrade ticket OPS-2", "until": "2099-01-01"})
    assert s == 200
    assert wait_for(lambda: not am.alerts(alertname="derelict_vulnerable_mta"), timeout=30)
    m = metrics(server)
    assert sample(m, "derelict_findings_open", rule="abandoned-mail-service",
                  severity="critical") == 0
    assert sample(m, "derelict_hosts_abandoned_mail", exposed="true") == 0


def test_alertmanager_down_is_counted_and_recovers(make_server, alertmanager):
    am = alertmanager(start=False)
    server = make_server(**{"notify.alertmanager_url": am.url})
    report_exim(server, "old-relay", "gone")
    end_project(server, "gone", "2024-01-31")
    errors = wait_for(lambda: sample(metrics(server),
                                     "derelict_alertmanager_pushes_total",
                                     result="error") or 0, timeout=30)
    assert errors >= 1
    assert sample(metrics(server), "derelict_alertmanager_pushes_total",
                  result="ok") == 0
    # Nothing else waits for it: reports and the API go on.
    assert server.api("GET", "/hosts")[0] == 200
    log = (server.tmp / "derelictd.log").read_text()
    assert "alertmanager: push to" in log and "failed" in log
    # Without public_url, links use the listen address (and the config
    # check says so).
    am.start()
    got = wait_for(lambda: am.alerts(alertname="derelict_abandoned_mail_service",
                                     host="old-relay"), timeout=30)
    assert got and got[0]["labels"]["project"] == "gone"
    assert got[0]["generatorURL"].startswith(f"http://127.0.0.1:{server.port}/#/host/")
    assert sample(metrics(server), "derelict_alertmanager_pushes_total",
                  result="ok") >= 1
    assert "work again" in (server.tmp / "derelictd.log").read_text()


def test_check_config_warns_without_public_url(make_server, tmp_path):
    server = make_server(**{"notify.alertmanager_url": "http://127.0.0.1:9"})
    r = subprocess.run([os.environ.get("DERELICTD", "build/derelictd"),
                        "--config", str(server.conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "public_url is not set" in r.stderr
    assert f"127.0.0.1:{server.port}" in r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(server.conf.read_text().replace(
        "alertmanager_url = http://127.0.0.1:9", "alertmanager_url = 127.0.0.1:9"))
    r = subprocess.run([os.environ.get("DERELICTD", "build/derelictd"),
                        "--config", str(bad), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "alertmanager_url must be" in r.stderr
    bad.write_text(server.conf.read_text().replace(
        "[server]", "[server]\npublic_url = derelict.example.org"))
    r = subprocess.run([os.environ.get("DERELICTD", "build/derelictd"),
                        "--config", str(bad), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "public_url must be" in r.stderr
    # Commands other than the server itself do not warn.
    r = subprocess.run([os.environ.get("DERELICTD", "build/derelictd"),
                        "--config", str(server.conf), "token", "list"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "public_url" not in r.stderr, r.stderr
    quiet = tmp_path / "quiet.conf"
    quiet.write_text(server.conf.read_text() .replace(
        "[server]", "[server]\npublic_url = https://derelict.example.org"))
    r = subprocess.run([os.environ.get("DERELICTD", "build/derelictd"),
                        "--config", str(quiet), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "public_url" not in r.stderr, r.stderr


def test_metrics_pass_promtool(make_server):
    assert PROMTOOL, "promtool is missing (Debian's prometheus): make deps"
    server = make_server()
    report_exim(server, "mx-old", "ended")
    end_project(server, "ended", "2025-01-31")
    assert wait_for(lambda: sample(metrics(server), "derelict_findings_open",
                                   rule="abandoned-mail-service",
                                   severity="critical") == 1, timeout=30)
    text = metrics(server)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    # Every series has its HELP and TYPE (promtool's lint says so too).
    typed = set(re.findall(r"(?m)^# TYPE (\S+) ", text))
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, line
    assert sample(text, "derelict_alertmanager_pushes_total", result="error") == 0
    assert sample(text, "derelict_hosts_abandoned_mail", exposed="true") == 1


def test_hung_alertmanager_blocks_nothing(make_server):
    """An Alertmanager that takes the connection and never answers: each
    push gives up after 10 s and is counted, reports and the API go on
    meanwhile, and a stop does not wait for the push."""
    import socket
    import threading
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    held = []

    def hold():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            held.append(c)

    threading.Thread(target=hold, daemon=True).start()
    try:
        started = time.time()  # before the first push
        server = make_server(**{"notify.alertmanager_url":
                                f"http://127.0.0.1:{lsock.getsockname()[1]}"})
        assert wait_for(lambda: held, timeout=10), "derelictd never connected"
        # The push is in flight (connected, not failed yet) while a
        # report is taken and the API answers.
        report_exim(server, "stuck-mx", "p")
        end_project(server, "p", "2024-01-31")
        assert server.api("GET", "/hosts")[0] == 200
        assert sample(metrics(server), "derelict_alertmanager_pushes_total",
                      result="error") == 0
        errors = wait_for(lambda: sample(metrics(server),
                                         "derelict_alertmanager_pushes_total",
                                         result="error"), timeout=30)
        assert errors >= 1
        elapsed = time.time() - started
        assert elapsed >= 10, elapsed  # the 10 s timeout, not sooner
        t1 = time.time()
        assert server.stop() == 0
        assert time.time() - t1 < 5
    finally:
        lsock.close()
        for c in held:
            c.close()
