/*
 * store_query.c - what the API reads and the operators' writes: hosts,
 * sections, history, projects, findings, packages, summary.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "timeutil.h"

#define SEVERITY_NAME(col)                                                   \
	"CASE " col " WHEN 4 THEN 'critical' WHEN 3 THEN 'high' WHEN 2 "     \
	"THEN 'medium' WHEN 1 THEN 'low' ELSE NULL END"

/* Runs s (bound by the caller) and collects up to limit rows; a further
 * row means there is a next page, whose cursor cursor_of() renders from
 * the last row returned. */
static int collect(struct db_conn *c, sqlite3_stmt *s, int limit,
		   json_t *(*fix)(json_t *row), const char *cursor_col,
		   json_t **ret_items, json_t **ret_cursor)
{
	json_t *items = json_array(), *last = NULL;
	int r, n = 0;

	*ret_cursor = json_null();
	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *row;

		if (n == limit) {
			json_t *v = json_object_get(last, cursor_col);
			char cur[64];

			if (json_is_integer(v))
				snprintf(cur, sizeof(cur), "%lld",
					 (long long)json_integer_value(v));
			else
				snprintf(cur, sizeof(cur), "%s",
					 json_is_string(v) ? json_string_value(v)
							   : "");
			json_decref(*ret_cursor);
			*ret_cursor = json_string(cur);
			r = 0;
			break;
		}
		row = db_row_json(s);
		if (fix)
			row = fix(row);
		json_array_append_new(items, row);
		last = row;
		n++;
	}
	db_reset(s);
	if (r < 0) {
		json_decref(items);
		json_decref(*ret_cursor);
		return r;
	}
	*ret_items = items;
	return 0;
}

/* A page of a list: items, the count of all (c's "SELECT count(*)", bound)
 * and the cursor of the next page.  Takes items and cursor either way. */
static int page(struct db_conn *c, sqlite3_stmt *count, json_t *items,
		json_t *cursor, json_t **ret)
{
	int64_t total = 0;
	int r = db_count(c, count, &total);

	if (r < 0) {
		json_decref(items);
		json_decref(cursor);
		return r;
	}
	*ret = json_pack("{s:o,s:I,s:o}", "items", items, "total",
			 (json_int_t)total, "next_cursor", cursor);
	return *ret ? 0 : -ENOMEM;
}

/* Turns the flat mail columns into {"running", "exposed"} and 0/1 into
 * booleans. */
static json_t *fix_host(json_t *row)
{
	json_t *running = json_object_get(row, "mail_running");
	json_t *exposed = json_object_get(row, "mail_exposed");

	json_object_set_new(row, "mail",
			    json_pack("{s:b,s:b}", "running",
				      json_integer_value(running) != 0,
				      "exposed",
				      json_integer_value(exposed) != 0));
	json_object_del(row, "mail_running");
	json_object_del(row, "mail_exposed");
	json_object_set_new(row, "abandoned",
			    json_boolean(json_integer_value(json_object_get(
						 row, "abandoned")) != 0));
	return row;
}

/* The flag filters only touch columns of the hosts_filters index, so a
 * count without a search scans that index, not the table. */
#define HOST_FLAGS                                                           \
	"(?1 IS NULL OR h.abandoned = ?1) "                                  \
	"AND (?2 IS NULL OR h.mail_running = ?2) "                           \
	"AND (?3 IS NULL OR h.status = ?3) "                                 \
	"AND (?4 IS NULL OR h.project_id = ?4) "                             \
	"AND (?5 IS NULL OR h.severity >= ?5) "
/* A search of three characters or more goes through the trigram index
 * (SQL_HOSTS_SEARCH below); a shorter one (which trigrams cannot match)
 * scans with LIKE. */
#define HOST_SEARCH_SHORT                                                    \
	"AND (h.hostname LIKE ?9 ESCAPE '\\' OR h.agent_id = ?6 "            \
	"OR h.addresses LIKE ?9 ESCAPE '\\') "
#define HOST_SELECT                                                          \
	"SELECT h.id, h.agent_id, h.hostname, p.name AS project, h.status, " \
	"h.last_seen, h.first_seen, h.abandoned, h.mail_running, "           \
	"h.mail_exposed, " SEVERITY_NAME("h.severity") " AS severity, "      \
	"h.os_pretty AS os "
#define HOST_COLUMNS                                                         \
	HOST_SELECT "FROM hosts h LEFT JOIN projects p ON p.id = "           \
	"h.project_id WHERE " HOST_FLAGS
#define HOST_PAGE "AND h.id > ?7 ORDER BY h.id LIMIT ?8"

