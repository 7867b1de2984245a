#!/usr/bin/python3
"""Server benchmark: a synthetic fleet with realistic reports (1,500
packages, 40 ports, 150 services, 200 process groups per host) sent by a
separate load process (loadgen, libcurl) over loopback to a real derelictd
with its database on disk.  Prints the figures; asserts nothing about time.

  server_bench.py BUILD_DIR LOADGEN [HOSTS]

With BENCH_BASE_DERELICTD (run.sh builds it from git: where this branch
left main), the realistic fleet's figures (issue 18) are printed beside the
same figures of that derelictd, same run, with their ratio; BENCH_HOSTS
then sets the fleet's size (100000: it reports BENCH_REPORTS hosts over
HTTP and copies them in the database up to that size, printing progress).

Every phase keeps BENCH_CONC (64) requests in flight: a fleet of thousands
of agents has many reports arriving at once.  Each load line also says how
busy the single writer was.
"""
import http.client
import json
import os
import pathlib
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))
from conftest import Server  # noqa: E402
from reports import enroll_many, package, packages_delta, section_hash  # noqa: E402

# engine_bench.py imports the fleet and the loads from here (and sets
# loadgen itself); run as a script, the arguments are these.
if __name__ == "__main__":
    build, loadgen = pathlib.Path(sys.argv[1]), sys.argv[2]
    HOSTS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    os.environ.setdefault("DERELICTD", str(build.resolve() / "derelictd"))


def machine_packages():
    out = subprocess.run(["dpkg-query", "-W", "-f",
                          "${Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n"],
                         capture_output=True, text=True).stdout.split("\n")
    pk = []
    for line in out:
        f = line.split()
        if len(f) == 5:
            pk.append(package(f[0], f[1], f[2], f[3], f[4]))
    i = 0
    while len(pk) < 1500:
        pk.append(package(f"synthetic-lib{i}", f"1.{i}.0-1", "amd64"))
        i += 1
    return pk[:1500]


def fleet_sections():
    ports = [{"proto": "tcp" if i % 4 else "udp", "address": "0.0.0.0" if i % 3 else "127.0.0.1",
              "port": 1000 + i, "pid": 100 + i, "process": f"daemon{i}",
              "exe": f"/usr/sbin/daemon{i}", "user": "root"} for i in range(40)]
    services = [{"name": f"unit{i}.service", "active": "active", "sub": "running",
                 "enabled": "enabled", "main_pid": 100 + i} for i in range(150)]
    procs = [{"name": f"prog{i}", "exe": f"/usr/bin/prog{i}", "user": "root" if i % 2 else "www-data",
              "count": 1 + i % 5} for i in range(200)]
    return ports, services, procs


def seal(s):
    s["hash"] = section_hash(s)
    return s


