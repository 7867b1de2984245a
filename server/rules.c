/* rules.c - signals, abandonment, mail detection and findings; see rules.h. */
#define _GNU_SOURCE
#include "rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "buf.h"
#include "dpkgver.h"
#include "jsonutil.h"
#include "rpmver.h"
#include "timeutil.h"

#define DAY 86400
/* Bytes of any one agent-supplied string quoted in evidence or a summary. */
#define CLIP_LEN 200
/* A summary or evidence line never grows past this. */
#define LINE_MAX_BYTES 8192
/* CVE ids named in a summary; details carry them all. */
#define SUMMARY_CVES 5

static const char *const severity_names[RULES_SEV_COUNT] = {
	[RULES_SEV_INFO] = "info",
	[RULES_SEV_LOW] = "low",
	[RULES_SEV_MEDIUM] = "medium",
	[RULES_SEV_HIGH] = "high",
	[RULES_SEV_CRITICAL] = "critical",
};

static const char *const signal_names[RULES_SIG_COUNT] = {
	[RULES_SIG_PROJECT_ENDED] = "project-ended",
	[RULES_SIG_UNOWNED] = "unowned",
	[RULES_SIG_IDLE] = "idle",
	[RULES_SIG_UNMAINTAINED] = "unmaintained",
	[RULES_SIG_SILENT] = "silent",
	[RULES_SIG_RETIRED] = "retired",
	[RULES_SIG_EOL_OS] = "eol-os",
	[RULES_SIG_MAIL_IDLE] = "mail-idle",
};

static const char *const rule_names[RULES_RULE_COUNT] = {
	[RULES_RULE_ABANDONED_MAIL_SERVICE] = "abandoned-mail-service",
	[RULES_RULE_VULNERABLE_MTA] = "vulnerable-mta",
	[RULES_RULE_RETIRED_HOST_REPORTING] = "retired-host-reporting",
	[RULES_RULE_SILENT_HOST] = "silent-host",
	[RULES_RULE_PROJECT_ENDED] = "project-ended",
	[RULES_RULE_UNOWNED_HOST] = "unowned-host",
	[RULES_RULE_COLLECTOR_FAILING] = "collector-failing",
	[RULES_RULE_HOST_IDENTITY_CHANGED] = "host-identity-changed",
	[RULES_RULE_MAIL_QUEUE_BACKLOG] = "mail-queue-backlog",
	[RULES_RULE_OPEN_RELAY] = "open-relay",
};

static int lookup(const char *const *names, int n, const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *rules_severity_name(enum rules_severity s)
{
	return (int)s >= 0 && s < RULES_SEV_COUNT ? severity_names[s] : NULL;
}

int rules_severity_parse(const char *name)
{
	return lookup(severity_names, RULES_SEV_COUNT, name);
}

const char *rules_signal_name(enum rules_signal_kind k)
{
	return (int)k >= 0 && k < RULES_SIG_COUNT ? signal_names[k] : NULL;
}

int rules_signal_parse(const char *name)
{
	return lookup(signal_names, RULES_SIG_COUNT, name);
}

const char *rules_rule_name(enum rules_rule r)
{
	return (int)r >= 0 && r < RULES_RULE_COUNT ? rule_names[r] : NULL;
}

int rules_rule_parse(const char *name)
{
	return lookup(rule_names, RULES_RULE_COUNT, name);
}

void rules_config_defaults(struct rules_config *cfg)
{
	static const uint16_t ports[] = { 25, 465, 587, 2525 };

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		cfg->smtp_ports.port[cfg->smtp_ports.n++] = ports[i];
	cfg->unowned_grace = 14 * DAY;
	cfg->idle_after = 30 * DAY;
	cfg->unmaintained_after = 90 * DAY;
	cfg->silent_after = 48 * 3600;
	cfg->collector_failing_after = 7 * DAY;
	cfg->mail_idle_after = 90 * DAY;
	cfg->queue_backlog = 1000;
}

/* ---- the MTA table ------------------------------------------------------ */

/*
 * Every MTA the rules know, in one place.  An executable matches by its
 * exact path, by a directory prefix, or by a basename distinctive enough to
 * mean that MTA wherever it is installed.  Generic names (Postfix's
 * "master" and "smtpd", OpenSMTPD's "smtpd", "sendmail", which every MTA
 * ships as a compatibility command) match only by full path.  A unit name
 * ending in '@' matches every instance of that template.
 */
struct mta_def {
	const char *name;
	const char *const *paths;
	const char *const *prefixes;
	const char *const *bases;
	const char *const *units;
	const char *const *packages;	/* source or binary package names */
};

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct mta_def mtas[] = {
	{ "exim",
	  LIST("/usr/sbin/exim4", "/usr/sbin/exim"),
	  NULL,
	  LIST("exim4", "exim"),
	  LIST("exim4.service", "exim.service"),
	  LIST("exim4", "exim") },
	{ "postfix",
	  NULL,
	  LIST("/usr/lib/postfix/", "/usr/libexec/postfix/"),
	  NULL,
	  LIST("postfix.service", "postfix@"),
	  LIST("postfix") },
	{ "sendmail",
	  LIST("/usr/lib/sm.bin/sendmail", "/usr/sbin/sendmail-mta",
	       "/usr/sbin/sendmail.sendmail"),
	  NULL,
	  LIST("sendmail-mta", "sendmail.sendmail"),
	  LIST("sendmail.service", "sm-client.service"),
	  LIST("sendmail", "sendmail-bin") },
	{ "opensmtpd",
	  LIST("/usr/sbin/smtpd", "/usr/local/sbin/smtpd"),
	  LIST("/usr/libexec/opensmtpd/", "/usr/lib/opensmtpd/"),
	  NULL,
	  LIST("opensmtpd.service", "smtpd.service"),
	  LIST("opensmtpd") },
	{ "courier",
	  NULL,
	  LIST("/usr/lib/courier/"),
	  LIST("courieresmtpd", "courierd", "courieresmtp"),
	  LIST("courier-mta.service", "courier-mta-ssl.service",
	       "courier-msa.service"),
	  LIST("courier", "courier-mta") },
	{ "qmail",
	  NULL,
	  LIST("/var/qmail/bin/"),
	  LIST("qmail-send", "qmail-smtpd", "qmail-lspawn", "qmail-rspawn"),
	  LIST("qmail.service"),
	  LIST("qmail", "netqmail", "notqmail") },
	{ "msmtpd",
	  NULL,
	  NULL,
	  LIST("msmtpd"),
	  LIST("msmtpd.service"),
	  LIST("msmtp", "msmtp-mta") },
	{ "nullmailer",
	  NULL,
	  NULL,
	  LIST("nullmailer-send", "nullmailer-smtpd"),
	  LIST("nullmailer.service"),
	  LIST("nullmailer") },
	{ "dma",
	  LIST("/usr/sbin/dma"),
	  NULL,
	  NULL,
	  NULL,
	  LIST("dma") },
};

#define N_MTAS ((int)(sizeof(mtas) / sizeof(mtas[0])))

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int mta_index_of_exe(const char *exe)
{
	char path[4096];
	const char *base;
	size_t n;

	if (!exe || exe[0] != '/')
		return -1;
	/* The kernel marks a binary replaced by an upgrade "(deleted)": the
	 * old daemon still runs and is still the same MTA. */
	n = strlen(exe);
	if (n >= sizeof(path))
		return -1;
	memcpy(path, exe, n + 1);
	if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0)
		path[n - 10] = '\0';
	base = strrchr(path, '/') + 1;

	for (int i = 0; i < N_MTAS; i++) {
		if (in_list(mtas[i].paths, path) || in_list(mtas[i].bases, base))
			return i;
		for (const char *const *p = mtas[i].prefixes; p && *p; p++)
			if (strncmp(path, *p, strlen(*p)) == 0)
				return i;
	}
	return -1;
}

static int mta_index_of_unit(const char *unit)
{
	size_t n;

	if (!unit)
		return -1;
	n = strlen(unit);
	for (int i = 0; i < N_MTAS; i++) {
		for (const char *const *u = mtas[i].units; u && *u; u++) {
			size_t un = strlen(*u);

			if (un && (*u)[un - 1] == '@') {
				if (n > un + 8 && strncmp(unit, *u, un) == 0 &&
				    strcmp(unit + n - 8, ".service") == 0)
					return i;
			} else if (strcmp(unit, *u) == 0) {
				return i;
			}
		}
	}
	return -1;
}

