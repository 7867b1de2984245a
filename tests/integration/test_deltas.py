"""The packages section sent as an item-level delta (SPEC section 3 as
amended): the server applies it to the stored rows, checks that it leads to
the claimed hash, records the history, and asks for the section in full
whenever its own state does not match the agent's idea of it."""
import copy
import hashlib
import sqlite3
import time
import zlib

from reports import Host, canon, deltas, package, packages_delta, sealed, section_hash


def counts(server, host):
    s, ch, _ = server.api("GET", f"/hosts/{host.id}/changes?limit=1000")
    assert s == 200
    s, pk, _ = server.section(host.id, "packages")
    assert s == 200
    return len(ch["items"]), pk


def baseline(server, n=50, **kw):
    h = Host(server)
    rep = h.report(packages=[package(f"lib{i}", f"1.{i}-1") for i in range(n)], **kw)
    s, body, _ = h.send(rep)
    assert s == 200, body
    return h, rep


def with_packages(rep, items, changed_at="2026-11-26T00:00:00Z"):
    """A bare-hash report of rep whose packages section is a delta to items."""
    old = rep["sections"]["packages"]
    new = sealed({"manager": "dpkg", "changed_at": changed_at, "items": copy.deepcopy(items)})
    out = deltas(rep, ["ports", "services", "processes", "logins"])
    out["sections"]["packages"] = packages_delta(old, new)
    return out, new


def test_delta_applies_and_records_history(server):
    h, rep = baseline(server)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    items[3]["version"] = items[3]["source_version"] = "1.3-2"   # upgraded
    del items[7]                                                   # removed
    items.append(package("newlib", "0.1-1", arch="all"))          # added
    d, new = with_packages(rep, items)
    assert len(d["sections"]["packages"]["added"]) == 2
    assert d["sections"]["packages"]["removed"] == [{"name": "lib7", "arch": "amd64"}]
    s, body, _ = h.send(d)
    assert s == 200, body

    s, ch, _ = server.api("GET", f"/hosts/{h.id}/changes")
    by_key = {c["key"]: c for c in ch["items"]}
    assert len(ch["items"]) == 3, ch
    assert by_key["lib3:amd64"]["action"] == "changed"
    assert by_key["lib3:amd64"]["old"]["version"] == "1.3-1"
    assert by_key["lib3:amd64"]["new"]["version"] == "1.3-2"
    assert by_key["lib7:amd64"]["action"] == "removed"
    assert by_key["lib7:amd64"]["old"]["version"] == "1.7-1"
    assert by_key["newlib:all"]["action"] == "added"

    s, pk, _ = server.section(h.id, "packages")
    got = {(p["name"], p["arch"]): p["version"] for p in pk["items"]}
    assert got == {(p["name"], p["arch"]): p["version"] for p in items}
    assert pk["hash"] == section_hash(new)
    assert pk["changed_at"] == "2026-11-26T00:00:00Z"

    # The server's hash is the agent's: a bare hash now matches, and a
    # second delta from the new state applies too.
    s, body, _ = h.send(deltas(rep, ["ports", "services", "processes", "logins"])
                        | {"sections": dict(deltas(rep, ["ports", "services", "processes",
                                                         "logins", "packages"])["sections"],
                                            packages={"hash": section_hash(new)})})
    assert s == 200, body
    rep2 = copy.deepcopy(rep)
    rep2["sections"]["packages"] = new
    items2 = copy.deepcopy(items)
    items2[0]["version"] = "9.9-1"
    d2, _ = with_packages(rep2, items2)
    s, body, _ = h.send(d2)
    assert s == 200, body
    assert counts(server, h)[0] == 4


def test_delta_from_another_base_is_resent(server):
    h, rep = baseline(server)
    before = counts(server, h)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    items[0]["version"] = "2.0-1"
    d, _ = with_packages(rep, items)
    d["sections"]["packages"]["base"] = "0" * 64
    s, body, _ = h.send(d)
    assert s == 409, body
    assert body["error"]["code"] == "resend"
    assert body["error"]["sections"] == ["packages"]
    assert counts(server, h) == before


