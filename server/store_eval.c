/*
 * store_eval.c - feeds the rules (rules.c) from the database and writes
 * back what they decide: status, signals, mail summary, vulnerabilities and
 * findings.  Runs inside the caller's write transaction.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"

#define MAX_MATCH 64
#define DAY 86400

/* Everything one evaluation borrows pointers into, freed at the end. */
struct facts {
	struct rules_host h;
	json_t *sections[SECTION_COUNT];
	struct rules_port *ports;
	struct rules_service *services;
	struct rules_process *processes;
	struct rules_package *packages;
	struct rules_vuln *vulns;
	size_t n_vulns;
	struct rules_collector_error errors[SECTION_COUNT];
	struct rules_mail_activity activity[REPORT_MAIL_MAX_ITEMS];
	const char *activity_source[REPORT_MAIL_MAX_ITEMS];
	json_t *mail_queue;	/* host_state.mail_queue, updated */
	char *error_text[SECTION_COUNT];
	char *strings;		/* the host row's text, in one block */
	json_t *vuln_map;	/* source package -> [CVE ids] */
	json_t *changelog_fixed;	/* the same, fixed per the changelog */
	int64_t ack_due;	/* earliest ack expiry still ahead */
	json_t *probe_rows;	/* the SMTP probe's (store_probe.c) */
	struct rules_probe *probes;
};

static void facts_free(struct facts *f)
{
	for (int i = 0; i < SECTION_COUNT; i++)
		json_decref(f->sections[i]);
	for (size_t i = 0; i < f->h.n_packages; i++) {
		free((char *)f->packages[i].name);
		free((char *)f->packages[i].version);
		free((char *)f->packages[i].source);
		free((char *)f->packages[i].source_version);
	}
	free(f->ports);
	free(f->services);
	free(f->processes);
	free(f->packages);
	free(f->vulns);
	free(f->strings);
	json_decref(f->vuln_map);
	json_decref(f->changelog_fixed);
	json_decref(f->mail_queue);
	for (int i = 0; i < SECTION_COUNT; i++)
		free(f->error_text[i]);
	json_decref(f->probe_rows);
	free(f->probes);
}

int store_eval_probe_rows(struct db_conn *c, int64_t host_id, json_t **ret)
{
	json_t *out = json_array();
	struct db_stmt *s;
	int r;

	if (!out)
		return -ENOMEM;
	s = db_stmt(c, "SELECT address, port, reachable, banner, "
		    "capabilities, starttls, auth, open_relay, error, "
		    "probed_at FROM probe_ports WHERE host_id = ? ORDER BY "
		    "address, port");
	if (!s) {
		json_decref(out);
		return -EIO;
	}
	db_bind_int(s, 1, host_id);
	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *row = db_row_json(s);

		if (!row || json_array_append_new(out, row) < 0) {
			r = -ENOMEM;
			break;
		}
		json_object_set_new(row, "reachable",
				    json_boolean(db_col_int(s, 2)));
		json_object_set_new(row, "starttls",
				    json_boolean(db_col_int(s, 5)));
		if (!db_col_null(s, 7))
			json_object_set_new(
				row, "open_relay",
				json_boolean(db_col_int(s, 7)));
	}
	db_reset(s);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/* What the SMTP probe last found at the host's ports. */
static int load_probes(struct db_conn *c, int64_t id, struct facts *f)
{
	size_t i, n;
	json_t *row;
	int r = store_eval_probe_rows(c, id, &f->probe_rows);

	if (r < 0)
		return r;
	n = json_array_size(f->probe_rows);
	f->probes = calloc(n ? n : 1, sizeof(*f->probes));
	if (!f->probes)
		return -ENOMEM;
	json_array_foreach(f->probe_rows, i, row) {
		const json_t *relay = json_object_get(row, "open_relay");

		f->probes[i].address = json_get_str(row, "address");
		f->probes[i].port = (int)json_get_int(row, "port", 0);
		f->probes[i].reachable =
			json_is_true(json_object_get(row, "reachable"));
		f->probes[i].relay = json_is_boolean(relay)
					     ? json_is_true(relay)
					     : -1;
		f->probes[i].banner = json_get_str(row, "banner");
		time_parse(json_get_str(row, "probed_at"),
			   &f->probes[i].probed_at);
	}
	f->h.probes = f->probes;
	f->h.n_probes = n;
	return 0;
}

/* Copies the row's text columns into one block so the host struct can
 * point into it after the statement is reset. */
static const char *keep(struct facts *f, size_t *used, size_t cap,
			const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	if (*used + n > cap)
		return NULL;
	p = f->strings + *used;
	memcpy(p, s, n);
	*used += n;
	return p;
}

/* The host's own facts, one row (load_host()). */
#define HOST_FACTS_SQL                                                       \
	"SELECT h.hostname, h.first_seen, h.last_seen, h.retired_at, "       \
	"p.name, p.ends_on, h.os_id, h.os_version_id, h.os_codename, "       \
	"h.last_login_at, h.last_login_user, h.last_login_from, "            \
	"h.packages_changed_at, h.identity_changed_at, h.machine_id, "       \
	"h.previous_machine_id FROM hosts h LEFT JOIN projects p ON p.id = " \
	"h.project_id WHERE h.id = ?"

