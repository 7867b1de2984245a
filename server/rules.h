/*
 * rules.h - signals, abandonment, mail detection and findings (SPEC §6).
 *
 * Pure functions over plain structs: no SQL, no HTTP, no I/O, no globals,
 * and the current time is always passed in, so every rule can be tested at
 * any date.  The store fills a struct rules_host from what it holds, calls
 * rules_evaluate(), and persists what comes back in struct rules_result:
 * findings are matched across evaluations by (host id, finding key).
 *
 * Ownership: every pointer in the input structs is borrowed for the length
 * of the call only; nothing is kept.  A struct rules_result owns all of its
 * memory (strings, arrays, json_t references) and is freed with
 * rules_result_free().
 *
 * Time thresholds: an age condition ("for longer than X") holds once
 * strictly more than X seconds have passed (now - t > X).  Dates (project
 * ends_on, OS end of life, acknowledgement expiry) are midnight UTC of that
 * day and the day itself still counts: a project that ends on 2025-03-31 has
 * ended from 2025-04-01T00:00:00Z on.
 */
#ifndef DERELICT_RULES_H
#define DERELICT_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Ordered: a larger value is worse.  Advisory severities 1-4 are the same
 * numbers (1 low ... 4 critical). */
enum rules_severity {
	RULES_SEV_INFO = 0,
	RULES_SEV_LOW = 1,
	RULES_SEV_MEDIUM = 2,
	RULES_SEV_HIGH = 3,
	RULES_SEV_CRITICAL = 4,
};
#define RULES_SEV_COUNT 5

enum rules_signal_kind {
	RULES_SIG_PROJECT_ENDED,	/* "project-ended" */
	RULES_SIG_UNOWNED,		/* "unowned" */
	RULES_SIG_IDLE,			/* "idle" */
	RULES_SIG_UNMAINTAINED,		/* "unmaintained" */
	RULES_SIG_SILENT,		/* "silent" */
	RULES_SIG_RETIRED,		/* "retired" */
	RULES_SIG_EOL_OS,		/* "eol-os" */
	RULES_SIG_MAIL_IDLE,		/* "mail-idle" */
	RULES_SIG_COUNT
};

enum rules_rule {
	RULES_RULE_ABANDONED_MAIL_SERVICE,	/* "abandoned-mail-service" */
	RULES_RULE_VULNERABLE_MTA,		/* "vulnerable-mta" */
	RULES_RULE_RETIRED_HOST_REPORTING,	/* "retired-host-reporting" */
	RULES_RULE_SILENT_HOST,			/* "silent-host" */
	RULES_RULE_PROJECT_ENDED,		/* "project-ended" */
	RULES_RULE_UNOWNED_HOST,		/* "unowned-host" */
	RULES_RULE_COLLECTOR_FAILING,		/* "collector-failing" */
	RULES_RULE_HOST_IDENTITY_CHANGED,	/* "host-identity-changed" */
	RULES_RULE_MAIL_QUEUE_BACKLOG,		/* "mail-queue-backlog" */
	RULES_RULE_OPEN_RELAY,			/* "open-relay" */
	RULES_RULE_COUNT
};

/* Names as the API and the database write them; NULL for a value out of
 * range.  The parsers answer the enum value, or -1 for an unknown name
 * (exact, lowercase match), so API filters can reject bad input. */
const char *rules_severity_name(enum rules_severity s);
int rules_severity_parse(const char *name);
const char *rules_signal_name(enum rules_signal_kind k);
int rules_signal_parse(const char *name);
const char *rules_rule_name(enum rules_rule r);
int rules_rule_parse(const char *name);

/* ---- configuration ---------------------------------------------------- */

struct rules_config {
	struct conf_ports smtp_ports;	/* n == 0: no port counts as SMTP */
	int64_t unowned_grace;		/* seconds; default 14d */
	int64_t idle_after;		/* default 30d */
	int64_t unmaintained_after;	/* default 90d */
	int64_t silent_after;		/* default 48h */
	/* collector-failing is low, then medium once a section has failed
	 * for longer than this; default 7d (no config key). */
	int64_t collector_failing_after;
	int64_t mail_idle_after;	/* default 90d */
	int64_t queue_backlog;		/* messages; default 1000 */
};

