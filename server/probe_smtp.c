/* probe_smtp.c - see probe_smtp.h.  Plain sockets and poll(): libcurl
 * would send a message's DATA, which the probe must never do. */
#include "probe_smtp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int cancel_fd;
	int64_t deadline;	/* CLOCK_MONOTONIC, ms */
	size_t have;		/* bytes waiting in buf */
	size_t total;		/* bytes read in all */
	char buf[PROBE_SMTP_LINE_MAX + 2];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on c->fd until the deadline; 0, -ETIMEDOUT or
 * -ECANCELED. */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = c->fd, .events = events },
				       { .fd = c->cancel_fd,
					 .events = POLLIN } };
		int64_t left = c->deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(p, c->cancel_fd >= 0 ? 2 : 1,
			 left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (c->cancel_fd >= 0 && p[1].revents)
			return -ECANCELED;
		if (p[0].revents)
			return 0;
	}
}

/* One line without its CR LF into line (PROBE_SMTP_LINE_MAX + 1 bytes).
 * 0; -ETIMEDOUT, -ECANCELED; -ECONNRESET at the end of the stream; -E2BIG
 * for a line or a conversation over its cap. */
static int read_line(struct conn *c, char *line)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->have);
		ssize_t n;
		int r;

		if (nl) {
			size_t len = (size_t)(nl - c->buf);

			memcpy(line, c->buf, len);
			if (len && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			c->have -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->have);
			return 0;
		}
		if (c->have > PROBE_SMTP_LINE_MAX)
			return -E2BIG;
		if ((r = wait_fd(c, POLLIN)) < 0)
			return r;
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		c->have += (size_t)n;
		c->total += (size_t)n;
		if (c->total > PROBE_SMTP_BYTES_MAX)
			return -E2BIG;
	}
}

typedef void line_fn(const char *text, int index, void *ud);

/* A reply: "250-first", ..., "250 last".  *code is its code; each (when
 * not NULL) sees every line's text after the code.  0, -EPROTO for what
 * is not an SMTP reply, or read_line()'s errors. */
