/*
 * probe.h - the SMTP probe ([probe] in derelictd.conf): from a thread of
 * its own, every [probe] every, it talks SMTP (probe_smtp.h) to the SMTP
 * ports the hosts report on their non-loopback addresses and to every
 * address of [probe] networks, IPv4 and IPv6 alike (one address type,
 * probe_addr.h), and keeps what they answered
 * (store_probe.h).  It never connects outside networks, starts at most
 * rate connections a second, holds one connection per address at a time,
 * and each conversation ends at its timeout.  Off unless enabled.
 */
#ifndef DERELICT_PROBE_H
#define DERELICT_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

struct probe;
struct store;

/* "10.0.0.0/24", "2001:db8:1::/120" or a lone address (a /32, a /128)
 * into *ret, the base masked to the prefix; an IPv4 range is held mapped
 * (probe_addr.h), its prefix plus 96.  0 or -EINVAL. */
int probe_cidr_parse(const char *s, struct server_probe_net *ret);
/* How many addresses the range holds; UINT64_MAX for 2^64 and more (an
 * IPv6 /64 or wider). */
uint64_t probe_cidr_size(const struct server_probe_net *n);
bool probe_cidr_is_ipv4(const struct server_probe_net *n);
/* Whether addr is inside the range. */
bool probe_cidr_contains(const struct server_probe_net *n,
			 const struct probe_addr *addr);
/* Whether addr is inside one of cfg's networks: the one test every
 * connection of the probe passes first. */
bool probe_allowed(const struct server_probe *cfg,
		   const struct probe_addr *addr);
/* The walk's i-th address over cfg's networks in order, each address
 * once: an IPv4 range's network and broadcast addresses (prefix 30 and
 * shorter) are left out, as is an IPv6 range's Subnet-Router anycast
 * address, its first (RFC 4291 2.6.1; prefix 126 and shorter), and an
 * address an earlier range holds.  0 and *ret, or -ENOENT past the end or
 * for a left-out index (the walk goes on with i + 1); total is the end:
 * probe_walk_end(), which saturates at UINT64_MAX (config.c keeps it to
 * SERVER_PROBE_MAX_ADDRESSES). */
int probe_walk_nth(const struct server_probe *cfg, uint64_t i,
		   struct probe_addr *ret);
uint64_t probe_walk_end(const struct server_probe *cfg);

/* Starts the probe thread; *ret is NULL (and 0 is answered) when the
 * probe is not enabled.  -errno when the thread cannot start. */
int probe_start(const struct server_config *cfg, struct store *st,
		struct probe **ret);
/* Starts a round now (SIGHUP), or right after the one in progress; NULL
 * is fine. */
void probe_kick(struct probe *p);
/* Stops it (connections in flight are cut short) and frees it; NULL is
 * fine. */
void probe_stop(struct probe *p);

#endif
