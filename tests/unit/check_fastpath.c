/*
 * check_fastpath.c - the fast path (server/fastpath.c) on a real store: what
 * it learns, what it answers for, the bound on a last_seen waiting to be
 * written, and that any other write empties it.  One story, told at chosen
 * times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fastpath.h"
#include "jsonutil.h"
#include "server.h"
#include "store.h"
#include "testutil.h"
#include "timeutil.h"

#define TOKEN_A                                                                \
	"a000000000000000000000000000000000000000000000000000000000000001"
#define TOKEN_B                                                                \
	"a000000000000000000000000000000000000000000000000000000000000002"

/* A made-up SHA-256 hex digest: c, then zeros. */
static const char *HASH(const char *c)
{
	static char out[8][SHA256_HEX_LEN];
	static int next;
	char *h = out[next++ % 8];

	memset(h, '0', SHA256_HEX_LEN - 1);
	h[0] = c[0];
	h[SHA256_HEX_LEN - 1] = '\0';
	return h;
}

static char dir[96], db_path[160];
static struct server_config cfg;
static struct store *st;
static struct fastpath *fp;
static int64_t t0;

static void setup(void)
{
	char err[256] = "";

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(conf_defaults(server_conf_keys, &cfg), 0);
	testutil_tmpdir(dir, sizeof(dir), "fastpath");
	snprintf(db_path, sizeof(db_path), "%s/derelict.db", dir);
	ck_assert_int_eq(store_open(db_path, &cfg, &st, err), 0);
	ck_assert_int_eq(fastpath_new(st, &fp), 0);
	t0 = time_now();
}

static void teardown(void)
{
	fastpath_free(fp);
	store_close(st);
	testutil_rmtree(dir);
	conf_free(server_conf_keys, &cfg);
}

/* An unchanged report of host 7 under TOKEN_A: every section a hash. */
static void unchanged(struct ingest_job *job, const char *packages_hash)
{
	memset(job, 0, sizeof(*job));
	job->host_id = 7;
	job->report = testutil_parse(
		"{\"agent\":{\"id\":\"0b7d3c1e-1111-4222-8333-444455556666\"},"
		"\"collected_at\":\"2026-11-26T10:00:00Z\"}");
	snprintf(job->token_hash, sizeof(job->token_hash), "%s", TOKEN_A);
	snprintf(job->identity, sizeof(job->identity), "%s", HASH("1"));
	for (int i = 0; i < SECTION_COUNT - 1; i++) {
		job->sec[i].present = 1;
		snprintf(job->sec[i].hash, sizeof(job->sec[i].hash), "%s",
			 HASH("2"));
	}
	snprintf(job->sec[SECTION_PACKAGES].hash, SHA256_HEX_LEN, "%s",
		 packages_hash);
	job->bytes = 1000;
}

static size_t waiting(struct store_seen *ret, int64_t *ret_at)
{
	struct store_seen *seen;
	size_t n;

	ck_assert_int_eq(fastpath_dirty(fp, &seen, &n, ret_at), 0);
	if (n)
		*ret = seen[0];
	free(seen);
	return n;
}

START_TEST(learn_answer_write)
{
	struct ingest_job job, other;
	struct principal who = { 0 };
	struct store_seen seen;
	int64_t at;

	unchanged(&job, HASH("3"));
	/* Nothing learned yet: the whole way, and the store is asked. */
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0), -EAGAIN);
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_A, &who), -ENOENT);

	fastpath_learn(fp, &job, t0 + 3600, store_epoch(st));
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_A, &who), 0);
	ck_assert_int_eq(who.role, ROLE_HOST);
	ck_assert_int_eq(who.host_id, 7);
	ck_assert_str_eq(who.name, "0b7d3c1e-1111-4222-8333-444455556666");
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_B, &who), -ENOENT);
	ck_assert(!fastpath_pending(fp));

	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0), 0);
	ck_assert(fastpath_pending(fp));
	ck_assert_int_eq(waiting(&seen, &at), 1);
	ck_assert_int_eq(seen.host_id, 7);
	ck_assert_int_eq(seen.last_seen, t0);
	ck_assert_int_eq(seen.bytes, 1000);
	ck_assert_int_gt(seen.collected_at, 0);
	fastpath_written(fp, &seen, 1, at);
	ck_assert(!fastpath_pending(fp));

	/* Anything but the same hashes, token and times goes the whole way. */
	unchanged(&other, HASH("4"));
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0), -EAGAIN);
	json_decref(other.report);
	unchanged(&other, HASH("3"));
	other.sec[SECTION_PORTS].full = 1;
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0), -EAGAIN);
	other.sec[SECTION_PORTS].full = 0;
	other.sec[SECTION_LOGINS].present = 0;
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0), -EAGAIN);
	other.sec[SECTION_LOGINS].present = 1;
	snprintf(other.pending, sizeof(other.pending), "%s", TOKEN_A);
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0), -EAGAIN);
	other.pending[0] = '\0';
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_B, t0), -EAGAIN);
	/* Due for a time-based rule: the writer evaluates it. */
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0 + 3600),
			 -EAGAIN);
	ck_assert_int_eq(fastpath_report(fp, &other, TOKEN_A, t0 + 1), 0);
	json_decref(other.report);

	/* A batch with the host in it: forgotten until learned again, and
	 * what waited is still written. */
	fastpath_forget(fp, 7);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0 + 2), -EAGAIN);
	ck_assert_int_eq(waiting(&seen, &at), 1);
	ck_assert_int_eq(seen.last_seen, t0 + 1);
	fastpath_learn(fp, &job, t0 + 3600, store_epoch(st));
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0 + 2), 0);
	json_decref(job.report);
}
END_TEST

