#!/bin/sh
# build_base.sh BUILD_DIR [REV] - builds derelictd of another revision
# (default: the previous release, the newest tag vX.Y.Z before this
# version's own; in a clone without tags, as CI's, the commit that set the
# previous version in common/version.h) into BUILD_DIR/base/, for the
# bench's before-and-after figures and the migration test's old database.
# Prints the directory holding that derelictd.
set -eu
b=${1:-build}
version=$(sed -n 's/^#define DERELICT_VERSION "\(.*\)"/\1/p' common/version.h)
released=$(git describe --tags --abbrev=0 --match 'v[0-9]*' \
	--exclude "v$version" HEAD 2>/dev/null || true)
if [ -z "$released" ]; then
	for c in $(git log --format=%H -G'DERELICT_VERSION "' -- common/version.h); do
		v=$(git show "$c:common/version.h" |
			sed -n 's/^#define DERELICT_VERSION "\(.*\)"/\1/p')
		[ "$v" != "$version" ] && { released=$c; break; }
	done
fi
rev=${2:-${BENCH_BASE:-${released:-HEAD~1}}}
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
