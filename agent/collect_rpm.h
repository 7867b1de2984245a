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
