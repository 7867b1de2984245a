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

import scenario
from conftest import ENGINE, wait_for
from reports import Host, deltas
from test_agent_server import host_of

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


def two_nodes(make_server, tmp_path, **conf):
    one = make_server(evaluate_every=f"{EVERY}s", **conf)
    # One fleet secret for both, as an operator gives every node: an
    # agent enrolls through whichever answers.
    two = make_server(database=one.database, state_dir=str(tmp_path),
                      token_suffix="-2", evaluate_every=f"{EVERY}s",
                      enroll_secret_file=str(one.secret_file), **conf)
    two.secret_file, two.enroll_secret = one.secret_file, one.enroll_secret
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


# ---- 20 agents through both nodes while one dies ----

SEQ = "derelict-seq"


def seq_stanza(n):
    """A package whose version carries the report's sequence number: each
    report an agent sends differs from its last, and the history shows
    which ones the server stored."""
    return (f"Package: {SEQ}\nStatus: install ok installed\n"
            f"Architecture: amd64\nVersion: {n}-1\n"
            f"Description: the report's sequence number\n")


class LoadAgent:
    """The real agent, run --once again and again on a root of its own,
    each run with the next sequence number, against two nodes in the
    order given (it tries the other on a refused connection or a
    502/503/504, and remembers which answered).  Exit code 0 is a 2xx
    with host_id: an acknowledged report."""

    def __init__(self, node, tmp, i, servers):
        self.node = node
        self.root = scenario.compose(tmp / "roots", f"load-{i:02d}",
                                     mta=None, logins=False)
        self.status = self.root / "var" / "lib" / "dpkg" / "status"
        self.base = self.status.read_text().rstrip("\n") + "\n\n"
        self.state = tmp / f"state-{i:02d}"
        self.servers = servers
        self.runs = []          # (seq, returncode, stderr, time)
        self.acked = []         # the sequence numbers that got a 2xx

    def run(self, n):
        self.status.write_text(self.base + seq_stanza(n))
        r = self.node.agent("--once", "--server", self.servers,
                            root=self.root, state=self.state, timeout=60)
        self.runs.append((n, r.returncode, r.stderr.strip(), time.time()))
        if r.returncode == 0:
            self.acked.append(n)
        return r.returncode

    def loop(self, stop, give_up):
        """Reports until stop is set, then on until one is acknowledged
        (so the last report sent is the last acknowledged one), or until
        give_up."""
        n = 0
        while True:
            n += 1
            rc = self.run(n)
            if stop.is_set() and rc == 0:
                return
            if time.time() > give_up:
                return
            time.sleep(0.05)

    def agent_id(self):
        return (self.state / "agent-id").read_text().strip()


def test_twenty_agents_report_through_both_while_one_node_dies(
        make_server, tmp_path):
    silent = 3
    one, two = two_nodes(make_server, tmp_path, silent_after=f"{silent}s")
    nodes = [one, two]
    assert wait_for(lambda: len(leaders(nodes)) == 1, 3 * EVERY)
    lead = leaders(nodes)[0]
    survivor = two if lead is one else one
    orders = (f"{lead.url} {survivor.url}", f"{survivor.url} {lead.url}")
    agents = [LoadAgent(one, tmp_path, i, orders[i % 2]) for i in range(20)]
    stop = threading.Event()
    give_up = time.time() + 90
    threads = [threading.Thread(target=a.loop, args=(stop, give_up))
               for a in agents]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        # A host that reports once now and then never again.
        quiet = Host(survivor)
        status, body, _ = quiet.send(quiet.report())
        assert status == 200, body
        heard = time.time()
        lead.proc.send_signal(signal.SIGKILL)
        lead.proc.wait()
        lead.proc = None
        killed = time.time()
        assert wait_for(lambda: healthz(survivor)["leader"], 3 * EVERY)
        took_lead = time.time() - killed
        time.sleep(max(0.0, killed + 2.5 - time.time()))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    # The survivor led within one period (and the ask's second) of the
    # death, under the load.
    assert took_lead <= EVERY + 2, took_lead

    def found():
        status, body, _ = survivor.api(
            "GET", f"/findings?host={quiet.id}&status=open")
        assert status == 200, body
        return [f for f in body["items"] if f["rule"] == "silent-host"]

    # Due silent_after (and its second) after its report: the survivor's
    # next pass after that raises it.
    assert wait_for(found, silent + 1 + EVERY + 3)
    raised = time.time() - heard
    assert raised <= silent + 1 + EVERY + 3, raised

    before = after = 0
    for a in agents:
        codes = {rc for _, rc, _, _ in a.runs}
        # Acknowledged, or failed over to the end of both (never a token
        # refused, never a bad usage).
        assert codes <= {0, 1}, a.runs
        assert a.runs[-1][1] == 0, a.runs[-3:]
        before += sum(1 for _, rc, _, t in a.runs if rc == 0 and t < killed)
        after += sum(1 for _, rc, _, t in a.runs if rc == 0 and t > killed)
        host = host_of(survivor, a.agent_id())
        # The last acknowledged report is what the survivor shows.
        st, pk, _ = survivor.section(host["id"], "packages")
        assert st == 200, pk
        seq = [p["version"] for p in pk["items"] if p["name"] == SEQ]
        assert seq == [f"{a.acked[-1]}-1"], (seq, a.acked[-5:])
        # And every acknowledged one is in its history.
        st, body, _ = survivor.api("GET",
                                   f"/hosts/{host['id']}/changes?limit=1000")
        assert st == 200, body
        assert not body.get("next_cursor"), "more history than one page"
        # A change's old is the report before it: the host's first
        # report (no change of its own) is the oldest change's old.
        stored = set()
        for c in body["items"]:
            if c["section"] == "packages" and c["key"].startswith(SEQ + ":"):
                stored |= {(c[k] or {}).get("version") for k in ("old", "new")}
        missing = [n for n in a.acked if f"{n}-1" not in stored]
        assert not missing, (missing, sorted(stored)[:10])
    assert before >= 20 and after >= 20, (before, after)
    print(f"took the lead {took_lead:.1f}s after the kill, silent-host "
          f"{raised:.1f}s after the last report; acknowledged "
          f"{before} before and {after} after the kill, "
          f"{sum(len(a.runs) for a in agents)} runs")
