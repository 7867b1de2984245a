/* config.c - the table of derelictd.conf keys (SPEC section 1). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "rules.h"
#include "server.h"
#include "timeutil.h"

#define S(f) offsetof(struct server_config, f)
#define DAY 86400LL

const struct conf_key server_conf_keys[] = {
	{ "server", "listen", CONF_STRING, S(listen), "127.0.0.1:8470", 0, 0,
	  "address and port to listen on" },
	{ "server", "database", CONF_STRING, S(database),
	  "/var/lib/derelict/derelict.db", 0, 0,
	  "SQLite database file, or a postgresql:// URI" },
	{ "server", "database_password_file", CONF_STRING,
	  S(database_password_file), "", 0, 0,
	  "file holding the PostgreSQL password; empty: the URI's or PGPASSFILE" },
	{ "server", "state_dir", CONF_STRING, S(state_dir), "/var/lib/derelict",
	  0, 0, "with PostgreSQL, where the files SQLite's would sit beside go" },
	{ "server", "enroll_secret_file", CONF_STRING, S(enroll_secret_file),
	  SYSCONFDIR "/derelict/enroll-secret", 0, 0,
	  "file holding the agents' enrollment secret" },
	{ "server", "tls_cert", CONF_STRING, S(tls_cert), "", 0, 0,
	  "PEM certificate; with tls_key, serve HTTPS" },
	{ "server", "tls_key", CONF_STRING, S(tls_key), "", 0, 0,
	  "PEM private key" },
	{ "server", "max_body_bytes", CONF_INT, S(max_body_bytes), "16777216",
	  1024, 1LL << 30, "largest request body accepted" },
	{ "server", "max_connections_per_address", CONF_INT,
	  S(max_connections_per_address), "128", 1, 2048,
	  "connections one client address may hold open" },
	{ "server", "advisories_file", CONF_STRING, S(advisories_file),
	  DATADIR "/advisories.json", 0, 0, "shipped MTA advisories" },
	{ "server", "advisories_url", CONF_STRING, S(advisories_url),
	  "https://security-tracker.debian.org/tracker/data/json", 0, 0,
	  "the Debian Security Tracker's JSON export; empty: no fetching" },
	{ "server", "advisories_refresh", CONF_SPAN, S(advisories_refresh),
	  "24h", 1, 365 * DAY, "period of fetching advisories_url" },
	{ "server", "eol_file", CONF_STRING, S(eol_file), DATADIR "/eol.json",
	  0, 0, "shipped OS end-of-life dates" },
	{ "server", "history_keep", CONF_SPAN, S(history_keep), "400d", 60,
	  100 * 365 * DAY, "how long change history is kept" },
	{ "server", "changes_per_report", CONF_INT, S(changes_per_report),
	  "2000", 1, 1000000, "change rows one report may itemise per host" },
	{ "server", "changes_per_day", CONF_INT, S(changes_per_day), "20000",
	  1, 100000000, "change rows a host may itemise per day (UTC)" },
	{ "server", "public_url", CONF_STRING, S(public_url), "", 0, 0,
	  "the address people reach the web page at; the base of links" },
	{ "rules", "smtp_ports", CONF_PORTS, S(smtp_ports), "25, 465, 587, 2525",
	  0, 0, "ports that mean a mail service" },
	{ "rules", "unowned_grace", CONF_SPAN, S(unowned_grace), "14d", 0,
	  100 * 365 * DAY, "time without a project before 'unowned'" },
	{ "rules", "idle_after", CONF_SPAN, S(idle_after), "30d", 0,
	  100 * 365 * DAY, "time without a login before 'idle'" },
	{ "rules", "unmaintained_after", CONF_SPAN, S(unmaintained_after), "90d",
	  0, 100 * 365 * DAY, "time without package changes" },
	{ "rules", "silent_after", CONF_SPAN, S(silent_after), "48h", 1,
	  100 * 365 * DAY, "time without a report before 'silent'" },
	{ "rules", "mail_idle_after", CONF_SPAN, S(mail_idle_after), "90d", 0,
	  100 * 365 * DAY, "time without a message in or out: 'mail-idle'" },
	{ "rules", "queue_backlog", CONF_INT, S(queue_backlog), "1000", 0,
	  1LL << 40, "messages queued beyond which 'mail-queue-backlog'" },
	{ "rules", "evaluate_every", CONF_SPAN, S(evaluate_every), "60s", 1,
	  DAY, "period of the time-based re-evaluation" },
	{ "notify", "webhook_url", CONF_STRING, S(webhook_url), "", 0, 0,
	  "http(s) URL events are POSTed to; more in [webhook NAME]" },
	{ "notify", "webhook_secret_file", CONF_STRING, S(webhook_secret_file),
	  "", 0, 0, "file holding its whsec_ signing secret" },
	{ "notify", "webhook_min_severity", CONF_STRING,
	  S(webhook_min_severity), "low", 0, 0,
	  "least severity of the findings it is told of" },
	{ "notify", "retry_base", CONF_SPAN, S(notify_retry_base), "30s", 1,
	  DAY, "delay before the first retry of a failed delivery" },
	{ "notify", "retry_for", CONF_SPAN, S(notify_retry_for), "24h", 1,
	  30 * DAY, "how long a delivery is retried before it fails" },
	{ "notify", "alertmanager_url", CONF_STRING, S(alertmanager_url), "",
	  0, 0, "Alertmanager to push findings to as alerts; empty: none" },
	{ "notify", "smtp_url", CONF_STRING, S(smtp_url), "", 0, 0,
	  "mail server for owner digests (smtp://127.0.0.1:25 or smtps://); "
	  "empty: no mail" },
	{ "notify", "mail_from", CONF_STRING, S(mail_from),
	  "derelict@localhost", 0, 0, "sender address of the digests" },
	{ "notify", "digest_every", CONF_SPAN, S(digest_every), "24h", 60,
	  365 * DAY, "at most one digest per contact this often" },
	{ "notify", "digest_settle", CONF_SPAN, S(digest_settle), "10s", 0,
	  DAY, "a digest waits until its findings stop opening for this long" },
	{ "notify", "escalate_after", CONF_SPAN, S(escalate_after), "7d", 1,
	  365 * DAY, "unanswered this long, a digest goes to escalate_to too" },
	{ "notify", "escalate_to", CONF_STRING, S(escalate_to), "", 0, 0,
	  "address of the security team; empty: no escalation" },
	{ NULL, NULL, 0, 0, NULL, 0, 0, NULL },
};

static struct server_webhook *webhook_named(struct server_config *cfg,
					    const char *name)
{
	struct server_webhook *w;

	for (int i = 0; i < cfg->n_webhooks; i++)
		if (strcmp(cfg->webhooks[i].name, name) == 0)
			return &cfg->webhooks[i];
	if (cfg->n_webhooks == SERVER_MAX_WEBHOOKS)
		return NULL;
	w = &cfg->webhooks[cfg->n_webhooks];
	memset(w, 0, sizeof(*w));
	w->name = strdup(name);
	if (!w->name)
		return NULL;
	w->min_severity = RULES_SEV_LOW;
	cfg->n_webhooks++;
	return w;
}

static int webhook_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

static int set_string(char **field, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	free(*field);
	*field = v;
	return 0;
}

static int parse_bool(const char *v, bool *ret, const char **why)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0 || strcmp(v, "on") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "0") == 0 || strcmp(v, "off") == 0) {
		*ret = false;
		return 0;
	}
	*why = "expected true or false";
	return -EINVAL;
}

static int parse_span_in(const char *v, int64_t min, int64_t max,
			 int64_t *ret, const char **why)
{
	int64_t t;

	if (span_parse(v, &t) < 0 || t < min || t > max) {
		*why = "expected a time span such as 30s, 1h or 1d, within "
		       "the key's bounds";
		return -EINVAL;
	}
	*ret = t;
	return 0;
}

/* Why one range of [probe] networks cannot be walked, or NULL: each is
 * walked whole, so an IPv6 one is a small part of a /64, never all of
 * it (the total is capped too, SERVER_PROBE_MAX_ADDRESSES says why). */