static int load_host(struct db_conn *c, int64_t id, struct facts *f)
{
	struct db_stmt *s;
	size_t cap = 0, used = 0;
	int64_t ends = 0;
	int r;

	/* ENGINE: on PostgreSQL the host's row is locked first, before its
	 * findings are written and the row updated.  An evaluation is always
	 * part of a write, and each of them then takes a host's row before
	 * its findings: the evaluation pass (findings, then the row) and a
	 * PATCH of the host (the row, then findings) deadlocked, and the
	 * PATCH got a 503.  SQLite has one writer at a time. */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, HOST_FACTS_SQL " FOR UPDATE OF h");
	else
		s = db_stmt(c, HOST_FACTS_SQL);
	if (!s)
		return -EIO;
	db_bind_int(s, 1, id);
	if ((r = db_step(c, s)) != DB_ROW) {
		db_reset(s);
		return r < 0 ? r : -ENOENT;
	}
	for (int i = 0; i < 16; i++) {
		const char *t = db_col_text(s, i);

		cap += (t ? strlen(t) : 0) + 1;
	}
	f->strings = malloc(cap);
	if (!f->strings) {
		db_reset(s);
		return -ENOMEM;
	}
	f->h.id = id;
	f->h.hostname = keep(f, &used, cap, db_col_text(s, 0));
	f->h.first_seen = db_col_int(s, 1);
	f->h.last_seen = db_col_int(s, 2);
	f->h.retired = !db_col_null(s, 3);
	f->h.retired_at = db_col_int(s, 3);
	f->h.project = keep(f, &used, cap, db_col_text(s, 4));
	if (db_col_text(s, 5) && date_parse(db_col_text(s, 5), &ends) == 0)
		f->h.project_ends_on = ends;
	f->h.os_id = keep(f, &used, cap, db_col_text(s, 6));
	f->h.os_version_id = keep(f, &used, cap, db_col_text(s, 7));
	f->h.os_codename = keep(f, &used, cap, db_col_text(s, 8));
	f->h.last_login_at = db_col_int(s, 9);
	f->h.last_login_user = keep(f, &used, cap, db_col_text(s, 10));
	f->h.last_login_from = keep(f, &used, cap, db_col_text(s, 11));
	f->h.packages_changed_at = db_col_int(s, 12);
	f->h.identity_changed_at = db_col_int(s, 13);
	f->h.machine_id = keep(f, &used, cap, db_col_text(s, 14));
	f->h.previous_machine_id = keep(f, &used, cap, db_col_text(s, 15));
	db_reset(s);
	return 0;
}

/* given: the sections a report has just stored, as it sent them (NULL
 * for those it did not send in full), which need not be read back. */
static int load_sections(struct db_conn *c, int64_t id, struct facts *f,
			 json_t *const given[SECTION_COUNT])
{
	struct db_stmt *s = db_stmt(c, "SELECT name, body FROM sections WHERE "
				  "host_id = ? AND name IN ('ports', "
				  "'services', 'processes', 'mail')");
	json_t *items, *it;
	size_t i, n;
	int r;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, id);
	while ((r = db_step(c, s)) == DB_ROW) {
		int sec = section_from_name(db_col_text(s, 0));

		if (sec >= 0 && given && given[sec])
			f->sections[sec] = json_incref(given[sec]);
		else if (sec >= 0)
			f->sections[sec] = db_body_column(s, 1);
	}
	db_reset(s);
	if (r < 0)
		return r;

	items = json_object_get(f->sections[SECTION_PORTS], "items");
	n = json_array_size(items);
	f->ports = calloc(n ? n : 1, sizeof(*f->ports));
	json_array_foreach(items, i, it) {
		f->ports[i].proto = json_get_str(it, "proto");
		f->ports[i].address = json_get_str(it, "address");
		f->ports[i].port = (int)json_get_int(it, "port", 0);
		f->ports[i].process = json_get_str(it, "process");
		f->ports[i].exe = json_get_str(it, "exe");
	}
	f->h.ports = f->ports;
	f->h.n_ports = n;

	items = json_object_get(f->sections[SECTION_SERVICES], "items");
	n = json_array_size(items);
	f->services = calloc(n ? n : 1, sizeof(*f->services));
	json_array_foreach(items, i, it) {
		f->services[i].name = json_get_str(it, "name");
		f->services[i].active = json_get_str(it, "active");
		f->services[i].sub = json_get_str(it, "sub");
	}
	f->h.services = f->services;
	f->h.n_services = n;

	items = json_object_get(f->sections[SECTION_PROCESSES], "items");
	n = json_array_size(items);
	f->processes = calloc(n ? n : 1, sizeof(*f->processes));
	json_array_foreach(items, i, it) {
		f->processes[i].name = json_get_str(it, "name");
		f->processes[i].exe = json_get_str(it, "exe");
		f->processes[i].user = json_get_str(it, "user");
	}
	f->h.processes = f->processes;
	f->h.n_processes = n;
	return f->ports && f->services && f->processes ? 0 : -ENOMEM;
}

/* The sections the agent could not read, in section order; the sections
 * themselves were kept as last read and are loaded as ever. */
static int load_errors(struct db_conn *c, int64_t id, struct facts *f)
{
	struct db_stmt *s = db_stmt(c, "SELECT section, error, since FROM "
				  "collector_errors WHERE host_id = ?");
	int64_t since[SECTION_COUNT] = { 0 };
	int rc;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, id);
	while ((rc = db_step(c, s)) == DB_ROW) {
		int sec = section_from_name(db_col_text(s, 0));

		if (sec < 0 || f->error_text[sec])
			continue;
		f->error_text[sec] = strdup(db_col_text(s, 1) ? db_col_text(s, 1)
							   : "");
		since[sec] = db_col_int(s, 2);
		if (!f->error_text[sec]) {
			db_reset(s);
			return -ENOMEM;
		}
	}
	db_reset(s);
	if (rc < 0)
		return rc;
	for (int i = 0; i < SECTION_COUNT; i++) {
		if (!f->error_text[i])
			continue;
		f->errors[f->h.n_collector_errors++] =
			(struct rules_collector_error){ section_names[i],
							f->error_text[i],
							since[i] };
	}
	f->h.collector_errors = f->errors;
	return 0;
}

/* A time member of a mail item, 0 when absent or unreadable. */
static int64_t item_time(const json_t *it, const char *key)
{
	const char *s = json_get_str(it, key);
	int64_t t = 0;

	if (!s || time_parse(s, &t) < 0)
		return 0;
	return t;
}

