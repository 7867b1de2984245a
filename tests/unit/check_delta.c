/*
 * check_delta.c - the packages section the agent keeps once the
 * server acknowledged it, and the item-level delta it sends against it:
 * what goes in added and removed, the size threshold, that a missing,
 * damaged or stale file means a full send, and that the delta applied to
 * the acknowledged items with the digest sum gives the new hash, which is
 * what the server checks.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "collect_packages.h"
#include "jsonutil.h"
#include "state.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	testutil_tmpdir(dir, sizeof(dir), "delta");
}

static void teardown(void)
{
	testutil_rmtree(dir);
}

#define NO_ARCH ((const char *)1)	/* no "arch" member at all */

/* A package item as collect_packages() makes it; arch NULL is null. */
static json_t *pkg(const char *name, const char *version, const char *arch)
{
	json_t *it = json_object();

	ck_assert_int_eq(json_set_str(it, "name", name), 0);
	ck_assert_int_eq(json_set_str(it, "version", version), 0);
	if (arch != NO_ARCH)
		ck_assert_int_eq(json_set_str(it, "arch", arch), 0);
	ck_assert_int_eq(json_set_str(it, "source", name), 0);
	ck_assert_int_eq(json_set_str(it, "source_version", version), 0);
	return it;
}

/* A full packages section holding items (stolen), with its hash. */
static json_t *section(json_t *items, const char *changed_at)
{
	json_t *s = json_object();
	char h[SHA256_HEX_LEN];

	ck_assert_int_eq(json_set_str(s, "manager", "dpkg"), 0);
	ck_assert_int_eq(json_set_str(s, "changed_at", changed_at), 0);
	ck_assert_int_eq(json_object_set_new(s, "items", items), 0);
	ck_assert_int_eq(report_section_hash(s, h), 0);
	ck_assert_int_eq(json_set_str(s, "hash", h), 0);
	return s;
}

static const char *hash_of(const json_t *s)
{
	return json_get_str(s, "hash");
}

/* delta_items() of cur against prev as the agent runs it: prev
 * stored as acknowledged, read back, and the delta made against that. */
static int delta_from(const json_t *prev, const json_t *cur, json_t **ret)
{
	struct state_items items = { 0 };
	int r;

	ck_assert_int_eq(state_write_packages(dir, prev), 0);
	ck_assert_int_eq(state_read_packages(dir, hash_of(prev), &items), 0);
	ck_assert_uint_eq(items.n,
			  json_array_size(json_object_get(prev, "items")));
	r = delta_items(SECTION_PACKAGES, &items, cur, hash_of(prev),
			       ret);
	state_items_free(&items);
	return r;
}

/* Does arr hold an item equal to v? */
static int holds(const json_t *arr, const json_t *v)
{
	size_t i;
	json_t *it;

	json_array_foreach(arr, i, it) {
		if (json_equal(it, (json_t *)v))
			return 1;
	}
	return 0;
}

static int holds_text(const json_t *arr, const char *text)
{
	json_error_t err;
	json_t *v = json_parse_buf(text, strlen(text), &err);
	int r;

	ck_assert_ptr_nonnull(v);
	r = holds(arr, v);
	json_decref(v);
	return r;
}

/* Applies delta to prev's items as the server does, with nothing but the
 * digests of the items it holds: take away the digest of each removed
 * item and of each item an added one replaces, add each added item's.
 * Checks that the sum gives the delta's hash, and that the items that
 * result are cur's. */
