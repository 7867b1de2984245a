/*
 * notify.h - tells people of findings: the channels (webhooks, and what
 * else plugs in by name) and the sender thread that delivers the outbox
 * (store_notify.c) to them, with retries.
 *
 * Every event is a row of notify_deliveries per destination, queued in the
 * transaction of the finding change that causes it; the sender delivers
 * the oldest pending row of each destination, one at a time, and never
 * holds a transaction while it talks to a receiver.
 */
#ifndef DERELICT_NOTIFY_H
#define DERELICT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct server_config;
struct store;

/* Links in events and mails come from links.h. */

/* One row of the outbox as the sender hands it to a channel. */
struct notify_delivery {
	int64_t id;
	const char *event_id;	/* stable across attempts and destinations */
	const char *destination;	/* "webhook:NAME" */
	const char *kind;	/* "finding.opened", ... */
	const char *payload;	/* JSON, as queued */
	int attempts;		/* before this one */
	int64_t created_at;
};

enum notify_result {
	NOTIFY_DELIVERED,
	NOTIFY_RETRY,		/* later, with backoff */
	NOTIFY_DISABLE,		/* the receiver wants no more (410 Gone) */
};

/* A destination with what its channel keeps of it. */
struct notify_target {
	struct store_notify_dest dest;	/* name and severity floor */
	const struct notify_channel *channel;
	void *data;		/* the channel's: URL, key, ... */
};

/*
 * A kind of destination.  configure() adds a target per destination the
 * configuration names (name beginning with prefix), reading their secrets;
 * deliver() tries one delivery and says how it went, with a short reason
 * in err on anything but NOTIFY_DELIVERED; release() frees a target's
 * data.  A new channel is one more entry of the table in notify.c.
 */
struct notify_channel {
	const char *prefix;
	int (*configure)(const struct server_config *cfg,
			 struct notify_target *targets, int max,
			 int *n_targets, char *err, size_t errlen);
	enum notify_result (*deliver)(const struct notify_target *t,
				      const struct notify_delivery *d,
				      int64_t now, char *err, size_t errlen);
	void (*release)(void *data);
};

extern const struct notify_channel notify_webhook_channel;
/* notify_mail.c: its one target, "mail:", names a family of destinations
 * ("mail:<address>", one per recipient): a target whose name ends in ':'
 * is delivered for every destination under it with pending rows. */
extern const struct notify_channel notify_mail_channel;

/* The delay before retry number attempts (1 after the first failure):
 * base doubled per attempt, at most NOTIFY_MAX_DELAY, the upper half
 * jittered by rnd (uniform over 32 bits) so receivers that came back are
 * not hit by every sender at once. */
#define NOTIFY_MAX_DELAY (4 * 3600)
int64_t notify_backoff(int attempts, int64_t base, uint32_t rnd);

/* Standard Webhooks signing.  The secret is "whsec_" and the base64 of
 * 24 to 64 random bytes; *ret_len gets the key's length.  -EINVAL for
 * anything else. */
#define NOTIFY_KEY_MAX 64
int notify_webhook_key(const char *secret, unsigned char key[NOTIFY_KEY_MAX],
		       size_t *ret_len);
/* Writes "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>". */
#define NOTIFY_SIGNATURE_LEN 64
int notify_webhook_sign(const unsigned char *key, size_t key_len,
			const char *id, int64_t timestamp, const char *body,
			size_t body_len, char out[NOTIFY_SIGNATURE_LEN]);

struct notify;

/* Sets up every configured destination and tells the store where events
 * go (store_notify_set_dests()); with none, nothing is queued or sent.
 * err says what is wrong with the configuration (an unreadable secret). */
int notify_new(const struct server_config *cfg, struct store *st,
	       struct notify **ret, char *err, size_t errlen);
/* What --check-config checks of the destinations: that every secret
 * can be read and is one.  0, or a negative errno with err filled. */
int notify_check_config(const struct server_config *cfg, char *err,
			size_t errlen);
/* The destinations' names, comma-separated, for a start-up line; "" none. */
void notify_describe(const struct notify *n, char *buf, size_t len);
/* Starts the sender thread (nothing when no destination is set). */
int notify_start(struct notify *n);
/* Wakes the sender: new rows may be due. */
void notify_kick(struct notify *n);
/* Stops the sender after the delivery in flight, if any. */
void notify_stop(struct notify *n);
void notify_free(struct notify *n);

#endif
