/*
 * store.h - everything derelictd keeps, in one SQLite database.
 *
 * Only the store_*.c files know SQL.  Functions return 0 or a negative
 * errno: -ENOENT for a missing row, -EEXIST for a duplicate name, -EIO for
 * a database error (already described by store_errmsg()), -ENOSPC when the
 * disk is full.  Read functions hand the caller a new json_t reference in
 * *ret, written only on success.
 */
#ifndef DERELICT_STORE_H
#define DERELICT_STORE_H

#include <jansson.h>
#include <stdint.h>

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

/* Sets the advisories the rules match against and answers the previous
 * ones, which no evaluation uses any more once this returns; the store
 * owns neither. */
const struct advisory_db *store_set_advisories(struct store *st,
					       const struct advisory_db *db);
/* Marks every host for re-evaluation (new advisories, say). */
int store_all_hosts_due(struct store *st);

/* Copies the WAL back into the database file, without blocking readers or
 * the writer, and notes how far it got: the writer starts the WAL afresh
 * once it is nearly all copied back (store_write_commit()). */
int store_checkpoint(struct store *st);

/* Writes a consistent copy through SQLite's online backup API. */
int store_backup(struct store *st, const char *dest);

/* --- tokens and auth ---------------------------------------------------- */

enum role { ROLE_NONE, ROLE_HOST, ROLE_VIEWER, ROLE_ADMIN };

struct principal {
	enum role role;
	int64_t host_id;	/* ROLE_HOST only */
	char name[64];		/* token name, or the host's agent id */
};

int store_token_add(struct store *st, const char *name, const char *role,
		    const char *token_hash);
int store_token_list(struct store *st, json_t **ret);
int store_token_revoke(struct store *st, const char *name);
/* Finds who holds the token whose SHA-256 is token_hash; -ENOENT if nobody. */
int store_auth(struct store *st, const char *token_hash,
	       struct principal *ret);

/* Registers an agent (or re-enrolls one that lost its token) and stores
 * the hash of its new token. */
int store_enroll(struct store *st, const char *agent_id, const char *hostname,
		 const char *token_hash, int64_t now, int64_t *ret_host_id);

/* --- reports (called from the ingest writer thread only) ----------------- */

/* One section of a received report: absent, hash only, or in full. */
/* A change the writer will record: old and new are item references. */
struct ingest_change {
	const char *action;	/* "added", "removed", "changed" */
	char *key;
	json_t *old;
	json_t *new;
	char *old_text, *new_text;	/* their canonical text, or NULL */
	int has_digest;		/* packages: digest is new's */
	unsigned char digest[REPORT_SUM_LEN];
};

struct ingest_section {
	int present;
	int full;
	char hash[SHA256_HEX_LEN];
	int delta;		/* packages: "base", "added", "removed" */
	int incremental;	/* packages, full: rows updated by the changes */
	int eval;		/* the rules must run after it is stored */
	unsigned char sum[REPORT_SUM_LEN];	/* full or delta: items' sum */
	/* packages: each item's digest, in body's "items" order (full) or
	 * "added" order (delta). */
	unsigned char *digests;
	json_t *body;		/* full only: the section without "hash" */
	char *text;		/* full only: body's canonical text */
	unsigned char *packed;	/* full only: text as stored, deflated */
	size_t packed_len;
	/* The differences from the stored state whose hash is base_hash,
	 * worked out before the writer sees the report ("" base: none was
	 * stored).  The writer uses them only if the base is still what it
	 * holds; otherwise it works them out again itself. */
	int prepared;
	char base_hash[SHA256_HEX_LEN];
	struct ingest_change *changes;
	size_t n_changes, changes_cap;
};

struct ingest_job {
	int64_t host_id;
	json_t *report;		/* borrowed: the validated report */
	size_t bytes;
	char identity[SHA256_HEX_LEN];	/* hash of "host" and agent version */
	struct ingest_section sec[SECTION_COUNT];
	/* results */
	int status;		/* HTTP status to answer */
	int resend_mask;	/* sections to resend, when status is 409 */
};

