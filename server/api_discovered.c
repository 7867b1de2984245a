/* api_discovered.c - GET /api/v1/discovered: the SMTP servers the probe
 * ([probe]) found on its networks at addresses no host reports, each an
 * "unenrolled-mail-server" finding while it answers. */
#include "api.h"
#include "cursor.h"
#include "store_probe.h"

HANDLER(api_discovered_list)
{
	static const char *const statuses[] = { "open", "resolved", "all",
						NULL };
	const char *cursor = request_arg(rq, "cursor");
	int64_t after = 0;
	json_t *out;
	int limit, status, r;

	if (request_limit(rq, rp, &limit) < 0)
		return 0;
	if (request_enum(rq, rp, "status", statuses, &status) < 0)
		return 0;
	if (cursor && cursor_parse_id(cursor, &after) < 0)
		return reply_error(rp, 400, "bad_request", "invalid cursor");
	/* open by default; "all" is no filter */
	r = store_probe_discovered_list(app->store,
					status < 0	? "open"
					: status == 2 ? NULL
						      : statuses[status],
					limit, after, &out);
	if (r < 0)
		return reply_store_error(rp, r, "discovered servers");
	return reply_json(rp, 200, out);
}
