#!/usr/bin/python3
"""Both engines side by side (issue 19): the same fleet's figures on a
derelictd with SQLite, on one with PostgreSQL, and on two derelictd nodes in
front of one PostgreSQL database, same machine, same run.

  engine_bench.py BUILD_DIR LOADGEN

The fleet is server_bench.py's realistic one (three Debian releases, 1,500
packages a host, about 93% of versions shared within a release; 40 ports,
150 services, 200 process groups), BENCH_ENGINE_HOSTS hosts (1000) sent by
loadgen with BENCH_CONC (64) requests in flight.  PostgreSQL is a cluster of
the bench's own (tests/integration/pg.py: initdb in a temporary directory,
a free loopback port) with its durability settings as shipped: fsync,
synchronous_commit and full_page_writes on.

GET /hosts is timed on the fleet grown to BENCH_ENGINE_BIG hosts (100000)
inside each database: every reported host copied, with new ids, names,
agent ids and addresses, with the rows of its host_state (what the list
and the host's page read); BENCH_ENGINE_GROW=full copies its sections,
packages, package index rows, collector errors and findings too (about
80 KB a host: far past the ten minutes this section is meant to take).
BENCH_ENGINE_PGSS=1 loads pg_stat_statements and prints each load's
costliest statements.  Prints the figures; asserts nothing about time.
"""
import json
import os
import pathlib
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
# The derelictd of BUILD_DIR (conftest reads DERELICTD when imported).
if len(sys.argv) > 1:
    os.environ.setdefault("DERELICTD",
                          str(pathlib.Path(sys.argv[1]).resolve() / "derelictd"))
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE))
import pg  # noqa: E402
import server_bench as sb  # noqa: E402
from conftest import Server  # noqa: E402
from reports import (enroll_many, item_digest, packages_delta,  # noqa: E402
                     section_hash, section_hash_sum)

build, sb.loadgen = pathlib.Path(sys.argv[1]), sys.argv[2]
HOSTS = int(os.environ.get("BENCH_ENGINE_HOSTS", "1000"))
BIG = int(os.environ.get("BENCH_ENGINE_BIG", "100000"))
GROW = os.environ.get("BENCH_ENGINE_GROW", "hosts")
PGSS = os.environ.get("BENCH_ENGINE_PGSS") == "1"
CONC = sb.CONC
DELTA_ROUNDS, SAME_RUNS, SAME_ROUNDS = 2, 3, 5


# --- the fleet: its sections once, each engine's bodies from them ----------

