/* fastpath.c - see fastpath.h. */
#include "fastpath.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jsonutil.h"
#include "report.h"
#include "timeutil.h"

/* A collected_at as agents write it, "2026-11-26T10:00:00Z", in its
 * quotes. */
#define STAMP_LEN (TIME_RFC3339_LEN - 1 + 2)

/* Chains of about eight at the most hosts kept. */
#define BUCKETS (FASTPATH_MAX_HOSTS / 8)

struct host {
	struct host *by_token, *by_host;	/* the buckets' chains */
	struct host *next_dirty;
	int64_t host_id;
	char token_hash[SHA256_HEX_LEN];
	char name[40];			/* the agent id, a UUID */
	/* What a report must send: state_of() of the one learned; "" once
	 * forgotten. */
	char state[SHA256_HEX_LEN];
	/* The learned report's body as a template (fastpath_template());
	 * tmpl_len 0: none. */
	unsigned char tmpl_hash[SHA256_DIGEST_SIZE];
	size_t tmpl_at, tmpl_len;
	int64_t next_eval_at;
	/* The last fast-path report's, and since when it waits to be
	 * written (0: it does not). */
	int64_t last_seen, collected_at, bytes;
	int64_t dirty_since;
};

struct fastpath {
	struct store *st;
	pthread_mutex_t lock;
	long epoch;		/* store_epoch() of what is kept */
	size_t count;
	struct host *dirty;
	struct host **by_token, **by_host;
};

static size_t token_bucket(const char *token_hash)
{
	size_t h = 0;

	/* The hash of a random token: its first digits are spread enough. */
	for (int i = 0; i < 8 && token_hash[i]; i++)
		h = h * 16 + (size_t)(token_hash[i] & 0x1f);
	return h % BUCKETS;
}

static size_t host_bucket(int64_t host_id)
{
	return (size_t)host_id % BUCKETS;
}

int fastpath_new(struct store *st, struct fastpath **ret)
{
	struct fastpath *fp = calloc(1, sizeof(*fp));

	if (!fp)
		return -ENOMEM;
	fp->by_token = calloc(BUCKETS, sizeof(*fp->by_token));
	fp->by_host = calloc(BUCKETS, sizeof(*fp->by_host));
	if (!fp->by_token || !fp->by_host) {
		free(fp->by_token);
		free(fp->by_host);
		free(fp);
		return -ENOMEM;
	}
	fp->st = st;
	fp->epoch = store_epoch(st);
	pthread_mutex_init(&fp->lock, NULL);
	*ret = fp;
	return 0;
}

/* Under the lock: forgets every host. */
static void clear(struct fastpath *fp)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		struct host *h = fp->by_host[b];

		while (h) {
			struct host *next = h->by_host;

			free(h);
			h = next;
		}
		fp->by_host[b] = NULL;
		fp->by_token[b] = NULL;
	}
	fp->count = 0;
	fp->dirty = NULL;
}

void fastpath_free(struct fastpath *fp)
{
	if (!fp)
		return;
	clear(fp);
	pthread_mutex_destroy(&fp->lock);
	free(fp->by_token);
	free(fp->by_host);
	free(fp);
}

/* Two SHA-256 hex digests, compared in constant time (const_time_equal()
 * takes strings of any length, at a division a byte). */