static const char SQL_HOSTS[] = HOST_COLUMNS HOST_PAGE;
/* A page of a search walks the trigram index's matches in rowid order
 * and stops after the page, instead of collecting every match first. */
static const char SQL_HOSTS_SEARCH[] =
	HOST_SELECT "FROM host_search CROSS JOIN hosts h ON h.id = "
	"host_search.rowid LEFT JOIN projects p ON p.id = h.project_id "
	"WHERE host_search MATCH ?11 AND host_search.rowid > ?7 AND "
	HOST_FLAGS "ORDER BY host_search.rowid LIMIT ?8";
static const char SQL_HOSTS_SEARCH_SHORT[] =
	HOST_COLUMNS HOST_SEARCH_SHORT HOST_PAGE;
static const char SQL_HOSTS_COUNT[] =
	"SELECT count(*) FROM hosts h WHERE " HOST_FLAGS;
static const char SQL_HOSTS_COUNT_SEARCH[] =
	"SELECT count(*) FROM host_search CROSS JOIN hosts h ON h.id = "
	"host_search.rowid WHERE host_search MATCH ?11 AND " HOST_FLAGS;
static const char SQL_HOSTS_COUNT_SEARCH_SHORT[] =
	"SELECT count(*) FROM hosts h WHERE " HOST_FLAGS HOST_SEARCH_SHORT;

/* Binds the filter; -E2BIG when a search pattern would not fit (the
 * caller checked q's length), so a cut pattern is never searched. */
static int bind_host_filter(sqlite3_stmt *s, const struct host_filter *f,
			    int64_t project_id)
{
	/* Escaping at most doubles q; quotes and wildcards add four. */
	struct buf pat = BUF_INIT(2 * STORE_SEARCH_MAX + 8);
	int r = 0;

	if (f->abandoned >= 0)
		sqlite3_bind_int(s, 1, f->abandoned);
	if (f->mail >= 0)
		sqlite3_bind_int(s, 2, f->mail);
	db_bind_text(s, 3, f->status);
	if (f->project)
		sqlite3_bind_int64(s, 4, project_id);
	if (f->min_severity > 0)
		sqlite3_bind_int(s, 5, f->min_severity);
	db_bind_text(s, 6, f->q);
	if (!f->q)
		return 0;
	/* q is a value, never SQL: for LIKE its wildcards are escaped, for
	 * the trigram index it is one quoted string. */
	r = buf_puts(&pat, "%");
	for (const char *p = f->q; r == 0 && *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			r = buf_puts(&pat, "\\");
		if (r == 0)
			r = buf_append(&pat, p, 1);
	}
	if (r == 0)
		r = buf_puts(&pat, "%");
	if (r == 0)
		db_bind_text(s, 9, pat.data);
	buf_reset(&pat);
	if (r == 0)
		r = buf_puts(&pat, "\"");
	for (const char *p = f->q; r == 0 && *p; p++) {
		if (*p == '"')
			r = buf_puts(&pat, "\"");
		if (r == 0)
			r = buf_append(&pat, p, 1);
	}
	if (r == 0)
		r = buf_puts(&pat, "\"");
	if (r == 0)
		db_bind_text(s, 11, pat.data);
	buf_free(&pat);
	return r;
}

/* Trigrams need three characters (bytes suffice: shorter never matches). */
static int long_search(const struct host_filter *f)
{
	return f->q && strlen(f->q) >= 3;
}

int store_hosts_list(struct store *st, const struct host_filter *f,
		     json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s, *cs;
	json_t *items, *cursor;
	int64_t project_id = 0;
	int r;

	if (f->q && strlen(f->q) > STORE_SEARCH_MAX)
		return -E2BIG;
	/* One snapshot for the page and the count. */
	if ((r = db_read_begin(st, &c)) < 0)
		return r;
	if (f->project) {
		/* An unknown project matches no host (id 0 is never used). */
		s = db_stmt(c, "SELECT id FROM projects WHERE name = ?");
		if (s)
			db_bind_text(s, 1, f->project);
		r = db_scalar(c, s, &project_id);
		if (r == -ENOENT)
			r = 0;
		if (r < 0)
			goto out;
	}
	if (!f->q)
		s = db_stmt(c, SQL_HOSTS);
	else if (long_search(f))
		s = db_stmt(c, SQL_HOSTS_SEARCH);
	else
		s = db_stmt(c, SQL_HOSTS_SEARCH_SHORT);
	if (!s) {
		r = -EIO;
		goto out;
	}
	r = bind_host_filter(s, f, project_id);
	sqlite3_bind_int64(s, 7, f->after_id);
	sqlite3_bind_int(s, 8, f->limit + 1);
	if (r == 0)
		r = collect(c, s, f->limit, fix_host, "id", &items, &cursor);
	if (r < 0)
		goto out;
	if (!f->q)
		cs = db_stmt(c, SQL_HOSTS_COUNT);
	else if (long_search(f))
		cs = db_stmt(c, SQL_HOSTS_COUNT_SEARCH);
	else
		cs = db_stmt(c, SQL_HOSTS_COUNT_SEARCH_SHORT);
	if (cs)
		(void)bind_host_filter(cs, f, project_id);
	r = page(c, cs, items, cursor, ret);
out:
	db_read_end(st, c);
	return r;
}

