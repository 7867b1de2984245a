/*
 * advisory.c - loads the shipped advisories, the Debian Security Tracker's
 * JSON export and the EOL table, and matches installed source packages
 * against them.  See advisory.h for the rules.
 */
#define _GNU_SOURCE
#include "advisory.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpkgver.h"
#include "rpmver.h"
#include "hash.h"
#include "jsonutil.h"
#include "timeutil.h"

#define ARENA_CHUNK (1024 * 1024)

/* The Red Hat family: no codenames, RPM versions (see advisory.h). */
static const char *const rpm_os_ids[] = {
	"rhel", "centos", "rocky", "almalinux", "fedora",
};

bool advisory_os_is_rpm(const char *os_id)
{
	for (size_t i = 0; os_id && i < sizeof(rpm_os_ids) / sizeof(*rpm_os_ids);
	     i++)
		if (strcmp(os_id, rpm_os_ids[i]) == 0)
			return true;
	return false;
}

const char *advisory_release_key(const char *os_id, const char *version_id,
				 const char *codename, char *out, size_t size)
{
	size_t n;

	if (!advisory_os_is_rpm(os_id))
		return codename && *codename ? codename : NULL;
	if (!version_id)
		return NULL;
	n = strspn(version_id, "0123456789");
	if (n == 0 || n > 8 || strlen(os_id) + n + 2 > size)
		return NULL;
	snprintf(out, size, "%s:%.*s", os_id, (int)n, version_id);
	return out;
}

/* Debian and Ubuntu codenames never hold a colon; "rocky:8" does. */
static bool release_is_rpm(const char *release)
{
	return release && strchr(release, ':');
}

static int version_valid(const char *release, const char *v)
{
	return release_is_rpm(release) ? rpmver_valid(v) : dpkgver_valid(v);
}

/* Strings live in big chunks that are freed together; entries point into
 * them, so a database with a million entries costs a few hundred mallocs. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

/* Release codenames repeat in every entry: each is kept once. */
#define MAX_RELEASES 128

struct advisory_db {
	struct advisory *items;
	size_t n, cap;
	struct advisory_eol *eol;
	size_t n_eol;
	struct arena_chunk *chunks;
	struct advisory_source sources[ADVISORY_MAX_SOURCES];
	unsigned char source_sums[ADVISORY_MAX_SOURCES][32];
	size_t n_sources;
	const char *releases[MAX_RELEASES];
	size_t n_releases;
};

/* n bytes aligned for any member of struct advisory_fix, or NULL. */
static void *arena_alloc(struct advisory_db *db, size_t n)
{
	struct arena_chunk *c = db->chunks;
	size_t at;

	at = c ? (c->used + 7) & ~(size_t)7 : 0;
	if (!c || at > c->size || c->size - at < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		c->next = db->chunks;
		db->chunks = c;
		at = 0;
	}
	c->used = at + n;
	return c->data + at;
}

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

/* Copies at most max bytes, cutting at a UTF-8 character boundary so the
 * result stays valid text. */
static const char *arena_strmax(struct advisory_db *db, const char *s,
				size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return arena_strndup(db, s, n);
}

static const char *arena_str(struct advisory_db *db, const char *s)
{
	return arena_strmax(db, s, ADVISORY_MAX_STRING);
}