static int same_hash(const char *a, const char *b)
{
	unsigned char diff = 0;

	for (int i = 0; i < SHA256_HEX_LEN - 1; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* Under the lock: what is kept may be used (no write since it was
 * learned). */
static int current(struct fastpath *fp)
{
	return fp->epoch == store_epoch(fp->st);
}

static struct host *find_token(struct fastpath *fp, const char *token_hash)
{
	struct host *h = fp->by_token[token_bucket(token_hash)];

	while (h && !same_hash(h->token_hash, token_hash))
		h = h->by_token;
	return h;
}

static struct host *find_host(struct fastpath *fp, int64_t host_id)
{
	struct host *h = fp->by_host[host_bucket(host_id)];

	while (h && h->host_id != host_id)
		h = h->by_host;
	return h;
}

int fastpath_auth(struct fastpath *fp, const char *token_hash,
		  struct principal *ret)
{
	struct host *h;
	int r = -ENOENT;

	if (!fp || strlen(token_hash) != SHA256_HEX_LEN - 1)
		return -ENOENT;
	pthread_mutex_lock(&fp->lock);
	if (current(fp) && (h = find_token(fp, token_hash))) {
		ret->role = ROLE_HOST;
		ret->host_id = h->host_id;
		snprintf(ret->name, sizeof(ret->name), "%s", h->name);
		ret->pending[0] = '\0';
		r = 0;
	}
	pthread_mutex_unlock(&fp->lock);
	return r;
}

/* The sections job sends, when every one of them is a bare hash; -1 when
 * one is in full, a delta or failed. */
static int hashes_only(const struct ingest_job *job)
{
	int mask = 0;

	for (int i = 0; i < SECTION_COUNT; i++) {
		const struct ingest_section *in = &job->sec[i];

		if (!in->present)
			continue;
		if (in->full || in->delta || in->failed)
			return -1;
		mask |= 1 << i;
	}
	return mask;
}

/* One hash of what a report of the host sends: which sections, their
 * hashes and the identity hash, so a host costs one hash to keep. */
static int state_of(const struct ingest_job *job, int mask,
		    char ret[SHA256_HEX_LEN])
{
	char text[(SECTION_COUNT + 1) * SHA256_HEX_LEN + 16];
	size_t n = (size_t)snprintf(text, sizeof(text), "%d %s", mask,
				    job->identity);

	for (int i = 0; i < SECTION_COUNT && n < sizeof(text); i++)
		if (mask & (1 << i))
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      " %s", job->sec[i].hash);
	if (n >= sizeof(text))
		return -E2BIG;
	return sha256_hex(text, n, ret);
}

/* Under the lock: h, known, takes a report that matched what it must
 * send, unless its token differs, it was forgotten or it is due. */
static int take(struct fastpath *fp, struct host *h, const char *token_hash,
		int64_t now, int64_t collected, size_t bytes)
{
	if (!same_hash(h->token_hash, token_hash) || !h->state[0] ||
	    h->next_eval_at <= now ||
	    (h->dirty_since && now - h->dirty_since > FASTPATH_DIRTY_MAX))
		return -EAGAIN;
	if (now > h->last_seen)
		h->last_seen = now;
	if (collected > 0)
		h->collected_at = collected;
	h->bytes = (int64_t)bytes;
	if (!h->dirty_since) {
		h->dirty_since = now;
		h->next_dirty = fp->dirty;
		fp->dirty = h;
	}
	return 0;
}

int fastpath_report(struct fastpath *fp, const struct ingest_job *job,
		    const char *token_hash, int64_t now)
{
	int mask = hashes_only(job);
	char state[SHA256_HEX_LEN];
	int64_t collected = 0;
	struct host *h;
	int r = -EAGAIN;

	if (!fp || mask <= 0 || job->pending[0] || !job->identity[0] ||
	    strlen(token_hash) != SHA256_HEX_LEN - 1 ||
	    state_of(job, mask, state) < 0)
		return -EAGAIN;
	if (time_parse(json_get_str(job->report, "collected_at"), &collected) < 0)
		collected = 0;
	pthread_mutex_lock(&fp->lock);
	h = current(fp) ? find_host(fp, job->host_id) : NULL;
	if (h && strcmp(h->state, state) == 0)
		r = take(fp, h, token_hash, now, collected, job->bytes);
	if (r == 0 && job->tmpl_len) {
		/* Its body is one of the learned report too: the next may
		 * be taken unparsed. */
		memcpy(h->tmpl_hash, job->tmpl_hash, sizeof(h->tmpl_hash));
		h->tmpl_at = job->tmpl_at;
		h->tmpl_len = job->tmpl_len;
	}
	pthread_mutex_unlock(&fp->lock);
	return r;
}

/* Whether p (STAMP_LEN bytes) is a quoted "2026-11-26T10:00:00Z": a JSON
 * string without escapes, then its time in *ret. */
static int stamp(const char *p, int64_t *ret)
{
	static const char shape[] = "\"dddd-dd-ddTdd:dd:ddZ\"";
	char text[TIME_RFC3339_LEN];

	for (int i = 0; i < STAMP_LEN; i++)
		if (shape[i] == 'd' ? p[i] < '0' || p[i] > '9' : p[i] != shape[i])
			return -EINVAL;
	memcpy(text, p + 1, sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	return time_parse(text, ret);
}

static int json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

long fastpath_collected_at(const char *body, size_t len)
{
	static const char key[] = "\"collected_at\"";
	const size_t klen = sizeof(key) - 1;
	int depth = 0;
	int64_t t;

	/* Valid JSON outside its strings is brackets, commas, colons,
	 * numbers and words; inside, a backslash escapes the next byte. */
	for (size_t i = 0; i < len; i++) {
		char c = body[i];

		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		if (c != '"')
			continue;
		if (depth == 1 && len - i > klen &&
		    memcmp(body + i, key, klen) == 0) {
			size_t j = i + klen;

			while (j < len && json_space(body[j]))
				j++;
			if (j < len && body[j] == ':') {
				/* The top-level key: one, as duplicates are
				 * refused. */
				for (j++; j < len && json_space(body[j]); j++)
					;
				return len - j >= STAMP_LEN &&
						       stamp(body + j, &t) == 0
					       ? (long)j
					       : -1;
			}
		}
		for (i++; i < len && body[i] != '"'; i++)
			if (body[i] == '\\')
				i++;
	}
	return -1;
}

/* The SHA-256 of body without its STAMP_LEN bytes at at. */
static void template_hash(const char *body, size_t len, size_t at,
			  unsigned char ret[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, at, (const uint8_t *)body);
	sha256_update(&ctx, len - at - STAMP_LEN,
		      (const uint8_t *)body + at + STAMP_LEN);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, ret);
}

void fastpath_template(struct ingest_job *job, const char *body, size_t len)
{
	const char *sent = json_get_str(job->report, "collected_at");
	long at;

	job->tmpl_len = 0;
	if (hashes_only(job) <= 0 || !body || !sent ||
	    strlen(sent) != STAMP_LEN - 2 ||
	    (at = fastpath_collected_at(body, len)) < 0 ||
	    memcmp(body + at + 1, sent, STAMP_LEN - 2) != 0)
		return;	/* report_check() replaced it: ahead of the clock */
	template_hash(body, len, (size_t)at, job->tmpl_hash);
	job->tmpl_at = (size_t)at;
	job->tmpl_len = len;
}

int fastpath_raw(struct fastpath *fp, int64_t host_id, const char *token_hash,
		 const char *body, size_t len, int64_t now)
{
	unsigned char hash[SHA256_DIGEST_SIZE];
	int64_t collected;
	struct host *h;
	size_t at = 0;
	int r = -EAGAIN;

	if (!fp || !body || strlen(token_hash) != SHA256_HEX_LEN - 1)
		return -EAGAIN;
	pthread_mutex_lock(&fp->lock);
	h = current(fp) ? find_host(fp, host_id) : NULL;
	if (h && h->tmpl_len == len)
		at = h->tmpl_at;
	pthread_mutex_unlock(&fp->lock);
	/* Only the stamp may differ, and it must be one report_check()
	 * takes as it is. */
	if (!at || stamp(body + at, &collected) < 0 ||
	    collected > now + REPORT_MAX_AHEAD_S)
		return -EAGAIN;
	template_hash(body, len, at, hash);
	pthread_mutex_lock(&fp->lock);
	h = current(fp) ? find_host(fp, host_id) : NULL;
	if (h && h->tmpl_len == len && h->tmpl_at == at &&
	    memcmp(h->tmpl_hash, hash, sizeof(hash)) == 0)
		r = take(fp, h, token_hash, now, collected, len);
	pthread_mutex_unlock(&fp->lock);
	return r;
}

void fastpath_learn(struct fastpath *fp, const struct ingest_job *job,
		    int64_t next_eval_at, long epoch)
{
	int mask = hashes_only(job);
	const char *agent_id =
		json_get_str(json_object_get(job->report, "agent"), "id");
	char state[SHA256_HEX_LEN];
	struct host *h;

	if (!fp || mask <= 0 || job->pending[0] || !job->identity[0] ||
	    strlen(job->token_hash) != SHA256_HEX_LEN - 1 || !agent_id ||
	    strlen(agent_id) >= 40 ||
	    epoch != store_epoch(fp->st) || state_of(job, mask, state) < 0)
		return;
	pthread_mutex_lock(&fp->lock);
	if (!current(fp)) {
		/* Something else wrote since: start afresh once nothing is
		 * waiting to be written. */
		if (fp->dirty)
			goto out;
		clear(fp);
		fp->epoch = epoch;
	}
	h = find_host(fp, job->host_id);
	if (h && strcmp(h->token_hash, job->token_hash) != 0)
		goto out;	/* cannot be: a new token bumps the epoch */
	if (!h) {
		size_t b;

		if (fp->count >= FASTPATH_MAX_HOSTS)
			goto out;
		h = calloc(1, sizeof(*h));
		if (!h)
			goto out;
		h->host_id = job->host_id;
		snprintf(h->token_hash, sizeof(h->token_hash), "%s",
			 job->token_hash);
		b = host_bucket(h->host_id);
		h->by_host = fp->by_host[b];
		fp->by_host[b] = h;
		b = token_bucket(h->token_hash);
		h->by_token = fp->by_token[b];
		fp->by_token[b] = h;
		fp->count++;
	}
	snprintf(h->name, sizeof(h->name), "%s", agent_id);
	snprintf(h->state, sizeof(h->state), "%s", state);
	memcpy(h->tmpl_hash, job->tmpl_hash, sizeof(h->tmpl_hash));
	h->tmpl_at = job->tmpl_at;
	h->tmpl_len = job->tmpl_len;
	h->next_eval_at = next_eval_at;
out:
	pthread_mutex_unlock(&fp->lock);
}

void fastpath_forget(struct fastpath *fp, int64_t host_id)
{
	struct host *h;

	if (!fp)
		return;
	pthread_mutex_lock(&fp->lock);
	h = find_host(fp, host_id);
	if (h) {
		h->state[0] = '\0';	/* matches no report */
		h->tmpl_len = 0;
	}
	pthread_mutex_unlock(&fp->lock);
}

int fastpath_pending(struct fastpath *fp)
{
	int r;

	if (!fp)
		return 0;
	pthread_mutex_lock(&fp->lock);
	r = fp->dirty != NULL;
	pthread_mutex_unlock(&fp->lock);
	return r;
}

int fastpath_dirty(struct fastpath *fp, struct store_seen **ret,
		   size_t *ret_n, int64_t *ret_taken_at)
{
	struct store_seen *out = NULL;
	size_t n = 0, i = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!fp)
		return 0;
	pthread_mutex_lock(&fp->lock);
	for (struct host *h = fp->dirty; h; h = h->next_dirty)
		n++;
	if (n)
		out = calloc(n, sizeof(*out));
	if (n && !out) {
		pthread_mutex_unlock(&fp->lock);
		return -ENOMEM;
	}
	for (struct host *h = fp->dirty; h; h = h->next_dirty, i++) {
		out[i].host_id = h->host_id;
		out[i].last_seen = h->last_seen;
		out[i].collected_at = h->collected_at;
		out[i].bytes = h->bytes;
	}
	*ret_taken_at = time_now();
	pthread_mutex_unlock(&fp->lock);
	*ret = out;
	*ret_n = n;
	return 0;
}

void fastpath_written(struct fastpath *fp, const struct store_seen *seen,
		      size_t n, int64_t taken_at)
{
	struct host **link;

	if (!fp || !n)
		return;
	pthread_mutex_lock(&fp->lock);
	for (size_t i = 0; i < n; i++) {
		struct host *h = find_host(fp, seen[i].host_id);

		if (!h || !h->dirty_since)
			continue;
		/* Reported again since the copy: it waits from the copy on,
		 * which is no later than that report. */
		h->dirty_since = h->last_seen == seen[i].last_seen &&
						 h->collected_at ==
							 seen[i].collected_at
					 ? 0
					 : taken_at;
	}
	link = &fp->dirty;
	while (*link) {
		if ((*link)->dirty_since)
			link = &(*link)->next_dirty;
		else
			*link = (*link)->next_dirty;
	}
	pthread_mutex_unlock(&fp->lock);
}
