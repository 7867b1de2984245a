/* advisory_fetch.c - see advisory_fetch.h. */
#include "advisory_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "version.h"

struct sink {
	struct advisory_fetch_res *res;
	const int *cancel;
	bool too_big;
};

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	const struct sink *s = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return s->cancel && __atomic_load_n(s->cancel, __ATOMIC_RELAXED);
}

int advisory_fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	/* A 304 or an error page is not kept. */
	if (buf_append(&s->res->body, data, size * n) < 0) {
		s->too_big = true;
		return 0;
	}
	return size * n;
}

/* Copies a header's value, without surrounding blanks, when name matches. */
static void header_value(const char *line, size_t len, const char *name,
			 char *out, size_t size)
{
	size_t nl = strlen(name), end;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	end = len;
	while (end && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
		       line[end - 1] == ' '))
		end--;
	if (end < size)
		snprintf(out, size, "%.*s", (int)end, line);
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	/* A new response (after a redirect) starts afresh. */
	if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		s->res->etag[0] = '\0';
		s->res->last_modified[0] = '\0';
	}
	header_value(line, len, "ETag", s->res->etag, sizeof(s->res->etag));
	header_value(line, len, "Last-Modified", s->res->last_modified,
		     sizeof(s->res->last_modified));
	return len;
}

int advisory_fetch(const struct advisory_fetch_req *req,
		   struct advisory_fetch_res *ret)
{
	struct sink sink = { .res = ret, .cancel = req->cancel };
	struct curl_slist *hdrs = NULL;
	char line[512];
	CURL *h;
	CURLcode cc;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	buf_init(&ret->body, req->max_bytes);
	if (!req->url || (strncmp(req->url, "http://", 7) != 0 &&
			  strncmp(req->url, "https://", 8) != 0)) {
		snprintf(ret->error, sizeof(ret->error),
			 "not an http or https URL");
		return -EINVAL;
	}
	h = curl_easy_init();
	if (!h) {
		snprintf(ret->error, sizeof(ret->error), "curl_easy_init failed");
		return -ENOMEM;
	}
	if (req->etag && req->etag[0]) {
		snprintf(line, sizeof(line), "If-None-Match: %s", req->etag);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (req->last_modified && req->last_modified[0]) {
		snprintf(line, sizeof(line), "If-Modified-Since: %s",
			 req->last_modified);
		hdrs = curl_slist_append(hdrs, line);
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT,
			 req->timeout_s > 0 ? req->timeout_s : 600L);
	/* A transfer slower than 1 kB/s for a minute has stalled. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	/* Refused before a byte is read when the length is announced; the
	 * write callback caps the rest (chunked, or decompressed). */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)req->max_bytes);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "derelictd/" DERELICT_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &sink);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
	if (sink.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(ret->error, sizeof(ret->error),
			 "the body is larger than %zu bytes", req->max_bytes);
		r = -E2BIG;
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(ret->error, sizeof(ret->error), "cancelled");
		r = -ECANCELED;
	} else if (cc != CURLE_OK) {
		snprintf(ret->error, sizeof(ret->error), "%s",
			 curl_easy_strerror(cc));
		r = -EIO;
	} else if (ret->status != 200 && ret->status != 304) {
		snprintf(ret->error, sizeof(ret->error), "HTTP status %ld",
			 ret->status);
		r = -EPROTO;
	}
	if (r == 0 && ret->last_modified[0]) {
		time_t t = curl_getdate(ret->last_modified, NULL);

		ret->last_modified_at = t > 0 ? (int64_t)t : 0;
	}
	if (r < 0 || ret->status == 304)
		buf_free(&ret->body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}
