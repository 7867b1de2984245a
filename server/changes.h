/*
 * changes.h - the change list: what a section's new state changes against
 * the stored one, item by item, as the history will record it.  Pure: no
 * SQL, no store; tests/unit/check_changes.c.
 */
#ifndef DERELICT_CHANGES_H
#define DERELICT_CHANGES_H

#include <jansson.h>
#include <stddef.h>

#include "report.h"

/* One change: old and new are item references (NULL for an added or a
 * removed item). */
struct change {
	const char *action;	/* "added", "removed", "changed"; static */
	char *key;
	json_t *old;
	json_t *new;
	char *old_text, *new_text;	/* their canonical text, or NULL */
	int has_digest;		/* packages: digest is new's */
	unsigned char digest[REPORT_SUM_LEN];
	/* packages: what the delta's preparation found on its snapshot, 0
	 * when nothing: the name's id, old's version id in the host's value,
	 * and new's version id if the fleet has it.  Versions are never
	 * deleted, so the writer checks the first two against its own value
	 * and takes the third as it is. */
	int64_t name_id, old_version_id, new_version_id;
};

struct changes {
	struct change *v;
	size_t n, cap;
};

/* Appends a change (old and new are referenced, digest, when not NULL,
 * copied) with the canonical texts the history keeps, made here so that
 * they are made outside the writer.  0 or -ENOMEM (then l is as before). */
int changes_push(struct changes *l, const char *action, const char *key,
		 json_t *old, json_t *new, const unsigned char *digest);
/* The same with old's canonical text when the caller has made it already
 * (old_text, taken by l: freed when this fails). */
int changes_push_with(struct changes *l, const char *action, const char *key,
		      json_t *old, char *old_text, json_t *new,
		      const unsigned char *digest);
/* Empties l and frees what it holds; l can be used again. */
void changes_free(struct changes *l);

/* Maps each item of a section body ({"items": [...]}) to its identity key
 * (report_item_key()).  Keys that repeat (two sockets on one port with
 * different owners) get " #2", " #3", ... so each item keeps a key of its
 * own.  NULL when out of memory. */
json_t *changes_items_by_key(enum section sec, const json_t *body);

/* Replaces l with the differences between two states of a section: each
 * item of new_body whose key is new or whose item differs (by equal, or
 * json_equal() when equal is NULL) is "added" or "changed", each key of
 * old_body that is gone "removed".  A packages change carries the new
 * item's digest.  old_body is NULL for the first state seen: it is the
 * baseline, not a thousand "added" rows, and l stays empty.  0 or -ENOMEM
 * (or report_item_digest()'s error). */
int changes_diff(enum section sec, const json_t *old_body,
		 const json_t *new_body,
		 int (*equal)(const json_t *a, const json_t *b),
		 struct changes *l);

#endif
