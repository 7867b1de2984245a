/*
 * store_probe.c - see store_probe.h: the probe's targets, its answers per
 * enrolled port and the servers nobody enrolled.
 */
#include "store_int.h"
#include "store_probe.h"

#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "links.h"
#include "rules.h"

/* An address a host reports that the probe may connect to: 0 and *ret,
 * else -EINVAL. */
static int usable(const char *a, struct probe_addr *ret)
{
	struct probe_addr x;

	if (probe_addr_parse(a, &x) < 0 || !probe_addr_usable(&x))
		return -EINVAL;
	*ret = x;
	return 0;
}

static int is_wildcard(const char *a)
{
	return !a || !*a || strcmp(a, "0.0.0.0") == 0 || strcmp(a, "*") == 0 ||
	       strcmp(a, "::") == 0 || strcmp(a, "[::]") == 0;
}

static int smtp_port(const struct store *st, int port)
{
	const struct conf_ports *p = &st->cfg->smtp_ports;

	for (int i = 0; i < p->n && i < CONF_MAX_PORTS; i++)
		if (p->port[i] == port)
			return 1;
	return 0;
}

struct targets {
	struct store_probe_target *v;
	size_t n, size;
};

static int target_add(struct targets *t, int64_t host,
		      const struct probe_addr *a, int port)
{
	struct store_probe_target *x;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].host_id == host && t->v[i].port == port &&
		    probe_addr_cmp(&t->v[i].addr, a) == 0)
			return 0;
	if (t->n == STORE_PROBE_TARGETS_MAX)
		return 0;
	if (t->n == t->size) {
		size_t size = t->size ? t->size * 2 : 16;

		x = realloc(t->v, size * sizeof(*x));
		if (!x)
			return -ENOMEM;
		t->v = x;
		t->size = size;
	}
	x = &t->v[t->n++];
	x->host_id = host;
	x->addr = *a;
	probe_addr_format(a, x->address);
	x->port = port;
	return 0;
}

/* A listener bound to a wildcard, at each of the host's addresses it
 * takes: an IPv4 wildcard takes IPv4 only. */
static int wildcard_targets(struct targets *t, int64_t host,
			    const json_t *addresses, bool ipv4_only, int port)
{
	size_t i;
	json_t *a;
	int r;

	json_array_foreach(addresses, i, a) {
		struct probe_addr x;

		if (usable(json_get_str(a, "address"), &x) < 0 ||
		    (ipv4_only && !probe_addr_is_ipv4(&x)))
			continue;
		if ((r = target_add(t, host, &x, port)) < 0)
			return r;
	}
	return 0;
}

