/*
 * http.c - libmicrohttpd glue: one thread per connection (handlers may wait
 * for the ingest writer's commit), body caps, routing and authentication.
 *
 * A request is routed and authenticated from its headers alone, on
 * libmicrohttpd's first call, before a byte of its body is read: a request
 * that is refused there (401, 403, 404, 405, 413, 415, 429) is answered at
 * once and its connection closed, so its body is never held or parsed.
 * Only /api/v1/enroll reads a body unauthenticated, at most
 * ENROLL_MAX_BYTES, and all such bodies together at most UNAUTH_BUDGET.
 * A reaper thread cuts connections whose headers take too long or whose
 * body arrives slower than BODY_MIN_RATE.
 *
 * Handlers never see libmicrohttpd: what they read (method, path, query,
 * the headers they need, the body, the peer, the principal) is copied
 * into a struct request (request.h) before dispatch, and their struct
 * reply (reply.h) becomes the response here.  Calls go one way: http.c ->
 * api_*.c -> request.c, reply.c, the store.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#include "api.h"
#include "fastpath.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#define CONNECTION_LIMIT 2048
#define CONNECTION_TIMEOUT 60	/* idle seconds */
/* Descriptors kept for the database, logs and libmicrohttpd's own. */
#define SPARE_FDS 64
/* Timeouts in the manner of Apache's mod_reqtimeout defaults
 * (header=20, body=20,MinRate=500): headers must be in within
 * HEADER_TIMEOUT of the connection opening or of the last reply; a body
 * gets BODY_TIMEOUT and one more second for each BODY_MIN_RATE bytes. */
#define HEADER_TIMEOUT 20
#define BODY_TIMEOUT 20
#define BODY_MIN_RATE 500
/* The enroll body is three short strings; a few KiB, raw or inflated. */
#define ENROLL_MAX_BYTES 4096
/* What the bodies of all unauthenticated requests may hold together. */
#define UNAUTH_BUDGET (1 << 20)
/* libmicrohttpd's per-connection pool holds the request line, headers and
 * query arguments; what does not fit is refused (414, 431). */
#define CONNECTION_MEMORY (32 << 10)

