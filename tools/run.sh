#!/bin/sh
# run.sh SERVER AGENT - "make run": derelictd on 127.0.0.1:8470 with its
# state under ./var, this machine's agent reporting once, then the server in
# the foreground until Ctrl-C.  Running it again reuses ./var.
set -eu
server=$1
agent=$2
listen=${DERELICT_LISTEN:-127.0.0.1:8470}
url=http://$listen
var=$(pwd)/var
conf=$var/derelictd.conf
mkdir -p "$var/agent"
chmod 700 "$var"

if [ ! -s "$var/enroll-secret" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$var/enroll-secret")
fi
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# Written by "make run"; edit freely, it is kept.
[server]
listen = $listen
database = $var/derelict.db
enroll_secret_file = $var/enroll-secret
advisories_file = $(pwd)/data/advisories.json
eol_file = $(pwd)/data/eol.json

[rules]
evaluate_every = 10s
CONF
fi
"$server" --config "$conf" --check-config
if [ ! -s "$var/admin-token" ]; then
	(umask 077 && "$server" --config "$conf" token add "admin-$(date +%s)" --role admin >"$var/admin-token")
fi
token=$(cat "$var/admin-token")

if curl -s -o /dev/null "$url/healthz"; then
	echo "make run: something already listens on $listen; stop it first" >&2
	exit 1
fi
"$server" --config "$conf" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM
tries=0
until curl -s -o /dev/null "$url/healthz"; do
	tries=$((tries + 1))
	if [ $tries -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
		echo "make run: derelictd did not start" >&2
		exit 1
	fi
	sleep 0.1
done

if ! "$agent" --config /dev/null --once --server "$url" \
	--enroll-secret-file "$var/enroll-secret" --state-dir "$var/agent"; then
	echo "make run: the agent could not report this machine" >&2
fi
sleep 0.5	# the findings of this report are evaluated right after it

curl -s -H "Authorization: Bearer $token" "$url/api/v1/summary" |
	python3 -c '
import json, sys
s = json.load(sys.stdin)
f = s["findings"]
print("derelict: %d host(s), %d abandoned, %d running mail (%d exposed), %d silent; "
      "open findings: %d critical, %d high, %d medium, %d low" % (
      s["hosts"], s["abandoned"], s["mail"], s["exposed"], s["silent"],
      f["critical"], f["high"], f["medium"], f["low"]))'
curl -s -H "Authorization: Bearer $token" "$url/api/v1/findings?status=open&limit=10" |
	python3 -c '
import json, sys
for f in json.load(sys.stdin)["items"]:
    print("  %-8s %-24s %s" % (f["severity"], f["rule"], f["summary"]))'
cat <<MSG

Web page:  $url/
Login:     any user name, password $token
API:       curl -H "Authorization: Bearer $token" $url/api/v1/hosts
State:     $var (delete it to start afresh)
MSG
# Where findings would be told: the [notify] keys and [webhook NAME]
# sections of the config, none by default.
notify=$(awk -F' *= *' '
	/^\[/ { sect = $0; next }
	sect == "[notify]" && ($1 == "webhook_url" || $1 == "smtp_url" ||
	    $1 == "alertmanager_url" || $1 == "escalate_to") && $2 != "" {
		printf "%s%s = %s", sep, $1, $2; sep = ", " }
	sect ~ /^\[webhook / && $1 == "url" && $2 != "" {
		printf "%s%s url = %s", sep, sect, $2; sep = ", " }' "$conf")
echo "Notify:    ${notify:-none (set [notify] webhook_url, smtp_url or alertmanager_url in $conf)}"
echo
echo "derelictd runs in the foreground; Ctrl-C stops it."
wait $pid
