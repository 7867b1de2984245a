/* api_notifications.c - the notification outbox, for admins: what was
 * sent where, what waits for a retry, and a retry by hand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "timeutil.h"

HANDLER(api_notifications_list)
{
	struct notify_filter f = { 0 };
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int r;

	if (request_limit(rq, rp, &f.limit) < 0)
		return 0;
	f.status = request_arg(rq, "status");
	if (f.status && strcmp(f.status, "pending") != 0 &&
	    strcmp(f.status, "delivered") != 0 &&
	    strcmp(f.status, "failed") != 0 &&
	    strcmp(f.status, "disabled") != 0)
		return reply_error(rp, 400, "bad_request",
				   "status must be pending, delivered, failed "
				   "or disabled");
	f.destination = request_arg(rq, "destination");
	if (f.destination && strlen(f.destination) >= STORE_NOTIFY_NAME_MAX)
		return reply_error(rp, 400, "bad_request",
				   "destination: at most %d bytes",
				   STORE_NOTIFY_NAME_MAX - 1);
	if (cursor) {
		char *end;

		f.after_id = strtoll(cursor, &end, 10);
		if (*end || f.after_id <= 0)
			return reply_error(rp, 400, "bad_request",
					   "invalid cursor");
	}
	r = store_notify_list(app->store, &f, &out);
	if (r < 0)
		return reply_store_error(rp, r, "notifications");
	return reply_json(rp, 200, out);
}

HANDLER(api_notification_retry)
{
	char *end;
	int64_t id = strtoll(rq->params[0], &end, 10);
	int r;

	if (*end || id <= 0)
		return reply_error(rp, 404, "not_found", "no delivery %s",
				   rq->params[0]);
	r = store_notify_retry(app->store, id, time_now());
	if (r == -EALREADY)
		return reply_error(rp, 409, "conflict",
				   "delivery %lld was delivered",
				   (long long)id);
	if (r < 0)
		return reply_store_error(rp, r, "delivery");
	return reply_json(rp, 200,
			  json_pack("{s:I,s:s}", "id", (json_int_t)id,
				    "status", "pending"));
}