static const char CSP[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
	"frame-ancestors 'none'; base-uri 'none'";

struct route {
	const char *method;
	const char *pattern;	/* "*" matches one path segment */
	enum role min_role;	/* ROLE_NONE: open; ROLE_HOST: agents */
	HANDLER((*fn));
};

/* Host tokens may only report; ROLE_VIEWER routes need viewer or admin. */
static const struct route routes[] = {
	{ "GET", "/api/v1/healthz", ROLE_NONE, api_healthz },
	{ "POST", "/api/v1/enroll", ROLE_NONE, api_enroll },
	{ "POST", "/api/v1/reports", ROLE_HOST, api_reports },
	{ "GET", "/api/v1/whoami", ROLE_VIEWER, api_whoami },
	{ "GET", "/api/v1/hosts", ROLE_VIEWER, api_hosts_list },
	{ "GET", "/api/v1/hosts/*", ROLE_VIEWER, api_host_get },
	{ "PATCH", "/api/v1/hosts/*", ROLE_ADMIN, api_host_patch },
	{ "DELETE", "/api/v1/hosts/*", ROLE_ADMIN, api_host_delete },
	{ "GET", "/api/v1/hosts/*/changes", ROLE_VIEWER, api_host_changes },
	{ "GET", "/api/v1/hosts/*/*", ROLE_VIEWER, api_host_section },
	{ "GET", "/api/v1/projects", ROLE_VIEWER, api_projects_list },
	{ "POST", "/api/v1/projects", ROLE_ADMIN, api_project_create },
	{ "GET", "/api/v1/projects/*", ROLE_VIEWER, api_project_get },
	{ "PATCH", "/api/v1/projects/*", ROLE_ADMIN, api_project_patch },
	{ "DELETE", "/api/v1/projects/*", ROLE_ADMIN, api_project_delete },
	{ "GET", "/api/v1/findings", ROLE_VIEWER, api_findings_list },
	{ "GET", "/api/v1/discovered", ROLE_VIEWER, api_discovered_list },
	{ "POST", "/api/v1/findings/*/ack", ROLE_ADMIN, api_finding_ack },
	{ "GET", "/api/v1/notifications", ROLE_ADMIN, api_notifications_list },
	{ "POST", "/api/v1/notifications/*/retry", ROLE_ADMIN,
	  api_notification_retry },
	{ "GET", "/api/v1/packages", ROLE_VIEWER, api_packages },
	{ "GET", "/api/v1/summary", ROLE_VIEWER, api_summary },
	{ "GET", "/api/v1/advisories", ROLE_VIEWER, api_advisories },
	{ "GET", "/api/v1/openapi.json", ROLE_VIEWER, api_openapi },
	{ "GET", "/api/v1/metrics", ROLE_VIEWER, api_metrics },
	{ "GET", "/metrics", ROLE_VIEWER, api_metrics },
	{ "GET", "/healthz", ROLE_NONE, api_healthz },
	{ "GET", "/answer", ROLE_NONE, api_answer_get },
	{ "POST", "/answer", ROLE_NONE, api_answer_post },
	{ "GET", "/", ROLE_VIEWER, web_index },
	{ "GET", "/static/*", ROLE_VIEWER, web_static },
};

/* One per TCP connection (libmicrohttpd's socket context), linked into
 * the reaper's list while the connection is open. */
struct conn_track {
	struct conn_track *prev, *next;
	int fd;
	enum { TRACK_HEADERS, TRACK_BODY, TRACK_BUSY } phase;
	double since;		/* when phase began */
	uint64_t body_bytes;	/* received in TRACK_BODY */
	int cut;		/* shut down by the reaper */
};

struct http_server {
	struct MHD_Daemon *d;
	struct app *app;
	char *cert, *key;
	pthread_mutex_t lock;	/* guards tracks and every conn_track */
	struct conn_track *tracks;
	pthread_t reaper;
	pthread_cond_t wake;
	int stopping, reaper_started;
	atomic_long unauth_bytes;	/* reserved against UNAUTH_BUDGET */
};

/* What libmicrohttpd keeps per request (*con_cls); handlers see rq. */
struct http_req {
	struct request rq;
	struct MHD_Connection *conn;
	const struct route *rt;
	struct conn_track *track;
	long reserved;		/* bytes taken from UNAUTH_BUDGET */
	int begun;		/* on_request has seen the headers */
	int answered;		/* refused from the headers; body discarded */
	int too_many_args;	/* the query was dropped unparsed */
	int body_too_large;	/* the body was dropped, over its cap */
	char pathbuf[1024];	/* rq.params point in here */
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A request header, or NULL: for http.c's own checks; what handlers read
 * is copied into struct request. */
static const char *header(const struct http_req *w, const char *name)
{
	return MHD_lookup_connection_value(w->conn, MHD_HEADER_KIND, name);
}

/* Inflates a gzip body in place, still capped at max bytes. */
static int gunzip_body(struct buf *b, size_t max)
{
	struct buf out = BUF_INIT(max);
	unsigned char chunk[65536];
	z_stream z = { 0 };
	int rc, r = 0;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)b->data;
	z.avail_in = (uInt)b->len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			r = -EBADMSG;
			break;
		}
		r = buf_append(&out, chunk, sizeof(chunk) - z.avail_out);
		if (r < 0)
			break;
		if (rc != Z_STREAM_END && z.avail_in == 0 && z.avail_out != 0) {
			r = -EBADMSG;	/* truncated */
			break;
		}
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
	if (r < 0) {
		buf_free(&out);
		return r;
	}
	buf_free(b);
	*b = out;
	return 0;
}

/* Decodes "Bearer X" or "Basic base64(user:X)" into the token X. */
static int token_from_header(const char *h, char *out, size_t outlen)
{
	if (!h)
		return -ENOENT;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		if (strlen(h) >= outlen)
			return -EINVAL;
		snprintf(out, outlen, "%s", h);
		return 0;
	}
	if (strncasecmp(h, "Basic ", 6) == 0) {
		gnutls_datum_t in, dec = { NULL, 0 };
		char *colon;
		int r = -EINVAL;

		h += 6;
		while (*h == ' ')
			h++;
		in.data = (unsigned char *)h;
		in.size = (unsigned)strlen(h);
		if (in.size > 4 * outlen ||
		    gnutls_base64_decode2(&in, &dec) < 0)
			return -EINVAL;
		colon = memchr(dec.data, ':', dec.size);
		if (colon) {
			size_t n = dec.size - (size_t)(colon + 1 - (char *)dec.data);

			if (n < outlen && !memchr(colon + 1, '\0', n)) {
				memcpy(out, colon + 1, n);
				out[n] = '\0';
				r = 0;
			}
		}
		gnutls_free(dec.data);
		return r;
	}
	return -EINVAL;
}

