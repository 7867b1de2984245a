#!/bin/sh
# tests/fuzz/seed.sh - (re)makes the seed corpora in tests/fuzz/corpus/ from
# the fixtures, the shipped data and reports the real agent prints for the
# fixture roots.  Run from anywhere after "make"; commit what it adds.
# Regression inputs (crashes found and fixed) live beside the seeds, named
# regress-*, and are never removed by this script.
set -eu
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
AGENT=${AGENT:-build/derelict-agent}

put() {	# put NAME FILE: copy FILE into corpus NAME under its SHA-1
	mkdir -p "$C/$1"
	cp "$2" "$C/$1/$(sha1sum <"$2" | cut -c1-40)"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Reports: the agent's view of each fixture root, plus this machine's and
# the same with sections reduced to their hash (deltas).
for root in tests/fixtures/roots/*/; do
	"$AGENT" --config /dev/null --state-dir "$tmp/none" --print \
		--root "$root" >"$tmp/rep.json" 2>/dev/null || continue
	/usr/bin/python3 - "$tmp/rep.json" "$tmp" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
rep["agent"]["id"] = "00000000-0000-4000-8000-000000000001"
# Small enough for the fuzzer to mutate quickly: 20 items per section.
for s in rep["sections"].values():
    if isinstance(s.get("items"), list):
        del s["items"][20:]
    s.pop("hash", None)
open(sys.argv[2] + "/full.json", "w").write(json.dumps(rep, sort_keys=True))
d = json.loads(json.dumps(rep))
for name in list(d["sections"])[:3]:
    d["sections"][name] = {"hash": "0" * 64}
open(sys.argv[2] + "/delta.json", "w").write(json.dumps(d, sort_keys=True))
# The packages section as a delta from full.json's: one package upgraded,
# one gone, one new (it applies when full.json was ingested just before).
sys.path.insert(0, "tests/integration")
from reports import packages_delta, section_hash
pk = rep["sections"].get("packages")
if pk and pk.get("items"):
    new = json.loads(json.dumps(pk))
    new["items"][0]["version"] += "+fuzz1"
    gone = new["items"].pop()
    new["items"].append({"name": "fuzzlib", "version": "1.0-1", "arch": "all",
                         "source": "fuzzlib", "source_version": "1.0-1"})
    p = json.loads(json.dumps(rep))
    p["sections"] = {k: {"hash": section_hash(v)} for k, v in rep["sections"].items()}
    p["sections"]["packages"] = packages_delta(pk, new)
    open(sys.argv[2] + "/pkdelta.json", "w").write(json.dumps(p, sort_keys=True))
PY
	for f in full delta pkdelta; do
		[ -f "$tmp/$f.json" ] || continue
		put report_check "$tmp/$f.json"
		put ingest "$tmp/$f.json"
	done
done
for f in tests/fixtures/roots/*/var/lib/dpkg/status \
	 tests/fixtures/scenario/dpkg-status-exim; do
	head -c 65536 "$f" >"$tmp/status"
	put dpkg_status "$tmp/status"
done
for f in tests/fixtures/roots/*/proc/net/*; do
	case $f in
	*tcp) p='\000' ;; *tcp6) p='\001' ;; *udp) p='\002' ;; *udp6) p='\003' ;;
	*) continue ;;
	esac
	{ printf "$p"; cat "$f"; } >"$tmp/net"
	put proc_net "$tmp/net"
done
put wtmp tests/fixtures/roots/wtmp/var/log/wtmp
put rpmdb tests/fixtures/roots/rhel8-bdb/var/lib/rpm/Packages
for f in tests/fixtures/rpm/centos7-headers/*.bin; do put rpmdb "$f"; done
put wtmp tests/fixtures/roots/wtmp/run/utmp
for f in tests/fixtures/conf/*.conf packaging/*/derelictd.conf; do
	[ -f "$f" ] && put conf "$f"
done
head -c 200000 data/advisories.json >"$tmp/adv" && put advisory "$tmp/adv"
put advisory data/eol.json
put advisory tests/fixtures/advisories/tracker-sample.json
for pair in '1.0\0001.0-0' '1:4.92-8+deb10u2\0004.92-8+deb10u6' \
	    '2.30~rc1-1\0002.30-1' '4.96-15+deb12u1\0004.96-15+deb12u4' \
	    '1.0a\0001.0+b1' '0:1.2.3-1ubuntu1\0001.2.3-1'; do
	printf "$pair" >"$tmp/v"
	put dpkgver "$tmp/v"
done
for pair in '1.0~rc1\0001.0' '2:2.10.1-9.el7\0002:2.10.1-9.el7_9' \
	    '1.0^git1\0001.0.1' '0:3.5.8-8.el8_10\0002:3.5.8-8.el8_10'; do
	printf "$pair" >"$tmp/v"
	put rpmver "$tmp/v"
done
echo "seed corpora:"; for d in "$C"/*/; do echo "  $(basename "$d"): $(ls "$d" | wc -l)"; done
