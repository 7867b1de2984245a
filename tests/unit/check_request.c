/*
 * check_request.c - what handlers read of a request and how they answer
 * (server/request.c, server/reply.c), on requests built by hand as
 * http.c fills them: the first of repeated arguments counts, names match
 * in any case, and every refusal is the 400 or 415 the API documents.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "reply.h"
#include "request.h"
#include "testutil.h"

static void add_arg(struct request *rq, const char *name, const char *value)
{
	ck_assert_int_lt(rq->n_args, REQUEST_MAX_ARGS);
	rq->args[rq->n_args].name = name;
	rq->args[rq->n_args].value = value;
	rq->n_args++;
}

/* The reply's error message; fails the test unless rp is that error. */
static const char *error_of(const struct reply *rp, int status,
			    const char *code)
{
	json_t *e = json_object_get(rp->json, "error");

	ck_assert_int_eq(rp->status, status);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
	return json_string_value(json_object_get(e, "message"));
}

START_TEST(test_arg)
{
	struct request rq = { 0 };

	ck_assert_ptr_null(request_arg(&rq, "status"));
	add_arg(&rq, "q", NULL);
	add_arg(&rq, "Status", "open");
	add_arg(&rq, "status", "resolved");
	ck_assert_str_eq(request_arg(&rq, "status"), "open");
	ck_assert_str_eq(request_arg(&rq, "STATUS"), "open");
	ck_assert_ptr_null(request_arg(&rq, "q"));	/* "?q" with no "=" */
	ck_assert_ptr_null(request_arg(&rq, "stat"));
}
END_TEST

START_TEST(test_limit)
{
	static const char *const bad[] = { "0", "1001", "", "5x", "-1" };
	struct request rq = { 0 };
	struct reply rp = { 0 };
	int limit = 0;

	ck_assert_int_eq(request_limit(&rq, &rp, &limit), 0);
	ck_assert_int_eq(limit, 100);
	add_arg(&rq, "limit", "1000");
	ck_assert_int_eq(request_limit(&rq, &rp, &limit), 0);
	ck_assert_int_eq(limit, 1000);
	ck_assert_int_eq(rp.status, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rq.args[0].value = bad[i];
		ck_assert_int_eq(request_limit(&rq, &rp, &limit), -EINVAL);
		ck_assert_str_eq(error_of(&rp, 400, "bad_request"),
				 "limit must be a number from 1 to 1000");
		json_decref(rp.json);
		rp = (struct reply){ 0 };
	}
}
END_TEST

START_TEST(test_enum)
{
	static const char *const three[] = { "open", "acknowledged",
					     "resolved", NULL };
	static const char *const four[] = { "pending", "delivered", "failed",
					    "disabled", NULL };
	struct request rq = { 0 };
	struct reply rp = { 0 };
	int v = 7;

	ck_assert_int_eq(request_enum(&rq, &rp, "status", three, &v), 0);
	ck_assert_int_eq(v, -1);
	add_arg(&rq, "status", "resolved");
	ck_assert_int_eq(request_enum(&rq, &rp, "status", three, &v), 0);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(rp.status, 0);

	/* Exact: no prefix, no other case. */
	rq.args[0].value = "Open";
	v = 7;
	ck_assert_int_eq(request_enum(&rq, &rp, "status", three, &v),
			 -EINVAL);
	ck_assert_int_eq(v, 7);
	ck_assert_str_eq(error_of(&rp, 400, "bad_request"),
			 "status must be open, acknowledged or resolved");
	rq.args[0].value = "";
	ck_assert_int_eq(request_enum(&rq, &rp, "status", four, &v),
			 -EINVAL);
	ck_assert_str_eq(error_of(&rp, 400, "bad_request"),
			 "status must be pending, delivered, failed or "
			 "disabled");
	json_decref(rp.json);
}
END_TEST

START_TEST(test_json)
{
	struct request rq = { 0 };
	struct reply rp = { 0 };
	json_t *j;

	buf_init(&rq.body, 1024);
	ck_assert_ptr_null(request_json(&rq, &rp));
	ck_assert_str_eq(error_of(&rp, 415, "unsupported_media_type"),
			 "send Content-Type: application/json");
	rq.content_type = "application/jsonp";
	ck_assert_ptr_null(request_json(&rq, &rp));
	ck_assert_int_eq(rp.status, 415);

	rq.content_type = "application/json; charset=utf-8";
	ck_assert_int_eq(buf_puts(&rq.body, "{\"a\":1,\"a\":2}"), 0);
	ck_assert_ptr_null(request_json(&rq, &rp));
	ck_assert_int_eq(rp.status, 400);	/* duplicates refused */
	buf_free(&rq.body);
	buf_init(&rq.body, 1024);
	ck_assert_int_eq(buf_puts(&rq.body, "[1]"), 0);
	ck_assert_ptr_null(request_json(&rq, &rp));
	ck_assert_str_eq(error_of(&rp, 400, "malformed"),
			 "expected a JSON object");
	buf_free(&rq.body);
	buf_init(&rq.body, 1024);
	ck_assert_int_eq(buf_puts(&rq.body, "{\"a\":1}"), 0);
	j = request_json(&rq, &rp);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	json_decref(rp.json);
	buf_free(&rq.body);
}
END_TEST

START_TEST(test_store_error)
{
	static const struct {
		int r, status, retry;
		const char *code;
	} cases[] = {
		{ -ENOENT, 404, 0, "not_found" },
		{ -EEXIST, 409, 0, "conflict" },
		{ -ENOSPC, 503, 60, "disk_full" },
		{ -EROFS, 503, 60, "read_only" },
		{ -EIO, 503, 30, "storage_error" },
		{ -EBUSY, 503, 5, "busy" },
		{ -ENOMEM, 503, 5, "out_of_memory" },
		{ -EUCLEAN, 500, 0, "internal" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reply rp = { 0 };

		ck_assert_int_eq(reply_store_error(&rp, cases[i].r, "host"), 0);
		error_of(&rp, cases[i].status, cases[i].code);
		ck_assert_int_eq(rp.retry_after, cases[i].retry);
		json_decref(rp.json);
	}
}
END_TEST

START_TEST(test_utf8)
{
	static const char *const good[] = { "", "abc", "caf\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x93\xa7", "\xf4\x8f\xbf\xbf" };
	static const char *const bad[] = { "\xff", "\xc3", "\xc0\xaf",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"ab\x80", "\xe2\x82" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(request_utf8(good[i], strlen(good[i])), "%zu", i);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(!request_utf8(bad[i], strlen(bad[i])), "%zu", i);
}
END_TEST

START_TEST(test_reply)
{
	struct reply rp = { 0 };
	char big[1024];

	/* A second answer replaces the first, whose reference is dropped. */
	reply_json(&rp, 200, json_pack("{s:i}", "n", 1));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(reply_error(&rp, 404, "not_found", "no host %s", big),
			 0);
	/* The message is cut to its buffer, not overflowed. */
	ck_assert_uint_eq(strlen(error_of(&rp, 404, "not_found")), 511);
	json_decref(rp.json);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("request");

	tcase_add_test(tc, test_arg);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_enum);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_store_error);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_reply);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
