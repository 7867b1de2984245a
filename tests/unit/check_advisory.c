/*
 * check_advisory.c - the shipped advisories against real Debian fixed
 * versions (from the DSA and DLA lists), the tracker export format, the
 * EOL table, bad input, and the load time of a tracker-sized export;
 * and the snapshot compiled into derelictd against every version of the
 * real changelogs in tests/fixtures/changelogs/.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "advisory.h"
#include "buf.h"
#include "embed.h"
#include "timeutil.h"
#include "testutil.h"

static struct advisory_db *shipped;

static struct advisory_db *load_file(const char *rel)
{
	struct advisory_db *db = NULL;
	struct buf b;

	testutil_read(testutil_repo(rel), &b);
	ck_assert_int_eq(advisory_load(b.data, b.len, &db), 0);
	buf_free(&b);
	return db;
}

static void setup_shipped(void)
{
	shipped = load_file("data/advisories.json");
}

static void teardown_shipped(void)
{
	advisory_db_free(shipped);
	shipped = NULL;
}

static const struct advisory *find(const struct advisory_db *db,
				   const char *source, const char *cve)
{
	for (size_t i = 0; i < advisory_db_count(db); i++) {
		const struct advisory *a = advisory_db_get(db, i);

		if (strcmp(a->source, source) == 0 && strcmp(a->cve, cve) == 0)
			return a;
	}
	ck_abort_msg("%s %s not in the database", source, cve);
	return NULL;
}

/* The fixed version is not vulnerable and the version just before it is. */
static void boundary(const char *source, const char *cve, const char *release,
		     const char *before, const char *fixed)
{
	const struct advisory *a = find(shipped, source, cve);

	ck_assert_msg(advisory_applies(a, release, before) == 1,
		      "%s %s %s should be vulnerable", cve, release, before);
	ck_assert_msg(advisory_applies(a, release, fixed) == 0,
		      "%s %s %s should be fixed", cve, release, fixed);
}

static void not_vulnerable(const char *source, const char *cve,
			   const char *release, const char *version)
{
	const struct advisory *a = find(shipped, source, cve);

	ck_assert_msg(advisory_applies(a, release, version) == 0,
		      "%s %s %s should not be vulnerable", cve, release,
		      version);
}

static int match_has(const struct advisory_db *db, const char *release,
		     const char *source, const char *version, const char *cve)
{
	const struct advisory *list[256];
	int n = advisory_match(db, release, source, version, list, 256);

	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 256);
	for (int i = 0; i < n; i++)
		if (strcmp(list[i]->cve, cve) == 0)
			return 1;
	return 0;
}

START_TEST(test_shipped_loads)
{
	const struct advisory *a;

	ck_assert_int_ge(advisory_db_count(shipped), 30);
	a = find(shipped, "exim4", "CVE-2019-10149");
	ck_assert_int_eq(a->severity, ADVISORY_SEVERITY_CRITICAL);
	ck_assert_int_eq(a->scope, ADVISORY_SCOPE_REMOTE);
	ck_assert_int_eq(a->origin, ADVISORY_ORIGIN_SHIPPED);
	ck_assert_str_eq(a->fixed_upstream[0], "4.92");
	for (size_t i = 1; i < advisory_db_count(shipped); i++) {
		const struct advisory *p = advisory_db_get(shipped, i - 1);
		const struct advisory *q = advisory_db_get(shipped, i);
		int r = strcmp(p->source, q->source);

		ck_assert(r < 0 || (r == 0 && strcmp(p->cve, q->cve) < 0));
		ck_assert_int_ne(q->severity, ADVISORY_SEVERITY_UNKNOWN);
	}
}
END_TEST

/* Versions from DSA-4456-1, 4488-1, 4517-1, 4536-1, 4687-1, 4912-1,
 * DLA-2650-1 and DLA-3938-1. */
START_TEST(test_exim_real_versions)
{
	boundary("exim4", "CVE-2019-10149", "stretch", "4.89-2+deb9u3",
		 "4.89-2+deb9u4");
	boundary("exim4", "CVE-2019-13917", "stretch", "4.89-2+deb9u4",
		 "4.89-2+deb9u5");
	boundary("exim4", "CVE-2019-13917", "buster", "4.92-8",
		 "4.92-8+deb10u1");
	boundary("exim4", "CVE-2019-15846", "stretch", "4.89-2+deb9u5",
		 "4.89-2+deb9u6");
	boundary("exim4", "CVE-2019-15846", "buster", "4.92-8+deb10u1",
		 "4.92-8+deb10u2");
	boundary("exim4", "CVE-2019-16928", "buster", "4.92-8+deb10u2",
		 "4.92-8+deb10u3");
	boundary("exim4", "CVE-2020-12783", "stretch", "4.89-2+deb9u6",
		 "4.89-2+deb9u7");
	boundary("exim4", "CVE-2020-12783", "buster", "4.92-8+deb10u3",
		 "4.92-8+deb10u4");
	boundary("exim4", "CVE-2020-28017", "buster", "4.92-8+deb10u5",
		 "4.92-8+deb10u6");
	boundary("exim4", "CVE-2020-28017", "stretch", "4.89-2+deb9u7",
		 "4.89-2+deb9u8");
	boundary("exim4", "CVE-2020-28020", "stretch", "4.89-2+deb9u7",
		 "4.89-2+deb9u8");
	boundary("exim4", "CVE-2023-42117", "bullseye", "4.94.2-7+deb11u3",
		 "4.94.2-7+deb11u4");

	/* Buster shipped 4.92, which already fixed CVE-2019-10149 and
	 * CVE-2020-28020: no buster entry, the upstream version decides. */
	not_vulnerable("exim4", "CVE-2019-10149", "buster", "4.92-8");
	not_vulnerable("exim4", "CVE-2020-28020", "buster", "4.92-8");
	/* CVE-2019-16928 came with 4.92; stretch's 4.89 never had it. */
	not_vulnerable("exim4", "CVE-2019-16928", "stretch", "4.89-2");
	/* Bullseye's 4.94.2 has the 21Nails fixes. */
	not_vulnerable("exim4", "CVE-2020-28026", "bullseye", "4.94.2-7");
	/* An epoch outranks everything else. */
	not_vulnerable("exim4", "CVE-2019-15846", "buster", "1:4.92-8");
}
END_TEST

/*
 * Debian's backported fixes for bullseye, bookworm and trixie, each the
 * first version whose Debian changelog names the fix: for each release,
 * the fixed version is not vulnerable and the version just before it is.
 * Trixie's versions (and bullseye's and bookworm's for fixes older than
 * the release) are the first unstable uploads with the fix.
 */
struct backport {
	const char *source;
	const char *cve;
	const char *release;
	const char *before;
	const char *fixed;
};

