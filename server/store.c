/*
 * store.c - the database: opening, migrations, connections, tokens,
 * enrollment and backups.  Reports are in store_ingest.c, queries in
 * store_query.c, rule evaluation in store_eval.c.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "embed.h"
#include "jsonutil.h"
#include "timeutil.h"

extern const struct embedded_file embedded_sql[];

static __thread char last_error[256];

const char *store_errmsg(void)
{
	return last_error[0] ? last_error : "no database error";
}

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

void store_health(struct store *st, struct store_health *ret)
{
	pthread_mutex_lock(&st->health_lock);
	*ret = st->commit_health.error ? st->commit_health
				       : st->checkpoint_health;
	pthread_mutex_unlock(&st->health_lock);
}

int db_err(struct conn *c, int rc)
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

int db_exec(struct conn *c, const char *sql)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_err(c, rc);
}

sqlite3_stmt *stmt(struct conn *c, const char *sql)
{
	int i, rc;

	for (i = 0; i < STORE_STMT_CACHE && c->cache[i].sql; i++) {
		if (c->cache[i].sql == sql) {
			sqlite3_reset(c->cache[i].stmt);
			sqlite3_clear_bindings(c->cache[i].stmt);
			return c->cache[i].stmt;
		}
	}
	if (i == STORE_STMT_CACHE) {
		/* Full: drop the last entry; the hot statements come first. */
		i = STORE_STMT_CACHE - 1;
		sqlite3_finalize(c->cache[i].stmt);
		c->cache[i].sql = NULL;
	}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&c->cache[i].stmt, NULL);
	if (rc != SQLITE_OK) {
		db_err(c, rc);
		c->cache[i].stmt = NULL;
		return NULL;
	}
	c->cache[i].sql = sql;
	return c->cache[i].stmt;
}

int stmt_run(struct conn *c, sqlite3_stmt *s)
{
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_err(c, rc);
}

void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

#define BODY_MAX ((size_t)256 << 20)

int body_pack(const char *text, size_t len, unsigned char **ret,
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

json_t *body_column(sqlite3_stmt *s, int col)
{
	const unsigned char *in;
	unsigned char *text;
	uLongf len;
	json_t *j;
	int n;

	if (sqlite3_column_type(s, col) != SQLITE_BLOB)
		return json_loads(col_text(s, col), 0, NULL);
	in = sqlite3_column_blob(s, col);
	n = sqlite3_column_bytes(s, col);
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

json_t *row_to_json(sqlite3_stmt *s)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(s);

	for (int i = 0; o && i < n; i++) {
		const char *name = sqlite3_column_name(s, i);
		size_t len = strlen(name);
		json_t *v;

		switch (sqlite3_column_type(s, i)) {
		case SQLITE_NULL:
			v = json_null();
			break;
		case SQLITE_INTEGER: {
			int64_t x = sqlite3_column_int64(s, i);

			if (is_time_column(name)) {
				json_set_time(o, name, x);
				continue;
			}
			v = json_integer(x);
			break;
		}
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(s, i));
			break;
		default:
			if (len > 5 && strcmp(name + len - 5, "_json") == 0) {
				char key[64];

				snprintf(key, sizeof(key), "%.*s",
					 (int)(len - 5), name);
				v = json_loads(col_text(s, i), 0, NULL);
				json_object_set_new(o, key, v ? v : json_null());
				continue;
			}
			v = json_string(col_text(s, i));
			break;
		}
		json_object_set_new(o, name, v ? v : json_null());
	}
	return o;
}

static int conn_open(struct conn *c, const char *path)
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
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(c->db, 1);
	/* FULL: a transaction is on disk before COMMIT returns, so the 200
	 * that follows it is a promise the server can keep. */
	return db_exec(c, "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA temp_store = MEMORY;"
			  "PRAGMA cache_size = -16384;");
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < STORE_STMT_CACHE && c->cache[i].sql; i++)
		sqlite3_finalize(c->cache[i].stmt);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

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

static int migrate(struct conn *c, char err[256])
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
				 store_errmsg());
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