/* ah: the Authorization header, or NULL. */
static int authenticate(struct app *app, struct request *rq, struct reply *rp,
			enum role need, const char *ah)
{
	char token[256], hash[SHA256_HEX_LEN];
	int r;

	rq->who.role = ROLE_NONE;
	if (need == ROLE_NONE)
		return 0;
	r = token_from_header(ah, token, sizeof(token));
	if (r == 0) {
		sha256_hex(token, strlen(token), hash);
		explicit_bzero(token, sizeof(token));
		/* A host the fast path knows needs no reader; whatever may
		 * have revoked its token emptied the fast path (fastpath.h). */
		r = need == ROLE_HOST
			    ? fastpath_auth(app->fastpath, hash, &rq->who)
			    : -ENOENT;
		if (r < 0)
			r = store_auth(app->store, hash, &rq->who);
		if (r == 0)
			snprintf(rq->token_hash, sizeof(rq->token_hash), "%s",
				 hash);
	} else {
		hash[0] = '\0';
	}
	if (r == -EIO) {
		reply_store_error(rp, r, "token");
		return r;
	}
	if (r < 0) {
		/* A valid token was never asked about: only failures are
		 * counted, and only failures are refused. */
		if (r == -ENOENT && !ah) {
			/* No credential at all (a browser's first request);
			 * not a guess. */
		} else if (ratelimit_blocked(RATELIMIT_TOKEN, rq->client, hash)) {
			ratelimit_fail(RATELIMIT_TOKEN, rq->client, hash);
			metrics_auth_failure(AUTH_TOKEN);
			metrics_auth_refused();
			rp->retry_after = 60;
			reply_error(rp, 429, "too_many_requests",
				    "too many failed logins; wait a minute");
			return -EPERM;
		} else {
			ratelimit_fail(RATELIMIT_TOKEN, rq->client, hash);
			metrics_auth_failure(AUTH_TOKEN);
		}
		reply_error(rp, 401, "unauthorized",
			    "a valid token is required (Bearer, or the "
			    "password of Basic)");
		return -EACCES;
	}
	if (need == ROLE_HOST ? rq->who.role != ROLE_HOST
			      : (rq->who.role == ROLE_HOST ||
				 rq->who.role < need)) {
		reply_error(rp, 403, "forbidden",
			    "this token may not %s %s", rq->method, rq->path);
		return -EPERM;
	}
	return 0;
}

/* Matches path against pattern; fills params with the "*" segments, which
 * point into the copy in buf. */
static int route_match(const char *pattern, const char *path, char *buf,
		       size_t buflen, const char **params)
{
	int n = 0;

	snprintf(buf, buflen, "%s", path);
	path = buf;
	for (;;) {
		if (*pattern == '*') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			if (len == 0 || n == REQUEST_MAX_PARAMS)
				return 0;
			params[n++] = path;
			pattern++;
			path += len;
			if (*path == '/' && *pattern == '/') {
				*(char *)path = '\0';
				path++;
				pattern++;
				continue;
			}
			if (*path == '\0' && *pattern == '\0')
				return 1;
			return 0;
		}
		if (*pattern != *path)
			return 0;
		if (*pattern == '\0')
			return 1;
		pattern++;
		path++;
	}
}

/* The route for rq, with rq->params filled; NULL with rp filled (404,
 * 405, 414) when there is none. */
static const struct route *route_find(struct http_req *w, struct reply *rp)
{
	struct request *rq = &w->rq;
	int path_found = 0;

	if (strlen(rq->path) >= sizeof(w->pathbuf)) {
		reply_error(rp, 414, "uri_too_long", "path too long");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];

		if (!route_match(rt->pattern, rq->path, w->pathbuf,
				 sizeof(w->pathbuf), rq->params))
			continue;
		path_found = 1;
		if (strcmp(rt->method, rq->method) != 0 &&
		    !(strcmp(rt->method, "GET") == 0 &&
		      strcmp(rq->method, "HEAD") == 0))
			continue;
		return rt;
	}
	if (path_found)
		reply_error(rp, 405, "method_not_allowed",
			    "%s is not allowed on %s", rq->method, rq->path);
	else
		reply_error(rp, 404, "not_found", "no such endpoint: %s",
			    rq->path);
	return NULL;
}