static const struct backport backports[] = {
	/* Security team uploads of 29 September 2023. */
	{ "exim4", "CVE-2023-42114", "bullseye", "4.94.2-7",
	  "4.94.2-7+deb11u1" },
	{ "exim4", "CVE-2023-42114", "bookworm", "4.96-15+deb12u1",
	  "4.96-15+deb12u2" },
	{ "exim4", "CVE-2023-42114", "trixie", "4.97~RC1-1", "4.97~RC1-2" },
	{ "exim4", "CVE-2023-42115", "bullseye", "4.94.2-7",
	  "4.94.2-7+deb11u1" },
	{ "exim4", "CVE-2023-42115", "bookworm", "4.96-15+deb12u1",
	  "4.96-15+deb12u2" },
	{ "exim4", "CVE-2023-42115", "trixie", "4.97~RC1-1", "4.97~RC1-2" },
	{ "exim4", "CVE-2023-42116", "bullseye", "4.94.2-7",
	  "4.94.2-7+deb11u1" },
	{ "exim4", "CVE-2023-42116", "bookworm", "4.96-15+deb12u1",
	  "4.96-15+deb12u2" },
	{ "exim4", "CVE-2023-42116", "trixie", "4.97~RC1-1", "4.97~RC1-2" },
	/* DLA-3938-1 for bullseye; the 4.96.2 update for bookworm. */
	{ "exim4", "CVE-2023-42117", "bookworm", "4.96-15+deb12u2",
	  "4.96-15+deb12u3" },
	{ "exim4", "CVE-2023-42117", "trixie", "4.97~RC2-1", "4.97~RC2-2" },
	{ "exim4", "CVE-2023-42119", "bullseye", "4.94.2-7+deb11u3",
	  "4.94.2-7+deb11u4" },
	{ "exim4", "CVE-2023-42119", "bookworm", "4.96-15+deb12u2",
	  "4.96-15+deb12u3" },
	{ "exim4", "CVE-2023-42119", "trixie", "4.97~RC2-1", "4.97~RC2-2" },
	/* SMTP smuggling. */
	{ "exim4", "CVE-2023-51766", "bullseye", "4.94.2-7+deb11u1",
	  "4.94.2-7+deb11u2" },
	{ "exim4", "CVE-2023-51766", "bookworm", "4.96-15+deb12u3",
	  "4.96-15+deb12u4" },
	{ "exim4", "CVE-2023-51766", "trixie", "4.97-2", "4.97-3" },
	{ "exim4", "CVE-2024-39929", "bullseye", "4.94.2-7+deb11u2",
	  "4.94.2-7+deb11u3" },
	{ "exim4", "CVE-2024-39929", "bookworm", "4.96-15+deb12u4",
	  "4.96-15+deb12u5" },
	{ "exim4", "CVE-2024-39929", "trixie", "4.98~RC3-1", "4.98~RC3-2" },
	/* Fixed in unstable before bullseye was released. */
	{ "exim4", "CVE-2019-13917", "bullseye", "4.92-9", "4.92-10" },
	{ "exim4", "CVE-2019-13917", "bookworm", "4.92-9", "4.92-10" },
	{ "exim4", "CVE-2019-13917", "trixie", "4.92-9", "4.92-10" },
	{ "exim4", "CVE-2019-15846", "bullseye", "4.92.1-2", "4.92.1-3" },
	{ "exim4", "CVE-2019-15846", "bookworm", "4.92.1-2", "4.92.1-3" },
	{ "exim4", "CVE-2019-15846", "trixie", "4.92.1-2", "4.92.1-3" },
	{ "exim4", "CVE-2019-16928", "bullseye", "4.92.2-2", "4.92.2-3" },
	{ "exim4", "CVE-2019-16928", "bookworm", "4.92.2-2", "4.92.2-3" },
	{ "exim4", "CVE-2019-16928", "trixie", "4.92.2-2", "4.92.2-3" },
	{ "exim4", "CVE-2020-12783", "bullseye", "4.93-15", "4.93-16" },
	{ "exim4", "CVE-2020-12783", "bookworm", "4.93-15", "4.93-16" },
	{ "exim4", "CVE-2020-12783", "trixie", "4.93-15", "4.93-16" },
	{ "postfix", "CVE-2023-51764", "bullseye", "3.5.18-0+deb11u1",
	  "3.5.23-0+deb11u1" },
	{ "postfix", "CVE-2023-51764", "bookworm", "3.7.6-0+deb12u2",
	  "3.7.9-0+deb12u1" },
	{ "postfix", "CVE-2023-51764", "trixie", "3.8.3-1", "3.8.4-1" },
	{ "sendmail", "CVE-2023-51765", "bullseye", "8.15.2-22",
	  "8.15.2-22+deb11u1" },
	{ "sendmail", "CVE-2023-51765", "bookworm", "8.17.1.9-2",
	  "8.17.1.9-2+deb12u1" },
	{ "sendmail", "CVE-2023-51765", "trixie", "8.18.0.2-1", "8.18.1-1" },
	{ "opensmtpd", "CVE-2020-35679", "bullseye", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
	{ "opensmtpd", "CVE-2020-35679", "bookworm", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
	{ "opensmtpd", "CVE-2020-35679", "trixie", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
	{ "opensmtpd", "CVE-2020-35680", "bullseye", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
	{ "opensmtpd", "CVE-2020-35680", "bookworm", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
	{ "opensmtpd", "CVE-2020-35680", "trixie", "6.8.0p1~rc1-1",
	  "6.8.0p2-1" },
};

static const char *const newer_releases[] = { "bullseye", "bookworm",
					      "trixie" };

START_TEST(test_debian_backports)
{
	/* 21Nails: exim4 4.94.2-1 in unstable, before bullseye. */
	static const char *const nails[] = {
		"CVE-2020-28007", "CVE-2020-28008", "CVE-2020-28009",
		"CVE-2020-28010", "CVE-2020-28011", "CVE-2020-28012",
		"CVE-2020-28013", "CVE-2020-28014", "CVE-2020-28015",
		"CVE-2020-28016", "CVE-2020-28017", "CVE-2020-28018",
		"CVE-2020-28019", "CVE-2020-28021", "CVE-2020-28022",
		"CVE-2020-28023", "CVE-2020-28024", "CVE-2020-28025",
		"CVE-2020-28026", "CVE-2021-27216",
	};

	for (size_t i = 0; i < sizeof(backports) / sizeof(backports[0]); i++)
		boundary(backports[i].source, backports[i].cve,
			 backports[i].release, backports[i].before,
			 backports[i].fixed);
	/* CVE-2023-42117 on bullseye is in test_exim_real_versions. */
	for (size_t i = 0; i < sizeof(nails) / sizeof(nails[0]); i++)
		for (size_t r = 0; r < 3; r++)
			boundary("exim4", nails[i], newer_releases[r],
				 "4.94-19", "4.94.2-1");
	/* Fixed by upstream 4.92, before any of these releases: not
	 * affected, whatever the version. */
	for (size_t r = 0; r < 3; r++) {
		not_vulnerable("exim4", "CVE-2019-10149", newer_releases[r],
			       "4.87-1");
		not_vulnerable("exim4", "CVE-2020-28020", newer_releases[r],
			       "4.87-1");
	}
}
END_TEST

/* What a release's newest version matches: some, all judged by the upstream
 * version because the release's data does not name them. */
static void only_unnamed(const char *release, const char *source,
			 const char *version)
{
	const struct advisory *list[64];
	int n = advisory_match(shipped, release, source, version, list, 64);

	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, 64);
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < list[i]->n_fixes; j++)
			ck_assert_msg(strcmp(list[i]->fixes[j].release,
					     release) != 0,
				      "%s %s %s: %s names %s", release, source,
				      version, list[i]->cve, release);
}

/* Current, fully updated packages of each release (the newest in the
 * release and its security suite when data/advisories.json was built)
 * match none of the shipped advisories: Debian fixed them all by
 * backports, so the upstream version alone (4.96 < 4.97) must not
 * decide.  4.96-15+deb12u11 is the exim4 this project is developed on. */
START_TEST(test_updated_releases_clean)
{
	/* unnamed: flagged, but only for CVEs the release's data does not
	 * name (fixed elsewhere, never there, as bullseye after its LTS
	 * ended on 2026-08-31): the upstream version decides those. */
	static const struct {
		const char *release;
		const char *source;
		const char *version;
		int unnamed;
	} clean[] = {
		{ "bookworm", "exim4", "4.96-15+deb12u11", 0 },
		{ "bullseye", "exim4", "4.94.2-7+deb11u6", 1 },
		{ "trixie", "exim4", "4.98.2-1+deb13u6", 0 },
		{ "bookworm", "postfix", "3.7.11-0+deb12u1", 1 },
		{ "bullseye", "postfix", "3.5.25-0+deb11u1", 1 },
		{ "trixie", "postfix", "3.10.13-0+deb13u1", 0 },
		{ "bookworm", "sendmail", "8.17.1.9-2+deb12u2", 0 },
		{ "bullseye", "sendmail", "8.15.2-22+deb11u3", 0 },
		{ "trixie", "sendmail", "8.18.1-6", 0 },
		{ "bookworm", "opensmtpd", "6.8.0p2-4", 1 },
		{ "bullseye", "opensmtpd", "6.8.0p2-3", 1 },
		{ "trixie", "opensmtpd", "7.6.0p1-1", 0 },
	};
	const struct advisory *list[4];

	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		int n;

		if (clean[i].unnamed) {
			only_unnamed(clean[i].release, clean[i].source,
				     clean[i].version);
			continue;
		}
		n = advisory_match(shipped, clean[i].release, clean[i].source,
				   clean[i].version, list, 4);
		ck_assert_msg(n == 0, "%s %s %s: %d advisories, first %s",
			      clean[i].release, clean[i].source,
			      clean[i].version, n, n > 0 ? list[0]->cve : "-");
	}
	ck_assert(match_has(shipped, "bookworm", "postfix", "3.7.11-0+deb12u1",
			    "CVE-2026-43964"));
	/* The bookworm point release before the smuggling fix is still
	 * flagged for it, and only for what came after. */
	ck_assert(match_has(shipped, "bookworm", "exim4", "4.96-15+deb12u3",
			    "CVE-2023-51766"));
	ck_assert(!match_has(shipped, "bookworm", "exim4", "4.96-15+deb12u3",
			     "CVE-2023-42115"));
}
END_TEST

START_TEST(test_opensmtpd_real_versions)
{
	boundary("opensmtpd", "CVE-2020-7247", "stretch", "6.0.2p1-2+deb9u1",
		 "6.0.2p1-2+deb9u2");
	boundary("opensmtpd", "CVE-2020-7247", "buster", "6.0.3p1-5+deb10u2",
		 "6.0.3p1-5+deb10u3");
	boundary("opensmtpd", "CVE-2020-8794", "stretch", "6.0.2p1-2+deb9u2",
		 "6.0.2p1-2+deb9u3");
	boundary("opensmtpd", "CVE-2020-8794", "buster", "6.0.3p1-5+deb10u3",
		 "6.0.3p1-5+deb10u4");
}
END_TEST

START_TEST(test_upstream_rules)
{
	const struct advisory *a = find(shipped, "exim4", "CVE-2023-42115");
	const struct advisory *p = find(shipped, "postfix", "CVE-2023-51764");

	/* Ubuntu jammy is not a Debian release: upstream decides. */
	ck_assert_int_eq(advisory_applies(a, "jammy", "4.95-4ubuntu2.4"), 1);
	ck_assert_int_eq(advisory_applies(a, "jammy", "4.96.1-1"), 0);
	ck_assert_int_eq(advisory_applies(a, NULL, "4.97-1"), 0);
	/* One fixed version per upstream branch. */
	ck_assert_int_eq(advisory_applies(p, "bookworm", "3.7.9-0+deb12u1"), 0);
	ck_assert_int_eq(advisory_applies(p, "bookworm", "3.7.5-2"), 1);
	ck_assert_int_eq(advisory_applies(p, "trixie", "3.9.0-1"), 0);
	ck_assert_int_eq(advisory_applies(p, "trixie", "3.8.10-1"), 0);
	ck_assert_int_eq(advisory_applies(p, "buster", "3.4.14-0+deb10u1"), 1);
	ck_assert_int_eq(advisory_applies(p, "bullseye", "3.5.25-0+deb11u1"),
			 0);
	/* Bad versions are refused, not guessed at. */
	ck_assert_int_eq(advisory_applies(a, "buster", "not a version"),
			 -EINVAL);
	ck_assert_int_eq(advisory_applies(a, "buster", NULL), -EINVAL);
}
END_TEST

START_TEST(test_match)
{
	const struct advisory *list[2];
	int n;

	ck_assert(match_has(shipped, "buster", "exim4", "4.92-8+deb10u1",
			    "CVE-2019-15846"));
	ck_assert(match_has(shipped, "buster", "exim4", "4.92-8+deb10u1",
			    "CVE-2020-28017"));
	ck_assert(!match_has(shipped, "buster", "exim4", "4.92-8+deb10u1",
			     "CVE-2019-13917"));
	ck_assert(!match_has(shipped, "buster", "exim4", "4.92-8+deb10u1",
			     "CVE-2020-7247"));
	/* A fully updated stretch exim4 has none of the stretch entries. */
	ck_assert(!match_has(shipped, "stretch", "exim4", "4.89-2+deb9u8",
			     "CVE-2019-15846"));
	/* Unknown package: nothing. */
	ck_assert_int_eq(advisory_match(shipped, "buster", "no-such-package",
					"1.0-1", list, 2),
			 0);
	/* More matches than room: the count says so, two are written. */
	n = advisory_match(shipped, "buster", "exim4", "4.92-1", list, 2);
	ck_assert_int_gt(n, 2);
	ck_assert_ptr_nonnull(list[0]);
	ck_assert_ptr_nonnull(list[1]);
	ck_assert_int_eq(advisory_match(shipped, "buster", "exim4", "", list,
					2),
			 -EINVAL);
}
END_TEST

START_TEST(test_tracker_sample)
{
	struct advisory_db *db = load_file(
		"tests/fixtures/advisories/tracker-sample.json");
	const struct advisory *a;

	ck_assert_int_eq(advisory_db_count(db), 4);
	a = find(db, "exim4", "CVE-2019-15846");
	ck_assert_int_eq(a->origin, ADVISORY_ORIGIN_TRACKER);
	ck_assert_int_eq(a->severity, ADVISORY_SEVERITY_HIGH);
	ck_assert_int_eq(a->scope, ADVISORY_SCOPE_REMOTE);
	ck_assert_int_eq(a->n_fixed_upstream, 0);
	ck_assert(match_has(db, "buster", "exim4", "4.92-8+deb10u1",
			    "CVE-2019-15846"));
	ck_assert(!match_has(db, "buster", "exim4", "4.92-8+deb10u2",
			     "CVE-2019-15846"));
	ck_assert(match_has(db, "buster", "exim4", "4.92-8+deb10u2",
			    "CVE-2019-16928"));
	/* fixed_version "0": never vulnerable there. */
	ck_assert(!match_has(db, "stretch", "exim4", "4.89-2",
			     "CVE-2019-16928"));
	/* A release the tracker does not list: no upstream data, no match. */
	ck_assert(!match_has(db, "jessie", "exim4", "4.84-1",
			     "CVE-2019-15846"));
	/* "open" matches every version, "undetermined" none. */
	ck_assert(match_has(db, "bookworm", "exim4", "99:99-99",
			    "TEMP-0000000-E1C5D3"));
	ck_assert(!match_has(db, "trixie", "exim4", "4.98-1",
			     "TEMP-0000000-E1C5D3"));
	ck_assert(match_has(db, "bookworm", "postfix", "3.7.9-0+deb12u1",
			    "CVE-2023-51764"));
	advisory_db_free(db);
}
END_TEST

/* Shipped and tracker data in one database: per CVE and release, the
 * tracker's entry where it names the release. */
START_TEST(test_merge)
{
	struct buf b;
	struct advisory_verdict list[64];
	size_t skipped = 99;
	int n, seen = 0;

	testutil_read(testutil_repo("tests/fixtures/advisories/tracker-sample.json"), &b);
	ck_assert_int_eq(advisory_db_load(shipped, b.data, b.len, &skipped),
			 0);
	ck_assert_int_eq(skipped, 0);
	buf_free(&b);
	n = advisory_match_verdicts(shipped, "buster", "exim4",
				    "4.92-8+deb10u1", list, 64);
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n && i < 64; i++) {
		if (strcmp(list[i].a->cve, "CVE-2019-15846") == 0) {
			seen++;
			ck_assert_int_eq(list[i].a->origin,
					 ADVISORY_ORIGIN_TRACKER);
			ck_assert_str_eq(list[i].fix->version,
					 "4.92-8+deb10u2");
			/* The shipped file's severity stays. */
			ck_assert_int_eq(list[i].severity,
					 ADVISORY_SEVERITY_CRITICAL);
		}
		if (i > 0)
			ck_assert_int_lt(strcmp(list[i - 1].a->cve,
						list[i].a->cve),
					 0);
	}
	ck_assert_int_eq(seen, 1);
	/* The tracker-only TEMP entry is there too. */
	ck_assert(match_has(shipped, "bookworm", "exim4", "4.96-15",
			    "TEMP-0000000-E1C5D3"));
	ck_assert_uint_eq(advisory_db_source_count(shipped), 2);
	ck_assert_str_eq(advisory_db_source(shipped, 0)->name, "shipped");
	ck_assert_str_eq(advisory_db_source(shipped, 1)->name, "tracker");
}
END_TEST

/* ---- precedence and meaning, on small files in the tracker's shape ---- */

/* A shipped file that knows CVE-2099-0001 for buster and bookworm, with an
 * upstream fix in 4.99. */
static const char prec_shipped[] =
	"{\"format\": 1, \"data_date\": \"2026-11-01\", \"advisories\": ["
	"{\"cve\": \"CVE-2099-0001\", \"source\": \"exim4\", "
	"\"severity\": \"critical\", \"scope\": \"remote\", "
	"\"fixed_upstream\": \"4.99\", \"fixed\": {"
	"\"buster\": \"4.92-8+deb10u9\", "
	"\"bookworm\": {\"version\": \"4.96-15+deb12u7\", "
	"\"advisory\": \"DSA-9001-1\", \"urgency\": \"high\"}}}]}";

/* The tracker's word on the same CVE: bookworm was never affected (the
 * shipped file is wrong), bullseye fixed in a version the file lacks;
 * nothing on buster (past its end of life, dropped). */
static const char prec_tracker[] =
	"{\"exim4\": {\"CVE-2099-0001\": {"
	"\"description\": \"Exim example.\", \"scope\": \"remote\", "
	"\"debianbug\": 1000001, \"releases\": {"
	"\"bookworm\": {\"status\": \"resolved\", \"repositories\": "
	"{\"bookworm\": \"4.96-15+deb12u4\"}, \"fixed_version\": \"0\", "
	"\"urgency\": \"not yet assigned\"}, "
	"\"bullseye\": {\"status\": \"resolved\", \"repositories\": "
	"{\"bullseye\": \"4.94.2-7+deb11u2\"}, "
	"\"fixed_version\": \"4.94.2-7+deb11u4\", \"urgency\": \"high\"}, "
	"\"trixie\": {\"status\": \"undetermined\", \"repositories\": "
	"{\"trixie\": \"4.98-1\"}, \"urgency\": \"not yet assigned\"}}}}}";

static struct advisory_db *prec_db(void)
{
	struct advisory_db *db = NULL;

	ck_assert_int_eq(advisory_db_new(&db), 0);
	ck_assert_int_eq(advisory_db_load(db, prec_shipped,
					  strlen(prec_shipped), NULL),
			 0);
	ck_assert_int_eq(advisory_db_load(db, prec_tracker,
					  strlen(prec_tracker), NULL),
			 0);
	return db;
}

static int verdict(const struct advisory_db *db, const char *rel,
		   const char *src, const char *ver, const char *cve,
		   struct advisory_verdict *ret)
{
	struct advisory_verdict v[16];
	int n = advisory_match_verdicts(db, rel, src, ver, v, 16);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n && i < 16; i++)
		if (strcmp(v[i].a->cve, cve) == 0) {
			if (ret)
				*ret = v[i];
			return 1;
		}
	return 0;
}

