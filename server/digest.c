/* digest.c - the owners' digests, on their schedule (see digest.h). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "digest.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsonutil.h"
#include "links.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "rules.h"
#include "store_mail.h"
#include "timeutil.h"

/* A new critical finding is sent at once, but one contact gets such an
 * extra digest at most this often: a fleet of hosts whose findings open
 * one after another yields one mail, not one per host. */
#define CRITICAL_GAP 3600
/* After a failure to read or queue, the next pass waits this long. */
#define RETRY_AFTER 300
/* How often the thread looks at most; [rules] evaluate_every if shorter. */
#define TICK_MAX 60
/* Findings below this severity do not make a host need an answer. */
#define MIN_SEVERITY RULES_SEV_MEDIUM

struct digest {
	const struct server_config *cfg;
	struct store *st;
	const unsigned char *key;
	char base_url[512];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
	int64_t retry_at;	/* thread only: after a failed delivery */
};

int digest_check_config(const struct server_config *cfg, char err[256])
{
	err[0] = '\0';
	if (!cfg->smtp_url[0])
		return 0;
	if (strncasecmp(cfg->smtp_url, "smtp://", 7) != 0 &&
	    strncasecmp(cfg->smtp_url, "smtps://", 8) != 0) {
		snprintf(err, 256, "[notify] smtp_url: %.100s is neither "
			 "smtp:// nor smtps://", cfg->smtp_url);
		return -EINVAL;
	}
	if (!mail_address_ok(cfg->mail_from)) {
		snprintf(err, 256, "[notify] mail_from: %.100s is not a plain "
			 "address (local@domain)", cfg->mail_from);
		return -EINVAL;
	}
	if (cfg->escalate_to[0] && !mail_address_ok(cfg->escalate_to)) {
		snprintf(err, 256, "[notify] escalate_to: %.100s is not a "
			 "plain address (local@domain)", cfg->escalate_to);
		return -EINVAL;
	}
	return 0;
}

/* Composes md into msg; logs a failure. */
static int compose(struct mail_digest *md, struct buf *msg)
{
	int r = mail_compose(md, msg);

	if (r < 0)
		log_warning_errno(r, "mail: cannot compose the digest to %s",
				  md->to);
	return r;
}

/* Hands composed mails to delivery, the one place that knows how a mail
 * leaves: outbox rows (notify_mail.c sends them, with retries), queued
 * with the schedule's update.  0 or a negative errno (logged). */
static int deliver(struct digest *d, struct buf *msgs, const char **to,
		   int n, const char *address, int64_t hosts, int64_t waited,
		   int64_t handoff_last, int64_t now)
{
	struct store_mail_out outs[2];
	int r;

	for (int i = 0; i < n; i++)
		outs[i] = (struct store_mail_out){ to[i], msgs[i].data,
						   msgs[i].len };
	r = store_mail_queue(d->st, outs, n, address, hosts, waited,
			     handoff_last, now);
	if (r < 0)
		log_warning("mail: cannot queue the digest to %s: %s",
			    to[0], store_errmsg());
	return r;
}

/* One contact's digest, and its escalation when it is due. */
static int send_contact(struct digest *d, const json_t *due, int64_t now)
{
	const char *addr = json_get_str(due, "address");
	const char *esc = d->cfg->escalate_to;
	int64_t oldest = json_get_int(due, "oldest", now);
	struct buf msgs[2] = { BUF_INIT(MAIL_MAX_BYTES),
			       BUF_INIT(MAIL_MAX_BYTES) };
	const char *to[2] = { addr, esc };
	struct mail_digest md = { 0 };
	json_t *hosts = NULL;
	int64_t more = 0, waited = 0, total;
	int r, n = 1;

	r = store_mail_digest_hosts(d->st, addr, MIN_SEVERITY, MAIL_MAX_HOSTS,
				    &hosts, &more);
	if (r < 0) {
		log_warning("mail: cannot read the hosts of %s: %s", addr,
			    store_errmsg());
		return r;
	}
	if (json_array_size(hosts) == 0) {
		json_decref(hosts);
		return 0;
	}
	total = (int64_t)json_array_size(hosts) + more;
	md.from = d->cfg->mail_from;
	md.to = addr;
	md.contact = addr;
	md.hosts = hosts;
	md.more = more;
	md.base_url = d->base_url;
	md.key = d->key;
	md.now = now;
	r = compose(&md, &msgs[0]);
	if (r == 0 && esc[0] && strcasecmp(esc, addr) != 0 &&
	    now - oldest >= d->cfg->escalate_after) {
		/* The same digest, its links answering as the security
		 * team, saying how long it has waited. */
		md.to = esc;
		md.waited = now - oldest;
		r = compose(&md, &msgs[1]);
		waited = md.waited;
		n = 2;
	}
	if (r == 0)
		r = deliver(d, msgs, to, n, addr, total, waited, 0, now);
	if (r == 0)
		log_info("mail: digest of %" PRId64 " hosts to %s%s%s", total,
			 addr, n == 2 ? " and " : "", n == 2 ? esc : "");
	buf_free(&msgs[0]);
	buf_free(&msgs[1]);
	json_decref(hosts);
	return r;
}

