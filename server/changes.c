/* changes.c - see changes.h. */
#include "changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"

/* v's canonical text (json_canonical()'s bytes, made without jansson's
 * allocations for each member), or NULL without memory. */
static char *canonical(const json_t *v)
{
	struct buf b = BUF_INIT((size_t)1 << 30);

	if (json_canonical_append(v, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

int changes_push(struct changes *l, const char *action, const char *key,
		 json_t *old, json_t *new, const unsigned char *digest)
{
	return changes_push_with(l, action, key, old, NULL, new, digest);
}

int changes_push_with(struct changes *l, const char *action, const char *key,
		      json_t *old, char *old_text, json_t *new,
		      const unsigned char *digest)
{
	struct change *c;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->v, ncap * sizeof(*l->v));

		if (!p) {
			free(old_text);
			return -ENOMEM;
		}
		l->v = p;
		l->cap = ncap;
	}
	c = &l->v[l->n];
	memset(c, 0, sizeof(*c));
	/* The history's texts are made here, outside the writer when this
	 * runs in store_prepare_report(). */
	c->key = strdup(key);
	c->old_text = old_text ? old_text : old ? canonical(old) : NULL;
	c->new_text = new ? canonical(new) : NULL;
	if (!c->key || (old && !c->old_text) || (new && !c->new_text)) {
		free(c->key);
		free(c->old_text);
		free(c->new_text);
		return -ENOMEM;
	}
	c->action = action;
	c->old = json_incref(old);
	c->new = json_incref(new);
	if (digest) {
		memcpy(c->digest, digest, REPORT_SUM_LEN);
		c->has_digest = 1;
	}
	l->n++;
	return 0;
}

void changes_free(struct changes *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].old_text);
		free(l->v[i].new_text);
		json_decref(l->v[i].old);
		json_decref(l->v[i].new);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

json_t *changes_items_by_key(enum section sec, const json_t *body)
{
	json_t *map = json_object(), *items = json_object_get(body, "items");
	struct buf key = BUF_INIT(REPORT_MAX_STRING * 4);
	json_t *item;
	size_t i;

	if (!map)
		return NULL;
	json_array_foreach(items, i, item) {
		buf_reset(&key);
		if (report_item_key(sec, item, &key) < 0)
			continue;
		for (int n = 2; json_object_get(map, key.data); n++) {
			size_t base = key.len;

			buf_printf(&key, " #%d", n);
			if (!json_object_get(map, key.data))
				break;
			key.len = base;
			key.data[base] = '\0';
		}
		json_object_set(map, key.data, item);
	}
	buf_free(&key);
	return map;
}

int changes_diff(enum section sec, const json_t *old_body,
		 const json_t *new_body,
		 int (*equal)(const json_t *a, const json_t *b),
		 struct changes *l)
{
	json_t *old_map = NULL, *new_map = NULL, *v, *old;
	unsigned char d[REPORT_SUM_LEN];
	const char *key;
	int r = 0;

	changes_free(l);
	if (!old_body)
		return 0;
	old_map = changes_items_by_key(sec, old_body);
	new_map = changes_items_by_key(sec, new_body);
	if (!old_map || !new_map) {
		r = -ENOMEM;
		goto out;
	}
	json_object_foreach(new_map, key, v) {
		old = json_object_get(old_map, key);
		if (old && (equal ? equal(old, v) : json_equal(old, v)))
			continue;
		if (sec == SECTION_PACKAGES &&
		    (r = report_item_digest(v, d)) < 0)
			goto out;
		r = changes_push(l, old ? "changed" : "added", key, old, v,
				 sec == SECTION_PACKAGES ? d : NULL);
		if (r < 0)
			goto out;
	}
	json_object_foreach(old_map, key, old) {
		if (json_object_get(new_map, key))
			continue;
		r = changes_push(l, "removed", key, old, NULL, NULL);
		if (r < 0)
			goto out;
	}
out:
	json_decref(old_map);
	json_decref(new_map);
	return r;
}
