/*
 * check_advisory_rpm.c - the Red Hat family in the advisory data: release
 * names ("almalinux:8"), the shipped EOL dates, a real AlmaLinux OSV
 * record (tests/fixtures/advisories/osv-rpm/) converted and matched by
 * source RPM in RPM order, and the MTA table's RPM executables.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "advisory_osv.h"
#include "buf.h"
#include "rules.h"
#include "testutil.h"
#include "timeutil.h"

static struct advisory_db *load(const char *from, const char *to)
{
	struct advisory_source info = { .name = "osv:rpm",
					.origin = ADVISORY_ORIGIN_FILE };
	struct advisory_db *db = NULL;
	struct advisory_osv *o = NULL;
	struct buf b, renamed;
	char *doc = NULL;
	size_t len = 0, entries = 0;

	ck_assert_int_eq(advisory_db_new(&db), 0);
	testutil_read(testutil_repo("data/advisories.json"), &b);
	ck_assert_int_eq(advisory_db_load(db, b.data, b.len, NULL), 0);
	buf_free(&b);
	testutil_read(testutil_repo("data/eol.json"), &b);
	ck_assert_int_eq(advisory_db_load_eol(db, b.data, b.len), 0);
	buf_free(&b);
	ck_assert_int_eq(advisory_osv_new(db, &o), 0);
	testutil_read(testutil_fixture("advisories/osv-rpm/ALSA-2026-25932.json"),
		      &b);
	/* The same record under another ecosystem name. */
	buf_init(&renamed, 1 << 20);
	for (size_t i = 0; i < b.len;) {
		if (from && b.len - i >= strlen(from) &&
		    memcmp(b.data + i, from, strlen(from)) == 0) {
			ck_assert_int_eq(buf_puts(&renamed, to), 0);
			i += strlen(from);
		} else {
			ck_assert_int_eq(buf_append(&renamed, b.data + i, 1), 0);
			i++;
		}
	}
	ck_assert_int_eq(advisory_osv_add(o, renamed.data, renamed.len), 0);
	buf_free(&renamed);
	buf_free(&b);
	ck_assert_int_eq(advisory_osv_finish(o, &doc, &len, &entries), 0);
	/* One CVE, eight binary packages. */
	ck_assert_uint_eq(entries, 8);
	advisory_osv_free(o);
	ck_assert_int_eq(advisory_db_load_source(db, doc, len, &info, NULL), 0);
	free(doc);
	return db;
}

START_TEST(test_release_key)
{
	char k[32];

	ck_assert_str_eq(advisory_release_key("rocky", "8.10", NULL, k,
					      sizeof(k)),
			 "rocky:8");
	ck_assert_str_eq(advisory_release_key("centos", "7", "", k, sizeof(k)),
			 "centos:7");
	ck_assert_str_eq(advisory_release_key("fedora", "40", NULL, k,
					      sizeof(k)),
			 "fedora:40");
	ck_assert_ptr_null(advisory_release_key("rhel", "", NULL, k,
						sizeof(k)));
	ck_assert_str_eq(advisory_release_key("debian", "12", "bookworm", k,
					      sizeof(k)),
			 "bookworm");
	ck_assert_ptr_null(advisory_release_key("debian", "12", "", k,
						sizeof(k)));
	ck_assert(advisory_os_is_rpm("almalinux"));
	ck_assert(!advisory_os_is_rpm("ubuntu"));
	ck_assert(!advisory_os_is_rpm(NULL));
}
END_TEST

START_TEST(test_eol_dates)
{
	static const struct {
		const char *os, *ver, *date;
	} want[] = {
		{ "centos", "7", "2024-06-30" },    { "centos", "8", "2021-12-31" },
		{ "rhel", "7.9", "2024-06-30" },    { "rhel", "8", "2029-05-31" },
		{ "rhel", "9.4", "2032-05-31" },    { "rocky", "8.10", "2029-05-31" },
		{ "rocky", "9", "2032-05-31" },     { "almalinux", "8", "2029-03-01" },
		{ "almalinux", "9.5", "2032-05-31" }, { "fedora", "39", "2024-11-26" },
	};
	struct advisory_db *db = load(NULL, NULL);

	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		int64_t d = 0, w = 0;

		ck_assert_int_eq(date_parse(want[i].date, &w), 0);
		ck_assert_msg(advisory_eol(db, want[i].os, want[i].ver, &d,
					   NULL) == 0,
			      "%s %s", want[i].os, want[i].ver);
		ck_assert_int_eq(d, w);
	}
	advisory_db_free(db);
}
END_TEST

