/* report.c - see report.h. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "timeutil.h"

const char *const section_names[SECTION_COUNT] = {
	[SECTION_PORTS] = "ports",
	[SECTION_SERVICES] = "services",
	[SECTION_PROCESSES] = "processes",
	[SECTION_PACKAGES] = "packages",
	[SECTION_LOGINS] = "logins",
	[SECTION_MAIL] = "mail",
};

int section_from_name(const char *name)
{
	for (int i = 0; i < SECTION_COUNT; i++)
		if (name && strcmp(name, section_names[i]) == 0)
			return i;
	return -1;
}

struct sort_entry {
	char *text;	/* in the entries' one buffer (free_entries()) */
	json_t *item;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sort_entry *)a)->text,
		      ((const struct sort_entry *)b)->text);
}

/* texts is the one buffer the entries' texts point into (NULL: none was
 * made yet). */
static void free_entries(struct sort_entry *e, size_t n, char *texts)
{
	for (size_t i = 0; i < n; i++)
		json_decref(e[i].item);
	free(texts);
	free(e);
}

/* Serialises every item once, into one buffer, and sorts them by that
 * text; the texts are kept (*ret_texts, freed with the entries) so the
 * section's own serialisation can reuse them. */
static int sorted_entries(json_t *items, struct sort_entry **ret,
			  char **ret_texts)
{
	size_t n = json_array_size(items), i;
	struct sort_entry *e = calloc(n ? n : 1, sizeof(*e));
	struct buf all = BUF_INIT((size_t)1 << 30);
	size_t *at = calloc(n ? n : 1, sizeof(*at));
	int r = e && at ? 0 : -ENOMEM;

	for (i = 0; i < n && r == 0; i++) {
		e[i].item = json_incref(json_array_get(items, i));
		at[i] = all.len;
		r = json_canonical_append(e[i].item, &all);
		if (r == 0)
			r = buf_append(&all, "", 1);	/* its NUL */
	}
	if (r < 0) {
		free(at);
		buf_free(&all);
		if (e)
			free_entries(e, i, NULL);
		return r;
	}
	for (i = 0; i < n; i++)
		e[i].text = all.data + at[i];
	free(at);
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	for (i = 0; i < n; i++)
		json_array_set(items, i, e[i].item);
	*ret = e;
	*ret_texts = buf_take(&all, NULL);
	return 0;
}

int report_sort_items(json_t *section)
{
	json_t *items = json_object_get(section, "items");
	struct sort_entry *e;
	char *texts;
	int r;

	if (!json_is_array(items) || json_array_size(items) < 2)
		return 0;
	r = sorted_entries(items, &e, &texts);
	if (r == 0)
		free_entries(e, json_array_size(items), texts);
	return r;
}

void report_sum_add(unsigned char sum[REPORT_SUM_LEN],
		    const unsigned char d[REPORT_SUM_LEN])
{
	unsigned carry = 0;

	for (int i = REPORT_SUM_LEN - 1; i >= 0; i--) {
		carry += (unsigned)sum[i] + d[i];
		sum[i] = (unsigned char)carry;
		carry >>= 8;
	}
}

void report_sum_sub(unsigned char sum[REPORT_SUM_LEN],
		    const unsigned char d[REPORT_SUM_LEN])
{
	int borrow = 0;

	for (int i = REPORT_SUM_LEN - 1; i >= 0; i--) {
		int v = (int)sum[i] - d[i] - borrow;

		borrow = v < 0;
		sum[i] = (unsigned char)(v + (borrow << 8));
	}
}

