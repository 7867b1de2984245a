/*
 * check_collect_rpm.c - RPM databases: a real RHEL 8 Berkeley DB Packages
 * file (tests/fixtures/roots/rhel8-bdb), real CentOS 7 header blobs
 * (tests/fixtures/rpm/centos7-headers), and hostile variations of both.
 * The agent against rpm -qa itself on built databases is
 * tests/integration/test_agent_rpm.py.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "collect_packages.h"
#include "collect_rpm.h"
#include "jsonutil.h"
#include "rpmdb_bdb.h"
#include "rpmhdr.h"
#include "testutil.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

START_TEST(test_rhel8_bdb_root)
{
	json_t *sec = NULL, *items, *it;

	/* No dpkg status there: collect_packages() takes the RPM path. */
	ck_assert_int_eq(collect_packages(testutil_root("rhel8-bdb"), &sec), 0);
	ck_assert_str_eq(json_get_str(sec, "manager"), "rpm");
	ck_assert_ptr_nonnull(json_get_str(sec, "changed_at"));
	items = json_object_get(sec, "items");
	ck_assert_uint_eq(json_array_size(items), 1);
	it = json_array_get(items, 0);
	ck_assert_str_eq(json_get_str(it, "name"), "libuuid");
	ck_assert_str_eq(json_get_str(it, "version"), "0:2.32.1-42.el8_8");
	ck_assert_str_eq(json_get_str(it, "arch"), "x86_64");
	/* SOURCERPM util-linux-2.32.1-42.el8_8.src.rpm. */
	ck_assert_str_eq(json_get_str(it, "source"), "util-linux");
	ck_assert_str_eq(json_get_str(it, "source_version"),
			 "0:2.32.1-42.el8_8");
	json_decref(sec);
	ck_assert_int_eq(collect_rpm(testutil_root("dpkg"), &sec), -ENOENT);
}
END_TEST

