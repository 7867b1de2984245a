/*
 * store_packages.c - the packages section, the one that is large and that
 * changes a little at a time.  Its items live as rows of packages, each
 * with its digest; the section row keeps the header and the items' sum.
 * So a delta (a few packages added, changed or removed) is checked and
 * applied by touching those few rows, never the whole section.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "buf.h"
#include "cursor.h"
#include "jsonutil.h"
#include "rules.h"

/* The item a row stands for, as the agent sent it (an empty arch was an
 * absent one). */
static json_t *row_item(const char *name, const char *arch,
			const char *version, const char *source,
			const char *srcver)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "name", name ? name : "",
			      "version", version ? version : "", "source",
			      source ? source : "", "source_version",
			      srcver ? srcver : "");

	if (p && arch && *arch)
		json_set_str(p, "arch", arch);
	return p;
}

int packages_items(struct db_conn *c, int64_t host, json_t **ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT v.name, v.arch, v.version, "
				  "v.source, v.source_version FROM packages p "
				  "JOIN package_versions v ON v.id = "
				  "p.version_id WHERE p.host_id = ? ORDER BY "
				  "v.name, v.arch");
	json_t *items = json_array();
	int rc;

	if (!s || !items) {
		json_decref(items);
		return -ENOMEM;
	}
	db_bind_int(s, 1, host);
	while ((rc = db_step(c, s)) == DB_ROW) {
		json_t *p = row_item(db_col_text(s, 0), db_col_text(s, 1),
				     db_col_text(s, 2), db_col_text(s, 3),
				     db_col_text(s, 4));

		if (!p || json_array_append_new(items, p) < 0) {
			db_reset(s);
			json_decref(items);
			return -ENOMEM;
		}
	}
	db_reset(s);
	if (rc < 0) {
		json_decref(items);
		return rc;
	}
	*ret = items;
	return 0;
}

/* The members a package row keeps, in this order; an empty or missing
 * source (source_version) is filled in from the name (version). */
enum { PKG_NAME, PKG_VERSION, PKG_ARCH, PKG_SOURCE, PKG_SRCVER, PKG_MEMBERS };
static const char *const pkg_members[PKG_MEMBERS] = {
	"name", "version", "arch", "source", "source_version"
};

/* Member f of a received item as its row stores it: filled in as above,
 * and "" for a missing arch. */
static const char *member(const json_t *p, int f)
{
	const char *v = json_get_str(p, pkg_members[f]);

	if (f == PKG_SOURCE && (!v || !*v))
		return json_get_str(p, pkg_members[PKG_NAME]);
	if (f == PKG_SRCVER && (!v || !*v))
		return json_get_str(p, pkg_members[PKG_VERSION]);
	return v || f != PKG_ARCH ? v : "";
}

int packages_equal(const json_t *a, const json_t *b)
{
	for (int f = PKG_VERSION; f < PKG_MEMBERS; f++) {
		const char *x = json_get_str(a, pkg_members[f]);
		const char *y = member(b, f);

		if (strcmp(x ? x : "", y ? y : "") != 0)
			return 0;
	}
	return 1;
}

int packages_plain(const json_t *items)
{
	const json_t *p;
	size_t i;

	json_array_foreach(items, i, p) {
		if (json_object_size(p) != PKG_MEMBERS)
			return 0;
		for (int f = 0; f < PKG_MEMBERS; f++) {
			const char *v = json_get_str(p, pkg_members[f]);

			if (!v || (f != PKG_ARCH && !*v))
				return 0;
		}
	}
	return 1;
}

/* Whether a package can change what the rules find: an MTA's, or one
 * with an advisory (for its old or its new version). */
static int relevant(struct store *st, const char *codename, const json_t *p)
{
	const char *name = member(p, PKG_NAME);
	const char *source = member(p, PKG_SOURCE);
	const char *srcver = member(p, PKG_SRCVER);
	const struct advisory *m[1];
	int n = 0;

	if (rules_mta_of_package(name, source))
		return 1;
	pthread_rwlock_rdlock(&st->adv_lock);
	if (st->advisories)
		n = advisory_match(st->advisories, codename, source, srcver,
				   m, 1);
	pthread_rwlock_unlock(&st->adv_lock);
	return n != 0;
}

/* The stored row of one package: its item and digest.  1 found, 0 not,
 * or a negative errno.  A row stored before digests were kept counts as
 * not found: the delta then fails its hash and the agent resends. */
