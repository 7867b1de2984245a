/*
 * store_int.h - what the store_*.c files share and nobody else sees: the
 * store itself and the functions one store_*.c file lends another; the
 * database layer under them is db.h.
 */
#ifndef DERELICT_STORE_INT_H
#define DERELICT_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "db.h"
#include "server.h"
#include "store.h"

struct store {
	char *path;
	const struct server_config *cfg;
	const struct advisory_db *advisories;	/* under adv_lock */
	pthread_rwlock_t adv_lock;
	/* The database layer's (db.c): */
	struct db_conn writer;	/* the ingest thread's */
	struct db_conn checkpointer;	/* the checkpoint thread's */
	int wal_frames;		/* after the writer's last commit */
	int wal_copied;		/* of them, copied back (checkpointer) */
	int wal_tried;		/* wal_copied when the writer last tried to
				 * start the WAL afresh */
	struct db_conn readers[DB_READERS];
	/* db_leader()'s (PostgreSQL): a connection of its own that holds the
	 * periodic work's advisory lock while it lives, under leader_lock. */
	struct db_conn leader;
	pthread_mutex_t leader_lock;
	bool leading;
	int64_t leader_asked;	/* monotonic seconds of the last try or check */
	atomic_long epoch;	/* store_epoch() */
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
	struct version_cache *versions;	/* the writer's (store_packages.c) */
	struct verdict_cache *verdicts;	/* store_eval.c's */
	struct rematch *rematch;	/* store_rematch.c's, under its lock */
	struct eval_watch *eval_watch;	/* store_eval.c's */
};
/* Replaces row's integer member key (a severity level) with the level's
 * name (rules_severity_name(), where the names are defined), or with none
 * when it is 0: none_name, or null.  Returns row. */
json_t *store_severity_name(json_t *row, const char *key,
			    const char *none_name);

/* A page of a list (store_page.c).  store_page_collect() runs s (bound by
 * the caller) and collects up to limit rows, each passed through fix when
 * it is not NULL; a further row means there is a next page, whose cursor
 * it renders from cursor_col of the last row returned (else null).
 * store_page_make() makes {"items", "total", "next_cursor"} with the count
 * of count (bound), taking items and cursor either way.  0 or the
 * database's error. */
int store_page_collect(struct db_conn *c, struct db_stmt *s, int limit,
		       json_t *(*fix)(json_t *row), const char *cursor_col,
		       json_t **ret_items, json_t **ret_cursor);
int store_page_make(struct db_conn *c, struct db_stmt *count, json_t *items,
		    json_t *cursor, json_t **ret);

/* The open and acknowledged findings of a host, worst first, without
 * cursors (store_findings.c, for store_host_get()). */
int store_findings_of_host(struct db_conn *c, int64_t id, json_t **ret);

/* The packages section (store_packages.c).  Its items are one packed value
 * per host (host_packages); the section row keeps only the header. */
/* The items as the rows hold them, ordered by name and arch. */
int packages_items(struct db_conn *c, int64_t host, json_t **ret);
/* The version ids of a host's packages, in (name_id, version_id) order. */
int packages_version_ids(struct db_conn *c, int64_t host, int64_t **ret,
			 size_t *ret_n);
/* Appends the host's version ids of name_id to *ids (*n of *cap used,
 * grown with realloc()). */
int packages_versions_of_name(struct db_conn *c, int64_t host,
			      int64_t name_id, int64_t **ids, size_t *n,
			      size_t *cap);
/* Packs the rows migration 012 kept as packages_unpacked (once). */
int packages_convert(struct store *st);
/* On PostgreSQL, writes the digests of the rows copied from SQLite without
 * one (migrate-to); *ret_count how many.  Nothing on SQLite. */
int packages_fill_digests(struct store *st, int64_t *ret_count);
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
int packages_prepare_delta(struct store *st, struct db_conn *c, int64_t host,
			   const char *codename, const unsigned char *stored_sum,
			   struct ingest_section *in);
