"""The agent sends a changed packages section as an item-level delta
(SPEC section 3, as amended): against a recording fake server for the exact
wire form and the 409 fallback, and against the real derelictd for what the
server makes of it - the history rows, the current packages, the size of
what was received, and the repair after the server lost its state."""
import json
import random
import sqlite3
import stat
import subprocess

import pytest

import scenario
from conftest import AGENT, FIXTURES
from reports import canon, item_digest, section_hash, section_hash_sum
from test_agent_server import host_of

SECTIONS = ("ports", "services", "processes", "packages", "logins", "mail")
REAL_STATUS = FIXTURES / "roots" / "dpkg" / "var" / "lib" / "dpkg" / "status"


# ---- a root whose dpkg database the tests edit ----

def stanzas(text):
    """The stanzas of a dpkg status file, each a list of lines."""
    return [s.splitlines() for s in text.strip("\n").split("\n\n") if s.strip()]


def field(st, name):
    for line in st:
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def synthetic(i, rng):
    """A stanza shaped like a real library package, with varied names and
    versions so the full section is as large as a real one."""
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 10)))
    name = f"lib{word}{i}"
    ver = f"{rng.randint(0, 3)}:{rng.randint(1, 40)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}-{rng.randint(1, 9)}+deb12u{rng.randint(1, 9)}"
    return [f"Package: {name}", "Status: install ok installed",
            "Priority: optional", "Section: libs",
            f"Installed-Size: {rng.randint(20, 9000)}",
            "Maintainer: Debian Library Team <debian-lib@lists.debian.org>",
            "Architecture: amd64", "Multi-Arch: same",
            f"Source: {word}-src ({ver})", f"Version: {ver}",
            "Depends: libc6 (>= 2.34), libgcc-s1 (>= 3.0)",
            f"Description: {word} library, runtime files",
            " Synthetic padding around a real dpkg database.",
            " .", " It only has to look like one to the agent."]


def make_root(tmp_path, n=400, arch_less=()):
    """A composed root (real sockets' tables, os-release, wtmp) whose dpkg
    status is the real fixture's padded with synthetic stanzas to n
    packages; arch_less names extra packages without an Architecture."""
    root = scenario.compose(tmp_path, "delta-host", mta=None)
    rng = random.Random(20261126)
    sts = stanzas(REAL_STATUS.read_text())
    real = sum(1 for s in sts if field(s, "Status") == "install ok installed")
    sts += [synthetic(i, rng) for i in range(max(0, n - real))]
    for name in arch_less:
        sts.append([f"Package: {name}", "Status: install ok installed",
                    "Version: 1.0-1", f"Description: {name} without arch"])
    write_status(root, sts)
    return root


def status_path(root):
    return root / "var" / "lib" / "dpkg" / "status"


def read_status(root):
    return stanzas(status_path(root).read_text())


def write_status(root, sts):
    status_path(root).write_text("\n\n".join("\n".join(s) for s in sts) + "\n")


def upgrade(sts, name, version, arch=None):
    for s in sts:
        if field(s, "Package") == name and (arch is None or field(s, "Architecture") == arch):
            s[:] = [f"Version: {version}" if l.startswith("Version:") else l for l in s]
            return
    raise AssertionError(f"no {name}")


def remove(sts, name, arch=None):
    for i, s in enumerate(sts):
        if field(s, "Package") == name and (arch is None or field(s, "Architecture") == arch):
            del sts[i]
            return
    raise AssertionError(f"no {name}")


def add(sts, name, version="1.0-1", arch="amd64"):
    sts.append([f"Package: {name}", "Status: install ok installed",
                f"Architecture: {arch}", f"Version: {version}",
                f"Description: {name}"])


def one_of_each(root):
    """Upgrades bsdutils, removes zlib1g's i386 half (its amd64 one
    stays), installs derelict-new: one change, one removal, one addition."""
    sts = read_status(root)
    upgrade(sts, "bsdutils", "1:2.38.1-5+deb12u4")
    remove(sts, "zlib1g", "i386")
    add(sts, "derelict-new", "2.0-1")
    write_status(root, sts)


