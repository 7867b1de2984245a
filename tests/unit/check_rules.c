/* check_rules.c - unit tests for server/rules.c at chosen dates. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"
#include "testutil.h"

#define DAY 86400

static int64_t T(const char *s)
{
	int64_t t;

	if (strlen(s) == 10)
		ck_assert_int_eq(date_parse(s, &t), 0);
	else
		ck_assert_int_eq(time_parse(s, &t), 0);
	return t;
}

/* The story of SPEC: a dev box for acme-portal, project over, Exim 4.92
 * listening on every address, nobody logging in. */
static struct rules_port ports[8];
static struct rules_service services[4];
static struct rules_process procs[4];
static struct rules_vuln exim_vulns[2];
static struct rules_package pkgs[4];
static struct rules_host host;
static struct rules_config cfg;
static struct rules_result res;
static int64_t now;

static void setup(void)
{
	memset(&res, 0, sizeof(res));
	rules_config_defaults(&cfg);
	now = T("2025-06-01T12:00:00Z");

	ports[0] = (struct rules_port){ "tcp", "0.0.0.0", 25, "exim4",
					"/usr/sbin/exim4" };
	ports[1] = (struct rules_port){ "tcp", "0.0.0.0", 22, "sshd",
					"/usr/sbin/sshd" };
	services[0] = (struct rules_service){ "exim4.service", "active",
					      "running" };
	services[1] = (struct rules_service){ "ssh.service", "active",
					      "running" };
	procs[0] = (struct rules_process){ "exim4", "/usr/sbin/exim4",
					   "Debian-exim" };
	procs[1] = (struct rules_process){ "sshd", "/usr/sbin/sshd", "root" };
	exim_vulns[0] = (struct rules_vuln){
		.cve = "CVE-2019-10149", .severity = RULES_SEV_CRITICAL,
		.remote = true, .fixed_version = "4.92-8+deb10u1"
	};
	exim_vulns[1] = (struct rules_vuln){
		.cve = "CVE-2019-15846", .severity = RULES_SEV_HIGH,
		.remote = true, .fixed_version = "4.92-8+deb10u3"
	};
	pkgs[0] = (struct rules_package){ "exim4-daemon-light",
					  "4.92-8+deb10u2", "exim4",
					  "4.92-8+deb10u2", exim_vulns, 2 };
	pkgs[1] = (struct rules_package){ "openssh-server", "1:7.9p1-10",
					  "openssh", "1:7.9p1-10", NULL, 0 };

	memset(&host, 0, sizeof(host));
	host.id = 17;
	host.hostname = "dev-portal-03";
	host.first_seen = T("2024-01-10T08:00:00Z");
	host.last_seen = now - 3600;
	host.project = "acme-portal";
	host.project_ends_on = T("2025-03-31");
	host.os_id = "debian";
	host.os_version_id = "10";
	host.os_codename = "buster";
	host.os_eol = T("2024-06-30");
	host.last_login_at = T("2024-10-02T09:15:00Z");
	host.last_login_user = "alice";
	host.last_login_from = "198.51.100.7";
	host.packages_changed_at = T("2024-09-01T06:00:00Z");
	host.ports = ports;
	host.n_ports = 2;
	host.services = services;
	host.n_services = 2;
	host.processes = procs;
	host.n_processes = 2;
	host.packages = pkgs;
	host.n_packages = 2;
}

static void teardown(void)
{
	rules_result_free(&res);
}

/* Evaluates the fixture host at t, replacing the last result. */
static void eval_at(int64_t t)
{
	rules_result_free(&res);
	ck_assert_int_eq(rules_evaluate(&host, &cfg, t, &res), 0);
}

static void eval(void)
{
	eval_at(now);
}

static const struct rules_finding *finding(enum rules_rule r)
{
	for (size_t i = 0; i < res.n_findings; i++)
		if (res.findings[i].rule == r)
			return &res.findings[i];
	return NULL;
}

static const struct rules_signal *signal_of(enum rules_signal_kind k)
{
	for (size_t i = 0; i < res.n_signals; i++)
		if (res.signals[i].kind == k)
			return &res.signals[i];
	return NULL;
}

static bool has(enum rules_signal_kind k)
{
	return rules_has_signal(&res, k);
}

/* A host with no mail, no project problem: only what a test adds. */
static void quiet_host(void)
{
	host.project = "acme-portal";
	host.project_ends_on = 0;
	host.os_eol = 0;
	host.last_login_at = now - DAY;
	host.packages_changed_at = now - DAY;
	host.n_ports = 0;
	host.n_services = 0;
	host.n_processes = 0;
	host.n_packages = 0;
}

static void only_port(const char *proto, const char *addr, int port,
		      const char *exe)
{
	quiet_host();
	ports[0] = (struct rules_port){ proto, addr, port, "x", exe };
	host.n_ports = 1;
}

/* ---- names ---------------------------------------------------------- */

START_TEST(test_severity_names)
{
	ck_assert_str_eq(rules_severity_name(RULES_SEV_CRITICAL), "critical");
	ck_assert_str_eq(rules_severity_name(RULES_SEV_INFO), "info");
	for (int s = 0; s < RULES_SEV_COUNT; s++)
		ck_assert_int_eq(rules_severity_parse(rules_severity_name(s)), s);
	ck_assert_int_eq(rules_severity_parse("CRITICAL"), -1);
	ck_assert_int_eq(rules_severity_parse("severe"), -1);
	ck_assert_int_eq(rules_severity_parse(NULL), -1);
	ck_assert_ptr_null(rules_severity_name(9));
	ck_assert_int_gt(RULES_SEV_CRITICAL, RULES_SEV_HIGH);
	ck_assert_int_gt(RULES_SEV_LOW, RULES_SEV_INFO);
}
END_TEST

START_TEST(test_signal_and_rule_names)
{
	ck_assert_str_eq(rules_signal_name(RULES_SIG_EOL_OS), "eol-os");
	ck_assert_str_eq(rules_signal_name(RULES_SIG_PROJECT_ENDED),
			 "project-ended");
	for (int k = 0; k < RULES_SIG_COUNT; k++)
		ck_assert_int_eq(rules_signal_parse(rules_signal_name(k)), k);
	ck_assert_int_eq(rules_signal_parse("abandoned"), -1);
	ck_assert_str_eq(rules_rule_name(RULES_RULE_ABANDONED_MAIL_SERVICE),
			 "abandoned-mail-service");
	ck_assert_str_eq(rules_rule_name(RULES_RULE_UNOWNED_HOST),
			 "unowned-host");
	for (int r = 0; r < RULES_RULE_COUNT; r++)
		ck_assert_int_eq(rules_rule_parse(rules_rule_name(r)), r);
	ck_assert_int_eq(rules_rule_parse("unowned"), -1);
	ck_assert_ptr_null(rules_rule_name(RULES_RULE_COUNT));
}
END_TEST

START_TEST(test_config_defaults)
{
	ck_assert_int_eq(cfg.smtp_ports.n, 4);
	ck_assert_int_eq(cfg.smtp_ports.port[0], 25);
	ck_assert_int_eq(cfg.smtp_ports.port[1], 465);
	ck_assert_int_eq(cfg.smtp_ports.port[2], 587);
	ck_assert_int_eq(cfg.smtp_ports.port[3], 2525);
	ck_assert_int_eq(cfg.unowned_grace, 14 * DAY);
	ck_assert_int_eq(cfg.idle_after, 30 * DAY);
	ck_assert_int_eq(cfg.unmaintained_after, 90 * DAY);
	ck_assert_int_eq(cfg.silent_after, 48 * 3600);
}
END_TEST

START_TEST(test_bad_arguments)
{
	ck_assert_int_eq(rules_evaluate(NULL, &cfg, now, &res), -EINVAL);
	ck_assert_int_eq(rules_evaluate(&host, NULL, now, &res), -EINVAL);
	ck_assert_int_eq(rules_evaluate(&host, &cfg, now, NULL), -EINVAL);
	rules_result_free(NULL);
	rules_result_free(&res);
	rules_result_free(&res);
}
END_TEST

/* ---- signals at their thresholds ------------------------------------ */

START_TEST(test_project_ended_threshold)
{
	int64_t end = T("2025-03-31");

	quiet_host();
	host.project_ends_on = end;
	eval_at(end + 12 * 3600);		/* during the last day */
	ck_assert(!has(RULES_SIG_PROJECT_ENDED));
	eval_at(end + DAY - 1);
	ck_assert(!has(RULES_SIG_PROJECT_ENDED));
	eval_at(end + DAY);
	ck_assert(has(RULES_SIG_PROJECT_ENDED));
	ck_assert_str_eq(signal_of(RULES_SIG_PROJECT_ENDED)->evidence,
			 "project acme-portal ended 2025-03-31");
	ck_assert_int_eq(signal_of(RULES_SIG_PROJECT_ENDED)->since, end);
}
END_TEST

