"""derelictd migrate-to (issue 19): a SQLite database made by a real server
(real agents' reports, deltas, findings open and acknowledged, projects,
tokens, the embedded advisories imported) and grown to 2,000 hosts of
1,500 packages the way the bench grows its own (clone_hosts()), moved into
an empty database of the session's PostgreSQL cluster; a server on it
answers every list and every host as the SQLite server did.  A database
already in use is refused and left as it was; the printed counts are the
tables' counts on both sides; a report after the move gets fresh ids.

The source is always a SQLite file, so this runs alike on both engines'
runs of the suite."""
import json
import pathlib
import re
import sqlite3
import zlib
import subprocess
import sys
import time

from conftest import DERELICTD, ROOT, PgConnection, fresh_database, pg_cluster, wait_for
from reports import Host, package, packages_delta, sealed
from scenario import compose

sys.path.insert(0, str(ROOT / "tests" / "bench"))
import server_bench  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOSTS = 2000
PACKAGES = 1500
# Hosts compared section by section (every host is compared as
# GET /hosts/{id}): the reported ones and some clones.
SAMPLE_CLONES = 25


def unpack_one_body(db_path):
    """Puts one section's body back as the plain text an older derelictd
    kept (SQLite's TEXT): on PostgreSQL it arrives in a bytea column."""
    db = sqlite3.connect(db_path)
    sid, body = db.execute(
        "SELECT s.id, s.body FROM sections s JOIN hosts h ON h.id = s.host_id "
        "WHERE h.hostname = 'mx-old-01' AND s.name = 'ports'").fetchone()
    text = zlib.decompress(bytes(body)[4:]).decode()
    assert '"items"' in text
    db.execute("UPDATE sections SET body = ? WHERE id = ?", (text, sid))
    db.commit()
    assert db.execute("SELECT typeof(body) FROM sections WHERE id = ?",
                      (sid,)).fetchone()[0] == "text"
    db.close()
    return sid, text


def findings_of(server, hid, status="open"):
    s, body, _ = server.api("GET", f"/findings?host={hid}&status={status}")
    assert s == 200, body
    return {f["rule"]: f for f in body["items"]}


def run_agent(server, root, name, project=None):
    r = server.agent("--once", root=root, state=server.tmp / ("state-" + name),
                     project=project)
    assert r.returncode == 0, r.stderr
    s, hosts, _ = server.api("GET", f"/hosts?q={name}")
    assert s == 200 and hosts["total"] == 1, hosts
    return hosts["items"][0]["id"]


def many_packages(k):
    """1,500 packages, a few of them at versions of host k's own."""
    return [package(f"pkg{i:04d}", f"{1 + i % 7}.{i}-{k if i % 50 == k else 0}",
                    arch="amd64" if i % 9 else "all")
            for i in range(PACKAGES)]