/* The SPEC defaults: ports 25, 465, 587, 2525; 14d, 30d, 90d, 48h; 90d
 * and 1000 for the mail activity.  A zeroed struct is NOT the defaults;
 * call this first, then override. */
void rules_config_defaults(struct rules_config *cfg);

/* ---- input: what the store knows about one host ------------------------ */

/* A listening or bound socket from the last report's "ports" section. */
struct rules_port {
	const char *proto;	/* "tcp", "tcp6", "udp", "udp6"; NULL = tcp */
	const char *address;	/* "0.0.0.0", "::", "127.0.0.1", "[::1]", "*" */
	int port;
	const char *process;	/* may be NULL (no owner visible) */
	const char *exe;	/* may be NULL */
};

/* A systemd unit from the "services" section. */
struct rules_service {
	const char *name;	/* "exim4.service" */
	const char *active;	/* "active", "inactive", "failed", ... */
	const char *sub;	/* "running", "exited", ...; may be NULL */
};

/* A process group from the "processes" section. */
struct rules_process {
	const char *name;
	const char *exe;	/* may be NULL: a name alone never means mail */
	const char *user;
};

/* An advisory that applies to an installed package (the caller decided
 * that, with server/advisory.h and dpkg version ordering). */
struct rules_vuln {
	const char *cve;		/* "CVE-2019-10149" */
	enum rules_severity severity;	/* 1-4; clamped to 0-4 */
	bool remote;
	const char *fixed_version;	/* the host release's fixed version;
					 * NULL when none is known */
	/* The evidence; every member may be NULL, 0 or false. */
	const char *advisory;		/* "DSA-5512-1" */
	const char *urgency;		/* the data's word: "high", … */
	const char *data_source;	/* "tracker", "shipped", a file */
	int64_t data_date;		/* the data's date */
	bool no_fix;			/* no fix yet in the host's release */
	const char *nodsa;		/* "no-dsa", "postponed", "ignored":
					 * Debian rates it minor; counted as
					 * low at most */
	bool unconfirmed;		/* no data for the host's release: the
					 * upstream version decided; never
					 * above high, never makes the host
					 * "vulnerable" */
};

/* An installed package.  The caller may pass every package or only the MTA
 * ones (rules_mta_of_package() tells them apart); non-MTA packages are
 * ignored.  Binary packages of one source (exim4-base, exim4-daemon-light)
 * are merged into one finding per source package. */
struct rules_package {
	const char *name;		/* "exim4-daemon-light" */
	const char *version;		/* "4.92-8+deb10u2" */
	const char *source;		/* "exim4"; NULL = same as name */
	const char *source_version;	/* NULL = same as version */
	const struct rules_vuln *vulns;
	size_t n_vulns;
};

/* A section the agent could not read: its collector failed, and the
 * store kept the section as it was last read. */
struct rules_collector_error {
	const char *section;	/* "ports" */
	const char *error;	/* the agent's reason; may be NULL */
	int64_t since;		/* when the section began to fail */
};

/* What one MTA's own files say of its traffic (a mail item's activity,
 * agent/mail_activity.h).  A part the agent did not send is unknown. */
struct rules_mail_activity {
	const char *mta;		/* "exim", "postfix"; NULL unknown */
	bool has_log;			/* the times below were read */
	int64_t last_delivered;		/* 0: none in what was read */
	int64_t last_received;		/* 0: none */
	int64_t log_since;		/* the oldest time read; 0 none */
	bool has_queue;			/* queue and frozen were read */
	int64_t queue;			/* messages waiting */
	int64_t frozen;			/* -1 unknown (Postfix has none) */
	/* The frozen count before it last changed, and when the store saw
	 * that change (a report's evaluation); -1 and 0 when it never did. */
	int64_t frozen_before;
	int64_t frozen_changed_at;
};

/* What the SMTP probe ([probe], server/probe.c) found at one of the host's
 * addresses and ports. */
struct rules_probe {
	const char *address;	/* "192.0.2.5" */
	int port;
	bool reachable;		/* the connection was accepted */
	int relay;		/* 1 took RCPT TO an outside domain, 0 refused,
				 * -1 not tested */
	const char *banner;	/* may be NULL */
	int64_t probed_at;
};

