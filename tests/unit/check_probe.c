/* check_probe.c - the SMTP probe's parts that need no network: [probe]
 * networks and the walk over them, the greeting's version, and whole
 * conversations with a scripted peer over a socketpair. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
#include "probe_addr.h"
#include "probe_smtp.h"
#include "server.h"
#include "testutil.h"

static struct probe_addr ip(const char *s)
{
	struct probe_addr a;

	ck_assert_int_eq(probe_addr_parse(s, &a), 0);
	return a;
}

/* The address's text, in one of a few rotating buffers. */
static const char *text(const struct probe_addr *a)
{
	static char buf[4][PROBE_ADDR_TEXT_MAX];
	static int next;
	char *out = buf[next++ % 4];

	probe_addr_format(a, out);
	return out;
}

static bool contains(const struct server_probe_net *n, const char *s)
{
	struct probe_addr a = ip(s);

	return probe_cidr_contains(n, &a);
}

static bool allowed(const struct server_probe *p, const char *s)
{
	struct probe_addr a = ip(s);

	return probe_allowed(p, &a);
}

START_TEST(test_addr)
{
	struct probe_addr a, b;
	struct sockaddr_storage ss;

	/* One form each: dotted IPv4 (a mapped one too), compressed IPv6. */
	a = ip("::ffff:192.0.2.7");
	b = ip("192.0.2.7");
	ck_assert_int_eq(probe_addr_cmp(&a, &b), 0);
	ck_assert(probe_addr_is_ipv4(&a));
	ck_assert_str_eq(text(&a), "192.0.2.7");
	a = ip("2001:0DB8:0000:0000:0000:0000:0000:0025");
	ck_assert(!probe_addr_is_ipv4(&a));
	ck_assert_str_eq(text(&a), "2001:db8::25");
	ck_assert_int_eq(probe_addr_parse("fe80::1%eth0", &a), -EINVAL);
	ck_assert_int_eq(probe_addr_parse("[2001:db8::1]", &a), -EINVAL);
	ck_assert_int_eq(probe_addr_parse("10.0.0", &a), -EINVAL);
	ck_assert_int_eq(probe_addr_parse(NULL, &a), -EINVAL);
	ck_assert_int_eq(probe_addr_parse("", &a), -EINVAL);

	/* What a host reports that the probe may connect to. */
	a = ip("10.1.2.3");
	ck_assert(probe_addr_usable(&a));
	a = ip("2001:db8::1");
	ck_assert(probe_addr_usable(&a));
	a = ip("fd00:1::2");
	ck_assert(probe_addr_usable(&a));
	a = ip("127.0.0.53");
	ck_assert(!probe_addr_usable(&a));
	a = ip("::ffff:127.0.0.1");
	ck_assert(!probe_addr_usable(&a));
	a = ip("::1");
	ck_assert(!probe_addr_usable(&a));
	a = ip("::");
	ck_assert(!probe_addr_usable(&a));
	a = ip("0.0.0.0");
	ck_assert(!probe_addr_usable(&a));
	a = ip("fe80::a8bb:ccff:fedd:eeff");
	ck_assert(!probe_addr_usable(&a));
	ck_assert(probe_addr_is_link_local(&a));
	a = ip("febf::1");
	ck_assert(!probe_addr_usable(&a));
	a = ip("fec0::1");
	ck_assert(probe_addr_usable(&a));

	/* The socket's family follows the address's. */
	a = ip("10.1.2.3");
	ck_assert_uint_eq(probe_addr_sockaddr(&a, 25, &ss),
			  sizeof(struct sockaddr_in));
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
			  htonl(0x0a010203));
	ck_assert_uint_eq(((struct sockaddr_in *)&ss)->sin_port, htons(25));
	a = ip("2001:db8::25");
	ck_assert_uint_eq(probe_addr_sockaddr(&a, 587, &ss),
			  sizeof(struct sockaddr_in6));
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
				a.b, 16),
			 0);
	ck_assert_uint_eq(((struct sockaddr_in6 *)&ss)->sin6_port,
			  htons(587));
}
END_TEST

