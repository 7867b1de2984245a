/* store_mail.c - the SQL of the owners' mails (see store_mail.h). */
#include "store_mail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "jsonutil.h"
#include "rules.h"
#include "store_int.h"
#include "timeutil.h"

/* A project's address: its contact, else its owner, when either holds an
 * '@' (mail.c checks it is a plain address before any mail goes). */
#define ADDR "CASE WHEN p.contact LIKE '%@%' THEN trim(p.contact) " \
	     "WHEN p.owner LIKE '%@%' THEN trim(p.owner) END"

int store_mail_due(struct store *st, int min_severity, json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c,
		"SELECT a.addr, count(DISTINCT a.hid), max(a.fs), min(a.fs), "
		"max(CASE WHEN a.sev >= 4 THEN a.fs ELSE 0 END), "
		"coalesce(m.last_digest_at, 0) FROM (SELECT " ADDR " AS addr, "
		"h.id AS hid, f.first_seen AS fs, f.severity AS sev "
		"FROM projects p JOIN hosts h ON h.project_id = p.id AND "
		"h.retired_at IS NULL JOIN findings f ON f.host_id = h.id AND "
		"f.status = 'open' AND f.severity >= ?1) a LEFT JOIN "
		"mail_contacts m ON m.address = a.addr WHERE a.addr IS NOT "
		"NULL GROUP BY a.addr, m.last_digest_at ORDER BY a.addr "
		"LIMIT 10000");
	items = json_array();
	if (!s || !items) {
		json_decref(items);
		db_read_end(st, c);
		return s ? -ENOMEM : -EIO;
	}
	db_bind_int(s, 1, min_severity);
	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *o = json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:I}", "address",
			db_col_text(s, 0), "hosts",
			(json_int_t)db_col_int(s, 1), "newest",
			(json_int_t)db_col_int(s, 2), "oldest",
			(json_int_t)db_col_int(s, 3),
			"newest_critical",
			(json_int_t)db_col_int(s, 4),
			"last_digest_at",
			(json_int_t)db_col_int(s, 5));

		if (!o || json_array_append_new(items, o) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return 0;
}

