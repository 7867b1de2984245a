/*
 * store_reports.c - a report's SQL: preparing and applying a validated report: section state, the change
 * history, the package index and the host's identity.  Runs on the ingest
 * writer's connection only, inside the batch transaction it opened.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "jsonutil.h"
#include "timeutil.h"

/* The writer's batch transaction: the database layer's, whose commit is
 * where the WAL policy runs (db.c). */
int store_write_begin(struct store *st)
{
	return db_writer_begin(st);
}

int store_write_commit(struct store *st)
{
	return db_writer_commit(st);
}

void store_write_rollback(struct store *st)
{
	packages_cache_forget(st);
	store_verdicts_rollback(st);
	store_rematch_rollback(st);
	db_writer_rollback(st);
}

static int add_change(struct db_conn *c, int64_t host, int64_t now,
		      enum section sec, const struct change *ch)
{
	struct db_stmt *s = db_stmt(
		c, "INSERT INTO changes (host_id, at, section, key, action, "
		   "old, new) VALUES (?, ?, ?, ?, ?, ?, ?)");

	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_int(s, 2, now);
	db_bind_text(s, 3, section_names[sec]);
	db_bind_text(s, 4, ch->key);
	db_bind_text(s, 5, ch->action);
	db_bind_text(s, 6, ch->old_text);
	db_bind_text(s, 7, ch->new_text);
	return db_run(c, s);
}

/* Works out the section's changes from the stored body old_body (NULL:
 * none stored, the new state is the baseline). */
static int diff_section(enum section sec, const json_t *old_body,
			struct ingest_section *in)
{
	in->prepared = 0;
	return changes_diff(sec, old_body, in->body,
			    sec == SECTION_PACKAGES ? packages_equal : NULL,
			    &in->changes);
}

/* How many change rows a report may still write: the smaller of what is
 * left of the report's budget and of the host's day ([server]
 * changes_per_report, changes_per_day).  One host alternating two large
 * port sets wrote 700,000 rows and 116 MB in 19 s without it. */
struct budget {
	int64_t day;		/* days since the epoch, UTC */
	int64_t report_left;
	int64_t day_left;
	int64_t written;	/* rows this report, counted in the day */
	int day_full;		/* the day's budget ran out in this report */
};

static int budget_take(struct budget *b)
{
	if (b->report_left <= 0 || b->day_left <= 0) {
		b->day_full |= b->day_left <= 0;
		return 0;
	}
	b->report_left--;
	b->day_left--;
	b->written++;
	return 1;
}

/* The one row that stands for the changes a budget left out.  Once the
 * day's budget is spent, a later report adds its count to the section's
 * row of the day instead of writing another (the row keeps the time it
 * was first written), so the rows of a host's day stay bounded whatever
 * its report rate. */
static int add_truncated(struct db_conn *c, int64_t host, int64_t now,
			 enum section sec, const struct budget *b,
			 const int64_t n[3])
{
	int64_t total = n[0] + n[1] + n[2], prev[3] = { 0, 0, 0 };
	int64_t id = 0;
	char text[256];
	struct db_stmt *s;
	int rc;

	if (b->day_full) {
		/* Only the host's last few rows: after the budget ran out,
		 * they are the day's truncation rows. */
		s = db_stmt(c, "SELECT id, new FROM (SELECT id, section, "
			    "action, at, new FROM changes WHERE host_id = ?1 "
			    "ORDER BY id DESC LIMIT 16) t WHERE section = ?2 "
			    "AND action = 'changes_truncated' AND at >= ?3 "
			    "ORDER BY id DESC LIMIT 1");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, host);
		db_bind_text(s, 2, section_names[sec]);
		db_bind_int(s, 3, b->day * 86400);
		rc = db_step(c, s);
		if (rc == DB_ROW) {
			json_t *o = json_loads(db_col_text(s, 1), 0, NULL);

			id = db_col_int(s, 0);
			prev[0] = json_get_int(o, "added", 0);
			prev[1] = json_get_int(o, "removed", 0);
			prev[2] = json_get_int(o, "changed", 0);
			total += json_get_int(o, "not_itemised", 0);
			json_decref(o);
		}
		db_reset(s);
		if (rc < 0)
			return rc;
	}
	snprintf(text, sizeof(text),
		 "{\"added\":%lld,\"changed\":%lld,\"limit\":\"%s\","
		 "\"not_itemised\":%lld,\"removed\":%lld}",
		 (long long)(n[0] + prev[0]), (long long)(n[2] + prev[2]),
		 b->day_full ? "day" : "report", (long long)total,
		 (long long)(n[1] + prev[1]));
	if (id) {
		return db_run_with(
			c, "UPDATE changes SET new = ? WHERE id = ?",
			   DB_TEXT(text), DB_INT(id));
	}
	return db_run_with(
		c, "INSERT INTO changes (host_id, at, section, key, action, "
		   "old, new) VALUES (?, ?, ?, '', 'changes_truncated', NULL, "
		   "?)",
		   DB_INT(host), DB_INT(now), DB_TEXT(section_names[sec]),
		   DB_TEXT(text));
}