/* The one copy of a release codename (a handful exist), or NULL. */
static const char *release_intern(struct advisory_db *db, const char *s)
{
	for (size_t i = 0; i < db->n_releases; i++)
		if (strcmp(db->releases[i], s) == 0)
			return db->releases[i];
	if (db->n_releases == MAX_RELEASES)
		return arena_str(db, s);
	db->releases[db->n_releases] = arena_str(db, s);
	return db->releases[db->n_releases++];
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

/* What one load is filling in: the entry's fixes are gathered here and
 * copied into the arena once their number is known. */
struct loader {
	struct advisory_db *db;
	unsigned src;
	enum advisory_origin origin;
	size_t skipped;
	struct advisory_fix fixes[ADVISORY_MAX_FIXES];
	const char *upstream[ADVISORY_MAX_UPSTREAM];
};

/* Copies the gathered fixes and upstream versions into entry a. */
static int entry_finish(struct loader *l, struct advisory *a, size_t n_fixes,
			size_t n_up)
{
	if (n_fixes) {
		struct advisory_fix *f =
			arena_alloc(l->db, n_fixes * sizeof(*f));

		if (!f)
			return -ENOMEM;
		memcpy(f, l->fixes, n_fixes * sizeof(*f));
		a->fixes = f;
		a->n_fixes = n_fixes;
	}
	if (n_up) {
		const char **u = arena_alloc(l->db, n_up * sizeof(*u));

		if (!u)
			return -ENOMEM;
		memcpy(u, l->upstream, n_up * sizeof(*u));
		a->fixed_upstream = u;
		a->n_fixed_upstream = n_up;
	}
	return 0;
}

/* A DSA/DLA id as the shipped file may name one: short, no spaces. */
static const char *opt_word(struct advisory_db *db, json_t *o, const char *k,
			    int *err)
{
	const char *s = json_get_str(o, k);
	const char *r;

	if (!s || !*s || strlen(s) > 64)
		return "";
	r = arena_str(db, s);
	if (!r)
		*err = -ENOMEM;
	return r ? r : "";
}

static const char *nodsa_kind(const char *reason)
{
	if (reason && strcmp(reason, "postponed") == 0)
		return "postponed";
	if (reason && strcmp(reason, "ignored") == 0)
		return "ignored";
	return "no-dsa";
}

/* The tracker's urgencies: "high", "medium", "low", "unimportant",
 * "not yet assigned", "end-of-life", sometimes with "*" or "**" appended
 * when the urgency was derived rather than set. */
static void fix_urgency(struct advisory_db *db, struct advisory_fix *f,
			const char *s, int *err)
{
	size_t n;

	f->urgency_name = "";
	if (!s || !*s)
		return;
	n = strcspn(s, "*");
	if (n == 4 && strncmp(s, "high", 4) == 0)
		f->urgency = ADVISORY_SEVERITY_HIGH;
	else if (n == 6 && strncmp(s, "medium", 6) == 0)
		f->urgency = ADVISORY_SEVERITY_MEDIUM;
	else if (n == 3 && strncmp(s, "low", 3) == 0)
		f->urgency = ADVISORY_SEVERITY_LOW;
	else if (n == 11 && strncmp(s, "unimportant", 11) == 0) {
		f->urgency = ADVISORY_SEVERITY_LOW;
		f->unimportant = true;
	}
	if (strlen(s) <= 32) {
		/* Few distinct words: interned like release names. */
		f->urgency_name = release_intern(db, s);
		if (!f->urgency_name) {
			*err = -ENOMEM;
			f->urgency_name = "";
		}
	}
}

/* One release of a shipped entry, string or object form.  0, 1 when
 * malformed, or a negative errno. */
static int shipped_fix(struct loader *l, struct advisory_fix *f,
		       const char *release, json_t *v)
{
	const char *s = json_string_value(v);
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->urgency_name = "";
	f->advisory = "";
	f->nodsa_text = "";
	if (json_is_object(v)) {
		const char *nodsa = json_get_str(v, "nodsa");

		s = json_get_str(v, "version");
		fix_urgency(l->db, f, json_get_str(v, "urgency"), &err);
		f->advisory = opt_word(l->db, v, "advisory", &err);
		if (nodsa)
			f->nodsa = nodsa_kind(nodsa);
		f->nodsa_text = opt_word(l->db, v, "nodsa_text", &err);
		if (err)
			return err;
	}
	if (!s || !valid_name(release))
		return 1;
	if (strcmp(s, "not-affected") == 0) {
		f->state = ADVISORY_FIX_NOT_AFFECTED;
	} else if (strcmp(s, "open") == 0) {
		f->state = ADVISORY_FIX_OPEN;
	} else if (version_valid(release, s) == 0) {
		f->state = ADVISORY_FIX_VERSION;
		f->version = arena_str(l->db, s);
		if (!f->version)
			return -ENOMEM;
	} else {
		return 1;
	}
	f->release = release_intern(l->db, release);
	return f->release ? 0 : -ENOMEM;
}

/* One entry of the shipped file.  0, 1 when skipped as malformed, or a
 * negative errno. */
static int load_shipped_entry(struct loader *l, json_t *e)
{
	struct advisory_db *db = l->db;
	const char *cve = json_get_str(e, "cve");
	const char *source = json_get_str(e, "source");
	const char *summary = json_get_str(e, "summary");
	json_t *up = json_object_get(e, "fixed_upstream");
	json_t *fixed = json_object_get(e, "fixed");
	size_t n_up = 0, n_fixes = 0;
	struct advisory *a;
	const char *key;
	json_t *v;
	int err = 0, r;

	if (!json_is_object(e) || !valid_name(cve) || !valid_name(source))
		return 1;
	a = push(db, &err);
	if (!a)
		return err;
	a->origin = l->origin;
	a->src = l->src;
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
		l->upstream[0] = arena_str(db, json_string_value(up));
		if (!l->upstream[0])
			return -ENOMEM;
		n_up = 1;
	} else if (json_is_array(up)) {
		size_t i;

		json_array_foreach(up, i, v) {
			const char *s = json_string_value(v);

			if (i >= ADVISORY_MAX_UPSTREAM || !s ||
			    dpkgver_valid(s) != 0)
				goto skip;
			l->upstream[i] = arena_str(db, s);
			if (!l->upstream[i])
				return -ENOMEM;
			n_up = i + 1;
		}
	} else if (up && !json_is_null(up)) {
		goto skip;
	}

	if (fixed && !json_is_object(fixed))
		goto skip;
	json_object_foreach(fixed, key, v) {
		if (n_fixes >= ADVISORY_MAX_FIXES)
			goto skip;
		r = shipped_fix(l, &l->fixes[n_fixes], key, v);
		if (r < 0)
			return r;
		if (r > 0)
			goto skip;
		n_fixes++;
	}
	return entry_finish(l, a, n_fixes, n_up);
skip:
	db->n--;
	return 1;
}