struct rules_host {
	int64_t id;
	const char *hostname;
	int64_t first_seen;		/* enrolment; 0 unknown */
	int64_t last_seen;		/* last report; 0 never reported */

	bool retired;
	int64_t retired_at;		/* 0 unknown */

	const char *project;		/* NULL or "" = none */
	int64_t project_ends_on;	/* midnight UTC of the date; 0 none */

	const char *os_id;		/* "debian" */
	const char *os_version_id;	/* "10" */
	const char *os_codename;	/* "buster" */
	int64_t os_eol;			/* midnight UTC of the EOL date; 0 unknown */

	int64_t last_login_at;		/* 0 = no interactive login recorded */
	const char *last_login_user;
	const char *last_login_from;	/* NULL or "" for a local login */

	int64_t packages_changed_at;	/* 0 unknown: "unmaintained" never holds */

	/* A re-enrollment of its agent id was first reported by a machine
	 * with another /etc/machine-id at this time (0 never).  The finding
	 * it raises is kept until acknowledged, one per change. */
	int64_t identity_changed_at;
	const char *machine_id;		/* now; may be NULL */
	const char *previous_machine_id;	/* before the change; may be NULL */

	const struct rules_port *ports;
	size_t n_ports;
	const struct rules_service *services;
	size_t n_services;
	const struct rules_process *processes;
	size_t n_processes;
	const struct rules_package *packages;
	size_t n_packages;
	const struct rules_collector_error *collector_errors;
	size_t n_collector_errors;
	const struct rules_mail_activity *mail_activity;
	size_t n_mail_activity;
	const struct rules_probe *probes;
	size_t n_probes;
};

/* ---- output ------------------------------------------------------------ */

struct rules_signal {
	enum rules_signal_kind kind;
	int64_t since;		/* the time the evidence refers to; 0 none */
	char *evidence;		/* one line, e.g. "no interactive login since
				 * 2024-10-02 (alice from 198.51.100.7)" */
	json_t *fields;		/* object, structured evidence: "project",
				 * "ends_on", "user", "from", "last_login",
				 * "first_seen", "changed_at", "last_seen",
				 * "retired_at", "os", "eol" as they apply */
};

/* A socket that makes the host a mail host. */
struct rules_mail_port {
	char proto[8];
	char address[64];
	int port;
	bool smtp;		/* on one of cfg->smtp_ports */
	bool public;		/* bound to a non-loopback address */
	const char *mta;	/* static MTA name of its owner, or NULL */
};

struct rules_mail {
	bool running;		/* an MTA runs or something listens on SMTP */
	/* A mail port (an SMTP port, or a TCP port an MTA executable owns)
	 * bound to a non-loopback address. */
	bool exposed;
	const char *mta;	/* static: "exim", "postfix", ...; NULL unknown */
	struct rules_mail_port *ports;	/* TCP listeners only */
	size_t n_ports;
};

struct rules_finding {
	enum rules_rule rule;
	enum rules_severity severity;
	/* Stable across evaluations of one host: the rule name, or for
	 * vulnerable-mta "vulnerable-mta:<source package>", for
	 * collector-failing "collector-failing:<section>". */
	char *key;
	char *summary;		/* one sentence that says why it exists */
	json_t *details;	/* object; e.g. "cves" for vulnerable-mta */
};

struct rules_result {
	bool abandoned;
	unsigned signal_mask;	/* 1u << enum rules_signal_kind */
	struct rules_signal *signals;	/* in enum order */
	size_t n_signals;
	struct rules_mail mail;
	struct rules_finding *findings;	/* in enum rules_rule order */
	size_t n_findings;
};

