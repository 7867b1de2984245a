/*
 * timeutil.h - RFC 3339 times, calendar dates and systemd-style time spans.
 *
 * Times are seconds since the epoch in an int64_t, always UTC.
 */
#ifndef DERELICT_TIMEUTIL_H
#define DERELICT_TIMEUTIL_H

#include <stdint.h>

#define TIME_RFC3339_LEN 21	/* "2026-11-26T10:00:00Z" and NUL */
#define TIME_DATE_LEN 11	/* "2026-11-26" and NUL */

int64_t time_now(void);

/* Writes "YYYY-MM-DDTHH:MM:SSZ"; -ERANGE (and "") outside years 0-9999. */
int time_format(int64_t t, char out[TIME_RFC3339_LEN]);
/* Accepts "YYYY-MM-DDTHH:MM:SS", optional fraction, then "Z" or "+HH:MM";
 * 0 and *ret set, or -EINVAL with *ret untouched. */
int time_parse(const char *s, int64_t *ret);

/* "YYYY-MM-DD" at midnight UTC. */
int date_format(int64_t t, char out[TIME_DATE_LEN]);
int date_parse(const char *s, int64_t *ret);

/* A span as systemd writes it ("90s", "48h", "30d", "1h 30min", "2w"); a
 * bare number is seconds.  0 and *ret in seconds, or -EINVAL/-ERANGE. */
int span_parse(const char *s, int64_t *ret);

#endif
