"""Several derelictd nodes on one PostgreSQL database (issue 19): any node
takes reports and API calls, exactly one does the periodic work (the
leader, by an advisory lock), another takes over within evaluate_every
when it dies, and nothing one node holds in memory is needed by another."""
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ENGINE
from reports import Host, deltas

pytestmark = pytest.mark.skipif(ENGINE != "postgresql",
                                reason="several nodes need PostgreSQL")

SECTIONS = ("ports", "services", "processes", "packages", "logins")
EVERY = 2  # [rules] evaluate_every of the tests


class Pushes:
    """A stand-in Alertmanager of one node's config: counts the pushes it
    receives, so each node's periodic work is seen apart."""

    def __init__(self):
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/api/v2/alerts"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def healthz(node):
    status, body, _ = node.api("GET", "/healthz", token=None)
    assert status == 200, body
    return body


def leaders(nodes):
    return [n for n in nodes if n.proc and healthz(n)["leader"] is True]


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def two_nodes(make_server, tmp_path, **conf):
    one = make_server(evaluate_every=f"{EVERY}s", **conf)
    two = make_server(database=one.database, state_dir=str(tmp_path),
                      token_suffix="-2", evaluate_every=f"{EVERY}s", **conf)
    return one, two


def metric(node, name):
    status, text, _ = node.api("GET", "/metrics")
    assert status == 200
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def test_exactly_one_node_leads_and_another_takes_over(make_server,
                                                       tmp_path):
    one, two = two_nodes(make_server, tmp_path)
    nodes = [one, two]
    assert wait_for(lambda: len(leaders(nodes)) == 1, 3 * EVERY)
    time.sleep(EVERY + 1)
    lead = leaders(nodes)
    assert len(lead) == 1
    assert sorted(metric(n, "derelict_leader") for n in nodes) == [0, 1]
    follower = two if lead[0] is one else one

    lead[0].proc.send_signal(signal.SIGKILL)
    lead[0].proc.wait()
    lead[0].proc = None
    t0 = time.time()
    assert wait_for(lambda: healthz(follower)["leader"], 2 * EVERY)
    took = time.time() - t0
    assert took <= EVERY + 1, took


def test_the_periodic_work_runs_on_the_leader_alone(make_server, tmp_path):
    a, b = Pushes(), Pushes()
    try:
        one = make_server(evaluate_every=f"{EVERY}s",
                          **{"notify.alertmanager_url": a.url})
        two = make_server(database=one.database, state_dir=str(tmp_path),
                          token_suffix="-2", evaluate_every=f"{EVERY}s",
                          **{"notify.alertmanager_url": b.url})
        nodes = [one, two]
        assert wait_for(lambda: len(leaders(nodes)) == 1, 3 * EVERY)
        first = leaders(nodes)[0]
        pushes, others = (a, b) if first is one else (b, a)
        base_other = others.count
        time.sleep(3 * EVERY)
        assert pushes.count >= 2
        # The follower's Alertmanager heard nothing while the leader lived.
        assert others.count == base_other

        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.proc = None
        assert wait_for(lambda: others.count > base_other, 3 * EVERY)
    finally:
        a.close()
        b.close()


def test_the_survivor_takes_over_the_evaluation(make_server, tmp_path):
    one, two = two_nodes(make_server, tmp_path, silent_after="4s")
    nodes = [one, two]
    assert wait_for(lambda: len(leaders(nodes)) == 1, 3 * EVERY)
    lead = leaders(nodes)[0]
    survivor = two if lead is one else one
    # Enrolled and reported through the leader, then the leader dies.
    h = Host(lead)
    status, body, _ = h.send(h.report())
    assert status == 200, body
    lead.proc.send_signal(signal.SIGKILL)
    lead.proc.wait()
    lead.proc = None

    def silent():
        status, body, _ = survivor.api(
            "GET", f"/findings?host={h.id}&status=open")
        assert status == 200, body
        return [f for f in body["items"] if f["rule"] == "silent-host"]

    assert wait_for(silent, 4 + 3 * EVERY)
    assert healthz(survivor)["leader"] is True


def test_an_agent_reports_to_the_node_that_is_up(make_server, tmp_path):
    one, two = two_nodes(make_server, tmp_path)
    state = tmp_path / "agent"
    both = f"{one.url} {two.url}"
    r = one.agent("--server", both, state=state)
    assert r.returncode == 0, r.stderr
    hosts = one.api("GET", "/hosts")[1]
    assert hosts["total"] == 1
    hid = hosts["items"][0]["id"]
    before = two.api("GET", f"/hosts/{hid}")[1]["last_seen"]
    # Both answer the API from the one database.
    assert two.api("GET", "/hosts")[1]["total"] == 1

    one.stop(signal.SIGKILL)
    time.sleep(1.1)
    r = two.agent("--server", both, state=state)
    assert r.returncode == 0, r.stderr
    assert two.api("GET", "/hosts")[1]["total"] == 1
    assert two.api("GET", f"/hosts/{hid}")[1]["last_seen"] > before


def test_a_token_revoked_through_one_node_is_refused_by_the_other(
        make_server, tmp_path):
    one, two = two_nodes(make_server, tmp_path)
    # A host whose unchanged reports node 1 has seen: what a fast path
    # would remember.
    h = Host(one)
    rep = h.report()
    rep["host"]["machine_id"] = h.agent_id.replace("-", "")
    assert h.send(rep)[0] == 200
    same = deltas(rep, SECTIONS)
    for _ in range(3):
        status, body, _ = h.send(same)
        assert status == 200, body
    assert two.api("DELETE", f"/hosts/{h.id}")[0] in (200, 204)
    status, body, _ = h.send(same)
    assert status == 401, body

    # An API token revoked through node 2 is refused by node 1 at once.
    assert one.api("GET", "/hosts", token=two.viewer_token)[0] == 200
    two.cli("token", "revoke", "viewer-test-2")
    assert one.api("GET", "/hosts", token=two.viewer_token)[0] == 401
