/*
 * hash.h - SHA-256 (nettle), random tokens (getrandom) and constant-time
 * comparison.
 */
#ifndef DERELICT_HASH_H
#define DERELICT_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 65	/* 64 hex digits and NUL */

/* Writes the lowercase hex SHA-256 of data; 0 always (the -EIO of the
 * contract is kept for callers, though nettle cannot fail). */
int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);
/* The same digest as 32 raw bytes. */
void sha256_raw(const void *data, size_t len, unsigned char out[32]);
/* Writes n bytes as 2n lowercase hex digits and a NUL. */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Fills out with 2*nbytes hex digits of key-grade randomness and a NUL;
 * out must hold 2*nbytes+1 bytes, nbytes at most 64.  0, or -EIO (out
 * then "") when nbytes is too large or getrandom(2) fails. */
int random_hex(char *out, size_t nbytes);

/* 1 when the two strings are equal, in time that depends only on their
 * lengths, not on where they differ. */
int const_time_equal(const char *a, const char *b);

#endif
