/*
 * check_dpkgver.c - dpkg version ordering: dpkg's own test vectors, the
 * examples of deb-version(7), and an oracle run against the real
 * "dpkg --compare-versions" on generated pairs.
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

#include "dpkgver.h"
#include "testutil.h"

extern char **environ;

static int sign(int r)
{
	return (r > 0) - (r < 0);
}

/* Asserts cmp(a, b) == want and the mirror image. */
static void expect(const char *a, const char *b, int want)
{
	int r1 = sign(dpkgver_compare(a, b));
	int r2 = sign(dpkgver_compare(b, a));

	ck_assert_msg(r1 == want, "compare(\"%s\", \"%s\") = %d, want %d", a,
		      b, r1, want);
	ck_assert_msg(r2 == -want, "compare(\"%s\", \"%s\") = %d, want %d", b,
		      a, r2, -want);
}

/* The cases of dpkg's lib/dpkg/t/t-version.c, as version strings. */
START_TEST(test_dpkg_vectors_compare)
{
	expect("0", "0", 0);
	expect("1:1-1", "2:1-1", -1);
	expect("1-1", "2-1", -1);
	expect("1-1", "1-2", -1);
	expect("0-0", "0-0", 0);
	expect("0-00", "00-0", 0);
	expect("1:2-3", "1:2-3", 0);
	expect("0-0", "1:0-0", -1);
	expect("a-0", "b-0", -1);
	expect("0-a", "0-b", -1);
	/* Parsing: all of these are the same version. */
	expect("0", "0:0", 0);
	/* An empty revision (which dpkg >= 1.21 refuses) is still ordered
	 * like a missing one, as older dpkg did. */
	expect("0", "0:0-", 0);
	expect("0:0-0", "0-0", 0);
	expect("0:0.0-0.0", "0.0-0.0", 0);
	expect("1:0", "1:0", 0);
	expect("5:1", "5:1-0", 0);
	/* Multiple hyphens and colons: epoch to the first colon, revision
	 * from the last hyphen. */
	expect("0:0-0-0", "0:0-0-0", 0);
	expect("0:0-0-0", "0:0-0-1", -1);
	expect("0:0-0-0-0", "0:0-0-1-0", -1);
	expect("0:0:0-0", "0:0:1-0", -1);
	expect("0:0:0:0-0", "0:0:0:0-0", 0);
	expect("0:0:0-0-0", "0:0:0-0-0", 0);
	expect("0:0-0:0-0", "0:0-0:0-0", 0);
	expect("0:09azAZ.-+~:-0", "0:09azAZ.-+~:-0", 0);
	expect("0:0-azAZ09.+~", "0:0-azAZ09.+~", 0);
	/* Leading and trailing blanks are ignored. */
	expect("  \t0:0-1", "0:0-1", 0);
	expect("0:0-1\t  ", "0:0-1", 0);
	expect("\t  0:0-1  \t", "0:0-1", 0);
}
END_TEST

