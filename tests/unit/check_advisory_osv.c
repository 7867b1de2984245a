/*
 * check_advisory_osv.c - Ubuntu's OSV records (real ones, cut to two
 * releases: tests/fixtures/advisories/osv/) converted and matched: an
 * Ubuntu 22.04 Exim fixed by USN-6411-1 is clean, the version before it
 * has that USN's CVEs, and upstream versions no longer decide in a release
 * Ubuntu's data covers.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "advisory_osv.h"
#include "buf.h"
#include "testutil.h"

/* The shipped file, the EOL table and the converted OSV records. */
static struct advisory_db *osv_db(int with_osv)
{
	static const char *const records[] = {
		"advisories/osv/usn/USN-6411-1.json",
		"advisories/osv/cve/2023/UBUNTU-CVE-2023-42115.json",
	};
	struct advisory_source info = { .name = "osv:osv",
					.origin = ADVISORY_ORIGIN_FILE };
	struct advisory_db *db = NULL;
	struct advisory_osv *o = NULL;
	struct buf b;
	char *doc = NULL;
	size_t len = 0, entries = 0;

	ck_assert_int_eq(advisory_db_new(&db), 0);
	testutil_read(testutil_repo("data/advisories.json"), &b);
	ck_assert_int_eq(advisory_db_load(db, b.data, b.len, NULL), 0);
	buf_free(&b);
	testutil_read(testutil_repo("data/eol.json"), &b);
	ck_assert_int_eq(advisory_db_load_eol(db, b.data, b.len), 0);
	buf_free(&b);
	if (!with_osv)
		return db;
	ck_assert_int_eq(advisory_osv_new(db, &o), 0);
	for (size_t i = 0; i < 2; i++) {
		testutil_read(testutil_fixture(records[i]), &b);
		ck_assert_int_eq(advisory_osv_add(o, b.data, b.len), 0);
		buf_free(&b);
	}
	ck_assert_int_eq(advisory_osv_finish(o, &doc, &len, &entries), 0);
	ck_assert_uint_eq(entries, 3);
	advisory_osv_free(o);
	ck_assert_int_eq(advisory_db_load_source(db, doc, len, &info, NULL), 0);
	free(doc);
	return db;
}

static int verdicts(const struct advisory_db *db, const char *rel,
		    const char *ver, struct advisory_verdict *v, size_t max)
{
	int n = advisory_match_verdicts(db, rel, "exim4", ver, v, max);

	ck_assert_int_ge(n, 0);
	return n;
}

START_TEST(test_usn_fixed_is_clean)
{
	struct advisory_db *db = osv_db(1);
	struct advisory_verdict v[64];
	int n;

	/* The USN's version: nothing, not even an upstream guess. */
	ck_assert_int_eq(verdicts(db, "jammy", "4.95-4ubuntu2.3", v, 64), 0);
	/* The version before: the USN's three CVEs, confirmed, with it. */
	n = verdicts(db, "jammy", "4.95-4ubuntu2.2", v, 64);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(v[0].a->cve, "CVE-2023-42114");
	ck_assert_str_eq(v[1].a->cve, "CVE-2023-42115");
	ck_assert_str_eq(v[2].a->cve, "CVE-2023-42116");
	for (int i = 0; i < n; i++) {
		ck_assert(!v[i].unconfirmed);
		ck_assert_int_eq(v[i].a->origin, ADVISORY_ORIGIN_OSV);
		ck_assert_str_eq(v[i].fix->version, "4.95-4ubuntu2.3");
		ck_assert_str_eq(v[i].fix->advisory, "USN-6411-1");
	}
	/* The CVE record's priority; the shipped file's severity. */
	ck_assert_str_eq(v[1].fix->urgency_name, "medium");
	ck_assert_int_eq(v[1].severity, ADVISORY_SEVERITY_CRITICAL);
	/* Ubuntu 20.04 the same way. */
	ck_assert_int_eq(verdicts(db, "focal", "4.93-13ubuntu1.8", v, 64), 0);
	ck_assert_int_eq(verdicts(db, "focal", "4.93-13ubuntu1.7", v, 64), 3);
	advisory_db_free(db);
}
END_TEST

/* Without Ubuntu's data the upstream version decides, unconfirmed: the
 * fixed 4.95-4ubuntu2.3 still looks vulnerable to the shipped CVEs. */
START_TEST(test_without_osv_upstream_decides)
{
	struct advisory_db *db = osv_db(0);
	struct advisory_verdict v[64];
	int n = verdicts(db, "jammy", "4.95-4ubuntu2.3", v, 64);

	ck_assert_int_gt(n, 3);
	for (int i = 0; i < n && i < 64; i++)
		ck_assert(v[i].unconfirmed);
	advisory_db_free(db);
	/* A release Ubuntu's data does not name: still upstream. */
	db = osv_db(1);
	n = verdicts(db, "noble", "4.97-4ubuntu4", v, 64);
	ck_assert_int_gt(n, 0);
	ck_assert(v[0].unconfirmed);
	ck_assert_str_eq(advisory_db_source(db, 1)->name, "osv:osv");
	ck_assert_int_eq(advisory_db_source(db, 1)->origin,
			 ADVISORY_ORIGIN_OSV);
	advisory_db_free(db);
}
END_TEST

START_TEST(test_bad_records)
{
	struct advisory_db *db = osv_db(0);
	struct advisory_osv *o = NULL;
	static const char debian[] =
		"{\"id\": \"DSA-1-1\", \"affected\": [{\"package\": "
		"{\"ecosystem\": \"Debian:12\", \"name\": \"exim4\"}, "
		"\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": "
		"[{\"introduced\": \"0\"}, {\"fixed\": \"1.0\"}]}]}], "
		"\"aliases\": [\"CVE-2000-0001\"]}";
	static const char open_[] =
		"{\"id\": \"UBUNTU-CVE-2099-0001\", \"affected\": [{\"package\": "
		"{\"ecosystem\": \"Ubuntu:22.04:LTS\", \"name\": \"exim4\"}, "
		"\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": "
		"[{\"introduced\": \"0\"}]}]}]}";
	char *doc = NULL;
	size_t len, entries;
	struct advisory_verdict v[8];

	ck_assert_int_eq(advisory_osv_new(db, &o), 0);
	ck_assert_int_eq(advisory_osv_add(o, "{", 1), -EINVAL);
	ck_assert_int_eq(advisory_osv_add(o, "[]", 2), -EINVAL);
	ck_assert_int_eq(advisory_osv_add(o, debian, strlen(debian)), 1);
	/* No fixed event: no fix yet. */
	ck_assert_int_eq(advisory_osv_add(o, open_, strlen(open_)), 0);
	ck_assert_int_eq(advisory_osv_finish(o, &doc, &len, &entries), 0);
	ck_assert_uint_eq(entries, 1);
	advisory_osv_free(o);
	ck_assert_int_eq(advisory_db_load(db, doc, len, NULL), 0);
	free(doc);
	ck_assert_int_eq(advisory_match_verdicts(db, "jammy", "exim4",
						 "9.99-1ubuntu1", v, 8),
			 1);
	ck_assert_str_eq(v[0].a->cve, "CVE-2099-0001");
	ck_assert_int_eq(v[0].fix->state, ADVISORY_FIX_OPEN);
	advisory_db_free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advisory_osv");
	TCase *tc = tcase_create("osv");

	tcase_add_test(tc, test_usn_fixed_is_clean);
	tcase_add_test(tc, test_without_osv_upstream_decides);
	tcase_add_test(tc, test_bad_records);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
