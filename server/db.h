/*
 * db.h - the database layer under the store_*.c files, and the only place
 * that knows which engine holds the data: SQLite (a path) or PostgreSQL
 * (a postgresql:// or postgres:// URI).  Private to the store:
 * store_int.h includes it, nothing else does.
 *
 * db.c holds what is the same on both engines (the statement cache, the
 * reader pool, the helpers over a step, section bodies, db_row_json());
 * everything engine-specific sits in db_sqlite.c and db_pg.c behind the
 * table of db_int.h: opening connections and their settings, preparing,
 * the mapping of the engine's errors to errnos, the WAL and its
 * checkpoints (SQLite's), migrations (the schema version), backups.  Above
 * this layer the SQL text is the only engine-specific thing; the places in
 * it that differ by engine choose with db_dialect() and are marked
 * "ENGINE:".  The SQL is SQLite's with "?" or "?NNN" placeholders: the
 * PostgreSQL engine rewrites them to "$NNN".
 *
 * Every function that can fail returns 0 (or, where said, a count) or a
 * negative errno as store.h lists them; a failed prepare (a NULL
 * statement) passed on to db_step(), db_run() and the like is -EIO.
 */
#ifndef DERELICT_DB_H
#define DERELICT_DB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define DB_READERS 8
#define DB_STMT_CACHE 128	/* more than the statements one connection runs */
#define DB_BUSY_TIMEOUT_MS 10000

/* A prepared statement of the engine's, opaque above this layer: it is
 * bound with db_bind_*(), stepped with db_step() and read with db_col_*(). */
struct db_stmt;

struct db_ops;

struct db_conn {
	const struct db_ops *ops;	/* its engine's (db_int.h) */
	void *handle;		/* the engine's connection, NULL when closed */
	struct {
		const char *sql;	/* static string; its address is the key */
		struct db_stmt *stmt;
	} cache[DB_STMT_CACHE];
	int busy;
	struct store *st;	/* whose health its failures count against */
};

/* --- connections and the schema (store_open(), store_close()) ------------ */

/* Opens the writer (and migrates the schema through it), the checkpointer
 * and the readers of st; err receives a message on failure.  The caller
 * closes st with db_close() either way. */
int db_open(struct store *st, const char *path, char err[256]);
void db_close(struct store *st);

enum db_dialect { DB_SQLITE, DB_POSTGRESQL };
/* Which SQL c speaks, for the few statements written twice ("ENGINE:"). */
enum db_dialect db_dialect(const struct db_conn *c);
/* "SQLite" or "PostgreSQL" (static; "none" before db_open()). */
const char *db_engine_name(const struct store *st);
/* The engine, its version and where the database is, into out: "SQLite
 * 3.40.1 at /var/lib/derelict/derelict.db", "PostgreSQL 15.5 at
 * 127.0.0.1:5432/derelict".  PostgreSQL's is asked of the server (a
 * connection, nothing written); SQLite's opens nothing.  0 or the error
 * with err filled in. */
int db_describe(const char *database, const char *password, char *out,
		size_t n, char err[256]);
/* Whether database is a URI with a password in it (--check-config warns:
 * a config file is read by more than the server). */
bool db_uri_has_password(const char *database);
/* Whether this node does the periodic work (the evaluation pass, the
 * package index, pruning, advisory fetching, digests, the outbox, alerts,
 * the probe) now: 1 when it holds the lock, 0 when another node does or
 * the database is away, or a negative errno.  SQLite's node is alone: 1.
 * PostgreSQL's is pg_try_advisory_lock() on a connection of its own, held
 * as long as that connection lives: a node that dies loses it with its
 * connection, and another takes it at its next try.  Tries and checks are
 * at most one a second; between them the last answer stands. */
int db_leader(struct store *st);
/* A real commit that changes nothing (store_check_writable()). */
int db_check_writable(struct store *st, char err[256]);

/* --- transactions ------------------------------------------------------- */

/* A read: takes a reader connection (waits while all are busy) and opens
 * one snapshot on it for every statement until db_read_end(), which ends
 * it and gives the connection back.  0 or the store's error, with no
 * connection taken. */