START_TEST(test_dpkg_vectors_valid)
{
	static const char *good[] = {
		"0", "0:0", "0:0-0", "0:0.0-0.0", "1:0", "5:1",
		"0:0-0-0", "0:0-0-0-0", "0:0:0-0", "0:0:0:0-0", "0:0:0-0-0",
		"0:0-0:0-0", "0:09azAZ.-+~:-0", "0:0-azAZ09.+~",
		"  \t0:0-1", "0:0-1\t  ", "\t  0:0-1  \t",
		"2147483647:1", "4.92-8+deb10u3", "1:2.30-1~bpo10+1",
	};
	static const char *bad[] = {
		/* dpkg 1.21 refuses an empty revision; older ones took it. */
		"", "  ", "0:", "0:0-", "1.0-", "0:0 0-1", "-1:0-1",
		"999999999999999999999999:0-1", "2147483648:1", "a:0-0",
		"A:0-0", "-0", "0:-0", "0:abc3-0", "0:0-0:0",
	};
	char v[8];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(dpkgver_valid(good[i]) == 0, "\"%s\" is valid",
			      good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(dpkgver_valid(bad[i]) == -EINVAL,
			      "\"%s\" is invalid", bad[i]);
	ck_assert_int_eq(dpkgver_valid(NULL), -EINVAL);

	for (const char *p = "!#@$%&/|\\<>()[]{};,_=*^'"; *p; p++) {
		snprintf(v, sizeof(v), "0:0%ca-0", *p);
		ck_assert_msg(dpkgver_valid(v) == -EINVAL, "\"%s\" invalid", v);
	}
	for (const char *p = "!#@$%&/|\\<>()[]{}:;,_=*^'"; *p; p++) {
		snprintf(v, sizeof(v), "0:0-0%c", *p);
		ck_assert_msg(dpkgver_valid(v) == -EINVAL, "\"%s\" invalid", v);
	}
}
END_TEST

/* deb-version(7): "~~" < "~~a" < "~" < "" < "a", and familiar cases. */
START_TEST(test_ordering_rules)
{
	static const char *chain[] = {
		"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0a.", "1.0+",
		"1.0+b1", "1.0.0", "1.0.1", "1.0.10", "1.1~rc1", "1.1",
	};
	for (size_t i = 0; i + 1 < sizeof(chain) / sizeof(*chain); i++)
		for (size_t j = i + 1; j < sizeof(chain) / sizeof(*chain); j++)
			expect(chain[i], chain[j], -1);

	/* Letters before non-letters; '~' before the end of the string. */
	expect("1a", "1+", -1);
	expect("1Z", "1a", -1);
	expect("1.0-1", "1.0-1~", 1);
	expect("1.0-1~bpo1", "1.0-1", -1);
	/* Digit runs numerically; leading zeros do not count. */
	expect("1.9", "1.10", -1);
	expect("1.010", "1.10", 0);
	expect("1.0000-1", "1.0-1", 0);
	expect("1.1-20080727-1", "1.1-20080316-1", 1);
	/* A missing revision compares like "0"; epochs dominate. */
	expect("1.0", "1.0-0", 0);
	expect("1.0", "1.0-1", -1);
	expect("1:0.1", "9.9", 1);
	expect("01:1", "1:1", 0);
	/* Debian security updates. */
	expect("4.92-8+deb10u2", "4.92-8+deb10u3", -1);
	expect("4.89-2+deb9u5", "4.89-2+deb9u10", -1);
	expect("4.94.2-7+deb11u1", "4.94.2-7", 1);
	expect("3.4.14-0+deb11u1", "3.5.6-1", -1);
	expect("2.2~rc-4", "2.2-1", -1);
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
	/* A 101-digit run beats a 100-digit one whatever the digits. */
	memset(b, '1', 101);
	b[101] = '\0';
	expect(a, b, -1);
	/* Leading zeros do not make a run longer. */
	memset(b, '0', 50);
	memcpy(b + 50, a, 101);
	expect(a, b, 0);
	/* Epochs beyond any integer still order numerically. */
	expect("99999999999999999999999:1", "100000000000000000000000:0", -1);
}
END_TEST

START_TEST(test_upstream)
{
	char out[32];

	ck_assert_int_eq(dpkgver_upstream("1:4.92-8+deb10u3", out, sizeof(out)),
			 0);
	ck_assert_str_eq(out, "4.92");
	ck_assert_int_eq(dpkgver_upstream("3.4.14", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "3.4.14");
	ck_assert_int_eq(dpkgver_upstream("0:0-0-0", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0-0");
	ck_assert_int_eq(dpkgver_upstream("1.2.3-1", out, 5), -ENOBUFS);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(dpkgver_upstream(NULL, out, sizeof(out)), -EINVAL);
}
END_TEST

/* A small deterministic generator, so a failure reproduces. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static size_t gen_part(char *out, size_t room, int upstream)
{
	static const char alnum[] = "0123456789abczAZ";
	static const char punct[] = ".+~";
	size_t n = 0;
	unsigned pieces = 1 + rnd(5);

	if (upstream)
		out[n++] = (char)('0' + rnd(10));
	for (unsigned i = 0; i < pieces && n + 110 < room; i++) {
		unsigned kind = rnd(10);

		if (kind < 4) {
			/* A digit run, sometimes very long or zero-padded. */
			unsigned len = rnd(20) == 0 ? 40 + rnd(70) : 1 + rnd(4);

			for (unsigned k = 0; k < len; k++)
				out[n++] = (char)(rnd(5) == 0 ? '0'
							      : '0' + rnd(10));
		} else if (kind < 7) {
			out[n++] = alnum[rnd(sizeof(alnum) - 1)];
		} else {
			out[n++] = punct[rnd(sizeof(punct) - 1)];
			if (rnd(3) == 0)
				out[n++] = '~';
		}
		if (upstream && rnd(12) == 0)
			out[n++] = '-';
	}
	out[n] = '\0';
	return n;
}

static void gen_version(char *out, size_t room)
{
	size_t n = 0;

	if (rnd(3) == 0)
		n += (size_t)snprintf(out, room, "%s:",
				      rnd(4) ? (rnd(2) ? "1" : "2") : "00");
	n += gen_part(out + n, room - n - 128, 1);
	if (rnd(3) != 0) {
		out[n++] = '-';
		gen_part(out + n, room - n, 0);
	} else if (strchr(out, '-')) {
		/* A hyphen in the upstream part needs a revision. */
		snprintf(out + n, room - n, "-%u", rnd(10));
	}
}

/* Derives a version close to a, so the pairs differ in the details that
 * matter rather than in their first character. */
static void mutate(const char *a, char *out, size_t room)
{
	size_t n = strlen(a);
	unsigned what = rnd(6);

	snprintf(out, room, "%s", a);
	if (n + 4 >= room)
		return;
	switch (what) {
	case 0:	/* append */
		out[n] = "~a0.+1"[rnd(6)];
		out[n + 1] = '\0';
		break;
	case 1: { /* change a character past the first */
		size_t i = 1 + rnd((unsigned)n);

		if (i < n && out[i] != '-' && out[i] != ':')
			out[i] = "09a~.+Z1"[rnd(8)];
		break;
	}
	case 2:	/* insert a zero or a tilde */
		memmove(out + n / 2 + 1, out + n / 2, n - n / 2 + 1);
		out[n / 2] = rnd(2) ? '0' : '~';
		if (out[0] == '~')
			out[0] = '0';
		break;
	case 3:	/* drop the epoch or add one */
		if (strchr(a, ':'))
			snprintf(out, room, "%s", strchr(a, ':') + 1);
		else
			snprintf(out, room, "0:%s", a);
		break;
	case 4:	/* truncate */
		n = 1 + rnd((unsigned)n);
		out[n] = '\0';
		if (out[n - 1] == ':') {
			out[n] = '0';
			out[n + 1] = '\0';
		}
		break;
	default:
		gen_version(out, room);
	}
}

/* Asks dpkg whether "a rel b" holds: 1 yes, 0 no, -1 dpkg failed. */
static int dpkg_says(const char *a, const char *rel, const char *b)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {"dpkg", "--compare-versions", (char *)a, (char *)rel,
			(char *)b, NULL};
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, "dpkg", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	if (WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status) == 0;
}

