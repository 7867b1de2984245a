/*
 * check_rpmver.c - RPM version ordering: the cases rpm's documentation
 * names, and the real rpm (its Lua rpm.vercmp(), one process for all
 * pairs) on 10,000 generated pairs.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpmver.h"
#include "testutil.h"

extern char **environ;

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void expect(const char *a, const char *b, int want)
{
	int r1 = sign(rpmver_compare(a, b));
	int r2 = sign(rpmver_compare(b, a));

	ck_assert_msg(r1 == want, "\"%s\" vs \"%s\": %d, want %d", a, b, r1,
		      want);
	ck_assert_msg(r2 == -want, "\"%s\" vs \"%s\": %d, want %d", b, a, r2,
		      -want);
}

START_TEST(test_documented_order)
{
	static const char *chain[] = {
		"1.0~~", "1.0~~a", "1.0~", "1.0~rc1", "1.0", "1.0^",
		"1.0^git1", "1.0^git2", "1.0a", "1.0.0", "1.0.1", "1.0.10",
		"1.1~rc1", "1.1", "2",
	};
	size_t n = sizeof(chain) / sizeof(*chain);

	for (size_t i = 0; i + 1 < n; i++)
		for (size_t j = i + 1; j < n; j++)
			expect(chain[i], chain[j], -1);
	/* Separators only separate; leading zeros do not count. */
	expect("1.0", "1_0", 0);
	expect("1..0", "1.0", 0);
	expect("1.010", "1.10", 0);
	expect("1.001", "1.1", 0);
	/* A number beats letters; letters compare by byte. */
	expect("1.1", "1.a", 1);
	expect("1.A", "1.a", -1);
	expect("2.0", "2.0a", -1);
	/* Epochs dominate; a missing or empty one is 0. */
	expect("1:0.1", "9.9", 1);
	expect("0:1.0", "1.0", 0);
	expect(":1.0", "0:1.0", 0);
	expect("00:1", "0:1", 0);
	/* Releases; a missing one is older than any. */
	expect("2.10.1-9.el7", "2.10.1-9.el7_9", -1);
	expect("3.5.8-4.el8", "3.5.8-5.el8", -1);
	expect("3.5.8-5.el8", "3.5.8-5.el8_8", -1);
	expect("1.0-1", "1.0", 1);
	expect("1.0", "1.0-0", -1);
	expect("1.0-", "1.0", 1);
	expect("1.0-1-2", "1.0-1", 1);
}
END_TEST

START_TEST(test_long_digit_runs)
{
	char a[160], b[160];

	memset(a, '9', 100);
	a[100] = '\0';
	memcpy(b, a, 101);
	expect(a, b, 0);
	b[99] = '8';
	expect(a, b, 1);
	memset(b, '1', 101);
	b[101] = '\0';
	expect(a, b, -1);
	expect("99999999999999999999999:1", "100000000000000000000000:0", -1);
}
END_TEST