def stored_packages(state):
    """The agent's <state>/packages (agent/state.h): a magic line, the hash,
    the header, then one item per line as its canonical JSON, sorted."""
    lines = (state / "packages").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "derelict-packages 1" and lines[-1] == ""
    section = json.loads(lines[2])
    section["items"] = [json.loads(l) for l in lines[3:-1]]
    # Each line is exactly the text its digest is taken of.
    assert lines[3:-1] == sorted(canon(i).decode() for i in section["items"])
    section["hash"] = lines[1]
    return section


def acked(state, section="packages"):
    words = (state / "hashes").read_text().split()
    return words[words.index(section) + 1]


def apply(prev_items, delta):
    """A delta applied to the items it is based on, as the server does:
    by identity, name plus arch (absent or null read as "")."""
    def key(it):
        return (it["name"], it.get("arch") or "")
    items = {key(i): i for i in prev_items}
    for r in delta["removed"]:
        del items[key(r)]
    for a in delta["added"]:
        items[key(a)] = a
    return list(items.values())


# ---- the wire form, against a recording fake server (conftest.fake) ----


def run_fake(fake, tmp_path, root, *extra):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    return subprocess.run(
        [AGENT, "--config", "/dev/null", "--once",
         "--server", f"http://127.0.0.1:{fake.server_address[1]}",
         "--enroll-secret-file", str(secret),
         "--state-dir", str(tmp_path / "state"), "--root", str(root), *extra],
        capture_output=True, text=True, timeout=60)


def reports_sent(fake):
    return [body for path, _, body in fake.log if path == "/api/v1/reports"]


def test_wire_delta(fake, tmp_path):
    root = make_root(tmp_path, arch_less=("noarch-a", "noarch-b"))
    state = tmp_path / "state"
    assert run_fake(fake, tmp_path, root).returncode == 0
    full, = reports_sent(fake)
    first = full["sections"]["packages"]
    assert len(first["items"]) >= 400
    # Kept once acknowledged: 0600, the section the server holds.
    mode = stat.S_IMODE((state / "packages").stat().st_mode)
    assert mode == 0o600
    kept = stored_packages(state)
    assert kept["hash"] == first["hash"] == acked(state)
    assert section_hash(kept) == kept["hash"]

    one_of_each(root)
    sts = read_status(root)
    remove(sts, "noarch-a")                   # arch-less, removed
    upgrade(sts, "noarch-b", "1.0-2")         # arch-less, changed
    write_status(root, sts)
    fake.log.clear()
    r = run_fake(fake, tmp_path, root)
    assert r.returncode == 0, r.stderr
    body, = reports_sent(fake)
    delta = body["sections"]["packages"]
    assert "items" not in delta
    assert delta["base"] == first["hash"]
    assert delta["manager"] == "dpkg" and delta["changed_at"]
    assert set(delta) == {"hash", "base", "manager", "changed_at", "added", "removed"}
    added = {(a["name"], a.get("arch")): a for a in delta["added"]}
    assert set(added) == {("bsdutils", "amd64"), ("derelict-new", "amd64"),
                          ("noarch-b", None)}
    assert added[("bsdutils", "amd64")]["version"] == "1:2.38.1-5+deb12u4"
    assert added[("noarch-b", None)]["version"] == "1.0-2"
    assert sorted(delta["removed"], key=lambda x: x["name"]) == [
        {"name": "noarch-a"}, {"name": "zlib1g", "arch": "i386"}]
    # Everything else unchanged goes as bare hashes.
    for s in SECTIONS:
        if s != "packages":
            assert set(body["sections"][s]) == {"hash"}, s

    # The hash is the new full section's, as --print shows it, and the
    # delta applied to the base gives it, by the items and by the sum.
    printed = json.loads(run_fake(fake, tmp_path, root, "--print").stdout)
    new = printed["sections"]["packages"]
    assert delta["hash"] == new["hash"] == section_hash(new)
    items = apply(first["items"], delta)
    canon = lambda v: json.dumps(v, sort_keys=True)
    assert sorted(map(canon, items)) == sorted(map(canon, new["items"]))
    total = sum(item_digest(i) for i in first["items"])
    for rm in delta["removed"]:
        old, = [i for i in first["items"] if i["name"] == rm["name"]
                and i.get("arch") == rm.get("arch")]
        total -= item_digest(old)
    for a in delta["added"]:
        for old in first["items"]:
            if old["name"] == a["name"] and old.get("arch") == a.get("arch"):
                total -= item_digest(old)
        total += item_digest(a)
    assert section_hash_sum(delta, total) == delta["hash"]
    # A few hundred bytes against the whole section.
    assert len(json.dumps(delta)) * 20 < len(json.dumps(first))
    # And what is kept now is the new full section.
    assert stored_packages(state)["hash"] == new["hash"] == acked(state)


