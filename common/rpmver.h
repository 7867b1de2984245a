/*
 * rpmver.h - RPM package version syntax and ordering, as rpm(8) orders
 * [epoch:]version[-release] strings (rpmvercmp and its EVR comparison).
 *
 * The epoch is the run of digits before a colon at the very start (an
 * empty one counts as 0, a missing one as 0); the release starts after the
 * last hyphen.  Each of epoch, version and release is compared segment by
 * segment: runs of characters other than ASCII letters, digits, '~' and '^'
 * only separate; a '~' sorts before everything, even the end of the string
 * ("1.0~rc1" < "1.0"); a '^' sorts after the end of the string but before
 * anything else ("1.0" < "1.0^git1" < "1.0.1"); a digit run beats a letter
 * run; digit runs compare numerically without conversion (any length),
 * letter runs by byte value.  When one side has a release and the other
 * none, the side with one is newer, as rpm's own rpm.vercmp() answers.
 *
 * Pure, never allocates, never fails; tested against rpm 4.18 on generated
 * pairs (tests/unit/check_rpmver.c).
 */
#ifndef DERELICT_RPMVER_H
#define DERELICT_RPMVER_H

#include <stddef.h>

/* Longest version rpmver_valid() accepts, as for dpkgver. */
#define RPMVER_MAX_LEN 256

/* a against b as whole [epoch:]version[-release] strings: < 0 when a is
 * older, 0 when equal ("1.0" and "0:1.00"), > 0 when newer. */
int rpmver_compare(const char *a, const char *b);

/* One epoch, version or release string against another (rpmvercmp(3)):
 * -1, 0 or 1. */
int rpmver_segcmp(const char *a, const char *b);

/* 0 when v is a version worth comparing from untrusted input: not NULL,
 * 1 to RPMVER_MAX_LEN bytes of [A-Za-z0-9._+~^:-], a colon only after a
 * leading run of digits, a non-empty version part; -EINVAL otherwise. */
int rpmver_valid(const char *v);

/* Copies the version part of v (no epoch, no release) into out, which has
 * room for size bytes with the NUL.  0, -EINVAL when v is NULL, -ENOBUFS
 * when out is too small (out then holds ""). */
int rpmver_upstream(const char *v, char *out, size_t size);

#endif
