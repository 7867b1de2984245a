/*
 * mail_activity.h - whether the host's MTA still carries mail, from its own
 * files: the end of its log (the last message received and delivered, the
 * counts over MAIL_ACTIVITY_WINDOW) and its queue directory (how many
 * messages wait, how many are frozen).  Counts and times only: no address,
 * subject or message id leaves these functions.
 *
 * The parsers take a buffer so the tests feed them fixtures;
 * mail_activity_collect() reads the files under a root directory and
 * fills the members of a mail item (collect_mail.c).
 */
#ifndef DERELICT_AGENT_MAIL_ACTIVITY_H
#define DERELICT_AGENT_MAIL_ACTIVITY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The span the counts cover, back from the time of collection. */
#define MAIL_ACTIVITY_WINDOW (90 * 86400)
/* Bytes read from the end of the logs in all: the current log's tail, and
 * the rotated one's (mainlog.1, mail.log.1) while this budget lasts.  A
 * busy MTA logs more in 90 days; the counts then cover what was read and
 * the item says "log_truncated". */
#define MAIL_MAX_LOG (4u << 20)
/* Entries of the mail facility read back from the journal, where Postfix
 * logs when there is no mail.log. */
#define MAIL_MAX_JOURNAL 200000
/* Directory entries looked at in a queue, and message headers opened to
 * see whether the message is frozen; beyond either the counts are lower
 * bounds and the item says "queue_truncated". */
#define MAIL_MAX_QUEUE_ENTRIES 200000
#define MAIL_MAX_QUEUE_READS 5000
/* Bytes of an Exim -H file read for its flags: they come before the
 * recipients and the headers. */
#define MAIL_MAX_HEADER_READ 8192

/* What a log says, accumulated over its files; times are UTC seconds. */
struct mail_log {
	int64_t last_delivered;	/* 0: no delivery in what was read */
	int64_t last_received;
	int64_t delivered;	/* within MAIL_ACTIVITY_WINDOW of now */
	int64_t received;
	int64_t since;		/* the oldest time read; 0 none */
};

/* Adds the lines of an Exim mainlog to *acc: "<=" a message received,
 * "=>" and "->" a delivery (one per recipient address).  Times are the
 * host's local time unless the line carries its offset (log_timezone).
 * Lines it does not know are skipped.  0, or -EINVAL for NULL. */
int mail_activity_exim_log(const char *text, size_t len, int64_t now,
			   struct mail_log *acc);
/* The same for Postfix's lines in a syslog file, traditional
 * ("Feb 11 10:15:33", the year the latest not after now) or RFC 3339
 * stamps: cleanup's "message-id=" a message received, a delivery agent's
 * "status=sent" a delivery.  Where /var/log/mail.log is absent,
 * mail_activity_collect() reads the same entries from the journal
 * (sd-journal; the files under root/var/log/journal for another root). */
int mail_activity_postfix_log(const char *text, size_t len, int64_t now,
			      struct mail_log *acc);
/* Whether an Exim spool -H file's text says the message is frozen (its
 * "-frozen" flag line): 1 or 0. */
int mail_activity_exim_frozen(const char *text, size_t len);

/* Adds to item (a mail item, owned by the caller) what the files under
 * root say of mta ("exim" or "postfix"):
 *   "last_delivered_at", "last_received_at"  RFC 3339 or null
 *   "delivered_90d", "received_90d"          counts
 *   "log_since"          the oldest time read (what the counts cover)
 *   "log_truncated"      true when MAIL_MAX_LOG (MAIL_MAX_JOURNAL) cut
 *                        the read
 * when its log exists (Postfix: when its log or the journal has its
 * entries), and
 *   "queue"              messages waiting
 *   "frozen"             Exim: frozen ones
 *   "deferred", "hold"   Postfix: those queues
 *   "queue_truncated"    true when a cap cut the count
 * when its queue directory does; *ret_found is set to 1 when either did.
 * A file that cannot be read counts as absent.  0 or -ENOMEM. */
int mail_activity_collect(const char *root, const char *mta, int64_t now,
			  json_t *item, int *ret_found);

#endif
