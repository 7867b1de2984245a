/*
 * mail.h - the owners' digest mails: composing one (headers, a plain text
 * and an HTML part, the signed answer links) and sending it through
 * libcurl's SMTP.
 *
 * Every string that came from an agent is made safe for where it goes:
 * headers carry none of them (only addresses checked by
 * mail_address_ok() and counts), the text part has its control characters
 * replaced, the HTML part is escaped (html.h); both parts travel base64,
 * so no line of theirs can end the message or break its MIME structure.
 */
#ifndef DERELICT_MAIL_H
#define DERELICT_MAIL_H

#include <jansson.h>
#include <stdint.h>

#include "answer.h"
#include "buf.h"

#define MAIL_MAX_BYTES (4u << 20)	/* one composed message */
#define MAIL_MAX_HOSTS 200		/* listed in full; more are counted */

/* 1 when s is a plain address (local@domain, printable ASCII, no spaces,
 * quotes, angle brackets or commas, at most 254 bytes), else 0. */
int mail_address_ok(const char *s);

struct mail_digest {
	const char *from;
	const char *to;			/* the recipient; links answer as it */
	const char *contact;		/* whose digest it is (== to, or the
					 * contact when to is escalate_to) */
	int64_t waited;			/* >0: escalated, unanswered this long */
	int handoff;			/* the "not mine" hosts for escalate_to */
	const json_t *hosts;		/* store_mail_digest_hosts()'s items */
	int64_t more;			/* hosts beyond those listed */
	const char *base_url;		/* of the answer links, no trailing / */
	const unsigned char *key;	/* ANSWER_KEY_LEN bytes */
	int64_t now;
};

/* Composes the whole message (RFC 5322, CRLF lines) into out, a buffer of
 * the caller's (cap it at MAIL_MAX_BYTES).  0, -EINVAL for a bad address,
 * -E2BIG, -ENOMEM or -EIO (no randomness). */
int mail_compose(const struct mail_digest *d, struct buf *out);

/* Sends msg through smtp_url (smtp:// tries STARTTLS, smtps:// is TLS
 * from the start), from and to the given addresses, within a timeout.
 * 0, or -EIO with the reason in err. */
int mail_send(const char *smtp_url, const char *from, const char *to,
	      const char *msg, size_t len, char err[256]);

#endif
