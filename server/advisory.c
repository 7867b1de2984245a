/*
 * advisory.c - loads the shipped advisories, the Debian Security Tracker's
 * JSON export and the EOL table, and matches installed source packages
 * against them.  See advisory.h for the rules.
 */
#include "advisory.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpkgver.h"
#include "jsonutil.h"
#include "timeutil.h"

#define ARENA_CHUNK (1024 * 1024)

/* Strings live in big chunks that are freed together; entries point into
 * them, so a database with a million entries costs a few hundred mallocs. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

struct advisory_db {
	struct advisory *items;
	size_t n, cap;
	struct advisory_eol *eol;
	size_t n_eol;
	struct arena_chunk *chunks;
};

static const char *arena_strndup(struct advisory_db *db, const char *s,
				 size_t n)
{
	struct arena_chunk *c = db->chunks;
	char *p;

	if (!c || c->size - c->used < n + 1) {
		size_t size = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		c->next = db->chunks;
		db->chunks = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

/* Copies at most ADVISORY_MAX_STRING bytes, cutting at a UTF-8 character
 * boundary so the result stays valid text. */
static const char *arena_str(struct advisory_db *db, const char *s)
{
	size_t n = strlen(s);

	if (n > ADVISORY_MAX_STRING) {
		n = ADVISORY_MAX_STRING;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return arena_strndup(db, s, n);
}

int advisory_db_new(struct advisory_db **ret)
{
	struct advisory_db *db = calloc(1, sizeof(*db));

	if (!db)
		return -ENOMEM;
	*ret = db;
	return 0;
}

void advisory_db_free(struct advisory_db *db)
{
	struct arena_chunk *c, *next;

	if (!db)
		return;
	for (c = db->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(db->items);
	free(db->eol);
	free(db);
}

const char *advisory_severity_name(enum advisory_severity s)
{
	switch (s) {
	case ADVISORY_SEVERITY_CRITICAL:
		return "critical";
	case ADVISORY_SEVERITY_HIGH:
		return "high";
	case ADVISORY_SEVERITY_MEDIUM:
		return "medium";
	case ADVISORY_SEVERITY_LOW:
		return "low";
	default:
		return "unknown";
	}
}

enum advisory_severity advisory_severity_parse(const char *s)
{
	if (!s)
		return ADVISORY_SEVERITY_UNKNOWN;
	if (strcmp(s, "critical") == 0)
		return ADVISORY_SEVERITY_CRITICAL;
	if (strcmp(s, "high") == 0)
		return ADVISORY_SEVERITY_HIGH;
	if (strcmp(s, "medium") == 0)
		return ADVISORY_SEVERITY_MEDIUM;
	if (strcmp(s, "low") == 0)
		return ADVISORY_SEVERITY_LOW;
	return ADVISORY_SEVERITY_UNKNOWN;
}

/* The tracker's urgencies: "high", "medium", "low", "unimportant",
 * "not yet assigned", "end-of-life", sometimes with "*" or "**" appended
 * when the urgency was derived rather than set. */
static enum advisory_severity urgency_parse(const char *s)
{
	size_t n;

	if (!s)
		return ADVISORY_SEVERITY_UNKNOWN;
	n = strcspn(s, "*");
	if (n == 4 && strncmp(s, "high", 4) == 0)
		return ADVISORY_SEVERITY_HIGH;
	if (n == 6 && strncmp(s, "medium", 6) == 0)
		return ADVISORY_SEVERITY_MEDIUM;
	if ((n == 3 && strncmp(s, "low", 3) == 0) ||
	    (n == 11 && strncmp(s, "unimportant", 11) == 0))
		return ADVISORY_SEVERITY_LOW;
	return ADVISORY_SEVERITY_UNKNOWN;
}

static enum advisory_scope scope_parse(const char *s)
{
	if (!s)
		return ADVISORY_SCOPE_UNKNOWN;
	if (strcmp(s, "remote") == 0)
		return ADVISORY_SCOPE_REMOTE;
	if (strcmp(s, "local") == 0)
		return ADVISORY_SCOPE_LOCAL;
	return ADVISORY_SCOPE_UNKNOWN;
}

/* A slot at the end of db->items, zeroed; NULL on ENOMEM or past the cap
 * (*err tells which). */
static struct advisory *push(struct advisory_db *db, int *err)
{
	if (db->n >= ADVISORY_MAX_ENTRIES) {
		*err = -E2BIG;
		return NULL;
	}
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 1024;
		struct advisory *p = realloc(db->items, cap * sizeof(*p));

		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		db->items = p;
		db->cap = cap;
	}
	memset(&db->items[db->n], 0, sizeof(db->items[0]));
	return &db->items[db->n++];
}

static int valid_name(const char *s)
{
	return s && *s && strlen(s) <= 128;
}

/* One entry of the shipped file.  0, 1 when skipped as malformed, or a
 * negative errno. */
static int load_shipped_entry(struct advisory_db *db, json_t *e)
{
	const char *cve = json_get_str(e, "cve");
	const char *source = json_get_str(e, "source");
	const char *summary = json_get_str(e, "summary");
	json_t *up = json_object_get(e, "fixed_upstream");
	json_t *fixed = json_object_get(e, "fixed");
	struct advisory *a;
	const char *key;
	json_t *v;
	int err = 0;

	if (!json_is_object(e) || !valid_name(cve) || !valid_name(source))
		return 1;
	a = push(db, &err);
	if (!a)
		return err;
	a->origin = ADVISORY_ORIGIN_SHIPPED;
	a->severity = advisory_severity_parse(json_get_str(e, "severity"));
	a->scope = scope_parse(json_get_str(e, "scope"));
	a->cve = arena_str(db, cve);
	a->source = arena_str(db, source);
	a->summary = arena_str(db, summary ? summary : "");
	if (!a->cve || !a->source || !a->summary)
		return -ENOMEM;

	if (json_is_string(up)) {
		if (dpkgver_valid(json_string_value(up)) != 0)
			goto skip;
		a->fixed_upstream[0] = arena_str(db, json_string_value(up));
		if (!a->fixed_upstream[0])
			return -ENOMEM;
		a->n_fixed_upstream = 1;
	} else if (json_is_array(up)) {
		size_t i;

		json_array_foreach(up, i, v) {
			const char *s = json_string_value(v);

			if (i >= ADVISORY_MAX_UPSTREAM || !s ||
			    dpkgver_valid(s) != 0)
				goto skip;
			a->fixed_upstream[i] = arena_str(db, s);
			if (!a->fixed_upstream[i])
				return -ENOMEM;
			a->n_fixed_upstream = i + 1;
		}
	} else if (up && !json_is_null(up)) {
		goto skip;
	}

	if (fixed && !json_is_object(fixed))
		goto skip;
	json_object_foreach(fixed, key, v) {
		struct advisory_fix *f;
		const char *s = json_string_value(v);

		if (a->n_fixes >= ADVISORY_MAX_FIXES || !s || !valid_name(key))
			goto skip;
		f = &a->fixes[a->n_fixes];
		f->release = arena_str(db, key);
		if (!f->release)
			return -ENOMEM;
		if (strcmp(s, "not-affected") == 0) {
			f->state = ADVISORY_FIX_NOT_AFFECTED;
		} else if (dpkgver_valid(s) == 0) {
			f->state = ADVISORY_FIX_VERSION;
			f->version = arena_str(db, s);
			if (!f->version)
				return -ENOMEM;
		} else {
			goto skip;
		}
		a->n_fixes++;
	}
	return 0;
skip:
	db->n--;
	return 1;
}

static int load_shipped(struct advisory_db *db, json_t *root,
			size_t *skipped)
{
	json_t *list = json_object_get(root, "advisories");
	json_t *e;
	size_t i;

	if (json_integer_value(json_object_get(root, "format")) != 1 ||
	    !json_is_array(list))
		return -EINVAL;
	json_array_foreach(list, i, e) {
		int r = load_shipped_entry(db, e);

		if (r < 0)
			return r;
		*skipped += (size_t)r;
	}
	return 0;
}

/* One (package, CVE) of the tracker export.  0, 1 when skipped, or a
 * negative errno. */
static int load_tracker_entry(struct advisory_db *db, const char *source,
			      const char *cve, json_t *e)
{
	json_t *releases = json_object_get(e, "releases");
	const char *desc = json_get_str(e, "description");
	struct advisory *a;
	const char *key;
	json_t *r;
	int err = 0;

	if (!json_is_object(e) || !valid_name(cve) || !json_is_object(releases))
		return 1;
	a = push(db, &err);
	if (!a)
		return err;
	a->origin = ADVISORY_ORIGIN_TRACKER;
	a->scope = scope_parse(json_get_str(e, "scope"));
	a->cve = arena_str(db, cve);
	a->source = source;	/* already in the arena, shared */
	a->summary = arena_str(db, desc ? desc : "");
	if (!a->cve || !a->summary)
		return -ENOMEM;

	json_object_foreach(releases, key, r) {
		const char *status = json_get_str(r, "status");
		const char *fixed = json_get_str(r, "fixed_version");
		struct advisory_fix *f;

		if (!status || !valid_name(key))
			continue;
		if (a->n_fixes >= ADVISORY_MAX_FIXES)
			break;
		f = &a->fixes[a->n_fixes];
		f->urgency = urgency_parse(json_get_str(r, "urgency"));
		if (strcmp(status, "resolved") == 0) {
			/* "0" is how the tracker says no version ever was
			 * vulnerable there. */
			if (!fixed)
				continue;
			if (strcmp(fixed, "0") == 0) {
				f->state = ADVISORY_FIX_NOT_AFFECTED;
			} else if (dpkgver_valid(fixed) == 0) {
				f->state = ADVISORY_FIX_VERSION;
				f->version = arena_str(db, fixed);
				if (!f->version)
					return -ENOMEM;
			} else {
				continue;
			}
		} else if (strcmp(status, "open") == 0) {
			f->state = ADVISORY_FIX_OPEN;
		} else if (strcmp(status, "undetermined") == 0) {
			f->state = ADVISORY_FIX_UNDETERMINED;
		} else {
			continue;
		}
		f->release = arena_str(db, key);
		if (!f->release)
			return -ENOMEM;
		if (f->urgency > a->severity)
			a->severity = f->urgency;
		a->n_fixes++;
	}
	return 0;
}

static int load_tracker(struct advisory_db *db, json_t *root, size_t *skipped)
{
	const char *pkg;
	json_t *cves;

	json_object_foreach(root, pkg, cves) {
		const char *source, *cve;
		json_t *e;

		if (!json_is_object(cves) || !valid_name(pkg)) {
			(*skipped)++;
			continue;
		}
		source = arena_str(db, pkg);
		if (!source)
			return -ENOMEM;
		json_object_foreach(cves, cve, e) {
			int r = load_tracker_entry(db, source, cve, e);

			if (r < 0)
				return r;
			*skipped += (size_t)r;
		}
	}
	return 0;
}

static int compare_entries(const void *x, const void *y)
{
	const struct advisory *a = x, *b = y;
	int r = strcmp(a->source, b->source);

	if (r)
		return r;
	r = strcmp(a->cve, b->cve);
	if (r)
		return r;
	return (int)a->origin - (int)b->origin;
}

int advisory_db_load(struct advisory_db *db, const char *json, size_t len,
		     size_t *ret_skipped)
{
	json_error_t jerr;
	json_t *root;
	size_t before = db->n, skipped = 0;
	int r;

	if (!db || !json)
		return -EINVAL;
	if (len > ADVISORY_MAX_INPUT)
		return -E2BIG;
	root = json_parse_buf(json, len, &jerr);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root))
		r = -EINVAL;
	else if (json_object_get(root, "format"))
		r = load_shipped(db, root, &skipped);
	else
		r = load_tracker(db, root, &skipped);
	json_decref(root);
	if (r < 0) {
		db->n = before;
		return r;
	}
	/* Not on an empty array: items is then NULL, which qsort may not
	 * take (a tracker file "{}" did that). */
	if (db->n > 1)
		qsort(db->items, db->n, sizeof(*db->items), compare_entries);
	if (ret_skipped)
		*ret_skipped = skipped;
	return 0;
}