int db_read_begin(struct store *st, struct db_conn **ret);
void db_read_end(struct store *st, struct db_conn *c);
/* A write outside the writer thread (the API's, the outbox's sender, the
 * mail schedule): a reader connection in a BEGIN IMMEDIATE transaction.
 * db_write_end() commits when r is 0, else (or when the commit fails)
 * rolls back, so a failed write leaves nothing; it gives the connection
 * back and returns r or the commit's error. */
int db_write_begin(struct store *st, struct db_conn **ret);
int db_write_end(struct store *st, struct db_conn *c, int r);
/* The writer thread's own connection and its batch transaction (prepared
 * once: they run thousands of times a second).  The commit is where the
 * WAL policy runs.  On PostgreSQL a read is REPEATABLE READ READ ONLY (one
 * snapshot, as SQLite's), a write READ COMMITTED, committed with
 * synchronous_commit on; a serialization failure or a deadlock is -EBUSY,
 * a lost connection -EIO (and counts against the health) and is made
 * again at the next begin. */
struct db_conn *db_writer(struct store *st);
int db_writer_begin(struct store *st);
int db_writer_commit(struct store *st);
void db_writer_rollback(struct store *st);

/* --- statements --------------------------------------------------------- */

/* The cached prepared statement for sql (a string literal: its address is
 * the key), reset and with its bindings cleared; NULL on a prepare error
 * (already counted by db_err()). */
struct db_stmt *db_stmt(struct db_conn *c, const char *sql);

enum { DB_DONE = 0, DB_ROW = 1 };
/* Steps s once: DB_ROW, DB_DONE, or the store's error, so no caller can
 * read an error as "no row".  The caller resets s (db_reset()) when it
 * stops before DB_DONE or an error. */
int db_step(struct db_conn *c, struct db_stmt *s);
void db_reset(struct db_stmt *s);
/* Steps a bound write (or a read whose first row is ignored) once and
 * resets it; 0 or the error. */
int db_run(struct db_conn *c, struct db_stmt *s);
/* Steps a bound write to its end (a RETURNING statement answers its row
 * first: the write is done only at its end), keeping the first column of
 * its last row in *ret_id when ret_id is not NULL; resets it. */
int db_run_returning(struct db_conn *c, struct db_stmt *s, int64_t *ret_id);
/* Runs a bound INSERT of one row and keeps its id in *ret_id (0 when it
 * inserted nothing): from its RETURNING id where it has one, as it must
 * on PostgreSQL, else SQLite's rowid, where RETURNING costs 2.5 times
 * the insert (written per engine, marked ENGINE:).  Resets it. */
int db_insert(struct db_conn *c, struct db_stmt *s, int64_t *ret_id);
/* The first column of s's one row: 0 with *ret, -ENOENT without a row, or
 * the error.  Resets s. */
int db_scalar(struct db_conn *c, struct db_stmt *s, int64_t *ret);
/* A "SELECT count(*) ..." (bound): 0 with *ret, or the error (a count
 * without its row is -EPROTO, never -1). */
int db_count(struct db_conn *c, struct db_stmt *s, int64_t *ret);
/* 0 when the row that s ("SELECT count(*) ... WHERE id = ?") counts for
 * id exists, -ENOENT when it does not, or the error. */
int db_row_exists(struct db_conn *c, struct db_stmt *s, int64_t id);
/* One statement's parameters, typed, for db_run_with():
 * DB_INT(x), DB_TEXT(s) (NULL binds NULL; copied), DB_NULL. */
struct db_arg {
	enum { DB_ARG_INT, DB_ARG_TEXT, DB_ARG_NULL } type;
	int64_t i;
	const char *t;
};
#define DB_INT(x) ((struct db_arg){ .type = DB_ARG_INT, .i = (x) })
#define DB_TEXT(x) ((struct db_arg){ .type = DB_ARG_TEXT, .t = (x) })
#define DB_NULL ((struct db_arg){ .type = DB_ARG_NULL })
/* Prepares sql (a literal, as for db_stmt()), binds args ?1..?n in order
 * and runs it as db_run() does: the prepare, bind and step written once.
 * 0 or the error (-EIO when it does not prepare). */
int db_run_args(struct db_conn *c, const char *sql, const struct db_arg *args,
		size_t n);
