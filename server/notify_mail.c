/*
 * notify_mail.c - the "mail" channel of the outbox: the digests that
 * digest.c composes and queues, one destination "mail:<address>" per
 * recipient (so one address that refuses mail holds up no other), kind
 * "digest", the payload {"to", "message"} with the whole message as
 * composed; this channel hands it to the SMTP server of [notify] smtp_url.
 * A retry sends the same message, Message-ID and all.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "mail.h"
#include "notify.h"
#include "rules.h"
#include "server.h"

static int mail_configure(const struct server_config *cfg,
			  struct notify_target *targets, int max,
			  int *n_targets, char *err, size_t errlen)
{
	*n_targets = 0;
	if (!cfg->smtp_url[0])
		return 0;
	if (max < 1) {
		snprintf(err, errlen, "too many notification destinations");
		return -E2BIG;
	}
	memset(&targets[0], 0, sizeof(targets[0]));
	/* A family: the sender delivers every "mail:<address>" with pending
	 * rows.  Findings reach the owners as digests, never one by one:
	 * no finding event is queued for it (a floor above critical). */
	snprintf(targets[0].dest.name, sizeof(targets[0].dest.name), "mail:");
	targets[0].dest.min_severity = RULES_SEV_COUNT;
	targets[0].data = (void *)cfg;
	*n_targets = 1;
	return 0;
}

static enum notify_result mail_deliver(const struct notify_target *t,
				       const struct notify_delivery *d,
				       int64_t now, char *err, size_t errlen)
{
	const struct server_config *cfg = t->data;
	json_t *p = json_loads(d->payload, 0, NULL);
	const char *to = json_get_str(p, "to");
	const char *msg = json_get_str(p, "message");
	char why[256];
	int r;

	(void)now;
	if (!to || !msg) {
		snprintf(err, errlen, "not a mail: the payload lacks to or "
				      "message");
		json_decref(p);
		return NOTIFY_RETRY;
	}
	r = mail_send(cfg->smtp_url, cfg->mail_from, to, msg, strlen(msg),
		      why);
	json_decref(p);
	if (r < 0) {
		snprintf(err, errlen, "%s", why);
		return NOTIFY_RETRY;
	}
	return NOTIFY_DELIVERED;
}

static void mail_release(void *data)
{
	(void)data;	/* the configuration, not ours */
}

const struct notify_channel notify_mail_channel = {
	.prefix = "mail:",
	.configure = mail_configure,
	.deliver = mail_deliver,
	.release = mail_release,
};