def populate(server):
    """Varied data through the real server, as real use makes it."""
    # Real agents on composed roots: ports, services, processes, packages,
    # logins (a real wtmp) and the mail section.
    mx = compose(server.tmp, "mx-old-01", version="4.92-8+deb10u1")
    hid_mx = run_agent(server, mx, "mx-old-01", project="p-old")
    loop = compose(server.tmp, "mx-loop-02", mta="loopback",
                   version="4.98.2-1", release="bookworm")
    hid_loop = run_agent(server, loop, "mx-loop-02", project="p-intra")
    web = compose(server.tmp, "web-03", mta=None, version="4.98.2-1",
                  release="bookworm")
    run_agent(server, web, "web-03")
    for name in ("p-old", "p-intra"):
        s, p, _ = server.api("PATCH", f"/projects/{name}",
                             {"ends_on": "2025-01-31"})
        assert s == 200, p
    # Text that COPY's format must escape, and more than ASCII.
    s, p, _ = server.api("POST", "/projects", {
        "name": "ops", "owner": "Zoë \\ ops", "contact": "ops@example.org",
        "description": "tab\there\nnewline\r\nand a backslash \\N end"})
    assert s in (200, 201), p
    s, h, _ = server.api("PATCH", f"/hosts/{hid_loop}",
                         {"note": "ticket\tOPS-7\nline two \\x00 ünï"})
    assert s == 200, h
    assert wait_for(lambda: "abandoned-mail-service" in findings_of(server, hid_mx))
    f = wait_for(lambda: findings_of(server, hid_loop).get("abandoned-mail-service"))
    assert f
    # An acknowledged (snoozed) finding beside the open ones.
    s, body, _ = server.api("POST", f"/findings/{f['id']}/ack",
                            {"reason": "decommission\tOPS-1", "until": "2099-01-01"})
    assert s == 200, body
    # The exim host upgraded: changes, and a resolved vulnerable-mta.
    compose(server.tmp, "mx-old-01", version="4.98.2-1", release="bookworm")
    run_agent(server, mx, "mx-old-01", project="p-old")
    assert wait_for(lambda: "vulnerable-mta" in findings_of(server, hid_mx, "resolved"))
    # Hosts of 1,500 packages each, a full report and then a delta.
    for k in range(4):
        h = Host(server, hostname=f"big-{k:02d}")
        rep = h.report(packages=many_packages(k))
        s, body, _ = h.send(rep)
        assert s == 200, body
        items = [dict(p) for p in rep["sections"]["packages"]["items"]]
        for p in items[k * 10:k * 10 + 10]:
            p["version"] += "+deb12u1"
            p["source_version"] = p["version"]
        items = items[:-3] + [package(f"new{k}-{i}", "1.0-1") for i in range(2)]
        new = sealed({**{x: v for x, v in rep["sections"]["packages"].items()
                         if x not in ("items", "hash")}, "items": items})
        rep2 = json.loads(json.dumps(rep))
        rep2["sections"]["packages"] = packages_delta(
            rep["sections"]["packages"], new)
        for name in ("ports", "services", "processes", "logins"):
            rep2["sections"][name] = {"hash": rep["sections"][name]["hash"]}
        s, body, _ = h.send(rep2)
        assert s == 200, body
    # The embedded advisories as an import: a blob column (bytea).
    server.cli("advisories", "import", str(ROOT / "data" / "advisories.json"))
    server.cli("token", "add", "ci-reader", "--role", "viewer")
    time.sleep(2)  # an evaluation and an index pass over all of it


def pages(server, path):
    """Every item of a list, page after page (the whole pages too)."""
    sep = "&" if "?" in path else "?"
    s, page, _ = server.api("GET", f"{path}{sep}limit=1000")
    assert s == 200, (path, page)
    out = [page]
    while page.get("next_cursor"):
        s, page, _ = server.api("GET", f"{path}{sep}limit=1000&cursor={page['next_cursor']}")
        assert s == 200, (path, page)
        out.append(page)
    return out


LISTS = ["/hosts", "/hosts?abandoned=true", "/hosts?mail=true",
         "/hosts?status=active", "/hosts?q=mx", "/hosts?q=clone-0001",
         "/hosts?severity=high", "/hosts?project=p-old",
         "/projects", "/findings", "/findings?status=acknowledged",
         "/findings?status=resolved", "/discovered", "/notifications",
         "/packages?name=pkg0007", "/packages?name=exim4-daemon-light"]
SINGLE = ["/summary", "/advisories", "/projects/p-old", "/projects/ops",
          "/whoami"]
SECTIONS = ["ports", "services", "processes", "packages", "logins", "mail"]


