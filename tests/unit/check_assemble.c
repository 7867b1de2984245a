/* check_assemble.c - report assembly from a fixture root, and the
 * section deltas of what it assembled. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble.h"
#include "delta.h"
#include "jsonutil.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	testutil_tmpdir(dir, sizeof(dir), "agent");
}

static void teardown(void)
{
	testutil_rmtree(dir);
}

START_TEST(build_and_delta)
{
	struct agent_conf conf = { .project = "acme", .owner = "" };
	char acked[SECTION_COUNT][SHA256_HEX_LEN];
	json_t *r = NULL, *d, *secs, *pk;
	char h[SHA256_HEX_LEN];

	ck_assert_int_eq(assemble_report(testutil_root("exim"), "id-1", &conf, &r), 0);
	ck_assert_int_eq(json_get_int(r, "schema", 0), 1);
	ck_assert_str_eq(json_get_str(json_object_get(r, "agent"), "id"),
			 "id-1");
	ck_assert_str_eq(json_get_str(json_object_get(r, "host"), "project"),
			 "acme");
	secs = json_object_get(r, "sections");
	for (int s = 0; s < SECTION_COUNT; s++) {
		json_t *sec = json_object_get(secs, section_names[s]);

		ck_assert_ptr_nonnull(sec);
		if (s == SECTION_PACKAGES || s == SECTION_MAIL) {
			/* failed: below; mail is read from the packages */
			ck_assert_ptr_nonnull(json_get_str(sec, "error"));
			ck_assert_ptr_null(json_object_get(sec, "hash"));
			continue;
		}
		ck_assert_uint_eq(strlen(json_get_str(sec, "hash")), 64);
		/* The hash is report_section_hash() of the section. */
		ck_assert_int_eq(report_section_hash(sec, h), 0);
		ck_assert_str_eq(h, json_get_str(sec, "hash"));
	}
	/* The fixture has no dpkg database: an error section, still sent,
	 * but with no hash, for it is never the acknowledged state. */
	pk = json_object_get(secs, "packages");
	ck_assert_ptr_nonnull(json_get_str(pk, "error"));
	ck_assert_uint_eq(json_array_size(json_object_get(pk, "items")), 0);
	ck_assert_ptr_null(json_object_get(pk, "hash"));
	ck_assert(assemble_section_failed(r, SECTION_PACKAGES));
	ck_assert(!assemble_section_failed(r, SECTION_PORTS));

	assemble_hashes(r, acked);
	ck_assert_str_eq(acked[SECTION_PACKAGES], "");
	/* Whatever was acknowledged before, a failed section goes in full. */
	snprintf(acked[SECTION_PACKAGES], SHA256_HEX_LEN, "%064d", 7);
	d = delta_sections(r, acked, 0);
	ck_assert_ptr_nonnull(json_get_str(json_object_get(json_object_get(
		d, "sections"), "packages"), "error"));
	json_decref(d);
	acked[SECTION_PORTS][0] = '\0';	/* never acknowledged */
	d = delta_sections(r, acked, 1u << SECTION_LOGINS);
	secs = json_object_get(d, "sections");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(secs, "ports"),
					      "items"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(secs, "logins"),
					      "items"));
	ck_assert_uint_eq(json_object_size(json_object_get(secs, "services")),
			  1);
	ck_assert_str_eq(json_get_str(json_object_get(secs, "services"),
				      "hash"), acked[SECTION_SERVICES]);
	/* The full report is left alone. */
	ck_assert_ptr_nonnull(json_object_get(json_object_get(
		json_object_get(r, "sections"), "services"), "items"));
	json_decref(d);
	json_decref(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("assemble");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, build_and_delta);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