START_TEST(test_cidr)
{
	struct server_probe_net n;

	ck_assert_int_eq(probe_cidr_parse("10.1.2.3/24", &n), 0);
	ck_assert_str_eq(text(&n.base), "10.1.2.0");
	ck_assert_int_eq(n.prefix, 96 + 24);
	ck_assert(probe_cidr_is_ipv4(&n));
	ck_assert_uint_eq(probe_cidr_size(&n), 256);
	ck_assert(contains(&n, "10.1.2.255"));
	ck_assert(contains(&n, "::ffff:10.1.2.9"));
	ck_assert(!contains(&n, "10.1.3.0"));
	ck_assert(!contains(&n, "::a01:209"));
	ck_assert_int_eq(probe_cidr_parse("192.0.2.7", &n), 0);
	ck_assert_int_eq(n.prefix, 128);
	ck_assert_uint_eq(probe_cidr_size(&n), 1);
	ck_assert_int_eq(probe_cidr_parse("0.0.0.0/0", &n), 0);
	ck_assert_uint_eq(probe_cidr_size(&n), 1ull << 32);
	ck_assert(contains(&n, "203.0.113.1"));
	ck_assert(!contains(&n, "2001:db8::1"));
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/33", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/-1", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0/8", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("", &n), -EINVAL);

	/* IPv6, its prefix counted in its own 128 bits. */
	ck_assert_int_eq(probe_cidr_parse("2001:DB8:1::77/120", &n), 0);
	ck_assert_str_eq(text(&n.base), "2001:db8:1::");
	ck_assert_int_eq(n.prefix, 120);
	ck_assert(!probe_cidr_is_ipv4(&n));
	ck_assert_uint_eq(probe_cidr_size(&n), 256);
	ck_assert(contains(&n, "2001:db8:1::ff"));
	ck_assert(contains(&n, "2001:db8:1:0:0:0:0:1"));
	ck_assert(!contains(&n, "2001:db8:1::100"));
	ck_assert(!contains(&n, "2001:db8:2::1"));
	ck_assert(!contains(&n, "0.0.0.1"));
	ck_assert_int_eq(probe_cidr_parse("fd00:1::2", &n), 0);
	ck_assert_int_eq(n.prefix, 128);
	ck_assert_uint_eq(probe_cidr_size(&n), 1);
	ck_assert(contains(&n, "fd00:1::2"));
	ck_assert(!contains(&n, "fd00:1::3"));
	/* A prefix that ends inside a byte. */
	ck_assert_int_eq(probe_cidr_parse("2001:db8::1:ffff/115", &n), 0);
	ck_assert_str_eq(text(&n.base), "2001:db8::1:e000");
	ck_assert_uint_eq(probe_cidr_size(&n), 8192);
	ck_assert(contains(&n, "2001:db8::1:ffff"));
	ck_assert(!contains(&n, "2001:db8::1:dfff"));
	/* Wider than 2^64 saturates. */
	ck_assert_int_eq(probe_cidr_parse("2001:db8::/64", &n), 0);
	ck_assert_uint_eq(probe_cidr_size(&n), UINT64_MAX);
	ck_assert_int_eq(probe_cidr_parse("::/0", &n), 0);
	ck_assert_uint_eq(probe_cidr_size(&n), UINT64_MAX);
	/* Written as IPv6, a mapped range is IPv4's. */
	ck_assert_int_eq(probe_cidr_parse("::ffff:10.0.0.0/120", &n), 0);
	ck_assert(probe_cidr_is_ipv4(&n));
	ck_assert(contains(&n, "10.0.0.200"));
	ck_assert_int_eq(probe_cidr_parse("fd00::/129", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("fd00::/", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("fd00:::/64", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("fe80::1%eth0/128", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("[fd00::]/120", &n), -EINVAL);
}
END_TEST

START_TEST(test_walk)
{
	struct server_probe p = { 0 };
	uint64_t end;
	struct probe_addr a, seen[16];
	int n = 0;

	/* A /29 without its network and broadcast addresses, then a /30
	 * inside it (nothing new) and a /32 beside it. */
	ck_assert_int_eq(probe_cidr_parse("10.9.0.0/29", &p.nets[0]), 0);
	ck_assert_int_eq(probe_cidr_parse("10.9.0.4/30", &p.nets[1]), 0);
	ck_assert_int_eq(probe_cidr_parse("10.9.0.200", &p.nets[2]), 0);
	p.n_nets = 3;
	end = probe_walk_end(&p);
	ck_assert_uint_eq(end, 8 + 4 + 1);
	for (uint64_t i = 0; i < end; i++)
		if (probe_walk_nth(&p, i, &a) == 0)
			seen[n++] = a;
	ck_assert_int_eq(probe_walk_nth(&p, end, &a), -ENOENT);
	ck_assert_int_eq(n, 7);
	for (int i = 0; i < 6; i++) {
		char want[32];

		snprintf(want, sizeof(want), "10.9.0.%d", 1 + i);
		ck_assert_str_eq(text(&seen[i]), want);
	}
	ck_assert_str_eq(text(&seen[6]), "10.9.0.200");
	ck_assert(allowed(&p, "10.9.0.7"));
	ck_assert(allowed(&p, "10.9.0.200"));
	ck_assert(allowed(&p, "::ffff:10.9.0.200"));
	ck_assert(!allowed(&p, "10.9.0.8"));
	ck_assert(!allowed(&p, "127.0.0.1"));
	ck_assert(!allowed(&p, "::a09:1"));
	p.n_nets = 0;
	ck_assert(!allowed(&p, "10.9.0.1"));
}
END_TEST

/* Both families in one list: an IPv6 range's walk leaves out only its
 * Subnet-Router anycast address, counts across byte boundaries, and
 * skips what an earlier range (of either spelling) holds. */
START_TEST(test_walk_ipv6)
{
	struct server_probe p = { 0 };
	struct probe_addr a;
	char got[40][PROBE_ADDR_TEXT_MAX];
	uint64_t end;
	int n = 0;

	ck_assert_int_eq(probe_cidr_parse("2001:db8:1::f8/125", &p.nets[0]),
			 0);
	ck_assert_int_eq(probe_cidr_parse("192.0.2.0/30", &p.nets[1]), 0);
	ck_assert_int_eq(probe_cidr_parse("2001:db8:1::fc/127", &p.nets[2]),
			 0);
	ck_assert_int_eq(probe_cidr_parse("2001:db8:1::100/127", &p.nets[3]),
			 0);
	ck_assert_int_eq(probe_cidr_parse("::ffff:192.0.2.1", &p.nets[4]), 0);
	ck_assert_int_eq(probe_cidr_parse("fd00::1:0/112", &p.nets[5]), 0);
	p.n_nets = 6;
	end = probe_walk_end(&p);
	ck_assert_uint_eq(end, 8 + 4 + 2 + 2 + 1 + 65536);
	for (uint64_t i = 0; i < end - 65536 + 3; i++)
		if (probe_walk_nth(&p, i, &a) == 0)
			probe_addr_format(&a, got[n++]);
	ck_assert_int_eq(n, 7 + 2 + 0 + 2 + 0 + 2);
	ck_assert_str_eq(got[0], "2001:db8:1::f9");
	ck_assert_str_eq(got[6], "2001:db8:1::ff");
	ck_assert_str_eq(got[7], "192.0.2.1");
	ck_assert_str_eq(got[8], "192.0.2.2");
	/* A /127 has no anycast address to leave out. */
	ck_assert_str_eq(got[9], "2001:db8:1::100");
	ck_assert_str_eq(got[10], "2001:db8:1::101");
	ck_assert_str_eq(got[11], "fd00::1:1");
	ck_assert_str_eq(got[12], "fd00::1:2");
	/* The /112's last address: the sum carried into a second byte. */
	ck_assert_int_eq(probe_walk_nth(&p, end - 1, &a), 0);
	ck_assert_str_eq(text(&a), "fd00::1:ffff");
	ck_assert_int_eq(probe_walk_nth(&p, end - 256, &a), 0);
	ck_assert_str_eq(text(&a), "fd00::1:ff00");
	ck_assert_int_eq(probe_walk_nth(&p, end, &a), -ENOENT);
	ck_assert(allowed(&p, "2001:db8:1::ff"));
	ck_assert(allowed(&p, "fd00::1:abcd"));
	ck_assert(!allowed(&p, "fd00::2:0"));
	ck_assert(!allowed(&p, "2001:db8:1::f7"));
	ck_assert(!allowed(&p, "::1"));

	/* The end saturates rather than wraps. */
	ck_assert_int_eq(probe_cidr_parse("2001:db8::/64", &p.nets[0]), 0);
	ck_assert_int_eq(probe_cidr_parse("2001:db9::/64", &p.nets[1]), 0);
	ck_assert_uint_eq(probe_walk_end(&p), UINT64_MAX);
}
END_TEST

static void config(struct server_config *c)
{
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(conf_defaults(server_conf_keys, c), 0);
}

static void config_done(struct server_config *c)
{
	config_free(c);
	conf_free(server_conf_keys, c);
}

START_TEST(test_config)
{
	struct server_config c;
	char err[CONF_ERR_LEN];
	const char *why = NULL;

	config(&c);
	ck_assert_int_eq(config_finish(&c, err), 0);
	ck_assert(!c.probe.enabled);
	ck_assert_int_eq(c.probe.every, 3600);
	ck_assert_int_eq(c.probe.rate, 10);
	ck_assert_int_eq(c.probe.timeout, 10);
	ck_assert_str_eq(c.probe.relay_domain, "example.com");
	config_done(&c);

	config(&c);
	ck_assert_int_eq(config_section(&c, "probe", "enabled", "true", &why),
			 0);
	ck_assert_int_eq(config_finish(&c, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "networks"));
	config_done(&c);

	config(&c);
	/* A /15 is over the cap, as are two /16s; the value is refused
	 * whole and nothing of it is kept. */
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/15", &why),
			 -EINVAL);
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/16, 10.1.0.0/16", &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "65536"));
	ck_assert_int_eq(c.probe.n_nets, 0);
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/24 192.0.2.9,10.0.1.0/24",
					&why),
			 0);
	ck_assert_int_eq(c.probe.n_nets, 3);
	ck_assert_int_eq(config_section(&c, "probe", "networks", "10.0.0.0/8x",
					&why),
			 -EINVAL);
	ck_assert_int_eq(c.probe.n_nets, 3);
	/* IPv6 beside IPv4.  A range wider than the walk's cap (a /64) is
	 * refused whole, the message naming the widest one walked; so is
	 * link-local, which needs an interface. */
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/24, 2001:db8:1::/64", &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "IPv6"));
	ck_assert_ptr_nonnull(strstr(why, "/112"));
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"2001:db8:1::/111", &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "/112"));
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"fe80::/120", &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "link-local"));
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/17, 2001:db8::/112", &why),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "65536"));
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"2001:db8::/120 fd00::/129", &why),
			 -EINVAL);
	ck_assert_int_eq(c.probe.n_nets, 3);
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/17, 2001:db8::/113", &why),
			 0);
	ck_assert_int_eq(c.probe.n_nets, 2);
	ck_assert_int_eq(config_section(&c, "probe", "networks",
					"10.0.0.0/24,2001:db8:1::/120 fd00::5",
					&why),
			 0);
	ck_assert_int_eq(c.probe.n_nets, 3);
	ck_assert(!probe_cidr_is_ipv4(&c.probe.nets[2]));
	ck_assert_int_eq(c.probe.nets[2].prefix, 128);
	ck_assert_int_eq(config_section(&c, "probe", "every", "5s", &why),
			 -EINVAL);
	ck_assert_int_eq(config_section(&c, "probe", "every", "2h", &why), 0);
	ck_assert_int_eq(c.probe.every, 7200);
	ck_assert_int_eq(config_section(&c, "probe", "rate", "0", &why),
			 -EINVAL);
	ck_assert_int_eq(config_section(&c, "probe", "rate", "3", &why), 0);
	ck_assert_int_eq(config_section(&c, "probe", "timeout", "3s", &why), 0);
	ck_assert_int_eq(config_section(&c, "probe", "relay_domain",
					"a.example>\r\nDATA", &why),
			 -EINVAL);
	ck_assert_int_eq(config_section(&c, "probe", "relay_test", "maybe",
					&why),
			 -EINVAL);
	ck_assert_int_eq(config_section(&c, "probe", "colour", "red", &why),
			 -ENOENT);
	ck_assert_int_eq(config_section(&c, "probe", "enabled", "yes", &why),
			 0);
	ck_assert_int_eq(config_finish(&c, err), 0);
	ck_assert_int_eq(c.probe.rate, 3);
	ck_assert_int_eq(c.probe.timeout, 3);
	config_done(&c);
}
END_TEST

