#!/usr/bin/python3
"""cycles.py - no two translation units call each other, directly or round
a longer loop.

Reads `nm` of each object of common/, agent/ and server/ under build/ (or
the objects named on the command line), draws an edge A -> B when A.o
leaves undefined a function (or a variable) that B.o defines, and prints
every strongly connected component of more than one file with the calls
that close it.  Exits 1 if there is one, 0 if the graph is acyclic.

    tools/cycles.py [OBJECT.o ...]      (B=build by default, as make's)

A symbol that two objects define (each binary links one of them) resolves
to the one in the caller's own folder, else to common/.
"""
import fnmatch
import glob
import os
import subprocess
import sys

# Sources left out of the graph, as fnmatch patterns ("server/store*.c"):
# only for files being reworked on another branch while a cycle through
# them is known and reported; empty it when that work is merged.
IGNORED = [
]

DIRS = ("common", "agent", "server")


def source_of(obj, build):
    rel = os.path.relpath(obj, build)
    return os.path.splitext(rel)[0] + ".c"


def ignored(src):
    return any(fnmatch.fnmatch(src, p) for p in IGNORED)


def read_nm(obj):
    out = subprocess.run(["nm", "-P", obj], check=True,
                         capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        name, kind = f[0], f[1]
        # Text, weak, and initialised, zeroed or read-only data.
        if kind in ("T", "W", "V", "D", "B", "R"):
            defined.add(name)
        elif kind == "U":
            undefined.add(name)
    return defined, undefined


def tarjan(nodes, edges):
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            sccs.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sccs


def main(argv):
    build = os.environ.get("B", "build")
    objs = argv[1:]
    if not objs:
        for d in DIRS:
            objs += sorted(glob.glob(os.path.join(build, d, "*.o")))
    files = {}
    for obj in objs:
        src = source_of(obj, build)
        # A stale object of a renamed source is no part of the program.
        if not os.path.exists(src) or ignored(src):
            continue
        files[src] = read_nm(obj)
    if not files:
        print("cycles: no objects under %s/; build first" % build,
              file=sys.stderr)
        return 2

    definers = {}
    for src, (defined, _) in files.items():
        for name in defined:
            definers.setdefault(name, []).append(src)

    edges, why = {}, {}
    for src, (_, undefined) in files.items():
        here = os.path.dirname(src)
        for name in undefined:
            cands = definers.get(name, [])
            if len(cands) > 1:
                cands = ([c for c in cands if os.path.dirname(c) == here]
                         or [c for c in cands
                             if os.path.dirname(c) == "common"]
                         or cands)
            for dst in cands:
                if dst == src:
                    continue
                edges.setdefault(src, set()).add(dst)
                why.setdefault((src, dst), []).append(name)

    bad = [s for s in tarjan(files, edges) if len(s) > 1]
    for scc in bad:
        print("cycle: " + " ".join(scc))
        members = set(scc)
        for a in scc:
            for b in sorted(edges.get(a, ()) & members):
                names = sorted(why[(a, b)])
                more = " ..." if len(names) > 3 else ""
                print("  %s -> %s: %s%s" % (a, b, ", ".join(names[:3]),
                                             more))
    sys.stdout.flush()
    if bad:
        print("cycles: %d cycle(s) between translation units" % len(bad),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
