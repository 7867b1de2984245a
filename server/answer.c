/* answer.c - signing and checking the links of the owners' mails. */
#include "answer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#define PAYLOAD_MAX 512

static const char *const action_names[] = { "keep", "retire", "notmine" };

const char *answer_action_name(enum answer_action a)
{
	return (unsigned)a < 3 ? action_names[a] : "?";
}

/* The key file's path: answer.key beside the database. */
static int key_path(const char *database, char out[4096])
{
	const char *slash = strrchr(database, '/');
	int n;

	if (!slash)
		n = snprintf(out, 4096, "answer.key");
	else
		n = snprintf(out, 4096, "%.*s/answer.key",
			     (int)(slash - database), database);
	return n >= 4096 ? -ENAMETOOLONG : 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EINVAL;	/* short: not a key of ours */
		got += (size_t)r;
	}
	return 0;
}

int answer_key_candidate(const char *database,
			 unsigned char key[ANSWER_KEY_LEN])
{
	char path[4096];
	struct stat st;
	int fd, r;

	if ((r = key_path(database, path)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return getrandom(key, ANSWER_KEY_LEN, 0) == ANSWER_KEY_LEN ?
			       0 : -EIO;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		close(fd);
		return -EPERM;
	}
	r = read_all(fd, key, ANSWER_KEY_LEN);
	close(fd);
	return r < 0 ? r : 1;
}

int answer_new_id(struct answer *a)
{
	return random_hex(a->id, (ANSWER_ID_LEN - 1) / 2);
}

static void mac(const unsigned char key[ANSWER_KEY_LEN], const char *payload,
		size_t len, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, ANSWER_KEY_LEN, key);
	hmac_sha256_update(&ctx, len, (const uint8_t *)payload);
	hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

/* base64url without padding; out holds BASE64_ENCODE_LENGTH(n) + 3. */
static size_t b64url(const uint8_t *in, size_t n, char *out)
{
	struct base64_encode_ctx ctx;
	size_t len;

	base64url_encode_init(&ctx);
	len = base64_encode_update(&ctx, out, n, in);
	len += base64_encode_final(&ctx, out + len);
	while (len && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	return len;
}

/* Decodes unpadded base64url into out, at most max bytes: nettle's
 * decoder wants the padding back.  The length, or -1. */
static ssize_t unb64url(const char *in, size_t n, uint8_t *out, size_t max)
{
	struct base64_decode_ctx ctx;
	char padded[ANSWER_TOKEN_MAX + 4];
	size_t len = max;

	if (n == 0 || n + 3 > sizeof(padded) || BASE64_DECODE_LENGTH(n) > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (in[i] == '=' || in[i] == '\n' || in[i] == '\r' ||
		    in[i] == ' ' || in[i] == '\t')
			return -1;
	memcpy(padded, in, n);
	while (n % 4)
		padded[n++] = '=';
	base64url_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &len, out, n, padded) ||
	    !base64_decode_final(&ctx))
		return -1;
	return (ssize_t)len;
}

int answer_sign(const unsigned char key[ANSWER_KEY_LEN],
		const struct answer *a, char out[ANSWER_TOKEN_MAX])
{
	char payload[PAYLOAD_MAX];
	uint8_t m[SHA256_DIGEST_SIZE];
	size_t n;
	int len;

	if (strchr(a->recipient, '|') || !a->id[0])
		return -EINVAL;
	len = snprintf(payload, sizeof(payload),
		       "1|%" PRId64 "|%" PRId64 "|%s|%s|%" PRId64 "|%s|%s",
		       a->host_id, a->finding_id, answer_action_name(a->action),
		       a->until, a->expires, a->id, a->recipient);
	if (len < 0 || len >= (int)sizeof(payload) ||
	    BASE64_ENCODE_LENGTH((size_t)len) + 64 >= ANSWER_TOKEN_MAX)
		return -E2BIG;
	mac(key, payload, (size_t)len, m);
	n = b64url((const uint8_t *)payload, (size_t)len, out);
	out[n++] = '.';
	b64url(m, sizeof(m), out + n);
	return 0;
}

/* Parses a decimal field; 0 or -EBADMSG. */
static int field_int(const char *s, size_t n, int64_t *ret)
{
	char tmp[24];
	char *end;

	if (n == 0 || n >= sizeof(tmp))
		return -EBADMSG;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*ret = strtoll(tmp, &end, 10);
	return errno || *end || *ret < 0 ? -EBADMSG : 0;
}

int answer_verify(const unsigned char key[ANSWER_KEY_LEN], const char *token,
		  int64_t now, struct answer *ret)
{
	uint8_t payload[PAYLOAD_MAX + 1], got[SHA256_DIGEST_SIZE + 3];
	uint8_t want[SHA256_DIGEST_SIZE];
	const char *dot, *f[8], *p, *end;
	size_t tl = strnlen(token, ANSWER_TOKEN_MAX);
	ssize_t pl, ml;
	struct answer a = { 0 };
	int64_t v;
	int nf = 0, diff = 0;

	if (tl >= ANSWER_TOKEN_MAX || !(dot = strchr(token, '.')))
		return -EBADMSG;
	pl = unb64url(token, (size_t)(dot - token), payload, PAYLOAD_MAX);
	ml = unb64url(dot + 1, tl - (size_t)(dot + 1 - token), got,
		      sizeof(got));
	if (pl <= 0 || ml != SHA256_DIGEST_SIZE)
		return -EBADMSG;
	mac(key, (const char *)payload, (size_t)pl, want);
	for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++)
		diff |= got[i] ^ want[i];
	if (diff)
		return -EBADMSG;
	payload[pl] = '\0';
	if (strlen((char *)payload) != (size_t)pl)
		return -EBADMSG;
	/* Signed by us: the fields are as answer_sign() wrote them, but a
	 * key shared with an older format still gets checked field by
	 * field. */
	p = (const char *)payload;
	end = p + pl;
	f[nf++] = p;
	while (nf < 8 && (p = memchr(p, '|', (size_t)(end - p)))) {
		p++;
		f[nf++] = p;
	}
	if (nf != 8 || strncmp(f[0], "1|", 2) != 0)
		return -EBADMSG;
#define FLEN(i) ((size_t)(f[(i) + 1] - f[(i)] - 1))
	if (field_int(f[1], FLEN(1), &a.host_id) < 0 ||
	    field_int(f[2], FLEN(2), &a.finding_id) < 0 ||
	    field_int(f[5], FLEN(5), &a.expires) < 0)
		return -EBADMSG;
	for (v = 0; v < 3; v++)
		if (strlen(action_names[v]) == FLEN(3) &&
		    memcmp(action_names[v], f[3], FLEN(3)) == 0)
			break;
	if (v == 3 || FLEN(4) >= sizeof(a.until) ||
	    FLEN(6) != ANSWER_ID_LEN - 1)
		return -EBADMSG;
	a.action = (enum answer_action)v;
	memcpy(a.until, f[4], FLEN(4));
	memcpy(a.id, f[6], FLEN(6));
#undef FLEN
	if ((size_t)(end - f[7]) > ANSWER_RECIPIENT_MAX || end == f[7])
		return -EBADMSG;
	memcpy(a.recipient, f[7], (size_t)(end - f[7]));
	if (a.action == ANSWER_KEEP && strlen(a.until) != 10)
		return -EBADMSG;
	*ret = a;
	return now > a.expires ? -ETIME : 0;
}
