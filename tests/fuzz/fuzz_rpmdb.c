/*
 * fuzz_rpmdb.c - the agent's readers of the RPM database: the Berkeley DB
 * hash walker (rpmdb_bdb.c) and the header parser (rpmhdr.c) under it.
 * Each input is tried both as a Packages file and as one header blob.
 */
#include <string.h>

#include "collect_rpm.h"
#include "fuzz_util.h"

static void check_items(json_t *items)
{
	json_t *it;
	size_t i;

	/* Each item has a name and an "E:V-R" version. */
	json_array_foreach(items, i, it)
		if (!json_is_object(it) ||
		    !json_is_string(json_object_get(it, "name")) ||
		    !strchr(json_string_value(json_object_get(it, "version")),
			    ':'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *items = json_array();
	uint8_t *copy;

	if (!items)
		return 0;
	/* An exact-size copy, so a read past the end is caught. */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	(void)collect_rpm_parse_bdb(copy, size, items);
	(void)collect_rpm_add_header(copy, size, items);
	check_items(items);
	free(copy);
	json_decref(items);
	return 0;
}
