/*
 * check_timeutil.c - RFC 3339 times, dates and systemd-style spans.  The
 * epoch values were computed with GNU date ("date -u -d ... +%s").
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "testutil.h"

#define T_2026_11_26_10 INT64_C(1795687200) /* 2026-11-26T10:00:00Z */

static void expect_time(const char *s, int64_t want)
{
	int64_t t = -12345;

	ck_assert_msg(time_parse(s, &t) == 0, "time_parse(\"%s\") failed", s);
	ck_assert_msg(t == want, "time_parse(\"%s\") = %lld, want %lld", s,
		      (long long)t, (long long)want);
}

static void expect_bad_time(const char *s)
{
	int64_t t = -12345;

	ck_assert_msg(time_parse(s, &t) == -EINVAL,
		      "time_parse(\"%s\") accepted", s);
	ck_assert_msg(t == -12345, "time_parse(\"%s\") wrote *ret", s);
}

static void expect_span(const char *s, int64_t want)
{
	int64_t v = -12345;
	int r = span_parse(s, &v);

	ck_assert_msg(r == 0, "span_parse(\"%s\") = %d", s, r);
	ck_assert_msg(v == want, "span_parse(\"%s\") = %lld, want %lld", s,
		      (long long)v, (long long)want);
}

static void expect_bad_span(const char *s, int err)
{
	int64_t v = -12345;
	int r = span_parse(s, &v);

	ck_assert_msg(r == err, "span_parse(\"%s\") = %d, want %d", s, r, err);
	ck_assert_msg(v == -12345, "span_parse(\"%s\") wrote *ret", s);
}

START_TEST(test_format_known)
{
	char out[TIME_RFC3339_LEN];

	ck_assert_int_eq(time_format(T_2026_11_26_10, out), 0);
	ck_assert_str_eq(out, "2026-11-26T10:00:00Z");
	ck_assert_int_eq(time_format(0, out), 0);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	ck_assert_int_eq(time_format(INT64_C(253402300799), out), 0);
	ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
	ck_assert_int_eq(time_format(INT64_C(1709164800), out), 0);
	ck_assert_str_eq(out, "2024-02-29T00:00:00Z");
}
END_TEST

START_TEST(test_format_out_of_range)
{
	char out[TIME_RFC3339_LEN] = "junk";

	ck_assert_int_eq(time_format(INT64_C(253402300800), out), -ERANGE);
	ck_assert_str_eq(out, "");
	memcpy(out, "junk", 5);
	ck_assert_int_eq(date_format(INT64_C(253402300800), out), -ERANGE);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Years below 1000 must still print four digits, or the text is not RFC
 * 3339 and time_parse() cannot read it back. */
START_TEST(test_format_small_years_padded)
{
	char out[TIME_RFC3339_LEN], day[TIME_DATE_LEN];
	int64_t t;

	ck_assert_int_eq(time_format(INT64_C(-62135596800), out), 0);
	ck_assert_str_eq(out, "0001-01-01T00:00:00Z");
	ck_assert_int_eq(date_format(INT64_C(-62135596800), day), 0);
	ck_assert_str_eq(day, "0001-01-01");
	ck_assert_int_eq(time_parse(out, &t), 0);
	ck_assert_int_eq(t, INT64_C(-62135596800));
}
END_TEST

START_TEST(test_round_trip)
{
	static const int64_t ts[] = {
		0, 1, 59, 86399, 86400, INT64_C(951782400),
		INT64_C(1709164800), T_2026_11_26_10, INT64_C(1798761599),
		INT64_C(253402300799), INT64_C(-1),
	};
	char out[TIME_RFC3339_LEN];

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		int64_t back = 0;

		ck_assert_int_eq(time_format(ts[i], out), 0);
		ck_assert_int_eq(strlen(out), TIME_RFC3339_LEN - 1);
		ck_assert_int_eq(time_parse(out, &back), 0);
		ck_assert_int_eq(back, ts[i]);
	}
	/* Every 7 hours over a few years, across leap days. */
	for (int64_t t = INT64_C(1700000000); t < INT64_C(1800000000);
	     t += 7 * 3600 + 13) {
		int64_t back = 0;

		ck_assert_int_eq(time_format(t, out), 0);
		ck_assert_int_eq(time_parse(out, &back), 0);
		ck_assert_int_eq(back, t);
	}
}
END_TEST