START_TEST(test_project_end_in_future)
{
	host.project_ends_on = T("2025-12-31");
	eval();
	ck_assert(!has(RULES_SIG_PROJECT_ENDED));
	ck_assert_ptr_null(finding(RULES_RULE_PROJECT_ENDED));
	/* Still unowned/idle/unmaintained would be needed; project is set. */
	ck_assert(!res.abandoned);
	ck_assert_ptr_null(finding(RULES_RULE_ABANDONED_MAIL_SERVICE));
}
END_TEST

START_TEST(test_project_without_end)
{
	host.project_ends_on = 0;
	eval();
	ck_assert(!has(RULES_SIG_PROJECT_ENDED));
	host.project = NULL;
	host.project_ends_on = T("2025-01-01");
	eval();
	ck_assert(!has(RULES_SIG_PROJECT_ENDED));
}
END_TEST

START_TEST(test_unowned_threshold)
{
	quiet_host();
	host.project = NULL;
	eval_at(host.first_seen + cfg.unowned_grace);
	ck_assert(!has(RULES_SIG_UNOWNED));
	eval_at(host.first_seen + cfg.unowned_grace + 1);
	ck_assert(has(RULES_SIG_UNOWNED));
	ck_assert_str_eq(signal_of(RULES_SIG_UNOWNED)->evidence,
			 "in no project since first seen 2024-01-10");
	host.project = "";
	eval_at(now);
	ck_assert(has(RULES_SIG_UNOWNED));
	host.project = "acme-portal";
	eval_at(now);
	ck_assert(!has(RULES_SIG_UNOWNED));
}
END_TEST

START_TEST(test_idle_threshold)
{
	int64_t login = host.last_login_at;

	eval_at(login + cfg.idle_after);
	ck_assert(!has(RULES_SIG_IDLE));
	eval_at(login + cfg.idle_after + 1);
	ck_assert(has(RULES_SIG_IDLE));
	ck_assert_str_eq(signal_of(RULES_SIG_IDLE)->evidence,
			 "no interactive login since 2024-10-02 (alice from "
			 "198.51.100.7)");
	ck_assert_int_eq(signal_of(RULES_SIG_IDLE)->since, login);
}
END_TEST

START_TEST(test_idle_without_any_login)
{
	host.last_login_at = 0;
	host.last_login_user = NULL;
	eval_at(host.first_seen + 60);
	ck_assert(has(RULES_SIG_IDLE));
	ck_assert_str_eq(signal_of(RULES_SIG_IDLE)->evidence,
			 "no interactive login recorded");
}
END_TEST

START_TEST(test_idle_local_login)
{
	host.last_login_from = "";
	eval();
	ck_assert_str_eq(signal_of(RULES_SIG_IDLE)->evidence,
			 "no interactive login since 2024-10-02 (alice)");
}
END_TEST

START_TEST(test_unmaintained_threshold)
{
	int64_t c = host.packages_changed_at;

	eval_at(c + cfg.unmaintained_after);
	ck_assert(!has(RULES_SIG_UNMAINTAINED));
	eval_at(c + cfg.unmaintained_after + 1);
	ck_assert(has(RULES_SIG_UNMAINTAINED));
	ck_assert_str_eq(signal_of(RULES_SIG_UNMAINTAINED)->evidence,
			 "package database unchanged since 2024-09-01");
	host.packages_changed_at = 0;	/* unknown is no evidence */
	eval_at(now);
	ck_assert(!has(RULES_SIG_UNMAINTAINED));
}
END_TEST

START_TEST(test_silent_threshold)
{
	host.last_seen = now - cfg.silent_after;
	eval();
	ck_assert(!has(RULES_SIG_SILENT));
	host.last_seen = now - cfg.silent_after - 1;
	eval();
	ck_assert(has(RULES_SIG_SILENT));
	ck_assert_str_eq(signal_of(RULES_SIG_SILENT)->evidence,
			 "no report since 2025-05-30T11:59:59Z");
}
END_TEST

START_TEST(test_silent_never_reported)
{
	host.last_seen = 0;
	eval_at(host.first_seen + cfg.silent_after + 1);
	ck_assert(has(RULES_SIG_SILENT));
	ck_assert_int_eq(signal_of(RULES_SIG_SILENT)->since, host.first_seen);
	eval_at(host.first_seen + 60);
	ck_assert(!has(RULES_SIG_SILENT));
}
END_TEST

START_TEST(test_retired_signal)
{
	quiet_host();
	host.retired = true;
	host.retired_at = now - 10 * DAY;
	host.last_seen = host.retired_at;	/* last report at retirement */
	eval();
	ck_assert(!has(RULES_SIG_RETIRED));
	host.last_seen = host.retired_at + 1;
	eval();
	ck_assert(has(RULES_SIG_RETIRED));
	ck_assert_ptr_nonnull(strstr(signal_of(RULES_SIG_RETIRED)->evidence,
				     "marked retired on 2025-05-22"));
	host.retired = false;
	eval();
	ck_assert(!has(RULES_SIG_RETIRED));
}
END_TEST

START_TEST(test_retired_without_date)
{
	quiet_host();
	host.retired = true;
	host.retired_at = 0;
	eval();
	ck_assert(has(RULES_SIG_RETIRED));	/* reported an hour ago */
	host.last_seen = now - 10 * DAY;
	eval();
	ck_assert(!has(RULES_SIG_RETIRED));
}
END_TEST

START_TEST(test_eol_threshold)
{
	int64_t eol = T("2024-06-30");

	eval_at(eol + DAY - 1);
	ck_assert(!has(RULES_SIG_EOL_OS));
	eval_at(eol + DAY);
	ck_assert(has(RULES_SIG_EOL_OS));
	ck_assert_str_eq(signal_of(RULES_SIG_EOL_OS)->evidence,
			 "debian 10 (buster) reached end of life on 2024-06-30");
	host.os_eol = 0;
	eval_at(now);
	ck_assert(!has(RULES_SIG_EOL_OS));
}
END_TEST

START_TEST(test_signals_json)
{
	json_t *a, *o;
	size_t i;
	bool seen_idle = false;

	eval();
	a = rules_signals_json(&res);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(json_array_size(a), res.n_signals);
	json_array_foreach(a, i, o) {
		ck_assert(json_is_string(json_object_get(o, "signal")));
		ck_assert(json_is_string(json_object_get(o, "evidence")));
		if (strcmp(json_string_value(json_object_get(o, "signal")),
			   "idle") == 0) {
			seen_idle = true;
			ck_assert_str_eq(
				json_string_value(json_object_get(o, "since")),
				"2024-10-02T09:15:00Z");
			ck_assert_str_eq(
				json_string_value(json_object_get(o, "user")),
				"alice");
			ck_assert_str_eq(
				json_string_value(json_object_get(o, "from")),
				"198.51.100.7");
		}
	}
	ck_assert(seen_idle);
	json_decref(a);
}
END_TEST

START_TEST(test_signal_order_and_mask)
{
	eval();
	for (size_t i = 1; i < res.n_signals; i++)
		ck_assert_int_lt(res.signals[i - 1].kind, res.signals[i].kind);
	for (int k = 0; k < RULES_SIG_COUNT; k++)
		ck_assert_int_eq(has(k), signal_of(k) != NULL);
}
END_TEST

/* ---- abandonment ---------------------------------------------------- */

START_TEST(test_abandoned_by_project_end)
{
	quiet_host();
	host.project_ends_on = T("2025-03-31");
	eval();
	ck_assert(res.abandoned);
	host.project_ends_on = T("2025-06-01");	/* today: not yet */
	eval();
	ck_assert(!res.abandoned);
}
END_TEST

START_TEST(test_abandoned_by_retirement)
{
	quiet_host();
	host.retired = true;
	host.retired_at = now - DAY;
	eval();
	ck_assert(res.abandoned);
}
END_TEST

START_TEST(test_abandoned_by_three_signals)
{
	quiet_host();
	host.project = NULL;
	host.last_login_at = now - 31 * DAY;
	host.packages_changed_at = now - 91 * DAY;
	eval();
	ck_assert(has(RULES_SIG_UNOWNED) && has(RULES_SIG_IDLE) &&
		  has(RULES_SIG_UNMAINTAINED));
	ck_assert(res.abandoned);
}
END_TEST