START_TEST(waits_at_most_the_bound)
{
	struct ingest_job job;
	struct store_seen seen;
	int64_t at;

	unchanged(&job, HASH("3"));
	fastpath_learn(fp, &job, t0 + 3600, store_epoch(st));
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0), 0);
	/* Not written (a failing disk, say): answered until it waited
	 * FASTPATH_DIRTY_MAX, then the reports wait for their commit. */
	ck_assert_int_eq(
		fastpath_report(fp, &job, TOKEN_A, t0 + FASTPATH_DIRTY_MAX), 0);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A,
					 t0 + FASTPATH_DIRTY_MAX + 1),
			 -EAGAIN);

	/* Written: answered again. */
	ck_assert_int_eq(waiting(&seen, &at), 1);
	ck_assert_int_eq(seen.last_seen, t0 + FASTPATH_DIRTY_MAX);
	fastpath_written(fp, &seen, 1, t0 + 6);
	ck_assert(!fastpath_pending(fp));
	job.bytes = 2000;
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0 + 7), 0);

	/* Copied, reported again, then the copy is written: it still waits,
	 * from the copy on. */
	ck_assert_int_eq(waiting(&seen, &at), 1);
	ck_assert_int_eq(seen.bytes, 2000);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0 + 8), 0);
	fastpath_written(fp, &seen, 1, t0 + 7);
	ck_assert(fastpath_pending(fp));
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A,
					 t0 + 7 + FASTPATH_DIRTY_MAX),
			 0);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A,
					 t0 + 8 + FASTPATH_DIRTY_MAX),
			 -EAGAIN);
	json_decref(job.report);
}
END_TEST

START_TEST(any_other_write_empties_it)
{
	struct ingest_job job;
	struct principal who = { 0 };
	struct store_seen seen;
	long before = store_epoch(st);
	int64_t at;

	unchanged(&job, HASH("3"));
	fastpath_learn(fp, &job, t0 + 3600, before);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0), 0);
	/* A token added (or a host deleted, retired, enrolled ...). */
	ck_assert_int_eq(store_token_add(st, "ops", "admin", TOKEN_B), 0);
	ck_assert_int_ne(store_epoch(st), before);
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_A, &who), -ENOENT);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0), -EAGAIN);
	/* Learned in a batch begun before the write: ignored. */
	fastpath_learn(fp, &job, t0 + 3600, before);
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_A, &who), -ENOENT);
	/* What waited is still written, and then it starts afresh. */
	ck_assert_int_eq(waiting(&seen, &at), 1);
	fastpath_written(fp, &seen, 1, at);
	fastpath_learn(fp, &job, t0 + 3600, store_epoch(st));
	ck_assert_int_eq(fastpath_auth(fp, TOKEN_A, &who), 0);
	ck_assert_int_eq(fastpath_report(fp, &job, TOKEN_A, t0 + 1), 0);
	json_decref(job.report);
}
END_TEST