START_TEST(test_parse_offsets_and_fractions)
{
	expect_time("2026-11-26T10:00:00Z", T_2026_11_26_10);
	expect_time("2026-11-26t10:00:00z", T_2026_11_26_10);
	expect_time("2026-11-26 10:00:00Z", T_2026_11_26_10);
	/* 12:00 at +02:00 is 10:00 UTC. */
	expect_time("2026-11-26T12:00:00+02:00", T_2026_11_26_10);
	expect_time("2026-11-26T05:30:00-04:30", T_2026_11_26_10);
	expect_time("2026-11-26T10:00:00+00:00", T_2026_11_26_10);
	expect_time("2026-11-26T10:00:00-00:00", T_2026_11_26_10);
	/* An offset that crosses midnight. */
	expect_time("2026-11-27T01:00:00+15:00", T_2026_11_26_10);
	/* Fractions are accepted and dropped. */
	expect_time("2026-11-26T10:00:00.5Z", T_2026_11_26_10);
	expect_time("2026-11-26T10:00:00.999999999Z", T_2026_11_26_10);
	expect_time("2026-11-26T12:00:00.123+02:00", T_2026_11_26_10);
	expect_time("1970-01-01T00:00:00Z", 0);
}
END_TEST

START_TEST(test_parse_rejects)
{
	expect_bad_time("");
	expect_bad_time("2026-11-26");
	expect_bad_time("2026-11-26T10:00:00");	  /* no zone */
	expect_bad_time("2026-11-26T10:00Z");	  /* no seconds */
	expect_bad_time("2026-11-26T10:00:00.Z"); /* empty fraction */
	expect_bad_time("2026-11-26T10:00:00ZZ");
	expect_bad_time("2026-11-26T10:00:00Z ");
	expect_bad_time("2026-11-26T10:00:00+0200");
	expect_bad_time("2026-11-26T10:00:00+02");
	expect_bad_time("2026-11-26T10:00:00+24:00");
	expect_bad_time("2026-11-26T24:00:00Z");
	expect_bad_time("2026-11-26T10:60:00Z");
	expect_bad_time("2026-11-26T10:00:61Z");
	expect_bad_time("2026-02-30T10:00:00Z");
	expect_bad_time("2026-04-31T10:00:00Z");
	expect_bad_time("2026-13-01T10:00:00Z");
	expect_bad_time("2026-00-01T10:00:00Z");
	expect_bad_time("2026-11-00T10:00:00Z");
	expect_bad_time("26-11-26T10:00:00Z");
	expect_bad_time("2026/11/26T10:00:00Z");
	expect_bad_time("2026-1-26T10:00:00Z");
	expect_bad_time("2026-11-26X10:00:00Z");
	expect_bad_time("2026-11-26T1a:00:00Z");
	ck_assert_int_eq(time_parse(NULL, &(int64_t){ 0 }), -EINVAL);
}
END_TEST

START_TEST(test_leap_years)
{
	int64_t t;

	ck_assert_int_eq(date_parse("2024-02-29", &t), 0);
	ck_assert_int_eq(t, INT64_C(1709164800));
	ck_assert_int_eq(date_parse("2000-02-29", &t), 0);
	ck_assert_int_eq(t, INT64_C(951782400));
	ck_assert_int_eq(date_parse("2023-02-29", &t), -EINVAL);
	ck_assert_int_eq(date_parse("1900-02-29", &t), -EINVAL);
	ck_assert_int_eq(date_parse("2100-02-29", &t), -EINVAL);
	ck_assert_int_eq(date_parse("2400-02-29", &t), 0);
	ck_assert_int_eq(date_parse("2024-02-30", &t), -EINVAL);
	ck_assert_int_eq(time_parse("2024-02-29T23:59:59Z", &t), 0);
	ck_assert_int_eq(t, INT64_C(1709164800) + 86399);
}
END_TEST

