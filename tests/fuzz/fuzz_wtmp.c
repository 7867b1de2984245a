/*
 * fuzz_wtmp.c - the agent's wtmp reader (glibc's utmpx API over a file
 * made of the input).
 */
#include <string.h>

#include "collect_logins.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct login_list l = { 0 };
	int64_t since = 0;

	/* The first 4 bytes, when there are enough, move the window. */
	if (size >= 4)
		since = (int64_t)data[0] << 24 | data[1] << 16 | data[2] << 8 |
			data[3];
	if (collect_logins_read_wtmp(fuzz_write_file(data, size), since,
				     &l) >= 0) {
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].at < since ||
			    !memchr(l.v[i].user, '\0', sizeof(l.v[i].user)) ||
			    !memchr(l.v[i].from, '\0', sizeof(l.v[i].from)))
				abort();
	}
	collect_logins_list_free(&l);
	return 0;
}
