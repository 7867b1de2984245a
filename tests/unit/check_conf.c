/*
 * check_conf.c - the table-driven config: defaults, INI files from
 * tests/fixtures/conf, flags, and errors that name FILE:LINE and the key.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "testutil.h"

struct cfg {
	char *listen;
	char *database;
	char *enroll_secret_file;
	int64_t max_body_bytes;
	int64_t idle_after;
	struct conf_ports smtp_ports;
};

#define OFF(f) offsetof(struct cfg, f)

static const struct conf_key keys[] = {
	{ "server", "listen", CONF_STRING, OFF(listen), "127.0.0.1:8080", 0,
	  0, "address and port" },
	{ "server", "database", CONF_STRING, OFF(database),
	  "/var/lib/derelict/derelict.db", 0, 0, "database file" },
	{ "server", "enroll_secret_file", CONF_STRING, OFF(enroll_secret_file),
	  NULL, 0, 0, "file holding the enrollment secret" },
	{ "server", "max_body_bytes", CONF_INT, OFF(max_body_bytes),
	  "16777216", 1024, INT64_C(1) << 30, "largest request body" },
	{ "rules", "idle_after", CONF_SPAN, OFF(idle_after), "30d", 60,
	  INT64_C(10) * 365 * 86400, "idle after" },
	{ "rules", "smtp_ports", CONF_PORTS, OFF(smtp_ports), "25, 465, 587",
	  0, 0, "mail ports" },
	{ NULL, NULL, 0, 0, NULL, 0, 0, NULL },
};

static struct cfg cfg;
static char err[CONF_ERR_LEN];
static char path[512];

/* The fixture's path, kept in path for the messages that name it. */
static const char *fixture(const char *name)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "conf/%s", name);
	snprintf(path, sizeof(path), "%s", testutil_fixture(rel));
	return path;
}

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(err, 0, sizeof(err));
	ck_assert_int_eq(conf_defaults(keys, &cfg), 0);
}

static void teardown(void)
{
	conf_free(keys, &cfg);
}

/* Loads a fixture that must fail and checks the error text. */
static void expect_load_error(const char *name, int line, const char *key,
			      const char *why)
{
	char want[600];
	int r = conf_load_file(keys, &cfg, fixture(name), err);

	ck_assert_msg(r == -EINVAL, "%s: r = %d (%s)", name, r, err);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, key);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		      "%s: error \"%s\" does not start with \"%s\"", name, err,
		      want);
	if (why)
		ck_assert_msg(strstr(err, why) != NULL,
			      "%s: error \"%s\" lacks \"%s\"", name, err, why);
}

START_TEST(test_defaults)
{
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_str_eq(cfg.database, "/var/lib/derelict/derelict.db");
	/* A NULL default is an empty string, not NULL. */
	ck_assert_str_eq(cfg.enroll_secret_file, "");
	ck_assert_int_eq(cfg.max_body_bytes, 16777216);
	ck_assert_int_eq(cfg.idle_after, 30 * 86400);
	ck_assert_int_eq(cfg.smtp_ports.n, 3);
	ck_assert_int_eq(cfg.smtp_ports.port[0], 25);
	ck_assert_int_eq(cfg.smtp_ports.port[1], 465);
	ck_assert_int_eq(cfg.smtp_ports.port[2], 587);
	/* Setting the defaults again frees the old strings (ASan checks). */
	ck_assert_int_eq(conf_defaults(keys, &cfg), 0);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
}
END_TEST

START_TEST(test_bad_default_is_an_error)
{
	struct cfg c = { 0 };
	static const struct conf_key bad[] = {
		{ "s", "n", CONF_INT, OFF(max_body_bytes), "12", 100, 200,
		  NULL },
		{ NULL, NULL, 0, 0, NULL, 0, 0, NULL },
	};

	ck_assert_int_eq(conf_defaults(bad, &c), -EINVAL);
}
END_TEST