static int read_reply(struct conn *c, int *code, line_fn *each, void *ud)
{
	char line[PROBE_SMTP_LINE_MAX + 1];

	for (int i = 0; i < PROBE_SMTP_LINES_MAX; i++) {
		int r = read_line(c, line), v;

		if (r < 0)
			return r;
		if (line[0] < '2' || line[0] > '5' || line[1] < '0' ||
		    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return -EPROTO;
		v = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (i > 0 && v != *code)
			return -EPROTO;
		*code = v;
		if (each)
			each(line, i, ud);
		if (line[3] != '-')
			return 0;
	}
	return -E2BIG;
}

static int send_line(struct conn *c, const char *cmd)
{
	char out[PROBE_SMTP_LINE_MAX + 3];
	size_t len, done = 0;
	int n = snprintf(out, sizeof(out), "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof(out))
		return -E2BIG;
	len = (size_t)n;
	while (done < len) {
		ssize_t w;
		int r;

		if ((r = wait_fd(c, POLLOUT)) < 0)
			return r;
		w = send(c->fd, out + done, len - done, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

/* Keeps printable ASCII of s, at most size - 1 bytes of it. */
static void copy_printable(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = '\0';
}

static void append_word(char *out, size_t size, const char *w, size_t wn)
{
	size_t n = strlen(out);

	if (n + (n ? 1 : 0) + wn + 1 > size)
		return;
	if (n)
		out[n++] = ' ';
	for (size_t i = 0; i < wn; i++) {
		char ch = w[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		out[n++] = (ch > 0x20 && ch < 0x7f) ? ch : '?';
	}
	out[n] = '\0';
}

static void on_banner(const char *text, int index, void *ud)
{
	struct probe_smtp_result *res = ud;

	if (index == 0)
		copy_printable(res->banner, sizeof(res->banner), text);
}

/* EHLO's lines after the first are "KEYWORD params". */
static void on_ehlo(const char *text, int index, void *ud)
{
	struct probe_smtp_result *res = ud;
	const char *kw = text + 4, *p;
	size_t n;

	if (index == 0 || !text[3])
		return;
	n = strcspn(kw, " =");
	if (n == 0)
		return;
	if (n == 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
		res->starttls = true;
	if (n == 4 && strncasecmp(kw, "AUTH", 4) == 0 && kw[4] == ' ') {
		for (p = kw + 5; *p;) {
			size_t m;

			p += strspn(p, " ");
			m = strcspn(p, " ");
			if (m)
				append_word(res->auth, sizeof(res->auth), p, m);
			p += m;
		}
	}
	append_word(res->capabilities, sizeof(res->capabilities), kw, n);
}

static void note(struct probe_smtp_result *res, const char *what, int r)
{
	if (res->error[0])
		return;
	if (r == -ETIMEDOUT)
		snprintf(res->error, sizeof(res->error),
			 "%s: no answer within the timeout", what);
	else if (r == -E2BIG)
		snprintf(res->error, sizeof(res->error),
			 "%s: the answer is over the probe's caps", what);
	else if (r == -EPROTO)
		snprintf(res->error, sizeof(res->error),
			 "%s: not an SMTP reply", what);
	else if (r < 0)
		snprintf(res->error, sizeof(res->error), "%s: %s", what,
			 strerror(-r));
	else
		snprintf(res->error, sizeof(res->error), "%s: answered %d",
			 what, r);
}

static void result_init(struct probe_smtp_result *res)
{
	memset(res, 0, sizeof(*res));
	res->relay = -1;
}

/* The relay test: 1 when RCPT TO the outside domain is taken, 0 when it
 * or MAIL FROM is refused, or a negative errno. */
static int relay_test(struct conn *c, const char *domain,
		      struct probe_smtp_result *res)
{
	char cmd[PROBE_SMTP_LINE_MAX];
	int code = 0, r;

	snprintf(cmd, sizeof(cmd), "MAIL FROM:<derelict-probe@%s>", domain);
	if ((r = send_line(c, cmd)) < 0 ||
	    (r = read_reply(c, &code, NULL, NULL)) < 0) {
		note(res, "MAIL FROM", r);
		return r;
	}
	if (code != 250)
		return 0;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<derelict-relay-test@%s>", domain);
	if ((r = send_line(c, cmd)) < 0 ||
	    (r = read_reply(c, &code, NULL, NULL)) < 0) {
		note(res, "RCPT TO", r);
		return r;
	}
	return code / 100 == 2 ? 1 : 0;
}

int probe_smtp_talk(int fd, const struct probe_smtp_opts *o,
		    struct probe_smtp_result *ret)
{
	struct conn conn = { 0 }, *c = &conn;
	struct probe_smtp_result res;
	char cmd[PROBE_SMTP_LINE_MAX];
	int code = 0, r;

	result_init(&res);
	res.reachable = true;
	c->fd = fd;
	c->cancel_fd = o->cancel_fd;
	c->deadline = now_ms() + o->timeout_ms;

	r = read_reply(c, &code, on_banner, &res);
	if (r < 0) {
		note(&res, "greeting", r);
		goto out;
	}
	res.smtp = true;
	if (code != 220) {
		note(&res, "greeting", code);
		goto quit;
	}
	snprintf(cmd, sizeof(cmd), "EHLO %s",
		 o->helo_name && o->helo_name[0] ? o->helo_name : "derelictd");
	if ((r = send_line(c, cmd)) < 0 ||
	    (r = read_reply(c, &code, on_ehlo, &res)) < 0) {
		note(&res, "EHLO", r);
		goto out;
	}
	res.ehlo = code == 250;
	if (!res.ehlo)
		note(&res, "EHLO", code);
	if (o->relay_domain && o->relay_domain[0]) {
		r = relay_test(c, o->relay_domain, &res);
		if (r < 0)
			goto out;
		res.relay = r;
		/* Forgets the envelope: nothing of it stays on the server. */
		if ((r = send_line(c, "RSET")) < 0 ||
		    (r = read_reply(c, &code, NULL, NULL)) < 0) {
			note(&res, "RSET", r);
			goto out;
		}
	}
quit:
	/* Best effort: a server that drops the line at QUIT is fine. */
	if (send_line(c, "QUIT") == 0)
		r = read_reply(c, &code, NULL, NULL);
	r = 0;
out:
	*ret = res;
	if (r == -ECANCELED || r == -ENOMEM)
		return r;
	return 0;
}

int probe_smtp_run(const struct sockaddr *sa, socklen_t salen,
		   const struct probe_smtp_opts *o,
		   struct probe_smtp_result *ret)
{
	struct conn c = { .cancel_fd = o->cancel_fd };
	struct probe_smtp_result res;
	int64_t started = now_ms();
	int fd, r, err = 0;
	socklen_t elen = sizeof(err);

	result_init(&res);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		r = -errno;
		note(&res, "socket", r);
		*ret = res;
		return r == -ENOMEM || r == -ENOBUFS ? -ENOMEM : 0;
	}
	c.fd = fd;
	c.deadline = started + o->timeout_ms;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			note(&res, "connect", -errno);
			r = 0;
			goto out;
		}
		r = wait_fd(&c, POLLOUT);
		if (r < 0) {
			note(&res, "connect", r);
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err) {
			note(&res, "connect", -err);
			r = 0;
			goto out;
		}
	}
	if (o->banner_only) {
		res.reachable = true;
		r = 0;
		goto out;
	}
	{
		/* The conversation has what is left of the one timeout. */
		struct probe_smtp_opts rest = *o;

		rest.timeout_ms = c.deadline - now_ms();
		if (rest.timeout_ms < 1)
			rest.timeout_ms = 1;
		r = probe_smtp_talk(fd, &rest, &res);
	}
out:
	close(fd);
	*ret = res;
	if (r == -ECANCELED || r == -ENOMEM)
		return r;
	return 0;
}

/* Names greetings give, and whether a version follows them. */
static const char *const known_mtas[] = {
	"Exim",	      "Postfix",   "Sendmail", "OpenSMTPD", "Haraka",
	"Courier",    "qmail",	   "MailEnable", "Microsoft ESMTP MAIL Service",
	"Exchange",   "hMailServer", "Zimbra", "Kerio", "MDaemon",
};

void probe_smtp_banner_version(const char *banner,
			       char out[PROBE_SMTP_VERSION_MAX])
{
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(known_mtas) / sizeof(known_mtas[0]);
	     i++) {
		const char *name = known_mtas[i];
		size_t n = strlen(name), v;
		const char *p = strstr(banner, name);

		if (!p)
			continue;
		/* A word of its own: "Eximious" is not Exim. */
		if ((p > banner && p[-1] != ' ' && p[-1] != '(') ||
		    (p[n] && p[n] != ' ' && p[n] != '/' && p[n] != ';' &&
		     p[n] != ')' && p[n] != ','))
			continue;
		p += n;
		if ((*p == ' ' || *p == '/') && p[1] >= '0' && p[1] <= '9') {
			p++;
			v = strspn(p, "0123456789.");
			while (v && p[v - 1] == '.')
				v--;
			snprintf(out, PROBE_SMTP_VERSION_MAX, "%s %.*s", name,
				 (int)(v > 32 ? 32 : v), p);
		} else {
			snprintf(out, PROBE_SMTP_VERSION_MAX, "%s", name);
		}
		return;
	}
}
