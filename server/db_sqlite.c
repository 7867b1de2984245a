/*
 * db_sqlite.c - the SQLite engine under db.c (db_int.h): connections and
 * their PRAGMAs, statements, the mapping of result codes to errnos, the
 * WAL and its checkpoints, migrations (user_version), backups.  The only
 * file that speaks SQLite (make check-style).
 */
#include "db_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "embed.h"

extern const struct embedded_file embedded_sql[];

struct sqlite_stmt {
	struct db_stmt head;
	sqlite3_stmt *q;
};

static inline sqlite3_stmt *q(struct db_stmt *s)
{
	return ((struct sqlite_stmt *)s)->q;
}

static inline sqlite3 *H(struct db_conn *c)
{
	return c->handle;
}

static int sqlite_err(struct db_conn *c, int rc)
{
	int r;

	db_error_set("%s", c && c->handle ? sqlite3_errmsg(H(c))
					   : sqlite3_errstr(rc));
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
	return db_health_fail(c, r);
}

/* --- statements -------------------------------------------------------------- */

static int sqlite_exec(struct db_conn *c, const char *sql)
{
	int rc = sqlite3_exec(H(c), sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sqlite_err(c, rc);
}

static struct db_stmt *sqlite_prepare(struct db_conn *c, const char *sql)
{
	struct sqlite_stmt *s = malloc(sizeof(*s));
	int rc;

	if (!s) {
		db_error_set("out of memory");
		return NULL;
	}
	rc = sqlite3_prepare_v3(H(c), sql, -1, SQLITE_PREPARE_PERSISTENT,
				&s->q, NULL);
	if (rc != SQLITE_OK) {
		sqlite_err(c, rc);
		free(s);
		return NULL;
	}
	s->head.ops = &db_sqlite_ops;
	return &s->head;
}

static void sqlite_finalize(struct db_stmt *s)
{
	if (!s)
		return;
	sqlite3_finalize(q(s));
	free(s);
}

static void sqlite_reset(struct db_stmt *s)
{
	sqlite3_reset(q(s));
}

static void sqlite_clear(struct db_stmt *s)
{
	sqlite3_clear_bindings(q(s));
}

static int sqlite_step(struct db_conn *c, struct db_stmt *s)
{
	int rc = sqlite3_step(q(s));

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return sqlite_err(c, rc);
}

static int64_t sqlite_changes(struct db_conn *c)
{
	return sqlite3_changes64(H(c));
}

static int64_t sqlite_last_id(struct db_conn *c)
{
	return sqlite3_last_insert_rowid(H(c));
}

/* --- values ------------------------------------------------------------------ */

static void sqlite_bind_int(struct db_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(q(s), i, v);
}

static void sqlite_bind_null(struct db_stmt *s, int i)
{
	sqlite3_bind_null(q(s), i);
}

static void sqlite_bind_text_take(struct db_stmt *s, int i, char *v,
				  const char *if_null)
{
	if (v)
		sqlite3_bind_text(q(s), i, v, -1, free);
	else if (if_null)
		sqlite3_bind_text(q(s), i, if_null, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q(s), i);
}

static void sqlite_bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(q(s), i, p, n, SQLITE_STATIC);
}

static void sqlite_bind_text(struct db_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(q(s), i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q(s), i);
}

static int64_t sqlite_col_int(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(q(s), i);
}

static double sqlite_col_double(struct db_stmt *s, int i)
{
	return sqlite3_column_double(q(s), i);
}

static const char *sqlite_col_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(q(s), i);
}

static const void *sqlite_col_blob(struct db_stmt *s, int i, size_t *ret_len)
{
	/* The blob first, then its size: the order SQLite asks for. */
	const void *p = sqlite3_column_blob(q(s), i);

	*ret_len = (size_t)sqlite3_column_bytes(q(s), i);
	return p;
}

