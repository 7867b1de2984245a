/* check_collect_packages.c - dpkg status parsing on a trimmed real file. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect_packages.h"
#include "jsonutil.h"
#include "testutil.h"

static json_t *find(json_t *items, const char *name, const char *arch)
{
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it)
		if (strcmp(json_get_str(it, "name"), name) == 0 &&
		    strcmp(json_get_str(it, "arch"), arch) == 0)
			return it;
	return NULL;
}

START_TEST(real_status)
{
	json_t *sec = NULL, *items, *it;

	ck_assert_int_eq(collect_packages(testutil_root("dpkg"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "manager"), "dpkg");
	ck_assert_ptr_nonnull(json_get_str(sec, "changed_at"));
	items = json_object_get(sec, "items");
	/* 12 stanzas, one of them a config-files leftover. */
	ck_assert_uint_eq(json_array_size(items), 11);
	ck_assert_ptr_null(find(items, "logrotate", "amd64"));
	/* Multi-arch: both architectures are separate items. */
	ck_assert_ptr_nonnull(find(items, "zlib1g", "amd64"));
	it = find(items, "zlib1g", "i386");
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(json_get_str(it, "version"), "1:1.2.13.dfsg-1");
	ck_assert_str_eq(json_get_str(it, "source"), "zlib");
	ck_assert_str_eq(json_get_str(it, "source_version"), "1:1.2.13.dfsg-1");
	/* "Source: util-linux (2.38.1-5+deb12u3)": the source's own
	 * version, without the binary's epoch. */
	it = find(items, "bsdutils", "amd64");
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(json_get_str(it, "source"), "util-linux");
	ck_assert_str_eq(json_get_str(it, "source_version"),
			 "2.38.1-5+deb12u3");
	ck_assert_str_eq(json_get_str(it, "version"), "1:2.38.1-5+deb12u3");
	/* No Source field: the binary's own name and version. */
	it = find(items, "adduser", "all");
	ck_assert_str_eq(json_get_str(it, "source"), "adduser");
	ck_assert_str_eq(json_get_str(it, "source_version"), "3.134");
	it = find(items, "exim4-daemon-light", "amd64");
	ck_assert_str_eq(json_get_str(it, "source"), "exim4");
	ck_assert_str_eq(json_get_str(it, "version"), "4.96-15+deb12u10");
	json_decref(sec);
}
END_TEST

START_TEST(states_and_continuations)
{
	const char *text =
		"Package: held\nStatus: hold ok installed\nVersion: 1.0\n"
		"Architecture: amd64\nDescription: one\n two\n .\n"
		" Package: not-a-field\n\n"
		"Package: half\nStatus: install reinstreq half-installed\n"
		"Version: 2\nArchitecture: amd64\n\n"
		"Package: gone\nStatus: purge ok not-installed\n"
		"Architecture: amd64\n\n"
		"package: lower\nstatus: install ok installed\nversion: 3\n"
		"architecture: all\nsource: up";	/* no final newline */
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	json_t *items = json_array();

	ck_assert_int_eq(collect_packages_parse_status(f, items), 0);
	fclose(f);
	ck_assert_uint_eq(json_array_size(items), 2);
	ck_assert_ptr_nonnull(find(items, "held", "amd64"));
	ck_assert_str_eq(json_get_str(find(items, "lower", "all"), "source"),
			 "up");
	ck_assert_str_eq(json_get_str(find(items, "lower", "all"),
				      "source_version"), "3");
	json_decref(items);
}
END_TEST

START_TEST(missing)
{
	json_t *sec = NULL;

	ck_assert_int_eq(collect_packages(testutil_root("exim"), &sec), -ENOENT);
	ck_assert_ptr_null(sec);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_packages");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, real_status);
	tcase_add_test(tc, states_and_continuations);
	tcase_add_test(tc, missing);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
