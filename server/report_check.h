/*
 * report_check.h - validation of a received report (SPEC sections 3 and 8)
 * before the ingest writer sees it: caps, required fields and types, and
 * the server's own hash of each section.  No HTTP and no SQL, so the fuzz
 * harnesses call it directly.
 */
#ifndef DERELICT_REPORT_CHECK_H
#define DERELICT_REPORT_CHECK_H

#include <jansson.h>

#include "ingest_job.h"

/* Why a report is refused: the HTTP status, the error code and a message
 * naming the field it concerns. */
struct report_verdict {
	int status;
	const char *code;
	char message[256];
};

/*
 * Checks rep, sent with the token of the host whose agent id is agent_id,
 * and fills job->sec[] with each section present: a hash alone, the full
 * section (without "hash") in sec[s].body with the server's hash of it, or
 * for a section sent with "error" (its collector failed) that error alone,
 * capped, in sec[s].error.
 * Items and section members the server does not keep are taken out of
 * rep and counted in the section's "rejected" (the cut rule in
 * common/report.h); only the envelope refuses the report.  A collected_at
 * more than REPORT_MAX_AHEAD_S ahead is replaced by the time of checking.
 * 0 when the report may be ingested; -EINVAL with *v filled otherwise.
 * Either way the caller owns and json_decref()s every job->sec[s].body.
 */
int report_check(json_t *rep, const char *agent_id, struct ingest_job *job,
		 struct report_verdict *v);

#endif
