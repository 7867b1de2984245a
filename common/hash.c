/* hash.c - see hash.h. */
#include "hash.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/random.h>

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;

	/* nettle's SHA-256 cannot fail: it is GnuTLS's own backend, without
	 * GnuTLS's library start-up in every process that hashes. */
	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(digest), digest);
	hex_encode(digest, sizeof(digest), out);
	return 0;
}

void sha256_raw(const void *data, size_t len, unsigned char out[32])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

int random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];
	size_t got = 0;

	if (nbytes > sizeof(raw)) {
		out[0] = '\0';
		return -EIO;
	}
	/* The kernel's CSPRNG; without GRND_NONBLOCK it waits until the pool
	 * is initialised at boot, and reads of up to 256 bytes are then
	 * never short, but a signal can still interrupt one. */
	while (got < nbytes) {
		ssize_t n = getrandom(raw + got, nbytes - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			out[0] = '\0';
			return -EIO;
		}
		got += (size_t)n;
	}
	hex_encode(raw, nbytes, out);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int const_time_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	/* Walk the longer string's length; the shorter one is read mod its
	 * length so no byte past its end is touched. */
	size_t n = la > lb ? la : lb;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = la ? (unsigned char)a[i % la] : 0;
		unsigned char cb = lb ? (unsigned char)b[i % lb] : 0;
		diff |= ca ^ cb;
	}
	return diff == 0;
}
