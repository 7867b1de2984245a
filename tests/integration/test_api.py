"""The REST API against a real derelictd: auth, every endpoint and filter,
pagination, deltas and history."""
import json
import sqlite3

from conftest import ENGINE_NAME, basic_auth
from reports import Host, deltas, enroll_many, package, section_hash


def test_healthz_is_open_and_everything_else_needs_a_token(server):
    status, body, _ = server.api("GET", "/healthz", token=None)
    assert status == 200 and body == {"status": "ok", "engine": ENGINE_NAME,
                                    "leader": True}
    for path in ("/hosts", "/findings", "/projects", "/summary",
                 "/openapi.json", "/metrics"):
        status, body, headers = server.api("GET", path, token=None)
        assert status == 401, path
        assert body["error"]["code"] == "unauthorized"
        assert headers["WWW-Authenticate"].startswith("Basic")
    status, _, headers = server.api("GET", "/", token=None)
    assert status == 401 and "Basic" in headers["WWW-Authenticate"]


def test_auth_matrix(server):
    host = Host(server)
    assert host.send(host.report())[0] == 200
    other = Host(server)
    bad = "0" * 64
    cases = [
        # (token, method, path, body, expected)
        (bad, "GET", "/hosts", None, 401),
        (server.viewer_token, "GET", "/hosts", None, 200),
        (server.admin_token, "GET", "/hosts", None, 200),
        (host.token, "GET", "/hosts", None, 403),
        (host.token, "GET", f"/hosts/{host.id}", None, 403),
        (server.viewer_token, "PATCH", f"/hosts/{host.id}", {"note": "x"}, 403),
        (server.admin_token, "PATCH", f"/hosts/{host.id}", {"note": "x"}, 200),
        (server.viewer_token, "POST", "/projects", {"name": "p"}, 403),
        (server.admin_token, "POST", "/projects", {"name": "p"}, 201),
        (server.viewer_token, "DELETE", "/projects/p", None, 403),
        (server.viewer_token, "POST", "/reports", host.report(), 403),
        (server.admin_token, "POST", "/reports", host.report(), 403),
        # a host token reporting as another host
        (other.token, "POST", "/reports", host.report(), 403),
    ]
    for token, method, path, body, expected in cases:
        status, reply, _ = server.api(method, path, body, token=token)
        assert status == expected, (method, path, status, reply)
    # Basic auth with any user name carries the token as the password.
    status, _, _ = server.api("GET", "/hosts", token=None,
                              headers={"Authorization": basic_auth(server.viewer_token)})
    assert status == 200
    status, body, _ = server.api("GET", "/whoami", token=server.viewer_token)
    assert body == {"name": "viewer-test", "role": "viewer"}


def test_revoked_token_is_refused(server):
    assert server.api("GET", "/hosts", token=server.viewer_token)[0] == 200
    server.cli("token", "revoke", "viewer-test")
    assert server.api("GET", "/hosts", token=server.viewer_token)[0] == 401
    listing = server.cli("token", "list")
    assert "admin-test" in listing and "viewer-test" not in listing


def test_tokens_are_stored_hashed(server):
    db = server.db_connect()
    stored = [r[0] for r in db.execute("SELECT hash FROM tokens")]
    assert len(stored) == 2 and server.admin_token not in stored
    host = Host(server)
    dump = "\n".join(db.iterdump())
    assert host.token not in dump and server.admin_token not in dump


def test_enroll_errors(server):
    def enroll(body):
        return server.api("POST", "/enroll", body, token=None)

    status, body, _ = enroll({"enroll_secret": "wrong-secret-value",
                              "agent_id": "5c6f1d0e-1111-4222-8333-944455556666",
                              "hostname": "x"})
    assert status == 401
    status, body, _ = enroll({"enroll_secret": server.enroll_secret,
                              "hostname": "x"})
    assert status == 422 and "agent_id" in body["error"]["message"]
    status, body, _ = enroll({"enroll_secret": server.enroll_secret,
                              "agent_id": "not-a-uuid", "hostname": "x"})
    assert status == 422
    status, body, _ = server.api("POST", "/enroll", raw=b"{}", token=None,
                                 headers={"Content-Type": "text/plain"})
    assert status == 415


