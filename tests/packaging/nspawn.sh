#!/bin/bash
# tests/packaging/nspawn.sh - boots the built packages under a real systemd.
#
# run.sh checks the packages where systemd is not PID 1; this script boots
# a Debian 12 container (systemd-nspawn, root made by debootstrap and kept
# in $NSPAWN_ROOT between runs) to prove what only systemd can show: the
# hardened derelictd.service starts (Type=notify) and serves, the sandboxed
# derelict-agent.service still sees every process's sockets and the units
# over sd-bus with systemd's own main pids, an upgrade restarts the server
# and keeps its data, and purge leaves nothing.  With NSPAWN_RELEASE=trixie
# (nspawn-trixie.sh) the container is Debian 13 with wtmpdb and
# libpam-wtmpdb, and a PAM login is made in it: the agent's logins section
# must be what "wtmpdb last" and "loginctl" say.  Needs root, network for
# debootstrap, and the packages in build/deb/ (run "make deb" or run.sh
# first).  Prints PASS/FAIL and the seconds taken per step and ends with
# "N passed, M failed".
set -euo pipefail

cd "$(dirname "$0")/../.."
DEB_DIR=$PWD/build/deb
NSPAWN_RELEASE=${NSPAWN_RELEASE:-bookworm}
INCLUDE=systemd,systemd-sysv,dbus,curl,ca-certificates
case "$NSPAWN_RELEASE" in
bookworm)
	NSPAWN_ROOT=${NSPAWN_ROOT:-/var/tmp/derelict-nspawn}
	# postfix@-.service: a forking instance whose MainPID is 0 and whose
	# unit-file state is not its template's.
	INCLUDE=$INCLUDE,postfix
	;;
trixie)
	NSPAWN_ROOT=${NSPAWN_ROOT:-/var/tmp/derelict-nspawn-trixie}
	INCLUDE=$INCLUDE,libpam-systemd,wtmpdb,libpam-wtmpdb,login,passwd
	;;
*) echo "NSPAWN_RELEASE: bookworm or trixie" >&2; exit 2 ;;
esac
ROOT=$NSPAWN_ROOT/root
# What the cached root was made with; another list builds it afresh.
STAMP="$NSPAWN_RELEASE minbase $INCLUDE"

passed=0
failed=0
nspawn_pid=
init_pid=
work=$(mktemp -d /tmp/derelict-nspawn.XXXXXX)

started=$SECONDS
step_start=$SECONDS
pass() {
	echo "PASS: $* ($((SECONDS - step_start)) s)"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL: $* ($((SECONDS - step_start)) s)"
	failed=$((failed + 1))
}
check() {
	local name=$1
	shift
	step_start=$SECONDS
	if "$@"; then pass "$name"; else fail "$name"; fi
}
require() {
	local name=$1
	shift
	step_start=$SECONDS
	if "$@"; then
		pass "$name"
	else
		fail "$name"
		echo "stopping: the remaining steps need \"$name\"" >&2
		exit 1
	fi
}

