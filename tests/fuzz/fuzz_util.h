/*
 * fuzz_util.h - what the libFuzzer harnesses share: writing an input to a
 * private temporary file for the parsers that take a path.
 */
#ifndef DERELICT_FUZZ_UTIL_H
#define DERELICT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A path, made once per process (mkstemp in $TMPDIR or /tmp), that
 * fuzz_write_file() rewrites with each input; removed at exit. */
static char fuzz_path[256];

__attribute__((unused)) static void fuzz_unlink(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

__attribute__((unused)) static const char *fuzz_write_file(const uint8_t *data, size_t size)
{
	FILE *f;

	if (!fuzz_path[0]) {
		const char *dir = getenv("TMPDIR");
		int fd;

		snprintf(fuzz_path, sizeof(fuzz_path), "%s/derelict-fuzz-XXXXXX",
			 dir && *dir ? dir : "/tmp");
		fd = mkstemp(fuzz_path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(fuzz_unlink);
	}
	f = fopen(fuzz_path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	return fuzz_path;
}

#endif
