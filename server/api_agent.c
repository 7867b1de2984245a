/*
 * api_agent.c - the two endpoints agents call: enrollment and reports.
 * Reports are checked by report_check() before the ingest writer sees
 * them, so a bad report never reaches the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "api.h"
#include "fastpath.h"
#include "hash.h"
#include "writer.h"
#include "jsonutil.h"
#include "metrics.h"
#include "ratelimit.h"
#include "report_check.h"
#include "timeutil.h"

#define NEXT_REPORT_S 3600

HANDLER(api_enroll)
{
	json_t *body = request_json(rq, rp), *out;
	const char *secret, *agent_id, *hostname;
	char token[65], hash[SHA256_HEX_LEN];
	uuid_t uu;
	int64_t host_id;
	int r;

	if (!body)
		return 0;
	secret = json_get_str(body, "enroll_secret");
	agent_id = json_get_str(body, "agent_id");
	hostname = json_get_str(body, "hostname");
	if (!secret || !agent_id || !hostname) {
		r = reply_error(rp, 422, "missing_field", "missing field: %s",
				!secret ? "enroll_secret"
				: !agent_id ? "agent_id" : "hostname");
		goto out;
	}
	if (uuid_parse(agent_id, uu) < 0 || strlen(hostname) == 0 ||
	    strlen(hostname) > 255) {
		r = reply_error(rp, 422, "invalid_field", "invalid field: %s",
				strlen(hostname) == 0 || strlen(hostname) > 255
					? "hostname"
					: "agent_id");
		goto out;
	}
	if (ratelimit_blocked(RATELIMIT_ENROLL, rq->client, NULL)) {
		metrics_auth_refused();
		rp->retry_after = 60;
		r = reply_error(rp, 429, "too_many_requests",
				"too many failed enrollments; wait a minute");
		goto out;
	}
	if (!app->enroll_secret || !const_time_equal(secret, app->enroll_secret)) {
		ratelimit_fail(RATELIMIT_ENROLL, rq->client, NULL);
		metrics_auth_failure(AUTH_ENROLL_SECRET);
		r = reply_error(rp, 401, "bad_secret",
				"the enroll secret is wrong");
		goto out;
	}
	if (random_hex(token, 32) < 0 ||
	    sha256_hex(token, strlen(token), hash) < 0) {
		r = reply_error(rp, 500, "internal", "no randomness");
		goto out;
	}
	r = store_enroll(app->store, agent_id, hostname, hash, time_now(),
			 &host_id);
	if (r < 0) {
		/* Nothing was committed: the agent keeps no token and tries
		 * again later, whatever the store's trouble was. */
		explicit_bzero(token, sizeof(token));
		r = reply_store_error(rp, r, "host");
		if (rp->status == 500) {
			rp->retry_after = 30;
			r = reply_error(rp, 503, "unavailable",
					"the server cannot store the "
					"enrollment now; try again later");
		}
		goto out;
	}
	out = json_pack("{s:I,s:s}", "host_id", (json_int_t)host_id, "token",
			token);
	explicit_bzero(token, sizeof(token));
	r = reply_json(rp, 201, out);
out:
	json_decref(body);
	return r;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static enum reject_reason reason_for(int status)
{
	switch (status) {
	case 400: return REJECT_MALFORMED;
	case 401: case 403: return REJECT_AUTH;
	case 409: return REJECT_RESEND;
	case 413: return REJECT_TOO_LARGE;
	case 415: return REJECT_MEDIA_TYPE;
	case 422: return REJECT_INVALID;
	default: return REJECT_UNAVAILABLE;
	}
}

/* tag, len and then, unless data is NULL (a container: len counts its
 * members), len bytes of data. */
static int identity_bytes(struct buf *b, char tag, const void *data,
			  size_t len)
{
	uint64_t n = len;

	if (buf_append(b, &tag, 1) < 0 || buf_append(b, &n, sizeof(n)) < 0)
		return -E2BIG;
	return data ? buf_append(b, data, len) : 0;
}

/* What the identity hash is taken of: v written out as it came, each
 * string and container with its length, in the agent's order (an agent
 * that reorders its keys costs one rewrite of the identity).  Much
 * cheaper than the canonical JSON it replaced, 12% of an unchanged
 * report's time.  The report was checked: its depth is capped. */
static int identity_text(const json_t *v, int depth, struct buf *b)
{
	const char *key;
	json_t *item;
	size_t i;
	char num[32];
	int n;

	if (depth > 32)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (identity_bytes(b, 'o', NULL, json_object_size(v)) < 0)
			return -E2BIG;
		json_object_foreach((json_t *)v, key, item)
			if (identity_bytes(b, 'k', key, strlen(key)) < 0 ||
			    identity_text(item, depth + 1, b) < 0)
				return -E2BIG;
		return 0;
	case JSON_ARRAY:
		if (identity_bytes(b, 'a', NULL, json_array_size(v)) < 0)
			return -E2BIG;
		json_array_foreach(v, i, item)
			if (identity_text(item, depth + 1, b) < 0)
				return -E2BIG;
		return 0;
	case JSON_STRING:
		return identity_bytes(b, 's', json_string_value(v),
				      json_string_length(v));
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			     json_integer_value(v));
		return identity_bytes(b, 'i', num, (size_t)n);
	case JSON_REAL:
		n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return identity_bytes(b, 'r', num, (size_t)n);
	case JSON_TRUE:
		return identity_bytes(b, 't', NULL, 0);
	case JSON_FALSE:
		return identity_bytes(b, 'f', NULL, 0);
	default:
		return identity_bytes(b, 'n', NULL, 0);
	}
}