/* Writes the prepared changes as history rows, as many as the budget
 * allows; the section itself is stored whole all the same. */
static int apply_changes(struct db_conn *c, int64_t host, int64_t now,
			 enum section sec, const struct ingest_section *in,
			 struct budget *b)
{
	int64_t left_out[3] = { 0, 0, 0 };	/* added, removed, changed */
	int r = 0;

	for (size_t i = 0; i < in->changes.n && r == 0; i++) {
		const struct change *ch = &in->changes.v[i];

		/* Logins age out of the 90-day window; that is no event. */
		if (ch->new == NULL && sec == SECTION_LOGINS)
			continue;
		if (budget_take(b))
			r = add_change(c, host, now, sec, ch);
		else
			left_out[!ch->old ? 0 : !ch->new ? 1 : 2]++;
	}
	if (r == 0 && left_out[0] + left_out[1] + left_out[2] > 0)
		r = add_truncated(c, host, now, sec, b, left_out);
	return r;
}

/* A section as stored. */
struct stored {
	int found;
	char hash[SHA256_HEX_LEN];
	int has_sum;
	unsigned char sum[REPORT_SUM_LEN];
	json_t *body;		/* with want_body; packages: {"items": rows} */
};

static int read_section(struct db_conn *c, int64_t host, enum section sec,
			int want_body, struct stored *ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT hash, body, items_sum FROM "
				  "sections WHERE host_id = ? AND name = ?");
	int rc, r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, section_names[sec]);
	rc = db_step(c, s);
	if (rc == DB_ROW) {
		ret->found = 1;
		snprintf(ret->hash, SHA256_HEX_LEN, "%s", db_col_text(s, 0));
		size_t len;
		const void *sum = db_col_blob(s, 2, &len);

		if (sum && len == REPORT_SUM_LEN) {
			ret->has_sum = 1;
			memcpy(ret->sum, sum, REPORT_SUM_LEN);
		}
		if (want_body && sec != SECTION_PACKAGES)
			ret->body = db_body_column(s, 1);
	}
	db_reset(s);
	if (rc < 0)
		return rc;
	if (ret->found && want_body && sec == SECTION_PACKAGES) {
		json_t *items = NULL;

		r = packages_items(c, host, &items);
		if (r == 0)
			ret->body = json_pack("{s:o}", "items", items);
	}
	return r;
}

/* Whether a full packages section can update the stored rows change by
 * change: rows written since digests are kept, and items they keep in
 * full.  Otherwise (older rows, or none) the rows are replaced. */
static int incremental(enum section sec, const struct stored *old,
		       const struct ingest_section *in)
{
	return sec == SECTION_PACKAGES && old->found && old->has_sum &&
	       packages_plain(json_object_get(in->body, "items"));
}

/* The body as stored, deflated: the section's canonical text, or for
 * packages its header alone. */
static int pack_section(enum section sec, struct ingest_section *in)
{
	char *header = NULL;
	int r;

	if (in->packed)
		return 0;
	if (sec != SECTION_PACKAGES)
		return db_body_pack(in->text, strlen(in->text), &in->packed,
				 &in->packed_len);
	r = report_section_header(in->body, &header);
	if (r == 0)
		r = db_body_pack(header, strlen(header), &in->packed,
			      &in->packed_len);
	free(header);
	return r;
}

/* Works out what a full section changes from the stored one; with a
 * packages delta, checks it leads from the stored state to its hash. */
static int prepare_section(struct store *st, struct db_conn *c,
			   struct ingest_job *job, enum section sec,
			   struct ingest_section *in)
{
	json_t *os = json_object_get(json_object_get(job->report, "host"),
				     "os");
	char key[32];
	const char *codename = advisory_release_key(
		json_get_str(os, "id"), json_get_str(os, "version_id"),
		json_get_str(os, "codename"), key, sizeof(key));
	struct stored old;
	int r = pack_section(sec, in);

	if (r < 0)
		return r;
	if (in->delta) {
		changes_free(&in->changes);
		in->prepared = 0;
		r = read_section(c, job->host_id, sec, 0, &old);
		if (r < 0)
			return r;
		if (!old.found || !old.has_sum ||
		    strcmp(old.hash, in->delta_base) != 0)
			return 0;	/* the writer answers 409 */
		r = packages_prepare_delta(st, c, job->host_id, codename,
					   old.sum, in);
		in->prepared = r == 0;
		return r < 0 ? r : 0;
	}
	r = read_section(c, job->host_id, sec, 1, &old);
	snprintf(in->diffed_hash, sizeof(in->diffed_hash), "%s", old.hash);
	in->incremental = incremental(sec, &old, in);
	if (r == 0 && strcmp(old.hash, in->hash) != 0)
		r = diff_section(sec, old.body, in);
	json_decref(old.body);
	in->prepared = r == 0;
	return r;
}

