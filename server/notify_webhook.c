/*
 * notify_webhook.c - the "webhook:NAME" channel: each event POSTed as
 * JSON, signed as the Standard Webhooks specification says
 * (https://www.standardwebhooks.com/): headers webhook-id (the event's
 * stable id), webhook-timestamp (seconds) and webhook-signature
 * "v1,<base64 of HMAC-SHA256 over id.timestamp.body>", the key being the
 * base64 after "whsec_" of the configured secret.
 */
#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "server.h"
#include "version.h"

#define WEBHOOK_TIMEOUT_S 10
#define SECRET_FILE_MAX 4096
/* What is kept of a receiver's answer: its status is what counts. */
#define ANSWER_MAX 4096

struct webhook {
	char *url;
	unsigned char key[NOTIFY_KEY_MAX];
	size_t key_len;
};

int notify_webhook_key(const char *secret, unsigned char key[NOTIFY_KEY_MAX],
		       size_t *ret_len)
{
	struct base64_decode_ctx ctx;
	unsigned char out[BASE64_DECODE_LENGTH(128)];
	size_t n = 0, len;

	if (strncmp(secret, "whsec_", 6) != 0)
		return -EINVAL;
	secret += 6;
	len = strlen(secret);
	/* 64 bytes take 88 characters of base64. */
	if (len == 0 || len > 88)
		return -EINVAL;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &n, out, len, secret) ||
	    !base64_decode_final(&ctx))
		return -EINVAL;
	if (n < 24 || n > NOTIFY_KEY_MAX)
		return -EINVAL;
	memcpy(key, out, n);
	*ret_len = n;
	return 0;
}

int notify_webhook_sign(const unsigned char *key, size_t key_len,
			const char *id, int64_t timestamp, const char *body,
			size_t body_len, char out[NOTIFY_SIGNATURE_LEN])
{
	struct hmac_sha256_ctx ctx;
	uint8_t mac[SHA256_DIGEST_SIZE];
	char ts[24];
	size_t n;

	snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
	hmac_sha256_set_key(&ctx, key_len, key);
	hmac_sha256_update(&ctx, strlen(id), (const uint8_t *)id);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
	hmac_sha256_update(&ctx, strlen(ts), (const uint8_t *)ts);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
	hmac_sha256_update(&ctx, body_len, (const uint8_t *)body);
	hmac_sha256_digest(&ctx, sizeof(mac), mac);
	memcpy(out, "v1,", 3);
	/* 32 bytes are 44 characters of base64, padding included. */
	base64_encode_raw(out + 3, sizeof(mac), mac);
	n = 3 + BASE64_ENCODE_RAW_LENGTH(sizeof(mac));
	out[n] = '\0';
	return 0;
}

/* The secret file's first line; refused when others may read it. */
static int read_key(const char *path, struct webhook *w, char *err,
		    size_t errlen)
{
	struct buf b = BUF_INIT(SECRET_FILE_MAX);
	struct stat sb;
	int r;

	if (stat(path, &sb) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (sb.st_mode & S_IROTH) {
		snprintf(err, errlen, "%s is readable by others (mode %04o); "
				      "chmod o-r it",
			 path, (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	r = buf_read_file(&b, path);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		buf_free(&b);
		return r;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
			 b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	r = notify_webhook_key(b.data ? b.data : "", w->key, &w->key_len);
	buf_free(&b);
	if (r < 0)
		snprintf(err, errlen, "%s: expected a Standard Webhooks "
				      "secret, \"whsec_\" and the base64 of 24 "
				      "to 64 random bytes",
			 path);
	return r;
}

static void webhook_release(void *data)
{
	struct webhook *w = data;

	if (!w)
		return;
	free(w->url);
	/* The key is a secret: leave no copy in freed memory. */
	explicit_bzero(w->key, sizeof(w->key));
	free(w);
}

static int webhook_configure(const struct server_config *cfg,
			     struct notify_target *targets, int max,
			     int *n_targets, char *err, size_t errlen)
{
	int n = 0, r = 0;

	for (int i = 0; i < cfg->n_webhooks && r == 0; i++) {
		const struct server_webhook *sw = &cfg->webhooks[i];
		struct webhook *w;

		if (n == max) {
			snprintf(err, errlen, "too many notification "
					      "destinations");
			r = -E2BIG;
			break;
		}
		w = calloc(1, sizeof(*w));
		if (!w || !(w->url = strdup(sw->url))) {
			webhook_release(w);
			r = -ENOMEM;
			break;
		}
		r = read_key(sw->secret_file, w, err, errlen);
		if (r < 0) {
			webhook_release(w);
			break;
		}
		memset(&targets[n], 0, sizeof(targets[n]));
		snprintf(targets[n].dest.name, sizeof(targets[n].dest.name),
			 "webhook:%s", sw->name);
		targets[n].dest.min_severity = sw->min_severity;
		targets[n].data = w;
		n++;
	}
	if (r < 0) {
		for (int i = 0; i < n; i++)
			webhook_release(targets[i].data);
		n = 0;
	}
	*n_targets = n;
	return r;
}

static size_t drop_answer(char *p, size_t size, size_t nmemb, void *user)
{
	size_t *got = user, n = size * nmemb;

	(void)p;
	*got += n;
	/* A receiver that talks on and on is cut off: 0 ends the transfer. */
	return *got > ANSWER_MAX ? 0 : n;
}

static int add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return 0;
	*h = n;
	return 1;
}

static enum notify_result webhook_deliver(const struct notify_target *t,
					  const struct notify_delivery *d,
					  int64_t now, char *err, size_t errlen)
{
	const struct webhook *w = t->data;
	struct curl_slist *h = NULL;
	char line[256], sig[NOTIFY_SIGNATURE_LEN];
	size_t got = 0, body_len = strlen(d->payload);
	long status = 0;
	CURL *curl;
	CURLcode cc;
	int ok = 1;

	notify_webhook_sign(w->key, w->key_len, d->event_id, now, d->payload,
			    body_len, sig);
	curl = curl_easy_init();
	if (!curl) {
		snprintf(err, errlen, "cannot start libcurl");
		return NOTIFY_RETRY;
	}
	ok = add_header(&h, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", d->event_id);
	ok = ok && add_header(&h, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld",
		 (long long)now);
	ok = ok && add_header(&h, line);
	snprintf(line, sizeof(line), "webhook-signature: %s", sig);
	ok = ok && add_header(&h, line);
	/* No "Expect: 100-continue" round trip for a small body. */
	ok = ok && add_header(&h, "Expect:");
	if (!ok) {
		curl_slist_free_all(h);
		curl_easy_cleanup(curl);
		snprintf(err, errlen, "out of memory");
		return NOTIFY_RETRY;
	}
	curl_easy_setopt(curl, CURLOPT_URL, w->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->payload);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)body_len);
	curl_easy_setopt(curl, CURLOPT_USERAGENT,
			 "derelictd/" DERELICT_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, drop_answer);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &got);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	/* An answer cut off after its status still says how it went. */
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status > 0)) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return NOTIFY_RETRY;
	}
	if (status >= 200 && status < 300)
		return NOTIFY_DELIVERED;
	snprintf(err, errlen, "HTTP %ld", status);
	return status == 410 ? NOTIFY_DISABLE : NOTIFY_RETRY;
}

const struct notify_channel notify_webhook_channel = {
	.prefix = "webhook:",
	.configure = webhook_configure,
	.deliver = webhook_deliver,
	.release = webhook_release,
};
