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

/* Failed logins, by what was presented. */
enum auth_kind {
	AUTH_TOKEN,		/* a bad or unknown token */
	AUTH_ENROLL_SECRET,	/* a wrong enroll secret */
	AUTH_KIND_COUNT
};

/* Connections the server cut, by why. */
enum cut_reason {
	CUT_HEADERS,		/* headers not in within the time allowed */
	CUT_BODY_RATE,		/* a body arriving slower than the minimum */
	CUT_REASON_COUNT
};

void metrics_report_ok(double seconds);
/* A report answered on the fast path (fastpath.h), also counted above. */
void metrics_report_fast(void);
/* One of those taken unparsed (fastpath_raw()), also counted above. */
void metrics_report_unparsed(void);
void metrics_reject(enum reject_reason why);
void metrics_batch(double ms);
void metrics_auth_failure(enum auth_kind kind);
/* A failing login answered 429 (its address, credential or the server
 * over the limit). */
void metrics_auth_refused(void);
void metrics_connection_cut(enum cut_reason why);
/* Connections open now (+1 opened, -1 closed). */
void metrics_connections(int delta);
/* Bytes of request bodies held for requests not yet authenticated. */
void metrics_unauth_bytes(long delta);
/* The advisory feed: a fetch that kept its data (ok: 200 or 304) or failed;
 * the date of the freshest advisory data in use (0 none). */
void metrics_advisory_fetch(int ok);
void metrics_advisory_newest(int64_t t);
/* A push of the findings to Alertmanager, whole (ok) or failed, and the
 * alerts it carried. */
void metrics_alertmanager_push(int ok, int alerts);
/* One delivery attempt of the outbox's sender, by what became of it:
 * "delivered", "retry", "failed" (retried for retry_for) or "disabled" (410). */
void metrics_notify_attempt(const char *outcome);
/* Appends the counters in Prometheus text format. */
int metrics_render(struct buf *out);

#endif