int store_prepare_report(struct store *st, struct ingest_job *job)
{
	struct db_conn *c = NULL;
	int r = 0, full = 0;

	for (int i = 0; i < SECTION_COUNT; i++)
		full |= job->sec[i].full;
	if (!full)
		return 0;
	/* One snapshot for all sections of the report; this runs in the
	 * connection's thread, not the writer's. */
	r = db_read_begin(st, &c);
	for (int i = 0; i < SECTION_COUNT && r == 0; i++)
		if (job->sec[i].full)
			r = prepare_section(st, c, job, i, &job->sec[i]);
	if (c)
		db_read_end(st, c);
	return r;
}

/* Stores one section sent in full or as a delta: 0 when it was unchanged,
 * 1 when it changed.  stored_hash is the section's hash as this
 * transaction sees it ("" if none), which store_apply_report() has read
 * already and has checked a delta's base against. */
static int put_section(struct store *st, struct db_conn *c, int64_t host,
		       int64_t now, enum section sec, struct ingest_section *in,
		       const char *stored_hash, struct budget *b)
{
	struct stored old = { 0 };
	struct db_stmt *s;
	int r;

	if (strcmp(stored_hash, in->hash) == 0)
		return 0;	/* sent in full, yet unchanged */
	if (!in->delta && (!in->prepared || strcmp(stored_hash,
						    in->diffed_hash) != 0)) {
		/* Another report of this host landed in between: start from
		 * what is stored now. */
		r = read_section(c, host, sec, 1, &old);
		if (r == 0)
			r = diff_section(sec, old.body, in);
		json_decref(old.body);
		if (r < 0)
			return r;
		in->incremental = incremental(sec, &old, in);
		in->prepared = 1;
		snprintf(in->diffed_hash, sizeof(in->diffed_hash), "%s", old.hash);
	}
	r = apply_changes(c, host, now, sec, in, b);
	if (r == 0 && sec == SECTION_PACKAGES)
		r = in->delta || in->incremental
			    ? packages_apply_changes(st, c, host, in)
			    : packages_replace(st, c, host, in);
	if (r == 0 && !in->packed)
		r = pack_section(sec, in);
	if (r < 0)
		return r;
	s = db_stmt(c, "INSERT INTO sections (host_id, name, hash, body, "
		    "items_sum, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
		    "ON CONFLICT (host_id, name) DO UPDATE SET hash = "
		    "excluded.hash, body = excluded.body, items_sum = "
		    "excluded.items_sum, updated_at = excluded.updated_at");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, section_names[sec]);
	db_bind_text(s, 3, in->hash);
	db_bind_blob(s, 4, in->packed, in->packed_len);
	db_bind_blob(s, 5, in->sum, REPORT_SUM_LEN);
	db_bind_int(s, 6, now);
	r = db_run(c, s);
	return r < 0 ? r : 1;
}

/* Keeps the collector failures of the report's sections (a failed section
 * itself is left as stored): a section that fails gets its error and the
 * time it began, which stays while the same section keeps failing; one
 * read again loses it.  1 when that changed what the rules see, 0 when
 * not, or a negative errno. */
static int put_failures(struct db_conn *c, struct ingest_job *job, int64_t now)
{
	char held[SECTION_COUNT][REPORT_MAX_ERROR + 1];
	int had = 0, changed = 0, rc, r;
	struct db_stmt *s;

	s = db_stmt(c, "SELECT section, error FROM collector_errors "
		    "WHERE host_id = ?");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, job->host_id);
	while ((rc = db_step(c, s)) == DB_ROW) {
		int sec = section_from_name(db_col_text(s, 0));

		if (sec < 0)
			continue;
		had |= 1 << sec;
		snprintf(held[sec], sizeof(held[sec]), "%s", db_col_text(s, 1));
	}
	db_reset(s);
	if (rc < 0)
		return rc;
	for (int i = 0; i < SECTION_COUNT; i++) {
		const struct ingest_section *in = &job->sec[i];

		if (in->failed && (had & (1 << i)) &&
		    strcmp(held[i], in->error) == 0)
			continue;	/* still failing, for the same reason */
		if (in->failed)
			s = db_stmt(c, "INSERT INTO collector_errors (host_id, "
				    "section, error, since) "
				    "VALUES (?, ?, ?, ?) "
				    "ON CONFLICT (host_id, section) DO UPDATE "
				    "SET error = excluded.error");
		else if (in->present && (had & (1 << i)))
			s = db_stmt(c, "DELETE FROM collector_errors WHERE "
				    "host_id = ? AND section = ?");
		else
			continue;
		if (!s)
			return -EIO;
		db_bind_int(s, 1, job->host_id);
		db_bind_text(s, 2, section_names[i]);
		if (in->failed) {
			db_bind_text(s, 3, in->error);
			db_bind_int(s, 4, now);
		}
		if ((r = db_run(c, s)) < 0)
			return r;
		changed = 1;
	}
	return changed;
}

/* Finds the project by name, creating it (owner from the agent's tag, no
 * end date) when it does not exist yet.  Read first: the upsert locks the
 * project's row until the batch commits, and with several nodes on one
 * PostgreSQL every other node's batch with a host of that project waited
 * for it, or deadlocked with it. */