def test_delta_that_misses_its_hash_is_resent(server):
    h, rep = baseline(server)
    before = counts(server, h)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    items[0]["version"] = "2.0-1"
    d, _ = with_packages(rep, items)
    # The agent believes in a package the server never had.
    d["sections"]["packages"]["removed"].append({"name": "ghost", "arch": "amd64"})
    s, body, _ = h.send(d)
    assert s == 409 and body["error"]["sections"] == ["packages"], body
    # A wrong claimed hash is the same disagreement.
    d, _ = with_packages(rep, items)
    d["sections"]["packages"]["hash"] = "f" * 64
    s, body, _ = h.send(d)
    assert s == 409, body
    assert counts(server, h) == before
    # The full section repairs it, and records the one difference.
    full = deltas(rep, ["ports", "services", "processes", "logins"])
    full["sections"]["packages"] = sealed({"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z",
                                           "items": items})
    s, body, _ = h.send(full)
    assert s == 200, body
    n, pk = counts(server, h)
    assert n == 1 and pk["hash"] == full["sections"]["packages"]["hash"]


def test_malformed_deltas_are_refused(server):
    h, rep = baseline(server)
    before = counts(server, h)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    d, _ = with_packages(rep, items)

    bad = copy.deepcopy(d)
    bad["sections"]["ports"] = {"hash": rep["sections"]["ports"]["hash"], "base": "0" * 64,
                                "added": [], "removed": []}
    s, body, _ = h.send(bad)
    assert s == 422 and "only packages" in body["error"]["message"], body

    bad = copy.deepcopy(d)
    bad["sections"]["packages"]["items"] = []
    assert h.send(bad)[0] == 422

    # A bad item in a delta costs the item (issue 13; it was a 422 for the
    # report): without it the delta no longer leads to the claimed hash,
    # so the server asks for the section in full, where the same item is
    # dropped and the rest stored.
    bad = copy.deepcopy(d)
    bad["sections"]["packages"]["added"] = [{"name": "x"}]
    s, body, _ = h.send(bad)
    assert s == 409 and body["error"]["sections"] == ["packages"], body

    bad = copy.deepcopy(d)
    bad["sections"]["packages"]["removed"] = [{"arch": "amd64"}]
    s, body, _ = h.send(bad)
    assert s == 409 and body["error"]["sections"] == ["packages"], body

    bad = copy.deepcopy(d)
    bad["sections"]["packages"]["added"] = "lib1"
    assert h.send(bad)[0] == 422

    bad = copy.deepcopy(d)
    bad["sections"]["packages"]["base"] = "short"
    assert h.send(bad)[0] == 422

    bad = copy.deepcopy(d)
    del bad["sections"]["packages"]["hash"]
    s, body, _ = h.send(bad)
    assert s == 422 and "hash" in body["error"]["message"], body
    assert counts(server, h) == before


def mail_host(server, exim_version):
    pk = [package(f"lib{i}", f"1.{i}-1") for i in range(30)]
    pk.append(package("exim4-daemon-light", exim_version, source="exim4"))
    h = Host(server)
    rep = h.report(packages=pk,
                   ports=[{"proto": "tcp", "address": "0.0.0.0", "port": 25, "pid": 812,
                           "process": "exim4", "exe": "/usr/sbin/exim4", "user": "Debian-exim"}],
                   processes=[{"name": "exim4", "exe": "/usr/sbin/exim4",
                               "user": "Debian-exim", "count": 1}])
    s, body, _ = h.send(rep)
    assert s == 200, body
    return h, rep


def open_rules(server, h):
    s, body, _ = server.api("GET", f"/findings?host={h.id}&status=open")
    assert s == 200
    return {f["rule"] for f in body["items"]}


def test_delta_of_the_mta_reevaluates_the_host(server):
    h, rep = mail_host(server, "4.96-15+deb12u1")
    assert "vulnerable-mta" in open_rules(server, h)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    # An unrelated upgrade: the finding stays.
    items[0]["version"] = "1.0-2"
    d, new = with_packages(rep, items, changed_at="2026-11-25T00:00:00Z")
    assert h.send(d)[0] == 200
    assert "vulnerable-mta" in open_rules(server, h)
    # The MTA upgraded past every fix: the same delta path resolves it.
    rep["sections"]["packages"] = new
    exim = next(p for p in items if p["name"] == "exim4-daemon-light")
    exim["version"] = exim["source_version"] = "4.96-15+deb12u11"
    d, _ = with_packages(rep, items)
    s, body, _ = h.send(d)
    assert s == 200, body
    assert "vulnerable-mta" not in open_rules(server, h)