int store_open(const char *path, const struct server_config *cfg,
	       struct store **ret, char err[256])
{
	struct store *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = cfg;
	st->path = strdup(path);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->freed, NULL);
	pthread_rwlock_init(&st->adv_lock, NULL);
	pthread_mutex_init(&st->health_lock, NULL);
	r = conn_open(&st->writer, path);
	if (r < 0) {
		/* Often a file or a directory derelictd may not write: SQLite
		 * then cannot make the WAL's files next to the database. */
		snprintf(err, 256, "cannot open %.100s: %.60s%s", path,
			 store_errmsg(),
			 r == -EIO || r == -EROFS
				 ? " (it and its directory must be writable "
				   "by derelictd)"
				 : "");
		goto fail;
	}
	r = migrate(&st->writer, err);
	if (r < 0)
		goto fail;
	/* The writer's settings:
	 * - It does not checkpoint after commits: store_checkpoint() copies
	 *   the WAL back from a thread of its own.  The writer only starts
	 *   the WAL afresh when it has grown long (store_write_commit()), and
	 *   its file is then cut back to 128 MiB.
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
		goto fail;
	sqlite3_wal_hook(st->writer.db, wal_frames, st);
	r = conn_open(&st->checkpointer, path);
	if (r < 0) {
		snprintf(err, 256, "cannot open %s: %.100s", path,
			 store_errmsg());
		goto fail;
	}
	for (int i = 0; i < STORE_READERS; i++) {
		r = conn_open(&st->readers[i], path);
		if (r < 0) {
			snprintf(err, 256, "cannot open %s: %.100s", path,
				 store_errmsg());
			goto fail;
		}
		/* This replaces SQLite's checkpoint after a commit on these
		 * connections too: like the writer's, their WAL is copied
		 * back by the checkpoint thread, not by an API write. */
		sqlite3_wal_hook(st->readers[i].db, wal_committed, st);
	}
	/* From now on a failure counts against the store's health (not the
	 * opening's: store_open() then fails). */
	st->writer.st = st->checkpointer.st = st;
	for (int i = 0; i < STORE_READERS; i++)
		st->readers[i].st = st;
	*ret = st;
	return 0;
fail:
	store_close(st);
	return r;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < STORE_READERS; i++)
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
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->freed);
	pthread_rwlock_destroy(&st->adv_lock);
	pthread_mutex_destroy(&st->health_lock);
	free(st->path);
	free(st);
}

int store_check_writable(struct store *st, char err[256])
{
	struct conn *c = &st->writer;
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
		 store_errmsg(),
		 r == -ENOSPC ? " (the disk is full)" : "");
	return r;
}

const struct advisory_db *store_set_advisories(struct store *st,
					       const struct advisory_db *db)
{
	const struct advisory_db *old;

	/* Waits for evaluations that use the old ones to finish. */
	pthread_rwlock_wrlock(&st->adv_lock);
	old = st->advisories;
	st->advisories = db;
	pthread_rwlock_unlock(&st->adv_lock);
	return old;
}

struct conn *conn_get(struct store *st)
{
	struct conn *c = NULL;

