/*
 * collect.h - the agent's collectors: each reads the host's own files under
 * a root directory ("/" or a fixture tree) and builds one part of the report
 * (SPEC section 3) as a jansson object.
 *
 * Every collect_*() returns 0 and stores a new reference in *ret (owned by
 * the caller), or a negative errno with *ret untouched.  A section comes
 * back with its "items" but without its "hash"; assemble.c adds that.  The
 * parsers below take a stream so unit tests feed fixtures.
 */
#ifndef DERELICT_AGENT_COLLECT_H
#define DERELICT_AGENT_COLLECT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "report.h"

/* Logins kept in a report (newest first) and the window they cover. */
#define LOGINS_MAX_ITEMS 1000
#define LOGINS_WINDOW_S (90 * 86400)

/* host: hostname, fqdn, machine_id, os{}, kernel, arch, boot_time,
 * addresses[]; project and owner (NULL -> null) come from the config. */
int collect_host(const char *root, const char *project, const char *owner,
		 json_t **ret);

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
int ports_parse_net(FILE *f, const char *proto, int ipv6,
		    struct port_sock **socks, size_t *n);

/* services: {"source": "systemd"|"procfs", "items": [...]}.  Through sd-bus
 * (ListUnits, each unit's UnitFileState and each service's MainPID as
 * systemd has them) when <root>/run/systemd/system exists and
 * the system bus answers (DBUS_SYSTEM_BUS_ADDRESS is honoured); otherwise
 * from /proc: the daemons, i.e. processes that are children of pid 1 and
 * have no controlling terminal, as {name, active: "active", sub: "running",
 * enabled: null, main_pid}, one per (name), lowest pid. */
int collect_services(const char *root, json_t **ret);
int services_from_procfs(const char *root, json_t **ret);
/* The sd-bus half alone; -ENXIO when systemd is not running there. */
int services_from_systemd(const char *root, json_t **ret);

/* processes: {"items": [{name, exe, user, count}]}, kernel threads left
 * out; exe is null when unreadable. */
int collect_processes(const char *root, json_t **ret);

/* packages: {"manager": "dpkg", "changed_at", "items": [{name, version,
 * arch, source, source_version}]}. */
int collect_packages(const char *root, json_t **ret);
/* Appends the "install ok installed" stanzas of a dpkg status stream to
 * the array items.  0, or -ENOMEM. */
int packages_parse_status(FILE *f, json_t *items);

/* logins: {"source": "wtmp"|"wtmpdb"|"wtmp+wtmpdb"|"none", "last": {user,
 * at, from} | null, "open_sessions": N, "items": [...]} with the logins
 * since now - LOGINS_WINDOW_S, newest LOGINS_MAX_ITEMS of them. */
int collect_logins(const char *root, int64_t now, json_t **ret);

/* Login records as the readers below gather them. */
struct login_rec {
	int64_t at;
	char user[64];
	char from[257];
};

struct login_list {
	struct login_rec *v;	/* those at or after the window's start */
	size_t n, cap;
	struct login_rec last;	/* the newest of all, when have_last */
	int have_last;
};

void login_list_free(struct login_list *l);

/* The USER_PROCESS records of a wtmp file, read through the utmpx API:
 * those at or after since are appended to l, the newest overall goes to
 * l->last.  The number of login and boot records in the file (0: the file
 * is no source of logins), -ENOENT when it does not exist, or negative
 * errno. */
int logins_read_wtmp(const char *path, int64_t since, struct login_list *l);
/* The same from a wtmpdb SQLite database (Type 3 rows, read-only),
 * loading libsqlite3.so.0 the first time a database is there: -ELIBACC
 * when it cannot.  *ret_open is set to the sessions without a logout since
 * the last boot. */
int logins_read_wtmpdb(const char *path, int64_t since, struct login_list *l,
		       int *ret_open);
/* Where root's wtmpdb database is: var/log/wtmp.db (Debian 13), else
 * var/lib/wtmpdb/wtmp.db, symlinks resolved inside root.  Writes the host
 * path of the regular file into out.  0, -ENOENT, or negative errno. */
int logins_wtmpdb_path(const char *root, char *out, size_t size);
/* The people's sessions logind knows (sd-login), for root "/" on a host
 * booted with systemd.  The count, or -ENXIO where logind cannot tell. */
int logins_logind_sessions(const char *root);
/* Counts the USER_PROCESS records of a utmp file whose process is still
 * there under root's /proc.  The count, or negative errno. */
int logins_open_sessions(const char *root, const char *utmp_path);

/* mail: {"items": [{source, source_version, package, changelog_cves}]}:
 * for each MTA source package installed (from the packages section), the
 * CVE ids named by usr/share/doc/<package>/changelog.Debian.gz in its
 * entries up to the installed version, read up to MAIL_MAX_CHANGELOG
 * bytes ("changelog_truncated": true when a cap cut it); no item when
 * that file is absent or unreadable.  The packages
 * section is borrowed. */
#define MAIL_MAX_CHANGELOG (8u << 20)
#define MAIL_MAX_ITEMS REPORT_MAIL_MAX_ITEMS
#define MAIL_MAX_CVES REPORT_MAIL_MAX_CVES
int collect_mail(const char *root, const json_t *packages, json_t **ret);
/* Appends to cves the CVE ids (each once, at most MAIL_MAX_CVES in all)
 * that a changelog.Debian text names in its entries whose version is not
 * after installed (every entry when installed is NULL); *ret_truncated (if
 * not NULL) is set to 1 when the cap left some out.  0, -EINVAL or
 * -ENOMEM. */
int mail_changelog_cves(const char *text, size_t len, const char *installed,
			json_t *cves, int *ret_truncated);

#endif
