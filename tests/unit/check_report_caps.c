/*
 * check_report_caps.c - the cut rule of common/report.h on both sides: the
 * agent cuts over-long strings and drops items beyond the caps (a process
 * run from a 3,884-byte path of 0xFF bytes, captured on a real machine,
 * costs nothing but its own exe's tail), and report_check() drops a bad
 * item and keeps the rest of the report.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "jsonutil.h"
#include "report.h"
#include "report_check.h"
#include "store.h"
#include "timeutil.h"
#include "testutil.h"

/* Whether s ends with a whole U+FFFD (EF BF BD), not a piece of one. */
static int ends_whole_fffd(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && memcmp(s + n - 3, "\xef\xbf\xbd", 3) == 0;
}

START_TEST(test_cut_len)
{
	char s[REPORT_MAX_STRING + 8];

	ck_assert_uint_eq(report_cut_len("abc", 3, 3), 3);
	ck_assert_uint_eq(report_cut_len("abcd", 4, 3), 3);
	/* "a" and U+FFFD (3 bytes): a cut at 2 or 3 would split it. */
	ck_assert_uint_eq(report_cut_len("a\xef\xbf\xbd", 4, 2), 1);
	ck_assert_uint_eq(report_cut_len("a\xef\xbf\xbd", 4, 3), 1);
	ck_assert_uint_eq(report_cut_len("a\xef\xbf\xbd" "b", 5, 4), 4);
	/* A 4-byte character across the cap. */
	memset(s, 'x', sizeof(s));
	memcpy(s + REPORT_MAX_STRING - 2, "\xf0\x9f\x98\x80", 4);
	ck_assert_uint_eq(report_cut_len(s, sizeof(s), REPORT_MAX_STRING),
			  REPORT_MAX_STRING - 2);
}
END_TEST

/* The whole report of the captured root, as the agent sends it. */
static json_t *hostile_report(void)
{
	struct agent_conf conf = { 0 };
	json_t *rep = NULL;

	ck_assert_int_eq(assemble_report(testutil_root("hostile-exe"), "id", &conf,
				      &rep), 0);
	return rep;
}

START_TEST(test_agent_cuts_hostile_exe)
{
	json_t *rep = hostile_report(), *sections, *it;
	const char *names[] = { "processes", "ports" };
	int found = 0;
	size_t i;

	sections = json_object_get(rep, "sections");
	for (size_t n = 0; n < 2; n++) {
		json_t *sec = json_object_get(sections, names[n]);
		enum section s = section_from_name(names[n]);
		char hash[SHA256_HEX_LEN], why[160];
		json_t *copy = json_deep_copy(sec);

		json_array_foreach(json_object_get(sec, "items"), i, it) {
			const char *exe = json_get_str(it, "exe");

			/* Every item passes the server's own rule. */
			ck_assert_msg(report_item_check(s, it, why,
							sizeof(why)) == 0,
				      "%s: %s", names[n], why);
			if (!exe || strncmp(exe, "/tmp/", 5) != 0)
				continue;
			/* 3,884 bytes of path, 3,856 of them 0xFF, were
			 * 11,596 bytes of UTF-8: cut to the cap on a
			 * character boundary, and marked. */
			ck_assert_uint_le(strlen(exe), REPORT_MAX_STRING);
			ck_assert_uint_ge(strlen(exe), REPORT_MAX_STRING - 2);
			ck_assert(ends_whole_fffd(exe));
			ck_assert(json_is_true(json_object_get(it,
							       "truncated")));
			ck_assert_str_eq(json_get_str(it, n == 0 ? "name"
								 : "process"),
					 "python3");
			found++;
		}
		/* The hash covers what is sent, after the cut. */
		ck_assert_int_eq(report_section_hash(copy, hash), 0);
		ck_assert_str_eq(hash, json_get_str(sec, "hash"));
		/* Nothing was dropped: the cut was enough. */
		ck_assert_ptr_null(json_object_get(sec, "dropped"));
		json_decref(copy);
	}
	ck_assert_int_eq(found, 2);
	json_decref(rep);
}
END_TEST