static const char *network_refused(const struct server_probe_net *n)
{
	if (probe_cidr_is_ipv4(n))
		return probe_cidr_size(n) > SERVER_PROBE_MAX_ADDRESSES
			       ? "an IPv4 range is walked address by address: "
				 "a /16 (65536 addresses) at most"
			       : NULL;
	if (probe_addr_is_link_local(&n->base))
		return "a link-local range (fe80::/10) needs an interface to "
		       "connect through: not probed";
	if (probe_cidr_size(n) > SERVER_PROBE_MAX_ADDRESSES)
		return "an IPv6 range is walked address by address: a /112 "
		       "(65536 addresses) at most; list the parts in use, "
		       "such as 2001:db8:1::/120";
	return NULL;
}

/* "10.0.0.0/24, 2001:db8:1::/120, 192.0.2.0/28": both families in one
 * list. */
static int parse_networks(struct server_probe *p, const char *v,
			  const char **why)
{
	struct server_probe *tmp = calloc(1, sizeof(*tmp));
	const char *refused;
	uint64_t total = 0;
	char one[64];
	int r = 0;

	if (!tmp)
		return -ENOMEM;
	tmp->n_nets = 0;
	while (*v) {
		size_t n = strcspn(v, ", \t");

		if (n == 0) {
			v++;
			continue;
		}
		if (n >= sizeof(one) || tmp->n_nets == SERVER_PROBE_MAX_NETS) {
			*why = "expected at most 32 CIDR ranges";
			r = -EINVAL;
			goto out;
		}
		memcpy(one, v, n);
		one[n] = '\0';
		v += n;
		if (probe_cidr_parse(one, &tmp->nets[tmp->n_nets]) < 0) {
			*why = "expected CIDR ranges such as 10.0.0.0/24 or "
			       "2001:db8:1::/120";
			r = -EINVAL;
			goto out;
		}
		refused = network_refused(&tmp->nets[tmp->n_nets]);
		if (refused) {
			*why = refused;
			r = -EINVAL;
			goto out;
		}
		total += probe_cidr_size(&tmp->nets[tmp->n_nets]);
		tmp->n_nets++;
	}
	if (total > SERVER_PROBE_MAX_ADDRESSES) {
		*why = "the ranges hold more than 65536 addresses (an IPv4 /16, "
		       "an IPv6 /112)";
		r = -EINVAL;
		goto out;
	}
	memcpy(p->nets, tmp->nets, sizeof(p->nets));
	p->n_nets = tmp->n_nets;
out:
	free(tmp);
	return r;
}

