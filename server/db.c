/*
 * db.c - see db.h: the database layer's engine-neutral part.  The engines
 * are db_sqlite.c and db_pg.c behind struct db_ops (db_int.h); db_open()
 * (db_engine.c) picks one from the "database" value, and every connection
 * and statement carries its engine's table from then on: this file calls
 * them only through it.
 */
#include "db_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "jsonutil.h"
#include "timeutil.h"

static __thread char last_error[256];

const char *db_errmsg(void)
{
	return last_error[0] ? last_error : "no database error";
}

void db_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

/* --- health ---------------------------------------------------------------- */

/* Notes a failure of a write (or of a read of the file) against the
 * store's health; the first failure of a run gives the "since". */
static void health_fail(struct store *st, struct store_health *h, int r,
			const char *what)
{
	pthread_mutex_lock(&st->health_lock);
	if (!h->error)
		h->since = time_now();
	h->error = r;
	h->what = what;
	snprintf(h->message, sizeof(h->message), "%.150s", last_error);
	pthread_mutex_unlock(&st->health_lock);
}

static void health_ok(struct store *st, struct store_health *h)
{
	/* Every commit passes here: the lock only when there is news. */
	if (!__atomic_load_n(&h->error, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&st->health_lock);
	h->error = 0;
	pthread_mutex_unlock(&st->health_lock);
}

int db_health_fail(struct db_conn *c, int r)
{
	if (c && c->st)
		health_fail(c->st,
			    c == &c->st->checkpointer ? &c->st->checkpoint_health
						      : &c->st->commit_health,
			    r,
			    c == &c->st->checkpointer ? "checkpoint" : "commit");
	return r;
}

void db_health_ok(struct store *st, bool checkpoint)
{
	health_ok(st, checkpoint ? &st->checkpoint_health : &st->commit_health);
}

void db_health(struct store *st, struct store_health *ret)
{
	pthread_mutex_lock(&st->health_lock);
	*ret = st->commit_health.error ? st->commit_health
				       : st->checkpoint_health;
	pthread_mutex_unlock(&st->health_lock);
}

int db_err(struct db_conn *c, int rc)
{
	return c->ops->err(c, rc);
}

/* --- statements -------------------------------------------------------------- */

int db_exec(struct db_conn *c, const char *sql)
{
	return c->ops->exec(c, sql);
}

void db_cache_drop(struct db_conn *c)
{
	for (int i = 0; i < DB_STMT_CACHE && c->cache[i].sql; i++) {
		c->ops->finalize(c->cache[i].stmt);
		c->cache[i].sql = NULL;
		c->cache[i].stmt = NULL;
	}
}

struct db_stmt *db_stmt(struct db_conn *c, const char *sql)
{
	int i;

	for (i = 0; i < DB_STMT_CACHE && c->cache[i].sql; i++) {
		if (c->cache[i].sql == sql) {
			c->ops->reset(c->cache[i].stmt);
			c->ops->clear(c->cache[i].stmt);
			return c->cache[i].stmt;
		}
	}
	if (i == DB_STMT_CACHE) {
		/* Full: drop the last entry; the hot statements come first. */
		i = DB_STMT_CACHE - 1;
		c->ops->finalize(c->cache[i].stmt);
		c->cache[i].sql = NULL;
	}
	c->cache[i].stmt = c->ops->prepare(c, sql);
	if (c->cache[i].stmt)
		c->cache[i].sql = sql;
	return c->cache[i].stmt;
}

int db_step(struct db_conn *c, struct db_stmt *s)
{
	if (!s)
		return -EIO;
	return c->ops->step(c, s);
}

void db_reset(struct db_stmt *s)
{
	if (s)
		s->ops->reset(s);
}

int db_run(struct db_conn *c, struct db_stmt *s)
{
	int r = db_step(c, s);

	db_reset(s);
	return r < 0 ? r : 0;
}

int db_run_returning(struct db_conn *c, struct db_stmt *s, int64_t *ret_id)
{
	int r;

	while ((r = db_step(c, s)) == DB_ROW)
		if (ret_id)
			*ret_id = db_col_int(s, 0);
	db_reset(s);
	return r;
}

int db_insert(struct db_conn *c, struct db_stmt *s, int64_t *ret_id)
{
	int r;

	*ret_id = 0;
	r = db_run_returning(c, s, ret_id);
	if (r == 0 && !*ret_id && c->ops->last_id && db_changes(c) == 1)
		*ret_id = c->ops->last_id(c);
	return r;
}

int db_scalar(struct db_conn *c, struct db_stmt *s, int64_t *ret)
{
	int r = db_step(c, s);

	if (r == DB_ROW)
		*ret = db_col_int(s, 0);
	db_reset(s);
	if (r == DB_ROW)
		return 0;
	return r == DB_DONE ? -ENOENT : r;
}

int db_count(struct db_conn *c, struct db_stmt *s, int64_t *ret)
{
	int r = db_scalar(c, s, ret);

	if (r == -ENOENT) {
		snprintf(last_error, sizeof(last_error), "a count without a row");
		r = -EPROTO;
	}
	return r;
}

int db_row_exists(struct db_conn *c, struct db_stmt *s, int64_t id)
{
	int64_t n = 0;
	int r;

	if (s)
		db_bind_int(s, 1, id);
	r = db_count(c, s, &n);
	return r < 0 ? r : n == 1 ? 0 : -ENOENT;
}

int db_run_args(struct db_conn *c, const char *sql, const struct db_arg *args,
		size_t n)
{
	struct db_stmt *s = db_stmt(c, sql);

	if (!s)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		int at = (int)i + 1;

		switch (args[i].type) {
		case DB_ARG_INT:
			db_bind_int(s, at, args[i].i);
			break;
		case DB_ARG_TEXT:
			db_bind_text(s, at, args[i].t);
			break;
		case DB_ARG_NULL:
			db_bind_null(s, at);
			break;
		}
	}
	return db_run(c, s);
}

