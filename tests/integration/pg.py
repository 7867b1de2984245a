"""A PostgreSQL 15 cluster of the tests' own, from Debian's packages: initdb
into a temporary directory, pg_ctl start on 127.0.0.1 at a free port and a
unix socket in that directory, stopped (and removed) at the end.  Never the
system's cluster.  initdb refuses root, so as root the cluster belongs to
nobody.

  c = Cluster()                     trust for the user "derelict"
  c = Cluster(auth="scram-sha-256", password="...")
  c.create_database("t1")           CREATE DATABASE ... LC_COLLATE 'C'
  c.uri("t1")                       postgresql://derelict@127.0.0.1:PORT/t1
  c.sql("SELECT 1", db="t1")        psql's output (-At)
  c.stop()
"""
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile

PG_BIN = pathlib.Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "derelict"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, auth="trust", password=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="derelict-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.password = password
        self.run_as = {}
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid}
        cmd = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER,
               "-A", auth, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
        if password is not None:
            pwfile = self.dir / "pwfile"
            pwfile.write_text(password + "\n")
            if self.run_as:
                os.chown(pwfile, self.run_as["user"], self.run_as["group"])
            cmd += ["--pwfile", str(pwfile)]
        self._run(cmd)
        self.start()

    def _run(self, cmd, **kw):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           cwd=self.dir, **self.run_as, **kw)
        if r.returncode != 0:
            raise AssertionError(f"{cmd[0]} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def start(self):
        # Enough connections for several derelictd at once (9 each).
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-k {self.dir} -c max_connections=300")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.dir / "postgresql.log"), "-w", "-t", "60",
                   "-o", opts, "start"])

    def stop(self, mode="fast"):
        if self.data.exists():
            subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                            "-m", mode, "-w", "stop"], capture_output=True,
                           timeout=120, cwd=self.dir, **self.run_as)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def uri(self, db):
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def sql(self, query, db="postgres"):
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-v",
                            "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                            str(self.port), "-U", USER, "-d", db, "-c", query],
                           capture_output=True, text=True, timeout=60, env=env)
        if r.returncode != 0:
            raise AssertionError(f"psql {query!r}: {r.stderr}")
        return r.stdout

    def create_database(self, name, collate="C"):
        # The C collation: ORDER BY sorts bytewise, as SQLite's does.
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 "
                 f"LC_COLLATE '{collate}' LC_CTYPE '{collate}'")
        return self.uri(name)