START_TEST(test_load_good)
{
	ck_assert_int_eq(conf_load_file(keys, &cfg, fixture("good.conf"), err),
			 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(cfg.listen, "0.0.0.0:8443");
	ck_assert_str_eq(cfg.database, "/srv/derelict/fleet.db");
	ck_assert_str_eq(cfg.enroll_secret_file, "/etc/derelict/enroll.secret");
	ck_assert_int_eq(cfg.max_body_bytes, 1048576);
	ck_assert_int_eq(cfg.idle_after, 5400);
	ck_assert_int_eq(cfg.smtp_ports.n, 3);
	ck_assert_int_eq(cfg.smtp_ports.port[0], 25);
	ck_assert_int_eq(cfg.smtp_ports.port[1], 465);
	ck_assert_int_eq(cfg.smtp_ports.port[2], 587);
}
END_TEST

START_TEST(test_load_partial_keeps_defaults)
{
	ck_assert_int_eq(
		conf_load_file(keys, &cfg, fixture("partial.conf"), err), 0);
	ck_assert_int_eq(cfg.idle_after, 14 * 86400);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_int_eq(cfg.max_body_bytes, 16777216);
	ck_assert_int_eq(cfg.smtp_ports.n, 3);

	ck_assert_int_eq(conf_load_file(keys, &cfg, fixture("empty.conf"), err),
			 0);
	ck_assert_int_eq(cfg.idle_after, 14 * 86400);
}
END_TEST

START_TEST(test_missing_file)
{
	int r = conf_load_file(keys, &cfg, fixture("no-such.conf"), err);

	ck_assert_int_eq(r, -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no-such.conf"));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
}
END_TEST

START_TEST(test_unknown_key)
{
	expect_load_error("unknown-key.conf", 5, "lisen", "unknown key");
	ck_assert_ptr_nonnull(strstr(err, "[server]"));
	/* Nothing after the bad line is applied. */
	ck_assert_str_eq(cfg.database, "/var/lib/derelict/derelict.db");
}
END_TEST

START_TEST(test_key_in_wrong_section)
{
	expect_load_error("wrong-section.conf", 4, "listen", "[rules]");
}
END_TEST

START_TEST(test_bad_span)
{
	expect_load_error("bad-span.conf", 6, "idle_after", "time span");
	ck_assert_ptr_nonnull(strstr(err, "\"5x\""));
	ck_assert_int_eq(cfg.idle_after, 30 * 86400);
}
END_TEST

START_TEST(test_int_out_of_range)
{
	expect_load_error("out-of-range.conf", 2, "max_body_bytes",
			  "out of range");
	ck_assert_int_eq(cfg.max_body_bytes, 16777216);
	expect_load_error("bad-int.conf", 2, "max_body_bytes", "whole number");
}
END_TEST

START_TEST(test_bad_ports_file)
{
	expect_load_error("bad-ports.conf", 2, "smtp_ports", "65535");
	ck_assert_int_eq(cfg.smtp_ports.n, 3);
}
END_TEST

START_TEST(test_syntax_error)
{
	char want[600];

	ck_assert_int_eq(
		conf_load_file(keys, &cfg, fixture("syntax-error.conf"), err),
		-EINVAL);
	snprintf(want, sizeof(want), "%s:3: syntax error", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* inih reads lines into a fixed buffer; a longer line must be an error
 * naming its own line, never a value silently cut short. */
START_TEST(test_long_line)
{
	int r = conf_load_file(keys, &cfg, fixture("long-line.conf"), err);
	char want[600];

	ck_assert_int_eq(r, -EINVAL);
	snprintf(want, sizeof(want), "%s:2:", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		      "error \"%s\" does not name line 2", err);
	ck_assert_str_eq(cfg.database, "/var/lib/derelict/derelict.db");
}
END_TEST

/* A line that just fits inih's 200-byte buffer (199 characters and the
 * newline) is read whole and does not shift the line count. */
START_TEST(test_line_at_buffer_limit)
{
	char tmp[] = "/tmp/check_conf.XXXXXX", line[200], want[600];
	int fd = mkstemp(tmp);
	FILE *f;
	int r;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	memset(line, 'd', sizeof(line));
	memcpy(line, "database = /", 12);
	line[199] = '\0';
	fprintf(f, "[server]\n%s\nbogus = 1\n", line);
	fclose(f);

	r = conf_load_file(keys, &cfg, tmp, err);
	unlink(tmp);
	ck_assert_int_eq(r, -EINVAL);
	snprintf(want, sizeof(want), "%s:3: bogus: unknown key", tmp);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\"",
		      err);
	ck_assert_uint_eq(strlen(cfg.database), 199 - strlen("database = "));
}
END_TEST

START_TEST(test_flags)
{
	const struct conf_key *k;

	k = conf_find_flag(keys, "--enroll-secret-file");
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "enroll_secret_file");
	k = conf_find_flag(keys, "--idle-after=1h");
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "idle_after");
	ck_assert_ptr_eq(conf_find_flag(keys, "--listen"), &keys[0]);
	ck_assert_ptr_null(conf_find_flag(keys, "listen"));
	ck_assert_ptr_null(conf_find_flag(keys, "-listen"));
	ck_assert_ptr_null(conf_find_flag(keys, "--listenx"));
	ck_assert_ptr_null(conf_find_flag(keys, "--"));
	ck_assert_ptr_null(conf_find_flag(keys, "--help"));
}
END_TEST

START_TEST(test_set)
{
	ck_assert_int_eq(conf_set(keys, &cfg, "listen", "[::1]:9000", err), 0);
	ck_assert_str_eq(cfg.listen, "[::1]:9000");
	ck_assert_int_eq(conf_set(keys, &cfg, "enroll-secret-file", "/s", err),
			 0);
	ck_assert_str_eq(cfg.enroll_secret_file, "/s");
	ck_assert_int_eq(conf_set(keys, &cfg, "idle-after", "48h", err), 0);
	ck_assert_int_eq(cfg.idle_after, 48 * 3600);
	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes", "2048", err),
			 0);
	ck_assert_int_eq(cfg.max_body_bytes, 2048);
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", "2525", err), 0);
	ck_assert_int_eq(cfg.smtp_ports.n, 1);
	ck_assert_int_eq(cfg.smtp_ports.port[0], 2525);
	/* An empty string is a value, not "unset". */
	ck_assert_int_eq(conf_set(keys, &cfg, "database", "", err), 0);
	ck_assert_str_eq(cfg.database, "");
}
END_TEST