static enum db_type sqlite_col_type(struct db_stmt *s, int i)
{
	switch (sqlite3_column_type(q(s), i)) {
	case SQLITE_NULL:
		return DB_T_NULL;
	case SQLITE_INTEGER:
		return DB_T_INT;
	case SQLITE_FLOAT:
		return DB_T_FLOAT;
	case SQLITE_BLOB:
		return DB_T_BLOB;
	default:
		return DB_T_TEXT;
	}
}

static int sqlite_col_count(struct db_stmt *s)
{
	return sqlite3_column_count(q(s));
}

static const char *sqlite_col_name(struct db_stmt *s, int i)
{
	return sqlite3_column_name(q(s), i);
}

/* --- connections ------------------------------------------------------------- */

static int conn_open(struct db_conn *c, const char *path)
{
	sqlite3 *db = NULL;
	int rc;

	/* No global mutex around every allocation for memory statistics we
	 * never read (it only takes before SQLite's first use). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	c->handle = db;
	if (rc != SQLITE_OK)
		return sqlite_err(c, rc);
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	/* FULL: a transaction is on disk before COMMIT returns, so the 200
	 * that follows it is a promise the server can keep. */
	return sqlite_exec(c, "PRAGMA journal_mode = WAL;"
			      "PRAGMA synchronous = FULL;"
			      "PRAGMA foreign_keys = ON;"
			      "PRAGMA temp_store = MEMORY;"
			      "PRAGMA cache_size = -16384;");
}

static void conn_close(struct db_conn *c)
{
	const struct db_ops *ops = c->ops;

	db_cache_drop(c);
	sqlite3_close(H(c));
	memset(c, 0, sizeof(*c));
	c->ops = ops;
}

/* --- transactions ------------------------------------------------------------ */

static bool sqlite_in_tx(struct db_conn *c)
{
	return !sqlite3_get_autocommit(H(c));
}

static int sqlite_begin(struct db_conn *c, enum db_tx kind)
{
	/* Cached statements: the writer's begins run thousands of times a
	 * second. */
	if (kind == DB_TX_READ)
		return db_run(c, db_stmt(c, "BEGIN"));
	return db_run(c, db_stmt(c, "BEGIN IMMEDIATE"));
}

static void sqlite_rollback(struct db_conn *c)
{
	if (!sqlite3_get_autocommit(H(c)))
		sqlite3_exec(H(c), "ROLLBACK", NULL, NULL, NULL);
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
	db_health_ok(st, false);
	return SQLITE_OK;
}

/* A commit of a reader connection (an API write) is on disk. */
static int wal_committed(void *arg, sqlite3 *db, const char *name,
			 int frames)
{
	(void)db;
	(void)name;
	(void)frames;
	db_health_ok(arg, false);
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
		sqlite3_busy_timeout(H(&st->writer), 0);
	if (sqlite3_wal_checkpoint_v2(H(&st->writer), NULL,
				      SQLITE_CHECKPOINT_RESTART, NULL,
				      NULL) == SQLITE_OK) {
		st->wal_frames = 0;
		__atomic_store_n(&st->wal_copied, 0, __ATOMIC_RELAXED);
	}
	sqlite3_busy_timeout(H(&st->writer), DB_BUSY_TIMEOUT_MS);
}

static int sqlite_commit(struct db_conn *c)
{
	int r = db_run(c, db_stmt(c, "COMMIT"));

	if (r == 0 && c->st && c == &c->st->writer)
		wal_restart(c->st);
	return r;
}

static int sqlite_checkpoint(struct store *st)
{
	int log = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(H(&st->checkpointer), NULL,
					   SQLITE_CHECKPOINT_PASSIVE, &log,
					   &copied);

	if (rc == SQLITE_OK && copied > 0)
		__atomic_store_n(&st->wal_copied, copied, __ATOMIC_RELAXED);
	if (rc == SQLITE_OK)
		db_health_ok(st, true);
	return rc == SQLITE_OK || rc == SQLITE_BUSY
		       ? 0
		       : sqlite_err(&st->checkpointer, rc);
}

/* --- opening, the schema ------------------------------------------------------ */