int64_t db_changes(struct db_conn *c)
{
	return c->ops->changes(c);
}

/* --- values ------------------------------------------------------------------ */

void db_bind_int(struct db_stmt *s, int i, int64_t v)
{
	s->ops->bind_int(s, i, v);
}

void db_bind_null(struct db_stmt *s, int i)
{
	s->ops->bind_null(s, i);
}

void db_bind_text_take(struct db_stmt *s, int i, char *v, const char *if_null)
{
	s->ops->bind_text_take(s, i, v, if_null);
}

void db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	s->ops->bind_blob(s, i, p, n);
}

void db_bind_text(struct db_stmt *s, int i, const char *v)
{
	s->ops->bind_text(s, i, v);
}

int db_bind_json(struct db_stmt *s, int i, const json_t *v)
{
	char *text;

	if (!v) {
		s->ops->bind_null(s, i);
		return 0;
	}
	text = json_canonical(v);
	if (!text)
		return -ENOMEM;
	s->ops->bind_text_take(s, i, text, NULL);
	return 0;
}

int64_t db_col_int(struct db_stmt *s, int i)
{
	return s->ops->col_int(s, i);
}

const char *db_col_text(struct db_stmt *s, int i)
{
	return s->ops->col_text(s, i);
}

const void *db_col_blob(struct db_stmt *s, int i, size_t *ret_len)
{
	return s->ops->col_blob(s, i, ret_len);
}

bool db_col_null(struct db_stmt *s, int i)
{
	return s->ops->col_type(s, i) == DB_T_NULL;
}

#define BODY_MAX ((size_t)256 << 20)