/*
 * The MTAs' activity from the mail section's items (agent/mail_activity.h),
 * and the frozen counts remembered between evaluations: a count that
 * differs from the one kept is a change, and the one kept becomes
 * "before".  Re-evaluating without a report changes nothing.
 */
static int load_activity(struct db_conn *c, int64_t id, int64_t now,
			 struct facts *f)
{
	json_t *items = json_object_get(f->sections[SECTION_MAIL], "items");
	json_t *kept = NULL, *it;
	struct db_stmt *s;
	size_t i, n = 0;
	int r;

	s = db_stmt(c, "SELECT mail_queue FROM host_state WHERE host_id = ?");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, id);
	r = db_step(c, s);
	if (r == DB_ROW && db_col_text(s, 0))
		kept = json_loads(db_col_text(s, 0), 0, NULL);
	db_reset(s);
	if (r < 0) {
		json_decref(kept);
		return r;
	}
	f->mail_queue = json_object();
	if (!f->mail_queue) {
		json_decref(kept);
		return -ENOMEM;
	}
	json_array_foreach(items, i, it) {
		struct rules_mail_activity *a = &f->activity[n];
		const char *src = json_get_str(it, "source");
		json_t *q = json_object_get(it, "queue");
		json_t *fr = json_object_get(it, "frozen");

		if (n == REPORT_MAIL_MAX_ITEMS || !src)
			break;
		if (!json_object_get(it, "mta"))
			continue;
		memset(a, 0, sizeof(*a));
		a->mta = json_get_str(it, "mta");
		a->has_log = json_object_get(it, "log_since") != NULL;
		a->last_delivered = item_time(it, "last_delivered_at");
		a->last_received = item_time(it, "last_received_at");
		a->log_since = item_time(it, "log_since");
		a->has_queue = json_is_integer(q);
		a->queue = json_integer_value(q);
		a->frozen = json_is_integer(fr) ? json_integer_value(fr) : -1;
		a->frozen_before = -1;
		if (a->frozen >= 0) {
			json_t *old = json_object_get(kept, src), *now_q;
			int64_t was = json_get_int(old, "frozen", -1);

			a->frozen_before = json_get_int(old, "before", -1);
			a->frozen_changed_at = json_get_int(old, "at", 0);
			if (old && was != a->frozen) {
				a->frozen_before = was;
				a->frozen_changed_at = now;
			}
			now_q = json_pack("{sI}", "frozen",
					  (json_int_t)a->frozen);
			if (now_q && a->frozen_before >= 0)
				json_object_set_new(
					now_q, "before",
					json_integer(a->frozen_before));
			if (now_q && a->frozen_changed_at > 0)
				json_object_set_new(
					now_q, "at",
					json_integer(a->frozen_changed_at));
			if (!now_q || json_object_set_new(f->mail_queue, src,
							  now_q) < 0) {
				json_decref(kept);
				return -ENOMEM;
			}
		}
		f->activity_source[n] = src;
		n++;
	}
	json_decref(kept);
	f->h.mail_activity = f->activity;
	f->h.n_mail_activity = n;
	return 0;
}

/* What the rules see of one verdict; the strings point into db. */
static void vuln_of(const struct advisory_db *db,
		    const struct advisory_verdict *v, struct rules_vuln *out)
{
	const struct advisory_source *src = advisory_db_source(db, v->a->src);
	const struct advisory_fix *fix = v->fix;

	memset(out, 0, sizeof(*out));
	out->cve = v->a->cve;
	out->severity = (enum rules_severity)v->severity;
	out->remote = v->scope == ADVISORY_SCOPE_REMOTE;
	out->unconfirmed = v->unconfirmed;
	if (fix) {
		if (fix->state == ADVISORY_FIX_VERSION)
			out->fixed_version = fix->version;
		out->no_fix = fix->state == ADVISORY_FIX_OPEN;
		out->advisory = fix->advisory;
		out->urgency = fix->urgency_name;
		out->nodsa = fix->nodsa;
	}
	if (src) {
		out->data_source = src->name;
		out->data_date = src->data_date ? src->data_date :
						  src->fetched_at;
	}
}

/* Every installed package is matched against the advisories (the tracker
 * import covers all of them); MTA packages go to the rules with theirs. */
/*
 * Whether the host's own changelog.Debian.gz of the installed source
 * package (the mail section, SPEC section 2) names cve: the package's word
 * that it is fixed, whoever built it (Freexian ELTS, a backport, a local
 * rebuild).  Only the entry for the installed source version counts.
 */
int store_eval_changelog_fixes(const json_t *mail_section, const char *source,
			       const char *source_version, const char *cve)
{
	json_t *items = json_object_get(mail_section, "items");
	json_t *it, *id;
	size_t i, j;

	json_array_foreach(items, i, it) {
		const char *src = json_get_str(it, "source");
		const char *ver = json_get_str(it, "source_version");

		if (!src || strcmp(src, source) != 0 ||
		    (ver && source_version && strcmp(ver, source_version) != 0))
			continue;
		json_array_foreach(json_object_get(it, "changelog_cves"), j, id)
			if (json_is_string(id) &&
			    strcmp(json_string_value(id), cve) == 0)
				return 1;
	}
	return 0;
}

static int changelog_fixes(const struct facts *f, const char *source,
			   const char *source_version, const char *cve)
{
	return store_eval_changelog_fixes(f->sections[SECTION_MAIL], source,
					  source_version, cve);
}