def test_report_then_sections_and_host(server):
    host = Host(server, hostname="dev-portal-03")
    rep = host.report(packages=[package("exim4-daemon-light", "4.92-8+deb10u2",
                                        source="exim4")],
                      ports=[{"proto": "tcp", "address": "0.0.0.0", "port": 25,
                              "pid": 812, "process": "exim4",
                              "exe": "/usr/sbin/exim4", "user": "Debian-exim"}])
    status, body, _ = host.send(rep)
    assert status == 200 and body["host_id"] == host.id
    assert body["next_report_s"] > 0
    status, h, _ = server.api("GET", f"/hosts/{host.id}")
    assert status == 200
    assert h["hostname"] == "dev-portal-03" and h["agent_id"] == host.agent_id
    assert h["mail"]["running"] is True and h["mail"]["exposed"] is True
    assert h["os"]["codename"] == "bookworm"
    status, ports, _ = server.section(host.id, "ports")
    assert ports["items"][0]["port"] == 25
    assert ports["hash"] == rep["sections"]["ports"]["hash"]
    status, pk, _ = server.section(host.id, "packages")
    assert [p["name"] for p in pk["items"]] == ["exim4-daemon-light"]
    for sec in ("services", "processes", "logins"):
        assert server.api("GET", f"/hosts/{host.id}/{sec}")[0] == 200
    assert server.api("GET", f"/hosts/{host.id}/nonsense")[0] == 404
    assert server.api("GET", "/hosts/999999")[0] == 404
    status, found, _ = server.api("GET", "/packages?name=exim4-daemon-light")
    assert found["total"] == 1
    assert found["items"][0]["version"] == "4.92-8+deb10u2"
    assert found["items"][0]["hostname"] == "dev-portal-03"



def test_ports_carry_the_servers_exposure(server):
    """Each listening port comes marked "exposed" by the rules' loopback
    test, the item otherwise as the agent sent it; the mail summary says
    which SMTP ports are public.  The web page shows these, and tests
    nothing itself."""
    host = Host(server, hostname="exposure-01")
    exim = {"pid": 812, "process": "exim4", "exe": "/usr/sbin/exim4",
            "user": "Debian-exim"}
    sent = [
        dict(proto="tcp", address="0.0.0.0", port=25, **exim),
        dict(proto="tcp", address="127.0.0.1", port=587, **exim),
        dict(proto="tcp", address="::ffff:127.0.0.2", port=465, **exim),
        {"proto": "tcp", "address": "::1", "port": 5432, "pid": None,
         "process": None, "exe": None, "user": None},
        {"proto": "tcp", "address": "::", "port": 22, "pid": 100,
         "process": "sshd", "exe": "/usr/sbin/sshd", "user": "root"},
        {"proto": "udp", "address": "192.0.2.10", "port": 25, "pid": None,
         "process": None, "exe": None, "user": None},
    ]
    rep = host.report(ports=sent)
    assert host.send(rep)[0] == 200
    status, ports, _ = server.section(host.id, "ports")
    assert status == 200
    assert ports["hash"] == rep["sections"]["ports"]["hash"]
    got = {(p["proto"], p["address"], p["port"]): p for p in ports["items"]}
    exposed = {k: p.pop("exposed") for k, p in got.items()}
    assert exposed == {
        ("tcp", "0.0.0.0", 25): True,
        ("tcp", "127.0.0.1", 587): False,
        ("tcp", "::ffff:127.0.0.2", 465): False,
        ("tcp", "::1", 5432): False,
        ("tcp", "::", 22): True,
        ("udp", "192.0.2.10", 25): True,
    }
    # Nothing else of an item changed.
    def canon(items):
        return sorted(json.dumps(i, sort_keys=True) for i in items)
    assert canon(got.values()) == canon(sent)
    status, h, _ = server.api("GET", f"/hosts/{host.id}")
    assert status == 200 and h["mail"]["exposed"] is True
    mail = {(p["proto"], p["address"], p["port"]): (p["smtp"], p["public"])
            for p in h["mail"]["ports"]}
    assert mail == {("tcp", "0.0.0.0", 25): (True, True),
                    ("tcp", "127.0.0.1", 587): (True, False),
                    ("tcp", "::ffff:127.0.0.2", 465): (True, False)}