/* The tracker over the shipped file, per release. */
START_TEST(test_tracker_wins_per_release)
{
	struct advisory_db *db = prec_db();
	struct advisory_verdict v;

	/* bookworm: the shipped file flags 4.96-15+deb12u5, the tracker's
	 * "0" clears it. */
	ck_assert(!verdict(db, "bookworm", "exim4", "4.96-15+deb12u5",
			   "CVE-2099-0001", NULL));
	/* bullseye: only the tracker names it; its version decides, and
	 * the verdict is confirmed. */
	ck_assert(verdict(db, "bullseye", "exim4", "4.94.2-7+deb11u3",
			  "CVE-2099-0001", &v));
	ck_assert(!v.unconfirmed);
	ck_assert_int_eq(v.a->origin, ADVISORY_ORIGIN_TRACKER);
	ck_assert_str_eq(v.fix->version, "4.94.2-7+deb11u4");
	ck_assert_str_eq(v.fix->urgency_name, "high");
	ck_assert_int_eq(v.severity, ADVISORY_SEVERITY_CRITICAL);
	ck_assert_int_eq(v.scope, ADVISORY_SCOPE_REMOTE);
	ck_assert(!verdict(db, "bullseye", "exim4", "4.94.2-7+deb11u4",
			   "CVE-2099-0001", NULL));
	/* buster: the tracker has nothing; the shipped file still does. */
	ck_assert(verdict(db, "buster", "exim4", "4.92-8+deb10u8",
			  "CVE-2099-0001", &v));
	ck_assert_int_eq(v.a->origin, ADVISORY_ORIGIN_SHIPPED);
	ck_assert(!v.unconfirmed);
	ck_assert(!verdict(db, "buster", "exim4", "4.92-8+deb10u9",
			   "CVE-2099-0001", NULL));
	/* trixie: "undetermined" is no data, so the upstream version
	 * decides, unconfirmed. */
	ck_assert(verdict(db, "trixie", "exim4", "4.98-1", "CVE-2099-0001",
			  &v));
	ck_assert(v.unconfirmed);
	ck_assert_ptr_null(v.fix);
	ck_assert(!verdict(db, "trixie", "exim4", "4.99-1", "CVE-2099-0001",
			   NULL));
	advisory_db_free(db);
}
END_TEST