static void check_applies(const json_t *prev, const json_t *delta,
			  const json_t *cur)
{
	unsigned char sum[REPORT_SUM_LEN] = { 0 }, d[REPORT_SUM_LEN];
	json_t *byk = json_object(), *items = json_array(), *rebuilt, *it, *v;
	struct buf key = BUF_INIT(8192);
	char h[SHA256_HEX_LEN];
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(prev, "items"), i, it) {
		ck_assert_int_eq(report_item_digest(it, d), 0);
		report_sum_add(sum, d);
		buf_reset(&key);
		ck_assert_int_eq(report_item_key(SECTION_PACKAGES, it, &key),
				 0);
		ck_assert_int_eq(json_object_set(byk, key.data, it), 0);
	}
	/* The stored sum is what the base hash was made of. */
	ck_assert_int_eq(report_section_hash_sum(prev, sum, h), 0);
	ck_assert_str_eq(h, hash_of(prev));
	ck_assert_str_eq(json_get_str(delta, "base"), hash_of(prev));

	json_array_foreach(json_object_get(delta, "removed"), i, it) {
		/* Only the identity is sent. */
		ck_assert_ptr_nonnull(json_get_str(it, "name"));
		ck_assert_uint_le(json_object_size(it), 2);
		buf_reset(&key);
		ck_assert_int_eq(report_item_key(SECTION_PACKAGES, it, &key),
				 0);
		v = json_object_get(byk, key.data);
		ck_assert_msg(v != NULL, "removed %s is not held", key.data);
		ck_assert_int_eq(report_item_digest(v, d), 0);
		report_sum_sub(sum, d);
		json_object_del(byk, key.data);
	}
	json_array_foreach(json_object_get(delta, "added"), i, it) {
		buf_reset(&key);
		ck_assert_int_eq(report_item_key(SECTION_PACKAGES, it, &key),
				 0);
		v = json_object_get(byk, key.data);
		if (v) {
			ck_assert_int_eq(report_item_digest(v, d), 0);
			report_sum_sub(sum, d);
		}
		ck_assert_int_eq(report_item_digest(it, d), 0);
		report_sum_add(sum, d);
		ck_assert_int_eq(json_object_set(byk, key.data, it), 0);
	}
	/* The delta's own members but its items make the header. */
	ck_assert_int_eq(report_section_hash_sum(delta, sum, h), 0);
	ck_assert_str_eq(h, json_get_str(delta, "hash"));
	ck_assert_str_eq(h, hash_of(cur));

	/* And the items are cur's, not merely their sum. */
	json_object_foreach(byk, k, v) {
		json_array_append(items, v);
	}
	rebuilt = json_deep_copy(delta);
	json_object_del(rebuilt, "base");
	json_object_del(rebuilt, "added");
	json_object_del(rebuilt, "removed");
	json_object_set_new(rebuilt, "items", items);
	ck_assert_int_eq(report_section_hash(rebuilt, h), 0);
	ck_assert_str_eq(h, hash_of(cur));
	ck_assert_uint_eq(json_array_size(items),
			  json_array_size(json_object_get(cur, "items")));
	json_decref(rebuilt);
	json_decref(byk);
	buf_free(&key);
}

START_TEST(added_changed_removed)
{
	json_t *prev, *cur, *delta = NULL, *added, *removed;

	prev = section(json_pack("[oooooo]", pkg("a", "1.0", "amd64"),
				 pkg("b", "1.0", NULL),
				 pkg("c", "1.0", NO_ARCH),
				 pkg("d", "1.0", "amd64"),
				 pkg("e", "1.0", "i386"),
				 pkg("g", "1.0", NULL)),
		       "2026-11-25T00:00:00Z");
	/* a upgraded, b (arch null) and d removed, c and e unchanged, f and
	 * a:i386 (the same name, another identity) new, g changed without
	 * an arch. */
	cur = section(json_pack("[oooooo]", pkg("e", "1.0", "i386"),
				pkg("a", "2.0", "amd64"),
				pkg("c", "1.0", NO_ARCH),
				pkg("f", "1.0", "amd64"),
				pkg("a", "1.0", "i386"),
				pkg("g", "2.0", NULL)),
		      "2026-11-26T00:00:00Z");

	ck_assert_int_eq(delta_from(prev, cur, &delta), 0);
	ck_assert_ptr_nonnull(delta);
	ck_assert_str_eq(json_get_str(delta, "hash"), hash_of(cur));
	ck_assert_str_eq(json_get_str(delta, "base"), hash_of(prev));
	/* The header goes in full, the items do not. */
	ck_assert_str_eq(json_get_str(delta, "manager"), "dpkg");
	ck_assert_str_eq(json_get_str(delta, "changed_at"),
			 "2026-11-26T00:00:00Z");
	ck_assert_ptr_null(json_object_get(delta, "items"));
	ck_assert_uint_eq(json_object_size(delta), 6);

	added = json_object_get(delta, "added");
	removed = json_object_get(delta, "removed");
	ck_assert_uint_eq(json_array_size(added), 4);
	ck_assert(holds_text(added, "{\"name\":\"a\",\"version\":\"2.0\","
			     "\"arch\":\"amd64\",\"source\":\"a\","
			     "\"source_version\":\"2.0\"}"));
	ck_assert(holds_text(added, "{\"name\":\"a\",\"version\":\"1.0\","
			     "\"arch\":\"i386\",\"source\":\"a\","
			     "\"source_version\":\"1.0\"}"));
	ck_assert(holds_text(added, "{\"name\":\"f\",\"version\":\"1.0\","
			     "\"arch\":\"amd64\",\"source\":\"f\","
			     "\"source_version\":\"1.0\"}"));
	ck_assert(holds_text(added, "{\"name\":\"g\",\"version\":\"2.0\","
			     "\"arch\":null,\"source\":\"g\","
			     "\"source_version\":\"2.0\"}"));
	/* A changed item is in added alone; an arch-less one is removed by
	 * its name alone. */
	ck_assert_uint_eq(json_array_size(removed), 2);
	ck_assert(holds_text(removed, "{\"name\":\"b\"}"));
	ck_assert(holds_text(removed, "{\"name\":\"d\",\"arch\":\"amd64\"}"));

	check_applies(prev, delta, cur);
	json_decref(delta);
	json_decref(prev);
	json_decref(cur);
}
END_TEST

