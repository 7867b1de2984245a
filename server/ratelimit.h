/*
 * ratelimit.h - slows down guessing without locking out the innocent.
 *
 * Failed logins (a bad token, a wrong enroll secret) are counted per minute
 * three ways: per source address, per presented credential, and over the
 * whole server.  A request is refused (429) once any of its three counts
 * reached its limit, but callers ask only when the credential did not
 * check out: a valid token is never refused because others from the same
 * address (one NAT, one reverse proxy) or elsewhere failed.  The enroll
 * secret is the exception (api_enroll): it is what a guesser guesses, so a
 * blocked address may not enroll even with the right one.
 */
#ifndef DERELICT_RATELIMIT_H
#define DERELICT_RATELIMIT_H

#define RATELIMIT_FAILURES 30	/* per address, per minute */
#define RATELIMIT_CREDENTIAL_FAILURES 30	/* per credential, per minute */
/* Over the whole server, per minute: many addresses guessing together
 * (290 guesses from 10 addresses met no limit before). */
#define RATELIMIT_GLOBAL_FAILURES 120

/* What was guessed; each kind is counted apart, so guessing tokens does
 * not stop new agents from enrolling, nor the other way round. */
enum ratelimit_kind {
	RATELIMIT_TOKEN,
	RATELIMIT_ENROLL,
	RATELIMIT_KIND_COUNT
};

/* Counts one failure of client presenting credential (NULL or "" when it
 * presented none). */
void ratelimit_fail(enum ratelimit_kind kind, const char *client,
		    const char *credential);
/* 1 when a failing request from client with credential (or NULL) is to be
 * refused for the rest of the minute, else 0. */
int ratelimit_blocked(enum ratelimit_kind kind, const char *client,
		      const char *credential);
/* Failures of kind counted over the whole server in the current minute. */
unsigned ratelimit_global_failures(enum ratelimit_kind kind);

#endif