static json_t *fix_finding(json_t *row)
{
	json_t *sev = json_object_get(row, "severity");
	char cur[48];

	/* The cursor of a severity-ordered list: "severity_level:id". */
	snprintf(cur, sizeof(cur), "%lld:%lld",
		 (long long)json_integer_value(json_object_get(row, "level")),
		 (long long)json_integer_value(json_object_get(row, "id")));
	json_object_set_new(row, "cursor", json_string(cur));
	json_object_del(row, "level");
	if (!json_is_string(sev))
		json_object_set_new(row, "severity", json_string("info"));
	return row;
}

#define FINDING_COLUMNS                                                      \
	"SELECT f.id, f.host_id, h.hostname, f.rule, "                       \
	SEVERITY_NAME("f.severity") " AS severity, f.severity AS level, "    \
	"f.status, f.summary, f.first_seen, f.last_seen, f.resolved_at, "    \
	"f.details AS details_json, f.ack_reason, f.ack_until, f.ack_by, "   \
	"f.ack_at FROM findings f JOIN hosts h ON h.id = f.host_id "

static int host_findings(struct db_conn *c, int64_t id, json_t **ret)
{
	sqlite3_stmt *s = db_stmt(c, FINDING_COLUMNS
			       "WHERE f.host_id = ? AND f.status != 'resolved' "
			       "ORDER BY f.severity DESC, f.id DESC LIMIT 1000");
	json_t *items, *cursor, *f;
	size_t i;
	int r;

	if (s)
		sqlite3_bind_int64(s, 1, id);
	else
		return -EIO;
	r = collect(c, s, 1000, fix_finding, "id", &items, &cursor);
	if (r < 0)
		return r;
	json_decref(cursor);
	json_array_foreach(items, i, f)
		json_object_del(f, "cursor");
	*ret = items;
	return 0;
}

/* [{"section", "error", "since"}]: the sections the agent could not read
 * at its last reports, shown as last read. */
