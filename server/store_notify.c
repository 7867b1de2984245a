/*
 * store_notify.c - the notification outbox (sql/006_notify.sql): events
 * queued in the transaction of the finding change that causes them, and
 * what the sender (notify.c) and the API read and write of them.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jsonutil.h"
#include "links.h"
#include "notify.h"
#include "rules.h"
#include "timeutil.h"

int store_notify_set_dests(struct store *st,
			   const struct store_notify_dest *dests, size_t n)
{
	if (n > STORE_NOTIFY_MAX_DESTS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		st->notify_dests[i] = dests[i];
	st->n_notify_dests = (int)n;
	return 0;
}

int store_notify_dests(const struct store *st,
		       const struct store_notify_dest **ret)
{
	*ret = st->notify_dests;
	return st->n_notify_dests;
}

/* The one row s (bound to id as ?1) answers, as db_row_json() makes it;
 * -ENOENT without it. */
static int row_of(struct db_conn *c, struct db_stmt *s, int64_t id,
		  json_t **ret)
{
	int r;

	if (s)
		db_bind_int(s, 1, id);
	r = db_step(c, s);
	if (r == DB_ROW) {
		*ret = db_row_json(s);
		r = *ret ? 0 : -ENOMEM;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	return r;
}

/* The finding as the event carries it: what GET /api/v1/findings shows. */
static int finding_json(struct db_conn *c, int64_t id, json_t **ret)
{
	struct db_stmt *s = db_stmt(
		c, "SELECT id, host_id, rule, key, severity, status, summary, "
		   "details AS details_json, first_seen, last_seen, "
		   "resolved_at, ack_until FROM findings WHERE id = ?");
	json_t *row;
	int r = row_of(c, s, id, &row);

	if (r < 0)
		return r;
	json_object_set_new(row, "severity",
			    json_string(rules_severity_name(
				    (enum rules_severity)json_get_int(
					    row, "severity", 0))));
	*ret = row;
	return 0;
}

/* What a receiver needs to know of the host without asking. */
static int host_json(struct db_conn *c, int64_t id, json_t **ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT h.id, h.hostname, h.agent_id, "
				  "p.name AS project, p.ends_on AS "
				  "project_ends_on, h.os_id, h.os_version_id, "
				  "h.os_codename, h.first_seen, h.last_seen, "
				  "h.last_login_at, h.last_login_user, "
				  "h.packages_changed_at, h.retired_at "
				  "FROM hosts h LEFT JOIN projects p ON p.id = "
				  "h.project_id WHERE h.id = ?");

	return row_of(c, s, id, ret);
}

static int queue_row(struct db_conn *c, const char *event_id, const char *dest,
		     const char *kind, const char *payload, int64_t now)
{
	/* A destination a receiver switched off gets nothing. */
	struct db_stmt *s = db_stmt(
		c, "INSERT INTO notify_deliveries (event_id, destination, "
		   "kind, payload, next_try_at, created_at) SELECT ?1, ?2, "
		   "?3, ?4, ?5, ?5 WHERE NOT EXISTS (SELECT 1 FROM "
		   "notify_disabled WHERE destination = ?2)");

	if (!s)
		return -EIO;
	db_bind_text(s, 1, event_id);
	db_bind_text(s, 2, dest);
	db_bind_text(s, 3, kind);
	db_bind_text(s, 4, payload);
	db_bind_int(s, 5, now);
	return db_run(c, s);
}

static int wanted(const struct store *st, const char *only, int severity,
		  int i)
{
	const struct store_notify_dest *d = &st->notify_dests[i];

	if (only)
		return strcmp(d->name, only) == 0;
	return severity >= d->min_severity;
}

int store_notify_wanted(const struct store *st, const char *only, int severity)
{
	for (int i = 0; st && i < st->n_notify_dests; i++)
		if (wanted(st, only, severity, i))
			return 1;
	return 0;
}

int store_notify_event(struct db_conn *c, const char *kind, const json_t *data,
		       int severity, const char *only, int64_t now)
{
	const struct store *st = c->st;
	char event_id[40] = "evt_", ts[TIME_RFC3339_LEN];
	json_t *ev;
	char *body;
	int r = 0;

	if (!store_notify_wanted(st, only, severity))
		return 0;
	if (random_hex(event_id + 4, 16) < 0)
		return -EIO;
	time_format(now, ts);
	ev = json_pack("{s:s,s:s,s:s,s:O}", "type", kind, "timestamp", ts, "id",
		       event_id, "data", data);
	body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!body)
		return -ENOMEM;
	for (int i = 0; i < st->n_notify_dests && r == 0; i++)
		if (wanted(st, only, severity, i))
			r = queue_row(c, event_id, st->notify_dests[i].name,
				      kind, body, now);
	free(body);
	return r;
}

