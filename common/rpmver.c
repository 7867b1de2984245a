/* rpmver.c - see rpmver.h.  Written from rpm's documented ordering
 * (rpm.org's "Version comparison" and rpmvercmp(3)); spans instead of
 * NUL-terminated copies, so comparing an EVR needs no buffer. */
#include "rpmver.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct span {
	const char *s;
	size_t n;
};

/* rpm's own character classes are ASCII only, whatever the locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static int sign_of(int v)
{
	return (v > 0) - (v < 0);
}

static int span_cmp(struct span a, struct span b)
{
	const char *p = a.s, *pe = a.s + a.n, *q = b.s, *qe = b.s + b.n;

	if (a.n == b.n && memcmp(a.s, b.s, a.n) == 0)
		return 0;
	while (p < pe || q < qe) {
		const char *sp, *sq;
		size_t lp, lq;
		bool num;
		int c;

		while (p < pe && !is_alnum(*p) && *p != '~' && *p != '^')
			p++;
		while (q < qe && !is_alnum(*q) && *q != '~' && *q != '^')
			q++;
		/* A tilde loses against anything but another tilde. */
		if ((p < pe && *p == '~') || (q < qe && *q == '~')) {
			if (p >= pe || *p != '~')
				return 1;
			if (q >= qe || *q != '~')
				return -1;
			p++;
			q++;
			continue;
		}
		/* A caret wins only against the end. */
		if ((p < pe && *p == '^') || (q < qe && *q == '^')) {
			if (p >= pe)
				return -1;
			if (q >= qe)
				return 1;
			if (*p != '^')
				return 1;
			if (*q != '^')
				return -1;
			p++;
			q++;
			continue;
		}
		if (p >= pe || q >= qe)
			break;
		sp = p;
		sq = q;
		num = is_digit(*p);
		if (num) {
			while (p < pe && is_digit(*p))
				p++;
			while (q < qe && is_digit(*q))
				q++;
		} else {
			while (p < pe && is_alpha(*p))
				p++;
			while (q < qe && is_alpha(*q))
				q++;
		}
		/* Segments of different kinds: the number is newer. */
		if (q == sq)
			return num ? 1 : -1;
		if (num) {
			while (sp < p - 1 && *sp == '0')
				sp++;
			while (sq < q - 1 && *sq == '0')
				sq++;
			if ((size_t)(p - sp) != (size_t)(q - sq))
				return (p - sp) > (q - sq) ? 1 : -1;
		}
		lp = (size_t)(p - sp);
		lq = (size_t)(q - sq);
		c = memcmp(sp, sq, lp < lq ? lp : lq);
		if (c)
			return sign_of(c);
		if (lp != lq)
			return lp > lq ? 1 : -1;
	}
	if (p >= pe && q >= qe)
		return 0;
	return p < pe ? 1 : -1;
}

int rpmver_segcmp(const char *a, const char *b)
{
	return span_cmp((struct span){ a, strlen(a) },
			(struct span){ b, strlen(b) });
}

struct evr {
	struct span e, v, r;
	bool has_r;
};

static void evr_split(const char *s, struct evr *ret)
{
	size_t n = strlen(s), d = 0;
	const char *v = s, *dash;

	while (is_digit(s[d]))
		d++;
	if (s[d] == ':') {
		ret->e = d ? (struct span){ s, d } : (struct span){ "0", 1 };
		v = s + d + 1;
	} else {
		ret->e = (struct span){ "0", 1 };
	}
	dash = strrchr(v, '-');
	ret->has_r = dash != NULL;
	if (dash) {
		ret->v = (struct span){ v, (size_t)(dash - v) };
		ret->r = (struct span){ dash + 1, (size_t)(s + n - dash - 1) };
	} else {
		ret->v = (struct span){ v, (size_t)(s + n - v) };
		ret->r = (struct span){ "", 0 };
	}
}

int rpmver_compare(const char *a, const char *b)
{
	struct evr x, y;
	int r;

	evr_split(a, &x);
	evr_split(b, &y);
	r = span_cmp(x.e, y.e);
	if (r)
		return r;
	r = span_cmp(x.v, y.v);
	if (r)
		return r;
	if (x.has_r && y.has_r)
		return span_cmp(x.r, y.r);
	return (int)x.has_r - (int)y.has_r;
}

int rpmver_valid(const char *v)
{
	size_t n, d = 0;
	struct evr x;

	if (!v)
		return -EINVAL;
	n = strlen(v);
	if (n == 0 || n > RPMVER_MAX_LEN)
		return -EINVAL;
	while (is_digit(v[d]))
		d++;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == ':' && i == d)
			continue;
		if (!is_alnum(c) && !strchr("._+~^-", c))
			return -EINVAL;
	}
	evr_split(v, &x);
	return x.v.n ? 0 : -EINVAL;
}

int rpmver_upstream(const char *v, char *out, size_t size)
{
	struct evr x;

	if (!v)
		return -EINVAL;
	if (size == 0)
		return -ENOBUFS;
	evr_split(v, &x);
	if (x.v.n >= size) {
		out[0] = '\0';
		return -ENOBUFS;
	}
	memcpy(out, x.v.s, x.v.n);
	out[x.v.n] = '\0';
	return 0;
}
