/*
 * collect_ports.c - listening TCP and bound UDP sockets from /proc/net, with
 * their owners found through the socket inodes in /proc/<pid>/fd, as
 * ss -tulpn finds them.
 */
#include "collect_ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonutil.h"
#include "procfs.h"

#define TCP_LISTEN 0x0A
#define UDP_UNCONN 0x07	/* TCP_CLOSE: what ss shows as UNCONN */
#define MAX_SOCKS 65536
#define NET_READ_BUF (256 * 1024)

static int parse_addr(const char *hex, int ipv6, char *out, size_t size)
{
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint32_t w[4];
	} a;
	int words = ipv6 ? 4 : 1;

	if (strlen(hex) != (size_t)words * 8)
		return -EINVAL;
	for (int i = 0; i < words; i++) {
		char word[9];
		char *end;

		memcpy(word, hex + i * 8, 8);
		word[8] = '\0';
		/* The kernel prints each 32-bit word of the network-order
		 * address as a host-order number: store it back as is. */
		a.w[i] = (uint32_t)strtoul(word, &end, 16);
		if (*end)
			return -EINVAL;
	}
	if (!inet_ntop(ipv6 ? AF_INET6 : AF_INET, &a, out, (socklen_t)size))
		return -errno;
	return 0;
}

int collect_ports_parse_net(FILE *f, const char *proto, int ipv6,
			    struct port_sock **socks, size_t *n)
{
	char line[512];
	size_t cap = *n;
	int want = strcmp(proto, "tcp") == 0 ? TCP_LISTEN : UDP_UNCONN;

	/* The caller's capacity is not passed in: treat the array as full
	 * and grow it on the first append. */
	if (!fgets(line, sizeof(line), f))
		return 0;	/* an empty table */
	if (!strstr(line, "local_address"))
		return -EINVAL;
	while (fgets(line, sizeof(line), f)) {
		char local[40], remote[40];
		unsigned port, state;
		unsigned long inode;
		struct port_sock *s;
		char *colon;
		int k;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		k = sscanf(line, " %*s %39s %39s %x %*s %*s %*s %*u %*u %lu",
			   local, remote, &state, &inode);
		if (k != 4)
			return -EINVAL;
		if ((int)state != want)
			continue;
		colon = strchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &port) != 1 ||
		    port > 65535)
			return -EINVAL;
		*colon = '\0';
		if (*n >= MAX_SOCKS)
			return 0;
		if (*n + 1 > cap) {
			struct port_sock *ns;

			cap = cap < 16 ? 32 : cap * 2;
			ns = realloc(*socks, cap * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			*socks = ns;
		}
		s = &(*socks)[*n];
		memset(s, 0, sizeof(*s));
		if (parse_addr(local, ipv6, s->address, sizeof(s->address)) < 0)
			return -EINVAL;
		s->port = (uint16_t)port;
		s->inode = inode;
		snprintf(s->proto, sizeof(s->proto), "%s", proto);
		(*n)++;
	}
	return 0;
}

static int add_sock(struct port_sock **socks, size_t *n, size_t *cap,
		    const char *proto, int family, const void *addr,
		    uint16_t port, unsigned long inode)
{
	struct port_sock *s;

	if (*n >= MAX_SOCKS)
		return 0;
	if (*n + 1 > *cap) {
		size_t ncap = *cap < 16 ? 32 : *cap * 2;
		struct port_sock *ns = realloc(*socks, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		*socks = ns;
		*cap = ncap;
	}
	s = &(*socks)[*n];
	memset(s, 0, sizeof(*s));
	if (!inet_ntop(family, addr, s->address, sizeof(s->address)))
		return -EINVAL;
	s->port = port;
	s->inode = inode;
	snprintf(s->proto, sizeof(s->proto), "%s", proto);
	(*n)++;
	return 0;
}

/* The same sockets through NETLINK_SOCK_DIAG, the kernel interface ss(8)
 * uses: the kernel filters by state and, for listeners, never walks its
 * table of established connections, which /proc/net/tcp does on every
 * read (milliseconds of CPU on a busy host).  Only for our own root: the
 * answer is this network namespace's, like /proc/net.  0, or negative
 * errno when netlink is unavailable (the caller falls back to the files). */
static int ports_from_netlink(const char *proto, int family,
			      struct port_sock **socks, size_t *n,
			      size_t *cap)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[32768] __attribute__((aligned(8)));
	int udp = strcmp(proto, "udp") == 0;
	int fd, r = 0, done = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = udp ? IPPROTO_UDP : IPPROTO_TCP;
	msg.req.idiag_states = udp ? 1u << UDP_UNCONN : 1u << TCP_LISTEN;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (len == 0) {
			r = -EIO;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *d = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				r = e->error ? e->error : -EIO;
				goto out;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*d)))
				continue;
			r = add_sock(socks, n, cap, proto, d->idiag_family,
				     d->id.idiag_src, ntohs(d->id.idiag_sport),
				     d->idiag_inode);
			if (r < 0)
				goto out;
		}
	}
