/*
 * client.c - the agent's HTTP client: libcurl with timeouts on every call,
 * TLS verification on, and gzip-compressed JSON bodies.
 *
 * libcurl is loaded with dlopen() on first use, not linked: it pulls in
 * GnuTLS and some forty other libraries whose loading and initialisation
 * would cost more than a whole --print, which never sends anything.
 */
#include "client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "jsonutil.h"
#include "state.h"

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 60L
#define REPLY_MAX (1024 * 1024)

/* The libcurl functions used here, resolved once by client_init().  The
 * names are taken in parentheses so curl.h's type-checking macros for
 * curl_easy_setopt() and curl_easy_getinfo() do not expand. */
static struct {
	void *dl;
	typeof(curl_global_init) *global_init;
	typeof(curl_global_cleanup) *global_cleanup;
	typeof(curl_easy_init) *easy_init;
	typeof((curl_easy_setopt)) *easy_setopt;
	typeof(curl_easy_perform) *easy_perform;
	typeof((curl_easy_getinfo)) *easy_getinfo;
	typeof(curl_easy_strerror) *easy_strerror;
	typeof(curl_easy_cleanup) *easy_cleanup;
	typeof(curl_slist_append) *slist_append;
	typeof(curl_slist_free_all) *slist_free_all;
} curl;

static int load_libcurl(void)
{
	void *dl;

	if (curl.dl)
		return 0;
	dl = dlopen(CLIENT_LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return -ENOENT;
#define SYM(field, name)                                                      \
	if (!(*(void **)&curl.field = dlsym(dl, name)))                        \
		goto missing
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
	curl.dl = dl;
	return 0;
missing:
	dlclose(dl);
	memset(&curl, 0, sizeof(curl));
	return -ELIBBAD;
}

int client_init(void)
{
	int r = load_libcurl();

	if (r < 0)
		return r;
	return curl.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* The library stays mapped: unloading it gains nothing in a process that
 * either ends now or sends again at the next interval. */
void client_cleanup(void)
{
	if (curl.dl)
		curl.global_cleanup();
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
	if (!curl.dl) {
		snprintf(reply->error, sizeof(reply->error),
			 "libcurl is not loaded (client_init)");
		return -EINVAL;
	}
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
	c = curl.easy_init();
	if (!c)
		goto out;
	hdrs = curl.slist_append(hdrs, "Content-Type: application/json");
	if (!plain)
		hdrs = curl.slist_append(hdrs, "Content-Encoding: gzip");
	hdrs = curl.slist_append(hdrs, "Expect:");
	if (token && *token) {
		if (buf_printf(&auth, "Authorization: Bearer %s", token) < 0)
			goto out;
		hdrs = curl.slist_append(hdrs, auth.data);
	}
	if (!hdrs)
		goto out;
	curl.easy_setopt(c, CURLOPT_URL, url.data);
	curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl.easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file && *ca_file)
		curl.easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl.easy_setopt(c, CURLOPT_USERAGENT, "derelict-agent");
	curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl.easy_setopt(c, CURLOPT_POST, 1L);
	if (plain) {
		curl.easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	} else {
		curl.easy_setopt(c, CURLOPT_POSTFIELDS, gz);
		curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)gzlen);
	}
	curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl.easy_setopt(c, CURLOPT_WRITEDATA, &in);
	rc = curl.easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(reply->error, sizeof(reply->error), "%s",
			 curl.easy_strerror(rc));
		r = -EIO;
		goto out;
	}
	curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	if (in.len) {
		json_error_t jerr;

		reply->body = json_parse_buf(in.data, in.len, &jerr);
	}
	r = 0;
out:
	if (r == -ENOMEM && !reply->error[0])
		snprintf(reply->error, sizeof(reply->error), "out of memory");
	curl.slist_free_all(hdrs);
	curl.easy_cleanup(c);
	free(gz);
	free(text);
	buf_free(&in);
	buf_free(&url);
	buf_free(&auth);
	return r;
}

/* The server's {"error": {"message"}} or the status, for one line. */
void client_reply_reason(const struct http_reply *rep, char *why,
			 size_t size, const char *what)
{
	const json_t *e = json_object_get(rep->body, "error");
	const char *msg = json_get_str(e, "message");

	if (!msg)
		msg = json_get_str(e, "code");
	if (rep->status == 0)
		snprintf(why, size, "%s: %s", what, rep->error);
	else if (msg)
		snprintf(why, size, "%s: server answered %ld: %.160s", what,
			 rep->status, msg);
	else
		snprintf(why, size, "%s: server answered %ld", what,
			 rep->status);
}

/* A POST that falls back to an uncompressed body once if the server does
 * not take gzip (415). */
int client_servers(const char *list, char urls[][STATE_URL_MAX], int max,
		   char *err, size_t size)
{
	const char *p = list;
	int n = 0;

	for (;;) {
		size_t len;

		p += strspn(p, " \t,");
		if (!*p)
			break;
		len = strcspn(p, " \t,");
		if (n == max) {
			snprintf(err, size, "more than %d server URLs", max);
			return -EINVAL;
		}
		if (len >= STATE_URL_MAX) {
			snprintf(err, size, "a server URL longer than %d bytes",
				 STATE_URL_MAX - 1);
			return -EINVAL;
		}
		memcpy(urls[n], p, len);
		urls[n][len] = '\0';
		if (strncmp(urls[n], "http://", 7) != 0 &&
		    strncmp(urls[n], "https://", 8) != 0) {
			snprintf(err, size, "expected an http:// or https:// "
				 "URL: \"%.200s\"", urls[n]);
			return -EINVAL;
		}
		n++;
		p += len;
	}
	if (n == 0) {
		snprintf(err, size, "no server URL");
		return -EINVAL;
	}
	return n;
}

static int post_one(const struct agent_conf *conf, const char *server,
		    const char *path, const char *token, const json_t *body,
		    struct http_reply *rep)
{
	int r = client_post_json(server, path, token, conf->ca_file, body, 0,
				 rep);

	if (r == 0 && rep->status == 415) {
		client_reply_free(rep);
		r = client_post_json(server, path, token, conf->ca_file, body,
				     1, rep);
	}
	return r;
}

/* No answer, or a gateway's or an overloaded node's: another node may do. */
static int try_next(int r, const struct http_reply *rep)
{
	return r < 0 || rep->status == 0 || rep->status == 502 ||
	       rep->status == 503 || rep->status == 504;
}

int client_post(const struct agent_conf *conf, const char *path,
		const char *token, const json_t *body, struct http_reply *rep)
{
	char urls[CLIENT_SERVERS_MAX][STATE_URL_MAX];
	char last[STATE_URL_MAX], err[256];
	int n = client_servers(conf->server, urls, CLIENT_SERVERS_MAX, err,
			       sizeof(err));
	int first = 0, r = -EINVAL;

	if (n < 0) {
		memset(rep, 0, sizeof(*rep));
		snprintf(rep->error, sizeof(rep->error), "server: %.240s", err);
		return n;
	}
	if (n > 1 && state_read_server(conf->state_dir, last) == 0)
		for (int i = 0; i < n; i++)
			if (strcmp(urls[i], last) == 0)
				first = i;
	for (int k = 0; k < n; k++) {
		int i = (first + k) % n;

		if (k > 0)
			client_reply_free(rep);
		r = post_one(conf, urls[i], path, token, body, rep);
		if (!try_next(r, rep)) {
			/* Best effort: a failure only costs the next run a
			 * detour. */
			if (n > 1 && i != first)
				state_write_server(conf->state_dir, urls[i]);
			break;
		}
	}
	return r;
}