/* Works out, on a reader connection and so outside the writer, what each
 * full section changes; the heavy part of a report's ingestion.  0 or a
 * negative errno (the writer then does the work itself). */
int store_prepare_report(struct store *st, struct ingest_job *job);
/* Frees what validation and preparation attached to the job. */
void ingest_job_free(struct ingest_job *job);

int store_write_begin(struct store *st);
int store_write_commit(struct store *st);
void store_write_rollback(struct store *st);
/* Applies one report inside the writer's transaction.  Sets job->status
 * (200, 409 with resend_mask, 404 for a deleted host); those decided
 * before writing anything.  On failure the transaction may hold part of
 * the report: the caller rolls it back. */
int store_apply_report(struct store *st, struct ingest_job *job, int64_t now);
/* Re-evaluates up to limit hosts whose rules may have changed by now.
 * Sets *ret_count to how many were evaluated. */
int store_evaluate_due(struct store *st, int64_t now, int limit,
		       int *ret_count);
/* Adds to the fleet's package index the names of up to limit hosts whose
 * packages were stored in full since; inside the writer's transaction.
 * *ret_count is how many hosts it took. */
int store_index_packages(struct store *st, int limit, int *ret_count);
/* Deletes report metadata older than before. */
int store_prune(struct store *st, int64_t before);

/* --- queries -------------------------------------------------------------- */

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

int store_hosts_list(struct store *st, const struct host_filter *f,
		     json_t **ret);
int store_host_get(struct store *st, int64_t id, json_t **ret);
int store_host_section(struct store *st, int64_t id, enum section s,
		       json_t **ret);
int store_host_changes(struct store *st, int64_t id, int limit,
		       int64_t before_id, json_t **ret);
/* PATCH: members present in patch are applied; "project" null unassigns
 * and pins the host to no project. -ENOENT for a missing host or project. */
int store_host_patch(struct store *st, int64_t id, const json_t *patch,
		     int64_t now);
int store_host_delete(struct store *st, int64_t id);

int store_projects_list(struct store *st, int limit, const char *after,
			json_t **ret);
int store_project_get(struct store *st, const char *name, json_t **ret);
int store_project_create(struct store *st, const json_t *p, int64_t now);
int store_project_patch(struct store *st, const char *name, const json_t *p);
int store_project_delete(struct store *st, const char *name);

struct finding_filter {
	const char *status;
	const char *rule;
	int severity;		/* 0 any */
	int64_t host_id;	/* 0 any */
	int limit;
	int64_t after_id;
};

int store_findings_list(struct store *st, const struct finding_filter *f,
			json_t **ret);
int store_finding_ack(struct store *st, int64_t id, const char *reason,
		      const char *until, const char *by, int64_t now);

/* after_host/after_arch: the cursor of the previous page (0/NULL for the
 * first); with after_arch NULL, every row of after_host is skipped. */
int store_packages_find(struct store *st, const char *name, int limit,
			int64_t after_host, const char *after_arch,
			json_t **ret);
int store_summary(struct store *st, int64_t now, json_t **ret);
/* Counters for /metrics: hosts by status. */
int store_metrics(struct store *st, json_t **ret);

/* Keeps an imported advisory file (the Debian Security Tracker's JSON
 * export, or one in the shipped format) whole, replacing an earlier import
 * of the same name, and counts a change of the data (data_version). */
int store_advisory_import(struct store *st, const char *name,
			  const void *body, size_t len, int entries);
/* Calls fn with each kept import, oldest first; stops at fn's first
 * negative answer and returns it. */
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
int store_advisory_state(struct store *st, struct store_advisory_state *ret);
/* Writes the feed_* members of s; with changed, the kept copy is new and
 * data_version is bumped in the same transaction. */
int store_advisory_feed_save(struct store *st,
			     const struct store_advisory_state *s, int changed);
/* Notes that the hosts are matched against data of this digest from now
 * on, and marks every host for evaluation, in one transaction. */
int store_advisory_matched(struct store *st, const char *digest, int64_t now);
/* GET /advisories: the sources of the advisories in use, and matched_at.
 * feed_url names the configured feed ("" none). */
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

#endif
