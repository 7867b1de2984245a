/*
 * db_engine.c - which engine a "database" value names (a path: SQLite; a
 * postgresql:// or postgres:// URI: PostgreSQL), and opening a store on
 * it.  Apart from db.c so that the engines, which call db.c, are called
 * by name only from here.
 */
#include "db_int.h"

#include <stdio.h>
#include <string.h>

static bool is_pg_uri(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	       strncmp(database, "postgres://", 11) == 0;
}

static const struct db_ops *engine_of(const char *database)
{
	return is_pg_uri(database) ? &db_pg_ops : &db_sqlite_ops;
}

enum db_dialect db_dialect(const struct db_conn *c)
{
	return c->ops->dialect;
}

const char *db_engine_name(const struct store *st)
{
	return st->writer.ops ? st->writer.ops->name : "none";
}

bool db_uri_has_password(const char *database)
{
	return is_pg_uri(database) && db_pg_uri_has_password(database);
}

int db_describe(const char *database, const char *password, char *out,
		size_t n, char err[256])
{
	const struct db_ops *ops = engine_of(database);
	char what[200];
	int r = ops->describe(database, password, what, sizeof(what), err);

	if (r == 0)
		snprintf(out, n, "%s %s", ops->name, what);
	return r;
}

int db_open(struct store *st, const char *database, char err[256])
{
	const struct db_ops *ops = engine_of(database);
	const char *password = st->cfg ? st->cfg->database_password : NULL;

	/* Set first: db_close() after a failure closes what was opened. */
	st->writer.ops = st->checkpointer.ops = ops;
	for (int i = 0; i < DB_READERS; i++)
		st->readers[i].ops = ops;
	return ops->open(st, database, password, err);
}
