"""sqlcompare.py - for tools/sql-check.py: the same rows on both engines.

One small fleet is written into a SQLite database made by sql/*.sql and
into a PostgreSQL one made by sql/pg/*.sql, with the same INSERTs; then
the store's own list queries (taken from server/store*.c by a piece of
their text) run on both with the same parameters, and their rows, in
order, must be equal.  The data is chosen to differ where the engines do:
names in mixed case (LIKE), NULL columns, ties broken by id, a search
that goes through FTS5 on SQLite and pg_trgm on PostgreSQL.
"""
import re
import subprocess

# Hosts 1-6; projects 1-2 (host 5 has none); mixed case names and
# addresses for the searches; packages interned as store_packages.c does.
DATA = """
INSERT INTO projects (id, name, owner, contact, created_at) VALUES
 (1, 'web', 'ann@example.org', NULL, 100),
 (2, 'Mail', NULL, 'bob@example.org', 100);
INSERT INTO hosts (id, agent_id, hostname, addresses, project_id, status,
 abandoned, mail_running, mail_exposed, severity, first_seen, last_seen,
 os_pretty) VALUES
 (1, 'a-1', 'web01', '[{"address":"10.0.0.1"}]', 1, 'active', 0, 0, 0, 0,
  10, 1000, 'Debian GNU/Linux 12'),
 (2, 'a-2', 'Web02', '[{"address":"10.0.0.2"}]', 1, 'silent', 1, 1, 1, 4,
  11, NULL, NULL),
 (3, 'a-3', 'MX1', '[{"address":"192.168.7.3"}]', 2, 'active', 0, 1, 0, 2,
  12, 900, 'Debian GNU/Linux 11'),
 (4, 'a-4', 'mx2', NULL, 2, 'retired', 1, 1, 0, 3, 13, 950, NULL),
 (5, 'B-5', 'db_1', '[{"address":"10.0.1.5"}]', NULL, 'active', 0, 0, 0, 1,
  14, 990, 'Ubuntu 22.04'),
 (6, 'a-6', 'web%6', '[]', NULL, 'silent', 1, 0, 0, 0, 15, 980, NULL);
INSERT INTO package_names (id, name) VALUES (1, 'exim4'), (2, 'libc6'),
 (3, 'zlib1g'), (4, 'Postfix');
INSERT INTO package_versions (id, name_id, arch, version, source,
 source_version, digest) VALUES
 (1, 1, 'all', '4.96-15', NULL, NULL, NULL),
 (2, 2, 'amd64', '2.36-9', 'glibc', NULL, NULL),
 (3, 3, 'amd64', '1:1.2.13', 'zlib', NULL, NULL),
 (4, 3, 'i386', '1:1.2.13', 'zlib', '1.2.13', NULL),
 (5, 2, 'amd64', '2.31-13', 'glibc', NULL, NULL),
 (6, 4, 'amd64', '3.7.6', 'postfix', NULL, NULL);
INSERT INTO package_hosts (name_id, host_id, version_id) VALUES
 (2, 1, 2), (3, 1, 3), (3, 1, 4), (2, 2, 5), (1, 2, 1), (1, 3, 1),
 (2, 3, 2), (3, 3, 4), (4, 4, 6);
INSERT INTO package_hosts_pending (host_id) VALUES (5), (6);
INSERT INTO changes (id, host_id, at, section, key, action, old, new) VALUES
 (1, 1, 100, 'packages', 'libc6', 'added', NULL, '{"v":1}'),
 (2, 1, 100, 'ports', 'tcp/25', 'removed', '{"p":25}', NULL),
 (3, 1, 200, 'packages', 'libc6', 'changed', '{"v":1}', '{"v":2}'),
 (4, 2, 200, 'packages', '', 'changes_truncated', NULL, '{"n":5}'),
 (5, 1, 300, 'logins', 'root', 'added', NULL, '{}');
INSERT INTO findings (id, host_id, rule, key, severity, status, summary,
 first_seen, last_seen, resolved_at) VALUES
 (1, 2, 'abandoned-mail', 'mail', 4, 'open', 'abandoned with mail', 10, 20,
  NULL),
 (2, 3, 'silent', 'silent', 2, 'open', 'silent', 10, 20, NULL),
 (3, 1, 'eol', 'eol', 2, 'acknowledged', 'end of life', 11, 21, NULL),
 (4, 4, 'eol', 'eol', 3, 'resolved', 'end of life', 11, 21, 30),
 (5, 2, 'vuln', 'CVE-1', 3, 'open', 'vulnerable', 12, 22, NULL),
 (6, 5, 'vuln', 'CVE-1', 3, 'open', 'vulnerable', 12, 22, NULL);
"""