int report_item_digest(const json_t *item, unsigned char out[REPORT_SUM_LEN])
{
	struct buf text = BUF_INIT((size_t)1 << 30);
	int r = json_canonical_append(item, &text);

	if (r == 0)
		sha256_raw(text.data, text.len, out);
	buf_free(&text);
	return r < 0 ? -ENOMEM : 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Members that are not part of the header a hash covers. */
static int outside_header(const char *k)
{
	return strcmp(k, "hash") == 0 || strcmp(k, "items") == 0 ||
	       strcmp(k, "base") == 0 || strcmp(k, "added") == 0 ||
	       strcmp(k, "removed") == 0;
}

/* Writes what json_dumps(section without "hash", JSON_CANONICAL_FLAGS)
 * would, but splices in the item texts already made for sorting instead
 * of serialising every item a second time.  With header set, it writes
 * the header the hash covers instead. */
static int canonical_text(const json_t *section, const struct sort_entry *e,
			  size_t n, int header, struct buf *out)
{
	const char *keys[64], *k;
	size_t nk = 0, i;
	json_t *v;
	int r = 0;

	json_object_foreach((json_t *)section, k, v) {
		if (header ? outside_header(k) : strcmp(k, "hash") == 0)
			continue;
		if (nk == sizeof(keys) / sizeof(keys[0]))
			return -E2BIG;
		keys[nk++] = k;
	}
	qsort(keys, nk, sizeof(*keys), cmp_key);
	r |= buf_puts(out, "{");
	for (i = 0; i < nk && r == 0; i++) {
		json_t *name = json_string(keys[i]);
		char *text = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;

		json_decref(name);
		if (!text)
			return -ENOMEM;
		r |= buf_puts(out, i ? "," : "");
		r |= buf_puts(out, text);
		r |= buf_puts(out, ":");
		free(text);
		v = json_object_get(section, keys[i]);
		if (e && strcmp(keys[i], "items") == 0) {
			r |= buf_puts(out, "[");
			for (size_t j = 0; j < n && r == 0; j++) {
				r |= buf_puts(out, j ? "," : "");
				r |= buf_puts(out, e[j].text);
			}
			r |= buf_puts(out, "]");
		} else {
			text = json_canonical(v);
			if (!text)
				return -ENOMEM;
			r |= buf_puts(out, text);
			free(text);
		}
	}
	r |= buf_puts(out, "}");
	return r < 0 ? -ENOMEM : 0;
}

int report_section_header(const json_t *section, char **ret_text)
{
	struct buf text = BUF_INIT((size_t)1 << 24);
	int r;

	if (!json_is_object(section))
		return -EINVAL;
	r = canonical_text(section, NULL, 0, 1, &text);
	if (r == 0)
		*ret_text = buf_take(&text, NULL);
	buf_free(&text);
	return r;
}

int report_section_hash_sum(const json_t *section,
			    const unsigned char sum[REPORT_SUM_LEN],
			    char out[SHA256_HEX_LEN])
{
	struct buf text = BUF_INIT((size_t)1 << 24);
	char hex[2 * REPORT_SUM_LEN + 1];
	int r;

	out[0] = '\0';
	if (!json_is_object(section))
		return -EINVAL;
	hex_encode(sum, REPORT_SUM_LEN, hex);
	r = canonical_text(section, NULL, 0, 1, &text);
	if (r == 0 && (buf_puts(&text, "\n") < 0 || buf_puts(&text, hex) < 0))
		r = -ENOMEM;
	if (r == 0)
		r = sha256_hex(text.data, text.len, out);
	buf_free(&text);
	return r;
}

int report_section_canonical(json_t *section, char out[SHA256_HEX_LEN],
			     char **ret_text,
			     unsigned char ret_sum[REPORT_SUM_LEN],
			     unsigned char **ret_digests)
{
	json_t *items = json_object_get(section, "items");
	unsigned char sum[REPORT_SUM_LEN] = { 0 }, one[REPORT_SUM_LEN], *d;
	unsigned char *digests = NULL;
	struct sort_entry *e = NULL;
	char *texts = NULL;
	size_t n = 0;
	int r;

	out[0] = '\0';
	if (!json_is_object(section))
		return -EINVAL;
	if (json_is_array(items)) {
		n = json_array_size(items);
		r = sorted_entries(items, &e, &texts);
		if (r < 0)
			return r;
		if (ret_digests && n &&
		    !(digests = malloc(n * REPORT_SUM_LEN))) {
			free_entries(e, n, texts);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			d = digests ? digests + i * REPORT_SUM_LEN : one;
			sha256_raw(e[i].text, strlen(e[i].text), d);
			report_sum_add(sum, d);
		}
	}
	r = report_section_hash_sum(section, sum, out);
	if (r == 0 && ret_text) {
		struct buf text = BUF_INIT((size_t)1 << 30);

		r = canonical_text(section, e, n, 0, &text);
		if (r == 0)
			*ret_text = buf_take(&text, NULL);
		buf_free(&text);
	}
	if (r == 0 && ret_sum)
		memcpy(ret_sum, sum, REPORT_SUM_LEN);
	if (r == 0 && ret_digests)
		*ret_digests = digests;
	else
		free(digests);
	if (e)
		free_entries(e, n, texts);
	return r;
}

int report_section_hash(json_t *section, char out[SHA256_HEX_LEN])
{
	return report_section_canonical(section, out, NULL, NULL, NULL);
}

int report_section_hash_v1(json_t *section, char out[SHA256_HEX_LEN])
{
	char hash[SHA256_HEX_LEN], *text = NULL;
	int r = report_section_canonical(section, hash, &text, NULL, NULL);

	if (r == 0)
		r = sha256_hex(text, strlen(text), out);
	free(text);
	return r;
}

static int put_field(struct buf *out, const json_t *item, const char *key,
		     int required)
{
	json_t *v = json_object_get(item, key);

	if (json_is_string(v))
		return buf_puts(out, json_string_value(v));
	if (json_is_integer(v))
		return buf_printf(out, "%lld", (long long)json_integer_value(v));
	return required ? -EINVAL : 0;
}

int report_item_key(enum section s, const json_t *item, struct buf *out)
{
	int r;

	if (!json_is_object(item))
		return -EINVAL;
	switch (s) {
	case SECTION_PORTS: {
		const char *addr = json_get_str(item, "address");
		int v6 = addr && strchr(addr, ':');

		if ((r = put_field(out, item, "proto", 1)) < 0 ||
		    (r = buf_puts(out, v6 ? " [" : " ")) < 0 ||
		    (r = put_field(out, item, "address", 1)) < 0 ||
		    (r = buf_puts(out, v6 ? "]:" : ":")) < 0)
			return r;
		return put_field(out, item, "port", 1);
	}
	case SECTION_SERVICES:
		return put_field(out, item, "name", 1);
	case SECTION_PROCESSES:
		if ((r = put_field(out, item, "name", 1)) < 0 ||
		    (r = buf_puts(out, " ")) < 0 ||
		    (r = put_field(out, item, "exe", 0)) < 0 ||
		    (r = buf_puts(out, " ")) < 0)
			return r;
		return put_field(out, item, "user", 0);
	case SECTION_PACKAGES:
		if ((r = put_field(out, item, "name", 1)) < 0 ||
		    (r = buf_puts(out, ":")) < 0)
			return r;
		return put_field(out, item, "arch", 0);
	case SECTION_LOGINS:
		if ((r = put_field(out, item, "user", 1)) < 0 ||
		    (r = buf_puts(out, " ")) < 0 ||
		    (r = put_field(out, item, "at", 1)) < 0 ||
		    (r = buf_puts(out, " ")) < 0)
			return r;
		return put_field(out, item, "from", 0);
	case SECTION_MAIL:
		return put_field(out, item, "source", 1);
	default:
		return -EINVAL;
	}
}

size_t report_cut_len(const char *s, size_t len, size_t cap)
{
	if (len <= cap)
		return len;
	/* s[cap] is the first byte cut off: while it continues a character,
	 * that character would be split, so it goes too. */
	while (cap > 0 && ((unsigned char)s[cap] & 0xc0) == 0x80)
		cap--;
	return cap;
}

/* Cuts every string in v, at any depth.  How many were cut, or -ENOMEM. */
static int cut_strings(json_t *v)
{
	const char *k;
	json_t *m;
	size_t i, len, cut;
	int n = 0, r;

	if (json_is_string(v)) {
		len = json_string_length(v);
		cut = report_cut_len(json_string_value(v), len,
				     REPORT_MAX_STRING);
		if (cut == len)
			return 0;
		return json_string_setn(v, json_string_value(v), cut) < 0
			       ? -ENOMEM
			       : 1;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			if ((r = cut_strings(m)) < 0)
				return r;
			n += r;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if ((r = cut_strings(m)) < 0)
				return r;
			n += r;
		}
	}
	return n;
}

