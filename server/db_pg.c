/*
 * db_pg.c - the PostgreSQL engine under db.c (db_int.h), over libpq: the
 * writer's and the readers' connections (no checkpointer: PostgreSQL
 * checkpoints by itself), statements prepared at their first step with the
 * types of their first binds, results read as text, the mapping of
 * SQLSTATEs to errnos, migrations from sql/pg/ tracked in
 * schema_migrations.  The only file that speaks libpq (make check-style).
 */
#include "db_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "embed.h"
#include "timeutil.h"

extern const struct embedded_file embedded_sql_pg[];

/* The type OIDs of pg_type.h that the binds send and the columns read. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

/* The advisory lock held across migrations by whichever node migrates:
 * two derelictd starting on one database do not apply a file twice. */
#define MIGRATE_LOCK "1684171883"

/* The advisory lock whose holder does the periodic work (db_leader()):
 * "derelict" in ASCII, a key no other program of the database's should
 * pick. */
#define LEADER_LOCK "7234315319808127860"
/* Seconds between two tries of a follower (or two checks of the leader's
 * connection): a node takes over within this much of [rules]
 * evaluate_every, and a thousand nodes cost a database little. */
#define LEADER_ASK_EVERY 1

/* More parameters than any statement of the store has: a cap on what the
 * rewriting allocates. */
#define PG_PARAMS_MAX 4096

struct pg_conn {
	PGconn *pg;
	const char *uri;	/* st->path */
	const char *password;	/* the config's; NULL: the URI's or PGPASSFILE */
	int64_t changes;	/* rows the last INSERT/UPDATE/DELETE changed */
	unsigned next_name;	/* of prepared statements */
	int reader;		/* one of st->readers (reader_setup()) */
};

struct pg_stmt {
	struct db_stmt head;
	struct db_conn *c;
	char name[16];
	char *sql;		/* with $NNN placeholders */
	bool prepared;
	int n;			/* parameters */
	Oid *types;		/* of the first binds: what it is prepared with */
	const char **values;
	int *lengths, *formats;
	char **owned;		/* values this statement frees */
	char (*ints)[24];	/* int binds' text */
	PGresult *res;
	int row, nrows;
	bool done;
	unsigned char **blobs;	/* unescaped bytea of this row, by column */
	size_t *blob_lens;
};

static inline struct pg_stmt *P(struct db_stmt *s)
{
	return (struct pg_stmt *)s;
}

static inline struct pg_conn *C(struct db_conn *c)
{
	return c->handle;
}

/* --- errors -------------------------------------------------------------------- */

static void set_message(const char *msg)
{
	char one[256];
	size_t n = 0;

	/* libpq's messages run over lines ("ERROR:  ...\nLINE 1: ...\n"):
	 * one line for the log, its spaces folded. */
	for (const char *p = msg ? msg : ""; *p && n < sizeof(one) - 1; p++) {
		char ch = *p == '\n' || *p == '\t' ? ' ' : *p;

		if (ch == ' ' && (n == 0 || one[n - 1] == ' '))
			continue;
		one[n++] = ch;
	}
	while (n && one[n - 1] == ' ')
		n--;
	one[n] = '\0';
	db_error_set("%s", n ? one : "PostgreSQL error");
}

/* Maps a failed result (or, res NULL, the connection's error) to an errno.
 * The connection lost, the disk full, a standby's read-only transaction or
 * a corrupt page are the server's health; a constraint, a conflict or a
 * bad statement are the caller's. */
static int pg_fail(struct db_conn *c, PGresult *res)
{
	PGconn *pg = c->handle ? C(c)->pg : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;

	set_message(msg && *msg ? msg : pg ? PQerrorMessage(pg) : NULL);
	if (!pg || PQstatus(pg) == CONNECTION_BAD)
		return db_health_fail(c, -EIO);
	if (!state)
		return res ? -EPROTO : -ENOMEM;
	if (strncmp(state, "23", 2) == 0)
		return -EEXIST;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "53300") == 0 ||
	    strcmp(state, "57014") == 0)
		return -EBUSY;
	if (strcmp(state, "53200") == 0)
		return -ENOMEM;
	if (strcmp(state, "53100") == 0)
		return db_health_fail(c, -ENOSPC);
	if (strcmp(state, "25006") == 0)
		return db_health_fail(c, -EROFS);
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
		return db_health_fail(c, -EUCLEAN);
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strncmp(state, "58", 2) == 0)
		return db_health_fail(c, -EIO);
	return -EPROTO;
}

static int pg_err(struct db_conn *c, int rc)
{
	(void)rc;
	return pg_fail(c, NULL);
}

/* --- connections --------------------------------------------------------------- */

static void no_notices(void *arg, const char *message)
{
	/* Only the top layer logs; a NOTICE is nothing it must hear of. */
	(void)arg;
	(void)message;
}

static int run_simple(PGconn *pg, const char *sql, PGresult **ret)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType t = PQresultStatus(res);

	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		set_message(res && *PQresultErrorMessage(res)
				    ? PQresultErrorMessage(res)
				    : PQerrorMessage(pg));
		PQclear(res);
		return PQstatus(pg) == CONNECTION_BAD ? -EIO : -EPROTO;
	}
	if (ret)
		*ret = res;
	else
		PQclear(res);
	return 0;
}

