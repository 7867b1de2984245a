/*
 * request.h - what a handler sees of an HTTP request, and the helpers
 * that parse it (query arguments, ?limit=, enum arguments, a JSON body).
 *
 * http.c fills a struct request from libmicrohttpd before anything is
 * dispatched; nothing here knows libmicrohttpd.  The strings point into
 * the connection's memory and live until the request is answered.
 */
#ifndef DERELICT_REQUEST_H
#define DERELICT_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "reply.h"
#include "store.h"

#define REQUEST_MAX_PARAMS 4
/* No endpoint takes more than a handful of query arguments; http.c
 * answers 400 to a request with more, before it reaches a handler. */
#define REQUEST_MAX_ARGS 64

struct request_arg {
	const char *name;
	const char *value;	/* NULL for "?name" without "=" */
};

/* Every member is written by http.c: the first six from the request's
 * line and headers, who once the credential is checked, body once it is
 * all in (inflated if it came gzipped). */
struct request {
	const char *method;
	const char *path;
	const char *params[REQUEST_MAX_PARAMS];	/* the route's "*" segments */
	struct request_arg args[REQUEST_MAX_ARGS];	/* the query, in order */
	int n_args;
	bool bad_utf8;		/* a query argument is not UTF-8 (a 400) */
	/* The headers handlers read; NULL when absent. */
	const char *content_type;
	const char *if_none_match;
	char client[64];	/* the peer's address */
	double started;		/* monotonic seconds */
	struct principal who;
	char token_hash[SHA256_HEX_LEN];	/* of who's token; "" none */
	struct buf body;
};

/* Whether the n bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF): what every text the API stores or
 * compares must be, on either database engine. */
bool request_utf8(const char *s, size_t n);

/* The value of the first query argument called name (case-insensitive,
 * as HTTP libraries match them), or NULL. */
const char *request_arg(const struct request *rq, const char *name);

/* Parses the request body as a JSON object (the caller owns it); on
 * failure fills rp with the right 4xx and returns NULL. */
json_t *request_json(struct request *rq, struct reply *rp);
/* Whether the request says its body is JSON (request_json() answers 415
 * when not). */
int request_is_json(const struct request *rq);

/* Reads ?limit= (default 100, at most 1000) into *ret; a bad value fills
 * rp with 400 and returns -EINVAL. */
int request_limit(struct request *rq, struct reply *rp, int *ret);

/* Reads the query argument name, which must be one of the NULL-terminated
 * values (compared exactly): *ret is its index there, or -1 when the
 * argument is absent.  Any other value fills rp with 400 "NAME must be
 * A, B or C" and returns -EINVAL, *ret untouched. */
int request_enum(const struct request *rq, struct reply *rp,
		 const char *name, const char *const values[], int *ret);

#endif
