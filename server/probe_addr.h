/*
 * probe_addr.h - the SMTP probe's one address type.  An IPv6 address is
 * held as it is, an IPv4 one in its IPv4-mapped form ::ffff:a.b.c.d
 * (RFC 4291 2.5.5.2), so [probe] networks, the walk over them and the
 * addresses the hosts report take one code path for both families, and
 * "::ffff:192.0.2.7" is the same address as "192.0.2.7".  Pure
 * functions: no I/O, nothing logs.
 */
#ifndef DERELICT_PROBE_ADDR_H
#define DERELICT_PROBE_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* INET6_ADDRSTRLEN, with its NUL. */
#define PROBE_ADDR_TEXT_MAX 46

struct probe_addr {
	uint8_t b[16];	/* network order */
};

/* "192.0.2.7", "2001:db8::7" or "::ffff:192.0.2.7" into *ret; no
 * brackets, no zone ("fe80::1%eth0").  0 or -EINVAL. */
int probe_addr_parse(const char *s, struct probe_addr *ret);
/* The text inet_ntop() writes, the one form the store keeps: dotted for
 * an IPv4 address (mapped or not), else the compressed lowercase IPv6
 * form (RFC 5952). */
void probe_addr_format(const struct probe_addr *a,
		       char ret[PROBE_ADDR_TEXT_MAX]);
bool probe_addr_is_ipv4(const struct probe_addr *a);
/* Whether the probe may connect to a host's address a: not the
 * unspecified address, not loopback (127.0.0.0/8, ::1), not IPv6
 * link-local (fe80::/10), which needs a scope id (an interface) that no
 * report gives with it. */
bool probe_addr_usable(const struct probe_addr *a);
bool probe_addr_is_link_local(const struct probe_addr *a);
/* memcmp() order: every IPv4 address sorts together. */
int probe_addr_cmp(const struct probe_addr *a, const struct probe_addr *b);
/* a:port as a sockaddr of its own family (AF_INET for an IPv4 address)
 * in *ret; its length is returned. */
socklen_t probe_addr_sockaddr(const struct probe_addr *a, int port,
			      struct sockaddr_storage *ret);

#endif