/* The same, loaded in the other order: freshness, not load order. */
START_TEST(test_tracker_wins_any_order)
{
	struct advisory_db *db = NULL;

	ck_assert_int_eq(advisory_db_new(&db), 0);
	ck_assert_int_eq(advisory_db_load(db, prec_tracker,
					  strlen(prec_tracker), NULL),
			 0);
	ck_assert_int_eq(advisory_db_load(db, prec_shipped,
					  strlen(prec_shipped), NULL),
			 0);
	ck_assert(!verdict(db, "bookworm", "exim4", "4.96-15+deb12u5",
			   "CVE-2099-0001", NULL));
	advisory_db_free(db);
}
END_TEST

/* Two tracker exports: the one with the later date decides. */
START_TEST(test_newer_tracker_wins)
{
	static const char newer[] =
		"{\"exim4\": {\"CVE-2099-0001\": {\"releases\": {"
		"\"bullseye\": {\"status\": \"resolved\", "
		"\"fixed_version\": \"4.94.2-7+deb11u5\", "
		"\"urgency\": \"high\"}}}}}";
	struct advisory_source old = { .name = "tracker",
				       .origin = ADVISORY_ORIGIN_TRACKER,
				       .data_date = 2000000000 };
	struct advisory_source young = old;
	struct advisory_db *db = NULL;
	struct advisory_verdict v;

	young.data_date = 2000086400;
	ck_assert_int_eq(advisory_db_new(&db), 0);
	/* The newer one first: order of loading does not matter. */
	ck_assert_int_eq(advisory_db_load_source(db, newer, strlen(newer),
						 &young, NULL),
			 0);
	ck_assert_int_eq(advisory_db_load_source(db, prec_tracker,
						 strlen(prec_tracker), &old,
						 NULL),
			 0);
	ck_assert(verdict(db, "bullseye", "exim4", "4.94.2-7+deb11u4",
			  "CVE-2099-0001", &v));
	ck_assert_str_eq(v.fix->version, "4.94.2-7+deb11u5");
	ck_assert_int_eq((int)advisory_db_source(db, v.a->src)->data_date,
			 2000086400);
	advisory_db_free(db);
}
END_TEST

