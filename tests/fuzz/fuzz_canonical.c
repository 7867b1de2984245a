/*
 * fuzz_canonical.c - json_canonical_append() on whatever jansson parses:
 * the same bytes as json_canonical(), which every hash of an item and a
 * section was taken of and agents of every version still send.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT((size_t)1 << 26);
	json_error_t err;
	json_t *v;
	char *want;

	v = json_loadb((const char *)data, size,
		       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!v)
		return 0;
	want = json_canonical(v);
	if (!want || json_canonical_append(v, &b) != 0 ||
	    b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
		abort();
	free(want);
	buf_free(&b);
	json_decref(v);
	return 0;
}