static int load_shipped(struct loader *l, json_t *root)
{
	json_t *list = json_object_get(root, "advisories");
	json_t *e;
	size_t i;

	if (json_integer_value(json_object_get(root, "format")) != 1 ||
	    !json_is_array(list))
		return -EINVAL;
	json_array_foreach(list, i, e) {
		int r = load_shipped_entry(l, e);

		if (r < 0)
			return r;
		l->skipped += (size_t)r;
	}
	return 0;
}

/* One release of a tracker entry into f.  0 when stored, 1 when it holds
 * no data ("undetermined", a resolved entry without a version), or a
 * negative errno. */
static int tracker_fix(struct loader *l, struct advisory_fix *f,
		       const char *release, json_t *r)
{
	const char *status = json_get_str(r, "status");
	const char *fixed = json_get_str(r, "fixed_version");
	json_t *nodsa = json_object_get(r, "nodsa");
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->advisory = "";
	f->nodsa_text = "";
	if (!status || !valid_name(release))
		return 1;
	if (strcmp(status, "resolved") == 0) {
		/* "0" is how the tracker says no version ever was
		 * vulnerable there. */
		if (!fixed)
			return 1;
		if (strcmp(fixed, "0") == 0) {
			f->state = ADVISORY_FIX_NOT_AFFECTED;
		} else if (dpkgver_valid(fixed) == 0) {
			f->state = ADVISORY_FIX_VERSION;
			f->version = arena_str(l->db, fixed);
			if (!f->version)
				return -ENOMEM;
		} else {
			return 1;
		}
	} else if (strcmp(status, "open") == 0) {
		f->state = ADVISORY_FIX_OPEN;
	} else {
		/* "undetermined": the tracker does not know yet, which is
		 * no data, not a verdict. */
		return 1;
	}
	fix_urgency(l->db, f, json_get_str(r, "urgency"), &err);
	if (json_is_string(nodsa)) {
		f->nodsa = nodsa_kind(json_get_str(r, "nodsa_reason"));
		f->nodsa_text = arena_strmax(l->db, json_string_value(nodsa),
					     ADVISORY_MAX_SUMMARY_TRACKER);
		if (!f->nodsa_text)
			return -ENOMEM;
	}
	if (err)
		return err;
	f->release = release_intern(l->db, release);
	return f->release ? 0 : -ENOMEM;
}

