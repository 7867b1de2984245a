/*
 * store.c - the store itself: opening and closing it (the connections are
 * the database layer's, db.c), tokens and enrollment.  The other store_*.c
 * files each own one part of what is kept, as api_<resource>.c serve it:
 * store_hosts.c, store_projects.c, store_findings.c, store_fleet.c,
 * store_packages.c, store_reports.c (a report's SQL), store_eval.c (the
 * rules' verdicts), store_advisory.c.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

const char *store_errmsg(void)
{
	return db_errmsg();
}

void store_health(struct store *st, struct store_health *ret)
{
	db_health(st, ret);
}

int store_leader(struct store *st)
{
	return db_leader(st);
}

const char *store_engine(const struct store *st)
{
	return db_engine_name(st);
}

int store_describe(const struct server_config *cfg, char *out, size_t n,
		   bool *ret_password_in_uri, char err[256])
{
	int r = db_describe(cfg->database, cfg->database_password, out, n,
			    err);

	if (r == 0)
		*ret_password_in_uri = db_uri_has_password(cfg->database);
	return r;
}

int store_open(const char *path, const struct server_config *cfg,
	       struct store **ret, char err[256])
{
	struct store *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = cfg;
	st->path = strdup(path);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->freed, NULL);
	pthread_rwlock_init(&st->adv_lock, NULL);
	pthread_mutex_init(&st->health_lock, NULL);
	pthread_mutex_init(&st->leader_lock, NULL);
	r = db_open(st, path, err);
	/* Migration 012's second step: SQL cannot pack the rows. */
	if (r == 0 && (r = packages_convert(st)) < 0)
		snprintf(err, 256, "packing the packages of migration 012: %s",
			 strerror(-r));
	if (r < 0) {
		store_close(st);
		return r;
	}
	*ret = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	db_close(st);
	packages_cache_free(st);
	store_verdicts_free(st);
	store_rematch_free(st);
	store_eval_watch_free(st);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->freed);
	pthread_rwlock_destroy(&st->adv_lock);
	pthread_mutex_destroy(&st->health_lock);
	pthread_mutex_destroy(&st->leader_lock);
	free(st->path);
	free(st);
}

long store_epoch(struct store *st)
{
	return atomic_load(&st->epoch);
}

int store_check_writable(struct store *st, char err[256])
{
	return db_check_writable(st, err);
}

int store_checkpoint(struct store *st)
{
	return db_checkpoint(st);
}

int store_backup(struct store *st, const char *dest)
{
	return db_backup(st, dest);
}

const struct advisory_db *store_set_advisories(struct store *st,
					       const struct advisory_db *db)
{
	const struct advisory_db *old;

	/* Waits for evaluations that use the old ones to finish. */
	pthread_rwlock_wrlock(&st->adv_lock);
	old = st->advisories;
	st->advisories = db;
	store_verdicts_forget(st);
	pthread_rwlock_unlock(&st->adv_lock);
	return old;
}

/* --- tokens ---------------------------------------------------------------- */

int store_token_add(struct store *st, const char *name, const char *role,
		    const char *token_hash)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "INSERT INTO tokens (name, role, hash, created_at) "
		       "VALUES (?, ?, ?, ?)");
	if (s) {
		db_bind_text(s, 1, name);
		db_bind_text(s, 2, role);
		db_bind_text(s, 3, token_hash);
		db_bind_int(s, 4, time_now());
	}
	return db_write_end(st, c, db_run(c, s));
}

int store_token_list(struct store *st, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT name, role, created_at, last_used "
		       "AS last_used_at FROM tokens ORDER BY name");
	items = json_array();
	while ((r = db_step(c, s)) == DB_ROW)
		json_array_append_new(items, db_row_json(s));
	db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return 0;
}

int store_token_revoke(struct store *st, const char *name)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	r = db_run_with(c, "DELETE FROM tokens WHERE name = ?", DB_TEXT(name));
	if (r == 0 && db_changes(c) == 0)
		r = -ENOENT;
	return db_write_end(st, c, r);
}

/* Looks token_hash up with s (SELECT role-or-id, name, hash ... WHERE
 * hash = ?): 1 with the row's first two columns in ret, 0 when nobody
 * holds it, or the store's error (never read as "nobody"). */
static int auth_lookup(struct db_conn *c, struct db_stmt *s,
		       const char *token_hash, int host,
		       struct principal *ret)
{
	int r;

	if (s)
		db_bind_text(s, 1, token_hash);
	r = db_step(c, s);
	if (r == DB_ROW && const_time_equal(db_col_text(s, 2), token_hash)) {
		if (host) {
			ret->role = ROLE_HOST;
			ret->host_id = db_col_int(s, 0);
		} else {
			ret->role = strcmp(db_col_text(s, 0), "admin") == 0
					    ? ROLE_ADMIN
					    : ROLE_VIEWER;
			ret->host_id = 0;
		}
		snprintf(ret->name, sizeof(ret->name), "%s",
			 db_col_text(s, 1));
		ret->pending[0] = '\0';
	} else if (r == DB_ROW) {
		r = 0;
	}
	db_reset(s);
	return r;
}

