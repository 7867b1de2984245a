/*
 * buf.h - a growable byte buffer with a hard size cap.
 *
 * No input can grow a buffer past the cap given at buf_init(): appends that
 * would cross it fail with -E2BIG and leave the buffer as it was.  The data
 * is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef DERELICT_BUF_H
#define DERELICT_BUF_H

#include <stddef.h>

struct buf {
	char *data;	/* NULL until the first append */
	size_t len;
	size_t cap;	/* allocated bytes */
	size_t max;	/* most bytes len may reach */
};

#define BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes) }

void buf_init(struct buf *b, size_t max);
/* Frees the data; accepts a zeroed or already freed buffer. */
void buf_free(struct buf *b);
/* Sets len to 0 and keeps the allocation. */
void buf_reset(struct buf *b);

/* 0, -E2BIG past the cap, or -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hands the data (NUL-terminated, possibly NULL when empty) to the caller,
 * who frees it; the buffer is left empty and reusable. */
char *buf_take(struct buf *b, size_t *ret_len);

/* Reads a whole file into b; -E2BIG when larger than the cap, or -errno. */
int buf_read_file(struct buf *b, const char *path);

#endif