static int is_enroll(const struct route *rt)
{
	return rt->fn == api_enroll;
}

/* Content-Type is JSON and Content-Encoding absent or gzip; else fills rp
 * with 415. */
static int check_media(struct http_req *w, struct reply *rp)
{
	const char *ct = w->rq.content_type;
	const char *ce = header(w, "Content-Encoding");

	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		reply_error(rp, 415, "unsupported_media_type",
			    "send Content-Type: application/json");
		return -EINVAL;
	}
	if (ce && strcasecmp(ce, "gzip") != 0 &&
	    strcasecmp(ce, "identity") != 0) {
		reply_error(rp, 415, "unsupported_media_type",
			    "Content-Encoding %s is not accepted; use gzip", ce);
		return -EINVAL;
	}
	return 0;
}

/* Decides from the headers alone whether the body will be read: routes,
 * authenticates, checks the declared size.  0 with the body's cap set, or
 * -errno with rp filled: the request is answered without reading on. */
static int begin(struct http_server *h, struct http_req *w, struct reply *rp)
{
	struct request *rq = &w->rq;
	const struct server_config *cfg = h->app->cfg;
	const char *cl = header(w, "Content-Length");
	int has_body = (cl && strcmp(cl, "0") != 0) ||
		       header(w, "Transfer-Encoding");
	unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
	const struct route *rt = route_find(w, rp);
	size_t cap;

	if (!rt)
		return -ENOENT;
	w->rt = rt;
	if (authenticate(h->app, rq, rp, rt->min_role,
			 header(w, "Authorization")) < 0)
		return -EACCES;
	if (rt->min_role != ROLE_NONE) {
		cap = (size_t)cfg->max_body_bytes;
	} else if (!is_enroll(rt)) {
		cap = 0;	/* an open GET has nothing to send */
	} else {
		/* Enrollment is decided by its secret, inside the body: the
		 * body may be read, but only a little of it, and never by a
		 * client or a server that is guessing too much. */
		if (ratelimit_blocked(RATELIMIT_ENROLL, rq->client, NULL)) {
			metrics_auth_refused();
			rp->retry_after = 60;
			reply_error(rp, 429, "too_many_requests",
				    "too many failed enrollments; wait a "
				    "minute");
			return -EPERM;
		}
		if (check_media(w, rp) < 0)
			return -EINVAL;
		cap = ENROLL_MAX_BYTES;
	}
	if (has_body && cap == 0) {
		reply_error(rp, 413, "too_large", "this request takes no body");
		return -E2BIG;
	}
	if (declared > cap) {
		if (rt->fn == api_reports)
			metrics_reject(REJECT_TOO_LARGE);
		reply_error(rp, 413, "too_large", "request body over %zu bytes",
			    cap);
		return -E2BIG;
	}
	if (rt->min_role == ROLE_NONE && has_body) {
		long want = cl ? (long)declared : (long)cap;

		if (atomic_fetch_add(&h->unauth_bytes, want) + want >
		    UNAUTH_BUDGET) {
			atomic_fetch_sub(&h->unauth_bytes, want);
			rp->retry_after = 5;
			reply_error(rp, 503, "busy",
				    "too many enrollments at once; try again");
			return -EBUSY;
		}
		w->reserved = want;
		metrics_unauth_bytes(want);
	}
	buf_init(&rq->body, cap);
	return 0;
}

