/*
 * store.h - everything derelictd keeps, in one SQLite database.
 *
 * Only the store_*.c files know SQL.  Functions return 0 or a negative
 * errno: -ENOENT for a missing row, -EEXIST for a duplicate name, and for
 * a database error (already described by store_errmsg()) one that says
 * whether trying again can help:
 *   -ENOSPC  the disk is full
 *   -EROFS   the database cannot be written (read-only file or mount)
 *   -EIO     an I/O error, or a file SQLite could not open
 *   -EBUSY   another process holds the database's lock
 *   -ENOMEM  out of memory
 *   -EUCLEAN the database file is corrupt
 *   -EPROTO  any other SQLite error (a bug: retrying will not help)
 * A write that fails is rolled back: nothing of it stays.  Read functions
 * hand the caller a new json_t reference in *ret, written only on success.
 * "Errors:" before each function lists what it returns besides 0; "the
 * database's" stands for the list above.  A failed read is always one of
 * them, never -ENOENT, an empty list or a count of -1: the API answers
 * 503 for all of them (500 for -EUCLEAN and -EPROTO).
 */
#ifndef DERELICT_STORE_H
#define DERELICT_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "ingest_job.h"
#include "report.h"

struct store;
struct server_config;
struct advisory_db;

/* Opens (creating) the database and applies the embedded migrations, each
 * in one transaction.  Refuses with -EPROTO a database newer than this
 * binary.  err receives a message on failure. */
int store_open(const char *path, const struct server_config *cfg,
	       struct store **ret, char err[256]);
void store_close(struct store *st);

/* 1 when this node does the periodic work now (one node of those on one
 * PostgreSQL database; always a SQLite node), 0 when another does or the
 * database is away, or a negative errno (db.h's db_leader()).  Every
 * periodic loop asks before its round and skips the round on anything but
 * 1. */
int store_leader(struct store *st);
/* The engine st runs on: "SQLite" or "PostgreSQL" (static). */
const char *store_engine(const struct store *st);
/* What --check-config says of cfg's database: the engine, its version and
 * where it is ("PostgreSQL 15.5 at 127.0.0.1:5432/derelict"), asked of a
 * PostgreSQL server over a connection of its own; nothing is written.
 * *ret_password_in_uri tells whether the URI carries a password.  0, or a
 * negative errno with the reason in err. */
int store_describe(const struct server_config *cfg, char *out, size_t n,
		   bool *ret_password_in_uri, char err[256]);

/* derelictd migrate-to: copies every row of from into to, an empty
 * database of another engine (both open, so both at this binary's schema
 * version), in one transaction on to, and checks before its commit that
 * every table holds as many rows on both sides.  The rows to's migrations
 * seeded are replaced by from's; to's id sequences are moved past the
 * copied ids.  Then, in a second transaction, the package versions whose
 * digest SQLite left out get theirs (a warning if that fails).  *ret is a
 * new {"tables": [{"name", "rows"}, ...], "rows", "digests_filled"},
 * parents before children.  On failure nothing of to changed and err says
 * why. */
/* Errors: -EEXIST when to holds a host or a token, -EPROTO when the two
 * schemas differ or a count does, the database's. */
int store_migrate_to(struct store *from, struct store *to, json_t **ret,
		     char err[256]);

/* Checks that the database can be written, by committing a write that
 * changes nothing; derelictd runs this before it serves.  0, or the
 * store's negative errno with a message for the operator in err. */
/* Errors: the database's. */
int store_check_writable(struct store *st, char err[256]);

/* Whether the store can commit, as far as it knows: error is 0 when the
 * last commit and the last checkpoint succeeded, else the negative errno
 * of the failure that persists (a full disk, a read-only or failing file
 * system), with SQLite's message, the kind of write that failed and when
 * the failing began.  A later success of that kind clears it. */
struct store_health {
	int error;
	const char *what;	/* "commit" or "checkpoint"; static */
	int64_t since;
	char message[160];
};
void store_health(struct store *st, struct store_health *ret);

