/* store_findings.c - the findings (api_findings.c) and their
 * acknowledgement; the rules write them (store_eval.c). */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "jsonutil.h"
#include "timeutil.h"

static json_t *fix_finding(json_t *row)
{
	struct cursor_finding at = {
		(int)json_integer_value(json_object_get(row, "severity")),
		json_integer_value(json_object_get(row, "id")),
	};
	char cur[CURSOR_MAX];

	/* The cursor of a severity-ordered list. */
	cursor_format_finding(&at, cur);
	json_object_set_new(row, "cursor", json_string(cur));
	return store_severity_name(row, "severity", "info");
}

#define FINDING_COLUMNS                                                      \
	"SELECT f.id, f.host_id, h.hostname, f.rule, "                       \
	"f.severity, "                                                       \
	"f.status, f.summary, f.first_seen, f.last_seen, f.resolved_at, "    \
	"f.details AS details_json, f.ack_reason, f.ack_until, f.ack_by, "   \
	"f.ack_at FROM findings f JOIN hosts h ON h.id = f.host_id "

int store_findings_of_host(struct db_conn *c, int64_t id, json_t **ret)
{
	struct db_stmt *s = db_stmt(c, FINDING_COLUMNS
			       "WHERE f.host_id = ? AND f.status != 'resolved' "
			       "ORDER BY f.severity DESC, f.id DESC LIMIT 1000");
	json_t *items, *cursor, *f;
	size_t i;
	int r;

	if (s)
		db_bind_int(s, 1, id);
	else
		return -EIO;
	r = store_page_collect(c, s, 1000, fix_finding, "id", &items, &cursor);
	if (r < 0)
		return r;
	json_decref(cursor);
	json_array_foreach(items, i, f)
		json_object_del(f, "cursor");
	*ret = items;
	return 0;
}

#define FINDING_FILTERS                                                      \
	"WHERE (f.status = ?1 OR ?1 IS NULL) AND (f.rule = ?2 OR ?2 IS NULL) " \
	"AND (f.severity = ?3 OR ?3 IS NULL) AND (f.host_id = ?4 OR "        \
	"?4 IS NULL) "

int store_findings_list(struct store *st, const struct finding_filter *f,
			json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items = NULL, *cursor = NULL, *it;
	size_t i;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, FINDING_COLUMNS FINDING_FILTERS
		       "AND (f.severity < ?5 OR (f.severity = ?5 AND "
		       "f.id < ?6) OR ?5 IS NULL) "
		       "ORDER BY f.severity DESC, f.id DESC LIMIT ?7");
	for (int pass = 0; s && pass < 2; pass++) {
		if (pass == 1) {
			s = db_stmt(c, "SELECT count(*) FROM findings f "
				       FINDING_FILTERS);
			if (!s)
				break;
		}
		db_bind_text(s, 1, f->status);
		db_bind_text(s, 2, f->rule);
		if (f->severity > 0)
			db_bind_int(s, 3, f->severity);
		if (f->host_id > 0)
			db_bind_int(s, 4, f->host_id);
		if (pass == 1)
			break;
		if (f->after.id > 0) {
			db_bind_int(s, 5, f->after.level);
			db_bind_int(s, 6, f->after.id);
		}
		db_bind_int(s, 7, f->limit + 1);
		r = store_page_collect(c, s, f->limit, fix_finding, "cursor", &items,
			    &cursor);
		if (r < 0)
			goto out;
	}
	if (!s) {
		r = -EIO;
		goto out;
	}
	json_array_foreach(items, i, it)
		json_object_del(it, "cursor");
	r = store_page_make(c, s, items, cursor, ret);
out:
	db_read_end(st, c);
	return r;
}

int store_finding_ack(struct store *st, int64_t id, const char *reason,
		      const char *until, const char *by, int64_t now)
{
	struct db_conn *c;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = db_run_with(
		c, "UPDATE findings SET status = 'acknowledged', ack_reason = "
		   "?, ack_until = ?, ack_by = ?, ack_at = ? WHERE id = ? AND "
		   "status != 'resolved'",
		   DB_TEXT(reason), DB_TEXT(until), DB_TEXT(by), DB_INT(now),
		   DB_INT(id));
	if (r == 0 && db_changes(c) == 0) {
		r = db_row_exists(c, db_stmt(c, "SELECT count(*) FROM findings "
					  "WHERE id = ?"),
			       id);
		if (r == 0)
			r = -EALREADY;
	}
	if (r == 0) {
		/* The host's worst severity ignores acknowledged findings. */
		r = db_run_with(
			c, "UPDATE hosts SET next_eval_at = 0 WHERE id = "
			   "(SELECT host_id FROM findings WHERE id = ?)",
			   DB_INT(id));
	}
	return db_write_end(st, c, r);
}
