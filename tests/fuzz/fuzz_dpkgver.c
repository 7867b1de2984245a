/*
 * fuzz_dpkgver.c - dpkg version ordering and syntax.  The input is two
 * versions separated by a NUL byte (or one version compared with itself);
 * the ordering must be antisymmetric and reflexive whatever the strings.
 */
#include <string.h>

#include "dpkgver.h"
#include "fuzz_util.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2), *a, *b, up[DPKGVER_MAX_LEN + 1];
	size_t alen;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	a = buf;
	alen = strlen(a);
	b = alen < size ? a + alen + 1 : a;

	if (dpkgver_compare(a, a) != 0 || dpkgver_compare(b, b) != 0)
		abort();
	if (sign(dpkgver_compare(a, b)) != -sign(dpkgver_compare(b, a)))
		abort();
	if (dpkgver_valid(a) == 0) {
		if (dpkgver_upstream(a, up, sizeof(up)) != 0 || !up[0])
			abort();
	} else {
		dpkgver_upstream(a, up, sizeof(up));
	}
	dpkgver_valid(b);
	dpkgver_upstream(b, up, 4);	/* a buffer too small, often */
	free(buf);
	return 0;
}