START_TEST(test_banner_version)
{
	char v[PROBE_SMTP_VERSION_MAX];

	probe_smtp_banner_version("220 mx.example.org ESMTP Exim 4.92 Tue, "
				  "01 Dec 2026 10:00:00 +0000",
				  v);
	ck_assert_str_eq(v, "Exim 4.92");
	probe_smtp_banner_version("220 mail.example.net ESMTP Postfix (Debian"
				  "/GNU)",
				  v);
	ck_assert_str_eq(v, "Postfix");
	probe_smtp_banner_version("220 h.example ESMTP Sendmail 8.15.2/8.15.2;"
				  " Tue, 1 Dec 2026",
				  v);
	ck_assert_str_eq(v, "Sendmail 8.15.2");
	probe_smtp_banner_version("220 Eximious mail says hi", v);
	ck_assert_str_eq(v, "");
	probe_smtp_banner_version("220 ESMTP ready", v);
	ck_assert_str_eq(v, "");
}
END_TEST

/* The peer: answers from a script, and keeps every command it saw. */
enum peer_mode { PEER_OPEN_RELAY, PEER_CLOSED, PEER_SILENT, PEER_LONG,
		 PEER_ENDLESS, PEER_REFUSE };

struct peer {
	int fd;
	enum peer_mode mode;
	char seen[2048];
};

