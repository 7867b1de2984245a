#!/bin/bash
# tests/packaging/run.sh - builds the Debian packages, lints them, installs
# them, runs the installed server and agent by hand, and purges them.
#
# CI runs it as root on a Debian 12 machine where systemd is not PID 1.  It
# installs and purges derelict-server and derelict-agent on that machine,
# so do not run it where those packages are in real use.  Prints one
# PASS/FAIL line per step and ends with "N passed, M failed".
set -euo pipefail

cd "$(dirname "$0")/../.."
TOP=$PWD
DEB_DIR=$TOP/build/deb
CONF=/etc/derelict/derelictd.conf
AGENT_CONF=/etc/derelict/agent.conf
UNITS=/lib/systemd/system
VERSION=$(sed -n 's/^#define DERELICT_VERSION "\(.*\)"/\1/p' common/version.h)
MAX_EXPOSURE=2.0

passed=0
failed=0
work=$(mktemp -d /tmp/derelict-packaging.XXXXXX)
chmod 0711 "$work"	# derelict writes a backup below it
server_pid=
installed=0

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
summarized=0
summary() {
	[ "$summarized" = 1 ] && return 0
	summarized=1
	echo "$passed passed, $failed failed"
}

# check NAME COMMAND...: one step; the command's own output stays visible.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# A step the rest depends on: on failure, stop here.
require() {
	local name=$1
	shift
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
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	# Never leave the packages behind on the CI machine.
	if [ "$installed" = 1 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
			derelict-server derelict-agent >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
		summary
		exit 1
	fi
}
trap cleanup EXIT

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
		>"$work/apt.log" 2>&1 ||
		{ apt-get update -q >>"$work/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
			>>"$work/apt.log" 2>&1; } ||
		{ tail -20 "$work/apt.log" >&2; return 1; }
}

# Tools this script and the package build use, then the packages'
# Build-Depends (without the unit tests' "check": make check runs those).
install_deps() {
	local p missing=
	for p in dpkg-dev debhelper lintian curl python3 util-linux \
		systemd man-db rpm; do
		dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null |
			grep -q '^ii' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "installing:$missing"
		# shellcheck disable=SC2086
		apt_install $missing || return 1
	fi
	if ! dpkg-checkbuilddeps -P nocheck packaging/debian/control \
		2>/dev/null; then
		echo "installing the build dependencies"
		apt_install_build_deps || return 1
	fi
}

apt_install_build_deps() {
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q \
		-P nocheck ./packaging >"$work/apt.log" 2>&1 ||
		{ apt-get update -q >>"$work/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q \
			-P nocheck ./packaging >>"$work/apt.log" 2>&1; } ||
		{ tail -20 "$work/apt.log" >&2; return 1; }
}

# make deb installs its own build dependencies (deb-deps), as make check
# does: with everything installed it finds nothing to install.
deb_deps_quiet() {
	local out
	out=$(DEB_BUILD_PROFILES=nocheck make --no-print-directory deb-deps 2>&1) ||
		{ echo "$out" >&2; return 1; }
	[ -z "$out" ] || { echo "make deb-deps: $out" >&2; return 1; }
}

build_debs() {
	DEB_BUILD_OPTIONS=nocheck DEB_BUILD_PROFILES=nocheck \
		make --no-print-directory deb >"$work/deb.log" 2>&1 ||
		{ tail -40 "$work/deb.log" >&2; return 1; }
	ls "$DEB_DIR"/derelict-server_*.deb "$DEB_DIR"/derelict-agent_*.deb
}

lint() {
	# Errors fail; warnings and information are shown.
	local out rc=0
	out=$(lintian --fail-on error --display-info "$DEB_DIR"/derelict-server_*.deb \
		"$DEB_DIR"/derelict-agent_*.deb 2>&1) || rc=$?
	echo "$out" | grep -v 'running with root privileges' || true
	return "$rc"
}

purge_leftovers() {
	if dpkg -l 'derelict-*' 2>/dev/null | grep -q '^[a-z][a-zA-Z] '; then
		echo "purging derelict packages left from an earlier run"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
			derelict-server derelict-agent >/dev/null 2>&1 || true
	fi
}

install_debs() {
	installed=1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		"$DEB_DIR"/derelict-server_*.deb "$DEB_DIR"/derelict-agent_*.deb \
		>"$work/install.log" 2>&1 ||
		{ cat "$work/install.log" >&2; return 1; }
}

version_is() {
	local bin=$1 out
	out=$("$bin" --version) || return 1
	echo "$out"
	case "$out" in *"$VERSION"*) return 0 ;; esac
	echo "expected version $VERSION" >&2
	return 1
}

conffiles_are() {
	local pkg=$1 file=$2
	dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q "^ $file "
}

verify_units() {
	local man=yes out
	command -v man >/dev/null || man=no
	out=$(systemd-analyze verify --man="$man" "$UNITS/derelictd.service" \
		"$UNITS/derelict-agent.service" "$UNITS/derelict-agent.timer" \
		2>&1) || { echo "$out"; return 1; }
	# Warnings do not change the exit status; they count here.
	[ -z "$out" ] || { echo "$out"; return 1; }
}

