/*
 * report.h - the report wire format (SPEC section 3) shared by agent and
 * server: section names, limits, each item's identity and the canonical
 * section hash.
 *
 * The hash of a section is the SHA-256 (hex) of the section object without
 * its "hash" member, serialised compact with keys sorted, after its "items"
 * array has been sorted by each item's own canonical serialisation.  Agent
 * and server both call report_section_hash(), so they cannot disagree.
 */
#ifndef DERELICT_REPORT_H
#define DERELICT_REPORT_H

#include <jansson.h>

#include "buf.h"
#include "hash.h"

#define REPORT_SCHEMA 1

enum section {
	SECTION_PORTS,
	SECTION_SERVICES,
	SECTION_PROCESSES,
	SECTION_PACKAGES,
	SECTION_LOGINS,
	SECTION_COUNT
};

/* Limits every reader enforces; the agent truncates to them as well. */
#define REPORT_MAX_ITEMS 50000	/* items in one section */
#define REPORT_MAX_STRING 4096	/* bytes in one string value */
#define REPORT_MAX_DEPTH 8	/* nesting of a whole report */

extern const char *const section_names[SECTION_COUNT];

/* The section's index, or -1 for an unknown name. */
int section_from_name(const char *name);

/* Sorts section["items"] in place into canonical order.  0 or -ENOMEM. */
int report_sort_items(json_t *section);

/* Sorts the items (as above) and writes the section's hash.  The section's
 * own "hash" member, if any, is ignored.  0, -EINVAL for a non-object, or
 * -ENOMEM. */
int report_section_hash(json_t *section, char out[SHA256_HEX_LEN]);
/* The same, and hands the canonical text that was hashed (the section
 * without "hash", serialised as json_canonical() would) to the caller in
 * *ret_text, to free. */
int report_section_canonical(json_t *section, char out[SHA256_HEX_LEN],
			     char **ret_text);

/* Appends the identity of an item within its section to out: what makes
 * two items "the same thing" across reports, so a change of version or
 * owner is one "changed" row, not a removal and an addition.
 *   ports      "tcp 0.0.0.0:25"           services  "exim4.service"
 *   processes  "exim4 /usr/sbin/exim4 Debian-exim"
 *   packages   "exim4-daemon-light:amd64" logins    "alice 2026-11-01T..Z from"
 * 0, -EINVAL when the item lacks its identity fields, or a buf error. */
int report_item_key(enum section s, const json_t *item, struct buf *out);

#endif
