/*
 * collect_packages.h - the packages section of the report (SPEC section 3):
 * the installed packages, from dpkg's status file, or on a host without
 * one from the RPM database (collect_rpm.h).
 *
 * collect_packages() reads the host's own files under a root directory ("/"
 * or a fixture tree) and returns 0 with a new reference in *ret (owned by
 * the caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.  The parsers take a stream so
 * that unit tests feed fixtures.
 */
#ifndef DERELICT_AGENT_COLLECT_PACKAGES_H
#define DERELICT_AGENT_COLLECT_PACKAGES_H

#include <jansson.h>
#include <stdio.h>

/* packages: {"manager": "dpkg", "changed_at", "items": [{name, version,
 * arch, source, source_version}]}. */
int collect_packages(const char *root, json_t **ret);
/* Appends the "install ok installed" stanzas of a dpkg status stream to
 * the array items.  0, or -ENOMEM. */
int collect_packages_parse_status(FILE *f, json_t *items);

#endif