/* The loads of the real tracker sample, as a fetch each: every verdict
 * the same, only the sources' dates moved. */
static struct advisory_db *sample_fetched(int64_t at, const char *extra)
{
	struct advisory_source info = { .name = "tracker",
					.origin = ADVISORY_ORIGIN_TRACKER,
					.fetched_at = at };
	struct advisory_db *db = NULL;
	struct buf b;

	testutil_read(testutil_repo("tests/fixtures/advisories/"
				    "tracker-sample.json"),
		      &b);
	ck_assert_int_eq(advisory_db_new(&db), 0);
	ck_assert_int_eq(advisory_db_load_source(db, b.data, b.len, &info,
						 NULL),
			 0);
	if (extra)
		ck_assert_int_eq(advisory_db_load_source(db, extra,
							 strlen(extra), NULL,
							 NULL),
				 0);
	buf_free(&b);
	return db;
}

/* What the re-match's first step skips (store_rematch.c): a source package
 * whose entries are the same in two data sets. */
START_TEST(test_source_differs)
{
	static const char fix5[] =
		"{\"exim4\": {\"CVE-2099-0001\": {\"releases\": {"
		"\"bullseye\": {\"status\": \"resolved\", "
		"\"fixed_version\": \"4.94.2-7+deb11u5\"}}}}}";
	static const char fix6[] =
		"{\"exim4\": {\"CVE-2099-0001\": {\"releases\": {"
		"\"bullseye\": {\"status\": \"resolved\", "
		"\"fixed_version\": \"4.94.2-7+deb11u6\"}}}}}";
	struct advisory_db *a = sample_fetched(1000, NULL);
	struct advisory_db *b = sample_fetched(2000, NULL);
	struct advisory_db *c = sample_fetched(1000, fix5);
	struct advisory_db *d = sample_fetched(1000, fix6);

	/* The same entries fetched again: the same verdicts, but an MTA's
	 * verdicts carry the data's date to the rules. */
	ck_assert(!advisory_source_differs(a, b, "exim4", false));
	ck_assert(advisory_source_differs(a, b, "exim4", true));
	ck_assert(!advisory_source_differs(a, b, "postfix", false));
	/* No entries in either: nothing to differ. */
	ck_assert(!advisory_source_differs(a, b, "zlib", true));
	/* A CVE more, or a fixed version moved, for exim4 alone. */
	ck_assert(advisory_source_differs(a, c, "exim4", false));
	ck_assert(advisory_source_differs(c, a, "exim4", false));
	ck_assert(!advisory_source_differs(a, c, "postfix", true));
	ck_assert(advisory_source_differs(c, d, "exim4", false));
	ck_assert(!advisory_source_differs(c, d, "postfix", false));
	ck_assert(!advisory_source_differs(c, c, "exim4", true));
	/* No data at all on one side. */
	ck_assert(advisory_source_differs(a, NULL, "zlib", false));
	ck_assert(!advisory_source_differs(NULL, NULL, "exim4", true));
	advisory_db_free(a);
	advisory_db_free(b);
	advisory_db_free(c);
	advisory_db_free(d);
}
END_TEST

/* status open, nodsa and unimportant, as the tracker writes them. */
static const char meaning_tracker[] =
	"{\"exim4\": {"
	"\"CVE-2099-0010\": {\"description\": \"open, no fix\", "
	"\"scope\": \"remote\", \"releases\": {"
	"\"bookworm\": {\"status\": \"open\", \"repositories\": "
	"{\"bookworm\": \"4.96-15+deb12u7\"}, \"urgency\": \"high\"}}}, "
	"\"CVE-2099-0011\": {\"description\": \"postponed\", "
	"\"releases\": {\"bookworm\": {\"status\": \"open\", "
	"\"repositories\": {\"bookworm\": \"4.96-15+deb12u7\"}, "
	"\"urgency\": \"low\", \"nodsa\": \"Minor issue\", "
	"\"nodsa_reason\": \"postponed\"}}}, "
	"\"CVE-2099-0012\": {\"description\": \"no-dsa\", "
	"\"releases\": {\"bookworm\": {\"status\": \"open\", "
	"\"repositories\": {\"bookworm\": \"4.96-15+deb12u7\"}, "
	"\"urgency\": \"not yet assigned\", \"nodsa\": \"Minor issue\", "
	"\"nodsa_reason\": \"\"}}}, "
	"\"CVE-2099-0013\": {\"description\": \"ignored\", "
	"\"releases\": {\"bookworm\": {\"status\": \"resolved\", "
	"\"repositories\": {\"bookworm\": \"4.96-15+deb12u7\"}, "
	"\"fixed_version\": \"4.96-15+deb12u9\", \"urgency\": \"low\", "
	"\"nodsa\": \"Not worth it\", \"nodsa_reason\": \"ignored\"}}}, "
	"\"CVE-2099-0014\": {\"description\": \"unimportant\", "
	"\"releases\": {\"bookworm\": {\"status\": \"open\", "
	"\"repositories\": {\"bookworm\": \"4.96-15+deb12u7\"}, "
	"\"urgency\": \"unimportant\"}}}}}";

