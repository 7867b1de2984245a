/*
 * http.c - libmicrohttpd glue: one thread per connection (handlers may wait
 * for the ingest writer's commit), body caps, routing and authentication.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "api.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#define CONNECTION_LIMIT 2048
#define CONNECTION_TIMEOUT 60

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
	{ "POST", "/api/v1/findings/*/ack", ROLE_ADMIN, api_finding_ack },
	{ "GET", "/api/v1/packages", ROLE_VIEWER, api_packages },
	{ "GET", "/api/v1/summary", ROLE_VIEWER, api_summary },
	{ "GET", "/api/v1/advisories", ROLE_VIEWER, api_advisories },
	{ "GET", "/api/v1/openapi.json", ROLE_VIEWER, api_openapi },
	{ "GET", "/api/v1/metrics", ROLE_VIEWER, api_metrics },
	{ "GET", "/metrics", ROLE_VIEWER, api_metrics },
	{ "GET", "/healthz", ROLE_NONE, api_healthz },
	{ "GET", "/", ROLE_VIEWER, web_index },
	{ "GET", "/static/*", ROLE_VIEWER, web_static },
};

struct http_server {
	struct MHD_Daemon *d;
	struct app *app;
	char *cert, *key;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *http_arg(const struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

const char *http_header(const struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

int reply_json(struct reply *rp, int status, json_t *json)
{
	rp->status = status;
	json_decref(rp->json);
	rp->json = json;
	return 0;
}

int reply_error(struct reply *rp, int status, const char *code,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_json(rp, status,
			  json_pack("{s:{s:s,s:s}}", "error", "code", code,
				    "message", msg));
}

int reply_store_error(struct reply *rp, int r, const char *what)
{
	switch (r) {
	case -ENOENT:
		return reply_error(rp, 404, "not_found", "%s not found", what);
	case -EEXIST:
		return reply_error(rp, 409, "conflict", "%s already exists",
				   what);
	case -ENOSPC:
		rp->retry_after = 60;
		return reply_error(rp, 503, "disk_full",
				   "the server's disk is full; try again later");
	case -EBUSY:
		rp->retry_after = 5;
		return reply_error(rp, 503, "busy", "the database is busy");
	default:
		log_warning("store: %s: %s", what, store_errmsg());
		return reply_error(rp, 500, "internal", "database error");
	}
}

json_t *request_json(struct request *rq, struct reply *rp)
{
	const char *ct = http_header(rq, "Content-Type");
	json_error_t err;
	json_t *j;

	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		reply_error(rp, 415, "unsupported_media_type",
			    "send Content-Type: application/json");
		return NULL;
	}
	j = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len,
		       JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		reply_error(rp, 400, "malformed", "invalid JSON at line %d: %s",
			    err.line, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(rp, 400, "malformed", "expected a JSON object");
		return NULL;
	}
	return j;
}

int request_limit(struct request *rq, struct reply *rp, int *ret)
{
	const char *s = http_arg(rq, "limit");
	char *end;
	long v;

	*ret = 100;
	if (!s)
		return 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 1 || v > 1000) {
		reply_error(rp, 400, "bad_request",
			    "limit must be a number from 1 to 1000");
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
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

static int authenticate(struct app *app, struct request *rq, struct reply *rp,
			enum role need)
{
	char token[256], hash[SHA256_HEX_LEN];
	int r;

	rq->who.role = ROLE_NONE;
	if (need == ROLE_NONE)
		return 0;
	if (ratelimit_blocked(rq->client)) {
		rp->retry_after = 60;
		reply_error(rp, 429, "too_many_requests",
			    "too many failed logins from %s; wait a minute",
			    rq->client);
		return -EPERM;
	}
	r = token_from_header(http_header(rq, "Authorization"), token,
			      sizeof(token));
	if (r == 0) {
		sha256_hex(token, strlen(token), hash);
		explicit_bzero(token, sizeof(token));
		r = store_auth(app->store, hash, &rq->who);
	}
	if (r == -EIO) {
		reply_store_error(rp, r, "token");
		return r;
	}
	if (r < 0) {
		if (r != -ENOENT || http_header(rq, "Authorization"))
			ratelimit_fail(rq->client);
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

			if (len == 0 || n == HTTP_MAX_PARAMS)
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

static void dispatch(struct app *app, struct request *rq, struct reply *rp)
{
	char pathbuf[1024];
	int path_found = 0;

	if (strlen(rq->path) >= sizeof(pathbuf)) {
		reply_error(rp, 414, "uri_too_long", "path too long");
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];

		if (!route_match(rt->pattern, rq->path, pathbuf,
				 sizeof(pathbuf), rq->params))
			continue;
		path_found = 1;
		if (strcmp(rt->method, rq->method) != 0 &&
		    !(strcmp(rt->method, "GET") == 0 &&
		      strcmp(rq->method, "HEAD") == 0))
			continue;
		if (authenticate(app, rq, rp, rt->min_role) < 0)
			return;
		if (rq->body_too_large) {
			reply_error(rp, 413, "too_large",
				    "request body over %lld bytes",
				    (long long)app->cfg->max_body_bytes);
			return;
		}
		if (rq->body.len && http_header(rq, "Content-Encoding")) {
			const char *ce = http_header(rq, "Content-Encoding");
			int r;

			if (strcasecmp(ce, "gzip") != 0) {
				reply_error(rp, 415, "unsupported_media_type",
					    "Content-Encoding %s is not "
					    "accepted; use gzip", ce);
				return;
			}
			r = gunzip_body(&rq->body,
					(size_t)app->cfg->max_body_bytes);
			if (r == -E2BIG) {
				rq->body_too_large = 1;
				reply_error(rp, 413, "too_large",
					    "request body over %lld bytes "
					    "once inflated",
					    (long long)app->cfg->max_body_bytes);
				return;
			}
			if (r < 0) {
				reply_error(rp, 400, "malformed",
					    "invalid gzip body");
				return;
			}
		}
		rt->fn(app, rq, rp);
		return;
	}
	if (path_found)
		reply_error(rp, 405, "method_not_allowed",
			    "%s is not allowed on %s", rq->method, rq->path);
	else
		reply_error(rp, 404, "not_found", "no such endpoint: %s",
			    rq->path);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn,
				  struct request *rq, struct reply *rp)
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
	ret = MHD_queue_response(conn, (unsigned)rp->status, resp);
	MHD_destroy_response(resp);
	(void)rq;
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct request *rq = *con_cls;
	struct reply rp = { 0 };
	enum MHD_Result ret;

	(void)version;
	if (!rq) {
		const char *cl;
		const union MHD_ConnectionInfo *ci;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->conn = conn;
		rq->method = method;
		rq->path = url;
		rq->started = mono_now();
		buf_init(&rq->body, (size_t)h->app->cfg->max_body_bytes);
		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;

			if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6,
					  &((const struct sockaddr_in6 *)sa)->sin6_addr,
					  rq->client, sizeof(rq->client));
			else
				inet_ntop(AF_INET,
					  &((const struct sockaddr_in *)sa)->sin_addr,
					  rq->client, sizeof(rq->client));
		}
		*con_cls = rq;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 "Content-Length");
		if (cl && strtoull(cl, NULL, 10) >
				  (unsigned long long)h->app->cfg->max_body_bytes) {
			/* Answer before reading a byte of it. */
			if (strcmp(url, "/api/v1/reports") == 0)
				metrics_reject(REJECT_TOO_LARGE);
			reply_error(&rp, 413, "too_large",
				    "request body over %lld bytes",
				    (long long)h->app->cfg->max_body_bytes);
			ret = send_reply(conn, rq, &rp);
			json_decref(rp.json);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rq->body_too_large &&
		    buf_append(&rq->body, upload_data, *upload_data_size) < 0) {
			rq->body_too_large = 1;
			buf_free(&rq->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	dispatch(h->app, rq, &rp);
	if (!rp.status)
		reply_error(&rp, 500, "internal", "no reply");
	ret = send_reply(conn, rq, &rp);
	json_decref(rp.json);
	free(rp.owned);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
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
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			 MHD_USE_ITC;
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
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
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
	MHD_stop_daemon(h->d);
	free(h->cert);
	free(h->key);
	free(h);
}