/* Sets the advisories the rules match against and answers the previous
 * ones, which no evaluation uses any more once this returns; the store
 * owns neither. */
const struct advisory_db *store_set_advisories(struct store *st,
					       const struct advisory_db *db);
/* Marks every host for re-evaluation (new advisories, say). */
/* Errors: the database's. */
int store_all_hosts_due(struct store *st);

/* Copies the WAL back into the database file, without blocking readers or
 * the writer, and notes how far it got: the writer starts the WAL afresh
 * once it is nearly all copied back (store_write_commit()). */
/* Errors: the database's (a busy database is 0: tried again later). */
int store_checkpoint(struct store *st);

/* Writes a consistent copy through SQLite's online backup API. */
/* Errors: -EIO (the destination or the copy failed). */
int store_backup(struct store *st, const char *dest);

/* --- tokens and auth ---------------------------------------------------- */

enum role { ROLE_NONE, ROLE_HOST, ROLE_VIEWER, ROLE_ADMIN };

struct principal {
	enum role role;
	int64_t host_id;	/* ROLE_HOST only */
	char name[64];		/* token name, or the host's agent id */
	/* ROLE_HOST: the token's hash when it is the one a re-enrollment
	 * gave and the host has not taken yet; "" otherwise. */
	char pending[SHA256_HEX_LEN];
};

/* Each returns only once its write is committed (or failed). */
/* Errors: -EEXIST for a name in use; the database's. */
int store_token_add(struct store *st, const char *name, const char *role,
		    const char *token_hash);
/* Errors: the database's. */
int store_token_list(struct store *st, json_t **ret);
/* Errors: -ENOENT for an unknown name; the database's. */
int store_token_revoke(struct store *st, const char *name);
/* Finds who holds the token whose SHA-256 is token_hash; -ENOENT if
 * nobody, -EIO for any database error (never read as "nobody"). */
int store_auth(struct store *st, const char *token_hash,
	       struct principal *ret);

/* Registers an agent and stores the hash of its token, committed before
 * it returns 0 (-ENOSPC, -EBUSY or -EIO otherwise, and nothing is kept).
 * An agent id already known keeps its token: the new one waits beside it
 * until the new identity's first report (store_apply_report()). */
/* Errors: the database's. */
int store_enroll(struct store *st, const char *agent_id, const char *hostname,
		 const char *token_hash, int64_t now, int64_t *ret_host_id);

/* --- reports (called from the ingest writer thread only) ----------------- */

/* The job (struct ingest_job) and its stages are in ingest_job.h. */

/* Works out, on a reader connection and so outside the writer, what each
 * full section changes; the heavy part of a report's ingestion.  0 or a
 * negative errno (the writer then does the work itself). */
/* Errors: the database's, -ENOMEM. */
int store_prepare_report(struct store *st, struct ingest_job *job);

/* Counts the writes that may change how a report that changes nothing is
 * answered: every write transaction but the writer's, and a report that
 * gives a host a new token.  The fast path (fastpath.h) keeps what it
 * learned only while this stays the same. */
long store_epoch(struct store *st);

/* One host's last_seen from reports that changed nothing, not yet on disk
 * (fastpath.h). */
struct store_seen {
	int64_t host_id;
	int64_t last_seen;
	int64_t collected_at;	/* 0: the reports named none */
	int64_t bytes;		/* the last report's */
};
/* Writes each host's last_seen (never moving it back) and collected_at,
 * and one row of report history for each, inside the writer's
 * transaction; a host deleted meanwhile is skipped. */
/* Errors: the database's. */
int store_put_seen(struct store *st, const struct store_seen *seen, size_t n);

/* Errors: the database's. */
int store_write_begin(struct store *st);
/* Errors: the database's. */
int store_write_commit(struct store *st);
void store_write_rollback(struct store *st);
/* Applies one report inside the writer's transaction.  Sets job->status
 * (200, 409 with resend_mask, 404 for a deleted host, 401 for a
 * re-enrollment token another enrollment replaced); those decided before
 * writing anything.  A report under job->pending makes that token the
 * host's; when its machine_id is not the host's, the host's inventory is
 * kept as a snapshot and starts afresh without removals.  On failure the transaction may hold part of
 * the report: the caller rolls it back. */