/* [probe]: the keys have no flags (and so no clash with other sections'
 * names such as "every"); unset ones get their defaults in
 * config_finish(). */
static int probe_key(struct server_config *cfg, const char *name,
		     const char *value, const char **why)
{
	struct server_probe *p = &cfg->probe;
	int64_t v;
	char *end;

	if (strcmp(name, "enabled") == 0)
		return parse_bool(value, &p->enabled, why);
	if (strcmp(name, "relay_test") == 0)
		return parse_bool(value, &p->relay_test, why);
	if (strcmp(name, "networks") == 0)
		return parse_networks(p, value, why);
	if (strcmp(name, "every") == 0)
		return parse_span_in(value, 60, 30 * DAY, &p->every, why);
	if (strcmp(name, "timeout") == 0)
		return parse_span_in(value, 1, 120, &p->timeout, why);
	if (strcmp(name, "rate") == 0) {
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > 1000) {
			*why = "expected connections per second, 1 to 1000";
			return -EINVAL;
		}
		p->rate = v;
		return 0;
	}
	if (strcmp(name, "relay_domain") == 0) {
		size_t n = strlen(value);

		/* It goes into an SMTP command: a host name's characters. */
		if (n == 0 || n > 200 ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789.-") != n) {
			*why = "expected a domain name";
			return -EINVAL;
		}
		return set_string(&p->relay_domain, value);
	}
	return -ENOENT;
}

int config_section(void *user, const char *section, const char *name,
		   const char *value, const char **why)
{
	struct server_config *cfg = user;
	struct server_webhook *w;
	int sev;

	if (strcmp(section, "probe") == 0)
		return probe_key(cfg, name, value, why);
	if (strncmp(section, "webhook ", 8) != 0)
		return -ENOENT;
	section += 8;
	while (*section == ' ')
		section++;
	if (!webhook_name_ok(section)) {
		*why = "a webhook's name takes 1 to 32 letters, digits, '-', "
		       "'_' or '.'";
		return -EINVAL;
	}
	if (strcmp(name, "url") != 0 && strcmp(name, "secret_file") != 0 &&
	    strcmp(name, "min_severity") != 0)
		return -ENOENT;
	w = webhook_named(cfg, section);
	if (!w) {
		*why = "too many webhooks (at most 16)";
		return -EINVAL;
	}
	if (strcmp(name, "url") == 0)
		return set_string(&w->url, value);
	if (strcmp(name, "secret_file") == 0)
		return set_string(&w->secret_file, value);
	sev = rules_severity_parse(value);
	if (sev < 0) {
		*why = "expected info, low, medium, high or critical";
		return -EINVAL;
	}
	w->min_severity = sev;
	return 0;
}