/* One (package, CVE) of the tracker export.  0, 1 when skipped, or a
 * negative errno. */
static int load_tracker_entry(struct loader *l, const char *source,
			      const char *cve, json_t *e)
{
	struct advisory_db *db = l->db;
	json_t *releases = json_object_get(e, "releases");
	const char *desc = json_get_str(e, "description");
	size_t n_fixes = 0;
	struct advisory *a;
	const char *key;
	json_t *r;
	int err = 0;

	if (!json_is_object(e) || !valid_name(cve) || !json_is_object(releases))
		return 1;
	a = push(db, &err);
	if (!a)
		return err;
	a->origin = l->origin;
	a->src = l->src;
	a->scope = scope_parse(json_get_str(e, "scope"));
	a->cve = arena_str(db, cve);
	a->source = source;	/* already in the arena, shared */
	/* Descriptions are most of the export's bytes and only ever shown as
	 * a hint: a shorter cut keeps a full export small. */
	a->summary = arena_strmax(db, desc ? desc : "",
				  ADVISORY_MAX_SUMMARY_TRACKER);
	if (!a->cve || !a->summary)
		return -ENOMEM;

	json_object_foreach(releases, key, r) {
		struct advisory_fix *f = &l->fixes[n_fixes];
		int rc;

		if (n_fixes >= ADVISORY_MAX_FIXES)
			break;
		rc = tracker_fix(l, f, key, r);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		if (f->urgency > a->severity)
			a->severity = f->urgency;
		n_fixes++;
	}
	return entry_finish(l, a, n_fixes, 0);
}

/* One package's value of the tracker export. */
static int load_tracker_package(struct loader *l, const char *pkg,
				json_t *cves)
{
	const char *source, *cve;
	json_t *e;

	if (!json_is_object(cves) || !valid_name(pkg)) {
		l->skipped++;
		return 0;
	}
	source = arena_str(l->db, pkg);
	if (!source)
		return -ENOMEM;
	json_object_foreach(cves, cve, e) {
		int r = load_tracker_entry(l, source, cve, e);

		if (r < 0)
			return r;
		l->skipped += (size_t)r;
	}
	return 0;
}

/* ---- reading the top-level object one member at a time ----------------- */

static size_t skip_ws(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			   s[i] == '\r'))
		i++;
	return i;
}

/* The end of the JSON string starting at s[i] == '"' (one past its closing
 * quote), or 0 when it does not end. */
static size_t string_end(const char *s, size_t i, size_t len)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* The end of the JSON value starting at s[i]: strings and brackets are
 * followed, everything else runs to the next delimiter.  0 when it does
 * not end; the value's own parse checks the rest. */