def count(server, sql):
    db = server.db_connect()
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def test_fleet_packages_pages_through_multiarch(server):
    hosts = [Host(server) for _ in range(3)]
    for h in hosts:
        assert h.send(h.report(packages=[
            package("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib"),
            package("zlib1g", "1:1.2.13.dfsg-1", "i386", "zlib")]))[0] == 200
    rows, cursor = [], None
    while True:
        q = "/packages?name=zlib1g&limit=1" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = server.api("GET", q)
        assert status == 200 and page["total"] == 6
        rows += [(p["host_id"], p["arch"]) for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(rows) == sorted((h.id, a) for h in hosts for a in ("amd64", "i386"))
    assert server.api("GET", "/packages?name=zlib1g&cursor=bogus")[0] == 400
    assert server.api("GET", "/packages")[0] == 400


def test_deltas_and_history(server):
    host = Host(server)
    pkgs = [package(f"lib{i}", "1.0-1") for i in range(50)]
    rep = host.report(packages=pkgs)
    assert host.send(rep)[0] == 200
    changes0 = count(server, "SELECT count(*) FROM changes")
    # An unchanged report is a few hundred bytes and adds no rows.
    small = deltas(rep, ["ports", "services", "processes", "packages", "logins"])
    assert len(json.dumps(small)) < 1500
    assert host.send(small)[0] == 200
    assert count(server, "SELECT count(*) FROM changes") == changes0
    # One upgraded package is exactly one "changed" row.
    pkgs[7] = package("lib7", "1.0-2")
    rep2 = host.report(packages=pkgs)
    rep2 = deltas(rep2, ["ports", "services", "processes", "logins"])
    assert host.send(rep2)[0] == 200
    status, ch, _ = server.api("GET", f"/hosts/{host.id}/changes")
    assert ch["total"] == changes0 + 1
    top = ch["items"][0]
    assert top["section"] == "packages" and top["action"] == "changed"
    assert top["key"] == "lib7:amd64"
    assert top["old"]["version"] == "1.0-1" and top["new"]["version"] == "1.0-2"
    # Removal and addition.
    del pkgs[0]
    pkgs.append(package("newpkg", "2.0"))
    assert host.send(host.report(packages=pkgs))[0] == 200
    status, ch, _ = server.api("GET", f"/hosts/{host.id}/changes?limit=2")
    assert {(c["action"], c["key"]) for c in ch["items"]} == {
        ("removed", "lib0:amd64"), ("added", "newpkg:amd64")}
    assert ch["next_cursor"] is not None
    status, more, _ = server.api("GET", f"/hosts/{host.id}/changes?limit=2&cursor={ch['next_cursor']}")
    assert more["items"][0]["key"] == "lib7:amd64"


def test_unknown_hash_asks_for_resend(server):
    host = Host(server)
    rep = host.report()
    # Never sent in full: the server cannot know these hashes.
    status, body, _ = host.send(deltas(rep, ["packages", "logins"]))
    assert status == 409
    assert body["error"]["code"] == "resend"
    assert sorted(body["error"]["sections"]) == ["logins", "packages"]
    # Nothing was stored by the refused report.
    assert count(server, f"SELECT count(*) FROM sections WHERE host_id = {host.id}") == 0
    assert host.send(rep)[0] == 200


def test_server_recomputes_hashes(server):
    host = Host(server)
    rep = host.report()
    rep["sections"]["packages"]["hash"] = "f" * 64
    status, body, _ = host.send(rep)
    assert status == 422 and body["error"]["code"] == "hash_mismatch"
    # Python's hash of the contract equals the server's.
    rep = host.report()
    assert host.send(rep)[0] == 200
    status, pk, _ = server.section(host.id, "packages")
    assert pk["hash"] == section_hash(rep["sections"]["packages"])


def test_pagination_over_2500_hosts(server):
    hosts = enroll_many(server, 2500)
    seen = []
    cursor = None
    pages = 0
    while True:
        path = "/hosts?limit=300" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = server.api("GET", path)
        assert status == 200 and page["total"] == 2500
        seen += [h["id"] for h in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 9
    assert len(seen) == len(set(seen)) == 2500
    assert set(seen) == {h.id for h in hosts}
    assert server.api("GET", "/hosts?limit=1001")[0] == 400
    assert server.api("GET", "/hosts?limit=0")[0] == 400
    status, page, _ = server.api("GET", "/hosts")
    assert len(page["items"]) == 100
    status, page, _ = server.api("GET", "/hosts?q=fleet-02499")
    assert page["total"] == 1 and page["items"][0]["hostname"] == "fleet-02499"
    # A search pages through its matches in id order like any list.
    want = sorted(h.id for h in hosts if h.hostname.startswith("fleet-012"))
    got, cursor = [], ""
    while True:
        status, page, _ = server.api("GET", "/hosts?q=fleet-012&limit=30" + cursor)
        assert status == 200 and page["total"] == len(want) == 100
        got += [h["id"] for h in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = "&cursor=" + page["next_cursor"]
    assert got == want
    status, page, _ = server.api("GET", "/hosts?q=fleet-012&status=silent")
    assert page["total"] == 0 and page["items"] == []


def test_host_filters(server):
    mail = Host(server, hostname="mailer")
    mail.send(mail.report(ports=[{"proto": "tcp", "address": "0.0.0.0",
                                  "port": 25, "pid": 1, "process": "exim4",
                                  "exe": "/usr/sbin/exim4", "user": "x"}],
                          project="acme"))
    plain = Host(server, hostname="plain")
    plain.send(plain.report())
    names = lambda q: sorted(h["hostname"] for h in server.api("GET", "/hosts" + q)[1]["items"])
    assert names("?mail=true") == ["mailer"]
    assert names("?mail=false") == ["plain"]
    assert names("?project=acme") == ["mailer"]
    assert names("?status=active") == ["mailer", "plain"]
    assert names("?status=retired") == []
    assert names("?q=MAIL") == ["mailer"]
    assert names("?q=" + plain.agent_id) == ["plain"]
    assert names("?q=192.0.2.10") == ["mailer", "plain"]
    assert names("?q=ma") == ["mailer"]          # short: LIKE
    assert names("?q=ILE") == ["mailer"]         # trigrams, any case
    assert names("?q=%25") == []                 # "%" matches itself
    assert names("?q=%22ail") == []              # a quote is just a character
    assert names("?q=a%22%20OR%20%22") == []
    assert names("?abandoned=true") == []
    assert server.api("GET", "/hosts?status=bogus")[0] == 400
    assert server.api("GET", "/hosts?severity=bogus")[0] == 400
    server.api("PATCH", f"/hosts/{plain.id}", {"retired": True})
    assert names("?status=retired") == ["plain"]
    h = server.api("GET", "/hosts?project=acme")[1]["items"][0]
    for key in ("id", "agent_id", "hostname", "project", "status",
                "last_seen", "abandoned", "mail"):
        assert key in h, key
    assert set(h["mail"]) >= {"running", "exposed"}


def test_projects_crud_and_host_assignment(server):
    host = Host(server)
    host.send(host.report(project="from-tag"))
    status, p, _ = server.api("GET", "/projects/from-tag")
    assert status == 200 and p["hosts"] == 1
    status, p, _ = server.api("POST", "/projects", {
        "name": "acme-portal", "owner": "ops@example.com",
        "contact": "#ops", "ends_on": "2025-03-31", "description": "d"})
    assert status == 201 and p["ends_on"] == "2025-03-31"
    assert server.api("POST", "/projects", {"name": "acme-portal"})[0] == 409
    assert server.api("POST", "/projects", {"owner": "x"})[0] == 422
    assert server.api("POST", "/projects", {"name": "x", "ends_on": "2025-02-30"})[0] == 422
    status, h, _ = server.api("PATCH", f"/hosts/{host.id}", {"project": "acme-portal"})
    assert status == 200 and h["project"] == "acme-portal"
    # The operator's choice wins over the agent's tag from now on.
    host.send(host.report(project="from-tag"))
    assert server.api("GET", f"/hosts/{host.id}")[1]["project"] == "acme-portal"
    assert server.api("PATCH", f"/hosts/{host.id}", {"project": "nope"})[0] == 404
    status, p, _ = server.api("PATCH", "/projects/acme-portal", {"ends_on": None})
    assert status == 200 and p["ends_on"] is None
    status, lst, _ = server.api("GET", "/projects")
    assert {p["name"] for p in lst["items"]} == {"acme-portal", "from-tag"}
    assert server.api("DELETE", "/projects/acme-portal")[0] == 204
    assert server.api("GET", "/projects/acme-portal")[0] == 404
    assert server.api("GET", f"/hosts/{host.id}")[1]["project"] is None


def test_delete_host(server):
    host = Host(server)
    host.send(host.report())
    assert server.api("DELETE", f"/hosts/{host.id}")[0] == 204
    assert server.api("GET", f"/hosts/{host.id}")[0] == 404
    assert count(server, "SELECT coalesce(sum(n), 0) FROM host_packages") == 0
    assert count(server, "SELECT count(*) FROM package_hosts") == 0
    # Its token died with it.
    assert host.send(host.report())[0] == 401


def test_summary_metrics_openapi(server):
    host = Host(server)
    host.send(host.report())
    status, s, _ = server.api("GET", "/summary")
    assert status == 200 and s["hosts"] == 1
    assert set(s["findings"]) >= {"critical", "high", "medium", "low"}
    assert len(s["findings_over_time"]) == 30
    status, text, headers = server.api("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else text
    assert "derelict_reports_ingested_total 1" in text
    assert 'derelict_hosts{status="active"} 1' in text
    assert "derelict_ingest_seconds_bucket" in text
    status, spec, _ = server.api("GET", "/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    for path in ("/enroll", "/reports", "/hosts", "/hosts/{id}",
                 "/hosts/{id}/ports", "/hosts/{id}/changes", "/projects",
                 "/projects/{name}", "/findings", "/findings/{id}/ack",
                 "/packages", "/summary", "/healthz", "/metrics"):
        assert path in spec["paths"], path


def test_web_page_is_served_with_csp_and_etag(server):
    status, body, headers = server.api("GET", "/", token=server.viewer_token)
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    etag = headers["ETag"]
    status, _, _ = server.api("GET", "/", token=server.viewer_token,
                              headers={"If-None-Match": etag})
    assert status == 304