static int has_string(const json_t *arr, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/*
 * Matching once per version: what the advisories say of a package version
 * on a release depends on nothing of the host, so it is kept here, by
 * (version, release), until the advisory data changes
 * (store_set_advisories(), under the write lock, empties it).  A host's
 * evaluation reads its version ids and takes each verdict from here; only
 * the few packages with a verdict or an MTA's name are read further.  At
 * 1,500 packages a host this took the matching and the join of every row
 * out of each evaluation.  A full table starts afresh.
 */
#define VERDICT_SLOTS (1u << 17)
#define VERDICT_RELEASES 32

struct verdict_slot {
	int64_t version_id;	/* 0: empty */
	int release;		/* index in releases[] */
	int n;			/* matches, before the host's own filters */
	int is_mta;
	struct advisory_verdict *v;	/* n of them */
};

struct verdict_cache {
	pthread_mutex_t lock;
	size_t used;
	int n_releases;
	char releases[VERDICT_RELEASES][64];
	struct verdict_slot slot[VERDICT_SLOTS];
};

void store_verdicts_forget(struct store *st)
{
	struct verdict_cache *vc = st->verdicts;

	if (!vc)
		return;
	for (size_t i = 0; i < VERDICT_SLOTS && vc->used; i++) {
		if (vc->slot[i].version_id) {
			free(vc->slot[i].v);
			vc->used--;
		}
		memset(&vc->slot[i], 0, sizeof(vc->slot[i]));
	}
	vc->used = 0;
	vc->n_releases = 0;
}

void store_verdicts_rollback(struct store *st)
{
	if (!st->verdicts)
		return;
	pthread_mutex_lock(&st->verdicts->lock);
	store_verdicts_forget(st);
	pthread_mutex_unlock(&st->verdicts->lock);
}

void store_verdicts_free(struct store *st)
{
	if (!st->verdicts)
		return;
	store_verdicts_forget(st);
	pthread_mutex_destroy(&st->verdicts->lock);
	free(st->verdicts);
	st->verdicts = NULL;
}

/* The release's index, -1 when the table of them is full. */
static int release_of(struct verdict_cache *vc, const char *codename)
{
	const char *r = codename ? codename : "";

	for (int i = 0; i < vc->n_releases; i++)
		if (strcmp(vc->releases[i], r) == 0)
			return i;
	if (vc->n_releases == VERDICT_RELEASES ||
	    strlen(r) >= sizeof(vc->releases[0]))
		return -1;
	memcpy(vc->releases[vc->n_releases], r, strlen(r) + 1);
	return vc->n_releases++;
}

static struct verdict_slot *verdict_slot(struct verdict_cache *vc,
					 int64_t version_id, int release)
{
	uint64_t h = ((uint64_t)version_id * 0x9e3779b97f4a7c15ull) ^
		     (uint64_t)release;

	for (size_t i = 0; i < VERDICT_SLOTS; i++) {
		struct verdict_slot *e =
			&vc->slot[(h + i) & (VERDICT_SLOTS - 1)];

		if (!e->version_id ||
		    (e->version_id == version_id && e->release == release))
			return e;
	}
	return NULL;
}

/* One version's members, read by id. */
struct version_row {
	char *name, *arch, *version, *source, *source_version;
	int64_t id;
	int n;
	struct advisory_verdict *v;	/* n of them, MAX_MATCH allocated */
};

static void version_row_free(struct version_row *r)
{
	free(r->v);
	free(r->name);
	free(r->arch);
	free(r->version);
	free(r->source);
	free(r->source_version);
}

static int version_row_get(struct db_conn *c, int64_t id,
			   struct version_row *ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT n.name, v.arch, v.version, "
				  "coalesce(v.source, n.name), coalesce("
				  "v.source_version, v.version) FROM "
				  "package_versions v JOIN package_names n ON "
				  "n.id = v.name_id WHERE v.id = ?");
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -EIO;
	db_bind_int(s, 1, id);
	rc = db_step(c, s);
	if (rc == DB_ROW) {
		ret->id = id;
		ret->name = strdup(db_col_text(s, 0));
		ret->arch = strdup(db_col_text(s, 1));
		ret->version = strdup(db_col_text(s, 2));
		ret->source = strdup(db_col_text(s, 3));
		ret->source_version = strdup(db_col_text(s, 4));
	}
	db_reset(s);
	if (rc == DB_DONE)
		return -EUCLEAN;	/* a host refers to no version */
	if (rc < 0)
		return rc;
	if (!ret->name || !ret->arch || !ret->version || !ret->source ||
	    !ret->source_version) {
		version_row_free(ret);
		return -ENOMEM;
	}
	return 0;
}

/* The verdict of a version on the host's release, matched now when it is
 * not kept; *ret_relevant when it has one or is an MTA's. */
static int verdict_of(struct store *st, struct db_conn *c,
		      const char *codename, int64_t id, int *ret_relevant)
{
	struct verdict_cache *vc = st->verdicts;
	struct advisory_verdict m[MAX_MATCH];
	struct verdict_slot *e = NULL;
	struct version_row row;
	int rel = release_of(vc, codename), n = 0, r;

	if (rel >= 0)
		e = verdict_slot(vc, id, rel);
	if (e && e->version_id) {
		*ret_relevant = e->n > 0 || e->is_mta;
		return 0;
	}
	if ((r = version_row_get(c, id, &row)) < 0)
		return r;
	if (st->advisories)
		n = advisory_match_verdicts(st->advisories, codename,
					    row.source, row.source_version, m,
					    MAX_MATCH);
	n = n < 0 ? 0 : n > MAX_MATCH ? MAX_MATCH : n;
	*ret_relevant = n > 0 || rules_mta_of_package(row.name, row.source);
	if (vc->used >= VERDICT_SLOTS / 4 * 3) {
		store_verdicts_forget(st);
		rel = release_of(vc, codename);
		e = rel >= 0 ? verdict_slot(vc, id, rel) : NULL;
	}
	if (e && (!n || (e->v = malloc(n * sizeof(*m))))) {
		e->version_id = id;
		e->release = rel;
		e->n = n;
		e->is_mta = rules_mta_of_package(row.name, row.source) != NULL;
		if (n)
			memcpy(e->v, m, n * sizeof(*m));
		vc->used++;
	}
	version_row_free(&row);
	return 0;
}