static void say(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int hear(int fd, char *line, size_t size)
{
	size_t n = 0;
	char ch;

	while (n + 1 < size && read(fd, &ch, 1) == 1) {
		if (ch == '\n') {
			line[n] = '\0';
			if (n && line[n - 1] == '\r')
				line[n - 1] = '\0';
			return 0;
		}
		line[n++] = ch;
	}
	return -1;
}

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	char line[600];

	switch (p->mode) {
	case PEER_SILENT:
		/* Accepts and never speaks: the probe's timeout ends it. */
		hear(p->fd, line, sizeof(line));
		return NULL;
	case PEER_LONG:
		memset(line, 'x', sizeof(line));
		line[0] = '2', line[1] = '2', line[2] = '0', line[3] = ' ';
		ck_assert_int_eq(write(p->fd, line, sizeof(line)),
				 (ssize_t)sizeof(line));
		hear(p->fd, line, sizeof(line));
		return NULL;
	case PEER_ENDLESS:
		for (int i = 0; i < 100; i++)
			/* The probe hangs up part way: no SIGPIPE here. */
			if (send(p->fd, "220-more\r\n", 10, MSG_NOSIGNAL) != 10)
				return NULL;
		return NULL;
	case PEER_REFUSE:
		say(p->fd, "554 mx.example no service here\r\n");
		break;
	default:
		say(p->fd, "220-mx.example ESMTP Exim 4.92 Tue, 01 Dec 2026\r\n"
			   "220 no UCE\r\n");
	}
	while (hear(p->fd, line, sizeof(line)) == 0) {
		strncat(p->seen, line, sizeof(p->seen) - strlen(p->seen) - 2);
		strncat(p->seen, "|", sizeof(p->seen) - strlen(p->seen) - 1);
		if (strncmp(line, "EHLO", 4) == 0)
			say(p->fd, "250-mx.example Hello\r\n"
				   "250-SIZE 52428800\r\n"
				   "250-8BITMIME\r\n250-PIPELINING\r\n"
				   "250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n"
				   "250 HELP\r\n");
		else if (strncmp(line, "RCPT", 4) == 0)
			say(p->fd, p->mode == PEER_OPEN_RELAY
					   ? "250 Accepted\r\n"
					   : "550 relay not permitted\r\n");
		else if (strncmp(line, "QUIT", 4) == 0) {
			say(p->fd, "221 closing connection\r\n");
			break;
		} else
			say(p->fd, "250 OK\r\n");
	}
	return NULL;
}