/*
 * Evaluates every rule for one host at time now.  On success returns 0 and
 * fills *ret, which the caller frees with rules_result_free().  On failure
 * returns -EINVAL (NULL argument) or -ENOMEM and leaves *ret untouched.
 *
 * Decisions beyond the SPEC's table:
 * - "retired" holds when the host is marked retired and its last report came
 *   after retired_at (with retired_at unknown: when it is not silent).  A
 *   retired host that stopped reporting is done: not abandoned, no findings.
 * - vulnerable-mta is raised for an installed MTA package with applicable
 *   advisories even when it does not run; the "exposed" raise applies only
 *   when that MTA runs (or the running MTA is unknown) and mail is exposed.
 * - abandoned-mail-service counts the MTA as vulnerable under the same
 *   condition.
 * - collector-failing is one finding per section that fails (low; medium
 *   past cfg->collector_failing_after), and the mail verdict is made from
 *   the ports, services and processes as last read.
 * - host-identity-changed (high) holds from identity_changed_at on, also
 *   for a retired host; it never clears by itself (an operator confirms
 *   the new machine by acknowledging it), and its key names the change's
 *   time, so a later change opens a new finding.
 * - mail-idle holds when every MTA whose log was read has carried nothing
 *   for longer than cfg->mail_idle_after: since its last message in or
 *   out, or, with none in what was read, since its log begins.  An MTA
 *   without a log read says nothing either way.
 * - mail-queue-backlog (one per host, for the worst MTA) holds while a
 *   queue holds more than cfg->queue_backlog messages, or while the
 *   frozen count is above what it was before it last changed; high,
 *   critical when mail is exposed.
 * - abandoned-mail-service names both in its sentence.
 * - open-relay (critical) is one finding per probed address and port that
 *   took RCPT TO an outside domain (key "open-relay:ADDRESS:PORT"); it
 *   holds while the last probe says so, even for an acknowledged host.
 */
int rules_evaluate(const struct rules_host *host,
		   const struct rules_config *cfg, int64_t now,
		   struct rules_result *ret);

/* Frees everything the result owns and zeroes it; accepts a zeroed or
 * already freed result and NULL. */
void rules_result_free(struct rules_result *res);

/* Only the mail part of rules_evaluate(), for lists that show "mail" without
 * the rest.  0 and *ret (free with rules_mail_free()), -EINVAL or -ENOMEM. */
int rules_mail_detect(const struct rules_host *host,
		      const struct rules_config *cfg, struct rules_mail *ret);
void rules_mail_free(struct rules_mail *mail);

/* Whether the result holds signal k. */
bool rules_has_signal(const struct rules_result *res,
		      enum rules_signal_kind k);

/* The host's status for lists and the "status=" filter: "retired" when an
 * operator marked it so, else "silent" when the "silent" signal holds,
 * else "active".  A static string. */
const char *rules_host_status(const struct rules_host *host,
			      const struct rules_config *cfg, int64_t now);

/* The worst severity among the result's findings; RULES_SEV_INFO when it
 * has none (so check n_findings before filtering hosts by severity). */
enum rules_severity rules_result_worst(const struct rules_result *res);

/* [{"signal": "idle", "since": "2024-10-02T08:00:00Z", "evidence": "...",
 *   ...fields}] - a new reference, or NULL on ENOMEM. */
json_t *rules_signals_json(const struct rules_result *res);

/* {"running": true, "exposed": true, "mta": "exim" | null,
 *  "ports": [{"proto": "tcp", "address": "0.0.0.0", "port": 25,
 *             "smtp": true, "public": true, "mta": "exim" | null}]}
 * - a new reference, or NULL on ENOMEM. */
json_t *rules_mail_json(const struct rules_mail *mail);

/* MTA name ("exim", "postfix", "sendmail", "opensmtpd", "courier",
 * "qmail", "msmtpd", "nullmailer", "dma") of an executable path, of a
 * systemd unit name, or of a package (by its source package, else its
 * name); NULL when it is not an MTA.  Static strings. */
const char *rules_mta_of_exe(const char *exe);
const char *rules_mta_of_unit(const char *unit);
const char *rules_mta_of_package(const char *name, const char *source);

/* Whether address is loopback: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104,
 * "localhost".  Wildcards ("0.0.0.0", "::", "*"), other addresses and
 * anything unparseable are not (they count as exposed). */
bool rules_address_is_loopback(const char *address);

/* Whether an acknowledgement still holds at now.  until is the expiry date
 * (midnight UTC; 0 = no expiry) and the day itself still counts.  An ack
 * also lapses when the finding got worse than it was when acknowledged
 * (current > acked); pass the same value twice to ignore that. */
bool rules_ack_in_force(int64_t until, enum rules_severity acked,
			enum rules_severity current, int64_t now);

#endif