START_TEST(test_not_abandoned_by_two_of_three)
{
	for (int miss = 0; miss < 3; miss++) {
		teardown();
		setup();
		quiet_host();
		host.project = miss == 0 ? "acme-portal" : NULL;
		host.last_login_at = miss == 1 ? now - DAY : now - 31 * DAY;
		host.packages_changed_at = miss == 2 ? now - DAY :
						       now - 91 * DAY;
		eval();
		ck_assert_msg(!res.abandoned, "abandoned without signal %d",
			      miss);
	}
}
END_TEST

START_TEST(test_not_abandoned_by_eol_or_silence)
{
	quiet_host();
	host.os_eol = T("2020-01-01");
	host.last_seen = now - 30 * DAY;
	eval();
	ck_assert(has(RULES_SIG_EOL_OS) && has(RULES_SIG_SILENT));
	ck_assert(!res.abandoned);
}
END_TEST

START_TEST(test_retired_and_quiet_is_done)
{
	/* Retired, last report before the retirement: switched off as
	 * intended, even though the project ended and Exim was exposed. */
	host.retired = true;
	host.retired_at = now - 5 * DAY;
	host.last_seen = now - 6 * DAY;
	eval();
	ck_assert(!has(RULES_SIG_RETIRED));
	ck_assert(has(RULES_SIG_PROJECT_ENDED));
	ck_assert(!res.abandoned);
	ck_assert_int_eq(res.n_findings, 0);
}
END_TEST

/* ---- the SMTP probe -------------------------------------------------- */

START_TEST(test_open_relay)
{
	struct rules_probe probes[2] = {
		{ .address = "192.0.2.5", .port = 25, .reachable = true,
		  .relay = 0, .banner = "220 mx ESMTP Exim 4.92",
		  .probed_at = T("2025-03-01T10:00:00Z") },
		{ .address = "192.0.2.5", .port = 587, .reachable = true,
		  .relay = -1, .probed_at = T("2025-03-01T10:00:00Z") },
	};
	const struct rules_finding *f;

	quiet_host();
	host.probes = probes;
	host.n_probes = 2;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_OPEN_RELAY));

	probes[0].relay = 1;
	eval();
	f = finding(RULES_RULE_OPEN_RELAY);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_CRITICAL);
	ck_assert_str_eq(f->key, "open-relay:192.0.2.5:25");
	ck_assert_str_eq(rules_rule_name(f->rule), "open-relay");
	ck_assert_str_eq(f->summary,
			 "The SMTP server at 192.0.2.5:25 accepted a recipient "
			 "in an outside domain from derelictd's probe at "
			 "2025-03-01T10:00:00Z: it relays mail for anyone.");
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "banner")),
			 "220 mx ESMTP Exim 4.92");
	host.probes = NULL;
	host.n_probes = 0;
}
END_TEST

/* ---- identity ------------------------------------------------------- */

START_TEST(test_host_identity_changed)
{
	const struct rules_finding *f;
	char *first_key;

	quiet_host();
	host.machine_id = "b1946ac92492d2347c6235b4d2611184";
	host.previous_machine_id = "0f343b0931126a20f133d67c2b018a3b";
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_HOST_IDENTITY_CHANGED));

	host.identity_changed_at = T("2025-03-01T10:00:00Z");
	eval();
	f = finding(RULES_RULE_HOST_IDENTITY_CHANGED);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_str_eq(rules_rule_name(f->rule), "host-identity-changed");
	ck_assert_str_eq(f->summary,
			 "Another machine took over this host's agent id at "
			 "2025-03-01T10:00:00Z (machine-id "
			 "b1946ac92492d2347c6235b4d2611184, was "
			 "0f343b0931126a20f133d67c2b018a3b); the previous "
			 "inventory is kept as history.");
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "previous_machine_id")),
			 "0f343b0931126a20f133d67c2b018a3b");
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "changed_at")),
			 "2025-03-01T10:00:00Z");
	first_key = strdup(f->key);

	/* It does not clear by itself, not a year later, nor once the
	 * host is retired and quiet. */
	eval_at(now + 365 * DAY);
	ck_assert_ptr_nonnull(finding(RULES_RULE_HOST_IDENTITY_CHANGED));
	host.retired = true;
	host.retired_at = now - 5 * DAY;
	host.last_seen = now - 6 * DAY;
	eval();
	ck_assert_ptr_nonnull(finding(RULES_RULE_HOST_IDENTITY_CHANGED));

	/* A later change is a finding of its own. */
	host.identity_changed_at = T("2025-04-01T10:00:00Z");
	host.machine_id = NULL;
	eval();
	f = finding(RULES_RULE_HOST_IDENTITY_CHANGED);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_ne(f->key, first_key);
	ck_assert_ptr_nonnull(strstr(f->summary, "(machine-id unknown, was"));
	free(first_key);
}
END_TEST

/* ---- mail detection ------------------------------------------------- */

START_TEST(test_mail_generic_name_is_not_mail)
{
	quiet_host();
	procs[0] = (struct rules_process){ "master", "/usr/bin/foo", "root" };
	procs[1] = (struct rules_process){ "smtpd", NULL, "root" };
	host.n_processes = 2;
	eval();
	ck_assert(!res.mail.running);
	ck_assert_ptr_null(res.mail.mta);
}
END_TEST

START_TEST(test_mail_postfix_master_by_exe)
{
	quiet_host();
	procs[0] = (struct rules_process){ "master",
					   "/usr/lib/postfix/sbin/master",
					   "root" };
	host.n_processes = 1;
	eval();
	ck_assert(res.mail.running);
	ck_assert(!res.mail.exposed);
	ck_assert_str_eq(res.mail.mta, "postfix");
	ck_assert_int_eq(res.mail.n_ports, 0);
}
END_TEST

START_TEST(test_mail_smtpd_postfix_vs_opensmtpd)
{
	ck_assert_str_eq(rules_mta_of_exe("/usr/lib/postfix/sbin/smtpd"),
			 "postfix");
	ck_assert_str_eq(rules_mta_of_exe("/usr/libexec/postfix/qmgr"),
			 "postfix");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/smtpd"), "opensmtpd");
	ck_assert_ptr_null(rules_mta_of_exe("/opt/foo/bin/smtpd"));
	ck_assert_ptr_null(rules_mta_of_exe("/usr/bin/master"));
	ck_assert_ptr_null(rules_mta_of_exe("smtpd"));
	ck_assert_ptr_null(rules_mta_of_exe(NULL));
}
END_TEST

START_TEST(test_mail_exe_table)
{
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/exim4"), "exim");
	ck_assert_str_eq(rules_mta_of_exe("/usr/local/sbin/exim"), "exim");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/exim4 (deleted)"), "exim");
	ck_assert_str_eq(rules_mta_of_exe("/usr/lib/sm.bin/sendmail"),
			 "sendmail");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/sendmail-mta"),
			 "sendmail");
	/* Every MTA ships /usr/sbin/sendmail as a client command. */
	ck_assert_ptr_null(rules_mta_of_exe("/usr/sbin/sendmail"));
	ck_assert_str_eq(rules_mta_of_exe("/usr/lib/courier/courier/courierd"),
			 "courier");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/courieresmtpd"),
			 "courier");
	ck_assert_str_eq(rules_mta_of_exe("/var/qmail/bin/qmail-send"),
			 "qmail");
	ck_assert_str_eq(rules_mta_of_exe("/usr/bin/msmtpd"), "msmtpd");
	ck_assert_str_eq(rules_mta_of_exe("/usr/sbin/nullmailer-send"),
			 "nullmailer");
	ck_assert_ptr_null(rules_mta_of_exe("/usr/sbin/sshd"));
}
END_TEST

START_TEST(test_mail_by_unit)
{
	ck_assert_str_eq(rules_mta_of_unit("postfix@-.service"), "postfix");
	ck_assert_str_eq(rules_mta_of_unit("exim4.service"), "exim");
	ck_assert_str_eq(rules_mta_of_unit("opensmtpd.service"), "opensmtpd");
	ck_assert_ptr_null(rules_mta_of_unit("postfix@-.socket"));
	ck_assert_ptr_null(rules_mta_of_unit("ssh.service"));

	quiet_host();
	services[0] = (struct rules_service){ "postfix@-.service", "active",
					      "running" };
	host.n_services = 1;
	eval();
	ck_assert(res.mail.running);
	ck_assert_str_eq(res.mail.mta, "postfix");

	services[0].active = "failed";
	eval();
	ck_assert(!res.mail.running);
	services[0].active = "inactive";
	eval();
	ck_assert(!res.mail.running);
}
END_TEST

START_TEST(test_mail_by_port_unknown_owner)
{
	only_port("tcp", "0.0.0.0", 587, NULL);
	ports[0].process = "master";
	eval();
	ck_assert(res.mail.running);
	ck_assert(res.mail.exposed);
	ck_assert_ptr_null(res.mail.mta);
	ck_assert_int_eq(res.mail.n_ports, 1);
	ck_assert_int_eq(res.mail.ports[0].port, 587);
}
END_TEST

