"""Security properties end to end: who may read and write what, guessing
enroll secrets, TLS with the agent's CA pinning, file permissions, and no
SQL built from strings.  test_api.py's auth matrix and test_bad_input.py's
bad-token slowdown are not repeated here."""
import hashlib
import os
import re
import shutil
import sqlite3
import ssl
import stat
import subprocess
import time
import urllib.request

import pytest

from conftest import AGENT, DERELICTD, ROOT, Server, free_port
from reports import Host

READ_ROUTES = [
    "/whoami", "/hosts", "/hosts/{id}", "/hosts/{id}/ports",
    "/hosts/{id}/services", "/hosts/{id}/processes", "/hosts/{id}/packages",
    "/hosts/{id}/logins", "/hosts/{id}/changes", "/projects", "/projects/p",
    "/findings", "/packages?name=lib1", "/summary", "/openapi.json",
    "/metrics", "/api/v1/metrics", "/", "/static/app.js",
]

# Every write route of the API, with a body it would accept from an admin.
# In an order that an admin can replay: deletions last.
WRITE_ROUTES = [
    ("POST", "/findings/{finding}/ack", {"reason": "x"}),
    ("PATCH", "/hosts/{id}", {"note": "x", "retired": True}),
    ("POST", "/projects", {"name": "q", "owner": "o"}),
    ("PATCH", "/projects/p", {"ends_on": "2020-01-01"}),
    ("DELETE", "/projects/p", None),
    ("DELETE", "/hosts/{id}", None),
]


def snapshot(server):
    con = server.db_connect(readonly=True)
    try:
        out = {}
        for table in ("hosts", "sections", "host_packages", "changes", "reports",
                      "findings", "projects", "tokens"):
            rows = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


@pytest.fixture
def fleet(server):
    """Two reporting hosts, a project and an open finding."""
    a, b = Host(server, hostname="alpha"), Host(server, hostname="bravo")
    assert server.api("POST", "/projects", {"name": "p", "ends_on": "2020-01-01"})[0] == 201
    assert a.send(a.report(project="p"))[0] == 200
    assert b.send(b.report())[0] == 200
    finding = None
    for _ in range(50):
        items = server.api("GET", f"/findings?host={a.id}")[1]["items"]
        if items:
            finding = items[0]["id"]
            break
        time.sleep(0.1)
    assert finding is not None, "the ended project raised no finding"
    return a, b, finding


def fill(path, host, finding):
    return path.replace("{id}", str(host.id)).replace("{finding}", str(finding))


def test_host_token_reads_nothing(server, fleet):
    a, b, finding = fleet
    for token_host in (a, b):
        for target in (a, b):  # its own host as well as the other
            for route in READ_ROUTES:
                path = fill(route, target, finding)
                status, body, _ = server.api("GET", path, token=token_host.token)
                assert status == 403, (path, status, body)


def test_host_token_writes_nothing_and_reports_only_as_itself(server, fleet):
    a, b, finding = fleet
    before = snapshot(server)
    for method, route, body in WRITE_ROUTES:
        for target in (a, b):
            path = fill(route, target, finding)
            status, reply, _ = server.api(method, path, body, token=b.token)
            assert status == 403, (method, path, status, reply)
    # b's token with a's report (a's agent id) is refused ...
    status, reply, _ = server.api("POST", "/reports", a.report(hostname="evil"),
                                  token=b.token)
    assert status == 403, reply
    assert snapshot(server) == before
    # ... and b's own report never touches a, whatever it claims.
    rep = b.report(hostname="alpha", project="p")
    assert b.send(rep)[0] == 200
    assert server.api("GET", f"/hosts/{a.id}")[1]["hostname"] == "alpha"
    assert server.api("GET", f"/hosts/{b.id}")[1]["hostname"] == "alpha"
    assert server.api("GET", f"/hosts/{a.id}")[1]["agent_id"] == a.agent_id


def test_viewer_never_writes(server, fleet):
    a, b, finding = fleet
    before = snapshot(server)
    for method, route, body in WRITE_ROUTES:
        path = fill(route, a, finding)
        status, reply, _ = server.api(method, path, body, token=server.viewer_token)
        assert status == 403, (method, path, status, reply)
    status, _, _ = server.api("POST", "/reports", a.report(), token=server.viewer_token)
    assert status == 403
    assert snapshot(server) == before
    # The same requests as admin do write: the table above is not vacuous.
    for method, route, body in WRITE_ROUTES:
        path = fill(route, a, finding)
        status, reply, _ = server.api(method, path, body)
        assert 200 <= status < 300, (method, path, status, reply)
    assert snapshot(server) != before


def test_enroll_secret_guessing_is_slowed_down(server):
    def enroll(secret):
        return server.api("POST", "/enroll", {
            "enroll_secret": secret,
            "agent_id": "5c6f1d0e-1111-4222-8333-944455556666",
            "hostname": "guess"}, token=None)[0]

    statuses = [enroll(f"guess-{i:012d}") for i in range(40)]
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    # The right secret is refused too for the minute: guessing gains nothing.
    assert enroll(server.enroll_secret) == 429
    con = server.db_connect()
    try:
        assert con.execute("SELECT count(*) FROM hosts").fetchone()[0] == 0
    finally:
        con.close()


