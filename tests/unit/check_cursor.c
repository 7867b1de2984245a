/*
 * check_cursor.c - the API's page cursors (server/cursor.c): each format
 * parses back to what made it, and what no page made is refused.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

START_TEST(test_id)
{
	char s[CURSOR_MAX];
	int64_t v = 0;

	cursor_format_id(1234567890123LL, s);
	ck_assert_str_eq(s, "1234567890123");
	ck_assert_int_eq(cursor_parse_id(s, &v), 0);
	ck_assert_int_eq(v, 1234567890123LL);
	ck_assert_int_eq(cursor_parse_id("", &v), -EINVAL);
	ck_assert_int_eq(cursor_parse_id("0", &v), -EINVAL);
	ck_assert_int_eq(cursor_parse_id("-3", &v), -EINVAL);
	ck_assert_int_eq(cursor_parse_id("12x", &v), -EINVAL);
	ck_assert_int_eq(v, 1234567890123LL);	/* untouched on failure */
}
END_TEST

START_TEST(test_finding)
{
	struct cursor_finding c = { 4, 77 }, back = { 0, 0 };
	char s[CURSOR_MAX];

	cursor_format_finding(&c, s);
	ck_assert_str_eq(s, "4:77");
	ck_assert_int_eq(cursor_parse_finding(s, &back), 0);
	ck_assert_int_eq(back.level, 4);
	ck_assert_int_eq(back.id, 77);
	ck_assert_int_eq(cursor_parse_finding("0:1", &back), 0);
	ck_assert_int_eq(cursor_parse_finding("5:1", &back), -EINVAL);
	ck_assert_int_eq(cursor_parse_finding("-1:1", &back), -EINVAL);
	ck_assert_int_eq(cursor_parse_finding("3:0", &back), -EINVAL);
	ck_assert_int_eq(cursor_parse_finding("3", &back), -EINVAL);
	ck_assert_int_eq(cursor_parse_finding("3:1099511627776", &back),
			 -EINVAL);	/* 2^40 */
	ck_assert_int_eq(cursor_parse_finding("3:12:1", &back), -EINVAL);
}
END_TEST

START_TEST(test_package)
{
	const char *arch = NULL;
	char s[CURSOR_MAX];
	int64_t host = 0;

	cursor_format_package(12, "i386", s);
	ck_assert_str_eq(s, "12:i386");
	ck_assert_int_eq(cursor_parse_package(s, &host, &arch), 0);
	ck_assert_int_eq(host, 12);
	ck_assert_str_eq(arch, "i386");
	cursor_format_package(3, NULL, s);
	ck_assert_str_eq(s, "3:");
	ck_assert_int_eq(cursor_parse_package(s, &host, &arch), 0);
	ck_assert_str_eq(arch, "");
	ck_assert_int_eq(cursor_parse_package("0:amd64", &host, &arch), -EINVAL);
	ck_assert_int_eq(cursor_parse_package("12", &host, &arch), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc = tcase_create("cursor");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_id);
	tcase_add_test(tc, test_finding);
	tcase_add_test(tc, test_package);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
