/*
 * store_hosts.c - the hosts (api_hosts.c): the list and its search, one
 * host, its sections and history, the operators' writes.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "jsonutil.h"
#include "timeutil.h"

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
	return store_severity_name(row, "severity", NULL);
}

/* The flag filters only touch columns of the hosts_filters index, so a
 * count without a search scans that index, not the table.  An unset
 * filter's test comes first, so a row's column is not read for it (a
 * count of every host took 2.5 times as long with the column first), and
 * is a CAST, which gives PostgreSQL the parameter's type (a bare IS NULL
 * leaves it none). */
#define HOST_FLAGS                                                           \
	"(CAST(?1 AS BIGINT) IS NULL OR h.abandoned = ?1) "                  \
	"AND (CAST(?2 AS BIGINT) IS NULL OR h.mail_running = ?2) "           \
	"AND (CAST(?3 AS TEXT) IS NULL OR h.status = ?3) "                   \
	"AND (CAST(?4 AS BIGINT) IS NULL OR h.project_id = ?4) "             \
	"AND (CAST(?5 AS BIGINT) IS NULL OR h.severity >= ?5) "
/* A search of three characters or more goes through the trigram index
 * (SQL_HOSTS_SEARCH below); a shorter one (which trigrams cannot match)
 * scans with LIKE, case-insensitive on both engines through lower().
 * Q and PAT are the numbers of q and of its LIKE pattern: a list's come
 * after its page (?6, ?7), a count's right after the flags, so no
 * statement leaves a parameter unused before its last one (PostgreSQL
 * cannot type those). */
#define HOST_SEARCH_SHORT(Q, PAT)                                            \
	"AND (lower(h.hostname) LIKE lower(" PAT ") ESCAPE '\\' OR "          \
	"h.agent_id = " Q " OR lower(h.addresses) LIKE lower(" PAT ") "      \
	"ESCAPE '\\') "
/* ENGINE: PostgreSQL's search, over pg_trgm's GIN indexes of the three
 * columns (sql/pg/001_init.sql), which serve ILIKE. */
#define HOST_SEARCH_PG(Q, PAT)                                               \
	"AND (h.hostname ILIKE " PAT " ESCAPE '\\' OR h.agent_id = " Q " "    \
	"OR h.agent_id ILIKE " PAT " ESCAPE '\\' OR h.addresses ILIKE "       \
	PAT " ESCAPE '\\') "
#define HOST_SELECT                                                          \
	"SELECT h.id, h.agent_id, h.hostname, p.name AS project, h.status, " \
	"h.last_seen, h.first_seen, h.abandoned, h.mail_running, "           \
	"h.mail_exposed, h.severity, "                                        \
	"h.os_pretty AS os "
#define HOST_COLUMNS                                                         \
	HOST_SELECT "FROM hosts h LEFT JOIN projects p ON p.id = "           \
	"h.project_id WHERE " HOST_FLAGS
#define HOST_PAGE "AND h.id > ?6 ORDER BY h.id LIMIT ?7"
/* The parameters' numbers after the flags (?1 to ?5). */
enum { HOST_LIST_Q = 8, HOST_COUNT_Q = 6 };

static const char SQL_HOSTS[] = HOST_COLUMNS HOST_PAGE;
/* ENGINE: host_search is SQLite's FTS5 with the trigram tokenizer
 * (sql/001_init.sql), MATCH its query (bound one after the pattern) and
 * rowid its key; PostgreSQL has its own trigram index (pg_trgm) and the
 * _PG queries.  A page of a search walks the trigram index's matches in
 * rowid order and stops after the page, instead of collecting every match
 * first. */
static const char SQL_HOSTS_SEARCH[] =
	HOST_SELECT "FROM host_search CROSS JOIN hosts h ON h.id = "
	"host_search.rowid LEFT JOIN projects p ON p.id = h.project_id "
	"WHERE host_search MATCH ?10 AND host_search.rowid > ?6 AND "
	HOST_FLAGS "ORDER BY host_search.rowid LIMIT ?7";
static const char SQL_HOSTS_SEARCH_PG[] =
	HOST_COLUMNS HOST_SEARCH_PG("?8", "?9") HOST_PAGE;
static const char SQL_HOSTS_SEARCH_SHORT[] =
	HOST_COLUMNS HOST_SEARCH_SHORT("?8", "?9") HOST_PAGE;
