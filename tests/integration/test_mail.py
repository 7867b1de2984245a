"""Owner mail end to end (issue 17): a real SMTP receiver on loopback
(Debian's python3-aiosmtpd, in a thread of the test) takes the digests of
a real derelictd; the answer links are followed over real HTTP."""
import base64
import email
import email.policy
import hashlib
import hmac
import html.parser
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from aiosmtpd.controller import Controller

from conftest import ENGINE, free_port
from reports import Host, package, report, sealed
from scenario import compose
from test_notify_webhooks import Receiver, verifier  # noqa: F401 (a fixture)

OWNER = "owner@example.org"
SECURITY = "security@example.org"


class Inbox:
    """What the SMTP receiver took: (envelope rcpts, parsed message)."""

    def __init__(self):
        self.mails = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content,
                                       policy=email.policy.default)
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), msg,
                               envelope.original_content))
        return "250 OK"

    def to(self, addr):
        with self.lock:
            return [m for r, m, _ in self.mails if addr in r]

    def wait(self, addr, n=1, timeout=40):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.to(addr)) >= n:
                return self.to(addr)
            time.sleep(0.2)
        return self.to(addr)


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port)
    c.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    yield inbox
    c.stop()


def mail_server(make_server, smtp, **notify):
    conf = {"smtp_url": smtp.url, "mail_from": "derelict@example.org",
            "digest_settle": "1s"}
    conf.update(notify)
    return make_server(notify=conf)


def project(server, name, contact=OWNER, ends_on="2025-03-31"):
    s, p, _ = server.api("POST", "/projects", {
        "name": name, "contact": contact, "ends_on": ends_on})
    assert s == 201, p


def parts(msg):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    htm = msg.get_body(preferencelist=("html",)).get_content()
    return text, htm


def links(text):
    """{"keep"|"retire"|"notmine": [url, ...]} from a digest's text."""
    out = {}
    for label, url in re.findall(r"  (Still needed: keep until [0-9-]+|"
                                 r"No longer needed: retire it|Not mine): "
                                 r"(\S+)", text):
        key = ("keep" if label.startswith("Still") else
               "retire" if label.startswith("No longer") else "notmine")
        out.setdefault(key, []).append(url)
    return out


def fetch(url, method="GET"):
    req = urllib.request.Request(url, method=method,
                                 data=b"" if method == "POST" else None)
    if method == "POST":
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            self.forms.append(dict(attrs))
        if tag == "script":
            self.scripts += 1


def press(server, url):
    """Follows a link like a browser: GET the page, POST its form."""
    status, page, headers = fetch(url)
    assert status == 200, page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    f = Form()
    f.feed(page)
    assert f.scripts == 0 and len(f.forms) == 1
    assert f.forms[0]["method"] == "post"
    return fetch(server.url + f.forms[0]["action"], "POST")


def run_exim(server, name, proj):
    root = compose(server.tmp, name, version="4.92-8+deb10u1")
    r = server.agent("--once", root=root, state=server.tmp / ("st-" + name),
                     project=proj)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    return hosts["items"][0]["id"]


def host(server, hid):
    return server.api("GET", f"/hosts/{hid}")[1]