static int cmp_version_rows(const void *a, const void *b)
{
	const struct version_row *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : strcmp(x->arch, y->arch);
}

/* The host's package versions with a verdict or an MTA's name, each with
 * its verdict, in name order (the order the rules have always seen them
 * in).  Called with st->adv_lock held. */
static int relevant_packages(struct store *st, struct db_conn *c, int64_t id,
			     const char *codename, struct version_row **ret,
			     size_t *ret_n)
{
	struct version_row *rows = NULL;
	int64_t *ids = NULL;
	size_t n = 0, n_all = 0;
	int r = 0;

	if (!st->verdicts) {
		st->verdicts = calloc(1, sizeof(*st->verdicts));
		if (!st->verdicts)
			return -ENOMEM;
		pthread_mutex_init(&st->verdicts->lock, NULL);
	}
	/* The host's references: one packed value (store_packages.c). */
	if ((r = packages_version_ids(c, id, &ids, &n_all)) < 0)
		return r;
	pthread_mutex_lock(&st->verdicts->lock);
	for (size_t i = 0; i < n_all; i++) {
		int relevant;

		if ((r = verdict_of(st, c, codename, ids[i], &relevant)) < 0)
			break;
		if (relevant)
			ids[n++] = ids[i];
	}
	if (r == 0 && !(rows = calloc(n ? n : 1, sizeof(*rows))))
		r = -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct verdict_slot *e;
		int rel;

		if ((r = version_row_get(c, ids[i], &rows[i])) < 0)
			break;
		/* A copy: once the lock is let go the cache may start
		 * afresh.  It may have since the loop above: match again. */
		rows[i].v = malloc(MAX_MATCH * sizeof(*rows[i].v));
		if (!rows[i].v) {
			r = -ENOMEM;
			break;
		}
		rel = release_of(st->verdicts, codename);
		e = rel >= 0 ? verdict_slot(st->verdicts, ids[i], rel) : NULL;
		if (e && e->version_id) {
			rows[i].n = e->n;
			if (e->n)
				memcpy(rows[i].v, e->v, e->n * sizeof(*e->v));
		} else if (st->advisories) {
			int m = advisory_match_verdicts(
				st->advisories, codename, rows[i].source,
				rows[i].source_version, rows[i].v, MAX_MATCH);

			rows[i].n = m < 0 ? 0 : m > MAX_MATCH ? MAX_MATCH : m;
		}
	}
	pthread_mutex_unlock(&st->verdicts->lock);
	free(ids);
	if (r < 0) {
		for (size_t i = 0; rows && i < n; i++)
			version_row_free(&rows[i]);
		free(rows);
		return r;
	}
	qsort(rows, n, sizeof(*rows), cmp_version_rows);
	*ret = rows;
	*ret_n = n;
	return 0;
}

static int load_packages(struct store *st, struct db_conn *c, int64_t id,
			 struct facts *f)
{
	struct advisory_verdict m[MAX_MATCH];
	struct version_row *rows = NULL;
	size_t cap = 8, vcap = 16, n_rows = 0;
	char key[32];
	/* "rocky:8" on the Red Hat family, else the codename. */
	const char *release = advisory_release_key(f->h.os_id,
						   f->h.os_version_id,
						   f->h.os_codename, key,
						   sizeof(key));
	int r;

	f->vuln_map = json_object();
	f->changelog_fixed = json_object();
	f->packages = malloc(cap * sizeof(*f->packages));
	f->vulns = malloc(vcap * sizeof(*f->vulns));
	if (!f->packages || !f->vulns || !f->vuln_map || !f->changelog_fixed)
		return -ENOMEM;
	r = relevant_packages(st, c, id, release, &rows, &n_rows);
	if (r < 0)
		return r;
	for (size_t row = 0; row < n_rows && r == 0; row++) {
		const char *name = rows[row].name, *source = rows[row].source;
		const char *srcver = rows[row].source_version;
		int n = rows[row].n;
		int is_mta = rules_mta_of_package(name, source) != NULL;
		json_t *cves;

		if (n > 0)
			memcpy(m, rows[row].v, n * sizeof(*m));
		/* Urgency "unimportant" is kept in the data but, as Debian
		 * means it, raises nothing. */
		{
			int kept = 0;

			for (int i = 0; i < n; i++) {
				if (m[i].fix && m[i].fix->unimportant)
					continue;
				/* The installed package says it is fixed. */
				if (source && changelog_fixes(f, source, srcver,
							      m[i].a->cve)) {
					json_t *l = json_object_get(
						f->changelog_fixed, source);

					/* Once per source package. */
					if (!l) {
						l = json_array();
						json_object_set_new(
							f->changelog_fixed,
							source, l);
					}
					if (!has_string(l, m[i].a->cve))
						json_array_append_new(
							l,
							json_string(m[i].a->cve));
					continue;
				}
				m[kept++] = m[i];
			}
			n = kept;
		}
		if (n > 0 && !json_object_get(f->vuln_map, source)) {
			cves = json_array();
			for (int i = 0; i < n; i++)
				json_array_append_new(cves,
						      json_string(m[i].a->cve));
			json_object_set_new(f->vuln_map, source, cves);
		}
		if (!is_mta)
			continue;
		if (f->h.n_packages == cap) {
			void *p = realloc(f->packages,
					  2 * cap * sizeof(*f->packages));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			f->packages = p;
			cap *= 2;
		}
		{
			struct rules_package *p = &f->packages[f->h.n_packages++];

			p->name = strdup(name);
			p->version = strdup(rows[row].version);
			p->source = strdup(source);
			p->source_version = strdup(srcver);
			/* Vulnerabilities are attached below, once the array
			 * stops moving. */
			p->vulns = NULL;
			p->n_vulns = (size_t)(n > 0 ? n : 0);
		}
		for (int i = 0; i < n; i++) {
			if (f->n_vulns == vcap) {
				void *p = realloc(f->vulns,
						  2 * vcap * sizeof(*f->vulns));

				if (!p) {
					r = -ENOMEM;
					break;
				}
				f->vulns = p;
				vcap *= 2;
			}
			vuln_of(st->advisories, &m[i], &f->vulns[f->n_vulns]);
			f->n_vulns++;
		}
	}
	for (size_t i = 0; i < n_rows; i++)
		version_row_free(&rows[i]);
	free(rows);
	{
		size_t at = 0;

		for (size_t i = 0; i < f->h.n_packages; i++) {
			f->packages[i].vulns = f->packages[i].n_vulns
						       ? &f->vulns[at]
						       : NULL;
			at += f->packages[i].n_vulns;
		}
	}
	f->h.packages = f->packages;
	return r;
}