static int row_get(struct db_conn *c, int64_t host, const char *name,
		   const char *arch, json_t **ret_item,
		   unsigned char digest[REPORT_SUM_LEN])
{
	/* A host has few rows of one name (one per architecture). */
	struct db_stmt *s = db_stmt(c, "SELECT v.version, v.source, "
				  "v.source_version, CASE WHEN p.digest IS "
				  "NULL THEN NULL ELSE v.digest END FROM "
				  "packages p "
				  "JOIN package_versions v ON v.id = "
				  "p.version_id WHERE p.host_id = ?1 AND "
				  "p.name_id = (SELECT id FROM "
				  "package_names WHERE name = ?2) "
				  "AND v.arch = ?3");
	const void *d;
	size_t len;
	int rc, found = 0;

	*ret_item = NULL;
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, name);
	db_bind_text(s, 3, arch ? arch : "");
	rc = db_step(c, s);
	if (rc == DB_ROW &&
	    (d = db_col_blob(s, 3, &len)) && len == REPORT_SUM_LEN) {
		memcpy(digest, d, REPORT_SUM_LEN);
		*ret_item = row_item(name, arch, db_col_text(s, 0),
				     db_col_text(s, 1), db_col_text(s, 2));
		found = *ret_item ? 1 : -ENOMEM;
	}
	db_reset(s);
	return rc < 0 ? rc : found;
}

static int key_of(const json_t *p, struct buf *key)
{
	buf_reset(key);
	return report_item_key(SECTION_PACKAGES, p, key);
}

int packages_prepare_delta(struct store *st, struct db_conn *c, int64_t host,
			   const char *codename, const unsigned char *stored_sum,
			   struct ingest_section *in)
{
	json_t *added = json_object_get(in->body, "added");
	json_t *removed = json_object_get(in->body, "removed");
	unsigned char sum[REPORT_SUM_LEN], d[REPORT_SUM_LEN];
	struct buf key = BUF_INIT(REPORT_MAX_STRING * 4);
	char hash[SHA256_HEX_LEN];
	json_t *p, *old;
	size_t i;
	int r = 0, found;

	memcpy(sum, stored_sum, REPORT_SUM_LEN);
	in->eval = 0;
	json_array_foreach(removed, i, p) {
		found = row_get(c, host, json_get_str(p, "name"),
				json_get_str(p, "arch"), &old, d);
		if (found <= 0) {
			r = found < 0 ? found : 1;
			goto out;
		}
		report_sum_sub(sum, d);
		in->eval |= relevant(st, codename, old);
		r = key_of(old, &key);
		if (r == 0)
			r = changes_push(&in->changes, "removed", key.data, old,
					       NULL, NULL);
		json_decref(old);
		if (r < 0)
			goto out;
	}
	json_array_foreach(added, i, p) {
		const unsigned char *nd = in->digests + i * REPORT_SUM_LEN;

		found = row_get(c, host, json_get_str(p, "name"),
				json_get_str(p, "arch"), &old, d);
		if (found < 0) {
			r = found;
			goto out;
		}
		if (found && memcmp(d, nd, REPORT_SUM_LEN) == 0) {
			json_decref(old);
			continue;	/* sent, but not changed */
		}
		if (found)
			report_sum_sub(sum, d);
		report_sum_add(sum, nd);
		in->eval |= relevant(st, codename, p) ||
			    (found && relevant(st, codename, old));
		r = key_of(p, &key);
		if (r == 0)
			r = changes_push(&in->changes, found ? "changed" : "added",
					       key.data, found ? old : NULL, p,
					       nd);
		json_decref(old);
		if (r < 0)
			goto out;
	}
	r = report_section_hash_sum(in->body, sum, hash);
	if (r == 0 && strcmp(hash, in->hash) != 0)
		r = 1;	/* the agent's idea of our state is not ours */
	if (r == 0)
		memcpy(in->sum, sum, REPORT_SUM_LEN);
out:
	buf_free(&key);
	return r;
}

/*
 * The writer's memory of the versions it has seen, by digest: a first
 * report's 1,500 lookups of a six-column text key were a third of the
 * writer's time for it.  A digest names one item, so one version, and a
 * version is never deleted, so an id read is good until the transaction
 * that read it rolls back, which forgets them all.  A full table starts
 * afresh.  Only the writer thread uses it.
 */
#define VERSION_CACHE_SLOTS (1u << 18)	/* 12 MiB, touched as used */