START_TEST(test_mail_udp_is_not_smtp)
{
	only_port("udp", "0.0.0.0", 25, NULL);
	eval();
	ck_assert(!res.mail.running);
	ck_assert_int_eq(res.mail.n_ports, 0);
}
END_TEST

START_TEST(test_loopback_addresses)
{
	static const char *const lo[] = { "127.0.0.1", "127.0.0.53",
					  "127.1.2.3", "::1", "[::1]",
					  "::ffff:127.0.0.1", "127.0.0.53%lo",
					  "localhost" };
	static const char *const pub[] = { "0.0.0.0", "::", "*", "10.0.0.5",
					   "192.0.2.1", "[::]",
					   "::ffff:10.0.0.1", "fe80::1%eth0",
					   "2001:db8::1", "128.0.0.1", "garbage",
					   "" };

	for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++)
		ck_assert_msg(rules_address_is_loopback(lo[i]), "%s", lo[i]);
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		ck_assert_msg(!rules_address_is_loopback(pub[i]), "%s", pub[i]);
	ck_assert(!rules_address_is_loopback(NULL));
}
END_TEST

START_TEST(test_exposure_by_address)
{
	static const struct {
		const char *proto, *addr;
		bool exposed;
	} cases[] = {
		{ "tcp", "0.0.0.0", true },   { "tcp6", "::", true },
		{ "tcp", "10.1.2.3", true },  { "tcp", "127.0.0.1", false },
		{ "tcp", "127.0.0.53", false }, { "tcp6", "::1", false },
		{ "tcp6", "::ffff:127.0.0.1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		only_port(cases[i].proto, cases[i].addr, 25, "/usr/sbin/exim4");
		eval();
		ck_assert_msg(res.mail.running, "%s", cases[i].addr);
		ck_assert_msg(res.mail.exposed == cases[i].exposed, "%s",
			      cases[i].addr);
		ck_assert_str_eq(res.mail.mta, "exim");
	}
}
END_TEST

START_TEST(test_custom_smtp_ports)
{
	cfg.smtp_ports.n = 1;
	cfg.smtp_ports.port[0] = 2526;
	only_port("tcp", "0.0.0.0", 2526, NULL);
	eval();
	ck_assert(res.mail.running && res.mail.exposed);
	only_port("tcp", "0.0.0.0", 25, NULL);	/* 25 no longer SMTP */
	eval();
	ck_assert(!res.mail.running);
}
END_TEST

START_TEST(test_mta_owned_other_port)
{
	/* Exim on a public non-SMTP port is still an exposed mail service. */
	only_port("tcp", "0.0.0.0", 10025, "/usr/sbin/exim4");
	eval();
	ck_assert(res.mail.running && res.mail.exposed);
	ck_assert(!res.mail.ports[0].smtp);
	/* And an unrelated daemon on a public non-SMTP port is nothing. */
	only_port("tcp", "0.0.0.0", 10025, "/usr/bin/foo");
	eval();
	ck_assert(!res.mail.running);
}
END_TEST

START_TEST(test_mail_json)
{
	json_t *m;

	eval();
	m = rules_mail_json(&res.mail);
	ck_assert_ptr_nonnull(m);
	ck_assert(json_is_true(json_object_get(m, "running")));
	ck_assert(json_is_true(json_object_get(m, "exposed")));
	ck_assert_str_eq(json_string_value(json_object_get(m, "mta")), "exim");
	ck_assert_int_eq(json_array_size(json_object_get(m, "ports")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_array_get(json_object_get(m, "ports"), 0),
				 "port")),
			 25);
	json_decref(m);

	quiet_host();
	eval();
	m = rules_mail_json(&res.mail);
	ck_assert(json_is_false(json_object_get(m, "running")));
	ck_assert(json_is_null(json_object_get(m, "mta")));
	ck_assert_int_eq(json_array_size(json_object_get(m, "ports")), 0);
	json_decref(m);
}
END_TEST

START_TEST(test_mail_detect_alone)
{
	struct rules_mail m;

	ck_assert_int_eq(rules_mail_detect(&host, &cfg, &m), 0);
	ck_assert(m.running && m.exposed);
	ck_assert_str_eq(m.mta, "exim");
	rules_mail_free(&m);
	rules_mail_free(&m);
	ck_assert_int_eq(rules_mail_detect(NULL, &cfg, &m), -EINVAL);
}
END_TEST

START_TEST(test_mta_of_package)
{
	ck_assert_str_eq(rules_mta_of_package("exim4-daemon-light", "exim4"),
			 "exim");
	ck_assert_str_eq(rules_mta_of_package("postfix", NULL), "postfix");
	ck_assert_str_eq(rules_mta_of_package("sendmail-bin", "sendmail"),
			 "sendmail");
	ck_assert_str_eq(rules_mta_of_package("opensmtpd", ""), "opensmtpd");
	ck_assert_ptr_null(rules_mta_of_package("openssl", "openssl"));
	ck_assert_ptr_null(rules_mta_of_package("libexim-dev", "libfoo"));
}
END_TEST

/* ---- findings ------------------------------------------------------- */

START_TEST(test_ended_project_exposed_exim_is_critical)
{
	const struct rules_finding *f;

	eval();
	ck_assert(res.abandoned);
	f = finding(RULES_RULE_ABANDONED_MAIL_SERVICE);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_CRITICAL);
	ck_assert_str_eq(f->key, "abandoned-mail-service");
	ck_assert_ptr_nonnull(strstr(f->summary, "exim4 4.92-8+deb10u2"));
	ck_assert_ptr_nonnull(strstr(f->summary, "0.0.0.0:25"));
	ck_assert_ptr_nonnull(strstr(f->summary, "2025-03-31"));
	ck_assert_ptr_nonnull(strstr(f->summary, "acme-portal"));
	ck_assert_ptr_nonnull(strstr(f->summary, "2024-10-02"));
	ck_assert_ptr_nonnull(strstr(f->summary, "CVE-2019-10149"));
	ck_assert_ptr_null(strchr(f->summary, '\n'));
	ck_assert_int_eq(f->summary[strlen(f->summary) - 1], '.');
	ck_assert(json_is_true(json_object_get(f->details, "exposed")));
	ck_assert(json_is_true(json_object_get(f->details, "vulnerable")));
}
END_TEST

START_TEST(test_abandoned_mail_exact_summary_patched)
{
	const struct rules_finding *f;

	pkgs[0].n_vulns = 0;
	pkgs[0].version = pkgs[0].source_version = "4.92-8+deb10u6";
	host.packages_changed_at = now - DAY;
	eval();
	f = finding(RULES_RULE_ABANDONED_MAIL_SERVICE);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->summary,
			 "exim4 4.92-8+deb10u6 listens on 0.0.0.0:25; project "
			 "acme-portal ended 2025-03-31; nobody logged in since "
			 "2024-10-02.");
}
END_TEST

START_TEST(test_loopback_only_is_high)
{
	const struct rules_finding *f;

	ports[0].address = "127.0.0.1";
	pkgs[0].n_vulns = 0;
	eval();
	ck_assert(res.mail.running && !res.mail.exposed);
	f = finding(RULES_RULE_ABANDONED_MAIL_SERVICE);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_ptr_nonnull(strstr(f->summary, "127.0.0.1:25"));
	ck_assert_ptr_nonnull(strstr(f->summary, "loopback only"));
}
END_TEST

START_TEST(test_loopback_but_vulnerable_is_critical)
{
	ports[0].address = "127.0.0.1";
	eval();
	ck_assert_int_eq(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->severity,
			 RULES_SEV_CRITICAL);
}
END_TEST

START_TEST(test_patched_clears_vulnerable_not_abandonment)
{
	pkgs[0].n_vulns = 0;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_VULNERABLE_MTA));
	ck_assert_ptr_nonnull(finding(RULES_RULE_ABANDONED_MAIL_SERVICE));
	/* Still critical: exposed. */
	ck_assert_int_eq(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->severity,
			 RULES_SEV_CRITICAL);
}
END_TEST

