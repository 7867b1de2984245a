/*
 * check_report.c - the report schema helpers: section names, the canonical
 * section hash agent and server must agree on, and item identities.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "report.h"
#include "testutil.h"

/* The hash of a section given as JSON text. */
static void hash_of(const char *text, char out[SHA256_HEX_LEN])
{
	json_t *s = testutil_parse(text);

	ck_assert_int_eq(report_section_hash(s, out), 0);
	ck_assert_uint_eq(strlen(out), SHA256_HEX_LEN - 1);
	json_decref(s);
}

/* The key of one item given as JSON text; returns report_item_key()'s
 * result and leaves the text in out. */
static int key_of(enum section sec, const char *item, char *out, size_t n)
{
	json_t *v = testutil_parse(item);
	struct buf b = BUF_INIT(1024);
	int r = report_item_key(sec, v, &b);

	snprintf(out, n, "%s", b.data ? b.data : "");
	buf_free(&b);
	json_decref(v);
	return r;
}

START_TEST(test_section_names)
{
	static const char *const names[] = { "ports", "services", "processes",
					     "packages", "logins", "mail" };

	for (int i = 0; i < SECTION_COUNT; i++) {
		ck_assert_str_eq(section_names[i], names[i]);
		ck_assert_int_eq(section_from_name(names[i]), i);
	}
	ck_assert_int_eq(section_from_name("Ports"), -1);
	ck_assert_int_eq(section_from_name("port"), -1);
	ck_assert_int_eq(section_from_name("portsx"), -1);
	ck_assert_int_eq(section_from_name(""), -1);
	ck_assert_int_eq(section_from_name("host"), -1);
	ck_assert_int_eq(section_from_name(NULL), -1);
}
END_TEST

/*
 * The items serialise compact with keys sorted as
 *   {"address":"0.0.0.0","pid":812,"port":25,"process":"exim4","proto":"tcp"}
 *   {"address":"::","pid":null,"port":53,"proto":"udp"}
 * whose SHA-256 (printf '%s' '<item>' | sha256sum) are 8b2e3213...b986ea and
 * c6725156...467430; their sum modulo 2^256 (it wraps) goes after "{}" and
 * a newline: printf '{}\n%s' <sum> | sha256sum gives the hash.
 */
START_TEST(test_hash_known_ports)
{
	char h[SHA256_HEX_LEN];

	hash_of("{\"hash\": \"stale\", \"items\": ["
		"{\"proto\": \"udp\", \"address\": \"::\", \"port\": 53,"
		" \"pid\": null},"
		"{\"proto\": \"tcp\", \"address\": \"0.0.0.0\", \"port\": 25,"
		" \"pid\": 812, \"process\": \"exim4\"}]}",
		h);
	ck_assert_str_eq(h, "148d742001add5b3ee82c08c642ecbae"
			    "904c08647eedd17912e21175b207eeae");
}
END_TEST

/*
 * The same with a header: the items
 *   {"active":"active","enabled":"enabled","main_pid":812,
 *   "name":"exim4.service","sub":"running"} and {"active":"inactive",
 *   "enabled":"disabled","main_pid":0,"name":"apache2.service","sub":"dead"}
 * hashed and added as above, after the header {"source":"systemd"}.
 */
START_TEST(test_hash_known_services)
{
	char h[SHA256_HEX_LEN];

	hash_of("{\"source\": \"systemd\", \"items\": ["
		"{\"name\": \"apache2.service\", \"active\": \"inactive\","
		" \"sub\": \"dead\", \"enabled\": \"disabled\", \"main_pid\": 0},"
		"{\"name\": \"exim4.service\", \"active\": \"active\","
		" \"sub\": \"running\", \"enabled\": \"enabled\","
		" \"main_pid\": 812}]}",
		h);
	ck_assert_str_eq(h, "4b96f6d1c0da80fb2c419e3cd782c5d5"
			    "4957cac633230a6f7199b7a8fd08ea42");
}
END_TEST

/* No items and no items member both hash as the header {}, a newline and
 * a zero sum: printf '{}\n%064d' 0 | sha256sum. */
START_TEST(test_hash_empty)
{
	char h[SHA256_HEX_LEN];

	hash_of("{\"items\": [], \"hash\": \"x\"}", h);
	ck_assert_str_eq(h, "8e604cd0238efcdf3026258f641b73f7"
			    "1e277dff72300da14f803669588e6a5e");
	hash_of("{\"hash\": \"only a hash\"}", h);
	ck_assert_str_eq(h, "8e604cd0238efcdf3026258f641b73f7"
			    "1e277dff72300da14f803669588e6a5e");
}
END_TEST