def full_report(host, pk, ports, services, procs):
    return {
        "schema": 1, "agent": {"id": host.agent_id, "version": "bench"},
        "collected_at": "2026-11-26T10:00:00Z",
        "host": {"hostname": host.hostname, "fqdn": host.hostname, "machine_id": host.agent_id.replace("-", ""),
                 "os": {"id": "debian", "version_id": "12", "codename": "bookworm",
                        "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
                 "kernel": "6.1.0-13-amd64", "arch": "x86_64", "boot_time": "2026-11-20T08:00:00Z",
                 "addresses": [{"ifname": "eth0", "address": "10.1.2.3", "prefix": 24}],
                 "project": "bench", "owner": None},
        "sections": {
            "ports": seal({"items": ports}),
            "services": seal({"source": "systemd", "items": services}),
            "processes": seal({"items": procs}),
            "packages": seal({"manager": "dpkg", "changed_at": "2026-11-01T00:00:00Z", "items": pk}),
            "logins": seal({"source": "wtmp", "open_sessions": 0, "last": None, "items": []}),
        },
    }


def write_jobs(tmp, name, hosts, bodies):
    jobs = tmp / f"{name}.jobs"
    with open(jobs, "w") as f:
        for h, body in zip(hosts, bodies):
            p = tmp / f"{name}-{h.id}.json"
            p.write_bytes(body)
            f.write(f"{h.token} {p}\n")
    return jobs


CONC = int(os.environ.get("BENCH_CONC", "64"))


def verdict(value, target, lower_is_better=False):
    """Issue 4's target beside a figure: met or missed, never asserted."""
    met = value <= target if lower_is_better else value >= target
    return f"target {target:g}{' ms' if lower_is_better else '/s'}: {'met' if met else 'missed'}"


def metric(server, name):
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.request("GET", "/api/v1/metrics",
                 headers={"Authorization": f"Bearer {server.admin_token}"})
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def rss_anon(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon"):
            return int(line.split()[1]) / 1024
    return 0.0


ANON_PEAK = [0.0]


def load(server, jobs, conc=CONC, rounds=1):
    """Runs loadgen; returns its rate and a line with its figures, how busy
    the single writer was (from /metrics) and the server's anonymous RSS.
    Each load starts from a settled server: the WAL the phase before left
    is copied back first (the server checkpoints every second), so one
    phase's background work is not counted against the next."""
    time.sleep(3)
    busy0 = metric(server, "derelict_ingest_batch_seconds_sum")
    t0 = time.time()
    p = subprocess.Popen([loadgen, server.url, str(jobs), str(conc), str(rounds)],
                         stdout=subprocess.PIPE, text=True)
    while p.poll() is None:
        ANON_PEAK[0] = max(ANON_PEAK[0], rss_anon(server.proc.pid))
        time.sleep(0.05)
    wall = time.time() - t0
    busy = metric(server, "derelict_ingest_batch_seconds_sum") - busy0
    line = p.stdout.read().strip()
    rate = float(line.split(":")[1].split("/s")[0]) if line.startswith("requests") else 0.0
    return rate, f"{line}; writer busy {100 * busy / wall:.0f}%"


def rss_peak(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def db_bytes(server):
    return sum(os.path.getsize(str(server.db) + s) for s in ("", "-wal")
               if os.path.exists(str(server.db) + s))


def get_latency(server, path, n=50):
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    hdr = {"Authorization": f"Bearer {server.admin_token}"}
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/api/v1" + path, headers=hdr)
        r = conn.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t) * 1e3)
        assert r.status == 200, body[:200]
    total = json.loads(body)["total"]
    return statistics.median(times), sorted(times)[int(n * 0.95)], total


def threads_and_rss(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("Threads:", "VmRSS:")):
            k, v = line.split(":")
            out[k] = int(v.split()[0])
    return out["Threads"], out["VmRSS"] / 1024


def thread_model(name, env, hosts_n, pk, ports, services, procs):
    """One server in the given thread model: reports against the writer,
    and what 1,000 idle connections cost it."""
    import socket
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-tm-"))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        server = Server(tmp, evaluate_every="60s")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    held = []
    try:
        hosts = enroll_many(server, hosts_n)
        reps = [full_report(h, pk, ports, services, procs) for h in hosts]
        jobs = write_jobs(tmp, "first", hosts, [json.dumps(r).encode() for r in reps])
        full, _ = load(server, jobs)
        same = []
        for r in reps:
            r = dict(r)
            r["sections"] = {k: {"hash": v["hash"]} for k, v in r["sections"].items()}
            same.append(json.dumps(r).encode())
        jobs = write_jobs(tmp, "same", hosts, same)
        unchanged = [load(server, jobs, conc=c, rounds=5)[0] for c in (CONC, 128)]
        threads0, rss0 = threads_and_rss(server.proc.pid)
        for a in range(10):
            for _ in range(100):
                s = socket.socket()
                s.bind((f"127.0.4.{a + 1}", 0))
                s.connect(("127.0.0.1", server.port))
                held.append(s)
        time.sleep(1)
        threads1, rss1 = threads_and_rss(server.proc.pid)
        t = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        healthz = (time.perf_counter() - t) * 1e3
        print(f"  {name}: first full reports {full:.0f}/s; unchanged re-reports "
              f"{unchanged[0]:.0f}/s at {CONC} in flight, {unchanged[1]:.0f}/s at 128; "
              f"1,000 idle connections: +{threads1 - threads0} threads, "
              f"+{rss1 - rss0:.1f} MiB RSS, /healthz beside them {healthz:.1f} ms")
    finally:
        for s in held:
            s.close()
        server.stop()
        subprocess.run(["rm", "-rf", str(tmp)])

def notify_cost(hosts_n, pk, ports, services, procs):
    """Issue 17: the same first reports of hosts whose project has ended
    (so every report opens findings), with no notification configured and
    with a webhook whose receiver answers at once; every opened finding is
    then an outbox row written in the report's own transaction."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got = []

    class Sink(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append(self.headers.get("webhook-id"))
            self.send_response(204)
            self.end_headers()

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    results = {}
    try:
        for name in ("off", "webhook"):
            tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-nt-"))
            conf = {}
            if name == "webhook":
                secret = tmp / "webhook-secret"
                secret.write_text("whsec_" + base64.b64encode(os.urandom(32)).decode())
                os.chmod(secret, 0o600)
                conf = {"notify.webhook_url": f"http://127.0.0.1:{sink.server_port}/hook",
                        "notify.webhook_secret_file": str(secret)}
            server = Server(tmp, evaluate_every="60s", **conf)
            try:
                server.api("POST", "/projects", {"name": "bench", "ends_on": "2025-01-01"})
                hosts = enroll_many(server, hosts_n)
                reps = [full_report(h, pk, ports, services, procs) for h in hosts]
                jobs = write_jobs(tmp, "first", hosts,
                                  [json.dumps(r).encode() for r in reps])
                before = len(got)
                rate, _ = load(server, jobs)
                opened = server.api("GET", "/findings?status=open&limit=1")[1]["total"]
                t, sent = time.perf_counter(), 0
                while name == "webhook" and time.perf_counter() - t < 120:
                    sent = len(got) - before
                    if sent >= opened:
                        break
                    time.sleep(0.2)
                results[name] = (rate, opened, sent, time.perf_counter() - t)
            finally:
                server.stop()
                subprocess.run(["rm", "-rf", str(tmp)])
    finally:
        sink.shutdown()
    off, on = results["off"], results["webhook"]
    print(f"notifications ({hosts_n} hosts of an ended project, first full reports): "
          f"none {off[0]:.0f}/s, a webhook {on[0]:.0f}/s ({on[0] / off[0]:.2f}x); "
          f"{on[1]} findings opened, {on[2]} events delivered "
          f"{on[3]:.1f} s after the last report")


# --- issue 18: a realistic fleet, this derelictd beside the base's ----------

RELEASES = (("bookworm", "12"), ("bullseye", "11"), ("trixie", "13"))


def cpu_seconds(pid, thread=None):
    """CPU time (user and system) of the process, or of its thread of
    that name: on a shared machine a steadier measure than the wall."""
    tick = os.sysconf("SC_CLK_TCK")
    if thread is None:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick
    for t in os.listdir(f"/proc/{pid}/task"):
        if open(f"/proc/{pid}/task/{t}/comm").read().strip() == thread:
            f = open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tick
    return 0.0


def realistic_packages(pk, host_no):
    """A host's 1,500 packages: its release's (host_no % 3) versions, 8% of
    them one of three older versions others of the release run too, 7% a
    version of its own (local builds, pinned backports): about 93% of its
    versions shared within the release."""
    rel = host_no % len(RELEASES)
    rng = random.Random(host_no)
    out = []
    for j, p in enumerate(pk):
        v = f"{p['version']}~r{rel}"
        r = rng.random()
        if r < 0.07:
            v += f"+local{host_no}"
        elif r < 0.15:
            v += f"~old{rng.randrange(3)}"
        q = dict(p, version=v)
        if q["source_version"] == p["version"]:
            q["source_version"] = v
        out.append(q)
    return out


def realistic_report(host, host_no, pk, ports, services, procs):
    rep = full_report(host, realistic_packages(pk, host_no), ports, services, procs)
    code, ver = RELEASES[host_no % len(RELEASES)]
    rep["host"]["os"] = {"id": "debian", "version_id": ver, "codename": code,
                         "pretty_name": f"Debian GNU/Linux {ver} ({code})"}
    return rep


def clone_hosts(db_path, total, progress,
                templates_sql="SELECT id FROM hosts ORDER BY id"):
    """Copies the reported hosts (those templates_sql selects), each with
    its sections and packages (in whichever schema the database has),
    until there are total hosts: 1,000 at a time, each table's rows in its
    key's order.  tests/integration/test_migrate_to.py grows its database
    with it too."""
    db = sqlite3.connect(db_path, timeout=600)
    db.execute("PRAGMA cache_size = -1000000")
    db.execute("PRAGMA synchronous = OFF")
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
              if t in ("sections", "packages", "host_packages", "package_hosts",
                       "host_state")]
    info = {t: list(db.execute(f"PRAGMA table_info({t})")) for t in tables}
    hcols = [c[1] for c in db.execute("PRAGMA table_info(hosts)")
             if c[1] not in ("id", "agent_id", "hostname", "machine_id", "token_hash")]
    templates = [i for (i,) in db.execute(templates_sql)]
    db.execute("CREATE TEMP TABLE clone_map (new INTEGER PRIMARY KEY, src INTEGER)")
    have = db.execute("SELECT count(*) FROM hosts").fetchone()[0]
    t0 = time.time()
    while have < total:
        db.execute("BEGIN")
        db.execute("DELETE FROM clone_map")
        for _ in range(min(1000, total - have)):
            src = templates[have % len(templates)]
            cur = db.execute(f"INSERT INTO hosts (agent_id, hostname, machine_id, {', '.join(hcols)}) "
                             f"SELECT printf('00000000-0000-4000-9000-%012d', ?1), "
                             f"printf('clone-%06d', ?1), printf('%032d', ?1), {', '.join(hcols)} "
                             f"FROM hosts WHERE id = ?2", (have, src))
            db.execute("INSERT INTO clone_map VALUES (?, ?)", (cur.lastrowid, src))
            have += 1
        for t in tables:
            rest = [c[1] for c in info[t] if c[1] not in ("host_id", "id")]
            key = [c[1] for c in sorted(info[t], key=lambda c: c[5]) if c[5]] or ["host_id"]
            order = ", ".join("m.new" if k == "host_id" else f"x.{k}" for k in key)
            db.execute(f"INSERT INTO {t} (host_id, {', '.join(rest)}) SELECT m.new, "
                       f"{', '.join('x.' + c for c in rest)} FROM clone_map m JOIN {t} x "
                       f"ON x.host_id = m.src ORDER BY {order}")
        db.commit()
        if progress:
            print(f"    {have} hosts stored ({time.time() - t0:.0f} s)", flush=True)
    db.close()


def matched(db_path):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
    try:
        return db.execute("SELECT matched_digest FROM advisory_state").fetchone()[0]
    finally:
        db.close()


def due_hosts(db_path):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
    try:
        return db.execute("SELECT count(*) FROM hosts WHERE next_eval_at = 0").fetchone()[0]
    finally:
        db.close()


def fleet_figures(binary, n_http, total, pk, ports, services, procs):
    """One derelictd's figures on the realistic fleet, as a dict."""
    import conftest
    saved = conftest.DERELICTD
    conftest.DERELICTD = binary
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-fleet-"))
    out = {}
    try:
        server = Server(tmp, evaluate_every="60s")
        try:
            hosts = enroll_many(server, n_http)
            reps = [realistic_report(h, i, pk, ports, services, procs) for i, h in enumerate(hosts)]
            jobs = write_jobs(tmp, "first", hosts, [json.dumps(r).encode() for r in reps])
            time.sleep(3)
            cpu0 = cpu_seconds(server.proc.pid)
            wcpu0 = cpu_seconds(server.proc.pid, "derelictd-write")
            out["first"], line = load(server, jobs)
            time.sleep(2)   # the fleet index's pass after the reports counts too
            out["first_cpu_ms"] = 1e3 * (cpu_seconds(server.proc.pid) - cpu0) / n_http
            out["first_writer_ms"] = 1e3 * (cpu_seconds(server.proc.pid, "derelictd-write")
                                            - wcpu0) / n_http
            print(f"    first full reports: {line}", flush=True)
            time.sleep(3)
            out["bytes"] = os.path.getsize(server.db) / n_http
            # Six rounds of a second or less each: one round's rate moves
            # by a fifth from run to run, their median and the CPU per
            # delta much less.
            rates, cpus, wcpus = [], [], []
            cur = reps
            for k in range(int(os.environ.get("BENCH_DELTA_ROUNDS", "6"))):
                changed, nxt = [], []
                for r in cur:
                    items = [dict(p) for p in r["sections"]["packages"]["items"]]
                    for i in random.Random(k).sample(range(len(items)), 10):
                        items[i]["version"] += f"+u{k}"
                        items[i]["source_version"] = items[i]["version"]
                    new = seal({"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z",
                                "items": items})
                    d = dict(r)
                    d["sections"] = {x: {"hash": v["hash"]} for x, v in r["sections"].items()}
                    d["sections"]["packages"] = packages_delta(r["sections"]["packages"], new)
                    changed.append(json.dumps(d).encode())
                    nxt.append(dict(r, sections=dict(r["sections"], packages=new)))
                jobs = write_jobs(tmp, f"delta{k}", hosts, changed)
                cpu0 = cpu_seconds(server.proc.pid)
                wcpu0 = cpu_seconds(server.proc.pid, "derelictd-write")
                rate, line = load(server, jobs)
                cpus.append(1e3 * (cpu_seconds(server.proc.pid) - cpu0) / n_http)
                wcpus.append(1e3 * (cpu_seconds(server.proc.pid, "derelictd-write")
                                    - wcpu0) / n_http)
                rates.append(rate)
                cur = nxt
            out["delta"] = statistics.median(rates)
            out["delta_cpu_ms"] = statistics.median(cpus)
            out["delta_writer_ms"] = statistics.median(wcpus)
            print(f"    deltas: median {out['delta']:.0f}/s of {len(rates)} rounds "
                  f"({', '.join(f'{r:.0f}' for r in rates)}); last: {line}", flush=True)
        finally:
            server.stop()
        if total > n_http:
            clone_hosts(server.db, total, True)
        server.start()
        try:
            name = pk[0]["name"]
            for path in ("/hosts", "/hosts?status=active", "/hosts?abandoned=true&mail=true",
                         f"/packages?name={name}", f"/packages?name={name}&limit=500"):
                out["GET " + path] = get_latency(server, path, n=20)[0]
            # An advisory change for a source every host has: the time
            # until every host it touches has been matched again.
            src = pk[0]["source"]
            adv = tmp / "tracker.json"
            adv.write_text(json.dumps({src: {"CVE-2026-99999": {
                "description": "bench", "scope": "remote",
                "releases": {c: {"status": "resolved", "urgency": "high", "repositories": {},
                                 "fixed_version": "999:1"} for c, _ in RELEASES}}}}))
            before = matched(server.db)
            t = time.time()
            server.cli("advisories", "update", str(adv))
            limit = float(os.environ.get("BENCH_REMATCH_MAX", "600"))
            while time.time() - t < limit and matched(server.db) == before:
                time.sleep(0.1)
            while time.time() - t < limit and due_hosts(server.db):
                time.sleep(0.2)
            left = due_hosts(server.db)
            out["rematch"] = time.time() - t if not left else float("inf")
            print(f"    re-match after an advisory change: {out['rematch']:.1f} s"
                  f"{f', {left} hosts still due' if left else ''}", flush=True)
        finally:
            server.stop()
    finally:
        conftest.DERELICTD = saved
        subprocess.run(["rm", "-rf", str(tmp)])
    return out


def fleet_compare(base, total, pk, ports, services, procs):
    n_http = min(total, int(os.environ.get("BENCH_REPORTS", "1000")))
    print(f"realistic fleet (issue 18): {n_http} hosts report, {total} stored; "
          f"{len(RELEASES)} releases, {len(pk)} packages each, ~93% of versions "
          f"shared within a release")
    figs = {}
    for name, binary in (("base", base), ("this", os.environ["DERELICTD"])):
        print(f"  {name} ({binary}):", flush=True)
        figs[name] = fleet_figures(binary, n_http, total, pk, ports, services, procs)
    rows = [("bytes per host (KiB)", "bytes", 1 / 1024),
            ("first full reports/s", "first", 1),
            ("server CPU ms per first report", "first_cpu_ms", 1),
            ("writer thread CPU ms per first report", "first_writer_ms", 1),
            ("delta reports/s (10 packages)", "delta", 1),
            ("server CPU ms per delta", "delta_cpu_ms", 1),
            ("writer thread CPU ms per delta", "delta_writer_ms", 1)]
    rows += [(f"{k} median ms ({total} hosts)", k, 1) for k in figs["this"] if k.startswith("GET ")]
    rows += [(f"re-match s ({total} hosts)", "rematch", 1)]
    print(f"  {'':44} {'base':>10} {'this':>10} {'this/base':>10}")
    for label, k, scale in rows:
        a, b = figs["base"][k] * scale, figs["this"][k] * scale
        d = 2 if max(a, b) < 10 else 1
        print(f"  {label:44} {a:10.{d}f} {b:10.{d}f} {b / a if a else 0:10.2f}")
    parse_floor(figs["base"]["first_cpu_ms"], pk, ports, services, procs)


def parse_floor(base_ms, pk, ports, services, procs):
    """What jansson alone costs for one first report of this fleet (the
    least any server reading this wire form does), beside the budget a 5x
    cut of the base's server CPU per first report leaves."""
    tool = pathlib.Path(loadgen).parent / "parse_floor"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-parse-"))
    try:
        class Host:
            agent_id, hostname = "00000000-0000-4000-9000-000000000001", "parse-1"
        rep = realistic_report(Host, 1, pk, ports, services, procs)
        (tmp / "report.json").write_text(json.dumps(rep))
        del rep["sections"]["packages"]
        (tmp / "without-packages.json").write_text(json.dumps(rep))
        out = subprocess.run([str(tool), str(tmp / "report.json"),
                              str(tmp / "without-packages.json")],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        (_, whole_b, whole), (_, rest_b, rest) = (l.split() for l in out[:2])
        print(f"  jansson's parse and free of one first report ({int(whole_b) >> 10} KiB): "
              f"{float(whole):.2f} ms, {float(rest):.2f} ms of it without the packages "
              f"section ({int(rest_b) >> 10} KiB); a 5x cut of the base's server CPU per "
              f"first report leaves {base_ms / 5:.2f} ms for all of it")
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


def main():
    if os.environ.get("BENCH_BASE_DERELICTD"):
        fleet_compare(os.environ["BENCH_BASE_DERELICTD"], HOSTS, machine_packages(),
                      *fleet_sections())
        if os.environ.get("BENCH_FLEET_ONLY"):
            return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-"))
    server = Server(tmp, evaluate_every="60s")
    try:
        pk = machine_packages()
        ports, services, procs = fleet_sections()
        print(f"fleet: {HOSTS} hosts, {len(pk)} packages, {len(ports)} ports, "
              f"{len(services)} services, {len(procs)} process groups each")
        t = time.time()
        hosts = enroll_many(server, HOSTS)
        print(f"enrollment: {HOSTS / (time.time() - t):.0f} hosts/s")

        reps = [full_report(h, pk, ports, services, procs) for h in hosts]
        bodies = [json.dumps(r).encode() for r in reps]
        print(f"full report: {len(bodies[0]) / 1024:.0f} KiB of JSON")
        rate, line = load(server, write_jobs(tmp, "first", hosts, bodies))
        print(f"first full reports: {rate:.0f}/s, {verdict(rate, 300)}  ({line})")
        time.sleep(3)  # the WAL is copied back before the size is taken
        size = os.path.getsize(server.db)
        print(f"database: {size / HOSTS / 1024:.0f} KiB per host ({size / 2**20:.0f} MiB "
              f"for {HOSTS} hosts; WAL file {db_bytes(server) - size >> 20} MiB)")

        # Ten packages upgraded on every host, sent as the agent sends
        # them: a delta of the packages section, the rest as bare hashes.
        def upgrade(rep, tag):
            items = [dict(p) for p in rep["sections"]["packages"]["items"]]
            for i in random.sample(range(len(items)), 10):
                items[i]["version"] += tag
                items[i]["source_version"] = items[i]["version"]
            new = seal({"manager": "dpkg", "changed_at": "2026-11-26T00:00:00Z", "items": items})
            out = dict(rep)
            out["sections"] = {k: {"hash": v["hash"]} for k, v in rep["sections"].items()}
            return out, new

        # Three rounds, each a delta from what the round before stored.
        cur, rates = reps, []
        for k in range(3):
            changed, nxt = [], []
            for r in cur:
                out, new = upgrade(r, f"+bench{k}")
                out["sections"]["packages"] = packages_delta(r["sections"]["packages"], new)
                changed.append(json.dumps(out).encode())
                r2 = dict(r)
                r2["sections"] = dict(r["sections"], packages=new)
                nxt.append(r2)
            if k == 0:
                print(f"delta report with 10 changed packages: {len(changed[0])} bytes")
            rate, line = load(server, write_jobs(tmp, f"changed{k}", hosts, changed))
            rates.append(rate)
            print(f"  round {k + 1}: {line}")
            cur = nxt
        print(f"reports with 10 changed packages (delta): median {statistics.median(rates):.0f}/s "
              f"of 3 rounds, {verdict(statistics.median(rates), 2000)}")
        # The same in full, as an agent that lost its state sends them.
        fulls = []
        for r in cur:
            out, new = upgrade(r, "+full")
            out["sections"]["packages"] = new
            fulls.append(json.dumps(out).encode())
        rate, line = load(server, write_jobs(tmp, "changedfull", hosts, fulls))
        print(f"reports with 10 changed packages (full section): {rate:.0f}/s  ({line})")
        changed = fulls

        same = []
        for r, body in zip(reps, changed):
            rep = json.loads(body)
            rep["sections"] = {k: {"hash": v["hash"]} for k, v in rep["sections"].items()}
            same.append(json.dumps(rep).encode())
        print(f"unchanged report: {len(same[0])} bytes")
        rates = []
        for k in range(3):
            rate, line = load(server, write_jobs(tmp, "same", hosts, same), rounds=5)
            rates.append(rate)
            print(f"  round {k + 1}: {line}")
        print(f"unchanged re-reports: median {statistics.median(rates):.0f}/s of 3 runs, "
              f"{verdict(statistics.median(rates), 10000)}")
        print(f"server peak RSS under load: {rss_peak(server.proc.pid):.0f} MiB, of it "
              f"{ANON_PEAK[0]:.0f} MiB anonymous at most (the rest is the database, "
              f"mapped by the writer, and shared libraries)")

        # 100,000 hosts stored: the rest are added straight to the database
        # (enrolling them over HTTP would only measure enrollment).
        db = sqlite3.connect(server.db, timeout=60)
        extra = 100000 - HOSTS
        db.execute("BEGIN")
        db.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO hosts (agent_id, hostname, first_seen, last_seen, status, abandoned,
                               mail_running, mail_exposed, severity, addresses, next_eval_at)
            SELECT printf('00000000-0000-4000-8000-%012d', i), printf('synthetic-%06d', i),
                   1700000000, 1790000000, CASE WHEN i % 10 = 0 THEN 'silent' ELSE 'active' END,
                   i % 50 = 0, i % 20 = 0, i % 100 = 0, CASE WHEN i % 100 = 0 THEN 4 ELSE 0 END,
                   '[{"ifname":"eth0","address":"10.9.' || (i / 250) || '.' || (i % 250) || '","prefix":16}]',
                   9999999999 FROM n""", (extra,))
        db.commit()
        db.close()
        for path in ("/hosts", "/hosts?abandoned=true&mail=true", "/hosts?status=silent",
                     "/hosts?severity=critical", "/hosts?q=synthetic-009999", "/hosts?q=10.9.3",
                     "/hosts?project=bench", f"/packages?name={pk[0]['name']}"):
            med, p95, total = get_latency(server, path)
            target = f", {verdict(p95, 20, True)} (p95)" if path.startswith("/hosts") else ""
            print(f"GET {path} (100,000 hosts, {total} match): median {med:.1f} ms, "
                  f"p95 {p95:.1f} ms{target}")
        print(f"server peak RSS at the end: {rss_peak(server.proc.pid):.0f} MiB")
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(tmp)])
    # Issue 13: the thread model.  The shipped one (a thread per
    # connection, polled with poll(), so past 1,024 descriptors) beside
    # the alternative, epoll with a fixed pool where a report waiting for
    # the writer holds a pool thread; same fleet, same run.
    n = min(HOSTS, 500)
    print(f"thread model ({n} hosts):")
    for name, env in (("thread per connection (shipped)", {}),
                      ("epoll, pool of 8 threads", {"DERELICTD_BENCH_EPOLL_THREADS": "8"}),
                      ("epoll, pool of 32 threads", {"DERELICTD_BENCH_EPOLL_THREADS": "32"})):
        thread_model(name, env, n, pk, ports, services, procs)
    notify_cost(n, pk, ports, services, procs)


if __name__ == "__main__":
    main()
