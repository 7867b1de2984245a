/* api_advisories.c - GET /advisories: where the advisory data in use came
 * from and how old it is. */
#include "api.h"

HANDLER(api_advisories)
{
	json_t *out;
	int r = store_advisories_json(app->store, &out);

	(void)rq;
	if (r < 0)
		return reply_store_error(rp, r, "advisories");
	return reply_json(rp, 200, out);
}