static size_t value_end(const char *s, size_t i, size_t len)
{
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (s[i] != '{' && s[i] != '[' && s[i] != '"') {
		while (i < len && !strchr(",}] \t\r\n", s[i]))
			i++;
		return i;
	}
	while (i < len) {
		char c = s[i];

		if (c == '"') {
			i = string_end(s, i, len);
			if (!i)
				return 0;
			if (!depth)
				return i;
			continue;
		}
		if (c == '{' || c == '[') {
			if (++depth > 64)
				return 0;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return 0;
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return 0;
}

typedef int member_fn(struct loader *l, const char *key, json_t *value);

/*
 * Calls fn with each member of the top-level object of s, parsing one
 * member's value at a time: a tracker export of 60 MB never becomes a tree
 * of 60 MB.  A key that is "format" stops early with 1 (the caller then
 * parses the document whole: it is the shipped file).  0, 1, -EINVAL when
 * the document is not one well-formed object, or fn's error.
 */
static int each_member(struct loader *l, const char *s, size_t len,
		       member_fn *fn)
{
	size_t i = skip_ws(s, 0, len);
	bool first = true;

	if (i >= len || s[i] != '{')
		return -EINVAL;
	i++;
	for (;;) {
		json_error_t jerr;
		json_t *k, *v;
		size_t ke, ve;
		int r;

		i = skip_ws(s, i, len);
		if (i < len && s[i] == '}' && first)
			break;
		if (i >= len || s[i] != '"')
			return -EINVAL;
		ke = string_end(s, i, len);
		if (!ke)
			return -EINVAL;
		k = json_loadb(s + i, ke - i, JSON_DECODE_ANY, &jerr);
		if (!json_is_string(k)) {
			json_decref(k);
			return -EINVAL;
		}
		if (strcmp(json_string_value(k), "format") == 0) {
			json_decref(k);
			return 1;
		}
		i = skip_ws(s, ke, len);
		if (i >= len || s[i] != ':') {
			json_decref(k);
			return -EINVAL;
		}
		i = skip_ws(s, i + 1, len);
		ve = value_end(s, i, len);
		v = ve ? json_loadb(s + i, ve - i,
				    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
				    &jerr)
		       : NULL;
		if (!v) {
			json_decref(k);
			return -EINVAL;
		}
		r = fn(l, json_string_value(k), v);
		json_decref(k);
		json_decref(v);
		if (r < 0)
			return r;
		first = false;
		i = skip_ws(s, ve, len);
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == '}')
			break;
		return -EINVAL;
	}
	i = skip_ws(s, i + 1, len);
	return i == len ? 0 : -EINVAL;
}

/* A source's date: its own, else when it was fetched or imported. */
static int64_t fresh(const struct advisory_source *s)
{
	return s->data_date ? s->data_date : s->fetched_at;
}

/* Sorted by source, then CVE, then freshest first: the order the
 * precedence reads them in. */
static int compare_entries(const void *x, const void *y, void *ud)
{
	const struct advisory_db *db = ud;
	const struct advisory *a = x, *b = y;
	const struct advisory_source *sa = &db->sources[a->src];
	const struct advisory_source *sb = &db->sources[b->src];
	int r = strcmp(a->source, b->source);
	bool ship_a = sa->origin == ADVISORY_ORIGIN_SHIPPED;
	bool ship_b = sb->origin == ADVISORY_ORIGIN_SHIPPED;

	if (r)
		return r;
	r = strcmp(a->cve, b->cve);
	if (r)
		return r;
	if (ship_a != ship_b)
		return ship_a ? 1 : -1;
	if (fresh(sa) != fresh(sb))
		return fresh(sa) > fresh(sb) ? -1 : 1;
	if (sa->seq != sb->seq)
		return sa->seq > sb->seq ? -1 : 1;
	return 0;
}

static int load_shipped_whole(struct loader *l, const char *json, size_t len,
			      struct advisory_source *src)
{
	json_error_t jerr;
	json_t *root = json_parse_buf(json, len, &jerr);
	const char *date;
	int r;

	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	date = json_get_str(root, "data_date");
	/* The shipped file says when tools/advisories-build.py made it. */
	if (!date)
		date = json_get_str(json_object_get(root, "generated"), "date");
	if (!src->data_date && date && date_parse(date, &src->data_date) < 0)
		src->data_date = 0;
	/* Ubuntu's OSV records, converted (advisory_osv.h), say so. */
	if (json_get_str(root, "origin") &&
	    strcmp(json_get_str(root, "origin"), "osv") == 0)
		l->origin = ADVISORY_ORIGIN_OSV;
	r = load_shipped(l, root);
	json_decref(root);
	return r;
}

int advisory_db_load_source(struct advisory_db *db, const char *json,
			    size_t len, const struct advisory_source *info,
			    size_t *ret_skipped)
{
	struct loader *l;
	struct advisory_source *src;
	size_t before;
	int r;

	if (!db || !json)
		return -EINVAL;
	if (len > ADVISORY_MAX_INPUT ||
	    db->n_sources >= ADVISORY_MAX_SOURCES)
		return -E2BIG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	before = db->n;
	src = &db->sources[db->n_sources];
	memset(src, 0, sizeof(*src));
	if (info)
		*src = *info;
	src->seq = (unsigned)db->n_sources;
	l->db = db;
	l->src = (unsigned)db->n_sources;
	l->origin = info ? info->origin : ADVISORY_ORIGIN_TRACKER;
	r = each_member(l, json, len, load_tracker_package);
	if (r == 1) {
		/* The shipped format: whatever was read before "format"
		 * goes, and the (small) document is parsed whole. */
		db->n = before;
		l->skipped = 0;
		if (!info)
			l->origin = ADVISORY_ORIGIN_SHIPPED;
		src->origin = l->origin;
		r = load_shipped_whole(l, json, len, src);
	}
	if (r < 0) {
		db->n = before;
		free(l);
		return r;
	}
	src->origin = l->origin;
	if (!src->name[0])
		snprintf(src->name, sizeof(src->name), "%s",
			 l->origin == ADVISORY_ORIGIN_SHIPPED ? "shipped" :
								"tracker");
	src->entries = db->n - before;
	sha256_raw(json, len, db->source_sums[db->n_sources]);
	db->n_sources++;
	/* Not on an empty array: items is then NULL, which qsort may not
	 * take (a tracker file "{}" did that). */
	if (db->n > 1)
		qsort_r(db->items, db->n, sizeof(*db->items), compare_entries,
			db);
	if (ret_skipped)
		*ret_skipped = l->skipped;
	free(l);
	return 0;
}

int advisory_db_load(struct advisory_db *db, const char *json, size_t len,
		     size_t *ret_skipped)
{
	return advisory_db_load_source(db, json, len, NULL, ret_skipped);
}

size_t advisory_db_source_count(const struct advisory_db *db)
{
	return db ? db->n_sources : 0;
}

const struct advisory_source *advisory_db_source(const struct advisory_db *db,
						 size_t i)
{
	return db && i < db->n_sources ? &db->sources[i] : NULL;
}

int advisory_db_digest(const struct advisory_db *db, char ret[65])
{
	/* Per source: its bytes' digest, its date and its origin (the same
	 * bytes with another date or origin rank differently). */
	struct rec {
		unsigned char sum[32];
		int64_t data_date;
		int64_t origin;
	} *buf;
	unsigned char sum[32];
	size_t n = db ? db->n_sources : 0;

	buf = calloc(n + 1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf[i].sum, db->source_sums[i], 32);
		/* What ranks it: a shipped file's mtime does not. */
		buf[i].data_date = db->sources[i].origin ==
						   ADVISORY_ORIGIN_SHIPPED ?
					   db->sources[i].data_date :
					   fresh(&db->sources[i]);
		buf[i].origin = db->sources[i].origin;
	}
	sha256_raw(buf, n * sizeof(*buf), sum);
	hex_encode(sum, 32, ret);
	free(buf);
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
static int compare_upstream(const char *a, const char *b, bool rpm)
{
	char x[DPKGVER_MAX_LEN + 8], y[DPKGVER_MAX_LEN + 8];

	if (rpm)
		return rpmver_segcmp(a, b);
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

static int upstream_fixed(const struct advisory *a, const char *upstream,
			  bool rpm)
{
	const char *highest = NULL;
	size_t ul = branch_len(upstream);

	for (size_t i = 0; i < a->n_fixed_upstream; i++) {
		const char *f = a->fixed_upstream[i];

		if (branch_len(f) == ul && strncmp(f, upstream, ul) == 0 &&
		    compare_upstream(upstream, f, rpm) >= 0)
			return 1;
		if (!highest || compare_upstream(f, highest, rpm) > 0)
			highest = f;
	}
	return highest && compare_upstream(upstream, highest, rpm) >= 0;
}

/* The entry's data for a release, or NULL. */
static const struct advisory_fix *fix_for(const struct advisory *a,
					  const char *codename)
{
	if (!codename || !*codename)
		return NULL;
	for (size_t i = 0; i < a->n_fixes; i++)
		if (strcmp(a->fixes[i].release, codename) == 0)
			return &a->fixes[i];
	return NULL;
}

static int fix_applies(const struct advisory_fix *f, const char *version,
		       bool rpm)
{
	switch (f->state) {
	case ADVISORY_FIX_VERSION:
		return (rpm ? rpmver_compare(version, f->version)
			    : dpkgver_compare(version, f->version)) < 0;
	case ADVISORY_FIX_OPEN:
		return 1;
	default:
		return 0;
	}
}

static int upstream_applies(const struct advisory *a, const char *version,
			    bool rpm)
{
	char upstream[DPKGVER_MAX_LEN + 1];

	if (a->n_fixed_upstream == 0)
		return 0;
	if ((rpm ? rpmver_upstream(version, upstream, sizeof(upstream))
		 : dpkgver_upstream(version, upstream, sizeof(upstream))) < 0)
		return -EINVAL;
	return !upstream_fixed(a, upstream, rpm);
}

int advisory_applies(const struct advisory *a, const char *codename,
		     const char *source_version)
{
	const struct advisory_fix *f;

	if (!a || !source_version ||
	    version_valid(codename, source_version) != 0)
		return -EINVAL;
	f = fix_for(a, codename);
	if (f)
		return fix_applies(f, source_version, release_is_rpm(codename));
	return upstream_applies(a, source_version, release_is_rpm(codename));
}

/* The verdict on one (source, CVE): entries [lo, hi), freshest first.
 * 1 and *v when it applies, 0 when not. */
static int decide(const struct advisory_db *db, size_t lo, size_t hi,
		  const char *codename, const char *version, bool covered,
		  struct advisory_verdict *v)
{
	const struct advisory *dec = NULL, *up = NULL;
	const struct advisory_fix *fix = NULL;
	bool rpm = release_is_rpm(codename);
	enum advisory_severity shipped_sev = ADVISORY_SEVERITY_UNKNOWN;
	enum advisory_scope scope = ADVISORY_SCOPE_UNKNOWN;

	for (size_t i = lo; i < hi; i++) {
		const struct advisory *a = &db->items[i];

		if (!dec && (fix = fix_for(a, codename)))
			dec = a;
		if (!up && a->n_fixed_upstream)
			up = a;
		if (a->origin == ADVISORY_ORIGIN_SHIPPED &&
		    a->severity > shipped_sev)
			shipped_sev = a->severity;
		if (scope == ADVISORY_SCOPE_UNKNOWN)
			scope = a->scope;
	}
	memset(v, 0, sizeof(*v));
	if (dec) {
		if (fix_applies(fix, version, rpm) != 1)
			return 0;
		v->a = dec;
		v->fix = fix;
	} else {
		if (covered || !up || upstream_applies(up, version, rpm) != 1)
			return 0;
		v->a = up;
		v->unconfirmed = true;
	}
	/* The shipped file's severity is judged per CVE by hand; the
	 * tracker's urgency is per release and often "not yet assigned". */
	v->severity = shipped_sev;
	if (!v->severity && v->fix)
		v->severity = v->fix->urgency;
	if (!v->severity)
		v->severity = v->a->severity;
	v->scope = scope;
	return 1;
}

/* The index of the first entry of source package source (db->n if none). */
static size_t first_of(const struct advisory_db *db, const char *source)
{
	size_t lo = 0, hi = db->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(db->items[mid].source, source) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int advisory_match_verdicts(const struct advisory_db *db, const char *codename,
			    const char *source, const char *source_version,
			    struct advisory_verdict *ret, size_t max)
{
	size_t lo, i;
	bool covered = false;
	int found = 0;

	if (!db || !source || !source_version ||
	    version_valid(codename, source_version) != 0)
		return -EINVAL;
	lo = first_of(db, source);
	/* Ubuntu's OSV data lists every CVE of a package in a release it
	 * covers: one it does not list does not affect that release, and no
	 * upstream version decides it there. */
	for (i = lo; i < db->n && strcmp(db->items[i].source, source) == 0 &&
		     !covered;
	     i++)
		covered = db->items[i].origin == ADVISORY_ORIGIN_OSV &&
			  fix_for(&db->items[i], codename);
	for (i = lo; i < db->n && strcmp(db->items[i].source, source) == 0;) {
		struct advisory_verdict v;
		size_t end = i + 1;

		while (end < db->n &&
		       strcmp(db->items[end].source, source) == 0 &&
		       strcmp(db->items[end].cve, db->items[i].cve) == 0)
			end++;
		if (decide(db, i, end, codename, source_version, covered,
			   &v)) {
			if ((size_t)found < max)
				ret[found] = v;
			if (found < INT32_MAX)
				found++;
		}
		i = end;
	}
	return found;
}

int advisory_match(const struct advisory_db *db, const char *codename,
		   const char *source, const char *source_version,
		   const struct advisory **ret, size_t max)
{
	struct advisory_verdict *v;
	int n;

	v = calloc(max ? max : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = advisory_match_verdicts(db, codename, source, source_version, v,
				    max);
	for (int i = 0; i < n && (size_t)i < max; i++)
		ret[i] = v[i].a;
	free(v);
	return n;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_fix(const struct advisory_fix *x, const struct advisory_fix *y)
{
	return same_str(x->release, y->release) && x->state == y->state &&
	       same_str(x->version, y->version) && x->urgency == y->urgency &&
	       same_str(x->urgency_name, y->urgency_name) &&
	       x->unimportant == y->unimportant &&
	       same_str(x->advisory, y->advisory) &&
	       same_str(x->nodsa, y->nodsa) &&
	       same_str(x->nodsa_text, y->nodsa_text);
}

/* Whether two entries are the same in all a verdict is made of; with
 * sources, also the entry's summary and its source's name and date, which
 * an MTA's verdicts carry to the rules. */
static bool same_entry(const struct advisory_db *da, const struct advisory *a,
		       const struct advisory_db *db, const struct advisory *b,
		       bool sources)
{
	if (strcmp(a->cve, b->cve) != 0 || a->severity != b->severity ||
	    a->scope != b->scope || a->origin != b->origin ||
	    a->n_fixed_upstream != b->n_fixed_upstream ||
	    a->n_fixes != b->n_fixes)
		return false;
	for (size_t i = 0; i < a->n_fixed_upstream; i++)
		if (strcmp(a->fixed_upstream[i], b->fixed_upstream[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_fixes; i++)
		if (!same_fix(&a->fixes[i], &b->fixes[i]))
			return false;
	if (sources) {
		const struct advisory_source *x = &da->sources[a->src];
		const struct advisory_source *y = &db->sources[b->src];

		if (strcmp(a->summary, b->summary) != 0 ||
		    strcmp(x->name, y->name) != 0 ||
		    (x->data_date ? x->data_date : x->fetched_at) !=
			(y->data_date ? y->data_date : y->fetched_at))
			return false;
	}
	return true;
}

bool advisory_source_differs(const struct advisory_db *a,
			     const struct advisory_db *b, const char *source,
			     bool sources)
{
	size_t i, j;

	if (!a || !b)
		return a != b;
	i = first_of(a, source);
	j = first_of(b, source);
	/* The entries of one source package are in the order matching
	 * reads them: by CVE, the freshest first. */
	for (;; i++, j++) {
		bool in_a = i < a->n && strcmp(a->items[i].source, source) == 0;
		bool in_b = j < b->n && strcmp(b->items[j].source, source) == 0;

		if (!in_a || !in_b)
			return in_a != in_b;
		if (!same_entry(a, &a->items[i], b, &b->items[j], sources))
			return true;
	}
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
