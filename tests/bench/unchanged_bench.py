#!/usr/bin/python3
"""Unchanged re-reports against the floor (issue 18): the same hash-only
POSTs, from the same load generator at the same concurrency, sent to
derelictd and to tests/bench/floor.c, a bare libmicrohttpd server with
derelictd's threading model that reads the body and answers 200.  Prints
both rates and their ratio; asserts nothing about time.

  unchanged_bench.py BUILD_DIR LOADGEN FLOOR [HOSTS]

BENCH_CONC (64) requests are in flight; each figure is the median of
three rounds in which the servers take turns.  derelictd runs twice: as
shipped, and with
DERELICTD_BENCH_DURABLE_UNCHANGED=1, where an unchanged report waits for
its commit as every report did before the fast path.  With
BENCH_BEFORE=PATH, a derelictd built from an older commit takes its turn
too, for before-and-after figures of one run.
"""
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))
import conftest  # noqa: E402
from conftest import Server  # noqa: E402
from reports import enroll_many, report  # noqa: E402

build, loadgen, floor = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
HOSTS = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
CONC = int(os.environ.get("BENCH_CONC", "64"))
ROUNDS = 20
os.environ.setdefault("DERELICTD", str(build.resolve() / "derelictd"))


def cpu_seconds(pid):
    """User and system time the process used so far."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run_load(url, jobs, rounds, pid):
    """Returns the rate and the server's CPU time per request, in µs: on
    a machine others share, the CPU is the steadier figure."""
    cpu = cpu_seconds(pid)
    out = subprocess.run([loadgen, url, str(jobs), str(CONC), str(rounds)],
                         capture_output=True, text=True, timeout=600)
    line = out.stdout.strip()
    if not line.startswith("requests") or out.returncode != 0:
        raise SystemExit(f"loadgen against {url} failed: {line} {out.stderr}")
    n = int(line.split()[1])
    us = (cpu_seconds(pid) - cpu) / n * 1e6
    return float(line.split(":")[1].split("/s")[0]), us, f"{line}; server CPU {us:.0f} µs a request"


def fleet(server, tmp):
    """Enrolls HOSTS hosts, stores a full report of each and writes the
    jobs file of their hash-only reports, two of each host that differ in
    their collected_at."""
    hosts = enroll_many(server, HOSTS)
    jobs, size = tmp / "same.jobs", 0
    with open(jobs, "w") as f:
        for h in hosts:
            rep = report(h.agent_id, hostname=h.hostname)
            rep["host"]["machine_id"] = h.agent_id.replace("-", "")
            status, body, _ = h.send(rep)
            assert status == 200, body
            rep["sections"] = {k: {"hash": v["hash"]}
                               for k, v in rep["sections"].items()}
            # As an agent's: each unchanged report with its own stamp.
            for hour in (11, 12):
                rep["collected_at"] = f"2026-11-26T{hour}:00:00Z"
                p = tmp / f"same-{h.id}-{hour}.json"
                body = json.dumps(rep).encode()
                p.write_bytes(body)
                size = len(body)
                f.write(f"{h.token} {p}\n")
    return jobs, size


def start_derelictd(env, binary=None):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-un-"))
    saved = {k: os.environ.get(k) for k in env}
    shipped = conftest.DERELICTD
    os.environ.update(env)
    conftest.DERELICTD = binary or shipped
    try:
        return Server(tmp, evaluate_every="60s"), tmp
    finally:
        conftest.DERELICTD = shipped
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_floor():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([floor, str(port)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("listening"), "floor did not start"
    return p, f"http://127.0.0.1:{port}"


def main():
    """The three servers run side by side and take turns, three rounds,
    so that each figure meets the same load from the rest of the
    machine."""
    fast, tmp1 = start_derelictd({})
    durable, tmp2 = start_derelictd({"DERELICTD_BENCH_DURABLE_UNCHANGED": "1"})
    before = os.environ.get("BENCH_BEFORE")
    old, tmp3 = start_derelictd({}, before) if before else (None, None)
    bare, bare_url = start_floor()
    try:
        jobs1, size = fleet(fast, tmp1)
        jobs2, _ = fleet(durable, tmp2)
        jobs3 = fleet(old, tmp3)[0] if old else None
        time.sleep(2)
        # The floor is several times faster: more rounds, so each run
        # lasts about as long.
        runs = (("floor", bare_url, jobs1, ROUNDS * 4, bare.pid),
                ("derelictd", fast.url, jobs1, ROUNDS, fast.proc.pid),
                ("derelictd, committed before the 200", durable.url, jobs2, ROUNDS,
                 durable.proc.pid))
        if old:
            runs += ((f"derelictd before ({before})", old.url, jobs3, ROUNDS,
                      old.proc.pid),)
        rates = {name: [] for name, *_ in runs}
        cpus = {name: [] for name, *_ in runs}
        for _ in range(3):
            for name, url, jobs, rounds, pid in runs:
                rate, us, line = run_load(url, jobs, rounds, pid)
                rates[name].append(rate)
                cpus[name].append(us)
                print(f"  {name}: {line}")
        med = {k: statistics.median(v) for k, v in rates.items()}
        cpu = {k: statistics.median(v) for k, v in cpus.items()}
        f, d, c = med["floor"], med["derelictd"], med["derelictd, committed before the 200"]
        print(f"unchanged re-reports ({HOSTS} hosts, {size} bytes each, {CONC} in flight, "
              f"median of 3): floor (bare libmicrohttpd) {f:.0f}/s; derelictd {d:.0f}/s "
              f"({100 * d / f:.0f}% of the floor, target 50%: "
              f"{'met' if d >= f / 2 else 'missed'}); committed before "
              f"the 200 {c:.0f}/s ({100 * c / f:.0f}%)")
        fc, dc, cc = (cpu["floor"], cpu["derelictd"],
                      cpu["derelictd, committed before the 200"])
        print(f"server CPU a request (median of 3): floor {fc:.0f} µs, derelictd {dc:.0f} µs "
              f"(the floor's {100 * fc / dc:.0f}%), committed before the 200 {cc:.0f} µs "
              f"({100 * fc / cc:.0f}%)")
        if old:
            name = runs[-1][0]
            print(f"{name}: {med[name]:.0f}/s ({100 * med[name] / f:.0f}% of the floor), "
                  f"server CPU {cpu[name]:.0f} µs a request; now {d / med[name]:.1f}x as many")
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait(timeout=20)
        fast.stop()
        durable.stop()
        if old:
            old.stop()
        subprocess.run(["rm", "-rf", str(tmp1), str(tmp2)] + ([str(tmp3)] if old else []))


main()