START_TEST(test_tracker_meaning)
{
	struct advisory_db *db = NULL;
	struct advisory_verdict v;

	ck_assert_int_eq(advisory_load(meaning_tracker,
				       strlen(meaning_tracker), &db),
			 0);
	/* open: every version, however new. */
	ck_assert(verdict(db, "bookworm", "exim4", "99:9-9", "CVE-2099-0010",
			  &v));
	ck_assert_int_eq(v.fix->state, ADVISORY_FIX_OPEN);
	ck_assert_ptr_null(v.fix->nodsa);
	ck_assert(!v.fix->unimportant);
	ck_assert_int_eq(v.severity, ADVISORY_SEVERITY_HIGH);
	/* <postponed>: vulnerable, minor. */
	ck_assert(verdict(db, "bookworm", "exim4", "4.96-15+deb12u7",
			  "CVE-2099-0011", &v));
	ck_assert_str_eq(v.fix->nodsa, "postponed");
	ck_assert_str_eq(v.fix->nodsa_text, "Minor issue");
	/* <no-dsa>: an empty reason. */
	ck_assert(verdict(db, "bookworm", "exim4", "4.96-15+deb12u7",
			  "CVE-2099-0012", &v));
	ck_assert_str_eq(v.fix->nodsa, "no-dsa");
	ck_assert_int_eq(v.severity, ADVISORY_SEVERITY_UNKNOWN);
	/* <ignored> with a fix in a point release: the version decides. */
	ck_assert(verdict(db, "bookworm", "exim4", "4.96-15+deb12u8",
			  "CVE-2099-0013", &v));
	ck_assert_str_eq(v.fix->nodsa, "ignored");
	ck_assert(!verdict(db, "bookworm", "exim4", "4.96-15+deb12u9",
			   "CVE-2099-0013", NULL));
	/* unimportant: kept and matched, flagged. */
	ck_assert(verdict(db, "bookworm", "exim4", "4.96-15+deb12u7",
			  "CVE-2099-0014", &v));
	ck_assert(v.fix->unimportant);
	ck_assert_str_eq(v.fix->urgency_name, "unimportant");
	/* No data for the release and no upstream version: nothing. */
	ck_assert(!verdict(db, "buster", "exim4", "4.92-1", "CVE-2099-0010",
			   NULL));
	ck_assert(!verdict(db, NULL, "exim4", "4.92-1", "CVE-2099-0010",
			   NULL));
	advisory_db_free(db);
}
END_TEST

/* A release no source names (an unknown distribution, no codename): the
 * upstream version decides, unconfirmed. */
START_TEST(test_unconfirmed)
{
	struct advisory_db *db = prec_db();
	struct advisory_verdict v;

	ck_assert(verdict(db, "jammy", "exim4", "4.95-4ubuntu2.5",
			  "CVE-2099-0001", &v));
	ck_assert(v.unconfirmed);
	ck_assert_int_eq(v.a->origin, ADVISORY_ORIGIN_SHIPPED);
	ck_assert(verdict(db, NULL, "exim4", "4.95-4", "CVE-2099-0001", &v));
	ck_assert(v.unconfirmed);
	ck_assert(!verdict(db, "jammy", "exim4", "4.99-1ubuntu1",
			   "CVE-2099-0001", NULL));
	advisory_db_free(db);
}
END_TEST

/* The shipped file's new form: an advisory id, "open", nodsa. */
START_TEST(test_shipped_new_form)
{
	static const char doc[] =
		"{\"format\": 1, \"advisories\": [{\"cve\": \"CVE-2099-0020\", "
		"\"source\": \"postfix\", \"severity\": \"medium\", "
		"\"fixed\": {\"bookworm\": {\"version\": \"3.7.11-0+deb12u1\", "
		"\"advisory\": \"DSA-9002-1\"}, \"trixie\": \"open\", "
		"\"bullseye\": {\"version\": \"open\", \"nodsa\": "
		"\"postponed\", \"nodsa_text\": \"Minor issue\"}}}]}";
	struct advisory_db *db = NULL;
	struct advisory_verdict v;

	ck_assert_int_eq(advisory_load(doc, strlen(doc), &db), 0);
	ck_assert(verdict(db, "bookworm", "postfix", "3.7.10-0+deb12u1",
			  "CVE-2099-0020", &v));
	ck_assert_str_eq(v.fix->advisory, "DSA-9002-1");
	ck_assert_int_eq(v.severity, ADVISORY_SEVERITY_MEDIUM);
	ck_assert(!verdict(db, "bookworm", "postfix", "3.7.11-0+deb12u1",
			   "CVE-2099-0020", NULL));
	ck_assert(verdict(db, "trixie", "postfix", "9.9-1", "CVE-2099-0020",
			  &v));
	ck_assert_int_eq(v.fix->state, ADVISORY_FIX_OPEN);
	ck_assert(verdict(db, "bullseye", "postfix", "3.5.25-0+deb11u1",
			  "CVE-2099-0020", &v));
	ck_assert_str_eq(v.fix->nodsa, "postponed");
	ck_assert_str_eq(v.fix->nodsa_text, "Minor issue");
	advisory_db_free(db);
}
END_TEST

/* Equal data, equal digest; any change, another. */
START_TEST(test_digest)
{
	struct advisory_db *a = prec_db(), *b = prec_db(), *c = NULL;
	char da[65], db_[65], dc[65];

	ck_assert_int_eq(advisory_load(prec_shipped, strlen(prec_shipped), &c),
			 0);
	ck_assert_int_eq(advisory_db_digest(a, da), 0);
	ck_assert_int_eq(advisory_db_digest(b, db_), 0);
	ck_assert_int_eq(advisory_db_digest(c, dc), 0);
	ck_assert_str_eq(da, db_);
	ck_assert_str_ne(da, dc);
	ck_assert_uint_eq(strlen(da), 64);
	advisory_db_free(a);
	advisory_db_free(b);
	advisory_db_free(c);
}
END_TEST

/* The tracker export is read member by member: a cut or broken document
 * is refused whole, and keeps nothing. */