/* Whether every string and key in v is within REPORT_MAX_STRING. */
static int strings_fit(const json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_string(v))
		return json_string_length(v) <= REPORT_MAX_STRING;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			if (strlen(k) > REPORT_MAX_STRING || !strings_fit(m))
				return 0;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if (!strings_fit(m))
				return 0;
	}
	return 1;
}

enum {
	T_STR = 1,
	T_INT = 2,
	T_NULL = 4,
	T_BOOL = 8,
	T_TIME = 16,	/* with T_STR: an RFC 3339 time */
	T_REQ = 32,	/* required */
};

struct item_field {
	const char *name;
	unsigned flags;
	json_int_t max;	/* integers: 0..max */
};

#define PID_MAX 0x7fffffff
#define COUNT_MAX ((json_int_t)1 << 53)

/* The members the server reads, per section; others pass as sent. */
static const struct item_field item_fields[SECTION_COUNT][20] = {
	[SECTION_PORTS] = {
		{ "proto", T_STR | T_REQ, 0 },
		{ "address", T_STR | T_REQ, 0 },
		{ "port", T_INT | T_REQ, 65535 },
		{ "pid", T_INT | T_NULL, PID_MAX },
		{ "process", T_STR | T_NULL, 0 },
		{ "exe", T_STR | T_NULL, 0 },
		{ "user", T_STR | T_NULL, 0 },
		{ "truncated", T_BOOL, 0 },
	},
	[SECTION_SERVICES] = {
		{ "name", T_STR | T_REQ, 0 },
		{ "active", T_STR | T_NULL, 0 },
		{ "sub", T_STR | T_NULL, 0 },
		{ "enabled", T_STR | T_NULL, 0 },
		{ "main_pid", T_INT | T_NULL, PID_MAX },
		{ "truncated", T_BOOL, 0 },
	},
	[SECTION_PROCESSES] = {
		{ "name", T_STR | T_REQ, 0 },
		{ "count", T_INT | T_REQ, COUNT_MAX },
		{ "exe", T_STR | T_NULL, 0 },
		{ "user", T_STR | T_NULL, 0 },
		{ "truncated", T_BOOL, 0 },
	},
	[SECTION_PACKAGES] = {
		{ "name", T_STR | T_REQ, 0 },
		{ "version", T_STR | T_REQ, 0 },
		{ "arch", T_STR | T_NULL, 0 },
		{ "source", T_STR | T_NULL, 0 },
		{ "source_version", T_STR | T_NULL, 0 },
		{ "truncated", T_BOOL, 0 },
	},
	[SECTION_LOGINS] = {
		{ "user", T_STR | T_REQ, 0 },
		{ "at", T_STR | T_TIME | T_REQ, 0 },
		{ "from", T_STR | T_NULL, 0 },
		{ "truncated", T_BOOL, 0 },
	},
	/* changelog_cves is checked by mail_cves_ok().  The activity
	 * members (agent/mail_activity.h) are optional: a 0.3 agent sends
	 * none, and each is absent when its file is. */
	[SECTION_MAIL] = {
		{ "source", T_STR | T_REQ, 0 },
		{ "source_version", T_STR | T_NULL, 0 },
		{ "package", T_STR | T_NULL, 0 },
		{ "changelog_truncated", T_BOOL, 0 },
		{ "truncated", T_BOOL, 0 },
		{ "mta", T_STR | T_NULL, 0 },
		{ "last_delivered_at", T_STR | T_TIME | T_NULL, 0 },
		{ "last_received_at", T_STR | T_TIME | T_NULL, 0 },
		{ "delivered_90d", T_INT, COUNT_MAX },
		{ "received_90d", T_INT, COUNT_MAX },
		{ "log_since", T_STR | T_TIME | T_NULL, 0 },
		{ "log_truncated", T_BOOL, 0 },
		{ "queue", T_INT, COUNT_MAX },
		{ "frozen", T_INT, COUNT_MAX },
		{ "deferred", T_INT, COUNT_MAX },
		{ "hold", T_INT, COUNT_MAX },
		{ "queue_truncated", T_BOOL, 0 },
	},
};

