/*
 * dpkgver.h - Debian package version syntax and ordering (deb-version(7)).
 *
 * A version is [epoch:]upstream_version[-debian_revision]: the epoch runs up
 * to the first colon, the revision starts after the last hyphen.  Ordering is
 * dpkg's own: epochs numerically, then upstream and revision each compared
 * by alternating runs of non-digits (where '~' sorts before everything, even
 * the end of the string, and letters sort before all other characters) and
 * digit runs (compared numerically, of any length, without converting them
 * to integers, so a 100-digit run cannot overflow).  A missing revision
 * compares like "0" does, as in dpkg.
 */
#ifndef DERELICT_DPKGVER_H
#define DERELICT_DPKGVER_H

#include <stddef.h>

/* Longest version dpkgver_valid() accepts; dpkg itself has no limit, this
 * one only keeps hostile input from costing much. */
#define DPKGVER_MAX_LEN 256

/*
 * Compares two versions as "dpkg --compare-versions" does: < 0 when a sorts
 * before b, 0 when they are equal (e.g. "1.0" and "1.00-0"), > 0 after.
 * Leading and trailing blanks are ignored, as dpkg ignores them.
 *
 * Never fails and never allocates.  Versions dpkg merely warns about (an
 * upstream part not starting with a digit, odd characters) are ordered
 * exactly as dpkg orders them.  For strings dpkg refuses outright (empty, a
 * non-numeric epoch, nothing after the colon) the result is still a
 * consistent order but one that means nothing; callers that take versions
 * from untrusted input check dpkgver_valid() first.
 */
int dpkgver_compare(const char *a, const char *b);

/*
 * 0 when v is a well-formed version that dpkg accepts without even a warning
 * and is at most DPKGVER_MAX_LEN bytes long; -EINVAL otherwise (NULL, empty,
 * embedded blanks, epoch not a number or above INT_MAX, empty upstream part,
 * upstream part not starting with a digit, empty revision after a hyphen
 * (refused since dpkg 1.21), characters outside
 * [A-Za-z0-9.+~-:] in the upstream part or [A-Za-z0-9.+~] in the revision).
 * Leading and trailing blanks are allowed, as dpkg strips them.
 */
int dpkgver_valid(const char *v);

/*
 * Copies the upstream part of v (no epoch, no revision) into out, which has
 * room for size bytes including the NUL.  0, -EINVAL when v is NULL, or
 * -ENOBUFS when out is too small (out then holds "").
 */
int dpkgver_upstream(const char *v, char *out, size_t size);

#endif
