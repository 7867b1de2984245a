/*
 * fuzz_report_check.c - a report body as POST /api/v1/reports parses it
 * (request_json: duplicates refused, an object only), then report_check()
 * as api_reports() calls it, with the token's agent id taken from the
 * report itself so the fuzzer reaches the sections.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "jsonutil.h"
#include "report_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };
	const char *id;
	json_error_t err;
	json_t *rep;
	int r;

	rep = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!rep)
		return 0;
	if (!json_is_object(rep)) {
		json_decref(rep);
		return 0;
	}
	id = json_get_str(json_object_get(rep, "agent"), "id");
	/* Odd sizes play a host whose token belongs to another agent. */
	r = report_check(rep, id && !(size & 1) ? id : "not-this-agent", &job,
			 &v);
	if (r < 0 && (v.status < 400 || v.status > 599 || !v.code ||
		      !v.message[0]))
		abort();	/* a refusal always says why */
	if (r == 0) {
		for (int s = 0; s < SECTION_COUNT; s++) {
			struct ingest_section *sec = &job.sec[s];

			/* A failed section: its error alone, within its cap,
			 * and nothing the store would write as the section. */
			if (sec->failed) {
				if (!sec->present || sec->full || sec->body ||
				    sec->hash[0] || !sec->error[0] ||
				    strlen(sec->error) > REPORT_MAX_ERROR)
					abort();
				continue;
			}
			if (sec->full != (sec->body != NULL) ||
			    strlen(sec->hash) != SHA256_HEX_LEN - 1)
				if (sec->present)
					abort();
		}
	}
	ingest_job_free(&job);
	json_decref(rep);
	return 0;
}
