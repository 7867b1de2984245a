/* api_discovered.c - GET /api/v1/discovered: the SMTP servers the probe
 * ([probe]) found on its networks at addresses no host reports, each an
 * "unenrolled-mail-server" finding while it answers. */
#include <string.h>

#include "api.h"
#include "cursor.h"
#include "store_probe.h"

HANDLER(api_discovered_list)
{
	const char *status = http_arg(rq, "status");
	const char *cursor = http_arg(rq, "cursor");
	int64_t after = 0;
	json_t *out;
	int limit, r;

	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	if (!status)
		status = "open";
	if (strcmp(status, "all") == 0)
		status = NULL;
	else if (strcmp(status, "open") != 0 && strcmp(status, "resolved") != 0)
		return reply_error(rp, 400, "bad_request",
				   "status must be open, resolved or all");
	if (cursor && cursor_parse_id(cursor, &after) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	r = store_probe_discovered_list(app->store, status, limit, after, &out);
	if (r < 0)
		return reply_store_error(rp, r, "discovered servers");
	return reply_json(rp, 200, out);
}