START_TEST(unchanged_and_header_only)
{
	json_t *prev, *cur, *same, *delta = (json_t *)1;

	prev = section(json_pack("[oo]", pkg("a", "1.0", "amd64"),
				 pkg("b", "1.0", NULL)),
		       "2026-11-25T00:00:00Z");
	same = section(json_pack("[oo]", pkg("b", "1.0", NULL),
				 pkg("a", "1.0", "amd64")),
		       "2026-11-25T00:00:00Z");
	ck_assert_str_eq(hash_of(same), hash_of(prev));
	/* Unchanged: no delta, the bare hash goes. */
	ck_assert_int_eq(delta_from(prev, same, &delta), -EALREADY);
	ck_assert_ptr_eq(delta, (json_t *)1);
	ck_assert_int_eq(delta_packages(dir, hash_of(prev), same,
					       &delta),
			 -EALREADY);

	/* Only the database's time moved: a delta of no items. */
	cur = section(json_pack("[oo]", pkg("a", "1.0", "amd64"),
				pkg("b", "1.0", NULL)),
		      "2026-11-26T00:00:00Z");
	ck_assert_int_eq(delta_from(prev, cur, &delta), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(delta, "added")),
			  0);
	ck_assert_uint_eq(json_array_size(json_object_get(delta, "removed")),
			  0);
	check_applies(prev, delta, cur);
	json_decref(delta);
	json_decref(prev);
	json_decref(same);
	json_decref(cur);
}
END_TEST

/* n items "p<i>" at version 1; then the first changed ones upgraded, and
 * the last gone ones removed and as many new ones added. */
static json_t *series(int n, int changed, int gone, int added)
{
	json_t *items = json_array();
	char name[32];

	for (int i = 0; i < n - gone; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		json_array_append_new(items, pkg(name, i < changed ? "2" : "1",
						 "amd64"));
	}
	for (int i = 0; i < added; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		json_array_append_new(items, pkg(name, "1", "amd64"));
	}
	return section(items, "2026-11-26T00:00:00Z");
}

static int delta_of(json_t *prev, json_t *cur)
{
	json_t *delta = NULL;
	int r = delta_from(prev, cur, &delta);

	if (r == 0) {
		check_applies(prev, delta, cur);
		json_decref(delta);
	} else {
		ck_assert_ptr_null(delta);
	}
	json_decref(cur);
	return r;
}