int store_notify_finding(struct db_conn *c, const char *kind, int64_t finding_id,
			 int severity, int previous_severity, int64_t now)
{
	const struct store *st = c->st;
	json_t *finding = NULL, *host = NULL, *data = NULL;
	char link[600];
	int r;

	/* No destination, no rows, no cost. */
	if (!store_notify_wanted(st, NULL, severity))
		return 0;
	if ((r = finding_json(c, finding_id, &finding)) < 0)
		return r;
	r = host_json(c, json_get_int(finding, "host_id", 0), &host);
	if (r < 0)
		goto out;
	links_host(st->cfg, json_get_int(host, "id", 0), link,
			 sizeof(link));
	data = json_pack("{s:O,s:O,s:s}", "finding", finding, "host", host,
			 "link", link);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	if (previous_severity >= 0)
		json_object_set_new(data, "previous_severity",
				    json_string(rules_severity_name(
					    (enum rules_severity)
						    previous_severity)));
	r = store_notify_event(c, kind, data, severity, NULL, now);
out:
	json_decref(data);
	json_decref(finding);
	json_decref(host);
	return r;
}

int store_notify_queue(struct store *st, const char *kind, const json_t *data,
		       int severity, const char *only, int64_t now)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	r = store_notify_event(c, kind, data, severity, only, now);
	return db_write_end(st, c, r);
}

int store_notify_prune(struct store *st, int64_t before, int *ret_count)
{
	struct db_conn *c;
	int r;

	*ret_count = 0;
	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	/* Bounded: a long backlog goes a slice at a time. */
	r = db_run_with(
		c, "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM "
		   "notify_deliveries WHERE status != 'pending' AND "
		   "created_at < ? LIMIT 5000)",
		   DB_INT(before));
	if (r == 0)
		*ret_count = (int)db_changes(c);
	return db_write_end(st, c, r);
}

void store_delivery_clear(struct store_delivery *d)
{
	free(d->event_id);
	free(d->destination);
	free(d->kind);
	free(d->payload);
	memset(d, 0, sizeof(*d));
}

static char *dup_col(struct db_stmt *s, int i)
{
	const char *v = db_col_text(s, i);

	return strdup(v ? v : "");
}

int store_notify_next(struct store *st, const char *destination, int64_t now,
		      struct store_delivery *ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	struct store_delivery d = { 0 };
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT id, event_id, destination, kind, payload, "
		    "attempts, coalesce(retried_at, created_at), next_try_at "
		    "FROM notify_deliveries WHERE destination = ? AND "
		    "status = 'pending' ORDER BY id LIMIT 1");
	if (s)
		db_bind_text(s, 1, destination);
	r = db_step(c, s);
	if (r != DB_ROW) {
		db_reset(s);
		db_read_end(st, c);
		return r == DB_DONE ? -ENOENT : r;
	}
	d.id = db_col_int(s, 0);
	d.event_id = dup_col(s, 1);
	d.destination = dup_col(s, 2);
	d.kind = dup_col(s, 3);
	d.payload = dup_col(s, 4);
	d.attempts = db_col_int(s, 5);
	d.created_at = db_col_int(s, 6);
	d.next_try_at = db_col_int(s, 7);
	db_reset(s);
	db_read_end(st, c);
	if (!d.event_id || !d.destination || !d.kind || !d.payload) {
		store_delivery_clear(&d);
		return -ENOMEM;
	}
	*ret = d;
	return d.next_try_at > now ? 1 : 0;
}


