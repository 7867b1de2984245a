/*
 * check_log.c - log lines as journald reads them: "<N>" prefixes, level
 * filtering, errno text, and long lines cut but still whole lines.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

static int pipe_fd[2] = { -1, -1 };
static int saved_stderr = -1;

/* Points stderr at a pipe until capture_end(). */
static void capture_begin(void)
{
	fflush(stderr);
	ck_assert_int_eq(pipe(pipe_fd), 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(pipe_fd[1], STDERR_FILENO), 0);
	close(pipe_fd[1]);
}

/* Restores stderr and returns what was written (malloc'd). */
static char *capture_end(void)
{
	size_t cap = 65536, len = 0;
	char *out = malloc(cap + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	fflush(stderr);
	ck_assert_int_ge(dup2(saved_stderr, STDERR_FILENO), 0);
	close(saved_stderr);
	while ((n = read(pipe_fd[0], out + len, cap - len)) > 0)
		len += (size_t)n;
	close(pipe_fd[0]);
	out[len] = '\0';
	return out;
}

/* Each test starts from the defaults, also under CK_FORK=no. */
static void reset_log(void)
{
	log_set_level(LOG_LEVEL_INFO);
	log_set_prefix(1);
}

START_TEST(test_prefix_per_level)
{
	char *out;

	log_set_level(LOG_LEVEL_DEBUG);
	capture_begin();
	log_error("disk %s", "full");
	log_warning("w%d", 1);
	log_notice("n");
	log_info("i");
	log_debug("d");
	out = capture_end();
	ck_assert_str_eq(out, "<3>disk full\n<4>w1\n<5>n\n<6>i\n<7>d\n");
	free(out);
}
END_TEST

START_TEST(test_no_prefix)
{
	char *out;

	log_set_prefix(0);
	capture_begin();
	log_error("plain %d", 7);
	out = capture_end();
	ck_assert_str_eq(out, "plain 7\n");
	free(out);
	log_set_prefix(1);
}
END_TEST

START_TEST(test_default_level_is_info)
{
	char *out;

	capture_begin();
	log_debug("hidden");
	log_info("shown");
	out = capture_end();
	ck_assert_str_eq(out, "<6>shown\n");
	free(out);
}
END_TEST

START_TEST(test_level_filtering)
{
	char *out;

	log_set_level(LOG_LEVEL_WARNING);
	capture_begin();
	log_info("no");
	log_notice("no");
	log_debug("no");
	log_warning("yes");
	log_error("also");
	out = capture_end();
	ck_assert_str_eq(out, "<4>yes\n<3>also\n");
	free(out);

	log_set_level(LOG_LEVEL_ERR);
	capture_begin();
	log_warning("no");
	log_warning_errno(-ENOENT, "no");
	log_error("only");
	out = capture_end();
	ck_assert_str_eq(out, "<3>only\n");
	free(out);
}
END_TEST

START_TEST(test_error_errno)
{
	char *out, want[256];
	int r;

	capture_begin();
	r = log_error_errno(-ENOENT, "failed to open %s", "/etc/x.conf");
	out = capture_end();
	ck_assert_int_eq(r, -ENOENT);
	snprintf(want, sizeof(want), "<3>failed to open /etc/x.conf: %s\n",
		 strerror(ENOENT));
	ck_assert_str_eq(out, want);
	free(out);

	/* A positive errno is taken as its negative. */
	capture_begin();
	r = log_warning_errno(EACCES, "denied");
	out = capture_end();
	ck_assert_int_eq(r, -EACCES);
	snprintf(want, sizeof(want), "<4>denied: %s\n", strerror(EACCES));
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(test_error_errno_filtered_still_returns)
{
	char *out;

	log_set_level(LOG_LEVEL_ERR);
	capture_begin();
	ck_assert_int_eq(log_warning_errno(-EIO, "dropped"), -EIO);
	out = capture_end();
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_long_line_cut)
{
	char *msg = malloc(10000), *out;
	size_t len;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'a', 9999);
	msg[9999] = '\0';
	capture_begin();
	log_error("%s", msg);
	log_info("next");
	out = capture_end();
	len = strlen(out);
	/* The long line is cut to the line buffer and keeps its newline; the
	 * next line starts cleanly after it. */
	ck_assert_str_eq(out + len - strlen("<6>next\n"), "<6>next\n");
	len -= strlen("<6>next\n");
	ck_assert_uint_gt(len, 1000);
	ck_assert_uint_lt(len, 9999);
	ck_assert_int_eq(strncmp(out, "<3>aaaa", 7), 0);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_int_eq(out[len - 2], 'a');
	ck_assert_ptr_eq(memchr(out, '\n', len), out + len - 1);
	free(out);
	free(msg);
}
END_TEST

START_TEST(test_long_line_with_errno)
{
	char *msg = malloc(10000), *out;
	size_t len;
	int r;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'b', 9999);
	msg[9999] = '\0';
	capture_begin();
	r = log_error_errno(-EPERM, "%s", msg);
	out = capture_end();
	ck_assert_int_eq(r, -EPERM);
	len = strlen(out);
	ck_assert_uint_gt(len, 1000);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
	free(out);
	free(msg);
}
END_TEST

START_TEST(test_empty_message)
{
	char *out;

	capture_begin();
	log_error("%s", "");
	out = capture_end();
	ck_assert_str_eq(out, "<3>\n");
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *defaults = tcase_create("defaults");
	TCase *tc = tcase_create("log");

	/* Runs first and without the fixture, so it sees the real defaults
	 * with or without CK_FORK. */
	tcase_add_test(defaults, test_default_level_is_info);
	suite_add_tcase(s, defaults);

	tcase_add_checked_fixture(tc, reset_log, NULL);
	tcase_add_test(tc, test_prefix_per_level);
	tcase_add_test(tc, test_no_prefix);
	tcase_add_test(tc, test_level_filtering);
	tcase_add_test(tc, test_error_errno);
	tcase_add_test(tc, test_error_errno_filtered_still_returns);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_test(tc, test_long_line_with_errno);
	tcase_add_test(tc, test_empty_message);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
