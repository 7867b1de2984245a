/*
 * server.h - derelictd's configuration and the types its modules share.
 */
#ifndef DERELICT_SERVER_H
#define DERELICT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "probe_addr.h"

#define SERVER_MAX_WEBHOOKS 16
/* [probe] networks: CIDR ranges, and the addresses they may hold in all
 * (an IPv4 /16, an IPv6 /112): at the default rate of 10 a second a walk
 * of 65,536 addresses takes about two hours, and one that needs longer is
 * no longer a survey but a scan of somebody's network. */
#define SERVER_PROBE_MAX_NETS 32
#define SERVER_PROBE_MAX_ADDRESSES 65536

struct server_config {
	/* [server] */
	char *listen;
	char *database;			/* a path (SQLite) or a URI */
	char *database_password_file;	/* "" none */
	char *database_password;	/* its content, read by main.c */
	char *state_dir;		/* beside a PostgreSQL database */
	/* What the files kept "beside the database" (the advisory feed's
	 * copy, an older release's answer.key) are named after: the SQLite file, or
	 * state_dir/postgresql.  config_finish() sets it. */
	char *beside;
	char *enroll_secret_file;
	char *tls_cert;
	char *tls_key;
	int64_t max_body_bytes;
	int64_t max_connections_per_address;
	char *advisories_file;
	char *advisories_url;		/* the tracker feed; "" none */
	int64_t advisories_refresh;	/* its period */
	char *eol_file;
	int64_t history_keep;		/* seconds */
	int64_t changes_per_report;
	int64_t changes_per_day;
	char *public_url;		/* the base of links; "" listen's */
	/* [rules] */
	struct conf_ports smtp_ports;
	int64_t unowned_grace;
	int64_t idle_after;
	int64_t unmaintained_after;
	int64_t silent_after;
	int64_t mail_idle_after;
	int64_t queue_backlog;
	int64_t evaluate_every;
	/* [notify] */
	char *webhook_url;		/* the webhook "default"; "" none */
	char *webhook_secret_file;
	char *webhook_min_severity;
	int64_t notify_retry_base;	/* first retry's delay */
	int64_t notify_retry_for;	/* then marked failed */
	/* [webhook NAME] sections (config.c), the "default" one first */
	struct server_webhook {
		char *name;
		char *url;
		char *secret_file;
		int min_severity;	/* enum rules_severity */
	} webhooks[SERVER_MAX_WEBHOOKS];
	int n_webhooks;
	char *alertmanager_url;		/* "" no alerts are pushed */
	/* [notify] mail to the owners (server/digest.c) */
	char *smtp_url;			/* "" no mail */
	char *mail_from;
	int64_t digest_every;
	int64_t digest_settle;
	int64_t escalate_after;
	char *escalate_to;		/* "" no escalation */
	/* [probe], the SMTP probe (config.c, probe.c); off unless enabled */
	struct server_probe {
		bool enabled;
		struct server_probe_net {
			struct probe_addr base;	/* masked to prefix */
			/* Of the 128 bits (probe_addr.h): an IPv4 /24
			 * is 120. */
			int prefix;
		} nets[SERVER_PROBE_MAX_NETS];
		int n_nets;
		int64_t every;		/* seconds between rounds' starts */
		int64_t rate;		/* connections started per second */
		int64_t timeout;	/* seconds per conversation */
		bool relay_test;	/* MAIL FROM/RCPT TO, then RSET */
		char *relay_domain;	/* the outside domain of the test */
	} probe;
};

extern const struct conf_key server_conf_keys[];

/* Takes the lines of the [probe] section and of the [webhook NAME] sections (conf_section_fn: user
 * is the struct server_config). */
int config_section(void *user, const char *section, const char *name,
		   const char *value, const char **why);
/* Adds the webhook of [notify] webhook_url, checks every webhook once the
 * file and flags are read; 0 or -EINVAL with err filled. */
int config_finish(struct server_config *cfg, char err[CONF_ERR_LEN]);
/* Frees what config_section() and config_finish() keep. */
void config_free(struct server_config *cfg);

#define SERVER_DEFAULT_CONFIG SYSCONFDIR "/derelict/derelictd.conf"

/* What every request handler may reach. */
struct app {
	const struct server_config *cfg;
	struct store *store;
	struct writer *writer;
	struct fastpath *fastpath;	/* NULL: none (fastpath.h) */
	char *enroll_secret;
	struct advisory_feed *feed;	/* the advisories in use and their feed */
	const unsigned char *answer_key;	/* mail links' key; NULL: no mail */
};

#endif