static int project_for_tag(struct db_conn *c, const char *name,
			   const char *owner, int64_t now, int64_t *ret_id)
{
	struct db_stmt *s = db_stmt(c, "SELECT id, owner FROM projects "
				  "WHERE name = ?");
	int rc;

	if (!s)
		return -EIO;
	db_bind_text(s, 1, name);
	rc = db_step(c, s);
	if (rc == DB_ROW && (!owner || !db_col_null(s, 1))) {
		*ret_id = db_col_int(s, 0);
		db_reset(s);
		return 0;
	}
	db_reset(s);
	if (rc < 0)
		return rc;
	s = db_stmt(c, "INSERT INTO projects (name, owner, created_at) "
		    "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
		    "owner = coalesce(projects.owner, ?2) RETURNING id");
	if (!s)
		return -EIO;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, owner);
	db_bind_int(s, 3, now);
	rc = db_step(c, s);
	if (rc == DB_ROW)
		*ret_id = db_col_int(s, 0);
	db_reset(s);
	return rc == DB_ROW ? 0 : rc < 0 ? rc : -EPROTO;	/* no id back */
}

static int update_identity(struct db_conn *c, struct ingest_job *job,
			   int64_t now, int pinned, const char *old_tag,
			   const char *old_identity, int *ret_tag_changed)
{
	const json_t *host = json_object_get(job->report, "host");
	const json_t *os = json_object_get(host, "os");
	const char *tag = json_get_str(host, "project");
	const char *owner = json_get_str(host, "owner");
	char *addresses = json_canonical(json_object_get(host, "addresses"));
	struct db_stmt *s;
	int64_t collected = 0, boot = 0;
	int r;

	if (tag && !*tag)
		tag = NULL;
	time_parse(json_get_str(job->report, "collected_at"), &collected);
	*ret_tag_changed = 0;
	if (job->identity[0] && old_identity &&
	    strcmp(job->identity, old_identity) == 0) {
		/* The same host as last time: only the clock moves. */
		free(addresses);
		s = db_stmt(c, "UPDATE hosts SET last_seen = ?, collected_at = "
			    "coalesce(?, collected_at) WHERE id = ?");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, now);
		if (collected > 0)
			db_bind_int(s, 2, collected);
		db_bind_int(s, 3, job->host_id);
		return db_run(c, s);
	}
	time_parse(json_get_str(host, "boot_time"), &boot);
	s = db_stmt(
		c, "UPDATE hosts SET hostname = ?, fqdn = ?, machine_id = ?, "
		   "os_id = ?, os_version_id = ?, os_codename = ?, os_pretty "
		   "= ?, kernel = ?, arch = ?, boot_time = ?, addresses = ?, "
		   "agent_version = ?, tag_project = ?, tag_owner = ?, "
		   "last_seen = ?, collected_at = ?, identity_hash = ? WHERE "
		   "id = ?");
	if (!s) {
		free(addresses);
		return -EIO;
	}
	db_bind_text(s, 1, json_get_str(host, "hostname"));
	db_bind_text(s, 2, json_get_str(host, "fqdn"));
	db_bind_text(s, 3, json_get_str(host, "machine_id"));
	db_bind_text(s, 4, json_get_str(os, "id"));
	db_bind_text(s, 5, json_get_str(os, "version_id"));
	db_bind_text(s, 6, json_get_str(os, "codename"));
	db_bind_text(s, 7, json_get_str(os, "pretty_name"));
	db_bind_text(s, 8, json_get_str(host, "kernel"));
	db_bind_text(s, 9, json_get_str(host, "arch"));
	if (boot > 0)
		db_bind_int(s, 10, boot);
	db_bind_text_take(s, 11, addresses, "[]");
	db_bind_text(s, 12, json_get_str(json_object_get(job->report, "agent"),
				      "version"));
	db_bind_text(s, 13, tag);
	db_bind_text(s, 14, owner);
	db_bind_int(s, 15, now);
	if (collected > 0)
		db_bind_int(s, 16, collected);
	if (job->identity[0])
		db_bind_text(s, 17, job->identity);
	db_bind_int(s, 18, job->host_id);
	r = db_run(c, s);
	if (r < 0)
		return r;

	*ret_tag_changed = (tag == NULL) != (old_tag == NULL) ||
			   (tag && strcmp(tag, old_tag) != 0);
	if (pinned || !*ret_tag_changed)
		return 0;
	/* Until an operator assigns one, the agent's tag names the project. */
	s = db_stmt(c, "UPDATE hosts SET project_id = ? WHERE id = ?");
	if (!s)
		return -EIO;
	if (tag) {
		int64_t pid = 0;

		r = project_for_tag(c, tag, owner, now, &pid);
		if (r < 0)
			return r;
		db_bind_int(s, 1, pid);
	}
	db_bind_int(s, 2, job->host_id);
	return db_run(c, s);
}

