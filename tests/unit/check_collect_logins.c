/* check_collect_logins.c - wtmp, wtmpdb and utmp from the wtmp fixture;
 * Debian 13's wtmpdb layout from the trixie fixtures. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect_logins.h"
#include "jsonutil.h"
#include "timeutil.h"
#include "testutil.h"

static int64_t at(const char *s)
{
	int64_t t = 0;

	ck_assert_int_eq(time_parse(s, &t), 0);
	return t;
}

START_TEST(wtmp_and_wtmpdb)
{
	json_t *sec = NULL, *items, *last, *it;
	size_t i;
	int alice = 0;

	ck_assert_int_eq(collect_logins(testutil_root("wtmp"),
					at("2026-11-26T00:00:00Z"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "wtmp+wtmpdb");
	/* alice's session (pid 4321) runs; mallory's process is gone. */
	ck_assert_int_eq(json_get_int(sec, "open_sessions", -1), 1);
	last = json_object_get(sec, "last");
	ck_assert_str_eq(json_get_str(last, "user"), "dave");
	ck_assert_str_eq(json_get_str(last, "at"), "2026-11-25T06:30:00Z");
	ck_assert_str_eq(json_get_str(last, "from"), "198.51.100.8");
	items = json_object_get(sec, "items");
	/* carol (June) is outside 90 days; alice's 11-20 login is in both
	 * wtmp and wtmpdb and counted once. */
	ck_assert_uint_eq(json_array_size(items), 4);
	json_array_foreach(items, i, it) {
		ck_assert_str_ne(json_get_str(it, "user"), "carol");
		ck_assert_str_ne(json_get_str(it, "user"), "reboot");
		if (strcmp(json_get_str(it, "user"), "alice") == 0)
			alice++;
		if (strcmp(json_get_str(it, "user"), "bob") == 0) {
			/* A console login comes from nowhere. */
			ck_assert(json_is_null(json_object_get(it, "from")));
			ck_assert_str_eq(json_get_str(it, "at"),
					 "2026-11-01T08:00:00Z");
		}
	}
	ck_assert_int_eq(alice, 2);
	json_decref(sec);
}
END_TEST

START_TEST(wtmp_alone)
{
	struct login_list l = { 0 };
	char path[4200];

	snprintf(path, sizeof(path), "%s/var/log/wtmp", testutil_root("wtmp"));
	/* Four logins and a boot. */
	ck_assert_int_eq(collect_logins_read_wtmp(path, 0, &l), 5);
	ck_assert_uint_eq(l.n, 4);	/* carol, alice, bob, alice */
	ck_assert(l.have_last);
	ck_assert_str_eq(l.last.user, "alice");
	ck_assert_str_eq(l.last.from, "2001:db8::7");
	collect_logins_list_free(&l);
	ck_assert_int_eq(collect_logins_read_wtmp("/nonexistent/wtmp", 0, &l),
			 -ENOENT);
}
END_TEST

START_TEST(no_records)
{
	json_t *sec = NULL;

	ck_assert_int_eq(collect_logins(testutil_root("exim"), 1800000000, &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "none");
	ck_assert(json_is_null(json_object_get(sec, "last")));
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 0);
	json_decref(sec);
}
END_TEST

/* A stock Debian 13, booted (captured from a trixie container): wtmp holds
 * only agetty's LOGIN_PROCESS record, the database is /var/log/wtmp.db
 * with PAM's sessions (alice still logged in, bob out again) and those
 * "wtmpdb import" took from an old wtmp (erin's has no logout, but a boot
 * came after it: "crash"). */