class Fleet:
    """Every host's sections, as JSON text, for the first full report,
    each round of deltas and the unchanged reports after them; a host is
    its number here, whichever engine enrolls it."""

    def __init__(self, n):
        pk = sb.machine_packages()
        ports, services, procs = sb.fleet_sections()
        fixed = {
            "ports": sb.seal({"items": ports}),
            "services": sb.seal({"source": "systemd", "items": services}),
            "processes": sb.seal({"items": procs}),
            "logins": sb.seal({"source": "wtmp", "open_sessions": 0,
                               "last": None, "items": []}),
        }
        self.first, self.deltas, self.same = [], [[] for _ in range(DELTA_ROUNDS)], []
        for i in range(n):
            items = sb.realistic_packages(pk, i)
            total = sum(item_digest(p) for p in items)
            cur = {"manager": "dpkg", "changed_at": "2026-11-01T00:00:00Z",
                   "items": items}
            cur["hash"] = section_hash_sum(cur, total)
            secs = dict(fixed, packages=cur)
            self.first.append(json.dumps(secs))
            bare = {k: {"hash": v["hash"]} for k, v in secs.items()}
            # Ten packages upgraded a round, sent as the agent sends them
            # (server_bench.py's fleet_figures()); the sum of the items'
            # digests follows the ten alone.
            for k in range(DELTA_ROUNDS):
                new = [dict(p) for p in cur["items"]]
                for j in random.Random(k).sample(range(len(new)), 10):
                    total -= item_digest(new[j])
                    new[j]["version"] += f"+u{k}"
                    new[j]["source_version"] = new[j]["version"]
                    total += item_digest(new[j])
                nxt = {"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z",
                       "items": new}
                nxt["hash"] = section_hash_sum(nxt, total)
                self.deltas[k].append(json.dumps(
                    dict(bare, packages=packages_delta(cur, nxt))))
                bare = dict(bare, packages={"hash": nxt["hash"]})
                cur = nxt
            self.same.append(json.dumps(bare))
        assert cur["hash"] == section_hash(cur)
        self.first_kib = len(self.first[0]) / 1024

    @staticmethod
    def body(host, i, sections):
        code, ver = sb.RELEASES[i % len(sb.RELEASES)]
        name = f"fleet-{i:05d}"
        head = {
            "schema": 1, "agent": {"id": host.agent_id, "version": "bench"},
            "collected_at": "2026-11-26T10:00:00Z",
            "host": {"hostname": name, "fqdn": name,
                     "machine_id": host.agent_id.replace("-", ""),
                     "os": {"id": "debian", "version_id": ver, "codename": code,
                            "pretty_name": f"Debian GNU/Linux {ver} ({code})"},
                     "kernel": "6.1.0-13-amd64", "arch": "x86_64",
                     "boot_time": "2026-11-20T08:00:00Z",
                     "addresses": [{"ifname": "eth0", "address": "10.1.2.3",
                                    "prefix": 24}],
                     "project": "bench", "owner": None},
        }
        return (json.dumps(head)[:-1] + ', "sections": ' + sections + "}").encode()


def write_jobs(tmp, name, hosts, texts):
    """hosts: [(Host, number)]; one jobs file of them."""
    jobs = tmp / f"{name}.jobs"
    with open(jobs, "w") as f:
        for h, i in hosts:
            p = tmp / f"{name}-{i}.json"
            p.write_bytes(Fleet.body(h, i, texts[i]))
            f.write(f"{h.token} {p}\n")
    return jobs


# --- loads -----------------------------------------------------------------

LINE = re.compile(r"requests (\d+) in ([\d.]+) s")


def load(parts, rounds=1):
    """parts: [(server, jobs, connections)], one loadgen each, all at once.
    Returns the rate (every request over the longest loadgen's time) and a
    line of each loadgen's figures with how busy that node's writer was."""
    time.sleep(3)  # the phase before settles (its WAL, its commits)
    busy0 = [sb.metric(s, "derelict_ingest_batch_seconds_sum") for s, _, _ in parts]
    t0 = time.time()
    procs = [subprocess.Popen([sb.loadgen, s.url, str(j), str(c), str(rounds)],
                              stdout=subprocess.PIPE, text=True)
             for s, j, c in parts]
    outs = [p.communicate()[0].strip() for p in procs]
    wall = time.time() - t0
    n, t, lines = 0, 0.0, []
    for (s, _, _), b0, out in zip(parts, busy0, outs):
        m = LINE.match(out)
        if not m:
            raise AssertionError(f"loadgen: {out!r}")
        n, t = n + int(m.group(1)), max(t, float(m.group(2)))
        busy = sb.metric(s, "derelict_ingest_batch_seconds_sum") - b0
        other = [x for x in out.split("statuses")[1].split() if not x.startswith("200:")]
        lines.append(f"{out}; writer busy {100 * busy / wall:.0f}%"
                     f"{'; NOT ALL 200: counted in the rate' if other else ''}")
    return n / t, "\n      ".join(lines)