static const char SQL_HOSTS_COUNT[] =
	"SELECT count(*) FROM hosts h WHERE " HOST_FLAGS;
static const char SQL_HOSTS_COUNT_SEARCH[] =
	"SELECT count(*) FROM host_search CROSS JOIN hosts h ON h.id = "
	"host_search.rowid WHERE host_search MATCH ?8 AND " HOST_FLAGS;
static const char SQL_HOSTS_COUNT_SEARCH_PG[] =
	"SELECT count(*) FROM hosts h WHERE " HOST_FLAGS
	HOST_SEARCH_PG("?6", "?7");
static const char SQL_HOSTS_COUNT_SEARCH_SHORT[] =
	"SELECT count(*) FROM hosts h WHERE " HOST_FLAGS
	HOST_SEARCH_SHORT("?6", "?7");

/* Binds the filter; -E2BIG when a search pattern would not fit (the
 * caller checked q's length), so a cut pattern is never searched. */
static int bind_host_filter(struct db_stmt *s, const struct host_filter *f,
			    int64_t project_id, int qi)
{
	/* Escaping at most doubles q; quotes and wildcards add four. */
	struct buf pat = BUF_INIT(2 * STORE_SEARCH_MAX + 8);
	int r = 0;

	if (f->abandoned >= 0)
		db_bind_int(s, 1, f->abandoned);
	if (f->mail >= 0)
		db_bind_int(s, 2, f->mail);
	db_bind_text(s, 3, f->status);
	if (f->project)
		db_bind_int(s, 4, project_id);
	if (f->min_severity > 0)
		db_bind_int(s, 5, f->min_severity);
	if (!f->q)
		return 0;
	db_bind_text(s, qi, f->q);
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
		db_bind_text(s, qi + 1, pat.data);
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
		db_bind_text(s, qi + 2, pat.data);
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
	struct db_stmt *s, *cs;
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
	else if (long_search(f) && db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, SQL_HOSTS_SEARCH_PG);
	else if (long_search(f))
		s = db_stmt(c, SQL_HOSTS_SEARCH);
	else
		s = db_stmt(c, SQL_HOSTS_SEARCH_SHORT);
	if (!s) {
		r = -EIO;
		goto out;
	}
	r = bind_host_filter(s, f, project_id, HOST_LIST_Q);
	db_bind_int(s, 6, f->after_id);
	db_bind_int(s, 7, f->limit + 1);
	if (r == 0)
		r = store_page_collect(c, s, f->limit, fix_host, "id", &items, &cursor);
	if (r < 0)
		goto out;
	if (!f->q)
		cs = db_stmt(c, SQL_HOSTS_COUNT);
	else if (long_search(f) && db_dialect(c) == DB_POSTGRESQL)
		cs = db_stmt(c, SQL_HOSTS_COUNT_SEARCH_PG);
	else if (long_search(f))
		cs = db_stmt(c, SQL_HOSTS_COUNT_SEARCH);
	else
		cs = db_stmt(c, SQL_HOSTS_COUNT_SEARCH_SHORT);
	if (cs)
		(void)bind_host_filter(cs, f, project_id, HOST_COUNT_Q);
	r = store_page_make(c, cs, items, cursor, ret);
out:
	db_read_end(st, c);
	return r;
}

/* [{"section", "error", "since"}]: the sections the agent could not read
 * at its last reports, shown as last read. */