static int host_collector_errors(struct db_conn *c, int64_t id, json_t **ret)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT section, error, since FROM "
				     "collector_errors WHERE host_id = ? "
				     "ORDER BY since, section");
	json_t *items = json_array(), *o;
	int r;

	if (!items)
		return -ENOMEM;
	if (s)
		sqlite3_bind_int64(s, 1, id);
	while ((r = db_step(c, s)) == DB_ROW) {
		o = json_object();
		if (!o || json_array_append_new(items, o) < 0 ||
		    json_set_str(o, "section", db_col_text(s, 0)) < 0 ||
		    json_set_str(o, "error", db_col_text(s, 1)) < 0 ||
		    json_set_time(o, "since", sqlite3_column_int64(s, 2)) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	db_reset(s);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return 0;
}

int store_host_get(struct store *st, int64_t id, json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *h, *v = NULL;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT h.id, h.agent_id, h.hostname, h.fqdn, "
		    "h.machine_id, h.os_id, h.os_version_id, h.os_codename, "
		    "h.os_pretty, h.kernel, h.arch, h.boot_time, "
		    "h.addresses AS addresses_json, h.agent_version, "
		    "h.tag_project, h.tag_owner, p.name AS project, "
		    "p.ends_on AS project_ends_on, p.owner AS project_owner, "
		    "p.contact AS project_contact, h.project_pinned, "
		    "h.retired_at, h.note, h.first_seen, h.last_seen, "
		    "h.collected_at, h.last_login_at, h.last_login_user, "
		    "h.last_login_from, h.packages_changed_at, h.status, "
		    "h.abandoned, h.mail_running, h.mail_exposed, "
		    SEVERITY_NAME("h.severity") " AS severity, "
		    "coalesce(x.signals, '[]') AS signals_json, "
		    "coalesce(x.mail, '{}') AS mailinfo_json, "
		    "coalesce(x.vulns, '{}') AS vulnerabilities_json "
		    "FROM hosts h LEFT JOIN projects p ON p.id = h.project_id "
		    "LEFT JOIN host_state x ON x.host_id = h.id WHERE h.id = ?");
	if (s)
		sqlite3_bind_int64(s, 1, id);
	r = db_step(c, s);
	if (r != DB_ROW) {
		db_reset(s);
		r = r < 0 ? r : -ENOENT;
		goto out;
	}
	h = fix_host(db_row_json(s));
	db_reset(s);
	/* The full mail summary replaces the two flags. */
	if (json_is_object(json_object_get(h, "mailinfo")) &&
	    json_object_size(json_object_get(h, "mailinfo")) > 0)
		json_object_set(h, "mail", json_object_get(h, "mailinfo"));
	json_object_del(h, "mailinfo");
	json_object_set_new(h, "os",
			    json_pack("{s:o,s:o,s:o,s:o}", "id",
				      json_incref(json_object_get(h, "os_id")),
				      "version_id",
				      json_incref(json_object_get(h, "os_version_id")),
				      "codename",
				      json_incref(json_object_get(h, "os_codename")),
				      "pretty_name",
				      json_incref(json_object_get(h, "os_pretty"))));
	json_object_del(h, "os_id");
	json_object_del(h, "os_version_id");
	json_object_del(h, "os_codename");
	json_object_del(h, "os_pretty");
	json_object_set_new(h, "retired",
			    json_boolean(!json_is_null(json_object_get(h, "retired_at"))));
	json_object_set_new(h, "project_pinned",
			    json_boolean(json_integer_value(json_object_get(
						 h, "project_pinned")) != 0));
	r = host_findings(c, id, &v);
	if (r == 0)
		json_object_set_new(h, "findings", v);
	if (r == 0)
		r = host_collector_errors(c, id, &v);
	if (r == 0)
		json_object_set_new(h, "collector_errors", v);
	if (r == 0)
		*ret = h;
	else
		json_decref(h);
out:
	db_read_end(st, c);
	return r;
}

/* Keeps the items [offset, offset + limit) of body and adds "total" and
 * "next_cursor". */
static int section_page(json_t *body, int limit, int64_t offset)
{
	json_t *all = json_object_get(body, "items"), *items = json_array();
	size_t total = json_array_size(all);
	char cur[24];

	if (!items)
		return -ENOMEM;
	for (size_t i = (size_t)offset; i < total && i < (size_t)offset +
	     (size_t)limit; i++)
		json_array_append(items, json_array_get(all, i));
	json_object_set_new(body, "items", items);
	json_object_set_new(body, "total", json_integer((json_int_t)total));
	if ((size_t)offset + (size_t)limit < total) {
		snprintf(cur, sizeof(cur), "%lld",
			 (long long)offset + limit);
		json_object_set_new(body, "next_cursor", json_string(cur));
	} else {
		json_object_set_new(body, "next_cursor", json_null());
	}
	return 0;
}