/* The host row of the digest queries (columns 0-7) and its findings. */
static int host_json(struct db_conn *c, struct db_stmt *s, json_t **ret)
{
	struct db_stmt *fs = db_stmt(c, "SELECT id, rule, severity, summary, "
				   "details, first_seen FROM findings WHERE "
				   "host_id = ? AND status = 'open' ORDER BY "
				   "severity DESC, id LIMIT 50");
	json_t *h, *list;
	int r;

	if (!fs)
		return -EIO;
	h = json_pack("{s:I, s:s?, s:s?, s:s?, s:I, s:s?, s:I, s:s?}", "id",
		      (json_int_t)db_col_int(s, 0), "hostname",
		      db_col_text(s, 1), "project", db_col_text(s, 2), "ends_on",
		      db_col_text(s, 3), "last_login_at",
		      (json_int_t)db_col_int(s, 4), "last_login_user",
		      db_col_text(s, 5), "packages_changed_at",
		      (json_int_t)db_col_int(s, 6), "handed_by",
		      db_col_text(s, 7));
	list = json_array();
	if (!h || !list || json_object_set_new(h, "findings", list) < 0) {
		json_decref(h);
		return -ENOMEM;
	}
	db_bind_int(fs, 1, db_col_int(s, 0));
	while ((r = db_step(c, fs)) == DB_ROW) {
		const char *d = db_col_text(fs, 4);
		json_t *det = d ? json_loads(d, 0, NULL) : NULL;
		json_t *f = json_pack("{s:I, s:s?, s:I, s:s?, s:o, s:I}", "id",
				      (json_int_t)db_col_int(fs, 0),
				      "rule", db_col_text(fs, 1), "severity",
				      (json_int_t)db_col_int(fs, 2),
				      "summary", db_col_text(fs, 3), "details",
				      det ? det : json_object(), "first_seen",
				      (json_int_t)db_col_int(fs, 5));

		if (!f || json_array_append_new(list, f) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	db_reset(fs);
	if (r < 0) {
		json_decref(h);
		return r;
	}
	*ret = h;
	return 0;
}

/* Steps s (bound, limit + 1 rows asked) into hosts; the last column of a
 * handoff row is its id. */
static int collect_hosts(struct db_conn *c, struct db_stmt *s, int limit,
			 json_t **ret, int64_t *ret_last)
{
	json_t *items = json_array();
	int r, n = 0;

	if (!items)
		return -ENOMEM;
	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *h = NULL;

		if (ret_last)
			*ret_last = db_col_int(s, 8);
		if (++n > limit)
			continue;	/* counted only */
		if ((r = host_json(c, s, &h)) < 0)
			break;
		if (json_array_append_new(items, h) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	db_reset(s);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return n;
}

int store_mail_digest_hosts(struct store *st, const char *address,
			    int min_severity, int limit, json_t **ret,
			    int64_t *ret_more)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items = NULL;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	/* Every such host is counted; limit of them are listed. */
	s = db_stmt(c,
		"SELECT h.id, h.hostname, p.name, p.ends_on, h.last_login_at, "
		"h.last_login_user, h.packages_changed_at, NULL FROM projects p "
		"JOIN hosts h ON h.project_id = p.id WHERE (" ADDR ") = ?1 AND "
		"h.retired_at IS NULL AND EXISTS (SELECT 1 FROM findings f "
		"WHERE f.host_id = h.id AND f.status = 'open' AND f.severity "
		">= ?2) ORDER BY h.severity DESC, h.id");
	if (s) {
		db_bind_text(s, 1, address);
		db_bind_int(s, 2, min_severity);
	}
	r = s ? collect_hosts(c, s, limit, &items, NULL) : -EIO;
	db_read_end(st, c);
	if (r < 0)
		return r;
	*ret = items;
	*ret_more = r > limit ? r - limit : 0;
	return 0;
}

int store_mail_handoff_hosts(struct store *st, int limit, json_t **ret,
			     int64_t *ret_more, int64_t *ret_last)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *items = NULL;
	int64_t last = 0;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c,
		"SELECT h.id, h.hostname, m.project, NULL, h.last_login_at, "
		"h.last_login_user, h.packages_changed_at, m.by, m.id FROM "
		"mail_handoffs m JOIN hosts h ON h.id = m.host_id WHERE "
		"m.sent_at IS NULL ORDER BY m.id LIMIT 100000");
	r = s ? collect_hosts(c, s, limit, &items, &last) : -EIO;
	db_read_end(st, c);
	if (r < 0)
		return r;
	*ret = items;
	*ret_more = r > limit ? r - limit : 0;
	*ret_last = last;
	return 0;
}

/* The schedule's half of store_mail_queue(). */
static int schedule(struct db_conn *c, const char *address, int64_t hosts,
		    int64_t waited, int64_t handoff_last, int64_t now)
{

	if (!address) {
		return db_run_with(
			c, "UPDATE mail_handoffs SET sent_at = ?1 WHERE "
			   "sent_at IS NULL AND id <= ?2",
			   DB_INT(now), DB_INT(handoff_last));
	}
	return db_run_with(
		c, "INSERT INTO mail_contacts (address, last_digest_at, "
		   "last_hosts, escalated_at, waited) VALUES (?1, "
		   "CAST(?2 AS bigint), ?3, "
		   "CASE WHEN ?4 > 0 THEN ?2 ELSE 0 END, ?4) ON CONFLICT "
		   "(address) DO UPDATE SET last_digest_at = ?2, last_hosts = "
		   "?3, escalated_at = CASE WHEN ?4 > 0 THEN ?2 ELSE "
		   "mail_contacts.escalated_at END, waited = ?4",
		   DB_TEXT(address), DB_INT(now), DB_INT(hosts),
		   DB_INT(waited));
}