cleanup() {
	local rc=$?
	if [ -n "$nspawn_pid" ]; then
		if [ -n "$init_pid" ]; then
			nsenter -t "$init_pid" -a systemctl poweroff \
				>/dev/null 2>&1 || true
		fi
		for _ in $(seq 1 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$nspawn_pid" 2>/dev/null || true
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
	echo "$passed passed, $failed failed ($NSPAWN_RELEASE, $((SECONDS - started)) s)"
	[ "$rc" = 0 ] && [ "$failed" = 0 ] || exit 1
}
trap cleanup EXIT

# nspawn without a running host systemd: no registration, no scope unit.
nspawn() {
	systemd-nspawn -q -D "$ROOT" --register=no --keep-unit "$@" \
		2> >(grep -v 'propagate' >&2)
}
in_ct() { nsenter -t "$init_pid" -a "$@"; }

prepare_root() {
	local p missing=
	for p in systemd-container debootstrap; do
		dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null |
			grep -q '^ii' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing \
			>"$work/apt.log" 2>&1 || { tail "$work/apt.log" >&2; return 1; }
	fi
	ls "$DEB_DIR"/derelict-server_*.deb "$DEB_DIR"/derelict-agent_*.deb \
		>/dev/null || return 1
	if ! [ -x "$ROOT/lib/systemd/systemd" ] ||
		[ "$(cat "$NSPAWN_ROOT/stamp" 2>/dev/null)" != "$STAMP" ]; then
		local t=$SECONDS
		# Made aside and moved in whole: an interrupted run leaves no
		# half root that would pass for a cached one.
		rm -rf "$ROOT" "$ROOT.new" "$NSPAWN_ROOT/stamp"
		mkdir -p "$NSPAWN_ROOT"
		debootstrap --variant=minbase --include="$INCLUDE" \
			"$NSPAWN_RELEASE" "$ROOT.new" http://deb.debian.org/debian \
			>"$work/debootstrap.log" 2>&1 ||
			{ tail "$work/debootstrap.log" >&2; return 1; }
		mv "$ROOT.new" "$ROOT"
		echo "$STAMP" >"$NSPAWN_ROOT/stamp"
		echo "debootstrap $NSPAWN_RELEASE: $((SECONDS - t)) s"
	else
		echo "cached root of $(stat -c %y "$NSPAWN_ROOT/stamp" | cut -d. -f1)"
	fi
	# A clean start: nothing of an earlier run.
	nspawn dpkg --purge derelict-server derelict-agent >/dev/null 2>&1 || true
	rm -rf "$ROOT/opt/derelict-debs"
	mkdir -p "$ROOT/opt/derelict-debs"
	cp "$DEB_DIR"/derelict-server_*.deb "$DEB_DIR"/derelict-agent_*.deb \
		"$ROOT/opt/derelict-debs/"
}

install_in_root() {
	# With the host's network, so apt can fetch the libraries.
	nspawn sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		/opt/derelict-debs/*.deb' >"$work/install.log" 2>&1 ||
		{ tail -20 "$work/install.log" >&2; return 1; }
}

boot() {
	systemd-nspawn -q -b -D "$ROOT" --register=no --keep-unit \
		--private-network >"$work/boot.log" 2>&1 &
	nspawn_pid=$!
	# nspawn's first child is a short-lived helper that clones the
	# container's init: wait for a child in a pid namespace of its own
	# that has become systemd, not merely for any child.
	local p ours
	ours=$(readlink /proc/self/ns/pid)
	init_pid=
	for _ in $(seq 1 200); do
		for p in $(pgrep -P "$nspawn_pid"); do
			[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" != "$ours" ] &&
				[ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] &&
				init_pid=$p && break
		done
		[ -n "$init_pid" ] && break
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$init_pid" ]; then
		tail -20 "$work/boot.log" >&2
		return 1
	fi
	for _ in $(seq 1 60); do
		in_ct systemctl is-system-running --wait >/dev/null 2>&1 &&
			return 0
		sleep 1
	done
	in_ct systemctl --failed --no-pager >&2 || true
	tail -20 "$work/boot.log" >&2
	return 1
}

server_active() {
	if in_ct systemctl is-active --quiet derelictd.service &&
		in_ct curl -fsS http://127.0.0.1:8470/api/v1/healthz >/dev/null; then
		return 0
	fi
	in_ct journalctl -u derelictd --no-pager | tail >&2
	return 1
}

agent_service_runs() {
	in_ct systemctl start derelict-agent.service ||
		{ in_ct journalctl -u derelict-agent --no-pager | tail >&2; return 1; }
}

timer_scheduled() {
	in_ct systemctl is-active --quiet derelict-agent.timer &&
	in_ct systemctl is-enabled --quiet derelict-agent.timer
}

api() {
	in_ct curl -fsS -H "Authorization: Bearer $token" \
		"http://127.0.0.1:8470/api/v1$1"
}

# The sandboxed agent saw derelictd's socket with its owner (another
# user's /proc/PID/fd) and derelictd.service over sd-bus.
report_complete() {
	token=$(in_ct runuser -u derelict -- derelictd \
		--config /etc/derelict/derelictd.conf token add nspawn \
		--role viewer) || return 1
	api /hosts >"$work/hosts.json" &&
	id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])' \
		<"$work/hosts.json") &&
	api "/hosts/$id/ports" >"$work/ports.json" &&
	api "/hosts/$id/services" >"$work/services.json" || return 1
	python3 - "$work/ports.json" "$work/services.json" <<'EOF'
import json, sys
ports = json.load(open(sys.argv[1]))["items"]
services = json.load(open(sys.argv[2]))["items"]
own = [p for p in ports if p.get("port") == 8470]
ok = bool(own) and own[0].get("user") == "derelict" and \
    own[0].get("exe") == "/usr/sbin/derelictd"
print("port 8470:", own)
svc = [s for s in services if s.get("name") == "derelictd.service"]
print("derelictd.service:", svc)
ok = ok and bool(svc) and svc[0].get("active") == "active"
sys.exit(0 if ok else 1)
EOF
}

# Every service's main pid and unit-file state as "systemctl show" has
# them (the agent ran a moment ago; the units are idle, nothing moved).
units_match_systemctl() {
	in_ct systemctl show --type=service --all \
		-p Id -p MainPID -p UnitFileState >"$work/show.txt" || return 1
	python3 - "$work/services.json" "$work/show.txt" <<'EOF'
import json, sys
services = {s["name"]: s for s in json.load(open(sys.argv[1]))["items"]}
shown, unit = {}, {}
for line in open(sys.argv[2]).read().splitlines() + [""]:
    if not line:
        if "Id" in unit:
            shown[unit["Id"]] = unit
        unit = {}
        continue
    k, _, v = line.partition("=")
    unit[k] = v
bad, n = [], 0
for name, s in sorted(services.items()):
    # The agent's own unit ran then; it is gone now.
    if name not in shown or name == "derelict-agent.service":
        continue
    n += 1
    want = (int(shown[name]["MainPID"]) or None,
            shown[name]["UnitFileState"] or None)
    got = (s.get("main_pid"), s.get("enabled"))
    if got != want:
        bad.append((name, got, want))
print("%d services compared with systemctl show, %d differ" % (n, len(bad)))
for b in bad:
    print("  %s: agent %s, systemd %s" % b)
if "postfix@-.service" in services:
    print("postfix@-.service:", services["postfix@-.service"],
          shown.get("postfix@-.service"))
sys.exit(0 if n > 10 and not bad else 1)
EOF
}

# A PAM login that stays (su -l in a pty, as a person at a terminal) and
# one that has ended, both written to wtmpdb by pam_wtmpdb and registered
# with logind by pam_systemd.
pam_logins() {
	local u
	for u in alice bob; do
		in_ct id "$u" >/dev/null 2>&1 ||
			in_ct useradd -m -s /bin/bash "$u" || return 1
	done
	in_ct sh -c 'setsid script -q -c "su -l alice -c \"sleep 900\"" \
		/dev/null </dev/null >/dev/null 2>&1 &' || return 1
	# A second apart, so that the newest login is plain.
	sleep 1.1
	in_ct su -l bob -c true || return 1
	for _ in $(seq 1 50); do
		in_ct loginctl list-sessions --no-legend 2>/dev/null |
			grep -q ' alice .* user ' && return 0
		sleep 0.1
	done
	in_ct loginctl list-sessions --no-pager >&2
	return 1
}

# The agent's logins section, through the server, against wtmpdb last and
# loginctl.
logins_match() {
	local s
	in_ct systemctl start derelict-agent.service ||
		{ in_ct journalctl -u derelict-agent --no-pager | tail >&2; return 1; }
	api "/hosts/$id/logins" >"$work/logins.json" || return 1
	in_ct wtmpdb last --json --time-format iso >"$work/wtmpdb.json" ||
		return 1
	in_ct loginctl list-sessions --json=short >"$work/sessions.json" ||
		return 1
	: >"$work/states.txt"
	for s in $(python3 -c 'import json,sys; print(" ".join(s["session"] for s in json.load(sys.stdin)))' \
		<"$work/sessions.json"); do
		echo "$s $(in_ct loginctl show-session "$s" -p State --value)" \
			>>"$work/states.txt"
	done
	python3 - "$work/logins.json" "$work/wtmpdb.json" \
		"$work/sessions.json" "$work/states.txt" <<'EOF'
import datetime, json, sys
logins = json.load(open(sys.argv[1]))
entries = [e for e in json.load(open(sys.argv[2]))["entries"]
           if e["tty"] != "system boot"]
states = dict(l.split() for l in open(sys.argv[4]) if l.strip())
people = [s for s in json.load(open(sys.argv[3]))
          if s["class"].split("-")[0] == "user"
          and states.get(s["session"]) != "closing"]
def utc(t):
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S%z").astimezone(
        datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
want = [(e["user"], utc(e["login"]), e["hostname"] or None) for e in entries]
got = [(i["user"], i["at"], i["from"]) for i in logins["items"]]
still = [e for e in entries if e["logout"].strip() == "still logged in"]
print("agent: source %s, open_sessions %s, last %s" %
      (logins["source"], logins["open_sessions"], logins["last"]))
print("agent items:", got)
print("wtmpdb last:", want, "-", len(still), "still logged in")
print("loginctl: %d people's sessions of %d" % (len(people), len(states)))
ok = logins["source"] == "wtmpdb"
ok = ok and logins["open_sessions"] == len(people) == len(still) >= 1
# Logins of the same second may come in another order.
ok = ok and sorted(got) == sorted(want[:len(got)]) and len(got) >= 2
ok = ok and (logins["last"]["user"], logins["last"]["at"]) == want[0][:2]
ok = ok and {"alice", "bob"} <= {g[0] for g in got}
if not ok:
    print("wtmpdb last --json:", json.dumps(entries), file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}

upgrade_keeps_data() {
	local before after pid_before pid_after
	before=$(in_ct cat /etc/derelict/enroll-secret)
	pid_before=$(in_ct systemctl show -p MainPID --value derelictd.service)
	in_ct sh -c 'dpkg -i /opt/derelict-debs/derelict-server_*.deb' \
		>"$work/upgrade.log" 2>&1 ||
		{ cat "$work/upgrade.log" >&2; return 1; }
	after=$(in_ct cat /etc/derelict/enroll-secret)
	[ "$before" = "$after" ] || { echo "enroll secret changed" >&2; return 1; }
	pid_after=$(in_ct systemctl show -p MainPID --value derelictd.service)
	echo "derelictd main pid $pid_before -> $pid_after"
	[ "$pid_after" != 0 ] && [ "$pid_after" != "$pid_before" ] || return 1
	for _ in $(seq 1 50); do
		api /hosts >/dev/null 2>&1 && break
		sleep 0.1
	done
	api /hosts | grep -q '"hostname"'
}

stop_clean() {
	local st
	in_ct systemctl stop derelictd.service || return 1
	st=$(in_ct systemctl show -p Result -p ExecMainStatus derelictd.service |
		tr '\n' ' ')
	echo "$st"
	[ "$st" = "Result=success ExecMainStatus=0 " ]
}

purge_clean() {
	in_ct dpkg --purge derelict-server derelict-agent >"$work/purge.log" 2>&1 ||
		{ cat "$work/purge.log" >&2; return 1; }
	in_ct sh -c '! ls -d /etc/derelict /var/lib/derelict \
		/var/lib/derelict-agent 2>/dev/null &&
		! getent passwd derelict && ! getent group derelict &&
		! dpkg -l | grep derelict &&
		! ls /etc/systemd/system/*.wants/ | grep derelict'
}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 1; }

require "container root ready in $ROOT" prepare_root
require "packages install in the container" install_in_root
require "container boots systemd" boot
check "derelictd.service active (Type=notify) and answers healthz" server_active
check "derelict-agent.timer enabled and active" timer_scheduled
check "derelict-agent.service succeeds under its sandbox" agent_service_runs
check "report has derelictd's port with its owner and units over sd-bus" \
	report_complete
check "services' main pids and unit-file states are systemctl show's" \
	units_match_systemctl
if [ "$NSPAWN_RELEASE" = trixie ]; then
	check "PAM logins through su -l (one open, one ended)" pam_logins
	check "logins are wtmpdb last's, open sessions loginctl's, source wtmpdb" \
		logins_match
fi
check "upgrade restarts derelictd and keeps its data and secret" \
	upgrade_keeps_data
check "systemctl stop derelictd stops it cleanly" stop_clean
check "purge leaves nothing in the container" purge_clean
