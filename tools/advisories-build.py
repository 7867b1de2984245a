#!/usr/bin/python3
"""advisories-build.py - builds data/advisories.json from Debian's own data.

    tools/advisories-build.py TRACKER [TRACKER...] [-o data/advisories.json]

One command regenerates the shipped snapshot:

 - the changelog.Debian.gz of every MTA's package (MTAS below) in each
   supported release and its security suite (RELEASES), fetched with
   apt-get download through a private APT_CONFIG (sources list, state and
   cache under --cache, /var/tmp/derelict-advisories by default) and
   unpacked with dpkg-deb -x.  The newest version of a release carries the
   whole history of that release's line, so the first entry that names a
   CVE is the version that fixed it there;
 - the DSA and DLA lists of Debian's security tracker (data/DSA/list and
   data/DLA/list), for the releases no longer on the mirrors (buster,
   stretch) and for the advisory ids.  TRACKER is a tracker checkout (work
   tree or git directory: "git clone
   https://salsa.debian.org/security-tracker-team/security-tracker.git")
   or the path of one list file;
 - the previous output file, for what Debian's data does not say: the
   severity, scope, summary and upstream fixed versions written by hand,
   and "not-affected" judgements.

Where the data disagree, Debian's wins: a changelog over the lists over the
previous file.  A CVE's new entry takes its severity from the upload's
urgency (DEFAULT_SEVERITY when that says nothing) and its summary from the
changelog's sentence; fixed_upstream from the changelog text ("fixed
upstream in 4.99.3", "Exim before 4.100.1") or from a new upstream
version's upload; without one, a release the file does not name is not
judged for that CVE.  Review the printed notes before committing.

Python 3 standard library only; needs apt-get, apt-cache, dpkg-deb and git.
"""

import argparse
import datetime
import functools
import gzip
import json
import os
import re
import subprocess
import sys

# Debian source package -> binary packages whose changelog.Debian.gz is
# read, first that exists wins.  The list of MTAs follows the MTA table in
# server/rules.c; qmail has no package in the supported releases, so only
# the lists speak for it.
MTAS = [
    ("exim4", ["exim4-base"]),
    ("postfix", ["postfix"]),
    ("sendmail", ["sendmail-base", "sendmail-bin"]),
    ("opensmtpd", ["opensmtpd"]),
    ("courier", ["courier-mta"]),
    ("msmtp", ["msmtp"]),
    ("nullmailer", ["nullmailer"]),
    ("dma", ["dma"]),
    ("qmail", []),
    ("netqmail", []),
    ("notqmail", []),
]

# Releases on the mirrors (changelogs), then the ones the lists alone
# cover; the order is the order of the output.  At most 8 (the loader's
# ADVISORY_MAX_FIXES).
RELEASES = ["bullseye", "bookworm", "trixie"]
LIST_RELEASES = ["stretch", "buster"]
ALL_RELEASES = ["stretch", "buster", "bullseye", "bookworm", "trixie"]

MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://security.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

DEFAULT_SEVERITY = "medium"
URGENCY_SEVERITY = {"critical": "critical", "emergency": "critical",
                    "high": "high", "medium": "medium", "low": "low"}

CVE_RE = re.compile(r"CVE-(\d{4})-(\d{4,7})", re.I)
HEADER_RE = re.compile(r"^(\S+) \(([^()\s]+)\) ([^;]*);(.*)$")
TRAILER_RE = re.compile(r"^ -- .*?  (.+)$")
# A sentence that names a CVE only to say the package is not the place of
# its fix ("CVE-2026-94055 is not relevant", "needs to be addressed there").
NOT_A_FIX_RE = re.compile(
    r"not relevant|not affected|does not affect|doesn't affect|"
    r"needs to be addressed|not vulnerable|unaffected|a variant of", re.I)
UPSTREAM_RE = re.compile(
    r"(?:\bbefore|fixed upstream in|from upstream|from|release) "
    r"(?:exim[- ]?|postfix[- ]?|version )?v?(\d+\.\d+(?:\.\d+)*)\b", re.I)

