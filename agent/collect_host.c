/*
 * collect_host.c - the host's identity: names, machine id, OS release,
 * kernel, boot time and network addresses.
 */
#include "collect_host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "jsonutil.h"
#include "procfs.h"

#define MAX_ADDRESSES 256

/* The first line of a small file under root, trimmed; "" when missing. */
static void read_line_under(const char *root, const char *rel, char *out,
			    size_t size)
{
	char path[4096];

	out[0] = '\0';
	if (procfs_path(path, sizeof(path), root, rel) < 0 ||
	    procfs_read_small_file(path, out, size) < 0) {
		out[0] = '\0';
		return;
	}
	out[strcspn(out, "\r\n")] = '\0';
}

/* os-release(5): KEY=value, value optionally quoted with \ escapes. */
static void os_value(const char *line, char *out, size_t size)
{
	size_t o = 0;
	char q = 0;

	if (*line == '"' || *line == '\'')
		q = *line++;
	for (; *line && *line != '\n' && o + 1 < size; line++) {
		if (q && *line == q)
			break;
		if (q == '"' && *line == '\\' && line[1])
			line++;
		out[o++] = *line;
	}
	out[o] = '\0';
}

static int add_os(json_t *host, const char *root)
{
	static const char *const keys[][2] = {
		{ "ID=", "id" },
		{ "VERSION_ID=", "version_id" },
		{ "VERSION_CODENAME=", "codename" },
		{ "PRETTY_NAME=", "pretty_name" },
	};
	char line[512], val[256];
	json_t *os = json_object();
	FILE *f;

	if (!os)
		return -ENOMEM;
	for (size_t i = 0; i < 4; i++)
		json_object_set_new(os, keys[i][1], json_null());
	f = procfs_fopen(root, "etc/os-release");
	if (!f)
		f = procfs_fopen(root, "usr/lib/os-release");
	while (f && fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < 4; i++) {
			size_t kl = strlen(keys[i][0]);

			if (strncmp(line, keys[i][0], kl) != 0)
				continue;
			os_value(line + kl, val, sizeof(val));
			if (json_set_str(os, keys[i][1], val) < 0) {
				fclose(f);
				json_decref(os);
				return -ENOMEM;
			}
		}
	}
	if (f)
		fclose(f);
	return json_object_set_new(host, "os", os) == 0 ? 0 : -ENOMEM;
}

/* The canonical name: the first name on the hosts(5) line that lists
 * hostname, as "hostname --fqdn" finds it on a host without DNS for
 * itself.  DNS is not asked: the agent must not stall on a resolver. */
static void find_fqdn(const char *root, const char *hostname, char *out,
		      size_t size)
{
	char line[1024];
	FILE *f;

	snprintf(out, size, "%s", hostname);
	if (strchr(hostname, '.'))
		return;
	f = procfs_fopen(root, "etc/hosts");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *first = NULL;

		line[strcspn(line, "#")] = '\0';
		tok = strtok_r(line, " \t\r\n", &save);	/* the address */
		if (!tok)
			continue;
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (!first)
				first = tok;
			if (strcmp(tok, hostname) == 0 && strchr(first, '.')) {
				snprintf(out, size, "%s", first);
				fclose(f);
				return;
			}
		}
	}
	fclose(f);
}

static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *b;
	int n = 0, len;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)mask)
			    ->sin_addr;
		len = 4;
	} else {
		b = ((const struct sockaddr_in6 *)mask)->sin6_addr.s6_addr;
		len = 16;
	}
	for (int i = 0; i < len; i++)
		n += __builtin_popcount(b[i]);
	return n;
}

/* Addresses of this network namespace, loopback left out. */
static int add_addresses(json_t *host)
{
	struct ifaddrs *ifa = NULL, *i;
	json_t *arr = json_array();

	if (!arr || json_object_set_new(host, "addresses", arr) < 0)
		return -ENOMEM;
	if (getifaddrs(&ifa) < 0)
		return 0;	/* an empty list rather than no report */
	for (i = ifa; i; i = i->ifa_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *src;
		json_t *it;

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			src = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			src = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(i->ifa_addr->sa_family, src, addr, sizeof(addr)))
			continue;
		if (json_array_size(arr) >= MAX_ADDRESSES)
			break;
		it = json_object();
		if (!it || json_set_str(it, "ifname", i->ifa_name) < 0 ||
		    json_set_str(it, "address", addr) < 0 ||
		    json_object_set_new(it, "prefix",
					json_integer(prefix_len(i->ifa_netmask))) < 0 ||
		    json_array_append_new(arr, it) < 0) {
			freeifaddrs(ifa);
			return -ENOMEM;
		}
	}
	freeifaddrs(ifa);
	return 0;
}

static int64_t boot_time(const char *root)
{
	char line[256];
	long long bt = 0;
	FILE *f = procfs_fopen(root, "proc/stat");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	if (f)
		fclose(f);
	return bt;
}

int collect_host(const char *root, const char *project, const char *owner,
		 json_t **ret)
{
	char hostname[256], fqdn[256], machine_id[64], kernel[256];
	struct utsname uts;
	json_t *host = json_object();
	int r = -ENOMEM;

	if (!host)
		return -ENOMEM;
	if (uname(&uts) < 0)
		memset(&uts, 0, sizeof(uts));
	/* The kernel's own answers under root first: a container that
	 * mounts the host at /host sees the host's there. */
	read_line_under(root, "proc/sys/kernel/hostname", hostname,
			sizeof(hostname));
	if (!hostname[0])
		read_line_under(root, "etc/hostname", hostname,
				sizeof(hostname));
	if (!hostname[0])
		snprintf(hostname, sizeof(hostname), "%s", uts.nodename);
	find_fqdn(root, hostname, fqdn, sizeof(fqdn));
	read_line_under(root, "etc/machine-id", machine_id, sizeof(machine_id));
	read_line_under(root, "proc/sys/kernel/osrelease", kernel,
			sizeof(kernel));
	if (!kernel[0])
		snprintf(kernel, sizeof(kernel), "%s", uts.release);
	if (json_set_str(host, "hostname", hostname) < 0 ||
	    json_set_str(host, "fqdn", fqdn) < 0 ||
	    json_set_str(host, "machine_id",
			 machine_id[0] ? machine_id : NULL) < 0 ||
	    (r = add_os(host, root)) < 0 ||
	    json_set_str(host, "kernel", kernel) < 0 ||
	    json_set_str(host, "arch", uts.machine[0] ? uts.machine : NULL) < 0 ||
	    json_set_time(host, "boot_time", boot_time(root)) < 0 ||
	    (r = add_addresses(host)) < 0 ||
	    json_set_str(host, "project", project && *project ? project : NULL) < 0 ||
	    json_set_str(host, "owner", owner && *owner ? owner : NULL) < 0) {
		json_decref(host);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = host;
	return 0;
}
