/*
 * advisory.h - known vulnerabilities and release end-of-life dates, and the
 * matching of installed Debian source packages against them.
 *
 * Pure data: no SQL, no HTTP.  Several sources fill one database; each
 * load is one source (advisory_db_load_source()):
 *
 *  - the advisories file shipped with the server (data/advisories.json):
 *
 *      {"format": 1,
 *       "data_date": "YYYY-MM-DD",          optional: the data's own date
 *       "origin": "osv",                    optional: Ubuntu's OSV data
 *       "advisories": [{
 *         "cve": "CVE-2023-42115", "source": "exim4",
 *         "severity": "critical"|"high"|"medium"|"low",
 *         "scope": "remote"|"local",
 *         "summary": "…",
 *         "fixed_upstream": "4.96.1" | ["4.96.1", "4.97"],
 *         "fixed": {"<codename>": FIX, …},
 *         "references": ["DSA-5512-1"]}]}
 *
 *    where FIX is either a string, the old form: a Debian version (the
 *    first fixed one), "not-affected", or "open" (no fix yet); or an
 *    object, the new form, every member optional but "version":
 *
 *      {"version": "4.96-15+deb12u2" | "not-affected" | "open",
 *       "advisory": "DSA-5512-1",          the DSA/DLA that shipped it
 *       "urgency": "high"|"medium"|"low"|"unimportant"|…,  the tracker's word
 *       "nodsa": "no-dsa"|"postponed"|"ignored",  Debian issues no advisory
 *       "nodsa_text": "Minor issue"}
 *
 *  - the Debian Security Tracker's JSON export
 *    (https://security-tracker.debian.org/tracker/data/json): an object
 *    keyed by source package, then by CVE id, each with "description",
 *    optional "scope", "debianbug" and "releases": {codename: {"status":
 *    "resolved"|"open"|"undetermined", "repositories", "fixed_version",
 *    "urgency", "nodsa", "nodsa_reason"}}.  It is read one package at a
 *    time, so the whole document is never a tree in memory.
 *
 * EOL dates come from data/eol.json ({"format": 1, "releases": [...]}).
 *
 * Meaning, per release of one entry:
 *  - a fixed version: vulnerable below it (dpkg ordering);
 *  - the tracker's fixed_version "0" (shipped: "not-affected"): never;
 *  - status "open" (shipped: "open"): every version, "no fix yet";
 *  - "nodsa" set: as above, but Debian rates it minor (no advisory);
 *  - urgency "unimportant": kept and matched, flagged so the caller does
 *    not raise it by default;
 *  - "undetermined", or a release not named: no data for that release.
 *
 * Precedence, given a release codename, a source package and its source
 * version (advisory_match_verdicts()): per (source package, CVE, release)
 * the freshest source that names the release decides: any imported or
 * fetched source (tracker, file, OSV) over the shipped file, then the later
 * data_date (else fetched_at), then the later load.  Where no source names the release, the
 * upstream fixed version of the freshest entry that has one decides (the
 * upstream part of the installed version, see dpkgver_upstream(), against
 * the fixed version of its own branch — same first two dot-separated
 * components — or the highest one), and the verdict is unconfirmed: the
 * caller says why (a release past its end of life, an unknown
 * distribution).  Tracker entries have no upstream version, so they never
 * decide that way.  Where OSV data (Ubuntu's, "origin": "osv" in a file of
 * the shipped format, see advisory_osv.h) names the release for any CVE
 * of the package, it covers the package there: no upstream version
 * decides a CVE it does not list.
 *
 * Every input is capped (ADVISORY_MAX_*); a database holds its strings in
 * one arena, so freeing it is cheap.  Functions return 0 or a negative
 * errno value and log nothing.
 */
#ifndef DERELICT_ADVISORY_H
#define DERELICT_ADVISORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Shared with the rules and the API: a finding's severity uses the same
 * scale, so the numbers are part of the interface. */
enum advisory_severity {
	ADVISORY_SEVERITY_UNKNOWN = 0,
	ADVISORY_SEVERITY_LOW = 1,
	ADVISORY_SEVERITY_MEDIUM = 2,
	ADVISORY_SEVERITY_HIGH = 3,
	ADVISORY_SEVERITY_CRITICAL = 4,
};

enum advisory_scope {
	ADVISORY_SCOPE_UNKNOWN = 0,
	ADVISORY_SCOPE_REMOTE,
	ADVISORY_SCOPE_LOCAL,
};

enum advisory_fix_state {
	ADVISORY_FIX_VERSION = 0,	/* fixed in version */
	ADVISORY_FIX_NOT_AFFECTED,	/* never vulnerable in this release */
	ADVISORY_FIX_OPEN,		/* vulnerable, no fix yet */
	ADVISORY_FIX_UNDETERMINED,	/* unknown; never stored, never matches */
};

