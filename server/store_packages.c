/*
 * store_packages.c - the packages section, the one that is large and that
 * changes a little at a time.  A host's items are one packed value of
 * references to the fleet's package versions (host_packages), each version
 * with its digest; the section row keeps the header and the items' sum.
 * So a delta (a few packages added, changed or removed) is checked and
 * applied by reading that one value and touching those few versions,
 * never the whole section.
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "advisory.h"
#include "buf.h"
#include "cursor.h"
#include "hash.h"
#include "jsonutil.h"
#include "rules.h"

/* A bound on the texts built below: a host's values are far smaller. */
#define SET_VALUE_MAX ((size_t)256 << 20)

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

/*
 * A host's packages are one value, host_packages.refs: its references to
 * the fleet's package versions (sql/012_packed_packages.sql says why), the
 * same bytes on both engines: a byte SET_RUNS, then the references in
 * (name_id, version_id) order as tokens of LEB128 varints,
 *
 *	zigzag(version_id - (base + 1)) << 4 | r << 3 | b << 2 | s << 1 | nodigest
 *
 * followed, when s is 1, by a varint of the step from the previous
 * reference's name_id (1, the next name, needs none), and, when r is 1,
 * by a varint k: k + 1 references more, each of the next name id and the
 * next version id, with the same nodigest (a run).  base is the previous
 * reference's version_id (b 0) or the one before it (b 1), both 0 at the
 * start.  A host's versions run mostly in the order its release's first
 * host gave them ids: a run is one token, and a version of its own (far
 * from the run) costs its own bytes but not the way back.  nodigest marks
 * a row stored before digests were kept, which a delta counts as not
 * found.  Sorted by name, a host's reference of one package is a binary
 * search away once the value is read (one row).
 *
 * The bench's hosts of 1,500 packages take 1.8 KB, two to a 4 KiB page.
 * Not deflated: zlib's Huffman trees for a value of 2 KB cost some 300 K
 * instructions each time, to save 0.3 KB a host; without them a delta
 * costs the writer 1.03 M instructions, not 1.25 M, and the connection's
 * thread 1.9 M, not 2.1 M (callgrind, the bench's fleet).  The forms an
 * older derelictd wrote are read as they are, and a value is written in
 * this one at its next change: SET_FORMAT (tokens without r and shifted
 * by 3, not 4), and SET_DEFLATED (a varint of the SET_FORMAT tokens'
 * length, then those tokens as a zlib stream).
 */
#define SET_FORMAT 1
#define SET_DEFLATED 2
#define SET_RUNS 3
/* References in one value: far more than a host holds (a section holds
 * REPORT_MAX_ITEMS), a bound on a damaged run. */
#define SET_REFS_MAX ((uint64_t)1 << 24)

struct pkg_ref {
	int64_t name_id, version_id;
	int nodigest;
};

struct pkg_set {
	struct pkg_ref *v;
	size_t n, cap;
};

