/*
 * delta.h - the two kinds of delta against what the server acknowledged
 * (SPEC section 3, as amended): a section whose hash the server holds
 * goes as the bare hash, and a changed packages section as its added and
 * removed items against the acknowledged one (state.h keeps it).
 */
#ifndef DERELICT_AGENT_DELTA_H
#define DERELICT_AGENT_DELTA_H

#include <jansson.h>

#include "hash.h"
#include "report.h"
#include "state.h"

/* A copy of report where each section whose hash equals acked[s] (and
 * whose bit is not set in full_mask) is only {"hash": ...}.  NULL on
 * ENOMEM. */
json_t *delta_sections(const json_t *report,
		       char acked[SECTION_COUNT][SHA256_HEX_LEN],
		       unsigned full_mask);

/* A delta is sent only when it names at most this many items, or a
 * quarter of the new section's items if that is more; past that the full
 * section costs the server little more and is simpler to check. */
#define DELTA_MIN_ITEMS 16
#define DELTA_DIVISOR 4

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
int delta_items(enum section s, const struct state_items *prev,
		const json_t *cur, const char *base, json_t **ret);

/* Loads <dir>/packages against acked and makes the delta of the packages
 * section cur: state_read_packages() then delta_items(), the file
 * read only when cur's hash is not acked.  0 and *ret (caller owns), or
 * the negative errno of either, which means "send cur in full". */
int delta_packages(const char *dir, const char *acked,
		   const json_t *cur, json_t **ret);

#endif