/* {"host_id":N,"next_report_s":3600}, as json_dumps() wrote it, without
 * building it as JSON first: most reports are answered this. */
static void reply_ok(struct reply *rp, int64_t host_id)
{
	char text[80];
	int n = snprintf(text, sizeof(text),
			 "{\"host_id\":%lld,\"next_report_s\":%d}",
			 (long long)host_id, NEXT_REPORT_S);

	rp->owned = n > 0 && (size_t)n < sizeof(text) ? strdup(text) : NULL;
	if (!rp->owned) {
		reply_json(rp, 200,
			   json_pack("{s:I,s:i}", "host_id",
				     (json_int_t)host_id, "next_report_s",
				     NEXT_REPORT_S));
		return;
	}
	rp->status = 200;
	rp->raw_len = (size_t)n;
	rp->content_type = "application/json";
}

HANDLER(api_reports)
{
	struct ingest_job job = { 0 };
	struct report_verdict v = { 0 };
	json_t *rep, *list;
	int r;

	/* A report that only moves collected_at on from one the fast path
	 * learned is that report again: it is answered unparsed. */
	if (request_is_json(rq) && !rq->who.pending[0] &&
	    fastpath_raw(app->fastpath, rq->who.host_id, rq->token_hash,
			 rq->body.data, rq->body.len, time_now()) == 0) {
		writer_touch(app->writer);
		metrics_report_fast();
		metrics_report_unparsed();
		reply_ok(rp, rq->who.host_id);
		metrics_report_ok(mono() - rq->started);
		return 0;
	}
	rep = request_json(rq, rp);
	if (!rep) {
		metrics_reject(reason_for(rp->status));
		return 0;
	}
	job.host_id = rq->who.host_id;
	memcpy(job.pending, rq->who.pending, sizeof(job.pending));
	job.report = rep;
	job.bytes = rq->body.len;
	if (report_check(rep, rq->who.name, &job, &v) < 0) {
		reply_error(rp, v.status, v.code, "%s", v.message);
		goto out;
	}
	{
		/* Lets the writer skip rewriting an unchanged identity. */
		struct buf b = BUF_INIT(1 << 20);
		const char *version =
			json_get_str(json_object_get(rep, "agent"), "version");

		if (identity_text(json_object_get(rep, "host"), 0, &b) == 0 &&
		    buf_puts(&b, version ? version : "") == 0)
			sha256_hex(b.data, b.len, job.identity);
		buf_free(&b);
	}
	snprintf(job.token_hash, sizeof(job.token_hash), "%s", rq->token_hash);
	fastpath_template(&job, rq->body.data, rq->body.len);
	/* A report that changes nothing of a host the fast path knows is
	 * answered now; its last_seen follows within FASTPATH_DIRTY_MAX. */
	if (fastpath_report(app->fastpath, &job, rq->token_hash,
			    time_now()) == 0) {
		writer_touch(app->writer);
		metrics_report_fast();
		job.status = 200;
		goto answer;
	}
	/* The heavy part (reading the stored state, diffing) runs here, in
	 * this connection's thread, so the one writer only writes. */
	store_prepare_report(app->store, &job);
	r = writer_submit(app->writer, &job);
	if (r < 0) {
		if (r == -ESHUTDOWN) {
			rp->retry_after = 30;
			reply_error(rp, 503, "shutting_down",
				    "the server is stopping; try again");
		} else {
			reply_store_error(rp, r, "report");
			if (rp->status == 500)
				rp->status = 503;
		}
		goto out;
	}
answer:
	switch (job.status) {
	case 200:
		reply_ok(rp, job.host_id);
		metrics_report_ok(mono() - rq->started);
		break;
	case 409:
		list = json_array();
		for (int s = 0; s < SECTION_COUNT; s++)
			if (job.resend_mask & (1 << s))
				json_array_append_new(list,
						      json_string(section_names[s]));
		reply_json(rp, 409,
			   json_pack("{s:{s:s,s:s,s:o}}", "error", "code",
				     "resend", "message",
				     "the server does not hold these sections; "
				     "send them in full",
				     "sections", list));
		break;
	case 401:
		reply_error(rp, 401, "unauthorized",
			    "this enrollment was replaced by a later one");
		break;
	default:
		reply_error(rp, 404, "not_found", "this host was deleted");
	}
out:
	if (rp->status != 200)
		metrics_reject(reason_for(rp->status));
	ingest_job_free(&job);
	json_decref(rep);
	return 0;
}
