/*
 * client.c - the agent's HTTP client: libcurl with timeouts on every call,
 * TLS verification on, and gzip-compressed JSON bodies.
 */
#include "agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "jsonutil.h"

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 60L
#define REPLY_MAX (1024 * 1024)

int client_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void client_cleanup(void)
{
	curl_global_cleanup();
}

int client_gzip(const void *in, size_t len, unsigned char **ret,
		size_t *ret_len)
{
	z_stream z;
	unsigned char *out;
	uLong cap;
	int rc;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper, not zlib's. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, (uLong)len);
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	if (rc != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return -EIO;
	}
	*ret_len = z.total_out;
	deflateEnd(&z);
	*ret = out;
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	/* A reply past the cap aborts the transfer (short count). */
	if (buf_append(b, ptr, size * nmemb) < 0)
		return 0;
	return size * nmemb;
}

void client_reply_free(struct http_reply *reply)
{
	if (!reply)
		return;
	json_decref(reply->body);
	reply->body = NULL;
}

int client_post_json(const char *server, const char *path, const char *token,
		     const char *ca_file, const json_t *body, int plain,
		     struct http_reply *reply)
{
	struct buf in = BUF_INIT(REPLY_MAX), url = BUF_INIT(8192),
		   auth = BUF_INIT(TOKEN_MAX + 64);
	struct curl_slist *hdrs = NULL;
	unsigned char *gz = NULL;
	size_t gzlen = 0, len;
	char *text = NULL;
	CURLcode rc;
	CURL *c = NULL;
	int r = -ENOMEM;

	memset(reply, 0, sizeof(*reply));
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		goto out;
	len = strlen(text);
	if (buf_puts(&url, server) < 0)
		goto out;
	while (url.len && url.data[url.len - 1] == '/')
		url.data[--url.len] = '\0';
	if (buf_puts(&url, path) < 0)
		goto out;
	if (!plain && (r = client_gzip(text, len, &gz, &gzlen)) < 0)
		goto out;
	r = -ENOMEM;
	c = curl_easy_init();
	if (!c)
		goto out;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (!plain)
		hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (token && *token) {
		if (buf_printf(&auth, "Authorization: Bearer %s", token) < 0)
			goto out;
		hdrs = curl_slist_append(hdrs, auth.data);
	}
	if (!hdrs)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file && *ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "derelict-agent");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (plain) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, gz);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)gzlen);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(reply->error, sizeof(reply->error), "%s",
			 curl_easy_strerror(rc));
		r = -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	if (in.len) {
		json_error_t jerr;

		reply->body = json_parse_buf(in.data, in.len, &jerr);
	}
	r = 0;
out:
	if (r == -ENOMEM && !reply->error[0])
		snprintf(reply->error, sizeof(reply->error), "out of memory");
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(gz);
	free(text);
	buf_free(&in);
	buf_free(&url);
	buf_free(&auth);
	return r;
}