# Upstream's own names for an issue; an upload that fixes one by that name
# alone fixes the CVE another upload gave it.
ALIAS_RE = re.compile(r"EXIM-Security-\d{4}-\d{2}-\d{2}\.\d+", re.I)

LIST_HEADER_RE = re.compile(
    r"^\[(\d{1,2} \w{3} \d{4})\] ((?:DSA|DLA)-\d+(?:-\d+)?) (\S+)")
LIST_CVES_RE = re.compile(r"^\s+\{([^}]*)\}")
LIST_FIX_RE = re.compile(r"^\s+\[(\w+)\] - (\S+) (\S+)")


def note(msg):
    print("advisories-build: " + msg, file=sys.stderr)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          universal_newlines=True, **kw).stdout


def _order(c):
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _cmp_part(a, b):
    """dpkg's comparison of two upstream or revision strings."""
    while a or b:
        na = re.match(r"[^0-9]*", a).group(0)
        nb = re.match(r"[^0-9]*", b).group(0)
        for i in range(max(len(na), len(nb))):
            x = _order(na[i]) if i < len(na) else 0
            y = _order(nb[i]) if i < len(nb) else 0
            if x != y:
                return -1 if x < y else 1
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"[0-9]*", a).group(0)
        db = re.match(r"[0-9]*", b).group(0)
        x, y = int(da or 0), int(db or 0)
        if x != y:
            return -1 if x < y else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def _split(v):
    epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
    up, _, rev = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), up, rev


def vercmp(a, b):
    """dpkg's order of two versions (as dpkg --compare-versions): -1, 0, 1."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _cmp_part(ua, ub) or _cmp_part(ra, rb)


def upstream_of(version):
    v = version.split(":", 1)[-1]
    return v.rsplit("-", 1)[0] if "-" in v else v


# ---- apt --------------------------------------------------------------------

def apt_setup(cache, update):
    apt = os.path.join(cache, "apt")
    for d in ("state/lists/partial", "cache/archives/partial",
              "etc/sources.list.d", "etc/preferences.d"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    with open(os.path.join(apt, "state/status"), "a"):
        pass
    with open(os.path.join(apt, "etc/sources.list"), "w") as f:
        for r in RELEASES:
            f.write("deb [signed-by=%s] %s %s main\n" % (KEYRING, MIRROR, r))
            f.write("deb [signed-by=%s] %s %s-security main\n"
                    % (KEYRING, SECURITY_MIRROR, r))
    conf = os.path.join(apt, "apt.conf")
    with open(conf, "w") as f:
        for key, sub in (("Dir::State", "state"),
                         ("Dir::State::status", "state/status"),
                         ("Dir::Cache", "cache"),
                         ("Dir::Etc::SourceList", "etc/sources.list"),
                         ("Dir::Etc::SourceParts", "etc/sources.list.d"),
                         ("Dir::Etc::Preferences", "etc/preferences"),
                         ("Dir::Etc::PreferencesParts", "etc/preferences.d")):
            f.write('%s "%s";\n' % (key, os.path.join(apt, sub)))
        f.write('Acquire::Languages "none";\n')
        # The cache belongs to whoever runs this, not to _apt.
        f.write('APT::Sandbox::User "root";\n')
    env = dict(os.environ, APT_CONFIG=conf, LC_ALL="C")
    if update:
        run(["apt-get", "-q", "update"], env=env)
    return env


def madison(env, pkg):
    """{suite: version} of a binary package on the private sources."""
    out = {}
    try:
        text = run(["apt-cache", "madison", pkg], env=env)
    except subprocess.CalledProcessError:
        return out
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3 or parts[0] != pkg:
            continue
        suite = parts[2].split()[1].split("/")[0]
        if suite not in out or vercmp(parts[1], out[suite]) > 0:
            out[suite] = parts[1]
    return out


def fetch_changelog(env, cache, pkg, version):
    """The text of pkg's changelog.Debian.gz at version, or None."""
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    name = "%s_%s_" % (pkg, version.replace(":", "%3a"))
    have = [f for f in os.listdir(debs) if f.startswith(name)
            and f.endswith(".deb")]
    if not have:
        run(["apt-get", "-q", "download", "%s=%s" % (pkg, version)],
            env=env, cwd=debs)
        have = [f for f in os.listdir(debs) if f.startswith(name)
                and f.endswith(".deb")]
    if not have:
        raise RuntimeError("apt-get download %s=%s left no file"
                           % (pkg, version))
    deb = os.path.join(debs, have[0])
    root = os.path.join(cache, "x", have[0][:-4])
    if not os.path.isdir(root):
        os.makedirs(root)
        run(["dpkg-deb", "-x", deb, root])
    path = os.path.join(root, "usr/share/doc", pkg, "changelog.Debian.gz")
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


