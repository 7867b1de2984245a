/*
 * send.h - one run of the agent against the server: enrollment when there
 * is no token, the report with its deltas and retries, and the
 * acknowledged state committed once the server took it.
 */
#ifndef DERELICT_AGENT_SEND_H
#define DERELICT_AGENT_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"

/* Enrolls if there is no token, collects, and sends the report with
 * deltas, answering a 409 by resending the named sections in full.  On
 * success stores the acknowledged hashes and sets *ret_next_s to the
 * server's next_report_s (0 if absent).  why receives a one-line reason
 * on failure. */
enum send_result send_run_once(const char *root,
			       const struct agent_conf *conf,
			       int64_t *ret_next_s, char *why,
			       size_t why_size);

#endif
