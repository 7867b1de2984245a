/*
 * metrics.h - process-wide counters for GET /metrics (Prometheus text).
 */
#ifndef DERELICT_METRICS_H
#define DERELICT_METRICS_H

#include <stdint.h>

#include "buf.h"

enum reject_reason {
	REJECT_AUTH,		/* 401/403 */
	REJECT_MALFORMED,	/* 400 */
	REJECT_TOO_LARGE,	/* 413 */
	REJECT_MEDIA_TYPE,	/* 415 */
	REJECT_INVALID,		/* 422 */
	REJECT_RESEND,		/* 409 */
	REJECT_UNAVAILABLE,	/* 503 */
	REJECT_COUNT
};

void metrics_report_ok(double seconds);
void metrics_reject(enum reject_reason why);
void metrics_batch(double ms);
/* The advisory feed: a fetch that kept its data (ok: 200 or 304) or failed;
 * the date of the freshest advisory data in use (0 none). */
void metrics_advisory_fetch(int ok);
void metrics_advisory_newest(int64_t t);
/* Appends the counters in Prometheus text format. */
int metrics_render(struct buf *out);

#endif