def without_digests(refs):
    """A host's packed references (store_packages.c: a format byte, then
    per token a varint whose low bit is "no digest", a second one when its
    bit 1 says so and, in format 3, a third when its bit 3 does) with every
    reference's digest unknown, as migration 012 packs a row stored before
    digests were kept."""
    def varint(i):
        v, shift = 0, 0
        while True:
            v |= (refs[i] & 0x7f) << shift
            shift += 7
            i += 1
            if not refs[i - 1] & 0x80:
                return v, i

    def put(v):
        while True:
            out.append((v & 0x7f) | (0x80 if v >> 7 else 0))
            v >>= 7
            if not v:
                return

    if refs[0] == 2:          # deflated: a varint of the length, zlib's bytes
        i = 1
        while refs[i] & 0x80:
            i += 1
        refs = b"\x01" + zlib.decompress(refs[i + 1:])
    assert refs[0] in (1, 3)
    out, i = bytearray(refs[:1]), 1
    while i < len(refs):
        v, i = varint(i)
        put(v | 1)
        for bit in (2, 8) if refs[0] == 3 else (2,):
            if v & bit:
                more, i = varint(i)
                put(more)
    return bytes(out)


def test_migrated_rows_without_digest_are_resent(server):
    """A database from before deltas has package rows without digests: a
    delta cannot be checked against them, so the agent resends in full."""
    h, rep = baseline(server)
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    db = server.db_connect()
    refs = db.execute("SELECT refs FROM host_packages WHERE host_id = ?",
                      (h.id,)).fetchone()[0]
    db.execute("UPDATE host_packages SET refs = ? WHERE host_id = ?",
               (without_digests(bytes(refs)), h.id))
    db.commit()
    db.close()
    items[1]["version"] = "5-1"
    d, _ = with_packages(rep, items)
    assert h.send(d)[0] == 409


def test_full_sections_and_deltas_alternate(server):
    """A full section after a delta updates the rows change by change; one
    with members the rows do not keep replaces them.  Either way the next
    delta applies: the rows' digests always add up to the stored sum."""
    h, rep = baseline(server)
    cur = rep["sections"]["packages"]
    for step in range(4):
        items = copy.deepcopy(cur["items"])
        items[step]["version"] = f"{step}.0-9"
        if step == 2:
            items[5]["vendor"] = "acme"        # an unknown member: ignored, hashed
        full = deltas(rep, ["ports", "services", "processes", "logins"])
        full["sections"]["packages"] = sealed({"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z",
                                               "items": items})
        s, body, _ = h.send(full)
        assert s == 200, body
        cur = full["sections"]["packages"]
        items = copy.deepcopy(items)
        items[10 + step]["version"] = "7.7-7"
        rep_now = copy.deepcopy(rep)
        rep_now["sections"]["packages"] = cur
        d, new = with_packages(rep_now, items)
        s, body, _ = h.send(d)
        assert s == 200, (step, body)
        cur = new
    s, pk, _ = server.section(h.id, "packages")
    assert pk["hash"] == cur["hash"]
    assert {p["name"]: p["version"] for p in pk["items"]} == \
        {p["name"]: p["version"] for p in cur["items"]}
    # Eight reports, each one changed package: eight history rows.
    assert counts(server, h)[0] == 8


def v1_hash(section):
    """The section hash as 0.1.0 defined it: SHA-256 of the whole canonical
    text, items sorted."""
    body = {k: v for k, v in section.items() if k != "hash"}
    body["items"] = sorted(body.get("items", []), key=canon)
    return hashlib.sha256(canon(body)).hexdigest()


