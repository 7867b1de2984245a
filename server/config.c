/* config.c - the table of derelictd.conf keys (SPEC section 1). */
#include <stddef.h>

#include "server.h"

#define S(f) offsetof(struct server_config, f)
#define DAY 86400LL

const struct conf_key server_conf_keys[] = {
	{ "server", "listen", CONF_STRING, S(listen), "127.0.0.1:8470", 0, 0,
	  "address and port to listen on" },
	{ "server", "database", CONF_STRING, S(database),
	  "/var/lib/derelict/derelict.db", 0, 0, "SQLite database file" },
	{ "server", "enroll_secret_file", CONF_STRING, S(enroll_secret_file),
	  SYSCONFDIR "/derelict/enroll-secret", 0, 0,
	  "file holding the agents' enrollment secret" },
	{ "server", "tls_cert", CONF_STRING, S(tls_cert), "", 0, 0,
	  "PEM certificate; with tls_key, serve HTTPS" },
	{ "server", "tls_key", CONF_STRING, S(tls_key), "", 0, 0,
	  "PEM private key" },
	{ "server", "max_body_bytes", CONF_INT, S(max_body_bytes), "16777216",
	  1024, 1LL << 30, "largest request body accepted" },
	{ "server", "max_connections_per_address", CONF_INT,
	  S(max_connections_per_address), "128", 1, 2048,
	  "connections one client address may hold open" },
	{ "server", "advisories_file", CONF_STRING, S(advisories_file),
	  DATADIR "/advisories.json", 0, 0, "shipped MTA advisories" },
	{ "server", "advisories_url", CONF_STRING, S(advisories_url),
	  "https://security-tracker.debian.org/tracker/data/json", 0, 0,
	  "the Debian Security Tracker's JSON export; empty: no fetching" },
	{ "server", "advisories_refresh", CONF_SPAN, S(advisories_refresh),
	  "24h", 1, 365 * DAY, "period of fetching advisories_url" },
	{ "server", "eol_file", CONF_STRING, S(eol_file), DATADIR "/eol.json",
	  0, 0, "shipped OS end-of-life dates" },
	{ "server", "history_keep", CONF_SPAN, S(history_keep), "400d", 60,
	  100 * 365 * DAY, "how long change history is kept" },
	{ "server", "changes_per_report", CONF_INT, S(changes_per_report),
	  "2000", 1, 1000000, "change rows one report may itemise per host" },
	{ "server", "changes_per_day", CONF_INT, S(changes_per_day), "20000",
	  1, 100000000, "change rows a host may itemise per day (UTC)" },
	{ "rules", "smtp_ports", CONF_PORTS, S(smtp_ports), "25, 465, 587, 2525",
	  0, 0, "ports that mean a mail service" },
	{ "rules", "unowned_grace", CONF_SPAN, S(unowned_grace), "14d", 0,
	  100 * 365 * DAY, "time without a project before 'unowned'" },
	{ "rules", "idle_after", CONF_SPAN, S(idle_after), "30d", 0,
	  100 * 365 * DAY, "time without a login before 'idle'" },
	{ "rules", "unmaintained_after", CONF_SPAN, S(unmaintained_after), "90d",
	  0, 100 * 365 * DAY, "time without package changes" },
	{ "rules", "silent_after", CONF_SPAN, S(silent_after), "48h", 1,
	  100 * 365 * DAY, "time without a report before 'silent'" },
	{ "rules", "evaluate_every", CONF_SPAN, S(evaluate_every), "60s", 1,
	  DAY, "period of the time-based re-evaluation" },
	{ NULL, NULL, 0, 0, NULL, 0, 0, NULL },
};