START_TEST(test_valid_and_upstream)
{
	static const char *good[] = { "1", "2.10.1-9.el7", "2:3.5.9-1.el8",
				      "1.0~rc1^git2_3+4", "0:1" };
	static const char *bad[] = { "", "-1", "1:", "a:1", "1 2", "1/2",
				     "1:2:3", "1.0\n" };
	char out[16], big[RPMVER_MAX_LEN + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(rpmver_valid(good[i]) == 0, "\"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(rpmver_valid(bad[i]) == -EINVAL, "\"%s\"",
			      bad[i]);
	ck_assert_int_eq(rpmver_valid(NULL), -EINVAL);
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(rpmver_valid(big), -EINVAL);
	ck_assert_int_eq(rpmver_upstream("2:3.5.9-1.el8", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "3.5.9");
	ck_assert_int_eq(rpmver_upstream("2.10.1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2.10.1");
	ck_assert_int_eq(rpmver_upstream("1.2.3.4.5.6.7.8.9-1", out, 8),
			 -ENOBUFS);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(rpmver_upstream(NULL, out, sizeof(out)), -EINVAL);
}
END_TEST

/* A small deterministic generator, so a failure reproduces. */
static unsigned long long rng_state = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static size_t gen_part(char *out, size_t room)
{
	static const char alpha[] = "abcelrzAZ";
	static const char punct[] = ".._+~^~^-%";
	size_t n = 0;
	unsigned pieces = 1 + rnd(6);

	for (unsigned i = 0; i < pieces && n + 60 < room; i++) {
		unsigned kind = rnd(10), len;

		if (kind < 4) {
			len = rnd(25) == 0 ? 20 + rnd(30) : 1 + rnd(3);
			for (unsigned k = 0; k < len; k++)
				out[n++] = (char)(rnd(4) == 0 ? '0'
							      : '0' + rnd(10));
		} else if (kind < 7) {
			len = 1 + rnd(3);
			for (unsigned k = 0; k < len; k++)
				out[n++] = alpha[rnd(sizeof(alpha) - 1)];
		} else {
			out[n++] = punct[rnd(sizeof(punct) - 1)];
		}
	}
	out[n] = '\0';
	return n;
}

static void gen_version(char *out, size_t room)
{
	size_t n = 0;

	if (rnd(3) == 0)
		n += (size_t)snprintf(out, room, "%s:",
				      (const char *[]){ "0", "1", "2", "00",
							"" }[rnd(5)]);
	n += gen_part(out + n, room - n - 70);
	if (rnd(3) != 0) {
		out[n++] = '-';
		gen_part(out + n, room - n);
	}
	if (!out[0] || out[0] == '%')
		out[0] = '1';
}

/* A version close to a, so pairs differ in the details that matter. */
static void mutate(const char *a, char *out, size_t room)
{
	size_t n = strlen(a);

	snprintf(out, room, "%s", a);
	if (n + 4 >= room)
		return;
	switch (rnd(6)) {
	case 0:
		out[n] = "~^a0._1"[rnd(7)];
		out[n + 1] = '\0';
		break;
	case 1:
		out[rnd((unsigned)n)] = "09a~^._Z1"[rnd(9)];
		break;
	case 2:
		memmove(out + n / 2 + 1, out + n / 2, n - n / 2 + 1);
		out[n / 2] = "0~^"[rnd(3)];
		break;
	case 3:
		if (strchr(a, ':'))
			snprintf(out, room, "%s", strchr(a, ':') + 1);
		else
			snprintf(out, room, "0:%s", a);
		break;
	case 4:
		out[1 + rnd((unsigned)n)] = '\0';
		break;
	default:
		gen_version(out, room);
	}
	if (!out[0])
		snprintf(out, room, "0");
}

/* Runs rpm once: its Lua reads "a b" lines from in and writes
 * rpm.vercmp(a, b) to out, one line each.  0, or -1 when rpm failed. */
static int rpm_vercmp_file(const char *in, const char *out)
{
	char script[1024];
	char *argv[] = { "rpm", "--eval", script, NULL };
	posix_spawn_file_actions_t fa;
	int status, r;
	pid_t pid;

	snprintf(script, sizeof(script),
		 "%%{lua: local o = io.open(\"%s\", \"w\") "
		 "for l in io.lines(\"%s\") do "
		 "local i = string.find(l, \" \", 1, true) "
		 "o:write(rpm.vercmp(string.sub(l, 1, i - 1), "
		 "string.sub(l, i + 1)), \"\\n\") end o:close()}",
		 out, in);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, "rpm", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

START_TEST(test_oracle_rpm)
{
	const char *env = getenv("RPMVER_ORACLE_PAIRS");
	long pairs = env ? strtol(env, NULL, 10) : 10000;
	long by_sign[3] = { 0, 0, 0 };
	char dir[256], in[300], out[300], (*a)[160], (*b)[160];
	FILE *f;

	if (access("/usr/bin/rpm", X_OK) != 0) {
		fprintf(stderr, "check_rpmver: no rpm, oracle skipped\n");
		return;
	}
	a = calloc((size_t)pairs, sizeof(*a));
	b = calloc((size_t)pairs, sizeof(*b));
	ck_assert(a && b);
	testutil_tmpdir(dir, sizeof(dir), "rpmver");
	snprintf(in, sizeof(in), "%s/pairs", dir);
	snprintf(out, sizeof(out), "%s/answers", dir);
	f = fopen(in, "w");
	ck_assert(f);
	for (long i = 0; i < pairs; i++) {
		gen_version(a[i], sizeof(a[i]));
		if (rnd(4) == 0)
			gen_version(b[i], sizeof(b[i]));
		else
			mutate(a[i], b[i], sizeof(b[i]));
		fprintf(f, "%s %s\n", a[i], b[i]);
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(rpm_vercmp_file(in, out) == 0, "rpm --eval failed");
	f = fopen(out, "r");
	ck_assert(f);
	for (long i = 0; i < pairs; i++) {
		int says, mine = sign(rpmver_compare(a[i], b[i]));

		ck_assert_msg(fscanf(f, "%d", &says) == 1, "answer %ld", i);
		ck_assert_msg(mine == says, "rpm disagrees: \"%s\" vs \"%s\": "
			      "rpm %d, ours %d", a[i], b[i], says, mine);
		by_sign[mine + 1]++;
	}
	fclose(f);
	testutil_rmtree(dir);
	fprintf(stderr,
		"check_rpmver: %ld pairs agree with rpm (%ld lt, %ld eq, "
		"%ld gt)\n",
		pairs, by_sign[0], by_sign[1], by_sign[2]);
	ck_assert_int_gt(by_sign[0], pairs / 10);
	ck_assert_int_gt(by_sign[1], pairs / 100);
	ck_assert_int_gt(by_sign[2], pairs / 10);
	free(a);
	free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rpmver");
	TCase *tc = tcase_create("core");
	TCase *oracle = tcase_create("oracle");

	tcase_add_test(tc, test_documented_order);
	tcase_add_test(tc, test_long_digit_runs);
	tcase_add_test(tc, test_valid_and_upstream);
	suite_add_tcase(s, tc);
	tcase_set_timeout(oracle, 300);
	tcase_add_test(oracle, test_oracle_rpm);
	suite_add_tcase(s, oracle);
	return testutil_run(s);
}
