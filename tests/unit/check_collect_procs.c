/* check_collect_procs.c - processes, procfs services, host and the /proc
 * and passwd parsers, on the fixture roots. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect_host.h"
#include "collect_processes.h"
#include "collect_services.h"
#include "jsonutil.h"
#include "procfs.h"
#include "testutil.h"

START_TEST(processes_grouped)
{
	json_t *sec = NULL, *items, *it;

	ck_assert_int_eq(collect_processes(testutil_root("ipv6-only"), &sec), 0);
	items = json_object_get(sec, "items");
	/* Parent and child: one group of two. */
	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "name"), "python3");
	ck_assert_str_eq(json_get_str(it, "exe"), "/usr/bin/python3.11");
	ck_assert_str_eq(json_get_str(it, "user"), "root");
	ck_assert_int_eq(json_get_int(it, "count", 0), 2);
	json_decref(sec);

	ck_assert_int_eq(collect_processes(testutil_root("exim"), &sec), 0);
	it = json_array_get(json_object_get(sec, "items"), 0);
	ck_assert_str_eq(json_get_str(it, "user"), "Debian-exim");
	json_decref(sec);
}
END_TEST

START_TEST(services_procfs)
{
	json_t *sec = NULL, *items, *it;

	/* No run/systemd/system in the fixture: procfs whatever the bus. */
	ck_assert_int_eq(collect_services(testutil_root("exim"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "procfs");
	items = json_object_get(sec, "items");
	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "name"), "exim4");
	ck_assert_int_eq(json_get_int(it, "main_pid", 0), 4273);
	ck_assert_str_eq(json_get_str(it, "active"), "active");
	json_decref(sec);

	/* python3 was started from a shell (parent not pid 1): no daemon. */
	ck_assert_int_eq(collect_services(testutil_root("ipv6-only"), &sec), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 0);
	json_decref(sec);
	ck_assert_int_eq(collect_services_systemd(testutil_root("exim"), &sec),
			 -ENXIO);
}
END_TEST

START_TEST(stat_parser)
{
	struct proc_info p;
	uid_t uid = 0;

	/* A comm with spaces and parentheses. */
	ck_assert_int_eq(procfs_parse_stat("42 (a) b (c)) S 1 42 42 0 -1 "
					 "4194560 0 0", &p), 0);
	ck_assert_str_eq(p.comm, "a) b (c)");
	ck_assert_int_eq(p.ppid, 1);
	ck_assert_int_eq(p.tty_nr, 0);
	ck_assert_int_eq(procfs_parse_stat("garbage", &p), -EINVAL);
	ck_assert_int_eq(procfs_parse_status_uid("Name:\tx\nUid:\t1000\t102\t"
						 "102\t102\n", &uid), 0);
	ck_assert_int_eq(uid, 102);
}
END_TEST

START_TEST(passwd_parser)
{
	const char *text = "root:x:0:0:root:/root:/bin/bash\n"
			   "broken line\n"
			   "Debian-exim:x:102:105::/var/spool/exim4:/bin/false\n"
			   "dup:x:102:1::/:/bin/false\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct uid_map m;
	char buf[USER_NAME_MAX];

	ck_assert_int_eq(procfs_uid_map_parse(f, &m), 0);
	fclose(f);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(procfs_uid_map_name(&m, 0, buf), "root");
	ck_assert_str_eq(procfs_uid_map_name(&m, 102, buf), "Debian-exim");
	ck_assert_str_eq(procfs_uid_map_name(&m, 4711, buf), "4711");
	procfs_uid_map_free(&m);
}
END_TEST

START_TEST(host_fields)
{
	json_t *host = NULL;

	ck_assert_int_eq(collect_host(testutil_root("exim"), "acme", NULL, &host), 0);
	ck_assert_str_eq(json_get_str(host, "project"), "acme");
	ck_assert(json_is_null(json_object_get(host, "owner")));
	ck_assert_ptr_nonnull(json_get_str(host, "hostname"));
	ck_assert(json_is_object(json_object_get(host, "os")));
	ck_assert(json_is_array(json_object_get(host, "addresses")));
	json_decref(host);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_procs");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, processes_grouped);
	tcase_add_test(tc, services_procfs);
	tcase_add_test(tc, stat_parser);
	tcase_add_test(tc, passwd_parser);
	tcase_add_test(tc, host_fields);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
