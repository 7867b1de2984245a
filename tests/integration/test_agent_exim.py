"""The story the product exists for: Exim listening on 0.0.0.0:25.  Runs a
real exim4 daemon inside a fresh network namespace and the agent in the
same namespace, and checks the agent names Exim by its executable and the
package by its version."""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import AGENT

EXIM = "/usr/sbin/exim4"

# make deps installs exim4-daemon-light and iproute2; the suite runs as root.
assert os.path.exists(EXIM), "exim4-daemon-light is missing: run make deps"


def dpkg_version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture
def exim_netns(tmp_path):
    ns = "derelict-" + uuid.uuid4().hex[:8]
    pidfile = tmp_path / "exim.pid"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    pid = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo",
                        "up"], check=True)
        # -bd daemonizes; -oX with an address sets local_interfaces (and
        # its port), -oP where the daemon writes its pid.
        subprocess.run(["ip", "netns", "exec", ns, EXIM, "-bd",
                        "-oX", "0.0.0.0.25", "-oP", str(pidfile)],
                       check=True, timeout=30)
        deadline = time.time() + 10
        while time.time() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
            time.sleep(0.05)
        pid = int(pidfile.read_text().strip())
        yield ns, pid
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_exim_on_any_address(exim_netns):
    ns, pid = exim_netns
    deadline = time.time() + 10
    while True:
        r = subprocess.run(["ip", "netns", "exec", ns, AGENT, "--print",
                            "--config", "/dev/null"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        ports = report["sections"]["ports"]["items"]
        smtp = [p for p in ports if p["port"] == 25]
        if smtp or time.time() > deadline:
            break
        time.sleep(0.1)
    # Only this namespace's sockets: exim's, nothing of the host's.
    assert smtp == [{"proto": "tcp", "address": "0.0.0.0", "port": 25,
                     "pid": pid, "process": "exim4", "exe": EXIM,
                     "user": "Debian-exim"}]
    assert all(p["pid"] == pid for p in ports)
    pkgs = {p["name"]: p for p in report["sections"]["packages"]["items"]}
    light = pkgs["exim4-daemon-light"]
    assert light["version"] == dpkg_version("exim4-daemon-light")
    assert light["source"] == "exim4"
    procs = report["sections"]["processes"]["items"]
    assert any(p["exe"] == EXIM and p["user"] == "Debian-exim" for p in procs)
