/*
 * db.c - see db.h: the database layer, and everything the store does that
 * is SQLite's own.  A second engine replaces this file (and the SQL text
 * of the store_*.c files where it is marked "ENGINE:").
 */
#include "store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "embed.h"
#include "jsonutil.h"
#include "timeutil.h"

/* ENGINE: the layer's opaque statement is SQLite's. */
static inline sqlite3_stmt *q(struct db_stmt *s)
{
	return (sqlite3_stmt *)s;
}

extern const struct embedded_file embedded_sql[];

static __thread char last_error[256];

const char *db_errmsg(void)
{
	return last_error[0] ? last_error : "no database error";
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

int db_err(struct db_conn *c, int rc)
{
	int r;

	snprintf(last_error, sizeof(last_error), "%s",
		 c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		r = -ENOSPC;
		break;
	case SQLITE_READONLY:
		r = -EROFS;
		break;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL:
		r = -EIO;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		r = -EUCLEAN;
		break;
	default:
		return -EPROTO;
	}
	/* The file system or the file failed: the store cannot commit. */
	if (c && c->st)
		health_fail(c->st,
			    c == &c->st->checkpointer ? &c->st->checkpoint_health
						      : &c->st->commit_health,
			    r,
			    c == &c->st->checkpointer ? "checkpoint" : "commit");
	return r;
}

/* --- statements -------------------------------------------------------------- */

int db_exec(struct db_conn *c, const char *sql)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_err(c, rc);
}

struct db_stmt *db_stmt(struct db_conn *c, const char *sql)
{
	sqlite3_stmt *prepared;
	int i, rc;

	for (i = 0; i < DB_STMT_CACHE && c->cache[i].sql; i++) {
		if (c->cache[i].sql == sql) {
			sqlite3_reset(q(c->cache[i].stmt));
			sqlite3_clear_bindings(q(c->cache[i].stmt));
			return c->cache[i].stmt;
		}
	}
	if (i == DB_STMT_CACHE) {
		/* Full: drop the last entry; the hot statements come first. */
		i = DB_STMT_CACHE - 1;
		sqlite3_finalize(q(c->cache[i].stmt));
		c->cache[i].sql = NULL;
	}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&prepared, NULL);
	if (rc != SQLITE_OK) {
		db_err(c, rc);
		c->cache[i].stmt = NULL;
		return NULL;
	}
	c->cache[i].sql = sql;
	c->cache[i].stmt = (struct db_stmt *)prepared;
	return c->cache[i].stmt;
}

int db_step(struct db_conn *c, struct db_stmt *s)
{
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(q(s));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return db_err(c, rc);
}

void db_reset(struct db_stmt *s)
{
	if (s)
		sqlite3_reset(q(s));
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
			*ret_id = sqlite3_column_int64(q(s), 0);
	db_reset(s);
	return r;
}

int db_scalar(struct db_conn *c, struct db_stmt *s, int64_t *ret)
{
	int r = db_step(c, s);

	if (r == DB_ROW)
		*ret = sqlite3_column_int64(q(s), 0);
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
		sqlite3_bind_int64(q(s), 1, id);
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
	return sqlite3_changes64(c->db);
}

int64_t db_last_id(struct db_conn *c)
{
	return sqlite3_last_insert_rowid(c->db);
}

/* --- values ------------------------------------------------------------------ */

void db_bind_int(struct db_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(q(s), i, v);
}

void db_bind_null(struct db_stmt *s, int i)
{
	sqlite3_bind_null(q(s), i);
}

void db_bind_text_take(struct db_stmt *s, int i, char *v, const char *if_null)
{
	if (v)
		sqlite3_bind_text(q(s), i, v, -1, free);
	else
		sqlite3_bind_text(q(s), i, if_null, -1, SQLITE_STATIC);
}

void db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(q(s), i, p, n, SQLITE_STATIC);
}

void db_bind_text(struct db_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(q(s), i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q(s), i);
}

int db_bind_json(struct db_stmt *s, int i, const json_t *v)
{
	char *text;

	if (!v) {
		sqlite3_bind_null(q(s), i);
		return 0;
	}
	text = json_canonical(v);
	if (!text)
		return -ENOMEM;
	sqlite3_bind_text(q(s), i, text, -1, free);
	return 0;
}

int64_t db_col_int(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(q(s), i);
}

const char *db_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(q(s), i);
}

const void *db_col_blob(struct db_stmt *s, int i, size_t *ret_len)
{
	/* The blob first, then its size: the order SQLite asks for. */
	const void *p = sqlite3_column_blob(q(s), i);

	*ret_len = (size_t)sqlite3_column_bytes(q(s), i);
	return p;
}

