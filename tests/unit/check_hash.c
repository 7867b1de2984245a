/*
 * check_hash.c - SHA-256 against the published FIPS 180-2 vectors, random
 * tokens and constant-time comparison.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "testutil.h"

START_TEST(test_sha256_fips_vectors)
{
	static const char two_block[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char out[SHA256_HEX_LEN];

	ck_assert_int_eq(sha256_hex("", 0, out), 0);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb924"
			      "27ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(sha256_hex("abc", 3, out), 0);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223"
			      "b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(sha256_hex(two_block, strlen(two_block), out), 0);
	ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039"
			      "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_sha256_million_a)
{
	char out[SHA256_HEX_LEN];
	char *a = malloc(1000000);

	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	ck_assert_int_eq(sha256_hex(a, 1000000, out), 0);
	ck_assert_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67"
			      "f1809a48a497200e046d39ccc7112cd0");
	free(a);
}
END_TEST

START_TEST(test_sha256_binary_length)
{
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];

	/* The length is honoured: an embedded NUL is data, not the end. */
	ck_assert_int_eq(sha256_hex("abc\0d", 5, a), 0);
	ck_assert_int_eq(sha256_hex("abc", 3, b), 0);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strlen(a), SHA256_HEX_LEN - 1);
}
END_TEST

START_TEST(test_random_hex)
{
	char a[65], b[65];

	memset(a, '*', sizeof(a));
	ck_assert_int_eq(random_hex(a, 32), 0);
	ck_assert_uint_eq(strlen(a), 64);
	for (int i = 0; i < 64; i++)
		ck_assert_msg(isxdigit((unsigned char)a[i]) &&
				      !isupper((unsigned char)a[i]),
			      "not lowercase hex: %s", a);
	ck_assert_int_eq(random_hex(b, 32), 0);
	ck_assert_str_ne(a, b);

	/* Short tokens write exactly 2n digits and the NUL. */
	memset(a, '*', sizeof(a));
	ck_assert_int_eq(random_hex(a, 3), 0);
	ck_assert_uint_eq(strlen(a), 6);
	ck_assert_int_eq(a[7], '*');
	ck_assert_int_eq(random_hex(a, 0), 0);
	ck_assert_str_eq(a, "");
}
END_TEST

START_TEST(test_random_hex_unique)
{
	enum { N = 200 };
	static char tok[N][17];

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(random_hex(tok[i], 8), 0);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(tok[i], tok[j]);
	}
}
END_TEST

START_TEST(test_random_hex_too_long)
{
	char out[200];

	ck_assert_int_eq(random_hex(out, 64), 0);
	ck_assert_uint_eq(strlen(out), 128);
	ck_assert_int_eq(random_hex(out, 65), -EIO);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_const_time_equal)
{
	ck_assert_int_eq(const_time_equal("", ""), 1);
	ck_assert_int_eq(const_time_equal("secret", "secret"), 1);
	ck_assert_int_eq(const_time_equal("secret", "secreT"), 0);
	ck_assert_int_eq(const_time_equal("Secret", "secret"), 0);
	/* Prefixes and repetitions must not pass. */
	ck_assert_int_eq(const_time_equal("secret", "secre"), 0);
	ck_assert_int_eq(const_time_equal("secre", "secret"), 0);
	ck_assert_int_eq(const_time_equal("", "a"), 0);
	ck_assert_int_eq(const_time_equal("a", ""), 0);
	ck_assert_int_eq(const_time_equal("abc", "abcabc"), 0);
	ck_assert_int_eq(const_time_equal("abcabc", "abc"), 0);
	ck_assert_int_eq(const_time_equal("aa", "a"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("hash");

	tcase_add_test(tc, test_sha256_fips_vectors);
	tcase_add_test(tc, test_sha256_million_a);
	tcase_add_test(tc, test_sha256_binary_length);
	tcase_add_test(tc, test_random_hex);
	tcase_add_test(tc, test_random_hex_unique);
	tcase_add_test(tc, test_random_hex_too_long);
	tcase_add_test(tc, test_const_time_equal);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
