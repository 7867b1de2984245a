/* check_collect_logins.c - wtmp, wtmpdb and utmp from the wtmp fixture. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "jsonutil.h"
#include "timeutil.h"

static const char *root_of(const char *name)
{
	static char path[4096];
	const char *fx = getenv("FIXTURES");

	snprintf(path, sizeof(path), "%s/roots/%s", fx ? fx : "tests/fixtures",
		 name);
	return path;
}

static int64_t at(const char *s)
{
	int64_t t = 0;

	ck_assert_int_eq(time_parse(s, &t), 0);
	return t;
}

START_TEST(wtmp_and_wtmpdb)
{
	json_t *sec = NULL, *items, *last, *it;
	size_t i;
	int alice = 0;

	ck_assert_int_eq(collect_logins(root_of("wtmp"),
					at("2026-11-26T00:00:00Z"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "wtmp+wtmpdb");
	/* alice's session (pid 4321) runs; mallory's process is gone. */
	ck_assert_int_eq(json_get_int(sec, "open_sessions", -1), 1);
	last = json_object_get(sec, "last");
	ck_assert_str_eq(json_get_str(last, "user"), "dave");
	ck_assert_str_eq(json_get_str(last, "at"), "2026-11-25T06:30:00Z");
	ck_assert_str_eq(json_get_str(last, "from"), "198.51.100.8");
	items = json_object_get(sec, "items");
	/* carol (June) is outside 90 days; alice's 11-20 login is in both
	 * wtmp and wtmpdb and counted once. */
	ck_assert_uint_eq(json_array_size(items), 4);
	json_array_foreach(items, i, it) {
		ck_assert_str_ne(json_get_str(it, "user"), "carol");
		ck_assert_str_ne(json_get_str(it, "user"), "reboot");
		if (strcmp(json_get_str(it, "user"), "alice") == 0)
			alice++;
		if (strcmp(json_get_str(it, "user"), "bob") == 0) {
			/* A console login comes from nowhere. */
			ck_assert(json_is_null(json_object_get(it, "from")));
			ck_assert_str_eq(json_get_str(it, "at"),
					 "2026-11-01T08:00:00Z");
		}
	}
	ck_assert_int_eq(alice, 2);
	json_decref(sec);
}
END_TEST

START_TEST(wtmp_alone)
{
	struct login_list l = { 0 };
	char path[4200];

	snprintf(path, sizeof(path), "%s/var/log/wtmp", root_of("wtmp"));
	ck_assert_int_eq(logins_read_wtmp(path, 0, &l), 0);
	ck_assert_uint_eq(l.n, 4);	/* carol, alice, bob, alice */
	ck_assert(l.have_last);
	ck_assert_str_eq(l.last.user, "alice");
	ck_assert_str_eq(l.last.from, "2001:db8::7");
	login_list_free(&l);
	ck_assert_int_eq(logins_read_wtmp("/nonexistent/wtmp", 0, &l),
			 -ENOENT);
}
END_TEST

START_TEST(no_records)
{
	json_t *sec = NULL;

	ck_assert_int_eq(collect_logins(root_of("exim"), 1800000000, &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "none");
	ck_assert(json_is_null(json_object_get(sec, "last")));
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 0);
	json_decref(sec);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_logins");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, wtmp_and_wtmpdb);
	tcase_add_test(tc, wtmp_alone);
	tcase_add_test(tc, no_records);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
