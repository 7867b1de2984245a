/* check_collect_ports.c - ports from real /proc/net captures. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect_ports.h"
#include "jsonutil.h"
#include "testutil.h"

static json_t *find(json_t *items, const char *proto, const char *addr,
		    int port)
{
	size_t i;
	json_t *it;
	int found = 0;
	json_t *ret = NULL;

	json_array_foreach(items, i, it) {
		if (strcmp(json_get_str(it, "proto"), proto) == 0 &&
		    strcmp(json_get_str(it, "address"), addr) == 0 &&
		    json_get_int(it, "port", -1) == port) {
			found++;
			ret = it;
		}
	}
	ck_assert_int_le(found, 1);	/* one item per tuple */
	return ret;
}

START_TEST(exim_on_any)
{
	json_t *sec = NULL, *items, *it;

	ck_assert_int_eq(collect_ports(testutil_root("exim"), &sec), 0);
	items = json_object_get(sec, "items");
	it = find(items, "tcp", "0.0.0.0", 25);
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(json_get_str(it, "process"), "exim4");
	ck_assert_str_eq(json_get_str(it, "exe"), "/usr/sbin/exim4");
	ck_assert_str_eq(json_get_str(it, "user"), "Debian-exim");
	ck_assert_int_eq(json_get_int(it, "pid", 0), 4273);
	/* Listeners whose owner is not visible keep a null pid. */
	it = find(items, "tcp", "0.0.0.0", 2024);
	ck_assert_ptr_nonnull(it);
	ck_assert(json_is_null(json_object_get(it, "pid")));
	ck_assert(json_is_null(json_object_get(it, "exe")));
	/* An established connection in the same table is no listener. */
	ck_assert_ptr_null(find(items, "tcp", "127.0.0.1", 36076));
	json_decref(sec);
}
END_TEST

START_TEST(postfix_loopback)
{
	json_t *sec = NULL, *items, *it;

	ck_assert_int_eq(collect_ports(testutil_root("postfix-loopback"), &sec), 0);
	items = json_object_get(sec, "items");
	it = find(items, "tcp", "127.0.0.1", 25);
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(json_get_str(it, "exe"),
			 "/usr/lib/postfix/sbin/master");
	ck_assert_str_eq(json_get_str(it, "process"), "master");
	ck_assert_str_eq(json_get_str(it, "user"), "root");
	it = find(items, "tcp", "::1", 25);
	ck_assert_ptr_nonnull(it);
	ck_assert_int_eq(json_get_int(it, "pid", 0), 1234);
	ck_assert_ptr_null(find(items, "tcp", "0.0.0.0", 25));
	json_decref(sec);
}
END_TEST

START_TEST(ipv6_only)
{
	json_t *sec = NULL, *items, *it;
	size_t i;

	ck_assert_int_eq(collect_ports(testutil_root("ipv6-only"), &sec), 0);
	items = json_object_get(sec, "items");
	it = find(items, "tcp", "::", 18080);
	ck_assert_ptr_nonnull(it);
	/* Parent and forked child hold it: the lowest pid owns it. */
	ck_assert_int_eq(json_get_int(it, "pid", 0), 5693);
	ck_assert_str_eq(json_get_str(it, "process"), "python3");
	ck_assert_ptr_nonnull(find(items, "tcp", "::1", 18443));
	ck_assert_ptr_nonnull(find(items, "tcp", "::", 19001));
	/* Two SO_REUSEPORT sockets on one port: one item (find asserts). */
	ck_assert_ptr_nonnull(find(items, "tcp", "::", 19000));
	it = find(items, "udp", "::", 15353);
	ck_assert_ptr_nonnull(it);
	ck_assert_int_eq(json_get_int(it, "pid", 0), 5693);
	/* The connected UDP socket is not listed; nor is any IPv4 port of
	 * these processes. */
	json_array_foreach(items, i, it) {
		if (strcmp(json_get_str(it, "proto"), "udp") == 0)
			ck_assert_int_eq(json_get_int(it, "port", 0), 15353);
		if (json_get_int(it, "pid", 0) == 5693)
			ck_assert_ptr_nonnull(
				strchr(json_get_str(it, "address"), ':'));
	}
	json_decref(sec);
}
END_TEST

