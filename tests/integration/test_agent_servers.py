"""An agent whose `server` lists several nodes: it reports to the first
that answers, starts the next run from the one that answered last, and
passes over a node that gives no answer or answers 503."""
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import AGENT


class Silent:
    """A port that accepts and closes at once, counting the connections:
    a node whose daemon is gone behind its load balancer."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.count = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            c.close()


class Busy(BaseHTTPRequestHandler):
    """A node that answers 503 to everything."""
    hits = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        Busy.hits += 1
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        body = b'{"error":{"code":"unavailable","message":"busy"}}'
        self.send_response(503)
        self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(server, state, servers):
    return server.agent("--server", " ".join(servers), state=state)


def test_reports_to_the_first_node_that_answers(server, tmp_path):
    dead = Silent()
    state = tmp_path / "state"
    r = run(server, state, [dead.url, server.url])
    assert r.returncode == 0, r.stderr
    assert dead.count >= 1
    assert (state / "server").read_text().strip() == server.url
    st, body, _ = server.api("GET", "/hosts")
    assert st == 200 and body["total"] == 1

    # The next run starts from the node that answered: no detour.
    before = dead.count
    r = run(server, state, [dead.url, server.url])
    assert r.returncode == 0, r.stderr
    assert dead.count == before

    # That node gone too: the agent tries it, then the others, and fails
    # as without an answer (its state stays what it was).
    server.stop()
    r = run(server, state, [dead.url, server.url])
    assert r.returncode != 0
    assert dead.count > before
    assert (state / "server").read_text().strip() == server.url


def test_a_busy_node_is_passed_over(server, tmp_path):
    busy = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=busy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{busy.server_address[1]}"
        state = tmp_path / "state"
        r = run(server, state, [url, server.url])
        assert r.returncode == 0, r.stderr
        assert Busy.hits >= 1
        assert (state / "server").read_text().strip() == server.url
    finally:
        busy.shutdown()


def test_server_list_is_checked(tmp_path):
    conf = tmp_path / "agent.conf"
    conf.write_text("[agent]\nserver = http://a.example:8470, ftp://b.example\n")
    r = subprocess.run([AGENT, "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert 'server: expected an http:// or https:// URL: "ftp://b.example"' in r.stderr
    many = " ".join(f"http://n{i}.example" for i in range(9))
    conf.write_text(f"[agent]\nserver = {many}\n")
    r = subprocess.run([AGENT, "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "more than 8 server URLs" in r.stderr
    conf.write_text("[agent]\nserver = http://a.example:8470 https://b.example\n")
    r = subprocess.run([AGENT, "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