def test_digest_to_the_contact_with_cves_and_a_working_retire_link(
        make_server, smtp):
    server = mail_server(make_server, smtp)
    project(server, "acme-portal")
    hid = run_exim(server, "dev-portal-03", "acme-portal")
    mails = smtp.wait(OWNER)
    assert len(mails) == 1
    msg = mails[0]
    assert msg["To"].addresses[0].addr_spec == OWNER
    assert "derelict@example.org" in msg["From"]
    assert msg["Date"] and msg["Message-ID"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, htm = parts(msg)
    assert "dev-portal-03" in text and "dev-portal-03" in htm
    assert "CVE-2019-15846 fixed in 4.92-8+deb10u2" in text
    assert "CVE-2020-28007" in text and "CVE-2020-28007" in htm
    assert "Fix: upgrade" in text and "Exposed: 0.0.0.0:25" in text
    assert "Last login:" in text and "Last package change:" in text
    ls = links(text)
    assert set(ls) == {"keep", "retire", "notmine"}
    assert ls["retire"][0] in htm.replace("&amp;", "&")

    # A second report is no reason for a second digest.
    run_exim(server, "dev-portal-03", "acme-portal")
    time.sleep(4)
    assert len(smtp.to(OWNER)) == 1

    # A GET (a mail gateway scanning the link) shows the page and changes
    # nothing, however often.
    for _ in range(2):
        status, page, _ = fetch(ls["retire"][0])
        assert status == 200 and "Retire it" in page
    assert host(server, hid)["status"] != "retired"
    s, page, _ = press(server, ls["retire"][0])
    assert s == 200 and "recorded" in page
    assert host(server, hid)["status"] == "retired"
    ch = server.api("GET", f"/hosts/{hid}/changes")[1]["items"]
    answer = [c for c in ch if c["section"] == "answer"]
    assert answer and answer[0]["new"]["by"] == OWNER
    assert answer[0]["new"]["answer"] == "retire"

    # Used once: the same link again is refused, GET and POST alike.
    assert fetch(ls["retire"][0])[0] == 409
    t = urllib.parse.parse_qs(urllib.parse.urlparse(ls["retire"][0]).query)
    assert fetch(server.url + "/answer?t=" + t["t"][0], "POST")[0] == 409


def link_key(server):
    """The key the server signs links with: in the database, for every
    node of it."""
    with server.db_connect(readonly=True) as db:
        rows = db.execute("SELECT value FROM server_secrets "
                          "WHERE name = 'answer-key'").fetchall()
    assert len(rows) == 1
    return bytes(rows[0][0])


def sign(server, payload, key=None):
    key = link_key(server) if key is None else key
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return b64(payload.encode()) + "." + b64(mac)


def test_expired_altered_and_foreign_links_are_refused(make_server, smtp):
    server = mail_server(make_server, smtp)
    project(server, "p-links")
    hid = run_exim(server, "mx-links", "p-links")
    text, _ = parts(smtp.wait(OWNER)[0])
    url = links(text)["retire"][0]
    tok = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["t"][0]
    body, mac = tok.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    assert payload.startswith(f"1|{hid}|")

    # Altered: another host id under the old signature.
    other = payload.replace(f"1|{hid}|", f"1|{hid + 1}|", 1)
    forged = base64.urlsafe_b64encode(other.encode()).rstrip(b"=").decode()
    for t in (forged + "." + mac, body + "." + mac[:-2] + "AA",
              body, "x" * 5000, ""):
        status, page, _ = fetch(server.url + "/answer?t=" +
                                urllib.parse.quote(t), "POST")
        assert status in (400, 403, 414), (t, status)
    # Expired: signed with the server's own key, expired yesterday.
    fields = payload.split("|")
    fields[5] = str(int(time.time()) - 86400)
    expired = sign(server, "|".join(fields))
    assert fetch(server.url + "/answer?t=" + expired)[0] == 410
    assert fetch(server.url + "/answer?t=" + expired, "POST")[0] == 410
    # The same fields unexpired are accepted: the refusal was the date.
    fields[5] = str(int(time.time()) + 3600)
    assert fetch(server.url + "/answer?t=" + sign(server, "|".join(fields)))[0] == 200
    assert host(server, hid)["status"] != "retired"
    # The key is the database's alone: no file of it beside.
    assert len(link_key(server)) == 32
    assert not list(server.tmp.rglob("answer.key"))


def test_the_key_file_of_an_older_release_keeps_its_links(make_server,
                                                          smtp, tmp_path):
    """Releases before 0.4 kept the key in answer.key beside the database:
    the first start with the key in the database takes that file's key,
    so links already mailed still work; a file others may read is
    refused."""
    server = mail_server(make_server, smtp)
    project(server, "p-old")
    hid = run_exim(server, "mx-old", "p-old")
    text, _ = parts(smtp.wait(OWNER)[0])
    tok = urllib.parse.parse_qs(urllib.parse.urlparse(
        links(text)["retire"][0]).query)["t"][0]
    body = tok.split(".")[0]
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()

    # As an older release left it: a key file, none in the database.
    old = bytes(range(32))
    server.stop()
    db = server.db_connect()
    db.execute("DELETE FROM server_secrets")
    db.commit()
    db.close()
    keyfile = server.tmp / "answer.key"  # beside the database, or state_dir
    keyfile.write_bytes(old)
    keyfile.chmod(0o644)
    with pytest.raises(AssertionError, match="may be read by others"):
        server.start()
    keyfile.chmod(0o600)
    server.start()
    assert link_key(server) == old
    assert fetch(server.url + "/answer?t=" + sign(server, payload, old))[0] == 200
    # The old mail's link was signed with the previous key: refused now.
    assert fetch(server.url + "/answer?t=" + tok)[0] == 403
    assert host(server, hid)["status"] != "retired"


def test_keep_moves_the_end_and_not_mine_goes_to_security(make_server, smtp):
    server = mail_server(make_server, smtp, escalate_to=SECURITY)
    project(server, "p-keep")
    a = run_exim(server, "mx-keep", "p-keep")
    b = run_exim(server, "mx-other", "p-keep")
    mails = smtp.wait(OWNER)
    assert len(mails) == 1
    text, _ = parts(mails[0])
    assert "mx-keep" in text and "mx-other" in text
    ls = links(text)
    # Hosts are listed worst first, then by id: find each one's links.
    blocks = text.split("\n== ")[1:]
    keep = [l for blk in blocks if blk.startswith("mx-keep")
            for l in links(blk)["keep"]][0]
    notmine = [l for blk in blocks if blk.startswith("mx-other")
               for l in links(blk)["notmine"]][0]
    assert keep in ls["keep"] and notmine in ls["notmine"]

    s, page, _ = press(server, keep)
    assert s == 200
    until = re.search(r"until (\d{4}-\d\d-\d\d)", page).group(1)
    p = server.api("GET", "/projects/p-keep")[1]
    assert p["ends_on"] == until
    fs = server.api("GET", f"/findings?host={a}&status=open")[1]["items"]
    assert all(f["rule"] != "project-ended" for f in fs)

    s, page, _ = press(server, notmine)
    assert s == 200
    assert host(server, b)["project"] is None
    handed = smtp.wait(SECURITY)
    assert handed and "mx-other" in parts(handed[-1])[0]
    assert OWNER in parts(handed[-1])[0]


def test_escalation_says_how_long_it_waited(make_server, smtp):
    server = mail_server(make_server, smtp, escalate_to=SECURITY,
                         escalate_after="1s", digest_settle="2s")
    project(server, "p-esc")
    run_exim(server, "mx-esc", "p-esc")
    assert len(smtp.wait(OWNER)) == 1
    esc = smtp.wait(SECURITY)
    assert len(esc) == 1
    assert esc[0]["To"].addresses[0].addr_spec == SECURITY
    assert "[escalated]" in esc[0]["Subject"]
    text, _ = parts(esc[0])
    assert "waited" in text and OWNER in text and "mx-esc" in text


EXIM_PORT = {"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 812,
             "process": "exim4", "exe": "/usr/sbin/exim4",
             "user": "Debian-exim"}
EXIM_PROC = {"name": "exim4", "exe": "/usr/sbin/exim4", "user": "Debian-exim",
             "count": 1}
EXIM_PKGS = [package("exim4-daemon-light", "4.92-8+deb10u1", source="exim4"),
             package("exim4-base", "4.92-8+deb10u1", source="exim4")]


def exim_report(h, proj, hostname=None):
    return report(h.agent_id, hostname=hostname or h.hostname,
                  packages=EXIM_PKGS, ports=[EXIM_PORT],
                  processes=[EXIM_PROC], project=proj, codename="buster")


def test_hostile_hostname_cannot_inject_a_header_and_is_escaped(
        make_server, smtp):
    server = mail_server(make_server, smtp)
    project(server, "p-evil")
    evil = "evil\r\nBcc: victim@example.net\r\n<script>alert(1)</script>"
    h = Host(server, hostname="evil-enrolled")
    s, body, _ = h.send(exim_report(h, "p-evil", hostname=evil))
    assert s == 200, body
    mails = smtp.wait(OWNER)
    assert len(mails) == 1
    raw = [r for rc, m, r in smtp.mails if OWNER in rc][0]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in head and b"victim" not in head
    assert all(rc == [OWNER] for rc, _, _ in smtp.mails)
    text, htm = parts(mails[0])
    assert "<script>" not in htm and "&lt;script&gt;" in htm
    assert "evil??Bcc" in text
    # The confirmation page escapes it too.
    status, page, _ = fetch(links(text)["retire"][0])
    assert status == 200
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_thousand_hosts_opening_at_once_make_one_digest(make_server, smtp):
    from reports import enroll_many
    server = mail_server(make_server, smtp, digest_settle="5s")
    project(server, "fleet")
    hosts = enroll_many(server, 1000)
    errors = []

    def work(start):
        for h in hosts[start::8]:
            s, body, _ = h.send(exim_report(h, "fleet"))
            if s != 200:
                errors.append((s, body))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    mails = smtp.wait(OWNER, timeout=60)
    time.sleep(5)
    mails = smtp.to(OWNER)
    assert len(mails) == 1
    text, _ = parts(mails[0])
    assert "1000 hosts" in text
    assert "and 800 more hosts" in text
    assert len(links(text)["retire"]) == 200


def test_a_digest_waits_in_the_outbox_until_the_mta_answers(make_server):
    """The receiver is down when the digest is due: the outbox keeps it
    and retries; once the receiver is up it gets it once, and a restart
    of derelictd sends it neither again nor a second digest."""
    import sqlite3
    inbox = Inbox()
    port = free_port()
    inbox.url = f"smtp://127.0.0.1:{port}"
    server = make_server(notify={"smtp_url": inbox.url,
                                 "mail_from": "derelict@example.org",
                                 "digest_settle": "1s",
                                 "retry_base": "1s"})
    project(server, "p-down")
    run_exim(server, "mx-down", "p-down")

    def rows():
        db = server.db_connect(readonly=True)
        try:
            return db.execute("SELECT destination, kind, status, attempts "
                              "FROM notify_deliveries WHERE kind = "
                              "'digest'").fetchall()
        finally:
            db.close()

    deadline = time.time() + 30
    while time.time() < deadline and not any(r[3] >= 1 for r in rows()):
        time.sleep(0.3)
    assert rows() and rows()[0][:3] == (f"mail:{OWNER}", "digest", "pending")
    assert rows()[0][3] >= 1
    c = Controller(inbox, hostname="127.0.0.1", port=port)
    c.start()
    try:
        assert len(inbox.wait(OWNER, timeout=60)) == 1
        deadline = time.time() + 10
        while time.time() < deadline and rows()[0][2] != "delivered":
            time.sleep(0.2)
        assert rows()[0][2] == "delivered"
        server.restart()
        time.sleep(4)
        assert len(inbox.to(OWNER)) == 1 and len(rows()) == 1
    finally:
        c.stop()


@pytest.mark.parametrize("lines,word", [
    (["smtp_url = http://127.0.0.1:25"], "smtp_url"),
    (["smtp_url = smtp://127.0.0.1:25", "mail_from = not an address"],
     "mail_from"),
    (["smtp_url = smtp://127.0.0.1:25", "escalate_to = <sec@example.org>"],
     "escalate_to"),
    (["digest_every = 10s"], "digest_every"),
])
def test_check_config_refuses_bad_notify_keys(tmp_path, lines, word):
    import subprocess
    from conftest import DERELICTD
    conf = tmp_path / "derelictd.conf"
    conf.write_text("[notify]\n" + "\n".join(lines) + "\n")
    r = subprocess.run([DERELICTD, "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and word in r.stderr, r.stderr
    conf.write_text("[notify]\nsmtp_url = smtps://mx.example.org:465\n"
                    "mail_from = derelict@example.org\n"
                    "escalate_to = sec@example.org\n")
    r = subprocess.run([DERELICTD, "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_a_digest_is_told_to_the_webhooks_too(make_server, smtp, tmp_path,
                                              verifier):  # noqa: F811
    """Issue 17's "digest" event: queued with the mail, in the same
    transaction, signed like every other event."""
    import json
    import os

    receiver = Receiver()
    try:
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        path = tmp_path / "webhook-secret"
        path.write_text(secret + "\n")
        os.chmod(path, 0o600)
        server = mail_server(make_server, smtp,
                             webhook_url=receiver.url + "/hook",
                             webhook_secret_file=str(path))
        project(server, "acme-portal")
        run_exim(server, "dev-portal-03", "acme-portal")
        assert len(smtp.wait(OWNER)) == 1
        deadline = time.time() + 20
        digests = []
        while time.time() < deadline and not digests:
            digests = [d for d in receiver.deliveries()
                       if json.loads(d["body"])["type"] == "digest"]
            time.sleep(0.2)
        assert len(digests) == 1, [json.loads(d["body"])["type"]
                                   for d in receiver.deliveries()]
        ev = json.loads(digests[0]["body"])
        assert ev["data"]["to"] == OWNER and ev["data"]["hosts"] == 1
        assert ev["data"]["mails"] == 1
        # Signed as Standard Webhooks says: the reference library agrees.
        (v,) = verifier(secret, digests)
        assert v["ok"] and v["payload"] == ev, v
        # The findings that made the digest were told as they opened.
        types = {json.loads(d["body"])["type"] for d in receiver.deliveries()}
        assert "finding.opened" in types
    finally:
        receiver.close()


@pytest.mark.skipif(ENGINE != "postgresql",
                    reason="several nodes need PostgreSQL")
def test_a_link_mailed_by_one_node_is_answered_by_another(make_server, smtp,
                                                          tmp_path):
    """Two nodes of one database share the links' key: whichever node the
    leader mailed from, the other verifies the link (no key to copy)."""
    conf = {"smtp_url": smtp.url, "mail_from": "derelict@example.org",
            "digest_settle": "1s"}
    one = make_server(notify=dict(conf))
    two = make_server(database=one.database, state_dir=str(tmp_path),
                      token_suffix="-2", notify=dict(conf))
    assert link_key(one) == link_key(two)
    assert not list(one.tmp.rglob("answer.key"))
    assert not list(tmp_path.rglob("answer.key"))
    project(one, "p-nodes")
    hid = run_exim(one, "mx-nodes", "p-nodes")
    text, _ = parts(smtp.wait(OWNER)[0])
    url = links(text)["retire"][0]
    query = urllib.parse.urlparse(url).query
    for node in (one, two):
        s, page, _ = fetch(node.url + "/answer?" + query)
        assert s == 200 and "Retire it" in page, (node.url, s)
    s, page, _ = fetch(two.url + "/answer?" + query, "POST")
    assert s == 200 and "recorded" in page
    assert host(one, hid)["status"] == "retired"
    # Used once, on every node.
    assert fetch(one.url + "/answer?" + query, "POST")[0] == 409