def test_print_stays_full(fake, tmp_path):
    root = make_root(tmp_path, n=100)
    state = tmp_path / "state"
    assert run_fake(fake, tmp_path, root).returncode == 0
    before = (state / "packages").read_bytes()
    one_of_each(root)
    r = run_fake(fake, tmp_path, root, "--print")
    assert r.returncode == 0, r.stderr
    pk = json.loads(r.stdout)["sections"]["packages"]
    assert "items" in pk and not {"base", "added", "removed"} & set(pk)
    assert all("items" in json.loads(r.stdout)["sections"][s] for s in SECTIONS)
    # --print keeps no state.
    assert (state / "packages").read_bytes() == before


def test_409_answered_in_full(fake, tmp_path):
    root = make_root(tmp_path, n=100)
    state = tmp_path / "state"
    assert run_fake(fake, tmp_path, root).returncode == 0
    one_of_each(root)
    fake.log.clear()
    fake.replies = [(409, {"error": {"code": "resend", "message": "base",
                                     "sections": ["packages"]}})]
    r = run_fake(fake, tmp_path, root)
    assert r.returncode == 0, r.stderr
    a, b = reports_sent(fake)
    assert "added" in a["sections"]["packages"]
    # Never a delta again as the answer to a 409.
    assert "items" in b["sections"]["packages"]
    assert not {"base", "added", "removed"} & set(b["sections"]["packages"])
    assert b["sections"]["packages"]["hash"] == a["sections"]["packages"]["hash"]
    assert stored_packages(state)["hash"] == b["sections"]["packages"]["hash"]

    # A 409 naming another section: that one in full, and the packages
    # (changed again) in full too, not as a delta.
    sts = read_status(root)
    upgrade(sts, "tzdata", "2026a-0+deb12u1")
    write_status(root, sts)
    fake.log.clear()
    fake.replies = [(409, {"error": {"code": "resend", "message": "x",
                                     "sections": ["logins"]}})]
    assert run_fake(fake, tmp_path, root).returncode == 0
    a, b = reports_sent(fake)
    assert "added" in a["sections"]["packages"]
    assert "items" in b["sections"]["packages"] and "items" in b["sections"]["logins"]
    assert "added" not in b["sections"]["packages"]


def test_not_kept_without_200(fake, tmp_path):
    root = make_root(tmp_path, n=100)
    state = tmp_path / "state"
    assert run_fake(fake, tmp_path, root).returncode == 0
    kept = (state / "packages").read_bytes()
    base = stored_packages(state)["hash"]
    one_of_each(root)
    fake.replies = [(500, {"error": {"code": "internal", "message": "down"}})]
    assert run_fake(fake, tmp_path, root).returncode == 1
    assert (state / "packages").read_bytes() == kept
    # The next try is the same delta against the same base.
    fake.log.clear()
    assert run_fake(fake, tmp_path, root).returncode == 0
    body, = reports_sent(fake)
    assert body["sections"]["packages"]["base"] == base


