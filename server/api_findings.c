/* api_findings.c - findings and their acknowledgement. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "writer.h"
#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"

/* A finding's states, as the store names them. */
static const char *const statuses[] = {
	"open", "acknowledged", "resolved", NULL
};

HANDLER(api_findings_list)
{
	struct finding_filter f = { 0 };
	const char *sev = request_arg(rq, "severity");
	const char *host = request_arg(rq, "host");
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int status, r;

	if (request_limit(rq, rp, &f.limit) < 0)
		return 0;
	if (request_enum(rq, rp, "status", statuses, &status) < 0)
		return 0;
	f.status = status < 0 ? NULL : statuses[status];
	f.rule = request_arg(rq, "rule");
	if (f.rule && rules_rule_parse(f.rule) < 0)
		return reply_error(rp, 400, "bad_request", "unknown rule %s",
				   f.rule);
	if (sev && (f.severity = rules_severity_parse(sev)) <= 0)
		return reply_error(rp, 400, "bad_request",
				   "severity must be critical, high, medium "
				   "or low");
	if (host) {
		char *end;

		f.host_id = strtoll(host, &end, 10);
		if (*end || f.host_id <= 0)
			return reply_error(rp, 400, "bad_request",
					   "host takes a host id");
	}
	if (cursor && cursor_parse_finding(cursor, &f.after) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_findings_list(app->store, &f, &out);
	if (r < 0)
		return reply_store_error(rp, r, "findings");
	return reply_json(rp, 200, out);
}

HANDLER(api_finding_ack)
{
	json_t *body;
	const char *reason, *until;
	char *end;
	int64_t id = strtoll(rq->params[0], &end, 10), t;
	int r;

	if (*end || id <= 0)
		return reply_error(rp, 404, "not_found", "no finding %s",
				   rq->params[0]);
	body = request_json(rq, rp);
	if (!body)
		return 0;
	reason = json_get_str(body, "reason");
	until = json_get_str(body, "until");
	if (!reason || !*reason) {
		r = reply_error(rp, 422, "missing_field",
				"missing field: reason");
		goto out;
	}
	if (strlen(reason) > 4096) {
		r = reply_error(rp, 422, "invalid_field",
				"reason: at most 4096 bytes");
		goto out;
	}
	if ((json_object_get(body, "until") &&
	     !json_is_null(json_object_get(body, "until")) && !until) ||
	    (until && date_parse(until, &t) < 0)) {
		r = reply_error(rp, 422, "invalid_field",
				"until: expected a date YYYY-MM-DD");
		goto out;
	}
	r = store_finding_ack(app->store, id, reason, until, rq->who.name,
			      time_now());
	if (r == -EALREADY) {
		r = reply_error(rp, 409, "conflict",
				"finding %lld is resolved", (long long)id);
		goto out;
	}
	if (r < 0) {
		r = reply_store_error(rp, r, "finding");
		goto out;
	}
	writer_kick(app->writer);	/* the host's severity drops */
	r = reply_json(rp, 200,
		       json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)id,
				 "status", "acknowledged", "reason", reason,
				 "until", until ? json_string(until)
						: json_null()));
out:
	json_decref(body);
	return r;
}
