/*
 * store_advisory.c - the advisory data the database keeps: imported files,
 * the state of the tracker feed, the digest of the data the hosts were last
 * matched against, and the description of the sources in use.
 */
#include "store_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "advisory.h"
#include "jsonutil.h"
#include "timeutil.h"

static const char *const origin_names[] = { "shipped", "tracker", "file",
					    "osv" };

static int bump_version(struct db_conn *c)
{
	return db_exec(c, "UPDATE advisory_state SET data_version = "
			  "data_version + 1");
}

int store_advisory_import(struct store *st, const char *name,
			  const void *body, size_t len, int entries)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	if ((r = db_run_with(
		c, "DELETE FROM advisory_imports WHERE name = ?",
		   DB_TEXT(name))) < 0)
		goto out;
	s = db_stmt(c, "INSERT INTO advisory_imports (name, imported_at, "
		       "entries, body) VALUES (?, ?, ?, ?)");
	if (s) {
		db_bind_text(s, 1, name);
		db_bind_int(s, 2, time_now());
		db_bind_int(s, 3, entries);
		db_bind_blob(s, 4, body, len);
	}
	if ((r = db_run(c, s)) < 0)
		goto out;
	/* A running derelictd sees the version change, loads the data again
	 * and matches every host against it. */
	r = bump_version(c);
out:
	return db_write_end(st, c, r);
}

int store_advisory_each(struct store *st,
			int (*fn)(const char *name, int64_t imported_at,
				  const char *body, size_t len, void *ud),
			void *ud)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_read_begin(st, &c), rf = 0;

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT name, imported_at, body FROM "
		       "advisory_imports ORDER BY id");
	/* A failed read is an error, never "no imports". */
	while (rf >= 0 && (r = db_step(c, s)) == DB_ROW) {
		size_t len;
		const void *body = db_col_blob(s, 2, &len);

		rf = fn(db_col_text(s, 0), db_col_int(s, 1), body, len, ud);
	}
	db_reset(s);
	db_read_end(st, c);
	return rf < 0 ? rf : r < 0 ? r : 0;
}

static void copy_col(char *dst, size_t size, struct db_stmt *s, int i)
{
	const char *v = db_col_text(s, i);

	snprintf(dst, size, "%s", v ? v : "");
}

int store_advisory_state(struct store *st, struct store_advisory_state *ret)
{
	struct store_advisory_state out = { 0 };
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT data_version, matched_digest, "
		       "matched_at, feed_url, feed_etag, "
		       "feed_last_modified, feed_fetched_at, "
		       "feed_checked_at, feed_data_date, "
		       "feed_entries FROM advisory_state");
	r = db_step(c, s);
	if (r == DB_ROW) {
		out.data_version = db_col_int(s, 0);
		copy_col(out.matched_digest, sizeof(out.matched_digest), s, 1);
		out.matched_at = db_col_int(s, 2);
		copy_col(out.feed_url, sizeof(out.feed_url), s, 3);
		copy_col(out.feed_etag, sizeof(out.feed_etag), s, 4);
		copy_col(out.feed_last_modified,
			 sizeof(out.feed_last_modified), s, 5);
		out.feed_fetched_at = db_col_int(s, 6);
		out.feed_checked_at = db_col_int(s, 7);
		out.feed_data_date = db_col_int(s, 8);
		out.feed_entries = db_col_int(s, 9);
		r = 0;
	} else if (r == DB_DONE) {
		r = -EIO;	/* the migration's row is gone */
	}
	db_reset(s);
	db_read_end(st, c);
	if (r == 0)
		*ret = out;
	return r;
}

int store_advisory_feed_save(struct store *st,
			     const struct store_advisory_state *a, int changed)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	r = db_run_with(
		c, "UPDATE advisory_state SET feed_url = ?, feed_etag = ?, "
		   "feed_last_modified = ?, feed_fetched_at = ?, "
		   "feed_checked_at = ?, feed_data_date = ?, feed_entries = ?",
		   DB_TEXT(a->feed_url), DB_TEXT(a->feed_etag),
		   DB_TEXT(a->feed_last_modified), DB_INT(a->feed_fetched_at),
		   DB_INT(a->feed_checked_at), DB_INT(a->feed_data_date),
		   DB_INT(a->feed_entries));
	if (r == 0 && changed)
		r = bump_version(c);
	return db_write_end(st, c, r);
}

