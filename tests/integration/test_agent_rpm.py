"""The agent on RPM hosts against rpm itself: its packages section equals
what `rpm -qa` prints for the same database, an rpmdb.sqlite built here
with rpmbuild and rpm --justdb, a real RHEL 8 Berkeley DB Packages file,
and Berkeley DB files holding real CentOS 7 headers."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import rpmdb
from conftest import AGENT

pytestmark = pytest.mark.skipif(not rpmdb.have_tools(),
                                reason="needs rpm and rpmbuild")


def packages(root):
    r = subprocess.run([AGENT, "--config", "/dev/null", "--root", str(root),
                        "--print"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["sections"]["packages"]


def built_root(tmp_path):
    """A root with packages that exercise the version fields: an epoch,
    subpackages of another source, tilde and caret versions, noarch."""
    b = tmp_path / "b"
    rpms = (rpmdb.build(b, "postfix", "2.10.1", "9.el7", epoch=2,
                        subpackages=["postfix-perl-scripts"]) +
            rpmdb.build(b, "util-linux", "2.32.1", "42.el8_8",
                        subpackages=["libuuid", "libblkid"]) +
            rpmdb.build(b, "tzdata", "2024a", "1.el9", arch="noarch") +
            rpmdb.build(b, "snapshot", "1.0~rc1^git20240101", "0.1.fc40"))
    root = tmp_path / "root"
    root.mkdir()
    rpmdb.install(root, rpms)
    rpmdb.import_key(root)
    return root


def test_rpmdb_sqlite_equals_rpm_qa(tmp_path):
    root = built_root(tmp_path)
    want = rpmdb.qa(root)
    assert len(want) == 8
    assert "gpg-pubkey 0:8783d481-63ceb953 (none) (none)" in want
    sec = packages(root)
    assert sec["manager"] == "rpm"
    assert rpmdb.agent_lines(sec) == rpmdb.qa_lines(want)
    # source is the SOURCERPM's name, source_version its V-R with the
    # package's epoch.
    by_name = {i["name"]: i for i in sec["items"]}
    for line in want:
        name, evr, _arch, srpm = line.split()
        if srpm == "(none)":
            assert by_name[name]["source"] == name
            continue
        src = srpm[:-len(".src.rpm")]
        n, v, r = src.rsplit("-", 2)
        assert by_name[name]["source"] == n
        assert by_name[name]["source_version"] == \
            evr.split(":")[0] + ":" + v + "-" + r
    assert by_name["libuuid"]["source"] == "util-linux"
    assert by_name["tzdata"]["arch"] == "noarch"
    assert by_name["snapshot"]["version"] == "0:1.0~rc1^git20240101-0.1.fc40"
    # changed_at is the database's mtime.
    st = os.stat(root / "var/lib/rpm/rpmdb.sqlite")
    os.utime(root / "var/lib/rpm/rpmdb.sqlite", (st.st_atime, 1700000000))
    wal = root / "var/lib/rpm/rpmdb.sqlite-wal"
    if wal.exists():
        os.utime(wal, (st.st_atime, 1600000000))
    assert packages(root)["changed_at"] == "2023-11-14T22:13:20Z"


def test_real_rhel8_berkeley_db_equals_rpm_qa(tmp_path):
    root = tmp_path / "rhel8"
    shutil.copytree(rpmdb.FIX / "roots" / "rhel8-bdb", root)
    want = rpmdb.qa(root, bdb=True)
    assert want == ["libuuid 0:2.32.1-42.el8_8 x86_64 "
                    "util-linux-2.32.1-42.el8_8.src.rpm"]
    assert rpmdb.agent_lines(packages(root)) == rpmdb.qa_lines(want)


@pytest.mark.skipif(not shutil.which("db5.3_load"), reason="needs db5.3-util")
def test_centos7_berkeley_db_equals_rpm_qa(tmp_path):
    # Real CentOS 7 headers, and rpm 4.18's own headers for a postfix
    # built here, in a hash file written by Berkeley DB 5.3 (CentOS 7's
    # libdb is 5.3.21): several records span overflow pages.
    built = built_root(tmp_path)
    headers = rpmdb.centos7_headers() + rpmdb.sqlite_headers(built)
    root = tmp_path / "centos7"
    rpmdb.write_bdb(root, headers)
    want = rpmdb.qa(root, bdb=True)
    assert len(want) == len(headers) == 20
    assert any(l.startswith("centos-release 0:7-5.1804.4.el7.centos ")
               for l in want)
    sec = packages(root)
    assert rpmdb.agent_lines(sec) == rpmdb.qa_lines(want)
    by_name = {i["name"]: i for i in sec["items"]}
    assert by_name["libdb"]["source"] == "libdb"
    assert by_name["xz-libs"]["source"] == "xz"


def unshare_ro(db_dir, root):
    """The agent's --print with db_dir mounted read-only in a private
    mount namespace, as the unit's ProtectSystem=strict leaves /var."""
    script = (f"mount --bind {db_dir} {db_dir} && "
              f"mount -o remount,bind,ro {db_dir} && "
              f"exec {AGENT} --config /dev/null --root {root} --print")
    r = subprocess.run(["unshare", "--mount", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "mount" in r.stderr:
        pytest.skip("cannot make a read-only mount here: " + r.stderr)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["sections"]["packages"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root for a mount namespace")
def test_rpmdb_sqlite_on_a_read_only_var(tmp_path):
    root = built_root(tmp_path)
    db = root / "var/lib/rpm"
    want = rpmdb.qa(root)
    # rpm closed it: no -shm a read-only reader could use, and SQLite may
    # not create one on a read-only /var.
    for f in ("rpmdb.sqlite-wal", "rpmdb.sqlite-shm"):
        (db / f).unlink(missing_ok=True)
    sec = unshare_ro(db, root)
    assert "error" not in sec
    assert rpmdb.agent_lines(sec) == rpmdb.qa_lines(want)
    # A transaction left in the write-ahead log (a writer that died before
    # the checkpoint): readable with its -shm, and on a read-only /var
    # without one the packages of the main file, not an error.
    subprocess.run([sys.executable, "-c", f"""
import os, sqlite3
c = sqlite3.connect({str(db / 'rpmdb.sqlite')!r})
c.execute('PRAGMA wal_autocheckpoint=0')
b = c.execute('SELECT blob FROM Packages ORDER BY hnum LIMIT 1').fetchone()[0]
c.execute('INSERT INTO Packages(blob) VALUES (?)', (b,))
c.commit()
os._exit(0)
"""], check=True)
    assert (db / "rpmdb.sqlite-wal").stat().st_size > 0
    assert len(packages(root)["items"]) == len(want) + 1 == len(rpmdb.qa(root))
    (db / "rpmdb.sqlite-shm").unlink()
    sec = unshare_ro(db, root)
    assert "error" not in sec and len(sec["items"]) == len(want)


def test_fedora_sysimage_rpmdb(tmp_path):
    # Fedora >= 36: the database in usr/lib/sysimage/rpm, var/lib/rpm a
    # link to it (absolute here, so that following it would leave the
    # root).
    rpms = rpmdb.build(tmp_path / "b", "postfix", "3.8.5", "1.fc40", epoch=2)
    root = tmp_path / "fedora"
    root.mkdir()
    subprocess.run(["rpm", "--root", str(root), "--dbpath",
                    "/usr/lib/sysimage/rpm", "--justdb", "--nodeps",
                    "--noscripts", "-i", *rpms], check=True,
                   capture_output=True)
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/rpm").symlink_to("/usr/lib/sysimage/rpm")
    out = subprocess.run(["rpm", "--root", str(root), "--dbpath",
                          "/usr/lib/sysimage/rpm", "-qa", "--qf", rpmdb.QF],
                         check=True, capture_output=True, text=True).stdout
    sec = packages(root)
    assert rpmdb.agent_lines(sec) == rpmdb.qa_lines(out.splitlines())
    assert sec["items"][0]["version"] == "2:3.8.5-1.fc40"