struct version_slot {
	unsigned char digest[REPORT_SUM_LEN];
	int64_t ids[2];		/* 0: empty */
};

struct version_cache {
	size_t used;
	struct version_slot slot[VERSION_CACHE_SLOTS];
};

static struct version_slot *cache_slot(struct store *st,
				       const unsigned char *digest)
{
	struct version_cache *vc = st->versions;
	uint64_t h;

	if (!vc)
		return NULL;
	memcpy(&h, digest, sizeof(h));
	for (size_t i = 0; i < VERSION_CACHE_SLOTS; i++) {
		struct version_slot *e =
			&vc->slot[(h + i) & (VERSION_CACHE_SLOTS - 1)];

		if (!e->ids[0] || !memcmp(e->digest, digest, REPORT_SUM_LEN))
			return e;
	}
	return NULL;
}

static void cache_put(struct store *st, const unsigned char *digest,
		      const int64_t ids[2])
{
	struct version_slot *e;

	if (!st->versions && !(st->versions = calloc(1, sizeof(*st->versions))))
		return;		/* no memory: only slower */
	if (st->versions->used >= VERSION_CACHE_SLOTS / 4 * 3)
		packages_cache_forget(st);
	e = cache_slot(st, digest);
	if (!e || e->ids[0])
		return;
	memcpy(e->digest, digest, REPORT_SUM_LEN);
	e->ids[0] = ids[0];
	e->ids[1] = ids[1];
	st->versions->used++;
}

void packages_cache_forget(struct store *st)
{
	if (st->versions && st->versions->used) {
		memset(st->versions->slot, 0, sizeof(st->versions->slot));
		st->versions->used = 0;
	}
}

void packages_cache_free(struct store *st)
{
	free(st->versions);
	st->versions = NULL;
}

/* The id of a package name, given to it when it is new.  Twice at most:
 * another node's writer (several derelictd on one PostgreSQL) may add the
 * name between the SELECT and the INSERT; the INSERT then waits for that
 * transaction and adds nothing, and the second SELECT reads its row (a
 * plain INSERT failed the whole report on the unique key). */
static int name_id(struct db_conn *c, const char *name, int64_t *ret)
{
	struct db_stmt *s;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		s = db_stmt(c, "SELECT id FROM package_names WHERE name = ?");
		if (!s)
			return -EIO;
		db_bind_text(s, 1, name);
		rc = db_step(c, s);
		if (rc == DB_ROW)
			*ret = db_col_int(s, 0);
		db_reset(s);
		if (rc == DB_ROW)
			return 0;
		if (rc < 0)
			return rc;
		s = db_stmt(c, "INSERT INTO package_names (name) VALUES (?) "
			    "ON CONFLICT DO NOTHING RETURNING id");
		if (!s)
			return -EIO;
		db_bind_text(s, 1, name);
		*ret = 0;
		rc = db_run_returning(c, s, ret);
		if (rc < 0 || *ret)
			return rc < 0 ? rc : 0;
	}
	return -EBUSY;
}

/* Binds ?1 to ?6: a version's members and digest (NULL when none came). */
static void bind_version(struct db_stmt *s, const json_t *p,
			 const unsigned char *digest)
{
	static const int order[PKG_MEMBERS] = { PKG_NAME, PKG_ARCH,
		PKG_VERSION, PKG_SOURCE, PKG_SRCVER };

	for (int i = 0; i < PKG_MEMBERS; i++)
		db_bind_text(s, i + 1, member(p, order[i]));
	if (digest)
		db_bind_blob(s, 6, digest, REPORT_SUM_LEN);
	else
		db_bind_null(s, 6);
}

/*
 * The fleet's row of a package version, added when no host had it yet: its
 * id and its name's id in ret_ids[0] and ret_ids[1].  Versions are never
 * taken away (sql/008_package_versions.sql says why), so an id once read
 * stays valid.
 */