/* Keeps the facts time-based rules need as plain columns. */
static int update_facts(struct db_conn *c, struct ingest_job *job)
{
	struct ingest_section *lg = &job->sec[SECTION_LOGINS];
	struct ingest_section *pk = &job->sec[SECTION_PACKAGES];
	struct db_stmt *s;
	int r;

	if (lg->full) {
		const json_t *last = json_object_get(lg->body, "last");
		int64_t at = 0;

		s = db_stmt(c, "UPDATE hosts SET last_login_at = ?, "
			    "last_login_user = ?, last_login_from = ? "
			    "WHERE id = ?");
		if (!s)
			return -EIO;
		if (json_is_object(last) &&
		    time_parse(json_get_str(last, "at"), &at) == 0)
			db_bind_int(s, 1, at);
		db_bind_text(s, 2, json_get_str(last, "user"));
		db_bind_text(s, 3, json_get_str(last, "from"));
		db_bind_int(s, 4, job->host_id);
		if ((r = db_run(c, s)) < 0)
			return r;
	}
	if (pk->full) {
		int64_t at = 0;

		s = db_stmt(c, "UPDATE hosts SET packages_changed_at = ? "
			    "WHERE id = ?");
		if (!s)
			return -EIO;
		if (time_parse(json_get_str(pk->body, "changed_at"), &at) == 0)
			db_bind_int(s, 1, at);
		db_bind_int(s, 2, job->host_id);
		if ((r = db_run(c, s)) < 0)
			return r;
	}
	return 0;
}

/* Runs a prepared write whose one parameter is the host's id. */
static int run_for_host(struct db_conn *c, struct db_stmt *s, int64_t host)
{
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	return db_run(c, s);
}

/* What a report under a re-enrollment token (job->pending) does. */
enum takeover {
	TAKE_NONE,	/* the host's own token */
	TAKE_SAME,	/* the same machine: the new token becomes the host's */
	TAKE_OTHER,	/* another machine_id: and the inventory starts afresh */
	TAKE_STALE,	/* a later enrollment replaced this token: 401 */
};

static int takeover_of(struct db_conn *c, const struct ingest_job *job,
		       enum takeover *ret, char **ret_old_mid)
{
	const char *mid = json_get_str(json_object_get(job->report, "host"),
				       "machine_id");
	struct db_stmt *s;
	int rc;

	*ret = TAKE_NONE;
	*ret_old_mid = NULL;
	if (!job->pending[0])
		return 0;
	s = db_stmt(c, "SELECT CASE WHEN token_hash IS NOT DISTINCT FROM ?2 "
		    "THEN 1 ELSE 0 END, CASE WHEN pending_token_hash IS NOT "
		    "DISTINCT FROM ?2 THEN 1 ELSE 0 END, machine_id FROM hosts "
		    "WHERE id = ?1");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, job->host_id);
	db_bind_text(s, 2, job->pending);
	rc = db_step(c, s);
	if (rc == DB_ROW) {
		const char *old = db_col_text(s, 2);

		if (db_col_int(s, 0))
			*ret = TAKE_NONE;	/* taken by an earlier report */
		else if (!db_col_int(s, 1))
			*ret = TAKE_STALE;
		else if (!old || !*old || (mid && strcmp(mid, old) == 0))
			*ret = TAKE_SAME;
		else
			*ret = TAKE_OTHER;
		if (*ret == TAKE_OTHER && !(*ret_old_mid = strdup(old)))
			rc = -ENOMEM;
	}
	db_reset(s);
	return rc < 0 ? rc : 0;
}

#define SNAPSHOTS_KEPT 4	/* per host */

/* Keeps the host's inventory in host_snapshots and empties it, so the new
 * identity's sections are its first state, not a list of removals. */
