"""Migrations 008 (package versions stored once for the fleet, issue 18)
and 012 (a host's packages as one packed value): a database made by the
derelictd of the revision before 008, with real reports through
migrations 001-007, or by the revision before 012 (0.4.0's layout, through
011), answers every host, its packages, its changes, GET /packages?name=
and the findings byte for byte the same after this derelictd migrates it;
and its agents' deltas still apply.

The old derelictd is built from git (tests/bench/build_base.sh), or taken
from DERELICTD_BASE (for the revision before 008)."""
import copy
import os
import pathlib
import re
import sqlite3
import subprocess
import time
import urllib.request

import pytest

import conftest
from reports import Host, deltas, package, packages_delta, sealed

ROOT = pathlib.Path(__file__).resolve().parents[2]
MIGRATIONS = {"before-008": "sql/008_package_versions.sql",
              "before-012": "sql/012_packed_packages.sql"}


def old_derelictd(base):
    """derelictd of the revision before the commit that added BASE's
    migration ("before-008", "before-012"), found through git's history, not
    its tags: CI's clean clone has none."""
    if base == "before-008" and os.environ.get("DERELICTD_BASE"):
        return os.environ["DERELICTD_BASE"]
    migration = MIGRATIONS[base]
    git = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%H",
                          "--diff-filter=A", "--", migration],
                         capture_output=True, text=True)
    if git.returncode != 0:
        pytest.skip("not a git checkout and no DERELICTD_BASE")
    assert git.stdout.strip(), f"git knows no commit adding {migration}"
    rev = git.stdout.strip() + "^"
    out = subprocess.run(["sh", "tests/bench/build_base.sh", str(ROOT / "build"), rev],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return str(ROOT / out.stdout.strip() / "derelictd")


def raw(server, path):
    req = urllib.request.Request(server.url + "/api/v1" + path,
                                 headers={"Authorization": f"Bearer {server.admin_token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def pages(server, path, limit):
    """Every page of a list, as the bytes the server sent."""
    import json
    out, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        body = raw(server, f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        out.append(body)
        cursor = json.loads(body).get("next_cursor")
        if not cursor:
            return out


def answers(server, hosts, names):
    got = {"hosts": pages(server, "/hosts", 2),
           "findings": pages(server, "/findings", 3),
           # Less the age of the advisory data, which the clock moves.
           "summary": re.sub(rb'"age_seconds":[0-9]+', b"", raw(server, "/summary"))}
    for h in hosts:
        got[f"host {h.id}"] = raw(server, f"/hosts/{h.id}")
        got[f"packages {h.id}"] = pages(server, f"/hosts/{h.id}/packages", 7)
        got[f"changes {h.id}"] = pages(server, f"/hosts/{h.id}/changes", 3)
    for n in names:
        got[f"fleet {n}"] = pages(server, f"/packages?name={n}", 2)
    return got


def mail_packages(exim_version):
    return [package("exim4-daemon-light", exim_version, source="exim4"),
            package("exim4-base", exim_version, source="exim4")]


# The database is made by the revision before migration 008, which knew
# only SQLite, or by the one before 012 (0.4.0's layout: 012 packs its
# rows): its file is what is migrated.
@pytest.mark.sqlite_only
@pytest.mark.parametrize("base", ["before-008", "before-012"])
def test_migration_keeps_every_answer(tmp_path, monkeypatch, base):
    monkeypatch.setattr(conftest, "DERELICTD", old_derelictd(base))
    server = conftest.Server(tmp_path, evaluate_every="60s")
    try:
        shared = [package(f"lib{i}", f"1.{i}-1") for i in range(25)]
        shared += [package("zlib1g", "1:1.2.13.dfsg-1"),
                   package("zlib1g", "1:1.2.13.dfsg-1", arch="i386")]
        mail = dict(ports=[{"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 812,
                            "process": "exim4", "exe": "/usr/sbin/exim4",
                            "user": "Debian-exim"}],
                    processes=[{"name": "exim4", "exe": "/usr/sbin/exim4",
                                "user": "Debian-exim", "count": 1}])
        hosts, reps = [], {}
        for i in range(6):
            h = Host(server)
            pk = copy.deepcopy(shared)
            pk.append(package(f"only{i}", f"0.{i}"))            # a unique tail
            if i % 2:
                pk += mail_packages("4.96-15+deb12u4")           # vulnerable
            if i == 3:
                pk.append({"name": "noarch", "version": "1"})    # no arch, no source
                pk[0]["vendor"] = "acme"                         # an unknown member
            rep = h.report(packages=pk, **(mail if i % 2 else {}))
            s, body, _ = h.send(rep)
            assert s == 200, body
            hosts.append(h)
            reps[h.id] = rep
        # Deltas: an upgrade, a removal and an addition on two hosts.
        for h in hosts[1:3]:
            rep = reps[h.id]
            items = copy.deepcopy(rep["sections"]["packages"]["items"])
            items[2]["version"] = items[2]["source_version"] = "1.2-2"
            items = [p for p in items if not (p["name"] == "zlib1g" and p.get("arch") == "i386")]
            items.append(package("newlib", "0.1-1", arch="all"))
            new = sealed({"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z", "items": items})
            d = deltas(rep, ["ports", "services", "processes", "logins"])
            d["sections"]["packages"] = packages_delta(rep["sections"]["packages"], new)
            s, body, _ = h.send(d)
            assert s == 200, body
            reps[h.id] = dict(rep, sections=dict(rep["sections"], packages=new))
        # A host deleted, and one whose rows predate digests (0.1's).
        gone = Host(server)
        assert gone.send(gone.report(packages=copy.deepcopy(shared)))[0] == 200
        assert server.api("DELETE", f"/hosts/{gone.id}")[0] == 204
        legacy = hosts[4]
        # The fleet index is filled in bulk; one host stays pending.
        time.sleep(2.5)
        late = Host(server)
        assert late.send(late.report(packages=copy.deepcopy(shared)))[0] == 200
        hosts.append(late)
        server.stop()
        db = sqlite3.connect(server.db)
        db.execute("UPDATE packages SET digest = NULL WHERE host_id = ?", (legacy.id,))
        db.commit()
        db.close()
        server.start()
        names = ["zlib1g", "lib0", "lib2", "exim4-daemon-light", "only3", "noarch",
                 "newlib", "absent"]
        before = answers(server, hosts, names)
        server.stop()
        # What is compared is not trivial: pages, findings, the index.
        assert len(before["fleet zlib1g"]) > 3 and b"vulnerable-mta" in b"".join(before["findings"])
        assert b'"version":"1.2-2"' in b"".join(before[f"packages {hosts[1].id}"])
        assert b'"action":"changed"' in b"".join(before[f"changes {hosts[1].id}"])
        db = sqlite3.connect(server.db)
        assert db.execute("SELECT count(*) FROM package_hosts_pending").fetchone()[0] >= 1
        db.close()

        monkeypatch.setattr(conftest, "DERELICTD", os.environ.get(
            "DERELICTD", str(ROOT / "build" / "derelictd")))
        server.start()
        db = sqlite3.connect(server.db)
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 8
        versions = db.execute("SELECT count(*) FROM package_versions").fetchone()[0]
        rows = db.execute("SELECT sum(n) FROM host_packages").fetchone()[0]
        # Migration 012's rows were packed at the start, and their table went.
        assert db.execute("SELECT count(*) FROM sqlite_schema WHERE name = "
                          "'packages_unpacked'").fetchone()[0] == 0
        db.close()
        assert rows > 3 * versions       # stored once, referenced by each host
        after = answers(server, hosts, names)
        assert after.keys() == before.keys()
        # Members this release adds beside the interning (the SMTP probe's
        # results of a host, empty here) are not the migration's doing.
        for k in after:
            if k.startswith("host ") and base == "before-008":
                assert after[k].count(b',"probe":[]') == 1, k
                after[k] = after[k].replace(b',"probe":[]', b"")
        for k in before:
            assert after[k] == before[k], k

        # The stored sums still match the rows: a delta applies...
        h = hosts[2]
        rep = reps[h.id]
        items = copy.deepcopy(rep["sections"]["packages"]["items"])
        items[5]["version"] = items[5]["source_version"] = "9.9-1"
        new = sealed({"manager": "dpkg", "changed_at": "2026-11-27T00:00:00Z", "items": items})
        d = deltas(rep, ["ports", "services", "processes", "logins"])
        d["sections"]["packages"] = packages_delta(rep["sections"]["packages"], new)
        s, body, _ = h.send(d)
        assert s == 200, body
        s, body, _ = server.api("GET", "/packages?name=lib5")
        assert [(p["host_id"], p["version"]) for p in body["items"] if p["host_id"] == h.id] \
            == [(h.id, "9.9-1")]
        # ...and one against rows without digests is answered 409.
        rep = reps[legacy.id]
        items = copy.deepcopy(rep["sections"]["packages"]["items"])
        items[1]["version"] = "5-1"
        new = sealed({"manager": "dpkg", "changed_at": "2026-11-27T00:00:00Z", "items": items})
        d = deltas(rep, ["ports", "services", "processes", "logins"])
        d["sections"]["packages"] = packages_delta(rep["sections"]["packages"], new)
        assert legacy.send(d)[0] == 409
    finally:
        server.stop()
