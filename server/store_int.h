/*
 * store_int.h - what the store_*.c files share and nobody else sees: the
 * connections and the prepared-statement cache.
 */
#ifndef DERELICT_STORE_INT_H
#define DERELICT_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "server.h"
#include "store.h"

#define STORE_READERS 8
#define STORE_STMT_CACHE 64
#define BUSY_TIMEOUT_MS 10000

struct conn {
	sqlite3 *db;
	struct {
		const char *sql;	/* static string; its address is the key */
		sqlite3_stmt *stmt;
	} cache[STORE_STMT_CACHE];
	int busy;
	struct store *st;	/* whose health its failures count against */
};

struct store {
	char *path;
	const struct server_config *cfg;
	const struct advisory_db *advisories;	/* under adv_lock */
	pthread_rwlock_t adv_lock;
	struct conn writer;	/* the ingest thread's */
	struct conn checkpointer;	/* the checkpoint thread's */
	int wal_frames;		/* after the writer's last commit */
	int wal_copied;		/* of them, copied back (checkpointer) */
	int wal_tried;		/* wal_copied when the writer last tried to
				 * start the WAL afresh */
	struct conn readers[STORE_READERS];
	pthread_mutex_t lock;
	pthread_cond_t freed;
	/* What /healthz reports: the last failure of a commit (any
	 * connection's) and of the checkpointer's copy, each cleared by the
	 * next success of its kind (store_health()). */
	pthread_mutex_t health_lock;
	struct store_health commit_health, checkpoint_health;
	/* Where notifications go (store_notify.c); set before the threads
	 * start, read-only after. */
	struct store_notify_dest notify_dests[STORE_NOTIFY_MAX_DESTS];
	int n_notify_dests;
};

/* Takes a reader connection (waits when all are busy); give it back with
 * conn_put().  API writes use these too, in BEGIN IMMEDIATE transactions. */
struct conn *conn_get(struct store *st);
void conn_put(struct store *st, struct conn *c);

/* The cached prepared statement for sql (a string literal), reset and with
 * its bindings cleared; NULL on a prepare error. */
sqlite3_stmt *stmt(struct conn *c, const char *sql);

/* Maps an SQLite result code to a negative errno and remembers the message. */
int db_err(struct conn *c, int rc);
/* Steps a bound statement once (a write, or a read of its first row
 * ignored) and resets it; 0 or db_err().  A NULL statement (a failed
 * prepare) is -EIO. */
int stmt_run(struct conn *c, sqlite3_stmt *s);
/* Runs SQL without results; 0 or db_err(). */
int db_exec(struct conn *c, const char *sql);

/* Binding helpers: NULL strings bind as SQL NULL. */
void bind_text(sqlite3_stmt *s, int i, const char *v);
const char *col_text(sqlite3_stmt *s, int i);

/* Section bodies are stored deflated (zlib, behind a 4-byte little-endian
 * length of the text): a thousand packages shrink sixfold, and so does
 * what every changed report writes.  body_pack() makes that form;
 * body_column() parses a body column in it (or plain text), NULL when it
 * is corrupt. */
int body_pack(const char *text, size_t len, unsigned char **ret,
	      size_t *ret_len);
json_t *body_column(sqlite3_stmt *s, int col);

/* Builds a JSON object from the current row: every column under its name;
 * columns named "*_at" or "first_seen"/"last_seen" holding integers become
 * RFC 3339 times; columns ending in "_json" are parsed and stored without
 * the suffix. */
json_t *row_to_json(sqlite3_stmt *s);

/* Appends a change to in->changes (old and new are referenced, digest is
 * borrowed).  0 or -ENOMEM. */
int ingest_push_change(struct ingest_section *in, const char *action,
		       const char *key, json_t *old, json_t *new,
		       const unsigned char *digest);

/* The packages section (store_packages.c).  Its items are rows of
 * packages; the section row keeps only the header. */
/* The items as the rows hold them, ordered by name and arch. */
int packages_items(struct conn *c, int64_t host, json_t **ret);
/* Whether every item has the five members the rows keep, as non-empty
 * strings (arch may be empty): then an item and its row have the same
 * digest exactly when packages_equal() says so, and a full section can
 * update the rows change by change. */
int packages_plain(const json_t *items);
/* Whether a stored item a and a received item b are the same package. */
int packages_equal(const json_t *a, const json_t *b);
/* Checks a delta against the stored rows and the stored items' sum: fills
 * in->changes and in->sum and sets in->eval when the rules must run.  0,
 * 1 when the delta does not lead to its hash from what is stored (the
 * agent must resend), or a negative errno. */
int packages_prepare_delta(struct store *st, struct conn *c, int64_t host,
			   const char *codename, const unsigned char *stored_sum,
			   struct ingest_section *in);
/* Writes a prepared delta's rows. */
int packages_apply_changes(struct conn *c, int64_t host,
			   const struct ingest_section *in);
/* Adds the names of up to limit pending hosts to package_hosts, in one
 * pass in name order; *ret_count is how many hosts it took. */
int packages_index_pending(struct conn *c, int limit, int *ret_count);
/* Replaces every row of the host with a full section's items; the host's
 * names go to package_hosts later, with packages_index_pending(). */
int packages_replace(struct conn *c, int64_t host,
		     const struct ingest_section *in);

/* The configured age after which a host's packages count as unmaintained. */
int64_t store_unmaintained_after(const struct store *st);

/* Rules: re-evaluates one host inside the current write transaction on c. */
int store_evaluate_host(struct store *st, struct conn *c, int64_t host_id,
			int64_t now);

/* Notifications (store_notify.c): queues the event kind
 * ("finding.opened", ...) of the finding for every configured destination
 * whose floor severity reaches, inside the current write transaction on c,
 * so the event is kept exactly when the change is.  previous_severity is
 * -1 unless the severity rose.  0 at once when no destination wants it. */
int store_notify_finding(struct conn *c, const char *kind, int64_t finding_id,
			 int severity, int previous_severity, int64_t now);

#endif