static int snapshot_and_reset(struct db_conn *c, struct ingest_job *job,
			      int64_t now, const char *old_mid)
{
	const char *mid = json_get_str(json_object_get(job->report, "host"),
				       "machine_id");
	json_t *secs = json_object(), *counts = json_object(), *snap;
	unsigned char *packed = NULL;
	size_t packed_len = 0;
	int64_t snap_id = 0;
	char *text = NULL, *old_text = NULL, *new_text = NULL;
	struct db_stmt *s;
	int rc, r = 0;

	s = db_stmt(c, "SELECT name, body FROM sections WHERE host_id = ?");
	if (!s || !secs || !counts) {
		r = s ? -ENOMEM : -EIO;
		goto out;
	}
	db_bind_int(s, 1, job->host_id);
	while ((rc = db_step(c, s)) == DB_ROW) {
		json_t *body = db_body_column(s, 1);

		if (body)
			json_object_set_new(secs, db_col_text(s, 0), body);
	}
	db_reset(s);
	if (rc < 0) {
		r = rc;
		goto out;
	}
	if (json_object_get(secs, section_names[SECTION_PACKAGES])) {
		json_t *items = NULL;

		if ((r = packages_items(c, job->host_id, &items)) < 0)
			goto out;
		json_object_set_new(json_object_get(secs,
				section_names[SECTION_PACKAGES]), "items",
				    items);
	}
	{
		const char *name;
		json_t *body;

		json_object_foreach(secs, name, body)
			json_object_set_new(counts, name, json_integer(
				(json_int_t)json_array_size(
					json_object_get(body, "items"))));
	}
	snap = json_pack("{s:s?,s:O}", "machine_id", old_mid, "sections",
			 secs);
	text = snap ? json_canonical(snap) : NULL;
	json_decref(snap);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = db_body_pack(text, strlen(text), &packed, &packed_len)) < 0)
		goto out;
	s = db_stmt(c, "INSERT INTO host_snapshots (host_id, at, machine_id, "
		    "body) VALUES (?, ?, ?, ?) RETURNING id");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_int(s, 1, job->host_id);
	db_bind_int(s, 2, now);
	db_bind_text(s, 3, old_mid);
	db_bind_blob(s, 4, packed, packed_len);
	while ((rc = db_step(c, s)) == DB_ROW)
		snap_id = db_col_int(s, 0);
	db_reset(s);
	if (rc < 0) {
		r = rc;
		goto out;
	}
	/* Each takeover costs a report's size at most: a few are kept. */
	if ((r = db_run_with(
		c, "DELETE FROM host_snapshots WHERE host_id = ?1 AND id NOT "
		   "IN (SELECT id FROM host_snapshots WHERE host_id = ?1 "
		   "ORDER BY id DESC LIMIT ?2)",
		   DB_INT(job->host_id), DB_INT(SNAPSHOTS_KEPT))) < 0)
		goto out;
	/* The old machine's facts go with its inventory. */
	if ((r = db_run_with(
		c, "UPDATE hosts SET identity_changed_at = ?2, "
		   "previous_machine_id = ?3, identity_hash = NULL, "
		   "last_login_at = NULL, last_login_user = NULL, "
		   "last_login_from = NULL, packages_changed_at = NULL WHERE "
		   "id = ?1",
		   DB_INT(job->host_id), DB_INT(now), DB_TEXT(old_mid))) < 0)
		goto out;
	if ((r = run_for_host(c, db_stmt(c, "DELETE FROM sections WHERE "
					 "host_id = ?"),
			      job->host_id)) < 0 ||
	    (r = run_for_host(c, db_stmt(c, "DELETE FROM host_packages WHERE "
					 "host_id = ?"),
			      job->host_id)) < 0)
		goto out;
	/* One history row says what happened and where the old inventory
	 * went. */
	snap = json_pack("{s:s?,s:I,s:O}", "machine_id", old_mid,
			 "snapshot_id", (json_int_t)snap_id, "items", counts);
	old_text = snap ? json_canonical(snap) : NULL;
	json_decref(snap);
	snap = json_pack("{s:s?}", "machine_id", mid);
	new_text = snap ? json_canonical(snap) : NULL;
	json_decref(snap);
	if (!old_text || !new_text) {
		r = -ENOMEM;
		goto out;
	}
	r = db_run_with(
		c, "INSERT INTO changes (host_id, at, section, key, action, "
		   "old, new) VALUES (?, ?, 'host', 'machine_id', 'changed', "
		   "?, ?)",
		   DB_INT(job->host_id), DB_INT(now), DB_TEXT(old_text),
		   DB_TEXT(new_text));
out:
	free(text);
	free(old_text);
	free(new_text);
	free(packed);
	json_decref(secs);
	json_decref(counts);
	return r;
}

/* Every section the report sends is a bare hash. */
static int hashes_only(const struct ingest_job *job)
{
	int any = 0;

	for (int i = 0; i < SECTION_COUNT; i++) {
		const struct ingest_section *in = &job->sec[i];

		if (in->present && (in->full || in->delta || in->failed))
			return 0;
		any |= in->present;
	}
	return any;
}

/* For a report that changed nothing: whether its host is one the fast
 * path may answer for (neither silent nor retired, once evaluated), and
 * when it is next due. */
static int learnable(struct db_conn *c, struct ingest_job *job)
{
	struct db_stmt *s = db_stmt(c, "SELECT CASE WHEN status = 'silent' OR "
				  "retired_at IS NOT NULL THEN 1 ELSE 0 END, "
				  "next_eval_at FROM hosts WHERE id = ?");
	int r;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, job->host_id);
	r = db_step(c, s);
	if (r == DB_ROW && !db_col_int(s, 0)) {
		job->unchanged = 1;
		job->next_eval_at = db_col_null(s, 1)
					    ? INT64_MAX
					    : db_col_int(s, 1);
	}
	db_reset(s);
	return r < 0 ? r : 0;
}

int store_put_seen(struct store *st, const struct store_seen *seen, size_t n)
{
	struct db_conn *c = &st->writer;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		/* A report that went the whole way meanwhile may have
		 * stored a later time: never move back. */
		struct db_stmt *s = db_stmt(c, "UPDATE hosts SET collected_at = "
					  "CASE WHEN ?2 >= coalesce(last_seen, 0) "
					  "THEN coalesce(?3, collected_at) ELSE "
					  "collected_at END, last_seen = "
					  "CASE WHEN coalesce(last_seen, 0) > "
					  "?2 THEN coalesce(last_seen, 0) "
					  "ELSE ?2 END "
					  "WHERE id = ?1");

		if (!s)
			return -EIO;
		db_bind_int(s, 1, seen[i].host_id);
		db_bind_int(s, 2, seen[i].last_seen);
		if (seen[i].collected_at > 0)
			db_bind_int(s, 3, seen[i].collected_at);
		if ((r = db_run(c, s)) < 0)
			break;
		/* One row of history for the host's unchanged reports since
		 * the last write, as the last of them. */
		s = db_stmt(c, "INSERT INTO reports (host_id, received_at, "
			    "collected_at, bytes, full_sections) SELECT id, ?2, "
			    "collected_at, ?3, 0 FROM hosts WHERE id = ?1");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, seen[i].host_id);
		db_bind_int(s, 2, seen[i].last_seen);
		db_bind_int(s, 3, seen[i].bytes);
		r = db_run(c, s);
	}
	return r;
}

