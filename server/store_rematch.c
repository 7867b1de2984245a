/*
 * store_rematch.c - matching the fleet again after the advisory data
 * changed, at the cost of the distinct package versions and of the hosts
 * whose verdicts changed, not of every host's full evaluation.
 *
 * Runs in the writer's evaluation pass (store_rematch_step()), in steps:
 *
 *  1. Every distinct version (package_versions) of a source package whose
 *     entries differ between the old and the new data
 *     (advisory_source_differs()) is matched against both for every
 *     release in use; the versions of the others cannot have changed.
 *     What a version gives an evaluation (store_eval.c) is, for a package
 *     that is not an MTA's, the ordered CVE ids of its verdicts that are
 *     not "unimportant" (they end up in host_state.vulns and the
 *     changelog's fixed list only); for an MTA's, everything the rules see
 *     of each verdict.  A source package
 *     one of whose versions gives something else now is "touched", and so
 *     is every version of it with a verdict before or after, since the
 *     first of them in name order decides host_state.vulns.  A release whose
 *     end-of-life date changed has its hosts marked due (a full evaluation,
 *     as before).
 *  2. The fleet index (package_hosts, and the packed values of the hosts
 *     not indexed yet) names the hosts of the touched versions.
 *  3. Each of those hosts, a chunk at a time: when a touched source has an
 *     MTA's package (the rules' findings may change) or the host was
 *     evaluated since step 2 (its packages may have changed), a full
 *     evaluation; else only the touched sources' entries of
 *     host_state.vulns and of the mail verdict's fixed_per_changelog are
 *     computed again, from the touched versions step 2 found the host with
 *     (still its versions of those sources: it was not evaluated since),
 *     exactly as a full evaluation computes them.  Nothing else of an
 *     evaluation depends on the advisories, so the findings are unchanged.
 *  4. advisory_state.matched_digest is written with the last chunk: a
 *     crash before that leaves the old digest, and the next start marks
 *     every host due (the full way).
 *
 * Whatever the re-match cannot follow (no old data to compare with: the
 * first load at start; a second change before the first is through; a
 * rolled-back step; a node that is not the leader) falls back to marking
 * every host due, as before.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "advisory.h"
#include "buf.h"
#include "jsonutil.h"
#include "rules.h"

#define MAX_MATCH 64 /* as store_eval.c's */
#define REMATCH_RELEASES 64
#define REMATCH_MAX_VERSIONS 2000000 /* candidates (versions of changed
				     * sources with a verdict); more: the
				     * full way */
#define REMATCH_MAX_PAIRS 20000000

struct rm_version {
	int64_t id, name_id;
	char *name, *arch, *source, *source_version;
	int is_mta;
};

struct rm_source {
	char *name;
	int has_mta;
	int64_t *name_ids; /* of its touched versions, sorted, unique */
	size_t n_names, cap_names;
};

/* A host with a touched version, as step 2 found them. */
struct rm_pair {
	int64_t host, version;
	int source; /* the version's, an index in sources */
};

enum rm_stage { RM_DIFF, RM_APPLY, RM_DONE };

struct rematch {
	enum rm_stage stage;
	int fallback;
	const struct advisory_db *old; /* owned */
	char digest[65];
	struct rm_version *versions; /* touched, sorted by id */
	size_t n_versions;
	struct rm_source *sources; /* sorted by name */
	size_t n_sources;
	struct rm_pair *pairs; /* sorted by host */
	size_t n_pairs, at;
	int64_t started;
	struct timespec began;
	double found_at; /* seconds to steps 1 and 2 */
	size_t hosts, full, patched;
};

static pthread_mutex_t rematch_lock = PTHREAD_MUTEX_INITIALIZER;

static void versions_free(struct rm_version *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].arch);
		free(v[i].source);
		free(v[i].source_version);
	}
	free(v);
}

static void rematch_free(struct rematch *rm)
{
	if (!rm)
		return;
	advisory_db_free((struct advisory_db *)rm->old);
	versions_free(rm->versions, rm->n_versions);
	for (size_t i = 0; i < rm->n_sources; i++) {
		free(rm->sources[i].name);
		free(rm->sources[i].name_ids);
	}
	free(rm->sources);
	free(rm->pairs);
	free(rm);
}