/* Runs the handler once the whole body is in. */
static void dispatch(struct app *app, struct http_req *w, struct reply *rp)
{
	struct request *rq = &w->rq;
	const struct route *rt = w->rt;
	size_t cap = rq->body.max;

	if (w->body_too_large) {
		reply_error(rp, 413, "too_large",
			    "request body over %zu bytes", cap);
		return;
	}
	if (rq->body.len && header(w, "Content-Encoding") &&
	    strcasecmp(header(w, "Content-Encoding"), "identity") != 0) {
		const char *ce = header(w, "Content-Encoding");
		int r;

		if (strcasecmp(ce, "gzip") != 0) {
			reply_error(rp, 415, "unsupported_media_type",
				    "Content-Encoding %s is not "
				    "accepted; use gzip", ce);
			return;
		}
		/* Inflated under the same cap as the raw body: a few KiB
		 * for enrollment, so a bomb costs nothing. */
		r = gunzip_body(&rq->body, cap);
		if (r == -E2BIG) {
			w->body_too_large = 1;
			reply_error(rp, 413, "too_large",
				    "request body over %zu bytes once "
				    "inflated", cap);
			return;
		}
		if (r < 0) {
			reply_error(rp, 400, "malformed", "invalid gzip body");
			return;
		}
	}
	rt->fn(app, rq, rp);
}

/* close: the request's body was not read, so the connection cannot carry
 * another request. */
