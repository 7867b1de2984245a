/*
 * advisory_fetch.h - one conditional HTTP GET of an advisory feed (the
 * Debian Security Tracker's JSON export) with libcurl: ETag and
 * If-Modified-Since, a cap on the body checked before it is read where the
 * server says its length, and timeouts on the connection, the whole
 * transfer and a stalled one.  No parsing, no logging.
 */
#ifndef DERELICT_ADVISORY_FETCH_H
#define DERELICT_ADVISORY_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct advisory_fetch_req {
	const char *url;		/* http:// or https:// only */
	const char *etag;		/* of the kept copy; "" or NULL none */
	const char *last_modified;	/* of the kept copy; "" or NULL none */
	size_t max_bytes;		/* the largest body taken */
	long timeout_s;			/* the whole transfer */
	const int *cancel;		/* when it turns non-zero, the transfer
					 * stops (-ECANCELED); may be NULL */
};

struct advisory_fetch_res {
	long status;			/* 200 or 304 on success */
	struct buf body;		/* the body on 200; the caller frees it */
	char etag[256];			/* "" when the answer had none */
	char last_modified[64];
	int64_t last_modified_at;	/* parsed; 0 when none */
	char error[256];		/* what went wrong, on failure */
};

/* Once per process, before any thread fetches.  0 or -EIO. */
int advisory_fetch_global_init(void);

/*
 * Fetches req->url into *ret (zeroed first).  0 with status 200 (a new
 * body) or 304 (the kept copy is current); -E2BIG when the body passes
 * max_bytes; -EPROTO on another HTTP status; -EIO on a network error or a
 * truncated body; -ECANCELED when req->cancel turned; -EINVAL on a bad
 * request; -ENOMEM.  On failure
 * ret->error says why and ret->body is empty.
 */
int advisory_fetch(const struct advisory_fetch_req *req,
		   struct advisory_fetch_res *ret);

#endif