def answers(server, hosts, sample):
    """The JSON of every list (all pages), of every host and of the
    sample's sections, changes and findings, by path."""
    out = {}
    for path in LISTS:
        out[path] = pages(server, path)
    for path in SINGLE:
        s, body, _ = server.api("GET", path)
        assert s == 200, (path, body)
        out[path] = body
    # The advisories' age counts from now: the one figure of the clock's.
    out["/summary"]["advisories"].pop("age_seconds")
    for hid in hosts:
        s, body, _ = server.api("GET", f"/hosts/{hid}")
        assert s == 200, body
        out[f"/hosts/{hid}"] = body
    for hid in sample:
        for name in SECTIONS:
            s, body, _ = server.section(hid, name)
            out[f"/hosts/{hid}/{name}"] = (s, body)
        out[f"/hosts/{hid}/changes"] = pages(server, f"/hosts/{hid}/changes")
        for status in ("open", "acknowledged", "resolved"):
            out[f"/findings?host={hid}&status={status}"] = pages(
                server, f"/findings?host={hid}&status={status}")
    return out


def use_database(server, database):
    """Points the (stopped) server's configuration at database."""
    text = server.conf.read_text()
    server.conf.write_text(re.sub(r"(?m)^database = .*$",
                                  f"database = {database}", text))
    server.database = database


def migrate(server, uri):
    return subprocess.run([DERELICTD, "--config", str(server.conf),
                           "migrate-to", uri],
                          capture_output=True, text=True, timeout=300)


