"""Composes agent roots for the findings tests from real captured pieces:
sockets and processes of a real Exim (or a loopback-only MTA), real dpkg
stanzas with the version a scenario needs, an os-release and real wtmp."""
import pathlib
import re
import shutil

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def compose(dest, hostname, mta="exim", version="4.92-8+deb10u1",
            release="buster", logins=True):
    """Builds a root under dest and returns its path.

    mta: "exim" (exim4 on 0.0.0.0:25) or "loopback" (an MTA on
    127.0.0.1:25 and [::1]:25 only) or None (no listener at all)."""
    root = pathlib.Path(dest) / hostname
    if root.exists():
        shutil.rmtree(root)
    if mta:
        src = FIX / "roots" / ("exim" if mta == "exim" else "postfix-loopback")
        shutil.copytree(src, root, symlinks=True)
    else:
        (root / "proc" / "net").mkdir(parents=True)
        for t in ("tcp", "tcp6", "udp", "udp6"):
            shutil.copy(FIX / "roots" / "exim" / "proc" / "net" / t,
                        root / "proc" / "net" / t)
            # Keep the header line only: no sockets.
            lines = (root / "proc" / "net" / t).read_text().splitlines()
            (root / "proc" / "net" / t).write_text(lines[0] + "\n")
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "hostname").write_text(hostname + "\n")
    shutil.copy(FIX / "scenario" / f"os-release.{release}", etc / "os-release")
    dpkg = root / "var" / "lib" / "dpkg"
    dpkg.mkdir(parents=True, exist_ok=True)
    status = (FIX / "scenario" / "dpkg-status-exim").read_text()
    status = re.sub(r"(?m)^Version: .*$", f"Version: {version}", status)
    (dpkg / "status").write_text(status)
    if logins:
        (root / "var" / "log").mkdir(parents=True, exist_ok=True)
        shutil.copy(FIX / "roots" / "wtmp" / "var" / "log" / "wtmp",
                    root / "var" / "log" / "wtmp")
    return root