	pthread_mutex_lock(&st->lock);
	while (!c) {
		for (int i = 0; i < STORE_READERS; i++) {
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

void conn_put(struct store *st, struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&st->lock);
	c->busy = 0;
	pthread_cond_signal(&st->freed);
	pthread_mutex_unlock(&st->lock);
}

int store_backup(struct store *st, const char *dest)
{
	struct conn *c = conn_get(st);
	sqlite3 *out = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(dest, &out,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(last_error, sizeof(last_error), "%s: %s", dest,
			 out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
		sqlite3_close(out);
		conn_put(st, c);
		return -EIO;
	}
	b = sqlite3_backup_init(out, "main", c->db, "main");
	if (!b) {
		snprintf(last_error, sizeof(last_error), "%s",
			 sqlite3_errmsg(out));
		sqlite3_close(out);
		conn_put(st, c);
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
	conn_put(st, c);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* --- tokens ---------------------------------------------------------------- */

int store_token_add(struct store *st, const char *name, const char *role,
		    const char *token_hash)
{
	struct conn *c = conn_get(st);
	sqlite3_stmt *s = stmt(c, "INSERT INTO tokens (name, role, hash, "
				  "created_at) VALUES (?, ?, ?, ?)");
	int rc, r = 0;

	if (!s) {
		conn_put(st, c);
		return -EIO;
	}
	bind_text(s, 1, name);
	bind_text(s, 2, role);
	bind_text(s, 3, token_hash);
	sqlite3_bind_int64(s, 4, time_now());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = db_err(c, rc);
	sqlite3_reset(s);
	conn_put(st, c);
	return r;
}

int store_token_list(struct store *st, json_t **ret)
{
	struct conn *c = conn_get(st);
	sqlite3_stmt *s = stmt(c, "SELECT name, role, created_at, last_used "
				  "AS last_used_at FROM tokens ORDER BY name");
	json_t *items = json_array();
	int rc;

	if (!s) {
		conn_put(st, c);
		json_decref(items);
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(items, row_to_json(s));
	sqlite3_reset(s);
	conn_put(st, c);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		return -EIO;
	}
	*ret = items;
	return 0;
}

int store_token_revoke(struct store *st, const char *name)
{
	struct conn *c = conn_get(st);
	sqlite3_stmt *s = stmt(c, "DELETE FROM tokens WHERE name = ?");
	int rc, r = 0;

	if (!s) {
		conn_put(st, c);
		return -EIO;
	}
	bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = db_err(c, rc);
	else if (sqlite3_changes(c->db) == 0)
		r = -ENOENT;
	sqlite3_reset(s);
	conn_put(st, c);
	return r;
}

int store_auth(struct store *st, const char *token_hash, struct principal *ret)
{
	struct conn *c = conn_get(st);
	sqlite3_stmt *s;
	int rc, r = -ENOENT;

	s = stmt(c, "SELECT role, name, hash FROM tokens WHERE hash = ?");
	if (!s)
		goto out_err;
	bind_text(s, 1, token_hash);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && const_time_equal(col_text(s, 2), token_hash)) {
		ret->role = strcmp(col_text(s, 0), "admin") == 0 ? ROLE_ADMIN
								: ROLE_VIEWER;
		ret->host_id = 0;
		ret->pending[0] = '\0';
		snprintf(ret->name, sizeof(ret->name), "%s", col_text(s, 1));
		r = 0;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(c, rc);
		sqlite3_reset(s);
		goto out_err;
	}
	sqlite3_reset(s);
	if (r == 0)
		goto out;
	/* A host's token, or the one a re-enrollment gave its agent id, which
	 * works alongside until its first report (store_enroll()). */
	for (int pending = 0; r < 0 && pending < 2; pending++) {
		s = pending ? stmt(c, "SELECT id, agent_id, "
				      "pending_token_hash FROM hosts WHERE "
				      "pending_token_hash = ?")
			    : stmt(c, "SELECT id, agent_id, token_hash FROM "
				      "hosts WHERE token_hash = ?");
		if (!s)
			goto out_err;
		bind_text(s, 1, token_hash);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW &&
		    const_time_equal(col_text(s, 2), token_hash)) {
			ret->role = ROLE_HOST;
			ret->host_id = sqlite3_column_int64(s, 0);
			snprintf(ret->name, sizeof(ret->name), "%s",
				 col_text(s, 1));
			ret->pending[0] = '\0';
			if (pending)
				snprintf(ret->pending, sizeof(ret->pending),
					 "%s", token_hash);
			r = 0;
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			db_err(c, rc);
			sqlite3_reset(s);
			goto out_err;
		}
		sqlite3_reset(s);
	}
out:
	conn_put(st, c);
	return r;
out_err:
	conn_put(st, c);
	return -EIO;
}

/* Steps a bound write to its end (a RETURNING statement answers its row
 * first: the write is only done at SQLITE_DONE) and resets it. */
static int step_to_done(struct conn *c, sqlite3_stmt *s, int64_t *ret_id)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (ret_id)
			*ret_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_err(c, rc);
}

int store_enroll(struct store *st, const char *agent_id, const char *hostname,
		 const char *token_hash, int64_t now, int64_t *ret_host_id)
{
	struct conn *c = conn_get(st);
	sqlite3_stmt *s;
	int64_t id = 0;
	int rc, r, has_token = 0;

	/* Every step is checked and the answer waits for COMMIT: on a full
	 * disk the INSERT's row came back while the commit that followed it
	 * failed unnoticed, and the agent kept a token nobody knew. */
	if ((r = db_exec(c, "BEGIN IMMEDIATE")) < 0)
		goto out;
	s = stmt(c, "SELECT id, token_hash IS NOT NULL FROM hosts "
		    "WHERE agent_id = ?");
	if (!s) {
		r = -EIO;
		goto rollback;
	}
	bind_text(s, 1, agent_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		has_token = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = db_err(c, rc);
		goto rollback;
	}
	if (!id) {
		s = stmt(c, "INSERT INTO hosts (agent_id, hostname, "
			    "token_hash, first_seen) VALUES (?, ?, ?, ?) "
			    "RETURNING id");
		if (!s) {
			r = -EIO;
			goto rollback;
		}
		bind_text(s, 1, agent_id);
		bind_text(s, 2, hostname);
		bind_text(s, 3, token_hash);
		sqlite3_bind_int64(s, 4, now);
		r = step_to_done(c, s, &id);
	} else {
		/* An agent id enrolled again (an agent that lost its token, or
		 * anyone with the fleet secret): the old token keeps working
		 * and the new one waits until its first report, which
		 * store_apply_report() checks against the host's machine_id.
		 * A later enrollment replaces a waiting token. */
		s = has_token ? stmt(c, "UPDATE hosts SET "
					"pending_token_hash = ?, "
					"pending_since = ? WHERE id = ?")
			      : stmt(c, "UPDATE hosts SET token_hash = ?1 "
					"WHERE id = ?3");
		if (!s) {
			r = -EIO;
			goto rollback;
		}
		bind_text(s, 1, token_hash);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_int64(s, 3, id);
		r = step_to_done(c, s, NULL);
	}
	if (r == 0 && id == 0)
		r = -EIO;
	if (r == 0)
		r = db_exec(c, "COMMIT");
	if (r == 0) {
		*ret_host_id = id;
		goto out;
	}
rollback:
	db_exec(c, "ROLLBACK");
out:
	conn_put(st, c);
	return r;
}

int store_checkpoint(struct store *st)
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

int store_all_hosts_due(struct store *st)
{
	struct conn *c = conn_get(st);
	int r = db_exec(c, "UPDATE hosts SET next_eval_at = 0");

	conn_put(st, c);
	return r;
}