START_TEST(test_tracker_broken)
{
	struct advisory_db *db = NULL;
	size_t n = strlen(prec_tracker);
	static const char *bad[] = {
		"{\"exim4\": {}} x", "{\"exim4\" {}}", "{\"exim4\": {},}",
		"{,}", "{\"a\": {\"CVE-1\": {\"releases\": {}}}",
		"{\"a\": [}", "{\"a\": \"x}",
	};

	ck_assert_int_eq(advisory_db_new(&db), 0);
	for (size_t cut = 1; cut < n; cut += 7)
		ck_assert_int_eq(advisory_db_load(db, prec_tracker, cut, NULL),
				 -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(advisory_db_load(db, bad[i], strlen(bad[i]),
					       NULL) == -EINVAL,
			      "%s", bad[i]);
	ck_assert_uint_eq(advisory_db_count(db), 0);
	ck_assert_uint_eq(advisory_db_source_count(db), 0);
	ck_assert_int_eq(advisory_db_load(db, "{ }", 3, NULL), 0);
	ck_assert_int_eq(advisory_db_load(db, prec_tracker, n, NULL), 0);
	ck_assert_uint_eq(advisory_db_count(db), 1);
	advisory_db_free(db);
}
END_TEST

START_TEST(test_bad_input)
{
	struct advisory_db *db = NULL;
	size_t before = advisory_db_count(shipped);
	static const char *bad[] = {
		"", "{", "[]", "\"x\"", "{\"format\": 2, \"advisories\": []}",
		"{\"format\": 1}",
	};
	const char *skip = "{\"format\": 1, \"advisories\": ["
			   "{\"cve\": \"CVE-1\", \"source\": \"x\", \"fixed\": "
			   "{\"buster\": \"not a version\"}},"
			   "{\"cve\": \"CVE-2\"},"
			   "{\"cve\": \"CVE-3\", \"source\": \"x\", "
			   "\"fixed_upstream\": \"1.0\"}]}";
	size_t skipped = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_int_eq(advisory_load(bad[i], strlen(bad[i]), &db),
				 -EINVAL);
		ck_assert_ptr_null(db);
		ck_assert_int_eq(advisory_db_load(shipped, bad[i],
						  strlen(bad[i]), NULL),
				 -EINVAL);
	}
	ck_assert_uint_eq(advisory_db_count(shipped), before);

	ck_assert_int_eq(advisory_db_new(&db), 0);
	ck_assert_int_eq(advisory_db_load(db, skip, strlen(skip), &skipped), 0);
	ck_assert_uint_eq(skipped, 2);
	ck_assert_uint_eq(advisory_db_count(db), 1);
	advisory_db_free(db);
	advisory_db_free(NULL);
}
END_TEST

START_TEST(test_eol)
{
	struct buf b;
	const struct advisory_eol *info = NULL;
	int64_t d = 0, want;

	testutil_read(testutil_repo("data/eol.json"), &b);
	ck_assert_int_eq(advisory_db_load_eol(shipped, b.data, b.len), 0);
	buf_free(&b);

	ck_assert_int_eq(date_parse("2024-06-30", &want), 0);
	ck_assert_int_eq(advisory_eol(shipped, "debian", "10", &d, &info), 0);
	ck_assert_int_eq(d, want);
	ck_assert_str_eq(info->codename, "buster");
	ck_assert_int_eq(date_parse("2022-09-10", &want), 0);
	ck_assert_int_eq(info->security_end, want);
	d = 0;
	ck_assert_int_eq(advisory_eol(shipped, "debian", "buster", &d, NULL),
			 0);
	ck_assert_int_eq(date_parse("2024-06-30", &want), 0);
	ck_assert_int_eq(d, want);
	ck_assert_int_eq(advisory_eol(shipped, "debian", "10.13", &d, NULL),
			 0);
	ck_assert_int_eq(d, want);
	ck_assert_int_eq(advisory_eol(shipped, "ubuntu", "22.04", &d, &info),
			 0);
	ck_assert_int_eq(date_parse("2027-06-01", &want), 0);
	ck_assert_int_eq(d, want);
	ck_assert_int_eq(date_parse("2032-04-30", &want), 0);
	ck_assert_int_eq(info->extended_end, want);
	/* "22" must not find 22.04, nor Debian's "1" find "10". */
	ck_assert_int_eq(advisory_eol(shipped, "ubuntu", "22", &d, NULL),
			 -ENOENT);
	ck_assert_int_eq(advisory_eol(shipped, "debian", "1", &d, NULL),
			 -ENOENT);
	/* A release the data does not know (Fedora's are listed from 35). */
	ck_assert_int_eq(advisory_eol(shipped, "fedora", "34", &d, NULL),
			 -ENOENT);
	ck_assert_int_eq(advisory_eol(shipped, "fedora", "40", &d, NULL), 0);
	ck_assert_int_eq(date_parse("2025-05-13", &want), 0);
	ck_assert_int_eq(d, want);
	ck_assert_int_eq(advisory_eol(shipped, "debian", "", &d, NULL),
			 -ENOENT);
	ck_assert_int_eq(advisory_db_load_eol(shipped, "{}", 2), -EINVAL);
}
END_TEST

/* A tracker export of the real one's size: ~1,700 packages here stand
 * for its source packages, 60,000 (package, CVE) pairs with 4 releases
 * each, about 25 MB.  Reports the time; asserts only a generous bound. */
START_TEST(test_tracker_size)
{
	static const char *rel[] = {"bullseye", "bookworm", "trixie", "sid"};
	struct buf b = BUF_INIT(256 * 1024 * 1024);
	struct advisory_db *db = NULL;
	struct timespec t0, t1;
	const struct advisory *list[8];
	double secs;
	int cve = 0;

	ck_assert_int_eq(buf_puts(&b, "{"), 0);
	for (int p = 0; p < 1700; p++) {
		ck_assert_int_eq(buf_printf(&b, "%s\"pkg%d\": {",
					    p ? "," : "", p),
				 0);
		for (int c = 0; c < 35; c++, cve++) {
			ck_assert_int_eq(
				buf_printf(&b,
					   "%s\"CVE-20%02d-%05d\": {"
					   "\"description\": \"A synthetic "
					   "description of a plausible length "
					   "for entry %d, as the tracker copies "
					   "them from the CVE list.\", "
					   "\"scope\": \"remote\", "
					   "\"releases\": {",
					   c ? "," : "", 10 + cve % 15, cve,
					   cve),
				0);
			for (int r = 0; r < 4; r++)
				ck_assert_int_eq(
					buf_printf(
						&b,
						"%s\"%s\": {\"status\": "
						"\"%s\", \"repositories\": "
						"{\"%s\": \"1.%d-%d\"}, "
						"\"fixed_version\": "
						"\"1.%d-%d\", \"urgency\": "
						"\"not yet assigned\"}",
						r ? "," : "", rel[r],
						(cve + r) % 7 ? "resolved"
							      : "open",
						rel[r], c, r + 2, c, r + 1),
					0);
			ck_assert_int_eq(buf_puts(&b, "}}"), 0);
		}
		ck_assert_int_eq(buf_puts(&b, "}"), 0);
	}
	ck_assert_int_eq(buf_puts(&b, "}"), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(advisory_load(b.data, b.len, &db), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr,
		"check_advisory: tracker-sized export, %zu bytes, %zu "
		"entries, loaded in %.2f s\n",
		b.len, advisory_db_count(db), secs);
	ck_assert_uint_eq(advisory_db_count(db), 1700 * 35);
	ck_assert_int_ge(advisory_match(db, "bookworm", "pkg42", "1.0-1", list,
					8),
			 1);
	ck_assert(secs < 60);
	advisory_db_free(db);
	buf_free(&b);
}
END_TEST

START_TEST(test_severity_names)
{
	ck_assert_int_eq(ADVISORY_SEVERITY_CRITICAL, 4);
	ck_assert_int_eq(ADVISORY_SEVERITY_UNKNOWN, 0);
	for (int s = 0; s <= 4; s++)
		ck_assert_int_eq(advisory_severity_parse(
					 advisory_severity_name(s)),
				 s);
	ck_assert_int_eq(advisory_severity_parse("urgent"),
			 ADVISORY_SEVERITY_UNKNOWN);
}
END_TEST

extern const struct embedded_file embedded_data[];

/* Names a changelog gives a CVE without fixing it there: exim4 4.96-15+
 * deb12u3 ("CVE-2023-42118 was diagnosed as a vulnerability in the libspf2
 * library and needs to be addressed there") and 4.98.2-1+deb13u5
 * ("CVE-2026-94055 is not relevant"). */
static const char *const not_fixed_here[] = { "CVE-2023-42118",
					      "CVE-2026-94055" };

#define CL_MAX_ENTRIES 32
#define CL_MAX_CVES 32

struct cl_entry {
	char version[64];
	char cves[CL_MAX_CVES][24];
	int n_cves;
};

static int cl_has(const struct cl_entry *e, const char *cve)
{
	for (int i = 0; i < e->n_cves; i++)
		if (strcmp(e->cves[i], cve) == 0)
			return 1;
	return 0;
}

/* The entries of a changelog.Debian text, newest first, each with the
 * CVE ids its body names. */
static int cl_parse(char *text, struct cl_entry *out, int max)
{
	int n = 0;

	for (char *line = text, *next; line && *line; line = next) {
		char *p, *q;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line != ' ' && *line && (p = strstr(line, " (")) &&
		    (q = strchr(p, ')'))) {
			ck_assert_int_lt(n, max);
			memset(&out[n], 0, sizeof(out[n]));
			ck_assert_int_lt(q - p - 2, 64);
			memcpy(out[n].version, p + 2, (size_t)(q - p - 2));
			n++;
			continue;
		}
		for (p = line; n > 0 && (p = strstr(p, "CVE-")); p += 4) {
			struct cl_entry *e = &out[n - 1];
			size_t year = strspn(p + 4, "0123456789");
			size_t num = year == 4 && p[8] == '-' ?
					     strspn(p + 9, "0123456789") : 0;
			size_t len = 9 + num;
			int skip = 0;

			/* CVE-YYYY-NNNN..., not GCVE-25-2026-07-45-1. */
			if ((p > line && isalnum((unsigned char)p[-1])) ||
			    num < 4 || num > 7)
				continue;
			ck_assert_int_lt(e->n_cves, CL_MAX_CVES);
			memcpy(e->cves[e->n_cves], p, len);
			e->cves[e->n_cves][len] = '\0';
			for (size_t k = 0; k < 2; k++)
				skip |= !strcmp(e->cves[e->n_cves],
						not_fixed_here[k]);
			if (!skip && !cl_has(e, e->cves[e->n_cves]))
				e->n_cves++;
		}
	}
	return n;
}