int advisory_load(const char *json, size_t len, struct advisory_db **ret)
{
	struct advisory_db *db;
	int r;

	r = advisory_db_new(&db);
	if (r < 0)
		return r;
	r = advisory_db_load(db, json, len, NULL);
	if (r < 0) {
		advisory_db_free(db);
		return r;
	}
	*ret = db;
	return 0;
}

size_t advisory_db_count(const struct advisory_db *db)
{
	return db ? db->n : 0;
}

const struct advisory *advisory_db_get(const struct advisory_db *db, size_t i)
{
	return db && i < db->n ? &db->items[i] : NULL;
}

/* Compares two upstream versions as dpkg would compare the upstream parts
 * of two full versions; wrapping them keeps a colon or hyphen inside from
 * being read as an epoch or revision. */
static int compare_upstream(const char *a, const char *b)
{
	char x[DPKGVER_MAX_LEN + 8], y[DPKGVER_MAX_LEN + 8];

	snprintf(x, sizeof(x), "0:%s-0", a);
	snprintf(y, sizeof(y), "0:%s-0", b);
	return dpkgver_compare(x, y);
}

/* The branch of an upstream version: up to its second dot. */
static size_t branch_len(const char *v)
{
	const char *dot = strchr(v, '.');

	if (dot)
		dot = strchr(dot + 1, '.');
	return dot ? (size_t)(dot - v) : strlen(v);
}

