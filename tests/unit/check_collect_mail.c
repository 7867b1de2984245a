/* check_collect_mail.c - the CVE ids an MTA package's own changelog names,
 * from a real installed exim4 and real changelog text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "collect_mail.h"
#include "collect_packages.h"
#include "jsonutil.h"
#include "testutil.h"

static int has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

static json_t *mail_of(const char *root)
{
	json_t *pk = NULL, *sec = NULL;

	ck_assert_int_eq(collect_packages(root, &pk), 0);
	ck_assert_int_eq(collect_mail(root, pk, &sec), 0);
	json_decref(pk);
	return sec;
}

START_TEST(installed_exim)
{
	json_t *sec = mail_of(testutil_fixture("roots/mail"));
	json_t *items = json_object_get(sec, "items"), *it, *cves;

	/* exim4-base and exim4-daemon-light are one source: one item, from
	 * exim4-base's changelog. */
	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "source"), "exim4");
	ck_assert_str_eq(json_get_str(it, "package"), "exim4-base");
	ck_assert_str_eq(json_get_str(it, "source_version"),
			 "4.96-15+deb12u11");
	cves = json_object_get(it, "changelog_cves");
	ck_assert(has(cves, "CVE-2026-94057"));	/* 4.96-15+deb12u11 */
	ck_assert(has(cves, "CVE-2023-42115"));	/* 4.96-15+deb12u2 */
	ck_assert(has(cves, "CVE-2019-15846"));	/* 4.92.1-3, unstable */
	ck_assert_ptr_null(json_object_get(it, "changelog_truncated"));
	/* "GCVE-25-2026-07-45-1" is not a CVE id. */
	for (size_t i = 0; i < json_array_size(cves); i++)
		ck_assert_int_eq(strncmp(json_string_value(
						 json_array_get(cves, i)),
					 "CVE-2", 5),
				 0);
	json_decref(sec);
}
END_TEST

START_TEST(no_changelog_no_item)
{
	json_t *sec = mail_of(testutil_fixture("roots/mail-nodoc"));

	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 0);
	json_decref(sec);
}
END_TEST

/* Only the entries up to the installed version count: a host on u5 has
 * not got what u7 and later fixed, whatever file lies in its doc dir. */
START_TEST(entries_up_to_installed)
{
	json_t *cves = json_array();
	struct buf b = BUF_INIT(1 << 20);

	ck_assert_int_eq(buf_read_file(&b, testutil_fixture("changelogs/exim4-bookworm")),
			 0);
	ck_assert_int_eq(collect_mail_changelog_cves(b.data, b.len,
						     "4.96-15+deb12u5", cves,
						     NULL),
			 0);
	ck_assert(has(cves, "CVE-2024-39929"));	/* u5 itself */
	ck_assert(has(cves, "CVE-2023-51766"));	/* u4 */
	ck_assert(!has(cves, "CVE-2025-30232"));	/* u7 */
	ck_assert(!has(cves, "CVE-2026-94057"));	/* u11 */
	json_array_clear(cves);
	ck_assert_int_eq(collect_mail_changelog_cves(b.data, b.len, NULL, cves,
						     NULL),
			 0);
	ck_assert(has(cves, "CVE-2026-94057"));
	/* Each id once: CVE-2023-42115 is named twice in u2. */
	{
		int n = 0;

		for (size_t i = 0; i < json_array_size(cves); i++)
			n += !strcmp(json_string_value(json_array_get(cves, i)),
				     "CVE-2023-42115");
		ck_assert_int_eq(n, 1);
	}
	buf_free(&b);
	json_decref(cves);
}
END_TEST

/* A changelog naming more ids than the cap stops at the cap. */
START_TEST(capped)
{
	struct buf b = BUF_INIT(1 << 20);
	json_t *cves = json_array();
	int truncated = 0;

	ck_assert_int_eq(buf_puts(&b, "exim4 (1.0-1) unstable; urgency=low\n\n"),
			 0);
	for (int i = 0; i < MAIL_MAX_CVES + 10; i++)
		ck_assert_int_eq(buf_printf(&b, "  * CVE-2020-%05d\n", i), 0);
	ck_assert_int_eq(collect_mail_changelog_cves(b.data, b.len, "1.0-1",
						     cves, &truncated),
			 0);
	ck_assert_uint_eq(json_array_size(cves), MAIL_MAX_CVES);
	ck_assert_int_eq(truncated, 1);
	buf_free(&b);
	json_decref(cves);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_mail");
	TCase *tc = tcase_create("mail");

	tcase_add_test(tc, installed_exim);
	tcase_add_test(tc, no_changelog_no_item);
	tcase_add_test(tc, entries_up_to_installed);
	tcase_add_test(tc, capped);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
