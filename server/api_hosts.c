/* api_hosts.c - hosts, their sections and history, and packages across
 * the fleet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "writer.h"
#include "jsonutil.h"
#include "probe_addr.h"
#include "rules.h"
#include "store_probe.h"
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
	if (r == 0) {
		/* What the SMTP probe last found at the host's ports. */
		json_t *probe;

		r = store_probe_of_host(app->store, id, &probe);
		if (r == 0 && json_object_set_new(out, "probe", probe) < 0)
			r = -ENOMEM;
		if (r < 0)
			json_decref(out);
	}
	if (r < 0)
		return reply_store_error(rp, r, "host");
	return reply_json(rp, 200, out);
}

/* Whether the probe's row at address at speaks for a listener bound to
 * bound: a wildcard's rows are the host's addresses (0.0.0.0's the IPv4
 * ones only), else the row of the same address, compared as addresses
 * ("::ffff:192.0.2.7" is the 192.0.2.7 the probe writes). */
static bool probed_for(const char *bound, const char *at)
{
	struct probe_addr b, a;

	if (!bound || !*bound || strcmp(bound, "*") == 0 ||
	    strcmp(bound, "::") == 0 || strcmp(bound, "[::]") == 0)
		return true;
	if (probe_addr_parse(at, &a) < 0)
		return strcmp(bound, at) == 0;
	if (strcmp(bound, "0.0.0.0") == 0)
		return probe_addr_is_ipv4(&a);
	return probe_addr_parse(bound, &b) == 0 && probe_addr_cmp(&a, &b) == 0;
}

/* Whether the SMTP probe reached the listening port p: 1 when it reached
 * it at one of the addresses it was probed at (probed_for()), 0 when it
 * reached it at none, -1 when it was not probed. */
static int port_reachable(const json_t *p, const json_t *probed)
{
	const char *bound = json_string_value(json_object_get(p, "address"));
	int port = (int)json_integer_value(json_object_get(p, "port"));
	int verdict = -1;
	size_t i;
	json_t *r;

	json_array_foreach(probed, i, r) {
		const char *at =
			json_string_value(json_object_get(r, "address"));

		if (json_integer_value(json_object_get(r, "port")) != port ||
		    !at || !probed_for(bound, at))
			continue;
		if (json_is_true(json_object_get(r, "reachable")))
			return 1;
		verdict = 0;
	}
	return verdict;
}

/* Marks each listening port of a ports page with the server's verdict on
 * it: "exposed" when it is bound to a non-loopback address, as the rules
 * decide (rules_address_is_loopback()), so that no client need repeat the
 * test.  Like a package's "vulnerabilities", the mark is the server's,
 * added on the way out: the stored item and the section's hash are the
 * agent's.  Where the SMTP probe ran, "reachable" too (port_reachable()):
 * an exposed port the probe could not reach shows exposed and not
 * reachable.  0 or -ENOMEM. */
static int ports_mark_exposed(json_t *body, const json_t *probed)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(body, "items"), i, p) {
		const json_t *a = json_object_get(p, "address");
		int reachable = port_reachable(p, probed);

		if (json_is_object(p) &&
		    json_object_set_new(p, "exposed",
					json_boolean(!rules_address_is_loopback(
						json_string_value(a)))) < 0)
			return -ENOMEM;
		if (json_is_object(p) && reachable >= 0 &&
		    json_object_set_new(p, "reachable",
					json_boolean(reachable)) < 0)
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
	if (r == 0 && sec == SECTION_PORTS) {
		json_t *probed = NULL;

		r = store_probe_of_host(app->store, id, &probed);
		if (r == 0)
			r = ports_mark_exposed(out, probed);
		json_decref(probed);
		if (r < 0)
			json_decref(out);
	}
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