size_t report_max_items(enum section s)
{
	return s == SECTION_MAIL ? REPORT_MAIL_MAX_ITEMS : REPORT_MAX_ITEMS;
}

/* A mail item's changelog_cves, where present: at most
 * REPORT_MAIL_MAX_CVES CVE ids. */
static int mail_cves_ok(const json_t *item, char *why, size_t size)
{
	const json_t *cves = json_object_get(item, "changelog_cves");
	const json_t *c;
	size_t j;

	if (!cves)
		return 0;
	if (!json_is_array(cves) ||
	    json_array_size(cves) > REPORT_MAIL_MAX_CVES) {
		snprintf(why, size, "changelog_cves: expected at most %d CVE ids",
			 REPORT_MAIL_MAX_CVES);
		return -EINVAL;
	}
	json_array_foreach(cves, j, c) {
		const char *id = json_string_value(c);

		if (!id || strncmp(id, "CVE-", 4) != 0 || strlen(id) > 32) {
			snprintf(why, size,
				 "changelog_cves[%zu]: expected a CVE id", j);
			return -EINVAL;
		}
	}
	return 0;
}

/* What f expects, for a message. */
static void expected(const struct item_field *f, char *out, size_t size)
{
	const char *null = f->flags & T_NULL ? " or null" : "";

	if (f->flags & T_INT)
		snprintf(out, size, "an integer from 0 to %lld%s",
			 (long long)f->max, null);
	else if (f->flags & T_TIME)
		snprintf(out, size, "an RFC 3339 time%s", null);
	else if (f->flags & T_STR)
		snprintf(out, size, "a string%s", null);
	else
		snprintf(out, size, "true or false%s", null);
}