static int upstream_fixed(const struct advisory *a, const char *upstream)
{
	const char *highest = NULL;
	size_t ul = branch_len(upstream);

	for (size_t i = 0; i < a->n_fixed_upstream; i++) {
		const char *f = a->fixed_upstream[i];

		if (branch_len(f) == ul && strncmp(f, upstream, ul) == 0 &&
		    compare_upstream(upstream, f) >= 0)
			return 1;
		if (!highest || compare_upstream(f, highest) > 0)
			highest = f;
	}
	return highest && compare_upstream(upstream, highest) >= 0;
}

int advisory_applies(const struct advisory *a, const char *codename,
		     const char *source_version)
{
	char upstream[DPKGVER_MAX_LEN + 1];

	if (!a || !source_version || dpkgver_valid(source_version) != 0)
		return -EINVAL;
	if (codename && *codename) {
		for (size_t i = 0; i < a->n_fixes; i++) {
			const struct advisory_fix *f = &a->fixes[i];

			if (strcmp(f->release, codename) != 0)
				continue;
			switch (f->state) {
			case ADVISORY_FIX_VERSION:
				return dpkgver_compare(source_version,
						       f->version) < 0;
			case ADVISORY_FIX_OPEN:
				return 1;
			default:
				return 0;
			}
		}
	}
	if (a->n_fixed_upstream == 0)
		return 0;
	if (dpkgver_upstream(source_version, upstream, sizeof(upstream)) < 0)
		return -EINVAL;
	return !upstream_fixed(a, upstream);
}

