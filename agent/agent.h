/*
 * agent.h - the types the agent's parts share: its configuration, which
 * main.c reads, and the outcome of one exchange with the server, which
 * enroll.c and send.c answer with.  No functions.
 */
#ifndef DERELICT_AGENT_H
#define DERELICT_AGENT_H

#include <stdint.h>

/* agent.conf [agent]; every key is also a flag (see main.c). */
struct agent_conf {
	char *server;
	char *enroll_secret_file;
	char *state_dir;
	char *project;
	char *owner;
	char *ca_file;
	int64_t interval;
};

/* Outcome of one send, for the caller's message and exit code. */
enum send_result {
	SEND_OK = 0,
	SEND_NETWORK,		/* no answer: retry later */
	SEND_SERVER,		/* an unexpected status */
	SEND_REJECTED,		/* 401/403: the token is not accepted */
	SEND_ENROLL,		/* enrollment refused */
	SEND_LOCAL,		/* state or memory trouble here */
};

#endif
