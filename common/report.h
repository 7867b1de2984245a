/*
 * report.h - the report wire format (SPEC section 3) shared by agent and
 * server: section names, limits, each item's identity and the canonical
 * section hash.
 *
 * The hash of a section is built so that a change of a few items costs a
 * few items' work, not the whole section's (SPEC section 3, as amended):
 *
 *   digest(item) = SHA-256 of the item serialised compact, keys sorted
 *   sum          = the digests of all items added as 256-bit big-endian
 *                  numbers, modulo 2^256 (0 for no items)
 *   header       = the section without "hash", "items", "base", "added"
 *                  and "removed", serialised compact, keys sorted
 *   hash         = hex SHA-256 of header, "\n", and the sum in 64 hex digits
 *
 * The sum does not depend on the items' order, and adding or taking away
 * one item's digest updates it.  Agent and server both call these
 * functions, so they cannot disagree.
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
	SECTION_MAIL,
	SECTION_COUNT
};

/* Limits every reader enforces; the agent truncates to them as well. */
#define REPORT_MAX_ITEMS 50000	/* items in one section */
#define REPORT_MAX_STRING 4096	/* bytes in one string value */
#define REPORT_MAX_DEPTH 8	/* nesting of a whole report */
/* The agent's budget for the items of one section, as canonical text: five
 * full sections and the host stay under the server's default body cap
 * (max_body_bytes, 16 MiB, counted after inflation) whatever runs on the
 * host.  50,000 ports of ~110 bytes fit. */
#define REPORT_MAX_SECTION_BYTES (3 << 20)
/* How far ahead of the server's clock a report's collected_at may be; one
 * further ahead is stored as the time it arrived. */
#define REPORT_MAX_AHEAD_S 86400

/*
 * The cut rule, the same for agent and server (SPEC sections 2 and 8): a
 * hostile process, file or peer costs its own item, never the report.
 *
 * Agent (report_cap_section(), report_cap_host()):
 *   - a string longer than REPORT_MAX_STRING bytes is cut to the longest
 *     prefix of at most REPORT_MAX_STRING bytes that ends on a UTF-8
 *     character boundary (report_cut_len()), and the item it is in (or the
 *     section, or the host object) gets "truncated": true;
 *   - an item report_item_check() refuses, and items beyond
 *     REPORT_MAX_ITEMS or beyond REPORT_MAX_SECTION_BYTES of text (in
 *     canonical order, each item kept if it still fits) are left out, and
 *     the section says how many in "dropped": N.
 *   The hash is computed after this, over what is sent.
 *
 * Server (report_check()): an item report_item_check() refuses (not an
 * object, a required member missing, a member of the wrong type or out of
 * range, a string or key over REPORT_MAX_STRING), and items beyond
 * REPORT_MAX_ITEMS, are dropped, never cut; a header member of the wrong
 * type ("dropped", "open_sessions", "last", "changed_at") is dropped.  The
 * rest of the section is stored, and the stored section says what went in
 * "rejected": {"items": N, "fields": M, "first": "why the first went"}.
 * The section's stored hash and items' sum stay those of the section as
 * received, so an unchanged section sent again as a bare hash (or a delta
 * against it) matches.
 */

/* The length of s (len bytes, valid UTF-8) cut to at most cap bytes on a
 * character boundary: len itself when len <= cap. */
size_t report_cut_len(const char *s, size_t len, size_t cap);

/* Whether item is one the server stores for section s: 0, or -EINVAL with
 * why (a member name and what was wrong, "pid: expected a non-negative
 * integer or null") written to why[size]. */
int report_item_check(enum section s, const json_t *item, char *why,
		      size_t size);

/* Whether member key (not "items", "hash", "base", "added" or "removed")
 * of a section's header is one the server keeps: "dropped" and
 * "open_sessions" non-negative integers, "truncated" a boolean, "last" a
 * login item or null, "changed_at" a time or null, "source", "manager" and
 * "error" strings or null, no string over REPORT_MAX_STRING; "rejected" is
 * the server's alone.  0, or -EINVAL with why as above. */
