/*
 * collect_ports.h - the ports section of the report (SPEC section 3): the
 * listening sockets and the processes that hold them.
 *
 * collect_ports() reads the host's own files under a root directory ("/" or
 * a fixture tree) and returns 0 with a new reference in *ret (owned by the
 * caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.  The parsers take a stream so
 * that unit tests feed fixtures.
 */
#ifndef DERELICT_AGENT_COLLECT_PORTS_H
#define DERELICT_AGENT_COLLECT_PORTS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ports: {"items": [{proto, address, port, pid, process, exe, user}]}.
 * For root "/" the sockets come from NETLINK_SOCK_DIAG (as ss(8) gets
 * them, far cheaper than /proc/net/tcp on a busy host); for any other root,
 * or where sock_diag is unavailable, from <root>/proc/net/{tcp,tcp6,udp,
 * udp6}.  Both answer for the agent's own network namespace.
 * One item per distinct (proto, address, port): sockets that share one
 * (SO_REUSEPORT groups, a socket inherited by forked workers) are one
 * listener, owned by the lowest pid that holds any of them; pid, process,
 * exe and user are null when no process holding it is visible. */
int collect_ports(const char *root, json_t **ret);

/* One listening socket from /proc/net/{tcp,tcp6,udp,udp6}. */
struct port_sock {
	unsigned long inode;
	uint16_t port;
	char proto[4];		/* "tcp" or "udp" */
	char address[48];	/* inet_ntop() form: "0.0.0.0", "::1" */
	pid_t pid;		/* 0 until an owner is found */
};

/* Appends the listening TCP (state 0A) or bound UDP (state 07) sockets of
 * one /proc/net table to *socks (realloc'd; caller frees).  0, -EINVAL on a
 * table that does not parse, or -ENOMEM. */
int collect_ports_parse_net(FILE *f, const char *proto, int ipv6,
			    struct port_sock **socks, size_t *n);

#endif
