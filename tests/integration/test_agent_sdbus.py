"""services through sd-bus: a private dbus-daemon with python-dbusmock
serving systemd's Manager (ListUnits and ListUnitFiles, a few hundred
units) and the units' objects with their UnitFileState and MainPID, and a
fake root that has run/systemd/system."""
import json
import os
import subprocess
import time

import pytest

from conftest import AGENT

NUNITS = 300

TEMPLATE = '''
"""systemd Manager with bulk ListUnits/ListUnitFiles for derelict tests."""
BUS_NAME = "org.freedesktop.systemd1"
MAIN_OBJ = "/org/freedesktop/systemd1"
MAIN_IFACE = "org.freedesktop.systemd1.Manager"
SYSTEM_BUS = True


import dbus
import dbusmock

UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"


def add_unit(mock, path, file_state, main_pid):
    mock.AddObject(path, UNIT_IFACE, {"UnitFileState": file_state}, [])
    dbusmock.mockobject.objects[path].AddProperties(
        SERVICE_IFACE, {"MainPID": dbus.UInt32(main_pid)})


def load(mock, parameters):
    n = int(parameters.get("units", 300))
    units, files = [], []
    for i in range(n):
        name = "unit-%d.service" % i
        path = "/org/freedesktop/systemd1/unit/u%d" % i
        active, sub = ("active", "running") if i % 3 else ("inactive", "dead")
        units.append((name, "Unit %d" % i, "loaded", active, sub, "",
                      path, 0, "", "/"))
        state = ""
        if i % 5:
            state = "enabled" if i % 2 else "disabled"
            files.append(("/lib/systemd/system/" + name, state))
        add_unit(mock, path, state, 777 if i == 7 else 0)
    units.append(("getty@tty1.service", "Getty", "loaded", "active",
                  "running", "", "/org/freedesktop/systemd1/unit/g", 0, "", "/"))
    files.append(("/lib/systemd/system/getty@.service", "enabled"))
    add_unit(mock, "/org/freedesktop/systemd1/unit/g", "enabled", 901)
    # As Debian 12's systemd showed it: the instance's master runs, but
    # postfix@-.service is Type=forking without a PIDFile, so MainPID=0;
    # the template file alone would say "indirect".
    units.append(("postfix@-.service", "Postfix Mail Transport Agent (-)",
                  "loaded", "active", "running", "",
                  "/org/freedesktop/systemd1/unit/postfix_40_2d_2eservice",
                  0, "", "/"))
    files.append(("/lib/systemd/system/postfix@.service", "indirect"))
    add_unit(mock, "/org/freedesktop/systemd1/unit/postfix_40_2d_2eservice",
             "enabled-runtime", 0)
    # Gone between ListUnits and the property reads: no object.
    units.append(("gone.service", "Gone", "loaded", "active", "running", "",
                  "/org/freedesktop/systemd1/unit/gone", 0, "", "/"))
    mock.AddMethods(MAIN_IFACE, [
        ("ListUnits", "", "a(ssssssouso)", "ret = " + repr(units)),
        ("ListUnitFiles", "", "a(ss)", "ret = " + repr(files)),
    ])
'''


def have(path):
    return os.path.exists(path)




@pytest.fixture
def private_bus(tmp_path):
    conf = tmp_path / "bus.conf"
    sock = tmp_path / "bus.sock"
    conf.write_text(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
    bus = subprocess.Popen(["/usr/bin/dbus-daemon", "--config-file", str(conf),
                            "--nofork", "--print-address"],
                           stdout=subprocess.PIPE, text=True)
    address = bus.stdout.readline().strip()
    mock = None
    try:
        tmpl = tmp_path / "derelict_systemd.py"
        tmpl.write_text(TEMPLATE)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
        mock = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock",
                                 "--template", str(tmpl),
                                 "--parameters", json.dumps({"units": NUNITS})],
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        yield address, mock
    finally:
        if mock:
            mock.terminate()
            mock.wait(timeout=10)
        bus.terminate()
        bus.wait(timeout=10)


def fake_root(tmp_path):
    root = tmp_path / "root"
    (root / "run/systemd/system").mkdir(parents=True)
    # One service's cgroup, for the main pid.
    (root / "proc/777").mkdir(parents=True)
    (root / "proc/777/cgroup").write_text("0::/system.slice/unit-7.service\n")
    (root / "proc/778").mkdir(parents=True)
    (root / "proc/778/cgroup").write_text("0::/system.slice/unit-7.service\n")
    # Postfix's master in its instance's cgroup: not the main pid.
    (root / "proc/346").mkdir(parents=True)
    (root / "proc/346/cgroup").write_text(
        "0::/system.slice/system-postfix.slice/postfix@-.service\n")
    return root


def run_agent(root, address):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
    r = subprocess.run([AGENT, "--print", "--config", "/dev/null",
                        "--root", str(root)], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["sections"]["services"]


def test_every_unit_comes_back(tmp_path, private_bus):
    address, mock = private_bus
    root = fake_root(tmp_path)
    deadline = time.time() + 20
    while True:
        sec = run_agent(root, address)
        if sec["source"] == "systemd" or time.time() > deadline:
            break
        assert mock.poll() is None, mock.stderr.read()
        time.sleep(0.2)
    assert sec["source"] == "systemd"
    items = {i["name"]: i for i in sec["items"]}
    assert len(items) == NUNITS + 3
    assert set(items) == {f"unit-{i}.service" for i in range(NUNITS)} | {
        "getty@tty1.service", "postfix@-.service", "gone.service"}
    u1 = items["unit-1.service"]
    assert (u1["active"], u1["sub"], u1["enabled"]) == ("active", "running", "enabled")
    assert items["unit-2.service"]["enabled"] == "disabled"
    assert items["unit-3.service"]["active"] == "inactive"
    assert items["unit-5.service"]["enabled"] is None      # no unit file
    assert items["getty@tty1.service"]["enabled"] == "enabled"  # the instance's own
    assert items["unit-7.service"]["main_pid"] == 777
    assert items["unit-1.service"]["main_pid"] is None
    assert items["unit-3.service"]["main_pid"] is None
    assert items["getty@tty1.service"]["main_pid"] == 901


def test_systemd_own_main_pid_and_file_state(tmp_path, private_bus):
    """MainPID and UnitFileState as systemd gives them, not the lowest pid
    in the cgroup or the template's unit-file state."""
    address, mock = private_bus
    root = fake_root(tmp_path)
    deadline = time.time() + 20
    while True:
        sec = run_agent(root, address)
        if sec["source"] == "systemd" or time.time() > deadline:
            break
        assert mock.poll() is None, mock.stderr.read()
        time.sleep(0.2)
    items = {i["name"]: i for i in sec["items"]}
    postfix = items["postfix@-.service"]
    assert (postfix["active"], postfix["main_pid"], postfix["enabled"]) == \
        ("active", None, "enabled-runtime")
    gone = items["gone.service"]
    assert (gone["active"], gone["main_pid"], gone["enabled"]) == \
        ("active", None, None)


def test_no_bus_falls_back_to_procfs(tmp_path):
    root = fake_root(tmp_path)
    sec = run_agent(root, f"unix:path={tmp_path}/nobody-listens")
    assert sec["source"] == "procfs"
    assert "error" not in sec
