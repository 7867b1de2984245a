/*
 * fuzz_dpkg_status.c - the agent's parser of /var/lib/dpkg/status.
 */
#include <string.h>

#include "collect_packages.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *items = json_array(), *it;
	size_t i;
	FILE *f;

	if (!size || !items) {
		json_decref(items);
		return 0;
	}
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	collect_packages_parse_status(f, items);
	fclose(f);
	/* Each item is an object with a name and a version. */
	json_array_foreach(items, i, it)
		if (!json_is_object(it) ||
		    !json_is_string(json_object_get(it, "name")) ||
		    !json_is_string(json_object_get(it, "version")))
			abort();
	json_decref(items);
	return 0;
}
