/*
 * http.h - derelictd's HTTP side: libmicrohttpd, the route table,
 * authentication, body limits and JSON replies.  Handlers (api_*.c) see a
 * parsed request and fill a reply; they never touch libmicrohttpd.
 */
#ifndef DERELICT_HTTP_H
#define DERELICT_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"
#include "store.h"

#define HTTP_MAX_PARAMS 4

struct request {
	void *conn;		/* struct MHD_Connection */
	const char *method;
	const char *path;
	struct buf body;
	int body_too_large;
	struct principal who;
	char token_hash[SHA256_HEX_LEN];	/* of who's token; "" none */
	const char *params[HTTP_MAX_PARAMS];	/* the route's "*" segments */
	char client[64];	/* the peer's address */
	double started;		/* monotonic seconds */
};

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

/* The value of a query argument, or NULL. */
const char *http_arg(const struct request *rq, const char *name);
/* A request header, or NULL. */
const char *http_header(const struct request *rq, const char *name);

/* Fills rp with {"error": {"code", "message"}} and returns 0, so handlers
 * can end with "return reply_error(rp, 404, ...)". */
int reply_error(struct reply *rp, int status, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fills rp with status and json (the reference is taken). */
int reply_json(struct reply *rp, int status, json_t *json);
/* Maps a store error to the right reply (404 for -ENOENT and so on). */
int reply_store_error(struct reply *rp, int r, const char *what);

/* Parses the request body as a JSON object; on failure fills rp with the
 * right 4xx and returns NULL. */
json_t *request_json(struct request *rq, struct reply *rp);

/* Reads ?limit= (default 100, at most 1000) into *ret; a bad value fills
 * rp with 400 and returns -EINVAL. */
int request_limit(struct request *rq, struct reply *rp, int *ret);

struct http_server;

int http_start(struct app *app, struct http_server **ret, char err[256]);
/* Stops accepting, lets running handlers finish, closes. */
void http_stop(struct http_server *h);

#endif
