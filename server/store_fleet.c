/* store_fleet.c - the fleet at a glance: /summary and /metrics. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"

int store_summary(struct store *st, int64_t now, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *out, *sev, *status, *days;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	/* sum() of a bigint is a numeric on PostgreSQL: cast back. */
	s = db_stmt(c, "SELECT count(*), CAST(coalesce(sum(abandoned), 0) AS "
		    "bigint), CAST(coalesce(sum(mail_running), 0) AS bigint), "
		    "CAST(coalesce(sum(mail_exposed), 0) AS bigint), "
		    "coalesce(sum(CASE WHEN status = 'active' THEN 1 ELSE 0 "
		    "END), 0), "
		    "coalesce(sum(CASE WHEN status = 'silent' THEN 1 ELSE 0 "
		    "END), 0), "
		    "coalesce(sum(CASE WHEN status = 'retired' THEN 1 ELSE 0 "
		    "END), 0), "
		    "CAST(coalesce(sum(abandoned * mail_running), 0) AS "
		    "bigint) FROM hosts");
	r = db_step(c, s);
	if (r != DB_ROW) {
		db_reset(s);
		r = r < 0 ? r : -EPROTO;
		goto out;
	}
	out = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "hosts",
			(json_int_t)db_col_int(s, 0), "abandoned",
			(json_int_t)db_col_int(s, 1), "mail",
			(json_int_t)db_col_int(s, 2), "exposed",
			(json_int_t)db_col_int(s, 3), "silent",
			(json_int_t)db_col_int(s, 5), "retired",
			(json_int_t)db_col_int(s, 6),
			"abandoned_mail",
			(json_int_t)db_col_int(s, 7));
	status = json_pack("{s:I,s:I,s:I}", "active",
			   (json_int_t)db_col_int(s, 4), "silent",
			   (json_int_t)db_col_int(s, 5), "retired",
			   (json_int_t)db_col_int(s, 6));
	db_reset(s);
	json_object_set_new(out, "status", status);

	sev = json_object();
	for (int l = RULES_SEV_CRITICAL; l > RULES_SEV_INFO; l--)
		json_object_set_new(sev, rules_severity_name(l), json_integer(0));
	s = db_stmt(c, "SELECT severity, count(*) FROM findings WHERE "
		       "status = 'open' GROUP BY severity");
	while ((r = db_step(c, s)) == DB_ROW) {
		int level = db_col_int(s, 0);

		if (level > RULES_SEV_INFO && level <= RULES_SEV_CRITICAL)
			json_object_set_new(sev, rules_severity_name(level),
					    json_integer(db_col_int(s, 1)));
	}
	db_reset(s);
	json_object_set_new(out, "findings", sev);
	if (r < 0)
		goto fail;

	/* Open findings at the end of each of the last 30 days. */
	days = json_array();
	s = db_stmt(c, "WITH RECURSIVE d(day) AS (SELECT CAST(?1 AS bigint) "
		    "UNION ALL SELECT "
		    "day + 86400 FROM d WHERE day < ?2) SELECT d.day, "
		    "coalesce(sum(CASE WHEN f.severity = 4 THEN 1 ELSE 0 "
		    "END), 0), "
		    "coalesce(sum(CASE WHEN f.severity = 3 THEN 1 ELSE 0 "
		    "END), 0), "
		    "coalesce(sum(CASE WHEN f.severity = 2 THEN 1 ELSE 0 "
		    "END), 0), "
		    "coalesce(sum(CASE WHEN f.severity = 1 THEN 1 ELSE 0 "
		    "END), 0), count(f.id) "
		    "FROM d LEFT JOIN findings f ON f.first_seen < d.day + "
		    "86400 AND (f.resolved_at IS NULL OR f.resolved_at >= "
		    "d.day + 86400) GROUP BY d.day ORDER BY d.day");
	if (s) {
		int64_t today = now - now % 86400;

		db_bind_int(s, 1, today - 29 * 86400);
		db_bind_int(s, 2, today);
	}
	{
		while ((r = db_step(c, s)) == DB_ROW) {
			char date[TIME_DATE_LEN];

			date_format(db_col_int(s, 0), date);
			json_array_append_new(
				days,
				json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "date",
					  date, "critical",
					  (json_int_t)db_col_int(s, 1),
					  "high",
					  (json_int_t)db_col_int(s, 2),
					  "medium",
					  (json_int_t)db_col_int(s, 3),
					  "low",
					  (json_int_t)db_col_int(s, 4),
					  "open",
					  (json_int_t)db_col_int(s, 5)));
		}
		db_reset(s);
	}
	json_object_set_new(out, "findings_over_time", days);
	if (r < 0)
		goto fail;
	json_object_set_new(out, "advisories", store_advisories_age_json(st, now));
	*ret = out;
	r = 0;
out:
	db_read_end(st, c);
	return r;
fail:
	json_decref(out);
	goto out;
}

int store_metrics(struct store *st, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *o;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	/* The order SQLite's GROUP BY gives, written out: PostgreSQL may
	 * hash the groups. */
	s = db_stmt(c, "SELECT status, count(*) FROM hosts GROUP BY status "
		       "ORDER BY status");
	o = json_object();
	while ((r = db_step(c, s)) == DB_ROW)
		json_object_set_new(o, db_col_text(s, 0),
				    json_integer(db_col_int(s, 1)));
	db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}