int store_auth(struct store *st, const char *token_hash, struct principal *ret)
{
	struct db_conn *c;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return -EIO;
	r = auth_lookup(c, db_stmt(c, "SELECT role, name, hash FROM tokens "
				      "WHERE hash = ?"),
			token_hash, 0, ret);
	/* A host's token, or the one a re-enrollment gave its agent id, which
	 * works alongside until its first report (store_enroll()). */
	if (r == 0)
		r = auth_lookup(c, db_stmt(c, "SELECT id, agent_id, token_hash "
					      "FROM hosts WHERE "
					      "token_hash = ?"),
				token_hash, 1, ret);
	if (r == 0) {
		r = auth_lookup(c, db_stmt(c, "SELECT id, agent_id, "
					      "pending_token_hash FROM hosts "
					      "WHERE pending_token_hash = ?"),
				token_hash, 1, ret);
		if (r == DB_ROW)
			snprintf(ret->pending, sizeof(ret->pending), "%s",
				 token_hash);
	}
	db_read_end(st, c);
	/* Any failure is the store's (503), never "nobody" (a 401 that
	 * counts against the client's rate limit). */
	return r < 0 ? -EIO : r == DB_ROW ? 0 : -ENOENT;
}

int store_enroll(struct store *st, const char *agent_id, const char *hostname,
		 const char *token_hash, int64_t now, int64_t *ret_host_id)
{
	struct db_conn *c;
	struct db_stmt *s;
	int64_t id = 0;
	int r, has_token = 0;

	/* Every step is checked and the answer waits for COMMIT: on a full
	 * disk the INSERT's row came back while the commit that followed it
	 * failed unnoticed, and the agent kept a token nobody knew. */
	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT id, CASE WHEN token_hash IS NOT NULL THEN 1 "
		       "ELSE 0 END FROM hosts WHERE agent_id = ?");
	if (s)
		db_bind_text(s, 1, agent_id);
	r = db_step(c, s);
	if (r == DB_ROW) {
		id = db_col_int(s, 0);
		has_token = db_col_int(s, 1);
	}
	db_reset(s);
	if (r < 0)
		goto out;
	if (!id) {
		s = db_stmt(c, "INSERT INTO hosts (agent_id, hostname, "
			       "token_hash, first_seen) VALUES (?, ?, ?, ?) "
			       "RETURNING id");
		if (s) {
			db_bind_text(s, 1, agent_id);
			db_bind_text(s, 2, hostname);
			db_bind_text(s, 3, token_hash);
			db_bind_int(s, 4, now);
		}
		r = db_run_returning(c, s, &id);
	} else {
		/* An agent id enrolled again (an agent that lost its token, or
		 * anyone with the fleet secret): the old token keeps working
		 * and the new one waits until its first report, which
		 * store_apply_report() checks against the host's machine_id.
		 * A later enrollment replaces a waiting token. */
		s = has_token ? db_stmt(c, "UPDATE hosts SET "
					   "pending_token_hash = ?, "
					   "pending_since = ? WHERE id = ?")
			      : db_stmt(c, "UPDATE hosts SET token_hash = ? "
					   "WHERE id = ?");
		if (s && has_token) {
			db_bind_text(s, 1, token_hash);
			db_bind_int(s, 2, now);
			db_bind_int(s, 3, id);
		} else if (s) {
			db_bind_text(s, 1, token_hash);
			db_bind_int(s, 2, id);
		}
		r = db_run_returning(c, s, NULL);
	}
	if (r == 0 && id == 0)
		r = -EIO;
out:
	r = db_write_end(st, c, r);
	if (r == 0)
		*ret_host_id = id;
	return r;
}

int store_all_hosts_due(struct store *st)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	return db_write_end(st, c, db_exec(c, "UPDATE hosts SET "
					      "next_eval_at = 0"));
}

int store_migrate_to(struct store *from, struct store *to, json_t **ret,
		     char err[256])
{
	/* What an operator would lose: a database already in use.  The rest
	 * (advisory_state's one row) is what the migrations seed. */
	static const char *const in_use[] = { "hosts", "tokens", NULL };
	int64_t filled;
	int r = db_copy(from, to, in_use, ret, err);

	/* After the copy's commit.  A failure costs only what the digests
	 * give PostgreSQL: the store reads the rows as SQLite kept them. */
	if (r == 0 && packages_fill_digests(to, &filled) < 0)
		log_warning("migrate-to: the package versions' digests were "
			    "not written (%s); run migrate-to again into an "
			    "empty database before a second node shares it",
			    db_errmsg());
	else if (r == 0)
		json_object_set_new(*ret, "digests_filled",
				    json_integer((json_int_t)filled));
	return r;
}