# ---- changelogs -------------------------------------------------------------

def parse_changelog(text):
    """Entries, newest first: {version, distribution, urgency, date, body}."""
    entries = []
    cur = None
    for line in text.splitlines():
        m = HEADER_RE.match(line)
        if m:
            cur = {"source": m.group(1), "version": m.group(2),
                   "distribution": m.group(3).strip(), "urgency": "",
                   "date": "", "body": []}
            u = re.search(r"urgency=(\w+)", m.group(4))
            if u:
                cur["urgency"] = u.group(1).lower()
            entries.append(cur)
            continue
        if cur is None:
            continue
        m = TRAILER_RE.match(line)
        if m:
            try:
                d = datetime.datetime.strptime(
                    m.group(1).strip()[:31], "%a, %d %b %Y %H:%M:%S %z")
                cur["date"] = d.strftime("%Y-%m-%d")
            except ValueError:
                pass
            cur = None
            continue
        cur["body"].append(line)
    return entries


def bullets(body):
    """The entry's top-level items, each as its stripped lines."""
    items, cur = [], None
    for line in body:
        s = line.strip()
        if re.match(r"^ {1,3}\* ", line):
            cur = [s[2:]]
            items.append(cur)
        elif s and cur is not None:
            cur.append(s)
        elif s:
            cur = [s]
            items.append(cur)
    return items


def sub_items(item_lines):
    """An item's first line and its sub-items ("- ...", "+ ..."), each
    joined into one line."""
    subs, cur = [], []
    for s in item_lines:
        if re.match(r"^[-+*o] ?\S", s) and cur:
            subs.append(" ".join(cur))
            cur = []
        cur.append(s)
    if cur:
        subs.append(" ".join(cur))
    return subs


def learn_aliases(entry, aliases):
    """Adds {upstream id: CVE} from the items that name one CVE."""
    for lines in bullets(entry["body"]):
        item = " ".join(lines)
        cves = {"CVE-%s-%s" % m.groups() for m in CVE_RE.finditer(item)}
        if len(cves) == 1:
            for a in ALIAS_RE.findall(item):
                aliases.setdefault(a.upper(), next(iter(cves)))


def cve_mentions(entry, aliases=None):
    """{CVE: (the item that names it as fixed, the part about it)}."""
    found = {}
    for lines in bullets(entry["body"]):
        item = " ".join(lines)
        for a in ALIAS_RE.findall(item):
            cve = (aliases or {}).get(a.upper())
            if cve and cve.lower() not in item.lower():
                found.setdefault(cve, ("", item))
        sentences = re.split(r"(?<=[.;])\s+|\s+-\s+|[()]", item)
        subs = sub_items(lines)
        for m in CVE_RE.finditer(item):
            cve = "CVE-%s-%s" % (m.group(1), m.group(2))
            if cve in found:
                continue
            about = [s for s in sentences if cve.lower() in s.lower()]
            if about and all(NOT_A_FIX_RE.search(s) for s in about):
                continue
            part = next((i for i, s in enumerate(subs)
                         if cve.lower() in s.lower()), 0)
            text = subs[part]
            # "* CVE-2026-66140 EXIM-Security-...": the words come next.
            if len(re.sub(r"\S*\d\S*", "", text).strip()) < 20 and \
                    part + 1 < len(subs):
                text += " " + subs[part + 1]
            found[cve] = (subs[0] if part else "", text)
    return found