static int field_ok(const struct item_field *f, const json_t *m)
{
	int64_t t;

	if (json_is_null(m))
		return !!(f->flags & T_NULL);
	if (json_is_string(m))
		return (f->flags & T_STR) &&
		       (!(f->flags & T_TIME) ||
			time_parse(json_string_value(m), &t) == 0);
	if (json_is_integer(m))
		return (f->flags & T_INT) && json_integer_value(m) >= 0 &&
		       json_integer_value(m) <= f->max;
	if (json_is_boolean(m))
		return !!(f->flags & T_BOOL);
	return 0;
}

int report_item_check(enum section s, const json_t *item, char *why,
		      size_t size)
{
	char what[64];

	if ((unsigned)s >= SECTION_COUNT)
		return -EINVAL;
	if (!json_is_object(item)) {
		snprintf(why, size, "expected an object");
		return -EINVAL;
	}
	for (const struct item_field *f = item_fields[s]; f->name; f++) {
		json_t *m = json_object_get(item, f->name);

		if (!m) {
			if (!(f->flags & T_REQ))
				continue;
			snprintf(why, size, "%s: missing", f->name);
			return -EINVAL;
		}
		if (!field_ok(f, m)) {
			expected(f, what, sizeof(what));
			snprintf(why, size, "%s: expected %s", f->name, what);
			return -EINVAL;
		}
	}
	if (!strings_fit(item)) {
		snprintf(why, size, "a string is longer than %d bytes",
			 REPORT_MAX_STRING);
		return -EINVAL;
	}
	if (s == SECTION_MAIL)
		return mail_cves_ok(item, why, size);
	return 0;
}

static const struct item_field header_fields[] = {
	{ "dropped", T_INT, COUNT_MAX },
	{ "open_sessions", T_INT, COUNT_MAX },
	{ "truncated", T_BOOL, 0 },
	{ "changed_at", T_STR | T_TIME | T_NULL, 0 },
	{ "source", T_STR | T_NULL, 0 },
	{ "manager", T_STR | T_NULL, 0 },
	{ "error", T_STR | T_NULL, 0 },
	{ NULL, 0, 0 },
};