static int64_t talk(enum peer_mode mode, const char *relay,
		    struct probe_smtp_result *res, struct peer *peer)
{
	struct probe_smtp_opts o = { .timeout_ms = 1500, .helo_name = "probe",
				     .relay_domain = relay, .cancel_fd = -1 };
	struct timespec a, b;
	pthread_t t;
	int sv[2];

	memset(peer, 0, sizeof(*peer));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv),
			 0);
	peer->fd = sv[1];
	peer->mode = mode;
	/* The peer reads blocking; the probe's side stays non-blocking. */
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, 0), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, peer_run, peer), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(probe_smtp_talk(sv[0], &o, res), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

START_TEST(test_conversation)
{
	struct probe_smtp_result res;
	struct peer peer;

	talk(PEER_OPEN_RELAY, "example.com", &res, &peer);
	ck_assert(res.reachable && res.smtp && res.ehlo);
	ck_assert_str_eq(res.banner,
			 "220-mx.example ESMTP Exim 4.92 Tue, 01 Dec 2026");
	ck_assert_str_eq(res.capabilities,
			 "SIZE 8BITMIME PIPELINING AUTH STARTTLS HELP");
	ck_assert(res.starttls);
	ck_assert_str_eq(res.auth, "PLAIN LOGIN");
	ck_assert_int_eq(res.relay, 1);
	ck_assert_str_eq(res.error, "");
	/* Never DATA: the envelope is forgotten with RSET. */
	ck_assert_str_eq(peer.seen,
			 "EHLO probe|MAIL FROM:<derelict-probe@example.com>|"
			 "RCPT TO:<derelict-relay-test@example.com>|RSET|"
			 "QUIT|");

	talk(PEER_CLOSED, "example.com", &res, &peer);
	ck_assert_int_eq(res.relay, 0);
	ck_assert_ptr_null(strstr(peer.seen, "DATA"));

	talk(PEER_CLOSED, NULL, &res, &peer);
	ck_assert_int_eq(res.relay, -1);
	ck_assert_str_eq(peer.seen, "EHLO probe|QUIT|");

	talk(PEER_REFUSE, NULL, &res, &peer);
	ck_assert(res.smtp && !res.ehlo);
	ck_assert_str_eq(res.banner, "554 mx.example no service here");
	ck_assert_str_eq(peer.seen, "QUIT|");
}
END_TEST

START_TEST(test_bounded)
{
	struct probe_smtp_result res;
	struct peer peer;
	int64_t ms;

	/* A peer that never speaks costs the one timeout, no more. */
	ms = talk(PEER_SILENT, NULL, &res, &peer);
	ck_assert(res.reachable && !res.smtp);
	ck_assert_ptr_nonnull(strstr(res.error, "timeout"));
	ck_assert_int_ge(ms, 1400);
	ck_assert_int_lt(ms, 3000);

	talk(PEER_LONG, NULL, &res, &peer);
	ck_assert(!res.smtp);
	ck_assert_ptr_nonnull(strstr(res.error, "caps"));

	talk(PEER_ENDLESS, NULL, &res, &peer);
	ck_assert(!res.smtp);
	ck_assert_ptr_nonnull(strstr(res.error, "caps"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_addr);
	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_walk_ipv6);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_banner_version);
	tcase_add_test(tc, test_conversation);
	tcase_add_test(tc, test_bounded);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