static enum MHD_Result send_reply(struct MHD_Connection *conn,
				  struct reply *rp, int close)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = NULL;
	char num[32];

	if (rp->json) {
		text = json_dumps(rp->json, JSON_COMPACT);
		resp = MHD_create_response_from_buffer(
			text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
	} else if (rp->owned) {
		resp = MHD_create_response_from_buffer(
			rp->raw_len, rp->owned, MHD_RESPMEM_MUST_FREE);
		rp->owned = NULL;
	} else {
		resp = MHD_create_response_from_buffer(
			rp->raw_len, (void *)rp->raw, MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	if (rp->content_type)
		MHD_add_response_header(resp, "Content-Type", rp->content_type);
	if (rp->etag)
		MHD_add_response_header(resp, "ETag", rp->etag);
	if (rp->location)
		MHD_add_response_header(resp, "Location", rp->location);
	if (rp->retry_after) {
		snprintf(num, sizeof(num), "%d", rp->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (rp->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate",
					"Basic realm=\"derelict\", "
					"charset=\"UTF-8\"");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (!rp->etag)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	else
		MHD_add_response_header(resp, "Cache-Control",
					"no-cache, private");
	if (close)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(conn, (unsigned)rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void track_phase(struct http_server *h, struct conn_track *t,
			int phase)
{
	if (!t)
		return;
	pthread_mutex_lock(&h->lock);
	t->phase = phase;
	t->since = mono_now();
	t->body_bytes = 0;
	pthread_mutex_unlock(&h->lock);
}

static void client_address(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return;
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
			  out, (socklen_t)len);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)len);
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind,
				const char *key, size_t key_size,
				const char *value, size_t value_size)
{
	struct request *rq = cls;

	(void)kind;
	/* A name with a NUL in it ("a%00b") never matched a lookup by
	 * name; on_uri cut the query to at most REQUEST_MAX_ARGS. */
	if (strlen(key) != key_size || rq->n_args == REQUEST_MAX_ARGS)
		return MHD_YES;
	if (!request_utf8(key, key_size) ||
	    (value && !request_utf8(value, value_size)))
		rq->bad_utf8 = true;
	rq->args[rq->n_args].name = key;
	rq->args[rq->n_args].value = value;
	rq->n_args++;
	return MHD_YES;
}

/* Copies what handlers read out of libmicrohttpd into w->rq, from the
 * request line and headers (the body follows later). */
static void request_fill(struct http_req *w, const char *url,
			 const char *method)
{
	struct request *rq = &w->rq;

	rq->method = method;
	rq->path = url;
	rq->started = mono_now();
	client_address(w->conn, rq->client, sizeof(rq->client));
	MHD_get_connection_values_n(w->conn, MHD_GET_ARGUMENT_KIND, copy_arg,
				    rq);
	rq->content_type = header(w, "Content-Type");
	rq->if_none_match = header(w, "If-None-Match");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct http_req *w = *con_cls;
	struct request *rq;
	struct reply rp = { 0 };
	enum MHD_Result ret;

	(void)version;
	if (!w || !w->begun) {
		const union MHD_ConnectionInfo *ci;

		if (!w)
			w = calloc(1, sizeof(*w));
		if (!w)
			return MHD_NO;
		w->begun = 1;
		w->conn = conn;
		request_fill(w, url, method);
		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		w->track = ci ? ci->socket_context : NULL;
		*con_cls = w;
		track_phase(h, w->track, TRACK_BODY);
		if (w->too_many_args)
			reply_error(&rp, 400, "bad_request",
				    "more than %d query arguments",
				    REQUEST_MAX_ARGS);
		else if (w->rq.bad_utf8)
			reply_error(&rp, 400, "bad_request",
				    "query arguments must be UTF-8");
		else if (begin(h, w, &rp) == 0)
			return MHD_YES;
		/* Answered from the headers: nothing of the body is read. */
		w->answered = 1;
		ret = send_reply(conn, &rp, 1);
		json_decref(rp.json);
		return ret;
	}
	rq = &w->rq;
	if (*upload_data_size) {
		if (w->track) {
			pthread_mutex_lock(&h->lock);
			w->track->body_bytes += *upload_data_size;
			pthread_mutex_unlock(&h->lock);
		}
		if (!w->answered && !w->body_too_large &&
		    buf_append(&rq->body, upload_data, *upload_data_size) < 0) {
			w->body_too_large = 1;
			buf_free(&rq->body);
			/* Nobody unauthenticated sends more than the cap. */
			if (w->rt->min_role == ROLE_NONE)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (w->answered)
		return MHD_YES;
	track_phase(h, w->track, TRACK_BUSY);
	dispatch(h->app, w, &rp);
	if (!rp.status)
		reply_error(&rp, 500, "internal", "no reply");
	ret = send_reply(conn, &rp, 0);
	json_decref(rp.json);
	free(rp.owned);
	return ret;
}

/* Called with the request line before libmicrohttpd parses the query into
 * its per-connection pool, where a thousand arguments do not fit: it would
 * close the connection without a reply.  Past REQUEST_MAX_ARGS, the query is
 * cut off in place (libmicrohttpd's own buffer, passed const but writable;
 * it parses from just after the '?') and on_request answers 400.  What is
 * returned becomes the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const char *q = strchr(uri, '?');
	struct http_req *w;
	int args = 1;

	(void)cls;
	(void)conn;
	w = calloc(1, sizeof(*w));
	if (!w || !q)
		return w;
	for (const char *p = q + 1; *p; p++)
		if (*p == '&')
			args++;
	if (args > REQUEST_MAX_ARGS) {
		w->too_many_args = 1;
		((char *)q)[1] = '\0';
	}
	return w;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *h = cls;
	struct http_req *w = *con_cls;

	(void)conn;
	(void)toe;
	if (!w)
		return;
	if (w->reserved) {
		atomic_fetch_sub(&h->unauth_bytes, w->reserved);
		metrics_unauth_bytes(-w->reserved);
	}
	/* Keep-alive: the next request's headers are due from now. */
	track_phase(h, w->track, TRACK_HEADERS);
	buf_free(&w->rq.body);
	free(w);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *h = cls;
	struct conn_track *t = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		metrics_connections(1);
		t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			return;	/* untracked: only the idle timeout holds */
		}
		t->fd = ci->connect_fd;
		t->phase = TRACK_HEADERS;
		t->since = mono_now();
		pthread_mutex_lock(&h->lock);
		t->next = h->tracks;
		if (h->tracks)
			h->tracks->prev = t;
		h->tracks = t;
		pthread_mutex_unlock(&h->lock);
		*socket_context = t;
		return;
	}
	/* CLOSED comes before libmicrohttpd closes the descriptor, so the
	 * reaper never shuts down a descriptor that has been reused. */
	metrics_connections(-1);
	if (!t)
		return;
	pthread_mutex_lock(&h->lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		h->tracks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&h->lock);
	free(t);
	*socket_context = NULL;
}

/* Once a second: shuts down connections that are too slow.  A handler
 * that is running (TRACK_BUSY, e.g. waiting for the writer) is never cut.
 * shutdown() wakes the connection's thread, which then closes it. */
static void *reaper_main(void *arg)
{
	struct http_server *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		double now = mono_now();

		for (struct conn_track *t = h->tracks; t; t = t->next) {
			double age = now - t->since;
			int why = -1;

			if (t->cut)
				continue;
			if (t->phase == TRACK_HEADERS && age > HEADER_TIMEOUT)
				why = CUT_HEADERS;
			else if (t->phase == TRACK_BODY &&
				 age > BODY_TIMEOUT +
						 (double)t->body_bytes /
							 BODY_MIN_RATE)
				why = CUT_BODY_RATE;
			if (why < 0)
				continue;
			shutdown(t->fd, SHUT_RDWR);
			t->cut = 1;
			metrics_connection_cut(why);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("http: %s", line);
}

/* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:8470", ":8470". */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port < 1 || port > 65535)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0
									 : -EINVAL;
	}
	{
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (hl == 0)
			return 0;	/* all addresses */
		return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0
								  : -EINVAL;
	}
}