START_TEST(finds_the_top_level_collected_at)
{
	static const struct {
		const char *body;
		long at;	/* -1: none, else where the value starts */
	} cases[] = {
		{ "{\"collected_at\":\"2026-11-26T10:00:00Z\"}", 16 },
		{ "{\"a\": 1, \"collected_at\" :\t\"2026-11-26T10:00:00Z\"}",
		  26 },
		/* nested, a string value of that name, inside strings */
		{ "{\"h\":{\"collected_at\":\"2026-11-26T10:00:00Z\"}}", -1 },
		{ "{\"a\":[\"collected_at\"],\"b\":\"collected_at\"}", -1 },
		{ "{\"a\":\"\\\"collected_at\\\":\\\"2026-11-26T10:00:00Z\\\"\"}",
		  -1 },
		{ "{\"a\":\"x\\\\\",\"collected_at\":\"2026-11-26T10:00:00Z\"}",
		  26 },
		/* not the agent's stamp */
		{ "{\"collected_at\":\"2026-11-26T10:00:00.5Z\"}", -1 },
		{ "{\"collected_at\":\"2026-11-26T10:00:00+00:00\"}", -1 },
		{ "{\"collected_at\":\"2026-11-26t10:00:00Z\"}", -1 },
		{ "{\"collected_at\":\"2026-13-26T10:00:00Z\"}", -1 },
		{ "{\"collected_at\":\"2026-11-26T10:00:00\\u005a\"}", -1 },
		{ "{\"collected_at\":null}", -1 },
		{ "{\"collected_at\":\"2026-11-26T10:00:00Z", -1 },
		{ "{}", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(fastpath_collected_at(cases[i].body,
						    strlen(cases[i].body)) ==
				      cases[i].at,
			      "%s", cases[i].body);
}
END_TEST

#define BODY(stamp, name)                                                      \
	"{\"agent\":{\"id\":\"0b7d3c1e-1111-4222-8333-444455556666\"},"       \
	"\"collected_at\": \"" stamp "\", \"host\":{\"hostname\":\"" name      \
	"\"}}"

START_TEST(takes_the_learned_body_with_a_new_stamp)
{
	const char *learned = BODY("2026-11-26T10:00:00Z", "mx1");
	struct ingest_job job;
	struct store_seen seen;
	char ahead[TIME_RFC3339_LEN], body[256];
	int64_t at, t;

	unchanged(&job, HASH("3"));
	json_decref(job.report);
	job.report = testutil_parse(learned);
	fastpath_template(&job, learned, strlen(learned));
	ck_assert_uint_eq(job.tmpl_len, strlen(learned));
	fastpath_learn(fp, &job, t0 + 3600, store_epoch(st));

	/* The same bytes but the stamp: taken, with that stamp. */
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T11:30:00Z", "mx1"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 0);
	ck_assert_int_eq(waiting(&seen, &at), 1);
	ck_assert_int_eq(time_parse("2026-11-27T11:30:00Z", &t), 0);
	ck_assert_int_eq(seen.collected_at, t);
	ck_assert_int_eq(seen.bytes, (int64_t)strlen(body));

	/* Anything else is parsed: another byte, another length, a stamp
	 * report_check() would refuse or replace, another token, a host
	 * that is due or forgotten. */
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T11:30:00Z", "mx2"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T11:30:00Z", "mx"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T25:30:00Z", "mx1"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T11:30:00z", "mx1"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	ck_assert_int_eq(time_format(t0 + 2 * 86400, ahead), 0);
	snprintf(body, sizeof(body), BODY("%s", "mx1"), ahead);
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	snprintf(body, sizeof(body), "%s", BODY("2026-11-27T11:30:00Z", "mx1"));
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_B, body, strlen(body), t0),
			 -EAGAIN);
	ck_assert_int_eq(fastpath_raw(fp, 8, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body),
				      t0 + 3600),
			 -EAGAIN);
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 0);
	fastpath_forget(fp, 7);
	ck_assert_int_eq(fastpath_raw(fp, 7, TOKEN_A, body, strlen(body), t0),
			 -EAGAIN);

	/* A report whose stamp report_check() replaced has no template. */
	ck_assert_int_eq(json_set_time(job.report, "collected_at", t0), 0);
	fastpath_template(&job, learned, strlen(learned));
	ck_assert_uint_eq(job.tmpl_len, 0);
	/* Nor has one that is not hashes only. */
	json_decref(job.report);
	job.report = testutil_parse(learned);
	job.sec[SECTION_PORTS].full = 1;
	fastpath_template(&job, learned, strlen(learned));
	ck_assert_uint_eq(job.tmpl_len, 0);
	json_decref(job.report);
}
END_TEST

static Suite *fastpath_suite(void)
{
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("fastpath");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, learn_answer_write);
	tcase_add_test(tc, waits_at_most_the_bound);
	tcase_add_test(tc, any_other_write_empties_it);
	tcase_add_test(tc, finds_the_top_level_collected_at);
	tcase_add_test(tc, takes_the_learned_body_with_a_new_stamp);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(fastpath_suite());
}