START_TEST(test_server_takes_hostile_report)
{
	json_t *rep = hostile_report();
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };

	ck_assert_msg(report_check(rep, "id", &job, &v) == 0, "%d %s",
		      v.status, v.message);
	for (int s = 0; s < SECTION_COUNT; s++)
		ck_assert_ptr_null(json_object_get(job.sec[s].body,
						   "rejected"));
	ingest_job_free(&job);
	json_decref(rep);
}
END_TEST

/* A processes section of n distinct items, listed in order or reversed. */
static json_t *many(size_t n, size_t exe_len, int reversed)
{
	json_t *sec = json_object(), *items = json_array();
	char *exe = malloc(exe_len + 32);

	ck_assert_ptr_nonnull(exe);
	for (size_t i = 0; i < n; i++) {
		size_t k = reversed ? n - 1 - i : i;
		int w = snprintf(exe, exe_len + 32, "/opt/%08zu/", k);

		while ((size_t)w < exe_len)
			exe[w++] = 'x';
		exe[w] = '\0';
		json_array_append_new(items,
				      json_pack("{s:s,s:s,s:s,s:i}", "name",
						"p", "exe", exe, "user",
						"nobody", "count", 1));
	}
	free(exe);
	json_object_set_new(sec, "items", items);
	return sec;
}

START_TEST(test_agent_drops_beyond_item_cap)
{
	json_t *a = many(REPORT_MAX_ITEMS + 7, 8, 0);
	json_t *b = many(REPORT_MAX_ITEMS + 7, 8, 1);
	char ha[SHA256_HEX_LEN], hb[SHA256_HEX_LEN];

	ck_assert_int_eq(report_cap_section(SECTION_PROCESSES, a), 0);
	ck_assert_int_eq(report_cap_section(SECTION_PROCESSES, b), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(a, "items")),
			  REPORT_MAX_ITEMS);
	ck_assert_int_eq(json_get_int(a, "dropped", -1), 7);
	/* Which items stay does not depend on the order they came in. */
	ck_assert_int_eq(report_section_hash(a, ha), 0);
	ck_assert_int_eq(report_section_hash(b, hb), 0);
	ck_assert_str_eq(ha, hb);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_agent_drops_beyond_byte_cap)
{
	/* 1,000 items of ~4 KB: 4 MB, over the section's 3 MiB. */
	json_t *sec = many(1000, 4000, 0), *it;
	size_t i, bytes = 0, n;

	ck_assert_int_eq(report_cap_section(SECTION_PROCESSES, sec), 0);
	n = json_array_size(json_object_get(sec, "items"));
	ck_assert_uint_lt(n, 1000);
	ck_assert_uint_gt(n, 700);
	ck_assert_int_eq(json_get_int(sec, "dropped", -1), (int)(1000 - n));
	json_array_foreach(json_object_get(sec, "items"), i, it)
		bytes += json_dumpb(it, NULL, 0, JSON_CANONICAL_FLAGS) + 1;
	ck_assert_uint_le(bytes, REPORT_MAX_SECTION_BYTES);
	json_decref(sec);
}
END_TEST

START_TEST(test_agent_drops_bad_item)
{
	json_t *sec = testutil_parse("{\"items\": [{\"name\": \"a\", \"count\": 1},"
			    "{\"name\": \"b\", \"count\": -1},"
			    "{\"count\": 2}]}");

	ck_assert_int_eq(report_cap_section(SECTION_PROCESSES, sec), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 1);
	ck_assert_int_eq(json_get_int(sec, "dropped", -1), 2);
	json_decref(sec);
}
END_TEST

static int check_item(enum section s, const char *text, char *why)
{
	json_t *it = testutil_parse(text);
	int r = report_item_check(s, it, why, 160);

	json_decref(it);
	return r;
}