START_TEST(threshold)
{
	json_t *p100 = series(100, 0, 0, 0), *p10 = series(10, 0, 0, 0);
	json_t *p40 = series(40, 0, 0, 0);

	/* 100 items: a quarter, 25, may change. */
	ck_assert_int_eq(delta_of(p100, series(100, 25, 0, 0)), 0);
	ck_assert_int_eq(delta_of(p100, series(100, 26, 0, 0)), -E2BIG);
	ck_assert_int_eq(delta_of(p100, series(100, 5, 10, 10)), 0);
	ck_assert_int_eq(delta_of(p100, series(100, 6, 10, 10)), -E2BIG);
	/* 10 items: 16 may, however many that is of the section. */
	ck_assert_int_eq(delta_of(p10, series(10, 0, 10, 6)), 0);
	ck_assert_int_eq(delta_of(p10, series(10, 0, 10, 7)), -E2BIG);
	ck_assert_int_eq(delta_of(p10, series(10, 10, 0, 6)), 0);
	/* Every item gone. */
	ck_assert_int_eq(delta_of(p10, series(10, 0, 10, 0)), 0);
	ck_assert_int_eq(delta_of(p40, series(40, 0, 40, 0)), -E2BIG);
	ck_assert_int_eq(delta_of(p40, series(40, 0, 17, 0)), -E2BIG);
	ck_assert_int_eq(delta_of(p40, series(40, 0, 16, 0)), 0);
	json_decref(p100);
	json_decref(p10);
	json_decref(p40);
}
END_TEST

START_TEST(bad_identities)
{
	json_t *prev = series(5, 0, 0, 0), *dup, *noname, *delta = NULL;
	struct state_items items = { 0 };

	/* Two changed items claim one identity: no delta could say which is
	 * meant. */
	dup = section(json_pack("[ooo]", pkg("p0", "3", "amd64"),
				pkg("p0", "2", "amd64"),
				pkg("p1", "1", "amd64")),
		      "2026-11-26T00:00:00Z");
	ck_assert_int_eq(delta_from(prev, dup, &delta), -EINVAL);
	/* Two old items of one identity, both changed into a third. */
	ck_assert_int_eq(delta_from(dup, prev, &delta), -EINVAL);
	json_decref(dup);
	/* New items repeating each other: null and absent arch are one. */
	dup = section(json_pack("[oo]", pkg("x", "1", NULL),
				pkg("x", "2", NO_ARCH)),
		      "2026-11-26T00:00:00Z");
	ck_assert_int_eq(delta_from(prev, dup, &delta), -EINVAL);
	noname = section(json_pack("[{s:s}]", "version", "1"),
			 "2026-11-26T00:00:00Z");
	ck_assert_int_eq(delta_from(prev, noname, &delta), -EINVAL);
	/* Only packages have a delta form. */
	ck_assert_int_eq(state_write_packages(dir, prev), 0);
	ck_assert_int_eq(state_read_packages(dir, hash_of(prev), &items), 0);
	ck_assert_int_eq(delta_items(SECTION_PORTS, &items, dup,
					    hash_of(prev), &delta),
			 -EINVAL);
	state_items_free(&items);
	ck_assert_ptr_null(delta);
	json_decref(dup);
	json_decref(noname);
	json_decref(prev);
}
END_TEST

/* Many random changes to a section of a few hundred items, with and
 * without arch: the delta always applies to the new hash. */
START_TEST(random_deltas_apply)
{
	unsigned seed = 20261126;

	for (int round = 0; round < 200; round++) {
		json_t *pi = json_array(), *ci = json_array(), *prev, *cur;
		json_t *delta = NULL;
		int n = 50 + rand_r(&seed) % 300, r;
		char name[32], ver[32];

		for (int i = 0; i < n; i++) {
			const char *arch = i % 7 == 0 ? NULL :
					   i % 11 == 0 ? NO_ARCH :
					   i % 5 == 0 ? "i386" : "amd64";
			int what = rand_r(&seed) % 40;

			snprintf(name, sizeof(name), "lib%d-%d", i,
				 (int)(rand_r(&seed) % 3));
			snprintf(ver, sizeof(ver), "%d.%d", i, round);
			if (what != 0)	/* 0: new in cur */
				json_array_append_new(pi, pkg(name, ver, arch));
			if (what == 1)	/* 1: gone from cur */
				continue;
			if (what == 2)	/* 2: upgraded */
				snprintf(ver, sizeof(ver), "%d.%d+1", i, round);
			json_array_append_new(ci, pkg(name, ver, arch));
		}
		prev = section(pi, "2026-11-25T00:00:00Z");
		cur = section(ci, round % 2 ? "2026-11-25T00:00:00Z" :
			      "2026-11-26T00:00:00Z");
		r = delta_from(prev, cur, &delta);
		/* About one item in thirteen changes: a delta but for the
		 * odd round past the threshold or without any change. */
		ck_assert_msg(r == 0 || r == -E2BIG || r == -EALREADY,
			      "round %d: %d", round, r);
		if (r == -EALREADY)
			ck_assert_str_eq(hash_of(prev), hash_of(cur));
		if (r == 0) {
			check_applies(prev, delta, cur);
			json_decref(delta);
		}
		json_decref(prev);
		json_decref(cur);
	}
}
END_TEST