int store_host_section(struct store *st, int64_t id, enum section sec,
		       int limit, int64_t offset, json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *body = NULL, *vulns = NULL;
	int r;

	/* One snapshot for the section row and the package rows. */
	if ((r = db_read_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT h.id, s.body, s.hash, s.updated_at, "
		       "coalesce(x.vulns, '{}') FROM hosts h LEFT JOIN "
		       "sections s ON s.host_id = h.id AND s.name = ? LEFT "
		       "JOIN host_state x ON x.host_id = h.id WHERE h.id = ?");
	if (s) {
		db_bind_text(s, 1, section_names[sec]);
		sqlite3_bind_int64(s, 2, id);
	}
	r = db_step(c, s);
	if (r == DB_DONE) {
		r = -ENOENT;
	} else if (r == DB_ROW) {
		r = 0;
		body = sqlite3_column_type(s, 1) == SQLITE_NULL
			       ? json_pack("{s:[]}", "items")
			       : db_body_column(s, 1);
		if (body && sqlite3_column_type(s, 1) != SQLITE_NULL) {
			json_object_set_new(body, "hash",
					    json_string(db_col_text(s, 2)));
			json_set_time(body, "updated_at",
				      sqlite3_column_int64(s, 3));
		}
		vulns = json_loads(db_col_text(s, 4), 0, NULL);
		if (!body)
			r = -EIO;
	}
	db_reset(s);
	if (r == 0 && sec == SECTION_PACKAGES) {
		/* The packages body is the header; the items are rows. */
		json_t *items = NULL;

		r = packages_items(c, id, &items);
		if (r == 0)
			json_object_set_new(body, "items", items);
	}
	db_read_end(st, c);
	if (r == 0)
		r = section_page(body, limit, offset);
	if (r == 0 && sec == SECTION_PACKAGES && json_is_object(vulns)) {
		/* Mark each vulnerable package with the advisories that apply
		 * to its source package. */
		size_t i;
		json_t *p;

		json_array_foreach(json_object_get(body, "items"), i, p) {
			const char *src = json_get_str(p, "source");
			json_t *v = json_object_get(vulns, src ? src : "");

			if (!v)
				v = json_object_get(vulns, json_get_str(p, "name")
								   ? json_get_str(p, "name")
								   : "");
			if (v)
				json_object_set(p, "vulnerabilities", v);
		}
	}
	json_decref(vulns);
	if (r == 0)
		*ret = body;
	else
		json_decref(body);
	return r;
}

int store_host_changes(struct store *st, int64_t id, int limit,
		       int64_t before_id, json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *items, *cursor, *out = NULL;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	/* An added item has no old side, a removed one no new: 'null' keeps
	 * such a column a JSON one, so the field is "old"/"new" all the same
	 * (db_row_json names a NULL column by its alias). */
	s = db_stmt(c, "SELECT id, at, section, key, action, "
		       "coalesce(old, 'null') AS old_json, "
		       "coalesce(new, 'null') AS new_json FROM changes "
		       "WHERE host_id = ?1 "
		       "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3");
	if (!s) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, before_id);
	sqlite3_bind_int(s, 3, limit + 1);
	r = collect(c, s, limit, NULL, "id", &items, &cursor);
	if (r == 0) {
		s = db_stmt(c, "SELECT count(*) FROM changes WHERE host_id = ?");
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = page(c, s, items, cursor, &out);
	}
	/* An unknown host is a 404, not an empty history. */
	if (r == 0)
		r = db_row_exists(c, db_stmt(c, "SELECT count(*) FROM hosts "
						"WHERE id = ?"),
				  id);
	if (r == 0)
		*ret = out;
	else
		json_decref(out);
out:
	db_read_end(st, c);
	return r;
}

int store_host_patch(struct store *st, int64_t id, const json_t *patch,
		     int64_t now)
{
	struct db_conn *c;
	json_t *v;
	sqlite3_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = db_row_exists(c, db_stmt(c, "SELECT count(*) FROM hosts WHERE id = ?"),
		       id);
	if (r < 0)
		goto out;
	v = json_object_get(patch, "project");
	if (v) {
		int64_t pid = 0;

		if (json_is_string(v)) {
			s = db_stmt(c, "SELECT id FROM projects WHERE name = ?");
			if (s)
				db_bind_text(s, 1, json_string_value(v));
			if ((r = db_scalar(c, s, &pid)) < 0)
				goto out;
		}
		/* From now on the operator's choice wins over the tag. */
		s = db_stmt(c, "UPDATE hosts SET project_id = ?, "
			    "project_pinned = 1 WHERE id = ?");
		if (s) {
			if (pid > 0)
				sqlite3_bind_int64(s, 1, pid);
			sqlite3_bind_int64(s, 2, id);
		}
		if ((r = db_run(c, s)) < 0)
			goto out;
	}
	v = json_object_get(patch, "retired");
	if (v) {
		s = db_stmt(c, "UPDATE hosts SET retired_at = CASE WHEN ?1 THEN "
			    "coalesce(retired_at, ?2) ELSE NULL END "
			    "WHERE id = ?3");
		if (s) {
			sqlite3_bind_int(s, 1, json_is_true(v));
			sqlite3_bind_int64(s, 2, now);
			sqlite3_bind_int64(s, 3, id);
		}
		if ((r = db_run(c, s)) < 0)
			goto out;
	}
	v = json_object_get(patch, "note");
	if (v) {
		s = db_stmt(c, "UPDATE hosts SET note = ? WHERE id = ?");
		if (s) {
			db_bind_text(s, 1, json_string_value(v));
			sqlite3_bind_int64(s, 2, id);
		}
		if ((r = db_run(c, s)) < 0)
			goto out;
	}
	r = store_evaluate_host(st, c, id, now);
out:
	return db_write_end(st, c, r);
}

int store_host_delete(struct store *st, int64_t id)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	int r;

	/* One transaction: the host's rows go with it, or none does. */
	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "DELETE FROM hosts WHERE id = ?");
	if (s)
		sqlite3_bind_int64(s, 1, id);
	r = db_run(c, s);
	if (r == 0 && db_changes(c) == 0)
		r = -ENOENT;
	return db_write_end(st, c, r);
}

/* --- projects -------------------------------------------------------------- */

