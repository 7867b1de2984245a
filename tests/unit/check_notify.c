/*
 * check_notify.c - the webhook signature (the Standard Webhooks
 * reference libraries' own test vector), the secret's form, the retry
 * schedule, links, and the [webhook NAME] sections of derelictd.conf.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "server.h"
#include "testutil.h"

/* From standard-webhooks' libraries (javascript/src/index.test.ts and
 * python/tests): this secret, id, timestamp and body sign to this. */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS 1614265330
#define VEC_BODY "{\"test\": 2432232314}"
#define VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

START_TEST(test_sign_vector)
{
	unsigned char key[NOTIFY_KEY_MAX];
	char sig[NOTIFY_SIGNATURE_LEN];
	size_t len = 0;

	ck_assert_int_eq(notify_webhook_key(VEC_SECRET, key, &len), 0);
	ck_assert_uint_eq(len, 24);
	ck_assert_int_eq(notify_webhook_sign(key, len, VEC_ID, VEC_TS, VEC_BODY,
					     strlen(VEC_BODY), sig),
			 0);
	ck_assert_str_eq(sig, VEC_SIG);
	/* Any change of id, time or body is another signature. */
	notify_webhook_sign(key, len, VEC_ID, VEC_TS + 1, VEC_BODY,
			    strlen(VEC_BODY), sig);
	ck_assert_str_ne(sig, VEC_SIG);
	notify_webhook_sign(key, len, "msg_other", VEC_TS, VEC_BODY,
			    strlen(VEC_BODY), sig);
	ck_assert_str_ne(sig, VEC_SIG);
	notify_webhook_sign(key, len, VEC_ID, VEC_TS, "{\"test\": 2432232315}",
			    strlen(VEC_BODY), sig);
	ck_assert_str_ne(sig, VEC_SIG);
}
END_TEST

START_TEST(test_key_form)
{
	unsigned char key[NOTIFY_KEY_MAX];
	size_t len;

	/* Without the prefix, not base64, too short, too long. */
	ck_assert_int_eq(notify_webhook_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					    key, &len),
			 -EINVAL);
	ck_assert_int_eq(notify_webhook_key("whsec_not base64!!", key, &len),
			 -EINVAL);
	ck_assert_int_eq(notify_webhook_key("whsec_c2hvcnQ=", key, &len),
			 -EINVAL);
	ck_assert_int_eq(notify_webhook_key("whsec_", key, &len), -EINVAL);
	{
		char big[200] = "whsec_";

		memset(big + 6, 'A', 120);
		ck_assert_int_eq(notify_webhook_key(big, key, &len), -EINVAL);
		/* 64 bytes (88 characters, padding included) is the most. */
		memset(big + 6, 'A', 86);
		memcpy(big + 92, "==", 3);
		ck_assert_int_eq(notify_webhook_key(big, key, &len), 0);
		ck_assert_uint_eq(len, 64);
	}
}
END_TEST

START_TEST(test_backoff_schedule)
{
	const uint32_t lo = 0, hi = UINT32_MAX;
	int64_t total = 0, prev = 0;
	int n;

	/* The delay doubles: within [d/2, d) of base * 2^(attempts-1). */
	ck_assert_int_eq(notify_backoff(1, 30, lo), 15);
	ck_assert_int_eq(notify_backoff(1, 30, hi), 29);
	ck_assert_int_eq(notify_backoff(2, 30, lo), 30);
	ck_assert_int_eq(notify_backoff(3, 30, lo), 60);
	ck_assert_int_eq(notify_backoff(3, 30, hi), 119);
	ck_assert_int_eq(notify_backoff(4, 30, lo), 120);
	/* A jitter halfway is halfway. */
	ck_assert_int_eq(notify_backoff(4, 30, 1u << 31), 180);
	/* Capped, however many attempts and whatever the base. */
	ck_assert_int_le(notify_backoff(100, 30, hi), NOTIFY_MAX_DELAY);
	ck_assert_int_ge(notify_backoff(100, 30, lo), NOTIFY_MAX_DELAY / 2);
	ck_assert_int_le(notify_backoff(1000000, 86400, hi), NOTIFY_MAX_DELAY);
	/* Never 0, so a failing receiver is never hammered. */
	ck_assert_int_eq(notify_backoff(1, 1, lo), 1);
	ck_assert_int_eq(notify_backoff(1, 0, lo), 1);
	/* With the default base of 30 s and no luck, 24 h of retries take a
	 * dozen or two attempts, each delay at least the one before. */
	for (n = 1; total < 86400; n++) {
		int64_t d = notify_backoff(n, 30, lo);

		ck_assert_int_ge(d, prev);
		prev = d;
		total += d;
	}
	ck_assert_int_ge(n, 12);
	ck_assert_int_le(n, 30);
}
END_TEST

