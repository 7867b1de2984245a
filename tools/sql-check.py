#!/usr/bin/python3
"""sql-check.py - every SQL text of the store, checked against PostgreSQL.

Starts a scratch PostgreSQL 15 cluster in a temporary directory (initdb -A
trust, listening on 127.0.0.1 at a free port and on a socket in that
directory; never the system cluster), creates a database with the C
collation, applies sql/pg/*.sql in order, one transaction each, and
PREPAREs every SQL string literal of server/store*.c in it: the literals
are taken from the preprocessed source (so adjacent literals are joined and
macros such as HOST_FLAGS expanded), and ?NNN / ? are rewritten to $NNN as
db_pg.c does.  Every failure is printed with its file:line and
PostgreSQL's message.

Then a small data set is loaded into a SQLite database (sql/*.sql) and the
PostgreSQL one, and the store's list queries are run on both: the rows and
their order must be the same.

Usage: tools/sql-check.py [-v]   (exit 1 on any failure)
"""
import glob
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
VERBOSE = "-v" in sys.argv[1:]
# The first word of a string literal that is a statement, not a message.
SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES)\b"
                       r"|\s*(CREATE|DROP|ALTER|BEGIN|COMMIT|ROLLBACK|SAVEPOINT"
                       r"|RELEASE|PRAGMA|VACUUM|ANALYZE)\s")


# The texts written once per engine (marked ENGINE: in the source) are
# told apart by what only one engine has.
SQLITE_ONLY = re.compile(r"\bhost_search\b|\bjson_each\(|\bjson_valid\(|"
                         r"\browid\b|\bMATCH\b|\bPRAGMA\b|\bsqlite_schema\b")
PG_ONLY = re.compile(r"\bILIKE\b|\bjsonb|::|\binformation_schema\b|\bFOR UPDATE\b")


def cflags():
    out = subprocess.run(["pkg-config", "--cflags", "jansson", "sqlite3",
                          "libmicrohttpd", "inih", "uuid"],
                         capture_output=True, text=True)
    return out.stdout.split()


def c_unescape(s):
    out, i = [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"',
              "'": "'", "0": "\0", "a": "\a", "b": "\b", "f": "\f",
              "v": "\v", "?": "?"}
    while i < len(s):
        ch = s[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "x":
            m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
            out.append(chr(int(m.group(0), 16)))
            i += 2 + len(m.group(0))
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            out.append(simple.get(nxt, nxt))
            i += 2
    return "".join(out)


TOKEN = re.compile(r'''(?P<marker>^\#\s+(?P<line>\d+)\s+"(?P<file>[^"]*)".*$)
                     |(?P<str>"(?:[^"\\\n]|\\.)*")
                     |(?P<chr>'(?:[^'\\\n]|\\.)*')
                     |(?P<nl>\n)
                     |(?P<ws>[ \t\r\f\v]+)
                     |(?P<other>[A-Za-z_0-9]+|.)''', re.M | re.X)


def extract(path):
    """[(file:line, sql)] of the statement literals of one source file."""
    args = [os.environ.get("CC") or "cc", "-E", "-std=gnu11", "-Icommon", "-Iagent", "-Iserver",
            "-Ibuild/gen"] + cflags() + [path]
    pre = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    found, cur, where = [], [], None
    file, line = path, 1

    def flush():
        nonlocal cur, where
        if cur and where and where[0] == path:
            sql = "".join(cur)
            if SQL_START.match(sql):
                found.append(("%s:%d" % where, sql))
        cur, where = [], None

    for m in TOKEN.finditer(pre):
        kind = m.lastgroup
        if kind == "marker":
            file, line = m.group("file"), int(m.group("line"))
            continue
        if kind == "nl":
            line += 1
        elif kind == "ws":
            pass
        elif kind == "str":
            if not cur:
                where = (file, line)
            cur.append(c_unescape(m.group("str")[1:-1]))
        else:
            flush()
    flush()
    return found


def placeholders(sql):
    """?NNN -> $NNN, a bare ? -> $k (one more than the largest so far),
    outside quotes, as db_pg.c does at prepare time."""
    out, i, top = [], 0, 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"":
            j = i + 1
            while j < len(sql):
                if sql[j] == ch:
                    if j + 1 < len(sql) and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        if ch == "?":
            m = re.match(r"\d+", sql[i + 1:])
            if m:
                n = int(m.group(0))
                i += 1 + len(m.group(0))
            else:
                n = top + 1
                i += 1
            top = max(top, n)
            out.append("$%d" % n)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="derelict-sqlcheck-")
        data = os.path.join(self.dir, "data")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # The server refuses to run as root: as root, it runs as the
        # postgres user (Debian's package makes one), or nobody.
        self.as_user = []
        if os.geteuid() == 0:
            import pwd
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", pw.pw_name, "--"]
        subprocess.run(self.as_user + [PGBIN + "/initdb", "-A", "trust",
                                       "-U", "postgres", "-D", data,
                                       "--no-sync"], check=True,
                       capture_output=True)
        opts = "-c listen_addresses=127.0.0.1 -c port=%d " \
               "-c unix_socket_directories=%s -c fsync=off" % (
                   self.port, self.dir)
        subprocess.run(self.as_user + [PGBIN + "/pg_ctl", "-D", data, "-w", "-t", "30",
                        "-l", os.path.join(self.dir, "log"), "-o", opts,
                        "start"], check=True, capture_output=True)
        self.data = data

    def psql(self, db, sql, check=True):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port),
                            "-U", "postgres", "-d", db, "-At", "-F", "\x1f"],
                           input=sql, capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError(r.stderr.strip())
        return r

    def stop(self):
        subprocess.run(self.as_user + [PGBIN + "/pg_ctl", "-D", self.data,
                                       "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def prepare_all(pg, stmts):
    """PREPAREs each statement on one psql session; [(where, sql, error)]."""
    script = ["\\set ON_ERROR_STOP 0", "\\set VERBOSITY terse"]
    for n, (where, sql) in enumerate(stmts):
        text = placeholders(sql)
        script.append("\\echo @@%d" % n)
        if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES)\b",
                    text, re.I):
            script.append("PREPARE s%d AS %s;" % (n, text))
            script.append("SELECT '@P' || parameter_types::text FROM "
                          "pg_prepared_statements WHERE name = 's%d';" % n)
            script.append("DEALLOCATE s%d;" % n)
        else:
            script.append("BEGIN; %s; ROLLBACK;" % text)
    # psql echoes to stdout and writes errors to stderr: both on one
    # stream, so each error follows its marker.
    r = subprocess.run(["sh", "-c", "psql -X -q -At -h '%s' -p %d -U "
                        "postgres -d sqlcheck 2>&1" % (pg.dir, pg.port)],
                       input="\n".join(script) + "\n", capture_output=True,
                       text=True)
    errors, cur = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@@"):
            cur = int(line[2:])
        elif line.startswith("@P{") and cur is not None:
            types = line[3:-1].split(",") if line[3:-1] else []
            e = check_binds(stmts[cur][0], types)
            if e:
                errors.setdefault(cur, e)
        elif cur is not None and ("ERROR" in line or "error" in line):
            errors.setdefault(cur, line.strip())
    return [(stmts[n][0], stmts[n][1], e) for n, e in sorted(errors.items())]


