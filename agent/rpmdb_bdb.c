/* rpmdb_bdb.c - see rpmdb_bdb.h. */
#include "rpmdb_bdb.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HASH_MAGIC 0x061561u
#define PAGE_HEADER 26

enum {
	P_HASH_UNSORTED = 2,
	P_OVERFLOW = 7,
	P_HASH = 13,
};

enum {
	H_KEYDATA = 1,
	H_OFFPAGE = 3,
};

struct bdb {
	const uint8_t *buf;
	uint32_t pagesize;
	uint32_t npages;
	bool swap;	/* written by a machine of the other byte order */
	uint8_t *rec;	/* an overflow record, assembled */
	size_t rec_cap;
};

static uint32_t u32(const struct bdb *b, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return b->swap ? __builtin_bswap32(v) : v;
}

static uint16_t u16(const struct bdb *b, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return b->swap ? __builtin_bswap16(v) : v;
}

static const uint8_t *page(const struct bdb *b, uint32_t n)
{
	return b->buf + (size_t)n * b->pagesize;
}

/* The overflow chain from pgno, tlen bytes, into b->rec.  0, -EBADMSG,
 * -E2BIG or -ENOMEM. */
static int read_overflow(struct bdb *b, uint32_t pgno, uint32_t tlen)
{
	size_t got = 0;

	if (tlen == 0)
		return -EBADMSG;
	if (tlen > RPMDB_BDB_MAX_RECORD)
		return -E2BIG;
	if (tlen > b->rec_cap) {
		uint8_t *n = realloc(b->rec, tlen);

		if (!n)
			return -ENOMEM;
		b->rec = n;
		b->rec_cap = tlen;
	}
	for (uint32_t steps = 0; got < tlen; steps++) {
		const uint8_t *p;
		uint16_t used;

		if (pgno == 0 || pgno >= b->npages || steps >= b->npages)
			return -EBADMSG;
		p = page(b, pgno);
		used = u16(b, p + 22);
		if (p[25] != P_OVERFLOW || used > b->pagesize - PAGE_HEADER ||
		    used > tlen - got || (used == 0 && got < tlen))
			return -EBADMSG;
		memcpy(b->rec + got, p + PAGE_HEADER, used);
		got += used;
		pgno = u32(b, p + 16);
	}
	return 0;
}

/* Item i of a hash page: its offset and length, or -EBADMSG. */
static int item(const struct bdb *b, const uint8_t *p, uint16_t n, uint16_t i,
		uint32_t *ret_off, uint32_t *ret_len)
{
	uint32_t off = u16(b, p + PAGE_HEADER + 2 * i);
	uint32_t end = i == 0 ? b->pagesize :
				u16(b, p + PAGE_HEADER + 2 * (i - 1));

	if (off < PAGE_HEADER + 2u * n || off >= end || end > b->pagesize)
		return -EBADMSG;
	*ret_off = off;
	*ret_len = end - off;
	return 0;
}

static int walk_page(struct bdb *b, const uint8_t *p, rpmdb_bdb_fn fn,
		     void *ctx, size_t *skipped)
{
	uint16_t n = u16(b, p + 20);

	if (n > (b->pagesize - PAGE_HEADER) / 2)
		return -EBADMSG;
	for (uint16_t i = 0; i + 1 < n; i += 2) {
		uint32_t koff, klen, doff, dlen, zero = 0;
		const uint8_t *data;
		size_t len;
		int r;

		if (item(b, p, n, i, &koff, &klen) < 0 ||
		    item(b, p, n, i + 1, &doff, &dlen) < 0) {
			(*skipped)++;
			continue;
		}
		/* Key 0 holds rpm's next header number, not a header. */
		if (p[koff] == H_KEYDATA && klen == 5 &&
		    memcmp(p + koff + 1, &zero, 4) == 0)
			continue;
		if (p[doff] == H_KEYDATA) {
			data = p + doff + 1;
			len = dlen - 1;
		} else if (p[doff] == H_OFFPAGE && dlen >= 12) {
			r = read_overflow(b, u32(b, p + doff + 4),
					  u32(b, p + doff + 8));
			if (r == -ENOMEM)
				return r;
			if (r < 0) {
				(*skipped)++;
				continue;
			}
			data = b->rec;
			len = u32(b, p + doff + 8);
		} else {
			(*skipped)++;
			continue;
		}
		if ((r = fn(data, len, ctx)) != 0)
			return r;
	}
	return 0;
}

int rpmdb_bdb_foreach(const uint8_t *buf, size_t len, rpmdb_bdb_fn fn,
		      void *ctx, size_t *ret_skipped)
{
	struct bdb b = { .buf = buf };
	size_t skipped = 0;
	uint32_t magic, last;
	int r = 0;

	if (len < 512)
		return -EBADMSG;
	memcpy(&magic, buf + 12, 4);
	if (magic == HASH_MAGIC)
		b.swap = false;
	else if (__builtin_bswap32(magic) == HASH_MAGIC)
		b.swap = true;
	else
		return -EBADMSG;
	b.pagesize = u32(&b, buf + 20);
	if (b.pagesize < 512 || b.pagesize > 65536 ||
	    (b.pagesize & (b.pagesize - 1)) || len < b.pagesize)
		return -EBADMSG;
	last = u32(&b, buf + 32);
	b.npages = (uint32_t)(len / b.pagesize);
	if (last < UINT32_MAX && last + 1 < b.npages)
		b.npages = last + 1;
	for (uint32_t i = 1; i < b.npages && r == 0; i++) {
		const uint8_t *p = page(&b, i);

		if (p[25] != P_HASH && p[25] != P_HASH_UNSORTED)
			continue;
		if (u32(&b, p + 8) != i)
			continue;
		r = walk_page(&b, p, fn, ctx, &skipped);
		if (r == -EBADMSG) {
			skipped++;
			r = 0;
		}
	}
	free(b.rec);
	if (ret_skipped)
		*ret_skipped = skipped;
	return r;
}
