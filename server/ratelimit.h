/*
 * ratelimit.h - slows down guessing: an address that sent many bad tokens
 * within a minute is refused (429) for the rest of that minute.
 */
#ifndef DERELICT_RATELIMIT_H
#define DERELICT_RATELIMIT_H

#define RATELIMIT_FAILURES 30	/* bad tokens per address per minute */

void ratelimit_fail(const char *client);
int ratelimit_blocked(const char *client);

#endif
