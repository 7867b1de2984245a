/*
 * probe.h - the SMTP probe ([probe] in derelictd.conf): from a thread of
 * its own, every [probe] every, it talks SMTP (probe_smtp.h) to the SMTP
 * ports the hosts report on their non-loopback addresses and to every
 * address of [probe] networks, and keeps what they answered
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

/* "10.0.0.0/24" or a lone "10.0.0.5" (a /32) into *ret, the base masked
 * to the prefix.  0 or -EINVAL. */
int probe_cidr_parse(const char *s, struct server_probe_net *ret);
/* How many addresses the range holds. */
uint64_t probe_cidr_size(const struct server_probe_net *n);
/* Whether addr (host order) is inside the range. */
bool probe_cidr_contains(const struct server_probe_net *n, uint32_t addr);
/* Whether addr (host order) is inside one of cfg's networks: the one test
 * every connection of the probe passes first. */
bool probe_allowed(const struct server_probe *cfg, uint32_t addr);
/* The walk's i-th address (host order) over cfg's networks in order,
 * each address once: a range's network and broadcast addresses (prefix
 * 30 and shorter) are left out, as is an address an earlier range holds.
 * 0 and *ret, or -ENOENT past the end or for a left-out index (the walk
 * goes on with i + 1); total is the end: probe_walk_end(). */
int probe_walk_nth(const struct server_probe *cfg, uint64_t i, uint32_t *ret);
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
