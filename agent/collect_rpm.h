/*
 * collect_rpm.h - the packages section on an RPM host: the headers of the
 * RPM database under the root, var/lib/rpm/rpmdb.sqlite (RPM >= 4.16;
 * also under usr/lib/sysimage/rpm, where Fedora keeps it) or the Berkeley
 * DB var/lib/rpm/Packages of CentOS 7 and RHEL 8, read by our own header
 * parser (rpmhdr.h) and hash-file walker (rpmdb_bdb.h).  SQLite is loaded
 * with dlopen() only when an rpmdb.sqlite is there, as for wtmpdb.
 *
 * Each installed header gives an item {name, version "E:V-R" (epoch 0
 * when it has none, as rpm's %{EPOCHNUM}), arch (null when none:
 * gpg-pubkey), source (the SOURCERPM's name, else the package's own) and
 * source_version (the SOURCERPM's version-release with the package's
 * epoch)}; "manager" is "rpm", "changed_at" the database file's mtime.
 *
 * Why not librpm (dlopen, as libcurl is): measured on Debian 12 with rpm
 * 4.18 over the 144 real headers of a CentOS 7 image (a 7.5 MB Berkeley
 * DB file, and the same in a 9.3 MB rpmdb.sqlite), librpm.so.9 and what
 * it pulls in beyond the agent's own libraries (librpmio, Lua 5.3, popt,
 * bzip2) are 1.1 MB, cost 3-5 ms to load and configure and then 28-47 ms
 * per read of either file, verifying every header; these readers are 6 KB
 * of code and take 2-3 ms (BDB) and 3.5-9 ms (SQLite) on the same, busy,
 * machine.  librpm's soname also differs
 * by release (librpm.so.3 on CentOS 7, .so.8 on RHEL 8, .so.9 later).
 */
#ifndef DERELICT_AGENT_COLLECT_RPM_H
#define DERELICT_AGENT_COLLECT_RPM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on what is read: a Packages file or rpmdb.sqlite bigger than this
 * is refused (-EFBIG) before it is opened for reading. */
#define COLLECT_RPM_MAX_DB (2048ull << 20)

/* 0 and a new section in *ret (the caller's); -ENOENT when the root has
 * no RPM database; another negative errno when it cannot be read. */
int collect_rpm(const char *root, json_t **ret);

/* Whether the root has an RPM database: 1 or 0. */
int collect_rpm_present(const char *root);

/* Appends the item of one header blob to items.  0 (also when the header
 * is skipped: malformed, or items already full), or -ENOMEM. */
int collect_rpm_add_header(const uint8_t *blob, size_t len, json_t *items);

/* Appends the items of a Berkeley DB Packages file in buf.  0, -EBADMSG
 * when it is not one, -ENOMEM. */
int collect_rpm_parse_bdb(const uint8_t *buf, size_t len, json_t *items);

#endif
