/* api_projects.c - projects: who owns a group of hosts and when it ends. */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "writer.h"
#include "jsonutil.h"
#include "timeutil.h"

#define NAME_MAX_LEN 128
#define TEXT_MAX_LEN 4096

static int valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '/' || *s == 0x7f)
			return 0;
	return 1;
}

/* Checks the members a project body may carry; fills rp on a problem. */
static int check_project(const json_t *p, struct reply *rp)
{
	static const char *const text[] = { "owner", "contact", "description",
					    NULL };
	json_t *v;
	int64_t t;

	for (int i = 0; text[i]; i++) {
		v = json_object_get(p, text[i]);
		if (v && !json_is_null(v) &&
		    !(json_is_string(v) &&
		      json_string_length(v) <= TEXT_MAX_LEN)) {
			reply_error(rp, 422, "invalid_field",
				    "%s: expected a string of at most %d bytes",
				    text[i], TEXT_MAX_LEN);
			return -EINVAL;
		}
	}
	v = json_object_get(p, "ends_on");
	if (v && !json_is_null(v) &&
	    !(json_is_string(v) && date_parse(json_string_value(v), &t) == 0)) {
		reply_error(rp, 422, "invalid_field",
			    "ends_on: expected a date YYYY-MM-DD or null");
		return -EINVAL;
	}
	return 0;
}

HANDLER(api_projects_list)
{
	json_t *out;
	int limit, r;

	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	r = store_projects_list(app->store, limit, request_arg(rq, "cursor"),
				&out);
	if (r < 0)
		return reply_store_error(rp, r, "projects");
	return reply_json(rp, 200, out);
}

HANDLER(api_project_create)
{
	json_t *body = request_json(rq, rp), *out;
	const char *name;
	int r;

	if (!body)
		return 0;
	name = json_get_str(body, "name");
	if (!json_object_get(body, "name")) {
		r = reply_error(rp, 422, "missing_field", "missing field: name");
		goto out;
	}
	if (!valid_name(name)) {
		r = reply_error(rp, 422, "invalid_field",
				"name: 1 to %d printable characters, no '/'",
				NAME_MAX_LEN);
		goto out;
	}
	if (check_project(body, rp) < 0) {
		r = 0;
		goto out;
	}
	r = store_project_create(app->store, body, time_now());
	if (r < 0) {
		r = reply_store_error(rp, r, "project");
		goto out;
	}
	r = store_project_get(app->store, name, &out);
	r = r < 0 ? reply_store_error(rp, r, "project") : reply_json(rp, 201, out);
out:
	json_decref(body);
	return r;
}

HANDLER(api_project_get)
{
	json_t *out;
	int r = store_project_get(app->store, rq->params[0], &out);

	if (r < 0)
		return reply_store_error(rp, r, "project");
	return reply_json(rp, 200, out);
}

HANDLER(api_project_patch)
{
	json_t *body = request_json(rq, rp), *out;
	int r;

	if (!body)
		return 0;
	if (check_project(body, rp) < 0) {
		json_decref(body);
		return 0;
	}
	r = store_project_patch(app->store, rq->params[0], body);
	json_decref(body);
	if (r < 0)
		return reply_store_error(rp, r, "project");
	/* Its hosts' findings follow a new end date at once. */
	writer_kick(app->writer);
	r = store_project_get(app->store, rq->params[0], &out);
	if (r < 0)
		return reply_store_error(rp, r, "project");
	return reply_json(rp, 200, out);
}

HANDLER(api_project_delete)
{
	int r = store_project_delete(app->store, rq->params[0]);

	if (r < 0)
		return reply_store_error(rp, r, "project");
	writer_kick(app->writer);
	rp->status = 204;
	return 0;
}
