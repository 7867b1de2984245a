/* check_client.c - the agent's HTTP client: gzip, and a server that is
 * not there. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "client.h"
#include "jsonutil.h"
#include "testutil.h"

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
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, gzip_roundtrip);
	tcase_add_test(tc, unreachable_server);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