static int mta_index_of_package(const char *name, const char *source)
{
	for (int i = 0; i < N_MTAS; i++) {
		if (source && *source) {
			if (in_list(mtas[i].packages, source))
				return i;
		} else if (name && in_list(mtas[i].packages, name)) {
			return i;
		}
	}
	/* A binary package whose source is unknown to the table, named after
	 * one that is (exim4-daemon-heavy built from a local source). */
	for (int i = 0; source && *source && name && i < N_MTAS; i++)
		if (in_list(mtas[i].packages, name))
			return i;
	return -1;
}

const char *rules_mta_of_exe(const char *exe)
{
	int i = mta_index_of_exe(exe);

	return i < 0 ? NULL : mtas[i].name;
}

const char *rules_mta_of_unit(const char *unit)
{
	int i = mta_index_of_unit(unit);

	return i < 0 ? NULL : mtas[i].name;
}

const char *rules_mta_of_package(const char *name, const char *source)
{
	int i = mta_index_of_package(name, source);

	return i < 0 ? NULL : mtas[i].name;
}

/* ---- addresses and ports ------------------------------------------------ */

bool rules_address_is_loopback(const char *address)
{
	char a[128];
	struct in_addr v4;
	struct in6_addr v6;
	size_t n;
	char *pct;

	if (!address)
		return false;
	if (address[0] == '[')
		address++;
	n = strlen(address);
	if (n >= sizeof(a))
		return false;
	memcpy(a, address, n + 1);
	if (n && a[n - 1] == ']')
		a[--n] = '\0';
	pct = strchr(a, '%');	/* zone: "fe80::1%eth0", "127.0.0.53%lo" */
	if (pct)
		*pct = '\0';
	if (strcmp(a, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, a, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a, &v6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&v6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
	}
	return false;
}

static bool is_tcp(const char *proto)
{
	return !proto || strncmp(proto, "tcp", 3) == 0;
}

static bool is_smtp_port(const struct rules_config *cfg, int port)
{
	for (int i = 0; i < cfg->smtp_ports.n && i < CONF_MAX_PORTS; i++)
		if (cfg->smtp_ports.port[i] == port)
			return true;
	return false;
}

static bool unit_is_active(const struct rules_service *s)
{
	return s->active && (strcmp(s->active, "active") == 0 ||
			     strcmp(s->active, "reloading") == 0);
}

/* ---- sticky-error string builder ---------------------------------------- */

struct line {
	struct buf b;
	int err;
};

static void line_init(struct line *l)
{
	buf_init(&l->b, LINE_MAX_BYTES);
	l->err = 0;
}

static void line_puts(struct line *l, const char *s)
{
	if (!l->err)
		l->err = buf_puts(&l->b, s);
}

static void line_printf(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line_printf(struct line *l, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	if (l->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		l->err = -E2BIG;
		return;
	}
	line_puts(l, tmp);
}

/* Appends an agent-supplied string, cut at CLIP_LEN bytes on a UTF-8
 * character boundary so the result stays valid JSON text. */
static void line_clip(struct line *l, const char *s)
{
	size_t n;

	if (l->err)
		return;
	if (!s)
		s = "?";
	n = strlen(s);
	if (n <= CLIP_LEN) {
		l->err = buf_append(&l->b, s, n);
		return;
	}
	n = CLIP_LEN;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	l->err = buf_append(&l->b, s, n);
	line_puts(l, "...");
}

static void line_date(struct line *l, int64_t t)
{
	char d[TIME_DATE_LEN];

	line_puts(l, date_format(t, d) == 0 ? d : "an unknown date");
}

static void line_time(struct line *l, int64_t t)
{
	char d[TIME_RFC3339_LEN];

	line_puts(l, time_format(t, d) == 0 ? d : "an unknown time");
}

/* "0.0.0.0:25", "[::]:25" */
static void line_endpoint(struct line *l, const struct rules_mail_port *p)
{
	bool v6 = strchr(p->address, ':') != NULL;

	if (v6)
		line_puts(l, "[");
	line_clip(l, p->address);
	line_printf(l, "%s:%d", v6 ? "]" : "", p->port);
}

/* Hands the line's text over; NULL with *err set on failure. */
static char *line_take(struct line *l, int *err)
{
	char *s;

	if (l->err) {
		*err = l->err;
		buf_free(&l->b);
		return NULL;
	}
	s = buf_take(&l->b, NULL);
	if (!s) {
		s = strdup("");
		if (!s)
			*err = -ENOMEM;
	}
	return s;
}

/* ---- JSON helpers ------------------------------------------------------- */

/* Steals v, even on failure and when v is NULL (then -ENOMEM). */
static int jset(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int jset_date(json_t *o, const char *key, int64_t t)
{
	char d[TIME_DATE_LEN];

	if (t <= 0 || date_format(t, d) < 0)
		return jset(o, key, json_null());
	return json_set_str(o, key, d);
}

/* ---- mail --------------------------------------------------------------- */

struct mail_state {
	unsigned families;	/* 1u << mta index of every MTA seen running */
	int best;		/* mta index for "mta", or -1 */
};

static int mail_detect(const struct rules_host *h,
		       const struct rules_config *cfg, struct rules_mail *ret,
		       struct mail_state *st)
{
	struct rules_mail m = { 0 };
	int port_mta = -1, smtp_port_mta = -1, proc_mta = -1, unit_mta = -1;
	bool smtp_seen = false;

	if (h->n_ports) {
		m.ports = calloc(h->n_ports, sizeof(*m.ports));
		if (!m.ports)
			return -ENOMEM;
	}
	st->families = 0;

	for (size_t i = 0; i < h->n_processes; i++) {
		int k = mta_index_of_exe(h->processes[i].exe);

		if (k < 0)
			continue;
		st->families |= 1u << k;
		if (proc_mta < 0)
			proc_mta = k;
	}
	for (size_t i = 0; i < h->n_services; i++) {
		int k;

		if (!unit_is_active(&h->services[i]))
			continue;
		k = mta_index_of_unit(h->services[i].name);
		if (k < 0)
			continue;
		st->families |= 1u << k;
		if (unit_mta < 0)
			unit_mta = k;
	}
	for (size_t i = 0; i < h->n_ports; i++) {
		const struct rules_port *p = &h->ports[i];
		struct rules_mail_port *mp;
		bool smtp;
		int k;

		if (!is_tcp(p->proto))
			continue;
		smtp = is_smtp_port(cfg, p->port);
		k = mta_index_of_exe(p->exe);
		if (!smtp && k < 0)
			continue;
		mp = &m.ports[m.n_ports++];
		snprintf(mp->proto, sizeof(mp->proto), "%s",
			 p->proto ? p->proto : "tcp");
		snprintf(mp->address, sizeof(mp->address), "%s",
			 p->address ? p->address : "*");
		mp->port = p->port;
		mp->smtp = smtp;
		mp->public = !rules_address_is_loopback(p->address);
		mp->mta = k < 0 ? NULL : mtas[k].name;
		if (smtp)
			smtp_seen = true;
		if (mp->public)
			m.exposed = true;
		if (k >= 0) {
			st->families |= 1u << k;
			if (port_mta < 0)
				port_mta = k;
			if (smtp && smtp_port_mta < 0)
				smtp_port_mta = k;
		}
	}

	/* The MTA that answers on an SMTP port names the host's mail service;
	 * failing that, whatever MTA is seen at all. */
	st->best = smtp_port_mta >= 0 ? smtp_port_mta :
		   port_mta >= 0      ? port_mta :
		   proc_mta >= 0      ? proc_mta :
					unit_mta;
	m.running = smtp_seen || st->families != 0;
	m.mta = st->best < 0 ? NULL : mtas[st->best].name;
	*ret = m;
	return 0;
}

int rules_mail_detect(const struct rules_host *host,
		      const struct rules_config *cfg, struct rules_mail *ret)
{
	struct mail_state st;

	if (!host || !cfg || !ret)
		return -EINVAL;
	return mail_detect(host, cfg, ret, &st);
}

void rules_mail_free(struct rules_mail *mail)
{
	if (!mail)
		return;
	free(mail->ports);
	memset(mail, 0, sizeof(*mail));
}

json_t *rules_mail_json(const struct rules_mail *mail)
{
	json_t *o = json_object(), *ports = json_array();
	int r = 0;

	if (!o || !ports)
		goto fail;
	r |= jset(o, "running", json_boolean(mail->running));
	r |= jset(o, "exposed", json_boolean(mail->exposed));
	r |= json_set_str(o, "mta", mail->mta);
	for (size_t i = 0; i < mail->n_ports; i++) {
		const struct rules_mail_port *p = &mail->ports[i];
		json_t *e = json_object();

		if (!e || json_array_append_new(ports, e) < 0)
			goto fail;
		r |= json_set_str(e, "proto", p->proto);
		r |= json_set_str(e, "address", p->address);
		r |= jset(e, "port", json_integer(p->port));
		r |= jset(e, "smtp", json_boolean(p->smtp));
		r |= jset(e, "public", json_boolean(p->public));
		r |= json_set_str(e, "mta", p->mta);
	}
	r |= jset(o, "ports", ports);
	ports = NULL;
	if (r)
		goto fail;
	return o;
fail:
	json_decref(ports);
	json_decref(o);
	return NULL;
}

/* The port a summary names: public SMTP first, then any public, then any
 * SMTP port, then whatever there is. */
static const struct rules_mail_port *mail_main_port(const struct rules_mail *m)
{
	for (int pass = 0; pass < 4; pass++)
		for (size_t i = 0; i < m->n_ports; i++) {
			const struct rules_mail_port *p = &m->ports[i];

			if ((pass == 0 && p->public && p->smtp) ||
			    (pass == 1 && p->public) || (pass == 2 && p->smtp) ||
			    pass == 3)
				return p;
		}
	return NULL;
}

/* ---- evaluation --------------------------------------------------------- */

/* One source package's applicable advisories, merged over its binaries. */
struct vuln_group {
	const char *source;
	const char *version;
	int mta;			/* index into mtas */
	const struct rules_vuln **v;	/* deduplicated by CVE id */
	size_t n;
	enum rules_severity worst;
	bool remote;
	bool relevant;			/* its MTA runs (or an unknown one) */
	bool confirmed;			/* some CVE is confirmed for its release */
	bool serious;			/* some confirmed CVE is not minor */
	const char *package;		/* the binary package to upgrade */
};

struct eval {
	const struct rules_host *h;
	const struct rules_config *cfg;
	int64_t now;
	struct rules_result r;
	struct mail_state ms;
	struct vuln_group *groups;
	size_t n_groups;
	bool vulnerable;	/* a relevant group exists */
	bool done_retired;	/* retired and quiet since: nothing to say */
	/* mail-idle's MTA and since when nothing went through it. */
	const struct rules_mail_activity *idle;
	int64_t idle_since;
	/* mail-queue-backlog's MTA, NULL when none holds. */
	const struct rules_mail_activity *backlog;
};

static bool has_project(const struct rules_host *h)
{
	return h->project && h->project[0];
}

static bool older_than(int64_t now, int64_t t, int64_t span)
{
	return t > 0 && now - t > span;
}

/* A date (midnight UTC) is past once the next day has begun. */
static bool date_past(int64_t now, int64_t date)
{
	return date > 0 && now >= date + DAY;
}

static bool sig(const struct eval *e, enum rules_signal_kind k)
{
	return e->r.signal_mask & (1u << k);
}

/* Appends a signal; takes fields (even on failure). */
static int add_signal(struct eval *e, enum rules_signal_kind k, int64_t since,
		      struct line *ev, json_t *fields)
{
	struct rules_signal *s = &e->r.signals[e->r.n_signals];
	int err = 0;
	char *text = line_take(ev, &err);

	if (!text || !fields) {
		free(text);
		json_decref(fields);
		return err ? err : -ENOMEM;
	}
	s->kind = k;
	s->since = since;
	s->evidence = text;
	s->fields = fields;
	e->r.n_signals++;
	e->r.signal_mask |= 1u << k;
	return 0;
}

static int signal_project_ended(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;
	int r = 0;

	if (!has_project(h) || !date_past(e->now, h->project_ends_on))
		return 0;
	line_init(&l);
	line_puts(&l, "project ");
	line_clip(&l, h->project);
	line_puts(&l, " ended ");
	line_date(&l, h->project_ends_on);
	f = json_object();
	if (f) {
		r |= json_set_str(f, "project", h->project);
		r |= jset_date(f, "ends_on", h->project_ends_on);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(f);
		return -ENOMEM;
	}
	return add_signal(e, RULES_SIG_PROJECT_ENDED, h->project_ends_on, &l, f);
}

static int signal_unowned(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;

	if (has_project(h) ||
	    !older_than(e->now, h->first_seen, e->cfg->unowned_grace))
		return 0;
	line_init(&l);
	line_puts(&l, "in no project since first seen ");
	line_date(&l, h->first_seen);
	f = json_object();
	if (f && json_set_time(f, "first_seen", h->first_seen) < 0) {
		json_decref(f);
		f = NULL;
	}
	return add_signal(e, RULES_SIG_UNOWNED, h->first_seen, &l, f);
}

static int signal_idle(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;
	int r = 0;

	if (h->last_login_at > 0 &&
	    !older_than(e->now, h->last_login_at, e->cfg->idle_after))
		return 0;
	line_init(&l);
	if (h->last_login_at <= 0) {
		line_puts(&l, "no interactive login recorded");
	} else {
		line_puts(&l, "no interactive login since ");
		line_date(&l, h->last_login_at);
		if (h->last_login_user && h->last_login_user[0]) {
			line_puts(&l, " (");
			line_clip(&l, h->last_login_user);
			if (h->last_login_from && h->last_login_from[0]) {
				line_puts(&l, " from ");
				line_clip(&l, h->last_login_from);
			}
			line_puts(&l, ")");
		}
	}
	f = json_object();
	if (f) {
		r |= json_set_time(f, "last_login", h->last_login_at);
		r |= json_set_str(f, "user", h->last_login_at > 0 ?
					     h->last_login_user : NULL);
		r |= json_set_str(f, "from",
				  h->last_login_at > 0 && h->last_login_from &&
						  h->last_login_from[0] ?
					  h->last_login_from :
					  NULL);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(f);
		return -ENOMEM;
	}
	return add_signal(e, RULES_SIG_IDLE,
			  h->last_login_at > 0 ? h->last_login_at : 0, &l, f);
}

static int signal_unmaintained(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;

	if (!older_than(e->now, h->packages_changed_at,
			e->cfg->unmaintained_after))
		return 0;
	line_init(&l);
	line_puts(&l, "package database unchanged since ");
	line_date(&l, h->packages_changed_at);
	f = json_object();
	if (f && json_set_time(f, "changed_at", h->packages_changed_at) < 0) {
		json_decref(f);
		f = NULL;
	}
	return add_signal(e, RULES_SIG_UNMAINTAINED, h->packages_changed_at, &l,
			  f);
}

/* The last sign of life: the last report, or enrolment for a host that
 * never reported. */
static int64_t last_heard(const struct rules_host *h)
{
	return h->last_seen > 0 ? h->last_seen : h->first_seen;
}

static bool is_silent(const struct eval *e)
{
	return older_than(e->now, last_heard(e->h), e->cfg->silent_after);
}

static int signal_silent(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;

	if (!is_silent(e))
		return 0;
	line_init(&l);
	if (h->last_seen > 0) {
		line_puts(&l, "no report since ");
		line_time(&l, h->last_seen);
	} else {
		line_puts(&l, "never reported since enrolment on ");
		line_time(&l, h->first_seen);
	}
	f = json_object();
	if (f && json_set_time(f, "last_seen", h->last_seen) < 0) {
		json_decref(f);
		f = NULL;
	}
	return add_signal(e, RULES_SIG_SILENT, last_heard(h), &l, f);
}

static bool retired_reporting(const struct eval *e)
{
	const struct rules_host *h = e->h;

	if (!h->retired || h->last_seen <= 0)
		return false;
	if (h->retired_at > 0)
		return h->last_seen > h->retired_at;
	return !is_silent(e);
}

static int signal_retired(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *f;
	int r = 0;

	if (!retired_reporting(e))
		return 0;
	line_init(&l);
	if (h->retired_at > 0) {
		line_puts(&l, "marked retired on ");
		line_date(&l, h->retired_at);
		line_puts(&l, ", yet reported at ");
	} else {
		line_puts(&l, "marked retired, yet reported at ");
	}
	line_time(&l, h->last_seen);
	f = json_object();
	if (f) {
		r |= json_set_time(f, "retired_at", h->retired_at);
		r |= json_set_time(f, "last_seen", h->last_seen);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(f);
		return -ENOMEM;
	}
	return add_signal(e, RULES_SIG_RETIRED,
			  h->retired_at > 0 ? h->retired_at : h->last_seen, &l,
			  f);
}

/* "debian 10 (buster)" */
static void line_os(struct line *l, const struct rules_host *h)
{
	line_clip(l, h->os_id && h->os_id[0] ? h->os_id : "os");
	if (h->os_version_id && h->os_version_id[0]) {
		line_puts(l, " ");
		line_clip(l, h->os_version_id);
	}
	if (h->os_codename && h->os_codename[0]) {
		line_puts(l, " (");
		line_clip(l, h->os_codename);
		line_puts(l, ")");
	}
}

static int signal_eol(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l, os;
	json_t *f;
	char *ostext;
	int r = 0;

	if (!date_past(e->now, h->os_eol))
		return 0;
	line_init(&os);
	line_os(&os, h);
	ostext = line_take(&os, &r);
	if (!ostext)
		return r;
	line_init(&l);
	line_puts(&l, ostext);
	line_puts(&l, " reached end of life on ");
	line_date(&l, h->os_eol);
	f = json_object();
	if (f) {
		r |= json_set_str(f, "os", ostext);
		r |= jset_date(f, "eol", h->os_eol);
	}
	free(ostext);
	if (r) {
		buf_free(&l.b);
		json_decref(f);
		return -ENOMEM;
	}
	return add_signal(e, RULES_SIG_EOL_OS, h->os_eol, &l, f);
}

/* "Exim", "Postfix": how a sentence names an MTA. */
static const char *mta_title(const char *mta)
{
	static const char *const titles[][2] = {
		{ "exim", "Exim" },	    { "postfix", "Postfix" },
		{ "sendmail", "Sendmail" }, { "opensmtpd", "OpenSMTPD" },
		{ "courier", "Courier" },   { "qmail", "qmail" },
	};

	for (size_t i = 0; mta && i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i][0], mta) == 0)
			return titles[i][1];
	return "MTA";
}

/* The last message in or out, or 0 when the log read showed none. */
static int64_t activity_last(const struct rules_mail_activity *a)
{
	return a->last_delivered > a->last_received ? a->last_delivered :
						      a->last_received;
}

/* Since when nothing has gone through a: its last message, else the start
 * of the log that shows none; 0 when its log says nothing. */
static int64_t activity_quiet_since(const struct rules_mail_activity *a)
{
	if (!a->has_log)
		return 0;
	return activity_last(a) > 0 ? activity_last(a) : a->log_since;
}

/* "nothing has gone through this Exim since 2025-02-11" */
static void line_idle(struct line *l, const struct eval *e)
{
	line_puts(l, "nothing has gone through this ");
	line_puts(l, mta_title(e->idle->mta));
	line_puts(l, activity_last(e->idle) > 0 ? " since " :
						  " since at least ");
	line_date(l, e->idle_since);
	if (activity_last(e->idle) <= 0)
		line_puts(l, ", where its log begins");
}

static int signal_mail_idle(struct eval *e)
{
	const struct rules_host *h = e->h;
	const struct rules_mail_activity *latest = NULL;
	int64_t since = 0;
	struct line l;
	json_t *f;
	int r = 0;

	/* Every MTA whose log was read must be quiet: one that still carries
	 * mail makes the host's mail alive. */
	for (size_t i = 0; i < h->n_mail_activity; i++) {
		const struct rules_mail_activity *a = &h->mail_activity[i];
		int64_t t = activity_quiet_since(a);

		if (!a->has_log)
			continue;
		if (!older_than(e->now, t, e->cfg->mail_idle_after))
			return 0;
		if (!latest || t > since) {
			latest = a;
			since = t;
		}
	}
	if (!latest)
		return 0;
	e->idle = latest;
	e->idle_since = since;
	line_init(&l);
	line_idle(&l, e);
	f = json_object();
	if (f) {
		r |= json_set_str(f, "mta", latest->mta);
		r |= json_set_time(f, "last_delivered", latest->last_delivered);
		r |= json_set_time(f, "last_received", latest->last_received);
		r |= json_set_time(f, "log_since", latest->log_since);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(f);
		return -ENOMEM;
	}
	return add_signal(e, RULES_SIG_MAIL_IDLE, since, &l, f);
}

static bool frozen_grew(const struct rules_mail_activity *a)
{
	return a->frozen >= 0 && a->frozen_before >= 0 &&
	       a->frozen > a->frozen_before;
}

/* The MTA whose queue is the backlog: over the threshold, or with its
 * frozen messages growing; the longest queue among those. */
static void find_backlog(struct eval *e)
{
	const struct rules_host *h = e->h;

	e->backlog = NULL;
	for (size_t i = 0; i < h->n_mail_activity; i++) {
		const struct rules_mail_activity *a = &h->mail_activity[i];

		if (!a->has_queue ||
		    (a->queue <= e->cfg->queue_backlog && !frozen_grew(a)))
			continue;
		if (!e->backlog || a->queue > e->backlog->queue)
			e->backlog = a;
	}
}

/* "2000 messages wait in this Exim's queue" and what of them is frozen. */
static void line_queue(struct line *l, const struct eval *e)
{
	const struct rules_mail_activity *a = e->backlog;

	line_printf(l, "%lld message%s wait%s in this ", (long long)a->queue,
		    a->queue == 1 ? "" : "s", a->queue == 1 ? "s" : "");
	line_puts(l, mta_title(a->mta));
	line_puts(l, "'s queue");
	if (a->frozen > 0)
		line_printf(l, ", %lld frozen", (long long)a->frozen);
	if (frozen_grew(a)) {
		line_printf(l, " (up from %lld", (long long)a->frozen_before);
		if (a->frozen_changed_at > 0) {
			line_puts(l, " at ");
			line_time(l, a->frozen_changed_at);
		}
		line_puts(l, ")");
	}
}

static enum rules_severity clamp_sev(int s)
{
	return s < RULES_SEV_INFO     ? RULES_SEV_INFO :
	       s > RULES_SEV_CRITICAL ? RULES_SEV_CRITICAL :
					(enum rules_severity)s;
}

static enum rules_severity raise_sev(enum rules_severity s)
{
	return s >= RULES_SEV_CRITICAL ? RULES_SEV_CRITICAL : s + 1;
}

/* What one CVE weighs: Debian's "minor" (no DSA) is low at most, and a
 * verdict the host's release has no data for is never critical. */
static enum rules_severity vuln_sev(const struct rules_vuln *v)
{
	enum rules_severity s = clamp_sev(v->severity);

	if (v->nodsa && s > RULES_SEV_LOW)
		s = RULES_SEV_LOW;
	if (v->unconfirmed && s > RULES_SEV_HIGH)
		s = RULES_SEV_HIGH;
	return s;
}

/* Groups the MTA packages with advisories by source package. */
static int collect_vulns(struct eval *e)
{
	const struct rules_host *h = e->h;

	if (!h->n_packages)
		return 0;
	e->groups = calloc(h->n_packages, sizeof(*e->groups));
	if (!e->groups)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_packages; i++) {
		const struct rules_package *p = &h->packages[i];
		const char *src = p->source && p->source[0] ? p->source : p->name;
		struct vuln_group *g = NULL;
		int k;

		if (!p->n_vulns || !src)
			continue;
		k = mta_index_of_package(p->name, p->source);
		if (k < 0)
			continue;
		for (size_t j = 0; j < e->n_groups; j++)
			if (strcmp(e->groups[j].source, src) == 0)
				g = &e->groups[j];
		if (!g) {
			g = &e->groups[e->n_groups++];
			g->source = src;
			g->version = p->source_version && p->source_version[0] ?
					     p->source_version :
					     p->version;
			g->mta = k;
			g->worst = RULES_SEV_INFO;
		}
		for (size_t j = 0; j < p->n_vulns; j++) {
			const struct rules_vuln *v = &p->vulns[j];
			const struct rules_vuln **nv;
			bool dup = false;

			if (!v->cve)
				continue;
			for (size_t x = 0; x < g->n && !dup; x++)
				dup = strcmp(g->v[x]->cve, v->cve) == 0;
			if (v->remote)
				g->remote = true;
			if (vuln_sev(v) > g->worst)
				g->worst = vuln_sev(v);
			if (!v->unconfirmed) {
				g->confirmed = true;
				if (!v->nodsa)
					g->serious = true;
			}
			/* The daemon is what an operator knows to upgrade;
			 * apt brings its siblings along. */
			if (!g->package || (strstr(p->name, "daemon") &&
					    !strstr(g->package, "daemon")))
				g->package = p->name;
			if (dup)
				continue;
			nv = reallocarray(g->v, g->n + 1, sizeof(*g->v));
			if (!nv)
				return -ENOMEM;
			g->v = nv;
			g->v[g->n++] = v;
		}
	}
	for (size_t j = 0; j < e->n_groups; j++) {
		struct vuln_group *g = &e->groups[j];

		g->relevant = (e->ms.families & (1u << g->mta)) ||
			      (e->ms.families == 0 && e->r.mail.running);
		if (g->relevant && g->n && g->serious)
			e->vulnerable = true;
	}
	return 0;
}