# (what the query's text contains, its parameters by number) - each is run
# on both engines.  None is NULL.
HOSTS_PAGE = "FROM hosts h LEFT JOIN projects p ON p.id = h.project_id " \
    "WHERE (CAST(?1 AS BIGINT) IS NULL OR h.abandoned = ?1)"
CASES = [
    ("hosts page", HOSTS_PAGE, ("AND h.id > ?6 ORDER BY h.id LIMIT ?7",
                                "!LIKE", "!ILIKE"),
     [[None] * 5 + [0, 100], [None] * 5 + [2, 2],
      [1, None, None, None, None, 0, 100],
      [None, 1, 'active', None, None, 0, 100],
      [None, None, None, 2, 2, 0, 100]]),
    ("hosts count", "SELECT count(*) FROM hosts h WHERE (CAST(?1",
     ("!LIKE", "!MATCH"), [[None] * 5, [1, None, None, None, 3]]),
    ("hosts short search", HOSTS_PAGE, ("lower(h.hostname) LIKE",),
     [[None] * 5 + [0, 100, 'we', '%we%'],
      [None] * 5 + [0, 100, 'B-', '%b-%'],
      [None] * 5 + [0, 100, '%', '%\\%%']]),
    # The search through the trigram index: FTS5's MATCH on SQLite, ILIKE
    # over pg_trgm on PostgreSQL; the same rows either way.
    ("hosts search", ("host_search MATCH ?10", HOSTS_PAGE + "|ILIKE"), (),
     [[None] * 5 + [0, 100, 'WEB', '%WEB%', '"WEB"'],
      [None] * 5 + [0, 100, '10.0.', '%10.0.%', '"10.0."'],
      [None, None, 'silent', None, None, 0, 100, 'web', '%web%',
       '"web"']]),
    ("hosts search count", ("MATCH ?8 AND", "SELECT count(*) FROM hosts h "
                            "WHERE (CAST(?1|ILIKE"), (),
     [[None] * 5 + ['web', '%web%', '"web"']]),
    # A host's packages and the pending hosts' come as JSON arrays of
    # the ids store_packages.c reads from their packed values.
    ("packages of a host", ("FROM json_each(?1) j JOIN package_versions v",
                            "jsonb_array_elements_text(?1::jsonb) j JOIN "
                            "package_versions v"), (),
     [['[2,3,4]'], ['[1,2,4]'], ['[2,3]'], ['[]']]),
    ("GET /packages?name=", ("ORDER BY k.host_id, v.arch|json_each(?5)",
                             "ORDER BY k.host_id, v.arch|jsonb_array_"),
     (), [['zlib1g', 0, 100, '', '[[5,3],[6,3]]'],
          ['libc6', 0, 100, '', '[[6,2]]'],
          ['zlib1g', 1, 2, 'amd64', '[[5,3],[6,3]]'],
          ['zlib1g', 5, 100, '', '[[5,3],[6,3]]'],
          ['nosuch', 0, 100, '', '[]']]),
    ("GET /packages?name= count", "WITH n(id) AS (SELECT id FROM "
     "package_names WHERE name = ?1)", (), [['zlib1g', 2], ['Postfix', 0]]),
    ("changes", "FROM changes WHERE host_id = ?1 AND (?2 = 0 OR id < ?2)",
     (), [[1, 0, 100], [1, 3, 100], [2, 0, 100]]),
    ("findings", "ORDER BY f.severity DESC, f.id DESC LIMIT ?7", (),
     [[None] * 6 + [100], ['open', None, None, None, None, None, 100],
      [None, 'vuln', None, None, None, None, 100],
      [None, None, None, None, 3, 5, 100]]),
    ("findings count", "SELECT count(*) FROM findings f WHERE", (),
     [[None] * 4, ['open', None, 3, None]]),
    ("findings of a host", "WHERE f.host_id = ? AND f.status != "
     "'resolved'", (), [[2]]),
    ("open findings by rule", "GROUP BY rule, severity", (), [[]]),
    ("hosts by status", "GROUP BY status", (), [[]]),
    ("summary", "coalesce(sum(abandoned), 0)", (), [[]]),
]


