/*
 * advisory.h - known vulnerabilities and release end-of-life dates, and the
 * matching of installed Debian source packages against them.
 *
 * Pure data: no SQL, no HTTP.  Two inputs fill one database:
 *
 *  - the advisories file shipped with the server (data/advisories.json,
 *    {"format": 1, "advisories": [...]}, described in that file), and
 *  - the Debian Security Tracker's JSON export
 *    (https://security-tracker.debian.org/tracker/data/json): an object
 *    keyed by source package, then by CVE id, each with "description",
 *    optional "scope" and "releases": {codename: {"status", "fixed_version",
 *    "urgency", "repositories"}}.
 *
 * EOL dates come from data/eol.json ({"format": 1, "releases": [...]}).
 *
 * Matching, given a release codename, a source package and its source
 * version (all as the agent reports them):
 *
 *  - where the advisory names the release, the package is vulnerable when
 *    its version sorts before the release's fixed version (dpkg ordering);
 *    "not-affected" (the tracker's fixed_version "0") never matches; a
 *    tracker entry with status "open" matches every version; "undetermined"
 *    matches nothing;
 *  - where the release is not named, the upstream fixed version decides:
 *    the upstream part of the installed version (without epoch and
 *    revision, see dpkgver_upstream()) is compared with it.  With several
 *    upstream fixed versions (one per upstream branch), the package is
 *    fixed when its upstream version is at least the fixed version of its
 *    own branch (same first two dot-separated components) or at least the
 *    highest one.  Tracker entries have no upstream version, so an
 *    unnamed release never matches them;
 *  - when the shipped file and the tracker both know a CVE for a package,
 *    the shipped file's entry alone is used.
 *
 * Every input is capped (ADVISORY_MAX_*); a database holds its strings in
 * one arena, so freeing it is cheap.  Functions return 0 or a negative
 * errno value and log nothing.
 */
#ifndef DERELICT_ADVISORY_H
#define DERELICT_ADVISORY_H

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
	ADVISORY_FIX_UNDETERMINED,	/* unknown; never matches */
};

enum advisory_origin {
	ADVISORY_ORIGIN_SHIPPED = 0,	/* data/advisories.json */
	ADVISORY_ORIGIN_TRACKER = 1,	/* Debian Security Tracker export */
};

/* Caps on what one database holds and on what one input may carry. */
#define ADVISORY_MAX_INPUT (512u * 1024 * 1024)
#define ADVISORY_MAX_ENTRIES 500000	/* (CVE, package) pairs */
#define ADVISORY_MAX_FIXES 8		/* releases per entry */
#define ADVISORY_MAX_UPSTREAM 8		/* upstream branches per entry */
#define ADVISORY_MAX_STRING 1024	/* longer summaries are cut */
#define ADVISORY_MAX_EOL 256

struct advisory_fix {
	const char *release;		/* codename, e.g. "buster" */
	enum advisory_fix_state state;
	const char *version;		/* set when state is ADVISORY_FIX_VERSION */
	enum advisory_severity urgency;	/* the tracker's, else UNKNOWN */
};

struct advisory {
	const char *cve;		/* also TEMP-… ids from the tracker */
	const char *source;		/* Debian source package */
	enum advisory_severity severity;
	enum advisory_scope scope;
	enum advisory_origin origin;
	const char *summary;		/* "" when none; at most MAX_STRING */
	const char *fixed_upstream[ADVISORY_MAX_UPSTREAM];
	size_t n_fixed_upstream;
	struct advisory_fix fixes[ADVISORY_MAX_FIXES];
	size_t n_fixes;
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
 * export (told apart by the shipped file's "format" member), into db.
 * Entries already in db stay.  0; -EINVAL on malformed JSON or an unknown
 * format (db then holds none of this input's entries); -E2BIG when the
 * input or the database would pass a cap; -ENOMEM.  Malformed entries
 * inside a well-formed document are skipped; *ret_skipped (if not NULL)
 * counts them.
 */
int advisory_db_load(struct advisory_db *db, const char *json, size_t len,
		     size_t *ret_skipped);

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
 * upstream versions decide).  Writes up to max pointers (owned by db,
 * valid until it is freed or loaded into again) to ret, sorted by CVE, and
 * returns how many apply, which may exceed max; -EINVAL when source or
 * source_version is NULL or the version is not a valid Debian version.
 */
int advisory_match(const struct advisory_db *db, const char *codename,
		   const char *source, const char *source_version,
		   const struct advisory **ret, size_t max);

/* Whether one advisory applies; 1, 0, or -EINVAL as above. */
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

/* "critical", "high", "medium", "low" or "unknown", and back (unknown
 * words give ADVISORY_SEVERITY_UNKNOWN). */
const char *advisory_severity_name(enum advisory_severity s);
enum advisory_severity advisory_severity_parse(const char *s);

#endif
