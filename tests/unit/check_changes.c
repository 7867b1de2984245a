/*
 * check_changes.c - the change list and the section diff (server/changes.c):
 * keys, repeated keys, added/changed/removed, the baseline, packages'
 * digests and their own equality.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"

static json_t *body(const char *items)
{
	json_error_t e;
	json_t *b = json_pack("{s:o}", "items", json_loads(items, 0, &e));

	ck_assert_ptr_nonnull(json_object_get(b, "items"));
	return b;
}

/* The change of key k in l, or NULL. */
static const struct change *find(const struct changes *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return &l->v[i];
	return NULL;
}

START_TEST(test_items_by_key_repeats)
{
	json_t *b = body("[{\"proto\":\"tcp\",\"address\":\"0.0.0.0\","
			 "\"port\":25,\"process\":\"exim4\"},"
			 "{\"proto\":\"tcp\",\"address\":\"0.0.0.0\","
			 "\"port\":25,\"process\":\"other\"},"
			 "{\"proto\":\"tcp\",\"address\":\"::1\",\"port\":25}]");
	json_t *m = changes_items_by_key(SECTION_PORTS, b);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(json_object_size(m), 3);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(m, "tcp 0.0.0.0:25"), "process")),
			 "exim4");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(m, "tcp 0.0.0.0:25 #2"),
				 "process")),
			 "other");
	ck_assert_ptr_nonnull(json_object_get(m, "tcp [::1]:25"));
	json_decref(m);
	json_decref(b);
}
END_TEST

START_TEST(test_items_without_key_left_out)
{
	json_t *b = body("[{\"name\":\"ssh\"},{\"state\":\"running\"},3]");
	json_t *m = changes_items_by_key(SECTION_SERVICES, b);

	ck_assert_uint_eq(json_object_size(m), 1);
	ck_assert_ptr_nonnull(json_object_get(m, "ssh"));
	json_decref(m);
	json_decref(b);
}
END_TEST

START_TEST(test_diff_added_changed_removed)
{
	json_t *old = body("[{\"name\":\"ssh\",\"state\":\"running\"},"
			   "{\"name\":\"exim4\",\"state\":\"running\"},"
			   "{\"name\":\"cron\",\"state\":\"running\"}]");
	json_t *new = body("[{\"name\":\"ssh\",\"state\":\"running\"},"
			   "{\"name\":\"exim4\",\"state\":\"failed\"},"
			   "{\"name\":\"nginx\",\"state\":\"running\"}]");
	struct changes l = { 0 };
	const struct change *c;

	ck_assert_int_eq(changes_diff(SECTION_SERVICES, old, new, NULL, &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_ptr_null(find(&l, "ssh"));
	c = find(&l, "exim4");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->action, "changed");
	ck_assert_str_eq(c->old_text, "{\"name\":\"exim4\",\"state\":\"running\"}");
	ck_assert_str_eq(c->new_text, "{\"name\":\"exim4\",\"state\":\"failed\"}");
	c = find(&l, "nginx");
	ck_assert_str_eq(c->action, "added");
	ck_assert_ptr_null(c->old);
	ck_assert_ptr_null(c->old_text);
	c = find(&l, "cron");
	ck_assert_str_eq(c->action, "removed");
	ck_assert_ptr_null(c->new);
	ck_assert_int_eq(c->has_digest, 0);
	changes_free(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.v);
	json_decref(old);
	json_decref(new);
}
END_TEST

START_TEST(test_diff_baseline_is_empty)
{
	json_t *new = body("[{\"name\":\"ssh\"}]");
	struct changes l = { 0 };

	/* A list left from before is replaced, not added to. */
	ck_assert_int_eq(changes_push(&l, "added", "x", NULL, new, NULL), 0);
	ck_assert_int_eq(changes_diff(SECTION_SERVICES, NULL, new, NULL, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	changes_free(&l);
	json_decref(new);
}
END_TEST

START_TEST(test_diff_unchanged_is_empty)
{
	json_t *a = body("[{\"name\":\"ssh\"},{\"name\":\"cron\"}]");
	json_t *b = body("[{\"name\":\"cron\"},{\"name\":\"ssh\"}]");
	struct changes l = { 0 };

	ck_assert_int_eq(changes_diff(SECTION_SERVICES, a, b, NULL, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	changes_free(&l);
	json_decref(a);
	json_decref(b);
}
END_TEST

static int same_version(const json_t *a, const json_t *b)
{
	return json_equal(json_object_get(a, "version"),
			  json_object_get(b, "version"));
}

START_TEST(test_diff_packages_digest_and_equal)
{
	json_t *old = body("[{\"name\":\"exim4\",\"version\":\"4.96-15\","
			   "\"note\":\"a\"}]");
	json_t *new = body("[{\"name\":\"exim4\",\"version\":\"4.96-15\","
			   "\"note\":\"b\"},{\"name\":\"zlib1g\",\"arch\":"
			   "\"amd64\",\"version\":\"1:1.2.13\"}]");
	unsigned char d[REPORT_SUM_LEN];
	struct changes l = { 0 };
	const struct change *c;

	/* equal decides: exim4 differs as JSON but not by version. */
	ck_assert_int_eq(changes_diff(SECTION_PACKAGES, old, new, same_version,
				      &l), 0);
	ck_assert_uint_eq(l.n, 1);
	c = find(&l, "zlib1g:amd64");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->action, "added");
	ck_assert_int_eq(c->has_digest, 1);
	ck_assert_int_eq(report_item_digest(c->new, d), 0);
	ck_assert_mem_eq(c->digest, d, REPORT_SUM_LEN);
	/* Without it, JSON equality: exim4 changed too. */
	ck_assert_int_eq(changes_diff(SECTION_PACKAGES, old, new, NULL, &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(find(&l, "exim4:")->action, "changed");
	changes_free(&l);
	json_decref(old);
	json_decref(new);
}
END_TEST

START_TEST(test_push_references_and_grows)
{
	json_t *item = json_pack("{s:s}", "name", "ssh");
	unsigned char d[REPORT_SUM_LEN];
	struct changes l = { 0 };

	memset(d, 7, sizeof(d));
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(changes_push(&l, "added", "ssh", NULL, item,
					      i == 99 ? d : NULL), 0);
	ck_assert_uint_eq(l.n, 100);
	ck_assert_uint_ge(l.cap, 100);
	ck_assert_int_eq(l.v[0].has_digest, 0);
	ck_assert_int_eq(l.v[99].has_digest, 1);
	ck_assert_mem_eq(l.v[99].digest, d, REPORT_SUM_LEN);
	ck_assert_int_eq(item->refcount, 101);
	changes_free(&l);
	ck_assert_int_eq(item->refcount, 1);
	json_decref(item);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("changes");
	TCase *tc = tcase_create("changes");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_items_by_key_repeats);
	tcase_add_test(tc, test_items_without_key_left_out);
	tcase_add_test(tc, test_diff_added_changed_removed);
	tcase_add_test(tc, test_diff_baseline_is_empty);
	tcase_add_test(tc, test_diff_unchanged_is_empty);
	tcase_add_test(tc, test_diff_packages_digest_and_equal);
	tcase_add_test(tc, test_push_references_and_grows);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