int store_advisory_matched(struct store *st, const char *digest, int64_t now)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	r = db_run_with(c, "UPDATE advisory_state SET matched_digest = ?, "
		       "matched_at = ?", DB_TEXT(digest), DB_INT(now));
	if (r == 0)
		r = db_exec(c, "UPDATE hosts SET next_eval_at = 0");
	return db_write_end(st, c, r);
}

static int64_t source_date(const struct advisory_source *src)
{
	return src->data_date ? src->data_date : src->fetched_at;
}

int64_t store_advisories_newest(struct store *st)
{
	int64_t newest = 0;

	pthread_rwlock_rdlock(&st->adv_lock);
	for (size_t i = 0; i < advisory_db_source_count(st->advisories); i++) {
		const struct advisory_source *src =
			advisory_db_source(st->advisories, i);

		if (source_date(src) > newest)
			newest = source_date(src);
	}
	pthread_rwlock_unlock(&st->adv_lock);
	return newest;
}

static int set_date(json_t *o, const char *key, int64_t t)
{
	char d[TIME_DATE_LEN];

	if (t <= 0 || date_format(t, d) < 0)
		return json_object_set_new(o, key, json_null());
	return json_object_set_new(o, key, json_string(d));
}

int store_advisories_json(struct store *st, json_t **ret)
{
	struct store_advisory_state state;
	json_t *out = json_object(), *list = json_array();
	int r = store_advisory_state(st, &state);

	if (!out || !list) {
		json_decref(out);
		json_decref(list);
		return -ENOMEM;
	}
	json_object_set_new(out, "sources", list);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	pthread_rwlock_rdlock(&st->adv_lock);
	for (size_t i = 0; i < advisory_db_source_count(st->advisories); i++) {
		const struct advisory_source *src =
			advisory_db_source(st->advisories, i);
		json_t *o = json_object();
		bool url = strncmp(src->location, "http://", 7) == 0 ||
			   strncmp(src->location, "https://", 8) == 0;

		if (!o || json_array_append_new(list, o) < 0) {
			r = -ENOMEM;
			break;
		}
		r |= json_set_str(o, "name", src->name);
		r |= json_set_str(o, "origin",
				  src->origin < 4 ? origin_names[src->origin] :
						    "file");
		r |= json_set_str(o, url ? "url" : "file",
				  src->location[0] ? src->location : NULL);
		r |= json_set_time(o, "fetched_at", src->fetched_at);
		r |= set_date(o, "data_date", source_date(src));
		r |= json_object_set_new(o, "entries",
					 json_integer((json_int_t)src->entries));
	}
	pthread_rwlock_unlock(&st->adv_lock);
	r |= json_set_time(out, "matched_at", state.matched_at);
	if (r) {
		json_decref(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

json_t *store_advisories_age_json(struct store *st, int64_t now)
{
	int64_t newest = store_advisories_newest(st);
	bool stale = newest <= 0 || now - newest > STORE_ADVISORIES_STALE;
	json_t *o = json_object();
	char date[TIME_DATE_LEN], warning[160];

	if (!o)
		return NULL;
	set_date(o, "data_date", newest);
	json_object_set_new(o, "age_seconds",
			    newest > 0 ? json_integer(now - newest) :
					 json_null());
	json_object_set_new(o, "stale", json_boolean(stale));
	if (!stale) {
		json_object_set_new(o, "warning", json_null());
		return o;
	}
	if (newest <= 0 || date_format(newest, date) < 0)
		snprintf(warning, sizeof(warning),
			 "no advisory data is loaded: vulnerable MTAs are not "
			 "found");
	else
		snprintf(warning, sizeof(warning),
			 "the freshest advisory data is from %s, %lld days "
			 "ago: newer vulnerabilities are not found",
			 date, (long long)((now - newest) / 86400));
	json_object_set_new(o, "warning", json_string(warning));
	return o;
}
