"""Real RPM databases for the tests, made with Debian's rpm tools: small
packages built by rpmbuild and installed with
`rpm --root R --justdb --nodeps -i` (an rpmdb.sqlite, RPM 4.18), and
Berkeley DB Packages files written by Berkeley DB's own db5.3_load from
real header blobs (tests/fixtures/rpm/centos7-headers, from CentOS 7) and
from the headers rpm itself stored.  `rpm -qa` reads either back (its
bdb_ro backend for the Berkeley DB ones) as the oracle."""
import pathlib
import shutil
import sqlite3
import struct
import subprocess

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
QF = "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\\n"


def have_tools():
    return bool(shutil.which("rpmbuild") and shutil.which("rpm"))


def build(workdir, name, version, release, epoch=None, arch="x86_64",
          subpackages=()):
    """Builds name (and its subpackages, sharing its source RPM) and
    returns the paths of the binary RPMs."""
    work = pathlib.Path(workdir) / f"build-{name}-{version}-{release}"
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"Name: {name}", f"Version: {version}", f"Release: {release}",
             "Summary: derelict test package", "License: MIT",
             f"BuildArch: {arch}"]
    if epoch is not None:
        lines.append(f"Epoch: {epoch}")
    lines += ["%description", "test", "%files"]
    for sub in subpackages:
        lines += [f"%package -n {sub}", "Summary: sub", f"%description -n {sub}",
                  "sub", f"%files -n {sub}"]
    spec = work / "t.spec"
    spec.write_text("\n".join(lines) + "\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {work}/top",
                    "--define", "_build_id_links none", "-bb", str(spec)],
                   check=True, capture_output=True)
    return sorted(str(p) for p in (work / "top" / "RPMS").rglob("*.rpm"))


def install(root, rpms):
    """Installs into root's var/lib/rpm/rpmdb.sqlite, database only."""
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm",
                    "--justdb", "--nodeps", "--noscripts", "-i", *rpms],
                   check=True, capture_output=True)


def import_key(root):
    """Imports a real OpenPGP key (Debian 12's archive key) as rpm does
    on every RHEL host: a gpg-pubkey "package" without arch or source."""
    import tempfile
    with tempfile.TemporaryDirectory() as home:
        key = subprocess.run(
            ["gpg", "--homedir", home, "--no-default-keyring", "--keyring",
             "/usr/share/keyrings/debian-archive-bookworm-stable.gpg",
             "--export", "--armor"], check=True, capture_output=True).stdout
        path = pathlib.Path(home) / "key.asc"
        path.write_bytes(key)
        subprocess.run(["rpm", "--root", str(root), "--dbpath",
                        "/var/lib/rpm", "--import", str(path)], check=True,
                       capture_output=True)


def qa(root, bdb=False):
    """What rpm -qa prints for root's database, one line a package:
    "NAME E:V-R ARCH SOURCERPM", sorted."""
    cmd = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    if bdb:
        cmd += ["--define", "_db_backend bdb_ro"]
    out = subprocess.run(cmd + ["-qa", "--qf", QF], check=True,
                         capture_output=True, text=True).stdout
    return sorted(out.splitlines())


def agent_lines(section):
    """The agent's items in the same form; "(none)" as rpm prints a
    missing tag."""
    return sorted(f"{i['name']} {i['version']} {i['arch'] or '(none)'}"
                  for i in section["items"])


def qa_lines(lines):
    return sorted(" ".join(l.split()[:3]) for l in lines)


def sqlite_headers(root):
    db = sqlite3.connect(pathlib.Path(root) / "var/lib/rpm/rpmdb.sqlite")
    try:
        return [bytes(r[0]) for r in
                db.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        db.close()


def centos7_headers(names=None):
    """The real CentOS 7 header blobs of the fixtures."""
    d = FIX / "rpm" / "centos7-headers"
    return [p.read_bytes() for p in sorted(d.glob("*.bin"))
            if names is None or any(n in p.name for n in names)]


def write_bdb(root, headers):
    """Writes root/var/lib/rpm/Packages with Berkeley DB's db5.3_load: key
    0 rpm's header counter, then the headers under 1..n (native order)."""
    path = pathlib.Path(root) / "var/lib/rpm/Packages"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    text = ["VERSION=3", "format=bytevalue", "type=hash", "HEADER=END",
            " " + struct.pack("=I", 0).hex(),
            " " + struct.pack("=I", len(headers) + 1).hex()]
    for i, h in enumerate(headers, 1):
        text += [" " + struct.pack("=I", i).hex(), " " + h.hex()]
    text.append("DATA=END")
    subprocess.run(["db5.3_load", "-c", "db_pagesize=4096", str(path)],
                   input=("\n".join(text) + "\n").encode(), check=True,
                   capture_output=True)
    return path


def compose_host(dest, hostname, release, rpms=(), headers=(), bdb=False):
    """An RPM host's root: the real exim root's sockets (0.0.0.0:25) and
    process, its executable retargeted to Postfix's master as Red Hat
    installs it (/usr/libexec/postfix/master, user postfix), the
    os-release of tests/fixtures/scenario/os-release.<release>, and an RPM
    database: the rpms installed into rpmdb.sqlite, or (bdb) a Berkeley
    DB Packages file of headers plus those rpms' headers."""
    root = pathlib.Path(dest) / hostname
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(FIX / "roots" / "exim", root, symlinks=True)
    proc = next((root / "proc").glob("[0-9]*"))
    (proc / "exe").unlink()
    (proc / "exe").symlink_to("/usr/libexec/postfix/master")
    (proc / "comm").write_text("master\n")
    status = (proc / "status").read_text()
    (proc / "status").write_text(status.replace("Name:\texim4", "Name:\tmaster"))
    passwd = root / "etc" / "passwd"
    passwd.write_text(passwd.read_text().replace(
        "Debian-exim:x:102:105::/var/spool/exim4:/usr/sbin/nologin",
        "postfix:x:102:105::/var/spool/postfix:/sbin/nologin"))
    (root / "etc" / "hostname").write_text(hostname + "\n")
    shutil.copy(FIX / "scenario" / f"os-release.{release}",
                root / "etc" / "os-release")
    if bdb:
        staging = pathlib.Path(dest) / (hostname + "-staging")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        built = []
        if rpms:
            install(staging, list(rpms))
            built = sqlite_headers(staging)
        write_bdb(root, list(headers) + built)
    else:
        (root / "var" / "lib" / "rpm").mkdir(parents=True, exist_ok=True)
        install(root, list(rpms))
        import_key(root)
    return root