enum advisory_origin {
	ADVISORY_ORIGIN_SHIPPED = 0,	/* data/advisories.json */
	ADVISORY_ORIGIN_TRACKER = 1,	/* Debian Security Tracker export */
	ADVISORY_ORIGIN_FILE = 2,	/* a file an operator imported */
	ADVISORY_ORIGIN_OSV = 3,	/* OSV records (Ubuntu) */
};

/* Caps on what one database holds and on what one input may carry. */
#define ADVISORY_MAX_INPUT (512u * 1024 * 1024)
#define ADVISORY_MAX_ENTRIES 1000000	/* (CVE, package) pairs */
#define ADVISORY_MAX_FIXES 16		/* releases per entry */
#define ADVISORY_MAX_UPSTREAM 8		/* upstream branches per entry */
#define ADVISORY_MAX_STRING 1024	/* longer summaries are cut */
#define ADVISORY_MAX_SUMMARY_TRACKER 240 /* the tracker's, cut shorter */
#define ADVISORY_MAX_EOL 256
#define ADVISORY_MAX_SOURCES 32		/* loads into one database */

struct advisory_fix {
	const char *release;		/* codename, e.g. "buster" */
	enum advisory_fix_state state;
	const char *version;		/* set when state is ADVISORY_FIX_VERSION */
	enum advisory_severity urgency;	/* the tracker's, else UNKNOWN */
	const char *urgency_name;	/* the source's word; "" when none */
	bool unimportant;		/* urgency "unimportant" */
	const char *advisory;		/* "DSA-5512-1"; "" when unknown */
	const char *nodsa;		/* "no-dsa", "postponed", "ignored";
					 * NULL when Debian did not decline */
	const char *nodsa_text;		/* the tracker's reason; "" if none */
};

struct advisory {
	const char *cve;		/* also TEMP-… ids from the tracker */
	const char *source;		/* Debian source package */
	enum advisory_severity severity;
	enum advisory_scope scope;
	enum advisory_origin origin;
	unsigned src;			/* index of its advisory_source */
	const char *summary;		/* "" when none; at most MAX_STRING */
	const char *const *fixed_upstream;
	size_t n_fixed_upstream;
	const struct advisory_fix *fixes;
	size_t n_fixes;
};

/* Where a load's entries came from.  The caller names it; what it leaves
 * empty the loader fills in (name and origin from the document's format,
 * data_date from the shipped file's "data_date"). */
struct advisory_source {
	char name[64];			/* "shipped", "tracker", a file name */
	enum advisory_origin origin;
	char location[512];		/* the URL or the file; "" if none */
	int64_t fetched_at;		/* when it was fetched or imported */
	int64_t data_date;		/* the data's own date; 0 unknown */
	size_t entries;			/* filled by the load */
	unsigned seq;			/* load order, filled by the load */
};

/* One advisory that applies, with the evidence that decided it. */
struct advisory_verdict {
	const struct advisory *a;	/* the deciding entry */
	const struct advisory_fix *fix;	/* its data for the release, or NULL
					 * when the upstream version decided */
	bool unconfirmed;		/* no source names the release */
	enum advisory_severity severity;/* the shipped file's, else the
					 * release's urgency, else the entry's */
	enum advisory_scope scope;	/* the first source that knows it */
};

struct advisory_eol {
	const char *os;			/* os-release ID: "debian", "ubuntu" */
	const char *version_id;		/* "10", "22.04" */
	const char *codename;
	int64_t eol;			/* midnight UTC of the last day */
	int64_t security_end;		/* Debian regular / Ubuntu standard; 0 if unknown */
	int64_t extended_end;		/* Debian LTS / Ubuntu ESM; 0 if unknown */
};

struct advisory_db;

/* An empty database.  0, or -ENOMEM. */
int advisory_db_new(struct advisory_db **ret);
/* Frees the database and every string and struct it handed out; accepts
 * NULL. */
void advisory_db_free(struct advisory_db *db);

/*
 * Parses len bytes of JSON, the shipped advisories file or the tracker
 * export (told apart by the shipped file's "format" member), into db as one
 * source described by info (may be NULL: then named by its format, and a
 * tracker export counts as fetched now, unknown date).  Entries already in
 * db stay.  0; -EINVAL on malformed JSON or an unknown format (db then
 * holds none of this input's entries); -E2BIG when the input or the
 * database would pass a cap; -ENOMEM.  Malformed entries inside a
 * well-formed document are skipped; *ret_skipped (if not NULL) counts
 * them.
 */
