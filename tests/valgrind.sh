#!/bin/bash
# tests/valgrind.sh - memcheck over the real binaries (build/, no
# sanitizers): the agent's --print on fixture roots and on this machine,
# and a short derelictd run (enrollment, reports through the real agent,
# API reads, bad input) stopped with SIGTERM.  Any memory error or
# definite/possible leak fails the run.  Usage: tests/valgrind.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
AGENT=$B/derelict-agent
SERVER=$B/derelictd
VG=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,possible
    --error-exitcode=99 --track-fds=no --num-callers=30)

command -v valgrind >/dev/null || {
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null
	else
		echo "valgrind: not installed" >&2; exit 1
	fi
}
[ -x "$AGENT" ] && [ -x "$SERVER" ] || make --no-print-directory B="$B" all

tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
check() {	# check NAME RC LOG
	if [ "$2" = 0 ]; then
		echo "ok    $1"
	else
		echo "FAIL  $1 (exit $2)"
		sed 's/^/    /' "$3" | head -60
		failed=1
	fi
}

# --- agent --print ---------------------------------------------------------
for root in tests/fixtures/roots/*/ /; do
	rc=0
	"${VG[@]}" --log-file="$tmp/vg-print.log" "$AGENT" --config /dev/null \
		--state-dir "$tmp/none" --print --root "$root" >/dev/null \
		2>>"$tmp/vg-print.log" || rc=$?
	check "agent --print --root $root" "$rc" "$tmp/vg-print.log"
done

# --- derelictd under valgrind ------------------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret"
chmod 600 "$tmp/secret"
cat >"$tmp/derelictd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
database = $tmp/derelict.db
enroll_secret_file = $tmp/secret
advisories_file = $PWD/data/advisories.json
eol_file = $PWD/data/eol.json
advisories_url =
[rules]
evaluate_every = 1s
CONF
admin=$("$SERVER" --config "$tmp/derelictd.conf" token add vg --role admin)
"${VG[@]}" --log-file="$tmp/vg-server.log" "$SERVER" \
	--config "$tmp/derelictd.conf" >"$tmp/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
	curl -fsS "$url/api/v1/healthz" >/dev/null 2>&1 && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
curl -fsS "$url/api/v1/healthz" >/dev/null || {
	echo "derelictd did not start under valgrind"; cat "$tmp/server.out" "$tmp/vg-server.log"; exit 1; }

agent_once() {	# agent_once ROOT: one report under valgrind too
	rc=0
	"${VG[@]}" --log-file="$tmp/vg-once.log" "$AGENT" --config /dev/null \
		--once --server "$url" --enroll-secret-file "$tmp/secret" \
		--state-dir "$tmp/state" --root "$1" 2>>"$tmp/vg-once.log" || rc=$?
	check "agent --once --root $1" "$rc" "$tmp/vg-once.log"
}
agent_once tests/fixtures/roots/exim/
agent_once tests/fixtures/roots/exim/	# unchanged: deltas
agent_once tests/fixtures/roots/dpkg/	# changed sections
rm -f "$tmp/state/hashes"
agent_once /

api() { curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin" "$@"; }
codes=""
for p in hosts hosts/1 hosts/1/ports hosts/1/packages hosts/1/changes \
	 findings projects summary metrics openapi.json "packages?name=exim4"; do
	codes+=" $(api "$url/api/v1/$p")"
done
codes+=" $(api -X POST -H 'Content-Type: application/json' -d '{"name":"vg","ends_on":"2020-01-01"}' "$url/api/v1/projects")"
codes+=" $(api -X PATCH -H 'Content-Type: application/json' -d '{"project":"vg"}' "$url/api/v1/hosts/1")"
host_token=$(cat "$tmp/state/token")
for body in '{"schema": 1, "x": [' '{"schema": 1}' '[[[[[[[[[[[[]]]]]]]]]]]]'; do
	codes+=" $(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $host_token" \
		-H 'Content-Type: application/json' -d "$body" "$url/api/v1/reports")"
done
codes+=" $(api -X POST -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary 'not gzip' "$url/api/v1/enroll")"
codes+=" $(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$url/api/v1/hosts")"
sleep 2	# one time-based evaluation
echo "api replies:$codes"

kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
cat "$tmp/server.out" >>"$tmp/vg-server.log"
check "derelictd run and SIGTERM" "$rc" "$tmp/vg-server.log"
case " $codes " in *" 500 "*) echo "FAIL  a request got 500"; failed=1 ;; esac

[ "$failed" = 0 ] && echo "valgrind: no errors, no leaks"
exit "$failed"