static int version_find(struct db_conn *c, const json_t *p,
			const unsigned char *digest, int64_t ret_ids[2])
{
	/* A digest names the item; without one, the members do. */
	struct db_stmt *s;
	int rc;

	if ((rc = name_id(c, member(p, PKG_NAME), &ret_ids[1])) < 0)
		return rc;
	/* Twice at most, as name_id() and for its reason. */
	for (int pass = 0; pass < 2; pass++) {
		s = db_stmt(c, "SELECT id FROM package_versions WHERE "
			    "name_id = ?7 AND digest IS NOT DISTINCT FROM ?6 "
			    "AND (?6 IS NOT NULL OR (name = ?1 AND arch = ?2 "
			    "AND version = ?3 AND source = ?4 AND "
			    "source_version = ?5))");
		if (!s)
			return -EIO;
		bind_version(s, p, digest);
		db_bind_int(s, 7, ret_ids[1]);
		rc = db_step(c, s);
		if (rc == DB_ROW)
			ret_ids[0] = db_col_int(s, 0);
		db_reset(s);
		if (rc == DB_ROW)
			return 0;
		if (rc < 0)
			return rc;
		s = db_stmt(c, "INSERT INTO package_versions (name_id, name, "
			    "arch, version, source, source_version, digest) "
			    "VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
			    "DO NOTHING RETURNING id");
		if (!s)
			return -EIO;
		bind_version(s, p, digest);
		db_bind_int(s, 7, ret_ids[1]);
		ret_ids[0] = 0;
		rc = db_run_returning(c, s, &ret_ids[0]);
		if (rc < 0 || ret_ids[0])
			return rc < 0 ? rc : 0;
	}
	return -EBUSY;
}

static int version_intern(struct store *st, struct db_conn *c,
			  const json_t *p, const unsigned char *digest,
			  int64_t ret_ids[2])
{
	struct version_slot *e = digest ? cache_slot(st, digest) : NULL;
	int r;

	if (e && e->ids[0]) {
		ret_ids[0] = e->ids[0];
		ret_ids[1] = e->ids[1];
		return 0;
	}
	r = version_find(c, p, digest, ret_ids);
	if (r == 0 && digest)
		cache_put(st, digest, ret_ids);
	return r;
}

/* A host's reference to a version; ret_ids as version_intern()'s. */
static int package_put(struct store *st, struct db_conn *c, int64_t host,
		       const json_t *p, const unsigned char *digest,
		       int64_t ret_ids[2])
{
	struct db_stmt *s;
	int r = version_intern(st, c, p, digest, ret_ids);

	if (r < 0)
		return r;
	s = db_stmt(c, "INSERT INTO packages (host_id, name_id, version_id) "
		    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_int(s, 2, ret_ids[1]);
	db_bind_int(s, 3, ret_ids[0]);
	return db_run(c, s);
}

/* The host's row of a package identity (name, arch), whatever its
 * version; the trigger packages_gone takes its fleet index entry. */
static int package_del(struct db_conn *c, int64_t host, const json_t *p)
{
	struct db_stmt *s = db_stmt(c, "DELETE FROM packages WHERE host_id = ?1 "
				  "AND name_id = (SELECT id FROM "
				  "package_names WHERE name = ?2) "
				  "AND (SELECT arch FROM package_versions v "
				  "WHERE v.id = version_id) = ?3");

	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, member(p, PKG_NAME));
	db_bind_text(s, 3, member(p, PKG_ARCH));
	return db_run(c, s);
}

/* A host whose names package_hosts does not have yet. */
static int pending(struct db_conn *c, int64_t host)
{
	struct db_stmt *s = db_stmt(c, "SELECT 1 FROM package_hosts_pending "
				  "WHERE host_id = ?");
	int rc;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	rc = db_step(c, s);
	db_reset(s);
	return rc;	/* DB_ROW (1), DB_DONE (0) or the error */
}

static int name_put(struct db_conn *c, int64_t host, const int64_t ids[2])
{
	struct db_stmt *s = db_stmt(c, "INSERT INTO package_hosts "
				  "(name_id, host_id, version_id) VALUES "
				  "(?, ?, ?) ON CONFLICT DO NOTHING");

	if (!s)
		return -EIO;
	db_bind_int(s, 1, ids[1]);
	db_bind_int(s, 2, host);
	db_bind_int(s, 3, ids[0]);
	return db_run(c, s);
}

int packages_apply_changes(struct store *st, struct db_conn *c, int64_t host,
			   const struct ingest_section *in)
{
	int r = 0, late = -1;

	for (size_t i = 0; i < in->changes.n && r == 0; i++) {
		const struct change *ch = &in->changes.v[i];
		int64_t ids[2];

		/* An upgrade is the old version's row out, the new one's in
		 * (and their fleet index entries). */
		if (ch->old)
			r = package_del(c, host, ch->old);
		if (r < 0 || !ch->new)
			continue;
		r = package_put(st, c, host, ch->new,
				ch->has_digest ? ch->digest : NULL, ids);
		if (r == 0 && late < 0 && (late = pending(c, host)) < 0)
			r = late;
		if (r == 0 && !late)
			r = name_put(c, host, ids);
	}
	return r;
}