/* Errors: the database's, -ENOMEM (the status is then unset). */
int store_apply_report(struct store *st, struct ingest_job *job, int64_t now);
/* Re-evaluates up to limit hosts whose rules may have changed by now.
 * Sets *ret_count to how many were evaluated. */
/* Errors: the database's. */
int store_evaluate_due(struct store *st, int64_t now, int limit,
		       int *ret_count);
/* Adds to the fleet's package index the names of up to limit hosts whose
 * packages were stored in full since; inside the writer's transaction.
 * *ret_count is how many hosts it took. */
/* Errors: the database's. */
int store_index_packages(struct store *st, int limit, int *ret_count);
/* Deletes, inside the writer's transaction, up to limit rows in all:
 * change history and identity snapshots older than [server] history_keep
 * at now, then report metadata received before reports_before.
 * *ret_count is how many went; limit of them means more are waiting. */
/* Errors: the database's. */
int store_prune(struct store *st, int64_t reports_before, int64_t now,
		int limit, int *ret_count);

/* --- queries -------------------------------------------------------------- */

/* The longest search (host_filter.q) in bytes: a hostname, an address or
 * an agent id is far shorter. */
#define STORE_SEARCH_MAX 256

struct host_filter {
	int abandoned;		/* -1 any, 0, 1 */
	int mail;		/* -1 any, 0, 1 */
	const char *status;
	const char *project;
	int min_severity;	/* 0 any */
	const char *q;
	int limit;
	int64_t after_id;	/* cursor */
};

/* -E2BIG, before any work, for a q longer than STORE_SEARCH_MAX. */
/* Errors: -E2BIG; the database's. */
int store_hosts_list(struct store *st, const struct host_filter *f,
		     json_t **ret);
/* Errors: -ENOENT for an unknown host; the database's. */
int store_host_get(struct store *st, int64_t id, json_t **ret);
/* A page of a section: its header as stored (hash, updated_at, source...)
 * with "items" from offset on, at most limit of them, "total" and
 * "next_cursor" (the next offset as a string, or null).  Offsets count in
 * the stored order: a section that changes between two pages may repeat
 * or skip items, which its "hash" tells. */
/* Errors: -ENOENT for an unknown host; the database's (-EIO for a stored body
 * that does not parse). */
int store_host_section(struct store *st, int64_t id, enum section s,
		       int limit, int64_t offset, json_t **ret);
/* Errors: -ENOENT for an unknown host; the database's. */
int store_host_changes(struct store *st, int64_t id, int limit,
		       int64_t before_id, json_t **ret);
/* PATCH: members present in patch are applied; "project" null unassigns
 * and pins the host to no project. -ENOENT for a missing host or project. */
/* Errors: -ENOENT; the database's. */
int store_host_patch(struct store *st, int64_t id, const json_t *patch,
		     int64_t now);
/* Errors: -ENOENT for an unknown host; the database's. */
int store_host_delete(struct store *st, int64_t id);

/* Errors: the database's. */
int store_projects_list(struct store *st, int limit, const char *after,
			json_t **ret);
/* Errors: -ENOENT for an unknown project; the database's. */
int store_project_get(struct store *st, const char *name, json_t **ret);
/* Errors: -EEXIST for a name in use; the database's. */
int store_project_create(struct store *st, const json_t *p, int64_t now);
/* Errors: -ENOENT for an unknown project; the database's. */
int store_project_patch(struct store *st, const char *name, const json_t *p);
/* Errors: -ENOENT for an unknown project; the database's. */
int store_project_delete(struct store *st, const char *name);

struct finding_filter {
	const char *status;
	const char *rule;
	int severity;		/* 0 any */
	int64_t host_id;	/* 0 any */
	int limit;
	struct cursor_finding after;	/* id 0: the first page */
};