START_TEST(test_vulnerable_mta_raised_when_exposed)
{
	static const struct {
		enum rules_severity adv;
		const char *addr;
		enum rules_severity want;
	} cases[] = {
		{ RULES_SEV_HIGH, "0.0.0.0", RULES_SEV_CRITICAL },
		{ RULES_SEV_HIGH, "127.0.0.1", RULES_SEV_HIGH },
		{ RULES_SEV_MEDIUM, "::", RULES_SEV_HIGH },
		{ RULES_SEV_MEDIUM, "::1", RULES_SEV_MEDIUM },
		{ RULES_SEV_LOW, "10.0.0.5", RULES_SEV_MEDIUM },
		{ RULES_SEV_CRITICAL, "0.0.0.0", RULES_SEV_CRITICAL },
		{ RULES_SEV_CRITICAL, "127.0.0.1", RULES_SEV_CRITICAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exim_vulns[0].severity = cases[i].adv;
		pkgs[0].n_vulns = 1;
		ports[0].address = cases[i].addr;
		eval();
		ck_assert_ptr_nonnull(finding(RULES_RULE_VULNERABLE_MTA));
		ck_assert_msg(finding(RULES_RULE_VULNERABLE_MTA)->severity ==
				      cases[i].want,
			      "case %zu: got %d", i,
			      finding(RULES_RULE_VULNERABLE_MTA)->severity);
	}
}
END_TEST

START_TEST(test_vulnerable_mta_worst_advisory)
{
	exim_vulns[0].severity = RULES_SEV_LOW;
	exim_vulns[1].severity = RULES_SEV_HIGH;
	ports[0].address = "127.0.0.1";
	eval();
	ck_assert_int_eq(finding(RULES_RULE_VULNERABLE_MTA)->severity,
			 RULES_SEV_HIGH);
}
END_TEST

START_TEST(test_vulnerable_mta_details)
{
	const struct rules_finding *f;
	json_t *cves;

	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->key, "vulnerable-mta:exim4");
	cves = json_object_get(f->details, "cves");
	ck_assert_int_eq(json_array_size(cves), 2);
	ck_assert_str_eq(json_string_value(json_array_get(cves, 0)),
			 "CVE-2019-10149");
	ck_assert_str_eq(json_string_value(json_array_get(cves, 1)),
			 "CVE-2019-15846");
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "version")),
			 "4.92-8+deb10u2");
	ck_assert_ptr_nonnull(strstr(f->summary, "CVE-2019-15846"));
	ck_assert_ptr_nonnull(strstr(f->summary, "4.92-8+deb10u2"));
	ck_assert_ptr_nonnull(strstr(f->summary, "0.0.0.0:25"));
	ck_assert_int_eq(json_array_size(json_object_get(f->details,
							 "advisories")),
			 2);
}
END_TEST

/* The sentence ends with what to do, the details carry the evidence. */
START_TEST(test_vulnerable_mta_remedy)
{
	const struct rules_finding *f;
	json_t *a;
	const char *want = "; upgrade exim4-daemon-light to "
			   "4.96-15+deb12u11 or later (DSA-5900-1, "
			   "DSA-5812-1).";

	host.os_codename = "bookworm";
	host.os_version_id = "12";
	host.os_eol = T("2028-06-30");
	pkgs[0].version = pkgs[0].source_version = "4.96-15+deb12u5";
	exim_vulns[0].fixed_version = "4.96-15+deb12u11";
	exim_vulns[0].advisory = "DSA-5900-1";
	exim_vulns[0].data_source = "tracker";
	exim_vulns[0].data_date = T("2026-11-30");
	exim_vulns[0].urgency = "high";
	exim_vulns[1].fixed_version = "4.96-15+deb12u6";
	exim_vulns[1].advisory = "DSA-5812-1";
	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(strlen(f->summary) > strlen(want) &&
			      strcmp(f->summary + strlen(f->summary) -
					     strlen(want),
				     want) == 0,
		      "%s", f->summary);
	ck_assert_int_eq(f->severity, RULES_SEV_CRITICAL);
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "fixed_version")),
			 "4.96-15+deb12u11");
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "upgrade_package")),
			 "exim4-daemon-light");
	ck_assert(json_is_true(json_object_get(f->details, "confirmed")));
	a = json_array_get(json_object_get(f->details, "advisories"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "advisory")),
			 "DSA-5900-1");
	ck_assert_str_eq(json_string_value(json_object_get(a, "source")),
			 "tracker");
	ck_assert_str_eq(json_string_value(json_object_get(a, "data_date")),
			 "2026-11-30");
	ck_assert_str_eq(json_string_value(json_object_get(a, "urgency")),
			 "high");
	ck_assert_str_eq(json_string_value(json_object_get(
				 a, "fixed_version")),
			 "4.96-15+deb12u11");
	ck_assert(json_is_true(json_object_get(a, "confirmed")));
}
END_TEST

/* A release past its end of life: the remedy is the release itself. */
START_TEST(test_vulnerable_mta_eol_remedy)
{
	const struct rules_finding *f;

	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_ptr_nonnull(strstr(f->summary,
				     "; buster is past its end of life: "
				     "upgrade the release or shut the host "
				     "down."));
	ck_assert_ptr_nonnull(strstr(f->summary, "upgrade exim4-daemon-light "
						 "to 4.92-8+deb10u3 or later"));
}
END_TEST

/* No data for the release: labelled unconfirmed with the reason, never
 * critical, and the host is not "vulnerable" on its strength. */
START_TEST(test_vulnerable_mta_unconfirmed)
{
	const struct rules_finding *f;

	exim_vulns[0].unconfirmed = exim_vulns[1].unconfirmed = true;
	exim_vulns[0].fixed_version = exim_vulns[1].fixed_version = NULL;
	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_ptr_nonnull(strstr(f->summary, "may be affected by"));
	ck_assert_ptr_nonnull(strstr(f->summary,
				     "(unconfirmed: buster has had no Debian "
				     "security support since 2024-06-30;"));
	ck_assert_ptr_nonnull(strstr(f->summary,
				     "buster is past its end of life"));
	ck_assert_ptr_null(strstr(f->summary, "upgrade exim4"));
	ck_assert(json_is_false(json_object_get(f->details, "confirmed")));
	ck_assert_str_eq(json_string_value(json_object_get(
				 f->details, "unconfirmed_reason")),
			 "buster has had no Debian security support since "
			 "2024-06-30");
	ck_assert(json_is_false(json_object_get(
		finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->details,
		"vulnerable")));
	/* An unknown distribution: the reason says so. */
	host.os_id = "devuan";
	host.os_codename = "daedalus";
	host.os_eol = 0;
	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_ptr_nonnull(strstr(f->summary, "(unconfirmed: no security "
						 "data for devuan daedalus"));
	ck_assert_ptr_nonnull(strstr(f->summary, "check exim4-daemon-light "
						 "against its vendor's "
						 "advisories."));
}
END_TEST

/* No fix yet, and Debian's "minor": said so, and minor weighs low. */
START_TEST(test_vulnerable_mta_no_fix_minor)
{
	const struct rules_finding *f;

	host.os_codename = "bookworm";
	host.os_eol = T("2028-06-30");
	ports[0].address = "127.0.0.1";
	exim_vulns[0].severity = RULES_SEV_MEDIUM;
	exim_vulns[0].fixed_version = NULL;
	exim_vulns[0].no_fix = true;
	exim_vulns[1].fixed_version = NULL;
	exim_vulns[1].no_fix = true;
	exim_vulns[1].nodsa = "postponed";
	eval();
	f = finding(RULES_RULE_VULNERABLE_MTA);
	ck_assert_int_eq(f->severity, RULES_SEV_MEDIUM);
	ck_assert_ptr_nonnull(strstr(f->summary,
				     "; no fix yet in bookworm for "
				     "CVE-2019-10149 and CVE-2019-15846; "
				     "Debian rates CVE-2019-15846 minor (no "
				     "advisory)."));
	ck_assert(json_is_true(json_object_get(
		json_array_get(json_object_get(f->details, "advisories"), 1),
		"minor")));
	/* Minor alone: the host is not "vulnerable". */
	pkgs[0].vulns = &exim_vulns[1];
	pkgs[0].n_vulns = 1;
	eval();
	ck_assert_int_eq(finding(RULES_RULE_VULNERABLE_MTA)->severity,
			 RULES_SEV_LOW);
	ck_assert(json_is_false(json_object_get(
		finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->details,
		"vulnerable")));
}
END_TEST

START_TEST(test_vulnerable_mta_merges_binaries)
{
	pkgs[1] = (struct rules_package){ "exim4-base", "4.92-8+deb10u2",
					  "exim4", "4.92-8+deb10u2", exim_vulns,
					  2 };
	eval();
	ck_assert_int_eq(res.n_findings, 1 + 1 + 1); /* ams, vuln, project */
	ck_assert_int_eq(json_array_size(json_object_get(
				 finding(RULES_RULE_VULNERABLE_MTA)->details,
				 "cves")),
			 2);
}
END_TEST

START_TEST(test_vulnerable_non_mta_ignored)
{
	static const struct rules_vuln ssl = { .cve = "CVE-2024-0001",
					       .severity = RULES_SEV_CRITICAL,
					       .remote = true };

	pkgs[0].n_vulns = 0;
	pkgs[1].vulns = &ssl;
	pkgs[1].n_vulns = 1;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_VULNERABLE_MTA));
}
END_TEST