/* Connects to uri and sets the session up.  NULL with the message set. */
static PGconn *connect_to(const char *uri, const char *password)
{
	/* Ours first, the URI's after (it may name another application),
	 * the password file's last (it overrides the URI's). */
	const char *keys[] = { "application_name", "client_encoding",
			       "connect_timeout", "dbname", "password", NULL };
	const char *values[] = { "derelictd", "UTF8", "10", uri, password,
				 NULL };
	PGconn *pg = PQconnectdbParams(keys, values, 1);

	if (!pg) {
		db_error_set("out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		set_message(PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, no_notices, NULL);
	/* on is the default; set anyway, since a role's or a database's
	 * setting could have turned it off: a 200 promises the report is on
	 * the server's disk (and, with synchronous standbys, on theirs). */
	if (run_simple(pg, "SET synchronous_commit = on", NULL) < 0) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* ORDER BY on text must order bytewise, as SQLite does: pages and their
 * cursors depend on it.  0 or -EINVAL with err saying what to run. */
static int check_collation(PGconn *pg, char err[256])
{
	PGresult *res;
	int r = run_simple(pg,
			   "SELECT datcollate, datctype FROM pg_database "
			   "WHERE datname = current_database()",
			   &res);
	const char *coll, *ctype;

	if (r < 0) {
		snprintf(err, 256, "cannot read the collation: %.200s",
			 db_errmsg());
		return r;
	}
	coll = PQntuples(res) ? PQgetvalue(res, 0, 0) : "?";
	ctype = PQntuples(res) ? PQgetvalue(res, 0, 1) : "?";
	if ((strcmp(coll, "C") != 0 && strcmp(coll, "POSIX") != 0) ||
	    (strcmp(ctype, "C") != 0 && strcmp(ctype, "POSIX") != 0)) {
		snprintf(err, 256,
			 "database %.40s collates by %.20s, not bytewise; "
			 "create it with CREATE DATABASE %.40s TEMPLATE "
			 "template0 LC_COLLATE 'C' LC_CTYPE 'C'",
			 PQdb(pg), coll, PQdb(pg));
		PQclear(res);
		return -EINVAL;
	}
	PQclear(res);
	return 0;
}

/* A reader plans each statement for its values: after five runs a
 * prepared statement may keep a generic plan, and the list's search
 * (hostname ILIKE $9 ... ORDER BY id LIMIT) then walked the whole table in
 * id order instead of the trigram indexes: 65-145 ms against 2 ms at
 * 100,000 hosts (the engine bench).  The writer keeps the default: its
 * statements are the same small ones thousands of times a report. */
static int reader_setup(struct pg_conn *p)
{
	if (!p->reader ||
	    run_simple(p->pg, "SET plan_cache_mode = force_custom_plan",
		       NULL) == 0)
		return 0;
	PQfinish(p->pg);
	p->pg = NULL;
	return -EIO;
}

static int conn_open(struct db_conn *c, const char *uri, const char *password)
{
	struct pg_conn *p = calloc(1, sizeof(*p));

	if (!p) {
		db_error_set("out of memory");
		return -ENOMEM;
	}
	p->uri = uri;
	p->password = password;
	c->handle = p;
	p->pg = connect_to(uri, password);
	return p->pg ? 0 : -EIO;
}

static void conn_close(struct db_conn *c)
{
	const struct db_ops *ops = c->ops;

	db_cache_drop(c);
	if (c->handle) {
		PQfinish(C(c)->pg);
		free(c->handle);
	}
	memset(c, 0, sizeof(*c));
	c->ops = ops;
}

/* A connection lost (the server restarted, the network) is made again
 * here, at the start of a transaction, never inside one: what the lost
 * transaction did is gone with it, and its caller has had the -EIO. */
static int conn_ensure(struct db_conn *c)
{
	struct pg_conn *p = C(c);

	if (p->pg && PQstatus(p->pg) == CONNECTION_OK)
		return 0;
	/* Its prepared statements went with it. */
	db_cache_drop(c);
	PQfinish(p->pg);
	p->pg = connect_to(p->uri, p->password);
	if (!p->pg || reader_setup(p) < 0)
		return db_health_fail(c, -EIO);
	return 0;
}

/* --- statements ---------------------------------------------------------------- */

/* SQLite's placeholders to PostgreSQL's: "?NNN" is "$NNN", a bare "?" is
 * one more than the largest number before it (SQLite's rule).  Quoted
 * strings and names and comments are copied as they are.  NULL on a
 * placeholder past PG_PARAMS_MAX or without memory. */
static char *rewrite(const char *sql, int *ret_n)
{
	size_t len = strlen(sql);
	char *out = malloc(len * 6 + 1), *o = out;
	const char *p = sql;
	int max = 0;
	char quote = 0;

	if (!out)
		return NULL;
	while (*p) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			*o++ = *p++;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			*o++ = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (*p == '?') {
			long k;
			char *end;

			p++;
			if (*p >= '0' && *p <= '9') {
				k = strtol(p, &end, 10);
				p = end;
			} else {
				k = max + 1;
			}
			if (k < 1 || k > PG_PARAMS_MAX) {
				free(out);
				return NULL;
			}
			if (k > max)
				max = (int)k;
			o += snprintf(o, 8, "$%ld", k);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*ret_n = max;
	return out;
}

static void free_blobs(struct pg_stmt *s)
{
	if (!s->blobs)
		return;
	for (int i = 0; s->res && i < PQnfields(s->res); i++) {
		free(s->blobs[i]);
		s->blobs[i] = NULL;
	}
}

static void free_value(struct pg_stmt *s, int i)
{
	free(s->owned[i]);
	s->owned[i] = NULL;
	s->values[i] = NULL;
	s->lengths[i] = 0;
	s->formats[i] = 0;
}

static void pg_reset(struct db_stmt *st)
{
	struct pg_stmt *s = P(st);

	free_blobs(s);
	free(s->blobs);
	free(s->blob_lens);
	s->blobs = NULL;
	s->blob_lens = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	s->nrows = 0;
	s->done = false;
}

static void pg_clear(struct db_stmt *st)
{
	struct pg_stmt *s = P(st);

	for (int i = 0; s->owned && i < s->n; i++)
		free_value(s, i);
}

static void pg_finalize(struct db_stmt *st)
{
	struct pg_stmt *s = P(st);

	if (!st)
		return;
	pg_reset(st);
	pg_clear(st);
	/* The server's copy too, unless the connection or its transaction
	 * is gone (it goes with them). */
	if (s->prepared && s->c->handle && C(s->c)->pg &&
	    PQstatus(C(s->c)->pg) == CONNECTION_OK &&
	    PQtransactionStatus(C(s->c)->pg) != PQTRANS_INERROR) {
		char sql[40];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
		PQclear(PQexec(C(s->c)->pg, sql));
	}
	free(s->sql);
	free(s->types);
	free(s->values);
	free(s->lengths);
	free(s->formats);
	free(s->owned);
	free(s->ints);
	free(s);
}

static struct db_stmt *pg_prepare(struct db_conn *c, const char *sql)
{
	struct pg_stmt *s = calloc(1, sizeof(*s));
	size_t n;

	if (!s)
		goto nomem;
	s->head.ops = &db_pg_ops;
	s->c = c;
	s->row = -1;
	s->sql = rewrite(sql, &s->n);
	if (!s->sql) {
		free(s);
		db_error_set("a statement's placeholders are past %d or out "
			     "of memory", PG_PARAMS_MAX);
		return NULL;
	}
	n = s->n ? (size_t)s->n : 1;
	s->types = calloc(n, sizeof(*s->types));
	s->values = calloc(n, sizeof(*s->values));
	s->lengths = calloc(n, sizeof(*s->lengths));
	s->formats = calloc(n, sizeof(*s->formats));
	s->owned = calloc(n, sizeof(*s->owned));
	s->ints = calloc(n, sizeof(*s->ints));
	if (!s->types || !s->values || !s->lengths || !s->formats ||
	    !s->owned || !s->ints) {
		pg_finalize(&s->head);
		goto nomem;
	}
	snprintf(s->name, sizeof(s->name), "d%u", C(c)->next_name++);
	return &s->head;
nomem:
	db_error_set("out of memory");
	return NULL;
}

/* Prepares s on the server the first time it runs, with the types its
 * binds have now: the store binds each parameter with one type. */
static int execute(struct db_conn *c, struct pg_stmt *s)
{
	PGconn *pg = C(c)->pg;
	PGresult *res;
	ExecStatusType t;
	const char *status;

	if (!s->prepared) {
		res = PQprepare(pg, s->name, s->sql, s->n, s->types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			int r = pg_fail(c, res);

			PQclear(res);
			return r;
		}
		PQclear(res);
		s->prepared = true;
	}
	res = PQexecPrepared(pg, s->name, s->n, s->values, s->lengths,
			     s->formats, 0);
	t = PQresultStatus(res);
	if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
		int r = pg_fail(c, res);

		PQclear(res);
		return r;
	}
	status = PQcmdStatus(res);
	if (strncmp(status, "INSERT", 6) == 0 ||
	    strncmp(status, "UPDATE", 6) == 0 ||
	    strncmp(status, "DELETE", 6) == 0 ||
	    strncmp(status, "MERGE", 5) == 0)
		C(c)->changes = strtoll(PQcmdTuples(res), NULL, 10);
	s->res = res;
	s->nrows = t == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	s->row = -1;
	if (PQnfields(res) > 0) {
		s->blobs = calloc((size_t)PQnfields(res), sizeof(*s->blobs));
		s->blob_lens = calloc((size_t)PQnfields(res),
				      sizeof(*s->blob_lens));
		if (!s->blobs || !s->blob_lens) {
			db_error_set("out of memory");
			pg_reset(&s->head);
			return -ENOMEM;
		}
	}
	return 0;
}

static int pg_step(struct db_conn *c, struct db_stmt *st)
{
	struct pg_stmt *s = P(st);
	int r;

	if (!s->res) {
		if (s->done)
			return DB_DONE;
		r = execute(c, s);
		if (r < 0)
			return r;
	}
	free_blobs(s);
	if (++s->row < s->nrows)
		return DB_ROW;
	pg_reset(st);
	s->done = true;
	return DB_DONE;
}

static int pg_exec(struct db_conn *c, const char *sql)
{
	PGresult *res = PQexec(C(c)->pg, sql);
	ExecStatusType t = PQresultStatus(res);
	int r = 0;

	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		r = pg_fail(c, res);
	PQclear(res);
	return r;
}

static int64_t pg_changes(struct db_conn *c)
{
	return C(c)->changes;
}

/* --- values -------------------------------------------------------------------- */

/* The slot of parameter i (from 1), or NULL: SQLite ignores a bind out of
 * range as well (and the step then says what is missing). */
static struct pg_stmt *param(struct db_stmt *st, int i)
{
	struct pg_stmt *s = P(st);

	if (i < 1 || i > s->n)
		return NULL;
	free_value(s, i - 1);
	return s;
}

static void set_type(struct pg_stmt *s, int i, Oid type)
{
	/* Only before it is prepared: then the server knows the type. */
	if (!s->prepared)
		s->types[i] = type;
}

static void pg_bind_int(struct db_stmt *st, int i, int64_t v)
{
	struct pg_stmt *s = param(st, i);

	if (!s)
		return;
	snprintf(s->ints[i - 1], sizeof(s->ints[i - 1]), "%" PRId64, v);
	s->values[i - 1] = s->ints[i - 1];
	set_type(s, i - 1, OID_INT8);
}

static void pg_bind_null(struct db_stmt *st, int i)
{
	(void)param(st, i);
}

static void pg_bind_text_take(struct db_stmt *st, int i, char *v,
			      const char *if_null)
{
	struct pg_stmt *s = param(st, i);

	if (!s) {
		free(v);
		return;
	}
	s->owned[i - 1] = v;
	s->values[i - 1] = v ? v : if_null;
	if (s->values[i - 1])
		set_type(s, i - 1, OID_TEXT);
}

static void pg_bind_text(struct db_stmt *st, int i, const char *v)
{
	char *copy = v ? strdup(v) : NULL;

	/* Without memory the parameter is NULL, and a NOT NULL column says
	 * so at the step. */
	pg_bind_text_take(st, i, copy, NULL);
}

static void pg_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	struct pg_stmt *s = param(st, i);

	if (!s)
		return;
	/* Binary: no escaping of what may be megabytes of deflated body. */
	s->values[i - 1] = p ? p : "";
	s->lengths[i - 1] = (int)n;
	s->formats[i - 1] = 1;
	set_type(s, i - 1, OID_BYTEA);
}

static bool has_value(struct pg_stmt *s, int i)
{
	return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 &&
	       i < PQnfields(s->res) && !PQgetisnull(s->res, s->row, i);
}

static int64_t pg_col_int(struct db_stmt *st, int i)
{
	struct pg_stmt *s = P(st);
	const char *v;

	if (!has_value(s, i))
		return 0;
	v = PQgetvalue(s->res, s->row, i);
	if (PQftype(s->res, i) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static double pg_col_double(struct db_stmt *st, int i)
{
	struct pg_stmt *s = P(st);

	return has_value(s, i) ? strtod(PQgetvalue(s->res, s->row, i), NULL)
			       : 0.0;
}

/* Column i of a bytea, unescaped once per row and kept until the next
 * step or reset. */
static const unsigned char *bytea(struct pg_stmt *s, int i, size_t *ret_len)
{
	if (!s->blobs[i]) {
		size_t n = 0;
		unsigned char *raw = PQunescapeBytea(
			(const unsigned char *)PQgetvalue(s->res, s->row, i),
			&n);
		unsigned char *z;

		if (!raw)
			return NULL;
		/* NUL-terminated, so db_col_text() may answer it too. */
		z = malloc(n + 1);
		if (!z) {
			PQfreemem(raw);
			return NULL;
		}
		memcpy(z, raw, n);
		z[n] = '\0';
		PQfreemem(raw);
		s->blobs[i] = z;	/* freed with free(): see free_blobs() */
		s->blob_lens[i] = n;
	}
	*ret_len = s->blob_lens[i];
	return s->blobs[i];
}

static const char *pg_col_text(struct db_stmt *st, int i)
{
	struct pg_stmt *s = P(st);
	size_t n;

	if (!has_value(s, i))
		return NULL;
	if (PQftype(s->res, i) == OID_BYTEA)
		return (const char *)bytea(s, i, &n);
	return PQgetvalue(s->res, s->row, i);
}

static const void *pg_col_blob(struct db_stmt *st, int i, size_t *ret_len)
{
	struct pg_stmt *s = P(st);

	*ret_len = 0;
	if (!has_value(s, i))
		return NULL;
	if (PQftype(s->res, i) == OID_BYTEA)
		return bytea(s, i, ret_len);
	*ret_len = (size_t)PQgetlength(s->res, s->row, i);
	return PQgetvalue(s->res, s->row, i);
}

static enum db_type pg_col_type(struct db_stmt *st, int i)
{
	struct pg_stmt *s = P(st);

	if (!has_value(s, i))
		return DB_T_NULL;
	switch (PQftype(s->res, i)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return DB_T_INT;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return DB_T_FLOAT;
	case OID_BYTEA:
		return DB_T_BLOB;
	default:
		return DB_T_TEXT;
	}
}

static int pg_col_count(struct db_stmt *st)
{
	return P(st)->res ? PQnfields(P(st)->res) : 0;
}

static const char *pg_col_name(struct db_stmt *st, int i)
{
	return P(st)->res ? PQfname(P(st)->res, i) : "";
}

/* --- transactions -------------------------------------------------------------- */

static bool pg_in_tx(struct db_conn *c)
{
	PGTransactionStatusType t;

	if (!c->handle || !C(c)->pg)
		return false;
	t = PQtransactionStatus(C(c)->pg);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR ||
	       t == PQTRANS_ACTIVE;
}

static int pg_begin(struct db_conn *c, enum db_tx kind)
{
	/* A read sees one snapshot, as SQLite's does; a write is READ
	 * COMMITTED, each statement seeing what committed before it. */
	const char *sql = kind == DB_TX_READ
			      ? "BEGIN ISOLATION LEVEL REPEATABLE READ "
				"READ ONLY"
			      : "BEGIN";
	PGresult *res;
	int r = conn_ensure(c);

	if (r < 0)
		return r;
	res = PQexec(C(c)->pg, sql);
	/* A connection the server closed while it sat idle (PostgreSQL
	 * restarted, or was killed and came back) shows it only now, at its
	 * first statement.  Nothing of the transaction has run: it is made
	 * again once and begun there, not a 503 for every idle connection
	 * after the database is back. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQstatus(C(c)->pg) == CONNECTION_BAD) {
		PQclear(res);
		r = conn_ensure(c);
		if (r < 0)
			return r;
		res = PQexec(C(c)->pg, sql);
	}
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(c, res);
	PQclear(res);
	return r;
}

static int pg_commit(struct db_conn *c)
{
	PGresult *res;
	int r = 0;

	/* A statement failed and aborted the transaction: the commit would
	 * only roll it back.  Say so without replacing the message of the
	 * failure (store_errmsg()); the caller has its error already. */
	if (PQtransactionStatus(C(c)->pg) == PQTRANS_INERROR) {
		PQclear(PQexec(C(c)->pg, "ROLLBACK"));
		return -EPROTO;
	}
	res = PQexec(C(c)->pg, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = pg_fail(c, res);
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* A failed statement earlier aborted the transaction, and its
		 * COMMIT rolled it back: nothing of it is kept. */
		db_error_set("the transaction failed before its commit and "
			     "was rolled back");
		r = -EPROTO;
	}
	PQclear(res);
	if (r == 0 && c->st)
		db_health_ok(c->st, false);
	return r;
}

static void pg_rollback(struct db_conn *c)
{
	if (pg_in_tx(c))
		PQclear(PQexec(C(c)->pg, "ROLLBACK"));
}

/* --- opening, the schema --------------------------------------------------------- */

static int migrate(struct db_conn *c, char err[256])
{
	PGconn *pg = C(c)->pg;
	PGresult *res;
	int64_t current = 0, newest = 0;
	char sql[160];
	int r;

	r = run_simple(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", NULL);
	if (r == 0)
		r = run_simple(pg,
			       "CREATE TABLE IF NOT EXISTS schema_migrations ("
			       "version bigint PRIMARY KEY, "
			       "applied_at bigint NOT NULL)",
			       NULL);
	if (r == 0)
		r = run_simple(pg,
			       "SELECT coalesce(max(version), 0) FROM "
			       "schema_migrations",
			       &res);
	if (r < 0) {
		snprintf(err, 256, "cannot read the schema version: %.200s",
			 db_errmsg());
		goto out;
	}
	current = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	for (const struct embedded_file *f = embedded_sql_pg; f->name; f++) {
		int64_t version = strtoll(f->name, NULL, 10);

		if (version > newest)
			newest = version;
		if (version <= current)
			continue;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_migrations (version, applied_at) "
			 "VALUES (%" PRId64 ", %" PRId64 ")",
			 version, (int64_t)time_now());
		if ((r = run_simple(pg, "BEGIN", NULL)) < 0 ||
		    (r = run_simple(pg, (const char *)f->data, NULL)) < 0 ||
		    (r = run_simple(pg, sql, NULL)) < 0 ||
		    (r = run_simple(pg, "COMMIT", NULL)) < 0) {
			snprintf(err, 256, "migration pg/%s failed: %.200s",
				 f->name, db_errmsg());
			PQclear(PQexec(pg, "ROLLBACK"));
			goto out;
		}
		current = version;
	}
	if (current > newest) {
		snprintf(err, 256,
			 "database schema version %" PRId64 " is newer than "
			 "this derelictd (%" PRId64 "); refusing to start",
			 current, newest);
		r = -EPROTO;
	}
out:
	PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
	return r;
}

static int pg_open(struct store *st, const char *uri, const char *password,
		   char err[256])
{
	int r = conn_open(&st->writer, uri, password);

	if (r < 0) {
		snprintf(err, 256, "cannot connect to PostgreSQL: %.180s",
			 db_errmsg());
		return r;
	}
	r = check_collation(C(&st->writer)->pg, err);
	if (r < 0)
		return r;
	r = migrate(&st->writer, err);
	if (r < 0)
		return r;
	for (int i = 0; i < DB_READERS; i++) {
		r = conn_open(&st->readers[i], uri, password);
		if (r == 0) {
			C(&st->readers[i])->reader = 1;
			r = reader_setup(C(&st->readers[i]));
		}
		if (r < 0) {
			snprintf(err, 256, "cannot connect to PostgreSQL: "
					   "%.180s",
				 db_errmsg());
			return r;
		}
	}
	st->writer.st = st;
	for (int i = 0; i < DB_READERS; i++)
		st->readers[i].st = st;
	return 0;
}

static void pg_close(struct store *st)
{
	/* Closing the session gives the leader's lock up at once. */
	if (st->leader.handle)
		conn_close(&st->leader);
	for (int i = 0; i < DB_READERS; i++)
		if (st->readers[i].handle)
			conn_close(&st->readers[i]);
	if (st->writer.handle)
		conn_close(&st->writer);
}

static int pg_check_writable(struct store *st, char err[256])
{
	struct db_conn *c = &st->writer;
	int r;

	/* A real commit: a standby or a full disk refuses it now, not at
	 * the first report. */
	if ((r = pg_begin(c, DB_TX_WRITE)) == 0 &&
	    (r = pg_exec(c, "UPDATE schema_migrations SET applied_at = "
			    "applied_at WHERE version = (SELECT max(version) "
			    "FROM schema_migrations)")) == 0 &&
	    (r = pg_commit(c)) == 0)
		return 0;
	pg_rollback(c);
	snprintf(err, 256, "cannot write to PostgreSQL: %.180s%s",
		 db_errmsg(), r == -EROFS ? " (a standby?)" : "");
	return r;
}

static int pg_checkpoint(struct store *st)
{
	/* PostgreSQL checkpoints by itself. */
	(void)st;
	return 0;
}

static int pg_backup(struct store *st, const char *dest)
{
	(void)st;
	(void)dest;
	db_error_set("derelictd backup copies a SQLite database; on "
		     "PostgreSQL use pg_dump");
	return -ENOTSUP;
}

static int64_t monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The lock is the leader connection's session's: while it is held, a
 * check is a round trip on it (a dropped connection fails it, and the
 * server has let the lock go with the connection).  A follower, or a
 * leader that lost its connection, connects again and tries. */
static int leader_ask(struct store *st)
{
	struct db_conn *c = &st->leader;
	PGresult *res = NULL;
	int r;

	if (!c->handle) {
		struct pg_conn *w = C(&st->writer);

		c->ops = &db_pg_ops;
		r = conn_open(c, w->uri, w->password);
		if (r < 0 && c->handle) {
			free(c->handle);
			c->handle = NULL;
		}
		if (r < 0)
			return 0;
		c->st = st;
	}
	if (!C(c)->pg || PQstatus(C(c)->pg) != CONNECTION_OK) {
		PQfinish(C(c)->pg);
		C(c)->pg = connect_to(C(c)->uri, C(c)->password);
		if (!C(c)->pg)
			return 0;
	}
	if (st->leading)
		r = run_simple(C(c)->pg, "SELECT 1", &res);
	else
		r = run_simple(C(c)->pg,
			       "SELECT pg_try_advisory_lock(" LEADER_LOCK ")",
			       &res);
	if (r < 0)
		return 0;
	if (!st->leading)
		r = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	else
		r = 1;
	PQclear(res);
	return r;
}

static int pg_leader(struct store *st)
{
	int64_t now = monotonic_s();
	int r;

	pthread_mutex_lock(&st->leader_lock);
	if (st->leader_asked && now - st->leader_asked < LEADER_ASK_EVERY) {
		r = st->leading;
	} else {
		r = leader_ask(st);
		st->leading = r == 1;
		st->leader_asked = now ? now : 1;
	}
	pthread_mutex_unlock(&st->leader_lock);
	return r;
}

static int pg_describe(const char *uri, const char *password, char *out,
		       size_t n, char err[256])
{
	PGconn *pg = connect_to(uri, password);
	int v, r;

	if (!pg) {
		snprintf(err, 256, "cannot connect to PostgreSQL: %.180s",
			 db_errmsg());
		return -EIO;
	}
	r = check_collation(pg, err);
	v = PQserverVersion(pg);
	if (r == 0)
		snprintf(out, n, "%d.%d at %s:%s/%s", v / 10000, v % 10000,
			 PQhost(pg), PQport(pg), PQdb(pg));
	PQfinish(pg);
	return r;
}

bool db_pg_uri_has_password(const char *uri)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	bool has = false;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			has = true;
	PQconninfoFree(opts);
	return has;
}

/* --- the copy of a whole database (db_copy.c) --------------------------------- */

/* The first column of every row of sql (with $1 bound to arg when not
 * NULL) as a new JSON array of strings in *ret. */
static int pg_names(struct db_conn *c, const char *sql, const char *arg,
		    json_t **ret)
{
	PGresult *res = PQexecParams(C(c)->pg, sql, arg ? 1 : 0, NULL, &arg,
				     NULL, NULL, 0);
	json_t *out;
	int r;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = pg_fail(c, res);
		PQclear(res);
		return r;
	}
	out = json_array();
	for (int i = 0; out && i < PQntuples(res); i++) {
		if (json_array_append_new(out,
					  json_string(PQgetvalue(res, i, 0))) <
		    0) {
			json_decref(out);
			out = NULL;
		}
	}
	PQclear(res);
	if (!out) {
		db_error_set("out of memory");
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

static int pg_tables(struct db_conn *c, json_t **ret)
{
	/* schema_migrations is the engine's record of the schema (SQLite's
	 * user_version), written by the migrations themselves. */
	return pg_names(c,
			"SELECT table_name FROM information_schema.tables "
			"WHERE table_schema = current_schema() "
			"AND table_type = 'BASE TABLE' "
			"AND table_name <> 'schema_migrations' ORDER BY 1",
			NULL, ret);
}

static int pg_columns(struct db_conn *c, const char *table, json_t **ret)
{
	return pg_names(c,
			"SELECT column_name FROM information_schema.columns "
			"WHERE table_schema = current_schema() "
			"AND table_name = $1 ORDER BY ordinal_position",
			table, ret);
}

static int pg_parents(struct db_conn *c, const char *table, json_t **ret)
{
	return pg_names(c,
			"SELECT DISTINCT p.relname FROM pg_constraint k "
			"JOIN pg_class t ON t.oid = k.conrelid "
			"JOIN pg_class p ON p.oid = k.confrelid "
			"WHERE k.contype = 'f' AND t.relname = $1 "
			"AND t.relnamespace = current_schema()::regnamespace "
			"ORDER BY 1",
			table, ret);
}

/* A load is COPY FROM STDIN in text format: one round trip for the whole
 * table, not one per row.  The rows are escaped into out and sent a few
 * hundred KiB at a time. */
#define LOAD_SEND_AT (256u << 10)

struct pg_load {
	struct db_load head;
	struct db_conn *c;
	int n;
	bool *bytea;		/* by column: written as \x hex */
	char *out;
	size_t len, cap;
	bool failed;		/* a send failed: the end abandons the COPY */
	/* What makes the indexes and constraints set aside for the load
	 * again (load_set_aside()), in order; NULL where not taken yet. */
	char **after;
	int n_after;
};

static void load_free(struct pg_load *l)
{
	if (!l)
		return;
	for (int i = 0; l->after && i < l->n_after; i++)
		free(l->after[i]);
	free(l->after);
	free(l->bytea);
	free(l->out);
	free(l);
}

/* What an index or a constraint costs row by row during a load, it costs
 * far less after it: a foreign key checked for every row is a lookup in
 * its parent (three quarters of the time of a packages table), and a
 * B-tree built from the whole table is one sort instead of millions of
 * insertions.  So a table's foreign keys, its indexes and the primary and
 * unique keys no foreign key leans on are set aside for its load and made
 * again after it, in the same transaction: the commit still keeps only
 * rows that satisfy them, under the names and definitions the migrations
 * gave them.  l->after holds the statements that make them again. */
static int load_set_aside(struct pg_load *l, const char *table)
{
	PGconn *pg = C(l->c)->pg;
	char name[80];
	const char *arg = name;
	PGresult *res;
	int r = 0, n;

	snprintf(name, sizeof(name), "\"%s\"", table);
	res = PQexecParams(
		pg,
		"SELECT 1, format('ALTER TABLE %s DROP CONSTRAINT %I', "
		"conrelid::regclass, conname), format('ALTER TABLE %s ADD "
		"CONSTRAINT %I %s', conrelid::regclass, conname, "
		"pg_get_constraintdef(oid)) FROM pg_constraint "
		"WHERE conrelid = $1::regclass AND contype = 'f' "
		"UNION ALL "
		"SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', "
		"conrelid::regclass, conname), format('ALTER TABLE %s ADD "
		"CONSTRAINT %I %s', conrelid::regclass, conname, "
		"pg_get_constraintdef(oid)) FROM pg_constraint k "
		"WHERE conrelid = $1::regclass AND contype IN ('p', 'u') "
		"AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE "
		"f.contype = 'f' AND f.conindid = k.conindid) "
		"UNION ALL "
		"SELECT 3, format('DROP INDEX %s', indexrelid::regclass), "
		"pg_get_indexdef(indexrelid) FROM pg_index i "
		"WHERE indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM "
		"pg_constraint k WHERE k.conindid = i.indexrelid) "
		"ORDER BY 1, 2",
		1, NULL, &arg, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = pg_fail(l->c, res);
		PQclear(res);
		return r;
	}
	n = PQntuples(res);
	l->after = calloc((size_t)n + 1, sizeof(*l->after));
	if (!l->after) {
		PQclear(res);
		db_error_set("out of memory");
		return -ENOMEM;
	}
	/* Dropped foreign keys first; made again in the reverse order, so
	 * the foreign keys come last. */
	for (int i = 0; r == 0 && i < n; i++) {
		l->after[n - 1 - i] = strdup(PQgetvalue(res, i, 2));
		if (!l->after[n - 1 - i]) {
			db_error_set("out of memory");
			r = -ENOMEM;
			break;
		}
		r = pg_exec(l->c, PQgetvalue(res, i, 1));
	}
	l->n_after = n;
	PQclear(res);
	/* The sorts of the indexes made again, in memory where they fit. */
	if (r == 0)
		r = pg_exec(l->c, "SET LOCAL maintenance_work_mem = '256MB'");
	return r;
}

static int load_room(struct pg_load *l, size_t n)
{
	char *p;
	size_t cap;

	if (l->len + n <= l->cap)
		return 0;
	cap = l->cap ? l->cap : LOAD_SEND_AT + 4096;
	while (cap < l->len + n)
		cap *= 2;
	p = realloc(l->out, cap);
	if (!p) {
		db_error_set("out of memory");
		return -ENOMEM;
	}
	l->out = p;
	l->cap = cap;
	return 0;
}

/* COPY's text format: a backslash, a tab, a newline and a CR escaped. */
static int load_text(struct pg_load *l, const unsigned char *p, size_t n)
{
	char *o;

	if (load_room(l, 2 * n) < 0)
		return -ENOMEM;
	o = l->out + l->len;
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		default:
			*o++ = (char)p[i];
		}
	}
	l->len = (size_t)(o - l->out);
	return 0;
}

/* bytea's hex form, "\x0a1b", its backslash escaped for COPY. */
static int load_hex(struct pg_load *l, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;

	if (load_room(l, 3 + 2 * n) < 0)
		return -ENOMEM;
	o = l->out + l->len;
	*o++ = '\\';
	*o++ = '\\';
	*o++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 15];
	}
	l->len = (size_t)(o - l->out);
	return 0;
}

