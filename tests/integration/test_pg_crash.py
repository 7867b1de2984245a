"""Durability on PostgreSQL (issue 19): kill -9 of PostgreSQL itself while
hosts report and viewers read.  While the engine is away derelictd answers
503 with a Retry-After (never a 500, never a hang, never a 200 for what it
could not commit); after crash recovery every report that got a 200 is
there, and derelictd, the same process, has reconnected by itself: reports
get 200 again, /healthz is healthy and the node leads again.

A cluster of the test's own (pg.py), so the session's shared one is never
disturbed: the test runs on either engine's run of the suite."""
import os
import signal
import threading
import time

import pg
from reports import Host, base_packages, package

SEQ = "derelict-seq"
CLIENTS = 8
# Longest any one request may take while PostgreSQL is away: a refused
# connection fails at once, libpq's connect_timeout is 10 s.
REQUEST_MAX_S = 12


def postmaster_pid(cluster):
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # A zombie has exited; only its parent's wait is missing.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return kids


class Reporter:
    """A host sending full reports in a loop, each carrying the next
    sequence number as a package version; every answer noted."""

    def __init__(self, server):
        self.host = Host(server)
        self.sent = []      # (seq, status, Retry-After, start, end)

    def acked(self):
        return [n for n, status, _, _, _ in self.sent if status == 200]

    def loop(self, stop, give_up):
        n = 0
        while time.time() < give_up:
            n += 1
            rep = self.host.report(
                packages=base_packages() + [package(SEQ, f"{n}-1")])
            t0 = time.time()
            try:
                status, _, headers = self.host.send(rep)
                retry = headers.get("Retry-After")
            except OSError as e:    # a cut connection, a timeout
                status, retry = repr(e), None
            self.sent.append((n, status, retry, t0, time.time()))
            # Until the last report sent is one acknowledged.
            if stop.is_set() and status == 200:
                return
            time.sleep(0.02)


class Reader:
    """A viewer reading lists and a host's history in a loop."""

    def __init__(self, server, host_id):
        self.server = server
        self.paths = ("/hosts?limit=50", f"/hosts/{host_id}",
                      f"/hosts/{host_id}/changes?limit=20",
                      "/findings?limit=20")
        self.got = []       # (path, status, Retry-After, start, end)

    def loop(self, stop, give_up):
        i = 0
        while not stop.is_set() and time.time() < give_up:
            path = self.paths[i % len(self.paths)]
            i += 1
            t0 = time.time()
            try:
                status, _, headers = self.server.api(
                    "GET", path, token=self.server.viewer_token)
                retry = headers.get("Retry-After")
            except OSError as e:
                status, retry = repr(e), None
            self.got.append((path, status, retry, t0, time.time()))
            time.sleep(0.02)


