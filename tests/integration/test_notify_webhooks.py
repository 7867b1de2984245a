"""Webhooks end to end: a real derelictd with [webhook NAME] sections, the
real agent on composed roots (an exposed Exim in an ended project), and a
receiver on loopback whose every delivery is checked by the Standard
Webhooks reference library (npm "standardwebhooks", tests/notify)."""
import base64
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import DERELICTD, wait_for
from scenario import compose

NOTIFY = pathlib.Path(__file__).resolve().parents[1] / "notify"


@pytest.fixture(scope="module")
def verifier():
    """verify(secret, deliveries) -> the library's verdict on each."""
    if not (NOTIFY / "node_modules" / "standardwebhooks").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund",
                        "--loglevel=error"], cwd=NOTIFY, check=True,
                       timeout=300)

    def verify(secret, deliveries):
        lines = "".join(json.dumps({"secret": secret, "headers": d["headers"],
                                    "body": d["body"]}) + "\n"
                        for d in deliveries)
        r = subprocess.run(["node", str(NOTIFY / "verify.js")], input=lines,
                           capture_output=True, text=True, timeout=60,
                           check=True)
        return [json.loads(x) for x in r.stdout.splitlines()]
    return verify


class Receiver:
    """Records every POST; answers with the next of .script (then 200)."""

    def __init__(self):
        self.got, self.script, self.lock = [], [], threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    status = outer.script.pop(0) if outer.script else 200
                    outer.got.append({
                        "path": self.path, "status": status,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(), "at": time.time()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def deliveries(self, path=None, status=None):
        with self.lock:
            return [d for d in self.got if (path is None or d["path"] == path)
                    and (status is None or d["status"] == status)]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def new_secret(server, name):
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    path = server.tmp / f"webhook-{name}"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    return secret, path


def configure(server, hooks, retry_base="1s"):
    """Appends [notify] and a [webhook NAME] section per hook (name ->
    (url, secret_file, min_severity)) and restarts the server on them."""
    lines = ["", "[notify]", f"retry_base = {retry_base}"]
    for name, (url, secret_file, floor) in hooks.items():
        lines += ["", f"[webhook {name}]", f"url = {url}",
                  f"secret_file = {secret_file}"]
        if floor:
            lines.append(f"min_severity = {floor}")
    with open(server.conf, "a") as f:
        f.write("\n".join(lines) + "\n")
    server.restart()


def exposed_exim(server, name="dev-portal-03", project="acme-portal",
                 ended=True):
    """The real agent reports an Exim on 0.0.0.0:25; its project ends."""
    root = compose(server.tmp, name, version="4.92-8+deb10u1")
    r = server.agent("--once", root=root, state=server.tmp / f"state-{name}",
                     project=project)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert s == 200 and hosts["total"] == 1, hosts
    if ended:
        s, p, _ = server.api("PATCH", f"/projects/{project}",
                             {"ends_on": "2025-03-31"})
        assert s == 200, p
    return hosts["items"][0]["id"]


def notifications(server, query=""):
    items, cursor = [], None
    while True:
        q = query + (f"&cursor={cursor}" if cursor else "")
        s, page, _ = server.api("GET", f"/notifications?limit=2{q}")
        assert s == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items, page["total"]


def test_ended_project_sends_signed_finding_opened(make_server, receiver,
                                                    verifier):
    server = make_server()
    secret, path = new_secret(server, "ops")
    crit_secret, crit_path = new_secret(server, "sec")
    configure(server, {"ops": (receiver.url + "/ops", path, None),
                       "sec": (receiver.url + "/sec", crit_path, "critical")})
    hid = exposed_exim(server)
    opened = lambda: [d for d in receiver.deliveries("/ops")
                      if json.loads(d["body"])["data"]["finding"]["rule"]
                      == "abandoned-mail-service"]
    assert wait_for(opened, timeout=30), receiver.got
    time.sleep(1.5)  # anything else queued arrives too
    ops = receiver.deliveries("/ops")
    verdicts = verifier(secret, ops)
    assert all(v["ok"] for v in verdicts), verdicts
    # The library refuses what another secret signed.
    assert not any(v["ok"] for v in verifier(crit_secret, ops))
    events = [v["payload"] for v in verdicts]
    kinds = {(e["type"], e["data"]["finding"]["rule"]) for e in events}
    assert ("finding.opened", "abandoned-mail-service") in kinds
    assert ("finding.opened", "vulnerable-mta") in kinds
    ev = next(e for e in events
              if e["data"]["finding"]["rule"] == "abandoned-mail-service")
    f = ev["data"]["finding"]
    assert f["severity"] == "critical" and f["status"] == "open"
    assert "0.0.0.0:25" in f["summary"] and "2025-03-31" in f["summary"]
    assert ev["data"]["host"]["hostname"] == "dev-portal-03"
    assert ev["data"]["host"]["project"] == "acme-portal"
    assert ev["data"]["link"] == f"{server.url}/#/host/{hid}"
    for d, e in zip(ops, events):
        assert d["headers"]["webhook-id"] == e["id"]
        assert d["headers"]["content-type"] == "application/json"
    # One delivery per event, each id once.
    ids = [d["headers"]["webhook-id"] for d in ops]
    assert len(ids) == len(set(ids))
    # The critical-only hook got the critical events alone, the same ids.
    sec = verifier(crit_secret, receiver.deliveries("/sec"))
    assert sec and all(v["ok"] for v in sec)
    assert all(v["payload"]["data"]["finding"]["severity"] == "critical"
               for v in sec)
    assert {v["payload"]["id"] for v in sec} <= set(ids)
    assert any(e["data"]["finding"]["severity"] != "critical"
               for e in events), "no event below critical: the floor is untested"
    # The outbox says the same: every row delivered, once.
    rows, total = notifications(server)
    assert total == len(rows) == len(ops) + len(sec)
    assert all(r["status"] == "delivered" and r["attempts"] == 1
               and r["next_try_at"] is None and r["delivered_at"]
               for r in rows), rows
    assert {r["event_id"] for r in rows if r["destination"] == "webhook:ops"} \
        == set(ids)
    # Each row has what the OpenAPI file says.
    spec = server.api("GET", "/openapi.json")[1]
    assert set(rows[0]) == set(spec["components"]["schemas"]["Delivery"]["required"])
    # Admins only.
    assert server.api("GET", "/notifications",
                      token=server.viewer_token)[0] == 403
    assert server.api("POST", f"/notifications/{rows[0]['id']}/retry",
                      token=server.viewer_token)[0] == 403
    # A second report changes nothing: no event.
    root = server.tmp / "dev-portal-03"
    r = server.agent("--once", root=root, state=server.tmp / "state-dev-portal-03",
                     project="acme-portal")
    assert r.returncode == 0, r.stderr
    time.sleep(2)
    assert len(receiver.deliveries("/ops")) == len(ops), [
        json.loads(d["body"])["type"] for d in receiver.deliveries("/ops")]
    # Moving the end into the future resolves what it caused.
    s, p, _ = server.api("PATCH", "/projects/acme-portal", {"ends_on": "2099-01-01"})
    assert s == 200, p
    resolved = lambda: [v["payload"] for v in verifier(
        secret, receiver.deliveries("/ops")[len(ops):])
        if v["ok"] and v["payload"]["type"] == "finding.resolved"]
    got = wait_for(resolved, timeout=30)
    assert got and got[0]["data"]["finding"]["rule"] == "abandoned-mail-service"
    assert got[0]["data"]["finding"]["status"] == "resolved"
    assert got[0]["id"] not in ids
    # Sent rows are kept as long as the history ([server] history_keep,
    # 400 days), then deleted; a pending one stays, however old.
    time.sleep(1.5)
    server.stop()
    db = server.db_connect()
    with db:
        db.execute("UPDATE notify_deliveries SET created_at = created_at - "
                   "401 * 86400")
        # 2^40 written out: PostgreSQL's 1 << 40 is an int4's, 256.
        db.execute("UPDATE notify_deliveries SET status = 'pending', "
                   "next_try_at = 1099511627776 WHERE id = (SELECT "
                   "max(id) FROM notify_deliveries)")
    db.close()
    server.start()
    assert wait_for(lambda: notifications(server)[1] == 1, timeout=30)
    assert notifications(server)[0][0]["status"] == "pending"


def test_retried_with_the_same_id_until_2xx(make_server, receiver, verifier):
    server = make_server()
    secret, path = new_secret(server, "ops")
    configure(server, {"ops": (receiver.url + "/ops", path, None)},
              retry_base="2s")
    receiver.script = [500, 500, 500]
    exposed_exim(server, ended=False)
    # While it fails, the outbox shows why and when it tries again.
    pending = wait_for(lambda: [r for r in notifications(server, "&status=pending")[0]
                                if r["attempts"] >= 1], timeout=30)
    assert pending and pending[0]["last_error"] == "HTTP 500"
    assert pending[0]["next_try_at"]
    first = receiver.deliveries()[0]["headers"]["webhook-id"]
    assert wait_for(lambda: receiver.deliveries(status=200), timeout=60)
    time.sleep(1.5)
    got = receiver.deliveries()
    same = [d for d in got if d["headers"]["webhook-id"] == first]
    assert [d["status"] for d in same] == [500, 500, 500, 200]
    # Each try is signed afresh, and each is valid.
    assert all(v["ok"] for v in verifier(secret, same))
    # Backoff: the gaps grow.
    gaps = [b["at"] - a["at"] for a, b in zip(same, same[1:])]
    assert gaps[2] > gaps[0], gaps
    rows, _ = notifications(server)
    row = next(r for r in rows if r["event_id"] == first)
    assert row["status"] == "delivered" and row["attempts"] == 4
    # Every other event came once.
    others = [d["headers"]["webhook-id"] for d in got
              if d["headers"]["webhook-id"] != first]
    assert len(others) == len(set(others)) == len(rows) - 1


def test_410_disables_the_hook_until_an_admin_retries(make_server, receiver,
                                                      verifier):
    server = make_server()
    secret, path = new_secret(server, "gone")
    configure(server, {"gone": (receiver.url + "/gone", path, None)})
    receiver.script = [410]
    exposed_exim(server, ended=False)
    rows = wait_for(lambda: [r for r in notifications(server)[0]
                             if r["status"] == "disabled"], timeout=30)
    assert rows
    time.sleep(2)
    # One request, then nothing more: the rest of its rows are disabled.
    assert len(receiver.deliveries()) == 1
    rows, total = notifications(server)
    assert all(r["status"] == "disabled" for r in rows), rows
    tried = [r for r in rows if r["attempts"] == 1]
    assert len(tried) == 1 and tried[0]["last_error"] == "HTTP 410"
    # New findings queue nothing for it.
    s, p, _ = server.api("PATCH", "/projects/acme-portal", {"ends_on": "2025-03-31"})
    assert s == 200
    time.sleep(2)
    assert notifications(server)[1] == total
    assert len(receiver.deliveries()) == 1
    # An admin's retry sends that one again, same id, and switches it on.
    s, body, _ = server.api("POST", f"/notifications/{tried[0]['id']}/retry")
    assert s == 200 and body["status"] == "pending", body
    assert wait_for(lambda: receiver.deliveries(status=200), timeout=30)
    again = receiver.deliveries(status=200)[0]
    assert again["headers"]["webhook-id"] == tried[0]["event_id"]
    assert verifier(secret, [again])[0]["ok"]
    assert server.api("POST", f"/notifications/{tried[0]['id']}/retry")[0] == 409
    assert server.api("POST", "/notifications/999999/retry")[0] == 404
    assert server.api("POST", "/notifications/abc/retry")[0] == 404
    assert server.api("GET", "/notifications?status=lost")[0] == 400
    assert server.api("GET", "/notifications?cursor=x")[0] == 400
    # Switched on again: the next change is queued and sent.
    s, p, _ = server.api("PATCH", "/projects/acme-portal", {"ends_on": "2099-01-01"})
    assert s == 200
    assert wait_for(lambda: [d for d in receiver.deliveries(status=200)
                             if json.loads(d["body"])["type"] == "finding.resolved"], timeout=30)


def test_kill9_with_deliveries_pending_loses_none_sends_none_twice(
        make_server, receiver, verifier):
    server = make_server()
    secret, path = new_secret(server, "ops")
    # A long first delay: the rows wait in the outbox when the kill comes.
    configure(server, {"ops": (receiver.url + "/ops", path, None)},
              retry_base="1h")
    receiver.script = [503]
    for i in range(3):
        exposed_exim(server, name=f"mail-{i}", project=f"proj-{i}")
    rows = wait_for(lambda: len(notifications(server, "&status=pending")[0]) >= 9
                    and notifications(server, "&status=pending")[0], timeout=30)
    assert rows, notifications(server)
    assert wait_for(receiver.deliveries, timeout=30)
    time.sleep(1.5)
    queued = {r["event_id"] for r in notifications(server)[0]}
    assert len(receiver.deliveries()) == 1  # the 503, then the wait
    server.stop(signal.SIGKILL)
    # After the restart the receiver takes everything; the 503'd row is
    # still an hour away, so an admin retries it.
    with open(server.conf, "a") as f:
        f.write("\n[notify]\nretry_base = 1s\n")
    server.start()
    rows, total = notifications(server)
    assert {r["event_id"] for r in rows} == queued
    for r in rows:
        if r["attempts"]:
            assert server.api("POST", f"/notifications/{r['id']}/retry")[0] == 200
    assert wait_for(lambda: all(r["status"] == "delivered"
                                for r in notifications(server)[0]), timeout=60)
    ok = receiver.deliveries(status=200)
    ids = [d["headers"]["webhook-id"] for d in ok]
    # None lost, none twice: every queued event exactly once.
    assert sorted(ids) == sorted(queued), (ids, queued)
    assert len(ids) == len(set(ids)) == total
    assert all(v["ok"] for v in verifier(secret, ok))


def test_check_config_validates_the_webhooks(server):
    secret, path = new_secret(server, "ops")
    base = server.conf.read_text()

    def run(extra):
        server.conf.write_text(base + "\n" + extra + "\n")
        return subprocess.run([DERELICTD,
                               "--config", str(server.conf), "--check-config"],
                              capture_output=True, text=True, timeout=60)

    good = f"[webhook ops]\nurl = http://127.0.0.1:9/x\nsecret_file = {path}\n"
    assert run(good).returncode == 0
    assert run(f"[notify]\nwebhook_url = https://127.0.0.1:9/x\n"
               f"webhook_secret_file = {path}\n").returncode == 0
    r = run("[webhook ops]\nurl = http://127.0.0.1:9/x\n")
    assert r.returncode == 1 and "secret_file" in r.stderr
    r = run(f"[webhook ops]\nurl = gopher://x/\nsecret_file = {path}\n")
    assert r.returncode == 1 and "[webhook ops] url" in r.stderr
    r = run(f"[webhook ops]\nurl = http://x/\nsecret_file = {path}\n"
            "min_severity = urgent\n")
    assert r.returncode == 1 and "min_severity" in r.stderr
    r = run(f"[webhook ops]\nurl = http://x/\nsecret_file = {path}\ncolour = red\n")
    assert r.returncode == 1 and "unknown key" in r.stderr
    # The secret itself: its form, and who may read it.
    path.write_text("hunter2hunter2hunter2\n")
    r = run(good)
    assert r.returncode == 1 and "whsec_" in r.stderr
    path.write_text(secret + "\n")
    os.chmod(path, 0o644)
    r = run(good)
    assert r.returncode == 1 and "readable by others" in r.stderr
    # The server refuses to start on it, too.
    server.stop()
    r = subprocess.run([DERELICTD,
                        "--config", str(server.conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "readable by others" in r.stderr


def test_severity_raised_and_acknowledgement_expired(make_server, receiver,
                                                     verifier):
    server = make_server()
    secret, path = new_secret(server, "ops")
    configure(server, {"ops": (receiver.url + "/ops", path, None)})
    state = server.tmp / "state-relay"
    # Exim on loopback only, then the same host's Exim on 0.0.0.0:25.
    # 4.92-8+deb10u4: its worst CVE is high, critical when exposed.
    root = compose(server.tmp, "relay", mta="loopback",
                   version="4.92-8+deb10u4")
    assert server.agent("--once", root=root, state=state).returncode == 0

    def events():
        return [v["payload"] for v in verifier(secret, receiver.deliveries())]
    first = wait_for(lambda: [e for e in events()
                              if e["data"]["finding"]["rule"] == "vulnerable-mta"], timeout=30)
    assert first and first[0]["type"] == "finding.opened"
    before = first[0]["data"]["finding"]["severity"]
    assert before != "critical"
    root = compose(server.tmp, "relay", mta="exim",
                   version="4.92-8+deb10u4")
    assert server.agent("--once", root=root, state=state).returncode == 0
    up = wait_for(lambda: [e for e in events() if e["type"] == "finding.updated"], timeout=30)
    assert up, [e["type"] for e in events()]
    assert up[0]["data"]["finding"]["rule"] == "vulnerable-mta"
    assert up[0]["data"]["finding"]["severity"] == "critical"
    assert up[0]["data"]["previous_severity"] == before
    assert up[0]["id"] != first[0]["id"]
    # An acknowledgement that has run out brings the finding back.
    fid = up[0]["data"]["finding"]["id"]
    s, body, _ = server.api("POST", f"/findings/{fid}/ack",
                            {"reason": "decommissioning", "until": "2020-01-01"})
    assert s == 200, body
    esc = wait_for(lambda: [e for e in events() if e["type"] == "finding.escalated"], timeout=30)
    assert esc and esc[0]["data"]["finding"]["id"] == fid
    assert esc[0]["data"]["finding"]["status"] == "open"
    # Once: the next evaluations find it open already.
    time.sleep(2.5)
    assert len([e for e in events() if e["type"] == "finding.escalated"]) == 1
    # An acknowledgement in force tells nothing.
    n = len(receiver.deliveries())
    s, body, _ = server.api("POST", f"/findings/{fid}/ack",
                            {"reason": "decommissioning", "until": "2099-01-01"})
    assert s == 200, body
    time.sleep(2.5)
    assert len(receiver.deliveries()) == n