out:
	close(fd);
	return r;
}

/* Sorted inode index into the socket array, for the fd scan. */
struct inode_ref {
	unsigned long inode;
	size_t idx;
};

struct scan {
	const char *root;
	struct port_sock *socks;
	struct inode_ref *refs;
	size_t n;
};

static int cmp_ref(const void *a, const void *b)
{
	unsigned long x = ((const struct inode_ref *)a)->inode;
	unsigned long y = ((const struct inode_ref *)b)->inode;

	return x < y ? -1 : x > y;
}

static void claim(struct scan *sc, unsigned long inode, pid_t pid)
{
	struct inode_ref key = { .inode = inode };
	struct inode_ref *r = bsearch(&key, sc->refs, sc->n, sizeof(*r),
				      cmp_ref);

	if (!r)
		return;
	/* Several entries can share an inode only by parsing the same table
	 * twice; walk to the first and mark each. */
	while (r > sc->refs && r[-1].inode == inode)
		r--;
	for (; r < sc->refs + sc->n && r->inode == inode; r++) {
		struct port_sock *s = &sc->socks[r->idx];

		if (s->pid == 0 || pid < s->pid)
			s->pid = pid;
	}
}

static int scan_pid(pid_t pid, void *ud)
{
	struct scan *sc = ud;
	char path[4096], rel[64], link[64];
	struct dirent *de;
	DIR *d;
	int dfd;

	snprintf(rel, sizeof(rel), "proc/%d/fd", (int)pid);
	if (procfs_path(path, sizeof(path), sc->root, rel) < 0)
		return 0;
	d = opendir(path);
	if (!d)
		return 0;	/* gone, or not ours to read */
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		ssize_t len;
		unsigned long inode;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (len < 9)
			continue;
		link[len] = '\0';
		if (strncmp(link, "socket:[", 8) != 0)
			continue;
		inode = strtoul(link + 8, &end, 10);
		if (*end == ']')
			claim(sc, inode, pid);
	}
	closedir(d);
	return 0;
}

static int cmp_sock(const void *a, const void *b)
{
	const struct port_sock *x = a, *y = b;
	int c = strcmp(x->proto, y->proto);

	if (c)
		return c;
	if ((c = strcmp(x->address, y->address)))
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	/* Owned first, lowest pid first. */
	if (x->pid != y->pid) {
		if (!x->pid || !y->pid)
			return x->pid ? -1 : 1;
		return x->pid < y->pid ? -1 : 1;
	}
	return 0;
}

static int add_item(json_t *items, const char *root, const struct port_sock *s,
		    const struct uid_map *users)
{
	json_t *it = json_object();
	struct proc_info *pi = NULL;
	char ubuf[USER_NAME_MAX];
	int r = -ENOMEM;

	if (!it)
		return -ENOMEM;
	if (json_set_str(it, "proto", s->proto) < 0 ||
	    json_set_str(it, "address", s->address) < 0 ||
	    json_object_set_new(it, "port", json_integer(s->port)) < 0)
		goto out;
	if (s->pid) {
		pi = malloc(sizeof(*pi));
		if (!pi)
			goto out;
		if (procfs_read_proc(root, s->pid, 1, 1, pi) < 0) {
			free(pi);
			pi = NULL;
		}
	}
	if (pi) {
		if (json_object_set_new(it, "pid", json_integer(pi->pid)) < 0 ||
		    json_set_str(it, "process", pi->comm) < 0 ||
		    json_set_str(it, "exe", pi->exe[0] ? pi->exe : NULL) < 0 ||
		    json_set_str(it, "user",
				 procfs_uid_map_name(users, pi->uid, ubuf)) < 0)
			goto out;
	} else {
		if (json_object_set_new(it, "pid", json_null()) < 0 ||
		    json_object_set_new(it, "process", json_null()) < 0 ||
		    json_object_set_new(it, "exe", json_null()) < 0 ||
		    json_object_set_new(it, "user", json_null()) < 0)
			goto out;
	}
	r = json_array_append(items, it) == 0 ? 0 : -ENOMEM;
out:
	free(pi);
	json_decref(it);
	return r;
}