static char *write_conf(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_notify_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(const char *text, struct server_config *cfg,
		char err[CONF_ERR_LEN])
{
	char *path = write_conf(text);
	int r;

	ck_assert_int_eq(conf_defaults(server_conf_keys, cfg), 0);
	r = conf_load_file_with(server_conf_keys, cfg, path, config_section,
				cfg, err);
	if (r == 0)
		r = config_finish(cfg, err);
	unlink(path);
	return r;
}

static void unload(struct server_config *cfg)
{
	config_free(cfg);
	conf_free(server_conf_keys, cfg);
	memset(cfg, 0, sizeof(*cfg));
}

START_TEST(test_webhook_sections)
{
	struct server_config cfg = { 0 };
	char err[CONF_ERR_LEN];

	ck_assert_int_eq(load("[notify]\nwebhook_url = https://a.example/h\n"
			      "webhook_secret_file = /etc/a\n"
			      "[webhook sec]\nurl = http://b.example/x\n"
			      "secret_file = /etc/b\nmin_severity = critical\n",
			      &cfg, err),
			 0);
	ck_assert_int_eq(cfg.n_webhooks, 2);
	ck_assert_str_eq(cfg.webhooks[0].name, "sec");
	ck_assert_int_eq(cfg.webhooks[0].min_severity, 4);
	ck_assert_str_eq(cfg.webhooks[1].name, "default");
	ck_assert_str_eq(cfg.webhooks[1].url, "https://a.example/h");
	ck_assert_int_eq(cfg.webhooks[1].min_severity, 1);
	unload(&cfg);

	/* Nothing configured: no webhooks at all. */
	ck_assert_int_eq(load("[server]\n", &cfg, err), 0);
	ck_assert_int_eq(cfg.n_webhooks, 0);
	unload(&cfg);

	ck_assert_int_eq(load("[webhook x]\nurl = ftp://x/\nsecret_file = "
			      "/s\n",
			      &cfg, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "[webhook x] url"));
	unload(&cfg);
	ck_assert_int_eq(load("[webhook x]\nurl = http://x/\n", &cfg, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "secret_file"));
	unload(&cfg);
	ck_assert_int_eq(load("[webhook x]\nmin_severity = loud\n", &cfg, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":2: min_severity"));
	unload(&cfg);
	ck_assert_int_eq(load("[webhook x]\ncolour = red\n", &cfg, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown key"));
	unload(&cfg);
	ck_assert_int_eq(load("[webhook a/b]\nurl = http://x/\n", &cfg, err),
			 -EINVAL);
	unload(&cfg);
	ck_assert_int_eq(load("[notify]\nwebhook_secret_file = /s\n", &cfg,
			      err),
			 -EINVAL);
	unload(&cfg);
	ck_assert_int_eq(load("[notify]\nwebhook_url = http://x/\n"
			      "webhook_secret_file = /s\n"
			      "webhook_min_severity = severe\n",
			      &cfg, err),
			 -EINVAL);
	unload(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sign_vector);
	tcase_add_test(tc, test_key_form);
	tcase_add_test(tc, test_backoff_schedule);
	tcase_add_test(tc, test_webhook_sections);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
