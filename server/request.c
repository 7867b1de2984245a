/* request.c - reading what a handler needs from a request: query
 * arguments and the JSON body, with their checks and 4xx answers. */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *request_arg(const struct request *rq, const char *name)
{
	for (int i = 0; i < rq->n_args; i++)
		if (strcasecmp(rq->args[i].name, name) == 0)
			return rq->args[i].value;
	return NULL;
}

int request_is_json(const struct request *rq)
{
	const char *ct = rq->content_type;

	return ct && strncasecmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

json_t *request_json(struct request *rq, struct reply *rp)
{
	json_error_t err;
	json_t *j;

	if (!request_is_json(rq)) {
		reply_error(rp, 415, "unsupported_media_type",
			    "send Content-Type: application/json");
		return NULL;
	}
	j = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len,
		       JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		reply_error(rp, 400, "malformed", "invalid JSON at line %d: %s",
			    err.line, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(rp, 400, "malformed", "expected a JSON object");
		return NULL;
	}
	return j;
}

int request_limit(struct request *rq, struct reply *rp, int *ret)
{
	const char *s = request_arg(rq, "limit");
	char *end;
	long v;

	*ret = 100;
	if (!s)
		return 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 1 || v > 1000) {
		reply_error(rp, 400, "bad_request",
			    "limit must be a number from 1 to 1000");
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

int request_enum(const struct request *rq, struct reply *rp,
		 const char *name, const char *const values[], int *ret)
{
	const char *s = request_arg(rq, name);
	char msg[256];
	size_t len;
	int n;

	if (!s) {
		*ret = -1;
		return 0;
	}
	for (n = 0; values[n]; n++) {
		if (strcmp(s, values[n]) == 0) {
			*ret = n;
			return 0;
		}
	}
	/* "status must be open, acknowledged or resolved" */
	len = (size_t)snprintf(msg, sizeof(msg), "%s must be", name);
	for (int i = 0; i < n && len < sizeof(msg); i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
					i == 0 ? " "
					: i == n - 1 ? " or "
						     : ", ",
					values[i]);
	reply_error(rp, 400, "bad_request", "%s", msg);
	return -EINVAL;
}

bool request_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p++, min;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, c &= 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, c &= 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, c &= 0x07, min = 0x10000;
		else
			return false;
		if (end - p < more)
			return false;
		while (more--) {
			if ((*p & 0xc0) != 0x80)
				return false;
			c = c << 6 | (*p++ & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
	}
	return true;
}
