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

/* The file in the state directory, mode 0600. */
#define STATE_PACKAGES_FILE "packages.json"
/* A stored section larger than this is not read (the section is then
 * sent in full); 50,000 items of a few hundred bytes fit well within. */
#define STATE_PACKAGES_MAX ((size_t)64 << 20)

/* ---- state.c ---- */

/* Reads <dir>/packages.json into *ret (caller owns), but only if its
 * hash, recomputed here, is acked: a stale, damaged or foreign file is as
 * good as none.  0; -ENOENT when the file or acked is missing; -EBADMSG
 * when it is not a section with at most REPORT_MAX_ITEMS object items;
 * -ESTALE when its hash is not acked; -E2BIG past STATE_PACKAGES_MAX;
 * -ENOMEM or another negative errno from reading.  *ret is untouched on
 * failure. */
int state_read_packages(const char *dir, const char *acked, json_t **ret);

/* Replaces <dir>/packages.json atomically (temporary file, fsync,
 * rename), mode 0600, with the full section (its items and "hash")
 * serialised compact.  Call it only once the server acknowledged that
 * section.  0 or negative errno; the old file stays on failure. */
int state_write_packages(const char *dir, const json_t *section);

/* ---- report.c ---- */

/* A delta is sent only when it names at most this many items, or a
 * quarter of the new section's items if that is more; past that the full
 * section costs the server little more and is simpler to check. */
#define REPORT_DELTA_MIN_ITEMS 16
#define REPORT_DELTA_DIVISOR 4

/* The delta form of cur (a full section with its "hash") against prev
 * (the full section the server acknowledged as base):
 *   {"hash": cur's, "base": base, <cur's members but "items" and "hash">,
 *    "added": [cur's items that are new or changed],
 *    "removed": [{"name", "arch"} of prev's items that are gone]}
 * Items are matched by report_item_key(); "arch" is left out of a removed
 * item that had none.  0 and *ret (caller owns; it shares cur's items);
 * -EALREADY when cur's hash is base (send the bare hash); -E2BIG when
 * added and removed together exceed the threshold above; -EINVAL when an
 * item lacks its identity or two items of one section share one; -ENOMEM.
 * *ret is untouched on failure. */
int report_items_delta(enum section s, const json_t *prev, const json_t *cur,
		       const char *base, json_t **ret);

/* Loads <dir>/packages.json against acked and makes the delta of the
 * packages section cur: state_read_packages() then report_items_delta().
 * 0 and *ret (caller owns), or the negative errno of either, which means
 * "send cur in full". */
int report_packages_delta(const char *dir, const char *acked, json_t *cur,
			  json_t **ret);

#endif