/* Errors: the database's. */
int store_findings_list(struct store *st, const struct finding_filter *f,
			json_t **ret);
/* Errors: -ENOENT for an unknown finding, -EALREADY for a resolved one; the
 * database's. */
int store_finding_ack(struct store *st, int64_t id, const char *reason,
		      const char *until, const char *by, int64_t now);

/* after_host/after_arch: the cursor of the previous page (0/NULL for the
 * first); with after_arch NULL, every row of after_host is skipped. */
/* Errors: the database's. */
int store_packages_find(struct store *st, const char *name, int limit,
			int64_t after_host, const char *after_arch,
			json_t **ret);
/* Errors: the database's. */
int store_summary(struct store *st, int64_t now, json_t **ret);
/* Counters for /metrics: hosts by status. */
/* Errors: the database's. */
int store_metrics(struct store *st, json_t **ret);

/* Keeps an imported advisory file (the Debian Security Tracker's JSON
 * export, or one in the shipped format) whole, replacing an earlier import
 * of the same name, and counts a change of the data (data_version). */
/* Errors: the database's. */
int store_advisory_import(struct store *st, const char *name,
			  const void *body, size_t len, int entries);
/* Calls fn with each kept import, oldest first; stops at fn's first
 * negative answer and returns it. */
/* Errors: fn's first negative answer; the database's. */
int store_advisory_each(struct store *st,
			int (*fn)(const char *name, int64_t imported_at,
				  const char *body, size_t len, void *ud),
			void *ud);

/* The advisory_state row (sql/005_advisory_state.sql). */
struct store_advisory_state {
	int64_t data_version;		/* bumped by every change of the data */
	char matched_digest[65];	/* the data hosts were matched against */
	int64_t matched_at;
	char feed_url[512];		/* where the kept tracker copy came from */
	char feed_etag[256];
	char feed_last_modified[64];
	int64_t feed_fetched_at;	/* the kept copy's fetch; 0 none */
	int64_t feed_checked_at;	/* the last answered request */
	int64_t feed_data_date;
	int64_t feed_entries;
};

/* Reads the row; -EIO on a database error. */
/* Errors: the database's (-EIO without its row). */
int store_advisory_state(struct store *st, struct store_advisory_state *ret);
/* Writes the feed_* members of s; with changed, the kept copy is new and
 * data_version is bumped in the same transaction. */
/* Errors: the database's. */
int store_advisory_feed_save(struct store *st,
			     const struct store_advisory_state *s, int changed);
/* Notes that the hosts are matched against data of this digest from now
 * on, and marks every host for evaluation, in one transaction. */
/* Errors: the database's. */
int store_advisory_matched(struct store *st, const char *digest, int64_t now);
/* After store_set_advisories(): has the hosts matched against the data of
 * this digest, taking ownership of old (the data they were matched
 * against).  The writer's evaluation pass does it (store_rematch_step()):
 * only the hosts whose verdicts changed, and for most of them only the
 * advisory part of an evaluation; matched_digest is written when it is
 * through.  Without old, or while one is under way, it is
 * store_advisory_matched(), every host due. */
/* Errors: the database's. */
int store_rematch_start(struct store *st, const struct advisory_db *old,
			const char *digest, int64_t now);
/* Whether a re-match is under way (its digest not yet written). */
bool store_rematch_busy(struct store *st);
/* One step of it inside the writer's transaction: up to limit hosts.
 * *ret_more when there is more to do; ret->finished when this step wrote
 * the digest (once it commits), with what it took. */
struct store_rematch_figures {
	int finished;
	int every_host;		/* it fell back to marking every host due */
	size_t sources, versions;	/* whose verdicts changed, touched */
	size_t hosts, full;	/* re-matched; of them, evaluated in full */
	double seconds;		/* since store_rematch_start() */
	double found_seconds;	/* of them, until the hosts were known */
};
/* Errors: the database's. */
int store_rematch_step(struct store *st, int64_t now, int limit,
		       int *ret_more, struct store_rematch_figures *ret);
