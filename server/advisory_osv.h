/*
 * advisory_osv.h - Ubuntu's OSV records (the osv/ directory of Ubuntu's
 * ubuntu-security-notices repository: osv/usn/USN-*.json and
 * osv/cve/YYYY/UBUNTU-CVE-*.json) turned into one document in the shipped
 * format of advisory.h, with "origin": "osv", so it is imported, kept and
 * loaded like any other file.
 *
 * Each record's "affected" entries of an ecosystem "Ubuntu:22.04:LTS" (or
 * "Ubuntu:Pro:18.04:LTS", used only where the release has no other entry)
 * become a fix for that release's codename (from the EOL table): the
 * ECOSYSTEM range's "fixed" event, compared in dpkg order like a Debian
 * version, or "open" when there is none; the USN id is the advisory, the
 * CVE ids come from the record's id, "aliases", "related" and "upstream",
 * and ecosystem_specific.ubuntu_priority is the urgency.  The "introduced"
 * event is not read: every version before the fix counts as affected.
 *
 * Rocky Linux's and AlmaLinux's records (ecosystems "Rocky Linux:8",
 * "AlmaLinux:9") become fixes for the releases "rocky:8", "almalinux:9"
 * (advisory.h): the package name is the RPM's, matched against a host's
 * source RPM, the fixed version an RPM version ("2:3.5.8-8.el8_10"), the
 * record's id (RLSA-…, ALSA-…) the advisory, the CVEs its "related" and
 * "aliases", and the first word of its summary ("Important:") the
 * severity.
 *
 * Pure data: no I/O, no logging; functions return 0 or a negative errno.
 */
#ifndef DERELICT_ADVISORY_OSV_H
#define DERELICT_ADVISORY_OSV_H

#include <stddef.h>

#include "advisory.h"

#define ADVISORY_OSV_MAX_RECORD (4u << 20)	/* bytes of one record */

struct advisory_osv;

/* A new converter; eol (not owned, must outlive it) maps Ubuntu versions
 * to codenames.  0 or -ENOMEM. */
int advisory_osv_new(const struct advisory_db *eol, struct advisory_osv **ret);
void advisory_osv_free(struct advisory_osv *o);

/* Adds one record.  0; 1 when it has nothing for a known release
 * (skipped); -EINVAL when it is not an OSV record; -E2BIG past a cap;
 * -ENOMEM. */
int advisory_osv_add(struct advisory_osv *o, const char *json, size_t len);

/* The document of everything added: a new string (the caller frees it),
 * its length and its number of entries.  0 or -ENOMEM. */
int advisory_osv_finish(struct advisory_osv *o, char **ret, size_t *ret_len,
			size_t *ret_entries);

#endif
