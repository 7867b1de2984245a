"""The agent's --print against the machine's own tools: ports against
`ss -H -tulpn`, packages against dpkg-query, with listeners of known
owners started here (TCP and UDP, IPv4 and IPv6)."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import AGENT


LISTENER = r"""
import os, socket, sys, time
socks = []
def mk(fam, kind, addr, v6only=None):
    s = socket.socket(fam, kind)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    socks.append(s)
    return s.getsockname()[1]
ports = [
    ("tcp", "0.0.0.0", mk(socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0")),
    ("tcp", "127.0.0.1", mk(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1")),
    ("udp", "0.0.0.0", mk(socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0")),
    ("tcp", "::", mk(socket.AF_INET6, socket.SOCK_STREAM, "::", 1)),
    ("tcp", "::1", mk(socket.AF_INET6, socket.SOCK_STREAM, "::1")),
    ("udp", "::", mk(socket.AF_INET6, socket.SOCK_DGRAM, "::", 0)),
]
print(" ".join(f"{p}/{a}/{n}" for p, a, n in ports), flush=True)
sys.stdin.read()
"""


def ss_listeners():
    out = subprocess.run(["ss", "-H", "-tulpn"], capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        proto, local = f[0], f[4]
        host, port = local.rsplit(":", 1)
        host = host.strip("[]").split("%")[0]
        if host.endswith("]"):
            host = host[:-1]
        host = host.lstrip("[")
        if host == "*":
            host = "::"   # ss writes a dual-stack IPv6 wildcard as *
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        found.setdefault((proto, host, int(port)), set()).update(pids)
    return found


def agent_print(*args):
    r = subprocess.run([AGENT, "--print", "--config", "/dev/null", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def listeners():
    p = subprocess.Popen([sys.executable, "-c", LISTENER],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline().split()
        yield p.pid, [(a.split("/")[0], a.split("/")[1], int(a.split("/")[2]))
                      for a in line]
    finally:
        p.kill()
        p.wait()


def test_ports_match_ss(listeners):
    pid, mine = listeners
    before = ss_listeners()
    report = agent_print()
    after = ss_listeners()
    items = report["sections"]["ports"]["items"]
    got = {(i["proto"], i["address"], i["port"]): i for i in items}
    assert len(got) == len(items), "one item per (proto, address, port)"
    stable = set(before) & set(after)
    # Everything ss saw both times is there; nothing ss never saw is.
    assert stable <= set(got), stable - set(got)
    assert set(got) <= set(before) | set(after), set(got) - (set(before) | set(after))
    for key in stable:
        pids = before[key] | after[key]
        if pids:
            assert got[key]["pid"] in pids, (key, got[key], pids)
        else:
            assert got[key]["pid"] is None, (key, got[key])
    for key in mine:
        item = got[key]
        assert item["pid"] == pid
        assert item["process"].startswith("python3")
        assert item["exe"] == os.path.realpath(sys.executable)
        assert item["user"] == "root" if os.getuid() == 0 else item["user"]


def test_packages_match_dpkg_query():
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Architecture}|${Version}|${source:Package}|${source:Version}\n"],
        capture_output=True, text=True, check=True).stdout
    want = {}
    for line in out.splitlines():
        abbrev, name, arch, version, src, srcver = line.split("|")
        # Status "installed" without an error flag; "ii", and also held
        # ("hi") or to-be-removed ("ri") packages that are still installed.
        if len(abbrev) >= 2 and abbrev[1] == "i" and abbrev[2:3] in ("", " "):
            want[(name, arch)] = (version, src, srcver)
    report = agent_print()
    sec = report["sections"]["packages"]
    assert "error" not in sec
    got = {(i["name"], i["arch"]): (i["version"], i["source"], i["source_version"])
           for i in sec["items"]}
    assert got == want
    assert sec["manager"] == "dpkg"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sec["changed_at"])


def test_report_shape_and_hashes():
    report = agent_print("--project", "acme", "--owner", "ops@example.com")
    assert report["schema"] == 1
    assert report["host"]["project"] == "acme"
    assert report["host"]["owner"] == "ops@example.com"
    assert report["host"]["kernel"] == os.uname().release
    for name in ("ports", "services", "processes", "packages", "logins"):
        sec = report["sections"][name]
        assert re.fullmatch(r"[0-9a-f]{64}", sec["hash"])
        assert isinstance(sec["items"], list)
    # Processes: this test's own interpreter is among them, counted.
    procs = report["sections"]["processes"]["items"]
    assert any(p["exe"] == os.path.realpath(sys.executable) and p["count"] >= 1
               for p in procs)
    # Two runs in a row give the same packages hash: stable ordering.
    again = agent_print()
    assert again["sections"]["packages"]["hash"] == report["sections"]["packages"]["hash"]


def test_check_config_and_flags(tmp_path):
    good = tmp_path / "agent.conf"
    good.write_text("[agent]\nserver = https://derelict.example:8470\ninterval = 600\n")
    r = subprocess.run([AGENT, "--config", str(good), "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("[agent]\nserver = http://x\n\ninterval = soon\n")
    r = subprocess.run([AGENT, "--config", str(bad), "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{bad}:4: interval:" in r.stderr
    r = subprocess.run([AGENT, "--config", str(tmp_path / "missing.conf"), "--print"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "missing.conf" in r.stderr
    r = subprocess.run([AGENT, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for flag in ("--print", "--once", "--daemon", "--root", "--server",
                 "--enroll-secret-file", "--state-dir", "--project", "--owner",
                 "--ca-file", "--interval", "exit codes"):
        assert flag in r.stdout
    r = subprocess.run([AGENT, "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([AGENT, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("derelict-agent ")


def test_print_writes_no_state(tmp_path):
    state = tmp_path / "state"
    agent_print("--state-dir", str(state))
    assert not state.exists()


def test_once_server_away_fails_fast(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x\n")
    t = time.time()
    r = subprocess.run([AGENT, "--config", "/dev/null", "--once",
                        "--server", "http://127.0.0.1:1",
                        "--enroll-secret-file", str(secret),
                        "--state-dir", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1
    assert "enroll" in r.stderr
    assert time.time() - t < 15