/* One host's SMTP listeners, at the addresses they can be reached at. */
static int host_targets(struct store *st, struct targets *t, int64_t host,
			const json_t *addresses, const json_t *ports)
{
	size_t i;
	json_t *p;
	int r = 0;

	json_array_foreach(json_object_get(ports, "items"), i, p) {
		const char *proto = json_get_str(p, "proto");
		const char *bound = json_get_str(p, "address");
		int port = (int)json_get_int(p, "port", 0);

		if (proto && strcmp(proto, "tcp") != 0 &&
		    strcmp(proto, "tcp6") != 0)
			continue;
		if (!smtp_port(st, port) || rules_address_is_loopback(bound))
			continue;
		if (!is_wildcard(bound)) {
			struct probe_addr x;

			if (usable(bound, &x) == 0)
				r = target_add(t, host, &x, port);
		} else {
			r = wildcard_targets(t, host, addresses,
					     bound && !strcmp(bound, "0.0.0.0"),
					     port);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int store_probe_targets(struct store *st, struct store_probe_target **ret,
			size_t *ret_n)
{
	struct targets t = { 0 };
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT h.id, h.addresses, s.body FROM hosts h JOIN "
		    "sections s ON s.host_id = h.id AND s.name = 'ports' "
		    "ORDER BY h.id");
	if (!s) {
		r = -EIO;
		goto out;
	}
	while ((r = db_step(c, s)) == DB_ROW) {
		const char *text = db_col_text(s, 1);
		json_t *addresses = text ? json_loads(text, 0, NULL) : NULL;
		json_t *ports = db_body_column(s, 2);

		r = host_targets(st, &t, db_col_int(s, 0), addresses,
				 ports);
		json_decref(addresses);
		json_decref(ports);
		if (r < 0)
			break;
	}
	db_reset(s);
out:
	db_read_end(st, c);
	if (r < 0) {
		free(t.v);
		return r;
	}
	*ret = t.v;
	*ret_n = t.n;
	return 0;
}

int store_probe_host_addresses(struct store *st, json_t **ret)
{
	json_t *out = json_array();
	struct db_conn *c;
	struct db_stmt *s;
	int r;

	if (!out)
		return -ENOMEM;
	if ((r = db_read_begin(st, &c)) < 0) {
		json_decref(out);
		return r;
	}
	/* ENGINE: SQLite's JSON functions and PostgreSQL's (which has no
	 * json_valid(): the column holds the array the server wrote, and
	 * anything else is skipped by its first byte). */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, "SELECT DISTINCT a.value ->> 'address' FROM "
			    "hosts h, jsonb_array_elements(CASE WHEN "
			    "h.addresses LIKE '[%' THEN h.addresses::jsonb "
			    "ELSE '[]' END) a");
	else
		s = db_stmt(c, "SELECT DISTINCT json_extract(a.value, "
			    "'$.address') FROM hosts h, json_each(CASE WHEN "
			    "json_valid(h.addresses) THEN h.addresses ELSE "
			    "'[]' END) a");
	if (!s)
		r = -EIO;
	while (s && (r = db_step(c, s)) == DB_ROW) {
		const char *a = db_col_text(s, 0);
		struct probe_addr x;

		if (usable(a, &x) == 0 &&
		    json_array_append_new(out, json_string(a)) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (s)
		db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

int store_probe_record(struct store *st, const struct store_probe_target *t,
		       const struct probe_smtp_result *res, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "INSERT INTO probe_ports (host_id, address, port, "
		    "reachable, banner, capabilities, starttls, auth, "
		    "open_relay, error, probed_at) VALUES (?1, ?2, ?3, ?4, ?5, "
		    "?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (host_id, address, "
		    "port) DO UPDATE SET reachable = ?4, banner = ?5, "
		    "capabilities = ?6, starttls = ?7, auth = ?8, open_relay = "
		    "?9, error = ?10, probed_at = ?11");
	if (s) {
		db_bind_int(s, 1, t->host_id);
		db_bind_text(s, 2, t->address);
		db_bind_int(s, 3, t->port);
		db_bind_int(s, 4, res->reachable);
		db_bind_text(s, 5, res->smtp ? res->banner : NULL);
		db_bind_text(s, 6, res->ehlo ? res->capabilities : NULL);
		db_bind_int(s, 7, res->starttls);
		db_bind_text(s, 8, res->auth[0] ? res->auth : NULL);
		if (res->relay >= 0)
			db_bind_int(s, 9, res->relay);
		db_bind_text(s, 10, res->error[0] ? res->error : NULL);
		db_bind_int(s, 11, now);
	}
	r = db_run(c, s);
	if (r == 0)
		r = store_evaluate_host(st, c, t->host_id, now);
	return db_write_end(st, c, r);
}

int store_probe_prune(struct store *st, int64_t since, int64_t now)
{
	json_t *hosts = json_array(), *h;
	struct db_conn *c;
	struct db_stmt *s;
	size_t i;
	int r;

	if (!hosts)
		return -ENOMEM;
	if ((r = db_write_begin(st, &c)) < 0) {
		json_decref(hosts);
		return r;
	}
	s = db_stmt(c, "SELECT DISTINCT host_id FROM probe_ports WHERE "
		    "probed_at < ? ORDER BY host_id");
	if (s)
		db_bind_int(s, 1, since);
	else
		r = -EIO;
	while (s && (r = db_step(c, s)) == DB_ROW)
		json_array_append_new(hosts,
				      json_integer(db_col_int(s, 0)));
	if (s)
		db_reset(s);
	if (r == 0) {
		s = db_stmt(c, "DELETE FROM probe_ports WHERE probed_at < ?");
		if (s)
			db_bind_int(s, 1, since);
		r = db_run(c, s);
	}
	json_array_foreach(hosts, i, h) {
		if (r < 0)
			break;
		r = store_evaluate_host(st, c, json_integer_value(h), now);
	}
	json_decref(hosts);
	return db_write_end(st, c, r);
}

static json_t *discovered_fix(json_t *row);

#define DISCOVERED_COLUMNS \
	"id, address, ports, banner, version, open_relay, severity, " \
	"status, resolved_reason, first_seen, last_seen, resolved_at"

/* Queues the event of a change to discovered row id, in the change's
 * transaction as a finding's (store_notify.c): kind is
 * discovered.opened, discovered.updated (its severity rose: an open
 * relay) or discovered.resolved; the data is the row as /discovered
 * shows it and a link to the web page. */
static int discovered_event(struct db_conn *c, const char *kind, int64_t id,
			    int64_t now)
{
	struct db_stmt *s = db_stmt(c, "SELECT " DISCOVERED_COLUMNS
				  " FROM discovered WHERE id = ?");
	char link[LINKS_URL_MAX];
	json_t *row = NULL, *data;
	int severity = 0, r;

	if (s)
		db_bind_int(s, 1, id);
	r = db_step(c, s);
	if (r == DB_ROW) {
		severity = (int)db_col_int(s, 6);
		row = discovered_fix(db_row_json(s));
		r = row ? 0 : -ENOMEM;
	} else if (r == DB_DONE) {
		r = -ENOENT;
	}
	db_reset(s);
	/* No destination takes it: no event to build. */
	if (r == 0 && !store_notify_wanted(c->st, NULL, severity))
		r = 1;
	if (r != 0) {
		json_decref(row);
		return r < 0 ? r : 0;
	}
	if (links_public_url(c->st->cfg, link, sizeof(link)) < 0)
		link[0] = '\0';
	data = json_pack("{s:o,s:s}", "discovered", row, "link", link);
	if (!data)
		return -ENOMEM;
	r = store_notify_event(c, kind, data, severity, NULL, now);
	json_decref(data);
	return r;
}

/* Resolves the open rows s selects (their ids), with reason, each with
 * its event. */
static int discovered_resolve(struct db_conn *c, struct db_stmt *s,
			      const char *reason, int64_t now)
{
	int64_t ids[64];
	size_t n = 0;
	int r;

	/* Few at a time: the walk of networks is bounded, and the rest
	 * come in the next turn of the loop. */
	do {
		n = 0;
		while (n < 64 && (r = db_step(c, s)) == DB_ROW)
			ids[n++] = db_col_int(s, 0);
		db_reset(s);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			r = db_run_with(
				c, "UPDATE discovered SET status = 'resolved', "
				   "resolved_reason = ?, resolved_at = ? WHERE "
				   "id = ?",
				   DB_TEXT(reason), DB_INT(now), DB_INT(ids[i]));
			if (r == 0)
				r = discovered_event(c, "discovered.resolved",
						     ids[i], now);
			if (r < 0)
				return r;
		}
	} while (n == 64);
	return 0;
}

int store_probe_off(struct store *st, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	int64_t n = 0;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT (SELECT count(*) FROM probe_ports) + (SELECT "
		    "count(*) FROM discovered WHERE status = 'open')");
	r = db_count(c, s, &n);
	db_read_end(st, c);
	if (r < 0 || n == 0)
		return r;
	if ((r = store_probe_prune(st, INT64_MAX, now)) < 0)
		return r;
	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT id FROM discovered WHERE status = 'open' "
		    "ORDER BY id");
	r = s ? discovered_resolve(c, s, "probe off", now) : -EIO;
	return db_write_end(st, c, r);
}

int store_probe_of_host(struct store *st, int64_t host_id, json_t **ret)
{
	struct db_conn *c;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	r = store_eval_probe_rows(c, host_id, ret);
	db_read_end(st, c);
	return r;
}

int store_probe_discovered_open(struct store *st, json_t **ret)
{
	json_t *out = json_array();
	struct db_conn *c;
	struct db_stmt *s;
	int r;

	if (!out)
		return -ENOMEM;
	if ((r = db_read_begin(st, &c)) < 0) {
		json_decref(out);
		return r;
	}
	s = db_stmt(c, "SELECT address FROM discovered WHERE status = 'open'");
	if (!s)
		r = -EIO;
	while (s && (r = db_step(c, s)) == DB_ROW)
		if (json_array_append_new(out,
					  json_string(db_col_text(s, 0))) < 0) {
			r = -ENOMEM;
			break;
		}
	if (s)
		db_reset(s);
	db_read_end(st, c);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/* What one round saw of a discovered server, bound as ?1 to ?6 of the
 * statements that insert its row or update it. */
struct sighting {
	const char *ports, *banner, *version;	/* version "" when none */
	int open_relay, severity;	/* open_relay -1: not tested */
	int64_t now;
};

static void bind_sighting(struct db_stmt *s, const struct sighting *x)
{
	db_bind_text(s, 1, x->ports);
	db_bind_text(s, 2, x->banner);
	db_bind_text(s, 3, x->version[0] ? x->version : NULL);
	if (x->open_relay >= 0)
		db_bind_int(s, 4, x->open_relay);
	db_bind_int(s, 5, x->severity);
	db_bind_int(s, 6, x->now);
}

int store_probe_discovered_seen(struct store *st, const char *address,
				const json_t *ports, const char *banner,
				int open_relay, int64_t now)
{
	char version[PROBE_SMTP_VERSION_MAX];
	char *text = json_canonical(ports);
	int sev = open_relay == 1 ? RULES_SEV_CRITICAL : RULES_SEV_HIGH;
	struct sighting seen = { text, banner ? banner : "", version,
				 open_relay, sev, now };
	struct db_conn *c;
	struct db_stmt *s;
	int64_t id = 0;
	int before = 0, r;

	if (!text)
		return -ENOMEM;
	probe_smtp_banner_version(banner ? banner : "", version);
	if ((r = db_write_begin(st, &c)) < 0) {
		free(text);
		return r;
	}
	/* The open row of the address, and its severity before. */
	s = db_stmt(c, "SELECT id, severity FROM discovered WHERE address = ? "
		    "AND status = 'open'");
	if (s)
		db_bind_text(s, 1, address);
	r = db_step(c, s);
	if (r == DB_ROW) {
		id = db_col_int(s, 0);
		before = (int)db_col_int(s, 1);
	}
	db_reset(s);
	/* DB_DONE is 0: "found" is DB_ROW, never 0. */
	if (r == DB_DONE) {
		s = db_stmt(c, "INSERT INTO discovered (ports, banner, "
			    "version, open_relay, severity, first_seen, "
			    "last_seen, address, status) VALUES (?1, ?2, ?3, "
			    "?4, ?5, ?6, ?6, ?7, 'open') RETURNING id");
		if (s) {
			bind_sighting(s, &seen);
			db_bind_text(s, 7, address);
		}
		r = db_run_returning(c, s, &id);
		if (r == 0)
			r = discovered_event(c, "discovered.opened", id, now);
	} else if (r == DB_ROW) {
		s = db_stmt(c, "UPDATE discovered SET ports = ?1, banner = ?2, "
			    "version = ?3, open_relay = ?4, severity = ?5, "
			    "last_seen = ?6 WHERE id = ?7");
		if (s) {
			bind_sighting(s, &seen);
			db_bind_int(s, 7, id);
		}
		r = db_run(c, s);
		if (r == 0 && sev > before)
			r = discovered_event(c, "discovered.updated", id, now);
	}
	free(text);
	return db_write_end(st, c, r);
}

int store_probe_discovered_gone(struct store *st, const char *address,
				const char *reason, int64_t now)
{
	struct db_conn *c;
	struct db_stmt *s;
	int r;

	if ((r = db_write_begin(st, &c)) < 0)
		return r;
	s = db_stmt(c, "SELECT id FROM discovered WHERE address = ? AND "
		    "status = 'open'");
	if (s)
		db_bind_text(s, 1, address);
	r = s ? discovered_resolve(c, s, reason, now) : -EIO;
	return db_write_end(st, c, r);
}

/* A row as the API shows it (db_row_json() wrote the times as RFC 3339):
 * the finding's rule and severity's name, the ports parsed, the version
 * marked as the banner's. */
static json_t *discovered_fix(json_t *row)
{
	const char *ports = json_get_str(row, "ports");
	json_t *v = ports ? json_loads(ports, 0, NULL) : NULL;
	json_t *relay = json_object_get(row, "open_relay");

	if (!row)
		return NULL;
	json_object_set_new(row, "ports", v ? v : json_array());
	json_object_set_new(row, "rule",
			    json_string("unenrolled-mail-server"));
	json_object_set_new(row, "version_source",
			    json_string("banner, unconfirmed"));
	if (json_is_integer(relay))
		json_object_set_new(row, "open_relay",
				    json_boolean(json_integer_value(relay)));
	return store_severity_name(row, "severity", NULL);
}

int store_probe_discovered_list(struct store *st, const char *status,
				int limit, int64_t after_id, json_t **ret)
{
	json_t *items, *cursor;
	struct db_conn *c;
	struct db_stmt *s;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, "SELECT " DISCOVERED_COLUMNS " FROM discovered WHERE "
		    "(status = ?1 OR ?1 IS NULL) AND (id < ?2 OR ?2 = 0) "
		    "ORDER BY id DESC LIMIT ?3");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, status);
	db_bind_int(s, 2, after_id);
	db_bind_int(s, 3, limit + 1);
	r = store_page_collect(c, s, limit, discovered_fix, "id", &items,
			       &cursor);
	if (r < 0)
		goto out;
	s = db_stmt(c, "SELECT count(*) FROM discovered WHERE (status = ?1 OR "
		    "?1 IS NULL)");
	if (s)
		db_bind_text(s, 1, status);
	r = store_page_make(c, s, items, cursor, ret);
out:
	db_read_end(st, c);
	return r;
}