def summary_of(text):
    """A short summary from a changelog item: the text without patch
    names, at most 300 characters."""
    s = re.sub(r"\b[\w.+-]+\.(?:patch|diff)\b:?", "", text)
    s = re.sub(r"\s+", " ", s).strip(" :-+*")
    if len(s) > 300:
        s = s[:297].rsplit(" ", 1)[0] + "..."
    return s


def upstream_hints(text):
    """Upstream versions the text says fix it."""
    out = []
    for m in UPSTREAM_RE.finditer(text.replace(",", ".")):
        v = m.group(1).rstrip(".")
        if v.count(".") >= 1:
            out.append(v)
    return out


# ---- the tracker's lists ----------------------------------------------------

def read_lists(paths):
    """Texts of the DSA and DLA lists named by the arguments."""
    texts = []
    for p in paths:
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                texts.append((p, f.read()))
            continue
        for rel in ("data/DSA/list", "data/DLA/list"):
            full = os.path.join(p, rel)
            if os.path.isfile(full):
                with open(full, encoding="utf-8", errors="replace") as f:
                    texts.append((full, f.read()))
            elif os.path.isdir(os.path.join(p, "objects")):
                head = run(["git", "--git-dir", p, "rev-parse",
                            "HEAD"]).strip()
                texts.append(("security-tracker@%s:%s" % (head, rel),
                              run(["git", "--git-dir", p, "show",
                                   "HEAD:" + rel])))
            else:
                raise SystemExit("advisories-build: %s has no %s"
                                 % (p, rel))
    return texts


def parse_lists(texts, sources):
    """{(source, cve, release): (version, advisory id, date)}."""
    fixes = {}
    for _name, text in texts:
        adv = date = None
        cves = []
        for line in text.splitlines():
            m = LIST_HEADER_RE.match(line)
            if m:
                adv = m.group(2)
                date = datetime.datetime.strptime(
                    m.group(1), "%d %b %Y").strftime("%Y-%m-%d")
                cves = []
                continue
            m = LIST_CVES_RE.match(line)
            if m and adv:
                cves = m.group(1).split()
                continue
            m = LIST_FIX_RE.match(line)
            if m and adv and m.group(2) in sources:
                rel, src, ver = m.groups()
                if ver.startswith("<"):
                    continue
                for cve in cves:
                    key = (src, cve, rel)
                    old = fixes.get(key)
                    if not old or vercmp(ver, old[0]) < 0:
                        fixes[key] = (ver, adv, date)
    return fixes


# ---- putting it together ----------------------------------------------------

