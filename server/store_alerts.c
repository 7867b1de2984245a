/* store_alerts.c - see store_alerts.h. */
#include "store_alerts.h"

#include <errno.h>
#include <string.h>

#include "store_int.h"

static json_t *int_or_null(struct db_stmt *s, int col)
{
	if (db_col_null(s, col))
		return json_null();
	return json_integer(db_col_int(s, col));
}

static json_t *text_or_null(struct db_stmt *s, int col)
{
	const char *t = db_col_text(s, col);

	return t ? json_string(t) : json_null();
}

/* The rows of s (the columns of store_alert_page()'s) into out, moving
 * cursor past them. */
static int alert_rows(struct db_conn *c, struct db_stmt *s,
		      struct store_alert_cursor *cursor, json_t *out)
{
	int r;

	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *o = json_object();

		cursor->id = db_col_int(s, 0);
		cursor->severity = db_col_int(s, 6);
		/* json_array_append_new() takes o even when it fails. */
		if (!o || json_array_append_new(out, o) < 0) {
			r = -ENOMEM;
			break;
		}
		json_object_set_new(o, "id", json_integer(cursor->id));
		json_object_set_new(o, "host_id", int_or_null(s, 1));
		json_object_set_new(o, "hostname", text_or_null(s, 2));
		json_object_set_new(o, "project", text_or_null(s, 3));
		json_object_set_new(o, "rule", text_or_null(s, 4));
		json_object_set_new(o, "key", text_or_null(s, 5));
		json_object_set_new(o, "severity",
				    json_integer(cursor->severity));
		json_object_set_new(o, "summary", text_or_null(s, 7));
		json_object_set_new(o, "first_seen", int_or_null(s, 8));
		json_object_set_new(o, "ended_at", int_or_null(s, 9));
		if (db_col_null(s, 1))
			json_object_set_new(o, "address", text_or_null(s, 5));
	}
	db_reset(s);
	return r < 0 ? r : 0;
}

/* What a page of alerts is made of, and its statement in alert_sql[] (in
 * the enum's order):
 * ?1 the status, ?2 and ?3 the cursor, ?4 since, ?5 the limit; the columns
 * alert_rows() reads. */
enum alert_source { ALERT_FINDINGS, ALERT_DISCOVERED };

static const char *const alert_sql[] = {
	/* (severity, id) after the cursor walks the findings_status index
	 * in its own order: each page costs its rows, whatever the page.
	 * Resolved findings are all history: the pages read the whole of
	 * it, filtered on resolved_at, as no index holds that (yet). */
	"SELECT f.id, f.host_id, h.hostname, p.name, f.rule, f.key, "
	"f.severity, f.summary, f.first_seen, "
	"CASE f.status WHEN 'open' THEN NULL "
	"WHEN 'resolved' THEN f.resolved_at ELSE f.ack_at END "
	"FROM findings f JOIN hosts h ON h.id = f.host_id "
	"LEFT JOIN projects p ON p.id = h.project_id "
	"WHERE f.status = ?1 AND (f.severity, f.id) > (?2, ?3) "
	"AND (?1 = 'open' OR coalesce(CASE f.status "
	"WHEN 'resolved' THEN f.resolved_at ELSE f.ack_at END, 0) >= ?4) "
	"ORDER BY f.severity, f.id LIMIT ?5",
	/* No host, the address as the key (the alert's identity), a
	 * summary of the probe's words; the rule is STORE_RULE_UNENROLLED. */
	"SELECT id, NULL, NULL, NULL, 'unenrolled-mail-server', address, "
	"severity, 'SMTP at ' || address || ' answers, and no enrolled host "
	"reports it: ' || banner, first_seen, resolved_at FROM discovered "
	"WHERE status = ?1 AND (severity, id) > (?2, ?3) "
	"AND (?1 = 'open' OR coalesce(resolved_at, 0) >= ?4) "
	"ORDER BY severity, id LIMIT ?5",
};

static int alert_page(struct store *st, enum alert_source source,
		      const char *status, int64_t since, int limit,
		      struct store_alert_cursor *cursor, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *out;
	int r;

	if (limit < 1 || !status)
		return -EINVAL;
	out = json_array();
	if (!out)
		return -ENOMEM;
	if ((r = db_read_begin(st, &c)) < 0) {
		json_decref(out);
		return r;
	}
	s = db_stmt(c, alert_sql[source]);
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, status);
	db_bind_int(s, 2, cursor->severity);
	db_bind_int(s, 3, cursor->id);
	db_bind_int(s, 4, since);
	db_bind_int(s, 5, limit);
	r = alert_rows(c, s, cursor, out);
out:
	db_read_end(st, c);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

int store_alert_page(struct store *st, const char *status, int64_t since,
		     int limit, struct store_alert_cursor *cursor,
		     json_t **ret)
{
	return alert_page(st, ALERT_FINDINGS, status, since, limit, cursor,
			  ret);
}

int store_alert_discovered_page(struct store *st, const char *status,
				int64_t since, int limit,
				struct store_alert_cursor *cursor,
				json_t **ret)
{
	return alert_page(st, ALERT_DISCOVERED, status, since, limit, cursor,
			  ret);
}

int store_findings_metrics(struct store *st, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *open = json_array(), *mail = json_object(), *out;
	int r;

	out = json_pack("{s:o,s:o}", "open", open, "abandoned_mail", mail);
	if (!out)
		return -ENOMEM;
	if ((r = db_read_begin(st, &c)) < 0) {
		json_decref(out);
		return r;
	}
	/* Both read through indexes: findings_status and hosts_filters. */
	s = db_stmt(c, "SELECT rule, severity, count(*) FROM findings "
		    "WHERE status = 'open' GROUP BY rule, severity UNION ALL "
		    "SELECT '" STORE_RULE_UNENROLLED "', severity, count(*) FROM "
		    "discovered WHERE status = 'open' GROUP BY severity "
		    "ORDER BY 1, 2");
	while ((r = db_step(c, s)) == DB_ROW)
		json_array_append_new(
			open, json_pack("{s:s,s:i,s:I}", "rule",
					db_col_text(s, 0) ? db_col_text(s, 0) : "",
					"severity", db_col_int(s, 1),
					"count",
					(json_int_t)db_col_int(s, 2)));
	db_reset(s);
	if (r < 0)
		goto out;
	s = db_stmt(c, "SELECT mail_exposed, count(*) FROM hosts "
		    "WHERE abandoned = 1 AND mail_running = 1 "
		    "GROUP BY mail_exposed");
	json_object_set_new(mail, "exposed", json_integer(0));
	json_object_set_new(mail, "local", json_integer(0));
	while ((r = db_step(c, s)) == DB_ROW)
		json_object_set_new(mail,
				    db_col_int(s, 0) ? "exposed" :
							       "local",
				    json_integer(db_col_int(s, 1)));
	db_reset(s);
out:
	db_read_end(st, c);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}