static void free_groups(struct eval *e)
{
	for (size_t j = 0; j < e->n_groups; j++)
		free(e->groups[j].v);
	free(e->groups);
	e->groups = NULL;
	e->n_groups = 0;
}

/* Appends a finding built from a line and details (taken even on
 * failure). */
static int add_finding(struct eval *e, enum rules_rule rule,
		       enum rules_severity sev, const char *key_suffix,
		       struct line *summary, json_t *details)
{
	struct rules_finding *f = &e->r.findings[e->r.n_findings];
	struct line key;
	int err = 0;
	char *text = line_take(summary, &err), *k;

	line_init(&key);
	line_puts(&key, rule_names[rule]);
	if (key_suffix) {
		line_puts(&key, ":");
		line_clip(&key, key_suffix);
	}
	k = line_take(&key, &err);
	if (!text || !k || !details) {
		free(text);
		free(k);
		json_decref(details);
		return err ? err : -ENOMEM;
	}
	f->rule = rule;
	f->severity = sev;
	f->key = k;
	f->summary = text;
	f->details = details;
	e->r.n_findings++;
	return 0;
}

static json_t *ports_json(const struct rules_mail *m)
{
	json_t *mj = rules_mail_json(m), *ports;

	if (!mj)
		return NULL;
	ports = json_incref(json_object_get(mj, "ports"));
	json_decref(mj);
	return ports;
}