static int migrate(struct db_conn *c, char err[256])
{
	sqlite3_stmt *s;
	int current = 0, newest = 0, r;

	if (sqlite3_prepare_v2(H(c), "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(err, 256, "cannot read schema version: %s",
			 sqlite3_errmsg(H(c)));
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
		if ((r = sqlite_exec(c, "BEGIN IMMEDIATE")) < 0 ||
		    (r = sqlite_exec(c, (const char *)f->data)) < 0 ||
		    (r = sqlite_exec(c, pragma)) < 0 ||
		    (r = sqlite_exec(c, "COMMIT")) < 0) {
			snprintf(err, 256, "migration %s failed: %.200s", f->name,
				 db_errmsg());
			sqlite_exec(c, "ROLLBACK");
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

static int sqlite_open(struct store *st, const char *path,
		       const char *password, char err[256])
{
	int r = conn_open(&st->writer, path);

	(void)password;
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
	r = sqlite_exec(&st->writer, "PRAGMA wal_autocheckpoint = 0;"
				     "PRAGMA cache_size = -4096;"
				     "PRAGMA journal_size_limit = 134217728;"
				     "PRAGMA mmap_size = 4294967296;");
	if (r < 0)
		return r;
	sqlite3_wal_hook(H(&st->writer), wal_frames, st);
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
		sqlite3_wal_hook(H(&st->readers[i]), wal_committed, st);
	}
	/* From now on a failure counts against the store's health (not the
	 * opening's: store_open() then fails). */
	st->writer.st = st->checkpointer.st = st;
	for (int i = 0; i < DB_READERS; i++)
		st->readers[i].st = st;
	return 0;
}

static void sqlite_close(struct store *st)
{
	for (int i = 0; i < DB_READERS; i++)
		if (st->readers[i].handle)
			conn_close(&st->readers[i]);
	if (st->checkpointer.handle)
		conn_close(&st->checkpointer);
	if (st->writer.handle) {
		/* Fold the WAL back so the file alone is the whole database. */
		sqlite3_wal_checkpoint_v2(H(&st->writer), NULL,
					  SQLITE_CHECKPOINT_TRUNCATE, NULL,
					  NULL);
		conn_close(&st->writer);
	}
}

static int sqlite_check_writable(struct store *st, char err[256])
{
	struct db_conn *c = &st->writer;
	sqlite3_stmt *s;
	char sql[64];
	int r, version = 0;

	/* SQLite opens a file it may not write read-only, silently: every
	 * write would fail later, and go on failing once the file is
	 * writable again. */
	if (sqlite3_db_readonly(H(c), "main") == 1) {
		snprintf(err, 256,
			 "%s is read-only: derelictd must write its database "
			 "(check the file's and its directory's owner, mode "
			 "and attributes, and the mount)",
			 st->path);
		return -EROFS;
	}
	/* And a real commit, which needs the WAL, the lock and a little
	 * space: writing the schema version it already has. */
	if (sqlite3_prepare_v2(H(c), "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK) {
		r = sqlite_err(c, sqlite3_errcode(H(c)));
		goto fail;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	r = sqlite3_finalize(s) == SQLITE_OK
		    ? 0
		    : sqlite_err(c, sqlite3_errcode(H(c)));
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	if (r == 0 && (r = sqlite_exec(c, "BEGIN IMMEDIATE")) == 0 &&
	    (r = sqlite_exec(c, sql)) == 0 && (r = sqlite_exec(c, "COMMIT")) == 0)
		return 0;
	if (!sqlite3_get_autocommit(H(c)))
		sqlite3_exec(H(c), "ROLLBACK", NULL, NULL, NULL);
fail:
	snprintf(err, 256, "cannot write %s: %.100s%s", st->path,
		 db_errmsg(),
		 r == -ENOSPC ? " (the disk is full)" : "");
	return r;
}

static int sqlite_backup(struct store *st, const char *dest)
{
	struct db_conn *c = db_reader_get(st);
	sqlite3 *out = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(dest, &out,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		db_error_set("%s: %s", dest,
			     out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
		sqlite3_close(out);
		db_reader_put(st, c);
		return -EIO;
	}
	b = sqlite3_backup_init(out, "main", H(c), "main");
	if (!b) {
		db_error_set("%s", sqlite3_errmsg(out));
		sqlite3_close(out);
		db_reader_put(st, c);
		return -EIO;
	}
	/* All pages in one step: the copy is one consistent snapshot even
	 * while the server writes. */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		db_error_set("%s", sqlite3_errstr(rc));
	sqlite3_close(out);
	db_reader_put(st, c);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sqlite_describe(const char *database, const char *password,
			   char *out, size_t n, char err[256])
{
	(void)password;
	(void)err;
	snprintf(out, n, "%s at %s", sqlite3_libversion(), database);
	return 0;
}

/* One node writes a SQLite file: it always leads. */
static int sqlite_leader(struct store *st)
{
	(void)st;
	return 1;
}

/* --- the copy of a whole database (db_copy.c) --------------------------------- */

/* The first column of every row of sql (bound with arg when not NULL) as
 * a new JSON array of strings in *ret. */
static int sqlite_names(struct db_conn *c, const char *sql, const char *arg,
			json_t **ret)
{
	json_t *out = json_array();
	sqlite3_stmt *s;
	int rc, r;

	if (!out) {
		db_error_set("out of memory");
		return -ENOMEM;
	}
	rc = sqlite3_prepare_v2(H(c), sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		json_decref(out);
		return sqlite_err(c, rc);
	}
	if (arg)
		sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);

		if (json_array_append_new(out, json_string(v ? v : "")) < 0) {
			sqlite3_finalize(s);
			json_decref(out);
			db_error_set("out of memory");
			return -ENOMEM;
		}
	}
	r = rc == SQLITE_DONE ? 0 : sqlite_err(c, rc);
	sqlite3_finalize(s);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

static int sqlite_tables(struct db_conn *c, json_t **ret)
{
	/* Only ordinary tables: an FTS5 table (host_search) and its shadow
	 * tables are SQLite's own index, which the other engine has in its
	 * own form (pg_trgm indexes on hosts), filled by itself. */
	return sqlite_names(c,
			    "SELECT name FROM pragma_table_list "
			    "WHERE schema = 'main' AND type = 'table' "
			    "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' "
			    "ORDER BY name",
			    NULL, ret);
}

static int sqlite_columns(struct db_conn *c, const char *table, json_t **ret)
{
	return sqlite_names(c,
			    "SELECT name FROM pragma_table_info(?1) "
			    "ORDER BY cid",
			    table, ret);
}

static int sqlite_parents(struct db_conn *c, const char *table, json_t **ret)
{
	return sqlite_names(c,
			    "SELECT DISTINCT \"table\" FROM "
			    "pragma_foreign_key_list(?1) ORDER BY 1",
			    table, ret);
}

/* A load into SQLite is one prepared INSERT stepped per row: inside one
 * transaction, SQLite's fastest way in. */
struct sqlite_load {
	struct db_load head;
	struct db_conn *c;
	sqlite3_stmt *insert;
	int n;
	int64_t rows;
};

static int sqlite_load_begin(struct db_conn *c, const char *table,
			     const json_t *columns, struct db_load **ret)
{
	struct sqlite_load *l = calloc(1, sizeof(*l));
	struct buf b = BUF_INIT(1 << 20);
	size_t i;
	json_t *v;
	int r, rc;

	if (!l)
		goto nomem;
	r = buf_printf(&b, "INSERT INTO \"%s\" (", table);
	json_array_foreach(columns, i, v)
		if (r == 0)
			r = buf_printf(&b, "%s\"%s\"", i ? ", " : "",
				       json_string_value(v));
	if (r == 0)
		r = buf_puts(&b, ") VALUES (");
	for (i = 0; r == 0 && i < json_array_size(columns); i++)
		r = buf_puts(&b, i ? ", ?" : "?");
	if (r == 0)
		r = buf_puts(&b, ")");
	if (r < 0)
		goto nomem;
	rc = sqlite3_prepare_v2(H(c), b.data, -1, &l->insert, NULL);
	buf_free(&b);
	if (rc != SQLITE_OK) {
		free(l);
		return sqlite_err(c, rc);
	}
	l->head.ops = &db_sqlite_ops;
	l->c = c;
	l->n = (int)json_array_size(columns);
	*ret = &l->head;
	return 0;
nomem:
	buf_free(&b);
	free(l);
	db_error_set("out of memory");
	return -ENOMEM;
}

static int sqlite_load_row(struct db_load *head, struct db_stmt *src)
{
	struct sqlite_load *l = (struct sqlite_load *)head;
	const struct db_ops *in = src->ops;
	int rc;

	for (int i = 0; i < l->n; i++) {
		const void *p;
		size_t len;

		switch (in->col_type(src, i)) {
		case DB_T_NULL:
			sqlite3_bind_null(l->insert, i + 1);
			break;
		case DB_T_INT:
			sqlite3_bind_int64(l->insert, i + 1,
					   in->col_int(src, i));
			break;
		case DB_T_FLOAT:
			sqlite3_bind_double(l->insert, i + 1,
					    in->col_double(src, i));
			break;
		case DB_T_TEXT:
			p = in->col_blob(src, i, &len);
			sqlite3_bind_text64(l->insert, i + 1, p ? p : "", len,
					    SQLITE_TRANSIENT, SQLITE_UTF8);
			break;
		case DB_T_BLOB:
			p = in->col_blob(src, i, &len);
			sqlite3_bind_blob64(l->insert, i + 1, p ? p : "", len,
					    SQLITE_TRANSIENT);
			break;
		}
	}
	rc = sqlite3_step(l->insert);
	sqlite3_reset(l->insert);
	if (rc != SQLITE_DONE)
		return sqlite_err(l->c, rc);
	l->rows++;
	return 0;
}

static int sqlite_load_end(struct db_load *head, bool keep, int64_t *ret_rows)
{
	struct sqlite_load *l = (struct sqlite_load *)head;

	(void)keep;
	*ret_rows = l->rows;
	sqlite3_finalize(l->insert);
	free(l);
	return 0;
}

static int sqlite_ids_after_load(struct db_conn *c, const char *table)
{
	/* A rowid follows the largest there is by itself. */
	(void)c;
	(void)table;
	return 0;
}

const struct db_ops db_sqlite_ops = {
	.name = "SQLite",
	.dialect = DB_SQLITE,
	.open = sqlite_open,
	.close = sqlite_close,
	.check_writable = sqlite_check_writable,
	.checkpoint = sqlite_checkpoint,
	.backup = sqlite_backup,
	.leader = sqlite_leader,
	.describe = sqlite_describe,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.in_tx = sqlite_in_tx,
	.rollback = sqlite_rollback,
	.exec = sqlite_exec,
	.err = sqlite_err,
	.prepare = sqlite_prepare,
	.finalize = sqlite_finalize,
	.reset = sqlite_reset,
	.clear = sqlite_clear,
	.step = sqlite_step,
	.changes = sqlite_changes,
	.last_id = sqlite_last_id,
	.bind_int = sqlite_bind_int,
	.bind_null = sqlite_bind_null,
	.bind_text = sqlite_bind_text,
	.bind_text_take = sqlite_bind_text_take,
	.bind_blob = sqlite_bind_blob,
	.col_int = sqlite_col_int,
	.col_double = sqlite_col_double,
	.col_text = sqlite_col_text,
	.col_blob = sqlite_col_blob,
	.col_type = sqlite_col_type,
	.col_count = sqlite_col_count,
	.col_name = sqlite_col_name,
	.tables = sqlite_tables,
	.columns = sqlite_columns,
	.parents = sqlite_parents,
	.load_begin = sqlite_load_begin,
	.load_row = sqlite_load_row,
	.load_end = sqlite_load_end,
	.ids_after_load = sqlite_ids_after_load,
};
