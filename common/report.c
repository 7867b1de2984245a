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

int report_sort_items(json_t *section)
{
	json_t *items = json_object_get(section, "items");
	struct sort_entry *e;
	size_t n, i;
	int r = 0;

	if (!json_is_array(items) || json_array_size(items) < 2)
		return 0;
	n = json_array_size(items);
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e[i].item = json_incref(json_array_get(items, i));
		e[i].text = json_canonical(e[i].item);
		if (!e[i].text) {
			r = -ENOMEM;
			n = i + 1;
			goto out;
		}
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	for (i = 0; i < n; i++)
		json_array_set(items, i, e[i].item);
out:
	for (i = 0; i < n; i++) {
		free(e[i].text);
		json_decref(e[i].item);
	}
	free(e);
	return r;
}

int report_section_hash(json_t *section, char out[SHA256_HEX_LEN])
{
	json_t *copy;
	char *text;
	int r;

	out[0] = '\0';
	if (!json_is_object(section))
		return -EINVAL;
	r = report_sort_items(section);
	if (r < 0)
		return r;
	copy = json_copy(section);	/* shallow: members are shared */
	if (!copy)
		return -ENOMEM;
	json_object_del(copy, "hash");
	text = json_canonical(copy);
	json_decref(copy);
	if (!text)
		return -ENOMEM;
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
	default:
		return -EINVAL;
	}
}