#define db_run_with(c, sql, ...)                                              \
	db_run_args(c, sql, (const struct db_arg[]){ __VA_ARGS__ },          \
		    sizeof((const struct db_arg[]){ __VA_ARGS__ }) /           \
			    sizeof(struct db_arg))
/* Rows the last write on c changed (an insert's id comes back with
 * "RETURNING id", db_run_returning()). */
int64_t db_changes(struct db_conn *c);
/* Runs SQL without results; 0 or the error. */
int db_exec(struct db_conn *c, const char *sql);

/* Maps an engine result code to a negative errno, remembers the message
 * (store_errmsg()) and counts a failure of the file system against the
 * store's health. */
int db_err(struct db_conn *c, int rc);
/* A message describing the last database error of this thread. */
const char *db_errmsg(void);

/* --- values ------------------------------------------------------------- */

/* Parameters count from 1, columns from 0, as in SQL.  A bind can fail
 * only for want of memory or a wrong index, which the step then answers
 * (SQLite reports it there), so binds return nothing. */
void db_bind_int(struct db_stmt *s, int i, int64_t v);
void db_bind_null(struct db_stmt *s, int i);
/* NULL strings bind as SQL NULL; v is copied. */
void db_bind_text(struct db_stmt *s, int i, const char *v);
/* Binds v and takes it (it is freed when the statement lets go of it), or
 * binds if_null (not copied: a literal) when v is NULL. */
void db_bind_text_take(struct db_stmt *s, int i, char *v, const char *if_null);
/* Binds n bytes at p, not copied: p must stay valid until s is reset. */
void db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n);
/* Binds v's canonical text (NULL binds SQL NULL); -ENOMEM. */
int db_bind_json(struct db_stmt *s, int i, const json_t *v);
int64_t db_col_int(struct db_stmt *s, int i);
/* NULL for SQL NULL; valid until the next step or reset of s. */
const char *db_col_text(struct db_stmt *s, int i);
/* The bytes of column i in *ret_len and where they are (NULL when empty or
 * NULL); valid until the next step or reset of s. */
const void *db_col_blob(struct db_stmt *s, int i, size_t *ret_len);
bool db_col_null(struct db_stmt *s, int i);

/* Section bodies are stored deflated (zlib, behind a 4-byte little-endian
 * length of the text): a thousand packages shrink sixfold, and so does
 * what every changed report writes.  db_body_pack() makes that form;
 * db_body_column() parses a body column in it (or plain text, as an older
 * derelictd kept it: in a TEXT column, or in a bytea one where migrate-to
 * copied it), NULL when it is corrupt. */
int db_body_pack(const char *text, size_t len, unsigned char **ret,
		 size_t *ret_len);
json_t *db_body_column(struct db_stmt *s, int col);

/* Builds a JSON object from the current row: every column under its name;
 * columns named "*_at" or "first_seen"/"last_seen" holding integers become
 * RFC 3339 times; columns ending in "_json" are parsed and stored without
 * the suffix. */
json_t *db_row_json(struct db_stmt *s);

/* --- the WAL, backups ---------------------------------------------------- */

/* store_checkpoint(), store_backup(), store_health().  On PostgreSQL a
 * checkpoint is nothing and a backup is refused (-ENOTSUP: pg_dump). */
int db_checkpoint(struct store *st);
int db_backup(struct store *st, const char *dest);
struct store_health;
void db_health(struct store *st, struct store_health *ret);

/* --- copying a whole database (db_copy.c; derelictd migrate-to) ---------- */

/* Copies every table of from's database into to's (whose schema version
 * is the same: both stores are open, so both are migrated), parents
 * before children by the source's foreign keys, from one read snapshot of
 * from into one transaction on to, each value by its type, in bulk (COPY
 * on PostgreSQL).  Refuses (-EEXIST) when a table of must_be_empty (a
 * NULL-terminated list of names) holds a row in to; the rows the
 * migrations seed in to are replaced by from's.  Then moves to's id
 * sequences past the copied ids and counts every table on both sides
 * before the commit: any difference rolls everything back (-EPROTO).
 * On success *ret is a new {"tables": [{"name", "rows"}, ...], "rows"}
 * in the order copied; else err says why and nothing of to changed. */
int db_copy(struct store *from, struct store *to,
	    const char *const *must_be_empty, json_t **ret, char err[256]);

#endif