int store_mail_queue(struct store *st, const struct store_mail_out *outs,
		     int n, const char *address, int64_t hosts, int64_t waited,
		     int64_t handoff_last, int64_t now)
{
	struct db_conn *c;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	for (int i = 0; i < n && r == 0; i++) {
		char id[40], dest[STORE_MAIL_DEST_MAX];
		json_t *p = json_object();
		char *text = NULL;

		if (p) {
			json_object_set_new(p, "to", json_string(outs[i].to));
			json_object_set_new(p, "message",
					    json_stringn(outs[i].message,
							 outs[i].len));
			text = json_dumps(p, JSON_COMPACT);
		}
		json_decref(p);
		if (!text) {
			r = -ENOMEM;
			break;
		}
		/* The event id is the mail's own: a retry is the same mail. */
		snprintf(id, sizeof(id), "digest-");
		if (random_hex(id + 7, 16) < 0) {
			free(text);
			r = -EIO;
			break;
		}
		snprintf(dest, sizeof(dest), "mail:%s", outs[i].to);
		r = db_run_with(
			c, "INSERT INTO notify_deliveries (event_id, "
			   "destination, kind, payload, next_try_at, "
			   "created_at) VALUES (?1, ?2, 'digest', ?3, ?4, ?4)",
			   DB_TEXT(id), DB_TEXT(dest), DB_TEXT(text),
			   DB_INT(now));
		free(text);
	}
	/* The webhooks hear of the digest too (a "digest" event, in the same
	 * transaction, so a digest is told exactly when it is queued); its
	 * hosts have findings of medium severity or worse. */
	if (r == 0 && n > 0) {
		/* A hand-over to escalate_to has no contact address. */
		json_t *ev = json_pack("{s:s?,s:I,s:I,s:i}", "to",
				       address ? address : outs[0].to,
				       "hosts", (json_int_t)hosts, "waited_s",
				       (json_int_t)waited, "mails", n);

		r = ev ? store_notify_event(c, "digest", ev, RULES_SEV_MEDIUM,
					    NULL, now)
		       : -ENOMEM;
		json_decref(ev);
	}
	if (r == 0)
		r = schedule(c, address, hosts, waited, handoff_last, now);
	return db_write_end(st, c, r);
}

int store_mail_destinations(struct store *st, const char *prefix,
			    char (*names)[STORE_MAIL_DEST_MAX], int max,
			    int *ret_count)
{
	struct db_conn *c;
	struct db_stmt *s;
	char end[STORE_MAIL_DEST_MAX + 4];
	int n = 0, r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	/* A range over the pending index rather than LIKE, whose '_' and
	 * '%' an address may hold.  Its end is the prefix and U+10FFFF in
	 * UTF-8, the last character, bound rather than written as SQL
	 * (SQLite's char() is PostgreSQL's chr()): both compare bytewise. */
	if ((size_t)snprintf(end, sizeof(end), "%s\xf4\x8f\xbf\xbf", prefix) >=
	    sizeof(end)) {
		db_read_end(st, c);
		return -E2BIG;
	}
	s = db_stmt(c, "SELECT DISTINCT destination FROM notify_deliveries "
		    "WHERE status = 'pending' AND destination > ?1 AND "
		    "destination < ?3 ORDER BY destination LIMIT ?2");
	if (s) {
		db_bind_text(s, 1, prefix);
		db_bind_int(s, 2, max);
		db_bind_text(s, 3, end);
	}
	while (n < max && (r = db_step(c, s)) == DB_ROW) {
		const char *d = db_col_text(s, 0);

		if (d && strlen(d) < STORE_MAIL_DEST_MAX)
			snprintf(names[n++], STORE_MAIL_DEST_MAX, "%s", d);
	}
	db_reset(s);
	db_read_end(st, c);
	if (r < 0)
		return r;
	*ret_count = n;
	return 0;
}

static int link_used(struct db_conn *c, const char *id)
{
	struct db_stmt *s = db_stmt(c, "SELECT count(*) FROM mail_links_used "
				  "WHERE id = ?");
	int64_t used;
	int r;

	if (s)
		db_bind_text(s, 1, id);
	if ((r = db_count(c, s, &used)) < 0)
		return r;
	return used > 0;
}

