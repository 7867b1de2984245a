/*
 * store_probe.h - what the SMTP probe (probe.c) reads and keeps: its
 * targets, each enrolled port's last answer (probe_ports) and the SMTP
 * servers no host reports (discovered, the "unenrolled-mail-server"
 * findings).  Errors as store.h says; nothing here logs.
 */
#ifndef DERELICT_STORE_PROBE_H
#define DERELICT_STORE_PROBE_H

#include <jansson.h>
#include <stdint.h>

#include "probe_addr.h"
#include "probe_smtp.h"
#include "store.h"

/* The most targets one round takes from the hosts; the rest wait. */
#define STORE_PROBE_TARGETS_MAX 65536

struct store_probe_target {
	int64_t host_id;
	struct probe_addr addr;
	char address[PROBE_ADDR_TEXT_MAX];	/* addr, probe_addr_format() */
	int port;
};

/* The SMTP ports ([rules] smtp_ports) the hosts' last ports sections list
 * on a non-loopback TCP address, as (host, address, port): a port bound to
 * a wildcard at each address the host reports that probe_addr_usable()
 * takes (for 0.0.0.0 the IPv4 ones, for :: both families: a dual-stack
 * socket, unless IPV6_V6ONLY, which no report says).  The caller keeps
 * only those inside [probe] networks.  *ret (free()) and *ret_n on
 * success. */
/* Errors: -ENOMEM, the database's. */
int store_probe_targets(struct store *st, struct store_probe_target **ret,
			size_t *ret_n);

/* Every address any host reports (hosts.addresses) that
 * probe_addr_usable() takes, as a JSON array of strings in *ret. */
/* Errors: -ENOMEM, the database's. */
int store_probe_host_addresses(struct store *st, json_t **ret);

/* Keeps what one port answered and evaluates its host again, in one
 * transaction, so "open-relay" opens or resolves with it. */
/* Errors: the database's. */
int store_probe_record(struct store *st, const struct store_probe_target *t,
		       const struct probe_smtp_result *res, int64_t now);

/* Drops the ports no probe reached since since (the host no longer
 * reports them, or they left networks) and evaluates their hosts again. */
/* Errors: the database's. */
int store_probe_prune(struct store *st, int64_t since, int64_t now);

/* The probe is off: drops every port's result (evaluating those hosts
 * again, so no open-relay finding outlives it) and resolves the open
 * discovered rows ("probe off").  Nothing is written when there is
 * nothing to drop. */
/* Errors: -ENOMEM, the database's. */
int store_probe_off(struct store *st, int64_t now);

/* The addresses of the open discovered rows, a JSON array of strings. */
/* Errors: -ENOMEM, the database's. */
int store_probe_discovered_open(struct store *st, json_t **ret);

/* An address no host reports answered SMTP: ports is an array of
 * {"port", "banner", "capabilities", "starttls", "auth", "open_relay"}
 * (borrowed), banner the first greeting.  Updates the open row or opens
 * one. */
/* Errors: -ENOMEM, the database's. */
int store_probe_discovered_seen(struct store *st, const char *address,
				const json_t *ports, const char *banner,
				int open_relay, int64_t now);

/* Resolves the open row of address, if any, for reason ("stopped
 * answering", "enrolled"). */
/* Errors: the database's. */
int store_probe_discovered_gone(struct store *st, const char *address,
				const char *reason, int64_t now);

/* A page of the discovered rows, newest first: status "open", "resolved"
 * or NULL for both; after_id 0 for the first page. */
/* Errors: -ENOMEM, the database's. */
int store_probe_discovered_list(struct store *st, const char *status,
				int limit, int64_t after_id, json_t **ret);

/* The host's probed ports, a JSON array of {"address", "port",
 * "reachable", "banner", "capabilities", "starttls", "auth", "open_relay",
 * "error", "probed_at"}. */
/* Errors: -ENOMEM, the database's. */
int store_probe_of_host(struct store *st, int64_t host_id, json_t **ret);

#endif