/* The sum is what makes a delta cheap: taking one item's digest away and
 * adding its successor's gives the hash of the changed section, and the
 * delta's own members are not part of the header. */
START_TEST(test_hash_sum_delta)
{
	unsigned char sum[REPORT_SUM_LEN], d[REPORT_SUM_LEN];
	unsigned char zero[REPORT_SUM_LEN] = { 0 };
	char before[SHA256_HEX_LEN], after[SHA256_HEX_LEN], h[SHA256_HEX_LEN];
	json_t *old = testutil_parse("{\"name\": \"exim4\", \"version\": \"4.96-15\"}");
	json_t *new = testutil_parse("{\"name\": \"exim4\", \"version\": \"4.96-16\"}");
	json_t *a = testutil_parse("{\"manager\": \"dpkg\", \"items\": ["
			  "{\"name\": \"libc6\", \"version\": \"2.36\"},"
			  "{\"name\": \"exim4\", \"version\": \"4.96-15\"}]}");
	json_t *b = testutil_parse("{\"manager\": \"dpkg\", \"items\": ["
			  "{\"name\": \"exim4\", \"version\": \"4.96-16\"},"
			  "{\"name\": \"libc6\", \"version\": \"2.36\"}]}");
	json_t *delta = testutil_parse("{\"manager\": \"dpkg\", \"base\": \"x\", "
			      "\"added\": [], \"removed\": []}");

	ck_assert_int_eq(report_section_canonical(a, before, NULL, sum, NULL), 0);
	ck_assert_int_eq(report_section_hash(b, after), 0);
	ck_assert_str_ne(before, after);
	ck_assert_int_eq(report_item_digest(old, d), 0);
	report_sum_sub(sum, d);
	ck_assert_int_eq(report_item_digest(new, d), 0);
	report_sum_add(sum, d);
	ck_assert_int_eq(report_section_hash_sum(delta, sum, h), 0);
	ck_assert_str_eq(h, after);
	/* Subtraction borrows across every byte and undoes addition. */
	memset(d, 0xff, sizeof(d));
	memcpy(sum, zero, sizeof(sum));
	report_sum_sub(sum, d);
	ck_assert_uint_eq(sum[0], 0);
	ck_assert_uint_eq(sum[REPORT_SUM_LEN - 1], 1);
	report_sum_add(sum, d);
	ck_assert_mem_eq(sum, zero, sizeof(sum));
	json_decref(old);
	json_decref(new);
	json_decref(a);
	json_decref(b);
	json_decref(delta);
}
END_TEST

/* 0.1.0's definition, still accepted from agents of that version: the
 * SHA-256 of the whole canonical text
 *   {"items":[{"address":"0.0.0.0","pid":812,"port":25,"process":"exim4",
 *   "proto":"tcp"},{"address":"::","pid":null,"port":53,"proto":"udp"}]}
 * (printf '%s' '<that>' | sha256sum). */
START_TEST(test_hash_v1)
{
	char h[SHA256_HEX_LEN];
	json_t *s = testutil_parse("{\"hash\": \"stale\", \"items\": ["
			  "{\"proto\": \"udp\", \"address\": \"::\", \"port\": 53,"
			  " \"pid\": null},"
			  "{\"proto\": \"tcp\", \"address\": \"0.0.0.0\", \"port\": 25,"
			  " \"pid\": 812, \"process\": \"exim4\"}]}");

	ck_assert_int_eq(report_section_hash_v1(s, h), 0);
	ck_assert_str_eq(h, "0090fd457c5804c03fe722c1634a974d"
			    "198b84392c317eee85c31fc12eeb0cb6");
	json_decref(s);
}
END_TEST

START_TEST(test_hash_item_and_key_order)
{
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN], c[SHA256_HEX_LEN];

	hash_of("{\"manager\": \"dpkg\", \"items\": ["
		"{\"name\": \"a\", \"version\": \"1\"},"
		"{\"name\": \"b\", \"version\": \"2\"},"
		"{\"name\": \"c\", \"version\": \"3\"}]}",
		a);
	hash_of("{\"items\": ["
		"{\"version\": \"3\", \"name\": \"c\"},"
		"{\"name\": \"a\", \"version\": \"1\"},"
		"{\"version\": \"2\", \"name\": \"b\"}], \"manager\": \"dpkg\"}",
		b);
	hash_of("{\"hash\": \"0000\", \"items\": ["
		"{\"name\": \"b\", \"version\": \"2\"},"
		"{\"name\": \"c\", \"version\": \"3\"},"
		"{\"name\": \"a\", \"version\": \"1\"}], \"manager\": \"dpkg\"}",
		c);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(a, c);
}
END_TEST

