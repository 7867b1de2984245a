/*
 * delta.c - the two kinds of delta against what the server acknowledged:
 * a bare hash for an unchanged section, and the added and removed items
 * of a changed packages section (SPEC 3, as amended).
 */
#include "delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"
#include "state.h"

json_t *delta_sections(const json_t *report,
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

int delta_items(enum section s, const struct state_items *prev,
		const json_t *cur, const char *base, json_t **ret)
{
	json_t *citems = json_object_get(cur, "items");
	const char *hash = json_get_str(cur, "hash");
	struct buf key = BUF_INIT(2 * REPORT_MAX_STRING + 64);
	json_t *byk = NULL, *delta = NULL, *added = NULL, *removed = NULL;
	json_t *old = NULL, *v;
	size_t np = prev ? prev->n : 0, nc = json_array_size(citems);
	size_t limit = nc / DELTA_DIVISOR, ngone = 0, i, j;
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
	if (limit < DELTA_MIN_ITEMS)
		limit = DELTA_MIN_ITEMS;
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

int delta_packages(const char *dir, const char *acked,
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
	r = delta_items(SECTION_PACKAGES, &prev, cur, acked, ret);
	state_items_free(&prev);
	return r;
}