static void file_path(char *out, size_t n)
{
	snprintf(out, n, "%s/%s", dir, STATE_PACKAGES_FILE);
}

static void put_file(const char *text)
{
	char path[256];
	FILE *f;

	file_path(path, sizeof(path));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *get_file(void)
{
	struct buf b = BUF_INIT(1 << 24);
	char path[256];

	file_path(path, sizeof(path));
	ck_assert_int_eq(buf_read_file(&b, path), 0);
	return buf_take(&b, NULL);
}

/* The stored file with its line number line (0 the magic) replaced. */
static void put_with_line(const char *orig, int line, const char *with)
{
	struct buf b = BUF_INIT(1 << 24);
	const char *p = orig, *nl;

	for (int i = 0; *p; i++, p = nl + 1) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		if (i == line)
			ck_assert_int_eq(buf_printf(&b, "%s\n", with), 0);
		else
			ck_assert_int_eq(buf_append(&b, p,
						    (size_t)(nl - p + 1)), 0);
	}
	put_file(b.data);
	buf_free(&b);
}

START_TEST(state_file_roundtrip_and_mode)
{
	json_t *s = series(30, 0, 0, 0), *it;
	struct state_items back = { 0 };
	char path[256], *text, *expect;
	struct stat st;
	size_t i;

	file_path(path, sizeof(path));
	umask(0);
	ck_assert_int_eq(state_write_packages(dir, s), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	umask(077);
	ck_assert_int_eq(state_write_packages(dir, s), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	umask(022);
	/* No temporary file is left behind. */
	snprintf(path, sizeof(path), "%s/.tmp-state", dir);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* The form state.h describes. */
	text = get_file();
	ck_assert(strncmp(text, STATE_PACKAGES_MAGIC "\n",
			  strlen(STATE_PACKAGES_MAGIC) + 1) == 0);
	ck_assert(strncmp(text + strlen(STATE_PACKAGES_MAGIC) + 1,
			  hash_of(s), 64) == 0);
	ck_assert_ptr_nonnull(strstr(text, "\n{\"changed_at\":\"2026-11-26T00:00:00Z\","
				     "\"manager\":\"dpkg\"}\n"));
	free(text);

	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back), 0);
	ck_assert_uint_eq(back.n, 30);
	json_array_foreach(json_object_get(s, "items"), i, it) {
		/* Sorted as report_section_hash() left them. */
		expect = json_canonical(it);
		ck_assert_str_eq(back.text[i], expect);
		free(expect);
	}
	state_items_free(&back);
	state_items_free(&back);	/* twice is harmless */
	/* Not a full section: refused. */
	ck_assert_int_eq(state_write_packages(dir, json_object_get(s,
							       "items")),
			 -EINVAL);
	json_decref(s);
}
END_TEST

