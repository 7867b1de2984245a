/*
 * rpmhdr.h - the few tags the packages section needs, from one RPM header
 * blob as the RPM database stores it (rpmdb.sqlite's Packages.blob, a
 * Berkeley DB Packages record): two big-endian 32-bit counts, il index
 * entries and dl bytes of data; each entry is {tag, type, offset, count},
 * big-endian, offset into the data store.  An optional 8-byte header magic
 * (8e ad e8 01, 4 reserved bytes) in front is skipped.
 *
 * The blob is hostile until proven otherwise: il and dl are capped
 * (RPMHDR_MAX_ENTRIES, RPMHDR_MAX_DATA) before anything is read, every
 * offset is checked against dl, a string must end inside the store, and a
 * string that is not printable ASCII-or-UTF-8-free-of-controls is refused.
 * No allocation; the answer points into the caller's blob.
 */
#ifndef DERELICT_AGENT_RPMHDR_H
#define DERELICT_AGENT_RPMHDR_H

#include <stddef.h>
#include <stdint.h>

#define RPMHDR_MAX_ENTRIES 65536	/* rpm's own limit on il */
#define RPMHDR_MAX_DATA (64u << 20)	/* rpm caps dl at 256 MiB */
#define RPMHDR_MAX_STRING 256		/* longer tag strings are refused */

struct rpmhdr_pkg {
	/* Each points into the blob, NUL-terminated there; NULL when the
	 * header has no such tag (arch and sourcerpm: gpg-pubkey). */
	const char *name, *version, *release, *arch, *sourcerpm;
	int64_t epoch;		/* -1 when the header has none */
	int64_t installtime;	/* 0 when none */
};

/* Reads blob (len bytes) into *ret.  0; -EBADMSG when it is not a header
 * or an entry points outside it; -E2BIG past a cap; -ENOENT when it lacks a
 * name, version or release.  *ret is written only on success. */
int rpmhdr_parse(const uint8_t *blob, size_t len, struct rpmhdr_pkg *ret);

#endif