BIND = re.compile(r"\bdb_bind_(int|text|text_take|blob|blob_take|null)\(\s*"
                  r"[A-Za-z_>.-]+\s*,\s*(\d+)\s*,")
ARG = re.compile(r"\bDB_(INT|TEXT|NULL)\b")
KIND = {"int": "number", "INT": "number", "text": "text", "TEXT": "text",
        "text_take": "text", "blob": "bytea", "blob_take": "bytea"}
PG_KIND = {"bigint": "number", "integer": "number", "smallint": "number",
           "numeric": "number", "text": "text", "bytea": "bytea"}


def check_binds(where, types):
    """The store binds each parameter with a type (db_pg.c prepares with
    it): the kind it binds must be the kind PostgreSQL inferred.  The
    binds are read from the source after the statement (db_bind_*() with a
    literal index, or db_run_with()'s DB_INT/DB_TEXT), up to the next
    statement; a parameter bound in two kinds is left alone."""
    path, line = where.rsplit(":", 1)
    with open(os.path.join(ROOT, path)) as fh:
        lines = fh.read().split("\n")
    start = int(line) - 1
    region = []
    for i in range(start, min(len(lines), start + 60)):
        text = lines[i]
        if i > start and (re.search(r"\bdb_(stmt|run_with)\(", text) or
                          text.startswith("}")):
            break
        region.append(text)
    region = "\n".join(region)
    bound = {}
    if "db_run_with(" in lines[start] or "db_run_with(" in lines[start - 1]:
        for k, m in enumerate(ARG.finditer(region)):
            bound.setdefault(k + 1, set()).add(KIND.get(m.group(1)))
    for m in BIND.finditer(region):
        bound.setdefault(int(m.group(2)), set()).add(KIND.get(m.group(1)))
    for n, kinds in sorted(bound.items()):
        kinds.discard(None)
        if len(kinds) != 1 or n > len(types):
            continue
        kind = kinds.pop()
        want = PG_KIND.get(types[n - 1])
        if want and want != kind:
            return "parameter $%d is %s here but bound as %s" % (
                n, types[n - 1], kind)
    return None


