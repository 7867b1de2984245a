/* check_collect_mail.c - the CVE ids an MTA package's own changelog names,
 * from a real installed exim4 and real changelog text; and the MTA's
 * activity from a real exim4's mainlog and spool (roots/exim-activity)
 * and a Postfix queue and mail.log (roots/postfix-queue). */
#include <check.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "collect_mail.h"
#include "collect_packages.h"
#include "jsonutil.h"
#include "mail_activity.h"
#include "testutil.h"
#include "timeutil.h"

/* Writes journal files from journalctl's export format (Debian's
 * systemd-journal-remote, in DEB_DEPS). */
#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"

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

static int64_t at(const char *rfc3339)
{
	int64_t t = 0;

	ck_assert_int_eq(time_parse(rfc3339, &t), 0);
	return t;
}

/* The mail section of a root without packages: the activity items. */
static json_t *activity_of(const char *root, int64_t now)
{
	json_t *pk = testutil_parse("{\"items\": []}"), *sec = NULL;

	ck_assert_int_eq(collect_mail_at(root, pk, now, &sec), 0);
	json_decref(pk);
	return sec;
}

/* mainlog.1 holds one delivered message, mainlog one message to two
 * addresses delivered and two queued, one of them frozen (exim4 -Mf). */
START_TEST(exim_activity)
{
	int64_t now = at("2026-12-01T12:00:00Z");
	json_t *sec = activity_of(testutil_fixture("roots/exim-activity"), now);
	json_t *items = json_object_get(sec, "items"), *it;
	char why[128];

	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "source"), "exim4");
	ck_assert_str_eq(json_get_str(it, "mta"), "exim");
	ck_assert_str_eq(json_get_str(it, "last_delivered_at"),
			 "2026-12-01T11:19:10Z");
	ck_assert_str_eq(json_get_str(it, "last_received_at"),
			 "2026-12-01T11:19:10Z");
	ck_assert_str_eq(json_get_str(it, "log_since"), "2026-12-01T11:19:09Z");
	ck_assert_int_eq(json_get_int(it, "delivered_90d", -1), 3);
	ck_assert_int_eq(json_get_int(it, "received_90d", -1), 4);
	ck_assert_int_eq(json_get_int(it, "queue", -1), 2);
	ck_assert_int_eq(json_get_int(it, "frozen", -1), 1);
	ck_assert_ptr_null(json_object_get(it, "log_truncated"));
	ck_assert_ptr_null(json_object_get(it, "queue_truncated"));
	/* Counts and times only: no address of the log is in the item. */
	{
		char *text = json_canonical(it);

		ck_assert_ptr_null(strstr(text, "@"));
		free(text);
	}
	ck_assert_int_eq(report_item_check(SECTION_MAIL, it, why, sizeof(why)),
			 0);
	json_decref(sec);

	/* A hundred days on, the same log counts nothing in 90 days. */
	sec = activity_of(testutil_fixture("roots/exim-activity"),
			  now + 100 * 86400);
	it = json_array_get(json_object_get(sec, "items"), 0);
	ck_assert_int_eq(json_get_int(it, "delivered_90d", -1), 0);
	ck_assert_int_eq(json_get_int(it, "received_90d", -1), 0);
	ck_assert_str_eq(json_get_str(it, "last_delivered_at"),
			 "2026-12-01T11:19:10Z");
	json_decref(sec);
}
END_TEST

/* The activity goes to the installed package's item. */
START_TEST(exim_activity_joins_package)
{
	json_t *pk = testutil_parse(
		"{\"items\": [{\"name\": \"exim4-base\", "
		"\"version\": \"4.96-15\", \"source\": \"exim4\"}]}");
	json_t *sec = NULL, *it;

	ck_assert_int_eq(
		collect_mail_at(testutil_fixture("roots/exim-activity"), pk,
				at("2026-12-01T12:00:00Z"), &sec),
		0);
	/* No changelog in that root: the item is the activity's alone. */
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 1);
	it = json_array_get(json_object_get(sec, "items"), 0);
	ck_assert_str_eq(json_get_str(it, "source"), "exim4");
	ck_assert_int_eq(json_get_int(it, "queue", -1), 2);
	json_decref(sec);
	json_decref(pk);
}
END_TEST