/*
 * The fixtures are the changelog.Debian.gz of exim4-base 4.94.2-7+deb11u6,
 * 4.96-15+deb12u11 and 4.98.2-1+deb13u6 and of postfix 3.7.11-0+deb12u1
 * (the newest in each release and its security suite on 2026-12-01), cut
 * after the entry of the version the release started from (or, for
 * Postfix, one older point release).
 *
 * Every version a release's changelog lists, against the snapshot built
 * into derelictd: vulnerable to each CVE a newer entry names, and to none
 * that its own entry or an older one names.  Returns how many checks ran.
 */
static int check_changelog(const struct advisory_db *db, const char *file,
			   const char *release, const char *source)
{
	static struct cl_entry e[CL_MAX_ENTRIES];
	const struct advisory *list[256];
	char rel[256];
	struct buf b;
	int n, checks = 0;

	snprintf(rel, sizeof(rel), "tests/fixtures/changelogs/%s", file);
	testutil_read(testutil_repo(rel), &b);
	n = cl_parse(b.data, e, CL_MAX_ENTRIES);
	buf_free(&b);
	ck_assert_int_ge(n, 2);
	for (int v = 0; v < n; v++) {
		int m = advisory_match(db, release, source, e[v].version,
				       list, 256);

		ck_assert_int_ge(m, 0);
		ck_assert_int_le(m, 256);
		for (int j = 0; j < n; j++) {
			for (int c = 0; c < e[j].n_cves; c++) {
				const char *cve = e[j].cves[c];
				int fixed = 0, flagged = 0;

				for (int k = v; k < n; k++)
					fixed |= cl_has(&e[k], cve);
				for (int k = 0; k < m; k++)
					flagged |= !strcmp(list[k]->cve, cve);
				ck_assert_msg(flagged == !fixed,
					      "%s %s %s: %s %s", release,
					      source, e[v].version, cve,
					      fixed ? "flagged, but fixed "
						      "at or before it"
						    : "not flagged, but "
						      "fixed after it");
				checks++;
			}
		}
	}
	return checks;
}

START_TEST(test_embedded_real_changelogs)
{
	const struct embedded_file *f = embedded_data;
	struct advisory_db *db = NULL;
	int checks = 0;

	while (f->name && strcmp(f->name, "advisories.json") != 0)
		f++;
	ck_assert_msg(f->name != NULL, "advisories.json is not embedded");
	ck_assert_int_eq(advisory_load((const char *)f->data, f->len, &db), 0);
	checks += check_changelog(db, "exim4-bullseye", "bullseye", "exim4");
	checks += check_changelog(db, "exim4-bookworm", "bookworm", "exim4");
	checks += check_changelog(db, "exim4-trixie", "trixie", "exim4");
	checks += check_changelog(db, "postfix-bookworm", "bookworm",
				  "postfix");
	/* The examples, by name. */
	ck_assert(match_has(db, "bookworm", "exim4", "4.96-15+deb12u5",
			    "CVE-2026-94057"));
	ck_assert(match_has(db, "bullseye", "exim4", "4.94.2-7+deb11u3",
			    "CVE-2021-38371"));
	ck_assert(match_has(db, "bullseye", "exim4", "4.94.2-7+deb11u3",
			    "CVE-2022-3559"));
	ck_assert(!match_has(db, "bullseye", "exim4", "4.94.2-7+deb11u4",
			     "CVE-2022-3559"));
	ck_assert(match_has(db, "buster", "exim4", "4.92-8+deb10u6",
			    "CVE-2022-37452"));
	ck_assert(!match_has(db, "buster", "exim4", "4.92-8+deb10u7",
			     "CVE-2022-37452"));
	ck_assert_int_gt(checks, 300);
	advisory_db_free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advisory");
	TCase *tc = tcase_create("shipped");
	TCase *big = tcase_create("size");

	tcase_add_checked_fixture(tc, setup_shipped, teardown_shipped);
	tcase_add_test(tc, test_shipped_loads);
	tcase_add_test(tc, test_exim_real_versions);
	tcase_add_test(tc, test_opensmtpd_real_versions);
	tcase_add_test(tc, test_debian_backports);
	tcase_add_test(tc, test_updated_releases_clean);
	tcase_add_test(tc, test_embedded_real_changelogs);
	tcase_add_test(tc, test_upstream_rules);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_tracker_sample);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_tracker_wins_per_release);
	tcase_add_test(tc, test_tracker_wins_any_order);
	tcase_add_test(tc, test_newer_tracker_wins);
	tcase_add_test(tc, test_source_differs);
	tcase_add_test(tc, test_tracker_meaning);
	tcase_add_test(tc, test_unconfirmed);
	tcase_add_test(tc, test_shipped_new_form);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_tracker_broken);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_eol);
	tcase_add_test(tc, test_severity_names);
	suite_add_tcase(s, tc);
	tcase_set_timeout(big, 120);
	tcase_add_test(big, test_tracker_size);
	suite_add_tcase(s, big);
	return testutil_run(s);
}
