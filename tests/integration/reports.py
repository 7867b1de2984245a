"""Builds schema-1 reports in Python, with the section hash computed from
SPEC section 3's definition independently of the C code, so the tests also
check that agent, server and the written contract agree."""
import hashlib
import json
import threading
import uuid


def canon(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False).encode("utf-8")


OUTSIDE_HEADER = ("hash", "items", "base", "added", "removed")


def item_digest(item):
    return int.from_bytes(hashlib.sha256(canon(item)).digest(), "big")


def section_hash_sum(section, total):
    header = {k: v for k, v in section.items() if k not in OUTSIDE_HEADER}
    text = canon(header) + b"\n" + f"{total % 2**256:064x}".encode()
    return hashlib.sha256(text).hexdigest()


def section_hash(section):
    """SPEC section 3: SHA-256 of the header, a newline and the sum of the
    items' digests modulo 2^256, in hex."""
    return section_hash_sum(section, sum(item_digest(i) for i in section.get("items", [])))


def sealed(section):
    s = dict(section)
    s["hash"] = section_hash(s)
    return s


def packages_delta(old_section, new_section):
    """new_section (a full packages section) as a delta from old_section:
    the items new or changed, and the identities gone."""
    def key(p):
        return (p["name"], p.get("arch", ""))
    old = {key(p): p for p in old_section["items"]}
    new = {key(p): p for p in new_section["items"]}
    delta = {k: v for k, v in new_section.items() if k not in ("items", "hash")}
    delta["hash"] = new_section.get("hash") or section_hash(new_section)
    delta["base"] = old_section.get("hash") or section_hash(old_section)
    delta["added"] = [p for k, p in new.items() if old.get(k) != p]
    delta["removed"] = [dict(name=k[0], arch=k[1]) if k[1] else dict(name=k[0])
                        for k in old if k not in new]
    return delta


def package(name, version, arch="amd64", source=None, source_version=None):
    return {"name": name, "version": version, "arch": arch,
            "source": source or name,
            "source_version": source_version or version}


def base_packages(n=20):
    return [package(f"lib{i}", f"1.{i}-1") for i in range(n)]


def report(agent_id, hostname="host", packages=None, ports=None,
           services=None, processes=None, logins=None, project=None,
           codename="bookworm", collected_at="2026-11-26T10:00:00Z"):
    sections = {
        "ports": sealed({"items": ports if ports is not None else [
            {"proto": "tcp", "address": "0.0.0.0", "port": 22, "pid": 100,
             "process": "sshd", "exe": "/usr/sbin/sshd", "user": "root"}]}),
        "services": sealed({"source": "procfs", "items": services or []}),
        "processes": sealed({"items": processes or [
            {"name": "sshd", "exe": "/usr/sbin/sshd", "user": "root",
             "count": 1}]}),
        "packages": sealed({"manager": "dpkg",
                            "changed_at": "2026-11-01T00:00:00Z",
                            "items": packages if packages is not None
                            else base_packages()}),
        "logins": sealed({"source": "wtmp", "open_sessions": 0,
                          "last": None, "items": logins or []}),
    }
    return {
        "schema": 1,
        "agent": {"id": agent_id, "version": "test"},
        "collected_at": collected_at,
        "host": {"hostname": hostname, "fqdn": hostname + ".example",
                 "machine_id": uuid.uuid4().hex,
                 "os": {"id": "debian", "version_id": "12",
                        "codename": codename,
                        "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
                 "kernel": "6.1.0-13-amd64", "arch": "x86_64",
                 "boot_time": "2026-11-20T08:00:00Z",
                 "addresses": [{"ifname": "eth0", "address": "192.0.2.10",
                                "prefix": 24}],
                 "project": project, "owner": None},
        "sections": sections,
    }


def deltas(rep, unchanged):
    """The report with the named sections reduced to their hash."""
    out = json.loads(json.dumps(rep))
    for name in unchanged:
        out["sections"][name] = {"hash": out["sections"][name]["hash"]}
    return out


class Host:
    """An enrolled host speaking the wire protocol directly."""

    def __init__(self, server, hostname=None):
        self.server = server
        self.agent_id = str(uuid.uuid4())
        self.hostname = hostname or "h-" + self.agent_id[:8]
        status, body, _ = server.api("POST", "/enroll", {
            "enroll_secret": server.enroll_secret,
            "agent_id": self.agent_id, "hostname": self.hostname},
            token=None)
        assert status == 201, body
        self.id = body["host_id"]
        self.token = body["token"]

    def send(self, rep, raw=None, headers=None):
        return self.server.api("POST", "/reports", rep, token=self.token,
                               raw=raw, headers=headers)

    def report(self, **kw):
        kw.setdefault("hostname", self.hostname)
        return report(self.agent_id, **kw)


def enroll_many(server, n, threads=8):
    hosts = [None] * n
    errors = []

    def work(start):
        try:
            for i in range(start, n, threads):
                hosts[i] = Host(server, hostname=f"fleet-{i:05d}")
        except Exception as e:  # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]
    return hosts