START_TEST(test_vulnerable_not_running)
{
	/* Exim installed but stopped, Postfix answers: the Exim finding
	 * stays at the advisory's level and does not raise abandonment. */
	ports[0].exe = "/usr/lib/postfix/sbin/master";
	host.n_processes = 0;
	host.n_services = 0;
	exim_vulns[0].severity = RULES_SEV_HIGH;
	pkgs[0].n_vulns = 1;
	ports[0].address = "127.0.0.1";
	eval();
	ck_assert_str_eq(res.mail.mta, "postfix");
	ck_assert_int_eq(finding(RULES_RULE_VULNERABLE_MTA)->severity,
			 RULES_SEV_HIGH);
	ck_assert_ptr_nonnull(strstr(finding(RULES_RULE_VULNERABLE_MTA)->summary,
				     "does not run"));
	ck_assert_int_eq(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->severity,
			 RULES_SEV_HIGH);
}
END_TEST

START_TEST(test_vulnerable_without_abandonment)
{
	host.project_ends_on = T("2026-01-31");
	eval();
	ck_assert(!res.abandoned);
	ck_assert_ptr_null(finding(RULES_RULE_ABANDONED_MAIL_SERVICE));
	ck_assert_ptr_nonnull(finding(RULES_RULE_VULNERABLE_MTA));
	ck_assert_int_eq(finding(RULES_RULE_VULNERABLE_MTA)->severity,
			 RULES_SEV_CRITICAL);
}
END_TEST

START_TEST(test_abandoned_without_mail)
{
	quiet_host();
	host.project_ends_on = T("2025-01-31");
	eval();
	ck_assert(res.abandoned);
	ck_assert_ptr_null(finding(RULES_RULE_ABANDONED_MAIL_SERVICE));
	ck_assert_ptr_nonnull(finding(RULES_RULE_PROJECT_ENDED));
}
END_TEST

START_TEST(test_abandoned_mail_by_three_signals)
{
	const struct rules_finding *f;

	host.project = NULL;
	pkgs[0].n_vulns = 0;
	ports[0].address = "::1";
	eval();
	f = finding(RULES_RULE_ABANDONED_MAIL_SERVICE);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_ptr_nonnull(strstr(f->summary, "[::1]:25"));
	ck_assert_ptr_nonnull(strstr(f->summary, "2024-09-01"));
	ck_assert_ptr_nonnull(strstr(f->summary, "2024-01-10"));
	ck_assert_ptr_nonnull(finding(RULES_RULE_UNOWNED_HOST));
}
END_TEST

START_TEST(test_retired_host_reporting)
{
	const struct rules_finding *f;

	quiet_host();
	host.retired = true;
	host.retired_at = T("2025-05-01T10:00:00Z");
	eval();
	f = finding(RULES_RULE_RETIRED_HOST_REPORTING);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_str_eq(f->key, "retired-host-reporting");
	ck_assert_str_eq(f->summary, "The host was retired on 2025-05-01 but "
				     "still reported at 2025-06-01T11:00:00Z.");
	host.last_seen = host.retired_at - 1;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_RETIRED_HOST_REPORTING));
}
END_TEST

START_TEST(test_retired_with_mail_is_abandoned_mail)
{
	host.project_ends_on = 0;
	host.retired = true;
	host.retired_at = now - 7 * DAY;
	eval();
	ck_assert_ptr_nonnull(finding(RULES_RULE_RETIRED_HOST_REPORTING));
	ck_assert_ptr_nonnull(strstr(
		finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->summary,
		"retired on 2025-05-25"));
}
END_TEST

START_TEST(test_silent_host_medium_without_mail)
{
	const struct rules_finding *f;

	quiet_host();
	host.last_seen = now - cfg.silent_after - 1;
	eval();
	f = finding(RULES_RULE_SILENT_HOST);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_MEDIUM);
	ck_assert_ptr_nonnull(strstr(f->summary, "2025-05-30T11:59:59Z"));
	host.last_seen = now - cfg.silent_after;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_SILENT_HOST));
}
END_TEST

START_TEST(test_silent_host_high_with_mail)
{
	const struct rules_finding *f;

	host.last_seen = now - 3 * DAY;
	eval();
	f = finding(RULES_RULE_SILENT_HOST);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_HIGH);
	ck_assert_ptr_nonnull(strstr(f->summary, "mail service"));
	ck_assert(json_is_true(json_object_get(f->details, "mail")));
}
END_TEST

START_TEST(test_project_ended_finding)
{
	const struct rules_finding *f;

	quiet_host();
	host.project_ends_on = T("2025-03-31");
	eval();
	f = finding(RULES_RULE_PROJECT_ENDED);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_MEDIUM);
	ck_assert_str_eq(f->key, "project-ended");
	ck_assert_ptr_nonnull(strstr(f->summary, "acme-portal"));
	ck_assert_ptr_nonnull(strstr(f->summary, "2025-03-31"));
	ck_assert_str_eq(json_string_value(json_object_get(f->details,
							   "ends_on")),
			 "2025-03-31");
	eval_at(T("2025-03-31T23:59:59Z"));
	ck_assert_ptr_null(finding(RULES_RULE_PROJECT_ENDED));
}
END_TEST

START_TEST(test_unowned_host_finding)
{
	const struct rules_finding *f;

	quiet_host();
	host.project = NULL;
	eval();
	f = finding(RULES_RULE_UNOWNED_HOST);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->severity, RULES_SEV_LOW);
	ck_assert_ptr_nonnull(strstr(f->summary, "2024-01-10"));
	ck_assert(!res.abandoned);	/* logged in yesterday */
	eval_at(host.first_seen + cfg.unowned_grace);
	ck_assert_ptr_null(finding(RULES_RULE_UNOWNED_HOST));
}
END_TEST

/* A section the agent cannot read: low, medium once it has failed for
 * longer than 7 days, one finding per section, gone once it is read. */
START_TEST(test_collector_failing)
{
	struct rules_collector_error errs[2] = {
		{ "ports", "No such file or directory", 0 },
		{ "logins", NULL, 0 },
	};
	const struct rules_finding *f;
	int64_t since = now - DAY;

	quiet_host();
	errs[0].since = since;
	errs[1].since = now - 3600;
	host.collector_errors = errs;
	host.n_collector_errors = 1;
	ck_assert_int_eq(cfg.collector_failing_after, 7 * DAY);
	eval();
	ck_assert_int_eq(res.n_findings, 1);
	f = finding(RULES_RULE_COLLECTOR_FAILING);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(rules_rule_name(f->rule), "collector-failing");
	ck_assert_str_eq(f->key, "collector-failing:ports");
	ck_assert_int_eq(f->severity, RULES_SEV_LOW);
	ck_assert_str_eq(f->summary,
			 "The agent has not been able to read the host's ports "
			 "since 2025-05-31T12:00:00Z (No such file or "
			 "directory), so they are shown as last read.");
	ck_assert_str_eq(json_get_str(f->details, "section"), "ports");
	ck_assert_str_eq(json_get_str(f->details, "error"),
			 "No such file or directory");
	ck_assert_str_eq(json_get_str(f->details, "since"),
			 "2025-05-31T12:00:00Z");
	ck_assert_int_eq(json_get_int(f->details, "failing_for_s", 0), DAY);
	ck_assert(!res.abandoned);
	ck_assert_int_eq(rules_result_worst(&res), RULES_SEV_LOW);

	/* Exactly 7 days is not longer than 7 days; a second more is. */
	eval_at(since + 7 * DAY);
	ck_assert_int_eq(finding(RULES_RULE_COLLECTOR_FAILING)->severity,
			 RULES_SEV_LOW);
	eval_at(since + 7 * DAY + 1);
	f = finding(RULES_RULE_COLLECTOR_FAILING);
	ck_assert_int_eq(f->severity, RULES_SEV_MEDIUM);
	ck_assert_str_eq(f->key, "collector-failing:ports");
	ck_assert_int_eq(rules_result_worst(&res), RULES_SEV_MEDIUM);
	cfg.collector_failing_after = 30 * DAY;
	eval_at(since + 7 * DAY + 1);
	ck_assert_int_eq(finding(RULES_RULE_COLLECTOR_FAILING)->severity,
			 RULES_SEV_LOW);
	cfg.collector_failing_after = 7 * DAY;

	/* Two sections, two findings, each of its own age; no reason sent
	 * still makes a sentence. */
	host.n_collector_errors = 2;
	errs[0].since = now - 8 * DAY;
	eval();
	ck_assert_int_eq(res.n_findings, 2);
	ck_assert_str_eq(res.findings[0].key, "collector-failing:ports");
	ck_assert_int_eq(res.findings[0].severity, RULES_SEV_MEDIUM);
	ck_assert_str_eq(res.findings[1].key, "collector-failing:logins");
	ck_assert_int_eq(res.findings[1].severity, RULES_SEV_LOW);
	ck_assert_ptr_nonnull(strstr(res.findings[1].summary,
				     "(no reason given)"));

	/* Read again: the store passes no error, the finding is gone. */
	host.n_collector_errors = 0;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_COLLECTOR_FAILING));
	ck_assert_int_eq(res.n_findings, 0);
}
END_TEST