/* Writes a prepared delta's rows (on the writer's connection c); takes
 * in's base_refs when they are still what is stored. */
int packages_apply_changes(struct store *st, struct db_conn *c, int64_t host,
			   struct ingest_section *in);
/* Adds the names of up to limit pending hosts to package_hosts, in one
 * pass in name order; *ret_count is how many hosts it took. */
int packages_index_pending(struct db_conn *c, int limit, int *ret_count);
/* Replaces every row of the host with a full section's items; the host's
 * names go to package_hosts later, with packages_index_pending(). */
int packages_replace(struct store *st, struct db_conn *c, int64_t host,
		     const struct ingest_section *in);
/* The writer's memory of package versions' ids (store_packages.c):
 * forgotten when its transaction rolls back, freed with the store. */
void packages_cache_forget(struct store *st);
void packages_cache_free(struct store *st);
/* What the advisories say of each package version (store_eval.c): emptied
 * when they change (with adv_lock written), freed with the store. */
void store_verdicts_forget(struct store *st);
/* The same after a rolled-back transaction, whose version ids the next
 * one may give to other versions; takes the cache's own lock. */
void store_verdicts_rollback(struct store *st);
void store_verdicts_free(struct store *st);

/* The re-match after an advisory change (store_rematch.c): a rolled-back
 * write makes it take the full way, and it is freed with the store. */
void store_rematch_rollback(struct store *st);
void store_rematch_free(struct store *st);
/* The hosts store_evaluate_host() evaluates while watched: the list is
 * emptied and watching turned on or off; sorted (then
 * store_eval_watched() finds those noted before); -ENOMEM when one could
 * not be noted.  Freed with the store. */
int store_eval_watch(struct store *st, bool on);
int store_eval_watch_sort(struct store *st);
bool store_eval_watched(struct store *st, int64_t host_id);
void store_eval_watch_free(struct store *st);
/* Whether the mail section's item of the source package names cve among
 * its changelog's (store_eval.c; mail_section may be NULL). */
int store_eval_changelog_fixes(const json_t *mail_section, const char *source,
			       const char *source_version, const char *cve);

/* The configured age after which a host's packages count as unmaintained. */
int64_t store_unmaintained_after(const struct store *st);

/* Rules: re-evaluates one host inside the current write transaction on c. */
int store_evaluate_host(struct store *st, struct db_conn *c, int64_t host_id,
			int64_t now);
/* The same, just after a report stored the sections given (indexed by
 * enum section, NULL where it did not send one in full): their bodies as
 * sent, which equal what is stored, are not read back. */
int store_eval_report(struct store *st, struct db_conn *c, int64_t host_id,
		      int64_t now, json_t *const given[SECTION_COUNT]);

/* The SMTP probe's rows of a host (store_eval.c, which feeds them to the
 * rules; store_probe.c writes them), as
 * store_probe_of_host() answers them, on c. */
int store_eval_probe_rows(struct db_conn *c, int64_t host_id, json_t **ret);

/* Notifications (store_notify.c): queues the event kind
 * ("finding.opened", ...) of the finding for every configured destination
 * whose floor severity reaches, inside the current write transaction on c,
 * so the event is kept exactly when the change is.  previous_severity is
 * -1 unless the severity rose.  0 at once when no destination wants it. */
int store_notify_finding(struct db_conn *c, const char *kind, int64_t finding_id,
			 int severity, int previous_severity, int64_t now);
/* Whether any destination takes an event of severity (only: just the one
 * of that name). */
int store_notify_wanted(const struct store *st, const char *only, int severity);
/* Queues an event {"type": kind, "timestamp", "id", "data": data} inside
 * the current write transaction on c: for the destination named only, or
 * (only NULL) for every destination whose floor severity reaches. */
int store_notify_event(struct db_conn *c, const char *kind, const json_t *data,
		       int severity, const char *only, int64_t now);

#endif
