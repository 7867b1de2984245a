/*
 * server.h - derelictd's configuration and the types its modules share.
 */
#ifndef DERELICT_SERVER_H
#define DERELICT_SERVER_H

#include <stdint.h>

#include "conf.h"

struct server_config {
	/* [server] */
	char *listen;
	char *database;
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
	/* [rules] */
	struct conf_ports smtp_ports;
	int64_t unowned_grace;
	int64_t idle_after;
	int64_t unmaintained_after;
	int64_t silent_after;
	int64_t evaluate_every;
};

extern const struct conf_key server_conf_keys[];

#define SERVER_DEFAULT_CONFIG SYSCONFDIR "/derelict/derelictd.conf"

/* What every request handler may reach. */
struct app {
	const struct server_config *cfg;
	struct store *store;
	struct writer *writer;
	char *enroll_secret;
	struct advisory_feed *feed;	/* the advisories in use and their feed */
};

#endif