START_TEST(parse_table)
{
	const char *text =
		"  sl  local_address                         remote_address"
		"                        st tx_queue rx_queue tr tm->when "
		"retrnsmt   uid  timeout inode\n"
		"   0: 00000000000000000000000001000000:0019 "
		"00000000000000000000000000000000:0000 0A 00000000:00000000 "
		"00:00000000 00000000     0        0 4242 1 0000 100 0 0 10 0\n"
		"   1: 0000000000000000FFFF00000100007F:0050 "
		"00000000000000000000000000000000:0000 0A 00000000:00000000 "
		"00:00000000 00000000     0        0 4343 1 0000 100 0 0 10 0\n"
		"   2: 00000000000000000000000001000000:9C40 "
		"00000000000000000000000001000000:0019 01 00000000:00000000 "
		"00:00000000 00000000     0        0 4444 1 0000 100 0 0 10 0\n";
	struct port_sock *s = NULL;
	size_t n = 0;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	ck_assert_int_eq(collect_ports_parse_net(f, "tcp", 1, &s, &n), 0);
	fclose(f);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(s[0].address, "::1");
	ck_assert_uint_eq(s[0].port, 25);
	ck_assert_uint_eq(s[0].inode, 4242);
	ck_assert_str_eq(s[1].address, "::ffff:127.0.0.1");
	ck_assert_uint_eq(s[1].port, 80);
	free(s);

	f = fmemopen((void *)"garbage\n1 2 3\n", 14, "r");
	n = 0;
	s = NULL;
	ck_assert_int_eq(collect_ports_parse_net(f, "tcp", 0, &s, &n), -EINVAL);
	fclose(f);
	free(s);
}
END_TEST

START_TEST(missing_root)
{
	json_t *sec = NULL;

	ck_assert_int_lt(collect_ports("/nonexistent-derelict-root", &sec), 0);
	ck_assert_ptr_null(sec);
}
END_TEST

/* Copies the exim root's proc/net/<name> into dir/proc/net. */
static void copy_table(const char *dir, const char *name)
{
	char from[8192], to[8192];

	snprintf(from, sizeof(from), "%s/proc/net/%s", testutil_root("exim"),
		 name);
	snprintf(to, sizeof(to), "%s/proc/net/%s", dir, name);
	testutil_copy_file(from, to);
}

/* A host may lack IPv6 but never the IPv4 tables: without proc/net/tcp
 * the collector fails (and the server keeps the ports) rather than send
 * the UDP sockets alone, which would read as every TCP port closed. */
START_TEST(ipv4_table_missing)
{
	char dir[64], sub[4096];
	json_t *sec = NULL;

	testutil_tmpdir(dir, sizeof(dir), "ports");
	snprintf(sub, sizeof(sub), "%s/proc", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/proc/net", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	copy_table(dir, "tcp6");
	copy_table(dir, "udp");
	copy_table(dir, "udp6");
	ck_assert_int_eq(collect_ports(dir, &sec), -ENOENT);
	ck_assert_ptr_null(sec);
	/* IPv4 alone is a whole answer. */
	copy_table(dir, "tcp");
	snprintf(sub, sizeof(sub), "%s/proc/net/tcp6", dir);
	ck_assert_int_eq(unlink(sub), 0);
	snprintf(sub, sizeof(sub), "%s/proc/net/udp6", dir);
	ck_assert_int_eq(unlink(sub), 0);
	ck_assert_int_eq(collect_ports(dir, &sec), 0);
	ck_assert_ptr_nonnull(find(json_object_get(sec, "items"), "tcp",
				   "0.0.0.0", 25));
	json_decref(sec);
	testutil_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_ports");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, exim_on_any);
	tcase_add_test(tc, postfix_loopback);
	tcase_add_test(tc, ipv6_only);
	tcase_add_test(tc, parse_table);
	tcase_add_test(tc, missing_root);
	tcase_add_test(tc, ipv4_table_missing);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