static int send_handoffs(struct digest *d, int64_t now)
{
	struct buf msg = BUF_INIT(MAIL_MAX_BYTES);
	const char *to = d->cfg->escalate_to;
	struct mail_digest md = { 0 };
	json_t *hosts = NULL;
	int64_t more = 0, last = 0;
	int r;

	if (!to[0])
		return 0;	/* they wait until there is someone to tell */
	r = store_mail_handoff_hosts(d->st, MAIL_MAX_HOSTS, &hosts, &more,
				     &last);
	if (r < 0 || json_array_size(hosts) == 0) {
		json_decref(hosts);
		return r;
	}
	md.from = d->cfg->mail_from;
	md.to = to;
	md.handoff = 1;
	md.hosts = hosts;
	md.more = more;
	md.base_url = d->base_url;
	md.key = d->key;
	md.now = now;
	r = compose(&md, &msg);
	if (r == 0)
		r = deliver(d, &msg, &to, 1, NULL, 0, 0, last, now);
	buf_free(&msg);
	json_decref(hosts);
	return r;
}

/* Whether a contact is due at now. */
static int is_due(const struct digest *d, const json_t *c, int64_t now)
{
	int64_t last = json_get_int(c, "last_digest_at", 0);
	int64_t newest = json_get_int(c, "newest", 0);
	int64_t crit = json_get_int(c, "newest_critical", 0);
	int64_t gap = d->cfg->digest_every < CRITICAL_GAP ?
			      d->cfg->digest_every : CRITICAL_GAP;

	/* Findings still opening (a fleet's reports coming in): wait for
	 * them to settle, so one digest lists them all. */
	if (now - newest < d->cfg->digest_settle)
		return 0;
	if (last == 0 || now - last >= d->cfg->digest_every)
		return 1;
	return crit > last && now - last >= gap;
}

static void pass(struct digest *d)
{
	int64_t now = time_now();
	json_t *due = NULL, *c;
	size_t i;

	if (now < d->retry_at)
		return;
	if (store_mail_due(d->st, MIN_SEVERITY, &due) < 0) {
		log_warning("mail: cannot read who is due a digest: %s",
			    store_errmsg());
		return;
	}
	json_array_foreach(due, i, c) {
		if (!mail_address_ok(json_get_str(c, "address")) ||
		    !is_due(d, c, now))
			continue;
		if (send_contact(d, c, now) < 0) {
			d->retry_at = now + RETRY_AFTER;
			break;
		}
	}
	json_decref(due);
	if (now >= d->retry_at && send_handoffs(d, now) < 0)
		d->retry_at = now + RETRY_AFTER;
}

static void *run(void *arg)
{
	struct digest *d = arg;
	int64_t tick = d->cfg->evaluate_every < TICK_MAX ?
			       d->cfg->evaluate_every : TICK_MAX;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		struct timespec ts;

		pthread_mutex_unlock(&d->lock);
		/* One node sends the digests (tick <= evaluate_every: a
		 * follower asks that often). */
		if (store_leader(d->st) == 1)
			pass(d);
		pthread_mutex_lock(&d->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += tick;
		while (!d->stopping &&
		       pthread_cond_timedwait(&d->wake, &d->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int digest_start(const struct server_config *cfg, struct store *st,
		 const unsigned char *key, struct digest **ret)
{
	struct digest *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->st = st;
	d->key = key;
	r = links_public_url(cfg, d->base_url, sizeof(d->base_url));
	if (r < 0) {
		free(d);
		return r;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	r = pthread_create(&d->thread, NULL, run, d);
	if (r) {
		free(d);
		return -r;
	}
	pthread_setname_np(d->thread, "derelictd-mail");
	*ret = d;
	return 0;
}

void digest_stop(struct digest *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	free(d);
}
