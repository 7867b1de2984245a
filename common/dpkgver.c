/*
 * dpkgver.c - Debian version ordering, written from deb-version(7) and
 * checked against "dpkg --compare-versions" (tests/unit/check_dpkgver.c).
 */
#include "dpkgver.h"

#include <errno.h>
#include <string.h>

/* A version split into its three parts; spans point into the caller's
 * string, which need not be NUL-terminated at their ends. */
struct span {
	const char *p;
	size_t n;
};

struct parts {
	struct span epoch;	/* n == 0 when there is no colon */
	struct span upstream;
	struct span revision;	/* n == 0 when there is no hyphen */
	int has_colon;
	int has_hyphen;
};

/* dpkg strips with c_isspace(), which is the C locale's isspace(). */
static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	       c == '\r';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void split(const char *v, struct parts *ret)
{
	const char *end, *colon, *hyphen;
	const char *rest;
	size_t restn;

	memset(ret, 0, sizeof(*ret));
	if (!v)
		v = "";
	while (is_blank(*v))
		v++;
	end = v + strlen(v);
	while (end > v && is_blank(end[-1]))
		end--;

	colon = memchr(v, ':', (size_t)(end - v));
	if (colon) {
		ret->has_colon = 1;
		ret->epoch.p = v;
		ret->epoch.n = (size_t)(colon - v);
		rest = colon + 1;
	} else {
		rest = v;
	}
	restn = (size_t)(end - rest);

	hyphen = NULL;
	for (const char *q = rest; q < end; q++)
		if (*q == '-')
			hyphen = q;
	ret->upstream.p = rest;
	if (hyphen) {
		ret->has_hyphen = 1;
		ret->upstream.n = (size_t)(hyphen - rest);
		ret->revision.p = hyphen + 1;
		ret->revision.n = (size_t)(end - hyphen - 1);
	} else {
		ret->upstream.n = restn;
		ret->revision.p = end;
	}
}

/* The weight of one character in a non-digit run; the end of the string
 * weighs 0 like a digit, '~' weighs less than either. */
static int weight(const struct span *s, size_t i)
{
	char c;

	if (i >= s->n)
		return 0;
	c = s->p[i];
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return (unsigned char)c;
	if (c == '~')
		return -1;
	return (unsigned char)c + 256;
}

static int digit_at(const struct span *s, size_t i)
{
	return i < s->n && is_digit(s->p[i]);
}

/* Compares two runs of digits as numbers: skip leading zeros, then the
 * longer run is larger, else the first differing digit decides. */
static int compare_digits(const struct span *a, size_t *ia,
			  const struct span *b, size_t *ib)
{
	int first_diff = 0;

	while (*ia < a->n && a->p[*ia] == '0')
		(*ia)++;
	while (*ib < b->n && b->p[*ib] == '0')
		(*ib)++;
	while (digit_at(a, *ia) && digit_at(b, *ib)) {
		if (!first_diff)
			first_diff = a->p[*ia] - b->p[*ib];
		(*ia)++;
		(*ib)++;
	}
	if (digit_at(a, *ia))
		return 1;
	if (digit_at(b, *ib))
		return -1;
	return first_diff;
}

static int compare_part(const struct span *a, const struct span *b)
{
	size_t ia = 0, ib = 0;

	while (ia < a->n || ib < b->n) {
		int r;

		while ((ia < a->n && !is_digit(a->p[ia])) ||
		       (ib < b->n && !is_digit(b->p[ib]))) {
			int wa = weight(a, ia), wb = weight(b, ib);

			if (wa != wb)
				return wa - wb;
			ia++;
			ib++;
		}
		r = compare_digits(a, &ia, b, &ib);
		if (r)
			return r;
	}
	return 0;
}

/* Epochs compare as unbounded numbers, so an absurd epoch cannot overflow;
 * a non-numeric epoch (invalid anyway) just lands somewhere consistent. */
static int compare_epoch(const struct span *a, const struct span *b)
{
	struct span x = *a, y = *b;
	int r;

	while (x.n && *x.p == '0') {
		x.p++;
		x.n--;
	}
	while (y.n && *y.p == '0') {
		y.p++;
		y.n--;
	}
	if (x.n != y.n)
		return x.n < y.n ? -1 : 1;
	r = x.n ? memcmp(x.p, y.p, x.n) : 0;
	return r < 0 ? -1 : r > 0;
}

int dpkgver_compare(const char *a, const char *b)
{
	struct parts pa, pb;
	int r;

	split(a, &pa);
	split(b, &pb);
	r = compare_epoch(&pa.epoch, &pb.epoch);
	if (r)
		return r;
	r = compare_part(&pa.upstream, &pb.upstream);
	if (r)
		return r;
	return compare_part(&pa.revision, &pb.revision);
}

static int valid_chars(const struct span *s, const char *extra)
{
	for (size_t i = 0; i < s->n; i++) {
		char c = s->p[i];

		if (!is_digit(c) && !is_alpha(c) && !strchr(extra, c))
			return 0;
	}
	return 1;
}

int dpkgver_valid(const char *v)
{
	struct parts p;

	if (!v || strnlen(v, DPKGVER_MAX_LEN + 1) > DPKGVER_MAX_LEN)
		return -EINVAL;
	split(v, &p);

	if (p.has_colon) {
		/* Digits only, no sign, and at most INT_MAX, which is what dpkg
		 * stores epochs in ("2147483647" has 10 digits). */
		struct span e = p.epoch;

		if (e.n == 0)
			return -EINVAL;
		for (size_t i = 0; i < e.n; i++)
			if (!is_digit(e.p[i]))
				return -EINVAL;
		while (e.n > 1 && *e.p == '0') {
			e.p++;
			e.n--;
		}
		if (e.n > 10 || (e.n == 10 && memcmp(e.p, "2147483647", 10) > 0))
			return -EINVAL;
	}
	if (p.upstream.n == 0 || !is_digit(p.upstream.p[0]))
		return -EINVAL;
	if (!valid_chars(&p.upstream, ".-+~:"))
		return -EINVAL;
	/* dpkg >= 1.21 refuses "1.0-": a hyphen promises a revision. */
	if (p.has_hyphen && p.revision.n == 0)
		return -EINVAL;
	if (!valid_chars(&p.revision, ".+~"))
		return -EINVAL;
	/* Blanks inside (the outer ones were stripped) fail valid_chars. */
	return 0;
}

int dpkgver_upstream(const char *v, char *out, size_t size)
{
	struct parts p;

	if (!v || !out || size == 0)
		return -EINVAL;
	split(v, &p);
	if (p.upstream.n >= size) {
		out[0] = '\0';
		return -ENOBUFS;
	}
	memcpy(out, p.upstream.p, p.upstream.n);
	out[p.upstream.n] = '\0';
	return 0;
}