static json_t *signal_names_json(const struct eval *e)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < e->r.n_signals; i++)
		if (json_array_append_new(
			    a, json_string(signal_names[e->r.signals[i].kind])) <
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *cves_json(const struct vuln_group *g)
{
	json_t *a = json_array();

	for (size_t i = 0; a && g && i < g->n; i++)
		if (json_array_append_new(a, json_string(g->v[i]->cve)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static const struct vuln_group *group_of_mta(const struct eval *e, int mta)
{
	for (size_t j = 0; j < e->n_groups; j++)
		if (e->groups[j].mta == mta)
			return &e->groups[j];
	return NULL;
}

/* The package (and version) that provides an MTA, for summaries. */
static const struct rules_package *package_of_mta(const struct eval *e,
						  int mta)
{
	const struct rules_package *first = NULL;

	for (size_t i = 0; i < e->h->n_packages; i++) {
		const struct rules_package *p = &e->h->packages[i];

		if (mta_index_of_package(p->name, p->source) != mta)
			continue;
		/* Prefer the package that carries advisories. */
		if (p->n_vulns)
			return p;
		if (!first)
			first = p;
	}
	return first;
}

/* "exim4 4.92-8+deb10u2 (vulnerable to CVE-2019-10149) listens on
 * 0.0.0.0:25"; g is the running MTA's advisories, or NULL. */
static void line_mail(struct line *l, const struct eval *e,
		      const struct vuln_group *g)
{
	const struct rules_mail *m = &e->r.mail;
	const struct rules_mail_port *port = mail_main_port(m);
	const struct rules_package *p =
		e->ms.best >= 0 ? package_of_mta(e, e->ms.best) : NULL;

	if (p) {
		const char *src = p->source && p->source[0] ? p->source : p->name;
		const char *ver = p->source_version && p->source_version[0] ?
					  p->source_version :
					  p->version;

		line_clip(l, src);
		if (ver && ver[0]) {
			line_puts(l, " ");
			line_clip(l, ver);
		}
	} else if (m->mta) {
		line_puts(l, m->mta);
	} else {
		line_puts(l, "a mail service");
	}
	if (g && g->n) {
		line_puts(l, " (vulnerable to ");
		line_clip(l, g->v[0]->cve);
		if (g->n > 1)
			line_printf(l, " and %zu more", g->n - 1);
		line_puts(l, ")");
	}
	if (!port) {
		line_puts(l, " runs");
		return;
	}
	line_puts(l, " listens on ");
	line_endpoint(l, port);
	if (m->n_ports > 1)
		line_printf(l, " and %zu more port%s", m->n_ports - 1,
			    m->n_ports > 2 ? "s" : "");
	if (!m->exposed)
		line_puts(l, " (loopback only)");
}

static int finding_abandoned_mail(struct eval *e)
{
	const struct rules_host *h = e->h;
	const struct rules_mail *m = &e->r.mail;
	const struct vuln_group *g =
		e->ms.best >= 0 ? group_of_mta(e, e->ms.best) : NULL;
	struct line l;
	json_t *d;
	int r = 0;

	if (!e->r.abandoned || !m->running)
		return 0;
	if (!g)
		for (size_t j = 0; j < e->n_groups && !g; j++)
			if (e->groups[j].relevant)
				g = &e->groups[j];

	line_init(&l);
	if (e->vulnerable && g && (e->ms.best < 0 || g->mta == e->ms.best)) {
		line_mail(&l, e, g);
	} else {
		line_mail(&l, e, NULL);
		/* Another running MTA is the vulnerable one: name it. */
		if (e->vulnerable && g && g->n) {
			line_puts(&l, "; ");
			line_clip(&l, g->source);
			line_puts(&l, " ");
			line_clip(&l, g->version);
			line_puts(&l, " is vulnerable to ");
			line_clip(&l, g->v[0]->cve);
		}
	}
	if (sig(e, RULES_SIG_PROJECT_ENDED)) {
		line_puts(&l, "; project ");
		line_clip(&l, h->project);
		line_puts(&l, " ended ");
		line_date(&l, h->project_ends_on);
	}
	if (sig(e, RULES_SIG_RETIRED)) {
		line_puts(&l, "; it was retired");
		if (h->retired_at > 0) {
			line_puts(&l, " on ");
			line_date(&l, h->retired_at);
		}
		line_puts(&l, " yet still reports");
	}
	if (sig(e, RULES_SIG_UNOWNED)) {
		line_puts(&l, "; it belongs to no project since ");
		line_date(&l, h->first_seen);
	}
	if (sig(e, RULES_SIG_IDLE)) {
		if (h->last_login_at > 0) {
			line_puts(&l, "; nobody logged in since ");
			line_date(&l, h->last_login_at);
		} else {
			line_puts(&l, "; no interactive login was ever recorded");
		}
	}
	if (sig(e, RULES_SIG_UNMAINTAINED)) {
		line_puts(&l, "; its packages are unchanged since ");
		line_date(&l, h->packages_changed_at);
	}
	if (sig(e, RULES_SIG_MAIL_IDLE)) {
		line_puts(&l, "; ");
		line_idle(&l, e);
	}
	if (e->backlog) {
		line_puts(&l, "; ");
		line_queue(&l, e);
	}
	line_puts(&l, ".");

	d = json_object();
	if (d) {
		r |= json_set_str(d, "mta", m->mta);
		r |= jset(d, "exposed", json_boolean(m->exposed));
		r |= jset(d, "vulnerable", json_boolean(e->vulnerable));
		r |= jset(d, "ports", ports_json(m));
		r |= jset(d, "signals", signal_names_json(e));
		r |= jset(d, "cves", cves_json(e->vulnerable ? g : NULL));
		r |= json_set_str(d, "project",
				  has_project(h) ? h->project : NULL);
		r |= jset_date(d, "ends_on", h->project_ends_on);
		r |= json_set_time(d, "last_login", h->last_login_at);
		r |= json_set_time(d, "mail_idle_since",
				   e->idle ? e->idle_since : 0);
		r |= jset(d, "queue", e->backlog ?
					      json_integer(e->backlog->queue) :
					      json_null());
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_ABANDONED_MAIL_SERVICE,
			   m->exposed || e->vulnerable ? RULES_SEV_CRITICAL :
							 RULES_SEV_HIGH,
			   NULL, &l, d);
}

static const char *vendor_name(const char *os_id)
{
	if (os_id && strcmp(os_id, "debian") == 0)
		return "Debian";
	if (os_id && strcmp(os_id, "ubuntu") == 0)
		return "Ubuntu";
	if (os_id && strcmp(os_id, "centos") == 0)
		return "CentOS";
	if (os_id && strcmp(os_id, "rhel") == 0)
		return "Red Hat";
	if (os_id && strcmp(os_id, "rocky") == 0)
		return "Rocky Linux";
	if (os_id && strcmp(os_id, "almalinux") == 0)
		return "AlmaLinux";
	if (os_id && strcmp(os_id, "fedora") == 0)
		return "Fedora";
	return NULL;
}

/* The host's release as its data names it: "buster", else "10". */
static const char *release_name(const struct rules_host *h)
{
	if (h->os_codename && h->os_codename[0])
		return h->os_codename;
	if (h->os_version_id && h->os_version_id[0])
		return h->os_version_id;
	return NULL;
}

static bool release_past_eol(const struct eval *e)
{
	return date_past(e->now, e->h->os_eol);
}

/* Why a verdict is unconfirmed: "buster has had no Debian security support
 * since 2024-06-30". */
static void line_unconfirmed(struct line *l, const struct eval *e)
{
	const struct rules_host *h = e->h;
	const char *rel = release_name(h), *vendor = vendor_name(h->os_id);

	if (rel && release_past_eol(e)) {
		line_clip(l, rel);
		line_puts(l, " has had no ");
		if (vendor) {
			line_puts(l, vendor);
			line_puts(l, " ");
		}
		line_puts(l, "security support since ");
		line_date(l, h->os_eol);
	} else if (rel) {
		line_puts(l, "no security data for ");
		if (h->os_id && h->os_id[0]) {
			line_clip(l, h->os_id);
			line_puts(l, " ");
		}
		line_clip(l, rel);
		line_puts(l, ", judged by the upstream version");
	} else {
		line_puts(l, "the host's release is unknown, judged by the "
			     "upstream version");
	}
}

/* The newest fixed version the confirmed CVEs name, or NULL; in RPM
 * order on a host of the Red Hat family. */
static const char *group_fix(const struct rules_host *h,
			     const struct vuln_group *g)
{
	bool rpm = advisory_os_is_rpm(h->os_id);
	const char *best = NULL;

	for (size_t i = 0; i < g->n; i++) {
		const char *f = g->v[i]->fixed_version;

		if (g->v[i]->unconfirmed || !f ||
		    (rpm ? rpmver_valid(f) : dpkgver_valid(f)) != 0)
			continue;
		if (!best || (rpm ? rpmver_compare(f, best)
				  : dpkgver_compare(f, best)) > 0)
			best = f;
	}
	return best;
}

/* Up to three CVEs of g for which want() holds: "CVE-1, CVE-2 and 4
 * more".  The number that hold. */
static size_t line_some_cves(struct line *l, const struct vuln_group *g,
			     bool (*want)(const struct rules_vuln *))
{
	size_t n = 0, shown = 0;

	for (size_t i = 0; i < g->n; i++)
		n += want(g->v[i]);
	for (size_t i = 0; i < g->n && shown < 3; i++) {
		if (!want(g->v[i]))
			continue;
		if (shown)
			line_puts(l, shown + 1 == n ? " and " : ", ");
		line_clip(l, g->v[i]->cve);
		shown++;
	}
	if (n > shown)
		line_printf(l, " and %zu more", n - shown);
	return n;
}

static bool want_no_fix(const struct rules_vuln *v)
{
	return v->no_fix && !v->unconfirmed;
}

static bool want_minor(const struct rules_vuln *v)
{
	return v->nodsa != NULL && !v->unconfirmed;
}

/* What to do, after "; ": "upgrade exim4-daemon-light to 4.96-15+deb12u11
 * or later (DSA-5812-1)", "no fix yet in bookworm for CVE-…", "buster is
 * past its end of life: upgrade the release or shut the host down". */
static void line_remedy(struct line *l, const struct eval *e,
			const struct vuln_group *g)
{
	const char *fix = group_fix(e->h, g), *rel = release_name(e->h);
	bool any = false, unconfirmed = false;

	if (fix) {
		size_t ids = 0, more = 0;

		line_puts(l, "upgrade ");
		line_clip(l, g->package ? g->package : g->source);
		line_puts(l, " to ");
		line_clip(l, fix);
		line_puts(l, " or later");
		for (size_t i = 0; i < g->n; i++) {
			const char *id = g->v[i]->advisory;
			bool dup = false;

			if (!id || !id[0] || g->v[i]->unconfirmed)
				continue;
			for (size_t j = 0; j < i && !dup; j++)
				dup = g->v[j]->advisory &&
				      strcmp(g->v[j]->advisory, id) == 0;
			if (dup)
				continue;
			if (ids == 3) {
				more++;
				continue;
			}
			line_puts(l, ids ? ", " : " (");
			line_clip(l, id);
			ids++;
		}
		if (more)
			line_printf(l, " and %zu more", more);
		if (ids)
			line_puts(l, ")");
		any = true;
	}
	for (size_t i = 0; i < g->n; i++)
		unconfirmed |= g->v[i]->unconfirmed;
	{
		struct line t;

		line_init(&t);
		if (line_some_cves(&t, g, want_no_fix)) {
			line_puts(l, any ? "; no fix yet in " :
					   "no fix yet in ");
			line_clip(l, rel ? rel : "the host's release");
			line_puts(l, " for ");
			line_some_cves(l, g, want_no_fix);
			any = true;
		}
		buf_free(&t.b);
		line_init(&t);
		if (line_some_cves(&t, g, want_minor)) {
			line_puts(l, any ? "; " : "");
			line_puts(l, "Debian rates ");
			line_some_cves(l, g, want_minor);
			line_puts(l, " minor (no advisory)");
			any = true;
		}
		buf_free(&t.b);
	}
	if (rel && release_past_eol(e)) {
		line_puts(l, any ? "; " : "");
		line_clip(l, rel);
		line_puts(l, " is past its end of life: upgrade the release or "
			     "shut the host down");
	} else if (unconfirmed && !any) {
		line_puts(l, "check ");
		line_clip(l, g->package ? g->package : g->source);
		line_puts(l, " against its vendor's advisories");
	}
}

static int finding_vulnerable(struct eval *e, const struct vuln_group *g)
{
	const struct rules_mail *m = &e->r.mail;
	bool raised = g->relevant && m->exposed;
	enum rules_severity sev = raised ? raise_sev(g->worst) : g->worst;
	struct line l, rem, why;
	json_t *d, *adv;
	int r = 0;

	/* No data for the release: never a confident critical. */
	if (!g->confirmed && sev > RULES_SEV_HIGH)
		sev = RULES_SEV_HIGH;
	line_init(&rem);
	line_remedy(&rem, e, g);
	line_init(&why);
	line_unconfirmed(&why, e);

	line_init(&l);
	line_clip(&l, g->source);
	if (g->version && g->version[0]) {
		line_puts(&l, " ");
		line_clip(&l, g->version);
	}
	line_puts(&l, g->confirmed ? " is affected by " : " may be affected by ");
	for (size_t i = 0; i < g->n && i < SUMMARY_CVES; i++) {
		if (i)
			line_puts(&l, i + 1 == g->n ? " and " : ", ");
		line_clip(&l, g->v[i]->cve);
	}
	if (g->n > SUMMARY_CVES)
		line_printf(&l, " and %zu more", g->n - SUMMARY_CVES);
	line_puts(&l, " (");
	if (!g->confirmed) {
		line_puts(&l, "unconfirmed: ");
		line_puts(&l, rem.err || why.err ? "?" : why.b.data);
		line_puts(&l, "; ");
	}
	line_printf(&l, "worst %s%s)", severity_names[g->worst],
		    g->remote ? ", remote" : "");
	if (raised) {
		line_puts(&l, " and listens on ");
		line_endpoint(&l, mail_main_port(m));
	} else if (g->relevant) {
		line_puts(&l, " and runs");
	} else {
		line_puts(&l, "; it is installed but does not run");
	}
	if (!rem.err && rem.b.len) {
		line_puts(&l, "; ");
		line_puts(&l, rem.b.data);
	}
	line_puts(&l, ".");

	d = json_object();
	adv = json_array();
	if (d && adv) {
		r |= json_set_str(d, "package", g->source);
		r |= json_set_str(d, "version", g->version);
		r |= json_set_str(d, "mta", mtas[g->mta].name);
		r |= jset(d, "cves", cves_json(g));
		r |= jset(d, "worst", json_string(severity_names[g->worst]));
		r |= jset(d, "running", json_boolean(g->relevant));
		r |= jset(d, "exposed", json_boolean(raised));
		r |= jset(d, "confirmed", json_boolean(g->confirmed));
		r |= json_set_str(d, "release", release_name(e->h));
		r |= json_set_str(d, "unconfirmed_reason",
				  g->confirmed || why.err ? NULL : why.b.data);
		r |= json_set_str(d, "remedy",
				  rem.err || !rem.b.len ? NULL : rem.b.data);
		r |= json_set_str(d, "upgrade_package",
				  group_fix(e->h, g) ? g->package : NULL);
		r |= json_set_str(d, "fixed_version", group_fix(e->h, g));
		for (size_t i = 0; i < g->n; i++) {
			const struct rules_vuln *v = g->v[i];
			json_t *a = json_object();

			if (!a || json_array_append_new(adv, a) < 0) {
				r = -ENOMEM;
				break;
			}
			r |= json_set_str(a, "cve", v->cve);
			r |= jset(a, "severity",
				  json_string(severity_names[vuln_sev(v)]));
			r |= jset(a, "remote", json_boolean(v->remote));
			r |= json_set_str(a, "fixed_version", v->fixed_version);
			r |= jset(a, "no_fix", json_boolean(v->no_fix));
			r |= json_set_str(a, "advisory",
					  v->advisory && v->advisory[0] ?
						  v->advisory :
						  NULL);
			r |= json_set_str(a, "urgency",
					  v->urgency && v->urgency[0] ?
						  v->urgency :
						  NULL);
			r |= jset(a, "minor", json_boolean(v->nodsa != NULL));
			r |= json_set_str(a, "nodsa", v->nodsa);
			r |= jset(a, "confirmed", json_boolean(!v->unconfirmed));
			r |= json_set_str(a, "source", v->data_source);
			r |= jset_date(a, "data_date", v->data_date);
		}
		r |= jset(d, "advisories", adv);
		adv = NULL;
	} else {
		r = -ENOMEM;
	}
	json_decref(adv);
	buf_free(&rem.b);
	buf_free(&why.b);
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_VULNERABLE_MTA, sev, g->source, &l, d);
}

static int finding_queue_backlog(struct eval *e)
{
	const struct rules_mail_activity *a = e->backlog;
	const struct rules_mail *m = &e->r.mail;
	struct line l;
	json_t *d;
	int r = 0;

	if (!a)
		return 0;
	line_init(&l);
	line_queue(&l, e);
	if (a->queue > e->cfg->queue_backlog)
		line_printf(&l, ", more than the %lld of queue_backlog",
			    (long long)e->cfg->queue_backlog);
	if (m->exposed) {
		line_puts(&l, ", and it listens on ");
		line_endpoint(&l, mail_main_port(m));
	}
	line_puts(&l, ": a queue that grows on a forgotten server is often "
		      "someone else's mail relayed through it.");
	d = json_object();
	if (d) {
		r |= json_set_str(d, "mta", a->mta);
		r |= jset(d, "queue", json_integer(a->queue));
		r |= jset(d, "frozen", a->frozen >= 0 ?
					       json_integer(a->frozen) :
					       json_null());
		r |= jset(d, "frozen_before",
			  a->frozen_before >= 0 ?
				  json_integer(a->frozen_before) :
				  json_null());
		r |= json_set_time(d, "frozen_changed_at",
				   a->frozen_changed_at);
		r |= jset(d, "frozen_growing", json_boolean(frozen_grew(a)));
		r |= jset(d, "threshold", json_integer(e->cfg->queue_backlog));
		r |= jset(d, "exposed", json_boolean(m->exposed));
		r |= jset(d, "ports", ports_json(m));
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_MAIL_QUEUE_BACKLOG,
			   m->exposed ? RULES_SEV_CRITICAL : RULES_SEV_HIGH,
			   NULL, &l, d);
}

static int finding_retired(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *d;
	int r = 0;

	if (!sig(e, RULES_SIG_RETIRED))
		return 0;
	line_init(&l);
	line_puts(&l, "The host was retired");
	if (h->retired_at > 0) {
		line_puts(&l, " on ");
		line_date(&l, h->retired_at);
	}
	line_puts(&l, " but still reported at ");
	line_time(&l, h->last_seen);
	line_puts(&l, ".");
	d = json_object();
	if (d) {
		r |= json_set_time(d, "retired_at", h->retired_at);
		r |= json_set_time(d, "last_seen", h->last_seen);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_RETIRED_HOST_REPORTING, RULES_SEV_HIGH,
			   NULL, &l, d);
}

static int finding_silent(struct eval *e)
{
	const struct rules_host *h = e->h;
	const struct rules_mail *m = &e->r.mail;
	struct line l;
	json_t *d;
	int r = 0;

	if (!sig(e, RULES_SIG_SILENT))
		return 0;
	line_init(&l);
	if (h->last_seen > 0) {
		line_puts(&l, "The host has not reported since ");
		line_time(&l, h->last_seen);
	} else {
		line_puts(&l, "The host never reported since its enrolment on ");
		line_time(&l, h->first_seen);
	}
	if (m->running) {
		line_puts(&l, " and its last report showed a mail service");
		if (m->mta) {
			line_puts(&l, " (");
			line_puts(&l, m->mta);
			line_puts(&l, ")");
		}
	}
	line_puts(&l, ".");
	d = json_object();
	if (d) {
		r |= json_set_time(d, "last_seen", h->last_seen);
		r |= jset(d, "silent_for_s",
			  json_integer(e->now - last_heard(h)));
		r |= jset(d, "mail", json_boolean(m->running));
		r |= json_set_str(d, "mta", m->mta);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_SILENT_HOST,
			   m->running ? RULES_SEV_HIGH : RULES_SEV_MEDIUM, NULL,
			   &l, d);
}

static int finding_project_ended(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *d;
	int r = 0;

	if (!sig(e, RULES_SIG_PROJECT_ENDED))
		return 0;
	line_init(&l);
	line_puts(&l, "Project ");
	line_clip(&l, h->project);
	line_puts(&l, " ended ");
	line_date(&l, h->project_ends_on);
	if (h->last_seen > 0) {
		line_puts(&l, " but the host still reported at ");
		line_time(&l, h->last_seen);
	} else {
		line_puts(&l, " but the host is still in the fleet");
	}
	line_puts(&l, ".");
	d = json_object();
	if (d) {
		r |= json_set_str(d, "project", h->project);
		r |= jset_date(d, "ends_on", h->project_ends_on);
		r |= json_set_time(d, "last_seen", h->last_seen);
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_PROJECT_ENDED, RULES_SEV_MEDIUM, NULL,
			   &l, d);
}

static int finding_unowned(struct eval *e)
{
	const struct rules_host *h = e->h;
	struct line l;
	json_t *d;
	int r = 0;

	if (!sig(e, RULES_SIG_UNOWNED))
		return 0;
	line_init(&l);
	line_puts(&l, "The host has belonged to no project since it was first "
		      "seen on ");
	line_date(&l, h->first_seen);
	line_printf(&l, ", past the %lld-day grace period.",
		    (long long)(e->cfg->unowned_grace / DAY));
	d = json_object();
	if (d) {
		r |= json_set_time(d, "first_seen", h->first_seen);
		r |= jset(d, "grace_s", json_integer(e->cfg->unowned_grace));
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_UNOWNED_HOST, RULES_SEV_LOW, NULL, &l,
			   d);
}

/* A section the agent could not read: what the server shows of it is as
 * last read, and a failure that lasts is worth more attention. */
static int finding_collector(struct eval *e,
			     const struct rules_collector_error *ce)
{
	bool lasting = e->now - ce->since > e->cfg->collector_failing_after;
	struct line l;
	json_t *d;
	int r = 0;

	line_init(&l);
	line_puts(&l, "The agent has not been able to read the host's ");
	line_clip(&l, ce->section);
	line_puts(&l, " since ");
	line_time(&l, ce->since);
	line_puts(&l, " (");
	line_clip(&l, ce->error ? ce->error : "no reason given");
	line_puts(&l, "), so they are shown as last read.");
	d = json_object();
	if (d) {
		r |= json_set_str(d, "section", ce->section);
		r |= json_set_str(d, "error", ce->error);
		r |= json_set_time(d, "since", ce->since);
		r |= jset(d, "failing_for_s", json_integer(e->now - ce->since));
	}
	if (r) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_COLLECTOR_FAILING,
			   lasting ? RULES_SEV_MEDIUM : RULES_SEV_LOW,
			   ce->section, &l, d);
}

static int finding_identity_changed(struct eval *e)
{
	const struct rules_host *h = e->h;
	char when[24];
	struct line l;
	json_t *d;
	int r = 0;

	if (h->identity_changed_at <= 0)
		return 0;
	line_init(&l);
	line_puts(&l, "Another machine took over this host's agent id at ");
	line_time(&l, h->identity_changed_at);
	line_puts(&l, " (machine-id ");
	line_clip(&l, h->machine_id && *h->machine_id ? h->machine_id
						      : "unknown");
	line_puts(&l, ", was ");
	line_clip(&l, h->previous_machine_id && *h->previous_machine_id
			      ? h->previous_machine_id
			      : "unknown");
	line_puts(&l, "); the previous inventory is kept as history.");
	d = json_object();
	if (d) {
		r |= json_set_time(d, "changed_at", h->identity_changed_at);
		r |= json_set_str(d, "machine_id", h->machine_id);
		r |= json_set_str(d, "previous_machine_id",
				  h->previous_machine_id);
	}
	if (r || !d) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	snprintf(when, sizeof(when), "%lld", (long long)h->identity_changed_at);
	return add_finding(e, RULES_RULE_HOST_IDENTITY_CHANGED, RULES_SEV_HIGH,
			   when, &l, d);
}

/* A relay for anyone is abused within days of being found, whatever the
 * host's other state: critical on its own. */
static int finding_open_relay(struct eval *e, const struct rules_probe *p)
{
	char where[96];
	struct line l;
	json_t *d;
	int r = 0;

	if (p->relay != 1 || !p->address)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", p->address, p->port);
	line_init(&l);
	line_puts(&l, "The SMTP server at ");
	line_clip(&l, where);
	line_puts(&l, " accepted a recipient in an outside domain from "
		      "derelictd's probe at ");
	line_time(&l, p->probed_at);
	line_puts(&l, ": it relays mail for anyone.");
	d = json_object();
	if (d) {
		r |= json_set_str(d, "address", p->address);
		r |= jset(d, "port", json_integer(p->port));
		r |= json_set_str(d, "banner", p->banner);
		r |= json_set_time(d, "probed_at", p->probed_at);
	}
	if (r || !d) {
		buf_free(&l.b);
		json_decref(d);
		return -ENOMEM;
	}
	return add_finding(e, RULES_RULE_OPEN_RELAY, RULES_SEV_CRITICAL, where,
			   &l, d);
}

static int evaluate(struct eval *e)
{
	static int (*const signals[])(struct eval *) = {
		signal_project_ended, signal_unowned, signal_idle,
		signal_unmaintained,  signal_silent,  signal_retired,
		signal_eol,	      signal_mail_idle,
	};
	const struct rules_host *h = e->h;
	int r;

	e->r.signals = calloc(RULES_SIG_COUNT, sizeof(*e->r.signals));
	e->r.findings = calloc(RULES_RULE_COUNT + h->n_packages +
				       h->n_collector_errors + h->n_probes,
			       sizeof(*e->r.findings));
	if (!e->r.signals || !e->r.findings)
		return -ENOMEM;

	r = mail_detect(h, e->cfg, &e->r.mail, &e->ms);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		r = signals[i](e);
		if (r < 0)
			return r;
	}

	/* A retired host that went quiet was switched off as intended: it is
	 * neither abandoned nor worth a finding. */
	e->done_retired = h->retired && !sig(e, RULES_SIG_RETIRED);
	if (e->done_retired)
		return finding_identity_changed(e);
	e->r.abandoned = sig(e, RULES_SIG_PROJECT_ENDED) ||
			 sig(e, RULES_SIG_RETIRED) ||
			 (sig(e, RULES_SIG_UNOWNED) && sig(e, RULES_SIG_IDLE) &&
			  sig(e, RULES_SIG_UNMAINTAINED));

	r = collect_vulns(e);
	if (r < 0)
		return r;
	find_backlog(e);
	r = finding_abandoned_mail(e);
	for (size_t j = 0; r == 0 && j < e->n_groups; j++)
		if (e->groups[j].n)
			r = finding_vulnerable(e, &e->groups[j]);
	if (r == 0)
		r = finding_retired(e);
	if (r == 0)
		r = finding_silent(e);
	if (r == 0)
		r = finding_project_ended(e);
	if (r == 0)
		r = finding_unowned(e);
	for (size_t i = 0; r == 0 && i < h->n_collector_errors; i++)
		if (h->collector_errors[i].section)
			r = finding_collector(e, &h->collector_errors[i]);
	if (r == 0)
		r = finding_identity_changed(e);
	if (r == 0)
		r = finding_queue_backlog(e);
	for (size_t i = 0; r == 0 && i < h->n_probes; i++)
		r = finding_open_relay(e, &h->probes[i]);
	return r;
}

int rules_evaluate(const struct rules_host *host,
		   const struct rules_config *cfg, int64_t now,
		   struct rules_result *ret)
{
	struct eval e = { .h = host, .cfg = cfg, .now = now };
	int r;

	if (!host || !cfg || !ret)
		return -EINVAL;
	r = evaluate(&e);
	free_groups(&e);
	if (r < 0) {
		rules_result_free(&e.r);
		return r;
	}
	*ret = e.r;
	return 0;
}

void rules_result_free(struct rules_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; res->signals && i < res->n_signals; i++) {
		free(res->signals[i].evidence);
		json_decref(res->signals[i].fields);
	}
	free(res->signals);
	for (size_t i = 0; res->findings && i < res->n_findings; i++) {
		free(res->findings[i].key);
		free(res->findings[i].summary);
		json_decref(res->findings[i].details);
	}
	free(res->findings);
	rules_mail_free(&res->mail);
	memset(res, 0, sizeof(*res));
}

