/*
 * report.c - assembling a report from the collectors, sending it with
 * deltas against what the server acknowledged (a bare hash for an
 * unchanged section, the added and removed items for changed packages),
 * and the enrollment that comes first.
 */
#include "agent.h"
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "jsonutil.h"
#include "timeutil.h"
#include "version.h"

#define HOSTNAME_MAX 256

/* A failed collector's section: the error and no items (which a 0.2
 * server needs to take the report at all), and no hash: the server keeps
 * what it held for the section, so a failure is never acknowledged as
 * the section's state and always travels in full. */
static json_t *error_section(int err)
{
	json_t *s = json_object();
	char text[128];

	snprintf(text, sizeof(text), "%s", strerror(-err));
	if (!s || json_set_str(s, "error", text) < 0 ||
	    json_object_set_new(s, "items", json_array()) < 0) {
		json_decref(s);
		return NULL;
	}
	return s;
}

int report_build(const char *root, const char *agent_id,
		 const struct agent_conf *conf, json_t **ret)
{
	json_t *report = json_object(), *agent = json_object(),
	       *sections = json_object(), *host = NULL;
	int64_t now = time_now();
	int r = -ENOMEM;

	if (!report || !agent || !sections)
		goto fail;
	if (json_object_set_new(report, "schema",
				json_integer(REPORT_SCHEMA)) < 0 ||
	    json_set_str(agent, "id", agent_id) < 0 ||
	    json_set_str(agent, "version", DERELICT_VERSION) < 0 ||
	    json_object_set(report, "agent", agent) < 0 ||
	    json_set_time(report, "collected_at", now) < 0)
		goto fail;
	r = collect_host(root, conf->project, conf->owner, &host);
	if (r < 0) {
		/* The host object carries no error member: send what the
		 * server needs to place the report at least. */
		host = json_object();
		if (!host)
			goto fail;
		json_set_str(host, "hostname", NULL);
	}
	/* Whatever a host's files say, the report stays within the
	 * server's caps (common/report.h, the cut rule). */
	if (json_object_set_new(report, "host", host) < 0 ||
	    report_cap_host(host) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	for (int s = 0; s < SECTION_COUNT; s++) {
		char hash[SHA256_HEX_LEN];
		json_t *sec = NULL;

		switch (s) {
		case SECTION_PORTS:
			r = collect_ports(root, &sec);
			break;
		case SECTION_SERVICES:
			r = collect_services(root, &sec);
			break;
		case SECTION_PROCESSES:
			r = collect_processes(root, &sec);
			break;
		case SECTION_PACKAGES:
			r = collect_packages(root, &sec);
			break;
		case SECTION_LOGINS:
			r = collect_logins(root, now, &sec);
			break;
		case SECTION_MAIL: {
			/* From the packages just collected; none to go by
			 * when that section failed. */
			json_t *pk = json_object_get(sections, "packages");

			r = !pk || json_object_get(pk, "error") ?
				    -ENODATA :
				    collect_mail(root, pk, &sec);
			break;
		}
		default:
			r = -EINVAL;
		}
		if (r < 0) {
			sec = error_section(r);
			if (!sec ||
			    json_object_set_new(sections, section_names[s],
						sec) < 0) {
				r = -ENOMEM;
				goto fail;
			}
			continue;
		}
		/* A process of any local user can name itself as it likes:
		 * cut and drop before hashing, so the hash covers what is
		 * sent and one odd item never costs the report. */
		r = report_cap_section(s, sec);
		if (r == 0)
			r = report_section_hash(sec, hash);
		if (r < 0 || json_set_str(sec, "hash", hash) < 0 ||
		    json_object_set_new(sections, section_names[s], sec) < 0) {
			r = r < 0 ? r : -ENOMEM;
			goto fail;
		}
	}
	if (json_object_set(report, "sections", sections) < 0)
		goto fail;
	json_decref(agent);
	json_decref(sections);
	*ret = report;
	return 0;
fail:
	json_decref(report);
	json_decref(agent);
	json_decref(sections);
	return r < 0 ? r : -ENOMEM;
}

int report_section_failed(const json_t *report, enum section s)
{
	const json_t *sec = json_object_get(json_object_get(report, "sections"),
					    section_names[s]);

	return json_is_string(json_object_get(sec, "error"));
}

void report_hashes(const json_t *report,
		   char out[SECTION_COUNT][SHA256_HEX_LEN])
{
	json_t *sections = json_object_get(report, "sections");

	for (int s = 0; s < SECTION_COUNT; s++) {
		const char *h = json_get_str(
			json_object_get(sections, section_names[s]), "hash");

		snprintf(out[s], SHA256_HEX_LEN, "%s", h ? h : "");
	}
}

json_t *report_delta(const json_t *report,
		     char acked[SECTION_COUNT][SHA256_HEX_LEN],
		     unsigned full_mask)
{
	json_t *copy = json_copy((json_t *)report);	/* shallow */
	json_t *sections, *out;

	if (!copy)
		return NULL;
	sections = json_object_get(report, "sections");
	out = json_object();
	if (!out || json_object_set_new(copy, "sections", out) < 0) {
		json_decref(copy);
		return NULL;
	}
	for (int s = 0; s < SECTION_COUNT; s++) {
		json_t *sec = json_object_get(sections, section_names[s]);
		const char *h = json_get_str(sec, "hash");

		if (!sec)
			continue;
		if (h && acked[s][0] && strcmp(h, acked[s]) == 0 &&
		    !(full_mask & (1u << s))) {
			json_t *bare = json_object();

			if (!bare || json_set_str(bare, "hash", h) < 0 ||
			    json_object_set_new(out, section_names[s],
						bare) < 0) {
				json_decref(bare);
				json_decref(copy);
				return NULL;
			}
		} else if (json_object_set(out, section_names[s], sec) < 0) {
			json_decref(copy);
			return NULL;
		}
	}
	return copy;
}

/* The removed form of an item: its identity fields alone. */
static json_t *removed_item(const json_t *item)
{
	json_t *out = json_object(), *name = json_object_get(item, "name"),
	       *arch = json_object_get(item, "arch");

	if (!out || json_object_set(out, "name", name) < 0 ||
	    (arch && !json_is_null(arch) &&
	     json_object_set(out, "arch", arch) < 0)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

struct cur_entry {
	char *text;
	json_t *item;	/* borrowed from the section */
};

static int cmp_cur(const void *a, const void *b)
{
	return strcmp(((const struct cur_entry *)a)->text,
		      ((const struct cur_entry *)b)->text);
}

/* Marks in byk, by identity, what the delta says of an item. */
#define MARK_ADDED json_true()		/* added, not (yet) replacing one */
#define MARK_CHANGED json_false()	/* added, replacing a gone one */

int report_items_delta(enum section s, const struct state_items *prev,
		       const json_t *cur, const char *base, json_t **ret)
{
	json_t *citems = json_object_get(cur, "items");
	const char *hash = json_get_str(cur, "hash");
	struct buf key = BUF_INIT(2 * REPORT_MAX_STRING + 64);
	json_t *byk = NULL, *delta = NULL, *added = NULL, *removed = NULL;
	json_t *old = NULL, *v;
	size_t np = prev ? prev->n : 0, nc = json_array_size(citems);
	size_t limit = nc / REPORT_DELTA_DIVISOR, ngone = 0, i, j;
	size_t *gone = NULL;
	struct cur_entry *e = NULL;
	const char *k;
	json_error_t jerr;
	int r = -ENOMEM;

	/* Only packages have a delta form on the wire so far. */
	if (s != SECTION_PACKAGES || !prev || !json_is_array(citems) ||
	    !hash || !base || !base[0])
		return -EINVAL;
	if (strcmp(hash, base) == 0)
		return -EALREADY;
	if (limit < REPORT_DELTA_MIN_ITEMS)
		limit = REPORT_DELTA_MIN_ITEMS;
	/* At least np - nc items are gone: over the limit already? */
	if (np > nc + limit)
		return -E2BIG;
	byk = json_object();
	added = json_array();
	removed = json_array();
	e = calloc(nc ? nc : 1, sizeof(*e));
	gone = calloc(limit, sizeof(*gone));
	if (!byk || !added || !removed || !e || !gone)
		goto out;
	/* The current items' canonical texts, sorted as the stored ones
	 * are: an unchanged item is the same text on both sides. */
	for (i = 0; i < nc; i++) {
		e[i].item = json_array_get(citems, i);
		if (!(e[i].text = json_canonical(e[i].item)))
			goto out;
	}
	qsort(e, nc, sizeof(*e), cmp_cur);
	for (i = j = 0; i < np || j < nc;) {
		int c = i == np ? 1 : j == nc ? -1 :
			strcmp(prev->text[i], e[j].text);

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {	/* gone, or changed */
			if (ngone == limit) {
				r = -E2BIG;
				goto out;
			}
			gone[ngone++] = i++;
		} else {		/* new, or changed */
			if (json_array_size(added) == limit) {
				r = -E2BIG;
				goto out;
			}
			buf_reset(&key);
			if ((r = report_item_key(s, e[j].item, &key)) < 0)
				goto out;
			r = -EINVAL;
			if (json_object_get(byk, key.data))
				goto out;
			r = -ENOMEM;
			if (json_object_set_new(byk, key.data, MARK_ADDED) < 0 ||
			    json_array_append(added, e[j].item) < 0)
				goto out;
			j++;
		}
	}
	/* Only the few items that differ are parsed: those whose identity
	 * an added item has were changed, the others are gone. */
	for (i = 0; i < ngone; i++) {
		const char *t = prev->text[gone[i]];

		old = json_parse_buf(t, strlen(t), &jerr);
		buf_reset(&key);
		r = old ? report_item_key(s, old, &key) : -EINVAL;
		if (r < 0)
			goto out;
		v = json_object_get(byk, key.data);
		r = -EINVAL;
		if (v && v != MARK_ADDED)
			goto out;	/* two old items of one identity */
		r = -ENOMEM;
		if (json_object_set_new(byk, key.data,
					v ? MARK_CHANGED : json_null()) < 0 ||
		    (!v && json_array_append_new(removed,
						 removed_item(old)) < 0))
			goto out;
		json_decref(old);
		old = NULL;
	}
	if (json_array_size(added) + json_array_size(removed) > limit) {
		r = -E2BIG;
		goto out;
	}
	/* The header goes as it is in the full section. */
	r = -ENOMEM;
	delta = json_object();
	if (!delta)
		goto out;
	json_object_foreach((json_t *)cur, k, v) {
		if (strcmp(k, "items") != 0 &&
		    json_object_set(delta, k, v) < 0)
			goto out;
	}
	if (json_set_str(delta, "base", base) < 0 ||
	    json_object_set(delta, "added", added) < 0 ||
	    json_object_set(delta, "removed", removed) < 0)
		goto out;
	*ret = delta;
	delta = NULL;
	r = 0;
out:
	json_decref(old);
	json_decref(delta);
	json_decref(byk);
	json_decref(added);
	json_decref(removed);
	if (e) {
		for (i = 0; i < nc; i++)
			free(e[i].text);
		free(e);
	}
	free(gone);
	buf_free(&key);
	return r;
}

int report_packages_delta(const char *dir, const char *acked,
			  const json_t *cur, json_t **ret)
{
	struct state_items prev = { 0 };
	int r;

	/* Cheap first: an unchanged section never reads the file. */
	if (!acked || !acked[0])
		return -ENOENT;
	if (json_get_str(cur, "hash") &&
	    strcmp(json_get_str(cur, "hash"), acked) == 0)
		return -EALREADY;
	r = state_read_packages(dir, acked, &prev);
	if (r < 0)
		return r;
	r = report_items_delta(SECTION_PACKAGES, &prev, cur, acked, ret);
	state_items_free(&prev);
	return r;
}

/* The server's {"error": {"message"}} or the status, for one line. */
static void reply_reason(const struct http_reply *rep, char *why, size_t size,
			 const char *what)
{
	const json_t *e = json_object_get(rep->body, "error");
	const char *msg = json_get_str(e, "message");

	if (!msg)
		msg = json_get_str(e, "code");
	if (rep->status == 0)
		snprintf(why, size, "%s: %s", what, rep->error);
	else if (msg)
		snprintf(why, size, "%s: server answered %ld: %.160s", what,
			 rep->status, msg);
	else
		snprintf(why, size, "%s: server answered %ld", what,
			 rep->status);
}

/* A POST that falls back to an uncompressed body once if the server does
 * not take gzip (415). */
static int post(const struct agent_conf *conf, const char *path,
		const char *token, const json_t *body, struct http_reply *rep)
{
	int r = client_post_json(conf->server, path, token, conf->ca_file, body,
				 0, rep);

	if (r == 0 && rep->status == 415) {
		client_reply_free(rep);
		r = client_post_json(conf->server, path, token, conf->ca_file,
				     body, 1, rep);
	}
	return r;
}

static enum send_result enroll(const struct agent_conf *conf,
			       const char *agent_id, const char *hostname,
			       char token[TOKEN_MAX], char *why,
			       size_t why_size)
{
	char secret[1024];
	struct http_reply rep;
	json_t *body;
	const char *t;
	int r;

	r = state_read_secret(conf->enroll_secret_file, secret,
			      sizeof(secret));
	if (r < 0) {
		snprintf(why, why_size, "cannot read enroll secret %s: %s",
			 conf->enroll_secret_file,
			 r == -EINVAL ? "empty" : strerror(-r));
		return SEND_LOCAL;
	}
	body = json_object();
	if (!body || json_set_str(body, "enroll_secret", secret) < 0 ||
	    json_set_str(body, "agent_id", agent_id) < 0 ||
	    json_set_str(body, "hostname", hostname) < 0) {
		json_decref(body);
		snprintf(why, why_size, "out of memory");
		return SEND_LOCAL;
	}
	r = post(conf, "/api/v1/enroll", NULL, body, &rep);
	explicit_bzero(secret, sizeof(secret));
	json_decref(body);
	if (r < 0 || rep.status == 0) {
		reply_reason(&rep, why, why_size, "enroll");
		client_reply_free(&rep);
		return SEND_NETWORK;
	}
	t = json_get_str(rep.body, "token");
	if ((rep.status != 200 && rep.status != 201) || !t) {
		reply_reason(&rep, why, why_size, "enroll refused");
		client_reply_free(&rep);
		return rep.status >= 500 ? SEND_NETWORK : SEND_ENROLL;
	}
	if (strlen(t) >= TOKEN_MAX) {
		snprintf(why, why_size, "enroll: token too long");
		client_reply_free(&rep);
		return SEND_SERVER;
	}
	snprintf(token, TOKEN_MAX, "%s", t);
	client_reply_free(&rep);
	r = state_write_token(conf->state_dir, token);
	if (r < 0) {
		snprintf(why, why_size, "cannot store token in %s: %s",
			 conf->state_dir, strerror(-r));
		return SEND_LOCAL;
	}
	return SEND_OK;
}

/* The bits of the sections a 409 names. */
static unsigned resend_mask(const json_t *body)
{
	json_t *names = json_object_get(json_object_get(body, "error"),
					"sections");
	unsigned mask = 0;
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		int s = section_from_name(json_string_value(v));

		if (s >= 0)
			mask |= 1u << s;
	}
	return mask;
}

enum send_result report_run_once(const char *root,
				 const struct agent_conf *conf,
				 int64_t *ret_next_s, char *why,
				 size_t why_size)
{
	char agent_id[AGENT_ID_LEN], token[TOKEN_MAX];
	char acked[SECTION_COUNT][SHA256_HEX_LEN];
	char sent[SECTION_COUNT][SHA256_HEX_LEN];
	struct http_reply rep = { 0 };
	json_t *report = NULL, *delta = NULL, *pkdelta = NULL, *pk;
	enum send_result res = SEND_LOCAL;
	const char *hn;
	unsigned full = 0;
	int r, carried, enrolled = 0;

	*ret_next_s = 0;
	why[0] = '\0';
	r = state_agent_id(conf->state_dir, 1, agent_id);
	if (r < 0) {
		snprintf(why, why_size, "cannot keep agent id in %s: %s",
			 conf->state_dir, strerror(-r));
		return SEND_LOCAL;
	}
	r = report_build(root, agent_id, conf, &report);
	if (r < 0) {
		snprintf(why, why_size, "cannot build report: %s",
			 strerror(-r));
		return SEND_LOCAL;
	}
	hn = json_get_str(json_object_get(report, "host"), "hostname");
	r = state_read_token(conf->state_dir, token);
	if (r == -ENOENT) {
		res = enroll(conf, agent_id, hn ? hn : "", token, why,
			     why_size);
		if (res != SEND_OK)
			goto out;
		enrolled = 1;
	} else if (r < 0) {
		snprintf(why, why_size, "cannot read token in %s: %s",
			 conf->state_dir, strerror(-r));
		goto out;
	}
	state_read_hashes(conf->state_dir, acked);
	report_hashes(report, sent);
	/* The server keeps its state of a section whose collector failed:
	 * what was acknowledged for it still is, once this report is. */
	for (int s = 0; s < SECTION_COUNT; s++)
		if (report_section_failed(report, s))
			memcpy(sent[s], acked[s], SHA256_HEX_LEN);
	pk = json_object_get(json_object_get(report, "sections"),
			     section_names[SECTION_PACKAGES]);
	/* Changed packages go as their added and removed items when the
	 * acknowledged section is at hand and the change is small; any
	 * failure here only means the full section. */
	if (!report_section_failed(report, SECTION_PACKAGES))
		(void)report_packages_delta(conf->state_dir,
					    acked[SECTION_PACKAGES], pk,
					    &pkdelta);
	/* Up to three tries: the deltas; the sections a 409 names in full;
	 * everything in full if the server still disagrees.  An item delta
	 * goes in the first try only: a 409 is never answered with one. */
again:
	for (int attempt = 0; attempt < 3; attempt++) {
		json_decref(delta);
		delta = report_delta(report, acked, full);
		if (!delta) {
			snprintf(why, why_size, "out of memory");
			res = SEND_LOCAL;
			goto out;
		}
		if (attempt == 0 && pkdelta &&
		    json_object_set(json_object_get(delta, "sections"),
				    section_names[SECTION_PACKAGES],
				    pkdelta) < 0) {
			snprintf(why, why_size, "out of memory");
			res = SEND_LOCAL;
			goto out;
		}
		client_reply_free(&rep);
		r = post(conf, "/api/v1/reports", token, delta, &rep);
		if (r < 0 || rep.status == 0) {
			reply_reason(&rep, why, why_size, "report");
			res = SEND_NETWORK;
			goto out;
		}
		if (rep.status == 409) {
			unsigned m = resend_mask(rep.body);

			full |= attempt == 0 && m ? m : (1u << SECTION_COUNT) - 1;
			continue;
		}
		break;
	}
	if ((rep.status == 401 || rep.status == 403) &&
	    !state_token_confirmed(conf->state_dir, token)) {
		/* No report was ever taken under this token: the enrollment
		 * that gave it was not kept (a server that answered 201 for
		 * what its full disk lost).  It is dropped, and the agent
		 * enrolls again, once per run. */
		r = state_drop_token(conf->state_dir);
		if (r == 0 && !enrolled) {
			res = enroll(conf, agent_id, hn ? hn : "", token, why,
				     why_size);
			if (res != SEND_OK)
				goto out;
			enrolled = 1;
			full = 0;
			goto again;
		}
		snprintf(why, why_size,
			 "token rejected right after enrolling: server "
			 "answered %ld%s",
			 rep.status, r == 0 ? "; enrolling again next run"
					    : "; cannot remove the token");
		res = SEND_REJECTED;
		goto out;
	}
	if (rep.status == 401 || rep.status == 403) {
		snprintf(why, why_size,
			 "token rejected (revoked?): server answered %ld; "
			 "remove %s/token to enroll again",
			 rep.status, conf->state_dir);
		res = SEND_REJECTED;
		goto out;
	}
	if (rep.status < 200 || rep.status > 299) {
		reply_reason(&rep, why, why_size, "report");
		res = rep.status >= 500 || rep.status == 409 ? SEND_NETWORK :
			SEND_SERVER;
		goto out;
	}
	/* A 2xx is an acknowledgement only with the answer SPEC 3 gives:
	 * anything else (a proxy's page, a cut body) may not have come from
	 * a server that committed the report, so nothing is taken as
	 * acknowledged and the next run sends the same again. */
	if (!json_is_integer(json_object_get(rep.body, "host_id")) ||
	    json_integer_value(json_object_get(rep.body, "host_id")) <= 0 ||
	    !json_is_integer(json_object_get(rep.body, "next_report_s")) ||
	    json_integer_value(json_object_get(rep.body, "next_report_s")) < 0) {
		snprintf(why, why_size,
			 "report: server answered %ld without host_id and "
			 "next_report_s; not taken as acknowledged",
			 rep.status);
		res = SEND_NETWORK;
		goto out;
	}
	*ret_next_s = json_get_int(rep.body, "next_report_s", 0);
	/* A refusal of this token from now on means it was revoked. */
	if (!state_token_confirmed(conf->state_dir, token) &&
	    (r = state_confirm_token(conf->state_dir, token)) < 0)
		snprintf(why, why_size, "cannot note the token in %s: %s",
			 conf->state_dir, strerror(-r));
	/* Only now is every section of this report the server's. */
	r = state_write_hashes(conf->state_dir, sent);
	if (r < 0) {
		/* The report is in; the next one is merely sent in full. */
		snprintf(why, why_size, "cannot store hashes in %s: %s",
			 conf->state_dir, strerror(-r));
	}
	/* The packages the server now holds, for the next delta, when this
	 * report carried them (in full or as a delta; a bare hash changes
	 * nothing).  Should this fail, the file left behind no longer
	 * matches the hashes and the next change is sent in full. */
	carried = !report_section_failed(report, SECTION_PACKAGES) &&
		  json_object_size(json_object_get(
			  json_object_get(delta, "sections"),
			  section_names[SECTION_PACKAGES])) > 1;
	if (carried && (r = state_write_packages(conf->state_dir, pk)) < 0 &&
	    !why[0])
		snprintf(why, why_size, "cannot store packages in %s: %s",
			 conf->state_dir, strerror(-r));
	res = SEND_OK;
out:
	client_reply_free(&rep);
	json_decref(pkdelta);
	json_decref(delta);
	json_decref(report);
	explicit_bzero(token, sizeof(token));
	return res;
}