START_TEST(test_item_check)
{
	char why[160], *big, *item;

	ck_assert_int_eq(check_item(SECTION_PORTS, "{\"proto\": \"tcp\", "
				    "\"address\": \"::\", \"port\": 25, "
				    "\"pid\": null, \"x\": [1]}", why), 0);
	ck_assert_int_eq(check_item(SECTION_PORTS, "{\"proto\": \"tcp\", "
				    "\"address\": \"::\", \"port\": 25, "
				    "\"pid\": \"x\"}", why), -EINVAL);
	ck_assert_str_eq(why, "pid: expected an integer from 0 to "
			      "2147483647 or null");
	ck_assert_int_eq(check_item(SECTION_PORTS, "{\"proto\": \"tcp\", "
				    "\"address\": \"::\", \"port\": 65536}",
				    why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_PORTS, "{\"proto\": \"tcp\", "
				    "\"address\": \"::\", \"port\": 25, "
				    "\"pid\": -4}", why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_PROCESSES, "{\"name\": \"a\", "
				    "\"count\": -1}", why), -EINVAL);
	ck_assert_str_eq(why, "count: expected an integer from 0 to "
			      "9007199254740992");
	ck_assert_int_eq(check_item(SECTION_PACKAGES, "{\"name\": \"a\"}",
				    why), -EINVAL);
	ck_assert_str_eq(why, "version: missing");
	ck_assert_int_eq(check_item(SECTION_SERVICES, "{\"name\": \"a\", "
				    "\"main_pid\": 1.5}", why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_LOGINS, "{\"user\": \"a\", "
				    "\"at\": \"yesterday\"}", why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_LOGINS, "{\"user\": \"a\", "
				    "\"at\": \"2026-11-01T10:00:00Z\", "
				    "\"truncated\": 1}", why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_SERVICES, "[1]", why), -EINVAL);
	/* A string over the cap anywhere in the item, even unknown. */
	big = malloc(REPORT_MAX_STRING + 2);
	item = malloc(REPORT_MAX_STRING + 64);
	memset(big, 'a', REPORT_MAX_STRING + 1);
	big[REPORT_MAX_STRING + 1] = '\0';
	snprintf(item, REPORT_MAX_STRING + 64,
		 "{\"name\": \"a\", \"more\": {\"x\": \"%s\"}}", big);
	ck_assert_int_eq(check_item(SECTION_SERVICES, item, why), -EINVAL);
	big[REPORT_MAX_STRING] = '\0';
	snprintf(item, REPORT_MAX_STRING + 64,
		 "{\"name\": \"a\", \"more\": {\"x\": \"%s\"}}", big);
	ck_assert_int_eq(check_item(SECTION_SERVICES, item, why), 0);
	free(big);
	free(item);
}
END_TEST

/* The mail activity members (agent/mail_activity.h): all optional, each of
 * its type. */
START_TEST(test_mail_activity_check)
{
	char why[160];

	ck_assert_int_eq(check_item(SECTION_MAIL, "{\"source\": \"exim4\", "
				    "\"mta\": \"exim\", \"last_delivered_at\": "
				    "\"2026-12-01T11:19:10Z\", "
				    "\"last_received_at\": null, "
				    "\"delivered_90d\": 3, "
				    "\"received_90d\": 4, "
				    "\"log_since\": \"2026-12-01T11:19:09Z\", "
				    "\"queue\": 2, \"frozen\": 1, "
				    "\"log_truncated\": true}", why), 0);
	ck_assert_int_eq(check_item(SECTION_MAIL, "{\"source\": \"exim4\", "
				    "\"last_delivered_at\": \"last week\"}",
				    why), -EINVAL);
	ck_assert_str_eq(why, "last_delivered_at: expected an RFC 3339 time "
			      "or null");
	ck_assert_int_eq(check_item(SECTION_MAIL, "{\"source\": \"exim4\", "
				    "\"queue\": -1}", why), -EINVAL);
	ck_assert_int_eq(check_item(SECTION_MAIL, "{\"source\": \"exim4\", "
				    "\"frozen\": \"3\"}", why), -EINVAL);
	ck_assert_str_eq(why, "frozen: expected an integer from 0 to "
			      "9007199254740992");
	ck_assert_int_eq(check_item(SECTION_MAIL, "{\"source\": \"postfix\", "
				    "\"hold\": 1, \"deferred\": 2, "
				    "\"queue_truncated\": 1}", why), -EINVAL);
}
END_TEST