bool db_col_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(q(s), i) == SQLITE_NULL;
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
	uLongf len;
	json_t *j;
	int n;

	if (sqlite3_column_type(q(s), col) != SQLITE_BLOB)
		return json_loads(db_col_text(s, col), 0, NULL);
	in = sqlite3_column_blob(q(s), col);
	n = sqlite3_column_bytes(q(s), col);
	if (n < 4)
		return NULL;
	len = (uLongf)in[0] | (uLongf)in[1] << 8 | (uLongf)in[2] << 16 |
	      (uLongf)in[3] << 24;
	if (len > BODY_MAX)
		return NULL;
	text = malloc(len + 1);
	if (!text)
		return NULL;
	if (uncompress(text, &len, in + 4, (uLong)(n - 4)) != Z_OK) {
		free(text);
		return NULL;
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
	json_t *o = json_object();
	int n = sqlite3_column_count(q(s));

	for (int i = 0; o && i < n; i++) {
		const char *name = sqlite3_column_name(q(s), i);
		size_t len = strlen(name);
		json_t *v;

		switch (sqlite3_column_type(q(s), i)) {
		case SQLITE_NULL:
			v = json_null();
			break;
		case SQLITE_INTEGER: {
			int64_t x = sqlite3_column_int64(q(s), i);

			if (is_time_column(name)) {
				json_set_time(o, name, x);
				continue;
			}
			v = json_integer(x);
			break;
		}
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(q(s), i));
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

/* --- connections ------------------------------------------------------------- */

static int conn_open(struct db_conn *c, const char *path)
{
	int rc;

	memset(c, 0, sizeof(*c));
	/* No global mutex around every allocation for memory statistics we
	 * never read (it only takes before SQLite's first use). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK)
		return db_err(c, rc);
	sqlite3_busy_timeout(c->db, DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(c->db, 1);
	/* FULL: a transaction is on disk before COMMIT returns, so the 200
	 * that follows it is a promise the server can keep. */
	return db_exec(c, "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA temp_store = MEMORY;"
			  "PRAGMA cache_size = -16384;");
}

static void conn_close(struct db_conn *c)
{
	for (int i = 0; i < DB_STMT_CACHE && c->cache[i].sql; i++)
		sqlite3_finalize(q(c->cache[i].stmt));
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

static struct db_conn *reader_get(struct store *st)
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

static void reader_put(struct store *st, struct db_conn *c)
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
	struct db_conn *c = reader_get(st);
	int r = db_run(c, db_stmt(c, "BEGIN"));

	if (r < 0) {
		reader_put(st, c);
		return r;
	}
	*ret = c;
	return 0;
}

void db_read_end(struct store *st, struct db_conn *c)
{
	/* A read commits nothing: ending its snapshot cannot lose data. */
	if (!sqlite3_get_autocommit(c->db))
		(void)db_run(c, db_stmt(c, "COMMIT"));
	reader_put(st, c);
}

int db_write_begin(struct store *st, struct db_conn **ret)
{
	struct db_conn *c = reader_get(st);
	int r = db_run(c, db_stmt(c, "BEGIN IMMEDIATE"));

	if (r < 0) {
		reader_put(st, c);
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
		r = db_run(c, db_stmt(c, "COMMIT"));
	/* The rollback keeps the failure's message for store_errmsg(). */
	if (r < 0 && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	reader_put(st, c);
	return r;
}

/* --- the WAL policy ------------------------------------------------------------ */

/* Counts the WAL's frames after each of the writer's commits.  Fewer
 * frames than last time: the WAL started afresh, and what the checkpoint
 * thread said it had copied was of the old one. */
static int wal_frames(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	if (frames < st->wal_frames)
		__atomic_store_n(&st->wal_copied, 0, __ATOMIC_RELAXED);
	st->wal_frames = frames;
	health_ok(st, &st->commit_health);
	return SQLITE_OK;
}

/* A commit of a reader connection (an API write) is on disk. */
static int wal_committed(void *arg, sqlite3 *db, const char *name,
			 int frames)
{
	(void)db;
	(void)name;
	(void)frames;
	health_ok(arg, &((struct store *)arg)->commit_health);
	return SQLITE_OK;
}

#define WAL_LONG 16384	/* frames: 64 MiB */
#define WAL_LEFT 2048	/* frames: 8 MiB */

/* The checkpoint thread copies the WAL back in the background, but under
 * steady load the WAL never starts afresh by itself: there are always
 * frames not yet copied.  Past 64 MiB the writer starts it afresh, between
 * batches, once all but an eighth of it (or 8 MiB) is copied back, so
 * little is left to copy while reports wait.
 * - It does not wait for readers still on the old WAL, but tries again
 *   after the checkpoint thread's next pass: waiting for them held
 *   reports up for up to 160 ms.  Past 1 GiB it waits.
 * - It restarts the WAL rather than truncating it: writing over a file
 *   costs less than growing it again (restarts stalled the writer 31 ms
 *   on average, truncations 89 ms). */
static void wal_restart(struct store *st)
{
	int copied = __atomic_load_n(&st->wal_copied, __ATOMIC_RELAXED);
	int left = st->wal_frames - copied;
	int force = st->wal_frames > 16 * WAL_LONG;

	if (st->wal_frames <= WAL_LONG)
		return;
	if (!force && (copied == st->wal_tried ||
		       (left >= WAL_LEFT && left >= st->wal_frames / 8)))
		return;
	st->wal_tried = copied;
	if (!force)
		sqlite3_busy_timeout(st->writer.db, 0);
	if (sqlite3_wal_checkpoint_v2(st->writer.db, NULL,
				      SQLITE_CHECKPOINT_RESTART, NULL,
				      NULL) == SQLITE_OK) {
		st->wal_frames = 0;
		__atomic_store_n(&st->wal_copied, 0, __ATOMIC_RELAXED);
	}
	sqlite3_busy_timeout(st->writer.db, DB_BUSY_TIMEOUT_MS);
}

struct db_conn *db_writer(struct store *st)
{
	return &st->writer;
}

int db_writer_begin(struct store *st)
{
	return db_run(&st->writer, db_stmt(&st->writer, "BEGIN IMMEDIATE"));
}

int db_writer_commit(struct store *st)
{
	int r = db_run(&st->writer, db_stmt(&st->writer, "COMMIT"));

	if (r == 0)
		wal_restart(st);
	return r;
}

void db_writer_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->writer.db))
		db_exec(&st->writer, "ROLLBACK");
}

int db_checkpoint(struct store *st)
{
	int log = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->checkpointer.db, NULL,
					   SQLITE_CHECKPOINT_PASSIVE, &log,
					   &copied);

	if (rc == SQLITE_OK && copied > 0)
		__atomic_store_n(&st->wal_copied, copied, __ATOMIC_RELAXED);
	if (rc == SQLITE_OK)
		health_ok(st, &st->checkpoint_health);
	return rc == SQLITE_OK || rc == SQLITE_BUSY
		       ? 0
		       : db_err(&st->checkpointer, rc);
}

