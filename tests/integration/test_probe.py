"""The SMTP probe ([probe]) with real parts in network namespaces of the
test's own: derelictd in one, an enrolled host running exim on 0.0.0.0:25
(relaying for anyone) in a second, an exim nobody enrolled in a third, all
joined by veth pairs to the server's namespace.  The test reaches the API
from inside the server's namespace (curl); nothing leaves the namespaces
it makes."""
import base64
import json
import os
import pathlib
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import uuid

import pytest

from conftest import AGENT, DERELICTD, ENGINE, ROOT, fresh_database, wait_for, \
    pg_cluster
from test_alertmanager import ALERTMANAGER
from test_notify_webhooks import verifier  # noqa: F401 (a fixture)

EXIM = "/usr/sbin/exim4"
NFT = "/usr/sbin/nft"
assert os.path.exists(EXIM), "exim4-daemon-light is missing: run make deps"
assert os.path.exists(NFT), "nftables is missing: run make deps"


def run(*cmd, check=True, timeout=60, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True,
                          text=True, timeout=timeout, **kw)


def ns_run(ns, *cmd, **kw):
    return run("ip", "netns", "exec", ns, *cmd, **kw)


class Net:
    """Namespaces joined to the server's by one veth pair each."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.names = []
        self.server = self.add("s")

    def add(self, role):
        ns = f"dp{role}-{self.tag}"
        run("ip", "netns", "add", ns)
        self.names.append(ns)
        ns_run(ns, "ip", "link", "set", "lo", "up")
        return ns

    def link(self, ns, subnet, extra=(), v6=None):
        """veth between the server's namespace (.1) and ns (.2) on
        10.X.Y.0/24; extra addresses go on ns's end, routed from the
        server's.  With v6 ("fd00:X:Y"), X::1 and X::2 on X::/64 too
        (nodad: usable at once); with subnet None, IPv6 only, and X::2
        is returned."""
        self.links = getattr(self, "links", 0) + 1
        i = self.links
        a, b = f"vs{i}{self.tag}", f"vp{i}{self.tag}"
        run("ip", "link", "add", a, "netns", self.server, "type", "veth",
            "peer", "name", b, "netns", ns)
        if subnet:
            ns_run(self.server, "ip", "addr", "add", f"{subnet}.1/24", "dev",
                   a)
            ns_run(ns, "ip", "addr", "add", f"{subnet}.2/24", "dev", b)
        if v6:
            ns_run(self.server, "ip", "-6", "addr", "add", f"{v6}::1/64",
                   "dev", a, "nodad")
            ns_run(ns, "ip", "-6", "addr", "add", f"{v6}::2/64", "dev", b,
                   "nodad")
        ns_run(self.server, "ip", "link", "set", a, "up")
        ns_run(ns, "ip", "link", "set", b, "up")
        for x in extra:
            ns_run(ns, "ip", "addr", "add", x, "dev", b)
            ns_run(self.server, "ip", "route", "add", x.split("/")[0], "dev", a)
        if not subnet:
            return f"{v6}::2"
        ns_run(ns, "ip", "route", "add", "default", "via", f"{subnet}.1")
        return f"{subnet}.2"

    def close(self):
        for ns in self.names:
            pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run("ip", "netns", "del", ns, check=False)


class Derelictd:
    """derelictd inside the server's namespace, its API through curl
    there."""

    def __init__(self, ns, addr, tmp, probe, rules=None, extra=()):
        self.ns, self.addr, self.tmp = ns, addr, tmp
        self.port = 8470
        self.url = f"http://{addr}:{self.port}"
        self.secret = tmp / "enroll-secret"
        self.secret.write_text("probe-secret-" + uuid.uuid4().hex + "\n")
        os.chmod(self.secret, 0o600)
        lines = ["[server]", f"listen = {addr}:{self.port}",
                 *database_lines(tmp),
                 f"enroll_secret_file = {self.secret}",
                 f"advisories_file = {ROOT / 'data' / 'advisories.json'}",
                 f"eol_file = {ROOT / 'data' / 'eol.json'}",
                 "advisories_url =", "", "[rules]", "evaluate_every = 1s"]
        lines += [f"{k} = {v}" for k, v in (rules or {}).items()]
        self.lines = lines + ["", *extra]
        self.conf = tmp / "derelictd.conf"
        self.logpath = tmp / "derelictd.log"
        self.write_conf(probe)
        self.token = run(DERELICTD, "--config", str(self.conf), "token", "add",
                         "t", "--role", "admin").stdout.strip()
        self.start(probe)

    def write_conf(self, probe):
        lines = self.lines + ["", "[probe]"] + \
            [f"{k} = {v}" for k, v in probe.items()]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, probe):
        self.write_conf(probe)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, DERELICTD, "--config",
             str(self.conf)],
            stdout=open(self.logpath, "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: self.api("/healthz")[0] == 200, 20, "healthz")

    def api(self, path):
        r = ns_run(self.ns, "curl", "-s", "-m", "20", "-w", "\n%{http_code}",
                   "-H", f"Authorization: Bearer {self.token}",
                   self.url + "/api/v1" + path, check=False)
        body, _, code = r.stdout.rpartition("\n")
        try:
            return int(code), json.loads(body) if body else None
        except ValueError:
            return 0, None

    def log(self):
        return self.logpath.read_text(errors="replace")

    def rounds(self):
        return self.log().count("probe: round done")

    def new_round(self, timeout=60):
        """Starts a round (SIGHUP) and waits until it is done."""
        n = self.rounds()
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.rounds() > n, timeout, "a probe round")

    def agent(self, ns, state):
        state.mkdir(exist_ok=True)
        return ns_run(ns, AGENT, "--config", "/dev/null", "--server",
                      self.url, "--enroll-secret-file", str(self.secret),
                      "--state-dir", str(state), check=False)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def database_lines(tmp):
    """[server] lines of the database: a SQLite file, or with
    DERELICT_TEST_ENGINE=postgresql a fresh database of the session's
    cluster through its unix socket (the cluster's TCP port is on the
    loopback of the test's own namespace, which the server's cannot
    reach)."""
    if ENGINE != "postgresql":
        return [f"database = {tmp / 'derelict.db'}"]
    name = fresh_database().rsplit("/", 1)[1]
    c = pg_cluster()
    return [f"database = postgresql://derelict@/{name}?host={c.dir}"
            f"&port={c.port}", f"state_dir = {tmp}"]


def exim_version():
    m = re.match(r"Exim version (\S+)", run(EXIM, "-bV").stdout)
    return m.group(1)


class Exim:
    """An exim4 daemon in ns on 0.0.0.0:25 (or interfaces, an exim list)
    with a configuration and spool of its own: with relay, it takes any
    recipient (an open relay) and would drop whatever it received."""

    def __init__(self, ns, relay, name, interfaces="0.0.0.0"):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="derelict-exim-"))
        os.chmod(self.dir, 0o755)
        for d in ("spool", "log"):
            (self.dir / d).mkdir()
            u = pwd.getpwnam("Debian-exim")
            os.chown(self.dir / d, u.pw_uid, u.pw_gid)
        acl_rcpt = "accept" if relay else "deny message = relay not permitted"
        self.conf = self.dir / "exim.conf"
        self.conf.write_text(textwrap.dedent(f"""\
            primary_hostname = {name}
            daemon_smtp_ports = 25
            local_interfaces = {interfaces}
            spool_directory = {self.dir}/spool
            log_file_path = {self.dir}/log/%slog
            pid_file_path = {self.dir}/exim.pid
            exim_user = Debian-exim
            exim_group = Debian-exim
            host_lookup =
            acl_smtp_rcpt = acl_rcpt
            begin acl
            acl_rcpt:
              {acl_rcpt}
            begin routers
            drop:
              driver = redirect
              data = :blackhole:
            begin transports
            """))
        ns_run(ns, EXIM, "-C", str(self.conf), "-bd", timeout=30)
        pidfile = self.dir / "exim.pid"
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                 10, "exim's pid")
        self.pid = int(pidfile.read_text().strip())

    def queue(self):
        return int(run(EXIM, "-C", str(self.conf), "-bpc").stdout.strip())

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(self.pid, 0)
                time.sleep(0.05)
        except ProcessLookupError:
            pass

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


LISTENER = textwrap.dedent("""\
    # Counts every connection: time, the address it came to, and how many
    # were open to that address at once.  Speaks a little SMTP, except to
    # SILENT, which it accepts and never answers.
    import json, socket, sys, threading, time
    port, out, silent = int(sys.argv[1]), open(sys.argv[2], "a"), sys.argv[3]
    bind = sys.argv[4]
    lock, open_to = threading.Lock(), {}
    def serve(c, local):
        with lock:
            open_to[local] = open_to.get(local, 0) + 1
            out.write(json.dumps({"t": time.monotonic(), "to": local,
                                  "open": open_to[local]}) + "\\n")
            out.flush()
        try:
            if local == silent:
                c.settimeout(60)
                c.recv(1)
                return
            f = c.makefile("rwb")
            f.write(b"220 counter.example ESMTP ready\\r\\n"); f.flush()
            for line in f:
                if line.upper().startswith(b"QUIT"):
                    f.write(b"221 bye\\r\\n"); f.flush(); break
                f.write(b"250 ok\\r\\n"); f.flush()
        except OSError:
            pass
        finally:
            with lock:
                open_to[local] -= 1
            c.close()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port)); s.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, c.getsockname()[0]),
                         daemon=True).start()
    """)


def listener(ns, tmp, port, silent="", bind="0.0.0.0"):
    script = tmp / "listener.py"
    script.write_text(LISTENER)
    out = tmp / f"accepts-{port}.jsonl"
    out.touch()
    p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3",
                          str(script), str(port), str(out), silent, bind],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p, out


def accepts(out):
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture
def net():
    n = Net()
    yield n
    n.close()


@pytest.fixture
def tmp():
    d = pathlib.Path(tempfile.mkdtemp(prefix="derelict-probe-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def host_ports(d, host_id):
    status, page = d.api(f"/hosts/{host_id}/ports?limit=1000")
    assert status == 200, page
    return {(p["address"], p["port"]): p for p in page["items"]}


def test_probe_enrolled_unenrolled_relay_and_firewall(net, tmp):
    enrolled = net.add("a")
    stranger = net.add("b")
    a_ip = net.link(enrolled, "10.213.1", extra=["10.213.9.2/32"])
    b_ip = net.link(stranger, "10.213.2")
    relay = Exim(enrolled, relay=True, name="relay.example")
    other = Exim(stranger, relay=False, name="forgotten.example")
    first_other = other
    # Something more of the enrolled host's on an SMTP port, at an
    # address outside networks: the probe must never connect to it.
    outside, outside_log = listener(enrolled, tmp, 2525, bind="10.213.9.2")
    d = Derelictd(net.server, "10.213.1.1", tmp,
                  {"enabled": "true",
                   "networks": "10.213.1.0/30, 10.213.2.0/30",
                   "rate": "20", "timeout": "3s", "relay_test": "true"})
    try:
        # The first round, at start-up, knows no host yet.
        wait_for(lambda: d.rounds() >= 1, 60, "the first round")
        # Both exims answer then, neither enrolled.
        status, disc = d.api("/discovered")
        assert sorted(x["address"] for x in disc["items"]) == [a_ip, b_ip]
        r = d.agent(enrolled, tmp / "state-a")
        assert r.returncode == 0, r.stderr
        status, hosts = d.api("/hosts")
        assert status == 200 and hosts["total"] == 1
        host_id = hosts["items"][0]["id"]
        ports = host_ports(d, host_id)
        assert ("0.0.0.0", 25) in ports
        assert "reachable" not in ports[("0.0.0.0", 25)]

        d.new_round()
        ports = host_ports(d, host_id)
        p25 = ports[("0.0.0.0", 25)]
        assert p25["exposed"] is True and p25["reachable"] is True
        # Not probed: outside networks, it has no verdict.
        assert "reachable" not in ports[("10.213.9.2", 2525)]
        assert accepts(outside_log) == []
        status, h = d.api(f"/hosts/{host_id}")
        assert status == 200
        probed = {(x["address"], x["port"]): x for x in h["probe"]}
        # Exim answers at 10.213.9.2 too, but that is outside networks.
        assert set(probed) == {(a_ip, 25)}
        mine = probed[(a_ip, 25)]
        assert mine["reachable"] is True and mine["open_relay"] is True
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", mine["probed_at"])
        assert mine["banner"].startswith("220 relay.example ESMTP Exim ")
        assert "PIPELINING" in mine["capabilities"].split()
        status, f = d.api(f"/findings?host={host_id}&rule=open-relay")
        assert status == 200 and f["total"] == 1, f
        assert f["items"][0]["severity"] == "critical"
        assert f["items"][0]["status"] == "open"
        # The relay test sent no message: nothing was queued.
        assert relay.queue() == 0

        # The stranger: an SMTP server nobody enrolled, found by the walk;
        # the enrolled host's is no longer one.
        status, disc = d.api("/discovered")
        assert status == 200, disc
        assert [x["address"] for x in disc["items"]] == [b_ip]
        s = disc["items"][0]
        assert s["rule"] == "unenrolled-mail-server"
        assert s["status"] == "open" and s["severity"] == "high"
        assert s["banner"].startswith("220 forgotten.example ESMTP Exim ")
        assert s["version"] == "Exim " + exim_version()
        assert s["version_source"] == "banner, unconfirmed"
        assert s["open_relay"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["first_seen"])
        assert s["last_seen"] >= s["first_seen"] and s["resolved_at"] is None
        assert [p["port"] for p in s["ports"] if p["smtp"]] == [25]
        assert other.queue() == 0

        # A firewall in the enrolled host's namespace drops port 25: the
        # port is still exposed, but no longer reachable, and the relay
        # can no longer be tested from here.
        ns_run(enrolled, NFT, "add table inet probe_test ; "
               "add chain inet probe_test input { type filter hook input "
               "priority 0 ; } ; add rule inet probe_test input tcp dport "
               "25 drop")
        d.new_round()
        p25 = host_ports(d, host_id)[("0.0.0.0", 25)]
        assert p25["exposed"] is True and p25["reachable"] is False
        status, h = d.api(f"/hosts/{host_id}")
        mine = {(x["address"], x["port"]): x for x in h["probe"]}[(a_ip, 25)]
        assert mine["reachable"] is False and "timeout" in mine["error"]
        status, f = d.api(f"/findings?host={host_id}&rule=open-relay"
                          "&status=resolved")
        assert status == 200 and f["total"] == 1, f

        # The stranger stops answering: its finding resolves, once.
        other.stop()
        d.new_round()
        status, disc = d.api("/discovered")
        assert status == 200 and disc["items"] == []
        status, disc = d.api("/discovered?status=resolved")
        assert {x["address"]: x["resolved_reason"] for x in disc["items"]} \
            == {b_ip: "stopped answering", a_ip: "enrolled"}
        assert d.api("/discovered?status=bogus")[0] == 400
        status, spec = d.api("/openapi.json")
        assert "/discovered" in spec["paths"]
        assert "open-relay" in json.dumps(spec["paths"]["/findings"])
        assert accepts(outside_log) == []

        # Switched off, the probe leaves no verdict behind: the ports lose
        # "reachable", and what it found is resolved.
        ns_run(enrolled, NFT, "delete table inet probe_test")
        other = Exim(stranger, relay=False, name="back.example")
        d.new_round()
        status, disc = d.api("/discovered")
        assert status == 200 and [x["banner"].split()[1]
                                  for x in disc["items"]] == ["back.example"]
        assert host_ports(d, host_id)[("0.0.0.0", 25)]["reachable"] is True
        status, f = d.api(f"/findings?host={host_id}&rule=open-relay"
                          "&status=open")
        assert status == 200 and f["total"] == 1, f
        assert d.stop() == 0
        d.start({"enabled": "false"})
        status, disc = d.api("/discovered?status=all")
        assert [x["resolved_reason"] for x in disc["items"]][0] == "probe off"
        assert relay.queue() == 0
        assert "reachable" not in host_ports(d, host_id)[("0.0.0.0", 25)]
        status, h = d.api(f"/hosts/{host_id}")
        assert h["probe"] == []
        status, f = d.api(f"/findings?host={host_id}&rule=open-relay"
                          "&status=open")
        assert status == 200 and f["total"] == 0, f
        assert "probe: SMTP" not in d.log().split("stopped")[-1]
    finally:
        rc = d.stop()
        outside.kill()
        relay.remove()
        other.remove()
        first_other.remove()
    assert rc == 0, d.log()


def test_probe_rate_one_per_address_and_a_silent_peer(net, tmp):
    many = net.add("c")
    addrs = [f"10.214.1.{i}" for i in range(2, 15)]
    net.link(many, "10.214.1", extra=[f"{a}/32" for a in addrs[1:]])
    silent = addrs[-1]
    counter, log = listener(many, tmp, 25, silent=silent)
    rate = 4
    d = Derelictd(net.server, "10.214.1.1", tmp,
                  {"enabled": "true", "networks": "10.214.1.0/28",
                   "rate": str(rate), "timeout": "4s"},
                  rules={"smtp_ports": "25"})
    try:
        # The first round starts at start-up.
        wait_for(lambda: d.rounds() >= 1, 60, "the first round")
        seen = accepts(log)
        # Every address of the /28 but its network and broadcast
        # addresses and the server's own: one connection each.
        assert sorted(x["to"] for x in seen) == sorted(addrs)
        assert max(x["open"] for x in seen) == 1
        # Accept times, so a loaded machine may bunch a few: without the
        # rate all 13 would come within a fraction of a second.
        times = sorted(x["t"] for x in seen)
        for i, t in enumerate(times):
            in_a_second = [u for u in times[i:] if u - t < 1.0]
            assert len(in_a_second) <= rate + 2, times
        assert times[-1] - times[0] >= (len(times) - 1) / rate * 0.6, times
        status, disc = d.api("/discovered?limit=100")
        assert status == 200
        found = {x["address"] for x in disc["items"]}
        # The silent one answered no greeting: not an SMTP server.
        assert found == set(addrs) - {silent}
        m = re.findall(r"probe: round done in (\d+)s", d.log())
        # 13 connections at 4 a second, and the silent peer's one timeout
        # of 4s: not a stuck thread.
        assert int(m[0]) <= 13 / rate + 4 + 3, d.log()
    finally:
        rc = d.stop()
        counter.kill()
    assert rc == 0, d.log()


def test_probe_refuses_an_ipv6_range_too_wide_to_walk(tmp):
    """A /64 cannot be walked: derelictd refuses to start, naming the
    widest IPv6 range it walks; a /112 beside IPv4 is taken."""
    (tmp / "s").write_text("probe-secret-" + uuid.uuid4().hex + "\n")
    os.chmod(tmp / "s", 0o600)

    def check(networks):
        (tmp / "c.conf").write_text(
            f"[server]\nlisten = 127.0.0.1:1\ndatabase = {tmp / 'db'}\n"
            f"enroll_secret_file = {tmp / 's'}\n[probe]\nenabled = true\n"
            f"networks = {networks}\n")
        return run(DERELICTD, "--config", str(tmp / "c.conf"),
                   "--check-config", check=False)

    r = check("10.0.0.0/24, 2001:db8:1::/64")
    assert r.returncode != 0
    assert "c.conf:7: networks: an IPv6 range is walked" in r.stderr, r.stderr
    assert "a /112 (65536 addresses) at most" in r.stderr, r.stderr
    r = check("fe80::/120")
    assert r.returncode != 0 and "link-local" in r.stderr, r.stderr
    r = check("10.0.0.0/24, 2001:db8:1::/112")
    assert r.returncode != 0 and "65536" in r.stderr, r.stderr
    r = check("10.0.0.0/24, 2001:db8:1::/120")
    assert r.returncode == 0, r.stderr


def test_probe_ipv6(net, tmp):
    """IPv6 beside IPv4 in one networks list: an exim nobody enrolled on
    a link with no IPv4 at all is found, with its banner, at its address
    as inet_ntop writes it; an enrolled host's exim on [::]:25 is probed
    at its IPv4 and IPv6 addresses (never its link-local one) and is
    reachable on IPv6 while a firewall there drops its IPv4 port; a
    listener of the host's on 0.0.0.0 is probed at its IPv4 address
    only."""
    enrolled = net.add("e")
    stranger = net.add("f")
    a_ip = net.link(enrolled, "10.216.1", v6="fd00:216:1")
    a6 = "fd00:216:1::2"
    b6 = net.link(stranger, None, v6="fd00:216:2")
    mine = Exim(enrolled, relay=False, name="dual.example",
                interfaces="<; ::0")
    other = Exim(stranger, relay=False, name="v6only.example",
                 interfaces="<; ::0")
    ns_run(enrolled, NFT, "add table inet probe6 ; add chain inet probe6 "
           "input { type filter hook input priority 0 ; } ; add rule inet "
           "probe6 input meta nfproto ipv4 tcp dport 25 drop")
    # Written long-hand and unmasked: the ranges are parsed, not compared
    # as text.  Two /124s and a /30: 36 addresses a round.
    d = Derelictd(net.server, "10.216.1.1", tmp,
                  {"enabled": "true",
                   "networks": "10.216.1.0/30, fd00:216:1::5/124 "
                               "FD00:216:2:0:0:0:0:0/124",
                   "rate": "20", "timeout": "2s"},
                  rules={"smtp_ports": "25, 2525"})
    counter = None
    try:
        wait_for(lambda: d.rounds() >= 1, 60, "the first round")
        status, disc = d.api("/discovered")
        assert status == 200, disc
        by = {x["address"]: x for x in disc["items"]}
        # Neither is enrolled yet, and only IPv6 reaches either.
        assert sorted(by) == [a6, b6], disc
        s = by[b6]
        assert s["banner"].startswith("220 v6only.example ESMTP Exim ")
        assert s["version"] == "Exim " + exim_version()
        assert s["status"] == "open" and s["severity"] == "high"
        assert [p["port"] for p in s["ports"] if p["smtp"]] == [25]

        # An IPv4-only listener beside it, started once the walk is done
        # (it is not a stranger's).
        counter, _ = listener(enrolled, tmp, 2525)
        r = d.agent(enrolled, tmp / "state-e")
        assert r.returncode == 0, r.stderr
        status, hosts = d.api("/hosts")
        assert status == 200 and hosts["total"] == 1
        host_id = hosts["items"][0]["id"]
        assert ("::", 25) in host_ports(d, host_id)
        d.new_round()
        ports = host_ports(d, host_id)
        p25 = ports[("::", 25)]
        assert p25["exposed"] is True and p25["reachable"] is True
        assert ports[("0.0.0.0", 2525)]["reachable"] is True
        status, h = d.api(f"/hosts/{host_id}")
        assert status == 200
        # The host reports a link-local address too; it is not probed
        # (it needs an interface to connect through).
        assert any(x["address"].startswith("fe80:")
                   for x in h["addresses"]), h["addresses"]
        probed = {(x["address"], x["port"]): x for x in h["probe"]}
        assert set(probed) == {(a_ip, 25), (a6, 25), (a_ip, 2525)}, \
            h["probe"]
        assert probed[(a6, 25)]["reachable"] is True
        assert probed[(a6, 25)]["banner"].startswith(
            "220 dual.example ESMTP Exim ")
        assert probed[(a_ip, 25)]["reachable"] is False
        # Enrolled, its discovered row resolves; the stranger's stays,
        # seen again.
        status, disc = d.api("/discovered")
        assert [x["address"] for x in disc["items"]] == [b6]
        again = disc["items"][0]
        assert again["id"] == s["id"] and again["first_seen"] == \
            s["first_seen"] and again["last_seen"] > s["last_seen"], disc
        status, disc = d.api("/discovered?status=resolved")
        assert {x["address"]: x["resolved_reason"]
                for x in disc["items"]} == {a6: "enrolled"}
        m = re.findall(r"probe: round done in (\d+)s", d.log())
        assert max(int(x) for x in m) <= 20, d.log()
        assert "could not be kept" not in d.log(), d.log()
        assert probed[(a_ip, 2525)]["banner"].startswith(
            "220 counter.example")
        assert mine.queue() == 0 and other.queue() == 0
    finally:
        rc = d.stop()
        if counter:
            counter.kill()
        mine.remove()
        other.remove()
    assert rc == 0, d.log()


RECEIVER = textwrap.dedent("""\
    # A webhook receiver: every POST as a JSON line {headers, body}.
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    out = open(sys.argv[2], "a")
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            out.write(json.dumps({"headers": {k.lower(): v for k, v in
                                              self.headers.items()},
                                  "body": body.decode()}) + "\\n")
            out.flush()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
    s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    print("ready", flush=True)
    s.serve_forever()
    """)


def test_unenrolled_servers_are_told_as_findings_are(net, tmp, verifier):
    """An SMTP server nobody enrolled reaches the people who can act as a
    host's finding does: a signed webhook event when it is found and when
    it goes (discovered.opened, discovered.resolved), an alert in the real
    Alertmanager with its address, and /metrics' open findings.  The
    receivers run in the server's namespace, on its loopback."""
    stranger = net.add("d")
    b_ip = net.link(stranger, "10.215.2")
    other = Exim(stranger, relay=False, name="nobody.example")
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    (tmp / "whsec").write_text(secret + "\n")
    os.chmod(tmp / "whsec", 0o600)
    (tmp / "receiver.py").write_text(RECEIVER)
    got = tmp / "webhooks.jsonl"
    got.touch()
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", net.server, "/usr/bin/python3",
         str(tmp / "receiver.py"), "9001", str(got)],
        stdout=subprocess.PIPE, text=True)
    assert receiver.stdout.readline().strip() == "ready"
    assert ALERTMANAGER, "prometheus-alertmanager is missing: make deps"
    (tmp / "am").mkdir()
    (tmp / "am" / "am.yml").write_text(
        'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    am = subprocess.Popen(
        ["ip", "netns", "exec", net.server, ALERTMANAGER,
         f"--config.file={tmp / 'am' / 'am.yml'}",
         f"--storage.path={tmp / 'am' / 'data'}",
         "--web.listen-address=127.0.0.1:9093", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def am_alerts():
        r = ns_run(net.server, "curl", "-sf", "-m", "10",
                   "http://127.0.0.1:9093/api/v2/alerts", check=False)
        if r.returncode != 0:
            return None
        return [a for a in json.loads(r.stdout) if a["labels"].get(
            "alertname") == "derelict_unenrolled_mail_server"]

    def events():
        return [json.loads(line) for line in got.read_text().splitlines()]

    wait_for(lambda: am_alerts() is not None, 30, "alertmanager")
    d = Derelictd(net.server, "10.215.2.1", tmp,
                  {"enabled": "true", "networks": "10.215.2.0/30",
                   "rate": "20", "timeout": "3s"},
                  extra=["[notify]",
                         "alertmanager_url = http://127.0.0.1:9093",
                         "", "[webhook ops]", "url = http://127.0.0.1:9001/h",
                         f"secret_file = {tmp / 'whsec'}"])
    try:
        wait_for(lambda: d.rounds() >= 1, 60, "the first round")
        status, disc = d.api("/discovered")
        assert [x["address"] for x in disc["items"]] == [b_ip]
        wait_for(lambda: events(), 30, "the webhook event")
        ev = events()
        assert [json.loads(e["body"])["type"] for e in ev] == \
            ["discovered.opened"]
        body = json.loads(ev[0]["body"])
        assert body["data"]["discovered"]["address"] == b_ip
        assert body["data"]["discovered"]["rule"] == "unenrolled-mail-server"
        assert body["data"]["discovered"]["severity"] == "high"
        assert body["data"]["discovered"]["banner"].startswith(
            "220 nobody.example ESMTP Exim ")
        assert body["data"]["link"].startswith("http://10.215.2.1:8470")
        assert [v["ok"] for v in verifier(secret, ev)] == [True]
        alerts = wait_for(am_alerts, 30, "the alert")
        assert len(alerts) == 1
        assert alerts[0]["labels"]["address"] == b_ip
        assert alerts[0]["labels"]["severity"] == "high"
        assert alerts[0]["labels"]["rule"] == "unenrolled-mail-server"
        assert "host_id" not in alerts[0]["labels"]
        assert b_ip in alerts[0]["annotations"]["summary"]
        r = ns_run(net.server, "curl", "-sf", "-H",
                   f"Authorization: Bearer {d.token}",
                   d.url + "/api/v1/metrics")
        assert re.search(r'^derelict_findings_open\{rule="unenrolled-mail-'
                         r'server",severity="high"\} 1$', r.stdout, re.M), \
            r.stdout

        # Seen again: no second event.  Gone: resolved, once.
        d.new_round()
        other.stop()
        d.new_round()
        wait_for(lambda: len(events()) >= 2, 30, "the resolved event")
        time.sleep(1)
        kinds = [json.loads(e["body"])["type"] for e in events()]
        assert kinds == ["discovered.opened", "discovered.resolved"]
        last = json.loads(events()[1]["body"])["data"]["discovered"]
        assert last["status"] == "resolved"
        assert last["resolved_reason"] == "stopped answering"
        assert [v["ok"] for v in verifier(secret, events())] == [True] * 2
        wait_for(lambda: am_alerts() == [], 30, "the alert's end")
    finally:
        rc = d.stop()
        other.remove()
        receiver.kill()
        am.kill()
    assert rc == 0, d.log()