int store_apply_report(struct store *st, struct ingest_job *job, int64_t now)
{
	struct db_conn *c = &st->writer;
	struct db_stmt *s;
	char *old_tag = NULL;
	char old_identity[SHA256_HEX_LEN] = "";
	char stored[SECTION_COUNT][SHA256_HEX_LEN] = { { 0 } };
	char *old_mid = NULL;
	enum takeover take;
	struct budget b = { .day = now / 86400 };
	int pinned, silent, due, changed = 0, tag_changed = 0, r;
	int same_identity;
	int64_t pkg_at;

	/* A retired host that reports is news, like a silent one. */
	s = db_stmt(
		c, "SELECT project_pinned, CASE WHEN status = 'silent' OR "
		   "retired_at IS NOT NULL THEN 1 ELSE 0 END, CASE WHEN "
		   "next_eval_at <= ? THEN 1 ELSE 0 END, tag_project, "
		   "identity_hash, "
		   "packages_changed_at, changes_day, changes_today FROM "
		   "hosts WHERE id = ?");
	if (!s) {
		r = -EIO;
		goto fail;
	}
	db_bind_int(s, 1, now);
	db_bind_int(s, 2, job->host_id);
	if ((r = db_step(c, s)) != DB_ROW) {
		db_reset(s);
		if (r < 0)
			goto fail;
		job->status = 404;	/* deleted while it was reporting */
		goto done;
	}
	pinned = db_col_int(s, 0);
	silent = db_col_int(s, 1);
	due = db_col_int(s, 2);
	if (!db_col_null(s, 3))
		old_tag = strdup(db_col_text(s, 3));
	if (!db_col_null(s, 4))
		snprintf(old_identity, sizeof(old_identity), "%s",
			 db_col_text(s, 4));
	pkg_at = db_col_int(s, 5);
	b.report_left = st->cfg ? st->cfg->changes_per_report : 2000;
	b.day_left = st->cfg ? st->cfg->changes_per_day : 20000;
	if (db_col_int(s, 6) == b.day)
		b.day_left -= db_col_int(s, 7);
	db_reset(s);
	same_identity = job->identity[0] &&
			strcmp(job->identity, old_identity) == 0;
	job->unchanged = 0;
	if ((r = takeover_of(c, job, &take, &old_mid)) < 0)
		goto fail;
	if (take == TAKE_STALE) {
		job->status = 401;
		goto done;
	}

	/* A section sent as a bare hash must match what we hold; anything
	 * else means we lost state, and the agent must resend it in full. */
	job->resend_mask = 0;
	s = db_stmt(c, "SELECT name, hash FROM sections WHERE host_id = ?");
	if (!s) {
		r = -EIO;
		goto fail;
	}
	db_bind_int(s, 1, job->host_id);
	while ((r = db_step(c, s)) == DB_ROW) {
		int sec = section_from_name(db_col_text(s, 0));

		if (sec >= 0)
			snprintf(stored[sec], SHA256_HEX_LEN, "%s", db_col_text(s, 1));
	}
	db_reset(s);
	if (r < 0)
		goto fail;
	for (int i = 0; i < SECTION_COUNT; i++) {
		struct ingest_section *in = &job->sec[i];

		if (in->present && !in->full && !in->failed &&
		    strcmp(stored[i], in->hash) != 0)
			job->resend_mask |= 1 << i;
		/* A delta applies only to the state it was prepared on. */
		if (in->delta && (!in->prepared ||
				  strcmp(stored[i], in->delta_base) != 0))
			job->resend_mask |= 1 << i;
		/* Another machine starts afresh: in full, or not at all. */
		if (take == TAKE_OTHER && in->present &&
		    (!in->full || in->delta))
			job->resend_mask |= 1 << i;
	}
	if (job->resend_mask) {
		job->status = 409;
		goto done;
	}
	if (take != TAKE_NONE) {
		/* The new identity reported: its token is the host's now, and
		 * the old one stops working, also on the fast path. */
		atomic_fetch_add(&st->epoch, 1);
		r = run_for_host(c, db_stmt(c, "UPDATE hosts SET token_hash = "
					    "pending_token_hash, "
					    "pending_token_hash = NULL, "
					    "pending_since = NULL WHERE id = ?"),
				 job->host_id);
		if (r == 0 && take == TAKE_OTHER) {
			r = snapshot_and_reset(c, job, now, old_mid);
			memset(stored, 0, sizeof(stored));
			old_identity[0] = '\0';
		}
		if (r < 0)
			goto fail;
		changed = 1;
	}

	for (int i = 0; i < SECTION_COUNT; i++) {
		if (!job->sec[i].full)
			continue;
		r = put_section(st, c, job->host_id, now, i, &job->sec[i],
				stored[i], &b);
		if (r < 0)
			goto fail;
		/* A delta that touches no package the rules look at needs
		 * no evaluation, unless the host was unmaintained until now. */
		changed |= r && (!job->sec[i].delta || job->sec[i].eval ||
				 (pkg_at && pkg_at + store_unmaintained_after(st) <= now));
	}
	if ((r = put_failures(c, job, now)) < 0)
		goto fail;
	changed |= r;
	if (b.written > 0) {
		if ((r = db_run_with(
			c, "UPDATE hosts SET changes_today = CASE changes_day "
			   "WHEN ?2 THEN changes_today + ?3 ELSE ?3 END, "
			   "changes_day = ?2 WHERE id = ?1",
			   DB_INT(job->host_id), DB_INT(b.day),
			   DB_INT(b.written))) < 0)
			goto fail;
	}
	if ((r = update_identity(c, job, now, pinned, old_tag,
				 old_identity[0] ? old_identity : NULL,
				 &tag_changed)) < 0 ||
	    (r = update_facts(c, job)) < 0)
		goto fail;
	s = db_stmt(
		c, "INSERT INTO reports (host_id, received_at, collected_at, "
		   "bytes, full_sections) VALUES (?1, ?2, (SELECT "
		   "collected_at FROM hosts WHERE id = ?1), ?3, ?4)");
	if (!s) {
		r = -EIO;
		goto fail;
	}
	db_bind_int(s, 1, job->host_id);
	db_bind_int(s, 2, now);
	db_bind_int(s, 3, (int64_t)job->bytes);
	{
		int full = 0;

		for (int i = 0; i < SECTION_COUNT; i++)
			full += job->sec[i].full;
		db_bind_int(s, 4, full);
	}
	if ((r = db_run(c, s)) < 0)
		goto fail;
	/* An unchanged report of a host that is neither silent nor due for a
	 * time-based rule changes no finding; skip the rules. */
	if (changed || silent || due || tag_changed) {
		json_t *given[SECTION_COUNT];

		for (int i = 0; i < SECTION_COUNT; i++)
			given[i] = job->sec[i].full && !job->sec[i].delta
					   ? job->sec[i].body
					   : NULL;
		r = store_eval_report(st, c, job->host_id, now, given);
		if (r < 0)
			goto fail;
	}
	if (!changed && !tag_changed && same_identity && take == TAKE_NONE &&
	    hashes_only(job) && (r = learnable(c, job)) < 0)
		goto fail;
	job->status = 200;
done:
	/* A 409 or 404 is decided before anything is written: it leaves no
	 * trace, not even last_seen. */
	free(old_tag);
	free(old_mid);
	return 0;
fail:
	free(old_tag);
	free(old_mid);
	return r;
}

