/* hash.c - see hash.h. */
#include "hash.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
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
	unsigned char digest[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest) < 0) {
		out[0] = '\0';
		return -EIO;
	}
	to_hex(digest, sizeof(digest), out);
	return 0;
}

int random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof(raw) ||
	    gnutls_rnd(GNUTLS_RND_KEY, raw, nbytes) < 0) {
		out[0] = '\0';
		return -EIO;
	}
	to_hex(raw, nbytes, out);
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