int advisory_match(const struct advisory_db *db, const char *codename,
		   const char *source, const char *source_version,
		   const struct advisory **ret, size_t max)
{
	size_t lo = 0, hi, i;
	int found = 0;

	if (!db || !source || !source_version ||
	    dpkgver_valid(source_version) != 0)
		return -EINVAL;
	/* The first entry of this source package. */
	hi = db->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(db->items[mid].source, source) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < db->n && strcmp(db->items[i].source, source) == 0;
	     i++) {
		const struct advisory *a = &db->items[i];

		/* Sorted by origin within a CVE: the shipped entry wins. */
		if (i > lo && strcmp(db->items[i - 1].cve, a->cve) == 0)
			continue;
		if (advisory_applies(a, codename, source_version) != 1)
			continue;
		if ((size_t)found < max)
			ret[found] = a;
		if (found < INT32_MAX)
			found++;
	}
	return found;
}

static int parse_date_member(json_t *o, const char *key, int64_t *ret)
{
	const char *s = json_get_str(o, key);

	*ret = 0;
	if (!s)
		return 0;
	return date_parse(s, ret);
}

int advisory_db_load_eol(struct advisory_db *db, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root, *list, *e;
	struct advisory_eol *eol = NULL;
	size_t i, n = 0;
	int r = 0;

	if (!db || !json)
		return -EINVAL;
	if (len > ADVISORY_MAX_INPUT)
		return -E2BIG;
	root = json_parse_buf(json, len, &jerr);
	if (!root)
		return -EINVAL;
	list = json_object_get(root, "releases");
	if (json_integer_value(json_object_get(root, "format")) != 1 ||
	    !json_is_array(list)) {
		r = -EINVAL;
		goto out;
	}
	if (json_array_size(list) > ADVISORY_MAX_EOL) {
		r = -E2BIG;
		goto out;
	}
	eol = calloc(json_array_size(list) + 1, sizeof(*eol));
	if (!eol) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(list, i, e) {
		struct advisory_eol *x = &eol[n];
		const char *os = json_get_str(e, "os");
		const char *ver = json_get_str(e, "version_id");
		const char *code = json_get_str(e, "codename");

		if (!valid_name(os) || !valid_name(ver) ||
		    parse_date_member(e, "eol", &x->eol) < 0 || x->eol == 0) {
			r = -EINVAL;
			goto out;
		}
		/* Debian says security_end/lts_end, Ubuntu
		 * standard_end/esm_end; both mean the same two things. */
		if (parse_date_member(e, "security_end", &x->security_end) < 0 ||
		    (!x->security_end &&
		     parse_date_member(e, "standard_end", &x->security_end) <
			     0) ||
		    parse_date_member(e, "lts_end", &x->extended_end) < 0 ||
		    (!x->extended_end &&
		     parse_date_member(e, "esm_end", &x->extended_end) < 0)) {
			r = -EINVAL;
			goto out;
		}
		x->os = arena_str(db, os);
		x->version_id = arena_str(db, ver);
		x->codename = arena_str(db, valid_name(code) ? code : "");
		if (!x->os || !x->version_id || !x->codename) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	free(db->eol);
	db->eol = eol;
	db->n_eol = n;
	eol = NULL;
out:
	free(eol);
	json_decref(root);
	return r;
}

int advisory_eol(const struct advisory_db *db, const char *os_id,
		 const char *version_or_codename, int64_t *ret_date,
		 const struct advisory_eol **ret_info)
{
	const char *v = version_or_codename;
	size_t major;

	if (!db || !os_id || !v || !*v)
		return -ENOENT;
	major = strcspn(v, ".");
	for (size_t i = 0; i < db->n_eol; i++) {
		const struct advisory_eol *e = &db->eol[i];

		if (strcmp(e->os, os_id) != 0)
			continue;
		/* Debian's VERSION_ID is the major number; "10.13" (from
		 * debian_version) still means buster. */
		if (strcmp(e->version_id, v) == 0 ||
		    (*e->codename && strcmp(e->codename, v) == 0) ||
		    (!strchr(e->version_id, '.') &&
		     strlen(e->version_id) == major &&
		     strncmp(e->version_id, v, major) == 0)) {
			if (ret_date)
				*ret_date = e->eol;
			if (ret_info)
				*ret_info = e;
			return 0;
		}
	}
	return -ENOENT;
}
