/*
 * db_int.h - what db.c shares with the engines under it (db_sqlite.c,
 * db_pg.c) and nobody else sees: the table of an engine's operations, the
 * head every engine's statement starts with, the error message and the
 * store's health.  db.c holds what is the same on every engine (the
 * statement cache, the reader pool, the helpers over a step, the bodies,
 * db_row_json()) and calls the engine through c->ops.
 */
#ifndef DERELICT_DB_INT_H
#define DERELICT_DB_INT_H

#include "store_int.h"

/* A column's value type, as db_row_json() and db_body_column() ask it. */
enum db_type { DB_T_NULL, DB_T_INT, DB_T_FLOAT, DB_T_TEXT, DB_T_BLOB };

/* The kinds of transaction db.c opens (db.h says what each is for). */
enum db_tx { DB_TX_READ, DB_TX_WRITE };

struct db_load;

struct db_ops {
	const char *name;	/* "SQLite", "PostgreSQL" */
	enum db_dialect dialect;
	/* Opens st's connections and migrates the schema (db_open()). */
	int (*open)(struct store *st, const char *database,
		    const char *password, char err[256]);
	void (*close)(struct store *st);
	int (*check_writable)(struct store *st, char err[256]);
	int (*checkpoint)(struct store *st);
	int (*backup)(struct store *st, const char *dest);
	/* db_leader(). */
	int (*leader)(struct store *st);
	/* "3.40.1 at PATH" without opening anything it would create. */
	int (*describe)(const char *database, const char *password, char *out,
			size_t n, char err[256]);

	/* A transaction on c (reconnecting first where the engine can). */
	int (*begin)(struct db_conn *c, enum db_tx kind);
	int (*commit)(struct db_conn *c);
	bool (*in_tx)(struct db_conn *c);
	/* Only when c is in a transaction; keeps the failure's message. */
	void (*rollback)(struct db_conn *c);
	int (*exec)(struct db_conn *c, const char *sql);
	int (*err)(struct db_conn *c, int rc);

	/* NULL with the error counted (db_err()). */
	struct db_stmt *(*prepare)(struct db_conn *c, const char *sql);
	void (*finalize)(struct db_stmt *s);
	/* Reset keeps the bindings, clear drops them. */
	void (*reset)(struct db_stmt *s);
	void (*clear)(struct db_stmt *s);
	int (*step)(struct db_conn *c, struct db_stmt *s);
	int64_t (*changes)(struct db_conn *c);
	/* The rowid of the last row inserted on c; NULL where an insert's id
	 * comes back with RETURNING only (PostgreSQL). */
	int64_t (*last_id)(struct db_conn *c);

	void (*bind_int)(struct db_stmt *s, int i, int64_t v);
	void (*bind_null)(struct db_stmt *s, int i);
	void (*bind_text)(struct db_stmt *s, int i, const char *v);
	void (*bind_text_take)(struct db_stmt *s, int i, char *v,
			       const char *if_null);
	void (*bind_blob)(struct db_stmt *s, int i, const void *p, size_t n);
	int64_t (*col_int)(struct db_stmt *s, int i);
	double (*col_double)(struct db_stmt *s, int i);
	const char *(*col_text)(struct db_stmt *s, int i);
	const void *(*col_blob)(struct db_stmt *s, int i, size_t *ret_len);
	enum db_type (*col_type)(struct db_stmt *s, int i);
	int (*col_count)(struct db_stmt *s);
	const char *(*col_name)(struct db_stmt *s, int i);

	/* The copy of one database into another (db_copy.c).  The store's
	 * tables, without the engine's own (SQLite's sqlite_* tables, virtual
	 * tables and their shadow tables; PostgreSQL's schema_migrations),
	 * a table's columns in their order, and the tables its foreign keys
	 * name: each a new JSON array of names in *ret, or the error. */
	int (*tables)(struct db_conn *c, json_t **ret);
	int (*columns)(struct db_conn *c, const char *table, json_t **ret);
	int (*parents)(struct db_conn *c, const char *table, json_t **ret);
	/* A bulk load of table's columns (a JSON array of names) on c, in
	 * its transaction: load_row() adds the current row of src (any
	 * engine's statement whose columns are those, in that order), each
	 * value by its type; load_end() finishes it (keep) or abandons it
	 * (the transaction must then roll back) and frees l.  0 or the
	 * error; load_end() answers in *ret_rows how many rows it wrote. */
	int (*load_begin)(struct db_conn *c, const char *table,
			  const json_t *columns, struct db_load **ret);
	int (*load_row)(struct db_load *l, struct db_stmt *src);
	int (*load_end)(struct db_load *l, bool keep, int64_t *ret_rows);
	/* Moves every identity or serial sequence of table past the largest
	 * value its column holds (nothing on SQLite, whose rowids follow
	 * the largest by themselves). */
	int (*ids_after_load)(struct db_conn *c, const char *table);
};

/* Every engine's bulk load starts with this head. */
struct db_load {
	const struct db_ops *ops;
};

/* Every engine's statement starts with this head. */
struct db_stmt {
	const struct db_ops *ops;
};

extern const struct db_ops db_sqlite_ops, db_pg_ops;

/* Sets the message db_errmsg() answers in this thread. */
void db_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Counts a failure r of the file system or of the server against c's
 * store's health (the checkpointer's own, or the commits'), nothing when
 * c belongs to no store yet.  Returns r. */
int db_health_fail(struct db_conn *c, int r);
/* A commit (or a checkpoint, with checkpoint set) succeeded. */
void db_health_ok(struct store *st, bool checkpoint);

/* A reader connection without a transaction (waits while all are busy),
 * and giving it back. */
struct db_conn *db_reader_get(struct store *st);
void db_reader_put(struct store *st, struct db_conn *c);

/* Whether a PostgreSQL URI carries a password (db_pg.c). */
bool db_pg_uri_has_password(const char *uri);

/* Drops every cached statement of c (a connection gone or closing). */
void db_cache_drop(struct db_conn *c);

#endif