int db_body_pack(const char *text, size_t len, unsigned char **ret,
		 size_t *ret_len)
{
	uLongf out_len = compressBound((uLong)len);
	unsigned char *out;

	if (len > BODY_MAX)
		return -E2BIG;
	out = malloc(4 + out_len);
	if (!out)
		return -ENOMEM;
	out[0] = (unsigned char)len;
	out[1] = (unsigned char)(len >> 8);
	out[2] = (unsigned char)(len >> 16);
	out[3] = (unsigned char)(len >> 24);
	/* The fastest level: most of the gain, little of the cost. */
	if (compress2(out + 4, &out_len, (const Bytef *)text, (uLong)len,
		      Z_BEST_SPEED) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = 4 + out_len;
	return 0;
}

json_t *db_body_column(struct db_stmt *s, int col)
{
	const unsigned char *in;
	unsigned char *text;
	size_t n;
	uLongf len;
	json_t *j;

	if (s->ops->col_type(s, col) != DB_T_BLOB)
		return json_loads(db_col_text(s, col), 0, NULL);
	in = db_col_blob(s, col, &n);
	if (!in)
		return NULL;
	if (n < 4)
		return json_loadb((const char *)in, n, 0, NULL);
	len = (uLongf)in[0] | (uLongf)in[1] << 8 | (uLongf)in[2] << 16 |
	      (uLongf)in[3] << 24;
	/* Not packed: a plain text an older derelictd kept in SQLite's TEXT
	 * column, which migrate-to copied into PostgreSQL's bytea. */
	if (len > BODY_MAX)
		return json_loadb((const char *)in, n, 0, NULL);
	text = malloc(len + 1);
	if (!text)
		return NULL;
	if (uncompress(text, &len, in + 4, (uLong)(n - 4)) != Z_OK) {
		free(text);
		return json_loadb((const char *)in, n, 0, NULL);
	}
	j = json_loadb((const char *)text, len, 0, NULL);
	free(text);
	return j;
}

static int is_time_column(const char *name)
{
	size_t n = strlen(name);

	return (n > 3 && strcmp(name + n - 3, "_at") == 0) ||
	       strcmp(name, "first_seen") == 0 ||
	       strcmp(name, "last_seen") == 0 || strcmp(name, "at") == 0 ||
	       strcmp(name, "boot_time") == 0;
}

json_t *db_row_json(struct db_stmt *s)
{
	const struct db_ops *ops = s->ops;
	json_t *o = json_object();
	int n = ops->col_count(s);

	for (int i = 0; o && i < n; i++) {
		const char *name = ops->col_name(s, i);
		size_t len = strlen(name);
		json_t *v;

		switch (ops->col_type(s, i)) {
		case DB_T_NULL:
			v = json_null();
			break;
		case DB_T_INT: {
			int64_t x = ops->col_int(s, i);

			if (is_time_column(name)) {
				json_set_time(o, name, x);
				continue;
			}
			v = json_integer(x);
			break;
		}
		case DB_T_FLOAT:
			v = json_real(ops->col_double(s, i));
			break;
		default:
			if (len > 5 && strcmp(name + len - 5, "_json") == 0) {
				char key[64];

				snprintf(key, sizeof(key), "%.*s",
					 (int)(len - 5), name);
				v = json_loads(db_col_text(s, i), 0, NULL);
				json_object_set_new(o, key, v ? v : json_null());
				continue;
			}
			v = json_string(db_col_text(s, i));
			break;
		}
		json_object_set_new(o, name, v ? v : json_null());
	}
	return o;
}

/* --- the reader pool ----------------------------------------------------------- */

struct db_conn *db_reader_get(struct store *st)
{
	struct db_conn *c = NULL;

	pthread_mutex_lock(&st->lock);
	while (!c) {
		for (int i = 0; i < DB_READERS; i++) {
			if (!st->readers[i].busy) {
				c = &st->readers[i];
				c->busy = 1;
				break;
			}
		}
		if (!c)
			pthread_cond_wait(&st->freed, &st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return c;
}

void db_reader_put(struct store *st, struct db_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&st->lock);
	c->busy = 0;
	pthread_cond_signal(&st->freed);
	pthread_mutex_unlock(&st->lock);
}

/* --- transactions ------------------------------------------------------------ */

int db_read_begin(struct store *st, struct db_conn **ret)
{
	struct db_conn *c = db_reader_get(st);
	int r = c->ops->begin(c, DB_TX_READ);

	if (r < 0) {
		db_reader_put(st, c);
		return r;
	}
	*ret = c;
	return 0;
}

void db_read_end(struct store *st, struct db_conn *c)
{
	/* A read commits nothing: ending its snapshot cannot lose data. */
	if (c->ops->in_tx(c))
		(void)c->ops->commit(c);
	db_reader_put(st, c);
}

int db_write_begin(struct store *st, struct db_conn **ret)
{
	struct db_conn *c = db_reader_get(st);
	int r = c->ops->begin(c, DB_TX_WRITE);

	if (r < 0) {
		db_reader_put(st, c);
		return r;
	}
	/* Before and after: no fast-path answer sees what the write may be
	 * changing as unchanged (fastpath.h). */
	atomic_fetch_add(&st->epoch, 1);
	*ret = c;
	return 0;
}

int db_write_end(struct store *st, struct db_conn *c, int r)
{
	atomic_fetch_add(&st->epoch, 1);
	if (r == 0)
		r = c->ops->commit(c);
	/* The rollback keeps the failure's message for store_errmsg(). */
	if (r < 0)
		c->ops->rollback(c);
	db_reader_put(st, c);
	return r;
}

struct db_conn *db_writer(struct store *st)
{
	return &st->writer;
}

int db_writer_begin(struct store *st)
{
	return st->writer.ops->begin(&st->writer, DB_TX_WRITE);
}

int db_writer_commit(struct store *st)
{
	return st->writer.ops->commit(&st->writer);
}

void db_writer_rollback(struct store *st)
{
	st->writer.ops->rollback(&st->writer);
}

/* --- opening, the rest ----------------------------------------------------------- */

void db_close(struct store *st)
{
	if (st->writer.ops)
		st->writer.ops->close(st);
}

int db_check_writable(struct store *st, char err[256])
{
	return st->writer.ops->check_writable(st, err);
}

int db_checkpoint(struct store *st)
{
	return st->writer.ops->checkpoint(st);
}

int db_leader(struct store *st)
{
	return st->writer.ops->leader(st);
}

int db_backup(struct store *st, const char *dest)
{
	return st->writer.ops->backup(st, dest);
}