def describe_all(pg, stmts):
    """The result columns PostgreSQL gives each statement (psql's \\gdesc:
    prepared and described, not run); [(where, sql, problem)] for those
    the store would read differently from SQLite's: a boolean (read as
    text, 't'/'f', not 1/0) or a numeric (sum() of bigint; a real to
    db_row_json())."""
    script = ["\\set ON_ERROR_STOP 0"]
    for n, (where, sql) in enumerate(stmts):
        text = placeholders(sql)
        if not re.search(r"^\s*(SELECT|WITH)\b|\bRETURNING\b", text, re.I):
            continue
        script.append("\\echo @@%d" % n)
        script.append(text + " \\gdesc")
    r = subprocess.run(["sh", "-c", "psql -X -q -At -F '|' -h '%s' -p %d "
                        "-U postgres -d sqlcheck 2>&1" % (pg.dir, pg.port)],
                       input="\n".join(script) + "\n", capture_output=True,
                       text=True)
    bad, cur = [], None
    for line in r.stdout.splitlines():
        if line.startswith("@@"):
            cur = int(line[2:])
            continue
        if cur is None or "|" not in line:
            continue
        name, typ = line.rsplit("|", 1)
        if typ in ("boolean", "numeric", "unknown"):
            bad.append((stmts[cur][0], stmts[cur][1],
                        "column %s is %s" % (name, typ)))
    return bad


def sqlite_migrated(path=":memory:"):
    db = sqlite3.connect(path, isolation_level=None)
    for mig in sorted(glob.glob(os.path.join(ROOT, "sql", "*.sql"))):
        with open(mig) as fh:
            db.executescript("BEGIN;\n" + fh.read() + "\nCOMMIT;")
    return db


def param_count(sql):
    n = 0
    for m in re.finditer(r"\?(\d*)", placeholders(sql).replace("$", "?")):
        n = max(n, int(m.group(1) or 0))
    return n


def sqlite_prepare_all(stmts):
    """EXPLAINs each statement (compiled, not run) on a SQLite database of
    sql/*.sql; [(where, sql, error)]."""
    db = sqlite_migrated()
    bad = []
    for where, sql in stmts:
        if not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES)\b",
                        sql, re.I):
            continue
        try:
            db.execute("EXPLAIN " + sql, [None] * param_count(sql))
        except sqlite3.Error as e:
            bad.append((where, sql, str(e)))
    return bad


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "server", "store*.c")))
    stmts = []
    for f in files:
        stmts += extract(os.path.relpath(f, ROOT))
    if not os.access(PGBIN + "/initdb", os.X_OK):
        print("sql-check: no PostgreSQL 15 in %s (apt-get install "
              "postgresql, or PGBIN=...)" % PGBIN, file=sys.stderr)
        return 1
    pg = Cluster()
    fails = 0
    try:
        pg.psql("postgres", "CREATE DATABASE sqlcheck TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C';")
        pg.psql("postgres", "CREATE DATABASE compare TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C';")
        for db in ("sqlcheck", "compare"):
            for mig in sorted(glob.glob(os.path.join(ROOT, "sql", "pg",
                                                     "*.sql"))):
                with open(mig) as fh:
                    body = fh.read()
                r = pg.psql(db, "BEGIN;\n" + body + "\nCOMMIT;\n",
                            check=False)
                if r.returncode:
                    print("%s: %s" % (os.path.relpath(mig, ROOT),
                                      r.stderr.strip()))
                    fails += 1
        if fails:
            return 1
        on_pg = [x for x in stmts if not SQLITE_ONLY.search(x[1])]
        on_lite = [x for x in stmts if not PG_ONLY.search(x[1])]
        bad = prepare_all(pg, on_pg)
        bad += describe_all(pg, on_pg)
        for where, sql, err in bad:
            print("%s: %s" % (where, err))
            if VERBOSE:
                print("    " + placeholders(sql))
        bad_lite = sqlite_prepare_all(on_lite)
        for where, sql, err in bad_lite:
            print("%s: sqlite: %s" % (where, err))
        fails += len(bad) + len(bad_lite)
        print("sql-check: %d statements (%d SQLite's own, %d PostgreSQL's "
              "own); PostgreSQL: %d prepared, %d failures; SQLite: %d "
              "prepared, %d failures" % (
                  len(stmts), len(stmts) - len(on_pg),
                  len(stmts) - len(on_lite), len(on_pg), len(bad),
                  len(on_lite), len(bad_lite)))
        fails += compare.run(pg, "compare", stmts, sqlite_migrated(),
                             placeholders, VERBOSE)
    finally:
        pg.stop()
    return 1 if fails else 0


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqlcompare as compare  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
