/*
 * notify.c - the channels' table, the links events carry, and the sender
 * thread that delivers the outbox (see notify.h).
 */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store_mail.h"
#include "timeutil.h"

/* Every kind of destination; a new one is a line here. */
static const struct notify_channel *const channels[] = {
	&notify_webhook_channel,
	&notify_mail_channel,
};

#define N_CHANNELS (sizeof(channels) / sizeof(channels[0]))
/* Deliveries to one destination in a row before the others get a turn. */
#define NOTIFY_BATCH 16
#define NOTIFY_PRUNE_EVERY 3600
/* How often the sender looks for due rows when nobody kicks it. */
#define NOTIFY_POLL_MS 1000

struct notify {
	const struct server_config *cfg;
	struct store *st;
	struct notify_target targets[STORE_NOTIFY_MAX_DESTS];
	int n_targets;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int started, stopping, kicked;
};

int64_t notify_backoff(int attempts, int64_t base, uint32_t rnd)
{
	int64_t d = base > 0 ? base : 1;

	for (int i = 1; i < attempts && d < NOTIFY_MAX_DELAY; i++)
		d *= 2;
	if (d > NOTIFY_MAX_DELAY)
		d = NOTIFY_MAX_DELAY;
	/* Half fixed, half random: never sooner than d/2. */
	d = d / 2 + (int64_t)(((uint64_t)(d - d / 2) * rnd) >> 32);
	return d > 0 ? d : 1;
}

int notify_new(const struct server_config *cfg, struct store *st,
	       struct notify **ret, char *err, size_t errlen)
{
	struct store_notify_dest dests[STORE_NOTIFY_MAX_DESTS];
	struct notify *n = calloc(1, sizeof(*n));
	int r = 0;

	err[0] = '\0';
	if (!n)
		return -ENOMEM;
	n->cfg = cfg;
	n->st = st;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	for (size_t i = 0; i < N_CHANNELS && r == 0; i++) {
		int before = n->n_targets, added = 0;

		r = channels[i]->configure(cfg, n->targets + before,
					   STORE_NOTIFY_MAX_DESTS - before,
					   &added, err, errlen);
		for (int j = before; j < before + added; j++)
			n->targets[j].channel = channels[i];
		n->n_targets += added;
	}
	/* A row names its channel by the prefix of its destination. */
	for (int i = 0; i < n->n_targets && r == 0; i++)
		if (strncmp(n->targets[i].dest.name,
			    n->targets[i].channel->prefix,
			    strlen(n->targets[i].channel->prefix)) != 0)
			r = -EPROTO;
	for (int i = 0; i < n->n_targets; i++)
		dests[i] = n->targets[i].dest;
	if (r == 0)
		r = store_notify_set_dests(st, dests, (size_t)n->n_targets);
	if (r < 0) {
		notify_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

int notify_check_config(const struct server_config *cfg, char *err,
			size_t errlen)
{
	struct notify_target targets[STORE_NOTIFY_MAX_DESTS];
	int total = 0, r = 0;

	err[0] = '\0';
	for (size_t i = 0; i < N_CHANNELS && r == 0; i++) {
		int added = 0;

		r = channels[i]->configure(cfg, targets + total,
					   STORE_NOTIFY_MAX_DESTS - total,
					   &added, err, errlen);
		for (int j = total; j < total + added; j++)
			channels[i]->release(targets[j].data);
		total += added;
	}
	return r;
}

void notify_describe(const struct notify *n, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; n && i < n->n_targets && used < len; i++) {
		int m = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 n->targets[i].dest.name);

		if (m < 0)
			break;
		used += (size_t)m;
	}
}

static int waiting(struct notify *n, int ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->lock);
	while (!n->stopping && !n->kicked)
		if (pthread_cond_timedwait(&n->wake, &n->lock, &ts) != 0)
			break;
	n->kicked = 0;
	stop = n->stopping;
	pthread_mutex_unlock(&n->lock);
	return stop;
}

static int stopping(struct notify *n)
{
	int stop;

	pthread_mutex_lock(&n->lock);
	stop = n->stopping;
	pthread_mutex_unlock(&n->lock);
	return stop;
}

/* Tries the oldest pending row of t once, and records how it went:
 * 1 when it did deliver (the next row may follow at once), 0 when t has
 * nothing due, a negative errno when the store failed. */