START_TEST(test_set_errors)
{
	ck_assert_int_eq(conf_set(keys, &cfg, "no-such", "1", err), -ENOENT);
	ck_assert_str_eq(err, "unknown option --no-such");

	ck_assert_int_eq(conf_set(keys, &cfg, "idle-after", "5x", err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--idle-after"));
	ck_assert_ptr_nonnull(strstr(err, "\"5x\""));
	ck_assert_int_eq(cfg.idle_after, 30 * 86400);

	/* The span bounds apply to flags too: 59s is below the minimum. */
	ck_assert_int_eq(conf_set(keys, &cfg, "idle-after", "59s", err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "out of range"));
	ck_assert_int_eq(conf_set(keys, &cfg, "idle-after", "60s", err), 0);

	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes", "1023", err),
			 -EINVAL);
	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes", "1073741825",
				  err),
			 -EINVAL);
	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes", "", err),
			 -EINVAL);
	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes", "12 ", err),
			 -EINVAL);
	ck_assert_int_eq(conf_set(keys, &cfg, "max-body-bytes",
				  "99999999999999999999", err),
			 -EINVAL);
	ck_assert_int_eq(cfg.max_body_bytes, 16777216);
}
END_TEST

START_TEST(test_ports_parsing)
{
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", "25, 465,587",
				  err),
			 0);
	ck_assert_int_eq(cfg.smtp_ports.n, 3);
	ck_assert_int_eq(cfg.smtp_ports.port[1], 465);
	ck_assert_int_eq(cfg.smtp_ports.port[2], 587);
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", "1,65535", err),
			 0);
	ck_assert_int_eq(cfg.smtp_ports.n, 2);
	ck_assert_int_eq(cfg.smtp_ports.port[1], 65535);
	/* No ports at all is a valid list: nothing counts as mail. */
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", "", err), 0);
	ck_assert_int_eq(cfg.smtp_ports.n, 0);
}
END_TEST

START_TEST(test_ports_rejects)
{
	static const char *const bad[] = {
		"0", "70000", "65536", "25, 0", "garbage", "25x", "25;465",
		"-25", "25.5", "25,,abc",
	};

	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", "2525", err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(conf_set(keys, &cfg, "smtp-ports", bad[i], err) ==
				      -EINVAL,
			      "accepted \"%s\"", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "--smtp-ports"));
		/* A rejected list leaves the old one in place. */
		ck_assert_int_eq(cfg.smtp_ports.n, 1);
		ck_assert_int_eq(cfg.smtp_ports.port[0], 2525);
	}
}
END_TEST

START_TEST(test_ports_cap)
{
	char list[512] = "";
	size_t n = 0;

	for (int i = 0; i < CONF_MAX_PORTS; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%d,", 1000 + i);
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", list, err), 0);
	ck_assert_int_eq(cfg.smtp_ports.n, CONF_MAX_PORTS);
	snprintf(list + n, sizeof(list) - n, "9999");
	ck_assert_int_eq(conf_set(keys, &cfg, "smtp-ports", list, err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
}
END_TEST

START_TEST(test_print_flags)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	conf_print_flags(keys, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "--enroll-secret-file"));
	ck_assert_ptr_nonnull(strstr(text, "(default: none)"));
	ck_assert_ptr_nonnull(strstr(text, "(default: 30d)"));
	ck_assert_ptr_null(strstr(text, "enroll_secret"));
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_bad_default_is_an_error);
	tcase_add_test(tc, test_load_good);
	tcase_add_test(tc, test_load_partial_keeps_defaults);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_key_in_wrong_section);
	tcase_add_test(tc, test_bad_span);
	tcase_add_test(tc, test_int_out_of_range);
	tcase_add_test(tc, test_bad_ports_file);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_line_at_buffer_limit);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_set_errors);
	tcase_add_test(tc, test_ports_parsing);
	tcase_add_test(tc, test_ports_rejects);
	tcase_add_test(tc, test_ports_cap);
	tcase_add_test(tc, test_print_flags);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