#define PROJECT_COLUMNS                                                      \
	"SELECT p.name, p.owner, p.contact, p.ends_on, p.description, "      \
	"p.created_at, (SELECT count(*) FROM hosts h WHERE h.project_id = "  \
	"p.id) AS hosts FROM projects p "

int store_projects_list(struct store *st, int limit, const char *after,
			json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *items, *cursor;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, PROJECT_COLUMNS "WHERE p.name > ?1 "
				       "ORDER BY p.name LIMIT ?2");
	if (s) {
		db_bind_text(s, 1, after ? after : "");
		sqlite3_bind_int(s, 2, limit + 1);
	}
	r = s ? collect(c, s, limit, NULL, "name", &items, &cursor) : -EIO;
	if (r == 0)
		r = page(c, db_stmt(c, "SELECT count(*) FROM projects"), items,
			 cursor, ret);
	db_read_end(st, c);
	return r;
}

int store_project_get(struct store *st, const char *name, json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, PROJECT_COLUMNS "WHERE p.name = ?");
	if (s)
		db_bind_text(s, 1, name);
	r = db_step(c, s);
	if (r == DB_ROW) {
		*ret = db_row_json(s);
		r = 0;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	db_read_end(st, c);
	return r;
}

/* Hosts of a project whose end date moved must be looked at again now. */
static int project_hosts_due(struct db_conn *c, const char *name)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE hosts SET next_eval_at = 0 WHERE "
				  "project_id = (SELECT id FROM projects "
				  "WHERE name = ?)");

	if (s)
		db_bind_text(s, 1, name);
	return db_run(c, s);
}

int store_project_create(struct store *st, const json_t *p, int64_t now)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "INSERT INTO projects (name, owner, contact, ends_on, "
		       "description, created_at) VALUES (?, ?, ?, ?, ?, ?)");
	if (s) {
		db_bind_text(s, 1, json_get_str(p, "name"));
		db_bind_text(s, 2, json_get_str(p, "owner"));
		db_bind_text(s, 3, json_get_str(p, "contact"));
		db_bind_text(s, 4, json_get_str(p, "ends_on"));
		db_bind_text(s, 5, json_get_str(p, "description"));
		sqlite3_bind_int64(s, 6, now);
	}
	return db_write_end(st, c, db_run(c, s));
}

int store_project_patch(struct store *st, const char *name, const json_t *p)
{
	static const char *const cols[] = { "owner", "contact", "ends_on",
					    "description", NULL };
	static const char *const sql[] = {
		"UPDATE projects SET owner = ? WHERE name = ?",
		"UPDATE projects SET contact = ? WHERE name = ?",
		"UPDATE projects SET ends_on = ? WHERE name = ?",
		"UPDATE projects SET description = ? WHERE name = ?",
	};
	struct db_conn *c;
	sqlite3_stmt *s;
	int64_t n = 0;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT count(*) FROM projects WHERE name = ?");
	if (s)
		db_bind_text(s, 1, name);
	if ((r = db_scalar(c, s, &n)) < 0)
		goto out;
	if (n != 1) {
		r = -ENOENT;
		goto out;
	}
	for (int i = 0; cols[i]; i++) {
		json_t *v = json_object_get(p, cols[i]);

		if (!v)
			continue;
		s = db_stmt(c, sql[i]);
		if (s) {
			db_bind_text(s, 1, json_string_value(v));
			db_bind_text(s, 2, name);
		}
		if ((r = db_run(c, s)) < 0)
			goto out;
	}
	r = project_hosts_due(c, name);
out:
	return db_write_end(st, c, r);
}

int store_project_delete(struct store *st, const char *name)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = project_hosts_due(c, name);
	s = db_stmt(c, "DELETE FROM projects WHERE name = ?");
	if (s)
		db_bind_text(s, 1, name);
	if (r == 0)
		r = db_run(c, s);
	if (r == 0 && db_changes(c) == 0)
		r = -ENOENT;
	return db_write_end(st, c, r);
}

/* --- findings -------------------------------------------------------------- */

#define FINDING_FILTERS                                                      \
	"WHERE (?1 IS NULL OR f.status = ?1) AND (?2 IS NULL OR f.rule = ?2) " \
	"AND (?3 IS NULL OR f.severity = ?3) AND (?4 IS NULL OR "            \
	"f.host_id = ?4) "