void store_rematch_free(struct store *st)
{
	pthread_mutex_lock(&rematch_lock);
	rematch_free(st->rematch);
	st->rematch = NULL;
	pthread_mutex_unlock(&rematch_lock);
}

int store_rematch_start(struct store *st, const struct advisory_db *old,
			const char *digest, int64_t now)
{
	struct rematch *rm;

	pthread_mutex_lock(&rematch_lock);
	rm = st->rematch;
	if (rm && rm->stage == RM_DONE && !rm->fallback) {
		/* Through, its digest written (or, if that rolls back, the
		 * new one takes the full way). */
		st->rematch = NULL;
		rematch_free(rm);
		rm = NULL;
	}
	if (rm) {
		/* Hosts are part way between two data sets: the full way, with
		 * the newest digest. */
		rm->fallback = 1;
		snprintf(rm->digest, sizeof(rm->digest), "%s", digest);
		pthread_mutex_unlock(&rematch_lock);
		advisory_db_free((struct advisory_db *)old);
		return 0;
	}
	if (old && db_leader(st) == 1) {
		rm = calloc(1, sizeof(*rm));
		if (rm) {
			rm->old = old;
			rm->started = now;
			clock_gettime(CLOCK_MONOTONIC, &rm->began);
			snprintf(rm->digest, sizeof(rm->digest), "%s", digest);
			st->rematch = rm;
			pthread_mutex_unlock(&rematch_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&rematch_lock);
	advisory_db_free((struct advisory_db *)old);
	return store_advisory_matched(st, digest, now);
}

bool store_rematch_busy(struct store *st)
{
	bool busy;

	pthread_mutex_lock(&rematch_lock);
	busy = st->rematch &&
	       (st->rematch->stage != RM_DONE || st->rematch->fallback);
	pthread_mutex_unlock(&rematch_lock);
	return busy;
}

void store_rematch_rollback(struct store *st)
{
	pthread_mutex_lock(&rematch_lock);
	if (st->rematch)
		st->rematch->fallback = 1;
	pthread_mutex_unlock(&rematch_lock);
}

/* --- 1. the versions ---------------------------------------------------- */

/*
 * What a version on a release gives an evaluation, as text: the verdicts
 * the evaluation keeps (not "unimportant"), each by its CVE id, and for an
 * MTA's package with everything of it the rules read (store_eval.c's
 * vuln_of()).
 */
static int signature(const struct advisory_db *db, const char *release,
		     const struct rm_version *v, struct buf *out)
{
	struct advisory_verdict m[MAX_MATCH];
	int n = 0, r = 0;

	buf_reset(out);
	if (db)
		n = advisory_match_verdicts(db, release, v->source,
					    v->source_version, m, MAX_MATCH);
	n = n < 0 ? 0 : n > MAX_MATCH ? MAX_MATCH : n;
	for (int i = 0; i < n && r == 0; i++) {
		const struct advisory_fix *fix = m[i].fix;
		const struct advisory_source *src;

		if (fix && fix->unimportant)
			continue;
		r = buf_printf(out, "%s\n", m[i].a->cve);
		if (r < 0 || !v->is_mta)
			continue;
		src = advisory_db_source(db, m[i].a->src);
		r = buf_printf(out, "%d %d %d", (int)m[i].severity,
			       (int)m[i].scope, (int)m[i].unconfirmed);
		if (r == 0 && fix)
			r = buf_printf(
			    out, " %d %s|%s|%s|%s", (int)fix->state,
			    fix->state == ADVISORY_FIX_VERSION && fix->version
				? fix->version
				: "",
			    fix->advisory ? fix->advisory : "",
			    fix->urgency_name ? fix->urgency_name : "",
			    fix->nodsa ? fix->nodsa : "\x01");
		if (r == 0 && src)
			r = buf_printf(out, " %s %lld", src->name,
				       (long long)(src->data_date
						       ? src->data_date
						       : src->fetched_at));
		if (r == 0)
			r = buf_puts(out, "\n");
	}
	if (r == 0 && n > 0)
		r = buf_puts(out, "+"); /* "has a verdict", even unimportant */
	return r;
}

struct releases {
	char key[REMATCH_RELEASES][64];
	int has[REMATCH_RELEASES]; /* 0: the key is NULL */
	int n;
};

/* The releases in use; a release whose end-of-life date changed has its
 * hosts marked due. */
static int releases_in_use(struct store *st, struct db_conn *c,
			   const struct advisory_db *old, struct releases *ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT DISTINCT os_id, "
				       "os_version_id, os_codename FROM hosts");
	json_t *rows = json_array(), *row;
	size_t i;
	int rc, r = 0;

	if (!s || !rows) {
		json_decref(rows);
		return s ? -ENOMEM : -EIO;
	}
	while ((rc = db_step(c, s)) == DB_ROW) {
		json_t *t = json_pack("[s?s?s?]", db_col_text(s, 0),
				      db_col_text(s, 1), db_col_text(s, 2));

		if (!t || json_array_append_new(rows, t) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	db_reset(s);
	if (rc < 0) {
		json_decref(rows);
		return rc;
	}
	ret->n = 0;
	json_array_foreach(rows, i, row)
	{
		const char *os = json_string_value(json_array_get(row, 0));
		const char *ver = json_string_value(json_array_get(row, 1));
		const char *code = json_string_value(json_array_get(row, 2));
		char kb[32];
		/* As store_evaluate_host() asks. */
		const char *key =
		    advisory_release_key(os, ver, code, kb, sizeof(kb));
		int64_t was = 0, now_eol = 0;
		int k;

		if (os) {
			advisory_eol(old, os, ver ? ver : code, &was, NULL);
			advisory_eol(st->advisories, os, ver ? ver : code,
				     &now_eol, NULL);
		}
		/* NULL and "" alike: at worst a few more hosts are due. */
		if (was != now_eol &&
		    (r = db_run_with(c,
				     "UPDATE hosts SET next_eval_at = 0 WHERE "
				     "COALESCE(os_id, '') = ? AND "
				     "COALESCE(os_version_id, '') = ? AND "
				     "COALESCE(os_codename, '') = ?",
				     DB_TEXT(os ? os : ""),
				     DB_TEXT(ver ? ver : ""),
				     DB_TEXT(code ? code : ""))) < 0)
			break;
		for (k = 0; k < ret->n; k++)
			if (ret->has[k] == (key != NULL) &&
			    (!key || strcmp(ret->key[k], key) == 0))
				break;
		if (k < ret->n)
			continue;
		if (ret->n == REMATCH_RELEASES ||
		    (key && strlen(key) >= sizeof(ret->key[0]))) {
			r = -E2BIG;
			break;
		}
		ret->has[ret->n] = key != NULL;
		snprintf(ret->key[ret->n], sizeof(ret->key[0]), "%s",
			 key ? key : "");
		ret->n++;
	}
	json_decref(rows);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int source_index(const struct rematch *rm, const char *name)
{
	size_t lo = 0, hi = rm->n_sources;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(rm->sources[mid].name, name);

		if (!d)
			return (int)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const struct rm_version *version_find(const struct rematch *rm,
					     int64_t id)
{
	size_t lo = 0, hi = rm->n_versions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rm->versions[mid].id == id)
			return &rm->versions[mid];
		if (rm->versions[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Keeps a copy of v: 0, -E2BIG past REMATCH_MAX_VERSIONS, or -ENOMEM. */
static int cand_add(struct rm_version **cand, size_t *n, size_t *cap,
		    const struct rm_version *v)
{
	struct rm_version *c;

	if (*n == REMATCH_MAX_VERSIONS)
		return -E2BIG;
	if (*n == *cap) {
		size_t k = *cap ? 2 * *cap : 256;
		struct rm_version *p = realloc(*cand, k * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*cand = p;
		*cap = k;
	}
	c = &(*cand)[(*n)++];
	*c = *v;
	c->name = strdup(v->name);
	c->arch = strdup(v->arch);
	c->source = strdup(v->source);
	c->source_version = strdup(v->source_version);
	return c->name && c->arch && c->source && c->source_version ? 0
								     : -ENOMEM;
}

/* The touched sources, sorted and unique, from the changed[n] names
 * (taken). */
static int sources_of(struct rematch *rm, char **changed, size_t n)
{
	size_t u = 0;

	if (!n)
		return 0;
	qsort(changed, n, sizeof(*changed), cmp_str);
	rm->sources = calloc(n, sizeof(*rm->sources));
	if (!rm->sources)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (u && strcmp(rm->sources[u - 1].name, changed[i]) == 0)
			continue;
		rm->sources[u++].name = changed[i];
		changed[i] = NULL;
	}
	rm->n_sources = u;
	return 0;
}

/* Step 1: every version of a changed source matched against both data
 * sets, in one scan; keeps the touched ones and their sources. */
static int diff_versions(struct store *st, struct db_conn *c,
			 struct rematch *rm)
{
	struct db_stmt *s = db_stmt(c, "SELECT v.id, v.name_id, n.name, "
				       "v.arch, coalesce(v.source, n.name), "
				       "coalesce(v.source_version, v.version) "
				       "FROM package_versions v JOIN "
				       "package_names n ON n.id = v.name_id "
				       "ORDER BY v.id");
	struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
	struct releases rel;
	struct rm_version *cand = NULL;
	char **changed = NULL;
	size_t n_cand = 0, cap_cand = 0, n_changed = 0, cap_changed = 0;
	int rc, r;

	if (!s)
		return -EIO;
	if ((r = releases_in_use(st, c, rm->old, &rel)) < 0)
		return r;
	/* The versions with a verdict before or after are kept as
	 * candidates: those of the touched sources are the touched ones. */
	while ((rc = db_step(c, s)) == DB_ROW && r == 0) {
		struct rm_version v = {
		    .id = db_col_int(s, 0),
		    .name_id = db_col_int(s, 1),
		    .name = (char *)db_col_text(s, 2),
		    .arch = (char *)db_col_text(s, 3),
		    .source = (char *)db_col_text(s, 4),
		    .source_version = (char *)db_col_text(s, 5),
		};
		int any = 0, differs = 0;

		if (!v.name || !v.arch || !v.source || !v.source_version)
			continue;
		/* A source whose entries are the same in both data sets
		 * gives each of its versions the same verdicts: this step
		 * costs the sources that changed. */
		if (!advisory_source_differs(rm->old, st->advisories, v.source,
					     true))
			continue;
		v.is_mta = rules_mta_of_package(v.name, v.source) != NULL;
		if (!v.is_mta && !advisory_source_differs(rm->old,
							  st->advisories,
							  v.source, false))
			continue;
		for (int k = 0; k < rel.n && r == 0; k++) {
			const char *key = rel.has[k] ? rel.key[k] : NULL;

			if ((r = signature(rm->old, key, &v, &a)) < 0 ||
			    (r = signature(st->advisories, key, &v, &b)) < 0)
				break;
			any |= a.len || b.len;
			differs |= a.len != b.len ||
				   (a.len && memcmp(a.data, b.data, a.len));
		}
		if (r < 0 || !any)
			continue;
		if (differs) {
			if (n_changed == cap_changed) {
				size_t cap = cap_changed ? 2 * cap_changed : 64;
				char **p = realloc(changed, cap * sizeof(*p));

				if (!p) {
					r = -ENOMEM;
					break;
				}
				changed = p;
				cap_changed = cap;
			}
			if (!(changed[n_changed] = strdup(v.source))) {
				r = -ENOMEM;
				break;
			}
			n_changed++;
		}
		r = cand_add(&cand, &n_cand, &cap_cand, &v);
	}
	db_reset(s);
	buf_free(&a);
	buf_free(&b);
	if (r == 0 && rc < 0)
		r = rc;
	if (r == 0)
		r = sources_of(rm, changed, n_changed);
	for (size_t i = 0; i < n_changed; i++)
		free(changed[i]);
	free(changed);
	/* The touched versions: the candidates of touched sources (the scan
	 * gave them in id order). */
	for (size_t i = 0; i < n_cand; i++) {
		int k = r == 0 ? source_index(rm, cand[i].source) : -1;
		struct rm_source *src;

		if (k < 0) {
			free(cand[i].name);
			free(cand[i].arch);
			free(cand[i].source);
			free(cand[i].source_version);
			continue;
		}
		src = &rm->sources[k];
		src->has_mta |= cand[i].is_mta;
		if (src->n_names == src->cap_names) {
			size_t cap = src->cap_names ? 2 * src->cap_names : 4;
			int64_t *p = realloc(src->name_ids, cap * sizeof(*p));

			if (!p) {
				r = -ENOMEM;
			} else {
				src->name_ids = p;
				src->cap_names = cap;
			}
		}
		if (src->n_names < src->cap_names)
			src->name_ids[src->n_names++] = cand[i].name_id;
		cand[rm->n_versions++] = cand[i];
	}
	rm->versions = cand;
	for (size_t k = 0; k < rm->n_sources; k++) {
		struct rm_source *src = &rm->sources[k];
		size_t u = 0;

		if (src->n_names)
			qsort(src->name_ids, src->n_names, sizeof(int64_t),
			      cmp_int64);
		for (size_t i = 0; i < src->n_names; i++)
			if (!u || src->name_ids[u - 1] != src->name_ids[i])
				src->name_ids[u++] = src->name_ids[i];
		src->n_names = u;
	}
	return r;
}

/* --- 2. their hosts ----------------------------------------------------- */

static int pair_add(struct rematch *rm, size_t *cap, int64_t host,
		    int64_t version)
{
	const struct rm_version *v = version_find(rm, version);
	int k;

	if (!v || (k = source_index(rm, v->source)) < 0)
		return 0;
	if (rm->n_pairs == *cap) {
		size_t n = *cap ? 2 * *cap : 1024;
		struct rm_pair *p;

		if (n > REMATCH_MAX_PAIRS)
			return -E2BIG;
		p = realloc(rm->pairs, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		rm->pairs = p;
		*cap = n;
	}
	rm->pairs[rm->n_pairs++] = (struct rm_pair){host, version, k};
	return 0;
}

static int cmp_pairs(const void *a, const void *b)
{
	const struct rm_pair *x = a, *y = b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->source != y->source)
		return x->source - y->source;
	return (x->version > y->version) - (x->version < y->version);
}

/* The hosts and versions of one name: the index's, and those of the hosts
 * not in it yet (read from their packed values). */
static int hosts_of_name(struct db_conn *c, struct rematch *rm, size_t *cap,
			 int64_t name_id)
{
	struct db_stmt *s = db_stmt(c, "SELECT host_id, version_id FROM "
				  "package_hosts WHERE name_id = ?");
	int64_t *ids = NULL;
	size_t n = 0, icap = 0;
	int r = 0, rc;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, name_id);
	while ((rc = db_step(c, s)) == DB_ROW && r == 0)
		r = pair_add(rm, cap, db_col_int(s, 0), db_col_int(s, 1));
	db_reset(s);
	if (r == 0 && rc < 0)
		r = rc;
	s = r == 0 ? db_stmt(c, "SELECT host_id FROM package_hosts_pending")
		   : NULL;
	if (r == 0 && !s)
		return -EIO;
	while (r == 0 && (rc = db_step(c, s)) == DB_ROW) {
		int64_t host = db_col_int(s, 0);

		n = 0;
		r = packages_versions_of_name(c, host, name_id, &ids, &n,
					      &icap);
		for (size_t i = 0; i < n && r == 0; i++)
			r = pair_add(rm, cap, host, ids[i]);
	}
	if (s)
		db_reset(s);
	if (r == 0 && rc < 0)
		r = rc;
	free(ids);
	return r;
}

static int find_hosts(struct db_conn *c, struct rematch *rm)
{
	int64_t *names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (size_t k = 0; k < rm->n_sources; k++)
		n += rm->sources[k].n_names;
	names = malloc((n ? n : 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	n = 0;
	for (size_t k = 0; k < rm->n_sources; k++)
		for (size_t i = 0; i < rm->sources[k].n_names; i++)
			names[n++] = rm->sources[k].name_ids[i];
	qsort(names, n, sizeof(*names), cmp_int64);
	for (size_t i = 0; i < n && r == 0; i++)
		if (!i || names[i] != names[i - 1])
			r = hosts_of_name(c, rm, &cap, names[i]);
	free(names);
	if (r < 0)
		return r;
	if (rm->n_pairs)
		qsort(rm->pairs, rm->n_pairs, sizeof(*rm->pairs), cmp_pairs);
	{
		size_t u = 0;

		for (size_t i = 0; i < rm->n_pairs; i++)
			if (!u || cmp_pairs(&rm->pairs[u - 1], &rm->pairs[i]))
				rm->pairs[u++] = rm->pairs[i];
		rm->n_pairs = u;
	}
	return 0;
}

/* --- 3. each host ------------------------------------------------------- */

static int cmp_versions_by_name(const void *a, const void *b)
{
	const struct rm_version *x = *(const struct rm_version *const *)a;
	const struct rm_version *y = *(const struct rm_version *const *)b;
	int d = strcmp(x->name, y->name);

	return d ? d : strcmp(x->arch, y->arch);
}

/* Sets or deletes key of obj: value when it is an array of something. */
static int put_entry(json_t *obj, const char *key, json_t *value)
{
	if (value && json_array_size(value))
		return json_object_set(obj, key, value);
	json_object_del(obj, key);
	return 0;
}

/*
 * The touched sources' entries of the host's vulns and of its mail
 * verdict's fixed_per_changelog, as load_packages() in store_eval.c makes
 * them: the versions in name and arch order; a version's verdicts less the
 * "unimportant" and those its changelog says are fixed; the first version
 * of a source with some left gives the source's CVE ids.  Called with
 * st->adv_lock held.
 */
static int patch_host(struct store *st, struct db_conn *c, struct rematch *rm,
		      int64_t host, const struct rm_pair *p, size_t np)
{
	struct advisory_verdict m[MAX_MATCH];
	const struct rm_version **mine = NULL;
	size_t n_mine = 0;
	json_t *mail_sec = NULL, *vulns = NULL, *mail = NULL;
	json_t *vmap = json_object(), *fixed = json_object(), *fpc;
	char kb[32], *was_v = NULL, *was_m = NULL, *now_v = NULL, *now_m = NULL;
	const char *release = NULL;
	struct db_stmt *s;
	int r = 0, rc;

	if (!vmap || !fixed) {
		r = -ENOMEM;
		goto out;
	}
	s = db_stmt(c, "SELECT os_id, os_version_id, os_codename FROM hosts "
		       "WHERE id = ?");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_int(s, 1, host);
	rc = db_step(c, s);
	if (rc == DB_ROW)
		release =
		    advisory_release_key(db_col_text(s, 0), db_col_text(s, 1),
					 db_col_text(s, 2), kb, sizeof(kb));
	if (rc == DB_ROW && release && release != kb) {
		/* The codename points into the row: keep a copy. */
		snprintf(kb, sizeof(kb), "%s", release);
		release = kb;
	}
	db_reset(s);
	if (rc != DB_ROW) {
		r = rc < 0 ? rc : 0; /* a host deleted since: nothing */
		goto out;
	}

	/* The host's touched versions, as step 2 found them: it has not
	 * been evaluated since (apply_chunk() checked), so they are its
	 * versions of the touched sources now. */
	mine = calloc(np, sizeof(*mine));
	if (!mine) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		if ((mine[n_mine] = version_find(rm, p[i].version)))
			n_mine++;
	if (n_mine)
		qsort(mine, n_mine, sizeof(*mine), cmp_versions_by_name);

	s = db_stmt(c, "SELECT body FROM sections WHERE host_id = ? AND "
		       "name = 'mail'");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_int(s, 1, host);
	if ((rc = db_step(c, s)) == DB_ROW)
		mail_sec = db_body_column(s, 0);
	db_reset(s);
	if (rc < 0) {
		r = rc;
		goto out;
	}

	for (size_t i = 0; i < n_mine && r == 0; i++) {
		const struct rm_version *v = mine[i];
		int n = 0, kept = 0;

		if (st->advisories)
			n = advisory_match_verdicts(
			    st->advisories, release, v->source,
			    v->source_version, m, MAX_MATCH);
		n = n < 0 ? 0 : n > MAX_MATCH ? MAX_MATCH : n;
		for (int j = 0; j < n; j++) {
			if (m[j].fix && m[j].fix->unimportant)
				continue;
			if (store_eval_changelog_fixes(mail_sec, v->source,
						       v->source_version,
						       m[j].a->cve)) {
				json_t *l = json_object_get(fixed, v->source);
				json_t *id;
				size_t x;
				int has = 0;

				if (!l) {
					l = json_array();
					json_object_set_new(fixed, v->source,
							    l);
				}
				json_array_foreach(l, x, id) has |=
				    strcmp(json_string_value(id),
					   m[j].a->cve) == 0;
				if (!has)
					json_array_append_new(
					    l, json_string(m[j].a->cve));
				continue;
			}
			m[kept++] = m[j];
		}
		if (kept > 0 && !json_object_get(vmap, v->source)) {
			json_t *cves = json_array();

			for (int j = 0; j < kept; j++)
				json_array_append_new(cves,
						      json_string(m[j].a->cve));
			if (json_object_set_new(vmap, v->source, cves) < 0)
				r = -ENOMEM;
		}
	}
	if (r < 0)
		goto out;

	s = db_stmt(c, "SELECT vulns, mail FROM host_state WHERE host_id = ?");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_int(s, 1, host);
	if ((rc = db_step(c, s)) == DB_ROW) {
		was_v = db_col_text(s, 0) ? strdup(db_col_text(s, 0)) : NULL;
		was_m = db_col_text(s, 1) ? strdup(db_col_text(s, 1)) : NULL;
	}
	db_reset(s);
	if (rc < 0) {
		r = rc;
		goto out;
	}
	vulns = was_v ? json_loads(was_v, 0, NULL) : NULL;
	mail = was_m ? json_loads(was_m, 0, NULL) : NULL;
	if (!json_is_object(vulns) || !json_is_object(mail)) {
		/* Never evaluated, or not as this build writes it: the full
		 * way. */
		r = store_evaluate_host(st, c, host, rm->started);
		rm->full++;
		goto out;
	}
	fpc = json_object_get(mail, "fixed_per_changelog");
	if (fpc)
		json_incref(fpc);
	else
		fpc = json_object();
	for (size_t i = 0; i < np && r == 0; i++) {
		const char *src = rm->sources[p[i].source].name;

		r = put_entry(vulns, src, json_object_get(vmap, src));
		if (r == 0)
			r = put_entry(fpc, src, json_object_get(fixed, src));
	}
	if (r == 0) {
		if (json_object_size(fpc))
			r = json_object_set(mail, "fixed_per_changelog", fpc);
		else
			json_object_del(mail, "fixed_per_changelog");
	}
	json_decref(fpc);
	if (r < 0) {
		r = -ENOMEM;
		goto out;
	}
	now_v = json_canonical(vulns);
	now_m = json_canonical(mail);
	if (!now_v || !now_m) {
		r = -ENOMEM;
		goto out;
	}
	rm->patched++;
	if (strcmp(now_v, was_v) != 0 || strcmp(now_m, was_m) != 0)
		r = db_run_with(c,
				"UPDATE host_state SET vulns = ?, mail = ? "
				"WHERE host_id = ?",
				DB_TEXT(now_v), DB_TEXT(now_m), DB_INT(host));
out:
	free(mine);
	free(was_v);
	free(was_m);
	free(now_v);
	free(now_m);
	json_decref(mail_sec);
	json_decref(vulns);
	json_decref(mail);
	json_decref(vmap);
	json_decref(fixed);
	return r;
}

static int apply_chunk(struct store *st, struct db_conn *c, struct rematch *rm,
		       int64_t now, int limit)
{
	int done = 0, r;

	/* Those noted during the chunk are its own, or (PostgreSQL) another
	 * thread's that changed no packages: only a report changes them, on
	 * the writer's thread. */
	if ((r = store_eval_watch_sort(st)) < 0)
		return r;
	while (rm->at < rm->n_pairs && done < limit && r == 0) {
		size_t end = rm->at;
		int64_t host = rm->pairs[rm->at].host;
		int full = 0;

		while (end < rm->n_pairs && rm->pairs[end].host == host) {
			full |= rm->sources[rm->pairs[end].source].has_mta;
			end++;
		}
		/* Evaluated since its versions were read: they may have
		 * changed, and a full evaluation is exact whatever they are
		 * now. */
		full |= store_eval_watched(st, host);
		if (full) {
			r = store_evaluate_host(st, c, host, now);
			if (r == -ENOENT)
				r = 0;
			rm->full++;
		} else {
			pthread_rwlock_rdlock(&st->adv_lock);
			r = patch_host(st, c, rm, host, &rm->pairs[rm->at],
				       end - rm->at);
			pthread_rwlock_unlock(&st->adv_lock);
		}
		rm->hosts++;
		rm->at = end;
		done++;
	}
	return r;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void figures(const struct rematch *rm, int full_way,
		    struct store_rematch_figures *ret)
{
	ret->finished = 1;
	ret->every_host = full_way;
	ret->sources = rm->n_sources;
	ret->versions = rm->n_versions;
	ret->hosts = rm->hosts;
	ret->full = rm->full;
	ret->seconds = since(&rm->began);
	ret->found_seconds = rm->found_at;
}

int store_rematch_step(struct store *st, int64_t now, int limit, int *ret_more,
		       struct store_rematch_figures *ret)
{
	struct db_conn *c = &st->writer;
	struct rematch *rm;
	int r = 0;

	*ret_more = 0;
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&rematch_lock);
	rm = st->rematch;
	if (!rm)
		goto out;
	if (rm->stage == RM_DONE) {
		/* Its last chunk was committed (a rollback would have set
		 * fallback, and the full way is taken below). */
		if (!rm->fallback) {
			st->rematch = NULL;
			rematch_free(rm);
			goto out;
		}
	}
	if (rm->fallback)
		goto fallback;
	if (rm->stage == RM_DIFF) {
		pthread_rwlock_rdlock(&st->adv_lock);
		r = diff_versions(st, c, rm);
		pthread_rwlock_unlock(&st->adv_lock);
		advisory_db_free((struct advisory_db *)rm->old);
		rm->old = NULL;
		if (r == 0)
			r = find_hosts(c, rm);
		if (r == -E2BIG)
			goto fallback; /* too much changed: the full way */
		if (r < 0)
			goto out;
		if ((r = store_eval_watch(st, true)) < 0)
			goto out;
		rm->stage = RM_APPLY;
		rm->found_at = since(&rm->began);
		*ret_more = 1;
		goto out;
	}
	r = apply_chunk(st, c, rm, now, limit);
	if (r < 0)
		goto out;
	if (rm->at < rm->n_pairs) {
		*ret_more = 1;
		goto out;
	}
	r = db_run_with(c,
			"UPDATE advisory_state SET matched_digest = ?, "
			"matched_at = ?",
			DB_TEXT(rm->digest), DB_INT(now));
	if (r == 0) {
		rm->stage = RM_DONE;
		store_eval_watch(st, false);
		*ret_more = 1; /* to free it after the commit */
		figures(rm, 0, ret);
	}
	goto out;
fallback:
	r = db_run_with(c,
			"UPDATE advisory_state SET matched_digest = ?, "
			"matched_at = ?",
			DB_TEXT(rm->digest), DB_INT(now));
	if (r == 0)
		r = db_exec(c, "UPDATE hosts SET next_eval_at = 0");
	if (r == 0) {
		rm->fallback = 0;
		rm->stage = RM_DONE;
		store_eval_watch(st, false);
		*ret_more = 1;
		figures(rm, 1, ret);
	}
out:
	pthread_mutex_unlock(&rematch_lock);
	return r;
}