/* --- opening, the schema ------------------------------------------------------ */

static int migrate(struct db_conn *c, char err[256])
{
	sqlite3_stmt *s;
	int current = 0, newest = 0, r;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(err, 256, "cannot read schema version: %s",
			 sqlite3_errmsg(c->db));
		return -EIO;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		current = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);

	for (const struct embedded_file *f = embedded_sql; f->name; f++) {
		int version = (int)strtol(f->name, NULL, 10);
		char pragma[64];

		if (version > newest)
			newest = version;
		if (version <= current)
			continue;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;",
			 version);
		if ((r = db_exec(c, "BEGIN IMMEDIATE")) < 0 ||
		    (r = db_exec(c, (const char *)f->data)) < 0 ||
		    (r = db_exec(c, pragma)) < 0 ||
		    (r = db_exec(c, "COMMIT")) < 0) {
			snprintf(err, 256, "migration %s failed: %.200s", f->name,
				 db_errmsg());
			db_exec(c, "ROLLBACK");
			return r;
		}
		current = version;
	}
	if (current > newest) {
		snprintf(err, 256,
			 "database schema version %d is newer than this "
			 "derelictd (%d); refusing to start",
			 current, newest);
		return -EPROTO;
	}
	return 0;
}

int db_open(struct store *st, const char *path, char err[256])
{
	int r = conn_open(&st->writer, path);

	if (r < 0) {
		/* Often a file or a directory derelictd may not write: SQLite
		 * then cannot make the WAL's files next to the database. */
		snprintf(err, 256, "cannot open %.100s: %.60s%s", path,
			 db_errmsg(),
			 r == -EIO || r == -EROFS
				 ? " (it and its directory must be writable "
				   "by derelictd)"
				 : "");
		return r;
	}
	r = migrate(&st->writer, err);
	if (r < 0)
		return r;
	/* The writer's settings:
	 * - It does not checkpoint after commits: db_checkpoint() copies the
	 *   WAL back from a thread of its own.  The writer only starts the
	 *   WAL afresh when it has grown long (db_writer_commit()), and its
	 *   file is then cut back to 128 MiB.
	 * - Its page cache is small: 4 MiB (SQLite's default is 2).  A B-tree
	 *   split parks a page at a number past the end of the file, and the
	 *   commit after one scans the whole cache to drop such pages: with
	 *   128 MiB that scan took 9% of the writer's time.  The pages it
	 *   reads are in the mapping or the kernel's cache anyway.
	 * - It reads the database file's pages in place, not copied out of
	 *   the kernel's cache.  Only the writer: a mapping follows the file
	 *   as it grows, and remapping in every reader's thread costs the
	 *   whole process TLB flushes. */
	r = db_exec(&st->writer, "PRAGMA wal_autocheckpoint = 0;"
				 "PRAGMA cache_size = -4096;"
				 "PRAGMA journal_size_limit = 134217728;"
				 "PRAGMA mmap_size = 4294967296;");
	if (r < 0)
		return r;
	sqlite3_wal_hook(st->writer.db, wal_frames, st);
	r = conn_open(&st->checkpointer, path);
	if (r < 0) {
		snprintf(err, 256, "cannot open %s: %.100s", path,
			 db_errmsg());
		return r;
	}
	for (int i = 0; i < DB_READERS; i++) {
		r = conn_open(&st->readers[i], path);
		if (r < 0) {
			snprintf(err, 256, "cannot open %s: %.100s", path,
				 db_errmsg());
			return r;
		}
		/* This replaces SQLite's checkpoint after a commit on these
		 * connections too: like the writer's, their WAL is copied
		 * back by the checkpoint thread, not by an API write. */
		sqlite3_wal_hook(st->readers[i].db, wal_committed, st);
	}
	/* From now on a failure counts against the store's health (not the
	 * opening's: store_open() then fails). */
	st->writer.st = st->checkpointer.st = st;
	for (int i = 0; i < DB_READERS; i++)
		st->readers[i].st = st;
	return 0;
}