def test_large_change_goes_full(fake, tmp_path):
    root = make_root(tmp_path, n=100)
    assert run_fake(fake, tmp_path, root).returncode == 0
    sts = read_status(root)
    for s in sts[20:60]:                       # 40 of 100: over a quarter
        s[:] = [l + ".1" if l.startswith("Version:") else l for l in s]
    write_status(root, sts)
    fake.log.clear()
    assert run_fake(fake, tmp_path, root).returncode == 0
    body, = reports_sent(fake)
    assert "items" in body["sections"]["packages"]
    assert "added" not in body["sections"]["packages"]


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "edited", "stale"])
def test_bad_state_file_goes_full(fake, tmp_path, damage):
    root = make_root(tmp_path, n=100)
    state = tmp_path / "state"
    assert run_fake(fake, tmp_path, root).returncode == 0
    path = state / "packages"
    text = path.read_text()
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"\x00\xffnot a state file\n")
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "edited":
        # Same "hash" member, altered item: the hash is recomputed.
        path.write_text(text.replace('"version":"1:2.38.1-5+deb12u3"', '"version":"1:2.38.1-5+deb12u9"'))
        assert path.read_text() != text
    else:
        # A section the server never acknowledged, well formed.
        lines = text.split("\n")
        del lines[3]
        sec = json.loads(lines[2])
        sec["items"] = [json.loads(l) for l in lines[3:-1]]
        lines[1] = section_hash(sec)
        path.write_text("\n".join(lines))
    one_of_each(root)
    fake.log.clear()
    r = run_fake(fake, tmp_path, root)
    assert r.returncode == 0, r.stderr
    body, = reports_sent(fake)
    pk = body["sections"]["packages"]
    assert "items" in pk and "added" not in pk
    # Repaired: the next change goes as a delta again.
    assert stored_packages(state)["hash"] == pk["hash"]
    sts = read_status(root)
    add(sts, "derelict-later")
    write_status(root, sts)
    fake.log.clear()
    assert run_fake(fake, tmp_path, root).returncode == 0
    body, = reports_sent(fake)
    assert body["sections"]["packages"]["base"] == pk["hash"]
    assert [a["name"] for a in body["sections"]["packages"]["added"]] == ["derelict-later"]


# ---- against the real derelictd ----

def db_rows(server, sql, *args):
    con = server.db_connect(readonly=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def report_bytes(server, host_id):
    return [b for b, in db_rows(server, "SELECT bytes FROM reports WHERE host_id = ? ORDER BY id", host_id)]


def package_changes(server, host_id):
    st, body, _ = server.api("GET", f"/hosts/{host_id}/changes?limit=1000")
    assert st == 200, body
    return [c for c in body["items"] if c["section"] == "packages"]


def server_packages(server, host_id):
    st, body, _ = server.section(host_id, "packages")
    assert st == 200, body
    return {(p["name"], p.get("arch") or ""): p["version"] for p in body["items"]}


def root_packages(server, root, state):
    r = server.agent("--print", root=root, state=state)
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)["sections"]["packages"]["items"]
    return {(p["name"], p.get("arch") or ""): p["version"] for p in items}


def report_and_compare(server, root, state):
    """Runs the real agent once on root and checks that the server then
    holds exactly the packages the agent sees; returns the host and them."""
    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr
    host = host_of(server, (state / "agent-id").read_text().strip())
    pk = server_packages(server, host["id"])
    assert pk == root_packages(server, root, state)
    return host, pk