def phases(label, servers, fleet, tmp, out):
    """Enrollment, first full reports, deltas and unchanged reports of the
    fleet through servers (one node, or two sharing the hosts), into out."""
    print(f"  {label}:", flush=True)
    got = [None] * len(servers)
    share = [HOSTS // len(servers) + (j < HOSTS % len(servers))
             for j in range(len(servers))]

    def enroll(j):
        got[j] = enroll_many(servers[j], share[j])
    t = time.time()
    ts = [threading.Thread(target=enroll, args=(j,)) for j in range(len(servers))]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    assert all(g is not None for g in got), "enrollment failed"
    out["enroll"] = HOSTS / (time.time() - t)
    # Host number i: the j-th node's hosts after the nodes before it.
    hosts, parts = [], []
    for j, g in enumerate(got):
        mine = [(h, len(hosts) + x) for x, h in enumerate(g)]
        hosts += mine
        parts.append((servers[j], mine, CONC // len(servers)))
    print(f"    enrollment: {out['enroll']:.0f} hosts/s", flush=True)

    def run(name, texts, rounds=1):
        slug = re.sub(r"\W+", "-", name)
        jobs = [(s, write_jobs(tmp, f"{slug}-{j}", mine, texts), c)
                for j, (s, mine, c) in enumerate(parts)]
        pgss_reset()
        rate, line = load(jobs, rounds)
        print(f"    {name}: {rate:.0f}/s\n      {line}", flush=True)
        pgss_print(name)
        for p in tmp.glob(f"{slug}-*"):
            p.unlink()
        return rate

    out["first"] = run("first full reports", fleet.first)
    out["delta"] = statistics.median(
        [run(f"deltas, round {k + 1}", fleet.deltas[k]) for k in range(DELTA_ROUNDS)])
    out["same"] = statistics.median(
        [run(f"unchanged, run {k + 1} of {SAME_ROUNDS} rounds", fleet.same, SAME_ROUNDS)
         for k in range(SAME_RUNS)])


# --- growing the fleet inside the database -----------------------------------

# Columns a copy gets anew (a host of its own) or as the flags below say.
OWN = ("id", "agent_id", "hostname", "fqdn", "machine_id", "token_hash",
       "pending_token_hash", "addresses", "status", "abandoned",
       "mail_running", "mail_exposed", "severity", "next_eval_at")
OWNED = {"hosts": ["host_state"],
         "full": ["host_state", "sections", "host_packages", "package_hosts",
                  "collector_errors", "findings"]}[GROW]


class Sql:
    """What differs between the engines in the grow's SQL."""

    def __init__(self, engine, con):
        self.engine, self.con = engine, con

    def pad(self, expr, n):
        if self.engine == "sqlite":
            return f"printf('%0{n}d', {expr})"
        return f"lpad(({expr})::text, {n}, '0')"

    def columns(self, table):
        if self.engine == "sqlite":
            return [r[1] for r in self.con.execute(f"PRAGMA table_info({table})")]
        return [r[0] for r in self.run(
            "SELECT column_name FROM information_schema.columns WHERE "
            f"table_name = '{table}' ORDER BY ordinal_position")]

    def run(self, sql):
        if self.engine == "sqlite":
            return self.con.execute(sql).fetchall()
        cur = self.con.cursor()
        cur.execute(sql)
        return cur.fetchall() if cur.description else []

    def series(self, a, b):
        """SELECT g FROM ... for g from a to b - 1."""
        if self.engine == "sqlite":
            return (f"(WITH RECURSIVE n(g) AS (SELECT {a} UNION ALL SELECT g + 1 "
                    f"FROM n WHERE g < {b - 1}) SELECT g FROM n)")
        return f"(SELECT g FROM generate_series({a}, {b - 1}) g)"


def grow(engine, con, total):
    """Copies the reported hosts inside the database until there are total
    hosts, 10,000 a transaction: each copy a host of its own (id, agent
    id, name, machine id, an address 10.x.y.z) with the template's other
    columns and the rows of the tables in OWNED; every 10th copy silent,
    every 50th abandoned with mail running, every 100th with mail exposed
    and critical, so the filters have something to find.  The copies are
    not due for evaluation (next_eval_at far off): the figures are the
    list's, not a pass over 100,000 hosts.  Returns the seconds it took."""
    q = Sql(engine, con)
    rest = [c for c in q.columns("hosts") if c not in OWN]
    owned = [t for t in OWNED if q.columns(t)]
    q.run("CREATE TEMP TABLE tmpl AS SELECT (row_number() OVER (ORDER BY id)) - 1 "
          "AS k, id AS src FROM hosts")
    q.run("CREATE TEMP TABLE clone_map (new bigint PRIMARY KEY, g bigint, src bigint)")
    n = q.run("SELECT count(*) FROM tmpl")[0][0]
    base = q.run("SELECT max(id) FROM hosts")[0][0]
    if engine != "sqlite":
        con.commit()
    have, t0 = n, time.time()
    while have < total:
        a, b = have - n, min(have - n + 10000, total - n)
        if engine == "sqlite":
            q.run("BEGIN")
        q.run("DELETE FROM clone_map")
        q.run(f"INSERT INTO clone_map SELECT {base + 1} + g, g, t.src FROM "
              f"{q.series(a, b)} s JOIN tmpl t ON t.k = s.g % {n}")
        g = "m.g"
        addr = (f"'[{{\"ifname\":\"eth0\",\"address\":\"10.' || ({g} / 65536) || '.' || "
                f"({g} / 256 % 256) || '.' || ({g} % 256) || '\",\"prefix\":16}}]'")
        q.run(f"INSERT INTO hosts ({', '.join(OWN[:3] + OWN[3:5] + OWN[7:])}, "
              f"{', '.join(rest)}) SELECT m.new, "
              f"'00000000-0000-4000-9000-' || {q.pad(g, 12)}, "
              f"'clone-' || {q.pad(g, 6)}, 'clone-' || {q.pad(g, 6)}, {q.pad(g, 32)}, "
              f"{addr}, CASE WHEN {g} % 10 = 0 THEN 'silent' ELSE h.status END, "
              f"CASE WHEN {g} % 50 = 0 THEN 1 ELSE h.abandoned END, "
              f"CASE WHEN {g} % 50 = 0 THEN 1 ELSE h.mail_running END, "
              f"CASE WHEN {g} % 100 = 0 THEN 1 ELSE h.mail_exposed END, "
              f"CASE WHEN {g} % 100 = 0 THEN 4 ELSE h.severity END, 9999999999, "
              f"{', '.join('h.' + c for c in rest)} FROM clone_map m "
              f"JOIN hosts h ON h.id = m.src ORDER BY m.new")
        for t in owned:
            cols = [c for c in q.columns(t) if c not in ("id", "host_id")]
            q.run(f"INSERT INTO {t} (host_id, {', '.join(cols)}) SELECT m.new, "
                  f"{', '.join('x.' + c for c in cols)} FROM clone_map m "
                  f"JOIN {t} x ON x.host_id = m.src ORDER BY m.new")
        con.commit()
        have = n + b
        print(f"      {have} hosts stored ({time.time() - t0:.0f} s)", flush=True)
    if engine != "sqlite":
        # The identity goes on after the copies, as it would after theirs.
        q.run("SELECT setval(pg_get_serial_sequence('hosts', 'id'), max(id)) FROM hosts")
        con.commit()
    return time.time() - t0


GETS = ("/hosts", "/hosts?status=silent", "/hosts?abandoned=true&mail=true",
        "/hosts?severity=critical", "/hosts?project=bench&status=active",
        "/hosts?q=clone-04242", "/hosts?q=10.0.3.")


def latencies(server, out):
    for path in GETS:
        med, p95, total = sb.get_latency(server, path, n=50)
        out[f"GET {path} median"], out[f"GET {path} p95"] = med, p95
        out[f"GET {path} total"] = total
        print(f"    GET {path} ({total} match): median {med:.1f} ms, p95 {p95:.1f} ms",
              flush=True)


# --- pg_stat_statements (BENCH_ENGINE_PGSS=1) --------------------------------

PGSS_CON = [None]


def pgss_reset():
    if PGSS_CON[0]:
        PGSS_CON[0].cursor().execute("SELECT pg_stat_statements_reset()")


def pgss_print(name):
    if not PGSS_CON[0]:
        return
    cur = PGSS_CON[0].cursor()
    cur.execute("SELECT calls, total_exec_time, rows, left(regexp_replace(query, "
                "'\\s+', ' ', 'g'), 110) FROM pg_stat_statements ORDER BY "
                "total_exec_time DESC LIMIT 6")
    for calls, ms, rows, text in cur.fetchall():
        print(f"        pgss {ms:8.0f} ms {calls:7} calls {rows:8} rows  {text}")


# --- the engines ---------------------------------------------------------------

def sqlite_run(fleet, out):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-eng-"))
    try:
        server = Server(tmp, database=str(tmp / "derelict.db"), evaluate_every="60s")
        try:
            phases("SQLite, one node", [server], fleet, tmp, out)
            out["bytes"] = os.path.getsize(server.db) / HOSTS
            print(f"    database: {out['bytes'] / 1024:.0f} KiB per host "
                  f"(the file after the checkpoint; its WAL not counted)", flush=True)
            print(f"    growing to {BIG} hosts in the database:", flush=True)
            con = sqlite3.connect(server.db, timeout=600, isolation_level=None)
            out["grow"] = grow("sqlite", con, BIG)
            con.close()
            latencies(server, out)
        finally:
            server.stop()
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


def pg_size(cluster, db):
    return int(cluster.sql(f"SELECT pg_database_size('{db}')").strip())


def pg_run(cluster, fleet, one, two):
    import psycopg2
    empty = pg_size(cluster, "bench_empty")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-eng-"))
    try:
        uri = cluster.uri("bench_one")
        if PGSS:
            cluster.sql("CREATE EXTENSION pg_stat_statements", db="bench_one")
            PGSS_CON[0] = psycopg2.connect(uri)
            PGSS_CON[0].autocommit = True
        server = Server(tmp, database=uri, state_dir=str(tmp), evaluate_every="60s")
        try:
            phases("PostgreSQL, one node", [server], fleet, tmp, one)
            one["bytes"] = (pg_size(cluster, "bench_one") - empty) / HOSTS
            print(f"    database: {one['bytes'] / 1024:.0f} KiB per host "
                  f"(pg_database_size less an empty database's; its WAL not "
                  f"counted)", flush=True)
            big = cluster.sql(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE "
                "relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 2 "
                "DESC LIMIT 4", db="bench_one").splitlines()
            print("      the largest, with their indexes: " + ", ".join(
                f"{n} {int(b) / HOSTS / 1024:.0f} KiB" for n, b in
                (x.split("|") for x in big)) + " per host", flush=True)
            print(f"    growing to {BIG} hosts in the database:", flush=True)
            con = psycopg2.connect(uri)
            one["grow"] = grow("postgresql", con, BIG)
            con.autocommit = True
            t = time.time()
            con.cursor().execute("VACUUM ANALYZE")
            one["vacuum"] = time.time() - t
            con.close()
            print(f"      VACUUM ANALYZE: {one['vacuum']:.0f} s (what autovacuum "
                  f"does within a minute or so of such a growth)", flush=True)
            pgss_reset()
            latencies(server, one)
            pgss_print("GET /hosts")
        finally:
            server.stop()
            if PGSS_CON[0]:
                PGSS_CON[0].close()
                PGSS_CON[0] = None
        cluster.sql("DROP DATABASE bench_one")
        # Two nodes on one database: the second with its own state_dir,
        # as tests/integration/test_nodes.py's two_nodes() has them.
        uri = cluster.create_database("bench_two")
        if PGSS:
            cluster.sql("CREATE EXTENSION pg_stat_statements", db="bench_two")
            PGSS_CON[0] = psycopg2.connect(uri)
            PGSS_CON[0].autocommit = True
        t1, t2 = tmp / "one", tmp / "two"
        t1.mkdir()
        t2.mkdir()
        nodes = [Server(t1, database=uri, state_dir=str(t1), evaluate_every="60s")]
        try:
            nodes.append(Server(t2, token_suffix="-2", database=uri, state_dir=str(t2),
                                evaluate_every="60s"))
            phases("PostgreSQL, two nodes (each node half the hosts and "
                   f"{CONC // 2} of the connections)", nodes, fleet, tmp, two)
        finally:
            for s in nodes:
                s.stop()
            if PGSS_CON[0]:
                PGSS_CON[0].close()
                PGSS_CON[0] = None
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


def main():
    t_all = time.time()
    print(f"fleet: {HOSTS} hosts report ({len(sb.RELEASES)} releases, 1,500 "
          f"packages each, ~93% of versions shared within a release), "
          f"{CONC} requests in flight; GET /hosts at {BIG} hosts", flush=True)
    fleet = Fleet(HOSTS)
    print(f"  full report {fleet.first_kib:.0f} KiB of JSON; fleet built in "
          f"{time.time() - t_all:.0f} s", flush=True)
    cluster = pg.Cluster()
    try:
        if PGSS:
            cluster.sql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            cluster.stop()
            cluster.start()
        settings = dict(line.split("|", 1) for line in cluster.sql(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
            "('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', "
            "'shared_buffers')").splitlines())
        print(f"  PostgreSQL {settings['server_version']}, a cluster of the bench's own "
              f"on 127.0.0.1:{cluster.port}: fsync {settings['fsync']}, "
              f"synchronous_commit {settings['synchronous_commit']}, full_page_writes "
              f"{settings['full_page_writes']} (a 200 only after the commit is on "
              f"disk, as on SQLite), shared_buffers {settings['shared_buffers']}, "
              f"the rest as initdb leaves it; same 2 cores as "
              f"derelictd and the load", flush=True)
        print("  the fast path (server/fastpath.c) is off on PostgreSQL: an unchanged "
              "report waits for its commit there, while SQLite's node answers it at "
              "once and writes its last_seen within a second", flush=True)
        cluster.create_database("bench_empty")
        cluster.create_database("bench_one")
        lite, one, two = {}, {}, {}
        sqlite_run(fleet, lite)
        pg_run(cluster, fleet, one, two)
    finally:
        cluster.remove()

    def ratio(a, b):
        return f"{b / a:.2f}" if a and b is not None else "-"

    rows = [("enrollments", "hosts/s", "enroll", 1),
            ("first full reports", "/s", "first", 1),
            ("deltas (10 packages)", "/s", "delta", 1),
            ("unchanged reports", "/s", "same", 1),
            (f"database per host ({HOSTS} reported)", "KiB", "bytes", 1 / 1024)]
    for path in GETS:
        for k in ("median", "p95"):
            rows.append((f"GET {path} {k}", "ms", f"GET {path} {k}", 1))
    print()
    print(f"  {BIG} hosts for the GETs: grown in {lite['grow']:.0f} s on SQLite, "
          f"{one['grow']:.0f} s (+ VACUUM ANALYZE {one['vacuum']:.0f} s) on PostgreSQL")
    print(f"  {'figure':44} {'unit':>7} {'SQLite':>9} {'PG':>9} {'PG/SQLite':>9} "
          f"{'2 nodes':>9} {'2n/1n':>7}")
    for label, unit, k, scale in rows:
        a, b = lite[k] * scale, one[k] * scale
        c = two[k] * scale if k in two else None
        print(f"  {label:44} {unit:>7} {a:9.1f} {b:9.1f} {ratio(a, b):>9} "
              f"{f'{c:9.1f}' if c is not None else '        -':>9} "
              f"{ratio(b, c) if c is not None else '-':>7}")
    print(f"  (whole section: {time.time() - t_all:.0f} s)")


main()