START_TEST(exim_log_variants)
{
	static const char text[] =
		"2026-03-01 10:00:00.123 [4242] 1xYLt8-0002Mi-0W <= a@b.c "
		"P=esmtp\n"
		"2026-03-01 10:00:01 +0100 1xYLt8-0002Mi-0W => x <x@b.c> R=r\n"
		"2026-03-01 10:00:02 1xYLt8-0002Mi-0W -> y@b.c R=r\n"
		"2026-03-01 10:00:03 1rAbCd-00000000012-Ab => z@b.c R=r\n"
		"2026-03-01 10:00:04 1xYLt8-0002Mi-0W == w@b.c defer (-44)\n"
		"2026-03-01 10:00:05 Start queue run: pid=12\n"
		"2026-03-01 10:00:06 1xYLt8-0002Mi-0W Completed\n"
		"garbage <= and => here\n"
		"2026-13-01 10:00:00 1xYLt8-0002Mi-0W <= bad month\n"
		"2026-03-01 10:00:07 1xYLt8-0002Mi-0W <=";
	struct mail_log l = { 0 };
	int64_t now = at("2026-03-02T00:00:00Z");

	ck_assert_int_eq(mail_activity_exim_log(text, sizeof(text) - 1, now,
						&l),
			 0);
	ck_assert_int_eq(l.received, 1);
	ck_assert_int_eq(l.delivered, 3);	/* +0100: 09:00:01Z */
	ck_assert_int_eq(l.last_received, at("2026-03-01T10:00:00Z"));
	ck_assert_int_eq(l.last_delivered, at("2026-03-01T10:00:03Z"));
	ck_assert_int_eq(l.since, at("2026-03-01T09:00:01Z"));
	ck_assert_int_eq(mail_activity_exim_log(NULL, 0, now, &l), -EINVAL);
}
END_TEST

START_TEST(exim_frozen_flag)
{
	struct buf b;
	const char *h = "1xYLt8-0002NS-0l-H\nroot 0 0\n<a@b>\n1 0\n"
			"-ident root\nXX\n1\n-frozen@b.c\n\n";

	testutil_read(testutil_fixture("roots/exim-activity/var/spool/exim4/"
				       "input/1xYLt8-0002NS-0l-H"),
		      &b);
	ck_assert_int_eq(mail_activity_exim_frozen(b.data, b.len), 1);
	buf_free(&b);
	testutil_read(testutil_fixture("roots/exim-activity/var/spool/exim4/"
				       "input/1xYLt8-0002N5-0a-H"),
		      &b);
	ck_assert_int_eq(mail_activity_exim_frozen(b.data, b.len), 0);
	buf_free(&b);
	/* A recipient that reads like the flag is a recipient. */
	ck_assert_int_eq(mail_activity_exim_frozen(h, strlen(h)), 0);
}
END_TEST

START_TEST(postfix_activity)
{
	json_t *sec = activity_of(testutil_fixture("roots/postfix-queue"),
				  at("2026-12-01T12:00:00Z"));
	json_t *items = json_object_get(sec, "items"), *it;

	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "source"), "postfix");
	ck_assert_str_eq(json_get_str(it, "mta"), "postfix");
	ck_assert_int_eq(json_get_int(it, "queue", -1), 4);
	ck_assert_int_eq(json_get_int(it, "deferred", -1), 2);
	ck_assert_int_eq(json_get_int(it, "hold", -1), 1);
	ck_assert_ptr_null(json_object_get(it, "frozen"));
	ck_assert_int_eq(json_get_int(it, "received_90d", -1), 3);
	ck_assert_int_eq(json_get_int(it, "delivered_90d", -1), 3);
	ck_assert_str_eq(json_get_str(it, "last_delivered_at"),
			 "2026-11-30T10:00:06Z");
	ck_assert_str_eq(json_get_str(it, "last_received_at"),
			 "2026-11-30T10:00:05Z");
	ck_assert_str_eq(json_get_str(it, "log_since"), "2026-11-28T23:59:58Z");
	json_decref(sec);
}
END_TEST

