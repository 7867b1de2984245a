/* store_projects.c - the projects (api_projects.c). */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "timeutil.h"

#define PROJECT_COLUMNS                                                      \
	"SELECT p.name, p.owner, p.contact, p.ends_on, p.description, "      \
	"p.created_at, (SELECT count(*) FROM hosts h WHERE h.project_id = "  \
	"p.id) AS hosts FROM projects p "

int store_projects_list(struct store *st, int limit, const char *after,
			json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items, *cursor;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, PROJECT_COLUMNS "WHERE p.name > ?1 "
				       "ORDER BY p.name LIMIT ?2");
	if (s) {
		db_bind_text(s, 1, after ? after : "");
		db_bind_int(s, 2, limit + 1);
	}
	r = s ? store_page_collect(c, s, limit, NULL, "name", &items, &cursor) : -EIO;
	if (r == 0)
		r = store_page_make(c, db_stmt(c, "SELECT count(*) FROM projects"),
				    items, cursor, ret);
	db_read_end(st, c);
	return r;
}

int store_project_get(struct store *st, const char *name, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
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
	struct db_stmt *s = db_stmt(
		c, "UPDATE hosts SET next_eval_at = 0 WHERE project_id = "
		   "(SELECT id FROM projects WHERE name = ?)");

	if (s)
		db_bind_text(s, 1, name);
	return db_run(c, s);
}

int store_project_create(struct store *st, const json_t *p, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
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
		db_bind_int(s, 6, now);
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
	struct db_stmt *s;
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
	struct db_stmt *s;
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