static void rules_cfg(const struct server_config *cfg, struct rules_config *rc)
{
	rules_config_defaults(rc);
	if (!cfg)
		return;
	rc->smtp_ports = cfg->smtp_ports;
	rc->unowned_grace = cfg->unowned_grace;
	rc->idle_after = cfg->idle_after;
	rc->unmaintained_after = cfg->unmaintained_after;
	rc->silent_after = cfg->silent_after;
	rc->mail_idle_after = cfg->mail_idle_after;
	rc->queue_backlog = cfg->queue_backlog;
}

static void consider(int64_t *next, int64_t t, int64_t now)
{
	if (t > now && t < *next)
		*next = t;
}

/* The next moment a time-based rule could change its mind. */
int64_t store_unmaintained_after(const struct store *st)
{
	struct rules_config rc;

	rules_cfg(st->cfg, &rc);
	return rc.unmaintained_after;
}

static int64_t next_eval(const struct facts *f, const struct rules_config *rc,
			 int64_t now)
{
	int64_t next = now + DAY;	/* at least daily, whatever happens */
	const struct rules_host *h = &f->h;

	if (h->last_seen)
		consider(&next, h->last_seen + rc->silent_after + 1, now);
	if (!h->project || !*h->project)
		consider(&next, h->first_seen + rc->unowned_grace + 1, now);
	if (h->last_login_at)
		consider(&next, h->last_login_at + rc->idle_after + 1, now);
	if (h->packages_changed_at)
		consider(&next,
			 h->packages_changed_at + rc->unmaintained_after + 1,
			 now);
	if (h->project_ends_on)
		consider(&next, h->project_ends_on + DAY, now);
	if (h->os_eol)
		consider(&next, h->os_eol + DAY, now);
	if (f->ack_due)
		consider(&next, f->ack_due, now);
	for (size_t i = 0; i < h->n_mail_activity; i++) {
		const struct rules_mail_activity *a = &h->mail_activity[i];
		int64_t t = a->last_delivered > a->last_received ?
				    a->last_delivered :
				    a->last_received;

		if (!t)
			t = a->log_since;
		if (a->has_log && t)
			consider(&next, t + rc->mail_idle_after + 1, now);
	}
	for (size_t i = 0; i < h->n_collector_errors; i++)
		consider(&next,
			 h->collector_errors[i].since +
				 rc->collector_failing_after + 1,
			 now);
	return next;
}

/* [{"source", "mta", "last_delivered_at", "last_received_at",
 *   "delivered_90d", "received_90d", "log_since", "queue", "frozen",
 *   "deferred", "hold", "frozen_before", "frozen_changed_at"}]: the
 * activity as the host page shows it, the parts the agent sent. */
static json_t *activity_json(const struct facts *f)
{
	static const char *const keys[] = {
		"mta",		 "last_delivered_at", "last_received_at",
		"delivered_90d", "received_90d",      "log_since",
		"log_truncated", "queue",	      "frozen",
		"deferred",	 "hold",	      "queue_truncated",
	};
	json_t *items = json_object_get(f->sections[SECTION_MAIL], "items");
	json_t *out = json_array(), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *src = json_get_str(it, "source");
		json_t *o;

		if (!src || !json_object_get(it, "mta"))
			continue;
		o = json_object();
		if (!o || json_array_append_new(out, o) < 0)
			break;
		json_set_str(o, "source", src);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			json_t *v = json_object_get(it, keys[k]);

			if (v)
				json_object_set(o, keys[k], v);
		}
		for (size_t k = 0; k < f->h.n_mail_activity; k++) {
			const struct rules_mail_activity *a = &f->activity[k];

			if (strcmp(f->activity_source[k], src) != 0 ||
			    a->frozen_before < 0)
				continue;
			json_object_set_new(o, "frozen_before",
					    json_integer(a->frozen_before));
			json_set_time(o, "frozen_changed_at",
				      a->frozen_changed_at);
		}
	}
	return out;
}

/* Opens, updates and resolves the host's findings; returns the worst
 * severity among those that are open (not acknowledged). */
static int sync_findings(struct db_conn *c, int64_t id,
			 const struct rules_result *res, int64_t now,
			 struct facts *f, int *ret_worst)
{
	struct db_stmt *s;
	int worst = 0, rc;
	char *seen;

	seen = calloc(res->n_findings + 1, 1);
	if (!seen)
		return -ENOMEM;
	s = db_stmt(c, "SELECT id, key, status, ack_until, ack_severity, "
		    "severity FROM findings WHERE host_id = ? AND "
		    "status != 'resolved'");
	if (!s) {
		free(seen);
		return -EIO;
	}
	db_bind_int(s, 1, id);
	/* Collect first: the statements below reuse the connection. */
	json_t *live = json_array();
	while ((rc = db_step(c, s)) == DB_ROW)
		json_array_append_new(live, db_row_json(s));
	db_reset(s);
	s = NULL;
	/* A failed read must not read as "every finding gone". */
	if (rc < 0)
		goto fail_rc;