int store_index_packages(struct store *st, int limit, int *ret_count)
{
	return packages_index_pending(&st->writer, limit, ret_count);
}

/* Runs a prepared delete of up to limit rows older than before (its two
 * parameters) and counts them. */
static int prune_rows(struct db_conn *c, struct db_stmt *s, int64_t before,
		      int limit, int *ret_count)
{
	int r;

	*ret_count = 0;
	if (!s)
		return -EIO;
	db_bind_int(s, 1, before);
	db_bind_int(s, 2, limit);
	if ((r = db_run(c, s)) < 0)
		return r;
	*ret_count = db_changes(c);
	return 0;
}

int store_prune(struct store *st, int64_t reports_before, int64_t now,
		int limit, int *ret_count)
{
	struct db_conn *c = &st->writer;
	int64_t keep = st->cfg && st->cfg->history_keep > 0
			       ? st->cfg->history_keep
			       : 400 * 86400;
	int n = 0, total = 0, r;

	/* Oldest first, through the indexes on time: a pass never reads
	 * what it keeps. */
	r = prune_rows(c, db_stmt(c, "DELETE FROM changes WHERE id IN (SELECT "
				  "id FROM changes WHERE at < ?1 ORDER BY at "
				  "LIMIT ?2)"),
		       now - keep, limit, &n);
	total += n;
	if (r == 0 && total < limit) {
		r = prune_rows(c, db_stmt(
			c, "DELETE FROM host_snapshots WHERE id IN (SELECT id "
			   "FROM host_snapshots WHERE at < ?1 ORDER BY id "
			   "LIMIT ?2)"), now - keep, limit - total, &n);
		total += n;
	}
	if (r == 0 && total < limit) {
		/* Rows come in time order: the oldest few are all a pass
		 * needs to look at, where a scan for old ones would read the
		 * whole table each time. */
		r = prune_rows(c, db_stmt(c, "DELETE FROM reports WHERE id IN "
					  "(SELECT id FROM reports ORDER BY id "
					  "LIMIT ?2) AND received_at < ?1"),
			       reports_before, limit - total, &n);
		total += n;
	}
	*ret_count = total;
	return r;
}
