#!/bin/bash
# tests/fuzz/run.sh - builds the libFuzzer harnesses (make fuzz-build, into
# build-fuzz/) and runs each for FUZZ_SECONDS (default 60), FUZZ_JOBS (2) at
# a time.  Every run first replays its committed corpus, tests/fuzz/corpus/
# <name>/ (seeds and the regress-* inputs of crashes found and fixed), then
# mutates; what it learns goes to build-fuzz/corpus/<name>/, crashes to
# build-fuzz/artifacts/.  A harness passes when it found no crash, no leak
# and no timeout.  Prints the executions per harness and "N passed, M
# failed"; exits 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_B=${FUZZ_B:-build-fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# libFuzzer comes with clang; CI installs it on a fresh Debian 12.
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >/dev/null
	else
		echo "fuzz: clang and libclang-rt-14-dev are needed" >&2; exit 1
	fi
fi
mkdir -p "$FUZZ_B"
if [ -z "${FUZZ_NOBUILD:-}" ]; then
	make --no-print-directory FUZZ_B="$FUZZ_B" fuzz-build >"$FUZZ_B/build.log" 2>&1 ||
		{ cat "$FUZZ_B/build.log"; echo "fuzz: build failed" >&2; exit 1; }
fi

names=()
for src in tests/fuzz/fuzz_*.c; do
	n=$(basename "$src" .c)
	names+=("${n#fuzz_}")
done

mkdir -p "$FUZZ_B/artifacts" "$FUZZ_B/logs"
run_one() {
	local n=$1 seeds=tests/fuzz/corpus/$1 work=$FUZZ_B/corpus/$1
	mkdir -p "$work" "$seeds"
	# The working corpus comes first: new inputs are written there, the
	# committed seeds stay as they are.
	"$FUZZ_B/fuzz_$n" -max_total_time="$FUZZ_SECONDS" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_B/artifacts/$n-" \
		"$work" "$seeds" >"$FUZZ_B/logs/$n.log" 2>&1
	echo $? >"$FUZZ_B/logs/$n.rc"
}

for n in "${names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do
		wait -n
	done
	run_one "$n" &
done
wait

passed=0 failed=0
for n in "${names[@]}"; do
	log=$FUZZ_B/logs/$n.log
	rc=$(cat "$FUZZ_B/logs/$n.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		printf '%-14s ok    %10s executions  %s\n' "$n" "${execs:-?}" "${cov:-}"
	else
		failed=$((failed + 1))
		printf '%-14s FAIL  %10s executions  (exit %s, log %s)\n' \
			"$n" "${execs:-?}" "$rc" "$log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$log" | head -5 | sed 's/^/    /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