static void check_trixie(const char *root)
{
	json_t *sec = NULL, *items, *last;
	static const char *const want[] = { "bob", "alice", "erin", "dave" };

	ck_assert_int_eq(collect_logins(root, at("2026-12-01T09:00:00Z"),
					&sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "wtmpdb");
	ck_assert_int_eq(json_get_int(sec, "open_sessions", -1), 1);
	last = json_object_get(sec, "last");
	ck_assert_str_eq(json_get_str(last, "user"), "bob");
	ck_assert_str_eq(json_get_str(last, "at"), "2026-12-01T08:16:50Z");
	ck_assert(json_is_null(json_object_get(last, "from")));
	items = json_object_get(sec, "items");
	/* carol's (June, imported) is outside the 90 days. */
	ck_assert_uint_eq(json_array_size(items), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(json_get_str(json_array_get(items, i), "user"),
				 want[i]);
	ck_assert_str_eq(json_get_str(json_array_get(items, 3), "from"),
			 "198.51.100.8");
	json_decref(sec);
}

START_TEST(trixie_with_link)
{
	/* var/lib/wtmpdb/wtmp.db -> ../../log/wtmp.db, as installed. */
	check_trixie(testutil_root("trixie"));
}
END_TEST

START_TEST(trixie_without_link)
{
	/* The link gone, wtmp as base-files made it (empty). */
	check_trixie(testutil_root("trixie-nolink"));
}
END_TEST

START_TEST(same_second)
{
	json_t *sec = NULL, *last;

	/* bob's and alice's su -l in one second, alice's 8 ms later: she is
	 * the last, as wtmpdb last lists her first. */
	ck_assert_int_eq(collect_logins(testutil_root("trixie-same-second"),
					at("2026-12-01T09:00:00Z"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "wtmpdb");
	last = json_object_get(sec, "last");
	ck_assert_str_eq(json_get_str(last, "user"), "alice");
	ck_assert_str_eq(json_get_str(last, "at"), "2026-12-01T08:25:50Z");
	/* Both logged out again before the container stopped. */
	ck_assert_int_eq(json_get_int(sec, "open_sessions", -1), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(sec, "items")), 2);
	json_decref(sec);
}
END_TEST

/* A root of its own with var/lib/wtmpdb/wtmp.db an absolute link to
 * target; the caller removes it. */
static char *link_root(const char *target)
{
	static char dir[64];
	char p[PATH_MAX];

	testutil_tmpdir(dir, sizeof(dir), "logins");
	snprintf(p, sizeof(p), "%s/var", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/var/lib", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/var/lib/wtmpdb", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/var/lib/wtmpdb/wtmp.db", dir);
	ck_assert_int_eq(symlink(target, p), 0);
	return dir;
}

START_TEST(link_resolves_inside_root)
{
	char host_db[PATH_MAX], p[PATH_MAX + 32], q[PATH_MAX];
	json_t *sec = NULL;
	char *dir;

	/* A link to a database that exists on this machine, but not in the
	 * root: nothing of the host may be read. */
	snprintf(p, sizeof(p), "%s/var/log/wtmp.db", testutil_root("trixie"));
	ck_assert_ptr_nonnull(realpath(p, host_db));
	dir = link_root(host_db);
	ck_assert_int_eq(collect_logins(dir, at("2026-12-01T09:00:00Z"),
					&sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "none");
	ck_assert(json_is_null(json_object_get(sec, "last")));
	json_decref(sec);
	sec = NULL;

	/* "/srv/wtmp.db" in the root is root/srv/wtmp.db. */
	snprintf(p, sizeof(p), "%s/var/lib/wtmpdb/wtmp.db", dir);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(symlink("/srv/wtmp.db", p), 0);
	snprintf(q, sizeof(q), "%s/srv", dir);
	ck_assert_int_eq(mkdir(q, 0755), 0);
	snprintf(q, sizeof(q), "%s/srv/wtmp.db", dir);
	testutil_copy_file(host_db, q);
	ck_assert_int_eq(collect_logins(dir, at("2026-12-01T09:00:00Z"),
					&sec), 0);
	ck_assert_str_eq(json_get_str(sec, "source"), "wtmpdb");
	ck_assert_int_eq(json_get_int(sec, "open_sessions", -1), 1);
	json_decref(sec);

	ck_assert_int_eq(unlink(q), 0);
	ck_assert_int_eq(unlink(p), 0);
	snprintf(q, sizeof(q), "%s/srv", dir);
	ck_assert_int_eq(rmdir(q), 0);
	snprintf(q, sizeof(q), "%s/var/lib/wtmpdb", dir);
	ck_assert_int_eq(rmdir(q), 0);
	snprintf(q, sizeof(q), "%s/var/lib", dir);
	ck_assert_int_eq(rmdir(q), 0);
	snprintf(q, sizeof(q), "%s/var", dir);
	ck_assert_int_eq(rmdir(q), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_logins");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, wtmp_and_wtmpdb);
	tcase_add_test(tc, wtmp_alone);
	tcase_add_test(tc, no_records);
	tcase_add_test(tc, trixie_with_link);
	tcase_add_test(tc, trixie_without_link);
	tcase_add_test(tc, link_resolves_inside_root);
	tcase_add_test(tc, same_second);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