int packages_index_pending(struct db_conn *c, int limit, int *ret_count)
{
	struct db_stmt *s = db_stmt(c, "INSERT INTO package_hosts "
				  "(name_id, host_id, version_id) SELECT "
				  "p.name_id, p.host_id, p.version_id FROM "
				  "packages p WHERE p.host_id IN (SELECT "
				  "host_id FROM package_hosts_pending ORDER BY "
				  "host_id LIMIT ?1) ORDER BY 1, 2, 3 "
				  "ON CONFLICT DO NOTHING");
	int r;

	*ret_count = 0;
	if (!s)
		return -EIO;
	db_bind_int(s, 1, limit);
	if ((r = db_run(c, s)) < 0)
		return r;
	if ((r = db_run_with(
		c, "DELETE FROM package_hosts_pending WHERE host_id IN "
		   "(SELECT host_id FROM package_hosts_pending ORDER BY "
		   "host_id LIMIT ?1)",
		   DB_INT(limit))) < 0)
		return r;
	*ret_count = db_changes(c);
	return 0;
}

/* A host's references to versions, written many to a statement: a first
 * report's 1,500 packages were 1,500 INSERTs, each a round trip to
 * PostgreSQL (190 ms a report) where SQLite pays a function call.  The
 * pairs travel as one JSON text, "[[name_id,version_id],...]". */
#define PUT_BATCH 2000

struct put_batch {
	struct buf text;
	size_t n;
};

static int batch_flush(struct db_conn *c, int64_t host, struct put_batch *b)
{
	struct db_stmt *s;
	int r;

	if (!b->n)
		return 0;
	if ((r = buf_puts(&b->text, "]")) < 0)
		return r;
	/* ENGINE: each engine's function that walks a JSON array. */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, "INSERT INTO packages (host_id, name_id, "
			    "version_id) SELECT ?1, (p.value ->> 0)::bigint, "
			    "(p.value ->> 1)::bigint FROM jsonb_array_elements("
			    "?2::jsonb) p ON CONFLICT DO NOTHING");
	else
		s = db_stmt(c, "INSERT INTO packages (host_id, name_id, "
			    "version_id) SELECT ?1, p.value ->> 0, "
			    "p.value ->> 1 FROM json_each(?2) p WHERE true "
			    "ON CONFLICT DO NOTHING");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, b->text.data);
	r = db_run(c, s);
	buf_reset(&b->text);
	b->n = 0;
	return r;
}

static int batch_put(struct db_conn *c, int64_t host, struct put_batch *b,
		     const int64_t ids[2])
{
	int r = buf_printf(&b->text, "%s[%lld,%lld]", b->n ? "," : "[",
			   (long long)ids[1], (long long)ids[0]);

	if (r < 0)
		return r;
	return ++b->n == PUT_BATCH ? batch_flush(c, host, b) : 0;
}

struct named {
	const char *name, *arch;	/* the item's, read once */
	const json_t *item;
	const unsigned char *digest;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : strcmp(x->arch, y->arch);
}

int packages_replace(struct store *st, struct db_conn *c, int64_t host,
		     const struct ingest_section *in)
{
	json_t *items = json_object_get(in->body, "items");
	size_t n = json_array_size(items);
	struct put_batch batch = { BUF_INIT(PUT_BATCH * 48), 0 };
	struct named *sorted;
	int r = 0;

	if ((r = db_run_with(
		c, "DELETE FROM packages WHERE host_id = ?",
		   DB_INT(host))) < 0)
		return r;
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name, *arch;

		sorted[i].item = json_array_get(items, i);
		name = member(sorted[i].item, PKG_NAME);
		arch = member(sorted[i].item, PKG_ARCH);
		sorted[i].name = name ? name : "";
		sorted[i].arch = arch ? arch : "";
		sorted[i].digest = in->digests ? in->digests + i * REPORT_SUM_LEN
					       : NULL;
	}
	/* One row per identity, as the table's key (name, arch) kept it
	 * before versions were shared: of two items of one identity, one. */
	qsort(sorted, n, sizeof(*sorted), cmp_named);
	for (size_t i = 0; i < n && r == 0; i++) {
		int64_t ids[2];

		if (i + 1 < n && cmp_named(&sorted[i], &sorted[i + 1]) == 0)
			continue;
		r = version_intern(st, c, sorted[i].item, sorted[i].digest,
				   ids);
		if (r == 0)
			r = batch_put(c, host, &batch, ids);
	}
	if (r == 0)
		r = batch_flush(c, host, &batch);
	buf_free(&batch.text);
	free(sorted);
	if (r < 0)
		return r;
	/* The names follow, with other hosts', in packages_index_pending(). */
	return db_run_with(
		c, "INSERT INTO package_hosts_pending (host_id) "
		   "VALUES (?) ON CONFLICT DO NOTHING",
		   DB_INT(host));
}