def test_migrate_to_moves_every_row_and_the_api_answers_alike(make_server, tmp_path):
    t0 = time.time()
    src = tmp_path / "src.db"
    server = make_server(database=str(src), state_dir=str(tmp_path),
                         evaluate_every="1s")
    populate(server)
    server.stop()
    # The bench's own growth, from the hosts of 1,500 packages.
    server_bench.clone_hosts(
        str(src), HOSTS, False,
        "SELECT id FROM hosts WHERE hostname LIKE 'big-%' ORDER BY id")
    plain_id, plain_text = unpack_one_body(str(src))
    t_built = time.time()

    # The SQLite server's answers (its start-up passes over first).
    server.start()
    time.sleep(2)
    listed = [h for p in pages(server, "/hosts") for h in p["items"]]
    hosts = [h["id"] for h in listed]
    assert len(hosts) == HOSTS
    reported = [h["id"] for h in listed
                if not h["hostname"].startswith("clone-")]
    sample = sorted(set(hosts[:8] + reported + hosts[::HOSTS // SAMPLE_CLONES]))
    before = answers(server, hosts, sample)
    server.stop()

    uri = fresh_database()
    t1 = time.time()
    r = migrate(server, uri)
    took = time.time() - t1
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    counts = {m[1]: int(m[2]) for m in
              (re.fullmatch(r"(\w+): (\d+) rows", x) for x in lines) if m}
    total = re.fullmatch(r"total: (\d+) rows in (\d+) tables, every count "
                         r"equal on both sides, in ([\d.]+) s \((\d+) rows/s\)",
                         lines[-1])
    assert total, r.stdout
    assert int(total[1]) == sum(counts.values())
    assert int(total[2]) == len(counts)
    print(f"\nmigrate-to: {total[1]} rows of {len(counts)} tables in "
          f"{took:.1f} s ({int(total[1]) / took:.0f} rows/s); host_packages "
          f"{counts['host_packages']}, package_hosts {counts['package_hosts']}")
    assert counts["hosts"] == HOSTS
    assert took < 60, r.stdout

    # The printed counts are the tables' on both sides, table by table,
    # and every table of the schema was copied (FTS5's own are SQLite's).
    lite = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    tables = {t for (t,) in lite.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND "
        "type = 'table' AND name NOT LIKE 'sqlite%'")}
    assert set(counts) == tables
    assert "host_search" not in counts and "host_search_data" not in counts
    # A host's packages are one packed value (migration 012).
    assert lite.execute("SELECT sum(n) FROM host_packages").fetchone()[0] \
        >= HOSTS * PACKAGES * 0.9
    pgc = PgConnection(uri)
    for t, n in counts.items():
        assert lite.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == n, t
        assert pgc.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == n, t
    # Parents before children, by the foreign keys.
    order = [m[1] for m in (re.fullmatch(r"(\w+): \d+ rows", x) for x in lines) if m]
    for t in order:
        for row in lite.execute(f"PRAGMA foreign_key_list({t})"):
            assert order.index(row[2]) < order.index(t), (row[2], t)
    # A blob, a body and escaped text arrive byte for byte.
    for table, key in (("advisory_imports", "id"), ("sections", "id"),
                       ("projects", "id"), ("hosts", "id"),
                       ("host_packages", "host_id")):
        cols = [c[1] for c in lite.execute(f"PRAGMA table_info({table})")]
        sel = f'SELECT {", ".join(cols)} FROM {table} ORDER BY {key} LIMIT 50'
        a = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
             for row in lite.execute(sel)]
        b = [tuple(row) for row in pgc.execute(sel).fetchall()]
        # A text in SQLite's body column is bytes in PostgreSQL's bytea.
        a = [tuple(v.encode() if isinstance(v, str) and isinstance(w, bytes)
                   else v for v, w in zip(ra, rb)) for ra, rb in zip(a, b)]
        assert a == b, table
    # Every version has its digest on PostgreSQL, whose unique key on it
    # settles two nodes adding one version; SQLite leaves out those its row
    # gives back.  Each is the digest the version's key was cut from.
    unfilled = "SELECT count(*) FROM package_versions WHERE digest IS NULL AND dkey IS NOT NULL"
    left_out = lite.execute(unfilled).fetchone()[0]
    assert left_out > 0
    assert pgc.execute(unfilled).fetchone()[0] == 0
    assert pgc.execute("SELECT count(*) FROM package_versions WHERE "
                       "substring(digest from 1 for 8) <> dkey").fetchone()[0] == 0
    filled = re.search(r"^package versions given the digest SQLite left out: (\d+)$",
                       r.stdout, re.M)
    assert filled and int(filled[1]) == left_out, r.stdout
    lite.close()
    assert pgc.execute("SELECT body FROM sections WHERE id = ?",
                       (plain_id,)).fetchone()[0] == plain_text.encode()

    # The PostgreSQL server answers as the SQLite one did.
    use_database(server, uri)
    server.start()
    time.sleep(2)
    after = answers(server, hosts, sample)
    assert set(after) == set(before)
    differ = [p for p in before if before[p] != after[p]]
    assert not differ, (differ[:5], before[differ[0]], after[differ[0]])
    assert server.api("GET", "/healthz")[1]["engine"] == "PostgreSQL"
    # The schema is the migrations' own: every constraint (the foreign
    # keys the load set aside) and every index as a fresh database has.
    fresh = fresh_database()
    subprocess.run([DERELICTD, "--config", "/dev/null", "--database", fresh,
                    "token", "list"], check=True, capture_output=True, timeout=60)
    schema = ("SELECT conrelid::regclass::text, conname, "
              "pg_get_constraintdef(oid) FROM pg_constraint WHERE "
              "connamespace = current_schema()::regnamespace "
              "UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes "
              "WHERE schemaname = current_schema() ORDER BY 1, 2, 3")
    pgf = PgConnection(fresh)
    want = pgf.execute(schema).fetchall()
    pgf.close()
    assert any("FOREIGN KEY" in d for _, _, d in want)
    assert pgc.execute(schema).fetchall() == want

    # New rows get ids past the copied ones (the sequences were moved).
    max_ids = {t: pgc.execute(f"SELECT max(id) FROM {t}").fetchone()[0]
               for t in ("hosts", "reports", "sections", "changes")}
    h = Host(server, hostname="after-move")
    assert h.id > max_ids["hosts"]
    rep = h.report(packages=many_packages(3))
    assert h.send(rep)[0] == 200
    rep["sections"]["packages"]["items"].pop()
    rep["sections"]["packages"] = sealed({
        k: v for k, v in rep["sections"]["packages"].items() if k != "hash"})
    assert h.send(rep)[0] == 200
    for t in ("reports", "sections", "changes"):
        new = pgc.execute(f"SELECT min(id) FROM {t} WHERE host_id = ?",
                          (h.id,)).fetchone()[0]
        assert new is not None and new > max_ids[t], t
    s, body, _ = server.api("POST", "/projects", {"name": "after"})
    assert s in (200, 201), body
    # A host deleted takes its rows along (ON DELETE CASCADE, set again).
    gone = sample[-1]
    assert pgc.execute("SELECT n FROM host_packages WHERE host_id = ?",
                       (gone,)).fetchone()[0] > 0
    assert server.api("DELETE", f"/hosts/{gone}")[0] == 204
    for t in ("host_packages", "package_hosts", "sections", "host_state"):
        assert pgc.execute(f"SELECT count(*) FROM {t} WHERE host_id = ?",
                           (gone,)).fetchone()[0] == 0, t
    pgc.close()
    print(f"built in {t_built - t0:.0f} s, the whole test {time.time() - t0:.0f} s")


def test_migrate_to_refuses_a_database_in_use(make_server, tmp_path):
    src = tmp_path / "src.db"
    server = make_server(database=str(src), state_dir=str(tmp_path))
    h = Host(server, hostname="only-one")
    assert h.send(h.report())[0] == 200
    server.stop()
    # A database another derelictd already uses: its tokens (no host yet).
    other = tmp_path / "other"
    other.mkdir()
    uri = fresh_database()
    in_use = make_server(database=uri, state_dir=str(other))
    in_use.stop()
    pgc = PgConnection(uri)
    tokens = pgc.execute("SELECT id, name, hash FROM tokens ORDER BY id").fetchall()
    assert tokens
    r = migrate(server, uri)
    assert r.returncode == 1, r.stdout
    assert "already holds data" in r.stderr and "tokens" in r.stderr
    assert "empty database" in r.stderr
    assert r.stdout == ""
    assert pgc.execute("SELECT id, name, hash FROM tokens ORDER BY id").fetchall() == tokens
    assert pgc.execute("SELECT count(*) FROM hosts").fetchone()[0] == 0
    # Moved once, it is in use: a second run is refused for its hosts.
    uri2 = fresh_database()
    assert migrate(server, uri2).returncode == 0
    r = migrate(server, uri2)
    assert r.returncode == 1 and "hosts" in r.stderr, r.stderr
    pgc2 = PgConnection(uri2)
    assert pgc2.execute("SELECT count(*) FROM hosts").fetchone()[0] == 1
    pgc2.close()
    pgc.close()


def test_migrate_to_refuses_a_postgresql_source_and_a_path(make_server, tmp_path):
    uri = fresh_database()
    r = subprocess.run([DERELICTD, "--config", "/dev/null", "--database", uri,
                        "migrate-to", fresh_database()],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "copies a SQLite database" in r.stderr, r.stderr
    r = subprocess.run([DERELICTD, "--config", "/dev/null", "--database",
                        str(tmp_path / "a.db"), "migrate-to",
                        str(tmp_path / "b.db")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "postgresql://" in r.stderr, r.stderr
    assert not (tmp_path / "a.db").exists()
    # A source that is not there is not made (and copied, empty).
    dest = fresh_database()
    r = subprocess.run([DERELICTD, "--config", "/dev/null", "--database",
                        str(tmp_path / "a.db"), "migrate-to", dest],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "a.db" in r.stderr, r.stderr
    assert not (tmp_path / "a.db").exists()
    name = dest.rsplit("/", 1)[1]
    assert pg_cluster().sql("SELECT count(*) FROM pg_tables WHERE "
                            "schemaname = 'public'", db=name).strip() == "0"
    r = subprocess.run([DERELICTD, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert "migrate-to postgresql://" in r.stdout
    # The cluster itself is untouched by either.
    assert pg_cluster().sql("SELECT 1").strip() == "1"