int report_header_check(enum section s, const char *key, const json_t *v,
			char *why, size_t size)
{
	char what[64];

	if (strcmp(key, "rejected") == 0) {
		snprintf(why, size, "rejected: the server's own member");
		return -EINVAL;
	}
	if (strlen(key) > REPORT_MAX_STRING || !strings_fit(v)) {
		snprintf(why, size, "a string is longer than %d bytes",
			 REPORT_MAX_STRING);
		return -EINVAL;
	}
	if (s == SECTION_LOGINS && strcmp(key, "last") == 0) {
		if (json_is_null(v) ||
		    report_item_check(SECTION_LOGINS, v, what,
				      sizeof(what)) == 0)
			return 0;
		snprintf(why, size, "last: expected a login or null");
		return -EINVAL;
	}
	for (const struct item_field *f = header_fields; f->name; f++) {
		if (strcmp(key, f->name) != 0)
			continue;
		if (field_ok(f, v))
			return 0;
		expected(f, what, sizeof(what));
		snprintf(why, size, "%s: expected %s", f->name, what);
		return -EINVAL;
	}
	return 0;
}

/* Leaves out the items of section whose bit is set in drop. */
static int drop_items(json_t *section, const unsigned char *drop)
{
	json_t *items = json_object_get(section, "items");
	json_t *kept = json_array(), *item;
	size_t i;

	if (!kept)
		return -ENOMEM;
	json_array_foreach(items, i, item) {
		if (!drop[i] && json_array_append(kept, item) < 0) {
			json_decref(kept);
			return -ENOMEM;
		}
	}
	return json_object_set_new(section, "items", kept) < 0 ? -ENOMEM : 0;
}

int report_cap_section(enum section s, json_t *section)
{
	json_t *items = json_object_get(section, "items"), *item, *m;
	unsigned char *drop = NULL;
	size_t n = json_array_size(items), i, bytes = 0, dropped = 0, kept;
	const char *k;
	char why[128];
	int r, cut = 0, over = 0;

	/* The header first: an "error" text or a login's host name. */
	json_object_foreach(section, k, m) {
		if (strcmp(k, "items") == 0)
			continue;
		if ((r = cut_strings(m)) < 0)
			return r;
		cut += r;
	}
	if (cut && json_object_set_new(section, "truncated", json_true()) < 0)
		return -ENOMEM;
	if (!json_is_array(items) || !n)
		return 0;
	drop = calloc(n, 1);
	if (!drop)
		return -ENOMEM;
	r = -ENOMEM;
	json_array_foreach(items, i, item) {
		int c = cut_strings(item);

		if (c < 0)
			goto out;
		if (c > 0 && json_is_object(item) &&
		    json_object_set_new(item, "truncated", json_true()) < 0)
			goto out;
		if (report_item_check(s, item, why, sizeof(why)) < 0) {
			drop[i] = 1;
			dropped++;
			continue;
		}
		bytes += json_dumpb(item, NULL, 0, JSON_CANONICAL_FLAGS) + 1;
	}
	over = n - dropped > report_max_items(s) ||
	       bytes > REPORT_MAX_SECTION_BYTES;
	if (dropped && (r = drop_items(section, drop)) < 0)
		goto out;
	if (over) {
		/* Which items stay must not depend on the order the kernel
		 * listed them in: canonical order, each kept while it fits. */
		if ((r = report_sort_items(section)) < 0)
			goto out;
		items = json_object_get(section, "items");
		n = json_array_size(items);
		memset(drop, 0, n);
		bytes = kept = 0;
		json_array_foreach(items, i, item) {
			size_t len = json_dumpb(item, NULL, 0,
						JSON_CANONICAL_FLAGS) + 1;

			if (kept == report_max_items(s) ||
			    bytes + len > REPORT_MAX_SECTION_BYTES) {
				drop[i] = 1;
				dropped++;
				continue;
			}
			bytes += len;
			kept++;
		}
		if ((r = drop_items(section, drop)) < 0)
			goto out;
	}
	r = 0;
	if (dropped &&
	    json_object_set_new(section, "dropped",
				json_integer((json_int_t)dropped)) < 0)
		r = -ENOMEM;
out:
	free(drop);
	return r;
}

int report_cap_host(json_t *host)
{
	int r = cut_strings(host);

	if (r > 0 && json_object_set_new(host, "truncated", json_true()) < 0)
		return -ENOMEM;
	return r < 0 ? r : 0;
}
