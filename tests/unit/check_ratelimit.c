/* check_ratelimit.c - unit tests for server/ratelimit.c: who is refused
 * after whose failures.  Counts are per minute of the wall clock, so each
 * test starts well inside one. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ratelimit.h"
#include "timeutil.h"
#include "testutil.h"

static void inside_one_minute(void)
{
	if (time_now() % 60 > 50)
		sleep((unsigned)(61 - time_now() % 60));
}

START_TEST(test_address_limit)
{
	inside_one_minute();
	for (int i = 0; i < RATELIMIT_FAILURES - 1; i++)
		ratelimit_fail(RATELIMIT_TOKEN, "10.0.0.1", NULL);
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_TOKEN, "10.0.0.1", NULL),
			 0);
	ratelimit_fail(RATELIMIT_TOKEN, "10.0.0.1", NULL);
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_TOKEN, "10.0.0.1", NULL),
			 1);
	/* Another address, and enrollment from the same one, are not. */
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_TOKEN, "10.0.0.2", NULL),
			 0);
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_ENROLL, "10.0.0.1", NULL),
			 0);
}
END_TEST

START_TEST(test_credential_limit_follows_the_credential)
{
	char addr[32];

	inside_one_minute();
	/* One stale token retried from many addresses, each under its own
	 * limit. */
	for (int i = 0; i < RATELIMIT_CREDENTIAL_FAILURES; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d", i);
		ratelimit_fail(RATELIMIT_TOKEN, addr, "stale-token");
	}
	ck_assert_int_eq(
		ratelimit_blocked(RATELIMIT_TOKEN, "10.1.1.1", "stale-token"), 1);
	ck_assert_int_eq(
		ratelimit_blocked(RATELIMIT_TOKEN, "10.1.1.1", "other-token"), 0);
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_TOKEN, "10.1.1.1", NULL),
			 0);
}
END_TEST

START_TEST(test_global_cap)
{
	char addr[32];
	unsigned before;

	inside_one_minute();
	before = ratelimit_global_failures(RATELIMIT_ENROLL);
	for (int i = 0; i < RATELIMIT_GLOBAL_FAILURES; i++) {
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 10, i % 10);
		ratelimit_fail(RATELIMIT_ENROLL, addr, NULL);
	}
	ck_assert_uint_ge(ratelimit_global_failures(RATELIMIT_ENROLL),
			  before + RATELIMIT_GLOBAL_FAILURES);
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_ENROLL, "10.3.0.1", NULL),
			 1);
	/* Enrollment guesses do not count against tokens. */
	ck_assert_int_eq(ratelimit_blocked(RATELIMIT_TOKEN, "10.3.0.1", NULL),
			 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, test_address_limit);
	tcase_add_test(tc, test_credential_limit_follows_the_credential);
	tcase_add_test(tc, test_global_cap);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
