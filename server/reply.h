/*
 * reply.h - what a handler answers: a status, a JSON document or a body,
 * and the few headers it may set.  http.c turns it into libmicrohttpd's
 * response; nothing here knows libmicrohttpd.
 */
#ifndef DERELICT_REPLY_H
#define DERELICT_REPLY_H

#include <jansson.h>
#include <stddef.h>

struct reply {
	int status;
	json_t *json;		/* owned; rendered compact */
	const void *raw;	/* or a static body */
	size_t raw_len;
	char *owned;		/* or a malloc'd body, freed after sending */
	const char *content_type;
	const char *etag;
	const char *location;
	int retry_after;
};

/* Fills rp with {"error": {"code", "message"}} and returns 0, so handlers
 * can end with "return reply_error(rp, 404, ...)". */
int reply_error(struct reply *rp, int status, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fills rp with status and json (the reference is taken; a json the reply
 * held before is released).  Returns 0. */
int reply_json(struct reply *rp, int status, json_t *json);
/* Maps a store error to the right reply (404 for -ENOENT, 503 with a
 * Retry-After for what may pass, 500 else) and returns 0. */
int reply_store_error(struct reply *rp, int r, const char *what);

#endif