int store_notify_record(struct store *st, int64_t id, const char *status,
			const char *error, int64_t next_try_at, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = db_run_with(
		c, "UPDATE notify_deliveries SET status = ?1, attempts = "
		   "attempts + 1, last_error = ?2, next_try_at = ?3, "
		   "delivered_at = CASE WHEN ?1 = 'delivered' THEN "
		   "CAST(?4 AS bigint) END "
		   "WHERE id = ?5 AND status = 'pending'",
		   DB_TEXT(status), DB_TEXT(error), DB_INT(next_try_at),
		   DB_INT(now), DB_INT(id));
	if (r == 0 && strcmp(status, "disabled") == 0) {
		r = db_run_with(
			c, "INSERT INTO notify_disabled (destination, "
			   "disabled_at, reason) SELECT destination, ?2, ?3 "
			   "FROM notify_deliveries WHERE id = ?1 ON CONFLICT "
			   "(destination) DO UPDATE SET disabled_at = ?2, "
			   "reason = ?3",
			   DB_INT(id), DB_INT(now), DB_TEXT(error));
		s = r ? NULL
		      : db_stmt(c, "UPDATE notify_deliveries SET status = "
				"'disabled', last_error = ?2 WHERE status = "
				"'pending' AND destination = (SELECT "
				"destination FROM notify_deliveries WHERE "
				"id = ?1)");
		if (s) {
			db_bind_int(s, 1, id);
			db_bind_text(s, 2, "the destination was switched off");
		}
		if (r == 0)
			r = db_run(c, s);
	}
	return db_write_end(st, c, r);
}

#define NOTIFY_COLUMNS \
	"SELECT id, event_id, destination, kind, status, attempts, " \
	"last_error, next_try_at, created_at, delivered_at, retried_at " \
	"FROM " \
	"notify_deliveries WHERE (status = ?1 OR ?1 IS NULL) AND " \
	"(destination = ?2 OR ?2 IS NULL) "

int store_notify_list(struct store *st, const struct notify_filter *f,
		      json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items, *cursor, *row;
	int64_t total = 0, last = 0;
	int n = 0, r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	items = json_array();
	cursor = json_null();
	s = db_stmt(c, NOTIFY_COLUMNS "AND (id < ?3 OR ?3 IS NULL) "
				   "ORDER BY id DESC LIMIT ?4");
	if (!s || !items) {
		r = s ? -ENOMEM : -EIO;
		goto out;
	}
	db_bind_text(s, 1, f->status);
	db_bind_text(s, 2, f->destination);
	if (f->after_id > 0)
		db_bind_int(s, 3, f->after_id);
	db_bind_int(s, 4, f->limit + 1);
	while ((r = db_step(c, s)) == DB_ROW) {
		if (n == f->limit) {
			char cur[32];

			snprintf(cur, sizeof(cur), "%lld", (long long)last);
			json_decref(cursor);
			cursor = json_string(cur);
			break;
		}
		row = db_row_json(s);
		if (!row) {
			r = -ENOMEM;
			break;
		}
		/* A retry is due only while the row is pending. */
		if (strcmp(json_get_str(row, "status"), "pending") != 0)
			json_object_set_new(row, "next_try_at", json_null());
		last = db_col_int(s, 0);
		json_array_append_new(items, row);
		n++;
	}
	db_reset(s);
	if (r < 0)
		goto out;
	/* A count that failed is the read's error, never a total of -1. */
	s = db_stmt(
		c, "SELECT count(*) FROM notify_deliveries WHERE (status = ?1 "
		   "OR ?1 IS NULL) AND (destination = ?2 OR ?2 IS NULL)");
	if (s) {
		db_bind_text(s, 1, f->status);
		db_bind_text(s, 2, f->destination);
	}
	if ((r = db_count(c, s, &total)) < 0)
		goto out;
	*ret = json_pack("{s:O,s:I,s:O}", "items", items, "total",
			 (json_int_t)total, "next_cursor", cursor);
	if (!*ret)
		r = -ENOMEM;
out:
	db_read_end(st, c);
	json_decref(items);
	json_decref(cursor);
	return r;
}

int store_notify_retry(struct store *st, int64_t id, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	const char *status;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT status FROM notify_deliveries WHERE id = ?");
	if (s)
		db_bind_int(s, 1, id);
	r = db_step(c, s);
	if (r == DB_ROW) {
		status = db_col_text(s, 0);
		r = status && strcmp(status, "delivered") == 0 ? -EALREADY : 0;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	if (r < 0)
		goto out;
	r = db_run_with(
		c, "DELETE FROM notify_disabled WHERE destination = (SELECT "
		   "destination FROM notify_deliveries WHERE id = ?)",
		   DB_INT(id));
	if (r < 0)
		goto out;
	r = db_run_with(c, "UPDATE notify_deliveries SET status = 'pending', "
		    "attempts = 0, next_try_at = ?1, retried_at = ?1 WHERE "
		    "id = ?2", DB_INT(now), DB_INT(id));
out:
	return db_write_end(st, c, r);
}
