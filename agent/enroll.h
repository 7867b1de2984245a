/*
 * enroll.h - enrollment: the enroll secret exchanged for a token (SPEC 3),
 * which is stored in the state directory.
 */
#ifndef DERELICT_AGENT_ENROLL_H
#define DERELICT_AGENT_ENROLL_H

#include <stddef.h>

#include "agent.h"
#include "state.h"

/* POSTs conf's enroll secret with agent_id and hostname to
 * /api/v1/enroll and stores the token it answers with into token and
 * <state_dir>/token.  SEND_OK; SEND_NETWORK without an answer or on a 5xx;
 * SEND_ENROLL when refused; SEND_SERVER for a token too long; SEND_LOCAL
 * when the secret cannot be read or the token not stored.  why receives a
 * one-line reason on failure. */
enum send_result enroll_run(const struct agent_conf *conf,
			    const char *agent_id, const char *hostname,
			    char token[TOKEN_MAX], char *why, size_t why_size);

#endif
