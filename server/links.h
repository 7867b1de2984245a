/*
 * links.h - the addresses derelictd puts in what it sends out (alerts,
 * webhooks, mails), so a link works from wherever it is read.
 */
#ifndef DERELICT_LINKS_H
#define DERELICT_LINKS_H

#include <stddef.h>
#include <stdint.h>

struct server_config;

#define LINKS_URL_MAX 512

/* The base of every link, without a trailing slash: [server] public_url,
 * or, without it, http(s)://host:port of [server] listen (a wildcard
 * address gives this machine's hostname).  -ENAMETOOLONG when it does not
 * fit in size (out is then ""). */
int links_public_url(const struct server_config *cfg, char *out, size_t size);

/* The host's page on the web interface: base + "/#/host/ID". */
int links_host(const struct server_config *cfg, int64_t host_id, char *out,
	       size_t size);

/* Whether something sends notifications (and so needs working links):
 * [notify] alertmanager_url, smtp_url or a webhook. */
int links_needed(const struct server_config *cfg);

#endif
