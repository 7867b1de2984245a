/* report.c - see report.h. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

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
	char *text;
	json_t *item;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sort_entry *)a)->text,
		      ((const struct sort_entry *)b)->text);
}

static void free_entries(struct sort_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].text);
		json_decref(e[i].item);
	}
	free(e);
}

/* Serialises every item once and sorts them by that text; the texts are
 * kept so the section's own serialisation can reuse them. */
static int sorted_entries(json_t *items, struct sort_entry **ret)
{
	size_t n = json_array_size(items), i;
	struct sort_entry *e = calloc(n ? n : 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e[i].item = json_incref(json_array_get(items, i));
		e[i].text = json_canonical(e[i].item);
		if (!e[i].text) {
			free_entries(e, i + 1);
			return -ENOMEM;
		}
	}
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_entry);
	for (i = 0; i < n; i++)
		json_array_set(items, i, e[i].item);
	*ret = e;
	return 0;
}

int report_sort_items(json_t *section)
{
	json_t *items = json_object_get(section, "items");
	struct sort_entry *e;
	int r;

	if (!json_is_array(items) || json_array_size(items) < 2)
		return 0;
	r = sorted_entries(items, &e);
	if (r == 0)
		free_entries(e, json_array_size(items));
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
	char *text = json_canonical(item);

	if (!text)
		return -ENOMEM;
	sha256_raw(text, strlen(text), out);
	free(text);
	return 0;
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
	size_t n = 0;
	int r;

	out[0] = '\0';
	if (!json_is_object(section))
		return -EINVAL;
	if (json_is_array(items)) {
		n = json_array_size(items);
		r = sorted_entries(items, &e);
		if (r < 0)
			return r;
		if (ret_digests && n &&
		    !(digests = malloc(n * REPORT_SUM_LEN))) {
			free_entries(e, n);
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
		free_entries(e, n);
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