def find(stmts, key, extra):
    """The one statement whose text has key ('a|b': both) and every
    piece of extra ('!x': not x)."""
    found = []
    for where, sql in stmts:
        flat = re.sub(r"\s+", " ", sql)
        if not all(k in flat for k in key.split("|")):
            continue
        if all((e[1:] not in flat) if e.startswith("!") else (e in flat)
               for e in extra):
            found.append((where, sql))
    if len(found) != 1:
        raise LookupError("%d statements match %r %r" % (len(found), key,
                                                          extra))
    return found[0]


def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"


def run(pg, db, stmts, sqlite_db, placeholders, verbose=False):
    lite = sqlite_db
    lite.executescript("BEGIN;" + DATA + "COMMIT;")
    pg.psql(db, "BEGIN;" + DATA + "COMMIT;")
    # Identity columns were given explicit ids: move them on, as SQLite's
    # rowid allocation would.
    pg.psql(db, "SELECT setval(pg_get_serial_sequence(t, 'id'), 100) FROM "
            "unnest(ARRAY['projects', 'hosts', 'package_names', "
            "'package_versions', 'changes', 'findings']) t;")
    fails = compared = 0
    runs = []	# (name, where, args, SQLite's rows)
    script = ["\\pset null <NULL>"]
    for name, key, extra, params in CASES:
        try:
            if isinstance(key, tuple):
                (lw, lsql), (pw, psql) = (find(stmts, key[0], extra),
                                          find(stmts, key[1], extra))
            else:
                lw, lsql = pw, psql = find(stmts, key, extra)
        except LookupError as e:
            print("sqlcompare: %s: %s" % (name, e))
            fails += 1
            continue
        for args in params:
            n = max([0] + [int(x) for x in re.findall(
                r"\$(\d+)", placeholders(lsql))])
            try:
                want = [tuple(norm(v) for v in row) for row in lite.execute(
                    lsql, (list(args) + [None] * n)[:n])]
            except Exception as e:  # noqa: BLE001 - reported as a failure
                print("sqlcompare: %s (%s): sqlite: %s" % (name, lw, e))
                fails += 1
                continue
            text = placeholders(psql)
            k = max([0] + [int(x) for x in re.findall(r"\$(\d+)", text)])
            vals = (list(args) + [None] * k)[:k]
            script.append("\\echo @@%d" % len(runs))
            script.append("PREPARE q%d AS %s;" % (len(runs), text))
            script.append("EXECUTE q%d(%s);" % (
                len(runs), ", ".join(map(literal, vals))) if vals else
                "EXECUTE q%d;" % len(runs))
            runs.append((name, pw, args, want))
    # One session for every query: a psql each would double the run.
    r = subprocess.run(["sh", "-c", "psql -X -q -At -F \"$(printf '\\037')\" "
                        "-h '%s' -p %d -U postgres -d %s 2>&1" % (
                            pg.dir, pg.port, db)],
                       input="\n".join(script) + "\n", capture_output=True,
                       text=True)
    got = {}
    cur = None
    for line in r.stdout.split("\n"):
        if line.startswith("@@"):
            cur = int(line[2:])
            got[cur] = []
        elif cur is not None and line != "":
            got[cur].append(tuple(line.split("\x1f")))
    for i, (name, pw, args, want) in enumerate(runs):
        rows = got.get(i)
        compared += 1
        if verbose:
            print("sqlcompare: %s %r: %d rows %r" % (name, args,
                                                     len(rows or []),
                                                     (rows or [])[:2]))
        if rows != want:
            fails += 1
            print("sqlcompare: %s (%s) %r:\n  sqlite:     %r\n"
                  "  postgresql: %r" % (name, pw, args, want, rows))
    print("sqlcompare: %d queries on both engines, %d differ" % (
        compared, fails))
    return fails


def norm(v):
    if v is None:
        return "<NULL>"
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return str(v)