/* GET /advisories: the sources of the advisories in use, and matched_at.
 * feed_url names the configured feed ("" none). */
/* Errors: -ENOMEM; the database's. */
int store_advisories_json(struct store *st, json_t **ret);
/* The newest data's date among the advisories in use (a source's
 * data_date, else its fetch or import time); 0 when there are none. */
int64_t store_advisories_newest(struct store *st);
/* For /summary: {"data_date", "age_seconds", "stale", "warning"}: stale
 * (with a warning sentence) when the freshest data is older than
 * STORE_ADVISORIES_STALE or there is none. */
#define STORE_ADVISORIES_STALE (7 * 86400)
json_t *store_advisories_age_json(struct store *st, int64_t now);

/* A message describing the last database error of this thread. */
const char *store_errmsg(void);

/* --- notifications (store_notify.c) ------------------------------------- */

/* A destination events are queued for: a configured channel's name
 * ("webhook:NAME", "mail"; notify.c) and the least severity of the
 * finding events it wants; a floor above critical (RULES_SEV_COUNT) takes
 * none, only what store_notify_queue() names it for. */
#define STORE_NOTIFY_MAX_DESTS 32
#define STORE_NOTIFY_NAME_MAX 80
struct store_notify_dest {
	char name[STORE_NOTIFY_NAME_MAX];
	int min_severity;
};

/* Sets the destinations (copied); call before the threads start.  Only
 * destinations configured when a finding changes get its events. */
int store_notify_set_dests(struct store *st,
			   const struct store_notify_dest *dests, size_t n);
/* The destinations set, and how many. */
int store_notify_dests(const struct store *st,
		       const struct store_notify_dest **ret);

/* Queues an event of its own (a digest, say) in a transaction of its own:
 * {"type": kind, "timestamp", "id", "data": data}, for the destination
 * named only, or (only NULL) for every destination whose floor severity
 * reaches.  Nothing when no destination wants it. */
int store_notify_queue(struct store *st, const char *kind, const json_t *data,
		       int severity, const char *only, int64_t now);
/* Deletes up to 5000 rows that are no longer pending and were queued
 * before before; *ret_count says how many. */
int store_notify_prune(struct store *st, int64_t before, int *ret_count);

/* One pending row of the outbox, for the sender; the strings are the
 * caller's, freed by store_delivery_clear(). */
struct store_delivery {
	int64_t id;
	char *event_id, *destination, *kind, *payload;
	int attempts;
	int64_t created_at;	/* or when an admin retried it */
	int64_t next_try_at;
};
void store_delivery_clear(struct store_delivery *d);
/* The oldest pending delivery of destination: 0 with *ret when it is due
 * at now, 1 (and *ret's next_try_at) while it waits for its retry,
 * -ENOENT when there is none. */
int store_notify_next(struct store *st, const char *destination, int64_t now,
		      struct store_delivery *ret);
/* Records an attempt of delivery id: status "delivered", "pending" (tried
 * again at next_try_at), "failed" (given up), or "disabled" (the
 * receiver wants no more: every pending row of the destination with it,
 * and nothing is queued for the destination until an admin retries one
 * of its rows).  error is the attempt's reason, NULL when delivered. */
int store_notify_record(struct store *st, int64_t id, const char *status,
			const char *error, int64_t next_try_at, int64_t now);

struct notify_filter {
	const char *status;	/* NULL any */
	const char *destination;	/* NULL any */
	int limit;
	int64_t after_id;	/* the cursor: rows below it, newest first */
};
/* The deliveries, newest first, as {"items","total","next_cursor"}. */
int store_notify_list(struct store *st, const struct notify_filter *f,
		      json_t **ret);
/* Queues delivery id again now, from zero attempts, and switches its
 * destination back on.  -ENOENT when there is no such row, -EALREADY
 * when it is delivered. */
int store_notify_retry(struct store *st, int64_t id, int64_t now);

#endif