static int load_printf(struct pg_load *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int load_printf(struct pg_load *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (load_room(l, 64) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	n = vsnprintf(l->out + l->len, 64, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= 64) {
		db_error_set("a number longer than 63 bytes");
		return -EPROTO;
	}
	l->len += (size_t)n;
	return 0;
}

static int load_send(struct pg_load *l)
{
	if (!l->len)
		return 0;
	if (PQputCopyData(C(l->c)->pg, l->out, (int)l->len) != 1) {
		l->failed = true;
		return pg_fail(l->c, NULL);
	}
	l->len = 0;
	return 0;
}

static int pg_load_begin(struct db_conn *c, const char *table,
			 const json_t *columns, struct db_load **ret)
{
	struct pg_load *l = calloc(1, sizeof(*l));
	size_t n = json_array_size(columns), i;
	struct buf b = BUF_INIT(1 << 20);
	PGresult *res = NULL;
	json_t *v;
	int r;

	if (!l || !(l->bytea = calloc(n ? n : 1, sizeof(*l->bytea))))
		goto nomem;
	l->head.ops = &db_pg_ops;
	l->c = c;
	l->n = (int)n;
	/* Which columns are bytea: their values go in hex, whatever type
	 * the source kept them as (a SQLite TEXT column may hold a blob). */
	res = PQexecParams(C(c)->pg,
			   "SELECT column_name FROM information_schema.columns "
			   "WHERE table_schema = current_schema() "
			   "AND table_name = $1 AND data_type = 'bytea'",
			   1, NULL, &table, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	for (int k = 0; k < PQntuples(res); k++)
		json_array_foreach(columns, i, v)
			if (strcmp(json_string_value(v),
				   PQgetvalue(res, k, 0)) == 0)
				l->bytea[i] = true;
	PQclear(res);
	res = NULL;
	r = load_set_aside(l, table);
	if (r < 0) {
		load_free(l);
		return r;
	}
	r = buf_printf(&b, "COPY \"%s\" (", table);
	json_array_foreach(columns, i, v)
		if (r == 0)
			r = buf_printf(&b, "%s\"%s\"", i ? ", " : "",
				       json_string_value(v));
	if (r == 0)
		r = buf_puts(&b, ") FROM STDIN");
	if (r < 0)
		goto nomem;
	res = PQexec(C(c)->pg, b.data);
	buf_free(&b);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		goto fail;
	PQclear(res);
	*ret = &l->head;
	return 0;
fail:
	r = pg_fail(c, res);
	PQclear(res);
	buf_free(&b);
	load_free(l);
	return r;
nomem:
	buf_free(&b);
	load_free(l);
	db_error_set("out of memory");
	return -ENOMEM;
}

static int pg_load_row(struct db_load *head, struct db_stmt *src)
{
	struct pg_load *l = (struct pg_load *)head;
	const struct db_ops *in = src->ops;
	int r = 0;

	for (int i = 0; r == 0 && i < l->n; i++) {
		enum db_type t = in->col_type(src, i);
		const void *p;
		size_t len;
		double d;

		if (i) {
			if ((r = load_room(l, 1)) < 0)
				break;
			l->out[l->len++] = '\t';
		}
		if (t == DB_T_NULL) {
			r = load_printf(l, "\\N");
		} else if (l->bytea[i]) {
			p = in->col_blob(src, i, &len);
			r = load_hex(l, p, p ? len : 0);
		} else if (t == DB_T_INT) {
			r = load_printf(l, "%" PRId64, in->col_int(src, i));
		} else if (t == DB_T_FLOAT) {
			d = in->col_double(src, i);
			if (isnan(d))
				r = load_printf(l, "NaN");
			else if (isinf(d))
				r = load_printf(l, d > 0 ? "Infinity"
							 : "-Infinity");
			else
				r = load_printf(l, "%.17g", d);
		} else {
			p = in->col_blob(src, i, &len);
			r = load_text(l, p, p ? len : 0);
		}
	}
	if (r == 0 && (r = load_room(l, 1)) == 0)
		l->out[l->len++] = '\n';
	if (r == 0 && l->len >= LOAD_SEND_AT)
		r = load_send(l);
	if (r < 0)
		l->failed = true;
	return r;
}

static int pg_load_end(struct db_load *head, bool keep, int64_t *ret_rows)
{
	struct pg_load *l = (struct pg_load *)head;
	PGconn *pg = C(l->c)->pg;
	PGresult *res;
	int r = 0;

	*ret_rows = 0;
	keep = keep && !l->failed;
	if (keep)
		r = load_send(l);
	keep = keep && r == 0;
	if (PQputCopyEnd(pg, keep ? NULL : "the copy was abandoned") != 1 &&
	    r == 0)
		r = pg_fail(l->c, NULL);
	/* The COPY's own result, then the end of its results. */
	while ((res = PQgetResult(pg))) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			*ret_rows = strtoll(PQcmdTuples(res), NULL, 10);
		else if (r == 0 && keep)
			r = pg_fail(l->c, res);
		PQclear(res);
	}
	for (int i = 0; keep && r == 0 && i < l->n_after; i++)
		r = pg_exec(l->c, l->after[i]);
	load_free(l);
	return keep ? r : 0;
}

static int pg_ids_after_load(struct db_conn *c, const char *table)
{
	json_t *columns = NULL, *v;
	size_t i;
	int r;

	r = pg_names(c,
		     "SELECT column_name FROM information_schema.columns "
		     "WHERE table_schema = current_schema() "
		     "AND table_name = $1 AND (is_identity = 'YES' "
		     "OR column_default LIKE 'nextval(%')",
		     table, &columns);
	json_array_foreach(columns, i, v) {
		char sql[512];

		if (r < 0)
			break;
		/* Past the largest, or (an empty table) at 1 again. */
		snprintf(sql, sizeof(sql),
			 "SELECT setval(pg_get_serial_sequence('\"%s\"', "
			 "'%s'), coalesce(max(\"%s\"), 0) + 1, false) "
			 "FROM \"%s\"",
			 table, json_string_value(v), json_string_value(v),
			 table);
		r = pg_exec(c, sql);
	}
	json_decref(columns);
	return r;
}

const struct db_ops db_pg_ops = {
	.name = "PostgreSQL",
	.dialect = DB_POSTGRESQL,
	.open = pg_open,
	.close = pg_close,
	.check_writable = pg_check_writable,
	.checkpoint = pg_checkpoint,
	.backup = pg_backup,
	.leader = pg_leader,
	.describe = pg_describe,
	.begin = pg_begin,
	.commit = pg_commit,
	.in_tx = pg_in_tx,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.err = pg_err,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.clear = pg_clear,
	.step = pg_step,
	.changes = pg_changes,
	.bind_int = pg_bind_int,
	.bind_null = pg_bind_null,
	.bind_text = pg_bind_text,
	.bind_text_take = pg_bind_text_take,
	.bind_blob = pg_bind_blob,
	.col_int = pg_col_int,
	.col_double = pg_col_double,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_type = pg_col_type,
	.col_count = pg_col_count,
	.col_name = pg_col_name,
	.tables = pg_tables,
	.columns = pg_columns,
	.parents = pg_parents,
	.load_begin = pg_load_begin,
	.load_row = pg_load_row,
	.load_end = pg_load_end,
	.ids_after_load = pg_ids_after_load,
};