static int url_ok(const char *u)
{
	return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* The [probe] defaults, and what a probe that is enabled needs. */
static int probe_finish(struct server_probe *p, char err[CONF_ERR_LEN])
{
	if (!p->every)
		p->every = 3600;
	if (!p->rate)
		p->rate = 10;
	if (!p->timeout)
		p->timeout = 10;
	/* RFC 2606 reserves example.com, and it publishes a null MX (RFC
	 * 7505): even a relay that took a message could not deliver it. */
	if (!p->relay_domain &&
	    set_string(&p->relay_domain, "example.com") < 0) {
		snprintf(err, CONF_ERR_LEN, "out of memory");
		return -ENOMEM;
	}
	if (p->enabled && p->n_nets == 0) {
		snprintf(err, CONF_ERR_LEN,
			 "[probe] networks: needed when the probe is enabled: "
			 "it never connects outside them");
		return -EINVAL;
	}
	return 0;
}

int config_finish(struct server_config *cfg, char err[CONF_ERR_LEN])
{
	bool uri = strncmp(cfg->database, "postgresql://", 13) == 0 ||
		   strncmp(cfg->database, "postgres://", 11) == 0;
	const char *base = uri ? cfg->state_dir : cfg->database;
	size_t n = strlen(base) + sizeof("/postgresql");

	free(cfg->beside);
	cfg->beside = malloc(n);
	if (!cfg->beside) {
		snprintf(err, CONF_ERR_LEN, "out of memory");
		return -ENOMEM;
	}
	snprintf(cfg->beside, n, "%s%s", base, uri ? "/postgresql" : "");
	err[0] = '\0';
	if (probe_finish(&cfg->probe, err) < 0)
		return -EINVAL;
	if (cfg->webhook_url[0]) {
		struct server_webhook *w;
		int sev = rules_severity_parse(cfg->webhook_min_severity);

		if (sev < 0) {
			snprintf(err, CONF_ERR_LEN,
				 "webhook_min_severity: expected info, low, "
				 "medium, high or critical: \"%s\"",
				 cfg->webhook_min_severity);
			return -EINVAL;
		}
		w = webhook_named(cfg, "default");
		if (!w || set_string(&w->url, cfg->webhook_url) < 0 ||
		    set_string(&w->secret_file, cfg->webhook_secret_file) < 0) {
			snprintf(err, CONF_ERR_LEN, "webhook_url: too many "
						    "webhooks, or no memory");
			return -EINVAL;
		}
		w->min_severity = sev;
	} else if (cfg->webhook_secret_file[0]) {
		snprintf(err, CONF_ERR_LEN,
			 "webhook_secret_file is set without webhook_url");
		return -EINVAL;
	}
	for (int i = 0; i < cfg->n_webhooks; i++) {
		const struct server_webhook *w = &cfg->webhooks[i];

		if (!w->url || !url_ok(w->url)) {
			snprintf(err, CONF_ERR_LEN,
				 "[webhook %s] url: expected an http:// or "
				 "https:// URL",
				 w->name);
			return -EINVAL;
		}
		if (!w->secret_file || !w->secret_file[0]) {
			snprintf(err, CONF_ERR_LEN,
				 "[webhook %s]: a secret_file is needed: "
				 "every delivery is signed",
				 w->name);
			return -EINVAL;
		}
	}
	return 0;
}

void config_free(struct server_config *cfg)
{
	free(cfg->beside);
	cfg->beside = NULL;
	if (cfg->database_password) {
		explicit_bzero(cfg->database_password,
			       strlen(cfg->database_password));
		free(cfg->database_password);
		cfg->database_password = NULL;
	}
	for (int i = 0; i < cfg->n_webhooks; i++) {
		free(cfg->webhooks[i].name);
		free(cfg->webhooks[i].url);
		free(cfg->webhooks[i].secret_file);
	}
	cfg->n_webhooks = 0;
	free(cfg->probe.relay_domain);
	cfg->probe.relay_domain = NULL;
}
