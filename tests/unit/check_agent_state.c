/* check_agent_state.c - state files, report assembly, deltas and gzip. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent.h"
#include "jsonutil.h"
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

START_TEST(build_and_delta)
{
	struct agent_conf conf = { .project = "acme", .owner = "" };
	char acked[SECTION_COUNT][SHA256_HEX_LEN];
	json_t *r = NULL, *d, *secs, *pk;
	char h[SHA256_HEX_LEN];

	ck_assert_int_eq(report_build(testutil_root("exim"), "id-1", &conf, &r), 0);
	ck_assert_int_eq(json_get_int(r, "schema", 0), 1);
	ck_assert_str_eq(json_get_str(json_object_get(r, "agent"), "id"),
			 "id-1");
	ck_assert_str_eq(json_get_str(json_object_get(r, "host"), "project"),
			 "acme");
	secs = json_object_get(r, "sections");
	for (int s = 0; s < SECTION_COUNT; s++) {
		json_t *sec = json_object_get(secs, section_names[s]);

		ck_assert_ptr_nonnull(sec);
		if (s == SECTION_PACKAGES || s == SECTION_MAIL) {
			/* failed: below; mail is read from the packages */
			ck_assert_ptr_nonnull(json_get_str(sec, "error"));
			ck_assert_ptr_null(json_object_get(sec, "hash"));
			continue;
		}
		ck_assert_uint_eq(strlen(json_get_str(sec, "hash")), 64);
		/* The hash is report_section_hash() of the section. */
		ck_assert_int_eq(report_section_hash(sec, h), 0);
		ck_assert_str_eq(h, json_get_str(sec, "hash"));
	}
	/* The fixture has no dpkg database: an error section, still sent,
	 * but with no hash, for it is never the acknowledged state. */
	pk = json_object_get(secs, "packages");
	ck_assert_ptr_nonnull(json_get_str(pk, "error"));
	ck_assert_uint_eq(json_array_size(json_object_get(pk, "items")), 0);
	ck_assert_ptr_null(json_object_get(pk, "hash"));
	ck_assert(report_section_failed(r, SECTION_PACKAGES));
	ck_assert(!report_section_failed(r, SECTION_PORTS));

	report_hashes(r, acked);
	ck_assert_str_eq(acked[SECTION_PACKAGES], "");
	/* Whatever was acknowledged before, a failed section goes in full. */
	snprintf(acked[SECTION_PACKAGES], SHA256_HEX_LEN, "%064d", 7);
	d = report_delta(r, acked, 0);
	ck_assert_ptr_nonnull(json_get_str(json_object_get(json_object_get(
		d, "sections"), "packages"), "error"));
	json_decref(d);
	acked[SECTION_PORTS][0] = '\0';	/* never acknowledged */
	d = report_delta(r, acked, 1u << SECTION_LOGINS);
	secs = json_object_get(d, "sections");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(secs, "ports"),
					      "items"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(secs, "logins"),
					      "items"));
	ck_assert_uint_eq(json_object_size(json_object_get(secs, "services")),
			  1);
	ck_assert_str_eq(json_get_str(json_object_get(secs, "services"),
				      "hash"), acked[SECTION_SERVICES]);
	/* The full report is left alone. */
	ck_assert_ptr_nonnull(json_object_get(json_object_get(
		json_object_get(r, "sections"), "services"), "items"));
	json_decref(d);
	json_decref(r);
}
END_TEST

START_TEST(gzip_roundtrip)
{
	const char *text = "{\"schema\":1,\"sections\":{}}";
	unsigned char *gz = NULL, out[256];
	size_t gzlen = 0;
	z_stream z = { 0 };

	ck_assert_int_eq(client_gzip(text, strlen(text), &gz, &gzlen), 0);
	ck_assert_uint_gt(gzlen, 10);
	ck_assert_int_eq(gz[0], 0x1f);
	ck_assert_int_eq(gz[1], 0x8b);
	ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = out;
	z.avail_out = sizeof(out);
	ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	ck_assert_uint_eq(z.total_out, strlen(text));
	ck_assert_int_eq(memcmp(out, text, strlen(text)), 0);
	inflateEnd(&z);
	free(gz);
}
END_TEST

START_TEST(unreachable_server)
{
	struct http_reply rep;
	json_t *body = json_object();

	ck_assert_int_eq(client_init(), 0);
	/* Port 1 on loopback refuses at once: an error, no hang. */
	ck_assert_int_eq(client_post_json("http://127.0.0.1:1", "/x", NULL,
					  NULL, body, 0, &rep), -EIO);
	ck_assert_int_eq(rep.status, 0);
	ck_assert_str_ne(rep.error, "");
	client_reply_free(&rep);
	json_decref(body);
	client_cleanup();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_state");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, agent_id_kept);
	tcase_add_test(tc, token_mode);
	tcase_add_test(tc, token_confirmed);
	tcase_add_test(tc, hashes_roundtrip);
	tcase_add_test(tc, build_and_delta);
	tcase_add_test(tc, gzip_roundtrip);
	tcase_add_test(tc, unreachable_server);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