static void set_free(struct pkg_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_ref(const void *a, const void *b)
{
	const struct pkg_ref *x = a, *y = b;

	if (x->name_id != y->name_id)
		return x->name_id < y->name_id ? -1 : 1;
	if (x->version_id != y->version_id)
		return x->version_id < y->version_id ? -1 : 1;
	return 0;
}

static int set_grow(struct pkg_set *s)
{
	size_t cap = s->cap ? 2 * s->cap : 64;
	struct pkg_ref *v;

	if (s->n < s->cap)
		return 0;
	v = realloc(s->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

static int set_push(struct pkg_set *s, int64_t name_id, int64_t version_id,
		    int nodigest)
{
	int r = set_grow(s);

	if (r < 0)
		return r;
	s->v[s->n].name_id = name_id;
	s->v[s->n].version_id = version_id;
	s->v[s->n].nodigest = nodigest;
	s->n++;
	return 0;
}

/* The first reference of name_id, or where one would go. */
static size_t set_lower(const struct pkg_set *s, int64_t name_id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid].name_id < name_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds a reference where its order puts it: 1, or 0 when it is there
 * already, or -ENOMEM. */
static int set_insert(struct pkg_set *s, int64_t name_id, int64_t version_id)
{
	struct pkg_ref k = { name_id, version_id, 0 };
	size_t i = set_lower(s, name_id);
	int r;

	while (i < s->n && cmp_ref(&s->v[i], &k) < 0)
		i++;
	if (i < s->n && cmp_ref(&s->v[i], &k) == 0)
		return 0;
	if ((r = set_grow(s)) < 0)
		return r;
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = k;
	s->n++;
	return 1;
}

static void set_remove(struct pkg_set *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* The reference at i made one of version_id, of the same name, in its
 * place: no move of the 1,500 others.  1, or 2 when it was that already,
 * or 0 when the host had that reference too (then i goes). */
static int set_replace(struct pkg_set *s, size_t i, int64_t version_id)
{
	int64_t name_id = s->v[i].name_id;
	struct pkg_ref k = { name_id, version_id, 0 };

	for (size_t j = set_lower(s, name_id);
	     j < s->n && s->v[j].name_id == name_id; j++) {
		if (s->v[j].version_id != version_id)
			continue;
		if (j == i)
			return 2;
		set_remove(s, i);
		return 0;
	}
	s->v[i] = k;
	for (; i > 0 && cmp_ref(&s->v[i - 1], &s->v[i]) > 0; i--) {
		s->v[i] = s->v[i - 1];
		s->v[i - 1] = k;
	}
	for (; i + 1 < s->n && cmp_ref(&s->v[i], &s->v[i + 1]) > 0; i++) {
		s->v[i] = s->v[i + 1];
		s->v[i + 1] = k;
	}
	return 1;
}

/* The index of the reference (name_id, version_id): 1 found, else 0. */
static int set_find(const struct pkg_set *s, int64_t name_id,
		    int64_t version_id, size_t *ret_idx)
{
	for (size_t i = set_lower(s, name_id);
	     i < s->n && s->v[i].name_id == name_id; i++) {
		if (s->v[i].version_id == version_id) {
			*ret_idx = i;
			return 1;
		}
	}
	return 0;
}

/*
 * Change ch made to s: the reference at (when found) replaced by, or
 * taken out for, new's (ids: its version and name ids).  gone is the
 * reference taken out (name_id 0: none).  1 when new's reference was
 * added, 2 when it was there and nothing changed, 0 when not, or -ENOMEM.
 */
static int set_apply(struct pkg_set *s, const struct change *ch, int found,
		     size_t at, const int64_t ids[2], struct pkg_ref *gone)
{
	memset(gone, 0, sizeof(*gone));
	if (found) {
		*gone = s->v[at];
		if (ch->new && ids[1] == gone->name_id)
			return set_replace(s, at, ids[0]);
		set_remove(s, at);
	}
	return ch->new ? set_insert(s, ids[1], ids[0]) : 0;
}


static int get_varint(const unsigned char **p, const unsigned char *end,
		      uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EIO;	/* cut short: not a value the store wrote */
}

static size_t put_varint(unsigned char *t, uint64_t v)
{
	size_t n = 0;

	do {
		t[n] = v & 0x7f;
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* The tokens p[0..end) of a value in form SET_FORMAT (runs 0) or SET_RUNS
 * (runs 1) into ret. */
static int set_decode_tokens(const unsigned char *p, const unsigned char *end,
			     int runs, struct pkg_set *ret)
{
	uint64_t name = 0, last[2] = { 0, 0 }, a, step, more;
	int r;

	while (p < end) {
		uint64_t z, v;

		if ((r = get_varint(&p, end, &a)) < 0)
			return r;
		step = 1;
		if ((a & 2) && (r = get_varint(&p, end, &step)) < 0)
			return r;
		more = 0;
		if (runs && (a & 8)) {
			if ((r = get_varint(&p, end, &more)) < 0)
				return r;
			if (++more > SET_REFS_MAX - ret->n)
				return -EIO;
		}
		z = a >> (runs ? 4 : 3);
		name += step;
		v = last[(a >> 2) & 1] + 1 + ((z >> 1) ^ (0 - (z & 1)));
		for (uint64_t i = 0; i <= more; i++, name++, v++) {
			last[1] = last[0];
			last[0] = v;
			if ((r = set_push(ret, (int64_t)name, (int64_t)v,
					  (int)(a & 1))) < 0)
				return r;
		}
		name--;
	}
	return 0;
}

static int set_decode(const unsigned char *p, size_t len, struct pkg_set *ret)
{
	const unsigned char *end = p + len, *q = p + 1;
	unsigned char *raw;
	uLongf got;
	uint64_t n;
	int r;

	if (!p || len == 0)
		return -EIO;
	if (*p == SET_RUNS || *p == SET_FORMAT)
		return set_decode_tokens(q, end, *p == SET_RUNS, ret);
	if (*p != SET_DEFLATED)
		return -EIO;
	/* A host's references are far fewer than the cap on the value. */
	if ((r = get_varint(&q, end, &n)) < 0 || n >= SET_VALUE_MAX)
		return -EIO;
	if (!(raw = malloc(n ? n : 1)))
		return -ENOMEM;
	got = (uLongf)n;
	if (uncompress(raw, &got, q, (uLong)(end - q)) != Z_OK || got != n)
		r = -EIO;
	else
		r = set_decode_tokens(raw, raw + n, 0, ret);
	free(raw);
	return r;
}

/* Sorts s (a delta keeps it sorted: then only checked), drops a
 * reference given twice, and packs it into out. */
static int set_encode(struct pkg_set *s, struct buf *out)
{
	uint64_t name = 0, last[2] = { 0, 0 };
	unsigned char *raw, *t;
	size_t k = 0;
	int r;

	for (size_t i = 1; i < s->n; i++)
		if (cmp_ref(&s->v[i - 1], &s->v[i]) > 0) {
			qsort(s->v, s->n, sizeof(*s->v), cmp_ref);
			break;
		}
	for (size_t i = 0; i < s->n; i++)
		if (!k || cmp_ref(&s->v[k - 1], &s->v[i]) != 0)
			s->v[k++] = s->v[i];
	s->n = k;
	/* Three varints of 10 bytes at most a token. */
	raw = t = malloc(s->n * 30 + 1);
	if (!raw)
		return -ENOMEM;
	*t++ = SET_RUNS;
	for (size_t i = 0; i < s->n; i++) {
		const struct pkg_ref *e = &s->v[i];
		uint64_t v = (uint64_t)e->version_id;
		uint64_t step = (uint64_t)e->name_id - name, z[2];
		size_t more = 0;
		int b;

		/* zigzag: 0, -1, 1, -2 ... as 0, 1, 2, 3 ... */
		for (int j = 0; j < 2; j++) {
			uint64_t d = v - (last[j] + 1);

			z[j] = (int64_t)d < 0 ? ~(d << 1) : d << 1;
		}
		b = z[1] < z[0];
		while (i + more + 1 < s->n &&
		       e[more + 1].name_id == e[more].name_id + 1 &&
		       e[more + 1].version_id == e[more].version_id + 1 &&
		       e[more + 1].nodigest == e->nodigest)
			more++;
		t += put_varint(t, z[b] << 4 | (uint64_t)(more != 0) << 3 |
				      (uint64_t)b << 2 |
				      (uint64_t)(step != 1) << 1 |
				      (e->nodigest ? 1 : 0));
		if (step != 1)
			t += put_varint(t, step);
		if (more)
			t += put_varint(t, more - 1);
		i += more;
		name = (uint64_t)s->v[i].name_id;
		last[1] = more ? (uint64_t)s->v[i].version_id - 1 : last[0];
		last[0] = (uint64_t)s->v[i].version_id;
	}
	buf_reset(out);
	r = buf_append(out, raw, (size_t)(t - raw));
	free(raw);
	return r;
}

/*
 * The host's references; none (an empty set) when it has no row.  With
 * keep, the value read is copied to its base_value; with take, its
 * base_refs are taken, not decoded, when its base_value is what is read.
 */
static int set_load(struct db_conn *c, int64_t host, struct pkg_set *ret,
		    struct ingest_section *keep, struct ingest_section *take)
{
	struct db_stmt *s = db_stmt(c, "SELECT refs FROM host_packages WHERE "
				  "host_id = ?");
	const void *d;
	size_t len;
	int rc, r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	rc = db_step(c, s);
	if (rc == DB_ROW) {
		d = db_col_blob(s, 0, &len);
		if (take && take->base_refs && d &&
		    len == take->base_value_len &&
		    memcmp(d, take->base_value, len) == 0) {
			ret->v = take->base_refs;
			ret->n = ret->cap = take->base_refs_n;
			take->base_refs = NULL;
		} else {
			r = set_decode(d, len, ret);
		}
		if (r == 0 && keep && d && len &&
		    (keep->base_value = malloc(len)) != NULL) {
			memcpy(keep->base_value, d, len);
			keep->base_value_len = len;
		}
	}
	db_reset(s);
	if (rc < 0 || r < 0)
		set_free(ret);
	return rc < 0 ? rc : r;
}

/* Writes the host's value (n references packed as value[0..len)). */
static int set_put(struct db_conn *c, int64_t host, size_t n,
		   const unsigned char *value, size_t len)
{
	struct db_stmt *s = db_stmt(
		c, "INSERT INTO host_packages (host_id, n, refs) VALUES "
		   "(?1, ?2, ?3) ON CONFLICT (host_id) DO UPDATE SET n = "
		   "excluded.n, refs = excluded.refs");

	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	db_bind_int(s, 2, (int64_t)n);
	db_bind_blob(s, 3, value, len);
	return db_run(c, s);
}

static int set_store(struct db_conn *c, int64_t host, struct pkg_set *set)
{
	struct buf b = BUF_INIT(SET_VALUE_MAX);
	int r = set_encode(set, &b);

	if (r == 0)
		r = set_put(c, host, set->n, (const unsigned char *)b.data,
			    b.len);
	buf_free(&b);
	return r;
}

/* "[id,...]": the set's version ids (or, with names, its distinct name
 * ids) as the JSON array the statements below walk. */
static int set_json(const struct pkg_set *s, int names, struct buf *out)
{
	int r = buf_puts(out, "[");

	for (size_t i = 0; i < s->n && r == 0; i++) {
		if (names && i && s->v[i].name_id == s->v[i - 1].name_id)
			continue;
		r = buf_printf(out, "%s%lld", out->len > 1 ? "," : "",
			       (long long)(names ? s->v[i].name_id
						 : s->v[i].version_id));
	}
	return r < 0 ? r : buf_puts(out, "]");
}

int packages_version_ids(struct db_conn *c, int64_t host, int64_t **ret,
			 size_t *ret_n)
{
	struct pkg_set set;
	int64_t *ids;
	int r = set_load(c, host, &set, NULL, NULL);

	if (r < 0)
		return r;
	ids = malloc((set.n ? set.n : 1) * sizeof(*ids));
	if (!ids) {
		set_free(&set);
		return -ENOMEM;
	}
	for (size_t i = 0; i < set.n; i++)
		ids[i] = set.v[i].version_id;
	*ret_n = set.n;
	*ret = ids;
	set_free(&set);
	return 0;
}

int packages_versions_of_name(struct db_conn *c, int64_t host,
			      int64_t name_id, int64_t **ids, size_t *n,
			      size_t *cap)
{
	struct pkg_set set;
	int r = set_load(c, host, &set, NULL, NULL);

	for (size_t i = 0; i < set.n && r == 0; i++) {
		if (set.v[i].name_id != name_id)
			continue;
		if (*n == *cap) {
			size_t k = *cap ? 2 * *cap : 16;
			int64_t *p = realloc(*ids, k * sizeof(*p));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			*ids = p;
			*cap = k;
		}
		(*ids)[(*n)++] = set.v[i].version_id;
	}
	set_free(&set);
	return r;
}

int packages_items(struct db_conn *c, int64_t host, json_t **ret)
{
	struct buf ids = BUF_INIT(SET_VALUE_MAX);
	struct pkg_set set;
	struct db_stmt *s;
	json_t *items = json_array();
	int rc, r;

	if (!items)
		return -ENOMEM;
	if ((r = set_load(c, host, &set, NULL, NULL)) < 0 ||
	    (r = set_json(&set, 0, &ids)) < 0)
		goto out;
	/* ENGINE: each engine's function that walks a JSON array. */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, "SELECT n.name, v.arch, v.version, coalesce("
			    "v.source, n.name), coalesce(v.source_version, "
			    "v.version) FROM jsonb_array_elements_text(?1::jsonb) "
			    "j JOIN package_versions v ON v.id = j.value::bigint "
			    "JOIN package_names n ON n.id = v.name_id ORDER BY "
			    "n.name, v.arch");
	else
		s = db_stmt(c, "SELECT n.name, v.arch, v.version, coalesce("
			    "v.source, n.name), coalesce(v.source_version, "
			    "v.version) FROM json_each(?1) j JOIN package_versions "
			    "v ON v.id = j.value JOIN package_names n ON n.id = "
			    "v.name_id ORDER BY n.name, v.arch");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, ids.data);
	while ((rc = db_step(c, s)) == DB_ROW) {
		json_t *p = row_item(db_col_text(s, 0), db_col_text(s, 1),
				     db_col_text(s, 2), db_col_text(s, 3),
				     db_col_text(s, 4));

		if (!p || json_array_append_new(items, p) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	db_reset(s);
	if (rc < 0)
		r = rc;
out:
	buf_free(&ids);
	set_free(&set);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret = items;
	return 0;
}

/* The id of a known package name: 1 found, 0 not, or a negative errno. */
static int name_lookup(struct db_conn *c, const char *name, int64_t *ret)
{
	struct db_stmt *s = db_stmt(c, "SELECT id FROM package_names WHERE "
				  "name = ?");
	int rc;

	if (!s)
		return -EIO;
	db_bind_text(s, 1, name ? name : "");
	rc = db_step(c, s);
	if (rc == DB_ROW)
		*ret = db_col_int(s, 0);
	db_reset(s);
	return rc;	/* DB_ROW (1), DB_DONE (0) or the error */
}

/*
 * The host's reference of a package identity (name, arch), whatever its
 * version: 1 found (its index in ret_idx), 0 not, or a negative errno.
 * With ret_item, its item, the item's canonical text (which its digest
 * hashes and the history keeps: made once) and digest too, and a
 * reference without a digest (a row stored before digests were kept)
 * counts as not found: the delta then fails its hash and the agent
 * resends.  With ret_nid, the name's id (0: no host has the name).
 */
static int ref_find(struct db_conn *c, const struct pkg_set *set,
		    const char *name, const char *arch, size_t *ret_idx,
		    json_t **ret_item, char **ret_text,
		    unsigned char digest[REPORT_SUM_LEN], int64_t *ret_nid)
{
	struct db_stmt *s;
	int64_t nid = 0;
	int rc, found = 0;

	if (ret_item) {
		*ret_item = NULL;
		*ret_text = NULL;
	}
	rc = name_lookup(c, name, &nid);
	if (ret_nid)
		*ret_nid = rc > 0 ? nid : 0;
	if (rc <= 0)
		return rc;
	arch = arch ? arch : "";
	/* A host has few references of one name (one per architecture). */
	for (size_t i = set_lower(set, nid);
	     i < set->n && set->v[i].name_id == nid && !found; i++) {
		const void *d;
		size_t len;

		s = db_stmt(c, "SELECT arch, version, coalesce(source, ?2), "
			    "coalesce(source_version, version), digest, dkey "
			    "FROM package_versions WHERE id = ?1");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, set->v[i].version_id);
		db_bind_text(s, 2, name);
		rc = db_step(c, s);
		if (rc == DB_ROW && strcmp(db_col_text(s, 0) ?
					   db_col_text(s, 0) : "", arch) == 0) {
			*ret_idx = i;
			found = 1;
			if (ret_item && (set->v[i].nodigest ||
					 db_col_null(s, 5))) {
				found = 0;
			} else if (ret_item) {
				struct buf t = BUF_INIT(SET_VALUE_MAX);

				*ret_item = row_item(name, arch,
						     db_col_text(s, 1),
						     db_col_text(s, 2),
						     db_col_text(s, 3));
				d = db_col_blob(s, 4, &len);
				if (!*ret_item ||
				    json_canonical_append(*ret_item, &t) < 0 ||
				    !(*ret_text = buf_take(&t, NULL))) {
					buf_free(&t);
					json_decref(*ret_item);
					*ret_item = NULL;
					found = -ENOMEM;
				} else if (d && len == REPORT_SUM_LEN) {
					memcpy(digest, d, REPORT_SUM_LEN);
				} else {
					sha256_raw(*ret_text, strlen(*ret_text),
						   digest);
				}
			}
			db_reset(s);
			return found;
		}
		db_reset(s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int version_get(struct db_conn *c, const json_t *p,
		       const unsigned char *digest, int64_t name,
		       int64_t *ret);

/* Keeps, with the change just pushed, the references its preparation
 * found, which spare the writer their lookups (struct change). */
static void found_refs(struct changes *l, int64_t name_id,
		       int64_t old_version_id, int64_t new_version_id)
{
	struct change *ch = &l->v[l->n - 1];

	ch->name_id = name_id;
	ch->old_version_id = old_version_id;
	ch->new_version_id = new_version_id;
}

static int key_of(const json_t *p, struct buf *key)
{
	buf_reset(key);
	return report_item_key(SECTION_PACKAGES, p, key);
}

/*
 * When the fleet has every version a prepared delta refers to, packs the
 * value the writer's edits will make of set (the host's value it was
 * prepared on) into in->new_value: the writer, making the same edits of
 * the same references, then writes it without packing it itself.
 */
static int pack_edited(const struct pkg_set *set, struct ingest_section *in)
{
	struct buf b = BUF_INIT(SET_VALUE_MAX);
	struct pkg_set e = { 0 };
	int r = 0;

	for (size_t i = 0; i < in->changes.n; i++) {
		const struct change *ch = &in->changes.v[i];

		if ((ch->old && !ch->old_version_id) ||
		    (ch->new && !ch->new_version_id))
			return 0;
	}
	if (set->n && !(e.v = malloc(set->n * sizeof(*e.v))))
		return 0;	/* no memory: the writer packs it */
	if (set->n)
		memcpy(e.v, set->v, set->n * sizeof(*e.v));
	e.n = e.cap = set->n;
	for (size_t i = 0; i < in->changes.n && r >= 0; i++) {
		const struct change *ch = &in->changes.v[i];
		int64_t ids[2] = { ch->new_version_id, ch->name_id };
		struct pkg_ref gone;
		size_t at = 0;
		int found = ch->old && set_find(&e, ch->name_id,
						ch->old_version_id, &at);

		if (ch->old && !found)
			r = -1;
		else
			r = set_apply(&e, ch, found, at, ids, &gone);
	}
	if (r >= 0 && set_encode(&e, &b) == 0) {
		in->new_value = (unsigned char *)buf_take(&b, &in->new_value_len);
		in->new_value_n = in->new_value ? e.n : 0;
	}
	set_free(&e);
	buf_free(&b);
	return r == -ENOMEM ? r : 0;
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
	char *text;
	size_t i;
	struct pkg_set set;
	size_t at;
	int64_t nid, vid;
	int r, found;

	/* One read of the host's value for the whole delta, and for the
	 * writer's apply if it is still what is stored then. */
	ingest_section_drop_base(in);
	if ((r = set_load(c, host, &set, in, NULL)) < 0)
		return r;
	memcpy(sum, stored_sum, REPORT_SUM_LEN);
	in->eval = 0;
	json_array_foreach(removed, i, p) {
		found = ref_find(c, &set, json_get_str(p, "name"),
				 json_get_str(p, "arch"), &at, &old, &text, d,
				 &nid);
		if (found <= 0) {
			r = found < 0 ? found : 1;
			goto out;
		}
		report_sum_sub(sum, d);
		in->eval |= relevant(st, codename, old);
		if ((r = key_of(old, &key)) == 0)
			r = changes_push_with(&in->changes, "removed", key.data,
					      old, text, NULL, NULL);
		else
			free(text);
		json_decref(old);
		if (r < 0)
			goto out;
		found_refs(&in->changes, nid, set.v[at].version_id, 0);
	}
	json_array_foreach(added, i, p) {
		const unsigned char *nd = in->digests + i * REPORT_SUM_LEN;

		found = ref_find(c, &set, json_get_str(p, "name"),
				 json_get_str(p, "arch"), &at, &old, &text, d,
				 &nid);
		if (found < 0) {
			r = found;
			goto out;
		}
		if (found && memcmp(d, nd, REPORT_SUM_LEN) == 0) {
			json_decref(old);
			free(text);
			continue;	/* sent, but not changed */
		}
		vid = 0;
		if (nid && (r = version_get(c, p, nd, nid, &vid)) < 0) {
			json_decref(old);
			free(text);
			goto out;
		}
		if (found)
			report_sum_sub(sum, d);
		report_sum_add(sum, nd);
		in->eval |= relevant(st, codename, p) ||
			    (found && relevant(st, codename, old));
		if ((r = key_of(p, &key)) == 0)
			r = changes_push_with(&in->changes,
					      found ? "changed" : "added",
					      key.data, old, text, p, nd);
		else
			free(text);
		json_decref(old);
		if (r < 0)
			goto out;
		found_refs(&in->changes, nid,
			   found ? set.v[at].version_id : 0, vid);
	}
	r = report_section_hash_sum(in->body, sum, hash);
	if (r == 0 && strcmp(hash, in->hash) != 0)
		r = 1;	/* the agent's idea of our state is not ours */
	if (r == 0) {
		memcpy(in->sum, sum, REPORT_SUM_LEN);
		r = pack_edited(&set, in);
		in->base_refs = set.v;
		in->base_refs_n = set.n;
		set.v = NULL;
	}
out:
	set_free(&set);
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

/* Binds ?2 to ?5: a version's arch, version, source and source_version,
 * the last two NULL when equal to the name and the version (as the rows
 * keep them, sql/012_packed_packages.sql). */
static void bind_members(struct db_stmt *s, const json_t *p)
{
	const char *name = member(p, PKG_NAME), *version = member(p, PKG_VERSION);
	const char *source = member(p, PKG_SOURCE);
	const char *srcver = member(p, PKG_SRCVER);

	db_bind_text(s, 2, member(p, PKG_ARCH));
	db_bind_text(s, 3, version);
	if (source && name && strcmp(source, name) == 0)
		db_bind_null(s, 4);
	else
		db_bind_text(s, 4, source);
	if (srcver && version && strcmp(srcver, version) == 0)
		db_bind_null(s, 5);
	else
		db_bind_text(s, 5, srcver);
}

/* The id of a version already stored: 1 found, 0 not, or the error.  A
 * digest names the item, looked up by its first DKEY_LEN bytes (the
 * index's) and compared whole; without one, the members do. */
#define DKEY_LEN 8

/* Whether p is an item row_item() makes: the five members, strings, none
 * empty (then row_item() of its members is p itself). */
static int item_plain(const json_t *p)
{
	if (json_object_size(p) != PKG_MEMBERS)
		return 0;
	for (int f = 0; f < PKG_MEMBERS; f++) {
		const char *v = json_get_str(p, pkg_members[f]);

		if (!v || !*v)
			return 0;
	}
	return 1;
}

/* Whether a row's arch, version, source and source_version (v, filled in
 * as member() fills them) are p's. */
static int same_members(const json_t *p, const char *const v[4])
{
	static const int f[4] = { PKG_ARCH, PKG_VERSION, PKG_SOURCE,
				  PKG_SRCVER };

	for (int i = 0; i < 4; i++) {
		const char *m = member(p, f[i]);

		if (!v[i] || !m || strcmp(v[i], m) != 0)
			return 0;
	}
	return 1;
}

static int version_get(struct db_conn *c, const json_t *p,
		       const unsigned char *digest, int64_t name,
		       int64_t *ret)
{
	struct db_stmt *s;
	size_t len;
	int rc = 0, found = 0, plain;

	if (!digest) {
		s = db_stmt(c, "SELECT id FROM package_versions WHERE name_id "
			    "= ?1 AND dkey IS NULL AND arch = ?2 AND version = "
			    "?3 AND source IS NOT DISTINCT FROM ?4 AND "
			    "source_version IS NOT DISTINCT FROM ?5");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, name);
		bind_members(s, p);
		rc = db_step(c, s);
		if (rc == DB_ROW)
			*ret = db_col_int(s, 0);
		db_reset(s);
		return rc;	/* DB_ROW (1), DB_DONE (0) or the error */
	}
	plain = item_plain(p);
	s = db_stmt(c, "SELECT id, digest, arch, version, coalesce(source, "
		    "?3), coalesce(source_version, version) FROM "
		    "package_versions WHERE name_id = ?1 AND dkey = ?2");
	if (!s)
		return -EIO;
	db_bind_int(s, 1, name);
	db_bind_blob(s, 2, digest, DKEY_LEN);
	db_bind_text(s, 3, member(p, PKG_NAME));
	while (!found && (rc = db_step(c, s)) == DB_ROW) {
		const void *d = db_col_blob(s, 1, &len);
		unsigned char again[REPORT_SUM_LEN];

		if ((!d || len != REPORT_SUM_LEN) && plain) {
			/* Not stored, and p is what a row gives back: the
			 * digests are equal exactly when the members are. */
			if (same_members(p, (const char *[]){
						 db_col_text(s, 2),
						 db_col_text(s, 3),
						 db_col_text(s, 4),
						 db_col_text(s, 5) })) {
				*ret = db_col_int(s, 0);
				found = 1;
			}
			continue;
		}
		if (!d || len != REPORT_SUM_LEN) {
			/* Not stored: the row's own item hashes to it. */
			json_t *it = row_item(member(p, PKG_NAME),
					      db_col_text(s, 2),
					      db_col_text(s, 3),
					      db_col_text(s, 4),
					      db_col_text(s, 5));
			int r = it ? report_item_digest(it, again) : -ENOMEM;

			json_decref(it);
			if (r < 0) {
				db_reset(s);
				return r;
			}
			d = again;
		}
		if (memcmp(d, digest, REPORT_SUM_LEN) == 0) {
			*ret = db_col_int(s, 0);
			found = 1;
		}
	}
	db_reset(s);
	return rc < 0 ? rc : found;
}

/* Whether the row of item p gives back its digest (row_item()'s digest):
 * then SQLite's row need not keep it (sql/012_packed_packages.sql). */
static int digest_implied(const json_t *p, const unsigned char *digest)
{
	unsigned char d[REPORT_SUM_LEN];
	json_t *it;
	int r;

	if (item_plain(p))
		return 1;	/* the row gives back p, whose digest it is */
	it = row_item(member(p, PKG_NAME), member(p, PKG_ARCH),
		      member(p, PKG_VERSION), member(p, PKG_SOURCE),
		      member(p, PKG_SRCVER));
	r = it ? report_item_digest(it, d) : -1;
	json_decref(it);
	return r == 0 && memcmp(d, digest, REPORT_SUM_LEN) == 0;
}

/*
 * The fleet's row of a package version, added when no host had it yet: its
 * id and its name's id in ret_ids[0] and ret_ids[1] (name: the name's id
 * when known, else 0).  Versions are never
 * taken away (sql/008_package_versions.sql says why), so an id once read
 * stays valid.
 */
static int version_find(struct db_conn *c, const json_t *p,
			const unsigned char *digest, int64_t name,
			int64_t ret_ids[2])
{
	struct db_stmt *s;
	int rc;

	ret_ids[1] = name;
	if (!name && (rc = name_id(c, member(p, PKG_NAME), &ret_ids[1])) < 0)
		return rc;
	/* Twice at most, as name_id() and for its reason (PostgreSQL's key
	 * is unique; SQLite has one writer). */
	for (int pass = 0; pass < 2; pass++) {
		rc = version_get(c, p, digest, ret_ids[1], &ret_ids[0]);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		/* ENGINE: PostgreSQL's unique key (SQLite has none). */
		if (db_dialect(c) == DB_POSTGRESQL)
			s = db_stmt(c, "INSERT INTO package_versions (name_id, "
				    "arch, version, source, source_version, "
				    "dkey, digest) VALUES (?1, ?2, ?3, ?4, ?5, "
				    "?6, ?7) ON CONFLICT DO NOTHING "
				    "RETURNING id");
		else
			s = db_stmt(c, "INSERT INTO package_versions (name_id, "
				    "arch, version, source, source_version, "
				    "dkey, digest) VALUES (?1, ?2, ?3, ?4, ?5, "
				    "?6, ?7)");
		if (!s)
			return -EIO;
		db_bind_int(s, 1, ret_ids[1]);
		bind_members(s, p);
		if (digest)
			db_bind_blob(s, 6, digest, DKEY_LEN);
		else
			db_bind_null(s, 6);
		/* PostgreSQL keeps every digest: its unique key on them
		 * settles two nodes adding one version. */
		if (digest && (db_dialect(c) == DB_POSTGRESQL ||
			       !digest_implied(p, digest)))
			db_bind_blob(s, 7, digest, REPORT_SUM_LEN);
		else
			db_bind_null(s, 7);
		rc = db_insert(c, s, &ret_ids[0]);
		if (rc < 0 || ret_ids[0])
			return rc < 0 ? rc : 0;
	}
	return -EBUSY;
}

static int version_intern(struct store *st, struct db_conn *c,
			  const json_t *p, const unsigned char *digest,
			  int64_t name, int64_t ret_ids[2])
{
	struct version_slot *e = digest ? cache_slot(st, digest) : NULL;
	int r;

	if (e && e->ids[0]) {
		ret_ids[0] = e->ids[0];
		ret_ids[1] = e->ids[1];
		return 0;
	}
	r = version_find(c, p, digest, name, ret_ids);
	if (r == 0 && digest)
		cache_put(st, digest, ret_ids);
	return r;
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

static int name_del(struct db_conn *c, int64_t host, const struct pkg_ref *e)
{
	return db_run_with(c, "DELETE FROM package_hosts WHERE name_id = ?1 "
			   "AND host_id = ?2 AND version_id = ?3",
			   DB_INT(e->name_id), DB_INT(host),
			   DB_INT(e->version_id));
}

/* An upgrade's fleet index entry, moved to the new version: 1, or 0 when
 * there was none to move, or the error. */
static int name_move(struct db_conn *c, int64_t host, const struct pkg_ref *e,
		     int64_t version_id)
{
	int r = db_run_with(c, "UPDATE package_hosts SET version_id = ?4 "
			    "WHERE name_id = ?1 AND host_id = ?2 AND "
			    "version_id = ?3", DB_INT(e->name_id),
			    DB_INT(host), DB_INT(e->version_id),
			    DB_INT(version_id));

	return r < 0 ? r : db_changes(c) > 0;
}

/* A delta: the host's value read, edited in memory, written back, and
 * the fleet index's few entries with it.  The references the delta's
 * preparation found are checked in the value, not looked up again. */
int packages_apply_changes(struct store *st, struct db_conn *c, int64_t host,
			   struct ingest_section *in)
{
	struct pkg_set set;
	int r, late = -1, as_prepared = in->base_refs != NULL;

	if ((r = set_load(c, host, &set, NULL, in)) < 0)
		return r;
	as_prepared &= in->base_refs == NULL;	/* taken */
	if ((late = pending(c, host)) < 0)
		r = late;
	for (size_t i = 0; i < in->changes.n && r == 0; i++) {
		const struct change *ch = &in->changes.v[i];
		struct pkg_ref gone;
		int64_t ids[2] = { ch->new_version_id, ch->name_id };
		size_t at = 0;
		int found = 0, added;

		if (ch->old) {
			if (ch->old_version_id &&
			    set_find(&set, ch->name_id, ch->old_version_id, &at)) {
				found = 1;
			} else {
				as_prepared = 0;
				found = ref_find(c, &set, member(ch->old, PKG_NAME),
						 member(ch->old, PKG_ARCH), &at,
						 NULL, NULL, NULL, NULL);
				r = found < 0 ? found : 0;
			}
		}
		if (r == 0 && ch->new && !ch->new_version_id) {
			r = version_intern(st, c, ch->new, ch->has_digest ?
					   ch->digest : NULL, ch->name_id, ids);
			as_prepared = 0;
		}
		if (r < 0)
			break;
		/* An upgrade is the old version's reference replaced by the
		 * new one's, and its fleet index entry moved. */
		if ((added = set_apply(&set, ch, found > 0, at, ids,
				       &gone)) < 0)
			r = added;
		if (r < 0 || late || added == 2)
			continue;
		if (gone.name_id && added && gone.name_id == ids[1] &&
		    (r = name_move(c, host, &gone, ids[0])) != 0) {
			r = r < 0 ? r : 0;
			continue;
		}
		if (gone.name_id)
			r = name_del(c, host, &gone);
		if (r == 0 && ch->new)
			r = name_put(c, host, ids);
	}
	/* The same edits of the same references: the value the preparation
	 * packed, when it could, is this one's. */
	if (r == 0 && as_prepared && in->new_value &&
	    in->new_value_n == set.n)
		r = set_put(c, host, set.n, in->new_value, in->new_value_len);
	else if (r == 0)
		r = set_store(c, host, &set);
	set_free(&set);
	return r;
}

/* The fleet index's entries of a pass, in the index's order. */
#define INDEX_BATCH 20000

struct triple {
	int64_t name_id, host_id, version_id;
};

static int cmp_triple(const void *a, const void *b)
{
	const struct triple *x = a, *y = b;

	if (x->name_id != y->name_id)
		return x->name_id < y->name_id ? -1 : 1;
	if (x->host_id != y->host_id)
		return x->host_id < y->host_id ? -1 : 1;
	if (x->version_id != y->version_id)
		return x->version_id < y->version_id ? -1 : 1;
	return 0;
}

/* SQLite: prepared statements of INDEX_ROWS rows (then one at a time):
 * a quarter of the instructions a row cost when the rows were printed as
 * a JSON text and read back with json_each(), and 0.7 of a row to a
 * statement. */
#define INDEX_ROWS 20
#define INDEX_ROW "(?, ?, ?)"
#define INDEX_ROW5 INDEX_ROW ", " INDEX_ROW ", " INDEX_ROW ", " INDEX_ROW \
	", " INDEX_ROW

static void bind_triples(struct db_stmt *s, const struct triple *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		db_bind_int(s, (int)(3 * i + 1), t[i].name_id);
		db_bind_int(s, (int)(3 * i + 2), t[i].host_id);
		db_bind_int(s, (int)(3 * i + 3), t[i].version_id);
	}
}

static int index_rows(struct db_conn *c, const struct triple *t, size_t n)
{
	struct db_stmt *s = db_stmt(c, "INSERT INTO package_hosts (name_id, "
				  "host_id, version_id) VALUES " INDEX_ROW5
				  ", " INDEX_ROW5 ", " INDEX_ROW5 ", "
				  INDEX_ROW5 " ON CONFLICT DO NOTHING");
	size_t i = 0;
	int r = 0;

	if (!s)
		return -EIO;
	for (; i + INDEX_ROWS <= n && r == 0; i += INDEX_ROWS) {
		bind_triples(s, t + i, INDEX_ROWS);
		r = db_run(c, s);
	}
	s = db_stmt(c, "INSERT INTO package_hosts (name_id, host_id, "
		    "version_id) VALUES " INDEX_ROW " ON CONFLICT DO NOTHING");
	if (!s)
		return -EIO;
	for (; i < n && r == 0; i++) {
		bind_triples(s, t + i, 1);
		r = db_run(c, s);
	}
	return r;
}

/* PostgreSQL: many to a statement, where a row each would cost a round
 * trip each. */
static int index_array(struct db_conn *c, const struct triple *t, size_t n)
{
	struct buf text = BUF_INIT(SET_VALUE_MAX);
	struct db_stmt *s;
	int r = buf_puts(&text, "[");

	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_printf(&text, "%s[%lld,%lld,%lld]", i ? "," : "",
			       (long long)t[i].name_id,
			       (long long)t[i].host_id,
			       (long long)t[i].version_id);
	if (r == 0)
		r = buf_puts(&text, "]");
	if (r < 0)
		goto out;
	s = db_stmt(c, "INSERT INTO package_hosts (name_id, host_id, "
		    "version_id) SELECT (j.value ->> 0)::bigint, "
		    "(j.value ->> 1)::bigint, (j.value ->> 2)::bigint "
		    "FROM jsonb_array_elements(?1::jsonb) j "
		    "ON CONFLICT DO NOTHING");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_text(s, 1, text.data);
	r = db_run(c, s);
out:
	buf_free(&text);
	return r;
}

static int index_put(struct db_conn *c, const struct triple *t, size_t n)
{
	/* ENGINE: what a statement costs on each. */
	if (db_dialect(c) == DB_POSTGRESQL)
		return index_array(c, t, n);
	return index_rows(c, t, n);
}

int packages_index_pending(struct db_conn *c, int limit, int *ret_count)
{
	struct db_stmt *s = db_stmt(c, "SELECT p.host_id, p.refs FROM (SELECT "
				  "host_id FROM package_hosts_pending ORDER BY "
				  "host_id LIMIT ?1) q JOIN host_packages p ON "
				  "p.host_id = q.host_id");
	struct triple *t = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	*ret_count = 0;
	if (!s)
		return -EIO;
	db_bind_int(s, 1, limit);
	while (r == 0 && (rc = db_step(c, s)) == DB_ROW) {
		struct pkg_set set = { 0 };
		int64_t host = db_col_int(s, 0);
		const void *d;
		size_t len;

		d = db_col_blob(s, 1, &len);
		r = set_decode(d, len, &set);
		if (r == 0 && n + set.n > cap) {
			struct triple *p;

			cap = 2 * (n + set.n);
			p = realloc(t, cap * sizeof(*t));
			if (!p)
				r = -ENOMEM;
			else
				t = p;
		}
		for (size_t i = 0; r == 0 && i < set.n; i++) {
			t[n].name_id = set.v[i].name_id;
			t[n].host_id = host;
			t[n++].version_id = set.v[i].version_id;
		}
		set_free(&set);
	}
	db_reset(s);
	if (r == 0 && rc < 0)
		r = rc;
	/* In the index's order, as the rows' INSERT ... ORDER BY did. */
	if (r == 0 && n)
		qsort(t, n, sizeof(*t), cmp_triple);
	for (size_t i = 0; i < n && r == 0; i += INDEX_BATCH)
		r = index_put(c, t + i, n - i < INDEX_BATCH ? n - i
							    : INDEX_BATCH);
	free(t);
	if (r < 0)
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

/* The fleet index's entries of a host's names. */
static int names_del(struct db_conn *c, int64_t host,
		     const struct pkg_set *set)
{
	struct buf names = BUF_INIT(SET_VALUE_MAX);
	struct db_stmt *s;
	int r = set_json(set, 1, &names);

	if (r < 0)
		goto out;
	/* ENGINE: as above; an array, so that PostgreSQL probes the index
	 * once per name. */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, "DELETE FROM package_hosts WHERE name_id = "
			    "ANY(ARRAY(SELECT j::bigint FROM "
			    "jsonb_array_elements_text(?2::jsonb) j)) AND "
			    "host_id = ?1");
	else
		s = db_stmt(c, "DELETE FROM package_hosts WHERE name_id IN "
			    "(SELECT value FROM json_each(?2)) AND host_id = "
			    "?1");
	if (!s) {
		r = -EIO;
		goto out;
	}
	db_bind_int(s, 1, host);
	db_bind_text(s, 2, names.data);
	r = db_run(c, s);
out:
	buf_free(&names);
	return r;
}

/* A full section: one value written where there were 1,500 rows. */
int packages_replace(struct store *st, struct db_conn *c, int64_t host,
		     const struct ingest_section *in)
{
	json_t *items = json_object_get(in->body, "items");
	size_t n = json_array_size(items);
	struct pkg_set set;
	struct named *sorted;
	int r;

	/* The old value's names leave the index (a host pending has none
	 * there: its delete finds nothing). */
	if ((r = set_load(c, host, &set, NULL, NULL)) < 0)
		return r;
	if (set.n)
		r = names_del(c, host, &set);
	set.n = 0;
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (r == 0 && !sorted)
		r = -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name, *arch;

		sorted[i].item = json_array_get(items, i);
		name = member(sorted[i].item, PKG_NAME);
		arch = member(sorted[i].item, PKG_ARCH);
		sorted[i].name = name ? name : "";
		sorted[i].arch = arch ? arch : "";
		sorted[i].digest = in->digests ? in->digests + i * REPORT_SUM_LEN
					       : NULL;
	}
	/* One reference per identity (name, arch), as the rows' key kept
	 * it: of two items of one identity, one.  Interned in name order:
	 * a release's first host gives its versions ids in that order. */
	if (r == 0 && n)
		qsort(sorted, n, sizeof(*sorted), cmp_named);
	for (size_t i = 0; i < n && r == 0; i++) {
		int64_t ids[2];

		if (i + 1 < n && cmp_named(&sorted[i], &sorted[i + 1]) == 0)
			continue;
		r = version_intern(st, c, sorted[i].item, sorted[i].digest, 0,
				   ids);
		if (r == 0)
			r = set_push(&set, ids[1], ids[0], 0);
	}
	free(sorted);
	if (r == 0)
		r = set_store(c, host, &set);
	set_free(&set);
	if (r < 0)
		return r;
	/* The names follow, with other hosts', in packages_index_pending(). */
	return db_run_with(
		c, "INSERT INTO package_hosts_pending (host_id) "
		   "VALUES (?) ON CONFLICT DO NOTHING",
		   DB_INT(host));
}

/* --- migration 012: the rows of 008's layout packed --------------------- */
/* One host's rows packed (its rows in key order: the value's order). */
static int convert_host(struct db_conn *c, int64_t host)
{
	struct db_stmt *s = db_stmt(c, "SELECT name_id, version_id, digest "
				  "FROM packages_unpacked WHERE host_id = ? "
				  "ORDER BY name_id, version_id");
	struct pkg_set set = { 0 };
	int rc, r = 0;

	if (!s)
		return -EIO;
	db_bind_int(s, 1, host);
	while (r == 0 && (rc = db_step(c, s)) == DB_ROW)
		r = set_push(&set, db_col_int(s, 0), db_col_int(s, 1),
			     db_col_null(s, 2));
	db_reset(s);
	if (r == 0 && rc < 0)
		r = rc;
	if (r == 0)
		r = set_store(c, host, &set);
	set_free(&set);
	return r;
}

int packages_convert(struct store *st)
{
	struct db_conn *c;
	struct db_stmt *s;
	int64_t host = 0, left = 0;
	int r = db_write_begin(st, &c);

	if (r < 0)
		return r;
	/* ENGINE: each engine's catalogue. */
	if (db_dialect(c) == DB_POSTGRESQL)
		s = db_stmt(c, "SELECT count(*) FROM information_schema.tables "
			    "WHERE table_schema = current_schema() AND "
			    "table_name = 'packages_unpacked'");
	else
		s = db_stmt(c, "SELECT count(*) FROM sqlite_schema WHERE type = "
			    "'table' AND name = 'packages_unpacked'");
	r = s ? db_scalar(c, s, &left) : -EIO;
	if (r < 0 || !left)
		return db_write_end(st, c, r);
	/* Host by host in id order (the rows' key order). */
	while (r == 0) {
		s = db_stmt(c, "SELECT min(host_id) FROM packages_unpacked WHERE "
			    "host_id > ?");
		if (!s) {
			r = -EIO;
			break;
		}
		db_bind_int(s, 1, host);
		if ((r = db_scalar(c, s, &host)) < 0 || !host)
			break;
		r = convert_host(c, host);
	}
	if (r == 0)
		r = db_exec(c, "DROP TABLE packages_unpacked");
	return db_write_end(st, c, r);
}

/* --- the fleet's packages (GET /packages) -------------------------------- */


/*
 * The digests SQLite leaves out (those a row gives back, digest_implied()),
 * written into PostgreSQL's rows after migrate-to copied them as they
 * were: its unique key on the digest settles two nodes adding one version
 * only when every row has its own.  In batches of FILL_BATCH, in id order.
 */
#define FILL_BATCH 1000

int packages_fill_digests(struct store *st, int64_t *ret_count)
{
	struct db_conn *c;
	struct db_stmt *s;
	int64_t after = 0, *ids = NULL;
	unsigned char *sums = NULL;
	size_t n;
	int r = db_write_begin(st, &c);

	*ret_count = 0;
	if (r < 0)
		return r;
	if (db_dialect(c) != DB_POSTGRESQL)
		return db_write_end(st, c, 0);
	ids = malloc(FILL_BATCH * sizeof(*ids));
	sums = malloc(FILL_BATCH * REPORT_SUM_LEN);
	if (!ids || !sums)
		r = -ENOMEM;
	do {
		n = 0;
		s = r == 0 ? db_stmt(c, "SELECT v.id, n.name, v.arch, v.version, "
				     "coalesce(v.source, n.name), coalesce("
				     "v.source_version, v.version) FROM "
				     "package_versions v JOIN package_names n "
				     "ON n.id = v.name_id WHERE v.digest IS "
				     "NULL AND v.dkey IS NOT NULL AND v.id > ? "
				     "ORDER BY v.id LIMIT 1000")
			   : NULL;
		if (r == 0 && !s)
			r = -EIO;
		if (r < 0)
			break;
		db_bind_int(s, 1, after);
		while (n < FILL_BATCH && (r = db_step(c, s)) == DB_ROW) {
			json_t *it = row_item(db_col_text(s, 1),
					      db_col_text(s, 2),
					      db_col_text(s, 3),
					      db_col_text(s, 4),
					      db_col_text(s, 5));

			ids[n] = after = db_col_int(s, 0);
			r = it ? report_item_digest(it, sums + n * REPORT_SUM_LEN)
			       : -ENOMEM;
			json_decref(it);
			if (r < 0)
				break;
			n++;
		}
		db_reset(s);
		r = r < 0 ? r : 0;
		for (size_t i = 0; i < n && r == 0; i++) {
			s = db_stmt(c, "UPDATE package_versions SET digest = ? "
				    "WHERE id = ?");
			if (!s) {
				r = -EIO;
				break;
			}
			db_bind_blob(s, 1, sums + i * REPORT_SUM_LEN,
				     REPORT_SUM_LEN);
			db_bind_int(s, 2, ids[i]);
			r = db_run(c, s);
		}
		*ret_count += (int64_t)n;
	} while (r == 0 && n == FILL_BATCH);
	free(ids);
	free(sums);
	return db_write_end(st, c, r);
}
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

/* The pending hosts' references of a name, "[[host_id,version_id],...]":
 * their values read and searched here (a few hosts: the index takes them
 * within a second or so). */
static int pending_refs(struct db_conn *c, const char *name, struct buf *out,
			int64_t *ret_n)
{
	struct db_stmt *s;
	int64_t nid = 0;
	int rc, r = name_lookup(c, name, &nid);

	*ret_n = 0;
	if (r < 0 || (r = buf_puts(out, "[")) < 0)
		return r;
	s = db_stmt(c, "SELECT q.host_id, p.refs FROM package_hosts_pending q "
		    "JOIN host_packages p ON p.host_id = q.host_id ORDER BY "
		    "q.host_id");
	if (!s)
		return -EIO;
	while (nid && r == 0 && (rc = db_step(c, s)) == DB_ROW) {
		struct pkg_set set = { 0 };
		int64_t host = db_col_int(s, 0);
		const void *d;
		size_t len;

		d = db_col_blob(s, 1, &len);
		r = set_decode(d, len, &set);
		for (size_t i = set_lower(&set, nid);
		     r == 0 && i < set.n && set.v[i].name_id == nid; i++) {
			r = buf_printf(out, "%s[%lld,%lld]", *ret_n ? "," : "",
				       (long long)host,
				       (long long)set.v[i].version_id);
			++*ret_n;
		}
		set_free(&set);
	}
	db_reset(s);
	if (r == 0 && nid && rc < 0)
		r = rc;
	return r < 0 ? r : buf_puts(out, "]");
}

int store_packages_find(struct store *st, const char *name, int limit,
			int64_t after_host, const char *after_arch,
			json_t **ret)
{
	struct buf late = BUF_INIT(SET_VALUE_MAX);
	struct db_conn *c;
	struct db_stmt *s, *cs;
	/* The index has every host's names but those of the hosts stored
	 * in full since its last pass, which come from their values (?5,
	 * pending_refs()): the two sets do not overlap (see
	 * sql/002_item_sums.sql).  CROSS JOIN keeps the index outermost in
	 * SQLite (its join conditions are in WHERE: PostgreSQL takes no ON
	 * after CROSS JOIN); the name's id as a scalar, not a join, lets the
	 * index give the hosts' order and a page stop early.
	 * ENGINE: each engine's function that walks a JSON array. */
	static const char *const SQL_PACKAGES_FIND[] = {
		"SELECT k.host_id, h.hostname, ?1 AS name, v.arch, "
		"v.version, coalesce(v.source, ?1) AS source, coalesce("
		"v.source_version, v.version) AS source_version FROM (SELECT "
		"x.host_id, "
		"x.version_id, w.arch FROM package_hosts x CROSS JOIN "
		"package_versions w WHERE w.id = x.version_id AND x.name_id = "
		"(SELECT id FROM package_names WHERE name = ?1) AND x.host_id "
		">= ?2 AND (x.host_id > ?2 OR w.arch > ?4) "
		"UNION ALL SELECT q.value ->> 0, q.value ->> 1, w.arch FROM "
		"json_each(?5) q CROSS JOIN package_versions w WHERE w.id = "
		"q.value ->> 1 AND q.value ->> 0 >= ?2 AND (q.value ->> 0 > ?2 "
		"OR w.arch > ?4) ORDER BY 1, 3 LIMIT ?3) k JOIN "
		"package_versions v ON v.id = k.version_id JOIN hosts h ON "
		"h.id = k.host_id ORDER BY k.host_id, v.arch",
		"SELECT k.host_id, h.hostname, ?1 AS name, v.arch, "
		"v.version, coalesce(v.source, ?1) AS source, coalesce("
		"v.source_version, v.version) AS source_version FROM (SELECT "
		"x.host_id, "
		"x.version_id, w.arch FROM package_hosts x CROSS JOIN "
		"package_versions w WHERE w.id = x.version_id AND x.name_id = "
		"(SELECT id FROM package_names WHERE name = ?1) AND x.host_id "
		">= ?2 AND (x.host_id > ?2 OR w.arch > ?4) "
		"UNION ALL SELECT (q.value ->> 0)::bigint, (q.value ->> "
		"1)::bigint, w.arch FROM jsonb_array_elements(?5::jsonb) q "
		"CROSS JOIN package_versions w WHERE w.id = (q.value ->> "
		"1)::bigint AND (q.value ->> 0)::bigint >= ?2 AND ((q.value "
		"->> 0)::bigint > ?2 OR w.arch > ?4) ORDER BY 1, 3 LIMIT ?3) "
		"k JOIN package_versions v ON v.id = k.version_id JOIN hosts "
		"h ON h.id = k.host_id ORDER BY k.host_id, v.arch",
	};
	json_t *items, *cursor;
	int64_t n_late = 0;
	int pg, r = db_read_begin(st, &c);

	if (r < 0)
		return r;
	if ((r = pending_refs(c, name, &late, &n_late)) < 0)
		goto out;
	pg = db_dialect(c) == DB_POSTGRESQL;
	s = db_stmt(c, SQL_PACKAGES_FIND[pg]);
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
	db_bind_text(s, 5, late.data);
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
			     "package_hosts x WHERE x.name_id = n.id) + ?2");

		if (cs) {
			db_bind_text(cs, 1, name);
			db_bind_int(cs, 2, n_late);
		}
		r = store_page_make(c, cs, items, cursor, ret);
	}
out:
	buf_free(&late);
	db_read_end(st, c);
	return r;
}
