/* ratelimit.c - see ratelimit.h.  A fixed table: an attacker with many
 * addresses evicts entries, but can never make it grow. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#define SLOTS 4096

static struct {
	char client[64];
	int64_t window;
	int failures;
} slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned slot_of(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SLOTS;
}

void ratelimit_fail(const char *client)
{
	unsigned i = slot_of(client);
	int64_t minute = time_now() / 60;

	pthread_mutex_lock(&lock);
	if (strcmp(slots[i].client, client) != 0 || slots[i].window != minute) {
		snprintf(slots[i].client, sizeof(slots[i].client), "%s", client);
		slots[i].window = minute;
		slots[i].failures = 0;
	}
	slots[i].failures++;
	pthread_mutex_unlock(&lock);
}

int ratelimit_blocked(const char *client)
{
	unsigned i = slot_of(client);
	int blocked;

	pthread_mutex_lock(&lock);
	blocked = strcmp(slots[i].client, client) == 0 &&
		  slots[i].window == time_now() / 60 &&
		  slots[i].failures >= RATELIMIT_FAILURES;
	pthread_mutex_unlock(&lock);
	return blocked;
}