START_TEST(test_hash_ignores_hash_member)
{
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
	json_t *s = testutil_parse("{\"items\": [{\"name\": \"x\"}]}");

	ck_assert_int_eq(report_section_hash(s, a), 0);
	/* Storing the hash in the section and hashing again: same hash. */
	json_object_set_new(s, "hash", json_string(a));
	ck_assert_int_eq(report_section_hash(s, b), 0);
	ck_assert_str_eq(a, b);
	json_object_set_new(s, "hash", json_integer(1));
	ck_assert_int_eq(report_section_hash(s, b), 0);
	ck_assert_str_eq(a, b);
	/* The member is still there: only the copy lost it. */
	ck_assert(json_is_integer(json_object_get(s, "hash")));
	json_decref(s);
}
END_TEST

START_TEST(test_hash_changes_with_any_value)
{
	static const char *const variants[] = {
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		/* each of these differs from the first in one value */
		"{\"source\": \"wtmpdb\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 1, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"bob\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:01Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": \"0\", \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"},"
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": []}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0, \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\","
		" \"from\": null}]}",
		"{\"source\": \"wtmp\", \"open_sessions\": 0,"
		" \"error\": \"x\", \"items\": ["
		"{\"user\": \"alice\", \"at\": \"2026-11-01T00:00:00Z\"}]}",
	};
	enum { N = sizeof(variants) / sizeof(variants[0]) };
	char h[N][SHA256_HEX_LEN];

	for (size_t i = 0; i < N; i++) {
		hash_of(variants[i], h[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(h[i], h[j]) != 0,
				      "variants %zu and %zu hash alike", i, j);
	}
}
END_TEST

START_TEST(test_hash_sorts_items_in_place)
{
	char h[SHA256_HEX_LEN];
	json_t *s = testutil_parse("{\"items\": [{\"n\": 3}, {\"n\": 1}, {\"n\": 2}]}");
	char *text;

	ck_assert_int_eq(report_section_hash(s, h), 0);
	text = json_canonical(s);
	ck_assert_str_eq(text, "{\"items\":[{\"n\":1},{\"n\":2},{\"n\":3}]}");
	free(text);
	json_decref(s);
}
END_TEST

START_TEST(test_hash_rejects_non_object)
{
	char h[SHA256_HEX_LEN] = "junk";
	json_t *a = testutil_parse("[1, 2]");

	ck_assert_int_eq(report_section_hash(a, h), -EINVAL);
	ck_assert_str_eq(h, "");
	ck_assert_int_eq(report_section_hash(NULL, h), -EINVAL);
	json_decref(a);
}
END_TEST

START_TEST(test_key_ports)
{
	char k[256];

	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"proto\": \"tcp\", \"address\": \"0.0.0.0\","
				" \"port\": 25, \"pid\": 812}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "tcp 0.0.0.0:25");
	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"proto\": \"tcp\", \"address\": \"::\","
				" \"port\": 25}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "tcp [::]:25");
	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"proto\": \"udp\", \"address\":"
				" \"fe80::1%eth0\", \"port\": 546}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "udp [fe80::1%eth0]:546");
	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"proto\": \"tcp\", \"address\": \"::\"}", k,
				sizeof(k)),
			 -EINVAL);
	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"address\": \"::\", \"port\": 25}", k,
				sizeof(k)),
			 -EINVAL);
	ck_assert_int_eq(key_of(SECTION_PORTS,
				"{\"proto\": \"tcp\", \"port\": 25}", k,
				sizeof(k)),
			 -EINVAL);
}
END_TEST