/* A report around one section given as text. */
static json_t *report_with(const char *name, const char *section)
{
	json_t *rep = testutil_parse("{\"schema\": 1, \"agent\": {\"id\": \"id\"}, "
			    "\"host\": {\"hostname\": \"h\"}, "
			    "\"sections\": {}}");

	json_object_set_new(json_object_get(rep, "sections"), name,
			    testutil_parse(section));
	return rep;
}

START_TEST(test_server_drops_bad_items)
{
	json_t *rep = report_with("ports",
		"{\"items\": [{\"proto\": \"tcp\", \"address\": \"0.0.0.0\", "
		"\"port\": 25, \"pid\": 7}, {\"proto\": \"tcp\", \"address\": "
		"\"0.0.0.0\", \"port\": 26, \"pid\": \"x\"}, {\"proto\": "
		"\"udp\", \"port\": 27}], \"dropped\": -3}");
	json_t *sent = json_deep_copy(json_object_get(
		json_object_get(rep, "sections"), "ports"));
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };
	char hash[SHA256_HEX_LEN];
	json_t *body, *rj;

	ck_assert_msg(report_check(rep, "id", &job, &v) == 0, "%s",
		      v.message);
	body = job.sec[SECTION_PORTS].body;
	ck_assert_uint_eq(json_array_size(json_object_get(body, "items")), 1);
	ck_assert_ptr_null(json_object_get(body, "dropped"));
	rj = json_object_get(body, "rejected");
	ck_assert_int_eq(json_get_int(rj, "items", -1), 2);
	ck_assert_int_eq(json_get_int(rj, "fields", -1), 1);
	ck_assert_str_eq(json_get_str(rj, "first"),
			 "sections.ports.items[1]: pid: expected an integer "
			 "from 0 to 2147483647 or null");
	/* Stored under the hash of the section as sent: the agent's next
	 * bare hash of it matches. */
	ck_assert_int_eq(report_section_hash(sent, hash), 0);
	ck_assert_str_eq(job.sec[SECTION_PORTS].hash, hash);
	ck_assert(strstr(job.sec[SECTION_PORTS].text, "\"rejected\""));
	ingest_job_free(&job);
	json_decref(sent);
	json_decref(rep);
}
END_TEST

START_TEST(test_server_checks_claim_before_dropping)
{
	json_t *rep = report_with("processes",
		"{\"items\": [{\"name\": \"a\", \"count\": 1}, "
		"{\"name\": \"b\", \"count\": -1}], \"hash\": \""
		"00000000000000000000000000000000"
		"00000000000000000000000000000000\"}");
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };

	ck_assert_int_eq(report_check(rep, "id", &job, &v), -EINVAL);
	ck_assert_int_eq(v.status, 422);
	ck_assert_str_eq(v.code, "hash_mismatch");
	ingest_job_free(&job);
	json_decref(rep);
}
END_TEST

START_TEST(test_server_collected_at)
{
	json_t *rep = report_with("ports", "{\"items\": []}");
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };
	int64_t t = 0;

	json_set_str(rep, "collected_at", "2999-01-01T00:00:00Z");
	ck_assert_int_eq(report_check(rep, "id", &job, &v), 0);
	ck_assert_int_eq(time_parse(json_get_str(rep, "collected_at"), &t),
			 0);
	ck_assert_int_le(t, time_now());
	ck_assert_int_ge(t, time_now() - 60);
	ingest_job_free(&job);
	json_decref(rep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report_caps");
	TCase *tc = tcase_create("report_caps");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cut_len);
	tcase_add_test(tc, test_agent_cuts_hostile_exe);
	tcase_add_test(tc, test_server_takes_hostile_report);
	tcase_add_test(tc, test_agent_drops_beyond_item_cap);
	tcase_add_test(tc, test_agent_drops_beyond_byte_cap);
	tcase_add_test(tc, test_agent_drops_bad_item);
	tcase_add_test(tc, test_item_check);
	tcase_add_test(tc, test_mail_activity_check);
	tcase_add_test(tc, test_server_drops_bad_items);
	tcase_add_test(tc, test_server_checks_claim_before_dropping);
	tcase_add_test(tc, test_server_collected_at);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
