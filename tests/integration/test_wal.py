"""The WAL under steady load stays bounded: it is started afresh while
reports keep coming (by the writer once it is past 64 MiB, 16,384 pages,
and nearly all copied back; by SQLite when the checkpoint thread has
caught up), and nothing reported is lost when it is.  In this test the
writer's restart ran once (27,269 pages, 686 not yet copied back)."""
import json
import pathlib
import struct
import threading

import pytest

from reports import enroll_many, package, sealed

WAL_LONG = 16384        # pages: 64 MiB, as in server/db.c


def wal_pages(db):
    """The WAL's length in pages, from the wal-index header in -shm
    (mxFrame, a native u32 at byte 16)."""
    shm = pathlib.Path(str(db) + "-shm")
    try:
        with open(shm, "rb") as f:
            head = f.read(20)
    except FileNotFoundError:
        return 0
    return struct.unpack("=I", head[16:20])[0] if len(head) == 20 else 0


@pytest.mark.sqlite_only
def test_wal_starts_afresh_under_steady_load(server):
    # 1,200 hosts: their 1,500 packages are the same versions, stored once
    # (sql/008), so a first report writes under half the WAL it did.
    hosts = enroll_many(server, 1200)
    pk = sealed({"manager": "dpkg", "changed_at": "2026-11-01T00:00:00Z",
                 "items": [package(f"lib-wal-{i:04d}", f"1.{i}-1")
                           for i in range(1500)]})
    bodies = []
    for h in hosts:
        rep = h.report(packages=[])
        rep["sections"]["packages"] = pk
        bodies.append((h, json.dumps(rep).encode()))

    # 32 agents at once, without a pause, while the WAL's length is
    # sampled.  Each first report writes ~1,500 package references: 1,200
    # of them write well over WAL_LONG pages of WAL.
    pages, done = [], threading.Event()
    statuses = []

    def sample():
        while not done.is_set():
            pages.append(wal_pages(server.db))
            done.wait(0.01)

    def send(k):
        for h, body in bodies[k::32]:
            status, reply, _ = h.send(
                None, raw=body, headers={"Content-Type": "application/json"})
            statuses.append((status, reply))

    sampler = threading.Thread(target=sample)
    sampler.start()
    senders = [threading.Thread(target=send, args=(k,)) for k in range(32)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    done.set()
    sampler.join()

    assert all(s == 200 for s, _ in statuses), \
        [r for s, r in statuses if s != 200][:3]
    assert len(statuses) == len(hosts)
    # The load was long enough to need a restart, and the WAL was started
    # afresh while it ran: it shrank, and it never grew to twice the mark.
    peak = max(pages)
    assert peak > WAL_LONG, f"the load wrote only {peak} pages of WAL"
    assert any(b < a for a, b in zip(pages, pages[1:])), \
        "the WAL was never started afresh"
    assert peak < 2 * WAL_LONG, f"the WAL grew to {peak} pages"

    # Nothing was lost: every host holds its 1,500 packages.
    status, body, _ = server.api("GET", "/packages?name=lib-wal-0999")
    assert status == 200, body
    assert body["total"] == len(hosts)
    status, body, _ = server.section(hosts[-1].id, "packages")
    assert status == 200 and len(body["items"]) == 1500