int store_mail_link_info(struct store *st, const struct answer *a,
			 json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *o = NULL;
	int used, r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c,
		"SELECT h.hostname, p.name, f.summary, f.rule, "
		"CASE WHEN h.retired_at IS NOT NULL THEN 1 ELSE 0 END "
		"FROM hosts h LEFT JOIN projects p ON "
		"p.id = h.project_id LEFT JOIN findings f ON f.id = ?2 AND "
		"f.host_id = h.id WHERE h.id = ?1");
	if (s) {
		db_bind_int(s, 1, a->host_id);
		db_bind_int(s, 2, a->finding_id);
	}
	r = db_step(c, s);
	if (r == DB_ROW) {
		o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:b}", "hostname",
			      db_col_text(s, 0), "project", db_col_text(s, 1),
			      "summary", db_col_text(s, 2), "rule", db_col_text(s, 3),
			      "retired", db_col_int(s, 4));
		r = o ? 0 : -ENOMEM;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	if (r == 0) {
		used = link_used(c, a->id);
		if (used < 0)
			r = used;
		else
			json_object_set_new(o, "used", json_boolean(used));
	}
	db_read_end(st, c);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* Binds host and now to a statement of the answers and runs it. */
static int run_host(struct db_conn *c, struct db_stmt *s, int64_t host,
		    int64_t now)
{
	if (s) {
		db_bind_int(s, 1, host);
		db_bind_int(s, 2, now);
	}
	return db_run(c, s);
}

static int answer_keep(struct db_conn *c, const struct answer *a, int64_t now,
		       int64_t project, const char *ends_on,
		       const char *address, json_t *rec)
{
	char reason[400];
	struct db_stmt *s = db_stmt(c, "UPDATE findings SET status = "
				  "'acknowledged', ack_reason = ?1, ack_until "
				  "= ?2, ack_by = ?3, ack_at = ?4 WHERE "
				  "host_id = ?5 AND status = 'open'");
	char today[TIME_DATE_LEN];
	int r;

	snprintf(reason, sizeof(reason), "still needed, says %s (mail answer)",
		 a->recipient);
	if (s) {
		db_bind_text(s, 1, reason);
		db_bind_text(s, 2, a->until);
		db_bind_text(s, 3, a->recipient);
		db_bind_int(s, 4, now);
		db_bind_int(s, 5, a->host_id);
	}
	if ((r = db_run(c, s)) < 0)
		return r;
	json_object_set_new(rec, "acknowledged",
			    json_integer(db_changes(c)));
	/* Only the project's own contact moves its end: anyone else's
	 * "keep" holds for the host alone. */
	if (date_format(now, today) < 0 || !project || !ends_on ||
	    strcmp(ends_on, today) >= 0 || !address ||
	    strcasecmp(address, a->recipient) != 0 ||
	    strcmp(a->until, ends_on) <= 0)
		return 0;
	if ((r = db_run_with(
		c, "UPDATE projects SET ends_on = ?1 WHERE id = ?2",
		   DB_TEXT(a->until), DB_INT(project))) < 0)
		return r;
	json_object_set_new(rec, "project_ends_on_was", json_string(ends_on));
	json_object_set_new(rec, "project_ends_on", json_string(a->until));
	return db_run_with(
		c, "UPDATE hosts SET next_eval_at = 0 WHERE project_id = ?",
		   DB_INT(project));
}

