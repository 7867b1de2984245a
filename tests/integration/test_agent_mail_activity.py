"""Is anyone still using this mail server?  A real exim4 (the installed
4.96, with a configuration of the test's own that keeps its spool and log
under a temporary root) delivers one message with -odi and queues 2,000
with -odq; the real agent reads that root and the real derelictd turns it
into the host's mail activity, mail-queue-backlog and, for a log 120 days
old, mail-idle in the abandoned verdict's sentence."""
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import AGENT, FIXTURES

EXIM = "/usr/sbin/exim4"

assert os.path.exists(EXIM), "exim4-daemon-light is missing: run make deps"

CONF = """\
keep_environment =
primary_hostname = derelict.test
spool_directory = {root}/var/spool/exim4
log_file_path = {root}/var/log/exim4/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
smtp_accept_max_per_connection = 0
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  accept
begin routers
local:
  driver = accept
  transport = mbox
begin transports
mbox:
  driver = appendfile
  file = {mbox}/all
  user = Debian-exim
"""


class Exim:
    """exim4 run with -C on a root of its own: the same binary and spool
    format as the host's, none of the host's mail."""

    def __init__(self, base):
        self.base = base
        self.root = base / "root"
        for d in ("var/log/exim4", "var/spool/exim4", "var/lib/dpkg"):
            (self.root / d).mkdir(parents=True)
        # Installed as on this machine (the mail section goes by the
        # packages section): exim4-base and exim4-daemon-light.
        shutil.copy(FIXTURES / "roots/mail/var/lib/dpkg/status",
                    self.root / "var/lib/dpkg/status")
        (base / "mbox").mkdir()
        for d in (self.root / "var/log/exim4", self.root / "var/spool/exim4",
                  base / "mbox"):
            shutil.chown(d, "Debian-exim", "Debian-exim")
        self.conf = base / "exim.conf"
        self.conf.write_text(CONF.format(root=self.root, mbox=base / "mbox"))

    def run(self, *args, input=None):
        r = subprocess.run([EXIM, "-C", str(self.conf), *args], input=input,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def queue_ids(self):
        return sorted(p.name[:-2] for p in
                      (self.root / "var/spool/exim4/input").glob("*-H"))


@pytest.fixture
def exim():
    # Debian-exim must reach the spool: not under pytest's 0700 tmp.
    base = pathlib.Path(tempfile.mkdtemp(prefix="derelict-exim-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield Exim(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def mail_item(root):
    r = subprocess.run([AGENT, "--print", "--config", "/dev/null", "--root",
                        str(root)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)["sections"]["mail"]["items"]
    (item,) = [i for i in items if i.get("mta") == "exim"]
    return item


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def host_of(server):
    s, hosts, _ = server.api("GET", "/hosts")
    assert s == 200
    (h,) = hosts["items"]
    s, host, _ = server.api("GET", f"/hosts/{h['id']}")
    assert s == 200
    return host


def open_findings(server, rule):
    s, f, _ = server.api("GET", f"/findings?rule={rule}&status=open")
    assert s == 200, f
    return f["items"]


def test_one_delivery_is_reported(exim, server):
    before = int(time.time())
    exim.run("-odi", "-f", "sender@derelict.test", "someone@derelict.test",
             input="Subject: one\n\nhello\n")
    after = int(time.time())
    log = (exim.root / "var/log/exim4/mainlog").read_text()
    assert " => someone <someone@derelict.test> R=local T=mbox" in log

    item = mail_item(exim.root)
    # Exim logs whole seconds of local time; the agent reads them as such.
    assert rfc3339(before) <= item["last_delivered_at"] <= rfc3339(after)
    assert rfc3339(before) <= item["last_received_at"] <= rfc3339(after)
    assert item["delivered_90d"] == 1 and item["received_90d"] == 1
    assert item["queue"] == 0 and item["frozen"] == 0
    assert item["source"] == "exim4"
    assert "@" not in json.dumps(item)      # counts and times only

    # Through the real server: the host page's mail carries it.
    assert server.agent("--once", root=exim.root).returncode == 0
    (act,) = host_of(server)["mail"]["activity"]
    assert act["last_delivered_at"] == item["last_delivered_at"]
    assert act["queue"] == 0
    assert not open_findings(server, "mail-queue-backlog")


def smtp_batch(n, first=0):
    lines = ["HELO derelict.test"]
    for i in range(first, first + n):
        lines += ["MAIL FROM:<s@derelict.test>",
                  f"RCPT TO:<r{i}@derelict.test>", "DATA",
                  f"Subject: {i}", "", "queued", "."]
    lines.append("QUIT")
    return "\r\n".join(lines) + "\r\n"


def test_two_thousand_queued_is_a_backlog(exim, make_server):
    # One SMTP session on stdin (-bs), queued only (-odq): 2,000 real
    # spool messages in seconds.
    out = exim.run("-odq", "-bs", input=smtp_batch(2000))
    assert out.count("250 OK id=") == 2000, out[-500:]
    assert len(exim.queue_ids()) == 2000

    item = mail_item(exim.root)
    assert item["queue"] == 2000 and item["frozen"] == 0
    assert item["received_90d"] == 2000 and item["delivered_90d"] == 0

    server = make_server()
    assert server.agent("--once", root=exim.root).returncode == 0
    (f,) = open_findings(server, "mail-queue-backlog")
    # Nothing listens in that root: not exposed, high.
    assert f["severity"] == "high"
    assert f["summary"].startswith(
        "2000 messages wait in this Exim's queue, more than the 1000 of "
        "queue_backlog: ")
    assert f["details"]["queue"] == 2000

    # Frozen messages that grow between reports are a backlog even under
    # the threshold: exim -Mf freezes three.
    calm = make_server(queue_backlog=100000)
    state = calm.tmp / "st"
    assert calm.agent("--once", root=exim.root, state=state).returncode == 0
    assert not open_findings(calm, "mail-queue-backlog")
    exim.run("-Mf", *exim.queue_ids()[:3])
    assert mail_item(exim.root)["frozen"] == 3
    assert calm.agent("--once", root=exim.root, state=state).returncode == 0
    (f,) = open_findings(calm, "mail-queue-backlog")
    assert "2000 messages wait in this Exim's queue, 3 frozen (up from 0 at " \
        in f["summary"], f["summary"]
    assert f["details"]["frozen_growing"] is True
    (act,) = host_of(calm)["mail"]["activity"]
    assert act["frozen"] == 3 and act["frozen_before"] == 0
    # Thawed again (exim -Mt): no longer growing, the finding resolves.
    exim.run("-Mt", *exim.queue_ids()[:3])
    assert calm.agent("--once", root=exim.root, state=state).returncode == 0
    assert not open_findings(calm, "mail-queue-backlog")


def test_a_log_120_days_old_is_mail_idle(make_server, tmp_path):
    """The real Exim log of tests/fixtures/roots/exim-idle moved to 120
    days ago, on the captured Exim host (roots/exim: 0.0.0.0:25, with
    roots/mail's exim4 packages) whose project has ended."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "roots" / "exim", root, symlinks=True)
    shutil.copytree(FIXTURES / "roots" / "exim-idle" / "var", root / "var",
                    symlinks=True, dirs_exist_ok=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy(FIXTURES / "roots/mail/var/lib/dpkg/status",
                root / "var/lib/dpkg/status")
    day = datetime.date.today() - datetime.timedelta(days=120)
    log = root / "var/log/exim4/mainlog"
    log.write_text("".join(day.isoformat() + line[10:] for line in
                           log.read_text().splitlines(keepends=True)))

    server = make_server()
    s, _, _ = server.api("POST", "/projects",
                         {"name": "old-portal", "ends_on": "2025-01-31"})
    assert s in (200, 201)
    r = server.agent("--once", root=root, project="old-portal")
    assert r.returncode == 0, r.stderr
    host = host_of(server)
    (sig,) = [s for s in host["signals"] if s["signal"] == "mail-idle"]
    sentence = f"nothing has gone through this Exim since {day.isoformat()}"
    assert sig["evidence"] == sentence
    (f,) = open_findings(server, "abandoned-mail-service")
    assert f"; {sentence}." in f["summary"], f["summary"]
    assert "mail-idle" in f["details"]["signals"]
    (act,) = host["mail"]["activity"]
    assert act["delivered_90d"] == 0 and act["queue"] == 0

    # Mail again: the signal goes with the next report.
    with log.open("a") as out:
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        out.write(f"{now} 1xYLt8-0002Mi-0W <= a@derelict.test U=root "
                  "P=local S=270\n")
    assert server.agent("--once", root=root, project="old-portal").returncode == 0
    assert not [s for s in host_of(server)["signals"]
                if s["signal"] == "mail-idle"]
