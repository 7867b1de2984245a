/* timeutil.c - see timeutil.h. */
#define _GNU_SOURCE
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int time_format(int64_t t, char out[TIME_RFC3339_LEN])
{
	struct tm tm;
	time_t tt = (time_t)t;

	out[0] = '\0';
	if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -ERANGE;
	/* Plain %Y does not pad years below 1000 in glibc. */
	strftime(out, TIME_RFC3339_LEN, "%04Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

int date_format(int64_t t, char out[TIME_DATE_LEN])
{
	struct tm tm;
	time_t tt = (time_t)t;

	out[0] = '\0';
	if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -ERANGE;
	strftime(out, TIME_DATE_LEN, "%04Y-%m-%d", &tm);
	return 0;
}

/* Reads exactly n digits; -1 when any is missing. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

static int days_in_month(int year, int mon)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : d[mon - 1];
}

static int parse_date_part(const char **p, struct tm *tm)
{
	int y, m, d;

	y = digits(p, 4);
	if (y < 0 || *(*p)++ != '-')
		return -EINVAL;
	m = digits(p, 2);
	if (m < 1 || m > 12 || *(*p)++ != '-')
		return -EINVAL;
	d = digits(p, 2);
	if (d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

int date_parse(const char *s, int64_t *ret)
{
	struct tm tm;
	const char *p = s;

	if (!s || parse_date_part(&p, &tm) < 0 || *p != '\0')
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

int time_parse(const char *s, int64_t *ret)
{
	struct tm tm;
	const char *p = s;
	int64_t off = 0;
	int h, m, sec;

	if (!s || parse_date_part(&p, &tm) < 0)
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	h = digits(&p, 2);
	if (h < 0 || h > 23 || *p++ != ':')
		return -EINVAL;
	m = digits(&p, 2);
	if (m < 0 || m > 59 || *p++ != ':')
		return -EINVAL;
	sec = digits(&p, 2);
	if (sec < 0 || sec > 60)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;

		oh = digits(&p, 2);
		if (oh < 0 || oh > 23 || *p++ != ':')
			return -EINVAL;
		om = digits(&p, 2);
		if (om < 0 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

static const struct {
	const char *name;
	int64_t seconds;
} span_units[] = {
	{ "seconds", 1 }, { "second", 1 }, { "sec", 1 }, { "s", 1 },
	{ "minutes", 60 }, { "minute", 60 }, { "min", 60 }, { "m", 60 },
	{ "hours", 3600 }, { "hour", 3600 }, { "hr", 3600 }, { "h", 3600 },
	{ "days", 86400 }, { "day", 86400 }, { "d", 86400 },
	{ "weeks", 604800 }, { "week", 604800 }, { "w", 604800 },
	{ "months", 2629800 }, { "month", 2629800 }, { "M", 2629800 },
	{ "years", 31557600 }, { "year", 31557600 }, { "y", 31557600 },
};

int span_parse(const char *s, int64_t *ret)
{
	const char *p = s;
	int64_t total = 0;
	int parts = 0;

	if (!s)
		return -EINVAL;
	for (;;) {
		int64_t n = 0, unit = 1;
		size_t len = 0;
		unsigned i;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (n > (INT64_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (*p++ - '0');
		}
		while (*p == ' ')
			p++;
		while (isalpha((unsigned char)p[len]))
			len++;
		if (len > 0) {
			for (i = 0; i < sizeof(span_units) / sizeof(span_units[0]); i++)
				if (strlen(span_units[i].name) == len &&
				    strncmp(span_units[i].name, p, len) == 0)
					break;
			if (i == sizeof(span_units) / sizeof(span_units[0]))
				return -EINVAL;
			unit = span_units[i].seconds;
			p += len;
		} else if (parts > 0 || *p != '\0') {
			/* A bare number is only allowed alone. */
			return -EINVAL;
		}
		if (n > (INT64_MAX - total) / unit)
			return -ERANGE;
		total += n * unit;
		parts++;
	}
	if (parts == 0)
		return -EINVAL;
	*ret = total;
	return 0;
}
