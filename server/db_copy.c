/*
 * db_copy.c - see db.h: the copy of a whole database into another, for
 * derelictd migrate-to.  Engine-neutral: which tables there are, their
 * columns, their foreign keys and the bulk load are each engine's own
 * (the copy ops of db_int.h); this file puts them in order, checks that
 * both sides have the same tables and columns, and that every row arrived.
 */
#include "db_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Names are put into SQL text between double quotes: only the plain ones
 * a schema of ours has, so no quoting can go wrong. */
static bool plain_name(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static bool has_name(const json_t *names, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/* The one integer of sql's one row on c: 0 with *ret or the error. */
static int scalar(struct db_conn *c, const char *sql, int64_t *ret)
{
	struct db_stmt *s = c->ops->prepare(c, sql);
	int r;

	if (!s)
		return -EIO;
	r = c->ops->step(c, s);
	if (r == DB_ROW)
		*ret = c->ops->col_int(s, 0);
	c->ops->finalize(s);
	if (r == DB_ROW)
		return 0;
	if (r == DB_DONE) {
		db_error_set("%s answered no row", sql);
		return -EPROTO;
	}
	return r;
}

static int count_rows(struct db_conn *c, const char *table, int64_t *ret)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	return scalar(c, sql, ret);
}

/* Both sides' tables, the same set of plain names: the source's in *ret. */
static int same_tables(struct db_conn *src, struct db_conn *dst,
		       json_t **ret, char err[256])
{
	json_t *a = NULL, *b = NULL, *v;
	size_t i;
	int r;

	if ((r = src->ops->tables(src, &a)) < 0 ||
	    (r = dst->ops->tables(dst, &b)) < 0) {
		snprintf(err, 256, "cannot list the tables: %.200s",
			 db_errmsg());
		goto out;
	}
	r = -EPROTO;
	json_array_foreach(a, i, v) {
		if (!plain_name(json_string_value(v))) {
			snprintf(err, 256, "the source has a table named "
					   "\"%.60s\", which is not a name of "
					   "ours", json_string_value(v));
			goto out;
		}
		if (!has_name(b, json_string_value(v))) {
			snprintf(err, 256, "table %.60s of the source (%s) "
					   "is not in the destination (%s)",
				 json_string_value(v), src->ops->name,
				 dst->ops->name);
			goto out;
		}
	}
	json_array_foreach(b, i, v) {
		if (!has_name(a, json_string_value(v))) {
			snprintf(err, 256, "table %.60s of the destination "
					   "(%s) is not in the source (%s)",
				 json_string_value(v), dst->ops->name,
				 src->ops->name);
			goto out;
		}
	}
	*ret = a;
	a = NULL;
	r = 0;
out:
	json_decref(a);
	json_decref(b);
	return r;
}

/* tables in an order where every table comes after those its foreign
 * keys name (the source's), as a new array in *ret; -ELOOP on a cycle. */
static int parents_first(struct db_conn *src, const json_t *tables,
			 json_t **ret, char err[256])
{
	size_t n = json_array_size(tables), done = 0, i;
	json_t **parents = calloc(n ? n : 1, sizeof(*parents));
	bool *placed = calloc(n ? n : 1, sizeof(*placed));
	json_t *out = json_array();
	int r = 0;

	if (!parents || !placed || !out) {
		r = -ENOMEM;
		snprintf(err, 256, "out of memory");
		goto out;
	}
	for (i = 0; i < n && r == 0; i++) {
		r = src->ops->parents(
			src, json_string_value(json_array_get(tables, i)),
			&parents[i]);
		if (r < 0)
			snprintf(err, 256, "cannot read the foreign keys: "
					   "%.200s", db_errmsg());
	}
	/* Rounds of "every table whose parents are placed": a few tables,
	 * a few rounds; a round that places none is a cycle. */
	while (r == 0 && done < n) {
		size_t before = done;

		for (i = 0; i < n; i++) {
			size_t k;
			json_t *p;
			bool ready = !placed[i];

			json_array_foreach(parents[i], k, p) {
				const char *name = json_string_value(p);

				if (!ready)
					break;
				/* Itself, or a table not copied: no order. */
				if (strcmp(name, json_string_value(
					   json_array_get(tables, i))) == 0 ||
				    !has_name(tables, name))
					continue;
				ready = has_name(out, name);
			}
			if (!ready)
				continue;
			placed[i] = true;
			done++;
			if (json_array_append(out, json_array_get(tables, i)) <
			    0) {
				r = -ENOMEM;
				snprintf(err, 256, "out of memory");
				break;
			}
		}
		if (r == 0 && done == before) {
			r = -ELOOP;
			snprintf(err, 256, "the source's foreign keys make a "
					   "cycle: no table can come first");
		}
	}
	if (r == 0) {
		*ret = out;
		out = NULL;
	}
out:
	for (i = 0; parents && i < n; i++)
		json_decref(parents[i]);
	free(parents);
	free(placed);
	json_decref(out);
	return r;
}

/* The destination's columns of table, each also the source's (and the
 * other way round), into *ret. */
static int same_columns(struct db_conn *src, struct db_conn *dst,
			const char *table, json_t **ret, char err[256])
{
	json_t *a = NULL, *b = NULL, *v;
	size_t i;
	int r;

	if ((r = src->ops->columns(src, table, &a)) < 0 ||
	    (r = dst->ops->columns(dst, table, &b)) < 0) {
		snprintf(err, 256, "cannot read the columns of %s: %.180s",
			 table, db_errmsg());
		goto out;
	}
	r = -EPROTO;
	json_array_foreach(b, i, v) {
		if (!plain_name(json_string_value(v)) ||
		    !has_name(a, json_string_value(v))) {
			snprintf(err, 256, "column %.60s.%.60s of the "
					   "destination is not in the source",
				 table, json_string_value(v));
			goto out;
		}
	}
	json_array_foreach(a, i, v) {
		if (!has_name(b, json_string_value(v))) {
			snprintf(err, 256, "column %.60s.%.60s of the source "
					   "is not in the destination",
				 table, json_string_value(v));
			goto out;
		}
	}
	*ret = b;
	b = NULL;
	r = 0;
out:
	json_decref(a);
	json_decref(b);
	return r;
}

/* "SELECT "a", "b" FROM "t"", a new string or NULL. */
static char *select_sql(const char *table, const json_t *columns)
{
	struct buf b = BUF_INIT(1 << 20);
	size_t i;
	json_t *v;
	int r = buf_puts(&b, "SELECT ");

	json_array_foreach(columns, i, v)
		if (r == 0)
			r = buf_printf(&b, "%s\"%s\"", i ? ", " : "",
				       json_string_value(v));
	if (r == 0)
		r = buf_printf(&b, " FROM \"%s\"", table);
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

/* One table from src into dst: *ret_rows rows written. */
static int copy_table(struct db_conn *src, struct db_conn *dst,
		      const char *table, int64_t *ret_rows, char err[256])
{
	json_t *columns = NULL;
	struct db_load *l = NULL;
	struct db_stmt *s = NULL;
	char *sql = NULL;
	int r;

	r = same_columns(src, dst, table, &columns, err);
	if (r < 0)
		return r;
	sql = select_sql(table, columns);
	if (!sql) {
		snprintf(err, 256, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	s = src->ops->prepare(src, sql);
	if (!s) {
		snprintf(err, 256, "cannot read %s: %.200s", table,
			 db_errmsg());
		r = -EIO;
		goto out;
	}
	r = dst->ops->load_begin(dst, table, columns, &l);
	if (r < 0) {
		snprintf(err, 256, "cannot load %s: %.200s", table,
			 db_errmsg());
		goto out;
	}
	while ((r = src->ops->step(src, s)) == DB_ROW) {
		r = dst->ops->load_row(l, s);
		if (r < 0) {
			snprintf(err, 256, "cannot load %s: %.200s", table,
				 db_errmsg());
			break;
		}
	}
	if (r < 0 && !err[0])
		snprintf(err, 256, "cannot read %s: %.200s", table,
			 db_errmsg());
	{
		int e = dst->ops->load_end(l, r == DB_DONE, ret_rows);

		if (r == DB_DONE && e < 0)
			snprintf(err, 256, "cannot load %s: %.200s", table,
				 db_errmsg());
		if (r == DB_DONE)
			r = e;
	}
out:
	if (s)
		src->ops->finalize(s);
	free(sql);
	json_decref(columns);
	return r;
}

static int refuse_data(struct db_conn *dst, const char *const *must_be_empty,
		       char err[256])
{
	for (const char *const *t = must_be_empty; t && *t; t++) {
		int64_t n = 0;
		int r = count_rows(dst, *t, &n);

		if (r < 0) {
			snprintf(err, 256, "cannot count the destination's "
					   "%s: %.180s", *t, db_errmsg());
			return r;
		}
		if (n > 0) {
			snprintf(err, 256, "the destination already holds "
					   "data (%lld rows in %s); it must "
					   "be an empty database",
				 (long long)n, *t);
			return -EEXIST;
		}
	}
	return 0;
}

/* Both sides' count of every table, equal to what was written. */
static int check_counts(struct db_conn *src, struct db_conn *dst,
			const json_t *done, char err[256])
{
	size_t i;
	json_t *t;

	json_array_foreach(done, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		int64_t rows = json_integer_value(json_object_get(t, "rows"));
		int64_t a = -1, b = -1;
		int r;

		if ((r = count_rows(src, name, &a)) < 0 ||
		    (r = count_rows(dst, name, &b)) < 0) {
			snprintf(err, 256, "cannot count %s: %.200s", name,
				 db_errmsg());
			return r;
		}
		if (a != rows || b != rows) {
			snprintf(err, 256, "%s: %lld rows in the source, %lld "
					   "copied, %lld in the destination",
				 name, (long long)a, (long long)rows,
				 (long long)b);
			return -EPROTO;
		}
	}
	return 0;
}

static int copy_all(struct db_conn *src, struct db_conn *dst,
		    const char *const *must_be_empty, json_t *done,
		    int64_t *ret_total, char err[256])
{
	json_t *tables = NULL, *order = NULL, *t;
	int64_t total = 0;
	size_t i;
	int r;

	if ((r = same_tables(src, dst, &tables, err)) < 0 ||
	    (r = refuse_data(dst, must_be_empty, err)) < 0 ||
	    (r = parents_first(src, tables, &order, err)) < 0)
		goto out;
	/* The rows the destination's migrations seeded go (children
	 * first): the source's replace them. */
	for (i = json_array_size(order); i-- > 0 && r == 0;) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"",
			 json_string_value(json_array_get(order, i)));
		r = dst->ops->exec(dst, sql);
		if (r < 0)
			snprintf(err, 256, "%.80s: %.160s", sql, db_errmsg());
	}
	json_array_foreach(order, i, t) {
		const char *name = json_string_value(t);
		int64_t rows = 0;

		if (r < 0)
			break;
		r = copy_table(src, dst, name, &rows, err);
		if (r == 0) {
			r = dst->ops->ids_after_load(dst, name);
			if (r < 0)
				snprintf(err, 256, "cannot move the ids of "
						   "%s on: %.180s",
					 name, db_errmsg());
		}
		if (r == 0 &&
		    json_array_append_new(done, json_pack("{s:s, s:I}", "name",
							  name, "rows",
							  (json_int_t)rows)) <
			    0) {
			snprintf(err, 256, "out of memory");
			r = -ENOMEM;
		}
		total += rows;
	}
	if (r == 0)
		r = check_counts(src, dst, done, err);
	if (r == 0)
		*ret_total = total;
out:
	json_decref(tables);
	json_decref(order);
	return r;
}

int db_copy(struct store *from, struct store *to,
	    const char *const *must_be_empty, json_t **ret, char err[256])
{
	struct db_conn *src = db_reader_get(from), *dst = &to->writer;
	json_t *done = json_array();
	int64_t total = 0;
	int r;

	err[0] = '\0';
	if (!done) {
		snprintf(err, 256, "out of memory");
		db_reader_put(from, src);
		return -ENOMEM;
	}
	/* One snapshot of the source for every table and count, one
	 * transaction on the destination. */
	r = src->ops->begin(src, DB_TX_READ);
	if (r < 0) {
		snprintf(err, 256, "cannot read the source: %.200s",
			 db_errmsg());
		goto out;
	}
	r = dst->ops->begin(dst, DB_TX_WRITE);
	if (r < 0) {
		snprintf(err, 256, "cannot write the destination: %.200s",
			 db_errmsg());
		goto out;
	}
	r = copy_all(src, dst, must_be_empty, done, &total, err);
	if (r == 0) {
		r = dst->ops->commit(dst);
		if (r < 0)
			snprintf(err, 256, "the commit failed: %.200s",
				 db_errmsg());
	}
	if (r == 0) {
		/* The planner's statistics of tables that grew from nothing:
		 * the autovacuum would get there, later. */
		(void)dst->ops->exec(dst, "ANALYZE");
		*ret = json_pack("{s:o, s:I}", "tables", done, "rows",
				 (json_int_t)total);
		done = NULL;
		if (!*ret) {
			snprintf(err, 256, "out of memory (after the commit)");
			r = -ENOMEM;
		}
	}
out:
	if (dst->ops->in_tx(dst))
		dst->ops->rollback(dst);
	if (src->ops->in_tx(src))
		(void)src->ops->commit(src);
	db_reader_put(from, src);
	json_decref(done);
	return r;
}
