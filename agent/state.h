/*
 * state.h - the packages section the server last acknowledged, kept in
 * the state directory, and the item-level delta against it that the agent
 * sends instead of the full section (SPEC section 3, as amended).
 *
 * The other state files and report assembly are declared in agent.h.
 */
#ifndef DERELICT_AGENT_STATE_H
#define DERELICT_AGENT_STATE_H

#include <jansson.h>

#include "hash.h"
#include "report.h"

/* The file in the state directory, mode 0600:
 *
 *   derelict-packages 1
 *   <the section's hash>
 *   <its header: the section without "hash" and "items", canonical JSON>
 *   <one item per line, its canonical JSON, in strcmp order>
 *
 * Each item line is exactly the text its digest is taken of, so checking
 * the file against the acknowledged hash costs one SHA-256 pass and no
 * JSON parsing, and a delta is found by comparing texts. */
#define STATE_PACKAGES_FILE "packages"
#define STATE_PACKAGES_MAGIC "derelict-packages 1"
/* A larger file is not read (the section is then sent in full); 50,000
 * items of a few hundred bytes fit well within. */
#define STATE_PACKAGES_MAX ((size_t)64 << 20)

/* ---- state.c ---- */

/* The items of an acknowledged section, as the file keeps them. */
struct state_items {
	char *data;		/* the file, each line cut at its newline */
	char **text;		/* n canonical item texts in data, sorted */
	size_t n;
};

/* Frees what state_read_packages() filled; accepts a zeroed struct. */
void state_items_free(struct state_items *items);

/* Reads <dir>/packages into *ret, but only if the hash of what it holds,
 * recomputed here, is acked: a stale, damaged or foreign file is as good
 * as none.  0; -ENOENT when the file or acked is missing; -EBADMSG when
 * it is not in the form above (item lines not sorted, more than
 * REPORT_MAX_ITEMS of them); -ESTALE when its hash is not acked; -E2BIG
 * past STATE_PACKAGES_MAX; -ENOMEM or another negative errno from
 * reading.  *ret is untouched on failure. */
int state_read_packages(const char *dir, const char *acked,
			struct state_items *ret);

/* Replaces <dir>/packages atomically (temporary file, fsync, rename),
 * mode 0600, with the full section given (its items and "hash").  Call it
 * only once the server acknowledged that section.  0, -EINVAL for a
 * section without hash or items, or negative errno; the old file stays
 * on failure. */
int state_write_packages(const char *dir, const json_t *section);

/* ---- report.c ---- */

/* A delta is sent only when it names at most this many items, or a
 * quarter of the new section's items if that is more; past that the full
 * section costs the server little more and is simpler to check. */
#define REPORT_DELTA_MIN_ITEMS 16
#define REPORT_DELTA_DIVISOR 4

/* The delta form of cur (a full section with its "hash") against prev,
 * the items of the section the server acknowledged as base:
 *   {"hash": cur's, "base": base, <cur's members but "items" and "hash">,
 *    "added": [cur's items that are new or changed],
 *    "removed": [{"name", "arch"} of prev's items that are gone]}
 * Items are matched by report_item_key(); "arch" is left out of a removed
 * item that had none.  0 and *ret (caller owns; it shares cur's items);
 * -EALREADY when cur's hash is base (send the bare hash); -E2BIG when
 * added and removed together exceed the threshold above; -EINVAL when an
 * item that changed lacks its identity or shares it with another changed
 * one; -ENOMEM.  *ret is untouched on failure. */
int report_items_delta(enum section s, const struct state_items *prev,
		       const json_t *cur, const char *base, json_t **ret);

/* Loads <dir>/packages against acked and makes the delta of the packages
 * section cur: state_read_packages() then report_items_delta(), the file
 * read only when cur's hash is not acked.  0 and *ret (caller owns), or
 * the negative errno of either, which means "send cur in full". */
int report_packages_delta(const char *dir, const char *acked,
			  const json_t *cur, json_t **ret);

#endif