def test_delta_against_server(server, tmp_path):
    root = make_root(tmp_path)
    state = tmp_path / "state"
    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr
    host = host_of(server, (state / "agent-id").read_text().strip())
    before = len(package_changes(server, host["id"]))

    one_of_each(root)
    r = server.agent(root=root, state=state)
    assert r.returncode == 0, r.stderr

    after = package_changes(server, host["id"])      # newest first
    new = after[:len(after) - before]
    by_action = {}
    for c in new:
        by_action.setdefault(c["action"], []).append(c)
    assert sorted(by_action) == ["added", "changed", "removed"], new
    assert all(len(v) == 1 for v in by_action.values()), new
    assert by_action["changed"][0]["key"] == "bsdutils:amd64"
    assert by_action["added"][0]["key"] == "derelict-new:amd64"
    assert by_action["removed"][0]["key"] == "zlib1g:i386"

    pk = server_packages(server, host["id"])
    assert pk == root_packages(server, root, state)
    assert pk[("bsdutils", "amd64")] == "1:2.38.1-5+deb12u4"
    assert pk[("derelict-new", "amd64")] == "2.0-1"
    assert ("zlib1g", "i386") not in pk and ("zlib1g", "amd64") in pk

    # Received as a delta: a small fraction of the first report's body.
    sizes = report_bytes(server, host["id"])
    assert len(sizes) == 2, sizes
    assert sizes[1] * 10 < sizes[0], sizes
    assert stored_packages(state)["hash"] == acked(state)


def test_delta_arch_less_against_server(server, tmp_path):
    root = make_root(tmp_path, n=100, arch_less=("noarch-a", "noarch-b"))
    state = tmp_path / "state"
    assert server.agent(root=root, state=state).returncode == 0
    sts = read_status(root)
    remove(sts, "noarch-a")
    upgrade(sts, "noarch-b", "1.0-2")
    write_status(root, sts)
    host, pk = report_and_compare(server, root, state)
    assert pk[("noarch-b", "")] == "1.0-2" and ("noarch-a", "") not in pk
    sizes = report_bytes(server, host["id"])
    assert sizes[1] * 5 < sizes[0], sizes


def test_delta_after_section_lost(server, tmp_path):
    """The server lost the packages section: the delta's base is not what
    it holds, it answers 409, and the full resend repairs it."""
    root = make_root(tmp_path)
    state = tmp_path / "state"
    assert server.agent(root=root, state=state).returncode == 0
    host = host_of(server, (state / "agent-id").read_text().strip())
    server.stop()
    con = server.db_connect()
    with con:
        n = con.execute("DELETE FROM sections WHERE host_id = ? AND name = 'packages'",
                        (host["id"],)).rowcount
    con.close()
    assert n == 1
    server.start()

    one_of_each(root)
    report_and_compare(server, root, state)
    sizes = report_bytes(server, host["id"])
    # The accepted second report is the full resend, not the delta.
    assert len(sizes) == 2 and sizes[1] * 2 > sizes[0], sizes
    assert stored_packages(state)["hash"] == acked(state)

    # And the one after goes as a delta again, accepted.
    sts = read_status(root)
    add(sts, "derelict-after")
    write_status(root, sts)
    assert server.agent(root=root, state=state).returncode == 0
    assert server_packages(server, host["id"]) == root_packages(server, root, state)
    sizes = report_bytes(server, host["id"])
    assert len(sizes) == 3 and sizes[2] * 10 < sizes[0], sizes


@pytest.mark.sqlite_only
def test_delta_after_restore_from_backup(server, tmp_path):
    """The server restored from a backup older than the last delta it
    accepted: the next delta's base is unknown to it, 409, full resend."""
    root = make_root(tmp_path)
    state = tmp_path / "state"
    assert server.agent(root=root, state=state).returncode == 0
    backup = tmp_path / "backup.db"
    server.cli("backup", str(backup))
    one_of_each(root)
    assert server.agent(root=root, state=state).returncode == 0   # a delta
    server.restore(backup)

    sts = read_status(root)
    upgrade(sts, "adduser", "3.135")
    add(sts, "derelict-third")
    write_status(root, sts)
    host, pk = report_and_compare(server, root, state)
    assert pk[("adduser", "all")] == "3.135"
    assert ("zlib1g", "i386") not in pk and ("derelict-new", "amd64") in pk
    sizes = report_bytes(server, host["id"])
    # The backup's first report, then the full resend.
    assert len(sizes) == 2 and sizes[1] * 2 > sizes[0], sizes
    assert stored_packages(state)["hash"] == acked(state)