/* The mail verdict is made from what the store kept: a failing ports
 * collector does not make an exposed Exim unexposed. */
START_TEST(test_collector_failing_keeps_the_mail_verdict)
{
	struct rules_collector_error err = { "ports", "Permission denied",
					     0 };

	err.since = now - 10 * DAY;
	host.collector_errors = &err;
	host.n_collector_errors = 1;
	eval();
	ck_assert(res.mail.exposed);
	ck_assert_ptr_nonnull(finding(RULES_RULE_ABANDONED_MAIL_SERVICE));
	ck_assert_int_eq(finding(RULES_RULE_COLLECTOR_FAILING)->severity,
			 RULES_SEV_MEDIUM);
	/* Still in rule order. */
	for (size_t i = 1; i < res.n_findings; i++)
		ck_assert_int_le(res.findings[i - 1].rule,
				 res.findings[i].rule);
}
END_TEST

START_TEST(test_healthy_host_has_no_findings)
{
	quiet_host();
	eval();
	ck_assert_int_eq(res.n_signals, 0);
	ck_assert_int_eq(res.n_findings, 0);
	ck_assert(!res.abandoned);
}
END_TEST

START_TEST(test_findings_in_rule_order)
{
	host.project = NULL;
	host.last_seen = now - 5 * DAY;
	eval();
	ck_assert_int_ge(res.n_findings, 4);
	for (size_t i = 1; i < res.n_findings; i++)
		ck_assert_int_le(res.findings[i - 1].rule, res.findings[i].rule);
	for (size_t i = 0; i < res.n_findings; i++) {
		ck_assert_ptr_nonnull(res.findings[i].key);
		ck_assert(json_is_object(res.findings[i].details));
	}
}
END_TEST

START_TEST(test_long_and_multibyte_strings)
{
	static char project[5001];
	json_t *a;

	/* 2500 "é": a cut in the middle of one would be invalid UTF-8. */
	for (int i = 0; i < 5000; i += 2) {
		project[i] = (char)0xC3;
		project[i + 1] = (char)0xA9;
	}
	project[5000] = '\0';
	host.project = project;
	eval();
	ck_assert(has(RULES_SIG_PROJECT_ENDED));
	ck_assert_int_lt(strlen(finding(RULES_RULE_PROJECT_ENDED)->summary),
			 400);
	a = rules_signals_json(&res);
	ck_assert_ptr_nonnull(a);
	ck_assert(json_is_string(json_object_get(json_array_get(a, 0),
						 "evidence")));
	json_decref(a);
}
END_TEST

START_TEST(test_ack_in_force)
{
	int64_t until = T("2025-06-10");

	ck_assert(rules_ack_in_force(0, RULES_SEV_HIGH, RULES_SEV_HIGH, now));
	ck_assert(rules_ack_in_force(until, RULES_SEV_HIGH, RULES_SEV_HIGH,
				     until + DAY - 1));
	ck_assert(!rules_ack_in_force(until, RULES_SEV_HIGH, RULES_SEV_HIGH,
				      until + DAY));
	ck_assert(rules_ack_in_force(until, RULES_SEV_HIGH, RULES_SEV_MEDIUM,
				     now));
	ck_assert(!rules_ack_in_force(0, RULES_SEV_HIGH, RULES_SEV_CRITICAL,
				      now));
}
END_TEST

START_TEST(test_same_input_same_keys)
{
	char *keys[16];
	size_t n;

	eval();
	n = res.n_findings;
	ck_assert_int_le(n, 16);
	for (size_t i = 0; i < n; i++)
		keys[i] = strdup(res.findings[i].key);
	eval_at(now + 3600);
	ck_assert_int_eq(res.n_findings, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(res.findings[i].key, keys[i]);
		free(keys[i]);
	}
}
END_TEST

START_TEST(test_other_mta_vulnerable_named)
{
	/* Postfix answers on 25 and Exim runs too, only Exim is vulnerable:
	 * the summary must not pin Exim's CVE on Postfix. */
	static struct rules_package pf = { "postfix", "3.4.23-0+deb10u1",
					   "postfix", "3.4.23-0+deb10u1", NULL,
					   0 };

	ports[0].exe = "/usr/lib/postfix/sbin/master";
	pkgs[1] = pf;
	eval();
	ck_assert_str_eq(res.mail.mta, "postfix");
	ck_assert_int_eq(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->severity,
			 RULES_SEV_CRITICAL);
	ck_assert_ptr_nonnull(strstr(
		finding(RULES_RULE_ABANDONED_MAIL_SERVICE)->summary,
		"postfix 3.4.23-0+deb10u1 listens on 0.0.0.0:25; exim4 "
		"4.92-8+deb10u2 is vulnerable to CVE-2019-10149"));
}
END_TEST

START_TEST(test_host_status_and_worst)
{
	ck_assert_str_eq(rules_host_status(&host, &cfg, now), "active");
	ck_assert_str_eq(rules_host_status(&host, &cfg,
					   host.last_seen + cfg.silent_after +
						   1),
			 "silent");
	host.retired = true;
	ck_assert_str_eq(rules_host_status(&host, &cfg, now), "retired");
	host.retired = false;
	eval();
	ck_assert_int_eq(rules_result_worst(&res), RULES_SEV_CRITICAL);
	quiet_host();
	eval();
	ck_assert_int_eq(rules_result_worst(&res), RULES_SEV_INFO);
	host.project = NULL;
	eval();
	ck_assert_int_eq(rules_result_worst(&res), RULES_SEV_LOW);
}
END_TEST

/* ---- mail activity ------------------------------------------------------ */

static struct rules_mail_activity activity[2];

static void exim_activity(int64_t last, int64_t queue, int64_t frozen)
{
	activity[0] = (struct rules_mail_activity){
		.mta = "exim", .has_log = true, .last_delivered = last,
		.last_received = last - 60, .log_since = last - 30 * DAY,
		.has_queue = true, .queue = queue, .frozen = frozen,
		.frozen_before = -1,
	};
	host.mail_activity = activity;
	host.n_mail_activity = 1;
}

START_TEST(test_mail_idle)
{
	const struct rules_signal *sg;
	const struct rules_finding *f;

	/* 2025-02-11 to 2025-06-01 is 110 days. */
	exim_activity(T("2025-02-11T10:00:00Z"), 0, 0);
	eval();
	sg = signal_of(RULES_SIG_MAIL_IDLE);
	ck_assert_ptr_nonnull(sg);
	ck_assert_str_eq(sg->evidence,
			 "nothing has gone through this Exim since 2025-02-11");
	ck_assert_int_eq(sg->since, T("2025-02-11T10:00:00Z"));
	ck_assert_str_eq(json_get_str(sg->fields, "last_delivered"),
			 "2025-02-11T10:00:00Z");
	/* It is part of the abandoned verdict's sentence. */
	f = finding(RULES_RULE_ABANDONED_MAIL_SERVICE);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(strstr(f->summary,
				     "; nothing has gone through this Exim "
				     "since 2025-02-11."));
	ck_assert_str_eq(json_get_str(f->details, "mail_idle_since"),
			 "2025-02-11T10:00:00Z");
	/* Not yet at 90 days, then exactly past them. */
	eval_at(T("2025-02-11T10:00:00Z") + 90 * DAY);
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
	eval_at(T("2025-02-11T10:00:00Z") + 90 * DAY + 1);
	ck_assert(has(RULES_SIG_MAIL_IDLE));
	/* mail_idle_after moves it. */
	cfg.mail_idle_after = 200 * DAY;
	eval();
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
}
END_TEST