void db_close(struct store *st)
{
	for (int i = 0; i < DB_READERS; i++)
		if (st->readers[i].db)
			conn_close(&st->readers[i]);
	if (st->checkpointer.db)
		conn_close(&st->checkpointer);
	if (st->writer.db) {
		/* Fold the WAL back so the file alone is the whole database. */
		sqlite3_wal_checkpoint_v2(st->writer.db, NULL,
					  SQLITE_CHECKPOINT_TRUNCATE, NULL,
					  NULL);
		conn_close(&st->writer);
	}
}

int db_check_writable(struct store *st, char err[256])
{
	struct db_conn *c = &st->writer;
	sqlite3_stmt *s;
	char sql[64];
	int r, version = 0;

	/* SQLite opens a file it may not write read-only, silently: every
	 * write would fail later, and go on failing once the file is
	 * writable again. */
	if (sqlite3_db_readonly(c->db, "main") == 1) {
		snprintf(err, 256,
			 "%s is read-only: derelictd must write its database "
			 "(check the file's and its directory's owner, mode "
			 "and attributes, and the mount)",
			 st->path);
		return -EROFS;
	}
	/* And a real commit, which needs the WAL, the lock and a little
	 * space: writing the schema version it already has. */
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK) {
		r = db_err(c, sqlite3_errcode(c->db));
		goto fail;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	r = sqlite3_finalize(s) == SQLITE_OK ? 0 : db_err(c, sqlite3_errcode(c->db));
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	if (r == 0 && (r = db_exec(c, "BEGIN IMMEDIATE")) == 0 &&
	    (r = db_exec(c, sql)) == 0 && (r = db_exec(c, "COMMIT")) == 0)
		return 0;
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	snprintf(err, 256, "cannot write %s: %.100s%s", st->path,
		 db_errmsg(),
		 r == -ENOSPC ? " (the disk is full)" : "");
	return r;
}

int db_backup(struct store *st, const char *dest)
{
	struct db_conn *c = reader_get(st);
	sqlite3 *out = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(dest, &out,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(last_error, sizeof(last_error), "%s: %s", dest,
			 out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
		sqlite3_close(out);
		reader_put(st, c);
		return -EIO;
	}
	b = sqlite3_backup_init(out, "main", c->db, "main");
	if (!b) {
		snprintf(last_error, sizeof(last_error), "%s",
			 sqlite3_errmsg(out));
		sqlite3_close(out);
		reader_put(st, c);
		return -EIO;
	}
	/* All pages in one step: the copy is one consistent snapshot even
	 * while the server writes. */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		snprintf(last_error, sizeof(last_error), "%s",
			 sqlite3_errstr(rc));
	sqlite3_close(out);
	reader_put(st, c);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

void db_health(struct store *st, struct store_health *ret)
{
	pthread_mutex_lock(&st->health_lock);
	*ret = st->commit_health.error ? st->commit_health
				       : st->checkpoint_health;
	pthread_mutex_unlock(&st->health_lock);
}