bool rules_has_signal(const struct rules_result *res,
		      enum rules_signal_kind k)
{
	return res && (int)k >= 0 && k < RULES_SIG_COUNT &&
	       (res->signal_mask & (1u << k));
}

json_t *rules_signals_json(const struct rules_result *res)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < res->n_signals; i++) {
		const struct rules_signal *s = &res->signals[i];
		json_t *o = json_object();
		int r = 0;

		if (!o || json_array_append_new(a, o) < 0)
			goto fail;
		r |= jset(o, "signal", json_string(signal_names[s->kind]));
		r |= json_set_time(o, "since", s->since);
		r |= json_set_str(o, "evidence", s->evidence);
		if (s->fields)
			r |= json_object_update_missing(o, s->fields);
		if (r)
			goto fail;
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

bool rules_ack_in_force(int64_t until, enum rules_severity acked,
			enum rules_severity current, int64_t now)
{
	if (current > acked)
		return false;
	return until <= 0 || !date_past(now, until);
}

const char *rules_host_status(const struct rules_host *host,
			      const struct rules_config *cfg, int64_t now)
{
	struct eval e = { .h = host, .cfg = cfg, .now = now };

	if (host->retired)
		return "retired";
	return is_silent(&e) ? "silent" : "active";
}

enum rules_severity rules_result_worst(const struct rules_result *res)
{
	enum rules_severity worst = RULES_SEV_INFO;

	for (size_t i = 0; res && i < res->n_findings; i++)
		if (res->findings[i].severity > worst)
			worst = res->findings[i].severity;
	return worst;
}