	size_t i;
	json_t *row;
	json_array_foreach(live, i, row) {
		const char *key = json_get_str(row, "key");
		const char *status = json_get_str(row, "status");
		const struct rules_finding *fd = NULL;
		size_t j;

		for (j = 0; j < res->n_findings; j++)
			if (strcmp(res->findings[j].key, key) == 0) {
				fd = &res->findings[j];
				break;
			}
		if (!fd) {
			s = db_stmt(
				c, "UPDATE findings SET status = 'resolved', "
				   "resolved_at = ? WHERE id = ?");
			if (!s)
				goto fail;
			db_bind_int(s, 1, now);
			db_bind_int(s, 2, json_get_int(row, "id", 0));
			if ((rc = db_run(c, s)) < 0)
				goto fail_rc;
			s = NULL;
			if ((rc = store_notify_finding(
				     c, "finding.resolved",
				     json_get_int(row, "id", 0),
				     (int)json_get_int(row, "severity", 0), -1,
				     now)) < 0)
				goto fail_rc;
			continue;
		}
		seen[j] = 1;
		int open = 1;
		if (strcmp(status, "acknowledged") == 0) {
			int64_t until = 0;
			const char *u = json_get_str(row, "ack_until");

			if (u)
				date_parse(u, &until);
			open = !rules_ack_in_force(
				until,
				(enum rules_severity)json_get_int(
					row, "ack_severity", fd->severity),
				fd->severity, now);
			/* The ack's expiry is a moment to look again. */
			if (!open && until > 0 &&
			    (!f->ack_due || until + DAY < f->ack_due))
				f->ack_due = until + DAY;
		}
		s = db_stmt(c, "UPDATE findings SET severity = ?, summary = ?, "
			    "details = ?, last_seen = ?, status = CASE "
			    "WHEN ? <> 0 THEN 'open' ELSE status END "
			    "WHERE id = ?");
		if (!s)
			goto fail;
		{
			char *d = json_canonical(fd->details);

			db_bind_int(s, 1, fd->severity);
			db_bind_text(s, 2, fd->summary);
			db_bind_text_take(s, 3, d, "{}");
		}
		db_bind_int(s, 4, now);
		db_bind_int(s, 5, open);
		db_bind_int(s, 6, json_get_int(row, "id", 0));
		if ((rc = db_run(c, s)) < 0)
			goto fail_rc;
		s = NULL;
		{
			/* An acknowledgement that stopped holding brings the
			 * finding back: escalated; a worse open one: updated. */
			int was = (int)json_get_int(row, "severity", 0);
			int acked = strcmp(status, "acknowledged") == 0;
			const char *kind = NULL;

			if (acked && open)
				kind = "finding.escalated";
			else if (!acked && (int)fd->severity > was)
				kind = "finding.updated";
			if (kind &&
			    (rc = store_notify_finding(
				     c, kind, json_get_int(row, "id", 0),
				     fd->severity,
				     (int)fd->severity > was ? was : -1,
				     now)) < 0)
				goto fail_rc;
		}
		if (open && (int)fd->severity > worst)
			worst = fd->severity;
	}
	for (size_t j = 0; j < res->n_findings; j++) {
		const struct rules_finding *fd = &res->findings[j];
		int64_t fid = 0;

		if (seen[j])
			continue;
		s = db_stmt(
			c, "INSERT INTO findings (host_id, rule, key, "
			   "severity, status, summary, details, first_seen, "
			   "last_seen) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, "
			   "?) RETURNING id");
		if (!s)
			goto fail;
		{
			char *d = json_canonical(fd->details);

			db_bind_int(s, 1, id);
			db_bind_text(s, 2, rules_rule_name(fd->rule));
			db_bind_text(s, 3, fd->key);
			db_bind_int(s, 4, fd->severity);
			db_bind_text(s, 5, fd->summary);
			db_bind_text_take(s, 6, d, "{}");
		}
		db_bind_int(s, 7, now);
		db_bind_int(s, 8, now);
		if ((rc = db_run_returning(c, s, &fid)) < 0)
			goto fail_rc;
		s = NULL;
		if ((rc = store_notify_finding(c, "finding.opened", fid,
					       fd->severity, -1, now)) < 0)
			goto fail_rc;
		if ((int)fd->severity > worst)
			worst = fd->severity;
	}
	json_decref(live);
	free(seen);
	*ret_worst = worst;
	return 0;
fail:
	rc = -EIO;	/* a statement that did not prepare */
fail_rc:
	json_decref(live);
	free(seen);
	return rc;
}

/*
 * The hosts evaluated while someone watches (store_rematch.c: a host
 * evaluated since its versions were read), in a list of their ids.
 */
struct eval_watch {
	pthread_mutex_t lock;
	int on, failed;
	int64_t *ids;
	size_t n, cap, n_sorted;
};

static struct eval_watch *watch_of(struct store *st)
{
	static pthread_mutex_t made = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&made);
	if (!st->eval_watch) {
		st->eval_watch = calloc(1, sizeof(*st->eval_watch));
		if (st->eval_watch)
			pthread_mutex_init(&st->eval_watch->lock, NULL);
	}
	pthread_mutex_unlock(&made);
	return st->eval_watch;
}

static void watch_note(struct store *st, int64_t id)
{
	struct eval_watch *w = st->eval_watch;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->on && w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		int64_t *p = realloc(w->ids, cap * sizeof(*p));

		if (p) {
			w->ids = p;
			w->cap = cap;
		} else {
			w->failed = 1;
		}
	}
	if (w->on && w->n < w->cap)
		w->ids[w->n++] = id;
	pthread_mutex_unlock(&w->lock);
}

