#!/bin/sh
# run.sh - the web page's browser tests against a real derelictd.
#
# Builds the tree, starts derelictd on a free loopback port with a temporary
# database, enrolls real agents on fixture roots, and drives Debian's
# Chromium through playwright-core.  Screenshots land in tests/e2e/out/.
#
#   tests/e2e/run.sh            (from anywhere; root needed only to apt-get)
#   KEEP=1 tests/e2e/run.sh     keeps the server's temporary directory
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
	echo "run.sh: installing chromium" >&2
	if [ "$(id -u)" != 0 ]; then
		echo "run.sh: $CHROMIUM missing; run as root or apt-get install chromium" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium ||
		{ apt-get update -q &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
fi
command -v node >/dev/null || { echo "run.sh: node is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh: curl is required" >&2; exit 1; }

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
make -C "$top" --no-print-directory all

DERELICTD=$top/build/derelictd
AGENT=$top/build/derelict-agent
tmp=$(mktemp -d /tmp/derelict-e2e.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "run.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base=http://127.0.0.1:$port
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/enroll-secret"
chmod 600 "$tmp/enroll-secret"
cat >"$tmp/derelictd.conf" <<EOF
[server]
listen = 127.0.0.1:$port
database = $tmp/derelict.db
enroll_secret_file = $tmp/enroll-secret
advisories_file = $top/data/advisories.json
eol_file = $top/data/eol.json
advisories_url =

[rules]
evaluate_every = 1s
EOF

"$DERELICTD" --config "$tmp/derelictd.conf" >"$tmp/derelictd.log" 2>&1 &
pid=$!
i=0
until curl -fsS "$base/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: derelictd did not come up; its log:" >&2
		cat "$tmp/derelictd.log" >&2
		exit 1
	fi
	sleep 0.1
done

admin=$("$DERELICTD" --config "$tmp/derelictd.conf" token add e2e-admin --role admin)
viewer=$("$DERELICTD" --config "$tmp/derelictd.conf" token add e2e-viewer --role viewer)

# The mail host's project exists first, with an end date far away; the test
# ends it through the page.
project=e2e-mail
code=$(curl -sS -o "$tmp/project.json" -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
	-d "{\"name\": \"$project\", \"owner\": \"e2e\", \"contact\": \"ops@example.com\", \"ends_on\": \"2099-12-31\", \"description\": \"Mail relay of a finished project\"}" \
	"$base/api/v1/projects")
case $code in
2*|409) ;;
*) echo "run.sh: creating project $project: HTTP $code" >&2
   cat "$tmp/project.json" >&2; exit 1 ;;
esac

# Real agent runs: exim on 0.0.0.0:25 in the project, an unpatched exim
# outside any project, and a host whose hostname and process name are markup.
mail_root=$top/tests/fixtures/roots/exim
[ -d "$mail_root" ] || { echo "run.sh: missing $mail_root" >&2; exit 1; }
agent_once() {
	name=$1
	shift
	mkdir -p "$tmp/agent-$name"
	"$AGENT" --config /dev/null --once --server "$base" \
		--enroll-secret-file "$tmp/enroll-secret" \
		--state-dir "$tmp/agent-$name" "$@" ||
		{ echo "run.sh: agent run $name failed" >&2; exit 1; }
}
agent_once mail --root "$mail_root" --project "$project"
# old-exim carries a real exim4's log and spool (the agent's fixture
# roots/exim-activity): its page shows when it last carried mail and its
# queue.
cp -a "$here/roots/old-exim" "$tmp/old-exim"
cp -a "$top/tests/fixtures/roots/exim-activity/var/log" \
	"$top/tests/fixtures/roots/exim-activity/var/spool" "$tmp/old-exim/var/"
agent_once old-exim --root "$tmp/old-exim"
agent_once xss --root "$here/roots/xss"

# A host whose history ran over the per-report budget: two reports that
# swap 2,500 ports (5,000 changes: 2,000 itemised, one changes_truncated
# row for the other 3,000).
history_host=e2e-history
python3 - "$base" "$tmp/enroll-secret" "$history_host" \
	"$top/tests/integration" <<'PY' ||
import json, sys, urllib.request, uuid
base, secret_file, name, lib = sys.argv[1:5]
sys.path.insert(0, lib)
from reports import report


def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + "/api/v1" + path, method="POST",
                                 data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


agent_id = str(uuid.uuid4())
secret = open(secret_file).read().strip()
token = post("/enroll", {"enroll_secret": secret, "agent_id": agent_id,
                         "hostname": name})["token"]
for first in (10001, 40001):
    ports = [{"proto": "tcp", "address": "0.0.0.0", "port": first + i,
              "pid": None, "process": None, "exe": None, "user": None}
             for i in range(2500)]
    post("/reports", report(agent_id, hostname=name, ports=ports), token)
PY
	{ echo "run.sh: seeding $history_host failed" >&2; exit 1; }

mkdir -p "$here/out"
cd "$here"
E2E_BASE=$base E2E_ADMIN=$admin E2E_VIEWER=$viewer E2E_PROJECT=$project \
	E2E_HISTORY_HOST=$history_host \
	E2E_CHROMIUM=$CHROMIUM E2E_OUT=$here/out \
	node --test --test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$here/out/results.tap" \
	test/ && rc=0 || rc=$?
pass=$(sed -n 's/^# pass //p' "$here/out/results.tap" 2>/dev/null)
fail=$(sed -n 's/^# fail //p' "$here/out/results.tap" 2>/dev/null)
echo "${pass:-0} passed, ${fail:-0} failed"
if [ "$rc" != 0 ]; then
	echo "run.sh: derelictd log tail:" >&2
	tail -n 30 "$tmp/derelictd.log" >&2
fi
exit "$rc"
