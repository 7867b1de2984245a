/*
 * fuzz_fastpath.c - fastpath_collected_at() on a body as POST /reports
 * parses it (duplicates refused, an object only).  Where it finds a
 * stamp, that is the value of the top-level collected_at, and any other
 * stamp in its place parses to the same report but for that collected_at:
 * what fastpath_raw() relies on to take a body without parsing it.
 */
#include <stdlib.h>
#include <string.h>

#include "fastpath.h"
#include "fuzz_util.h"
#include "jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char other[] = "\"1999-12-31T23:59:59Z\"";
	const size_t stamp_len = sizeof(other) - 1;
	json_error_t err;
	json_t *rep, *again;
	const char *sent;
	char *copy;
	long at;

	rep = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!rep)
		return 0;
	if (!json_is_object(rep)) {
		json_decref(rep);
		return 0;
	}
	at = fastpath_collected_at((const char *)data, size);
	if (at < 0) {
		json_decref(rep);
		return 0;
	}
	sent = json_get_str(rep, "collected_at");
	if ((size_t)at + stamp_len > size || !sent ||
	    strlen(sent) != stamp_len - 2 || data[at] != '"' ||
	    memcmp(data + at + 1, sent, stamp_len - 2) != 0 ||
	    data[at + stamp_len - 1] != '"')
		abort();
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	memcpy(copy + at, other, stamp_len);
	again = json_loadb(copy, size, JSON_REJECT_DUPLICATES, &err);
	if (!again || json_set_str(rep, "collected_at", "1999-12-31T23:59:59Z"))
		abort();
	if (!json_equal(rep, again))
		abort();
	json_decref(again);
	free(copy);
	json_decref(rep);
	return 0;
}