int store_findings_list(struct store *st, const struct finding_filter *f,
			json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *items = NULL, *cursor = NULL, *it;
	size_t i;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, FINDING_COLUMNS FINDING_FILTERS
		       "AND (?5 IS NULL OR f.severity < ?5 OR "
		       "(f.severity = ?5 AND f.id < ?6)) "
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
			sqlite3_bind_int(s, 3, f->severity);
		if (f->host_id > 0)
			sqlite3_bind_int64(s, 4, f->host_id);
		if (pass == 1)
			break;
		if (f->after_id > 0) {
			/* after_id packs the cursor "level:id". */
			sqlite3_bind_int64(s, 5, f->after_id >> 40);
			sqlite3_bind_int64(s, 6, f->after_id & ((1LL << 40) - 1));
		}
		sqlite3_bind_int(s, 7, f->limit + 1);
		r = collect(c, s, f->limit, fix_finding, "cursor", &items,
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
	r = page(c, s, items, cursor, ret);
out:
	db_read_end(st, c);
	return r;
}

int store_finding_ack(struct store *st, int64_t id, const char *reason,
		      const char *until, const char *by, int64_t now)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "UPDATE findings SET status = 'acknowledged', "
		    "ack_reason = ?, ack_until = ?, ack_by = ?, ack_at = ? "
		    "WHERE id = ? AND status != 'resolved'");
	if (s) {
		db_bind_text(s, 1, reason);
		db_bind_text(s, 2, until);
		db_bind_text(s, 3, by);
		sqlite3_bind_int64(s, 4, now);
		sqlite3_bind_int64(s, 5, id);
	}
	r = db_run(c, s);
	if (r == 0 && db_changes(c) == 0) {
		r = db_row_exists(c, db_stmt(c, "SELECT count(*) FROM findings "
					  "WHERE id = ?"),
			       id);
		if (r == 0)
			r = -EALREADY;
	}
	if (r == 0) {
		/* The host's worst severity ignores acknowledged findings. */
		s = db_stmt(c, "UPDATE hosts SET next_eval_at = 0 WHERE id = "
			    "(SELECT host_id FROM findings WHERE id = ?)");
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = db_run(c, s);
	}
	return db_write_end(st, c, r);
}

/* --- fleet-wide ------------------------------------------------------------ */

/* The cursor is "host_id:arch": a multi-arch package (zlib1g amd64 and
 * i386) has a row per architecture, and a page may end between them. */
static json_t *fix_package(json_t *row)
{
	char cur[96];

	snprintf(cur, sizeof(cur), "%lld:%s",
		 (long long)json_integer_value(json_object_get(row, "host_id")),
		 json_get_str(row, "arch") ? json_get_str(row, "arch") : "");
	json_object_set_new(row, "cursor", json_string(cur));
	return row;
}

int store_packages_find(struct store *st, const char *name, int limit,
			int64_t after_host, const char *after_arch,
			json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s, *cs;
	/* The index has every host's names but those of the hosts stored
	 * in full since its last pass, which are read from packages: the two
	 * sets do not overlap (see sql/002_item_sums.sql).  CROSS JOIN keeps
	 * the few pending hosts outermost. */
	static const char SQL_PACKAGES_FIND[] = "SELECT p.host_id, h.hostname, p.name, "
				  "p.arch, p.version, p.source, "
				  "p.source_version FROM (SELECT host_id, arch "
				  "FROM package_hosts WHERE name = ?1 AND "
				  "(host_id > ?2 OR (host_id = ?2 AND arch > ?4)) "
				  "UNION ALL SELECT x.host_id, x.arch FROM "
				  "package_hosts_pending q CROSS JOIN packages x ON "
				  "x.host_id = q.host_id AND x.name = ?1 WHERE "
				  "(x.host_id > ?2 OR (x.host_id = ?2 AND "
				  "x.arch > ?4)) ORDER BY 1, 2 LIMIT ?3) k "
				  "JOIN packages p ON p.host_id = k.host_id AND "
				  "p.name = ?1 AND p.arch = k.arch JOIN hosts h "
				  "ON h.id = p.host_id ORDER BY p.host_id, "
				  "p.arch";
	json_t *items, *cursor;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, SQL_PACKAGES_FIND);
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, after_host);
	sqlite3_bind_int(s, 3, limit + 1);
	db_bind_text(s, 4, after_arch ? after_arch : "\xff");
	r = collect(c, s, limit, fix_package, "cursor", &items, &cursor);
	if (r == 0) {
		size_t i;
		json_t *it;

		json_array_foreach(items, i, it)
			json_object_del(it, "cursor");
	}
	if (r == 0) {
		cs = db_stmt(c, "SELECT (SELECT count(*) FROM "
					   "package_hosts WHERE name = ?1) + "
					   "(SELECT count(*) FROM "
					   "package_hosts_pending q CROSS "
					   "JOIN packages x ON x.host_id = "
					   "q.host_id AND x.name = ?1)");

		if (cs)
			db_bind_text(cs, 1, name);
		r = page(c, cs, items, cursor, ret);
	}