int advisory_db_load_source(struct advisory_db *db, const char *json,
			    size_t len, const struct advisory_source *info,
			    size_t *ret_skipped);
/* The same with info NULL. */
int advisory_db_load(struct advisory_db *db, const char *json, size_t len,
		     size_t *ret_skipped);

/* The sources loaded so far, in load order; the i-th one (owned by db) or
 * NULL. */
size_t advisory_db_source_count(const struct advisory_db *db);
const struct advisory_source *advisory_db_source(const struct advisory_db *db,
						 size_t i);

/* Convenience: a new database from one document.  Same errors; on
 * failure *ret is untouched. */
int advisory_load(const char *json, size_t len, struct advisory_db **ret);

/* Parses data/eol.json into db, replacing earlier EOL data.  0, -EINVAL,
 * -E2BIG or -ENOMEM. */
int advisory_db_load_eol(struct advisory_db *db, const char *json, size_t len);

/* Number of entries; the i-th one (sorted by source, then CVE), owned by
 * db, or NULL when i is out of range. */
size_t advisory_db_count(const struct advisory_db *db);
const struct advisory *advisory_db_get(const struct advisory_db *db, size_t i);

/*
 * The advisories that apply to source package `source` at `source_version`
 * on release `codename` (may be NULL or "" when unknown: then only the
 * upstream versions decide, unconfirmed), after the precedence above.
 * Writes up to max verdicts (pointing into db, valid until it is freed or
 * loaded into again) to ret, sorted by CVE, and returns how many apply,
 * which may exceed max; -EINVAL when source or source_version is NULL or
 * the version is not a valid Debian version.
 */
int advisory_match_verdicts(const struct advisory_db *db, const char *codename,
			    const char *source, const char *source_version,
			    struct advisory_verdict *ret, size_t max);

/*
 * Whether matching source package `source` against a and against b may
 * give different verdicts for some version on some release: false when
 * its entries are the same in both, in order and in every member matching
 * reads, so advisory_match_verdicts() gives the same for every version and
 * release; with sources, the entries' summaries and their sources' names
 * and dates must be the same too.  Either may be NULL (no data): they
 * differ unless both are.
 */
bool advisory_source_differs(const struct advisory_db *a,
			     const struct advisory_db *b, const char *source,
			     bool sources);

/* The same, the deciding entries only. */
int advisory_match(const struct advisory_db *db, const char *codename,
		   const char *source, const char *source_version,
		   const struct advisory **ret, size_t max);

/* Whether one entry alone applies (no precedence); 1, 0, or -EINVAL as
 * above. */
int advisory_applies(const struct advisory *a, const char *codename,
		     const char *source_version);

/*
 * The end-of-life date of a release, by os-release ID and either its
 * VERSION_ID ("10", "22.04"; "10.13" finds "10") or its codename.
 * 0 and *ret_date (midnight UTC, as date_parse()), or -ENOENT.  ret_info,
 * if not NULL, receives the record (owned by db).
 */
int advisory_eol(const struct advisory_db *db, const char *os_id,
		 const char *version_or_codename, int64_t *ret_date,
		 const struct advisory_eol **ret_info);

/*
 * The Red Hat family (os-release IDs rhel, centos, rocky, almalinux,
 * fedora) has no codenames: a release of it is named "<ID>:<major
 * VERSION_ID>" ("rocky:8", "centos:7", "fedora:40") wherever a codename
 * goes, in the "fixed" members and as advisory_match_verdicts()'s
 * codename.  Versions for such a release are RPM versions: checked by
 * rpmver_valid(), ordered by rpmver_compare(), the upstream part the
 * version between epoch and release (rpmver.h); dpkg's rules for all
 * others.  A release name with a colon is one of these, as no Debian or
 * Ubuntu codename holds one.
 */
bool advisory_os_is_rpm(const char *os_id);
/* The release to match a host's packages against: for the Red Hat family
 * "<ID>:<major>" written to out (size bytes) and returned, NULL when the
 * VERSION_ID has no leading number; for others the codename (NULL when
 * empty). */
const char *advisory_release_key(const char *os_id, const char *version_id,
				 const char *codename, char *out, size_t size);

/* A digest of everything loaded (entries and their sources' dates, not the
 * EOL table), as 64 hex digits and a NUL: equal digests, equal verdicts.
 * 0 or -ENOMEM. */
int advisory_db_digest(const struct advisory_db *db, char ret[65]);

/* "critical", "high", "medium", "low" or "unknown", and back (unknown
 * words give ADVISORY_SEVERITY_UNKNOWN). */
const char *advisory_severity_name(enum advisory_severity s);
enum advisory_severity advisory_severity_parse(const char *s);

#endif
