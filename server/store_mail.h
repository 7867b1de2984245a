/*
 * store_mail.h - what the owners' mails keep in the store: who is due a
 * digest, the hosts a digest lists, the schedule (sql/007_mail.sql), and
 * the answers given through the mails' links.  Conventions as store.h.
 */
#ifndef DERELICT_STORE_MAIL_H
#define DERELICT_STORE_MAIL_H

#include <jansson.h>
#include <stdint.h>

#include "answer.h"
#include "store.h"

/* Each address that has hosts needing an answer: a project's contact, or
 * its owner when that is an address, whose hosts (not retired) have open
 * findings of min_severity or worse.  *ret is an array of
 * {"address", "hosts", "newest", "oldest", "newest_critical",
 *  "last_digest_at"} (times as seconds). */
int store_mail_due(struct store *st, int min_severity, json_t **ret);

/* The hosts a digest to address lists, worst first, at most limit: each
 * {"id", "hostname", "project", "ends_on", "last_login_at",
 * "last_login_user", "packages_changed_at", "findings": [{"id", "rule",
 * "severity", "summary", "details", "first_seen"}]}; *ret_more counts the
 * hosts beyond limit. */
int store_mail_digest_hosts(struct store *st, const char *address,
			    int min_severity, int limit, json_t **ret,
			    int64_t *ret_more);
/* The hosts answered "not mine" and not yet sent to escalate_to, in the
 * same form with "handed_by"; *ret_last is the last handoff's id, for
 * store_mail_handoffs_sent(). */
int store_mail_handoff_hosts(struct store *st, int limit, json_t **ret,
			     int64_t *ret_more, int64_t *ret_last);

/* One composed mail for the outbox. */
struct store_mail_out {
	const char *to;
	const char *message;	/* RFC 5322, as mail_compose() made it */
	size_t len;
};

/* Queues the mails as outbox rows (sql/006: destination
 * "mail:<to>", kind "digest", payload {"to", "message"}) in one
 * transaction with the schedule: address's digest counted as sent at now
 * (waited > 0: escalated too, its oldest finding unanswered that long),
 * or with address NULL the handoffs up to handoff_last marked sent.  A
 * crash leaves both or neither: no digest is lost or queued twice. */
int store_mail_queue(struct store *st, const struct store_mail_out *outs,
		     int n, const char *address, int64_t hosts, int64_t waited,
		     int64_t handoff_last, int64_t now);

/* The destinations under prefix ("mail:") that have pending outbox rows,
 * at most max of them, into names; *ret_count says how many. */
#define STORE_MAIL_DEST_MAX (5 + ANSWER_RECIPIENT_MAX + 1)
#define STORE_MAIL_DESTS_MAX 64
int store_mail_destinations(struct store *st, const char *prefix,
			    char (*names)[STORE_MAIL_DEST_MAX], int max,
			    int *ret_count);

/* For the confirmation page: {"hostname", "project", "summary", "rule",
 * "retired", "used"} of a link's host and finding.  -ENOENT when the host
 * is gone. */
int store_mail_link_info(struct store *st, const struct answer *a,
			 json_t **ret);

/* The key that signs the mails' links, shared by every node of the
 * database: the one stored, or candidate (a fresh random key, or the
 * answer.key file of an older release) stored first when there is none;
 * whichever node stores first wins.  0 with ret filled, or the error. */
int store_mail_link_key(struct store *st,
			const unsigned char candidate[ANSWER_KEY_LEN],
			unsigned char ret[ANSWER_KEY_LEN]);
/* Carries out a verified answer, in one transaction with its record in
 * the host's history (section "answer") and the link's use: keep
 * acknowledges the host's open findings until a->until (and moves an
 * ended project's end there when a->recipient is the project's contact),
 * retire marks the host retired, notmine clears its project and queues it
 * for escalate_to.  -EALREADY when the link was used, -ENOENT when the
 * host is gone. */
int store_mail_answer(struct store *st, const struct answer *a, int64_t now);

#endif