static int deliver_one(struct notify *n, struct notify_target *t,
		       const char *destination)
{
	struct store_delivery sd;
	struct notify_delivery d;
	enum notify_result res;
	char err[256] = "";
	int64_t now = time_now(), next = now;
	const char *status;
	uint32_t rnd = 0;
	int r;

	r = store_notify_next(n->st, destination, now, &sd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (r == 1) {
		store_delivery_clear(&sd);
		return 0;
	}
	d = (struct notify_delivery){ sd.id, sd.event_id, sd.destination,
				      sd.kind, sd.payload, sd.attempts,
				      sd.created_at };
	res = t->channel->deliver(t, &d, now, err, sizeof(err));
	now = time_now();
	switch (res) {
	case NOTIFY_DELIVERED:
		status = "delivered";
		break;
	case NOTIFY_DISABLE:
		status = "disabled";
		break;
	default:
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
			rnd = (uint32_t)now * 2654435761u;
		next = now + notify_backoff(sd.attempts + 1,
					    n->cfg->notify_retry_base, rnd);
		status = next - sd.created_at > n->cfg->notify_retry_for
				 ? "failed"
				 : "pending";
		break;
	}
	metrics_notify_attempt(status[0] == 'p' ? "retry" : status);
	r = store_notify_record(n->st, sd.id, status,
				res == NOTIFY_DELIVERED ? NULL : err, next, now);
	if (r < 0)
		log_error_errno(r, "notify: cannot record delivery %lld to %s",
				(long long)sd.id, sd.destination);
	else if (res == NOTIFY_DISABLE)
		log_warning("notify: %s switched itself off (%s); nothing more "
			    "is queued for it until an admin retries a "
			    "delivery",
			    sd.destination, err);
	else if (strcmp(status, "failed") == 0)
		log_warning("notify: gave up delivering %s to %s: %s",
			    sd.event_id, sd.destination, err);
	store_delivery_clear(&sd);
	return r < 0 ? r : res == NOTIFY_DELIVERED;
}

/* Delivered, failed and disabled rows are kept as long as the change
 * history ([server] history_keep), then deleted a slice at a time. */
static int prune(struct notify *n, int64_t now)
{
	int count = 0, r;

	r = store_notify_prune(n->st, now - n->cfg->history_keep, &count);
	if (r < 0)
		log_warning_errno(r, "notify: cannot delete old deliveries");
	return r == 0 && count > 0;
}

/* A bounded batch of one destination's rows; 1 when more may wait. */
static int deliver_batch(struct notify *n, struct notify_target *t,
			 const char *destination)
{
	int k;

	for (k = 0; k < NOTIFY_BATCH && !stopping(n); k++)
		if (deliver_one(n, t, destination) <= 0)
			break;
	return k == NOTIFY_BATCH;
}

/* A target, or each destination of a family ("mail:"; notify.h). */
static int deliver_target(struct notify *n, struct notify_target *t)
{
	char (*names)[STORE_MAIL_DEST_MAX] = NULL;
	size_t len = strlen(t->dest.name);
	int more = 0, count = 0;

	if (len == 0 || t->dest.name[len - 1] != ':')
		return deliver_batch(n, t, t->dest.name);
	names = calloc(STORE_MAIL_DESTS_MAX, sizeof(*names));
	if (!names)
		return 0;
	if (store_mail_destinations(n->st, t->dest.name, names,
				    STORE_MAIL_DESTS_MAX, &count) < 0)
		log_error("notify: cannot list the destinations of %s: %s",
			  t->dest.name, store_errmsg());
	for (int i = 0; i < count && !stopping(n); i++)
		more |= deliver_batch(n, t, names[i]);
	free(names);
	return more || count == STORE_MAIL_DESTS_MAX;
}

static void *sender(void *arg)
{
	struct notify *n = arg;
	int64_t pruned = 0;

	for (;;) {
		int more = 0;
		int64_t now = time_now();

		/* store_notify_next() reads the oldest row without claiming
		 * it: two nodes would both send it.  The leader alone sends;
		 * a follower asks again at the next poll. */
		if (store_leader(n->st) != 1) {
			if (waiting(n, NOTIFY_POLL_MS))
				break;
			continue;
		}
		if (now - pruned >= NOTIFY_PRUNE_EVERY) {
			more = prune(n, now);
			if (!more)
				pruned = now;
		}

		/* One destination at a time, each a bounded batch: one slow
		 * receiver delays the others by its timeout at most. */
		for (int i = 0; i < n->n_targets && !stopping(n); i++)
			more |= deliver_target(n, &n->targets[i]);
		if (more ? stopping(n) : waiting(n, NOTIFY_POLL_MS))
			break;
	}
	return NULL;
}

int notify_start(struct notify *n)
{
	int r;

	if (!n || n->n_targets == 0)
		return 0;
	r = pthread_create(&n->thread, NULL, sender, n);
	if (r)
		return -r;
	n->started = 1;
	return 0;
}

void notify_kick(struct notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->kicked = 1;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
}

void notify_stop(struct notify *n)
{
	if (!n || !n->started)
		return;
	pthread_mutex_lock(&n->lock);
	n->stopping = 1;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	n->started = 0;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	for (int i = 0; i < n->n_targets; i++)
		if (n->targets[i].channel && n->targets[i].channel->release)
			n->targets[i].channel->release(n->targets[i].data);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->wake);
	free(n);
}