START_TEST(test_key_services_processes)
{
	char k[256];

	ck_assert_int_eq(key_of(SECTION_SERVICES,
				"{\"name\": \"exim4.service\","
				" \"active\": \"active\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "exim4.service");
	ck_assert_int_eq(key_of(SECTION_SERVICES, "{\"active\": \"active\"}",
				k, sizeof(k)),
			 -EINVAL);

	ck_assert_int_eq(key_of(SECTION_PROCESSES,
				"{\"name\": \"exim4\", \"exe\":"
				" \"/usr/sbin/exim4\", \"user\":"
				" \"Debian-exim\", \"count\": 1}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "exim4 /usr/sbin/exim4 Debian-exim");
	/* exe and user are optional; the separators stay. */
	ck_assert_int_eq(key_of(SECTION_PROCESSES,
				"{\"name\": \"kworker\", \"exe\": null}", k,
				sizeof(k)),
			 0);
	ck_assert_str_eq(k, "kworker  ");
	ck_assert_int_eq(key_of(SECTION_PROCESSES, "{\"exe\": \"/bin/sh\"}",
				k, sizeof(k)),
			 -EINVAL);
}
END_TEST

START_TEST(test_key_packages_logins)
{
	char k[256];

	ck_assert_int_eq(key_of(SECTION_PACKAGES,
				"{\"name\": \"exim4-daemon-light\", \"version\":"
				" \"4.92-8+deb10u2\", \"arch\": \"amd64\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "exim4-daemon-light:amd64");
	/* The version is not part of the identity. */
	ck_assert_int_eq(key_of(SECTION_PACKAGES,
				"{\"name\": \"exim4-daemon-light\", \"version\":"
				" \"4.92-8+deb10u3\", \"arch\": \"amd64\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "exim4-daemon-light:amd64");
	ck_assert_int_eq(key_of(SECTION_PACKAGES, "{\"arch\": \"amd64\"}", k,
				sizeof(k)),
			 -EINVAL);

	ck_assert_int_eq(key_of(SECTION_LOGINS,
				"{\"user\": \"alice\", \"at\":"
				" \"2026-11-01T09:00:00Z\", \"from\":"
				" \"198.51.100.7\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "alice 2026-11-01T09:00:00Z 198.51.100.7");
	ck_assert_int_eq(key_of(SECTION_LOGINS,
				"{\"user\": \"alice\", \"at\":"
				" \"2026-11-01T09:00:00Z\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "alice 2026-11-01T09:00:00Z ");
	ck_assert_int_eq(key_of(SECTION_LOGINS, "{\"user\": \"alice\"}", k,
				sizeof(k)),
			 -EINVAL);

	/* mail: one item per MTA source package. */
	ck_assert_int_eq(key_of(SECTION_MAIL,
				"{\"source\": \"exim4\", \"package\":"
				" \"exim4-base\"}",
				k, sizeof(k)),
			 0);
	ck_assert_str_eq(k, "exim4");
	ck_assert_int_eq(key_of(SECTION_MAIL, "{\"package\": \"exim4-base\"}",
				k, sizeof(k)),
			 -EINVAL);
}
END_TEST

START_TEST(test_key_bad_input)
{
	struct buf b = BUF_INIT(8);
	json_t *item = testutil_parse("{\"name\": \"a-very-long-service.service\"}");
	json_t *arr = testutil_parse("[]");

	ck_assert_int_eq(report_item_key(SECTION_SERVICES, arr, &b), -EINVAL);
	ck_assert_int_eq(report_item_key(SECTION_SERVICES, NULL, &b), -EINVAL);
	ck_assert_int_eq(report_item_key(SECTION_COUNT, item, &b), -EINVAL);
	/* The caller's buffer cap applies. */
	ck_assert_int_eq(report_item_key(SECTION_SERVICES, item, &b), -E2BIG);
	buf_free(&b);
	json_decref(item);
	json_decref(arr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_test(tc, test_section_names);
	tcase_add_test(tc, test_hash_known_ports);
	tcase_add_test(tc, test_hash_known_services);
	tcase_add_test(tc, test_hash_empty);
	tcase_add_test(tc, test_hash_item_and_key_order);
	tcase_add_test(tc, test_hash_sum_delta);
	tcase_add_test(tc, test_hash_v1);
	tcase_add_test(tc, test_hash_ignores_hash_member);
	tcase_add_test(tc, test_hash_changes_with_any_value);
	tcase_add_test(tc, test_hash_sorts_items_in_place);
	tcase_add_test(tc, test_hash_rejects_non_object);
	tcase_add_test(tc, test_key_ports);
	tcase_add_test(tc, test_key_services_processes);
	tcase_add_test(tc, test_key_packages_logins);
	tcase_add_test(tc, test_key_bad_input);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
