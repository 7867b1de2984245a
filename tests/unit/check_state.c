/* check_state.c - the agent's state files: id, token, hashes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonutil.h"
#include "state.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	testutil_tmpdir(dir, sizeof(dir), "agent");
}

static void teardown(void)
{
	testutil_rmtree(dir);
}

START_TEST(agent_id_kept)
{
	char a[AGENT_ID_LEN], b[AGENT_ID_LEN], sub[128];

	snprintf(sub, sizeof(sub), "%s/state", dir);
	ck_assert_int_eq(state_agent_id(sub, 0, a), -ENOENT);
	ck_assert_int_eq(state_agent_id(sub, 1, a), 0);
	ck_assert_uint_eq(strlen(a), 36);
	ck_assert_int_eq(state_agent_id(sub, 1, b), 0);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(state_agent_id(sub, 0, b), 0);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(token_mode)
{
	char tok[TOKEN_MAX], path[128];
	struct stat st;

	umask(0);
	ck_assert_int_eq(state_read_token(dir, tok), -ENOENT);
	ck_assert_int_eq(state_write_token(dir, "s3cret"), 0);
	snprintf(path, sizeof(path), "%s/token", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(state_read_token(dir, tok), 0);
	ck_assert_str_eq(tok, "s3cret");
	ck_assert_int_eq(state_write_token(dir, "a\nb"), -EINVAL);
	umask(022);
}
END_TEST

START_TEST(token_confirmed)
{
	char tok[TOKEN_MAX], path[128];
	struct stat st;

	/* A new token is unconfirmed until a report was taken under it. */
	ck_assert_int_eq(state_write_token(dir, "first"), 0);
	ck_assert_int_eq(state_token_confirmed(dir, "first"), 0);
	ck_assert_int_eq(state_confirm_token(dir, "first"), 0);
	ck_assert_int_eq(state_token_confirmed(dir, "first"), 1);
	snprintf(path, sizeof(path), "%s/token-ok", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* The note is of that token, not of whatever token is there. */
	ck_assert_int_eq(state_write_token(dir, "second"), 0);
	ck_assert_int_eq(state_token_confirmed(dir, "second"), 0);
	ck_assert_int_eq(state_drop_token(dir), 0);
	ck_assert_int_eq(state_read_token(dir, tok), -ENOENT);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(state_drop_token(dir), 0);
	ck_assert_int_eq(state_token_confirmed(dir, "first"), 0);
}
END_TEST

START_TEST(hashes_roundtrip)
{
	char h[SECTION_COUNT][SHA256_HEX_LEN], g[SECTION_COUNT][SHA256_HEX_LEN];

	ck_assert_int_eq(state_read_hashes(dir, g), 0);
	for (int s = 0; s < SECTION_COUNT; s++)
		ck_assert_str_eq(g[s], "");
	for (int s = 0; s < SECTION_COUNT; s++)
		snprintf(h[s], SHA256_HEX_LEN, "%064d", s + 1);
	h[SECTION_LOGINS][0] = '\0';
	ck_assert_int_eq(state_write_hashes(dir, h), 0);
	ck_assert_int_eq(state_read_hashes(dir, g), 0);
	for (int s = 0; s < SECTION_COUNT; s++)
		ck_assert_str_eq(g[s], h[s]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, agent_id_kept);
	tcase_add_test(tc, token_mode);
	tcase_add_test(tc, token_confirmed);
	tcase_add_test(tc, hashes_roundtrip);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