def test_agent_of_0_1_0_keeps_reporting(server):
    """An agent that hashes as 0.1.0 did is not locked out by a server
    upgrade: its full sections are taken, its bare hashes answered 409."""
    h = Host(server)
    rep = h.report()
    for sec in rep["sections"].values():
        sec["hash"] = v1_hash(sec)
    s, body, _ = h.send(rep)
    assert s == 200, body
    s, pk, _ = server.section(h.id, "packages")
    assert pk["hash"] == section_hash(rep["sections"]["packages"])   # the server's own
    bare = deltas(rep, list(rep["sections"]))
    s, body, _ = h.send(bare)
    assert s == 409 and len(body["error"]["sections"]) == 5, body
    assert h.send(rep)[0] == 200
    # A hash that is neither definition's is still refused.
    rep["sections"]["ports"]["hash"] = "0" * 64
    s, body, _ = h.send(rep)
    assert s == 422 and body["error"]["code"] == "hash_mismatch", body


def fleet(server, name, limit=3):
    """Every (host_id, arch, version) GET /packages?name= lists, page by page."""
    out, cursor = [], None
    while True:
        q = f"/packages?name={name}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        s, body, _ = server.api("GET", q)
        assert s == 200, body
        out += [(p["host_id"], p["arch"], p["version"]) for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            assert body["total"] == len(out)
            return out


def pending(server):
    db = server.db_connect()
    try:
        return db.execute("SELECT count(*) FROM package_hosts_pending").fetchone()[0]
    finally:
        db.close()


def test_fleet_index_follows_first_reports_deltas_and_deletes(server):
    """The fleet's package index is filled in bulk after first reports; the
    answers are the same before and after, and deltas and deletions show
    at once."""
    hosts = []
    for i in range(7):
        h = Host(server)
        pk = [package("zlib1g", f"1:1.2.13.dfsg-{i}"), package("zlib1g", "1:1.2.13.dfsg-1", arch="i386"),
              package(f"only{i}", "1.0")]
        rep = h.report(packages=pk)
        assert h.send(rep)[0] == 200
        hosts.append((h, rep))
    before = fleet(server, "zlib1g")
    assert len(before) == 14 and len(set(before)) == 14
    deadline = time.time() + 10
    while pending(server) and time.time() < deadline:
        time.sleep(0.2)
    assert pending(server) == 0
    assert fleet(server, "zlib1g") == before
    # A delta adds a package to an indexed host and takes one away.
    h, rep = hosts[2]
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    items = [p for p in items if not (p["name"] == "zlib1g" and p["arch"] == "i386")]
    items.append(package("exim4-base", "4.96-15+deb12u10", source="exim4"))
    d, _ = with_packages(rep, items)
    assert h.send(d)[0] == 200
    assert fleet(server, "exim4-base") == [(h.id, "amd64", "4.96-15+deb12u10")]
    assert (h.id, "i386", "1:1.2.13.dfsg-1") not in fleet(server, "zlib1g")
    assert len(fleet(server, "zlib1g")) == 13
    # A deleted host leaves nothing behind in the index.
    assert server.api("DELETE", f"/hosts/{hosts[0][0].id}")[0] in (200, 204)
    assert len(fleet(server, "zlib1g")) == 11
    db = server.db_connect()
    left = db.execute("SELECT count(*) FROM package_hosts WHERE host_id = ?",
                      (hosts[0][0].id,)).fetchone()[0]
    db.close()
    assert left == 0


def test_fleet_index_of_many_packages_equals_the_hosts_references(server):
    """The index pass writes its entries many to a statement: with hosts of
    43 packages (shared versions, their own, two architectures of a name),
    every name's answer after the pass is the one read before it (a host
    still pending is answered from its own value), and the index holds
    one entry per reference, no more."""
    hosts = []
    for i in range(5):
        h = Host(server)
        pk = [package(f"lib{j}", f"1.{j}-{1 if j % 3 else i}") for j in range(40)]
        pk += [package("zlib1g", f"1:1.3-{i}"), package("zlib1g", "1:1.3-1", arch="i386"),
               package(f"own{i}", "0.1")]
        rep = h.report(packages=pk)
        assert h.send(rep)[0] == 200
        hosts.append(h)
    names = [f"lib{j}" for j in range(40)] + ["zlib1g"] + [f"own{i}" for i in range(5)]
    before = {n: fleet(server, n, limit=4) for n in names}
    assert before["zlib1g"] and len(before["zlib1g"]) == 10
    assert len(before["lib3"]) == 5 and len({v for _, _, v in before["lib3"]}) == 5
    deadline = time.time() + 10
    while pending(server) and time.time() < deadline:
        time.sleep(0.2)
    assert pending(server) == 0
    assert {n: fleet(server, n, limit=4) for n in names} == before
    db = server.db_connect()
    try:
        ids = ",".join(str(h.id) for h in hosts)
        rows = db.execute(f"SELECT count(*) FROM package_hosts WHERE host_id IN ({ids})").fetchone()[0]
        refs = db.execute(f"SELECT sum(n) FROM host_packages WHERE host_id IN ({ids})").fetchone()[0]
    finally:
        db.close()
    assert rows == refs == 5 * 43


def test_upgrades_move_a_hosts_references_and_fleet_entries(server):
    """An upgrade replaces the host's reference of that package in place:
    to a version another host already has (found while the delta is
    prepared) or to one the fleet has never seen (added by the writer),
    beside another architecture of the same name.  The host's packages, the
    fleet index, the changes and the next delta all follow."""
    other, orep = Host(server), None
    orep = other.report(packages=[package("zlib1g", "1:1.3-1"), package("libc6", "2.36-9")])
    assert other.send(orep)[0] == 200
    h = Host(server)
    pk = [package("zlib1g", "1:1.2.13.dfsg-1"), package("zlib1g", "1:1.2.13.dfsg-1", arch="i386"),
          package("libc6", "2.36-8"), package("tzdata", "2024a-0")]
    rep = h.report(packages=pk)
    assert h.send(rep)[0] == 200
    deadline = time.time() + 10
    while pending(server) and time.time() < deadline:
        time.sleep(0.2)
    assert pending(server) == 0
    items = copy.deepcopy(rep["sections"]["packages"]["items"])
    for p in items:
        if p["name"] == "zlib1g" and p["arch"] == "amd64":
            p["version"] = p["source_version"] = "1:1.3-1"        # the fleet has it
        if p["name"] == "libc6":
            p["version"] = p["source_version"] = "2.36-9+new1"    # nobody has it
    d, new = with_packages(rep, items)
    s, body, _ = h.send(d)
    assert s == 200, body
    s, got, _ = server.section(h.id, "packages")
    assert sorted((p["name"], p["arch"], p["version"]) for p in got["items"]) == \
        sorted((p["name"], p["arch"], p["version"]) for p in items)
    assert got["hash"] == section_hash(new)
    assert sorted(fleet(server, "zlib1g")) == sorted([
        (other.id, "amd64", "1:1.3-1"), (h.id, "amd64", "1:1.3-1"),
        (h.id, "i386", "1:1.2.13.dfsg-1")])
    assert sorted(fleet(server, "libc6")) == sorted([
        (other.id, "amd64", "2.36-9"), (h.id, "amd64", "2.36-9+new1")])
    s, ch, _ = server.api("GET", f"/hosts/{h.id}/changes")
    assert {c["key"]: c["action"] for c in ch["items"]} == \
        {"zlib1g:amd64": "changed", "libc6:amd64": "changed"}
    # Back again, and the i386 one removed: every version is one the fleet
    # has, so the value was packed while the delta was prepared.  The
    # state the server holds is the one the agent hashes.
    rep2 = copy.deepcopy(rep)
    rep2["sections"]["packages"] = new
    items2 = [p for p in copy.deepcopy(pk) if p["arch"] != "i386"]
    d2, new2 = with_packages(rep2, items2)
    s, body, _ = h.send(d2)
    assert s == 200, body
    assert sorted(fleet(server, "zlib1g")) == sorted([
        (other.id, "amd64", "1:1.3-1"), (h.id, "amd64", "1:1.2.13.dfsg-1")])
    assert sorted(fleet(server, "libc6")) == sorted([
        (other.id, "amd64", "2.36-9"), (h.id, "amd64", "2.36-8")])
    s, got, _ = server.section(h.id, "packages")
    assert got["hash"] == section_hash(new2)
    assert sorted((p["name"], p["arch"], p["version"]) for p in got["items"]) == \
        sorted((p["name"], p["arch"], p["version"]) for p in items2)
