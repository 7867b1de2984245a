/* api_hosts.c - hosts, their sections and history, and packages across
 * the fleet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "writer.h"
#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"

/* Parses a positive integer id; 0 when it is not one. */
static int64_t parse_id(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	v = strtoll(s, &end, 10);
	return *end || v <= 0 ? 0 : (int64_t)v;
}

static int parse_bool(const char *s, int *ret)
{
	if (!s) {
		*ret = -1;
		return 0;
	}
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*ret = 1;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*ret = 0;
		return 0;
	}
	return -EINVAL;
}

/* A host's states, as the store names them. */
static const char *const statuses[] = {
	"active", "silent", "retired", NULL
};

HANDLER(api_hosts_list)
{
	struct host_filter f = { 0 };
	const char *sev = request_arg(rq, "severity");
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int status, r;

	if (request_limit(rq, rp, &f.limit) < 0)
		return 0;
	if (parse_bool(request_arg(rq, "abandoned"), &f.abandoned) < 0 ||
	    parse_bool(request_arg(rq, "mail"), &f.mail) < 0)
		return reply_error(rp, 400, "bad_request",
				   "abandoned and mail take true or false");
	if (request_enum(rq, rp, "status", statuses, &status) < 0)
		return 0;
	f.status = status < 0 ? NULL : statuses[status];
	if (sev) {
		f.min_severity = rules_severity_parse(sev);
		if (f.min_severity <= 0)
			return reply_error(rp, 400, "bad_request",
					   "severity must be critical, high, "
					   "medium or low");
	}
	f.project = request_arg(rq, "project");
	f.q = request_arg(rq, "q");
	if (f.q && !*f.q)
		f.q = NULL;
	if (f.q && strlen(f.q) > STORE_SEARCH_MAX)
		return reply_error(rp, 400, "bad_request",
				   "q: at most %d bytes (a hostname, an address "
				   "or an agent id)",
				   STORE_SEARCH_MAX);
	if (cursor && cursor_parse_id(cursor, &f.after_id) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_hosts_list(app->store, &f, &out);
	if (r < 0)
		return reply_store_error(rp, r, "hosts");
	return reply_json(rp, 200, out);
}

HANDLER(api_host_get)
{
	int64_t id = parse_id(rq->params[0]);
	json_t *out;
	int r;

	if (!id)
		return reply_error(rp, 404, "not_found", "no host %s",
				   rq->params[0]);
	r = store_host_get(app->store, id, &out);
	if (r < 0)
		return reply_store_error(rp, r, "host");
	return reply_json(rp, 200, out);
}

/* Marks each listening port of a ports page with the server's verdict on
 * it: "exposed" when it is bound to a non-loopback address, as the rules
 * decide (rules_address_is_loopback()), so that no client need repeat the
 * test.  Like a package's "vulnerabilities", the mark is the server's,
 * added on the way out: the stored item and the section's hash are the
 * agent's.  0 or -ENOMEM. */
static int ports_mark_exposed(json_t *body)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(body, "items"), i, p) {
		const json_t *a = json_object_get(p, "address");

		if (json_is_object(p) &&
		    json_object_set_new(p, "exposed",
					json_boolean(!rules_address_is_loopback(
						json_string_value(a)))) < 0)
			return -ENOMEM;
	}
	return 0;
}

HANDLER(api_host_section)
{
	int64_t id = parse_id(rq->params[0]), offset = 0;
	int sec = section_from_name(rq->params[1]);
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int limit, r;

	if (!id || sec < 0)
		return reply_error(rp, 404, "not_found", "no such endpoint: %s",
				   rq->path);
	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	/* The offset of the next item, as the previous page rendered it. */
	if (cursor && cursor_parse_id(cursor, &offset) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_host_section(app->store, id, sec, limit, offset, &out);
	if (r == 0 && sec == SECTION_PORTS && (r = ports_mark_exposed(out)) < 0)
		json_decref(out);
	if (r < 0)
		return reply_store_error(rp, r, "host");
	return reply_json(rp, 200, out);
}

HANDLER(api_host_changes)
{
	int64_t id = parse_id(rq->params[0]), before = 0;
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int limit, r;

	if (!id)
		return reply_error(rp, 404, "not_found", "no host %s",
				   rq->params[0]);
	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	if (cursor && cursor_parse_id(cursor, &before) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_host_changes(app->store, id, limit, before, &out);
	if (r < 0)
		return reply_store_error(rp, r, "host");
	return reply_json(rp, 200, out);
}

HANDLER(api_host_patch)
{
	int64_t id = parse_id(rq->params[0]);
	json_t *body, *v, *out;
	int r;

	if (!id)
		return reply_error(rp, 404, "not_found", "no host %s",
				   rq->params[0]);
	body = request_json(rq, rp);
	if (!body)
		return 0;
	v = json_object_get(body, "project");
	if (v && !json_is_string(v) && !json_is_null(v)) {
		r = reply_error(rp, 422, "invalid_field",
				"project: expected a name or null");
		goto out;
	}
	v = json_object_get(body, "retired");
	if (v && !json_is_boolean(v)) {
		r = reply_error(rp, 422, "invalid_field",
				"retired: expected true or false");
		goto out;
	}
	v = json_object_get(body, "note");
	if (v && !((json_is_string(v) && json_string_length(v) <= 4096) ||
		   json_is_null(v))) {
		r = reply_error(rp, 422, "invalid_field",
				"note: expected a string of at most 4096 bytes");
		goto out;
	}
	r = store_host_patch(app->store, id, body, time_now());
	if (r == -ENOENT) {
		r = reply_error(rp, 404, "not_found",
				json_is_string(json_object_get(body, "project"))
					? "no such host or project"
					: "no such host");
		goto out;
	}
	if (r < 0) {
		r = reply_store_error(rp, r, "host");
		goto out;
	}
	writer_kick(app->writer);
	r = store_host_get(app->store, id, &out);
	r = r < 0 ? reply_store_error(rp, r, "host") : reply_json(rp, 200, out);
out:
	json_decref(body);
	return r;
}

HANDLER(api_host_delete)
{
	int64_t id = parse_id(rq->params[0]);
	int r;

	if (!id)
		return reply_error(rp, 404, "not_found", "no host %s",
				   rq->params[0]);
	r = store_host_delete(app->store, id);
	if (r < 0)
		return reply_store_error(rp, r, "host");
	rp->status = 204;
	return 0;
}

HANDLER(api_packages)
{
	const char *name = request_arg(rq, "name");
	const char *cursor = request_arg(rq, "cursor");
	const char *arch = NULL;
	int64_t after = 0;
	json_t *out;
	int limit, r;

	if (!name || !*name)
		return reply_error(rp, 400, "bad_request",
				   "give a package: ?name=exim4-daemon-light");
	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	if (cursor && cursor_parse_package(cursor, &after, &arch) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_packages_find(app->store, name, limit, after, arch, &out);
	if (r < 0)
		return reply_store_error(rp, r, "packages");
	return reply_json(rp, 200, out);
}