START_TEST(test_date_parse_and_format)
{
	char out[TIME_DATE_LEN];
	int64_t t = 7;

	ck_assert_int_eq(date_parse("2026-11-26", &t), 0);
	ck_assert_int_eq(t, T_2026_11_26_10 - 10 * 3600);
	ck_assert_int_eq(date_format(t, out), 0);
	ck_assert_str_eq(out, "2026-11-26");
	/* date_format drops the time of day. */
	ck_assert_int_eq(date_format(T_2026_11_26_10, out), 0);
	ck_assert_str_eq(out, "2026-11-26");
	ck_assert_int_eq(date_parse("1970-01-01", &t), 0);
	ck_assert_int_eq(t, 0);

	t = 7;
	ck_assert_int_eq(date_parse("2026-02-30", &t), -EINVAL);
	ck_assert_int_eq(date_parse("2026-11-26T10:00:00Z", &t), -EINVAL);
	ck_assert_int_eq(date_parse("2026-11-2", &t), -EINVAL);
	ck_assert_int_eq(date_parse("2026-11-26 ", &t), -EINVAL);
	ck_assert_int_eq(date_parse("", &t), -EINVAL);
	ck_assert_int_eq(date_parse(NULL, &t), -EINVAL);
	ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(test_time_now)
{
	int64_t now = time_now();

	/* After this test was written and before the format runs out. */
	ck_assert_int_gt(now, INT64_C(1700000000));
	ck_assert_int_lt(now, INT64_C(253402300799));
}
END_TEST

START_TEST(test_span_units)
{
	expect_span("90s", 90);
	expect_span("48h", 48 * 3600);
	expect_span("30d", 30 * 86400);
	expect_span("2w", 14 * 86400);
	expect_span("60", 60);
	expect_span("0", 0);
	expect_span("5min", 300);
	expect_span("5m", 300);
	expect_span("1M", 2629800);
	expect_span("1y", 31557600);
	expect_span("3 days", 3 * 86400);
	expect_span("1 hour", 3600);
	expect_span("10sec", 10);
	expect_span("  90s  ", 90);
}
END_TEST

START_TEST(test_span_combined)
{
	expect_span("1h 30min", 5400);
	expect_span("1h30min", 5400);
	expect_span("1d 2h 3min 4s", 86400 + 7200 + 180 + 4);
	expect_span("2w 1d", 15 * 86400);
}
END_TEST

START_TEST(test_span_rejects)
{
	expect_bad_span("", -EINVAL);
	expect_bad_span("   ", -EINVAL);
	expect_bad_span("5x", -EINVAL);
	expect_bad_span("h", -EINVAL);
	expect_bad_span("-1d", -EINVAL);
	expect_bad_span("+1d", -EINVAL);
	expect_bad_span("1.5h", -EINVAL);
	expect_bad_span("1h 30", -EINVAL); /* bare number only alone */
	expect_bad_span("60 60", -EINVAL);
	expect_bad_span("1hours2", -EINVAL);
	expect_bad_span("10 parsecs", -EINVAL);
	expect_bad_span("1H", -EINVAL);
	ck_assert_int_eq(span_parse(NULL, &(int64_t){ 0 }), -EINVAL);
}
END_TEST

START_TEST(test_span_overflow)
{
	int64_t v;

	expect_bad_span("99999999999999999999", -ERANGE);
	expect_bad_span("9223372036854775807w", -ERANGE);
	/* The largest number of weeks that fits, and one more. */
	expect_span("15250284452471w", INT64_C(15250284452471) * 604800);
	expect_bad_span("15250284452472w", -ERANGE);
	/* Each part fits but the sum does not. */
	expect_bad_span("15250284452471w 15250284452471w", -ERANGE);
	ck_assert_int_eq(span_parse("922337203685477580", &v), 0);
	ck_assert_int_eq(v, INT64_C(922337203685477580));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeutil");
	TCase *tc = tcase_create("timeutil");

	tcase_add_test(tc, test_format_known);
	tcase_add_test(tc, test_format_out_of_range);
	tcase_add_test(tc, test_format_small_years_padded);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_parse_offsets_and_fractions);
	tcase_add_test(tc, test_parse_rejects);
	tcase_add_test(tc, test_leap_years);
	tcase_add_test(tc, test_date_parse_and_format);
	tcase_add_test(tc, test_time_now);
	tcase_add_test(tc, test_span_units);
	tcase_add_test(tc, test_span_combined);
	tcase_add_test(tc, test_span_rejects);
	tcase_add_test(tc, test_span_overflow);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
