/*
 * digest.h - the mail thread: on a schedule kept in the store
 * (sql/007_mail.sql), each contact with hosts that need an answer gets
 * one digest per [notify] digest_every, at once for a new critical
 * finding (at most once an hour), and escalate_to a copy once the oldest
 * finding has waited escalate_after; hosts answered "not mine" go to
 * escalate_to in a mail of their own.  Each digest is queued in the
 * outbox (notify.h, its "mail:" channel) in the transaction that moves
 * the schedule on; the sender delivers it with retries.
 */
#ifndef DERELICT_DIGEST_H
#define DERELICT_DIGEST_H

#include "server.h"
#include "store.h"

struct digest;

/* Starts the thread (mail is on: cfg->smtp_url is set); key is the
 * answer links' (ANSWER_KEY_LEN bytes, borrowed for the thread's life).
 * 0 or a negative errno. */
int digest_start(const struct server_config *cfg, struct store *st,
		 const unsigned char *key, struct digest **ret);
/* Stops it after the mail in flight; accepts NULL. */
void digest_stop(struct digest *d);

/* Checks the [notify] keys that conf.h cannot: the smtp_url scheme and
 * the addresses.  0, or -EINVAL with err filled. */
int digest_check_config(const struct server_config *cfg, char err[256]);

#endif