static void expect_alsa(const char *release, const char *ecosystem_as)
{
	struct advisory_db *db = load("AlmaLinux:8", ecosystem_as);
	struct advisory_verdict v[8];
	int n;

	/* The fixed build and later ones: clean. */
	ck_assert_int_eq(advisory_match_verdicts(db, release, "postfix",
						 "2:3.5.8-8.el8_10", v, 8),
			 0);
	ck_assert_int_eq(advisory_match_verdicts(db, release, "postfix",
						 "2:3.5.8-8.el8_10.1", v, 8),
			 0);
	/* The build before, in RPM order ("el8_10" has an underscore, which
	 * dpkg would refuse): the record's CVE, confirmed. */
	n = advisory_match_verdicts(db, release, "postfix", "2:3.5.8-7.el8_10",
				    v, 8);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(v[0].a->cve, "CVE-2026-43964");
	ck_assert(!v[0].unconfirmed);
	ck_assert_str_eq(v[0].fix->advisory, "ALSA-2026:25932");
	/* "Important:" is the record's; the shipped file's own judgement
	 * of the CVE (medium) decides the verdict, as for every source. */
	ck_assert_int_eq(v[0].a->severity, ADVISORY_SEVERITY_HIGH);
	ck_assert_int_eq(v[0].severity, ADVISORY_SEVERITY_MEDIUM);
	/* The epoch decides before the version: 1:9.9 is older than 2:3.5. */
	ck_assert_int_eq(advisory_match_verdicts(db, release, "postfix",
						 "1:9.9-1.el8", v, 8),
			 1);
	/* A tilde sorts before the release it precedes. */
	ck_assert_int_eq(advisory_match_verdicts(db, release, "postfix",
						 "2:3.5.8-8.el8_10~pre", v, 8),
			 1);
	/* A release the record does not name: the shipped upstream versions
	 * decide (3.5.8 is below 3.5.23 and 3.10.9), unconfirmed. */
	n = advisory_match_verdicts(db, "almalinux:9", "postfix",
				    "2:3.5.8-7.el8_10", v, 8);
	ck_assert_int_eq(n, 2);
	ck_assert(v[0].unconfirmed && v[1].unconfirmed);
	advisory_db_free(db);
}

START_TEST(test_alma_record)
{
	expect_alsa("almalinux:8", "AlmaLinux:8");
}
END_TEST

START_TEST(test_rocky_ecosystem)
{
	/* No real Rocky record for Postfix is at hand (see the fixture's
	 * README): Alma's, its ecosystem renamed, stands in. */
	expect_alsa("rocky:8", "Rocky Linux:8");
}
END_TEST

START_TEST(test_mta_table_rpm)
{
	ck_assert_str_eq(rules_mta_of_exe("/usr/libexec/postfix/master"),
			 "postfix");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/sendmail.sendmail"),
			 "sendmail");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/exim"), "exim");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/smtpd"), "opensmtpd");
	ck_assert_str_eq(rules_mta_of_package("postfix", "postfix"), "postfix");
	ck_assert_str_eq(rules_mta_of_package("sendmail", "sendmail"),
			 "sendmail");
	ck_assert_str_eq(rules_mta_of_package("exim", "exim"), "exim");
	ck_assert_str_eq(rules_mta_of_package("opensmtpd", "opensmtpd"),
			 "opensmtpd");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advisory_rpm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_release_key);
	tcase_add_test(tc, test_eol_dates);
	tcase_add_test(tc, test_alma_record);
	tcase_add_test(tc, test_rocky_ecosystem);
	tcase_add_test(tc, test_mta_table_rpm);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