int collect_ports(const char *root, json_t **ret)
{
	static const struct {
		const char *file, *proto;
		int v6;
	} tables[] = {
		{ "tcp", "tcp", 0 },
		{ "tcp6", "tcp", 1 },
		{ "udp", "udp", 0 },
		{ "udp6", "udp", 1 },
	};
	struct scan sc = { .root = root };
	struct uid_map users = { 0 };
	json_t *section = NULL, *items;
	char *vbuf = NULL;
	int r = 0;
	size_t cap = 0;

	if (!root || !*root || strcmp(root, "/") == 0) {
		for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
			r = ports_from_netlink(tables[t].proto,
					       tables[t].v6 ? AF_INET6 : AF_INET,
					       &sc.socks, &sc.n, &cap);
			/* A kernel without IPv6 answers ENOENT for it. */
			if (r == -ENOENT)
				r = 0;
			if (r < 0)
				break;
		}
		if (r == 0)
			goto scan;
		/* No sock_diag here (a restricted container): the files. */
		free(sc.socks);
		sc.socks = NULL;
		sc.n = 0;
	}
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char rel[64];
		FILE *f;

		/* Our own network namespace's tables: proc/net is a link to
		 * proc/self/net, so either name reads ours. */
		snprintf(rel, sizeof(rel), "proc/net/%s", tables[t].file);
		f = procfs_fopen(root, rel);
		if (!f) {
			/* A host may lack IPv6, never IPv4: without the tcp
			 * or udp table, half the sockets would read as
			 * closed, so that is a failure, not an answer. */
			if (errno == ENOENT && tables[t].v6)
				continue;
			r = -errno;
			goto out;
		}
		/* The kernel walks its socket hash tables again for every
		 * read(2) of these files: few large reads cost far less CPU
		 * than many 4 KiB ones on a host with many connections.
		 * glibc ignores setvbuf's size unless it is given the
		 * buffer. */
		if (!vbuf)
			vbuf = malloc(NET_READ_BUF);
		if (vbuf)
			(void)setvbuf(f, vbuf, _IOFBF, NET_READ_BUF);
		r = collect_ports_parse_net(f, tables[t].proto, tables[t].v6,
					    &sc.socks, &sc.n);
		fclose(f);
		if (r < 0)
			goto out;
	}
scan:
	if (sc.n) {
		sc.refs = malloc(sc.n * sizeof(*sc.refs));
		if (!sc.refs) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < sc.n; i++)
			sc.refs[i] = (struct inode_ref){ sc.socks[i].inode, i };
		qsort(sc.refs, sc.n, sizeof(*sc.refs), cmp_ref);
		/* One pass over every fd of every process: each socket link
		 * is looked up in the sorted index, never rescanned. */
		r = procfs_foreach_pid(root, scan_pid, &sc);
		if (r < 0 && r != -ENOENT)
			goto out;
		qsort(sc.socks, sc.n, sizeof(*sc.socks), cmp_sock);
	}
	if ((r = procfs_uid_map_load(root, &users)) < 0)
		goto out;
	section = json_object();
	items = json_array();
	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sc.n; i++) {
		const struct port_sock *s = &sc.socks[i];

		/* Sorted so the owner we keep comes first of its tuple. */
		if (i > 0 && strcmp(s->proto, s[-1].proto) == 0 &&
		    strcmp(s->address, s[-1].address) == 0 &&
		    s->port == s[-1].port)
			continue;
		if ((r = add_item(items, root, s, &users)) < 0)
			goto out;
	}
	*ret = section;
	section = NULL;
	r = 0;
out:
	json_decref(section);
	procfs_uid_map_free(&users);
	free(sc.refs);
	free(sc.socks);
	free(vbuf);
	return r;
}