START_TEST(state_file_missing_damaged_stale)
{
	json_t *s = series(30, 0, 0, 0), *other = series(30, 1, 0, 0);
	struct state_items back = { 0 };
	json_t *delta = (json_t *)1, *cur;
	char *text, *cut, *line;

	/* Missing. */
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back), -ENOENT);
	ck_assert_int_eq(state_read_packages("/nonexistent/dir", hash_of(s),
					     &back),
			 -ENOENT);
	/* Never acknowledged. */
	ck_assert_int_eq(state_write_packages(dir, s), 0);
	ck_assert_int_eq(state_read_packages(dir, "", &back), -ENOENT);
	ck_assert_int_eq(state_read_packages(dir, NULL, &back), -ENOENT);
	/* Another section than the acknowledged one (the write or the
	 * hashes file was lost). */
	ck_assert_int_eq(state_read_packages(dir, hash_of(other), &back),
			 -ESTALE);
	text = get_file();

	/* Cut short inside a line, and at a line's end. */
	cut = strdup(text);
	cut[strlen(cut) - 10] = '\0';
	put_file(cut);
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	*(strrchr(cut, '\n') + 1) = '\0';
	put_file(cut);
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -ESTALE);
	free(cut);
	/* Garbage, empty, another format, the wrong hash line. */
	put_file("\x01\xff garbage\n\n\n");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	put_file("");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	put_with_line(text, 0, "derelict-packages 2");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	put_with_line(text, 1, hash_of(other));
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -ESTALE);
	/* The header or an item altered, the hash line left as it was: the
	 * hash is recomputed, not trusted. */
	put_with_line(text, 2, "{\"changed_at\":\"2026-11-27T00:00:00Z\","
			       "\"manager\":\"dpkg\"}");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -ESTALE);
	put_with_line(text, 2, "[]");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	line = json_canonical(json_array_get(json_object_get(other, "items"),
					     0));
	put_with_line(text, 3, line);
	free(line);
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -ESTALE);
	/* Lines out of order, or not items. */
	put_with_line(text, 3, "{\"name\":\"zzz\"}");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	put_with_line(text, 5, "");
	ck_assert_int_eq(state_read_packages(dir, hash_of(s), &back),
			 -EBADMSG);
	ck_assert_ptr_null(back.text);
	ck_assert_ptr_null(back.data);

	/* Each of these means a full send, never a failed report. */
	cur = series(30, 2, 0, 0);
	ck_assert_int_lt(delta_packages(dir, hash_of(s), cur, &delta),
			 0);
	ck_assert_int_lt(delta_packages(dir, "", cur, &delta), 0);
	ck_assert_ptr_eq(delta, (json_t *)1);
	/* And the intact file gives a delta again. */
	put_file(text);
	ck_assert_int_eq(delta_packages(dir, hash_of(s), cur, &delta),
			 0);
	check_applies(s, delta, cur);
	json_decref(delta);
	free(text);
	json_decref(cur);
	json_decref(s);
	json_decref(other);
}
END_TEST

/* The whole path on a real dpkg database: the collector's section is
 * stored as acknowledged, then one package upgraded, one removed, one
 * added. */
START_TEST(real_packages_delta)
{
	char h[SHA256_HEX_LEN];
	json_t *prev = NULL, *cur, *items, *delta = NULL, *gone, *removed;

	ck_assert_int_eq(collect_packages(testutil_root("dpkg"), &prev), 0);
	ck_assert_int_eq(report_section_hash(prev, h), 0);
	ck_assert_int_eq(json_set_str(prev, "hash", h), 0);
	ck_assert_uint_ge(json_array_size(json_object_get(prev, "items")), 5);
	ck_assert_int_eq(state_write_packages(dir, prev), 0);

	cur = json_deep_copy(prev);
	items = json_object_get(cur, "items");
	json_object_set_new(json_array_get(items, 0), "version",
			    json_string("99:1.0-1"));
	gone = json_incref(json_array_get(items, 1));
	json_array_remove(items, 1);
	json_array_append_new(items, pkg("derelict-test", "1.0", "amd64"));
	ck_assert_int_eq(report_section_hash(cur, h), 0);
	ck_assert_int_eq(json_set_str(cur, "hash", h), 0);

	ck_assert_int_eq(delta_packages(dir, hash_of(prev), cur,
					       &delta), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(delta, "added")), 2);
	removed = json_object_get(delta, "removed");
	ck_assert_uint_eq(json_array_size(removed), 1);
	ck_assert_str_eq(json_get_str(json_array_get(removed, 0), "name"),
			 json_get_str(gone, "name"));
	ck_assert_str_eq(json_get_str(json_array_get(removed, 0), "arch"),
			 json_get_str(gone, "arch"));
	check_applies(prev, delta, cur);
	json_decref(gone);
	json_decref(delta);
	json_decref(prev);
	json_decref(cur);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("delta");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, added_changed_removed);
	tcase_add_test(tc, unchanged_and_header_only);
	tcase_add_test(tc, threshold);
	tcase_add_test(tc, bad_identities);
	tcase_add_test(tc, random_deltas_apply);
	tcase_add_test(tc, state_file_roundtrip_and_mode);
	tcase_add_test(tc, state_file_missing_damaged_stale);
	tcase_add_test(tc, real_packages_delta);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