def build(args):
    sources = [s for s, _ in MTAS]
    env = apt_setup(args.cache, not args.no_update)
    lineages = {}   # (source, release) -> parsed changelog entries
    versions = {}   # (source, release) -> newest version read
    for source, binaries in MTAS:
        for rel in RELEASES:
            for pkg in binaries:
                suites = madison(env, pkg)
                cands = [v for s, v in suites.items()
                         if s in (rel, rel + "-security")]
                if not cands:
                    continue
                newest = functools.reduce(
                    lambda a, b: a if vercmp(a, b) >= 0 else b, cands)
                text = fetch_changelog(env, args.cache, pkg, newest)
                if text is None:
                    continue
                entries = [e for e in parse_changelog(text)
                           if e["source"] == source]
                if entries:
                    lineages[(source, rel)] = entries
                    versions[(source, rel)] = entries[0]["version"]
                    break
            if (source, rel) not in lineages and binaries:
                note("%s: no changelog in %s" % (source, rel))

    list_texts = read_lists(args.tracker)
    lists = parse_lists(list_texts, set(sources))
    previous = {}
    if args.previous and os.path.exists(args.previous):
        with open(args.previous) as f:
            for a in json.load(f).get("advisories", []):
                previous[(a["source"], a["cve"])] = a

    # (source, cve) -> release -> the first entry naming it there; and
    # every mention anywhere, for the upstream version and the summary.
    found, mentions, aliases = {}, {}, {}
    for entries in lineages.values():
        for e in entries:
            learn_aliases(e, aliases)
    for (source, rel), entries in lineages.items():
        oldest_first = list(reversed(entries))
        for i, e in enumerate(oldest_first):
            new_upstream = i == 0 or upstream_of(
                oldest_first[i - 1]["version"]) != upstream_of(e["version"])
            for cve, (head, text) in cve_mentions(e, aliases).items():
                m = {"version": e["version"], "date": e["date"],
                     "urgency": e["urgency"], "head": head, "text": text,
                     "distribution": e["distribution"],
                     "new_upstream": new_upstream}
                mentions.setdefault((source, cve), []).append(m)
                found.setdefault((source, cve), {}).setdefault(rel, m)
    # Binary packages carry a trimmed history (dh_installchangelogs drops
    # old entries), so a fix uploaded to unstable before a release's
    # oldest entry is in that release's ancestry though not in its file.
    for (source, cve), per in found.items():
        for rel in RELEASES:
            entries = lineages.get((source, rel))
            if rel in per or not entries:
                continue
            for m in sorted(mentions[(source, cve)], key=functools.cmp_to_key(
                    lambda x, y: vercmp(x["version"], y["version"]))):
                if re.search(r"unstable|experimental", m["distribution"]) \
                        and vercmp(m["version"],
                                   entries[-1]["version"]) < 0:
                    per[rel] = dict(m, inferred=True)
                    break
    for (source, cve, _rel) in lists:
        found.setdefault((source, cve), {})
    for key in previous:
        found.setdefault(key, {})

    out = []
    for (source, cve) in sorted(found, key=lambda k: (
            sources.index(k[0]) if k[0] in sources else 99,
            [int(x) for x in k[1].split("-")[1:]])):
        per = found[(source, cve)]
        prev = previous.get((source, cve), {})
        fixed, fixed_by, refs = {}, {}, list(prev.get("references", []))
        for rel in ALL_RELEASES:
            lst = lists.get((source, cve, rel))
            ch = per.get(rel)
            if ch:
                fixed[rel] = ch["version"]
                fixed_by[rel] = {"from": "changelog", "date": ch["date"]}
                if ch.get("inferred"):
                    fixed_by[rel]["from"] = "changelog-ancestry"
                if lst and vercmp(lst[0], ch["version"]) != 0:
                    note("%s %s %s: changelog %s, %s says %s"
                         % (source, cve, rel, ch["version"], lst[1], lst[0]))
                if lst and vercmp(lst[0], ch["version"]) == 0:
                    fixed_by[rel]["advisory"] = lst[1]
            elif lst:
                fixed[rel] = lst[0]
                fixed_by[rel] = {"from": lst[1][:3].lower() + "-list",
                                 "date": lst[2], "advisory": lst[1]}
            elif rel in prev.get("fixed", {}):
                fixed[rel] = prev["fixed"][rel]
                fixed_by[rel] = {"from": "previous"}
                pb = prev.get("fixed_by", {}).get(rel)
                if pb:
                    fixed_by[rel] = pb
                if rel in RELEASES and fixed[rel] != "not-affected" and \
                        (source, rel) in versions:
                    note("%s %s %s: %s only from the previous file"
                         % (source, cve, rel, fixed[rel]))
            if lst and lst[1] not in refs:
                refs.append(lst[1])
        if not fixed:
            continue
        named = [per[r] for r in RELEASES if r in per]
        if prev.get("severity"):
            severity = prev["severity"]
        else:
            urg = [URGENCY_SEVERITY.get(n["urgency"]) for n in named]
            order = ["low", "medium", "high", "critical"]
            urg = [u for u in urg if u]
            severity = max(urg, key=order.index) if urg else DEFAULT_SEVERITY
        e = {"cve": cve, "source": source, "severity": severity}
        if prev.get("scope"):
            e["scope"] = prev["scope"]
        if prev.get("summary"):
            e["summary"] = prev["summary"]
        elif named:
            e["summary"] = summary_of(named[-1]["text"])
        else:
            e["summary"] = ""
        up = prev.get("fixed_upstream")
        if not up:
            hints, ms = [], mentions.get((source, cve), [])
            for n in ms:
                hints += upstream_hints(n["head"] + " " + n["text"])
            if not hints:
                hints = sorted((upstream_of(n["version"]) for n in ms
                                if n["new_upstream"]),
                               key=functools.cmp_to_key(vercmp))[:1]
            # One version per upstream branch, the highest the text gives.
            branch = {}
            for h in hints:
                k = ".".join(h.split(".")[:2])
                if k not in branch or vercmp(h, branch[k]) > 0:
                    branch[k] = h
            hints = sorted(branch.values(), key=functools.cmp_to_key(vercmp))
            if hints:
                up = hints[0] if len(hints) == 1 else hints
            else:
                note("%s %s: no upstream fixed version; releases not "
                     "named are not judged" % (source, cve))
        if up:
            e["fixed_upstream"] = up
        e["fixed"] = fixed
        e["fixed_by"] = fixed_by
        e["references"] = sorted(refs)
        out.append(e)

    built = datetime.date.today().isoformat()
    doc = {
        "format": 1,
        "generated": {
            "date": built,
            "by": "tools/advisories-build.py",
            "changelogs": {"%s/%s" % k: v for k, v in sorted(versions.items())},
            "lists": [n for n, _ in list_texts],
        },
        "description": DESCRIPTION,
        "advisories": out,
    }
    return doc