static char *read_pem(const char *path, char err[256])
{
	struct buf b = BUF_INIT(1 << 20);
	int r = buf_read_file(&b, path);

	if (r < 0) {
		snprintf(err, 256, "cannot read %s: %s", path, strerror(-r));
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

int http_start(struct app *app, struct http_server **ret, char err[256])
{
	struct sockaddr_storage ss;
	struct http_server *h;
	/* poll(), not select(): no FD_SETSIZE limit at 1024 descriptors. */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			 MHD_USE_ITC;
	unsigned limit = CONNECTION_LIMIT;
	unsigned pool = 0;
	const char *bench_pool = getenv("DERELICTD_BENCH_EPOLL_THREADS");
	struct MHD_OptionItem extra[2] = { { MHD_OPTION_END, 0, NULL },
					   { MHD_OPTION_END, 0, NULL } };
	pthread_condattr_t ca;
	struct rlimit rl;
	int tls = app->cfg->tls_cert[0] && app->cfg->tls_key[0];

	if (parse_listen(app->cfg->listen, &ss) < 0) {
		snprintf(err, 256, "listen: expected ADDRESS:PORT, got \"%s\"",
			 app->cfg->listen);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->app = app;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* A limit the descriptors cannot reach would refuse everyone at
	 * accept() instead (main() raised the soft limit to the hard). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)limit + 2 * SPARE_FDS)
		limit = rl.rlim_cur > 2 * SPARE_FDS
				? (unsigned)(rl.rlim_cur - 2 * SPARE_FDS)
				: 16;
	/* For tests/bench only: the model this one was measured against,
	 * epoll with a fixed pool of threads, where a report waiting for the
	 * writer holds one of them (see the bench's "thread model" lines). */
	if (bench_pool && strtoul(bench_pool, NULL, 10) > 0) {
		pool = (unsigned)strtoul(bench_pool, NULL, 10);
		flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			MHD_USE_ITC;
	}
	extra[0].option = pool ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END;
	extra[0].value = pool;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		h->cert = read_pem(app->cfg->tls_cert, err);
		h->key = h->cert ? read_pem(app->cfg->tls_key, err) : NULL;
		if (!h->key) {
			free(h->cert);
			free(h);
			return -EINVAL;
		}
		flags |= MHD_USE_TLS;
	}
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
		MHD_OPTION_CONNECTION_LIMIT, limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)app->cfg->max_connections_per_address,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
		MHD_OPTION_ARRAY, extra,
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert,
		MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, 256, "cannot listen on %s%s", app->cfg->listen,
			 tls ? " with TLS (check tls_cert and tls_key)" : "");
		free(h->cert);
		free(h->key);
		free(h);
		return -EADDRINUSE;
	}
	if (pthread_create(&h->reaper, NULL, reaper_main, h) == 0)
		h->reaper_started = 1;
	else
		log_warning("http: no reaper thread; slow clients are cut "
			    "only after %d s idle", CONNECTION_TIMEOUT);
	if (limit < CONNECTION_LIMIT)
		log_warning("http: %u connections at most, not %d: raise the "
			    "limit of open files (LimitNOFILE=)",
			    limit, CONNECTION_LIMIT);
	*ret = h;
	return 0;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	/* Stop accepting first; MHD_stop_daemon then waits for every
	 * connection thread, so a report being committed is answered. */
	MHD_quiesce_daemon(h->d);
	if (h->reaper_started) {
		pthread_mutex_lock(&h->lock);
		h->stopping = 1;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->reaper, NULL);
	}
	MHD_stop_daemon(h->d);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h->cert);
	free(h->key);
	free(h);
}
