/* check_links.c - unit tests for server/links.c: the base of every link,
 * from public_url or from the listen address. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "links.h"
#include "server.h"
#include "testutil.h"

static struct server_config cfg(char *listen, char *public_url, char *cert)
{
	struct server_config c = { 0 };

	c.listen = listen;
	c.public_url = public_url;
	c.tls_cert = cert;
	c.alertmanager_url = "";
	return c;
}

START_TEST(test_public_url_wins)
{
	struct server_config c = cfg("127.0.0.1:8470",
				     "https://derelict.example.org//", "");
	char out[LINKS_URL_MAX];

	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "https://derelict.example.org");
	ck_assert_int_eq(links_host(&c, 42, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "https://derelict.example.org/#/host/42");
}
END_TEST

START_TEST(test_listen_address)
{
	struct server_config c = cfg("127.0.0.1:8470", "", "");
	char out[LINKS_URL_MAX], host[256], want[300];

	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "http://127.0.0.1:8470");
	c = cfg("[::1]:8470", "", "/etc/derelict/cert.pem");
	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "https://[::1]:8470");
	/* A wildcard is nobody's address: the machine's name stands in. */
	c = cfg("0.0.0.0:8470", "", "");
	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), 0);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "http://%s:8470", host);
	ck_assert_str_eq(out, want);
	c = cfg("[::]:8470", "", "");
	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(test_too_long)
{
	char big[LINKS_URL_MAX + 16], out[LINKS_URL_MAX];
	struct server_config c;

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "https://", 8);
	big[sizeof(big) - 1] = '\0';
	c = cfg("127.0.0.1:8470", big, "");
	ck_assert_int_eq(links_public_url(&c, out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_str_eq(out, "");
	c = cfg("127.0.0.1:8470", "https://x.example", "");
	ck_assert_int_eq(links_host(&c, 1, out, 24), -ENAMETOOLONG);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_needed)
{
	struct server_config c = cfg("127.0.0.1:8470", "", "");

	ck_assert_int_eq(links_needed(&c), 0);
	c.alertmanager_url = "http://127.0.0.1:9093";
	ck_assert_int_ne(links_needed(&c), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("links");
	TCase *tc = tcase_create("links");

	tcase_add_test(tc, test_public_url_wins);
	tcase_add_test(tc, test_listen_address);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_needed);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