int store_mail_answer(struct store *st, const struct answer *a, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	json_t *rec = NULL;
	char *text = NULL, *pname = NULL, *ends_on = NULL, *address = NULL;
	int64_t project = 0;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	r = link_used(c, a->id);
	if (r > 0)
		r = -EALREADY;
	if (r < 0)
		goto out;
	s = db_stmt(c, "SELECT h.project_id, p.name, p.ends_on, " ADDR
		    " FROM hosts h LEFT JOIN projects p ON p.id = h.project_id "
		    "WHERE h.id = ?");
	if (s)
		db_bind_int(s, 1, a->host_id);
	r = db_step(c, s);
	if (r == DB_ROW) {
		project = db_col_int(s, 0);
		pname = db_col_text(s, 1) ? strdup(db_col_text(s, 1)) : NULL;
		ends_on = db_col_text(s, 2) ? strdup(db_col_text(s, 2)) : NULL;
		address = db_col_text(s, 3) ? strdup(db_col_text(s, 3)) : NULL;
		r = 0;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	if (r < 0)
		goto out;
	rec = json_pack("{s:s, s:s, s:I, s:s?}", "answer",
			answer_action_name(a->action), "by", a->recipient,
			"finding", (json_int_t)a->finding_id, "project", pname);
	if (!rec) {
		r = -ENOMEM;
		goto out;
	}
	switch (a->action) {
	case ANSWER_KEEP:
		json_object_set_new(rec, "until", json_string(a->until));
		r = answer_keep(c, a, now, project, ends_on, address, rec);
		break;
	case ANSWER_RETIRE:
		r = run_host(c, db_stmt(c, "UPDATE hosts SET retired_at = "
					"coalesce(retired_at, ?2) WHERE id = ?1"),
			     a->host_id, now);
		break;
	case ANSWER_NOTMINE:
		r = run_host(c, db_stmt(c, "UPDATE hosts SET project_id = NULL, "
					"project_pinned = 1 WHERE id = ?1 AND "
					"?2 = ?2"),
			     a->host_id, now);
		if (r < 0)
			break;
		r = db_run_with(
			c, "INSERT INTO mail_handoffs (host_id, project, by, "
			   "at) VALUES (?, ?, ?, ?)",
			   DB_INT(a->host_id), DB_TEXT(pname),
			   DB_TEXT(a->recipient), DB_INT(now));
		break;
	}
	if (r < 0)
		goto out;
	if ((r = db_run_with(
		c, "INSERT INTO mail_links_used (id, used_at, host_id, "
		   "action, by) VALUES (?, ?, ?, ?, ?)",
		   DB_TEXT(a->id), DB_INT(now), DB_INT(a->host_id),
		   DB_TEXT(answer_action_name(a->action)),
		   DB_TEXT(a->recipient))) < 0)
		goto out;
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	s = db_stmt(
		c, "INSERT INTO changes (host_id, at, section, key, action, "
		   "old, new) VALUES (?, ?, 'answer', ?, 'changed', NULL, ?)");
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	if (s) {
		db_bind_int(s, 1, a->host_id);
		db_bind_int(s, 2, now);
		db_bind_text(s, 3, answer_action_name(a->action));
		db_bind_text(s, 4, text);
	}
	if ((r = db_run(c, s)) < 0)
		goto out;
	r = store_evaluate_host(st, c, a->host_id, now);
out:
	r = db_write_end(st, c, r);
	json_decref(rec);
	free(text);
	free(pname);
	free(ends_on);
	free(address);
	return r;
}

int store_mail_link_key(struct store *st,
			const unsigned char candidate[ANSWER_KEY_LEN],
			unsigned char ret[ANSWER_KEY_LEN])
{
	struct db_conn *c;
	struct db_stmt *s;
	const void *p;
	size_t n = 0;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "INSERT INTO server_secrets (name, value, created_at) "
		       "VALUES ('answer-key', ?, ?) "
		       "ON CONFLICT (name) DO NOTHING");
	if (s) {
		db_bind_blob(s, 1, candidate, ANSWER_KEY_LEN);
		db_bind_int(s, 2, time_now());
	}
	if ((r = db_run(c, s)) < 0)
		goto out;
	s = db_stmt(c, "SELECT value FROM server_secrets "
		       "WHERE name = 'answer-key'");
	r = db_step(c, s);
	if (r == DB_ROW) {
		p = db_col_blob(s, 0, &n);
		/* Another length is not a key of ours: refuse, never pad. */
		r = p && n == ANSWER_KEY_LEN ? 0 : -EINVAL;
		if (r == 0)
			memcpy(ret, p, ANSWER_KEY_LEN);
	} else if (r == DB_DONE) {
		r = -EPROTO;
	}
	db_reset(s);
out:
	return db_write_end(st, c, r);
}
