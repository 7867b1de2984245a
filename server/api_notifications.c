/* api_notifications.c - the notification outbox, for admins: what was
 * sent where, what waits for a retry, and a retry by hand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "timeutil.h"

/* A delivery's states, as the store names them. */
static const char *const statuses[] = {
	"pending", "delivered", "failed", "disabled", NULL
};

HANDLER(api_notifications_list)
{
	struct notify_filter f = { 0 };
	const char *cursor = request_arg(rq, "cursor");
	json_t *out;
	int status, r;

	if (request_limit(rq, rp, &f.limit) < 0)
		return 0;
	if (request_enum(rq, rp, "status", statuses, &status) < 0)
		return 0;
	f.status = status < 0 ? NULL : statuses[status];
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