/* "Nov 30" read on 2027-01-02 is last year's. */
START_TEST(postfix_year)
{
	static const char text[] =
		"Nov 30 09:12:02 mx1 postfix/local[2205]: Q: to=<b@c>, "
		"status=sent (delivered to mailbox)\n";
	struct mail_log l = { 0 };

	mail_activity_postfix_log(text, sizeof(text) - 1,
				  at("2027-01-02T00:00:00Z"), &l);
	ck_assert_int_eq(l.last_delivered, at("2026-11-30T09:12:02Z"));
	ck_assert_int_eq(l.delivered, 1);
}
END_TEST

/* A log over MAIL_MAX_LOG is read from its end, and says so. */
START_TEST(log_capped)
{
	static const char line[] =
		"2026-12-01 11:19:10 1xYLt8-0002Mi-0W => two "
		"<two@derelict.test> R=local T=mbox\n";
	char dir[256], path[512];
	size_t n = MAIL_MAX_LOG / (sizeof(line) - 1) + 1000;
	json_t *sec, *it;
	FILE *f;

	testutil_tmpdir(dir, sizeof(dir), "mailcap");
	snprintf(path, sizeof(path), "%s/var", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/log", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/log/exim4", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/log/exim4/mainlog", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fputs(line, f);
	fclose(f);
	sec = activity_of(dir, at("2026-12-01T12:00:00Z"));
	it = json_array_get(json_object_get(sec, "items"), 0);
	ck_assert(json_is_true(json_object_get(it, "log_truncated")));
	/* Whole lines only, and only as many as the cap holds. */
	ck_assert_int_eq(json_get_int(it, "delivered_90d", -1),
			 (json_int_t)(MAIL_MAX_LOG / (sizeof(line) - 1)));
	ck_assert_ptr_null(json_object_get(it, "queue"));
	json_decref(sec);
	testutil_rmtree(dir);
}
END_TEST

/* No mail.log: Postfix's entries come from the journal under the root,
 * a real journal file that systemd-journal-remote writes from
 * fixtures/journal/postfix.export (syslog's fields as journald keeps
 * them). */
START_TEST(postfix_journal)
{
	char dir[256], path[512], cmd[1400];
	json_t *sec, *it;

	testutil_tmpdir(dir, sizeof(dir), "mailjournal");
	snprintf(path, sizeof(path),
		 "%s/var/log/journal/0f5e9c6c2b7d4a8e9d1c3b5a79e2f4d6", dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s && " JOURNAL_REMOTE " -o %s/system.journal - "
		 "< %s 2>/dev/null",
		 path, path, testutil_fixture("journal/postfix.export"));
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/var/spool/postfix/hold", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
	ck_assert_int_eq(system(cmd), 0);

	sec = activity_of(dir, at("2026-12-01T12:00:00Z"));
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 1);
	it = json_array_get(json_object_get(sec, "items"), 0);
	ck_assert_str_eq(json_get_str(it, "mta"), "postfix");
	ck_assert_int_eq(json_get_int(it, "received_90d", -1), 2);
	ck_assert_int_eq(json_get_int(it, "delivered_90d", -1), 2);
	ck_assert_str_eq(json_get_str(it, "last_delivered_at"),
			 "2026-11-30T09:12:02Z");
	ck_assert_str_eq(json_get_str(it, "last_received_at"),
			 "2026-11-30T09:12:02Z");
	ck_assert_str_eq(json_get_str(it, "log_since"), "2026-11-28T23:59:58Z");
	ck_assert_int_eq(json_get_int(it, "queue", -1), 0);
	json_decref(sec);
	testutil_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_mail");

	/* The logs' local times are read as UTC here. */
	setenv("TZ", "UTC", 1);
	TCase *tc = tcase_create("mail");

	tcase_add_test(tc, installed_exim);
	tcase_add_test(tc, no_changelog_no_item);
	tcase_add_test(tc, entries_up_to_installed);
	tcase_add_test(tc, capped);
	tcase_add_test(tc, exim_activity);
	tcase_add_test(tc, exim_activity_joins_package);
	tcase_add_test(tc, exim_log_variants);
	tcase_add_test(tc, exim_frozen_flag);
	tcase_add_test(tc, postfix_activity);
	tcase_add_test(tc, postfix_year);
	tcase_add_test(tc, postfix_journal);
	tcase_add_test(tc, log_capped);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
