/* links.c - see links.h. */
#include "links.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

/* Copies listen's host, without brackets; "" for a wildcard address. */
static void listen_host(const char *listen, char *out, size_t size,
			const char **ret_port)
{
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : strlen(listen);

	*ret_port = colon ? colon + 1 : "";
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n >= size)
		n = 0;
	memcpy(out, listen, n);
	out[n] = '\0';
	if (strcmp(out, "0.0.0.0") == 0 || strcmp(out, "::") == 0 ||
	    strcmp(out, "*") == 0)
		out[0] = '\0';
}

int links_public_url(const struct server_config *cfg, char *out, size_t size)
{
	const char *port;
	char host[256];
	size_t n;
	int w;

	if (cfg->public_url && cfg->public_url[0]) {
		n = strlen(cfg->public_url);
		while (n && cfg->public_url[n - 1] == '/')
			n--;
		w = snprintf(out, size, "%.*s", (int)n, cfg->public_url);
	} else {
		listen_host(cfg->listen ? cfg->listen : "", host, sizeof(host),
			    &port);
		/* A wildcard is no address to give out: the machine's name
		 * is the best guess, and public_url the way to do better. */
		if (!host[0] && gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		w = snprintf(out, size, "%s://%s%s%s%s%s",
			     cfg->tls_cert && cfg->tls_cert[0] ? "https" :
								 "http",
			     strchr(host, ':') ? "[" : "", host,
			     strchr(host, ':') ? "]" : "", port[0] ? ":" : "",
			     port);
	}
	if (w < 0 || (size_t)w >= size) {
		if (size)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int links_host(const struct server_config *cfg, int64_t host_id, char *out,
	       size_t size)
{
	size_t n;
	int r = links_public_url(cfg, out, size), w;

	if (r < 0)
		return r;
	n = strlen(out);
	w = snprintf(out + n, size - n, "/#/host/%" PRId64, host_id);
	if (w < 0 || (size_t)w >= size - n) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int links_needed(const struct server_config *cfg)
{
	return (cfg->alertmanager_url && cfg->alertmanager_url[0]) ||
	       (cfg->smtp_url && cfg->smtp_url[0]) || cfg->n_webhooks > 0;
}
