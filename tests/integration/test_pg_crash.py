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
import uuid

import pytest

import pg
from reports import Host, base_packages, package

from conftest import wait_for

SEQ = "derelict-seq"
CLIENTS = 8
# Longest any one request may take while PostgreSQL is away: a refused
# connection fails at once, libpq's connect_timeout is 10 s.
REQUEST_MAX_S = 12
# More requests at once than derelictd has connections (8 readers).
BURST = 16


def postmaster_pid(cluster):
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # A zombie has exited; only its parent's wait is missing.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def processes_of(cluster):
    """Every process of the cluster: the postmaster and whatever it forked
    (a backend, an autovacuum worker started a moment ago), known by
    their working directory, the data directory, which an orphan keeps."""
    data = os.path.realpath(cluster.data)
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/cwd") == data and alive(int(d)):
                    pids.append(int(d))
            except OSError:
                continue
    return pids


class Reporter:
    """A host sending full reports in a loop, each carrying the next
    sequence number as a package version; every answer noted."""

    def __init__(self, server, abort):
        self.host = Host(server)
        self.abort = abort      # the test failed: no more tries
        self.sent = []      # (seq, status, Retry-After, start, end)

    def acked(self):
        return [n for n, status, _, _, _ in self.sent if status == 200]

    def loop(self, stop, give_up):
        n = 0
        while time.time() < give_up and not self.abort.is_set():
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


class Enroller:
    """New agents enrolling in a loop (an open route that writes)."""

    def __init__(self, server):
        self.server = server
        self.got = []       # (agent id, status, Retry-After, start, end)

    def loop(self, stop, give_up):
        while not stop.is_set() and time.time() < give_up:
            agent_id = str(uuid.uuid4())
            t0 = time.time()
            try:
                status, _, headers = self.server.api(
                    "POST", "/enroll",
                    {"enroll_secret": self.server.enroll_secret,
                     "agent_id": agent_id, "hostname": "new-" + agent_id[:8]},
                    token=None)
                retry = headers.get("Retry-After")
            except OSError as e:
                status, retry = repr(e), None
            self.got.append((agent_id, status, retry, t0, time.time()))
            time.sleep(0.1)


def healthz(server):
    return server.api("GET", "/healthz", token=None)


def kill_9(cluster):
    """SIGKILL of the postmaster; returns once it and every process under
    it are gone."""
    pm = postmaster_pid(cluster)
    os.kill(pm, signal.SIGKILL)
    # Its backends and workers see it gone and exit by themselves; a
    # restart while one is left would find its shared memory in use, and
    # one before the dead postmaster is reaped would take it for alive
    # (postmaster.pid names it).
    assert wait_for(lambda: not processes_of(cluster) and not exists(pm),
                    15), (processes_of(cluster), exists(pm))


def restart(cluster):
    """pg_ctl start on the data directory of the killed cluster: crash
    recovery.  On failure, with what its log said."""
    try:
        cluster.start()
    except AssertionError as e:
        log = (cluster.dir / "postgresql.log").read_text()[-3000:]
        raise AssertionError(f"{e}\n--- postgresql.log:\n{log}") from None


def test_kill_9_of_postgresql_under_load(make_server, tmp_path):
    cluster = pg.Cluster()
    s = None
    try:
        s = make_server(database=cluster.create_database("crash"),
                        state_dir=str(tmp_path), evaluate_every="1s")
        pid = s.proc.pid
        abort = threading.Event()
        reporters = [Reporter(s, abort) for _ in range(CLIENTS)]
        readers = [Reader(s, reporters[i].host.id) for i in range(2)]
        enroller = Enroller(s)
        stop, stop_reads = threading.Event(), threading.Event()
        give_up = time.time() + 120
        threads = ([threading.Thread(target=r.loop, args=(stop, give_up))
                    for r in reporters] +
                   [threading.Thread(target=r.loop,
                                     args=(stop_reads, give_up))
                    for r in readers + [enroller]])
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            assert healthz(s)[0] == 200
            # PostgreSQL dies at once, as by the OOM killer: the postmaster
            # first; its backends and workers exit when they see it gone.
            assert len(processes_of(cluster)) > 1, "no backends"
            killed = time.time()
            kill_9(cluster)
            dead = time.time()
            # Away a while: every answer now is a 503.
            health = []
            while time.time() < dead + 2:
                health.append(healthz(s))
                time.sleep(0.2)
            restarted = time.time()
            restart(cluster)
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
        except BaseException:
            abort.set()
            raise
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
        for what, rows, ok in (("reports", sent, 200), ("reads", got, 200),
                               ("enrollments", enroller.got, 201)):
            statuses = {st for _, st, _, _, _ in rows}
            assert statuses <= {ok, 503}, (what, statuses)
            assert all(retry for _, st, retry, _, _ in rows if st == 503), what
            longest = max(t1 - t0 for _, _, _, t0, t1 in rows)
            assert longest <= REQUEST_MAX_S, (what, longest)
            away = [st for _, st, _, t0, t1 in rows
                    if t0 > dead and t1 < restarted]
            assert len(away) >= 4 and set(away) == {503}, (what, away)
        # An enrollment that got its 201 is kept: its host is there.
        for agent_id, st, _, _, _ in enroller.got:
            if st == 201:
                status, body, _ = s.api("GET", f"/hosts?q={agent_id}")
                assert status == 200, body
                assert [h["agent_id"] for h in body["items"]] == [agent_id]

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
              f"restart took {up - restarted:.1f}s; first 200 "
              f"{back - up:.2f}s after it was up, {len(late)} 503s after "
              f"it was up (the last {max(late, default=0):.2f}s after); "
              f"{sum(len(r.acked()) for r in reporters)} acknowledged")
    finally:
        if s is not None:
            s.stop()
        cluster.remove()


def burst(n, call):
    """n calls at once, as many as derelictd has connections and more:
    their answers."""
    out = [None] * n
    ready = threading.Barrier(n)

    def one(i):
        ready.wait()
        out[i] = call(i)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    return out


@pytest.mark.parametrize("how", ["kill -9", "pg_ctl restart"])
def test_the_first_requests_after_a_restart_while_idle_succeed(
        make_server, tmp_path, how):
    """PostgreSQL went away and came back while derelictd had nothing to
    do: each of its connections learns the server closed it only at its
    next statement.  That is the BEGIN, before anything of the
    transaction ran, so the connection is made again there and the
    request goes through: no 503 once for every connection."""
    cluster = pg.Cluster()
    s = None
    try:
        s = make_server(database=cluster.create_database("idle"),
                        state_dir=str(tmp_path), evaluate_every="1h")
        hosts = [Host(s) for _ in range(BURST)]
        # Every connection open: the writer's, and the readers' as many
        # requests at once use.
        for _ in range(2):
            assert burst(BURST, lambda i: s.api("GET", "/hosts")[0]) == \
                [200] * BURST
        assert burst(BURST, lambda i: hosts[i].send(
            hosts[i].report())[0]) == [200] * BURST
        if how == "kill -9":
            kill_9(cluster)
        else:
            cluster.stop("fast")
        restart(cluster)
        reads = burst(BURST, lambda i: s.api("GET", "/hosts")[0])
        reports = burst(BURST, lambda i: hosts[i].send(hosts[i].report(
            packages=[package(SEQ, "2-1")]))[0])
        assert reads == [200] * BURST, reads
        assert reports == [200] * BURST, reports
        assert healthz(s)[0] == 200, healthz(s)
        assert wait_for(lambda: healthz(s)[1]["leader"] is True, 5)
    finally:
        if s is not None:
            s.stop()
        cluster.remove()
