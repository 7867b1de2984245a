#!/usr/bin/python3
"""Unchanged re-reports against the floor (issue 18): the same hash-only
POSTs, from the same load generator at the same concurrency, sent to
derelictd and to tests/bench/floor.c, a bare libmicrohttpd server with
derelictd's threading model that reads the body and answers 200.  Prints
both rates and their ratio; asserts nothing about time.

  unchanged_bench.py BUILD_DIR LOADGEN FLOOR [HOSTS]

BENCH_CONC (64) requests are in flight; each figure is the median of
three runs.  derelictd runs twice: as shipped, and with
DERELICTD_BENCH_DURABLE_UNCHANGED=1, where an unchanged report waits for
its commit as every report did before the fast path.
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
from conftest import Server  # noqa: E402
from reports import enroll_many, report  # noqa: E402

build, loadgen, floor = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
HOSTS = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
CONC = int(os.environ.get("BENCH_CONC", "64"))
ROUNDS = 20
os.environ.setdefault("DERELICTD", str(build.resolve() / "derelictd"))


def run_load(url, jobs, rounds):
    out = subprocess.run([loadgen, url, str(jobs), str(CONC), str(rounds)],
                         capture_output=True, text=True, timeout=600)
    line = out.stdout.strip()
    if not line.startswith("requests") or out.returncode != 0:
        raise SystemExit(f"loadgen against {url} failed: {line} {out.stderr}")
    return float(line.split(":")[1].split("/s")[0]), line


def median_rate(url, jobs, rounds, name):
    rates = []
    for _ in range(3):
        rate, line = run_load(url, jobs, rounds)
        rates.append(rate)
        print(f"  {name}: {line}")
    return statistics.median(rates)


def fleet(server, tmp):
    """Enrolls HOSTS hosts, stores a full report of each and writes the
    jobs file of their hash-only reports."""
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
            p = tmp / f"same-{h.id}.json"
            body = json.dumps(rep).encode()
            p.write_bytes(body)
            size = len(body)
            f.write(f"{h.token} {p}\n")
    return jobs, size


def derelictd_rate(env, name):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="derelict-bench-un-"))
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
    try:
        jobs, size = fleet(server, tmp)
        time.sleep(2)
        return median_rate(server.url, jobs, ROUNDS, name), tmp, size
    finally:
        server.stop()


def floor_rate(jobs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([floor, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("listening"), "floor did not start"
        # More rounds: the floor is several times faster, and each run
        # should last about as long.
        return median_rate(f"http://127.0.0.1:{port}", jobs, ROUNDS * 4, "floor")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)


def main():
    durable, tmp0, _ = derelictd_rate({"DERELICTD_BENCH_DURABLE_UNCHANGED": "1"},
                                      "derelictd, committed before the 200")
    subprocess.run(["rm", "-rf", str(tmp0)])
    fast, tmp, size = derelictd_rate({}, "derelictd")
    try:
        bare = floor_rate(tmp / "same.jobs")
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])
    print(f"unchanged re-reports ({HOSTS} hosts, {size} bytes each, {CONC} in flight, "
          f"median of 3): floor (bare libmicrohttpd) {bare:.0f}/s; derelictd {fast:.0f}/s "
          f"({100 * fast / bare:.0f}% of the floor, target 50%: "
          f"{'met' if fast >= bare / 2 else 'missed'}); committed before "
          f"the 200 {durable:.0f}/s ({100 * durable / bare:.0f}%)")


main()
