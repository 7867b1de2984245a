/*
 * check_jsonutil.c - the jansson helpers: typed getters, time members,
 * depth, the canonical serialisation and what the parser refuses.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"
#include "testutil.h"

START_TEST(test_getters)
{
	json_t *o = testutil_parse("{\"s\": \"x\", \"i\": 42, \"big\": 9007199254740993,"
			  " \"neg\": -7, \"f\": 1.5, \"n\": null,"
			  " \"b\": true, \"a\": [1], \"o\": {}}");

	ck_assert_str_eq(json_get_str(o, "s"), "x");
	ck_assert_int_eq(json_get_int(o, "i", -1), 42);
	ck_assert_int_eq(json_get_int(o, "big", -1), INT64_C(9007199254740993));
	ck_assert_int_eq(json_get_int(o, "neg", 0), -7);
	json_decref(o);
}
END_TEST

START_TEST(test_getters_wrong_type)
{
	json_t *o = testutil_parse("{\"s\": \"42\", \"i\": 42, \"f\": 1.5, \"n\": null,"
			  " \"b\": true, \"a\": [\"x\"], \"o\": {\"s\": \"x\"}}");
	static const char *const not_str[] = { "i", "f", "n", "b", "a", "o",
					       "missing" };
	static const char *const not_int[] = { "s", "f", "n", "b", "a", "o",
					       "missing" };

	for (size_t i = 0; i < sizeof(not_str) / sizeof(not_str[0]); i++)
		ck_assert_msg(json_get_str(o, not_str[i]) == NULL,
			      "json_get_str(\"%s\") not NULL", not_str[i]);
	for (size_t i = 0; i < sizeof(not_int) / sizeof(not_int[0]); i++)
		ck_assert_msg(json_get_int(o, not_int[i], -99) == -99,
			      "json_get_int(\"%s\") not the default",
			      not_int[i]);
	json_decref(o);
}
END_TEST

START_TEST(test_getters_non_object)
{
	json_t *a = testutil_parse("[\"s\", 1]");

	ck_assert_ptr_null(json_get_str(a, "s"));
	ck_assert_int_eq(json_get_int(a, "s", 5), 5);
	ck_assert_ptr_null(json_get_str(NULL, "s"));
	ck_assert_int_eq(json_get_int(NULL, "s", 6), 6);
	json_decref(a);
}
END_TEST

START_TEST(test_set_str)
{
	json_t *o = json_object();
	char *text;

	ck_assert_int_eq(json_set_str(o, "a", "x"), 0);
	ck_assert_int_eq(json_set_str(o, "b", NULL), 0);
	/* Invalid UTF-8 stays a string, each bad byte as U+FFFD: a required
	 * field never turns null. */
	ck_assert_int_eq(json_set_str(o, "c", "\xff\xfe"), 0);
	ck_assert_int_eq(json_set_str(o, "d", "a\xc3(\xed\xa0\x80\xc3\xa9"), 0);
	ck_assert_int_eq(json_set_str(o, "a", "y"), 0);
	text = json_canonical(o);
	ck_assert_str_eq(text, "{\"a\":\"y\",\"b\":null,"
			       "\"c\":\"\xef\xbf\xbd\xef\xbf\xbd\","
			       "\"d\":\"a\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd"
			       "\xef\xbf\xbd\xc3\xa9\"}");
	free(text);
	json_decref(o);
}
END_TEST

START_TEST(test_set_time)
{
	json_t *o = json_object();

	ck_assert_int_eq(json_set_time(o, "t", 1795687200), 0);
	ck_assert_str_eq(json_get_str(o, "t"), "2026-11-26T10:00:00Z");
	ck_assert_int_eq(json_set_time(o, "zero", 0), 0);
	ck_assert(json_is_null(json_object_get(o, "zero")));
	ck_assert_int_eq(json_set_time(o, "neg", -5), 0);
	ck_assert(json_is_null(json_object_get(o, "neg")));
	/* Past year 9999 cannot be written as RFC 3339: null too. */
	ck_assert_int_eq(json_set_time(o, "far", INT64_C(253402300800)), 0);
	ck_assert(json_is_null(json_object_get(o, "far")));
	/* Overwriting a time with "unknown". */
	ck_assert_int_eq(json_set_time(o, "t", 0), 0);
	ck_assert(json_is_null(json_object_get(o, "t")));
	json_decref(o);
}
END_TEST

START_TEST(test_depth)
{
	json_t *v;

	v = json_integer(3);
	ck_assert_int_eq(json_depth(v), 0);
	json_decref(v);
	ck_assert_int_eq(json_depth(NULL), 0);

	v = testutil_parse("{}");
	ck_assert_int_eq(json_depth(v), 1);
	json_decref(v);
	v = testutil_parse("[]");
	ck_assert_int_eq(json_depth(v), 1);
	json_decref(v);
	v = testutil_parse("{\"a\": 1, \"b\": [1, [2, {\"c\": []}]], \"d\": {}}");
	ck_assert_int_eq(json_depth(v), 5);
	json_decref(v);
	v = testutil_parse("[[[[[[[[[[]]]]]]]]]]");
	ck_assert_int_eq(json_depth(v), 10);
	json_decref(v);
}
END_TEST

