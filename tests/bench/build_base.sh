#!/bin/sh
# build_base.sh BUILD_DIR [REV] - builds derelictd of another revision
# (default: where this branch left main) into BUILD_DIR/base/, for the
# bench's before-and-after figures and the migration test's old database.
# Prints the directory holding that derelictd.
set -eu
b=${1:-build}
rev=${2:-${BENCH_BASE:-$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD~1)}}
id=$(git rev-parse --short "$rev")
dir="$b/base/$id"
if [ ! -x "$dir/build/derelictd" ]; then
	rm -rf "$dir"
	mkdir -p "$dir"
	git archive "$rev" | tar -x -C "$dir"
	make -C "$dir" -j2 all >"$dir/build.log" 2>&1 ||
		{ tail -20 "$dir/build.log" >&2; exit 1; }
fi
echo "$dir/build"