START_TEST(test_mail_idle_needs_every_log)
{
	/* A recent message: not idle. */
	exim_activity(now - 5 * DAY, 0, 0);
	eval();
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
	ck_assert_ptr_null(strstr(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)
					  ->summary,
				  "nothing has gone"));
	/* A log without a single message since it began 100 days ago. */
	exim_activity(0, 0, 0);
	activity[0].log_since = now - 100 * DAY;
	eval();
	ck_assert_str_eq(signal_of(RULES_SIG_MAIL_IDLE)->evidence,
			 "nothing has gone through this Exim since at least "
			 "2025-02-21, where its log begins");
	/* A second MTA that still carries mail keeps the host's mail alive. */
	activity[1] = (struct rules_mail_activity){
		.mta = "postfix", .has_log = true,
		.last_received = now - DAY, .log_since = now - 10 * DAY,
		.frozen = -1, .frozen_before = -1,
	};
	host.n_mail_activity = 2;
	eval();
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
	/* No log read: nothing to say. */
	activity[0].has_log = false;
	activity[1].has_log = false;
	eval();
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
	host.n_mail_activity = 0;
	eval();
	ck_assert(!has(RULES_SIG_MAIL_IDLE));
}
END_TEST

START_TEST(test_mail_queue_backlog)
{
	const struct rules_finding *f;

	exim_activity(now - DAY, 2000, 0);
	eval();
	f = finding(RULES_RULE_MAIL_QUEUE_BACKLOG);
	ck_assert_ptr_nonnull(f);
	/* Exim listens on 0.0.0.0:25: critical. */
	ck_assert_int_eq(f->severity, RULES_SEV_CRITICAL);
	ck_assert_str_eq(f->key, "mail-queue-backlog");
	ck_assert_str_eq(f->summary,
			 "2000 messages wait in this Exim's queue, more than "
			 "the 1000 of queue_backlog, and it listens on "
			 "0.0.0.0:25: a queue that grows on a forgotten server "
			 "is often someone else's mail relayed through it.");
	ck_assert_int_eq(json_get_int(f->details, "queue", 0), 2000);
	ck_assert_int_eq(json_get_int(f->details, "threshold", 0), 1000);
	ck_assert(json_is_true(json_object_get(f->details, "exposed")));
	ck_assert_ptr_nonnull(strstr(finding(RULES_RULE_ABANDONED_MAIL_SERVICE)
					     ->summary,
				     "; 2000 messages wait in this Exim's "
				     "queue."));
	/* Loopback only: high. */
	ports[0].address = "127.0.0.1";
	eval();
	ck_assert_int_eq(finding(RULES_RULE_MAIL_QUEUE_BACKLOG)->severity,
			 RULES_SEV_HIGH);
	/* At the threshold: none. */
	activity[0].queue = 1000;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_MAIL_QUEUE_BACKLOG));
	cfg.queue_backlog = 999;
	eval();
	ck_assert_ptr_nonnull(finding(RULES_RULE_MAIL_QUEUE_BACKLOG));
	/* A healthy host with a backlog still gets it. */
	host.project_ends_on = 0;
	cfg.queue_backlog = 10;
	eval();
	ck_assert(!res.abandoned);
	ck_assert_ptr_nonnull(finding(RULES_RULE_MAIL_QUEUE_BACKLOG));
}
END_TEST

START_TEST(test_mail_frozen_growing)
{
	const struct rules_finding *f;

	exim_activity(now - DAY, 12, 3);
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_MAIL_QUEUE_BACKLOG));
	/* Frozen went from 1 to 3 at the last report. */
	activity[0].frozen_before = 1;
	activity[0].frozen_changed_at = T("2025-06-01T10:00:00Z");
	eval();
	f = finding(RULES_RULE_MAIL_QUEUE_BACKLOG);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->summary,
			 "12 messages wait in this Exim's queue, 3 frozen (up "
			 "from 1 at 2025-06-01T10:00:00Z), and it listens on "
			 "0.0.0.0:25: a queue that grows on a forgotten server "
			 "is often someone else's mail relayed through it.");
	ck_assert(json_is_true(json_object_get(f->details, "frozen_growing")));
	ck_assert_int_eq(json_get_int(f->details, "frozen_before", -1), 1);
	/* Down from 3 to 2: no longer growing. */
	activity[0].frozen = 2;
	activity[0].frozen_before = 3;
	eval();
	ck_assert_ptr_null(finding(RULES_RULE_MAIL_QUEUE_BACKLOG));
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_severity_names);
	tcase_add_test(tc, test_signal_and_rule_names);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_project_ended_threshold);
	tcase_add_test(tc, test_project_end_in_future);
	tcase_add_test(tc, test_project_without_end);
	tcase_add_test(tc, test_unowned_threshold);
	tcase_add_test(tc, test_idle_threshold);
	tcase_add_test(tc, test_idle_without_any_login);
	tcase_add_test(tc, test_idle_local_login);
	tcase_add_test(tc, test_unmaintained_threshold);
	tcase_add_test(tc, test_silent_threshold);
	tcase_add_test(tc, test_silent_never_reported);
	tcase_add_test(tc, test_retired_signal);
	tcase_add_test(tc, test_retired_without_date);
	tcase_add_test(tc, test_eol_threshold);
	tcase_add_test(tc, test_signals_json);
	tcase_add_test(tc, test_signal_order_and_mask);
	tcase_add_test(tc, test_abandoned_by_project_end);
	tcase_add_test(tc, test_abandoned_by_retirement);
	tcase_add_test(tc, test_abandoned_by_three_signals);
	tcase_add_test(tc, test_not_abandoned_by_two_of_three);
	tcase_add_test(tc, test_not_abandoned_by_eol_or_silence);
	tcase_add_test(tc, test_retired_and_quiet_is_done);
	tcase_add_test(tc, test_mail_generic_name_is_not_mail);
	tcase_add_test(tc, test_mail_postfix_master_by_exe);
	tcase_add_test(tc, test_mail_smtpd_postfix_vs_opensmtpd);
	tcase_add_test(tc, test_mail_exe_table);
	tcase_add_test(tc, test_mail_by_unit);
	tcase_add_test(tc, test_mail_by_port_unknown_owner);
	tcase_add_test(tc, test_mail_udp_is_not_smtp);
	tcase_add_test(tc, test_loopback_addresses);
	tcase_add_test(tc, test_exposure_by_address);
	tcase_add_test(tc, test_custom_smtp_ports);
	tcase_add_test(tc, test_mta_owned_other_port);
	tcase_add_test(tc, test_mail_json);
	tcase_add_test(tc, test_mail_detect_alone);
	tcase_add_test(tc, test_mta_of_package);
	tcase_add_test(tc, test_ended_project_exposed_exim_is_critical);
	tcase_add_test(tc, test_abandoned_mail_exact_summary_patched);
	tcase_add_test(tc, test_loopback_only_is_high);
	tcase_add_test(tc, test_loopback_but_vulnerable_is_critical);
	tcase_add_test(tc, test_patched_clears_vulnerable_not_abandonment);
	tcase_add_test(tc, test_vulnerable_mta_raised_when_exposed);
	tcase_add_test(tc, test_vulnerable_mta_worst_advisory);
	tcase_add_test(tc, test_vulnerable_mta_details);
	tcase_add_test(tc, test_vulnerable_mta_remedy);
	tcase_add_test(tc, test_vulnerable_mta_eol_remedy);
	tcase_add_test(tc, test_vulnerable_mta_unconfirmed);
	tcase_add_test(tc, test_vulnerable_mta_no_fix_minor);
	tcase_add_test(tc, test_vulnerable_mta_merges_binaries);
	tcase_add_test(tc, test_vulnerable_non_mta_ignored);
	tcase_add_test(tc, test_vulnerable_not_running);
	tcase_add_test(tc, test_vulnerable_without_abandonment);
	tcase_add_test(tc, test_abandoned_without_mail);
	tcase_add_test(tc, test_abandoned_mail_by_three_signals);
	tcase_add_test(tc, test_retired_host_reporting);
	tcase_add_test(tc, test_retired_with_mail_is_abandoned_mail);
	tcase_add_test(tc, test_silent_host_medium_without_mail);
	tcase_add_test(tc, test_silent_host_high_with_mail);
	tcase_add_test(tc, test_project_ended_finding);
	tcase_add_test(tc, test_unowned_host_finding);
	tcase_add_test(tc, test_collector_failing);
	tcase_add_test(tc, test_collector_failing_keeps_the_mail_verdict);
	tcase_add_test(tc, test_healthy_host_has_no_findings);
	tcase_add_test(tc, test_findings_in_rule_order);
	tcase_add_test(tc, test_long_and_multibyte_strings);
	tcase_add_test(tc, test_ack_in_force);
	tcase_add_test(tc, test_same_input_same_keys);
	tcase_add_test(tc, test_other_mta_vulnerable_named);
	tcase_add_test(tc, test_host_status_and_worst);
	tcase_add_test(tc, test_host_identity_changed);
	tcase_add_test(tc, test_mail_idle);
	tcase_add_test(tc, test_mail_idle_needs_every_log);
	tcase_add_test(tc, test_mail_queue_backlog);
	tcase_add_test(tc, test_mail_frozen_growing);
	tcase_add_test(tc, test_open_relay);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(rules_suite());
}
