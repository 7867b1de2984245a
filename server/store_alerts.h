/*
 * store_alerts.h - what the Alertmanager pusher and /metrics read of the
 * findings (store_alerts.c; the conventions of store.h).
 */
#ifndef DERELICT_STORE_ALERTS_H
#define DERELICT_STORE_ALERTS_H

#include <jansson.h>
#include <stdint.h>

struct store;

/* The rule of the SMTP servers nobody enrolled (GET /discovered). */
#define STORE_RULE_UNENROLLED "unenrolled-mail-server"

/* Where a page of findings ended; zeroed for the first page. */
struct store_alert_cursor {
	int severity;
	int64_t id;
};

/* A page of at most limit findings of one status, "open", "acknowledged"
 * or "resolved" (the last two only when they left "open" at or after
 * since), in the order of the findings_status index after *cursor, which
 * it moves past the page.  Each is {"id", "host_id", "hostname",
 * "project" (null when none), "rule", "key", "severity" (0-4), "summary",
 * "first_seen", "ended_at" (null while open)}, times in Unix seconds.  An
 * array shorter than limit is the last page. */
int store_alert_page(struct store *st, const char *status, int64_t since,
		     int limit, struct store_alert_cursor *cursor,
		     json_t **ret);

/* The same of the SMTP servers nobody enrolled (GET /discovered): status
 * "open", or "resolved" since; each as above with host_id, hostname and
 * project null, rule "unenrolled-mail-server", and "address" (also the
 * key). */
int store_alert_discovered_page(struct store *st, const char *status,
				int64_t since, int limit,
				struct store_alert_cursor *cursor,
				json_t **ret);

/* For /metrics: {"open": [{"rule", "severity" (0-4), "count"}...],
 * "abandoned_mail": {"exposed": N, "local": N}}: open findings by rule
 * and severity (the open rows of discovered among them, as
 * unenrolled-mail-server), and the abandoned hosts running a mail service by whether
 * it is reachable from other hosts. */
int store_findings_metrics(struct store *st, json_t **ret);

#endif
