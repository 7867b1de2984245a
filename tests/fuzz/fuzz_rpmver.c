/*
 * fuzz_rpmver.c - RPM version ordering and syntax.  The input is two
 * versions separated by a NUL byte (or one version compared with itself);
 * the ordering must be antisymmetric and reflexive whatever the strings.
 */
#include <string.h>

#include "fuzz_util.h"
#include "rpmver.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2), *a, *b, up[RPMVER_MAX_LEN + 1];
	size_t alen;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	a = buf;
	alen = strlen(a);
	b = alen < size ? a + alen + 1 : a;

	if (rpmver_compare(a, a) != 0 || rpmver_compare(b, b) != 0)
		abort();
	if (sign(rpmver_compare(a, b)) != -sign(rpmver_compare(b, a)))
		abort();
	if (sign(rpmver_segcmp(a, b)) != -sign(rpmver_segcmp(b, a)))
		abort();
	if (rpmver_valid(a) == 0) {
		if (rpmver_upstream(a, up, sizeof(up)) != 0 || !up[0])
			abort();
	}
	rpmver_valid(b);
	rpmver_upstream(b, up, 4);	/* a buffer too small, often */
	free(buf);
	return 0;
}
