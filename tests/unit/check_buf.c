/*
 * check_buf.c - the capped byte buffer: an append that would cross the cap
 * fails with -E2BIG and leaves the buffer exactly as it was.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "testutil.h"

/* Writes n bytes of 'x' to a new temporary file; the caller unlinks it. */
static void make_file(char path[64], size_t n)
{
	int fd;
	char *data;

	snprintf(path, 64, "/tmp/check_buf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	data = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(data);
	memset(data, 'x', n);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	free(data);
	close(fd);
}

START_TEST(test_append_within_cap)
{
	struct buf b = BUF_INIT(10);

	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	ck_assert_int_eq(buf_puts(&b, "world"), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "helloworld");
	ck_assert_uint_le(b.cap, 11);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_past_cap_keeps_content)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "abcdef"), 0);
	ck_assert_int_eq(buf_puts(&b, "ghi"), -E2BIG);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_str_eq(b.data, "abcdef");
	/* Exactly up to the cap still fits. */
	ck_assert_int_eq(buf_puts(&b, "gh"), 0);
	ck_assert_str_eq(b.data, "abcdefgh");
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_append(&b, "i", 1), -E2BIG);
	ck_assert_str_eq(b.data, "abcdefgh");
	/* A size that would wrap around is refused, not truncated. */
	ck_assert_int_eq(buf_append(&b, "x", (size_t)-1), -E2BIG);
	ck_assert_uint_eq(b.len, 8);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_and_cap)
{
	struct buf b = BUF_INIT(12);

	ck_assert_int_eq(buf_printf(&b, "%d-%s", 42, "ab"), 0);
	ck_assert_str_eq(b.data, "42-ab");
	ck_assert_int_eq(buf_printf(&b, "%s", "12345678"), -E2BIG);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.data, "42-ab");
	ck_assert_int_eq(buf_printf(&b, "%07d", 7), 0);
	ck_assert_str_eq(b.data, "42-ab0000007");
	ck_assert_uint_eq(b.len, 12);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_grows_past_first_alloc)
{
	struct buf b = BUF_INIT(100000);
	char big[5000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(buf_puts(&b, "<"), 0);
	ck_assert_int_eq(buf_printf(&b, "%s>", big), 0);
	ck_assert_uint_eq(b.len, sizeof(big) + 1);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[b.len - 1], '>');
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_take_leaves_empty_reusable)
{
	struct buf b = BUF_INIT(64);
	size_t len = 99;
	char *p;

	/* Nothing appended yet: NULL and length 0. */
	p = buf_take(&b, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(buf_puts(&b, "owned"), 0);
	p = buf_take(&b, &len);
	ck_assert_str_eq(p, "owned");
	ck_assert_uint_eq(len, 5);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.max, 64);
	free(p);

	ck_assert_int_eq(buf_puts(&b, "again"), 0);
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_reset_and_free)
{
	struct buf b = BUF_INIT(16);

	buf_reset(&b); /* no data yet */
	ck_assert_int_eq(buf_puts(&b, "0123456789abcdef"), 0);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	/* After a reset the whole cap is available again. */
	ck_assert_int_eq(buf_puts(&b, "fedcba9876543210"), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	buf_free(&b);
	buf_free(NULL);
}
END_TEST

START_TEST(test_read_file)
{
	struct buf b = BUF_INIT(1000);
	char path[64];

	make_file(path, 1000);
	ck_assert_int_eq(buf_read_file(&b, path), 0);
	ck_assert_uint_eq(b.len, 1000);
	ck_assert_int_eq(b.data[999], 'x');
	ck_assert_int_eq(b.data[1000], '\0');
	unlink(path);
	buf_free(&b);
}
END_TEST

START_TEST(test_read_file_larger_than_cap)
{
	struct buf b = BUF_INIT(1000);
	char path[64];

	make_file(path, 1001);
	ck_assert_int_eq(buf_read_file(&b, path), -E2BIG);
	ck_assert_uint_le(b.len, 1000);
	unlink(path);
	buf_free(&b);

	/* Larger than one read chunk, too. */
	buf_init(&b, 70000);
	make_file(path, 200000);
	ck_assert_int_eq(buf_read_file(&b, path), -E2BIG);
	ck_assert_uint_le(b.len, 70000);
	unlink(path);
	buf_free(&b);
}
END_TEST

START_TEST(test_read_file_empty)
{
	struct buf b = BUF_INIT(10);
	char path[64];

	make_file(path, 0);
	ck_assert_int_eq(buf_read_file(&b, path), 0);
	ck_assert_uint_eq(b.len, 0);
	/* Empty but still a C string, so callers need no NULL check. */
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	unlink(path);
	buf_free(&b);
}
END_TEST

START_TEST(test_read_file_errors)
{
	struct buf b = BUF_INIT(10);

	ck_assert_int_eq(buf_read_file(&b, "/nonexistent/check_buf"), -ENOENT);
	ck_assert_int_eq(buf_read_file(&b, "/"), -EISDIR);
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_append_within_cap);
	tcase_add_test(tc, test_append_past_cap_keeps_content);
	tcase_add_test(tc, test_printf_and_cap);
	tcase_add_test(tc, test_printf_grows_past_first_alloc);
	tcase_add_test(tc, test_take_leaves_empty_reusable);
	tcase_add_test(tc, test_reset_and_free);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_read_file_larger_than_cap);
	tcase_add_test(tc, test_read_file_empty);
	tcase_add_test(tc, test_read_file_errors);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
