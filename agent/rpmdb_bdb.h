/*
 * rpmdb_bdb.h - the records of a Berkeley DB hash file, read-only, as RPM's
 * Packages database of CentOS 7 / RHEL 8 and older holds its headers: the
 * approach of rpm's own bdb_ro backend, no Berkeley DB library.
 *
 * Layout (Berkeley DB's documented on-disk format, version 8-10): page 0
 * is the hash meta page (magic 0x061561 at byte 12, in the byte order of
 * the machine that wrote it, which tells the order of every other number;
 * page size at 20, last page number at 32).  Every page starts with a
 * 26-byte header (its number at 8, next page at 16, entry count at 20,
 * hf_offset at 22, type at 25) and, on hash pages (types 2 and 13), an
 * array of 16-bit item offsets: key and data alternate.  A data item is
 * either inline (type 1: the bytes up to the previous item) or "off page"
 * (type 3: first overflow page at 4, total length at 8), continued on
 * overflow pages (type 7) of hf_offset bytes each, chained by next page.
 *
 * Hostile input: the page size must be a power of two from 512 to 64 KiB,
 * only pages inside the buffer are read, an overflow chain is followed at
 * most as many steps as there are pages and only up to
 * RPMDB_BDB_MAX_RECORD bytes; a malformed record is skipped, not fatal.
 */
#ifndef DERELICT_AGENT_RPMDB_BDB_H
#define DERELICT_AGENT_RPMDB_BDB_H

#include <stddef.h>
#include <stdint.h>

#define RPMDB_BDB_MAX_RECORD (65u << 20)

/* Called with each record's data (valid during the call only); a
 * non-zero answer stops the walk and is returned. */
typedef int (*rpmdb_bdb_fn)(const uint8_t *data, size_t len, void *ctx);

/* Walks the records of the hash file in buf (len bytes), skipping RPM's
 * key 0 (its header counter).  0 when done, the callback's non-zero
 * answer, -EBADMSG when buf is not a Berkeley DB hash file, -ENOMEM.
 * *ret_skipped (if not NULL) counts the malformed records skipped. */
int rpmdb_bdb_foreach(const uint8_t *buf, size_t len, rpmdb_bdb_fn fn,
		      void *ctx, size_t *ret_skipped);

#endif