out:
	db_read_end(st, c);
	return r;
}

int store_summary(struct store *st, int64_t now, json_t **ret)
{
	struct db_conn *c;
	sqlite3_stmt *s;
	json_t *out, *sev, *status, *days;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT count(*), coalesce(sum(abandoned), 0), "
		    "coalesce(sum(mail_running), 0), "
		    "coalesce(sum(mail_exposed), 0), "
		    "coalesce(sum(status = 'active'), 0), "
		    "coalesce(sum(status = 'silent'), 0), "
		    "coalesce(sum(status = 'retired'), 0), "
		    "coalesce(sum(abandoned AND mail_running), 0) FROM hosts");
	r = db_step(c, s);
	if (r != DB_ROW) {
		db_reset(s);
		r = r < 0 ? r : -EPROTO;
		goto out;
	}
	out = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "hosts",
			(json_int_t)sqlite3_column_int64(s, 0), "abandoned",
			(json_int_t)sqlite3_column_int64(s, 1), "mail",
			(json_int_t)sqlite3_column_int64(s, 2), "exposed",
			(json_int_t)sqlite3_column_int64(s, 3), "silent",
			(json_int_t)sqlite3_column_int64(s, 5), "retired",
			(json_int_t)sqlite3_column_int64(s, 6),
			"abandoned_mail",
			(json_int_t)sqlite3_column_int64(s, 7));
	status = json_pack("{s:I,s:I,s:I}", "active",
			   (json_int_t)sqlite3_column_int64(s, 4), "silent",
			   (json_int_t)sqlite3_column_int64(s, 5), "retired",
			   (json_int_t)sqlite3_column_int64(s, 6));
	db_reset(s);
	json_object_set_new(out, "status", status);

	sev = json_pack("{s:i,s:i,s:i,s:i}", "critical", 0, "high", 0,
			"medium", 0, "low", 0);
	s = db_stmt(c, "SELECT " SEVERITY_NAME("severity") ", count(*) FROM "
		    "findings WHERE status = 'open' GROUP BY severity");
	while ((r = db_step(c, s)) == DB_ROW)
		if (sqlite3_column_type(s, 0) != SQLITE_NULL)
			json_object_set_new(sev, db_col_text(s, 0),
					    json_integer(sqlite3_column_int64(s, 1)));
	db_reset(s);
	json_object_set_new(out, "findings", sev);
	if (r < 0)
		goto fail;

	/* Open findings at the end of each of the last 30 days. */
	days = json_array();
	s = db_stmt(c, "WITH RECURSIVE d(day) AS (SELECT ?1 UNION ALL SELECT "
		    "day + 86400 FROM d WHERE day < ?2) SELECT d.day, "
		    "coalesce(sum(f.severity = 4), 0), "
		    "coalesce(sum(f.severity = 3), 0), "
		    "coalesce(sum(f.severity = 2), 0), "
		    "coalesce(sum(f.severity = 1), 0), count(f.id) "
		    "FROM d LEFT JOIN findings f ON f.first_seen < d.day + "
		    "86400 AND (f.resolved_at IS NULL OR f.resolved_at >= "
		    "d.day + 86400) GROUP BY d.day ORDER BY d.day");
	if (s) {
		int64_t today = now - now % 86400;

		sqlite3_bind_int64(s, 1, today - 29 * 86400);
		sqlite3_bind_int64(s, 2, today);
	}
	{
		while ((r = db_step(c, s)) == DB_ROW) {
			char date[TIME_DATE_LEN];

			date_format(sqlite3_column_int64(s, 0), date);
			json_array_append_new(
				days,
				json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "date",
					  date, "critical",
					  (json_int_t)sqlite3_column_int64(s, 1),
					  "high",
					  (json_int_t)sqlite3_column_int64(s, 2),
					  "medium",
					  (json_int_t)sqlite3_column_int64(s, 3),
					  "low",
					  (json_int_t)sqlite3_column_int64(s, 4),
					  "open",
					  (json_int_t)sqlite3_column_int64(s, 5)));
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
	sqlite3_stmt *s;
	json_t *o;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT status, count(*) FROM hosts GROUP BY status");
	o = json_object();
	while ((r = db_step(c, s)) == DB_ROW)
		json_object_set_new(o, db_col_text(s, 0),
				    json_integer(sqlite3_column_int64(s, 1)));
	db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}