int report_header_check(enum section s, const char *key, const json_t *v,
			char *why, size_t size);

/* Agent: applies the cut rule to a collected section (items and header):
 * cuts, drops, sorts the items canonically and sets "truncated" and
 * "dropped" as above.  0 or -ENOMEM (the section may then be part cut). */
int report_cap_section(enum section s, json_t *section);
/* Agent: cuts the strings of the host object and marks it. 0 or -ENOMEM. */
int report_cap_host(json_t *host);
/* Bytes of a failed section's "error" the server keeps; longer ones are
 * cut at a character boundary and end in "…". */
#define REPORT_MAX_ERROR 256
/* mail: one item per MTA source package, and the CVE ids one package's
 * changelog may name (exim4's whole history names about a hundred). */
#define REPORT_MAIL_MAX_ITEMS 32
#define REPORT_MAIL_MAX_CVES 2048
/* Items a section may hold: REPORT_MAX_ITEMS, REPORT_MAIL_MAX_ITEMS for
 * mail. */
size_t report_max_items(enum section s);

extern const char *const section_names[SECTION_COUNT];

/* The section's index, or -1 for an unknown name. */
int section_from_name(const char *name);

/* Sorts section["items"] in place into canonical order.  0 or -ENOMEM. */
int report_sort_items(json_t *section);

#define REPORT_SUM_LEN 32

/* sum += d and sum -= d, modulo 2^256. */
void report_sum_add(unsigned char sum[REPORT_SUM_LEN],
		    const unsigned char d[REPORT_SUM_LEN]);
void report_sum_sub(unsigned char sum[REPORT_SUM_LEN],
		    const unsigned char d[REPORT_SUM_LEN]);

/* An item's digest.  0 or -ENOMEM. */
int report_item_digest(const json_t *item, unsigned char out[REPORT_SUM_LEN]);

/* The header of a section (as above) as canonical text, to free.  0,
 * -EINVAL for a non-object, -ENOMEM or -E2BIG. */
int report_section_header(const json_t *section, char **ret_text);

/* The hash of a section whose items add up to sum (the section's own
 * items, if any, are not read).  0, -EINVAL, -ENOMEM or -E2BIG. */
int report_section_hash_sum(const json_t *section,
			    const unsigned char sum[REPORT_SUM_LEN],
			    char out[SHA256_HEX_LEN]);

/* Sorts the items (as above) and writes the section's hash.  The section's
 * own "hash" member, if any, is ignored.  0, -EINVAL for a non-object, or
 * -ENOMEM. */
int report_section_hash(json_t *section, char out[SHA256_HEX_LEN]);
/* The same, and hands the section's canonical text (without "hash",
 * serialised as json_canonical() would, items sorted) to the caller in
 * *ret_text, to free; the items' sum in ret_sum; and in *ret_digests, to
 * free, each item's digest (REPORT_SUM_LEN bytes each, in the items' new
 * order; NULL when there are none).  Each ret_ may be NULL. */
int report_section_canonical(json_t *section, char out[SHA256_HEX_LEN],
			     char **ret_text,
			     unsigned char ret_sum[REPORT_SUM_LEN],
			     unsigned char **ret_digests);

/* The hash as 0.1.0 defined it: the SHA-256 of the section's whole
 * canonical text (items sorted, no "hash").  The server still accepts it
 * on a full section, so agents of that version keep reporting until they
 * are upgraded.  0 or a negative errno. */
int report_section_hash_v1(json_t *section, char out[SHA256_HEX_LEN]);

/* Appends the identity of an item within its section to out: what makes
 * two items "the same thing" across reports, so a change of version or
 * owner is one "changed" row, not a removal and an addition.
 *   ports      "tcp 0.0.0.0:25"           services  "exim4.service"
 *   processes  "exim4 /usr/sbin/exim4 Debian-exim"
 *   packages   "exim4-daemon-light:amd64" logins    "alice 2026-11-01T..Z from"
 * 0, -EINVAL when the item lacks its identity fields, or a buf error. */
int report_item_key(enum section s, const json_t *item, struct buf *out);

#endif