/* Each file is "<n>-<name>-<version>-<release>.bin", as the header says. */
START_TEST(test_centos7_headers)
{
	char dir[512];
	struct dirent *de;
	int seen = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", testutil_fixture("rpm/centos7-headers"));
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[1024], nvr[512], want[512];
		struct rpmhdr_pkg p;
		struct buf b;
		const char *dash = strchr(de->d_name, '-');

		if (de->d_name[0] == '.' || !strstr(de->d_name, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		testutil_read(path, &b);
		ck_assert_int_eq(rpmhdr_parse((const uint8_t *)b.data, b.len, &p),
				 0);
		snprintf(nvr, sizeof(nvr), "%s-%s-%s", p.name, p.version,
			 p.release);
		snprintf(want, sizeof(want), "%.*s", (int)(strlen(dash + 1) - 4),
			 dash + 1);
		ck_assert_str_eq(nvr, want);
		ck_assert_ptr_nonnull(p.arch);
		ck_assert_ptr_nonnull(p.sourcerpm);
		ck_assert_int_gt(p.installtime, 1500000000);
		buf_free(&b);
		seen++;
	}
	closedir(d);
	ck_assert_int_ge(seen, 10);
}
END_TEST

START_TEST(test_hostile_header)
{
	struct rpmhdr_pkg p;
	uint8_t *m;
	struct buf b;
	uint32_t il, dl;

	testutil_read(testutil_fixture(
			      "rpm/centos7-headers/21-libdb-5.3.21-24.el7.bin"),
		      &b);
	m = malloc(b.len);
	ck_assert_ptr_nonnull(m);
	il = get_be32((uint8_t *)b.data);
	dl = get_be32((uint8_t *)b.data + 4);
	ck_assert_uint_eq(8 + 16 * (size_t)il + dl, b.len);
	/* Every truncation is refused, none is read past. */
	for (size_t n = 0; n < b.len; n += 1 + n / 64) {
		memcpy(m, b.data, n);
		ck_assert_int_eq(rpmhdr_parse(m, n, &p), -EBADMSG);
	}
	/* Counts past the caps are refused before anything else. */
	memcpy(m, b.data, b.len);
	put_be32(m, 0xffffffffu);
	ck_assert_int_eq(rpmhdr_parse(m, b.len, &p), -E2BIG);
	memcpy(m, b.data, b.len);
	put_be32(m + 4, RPMHDR_MAX_DATA + 1);
	ck_assert_int_eq(rpmhdr_parse(m, b.len, &p), -E2BIG);
	/* An offset outside the store, an INT32 at the store's end, a
	 * string without its NUL. */
	for (uint32_t i = 0; i < il; i++) {
		uint8_t *e = m + 8 + 16 * i;

		memcpy(m, b.data, b.len);
		if (get_be32(e) == 1000) {
			put_be32(e + 8, dl);
			ck_assert_int_eq(rpmhdr_parse(m, b.len, &p), -EBADMSG);
			put_be32(e + 8, dl - 1);
			m[b.len - 1] = 'x';
			ck_assert_int_eq(rpmhdr_parse(m, b.len, &p), -EBADMSG);
		}
		if (get_be32(e) == 1008) {
			put_be32(e + 8, dl - 2);
			ck_assert_int_eq(rpmhdr_parse(m, b.len, &p), -EBADMSG);
		}
	}
	/* Random damage: any answer, but no read outside (ASan, valgrind). */
	srandom(7);
	for (int k = 0; k < 3000; k++) {
		memcpy(m, b.data, b.len);
		for (int j = 0; j < 4; j++)
			m[random() % (8 + 16 * il)] = (uint8_t)random();
		(void)rpmhdr_parse(m, b.len, &p);
	}
	free(m);
	buf_free(&b);
}
END_TEST

static int count(const uint8_t *data, size_t len, void *ctx)
{
	(void)data;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_hostile_bdb)
{
	json_t *items;
	struct buf b;
	uint8_t *m;
	size_t skipped;
	int n = 0;

	testutil_read(testutil_fixture("roots/rhel8-bdb/var/lib/rpm/Packages"),
		      &b);
	m = malloc(b.len);
	ck_assert_ptr_nonnull(m);
	memcpy(m, b.data, b.len);
	ck_assert_int_eq(rpmdb_bdb_foreach(m, b.len, count, &n, &skipped), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(skipped, 0);
	/* Not a hash file; a page size that is no power of two. */
	m[12] ^= 0xff;
	ck_assert_int_eq(rpmdb_bdb_foreach(m, b.len, count, &n, NULL),
			 -EBADMSG);
	memcpy(m, b.data, b.len);
	m[20] = 0x01;
	ck_assert_int_eq(rpmdb_bdb_foreach(m, b.len, count, &n, NULL),
			 -EBADMSG);
	/* Every overflow page pointing to itself: the walk ends, the
	 * record is skipped. */
	memcpy(m, b.data, b.len);
	for (size_t pg = 1; pg < b.len / 4096; pg++) {
		uint8_t *p = m + pg * 4096;

		if (p[25] == 7)
			memcpy(p + 16, p + 8, 4);
	}
	n = 0;
	ck_assert_int_eq(rpmdb_bdb_foreach(m, b.len, count, &n, &skipped), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(skipped, 1);
	/* Truncations and random damage: any answer, nothing read outside. */
	items = json_array();
	for (size_t len = 0; len < b.len; len += 509) {
		memcpy(m, b.data, b.len);
		(void)collect_rpm_parse_bdb(m, len, items);
	}
	srandom(11);
	for (int k = 0; k < 2000; k++) {
		memcpy(m, b.data, b.len);
		for (int j = 0; j < 8; j++) {
			size_t pg = (size_t)random() % (b.len / 4096);

			m[pg * 4096 + (size_t)random() % 64] = (uint8_t)random();
		}
		(void)collect_rpm_parse_bdb(m, b.len, items);
	}
	json_decref(items);
	free(m);
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_rpm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rhel8_bdb_root);
	tcase_add_test(tc, test_centos7_headers);
	tcase_add_test(tc, test_hostile_header);
	tcase_add_test(tc, test_hostile_bdb);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
