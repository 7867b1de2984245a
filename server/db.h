/*
 * db.h - the database layer under the store_*.c files, and the only place
 * that knows which engine holds the data (SQLite).  Private to the store:
 * store_int.h includes it, nothing else does.
 *
 * Everything engine-specific sits in db.c: opening connections and their
 * PRAGMAs, the prepared-statement cache, the mapping of the engine's
 * result codes to errnos, the WAL and its checkpoints, migrations (the
 * schema version), backups.  Above this layer the SQL text is the only
 * engine-specific thing; the places in it that are SQLite's own (FTS5's
 * trigram index, rowid, "INSERT OR IGNORE") are marked "ENGINE:".
 *
 * Every function that can fail returns 0 (or, where said, a count) or a
 * negative errno as store.h lists them; a failed prepare (a NULL
 * statement) passed on to db_step(), db_run() and the like is -EIO.
 */
#ifndef DERELICT_DB_H
#define DERELICT_DB_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define DB_READERS 8
#define DB_STMT_CACHE 128	/* more than the statements one connection runs */
#define DB_BUSY_TIMEOUT_MS 10000

struct db_conn {
	sqlite3 *db;
	struct {
		const char *sql;	/* static string; its address is the key */
		sqlite3_stmt *stmt;
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
 * WAL policy runs. */
struct db_conn *db_writer(struct store *st);
int db_writer_begin(struct store *st);
int db_writer_commit(struct store *st);
void db_writer_rollback(struct store *st);

/* --- statements --------------------------------------------------------- */

/* The cached prepared statement for sql (a string literal: its address is
 * the key), reset and with its bindings cleared; NULL on a prepare error
 * (already counted by db_err()). */
sqlite3_stmt *db_stmt(struct db_conn *c, const char *sql);

enum { DB_DONE = 0, DB_ROW = 1 };
/* Steps s once: DB_ROW, DB_DONE, or the store's error, so no caller can
 * read an error as "no row".  The caller resets s (db_reset()) when it
 * stops before DB_DONE or an error. */
int db_step(struct db_conn *c, sqlite3_stmt *s);
void db_reset(sqlite3_stmt *s);
/* Steps a bound write (or a read whose first row is ignored) once and
 * resets it; 0 or the error. */
int db_run(struct db_conn *c, sqlite3_stmt *s);
/* Steps a bound write to its end (a RETURNING statement answers its row
 * first: the write is done only at its end), keeping the first column of
 * its last row in *ret_id when ret_id is not NULL; resets it. */
int db_run_returning(struct db_conn *c, sqlite3_stmt *s, int64_t *ret_id);
/* The first column of s's one row: 0 with *ret, -ENOENT without a row, or
 * the error.  Resets s. */
int db_scalar(struct db_conn *c, sqlite3_stmt *s, int64_t *ret);
/* A "SELECT count(*) ..." (bound): 0 with *ret, or the error (a count
 * without its row is -EPROTO, never -1). */
int db_count(struct db_conn *c, sqlite3_stmt *s, int64_t *ret);
/* 0 when the row that s ("SELECT count(*) ... WHERE id = ?") counts for
 * id exists, -ENOENT when it does not, or the error. */
int db_row_exists(struct db_conn *c, sqlite3_stmt *s, int64_t id);
/* Rows the last write on c changed. */
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

/* NULL strings bind as SQL NULL. */
void db_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Binds v's canonical text (NULL binds SQL NULL); -ENOMEM. */
int db_bind_json(sqlite3_stmt *s, int i, const json_t *v);
const char *db_col_text(sqlite3_stmt *s, int i);

/* Section bodies are stored deflated (zlib, behind a 4-byte little-endian
 * length of the text): a thousand packages shrink sixfold, and so does
 * what every changed report writes.  db_body_pack() makes that form;
 * db_body_column() parses a body column in it (or plain text), NULL when
 * it is corrupt. */
int db_body_pack(const char *text, size_t len, unsigned char **ret,
		 size_t *ret_len);
json_t *db_body_column(sqlite3_stmt *s, int col);

/* Builds a JSON object from the current row: every column under its name;
 * columns named "*_at" or "first_seen"/"last_seen" holding integers become
 * RFC 3339 times; columns ending in "_json" are parsed and stored without
 * the suffix. */
json_t *db_row_json(sqlite3_stmt *s);

/* --- the WAL, backups ---------------------------------------------------- */

/* store_checkpoint(), store_backup(), store_health(). */
int db_checkpoint(struct store *st);
int db_backup(struct store *st, const char *dest);
struct store_health;
void db_health(struct store *st, struct store_health *ret);

#endif