int store_eval_watch(struct store *st, bool on)
{
	struct eval_watch *w = watch_of(st);

	if (!w)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	w->on = on;
	w->failed = 0;
	w->n = w->n_sorted = 0;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static int cmp_ids(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int store_eval_watch_sort(struct store *st)
{
	struct eval_watch *w = st->eval_watch;
	int r = 0;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	if (w->n)
		qsort(w->ids, w->n, sizeof(*w->ids), cmp_ids);
	w->n_sorted = w->n;
	if (w->failed)
		r = -ENOMEM;
	pthread_mutex_unlock(&w->lock);
	return r;
}

bool store_eval_watched(struct store *st, int64_t id)
{
	struct eval_watch *w = st->eval_watch;
	bool found;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	found = w->n_sorted && bsearch(&id, w->ids, w->n_sorted,
				       sizeof(*w->ids), cmp_ids);
	pthread_mutex_unlock(&w->lock);
	return found;
}

void store_eval_watch_free(struct store *st)
{
	if (!st->eval_watch)
		return;
	pthread_mutex_destroy(&st->eval_watch->lock);
	free(st->eval_watch->ids);
	free(st->eval_watch);
	st->eval_watch = NULL;
}

int store_evaluate_host(struct store *st, struct db_conn *c, int64_t id,
			int64_t now)
{
	return store_eval_report(st, c, id, now, NULL);
}

int store_eval_report(struct store *st, struct db_conn *c, int64_t id,
		      int64_t now, json_t *const given[SECTION_COUNT])
{
	struct facts f = { 0 };
	struct rules_config rc;
	struct rules_result res = { 0 };
	struct db_stmt *s;
	int worst = 0, r;

	rules_cfg(st->cfg, &rc);
	watch_note(st, id);
	if ((r = load_host(c, id, &f)) < 0 ||
	    (r = load_sections(c, id, &f, given)) < 0 ||
	    (r = load_errors(c, id, &f)) < 0 ||
	    (r = load_activity(c, id, now, &f)) < 0 ||
	    (r = load_probes(c, id, &f)) < 0)
		goto out;
	/* The advisories may be swapped by a reload, but not while the
	 * matches (which point into them) are in use. */
	pthread_rwlock_rdlock(&st->adv_lock);
	r = load_packages(st, c, id, &f);
	if (r == 0 && st->advisories && f.h.os_id)
		advisory_eol(st->advisories, f.h.os_id,
			     f.h.os_version_id ? f.h.os_version_id
					       : f.h.os_codename,
			     &f.h.os_eol, NULL);
	if (r == 0)
		r = rules_evaluate(&f.h, &rc, now, &res);
	pthread_rwlock_unlock(&st->adv_lock);
	if (r < 0)
		goto out;
	if ((r = sync_findings(c, id, &res, now, &f, &worst)) < 0)
		goto out;
	if ((r = db_run_with(
		c, "UPDATE hosts SET status = ?, abandoned = ?, mail_running "
		   "= ?, mail_exposed = ?, severity = ?, next_eval_at = ? "
		   "WHERE id = ?",
		   DB_TEXT(rules_host_status(&f.h, &rc, now)),
		   DB_INT(res.abandoned), DB_INT(res.mail.running),
		   DB_INT(res.mail.exposed), DB_INT(worst),
		   DB_INT(next_eval(&f, &rc, now)), DB_INT(id))) < 0)
		goto out;
	s = db_stmt(c, "INSERT INTO host_state (host_id, signals, mail, vulns, "
		    "mail_queue) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
		    "(host_id) DO UPDATE SET signals = ?2, mail = ?3, "
		    "vulns = ?4, mail_queue = ?5");
	if (!s) {
		r = -EIO;
		goto out;
	}
	{
		json_t *sig = rules_signals_json(&res);
		json_t *mail = rules_mail_json(&res.mail);
		char *a, *b;

		/* What the host's own changelogs say is fixed is shown with
		 * the mail verdict: the evidence for a CVE left out. */
		if (mail && json_object_size(f.changelog_fixed))
			json_object_set(mail, "fixed_per_changelog",
					f.changelog_fixed);
		/* When the MTA last carried mail and its queue, for the
		 * host page. */
		if (mail && f.h.n_mail_activity)
			json_object_set_new(mail, "activity",
					    activity_json(&f));
		a = sig ? json_canonical(sig) : NULL;
		b = mail ? json_canonical(mail) : NULL;
		char *v = json_canonical(f.vuln_map);

		json_decref(sig);
		json_decref(mail);
		db_bind_int(s, 1, id);
		db_bind_text_take(s, 2, a, "[]");
		db_bind_text_take(s, 3, b, "{}");
		db_bind_text_take(s, 4, v, "{}");
		char *q = json_canonical(f.mail_queue);

		db_bind_text_take(s, 5, q, "{}");
	}
	r = db_run(c, s);
out:
	rules_result_free(&res);
	facts_free(&f);
	return r;
}

int store_evaluate_due(struct store *st, int64_t now, int limit,
		       int *ret_count)
{
	struct db_conn *c = &st->writer;
	struct db_stmt *s = db_stmt(
		c, "SELECT id FROM hosts WHERE next_eval_at <= ? ORDER BY "
		   "next_eval_at LIMIT ?");
	int64_t ids[512];
	int n = 0, r = 0;

	if (!s)
		return -EIO;
	if (limit > 512)
		limit = 512;
	db_bind_int(s, 1, now);
	db_bind_int(s, 2, limit);
	while (n < limit && (r = db_step(c, s)) == DB_ROW)
		ids[n++] = db_col_int(s, 0);
	db_reset(s);
	if (r < 0)
		return r;
	r = 0;
	for (int i = 0; i < n && r == 0; i++) {
		r = store_evaluate_host(st, c, ids[i], now);
		if (r == -ENOENT)
			r = 0;
	}
	*ret_count = n;
	return r;
}