def healthz(server):
    return server.api("GET", "/healthz", token=None)


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def test_kill_9_of_postgresql_under_load(make_server, tmp_path):
    cluster = pg.Cluster()
    s = None
    try:
        s = make_server(database=cluster.create_database("crash"),
                        state_dir=str(tmp_path), evaluate_every="1s")
        pid = s.proc.pid
        reporters = [Reporter(s) for _ in range(CLIENTS)]
        readers = [Reader(s, reporters[i].host.id) for i in range(2)]
        stop, stop_reads = threading.Event(), threading.Event()
        give_up = time.time() + 120
        threads = ([threading.Thread(target=r.loop, args=(stop, give_up))
                    for r in reporters] +
                   [threading.Thread(target=r.loop,
                                     args=(stop_reads, give_up))
                    for r in readers])
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            assert healthz(s)[0] == 200
            # PostgreSQL dies at once, as by the OOM killer: the postmaster
            # first; its backends and workers exit when they see it gone.
            pm = postmaster_pid(cluster)
            kids = children(pm)
            assert kids, "no backends under the postmaster"
            killed = time.time()
            os.kill(pm, signal.SIGKILL)
            assert wait_for(lambda: not any(alive(p) for p in [pm] + kids),
                            15), [p for p in kids if alive(p)]
            dead = time.time()
            # Away a while: every answer now is a 503.
            health = []
            while time.time() < dead + 2:
                health.append(healthz(s))
                time.sleep(0.2)
            restart = time.time()
            cluster.start()     # crash recovery on the same data dir
            up = time.time()

            def all_acked_since_up():
                return all(any(st == 200 and t0 > up
                               for _, st, _, t0, _ in r.sent)
                           for r in reporters)

            assert wait_for(all_acked_since_up, 30)
            back = min(t0 for r in reporters
                       for _, st, _, t0, _ in r.sent if st == 200 and t0 > up)
            healthy = wait_for(lambda: healthz(s)[0] == 200, 10)
            assert healthy, healthz(s)
            leads = wait_for(lambda: healthz(s)[1]["leader"] is True, 10)
            assert leads, healthz(s)
            time.sleep(0.5)
        finally:
            stop.set()
            stop_reads.set()
            for t in threads:
                t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)

        # The same process throughout.
        assert s.proc.poll() is None and s.proc.pid == pid

        # While the engine was away: /healthz and every request a 503 with
        # a Retry-After; nothing took longer than its timeouts.
        assert health and all(st == 503 for st, _, _ in health), health
        assert all(b["status"] == "failing" and h.get("Retry-After")
                   for _, b, h in health), health
        sent = [x for r in reporters for x in r.sent]
        got = [x for r in readers for x in r.got]
        for what, rows in (("reports", sent), ("reads", got)):
            statuses = {st for _, st, _, _, _ in rows}
            assert statuses <= {200, 503}, (what, statuses)
            assert all(retry for _, st, retry, _, _ in rows if st == 503), what
            longest = max(t1 - t0 for _, _, _, t0, t1 in rows)
            assert longest <= REQUEST_MAX_S, (what, longest)
            away = [st for _, st, _, t0, t1 in rows
                    if t0 > dead and t1 < restart]
            assert len(away) >= 4 and set(away) == {503}, (what, away)

        # Every acknowledged report is there after the crash recovery: the
        # last is each host's current state, each one is in its history.
        for r in reporters:
            acked = r.acked()
            assert any(t0 < killed for _, st, _, t0, _ in r.sent if st == 200)
            assert r.sent[-1][1] == 200, r.sent[-3:]
            st, pk, _ = s.section(r.host.id, "packages")
            assert st == 200, pk
            seq = [p["version"] for p in pk["items"] if p["name"] == SEQ]
            assert seq == [f"{acked[-1]}-1"], (seq, acked[-5:])
            st, body, _ = s.api("GET",
                                f"/hosts/{r.host.id}/changes?limit=1000")
            assert st == 200, body
            assert not body.get("next_cursor"), "more history than a page"
            stored = set()
            for c in body["items"]:
                if c["section"] == "packages" and \
                   c["key"].startswith(SEQ + ":"):
                    stored |= {(c[k] or {}).get("version")
                               for k in ("old", "new")}
            missing = [n for n in acked if f"{n}-1" not in stored]
            assert not missing, missing

        first_503 = min(t0 for _, st, _, t0, _ in sent if st == 503)
        last_503 = max(t1 for _, st, _, _, t1 in sent if st == 503)
        late = [t1 - up for _, st, _, t0, t1 in sent + got
                if st == 503 and t0 > up]
        print(f"killed -> all gone {dead - killed:.2f}s; 503s for "
              f"{last_503 - first_503:.1f}s ({sum(1 for x in sent if x[1] == 503)} "
              f"reports, {sum(1 for x in got if x[1] == 503)} reads); "
              f"restart took {up - restart:.1f}s; first 200 "
              f"{back - up:.2f}s after it was up, {len(late)} 503s after "
              f"it was up (the last {max(late, default=0):.2f}s after); "
              f"{sum(len(r.acked()) for r in reporters)} acknowledged")
    finally:
        if s is not None:
            s.stop()
        cluster.remove()
