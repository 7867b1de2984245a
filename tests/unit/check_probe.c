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
#include "probe_smtp.h"
#include "server.h"
#include "testutil.h"

static uint32_t ip(const char *s)
{
	struct in_addr in;

	ck_assert_int_eq(inet_pton(AF_INET, s, &in), 1);
	return ntohl(in.s_addr);
}

START_TEST(test_cidr)
{
	struct server_probe_net n;

	ck_assert_int_eq(probe_cidr_parse("10.1.2.3/24", &n), 0);
	ck_assert_uint_eq(n.base, ip("10.1.2.0"));
	ck_assert_int_eq(n.prefix, 24);
	ck_assert_uint_eq(probe_cidr_size(&n), 256);
	ck_assert(probe_cidr_contains(&n, ip("10.1.2.255")));
	ck_assert(!probe_cidr_contains(&n, ip("10.1.3.0")));
	ck_assert_int_eq(probe_cidr_parse("192.0.2.7", &n), 0);
	ck_assert_int_eq(n.prefix, 32);
	ck_assert_uint_eq(probe_cidr_size(&n), 1);
	ck_assert_int_eq(probe_cidr_parse("0.0.0.0/0", &n), 0);
	ck_assert_uint_eq(probe_cidr_size(&n), 1ull << 32);
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/33", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0.0/-1", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("10.0.0/8", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("fd00::/120", &n), -EINVAL);
	ck_assert_int_eq(probe_cidr_parse("", &n), -EINVAL);
}
END_TEST

START_TEST(test_walk)
{
	struct server_probe p = { 0 };
	uint64_t end;
	uint32_t a, seen[16];
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
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(seen[i], ip("10.9.0.1") + (uint32_t)i);
	ck_assert_uint_eq(seen[6], ip("10.9.0.200"));
	ck_assert(probe_allowed(&p, ip("10.9.0.7")));
	ck_assert(probe_allowed(&p, ip("10.9.0.200")));
	ck_assert(!probe_allowed(&p, ip("10.9.0.8")));
	ck_assert(!probe_allowed(&p, ip("127.0.0.1")));
	p.n_nets = 0;
	ck_assert(!probe_allowed(&p, ip("10.9.0.1")));
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
	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_banner_version);
	tcase_add_test(tc, test_conversation);
	tcase_add_test(tc, test_bounded);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