static int host_collector_errors(struct db_conn *c, int64_t id, json_t **ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT section, error, since FROM "
				     "collector_errors WHERE host_id = ? "
				     "ORDER BY since, section");
	json_t *items = json_array(), *o;
	int r;

	if (!items)
		return -ENOMEM;
	if (s)
		db_bind_int(s, 1, id);
	while ((r = db_step(c, s)) == DB_ROW) {
		o = json_object();
		if (!o || json_array_append_new(items, o) < 0 ||
		    json_set_str(o, "section", db_col_text(s, 0)) < 0 ||
		    json_set_str(o, "error", db_col_text(s, 1)) < 0 ||
		    json_set_time(o, "since", db_col_int(s, 2)) < 0) {
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
	struct db_stmt *s;
	json_t *h, *v = NULL;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(
		c, "SELECT h.id, h.agent_id, h.hostname, h.fqdn, "
		   "h.machine_id, h.os_id, h.os_version_id, h.os_codename, "
		   "h.os_pretty, h.kernel, h.arch, h.boot_time, h.addresses "
		   "AS addresses_json, h.agent_version, h.tag_project, "
		   "h.tag_owner, p.name AS project, p.ends_on AS "
		   "project_ends_on, p.owner AS project_owner, p.contact AS "
		   "project_contact, h.project_pinned, h.retired_at, h.note, "
		   "h.first_seen, h.last_seen, h.collected_at, "
		   "h.last_login_at, h.last_login_user, h.last_login_from, "
		   "h.packages_changed_at, h.status, h.abandoned, "
		   "h.mail_running, h.mail_exposed, h.severity, "
		   "coalesce(x.signals, '[]') AS signals_json, "
		   "coalesce(x.mail, '{}') AS mailinfo_json, "
		   "coalesce(x.vulns, '{}') AS vulnerabilities_json FROM "
		   "hosts h LEFT JOIN projects p ON p.id = h.project_id LEFT "
		   "JOIN host_state x ON x.host_id = h.id WHERE h.id = ?");
	if (s)
		db_bind_int(s, 1, id);
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
	r = store_findings_of_host(c, id, &v);
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
	char cur[CURSOR_MAX];

	if (!items)
		return -ENOMEM;
	for (size_t i = (size_t)offset; i < total && i < (size_t)offset +
	     (size_t)limit; i++)
		json_array_append(items, json_array_get(all, i));
	json_object_set_new(body, "items", items);
	json_object_set_new(body, "total", json_integer((json_int_t)total));
	if ((size_t)offset + (size_t)limit < total) {
		cursor_format_id(offset + limit, cur);
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
	struct db_stmt *s;
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
		db_bind_int(s, 2, id);
	}
	r = db_step(c, s);
	if (r == DB_DONE) {
		r = -ENOENT;
	} else if (r == DB_ROW) {
		r = 0;
		body = db_col_null(s, 1)
			       ? json_pack("{s:[]}", "items")
			       : db_body_column(s, 1);
		if (body && !db_col_null(s, 1)) {
			json_object_set_new(body, "hash",
					    json_string(db_col_text(s, 2)));
			json_set_time(body, "updated_at",
				      db_col_int(s, 3));
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
	struct db_stmt *s;
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
	db_bind_int(s, 1, id);
	db_bind_int(s, 2, before_id);
	db_bind_int(s, 3, limit + 1);
	r = store_page_collect(c, s, limit, NULL, "id", &items, &cursor);
	if (r == 0) {
		s = db_stmt(
			c, "SELECT count(*) FROM changes WHERE host_id = ?");
		if (s)
			db_bind_int(s, 1, id);
		r = store_page_make(c, s, items, cursor, &out);
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
	struct db_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = db_row_exists(c, db_stmt(
		c, "SELECT count(*) FROM hosts WHERE id = ?"), id);
	if (r < 0)
		goto out;
	v = json_object_get(patch, "project");
	if (v) {
		int64_t pid = 0;

		if (json_is_string(v)) {
			s = db_stmt(
				c, "SELECT id FROM projects WHERE name = ?");
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
				db_bind_int(s, 1, pid);
			db_bind_int(s, 2, id);
		}
		if ((r = db_run(c, s)) < 0)
			goto out;
	}
	v = json_object_get(patch, "retired");
	if (v) {
		if ((r = db_run_with(
			c, "UPDATE hosts SET retired_at = CASE WHEN ?1 <> 0 "
			   "THEN coalesce(retired_at, ?2) ELSE NULL END "
			   "WHERE id = ?3",
			   DB_INT(json_is_true(v)), DB_INT(now),
			   DB_INT(id))) < 0)
			goto out;
	}
	v = json_object_get(patch, "note");
	if (v) {
		if ((r = db_run_with(
			c, "UPDATE hosts SET note = ? WHERE id = ?",
			   DB_TEXT(json_string_value(v)), DB_INT(id))) < 0)
			goto out;
	}
	r = store_evaluate_host(st, c, id, now);
out:
	return db_write_end(st, c, r);
}

int store_host_delete(struct store *st, int64_t id)
{
	struct db_conn *c;
	int r;

	/* One transaction: the host's rows go with it, or none does. */
	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = db_run_with(c, "DELETE FROM hosts WHERE id = ?", DB_INT(id));
	if (r == 0 && db_changes(c) == 0)
		r = -ENOENT;
	return db_write_end(st, c, r);
}