exposure_ok() {
	local unit=$1 max=$2 line score
	line=$(systemd-analyze security --offline=true "$UNITS/$unit" 2>&1 |
		grep 'Overall exposure level') || return 1
	echo "$line"
	score=$(echo "$line" | sed -n 's/.*: *\([0-9][0-9.]*\) .*/\1/p')
	[ -n "$score" ] && awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'
}

secret_ok() {
	local f=/etc/derelict/enroll-secret st
	[ -s "$f" ] || { echo "$f missing or empty" >&2; return 1; }
	st=$(stat -c '%a %U %G' "$f")
	echo "$f: $st"
	[ "$st" = "640 root derelict" ]
}

user_ok() {
	local st
	getent passwd derelict | grep -q ':/usr/sbin/nologin$' || return 1
	getent group derelict >/dev/null || return 1
	st=$(stat -c '%a %U %G' /var/lib/derelict)
	echo "/var/lib/derelict: $st"
	[ "$st" = "750 derelict derelict" ]
}

units_enabled() {
	[ -L /etc/systemd/system/multi-user.target.wants/derelictd.service ] &&
	[ -L /etc/systemd/system/timers.target.wants/derelict-agent.timer ] &&
	# The oneshot service runs from its timer only.
	! [ -e /etc/systemd/system/multi-user.target.wants/derelict-agent.service ]
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# As the service user, without a session: the way systemd would run it.
as_derelict() {
	setpriv --reuid=derelict --regid=derelict --init-groups -- "$@"
}

start_server() {
	port=$(free_port) || return 1
	base=http://127.0.0.1:$port
	# setpriv execs, so $! is derelictd itself (a function run with & would
	# leave a subshell in between).  The test stays off the network: no
	# fetch of Debian's tracker.
	setpriv --reuid=derelict --regid=derelict --init-groups -- \
		/usr/sbin/derelictd --config "$CONF" --listen "127.0.0.1:$port" \
		--advisories-url= >"$work/server.log" 2>&1 &
	server_pid=$!

	for _ in $(seq 1 100); do
		if curl -fsS "$base/api/v1/healthz" >/dev/null 2>&1; then
			echo "derelictd (pid $server_pid) answers on $base"
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/server.log" >&2
	return 1
}

agent_once() {
	/usr/sbin/derelict-agent --config "$AGENT_CONF" --once \
		--server "$base" || { echo "exit status $?" >&2; return 1; }
}

agent_state_ok() {
	local st
	[ -s /var/lib/derelict-agent/agent-id ] || return 1
	st=$(stat -c '%a %U' /var/lib/derelict-agent/token) || return 1
	echo "/var/lib/derelict-agent/token: $st"
	[ "$st" = "600 root" ]
}

host_listed() {
	local token hosts
	token=$(as_derelict /usr/sbin/derelictd --config "$CONF" \
		token add ci-packaging --role viewer) || return 1
	[ -n "$token" ] || return 1
	hosts=$(curl -fsS -H "Authorization: Bearer $token" \
		"$base/api/v1/hosts") || return 1
	HOSTS_JSON=$hosts AGENT_ID=$(cat /var/lib/derelict-agent/agent-id) \
		python3 - <<'EOF'
import json, os, sys
items = json.loads(os.environ["HOSTS_JSON"])["items"]
want = os.environ["AGENT_ID"].strip()
for h in items:
    print("listed: id=%s hostname=%s agent_id=%s" %
          (h.get("id"), h.get("hostname"), h.get("agent_id")))
sys.exit(0 if any(h.get("agent_id") == want for h in items) else 1)
EOF
}

backup_ok() {
	local dir=$work/backup
	mkdir -p "$dir" && chown derelict:derelict "$dir" &&
	as_derelict /usr/sbin/derelictd --config "$CONF" \
		backup "$dir/derelict.db" && [ -s "$dir/derelict.db" ]
}

stop_server() {
	local rc=0
	kill -TERM "$server_pid" || return 1
	wait "$server_pid" || rc=$?
	server_pid=
	[ "$rc" = 0 ] || { echo "derelictd exited $rc on SIGTERM" >&2;
		tail -5 "$work/server.log" >&2; return 1; }
}

purge_debs() {
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
		derelict-server derelict-agent >"$work/purge.log" 2>&1 ||
		{ cat "$work/purge.log" >&2; return 1; }
	installed=0
}

nothing_left() {
	local left=0 p
	for p in /etc/derelict /var/lib/derelict /var/lib/derelict-agent \
		/usr/sbin/derelictd /usr/sbin/derelict-agent \
		/usr/lib/sysusers.d/derelict.conf \
		/etc/systemd/system/multi-user.target.wants/derelictd.service \
		/etc/systemd/system/timers.target.wants/derelict-agent.timer; do
		if [ -e "$p" ] || [ -L "$p" ]; then
			echo "left behind: $p" >&2
			left=1
		fi
	done
	if getent passwd derelict >/dev/null; then
		echo "left behind: user derelict" >&2; left=1
	fi
	if getent group derelict >/dev/null; then
		echo "left behind: group derelict" >&2; left=1
	fi
	if dpkg -l | grep derelict >&2; then left=1; fi
	[ "$left" = 0 ]
}

# The agent's RPM (packaging/rpm/derelict-agent.spec), built and inspected
# with Debian's rpm tools; --nodeps since the BuildRequires name RPM
# packages this machine does not have.
RPM_FILE=
build_rpm() {
	make --no-print-directory rpm RPM_FLAGS=--nodeps >"$work/rpm.log" 2>&1 ||
		{ tail -40 "$work/rpm.log" >&2; return 1; }
	RPM_FILE=$(ls "$TOP"/build/rpm/RPMS/*/derelict-agent-"$VERSION"-1.*.rpm)
	[ -f "$RPM_FILE" ]
}

rpm_files_ok() {
	local f list
	list=$(rpm -qlp "$RPM_FILE") || return 1
	for f in /usr/sbin/derelict-agent /etc/derelict/agent.conf \
		/usr/lib/systemd/system/derelict-agent.service \
		/usr/lib/systemd/system/derelict-agent.timer \
		/usr/share/man/man8/derelict-agent.8 /var/lib/derelict-agent; do
		echo "$list" | grep -qx "$f" || { echo "missing $f" >&2; return 1; }
	done
	rpm -qp --configfiles "$RPM_FILE" | grep -qx /etc/derelict/agent.conf &&
		rpm -qp --qf '%{VERSION}\n' "$RPM_FILE" | grep -qx "$VERSION" &&
		rpm -qp --scripts "$RPM_FILE" | grep -q 'derelict-agent.timer'
}

rpm_requires_ok() {
	local req f
	req=$(rpm -qp --requires "$RPM_FILE") || return 1
	# The linked libraries by soname, and the two loaded at run time.
	for f in 'libjansson.so.4()(64bit)' 'libsystemd.so.0()(64bit)' \
		'libcurl.so.4()(64bit)' 'libsqlite3.so.0()(64bit)'; do
		echo "$req" | grep -qxF "$f" || { echo "no Requires $f" >&2; return 1; }
	done
}

# Installed into a scratch root (no scriptlets, no dependencies): the
# payload's binary runs and the units match the Debian package's.
rpm_install_ok() {
	local r=$work/rpmroot
	mkdir -p "$r"
	rpm --root "$r" --dbpath /var/lib/rpm --nodeps --noscripts -i \
		"$RPM_FILE" 2>/dev/null || return 1
	"$r"/usr/sbin/derelict-agent --version | grep -q "$VERSION" &&
		cmp "$r"/usr/lib/systemd/system/derelict-agent.timer \
			packaging/systemd/derelict-agent.timer &&
		[ "$(stat -c %a "$r"/var/lib/derelict-agent)" = 700 ] &&
		rpm --root "$r" --dbpath /var/lib/rpm -q derelict-agent >/dev/null
}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

require "build dependencies installed" install_deps
check "make deb-deps finds them installed" deb_deps_quiet
require "make deb builds derelict-server and derelict-agent" build_debs
check "lintian reports no errors" lint
require "make rpm builds derelict-agent's RPM (rpmbuild)" build_rpm
check "rpm -qlp: binary, config, units, man page, state dir" rpm_files_ok
check "rpm -qp --requires: linked and run-time loaded libraries" rpm_requires_ok
check "the RPM installs into a scratch root and its agent runs" rpm_install_ok
purge_leftovers
require "apt-get install ./build/deb/*.deb" install_debs
check "derelictd --version says $VERSION" version_is /usr/sbin/derelictd
check "derelict-agent --version says $VERSION" \
	version_is /usr/sbin/derelict-agent
check "derelictd --check-config accepts the shipped $CONF" \
	/usr/sbin/derelictd --config "$CONF" --check-config
check "derelict-agent --check-config accepts the shipped $AGENT_CONF" \
	/usr/sbin/derelict-agent --config "$AGENT_CONF" --check-config
check "$CONF is a conffile" conffiles_are derelict-server "$CONF"
check "$AGENT_CONF is a conffile" conffiles_are derelict-agent "$AGENT_CONF"
check "systemd-analyze verify on the installed units" verify_units
check "derelictd.service exposure <= $MAX_EXPOSURE" \
	exposure_ok derelictd.service "$MAX_EXPOSURE"
check "enroll secret is 0640 root:derelict" secret_ok
check "system user derelict owns /var/lib/derelict" user_ok
check "derelictd.service and derelict-agent.timer enabled" units_enabled
require "installed derelictd runs as derelict and answers /api/v1/healthz" \
	start_server
check "derelict-agent --once enrolls and reports (exit 0)" agent_once
check "agent keeps its id and a 0600 token" agent_state_ok
check "derelict-agent --once reports again with its token" agent_once
check "token add and GET /api/v1/hosts list this host" host_listed
check "derelictd backup writes a copy while the server runs" backup_ok
check "derelictd stops cleanly on SIGTERM" stop_server
check "apt-get purge derelict-server derelict-agent" purge_debs
check "nothing of derelict is left after purge" nothing_left

summary
[ "$failed" = 0 ]