/* --- the fleet's packages (GET /packages) -------------------------------- */

/* The cursor is "host_id:arch": a multi-arch package (zlib1g amd64 and
 * i386) has a row per architecture, and a page may end between them. */
static json_t *fix_package(json_t *row)
{
	char cur[CURSOR_MAX];

	cursor_format_package(json_integer_value(json_object_get(row, "host_id")),
			      json_get_str(row, "arch"), cur);
	json_object_set_new(row, "cursor", json_string(cur));
	return row;
}

int store_packages_find(struct store *st, const char *name, int limit,
			int64_t after_host, const char *after_arch,
			json_t **ret)
{
	struct db_conn *c;
	struct db_stmt *s, *cs;
	/* The index has every host's names but those of the hosts stored
	 * in full since its last pass, which are read from packages: the two
	 * sets do not overlap (see sql/002_item_sums.sql).  CROSS JOIN keeps
	 * the few pending hosts outermost in SQLite (its join conditions are
	 * in WHERE: PostgreSQL takes no ON after CROSS JOIN); the name's id
	 * as a scalar, not a join, lets the index give the hosts' order and
	 * a page stop early. */
	static const char SQL_PACKAGES_FIND[] =
		"SELECT k.host_id, h.hostname, v.name, v.arch, v.version, "
		"v.source, v.source_version FROM (SELECT x.host_id, "
		"x.version_id, w.arch FROM package_hosts x CROSS JOIN "
		"package_versions w WHERE w.id = x.version_id AND x.name_id = "
		"(SELECT id FROM package_names WHERE name = ?1) AND x.host_id "
		">= ?2 AND (x.host_id > ?2 OR w.arch > ?4) "
		"UNION ALL SELECT q.host_id, p.version_id, w.arch FROM "
		"package_hosts_pending q CROSS JOIN packages p CROSS JOIN "
		"package_versions w WHERE p.host_id = q.host_id AND "
		"p.name_id = (SELECT id FROM package_names WHERE name = ?1) "
		"AND w.id = "
		"p.version_id AND q.host_id >= ?2 AND (q.host_id > ?2 OR "
		"w.arch > ?4) ORDER BY 1, 3 LIMIT ?3) k JOIN package_versions "
		"v ON v.id = k.version_id JOIN hosts h ON h.id = k.host_id "
		"ORDER BY k.host_id, v.arch";
	json_t *items, *cursor;
	int r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	s = db_stmt(c, SQL_PACKAGES_FIND);
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, name);
	db_bind_int(s, 2, after_host);
	db_bind_int(s, 3, limit + 1);
	/* The first page (after_host 0, no host has id 0) takes every arch:
	 * "" rather than a byte no text holds, which PostgreSQL refuses as
	 * text that is not UTF-8. */
	db_bind_text(s, 4, after_arch ? after_arch : "");
	r = store_page_collect(c, s, limit, fix_package, "cursor", &items, &cursor);
	if (r == 0) {
		size_t i;
		json_t *it;

		json_array_foreach(items, i, it)
			json_object_del(it, "cursor");
	}
	if (r == 0) {
		cs = db_stmt(c, "WITH n(id) AS (SELECT id FROM "
			     "package_names WHERE name = ?1) "
			     "SELECT (SELECT count(*) FROM n CROSS JOIN "
			     "package_hosts x WHERE x.name_id = n.id) + "
			     "(SELECT count(*) FROM n CROSS JOIN "
			     "package_hosts_pending q CROSS JOIN packages x "
			     "WHERE x.host_id = q.host_id AND x.name_id = "
			     "n.id)");

		if (cs)
			db_bind_text(cs, 1, name);
		r = store_page_make(c, cs, items, cursor, ret);
	}
out:
	db_read_end(st, c);
	return r;
}
