"""Every write path checks every step (issue 13): on a full disk or a file
system that turned read-only, the operators' writes (projects, hosts,
acknowledgements, tokens) answer 503 with Retry-After and change nothing,
/healthz says the store is failing until a write succeeds again, and
derelictd refuses to start on a database it cannot write.  Also the
smaller points: a long search is a 400, the section endpoints page, and
the agent does not take a 200 it cannot read as an acknowledgement."""
import json
import os
import pathlib
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse

import pytest

import scenario
from conftest import AGENT, DERELICTD, wait_for
from reports import Host


def mount_tmpfs(size):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="derelict-wp-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    return pathlib.Path(d)


@pytest.fixture
def small_disk():
    """A 4 MiB tmpfs, unmounted afterwards whatever happens."""
    d = mount_tmpfs("4m")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
        os.rmdir(d)


def fill_up(server, disk):
    """Fills the file system under the server's database.  The WAL is first
    folded back and cut to nothing (it keeps its blocks otherwise, and a
    small commit would fit in them): from then on every commit needs new
    blocks, and there are none.  Returns the filler's path."""
    con = sqlite3.connect(server.db, timeout=10)
    try:
        wait_for(lambda: con.execute(
            "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0, what="an empty WAL")
    finally:
        con.close()
    assert os.path.getsize(str(server.db) + "-wal") == 0
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def health(server):
    status, body, headers = server.api("GET", "/healthz", token=None)
    return status, body, headers


def snapshot(server, host_id, finding_id):
    """What the writes below would change, read through the API."""
    out = {}
    for path in (f"/hosts/{host_id}", "/projects?limit=1000",
                 "/projects/ended", f"/findings?host={host_id}"):
        status, body, _ = server.api("GET", path)
        assert status == 200, (path, status, body)
        out[path] = body
    out["finding"] = [f for f in out[f"/findings?host={host_id}"]["items"]
                      if f["id"] == finding_id]
    return json.dumps(out, sort_keys=True)


def a_host_with_a_finding(server):
    assert server.api("POST", "/projects", {"name": "ended",
                                            "ends_on": "2025-01-01"})[0] == 201
    host = Host(server)
    assert host.send(host.report(project="ended"))[0] == 200

    def finding():
        status, page, _ = server.api("GET", f"/findings?host={host.id}&status=open")
        return status == 200 and page["items"] and page["items"][0]
    return host, wait_for(finding, what="the finding")


def writes(host, finding):
    return [
        ("POST", "/projects", {"name": "new-project", "ends_on": "2030-01-01"}),
        ("PATCH", "/projects/ended", {"ends_on": "2031-01-01", "owner": "me"}),
        ("DELETE", "/projects/ended", None),
        ("PATCH", f"/hosts/{host.id}", {"note": "full", "retired": True,
                                        "project": None}),
        ("DELETE", f"/hosts/{host.id}", None),
        ("POST", f"/findings/{finding['id']}/ack", {"reason": "disk full test"}),
    ]


def server_on(make_server, disk):
    """A server whose database is on disk (Server.db follows it)."""
    server = make_server(database=str(disk / "derelict.db"))
    server.db = disk / "derelict.db"
    return server


@pytest.mark.sqlite_only
def test_full_disk_writes_answer_503_change_nothing_and_recover(make_server, small_disk):
    server = server_on(make_server, small_disk)
    host, finding = a_host_with_a_finding(server)
    time.sleep(1.5)  # the evaluation rounds after the report have run
    before = snapshot(server, host.id, finding["id"])
    assert health(server)[0] == 200

    filler = fill_up(server, small_disk)
    for method, path, body in writes(host, finding):
        status, reply, headers = server.api(method, path, body)
        assert status == 503, (method, path, status, reply)
        assert reply["error"]["code"] == "disk_full", reply
        assert int(headers["Retry-After"]) > 0
    # The store says so, and reading goes on.
    status, body, headers = health(server)
    assert status == 503, body
    assert body["status"] == "failing" and body["reason"] == "disk_full", body
    assert body["message"] and body["since"].endswith("Z")
    assert int(headers["Retry-After"]) > 0
    assert snapshot(server, host.id, finding["id"]) == before
    assert server.proc.poll() is None

    # Space comes back: the same writes go through, without a restart, and
    # /healthz is ok again once one of them committed.
    filler.unlink()
    status, reply, _ = server.api("PATCH", f"/hosts/{host.id}", {"note": "back"})
    assert status == 200 and reply["note"] == "back", reply
    # (The checkpointer, should it have failed too, tries every second.)
    wait_for(lambda: health(server)[0] == 200, what="a healthy server")
    w = writes(host, finding)
    for method, path, body in [w[5], w[3], w[4], w[0], w[1], w[2]]:
        status, reply, _ = server.api(method, path, body)
        assert status in (200, 201, 204), (method, path, status, reply)
    wait_for(lambda: health(server)[0] == 200, what="a healthy server")


@pytest.mark.sqlite_only
def test_token_add_on_a_full_disk_fails_with_a_message(make_server, small_disk):
    server = server_on(make_server, small_disk)
    filler = fill_up(server, small_disk)
    r = subprocess.run([DERELICTD, "--config", str(server.conf), "token", "add",
                        "late", "--role", "viewer"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r
    assert r.stdout == ""  # no token that was never stored
    assert "token add" in r.stderr and "full" in r.stderr, r.stderr
    r = subprocess.run([DERELICTD, "--config", str(server.conf), "token",
                        "revoke", "viewer-test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "full" in r.stderr, r
    filler.unlink()
    listed = server.cli("token", "list")
    assert "late" not in listed and "viewer-test" in listed
    assert server.cli("token", "add", "late", "--role", "viewer").strip()


def start_fails(server):
    r = subprocess.run([DERELICTD, "--config", str(server.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r
    return r.stderr


@pytest.mark.sqlite_only
def test_read_only_database_at_start_is_refused(server):
    server.stop()
    # Root ignores the mode bits; the immutable attribute binds it too.
    r = subprocess.run(["chattr", "+i", str(server.db)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip("chattr +i does not work here: " + r.stderr.strip())
    try:
        err = start_fails(server)
        assert "read-only" in err and str(server.db) in err, err
        assert "refusing to start" in err, err
        assert len(err.strip().splitlines()) == 1, err
    finally:
        subprocess.run(["chattr", "-i", str(server.db)], check=True)
    server.start()
    assert health(server)[0] == 200
    assert server.api("POST", "/projects", {"name": "writable"})[0] == 201


@pytest.mark.sqlite_only
def test_read_only_mount_at_start_is_refused(make_server, small_disk):
    server = server_on(make_server, small_disk)
    server.stop()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        err = start_fails(server)
        assert str(server.db) in err and "refusing to start" in err, err
        assert "writable" in err, err
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    server.start()
    assert server.api("POST", "/projects", {"name": "writable"})[0] == 201


@pytest.fixture
def ext4_disk(tmp_path):
    """An ext4 file system on a loop device that turns read-only on an
    error, as a failing disk does (errors=remount-ro)."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    img = tmp_path / "fs.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    r = subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("no mkfs.ext4: " + r.stderr.strip())
    d = tmp_path / "mnt"
    d.mkdir()
    r = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(img), str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a loop device here: " + r.stderr.strip())
    try:
        dev = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(d)],
                             capture_output=True, text=True).stdout.strip()
        yield d, os.path.basename(dev)
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.mark.sqlite_only
def test_file_system_turning_read_only_makes_healthz_fail(make_server, ext4_disk):
    """Neither a chmod nor a remount can take write access from a process
    that holds the file open (the kernel refuses the remount while it is
    busy); a failing disk can, and then nothing recovers it but a remount,
    so here derelictd must say it is failing and refuse to start again."""
    mnt, dev = ext4_disk
    trigger = pathlib.Path(f"/sys/fs/ext4/{dev}/trigger_fs_error")
    if not trigger.exists():
        pytest.skip("this kernel has no ext4 trigger_fs_error")
    server = server_on(make_server, mnt)
    host, finding = a_host_with_a_finding(server)
    time.sleep(1.5)
    before = snapshot(server, host.id, finding["id"])
    trigger.write_text("derelict test: the disk fails\n")
    for method, path, body in writes(host, finding):
        status, reply, headers = server.api(method, path, body)
        assert status == 503, (method, path, status, reply)
        assert reply["error"]["code"] in ("storage_error", "read_only"), reply
        assert int(headers["Retry-After"]) > 0
    status, body, _ = health(server)
    assert status == 503 and body["status"] == "failing", body
    assert body["reason"] in ("storage_error", "read_only"), body
    assert snapshot(server, host.id, finding["id"]) == before
    server.stop()
    err = start_fails(server)
    assert "refusing to start" in err, err


def test_long_search_is_a_400_not_a_500(server):
    host = Host(server, hostname="searchable-host")
    assert host.send(host.report())[0] == 200
    for n in (257, 4095, 4096, 20000):
        status, body, _ = server.api("GET", "/hosts?q=" + "a" * n)
        assert status == 400, (n, status, body)
        assert "256" in body["error"]["message"], body
    # At the cap, however it escapes, it is searched.
    for q in ("a" * 256, '"' * 256, "%" * 256, "\\" * 256):
        status, body, _ = server.api("GET", "/hosts?q=" + urllib.parse.quote(q))
        assert status == 200 and body["total"] == 0, (q[:3], status, body)
    status, body, _ = server.api("GET", "/hosts?q=searchable")
    assert status == 200 and [h["id"] for h in body["items"]] == [host.id]


def test_section_endpoints_page_with_limit_and_cursor(server):
    host = Host(server)
    ports = [{"proto": "tcp", "address": "0.0.0.0", "port": 1000 + i,
              "pid": 100 + i, "process": "p", "exe": "/usr/bin/p", "user": "u"}
             for i in range(250)]
    assert host.send(host.report(ports=ports))[0] == 200
    base = f"/hosts/{host.id}/ports"
    status, first, _ = server.api("GET", base)
    assert status == 200
    assert len(first["items"]) == 100 and first["total"] == 250
    assert first["next_cursor"] and first["hash"] and first["updated_at"]
    status, ten, _ = server.api("GET", base + "?limit=10")
    assert status == 200 and len(ten["items"]) == 10 and ten["total"] == 250
    assert ten["items"] == first["items"][:10]
    seen, cursor = [], None
    while True:
        status, page, _ = server.api("GET", base + "?limit=60" +
                                     (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and page["total"] == 250
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(p["port"] for p in seen) == [1000 + i for i in range(250)]
    status, whole, _ = server.api("GET", base + "?limit=1000")
    assert whole["items"] == seen and whole["next_cursor"] is None
    for bad in ("?limit=0", "?limit=1001", "?limit=x", "?cursor=bogus", "?cursor=-1"):
        assert server.api("GET", base + bad)[0] == 400, bad
    # The packages section (rows, not a stored body) pages the same way,
    # and keeps its header.
    status, pk, _ = server.api("GET", f"/hosts/{host.id}/packages?limit=5")
    assert status == 200 and len(pk["items"]) == 5 and pk["total"] == 20
    assert pk["manager"] == "dpkg" and pk["next_cursor"] == "5"
    status, pk2, _ = server.api("GET", f"/hosts/{host.id}/packages?limit=5&cursor=5")
    assert [p["name"] for p in pk2["items"]] != [p["name"] for p in pk["items"]]
    assert server.api("GET", "/hosts/999999/ports")[0] == 404


def run_fake(fake, tmp_path, root):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-s3cret-s3cret\n")
    return subprocess.run(
        [AGENT, "--config", "/dev/null", "--once",
         "--server", f"http://127.0.0.1:{fake.server_address[1]}",
         "--enroll-secret-file", str(secret),
         "--state-dir", str(tmp_path / "state"), "--root", str(root)],
        capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("reply", [
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"host_id": 7, "next_re',
    b'{"ok": true}',
    b'{"host_id": "7", "next_report_s": 3600}',
    b"",
])
def test_agent_takes_an_unreadable_200_as_a_failure(fake, tmp_path, reply):
    root = scenario.compose(tmp_path, "garbage-host", mta=None)
    state = tmp_path / "state"
    fake.replies.append((200, reply))
    r = run_fake(fake, tmp_path, root)
    assert r.returncode != 0, r
    assert "acknowledged" in r.stderr, r.stderr
    assert not (state / "hashes").exists()
    assert not (state / "packages").exists()
    # The next run sends every section in full again, and only the answer
    # SPEC 3 gives makes it acknowledged.
    r = run_fake(fake, tmp_path, root)
    assert r.returncode == 0, r.stderr
    sent = [body for path, _, body in fake.log if path == "/api/v1/reports"]
    assert len(sent) == 2
    for name, sec in sent[1]["sections"].items():
        assert "items" in sec, (name, sec)
    assert sent[1]["sections"] == sent[0]["sections"]
    assert (state / "hashes").exists()
    fake.log.clear()
    assert run_fake(fake, tmp_path, root).returncode == 0
    third, = [body for path, _, body in fake.log if path == "/api/v1/reports"]
    assert all(set(sec) == {"hash"} for sec in third["sections"].values())