START_TEST(test_oracle_dpkg)
{
	const char *env = getenv("DPKGVER_ORACLE_PAIRS");
	long pairs = env ? strtol(env, NULL, 10) : 10000;
	long checked = 0, by_sign[3] = {0, 0, 0};
	char a[512], b[512];

	if (access("/usr/bin/dpkg", X_OK) != 0) {
		fprintf(stderr, "check_dpkgver: no dpkg, oracle skipped\n");
		return;
	}
	for (long i = 0; i < pairs; i++) {
		int mine, says;

		gen_version(a, sizeof(a));
		if (rnd(4) == 0)
			gen_version(b, sizeof(b));
		else
			mutate(a, b, sizeof(b));
		if (dpkgver_valid(b) != 0)
			snprintf(b, sizeof(b), "%s", a);
		ck_assert_msg(dpkgver_valid(a) == 0, "generated \"%s\"", a);
		mine = sign(dpkgver_compare(a, b));
		/* One fork per pair: the three relations exclude each other,
		 * so dpkg confirming ours proves the results equal. */
		says = dpkg_says(a, mine < 0 ? "lt" : mine > 0 ? "gt" : "eq", b);
		ck_assert_msg(says == 1, "dpkg disagrees: \"%s\" vs \"%s\": %d", a,
			      b, mine);
		checked++;
		by_sign[mine + 1]++;
	}
	fprintf(stderr,
		"check_dpkgver: %ld pairs agree with dpkg (%ld lt, %ld eq, "
		"%ld gt)\n",
		checked, by_sign[0], by_sign[1], by_sign[2]);
	ck_assert_int_gt(by_sign[0], pairs / 10);
	ck_assert_int_gt(by_sign[2], pairs / 10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dpkgver");
	TCase *tc = tcase_create("core");
	TCase *oracle = tcase_create("oracle");

	tcase_add_test(tc, test_dpkg_vectors_compare);
	tcase_add_test(tc, test_dpkg_vectors_valid);
	tcase_add_test(tc, test_ordering_rules);
	tcase_add_test(tc, test_long_digit_runs);
	tcase_add_test(tc, test_upstream);
	suite_add_tcase(s, tc);
	tcase_set_timeout(oracle, 300);
	tcase_add_test(oracle, test_oracle_dpkg);
	suite_add_tcase(s, oracle);
	return testutil_run(s);
}
