/* ratelimit.c - see ratelimit.h.  A fixed table: an attacker with many
 * addresses or credentials evicts entries, but can never make it grow.
 * Credentials are kept as a hash, never as presented. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "timeutil.h"

#define SLOTS 4096

static struct {
	char key[72];	/* kind, "a" + address or "c" + a credential's hash */
	int64_t window;
	int failures;
} slots[SLOTS];
static int64_t global_window[RATELIMIT_KIND_COUNT];
static unsigned global_failures[RATELIMIT_KIND_COUNT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned slot_of(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SLOTS;
}

static void key_address(char *key, size_t len, enum ratelimit_kind kind,
			const char *client)
{
	snprintf(key, len, "%da%s", (int)kind, client);
}

/* 0 and an empty key when there is no credential. */
static int key_credential(char *key, size_t len, enum ratelimit_kind kind,
			  const char *credential)
{
	char hash[SHA256_HEX_LEN];

	key[0] = '\0';
	if (!credential || !*credential ||
	    sha256_hex(credential, strlen(credential), hash) < 0)
		return 0;
	/* 32 hex digits are plenty to tell credentials apart here. */
	snprintf(key, len, "%dc%.32s", (int)kind, hash);
	return 1;
}

/* Called with the lock held. */
static void count(const char *key, int64_t minute)
{
	unsigned i = slot_of(key);

	if (strcmp(slots[i].key, key) != 0 || slots[i].window != minute) {
		snprintf(slots[i].key, sizeof(slots[i].key), "%s", key);
		slots[i].window = minute;
		slots[i].failures = 0;
	}
	slots[i].failures++;
}

/* Called with the lock held. */
static int over(const char *key, int64_t minute, int limit)
{
	unsigned i = slot_of(key);

	return strcmp(slots[i].key, key) == 0 && slots[i].window == minute &&
	       slots[i].failures >= limit;
}

void ratelimit_fail(enum ratelimit_kind kind, const char *client,
		    const char *credential)
{
	char ka[sizeof(slots[0].key)], kc[sizeof(slots[0].key)];
	int64_t minute = time_now() / 60;
	int has_cred = key_credential(kc, sizeof(kc), kind, credential);

	key_address(ka, sizeof(ka), kind, client);
	pthread_mutex_lock(&lock);
	count(ka, minute);
	if (has_cred)
		count(kc, minute);
	if (global_window[kind] != minute) {
		global_window[kind] = minute;
		global_failures[kind] = 0;
	}
	global_failures[kind]++;
	pthread_mutex_unlock(&lock);
}

int ratelimit_blocked(enum ratelimit_kind kind, const char *client,
		      const char *credential)
{
	char ka[sizeof(slots[0].key)], kc[sizeof(slots[0].key)];
	int64_t minute = time_now() / 60;
	int has_cred = key_credential(kc, sizeof(kc), kind, credential);
	int blocked;

	key_address(ka, sizeof(ka), kind, client);
	pthread_mutex_lock(&lock);
	blocked = over(ka, minute, RATELIMIT_FAILURES) ||
		  (has_cred &&
		   over(kc, minute, RATELIMIT_CREDENTIAL_FAILURES)) ||
		  (global_window[kind] == minute &&
		   global_failures[kind] >= RATELIMIT_GLOBAL_FAILURES);
	pthread_mutex_unlock(&lock);
	return blocked;
}

unsigned ratelimit_global_failures(enum ratelimit_kind kind)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = global_window[kind] == time_now() / 60 ? global_failures[kind] : 0;
	pthread_mutex_unlock(&lock);
	return n;
}