DESCRIPTION = [
    "Known vulnerabilities of mail transfer agents, shipped with derelictd "
    "and embedded in it.  Generated by tools/advisories-build.py; do not "
    "edit by hand except for severity, scope, summary and fixed_upstream, "
    "which the next run keeps.",
    "Each advisory names one CVE in one Debian source package.",
    "fixed maps a Debian release codename to the first Debian version "
    "(source version, dpkg ordering) that is not vulnerable, or to "
    "\"not-affected\" when no version in that release ever was.",
    "A release missing from fixed is judged by fixed_upstream against the "
    "upstream part of the installed version (no epoch, no revision); "
    "without fixed_upstream, such a release is not judged.",
    "fixed_upstream is a version or a list of versions, one per maintained "
    "upstream branch: an upstream version is fixed when it is at least the "
    "listed version of its own branch (same first two components) or at "
    "least the highest listed version.",
    "severity is critical, high, medium or low (written by hand, else the "
    "fixing upload's urgency, else medium); scope is remote or local.",
    "For bullseye, bookworm and trixie the fixed version is the first entry "
    "of that release's changelog.Debian.gz that names the CVE (for a fix "
    "older than the release, the unstable upload); for stretch and buster "
    "it comes from the security tracker's DSA and DLA lists.",
    "fixed_by says, per release, where the fixed version comes from "
    "(\"changelog\"; \"changelog-ancestry\": an unstable upload older "
    "than the release's trimmed changelog; \"dsa-list\", \"dla-list\"; "
    "\"previous\": an earlier, hand-checked file; \"hand\": a judgement "
    "written here, with its note, which the next run keeps), the date of "
    "the fixing upload or "
    "advisory, and the advisory id (DSA/DLA) where the lists give one.  "
    "references lists every advisory id and other names of the issue.",
]


def main():
    p = argparse.ArgumentParser(
        description="Build data/advisories.json from Debian's changelogs "
        "and the security tracker's DSA/DLA lists.")
    p.add_argument("tracker", nargs="+",
                   help="security-tracker checkout (work tree or git dir) "
                   "or a DSA/DLA list file")
    p.add_argument("-o", "--output", default="data/advisories.json")
    p.add_argument("--previous", default=None,
                   help="earlier file whose hand-written members are kept "
                   "(default: the output file)")
    p.add_argument("--cache", default="/var/tmp/derelict-advisories",
                   help="apt state and downloaded packages")
    p.add_argument("--no-update", action="store_true",
                   help="use the cached package lists")
    args = p.parse_args()
    if args.previous is None:
        args.previous = args.output
    doc = build(args)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, args.output)
    note("%d advisories written to %s" % (len(doc["advisories"]),
                                          args.output))


if __name__ == "__main__":
    main()