# --- TLS ---------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_pki(d, name):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    d.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name} test CA", "-keyout", "ca.key",
            "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                           "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext",
            "-out", "server.pem", cwd=d)
    os.chmod(d / "server.key", 0o600)
    return d / "ca.pem", d / "server.pem", d / "server.key"


class TLSServer(Server):
    def __init__(self, tmp, ca, **overrides):
        self.ca = str(ca)
        super().__init__(tmp, **overrides)

    def start(self):
        self.url = f"https://127.0.0.1:{self.port}"
        ctx = ssl.create_default_context(cafile=self.ca)
        self.proc = subprocess.Popen([DERELICTD, "--config", str(self.conf)],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("derelictd exited at start: "
                                     + (self.tmp / "derelictd.log").read_text())
            try:
                with urllib.request.urlopen(self.url + "/api/v1/healthz",
                                            timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("derelictd did not answer /healthz over TLS")


@pytest.fixture
def tls_server(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    ca, cert, key = make_pki(tmp_path / "pki", "derelict")
    (tmp_path / "srv").mkdir()
    srv = TLSServer(tmp_path / "srv", ca, tls_cert=str(cert), tls_key=str(key))
    yield srv
    srv.stop()


def test_tls_end_to_end_with_ca_pinning(tls_server, tmp_path):
    srv = tls_server
    # Without --ca-file the system's CAs do not know this one: refused.
    r = srv.agent(state=tmp_path / "nopin")
    assert r.returncode not in (0, 3), r
    assert "certificate" in r.stderr.lower(), r.stderr
    assert not (tmp_path / "nopin" / "token").exists()
    # Another CA's pin is refused as well.
    other_ca, _, _ = make_pki(tmp_path / "other", "other")
    r = srv.agent("--ca-file", str(other_ca), state=tmp_path / "wrongpin")
    assert r.returncode not in (0, 3), r
    assert "certificate" in r.stderr.lower(), r.stderr
    # With the server's CA the agent enrolls and reports.
    r = srv.agent("--ca-file", srv.ca, state=tmp_path / "pinned")
    assert r.returncode == 0, r.stderr
    agent_id = (tmp_path / "pinned" / "agent-id").read_text().strip()
    req = urllib.request.Request(
        srv.url + "/api/v1/hosts?q=" + agent_id,
        headers={"Authorization": "Bearer " + srv.admin_token})
    ctx = ssl.create_default_context(cafile=srv.ca)
    with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
        import json
        page = json.load(resp)
    assert page["total"] == 1 and page["items"][0]["last_seen"]
    # Plain HTTP to the TLS port gets nowhere.
    r = srv.agent("--server", srv.url.replace("https://", "http://"),
                  state=tmp_path / "plain")
    assert r.returncode != 0


# --- files ---------------------------------------------------------------------

def test_agent_state_files_are_private(server):
    state = server.tmp / "agent-private"  # the agent makes it
    r = subprocess.run([AGENT, "--config", "/dev/null", "--server", server.url,
                        "--enroll-secret-file", str(server.secret_file),
                        "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("token", "agent-id", "hashes"):
        mode = stat.S_IMODE((state / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


@pytest.mark.parametrize("mode", [0o644, 0o604])
def test_server_refuses_a_secret_others_can_read(tmp_path, mode):
    secret = tmp_path / "enroll-secret"
    secret.write_text("s" * 32 + "\n")
    os.chmod(secret, mode)
    conf = tmp_path / "derelictd.conf"
    conf.write_text(f"[server]\nlisten = 127.0.0.1:{free_port()}\n"
                    f"database = {tmp_path / 'db'}\n"
                    f"enroll_secret_file = {secret}\n"
                    f"advisories_file = {ROOT / 'data' / 'advisories.json'}\n"
                    f"eol_file = {ROOT / 'data' / 'eol.json'}\n"
                    "advisories_url =\n")
    r = subprocess.run([DERELICTD, "--config", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r
    assert str(secret) in r.stderr, r.stderr


# --- no SQL from strings ------------------------------------------------------

STR = r'"(?:[^"\\\n]|\\.)*"'
SQL_CALLS = ("db_stmt", "db_exec", "sqlite3_exec", "sqlite3_prepare",
             "sqlite3_prepare_v2", "sqlite3_prepare_v3", "sqlite_exec",
             "PQexec", "PQprepare", "run_simple", "pg_exec")
# Where the SQL is, when it is not the second argument.
SQL_ARG = {"PQprepare": 2}

# The only places SQL is not a literal at the call, and why each is safe:
EXCEPTIONS = {
    # the helpers of the layer and its engines themselves: they take the
    # literal their callers pass
    ("db.c", "db_stmt", "sql"),
    ("db_sqlite.c", "sqlite3_exec", "sql"), ("db_sqlite.c", "sqlite3_prepare_v3", "sql"),
    ("db_pg.c", "PQexec", "sql"),
    # the migration runners execute the sql/*.sql and sql/pg/*.sql files
    # embedded at build time
    ("db_sqlite.c", "sqlite_exec", "(const char *)f->data"),
    ("db_pg.c", "run_simple", "(const char *)f->data"),
    # "PRAGMA user_version = %d" made with snprintf from the migration's number
    ("db_sqlite.c", "sqlite_exec", "pragma"), ("db_sqlite.c", "sqlite_exec", "sql"),
    # "INSERT INTO schema_migrations ... VALUES (%d, %d)" likewise, and
    # "DEALLOCATE d%u" of a statement's own name
    ("db_pg.c", "run_simple", "sql"),
    # the store's literal with its placeholders rewritten (rewrite())
    ("db_pg.c", "PQprepare", "s->sql"),
    # migrate-to (db_copy.c and the engines' copy ops): the names of
    # tables and columns come from the engines' own catalogs, refused
    # unless plain [A-Za-z0-9_] names, and are quoted: the bulk loads'
    # COPY and INSERT, the ids' setval(), the catalog queries' literals
    # passed to sqlite_names(); the indexes and constraints set aside are
    # statements PostgreSQL itself composes (format() with %I and
    # regclass, pg_get_constraintdef(), pg_get_indexdef())
    ("db_pg.c", "PQexec", "b.data"), ("db_sqlite.c", "sqlite3_prepare_v2", "b.data"),
    ("db_pg.c", "pg_exec", "sql"), ("db_sqlite.c", "sqlite3_prepare_v2", "sql"),
    ("db_pg.c", "pg_exec", "PQgetvalue(res, i, 1)"), ("db_pg.c", "pg_exec", "l->after[i]"),
}


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()),
                  text, flags=re.S)


def call_args(text, name):
    """(line, [arguments]) of each call of name, split at top-level commas."""
    for m in re.finditer(r"(?<![\w.>])" + name + r"\s*\(", text):
        i, depth, args, cur = m.end(), 1, [], ""
        while depth:
            ch = text[i]
            if ch == '"':
                end = re.compile(STR).match(text, i).end()
                cur += text[i:end]
                i = end
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            if depth == 0:
                break
            if ch == "," and depth == 1:
                args.append(cur.strip())
                cur = ""
            else:
                cur += ch
            i += 1
        args.append(cur.strip())
        yield text.count("\n", 0, m.start()) + 1, args


def literal_arrays(text):
    """Names of static arrays whose every element is a string literal."""
    out = set()
    for m in re.finditer(r"static const char \*const (\w+)\[\] = \{(.*?)\};",
                         text, flags=re.S):
        body = re.sub(STR, "", m.group(2))
        if not re.sub(r"[\s,]|NULL", "", body):
            out.add(m.group(1))
    return out


def is_literal(expr, arrays):
    # MACRO("...") and MACRO expand to literals (checked below); adjacent
    # literals concatenate.
    e = re.sub(r"\b[A-Z][A-Z0-9_]*\s*\(\s*" + STR + r"\s*\)", '""', expr)
    e = re.sub(STR, "", e)
    e = re.sub(r"\b[A-Z][A-Z0-9_]*\b", "", e).strip()
    if not e:
        return True
    m = re.fullmatch(r"(\w+)\s*\[\s*\w+\s*\]", expr)
    return bool(m and m.group(1) in arrays)


def test_no_sql_built_from_strings():
    checked, bad = 0, []
    for path in sorted((ROOT / "server").glob("*.c")):
        text = strip_comments(path.read_text())
        arrays = literal_arrays(text)
        # Macros used inside SQL must themselves be literals only.
        for m in re.finditer(r"#define ([A-Z][A-Z0-9_]*)(\([^)]*\))?((?:.*\\\n)*.*)", text):
            body = m.group(3).replace("\\\n", " ")
            if '"' in body and re.search(r"SELECT|INSERT|UPDATE|DELETE|CASE|WHERE|FROM", body):
                rest = re.sub(r"\b[A-Z][A-Z0-9_]*\s*\(\s*" + STR + r"\s*\)", "", body)
                rest = re.sub(STR, "", rest)
                params = re.findall(r"\w+", m.group(2) or "")
                rest = re.sub(r"\b(" + "|".join(params or ["$^"]) + r")\b", "", rest)
                rest = re.sub(r"\b[A-Z][A-Z0-9_]*\b", "", rest).strip()
                if rest:
                    bad.append((path.name, "#define " + m.group(1), rest))
        for name in SQL_CALLS:
            for line, args in call_args(text, name):
                at = SQL_ARG.get(name, 1)
                if len(args) < at + 1:
                    continue
                sql = args[at]
                if re.match(r"(const\s+)?(char|struct)\b", sql) or \
                        re.match(r"struct\b", args[0]):
                    continue  # the definition, not a call
                checked += 1
                if is_literal(sql, arrays):
                    continue
                if (path.name, name, sql) in EXCEPTIONS:
                    continue
                bad.append((f"{path.name}:{line}", name, sql))
    assert checked > 100, checked
    assert not bad, bad