START_TEST(test_canonical_sorted_compact)
{
	json_t *a = testutil_parse("{ \"b\" : [ 1 , 2 ], \"a\" : { \"z\" : 1 , "
			  "\"y\" : \"s p\" }, \"c\": null }");
	json_t *b = testutil_parse("{\"c\":null,\"a\":{\"y\":\"s p\",\"z\":1},"
			  "\"b\":[1,2]}");
	char *ta = json_canonical(a), *tb = json_canonical(b);

	ck_assert_str_eq(ta, "{\"a\":{\"y\":\"s p\",\"z\":1},\"b\":[1,2],"
			     "\"c\":null}");
	ck_assert_str_eq(ta, tb);
	free(ta);
	free(tb);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_canonical_scalars_and_escapes)
{
	json_t *v = json_string("a\"b\\c\n\xc3\xa9");
	char *t = json_canonical(v);

	ck_assert_str_eq(t, "\"a\\\"b\\\\c\\n\xc3\xa9\"");
	free(t);
	json_decref(v);
	v = json_integer(-12);
	t = json_canonical(v);
	ck_assert_str_eq(t, "-12");
	free(t);
	json_decref(v);
}
END_TEST

/* json_canonical_append() writes json_canonical()'s bytes, whatever the
 * value (its fallback included), after what out already holds. */
START_TEST(test_canonical_append_is_json_canonical)
{
	static const char *const cases[] = {
		"{\"name\":\"exim4\",\"version\":\"4.96-15+deb12u4\","
		"\"arch\":\"amd64\",\"source\":null,\"n\":-9223372036854775807,"
		"\"ok\":true,\"no\":false}",
		"{\"b\":1,\"a\":2,\"ab\":3,\"B\":4,\"\":5,\"a b\":6}",
		"{\"s\":\"quote \\\" back \\\\ slash / tab \\t nl \\n cr \\r "
		"bs \\b ff \\f \\u0001 \\u001f \\u007f caf\\u00e9 \\ud83d\\ude00 "
		"\u00e9\"}",
		"{\"k\\u0002\\\"\":[1,[2,{\"z\":{},\"y\":[]}],\"x\",null]}",
		"{\"r\":1.5,\"i\":1}",
		"[0.1,1e300,-0.0,3]",
		"{\"a1\":1,\"a2\":1,\"a3\":1,\"a4\":1,\"a5\":1,\"a6\":1,\"a7\":1,"
		"\"a8\":1,\"a9\":1,\"b1\":1,\"b2\":1,\"b3\":1,\"b4\":1,\"b5\":1,"
		"\"b6\":1,\"b7\":1,\"b8\":1,\"b9\":1,\"c1\":1,\"c2\":1,\"c3\":1,"
		"\"c4\":1,\"c5\":1,\"c6\":1,\"c7\":1,\"c8\":1,\"c9\":1,\"d1\":1,"
		"\"d2\":1,\"d3\":1,\"d4\":1,\"d5\":1,\"d6\":1}",
		"\"alone\"", "42", "null", "{}", "[]",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i], JSON_DECODE_ANY, NULL);
		struct buf b = BUF_INIT(1 << 20);
		char *want;

		ck_assert_msg(v != NULL, "%s", cases[i]);
		want = json_canonical(v);
		ck_assert_int_eq(buf_puts(&b, "x"), 0);
		ck_assert_int_eq(json_canonical_append(v, &b), 0);
		ck_assert_str_eq(b.data + 1, want);
		ck_assert_uint_eq(b.len, strlen(want) + 1);
		free(want);
		buf_free(&b);
		json_decref(v);
	}
}
END_TEST

/* Past its cap, out is as it was. */
START_TEST(test_canonical_append_cap)
{
	json_t *v = json_pack("{s:s}", "name", "a long enough value");
	struct buf b = BUF_INIT(16);

	ck_assert_int_eq(buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(json_canonical_append(v, &b), -E2BIG);
	ck_assert_str_eq(b.data, "abc");
	ck_assert_uint_eq(b.len, 3);
	buf_free(&b);
	json_decref(v);
}
END_TEST

START_TEST(test_parse_rejects)
{
	static const char *const bad[] = {
		"{\"a\": \"x\\u0000y\"}", /* NUL inside a string */
		"[\"\\u0000\"]",
		"{\"a\": 1, \"a\": 2}", /* duplicate key */
		"{\"o\": {\"k\": 1, \"k\": 1}}",
		"{\"a\": 1,}",
		"{\"a\": 1} trailing",
		"",
		"{\"a\": \"\xff\"}", /* invalid UTF-8 */
	};
	json_error_t err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_parse_buf(bad[i], strlen(bad[i]), &err);

		ck_assert_msg(v == NULL, "accepted: %s", bad[i]);
		ck_assert_msg(err.text[0] != '\0', "no error text: %s", bad[i]);
	}
}
END_TEST

START_TEST(test_parse_len_and_depth)
{
	json_error_t err;
	json_t *v;
	char *deep;
	int n = 5000;

	/* Only len bytes are read: the rest of the buffer is not JSON. */
	v = json_parse_buf("{\"a\":1}garbage", 7, &err);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_get_int(v, "a", 0), 1);
	json_decref(v);

	/* Nesting past jansson's own limit is refused, not a crash. */
	deep = malloc(2 * n + 1);
	ck_assert_ptr_nonnull(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	v = json_parse_buf(deep, 2 * n, &err);
	ck_assert_ptr_null(v);
	free(deep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonutil");
	TCase *tc = tcase_create("jsonutil");

	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_getters_wrong_type);
	tcase_add_test(tc, test_getters_non_object);
	tcase_add_test(tc, test_set_str);
	tcase_add_test(tc, test_set_time);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_canonical_sorted_compact);
	tcase_add_test(tc, test_canonical_scalars_and_escapes);
	tcase_add_test(tc, test_canonical_append_is_json_canonical);
	tcase_add_test(tc, test_canonical_append_cap);
	tcase_add_test(tc, test_parse_rejects);
	tcase_add_test(tc, test_parse_len_and_depth);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
