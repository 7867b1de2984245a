/*
 * probe_smtp.h - one SMTP conversation of the probe ([probe], probe.c):
 * connect, the banner, EHLO, optionally MAIL FROM/RCPT TO an outside
 * domain to see whether the server relays, then RSET and QUIT.  It never
 * sends DATA, so no message can come of it.
 *
 * Every read is bounded: a reply line at PROBE_SMTP_LINE_MAX bytes (RFC
 * 5321 allows 512), a reply at PROBE_SMTP_LINES_MAX lines, the whole
 * conversation at PROBE_SMTP_BYTES_MAX bytes and one deadline, so a peer
 * that accepts and never speaks costs one timeout.  Pure but for the
 * socket: the caller logs and stores.
 */
#ifndef DERELICT_PROBE_SMTP_H
#define DERELICT_PROBE_SMTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROBE_SMTP_LINE_MAX 512
#define PROBE_SMTP_LINES_MAX 64
#define PROBE_SMTP_BYTES_MAX 16384
#define PROBE_SMTP_BANNER_MAX 256
#define PROBE_SMTP_CAPS_MAX 512
#define PROBE_SMTP_VERSION_MAX 64

struct probe_smtp_opts {
	int64_t timeout_ms;		/* the whole conversation's */
	const char *helo_name;		/* the EHLO argument */
	const char *relay_domain;	/* NULL: no relay test */
	bool banner_only;		/* implicit TLS (465): connect only */
	int cancel_fd;			/* readable: stop now; -1 none */
};

/* What one conversation found; every member is written by
 * probe_smtp_talk() or probe_smtp_run(). */
struct probe_smtp_result {
	bool reachable;		/* the connection was accepted */
	bool smtp;		/* and answered a 220 greeting */
	char banner[PROBE_SMTP_BANNER_MAX];	/* the greeting's first line,
						 * "220 " and all, printable
						 * ASCII only */
	/* EHLO's keywords, upper case, space separated: "PIPELINING SIZE
	 * STARTTLS AUTH" (AUTH's mechanisms are in auth). */
	char capabilities[PROBE_SMTP_CAPS_MAX];
	bool ehlo;		/* EHLO was answered 250 */
	bool starttls;
	char auth[128];		/* "PLAIN LOGIN"; "" none offered */
	int relay;		/* 1 RCPT TO the outside domain was taken,
				 * 0 refused, -1 not tested */
	char error[128];	/* why it stopped early; "" it did not */
};

/* Connects to sa (non-blocking, within the deadline) and talks.  0 when
 * the conversation was had, however far it got (ret says how far: a
 * refused connection is 0 with !reachable); -ECANCELED when cancel_fd
 * became readable; -ENOMEM. */
int probe_smtp_run(const struct sockaddr *sa, socklen_t salen,
		   const struct probe_smtp_opts *o,
		   struct probe_smtp_result *ret);

/* The conversation on a connected socket fd (a socketpair in the tests),
 * which it neither closes nor makes blocking.  ret->reachable is set.
 * Returns as probe_smtp_run(). */
int probe_smtp_talk(int fd, const struct probe_smtp_opts *o,
		    struct probe_smtp_result *ret);

/* The software and version a greeting names, as "Exim 4.92", "Postfix",
 * "Sendmail 8.15.2", "OpenSMTPD"; "" when none is recognised.  From the
 * banner alone: unconfirmed (Debian keeps upstream's number and backports
 * the fixes). */
void probe_smtp_banner_version(const char *banner,
			       char out[PROBE_SMTP_VERSION_MAX]);

#endif
