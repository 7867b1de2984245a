#!/bin/sh
# run.sh BUILD_DIR - "make bench": the agent's and the server's figures.
set -eu
b=${1:-build}
mkdir -p "$b/bench"
cc -O2 -o "$b/bench/loadgen" tests/bench/loadgen.c $(pkg-config --cflags --libs libcurl)
cc -O2 -o "$b/bench/floor" tests/bench/floor.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread
cc -O2 -o "$b/bench/parse_floor" tests/bench/parse_floor.c $(pkg-config --cflags --libs jansson)
echo "== agent =="
sh tests/bench/agent_bench.sh "$b"
echo
echo "== advisories =="
# A synthetic tracker export of the real one's size and shape; each load
# in a process of its own, so each peak RSS is its own.
[ -f "$b/bench/tracker-60mb.json" ] ||
	"$b/bench/advisory_bench" gen "$b/bench/tracker-60mb.json" 60
"$b/bench/advisory_bench" whole "$b/bench/tracker-60mb.json"
"$b/bench/advisory_bench" load "$b/bench/tracker-60mb.json"
echo
echo "== unchanged reports against the floor =="
/usr/bin/python3 tests/bench/unchanged_bench.py "$b" "$b/bench/loadgen" "$b/bench/floor"
echo
echo "== server =="
# The same fleet's figures for the derelictd this branch started from.
if base=$(sh tests/bench/build_base.sh "$b"); then
	case $base in /*) ;; *) base=$PWD/$base ;; esac
	export BENCH_BASE_DERELICTD="$base/derelictd"
else
	echo "no base derelictd (not a git checkout?): this one's figures alone"
fi
/usr/bin/python3 tests/bench/server_bench.py "$b" "$b/bench/loadgen" "${BENCH_HOSTS:-2000}"
echo
echo "== engines =="
# SQLite beside PostgreSQL (a cluster of the bench's own) and two nodes on
# it: BENCH_ENGINE_HOSTS (1000) report, GET /hosts at BENCH_ENGINE_BIG.
/usr/bin/python3 tests/bench/engine_bench.py "$b" "$b/bench/loadgen"
