/*
 * embed.h - files compiled into a binary by tools/embed.sh.
 *
 * Each table ends with an entry whose name is NULL.  The data is followed
 * by a NUL byte that len does not count, so text files are C strings.
 */
#ifndef DERELICT_EMBED_H
#define DERELICT_EMBED_H

#include <stddef.h>

struct embedded_file {
	const char *name;
	const unsigned char *data;
	size_t len;
};

#endif
