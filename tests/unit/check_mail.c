/*
 * check_mail.c - the owners' mails: the answer links' tokens (answer.c),
 * HTML escaping (html.c), addresses and the composed message (mail.c).
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "html.h"
#include "mail.h"
#include "testutil.h"

static const unsigned char key[ANSWER_KEY_LEN] = "0123456789abcdef0123456789abcde";

static struct answer sample(void)
{
	struct answer a = { 0 };

	a.host_id = 17;
	a.finding_id = 42;
	a.action = ANSWER_KEEP;
	snprintf(a.until, sizeof(a.until), "2027-03-01");
	a.expires = 2000000000;
	snprintf(a.recipient, sizeof(a.recipient), "alice@example.org");
	ck_assert_int_eq(answer_new_id(&a), 0);
	return a;
}

START_TEST(test_token_round_trip)
{
	struct answer a = sample(), b;
	char tok[ANSWER_TOKEN_MAX];

	ck_assert_int_eq(answer_sign(key, &a, tok), 0);
	ck_assert_ptr_null(strpbrk(tok, "+/=|&?# \r\n"));
	ck_assert_int_eq(answer_verify(key, tok, 1900000000, &b), 0);
	ck_assert_int_eq(b.host_id, 17);
	ck_assert_int_eq(b.finding_id, 42);
	ck_assert_int_eq(b.action, ANSWER_KEEP);
	ck_assert_str_eq(b.until, "2027-03-01");
	ck_assert_str_eq(b.id, a.id);
	ck_assert_str_eq(b.recipient, "alice@example.org");
	/* Expired: refused, and said so. */
	ck_assert_int_eq(answer_verify(key, tok, 2000000001, &b), -ETIME);
}
END_TEST

START_TEST(test_token_tampering)
{
	struct answer a = sample(), b;
	unsigned char other[ANSWER_KEY_LEN];
	char tok[ANSWER_TOKEN_MAX], bad[ANSWER_TOKEN_MAX];
	size_t n;

	ck_assert_int_eq(answer_sign(key, &a, tok), 0);
	n = strlen(tok);
	/* Every single changed character is refused. */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, tok, n + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		ck_assert_int_eq(answer_verify(key, bad, 0, &b), -EBADMSG);
	}
	/* Cut short, or without its signature. */
	memcpy(bad, tok, n + 1);
	bad[n - 1] = '\0';
	ck_assert_int_eq(answer_verify(key, bad, 0, &b), -EBADMSG);
	*strchr(bad, '.') = '\0';
	ck_assert_int_eq(answer_verify(key, bad, 0, &b), -EBADMSG);
	ck_assert_int_eq(answer_verify(key, "", 0, &b), -EBADMSG);
	/* Another server's key. */
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	ck_assert_int_eq(answer_verify(other, tok, 0, &b), -EBADMSG);
	/* A recipient that would add a field is not signed. */
	snprintf(a.recipient, sizeof(a.recipient), "a|b@example.org");
	ck_assert_int_eq(answer_sign(key, &a, tok), -EINVAL);
}
END_TEST

START_TEST(test_html_escape)
{
	struct buf b = BUF_INIT(1024);

	ck_assert_int_eq(html_escape(&b, "<a href=\"x\">'&'</a>\r\n"), 0);
	ck_assert_str_eq(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
				 "&lt;/a&gt;  ");
	buf_free(&b);
}
END_TEST

START_TEST(test_address_ok)
{
	ck_assert(mail_address_ok("alice@example.org"));
	ck_assert(mail_address_ok("a.b+tag@sub.example.org"));
	ck_assert(!mail_address_ok("#ops"));
	ck_assert(!mail_address_ok("alice"));
	ck_assert(!mail_address_ok("@example.org"));
	ck_assert(!mail_address_ok("alice@"));
	ck_assert(!mail_address_ok("a@b@c"));
	ck_assert(!mail_address_ok("alice@example.org\r\nBcc: x@y"));
	ck_assert(!mail_address_ok("Alice <alice@example.org>"));
	ck_assert(!mail_address_ok("a@b.org, c@d.org"));
	ck_assert(!mail_address_ok(NULL));
}
END_TEST

/* A hostile hostname and project put no line into the headers, and the
 * message is CRLF lines of at most 998 bytes. */
START_TEST(test_compose_hostile_strings)
{
	json_t *hosts = json_pack(
		"[{s:I, s:s, s:s, s:I, s:I, s:[{s:I, s:s, s:I, s:s, s:{}}]}]",
		"id", (json_int_t)5, "hostname",
		"evil\r\nBcc: victim@example.net\r\n\r\n<script>x</script>",
		"project", "p\r\nSubject: hi", "last_login_at", (json_int_t)0,
		"packages_changed_at", (json_int_t)0, "findings", "id",
		(json_int_t)9, "rule", "project-ended", "severity",
		(json_int_t)2, "summary", "ended.\r\n.\r\nQUIT", "details");
	struct mail_digest d = { .from = "derelict@example.org",
				 .to = "alice@example.org",
				 .contact = "alice@example.org",
				 .hosts = hosts,
				 .base_url = "http://127.0.0.1:8470",
				 .key = key,
				 .now = 1800000000 };
	struct buf m = BUF_INIT(MAIL_MAX_BYTES);
	const char *p, *end, *head_end;

	ck_assert_ptr_nonnull(hosts);
	ck_assert_int_eq(mail_compose(&d, &m), 0);
	head_end = strstr(m.data, "\r\n\r\n");
	ck_assert_ptr_nonnull(head_end);
	ck_assert_ptr_null(memmem(m.data, (size_t)(head_end - m.data), "Bcc",
				  3));
	ck_assert_ptr_null(memmem(m.data, (size_t)(head_end - m.data),
				  "Subject: hi", 11));
	ck_assert_ptr_nonnull(strstr(m.data, "Auto-Submitted: auto-generated"));
	ck_assert_ptr_nonnull(strstr(m.data, "multipart/alternative"));
	/* Agent strings are only in the base64 parts. */
	ck_assert_ptr_null(strstr(m.data, "evil"));
	ck_assert_ptr_null(strstr(m.data, "QUIT"));
	for (p = m.data, end = m.data + m.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		ck_assert_ptr_nonnull(nl);
		ck_assert(nl > p ? nl[-1] == '\r' : 0);
		ck_assert_int_le(nl - p, 998);
		p = nl + 1;
	}
	/* A bad recipient composes nothing. */
	d.to = "x\r\n@y";
	ck_assert_int_eq(mail_compose(&d, &m), -EINVAL);
	buf_free(&m);
	json_decref(hosts);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mail");
	TCase *tc = tcase_create("mail");

	tcase_add_test(tc, test_token_round_trip);
	tcase_add_test(tc, test_token_tampering);
	tcase_add_test(tc, test_html_escape);
	tcase_add_test(tc, test_address_ok);
	tcase_add_test(tc, test_compose_hostile_strings);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
